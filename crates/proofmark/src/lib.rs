//! The command implementations shared by the `proofmark` binary and this workspace's `xtask`.
//!
//! `release` and `check-deps` are presentation over `proofmark-release` and `proofmark-deps`:
//! argument parsing, progress, printing and exit codes. They live here, in a library target,
//! so that `cargo xtask release` and `proofmark release` are the same code. The library target
//! needs no TPM: the `tpm` feature (on by default) only adds the binary's TPM support, so
//! `xtask`, which depends on this crate without default features, never compiles tss-esapi.

// This library is the CLI's presentation layer: printing is its job.
#![allow(clippy::print_stdout, clippy::print_stderr)]

/// Subcommands that work on any Cargo workspace.
pub mod commands {
    pub mod check_deps;
    pub mod release;
}

/// The README's examples, compiled (and, unless marked `no_run`, run) as doctests; not API.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
