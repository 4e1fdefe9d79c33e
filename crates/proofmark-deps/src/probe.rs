//! The staged probe of one published version, cheapest stage first: index-only checks
//! (milliseconds), resolution of a fresh consumer (`cargo generate-lockfile`, about a second),
//! compilation (`cargo check --message-format=json`), then, only on failure, the look-through
//! of yanks and the culprit search ([`crate::culprit`]).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::cargo::{self, CargoEnv, Diagnostic, LockedPackage, Outcome, Toolchain};
use crate::culprit::{self, CulpritSearch};
use crate::error::{Result, io};
use crate::index::{CRATES_IO_LOCK_SOURCE, Index, IndexEntry};

/// How far the probe goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    /// Index-only checks, no cargo.
    Index,
    /// Plus `cargo generate-lockfile` in a scratch consumer.
    Resolve,
    /// Plus `cargo check`.
    Compile,
}

/// A feature set a version is probed with (`--features`): what a fresh consumer's dependency
/// line enables. Written `default`, `all`, `none`, `docsrs`, or features joined with `+`
/// (`serde+std`: the default features plus those).
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum FeatureSet {
    /// The crate's default features (what `name = "=X"` gets).
    #[default]
    Default,
    /// Every feature, optional dependencies' implicit features included (`--all-features`).
    All,
    /// `default-features = false` and nothing else.
    None,
    /// What docs.rs builds: `[package.metadata.docs.rs]` `features`, `all-features` and
    /// `no-default-features` of the published manifest (default features without it).
    DocsRs,
    /// The default features plus these.
    List(Vec<String>),
}

impl FeatureSet {
    /// Parses a `--features` value: sets separated by commas (`default,all,none`), in order,
    /// each set once.
    pub fn parse_list(text: &str) -> Result<Vec<FeatureSet>> {
        let mut sets = Vec::new();
        for item in text.split(',').map(str::trim) {
            let set: FeatureSet = item.parse()?;
            if !sets.contains(&set) {
                sets.push(set);
            }
        }
        Ok(sets)
    }

    /// Whether this is the default set (kept out of JSON for compatibility).
    pub fn is_default(&self) -> bool {
        *self == FeatureSet::Default
    }
}

impl std::fmt::Display for FeatureSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FeatureSet::Default => f.write_str("default"),
            FeatureSet::All => f.write_str("all"),
            FeatureSet::None => f.write_str("none"),
            FeatureSet::DocsRs => f.write_str("docsrs"),
            FeatureSet::List(features) => f.write_str(&features.join("+")),
        }
    }
}

impl std::str::FromStr for FeatureSet {
    type Err = crate::error::Error;

    fn from_str(s: &str) -> Result<FeatureSet> {
        Ok(match s {
            "default" => FeatureSet::Default,
            "all" => FeatureSet::All,
            "none" => FeatureSet::None,
            "docsrs" => FeatureSet::DocsRs,
            _ => {
                let features: Vec<String> = s.split('+').map(str::to_owned).collect();
                let valid = features.iter().all(|f| {
                    !f.is_empty()
                        && f.chars().all(|c| c.is_ascii_alphanumeric() || "-_/.".contains(c))
                });
                if !valid {
                    return Err(crate::error::Error::InvalidFeatures(s.to_owned()));
                }
                FeatureSet::List(features)
            }
        })
    }
}

impl From<FeatureSet> for String {
    fn from(set: FeatureSet) -> String {
        set.to_string()
    }
}

impl TryFrom<String> for FeatureSet {
    type Error = crate::error::Error;

    fn try_from(s: String) -> Result<FeatureSet> {
        s.parse()
    }
}

/// What the consumer's dependency line says: `default-features` and `features`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ConsumerFeatures {
    /// `default-features = false`.
    pub(crate) no_default: bool,
    /// `features = [...]`.
    pub(crate) features: Vec<String>,
}

/// Every feature of a version as cargo's `--all-features` sees it: the `[features]` table
/// (`features` and, for `dep:` and weak syntax, `features2` of the index), plus the implicit
/// feature of each optional dependency no `dep:` entry hides.
pub(crate) fn all_features(entry: &IndexEntry) -> Vec<String> {
    let tables = entry.features.iter().chain(&entry.features2);
    let hidden: std::collections::BTreeSet<&str> = tables
        .clone()
        .flat_map(|(_, values)| values.iter().filter_map(|v| v.strip_prefix("dep:")))
        .collect();
    let mut all: Vec<String> = tables.map(|(name, _)| name.clone()).collect();
    all.extend(
        entry
            .deps
            .iter()
            .filter(|d| d.optional && !hidden.contains(d.name.as_str()))
            .map(|d| d.name.clone()),
    );
    all.sort();
    all.dedup();
    all
}

/// Something the index alone says about a version (a heuristic: cross-constraints are ignored).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum IndexNote {
    /// Every version matching a dependency requirement is yanked.
    AllYanked {
        /// The dependency.
        dependency: String,
        /// Its requirement.
        req: String,
        /// The yanked versions that match.
        yanked: Vec<String>,
    },
    /// No version (or no crate at all) matches a dependency requirement.
    Missing {
        /// The dependency.
        dependency: String,
        /// Its requirement.
        req: String,
    },
    /// A requirement with an upper bound (`<`, `<=`, `=`, `~`): a resolution hazard.
    UpperBound {
        /// The dependency.
        dependency: String,
        /// Its requirement.
        req: String,
    },
    /// The version declares a `rust-version` newer than the probe toolchain.
    RustVersion {
        /// The declared `rust-version`.
        rust_version: String,
    },
}

/// Why a resolution failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Unresolvable {
    /// Only yanked versions match a requirement.
    AllYanked,
    /// A required crate or version does not exist.
    Missing,
    /// Requirements (or `links`) conflict.
    Conflict,
    /// Only versions needing a newer Rust match.
    Msrv,
}

/// Kinds of spurious failure (retried, never evidence).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Spurious {
    /// The probe's time limit passed.
    Timeout,
    /// Out of memory.
    Oom,
    /// Out of disk.
    NoSpace,
    /// A network failure.
    Network,
    /// An internal compiler error.
    Ice,
}

/// The failure class of a probe, after crater's taxonomy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "class", rename_all = "kebab-case")]
pub enum Class {
    /// The version is yanked already; not probed.
    Yanked,
    /// Index checks passed; later stages not run.
    IndexClean,
    /// Resolution succeeded; compilation not run.
    Resolves,
    /// A fresh consumer builds.
    Builds,
    /// A fresh consumer cannot resolve.
    Unresolvable {
        /// Why.
        reason: Unresolvable,
        /// Cargo's explanation (or the index note).
        detail: String,
    },
    /// The crate's own code fails against today's dependencies.
    OwnCode {
        /// The errors, with codes and locations.
        errors: Vec<Diagnostic>,
    },
    /// A dependency fails to compile on its own.
    DependencyBroken {
        /// `name@version` of the broken dependency.
        package: String,
        /// Its errors.
        errors: Vec<Diagnostic>,
    },
    /// A build script failed (a missing system library or tool): never evidence for a yank.
    Environment {
        /// Whose build script.
        package: String,
        /// The end of cargo's output.
        detail: String,
    },
    /// A failure that says nothing about the code (retried first).
    Spurious {
        /// Which kind.
        kind: Spurious,
        /// The end of cargo's output.
        detail: String,
    },
    /// A failure none of the rules recognise.
    Unknown {
        /// The end of cargo's output.
        detail: String,
    },
}

impl Class {
    /// A short name (`own-code`, `unresolvable/all-yanked`, …).
    pub fn label(&self) -> String {
        match self {
            Class::Yanked => "yanked".to_owned(),
            Class::IndexClean => "index-clean".to_owned(),
            Class::Resolves => "resolves".to_owned(),
            Class::Builds => "builds".to_owned(),
            Class::Unresolvable { reason, .. } => format!("unresolvable/{}", kebab(reason)),
            Class::OwnCode { .. } => "own-code".to_owned(),
            Class::DependencyBroken { package, .. } => format!("depends-on/{package}"),
            Class::Environment { .. } => "environment".to_owned(),
            Class::Spurious { kind, .. } => format!("spurious/{}", kebab(kind)),
            Class::Unknown { .. } => "unknown".to_owned(),
        }
    }

    /// Whether a fresh consumer can use the version (as far as the probe went).
    pub fn works(&self) -> bool {
        matches!(self, Class::Builds | Class::Resolves | Class::IndexClean)
    }

    /// Whether this is a real, reproducible breakage (not environment, not spurious).
    pub fn is_breakage(&self) -> bool {
        matches!(
            self,
            Class::Unresolvable { .. } | Class::OwnCode { .. } | Class::DependencyBroken { .. }
        )
    }
}

fn kebab<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

/// The compile outcome with yanked versions seeded into the lockfile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LookThrough {
    /// The yanked versions seeded (`name@version`).
    pub seeded: Vec<String>,
    /// What compiling then gave.
    pub class: Class,
}

/// Everything one probe established, with its evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeResult {
    /// Crate name.
    pub name: String,
    /// Version.
    pub version: semver::Version,
    /// Publish time from the index.
    pub pubtime: Option<String>,
    /// Whether the version is yanked.
    pub yanked: bool,
    /// The furthest stage run.
    pub stage: Stage,
    /// Index-only observations.
    pub index_notes: Vec<IndexNote>,
    /// The failure class.
    pub class: Class,
    /// How many attempts the last stage took (retries of spurious failures).
    pub attempts: u32,
    /// The scratch consumer's manifest.
    pub manifest: Option<String>,
    /// The lockfile of the fresh resolution.
    pub lockfile: Option<String>,
    /// The compile outcome behind yanks, when resolution failed only because of them.
    pub look_through: Option<LookThrough>,
    /// The culprit search, when the crate's own code failed (in the fresh build, or behind
    /// the yanks the look-through seeded).
    pub culprit: Option<CulpritSearch>,
    /// Wall time of the probe, in milliseconds.
    pub millis: u64,
    /// The feature set probed (absent: the default features).
    #[serde(default, skip_serializing_if = "FeatureSet::is_default")]
    pub features: FeatureSet,
}

/// Probe settings.
#[derive(Debug, Clone)]
pub struct ProbeOptions {
    /// The furthest stage.
    pub stage: Stage,
    /// Time limit for one cargo invocation.
    pub timeout: Duration,
    /// Time limit for the whole probe of one version: every cargo invocation, retries, the
    /// look-through and the culprit search together (`None`: only `timeout` applies). When it
    /// passes, the running cargo is killed and the probe ends as `spurious/timeout` (or its
    /// culprit search as `inconclusive`).
    pub probe_timeout: Option<Duration>,
    /// Extra attempts after a spurious failure.
    pub retries: u32,
    /// Whether to search for the culprit of own-code failures.
    pub culprit: bool,
    /// The alternate registry name, `None` for crates.io.
    pub registry: Option<String>,
    /// The feature sets each version is probed with, in order (empty: the default features).
    /// Each set is its own probe, cache entry and finding.
    pub features: Vec<FeatureSet>,
}

/// Runs probes against one index with one cargo environment.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Prober<'a> {
    pub(crate) index: &'a Index,
    pub(crate) env: &'a CargoEnv,
    pub(crate) toolchain: &'a Toolchain,
    pub(crate) opts: &'a ProbeOptions,
    /// When the current probe must end (`ProbeOptions::probe_timeout` after it started).
    pub(crate) deadline: Option<Instant>,
}

impl Prober<'_> {
    /// The time limit of the next cargo invocation: the per-invocation limit, cut to what is
    /// left of the whole probe's.
    pub(crate) fn limit(&self) -> Duration {
        match self.deadline {
            Some(deadline) => {
                self.opts.timeout.min(deadline.saturating_duration_since(Instant::now()))
            }
            None => self.opts.timeout,
        }
    }

    /// Whether the whole probe's time limit has passed.
    pub(crate) fn expired(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
    }

    /// The feature set of this prober's probes (one per prober: `check` makes one per set).
    pub(crate) fn feature_set(&self) -> &FeatureSet {
        static DEFAULT: FeatureSet = FeatureSet::Default;
        self.opts.features.first().unwrap_or(&DEFAULT)
    }

    /// The consumer's dependency line for this prober's feature set. For `docsrs` the
    /// published manifest's `[package.metadata.docs.rs]` is read through `cargo metadata` on
    /// a default-features consumer in `dir` (which resolves it; the lockfile is removed after).
    pub(crate) fn consumer_features(
        &self,
        entry: &IndexEntry,
        worker: usize,
        dir: &Path,
    ) -> Result<ConsumerFeatures> {
        Ok(match self.feature_set() {
            FeatureSet::Default => ConsumerFeatures::default(),
            FeatureSet::None => ConsumerFeatures { no_default: true, features: Vec::new() },
            FeatureSet::All => {
                ConsumerFeatures { no_default: false, features: all_features(entry) }
            }
            FeatureSet::List(features) => {
                ConsumerFeatures { no_default: false, features: features.clone() }
            }
            FeatureSet::DocsRs => self.docsrs_features(entry, worker, dir)?,
        })
    }

    fn docsrs_features(
        &self,
        entry: &IndexEntry,
        worker: usize,
        dir: &Path,
    ) -> Result<ConsumerFeatures> {
        let default = ConsumerFeatures::default();
        let registry = self.opts.registry.as_deref();
        cargo::write_consumer(dir, &entry.name, &entry.vers, registry, &default)?;
        let mut cmd = self.env.command(dir, worker);
        cmd.args(["metadata", "--format-version", "1"]);
        let out = cargo::run(cmd, self.limit(), dir)?;
        let _ = std::fs::remove_file(dir.join("Cargo.lock"));
        // When even metadata fails (resolution is blocked), the probe that follows reports
        // why, with the default features docs.rs would start from.
        if !out.success {
            return Ok(default);
        }
        let Ok(meta) = serde_json::from_str::<serde_json::Value>(&out.stdout) else {
            return Ok(default);
        };
        let version = entry.vers.to_string();
        let docs = meta["packages"].as_array().and_then(|ps| {
            ps.iter().find(|p| p["name"] == entry.name.as_str() && p["version"] == version.as_str())
        });
        let Some(docs) = docs.map(|p| &p["metadata"]["docs"]["rs"]) else { return Ok(default) };
        if docs["all-features"] == true {
            return Ok(ConsumerFeatures { no_default: false, features: all_features(entry) });
        }
        let features = docs["features"]
            .as_array()
            .map(|fs| fs.iter().filter_map(|f| f.as_str().map(str::to_owned)).collect())
            .unwrap_or_default();
        Ok(ConsumerFeatures { no_default: docs["no-default-features"] == true, features })
    }

    /// Index-only observations for `entry`.
    pub(crate) fn index_notes(&self, entry: &IndexEntry) -> Result<Vec<IndexNote>> {
        let mut notes = Vec::new();
        if let Some(rv) = &entry.rust_version {
            if parse_loose(rv).is_some_and(|v| v > self.toolchain.version) {
                notes.push(IndexNote::RustVersion { rust_version: rv.clone() });
            }
        }
        // With every feature on, optional dependencies are needed too.
        let all = *self.feature_set() == FeatureSet::All;
        let needed = |d: &&crate::index::IndexDep| {
            (d.always_needed() || all && d.optional && d.target.is_none()) && d.registry.is_none()
        };
        for dep in entry.deps.iter().filter(needed) {
            let Ok(req) = semver::VersionReq::parse(&dep.req) else { continue };
            let versions = self.index.versions(dep.crate_name())?;
            let matching: Vec<_> = versions.iter().filter(|v| req.matches(&v.vers)).collect();
            let dependency = dep.crate_name().to_owned();
            if matching.is_empty() {
                notes.push(IndexNote::Missing { dependency, req: dep.req.clone() });
            } else if matching.iter().all(|v| v.yanked) {
                let yanked = matching.iter().map(|v| v.vers.to_string()).collect();
                notes.push(IndexNote::AllYanked { dependency, req: dep.req.clone(), yanked });
            } else if req.comparators.iter().any(|c| {
                matches!(
                    c.op,
                    semver::Op::Less | semver::Op::LessEq | semver::Op::Exact | semver::Op::Tilde
                )
            }) {
                notes.push(IndexNote::UpperBound { dependency, req: dep.req.clone() });
            }
        }
        Ok(notes)
    }

    /// The whole staged probe of one version.
    pub(crate) fn probe(
        &self,
        entry: &IndexEntry,
        worker: usize,
        dir: &Path,
    ) -> Result<ProbeResult> {
        self.probe_resolved(entry, worker, dir, None)
    }

    /// [`Prober::probe`], after a `cargo generate-lockfile` already ran in `dir` for the same
    /// consumer (`resolved`: its outcome, and its lockfile in `dir` when it succeeded).
    pub(crate) fn probe_resolved(
        &self,
        entry: &IndexEntry,
        worker: usize,
        dir: &Path,
        resolved: Option<&Outcome>,
    ) -> Result<ProbeResult> {
        let start = Instant::now();
        // Every stage of this probe draws on one time budget.
        let this = Prober { deadline: self.opts.probe_timeout.map(|t| start + t), ..*self };
        let mut result = ProbeResult {
            name: entry.name.clone(),
            version: entry.vers.clone(),
            pubtime: entry.pubtime.clone(),
            yanked: entry.yanked,
            stage: Stage::Index,
            index_notes: this.index_notes(entry)?,
            class: Class::IndexClean,
            attempts: 0,
            manifest: None,
            lockfile: None,
            look_through: None,
            culprit: None,
            millis: 0,
            features: this.feature_set().clone(),
        };
        if entry.yanked {
            result.class = Class::Yanked;
        } else if this.opts.stage == Stage::Index {
            result.class = index_only_class(&result.index_notes);
        } else {
            this.probe_with_cargo(entry, worker, dir, &mut result, resolved)?;
        }
        result.millis = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
        Ok(result)
    }

    fn probe_with_cargo(
        &self,
        entry: &IndexEntry,
        worker: usize,
        dir: &Path,
        result: &mut ProbeResult,
        resolved: Option<&Outcome>,
    ) -> Result<()> {
        if let Some(class) = index_decided(&result.index_notes) {
            result.class = class;
            return Ok(());
        }
        result.stage = Stage::Resolve;
        let features = self.consumer_features(entry, worker, dir)?;
        result.manifest = Some(cargo::write_consumer(
            dir,
            &entry.name,
            &entry.vers,
            self.opts.registry.as_deref(),
            &features,
        )?);
        let target = format!("{}@{}", entry.name, entry.vers);
        let lock_path = dir.join("Cargo.lock");
        let notes = result.index_notes.clone();
        let mut stderr = String::new();
        // Resolution: the outcome the cache key's `generate-lockfile` left in `dir` (its lockfile
        // is reused); otherwise, when compilation follows, `cargo check` resolves by itself (one
        // cargo start instead of two; a failed resolution writes no lockfile, and its errors are
        // the resolver's); for the resolve stage alone, `cargo generate-lockfile`.
        let all_yanked = notes.iter().any(|n| matches!(n, IndexNote::AllYanked { .. }));
        let (step, attempts) = match resolved.filter(|o| spurious_kind(o).is_none()) {
            // Every version matching a requirement the consumer needs is yanked: a fresh
            // resolution cannot succeed, so no cargo runs to say so (the look-through seeds the
            // yanked versions and runs it once).
            None if all_yanked => (Step::Unresolved(index_only_class(&notes)), 0),
            Some(out) => {
                stderr = out.stderr.clone();
                (classify_resolution(out, &notes).map_or(Step::Resolved, Step::Unresolved), 1)
            }
            None if self.opts.stage == Stage::Compile => self.retrying(|| {
                let _ = std::fs::remove_file(&lock_path);
                let out = self.check_outcome(dir, worker, false)?;
                if lock_path.exists() {
                    return Ok(Step::Compiled(classify_compile(&out, &target)));
                }
                stderr = out.stderr.clone();
                let class = classify_resolution(&out, &notes);
                Ok(class.map_or_else(
                    || Step::Compiled(classify_compile(&out, &target)),
                    Step::Unresolved,
                ))
            })?,
            None => self.retrying(|| {
                let mut cmd = self.env.command(dir, worker);
                cmd.arg("generate-lockfile");
                let out = cargo::run(cmd, self.limit(), dir)?;
                stderr = out.stderr.clone();
                Ok(classify_resolution(&out, &notes).map_or(Step::Resolved, Step::Unresolved))
            })?,
        };
        result.attempts = attempts;
        let class = match step {
            Step::Unresolved(class) => {
                if matches!(class, Class::Unresolvable { reason: Unresolvable::AllYanked, .. })
                    && self.opts.stage == Stage::Compile
                {
                    result.look_through =
                        self.look_through(entry, worker, dir, &result.index_notes, &stderr)?;
                    // Behind the yank the crate's own code (or a dependency) fails: which
                    // dependency release did it, with the yanked versions kept as they are.
                    if let Some(look) = &result.look_through {
                        let behind = matches!(
                            look.class,
                            Class::OwnCode { .. } | Class::DependencyBroken { .. }
                        );
                        if self.opts.culprit && behind {
                            let today = std::fs::read_to_string(&lock_path)
                                .map_err(io("read", &lock_path))?;
                            result.culprit = Some(culprit::search(
                                self,
                                entry,
                                &today,
                                &look.seeded,
                                &look.class.label(),
                                worker,
                                dir,
                            )?);
                        }
                    }
                }
                result.class = class;
                return Ok(());
            }
            Step::Resolved => {
                result.lockfile = std::fs::read_to_string(&lock_path).ok();
                if self.opts.stage == Stage::Resolve {
                    result.class = Class::Resolves;
                    return Ok(());
                }
                let (class, attempts) = self.retrying(|| self.check(dir, worker, &target, true))?;
                result.attempts = attempts;
                class
            }
            Step::Compiled(class) => {
                result.lockfile = std::fs::read_to_string(&lock_path).ok();
                class
            }
        };
        result.stage = Stage::Compile;
        result.class = class;
        if self.opts.culprit && matches!(result.class, Class::OwnCode { .. }) {
            let today = std::fs::read_to_string(&lock_path).map_err(io("read", &lock_path))?;
            result.culprit = Some(culprit::search(
                self,
                entry,
                &today,
                &[],
                &result.class.label(),
                worker,
                dir,
            )?);
        }
        Ok(())
    }

    /// Runs `cargo check --message-format=json` in `dir`.
    fn check_outcome(&self, dir: &Path, worker: usize, locked: bool) -> Result<Outcome> {
        let mut cmd = self.env.command(dir, worker);
        cmd.args(["check", "--message-format=json", "-j", &self.env.build_jobs.max(1).to_string()]);
        if locked {
            cmd.arg("--locked");
        }
        cargo::run(cmd, self.limit(), dir)
    }

    /// `cargo check --message-format=json` in `dir`, classified for `target` (`name@version`).
    pub(crate) fn check(
        &self,
        dir: &Path,
        worker: usize,
        target: &str,
        locked: bool,
    ) -> Result<Class> {
        let out = self.check_outcome(dir, worker, locked)?;
        Ok(classify_compile(&out, target))
    }

    /// Runs `attempt` again while it reports a spurious failure, up to the retry budget and
    /// within the probe's time limit.
    pub(crate) fn retrying<T: Spurly>(
        &self,
        mut attempt: impl FnMut() -> Result<T>,
    ) -> Result<(T, u32)> {
        let mut n = 0;
        loop {
            n += 1;
            let got = attempt()?;
            if !got.is_spurious() || n > self.opts.retries || self.expired() {
                return Ok((got, n));
            }
        }
    }

    /// Seeds the newest yanked version of each all-yanked requirement and compiles anyway.
    fn look_through(
        &self,
        entry: &IndexEntry,
        worker: usize,
        dir: &Path,
        notes: &[IndexNote],
        stderr: &str,
    ) -> Result<Option<LookThrough>> {
        // Direct requirements from the index, plus those cargo's errors name (deeper in the
        // graph): each round seeds what is known and compiles; a resolution error that names
        // another all-yanked requirement adds it for the next round.
        const ROUNDS: usize = 4;
        let mut wanted: Vec<(String, String)> = notes
            .iter()
            .filter_map(|n| match n {
                IndexNote::AllYanked { dependency, req, .. } => {
                    Some((dependency.clone(), req.clone()))
                }
                _ => None,
            })
            .collect();
        if let Some(found) = yanked_requirement(stderr) {
            if !wanted.contains(&found) {
                wanted.push(found);
            }
        }
        let target = format!("{}@{}", entry.name, entry.vers);
        let mut round = 0;
        loop {
            round += 1;
            let mut seed = vec![self.locked(entry)];
            let mut seeded = Vec::new();
            for (dependency, req) in &wanted {
                let Ok(req) = semver::VersionReq::parse(req) else { continue };
                let versions = self.index.versions(dependency)?;
                let best = versions
                    .iter()
                    .filter(|v| req.matches(&v.vers))
                    .max_by(|a, b| a.vers.cmp(&b.vers));
                let Some(best) = best else { continue };
                let id = format!("{}@{}", best.name, best.vers);
                if !seeded.contains(&id) {
                    seeded.push(id);
                    seed.push(self.locked(best));
                }
            }
            if seeded.is_empty() {
                return Ok(None);
            }
            cargo::write_seed_lock(&dir.join("Cargo.lock"), &seed)?;
            let (out, _) = self.retrying(|| {
                let out = self.check_outcome(dir, worker, false)?;
                let class = classify_compile(&out, &target);
                Ok(LookOutcome { spurious: class.is_spurious(), out, class })
            })?;
            // Blocked again, deeper: another requirement whose every version is yanked.
            let deeper = yanked_requirement(&out.out.stderr).filter(|f| !wanted.contains(f));
            match deeper {
                Some(found) if round < ROUNDS && !out.out.success => wanted.push(found),
                _ => return Ok(Some(LookThrough { seeded, class: out.class })),
            }
        }
    }

    /// The lockfile entry for an index entry of this registry.
    pub(crate) fn locked(&self, entry: &IndexEntry) -> LockedPackage {
        LockedPackage {
            name: entry.name.clone(),
            version: entry.vers.clone(),
            source: Some(self.lock_source()),
            checksum: Some(entry.cksum.clone()),
        }
    }

    fn lock_source(&self) -> String {
        // Alternate registries are recorded by their index URL; crates.io (replaced or not) by
        // its canonical id.
        match (&self.opts.registry, self.index.source()) {
            (Some(_), crate::index::RegistrySource::Sparse(url)) => format!("sparse+{url}"),
            (Some(_), crate::index::RegistrySource::GitFile(p)) => {
                format!("registry+file://{}", p.display())
            }
            _ => CRATES_IO_LOCK_SOURCE.to_owned(),
        }
    }
}

/// One compile of the look-through, with cargo's output (a resolution error in it names a
/// deeper all-yanked requirement).
struct LookOutcome {
    out: Outcome,
    class: Class,
    spurious: bool,
}

impl Spurly for LookOutcome {
    fn is_spurious(&self) -> bool {
        self.spurious
    }
}

/// Where resolution left a probe.
enum Step {
    /// A lockfile was resolved; nothing compiled yet.
    Resolved,
    /// Resolution failed.
    Unresolved(Class),
    /// `cargo check` resolved and compiled.
    Compiled(Class),
}

impl Spurly for Step {
    fn is_spurious(&self) -> bool {
        match self {
            Step::Resolved => false,
            Step::Unresolved(c) | Step::Compiled(c) => c.is_spurious(),
        }
    }
}

/// The outcome the index alone proves, with no cargo run: no version at all matches a
/// requirement every fresh consumer needs (cargo cannot resolve), or the version declares a
/// `rust-version` above the toolchain (cargo refuses to build it). All-yanked requirements
/// still need cargo, for the look-through.
pub(crate) fn index_decided(notes: &[IndexNote]) -> Option<Class> {
    let decisive = notes
        .iter()
        .any(|n| matches!(n, IndexNote::Missing { .. } | IndexNote::RustVersion { .. }));
    let yanked = notes.iter().any(|n| matches!(n, IndexNote::AllYanked { .. }));
    if !decisive || yanked {
        return None;
    }
    Some(index_only_class(notes))
}

/// Results that can be spurious (and so retried).
pub(crate) trait Spurly {
    /// Whether a retry may change the outcome.
    fn is_spurious(&self) -> bool;
}

impl Spurly for Class {
    fn is_spurious(&self) -> bool {
        matches!(self, Class::Spurious { .. })
    }
}

impl Spurly for Option<Class> {
    fn is_spurious(&self) -> bool {
        self.as_ref().is_some_and(Spurly::is_spurious)
    }
}

/// A scratch folder for one probe.
pub(crate) fn scratch_dir(env: &CargoEnv, entry: &IndexEntry) -> Result<PathBuf> {
    std::fs::create_dir_all(&env.scratch_root).map_err(io("create", &env.scratch_root))?;
    let dir = tempfile::Builder::new()
        .prefix(&format!("{}-{}-", entry.name, entry.vers))
        .tempdir_in(&env.scratch_root)
        .map_err(io("create a scratch folder in", &env.scratch_root))?;
    Ok(dir.keep())
}

fn index_only_class(notes: &[IndexNote]) -> Class {
    for note in notes {
        match note {
            IndexNote::AllYanked { dependency, req, .. } => {
                return Class::Unresolvable {
                    reason: Unresolvable::AllYanked,
                    detail: format!("every version of {dependency} matching {req} is yanked"),
                };
            }
            IndexNote::Missing { dependency, req } => {
                return Class::Unresolvable {
                    reason: Unresolvable::Missing,
                    detail: format!("no version of {dependency} matches {req}"),
                };
            }
            IndexNote::RustVersion { rust_version } => {
                return Class::Unresolvable {
                    reason: Unresolvable::Msrv,
                    detail: format!("needs rust {rust_version}"),
                };
            }
            IndexNote::UpperBound { .. } => {}
        }
    }
    Class::IndexClean
}

fn spurious_kind(out: &Outcome) -> Option<Spurious> {
    if out.timed_out {
        return Some(Spurious::Timeout);
    }
    let e = &out.stderr;
    if e.contains("memory allocation of") || e.contains("out of memory") || e.contains("SIGKILL") {
        return Some(Spurious::Oom);
    }
    if e.contains("No space left on device") {
        return Some(Spurious::NoSpace);
    }
    if e.contains("internal compiler error") {
        return Some(Spurious::Ice);
    }
    let network = [
        "Couldn't resolve host",
        "spurious network error",
        "failed to get successful HTTP response",
        "Connection refused",
    ];
    if network.iter().any(|n| e.contains(n)) {
        return Some(Spurious::Network);
    }
    None
}

/// The requirement cargo could not meet because of yanks:
/// ``failed to select a version for the requirement `b = "^2"` `` followed by
/// `version 2.0.0 is yanked` lines.
fn yanked_requirement(stderr: &str) -> Option<(String, String)> {
    if !stderr.contains("is yanked") {
        return None;
    }
    let (_, rest) = stderr.split_once("failed to select a version for the requirement `")?;
    let (requirement, _) = rest.split_once('`')?;
    let (name, req) = requirement.split_once(" = ")?;
    Some((name.trim().to_owned(), req.trim().trim_matches('"').to_owned()))
}

/// `None` when resolution succeeded.
fn classify_resolution(out: &Outcome, notes: &[IndexNote]) -> Option<Class> {
    if out.success {
        return None;
    }
    let detail = cargo::tail(&out.stderr, 12);
    if let Some(kind) = spurious_kind(out) {
        return Some(Class::Spurious { kind, detail });
    }
    let e = &out.stderr;
    let all_yanked = notes.iter().any(|n| matches!(n, IndexNote::AllYanked { .. }));
    let reason = if e.contains("is yanked") || all_yanked {
        Unresolvable::AllYanked
    } else if e.contains("rust-version") || e.contains("requires rustc") {
        Unresolvable::Msrv
    } else if e.contains("no matching package")
        || e.contains("failed to select a version") && !e.contains("links")
    {
        if notes.iter().any(|n| matches!(n, IndexNote::Missing { .. }))
            || e.contains("no matching package")
        {
            Unresolvable::Missing
        } else {
            Unresolvable::Conflict
        }
    } else {
        Unresolvable::Conflict
    };
    Some(Class::Unresolvable { reason, detail })
}

fn classify_compile(out: &Outcome, target: &str) -> Class {
    if out.success {
        return Class::Builds;
    }
    let detail = cargo::tail(&out.stderr, 15);
    if let Some(kind) = spurious_kind(out) {
        return Class::Spurious { kind, detail };
    }
    if out.stderr.contains("is not supported by the following package") {
        return Class::Unresolvable { reason: Unresolvable::Msrv, detail };
    }
    let diags = cargo::parse_messages(&out.stdout);
    let (own, other): (Vec<_>, Vec<_>) = diags.into_iter().partition(|d| d.package == target);
    if !own.is_empty() {
        return Class::OwnCode { errors: own };
    }
    if let Some(package) = cargo::failed_build_scripts(&out.stderr).into_iter().next() {
        return Class::Environment { package, detail };
    }
    if let Some(first) = other.first() {
        let package = first.package.clone();
        let errors = other.into_iter().filter(|d| d.package == package).collect();
        return Class::DependencyBroken { package, errors };
    }
    Class::Unknown { detail }
}

/// Parses `1.85` or `1.85.0` as a version.
pub(crate) fn parse_loose(text: &str) -> Option<semver::Version> {
    let parts: Vec<_> = text.trim().split('.').collect();
    let num = |i: usize| parts.get(i).map_or(Some(0), |p| p.parse().ok());
    Some(semver::Version::new(num(0)?, num(1)?, num(2)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(success: bool, stdout: &str, stderr: &str) -> Outcome {
        Outcome { success, timed_out: false, stdout: stdout.to_owned(), stderr: stderr.to_owned() }
    }

    #[test]
    fn compile_failures_are_classified() {
        let own = r#"{"reason":"compiler-message","package_id":"registry+https://github.com/rust-lang/crates.io-index#a@1.0.0","message":{"level":"error","message":"mismatched types","code":{"code":"E0308"},"spans":[{"is_primary":true,"file_name":"/h/registry/src/x/a-1.0.0/src/lib.rs","line_start":2,"column_start":5}]}}"#;
        let cases = [
            (out(true, "", ""), "builds"),
            (out(false, own, ""), "own-code"),
            (out(false, &own.replace("#a@", "#b@"), ""), "depends-on/b@1.0.0"),
            (
                out(false, "", "error: failed to run custom build command for `s v1.0.0`"),
                "environment",
            ),
            (out(false, "", "No space left on device"), "spurious/no-space"),
            (Outcome { timed_out: true, ..out(false, "", "") }, "spurious/timeout"),
            (out(false, "", "weird"), "unknown"),
        ];
        for (o, want) in cases {
            assert_eq!(classify_compile(&o, "a@1.0.0").label(), want, "{o:?}");
        }
        let Class::OwnCode { errors } = classify_compile(&out(false, own, ""), "a@1.0.0") else {
            panic!("not own code")
        };
        assert_eq!(errors[0].location.as_deref(), Some("src/lib.rs:2:5"));
        assert_eq!(errors[0].code.as_deref(), Some("E0308"));
    }

    #[test]
    fn yanked_requirements_are_read_from_cargo() {
        let stderr = "error: failed to select a version for the requirement `sb-dep = \"^2\"`\n  version 2.0.0 is yanked\n";
        assert_eq!(yanked_requirement(stderr), Some(("sb-dep".to_owned(), "^2".to_owned())));
        assert_eq!(
            yanked_requirement(
                "error: failed to select a version for the requirement `x = \"^2\"`"
            ),
            None
        );
    }

    #[test]
    fn feature_sets_parse_and_print() {
        let sets = FeatureSet::parse_list("default, all,none,docsrs,serde+std,all").unwrap();
        let shown: Vec<String> = sets.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["default", "all", "none", "docsrs", "serde+std"], "in order, once");
        assert_eq!(sets[4], FeatureSet::List(vec!["serde".to_owned(), "std".to_owned()]));
        for bad in ["", "a,,b", "a+", "a b"] {
            assert!(
                matches!(FeatureSet::parse_list(bad), Err(crate::error::Error::InvalidFeatures(_))),
                "{bad}"
            );
        }
        let json = serde_json::to_string(&FeatureSet::DocsRs).unwrap();
        assert_eq!(json, "\"docsrs\"");
        assert_eq!(serde_json::from_str::<FeatureSet>(&json).unwrap(), FeatureSet::DocsRs);
    }

    #[test]
    fn all_features_are_the_tables_and_unhidden_optional_dependencies() {
        let line = r#"{"name":"a","vers":"1.0.0","cksum":"00","deps":[
            {"name":"x","req":"^1","optional":true},{"name":"y","req":"^1","optional":true},
            {"name":"z","req":"^1"}],
            "features":{"std":[],"default":["std"]},"features2":{"fast":["dep:y"]}}"#;
        let entry: IndexEntry = serde_json::from_str(&line.replace('\n', "")).unwrap();
        // `y` is hidden by `dep:y`; `x` keeps its implicit feature; `z` is not optional.
        assert_eq!(all_features(&entry), ["default", "fast", "std", "x"]);
    }

    #[test]
    fn loose_versions() {
        assert_eq!(parse_loose("1.85"), Some(semver::Version::new(1, 85, 0)));
        assert_eq!(parse_loose("x"), None);
    }
}
