//! End to end: the `sigstore-kms-parsec` binary run exactly as cosign runs a KMS plugin (one
//! process per call, `argv = [v1, JSON]`, message on stdin, one JSON object on stdout) against
//! a real Parsec service, with signatures checked by `openssl` and keys by `parsec-tool`.

mod common;
use common::{Env, env};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use proofmark_test_support::kms::invoke;
use proofmark_types::{Digest, HashAlgorithm, SignatureAlgorithm};
use serde_json::{Value, json};

const PLUGIN: &str = env!("CARGO_BIN_EXE_sigstore-kms-parsec");

impl Env {
    /// One plugin call, as cosign makes it ([`proofmark_test_support::kms::invoke`]).
    fn call(&self, key_id: &str, method: &str, member: Value, stdin: &[u8]) -> Value {
        let endpoint = self.service.endpoint();
        invoke(PLUGIN.as_ref(), 5, key_id, method, member, stdin, |cmd| {
            cmd.env("PARSEC_SERVICE_ENDPOINT", endpoint);
        })
    }

    fn ok(&self, key_id: &str, method: &str, member: Value, stdin: &[u8]) -> Value {
        let resp = self.call(key_id, method, member, stdin);
        assert!(resp.get("errorMessage").is_none(), "{method}: {resp}");
        resp[method].clone()
    }
}

fn bytes(value: &Value) -> Vec<u8> {
    STANDARD.decode(value.as_str().expect("a base64 string")).expect("base64")
}

#[test]
fn cosign_style_session_signs_with_a_parsec_key() {
    let Some(env) = env("kms-plugin") else { return };
    // `cosign generate-key-pair --kms parsec://cosign-key?provider=tpm`: defaultAlgorithm,
    // then createKey with it.
    let key_id = "cosign-key?provider=tpm";
    let default = env.ok(key_id, "defaultAlgorithm", json!({}), b"");
    assert_eq!(default, json!({ "defaultAlgorithm": "ecdsa-sha2-256-nistp256" }));
    let supported = env.ok(key_id, "supportedAlgorithms", json!({}), b"");
    assert!(
        supported["supportedAlgorithms"].as_array().is_some_and(|a| a.len() == 6),
        "{supported}"
    );
    let created =
        env.ok(key_id, "createKey", json!({ "algorithm": default["defaultAlgorithm"] }), b"");
    let pem = bytes(&created["publicKeyPEM"]);

    // `cosign public-key --key parsec://…`: the same PEM, and the one parsec-tool exports.
    let public =
        env.ok(key_id, "publicKey", json!({ "publicKeyOptions": { "rpcOptions": {} } }), b"");
    assert_eq!(bytes(&public["publicKeyPEM"]), pem);
    let mut tool = env.service.parsec_tool().expect("parsec-tool");
    let tool_pem =
        tool.args(["-p", "3", "export-public-key", "-k", "cosign-key"]).output().expect("run");
    assert_eq!(
        String::from_utf8_lossy(&tool_pem.stdout).trim(),
        String::from_utf8_lossy(&pem).trim()
    );
    let pem_path = env.write("cosign.pub", &pem);

    // cosign v3 signs with the payload on stdin *and* its SHA-256 in messageOptions.digest;
    // older paths send only the payload.
    let payload = br#"{"critical":{"identity":{"docker-reference":"127.0.0.1:5000/app"}}}"#;
    let digest = Digest::compute(HashAlgorithm::Sha256, payload);
    let with_digest = json!({ "signOptions": { "rpcOptions": {}, "messageOptions": {
        "digest": STANDARD.encode(digest.as_bytes()), "hashFunc": 5 } } });
    let message_only = json!({ "signOptions": { "rpcOptions": {}, "messageOptions": {} } });
    for options in [with_digest, message_only] {
        let signed = env.ok(key_id, "signMessage", options, payload);
        let signature = bytes(&signed["signature"]);
        env.openssl_verifies(SignatureAlgorithm::EcdsaP256Sha256, &pem_path, payload, &signature);

        let verify = |message: &[u8]| {
            let member = json!({ "signature": STANDARD.encode(&signature),
                "verifyOptions": { "rpcOptions": {}, "messageOptions": {} } });
            env.call(key_id, "verifySignature", member, message)
        };
        assert_eq!(verify(payload), json!({ "verifySignature": {} }));
        let tampered = verify(b"tampered");
        assert!(tampered["errorMessage"].as_str().is_some_and(|m| !m.is_empty()), "{tampered}");
    }

    // Errors reach cosign as errorMessage, naming the endpoint.
    let missing = env.call("nope?provider=tpm", "publicKey", json!({}), b"");
    let message = missing["errorMessage"].as_str().unwrap_or_default().to_owned();
    assert!(
        message.contains("no Parsec key `nope`") && message.contains(&env.service.endpoint()),
        "{message}"
    );

    let mut env = env;
    env.service.stop();
    let down = env.call(key_id, "publicKey", json!({}), b"");
    let message = down["errorMessage"].as_str().unwrap_or_default().to_owned();
    assert!(message.contains("Parsec service is not running"), "{message}");
}
