//! [`PublicKey`]: a DER `SubjectPublicKeyInfo` whose key kind we understand.

use std::fmt;
use std::hash::{Hash, Hasher};

use der::pem::LineEnding;
use spki::{DecodePublicKey as _, EncodePublicKey as _, ObjectIdentifier, SubjectPublicKeyInfoRef};

use crate::{EcCurve, KeyKind, SignatureAlgorithm};

/// `id-ecPublicKey` (RFC 5480).
const OID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
/// `prime256v1` / `secp256r1` (RFC 5480).
const OID_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
/// `secp384r1` (RFC 5480).
const OID_P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
/// `rsaEncryption` (RFC 8017).
const OID_RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

/// The PEM label of a `SubjectPublicKeyInfo`.
pub const PUBLIC_KEY_PEM_LABEL: &str = "PUBLIC KEY";

/// Why bytes are not a usable public key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PublicKeyError {
    /// Not a DER `SubjectPublicKeyInfo`.
    #[error("not a DER SubjectPublicKeyInfo: {0}")]
    Malformed(spki::Error),
    /// Not PEM at all.
    #[error("not a PEM public key: {0}")]
    Pem(der::Error),
    /// PEM text must be UTF-8 (in fact ASCII).
    #[error("PEM public key is not UTF-8 text")]
    PemNotUtf8,
    /// PEM, but with another label.
    #[error("expected a PEM block labelled `PUBLIC KEY`, found `{0}`")]
    WrongPemLabel(String),
    /// A key algorithm other than EC and RSA.
    #[error(
        "unsupported public key algorithm {0}; supported are id-ecPublicKey (P-256, P-384) and rsaEncryption"
    )]
    UnsupportedAlgorithm(ObjectIdentifier),
    /// An EC key without a named-curve parameter.
    #[error("EC public key has no named curve parameter")]
    MissingCurve,
    /// An EC key on a curve other than P-256 and P-384.
    #[error(
        "unsupported elliptic curve {0}; supported are P-256 (1.2.840.10045.3.1.7) and P-384 (1.3.132.0.34)"
    )]
    UnsupportedCurve(ObjectIdentifier),
    /// The EC point is not on the curve or badly encoded.
    #[error("invalid {0} public key point")]
    InvalidEcPoint(EcCurve),
    /// The RSA key does not parse or is out of the supported range.
    #[error("invalid RSA public key: {0}")]
    InvalidRsaKey(String),
}

#[derive(Clone)]
pub(crate) enum Inner {
    P256(p256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
    Rsa(rsa::RsaPublicKey),
}

/// A public key, kept as the DER `SubjectPublicKeyInfo` it was read from together with the parsed
/// key. Supported kinds: EC P-256, EC P-384, RSA (1024 to 4096 bits; only 2048 and 3072 match a
/// [`SignatureAlgorithm`]).
///
/// Equality and hashing compare the DER bytes.
#[derive(Clone)]
pub struct PublicKey {
    der: Vec<u8>,
    pem: String,
    kind: KeyKind,
    inner: Inner,
}

/// The SHA-256 of a public key's DER `SubjectPublicKeyInfo`; displays as `sha256:<hex>`.
///
/// This is the same value as `openssl pkey -pubin -outform DER | sha256sum`; cosign's key hint is
/// the base64 of the same 32 bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    /// The 32 hash bytes.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", hex::encode(self.0))
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

impl PublicKey {
    /// Parses a DER `SubjectPublicKeyInfo` (strict DER, no trailing bytes).
    pub fn from_der(der: &[u8]) -> Result<Self, PublicKeyError> {
        let spki = SubjectPublicKeyInfoRef::try_from(der).map_err(PublicKeyError::Malformed)?;
        let oid = spki.algorithm.oid;
        let (kind, inner) = if oid == OID_EC_PUBLIC_KEY {
            let curve_oid =
                spki.algorithm.parameters_oid().map_err(|_| PublicKeyError::MissingCurve)?;
            let point =
                spki.subject_public_key.as_bytes().ok_or(PublicKeyError::InvalidEcPoint(
                    if curve_oid == OID_P384 { EcCurve::P384 } else { EcCurve::P256 },
                ))?;
            if curve_oid == OID_P256 {
                let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(point)
                    .map_err(|_| PublicKeyError::InvalidEcPoint(EcCurve::P256))?;
                (KeyKind::Ec(EcCurve::P256), Inner::P256(key))
            } else if curve_oid == OID_P384 {
                let key = p384::ecdsa::VerifyingKey::from_sec1_bytes(point)
                    .map_err(|_| PublicKeyError::InvalidEcPoint(EcCurve::P384))?;
                (KeyKind::Ec(EcCurve::P384), Inner::P384(key))
            } else {
                return Err(PublicKeyError::UnsupportedCurve(curve_oid));
            }
        } else if oid == OID_RSA_ENCRYPTION {
            let key = rsa::RsaPublicKey::from_public_key_der(der)
                .map_err(|e| PublicKeyError::InvalidRsaKey(e.to_string()))?;
            let bits = rsa::traits::PublicKeyParts::n(&key).bits();
            let bits = u32::try_from(bits)
                .map_err(|_| PublicKeyError::InvalidRsaKey(format!("{bits}-bit modulus")))?;
            (KeyKind::Rsa { bits }, Inner::Rsa(key))
        } else {
            return Err(PublicKeyError::UnsupportedAlgorithm(oid));
        };
        let pem = der::pem::encode_string(PUBLIC_KEY_PEM_LABEL, LineEnding::LF, der)
            .map_err(|e| PublicKeyError::Malformed(e.into()))?;
        Ok(Self { der: der.to_vec(), pem, kind, inner })
    }

    /// Parses a PEM `PUBLIC KEY` block (leading and trailing whitespace is ignored).
    pub fn from_pem(pem: impl AsRef<[u8]>) -> Result<Self, PublicKeyError> {
        let text = std::str::from_utf8(pem.as_ref()).map_err(|_| PublicKeyError::PemNotUtf8)?;
        let (label, doc) = der::Document::from_pem(text.trim()).map_err(PublicKeyError::Pem)?;
        if label != PUBLIC_KEY_PEM_LABEL {
            return Err(PublicKeyError::WrongPemLabel(label.to_owned()));
        }
        Self::from_der(doc.as_bytes())
    }

    /// Builds the `SubjectPublicKeyInfo` of an EC public key from its SEC1 point encoding
    /// (`04 || X || Y`, or compressed), as TPMs and Parsec's `psa_export_public_key` hand them out.
    pub fn from_ec_point(curve: EcCurve, sec1: &[u8]) -> Result<Self, PublicKeyError> {
        let der = match curve {
            EcCurve::P256 => p256::ecdsa::VerifyingKey::from_sec1_bytes(sec1)
                .map_err(|_| PublicKeyError::InvalidEcPoint(curve))?
                .to_public_key_der(),
            EcCurve::P384 => p384::ecdsa::VerifyingKey::from_sec1_bytes(sec1)
                .map_err(|_| PublicKeyError::InvalidEcPoint(curve))?
                .to_public_key_der(),
        }
        .map_err(|_| PublicKeyError::InvalidEcPoint(curve))?;
        Self::from_der(der.as_bytes())
    }

    /// Builds the `SubjectPublicKeyInfo` of an RSA public key from its big-endian modulus and
    /// public exponent, as a TPM hands them out.
    pub fn from_rsa_components(modulus: &[u8], exponent: &[u8]) -> Result<Self, PublicKeyError> {
        let key = rsa::RsaPublicKey::new(
            rsa::BigUint::from_bytes_be(modulus),
            rsa::BigUint::from_bytes_be(exponent),
        )
        .map_err(|e| PublicKeyError::InvalidRsaKey(e.to_string()))?;
        let der =
            key.to_public_key_der().map_err(|e| PublicKeyError::InvalidRsaKey(e.to_string()))?;
        Self::from_der(der.as_bytes())
    }

    /// The DER `SubjectPublicKeyInfo`.
    #[must_use]
    pub fn to_der(&self) -> Vec<u8> {
        self.der.clone()
    }

    /// The DER `SubjectPublicKeyInfo`, borrowed.
    #[must_use]
    pub fn as_der(&self) -> &[u8] {
        &self.der
    }

    /// The PEM `PUBLIC KEY` block (LF line endings, trailing newline), as
    /// `openssl pkey -pubout` and `cosign public-key` write it.
    #[must_use]
    pub fn to_pem(&self) -> String {
        self.pem.clone()
    }

    /// The SHA-256 of the DER `SubjectPublicKeyInfo`.
    #[must_use]
    pub fn fingerprint_sha256(&self) -> Fingerprint {
        use sha2::Digest as _;
        Fingerprint(sha2::Sha256::digest(&self.der).into())
    }

    /// The key's kind, parsed from the `SubjectPublicKeyInfo`.
    #[must_use]
    pub const fn key_kind(&self) -> KeyKind {
        self.kind
    }

    /// Whether signatures of `algorithm` can be made and checked with this key.
    ///
    /// EC keys must be on the algorithm's curve. RSA keys must have the algorithm's size, counted
    /// as Go's `rsa.PublicKey.Size() * 8` (whole bytes), which is how sigstore's algorithm
    /// registry compares them.
    #[must_use]
    pub fn supports(&self, algorithm: SignatureAlgorithm) -> bool {
        match (self.kind, algorithm.key_kind()) {
            (KeyKind::Ec(a), KeyKind::Ec(b)) => a == b,
            (KeyKind::Rsa { bits }, KeyKind::Rsa { bits: wanted }) => {
                bits.div_ceil(8) * 8 == wanted
            }
            _ => false,
        }
    }

    pub(crate) const fn inner(&self) -> &Inner {
        &self.inner
    }
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.der == other.der
    }
}

impl Eq for PublicKey {}

impl Hash for PublicKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.der.hash(state);
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKey")
            .field("kind", &self.kind)
            .field("fingerprint", &self.fingerprint_sha256())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 | openssl pkey -pubout`
    const P256_PEM: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEboKBxvbhBCs5j/oBTXh0n8dOzgss
lj9pBt3XMx6S1VCDZRgEiUws3Kd2BCQ2Huw3C5PuS9eMvVeCyObTdBG/jA==
-----END PUBLIC KEY-----
";

    #[test]
    fn pem_round_trip_and_kind() {
        let key = PublicKey::from_pem(P256_PEM).unwrap();
        assert_eq!(key.key_kind(), KeyKind::Ec(EcCurve::P256));
        assert_eq!(key.to_pem(), P256_PEM);
        assert_eq!(PublicKey::from_der(&key.to_der()).unwrap(), key);
        assert!(key.supports(SignatureAlgorithm::EcdsaP256Sha256));
        assert!(!key.supports(SignatureAlgorithm::EcdsaP384Sha384));
        assert!(!key.supports(SignatureAlgorithm::RsaPss2048Sha256));
        assert!(key.fingerprint_sha256().to_string().starts_with("sha256:"));
        assert_eq!(key.fingerprint_sha256().to_string().len(), 7 + 64);
        let dbg = format!("{key:?}");
        assert!(dbg.contains("P256") && dbg.contains("sha256:"), "{dbg}");
    }

    #[test]
    fn from_ec_point_matches_spki() {
        let key = PublicKey::from_pem(P256_PEM).unwrap();
        let Inner::P256(vk) = key.inner() else { panic!("not P-256") };
        let point = vk.to_encoded_point(false);
        let rebuilt = PublicKey::from_ec_point(EcCurve::P256, point.as_bytes()).unwrap();
        assert_eq!(rebuilt, key);
        assert_eq!(
            PublicKey::from_ec_point(EcCurve::P256, &[4; 65]),
            Err(PublicKeyError::InvalidEcPoint(EcCurve::P256))
        );
    }

    #[test]
    fn garbage_is_rejected_clearly() {
        assert!(matches!(PublicKey::from_der(b"garbage"), Err(PublicKeyError::Malformed(_))));
        assert!(matches!(PublicKey::from_der(&[]), Err(PublicKeyError::Malformed(_))));
        let mut trailing = PublicKey::from_pem(P256_PEM).unwrap().to_der();
        trailing.push(0);
        assert!(matches!(PublicKey::from_der(&trailing), Err(PublicKeyError::Malformed(_))));
        assert!(matches!(PublicKey::from_pem("nope"), Err(PublicKeyError::Pem(_))));
        assert_eq!(PublicKey::from_pem([0xff, 0xfe]), Err(PublicKeyError::PemNotUtf8));
        let other = P256_PEM.replace("PUBLIC KEY", "PRIVATE KEY");
        assert_eq!(
            PublicKey::from_pem(other),
            Err(PublicKeyError::WrongPemLabel("PRIVATE KEY".into()))
        );
        // Ed25519 SPKI (RFC 8410 example).
        let ed = hex::decode("302a300506032b6570032100")
            .unwrap()
            .into_iter()
            .chain([0x11; 32])
            .collect::<Vec<_>>();
        let err = PublicKey::from_der(&ed).unwrap_err();
        assert_eq!(
            err,
            PublicKeyError::UnsupportedAlgorithm(ObjectIdentifier::new_unwrap("1.3.101.112"))
        );
        assert!(err.to_string().contains("1.3.101.112"));
    }
}
