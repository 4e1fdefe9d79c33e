//! The crate's error type: one enum, so the CLI can map each failure to a message and exit code.

use proofmark_types::{SignError, SignatureAlgorithm};

/// Everything that can go wrong while signing, storing or verifying signatures.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An image reference that cannot be parsed.
    #[error("invalid image reference {reference:?}: {reason}")]
    InvalidReference {
        /// The reference as given.
        reference: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A digest string that is not `sha256:<64 lowercase hex>`.
    #[error("invalid digest {0:?}: expected sha256:<64 hex digits>")]
    InvalidDigest(String),
    /// The registry could not be reached (DNS, connection, TLS, timeout).
    #[error("cannot reach {url}: {message}")]
    Transport {
        /// The URL asked for.
        url: String,
        /// The transport error.
        message: String,
    },
    /// The registry answered with an unexpected status.
    #[error("{method} {url} returned HTTP {status}: {body}")]
    Http {
        /// HTTP method.
        method: &'static str,
        /// The URL asked for.
        url: String,
        /// The status code.
        status: u16,
        /// The start of the response body (registry error JSON, usually).
        body: String,
    },
    /// An HTTPS request answered in plain HTTP: the registry does not speak TLS.
    #[error(
        "{host} answered plain HTTP to an HTTPS request ({url}); if it is a plain-HTTP \
         registry, allow that with --allow-insecure {host}"
    )]
    PlainHttp {
        /// The registry host (`HOST:PORT`).
        host: String,
        /// The URL asked for.
        url: String,
    },
    /// An `allow_insecure` (`--allow-insecure`) entry that is not `HOST[:PORT]`.
    #[error(
        "--allow-insecure {value:?}: {reason}; expected HOST:PORT (for example 127.0.0.1:5000)"
    )]
    InsecureHost {
        /// The entry as given.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The TLS configuration (custom CA bundle) is unusable.
    #[error("TLS configuration: {0}")]
    Tls(String),
    /// Authentication failed or a token could not be obtained.
    #[error("authentication with {host} failed: {reason}")]
    Auth {
        /// Registry host.
        host: String,
        /// Why.
        reason: String,
    },
    /// A docker credential helper (`credsStore`, `credHelpers`) is missing, failed, or
    /// answered something unreadable.
    #[error("credential helper {helper}: {reason}")]
    CredentialHelper {
        /// The program, `docker-credential-<name>`.
        helper: String,
        /// What went wrong.
        reason: String,
    },
    /// A docker `config.json` that cannot be parsed.
    #[error("invalid docker config.json: {0}")]
    DockerConfig(String),
    /// A manifest or blob is larger than the configured limit.
    #[error("{what} is larger than the {limit}-byte limit")]
    TooLarge {
        /// What was being read.
        what: String,
        /// The limit in bytes.
        limit: u64,
    },
    /// Content whose digest is not the one it was addressed by.
    #[error("digest mismatch for {what}: expected {expected}, got {actual}")]
    DigestMismatch {
        /// What was checked.
        what: String,
        /// The digest asked for.
        expected: String,
        /// The digest of the bytes received.
        actual: String,
    },
    /// A manifest, layer or blob with a media type we do not handle.
    #[error("unexpected media type for {what}: {got:?}")]
    MediaType {
        /// What was checked.
        what: String,
        /// The media type found.
        got: String,
    },
    /// JSON that does not parse or does not have the expected shape.
    #[error("malformed {what}: {message}")]
    Malformed {
        /// What was being parsed (`signature payload`, `manifest`, …).
        what: &'static str,
        /// The parser's message.
        message: String,
    },
    /// A manifest or blob that does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// The signer uses an algorithm cosign cannot verify.
    #[error("cosign signatures cannot use {0}; use an ECDSA P-256 or RSA PKCS#1 v1.5 SHA-256 key")]
    UnsupportedAlgorithm(SignatureAlgorithm),
    /// The public key's type is not one cosign verifies.
    #[error("unsupported public key type {0}")]
    UnsupportedKey(String),
    /// The signer failed.
    #[error("signing failed")]
    Sign(#[from] SignError),
    /// Another writer kept replacing the signature manifest.
    #[error(
        "the signature manifest {tag} kept changing under us; gave up after {attempts} attempts"
    )]
    Contended {
        /// The signature tag.
        tag: String,
        /// How many read-modify-write rounds were tried.
        attempts: u32,
    },
    /// A referrers index (`sha256-<hex>` tag or the referrers API) that cannot be used.
    #[error("referrers index {index}: {reason}; nothing was changed in the registry")]
    BadReferrersIndex {
        /// Where it is (`REPO:sha256-<hex>`).
        index: String,
        /// What is wrong (points at itself, too many entries, not an index).
        reason: String,
    },
    /// A verification key is not among the pinned fingerprints.
    #[error("public key {0} is not among the pinned fingerprints")]
    KeyNotPinned(String),
    /// Invalid verification options (threshold 0 or above the key count, no keys).
    #[error("invalid verification options: {0}")]
    InvalidOptions(String),
    /// A cosign private key file problem.
    #[error(transparent)]
    Key(#[from] crate::keys::KeyError),
    /// Local file I/O (OCI layouts).
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        Self::Io { path: path.display().to_string(), source }
    }

    pub(crate) fn malformed(what: &'static str, message: impl std::fmt::Display) -> Self {
        Self::Malformed { what, message: message.to_string() }
    }

    /// True for failures to talk to a registry or read a layout (as opposed to bad content).
    pub fn is_transport(&self) -> bool {
        matches!(
            self,
            Self::Transport { .. }
                | Self::PlainHttp { .. }
                | Self::Http { .. }
                | Self::Tls(_)
                | Self::Auth { .. }
                | Self::Io { .. }
        )
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
