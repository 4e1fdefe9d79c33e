//! What the CLI's image tests share: a minimal image to sign, stored in any [`ImageStore`],
//! and the binary run the way a registry test wants it.
#![allow(dead_code, reason = "each test binary uses a part of this module")]

use std::path::Path;
use std::process::{Command, Output};

use proofmark_cosign::ImageStore;

/// Runs `proofmark ARGS` in `cwd` without a terminal, with `cwd` as the docker config folder
/// and no cosign password or repository from the environment.
pub(crate) fn proofmark(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_proofmark"))
        .args(args)
        .current_dir(cwd)
        .env("DOCKER_CONFIG", cwd)
        .env_remove("COSIGN_PASSWORD")
        .env_remove("COSIGN_REPOSITORY")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

/// A minimal image manifest (config + one opaque layer) stored under `tag`; its digest.
pub(crate) fn put_image(store: &dyn ImageStore, tag: &str) -> String {
    put_image_seeded(store, tag, "")
}

/// [`put_image`] with a layer that depends on `seed`, so the digest does too.
pub(crate) fn put_image_seeded(store: &dyn ImageStore, tag: &str, seed: &str) -> String {
    let config =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let layer = format!("not really a tarball{seed}");
    let config_digest = store.put_blob(config).unwrap();
    let layer_digest = store.put_blob(layer.as_bytes()).unwrap();
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config_digest}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{layer_digest}","size":{}}}]}}"#,
        config.len(),
        layer.len()
    );
    store
        .put_manifest(tag, "application/vnd.oci.image.manifest.v1+json", manifest.as_bytes())
        .unwrap()
}
