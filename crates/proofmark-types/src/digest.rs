//! [`Digest`]: a hash value that knows which hash produced it.

use std::fmt;
use std::str::FromStr;

use sha2::Digest as _;

use crate::HashAlgorithm;

/// The largest supported digest (SHA-512).
const MAX_DIGEST: usize = 64;

/// A hash value tagged with its [`HashAlgorithm`]; its length always matches the algorithm.
///
/// `Display` gives the OCI-style `sha256:<lowercase hex>`, which `FromStr` parses back.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Digest {
    algorithm: HashAlgorithm,
    bytes: [u8; MAX_DIGEST],
}

/// Errors from building or parsing a [`Digest`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DigestError {
    /// The byte string does not have the algorithm's output size.
    #[error("a {algorithm} digest is {expected} bytes long, got {got}")]
    WrongLength {
        /// The algorithm the digest was declared with.
        algorithm: HashAlgorithm,
        /// Its output size.
        expected: usize,
        /// The length given.
        got: usize,
    },
    /// The string form has no `ALGORITHM:` prefix.
    #[error("digest `{0}` has no algorithm prefix; expected ALGORITHM:HEX such as sha256:…")]
    MissingAlgorithm(String),
    /// The prefix names an unknown hash.
    #[error(transparent)]
    UnknownAlgorithm(#[from] crate::algorithm::UnknownHashAlgorithm),
    /// The hex part is not lowercase hexadecimal.
    #[error("digest hex `{0}` is not lowercase hexadecimal")]
    BadHex(String),
}

impl Digest {
    /// Wraps an existing hash value, checking that its length matches `algorithm`.
    pub fn new(algorithm: HashAlgorithm, bytes: &[u8]) -> Result<Self, DigestError> {
        let expected = algorithm.output_size();
        if bytes.len() != expected {
            return Err(DigestError::WrongLength { algorithm, expected, got: bytes.len() });
        }
        let mut buf = [0u8; MAX_DIGEST];
        buf[..expected].copy_from_slice(bytes);
        Ok(Self { algorithm, bytes: buf })
    }

    /// Hashes `data` with `algorithm`.
    #[must_use]
    pub fn compute(algorithm: HashAlgorithm, data: &[u8]) -> Self {
        let mut buf = [0u8; MAX_DIGEST];
        match algorithm {
            HashAlgorithm::Sha256 => buf[..32].copy_from_slice(&sha2::Sha256::digest(data)),
            HashAlgorithm::Sha384 => buf[..48].copy_from_slice(&sha2::Sha384::digest(data)),
            HashAlgorithm::Sha512 => buf.copy_from_slice(&sha2::Sha512::digest(data)),
        }
        Self { algorithm, bytes: buf }
    }

    /// The hash that produced this digest.
    #[must_use]
    pub const fn algorithm(&self) -> HashAlgorithm {
        self.algorithm
    }

    /// The hash value, exactly [`HashAlgorithm::output_size`] bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.algorithm.output_size()]
    }

    /// The hash value as lowercase hex, without prefix.
    #[must_use]
    pub fn to_hex(&self) -> String {
        hex::encode(self.as_bytes())
    }
}

impl AsRef<[u8]> for Digest {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm, self.to_hex())
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({self})")
    }
}

impl FromStr for Digest {
    type Err = DigestError;

    /// Parses `ALGORITHM:HEX` (e.g. `sha256:e3b0…`), lowercase hex only as in OCI digests.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (alg, hex_part) =
            s.split_once(':').ok_or_else(|| DigestError::MissingAlgorithm(s.to_owned()))?;
        let algorithm: HashAlgorithm = alg.parse()?;
        if !hex_part.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            || hex_part.len() % 2 != 0
        {
            return Err(DigestError::BadHex(hex_part.to_owned()));
        }
        let bytes = hex::decode(hex_part).map_err(|_| DigestError::BadHex(hex_part.to_owned()))?;
        Self::new(algorithm, &bytes)
    }
}

crate::serde_str::impl_serde_via_str!(Digest, "a digest such as `sha256:<64 hex digits>`");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answers() {
        let d = Digest::compute(HashAlgorithm::Sha256, b"");
        assert_eq!(
            d.to_string(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let d = Digest::compute(HashAlgorithm::Sha384, b"abc");
        assert_eq!(d.as_bytes().len(), 48);
        assert!(d.to_hex().starts_with("cb00753f45a35e8b"));
        let d = Digest::compute(HashAlgorithm::Sha512, b"abc");
        assert!(d.to_hex().starts_with("ddaf35a193617aba"));
    }

    #[test]
    fn length_is_checked() {
        assert_eq!(
            Digest::new(HashAlgorithm::Sha384, &[0; 32]),
            Err(DigestError::WrongLength {
                algorithm: HashAlgorithm::Sha384,
                expected: 48,
                got: 32
            })
        );
        let err = Digest::new(HashAlgorithm::Sha256, &[0; 31]).unwrap_err().to_string();
        assert_eq!(err, "a sha256 digest is 32 bytes long, got 31");
    }

    #[test]
    fn string_form_round_trips_and_rejects_garbage() {
        for alg in HashAlgorithm::ALL {
            let d = Digest::compute(alg, b"x");
            assert_eq!(d.to_string().parse::<Digest>(), Ok(d));
        }
        assert!(matches!("abc".parse::<Digest>(), Err(DigestError::MissingAlgorithm(_))));
        assert!(matches!("md5:00".parse::<Digest>(), Err(DigestError::UnknownAlgorithm(_))));
        assert!(matches!("sha256:XY".parse::<Digest>(), Err(DigestError::BadHex(_))));
        assert!(matches!("sha256:00".parse::<Digest>(), Err(DigestError::WrongLength { .. })));
    }
}
