//! `cargo xtask ci` and `cargo xtask test`: the exact sequence CI runs, one summary line a step.

use std::time::{Duration, Instant};

use anyhow::Context;

use crate::cmd;

#[derive(clap::Args, Debug)]
pub(crate) struct CiArgs {
    /// Skip `cargo xtask setup` (the components are known to be there).
    #[arg(long)]
    no_setup: bool,
}

#[derive(clap::Args, Debug)]
pub(crate) struct TestArgs {
    /// Fail, rather than skip, the tests whose external tools are missing.
    #[arg(long)]
    require_external: bool,
    /// Only run tests whose name contains this.
    filter: Option<String>,
}

/// A named step of the CI run.
struct Step {
    name: &'static str,
    run: fn() -> anyhow::Result<()>,
}

const STEPS: &[Step] = &[
    Step { name: "fmt", run: fmt },
    Step { name: "clippy", run: clippy },
    Step { name: "test", run: test_all },
    Step { name: "docs", run: docs },
];

pub(crate) fn run(args: &CiArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut done: Vec<(&str, Duration)> = Vec::new();
    if !args.no_setup {
        let t = Instant::now();
        crate::setup::run(&crate::setup::SetupArgs::default()).context("step `setup` failed")?;
        done.push(("setup", t.elapsed()));
        println!("ci: ok   setup ({:.1?})", t.elapsed());
    }
    for step in STEPS {
        println!("ci: ---- {}", step.name);
        let t = Instant::now();
        if let Err(err) = (step.run)() {
            summary(&done);
            println!("ci: FAIL {} ({:.1?})", step.name, t.elapsed());
            return Err(err.context(format!("step `{}` failed", step.name)));
        }
        done.push((step.name, t.elapsed()));
        println!("ci: ok   {} ({:.1?})", step.name, t.elapsed());
    }
    summary(&done);
    println!("ci: all {} steps passed in {:.1?}", done.len(), started.elapsed());
    Ok(())
}

fn summary(done: &[(&str, Duration)]) {
    println!("ci: summary");
    for (name, took) in done {
        println!("ci:   ok   {name:<8} {took:>8.1?}");
    }
}

fn fmt() -> anyhow::Result<()> {
    cmd::run(cmd::cargo().args(["fmt", "--all", "--check"]))?;
    Ok(())
}

fn clippy() -> anyhow::Result<()> {
    cmd::run(cmd::cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--locked",
        "--",
        "-D",
        "warnings",
    ]))?;
    // The drill hook's code (feature `test-hooks`, off in the build above) is linted too.
    cmd::run(cmd::cargo().args([
        "clippy",
        "-p",
        "proofmark",
        "--all-targets",
        "--locked",
        "--features",
        "test-hooks",
        "--",
        "-D",
        "warnings",
    ]))?;
    Ok(())
}

fn test_all() -> anyhow::Result<()> {
    test(&TestArgs { require_external: true, filter: None })
}

/// Every test of every tier: unit, integration (with swtpm, the registry and the other real
/// components, started per test by proofmark-test-support) and doc tests.
pub(crate) fn test(args: &TestArgs) -> anyhow::Result<()> {
    // The dogfood test vendors every crate of Cargo.lock, every platform's, from cargo's cache
    // (the tests talk to loopback only); a build fetches only the host's.
    cmd::run(cmd::cargo().args(["fetch", "--locked", "--quiet"]))?;
    let mut cargo = cmd::cargo();
    // `--no-fail-fast`: one red test binary must not hide the verdicts of the others.
    cargo.args(["test", "--workspace", "--locked", "--no-fail-fast"]);
    // The release drills (PROOFMARK_RELEASE_FAIL_AFTER) exist only with this feature, so the
    // shipped binary never has them; without it their tests are ignored, not silently gone.
    cargo.args(["--features", "proofmark/test-hooks"]);
    if args.require_external {
        cargo.env("PROOFMARK_REQUIRE_EXTERNAL", "1");
    }
    if let Some(filter) = &args.filter {
        cargo.args(["--", filter]);
    }
    // Cargo hides what passing tests print, so tests that skipped for a missing tool also write
    // a line to this log (proofmark-test-support), which we show after the run.
    let skip_log = crate::project_root().join("target/proofmark-skipped-tests.log");
    let _ = std::fs::remove_file(&skip_log);
    let result = cmd::run(&mut cargo);
    let skipped = std::fs::read_to_string(&skip_log).unwrap_or_default();
    let lines: Vec<&str> = skipped.lines().collect();
    if !lines.is_empty() {
        println!("test: {} test(s) skipped for missing components:", lines.len());
        for line in &lines {
            println!("  {line}");
        }
        println!("test: `cargo xtask setup` installs them");
    }
    result?;
    Ok(())
}

fn docs() -> anyhow::Result<()> {
    cmd::run(
        cmd::cargo()
            .args(["doc", "--workspace", "--no-deps", "--locked"])
            .env("RUSTDOCFLAGS", "-D warnings"),
    )?;
    Ok(())
}
