//! The shared, I/O-free vocabulary of proofmark's signing side.
//!
//! Everything here works on bytes and strings in memory: no files, network, processes or
//! environment variables. (Key generation and RSA blinding draw from the operating system's
//! random number generator, which we do not count as I/O.)
//!
//! * [`KeyRef`]: where a key lives — `file:PATH`, `tpm:PATH`, `tpm:0x81000001`,
//!   `parsec://NAME?provider=tpm`.
//! * [`HashAlgorithm`], [`Digest`], and [`SignatureAlgorithm`] with sigstore's algorithm names
//!   (`ecdsa-sha2-256-nistp256`, `rsa-sign-pss-3072-sha256`, …).
//! * [`PublicKey`] (DER `SubjectPublicKeyInfo`, PEM, SHA-256 fingerprint) and [`Signature`]
//!   (DER or raw `r || s` ECDSA, raw RSA).
//! * The [`Signer`] trait every backend implements, and [`SoftwareSigner`], an in-memory
//!   implementation on RustCrypto.
//! * [`verify`] and [`verify_message`]; [`PreparedVerifier`] for many signatures by one key.
//! * [`civil`]: UTC calendar dates and RFC 3339 timestamps from Unix time (the caller reads the
//!   clock).
//!
//! ```
//! use proofmark_types::{KeyRef, PublicKey, SignatureAlgorithm, Signer, SoftwareSigner, verify_message};
//!
//! let key_ref: KeyRef = "tpm:0x81000001".parse()?;
//! assert_eq!(key_ref.to_string(), "tpm:0x81000001");
//!
//! let signer = SoftwareSigner::generate(SignatureAlgorithm::EcdsaP256Sha256)?;
//! let signature = signer.sign(b"payload")?;
//!
//! // What a verifier gets: the PEM public key and the DER signature bytes.
//! let public_key = PublicKey::from_pem(signer.public_key().to_pem())?;
//! println!("key {}", public_key.fingerprint_sha256()); // sha256:…
//! verify_message(&public_key, SignatureAlgorithm::EcdsaP256Sha256, b"payload", &signature)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Security note
//!
//! RSA private-key operations use the `rsa` 0.9 crate, affected by RUSTSEC-2023-0071 (Marvin
//! timing side channel). See [`SoftwareSigner`] for why that is acceptable
//! here: software RSA signing is for tests and file keys; TPM and Parsec keys stay in hardware.
#![warn(missing_docs)]

mod algorithm;
pub mod civil;
mod digest;
mod keyref;
mod modinv;
mod prepared;
mod public_key;
mod serde_str;
mod signature;
mod signer;
mod software;
pub mod tpm_attest;
mod verify;

pub use crate::algorithm::{
    EcCurve, HashAlgorithm, KeyKind, RsaPadding, SignatureAlgorithm, UnknownHashAlgorithm,
    UnknownSignatureAlgorithm,
};
pub use crate::digest::{Digest, DigestError};
pub use crate::keyref::{
    KeyRef, KeyRefError, PERSISTENT_HANDLE_MAX, PERSISTENT_HANDLE_MIN, ParsecProvider,
    PersistentHandle, PersistentHandleError, ReservedRange, UnknownParsecProvider,
};
pub use crate::prepared::PreparedVerifier;
pub use crate::public_key::{Fingerprint, PUBLIC_KEY_PEM_LABEL, PublicKey, PublicKeyError};
pub use crate::signature::{Signature, SignatureError};
pub use crate::signer::{SignError, Signer};
pub use crate::software::{SoftwareKeyError, SoftwareSigner};
pub use crate::verify::{VerifyError, verify, verify_message};

/// Compiles and runs the README's example as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
