//! The release history engine against git-cliff and `git log`, on a synthetic repository of
//! 50,000 commits over 20 crates whose last release tags are 2,000 commits back
//! ([`Synthetic::BENCH`], written with `git fast-import`), with the shapes of real families
//! ([`Shapes::BENCH`]): releases made on a branch and merged back, pre-release tags on `main`,
//! and a maintenance branch whose release holds cherry-picks of `main`'s fixes.
//!
//! Groups (`cargo xtask bench` reports each function against `baseline` and the goals in
//! xtask):
//! - `changelog_unreleased`: every crate's unreleased section.
//!   - `baseline`: git-cliff `=2.12.0` once per crate, `--unreleased --include-path
//!     'crates/cNN/**' --tag-pattern '^cNN-v'`, with its Keep a Changelog configuration;
//!   - `proofmark`: [`proofmark_release::plan_workspace`], the whole dry-run plan (it also reads
//!     the workspace with `cargo metadata`, infers versions and renders every section);
//!   - `git_log`: the floor, one `git log --name-only --diff-merges=first-parent` of the same
//!     range (`HEAD` minus every crate's last tag), which prints the commits and the paths
//!     they changed and nothing else.
//! - `changelog_full`: every crate's complete changelog, every release section.
//!   - `baseline`: git-cliff over the whole history **once, for the whole repository** (no
//!     `--include-path`). This is a fraction of the per-crate work: one changelog instead of
//!     twenty, and no path filtering — with `--include-path` git-cliff takes about four times
//!     as long for a single crate. So the ratio understates proofmark's lead.
//!   - `proofmark`: [`proofmark_release::regenerate::regenerate`] for all 20 crates;
//!   - `git_log`: the floor, one `git log --name-only --diff-merges=first-parent` of the whole
//!     history.
//!
//! git-cliff is installed from crates.io into the tool cache on first use
//! (`proofmark_test_support::tools::BENCH_TOOLS`). Without git the bench says why and exits.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a benchmark reports on stdout and a panic is its failure report"
)]

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use proofmark_release::history::Repo;
use proofmark_release::{Date, PlanOptions, Workspace};
use proofmark_test_support::history::{Shapes, Synthetic};

struct Fixture {
    _temp: tempfile::TempDir,
    repo: PathBuf,
    git: PathBuf,
    cliff: PathBuf,
    cliff_config: PathBuf,
}

fn fixture() -> Option<Fixture> {
    let git = proofmark_test_support::require_tool("git", "git")?;
    let cliff = proofmark_test_support::tools::cargo_tool("git-cliff")?;
    let temp = proofmark_test_support::temp_dir("release-bench");
    let repo = temp.path().join("repo");
    let started = std::time::Instant::now();
    Synthetic::BENCH.build_with(&Shapes::BENCH, &git, &repo).unwrap();
    println!("built the synthetic repository in {:.1?}", started.elapsed());
    // git-cliff's own Keep a Changelog configuration, kept outside the repository.
    let config_dir = temp.path().join("cliff");
    std::fs::create_dir_all(&config_dir).unwrap();
    run(Command::new(&cliff).current_dir(&config_dir).args(["--init", "keepachangelog"]));
    let cliff_config = config_dir.join("cliff.toml");
    assert!(cliff_config.is_file(), "git-cliff --init wrote no cliff.toml");
    Some(Fixture { _temp: temp, repo, git, cliff, cliff_config })
}

/// Runs `cmd` with its output discarded; panics if it fails. Returns the bytes it printed.
fn run(cmd: &mut Command) -> usize {
    let out = cmd.stdin(Stdio::null()).output().unwrap();
    assert!(out.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout.len()
}

fn options() -> PlanOptions {
    PlanOptions::new(Date::new(2026, 11, 28).unwrap())
}

fn cliff(f: &Fixture, args: &[&str]) -> usize {
    run(Command::new(&f.cliff)
        .current_dir(&f.repo)
        .arg("--config")
        .arg(&f.cliff_config)
        .args(args)
        .env("NO_COLOR", "1"))
}

fn git_log(f: &Fixture, range: &[String]) -> usize {
    run(Command::new(&f.git)
        .current_dir(&f.repo)
        .args([
            "log",
            "--format=%H%x00%P%x00%an%x00%at%x00%B%x00",
            "--name-only",
            "--diff-merges=first-parent",
        ])
        .args(range))
}

fn last_tags() -> Vec<String> {
    (0..Synthetic::BENCH.crates)
        .map(|k| format!("^{}0.{}.0", Synthetic::tag_prefix(k), Synthetic::BENCH.releases))
        .collect()
}

fn unreleased(c: &mut Criterion, f: &Fixture) {
    // Sanity: everyone sees the same unreleased work.
    let plan = proofmark_release::plan_workspace(&f.repo, &options()).unwrap();
    assert_eq!(plan.releases.len(), Synthetic::BENCH.crates, "{}", plan.to_human());
    assert_eq!(plan.already_released.len(), Shapes::BENCH.cherry_picks, "{}", plan.to_human());
    let entries: usize =
        plan.releases.iter().map(|r| r.section.as_ref().map_or(0, |s| s.entries.len())).sum();
    println!(
        "changelog_unreleased: {} commits after the last tags, {entries} entries over {} crates",
        plan.stats.commits_unreleased,
        plan.releases.len()
    );
    let mut range = vec!["HEAD".to_owned()];
    range.extend(last_tags());

    let mut group = c.benchmark_group("changelog_unreleased");
    group.sample_size(10).warm_up_time(Duration::from_millis(1));
    group.bench_function("baseline", |b| {
        b.iter(|| {
            let mut bytes = 0;
            for k in 0..Synthetic::BENCH.crates {
                let include = format!("{}/**", Synthetic::crate_dir(k));
                let pattern = format!("^{}", Synthetic::tag_prefix(k));
                bytes += cliff(
                    f,
                    &["--unreleased", "--include-path", &include, "--tag-pattern", &pattern],
                );
            }
            bytes
        });
    });
    group.bench_function("proofmark", |b| {
        b.iter(|| proofmark_release::plan_workspace(&f.repo, &options()).unwrap());
    });
    group.bench_function("git_log", |b| b.iter(|| git_log(f, &range)));
    group.finish();
}

fn full(c: &mut Criterion, f: &Fixture) {
    let workspace = Workspace::load(&f.repo).unwrap();
    let regenerate = || {
        let repo = Repo::open(&f.repo).unwrap();
        proofmark_release::regenerate::regenerate(&workspace, &repo, &options()).unwrap()
    };
    let once = regenerate();
    let sections: usize = once.crates.iter().map(|c| c.releases).sum();
    let entries: usize = once.crates.iter().map(|c| c.entries).sum();
    println!(
        "changelog_full: {} commits, {} changelogs, {sections} release sections, {entries} entries",
        once.commits,
        once.crates.len()
    );
    // Every release, plus the pre-release tags on main (the maintenance tag is off HEAD).
    assert_eq!(
        sections,
        Synthetic::BENCH.crates * Synthetic::BENCH.releases + Shapes::BENCH.prereleases
    );

    let mut group = c.benchmark_group("changelog_full");
    group.sample_size(10).warm_up_time(Duration::from_millis(1));
    group.bench_function("baseline", |b| b.iter(|| cliff(f, &[])));
    group.bench_function("proofmark", |b| {
        b.iter(|| {
            // Loading the workspace is part of the job.
            let workspace = Workspace::load(&f.repo).unwrap();
            let repo = Repo::open(&f.repo).unwrap();
            proofmark_release::regenerate::regenerate(&workspace, &repo, &options()).unwrap()
        });
    });
    group.bench_function("git_log", |b| b.iter(|| git_log(f, &["HEAD".to_owned()])));
    group.finish();
}

fn benches(c: &mut Criterion) {
    let Some(f) = fixture() else {
        println!("release history bench skipped: git or git-cliff is not available");
        return;
    };
    unreleased(c, &f);
    full(c, &f);
}

criterion_group!(history, benches);
criterion_main!(history);
