//! Parsec signing backend for proofmark.
//!
//! [Parsec](https://parallaxsecond.github.io/parsec-book/) is a service that holds keys in a
//! TPM, a PKCS#11 token or software (Mbed Crypto) and signs with them for its clients over a
//! Unix socket. This crate makes its keys usable wherever proofmark takes a [`Signer`]:
//!
//! - [`Parsec`] connects to the service (endpoint from a parameter, or
//!   `PARSEC_SERVICE_ENDPOINT` with [`Parsec::connect_from_env`], else the default socket) and
//!   creates, lists, describes and deletes ECDSA P-256/P-384 and RSA 2048/3072 signing keys.
//! - [`ParsecSigner`] signs digests with one key, for `parsec://NAME[?provider=tpm|mbed-crypto|pkcs11]`
//!   key references; signatures come back in proofmark's wire form (DER for ECDSA).
//! - [`ParsecError`] names the endpoint and says what to do (start the service, fix socket
//!   permissions, create the key, pick another provider, match the authenticator).
//! - [`kms`] speaks sigstore's KMS CLI-plugin protocol for any [`Signer`] backend; the
//!   `sigstore-kms-parsec` binary built from it lets cosign sign with
//!   `--key parsec://NAME[?provider=…]`.
//!
//! The service identifies clients by their Unix uid (or a Direct application name, here
//! `proofmark`), and keys belong to one provider and one client.
//!
//! [`Signer`]: proofmark_types::Signer

#![warn(missing_docs)]

mod client;
mod error;
mod signer;

pub mod kms;

pub use crate::client::{DEFAULT_ENDPOINT, ENDPOINT_VAR, KeyEntry, Parsec, endpoint_from_env};
pub use crate::error::ParsecError;
pub use crate::signer::ParsecSigner;

/// The README's examples, compiled (and, unless marked `no_run`, run) as doctests; not API.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
