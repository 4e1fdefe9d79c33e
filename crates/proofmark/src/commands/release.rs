//! `release` (`cargo xtask release` in this workspace, `proofmark release` in any other Cargo
//! repository): plan, check, execute, resume and audit a release.
//!
//! Without subcommand or flag it prints the dry-run plan computed by `proofmark-release`
//! (which crates, which versions, in which order, which tags, the changelog sections to commit
//! before tagging, the files that change, and the commits no published crate owns). Offline,
//! read-only. `check` runs the readiness gate on a preview of the release commit, `status`
//! shows the release scope from `release.toml`, `audit` compares registry, tags and
//! changelogs, `--execute` and `--resume` perform the release (see docs/release.md).

use std::path::PathBuf;

use anyhow::Context as _;
use proofmark_release::config::ReleaseConfig;
use proofmark_release::execute::{self, ExecuteOptions};
use proofmark_release::readiness::Scope;
use proofmark_release::registry::Index;
use proofmark_release::{BumpRules, CrateOverride, Date, Error, PlanOptions, TagTemplate};

/// Fault injection for the resume tests and drills: stop right after this step's action.
const FAIL_AFTER_VAR: &str = "PROOFMARK_RELEASE_FAIL_AFTER";

/// What to do besides printing the plan.
#[derive(clap::Subcommand, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// The readiness gate on a preview of the release commit, as a Markdown checklist (or
    /// JSON); exits 1 when a check fails.
    Check,
    /// What is left of the release scope in release.toml (date train, required features).
    Status,
    /// Compare registry versions, release tags and changelog sections; exit 1 on drift.
    Audit,
    /// Rebuild every crate's whole changelog from its release tags (one section per tag) and
    /// print it; with --write, replace the CHANGELOG.md files. For repositories whose
    /// changelogs are missing or were written after the tags.
    Changelog {
        /// Replace each crate's CHANGELOG.md (hand edits in it are lost; review with git diff).
        #[arg(long)]
        write: bool,
    },
}

/// Output format of the plan.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A table and per-crate sections.
    Human,
    /// The `ReleasePlan` as JSON.
    Json,
}

#[derive(clap::Args, Debug)]
pub struct ReleaseArgs {
    #[command(subcommand)]
    action: Option<Action>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human, global = true)]
    format: Format,
    /// Execute the plan: gate, write, commit, gate again, publish, tag, (push), with a journal.
    #[arg(long, conflicts_with = "resume")]
    execute: bool,
    /// Finish the release recorded in the unfinished journal.
    #[arg(long)]
    resume: bool,
    /// Publish to this registry (`cargo publish --registry NAME`; default crates.io).
    #[arg(long, value_name = "NAME", global = true)]
    registry: Option<String>,
    /// Publish to this index URL (`cargo publish --index URL`) and poll it.
    #[arg(long, value_name = "URL", global = true)]
    index: Option<String>,
    /// Push the release commit and tags to this remote after every publish (default: no push).
    #[arg(long, value_name = "REMOTE")]
    push_remote: Option<String>,
    /// Folder for the release manifest and notes (default: target/release).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Package without building (`cargo package --no-verify`).
    #[arg(long, global = true)]
    no_verify: bool,
    /// Run cargo offline in `check` (implies --no-verify).
    #[arg(long, global = true)]
    offline: bool,
    /// Do not run cargo-semver-checks in the gate (by default it runs when installed).
    #[arg(long, global = true)]
    skip_semver_checks: bool,
    /// Run cargo with this CARGO_HOME (registry configuration and token).
    #[arg(long, value_name = "DIR", global = true)]
    cargo_home: Option<PathBuf>,
    /// Dry run: also refuse versions the registry index already has (check and --execute do).
    #[arg(long)]
    online: bool,
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
    /// The workspace to plan (default: this repository's workspace).
    #[arg(long, value_name = "DIR")]
    workspace: Option<PathBuf>,
}

pub fn run(args: ReleaseArgs, default_root: &std::path::Path) -> anyhow::Result<()> {
    let date = match &args.date {
        Some(text) => text.parse::<Date>()?,
        None => Date::today_utc(),
    };
    let mut options = PlanOptions::new(date);
    options.only = args.crates;
    options.overrides =
        args.bumps.iter().map(|text| text.parse::<CrateOverride>()).collect::<Result<_, _>>()?;
    options.rules = BumpRules {
        zero_breaking_is_minor: !args.zero_breaking_is_major,
        zero_feature_is_patch: !args.zero_feature_is_minor,
    };
    options.tag_template = args.tag_template.as_deref().map(TagTemplate::new).transpose()?;
    options.pre = args.pre.clone();
    let root = args.workspace.clone().unwrap_or_else(|| default_root.to_owned());
    let config = ReleaseConfig::load(&root)?;
    let exec = ExecuteOptions {
        registry: args.registry.clone(),
        index: args.index.clone(),
        push_remote: args.push_remote.clone(),
        out_dir: args.out.clone(),
        no_verify: args.no_verify || args.offline,
        offline: args.offline,
        skip_semver_checks: args.skip_semver_checks,
        fail_after: std::env::var(FAIL_AFTER_VAR).ok().filter(|s| !s.is_empty()),
        cargo_home: args.cargo_home.clone(),
        config: config.clone(),
        today: Some(date),
        ..ExecuteOptions::default()
    };
    match args.action {
        Some(Action::Status) => {
            let scope = Scope::compute(&root, &config, date)?;
            match args.format {
                Format::Human => print!("{}", scope.to_human()),
                Format::Json => println!("{}", serde_json::to_string_pretty(&scope)?),
            }
            return Ok(());
        }
        Some(Action::Audit) => {
            let index = match &args.index {
                Some(url) => Index::new(url.clone()),
                None => Index::for_registry(
                    args.registry.as_deref(),
                    &root,
                    exec.cargo_home.as_deref(),
                )?,
            };
            let findings = execute::audit(&root, &index, options.tag_template.as_ref())?;
            match args.format {
                Format::Human => {
                    for f in &findings {
                        println!("{} {}: {}", f.krate, f.version, f.problem);
                    }
                    println!("{} finding(s) against {}", findings.len(), index.url());
                }
                Format::Json => println!("{}", serde_json::to_string_pretty(&findings)?),
            }
            anyhow::ensure!(findings.is_empty(), "registry, tags and changelogs disagree");
            return Ok(());
        }
        Some(Action::Changelog { write }) => {
            let workspace = proofmark_release::Workspace::load(&root)?;
            let repo = proofmark_release::history::Repo::open(&workspace.root)?;
            let regenerated =
                proofmark_release::regenerate::regenerate(&workspace, &repo, &options)?;
            for warning in &regenerated.warnings {
                eprintln!("warning: {warning}");
            }
            if write {
                for path in proofmark_release::regenerate::write(&workspace.root, &regenerated)? {
                    println!("wrote {}", path.display());
                }
                return Ok(());
            }
            match args.format {
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
            return Ok(());
        }
        _ => {}
    }
    if args.resume {
        return finish(execute::resume(&root, &exec), args.format);
    }
    let plan = proofmark_release::plan_workspace(&root, &options)
        .with_context(|| format!("planning the release of {}", root.display()))?;
    let check = args.action == Some(Action::Check);
    // An unfinished journal makes --execute refuse and point at --resume: leave that to it.
    let unfinished = args.execute && execute::journal_path(&root)?.exists();
    if (args.online || args.execute || (check && !args.offline)) && !unfinished {
        let index = match &args.index {
            Some(url) => Index::new(url.clone()),
            None => {
                Index::for_registry(args.registry.as_deref(), &root, exec.cargo_home.as_deref())?
            }
        };
        proofmark_release::registry::refuse_published(&plan, &index)?;
    }
    if args.action == Some(Action::Check) {
        let workspace = proofmark_release::Workspace::load(&root)?;
        let prepared = execute::prepare(&root, &plan, &workspace)?;
        let readiness = execute::check(&root, &prepared, &exec)?;
        match args.format {
            Format::Human => print!("{}", readiness.to_markdown()),
            Format::Json => println!("{}", readiness.to_json()),
        }
        anyhow::ensure!(readiness.ok(), "the release is not ready");
        return Ok(());
    }
    if args.execute {
        return finish(execute::execute(&root, &plan, &exec), args.format);
    }
    match args.format {
        Format::Human => print!("{}", plan.to_human()),
        Format::Json => println!("{}", plan.to_json()),
    }
    Ok(())
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
        Err(Error::Interrupted { step }) => {
            eprintln!("{FAIL_AFTER_VAR}: aborting after step {step}");
            std::process::abort()
        }
        Err(err) => Err(err.into()),
    }
}
