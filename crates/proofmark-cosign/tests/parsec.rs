//! A cosign-format image signature made with a Parsec key (TPM provider on a per-test swtpm,
//! through a real parsec-service), pushed to a real registry and verified by ours (the
//! engine of `proofmark verify`), by sigstore-rs's cosign verifier and by openssl.
#![allow(clippy::unwrap_used, reason = "tests")]

mod common;

use proofmark_cosign::{SignOptions, VerifyOptions, VerifyStatus, sign_image, verify_image};
use proofmark_parsec::{Parsec, ParsecSigner};
use proofmark_test_support::parsec::ParsecService;
use proofmark_test_support::registry::Registry;
use proofmark_test_support::require_tool;
use proofmark_test_support::swtpm::Swtpm;
use proofmark_types::{ParsecProvider, SignatureAlgorithm, Signer as _, SoftwareSigner};

#[test]
fn parsec_tpm_key_signs_an_image_that_cosign_verifiers_accept() {
    let Some(reg) = Registry::start() else { return };
    let Some(tpm) = Swtpm::start() else { return };
    let Some(service) = ParsecService::start(&tpm) else { return };
    let parsec = Parsec::connect(Some(service.endpoint()), Some(ParsecProvider::Tpm)).unwrap();
    let signer =
        ParsecSigner::create(parsec, "cosign-image", SignatureAlgorithm::EcdsaP256Sha256).unwrap();
    let pem = signer.public_key().to_pem();

    let repo = "test/parsec";
    let client = common::client(&reg.addr());
    let store = client.repository(&reg.addr(), repo);
    let digest = common::push_image(&store, "v1", repo);
    let docker_reference = format!("{}/{repo}", reg.addr());
    let signed =
        sign_image(&store, "v1", &store, &docker_reference, &signer, &SignOptions::legacy())
            .unwrap();
    assert_eq!(signed.len(), 1);
    assert!(signed[0].added);
    assert_eq!(signed[0].image_digest, digest);

    // Ours, as `proofmark verify --key parsec.pub` runs it: the public key from its PEM alone.
    let key = proofmark_types::PublicKey::from_pem(&pem).unwrap();
    let report = verify_image(
        &store,
        "v1",
        &store,
        &VerifyOptions::new(vec![key], docker_reference.clone()),
    )
    .unwrap();
    assert_eq!(report.status, VerifyStatus::Verified, "{}", report.summary());
    let json = report.cosign_json();
    assert_eq!(json[0]["critical"]["image"]["docker-manifest-digest"], digest.as_str());
    assert_eq!(json[0]["critical"]["identity"]["docker-reference"], docker_reference.as_str());

    // sigstore-rs's cosign verification, independently; a stranger's key is refused.
    let image = format!("{docker_reference}:v1");
    assert!(common::sigstore_verifies(&reg.addr(), &image, &pem));
    let stranger = SoftwareSigner::generate(SignatureAlgorithm::EcdsaP256Sha256)
        .unwrap()
        .public_key()
        .to_pem();
    assert!(!common::sigstore_verifies(&reg.addr(), &image, &stranger));

    // openssl, on bytes fetched with plain HTTP; and parsec-tool exports the same key.
    if let Some(openssl) = require_tool("openssl", "openssl") {
        assert_eq!(common::openssl_count_valid(&openssl, &reg.url(), repo, &digest, &pem), 1);
        assert_eq!(common::openssl_count_valid(&openssl, &reg.url(), repo, &digest, &stranger), 0);
    }
    if let Some(mut tool) = service.parsec_tool() {
        let out =
            tool.args(["-p", "3", "export-public-key", "-k", "cosign-image"]).output().unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), pem.trim());
    }
}
