//! `--registry-referrers-mode` on a registry with the OCI 1.1 referrers API and on one without:
//! `oci-1-1` (the default) lets the API list the bundle and writes no `sha256-<hex>` tag,
//! `legacy` writes the tag schema index anyway, and without the API both fall back to the tag
//! schema. What is written is verified by `proofmark verify` and judged by sigstore-js.
//!
//! SCRIPTED PART, and only this: Debian's docker-registry (distribution 2.8) has no referrers
//! API, so the registry that has one is the real docker-registry behind
//! `proofmark_test_support::referrers_api::ReferrersApi`, a proxy that answers
//! `GET /v2/<name>/referrers/<digest>` itself and forwards everything else.

#![allow(clippy::unwrap_used, reason = "helpers of tests: a panic is the failure report")]

use std::path::Path;
use std::process::Output;

use proofmark_cosign::ImageStore;
use proofmark_test_support::referrers_api::ReferrersApi;
use proofmark_test_support::registry::Registry;
use proofmark_test_support::{stdout_ok as ok, temp_dir};

mod oci_image;
use oci_image::{proofmark, put_image};

const BUNDLE_V03: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
const SIGN_PREDICATE: &str = "https://sigstore.dev/cosign/sign/v1";

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn store(addr: &str) -> proofmark_cosign::RegistryRepo {
    proofmark_cosign::RegistryClient::new(proofmark_cosign::RegistryOptions {
        allow_insecure: vec![addr.to_owned()],
        ..Default::default()
    })
    .unwrap()
    .repository(addr, "cli/referrers")
}

/// The referrers the API lists for `digest`: `(referrer digest, its annotations)`.
fn api_referrers(api: &ReferrersApi, digest: &str) -> Vec<(String, serde_json::Value)> {
    let m = store(&api.addr()).referrers(digest).unwrap().expect("the API answers");
    let index: serde_json::Value = serde_json::from_slice(&m.bytes).unwrap();
    index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            assert_eq!(d["artifactType"], BUNDLE_V03);
            (d["digest"].as_str().unwrap().to_owned(), d["annotations"].clone())
        })
        .collect()
}

/// The referrers the `sha256-<hex>` tag schema index lists, read from the registry itself.
fn tag_index(reg: &Registry, digest: &str) -> Option<Vec<String>> {
    let tag = format!("sha256-{}", digest.trim_start_matches("sha256:"));
    let m = store(&reg.addr()).get_manifest(&tag).unwrap()?;
    let index: serde_json::Value = serde_json::from_slice(&m.bytes).unwrap();
    Some(
        index["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["digest"].as_str().unwrap().to_owned())
            .collect(),
    )
}

/// sigstore-js's verdict on the bundle layer of referrer `referrer`.
fn judged(reg: &Registry, referrer: &str, key: &Path, extra: &[&str], dir: &Path) -> Option<bool> {
    let store = store(&reg.addr());
    let m = store.get_manifest(referrer).unwrap().unwrap();
    let manifest: serde_json::Value = serde_json::from_slice(&m.bytes).unwrap();
    let layer = manifest["layers"][0]["digest"].as_str().unwrap();
    std::fs::write(dir.join("bundle.json"), store.get_blob(layer, 1 << 20).unwrap()).unwrap();
    let mut js = proofmark_test_support::tools::sigstore_js::judge()?;
    js.args(["verify", "--bundle"]).arg(dir.join("bundle.json")).arg("--key").arg(key);
    Some(js.args(extra).output().unwrap().status.success())
}

#[test]
fn oci_1_1_uses_the_referrers_api_and_falls_back_to_the_tag_schema() {
    let Some(reg) = Registry::start() else { return };
    let api = ReferrersApi::start(&reg);
    let dir = temp_dir("referrers-api");
    let d = dir.path();
    let digest = put_image(&store(&reg.addr()), "v1");
    let hex = digest.trim_start_matches("sha256:");
    for name in ["a", "b"] {
        ok(proofmark(&["key", "generate", &format!("file:{name}.key")], d));
        let public = ok(proofmark(&["key", "public", &format!("file:{name}.key")], d));
        std::fs::write(d.join(format!("{name}.pub")), public).unwrap();
    }
    let (api_addr, reg_addr) = (api.addr(), reg.addr());
    let via_api = format!("{api_addr}/cli/referrers:v1");
    let direct = format!("{reg_addr}/cli/referrers:v1");

    // oci-1-1 (the default) with the API: the registry lists the referrer; no tag is written.
    let signed =
        proofmark(&["sign", "--key", "file:a.key", "--allow-insecure", &api_addr, &via_api], d);
    assert!(signed.status.success(), "{}", stderr(&signed));
    assert!(
        stderr(&signed).contains("listed by the registry's referrers API"),
        "{}",
        stderr(&signed)
    );
    let requests = api.requests();
    assert!(
        requests.contains(&format!("GET /v2/cli/referrers/referrers/{digest}")),
        "{digest} {requests:?}"
    );
    assert!(!requests.iter().any(|r| r.contains(&format!("sha256-{hex}"))), "{requests:?}");
    assert_eq!(tag_index(&reg, &digest), None);
    let listed = api_referrers(&api, &digest);
    assert_eq!(listed.len(), 1);
    let (a_sign, annotations) = &listed[0];
    assert_eq!(annotations["dev.sigstore.bundle.content"], "dsse-envelope");
    assert_eq!(annotations["dev.sigstore.bundle.predicateType"], SIGN_PREDICATE);

    // What it wrote verifies, with proofmark and with sigstore-js.
    let verify = |keys: &[&str], host: &str, image: &str, extra: &[&str]| {
        let mut args = vec!["verify", "--allow-insecure", host];
        for k in keys {
            args.extend(["--key", k]);
        }
        args.extend(extra);
        args.push(image);
        proofmark(&args, d)
    };
    let human = ok(verify(&["a.pub"], &api_addr, &via_api, &[]));
    assert!(human.contains("[0] bundle: valid, key"), "{human}");
    let judge = [&["--digest", &digest][..], &["--predicate-type", SIGN_PREDICATE]].concat();
    if let Some(verdict) = judged(&reg, a_sign, &d.join("a.pub"), &judge, d) {
        assert!(verdict, "sigstore-js rejects the bundle listed by the referrers API");
        assert_eq!(judged(&reg, a_sign, &d.join("b.pub"), &judge, d), Some(false));
    }

    // An attestation goes the same way.
    std::fs::write(d.join("provenance.json"), r#"{"buildDefinition":{"buildType":"x"}}"#).unwrap();
    let attest = [
        "attest",
        "--key",
        "file:b.key",
        "--predicate",
        "provenance.json",
        "--type",
        "slsaprovenance1",
        "--allow-insecure",
        &api_addr,
        &via_api,
    ];
    let attested = proofmark(&attest, d);
    assert!(attested.status.success(), "{}", stderr(&attested));
    assert!(stderr(&attested).contains("listed by the registry's referrers API"));
    assert_eq!(api_referrers(&api, &digest).len(), 2);
    assert_eq!(tag_index(&reg, &digest), None);
    let check = [
        "verify-attestation",
        "--key",
        "b.pub",
        "--type",
        "slsaprovenance1",
        "--allow-insecure",
        &api_addr,
        &via_api,
    ];
    ok(proofmark(&check, d));

    // legacy: the tag schema index is written even though the API exists.
    let legacy = [
        "sign",
        "--key",
        "file:b.key",
        "--registry-referrers-mode",
        "legacy",
        "--allow-insecure",
        &api_addr,
        &via_api,
    ];
    let signed = proofmark(&legacy, d);
    assert!(signed.status.success(), "{}", stderr(&signed));
    let listed = api_referrers(&api, &digest);
    assert_eq!(listed.len(), 3);
    let b_sign = &listed[2].0;
    assert_eq!(tag_index(&reg, &digest), Some(vec![b_sign.clone()]));
    ok(verify(&["a.pub", "b.pub"], &api_addr, &via_api, &["--threshold", "2"]));

    // The registry itself, which has no API: proofmark reads the tag schema index (b's
    // signature only), and a's oci-1-1 signature there falls back to appending to it.
    let out = verify(&["a.pub", "b.pub"], &reg_addr, &direct, &["--threshold", "2"]);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    ok(verify(&["b.pub"], &reg_addr, &direct, &[]));
    let signed =
        proofmark(&["sign", "--key", "file:a.key", "--allow-insecure", &reg_addr, &direct], d);
    assert!(signed.status.success(), "{}", stderr(&signed));
    assert!(stderr(&signed).contains(&format!("listed in sha256-{hex}")), "{}", stderr(&signed));
    let tagged = tag_index(&reg, &digest).unwrap();
    assert_eq!(tagged.len(), 2);
    assert_eq!(&tagged[0], b_sign, "the entry already there is kept first");
    ok(verify(&["a.pub", "b.pub"], &reg_addr, &direct, &["--threshold", "2"]));
    if let Some(verdict) = judged(&reg, &tagged[1], &d.join("a.pub"), &judge, d) {
        assert!(verdict, "sigstore-js rejects the bundle listed in the tag schema index");
    }
}
