//! Offline signing and verification in an OCI layout, tampering cases, multi-arch, and
//! cosign key files read by sigstore-rs.
#![allow(clippy::unwrap_used, reason = "tests")]

mod common;

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use expect_test::expect;
use proofmark_cosign::manifest::{SignatureLayer, new_layer};
use proofmark_cosign::payload::payload_bytes;
use proofmark_cosign::{
    IdentityMode, ImageStore as _, OciLayout, Rejection, SignOptions, VerifyOptions, VerifyStatus,
    append_layer, sign_image, verify_digest, verify_image,
};
use proofmark_types::{SignatureAlgorithm, Signer as _, SoftwareSigner};

const REPO: &str = "example.com/app";

fn key() -> SoftwareSigner {
    SoftwareSigner::generate(SignatureAlgorithm::EcdsaP256Sha256).unwrap()
}

fn layout() -> (tempfile::TempDir, OciLayout, String) {
    let dir = tempfile::tempdir().unwrap();
    let layout = OciLayout::open_or_create(dir.path()).unwrap();
    let digest = common::push_image(&layout, "v1", "layout");
    (dir, layout, digest)
}

/// Appends a hand-made layer: `payload` stored, `signature` over `signed` bytes.
fn add_layer(
    l: &OciLayout,
    digest: &str,
    payload: &[u8],
    signed: &[u8],
    signer: &SoftwareSigner,
) -> SignatureLayer {
    let sig = STANDARD.encode(signer.sign(signed).unwrap().as_bytes());
    let layer = new_layer(payload, &sig, &BTreeMap::new());
    let tag = proofmark_cosign::digest::signature_tag(digest).unwrap();
    append_layer(l, &tag, payload, &layer, &SignOptions::legacy()).unwrap();
    layer
}

fn rejection(l: &OciLayout, digest: &str, key: &SoftwareSigner) -> Rejection {
    let report =
        verify_digest(l, digest, &VerifyOptions::new(vec![key.public_key().clone()], REPO))
            .unwrap();
    assert_eq!(report.status, VerifyStatus::NoneValid, "{}", report.summary());
    report.layers.last().unwrap().result.clone().unwrap_err()
}

#[test]
fn offline_round_trip_and_json() {
    let (_dir, l, digest) = layout();
    let signer = key();
    let opts = SignOptions {
        annotations: BTreeMap::from([("env".to_owned(), "prod".to_owned())]),
        ..SignOptions::legacy()
    };
    sign_image(&l, "v1", &l, REPO, &signer, &opts).unwrap();
    let mut vopts = VerifyOptions::new(vec![signer.public_key().clone()], REPO);
    vopts.required_annotations.insert("env".into(), "prod".into());
    let report = verify_image(&l, "v1", &l, &vopts).unwrap();
    assert_eq!(report.status, VerifyStatus::Verified);
    let json = report.cosign_json();
    assert_eq!(json[0]["optional"]["env"], "prod");
    assert_eq!(json[0]["critical"]["image"]["docker-manifest-digest"], digest.as_str());
    assert!(report.summary().contains("verified (1 of 1 required keys)"));
    vopts.required_annotations.insert("env".into(), "dev".into());
    let report = verify_image(&l, "v1", &l, &vopts).unwrap();
    assert_eq!(report.status, VerifyStatus::NoneValid);
    assert_eq!(report.layers[0].result, Err(Rejection::MissingAnnotation("env".into())));
}

#[test]
fn tampering_is_caught() {
    let signer = key();

    // Edited payload: the signature is over other bytes.
    let (_d, l, digest) = layout();
    let good = payload_bytes(REPO, &digest, &BTreeMap::new());
    let mut edited = good.clone();
    edited.extend_from_slice(b" ");
    add_layer(&l, &digest, &edited, &good, &signer);
    assert_eq!(rejection(&l, &digest, &signer), Rejection::NoKeyMatches);

    // Wrong digest: a valid signature for another image, copied under this image's tag.
    let (_d, l, digest) = layout();
    let other = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
    let p = payload_bytes(REPO, other, &BTreeMap::new());
    add_layer(&l, &digest, &p, &p, &signer);
    assert_eq!(rejection(&l, &digest, &signer), Rejection::WrongDigest(other.into()));

    // Another repository's signature (replay across repositories).
    let (_d, l, digest) = layout();
    let p = payload_bytes("example.com/other", &digest, &BTreeMap::new());
    add_layer(&l, &digest, &p, &p, &signer);
    let wrong = rejection(&l, &digest, &signer);
    expect![[r#"payload identity "example.com/other" does not match: expected the repository "example.com/app" (with or without a tag or digest)"#]]
    .assert_eq(&wrong.to_string());
    let mut opts = VerifyOptions::new(vec![signer.public_key().clone()], REPO);
    opts.identity = IdentityMode::Exact(format!("{REPO}:v1"));
    let report = verify_digest(&l, &digest, &opts).unwrap();
    expect![[r#"payload identity "example.com/other" does not match: expected exactly "example.com/app:v1""#]]
    .assert_eq(&report.layers[0].result.clone().unwrap_err().to_string());
    opts.identity = IdentityMode::Ignore;
    assert_eq!(verify_digest(&l, &digest, &opts).unwrap().status, VerifyStatus::Verified);

    // Wrong type.
    let (_d, l, digest) = layout();
    let p = String::from_utf8(payload_bytes(REPO, &digest, &BTreeMap::new()))
        .unwrap()
        .replace("cosign container image signature", "bogus")
        .into_bytes();
    add_layer(&l, &digest, &p, &p, &signer);
    assert_eq!(rejection(&l, &digest, &signer), Rejection::WrongType("bogus".into()));

    // Wrong key.
    let (_d, l, digest) = layout();
    sign_image(&l, "v1", &l, REPO, &key(), &SignOptions::legacy()).unwrap();
    assert_eq!(rejection(&l, &digest, &signer), Rejection::NoKeyMatches);

    // Wrong media type and truncated base64.
    let (_d, l, digest) = layout();
    let p = payload_bytes(REPO, &digest, &BTreeMap::new());
    let sig = STANDARD.encode(signer.sign(&p).unwrap().as_bytes());
    let tag = proofmark_cosign::digest::signature_tag(&digest).unwrap();
    let mut layer = new_layer(&p, &sig, &BTreeMap::new());
    layer.descriptor.media_type = "application/json".into();
    layer.raw = serde_json::to_string(&layer.descriptor).unwrap();
    append_layer(&l, &tag, &p, &layer, &SignOptions::legacy()).unwrap();
    assert_eq!(rejection(&l, &digest, &signer), Rejection::MediaType("application/json".into()));
    let truncated = new_layer(&p, &sig[..sig.len() - 3], &BTreeMap::new());
    append_layer(&l, &tag, &p, &truncated, &SignOptions::legacy()).unwrap();
    assert_eq!(rejection(&l, &digest, &signer), Rejection::BadBase64);

    // Oversized payload (200 KiB of padding in `optional`).
    let (_d, l, digest) = layout();
    let big = BTreeMap::from([("pad".to_owned(), "x".repeat(200 << 10))]);
    let p = payload_bytes(REPO, &digest, &big);
    add_layer(&l, &digest, &p, &p, &signer);
    assert!(matches!(rejection(&l, &digest, &signer), Rejection::Blob(_)));

    // Malformed payload JSON, validly signed.
    let (_d, l, digest) = layout();
    add_layer(&l, &digest, b"{\"critical\":1}", b"{\"critical\":1}", &signer);
    assert!(matches!(rejection(&l, &digest, &signer), Rejection::MalformedPayload(_)));
}

#[test]
fn threshold_counts_distinct_keys() {
    let (_d, l, digest) = layout();
    let (a, b, c, outsider) = (key(), key(), key(), key());
    for s in [&a, &b, &outsider] {
        sign_image(&l, "v1", &l, REPO, s, &SignOptions::legacy()).unwrap();
    }
    // RFC 6979 signatures are deterministic: signing the same payload again is skipped...
    let again = sign_image(&l, "v1", &l, REPO, &a, &SignOptions::legacy()).unwrap();
    assert!(!again[0].added);
    // ...so a's second signature carries an annotation.
    let annotated = SignOptions {
        annotations: BTreeMap::from([("run".to_owned(), "2".to_owned())]),
        ..SignOptions::legacy()
    };
    assert!(sign_image(&l, "v1", &l, REPO, &a, &annotated).unwrap()[0].added);
    let keys =
        |ks: &[&SoftwareSigner]| ks.iter().map(|k| k.public_key().clone()).collect::<Vec<_>>();
    let mut opts = VerifyOptions::new(keys(&[&a, &b, &c]), REPO);
    opts.threshold = 2;
    let report = verify_digest(&l, &digest, &opts).unwrap();
    assert_eq!(report.status, VerifyStatus::Verified, "{}", report.summary());
    assert_eq!(report.verified_keys.len(), 2);
    assert_eq!(report.layers.iter().filter(|l| l.result.is_ok()).count(), 3);
    // a signed twice: still one key.
    let mut opts = VerifyOptions::new(keys(&[&a, &c]), REPO);
    opts.threshold = 2;
    let report = verify_digest(&l, &digest, &opts).unwrap();
    assert_eq!(report.status, VerifyStatus::ThresholdNotMet);
    assert_eq!(report.status.exit_code(), 5);
    // Threshold above the key count, duplicate keys, pinning.
    opts.threshold = 3;
    assert!(matches!(
        verify_digest(&l, &digest, &opts),
        Err(proofmark_cosign::Error::InvalidOptions(_))
    ));
    let mut opts = VerifyOptions::new(keys(&[&a, &a]), REPO);
    opts.threshold = 2;
    assert!(matches!(
        verify_digest(&l, &digest, &opts),
        Err(proofmark_cosign::Error::InvalidOptions(_))
    ));
    let mut opts = VerifyOptions::new(keys(&[&a, &b]), REPO);
    opts.pinned = Some(vec![a.public_key().fingerprint_sha256()]);
    assert!(matches!(
        verify_digest(&l, &digest, &opts),
        Err(proofmark_cosign::Error::KeyNotPinned(_))
    ));
    opts.pinned =
        Some(vec![a.public_key().fingerprint_sha256(), b.public_key().fingerprint_sha256()]);
    assert_eq!(verify_digest(&l, &digest, &opts).unwrap().status, VerifyStatus::Verified);
}

#[test]
fn multi_arch_recursive() {
    let dir = tempfile::tempdir().unwrap();
    let l = OciLayout::open_or_create(dir.path()).unwrap();
    let (index, children) = common::push_index(&l, "multi");
    let signer = key();
    let opts = SignOptions { recursive: true, ..SignOptions::legacy() };
    let signed = sign_image(&l, "multi", &l, REPO, &signer, &opts).unwrap();
    assert_eq!(signed.len(), 3);
    let vopts = VerifyOptions::new(vec![signer.public_key().clone()], REPO);
    for d in std::iter::once(&index).chain(&children) {
        assert_eq!(verify_digest(&l, d, &vopts).unwrap().status, VerifyStatus::Verified, "{d}");
    }
    // Without recursive only the index is signed.
    let other = key();
    sign_image(&l, "multi", &l, REPO, &other, &SignOptions::legacy()).unwrap();
    let vopts = VerifyOptions::new(vec![other.public_key().clone()], REPO);
    assert_eq!(verify_digest(&l, &index, &vopts).unwrap().status, VerifyStatus::Verified);
    assert_eq!(verify_digest(&l, &children[0], &vopts).unwrap().status, VerifyStatus::NoneValid);
}

#[test]
fn unsupported_algorithm_and_bad_layouts() {
    let (_d, l, _) = layout();
    let p384 = SoftwareSigner::generate(SignatureAlgorithm::EcdsaP384Sha384).unwrap();
    let err = sign_image(&l, "v1", &l, REPO, &p384, &SignOptions::legacy()).unwrap_err();
    assert!(matches!(err, proofmark_cosign::Error::UnsupportedAlgorithm(_)), "{err}");
    // A corrupted blob is caught by its digest, and nothing is written.
    let dir = tempfile::tempdir().unwrap();
    let l = OciLayout::open_or_create(dir.path()).unwrap();
    let digest = common::push_image(&l, "v1", "corrupt");
    let blob = dir.path().join("blobs/sha256").join(digest.trim_start_matches("sha256:"));
    std::fs::write(&blob, b"{}").unwrap();
    let before = std::fs::read(dir.path().join("index.json")).unwrap();
    let err = sign_image(&l, "v1", &l, REPO, &key(), &SignOptions::legacy()).unwrap_err();
    assert!(matches!(err, proofmark_cosign::Error::DigestMismatch { .. }), "{err}");
    assert_eq!(std::fs::read(dir.path().join("index.json")).unwrap(), before);
    std::fs::write(dir.path().join("index.json"), b"not json").unwrap();
    assert!(matches!(l.get_manifest("v1"), Err(proofmark_cosign::Error::Malformed { .. })));
}

#[test]
fn encrypted_keys_interoperate_with_sigstore_rs() {
    use sigstore::crypto::signing_key::SigStoreKeyPair;
    let files = proofmark_cosign::generate_key_pair(b"correct horse").unwrap();
    assert!(files.private_pem.starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----"));
    let theirs =
        SigStoreKeyPair::from_encrypted_pem(files.private_pem.as_bytes(), b"correct horse")
            .unwrap();
    let pem = |s: &str| proofmark_types::PublicKey::from_pem(s).unwrap();
    assert_eq!(pem(&theirs.public_key_to_pem().unwrap()), pem(&files.public_pem));
    assert!(SigStoreKeyPair::from_encrypted_pem(files.private_pem.as_bytes(), b"wrong").is_err());
    // And the other way round.
    let encrypted = theirs.private_key_to_encrypted_pem(b"pw2").unwrap();
    let ours = proofmark_cosign::decrypt_private_key(encrypted.as_bytes(), b"pw2").unwrap();
    assert_eq!(*ours.public_key(), pem(&files.public_pem));
}

#[test]
fn payload_bytes_match_sigstore_rs() {
    // sigstore-rs serialises the same struct order as cosign (identity, image, type) with
    // `optional: null`; without HTML-special characters the bytes must be identical.
    use sigstore::cosign::payload::SimpleSigning;
    let digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    for reference in ["127.0.0.1:5000/test/img:v1".to_owned(), format!("ghcr.io/org/app@{digest}")]
    {
        let parsed: sigstore::registry::OciReference = reference.parse().unwrap();
        let theirs = serde_json::to_vec(&SimpleSigning::new(&parsed, digest)).unwrap();
        let ours = payload_bytes(&parsed.to_string(), digest, &BTreeMap::new());
        assert_eq!(String::from_utf8(ours).unwrap(), String::from_utf8(theirs).unwrap());
    }
}

/// Issue 16, item 6: a layout's signature manifests are not images, so the layout's only
/// image stays "the image" after it is signed; digest references work too.
#[test]
fn signatures_do_not_make_a_layout_ambiguous() {
    let (dir, l, digest) = layout();
    // Untagged, as `skopeo copy docker://… oci:DIR` writes it.
    let index = std::fs::read_to_string(dir.path().join("index.json")).unwrap();
    let mut index: serde_json::Value = serde_json::from_str(&index).unwrap();
    index["manifests"][0].as_object_mut().unwrap().remove("annotations");
    std::fs::write(dir.path().join("index.json"), index.to_string()).unwrap();
    assert_eq!(l.resolve(None).unwrap(), digest);

    let signer = key();
    let signed =
        sign_image(&l, &l.resolve(None).unwrap(), &l, REPO, &signer, &SignOptions::legacy())
            .unwrap();
    assert!(signed[0].added);
    assert_eq!(l.index_entries().unwrap().len(), 2);
    // Still one image: resolve, verify and re-sign by the same reference.
    assert_eq!(l.resolve(None).unwrap(), digest);
    let opts = VerifyOptions::new(vec![signer.public_key().clone()], REPO);
    assert_eq!(verify_image(&l, &digest, &l, &opts).unwrap().status, VerifyStatus::Verified);
    let again =
        sign_image(&l, &l.resolve(None).unwrap(), &l, REPO, &signer, &SignOptions::legacy())
            .unwrap();
    assert!(!again[0].added);

    // By digest: one in the layout resolves to itself, one that is not is "not found".
    assert_eq!(l.resolve_reference(None, Some(&digest)).unwrap(), digest);
    assert_eq!(l.resolve_reference(Some("nonexistent"), Some(&digest)).unwrap(), digest);
    let absent = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
    let err = l.resolve_reference(None, Some(absent)).unwrap_err();
    assert!(matches!(err, proofmark_cosign::Error::NotFound(_)), "{err}");

    // Two images: ambiguous, and the message says how to name one.
    common::push_image(&l, "v2", "second");
    let err = l.resolve(None).unwrap_err();
    expect![[r#"invalid image reference "oci:PATH": the layout holds several images; name one with oci:PATH:TAG or oci:PATH@sha256:DIGEST"#]]
    .assert_eq(&err.to_string().replace(&dir.path().display().to_string(), "PATH"));
}
