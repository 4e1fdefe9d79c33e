//! Sign and verify against a real registry (Debian's docker-registry), cross-checked with
//! sigstore-rs's cosign verifier and openssl.
#![allow(clippy::unwrap_used, reason = "tests")]

mod common;

use proofmark_cosign::{
    ImageStore as _, SignOptions, VerifyOptions, VerifyStatus, sign_image, verify_image,
};
use proofmark_test_support::registry::Registry;
use proofmark_test_support::require_tool;
use proofmark_types::{KeyRef, SignatureAlgorithm, Signer, SoftwareSigner};

fn software_key() -> SoftwareSigner {
    SoftwareSigner::generate(SignatureAlgorithm::EcdsaP256Sha256).unwrap()
}

/// Runs `sign` with every signer, each on its own thread and all released at the same moment;
/// returns the results in signer order.
fn all_at_once<T: Send>(
    signers: &[SoftwareSigner],
    sign: impl Fn(&SoftwareSigner) -> T + Sync,
) -> Vec<T> {
    let (barrier, sign) = (&std::sync::Barrier::new(signers.len()), &sign);
    std::thread::scope(|scope| {
        let handles: Vec<_> = signers
            .iter()
            .map(|signer| {
                scope.spawn(move || {
                    barrier.wait();
                    sign(signer)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

/// Signs with `signer`, then checks our verifier, sigstore-rs and openssl all accept it.
fn round_trip(reg: &Registry, repo: &str, signers: &[&dyn Signer]) {
    let client = common::client(&reg.addr());
    let store = client.repository(&reg.addr(), repo);
    let digest = common::push_image(&store, "v1", repo);
    let docker_reference = format!("{}/{repo}", reg.addr());
    for signer in signers {
        let signed =
            sign_image(&store, "v1", &store, &docker_reference, *signer, &SignOptions::legacy())
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
    let Some(reg) = Registry::start() else { return };
    let Some(swtpm) = Swtpm::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let tpm = tpm_signer(&swtpm, dir.path(), "cosign.tpmkey");
    let soft = software_key();
    round_trip(&reg, "test/tpm", &[&tpm, &soft]);
}

/// A fresh key in `swtpm`, opened as a signer (ECDSA in a TPM: a new signature every time).
fn tpm_signer(
    swtpm: &proofmark_test_support::swtpm::Swtpm,
    dir: &std::path::Path,
    name: &str,
) -> proofmark_tpm::TpmSigner {
    use proofmark_tpm::{KeyAuth, ParentTemplate, Tcti, Tpm, TpmSigner};
    let tcti = Tcti::parse(&swtpm.tcti()).unwrap();
    let key = Tpm::connect(&tcti)
        .unwrap()
        .create_key(SignatureAlgorithm::EcdsaP256Sha256, ParentTemplate::EccP256, &KeyAuth::Random)
        .unwrap();
    let path = dir.join(name);
    key.save(&path).unwrap();
    TpmSigner::open_key_ref(&tcti, &KeyRef::TpmKeyFile(path), None).unwrap()
}

/// Issue 16, item 5: re-signing the same payload with the same TPM key adds no layer (the
/// signature bytes differ each time, the key and payload do not); another key still appends.
#[test]
fn resigning_with_the_same_tpm_key_adds_nothing() {
    use proofmark_test_support::swtpm::Swtpm;
    let Some(reg) = Registry::start() else { return };
    let Some(swtpm) = Swtpm::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let first = tpm_signer(&swtpm, dir.path(), "first.tpmkey");
    let second = tpm_signer(&swtpm, dir.path(), "second.tpmkey");
    let client = common::client(&reg.addr());
    let store = client.repository(&reg.addr(), "test/again");
    let digest = common::push_image(&store, "v1", "again");
    let tag = proofmark_cosign::digest::signature_tag(&digest).unwrap();
    let reference = format!("{}/test/again", reg.addr());
    let layers = || {
        let m = store.get_manifest(&tag).unwrap().unwrap();
        proofmark_cosign::manifest::SignatureManifest::parse(&m.bytes).unwrap().layers.len()
    };
    let sign = |signer: &dyn Signer| {
        let signed =
            sign_image(&store, "v1", &store, &reference, signer, &SignOptions::legacy()).unwrap();
        signed[0].added
    };

    assert!(sign(&first));
    // The TPM's ECDSA is not deterministic: the signature bytes differ...
    let again = first.sign(b"same message").unwrap();
    assert_ne!(again.as_bytes(), first.sign(b"same message").unwrap().as_bytes());
    // ...and still nothing is added.
    assert!(!sign(&first));
    assert!(!sign(&first));
    assert_eq!(layers(), 1);
    let pem = first.public_key().to_pem();
    assert!(common::sigstore_verifies(&reg.addr(), &format!("{reference}:v1"), &pem));
    let report = verify_image(
        &store,
        "v1",
        &store,
        &VerifyOptions::new(vec![first.public_key().clone()], reference.clone()),
    )
    .unwrap();
    assert_eq!(report.status, VerifyStatus::Verified, "{}", report.summary());

    // Another key over the same payload appends.
    assert!(sign(&second));
    assert_eq!(layers(), 2);
    assert!(!sign(&second));
    assert_eq!(layers(), 2);
    assert!(common::sigstore_verifies(
        &reg.addr(),
        &format!("{reference}:v1"),
        &second.public_key().to_pem()
    ));
    // Another payload (an annotation) by the same key appends too: it says something new.
    let mut opts = SignOptions::legacy();
    opts.annotations.insert("run".into(), "2".into());
    assert!(sign_image(&store, "v1", &store, &reference, &first, &opts).unwrap()[0].added);
    assert_eq!(layers(), 3);
}

#[test]
fn eight_concurrent_signers() {
    let Some(reg) = Registry::start() else { return };
    let client = common::client(&reg.addr());
    let store = client.repository(&reg.addr(), "test/race");
    common::push_image(&store, "v1", "race");
    let reference = format!("{}/test/race", reg.addr());
    let signers: Vec<SoftwareSigner> = (0..8).map(|_| software_key()).collect();
    let attempts: Vec<u32> = all_at_once(&signers, |signer| {
        sign_image(&store, "v1", &store, &reference, signer, &SignOptions::legacy()).unwrap()[0]
            .attempts
    });
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
    let signers: Vec<SoftwareSigner> = (0..6).map(|_| software_key()).collect();
    let targets: Vec<SignTarget<'_>> = ["a", "b", "c", "a"]
        .iter()
        .map(|tag| SignTarget {
            image: &store,
            reference: tag,
            signatures: &store,
            docker_reference: &reference,
        })
        .collect();
    let batches = all_at_once(&signers, |signer| {
        proofmark_cosign::sign_many(&targets, signer, &SignOptions::legacy()).unwrap()
    });
    for signed in batches {
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
        &SignOptions::legacy(),
    )
    .unwrap();

    let signer = software_key();
    let reference = format!("{}/test/keep", reg.addr());
    sign_image(&store, "v1", &store, &reference, &signer, &SignOptions::legacy()).unwrap();
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
        proofmark_cosign::append_layer(&store, &tag, &payload, &ours, &SignOptions::legacy())
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

/// Upload sessions opened before their content is known (what signing opens beside resolving
/// the image): completed with the content later, and a cancelled one replaced by a new upload.
#[test]
fn upload_sessions_opened_ahead() {
    let Some(reg) = Registry::start() else { return };
    let client = common::client(&reg.addr());
    let store = client.repository(&reg.addr(), "test/uploads");
    let opened = store.open_upload().unwrap().expect("distribution opens upload sessions");
    let digest = store.put_blob_via(Some(opened), b"opened ahead").unwrap();
    assert_eq!(store.get_blob(&digest, 1024).unwrap(), b"opened ahead");
    // A session the registry no longer knows (here: cancelled) is not an error.
    let cancelled = store.open_upload().unwrap().unwrap();
    store.cancel_upload(cancelled.clone());
    let digest = store.put_blob_via(Some(cancelled), b"after a cancel").unwrap();
    assert_eq!(store.get_blob(&digest, 1024).unwrap(), b"after a cancel");
    // An image that does not exist: the sessions opened beside its resolution are given back.
    let err = sign_image(&store, "missing", &store, "r/x", &software_key(), &SignOptions::legacy())
        .unwrap_err();
    assert!(matches!(err, proofmark_cosign::Error::NotFound(_)), "{err}");
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

/// Issue 16, item 11: HTTPS to a plain-HTTP registry says to allow it as insecure, and
/// `allow_insecure` takes `http://HOST:PORT` and `HOST` (every port) or refuses the value.
#[test]
fn plain_http_registries_and_allow_insecure_forms() {
    use proofmark_cosign::{Error, RegistryClient, RegistryOptions};
    let Some(reg) = Registry::start() else { return };
    let store = common::client(&reg.addr()).repository(&reg.addr(), "test/plain");
    common::push_image(&store, "v1", "plain");
    let with = |insecure: &[&str]| {
        RegistryClient::new(RegistryOptions {
            allow_insecure: insecure.iter().map(|s| (*s).to_owned()).collect(),
            ..Default::default()
        })
    };

    let err =
        with(&[]).unwrap().repository(&reg.addr(), "test/plain").get_manifest("v1").unwrap_err();
    assert!(matches!(err, Error::PlainHttp { .. }) && err.is_transport(), "{err}");
    expect_test::expect![[r#"ADDR answered plain HTTP to an HTTPS request (https://ADDR/v2/test/plain/manifests/v1); if it is a plain-HTTP registry, allow that with --allow-insecure ADDR"#]]
    .assert_eq(&err.to_string().replace(&reg.addr(), "ADDR"));

    // Accepted forms: each reaches the registry over plain HTTP.
    let url = reg.url();
    for ok in [reg.addr(), url.clone(), format!("{url}/"), "127.0.0.1".to_owned()] {
        let client = with(&[&ok]).unwrap();
        assert!(
            client.repository(&reg.addr(), "test/plain").get_manifest("v1").unwrap().is_some(),
            "{ok}"
        );
    }
    // Another host's entry does not make this one insecure.
    let other = with(&["127.0.0.2"]).unwrap();
    assert!(matches!(
        other.repository(&reg.addr(), "test/plain").get_manifest("v1"),
        Err(Error::PlainHttp { .. })
    ));

    // Refused forms: a clear error naming the value.
    let refused: Vec<String> = [
        format!("https://{}", reg.addr()),
        format!("{}/v2", reg.addr()),
        "127.0.0.1:http".to_owned(),
        "ftp://127.0.0.1:5000".to_owned(),
        String::new(),
    ]
    .into_iter()
    .map(|bad| with(&[&bad]).unwrap_err().to_string().replace(&reg.addr(), "ADDR"))
    .collect();
    expect_test::expect![[r#"
        --allow-insecure "https://ADDR": https:// asks for TLS, which --allow-insecure turns off; expected HOST:PORT (for example 127.0.0.1:5000)
        --allow-insecure "ADDR/v2": a registry host has no path; expected HOST:PORT (for example 127.0.0.1:5000)
        --allow-insecure "127.0.0.1:http": the port is not a number from 1 to 65535; expected HOST:PORT (for example 127.0.0.1:5000)
        --allow-insecure "ftp://127.0.0.1:5000": the only scheme allowed is http://; expected HOST:PORT (for example 127.0.0.1:5000)
        --allow-insecure "": no host; expected HOST:PORT (for example 127.0.0.1:5000)"#]]
    .assert_eq(&refused.join("\n"));
}
