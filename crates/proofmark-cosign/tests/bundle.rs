//! cosign 3's format against a real registry (Debian's docker-registry 2.8, which has no
//! referrers API, so the `sha256-<hex>` tag schema index is used), judged by sigstore-js
//! (`@sigstore/bundle` + `@sigstore/verify`, the public key as the only trust material).
#![allow(clippy::unwrap_used, reason = "tests")]

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use proofmark_cosign::bundle::{BUNDLE_V03, Bundle, Content};
use proofmark_cosign::referrers::{list_referrers, referrers_tag};
use proofmark_cosign::{
    ImageStore, SignOptions, SignatureFormat, StatementSpec, VerifyOptions, VerifyStatus,
    attest_image, sign_image, verify_image,
};
use proofmark_test_support::registry::Registry;
use proofmark_test_support::tools::sigstore_js;
use proofmark_types::{SignatureAlgorithm, Signer, SoftwareSigner};

fn key() -> SoftwareSigner {
    SoftwareSigner::generate(SignatureAlgorithm::EcdsaP256Sha256).unwrap()
}

/// The bundle blob of every referrer of `digest`.
fn bundles(store: &dyn ImageStore, digest: &str) -> Vec<Vec<u8>> {
    let (_, index) = list_referrers(store, digest).unwrap();
    index
        .entries
        .iter()
        .map(|(d, _)| {
            let m = store.get_manifest(&d.digest).unwrap().unwrap();
            let v: serde_json::Value = serde_json::from_slice(&m.bytes).unwrap();
            assert_eq!(v["artifactType"], BUNDLE_V03);
            assert_eq!(v["subject"]["digest"], digest);
            assert_eq!(v["config"]["mediaType"], "application/vnd.oci.empty.v1+json");
            assert_eq!(v["annotations"]["dev.sigstore.bundle.content"], "dsse-envelope");
            store.get_blob(v["layers"][0]["digest"].as_str().unwrap(), 1 << 20).unwrap()
        })
        .collect()
}

/// sigstore-js's verdict on a bundle file.
fn js_verify(dir: &Path, bundle: &[u8], key_pem: &str, extra: &[&str]) -> Option<bool> {
    let mut cmd = sigstore_js::judge()?;
    std::fs::write(dir.join("b.json"), bundle).unwrap();
    std::fs::write(dir.join("k.pem"), key_pem).unwrap();
    cmd.args(["verify", "--bundle"]).arg(dir.join("b.json")).arg("--key").arg(dir.join("k.pem"));
    let out = cmd.args(extra).output().unwrap();
    Some(out.status.success())
}

#[test]
fn bundle_sign_verify_judged_by_sigstore_js() {
    let Some(reg) = Registry::start() else { return };
    let store = common::client(&reg.addr()).repository(&reg.addr(), "test/bundle");
    let digest = common::push_image(&store, "v1", "bundle");
    let (a, b) = (key(), key());
    let docker_reference = format!("{}/test/bundle", reg.addr());
    let mut opts = SignOptions::default();
    opts.annotations.insert("git_sha".into(), "3f2c1e".into());
    let signed = sign_image(&store, "v1", &store, &docker_reference, &a, &opts).unwrap();
    assert_eq!(signed[0].format, SignatureFormat::Bundle);
    assert!(signed[0].added);
    assert_eq!(signed[0].signature_tag, referrers_tag(&digest).unwrap());
    // Same statement, same key: nothing added.
    let again = sign_image(&store, "v1", &store, &docker_reference, &a, &opts).unwrap();
    assert!(!again[0].added);
    // A legacy signature by the other key: the threshold counts keys across both places.
    sign_image(&store, "v1", &store, &docker_reference, &b, &SignOptions::legacy()).unwrap();

    let mut vopts = VerifyOptions::new(
        vec![a.public_key().clone(), b.public_key().clone()],
        docker_reference.clone(),
    );
    vopts.threshold = 2;
    vopts.required_annotations = BTreeMap::from([("git_sha".into(), "3f2c1e".into())]);
    let report = verify_image(&store, "v1", &store, &vopts).unwrap();
    // b's legacy payload lacks the annotation.
    assert_eq!(report.status, VerifyStatus::ThresholdNotMet, "{}", report.summary());
    vopts.required_annotations.clear();
    let report = verify_image(&store, "v1", &store, &vopts).unwrap();
    assert_eq!(report.status, VerifyStatus::Verified, "{}", report.summary());
    let formats: Vec<_> = report.layers.iter().map(|l| l.format).collect();
    assert_eq!(formats, [SignatureFormat::Bundle, SignatureFormat::Legacy]);
    let json = report.cosign_json();
    assert_eq!(json[0]["critical"]["type"], "https://sigstore.dev/cosign/sign/v1");
    assert_eq!(json[0]["critical"]["image"]["docker-manifest-digest"], digest.as_str());
    assert_eq!(json[0]["optional"]["git_sha"], "3f2c1e");
    assert_eq!(json[1]["critical"]["type"], "cosign container image signature");
    // sigstore-rs still reads the legacy layout next to the referrers.
    assert!(common::sigstore_verifies(
        &reg.addr(),
        &format!("{docker_reference}:v1"),
        &b.public_key().to_pem()
    ));

    // The judge: valid with a's key for this digest and predicate type; not with b's key,
    // another digest, another predicate type, or a tampered payload.
    let blobs = bundles(&store, &digest);
    assert_eq!(blobs.len(), 1);
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let pem = a.public_key().to_pem();
    let sign_type = ["--predicate-type", "https://sigstore.dev/cosign/sign/v1"];
    let Some(ok) =
        js_verify(d, &blobs[0], &pem, &[&["--digest", &digest][..], &sign_type].concat())
    else {
        return;
    };
    assert!(ok, "sigstore-js rejects our bundle");
    assert_eq!(js_verify(d, &blobs[0], &b.public_key().to_pem(), &[]), Some(false));
    let other = format!("sha256:{}", "0".repeat(64));
    assert_eq!(js_verify(d, &blobs[0], &pem, &["--digest", &other]), Some(false));
    assert_eq!(js_verify(d, &blobs[0], &pem, &["--predicate-type", "x://y"]), Some(false));
    let mut bundle = Bundle::parse(&blobs[0]).unwrap();
    let Content::Dsse(env) = &mut bundle.content else { panic!("not DSSE") };
    let payload =
        String::from_utf8(env.payload_bytes().unwrap()).unwrap().replace("{}}", "{\"x\":1}}");
    use base64::Engine as _;
    env.payload = base64::engine::general_purpose::STANDARD.encode(payload);
    assert_eq!(js_verify(d, &bundle.to_json(), &pem, &[]), Some(false));
}

#[test]
fn interop_bundles_written_by_sigstore_js() {
    let Some(reg) = Registry::start() else { return };
    let store = common::client(&reg.addr()).repository(&reg.addr(), "test/js");
    let digest = common::push_image(&store, "v1", "js");
    let Some(mut js) = sigstore_js::judge() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let signer = key();
    std::fs::write(d.join("k.pem"), signer.to_pkcs8_pem().unwrap().as_bytes()).unwrap();
    let statement = proofmark_cosign::statement::statement_bytes(
        &digest,
        proofmark_cosign::statement::COSIGN_SIGN_PREDICATE,
        &serde_json::json!({}),
        &BTreeMap::new(),
    )
    .unwrap();
    std::fs::write(d.join("st.json"), &statement).unwrap();
    let out = js
        .args(["sign-dsse", "--key"])
        .arg(d.join("k.pem"))
        .arg("--payload")
        .arg(d.join("st.json"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let bundle = out.stdout;
    Bundle::parse(&bundle).unwrap();
    // Attach it the way cosign does, by hand, then verify with proofmark.
    let subject = store.get_manifest(&digest).unwrap().unwrap();
    store.put_blob(b"{}").unwrap();
    let bundle_digest = store.put_blob(&bundle).unwrap();
    let manifest = proofmark_cosign::referrers::referrer_manifest(
        &subject,
        BUNDLE_V03,
        &bundle_digest,
        bundle.len() as u64,
        &BTreeMap::new(),
    );
    let mdigest = store
        .put_manifest(
            &proofmark_cosign::digest::sha256_digest(&manifest),
            "application/vnd.oci.image.manifest.v1+json",
            &manifest,
        )
        .unwrap();
    let index = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{mdigest}","size":{},"artifactType":"{BUNDLE_V03}"}}]}}"#,
        manifest.len()
    );
    store
        .put_manifest(
            &referrers_tag(&digest).unwrap(),
            "application/vnd.oci.image.index.v1+json",
            index.as_bytes(),
        )
        .unwrap();
    let opts = VerifyOptions::new(vec![signer.public_key().clone()], "ignored");
    let report = verify_image(&store, "v1", &store, &opts).unwrap();
    assert_eq!(report.status, VerifyStatus::Verified, "{}", report.summary());
    let stranger = VerifyOptions::new(vec![key().public_key().clone()], "ignored");
    assert_eq!(
        verify_image(&store, "v1", &store, &stranger).unwrap().status,
        VerifyStatus::NoneValid
    );
}

#[test]
fn concurrent_bundle_signers_lose_nothing() {
    let Some(reg) = Registry::start() else { return };
    let store = common::client(&reg.addr()).repository(&reg.addr(), "test/race");
    common::push_image(&store, "v1", "race");
    let keys: Vec<SoftwareSigner> = (0..6).map(|_| key()).collect();
    std::thread::scope(|s| {
        for k in &keys {
            let store = &store;
            s.spawn(move || {
                sign_image(store, "v1", store, "r/x", k, &SignOptions::default()).unwrap();
            });
        }
    });
    let mut opts = VerifyOptions::new(keys.iter().map(|k| k.public_key().clone()).collect(), "r/x");
    opts.threshold = keys.len();
    let report = verify_image(&store, "v1", &store, &opts).unwrap();
    assert_eq!(report.status, VerifyStatus::Verified, "{}", report.summary());
}

#[test]
fn bad_referrers_indexes_change_nothing() {
    let Some(reg) = Registry::start() else { return };
    let store = common::client(&reg.addr()).repository(&reg.addr(), "test/bad");
    let digest = common::push_image(&store, "v1", "bad");
    let tag = referrers_tag(&digest).unwrap();
    let signer = key();
    let entry = |d: &str| {
        format!(
            r#"{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{d}","size":1,"artifactType":"{BUNDLE_V03}"}}"#
        )
    };
    let index_mt = "application/vnd.oci.image.index.v1+json";
    // 1001 entries.
    let many =
        format!(r#"{{"schemaVersion":2,"manifests":[{}]}}"#, vec![entry(&digest); 1001].join(","));
    // An index listing the image itself as its referrer (the index's own digest cannot be in
    // it: that would be a fixed point of SHA-256; the parser refuses it all the same).
    let itself = format!(r#"{{"schemaVersion":2,"manifests":[{}]}}"#, entry(&digest));
    // The tag holding the image itself instead of an index.
    let image = store.get_manifest(&digest).unwrap().unwrap();
    let cases = [
        (many, index_mt, "lists 1001 referrers"),
        (itself, index_mt, "entry 0 is the image itself"),
        (
            String::from_utf8(image.bytes).unwrap(),
            image.media_type.as_str(),
            "holds the image itself",
        ),
    ];
    for (bad, media_type, why) in cases {
        let before = store.put_manifest(&tag, media_type, bad.as_bytes()).unwrap();
        let err = sign_image(&store, "v1", &store, "r/x", &signer, &SignOptions::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains(why) && err.contains("nothing was changed"), "{err}");
        let opts = VerifyOptions::new(vec![signer.public_key().clone()], "r/x");
        let err = verify_image(&store, "v1", &store, &opts).unwrap_err().to_string();
        assert!(err.contains(why), "{err}");
        assert_eq!(store.get_manifest(&tag).unwrap().unwrap().digest, before, "index changed");
    }
    // Not an index at the tag, and a subject that is not the image.
    let other = common::push_image(&store, "v2", "other");
    store
        .put_manifest(
            &tag,
            "application/vnd.oci.image.manifest.v1+json",
            store.get_manifest(&other).unwrap().unwrap().bytes.as_slice(),
        )
        .unwrap();
    let err =
        sign_image(&store, "v1", &store, "r/x", &signer, &SignOptions::default()).unwrap_err();
    assert!(err.to_string().contains("not an image index"), "{err}");
    // A referrer of v2, listed in v1's index: rejected as "not this image".
    sign_image(&store, "v2", &store, "r/x", &signer, &SignOptions::default()).unwrap();
    let other_index = store.get_manifest(&referrers_tag(&other).unwrap()).unwrap().unwrap();
    store.put_manifest(&tag, index_mt, &other_index.bytes).unwrap();
    let report = verify_image(
        &store,
        "v1",
        &store,
        &VerifyOptions::new(vec![signer.public_key().clone()], "r/x"),
    )
    .unwrap();
    assert_eq!(report.status, VerifyStatus::NoneValid);
    assert!(report.summary().contains("not this image"), "{}", report.summary());
}

#[test]
fn attestations_round_trip() {
    let Some(reg) = Registry::start() else { return };
    let store = common::client(&reg.addr()).repository(&reg.addr(), "test/att");
    let digest = common::push_image(&store, "v1", "att");
    let signer = key();
    let spec = StatementSpec {
        predicate_type: proofmark_cosign::predicate_type_for("slsaprovenance1").unwrap(),
        predicate: serde_json::json!({"buildDefinition": {"buildType": "x"}}),
    };
    let s = attest_image(&store, "v1", &store, &spec, &signer, &SignOptions::default()).unwrap();
    assert!(s.added);
    let mut opts = VerifyOptions::new(vec![signer.public_key().clone()], "r");
    opts.predicate_type = spec.predicate_type.clone();
    opts.formats = vec![SignatureFormat::Bundle];
    let report = verify_image(&store, "v1", &store, &opts).unwrap();
    assert_eq!(report.status, VerifyStatus::Verified, "{}", report.summary());
    assert_eq!(report.envelopes_json().as_array().unwrap().len(), 1);
    // An attestation is not a signature: `verify` finds none.
    let sig = VerifyOptions::new(vec![signer.public_key().clone()], "r");
    assert_eq!(
        verify_image(&store, "v1", &store, &sig).unwrap().status,
        VerifyStatus::NoSignatures
    );
    let tmp = tempfile::tempdir().unwrap();
    let blobs = bundles(&store, &digest);
    let judged = js_verify(
        tmp.path(),
        &blobs[0],
        &signer.public_key().to_pem(),
        &["--digest", &digest, "--predicate-type", "https://slsa.dev/provenance/v1"],
    );
    assert_ne!(judged, Some(false));
}
