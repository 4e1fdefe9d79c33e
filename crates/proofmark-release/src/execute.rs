//! Executing a release plan: write, commit, gate, publish, tag, push — resumably.
//!
//! # Steps, in order
//!
//! | step | does | reconciled with reality by |
//! |---|---|---|
//! | `edit` | writes every file of the plan (atomically per file) | every file already has its new contents |
//! | `commit` | one release commit, `chore(release): a@1.0.0, b@2.0.0` + `Release-Id:` trailer | `HEAD` carries the trailer and its parent is the base |
//! | `gate` | the readiness gate on the release commit (records each `.crate`'s SHA-256) | — (read-only, rerun) |
//! | `publish:<crate>` | `cargo publish` of one dependency level at a time | the version is in the registry index (with the gate's checksum) |
//! | `wait:<crate>` | polls the index with backoff until the version is visible | same |
//! | `tag:<crate>` | annotated tag on the release commit, message = the changelog section | the tag exists and points at the release commit |
//! | `notes` | `manifest.json` and release notes into the output folder | — (rewritten) |
//! | `push` | with `--push-remote`: the branch and every tag, atomically, after all publishes | — (`git push` of up-to-date refs does nothing) |
//!
//! Tags are created and pushed only after every crate is published: tags start other
//! people's release processes (Parsec retrospective), and a tag for a version that never
//! reached the registry is the drift Fedora reported.
//!
//! # Journal
//!
//! `<git-dir>/proofmark-release/journal.jsonl`, one JSON object per line, appended and fsync'd
//! before and after each step: `plan` (the prepared release: versions, tags, file contents),
//! then `begin`, `performed` or `reconciled` per step. `--resume` reads it and runs the same
//! steps; a step with a `performed`/`reconciled` record is skipped, any other is first
//! reconciled with reality and only performed when reality says it has not happened. When the
//! release is finished the journal is renamed to `<release-id>.jsonl`.
//!
//! # Progress
//!
//! Packaging, semver checks, publishes, index polls and rate-limit waits take seconds to
//! minutes. [`ExecuteOptions::progress`] receives a [`Progress`] event when each starts and
//! ends (and when a run waits for a registry's "try again after"); drawing them is the
//! caller's job.
//!
//! # Waiting for the registry
//!
//! cargo since 1.66 waits after `cargo publish` until the version is in the index
//! (`publish.timeout`, 60 s by default). The executor polls the index itself anyway, because
//! a resumed run must know whether a publish happened, and because cargo's wait gives up
//! silently after its timeout.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use semver::Version;
use serde::{Deserialize, Serialize};

use crate::Date;
use crate::changelog;
use crate::config::ReleaseConfig;
use crate::error::{Error, Result};
use crate::history::Repo;
use crate::plan::{Edit, ReleasePlan};
use crate::process;
use crate::readiness::{self, PackageOptions, Readiness, Scope, Target};
use crate::registry::Index;
use crate::tags::{ReleaseTag, TagTemplate};
use crate::workspace::Workspace;

/// What a long-running check or release step is doing, for a progress display. The library
/// only reports; the binary draws (a spinner on a terminal, one line per step in a log).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Progress {
    /// A step started: its id (`package`, `semver:a`, `publish:a`, `wait:a`, …) and what it does.
    Started {
        /// The step id.
        step: String,
        /// What it does, in words.
        what: String,
    },
    /// A step finished.
    Finished {
        /// The step id.
        step: String,
    },
    /// Waiting for the registry's "try again after" (HTTP 429) before publishing again.
    Waiting {
        /// The step that waits.
        step: String,
        /// Until when, in Unix seconds.
        until: u64,
    },
}

/// Receives [`Progress`] reports; the default ignores them.
#[derive(Clone, Default)]
pub struct ProgressSink(Option<std::sync::Arc<Report>>);

/// The function a [`ProgressSink`] calls.
type Report = dyn Fn(&Progress) + Send + Sync;

impl ProgressSink {
    /// A sink calling `report` for every event.
    pub fn new(report: impl Fn(&Progress) + Send + Sync + 'static) -> Self {
        Self(Some(std::sync::Arc::new(report)))
    }

    fn started(&self, step: &str, what: impl Into<String>) {
        if let Some(report) = &self.0 {
            report(&Progress::Started { step: step.to_owned(), what: what.into() });
        }
    }

    fn finished(&self, step: &str) {
        if let Some(report) = &self.0 {
            report(&Progress::Finished { step: step.to_owned() });
        }
    }

    fn waiting(&self, step: &str, until: u64) {
        if let Some(report) = &self.0 {
            report(&Progress::Waiting { step: step.to_owned(), until });
        }
    }
}

impl std::fmt::Debug for ProgressSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "ProgressSink(..)" } else { "ProgressSink(none)" })
    }
}

/// How a release is executed.
#[derive(Clone, Debug, Default)]
pub struct ExecuteOptions {
    /// `cargo publish --registry NAME` (and the index to poll, from cargo's configuration).
    pub registry: Option<String>,
    /// `cargo publish --index URL` when no registry name is given; also overrides the index
    /// that is polled.
    pub index: Option<String>,
    /// Push the release commit and tags to this remote at the end (`None`: do not push).
    pub push_remote: Option<String>,
    /// Where the manifest and release notes go (default `<root>/target/release`).
    pub out_dir: Option<PathBuf>,
    /// Package without building (`cargo package --no-verify`).
    pub no_verify: bool,
    /// Pass `--offline` to cargo where it builds (check mode).
    pub offline: bool,
    /// Do not ask cargo-semver-checks whether the declared bumps match the API changes
    /// (by default the gate does when it is installed; it builds each crate's docs twice).
    pub skip_semver_checks: bool,
    /// Fault injection: stop with [`Error::Interrupted`] right after this step's action and
    /// before its completion is journaled (the worst moment for a crash).
    pub fail_after: Option<String>,
    /// How long to wait for a version to appear in the index.
    pub publish_timeout: Option<Duration>,
    /// Run cargo with this `CARGO_HOME` (where the registry and its token are configured).
    pub cargo_home: Option<PathBuf>,
    /// `proofmark.toml` (or another release tool's config).
    pub config: ReleaseConfig,
    /// Today, for the date train check.
    pub today: Option<Date>,
    /// Where progress of the long steps goes.
    pub progress: ProgressSink,
}

/// One crate of a prepared release.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    /// The crate.
    pub name: String,
    /// The version released.
    pub version: Version,
    /// The tag.
    pub tag: String,
    /// The publish level.
    pub level: usize,
    /// The changelog file, relative to the root.
    pub changelog_path: String,
    /// The section of `version` as the file will contain it (hand edits included).
    pub section: String,
    /// `rust-version`.
    pub rust_version: Option<String>,
    /// Whether the crate was never released (a new crate for the registry's rate limits).
    #[serde(default)]
    pub first_release: bool,
    /// The tag of the release before this one (cargo-semver-checks' baseline), if any.
    #[serde(default)]
    pub previous_tag: Option<String>,
}

/// A file's contents after the release edits.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileWrite {
    /// Relative to the workspace root.
    pub path: String,
    /// The whole new text.
    pub contents: String,
}

/// A release ready to execute: what the journal's first record holds, so a resumed run acts
/// on exactly what was planned, not on a plan recomputed from a changed repository.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prepared {
    /// `<base short id>-<first crate>-<version>`, also the commit trailer `Release-Id`.
    pub id: String,
    /// `HEAD` before the release commit.
    pub base: String,
    /// The branch released from.
    pub branch: String,
    /// The release commit's message.
    pub message: String,
    /// The crates, in publish order.
    pub items: Vec<Item>,
    /// The files to write.
    pub files: Vec<FileWrite>,
}

/// What a run did.
#[derive(Clone, Debug, Serialize)]
pub struct Outcome {
    /// The release (`None`: nothing to release).
    pub prepared: Option<Prepared>,
    /// The release commit.
    pub commit: Option<String>,
    /// The journal file (renamed to `<id>.jsonl` when finished).
    pub journal: Option<PathBuf>,
    /// The manifest written.
    pub manifest: Option<PathBuf>,
    /// Steps performed in this run.
    pub performed: Vec<String>,
    /// Steps found already done in this run (journal or reality).
    pub reconciled: Vec<String>,
}

impl Outcome {
    /// A short report.
    pub fn to_human(&self) -> String {
        let Some(prepared) = &self.prepared else { return "Nothing to release.\n".to_owned() };
        let mut out = String::new();
        let _ = writeln!(out, "Release {} finished.", prepared.id);
        for item in &prepared.items {
            let _ = writeln!(out, "  {} {} (tag {})", item.name, item.version, item.tag);
        }
        if let Some(commit) = &self.commit {
            let _ = writeln!(out, "commit {commit}");
        }
        let _ = writeln!(out, "performed: {}", self.performed.join(", "));
        if !self.reconciled.is_empty() {
            let _ = writeln!(out, "already done: {}", self.reconciled.join(", "));
        }
        if let Some(manifest) = &self.manifest {
            let _ = writeln!(out, "manifest: {}", manifest.display());
        }
        out
    }
}

/// A line of the journal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// `plan`, `begin`, `performed`, `reconciled`.
    pub event: String,
    /// The step id (empty for `plan`).
    pub step: String,
    /// Unix time of the record, in seconds.
    #[serde(default)]
    pub at: u64,
    /// Step data: the commit id, a checksum, the prepared release.
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub detail: serde_json::Value,
}

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// The folder of journals: `<git-dir>/proofmark-release`.
pub fn journal_dir(root: &Path) -> Result<PathBuf> {
    let git_dir = process::git(root, ["rev-parse", "--absolute-git-dir"])?;
    Ok(PathBuf::from(git_dir.trim()).join("proofmark-release"))
}

/// Reads a journal.
pub fn read_journal(path: &Path) -> Result<Vec<Record>> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| Error::Read { path: path.to_owned(), source })?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str(l)
                .map_err(|e| Error::Journal { path: path.to_owned(), reason: e.to_string() })
        })
        .collect()
}

struct Journal {
    path: PathBuf,
    records: Vec<Record>,
}

impl Journal {
    fn append(&mut self, event: &str, step: &str, detail: serde_json::Value) -> Result<()> {
        let at = unix_now();
        let record = Record { event: event.to_owned(), step: step.to_owned(), at, detail };
        let err = |source| Error::Write { path: self.path.clone(), source };
        let mut file =
            std::fs::OpenOptions::new().create(true).append(true).open(&self.path).map_err(err)?;
        let line = serde_json::to_string(&record).unwrap_or_default();
        file.write_all(format!("{line}\n").as_bytes()).map_err(err)?;
        // The record must be on disk before the next action: it is what a resume trusts.
        file.sync_all().map_err(err)?;
        self.records.push(record);
        Ok(())
    }

    fn done(&self, step: &str) -> Option<&Record> {
        self.records
            .iter()
            .find(|r| r.step == step && (r.event == "performed" || r.event == "reconciled"))
    }
}

/// The release edits applied in memory to the current files.
pub fn prepare(root: &Path, plan: &ReleasePlan, workspace: &Workspace) -> Result<Prepared> {
    let mut contents: BTreeMap<String, String> = BTreeMap::new();
    let read = |path: &str| -> Result<Option<String>> {
        match std::fs::read_to_string(root.join(path)) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(Error::Read { path: root.join(path), source }),
        }
    };
    let mut items = Vec::new();
    for release in &plan.releases {
        for file in &release.files {
            let current = match contents.get(&file.path) {
                Some(text) => Some(text.clone()),
                None => read(&file.path)?,
            };
            let next =
                match &file.edit {
                    Edit::Changelog { .. } => match &release.section {
                        Some(section) => changelog::update(current.as_deref(), section),
                        None => continue,
                    },
                    edit => apply_edit(current.as_deref().unwrap_or_default(), edit).ok_or_else(
                        || Error::Config {
                            path: root.join(&file.path),
                            reason: format!("cannot apply the release edit: {}", file.change),
                        },
                    )?,
                };
            contents.insert(file.path.clone(), next);
        }
        let changelog_text = contents.get(&release.changelog_path).cloned().unwrap_or_default();
        let section = changelog::section_text(&changelog_text, &release.next_version)
            .unwrap_or_else(|| release.changelog.clone());
        items.push(Item {
            name: release.name.clone(),
            version: release.next_version.clone(),
            tag: release.tag.clone(),
            level: release.level,
            changelog_path: release.changelog_path.clone(),
            section,
            rust_version: workspace.package(&release.name).and_then(|p| p.rust_version.clone()),
            first_release: release.last_release.is_none(),
            previous_tag: release.last_release.as_ref().map(|l| l.tag.clone()),
        });
    }
    let base = plan.head.clone().unwrap_or_default();
    let first = items.first().map(|i| format!("{}-{}", i.name, i.version)).unwrap_or_default();
    let id = format!("{}-{first}", &base[..base.len().min(7)]);
    let list: Vec<String> = items.iter().map(|i| format!("{}@{}", i.name, i.version)).collect();
    let mut message = format!("chore(release): {}\n\n", list.join(", "));
    for item in &items {
        let _ = writeln!(message, "- {} {} (tag {})", item.name, item.version, item.tag);
    }
    let _ = write!(message, "\nRelease-Id: {id}\n");
    let branch = process::git(root, ["symbolic-ref", "--short", "-q", "HEAD"])
        .map(|b| b.trim().to_owned())
        .unwrap_or_default();
    Ok(Prepared {
        id,
        base,
        branch,
        message,
        items,
        files: contents.into_iter().map(|(path, contents)| FileWrite { path, contents }).collect(),
    })
}

/// Applies one manifest edit to the text of a `Cargo.toml`, keeping every other byte;
/// `None` when the key to change is not found.
pub fn apply_edit(text: &str, edit: &Edit) -> Option<String> {
    let mut lines: Vec<String> = text.split_inclusive('\n').map(str::to_owned).collect();
    let mut table = String::new();
    let mut changed = false;
    for line in &mut lines {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            table = trimmed.split('#').next().unwrap_or_default().trim().to_owned();
            continue;
        }
        let key = trimmed.split('=').next().unwrap_or_default().trim().replace(' ', "");
        let hit = match edit {
            Edit::PackageVersion { to } if table == "[package]" && key == "version" => {
                replace_string_value(line, to)
            }
            Edit::WorkspaceVersion { to } if table == "[workspace.package]" && key == "version" => {
                replace_string_value(line, to)
            }
            Edit::OwnVersion { to }
                if table == "[package]"
                    && (key == "version.workspace"
                        || (key == "version" && trimmed.contains("workspace"))) =>
            {
                let indent: String = line.chars().take_while(|c| c.is_whitespace()).collect();
                let ending = if line.ends_with('\n') { "\n" } else { "" };
                Some(format!("{indent}version = \"{to}\"{ending}"))
            }
            Edit::Requirement { table: wanted, dependency, to } => {
                let sub = format!("[{}.{dependency}]", wanted.trim_matches(['[', ']']));
                if table == *wanted
                    && (key == *dependency || key == format!("{dependency}.version"))
                {
                    if trimmed.contains('{') {
                        replace_keyed_version(line, to)
                    } else {
                        replace_string_value(line, to)
                    }
                } else if table == sub && key == "version" {
                    replace_string_value(line, to)
                } else {
                    None
                }
            }
            _ => None,
        };
        if let Some(new) = hit {
            *line = new;
            changed = true;
        }
    }
    changed.then(|| lines.concat())
}

/// `key = "old"` → `key = "to"`.
fn replace_string_value(line: &str, to: &Version) -> Option<String> {
    let eq = line.find('=')?;
    let open = eq + line[eq..].find('"')?;
    let close = open + 1 + line[open + 1..].find('"')?;
    Some(format!("{}\"{to}\"{}", &line[..open], &line[close + 1..]))
}

/// `{ …, version = "old", … }` → `{ …, version = "to", … }`.
fn replace_keyed_version(line: &str, to: &Version) -> Option<String> {
    let mut search = 0;
    while let Some(offset) = line[search..].find("version") {
        let at = search + offset;
        let before_ok = at == 0 || matches!(line.as_bytes()[at - 1], b' ' | b'{' | b',');
        let rest = line[at + "version".len()..].trim_start();
        if before_ok && rest.starts_with('=') {
            let open = at + line[at..].find('"')?;
            let close = open + 1 + line[open + 1..].find('"')?;
            return Some(format!("{}\"{to}\"{}", &line[..open], &line[close + 1..]));
        }
        search = at + 1;
    }
    None
}

fn targets(prepared: &Prepared) -> Vec<Target> {
    prepared
        .items
        .iter()
        .map(|i| Target {
            name: i.name.clone(),
            version: i.version.clone(),
            rust_version: i.rust_version.clone(),
        })
        .collect()
}

/// `(crate, tag of its previous release)` for every released crate that has one.
fn baselines(prepared: &Prepared) -> Vec<(String, Option<String>)> {
    prepared.items.iter().map(|i| (i.name.clone(), i.previous_tag.clone())).collect()
}

fn family(workspace: &Workspace) -> Vec<String> {
    workspace.published().map(|p| p.name.clone()).collect()
}

/// `release check`: the repository checks, the scope, and the package checks on a preview
/// of the release commit (a temporary `git worktree` of `HEAD` with the release edits
/// applied), so the `.crate` checked is the one the release would publish.
pub fn check(root: &Path, prepared: &Prepared, options: &ExecuteOptions) -> Result<Readiness> {
    let workspace = Workspace::load(root)?;
    let mut checks = readiness::check_repository(root, &options.config)?;
    checks.push(readiness::check_history(root, &baselines(prepared))?);
    let today = options.today.unwrap_or_else(Date::today_utc);
    checks.extend(Scope::compute(root, &options.config, today)?.checks());
    let dir = journal_dir(root)?;
    let preview = dir.join(format!("preview-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|source| Error::Write { path: dir.clone(), source })?;
    let preview_arg = preview.display().to_string();
    process::git(root, ["worktree", "add", "--detach", "--force", &preview_arg, "HEAD"])?;
    let result = (|| {
        for file in &prepared.files {
            process::write_atomic(&preview.join(&file.path), file.contents.as_bytes())?;
        }
        let package = PackageOptions {
            no_verify: options.no_verify,
            offline: options.offline,
            allow_dirty: true,
            registry: options.registry.clone(),
            // The preview shares the repository's build cache; a CARGO_TARGET_DIR the user
            // set wins, as cargo itself would let it.
            target_dir: std::env::var_os("CARGO_TARGET_DIR")
                .is_none()
                .then(|| workspace.root.join("target")),
            cargo_home: options.cargo_home.clone(),
        };
        let names: Vec<&str> = prepared.items.iter().map(|i| i.name.as_str()).collect();
        if !names.is_empty() {
            let what = format!("cargo package -p {}", names.join(" -p "));
            options.progress.started("package", what);
        }
        let mut readiness = readiness::check_packages(
            &preview,
            &targets(prepared),
            &family(&workspace),
            &options.config,
            &package,
        )?;
        if !names.is_empty() {
            options.progress.finished("package");
        }
        if options.skip_semver_checks {
            readiness.checks.push(readiness::Check {
                id: "semver",
                krate: None,
                status: readiness::Status::Warn,
                message: "skipped (--skip-semver-checks): the declared bumps were not checked \
                          against the API"
                    .to_owned(),
            });
        } else {
            let mut current: Option<String> = None;
            let mut report = |name: &str| {
                if let Some(done) = current.take() {
                    options.progress.finished(&done);
                }
                let step = format!("semver:{name}");
                options.progress.started(&step, format!("cargo semver-checks on {name}"));
                current = Some(step);
            };
            readiness.checks.extend(readiness::check_semver(
                &preview,
                &baselines(prepared),
                &package,
                &mut report,
            ));
            if let Some(done) = current {
                options.progress.finished(&done);
            }
        }
        Ok(readiness)
    })();
    let _ = process::git(root, ["worktree", "remove", "--force", &preview_arg]);
    let mut readiness = result?;
    checks.append(&mut readiness.checks);
    checks.push(rate_limit_check(prepared));
    readiness.checks = checks;
    Ok(readiness)
}

/// `rate-limit`: how long crates.io's publish limits would make this release wait. Offline:
/// "new crate" means never tagged here, which is what the plan knows.
fn rate_limit_check(prepared: &Prepared) -> readiness::Check {
    let new_crates = prepared.items.iter().filter(|i| i.first_release).count();
    let new_versions = prepared.items.len() - new_crates;
    let wait = crate::registry::crates_io_estimate(new_crates, new_versions);
    let counts = format!("{new_crates} new crate(s), {new_versions} new version(s)");
    if wait.is_zero() {
        readiness::Check {
            id: "rate-limit",
            krate: None,
            status: readiness::Status::Pass,
            message: format!("on crates.io: {counts}, within the burst limits (no wait)"),
        }
    } else {
        readiness::Check {
            id: "rate-limit",
            krate: None,
            status: readiness::Status::Warn,
            message: format!(
                "on crates.io: {counts}: at least {} min of rate-limit waits; --resume after \
                 each HTTP 429",
                wait.as_secs().div_ceil(60)
            ),
        }
    }
}

/// The path of the unfinished journal.
pub fn journal_path(root: &Path) -> Result<PathBuf> {
    Ok(journal_dir(root)?.join("journal.jsonl"))
}

/// `release --execute`: prepares the plan, runs the gate on a preview, then every step.
pub fn execute(root: &Path, plan: &ReleasePlan, options: &ExecuteOptions) -> Result<Outcome> {
    let path = journal_path(root)?;
    if path.exists() {
        return Err(Error::InProgress { path });
    }
    if plan.releases.is_empty() {
        return Ok(Outcome {
            prepared: None,
            commit: None,
            journal: None,
            manifest: None,
            performed: Vec::new(),
            reconciled: Vec::new(),
        });
    }
    let workspace = Workspace::load(root)?;
    let prepared = prepare(root, plan, &workspace)?;
    check(root, &prepared, options)?.into_result()?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| Error::Write { path: dir.into(), source })?;
    }
    let mut journal = Journal { path, records: Vec::new() };
    journal.append("plan", "", serde_json::to_value(&prepared).unwrap_or_default())?;
    run(root, &prepared, &mut journal, options)
}

/// `release --resume`: finishes the release recorded in the unfinished journal.
pub fn resume(root: &Path, options: &ExecuteOptions) -> Result<Outcome> {
    let path = journal_path(root)?;
    if !path.exists() {
        return Err(Error::NothingToResume { path });
    }
    let records = read_journal(&path)?;
    let prepared: Prepared = records
        .iter()
        .find(|r| r.event == "plan")
        .and_then(|r| serde_json::from_value(r.detail.clone()).ok())
        .ok_or_else(|| Error::Journal {
            path: path.clone(),
            reason: "no plan record".to_owned(),
        })?;
    // The release was planned on a complete history; a shallow copy cannot confirm it.
    let history = readiness::check_history(root, &baselines(&prepared))?;
    if history.status == readiness::Status::Fail {
        return Err(Error::NotReady { failures: vec![format!("[history] {}", history.message)] });
    }
    let mut journal = Journal { path, records };
    run(root, &prepared, &mut journal, options)
}

struct Runner<'a> {
    journal: &'a mut Journal,
    options: &'a ExecuteOptions,
    performed: Vec<String>,
    reconciled: Vec<String>,
}

impl Runner<'_> {
    /// Runs `step` unless journaled as done: `reality` says whether it already happened
    /// (`Some(detail)`), otherwise `action` does it.
    fn step(
        &mut self,
        step: &str,
        what: &str,
        reality: impl FnOnce() -> Result<Option<serde_json::Value>>,
        action: impl FnOnce() -> Result<serde_json::Value>,
    ) -> Result<serde_json::Value> {
        if let Some(record) = self.journal.done(step) {
            return Ok(record.detail.clone());
        }
        if let Some(detail) = reality()? {
            self.journal.append("reconciled", step, detail.clone())?;
            self.reconciled.push(step.to_owned());
            return Ok(detail);
        }
        self.journal.append("begin", step, serde_json::Value::Null)?;
        self.options.progress.started(step, what);
        let detail = action()?;
        self.interrupt(step)?;
        self.journal.append("performed", step, detail.clone())?;
        self.options.progress.finished(step);
        self.performed.push(step.to_owned());
        Ok(detail)
    }

    fn interrupt(&self, step: &str) -> Result<()> {
        if self.options.fail_after.as_deref() == Some(step) {
            return Err(Error::Interrupted { step: step.to_owned() });
        }
        Ok(())
    }
}

fn head(root: &Path) -> Result<String> {
    Ok(process::git(root, ["rev-parse", "HEAD"])?.trim().to_owned())
}

/// The release commit, if `HEAD` is it.
fn release_commit(root: &Path, prepared: &Prepared) -> Result<Option<String>> {
    let head = head(root)?;
    if head == prepared.base {
        return Ok(None);
    }
    let body = process::git(root, ["log", "-1", "--format=%B%x00%P", &head])?;
    let (message, parents) = body.split_once('\0').unwrap_or((&body, ""));
    if message.contains(&format!("Release-Id: {}", prepared.id)) && parents.trim() == prepared.base
    {
        return Ok(Some(head));
    }
    Err(Error::Drift {
        what: format!(
            "HEAD {head} is neither the release base {} nor the release commit of {}",
            prepared.base, prepared.id
        ),
    })
}

fn run(
    root: &Path,
    prepared: &Prepared,
    journal: &mut Journal,
    options: &ExecuteOptions,
) -> Result<Outcome> {
    let mut runner = Runner { journal, options, performed: Vec::new(), reconciled: Vec::new() };
    let files_written = || {
        prepared.files.iter().all(|f| {
            std::fs::read_to_string(root.join(&f.path)).is_ok_and(|text| text == f.contents)
        })
    };
    let what = format!("writing {} file(s)", prepared.files.len());
    runner.step(
        "edit",
        &what,
        || {
            Ok((release_commit(root, prepared)?.is_some() || files_written())
                .then_some(serde_json::Value::Null))
        },
        || {
            for file in &prepared.files {
                process::write_atomic(&root.join(&file.path), file.contents.as_bytes())?;
            }
            Ok(serde_json::Value::Null)
        },
    )?;
    let commit = runner.step(
        "commit",
        "the release commit",
        || Ok(release_commit(root, prepared)?.map(serde_json::Value::String)),
        || {
            let mut add = vec!["add".to_owned(), "--".to_owned()];
            add.extend(prepared.files.iter().map(|f| f.path.clone()));
            // A tracked Cargo.lock names the members' versions: refresh those entries (only
            // those: `--workspace`) so the release commit is consistent and stays clean after
            // `cargo package`.
            let tracked = process::git(root, ["ls-files", "--", "Cargo.lock"])?;
            if !tracked.trim().is_empty() {
                let args = ["update", "--workspace", "--offline"].map(str::to_owned);
                let (command, out) = process::cargo(root, &args, options.cargo_home.as_deref())?;
                if !out.status.success() {
                    return Err(Error::Command {
                        command,
                        stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
                    });
                }
                add.push("Cargo.lock".to_owned());
            }
            process::git(root, &add)?;
            process::git(root, ["commit", "-q", "--cleanup=verbatim", "-m", &prepared.message])?;
            Ok(serde_json::Value::String(head(root)?))
        },
    )?;
    let commit = commit.as_str().unwrap_or_default().to_owned();
    let workspace = Workspace::load(root)?;
    let names: Vec<&str> = prepared.items.iter().map(|i| i.name.as_str()).collect();
    let what = format!("the gate on the release commit: cargo package -p {}", names.join(" -p "));
    let gate = runner.step(
        "gate",
        &what,
        || Ok(None),
        || {
            let mut checks = readiness::check_repository(root, &options.config)?;
            let package = PackageOptions {
                no_verify: options.no_verify,
                offline: false,
                allow_dirty: false,
                registry: options.registry.clone(),
                target_dir: None,
                cargo_home: options.cargo_home.clone(),
            };
            let mut readiness = readiness::check_packages(
                root,
                &targets(prepared),
                &family(&workspace),
                &options.config,
                &package,
            )?;
            checks.append(&mut readiness.checks);
            readiness.checks = checks;
            let readiness = readiness.into_result()?;
            let sums: BTreeMap<String, String> =
                readiness.packaged.iter().map(|p| (p.name.clone(), p.sha256.clone())).collect();
            Ok(serde_json::to_value(sums).unwrap_or_default())
        },
    )?;
    let sha256 =
        |name: &str| gate.get(name).and_then(|v| v.as_str()).unwrap_or_default().to_owned();

    let index = match &options.index {
        Some(url) => Index::new(url.clone()),
        None => {
            Index::for_registry(options.registry.as_deref(), root, options.cargo_home.as_deref())?
        }
    };
    let timeout = options.publish_timeout.unwrap_or(Duration::from_secs(300));
    let levels: Vec<usize> = {
        let mut l: Vec<usize> = prepared.items.iter().map(|i| i.level).collect();
        l.dedup();
        l
    };
    for level in levels {
        let items: Vec<&Item> = prepared.items.iter().filter(|i| i.level == level).collect();
        // Which crates of the level still need publishing (journal, then the index).
        let mut pending = Vec::new();
        for item in &items {
            let step = format!("publish:{}", item.name);
            if runner.journal.done(&step).is_some() {
                continue;
            }
            match index.entry(&item.name, &item.version)? {
                Some(entry) => {
                    if entry.cksum != sha256(&item.name) {
                        return Err(Error::Drift {
                            what: format!(
                                "{} {} is published with checksum {} but the release commit \
                                 packages to {}",
                                item.name,
                                item.version,
                                entry.cksum,
                                sha256(&item.name)
                            ),
                        });
                    }
                    runner.journal.append(
                        "reconciled",
                        &step,
                        serde_json::Value::String(entry.cksum),
                    )?;
                    runner.reconciled.push(step);
                }
                None => pending.push(*item),
            }
        }
        if !pending.is_empty() {
            // Honour the registry's last "try again after": publishing earlier only earns
            // another 429 (and on crates.io can extend the penalty).
            let until = runner
                .journal
                .records
                .iter()
                .rev()
                .find(|r| r.event == "rate-limited")
                .and_then(|r| r.detail.get("until").and_then(serde_json::Value::as_u64));
            let now = unix_now();
            if let Some(until) = until.filter(|u| *u > now) {
                let step = format!("publish:{}", pending[0].name);
                options.progress.waiting(&step, until);
                std::thread::sleep(Duration::from_secs(until - now));
            }
            let mut args = vec!["publish".to_owned(), "--no-verify".to_owned()];
            for item in &pending {
                args.extend(["-p".to_owned(), item.name.clone()]);
                runner.journal.append(
                    "begin",
                    &format!("publish:{}", item.name),
                    serde_json::Value::Null,
                )?;
            }
            match (&options.registry, &options.index) {
                (Some(registry), _) => args.extend(["--registry".to_owned(), registry.clone()]),
                (None, Some(index)) => args.extend(["--index".to_owned(), index.clone()]),
                (None, None) => {}
            }
            let publish_step = format!("publish:{}", pending[0].name);
            options.progress.started(&publish_step, format!("cargo {}", args.join(" ")));
            let (command, out) = process::cargo(root, &args, options.cargo_home.as_deref())?;
            options.progress.finished(&publish_step);
            if !out.status.success() {
                let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
                if stderr.contains("429") || stderr.contains("Too Many Requests") {
                    let retry_after = stderr
                        .split("try again after ")
                        .nth(1)
                        .and_then(|rest| rest.split(" or ").next())
                        .map_or_else(|| "a few minutes".to_owned(), |t| t.trim().to_owned());
                    let step = format!("publish:{}", pending[0].name);
                    let until = crate::registry::parse_http_date(&retry_after);
                    runner.journal.append(
                        "rate-limited",
                        &step,
                        serde_json::json!({ "retry_after": retry_after, "until": until }),
                    )?;
                    return Err(Error::RateLimited { step, retry_after });
                }
                return Err(Error::Command { command, stderr: stderr.trim().to_owned() });
            }
            for item in &pending {
                let step = format!("publish:{}", item.name);
                runner.interrupt(&step)?;
                runner.journal.append(
                    "performed",
                    &step,
                    serde_json::Value::String(sha256(&item.name)),
                )?;
                runner.performed.push(step);
            }
        }
        for item in &items {
            let step = format!("wait:{}", item.name);
            let what = format!("polling {} for {} {}", index.url(), item.name, item.version);
            runner.step(
                &step,
                &what,
                || Ok(None),
                || match index.wait_for(&item.name, &item.version, timeout)? {
                    // cargo packages deterministically: the registry must hold the very bytes
                    // the gate checked.
                    Some(entry) if entry.cksum != sha256(&item.name) => Err(Error::Drift {
                        what: format!(
                            "{} {} was published with checksum {}, the gate packaged {}",
                            item.name,
                            item.version,
                            entry.cksum,
                            sha256(&item.name)
                        ),
                    }),
                    Some(entry) => Ok(serde_json::Value::String(entry.cksum)),
                    None => Err(Error::Index {
                        index: index.url().to_owned(),
                        reason: format!(
                            "{} {} did not appear within {} s",
                            item.name,
                            item.version,
                            timeout.as_secs()
                        ),
                    }),
                },
            )?;
        }
    }

    for item in &prepared.items {
        let step = format!("tag:{}", item.name);
        runner.step(
            &step,
            &format!("git tag {}", item.tag),
            || tag_reality(root, &item.tag, &commit),
            || {
                process::git(
                    root,
                    ["tag", "-a", "--cleanup=verbatim", &item.tag, "-m", &item.section, &commit],
                )?;
                Ok(serde_json::Value::String(commit.clone()))
            },
        )?;
    }

    let out_dir = options.out_dir.clone().unwrap_or_else(|| root.join("target").join("release"));
    let manifest = out_dir.join(format!("{}.manifest.json", prepared.id));
    runner.step(
        "notes",
        "the release manifest and notes",
        || Ok(None),
        || {
            write_notes(&out_dir, &manifest, prepared, &commit, &sha256)?;
            Ok(serde_json::Value::String(manifest.display().to_string()))
        },
    )?;
    if let Some(remote) = &options.push_remote {
        runner.step(
            "push",
            &format!("git push --atomic {remote}"),
            || Ok(None),
            || {
                let mut args = vec![
                    "push".to_owned(),
                    "--atomic".to_owned(),
                    remote.clone(),
                    format!("{commit}:refs/heads/{}", prepared.branch),
                ];
                args.extend(prepared.items.iter().map(|i| format!("refs/tags/{}", i.tag)));
                process::git(root, &args)?;
                Ok(serde_json::Value::Null)
            },
        )?;
    }
    let finished = runner.journal.path.with_file_name(format!("{}.jsonl", prepared.id));
    runner.journal.append("performed", "finish", serde_json::Value::Null)?;
    std::fs::rename(&runner.journal.path, &finished)
        .map_err(|source| Error::Write { path: finished.clone(), source })?;
    Ok(Outcome {
        prepared: Some(prepared.clone()),
        commit: Some(commit),
        journal: Some(finished),
        manifest: Some(manifest),
        performed: runner.performed,
        reconciled: runner.reconciled,
    })
}

/// `Some` when `tag` already points at `commit`; an error when it points elsewhere (a tag is
/// never moved: others may have fetched it).
fn tag_reality(root: &Path, tag: &str, commit: &str) -> Result<Option<serde_json::Value>> {
    let (_, out) = process::output(
        "git",
        root,
        ["rev-parse", "-q", "--verify", &format!("refs/tags/{tag}^{{commit}}")],
    )?;
    if !out.status.success() {
        return Ok(None);
    }
    let target = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if target == commit {
        Ok(Some(serde_json::Value::String(target)))
    } else {
        Err(Error::Drift {
            what: format!("tag {tag} exists on {target}, not on the release commit {commit}"),
        })
    }
}

#[derive(Serialize)]
struct ManifestEntry<'a> {
    #[serde(rename = "crate")]
    krate: &'a str,
    version: &'a Version,
    tag: &'a str,
    commit: &'a str,
    sha256: String,
    changelog: &'a str,
}

fn write_notes(
    out_dir: &Path,
    manifest: &Path,
    prepared: &Prepared,
    commit: &str,
    sha256: &dyn Fn(&str) -> String,
) -> Result<()> {
    let entries: Vec<ManifestEntry<'_>> = prepared
        .items
        .iter()
        .map(|i| ManifestEntry {
            krate: &i.name,
            version: &i.version,
            tag: &i.tag,
            commit,
            sha256: sha256(&i.name),
            changelog: &i.section,
        })
        .collect();
    let json = serde_json::json!({ "release": prepared.id, "commit": commit, "crates": entries });
    process::write_atomic(
        manifest,
        serde_json::to_string_pretty(&json).unwrap_or_default().as_bytes(),
    )?;
    let mut github = String::new();
    for item in &prepared.items {
        let _ = writeln!(github, "# {} {}\n", item.name, item.version);
        let body = item.section.split_once('\n').map_or("", |(_, rest)| rest);
        let _ = writeln!(github, "{}\n", body.trim());
    }
    process::write_atomic(&out_dir.join(format!("{}.github.md", prepared.id)), github.as_bytes())?;
    let mut packagers = format!("Release {} (commit {commit})\n\n", prepared.id);
    packagers.push_str("crate | version | tag | MSRV | sha256\n--- | --- | --- | --- | ---\n");
    for item in &prepared.items {
        let _ = writeln!(
            packagers,
            "{} | {} | {} | {} | {}",
            item.name,
            item.version,
            item.tag,
            item.rust_version.as_deref().unwrap_or("-"),
            sha256(&item.name)
        );
    }
    packagers.push_str(
        "\nEach .crate was packaged from the commit above and checked before publishing: it \
         contains CHANGELOG.md with its version's section (also the message of its annotated \
         tag), and the registry's checksum equals the one listed here.\n",
    );
    process::write_atomic(
        &out_dir.join(format!("{}.packagers.md", prepared.id)),
        packagers.as_bytes(),
    )
}

/// A difference between the registry, the tags and the changelogs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AuditFinding {
    /// The crate.
    #[serde(rename = "crate")]
    pub krate: String,
    /// The version.
    pub version: Version,
    /// What is wrong.
    pub problem: String,
}

/// `release audit`: for every published member, compares the versions in the registry index,
/// the release tags and the `CHANGELOG.md` sections (at `HEAD` and inside each tag).
pub fn audit(
    root: &Path,
    index: &Index,
    template: Option<&TagTemplate>,
) -> Result<Vec<AuditFinding>> {
    let workspace = Workspace::load(root)?;
    let repo = Repo::open(&workspace.root)?;
    let tags = repo.tags()?;
    let published: Vec<_> = workspace.published().collect();
    let template = template.cloned().unwrap_or_else(|| TagTemplate::default_for(published.len()));
    let mut findings = Vec::new();
    for package in published {
        let name = &package.name;
        let finding = |version: &Version, problem: String| AuditFinding {
            krate: name.clone(),
            version: version.clone(),
            problem,
        };
        let registry = index.versions(name)?;
        let mut tagged: BTreeMap<Version, String> = BTreeMap::new();
        for tag in &tags {
            let version = template.version_of(name, &tag.name).or_else(|| {
                ReleaseTag::parse(&tag.name)
                    .filter(|t| t.crate_name.as_deref() == Some(name.as_str()))
                    .map(|t| t.version)
            });
            if let Some(version) = version {
                tagged.insert(version, tag.name.clone());
            }
        }
        let changelog_path = if package.dir.is_empty() {
            "CHANGELOG.md".to_owned()
        } else {
            format!("{}/CHANGELOG.md", package.dir)
        };
        let head_changelog =
            std::fs::read_to_string(workspace.root.join(&changelog_path)).unwrap_or_default();
        for entry in &registry {
            let version = &entry.version;
            if !tagged.contains_key(version) {
                findings.push(finding(version, "published, but no release tag".to_owned()));
            }
            match changelog::section_text(&head_changelog, version) {
                None => findings.push(finding(
                    version,
                    format!("published, but {changelog_path} has no section for it"),
                )),
                Some(section) if entry.yanked && !section.contains("[YANKED]") => findings.push(
                    finding(version, "yanked, but its changelog heading lacks [YANKED]".to_owned()),
                ),
                Some(_) => {}
            }
        }
        for (version, tag) in &tagged {
            if !registry.iter().any(|e| &e.version == version) {
                findings.push(finding(
                    version,
                    format!("tag {tag} exists, but the registry does not have it"),
                ));
            }
            let (_, out) =
                process::output("git", root, ["show", &format!("{tag}:{changelog_path}")])?;
            let in_tag = String::from_utf8_lossy(&out.stdout);
            if !out.status.success() || changelog::section_text(&in_tag, version).is_none() {
                findings.push(finding(
                    version,
                    format!("{changelog_path} at tag {tag} has no section for its own version"),
                ));
            }
        }
    }
    Ok(findings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_edits_keep_everything_else() {
        let v = Version::new(0, 2, 0);
        let manifest = "[package]\nname = \"b\"\nversion = \"0.1.0\" # keep\nedition = \"2021\"\n\n\
                        [dependencies]\na = { path = \"../a\", version = \"0.1.0\" }\n\
                        c.version = \"0.1\"\nd = \"0.1\"\n\n[dependencies.e]\npath = \"../e\"\n\
                        version = \"=0.1.0\"\n\n[dev-dependencies]\na = { version = \"0.1.0\" }\n";
        let requirement = |dependency: &str| Edit::Requirement {
            table: "[dependencies]".to_owned(),
            dependency: dependency.to_owned(),
            to: v.clone(),
        };
        let cases: Vec<(Edit, &str, &str)> = vec![
            (
                Edit::PackageVersion { to: v.clone() },
                "version = \"0.1.0\" # keep",
                "version = \"0.2.0\" # keep",
            ),
            (
                requirement("a"),
                "a = { path = \"../a\", version = \"0.1.0\" }",
                "a = { path = \"../a\", version = \"0.2.0\" }",
            ),
            (requirement("c"), "c.version = \"0.1\"", "c.version = \"0.2.0\""),
            (requirement("d"), "d = \"0.1\"", "d = \"0.2.0\""),
            (requirement("e"), "version = \"=0.1.0\"", "version = \"0.2.0\""),
        ];
        for (edit, before, after) in cases {
            let edited = apply_edit(manifest, &edit).unwrap_or_else(|| panic!("{edit:?}"));
            assert_eq!(edited, manifest.replacen(before, after, 1), "{edit:?}");
        }
        assert_eq!(apply_edit(manifest, &requirement("zz")), None);
        assert_eq!(apply_edit(manifest, &Edit::WorkspaceVersion { to: v.clone() }), None);

        let inherited = "[package]\nname = \"x\"\nversion.workspace = true\n";
        assert_eq!(
            apply_edit(inherited, &Edit::OwnVersion { to: v.clone() }).as_deref(),
            Some("[package]\nname = \"x\"\nversion = \"0.2.0\"\n")
        );
        let root = "[workspace]\nmembers = []\n\n[workspace.package]\nversion = \"0.1.0\"\n\n\
                    [workspace.dependencies]\nx = { path = \"x\", version = \"0.1.0\" }\n";
        let workspace_req = Edit::Requirement {
            table: "[workspace.dependencies]".to_owned(),
            dependency: "x".to_owned(),
            to: v.clone(),
        };
        let edited = apply_edit(root, &Edit::WorkspaceVersion { to: v.clone() })
            .and_then(|text| apply_edit(&text, &workspace_req));
        assert_eq!(edited, Some(root.replace("0.1.0", "0.2.0")));
    }
}
