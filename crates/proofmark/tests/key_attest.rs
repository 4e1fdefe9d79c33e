//! `proofmark key attest`, `key verify-attestation` and `key activate-credential` on a per-test
//! swtpm: the whole verifier's flow on a TPM with a CA-issued EK certificate, and every kind of
//! bad evidence rejected with an error that names what is wrong.

#![allow(clippy::unwrap_used, reason = "tests: a panic is the failure report")]

use std::path::Path;
use std::process::{Command, Output};

use expect_test::expect;
use proofmark_test_support::swtpm::{EkCa, Swtpm};
use proofmark_test_support::{require_tool, temp_dir};

mod attest_common;
use attest_common::{failure, ok};
mod tpm_cli;
use tpm_cli::proofmark;

const NONCE: &str = "5eed00112233445566778899aabbccdd";

/// Generates a key and attests it into `att`; returns the folder.
fn attested(tpm: &Swtpm, dir: &Path) {
    let out = proofmark(tpm, &["key", "generate", "tpm:signing.json"], dir);
    std::fs::write(dir.join("signing.pub"), ok(&out)).unwrap();
    let out = proofmark(
        tpm,
        &["key", "attest", "tpm:signing.json", "--nonce", NONCE, "--out", "att"],
        dir,
    );
    ok(&out);
}

/// `key verify-attestation` of `key` by `ak` over the folder `att`, with the test's nonce.
fn verify_attestation(tpm: &Swtpm, dir: &Path, key: &str, ak: &str, att: &str) -> Output {
    let args = ["key", "verify-attestation", "--key", key, "--ak", ak, "--nonce", NONCE, att];
    proofmark(tpm, &args, dir)
}

/// `key verify-attestation` of the first key and attestation, with `extra` arguments.
fn verify(tpm: &Swtpm, dir: &Path, extra: &[&str]) -> Output {
    let mut args =
        vec!["key", "verify-attestation", "--key", "signing.pub", "--ak", "att/ak.pub.pem"];
    args.extend_from_slice(extra);
    if !extra.contains(&"--nonce") {
        args.extend_from_slice(&["--nonce", NONCE]);
    }
    args.push("att");
    proofmark(tpm, &args, dir)
}

#[test]
fn the_verifier_binds_the_ak_to_a_certified_ek_by_a_challenge() {
    let Some(ca) = EkCa::new() else { return };
    let Some(tpm) = Swtpm::start_with_ek_cert(&ca) else { return };
    let Some(openssl) = require_tool("openssl", "openssl") else { return };
    let dir = temp_dir("cli-attest");
    let d = dir.path();
    attested(&tpm, d);
    std::fs::copy(ca.bundle(), d.join("ca.pem")).unwrap();

    // The judges: OpenSSL for the signature and the EK certificate's chain.
    let out = Command::new(&openssl)
        .args(["dgst", "-sha256", "-verify", "att/ak.pub.pem", "-signature", "att/attest.sig"])
        .arg("att/attest.bin")
        .current_dir(d)
        .output()
        .unwrap();
    assert_eq!(ok(&out).trim(), "Verified OK");
    let out = Command::new(&openssl)
        .args(["verify", "-CAfile", "ca.pem", "att/ek.crt"])
        .current_dir(d)
        .output()
        .unwrap();
    assert!(ok(&out).contains("OK"));

    let ek = ["--ek-ca", "ca.pem", "--secret", "secret.bin"];
    let out = verify(&tpm, d, &ek);
    assert_eq!(out.status.code(), Some(4), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(d.join("att/challenge.cred").exists() && d.join("secret.bin").exists());

    // A challenge answered by another TPM (same CA, another EK) is refused by that TPM.
    let other = Swtpm::start_with_ek_cert(&ca).unwrap();
    let out = proofmark(&other, &["key", "activate-credential", "att"], d);
    assert_eq!(out.status.code(), Some(1));
    assert!(!d.join("att/challenge.answer").exists());

    ok(&proofmark(&tpm, &["key", "activate-credential", "att"], d));
    let out = verify(&tpm, d, &[&ek[..], &["--format", "json"]].concat());
    let json: serde_json::Value = serde_json::from_str(&ok(&out)).unwrap();
    assert_eq!(json["verified"], true);
    assert_eq!(
        json["ek_binding"],
        "bound: the TPM holding the certified EK answered the challenge"
    );

    // A forged answer.
    std::fs::write(d.join("att/challenge.answer"), [0u8; 32]).unwrap();
    let out = verify(&tpm, d, &ek);
    expect![[r#"exit Some(3): error: att/challenge.answer does not hold the challenge's secret: the AK is not on the TPM that holds the EK certified by att/ek.crt (or the challenge was made again since)"#]]
    .assert_eq(&failure(&out));

    // An EK certificate of another CA.
    let Some(other_ca) = EkCa::new() else { return };
    let _other = Swtpm::start_with_ek_cert(&other_ca).unwrap();
    std::fs::copy(other_ca.bundle(), d.join("other-ca.pem")).unwrap();
    let out = verify(&tpm, d, &["--ek-ca", "other-ca.pem", "--secret", "secret.bin"]);
    expect!["exit Some(3): error: att/ek.crt does not chain to other-ca.pem: the EK certificate does not chain to the given CA: no CA certificate named CN=swtpm-localca signed CN=unknown"]
    .assert_eq(&failure(&out));
}

#[test]
fn bad_evidence_is_rejected_naming_what_is_wrong() {
    let Some(tpm) = Swtpm::start() else { return };
    let dir = temp_dir("cli-attest-bad");
    let d = dir.path();
    attested(&tpm, d);
    ok(&verify(&tpm, d, &[]));
    // --ek-ca on a TPM without an EK certificate.
    std::fs::write(d.join("ca.pem"), "").unwrap();
    let out = verify(&tpm, d, &["--ek-ca", "ca.pem", "--secret", "s.bin"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no RSA EK certificate"));
    // A second attestation, of another key, with another AK.
    let out = proofmark(&tpm, &["key", "generate", "tpm:other.json"], d);
    std::fs::write(d.join("other.pub"), ok(&out)).unwrap();
    ok(&proofmark(
        &tpm,
        &["key", "attest", "tpm:other.json", "--nonce", NONCE, "--out", "att2"],
        d,
    ));

    let out = verify(&tpm, d, &["--nonce", "00112233"]);
    expect![[r#"exit Some(3): error: the attestation in att does not hold: the attestation's nonce (extraData) is <hex>, not the expected 00112233: a replay or another session"#]]
    .assert_eq(&failure(&out));

    let out = verify_attestation(&tpm, d, "signing.pub", "att2/ak.pub.pem", "att");
    expect![[r#"exit Some(3): error: the attestation in att does not hold: the signature over attest.bin does not verify with the attestation key sha256:<hex>: another AK signed it, or it signs other bytes"#]]
    .assert_eq(&failure(&out));

    let out = verify_attestation(&tpm, d, "other.pub", "att/ak.pub.pem", "att");
    expect![[r#"exit Some(3): error: the attestation in att does not hold: the key public area holds key sha256:<hex>, not the given sha256:<hex>"#]]
    .assert_eq(&failure(&out));

    // A signature over other bytes.
    std::fs::copy(d.join("att2/attest.sig"), d.join("att/attest.sig")).unwrap();
    std::fs::copy(d.join("att2/ak.pub.pem"), d.join("att/ak.pub.pem")).unwrap();
    std::fs::copy(d.join("att2/ak.pub"), d.join("att/ak.pub")).unwrap();
    let out = verify(&tpm, d, &[]);
    expect![[r#"exit Some(3): error: the attestation in att does not hold: the signature over attest.bin does not verify with the attestation key sha256:<hex>: another AK signed it, or it signs other bytes"#]]
    .assert_eq(&failure(&out));

    // A truncated attestation, signed by nobody: the signature check comes first.
    let attest = std::fs::read(d.join("att2/attest.bin")).unwrap();
    std::fs::write(d.join("att2/attest.bin"), &attest[..20]).unwrap();
    let out = verify_attestation(&tpm, d, "other.pub", "att2/ak.pub.pem", "att2");
    assert_eq!(out.status.code(), Some(3));

    // Missing files and a foreign key file.
    std::fs::remove_file(d.join("att2/key.pub")).unwrap();
    let out = verify_attestation(&tpm, d, "other.pub", "att2/ak.pub.pem", "att2");
    expect![[r#"exit Some(1): error: cannot read att2/key.pub: is att2 a folder `proofmark key attest` wrote?: No such file or directory (os error 2)"#]]
    .assert_eq(&failure(&out));
    let out = verify_attestation(&tpm, d, "signing.json", "att/ak.pub.pem", "att");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("signing.json is not a public key"));

    // Bad arguments: a non-hex nonce, an occupied folder.
    let out = proofmark(
        &tpm,
        &["key", "attest", "tpm:signing.json", "--nonce", "xyz", "--out", "new"],
        d,
    );
    expect!["exit Some(1): error: --nonce xyz is not hex (e.g. `openssl rand -hex 16`): Odd number of digits"]
    .assert_eq(&failure(&out));
    let out = proofmark(
        &tpm,
        &["key", "attest", "tpm:signing.json", "--nonce", NONCE, "--out", "att"],
        d,
    );
    expect![[r#"exit Some(1): error: att exists and is not empty; give a new folder to --out"#]]
        .assert_eq(&failure(&out));
}
