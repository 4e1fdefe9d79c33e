//! Cosign-compatible container image signatures, with any [`proofmark_types::Signer`]
//! (software, TPM, …) and without a Go toolchain, Rekor or Fulcio.
//!
//! * [`bundle`], [`dsse`], [`statement`], [`referrers`]: cosign 3's format, the default: a
//!   DSSE-signed in-toto Statement in a Sigstore bundle, stored as an OCI 1.1 referrer
//!   (referrers API, or the `sha256-<hex>` tag schema index); [`attestation`]: the same for
//!   `attest`, and the verification of bundles.
//! * [`payload`]: cosign's simple-signing payload, byte-for-byte (the `.sig` format).
//! * [`manifest`]: the `sha256-<hex>.sig` signature manifest (one layer per signature).
//! * [`ImageStore`]: a repository's manifests and blobs — [`RegistryRepo`] (blocking HTTP
//!   client with token/basic auth) or [`OciLayout`] (a folder, for offline use).
//! * [`sign_image`], [`sign_many`]: sign and append safely (existing layers kept verbatim,
//!   read-back after a wait shared by the whole batch, retry).
//! * [`verify_image`]: verify with public keys, k-of-n thresholds, identity and annotation
//!   checks; [`VerifyReport::cosign_json`] prints what `cosign verify --output json` prints.
//! * [`keys`]: cosign's encrypted private key files; [`policy`]: containers-policy.json snippets.
//!
//! ```
//! use proofmark_cosign::{OciLayout, VerifyOptions, VerifyStatus, sign_image, verify_image, SignOptions};
//! use proofmark_types::{SignatureAlgorithm, Signer as _, SoftwareSigner};
//!
//! let dir = tempfile::tempdir()?;
//! let layout = OciLayout::open_or_create(dir.path())?;
//! // Any manifest will do for the example.
//! let manifest = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}"#;
//! use proofmark_cosign::ImageStore as _;
//! layout.put_manifest("v1", "application/vnd.oci.image.manifest.v1+json", manifest)?;
//!
//! let signer = SoftwareSigner::generate(SignatureAlgorithm::EcdsaP256Sha256)?;
//! sign_image(&layout, "v1", &layout, "example.com/app", &signer, &SignOptions::default())?;
//!
//! let opts = VerifyOptions::new(vec![signer.public_key().clone()], "example.com/app");
//! let report = verify_image(&layout, "v1", &layout, &opts)?;
//! assert_eq!(report.status, VerifyStatus::Verified);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(missing_docs)]

pub mod attestation;
pub mod bundle;
mod credentials;
pub mod digest;
pub mod dsse;
mod error;
pub mod keys;
pub mod manifest;
pub mod payload;
pub mod policy;
mod reference;
pub mod referrers;
mod registry;
mod sign;
pub mod statement;
mod store;
mod verify;

pub use crate::attestation::{StatementSpec, attest_image, predicate_type_for};
pub use crate::credentials::{Credential, DockerConfig};
pub use crate::error::{Error, Result};
pub use crate::keys::{
    KeyError, KeyPairFiles, decrypt_private_key, encrypt_private_key, generate_key_pair,
};
pub use crate::reference::{ImageRef, RegistryRef};
pub use crate::referrers::ReferrersMode;
pub use crate::registry::{RegistryClient, RegistryOptions, RegistryRepo};
pub use crate::sign::{
    SignOptions, SignTarget, SignatureFormat, Signed, append_layer, check_cosign_algorithm,
    sign_digest, sign_image, sign_many,
};
pub use crate::store::{ImageStore, OciLayout, REF_NAME, Upload};
pub use crate::verify::{
    IdentityMode, LayerResult, Rejection, VerifyOptions, VerifyReport, VerifyStatus,
    cosign_algorithm_for, verify_digest, verify_image,
};

/// Compiles the README's example as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
