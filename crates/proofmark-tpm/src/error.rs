//! [`TpmError`]: everything that can go wrong talking to a TPM, with TPM response codes mapped to
//! the cases a caller can act on (wrong auth, lockout, full object memory, a vanished TPM).

use std::path::PathBuf;

use proofmark_types::SignatureAlgorithm;

/// The result type of this crate.
pub type Result<T, E = TpmError> = std::result::Result<T, E>;

/// An error from the TPM signing core.
///
/// Auth values never appear in these errors (nor in their `Debug` output). A message does not
/// repeat its [`source`](std::error::Error::source): print the chain (anyhow's `{:#}`) to see
/// the underlying I/O or TSS error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TpmError {
    /// The TCTI string is malformed or names an unsupported transport.
    #[error("invalid TCTI `{tcti}`: {reason}")]
    InvalidTcti {
        /// The TCTI string as given.
        tcti: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A `swtpm:path=…` or `mssim:path=…` TCTI (Unix socket), which tss-esapi 7.x cannot honour.
    #[error(
        "TCTI `{tcti}` uses a Unix socket (`path=`), which tss-esapi 7.x does not support: it \
         would silently ignore `path=` and talk to localhost:2321 instead; run the simulator on \
         TCP (`swtpm socket --server type=tcp,port=N --ctrl type=tcp,port=N+1`) and use \
         `swtpm:host=127.0.0.1,port=N`"
    )]
    UnixSocketTcti {
        /// The TCTI string as given.
        tcti: String,
    },
    /// No TPM answered on the configured TCTI.
    #[error("no TPM answers on TCTI `{tcti}` ({origin}): {reason}")]
    NoTpm {
        /// The TCTI that was tried.
        tcti: String,
        /// Where that TCTI came from.
        origin: crate::tcti::TctiOrigin,
        /// Why, in words, with the TSS2 response code.
        reason: String,
    },
    /// The connection to the TPM broke during an operation (the TPM restarted or vanished); the
    /// next operation reconnects.
    #[error("lost the connection to the TPM on `{tcti}` during {operation}")]
    ConnectionLost {
        /// The TCTI in use.
        tcti: String,
        /// The TPM command that failed.
        operation: &'static str,
        /// The underlying error.
        #[source]
        source: tss_esapi::Error,
    },
    /// The auth value was wrong (`TPM_RC_AUTH_FAIL` or `TPM_RC_BAD_AUTH`).
    #[error(
        "wrong auth value for the key during {operation} (TPM response {code:#x}{})",
        if *da_counted { "; the TPM's dictionary-attack counter was incremented" } else { "" }
    )]
    WrongAuth {
        /// The TPM command that failed.
        operation: &'static str,
        /// The raw response code.
        code: u32,
        /// Whether the failure counted against the dictionary-attack lockout (the key is not
        /// `noDA`).
        da_counted: bool,
    },
    /// The TPM is in dictionary-attack lockout (`TPM_RC_LOCKOUT`).
    #[error(
        "the TPM is in dictionary-attack lockout during {operation}: too many wrong auth values; \
         wait for the lockout interval or reset it with `tpm2_dictionarylockout -c`"
    )]
    Lockout {
        /// The TPM command that failed.
        operation: &'static str,
    },
    /// The TPM has no room for another loaded object (`TPM_RC_OBJECT_MEMORY`).
    #[error(
        "the TPM is out of object memory during {operation} (TPM_RC_OBJECT_MEMORY): too many \
         objects are loaded; flush some (`tpm2_flushcontext -t`) or use a resource manager \
         (`device:/dev/tpmrm0`, tpm2-abrmd)"
    )]
    ObjectMemory {
        /// The TPM command that failed.
        operation: &'static str,
    },
    /// The key's parent on this TPM is not the one the key was created under: another TPM, a
    /// cleared owner hierarchy, or a different parent template.
    #[error(
        "wrong parent: the key was created under parent {expected} but this TPM's {template} \
         primary is {actual} (a different or cleared TPM?)"
    )]
    WrongParent {
        /// The parent name stored in the key file (hex).
        expected: String,
        /// The parent name found on this TPM (hex).
        actual: String,
        /// The parent template.
        template: &'static str,
    },
    /// A key file is unreadable, corrupt, or not one of ours.
    #[error("key file {}: {reason}", path.display())]
    KeyFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A file we were asked to create exists already; it was left as it was.
    #[error("{} already exists; not replacing it", path.display())]
    FileExists {
        /// The file.
        path: PathBuf,
    },
    /// Reading or writing a file failed.
    #[error("{action} {}", path.display())]
    Io {
        /// What we were doing.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The digest does not match the key's signature scheme; the TPM was not called.
    #[error("{algorithm} signs {expected} digests, got a {got} digest")]
    DigestMismatch {
        /// The key's algorithm.
        algorithm: SignatureAlgorithm,
        /// The hash it expects.
        expected: proofmark_types::HashAlgorithm,
        /// The hash of the digest given.
        got: proofmark_types::HashAlgorithm,
    },
    /// The key or request uses something this crate does not support.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// The TPM refused to load a key blob: it is corrupt, or was made under another parent.
    #[error(
        "the TPM rejected the key (response code {code:#x}): its private part is corrupt or was \
         made under another parent key"
    )]
    KeyRejected {
        /// The raw response code.
        code: u32,
    },
    /// A persistent handle is already taken (`TPM_RC_NV_DEFINED`).
    #[error("persistent handle {handle:#010x} is already in use")]
    HandleInUse {
        /// The handle.
        handle: u32,
    },
    /// A persistent handle in a range the TCG reserves for keys that are not the owner's.
    #[error(
        "persistent handle {handle:#010x} lies in {range}; use an owner handle such as 0x81000010"
    )]
    ReservedHandle {
        /// The handle.
        handle: u32,
        /// The reserved range it lies in.
        range: proofmark_types::ReservedRange,
    },
    /// A key has a user-chosen auth value, which is never stored, and none was given.
    #[error("this key has a user-chosen auth value, which is not stored, and none was given")]
    AuthRequired,
    /// The key at a persistent handle is no longer the one the signer was opened with.
    #[error("the key at persistent handle {handle:#010x} was replaced by another key")]
    KeyChanged {
        /// The handle.
        handle: u32,
    },
    /// A persistent handle holds no object.
    #[error("no object at persistent handle {handle:#010x}")]
    HandleNotFound {
        /// The handle.
        handle: u32,
    },
    /// A TSS2 key's parent is a persistent handle that holds nothing on this TPM.
    #[error(
        "the parent of {} is the persistent key {handle:#010x}, which is not in this TPM: use the \
         TPM the key was made on, or make its parent persistent there again",
        path.as_deref().map_or_else(|| "the key".into(), |p| format!("key file {}", p.display()))
    )]
    ParentNotFound {
        /// The parent's persistent handle.
        handle: u32,
        /// The key file, when known.
        path: Option<PathBuf>,
    },
    /// The TPM produced a signature that does not verify with the key's public key.
    #[error("the TPM returned a signature that does not verify ({0}); not releasing it")]
    BadSignature(String),
    /// Any other TPM or TSS failure.
    #[error("TPM error during {operation} (response code {code:#x})")]
    Tpm {
        /// The TPM command that failed.
        operation: &'static str,
        /// The raw TSS2 response code (0 for errors raised by tss-esapi itself).
        code: u32,
        /// The underlying error.
        #[source]
        source: tss_esapi::Error,
    },
    /// A panic while the signer held its TPM connection left the connection unusable; open a
    /// new signer.
    #[error("the TPM connection was poisoned by an earlier panic; open the key again")]
    WorkerGone,
}

impl TpmError {
    /// Whether the error means the connection or the TPM's volatile state is gone, so the next
    /// operation must reconnect and reload.
    #[must_use]
    pub fn needs_reconnect(&self) -> bool {
        matches!(self, Self::ConnectionLost { .. } | Self::NoTpm { .. })
    }
}

/// The TSS2 layer of TPM responses (`TSS2_TPM_RC_LAYER`).
const LAYER_TPM: u32 = 0;
/// `TSS2_ESYS_RC_LAYER`.
const LAYER_ESYS: u32 = 7;
/// `TSS2_SYS_RC_LAYER`.
const LAYER_SYS: u32 = 8;
/// `TSS2_TCTI_RC_LAYER`.
const LAYER_TCTI: u32 = 10;
/// `TSS2_RESMGR_TPM_RC_LAYER`: TPM codes relayed by a resource manager.
const LAYER_RESMGR_TPM: u32 = 11;

/// The raw TSS2 response code of a tss-esapi error (0 for wrapper errors).
#[must_use]
pub fn response_code(err: &tss_esapi::Error) -> u32 {
    use tss_esapi::constants::response_code::Tss2ResponseCode;
    // tss-esapi 7.x keeps the raw value private but prints it as "Response code value: 0x…".
    let text = match err {
        tss_esapi::Error::Tss2Error(Tss2ResponseCode::FormatZero(rc)) => rc.to_string(),
        tss_esapi::Error::Tss2Error(Tss2ResponseCode::FormatOne(rc)) => rc.to_string(),
        _ => return 0,
    };
    text.rsplit("0x").next().and_then(|hex| u32::from_str_radix(hex.trim(), 16).ok()).unwrap_or(0)
}

/// The TPM-defined part of a response code relayed by the TPM or a resource manager, with the
/// parameter/handle/session number stripped from format-one codes.
fn tpm_code(rc: u32) -> Option<u32> {
    let layer = rc >> 16;
    if layer != LAYER_TPM && layer != LAYER_RESMGR_TPM {
        return None;
    }
    let code = rc & 0xffff;
    // Format one (bit 7 set): keep the error number and format bit only.
    Some(if code & 0x80 != 0 { code & 0xbf } else { code })
}

const RC_AUTH_FAIL: u32 = 0x08e;
const RC_BAD_AUTH: u32 = 0x0a2;
const RC_LOCKOUT: u32 = 0x921;
const RC_OBJECT_MEMORY: u32 = 0x902;
const RC_NV_DEFINED: u32 = 0x14c;
const RC_HANDLE: u32 = 0x08b;
const RC_REFERENCE_H0: u32 = 0x910;
const RC_INITIALIZE: u32 = 0x100;

/// Whether a response code means the connection (not the command) failed.
fn is_transport_failure(rc: u32) -> bool {
    let layer = rc >> 16;
    let base = rc & 0xffff;
    match layer {
        LAYER_TCTI => true,
        // IO_ERROR, NO_CONNECTION, TRY_AGAIN, BAD_SEQUENCE (after a failed exchange),
        // MALFORMED_RESPONSE, INSUFFICIENT_RESPONSE.
        LAYER_ESYS | LAYER_SYS => matches!(base, 7..=10 | 17 | 19),
        _ => false,
    }
}

/// Why connecting failed, in words: tss-esapi 7.x prints "response code not recognized" for
/// every TCTI-layer code, once per level of its error chain.
pub(crate) fn connect_failure(source: &tss_esapi::Error) -> String {
    let code = response_code(source);
    if code == 0 {
        return source.to_string();
    }
    let what = match (code >> 16, code & 0xffff) {
        (LAYER_TCTI | LAYER_ESYS | LAYER_SYS, 8 | 10) => {
            "nothing answers there: no simulator listens at that address, or the device does \
             not exist or is not accessible to this user (libtss2's log above says which)"
        }
        (LAYER_TCTI, 2 | 21) => "this libtss2 has no such TCTI (is its library installed?)",
        (LAYER_TCTI | LAYER_ESYS | LAYER_SYS, 17 | 19) => {
            "something answers there, but not as a TPM does"
        }
        (LAYER_TPM, 0x100) => "the TPM is not started (run `tpm2_startup -c`)",
        _ => "the TPM or its transport failed",
    };
    format!("{what} (TSS2 response code {code:#x})")
}

/// Maps a tss-esapi error to a [`TpmError`], recognising the cases callers act on.
pub(crate) fn classify(operation: &'static str, tcti: &str, source: tss_esapi::Error) -> TpmError {
    let code = response_code(&source);
    if is_transport_failure(code) {
        return TpmError::ConnectionLost { tcti: tcti.to_owned(), operation, source };
    }
    match tpm_code(code) {
        Some(RC_AUTH_FAIL) => TpmError::WrongAuth { operation, code, da_counted: true },
        Some(RC_BAD_AUTH) => TpmError::WrongAuth { operation, code, da_counted: false },
        Some(RC_LOCKOUT) => TpmError::Lockout { operation },
        Some(RC_OBJECT_MEMORY) => TpmError::ObjectMemory { operation },
        // The TPM was reset under us (its objects are gone) or never started: treat it like a
        // lost connection so the next call starts over.
        Some(RC_INITIALIZE | RC_REFERENCE_H0) => {
            TpmError::ConnectionLost { tcti: tcti.to_owned(), operation, source }
        }
        _ => TpmError::Tpm { operation, code, source },
    }
}

/// Whether the TPM asked to be asked again: `TPM_RC_RETRY`, `TPM_RC_YIELDED`,
/// `TPM_RC_TESTING`.
pub(crate) fn is_retryable(err: &tss_esapi::Error) -> bool {
    matches!(tpm_code(response_code(err)), Some(0x922 | 0x908 | 0x90a))
}

/// Like [`classify`], for `TPM2_Load`: integrity and unmarshalling failures mean the blob is bad.
pub(crate) fn classify_load(tcti: &str, source: tss_esapi::Error) -> TpmError {
    let code = response_code(&source);
    match tpm_code(code) {
        // INTEGRITY, SIZE, VALUE, KEY, BINDING, INSUFFICIENT, SENSITIVE.
        Some(0x09f | 0x095 | 0x084 | 0x09c | 0x0a5 | 0x09a | 0x155) => {
            TpmError::KeyRejected { code }
        }
        _ => classify("loading the key", tcti, source),
    }
}

/// Like [`classify`], for commands on a persistent `handle`.
pub(crate) fn classify_handle(
    operation: &'static str,
    tcti: &str,
    handle: u32,
    source: tss_esapi::Error,
) -> TpmError {
    match tpm_code(response_code(&source)) {
        Some(RC_NV_DEFINED) => TpmError::HandleInUse { handle },
        Some(RC_HANDLE) => TpmError::HandleNotFound { handle },
        _ => classify(operation, tcti, source),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tpm_codes_strip_the_parameter_number() {
        // 0x98e: AUTH_FAIL on session 1; 0x9a2: BAD_AUTH on session 1.
        assert_eq!(tpm_code(0x98e), Some(RC_AUTH_FAIL));
        assert_eq!(tpm_code(0x9a2), Some(RC_BAD_AUTH));
        assert_eq!(tpm_code(0x1d5), Some(0x095));
        assert_eq!(tpm_code(0x902), Some(RC_OBJECT_MEMORY));
        assert_eq!(tpm_code(0x921), Some(RC_LOCKOUT));
        assert_eq!(tpm_code(0x0b_0902), Some(RC_OBJECT_MEMORY));
        assert_eq!(tpm_code(0x0a_000a), None);
    }

    #[test]
    fn transport_failures() {
        assert!(is_transport_failure(0x000a_000a)); // TSS2_TCTI_RC_IO_ERROR
        assert!(is_transport_failure(0x0007_000a)); // TSS2_ESYS_RC_IO_ERROR
        assert!(!is_transport_failure(0x98e));
        assert!(!is_transport_failure(0x0007_000b)); // BAD_VALUE
    }
}
