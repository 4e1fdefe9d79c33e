//! The harness every proofmark crate's tests use: real external components, never mocks.
//!
//! - [`require_tool`] gates a test on a tool from `PATH`. Locally a missing tool skips the test
//!   with a message; when [`external_required`] (CI, or `cargo xtask ci`) it fails the test and
//!   names the Debian package to install, so a test never skips silently there.
//! - [`swtpm::Swtpm`] starts one software TPM per test on a free loopback port pair.
//! - [`registry::Registry`] starts Debian's `docker-registry` per test on a free loopback port.
//!
//! Everything is killed and cleaned up on drop. Errors panic with context: this crate only runs
//! inside tests, where a panic is the failure report.

// Panicking with a message is how a test harness reports a broken environment.
#![allow(clippy::panic, clippy::expect_used, clippy::print_stderr)]

pub mod cargo_registry;
pub mod history;
pub mod kms;
pub mod net;
pub mod parsec;
pub mod registry;
pub mod swtpm;
pub mod tools;

use std::path::PathBuf;

/// The variable that turns a missing external tool from a skip into a failure.
pub const REQUIRE_EXTERNAL_VAR: &str = "PROOFMARK_REQUIRE_EXTERNAL";

/// True when tests must not skip: `PROOFMARK_REQUIRE_EXTERNAL=1` (set by `cargo xtask ci`) or
/// `CI=true`.
pub fn external_required() -> bool {
    let set = |var: &str, want: &[&str]| {
        std::env::var(var).is_ok_and(|v| want.iter().any(|w| v.eq_ignore_ascii_case(w)))
    };
    set(REQUIRE_EXTERNAL_VAR, &["1", "true", "yes"]) || set("CI", &["1", "true"])
}

/// Finds `tool` on `PATH`.
pub fn which(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(tool))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &std::path::Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The path of `tool`, or `None` after printing why the calling test is skipped.
///
/// # Panics
///
/// When the tool is missing and [`external_required`] is true; the message names `package`.
pub fn require_tool(tool: &str, package: &str) -> Option<PathBuf> {
    if let Some(path) = which(tool) {
        return Some(path);
    }
    missing(tool, package)
}

/// Reports a missing component: a skip locally, a failure when external components are required.
///
/// Returns `None` so callers can write `return missing(..)`.
///
/// # Panics
///
/// When [`external_required`] is true.
pub fn missing<T>(what: &str, package: &str) -> Option<T> {
    let test = std::thread::current().name().unwrap_or("<unnamed>").to_owned();
    if external_required() {
        panic!(
            "{what} is required by test `{test}` but was not found; install the Debian package \
             `{package}` (`cargo xtask setup` does it) — {REQUIRE_EXTERNAL_VAR}=1 or CI=true \
             forbids skipping"
        );
    }
    let reason = format!(
        "skipping test `{test}`: {what} not found (install the Debian package `{package}`, or run \
         `cargo xtask setup`)"
    );
    eprintln!("{reason}");
    record_skip(&reason);
    None
}

/// Where skipped tests are listed, so `cargo xtask test` can report them after cargo has hidden
/// the output of every passing test.
pub fn skip_log() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"),
        PathBuf::from,
    );
    target.join("proofmark-skipped-tests.log")
}

fn record_skip(reason: &str) {
    use std::io::Write as _;
    let path = skip_log();
    // Best effort: the skip itself was already printed.
    if let Ok(mut file) = std::fs::OpenOptions::new().create(true).append(true).open(path) {
        let _ = writeln!(file, "{reason}");
    }
}

/// The standard output of a finished command, as text, after asserting that it succeeded.
///
/// # Panics
///
/// When the command failed (the message shows its status and standard error) or its output is
/// not UTF-8.
pub fn stdout_ok(out: std::process::Output) -> String {
    assert!(
        out.status.success(),
        "status {}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("standard output is UTF-8")
}

/// A fresh temporary directory, removed on drop.
pub fn temp_dir(prefix: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("proofmark-{prefix}-"))
        .tempdir()
        .expect("create a temporary directory")
}
