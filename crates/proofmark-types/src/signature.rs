//! [`Signature`]: signature bytes tagged with their [`SignatureAlgorithm`].

use std::fmt;

use crate::{EcCurve, SignatureAlgorithm};

/// Why bytes are not a valid signature for an algorithm.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// An ECDSA-only operation on an RSA algorithm.
    #[error("{0} is not an ECDSA algorithm")]
    NotEcdsa(SignatureAlgorithm),
    /// An RSA-only operation on an ECDSA algorithm.
    #[error("{0} is not an RSA algorithm")]
    NotRsa(SignatureAlgorithm),
    /// The input has the wrong length (raw `r || s`, or an RSA signature).
    #[error("a {what} for {algorithm} is {expected} bytes long, got {got}")]
    WrongLength {
        /// What was expected, e.g. `raw r || s signature`.
        what: &'static str,
        /// The algorithm.
        algorithm: SignatureAlgorithm,
        /// The expected length.
        expected: usize,
        /// The length given.
        got: usize,
    },
    /// Not a DER `SEQUENCE { INTEGER r, INTEGER s }` with `r` and `s` in `1..n`.
    #[error("not a valid DER ECDSA signature for {0}")]
    InvalidDer(SignatureAlgorithm),
    /// Valid BER but not the unique DER encoding (e.g. non-minimal integers).
    #[error("ECDSA signature for {0} is not canonical DER")]
    NonCanonicalDer(SignatureAlgorithm),
    /// `r` or `s` is longer than the field size even after dropping leading zero bytes.
    #[error(
        "ECDSA scalar {which} is {len} bytes long (leading zeros removed); {curve} scalars are at most {max} bytes"
    )]
    ScalarTooLong {
        /// `r` or `s`.
        which: &'static str,
        /// The curve.
        curve: EcCurve,
        /// Length without leading zeros.
        len: usize,
        /// Field size.
        max: usize,
    },
    /// `r` or `s` is zero or not below the group order.
    #[error("ECDSA r or s is out of range 1..n for {0}")]
    ScalarOutOfRange(SignatureAlgorithm),
}

/// A parsed ECDSA signature.
pub(crate) enum EcSig {
    P256(p256::ecdsa::Signature),
    P384(p384::ecdsa::Signature),
}

impl EcSig {
    fn from_der(algorithm: SignatureAlgorithm, der: &[u8]) -> Result<Self, SignatureError> {
        let bad = || SignatureError::InvalidDer(algorithm);
        match algorithm.ec_curve() {
            Some(EcCurve::P256) => {
                p256::ecdsa::Signature::from_der(der).map(Self::P256).map_err(|_| bad())
            }
            Some(EcCurve::P384) => {
                p384::ecdsa::Signature::from_der(der).map(Self::P384).map_err(|_| bad())
            }
            None => Err(SignatureError::NotEcdsa(algorithm)),
        }
    }

    /// Fixed-size `r || s`, with `r` and `s` validated to be in `1..n`.
    fn from_raw(algorithm: SignatureAlgorithm, raw: &[u8]) -> Result<Self, SignatureError> {
        let bad = || SignatureError::ScalarOutOfRange(algorithm);
        match algorithm.ec_curve() {
            Some(EcCurve::P256) => {
                p256::ecdsa::Signature::from_slice(raw).map(Self::P256).map_err(|_| bad())
            }
            Some(EcCurve::P384) => {
                p384::ecdsa::Signature::from_slice(raw).map(Self::P384).map_err(|_| bad())
            }
            None => Err(SignatureError::NotEcdsa(algorithm)),
        }
    }

    fn to_der(&self) -> Vec<u8> {
        match self {
            Self::P256(sig) => sig.to_der().as_bytes().to_vec(),
            Self::P384(sig) => sig.to_der().as_bytes().to_vec(),
        }
    }

    fn to_raw(&self) -> Vec<u8> {
        match self {
            Self::P256(sig) => sig.to_vec(),
            Self::P384(sig) => sig.to_vec(),
        }
    }

    /// The low-S form, or `None` if already low-S.
    fn normalize_s(&self) -> Option<Self> {
        match self {
            Self::P256(sig) => sig.normalize_s().map(Self::P256),
            Self::P384(sig) => sig.normalize_s().map(Self::P384),
        }
    }
}

/// A signature and the algorithm that made it.
///
/// # Encodings
///
/// * ECDSA signatures are stored as ASN.1 DER `SEQUENCE { INTEGER r, INTEGER s }` (what cosign,
///   OpenSSL and Go expect). [`Signature::from_raw_rs`] and [`Signature::from_scalars`] accept the
///   fixed-size `r || s` form (PSA/Parsec, PKCS#11, JOSE) and the separate `r`, `s` values of a
///   TPM; [`Signature::to_raw_rs`] converts back, left-padding each scalar to the field size.
/// * RSA signatures (PKCS#1 v1.5 and PSS) are the raw signature, exactly as long as the modulus.
///
/// # High and low S
///
/// For an ECDSA signature `(r, s)`, `(r, n - s)` is equally valid. Some ecosystems (Bitcoin) insist
/// on the "low-S" form `s <= n/2`; TPMs do not produce it (about half their signatures are
/// high-S), and cosign/Go, OpenSSL and our [`verify`](crate::verify()) accept both.
/// [`Signature::normalize_low_s`] converts when a consumer requires low-S.
///
/// Construction validates the encoding: ECDSA signatures must be canonical DER with `r` and `s`
/// in `1..n`; RSA signatures must be as long as the algorithm's modulus. Whether the signature is
/// *correct* is for [`verify`](crate::verify()) to say.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Signature {
    algorithm: SignatureAlgorithm,
    bytes: Vec<u8>,
}

fn strip_leading_zeros(mut bytes: &[u8]) -> &[u8] {
    while let [0, rest @ ..] = bytes {
        bytes = rest;
    }
    bytes
}

impl Signature {
    /// Takes a signature in its wire form for `algorithm`: DER for ECDSA ([`Self::from_der`]),
    /// the raw signature for RSA ([`Self::from_rsa`]).
    pub fn new(algorithm: SignatureAlgorithm, bytes: &[u8]) -> Result<Self, SignatureError> {
        if algorithm.is_ecdsa() {
            Self::from_der(algorithm, bytes)
        } else {
            Self::from_rsa(algorithm, bytes)
        }
    }

    /// Parses a DER ECDSA signature. Rejects non-canonical encodings, as OpenSSL does.
    pub fn from_der(algorithm: SignatureAlgorithm, der: &[u8]) -> Result<Self, SignatureError> {
        let sig = EcSig::from_der(algorithm, der)?;
        let canonical = sig.to_der();
        if canonical != der {
            return Err(SignatureError::NonCanonicalDer(algorithm));
        }
        Ok(Self { algorithm, bytes: canonical })
    }

    /// Takes a raw RSA signature (PKCS#1 v1.5 or PSS), which must be exactly as long as the
    /// algorithm's modulus (256 bytes for 2048-bit keys, 384 for 3072-bit keys).
    pub fn from_rsa(algorithm: SignatureAlgorithm, bytes: &[u8]) -> Result<Self, SignatureError> {
        let crate::KeyKind::Rsa { bits } = algorithm.key_kind() else {
            return Err(SignatureError::NotRsa(algorithm));
        };
        let expected = bits as usize / 8;
        if bytes.len() != expected {
            return Err(SignatureError::WrongLength {
                what: "RSA signature",
                algorithm,
                expected,
                got: bytes.len(),
            });
        }
        Ok(Self { algorithm, bytes: bytes.to_vec() })
    }

    /// Parses the fixed-size `r || s` form: exactly twice the field size (64 bytes for P-256,
    /// 96 for P-384), big-endian.
    pub fn from_raw_rs(algorithm: SignatureAlgorithm, raw: &[u8]) -> Result<Self, SignatureError> {
        let curve = algorithm.ec_curve().ok_or(SignatureError::NotEcdsa(algorithm))?;
        let n = curve.field_size();
        if raw.len() != 2 * n {
            return Err(SignatureError::WrongLength {
                what: "raw r || s signature",
                algorithm,
                expected: 2 * n,
                got: raw.len(),
            });
        }
        let sig = EcSig::from_raw(algorithm, raw)?;
        Ok(Self { algorithm, bytes: sig.to_der() })
    }

    /// Builds an ECDSA signature from big-endian `r` and `s` of any length up to the field size.
    ///
    /// Shorter values are left-padded with zeros (TPMs and some libraries strip leading zero
    /// bytes); longer values are accepted only if the extra leading bytes are zeros (as in a DER
    /// `INTEGER` with its sign byte).
    pub fn from_scalars<'a>(
        algorithm: SignatureAlgorithm,
        r: &'a [u8],
        s: &'a [u8],
    ) -> Result<Self, SignatureError> {
        let curve = algorithm.ec_curve().ok_or(SignatureError::NotEcdsa(algorithm))?;
        let n = curve.field_size();
        let pad = |which: &'static str, v: &'a [u8]| -> Result<&'a [u8], SignatureError> {
            let v = strip_leading_zeros(v);
            if v.len() > n {
                return Err(SignatureError::ScalarTooLong { which, curve, len: v.len(), max: n });
            }
            Ok(v)
        };
        let (r, s) = (pad("r", r)?, pad("s", s)?);
        let mut raw = vec![0u8; 2 * n];
        raw[n - r.len()..n].copy_from_slice(r);
        raw[2 * n - s.len()..].copy_from_slice(s);
        let sig = EcSig::from_raw(algorithm, &raw)?;
        Ok(Self { algorithm, bytes: sig.to_der() })
    }

    /// The algorithm.
    #[must_use]
    pub const fn algorithm(&self) -> SignatureAlgorithm {
        self.algorithm
    }

    /// The wire form: DER for ECDSA, the raw signature for RSA.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The wire form, owned.
    #[must_use]
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// The fixed-size `r || s` form of an ECDSA signature, each scalar left-padded to the field
    /// size.
    pub fn to_raw_rs(&self) -> Result<Vec<u8>, SignatureError> {
        Ok(self.ec()?.to_raw())
    }

    /// `r` and `s`, each left-padded to the field size.
    pub fn scalars(&self) -> Result<(Vec<u8>, Vec<u8>), SignatureError> {
        let mut raw = self.to_raw_rs()?;
        let s = raw.split_off(raw.len() / 2);
        Ok((raw, s))
    }

    /// Whether this is an ECDSA signature with `s > n/2`. Always `false` for RSA.
    #[must_use]
    pub fn is_high_s(&self) -> bool {
        self.ec().is_ok_and(|sig| sig.normalize_s().is_some())
    }

    /// The low-S form of an ECDSA signature (`s` replaced by `n - s` when `s > n/2`); equally
    /// valid, and accepted by verifiers that insist on low-S. RSA signatures and low-S ECDSA
    /// signatures are returned unchanged.
    #[must_use]
    pub fn normalize_low_s(&self) -> Self {
        match self.ec().ok().and_then(|sig| sig.normalize_s()) {
            Some(low) => Self { algorithm: self.algorithm, bytes: low.to_der() },
            None => self.clone(),
        }
    }

    /// Wraps DER that a RustCrypto signer just produced (canonical by construction), skipping
    /// the parse-and-re-encode check of [`Self::from_der`].
    pub(crate) fn from_trusted_ecdsa_der(algorithm: SignatureAlgorithm, der: &[u8]) -> Self {
        debug_assert!(Self::from_der(algorithm, der).is_ok());
        Self { algorithm, bytes: der.to_vec() }
    }

    /// The parsed ECDSA signature. The stored DER was validated on construction.
    pub(crate) fn ec(&self) -> Result<EcSig, SignatureError> {
        EcSig::from_der(self.algorithm, &self.bytes)
    }
}

impl AsRef<[u8]> for Signature {
    fn as_ref(&self) -> &[u8] {
        &self.bytes
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signature")
            .field("algorithm", &self.algorithm)
            .field("bytes", &hex::encode(&self.bytes))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use SignatureAlgorithm as A;

    #[test]
    fn short_scalars_are_padded() {
        let sig = Signature::from_scalars(A::EcdsaP256Sha256, &[1], &[0, 0, 2]).unwrap();
        let raw = sig.to_raw_rs().unwrap();
        assert_eq!(raw.len(), 64);
        assert_eq!(raw[31], 1);
        assert_eq!(raw[63], 2);
        assert!(raw[..31].iter().chain(&raw[32..63]).all(|&b| b == 0));
        // DER: SEQUENCE { INTEGER 1, INTEGER 2 }.
        assert_eq!(sig.as_bytes(), [0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x02]);
        assert_eq!(Signature::from_raw_rs(A::EcdsaP256Sha256, &raw).unwrap(), sig);
        let (r, s) = sig.scalars().unwrap();
        assert_eq!((r.len(), s.len()), (32, 32));
    }

    #[test]
    fn encodings_are_validated() {
        assert_eq!(
            Signature::from_raw_rs(A::EcdsaP384Sha384, &[1; 64]),
            Err(SignatureError::WrongLength {
                what: "raw r || s signature",
                algorithm: A::EcdsaP384Sha384,
                expected: 96,
                got: 64
            })
        );
        assert_eq!(
            Signature::from_scalars(A::EcdsaP256Sha256, &[0; 32], &[1]),
            Err(SignatureError::ScalarOutOfRange(A::EcdsaP256Sha256))
        );
        assert_eq!(
            Signature::from_scalars(A::EcdsaP256Sha256, &[0xff; 32], &[1]),
            Err(SignatureError::ScalarOutOfRange(A::EcdsaP256Sha256)),
            "r >= n"
        );
        assert!(matches!(
            Signature::from_scalars(A::EcdsaP256Sha256, &[1; 33], &[1]),
            Err(SignatureError::ScalarTooLong { which: "r", len: 33, max: 32, .. })
        ));
        let mut with_sign_byte = vec![0u8];
        with_sign_byte.extend([0x80; 32]);
        assert!(Signature::from_scalars(A::EcdsaP256Sha256, &with_sign_byte, &[1]).is_ok());
        assert_eq!(
            Signature::from_der(A::EcdsaP256Sha256, b"\x30\x00"),
            Err(SignatureError::InvalidDer(A::EcdsaP256Sha256))
        );
        // INTEGER 1 with a needless leading zero: BER, not DER. Rejected either by the DER
        // decoder or by our canonical re-encoding check.
        assert!(matches!(
            Signature::from_der(A::EcdsaP256Sha256, &[0x30, 0x07, 0x02, 0x02, 0, 1, 0x02, 0x01, 2]),
            Err(SignatureError::InvalidDer(_) | SignatureError::NonCanonicalDer(_))
        ));
        assert_eq!(
            Signature::from_der(A::RsaPss2048Sha256, &[]),
            Err(SignatureError::NotEcdsa(A::RsaPss2048Sha256))
        );
        assert!(matches!(
            Signature::new(A::RsaPkcs1v15_3072Sha256, &[0; 256]),
            Err(SignatureError::WrongLength { expected: 384, got: 256, .. })
        ));
        assert!(Signature::new(A::RsaPkcs1v15_3072Sha256, &[0; 384]).is_ok());
        assert_eq!(
            Signature::from_rsa(A::EcdsaP256Sha256, &[0; 256]),
            Err(SignatureError::NotRsa(A::EcdsaP256Sha256))
        );
        let rsa = Signature::new(A::RsaPss2048Sha256, &[7; 256]).unwrap();
        assert_eq!(rsa.to_raw_rs(), Err(SignatureError::NotEcdsa(A::RsaPss2048Sha256)));
        assert!(!rsa.is_high_s());
        assert_eq!(rsa.normalize_low_s(), rsa);
    }
}
