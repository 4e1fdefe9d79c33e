//! The CLI with TPM keys on a per-test swtpm; openssl judges the signatures.

#![allow(clippy::unwrap_used, reason = "helpers of tests: a panic is the failure report")]

use std::path::Path;
use std::process::{Command, Output};

use proofmark_test_support::stdout_ok as ok;
use proofmark_test_support::swtpm::Swtpm;
use proofmark_test_support::{require_tool, temp_dir};

fn proofmark(tpm: &Swtpm, args: &[&str], cwd: &Path) -> Output {
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

fn openssl_verifies(openssl: &Path, dir: &Path, public_pem: &str, sig_b64: &str, file: &str) {
    std::fs::write(dir.join("verify.pub"), public_pem).unwrap();
    std::fs::write(dir.join("verify.b64"), sig_b64.trim()).unwrap();
    ok(Command::new(openssl)
        .args(["base64", "-d", "-A", "-in", "verify.b64", "-out", "verify.der"])
        .current_dir(dir)
        .output()
        .unwrap());
    let out = Command::new(openssl)
        .args(["dgst", "-sha256", "-verify", "verify.pub", "-signature", "verify.der", file])
        .current_dir(dir)
        .output()
        .unwrap();
    assert_eq!(ok(out).trim(), "Verified OK");
}

#[test]
fn tpm_key_file_generate_public_sign_verify() {
    let Some(tpm) = Swtpm::start() else { return };
    let Some(openssl) = require_tool("openssl", "openssl") else { return };
    let dir = temp_dir("cli-tpm");
    let d = dir.path();
    std::fs::write(d.join("artifact"), b"image layer").unwrap();

    let public = ok(proofmark(&tpm, &["key", "generate", "tpm:signing.json"], d));
    assert!(d.join("signing.pub").exists() && d.join("signing.priv").exists(), "tpm2-tools files");
    // The public key comes from the key file alone.
    assert_eq!(ok(proofmark(&tpm, &["key", "public", "tpm:signing.json"], d)), public);

    let sig = ok(proofmark(&tpm, &["sign-blob", "--key", "tpm:signing.json", "artifact"], d));
    openssl_verifies(&openssl, d, &public, &sig, "artifact");

    std::fs::write(d.join("artifact.sig"), &sig).unwrap();
    std::fs::write(d.join("signing.pem"), &public).unwrap();
    let verdict = proofmark(
        &tpm,
        &["verify-blob", "--key", "signing.pem", "--signature", "artifact.sig", "artifact"],
        d,
    );
    assert!(verdict.status.success(), "{}", String::from_utf8_lossy(&verdict.stderr));
}

#[test]
fn tpm_persistent_key_lifecycle() {
    let Some(tpm) = Swtpm::start() else { return };
    let Some(openssl) = require_tool("openssl", "openssl") else { return };
    let dir = temp_dir("cli-tpm-persist");
    let d = dir.path();
    std::fs::write(d.join("artifact"), b"persisted").unwrap();

    let public = ok(proofmark(
        &tpm,
        &["key", "generate", "tpm:p.json", "--persist", "0x81000020", "--no-auth"],
        d,
    ));
    assert_eq!(ok(proofmark(&tpm, &["tpm", "list"], d)).trim(), "0x81000020");
    assert_eq!(ok(proofmark(&tpm, &["key", "public", "tpm:0x81000020"], d)), public);
    let sig = ok(proofmark(&tpm, &["sign-blob", "--key", "tpm:0x81000020", "artifact"], d));
    openssl_verifies(&openssl, d, &public, &sig, "artifact");

    ok(proofmark(&tpm, &["tpm", "evict", "0x81000020"], d));
    assert_eq!(ok(proofmark(&tpm, &["tpm", "list"], d)).trim(), "");
    let gone = proofmark(&tpm, &["sign-blob", "--key", "tpm:0x81000020", "artifact"], d);
    assert_eq!(gone.status.code(), Some(1));
    let err = String::from_utf8_lossy(&gone.stderr);
    assert!(err.contains("0x81000020"), "the error names the handle: {err}");
}

#[test]
fn tpm_info_reports_the_simulator() {
    let Some(tpm) = Swtpm::start() else { return };
    let dir = temp_dir("cli-tpm-info");
    let json = ok(proofmark(&tpm, &["tpm", "info", "--format", "json"], dir.path()));
    let info: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(info["tcti"], tpm.tcti());
    assert_eq!(info["manufacturer"], "IBM", "swtpm reports IBM's code: {info}");
    let algorithms = info["algorithms"].as_array().unwrap();
    assert!(algorithms.iter().any(|a| a == "ecdsa-sha2-256-nistp256"), "{info}");
    assert_eq!(info["lockout_counter"], 0);
}

#[test]
fn no_tpm_gives_an_error_naming_the_tcti() {
    let Some(mut tpm) = Swtpm::start() else { return };
    let dir = temp_dir("cli-no-tpm");
    tpm.kill();
    let out = proofmark(&tpm, &["tpm", "info"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&tpm.tcti()), "{err}");
}
