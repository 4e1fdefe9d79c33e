//! Issue 12, item 5: the flags cosign users type work unchanged with `proofmark sign` and
//! `verify`, against a real docker-registry: `--key PATH` without a scheme, `COSIGN_REPOSITORY`,
//! `--allow-insecure-registry`, `--upload=false` with `--output-signature` / `--output-payload`
//! (openssl judges the written signature), and the bytes `verify --output json` prints.

#![allow(clippy::unwrap_used, reason = "helpers of tests: a panic is the failure report")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine as _;
use expect_test::expect;
use proofmark_cosign::ImageStore as _;
use proofmark_test_support::registry::Registry;
use proofmark_test_support::stdout_ok as ok;
use proofmark_test_support::{require_tool, temp_dir};

mod oci_image;
use oci_image::put_image;

const PASSWORD: &str = "test password";

/// Runs the binary without a terminal, with `COSIGN_PASSWORD` set and `env` added.
fn proofmark_env(args: &[&str], cwd: &Path, env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_proofmark"));
    cmd.args(args)
        .current_dir(cwd)
        .env("DOCKER_CONFIG", cwd)
        .env("COSIGN_PASSWORD", PASSWORD)
        .env_remove("COSIGN_REPOSITORY")
        .stdin(std::process::Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn proofmark(args: &[&str], cwd: &Path) -> Output {
    proofmark_env(args, cwd, &[])
}

fn code(out: &Output) -> i32 {
    out.status.code().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn repo(reg: &Registry, name: &str) -> proofmark_cosign::RegistryRepo {
    proofmark_cosign::RegistryClient::new(proofmark_cosign::RegistryOptions {
        allow_insecure: vec![reg.addr()],
        ..Default::default()
    })
    .unwrap()
    .repository(&reg.addr(), name)
}

/// Every file of the registry's storage with its size: any write (a blob, an upload session,
/// a manifest, a tag link) changes it.
fn storage_listing(root: &Path) -> Vec<(PathBuf, u64)> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<(PathBuf, u64)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let meta = std::fs::metadata(&path).unwrap();
            if meta.is_dir() {
                out.push((path.strip_prefix(root).unwrap().to_owned(), 0));
                walk(&path, root, out);
            } else {
                out.push((path.strip_prefix(root).unwrap().to_owned(), meta.len()));
            }
        }
    }
    let mut out = Vec::new();
    if root.exists() {
        walk(root, root, &mut out);
    }
    out.sort();
    out
}

/// A cosign key pair (`cosign.key`, `cosign.pub`) and a PKCS#8 key with its public key
/// (`signing.key`, `signing.pub`) in `d`.
fn keys(d: &Path) {
    ok(proofmark(&["generate-key-pair"], d));
    ok(proofmark(&["key", "generate", "file:signing.key"], d));
    std::fs::write(d.join("signing.pub"), ok(proofmark(&["key", "public", "file:signing.key"], d)))
        .unwrap();
}

/// `--key PATH` (no scheme) is a key file for `sign` and a public key for `verify`, as in
/// cosign; `COSIGN_REPOSITORY` moves the signatures for both commands, and the flag wins.
#[test]
fn key_paths_without_a_scheme_and_cosign_repository() {
    let Some(reg) = Registry::start() else { return };
    let dir = temp_dir("dropin-key");
    let d = dir.path();
    keys(d);
    let app = repo(&reg, "dropin/app");
    let sigs = repo(&reg, "dropin/sigs");
    let digest = put_image(&app, "v1");
    let image = format!("{}/dropin/app:v1", reg.addr());
    let elsewhere = format!("{}/dropin/sigs", reg.addr());
    let env = [("COSIGN_REPOSITORY", elsewhere.as_str())];
    let referrers_tag = digest.replace(':', "-");

    // The cosign key by path, its password from COSIGN_PASSWORD; the `.sig` layout too.
    ok(proofmark_env(
        &["sign", "--key", "cosign.key", "--allow-insecure", &reg.addr(), &image],
        d,
        &env,
    ));
    ok(proofmark_env(
        &[
            "sign",
            "--key",
            "signing.key",
            "--new-bundle-format=false",
            "--allow-insecure",
            &reg.addr(),
            &image,
        ],
        d,
        &env,
    ));
    // Both went to the other repository, nothing to the image's.
    assert!(sigs.get_manifest(&referrers_tag).unwrap().is_some());
    assert!(sigs.get_manifest(&format!("{referrers_tag}.sig")).unwrap().is_some());
    assert!(app.get_manifest(&referrers_tag).unwrap().is_none());
    assert!(app.get_manifest(&format!("{referrers_tag}.sig")).unwrap().is_none());

    let addr = reg.addr();
    let verify = |env: &[(&str, &str)], extra: &[&str]| {
        let args = [
            &["verify", "--key", "cosign.pub", "--key", "signing.pub", "--threshold", "2"][..],
            extra,
            &["--allow-insecure", &addr, &image],
        ]
        .concat();
        proofmark_env(&args, d, env)
    };
    let human = ok(verify(&env, &[]));
    assert!(human.contains("verified (2 of 2 required keys)"), "{human}");
    // Without the variable the image's own repository is searched: no signatures there (4).
    assert_eq!(code(&verify(&[], &[])), 4);
    // The flag wins over the variable.
    let flag = ["--signature-repository", elsewhere.as_str()];
    assert_eq!(code(&verify(&[("COSIGN_REPOSITORY", "127.0.0.1:1/none")], &flag)), 0);
    // A scheme proofmark does not know is refused, naming it, not read as a path.
    let out = proofmark(&["sign", "--key", "awskms:///alias/x", &image], d);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("awskms"), "{}", stderr(&out));
}

/// `--allow-insecure-registry` (bare, `=true`, `=false`) allows plain HTTP for the image's own
/// registry only: a signature repository on another plain-HTTP registry is still refused.
#[test]
fn allow_insecure_registry_is_the_images_registry_only() {
    let Some(reg) = Registry::start() else { return };
    let Some(other) = Registry::start() else { return };
    let dir = temp_dir("dropin-insecure");
    let d = dir.path();
    keys(d);
    put_image(&repo(&reg, "dropin/app"), "v1");
    let image = format!("{}/dropin/app:v1", reg.addr());
    let sign = |extra: &[&str]| {
        proofmark(&[&["sign", "--key", "signing.key"][..], extra, &[&image]].concat(), d)
    };
    let before = storage_listing(&reg.storage());

    let out = sign(&[]);
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("answered plain HTTP"), "{}", stderr(&out));
    let out = sign(&["--allow-insecure-registry=false"]);
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("answered plain HTTP"), "{}", stderr(&out));
    assert_eq!(storage_listing(&reg.storage()), before, "a refused sign changed the registry");

    // Signatures on another plain-HTTP registry: not the image's, so still refused.
    let out = sign(&[
        "--allow-insecure-registry",
        "--signature-repository",
        &format!("{}/dropin/sigs", other.addr()),
    ]);
    assert_eq!(code(&out), 1);
    let message = stderr(&out).replace(&other.addr(), "OTHER");
    assert!(message.contains("OTHER answered plain HTTP"), "{message}");

    ok(sign(&["--allow-insecure-registry"]));
    ok(sign(&["--allow-insecure-registry=true", "--new-bundle-format=false"]));
    let out =
        ok(proofmark(&["verify", "--key", "signing.pub", "--allow-insecure-registry", &image], d));
    assert!(out.contains("verified (1 of 1 required keys)"), "{out}");
}

/// `--upload=false --output-signature F --output-payload P` (`.sig` layout): cosign's files,
/// nothing pushed; openssl verifies the signature over the payload. With the upload, the files
/// hold what was pushed.
#[test]
fn upload_false_writes_cosigns_files_and_pushes_nothing() {
    let Some(openssl) = require_tool("openssl", "openssl") else { return };
    let Some(reg) = Registry::start() else { return };
    let dir = temp_dir("dropin-upload");
    let d = dir.path();
    keys(d);
    let app = repo(&reg, "dropin/app");
    let digest = put_image(&app, "v1");
    let image = format!("{}/dropin/app:v1", reg.addr());
    let before = storage_listing(&reg.storage());
    let addr = reg.addr();
    let sign = |extra: &[&str]| {
        let args =
            [&["sign", "--key", "signing.key", "--allow-insecure", &addr][..], extra, &[&image]]
                .concat();
        proofmark(&args, d)
    };

    let out = sign(&[
        "--new-bundle-format=false",
        "--upload=false",
        "-a",
        "git_sha=3f2c1e",
        "--output-signature",
        "sig.b64",
        "--output-payload",
        "payload.json",
    ]);
    ok(out);
    assert_eq!(storage_listing(&reg.storage()), before, "--upload=false changed the registry");
    let payload = std::fs::read_to_string(d.join("payload.json")).unwrap();
    expect![[r#"{"critical":{"identity":{"docker-reference":"ADDR/dropin/app"},"image":{"docker-manifest-digest":"DIGEST"},"type":"cosign container image signature"},"optional":{"git_sha":"3f2c1e"}}"#]]
    .assert_eq(&payload.replace(&reg.addr(), "ADDR").replace(&digest, "DIGEST"));
    for file in ["sig.b64", "payload.json"] {
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(d.join(file)).unwrap().permissions(),
        );
        assert_eq!(mode & 0o777, 0o600, "{file}");
    }

    // The judge: openssl verifies the DER signature over the exact payload bytes, and not
    // over a changed payload.
    let judge = |payload_file: &str| {
        let b64 = std::fs::read_to_string(d.join("sig.b64")).unwrap();
        let der = base64::engine::general_purpose::STANDARD.decode(b64.trim_end()).unwrap();
        std::fs::write(d.join("sig.der"), der).unwrap();
        Command::new(&openssl)
            .args(["dgst", "-sha256", "-verify", "signing.pub", "-signature", "sig.der"])
            .arg(payload_file)
            .current_dir(d)
            .output()
            .unwrap()
    };
    let verdict = ok(judge("payload.json"));
    assert_eq!(verdict.trim(), "Verified OK");
    std::fs::write(d.join("tampered.json"), payload.replace("3f2c1e", "3f2c1f")).unwrap();
    assert!(!judge("tampered.json").status.success());
    // No trailing newline in either file, as cosign writes them.
    assert!(!payload.ends_with('\n'));

    // The bundle format, several images, or --recursive with the files: refused, unchanged.
    for extra in [
        &["--upload=false", "--output-signature", "x.b64"][..],
        &["--new-bundle-format=false", "--recursive", "--output-payload", "x.json"][..],
        &["--new-bundle-format=false", "--output-payload", "x.json", &image][..],
    ] {
        let out = sign(extra);
        assert_eq!(code(&out), 1, "{extra:?}");
        assert!(stderr(&out).contains("--output-") || stderr(&out).contains("--upload"));
    }
    assert!(!d.join("x.b64").exists() && !d.join("x.json").exists());
    assert_eq!(storage_listing(&reg.storage()), before, "a refused sign changed the registry");

    // With the upload, the files are what was pushed: the layer's signature annotation.
    ok(sign(&["--new-bundle-format=false", "--output-signature", "pushed.b64"]));
    let sig_manifest = app.get_manifest(&format!("{}.sig", digest.replace(':', "-"))).unwrap();
    let sig_manifest: serde_json::Value =
        serde_json::from_slice(&sig_manifest.unwrap().bytes).unwrap();
    let pushed = std::fs::read_to_string(d.join("pushed.b64")).unwrap();
    assert_eq!(
        sig_manifest["layers"][0]["annotations"]["dev.cosignproject.cosign/signature"],
        pushed.as_str()
    );
}

/// `verify --output json` prints cosign's bytes: an empty line, then the array as Go encodes
/// sigstore's `SimpleContainerImage` — for a bundle the image named as go-containerregistry
/// names it, the predicate type and the subject's annotations; for a `.sig` layer its payload.
#[test]
fn verify_output_json_is_what_cosign_prints() {
    let Some(reg) = Registry::start() else { return };
    let dir = temp_dir("dropin-json");
    let d = dir.path();
    keys(d);
    let digest = put_image(&repo(&reg, "dropin/app"), "v1");
    let image = format!("{}/dropin/app:v1", reg.addr());
    let insecure = ["--allow-insecure", &reg.addr()];
    let sign = |extra: &[&str]| {
        let args =
            [&["sign", "--key", "signing.key", "-a", "team=a&b"][..], extra, &insecure, &[&image]]
                .concat();
        ok(proofmark(&args, d));
    };
    sign(&[]);
    sign(&["--new-bundle-format=false"]);
    let verify = |image: &str| {
        let args =
            [&["verify", "--key", "signing.pub", "--output", "json"][..], &insecure, &[image]]
                .concat();
        ok(proofmark(&args, d)).replace(&reg.addr(), "ADDR").replace(&digest, "DIGEST")
    };
    expect![[r#"

        [{"critical":{"identity":{"docker-reference":"ADDR/dropin/app:v1"},"image":{"docker-manifest-digest":"DIGEST"},"type":"https://sigstore.dev/cosign/sign/v1"},"optional":{"team":"a\u0026b"}},{"critical":{"identity":{"docker-reference":"ADDR/dropin/app"},"image":{"docker-manifest-digest":"DIGEST"},"type":"cosign container image signature"},"optional":{"team":"a\u0026b"}}]
    "#]]
    .assert_eq(&verify(&image));
    // By digest, with the tag too: go-containerregistry drops the tag from the name.
    expect![[r#"ADDR/dropin/app@DIGEST"#]].assert_eq(
        serde_json::from_str::<serde_json::Value>(&verify(&format!("{image}@{digest}"))).unwrap()
            [0]["critical"]["identity"]["docker-reference"]
            .as_str()
            .unwrap()
            .replace(&reg.addr(), "ADDR")
            .replace(&digest, "DIGEST")
            .as_str(),
    );
}
