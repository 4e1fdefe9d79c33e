//! `proofmark sign` and `proofmark verify` of a registry image with a Parsec key (TPM provider
//! of a real parsec-service on a per-test swtpm). The public key is the one parsec-tool
//! exports, and a signature made through the library (`proofmark_cosign::sign_image` with a
//! `ParsecSigner`) verifies with the CLI too; sigstore-rs and openssl judge the same
//! signatures in `crates/proofmark-cosign/tests/parsec.rs`.

#![allow(clippy::unwrap_used, reason = "helpers of tests: a panic is the failure report")]

use std::path::Path;
use std::process::{Command, Output};

use proofmark_cosign::{SignOptions, sign_image};
use proofmark_parsec::{Parsec, ParsecSigner};
use proofmark_test_support::parsec::ParsecService;
use proofmark_test_support::registry::Registry;
use proofmark_test_support::stdout_ok as ok;
use proofmark_test_support::swtpm::Swtpm;
use proofmark_test_support::temp_dir;
use proofmark_types::{ParsecProvider, SignatureAlgorithm, Signer as _};

mod oci_image;
use oci_image::put_image;

fn proofmark(service: &ParsecService, args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_proofmark"))
        .args(args)
        .current_dir(cwd)
        .env("PARSEC_SERVICE_ENDPOINT", service.endpoint())
        .env("DOCKER_CONFIG", cwd)
        .env("TSS2_LOG", "all+NONE")
        .output()
        .unwrap()
}

#[test]
fn parsec_key_image_signatures_verify_with_proofmark_verify() {
    let Some(reg) = Registry::start() else { return };
    let Some(tpm) = Swtpm::start() else { return };
    let Some(service) = ParsecService::start(&tpm) else { return };
    let Some(mut tool) = service.parsec_tool() else { return };
    let dir = temp_dir("image-parsec");
    let d = dir.path();

    let client = proofmark_cosign::RegistryClient::new(proofmark_cosign::RegistryOptions {
        allow_insecure: vec![reg.addr()],
        ..Default::default()
    })
    .unwrap();
    let store = client.repository(&reg.addr(), "parsec/app");
    put_image(&store, "cli");
    put_image(&store, "lib");
    let insecure = ["--allow-insecure", &reg.addr()];
    let image = |tag: &str| format!("{}/parsec/app:{tag}", reg.addr());

    let parsec = Parsec::connect(Some(service.endpoint()), Some(ParsecProvider::Tpm)).unwrap();
    let signer =
        ParsecSigner::create(parsec, "image-key", SignatureAlgorithm::EcdsaP256Sha256).unwrap();
    // The verifying key comes from parsec-tool, not from us.
    let exported = tool.args(["-p", "3", "export-public-key", "-k", "image-key"]).output().unwrap();
    let pem = String::from_utf8(exported.stdout).unwrap();
    assert_eq!(pem.trim(), signer.public_key().to_pem().trim());
    std::fs::write(d.join("parsec.pub"), &pem).unwrap();

    // Signed by the CLI with the key reference, and by the library with the signer.
    let key = "parsec://image-key?provider=tpm";
    ok(proofmark(
        &service,
        &[&["sign", "--key", key][..], &insecure, &[&image("cli")]].concat(),
        d,
    ));
    let reference = format!("{}/parsec/app", reg.addr());
    sign_image(&store, "lib", &store, &reference, &signer, &SignOptions::default()).unwrap();

    for tag in ["cli", "lib"] {
        let image = image(tag);
        let verify = [&["verify", "--key", "parsec.pub"][..], &insecure, &[&image]].concat();
        let summary = ok(proofmark(&service, &verify, d));
        assert!(summary.contains("verified (1 of 1 required keys)"), "{tag}: {summary}");
    }
}
