//! What the staged probe saves over the naive way of re-checking published versions.
//!
//! Fixture (built here with the integration tests' support code, no network): a local registry
//! with `bench-app` 1.0.0 ..= 1.0.29, every version depending on `bench-a` .. `bench-d` (1.20..
//! on `bench-e` too), each library with three versions of a few hundred small generic functions.
//! One cargo home points at it (offline); it is unpacked once before anything is timed.
//!
//! * Group `probe_30_versions`: `baseline` is the naive way, a fresh `cargo build` of a consumer
//!   of `bench-app = "=X"` for each of the 30 versions, each in its own folder with its own
//!   target folder; `proofmark` is `proofmark_deps::check` of all 30 versions (index checks,
//!   `cargo generate-lockfile`, `cargo check`) with its one shared target folder. Every
//!   iteration starts cold: new scratch and target folders, made and removed outside the timed
//!   part (`iter_custom`).
//! * Group `index_only`: `baseline` reads `bench-app`'s index file and parses each line with
//!   serde_json; `proofmark` is the index-only stage of `check` for that crate (its index file
//!   and its dependencies', the notes, the policy), from a fresh in-memory index each time.
//!
//! `cargo xtask bench -p proofmark-deps` reports each `proofmark / baseline` ratio; this bench
//! also prints them, and the index-only milliseconds per crate, at the end.

#![allow(
    clippy::unwrap_used,
    clippy::print_stdout,
    reason = "a bench: a broken setup should stop it loudly, and it prints its figures"
)]

#[path = "../tests/support/mod.rs"]
mod support;

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode};
use proofmark_deps::cargo::{CargoEnv, Toolchain};
use proofmark_deps::index::{Index, RegistrySource, index_path};
use proofmark_deps::policy::Policy;
use proofmark_deps::probe::{Class, ProbeOptions, Stage};
use proofmark_deps::report::Report;
use proofmark_deps::{CheckOptions, Target, VersionSpec, check};
use support::Pkg;

/// The published versions of `bench-app` re-checked per iteration.
const VERSIONS: usize = 30;
/// The shared dependencies; the last one only from version 1.0.20 on.
const LIBS: [&str; 5] = ["bench-a", "bench-b", "bench-c", "bench-d", "bench-e"];
/// Small generic functions per library: enough that building the libraries, not starting
/// cargo, is most of a fresh build (as with real dependencies), small enough that the naive
/// side stays around a minute per iteration on a loaded 2-core machine.
const FUNCTIONS: usize = 300;
const APP: &str = "bench-app";

fn leak(s: String) -> &'static str {
    s.leak()
}

fn library(name: &str, minor: usize) -> String {
    let mut code = format!("//! {name}\npub fn version() -> u32 {{ {minor} }}\n");
    for k in 0..FUNCTIONS {
        code.push_str(&format!(
            "pub fn f{k}<T: Clone + core::fmt::Debug>(x: &[T]) -> Vec<String> {{ \
             x.iter().map(|v| format!(\"{{v:?}}-{k}-{minor}\")).collect() }}\n"
        ));
    }
    code
}

fn packages() -> Vec<Pkg> {
    let mut pkgs = Vec::new();
    for lib in LIBS {
        for (i, vers) in ["1.0.0", "1.0.1", "1.1.0"].into_iter().enumerate() {
            pkgs.push(Pkg::new(lib, vers, "2024-01-01T00:00:00Z", &library(lib, i)));
        }
    }
    for v in 0..VERSIONS {
        let libs = if v >= 20 { &LIBS[..] } else { &LIBS[..4] };
        let code: String = libs
            .iter()
            .map(|l| format!("pub fn {0}() -> u32 {{ {0}::version() }}\n", l.replace('-', "_")))
            .collect();
        let mut pkg = Pkg::new(APP, leak(format!("1.0.{v}")), "2024-02-01T00:00:00Z", &code);
        for &lib in libs {
            pkg = pkg.dep(lib, "^1.0");
        }
        pkgs.push(pkg);
    }
    pkgs
}

struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
    registry: PathBuf,
    home: PathBuf,
    cargo: PathBuf,
    toolchain: Toolchain,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_owned();
        let registry = root.join("registry");
        support::local_registry(&packages(), &registry);
        let home = support::cargo_home(
            &root.join("home"),
            &format!("local-registry = \"{}\"", registry.display()),
        );
        let cargo = std::env::var_os("CARGO").map_or_else(|| "cargo".into(), PathBuf::from);
        let fx = Fixture {
            _dir: dir,
            root,
            registry,
            home,
            cargo,
            toolchain: Toolchain::detect().unwrap(),
        };
        // Unpack every `.crate` into the cargo home once, so no timed run pays for it.
        let prime = tempfile::tempdir_in(&fx.root).unwrap();
        for v in 0..VERSIONS {
            let dir = consumer(prime.path(), v);
            fx.cargo(&dir).arg("fetch").output().map(|o| assert!(o.status.success())).unwrap();
        }
        fx
    }

    /// A cargo command in `dir` with the fixture's cargo home, offline, nothing inherited that
    /// would change the build.
    fn cargo(&self, dir: &Path) -> Command {
        let mut cmd = Command::new(&self.cargo);
        cmd.current_dir(dir)
            .env("CARGO_HOME", &self.home)
            .env("CARGO_NET_OFFLINE", "true")
            .env("CARGO_TERM_COLOR", "never")
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("CARGO_BUILD_TARGET_DIR")
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS");
        cmd
    }

    fn options(&self, stage: Stage) -> CheckOptions {
        CheckOptions {
            targets: vec![Target { name: APP.to_owned(), versions: VersionSpec::All }],
            probe: ProbeOptions {
                stage,
                timeout: Duration::from_secs(600),
                probe_timeout: None,
                retries: 0,
                culprit: true,
                registry: None,
                features: Vec::new(),
            },
            workers: 1,
            advisory_db: None,
            policy: Policy::default(),
            shard: None,
            cache_dir: None,
            require_published: true,
        }
    }

    fn env(&self, work: &Path) -> CargoEnv {
        CargoEnv {
            cargo: self.cargo.clone(),
            cargo_home: Some(self.home.clone()),
            target_root: work.join("target"),
            scratch_root: work.join("scratch"),
            offline: true,
            // What a plain `cargo build` uses here: every core.
            build_jobs: std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
        }
    }

    fn check(&self, work: &Path, stage: Stage) -> Report {
        let index = Index::new(RegistrySource::Local(self.registry.clone()));
        check(&index, &self.env(work), &self.toolchain, &self.options(stage), &|_| {}).unwrap()
    }
}

/// A fresh consumer of `bench-app = "=1.0.V"`, as the probe writes it.
fn consumer(parent: &Path, v: usize) -> PathBuf {
    let dir = parent.join(format!("consumer-{v}"));
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"consumer\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\
             publish = false\n\n[dependencies]\n{APP} = \"=1.0.{v}\"\n\n[workspace]\n"
        ),
    )
    .unwrap();
    std::fs::write(dir.join("src/lib.rs"), "").unwrap();
    dir
}

fn probe_30_versions(c: &mut Criterion, fx: &Fixture) {
    let mut group = c.benchmark_group("probe_30_versions");
    // Each iteration takes seconds to a minute: criterion's minimum sample count, one
    // iteration per sample, and a single warm-up iteration.
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(1))
        .measurement_time(Duration::from_secs(1));
    group.bench_function("baseline", |b| {
        b.iter_custom(|iters| {
            let mut timed = Duration::ZERO;
            for _ in 0..iters {
                let work = tempfile::tempdir_in(&fx.root).unwrap();
                let dirs: Vec<PathBuf> = (0..VERSIONS).map(|v| consumer(work.path(), v)).collect();
                let start = Instant::now();
                for dir in &dirs {
                    let out = fx
                        .cargo(dir)
                        .env("CARGO_TARGET_DIR", dir.join("target"))
                        .args(["build", "-q"])
                        .output()
                        .unwrap();
                    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
                }
                timed += start.elapsed();
            }
            timed
        });
    });
    group.bench_function("proofmark", |b| {
        b.iter_custom(|iters| {
            let mut timed = Duration::ZERO;
            for _ in 0..iters {
                let work = tempfile::tempdir_in(&fx.root).unwrap();
                let start = Instant::now();
                let report = black_box(fx.check(work.path(), Stage::Compile));
                timed += start.elapsed();
                let builds = report
                    .findings
                    .iter()
                    .flat_map(|f| &f.evidence)
                    .filter(|r| r.class == Class::Builds)
                    .count();
                assert_eq!(builds, VERSIONS, "{report:#?}");
            }
            timed
        });
    });
    group.finish();
}

fn index_only(c: &mut Criterion, fx: &Fixture) {
    let mut group = c.benchmark_group("index_only");
    group.measurement_time(Duration::from_secs(3));
    let file = fx.registry.join("index").join(index_path(APP));
    group.bench_function("baseline", |b| {
        b.iter(|| {
            let text = std::fs::read_to_string(&file).unwrap();
            let lines: Vec<serde_json::Value> = text
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| serde_json::from_str(l).unwrap())
                .collect();
            assert_eq!(lines.len(), VERSIONS);
            black_box(lines)
        });
    });
    let work = tempfile::tempdir_in(&fx.root).unwrap();
    group.bench_function("proofmark", |b| {
        b.iter(|| {
            // A fresh in-memory index each time (inside `check`): nothing is cached across runs.
            let report = fx.check(work.path(), Stage::Index);
            assert_eq!(report.findings.iter().map(|f| f.evidence.len()).sum::<usize>(), VERSIONS);
            black_box(report)
        });
    });
    group.finish();
}

/// Criterion's mean for `group/function` from this run, in nanoseconds.
fn mean_ns(group: &str, function: &str) -> Option<f64> {
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => PathBuf::from(dir),
        // The bench runs as `<target>/release/deps/probe-HASH`.
        None => std::env::current_exe().ok()?.ancestors().nth(3)?.to_owned(),
    };
    let home =
        std::env::var_os("CRITERION_HOME").map_or_else(|| target.join("criterion"), PathBuf::from);
    let path = home.join(group).join(function).join("new/estimates.json");
    let value: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    value.pointer("/mean/point_estimate")?.as_f64()
}

fn summary() {
    if let (Some(base), Some(ours)) =
        (mean_ns("probe_30_versions", "baseline"), mean_ns("probe_30_versions", "proofmark"))
    {
        println!(
            "probe_30_versions (criterion means): baseline {:.1} s, proofmark {:.1} s, ratio {:.3} (goal <= 0.2: {}), {:.1}x faster",
            base / 1e9,
            ours / 1e9,
            ours / base,
            if ours / base <= 0.2 { "met" } else { "MISSED" },
            base / ours
        );
    }
    if let (Some(base), Some(ours)) =
        (mean_ns("index_only", "baseline"), mean_ns("index_only", "proofmark"))
    {
        println!(
            "index_only ({VERSIONS} versions, criterion means): baseline {:.3} ms/crate, proofmark {:.3} ms/crate, ratio {:.2}",
            base / 1e6,
            ours / 1e6,
            ours / base
        );
    }
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    let fx = Fixture::new();
    probe_30_versions(&mut c, &fx);
    index_only(&mut c, &fx);
    c.final_summary();
    summary();
}
