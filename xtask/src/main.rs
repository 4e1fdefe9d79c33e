//! proofmark's task runner, after matklad's cargo-xtask: `cargo xtask <task>`.
//!
//! One thin binary that drives cargo and the system: `setup` installs the external components
//! the tests use, `ci` is exactly what CI runs, `test` and `bench` run the test tiers and the
//! criterion benches, `release` plans (and later executes) a release of this workspace.
//! It never links tss-esapi, so it builds before any system library is installed.

// Printing is this binary's whole user interface.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod bench;
mod ci;
mod cmd;
mod setup;
#[cfg(test)]
mod tidy;

use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(name = "cargo xtask", bin_name = "cargo xtask", about, version)]
struct Flags {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand, Debug)]
enum Task {
    /// Find the external components the tests need and install the missing ones (as root, with
    /// apt-get); otherwise print the command to run.
    Setup(setup::SetupArgs),
    /// Everything CI runs, in order: setup, fmt, clippy, every test tier, docs.
    Ci(ci::CiArgs),
    /// Run the tests (all tiers; tools that are missing skip their tests unless
    /// `--require-external`).
    Test(ci::TestArgs),
    /// Run the criterion benches and print every goal (met, missed or not measured, and why)
    /// and the ratios against each group's baseline; `--check` fails unless every goal is met.
    Bench(bench::BenchArgs),
    /// Plan a release of this workspace (dry run by default).
    Release(proofmark::commands::release::ReleaseArgs),
    /// Find published versions of this workspace's crates that no longer resolve or build, name
    /// the culprit, and recommend yank or no yank.
    CheckDeps(proofmark::commands::check_deps::CheckDepsArgs),
}

fn main() -> std::process::ExitCode {
    let flags = Flags::parse();
    let result = match flags.task {
        Task::Setup(args) => setup::run(&args),
        Task::Ci(args) => ci::run(&args),
        Task::Test(args) => ci::test(&args),
        Task::Bench(args) => bench::run(&args),
        Task::Release(args) => proofmark::commands::release::run(args, &project_root()),
        Task::CheckDeps(args) => proofmark::commands::check_deps::run(args, &project_root()),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The workspace root: the parent of this crate's folder.
fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_owned)
}
