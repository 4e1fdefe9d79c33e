//! `proofmark generate-key-pair`, `sign`, `verify` and `policy` end to end, on an OCI layout
//! and on a registry; sigstore-compatible output is checked by proofmark-cosign's own tests.

#![allow(clippy::unwrap_used, reason = "helpers of tests: a panic is the failure report")]

use std::path::Path;
use std::process::{Command, Output};

use expect_test::expect;
use proofmark_test_support::registry::Registry;
use proofmark_test_support::stdout_ok as ok;
use proofmark_test_support::swtpm::Swtpm;
use proofmark_test_support::{require_tool, temp_dir};

mod oci_image;
use oci_image::{put_image, put_image_seeded};

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

/// A registry client that may talk plain HTTP to the test registry.
fn insecure_client(reg: &Registry) -> proofmark_cosign::RegistryClient {
    proofmark_cosign::RegistryClient::new(proofmark_cosign::RegistryOptions {
        allow_insecure: vec![reg.addr()],
        ..Default::default()
    })
    .unwrap()
}

/// `key generate file:NAME.key`, its public key written to `NAME.pub`.
fn file_key(d: &Path, name: &str) {
    ok(proofmark(&["key", "generate", &format!("file:{name}.key")], d));
    let public = ok(proofmark(&["key", "public", &format!("file:{name}.key")], d));
    std::fs::write(d.join(format!("{name}.pub")), public).unwrap();
}

fn code(out: &Output) -> i32 {
    out.status.code().unwrap()
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
    // The `.sig` layout: its payload names the repository, which `verify` checks below.
    ok(proofmark(
        &[
            "sign",
            "--new-bundle-format=false",
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
    let client = insecure_client(&reg);
    put_image(&client.repository(&reg.addr(), "cli/app"), "v1");
    file_key(d, "signing");
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
    assert_eq!(stderr.lines().filter(|l| l.starts_with("already signed ")).count(), 1, "{stderr}");
    assert_eq!(stderr.lines().filter(|l| l.starts_with("signed ")).count(), 2, "{stderr}");
    for img in [&second, &third] {
        ok(proofmark(&[&["verify", "--key", "signing.pub"][..], &insecure, &[img]].concat(), d));
    }
    // Without --allow-insecure the client insists on HTTPS: an error (1), not "invalid".
    assert_eq!(code(&proofmark(&["verify", "--key", "signing.pub", &image], d)), 1);
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// How many signature layers the image `digest` has in `store`.
fn signature_layers(store: &dyn proofmark_cosign::ImageStore, digest: &str) -> usize {
    let tag = proofmark_cosign::digest::signature_tag(digest).unwrap();
    let Some(m) = store.get_manifest(&tag).unwrap() else { return 0 };
    proofmark_cosign::manifest::SignatureManifest::parse(&m.bytes).unwrap().layers.len()
}

/// Issue 16, item 5: `sign` with the same TPM key again says "already signed" (human and
/// JSON) and adds no layer; another key adds one.
#[test]
fn tpm_key_resign_is_already_signed() {
    let Some(reg) = Registry::start() else { return };
    let Some(tpm) = Swtpm::start() else { return };
    let dir = temp_dir("image-cli-resign");
    let d = dir.path();
    let client = insecure_client(&reg);
    let store = client.repository(&reg.addr(), "cli/resign");
    let digest = put_image(&store, "v1");
    let image = format!("{}/cli/resign:v1", reg.addr());
    let tcti = tpm.tcti();
    let with_tpm = |args: &[&str]| {
        let mut all = vec!["--tcti", &tcti];
        all.extend_from_slice(args);
        proofmark(&all, d)
    };
    ok(with_tpm(&["key", "generate", "tpm:release.json"]));
    std::fs::write(d.join("release.pem"), ok(with_tpm(&["key", "public", "tpm:release.json"])))
        .unwrap();
    let sign = |key: &str, output: &str| {
        with_tpm(&[
            "sign",
            "--new-bundle-format=false",
            "--key",
            key,
            "--allow-insecure",
            &reg.addr(),
            "--output",
            output,
            &image,
        ])
    };

    let first = sign("tpm:release.json", "human");
    assert_eq!(code(&first), 0, "{}", stderr(&first));
    assert!(stderr(&first).starts_with(&format!("signed {digest} → ")), "{}", stderr(&first));
    let again = sign("tpm:release.json", "human");
    assert_eq!(code(&again), 0, "{}", stderr(&again));
    expect![[r#"already signed DIGEST → ADDR/cli/resign:sha256-HEX.sig (this key already signed this payload; nothing added)"#]]
    .assert_eq(
        stderr(&again)
            .trim()
            .replace(&reg.addr(), "ADDR")
            .replace(digest.trim_start_matches("sha256:"), "HEX")
            .replace("sha256:HEX", "DIGEST")
            .as_str(),
    );
    let json: serde_json::Value =
        serde_json::from_str(&ok(sign("tpm:release.json", "json"))).unwrap();
    assert_eq!(json[0]["status"], "already signed");
    assert_eq!(json[0]["image"], digest.as_str());
    assert_eq!(signature_layers(&store, &digest), 1);
    ok(proofmark(&["verify", "--key", "release.pem", "--allow-insecure", &reg.addr(), &image], d));

    // Another key adds its own signature.
    ok(with_tpm(&["key", "generate", "tpm:other.json"]));
    let json: serde_json::Value =
        serde_json::from_str(&ok(sign("tpm:other.json", "json"))).unwrap();
    assert_eq!(json[0]["status"], "signed");
    assert_eq!(signature_layers(&store, &digest), 2);
}

/// Issue 16, item 6: an untagged layout is signed, verified and re-signed by `oci:PATH`, and
/// `oci:PATH@sha256:…` names its image.
#[test]
fn untagged_layout_and_digest_references() {
    let dir = temp_dir("image-cli-untagged");
    let d = dir.path();
    let layout = proofmark_cosign::OciLayout::open_or_create(d.join("layout")).unwrap();
    // Stored by digest and listed without a name, as `skopeo copy … oci:layout` does.
    let digest = put_image(&layout, "v1");
    let index = d.join("layout/index.json");
    let text = std::fs::read_to_string(&index).unwrap();
    let mut value: serde_json::Value = serde_json::from_str(&text).unwrap();
    value["manifests"][0].as_object_mut().unwrap().remove("annotations");
    std::fs::write(&index, value.to_string()).unwrap();
    file_key(d, "signing");
    let by_digest = format!("oci:layout@{digest}");
    let sign = |image: &str| {
        proofmark(
            &["sign", "--key", "file:signing.key", "--docker-reference", "r.io/app", image],
            d,
        )
    };
    let verify = |image: &str| {
        proofmark(&["verify", "--key", "signing.pub", "--docker-reference", "r.io/app", image], d)
    };

    let out = sign("oci:layout");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    for image in ["oci:layout", by_digest.as_str()] {
        let out = verify(image);
        assert_eq!(code(&out), 0, "{image}: {}", stderr(&out));
        let out = sign(image);
        assert_eq!(code(&out), 0, "{image}: {}", stderr(&out));
        assert!(stderr(&out).starts_with("already signed "), "{image}: {}", stderr(&out));
    }
    // One bundle referrer, listed once in the layout's `sha256-<hex>` index.
    let (_, referrers) = proofmark_cosign::referrers::list_referrers(&layout, &digest).unwrap();
    assert_eq!(referrers.entries.len(), 1);
    // A digest that is not in the layout.
    let absent = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
    let out = verify(&format!("oci:layout@{absent}"));
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains(&format!("manifest {absent} in oci:layout not found")),
        "{}",
        stderr(&out)
    );
}

/// Issue 16, item 11: a plain-HTTP registry without `--allow-insecure` says to use it;
/// `--allow-insecure http://HOST:PORT` works, and a value that is no host is refused.
#[test]
fn plain_http_registry_hint_and_allow_insecure_forms() {
    let Some(reg) = Registry::start() else { return };
    let dir = temp_dir("image-cli-insecure");
    let d = dir.path();
    let client = insecure_client(&reg);
    put_image(&client.repository(&reg.addr(), "cli/plain"), "v1");
    file_key(d, "signing");
    let image = format!("{}/cli/plain:v1", reg.addr());
    let sign = |extra: &[&str]| {
        proofmark(&[&["sign", "--key", "file:signing.key"][..], extra, &[&image]].concat(), d)
    };

    let out = sign(&[]);
    assert_eq!(code(&out), 1);
    expect![[r#"error: signing ADDR/cli/plain:v1: ADDR answered plain HTTP to an HTTPS request (https://ADDR/v2/cli/plain/manifests/v1); if it is a plain-HTTP registry, allow that with --allow-insecure ADDR"#]]
    .assert_eq(stderr(&out).trim().replace(&reg.addr(), "ADDR").as_str());
    ok(sign(&["--allow-insecure", &reg.url()]));
    ok(proofmark(&["verify", "--key", "signing.pub", "--allow-insecure", "127.0.0.1", &image], d));
    let out = sign(&["--allow-insecure", &format!("https://{}", reg.addr())]);
    assert_eq!(code(&out), 1);
    expect![[r#"error: --allow-insecure "https://ADDR": https:// asks for TLS, which --allow-insecure turns off; expected HOST:PORT (for example 127.0.0.1:5000)"#]]
    .assert_eq(stderr(&out).trim().replace(&reg.addr(), "ADDR").as_str());
}

/// Issue 16, items 12 and 15: `--pin` takes what `sha256sum` prints (here openssl's digest of
/// the DER key) with or without `sha256:`, and refuses what is no fingerprint; a payload for
/// another repository says what was expected.
#[test]
fn pins_and_identity_messages() {
    let Some(openssl) = require_tool("openssl", "openssl") else { return };
    let dir = temp_dir("image-cli-pin");
    let d = dir.path();
    let layout = proofmark_cosign::OciLayout::open_or_create(d.join("layout")).unwrap();
    put_image(&layout, "v1");
    file_key(d, "signing");
    file_key(d, "other");
    ok(proofmark(
        &[
            "sign",
            "--new-bundle-format=false",
            "--key",
            "file:signing.key",
            "--docker-reference",
            "r.io/app",
            "oci:layout:v1",
        ],
        d,
    ));
    // The fingerprint as an independent tool computes it.
    ok(Command::new(&openssl)
        .args(["pkey", "-pubin", "-in", "signing.pub", "-outform", "DER", "-out", "signing.der"])
        .current_dir(d)
        .output()
        .unwrap());
    let digest = ok(Command::new(&openssl)
        .args(["dgst", "-sha256", "-r", "signing.der"])
        .current_dir(d)
        .output()
        .unwrap());
    let hex = digest.split_whitespace().next().unwrap().to_owned();
    assert_eq!(hex.len(), 64, "{digest}");
    let verify = |key: &str, pin: &str| {
        proofmark(
            &[
                "verify",
                "--key",
                key,
                "--pin",
                pin,
                "--docker-reference",
                "r.io/app",
                "oci:layout:v1",
            ],
            d,
        )
    };
    for pin in [hex.clone(), format!("sha256:{hex}"), hex.to_uppercase()] {
        let out = verify("signing.pub", &pin);
        assert_eq!(code(&out), 0, "{pin}: {}", stderr(&out));
    }
    // A valid pin of another key: the given key is refused.
    let out = verify("other.pub", &hex);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(stderr(&out).contains("is not among the pinned fingerprints"), "{}", stderr(&out));
    for garbage in ["abc", "sha256:xyz", &format!("{hex}  -"), &format!("sha512:{hex}")] {
        let out = verify("signing.pub", garbage);
        assert_eq!(code(&out), 2, "{garbage}");
        assert!(stderr(&out).contains("is not a SHA-256 fingerprint"), "{}", stderr(&out));
    }
    let out = verify("signing.pub", "abc");
    expect![[r#"error: invalid value 'abc' for '--pin <FINGERPRINT>': "abc" is not a SHA-256 fingerprint: expected 64 hex digits, with or without sha256: (openssl pkey -pubin -in KEY.pub -outform DER | sha256sum)"#]]
    .assert_eq(stderr(&out).lines().next().unwrap());

    // Item 15: the identity rejection says what was expected.
    let out = proofmark(
        &["verify", "--key", "signing.pub", "--docker-reference", "r.io/other", "oci:layout:v1"],
        d,
    );
    assert_eq!(code(&out), 3);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(r#"payload identity "r.io/app" does not match: expected the repository "r.io/other" (with or without a tag or digest)"#),
        "{stdout}"
    );
}

/// Issue 16, item 15: a registry that refuses the credentials (distribution's htpasswd) gets an
/// error naming the user that was tried and the config.json entry it came from; no config.json
/// is named as such.
#[test]
fn refused_credentials_are_named_with_their_source() {
    use proofmark_test_support::registry::{HTPASSWD_PASSWORD, HTPASSWD_USER};
    let Some(reg) = Registry::start_with_htpasswd() else { return };
    let dir = temp_dir("image-cli-401");
    let d = dir.path();
    let config = |password: &str| {
        let auth = base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            format!("{HTPASSWD_USER}:{password}"),
        );
        format!(r#"{{"auths":{{"{}":{{"auth":"{auth}"}}}}}}"#, reg.addr())
    };
    let client = proofmark_cosign::RegistryClient::new(proofmark_cosign::RegistryOptions {
        allow_insecure: vec![reg.addr()],
        docker_config: proofmark_cosign::DockerConfig::parse(config(HTPASSWD_PASSWORD).as_bytes())
            .unwrap(),
        ..Default::default()
    })
    .unwrap();
    put_image(&client.repository(&reg.addr(), "cli/auth"), "v1");
    file_key(d, "signing");
    let image = format!("{}/cli/auth:v1", reg.addr());
    let verify = || {
        proofmark(&["verify", "--key", "signing.pub", "--allow-insecure", &reg.addr(), &image], d)
    };
    let message = |out: &Output| {
        assert_eq!(code(out), 1, "{}", stderr(out));
        stderr(out).trim().replace(&reg.addr(), "ADDR").replace(&d.display().to_string(), "DIR")
    };

    let out = verify();
    expect![[r#"error: verifying ADDR/cli/auth:v1: authentication with ADDR failed: the registry wants basic auth and there are no credentials for ADDR in DIR/config.json (which does not exist)"#]]
    .assert_eq(&message(&out));
    std::fs::write(d.join("config.json"), config("wrong")).unwrap();
    let out = verify();
    expect![[r#"error: verifying ADDR/cli/auth:v1: authentication with ADDR failed: GET http://ADDR/v2/cli/auth/manifests/v1 returned HTTP 401 with {"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":[{"Type":"repository","Class":"","Name":"cli/auth","Action":"pull"}]}]}; tried user "alice" and its password from the auths entry for ADDR in DIR/config.json"#]]
    .assert_eq(&message(&out));
    assert!(!stderr(&out).contains("wrong"), "the password is never shown");
    // The right password: through to the verdict (no signatures yet).
    std::fs::write(d.join("config.json"), config(HTPASSWD_PASSWORD)).unwrap();
    assert_eq!(code(&verify()), 4, "{}", stderr(&verify()));
}

/// Issue 12: `sign` writes cosign 3's bundle referrer by default; `verify` finds both formats,
/// counts keys across them and names the format; `attest` / `verify-attestation`; blob
/// bundles judged by sigstore-js both ways.
#[test]
fn bundle_is_the_default_and_both_formats_verify() {
    let Some(reg) = Registry::start() else { return };
    let dir = temp_dir("image-cli-bundle");
    let d = dir.path();
    let client = insecure_client(&reg);
    let store = client.repository(&reg.addr(), "cli/bundle");
    let digest = put_image(&store, "v1");
    let image = format!("{}/cli/bundle:v1", reg.addr());
    let addr = reg.addr();
    file_key(d, "a");
    file_key(d, "b");
    let out = proofmark(&["sign", "--key", "file:a.key", "--allow-insecure", &addr, &image], d);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let hex = digest.trim_start_matches("sha256:");
    assert!(
        stderr(&out).contains(&format!("(bundle, listed in sha256-{hex})")),
        "{}",
        stderr(&out)
    );
    let json: serde_json::Value = serde_json::from_str(&ok(proofmark(
        &[
            "sign",
            "--key",
            "file:b.key",
            "--new-bundle-format=false",
            "--output",
            "json",
            "--allow-insecure",
            &addr,
            &image,
        ],
        d,
    )))
    .unwrap();
    assert_eq!(json[0]["format"], "legacy");
    let verify = |extra: &[&str]| {
        let args: Vec<&str> = [
            &["verify", "--key", "a.pub", "--key", "b.pub", "--allow-insecure", &addr][..],
            extra,
            &[&image],
        ]
        .concat();
        proofmark(&args, d)
    };
    let human = ok(verify(&["--threshold", "2"]));
    assert!(
        human.contains("[0] bundle: valid, key") && human.contains("[1] .sig: valid, key"),
        "{human}"
    );
    let json: serde_json::Value = serde_json::from_str(&ok(verify(&["--output", "json"]))).unwrap();
    assert_eq!(json[0]["critical"]["type"], "https://sigstore.dev/cosign/sign/v1");
    assert_eq!(json[1]["critical"]["type"], "cosign container image signature");

    // Attestations: the short name maps to cosign's URI; another type is not accepted.
    std::fs::write(d.join("provenance.json"), r#"{"buildDefinition":{"buildType":"x"}}"#).unwrap();
    let out = proofmark(
        &[
            "attest",
            "--key",
            "file:a.key",
            "--predicate",
            "provenance.json",
            "--type",
            "slsaprovenance1",
            "--allow-insecure",
            &addr,
            &image,
        ],
        d,
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let envelopes: serde_json::Value = serde_json::from_str(&ok(proofmark(
        &[
            "verify-attestation",
            "--key",
            "a.pub",
            "--type",
            "slsaprovenance1",
            "--output",
            "json",
            "--allow-insecure",
            &addr,
            &image,
        ],
        d,
    )))
    .unwrap();
    assert_eq!(envelopes[0]["payloadType"], "application/vnd.in-toto+json");
    let other = proofmark(
        &[
            "verify-attestation",
            "--key",
            "a.pub",
            "--type",
            "cyclonedx",
            "--allow-insecure",
            &addr,
            &image,
        ],
        d,
    );
    assert_eq!(code(&other), 4, "{}", stderr(&other));
    let wrong_key = proofmark(
        &[
            "verify-attestation",
            "--key",
            "b.pub",
            "--type",
            "slsaprovenance1",
            "--allow-insecure",
            &addr,
            &image,
        ],
        d,
    );
    assert_eq!(code(&wrong_key), 3);

    // Blob bundles, and sigstore-js on both sides.
    std::fs::write(d.join("blob.txt"), "release artefact\n").unwrap();
    std::fs::write(d.join("other.txt"), "another artefact\n").unwrap();
    ok(proofmark(&["sign-blob", "--key", "file:a.key", "--bundle", "blob.bundle", "blob.txt"], d));
    ok(proofmark(&["verify-blob", "--key", "a.pub", "--bundle", "blob.bundle", "blob.txt"], d));
    assert_eq!(
        code(&proofmark(
            &["verify-blob", "--key", "b.pub", "--bundle", "blob.bundle", "blob.txt"],
            d
        )),
        3
    );
    let other =
        proofmark(&["verify-blob", "--key", "a.pub", "--bundle", "blob.bundle", "other.txt"], d);
    assert_eq!(code(&other), 1);
    assert!(stderr(&other).contains("is for another file"), "{}", stderr(&other));
    let Some(mut js) = proofmark_test_support::tools::sigstore_js::judge() else { return };
    let judged = js
        .args(["verify", "--bundle"])
        .arg(d.join("blob.bundle"))
        .arg("--key")
        .arg(d.join("a.pub"))
        .arg("--artifact")
        .arg(d.join("blob.txt"))
        .output()
        .unwrap();
    assert!(judged.status.success(), "{}", String::from_utf8_lossy(&judged.stderr));
    let mut js = proofmark_test_support::tools::sigstore_js::judge().unwrap();
    let rejected = js
        .args(["verify", "--bundle"])
        .arg(d.join("blob.bundle"))
        .arg("--key")
        .arg(d.join("a.pub"))
        .arg("--artifact")
        .arg(d.join("other.txt"))
        .output()
        .unwrap();
    assert!(!rejected.status.success());
    // A bundle sigstore-js writes with a.key is read by verify-blob.
    let mut js = proofmark_test_support::tools::sigstore_js::judge().unwrap();
    let written = js
        .args(["sign-message", "--key"])
        .arg(d.join("a.key"))
        .arg("--artifact")
        .arg(d.join("blob.txt"))
        .output()
        .unwrap();
    assert!(written.status.success(), "{}", String::from_utf8_lossy(&written.stderr));
    std::fs::write(d.join("js.bundle"), &written.stdout).unwrap();
    ok(proofmark(&["verify-blob", "--key", "a.pub", "--bundle", "js.bundle", "blob.txt"], d));
}
