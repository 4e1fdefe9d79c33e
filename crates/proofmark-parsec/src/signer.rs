//! [`ParsecSigner`]: proofmark's [`Signer`] over a key held by the Parsec service.

use proofmark_types::{
    Digest, KeyRef, PublicKey, SignError, Signature, SignatureAlgorithm, Signer,
};

use crate::client::Parsec;
use crate::error::ParsecError;

/// A Parsec key as a [`Signer`]: `parsec://NAME[?provider=…]`.
///
/// The algorithm and public key are read from the service when the signer is opened; every
/// signature is then made by the service (`psa_sign_hash`) and converted to proofmark's wire
/// form (DER for ECDSA).
#[derive(Debug)]
pub struct ParsecSigner {
    parsec: Parsec,
    name: String,
    algorithm: SignatureAlgorithm,
    public_key: PublicKey,
}

impl ParsecSigner {
    /// Opens the existing key `name` through `parsec`.
    pub fn open(parsec: Parsec, name: &str) -> Result<Self, ParsecError> {
        let (algorithm, public_key) = parsec.describe(name)?;
        Ok(Self { parsec, name: name.to_owned(), algorithm, public_key })
    }

    /// Opens the key of a `parsec://` [`KeyRef`] at `endpoint` (`None`: the default socket).
    /// Returns `Ok(None)` when `key` is not a Parsec key.
    pub fn from_key_ref(
        key: &KeyRef,
        endpoint: Option<String>,
    ) -> Result<Option<Self>, ParsecError> {
        let KeyRef::Parsec { name, provider } = key else {
            return Ok(None);
        };
        let parsec = Parsec::connect(endpoint, *provider)?;
        Self::open(parsec, name).map(Some)
    }

    /// Like [`ParsecSigner::from_key_ref`], with the endpoint from `PARSEC_SERVICE_ENDPOINT`
    /// (else the default socket).
    pub fn from_key_ref_env(key: &KeyRef) -> Result<Option<Self>, ParsecError> {
        Self::from_key_ref(key, crate::endpoint_from_env())
    }

    /// Creates key `name` for `algorithm` and opens it.
    pub fn create(
        parsec: Parsec,
        name: &str,
        algorithm: SignatureAlgorithm,
    ) -> Result<Self, ParsecError> {
        let public_key = parsec.create_key(name, algorithm)?;
        Ok(Self { parsec, name: name.to_owned(), algorithm, public_key })
    }

    /// The key name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The connection, for other key operations.
    #[must_use]
    pub fn parsec(&self) -> &Parsec {
        &self.parsec
    }

    /// The key reference that names this key, `parsec://NAME?provider=P`.
    #[must_use]
    pub fn key_ref(&self) -> KeyRef {
        KeyRef::Parsec { name: self.name.clone(), provider: self.parsec.provider() }
    }

    /// Signs like [`Signer::sign_digest`], keeping the Parsec error for callers that want it.
    pub fn try_sign_digest(&self, digest: &Digest) -> Result<Signature, ParsecError> {
        self.parsec.sign_digest(&self.name, self.algorithm, digest)
    }
}

impl Signer for ParsecSigner {
    fn algorithm(&self) -> SignatureAlgorithm {
        self.algorithm
    }

    fn public_key(&self) -> &PublicKey {
        &self.public_key
    }

    fn sign_digest(&self, digest: &Digest) -> Result<Signature, SignError> {
        SignError::check_digest(self.algorithm, digest)?;
        self.try_sign_digest(digest).map_err(|e| SignError::backend("parsec", e))
    }
}
