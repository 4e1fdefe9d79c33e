//! The TPM key attestation predicate (`attest --type` [`PREDICATE_TYPE`]): the evidence of
//! `key attest` (a `TPM2_Certify` of the signing key by an AK of the same TPM) carried in an
//! in-toto Statement next to an image signature, and what `verify --require-tpm-attestation`
//! checks of it (docs/tpm.md, "Attestations on images"; minutes/2026-12-02-image-key-attestation.md).
//!
//! The nonce (extraData) is the SHA-256 of the signing key's DER SubjectPublicKeyInfo (its
//! `sha256:` fingerprint): a verifier recomputes it from the key alone, and one attestation
//! serves every image the key signs. The image binding is the DSSE signature by that same key
//! over a Statement whose subject is the image digest.

use std::path::Path;

use anyhow::{Context, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use proofmark_types::PublicKey;
use proofmark_types::tpm_attest::{
    KeyAttestationInput, TpmPublic, verify_ek_certificate, verify_key_attestation,
};
use serde_json::{Value, json};
use sha2::Digest as _;

/// The predicate type URI.
pub(crate) const PREDICATE_TYPE: &str =
    "https://github.com/proofmark/proofmark/tpm-key-attestation/v1";

/// The evidence, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Evidence {
    /// The marshalled `TPMS_ATTEST`.
    pub(crate) attest: Vec<u8>,
    /// The AK's signature over it (DER ECDSA or raw RSASSA).
    pub(crate) signature: Vec<u8>,
    /// The AK's `TPM2B_PUBLIC`.
    pub(crate) ak_public: Vec<u8>,
    /// The signing key's `TPM2B_PUBLIC`.
    pub(crate) key_public: Vec<u8>,
    /// The EK certificate (DER), when the TPM has one.
    pub(crate) ek_certificate: Option<Vec<u8>>,
}

/// The nonce bound into the attestation: SHA-256 of the key's DER SubjectPublicKeyInfo.
pub(crate) fn nonce_for(key: &PublicKey) -> Vec<u8> {
    sha2::Sha256::digest(key.to_der()).to_vec()
}

impl Evidence {
    /// The predicate JSON: base64 fields, plus the nonce and the AK fingerprint for readers.
    pub(crate) fn to_predicate(&self, key: &PublicKey) -> Value {
        let ak = TpmPublic::parse_tpm2b(&self.ak_public)
            .ok()
            .and_then(|p| p.public_key().ok())
            .map(|k| k.fingerprint_sha256().to_string());
        let mut v = json!({
            "nonce": hex::encode(nonce_for(key)),
            "key": key.fingerprint_sha256().to_string(),
            "ak": ak,
            "attest": STANDARD.encode(&self.attest),
            "signature": STANDARD.encode(&self.signature),
            "akPublic": STANDARD.encode(&self.ak_public),
            "keyPublic": STANDARD.encode(&self.key_public),
        });
        if let (Some(cert), Some(obj)) = (&self.ek_certificate, v.as_object_mut()) {
            obj.insert("ekCertificate".into(), Value::String(STANDARD.encode(cert)));
        }
        v
    }

    /// Reads a predicate; names the field that is missing or not base64.
    pub(crate) fn from_predicate(v: &Value) -> Result<Self, String> {
        let field = |name: &str| -> Result<Option<Vec<u8>>, String> {
            match v.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => STANDARD
                    .decode(s)
                    .map(Some)
                    .map_err(|e| format!("the predicate's {name} is not base64: {e}")),
                Some(_) => Err(format!("the predicate's {name} is not a string")),
            }
        };
        let required = |name: &str| {
            field(name)?.ok_or_else(|| format!("the predicate has no {name} (base64)"))
        };
        Ok(Self {
            attest: required("attest")?,
            signature: required("signature")?,
            ak_public: required("akPublic")?,
            key_public: required("keyPublic")?,
            ek_certificate: field("ekCertificate")?,
        })
    }

    /// Reads the folder `key attest` wrote.
    pub(crate) fn from_dir(dir: &Path) -> anyhow::Result<Self> {
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read(&path).with_context(|| {
                format!(
                    "cannot read {}: --predicate must be a folder `proofmark key attest` wrote",
                    path.display()
                )
            })
        };
        let cert = dir.join("ek.crt");
        Ok(Self {
            attest: read("attest.bin")?,
            signature: read("attest.sig")?,
            ak_public: read("ak.pub")?,
            key_public: read("key.pub")?,
            ek_certificate: if cert.exists() { Some(read("ek.crt")?) } else { None },
        })
    }
}

/// Checks the evidence: the AK is trusted, it certified `key` (name, attributes, nonce), and,
/// with `ek_ca`, the EK certificate chains to it at `now_unix`.
pub(crate) fn check(
    evidence: &Evidence,
    key: &PublicKey,
    trusted_aks: &[PublicKey],
    ek_ca: Option<&[u8]>,
    now_unix: u64,
) -> anyhow::Result<()> {
    let ak = TpmPublic::parse_tpm2b(&evidence.ak_public)
        .context("the predicate's akPublic is not a TPM2B_PUBLIC")?
        .public_key()
        .context("the predicate's akPublic holds an unusable key")?;
    if !trusted_aks.contains(&ak) {
        bail!(
            "the attestation key {} is not one of the --ak keys: only an AK the verifier bound \
             to a TPM's EK (`key verify-attestation --ek-ca`) makes the evidence mean anything",
            ak.fingerprint_sha256()
        );
    }
    let nonce = nonce_for(key);
    verify_key_attestation(&KeyAttestationInput {
        attest: &evidence.attest,
        signature: &evidence.signature,
        ak: &ak,
        ak_public: Some(&evidence.ak_public),
        key_public: &evidence.key_public,
        key,
        nonce: &nonce,
    })
    .context("the TPM key attestation does not hold")?;
    if let Some(ca) = ek_ca {
        let Some(cert) = evidence.ek_certificate.as_deref() else {
            bail!("the attestation carries no EK certificate, and --ek-ca asks for one");
        };
        verify_ek_certificate(cert, ca, now_unix)
            .context("the attestation's EK certificate does not chain to --ek-ca")?;
    }
    Ok(())
}

/// The predicate `attest --type` [`PREDICATE_TYPE`] attaches, from the folder `key attest`
/// wrote, checked against the signing key first (so a folder of another key or nonce fails
/// here, not at every verifier). Not made on the fly: a fresh AK is one no verifier has bound
/// to the TPM's EK, and its wrapped blob would be lost, so the challenge could never be run.
pub(crate) fn predicate(key: &PublicKey, dir: Option<&Path>) -> anyhow::Result<Value> {
    let nonce = hex::encode(nonce_for(key));
    let hint = format!(
        "for --type {PREDICATE_TYPE}, give --predicate the folder that `proofmark key attest \
         tpm:KEY --nonce {nonce} --out DIR` wrote (the nonce is the signing key's SHA-256 \
         fingerprint), after the verifier ran `proofmark key verify-attestation --ek-ca` on it"
    );
    let Some(dir) = dir.filter(|d| d.is_dir()) else {
        bail!("{hint}");
    };
    let evidence = Evidence::from_dir(dir)?;
    let ak = TpmPublic::parse_tpm2b(&evidence.ak_public)
        .ok()
        .and_then(|p| p.public_key().ok())
        .with_context(|| format!("{}/ak.pub is not a TPM2B_PUBLIC", dir.display()))?;
    check(&evidence, key, &[ak], None, 0).with_context(|| {
        format!(
            "{} does not attest the signing key {} with the nonce {nonce} (its fingerprint)",
            dir.display(),
            key.fingerprint_sha256(),
        )
    })?;
    Ok(evidence.to_predicate(key))
}

/// `verify --require-tpm-attestation`, after the signatures verified: each key that signed
/// counts only with a TPM key attestation it signed for the image whose evidence holds.
/// Returns the exit code when fewer than the threshold do (the reasons on standard error).
pub(crate) fn require(
    args: &crate::image::TpmAttestationArgs,
    t: &crate::image::Target,
    signature_opts: &proofmark_cosign::VerifyOptions,
    signatures: &proofmark_cosign::VerifyReport,
) -> anyhow::Result<Option<std::process::ExitCode>> {
    let trusted_aks = args
        .ak
        .iter()
        .map(|p| {
            let bytes = crate::fsutil::read(p, "attestation key")?;
            PublicKey::from_pem(&bytes)
                .with_context(|| format!("--ak {} is not a PEM public key", p.display()))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let ek_ca = match &args.ek_ca {
        Some(p) => Some(crate::fsutil::read(p, "EK CA file")?),
        None => None,
    };
    let opts = proofmark_cosign::VerifyOptions {
        threshold: 1,
        pinned: signature_opts.pinned.clone(),
        identity: proofmark_cosign::IdentityMode::Ignore,
        predicate_type: PREDICATE_TYPE.to_owned(),
        formats: vec![proofmark_cosign::SignatureFormat::Bundle],
        image_reference: signature_opts.image_reference.clone(),
        ..proofmark_cosign::VerifyOptions::new(signature_opts.keys.clone(), String::new())
    };
    // Looked up by the image digest the signatures verified, not the tag again.
    let attestations = proofmark_cosign::verify_image(
        t.image.as_ref(),
        &signatures.image_digest,
        t.signatures.as_ref(),
        &opts,
    )
    .context("looking for TPM key attestations")?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut attested = 0;
    let mut reasons = Vec::new();
    for key in &signature_opts.keys {
        let fingerprint = key.fingerprint_sha256();
        if !signatures.verified_keys.contains(&fingerprint) {
            continue;
        }
        let mut why = format!(
            "no TPM key attestation signed by {fingerprint} is attached to {} (attach one with \
             `proofmark attest --type {PREDICATE_TYPE} --key tpm:KEY IMAGE`)",
            signatures.image_digest
        );
        let mut held = false;
        for layer in &attestations.layers {
            let (Ok(signer), Some(statement)) = (&layer.result, &layer.statement) else { continue };
            if *signer != fingerprint {
                continue;
            }
            let result = Evidence::from_predicate(&statement.predicate)
                .map_err(anyhow::Error::msg)
                .and_then(|e| check(&e, key, &trusted_aks, ek_ca.as_deref(), now));
            match result {
                Ok(()) => {
                    held = true;
                    break;
                }
                Err(e) => why = format!("the TPM key attestation signed by {fingerprint}: {e:#}"),
            }
        }
        if held {
            attested += 1;
            eprintln!("TPM attestation: {fingerprint} never left a TPM (trusted AK)");
        } else {
            reasons.push(why);
        }
    }
    if attested >= signatures.threshold {
        return Ok(None);
    }
    for why in &reasons {
        eprintln!("error: {why}");
    }
    eprintln!(
        "error: {attested} of the keys that signed {} carry a TPM key attestation that holds; \
         --require-tpm-attestation needs {}",
        signatures.image_digest, signatures.threshold
    );
    Ok(Some(std::process::ExitCode::from(crate::exit::INVALID_SIGNATURE)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predicate_round_trips_and_names_bad_fields() {
        let e = Evidence {
            attest: vec![1, 2],
            signature: vec![3],
            ak_public: vec![4],
            key_public: vec![5],
            ek_certificate: Some(vec![6]),
        };
        let key = PublicKey::from_pem(
            b"-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEEVs/o5+uQbTjL3chynL4wXgUg2R9\nq9UU8I5mEovUf86QZ7kOBIjJwqnzD1omageEHWwHdBO6B+dFabmdT9POxg==\n-----END PUBLIC KEY-----\n",
        );
        let key = key.unwrap();
        let v = e.to_predicate(&key);
        assert_eq!(Evidence::from_predicate(&v), Ok(e));
        let err = Evidence::from_predicate(&json!({"attest": "!!"})).err();
        assert!(err.is_some_and(|e| e.contains("attest is not base64")));
        let err = Evidence::from_predicate(&json!({})).err();
        assert_eq!(err.as_deref(), Some("the predicate has no attest (base64)"));
    }
}
