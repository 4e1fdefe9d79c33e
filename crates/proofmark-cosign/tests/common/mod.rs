//! Shared test helpers: small OCI images built in memory, and independent verifiers
//! (openssl over plain HTTP, sigstore-rs).
#![allow(dead_code, reason = "each test binary uses a different subset")]

use std::io::Write as _;

use proofmark_cosign::manifest::{OCI_INDEX, OCI_MANIFEST};
use proofmark_cosign::{ImageStore, RegistryClient, RegistryOptions};

/// A one-layer OCI image (gzipped tar with one file) stored under `tag`; returns its digest.
pub(crate) fn push_image(store: &dyn ImageStore, tag: &str, seed: &str) -> String {
    let mut tar = tar::Builder::new(Vec::new());
    let data = format!("hello from {seed}\n");
    let mut header = tar::Header::new_gnu();
    header.set_size(data.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    tar.append_data(&mut header, "hello.txt", data.as_bytes()).unwrap();
    let tar = tar.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&tar).unwrap();
    let layer = gz.finish().unwrap();
    let diff_id = proofmark_cosign::digest::sha256_digest(&tar);
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":["{diff_id}"]}},"config":{{}}}}"#
    );
    let layer_digest = store.put_blob(&layer).unwrap();
    let config_digest = store.put_blob(config.as_bytes()).unwrap();
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config_digest}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{layer_digest}","size":{}}}]}}"#,
        config.len(),
        layer.len()
    );
    store.put_manifest(tag, OCI_MANIFEST, manifest.as_bytes()).unwrap()
}

/// An index over two platform images; returns `(index digest, child digests)`.
pub(crate) fn push_index(store: &dyn ImageStore, tag: &str) -> (String, Vec<String>) {
    let children: Vec<(String, usize, &str)> = ["amd64", "arm64"]
        .iter()
        .map(|arch| {
            let digest = push_image(store, &format!("{tag}-{arch}"), arch);
            let size = store.get_manifest(&digest).unwrap().unwrap().bytes.len();
            (digest, size, *arch)
        })
        .collect();
    let entries: Vec<String> = children
        .iter()
        .map(|(d, size, arch)| {
            format!(
                r#"{{"mediaType":"{OCI_MANIFEST}","digest":"{d}","size":{size},"platform":{{"architecture":"{arch}","os":"linux"}}}}"#
            )
        })
        .collect();
    let index = format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{}]}}"#,
        entries.join(",")
    );
    let digest = store.put_manifest(tag, OCI_INDEX, index.as_bytes()).unwrap();
    (digest, children.into_iter().map(|(d, _, _)| d).collect())
}

/// A client allowed to talk plain HTTP to `addr`.
pub(crate) fn client(addr: &str) -> RegistryClient {
    RegistryClient::new(RegistryOptions {
        allow_insecure: vec![addr.to_owned()],
        ..Default::default()
    })
    .unwrap()
}

/// Fetches the signature manifest with plain HTTP (not our client) and runs
/// `openssl dgst -sha256 -verify` on every layer; returns how many layers `pub_pem` verifies.
pub(crate) fn openssl_count_valid(
    openssl: &std::path::Path,
    url: &str,
    repo: &str,
    image_digest: &str,
    pub_pem: &str,
) -> usize {
    use base64::Engine as _;
    let tag = format!("sha256-{}.sig", image_digest.trim_start_matches("sha256:"));
    let text = ureq::get(&format!("{url}/v2/{repo}/manifests/{tag}"))
        .set("Accept", OCI_MANIFEST)
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    let manifest: serde_json::Value = serde_json::from_str(&text).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let pub_path = dir.path().join("pub.pem");
    std::fs::write(&pub_path, pub_pem).unwrap();
    let mut valid = 0;
    for (i, layer) in manifest["layers"].as_array().unwrap().iter().enumerate() {
        let digest = layer["digest"].as_str().unwrap();
        let mut payload = Vec::new();
        std::io::Read::read_to_end(
            &mut ureq::get(&format!("{url}/v2/{repo}/blobs/{digest}"))
                .call()
                .unwrap()
                .into_reader(),
            &mut payload,
        )
        .unwrap();
        let sig = base64::engine::general_purpose::STANDARD
            .decode(layer["annotations"]["dev.cosignproject.cosign/signature"].as_str().unwrap())
            .unwrap();
        let payload_path = dir.path().join(format!("payload{i}.json"));
        let sig_path = dir.path().join(format!("sig{i}.der"));
        std::fs::write(&payload_path, &payload).unwrap();
        std::fs::write(&sig_path, &sig).unwrap();
        let out = std::process::Command::new(openssl)
            .args(["dgst", "-sha256", "-verify"])
            .arg(&pub_path)
            .arg("-signature")
            .arg(&sig_path)
            .arg(&payload_path)
            .output()
            .unwrap();
        if out.status.success() {
            valid += 1;
        }
    }
    valid
}

/// Runs sigstore-rs's own cosign verification: `trusted_signature_layers` + `verify_constraints`
/// with a `PublicKeyVerifier`. Returns whether the key's constraint is satisfied.
pub(crate) fn sigstore_verifies(addr: &str, image: &str, pub_pem: &str) -> bool {
    use sigstore::cosign::CosignCapabilities as _;
    use sigstore::cosign::verification_constraint::{PublicKeyVerifier, VerificationConstraint};
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let cfg = sigstore::registry::ClientConfig {
            protocol: sigstore::registry::ClientProtocol::HttpsExcept(vec![addr.to_owned()]),
            ..Default::default()
        };
        let mut client =
            sigstore::cosign::ClientBuilder::default().with_oci_client_config(cfg).build().unwrap();
        let image: sigstore::registry::OciReference = image.parse().unwrap();
        let layers = client
            .trusted_signature_layers(&sigstore::registry::Auth::Anonymous, &image)
            .await
            .unwrap();
        let verifier = PublicKeyVerifier::try_from(pub_pem.as_bytes()).unwrap();
        let constraints: Vec<Box<dyn VerificationConstraint>> = vec![Box::new(verifier)];
        sigstore::cosign::verify_constraints(&layers, constraints.iter()).is_ok()
    })
}
