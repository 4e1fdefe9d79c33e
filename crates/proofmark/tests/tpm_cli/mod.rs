//! What the CLI tests on a per-test swtpm share: running `proofmark` against that TPM alone.

#![allow(dead_code, reason = "each test binary uses a part of this module")]

use std::path::Path;
use std::process::{Command, Output};

use proofmark_test_support::swtpm::Swtpm;

/// Runs `proofmark --tcti TPM ARGS` in `cwd`, with no other TPM named by the environment and
/// the TSS's own logging off.
pub(crate) fn proofmark(tpm: &Swtpm, args: &[&str], cwd: &Path) -> Output {
    proofmark_with_env(tpm, args, cwd, &[])
}

/// [`proofmark`] with extra environment variables.
pub(crate) fn proofmark_with_env(
    tpm: &Swtpm,
    args: &[&str],
    cwd: &Path,
    env: &[(&str, &str)],
) -> Output {
    Command::new(env!("CARGO_BIN_EXE_proofmark"))
        .arg("--tcti")
        .arg(tpm.tcti())
        .args(args)
        .current_dir(cwd)
        .env_remove("TPM2TOOLS_TCTI")
        .env_remove("TCTI")
        .env("TSS2_LOG", "all+NONE")
        .envs(env.iter().copied())
        .output()
        .unwrap()
}
