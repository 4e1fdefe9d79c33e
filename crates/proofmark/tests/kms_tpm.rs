//! End to end: the `sigstore-kms-tpm` binary run exactly as cosign runs a KMS plugin (one
//! process per call, `argv = [v1, JSON]`, message on stdin, one JSON object on stdout) against
//! a per-test swtpm, with signatures checked by `openssl`.

#![allow(clippy::unwrap_used, reason = "helpers of tests: a panic is the failure report")]

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use proofmark_test_support::kms::invoke;
use proofmark_test_support::swtpm::Swtpm;
use proofmark_test_support::{require_tool, temp_dir};
use proofmark_types::{Digest, HashAlgorithm};
use serde_json::{Value, json};

const PLUGIN: &str = env!("CARGO_BIN_EXE_sigstore-kms-tpm");

struct Env {
    tpm: Swtpm,
    openssl: PathBuf,
    dir: tempfile::TempDir,
}

fn env() -> Option<Env> {
    let openssl = require_tool("openssl", "openssl")?;
    let tpm = Swtpm::start()?;
    Some(Env { tpm, openssl, dir: temp_dir("kms-tpm") })
}

impl Env {
    /// One plugin call, as cosign makes it ([`proofmark_test_support::kms::invoke`]); the TPM
    /// comes from `TPM2TOOLS_TCTI` as documented, run in the test's folder like cosign in its own.
    fn call_with(
        &self,
        tcti: &str,
        hash_func: u32,
        key_id: &str,
        method: &str,
        member: Value,
        stdin: &[u8],
    ) -> Value {
        invoke(PLUGIN.as_ref(), hash_func, key_id, method, member, stdin, |cmd| {
            cmd.env("TPM2TOOLS_TCTI", tcti)
                .env_remove("TCTI")
                .env("TSS2_LOG", "all+NONE")
                .current_dir(self.dir.path());
        })
    }

    fn call(&self, key_id: &str, method: &str, member: Value, stdin: &[u8]) -> Value {
        self.call_with(&self.tpm.tcti(), 5, key_id, method, member, stdin)
    }

    fn ok(&self, key_id: &str, method: &str, member: Value, stdin: &[u8]) -> Value {
        let resp = self.call(key_id, method, member, stdin);
        assert!(resp.get("errorMessage").is_none(), "{method}: {resp}");
        resp[method].clone()
    }

    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    fn openssl_verifies(&self, pem: &Path, message: &[u8], der: &[u8]) {
        let msg = self.write("msg", message);
        let sig = self.write("sig", der);
        let out = Command::new(&self.openssl)
            .args(["dgst", "-sha256", "-verify"])
            .arg(pem)
            .arg("-signature")
            .arg(&sig)
            .arg(&msg)
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "Verified OK", "{out:?}");
    }

    /// cosign's session with one key: create it, read its public key, sign (with and without
    /// a precomputed digest), verify; openssl judges every signature.
    fn session(&self, key_id: &str, pem_name: &str) {
        let default = self.ok(key_id, "defaultAlgorithm", json!({}), b"");
        assert_eq!(default, json!({ "defaultAlgorithm": "ecdsa-sha2-256-nistp256" }));
        let created =
            self.ok(key_id, "createKey", json!({ "algorithm": default["defaultAlgorithm"] }), b"");
        let pem = bytes(&created["publicKeyPEM"]);
        assert!(String::from_utf8_lossy(&pem).starts_with("-----BEGIN PUBLIC KEY-----"));

        let public =
            self.ok(key_id, "publicKey", json!({ "publicKeyOptions": { "rpcOptions": {} } }), b"");
        assert_eq!(bytes(&public["publicKeyPEM"]), pem);
        let pem_path = self.write(pem_name, &pem);

        let payload = br#"{"critical":{"identity":{"docker-reference":"127.0.0.1:5000/app"}}}"#;
        let digest = Digest::compute(HashAlgorithm::Sha256, payload);
        let with_digest = json!({ "signOptions": { "rpcOptions": {}, "messageOptions": {
            "digest": STANDARD.encode(digest.as_bytes()), "hashFunc": 5 } } });
        let message_only = json!({ "signOptions": { "rpcOptions": {}, "messageOptions": {} } });
        for options in [with_digest, message_only] {
            let signed = self.ok(key_id, "signMessage", options, payload);
            let signature = bytes(&signed["signature"]);
            self.openssl_verifies(&pem_path, payload, &signature);

            let verify = |message: &[u8]| {
                let member = json!({ "signature": STANDARD.encode(&signature),
                    "verifyOptions": { "rpcOptions": {}, "messageOptions": {} } });
                self.call(key_id, "verifySignature", member, message)
            };
            assert_eq!(verify(payload), json!({ "verifySignature": {} }));
            let tampered = verify(b"tampered");
            assert!(tampered["errorMessage"].as_str().is_some_and(|m| !m.is_empty()), "{tampered}");
        }
    }
}

fn bytes(value: &Value) -> Vec<u8> {
    STANDARD.decode(value.as_str().unwrap()).unwrap()
}

fn error(resp: &Value) -> String {
    resp["errorMessage"].as_str().unwrap_or_default().to_owned()
}

#[test]
fn cosign_style_session_with_a_key_file() {
    let Some(env) = env() else { return };
    let supported = env.ok("cosign.json", "supportedAlgorithms", json!({}), b"");
    assert_eq!(
        supported,
        json!({ "supportedAlgorithms": [
            "ecdsa-sha2-256-nistp256", "ecdsa-sha2-384-nistp384",
            "rsa-sign-pkcs1-2048-sha256", "rsa-sign-pkcs1-3072-sha256",
            "rsa-sign-pss-2048-sha256", "rsa-sign-pss-3072-sha256"
        ] })
    );
    // `cosign … --key tpm://cosign.json`: relative to cosign's (here the plugin's) folder.
    env.session("cosign.json", "file.pub");
    let key_file = env.dir.path().join("cosign.json");
    let text = std::fs::read_to_string(&key_file).unwrap();
    assert!(text.contains(r#""kind": "random""#), "random auth stored: {text}");
    // Only the key file: `cosign.pub` is where cosign users keep the PEM public key.
    assert!(
        !env.dir.path().join("cosign.pub").exists() && !env.dir.path().join("cosign.priv").exists()
    );

    // An absolute path (`tpm:///abs/key.json`) names the same key.
    let absolute = key_file.to_str().unwrap();
    let public = env.ok(absolute, "publicKey", json!({}), b"");
    assert_eq!(
        bytes(&public["publicKeyPEM"]),
        std::fs::read(env.dir.path().join("file.pub")).unwrap()
    );

    // createKey never overwrites a key file.
    let again = env.call("cosign.json", "createKey", json!({ "algorithm": "" }), b"");
    assert!(error(&again).contains("already exists"), "{again}");
    assert_eq!(std::fs::read_to_string(&key_file).unwrap(), text);
}

#[test]
fn cosign_style_session_with_a_persistent_handle() {
    let Some(env) = env() else { return };
    env.session("0x81000010", "handle.pub");
    let taken = env.call("0x81000010", "createKey", json!({ "algorithm": "" }), b"");
    assert!(!error(&taken).is_empty(), "{taken}");
}

#[test]
fn errors_reach_cosign_as_error_messages() {
    let Some(env) = env() else { return };
    let tcti = env.tpm.tcti();
    let cases: [(&str, &str, u32, &str, Value, &str); 6] = [
        (&tcti, "missing.json", 5, "publicKey", json!({}), "missing.json"),
        (&tcti, "0x12345678", 5, "publicKey", json!({}), "tpm://0x12345678"),
        (&tcti, "", 5, "publicKey", json!({}), "tpm://"),
        (&tcti, "k.json", 5, "createKey", json!({ "algorithm": "ed25519" }), "ed25519"),
        ("bogus:x", "k.json", 5, "createKey", json!({ "algorithm": "" }), "bogus:x"),
        (&tcti, "k.json", 5, "noSuchMethod", json!({}), "unknown method `noSuchMethod`"),
    ];
    for (tcti, key_id, hash, method, member, needle) in cases {
        let resp = env.call_with(tcti, hash, key_id, method, member, b"");
        assert!(error(&resp).contains(needle), "{key_id} {method}: {resp}");
        assert!(!env.dir.path().join("k.json").exists(), "{key_id} {method}: no key file left");
    }

    // A key bound to SHA-256 refuses another hash rather than signing something else.
    env.ok("h.json", "createKey", json!({ "algorithm": "" }), b"");
    let resp = env.call_with(&tcti, 6, "h.json", "signMessage", json!({}), b"payload");
    assert!(error(&resp).contains("hashFunc 6"), "{resp}");
}
