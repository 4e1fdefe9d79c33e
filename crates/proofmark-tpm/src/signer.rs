//! [`TpmSigner`]: a [`Signer`] whose key lives in a TPM.
//!
//! A mutex guards the ESYS context and the loaded key: callers sign on their own thread, one at a
//! time, so the signer is `Send + Sync` and the TPM sees one command at a time. (An earlier design
//! handed each digest to a dedicated worker thread; the two thread wake-ups per signature cost
//! more than the whole software verification on a loaded machine. tss-esapi's `Context` is
//! `Send`, and ESYS only forbids concurrent use, which the mutex rules out.)
//! Each signature is checked in software against the key's public key before it is returned,
//! with a [`PreparedVerifier`] built at the second signature: its per-key tables make the check a
//! small fraction of a TPM signature's cost, but building them costs about ten plain checks, so
//! a one-shot signer (`sign-blob`, which opens a key and signs once) checks its first signature
//! without them. (A reconnect never changes the key: a key file pins
//! its public area, and a persistent handle must hold the same public area as at opening, or
//! [`TpmError::KeyChanged`].)
//!
//! When the TPM restarts or vanishes, the signer drops the connection and reconnects (re-deriving
//! the parent, checking its name, reloading the key); while the TPM is gone calls fail with
//! [`TpmError::ConnectionLost`] or [`TpmError::NoTpm`], never a panic.

use std::fmt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};

use proofmark_types::{
    Digest, KeyKind, KeyRef, PersistentHandle, PreparedVerifier, PublicKey, SignError, Signature,
    SignatureAlgorithm, Signer,
};
use tss_esapi::Context;
use tss_esapi::attributes::SessionAttributesBuilder;
use tss_esapi::constants::SessionType;
use tss_esapi::constants::tss::{TPM2_RH_NULL, TPM2_ST_HASHCHECK};
use tss_esapi::handles::KeyHandle;
use tss_esapi::interface_types::algorithm::HashingAlgorithm;
use tss_esapi::interface_types::session_handles::AuthSession;
use tss_esapi::structures::{HashcheckTicket, SignatureScheme, SymmetricDefinition};
use tss_esapi::tss2_esys::TPMT_TK_HASHCHECK;

use crate::auth::AuthValue;
use crate::error::{Result, TpmError, classify, is_retryable};
use crate::keyfile::KeyFile;
use crate::tcti::Tcti;
use crate::template::{self, ParentTemplate};
use crate::tpm::{self, open_context};

/// How the signer authorises its key for each signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum SessionKind {
    /// A password session: the key's auth value travels to the TPM in the clear. The fastest;
    /// fine for swtpm, a firmware TPM, or keys whose random auth value is stored on the same
    /// disk anyway.
    #[default]
    Password,
    /// An HMAC session salted with the key's parent (whose name the key file pins), with the
    /// digest sent encrypted (AES-128-CFB): the auth value never crosses the bus, which defeats
    /// sniffing and interposers on the LPC/SPI bus of a discrete TPM. Costs a few milliseconds
    /// of host CPU per signature (tss-esapi's session cryptography).
    SaltedHmac,
}

/// Starts an HMAC session salted with the storage primary for `parent`, with command-parameter
/// encryption. The primary is flushed again.
fn salted_session(ctx: &mut Context, tcti: &Tcti, parent: ParentTemplate) -> Result<AuthSession> {
    let (primary, _) = tpm::create_primary(ctx, tcti, parent)?;
    let started = ctx.start_auth_session(
        Some(primary),
        None,
        None,
        SessionType::Hmac,
        SymmetricDefinition::AES_128_CFB,
        HashingAlgorithm::Sha256,
    );
    tpm::flush(ctx, primary.into());
    let session = started
        .map_err(|e| classify("starting a salted session", tcti.as_str(), e))?
        .ok_or_else(|| TpmError::Unsupported("the TPM returned no session".to_owned()))?;
    // TPM2_Sign's first parameter (the digest) is a TPM2B and can be encrypted; its response
    // (a TPMT_SIGNATURE) cannot.
    let (attributes, mask) =
        SessionAttributesBuilder::new().with_continue_session(true).with_decrypt(true).build();
    ctx.tr_sess_set_attributes(session, attributes, mask)
        .map_err(|e| classify("configuring the salted session", tcti.as_str(), e))?;
    Ok(session)
}

/// How often a sign command is retried when the TPM answers "busy, try again".
const MAX_RETRIES: u32 = 5;
/// The pause before the first retry; it grows linearly.
const RETRY_PAUSE: std::time::Duration = std::time::Duration::from_millis(20);

/// Where the signer's key comes from.
#[derive(Debug, Clone)]
enum Source {
    File { key: KeyFile, auth: Option<AuthValue> },
    Persistent { handle: PersistentHandle, auth: Option<AuthValue> },
}

/// A TPM-backed [`Signer`].
///
/// The ESYS context and the loaded key sit behind a mutex: the signer is `Send + Sync`, signs on
/// the caller's thread, and the TPM sees one command at a time. Each signature is verified in
/// software against the public key (with a [`PreparedVerifier`]) before it is returned.
///
/// When the TPM restarts or vanishes, the signer drops the connection and reconnects
/// (re-deriving the parent, checking its name, reloading the key); a TPM that is gone gives
/// [`TpmError::ConnectionLost`] or [`TpmError::NoTpm`], never a panic.
///
/// A call that finds the connection lost or the TPM reset (its loaded key gone) reconnects and
/// retries once, so a TPM that has come back costs no error. If the TPM ever returns a signature that does not verify (for instance
/// because another key now sits at a persistent handle), the call fails with
/// [`TpmError::BadSignature`] and the next call reconnects and re-checks the key
/// ([`TpmError::KeyChanged`]).
pub struct TpmSigner {
    algorithm: SignatureAlgorithm,
    /// Checks every signature before it is returned.
    public_key: PublicKey,
    /// The prepared check, built at the second signature (see the module documentation).
    prepared: OnceLock<PreparedVerifier>,
    /// Whether a first signature was checked (without the prepared tables).
    checked_once: AtomicBool,
    tcti: Tcti,
    /// The connection; dropping it flushes the key.
    worker: Mutex<Worker>,
}

impl fmt::Debug for TpmSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TpmSigner")
            .field("algorithm", &self.algorithm)
            .field("tcti", &self.tcti.as_str())
            .field("public_key", &self.public_key.fingerprint_sha256().to_string())
            .finish_non_exhaustive()
    }
}

/// The connection and the loaded key, rebuilt after a failure.
struct Worker {
    tcti: Tcti,
    source: Source,
    scheme: SignatureScheme,
    ticket: HashcheckTicket,
    session_kind: SessionKind,
    loaded: Option<(Context, KeyHandle, AuthSession)>,
    /// The key's public area when the signer was opened.
    public: Option<tss_esapi::structures::Public>,
}

/// The NULL hash-check ticket: the digest was not made by the TPM, which is fine for an
/// unrestricted signing key (tss-esapi 7.x insists on a ticket).
fn null_ticket() -> Result<HashcheckTicket> {
    HashcheckTicket::try_from(TPMT_TK_HASHCHECK {
        tag: TPM2_ST_HASHCHECK,
        hierarchy: TPM2_RH_NULL,
        digest: Default::default(),
    })
    .map_err(|source| TpmError::Tpm { operation: "building a NULL ticket", code: 0, source })
}

impl Worker {
    /// Connects and loads the key; returns its public area.
    fn connect(&mut self) -> Result<tss_esapi::structures::Public> {
        self.loaded = None;
        let mut ctx = open_context(&self.tcti)?;
        let (handle, public) = match &self.source {
            Source::File { key, auth } => {
                let auth = tpm::key_auth(key, auth.as_ref())?;
                let handle = tpm::load_key(&mut ctx, &self.tcti, key, auth.as_ref())?;
                (handle, key.public().clone())
            }
            Source::Persistent { handle, auth } => {
                tpm::open_persistent(&mut ctx, &self.tcti, *handle, auth.as_ref())?
            }
        };
        // A persistent handle can be given to another key between two connections.
        if let (Some(expected), Source::Persistent { handle, .. }) = (&self.public, &self.source) {
            if *expected != public {
                return Err(TpmError::KeyChanged { handle: handle.value() });
            }
        }
        let session = match self.session_kind {
            SessionKind::Password => AuthSession::Password,
            SessionKind::SaltedHmac => {
                let parent = match &self.source {
                    Source::File { key, .. } => key.parent(),
                    Source::Persistent { .. } => ParentTemplate::default(),
                };
                match salted_session(&mut ctx, &self.tcti, parent) {
                    Ok(session) => session,
                    Err(e) => {
                        tpm::flush(&mut ctx, handle.into());
                        return Err(e);
                    }
                }
            }
        };
        self.loaded = Some((ctx, handle, session));
        Ok(public)
    }

    /// Signs; after a lost connection or a TPM reset (stale handles), reconnects and tries once
    /// more, so a restarted TPM costs the caller at most one error.
    fn sign(&mut self, digest: &Digest) -> Result<tss_esapi::structures::Signature> {
        let was_loaded = self.loaded.is_some();
        match self.sign_once(digest) {
            Err(e) if was_loaded && e.needs_reconnect() => self.sign_once(digest),
            other => other,
        }
    }

    fn sign_once(&mut self, digest: &Digest) -> Result<tss_esapi::structures::Signature> {
        if self.loaded.is_none() {
            self.connect()?;
        }
        let Some((ctx, key, session)) = self.loaded.as_mut() else {
            return Err(TpmError::WorkerGone);
        };
        let tpm_digest =
            tss_esapi::structures::Digest::try_from(digest.as_bytes()).map_err(|source| {
                TpmError::Tpm { operation: "wrapping the digest", code: 0, source }
            })?;
        let (key, session) = (*key, *session);
        let mut attempt = 0;
        let result = loop {
            let (digest, scheme, ticket) = (tpm_digest.clone(), self.scheme, self.ticket.clone());
            match ctx.execute_with_session(Some(session), |c| c.sign(key, digest, scheme, ticket)) {
                // A busy TPM (RETRY, YIELDED, TESTING) asks to be asked again.
                Err(e) if attempt < MAX_RETRIES && is_retryable(&e) => {
                    attempt += 1;
                    std::thread::sleep(RETRY_PAUSE * attempt);
                }
                other => break other.map_err(|e| classify("signing", self.tcti.as_str(), e)),
            }
        };
        if result.as_ref().is_err_and(TpmError::needs_reconnect) {
            // Dropping the context also tries to flush the key; on a dead link that just fails.
            self.loaded = None;
        }
        result
    }
}

impl TpmSigner {
    fn start(tcti: &Tcti, source: Source, session_kind: SessionKind) -> Result<Self> {
        let mut worker = Worker {
            tcti: tcti.clone(),
            source,
            session_kind,
            scheme: SignatureScheme::Null,
            ticket: null_ticket()?,
            loaded: None,
            public: None,
        };
        let public = worker.connect()?;
        worker.public = Some(public.clone());
        let algorithm = template::algorithm_of(&public)?;
        let public_key = template::public_key(&public)?;
        if !public_key.supports(algorithm) {
            return Err(TpmError::Unsupported(format!(
                "public key: a {} key cannot check {algorithm} signatures",
                public_key.key_kind()
            )));
        }
        worker.scheme = template::signature_scheme(algorithm)?;
        Ok(Self {
            algorithm,
            public_key,
            prepared: OnceLock::new(),
            checked_once: AtomicBool::new(false),
            tcti: tcti.clone(),
            worker: Mutex::new(worker),
        })
    }

    /// Opens a signer for a key file's key. `auth` is needed for keys with a user-chosen auth
    /// value; stored (random) auth values are taken from the file.
    ///
    /// Fails like a first signature would: [`TpmError::NoTpm`], [`TpmError::WrongParent`], …
    pub fn open(tcti: &Tcti, key: KeyFile, auth: Option<AuthValue>) -> Result<Self> {
        Self::start(tcti, Source::File { key, auth }, SessionKind::Password)
    }

    /// Like [`TpmSigner::open`], choosing how each signature is authorised.
    pub fn open_with_session(
        tcti: &Tcti,
        key: KeyFile,
        auth: Option<AuthValue>,
        session: SessionKind,
    ) -> Result<Self> {
        Self::start(tcti, Source::File { key, auth }, session)
    }

    /// Opens a signer for the key in a key file on disk.
    pub fn open_file(tcti: &Tcti, path: &Path, auth: Option<AuthValue>) -> Result<Self> {
        Self::open(tcti, KeyFile::load(path)?, auth).map_err(|e| match e {
            TpmError::ParentNotFound { handle, path: None } => {
                TpmError::ParentNotFound { handle, path: Some(path.to_owned()) }
            }
            other => other,
        })
    }

    /// Opens a signer for a key persisted at `handle`.
    pub fn open_persistent(
        tcti: &Tcti,
        handle: PersistentHandle,
        auth: Option<AuthValue>,
    ) -> Result<Self> {
        Self::start(tcti, Source::Persistent { handle, auth }, SessionKind::Password)
    }

    /// Like [`TpmSigner::open_persistent`], choosing how each signature is authorised; a
    /// salted session is salted with the default (ECC P-256) storage primary.
    pub fn open_persistent_with_session(
        tcti: &Tcti,
        handle: PersistentHandle,
        auth: Option<AuthValue>,
        session: SessionKind,
    ) -> Result<Self> {
        Self::start(tcti, Source::Persistent { handle, auth }, session)
    }

    /// Opens a signer for a `tpm:PATH` or `tpm:0x81…` key reference.
    pub fn open_key_ref(tcti: &Tcti, key: &KeyRef, auth: Option<AuthValue>) -> Result<Self> {
        match key {
            KeyRef::TpmKeyFile(path) => Self::open_file(tcti, path, auth),
            KeyRef::TpmPersistent(handle) => Self::open_persistent(tcti, *handle, auth),
            other => Err(TpmError::Unsupported(format!("`{other}` is not a TPM key reference"))),
        }
    }

    /// The TCTI the signer talks to.
    #[must_use]
    pub fn tcti(&self) -> &Tcti {
        &self.tcti
    }

    /// The public key as PEM `SubjectPublicKeyInfo`, byte-identical to
    /// `tpm2_readpublic -f pem`.
    #[must_use]
    pub fn public_key_pem(&self) -> String {
        self.public_key.to_pem()
    }

    /// Signs a digest, with typed errors: the digest's hash must be the algorithm's
    /// ([`TpmError::DigestMismatch`] otherwise, without calling the TPM).
    ///
    /// The result is DER for ECDSA (`Signature::to_raw_rs` gives `r || s`) and the raw
    /// signature for RSA, and has been verified against the public key.
    pub fn try_sign_digest(&self, digest: &Digest) -> Result<Signature> {
        let expected = self.algorithm.hash();
        if digest.algorithm() != expected {
            return Err(TpmError::DigestMismatch {
                algorithm: self.algorithm,
                expected,
                got: digest.algorithm(),
            });
        }
        // The lock is held for the TPM command only; verification runs unlocked.
        let tpm_signature = self.worker()?.sign(digest)?;
        let checked = self.convert(&tpm_signature).and_then(|signature| {
            self.check(digest, &signature).map_err(|e| TpmError::BadSignature(e.to_string()))?;
            Ok(signature)
        });
        if checked.is_err() {
            // Whatever answered is not our key as we loaded it (a TPM reset under a persistent
            // handle, a swapped object): reconnect and re-check the key next time.
            if let Ok(mut worker) = self.worker() {
                worker.loaded = None;
            }
        }
        checked
    }

    /// The software check of a signature: plain for the first, prepared from the second on.
    fn check(
        &self,
        digest: &Digest,
        signature: &Signature,
    ) -> Result<(), proofmark_types::VerifyError> {
        if let Some(prepared) = self.prepared.get() {
            return prepared.verify(digest, signature);
        }
        if !self.checked_once.swap(true, Ordering::Relaxed) {
            return proofmark_types::verify(&self.public_key, self.algorithm, digest, signature);
        }
        match PreparedVerifier::new(&self.public_key, self.algorithm) {
            Ok(prepared) => self.prepared.get_or_init(|| prepared).verify(digest, signature),
            // `start` checked that the key supports the algorithm; stay correct regardless.
            Err(_) => proofmark_types::verify(&self.public_key, self.algorithm, digest, signature),
        }
    }

    /// The connection, locked. A panic while it was held (inside tss-esapi) leaves it unusable.
    fn worker(&self) -> Result<MutexGuard<'_, Worker>> {
        self.worker.lock().map_err(|_| TpmError::WorkerGone)
    }

    fn convert(&self, signature: &tss_esapi::structures::Signature) -> Result<Signature> {
        use tss_esapi::structures::Signature as Tss;
        let malformed = |e: proofmark_types::SignatureError| TpmError::BadSignature(e.to_string());
        match (signature, self.algorithm.key_kind()) {
            (Tss::EcDsa(ecc), KeyKind::Ec(_)) => Signature::from_scalars(
                self.algorithm,
                ecc.signature_r().value(),
                ecc.signature_s().value(),
            )
            .map_err(malformed),
            (Tss::RsaSsa(rsa) | Tss::RsaPss(rsa), KeyKind::Rsa { bits }) => {
                let bytes = rsa.signature().value();
                let size = bits as usize / 8;
                if bytes.len() > size {
                    return Err(TpmError::BadSignature(format!(
                        "a {}-byte RSA signature for a {bits}-bit key",
                        bytes.len()
                    )));
                }
                let mut padded = vec![0u8; size - bytes.len()];
                padded.extend_from_slice(bytes);
                Signature::from_rsa(self.algorithm, &padded).map_err(malformed)
            }
            (other, _) => Err(TpmError::BadSignature(format!(
                "the TPM answered with a {:?} signature for a {} key",
                other.algorithm(),
                self.algorithm
            ))),
        }
    }
}

impl Signer for TpmSigner {
    fn algorithm(&self) -> SignatureAlgorithm {
        self.algorithm
    }

    fn public_key(&self) -> &PublicKey {
        &self.public_key
    }

    fn sign_digest(&self, digest: &Digest) -> Result<Signature, SignError> {
        SignError::check_digest(self.algorithm, digest)?;
        self.try_sign_digest(digest).map_err(|e| SignError::backend("tpm", e))
    }
}
