//! The KMS plugin protocol against the schema of sigstore's Go `cliplugin/common` package: the
//! JSON below is the `want` text of `TestPluginArgsJSON` / `TestPluginRespJSON` in
//! `pkg/signature/kms/cliplugin/common/interface_test.go` (protocol `v1`), and the method
//! semantics run over an in-memory software backend.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use proofmark_parsec::kms::{
    self, DefaultAlgorithmResp, KmsBackend, NoArgs, PluginArgs, PluginResp, PublicKeyResp,
    SignMessageResp, SupportedAlgorithmsResp,
};
use proofmark_types::{
    Digest, HashAlgorithm, PublicKey, Signature, SignatureAlgorithm, Signer, SoftwareSigner,
};
use serde_json::{Value, json};

/// `initOptions` as Go's test builds it (`crypto.BLAKE2b_256` is 17).
fn go_init() -> Value {
    let rpc = json!({
        "ctxDeadline": "2025-04-01T02:47:00Z",
        "keyVersion": "my-key-version",
        "remoteVerification": true
    });
    json!({
        "ctxDeadline": "2025-04-01T02:47:00Z",
        "protocolVersion": "v1",
        "keyResourceID": "testkms://testkey",
        "hashFunc": 17,
        "rpcOptions": rpc
    })
}

fn go_rpc() -> Value {
    go_init()["rpcOptions"].clone()
}

fn go_requests() -> Vec<(&'static str, Value)> {
    let message_options = json!({ "digest": "YW55RGlnZXN0", "hashFunc": 17 });
    vec![
        ("defaultAlgorithm", json!({ "defaultAlgorithm": {} })),
        ("supportedAlgorithms", json!({ "supportedAlgorithms": {} })),
        (
            "createKey",
            json!({ "createKey": { "ctxDeadline": "2025-04-01T02:47:00Z", "algorithm": "anyAlgorithm" } }),
        ),
        ("publicKey", json!({ "publicKey": { "publicKeyOptions": { "rpcOptions": go_rpc() } } })),
        (
            "signMessage",
            json!({ "signMessage": { "signOptions": {
                "rpcOptions": go_rpc(), "messageOptions": message_options.clone() } } }),
        ),
        (
            "verifySignature",
            json!({ "verifySignature": { "signature": "YW55LXNpZ25hdHVyZQ==", "verifyOptions": {
                "rpcOptions": go_rpc(), "messageOptions": message_options } } }),
        ),
    ]
}

/// Every request of Go's test parses, keeps its values, and serialises back to the same JSON.
#[test]
fn requests_match_the_go_schema() {
    for (method, body) in go_requests() {
        let mut want = body.clone();
        want["initOptions"] = go_init();
        want["methodName"] = json!(method);
        let args: PluginArgs = serde_json::from_value(want.clone()).expect(method);
        assert_eq!(args.method_name, method);
        assert_eq!(args.init_options.key_resource_id, "testkms://testkey");
        assert_eq!(args.init_options.hash_func, 17);
        assert_eq!(args.init_options.protocol_version, kms::PROTOCOL_VERSION);
        assert_eq!(serde_json::to_value(&args).expect("serialise"), want, "{method}");
        if let Some(sign) = &args.sign_message {
            let options = sign.sign_options.as_ref().expect("signOptions").message_options.clone();
            assert_eq!(options.digest.as_deref(), Some(&b"anyDigest"[..]));
            assert_eq!(options.hash_func, Some(17));
        }
        if let Some(verify) = &args.verify_signature {
            assert_eq!(verify.signature.as_deref(), Some(&b"any-signature"[..]));
        }
    }
}

/// Our responses serialise exactly as Go's `TestPluginRespJSON` expects.
#[test]
fn responses_match_the_go_schema() {
    let error = "possibly empty error message".to_owned();
    let pem = PublicKeyResp { public_key_pem: b"mypem".to_vec() };
    let cases = [
        (
            PluginResp {
                default_algorithm: Some(DefaultAlgorithmResp {
                    default_algorithm: "anyAlgorithm".to_owned(),
                }),
                ..PluginResp::default()
            },
            json!({ "defaultAlgorithm": { "defaultAlgorithm": "anyAlgorithm" } }),
        ),
        (
            PluginResp {
                supported_algorithms: Some(SupportedAlgorithmsResp {
                    supported_algorithms: vec![
                        "anyAlgorithm".to_owned(),
                        "anotherAlgorithm".to_owned(),
                    ],
                }),
                ..PluginResp::default()
            },
            json!({ "supportedAlgorithms": { "supportedAlgorithms": ["anyAlgorithm", "anotherAlgorithm"] } }),
        ),
        (
            PluginResp {
                error_message: error.clone(),
                create_key: Some(pem.clone()),
                ..PluginResp::default()
            },
            json!({ "errorMessage": error, "createKey": { "publicKeyPEM": "bXlwZW0=" } }),
        ),
        (
            PluginResp {
                error_message: error.clone(),
                public_key: Some(pem),
                ..PluginResp::default()
            },
            json!({ "errorMessage": error, "publicKey": { "publicKeyPEM": "bXlwZW0=" } }),
        ),
        (
            PluginResp {
                error_message: error.clone(),
                sign_message: Some(SignMessageResp { signature: b"any-signature".to_vec() }),
                ..PluginResp::default()
            },
            json!({ "errorMessage": error, "signMessage": { "signature": "YW55LXNpZ25hdHVyZQ==" } }),
        ),
        (
            PluginResp {
                error_message: error.clone(),
                verify_signature: Some(NoArgs {}),
                ..PluginResp::default()
            },
            json!({ "errorMessage": error, "verifySignature": {} }),
        ),
    ];
    for (resp, want) in cases {
        assert_eq!(serde_json::to_value(&resp).expect("serialise"), want);
        // Field order too: Go writes errorMessage first, then the method's member.
        let text = serde_json::to_string(&resp).expect("serialise");
        assert_eq!(text.starts_with("{\"errorMessage\""), !resp.error_message.is_empty(), "{text}");
    }
}

/// `TestHashFuncJSON`: SHA-256, SHA-384 and SHA-512 are Go's `crypto.Hash` 5, 6 and 7.
#[test]
fn hash_func_numbers() {
    let got: Vec<u32> = [HashAlgorithm::Sha256, HashAlgorithm::Sha384, HashAlgorithm::Sha512]
        .into_iter()
        .map(kms::go_hash)
        .collect();
    assert_eq!(got, [5, 6, 7]);
}

/// Software keys in memory, to exercise every method without a Parsec service.
#[derive(Default)]
struct Memory(Mutex<HashMap<String, Arc<SoftwareSigner>>>);

impl KmsBackend for Memory {
    fn default_algorithm(&self) -> SignatureAlgorithm {
        SignatureAlgorithm::EcdsaP256Sha256
    }
    fn supported_algorithms(&self) -> Vec<SignatureAlgorithm> {
        vec![SignatureAlgorithm::EcdsaP256Sha256, SignatureAlgorithm::EcdsaP384Sha384]
    }
    fn create_key(
        &self,
        id: &str,
        algorithm: SignatureAlgorithm,
    ) -> Result<PublicKey, Box<dyn std::error::Error>> {
        let signer = Arc::new(SoftwareSigner::generate(algorithm)?);
        let key = signer.public_key().clone();
        self.0.lock().map_err(|e| e.to_string())?.insert(id.to_owned(), signer);
        Ok(key)
    }
    fn signer(&self, id: &str) -> Result<Box<dyn Signer>, Box<dyn std::error::Error>> {
        let keys = self.0.lock().map_err(|e| e.to_string())?;
        let signer = keys.get(id).ok_or_else(|| format!("no key `{id}`"))?;
        Ok(Box::new(Arc::clone(signer)))
    }
}

/// One plugin call, as cosign makes it: `[v1, JSON]` and the message on stdin.
fn call(backend: &Memory, method: &str, body: Value, stdin: &[u8]) -> PluginResp {
    let mut args = body;
    args["initOptions"] =
        json!({ "protocolVersion": "v1", "keyResourceID": "k", "hashFunc": 5, "rpcOptions": null });
    args["methodName"] = json!(method);
    kms::handle(&["v1".to_owned(), args.to_string()], stdin, backend)
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[test]
fn every_method_over_a_software_backend() {
    let backend = Memory::default();
    let resp = call(&backend, "defaultAlgorithm", json!({ "defaultAlgorithm": {} }), b"");
    assert_eq!(
        resp.default_algorithm.expect("answer").default_algorithm,
        "ecdsa-sha2-256-nistp256"
    );
    let resp = call(&backend, "supportedAlgorithms", json!({ "supportedAlgorithms": {} }), b"");
    assert_eq!(
        resp.supported_algorithms.expect("answer").supported_algorithms,
        ["ecdsa-sha2-256-nistp256", "ecdsa-sha2-384-nistp384"]
    );

    let body = json!({ "createKey": { "algorithm": "ecdsa-sha2-256-nistp256" } });
    let created = call(&backend, "createKey", body, b"").create_key.expect("created");
    let key = PublicKey::from_pem(&created.public_key_pem).expect("PEM");
    let body = json!({ "publicKey": { "publicKeyOptions": { "rpcOptions": {} } } });
    let fetched = call(&backend, "publicKey", body, b"").public_key.expect("public key");
    assert_eq!(fetched, created);

    // With a digest (cosign's CryptoSigner path and v3 key signing) and without (hash stdin).
    let message = b"cosign payload";
    let digest = Digest::compute(HashAlgorithm::Sha256, message);
    let with_digest = json!({ "signMessage": { "signOptions": { "rpcOptions": {},
        "messageOptions": { "digest": b64(digest.as_bytes()), "hashFunc": 5 } } } });
    let without =
        json!({ "signMessage": { "signOptions": { "rpcOptions": {}, "messageOptions": {} } } });
    for (body, stdin) in [(with_digest, &b""[..]), (without, &message[..])] {
        let resp = call(&backend, "signMessage", body, stdin);
        assert_eq!(resp.error_message, "");
        let der = resp.sign_message.expect("signature").signature;
        let signature =
            Signature::from_der(SignatureAlgorithm::EcdsaP256Sha256, &der).expect("DER");
        proofmark_types::verify_message(
            &key,
            SignatureAlgorithm::EcdsaP256Sha256,
            message,
            &signature,
        )
        .expect("the plugin's signature verifies");

        let verify = |msg: &[u8]| {
            let body = json!({ "verifySignature": { "signature": b64(&der),
                "verifyOptions": { "rpcOptions": {}, "messageOptions": {} } } });
            call(&backend, "verifySignature", body, msg)
        };
        assert_eq!(verify(message).verify_signature, Some(NoArgs {}));
        let bad = verify(b"another payload");
        assert!(bad.verify_signature.is_none() && !bad.error_message.is_empty(), "{bad:?}");
    }
}

#[test]
fn protocol_errors_are_reported_in_error_message() {
    let backend = Memory::default();
    let errors = [
        kms::handle(&["v2".to_owned(), "{}".to_owned()], &b""[..], &backend),
        kms::handle(&[], &b""[..], &backend),
        kms::handle(&["v1".to_owned(), "not json".to_owned()], &b""[..], &backend),
        call(&backend, "frobnicate", json!({}), b""),
        call(&backend, "publicKey", json!({ "publicKey": {} }), b""),
        call(&backend, "createKey", json!({ "createKey": { "algorithm": "ed25519" } }), b""),
        {
            backend.create_key("k", SignatureAlgorithm::EcdsaP256Sha256).expect("create");
            let body = json!({ "signMessage": { "signOptions": { "rpcOptions": {},
                "messageOptions": { "hashFunc": 6 } } } });
            call(&backend, "signMessage", body, b"x")
        },
    ];
    let messages: Vec<String> = errors.into_iter().map(|r| r.error_message).collect();
    expect_test::expect![[r#"
        [
            "unsupported protocol version `v2`; this plugin speaks v1",
            "expected 2 arguments (protocol version, JSON), got 0; this program is a sigstore KMS plugin run by cosign",
            "malformed plugin arguments: expected ident at line 1 column 2",
            "unknown method `frobnicate`",
            "no key `k`",
            "unknown signature algorithm `ed25519`; expected one of ecdsa-sha2-256-nistp256, ecdsa-sha2-384-nistp384, rsa-sign-pkcs1-2048-sha256, rsa-sign-pkcs1-3072-sha256, rsa-sign-pss-2048-sha256, rsa-sign-pss-3072-sha256",
            "the key signs with ecdsa-sha2-256-nistp256 (crypto.Hash 5), but hashFunc 6 was requested",
        ]
    "#]]
    .assert_debug_eq(&messages);
}
