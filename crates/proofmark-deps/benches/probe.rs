//! What re-checking published versions costs with proofmark, against what a maintainer would
//! script for the same job (issue 13).
//!
//! Fixture (built here with the integration tests' support code, no network): a local registry
//! with `bench-app` 1.0.0 ..= 1.0.9 and three shared dependencies (about 600 lines each:
//! structs with derives, trait impls, generic and plain functions; checking them takes longer
//! than cargo's own start-up, as with real dependencies, while a whole run stays within minutes
//! on a loaded 2-core machine), each in three versions. Versions fail at every stage: 1.0.0 needs a crate the registry lacks, 1.0.1
//! declares `rust-version = "1.999"`, 1.0.2 needs a requirement whose every version is yanked
//! (index stage; proofmark looks through the yank with one more `cargo check`), 1.0.3 and 1.0.4
//! fail only in cargo's resolver (a missing crate two levels down, two incompatible exact pins),
//! the other five build. One cargo home points at the registry (offline); every `.crate` is
//! unpacked once before anything is timed.
//!
//! * `detect_cold` (goal <= 1.0): `baseline` is the maintainer's loop: for each version a
//!   scratch consumer of `bench-app = "=X"`, `cargo generate-lockfile`, then `cargo check`
//!   when it resolved, one after the other, all sharing one target folder. `proofmark` is
//!   detection, every stage up to `cargo check` without the culprit search (`--no-culprit`),
//!   as the CLI runs it by default (two probes at once sharing one target folder, each build
//!   with every core, the results cache on).
//!   Both start from empty target folders (and proofmark from an empty cache).
//! * `detect_warm` (goal <= 0.05): the same loop re-run with its target folder warm, against
//!   proofmark re-run with its results cache and an unchanged index (answered from the index
//!   key, no cargo).
//! * `culprit_search` (no goal: work the loop does not do): `bench-cul` 1.0.0, published when
//!   `bench-drift` had one release, and broken by one of the 8 releases since; `baseline` is
//!   detection alone, `proofmark` detection plus the culprit search. The summary prints the
//!   cargo builds per confirmed culprit (counted by a cargo wrapper) and the time per culprit.
//! * `info_fresh_build_per_version` (information only, no goal): the old baseline, a fresh
//!   `cargo build` per version in its own target folder, for the first two versions that build,
//!   against proofmark's detection of the same two.
//! * `index_only`: `bench-app`'s index file parsed with serde_json against the index-only
//!   stage of `check` for that crate.
//! * `detect_cold_interleaved` (information, no goal): `detect_cold` outside criterion with the
//!   two sides alternating round by round, recorded as paired medians, so that load drift on a
//!   shared machine hits both alike.
//!
//! `cargo xtask bench -p proofmark-deps` reports each `proofmark / baseline` ratio against the
//! goals; this bench also prints them at the end.

#![allow(
    clippy::unwrap_used,
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a bench: a broken setup should stop it loudly, and it prints its figures"
)]

#[path = "../tests/support/mod.rs"]
mod support;

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode};
use proofmark_deps::cargo::{CargoEnv, Toolchain};
use proofmark_deps::index::{Index, RegistrySource, index_path};
use proofmark_deps::policy::Policy;
use proofmark_deps::probe::{Class, ProbeOptions, Stage};
use proofmark_deps::report::Report;
use proofmark_deps::{CheckOptions, Target, VersionSpec, check};
use support::Pkg;

/// The published versions of `bench-app`.
const VERSIONS: usize = 10;
/// The first versions that build; the ones before fail at the index or resolution stage.
const FIRST_BUILDING: usize = 5;
/// The shared dependencies.
const LIBS: [&str; 3] = ["bench-a", "bench-b", "bench-c"];
/// Items per library (each a struct, two impls and two functions: about six lines).
const ITEMS: usize = 100;
/// Releases of `bench-drift` after `bench-cul` was published; the culprit is one of them.
const DRIFT: usize = 8;
/// The release of `bench-drift` (1.0.N) that changes `value`'s type.
const DRIFT_BREAKS: usize = 6;
const APP: &str = "bench-app";
const CUL: &str = "bench-cul";
const T0: &str = "2024-01-01T00:00:00Z";
const T1: &str = "2024-02-01T00:00:00Z";
const T2: &str = "2024-03-01T00:00:00Z";

fn leak(s: String) -> &'static str {
    s.leak()
}

fn library(name: &str, minor: usize) -> String {
    let mut code = format!("//! {name}\npub fn version() -> u32 {{ {minor} }}\n");
    for k in 0..ITEMS {
        code.push_str(&format!(
            "#[derive(Debug, Clone, Default, PartialEq)]\npub struct S{k} {{ pub a: u32, pub b: String, pub c: Vec<u8> }}\n\
             impl S{k} {{ pub fn new(a: u32) -> Self {{ S{k} {{ a, b: a.to_string(), c: vec![a as u8; 3] }} }}\n\
             pub fn sum(&self) -> u64 {{ self.c.iter().map(|&x| u64::from(x)).sum::<u64>() + u64::from(self.a) + {k} }} }}\n\
             impl core::fmt::Display for S{k} {{ fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {{ write!(f, \"{{}}-{{}}-{minor}\", self.a, self.b) }} }}\n\
             pub fn f{k}<T: Clone + core::fmt::Debug>(x: &[T]) -> Vec<String> {{ x.iter().map(|v| format!(\"{{v:?}}-{k}\")).collect() }}\n\
             pub fn g{k}(n: u32) -> u64 {{ let s = S{k}::new(n); match n % 3 {{ 0 => s.sum(), 1 => s.to_string().len() as u64, _ => f{k}(&[n]).len() as u64 }} }}\n"
        ));
    }
    code
}

fn packages() -> Vec<Pkg> {
    let mut pkgs = Vec::new();
    for lib in LIBS {
        for (i, vers) in ["1.0.0", "1.0.1", "1.1.0"].into_iter().enumerate() {
            pkgs.push(Pkg::new(lib, vers, T0, &library(lib, i)));
        }
    }
    let uses: String = LIBS
        .iter()
        .map(|l| format!("pub fn {0}() -> u32 {{ {0}::version() }}\n", l.replace('-', "_")))
        .collect();
    // Helpers for the failing versions.
    pkgs.extend([
        Pkg::new("bench-yanked", "2.0.0", T0, "pub fn y() {}\n").yanked(),
        Pkg::new("bench-deep", "1.0.0", T0, "pub fn d() {}\n").dep("bench-gone", "^1"),
        Pkg::new("bench-pin", "1.0.0", T0, "pub fn p() {}\n"),
        Pkg::new("bench-pin", "1.0.1", T0, "pub fn p() {}\n"),
        Pkg::new("bench-pinner", "1.0.0", T0, "pub fn q() {}\n").dep("bench-pin", "=1.0.1"),
    ]);
    for v in 0..VERSIONS {
        let mut pkg = Pkg::new(APP, leak(format!("1.0.{v}")), T1, &uses);
        for &lib in &LIBS {
            pkg = pkg.dep(lib, "^1.0");
        }
        pkg = match v {
            // Index stage: a missing crate, a rust-version from the future, all yanked.
            0 => pkg.dep("bench-gone", "^1"),
            1 => pkg.rust_version("1.999"),
            2 => pkg.dep("bench-yanked", "^2"),
            // Resolution stage: only cargo sees these.
            3 => pkg.dep("bench-deep", "^1"),
            4 => pkg.dep("bench-pin", "=1.0.0").dep("bench-pinner", "^1"),
            _ => pkg,
        };
        pkgs.push(pkg);
    }
    // The culprit story: bench-cul 1.0.0 adds 1 to `bench_drift::value()`; release 1.0.N of
    // bench-drift changes its type from N = DRIFT_BREAKS on.
    let drift = |n: usize| {
        let ty = if n >= DRIFT_BREAKS { "u64" } else { "u32" };
        format!("pub fn value() -> {ty} {{ {n} }}\n")
    };
    pkgs.push(Pkg::new("bench-drift", "1.0.0", T0, &drift(0)));
    pkgs.push(
        Pkg::new(CUL, "1.0.0", T1, "pub fn v() -> u32 { bench_drift::value() + 1 }\n")
            .dep("bench-drift", "^1"),
    );
    for n in 1..=DRIFT {
        pkgs.push(Pkg::new("bench-drift", leak(format!("1.0.{n}")), T2, &drift(n)));
    }
    pkgs
}

struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
    registry: PathBuf,
    home: PathBuf,
    cargo: PathBuf,
    /// A wrapper that logs each invocation's subcommand to `cargo.log`, then runs cargo.
    counting_cargo: PathBuf,
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
        let counting_cargo = root.join("counting-cargo");
        std::fs::write(
            &counting_cargo,
            format!(
                "#!/bin/sh\necho \"$1\" >> '{}'\nexec '{}' \"$@\"\n",
                root.join("cargo.log").display(),
                cargo.display()
            ),
        )
        .unwrap();
        let mode = std::os::unix::fs::PermissionsExt::from_mode(0o755);
        std::fs::set_permissions(&counting_cargo, mode).unwrap();
        let fx = Fixture {
            _dir: dir,
            root,
            registry,
            home,
            cargo,
            counting_cargo,
            toolchain: Toolchain::detect().unwrap(),
        };
        // Unpack every `.crate` into the cargo home once, so no timed run pays for it.
        let prime = tempfile::tempdir_in(&fx.root).unwrap();
        for v in FIRST_BUILDING..VERSIONS {
            let dir = consumer(prime.path(), APP, v);
            fx.cargo(&dir).arg("fetch").output().map(|o| assert!(o.status.success())).unwrap();
        }
        for n in 0..=DRIFT {
            let dir = prime.path().join(format!("drift-{n}"));
            std::fs::create_dir_all(dir.join("src")).unwrap();
            std::fs::write(
                dir.join("Cargo.toml"),
                format!(
                    "[package]\nname = \"d\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\n\
                     [dependencies]\nbench-drift = \"=1.0.{n}\"\n{CUL} = \"1\"\n\n[workspace]\n"
                ),
            )
            .unwrap();
            std::fs::write(dir.join("src/lib.rs"), "").unwrap();
            let out = fx.cargo(&dir).arg("fetch").output().unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
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

    fn options(&self, targets: Vec<Target>, culprit: bool, cache: Option<PathBuf>) -> CheckOptions {
        CheckOptions {
            targets,
            probe: ProbeOptions {
                stage: Stage::Compile,
                timeout: Duration::from_secs(600),
                probe_timeout: None,
                retries: 0,
                culprit,
                registry: None,
                features: Vec::new(),
            },
            workers: workers(),
            advisory_db: None,
            policy: Policy::default(),
            shard: None,
            cache_dir: cache,
            require_published: true,
        }
    }

    fn env(&self, work: &Path, cargo: &Path) -> CargoEnv {
        CargoEnv {
            cargo: cargo.to_owned(),
            cargo_home: Some(self.home.clone()),
            target_root: work.join("target"),
            scratch_root: work.join("scratch"),
            offline: true,
            // As the CLI: builds take turns on the shared target folder, each with every core.
            build_jobs: cores(),
        }
    }

    fn check(&self, work: &Path, opts: &CheckOptions) -> Report {
        self.check_with(work, opts, &self.cargo)
    }

    fn check_with(&self, work: &Path, opts: &CheckOptions, cargo: &Path) -> Report {
        let index = Index::new(RegistrySource::Local(self.registry.clone()));
        check(&index, &self.env(work, cargo), &self.toolchain, opts, &|_| {}).unwrap()
    }

    /// The maintainer's loop over `versions`, in `work` (scratch consumers and one target
    /// folder): `generate-lockfile`, then `check` when it resolved. Returns how many built.
    fn maintainer_loop(&self, work: &Path, versions: std::ops::Range<usize>) -> usize {
        let target = work.join("loop-target");
        let mut built = 0;
        for v in versions {
            let dir = consumer(&work.join("loop"), APP, v);
            let run = |args: &[&str]| {
                self.cargo(&dir).env("CARGO_TARGET_DIR", &target).args(args).output().unwrap()
            };
            if !run(&["generate-lockfile", "-q"]).status.success() {
                continue;
            }
            let out = run(&["check", "-q", "--message-format=json"]);
            built += usize::from(out.status.success());
        }
        built
    }
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

/// Probes at once: the CLI's default. They share one target folder (cargo's lock on it makes
/// their builds take turns), so the shared dependencies compile once, as in the loop, while
/// cargo start-ups and resolutions overlap the builds.
fn workers() -> usize {
    2
}

fn all_of(name: &str) -> Vec<Target> {
    vec![Target { name: name.to_owned(), versions: VersionSpec::All }]
}

/// A fresh consumer of `NAME = "=1.0.V"`, as the probe writes it.
fn consumer(parent: &Path, name: &str, v: usize) -> PathBuf {
    let dir = parent.join(format!("{name}-{v}"));
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"consumer\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\
             publish = false\n\n[dependencies]\n{name} = \"=1.0.{v}\"\n\n[workspace]\n"
        ),
    )
    .unwrap();
    std::fs::write(dir.join("src/lib.rs"), "").unwrap();
    dir
}

/// Findings' evidence by class label, for the assertions that both sides did the same work.
fn classes(report: &Report) -> Vec<String> {
    let mut out: Vec<String> = report
        .findings
        .iter()
        .flat_map(|f| &f.evidence)
        .map(|r| format!("{} {}", r.version, r.class.label()))
        .collect();
    out.sort();
    out
}

fn assert_detected(report: &Report) {
    let builds = report
        .findings
        .iter()
        .flat_map(|f| &f.evidence)
        .filter(|r| r.name == APP && r.class == Class::Builds)
        .count();
    assert_eq!(builds, VERSIONS - FIRST_BUILDING, "{:#?}", classes(report));
}

/// With `PROOFMARK_BENCH_TRACE` set, each timed batch's duration on stderr (to size the
/// fixture in `cargo test --bench probe`, which runs every function once).
fn trace(timed: Duration) {
    if std::env::var_os("PROOFMARK_BENCH_TRACE").is_some() {
        eprintln!("  timed batch: {:.2} s", timed.as_secs_f64());
    }
}

/// Criterion's slowest groups: its minimum sample count, one iteration per sample, and a
/// single warm-up iteration.
fn slow(group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(1))
        .measurement_time(Duration::from_secs(1));
}

fn detect_cold(c: &mut Criterion, fx: &Fixture) {
    let mut group = c.benchmark_group("detect_cold");
    slow(&mut group);
    group.bench_function("baseline", |b| {
        b.iter_custom(|iters| {
            let mut timed = Duration::ZERO;
            for _ in 0..iters {
                let work = tempfile::tempdir_in(&fx.root).unwrap();
                let start = Instant::now();
                let built = black_box(fx.maintainer_loop(work.path(), 0..VERSIONS));
                timed += start.elapsed();
                assert_eq!(built, VERSIONS - FIRST_BUILDING);
            }
            trace(timed);
            timed
        });
    });
    group.bench_function("proofmark", |b| {
        b.iter_custom(|iters| {
            let mut timed = Duration::ZERO;
            for _ in 0..iters {
                let work = tempfile::tempdir_in(&fx.root).unwrap();
                // As the CLI runs by default: with its results cache, empty.
                let opts = fx.options(all_of(APP), false, Some(work.path().join("cache")));
                let start = Instant::now();
                let report = black_box(fx.check(work.path(), &opts));
                timed += start.elapsed();
                assert_detected(&report);
            }
            trace(timed);
            timed
        });
    });
    group.finish();
}

fn detect_warm(c: &mut Criterion, fx: &Fixture) {
    let mut group = c.benchmark_group("detect_warm");
    slow(&mut group);
    // Each side's first run (cold, untimed) leaves what a re-run finds.
    let loop_work = tempfile::tempdir_in(&fx.root).unwrap();
    fx.maintainer_loop(loop_work.path(), 0..VERSIONS);
    group.bench_function("baseline", |b| {
        b.iter(|| {
            let built = fx.maintainer_loop(loop_work.path(), 0..VERSIONS);
            assert_eq!(built, VERSIONS - FIRST_BUILDING);
        });
    });
    let work = tempfile::tempdir_in(&fx.root).unwrap();
    let opts = fx.options(all_of(APP), false, Some(work.path().join("cache")));
    let first = fx.check(work.path(), &opts);
    group.bench_function("proofmark", |b| {
        b.iter(|| {
            // The cargo wrapper would log any invocation: a warm run must make none.
            let report = black_box(fx.check_with(work.path(), &opts, &fx.counting_cargo));
            assert_eq!(classes(&report), classes(&first));
        });
    });
    group.finish();
    let log = fx.root.join("cargo.log");
    let invocations = std::fs::read_to_string(&log).unwrap_or_default().lines().count();
    let _ = std::fs::remove_file(&log);
    println!("detect_warm: cargo invocations in the warm proofmark runs: {invocations}");
}

/// `cargo check` invocations of detection alone and with the culprit search (one culprit), as
/// the last sample counted them.
static CULPRIT_BUILDS: Mutex<Option<(usize, usize)>> = Mutex::new(None);

fn culprit_search(c: &mut Criterion, fx: &Fixture) {
    let mut group = c.benchmark_group("culprit_search");
    slow(&mut group);
    let checks = |log: &Path| {
        std::fs::read_to_string(log).unwrap_or_default().lines().filter(|l| *l == "check").count()
    };
    let log = fx.root.join("cargo.log");
    let mut builds = [0usize; 2];
    for (i, (function, culprit)) in
        [("baseline", false), ("proofmark", true)].into_iter().enumerate()
    {
        let opts = fx.options(all_of(CUL), culprit, None);
        let builds = &mut builds[i];
        group.bench_function(function, |b| {
            b.iter_custom(|iters| {
                let mut timed = Duration::ZERO;
                for _ in 0..iters {
                    let work = tempfile::tempdir_in(&fx.root).unwrap();
                    let _ = std::fs::remove_file(&log);
                    let start = Instant::now();
                    let report = black_box(fx.check_with(work.path(), &opts, &fx.counting_cargo));
                    timed += start.elapsed();
                    *builds = checks(&log);
                    let found = report.findings.iter().filter_map(|f| f.culprit()).count();
                    assert_eq!(found, usize::from(culprit), "{report:#?}");
                }
                timed
            });
        });
    }
    group.finish();
    // Nothing counted: the group was filtered out.
    if builds[1] == 0 {
        return;
    }
    if let Ok(mut slot) = CULPRIT_BUILDS.lock() {
        *slot = Some((builds[0], builds[1]));
    }
}

fn info_fresh_build_per_version(c: &mut Criterion, fx: &Fixture) {
    let mut group = c.benchmark_group("info_fresh_build_per_version");
    slow(&mut group);
    let versions = FIRST_BUILDING..FIRST_BUILDING + 2;
    group.bench_function("baseline", |b| {
        b.iter_custom(|iters| {
            let mut timed = Duration::ZERO;
            for _ in 0..iters {
                let work = tempfile::tempdir_in(&fx.root).unwrap();
                let dirs: Vec<PathBuf> =
                    versions.clone().map(|v| consumer(work.path(), APP, v)).collect();
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
            trace(timed);
            timed
        });
    });
    let targets = versions
        .clone()
        .map(|v| Target {
            name: APP.to_owned(),
            versions: VersionSpec::Exact(semver::Version::new(1, 0, v as u64)),
        })
        .collect();
    let opts = fx.options(targets, false, None);
    group.bench_function("proofmark", |b| {
        b.iter_custom(|iters| {
            let mut timed = Duration::ZERO;
            for _ in 0..iters {
                let work = tempfile::tempdir_in(&fx.root).unwrap();
                let start = Instant::now();
                black_box(fx.check(work.path(), &opts));
                timed += start.elapsed();
            }
            trace(timed);
            timed
        });
    });
    group.finish();
}

/// Rounds of `detect_cold_interleaved`.
const ROUNDS: usize = 5;

/// Whether the command line's filter (criterion's positional argument) selects `name`.
fn selected(name: &str) -> bool {
    let filters: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str()))
}

/// `detect_cold` again, outside criterion: the loop and proofmark alternate round by round
/// (which goes first alternates too), so the machine's load drifts over both alike; the
/// medians are recorded for `cargo xtask bench` as paired medians (information, no goal: the
/// goal stays on `detect_cold`'s means).
fn detect_cold_interleaved(fx: &Fixture) {
    if !selected("detect_cold_interleaved") {
        return;
    }
    let (mut base, mut ours) = (Vec::new(), Vec::new());
    let run_loop = || {
        let work = tempfile::tempdir_in(&fx.root).unwrap();
        let start = Instant::now();
        let built = fx.maintainer_loop(work.path(), 0..VERSIONS);
        let elapsed = start.elapsed();
        assert_eq!(built, VERSIONS - FIRST_BUILDING);
        elapsed
    };
    let run_ours = || {
        let work = tempfile::tempdir_in(&fx.root).unwrap();
        let opts = fx.options(all_of(APP), false, Some(work.path().join("cache")));
        let start = Instant::now();
        let report = fx.check(work.path(), &opts);
        let elapsed = start.elapsed();
        assert_detected(&report);
        elapsed
    };
    for round in 0..ROUNDS {
        if round % 2 == 0 {
            base.push(run_loop());
            ours.push(run_ours());
        } else {
            ours.push(run_ours());
            base.push(run_loop());
        }
    }
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2].as_secs_f64() * 1e9
    };
    let (b, o) = (median(&mut base), median(&mut ours));
    let tmp = env!("CARGO_TARGET_TMPDIR");
    proofmark_test_support::bench::record(tmp, "detect_cold_interleaved", "baseline", b);
    proofmark_test_support::bench::record(tmp, "detect_cold_interleaved", "proofmark", o);
    println!(
        "detect_cold_interleaved ({ROUNDS} rounds, paired medians): baseline {:.3} s, proofmark {:.3} s, ratio {:.3} (information)",
        b / 1e9,
        o / 1e9,
        o / b
    );
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
    let mut opts = fx.options(all_of(APP), false, None);
    opts.probe.stage = Stage::Index;
    group.bench_function("proofmark", |b| {
        b.iter(|| {
            // A fresh in-memory index each time (inside `check`): nothing is cached across runs.
            let report = fx.check(work.path(), &opts);
            assert!(!report.findings.is_empty());
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
    let ratio = |group: &str, goal: Option<f64>| {
        let (Some(base), Some(ours)) = (mean_ns(group, "baseline"), mean_ns(group, "proofmark"))
        else {
            println!("{group}: not measured");
            return;
        };
        let verdict = match goal {
            Some(g) if ours / base <= g => format!(" (goal <= {g}: met)"),
            Some(g) => format!(" (goal <= {g}: MISSED)"),
            None => " (information only)".to_owned(),
        };
        println!(
            "{group} (criterion means): baseline {:.3} s, proofmark {:.3} s, ratio {:.3}{verdict}",
            base / 1e9,
            ours / 1e9,
            ours / base
        );
    };
    ratio("detect_cold", Some(1.0));
    ratio("detect_warm", Some(0.05));
    ratio("culprit_search", None);
    ratio("info_fresh_build_per_version", None);
    ratio("index_only", None);
    let builds = CULPRIT_BUILDS.lock().ok().and_then(|b| *b);
    if let (Some((detect, with)), Some(base), Some(ours)) =
        (builds, mean_ns("culprit_search", "baseline"), mean_ns("culprit_search", "proofmark"))
    {
        // One confirmed culprit among DRIFT releases since publish.
        let log2 = (DRIFT as f64).log2().ceil();
        println!(
            "culprit_search: {} builds per confirmed culprit ({DRIFT} releases between baseline and today, log2 = {log2}; detection alone: {detect}), {:.2} s per culprit",
            with.saturating_sub(detect),
            (ours - base) / 1e9
        );
    }
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    let fx = Fixture::new();
    detect_cold(&mut c, &fx);
    detect_warm(&mut c, &fx);
    culprit_search(&mut c, &fx);
    info_fresh_build_per_version(&mut c, &fx);
    index_only(&mut c, &fx);
    c.final_summary();
    detect_cold_interleaved(&fx);
    summary();
}
