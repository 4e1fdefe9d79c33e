//! `check-deps` (`cargo xtask check-deps` in this workspace, `proofmark check-deps` in any other):
//! does every published version of a workspace's crates still
//! resolve and build for a fresh consumer, and should any be yanked?
//!
//! A thin driver over `proofmark-deps` (see docs/check-deps.md and docs/yank-policy.md): it
//! picks the targets (the workspace's publishable crates by default), reads the registry cargo
//! is configured with, prints the report and exits 0 (nothing to do), 1 (warnings) or 2 (an
//! action is recommended). It never yanks anything: it prints the `cargo yank` command.

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use anyhow::Context as _;
use proofmark_deps::cargo::{CargoEnv, Toolchain};
use proofmark_deps::index::{Index, RegistrySource};
use proofmark_deps::policy::{Action, Policy};
use proofmark_deps::probe::{ProbeOptions, Stage};
use proofmark_deps::report::{self, Format, Report};
use proofmark_deps::{CheckOptions, Progress, Shard, Target};

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

#[derive(clap::Subcommand, Debug)]
pub enum CheckDepsAction {
    /// Merge the JSON reports of `--shard I/N` runs into one report.
    Merge {
        /// The JSON reports.
        #[arg(required = true)]
        reports: Vec<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = FormatArg::Human)]
        format: FormatArg,
        /// Write the report here instead of stdout.
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
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
    /// A local RustSec advisory-db checkout to join advisories from.
    #[arg(long, value_name = "PATH")]
    advisory_db: Option<PathBuf>,
    /// Suppression file (default: check-deps.toml at the workspace root, when present).
    #[arg(long, value_name = "FILE")]
    suppressions: Option<PathBuf>,
    /// Probes run at once.
    #[arg(long, default_value_t = 1)]
    workers: usize,
    /// CPU budget shared by the probes (default: all cores).
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
    /// Check only shard I of N (whole crates per shard); combine with `check-deps merge`.
    #[arg(long, value_name = "I/N")]
    shard: Option<String>,
    /// Do not read or write the results cache (target/check-deps/cache).
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

pub fn run(args: CheckDepsArgs, default_root: &std::path::Path) -> anyhow::Result<()> {
    if let Some(CheckDepsAction::Merge { reports, format, output }) = args.action {
        let reports = reports.iter().map(|p| Report::read(p)).collect::<Result<Vec<_>, _>>()?;
        let merged = Report::merge(reports).context("no reports to merge")?;
        return finish(&merged, format, output.as_ref());
    }
    let root = default_root.to_owned();
    let cargo = PathBuf::from(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    let targets: Vec<Target> = if args.targets.is_empty() {
        proofmark_deps::workspace_crates(&cargo, &root)?
            .into_iter()
            .map(|name| Target { name, versions: proofmark_deps::VersionSpec::All })
            .collect()
    } else {
        args.targets.iter().map(|t| t.parse()).collect::<Result<_, _>>()?
    };
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    let cargo_home = cargo_home.context("neither CARGO_HOME nor HOME is set")?;
    let source = RegistrySource::from_cargo_config(&cargo_home, &root, args.registry.as_deref())?;
    let index = Index::new(source);
    let toolchain = Toolchain::detect()?;
    let work = root.join("target").join("check-deps");
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
        build_jobs: (cpus / workers).max(1),
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
        },
        workers,
        advisory_db: args.advisory_db.clone(),
        policy: Policy {
            on_fixed_vulnerability: match args.on_advisory {
                OnAdvisory::Yank => Action::Yank,
                OnAdvisory::Human => Action::NeedsHuman,
            },
            ..Policy::default()
        },
        shard: args.shard.as_deref().map(str::parse::<Shard>).transpose()?,
        cache_dir: (!args.no_cache).then(|| work.join("cache")),
    };
    let progress = ProgressView::new(args.quiet);
    let report = proofmark_deps::check(&index, &env, &toolchain, &opts, &|p| progress.update(p));
    progress.finish();
    let mut report = report?;
    let suppressions = args.suppressions.or_else(|| {
        let default = root.join("check-deps.toml");
        default.exists().then_some(default)
    });
    if let Some(path) = suppressions {
        let list = report::read_suppressions(&path)?;
        report::apply_suppressions(&mut report, &list, &report::today());
    }
    finish(&report, args.format, args.output.as_ref())
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

fn finish(report: &Report, format: FormatArg, output: Option<&PathBuf>) -> anyhow::Result<()> {
    let text = report.render(format.into());
    match output {
        Some(path) => {
            std::fs::write(path, &text).with_context(|| format!("write {}", path.display()))?
        }
        None => print!("{text}"),
    }
    let code = report.exit_code();
    if code != 0 {
        // Severity is the exit status (1 warnings, 2 action recommended), not an error.
        std::process::exit(code);
    }
    Ok(())
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
    fn probe_timeout_defaults_to_an_hour_and_zero_disables_it() {
        let cli = Cli::try_parse_from(["x"]).unwrap();
        assert_eq!((cli.args.timeout, cli.args.probe_timeout), (900, 3600));
        let cli = Cli::try_parse_from(["x", "--probe-timeout", "0"]).unwrap();
        assert_eq!(cli.args.probe_timeout, 0);
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
