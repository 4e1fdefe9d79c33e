//! proofmark-parsec against a real Parsec service (TPM provider on a per-test swtpm, and Mbed
//! Crypto), judged by `parsec-tool` (Parsec's own client) and `openssl`.

mod common;
use common::{Env, env, run};

use proofmark_parsec::{Parsec, ParsecError, ParsecSigner};
use proofmark_types::{KeyRef, ParsecProvider, PublicKey, SignError, SignatureAlgorithm, Signer};

impl Env {
    fn connect(&self, provider: Option<ParsecProvider>) -> Parsec {
        Parsec::connect(Some(self.service.endpoint()), provider)
            .unwrap_or_else(|e| panic!("connect: {e}\n{}", self.service.log_text()))
    }

    /// Runs parsec-tool against `provider` and returns its stdout.
    fn parsec_tool(&self, provider: ParsecProvider, args: &[&str]) -> String {
        let mut cmd = self.service.parsec_tool().expect("parsec-tool was found in env()");
        cmd.args(["-p", &provider_number(provider).to_string()]).args(args);
        run(&mut cmd)
    }
}

fn provider_number(provider: ParsecProvider) -> u8 {
    match provider {
        ParsecProvider::Tpm => 3,
        ParsecProvider::MbedCrypto => 1,
        _ => 2,
    }
}

const PROVIDERS: [ParsecProvider; 2] = [ParsecProvider::Tpm, ParsecProvider::MbedCrypto];

#[test]
fn parsec_tool_key_signs_through_proofmark_and_openssl_verifies() {
    let Some(env) = env("parsec-test") else { return };
    for provider in PROVIDERS {
        // parsec-tool looks keys up by name across providers: keep names distinct.
        let name = format!("tool-made-{provider}");
        env.parsec_tool(provider, &["create-ecc-key", "-k", &name]);
        let pem = env.parsec_tool(provider, &["export-public-key", "-k", &name]);
        let pem_path = env.write("tool.pem", pem.as_bytes());

        let key: KeyRef = format!("parsec://{name}?provider={provider}").parse().expect("key ref");
        let signer = ParsecSigner::from_key_ref(&key, Some(env.service.endpoint()))
            .expect("open the key")
            .expect("a Parsec key ref");
        assert_eq!(signer.algorithm(), SignatureAlgorithm::EcdsaP256Sha256, "{provider}");
        assert_eq!(signer.key_ref(), key);
        let tool_key = PublicKey::from_pem(&pem).expect("parsec-tool's PEM parses");
        assert_eq!(signer.public_key().as_der(), tool_key.as_der(), "{provider}");

        let message = format!("signed by the {provider} provider through proofmark");
        let signature = signer.sign(message.as_bytes()).expect("sign");
        env.openssl_verifies(
            signer.algorithm(),
            &pem_path,
            message.as_bytes(),
            signature.as_bytes(),
        );
        proofmark_types::verify_message(
            &tool_key,
            signer.algorithm(),
            message.as_bytes(),
            &signature,
        )
        .expect("proofmark verifies too");
    }
}

#[test]
fn proofmark_key_is_listed_used_and_deleted_by_parsec_tool() {
    let Some(env) = env("parsec-test") else { return };
    // Both providers get ECDSA P-256 and RSA; P-384 only the TPM (Parsec 1.5's Mbed Crypto
    // provider rejects it; `deleting_creating_twice_and_missing_keys_give_clear_errors` checks).
    let cases = [
        (ParsecProvider::Tpm, SignatureAlgorithm::EcdsaP256Sha256),
        (ParsecProvider::Tpm, SignatureAlgorithm::EcdsaP384Sha384),
        (ParsecProvider::Tpm, SignatureAlgorithm::RsaPkcs1v15_2048Sha256),
        (ParsecProvider::MbedCrypto, SignatureAlgorithm::EcdsaP256Sha256),
        (ParsecProvider::MbedCrypto, SignatureAlgorithm::RsaPkcs1v15_2048Sha256),
        (ParsecProvider::MbedCrypto, SignatureAlgorithm::RsaPss2048Sha256),
    ];
    for (provider, algorithm) in cases {
        let parsec = env.connect(Some(provider));
        assert_eq!(parsec.provider(), Some(provider));
        assert_eq!(parsec.provider_number(), provider_number(provider));
        assert_eq!(parsec.authentication(), "unix-peer-credentials");
        let name = format!("proofmark-{provider}-{algorithm}");
        let public = parsec
            .create_key(&name, algorithm)
            .unwrap_or_else(|e| panic!("create {name}: {e:?}\n{}", env.service.log_text()));
        assert!(public.supports(algorithm), "{name}");

        let listed = parsec.list_keys().expect("list");
        assert!(
            listed.iter().any(|k| k.name == name
                && k.provider == provider.name()
                && k.algorithm == Some(algorithm)),
            "{name} not in {listed:?}"
        );
        let tool_list = env.parsec_tool(provider, &["list-keys"]);
        assert!(tool_list.lines().any(|l| l.starts_with(&format!("* {name} "))), "{tool_list}");

        let tool_pem = env.parsec_tool(provider, &["export-public-key", "-k", &name]);
        assert_eq!(PublicKey::from_pem(&tool_pem).expect("PEM").as_der(), public.as_der());

        // parsec-tool signs (hashing with the key's policy hash) and openssl checks the
        // signature against the public key proofmark exported.
        let message = format!("payload for {name}");
        let b64 = env.parsec_tool(provider, &["sign", "-k", &name, &message]);
        let signature = decode_base64(b64.trim());
        let pem_path = env.write("proofmark.pem", public.to_pem().as_bytes());
        env.openssl_verifies(algorithm, &pem_path, message.as_bytes(), &signature);

        // And our signer signs with it too, verified the same way.
        let signer = ParsecSigner::open(env.connect(Some(provider)), &name).expect("open");
        let ours = signer.sign(message.as_bytes()).expect("sign");
        env.openssl_verifies(algorithm, &pem_path, message.as_bytes(), ours.as_bytes());

        env.parsec_tool(provider, &["delete-key", "-k", &name]);
        let gone = parsec.describe(&name).expect_err("deleted");
        assert!(matches!(gone, ParsecError::KeyMissing { .. }), "{gone:?}");
    }
}

#[test]
fn deleting_creating_twice_and_missing_keys_give_clear_errors() {
    let Some(env) = env("parsec-test") else { return };
    let parsec = env.connect(Some(ParsecProvider::MbedCrypto));
    let endpoint = env.service.endpoint();

    let missing = ParsecSigner::open(env.connect(Some(ParsecProvider::MbedCrypto)), "nope")
        .expect_err("no such key");
    let text = missing.to_string();
    assert!(matches!(missing, ParsecError::KeyMissing { .. }), "{missing:?}");
    assert!(text.contains(&endpoint) && text.contains("mbed-crypto"), "{text}");

    parsec.create_key("twice", SignatureAlgorithm::EcdsaP256Sha256).expect("create");
    let again = parsec.create_key("twice", SignatureAlgorithm::EcdsaP256Sha256).expect_err("dup");
    assert!(matches!(again, ParsecError::KeyExists { .. }), "{again:?}");
    parsec.delete_key("twice").expect("delete");
    let again = parsec.delete_key("twice").expect_err("already deleted");
    assert!(matches!(again, ParsecError::KeyMissing { .. }), "{again:?}");

    // The service has no PKCS#11 provider configured.
    let err = Parsec::connect(Some(endpoint), Some(ParsecProvider::Pkcs11)).expect_err("pkcs11");
    let text = err.to_string();
    assert!(matches!(err, ParsecError::ProviderUnavailable { .. }), "{err:?}");
    assert!(text.contains("offers: tpm, mbed-crypto"), "{text}");

    // Parsec 1.5's Mbed Crypto provider cannot make P-384 keys (psa-crypto 0.13 accepts secp
    // sizes 192, 224, 256, "284" and 521): a clear "does not support", not a generic failure.
    let err = parsec.create_key("p384", SignatureAlgorithm::EcdsaP384Sha384).expect_err("p384");
    let text = err.to_string();
    assert!(matches!(err, ParsecError::Unsupported { .. }), "{err:?}");
    assert!(text.contains("mbed-crypto provider") && text.contains("ecdsa-sha2-384"), "{text}");

    // Without a provider, the service's first one (the TPM) is used.
    assert_eq!(env.connect(None).provider(), Some(ParsecProvider::Tpm));
}

#[test]
fn stopping_the_service_mid_run_is_reported_and_restarting_recovers() {
    let Some(mut env) = env("parsec-test") else { return };
    let parsec = env.connect(Some(ParsecProvider::Tpm));
    let signer = ParsecSigner::create(parsec, "survivor", SignatureAlgorithm::EcdsaP256Sha256)
        .expect("create");
    signer.sign(b"before").expect("sign while running");

    env.service.stop();
    let err = signer.sign(b"while stopped").expect_err("service is down");
    let SignError::Backend { backend: "parsec", source } = &err else {
        panic!("unexpected {err:?}");
    };
    let parsec_err = source.downcast_ref::<ParsecError>().expect("a ParsecError");
    assert!(matches!(parsec_err, ParsecError::ServiceNotRunning { .. }), "{parsec_err:?}");
    let text = parsec_err.to_string();
    assert!(text.contains(&env.service.endpoint()) && text.contains("not running"), "{text}");
    let err = Parsec::connect(Some(env.service.endpoint()), None).expect_err("down");
    assert!(matches!(err, ParsecError::ServiceNotRunning { .. }), "{err:?}");

    env.service.restart();
    let signature = signer.sign(b"after").expect("sign after restart");
    proofmark_types::verify_message(signer.public_key(), signer.algorithm(), b"after", &signature)
        .expect("verifies");
    env.connect(Some(ParsecProvider::Tpm)).delete_key("survivor").expect("delete");
}

fn decode_base64(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(text).expect("base64")
}
