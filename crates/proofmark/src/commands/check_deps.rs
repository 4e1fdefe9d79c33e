//! `check-deps` (`cargo xtask check-deps` in this workspace, `proofmark check-deps` in any other):
//! does every published version of a workspace's crates still
//! resolve and build for a fresh consumer, and should any be yanked?
//!
//! A thin driver over `proofmark-deps` (see docs/check-deps.md and docs/yank-policy.md): it
//! picks the targets (the workspace's publishable crates by default), reads the registry cargo
//! is configured with, prints the report and exits with one of [`exit_status`]: 0 nothing at
//! or above `--fail-on`, 1 findings at or above it, 2 the run itself failed (no report). It
//! never yanks anything: it prints the `cargo yank` command.
//!
//! For nightly runs: `--baseline FILE` shows what changed since an earlier JSON report first
//! and exits on what is new, worse or changed; `--shard I/N` and `check-deps merge` split a run over
//! machines (`.github/workflows/check-deps.yml`).
//!
//! The workspace's own `Cargo.lock` is checked too (yanked, vanished or vulnerable
//! dependencies, fixed with a printed `cargo update --precise`): alone with `check-deps
//! lockfile [PATH]`, and as part of the default run.

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use anyhow::Context as _;
use proofmark_deps::advisory::AdvisoryDb;
use proofmark_deps::cargo::{CargoEnv, Toolchain};
use proofmark_deps::index::{Index, RegistrySource};
use proofmark_deps::policy::{Action, Policy};
use proofmark_deps::probe::{ProbeOptions, Stage};
use proofmark_deps::report::{self, Format, Report, Severity};
use proofmark_deps::{CheckOptions, Progress, Shard, Target};

/// Exit statuses of `check-deps` (docs/check-deps.md, "Exit status"). Findings and failures
/// never share a number, so a CI job tells "the crates have problems" (a complete report) from
/// "the check did not run" (no report); clap's usage errors exit 2 as well.
pub mod exit_status {
    /// Nothing at or above `--fail-on` (with a baseline: nothing new, worse or changed at it).
    pub const CLEAN: i32 = 0;
    /// Findings at or above `--fail-on`: the report is complete and written.
    pub const FINDINGS: i32 = 1;
    /// The run failed (`error: …` on stderr, no report): bad arguments, an unreadable index,
    /// baseline, report or advisory database, cargo that cannot start.
    pub const FAILED: i32 = 2;
}

/// The lowest severity that makes the exit status [`exit_status::FINDINGS`].
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FailOn {
    /// Warnings (broken versions that need no registry action) and errors.
    #[default]
    Warning,
    /// Errors only: a maintainer action is recommended (yank, fix release, decision).
    Error,
}

impl From<FailOn> for Severity {
    fn from(f: FailOn) -> Severity {
        match f {
            FailOn::Warning => Severity::Warning,
            FailOn::Error => Severity::Error,
        }
    }
}

/// Output formats.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum FormatArg {
    /// A table.
    Human,
    /// The stable JSON schema (docs/check-deps.md).
    Json,
    /// SARIF 2.1.0, for code scanning.
    Sarif,
    /// Markdown, for an issue or a CI summary.
    Markdown,
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Format {
        match f {
            FormatArg::Human => Format::Human,
            FormatArg::Json => Format::Json,
            FormatArg::Sarif => Format::Sarif,
            FormatArg::Markdown => Format::Markdown,
        }
    }
}

/// How far each probe goes.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum StageArg {
    /// Index-only checks (milliseconds, no cargo).
    Index,
    /// Plus a fresh consumer's `cargo generate-lockfile`.
    Resolve,
    /// Plus `cargo check`, the look-through of yanks and the culprit search.
    Compile,
}

/// What a fixed vulnerability leads to.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnAdvisory {
    /// Recommend the yank (default).
    Yank,
    /// Ask a maintainer to decide.
    Human,
}

/// Where advisories come from (shared by the main run and `lockfile`).
#[derive(clap::Args, Debug, Clone)]
pub struct AdvisoryArgs {
    /// A local RustSec advisory-db checkout to join advisories from (default: the cache folder
    /// `$CARGO_HOME/advisory-db` when it exists).
    #[arg(long, value_name = "PATH")]
    advisory_db: Option<PathBuf>,
    /// Clone the advisory-db (shallow, with `git`) into `$CARGO_HOME/advisory-db` first,
    /// replacing the cached copy.
    #[arg(long, conflicts_with = "advisory_db")]
    fetch_advisory_db: bool,
    /// The repository `--fetch-advisory-db` clones.
    #[arg(long, value_name = "URL", default_value = proofmark_deps::advisory::ADVISORY_DB_URL)]
    advisory_db_url: String,
}

#[derive(clap::Subcommand, Debug)]
pub enum CheckDepsAction {
    /// Check a lockfile (default: this workspace's Cargo.lock): yanked, vanished and
    /// vulnerable registry dependencies, each with the `cargo update --precise` that fixes it.
    Lockfile {
        /// The Cargo.lock to check.
        path: Option<PathBuf>,
        #[command(flatten)]
        advisories: AdvisoryArgs,
        /// Output format.
        #[arg(long, value_enum, default_value_t = FormatArg::Human)]
        format: FormatArg,
        /// Write the report here instead of stdout.
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Suppression file (default: check-deps.toml at the workspace root, when present).
        #[arg(long, value_name = "FILE")]
        suppressions: Option<PathBuf>,
        /// The lowest severity that makes the exit status 1.
        #[arg(long, value_enum, default_value_t = FailOn::Warning)]
        fail_on: FailOn,
    },
    /// Merge the JSON reports of `--shard I/N` runs into one report (every shard of one run,
    /// each once), optionally with the changes since a baseline report.
    Merge {
        /// The JSON reports.
        #[arg(required = true)]
        reports: Vec<PathBuf>,
        /// An earlier JSON report: show what is new, changed or fixed since it, first, and exit
        /// on what is new, worse or changed (1 when any is at `--fail-on` or above).
        #[arg(long, value_name = "FILE")]
        baseline: Option<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = FormatArg::Human)]
        format: FormatArg,
        /// Write the report here instead of stdout.
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// The lowest severity that makes the exit status 1.
        #[arg(long, value_enum, default_value_t = FailOn::Warning)]
        fail_on: FailOn,
    },
}

#[derive(clap::Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct CheckDepsArgs {
    #[command(subcommand)]
    action: Option<CheckDepsAction>,
    /// CRATE, CRATE@VERSION or CRATE@REQ (default: every publishable crate of this workspace,
    /// every version in the index).
    targets: Vec<String>,
    /// An alternate registry from cargo's configuration (default: crates.io, or what replaces it).
    #[arg(long, value_name = "NAME")]
    registry: Option<String>,
    /// How far each probe goes.
    #[arg(long, value_enum, default_value_t = StageArg::Compile)]
    stage: StageArg,
    /// Output format.
    #[arg(long, value_enum, default_value_t = FormatArg::Human)]
    format: FormatArg,
    /// Write the report here instead of stdout.
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// An earlier JSON report (`--format json`): show what is new, changed or fixed since it,
    /// first, and exit on what is new, worse or changed (1 when any is at `--fail-on` or above).
    #[arg(long, value_name = "FILE")]
    baseline: Option<PathBuf>,
    /// The lowest severity that makes the exit status 1 (0 nothing at or above it, 1 findings
    /// at or above it, 2 the run failed).
    #[arg(long, value_enum, default_value_t = FailOn::Warning)]
    fail_on: FailOn,
    #[command(flatten)]
    advisories: AdvisoryArgs,
    /// Do not check the workspace's Cargo.lock (checked by default when no target is named).
    #[arg(long)]
    no_lockfile: bool,
    /// Suppression file (default: check-deps.toml at the workspace root, when present).
    #[arg(long, value_name = "FILE")]
    suppressions: Option<PathBuf>,
    /// Probes run at once. They share one target folder, so their builds take turns (each
    /// with every core of `-j`) while resolutions and cargo's start-ups overlap them.
    #[arg(long, default_value_t = 2)]
    workers: usize,
    /// Cores for each build (default: all cores; the probes' builds take turns).
    #[arg(long, short = 'j')]
    jobs: Option<usize>,
    /// Time limit of one cargo invocation, in seconds.
    #[arg(long, default_value_t = 900)]
    timeout: u64,
    /// Time limit of the whole probe of one version (resolution, compilation, retries,
    /// look-through and culprit search together), in seconds; 0 for none.
    #[arg(long, default_value_t = 3600)]
    probe_timeout: u64,
    /// Extra attempts after a spurious failure (timeout, OOM, network).
    #[arg(long, default_value_t = 1)]
    retries: u32,
    /// Skip the culprit search on own-code failures.
    #[arg(long)]
    no_culprit: bool,
    /// Feature sets to probe each version with, comma-separated: `default`, `all`, `none`,
    /// `docsrs` (the published `[package.metadata.docs.rs]`), or features joined with `+`
    /// (default features plus those). Each set is its own finding, `CRATE@VERSION [features:
    /// SET]`, unless the only set is `default`.
    #[arg(long, value_name = "SETS", default_value = "default")]
    features: String,
    /// Check only shard I of N (whole semver lines per shard, split by crate name and line);
    /// combine the shards' JSON reports with `check-deps merge`.
    #[arg(long, value_name = "I/N")]
    shard: Option<String>,
    /// Do not read or write the results cache (`check-deps/cache` in the workspace's target
    /// folder, or in ~/.cache/proofmark outside a workspace).
    #[arg(long)]
    no_cache: bool,
    /// Run cargo with `--offline` (the index still has to be readable).
    #[arg(long)]
    offline: bool,
    /// What a vulnerability fixed in a working successor leads to.
    #[arg(long, value_enum, default_value_t = OnAdvisory::Yank)]
    on_advisory: OnAdvisory,
    /// No progress bar or lines on stderr.
    #[arg(long, short = 'q')]
    quiet: bool,
}

/// Runs `check-deps` and exits with its [`exit_status`]: it returns (`Ok`) only when the status
/// is [`exit_status::CLEAN`]; a failure prints `error: …` and exits
/// [`exit_status::FAILED`] here, so that `proofmark` and `cargo xtask` give it the same number.
pub fn run(args: CheckDepsArgs, default_root: &std::path::Path) -> anyhow::Result<()> {
    let status = checked(args, default_root).unwrap_or_else(|err| {
        eprintln!("error: {err:#}");
        exit_status::FAILED
    });
    if status != exit_status::CLEAN {
        std::process::exit(status);
    }
    Ok(())
}

/// The whole run; `Ok` holds the exit status of a complete report.
fn checked(args: CheckDepsArgs, default_root: &std::path::Path) -> anyhow::Result<i32> {
    if let Some(CheckDepsAction::Merge { reports, baseline, format, output, fail_on }) = args.action
    {
        let baseline = baseline.map(|p| Report::read(&p).map(|r| (p, r))).transpose()?;
        let reports = reports
            .into_iter()
            .map(|p| Report::read(&p).map(|r| (p, r)))
            .collect::<Result<Vec<_>, _>>()?;
        let mut merged = proofmark_deps::merge::merge(reports)?;
        add_diff(&mut merged, baseline.as_ref());
        return finish(&merged, format, output.as_ref(), fail_on);
    }
    // Read first: a bad baseline fails before hours of probes, not after.
    let baseline = args.baseline.as_ref().map(|p| Report::read(p).map(|r| (p.clone(), r)));
    let baseline = baseline.transpose()?;
    let cargo = PathBuf::from(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    // The workspace the command runs in (its root has the Cargo.lock and check-deps.toml);
    // outside any, the current folder.
    let workspace = proofmark_deps::workspace(&cargo, default_root)?;
    let root = workspace.as_ref().map_or_else(|| default_root.to_owned(), |w| w.root.clone());
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    let cargo_home = cargo_home.context("neither CARGO_HOME nor HOME is set")?;
    if let Some(CheckDepsAction::Lockfile {
        path,
        advisories,
        format,
        output,
        suppressions,
        fail_on,
    }) = args.action
    {
        let mut warnings = Vec::new();
        let db_path = advisory_db(&advisories, &cargo_home, &mut warnings)?;
        let lock = path.unwrap_or_else(|| root.join("Cargo.lock"));
        let cwd = lock.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(&root);
        let source = RegistrySource::from_cargo_config(&cargo_home, cwd, None)?;
        let index = Index::new(source);
        let mut report = Report {
            schema_version: report::SCHEMA_VERSION,
            toolchain: Toolchain::detect()?,
            registry: index.source().to_string(),
            findings: Vec::new(),
            warnings,
            shard: None,
            diff: None,
        };
        add_lockfile(&mut report, &lock, &index, db_path.as_deref(), &Policy::default())?;
        apply_suppressions(&mut report, suppressions, &root)?;
        return finish(&report, format, output.as_ref(), fail_on);
    }
    let workspace_run = args.targets.is_empty();
    if workspace_run && workspace.is_none() {
        anyhow::bail!(
            "{} is not in a Cargo workspace: run check-deps in one (it checks the workspace's \
             publishable crates), or name the crates to check: `proofmark check-deps \
             CRATE[@VERSION]`",
            default_root.display()
        );
    }
    let targets: Vec<Target> = if args.targets.is_empty() {
        proofmark_deps::workspace_crates(&cargo, &root)?
            .into_iter()
            .map(|name| Target { name, versions: proofmark_deps::VersionSpec::All })
            .collect()
    } else {
        args.targets.iter().map(|t| t.parse()).collect::<Result<_, _>>()?
    };
    let mut warnings = Vec::new();
    let db_path = advisory_db(&args.advisories, &cargo_home, &mut warnings)?;
    // Cargo reads its configuration from the current folder up, and so do we.
    let source =
        RegistrySource::from_cargo_config(&cargo_home, default_root, args.registry.as_deref())?;
    let index = Index::new(source);
    let toolchain = Toolchain::detect()?;
    let work = work_dir(workspace.as_ref())?;
    let cpus = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, std::num::NonZero::get));
    let workers = args.workers.max(1);
    let env = CargoEnv {
        cargo,
        cargo_home: None,
        target_root: work.join("target"),
        scratch_root: work.join("scratch"),
        offline: args.offline,
        build_jobs: cpus.max(1),
    };
    let stage = match args.stage {
        StageArg::Index => Stage::Index,
        StageArg::Resolve => Stage::Resolve,
        StageArg::Compile => Stage::Compile,
    };
    let opts = CheckOptions {
        targets,
        probe: ProbeOptions {
            stage,
            timeout: Duration::from_secs(args.timeout),
            probe_timeout: (args.probe_timeout > 0)
                .then(|| Duration::from_secs(args.probe_timeout)),
            retries: args.retries,
            culprit: !args.no_culprit,
            registry: args.registry.clone(),
            features: proofmark_deps::probe::FeatureSet::parse_list(&args.features)?,
        },
        workers,
        advisory_db: db_path.clone(),
        policy: Policy {
            on_fixed_vulnerability: match args.on_advisory {
                OnAdvisory::Yank => Action::Yank,
                OnAdvisory::Human => Action::NeedsHuman,
            },
            ..Policy::default()
        },
        shard: args.shard.as_deref().map(str::parse::<Shard>).transpose()?,
        cache_dir: (!args.no_cache).then(|| work.join("cache")),
        // Crates a user named must exist; a workspace's members may not be published yet.
        require_published: !workspace_run,
    };
    let progress = ProgressView::new(args.quiet);
    let report = proofmark_deps::check(&index, &env, &toolchain, &opts, &|p| progress.update(p));
    progress.finish();
    let mut report = report?;
    report.warnings.extend(warnings);
    // The workspace run covers our own lockfile too; with shards, only the first one does, so
    // merged reports hold each lockfile finding once.
    let lock = root.join("Cargo.lock");
    let first_shard = opts.shard.is_none_or(|s| s.index == 1);
    if workspace_run && !args.no_lockfile && first_shard && lock.exists() {
        // Lockfile packages come from crates.io (or what replaces it), whatever `--registry` says.
        let crates_io = match &args.registry {
            None => index,
            Some(_) => {
                Index::new(RegistrySource::from_cargo_config(&cargo_home, default_root, None)?)
            }
        };
        add_lockfile(&mut report, &lock, &crates_io, db_path.as_deref(), &opts.policy)?;
    }
    apply_suppressions(&mut report, args.suppressions, &root)?;
    add_diff(&mut report, baseline.as_ref());
    finish(&report, args.format, args.output.as_ref(), args.fail_on)
}

/// Attaches the changes since `baseline` (named as the user named it).
fn add_diff(report: &mut Report, baseline: Option<&(PathBuf, Report)>) {
    if let Some((path, old)) = baseline {
        report.diff = Some(proofmark_deps::diff::diff(old, report, &path.display().to_string()));
    }
}

/// Where the probes' scratch and target folders and the results cache go: `check-deps` in the
/// target folder of the workspace the command runs in (wherever cargo puts it:
/// `CARGO_TARGET_DIR`, `build.target-dir`), or outside a workspace in the user's cache folder,
/// `$XDG_CACHE_HOME/proofmark/check-deps` (default `~/.cache/proofmark/check-deps`).
fn work_dir(workspace: Option<&proofmark_deps::Workspace>) -> anyhow::Result<PathBuf> {
    if let Some(workspace) = workspace {
        return Ok(workspace.target_directory.join("check-deps"));
    }
    let xdg = std::env::var_os("XDG_CACHE_HOME").map(PathBuf::from).filter(|p| p.is_absolute());
    let cache = xdg.or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")));
    let cache = cache.context(
        "outside a Cargo workspace, check-deps keeps its cache in $XDG_CACHE_HOME/proofmark or \
         ~/.cache/proofmark, but neither XDG_CACHE_HOME nor HOME is set",
    )?;
    Ok(cache.join("proofmark").join("check-deps"))
}

/// The advisory database to use: `--advisory-db`, a fresh `--fetch-advisory-db` clone, or the
/// cache folder left by an earlier fetch (or by cargo-audit); none is a run warning.
fn advisory_db(
    args: &AdvisoryArgs,
    cargo_home: &std::path::Path,
    warnings: &mut Vec<String>,
) -> anyhow::Result<Option<PathBuf>> {
    if let Some(path) = &args.advisory_db {
        return Ok(Some(path.clone()));
    }
    let cache = proofmark_deps::advisory::default_cache_dir(cargo_home);
    if args.fetch_advisory_db {
        let git = PathBuf::from(std::env::var_os("GIT").unwrap_or_else(|| "git".into()));
        return Ok(Some(proofmark_deps::advisory::fetch(&git, &args.advisory_db_url, &cache)?));
    }
    if cache.join("crates").is_dir() {
        warnings.push(format!(
            "advisories from the cached copy {} (refresh with --fetch-advisory-db)",
            cache.display()
        ));
        return Ok(Some(cache));
    }
    warnings
        .push("no advisory database: pass --advisory-db PATH or --fetch-advisory-db".to_owned());
    Ok(None)
}

/// Adds the findings of the lockfile check of `lock` to `report`.
fn add_lockfile(
    report: &mut Report,
    lock: &std::path::Path,
    index: &Index,
    db_path: Option<&std::path::Path>,
    policy: &Policy,
) -> anyhow::Result<()> {
    let db = match db_path {
        Some(path) => AdvisoryDb::load(path)?,
        None => AdvisoryDb::default(),
    };
    let label = lock
        .file_name()
        .map_or_else(|| lock.display().to_string(), |n| n.to_string_lossy().into_owned());
    let checked = proofmark_deps::lockfile::check_lockfile(lock, &label, index, &db, policy)?;
    report.findings.extend(checked.findings);
    report.findings.sort_by(|a, b| a.id.cmp(&b.id));
    report.warnings.extend(checked.warnings);
    Ok(())
}

/// Applies `--suppressions FILE`, or `check-deps.toml` at the root when present.
fn apply_suppressions(
    report: &mut Report,
    file: Option<PathBuf>,
    root: &std::path::Path,
) -> anyhow::Result<()> {
    let file = file.or_else(|| {
        let default = root.join("check-deps.toml");
        default.exists().then_some(default)
    });
    if let Some(path) = file {
        let list = report::read_suppressions(&path)?;
        report::apply_suppressions(report, &list, &report::today());
    }
    Ok(())
}

/// Where progress goes: a bar when stderr is a terminal, one plain line per probe otherwise (CI
/// logs keep every line and no escape codes), nothing with `-q`.
#[derive(Debug)]
enum ProgressView {
    Quiet,
    Lines { total: AtomicUsize, done: AtomicUsize },
    Bar(indicatif::ProgressBar),
}

impl ProgressView {
    fn new(quiet: bool) -> ProgressView {
        if quiet {
            return ProgressView::Quiet;
        }
        if !std::io::stderr().is_terminal() {
            return ProgressView::Lines { total: AtomicUsize::new(0), done: AtomicUsize::new(0) };
        }
        let bar = indicatif::ProgressBar::new(0);
        let style = indicatif::ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} probes, ETA {eta}  {wide_msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
        bar.set_style(style);
        // Probes take seconds to minutes: tick on our own so the spinner shows we are alive.
        bar.enable_steady_tick(Duration::from_millis(200));
        ProgressView::Bar(bar)
    }

    fn update(&self, event: Progress) {
        match (self, event) {
            (ProgressView::Quiet, _) => {}
            (ProgressView::Lines { total, .. }, Progress::Planned(n)) => total.store(n, Relaxed),
            (ProgressView::Lines { total, done }, Progress::Done { target, class }) => {
                let n = done.fetch_add(1, Relaxed) + 1;
                eprintln!("[{n}/{}] {target}: {class}", total.load(Relaxed));
            }
            (ProgressView::Bar(bar), Progress::Planned(n)) => bar.set_length(n as u64),
            (ProgressView::Bar(bar), Progress::Done { target, class }) => {
                // Keep anything but a plain success above the bar, where it stays visible.
                if !matches!(class.as_str(), "builds" | "resolves" | "index-clean" | "yanked") {
                    bar.println(format!("{target}: {class}"));
                }
                bar.set_message(format!("{target}: {class}"));
                bar.inc(1);
            }
        }
    }

    fn finish(&self) {
        if let ProgressView::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }
}

/// Prints or writes the report; returns its exit status.
fn finish(
    report: &Report,
    format: FormatArg,
    output: Option<&PathBuf>,
    fail_on: FailOn,
) -> anyhow::Result<i32> {
    let text = report.render(format.into());
    match output {
        Some(path) => write_atomic(path, &text)?,
        None => print!("{text}"),
    }
    Ok(if report.fails(fail_on.into()) { exit_status::FINDINGS } else { exit_status::CLEAN })
}

/// Writes `text` to `path` through a temporary file in the same folder and a rename, so a
/// report (tomorrow's baseline) is never half-written.
fn write_atomic(path: &std::path::Path, text: &str) -> anyhow::Result<()> {
    let name =
        path.file_name().with_context(|| format!("{} is not a file name", path.display()))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".tmp-{}", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    std::fs::write(&tmp, text).with_context(|| format!("write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| {
        let _ = std::fs::remove_file(&tmp);
        format!("move {} to {}", tmp.display(), path.display())
    })
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        args: CheckDepsArgs,
    }

    #[test]
    fn targets_and_merge_parse() {
        let cli = Cli::try_parse_from(["x", "a@1.0.0", "b", "--shard", "1/2", "--format", "json"])
            .unwrap();
        assert_eq!(cli.args.targets, ["a@1.0.0", "b"]);
        assert_eq!(cli.args.format, FormatArg::Json);
        let cli = Cli::try_parse_from(["x", "merge", "s1.json", "s2.json"]).unwrap();
        let Some(CheckDepsAction::Merge { reports, .. }) = cli.args.action else {
            panic!("{cli:?}")
        };
        assert_eq!(reports.len(), 2);
    }

    #[test]
    fn baseline_parses_for_a_run_and_for_merge() {
        let cli =
            Cli::try_parse_from(["x", "--baseline", "old.json", "--format", "markdown"]).unwrap();
        assert_eq!(cli.args.baseline, Some(PathBuf::from("old.json")));
        let cli =
            Cli::try_parse_from(["x", "merge", "s1.json", "s2.json", "--baseline", "old.json"])
                .unwrap();
        let Some(CheckDepsAction::Merge { reports, baseline, .. }) = cli.args.action else {
            panic!("{cli:?}")
        };
        assert_eq!((reports.len(), baseline), (2, Some(PathBuf::from("old.json"))));
    }

    #[test]
    fn reports_are_written_whole_or_not_at_all() {
        let dir = std::env::temp_dir().join(format!("check-deps-write-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("report.json");
        write_atomic(&path, "{}").unwrap();
        write_atomic(&path, "{\"a\": 1}").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{\"a\": 1}");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1, "no temporary file left");
        let err = write_atomic(&dir.join("missing/report.json"), "{}").unwrap_err();
        assert!(format!("{err:#}").contains("missing"), "{err:#}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn probe_timeout_defaults_to_an_hour_and_zero_disables_it() {
        let cli = Cli::try_parse_from(["x"]).unwrap();
        assert_eq!((cli.args.timeout, cli.args.probe_timeout), (900, 3600));
        let cli = Cli::try_parse_from(["x", "--probe-timeout", "0"]).unwrap();
        assert_eq!(cli.args.probe_timeout, 0);
    }

    #[test]
    fn lockfile_and_advisory_flags_parse() {
        let cli = Cli::try_parse_from(["x", "lockfile", "other/Cargo.lock", "--format", "sarif"])
            .unwrap();
        let Some(CheckDepsAction::Lockfile { path, format, advisories, .. }) = cli.args.action
        else {
            panic!("{cli:?}")
        };
        assert_eq!(path, Some(PathBuf::from("other/Cargo.lock")));
        assert_eq!(format, FormatArg::Sarif);
        assert_eq!(advisories.advisory_db_url, "https://github.com/rustsec/advisory-db");
        let cli = Cli::try_parse_from(["x", "--fetch-advisory-db", "--no-lockfile"]).unwrap();
        assert!(cli.args.advisories.fetch_advisory_db && cli.args.no_lockfile);
        let both = Cli::try_parse_from(["x", "--fetch-advisory-db", "--advisory-db", "db"]);
        assert_eq!(both.unwrap_err().kind(), clap::error::ErrorKind::ArgumentConflict);
    }

    #[test]
    fn advisory_db_falls_back_to_the_cache_then_to_a_warning() {
        let home = std::env::temp_dir().join(format!("check-deps-home-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&home);
        let args = |db: Option<&str>| AdvisoryArgs {
            advisory_db: db.map(PathBuf::from),
            fetch_advisory_db: false,
            advisory_db_url: String::new(),
        };
        let mut warnings = Vec::new();
        assert_eq!(advisory_db(&args(None), &home, &mut warnings).unwrap(), None);
        assert!(warnings[0].contains("--fetch-advisory-db"), "{warnings:?}");
        std::fs::create_dir_all(home.join("advisory-db/crates")).unwrap();
        let mut warnings = Vec::new();
        let got = advisory_db(&args(None), &home, &mut warnings).unwrap();
        assert_eq!(got, Some(home.join("advisory-db")));
        assert!(warnings[0].contains("cached copy"), "{warnings:?}");
        let mut warnings = Vec::new();
        let got = advisory_db(&args(Some("/x")), &home, &mut warnings).unwrap();
        assert_eq!((got, warnings.len()), (Some(PathBuf::from("/x")), 0));
        let _ = std::fs::remove_dir_all(&home);
    }

    #[test]
    fn plain_progress_lines_count_the_planned_probes() {
        let view = ProgressView::Lines { total: AtomicUsize::new(0), done: AtomicUsize::new(0) };
        view.update(Progress::Planned(3));
        view.update(Progress::Done { target: "a@1.0.0".to_owned(), class: "builds".to_owned() });
        let ProgressView::Lines { total, done } = &view else { panic!("not lines") };
        assert_eq!((total.load(Relaxed), done.load(Relaxed)), (3, 1));
    }
}
