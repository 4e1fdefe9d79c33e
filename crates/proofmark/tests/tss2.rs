//! The CLI with TSS2 PRIVATE KEY files on a per-test swtpm, judged by Debian's tpm2-openssl
//! (the OpenSSL 3 `tpm2` provider) and plain openssl: keys `openssl genpkey` makes sign through
//! `proofmark sign-blob`, keys `proofmark key generate tpm:K.pem` makes sign through `openssl
//! pkeyutl -sign`, and bad key files fail with an error that names them.

#![allow(clippy::unwrap_used, reason = "helpers of tests: a panic is the failure report")]

use std::path::Path;
use std::process::{Command, Output};

use proofmark_test_support::stdout_ok as ok;
use proofmark_test_support::swtpm::Swtpm;
use proofmark_test_support::temp_dir;

mod tpm_cli;
use tpm_cli::proofmark_with_env as proofmark;

/// `openssl COMMAND -provider tpm2 -provider default ARGS…` on `tpm`, in `cwd`; `None` skips the test
/// when openssl or tpm2-openssl is missing.
fn openssl_tpm2(tpm: &Swtpm, args: &[&str], cwd: &Path) -> Option<String> {
    let mut cmd = tpm.openssl_tpm2()?;
    let (command, rest) = args.split_first().unwrap();
    cmd.arg(command).args(["-provider", "tpm2", "-provider", "default"]).args(rest);
    cmd.current_dir(cwd);
    Some(ok(cmd.output().unwrap()))
}

/// Plain openssl verifies a DER signature file over `file` with a PEM public key file.
fn openssl_verifies(dir: &Path, public: &str, signature: &str, file: &str, pss: bool) {
    let mut cmd = Command::new("openssl");
    cmd.args(["dgst", "-sha256"]);
    if pss {
        cmd.args(["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:auto"]);
    }
    let out = cmd
        .args(["-verify", public, "-signature", signature, file])
        .current_dir(dir)
        .output()
        .unwrap();
    assert_eq!(ok(out).trim(), "Verified OK", "{public} {signature}");
}

/// Decodes `sign-blob`'s base64 output into a DER file.
fn write_signature(dir: &Path, b64: &str, name: &str) {
    use base64::Engine as _;
    let der = base64::engine::general_purpose::STANDARD.decode(b64.trim()).unwrap();
    std::fs::write(dir.join(name), der).unwrap();
}

#[test]
fn openssl_genpkey_keys_sign_through_sign_blob() {
    let Some(tpm) = Swtpm::start() else { return };
    let dir = temp_dir("cli-tss2-openssl");
    let d = dir.path();
    std::fs::write(d.join("artifact"), b"release tarball").unwrap();
    let cases: &[(&str, &[&str], Option<&str>)] = &[
        ("ec.pem", &["-algorithm", "EC", "-pkeyopt", "group:P-256"], None),
        ("rsa.pem", &["-algorithm", "RSA", "-pkeyopt", "bits:2048"], None),
        (
            "auth.pem",
            &["-algorithm", "EC", "-pkeyopt", "group:P-256", "-pkeyopt", "user-auth:pw1"],
            Some("pw1"),
        ),
    ];
    for (key, options, auth) in cases {
        let mut genpkey = vec!["genpkey", "-propquery", "?provider=tpm2"];
        genpkey.extend_from_slice(options);
        genpkey.extend_from_slice(&["-out", key]);
        let Some(_) = openssl_tpm2(&tpm, &genpkey, d) else { return };
        let passin = auth.map(|a| format!("pass:{a}"));
        let mut export = vec!["pkey", "-in", key, "-pubout"];
        if let Some(passin) = &passin {
            export.extend_from_slice(&["-passin", passin]);
        }
        let openssl_public = openssl_tpm2(&tpm, &export, d).unwrap();
        std::fs::write(d.join("openssl.pub"), &openssl_public).unwrap();
        // `key public` reads the file alone and agrees with openssl.
        let key_ref = format!("tpm:{key}");
        let ours = ok(proofmark(&tpm, &["key", "public", &key_ref], d, &[]));
        assert_eq!(ours, openssl_public, "{key}");

        let mut args = vec!["sign-blob", "--key", &key_ref, "artifact"];
        if auth.is_some() {
            args.extend_from_slice(&["--auth-env", "KEY_AUTH"]);
        }
        let sig = ok(proofmark(&tpm, &args, d, &[("KEY_AUTH", auth.unwrap_or_default())]));
        write_signature(d, &sig, "artifact.sig");
        openssl_verifies(d, "openssl.pub", "artifact.sig", "artifact", false);
    }
}

#[test]
fn key_generate_pem_keys_sign_through_openssl() {
    let Some(tpm) = Swtpm::start() else { return };
    let dir = temp_dir("cli-tss2-ours");
    let d = dir.path();
    std::fs::write(d.join("artifact"), b"release tarball").unwrap();
    let cases: &[(&str, &[&str], Option<&str>)] = &[
        ("ec.pem", &[], None),
        ("rsa.pem", &["--algorithm", "rsa-sign-pkcs1-2048-sha256"], None),
        ("pss.pem", &["--algorithm", "rsa-sign-pss-2048-sha256"], None),
        ("auth.pem", &["--auth-env", "KEY_AUTH"], Some("hunter2")),
    ];
    for (key, options, auth) in cases {
        let key_ref = format!("tpm:{key}");
        let mut args = vec!["key", "generate", &key_ref];
        args.extend_from_slice(options);
        let env = [("KEY_AUTH", auth.unwrap_or_default())];
        let out = proofmark(&tpm, &args, d, &env);
        assert_eq!(String::from_utf8_lossy(&out.stderr), format!("wrote {key_ref}\n"));
        let generated = ok(out);
        let text = std::fs::read_to_string(d.join(key)).unwrap();
        assert!(text.starts_with("-----BEGIN TSS2 PRIVATE KEY-----\n"), "{text}");
        let public = ok(proofmark(&tpm, &["key", "public", &key_ref], d, &[]));
        assert_eq!(public, generated);
        std::fs::write(d.join("ours.pub"), &public).unwrap();

        let pss = key.starts_with("pss");
        // `openssl dgst -sign` hands the key to the default provider in OpenSSL 3.0; `pkeyutl`
        // keeps it in the TPM.
        let digest = Command::new("openssl")
            .args(["dgst", "-sha256", "-binary", "-out", "artifact.sha256", "artifact"])
            .current_dir(d)
            .output()
            .unwrap();
        ok(digest);
        let mut sign = vec!["pkeyutl", "-sign", "-inkey", key, "-in", "artifact.sha256"];
        sign.extend_from_slice(&["-out", "openssl.sig", "-pkeyopt", "digest:sha256"]);
        let passin = auth.map(|a| format!("pass:{a}"));
        if let Some(passin) = &passin {
            sign.extend_from_slice(&["-passin", passin]);
        }
        if pss {
            sign.extend_from_slice(&["-pkeyopt", "rsa_padding_mode:pss"]);
        }
        let Some(_) = openssl_tpm2(&tpm, &sign, d) else { return };
        openssl_verifies(d, "ours.pub", "openssl.sig", "artifact", pss);
        // And proofmark signs with it too.
        let mut args = vec!["sign-blob", "--key", &key_ref, "artifact"];
        if auth.is_some() {
            args.extend_from_slice(&["--auth-env", "KEY_AUTH"]);
        }
        let sig = ok(proofmark(&tpm, &args, d, &env));
        write_signature(d, &sig, "ours.sig");
        openssl_verifies(d, "ours.pub", "ours.sig", "artifact", pss);
    }
}

/// Standard error of a command that must fail with exit code 1.
fn error_of(out: &Output, dir: &Path) -> String {
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stderr).replace(&dir.display().to_string(), "$DIR")
}

#[test]
fn bad_tss2_key_files_and_parents_are_named() {
    let Some(tpm) = Swtpm::start() else { return };
    let dir = temp_dir("cli-tss2-bad");
    let d = dir.path();
    std::fs::write(d.join("artifact"), b"x").unwrap();
    std::fs::write(
        d.join("cert.pem"),
        "-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    std::fs::write(d.join("cut.pem"), "-----BEGIN TSS2 PRIVATE KEY-----\nMIHwBgZngQUK\n").unwrap();
    let sign = |key: &str| proofmark(&tpm, &["sign-blob", "--key", key, "artifact"], d, &[]);
    expect_test::expect![[r#"
        error: cannot open the TPM key tpm:cert.pem: key file cert.pem: a `CERTIFICATE` PEM file, not a TSS2 PRIVATE KEY (proofmark reads TSS2 PRIVATE KEY files and its own JSON key files)
    "#]]
    .assert_eq(&error_of(&sign("tpm:cert.pem"), d));
    expect_test::expect![[r#"
        error: cannot open the TPM key tpm:cut.pem: key file cut.pem: not a TSS2 PRIVATE KEY PEM file (PEM error in pre-encapsulation boundary) (proofmark reads TSS2 PRIVATE KEY files and its own JSON key files)
    "#]]
    .assert_eq(&error_of(&sign("tpm:cut.pem"), d));

    // proofmark's own primary has no TSS2 form; a missing persistent parent is named.
    let generate = |args: &[&str]| proofmark(&tpm, args, d, &[]);
    expect_test::expect![[r#"
        error: --parent ecc-p256: a TSS2 key file's owner parent is tpm2-openssl's primary; use --parent tss2-ecc-p256 (the default) or a persistent handle 0x81xxxxxx
    "#]]
    .assert_eq(&error_of(&generate(&["key", "generate", "tpm:k.pem", "--parent", "ecc-p256"]), d));
    expect_test::expect![[r#"
        error: the TPM could not create a ecdsa-sha2-256-nistp256 key for k.pem: the parent of the key is the persistent key 0x81000042, which is not in this TPM: use the TPM the key was made on, or make its parent persistent there again
    "#]]
    .assert_eq(&error_of(&generate(&["key", "generate", "tpm:k.pem", "--parent", "0x81000042"]), d));
    assert!(!d.join("k.pem").exists());
}
