//! [`Parsec`]: one connection to the Parsec service, bound to one provider, with the key
//! operations proofmark needs (create, list, describe, sign, delete).

use std::path::PathBuf;
use std::time::Duration;

use parsec_client::BasicClient;
use parsec_client::auth::Authentication;
use parsec_client::core::interface::operations::psa_algorithm::{
    Algorithm, AsymmetricSignature, Hash, SignHash,
};
use parsec_client::core::interface::operations::psa_key_attributes::{
    Attributes, EccFamily, Lifetime, Policy, Type, UsageFlags,
};
use parsec_client::core::interface::requests::{ProviderId, ResponseStatus};
use parsec_client::core::ipc_handler::unix_socket;
use parsec_client::error::Error as ClientError;
use proofmark_types::{
    Digest, EcCurve, HashAlgorithm, KeyKind, ParsecProvider, PublicKey, RsaPadding, Signature,
    SignatureAlgorithm,
};

use crate::error::{Context, ParsecError, io_error};

/// The environment variable Parsec clients read the endpoint from.
pub const ENDPOINT_VAR: &str = "PARSEC_SERVICE_ENDPOINT";

/// The service's default endpoint.
pub const DEFAULT_ENDPOINT: &str = "unix:/run/parsec/parsec.sock";

/// The application name sent when the service uses the Direct authenticator.
const APP_NAME: &str = "proofmark";

/// Read/write timeout per request. Generous: a TPM generating a 3072-bit RSA key can take many
/// seconds, and the service answers only when it is done.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// A connection to the Parsec service, bound to one provider.
///
/// Each request opens a fresh connection to the socket, so a `Parsec` survives a service
/// restart: requests made while the service is down fail with
/// [`ParsecError::ServiceNotRunning`], later ones succeed again.
#[derive(Debug)]
pub struct Parsec {
    client: BasicClient,
    endpoint: String,
    provider: ProviderId,
}

/// A key the service lists for this client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyEntry {
    /// The key name.
    pub name: String,
    /// The provider holding it (`tpm`, `mbed-crypto`, `pkcs11`, or the service's name for it).
    pub provider: String,
    /// The proofmark algorithm it signs with, or `None` when it is not a signing key proofmark
    /// supports.
    pub algorithm: Option<SignatureAlgorithm>,
}

impl Parsec {
    /// Connects to the service at `endpoint` (`unix:/path`; `None` means [`DEFAULT_ENDPOINT`]),
    /// using `provider` or, when `None`, the service's default provider (the first one in its
    /// configuration).
    ///
    /// The environment is not read: see [`Parsec::connect_from_env`].
    pub fn connect(
        endpoint: Option<String>,
        provider: Option<ParsecProvider>,
    ) -> Result<Self, ParsecError> {
        let endpoint = endpoint.unwrap_or_else(|| DEFAULT_ENDPOINT.to_owned());
        let path = socket_path(&endpoint)?;
        check_socket(&endpoint, &path)?;
        let handler = unix_socket::Handler::new(path, Some(REQUEST_TIMEOUT)).map_err(|e| {
            Context { operation: "connect", endpoint: &endpoint, provider: "any", key: None }
                .classify(e)
        })?;
        let mut client = BasicClient::default();
        client.set_ipc_handler(Box::new(handler));
        let ctx =
            |operation| Context { operation, endpoint: &endpoint, provider: "any", key: None };
        let providers = client.list_providers().map_err(|e| ctx("list providers").classify(e))?;
        let crypto: Vec<ProviderId> =
            providers.iter().map(|p| p.id).filter(|id| *id != ProviderId::Core).collect();
        let chosen = match provider {
            Some(wanted) => Some(provider_id(wanted)).filter(|id| crypto.contains(id)),
            None => crypto.first().copied(),
        };
        let Some(chosen) = chosen else {
            let available = crypto.iter().map(|id| provider_name(*id)).collect::<Vec<_>>();
            let available =
                if available.is_empty() { "none".to_owned() } else { available.join(", ") };
            return Err(ParsecError::ProviderUnavailable {
                endpoint,
                provider: provider.map_or_else(|| "crypto".to_owned(), |p| p.name().to_owned()),
                available,
            });
        };
        client.set_implicit_provider(chosen);
        client
            .set_default_auth(Some(APP_NAME.to_owned()))
            .map_err(|e| ctx("list authenticators").classify(e))?;
        Ok(Self { client, endpoint, provider: chosen })
    }

    /// Like [`Parsec::connect`], with the endpoint from `PARSEC_SERVICE_ENDPOINT` when it is set
    /// and not empty, else [`DEFAULT_ENDPOINT`] — what every Parsec client does.
    pub fn connect_from_env(provider: Option<ParsecProvider>) -> Result<Self, ParsecError> {
        Self::connect(endpoint_from_env(), provider)
    }

    /// The endpoint, e.g. `unix:/run/parsec/parsec.sock`.
    #[must_use]
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The provider in use, when it is one proofmark names (`None` for e.g. Trusted Services).
    #[must_use]
    pub fn provider(&self) -> Option<ParsecProvider> {
        ParsecProvider::ALL.into_iter().find(|p| provider_id(*p) == self.provider)
    }

    /// The provider's name as proofmark spells it (`tpm`, `mbed-crypto`, `pkcs11`), else the
    /// service's name for it.
    #[must_use]
    pub fn provider_name(&self) -> String {
        provider_name(self.provider)
    }

    /// The same provider's id as `parsec-tool -p` takes it.
    #[must_use]
    pub fn provider_number(&self) -> u8 {
        self.provider as u8
    }

    fn ctx<'a>(&'a self, operation: &'a str, key: Option<&'a str>) -> Context<'a> {
        // Borrowing a `String` we build here would not outlive `self`; the name is static
        // for the providers we know and only used in messages otherwise.
        Context {
            operation,
            endpoint: &self.endpoint,
            provider: provider_static(self.provider),
            key,
        }
    }

    /// Creates a persistent signing key for `algorithm` and returns its public key.
    pub fn create_key(
        &self,
        name: &str,
        algorithm: SignatureAlgorithm,
    ) -> Result<PublicKey, ParsecError> {
        let attributes = attributes_for(algorithm);
        let operation = format!("creating a {algorithm} key");
        self.client.psa_generate_key(name, attributes).map_err(|e| match e {
            // The only arguments are the name and the attributes; a provider answers
            // "invalid argument" for key types or sizes it lacks (Parsec 1.5's Mbed Crypto
            // provider rejects P-384: psa-crypto 0.13 lists secp "284" instead of 384).
            ClientError::Service(ResponseStatus::PsaErrorInvalidArgument) => {
                ParsecError::Unsupported {
                    operation: operation.clone(),
                    provider: self.provider_name(),
                    endpoint: self.endpoint.clone(),
                    source: e,
                }
            }
            e => self.ctx(&operation, Some(name)).classify(e),
        })?;
        Ok(self.describe(name)?.1)
    }

    /// Every key of this client identity, in every provider.
    pub fn list_keys(&self) -> Result<Vec<KeyEntry>, ParsecError> {
        let keys =
            self.client.list_keys().map_err(|e| self.ctx("listing keys", None).classify(e))?;
        Ok(keys
            .into_iter()
            .map(|k| KeyEntry {
                name: k.name,
                provider: provider_name(k.provider_id),
                algorithm: algorithm_of(&k.attributes).ok(),
            })
            .collect())
    }

    /// The key's attributes in *this* provider (the client library's `key_attributes` would
    /// take a same-named key from any provider).
    fn attributes(&self, name: &str) -> Result<Attributes, ParsecError> {
        let keys = self
            .client
            .list_keys()
            .map_err(|e| self.ctx("looking up the key", Some(name)).classify(e))?;
        keys.into_iter()
            .find(|k| k.name == name && k.provider_id == self.provider)
            .map(|k| k.attributes)
            .ok_or_else(|| ParsecError::KeyMissing {
                name: name.to_owned(),
                provider: self.provider_name(),
                endpoint: self.endpoint.clone(),
            })
    }

    /// The key's algorithm and public key.
    pub fn describe(&self, name: &str) -> Result<(SignatureAlgorithm, PublicKey), ParsecError> {
        let attributes = self.attributes(name)?;
        let algorithm = algorithm_of(&attributes).map_err(|reason| ParsecError::UnusableKey {
            name: name.to_owned(),
            endpoint: self.endpoint.clone(),
            reason,
        })?;
        let exported = self
            .client
            .psa_export_public_key(name)
            .map_err(|e| self.ctx("exporting the public key", Some(name)).classify(e))?;
        // PSA exports EC keys as a SEC1 point and RSA keys as PKCS#1; both become SPKI.
        let key = match algorithm.ec_curve() {
            Some(curve) => PublicKey::from_ec_point(curve, &exported),
            None => rsa_spki(&exported).and_then(|der| PublicKey::from_der(&der)),
        }
        .map_err(|source| ParsecError::BadPublicKey {
            name: name.to_owned(),
            endpoint: self.endpoint.clone(),
            source,
        })?;
        Ok((algorithm, key))
    }

    /// Signs `digest` with key `name`, which must sign with `algorithm` (the digest's hash is
    /// the caller's responsibility: see [`crate::ParsecSigner`]).
    pub(crate) fn sign_digest(
        &self,
        name: &str,
        algorithm: SignatureAlgorithm,
        digest: &Digest,
    ) -> Result<Signature, ParsecError> {
        let operation = format!("signing with {algorithm}");
        let raw = self
            .client
            .psa_sign_hash(name, digest.as_bytes(), psa_signature(algorithm))
            .map_err(|e| self.ctx(&operation, Some(name)).classify(e))?;
        // PSA returns ECDSA signatures as fixed-size r || s, RSA ones as the raw signature.
        let signature = if algorithm.is_ecdsa() {
            Signature::from_raw_rs(algorithm, &raw)
        } else {
            Signature::from_rsa(algorithm, &raw)
        };
        signature.map_err(|source| ParsecError::BadSignature {
            name: name.to_owned(),
            endpoint: self.endpoint.clone(),
            source,
        })
    }

    /// Destroys key `name` in this provider.
    pub fn delete_key(&self, name: &str) -> Result<(), ParsecError> {
        self.client
            .psa_destroy_key(name)
            .map_err(|e| self.ctx("deleting the key", Some(name)).classify(e))
    }

    /// The authentication this client sends (Unix peer credentials, or Direct with the
    /// application name `proofmark`).
    #[must_use]
    pub fn authentication(&self) -> &'static str {
        match self.client.auth_data() {
            Authentication::UnixPeerCredentials => "unix-peer-credentials",
            Authentication::Direct(_) => "direct",
            _ => "other",
        }
    }
}

/// `PARSEC_SERVICE_ENDPOINT` when it is set and not empty.
#[must_use]
pub fn endpoint_from_env() -> Option<String> {
    std::env::var(ENDPOINT_VAR).ok().filter(|v| !v.is_empty())
}

/// The socket path of a `unix:/path` (or `unix:///path`) endpoint.
fn socket_path(endpoint: &str) -> Result<PathBuf, ParsecError> {
    let invalid = || ParsecError::InvalidEndpoint { endpoint: endpoint.to_owned() };
    let rest = endpoint.strip_prefix("unix:").ok_or_else(invalid)?;
    let path = rest.strip_prefix("//").unwrap_or(rest);
    if !path.starts_with('/') {
        return Err(invalid());
    }
    Ok(PathBuf::from(path))
}

/// Tells a missing service and a forbidden socket apart before the client library, which
/// reports both as "invalid socket address".
fn check_socket(endpoint: &str, path: &std::path::Path) -> Result<(), ParsecError> {
    use std::os::unix::fs::FileTypeExt as _;
    match path.metadata() {
        Ok(meta) if meta.file_type().is_socket() => Ok(()),
        Ok(_) => Err(ParsecError::ServiceNotRunning {
            endpoint: endpoint.to_owned(),
            source: Some(std::io::Error::other(format!("{} is not a socket", path.display()))),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(ParsecError::ServiceNotRunning { endpoint: endpoint.to_owned(), source: None })
        }
        Err(e) => Err(io_error(endpoint, e)),
    }
}

fn provider_id(provider: ParsecProvider) -> ProviderId {
    match provider {
        ParsecProvider::Tpm => ProviderId::Tpm,
        ParsecProvider::MbedCrypto => ProviderId::MbedCrypto,
        ParsecProvider::Pkcs11 => ProviderId::Pkcs11,
        // A provider added to proofmark-types later: `Core` is never offered for crypto, so
        // `connect` reports it as unavailable.
        _ => ProviderId::Core,
    }
}

fn provider_static(id: ProviderId) -> &'static str {
    match id {
        ProviderId::Tpm => "tpm",
        ProviderId::MbedCrypto => "mbed-crypto",
        ProviderId::Pkcs11 => "pkcs11",
        ProviderId::TrustedService => "trusted-service",
        ProviderId::CryptoAuthLib => "cryptoauthlib",
        ProviderId::Core => "core",
    }
}

fn provider_name(id: ProviderId) -> String {
    provider_static(id).to_owned()
}

/// The PSA algorithm for one of ours.
fn psa_signature(algorithm: SignatureAlgorithm) -> AsymmetricSignature {
    let hash_alg = SignHash::Specific(psa_hash(algorithm.hash()));
    match algorithm.rsa_padding() {
        None => AsymmetricSignature::Ecdsa { hash_alg },
        Some(RsaPadding::Pkcs1v15) => AsymmetricSignature::RsaPkcs1v15Sign { hash_alg },
        Some(RsaPadding::Pss) => AsymmetricSignature::RsaPss { hash_alg },
    }
}

fn psa_hash(hash: HashAlgorithm) -> Hash {
    match hash {
        HashAlgorithm::Sha384 => Hash::Sha384,
        HashAlgorithm::Sha512 => Hash::Sha512,
        _ => Hash::Sha256,
    }
}

/// The attributes of a persistent signing key for `algorithm`, as `parsec-tool create-ecc-key`
/// makes them: sign and verify, hashes and messages.
fn attributes_for(algorithm: SignatureAlgorithm) -> Attributes {
    let mut usage_flags = UsageFlags::default();
    let _ = usage_flags.set_sign_hash().set_verify_hash().set_sign_message().set_verify_message();
    let (key_type, bits) = match (algorithm.ec_curve(), algorithm.key_kind()) {
        (Some(curve), _) => {
            (Type::EccKeyPair { curve_family: EccFamily::SecpR1 }, curve_bits(curve))
        }
        (None, KeyKind::Rsa { bits }) => (Type::RsaKeyPair, bits as usize),
        // Not reachable for today's algorithms; the service rejects a zero-bit RSA key.
        (None, _) => (Type::RsaKeyPair, 0),
    };
    Attributes {
        lifetime: Lifetime::Persistent,
        key_type,
        bits,
        policy: Policy { usage_flags, permitted_algorithms: psa_signature(algorithm).into() },
    }
}

fn curve_bits(curve: EcCurve) -> usize {
    match curve {
        EcCurve::P384 => 384,
        _ => 256,
    }
}

/// The proofmark algorithm a key's attributes allow, or why there is none.
pub(crate) fn algorithm_of(attributes: &Attributes) -> Result<SignatureAlgorithm, String> {
    if !attributes.policy.usage_flags.sign_hash() {
        return Err("its policy does not allow signing hashes (sign_hash)".to_owned());
    }
    let Algorithm::AsymmetricSignature(permitted) = attributes.policy.permitted_algorithms else {
        return Err(format!(
            "its policy permits {:?}, not a signature algorithm",
            attributes.policy.permitted_algorithms
        ));
    };
    let hash_ok = |want: HashAlgorithm, got: SignHash| match got {
        SignHash::Any => true,
        SignHash::Specific(h) => h == psa_hash(want),
    };
    let found = match (attributes.key_type, permitted) {
        (
            Type::EccKeyPair { curve_family: EccFamily::SecpR1 },
            AsymmetricSignature::Ecdsa { hash_alg },
        ) => {
            let curve = match attributes.bits {
                256 => Some(EcCurve::P256),
                384 => Some(EcCurve::P384),
                _ => None,
            };
            curve.map(SignatureAlgorithm::ecdsa).filter(|a| hash_ok(a.hash(), hash_alg))
        }
        (Type::RsaKeyPair, AsymmetricSignature::RsaPkcs1v15Sign { hash_alg }) => {
            SignatureAlgorithm::rsa(RsaPadding::Pkcs1v15, attributes.bits as u32)
                .filter(|a| hash_ok(a.hash(), hash_alg))
        }
        (Type::RsaKeyPair, AsymmetricSignature::RsaPss { hash_alg }) => {
            SignatureAlgorithm::rsa(RsaPadding::Pss, attributes.bits as u32)
                .filter(|a| hash_ok(a.hash(), hash_alg))
        }
        _ => None,
    };
    found.ok_or_else(|| {
        format!(
            "a {}-bit {:?} key permitted {permitted:?} is not one of proofmark's algorithms \
             (ECDSA P-256/SHA-256, P-384/SHA-384, RSA 2048/3072 PKCS#1 v1.5 or PSS with SHA-256)",
            attributes.bits, attributes.key_type
        )
    })
}

/// Wraps a PKCS#1 `RSAPublicKey` (what PSA exports for RSA) in a `SubjectPublicKeyInfo`.
fn rsa_spki(pkcs1: &[u8]) -> Result<Vec<u8>, proofmark_types::PublicKeyError> {
    use spki::der::Encode as _;
    use spki::der::asn1::{AnyRef, BitStringRef};
    const RSA_ENCRYPTION: spki::ObjectIdentifier =
        spki::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
    let bad = |e: spki::der::Error| proofmark_types::PublicKeyError::Malformed(e.into());
    let info = spki::SubjectPublicKeyInfoRef {
        algorithm: spki::AlgorithmIdentifierRef {
            oid: RSA_ENCRYPTION,
            parameters: Some(AnyRef::NULL),
        },
        subject_public_key: BitStringRef::from_bytes(pkcs1).map_err(bad)?,
    };
    info.to_der().map_err(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        assert_eq!(socket_path("unix:/run/p.sock").ok(), Some(PathBuf::from("/run/p.sock")));
        assert_eq!(socket_path("unix:///run/p.sock").ok(), Some(PathBuf::from("/run/p.sock")));
        for bad in ["tcp://1.2.3.4:5", "/run/p.sock", "unix:relative"] {
            assert!(matches!(socket_path(bad), Err(ParsecError::InvalidEndpoint { .. })), "{bad}");
        }
    }

    #[test]
    fn missing_socket_means_service_not_running() {
        let err = Parsec::connect(Some("unix:/nonexistent/parsec.sock".to_owned()), None)
            .err()
            .map(|e| e.to_string());
        expect_test::expect![[r#"
            Some(
                "the Parsec service is not running at unix:/nonexistent/parsec.sock: start it (`systemctl start parsec`) or point PARSEC_SERVICE_ENDPOINT at the right socket",
            )
        "#]]
        .assert_debug_eq(&err);
    }

    #[test]
    fn attributes_round_trip_to_algorithms() {
        for algorithm in SignatureAlgorithm::ALL {
            assert_eq!(algorithm_of(&attributes_for(algorithm)), Ok(algorithm), "{algorithm}");
        }
    }

    #[test]
    fn keys_proofmark_cannot_use_are_explained() {
        let mut attributes = attributes_for(SignatureAlgorithm::EcdsaP256Sha256);
        attributes.policy.permitted_algorithms =
            AsymmetricSignature::Ecdsa { hash_alg: SignHash::Specific(Hash::Sha384) }.into();
        let reason = algorithm_of(&attributes).err().unwrap_or_default();
        assert!(reason.contains("not one of proofmark's algorithms"), "{reason}");
        attributes.policy.usage_flags = UsageFlags::default();
        let reason = algorithm_of(&attributes).err().unwrap_or_default();
        assert!(reason.contains("sign_hash"), "{reason}");
    }
}
