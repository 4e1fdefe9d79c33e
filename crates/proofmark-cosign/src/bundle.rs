//! The Sigstore bundle (protobuf-specs `dev.sigstore.bundle.v1.Bundle`, JSON form) as cosign 3
//! writes it for a key-based signer without a transparency log: `mediaType` v0.3,
//! `verificationMaterial.publicKey.hint`, and either a DSSE envelope (`cosign sign`,
//! `cosign attest`) or a message signature (`cosign sign-blob --bundle`).
//!
//! Reading is tolerant: v0.2 and v0.3 media types (sigstore-js writes v0.2 for message
//! signatures), certificates and transparency-log entries written by others are accepted as
//! data. Verification never takes a key from the bundle: only the caller's keys count.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use proofmark_types::{Digest, HashAlgorithm, PublicKey, Signature, SignatureAlgorithm};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::Digest as _;

use crate::dsse::{Envelope, pae};
use crate::error::{Error, Result};

/// The bundle media type cosign 3 writes.
pub const BUNDLE_V03: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
/// Media types read besides [`BUNDLE_V03`] (the same JSON shape for what we use).
pub const BUNDLE_READ_MEDIA_TYPES: [&str; 3] = [
    BUNDLE_V03,
    "application/vnd.dev.sigstore.bundle+json;version=0.3",
    "application/vnd.dev.sigstore.bundle+json;version=0.2",
];
/// Largest bundle read (a bundle holding an SBOM attestation can be large).
pub const MAX_BUNDLE_BYTES: u64 = 4 << 20;

/// What a bundle signs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// A DSSE envelope (an in-toto Statement, for cosign).
    Dsse(Envelope),
    /// A signature over an artefact's digest.
    MessageSignature {
        /// The hash algorithm's protobuf name (`SHA2_256`).
        algorithm: String,
        /// The artefact digest.
        digest: Vec<u8>,
        /// The signature (DER for ECDSA).
        signature: Vec<u8>,
    },
}

impl Content {
    /// `dsse-envelope` or `message-signature`, the values of the
    /// `dev.sigstore.bundle.content` annotation.
    pub fn annotation(&self) -> &'static str {
        match self {
            Self::Dsse(_) => "dsse-envelope",
            Self::MessageSignature { .. } => "message-signature",
        }
    }
}

/// A parsed bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    /// The media type as written.
    pub media_type: String,
    /// `verificationMaterial.publicKey.hint`, when the material is a public key.
    pub hint: Option<String>,
    /// Whether the material is a certificate (keyless or `--cert` signing).
    pub has_certificate: bool,
    /// How many transparency-log entries it carries (not checked: no Rekor here).
    pub tlog_entries: usize,
    /// The signed content.
    pub content: Content,
}

/// The SHA-256 of the DER public key, base64: cosign's `publicKey.hint`.
pub fn key_hint(key: &PublicKey) -> String {
    STANDARD.encode(sha2::Sha256::digest(key.as_der()))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawBundle {
    media_type: String,
    verification_material: RawMaterial,
    #[serde(default)]
    dsse_envelope: Option<Envelope>,
    #[serde(default)]
    message_signature: Option<RawMessageSignature>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawMaterial {
    #[serde(default)]
    public_key: Option<RawHint>,
    #[serde(default)]
    x509_certificate_chain: Option<Value>,
    #[serde(default)]
    certificate: Option<Value>,
    #[serde(default)]
    tlog_entries: Option<Vec<Value>>,
}

#[derive(Deserialize)]
struct RawHint {
    #[serde(default)]
    hint: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawMessageSignature {
    message_digest: RawDigest,
    signature: String,
}

#[derive(Deserialize)]
struct RawDigest {
    #[serde(default)]
    algorithm: Option<String>,
    digest: String,
}

fn b64(what: &'static str, text: &str) -> Result<Vec<u8>> {
    STANDARD.decode(text.trim()).map_err(|e| Error::malformed(what, format!("not base64: {e}")))
}

impl Bundle {
    /// Parses a bundle's JSON; a wrong media type, missing verification material, no content
    /// or both kinds of content, or bad base64 are errors.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        if bytes.len() as u64 > MAX_BUNDLE_BYTES {
            return Err(Error::TooLarge {
                what: "Sigstore bundle".into(),
                limit: MAX_BUNDLE_BYTES,
            });
        }
        let raw: RawBundle =
            serde_json::from_slice(bytes).map_err(|e| Error::malformed("Sigstore bundle", e))?;
        if !BUNDLE_READ_MEDIA_TYPES.contains(&raw.media_type.as_str()) {
            return Err(Error::MediaType { what: "Sigstore bundle".into(), got: raw.media_type });
        }
        let m = raw.verification_material;
        let has_certificate = m.x509_certificate_chain.is_some() || m.certificate.is_some();
        if m.public_key.is_none() && !has_certificate {
            return Err(Error::malformed(
                "Sigstore bundle",
                "verificationMaterial has neither a publicKey nor a certificate",
            ));
        }
        let content = match (raw.dsse_envelope, raw.message_signature) {
            (Some(env), None) => {
                env.payload_bytes()?;
                if env.signature_bytes()?.is_empty() {
                    return Err(Error::malformed(
                        "Sigstore bundle",
                        "the DSSE envelope has no signature",
                    ));
                }
                Content::Dsse(env)
            }
            (None, Some(ms)) => Content::MessageSignature {
                algorithm: ms.message_digest.algorithm.unwrap_or_else(|| "SHA2_256".into()),
                digest: b64("Sigstore bundle message digest", &ms.message_digest.digest)?,
                signature: b64("Sigstore bundle message signature", &ms.signature)?,
            },
            (None, None) => {
                return Err(Error::malformed(
                    "Sigstore bundle",
                    "neither dsseEnvelope nor messageSignature",
                ));
            }
            (Some(_), Some(_)) => {
                return Err(Error::malformed(
                    "Sigstore bundle",
                    "both dsseEnvelope and messageSignature",
                ));
            }
        };
        Ok(Self {
            media_type: raw.media_type,
            hint: m.public_key.and_then(|p| p.hint),
            has_certificate,
            tlog_entries: m.tlog_entries.map_or(0, |t| t.len()),
            content,
        })
    }

    /// A v0.3 bundle holding one DSSE signature by the key with `hint`.
    pub fn dsse(payload_type: &str, payload: &[u8], signature: &[u8], hint: &str) -> Self {
        Self {
            media_type: BUNDLE_V03.into(),
            hint: Some(hint.into()),
            has_certificate: false,
            tlog_entries: 0,
            content: Content::Dsse(Envelope::new(payload_type, payload, signature)),
        }
    }

    /// A v0.3 bundle holding a signature over a SHA-256 digest.
    pub fn message_signature(sha256: &[u8], signature: &[u8], hint: &str) -> Self {
        Self {
            media_type: BUNDLE_V03.into(),
            hint: Some(hint.into()),
            has_certificate: false,
            tlog_entries: 0,
            content: Content::MessageSignature {
                algorithm: "SHA2_256".into(),
                digest: sha256.to_vec(),
                signature: signature.to_vec(),
            },
        }
    }

    /// The JSON cosign writes (protobuf-JSON field names, `mediaType` first). Only bundles
    /// with a public-key hint are written.
    pub fn to_json(&self) -> Vec<u8> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Out<'a> {
            media_type: &'a str,
            verification_material: Value,
            #[serde(skip_serializing_if = "Option::is_none")]
            dsse_envelope: Option<&'a Envelope>,
            #[serde(skip_serializing_if = "Option::is_none")]
            message_signature: Option<Value>,
        }
        let (dsse_envelope, message_signature) = match &self.content {
            Content::Dsse(env) => (Some(env), None),
            Content::MessageSignature { algorithm, digest, signature } => (
                None,
                Some(serde_json::json!({
                    "messageDigest": {"algorithm": algorithm, "digest": STANDARD.encode(digest)},
                    "signature": STANDARD.encode(signature),
                })),
            ),
        };
        let out = Out {
            media_type: &self.media_type,
            verification_material: serde_json::json!({
                "publicKey": {"hint": self.hint.clone().unwrap_or_default()}
            }),
            dsse_envelope,
            message_signature,
        };
        serde_json::to_vec(&out).unwrap_or_default()
    }

    /// The first of `keys` that verifies the bundle's signature: over the DSSE PAE of the
    /// payload, or over `artifact_sha256` for a message signature (whose recorded digest must
    /// be that digest too). `None` when no key does.
    pub fn verifying_key<'k>(
        &self,
        keys: &[(&'k PublicKey, SignatureAlgorithm)],
        artifact_sha256: Option<&[u8]>,
    ) -> Result<Option<&'k PublicKey>> {
        match &self.content {
            Content::Dsse(env) => {
                let message = pae(&env.payload_type, &env.payload_bytes()?);
                let sigs = env.signature_bytes()?;
                Ok(keys
                    .iter()
                    .find(|(key, alg)| {
                        sigs.iter().any(|sig| {
                            Signature::new(*alg, sig).is_ok_and(|s| {
                                proofmark_types::verify_message(key, *alg, &message, &s).is_ok()
                            })
                        })
                    })
                    .map(|(k, _)| *k))
            }
            Content::MessageSignature { algorithm, digest, signature } => {
                if algorithm != "SHA2_256" {
                    return Err(Error::malformed(
                        "Sigstore bundle",
                        format!("message digest algorithm {algorithm:?}; only SHA2_256 is read"),
                    ));
                }
                let Some(artifact) = artifact_sha256 else {
                    return Err(Error::InvalidOptions(
                        "a message-signature bundle is verified against an artefact".into(),
                    ));
                };
                if digest.as_slice() != artifact {
                    return Ok(None);
                }
                let digest = Digest::new(HashAlgorithm::Sha256, artifact)
                    .map_err(|e| Error::malformed("Sigstore bundle", e))?;
                Ok(keys
                    .iter()
                    .find(|(key, alg)| {
                        alg.hash() == HashAlgorithm::Sha256
                            && Signature::new(*alg, signature).is_ok_and(|s| {
                                proofmark_types::verify(key, *alg, &digest, &s).is_ok()
                            })
                    })
                    .map(|(k, _)| *k))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use expect_test::expect;

    use super::*;

    #[test]
    fn written_bundles_parse_back() {
        let b = Bundle::dsse("application/vnd.in-toto+json", b"{}", b"\x30\x06", "aGludA==");
        let json = b.to_json();
        expect![[r#"{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{"publicKey":{"hint":"aGludA=="}},"dsseEnvelope":{"payload":"e30=","payloadType":"application/vnd.in-toto+json","signatures":[{"sig":"MAY="}]}}"#]]
        .assert_eq(std::str::from_utf8(&json).unwrap());
        assert_eq!(Bundle::parse(&json).unwrap(), b);
        let m = Bundle::message_signature(&[1; 32], b"sig", "aGludA==");
        assert_eq!(Bundle::parse(&m.to_json()).unwrap(), m);
    }

    #[test]
    fn bad_bundles() {
        let cases: [(&str, &str); 6] = [
            ("{", "malformed Sigstore bundle"),
            (
                r#"{"mediaType":"application/json","verificationMaterial":{"publicKey":{}},"dsseEnvelope":{"payload":"","payloadType":"x","signatures":[{"sig":""}]}}"#,
                "unexpected media type for Sigstore bundle: \"application/json\"",
            ),
            (
                r#"{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{},"dsseEnvelope":{"payload":"","payloadType":"x","signatures":[{"sig":""}]}}"#,
                "neither a publicKey nor a certificate",
            ),
            (
                r#"{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{"publicKey":{}}}"#,
                "neither dsseEnvelope nor messageSignature",
            ),
            (
                r#"{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{"publicKey":{}},"dsseEnvelope":{"payload":"!!","payloadType":"x","signatures":[{"sig":""}]}}"#,
                "payload: not base64",
            ),
            (
                r#"{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{"publicKey":{}},"dsseEnvelope":{"payload":"","payloadType":"x","signatures":[]}}"#,
                "has no signature",
            ),
        ];
        for (bad, why) in cases {
            let err = Bundle::parse(bad.as_bytes()).unwrap_err().to_string();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }

    proptest::proptest! {
        #[test]
        fn parser_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = Bundle::parse(&bytes);
        }

        #[test]
        fn structured_bundles_never_panic(
            media_type in proptest::sample::select(vec![BUNDLE_V03, "application/vnd.dev.sigstore.bundle+json;version=0.2", "x"]),
            payload in "[A-Za-z0-9+/=!]{0,12}",
            sig in proptest::option::of("[A-Za-z0-9+/=]{0,12}"),
            hint in proptest::option::of("[A-Za-z0-9+/=]{0,12}"),
            message in proptest::bool::ANY,
        ) {
            let material = hint.map_or("{}".to_owned(), |h| format!(r#"{{"publicKey":{{"hint":"{h}"}}}}"#));
            let sigs = sig.map_or(String::new(), |s| format!(r#"{{"sig":"{s}"}}"#));
            let content = if message {
                format!(r#""messageSignature":{{"messageDigest":{{"algorithm":"SHA2_256","digest":"{payload}"}},"signature":"{payload}"}}"#)
            } else {
                format!(r#""dsseEnvelope":{{"payload":"{payload}","payloadType":"t","signatures":[{sigs}]}}"#)
            };
            let text = format!(r#"{{"mediaType":"{media_type}","verificationMaterial":{material},{content}}}"#);
            if let Ok(b) = Bundle::parse(text.as_bytes()) {
                let again = Bundle::parse(&b.to_json()).unwrap();
                proptest::prop_assert_eq!(again.content, b.content);
            }
        }
    }
}
