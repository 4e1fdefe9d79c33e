//! TPM 2.0 signing core of proofmark, on tss-esapi 7.7 (the only proofmark crate that talks to a
//! TPM).
//!
//! - [`Tcti`] says which TPM to talk to (`device:`, `swtpm:`, `mssim:`, `tabrmd:`), from
//!   configuration or `TPM2TOOLS_TCTI`/`TCTI`; [`Tpm::info`] is the startup probe.
//! - Keys are children of a storage primary re-derived from the owner hierarchy
//!   ([`ParentTemplate`]); key files pin the parent's name.
//! - [`Tpm`] creates non-exportable signing keys ([`Tpm::create_key`]), imports keys made by
//!   `tpm2_create` ([`Tpm::import`]), and persists, lists and evicts them.
//! - [`KeyFile`] is our versioned key file; it can also write tpm2-tools `.pub`/`.priv` files.
//! - [`KeyFile`] also reads and writes TSS2 PRIVATE KEY files ([`KeyFileFormat::Tss2`],
//!   [`Tss2Key`]), the format of tpm2-openssl and tpm2-tss-engine.
//! - [`TpmSigner`] implements [`proofmark_types::Signer`]: one ESYS context behind a lock, the
//!   key kept loaded, every signature verified in software before it is returned.
//! - [`attest_key`] has the TPM certify a key with an attestation key under its endorsement key,
//!   and [`activate_credential`] answers a verifier's challenge for that attestation key; the
//!   verifier's side is [`proofmark_types::tpm_attest`] (no TPM needed).
//!
//! ```no_run
//! use proofmark_tpm::{KeyAuth, ParentTemplate, Tcti, Tpm, TpmSigner};
//! use proofmark_types::{SignatureAlgorithm, Signer as _};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let tcti = Tcti::from_env()?;
//! let mut tpm = Tpm::connect(&tcti)?;
//! let key = tpm.create_key(SignatureAlgorithm::EcdsaP256Sha256, ParentTemplate::EccP256, &KeyAuth::Random)?;
//! key.save("signing-key.json".as_ref())?;
//! drop(tpm); // frees the storage key's object slot (swtpm has 3)
//! let signer = TpmSigner::open(&tcti, key, None)?;
//! let signature = signer.sign(b"hello")?;
//! println!("{}", signer.public_key_pem());
//! # let _ = signature;
//! # Ok(())
//! # }
//! ```
#![cfg_attr(docsrs, feature(doc_auto_cfg))]
#![warn(missing_docs)]

mod attest;
mod auth;
mod error;
mod keyfile;
mod signer;
mod tcti;
mod template;
mod tpm;
mod tss2;

pub use crate::attest::{
    AkAlgorithm, AttestedKey, KeyAttestation, RSA_EK_CERTIFICATE_NV_INDEX, activate_credential,
    attest_key,
};
pub use crate::auth::{AuthValue, KeyAuth, MAX_AUTH_LEN};
pub use crate::error::{Result, TpmError, response_code};
pub use crate::keyfile::KeyFileFormat;
pub use crate::keyfile::{
    FORMAT as KEY_FILE_FORMAT, KeyFile, StoredAuth, VERSION as KEY_FILE_VERSION,
};
pub use crate::signer::{SessionKind, TpmSigner};
pub use crate::tcti::{DEFAULT_TCTI, TCTI_ENV_VARS, Tcti, TctiOrigin};
pub use crate::template::{ParentTemplate, algorithm_of, public_key, signing_key_public};
pub use crate::tpm::{Tpm, TpmInfo};
pub use crate::tss2::{OWNER as TSS2_OWNER_PARENT, Tss2Error, Tss2Key};

/// The tss-esapi version this crate is built on, re-exported for callers that need its types
/// (e.g. [`KeyFile::new`] takes its `Public` and `Private`).
pub use tss_esapi;

/// The README's examples, compiled (and, unless marked `no_run`, run) as doctests; not API.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
