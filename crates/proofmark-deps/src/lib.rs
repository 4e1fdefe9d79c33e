//! Re-checks published versions of crates against today's registry and recommends, with
//! evidence, whether to yank them.
//!
//! For every target version: index-only checks (yanked, all-yanked or missing dependencies,
//! upper-bound pins, `rust-version`), then a fresh consumer's resolution
//! (`cargo generate-lockfile` on a scratch package depending on `=X`), then compilation
//! (`cargo check --message-format=json`). Failures are classified after crater
//! ([`probe::Class`]); resolution blocked by yanks is looked through with a seed lockfile;
//! own-code failures get a culprit ([`culprit`]); RustSec advisories are joined
//! ([`advisory`]); the yank policy ([`policy`]) turns it into [`report::Finding`]s.
//!
//! Separately, [`lockfile::check_lockfile`] checks a workspace's own `Cargo.lock` like
//! cargo-audit (yanked, vanished and vulnerable dependencies, each with the `cargo update
//! --precise` that fixes it), and [`advisory::fetch`] clones the advisory database.
//!
//! The crate prints nothing: [`check`] returns a [`report::Report`] and reports progress
//! through a callback. See `docs/check-deps.md` and `docs/yank-policy.md`.
//!
//! ```
//! use proofmark_deps::index::{Index, RegistrySource};
//! use proofmark_deps::{Target, VersionSpec};
//!
//! // What to check, as a user writes it.
//! let target: Target = "tss-esapi@^7".parse()?;
//! assert!(matches!(target.versions, VersionSpec::Req(_)));
//!
//! // Where the index is: normally `RegistrySource::from_cargo_config`, which reads cargo's own
//! // configuration; here a local-registry folder that has no such crate.
//! let dir = tempfile::tempdir()?;
//! let index = Index::new(RegistrySource::from_url("sparse+http://127.0.0.1:9/")?);
//! assert_eq!(index.source().to_string(), "sparse+http://127.0.0.1:9/");
//! let local = Index::new(RegistrySource::Local(dir.path().to_owned()));
//! assert!(local.versions("tss-esapi")?.is_empty());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(missing_docs)]

pub mod advisory;
mod cache;
pub mod cargo;
pub mod culprit;
pub mod diff;
pub mod error;
pub mod index;
pub mod lockfile;
pub mod merge;
pub mod policy;
pub mod probe;
pub mod report;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::advisory::AdvisoryDb;
use crate::cargo::{CargoEnv, Toolchain};
pub use crate::error::{Error, Result};
use crate::index::{Index, IndexEntry};
use crate::policy::Policy;
use crate::probe::{FeatureSet, ProbeOptions, ProbeResult, Prober};
use crate::report::Report;

/// Which versions of a crate to check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionSpec {
    /// Every version in the index.
    All,
    /// One version.
    Exact(semver::Version),
    /// The versions matching a requirement.
    Req(semver::VersionReq),
}

/// A target: `CRATE`, `CRATE@VERSION` or `CRATE@REQ`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Crate name.
    pub name: String,
    /// Versions.
    pub versions: VersionSpec,
}

impl std::str::FromStr for Target {
    type Err = Error;

    fn from_str(s: &str) -> Result<Target> {
        let bad = || Error::InvalidTarget(s.to_owned());
        let (name, spec) = match s.split_once('@') {
            None => (s, VersionSpec::All),
            Some((name, v)) => match semver::Version::parse(v) {
                Ok(v) => (name, VersionSpec::Exact(v)),
                Err(_) => {
                    (name, VersionSpec::Req(semver::VersionReq::parse(v).map_err(|_| bad())?))
                }
            },
        };
        let valid = !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !valid {
            return Err(bad());
        }
        Ok(Target { name: name.to_owned(), versions: spec })
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.versions {
            VersionSpec::All => write!(f, "{}", self.name),
            VersionSpec::Exact(v) => write!(f, "{}@{v}", self.name),
            VersionSpec::Req(r) => write!(f, "{}@{r}", self.name),
        }
    }
}

impl VersionSpec {
    /// Whether `version` is one of these versions. A requirement matches pre-releases only when
    /// it names one, as cargo's requirements do.
    pub fn matches(&self, version: &semver::Version) -> bool {
        match self {
            VersionSpec::All => true,
            VersionSpec::Exact(v) => version == v,
            VersionSpec::Req(r) => r.matches(version),
        }
    }
}

/// `--shard I/N`: this run checks the semver lines (`a 1.x`, `a 0.3.x`, by crate name, then
/// line) whose position in that order is I modulo N. Whole lines go to one shard, because the
/// policy judges a version together with its line (its successor, a dead line); so the shards'
/// merged report is the unsharded run's, and a crate with many lines spreads over shards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// 1-based index.
    pub index: usize,
    /// Number of shards.
    pub count: usize,
}

impl std::str::FromStr for Shard {
    type Err = Error;

    fn from_str(s: &str) -> Result<Shard> {
        let bad = || Error::InvalidShard(s.to_owned());
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count) = (i.parse().map_err(|_| bad())?, n.parse().map_err(|_| bad())?);
        if index == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// Progress events, for a bar or a log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// The number of probes planned (grows when successors are added).
    Planned(usize),
    /// A probe finished.
    Done {
        /// `name@version`.
        target: String,
        /// Its class label.
        class: String,
    },
}

/// Everything a run needs besides the index and cargo.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    /// What to check.
    pub targets: Vec<Target>,
    /// How to probe.
    pub probe: ProbeOptions,
    /// Probes run at once. They share one target folder, whose lock makes their builds take
    /// turns, so each build keeps every core of `build_jobs`; what overlaps is everything
    /// around a build (cargo's start-up, index reads, resolution, failures before compiling).
    pub workers: usize,
    /// A RustSec advisory-db checkout.
    pub advisory_db: Option<PathBuf>,
    /// The yank policy.
    pub policy: Policy,
    /// Only this shard.
    pub shard: Option<Shard>,
    /// Results cache folder. A result is keyed on everything that decided it: the resolved
    /// lockfile (packages, checksums, yank states), toolchain and probe settings.
    pub cache_dir: Option<PathBuf>,
    /// Whether a target crate the index does not have is an error ([`Error::NotPublished`]),
    /// as for targets a user named, rather than a run warning, as for a workspace's members
    /// (some never published yet). A version or requirement that matches none of a published
    /// crate's versions is always an error ([`Error::NoMatchingVersion`]).
    pub require_published: bool,
}

/// Runs a whole check.
pub fn check(
    index: &Index,
    env: &CargoEnv,
    toolchain: &Toolchain,
    opts: &CheckOptions,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Report> {
    let mut warnings = Vec::new();
    let db = match &opts.advisory_db {
        Some(path) => AdvisoryDb::load(path)?,
        None => AdvisoryDb::default(),
    };
    // Every shard reads every target's index file (cheap), so each reports the same target
    // errors and warnings; then it keeps its own semver lines.
    let mut entries: Vec<IndexEntry> = Vec::new();
    for t in &opts.targets {
        entries.extend(target_entries(index, t, opts.require_published, &mut warnings)?);
    }
    entries.sort_by(|a, b| (&a.name, &a.vers).cmp(&(&b.name, &b.vers)));
    entries.dedup_by(|a, b| a.name == b.name && a.vers == b.vers);
    if let Some(shard) = opts.shard {
        let mut lines: Vec<(&str, String)> =
            entries.iter().map(|e| (e.name.as_str(), policy::line_of(&e.vers))).collect();
        lines.sort_unstable();
        lines.dedup();
        let keep: BTreeSet<(String, String)> = lines
            .into_iter()
            .enumerate()
            .filter(|(i, _)| i % shard.count == shard.index - 1)
            .map(|(_, (name, line))| (name.to_owned(), line))
            .collect();
        entries.retain(|e| keep.contains(&(e.name.clone(), policy::line_of(&e.vers))));
    }
    // One prober per feature set: each set is its own probe, cache key and finding.
    let sets = if opts.probe.features.is_empty() {
        vec![FeatureSet::Default]
    } else {
        opts.probe.features.clone()
    };
    let matrix = sets != [FeatureSet::Default];
    let per_set: Vec<ProbeOptions> = sets
        .iter()
        .map(|set| ProbeOptions { features: vec![set.clone()], ..opts.probe.clone() })
        .collect();
    let probers: Vec<Prober<'_>> =
        per_set.iter().map(|o| Prober { index, env, toolchain, opts: o, deadline: None }).collect();
    let jobs: Vec<(usize, &IndexEntry)> =
        entries.iter().flat_map(|e| (0..probers.len()).map(move |i| (i, e))).collect();
    progress(Progress::Planned(jobs.len()));
    let mut targets: Vec<Vec<ProbeResult>> = vec![Vec::new(); probers.len()];
    for (i, r) in run_probes(&probers, opts, &jobs, matrix, progress)? {
        targets[i].push(r);
    }
    let mut all: Vec<BTreeMap<(String, semver::Version), ProbeResult>> = targets
        .iter()
        .map(|rs| rs.iter().map(|r| ((r.name.clone(), r.version.clone()), r.clone())).collect())
        .collect();

    // The successors the policy needs evidence about, probed if no target covered them.
    let mut extra: Vec<(usize, IndexEntry)> = Vec::new();
    for (i, rs) in targets.iter().enumerate() {
        for r in rs {
            let versions = index.versions(&r.name)?;
            let succ = versions
                .iter()
                .filter(|e| {
                    !e.yanked && e.vers > r.version && culprit::compatible(&e.vers, &r.version)
                })
                .max_by(|a, b| a.vers.cmp(&b.vers));
            if let Some(s) = succ {
                let job = (i, s.clone());
                if !all[i].contains_key(&(s.name.clone(), s.vers.clone())) && !extra.contains(&job)
                {
                    extra.push(job);
                }
            }
        }
    }
    if !extra.is_empty() {
        progress(Progress::Planned(jobs.len() + extra.len()));
        let extra_jobs: Vec<(usize, &IndexEntry)> = extra.iter().map(|(i, e)| (*i, e)).collect();
        for (i, r) in run_probes(&probers, opts, &extra_jobs, matrix, progress)? {
            all[i].insert((r.name.clone(), r.version.clone()), r);
        }
    }
    let mut findings = Vec::new();
    for (i, set) in sets.iter().enumerate() {
        let mut set_findings = policy::evaluate(&targets[i], &all[i], &db, &opts.policy);
        // In a feature matrix every finding says which feature set it is about.
        if matrix {
            for f in &mut set_findings {
                f.id = format!("{} [features: {set}]", f.id);
            }
        }
        findings.extend(set_findings);
    }
    findings.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(Report {
        schema_version: report::SCHEMA_VERSION,
        toolchain: toolchain.clone(),
        registry: index.source().to_string(),
        findings,
        warnings,
        shard: opts.shard.map(|s| s.to_string()),
        diff: None,
    })
}

/// The index entries a target names. Names match as the registry matches them (see
/// [`Index::versions_by_registry_name`]); a target that matches nothing is an error that says
/// what the index has, except an unpublished crate when `require_published` is false.
fn target_entries(
    index: &Index,
    target: &Target,
    require_published: bool,
    warnings: &mut Vec<String>,
) -> Result<Vec<IndexEntry>> {
    let versions = index.versions_by_registry_name(&target.name)?;
    if versions.is_empty() {
        if require_published {
            return Err(Error::NotPublished {
                name: target.name.clone(),
                registry: index.source().to_string(),
            });
        }
        warnings.push(format!("`{}` is not published in {}", target.name, index.source()));
        return Ok(Vec::new());
    }
    let matching: Vec<IndexEntry> =
        versions.iter().filter(|e| target.versions.matches(&e.vers)).cloned().collect();
    if !matching.is_empty() {
        return Ok(matching);
    }
    let mut sorted: Vec<&IndexEntry> = versions.iter().collect();
    sorted.sort_by(|a, b| a.vers.cmp(&b.vers));
    let name = sorted.last().map_or_else(|| target.name.clone(), |e| e.name.clone());
    // A requirement skips pre-releases unless it names one: say which one it would take.
    let pre_release = match &target.versions {
        VersionSpec::Req(req) => sorted.iter().rev().find(|e| {
            !e.vers.pre.is_empty()
                && req.matches(&semver::Version::new(e.vers.major, e.vers.minor, e.vers.patch))
        }),
        _ => None,
    };
    Err(Error::NoMatchingVersion {
        target: target.to_string(),
        registry: index.source().to_string(),
        available: describe_versions(&sorted),
        hint: match pre_release {
            Some(e) => format!(
                "a requirement matches a pre-release only when it names one: `{name}@={}`",
                e.vers
            ),
            None => format!("name one of these versions (`{name}@VERSION`) or `{name}` for all"),
        },
    })
}

/// `1.0.0, 1.1.0 (yanked), 2.0.0-rc.1`; the oldest three and newest six of a long list.
fn describe_versions(sorted: &[&IndexEntry]) -> String {
    let show = |e: &&IndexEntry| {
        if e.yanked { format!("{} (yanked)", e.vers) } else { e.vers.to_string() }
    };
    if sorted.len() <= 10 {
        return sorted.iter().map(show).collect::<Vec<_>>().join(", ");
    }
    let oldest: Vec<String> = sorted[..3].iter().map(show).collect();
    let newest: Vec<String> = sorted[sorted.len() - 6..].iter().map(show).collect();
    format!("{} versions: {}, …, {}", sorted.len(), oldest.join(", "), newest.join(", "))
}

fn run_probes(
    probers: &[Prober<'_>],
    opts: &CheckOptions,
    jobs: &[(usize, &IndexEntry)],
    matrix: bool,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Vec<(usize, ProbeResult)>> {
    let queue = Mutex::new(jobs.iter().collect::<VecDeque<_>>());
    let results = Mutex::new(Vec::new());
    let first_error = Mutex::new(None);
    std::thread::scope(|scope| {
        for worker in 0..opts.workers.max(1) {
            let (queue, results, first_error) = (&queue, &results, &first_error);
            scope.spawn(move || {
                while let Some(&(set, entry)) = queue.lock().ok().and_then(|mut q| q.pop_front()) {
                    let Some(prober) = probers.get(set) else { break };
                    match cache::probe_cached(prober, opts, entry, worker) {
                        Ok(r) => {
                            let features = if matrix {
                                format!(" [features: {}]", r.features)
                            } else {
                                String::new()
                            };
                            progress(Progress::Done {
                                target: format!("{}@{}{features}", r.name, r.version),
                                class: r.class.label(),
                            });
                            if let Ok(mut res) = results.lock() {
                                res.push((set, r));
                            }
                        }
                        Err(e) => {
                            if let Ok(mut slot) = first_error.lock() {
                                slot.get_or_insert(e);
                            }
                            break;
                        }
                    }
                }
            });
        }
    });
    if let Some(e) = first_error.into_inner().ok().flatten() {
        return Err(e);
    }
    let mut results = results.into_inner().unwrap_or_default();
    results.sort_by(|(i, a), (j, b)| (i, &a.name, &a.version).cmp(&(j, &b.name, &b.version)));
    Ok(results)
}

/// The Cargo workspace a folder belongs to, as `cargo metadata` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workspace {
    /// The folder of the workspace's root `Cargo.toml`.
    pub root: PathBuf,
    /// Its target folder: `CARGO_TARGET_DIR`, `build.target-dir` or `ROOT/target`, as cargo
    /// decides.
    pub target_directory: PathBuf,
}

/// The workspace `dir` belongs to, or `None` when no `Cargo.toml` is found from `dir` up.
pub fn workspace(cargo: &Path, dir: &Path) -> Result<Option<Workspace>> {
    let out = std::process::Command::new(cargo)
        .current_dir(dir)
        .args(["metadata", "--no-deps", "--format-version", "1", "--offline"])
        .output()
        .map_err(|source| Error::Spawn { program: "cargo".to_owned(), source })?;
    let detail = String::from_utf8_lossy(&out.stderr).trim().to_owned();
    if !out.status.success() {
        if detail.contains("could not find `Cargo.toml`") {
            return Ok(None);
        }
        return Err(Error::Command { command: "cargo metadata".to_owned(), detail });
    }
    let bad = |detail: String| Error::Command { command: "cargo metadata".to_owned(), detail };
    let meta: serde_json::Value =
        serde_json::from_slice(&out.stdout).map_err(|e| bad(e.to_string()))?;
    let path = |key: &str| {
        meta[key]
            .as_str()
            .map(PathBuf::from)
            .ok_or_else(|| bad(format!("no `{key}` in its output")))
    };
    Ok(Some(Workspace {
        root: path("workspace_root")?,
        target_directory: path("target_directory")?,
    }))
}

/// The publishable members of the workspace at `manifest_dir` (via `cargo metadata`).
pub fn workspace_crates(cargo: &Path, manifest_dir: &Path) -> Result<Vec<String>> {
    let out = std::process::Command::new(cargo)
        .current_dir(manifest_dir)
        .args(["metadata", "--no-deps", "--format-version", "1", "--offline"])
        .output()
        .map_err(|source| Error::Spawn { program: "cargo".to_owned(), source })?;
    if !out.status.success() {
        return Err(Error::Command {
            command: "cargo metadata".to_owned(),
            detail: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|e| {
        Error::Command { command: "cargo metadata".to_owned(), detail: e.to_string() }
    })?;
    let mut names: Vec<String> = meta["packages"]
        .as_array()
        .map(|ps| {
            ps.iter()
                // `publish = false` shows as an empty list of registries.
                .filter(|p| p["publish"].as_array().is_none_or(|r| !r.is_empty()))
                .filter_map(|p| p["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse() {
        let t: Target = "a-b@1.2.3".parse().unwrap();
        assert_eq!(t.versions, VersionSpec::Exact(semver::Version::new(1, 2, 3)));
        let t: Target = "a@^1.2".parse().unwrap();
        assert!(matches!(t.versions, VersionSpec::Req(_)));
        assert_eq!("a".parse::<Target>().unwrap().versions, VersionSpec::All);
        for bad in ["", "a@x y", "a b", "@1.0.0"] {
            assert!(matches!(bad.parse::<Target>(), Err(Error::InvalidTarget(_))), "{bad}");
        }
    }

    /// Index-only runs (no cargo) of one crate with four semver lines and another crate: the
    /// shards split by line and merge into the whole run's report.
    #[test]
    fn shards_split_semver_lines_and_merge_into_the_whole_run() {
        let dir = tempfile::tempdir().unwrap();
        let line = |name: &str, vers: &str| {
            format!(
                "{{\"name\":\"{name}\",\"vers\":\"{vers}\",\"deps\":[],\"cksum\":\"00\",\"features\":{{}},\"yanked\":false}}\n"
            )
        };
        for (name, versions) in [
            ("many", &["0.1.0", "0.1.1", "0.2.0", "1.0.0", "1.1.0", "2.0.0"][..]),
            ("one", &["1.0.0"]),
        ] {
            let path = dir.path().join("index").join(index::index_path(name));
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, versions.iter().map(|v| line(name, v)).collect::<String>())
                .unwrap();
        }
        let index = Index::new(index::RegistrySource::Local(dir.path().to_owned()));
        let env = CargoEnv {
            cargo: "cargo-is-not-run".into(),
            cargo_home: None,
            target_root: dir.path().join("target"),
            scratch_root: dir.path().join("scratch"),
            offline: true,
            build_jobs: 1,
        };
        let toolchain = Toolchain {
            rustc: "rustc 1.95.0".to_owned(),
            version: semver::Version::new(1, 95, 0),
            host: "h".to_owned(),
        };
        let run = |shard: Option<&str>| {
            let opts = CheckOptions {
                targets: vec!["many".parse().unwrap(), "one".parse().unwrap()],
                probe: ProbeOptions {
                    stage: probe::Stage::Index,
                    timeout: std::time::Duration::from_secs(10),
                    probe_timeout: None,
                    retries: 0,
                    culprit: false,
                    registry: None,
                    features: Vec::new(),
                },
                workers: 1,
                advisory_db: None,
                policy: Policy::default(),
                shard: shard.map(|s| s.parse().unwrap()),
                cache_dir: None,
                require_published: true,
            };
            let mut report = check(&index, &env, &toolchain, &opts, &|_| {}).unwrap();
            for r in report.findings.iter_mut().flat_map(|f| f.evidence.iter_mut()) {
                r.millis = 0;
            }
            report
        };
        let ids = |r: &Report| r.findings.iter().map(|f| f.id.clone()).collect::<Vec<_>>();
        let (whole, one, two) = (run(None), run(Some("1/2")), run(Some("2/2")));
        assert_eq!(
            ids(&one),
            ["many@0.1.0", "many@0.1.1", "many@1.0.0", "many@1.1.0", "one@1.0.0"]
        );
        assert_eq!(ids(&two), ["many@0.2.0", "many@2.0.0"]);
        assert_eq!((one.shard.as_deref(), whole.shard.as_deref()), (Some("1/2"), None));
        let merged =
            merge::merge(vec![(PathBuf::from("s2"), two), (PathBuf::from("s1"), one)]).unwrap();
        assert_eq!(merged, whole);
    }

    #[test]
    fn shards_parse() {
        assert_eq!("2/3".parse::<Shard>().unwrap(), Shard { index: 2, count: 3 });
        for bad in ["0/3", "4/3", "x", "1/"] {
            assert!(matches!(bad.parse::<Shard>(), Err(Error::InvalidShard(_))), "{bad}");
        }
    }
}

/// The README's examples, compiled (and, unless marked `no_run`, run) as doctests; not API.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
