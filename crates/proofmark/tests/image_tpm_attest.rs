//! Issue 15 item 4: a TPM key signs an image and attaches its key attestation
//! (`attest --type …/tpm-key-attestation/v1`), and `verify --require-tpm-attestation` accepts
//! only keys whose attestation holds, on a per-test docker-registry and an swtpm with a
//! CA-issued EK certificate.

#![allow(clippy::unwrap_used, reason = "tests: a panic is the failure report")]

use std::path::Path;
use std::process::{Command, Output};

use expect_test::expect;
use proofmark_test_support::registry::Registry;
use proofmark_test_support::swtpm::{EkCa, Swtpm};
use proofmark_test_support::temp_dir;

mod attest_common;
use attest_common::{failure, ok};

mod oci_image;
use oci_image::put_image_seeded;

const TYPE: &str = "https://github.com/proofmark/proofmark/tpm-key-attestation/v1";

fn proofmark(tpm: &Swtpm, args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_proofmark"))
        .arg("--tcti")
        .arg(tpm.tcti())
        .args(args)
        .current_dir(cwd)
        .env("DOCKER_CONFIG", cwd)
        .env_remove("TPM2TOOLS_TCTI")
        .env_remove("TCTI")
        .env("TSS2_LOG", "all+NONE")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

/// Generates the TPM key `name`, writes `name.pub`, attests it into `name-att` with its
/// fingerprint as the nonce; returns the nonce.
fn tpm_key(tpm: &Swtpm, d: &Path, name: &str) -> String {
    let public = ok(&proofmark(tpm, &["key", "generate", &format!("tpm:{name}.json")], d));
    std::fs::write(d.join(format!("{name}.pub")), &public).unwrap();
    let key = proofmark_types::PublicKey::from_pem(public.as_bytes()).unwrap();
    let nonce = key.fingerprint_sha256().to_string().trim_start_matches("sha256:").to_owned();
    let (key, out) = (format!("tpm:{name}.json"), format!("{name}-att"));
    ok(&proofmark(tpm, &["key", "attest", &key, "--nonce", &nonce, "--out", &out], d));
    nonce
}

#[test]
fn an_image_signed_by_a_tpm_key_carries_its_attestation() {
    let Some(ca) = EkCa::new() else { return };
    let Some(tpm) = Swtpm::start_with_ek_cert(&ca) else { return };
    let Some(reg) = Registry::start() else { return };
    let dir = temp_dir("image-tpm-attest");
    let d = dir.path();
    std::fs::copy(ca.bundle(), d.join("ca.pem")).unwrap();
    let addr = reg.addr();
    let client = proofmark_cosign::RegistryClient::new(proofmark_cosign::RegistryOptions {
        allow_insecure: vec![addr.clone()],
        ..Default::default()
    })
    .unwrap();
    let store = client.repository(&addr, "tpm/app");
    put_image_seeded(&store, "v1", "one");
    put_image_seeded(&store, "v2", "two");
    let (image, image2) = (format!("{addr}/tpm/app:v1"), format!("{addr}/tpm/app:v2"));
    let registry = ["--allow-insecure", addr.as_str()];
    let run = |args: &[&str]| proofmark(&tpm, &[args, &registry[..]].concat(), d);

    // The prover attests the key once; the verifier binds the AK to the certified EK.
    let nonce = tpm_key(&tpm, d, "signing");
    let enrol = [
        "key",
        "verify-attestation",
        "--key",
        "signing.pub",
        "--ak",
        "signing-att/ak.pub.pem",
        "--nonce",
        &nonce,
        "--ek-ca",
        "ca.pem",
        "--secret",
        "secret.bin",
        "signing-att",
    ];
    assert_eq!(proofmark(&tpm, &enrol, d).status.code(), Some(4));
    ok(&proofmark(&tpm, &["key", "activate-credential", "signing-att"], d));
    ok(&proofmark(&tpm, &enrol, d));
    std::fs::copy(d.join("signing-att/ak.pub.pem"), d.join("trusted-ak.pem")).unwrap();

    ok(&run(&["sign", "--key", "tpm:signing.json", &image]));
    // Without the folder, the error says how to make it, nonce included.
    let out = run(&["attest", "--type", TYPE, "--key", "tpm:signing.json", &image]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains(&format!("--nonce {nonce} --out DIR")));
    let attest = ["attest", "--type", TYPE, "--key", "tpm:signing.json", "--predicate"];
    ok(&run(&[&attest[..], &["signing-att", &image]].concat()));

    // The predicate carries the evidence as base64 next to the signing key's fingerprint.
    let out = run(&[
        "verify-attestation",
        "--key",
        "signing.pub",
        "--type",
        TYPE,
        "--output",
        "json",
        &image,
    ]);
    let envelopes: serde_json::Value = serde_json::from_str(&ok(&out)).unwrap();
    let payload = envelopes[0]["payload"].as_str().unwrap();
    use base64::Engine as _;
    let statement: serde_json::Value =
        serde_json::from_slice(&base64::engine::general_purpose::STANDARD.decode(payload).unwrap())
            .unwrap();
    let predicate = &statement["predicate"];
    assert_eq!(predicate["nonce"], nonce.as_str());
    assert_eq!(predicate["key"], format!("sha256:{nonce}"));
    for field in ["attest", "signature", "akPublic", "keyPublic", "ekCertificate"] {
        assert!(predicate[field].as_str().is_some_and(|s| !s.is_empty()), "{field}: {predicate}");
    }

    let require = ["verify", "--require-tpm-attestation", "--ak", "trusted-ak.pem"];
    let out = run(&[&require[..], &["--ek-ca", "ca.pem", "--key", "signing.pub", &image]].concat());
    ok(&out);
    expect!["TPM attestation: sha256:<hex> never left a TPM (trusted AK)"]
        .assert_eq(failure(&out).trim_start_matches("exit Some(0): "));
    // An EK certificate of another CA than --ek-ca names.
    let Some(other_ca) = EkCa::new() else { return };
    let _other_tpm = Swtpm::start_with_ek_cert(&other_ca).unwrap();
    std::fs::copy(other_ca.bundle(), d.join("other-ca.pem")).unwrap();
    let out =
        run(&[&require[..], &["--ek-ca", "other-ca.pem", "--key", "signing.pub", &image]].concat());
    expect![[r#"
        exit Some(3): error: the TPM key attestation signed by sha256:<hex>: the attestation's EK certificate does not chain to --ek-ca: the EK certificate does not chain to the given CA: no CA certificate named CN=swtpm-localca signed CN=unknown
        error: 0 of the keys that signed sha256:<hex> carry a TPM key attestation that holds; --require-tpm-attestation needs 1"#]]
    .assert_eq(&failure(&out));
    // Plain verify is unchanged by the attestation referrer.
    ok(&run(&["verify", "--key", "signing.pub", &image]));

    // --require-tpm-attestation without a trusted AK is refused: nothing would bind the AK.
    let out = run(&["verify", "--require-tpm-attestation", "--key", "signing.pub", &image]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--ak <PEM>"));

    // An AK the verifier never bound.
    tpm_key(&tpm, d, "other");
    let out = run(&[
        "verify",
        "--require-tpm-attestation",
        "--ak",
        "other-att/ak.pub.pem",
        "--key",
        "signing.pub",
        &image,
    ]);
    expect![[r#"
        exit Some(3): error: the TPM key attestation signed by sha256:<hex>: the attestation key sha256:<hex> is not one of the --ak keys: only an AK the verifier bound to a TPM's EK (`key verify-attestation --ek-ca`) makes the evidence mean anything
        error: 0 of the keys that signed sha256:<hex> carry a TPM key attestation that holds; --require-tpm-attestation needs 1"#]]
    .assert_eq(&failure(&out));

    // Another key's attestation is refused when attaching it.
    let out = run(&[&attest[..], &["other-att", &image]].concat());
    assert_eq!(out.status.code(), Some(1));
    expect![[r#"exit Some(1): error: other-att does not attest the signing key sha256:<hex> with the nonce <hex> (its fingerprint): the TPM key attestation does not hold: the attestation's nonce (extraData) is <hex>, not the expected <hex>: a replay or another session"#]]
    .assert_eq(&failure(&out));
    // An image signed by `signing` but attested only by `other`.
    ok(&run(&["sign", "--key", "tpm:signing.json", &image2]));
    let attest_other = ["attest", "--type", TYPE, "--key", "tpm:other.json", "--predicate"];
    ok(&run(&[&attest_other[..], &["other-att", &image2]].concat()));
    let out = run(&[&require[..], &["--key", "signing.pub", &image2]].concat());
    expect![[r#"
        exit Some(3): error: no TPM key attestation signed by sha256:<hex> is attached to sha256:<hex> (attach one with `proofmark attest --type https://github.com/proofmark/proofmark/tpm-key-attestation/v1 --key tpm:KEY IMAGE`)
        error: 0 of the keys that signed sha256:<hex> carry a TPM key attestation that holds; --require-tpm-attestation needs 1"#]]
    .assert_eq(&failure(&out));

    // An image signed by a file key: no attestation can exist.
    ok(&proofmark(&tpm, &["key", "generate", "file:file.key"], d));
    let public = ok(&proofmark(&tpm, &["key", "public", "file:file.key"], d));
    std::fs::write(d.join("file.pub"), public).unwrap();
    ok(&run(&["sign", "--key", "file:file.key", &image]));
    ok(&run(&["verify", "--key", "file.pub", &image]));
    let out = run(&[&require[..], &["--key", "file.pub", &image]].concat());
    assert_eq!(out.status.code(), Some(3));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no TPM key attestation signed by"),
        "{}",
        failure(&out)
    );

    // The file key copies the TPM key's evidence into an attestation it signs (the CLI
    // refuses to; a forger would not ask it): the verifier sees another key's evidence.
    let pem = std::fs::read(d.join("file.key")).unwrap();
    let signer = proofmark_types::SoftwareSigner::from_pkcs8_pem(&pem, None).unwrap();
    let spec = proofmark_cosign::StatementSpec {
        predicate_type: TYPE.to_owned(),
        predicate: predicate.clone(),
    };
    let opts = proofmark_cosign::SignOptions::default();
    proofmark_cosign::attest_image(&store, "v1", &store, &spec, &signer, &opts).unwrap();
    let out = run(&[&require[..], &["--key", "file.pub", &image]].concat());
    expect![[r#"
        exit Some(3): error: the TPM key attestation signed by sha256:<hex>: the TPM key attestation does not hold: the attestation's nonce (extraData) is <hex>, not the expected <hex>: a replay or another session
        error: 0 of the keys that signed sha256:<hex> carry a TPM key attestation that holds; --require-tpm-attestation needs 1"#]]
    .assert_eq(&failure(&out));
}
