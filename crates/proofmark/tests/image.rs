//! `proofmark generate-key-pair`, `sign`, `verify` and `policy` end to end, on an OCI layout
//! and on a registry; sigstore-compatible output is checked by proofmark-cosign's own tests.

#![allow(clippy::unwrap_used, reason = "helpers of tests: a panic is the failure report")]

use std::path::Path;
use std::process::{Command, Output};

use proofmark_test_support::registry::Registry;
use proofmark_test_support::stdout_ok as ok;
use proofmark_test_support::temp_dir;

const PASSWORD: &str = "test password";

fn proofmark(args: &[&str], cwd: &Path) -> Output {
    proofmark_with_password(args, cwd, Some(PASSWORD))
}

/// Runs the binary without a terminal (standard input is /dev/null), with `COSIGN_PASSWORD`
/// set to `password` or unset.
fn proofmark_with_password(args: &[&str], cwd: &Path, password: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_proofmark"));
    cmd.args(args).current_dir(cwd).env("DOCKER_CONFIG", cwd).stdin(std::process::Stdio::null());
    match password {
        Some(p) => cmd.env("COSIGN_PASSWORD", p),
        None => cmd.env_remove("COSIGN_PASSWORD"),
    };
    cmd.output().unwrap()
}

fn code(out: &Output) -> i32 {
    out.status.code().unwrap()
}

/// A minimal image manifest (config + one opaque layer) stored under `tag`.
fn put_image(store: &dyn proofmark_cosign::ImageStore, tag: &str) -> String {
    put_image_seeded(store, tag, "")
}

/// [`put_image`] with a layer that depends on `seed`, so the digest does too.
fn put_image_seeded(store: &dyn proofmark_cosign::ImageStore, tag: &str, seed: &str) -> String {
    let config =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let layer = format!("not really a tarball{seed}");
    let layer = layer.as_bytes();
    let config_digest = store.put_blob(config).unwrap();
    let layer_digest = store.put_blob(layer).unwrap();
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config_digest}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{layer_digest}","size":{}}}]}}"#,
        config.len(),
        layer.len()
    );
    store
        .put_manifest(tag, "application/vnd.oci.image.manifest.v1+json", manifest.as_bytes())
        .unwrap()
}

#[test]
fn layout_sign_verify_policy() {
    let dir = temp_dir("image-cli");
    let d = dir.path();
    let layout = proofmark_cosign::OciLayout::open_or_create(d.join("layout")).unwrap();
    let digest = put_image(&layout, "v1");

    ok(proofmark(&["generate-key-pair"], d));
    assert!(
        std::fs::read_to_string(d.join("cosign.key"))
            .unwrap()
            .starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----")
    );
    // Refuses to overwrite.
    assert_eq!(code(&proofmark(&["generate-key-pair"], d)), 1);
    ok(proofmark(&["generate-key-pair", "--output-key-prefix", "other"], d));

    let image = "oci:layout:v1";
    // A layout needs the repository the payload should name.
    let out = proofmark(&["sign", "--key", "file:cosign.key", image], d);
    assert_eq!(code(&out), 1);
    assert!(String::from_utf8_lossy(&out.stderr).contains("--docker-reference"));
    ok(proofmark(
        &[
            "sign",
            "--key",
            "file:cosign.key",
            "-a",
            "env=prod",
            "--docker-reference",
            "r.io/app",
            image,
        ],
        d,
    ));

    let verify = |extra: &[&str]| {
        let mut args = vec!["verify", "--docker-reference", "r.io/app"];
        args.extend_from_slice(extra);
        args.push(image);
        proofmark(&args, d)
    };
    let json: serde_json::Value = serde_json::from_str(&ok(verify(&[
        "--key",
        "cosign.pub",
        "--output",
        "json",
        "-a",
        "env=prod",
    ])))
    .unwrap();
    assert_eq!(json[0]["critical"]["image"]["docker-manifest-digest"], digest.as_str());
    assert_eq!(json[0]["optional"]["env"], "prod");
    // Wrong key: none valid (3). Threshold 2 with one signer: not met (5).
    assert_eq!(code(&verify(&["--key", "other.pub"])), 3);
    assert_eq!(
        code(&verify(&["--key", "cosign.pub", "--key", "other.pub", "--threshold", "2"])),
        5
    );
    // Another repository name in the expectation: rejected unless identity is ignored.
    let other_repo =
        proofmark(&["verify", "--key", "cosign.pub", "--docker-reference", "r.io/evil", image], d);
    assert_eq!(code(&other_repo), 3);
    ok(proofmark(&["verify", "--key", "cosign.pub", "--identity", "ignore", image], d));

    let policy: serde_json::Value = serde_json::from_str(&ok(proofmark(
        &["policy", "--key", "cosign.pub", "--scope", "r.io/app"],
        d,
    )))
    .unwrap();
    assert_eq!(policy["transports"]["docker"]["r.io/app"][0]["type"], "sigstoreSigned");
    let snippet = ok(proofmark(
        &["policy", "--key", "cosign.pub", "--scope", "r.io/app", "--registries-d"],
        d,
    ));
    assert!(snippet.contains("use-sigstore-attachments: true"));
}

#[test]
fn cosign_key_password_from_env_or_terminal() {
    let dir = temp_dir("image-cli-password");
    let d = dir.path();
    let layout = proofmark_cosign::OciLayout::open_or_create(d.join("layout")).unwrap();
    put_image(&layout, "v1");
    let sign =
        ["sign", "--key", "file:cosign.key", "--docker-reference", "r.io/app", "oci:layout:v1"];

    // No COSIGN_PASSWORD and no terminal: a clear error, and nothing written.
    let out = proofmark_with_password(&["generate-key-pair"], d, None);
    assert_eq!(code(&out), 1);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no terminal") && stderr.contains("set COSIGN_PASSWORD"), "{stderr}");
    assert!(!d.join("cosign.key").exists() && !d.join("cosign.pub").exists());

    // From the environment.
    ok(proofmark_with_password(&["generate-key-pair"], d, Some("from env")));
    let out = proofmark_with_password(&sign, d, None);
    assert_eq!(code(&out), 1);
    assert!(String::from_utf8_lossy(&out.stderr).contains("set COSIGN_PASSWORD"));
    let out = proofmark_with_password(&sign, d, Some("wrong"));
    assert_eq!(code(&out), 1);
    assert!(String::from_utf8_lossy(&out.stderr).contains("wrong password"));
    ok(proofmark_with_password(&sign, d, Some("from env")));
    ok(proofmark(
        &["verify", "--key", "cosign.pub", "--docker-reference", "r.io/app", "oci:layout:v1"],
        d,
    ));
}

#[test]
fn registry_sign_verify() {
    let Some(reg) = Registry::start() else { return };
    let dir = temp_dir("image-cli-reg");
    let d = dir.path();
    let client = proofmark_cosign::RegistryClient::new(proofmark_cosign::RegistryOptions {
        allow_insecure: vec![reg.addr()],
        ..Default::default()
    })
    .unwrap();
    put_image(&client.repository(&reg.addr(), "cli/app"), "v1");
    ok(proofmark(&["key", "generate", "file:signing.key"], d));
    let public = ok(proofmark(&["key", "public", "file:signing.key"], d));
    std::fs::write(d.join("signing.pub"), public).unwrap();
    let image = format!("{}/cli/app:v1", reg.addr());
    let insecure = ["--allow-insecure", &reg.addr()];

    let unsigned =
        proofmark(&[&["verify", "--key", "signing.pub"][..], &insecure, &[&image]].concat(), d);
    assert_eq!(code(&unsigned), 4, "{}", String::from_utf8_lossy(&unsigned.stderr));
    ok(proofmark(&[&["sign", "--key", "file:signing.key"][..], &insecure, &[&image]].concat(), d));
    let summary =
        ok(proofmark(&[&["verify", "--key", "signing.pub"][..], &insecure, &[&image]].concat(), d));
    assert!(summary.contains("verified (1 of 1 required keys)"), "{summary}");
    // Several images in one command: one batch.
    put_image_seeded(&client.repository(&reg.addr(), "cli/app"), "v2", "2");
    put_image(&client.repository(&reg.addr(), "cli/other"), "v1");
    let second = format!("{}/cli/app:v2", reg.addr());
    let third = format!("{}/cli/other:v1", reg.addr());
    let out = proofmark(
        &[&["sign", "--key", "file:signing.key"][..], &insecure, &[&image, &second, &third]]
            .concat(),
        d,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(code(&out), 0, "{stderr}");
    assert_eq!(stderr.matches("already signed (identical signature)").count(), 1, "{stderr}");
    assert_eq!(stderr.lines().filter(|l| l.starts_with("signed ")).count(), 2, "{stderr}");
    for img in [&second, &third] {
        ok(proofmark(&[&["verify", "--key", "signing.pub"][..], &insecure, &[img]].concat(), d));
    }
    // Without --allow-insecure the client insists on HTTPS: an error (1), not "invalid".
    assert_eq!(code(&proofmark(&["verify", "--key", "signing.pub", &image], d)), 1);
}
