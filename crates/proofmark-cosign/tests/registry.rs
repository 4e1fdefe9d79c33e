//! Sign and verify against a real registry (Debian's docker-registry), cross-checked with
//! sigstore-rs's cosign verifier and openssl.
#![allow(clippy::unwrap_used, reason = "tests")]

mod common;

use std::sync::Arc;

use proofmark_cosign::{
    ImageStore as _, SignOptions, VerifyOptions, VerifyStatus, sign_image, verify_image,
};
use proofmark_test_support::registry::Registry;
use proofmark_test_support::require_tool;
use proofmark_types::{KeyRef, SignatureAlgorithm, Signer, SoftwareSigner};

fn software_key() -> SoftwareSigner {
    SoftwareSigner::generate(SignatureAlgorithm::EcdsaP256Sha256).unwrap()
}

/// Signs with `signer`, then checks our verifier, sigstore-rs and openssl all accept it.
fn round_trip(reg: &Registry, repo: &str, signers: &[&dyn Signer]) {
    let client = common::client(&reg.addr());
    let store = client.repository(&reg.addr(), repo);
    let digest = common::push_image(&store, "v1", repo);
    let docker_reference = format!("{}/{repo}", reg.addr());
    for signer in signers {
        let signed =
            sign_image(&store, "v1", &store, &docker_reference, *signer, &SignOptions::default())
                .unwrap();
        assert_eq!(signed.len(), 1);
        assert!(signed[0].added);
        assert_eq!(signed[0].image_digest, digest);
    }

    // Ours: all keys, threshold = all.
    let keys = signers.iter().map(|s| s.public_key().clone()).collect::<Vec<_>>();
    let mut opts = VerifyOptions::new(keys.clone(), docker_reference.clone());
    opts.threshold = keys.len();
    let report = verify_image(&store, "v1", &store, &opts).unwrap();
    assert_eq!(report.status, VerifyStatus::Verified, "{}", report.summary());
    assert_eq!(report.verified_keys.len(), signers.len());
    let json = report.cosign_json();
    assert_eq!(json.as_array().unwrap().len(), signers.len());
    assert_eq!(json[0]["critical"]["image"]["docker-manifest-digest"], digest.as_str());
    assert_eq!(json[0]["critical"]["identity"]["docker-reference"], docker_reference.as_str());

    // sigstore-rs, independently.
    for signer in signers {
        let pem = signer.public_key().to_pem();
        assert!(common::sigstore_verifies(&reg.addr(), &format!("{docker_reference}:v1"), &pem));
    }
    let stranger = software_key().public_key().to_pem();
    assert!(!common::sigstore_verifies(&reg.addr(), &format!("{docker_reference}:v1"), &stranger));

    // openssl, on bytes fetched with plain HTTP.
    if let Some(openssl) = require_tool("openssl", "openssl") {
        for signer in signers {
            let pem = signer.public_key().to_pem();
            assert_eq!(common::openssl_count_valid(&openssl, &reg.url(), repo, &digest, &pem), 1);
        }
        assert_eq!(common::openssl_count_valid(&openssl, &reg.url(), repo, &digest, &stranger), 0);
    }
}

#[test]
fn software_key_round_trip() {
    let Some(reg) = Registry::start() else { return };
    let a = software_key();
    let b = software_key();
    round_trip(&reg, "test/soft", &[&a, &b]);
}

#[test]
fn tpm_key_round_trip() {
    use proofmark_test_support::swtpm::Swtpm;
    use proofmark_tpm::{KeyAuth, ParentTemplate, Tcti, Tpm, TpmSigner};
    let Some(reg) = Registry::start() else { return };
    let Some(swtpm) = Swtpm::start() else { return };
    let tcti = Tcti::parse(&swtpm.tcti()).unwrap();
    let key = Tpm::connect(&tcti)
        .unwrap()
        .create_key(SignatureAlgorithm::EcdsaP256Sha256, ParentTemplate::EccP256, &KeyAuth::Random)
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cosign.tpmkey");
    key.save(&path).unwrap();
    let tpm = TpmSigner::open_key_ref(&tcti, &KeyRef::TpmKeyFile(path), None).unwrap();
    let soft = software_key();
    round_trip(&reg, "test/tpm", &[&tpm, &soft]);
}

#[test]
fn eight_concurrent_signers() {
    let Some(reg) = Registry::start() else { return };
    let client = common::client(&reg.addr());
    let store = client.repository(&reg.addr(), "test/race");
    common::push_image(&store, "v1", "race");
    let reference = format!("{}/test/race", reg.addr());
    let signers: Vec<Arc<SoftwareSigner>> = (0..8).map(|_| Arc::new(software_key())).collect();
    let barrier = Arc::new(std::sync::Barrier::new(signers.len()));
    let handles: Vec<_> = signers
        .iter()
        .map(|signer| {
            let (signer, barrier, store, reference) =
                (signer.clone(), barrier.clone(), store.clone(), reference.clone());
            std::thread::spawn(move || {
                barrier.wait();
                sign_image(&store, "v1", &store, &reference, &*signer, &SignOptions::default())
                    .unwrap()
            })
        })
        .collect();
    let attempts: Vec<u32> = handles.into_iter().map(|h| h.join().unwrap()[0].attempts).collect();
    let keys: Vec<_> = signers.iter().map(|s| s.public_key().clone()).collect();
    let mut opts = VerifyOptions::new(keys, reference.clone());
    opts.threshold = 8;
    let report = verify_image(&store, "v1", &store, &opts).unwrap();
    assert_eq!(
        report.status,
        VerifyStatus::Verified,
        "{}\nattempts {attempts:?}",
        report.summary()
    );
    assert_eq!(report.layers.len(), 8);
}

/// Six signers each sign the same three images (one named twice) in one `sign_many` batch, all
/// at once: every image ends up with all six signatures.
#[test]
fn concurrent_batches_lose_nothing() {
    use proofmark_cosign::SignTarget;
    let Some(reg) = Registry::start() else { return };
    let client = common::client(&reg.addr());
    let store = client.repository(&reg.addr(), "test/batch");
    let tags = ["a", "b", "c"];
    for tag in tags {
        common::push_image(&store, tag, tag);
    }
    let reference = format!("{}/test/batch", reg.addr());
    let signers: Vec<Arc<SoftwareSigner>> = (0..6).map(|_| Arc::new(software_key())).collect();
    let barrier = Arc::new(std::sync::Barrier::new(signers.len()));
    let handles: Vec<_> = signers
        .iter()
        .map(|signer| {
            let (signer, barrier, store, reference) =
                (signer.clone(), barrier.clone(), store.clone(), reference.clone());
            std::thread::spawn(move || {
                let targets: Vec<SignTarget<'_>> = ["a", "b", "c", "a"]
                    .iter()
                    .map(|tag| SignTarget {
                        image: &store,
                        reference: tag,
                        signatures: &store,
                        docker_reference: &reference,
                    })
                    .collect();
                barrier.wait();
                proofmark_cosign::sign_many(&targets, &*signer, &SignOptions::default()).unwrap()
            })
        })
        .collect();
    for h in handles {
        let signed = h.join().unwrap();
        // `a` twice in the batch is signed once.
        assert_eq!(signed.len(), 3);
        assert!(signed.iter().all(|s| s.added));
    }
    let keys: Vec<_> = signers.iter().map(|s| s.public_key().clone()).collect();
    let mut opts = VerifyOptions::new(keys, reference.clone());
    opts.threshold = signers.len();
    for tag in tags {
        let report = verify_image(&store, tag, &store, &opts).unwrap();
        assert_eq!(report.status, VerifyStatus::Verified, "{tag}: {}", report.summary());
        assert_eq!(report.layers.len(), signers.len());
    }
}

#[test]
fn duplicate_signature_is_skipped_and_foreign_layers_are_kept() {
    use proofmark_cosign::manifest::{SIMPLE_SIGNING, SignatureLayer};
    let Some(reg) = Registry::start() else { return };
    let client = common::client(&reg.addr());
    let store = client.repository(&reg.addr(), "test/keep");
    let digest = common::push_image(&store, "v1", "keep");
    let tag = proofmark_cosign::digest::signature_tag(&digest).unwrap();
    // A third-party layer: odd key order, Go escapes, extra annotations. Its blob is a payload
    // with fields in another order and trailing newline.
    let foreign_payload = format!(
        "{{\"optional\":{{\"creator\":\"x \\u003c y\"}},\"critical\":{{\"type\":\"cosign container image signature\",\"image\":{{\"docker-manifest-digest\":\"{digest}\"}},\"identity\":{{\"docker-reference\":\"elsewhere/x\"}}}}}}\n"
    );
    let foreign_digest = store.put_blob(foreign_payload.as_bytes()).unwrap();
    let raw = format!(
        "{{\"size\":{},\"mediaType\":\"{SIMPLE_SIGNING}\",\"digest\":\"{foreign_digest}\",\"annotations\":{{\"dev.sigstore.cosign/bundle\":\"{{\\\"a\\\":1}}\",\"dev.cosignproject.cosign/signature\":\"AAAA\"}}}}",
        foreign_payload.len()
    );
    let descriptor = serde_json::from_str(&raw).unwrap();
    let foreign = SignatureLayer { descriptor, raw: raw.clone() };
    proofmark_cosign::append_layer(
        &store,
        &tag,
        foreign_payload.as_bytes(),
        &foreign,
        &SignOptions::default(),
    )
    .unwrap();

    let signer = software_key();
    let reference = format!("{}/test/keep", reg.addr());
    sign_image(&store, "v1", &store, &reference, &signer, &SignOptions::default()).unwrap();
    let after = store.get_manifest(&tag).unwrap().unwrap();
    let text = String::from_utf8(after.bytes).unwrap();
    assert!(text.contains(&raw), "foreign descriptor rewritten: {text}");
    assert_eq!(store.get_blob(&foreign_digest, 1 << 20).unwrap(), foreign_payload.as_bytes());

    // Re-appending the same layer is a no-op.
    let sig_manifest =
        proofmark_cosign::manifest::SignatureManifest::parse(text.as_bytes()).unwrap();
    let ours = sig_manifest.layers[1].clone();
    let payload = store.get_blob(&ours.descriptor.digest, 1 << 20).unwrap();
    let (added, _) =
        proofmark_cosign::append_layer(&store, &tag, &payload, &ours, &SignOptions::default())
            .unwrap();
    assert!(!added);
    let report = verify_image(
        &store,
        "v1",
        &store,
        &VerifyOptions::new(vec![signer.public_key().clone()], reference),
    )
    .unwrap();
    assert_eq!(report.status, VerifyStatus::Verified);
    assert_eq!(report.layers.len(), 2);
    assert!(report.layers[0].result.is_err());
}

#[test]
fn unreachable_and_missing() {
    let Some(reg) = Registry::start() else { return };
    let client = common::client(&reg.addr());
    let store = client.repository(&reg.addr(), "test/none");
    let digest = common::push_image(&store, "v1", "none");
    let signer = software_key();
    let opts =
        VerifyOptions::new(vec![signer.public_key().clone()], format!("{}/test/none", reg.addr()));
    let report = proofmark_cosign::verify_digest(&store, &digest, &opts).unwrap();
    assert_eq!(report.status, VerifyStatus::NoSignatures);
    assert_eq!(report.status.exit_code(), 4);
    let err = verify_image(&store, "nope", &store, &opts).unwrap_err();
    assert!(matches!(err, proofmark_cosign::Error::NotFound(_)), "{err}");
    // HTTPS to a plain-HTTP registry (host not in allow_insecure) is a transport error.
    let strict = proofmark_cosign::RegistryClient::new(Default::default()).unwrap();
    let err = verify_image(&strict.repository(&reg.addr(), "test/none"), "v1", &store, &opts)
        .unwrap_err();
    assert!(err.is_transport(), "{err}");
}
