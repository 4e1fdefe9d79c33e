//! The [`Signer`] trait that every backend (software, TPM, Parsec) implements.

use std::sync::Arc;

use crate::{Digest, HashAlgorithm, PublicKey, Signature, SignatureAlgorithm};

/// Why a signer could not sign.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignError {
    /// The digest was made with another hash than the algorithm's.
    #[error("{algorithm} signs {expected} digests, got a {got} digest")]
    DigestAlgorithmMismatch {
        /// The signer's algorithm.
        algorithm: SignatureAlgorithm,
        /// The hash that algorithm uses.
        expected: HashAlgorithm,
        /// The hash of the digest given.
        got: HashAlgorithm,
    },
    /// The backend produced bytes that are not a valid signature encoding (e.g. a TPM returned
    /// an out-of-range `r`).
    #[error("the {backend} backend returned a malformed signature")]
    MalformedSignature {
        /// Backend name, e.g. `tpm`.
        backend: &'static str,
        /// What is wrong with it.
        #[source]
        source: crate::SignatureError,
    },
    /// The backend (TPM, Parsec service, software library) failed.
    #[error("the {backend} signing backend failed")]
    Backend {
        /// Backend name: `software`, `tpm`, `parsec`, …
        backend: &'static str,
        /// The backend's own error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl SignError {
    /// Wraps a backend's error: `SignError::backend("tpm", err)`.
    pub fn backend(
        backend: &'static str,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self::Backend { backend, source: source.into() }
    }

    /// Checks that `digest` was made with `algorithm`'s hash; every [`Signer::sign_digest`]
    /// implementation should start with this.
    pub fn check_digest(algorithm: SignatureAlgorithm, digest: &Digest) -> Result<(), Self> {
        let expected = algorithm.hash();
        if digest.algorithm() == expected {
            Ok(())
        } else {
            Err(Self::DigestAlgorithmMismatch { algorithm, expected, got: digest.algorithm() })
        }
    }
}

/// Something that holds a private key and signs digests with it.
///
/// Blocking, and `Send + Sync` so one signer can serve several threads. Object-safe:
/// `Box<dyn Signer>` and `Arc<dyn Signer>` are signers too.
///
/// Implementations must reject a digest whose [`HashAlgorithm`] is not
/// `self.algorithm().hash()` with [`SignError::DigestAlgorithmMismatch`]
/// ([`SignError::check_digest`] does this).
pub trait Signer: Send + Sync {
    /// The algorithm this signer signs with.
    fn algorithm(&self) -> SignatureAlgorithm;

    /// The public half of the signing key.
    fn public_key(&self) -> &PublicKey;

    /// Signs a digest made with `self.algorithm().hash()`.
    fn sign_digest(&self, digest: &Digest) -> Result<Signature, SignError>;

    /// Hashes with the algorithm's hash, then signs the digest.
    fn sign(&self, message: &[u8]) -> Result<Signature, SignError> {
        self.sign_digest(&Digest::compute(self.algorithm().hash(), message))
    }
}

macro_rules! forward_signer {
    ($($ptr:ty),*) => {$(
        impl<T: Signer + ?Sized> Signer for $ptr {
            fn algorithm(&self) -> SignatureAlgorithm {
                (**self).algorithm()
            }
            fn public_key(&self) -> &PublicKey {
                (**self).public_key()
            }
            fn sign_digest(&self, digest: &Digest) -> Result<Signature, SignError> {
                (**self).sign_digest(digest)
            }
            fn sign(&self, message: &[u8]) -> Result<Signature, SignError> {
                (**self).sign(message)
            }
        }
    )*};
}

forward_signer!(&T, Box<T>, Arc<T>);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_errors_keep_their_source() {
        let io = std::io::Error::other("TPM_RC_SIZE");
        let err = SignError::backend("tpm", io);
        assert_eq!(err.to_string(), "the tpm signing backend failed");
        let source = std::error::Error::source(&err).unwrap();
        assert_eq!(source.to_string(), "TPM_RC_SIZE");
        let err = SignError::backend("parsec", "service not running");
        assert!(std::error::Error::source(&err).is_some());
    }

    #[test]
    fn digest_check() {
        let d = Digest::compute(HashAlgorithm::Sha384, b"x");
        let err = SignError::check_digest(SignatureAlgorithm::EcdsaP256Sha256, &d).unwrap_err();
        assert_eq!(
            err.to_string(),
            "ecdsa-sha2-256-nistp256 signs sha256 digests, got a sha384 digest"
        );
        assert!(SignError::check_digest(SignatureAlgorithm::EcdsaP384Sha384, &d).is_ok());
    }

    fn assert_object_safe(_: &dyn Signer) {}
    #[allow(dead_code)]
    fn assert_send_sync<T: Send + Sync>() {}
    #[test]
    fn trait_objects_compile() {
        let _ = assert_object_safe;
        assert_send_sync::<Box<dyn Signer>>();
        assert_send_sync::<Arc<dyn Signer>>();
        assert_send_sync::<SignError>();
    }
}
