//! `proofmark sign` and `verify` over HTTPS: Debian's docker-registry serves a certificate from
//! a private CA that `openssl` made for this test, and asks for htpasswd (bcrypt) basic auth.
//! proofmark trusts that CA when told to, with `--ca-bundle` or `SSL_CERT_FILE` (read by the
//! system-roots loader), and refuses the registry otherwise. No scripted server is involved.

#![allow(clippy::unwrap_used, reason = "helpers of tests: a panic is the failure report")]

use std::path::Path;
use std::process::{Command, Output};

use expect_test::expect;
use proofmark_test_support::registry::{HTPASSWD_PASSWORD, HTPASSWD_USER, Options, Registry};
use proofmark_test_support::{stdout_ok as ok, temp_dir};

mod oci_image;
use oci_image::put_image;

/// Runs the binary in `cwd` with `cwd` as the docker config folder and no CA from the caller's
/// environment unless `env` sets one.
fn proofmark(args: &[&str], cwd: &Path, env: &[(&str, &Path)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_proofmark"))
        .args(args)
        .current_dir(cwd)
        .env("DOCKER_CONFIG", cwd)
        .env_remove("SSL_CERT_FILE")
        .env_remove("SSL_CERT_DIR")
        .env_remove("COSIGN_PASSWORD")
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn sign_and_verify_over_tls_trusting_a_private_ca() {
    let Some(reg) = Registry::start_with(Options { tls: true, htpasswd: true }) else { return };
    let ca = reg.ca_pem().unwrap();
    let dir = temp_dir("tls-cli");
    let d = dir.path();
    let auth = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        format!("{HTPASSWD_USER}:{HTPASSWD_PASSWORD}"),
    );
    let config = format!(r#"{{"auths":{{"{}":{{"auth":"{auth}"}}}}}}"#, reg.addr());
    std::fs::write(d.join("config.json"), &config).unwrap();
    std::fs::copy(&ca, d.join("ca.pem")).unwrap();
    let client = proofmark_cosign::RegistryClient::new(proofmark_cosign::RegistryOptions {
        ca_bundle_pem: Some(std::fs::read(&ca).unwrap()),
        docker_config: proofmark_cosign::DockerConfig::parse(config.as_bytes()).unwrap(),
        ..Default::default()
    })
    .unwrap();
    let digest = put_image(&client.repository(&reg.addr(), "tls/app"), "v1");
    for name in ["a", "b"] {
        ok(proofmark(&["key", "generate", &format!("file:{name}.key")], d, &[]));
        let public = ok(proofmark(&["key", "public", &format!("file:{name}.key")], d, &[]));
        std::fs::write(d.join(format!("{name}.pub")), public).unwrap();
    }
    let image = format!("{}/tls/app:v1", reg.addr());

    // a signs with the bundle format trusting the CA by flag, b with the .sig format trusting
    // it through SSL_CERT_FILE.
    let signed =
        proofmark(&["sign", "--key", "file:a.key", "--ca-bundle", "ca.pem", &image], d, &[]);
    assert!(signed.status.success(), "{}", stderr(&signed));
    let hex = digest.trim_start_matches("sha256:");
    assert!(stderr(&signed).contains(&format!("listed in sha256-{hex}")), "{}", stderr(&signed));
    let ca_file = d.join("ca.pem");
    let env = [("SSL_CERT_FILE", ca_file.as_path())];
    let legacy = ["sign", "--key", "file:b.key", "--new-bundle-format=false", &image];
    let signed = proofmark(&legacy, d, &env);
    assert!(signed.status.success(), "{}", stderr(&signed));

    let both = ["verify", "--key", "a.pub", "--key", "b.pub", "--threshold", "2"];
    let verified = ok(proofmark(&[&both[..], &["--ca-bundle", "ca.pem", &image]].concat(), d, &[]));
    assert!(
        verified.contains("bundle: valid, key") && verified.contains(".sig: valid, key"),
        "{verified}"
    );
    ok(proofmark(&[&both[..], &[image.as_str()]].concat(), d, &env));

    // Without the CA, or with another one, the registry is refused before anything is read.
    let message = |out: &Output| {
        assert_eq!(out.status.code(), Some(1), "{}", stderr(out));
        stderr(out).trim().replace(&reg.addr(), "ADDR")
    };
    let untrusted = proofmark(&[&both[..], &[image.as_str()]].concat(), d, &[]);
    expect!["error: verifying ADDR/tls/app:v1: cannot reach https://ADDR/v2/tls/app/manifests/v1: Connection Failed: tls connection init failed: invalid peer certificate: UnknownIssuer; trust the registry's CA with --ca-bundle FILE or SSL_CERT_FILE=FILE"]
    .assert_eq(&message(&untrusted));
    let other = Registry::start_tls().unwrap();
    std::fs::copy(other.ca_pem().unwrap(), d.join("other-ca.pem")).unwrap();
    let wrong = proofmark(&[&both[..], &["--ca-bundle", "other-ca.pem", &image]].concat(), d, &[]);
    expect!["error: verifying ADDR/tls/app:v1: cannot reach https://ADDR/v2/tls/app/manifests/v1: Connection Failed: tls connection init failed: invalid peer certificate: UnknownIssuer; trust the registry's CA with --ca-bundle FILE or SSL_CERT_FILE=FILE"]
    .assert_eq(&message(&wrong));
    // Plain HTTP to a TLS registry is not a way round it.
    let insecure = ["--allow-insecure-registry", image.as_str()];
    let plain = proofmark(&[&both[..], &insecure].concat(), d, &[]);
    expect![[r#"error: verifying ADDR/tls/app:v1: GET http://ADDR/v2/tls/app/manifests/v1 returned HTTP 400: Client sent an HTTP request to an HTTPS server."#]]
    .assert_eq(&message(&plain));
}
