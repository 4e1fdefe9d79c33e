//! Writes the release benchmark's synthetic repository (50,000 commits over 20 crates) into
//! a folder, to reproduce the benchmark by hand or try other tools on it:
//! `cargo run --release -p proofmark-test-support --example synthetic_history -- DIR`.

#![allow(clippy::print_stderr, reason = "a command-line tool reports on stderr")]

use std::path::PathBuf;

use proofmark_test_support::history::Synthetic;

fn main() -> Result<(), String> {
    let dir =
        std::env::args_os().nth(1).map(PathBuf::from).ok_or("usage: synthetic_history DIR")?;
    let git = which_git()?;
    let started = std::time::Instant::now();
    Synthetic::BENCH.build(&git, &dir)?;
    eprintln!("built {} in {:.1?}", dir.display(), started.elapsed());
    Ok(())
}

fn which_git() -> Result<PathBuf, String> {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|p| p.join("git"))
        .find(|p| p.is_file())
        .ok_or_else(|| "git is not on PATH (Debian package git)".to_owned())
}
