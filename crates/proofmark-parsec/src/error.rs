//! [`ParsecError`]: what went wrong talking to the Parsec service, with the endpoint and a hint
//! of what to do about it.

use parsec_client::core::interface::requests::ResponseStatus;
use parsec_client::error::{ClientErrorKind, Error as ClientError};

/// Why a Parsec operation failed. Every variant names the endpoint it was talking to.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ParsecError {
    /// The endpoint is not a `unix:` URL.
    #[error(
        "invalid Parsec endpoint `{endpoint}`: expected `unix:/path/to/parsec.sock` (set \
         PARSEC_SERVICE_ENDPOINT or pass the endpoint explicitly)"
    )]
    InvalidEndpoint {
        /// The endpoint as given.
        endpoint: String,
    },
    /// Nothing listens on the socket: the service is not running (or not yet started).
    #[error(
        "the Parsec service is not running at {endpoint}: start it (`systemctl start parsec`) or \
         point PARSEC_SERVICE_ENDPOINT at the right socket"
    )]
    ServiceNotRunning {
        /// The endpoint.
        endpoint: String,
        /// The I/O error, when there was one (a missing socket file has none).
        #[source]
        source: Option<std::io::Error>,
    },
    /// The socket exists but this user may not connect to it.
    #[error(
        "not permitted to connect to the Parsec socket at {endpoint}: add this user to the \
         socket's group (usually `parsec-clients`) or ask the administrator"
    )]
    SocketNotPermitted {
        /// The endpoint.
        endpoint: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The service does not offer the requested provider.
    #[error(
        "the Parsec service at {endpoint} has no {provider} provider (it offers: {available}); \
         enable it in the service's config.toml or choose another with `?provider=`"
    )]
    ProviderUnavailable {
        /// The endpoint.
        endpoint: String,
        /// The provider asked for.
        provider: String,
        /// The providers the service offers, comma-separated.
        available: String,
    },
    /// The key does not exist for this client identity and provider.
    #[error(
        "no Parsec key `{name}` in the {provider} provider at {endpoint}: keys belong to one \
         provider and one client identity (here: this user); list them with `parsec-tool \
         list-keys` or create it"
    )]
    KeyMissing {
        /// The key name.
        name: String,
        /// The provider asked.
        provider: String,
        /// The endpoint.
        endpoint: String,
    },
    /// A key of that name already exists.
    #[error(
        "a Parsec key `{name}` already exists in the {provider} provider at {endpoint}: delete \
         it first or pick another name"
    )]
    KeyExists {
        /// The key name.
        name: String,
        /// The provider asked.
        provider: String,
        /// The endpoint.
        endpoint: String,
    },
    /// The provider cannot do this operation (or this algorithm).
    #[error(
        "the {provider} provider at {endpoint} does not support {operation}: choose another \
         provider with `?provider=` or another algorithm"
    )]
    Unsupported {
        /// What we asked for.
        operation: String,
        /// The provider asked.
        provider: String,
        /// The endpoint.
        endpoint: String,
        /// The service's answer.
        #[source]
        source: ClientError,
    },
    /// The service's authenticator and this client do not agree on who we are.
    #[error(
        "the Parsec service at {endpoint} rejected this client's authentication: proofmark \
         authenticates with Unix peer credentials (or a Direct application name); configure the \
         service's [authenticator] to match"
    )]
    AuthenticatorMismatch {
        /// The endpoint.
        endpoint: String,
        /// The client library's or service's error.
        #[source]
        source: ClientError,
    },
    /// The key exists but is not a signing key proofmark can use.
    #[error("Parsec key `{name}` at {endpoint} cannot be used: {reason}")]
    UnusableKey {
        /// The key name.
        name: String,
        /// The endpoint.
        endpoint: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The service returned a public key proofmark cannot parse.
    #[error("the Parsec service at {endpoint} returned an unusable public key for `{name}`")]
    BadPublicKey {
        /// The key name.
        name: String,
        /// The endpoint.
        endpoint: String,
        /// The parse error.
        #[source]
        source: proofmark_types::PublicKeyError,
    },
    /// The service returned a signature proofmark cannot parse.
    #[error("the Parsec service at {endpoint} returned a malformed signature from `{name}`")]
    BadSignature {
        /// The key name.
        name: String,
        /// The endpoint.
        endpoint: String,
        /// The parse error.
        #[source]
        source: proofmark_types::SignatureError,
    },
    /// Any other failure of the service or the client library.
    #[error("Parsec {operation} failed at {endpoint}")]
    Service {
        /// What we asked for.
        operation: String,
        /// The endpoint.
        endpoint: String,
        /// The service's answer.
        #[source]
        source: ClientError,
    },
}

/// What we were doing when an error came back, to classify it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Context<'a> {
    pub(crate) operation: &'a str,
    pub(crate) endpoint: &'a str,
    pub(crate) provider: &'a str,
    pub(crate) key: Option<&'a str>,
}

impl Context<'_> {
    /// Turns a client-library error into the variant that tells the user what to do.
    pub(crate) fn classify(self, err: ClientError) -> ParsecError {
        let endpoint = self.endpoint.to_owned();
        let key = || self.key.unwrap_or_default().to_owned();
        let provider = self.provider.to_owned();
        match err {
            ClientError::Client(ClientErrorKind::Ipc(io)) => io_error(&endpoint, io),
            ClientError::Client(ClientErrorKind::InvalidSocketAddress) => {
                ParsecError::ServiceNotRunning { endpoint, source: None }
            }
            ClientError::Client(ClientErrorKind::InvalidSocketUrl) => {
                ParsecError::InvalidEndpoint { endpoint }
            }
            ClientError::Client(
                ClientErrorKind::NoAuthenticator | ClientErrorKind::MissingParam,
            )
            | ClientError::Service(
                ResponseStatus::AuthenticationError
                | ResponseStatus::AuthenticatorDoesNotExist
                | ResponseStatus::AuthenticatorNotRegistered
                | ResponseStatus::NotAuthenticated,
            ) => ParsecError::AuthenticatorMismatch { endpoint, source: err },
            ClientError::Service(ResponseStatus::PsaErrorDoesNotExist) if self.key.is_some() => {
                ParsecError::KeyMissing { name: key(), provider, endpoint }
            }
            ClientError::Service(ResponseStatus::PsaErrorAlreadyExists) if self.key.is_some() => {
                ParsecError::KeyExists { name: key(), provider, endpoint }
            }
            ClientError::Client(ClientErrorKind::InvalidProvider)
            | ClientError::Service(
                ResponseStatus::PsaErrorNotSupported
                | ResponseStatus::OpcodeDoesNotExist
                | ResponseStatus::ProviderNotRegistered
                | ResponseStatus::ProviderDoesNotExist
                | ResponseStatus::WrongProviderId,
            ) => ParsecError::Unsupported {
                operation: self.operation.to_owned(),
                provider,
                endpoint,
                source: err,
            },
            // A reset connection mid-request is the service going away.
            ClientError::Service(ResponseStatus::ConnectionError) => {
                ParsecError::ServiceNotRunning { endpoint, source: None }
            }
            ClientError::Client(ClientErrorKind::Interface(ResponseStatus::ConnectionError)) => {
                ParsecError::ServiceNotRunning { endpoint, source: None }
            }
            other => ParsecError::Service {
                operation: self.operation.to_owned(),
                endpoint,
                source: other,
            },
        }
    }
}

/// Connecting failed: missing or refused socket means no service, EACCES means permissions.
pub(crate) fn io_error(endpoint: &str, io: std::io::Error) -> ParsecError {
    let endpoint = endpoint.to_owned();
    match io.kind() {
        std::io::ErrorKind::PermissionDenied => {
            ParsecError::SocketNotPermitted { endpoint, source: io }
        }
        _ => ParsecError::ServiceNotRunning { endpoint, source: Some(io) },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CTX: Context<'static> = Context {
        operation: "signing with ecdsa-sha2-256-nistp256",
        endpoint: "unix:/run/parsec/parsec.sock",
        provider: "tpm",
        key: Some("k"),
    };

    /// Every failure the brief names maps to its own variant, and its message says what to do.
    #[test]
    fn errors_are_classified_and_explained() {
        let io = |kind| ClientError::Client(ClientErrorKind::Ipc(std::io::Error::from(kind)));
        let cases = [
            io(std::io::ErrorKind::ConnectionRefused),
            io(std::io::ErrorKind::PermissionDenied),
            ClientError::Service(ResponseStatus::PsaErrorDoesNotExist),
            ClientError::Service(ResponseStatus::PsaErrorAlreadyExists),
            ClientError::Service(ResponseStatus::PsaErrorNotSupported),
            ClientError::Service(ResponseStatus::AuthenticatorNotRegistered),
            ClientError::Client(ClientErrorKind::NoAuthenticator),
            ClientError::Service(ResponseStatus::PsaErrorHardwareFailure),
        ];
        let messages: Vec<String> =
            cases.into_iter().map(|e| CTX.classify(e).to_string()).collect();
        expect_test::expect![[r#"
            [
                "the Parsec service is not running at unix:/run/parsec/parsec.sock: start it (`systemctl start parsec`) or point PARSEC_SERVICE_ENDPOINT at the right socket",
                "not permitted to connect to the Parsec socket at unix:/run/parsec/parsec.sock: add this user to the socket's group (usually `parsec-clients`) or ask the administrator",
                "no Parsec key `k` in the tpm provider at unix:/run/parsec/parsec.sock: keys belong to one provider and one client identity (here: this user); list them with `parsec-tool list-keys` or create it",
                "a Parsec key `k` already exists in the tpm provider at unix:/run/parsec/parsec.sock: delete it first or pick another name",
                "the tpm provider at unix:/run/parsec/parsec.sock does not support signing with ecdsa-sha2-256-nistp256: choose another provider with `?provider=` or another algorithm",
                "the Parsec service at unix:/run/parsec/parsec.sock rejected this client's authentication: proofmark authenticates with Unix peer credentials (or a Direct application name); configure the service's [authenticator] to match",
                "the Parsec service at unix:/run/parsec/parsec.sock rejected this client's authentication: proofmark authenticates with Unix peer credentials (or a Direct application name); configure the service's [authenticator] to match",
                "Parsec signing with ecdsa-sha2-256-nistp256 failed at unix:/run/parsec/parsec.sock",
            ]
        "#]]
        .assert_debug_eq(&messages);
    }
}
