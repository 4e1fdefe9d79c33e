//! Integration tests of proofmark-tpm against a real software TPM (one swtpm per test), with
//! OpenSSL and tpm2-tools as independent judges.

#![allow(clippy::unwrap_used, reason = "helpers of tests: a panic is the failure report")]

#[path = "../common/mod.rs"]
mod common;
mod failures;
mod interop;
mod keyfile;
mod restart;
mod sign;

use common::{run, tcti};

use std::path::Path;
use std::process::Command;

use proofmark_test_support::swtpm::Swtpm;
use proofmark_types::SignatureAlgorithm;

/// A tpm2-tools command aimed at `tpm`; `None` skips the test when tpm2-tools is missing.
fn tool(tpm: &Swtpm, program: &str) -> Option<Command> {
    tpm.tpm2_tool(program)
}

/// Flushes every transient object: swtpm has no resource manager and only 3 slots.
fn flush_transients(tpm: &Swtpm) {
    if let Some(mut cmd) = tool(tpm, "tpm2_flushcontext") {
        run(cmd.arg("-t"));
    }
}

/// Checks `signature` over `message` with OpenSSL as the judge (`openssl dgst -verify`).
fn openssl_verify(
    openssl: &Path,
    dir: &Path,
    algorithm: SignatureAlgorithm,
    pem: &str,
    message: &[u8],
    signature: &[u8],
) {
    let (pem_path, msg_path, sig_path) =
        (dir.join("openssl-pub.pem"), dir.join("openssl-msg"), dir.join("openssl-sig"));
    std::fs::write(&pem_path, pem).unwrap();
    std::fs::write(&msg_path, message).unwrap();
    std::fs::write(&sig_path, signature).unwrap();
    let mut cmd = Command::new(openssl);
    cmd.arg("dgst").arg(format!("-{}", algorithm.hash()));
    if algorithm.rsa_padding() == Some(proofmark_types::RsaPadding::Pss) {
        cmd.args(["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:auto"]);
    }
    cmd.arg("-verify").arg(&pem_path).arg("-signature").arg(&sig_path).arg(&msg_path);
    let out = run(&mut cmd);
    assert_eq!(String::from_utf8_lossy(&out).trim(), "Verified OK", "{algorithm}");
}
