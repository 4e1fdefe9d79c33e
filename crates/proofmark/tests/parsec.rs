//! The CLI with Parsec keys, against a real parsec-service (TPM provider on a per-test swtpm,
//! and Mbed Crypto); parsec-tool and openssl are the judges.

#![allow(clippy::unwrap_used, reason = "helpers of tests: a panic is the failure report")]

use std::path::Path;
use std::process::{Command, Output};

use proofmark_test_support::parsec::ParsecService;
use proofmark_test_support::stdout_ok as ok;
use proofmark_test_support::swtpm::Swtpm;
use proofmark_test_support::{require_tool, temp_dir};

fn proofmark(service: &ParsecService, args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_proofmark"))
        .args(args)
        .current_dir(cwd)
        .env("PARSEC_SERVICE_ENDPOINT", service.endpoint())
        .env("TSS2_LOG", "all+NONE")
        .output()
        .unwrap()
}

#[test]
fn parsec_keys_generate_sign_and_verify_through_the_cli() {
    let Some(tpm) = Swtpm::start() else { return };
    let Some(service) = ParsecService::start(&tpm) else { return };
    let Some(openssl) = require_tool("openssl", "openssl") else { return };
    let dir = temp_dir("cli-parsec");
    let d = dir.path();
    std::fs::write(d.join("artifact"), b"workload image").unwrap();

    for (key, provider_number) in [
        ("parsec://cli-tpm-key?provider=tpm", "3"),
        ("parsec://cli-mbed-key?provider=mbed-crypto", "1"),
    ] {
        let public = ok(proofmark(&service, &["key", "generate", key], d));
        assert_eq!(ok(proofmark(&service, &["key", "public", key], d)), public);

        // parsec-tool, an independent client, sees the same public key.
        let name = key.trim_start_matches("parsec://").split('?').next().unwrap();
        let mut tool = service.parsec_tool().unwrap();
        let exported =
            tool.args(["-p", provider_number, "export-public-key", "-k", name]).output().unwrap();
        assert_eq!(ok(exported).trim(), public.trim(), "{key}");

        let sig = ok(proofmark(&service, &["sign-blob", "--key", key, "artifact"], d));
        std::fs::write(d.join("pub.pem"), &public).unwrap();
        std::fs::write(d.join("sig.b64"), sig.trim()).unwrap();
        ok(Command::new(&openssl)
            .args(["base64", "-d", "-A", "-in", "sig.b64", "-out", "sig.der"])
            .current_dir(d)
            .output()
            .unwrap());
        let verdict = Command::new(&openssl)
            .args(["dgst", "-sha256", "-verify", "pub.pem", "-signature", "sig.der", "artifact"])
            .current_dir(d)
            .output()
            .unwrap();
        assert_eq!(ok(verdict).trim(), "Verified OK", "{key}");
    }

    let missing =
        proofmark(&service, &["sign-blob", "--key", "parsec://no-such-key", "artifact"], d);
    assert_eq!(missing.status.code(), Some(1));
    let err = String::from_utf8_lossy(&missing.stderr);
    assert!(err.contains("no-such-key"), "the error names the key: {err}");
}
