//! What the proofmark-tpm test crates (`attest`, `it`, `tss2`) share: the TCTI of a test
//! simulator and running a judge's command.

use std::process::Command;

use proofmark_test_support::swtpm::Swtpm;
use proofmark_tpm::Tcti;

/// The TCTI of a test simulator.
pub(crate) fn tcti(tpm: &Swtpm) -> Tcti {
    Tcti::parse(&tpm.tcti()).unwrap()
}

/// Runs a command and returns its stdout, failing the test with its output otherwise.
pub(crate) fn run(cmd: &mut Command) -> Vec<u8> {
    let out = cmd.output().unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}
