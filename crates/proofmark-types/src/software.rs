//! [`SoftwareSigner`]: a private key in memory, signing with RustCrypto (`p256`, `p384`, `rsa`).
//!
//! RSA signing here is exposed to RUSTSEC-2023-0071 (Marvin); see the `SoftwareSigner` docs.

use std::fmt;

use der::pem::LineEnding;
use pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _, ObjectIdentifier, PrivateKeyInfo};
use rand_core::OsRng;
use signature::hazmat::PrehashSigner as _;
use spki::EncodePublicKey as _;
use zeroize::Zeroizing;

use crate::{
    Digest, EcCurve, KeyKind, PublicKey, RsaPadding, SignError, Signature, SignatureAlgorithm,
    Signer,
};

const OID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const OID_P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const OID_RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

/// The backend name used in [`SignError::Backend`].
const BACKEND: &str = "software";

/// Why a private key could not be loaded, generated or exported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SoftwareKeyError {
    /// The PEM text is not UTF-8.
    #[error("PEM private key is not UTF-8 text")]
    PemNotUtf8,
    /// Not PEM.
    #[error("not a PEM private key: {0}")]
    Pem(der::Error),
    /// PEM with a label other than `PRIVATE KEY`.
    #[error("expected a PKCS#8 PEM block labelled `PRIVATE KEY`, found `{found}`{hint}")]
    WrongPemLabel {
        /// The label found.
        found: String,
        /// How to convert, if we know.
        hint: &'static str,
    },
    /// An encrypted PKCS#8 key.
    #[error(
        "encrypted private keys are not supported; decrypt with `openssl pkcs8 -in KEY -out PLAIN`"
    )]
    Encrypted,
    /// Not a DER PKCS#8 `PrivateKeyInfo`.
    #[error("not a DER PKCS#8 private key: {0}")]
    Malformed(String),
    /// A key algorithm other than EC and RSA.
    #[error("unsupported private key algorithm {0}; supported are EC (P-256, P-384) and RSA")]
    UnsupportedAlgorithm(ObjectIdentifier),
    /// An EC key on another curve, or without a named curve.
    #[error("unsupported elliptic curve {0}; supported are P-256 and P-384")]
    UnsupportedCurve(String),
    /// The key parses as PKCS#8 but its contents are invalid.
    #[error("invalid {kind} private key: {reason}")]
    InvalidKey {
        /// `EC P-256`, `RSA`, …
        kind: &'static str,
        /// The library's complaint.
        reason: String,
    },
    /// An RSA key of a size no [`SignatureAlgorithm`] covers.
    #[error("no supported signature algorithm for {0} keys; RSA keys must be 2048 or 3072 bits")]
    UnsupportedKey(KeyKind),
    /// The requested algorithm does not fit the key.
    #[error("a {key} key cannot sign {algorithm}")]
    AlgorithmMismatch {
        /// The key's kind.
        key: KeyKind,
        /// The algorithm asked for.
        algorithm: SignatureAlgorithm,
    },
    /// Key generation failed.
    #[error("generating a {algorithm} key failed: {reason}")]
    Generate {
        /// The algorithm.
        algorithm: SignatureAlgorithm,
        /// The library's complaint.
        reason: String,
    },
    /// PKCS#8 export failed.
    #[error("PKCS#8 export failed: {0}")]
    Export(String),
}

// Compile-time check that every private key type held below zeroizes itself on drop.
const _: () = {
    const fn zeroize_on_drop<T: zeroize::ZeroizeOnDrop>() {}
    zeroize_on_drop::<p256::ecdsa::SigningKey>();
    zeroize_on_drop::<p384::ecdsa::SigningKey>();
    zeroize_on_drop::<rsa::RsaPrivateKey>();
};

enum Key {
    P256(p256::ecdsa::SigningKey),
    P384(p384::ecdsa::SigningKey),
    Rsa(Box<rsa::RsaPrivateKey>),
}

/// A [`Signer`] holding its private key in memory.
///
/// Uses RustCrypto (`p256`, `p384`, `rsa`). For tests, for keys kept in files, and as the
/// reference the hardware backends are checked against. RSA PSS signatures use salt length =
/// hash length, as cosign/Go do; ECDSA signatures are deterministic (RFC 6979) and not
/// low-S normalised. Private key material is zeroized on drop (the RustCrypto key types do it), PEM
/// exports are [`Zeroizing`], and `Debug` shows only the algorithm and public key.
///
/// # RSA and RUSTSEC-2023-0071
///
/// The `rsa` 0.9 crate has a known timing side channel in private-key operations (the "Marvin"
/// attack, RUSTSEC-2023-0071; no patched 0.9 release exists). We sign with blinding, which does
/// not close it fully. RSA signing here is meant for tests and file-based keys on trusted machines; keys that
/// matter live in the TPM or behind Parsec, where this code never touches them. Verification
/// uses only the public key and is not affected.
///
/// ```
/// use proofmark_types::{SignatureAlgorithm, Signer, SoftwareSigner, verify_message};
///
/// let signer = SoftwareSigner::generate(SignatureAlgorithm::EcdsaP256Sha256)?;
/// let sig = signer.sign(b"hello")?;
/// verify_message(signer.public_key(), signer.algorithm(), b"hello", &sig)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct SoftwareSigner {
    algorithm: SignatureAlgorithm,
    public_key: PublicKey,
    key: Key,
}

fn invalid(kind: &'static str, reason: impl fmt::Display) -> SoftwareKeyError {
    SoftwareKeyError::InvalidKey { kind, reason: reason.to_string() }
}

impl SoftwareSigner {
    /// Loads a PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`, as written by `openssl genpkey`).
    ///
    /// `algorithm` picks the scheme: EC keys imply theirs (and any other value is an error); RSA
    /// keys default to PKCS#1 v1.5 (`rsa-sign-pkcs1-*`), pass an `rsa-sign-pss-*` algorithm
    /// for PSS.
    pub fn from_pkcs8_pem(
        pem: &[u8],
        algorithm: Option<SignatureAlgorithm>,
    ) -> Result<Self, SoftwareKeyError> {
        let text = std::str::from_utf8(pem).map_err(|_| SoftwareKeyError::PemNotUtf8)?;
        let (label, doc) =
            der::SecretDocument::from_pem(text.trim()).map_err(SoftwareKeyError::Pem)?;
        match label {
            "PRIVATE KEY" => Self::from_pkcs8_der(doc.as_bytes(), algorithm),
            "ENCRYPTED PRIVATE KEY" => Err(SoftwareKeyError::Encrypted),
            other => Err(SoftwareKeyError::WrongPemLabel {
                found: other.to_owned(),
                hint: match other {
                    "EC PRIVATE KEY" | "RSA PRIVATE KEY" => {
                        " (a traditional key; convert with `openssl pkcs8 -topk8 -nocrypt -in KEY`)"
                    }
                    _ => "",
                },
            }),
        }
    }

    /// Loads a DER PKCS#8 `PrivateKeyInfo`. See [`Self::from_pkcs8_pem`] for `algorithm`.
    pub fn from_pkcs8_der(
        der: &[u8],
        algorithm: Option<SignatureAlgorithm>,
    ) -> Result<Self, SoftwareKeyError> {
        let info = PrivateKeyInfo::try_from(der)
            .map_err(|e| SoftwareKeyError::Malformed(e.to_string()))?;
        let oid = info.algorithm.oid;
        let key = if oid == OID_EC_PUBLIC_KEY {
            match info.algorithm.parameters_oid() {
                Ok(OID_P256) => Key::P256(
                    p256::ecdsa::SigningKey::from_pkcs8_der(der)
                        .map_err(|e| invalid("EC P-256", e))?,
                ),
                Ok(OID_P384) => Key::P384(
                    p384::ecdsa::SigningKey::from_pkcs8_der(der)
                        .map_err(|e| invalid("EC P-384", e))?,
                ),
                Ok(other) => return Err(SoftwareKeyError::UnsupportedCurve(other.to_string())),
                Err(_) => return Err(SoftwareKeyError::UnsupportedCurve("(none)".to_owned())),
            }
        } else if oid == OID_RSA_ENCRYPTION {
            Key::Rsa(Box::new(
                rsa::RsaPrivateKey::from_pkcs8_der(der).map_err(|e| invalid("RSA", e))?,
            ))
        } else {
            return Err(SoftwareKeyError::UnsupportedAlgorithm(oid));
        };
        Self::from_key(key, algorithm)
    }

    /// Generates a fresh key for `algorithm` from the operating system's randomness.
    ///
    /// RSA generation takes from a fraction of a second (2048 bits, release build) to many
    /// seconds (3072 bits, debug build).
    pub fn generate(algorithm: SignatureAlgorithm) -> Result<Self, SoftwareKeyError> {
        let key = match algorithm.key_kind() {
            KeyKind::Ec(EcCurve::P256) => Key::P256(p256::ecdsa::SigningKey::random(&mut OsRng)),
            KeyKind::Ec(EcCurve::P384) => Key::P384(p384::ecdsa::SigningKey::random(&mut OsRng)),
            KeyKind::Rsa { bits } => Key::Rsa(Box::new(
                rsa::RsaPrivateKey::new(&mut OsRng, bits as usize)
                    .map_err(|e| SoftwareKeyError::Generate { algorithm, reason: e.to_string() })?,
            )),
        };
        Self::from_key(key, Some(algorithm))
    }

    fn from_key(key: Key, algorithm: Option<SignatureAlgorithm>) -> Result<Self, SoftwareKeyError> {
        let spki = match &key {
            Key::P256(k) => k.verifying_key().to_public_key_der(),
            Key::P384(k) => k.verifying_key().to_public_key_der(),
            Key::Rsa(k) => k.to_public_key().to_public_key_der(),
        }
        .map_err(|e| SoftwareKeyError::Export(e.to_string()))?;
        let public_key = PublicKey::from_der(spki.as_bytes()).map_err(|e| invalid("public", e))?;
        let kind = public_key.key_kind();
        let algorithm = match algorithm {
            Some(algorithm) => algorithm,
            None => match kind {
                KeyKind::Ec(curve) => SignatureAlgorithm::ecdsa(curve),
                KeyKind::Rsa { bits } => SignatureAlgorithm::rsa(RsaPadding::Pkcs1v15, bits)
                    .ok_or(SoftwareKeyError::UnsupportedKey(kind))?,
            },
        };
        if !public_key.supports(algorithm) {
            return Err(SoftwareKeyError::AlgorithmMismatch { key: kind, algorithm });
        }
        Ok(Self { algorithm, public_key, key })
    }

    /// Exports the private key as PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`, LF line endings).
    pub fn to_pkcs8_pem(&self) -> Result<Zeroizing<String>, SoftwareKeyError> {
        match &self.key {
            Key::P256(k) => k.to_pkcs8_pem(LineEnding::LF),
            Key::P384(k) => k.to_pkcs8_pem(LineEnding::LF),
            Key::Rsa(k) => k.to_pkcs8_pem(LineEnding::LF),
        }
        .map_err(|e| SoftwareKeyError::Export(e.to_string()))
    }

    /// Exports the private key as DER PKCS#8.
    pub fn to_pkcs8_der(&self) -> Result<Zeroizing<Vec<u8>>, SoftwareKeyError> {
        match &self.key {
            Key::P256(k) => k.to_pkcs8_der(),
            Key::P384(k) => k.to_pkcs8_der(),
            Key::Rsa(k) => k.to_pkcs8_der(),
        }
        .map(|doc| Zeroizing::new(doc.as_bytes().to_vec()))
        .map_err(|e| SoftwareKeyError::Export(e.to_string()))
    }
}

impl Signer for SoftwareSigner {
    fn algorithm(&self) -> SignatureAlgorithm {
        self.algorithm
    }

    fn public_key(&self) -> &PublicKey {
        &self.public_key
    }

    fn sign_digest(&self, digest: &Digest) -> Result<Signature, SignError> {
        SignError::check_digest(self.algorithm, digest)?;
        let hashed = digest.as_bytes();
        let malformed = |source| SignError::MalformedSignature { backend: BACKEND, source };
        match &self.key {
            Key::P256(k) => {
                let sig: p256::ecdsa::Signature =
                    k.sign_prehash(hashed).map_err(|e| SignError::backend(BACKEND, e))?;
                Ok(Signature::from_trusted_ecdsa_der(self.algorithm, sig.to_der().as_bytes()))
            }
            Key::P384(k) => {
                let sig: p384::ecdsa::Signature =
                    k.sign_prehash(hashed).map_err(|e| SignError::backend(BACKEND, e))?;
                Ok(Signature::from_trusted_ecdsa_der(self.algorithm, sig.to_der().as_bytes()))
            }
            Key::Rsa(k) => {
                // `sign_with_rng` blinds the private-key operation (see the `SoftwareSigner` docs).
                let raw = match self.algorithm.rsa_padding() {
                    Some(RsaPadding::Pss) => k.sign_with_rng(
                        &mut OsRng,
                        rsa::Pss::new::<sha2::Sha256>(), // salt length = hash length
                        hashed,
                    ),
                    _ => k.sign_with_rng(
                        &mut OsRng,
                        rsa::Pkcs1v15Sign::new::<sha2::Sha256>(),
                        hashed,
                    ),
                }
                .map_err(|e| SignError::backend(BACKEND, e))?;
                Signature::from_rsa(self.algorithm, &raw).map_err(malformed)
            }
        }
    }
}

impl fmt::Debug for SoftwareSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SoftwareSigner")
            .field("algorithm", &self.algorithm)
            .field("public_key", &self.public_key)
            .finish_non_exhaustive()
    }
}
