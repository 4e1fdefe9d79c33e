//! The harness every proofmark crate's tests use: real external components, never mocks.
//!
//! - [`require_tool`] gates a test on a tool from `PATH`. Locally a missing tool skips the test
//!   with a message; when [`external_required`] (CI, or `cargo xtask ci`) it fails the test and
//!   names the Debian package to install, so a test never skips silently there.
//! - [`swtpm::Swtpm`] starts one software TPM per test on a free loopback port pair.
//! - [`registry::Registry`] starts Debian's `docker-registry` per test on a free loopback port.
//!   Its own TLS (a private CA from `openssl`, [`tls::TestCa`]) and htpasswd basic auth
//!   (`htpasswd -B`) replace scripted servers; [`referrers_api::ReferrersApi`] is the one
//!   scripted addition, for the OCI 1.1 referrers API distribution 2.8 lacks.
//!
//! Everything is killed and cleaned up on drop. Errors panic with context: this crate only runs
//! inside tests, where a panic is the failure report.

// Panicking with a message is how a test harness reports a broken environment.
#![allow(clippy::panic, clippy::expect_used, clippy::print_stderr)]

pub mod bench;
pub mod cargo_registry;
pub mod history;
pub mod kms;
pub mod net;
pub mod parsec;
pub mod referrers_api;
pub mod registry;
pub mod swtpm;
pub mod tls;
pub mod tools;

use std::path::PathBuf;
use std::process::Command;

/// Makes `cmd`'s child close every inherited descriptor above stderr when it execs.
///
/// libtss2's socket TCTI opens its sockets without close-on-exec. Tests run in parallel
/// threads of one process, so a server another test spawns (an swtpm, a registry) would
/// inherit a test's open TPM connection and keep it alive after the test closed it; swtpm
/// serves one connection at a time, so that test's next client then hangs. Every process the
/// harness starts goes through this.
#[allow(unsafe_code, reason = "pre_exec is unsafe; the closure only makes async-signal-safe calls")]
pub fn isolate(cmd: &mut Command) -> &mut Command {
    use std::os::unix::process::CommandExt as _;
    // SAFETY: the closure runs between fork and exec and only makes raw system calls that
    // are async-signal-safe (close_range, fcntl); it allocates nothing and takes no lock.
    unsafe {
        cmd.pre_exec(|| {
            // CLOSE_RANGE_CLOEXEC (Linux 5.11): mark, do not close, so that std's own
            // exec-error pipe still works if exec fails.
            const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
            let done = libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, CLOSE_RANGE_CLOEXEC);
            if done != 0 {
                for fd in 3..4096 {
                    libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
                }
            }
            Ok(())
        })
    }
}

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

/// The OpenSSL 3 `tpm2` provider module (Debian's `tpm2-openssl`), found in the modules folder
/// `openssl version -m` names; `None` when openssl or the module is missing.
pub fn openssl_tpm2_provider() -> Option<PathBuf> {
    let openssl = which("openssl")?;
    let out = Command::new(openssl).args(["version", "-m"]).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    // `MODULESDIR: "/usr/lib/x86_64-linux-gnu/ossl-modules"`
    let dir = text.split('"').nth(1)?;
    let module = PathBuf::from(dir).join("tpm2.so");
    module.is_file().then_some(module)
}

#[cfg(test)]
mod isolate_tests {
    use std::os::fd::AsRawFd as _;
    use std::process::Command;

    /// What a child sees of the parent's descriptors, with and without `isolate`.
    #[test]
    #[allow(unsafe_code, reason = "dup makes a descriptor without close-on-exec, as libtss2 does")]
    fn children_do_not_inherit_descriptors() {
        let file = std::fs::File::open("/dev/null").unwrap_or_else(|e| panic!("{e}"));
        // SAFETY: dup of a valid descriptor; closed below.
        let leaky = unsafe { libc::dup(file.as_raw_fd()) };
        assert!(leaky > 2, "dup failed");
        let listed = |isolated: bool| {
            let mut cmd = Command::new("ls");
            cmd.arg("/proc/self/fd");
            if isolated {
                super::isolate(&mut cmd);
            }
            let out = cmd.output().unwrap_or_else(|e| panic!("{e}"));
            String::from_utf8_lossy(&out.stdout).lines().any(|l| l == leaky.to_string())
        };
        assert!(listed(false), "without isolate the child inherits fd {leaky}");
        assert!(!listed(true), "with isolate it must not");
        // SAFETY: our own descriptor, closed once.
        unsafe { libc::close(leaky) };
    }
}
