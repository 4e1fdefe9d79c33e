//! What the CLI tests on a per-test swtpm share: running `proofmark` against that TPM alone.

use std::path::Path;
use std::process::{Command, Output};

use proofmark_test_support::swtpm::Swtpm;

/// Runs `proofmark --tcti TPM ARGS` in `cwd`, with no other TPM named by the environment and
/// the TSS's own logging off.
pub(crate) fn proofmark(tpm: &Swtpm, args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_proofmark"))
        .arg("--tcti")
        .arg(tpm.tcti())
        .args(args)
        .current_dir(cwd)
        .env_remove("TPM2TOOLS_TCTI")
        .env_remove("TCTI")
        .env("TSS2_LOG", "all+NONE")
        .output()
        .unwrap()
}
