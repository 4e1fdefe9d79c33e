//! Snippets that make podman / CRI-O / skopeo (containers/image) enforce the same keys.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use proofmark_types::PublicKey;
use serde_json::{Value, json};

/// The `sigstoreSigned` requirement for `key`: `keyData` is the base64 of the PEM, and the
/// identity is `matchRepository`, because cosign payloads name the repository without a tag.
pub fn sigstore_requirement(key: &PublicKey) -> Value {
    json!({
        "type": "sigstoreSigned",
        "keyData": STANDARD.encode(key.to_pem()),
        "signedIdentity": {"type": "matchRepository"},
    })
}

/// A complete `policy.json`: reject by default, require `key` for `scope` (a registry,
/// `registry/namespace` or repository, as containers-policy.json(5) defines scopes).
pub fn containers_policy(scope: &str, key: &PublicKey) -> String {
    let policy = json!({
        "default": [{"type": "reject"}],
        "transports": {
            "docker": {scope: [sigstore_requirement(key)]},
            "docker-daemon": {"": [{"type": "insecureAcceptAnything"}]},
        },
    });
    serde_json::to_string_pretty(&policy).unwrap_or_default() + "\n"
}

/// The `registries.d` YAML that tells containers/image to look for cosign signatures.
pub fn registries_d(scope: &str) -> String {
    format!("docker:\n  {scope}:\n    use-sigstore-attachments: true\n")
}

#[cfg(test)]
mod tests {
    use expect_test::expect;
    use proofmark_types::{SignatureAlgorithm, Signer as _, SoftwareSigner};

    use super::*;

    #[test]
    fn snippets() {
        let key = SoftwareSigner::generate(SignatureAlgorithm::EcdsaP256Sha256).unwrap();
        let key = key.public_key();
        let req = sigstore_requirement(key);
        let pem = STANDARD.decode(req["keyData"].as_str().unwrap()).unwrap();
        assert_eq!(PublicKey::from_pem(&pem).unwrap(), *key);
        let policy: Value = serde_json::from_str(&containers_policy("r.io/app", key)).unwrap();
        assert_eq!(
            policy["transports"]["docker"]["r.io/app"][0]["signedIdentity"]["type"],
            "matchRepository"
        );
        assert_eq!(policy["default"][0]["type"], "reject");
        expect![[r#"
            docker:
              r.io/app:
                use-sigstore-attachments: true
        "#]]
        .assert_eq(&registries_d("r.io/app"));
    }
}
