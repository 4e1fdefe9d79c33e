//! The `proofmark` binary end to end, with openssl as the independent judge of what it signs.

#![allow(clippy::unwrap_used, reason = "helpers of tests: a panic is the failure report")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use expect_test::expect;
use proofmark_test_support::stdout_ok as ok;
use proofmark_test_support::{require_tool, temp_dir};

fn proofmark(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_proofmark")).args(args).current_dir(cwd).output().unwrap()
}

fn openssl(openssl: &Path, args: &[&str], cwd: &Path) -> Output {
    Command::new(openssl).args(args).current_dir(cwd).output().unwrap()
}

fn b64_to_der(openssl_bin: &Path, dir: &Path, b64: &str, der: &str) {
    std::fs::write(dir.join("sig.b64"), b64).unwrap();
    ok(openssl(openssl_bin, &["base64", "-d", "-A", "-in", "sig.b64", "-out", der], dir));
}

#[test]
fn generated_file_key_signs_what_openssl_verifies() {
    let Some(openssl_bin) = require_tool("openssl", "openssl") else { return };
    let dir = temp_dir("cli");
    let d = dir.path();
    std::fs::write(d.join("artifact.txt"), b"release artifact\n").unwrap();

    let public = ok(proofmark(&["key", "generate", "file:signing.key"], d));
    assert!(public.starts_with("-----BEGIN PUBLIC KEY-----"), "{public}");
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(d.join("signing.key")).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "the private key must be private");
    assert_eq!(ok(proofmark(&["key", "public", "file:signing.key"], d)), public);
    std::fs::write(d.join("signing.pub"), &public).unwrap();

    let sig = ok(proofmark(&["sign-blob", "--key", "file:signing.key", "artifact.txt"], d));
    b64_to_der(&openssl_bin, d, sig.trim(), "sig.der");
    let verdict = openssl(
        &openssl_bin,
        &["dgst", "-sha256", "-verify", "signing.pub", "-signature", "sig.der", "artifact.txt"],
        d,
    );
    assert_eq!(ok(verdict).trim(), "Verified OK");

    std::fs::write(d.join("artifact.sig"), &sig).unwrap();
    let ours = proofmark(
        &["verify-blob", "--key", "signing.pub", "--signature", "artifact.sig", "artifact.txt"],
        d,
    );
    assert!(ours.status.success());
    assert_eq!(String::from_utf8_lossy(&ours.stderr).trim(), "Verified OK");

    std::fs::write(d.join("artifact.txt"), b"release artifact, edited\n").unwrap();
    let tampered = proofmark(
        &["verify-blob", "--key", "signing.pub", "--signature", "artifact.sig", "artifact.txt"],
        d,
    );
    assert_eq!(tampered.status.code(), Some(3), "a bad signature has its own exit code");
}

/// Keys made by openssl, signatures checked both ways, for every scheme a file key can have.
#[test]
fn openssl_keys_sign_and_verify_both_ways() {
    let Some(openssl_bin) = require_tool("openssl", "openssl") else { return };
    let dir = temp_dir("cli-openssl");
    let d = dir.path();
    std::fs::write(d.join("blob"), (0..5000u32).map(|i| i as u8).collect::<Vec<_>>()).unwrap();
    let cases: &[(&str, &[&str], &[&str], &str)] = &[
        ("p256", &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"], &["-sha256"], ""),
        ("p384", &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"], &["-sha384"], ""),
        ("rsa", &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"], &["-sha256"], ""),
        (
            "pss",
            &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
            &["-sha256", "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:-1"],
            "rsa-sign-pss-2048-sha256",
        ),
    ];
    for (name, genopts, dgstopts, scheme) in cases {
        let key = format!("{name}.key");
        let public = format!("{name}.pub");
        let mut gen_args = vec!["genpkey"];
        gen_args.extend_from_slice(genopts);
        gen_args.extend_from_slice(&["-out", &key]);
        ok(openssl(&openssl_bin, &gen_args, d));
        ok(openssl(&openssl_bin, &["pkey", "-in", &key, "-pubout", "-out", &public], d));

        // Ours signs, openssl verifies.
        let key_ref = format!("file:{key}");
        let mut sign = vec!["sign-blob", "--key", &key_ref];
        if !scheme.is_empty() {
            sign.extend_from_slice(&["--signing-algorithm", scheme]);
        }
        sign.push("blob");
        let sig = ok(proofmark(&sign, d));
        let der = format!("{name}.ours.sig");
        b64_to_der(&openssl_bin, d, sig.trim(), &der);
        let mut check = vec!["dgst"];
        check.extend_from_slice(dgstopts);
        check.extend_from_slice(&["-verify", &public, "-signature", &der, "blob"]);
        assert_eq!(ok(openssl(&openssl_bin, &check, d)).trim(), "Verified OK", "{name}");

        // openssl signs, ours verifies (raw signature bytes, not base64).
        let theirs = format!("{name}.theirs.sig");
        let mut make = vec!["dgst"];
        make.extend_from_slice(dgstopts);
        make.extend_from_slice(&["-sign", &key, "-out", &theirs, "blob"]);
        ok(openssl(&openssl_bin, &make, d));
        let mut verify = vec!["verify-blob", "--key", &public, "--signature", &theirs];
        if !scheme.is_empty() {
            verify.extend_from_slice(&["--signing-algorithm", scheme]);
        }
        verify.push("blob");
        let out = proofmark(&verify, d);
        assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
    }
}

fn error_of(args: &[&str], cwd: &Path) -> String {
    let out = proofmark(args, cwd);
    assert_eq!(out.status.code(), Some(if args[0] == "--bad" { 2 } else { 1 }));
    let text = String::from_utf8(out.stderr).unwrap();
    text.replace(&cwd.display().to_string(), "$DIR")
}

#[test]
fn bad_input_gets_errors_that_say_what_to_do() {
    let dir = temp_dir("cli-errors");
    let d: PathBuf = dir.path().to_owned();
    std::fs::write(d.join("not-a-key"), "hello").unwrap();
    std::fs::write(d.join("existing.key"), "keep me").unwrap();

    expect![[r#"
        error: cannot read the private key missing.key: No such file or directory (os error 2)
    "#]]
    .assert_eq(&error_of(&["sign-blob", "--key", "file:missing.key", "blob"], &d));
    expect![[r#"
        error: not-a-key is not a key proofmark can use (expected a PKCS#8 private key, `-----BEGIN PRIVATE KEY-----` PEM or DER, as `openssl genpkey` or `proofmark key generate PATH` write, or a cosign key from `cosign generate-key-pair`): not a DER PKCS#8 private key: PKCS#8 ASN.1 error: unexpected ASN.1 DER tag: expected SEQUENCE, got APPLICATION [8] (constructed)
    "#]]
    .assert_eq(&error_of(&["key", "public", "file:not-a-key"], &d));
    expect![[r#"
        error: cannot read the TPM key file missing.json: reading key file missing.json: No such file or directory (os error 2)
    "#]]
    .assert_eq(&error_of(&["key", "public", "tpm:missing.json"], &d));
    expect![[r#"
        error: existing.key already exists; pass --force to replace it
    "#]]
    .assert_eq(&error_of(&["key", "generate", "file:existing.key"], &d));
    assert_eq!(std::fs::read_to_string(d.join("existing.key")).unwrap(), "keep me");

    let usage = proofmark(&["sign-blob", "--key", "gpg:abc", "blob"], &d);
    assert_eq!(usage.status.code(), Some(2), "clap's usage error code");
    let text = String::from_utf8(usage.stderr).unwrap();
    assert!(text.contains("invalid value 'gpg:abc' for '--key <KEY>'"), "{text}");
    assert!(text.contains("file:"), "the error lists the known schemes: {text}");
}

/// Issue 16, item 10: one key-reference grammar. A bare path is a key file (as cosign has it),
/// the cosign.key that `sign` takes signs blobs and gives its public key, and every verifying
/// command takes the private key's reference as well as a public key file.
#[test]
fn every_command_reads_the_same_key_references() {
    let Some(openssl_bin) = require_tool("openssl", "openssl") else { return };
    let dir = temp_dir("cli-keyref");
    let d = dir.path();
    std::fs::write(d.join("blob"), b"one grammar\n").unwrap();
    let with_password = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_proofmark"))
            .args(args)
            .current_dir(d)
            .env("COSIGN_PASSWORD", "pw")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    };
    ok(with_password(&["generate-key-pair"]));
    let cosign_pub = std::fs::read_to_string(d.join("cosign.pub")).unwrap();

    // The cosign key, as a bare path and as file:, in key public, public-key and sign-blob.
    for key in ["cosign.key", "file:cosign.key"] {
        assert_eq!(ok(with_password(&["key", "public", key])), cosign_pub, "{key}");
        assert_eq!(ok(with_password(&["public-key", "--key", key])), cosign_pub, "{key}");
        let sig = ok(with_password(&["sign-blob", "--key", key, "blob"]));
        b64_to_der(&openssl_bin, d, sig.trim(), "sig.der");
        let verdict = openssl(
            &openssl_bin,
            &["dgst", "-sha256", "-verify", "cosign.pub", "-signature", "sig.der", "blob"],
            d,
        );
        assert_eq!(ok(verdict).trim(), "Verified OK", "{key}");
        std::fs::write(d.join("blob.sig"), &sig).unwrap();
    }
    ok(with_password(&["public-key", "--key", "cosign.key", "--outfile", "out.pub"]));
    assert_eq!(std::fs::read_to_string(d.join("out.pub")).unwrap(), cosign_pub);

    // verify-blob: a public key file, or the private key's reference (bare or file:).
    for key in ["cosign.pub", "file:cosign.pub", "cosign.key", "file:cosign.key"] {
        let out = with_password(&["verify-blob", "--key", key, "--signature", "blob.sig", "blob"]);
        assert!(out.status.success(), "{key}: {}", String::from_utf8_lossy(&out.stderr));
    }
    // policy: the same.
    let policy = ok(with_password(&["policy", "--key", "cosign.pub", "--scope", "r.example/a"]));
    assert_eq!(
        ok(with_password(&["policy", "--key", "cosign.key", "--scope", "r.example/a"])),
        policy
    );

    // A wrong password names the key; an unknown scheme is still refused by clap.
    let out = Command::new(env!("CARGO_BIN_EXE_proofmark"))
        .args(["sign-blob", "--key", "cosign.key", "blob"])
        .current_dir(d)
        .env("COSIGN_PASSWORD", "wrong")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("error: cannot open the cosign key cosign.key"), "{err}");
}

/// Issue 16, item 15: an RSA-PSS signature checked with RSA's default scheme (PKCS#1 v1.5) says
/// which `--signing-algorithm` would verify it.
#[test]
fn a_pss_signature_checked_as_pkcs1_hints_the_signing_algorithm() {
    let Some(openssl_bin) = require_tool("openssl", "openssl") else { return };
    let dir = temp_dir("cli-pss-hint");
    let d = dir.path();
    std::fs::write(d.join("blob"), b"pss").unwrap();
    let genkey = ["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "k"];
    ok(openssl(&openssl_bin, &genkey, d));
    ok(openssl(&openssl_bin, &["pkey", "-in", "k", "-pubout", "-out", "k.pub"], d));
    let sign = [
        "dgst",
        "-sha256",
        "-sigopt",
        "rsa_padding_mode:pss",
        "-sigopt",
        "rsa_pss_saltlen:-1",
        "-sign",
        "k",
        "-out",
        "blob.sig",
        "blob",
    ];
    ok(openssl(&openssl_bin, &sign, d));
    let out = proofmark(&["verify-blob", "--key", "k.pub", "--signature", "blob.sig", "blob"], d);
    assert_eq!(out.status.code(), Some(3), "still not valid under the scheme checked");
    let text = String::from_utf8(out.stderr).unwrap();
    let text = text.split_once("(sha256:").map_or(text.as_str(), |(head, _)| head).to_owned()
        + "\n"
        + text.lines().nth(1).unwrap_or("");
    expect![[r#"
        error: the signature in blob.sig does not match blob under the key file:k.pub 
        hint: it is a valid rsa-sign-pss-2048-sha256 signature; this key's default scheme is rsa-sign-pkcs1-2048-sha256: pass --signing-algorithm rsa-sign-pss-2048-sha256"#]]
    .assert_eq(&text);
    // A signature that is valid under no scheme gets no hint.
    std::fs::write(d.join("blob"), b"edited").unwrap();
    let out = proofmark(&["verify-blob", "--key", "k.pub", "--signature", "blob.sig", "blob"], d);
    assert_eq!(out.status.code(), Some(3));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("hint"));
}
