//! Hash and signature algorithm identifiers, and the key kinds they need.

use std::fmt;
use std::str::FromStr;

/// A hash function from the SHA-2 family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum HashAlgorithm {
    /// SHA-256, 32-byte output.
    Sha256,
    /// SHA-384, 48-byte output.
    Sha384,
    /// SHA-512, 64-byte output.
    Sha512,
}

impl HashAlgorithm {
    /// Every supported hash algorithm.
    pub const ALL: [HashAlgorithm; 3] = [Self::Sha256, Self::Sha384, Self::Sha512];

    /// Output size in bytes.
    #[must_use]
    pub const fn output_size(self) -> usize {
        match self {
            Self::Sha256 => 32,
            Self::Sha384 => 48,
            Self::Sha512 => 64,
        }
    }

    /// The short name used by OCI digests and OpenSSL (`sha256`, `sha384`, `sha512`); this is the
    /// [`Display`](fmt::Display) form.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Sha256 => "sha256",
            Self::Sha384 => "sha384",
            Self::Sha512 => "sha512",
        }
    }

    /// The name in sigstore's algorithm registry (`sha2-256`, `sha2-384`, `sha2-512`).
    #[must_use]
    pub const fn registry_name(self) -> &'static str {
        match self {
            Self::Sha256 => "sha2-256",
            Self::Sha384 => "sha2-384",
            Self::Sha512 => "sha2-512",
        }
    }
}

impl fmt::Display for HashAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Error returned when parsing an unknown [`HashAlgorithm`] name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown hash algorithm `{0}`; expected one of sha256, sha384, sha512 (or sha2-256, sha2-384, sha2-512)"
)]
pub struct UnknownHashAlgorithm(pub String);

impl FromStr for HashAlgorithm {
    type Err = UnknownHashAlgorithm;

    /// Accepts the short names (`sha256`) and the sigstore registry names (`sha2-256`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|h| h.name() == s || h.registry_name() == s)
            .ok_or_else(|| UnknownHashAlgorithm(s.to_owned()))
    }
}

/// A NIST elliptic curve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum EcCurve {
    /// NIST P-256 (secp256r1, prime256v1).
    P256,
    /// NIST P-384 (secp384r1).
    P384,
}

impl EcCurve {
    /// Size in bytes of a field element and of a scalar (32 for P-256, 48 for P-384); each of
    /// an ECDSA signature's `r` and `s` takes this many bytes in the raw `r || s` form.
    #[must_use]
    pub const fn field_size(self) -> usize {
        match self {
            Self::P256 => 32,
            Self::P384 => 48,
        }
    }

    /// The NIST name, `P-256` or `P-384`.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::P256 => "P-256",
            Self::P384 => "P-384",
        }
    }
}

impl fmt::Display for EcCurve {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The kind of a key pair: which curve, or which RSA modulus size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum KeyKind {
    /// An elliptic-curve key.
    Ec(EcCurve),
    /// An RSA key whose modulus has `bits` significant bits.
    Rsa {
        /// Modulus size in bits.
        bits: u32,
    },
}

impl fmt::Display for KeyKind {
    /// `EC P-256`, `EC P-384`, `RSA 2048`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ec(curve) => write!(f, "EC {curve}"),
            Self::Rsa { bits } => write!(f, "RSA {bits}"),
        }
    }
}

/// The padding of an RSA signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RsaPadding {
    /// RSASSA-PKCS1-v1_5 (RFC 8017 §8.2).
    Pkcs1v15,
    /// RSASSA-PSS (RFC 8017 §8.1) with MGF1 over the same hash.
    Pss,
}

/// A signature scheme: key kind, padding and hash.
///
/// [`SignatureAlgorithm`] uses the names of sigstore's algorithm registry, the same strings that
/// cosign's `--signing-algorithm` flag and its KMS plugins use:
///
/// | variant | registry name | sigstore `PublicKeyDetails` |
/// | --- | --- | --- |
/// | [`EcdsaP256Sha256`](SignatureAlgorithm::EcdsaP256Sha256) | `ecdsa-sha2-256-nistp256` | `PKIX_ECDSA_P256_SHA_256` |
/// | [`EcdsaP384Sha384`](SignatureAlgorithm::EcdsaP384Sha384) | `ecdsa-sha2-384-nistp384` | `PKIX_ECDSA_P384_SHA_384` |
/// | [`RsaPkcs1v15_2048Sha256`](SignatureAlgorithm::RsaPkcs1v15_2048Sha256) | `rsa-sign-pkcs1-2048-sha256` | `PKIX_RSA_PKCS1V15_2048_SHA256` |
/// | [`RsaPkcs1v15_3072Sha256`](SignatureAlgorithm::RsaPkcs1v15_3072Sha256) | `rsa-sign-pkcs1-3072-sha256` | `PKIX_RSA_PKCS1V15_3072_SHA256` |
/// | [`RsaPss2048Sha256`](SignatureAlgorithm::RsaPss2048Sha256) | `rsa-sign-pss-2048-sha256` | `PKIX_RSA_PSS_2048_SHA256` |
/// | [`RsaPss3072Sha256`](SignatureAlgorithm::RsaPss3072Sha256) | `rsa-sign-pss-3072-sha256` | `PKIX_RSA_PSS_3072_SHA256` |
///
/// Sources: `docs/algorithm-registry.md` in `sigstore/architecture-docs` (the registry itself) and
/// the `supportedAlgorithms` table of `pkg/signature/algorithm_registry.go` in `sigstore/sigstore`
/// (commit 104a174f96f4af180565722f958deae4b8e2ac6b), which maps each `PublicKeyDetails` value to
/// its flag string. (That Go table spells the 4096-bit PSS flag `rsa-sign-pss-4092-sha256`, a typo
/// against the registry's `rsa-sign-pss-4096-sha256`; we do not support 4096-bit keys yet.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum SignatureAlgorithm {
    /// ECDSA over P-256 with SHA-256: `ecdsa-sha2-256-nistp256`.
    EcdsaP256Sha256,
    /// ECDSA over P-384 with SHA-384: `ecdsa-sha2-384-nistp384`.
    EcdsaP384Sha384,
    /// RSASSA-PKCS1-v1_5, 2048-bit key, SHA-256: `rsa-sign-pkcs1-2048-sha256`.
    RsaPkcs1v15_2048Sha256,
    /// RSASSA-PKCS1-v1_5, 3072-bit key, SHA-256: `rsa-sign-pkcs1-3072-sha256`.
    RsaPkcs1v15_3072Sha256,
    /// RSASSA-PSS, 2048-bit key, SHA-256 (MGF1-SHA-256): `rsa-sign-pss-2048-sha256`.
    RsaPss2048Sha256,
    /// RSASSA-PSS, 3072-bit key, SHA-256 (MGF1-SHA-256): `rsa-sign-pss-3072-sha256`.
    RsaPss3072Sha256,
}

impl SignatureAlgorithm {
    /// Every supported signature algorithm.
    pub const ALL: [SignatureAlgorithm; 6] = [
        Self::EcdsaP256Sha256,
        Self::EcdsaP384Sha384,
        Self::RsaPkcs1v15_2048Sha256,
        Self::RsaPkcs1v15_3072Sha256,
        Self::RsaPss2048Sha256,
        Self::RsaPss3072Sha256,
    ];

    /// The sigstore algorithm-registry name, e.g. `ecdsa-sha2-256-nistp256`; this is the
    /// [`Display`](fmt::Display) and [`FromStr`] form.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::EcdsaP256Sha256 => "ecdsa-sha2-256-nistp256",
            Self::EcdsaP384Sha384 => "ecdsa-sha2-384-nistp384",
            Self::RsaPkcs1v15_2048Sha256 => "rsa-sign-pkcs1-2048-sha256",
            Self::RsaPkcs1v15_3072Sha256 => "rsa-sign-pkcs1-3072-sha256",
            Self::RsaPss2048Sha256 => "rsa-sign-pss-2048-sha256",
            Self::RsaPss3072Sha256 => "rsa-sign-pss-3072-sha256",
        }
    }

    /// The name of the matching value of sigstore's `PublicKeyDetails` protobuf enum
    /// (`protos/sigstore_common.proto` in `sigstore/protobuf-specs`), e.g. `PKIX_ECDSA_P256_SHA_256`.
    #[must_use]
    pub const fn public_key_details(self) -> &'static str {
        match self {
            Self::EcdsaP256Sha256 => "PKIX_ECDSA_P256_SHA_256",
            Self::EcdsaP384Sha384 => "PKIX_ECDSA_P384_SHA_384",
            Self::RsaPkcs1v15_2048Sha256 => "PKIX_RSA_PKCS1V15_2048_SHA256",
            Self::RsaPkcs1v15_3072Sha256 => "PKIX_RSA_PKCS1V15_3072_SHA256",
            Self::RsaPss2048Sha256 => "PKIX_RSA_PSS_2048_SHA256",
            Self::RsaPss3072Sha256 => "PKIX_RSA_PSS_3072_SHA256",
        }
    }

    /// The hash the message is digested with before signing.
    #[must_use]
    pub const fn hash(self) -> HashAlgorithm {
        match self {
            Self::EcdsaP384Sha384 => HashAlgorithm::Sha384,
            Self::EcdsaP256Sha256
            | Self::RsaPkcs1v15_2048Sha256
            | Self::RsaPkcs1v15_3072Sha256
            | Self::RsaPss2048Sha256
            | Self::RsaPss3072Sha256 => HashAlgorithm::Sha256,
        }
    }

    /// The kind of key this algorithm signs with.
    #[must_use]
    pub const fn key_kind(self) -> KeyKind {
        match self {
            Self::EcdsaP256Sha256 => KeyKind::Ec(EcCurve::P256),
            Self::EcdsaP384Sha384 => KeyKind::Ec(EcCurve::P384),
            Self::RsaPkcs1v15_2048Sha256 | Self::RsaPss2048Sha256 => KeyKind::Rsa { bits: 2048 },
            Self::RsaPkcs1v15_3072Sha256 | Self::RsaPss3072Sha256 => KeyKind::Rsa { bits: 3072 },
        }
    }

    /// The curve, for ECDSA algorithms.
    #[must_use]
    pub const fn ec_curve(self) -> Option<EcCurve> {
        match self.key_kind() {
            KeyKind::Ec(curve) => Some(curve),
            KeyKind::Rsa { .. } => None,
        }
    }

    /// The padding, for RSA algorithms.
    #[must_use]
    pub const fn rsa_padding(self) -> Option<RsaPadding> {
        match self {
            Self::EcdsaP256Sha256 | Self::EcdsaP384Sha384 => None,
            Self::RsaPkcs1v15_2048Sha256 | Self::RsaPkcs1v15_3072Sha256 => {
                Some(RsaPadding::Pkcs1v15)
            }
            Self::RsaPss2048Sha256 | Self::RsaPss3072Sha256 => Some(RsaPadding::Pss),
        }
    }

    /// Whether this is an ECDSA algorithm.
    #[must_use]
    pub const fn is_ecdsa(self) -> bool {
        self.ec_curve().is_some()
    }

    /// Whether this is an RSA algorithm.
    #[must_use]
    pub const fn is_rsa(self) -> bool {
        self.rsa_padding().is_some()
    }

    /// The RSA algorithm with this padding for a key of `bits` bits, if supported.
    #[must_use]
    pub fn rsa(padding: RsaPadding, bits: u32) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|a| a.rsa_padding() == Some(padding) && a.key_kind() == KeyKind::Rsa { bits })
    }

    /// The ECDSA algorithm for a curve (each curve is paired with its matching hash).
    #[must_use]
    pub const fn ecdsa(curve: EcCurve) -> Self {
        match curve {
            EcCurve::P256 => Self::EcdsaP256Sha256,
            EcCurve::P384 => Self::EcdsaP384Sha384,
        }
    }
}

impl fmt::Display for SignatureAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Error returned when parsing an unknown [`SignatureAlgorithm`] name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown signature algorithm `{0}`; expected one of ecdsa-sha2-256-nistp256, \
     ecdsa-sha2-384-nistp384, rsa-sign-pkcs1-2048-sha256, rsa-sign-pkcs1-3072-sha256, \
     rsa-sign-pss-2048-sha256, rsa-sign-pss-3072-sha256"
)]
pub struct UnknownSignatureAlgorithm(pub String);

impl FromStr for SignatureAlgorithm {
    type Err = UnknownSignatureAlgorithm;

    /// Parses a sigstore registry name (exact, case-sensitive, as cosign does).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|a| a.name() == s)
            .ok_or_else(|| UnknownSignatureAlgorithm(s.to_owned()))
    }
}

crate::serde_str::impl_serde_via_str!(HashAlgorithm, "a hash algorithm name such as `sha256`");
crate::serde_str::impl_serde_via_str!(
    SignatureAlgorithm,
    "a sigstore signature algorithm name such as `ecdsa-sha2-256-nistp256`"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for alg in SignatureAlgorithm::ALL {
            assert_eq!(alg.name().parse::<SignatureAlgorithm>(), Ok(alg));
            assert_eq!(alg.to_string(), alg.name());
        }
        for hash in HashAlgorithm::ALL {
            assert_eq!(hash.name().parse::<HashAlgorithm>(), Ok(hash));
            assert_eq!(hash.registry_name().parse::<HashAlgorithm>(), Ok(hash));
        }
    }

    #[test]
    fn unknown_names_list_the_known_ones() {
        let err = "ecdsa-p256".parse::<SignatureAlgorithm>().unwrap_err().to_string();
        assert!(err.contains("`ecdsa-p256`") && err.contains("rsa-sign-pss-3072-sha256"), "{err}");
        let err = "md5".parse::<HashAlgorithm>().unwrap_err().to_string();
        assert!(err.contains("sha384"), "{err}");
    }

    #[test]
    fn serde_uses_the_names() {
        let json = serde_json::to_string(&SignatureAlgorithm::RsaPss3072Sha256).unwrap();
        assert_eq!(json, r#""rsa-sign-pss-3072-sha256""#);
        assert_eq!(
            serde_json::from_str::<SignatureAlgorithm>(&json).unwrap(),
            SignatureAlgorithm::RsaPss3072Sha256
        );
        assert_eq!(serde_json::to_string(&HashAlgorithm::Sha384).unwrap(), r#""sha384""#);
        let err = serde_json::from_str::<SignatureAlgorithm>(r#""ES256""#).unwrap_err();
        assert!(err.to_string().contains("unknown signature algorithm `ES256`"), "{err}");
    }

    #[test]
    fn properties() {
        use SignatureAlgorithm as A;
        assert_eq!(A::EcdsaP384Sha384.hash(), HashAlgorithm::Sha384);
        assert_eq!(A::RsaPss3072Sha256.key_kind(), KeyKind::Rsa { bits: 3072 });
        assert_eq!(A::rsa(RsaPadding::Pss, 2048), Some(A::RsaPss2048Sha256));
        assert_eq!(A::rsa(RsaPadding::Pss, 4096), None);
        assert_eq!(A::ecdsa(EcCurve::P256), A::EcdsaP256Sha256);
        assert!(A::EcdsaP256Sha256.is_ecdsa() && !A::EcdsaP256Sha256.is_rsa());
        assert_eq!(KeyKind::Ec(EcCurve::P256).to_string(), "EC P-256");
        assert_eq!(KeyKind::Rsa { bits: 2048 }.to_string(), "RSA 2048");
    }
}
