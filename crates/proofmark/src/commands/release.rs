//! `release` (`proofmark release` in any Cargo repository, `cargo xtask release` as this
//! repository's shortcut): plan, check, execute, resume and audit a release.
//!
//! Without subcommand or flag it prints the dry-run plan computed by `proofmark-release`
//! (which crates, which versions, in which order, which tags, the changelog sections to commit
//! before tagging, the files that change, and the commits no published crate owns). Offline,
//! read-only. `check` runs the readiness gate on a preview of the release commit, `status`
//! shows the release scope from `proofmark.toml`, `audit` compares registry, tags and
//! changelogs, `changelog` rebuilds whole changelogs, `config` prints the effective settings
//! (also read from cargo-release, release-plz and git-cliff), `--execute` and `--resume`
//! perform the release (see docs/release.md).
//!
//! Each subcommand takes exactly the options it uses, after its name; options given before the
//! subcommand name still apply when the subcommand uses them and are refused otherwise, so no
//! option is silently ignored. Long steps report progress on stderr: a spinner on a terminal,
//! one line per step otherwise (CI logs).

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use proofmark_release::config::ReleaseConfig;
use proofmark_release::execute::{self, ExecuteOptions, Progress, ProgressSink};
use proofmark_release::readiness::Scope;
use proofmark_release::registry::Index;
use proofmark_release::{BumpRules, CrateOverride, Date, Error, PlanOptions, TagTemplate};

/// Fault injection for the resume tests and drills: stop right after this step's action.
/// Compiled only with the `test-hooks` feature (never in the shipped binary), so a stray
/// variable in a user's environment cannot abort a real release.
#[cfg(feature = "test-hooks")]
const FAIL_AFTER_VAR: &str = "PROOFMARK_RELEASE_FAIL_AFTER";

/// The step after which to abort (`test-hooks` builds only).
fn fail_after() -> Option<String> {
    #[cfg(feature = "test-hooks")]
    {
        std::env::var(FAIL_AFTER_VAR).ok().filter(|s| !s.is_empty())
    }
    #[cfg(not(feature = "test-hooks"))]
    {
        None
    }
}

/// What to do besides printing the plan.
#[derive(clap::Subcommand, Debug, Clone)]
pub enum Action {
    /// The readiness gate on a preview of the release commit, as a Markdown checklist (or
    /// JSON); exits 1 when a check fails.
    Check(CheckArgs),
    /// What is left of the release scope in proofmark.toml (date train, required features).
    Status(StatusArgs),
    /// Compare registry versions, release tags and changelog sections; exit 1 on drift.
    Audit(AuditArgs),
    /// Rebuild every crate's whole changelog from its release tags (one section per tag) and
    /// print it; with --write, replace the CHANGELOG.md files. For repositories whose
    /// changelogs are missing or were written after the tags.
    Changelog(ChangelogArgs),
    /// The effective release settings and the file and key each came from (proofmark.toml,
    /// cargo-release, release-plz, git-cliff), and what is not honoured.
    Config(ConfigArgs),
}

/// Output format; each command's `--format` help says what it prints.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Human,
    Json,
}

/// The options that shape the plan.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct PlanArgs {
    /// Only release this crate (repeatable; default: every crate with changes).
    #[arg(long = "crate", value_name = "NAME")]
    crates: Vec<String>,
    /// Override the inferred bump: NAME=major|minor|patch|X.Y.Z (repeatable).
    #[arg(long = "bump", value_name = "NAME=LEVEL")]
    bumps: Vec<String>,
    /// Date for the changelog headings (default: today, UTC).
    #[arg(long, value_name = "YYYY-MM-DD")]
    date: Option<String>,
    /// Template for new tags, with {crate} and {version} (default: {crate}-v{version}, or
    /// v{version} when the workspace publishes a single crate).
    #[arg(long, value_name = "TEMPLATE")]
    tag_template: Option<String>,
    /// Plan release candidates with this pre-release name: `--pre rc` makes `X.Y.Z-rc.N`
    /// (without it, a final release folds its candidates' changelog sections into its own).
    #[arg(long, value_name = "NAME")]
    pre: Option<String>,
    /// Below 1.0.0, bump the major number on breaking changes (default: the minor number).
    #[arg(long)]
    zero_breaking_is_major: bool,
    /// Below 1.0.0, bump the minor number on features (default: the patch number).
    #[arg(long)]
    zero_feature_is_minor: bool,
}

impl PlanArgs {
    /// `self` (given before the subcommand) completed by `later` (given after it).
    fn merge(self, later: Self) -> Self {
        Self {
            crates: [self.crates, later.crates].concat(),
            bumps: [self.bumps, later.bumps].concat(),
            date: later.date.or(self.date),
            tag_template: later.tag_template.or(self.tag_template),
            pre: later.pre.or(self.pre),
            zero_breaking_is_major: self.zero_breaking_is_major || later.zero_breaking_is_major,
            zero_feature_is_minor: self.zero_feature_is_minor || later.zero_feature_is_minor,
        }
    }

    /// The flags that were given.
    fn given(&self) -> Vec<&'static str> {
        let mut flags = Vec::new();
        flags.extend((!self.crates.is_empty()).then_some("--crate"));
        flags.extend((!self.bumps.is_empty()).then_some("--bump"));
        flags.extend(self.date.is_some().then_some("--date"));
        flags.extend(self.tag_template.is_some().then_some("--tag-template"));
        flags.extend(self.pre.is_some().then_some("--pre"));
        flags.extend(self.zero_breaking_is_major.then_some("--zero-breaking-is-major"));
        flags.extend(self.zero_feature_is_minor.then_some("--zero-feature-is-minor"));
        flags
    }

    fn date(&self) -> anyhow::Result<Date> {
        Ok(match &self.date {
            Some(text) => text.parse::<Date>()?,
            None => Date::today_utc(),
        })
    }

    fn options(&self) -> anyhow::Result<PlanOptions> {
        let mut options = PlanOptions::new(self.date()?);
        options.only = self.crates.clone();
        options.overrides = self
            .bumps
            .iter()
            .map(|text| text.parse::<CrateOverride>())
            .collect::<Result<_, _>>()?;
        options.rules = BumpRules {
            zero_breaking_is_minor: !self.zero_breaking_is_major,
            zero_feature_is_patch: !self.zero_feature_is_minor,
        };
        options.tag_template = self.tag_template.as_deref().map(TagTemplate::new).transpose()?;
        options.pre = self.pre.clone();
        Ok(options)
    }
}

/// Where and how the gate packages, and where releases are published.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct GateArgs {
    /// Publish to this registry (`cargo publish --registry NAME`; default crates.io); the gate
    /// packages for it.
    #[arg(long, value_name = "NAME")]
    registry: Option<String>,
    /// Publish to this index URL (`cargo publish --index URL`) and poll it.
    #[arg(long, value_name = "URL")]
    index: Option<String>,
    /// Package without building (`cargo package --no-verify`).
    #[arg(long)]
    no_verify: bool,
    /// Run cargo offline in the gate (implies --no-verify).
    #[arg(long)]
    offline: bool,
    /// Do not run cargo-semver-checks in the gate (by default it runs when installed).
    #[arg(long)]
    skip_semver_checks: bool,
    /// Run cargo with this CARGO_HOME (registry configuration and token).
    #[arg(long, value_name = "DIR")]
    cargo_home: Option<PathBuf>,
}

impl GateArgs {
    fn merge(self, later: Self) -> Self {
        Self {
            registry: later.registry.or(self.registry),
            index: later.index.or(self.index),
            no_verify: self.no_verify || later.no_verify,
            offline: self.offline || later.offline,
            skip_semver_checks: self.skip_semver_checks || later.skip_semver_checks,
            cargo_home: later.cargo_home.or(self.cargo_home),
        }
    }

    fn given(&self) -> Vec<&'static str> {
        let mut flags = Vec::new();
        flags.extend(self.registry.is_some().then_some("--registry"));
        flags.extend(self.index.is_some().then_some("--index"));
        flags.extend(self.no_verify.then_some("--no-verify"));
        flags.extend(self.offline.then_some("--offline"));
        flags.extend(self.skip_semver_checks.then_some("--skip-semver-checks"));
        flags.extend(self.cargo_home.is_some().then_some("--cargo-home"));
        flags
    }
}

/// `release check`.
#[derive(clap::Args, Debug, Clone)]
pub struct CheckArgs {
    /// Output format: human (a Markdown checklist for a tracking issue) or json (each check
    /// and each packaged .crate with its SHA-256).
    #[arg(long, value_enum, value_name = "FORMAT")]
    format: Option<Format>,
    #[command(flatten)]
    plan: PlanArgs,
    #[command(flatten)]
    gate: GateArgs,
    /// The workspace to check (default: the one containing the current directory).
    #[arg(long, value_name = "DIR")]
    workspace: Option<PathBuf>,
}

/// `release status`.
#[derive(clap::Args, Debug, Clone)]
pub struct StatusArgs {
    /// Output format: human (sentences) or json (days to the freeze and to the release, the
    /// features landed with their commits and the features missing).
    #[arg(long, value_enum, value_name = "FORMAT")]
    format: Option<Format>,
    /// Count the days of the date train from this date (default: today, UTC).
    #[arg(long, value_name = "YYYY-MM-DD")]
    date: Option<String>,
    /// The workspace (default: the one containing the current directory).
    #[arg(long, value_name = "DIR")]
    workspace: Option<PathBuf>,
}

/// `release audit`.
#[derive(clap::Args, Debug, Clone)]
pub struct AuditArgs {
    /// Output format: human (one line per finding) or json (the findings: crate, version,
    /// problem).
    #[arg(long, value_enum, value_name = "FORMAT")]
    format: Option<Format>,
    /// Audit against this registry (as configured for cargo; default crates.io).
    #[arg(long, value_name = "NAME")]
    registry: Option<String>,
    /// Audit against this index URL.
    #[arg(long, value_name = "URL")]
    index: Option<String>,
    /// Read the registry configuration from this CARGO_HOME.
    #[arg(long, value_name = "DIR")]
    cargo_home: Option<PathBuf>,
    /// Template of the release tags, with {crate} and {version} (default: {crate}-v{version},
    /// or v{version} when the workspace publishes a single crate).
    #[arg(long, value_name = "TEMPLATE")]
    tag_template: Option<String>,
    /// The workspace (default: the one containing the current directory).
    #[arg(long, value_name = "DIR")]
    workspace: Option<PathBuf>,
}

/// `release changelog`.
#[derive(clap::Args, Debug, Clone)]
pub struct ChangelogArgs {
    /// Replace each crate's CHANGELOG.md (hand edits in it are lost; review with git diff).
    #[arg(long)]
    write: bool,
    /// Output format: human (each changelog after a `==> PATH <==` line) or json (per crate:
    /// the path, the whole text, the number of releases and entries; and the commits read).
    #[arg(long, value_enum, value_name = "FORMAT")]
    format: Option<Format>,
    /// Only rebuild this crate's changelog (repeatable; default: every published crate).
    #[arg(long = "crate", value_name = "NAME")]
    crates: Vec<String>,
    /// Template of the release tags, with {crate} and {version} (default: {crate}-v{version},
    /// or v{version} when the workspace publishes a single crate).
    #[arg(long, value_name = "TEMPLATE")]
    tag_template: Option<String>,
    /// The workspace (default: the one containing the current directory).
    #[arg(long, value_name = "DIR")]
    workspace: Option<PathBuf>,
}

/// `release config`.
#[derive(clap::Args, Debug, Clone)]
pub struct ConfigArgs {
    /// Output format: human (each setting with its source, then what is not honoured) or json
    /// (the same as data).
    #[arg(long, value_enum, value_name = "FORMAT")]
    format: Option<Format>,
    /// The workspace (default: the one containing the current directory).
    #[arg(long, value_name = "DIR")]
    workspace: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct ReleaseArgs {
    #[command(subcommand)]
    action: Option<Action>,
    /// Output format: human (a table and per-crate sections) or json (the `ReleasePlan`; with
    /// --execute or --resume, what the run did).
    #[arg(long, value_enum, value_name = "FORMAT")]
    format: Option<Format>,
    /// Execute the plan: gate, write, commit, gate again, publish, tag, (push), with a journal.
    #[arg(long, conflicts_with = "resume")]
    execute: bool,
    /// Finish the release recorded in the unfinished journal.
    #[arg(long)]
    resume: bool,
    /// Dry run: also refuse versions the registry's index already has (`check` and
    /// `--execute` always do; `--registry`/`--index` name the registry).
    #[arg(long, conflicts_with = "resume")]
    online: bool,
    /// Push the release commit and tags to this remote after every publish (default: no push).
    #[arg(long, value_name = "REMOTE")]
    push_remote: Option<String>,
    /// Folder for the release manifest and notes (default: target/release).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    #[command(flatten)]
    plan: PlanArgs,
    #[command(flatten)]
    gate: GateArgs,
    /// The workspace to release (default: the one containing the current directory).
    #[arg(long, value_name = "DIR")]
    workspace: Option<PathBuf>,
}

/// Refuses `flags` (given before `release NAME`) that `release NAME` does not use.
fn refuse(subcommand: &str, flags: &[&str]) -> anyhow::Result<()> {
    let hint = if subcommand.starts_with("--") {
        "it finishes the release recorded in the journal".to_owned()
    } else {
        format!("see `release {subcommand} --help`")
    };
    anyhow::ensure!(
        flags.is_empty(),
        "{} {} nothing with `release {subcommand}` ({hint})",
        flags.join(", "),
        if flags.len() == 1 { "does" } else { "do" }
    );
    Ok(())
}

pub fn run(args: ReleaseArgs, default_root: &Path) -> anyhow::Result<()> {
    let ReleaseArgs {
        action,
        format,
        execute,
        resume,
        online,
        push_remote,
        out,
        plan,
        gate,
        workspace,
    } = args;
    let Some(action) = action else {
        let root = workspace.unwrap_or_else(|| default_root.to_owned());
        let format = format.unwrap_or(Format::Human);
        if resume {
            // A resumed run acts on the journal's release, not on a new plan.
            refuse("--resume", &plan.given())?;
        }
        return plan_or_execute(
            &root,
            &plan,
            &gate,
            Run { execute, resume, online },
            push_remote,
            out,
            format,
        );
    };
    let mut before = Vec::new();
    before.extend(execute.then_some("--execute"));
    before.extend(resume.then_some("--resume"));
    before.extend(online.then_some("--online"));
    before.extend(push_remote.is_some().then_some("--push-remote"));
    before.extend(out.is_some().then_some("--out"));
    match action {
        Action::Check(args) => {
            refuse("check", &before)?;
            let root = args.workspace.or(workspace).unwrap_or_else(|| default_root.to_owned());
            let plan = plan.merge(args.plan);
            let gate = gate.merge(args.gate);
            check(&root, &plan, &gate, args.format.or(format).unwrap_or(Format::Human))
        }
        Action::Status(args) => {
            let mut unused = before;
            unused.extend(plan.given().into_iter().filter(|f| *f != "--date"));
            unused.extend(gate.given());
            refuse("status", &unused)?;
            let root = args.workspace.or(workspace).unwrap_or_else(|| default_root.to_owned());
            let date = PlanArgs { date: args.date.or(plan.date), ..PlanArgs::default() }.date()?;
            let config = ReleaseConfig::load(&root)?;
            let scope = Scope::compute(&root, &config, date)?;
            match args.format.or(format).unwrap_or(Format::Human) {
                Format::Human => print!("{}", scope.to_human()),
                Format::Json => println!("{}", serde_json::to_string_pretty(&scope)?),
            }
            Ok(())
        }
        Action::Audit(args) => {
            let mut unused = before;
            unused.extend(plan.given().into_iter().filter(|f| *f != "--tag-template"));
            unused.extend(
                gate.given()
                    .into_iter()
                    .filter(|f| !["--registry", "--index", "--cargo-home"].contains(f)),
            );
            refuse("audit", &unused)?;
            let root = args.workspace.or(workspace).unwrap_or_else(|| default_root.to_owned());
            let registry = args.registry.or(gate.registry);
            let cargo_home = args.cargo_home.or(gate.cargo_home);
            let index = match args.index.or(gate.index) {
                Some(url) => Index::new(url),
                None => Index::for_registry(registry.as_deref(), &root, cargo_home.as_deref())?,
            };
            let workspace = proofmark_release::Workspace::load(&root)?;
            let template = args
                .tag_template
                .or(plan.tag_template)
                .as_deref()
                .map(TagTemplate::new)
                .transpose()?
                .or(ReleaseConfig::load_workspace(&workspace)?.tag_template);
            let findings = execute::audit(&root, &index, template.as_ref())?;
            match args.format.or(format).unwrap_or(Format::Human) {
                Format::Human => {
                    for f in &findings {
                        println!("{} {}: {}", f.krate, f.version, f.problem);
                    }
                    println!("{} finding(s) against {}", findings.len(), index.url());
                }
                Format::Json => println!("{}", serde_json::to_string_pretty(&findings)?),
            }
            anyhow::ensure!(findings.is_empty(), "registry, tags and changelogs disagree");
            Ok(())
        }
        Action::Config(args) => {
            let mut unused = before;
            unused.extend(plan.given());
            unused.extend(gate.given());
            refuse("config", &unused)?;
            let root = args.workspace.or(workspace).unwrap_or_else(|| default_root.to_owned());
            let workspace = proofmark_release::Workspace::load(&root)?;
            let config = ReleaseConfig::load_workspace(&workspace)?;
            match args.format.or(format).unwrap_or(Format::Human) {
                Format::Human => print!("{}", config.to_human()),
                Format::Json => println!("{}", config.to_json()),
            }
            Ok(())
        }
        Action::Changelog(args) => {
            let mut unused = before;
            unused.extend(
                plan.given().into_iter().filter(|f| !["--crate", "--tag-template"].contains(f)),
            );
            unused.extend(gate.given());
            refuse("changelog", &unused)?;
            let root = args.workspace.or(workspace).unwrap_or_else(|| default_root.to_owned());
            let plan = PlanArgs {
                crates: [plan.crates, args.crates].concat(),
                tag_template: args.tag_template.or(plan.tag_template),
                ..PlanArgs::default()
            };
            changelog(&root, &plan.options()?, args.write, args.format.or(format))
        }
    }
}

fn changelog(
    root: &Path,
    options: &PlanOptions,
    write: bool,
    format: Option<Format>,
) -> anyhow::Result<()> {
    let mut workspace = proofmark_release::Workspace::load(root)?;
    let options = ReleaseConfig::load_workspace(&workspace)?.apply(&mut workspace, options);
    let repo = proofmark_release::history::Repo::open(&workspace.root)?;
    let regenerated = proofmark_release::regenerate::regenerate(&workspace, &repo, &options)?;
    for warning in &regenerated.warnings {
        eprintln!("warning: {warning}");
    }
    if write {
        for path in proofmark_release::regenerate::write(&workspace.root, &regenerated)? {
            println!("wrote {}", path.display());
        }
        return Ok(());
    }
    match format.unwrap_or(Format::Human) {
        Format::Human => {
            for changelog in &regenerated.crates {
                println!(
                    "==> {} ({}: {} release(s), {} entries) <==",
                    changelog.path, changelog.name, changelog.releases, changelog.entries
                );
                print!("{}", changelog.text);
            }
        }
        Format::Json => println!("{}", serde_json::to_string_pretty(&regenerated)?),
    }
    Ok(())
}

fn execute_options(
    root: &Path,
    plan: &PlanArgs,
    gate: &GateArgs,
    progress: ProgressSink,
) -> anyhow::Result<ExecuteOptions> {
    let config = ReleaseConfig::load(root)?;
    Ok(ExecuteOptions {
        registry: gate.registry.clone(),
        index: gate.index.clone(),
        no_verify: gate.no_verify || gate.offline,
        offline: gate.offline,
        skip_semver_checks: gate.skip_semver_checks || config.semver_checks == Some(false),
        fail_after: fail_after(),
        cargo_home: gate.cargo_home.clone(),
        config,
        today: Some(plan.date()?),
        progress,
        ..ExecuteOptions::default()
    })
}

fn check(root: &Path, plan: &PlanArgs, gate: &GateArgs, format: Format) -> anyhow::Result<()> {
    let view = ProgressView::new();
    let exec = execute_options(root, plan, gate, view.sink())?;
    let planned = proofmark_release::plan_workspace(root, &plan.options()?)
        .with_context(|| format!("planning the release of {}", root.display()))?;
    if !gate.offline {
        refuse_published(root, gate, &planned)?;
    }
    let workspace = proofmark_release::Workspace::load(root)?;
    let prepared = execute::prepare(root, &planned, &workspace)?;
    let readiness = execute::check(root, &prepared, &exec);
    view.finish();
    let readiness = readiness?;
    match format {
        Format::Human => print!("{}", readiness.to_markdown()),
        Format::Json => println!("{}", readiness.to_json()),
    }
    anyhow::ensure!(readiness.ok(), "the release is not ready");
    Ok(())
}

/// What the top-level run does besides planning.
#[derive(Clone, Copy, Debug)]
struct Run {
    execute: bool,
    resume: bool,
    online: bool,
}

/// Refuses a planned version that the registry's index already has: the registry is the one
/// `--registry`/`--index` name (default crates.io), read through cargo's configuration.
fn refuse_published(
    root: &Path,
    gate: &GateArgs,
    planned: &proofmark_release::ReleasePlan,
) -> anyhow::Result<()> {
    let index = match &gate.index {
        Some(url) => Index::new(url.clone()),
        None => Index::for_registry(gate.registry.as_deref(), root, gate.cargo_home.as_deref())?,
    };
    proofmark_release::registry::refuse_published(planned, &index)?;
    Ok(())
}

fn plan_or_execute(
    root: &Path,
    plan: &PlanArgs,
    gate: &GateArgs,
    run: Run,
    push_remote: Option<String>,
    out: Option<PathBuf>,
    format: Format,
) -> anyhow::Result<()> {
    if !run.execute && !run.resume {
        let mut unused = gate.given();
        if run.online {
            // --online reads the index of the registry these name.
            unused.retain(|f| !["--registry", "--index", "--cargo-home"].contains(f));
        }
        unused.extend(push_remote.is_some().then_some("--push-remote"));
        unused.extend(out.is_some().then_some("--out"));
        anyhow::ensure!(
            unused.is_empty(),
            "{} only {} to --execute and --resume (the dry run reads the workspace only; \
             `release check` takes the gate options)",
            unused.join(", "),
            if unused.len() == 1 { "applies" } else { "apply" }
        );
        let planned = proofmark_release::plan_workspace(root, &plan.options()?)
            .with_context(|| format!("planning the release of {}", root.display()))?;
        if run.online {
            refuse_published(root, gate, &planned)?;
        }
        match format {
            Format::Human => print!("{}", planned.to_human()),
            Format::Json => println!("{}", planned.to_json()),
        }
        return Ok(());
    }
    let view = ProgressView::new();
    let mut exec = execute_options(root, plan, gate, view.sink())?;
    exec.push_remote = push_remote;
    exec.out_dir = out;
    let result = if run.resume {
        execute::resume(root, &exec)
    } else {
        let planned = proofmark_release::plan_workspace(root, &plan.options()?)
            .with_context(|| format!("planning the release of {}", root.display()))?;
        // An unfinished journal makes --execute refuse and point at --resume: leave that to it.
        if !execute::journal_path(root)?.exists() {
            refuse_published(root, gate, &planned)?;
        }
        execute::execute(root, &planned, &exec)
    };
    view.finish();
    finish(result, format)
}

/// Prints the outcome of `--execute`/`--resume`; an injected failure aborts the process like
/// a crash would (no destructors, no further output), which is what the resume drill needs.
fn finish(result: Result<execute::Outcome, Error>, format: Format) -> anyhow::Result<()> {
    match result {
        Ok(outcome) => {
            match format {
                Format::Human => print!("{}", outcome.to_human()),
                Format::Json => println!("{}", serde_json::to_string_pretty(&outcome)?),
            }
            Ok(())
        }
        #[cfg(feature = "test-hooks")]
        Err(Error::Interrupted { step }) => {
            eprintln!("{FAIL_AFTER_VAR}: aborting after step {step}");
            std::process::abort()
        }
        Err(err) => Err(err.into()),
    }
}

/// Progress of the long steps on stderr: a spinner with the running step on a terminal, one
/// line per step otherwise (CI logs keep every line and no escape codes).
enum ProgressView {
    Lines,
    Spinner(indicatif::ProgressBar),
}

impl ProgressView {
    fn new() -> Self {
        if !std::io::stderr().is_terminal() {
            return Self::Lines;
        }
        let bar = indicatif::ProgressBar::new_spinner();
        let style = indicatif::ProgressStyle::with_template("{spinner} [{elapsed}] {wide_msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner());
        bar.set_style(style);
        // Packaging, semver checks and index polls take seconds to minutes: tick on our own.
        bar.enable_steady_tick(Duration::from_millis(200));
        Self::Spinner(bar)
    }

    fn sink(&self) -> ProgressSink {
        match self {
            Self::Lines => ProgressSink::new(|event| match event {
                Progress::Started { step, what } => eprintln!("release: {step}: {what}"),
                Progress::Waiting { step, until } => eprintln!(
                    "release: {step}: rate limited by the registry, waiting until {}",
                    utc(*until)
                ),
                Progress::Finished { .. } => {}
            }),
            Self::Spinner(bar) => {
                let bar = bar.clone();
                let started = std::sync::Mutex::new(Instant::now());
                ProgressSink::new(move |event| match event {
                    Progress::Started { step, what } => {
                        if let Ok(mut at) = started.lock() {
                            *at = Instant::now();
                        }
                        bar.reset_elapsed();
                        bar.set_message(format!("{step}: {what}"));
                    }
                    Progress::Waiting { step, until } => bar.set_message(format!(
                        "{step}: rate limited by the registry, waiting until {}",
                        utc(*until)
                    )),
                    Progress::Finished { step } => {
                        let seconds = started.lock().map_or(0.0, |at| at.elapsed().as_secs_f64());
                        bar.println(format!("done {step} ({seconds:.1} s)"));
                    }
                })
            }
        }
    }

    fn finish(&self) {
        if let Self::Spinner(bar) = self {
            bar.finish_and_clear();
        }
    }
}

/// `2026-11-28 15:10:00 UTC` for a Unix time.
fn utc(seconds: u64) -> String {
    let time = seconds % 86_400;
    format!(
        "{} {:02}:{:02}:{:02} UTC",
        Date::from_unix_seconds(seconds),
        time / 3600,
        time % 3600 / 60,
        time % 60
    )
}
