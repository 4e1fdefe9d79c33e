//! The sigstore KMS CLI-plugin protocol, version `v1`, for any proofmark [`Signer`] backend.
//!
//! cosign (≥ 2.4.3) turns a key reference `NAME://REST` that no built-in KMS claims into a run
//! of the program `sigstore-kms-NAME` found on `PATH`, once per method call:
//!
//! ```text
//! sigstore-kms-NAME v1 '{"initOptions":{…,"keyResourceID":"REST","hashFunc":5},"methodName":"signMessage","signMessage":{…}}'
//! ```
//!
//! with the message (for `signMessage` and `verifySignature`) on stdin. The program writes one
//! JSON response to stdout; failures go in its `errorMessage` (the exit status is ignored).
//! Byte fields are base64 (Go's `[]byte`), hash functions are Go `crypto.Hash` numbers
//! (SHA-256 = 5, SHA-384 = 6, SHA-512 = 7). The schema is `pkg/signature/kms/cliplugin/common`
//! in `sigstore/sigstore`; [`handle`] implements every method over a [`KmsBackend`].

use std::io::Read;

use proofmark_types::{
    Digest, HashAlgorithm, PublicKey, Signature, SignatureAlgorithm, Signer, verify, verify_message,
};
use serde::{Deserialize, Serialize};

/// The protocol version cosign passes as the first argument and in `initOptions`.
pub const PROTOCOL_VERSION: &str = "v1";

/// What a plugin program needs from a key store.
pub trait KmsBackend {
    /// The algorithm `createKey` uses when cosign asks for the default (`generate-key-pair`):
    /// ECDSA P-256 with SHA-256 unless a backend says otherwise.
    fn default_algorithm(&self) -> SignatureAlgorithm {
        SignatureAlgorithm::EcdsaP256Sha256
    }

    /// The algorithms this backend can create keys for: all of ours unless a backend says
    /// otherwise.
    fn supported_algorithms(&self) -> Vec<SignatureAlgorithm> {
        SignatureAlgorithm::ALL.to_vec()
    }

    /// Creates the key named by `key_resource_id` (the part of the key reference after `://`).
    fn create_key(
        &self,
        key_resource_id: &str,
        algorithm: SignatureAlgorithm,
    ) -> Result<PublicKey, Box<dyn std::error::Error>>;

    /// Opens the existing key named by `key_resource_id` for signing.
    fn signer(&self, key_resource_id: &str) -> Result<Box<dyn Signer>, Box<dyn std::error::Error>>;
}

/// `initOptions`: sent with every call.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InitOptions {
    /// RFC 3339 deadline of the whole operation, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ctx_deadline: Option<String>,
    /// `v1`.
    pub protocol_version: String,
    /// The key reference after `NAME://`.
    #[serde(rename = "keyResourceID")]
    pub key_resource_id: String,
    /// The Go `crypto.Hash` the signer verifier was loaded with.
    #[serde(default)]
    pub hash_func: u32,
    /// RPC options given when the plugin was loaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpc_options: Option<RpcOptions>,
}

/// `rpcOptions`: KMS call options. proofmark's backends ignore them (no key versions).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RpcOptions {
    /// RFC 3339 deadline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ctx_deadline: Option<String>,
    /// A KMS key version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_version: Option<String>,
    /// Whether the KMS should verify remotely.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_verification: Option<bool>,
}

/// `messageOptions`: a precomputed digest and its hash.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageOptions {
    /// The digest (base64 in JSON); when present it is signed instead of hashing stdin.
    #[serde(default, with = "b64_opt", skip_serializing_if = "Option::is_none")]
    pub digest: Option<Vec<u8>>,
    /// The Go `crypto.Hash` of the digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash_func: Option<u32>,
}

/// `createKey` arguments.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateKeyArgs {
    /// RFC 3339 deadline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ctx_deadline: Option<String>,
    /// A sigstore algorithm name, e.g. `ecdsa-sha2-256-nistp256`.
    pub algorithm: String,
}

/// `publicKey` arguments.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublicKeyArgs {
    /// Options.
    #[serde(default)]
    pub public_key_options: Option<PublicKeyOptions>,
}

/// `publicKeyOptions`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublicKeyOptions {
    /// RPC options.
    #[serde(default)]
    pub rpc_options: RpcOptions,
}

/// `signMessage` arguments.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignMessageArgs {
    /// Options.
    #[serde(default)]
    pub sign_options: Option<MessageCallOptions>,
}

/// `signOptions` / `verifyOptions`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageCallOptions {
    /// RPC options.
    #[serde(default)]
    pub rpc_options: RpcOptions,
    /// Digest options.
    #[serde(default)]
    pub message_options: MessageOptions,
}

/// `verifySignature` arguments.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifySignatureArgs {
    /// The signature (base64 in JSON).
    #[serde(default, with = "b64_opt")]
    pub signature: Option<Vec<u8>>,
    /// Options.
    #[serde(default)]
    pub verify_options: Option<MessageCallOptions>,
}

/// An argument-less method's arguments (`{}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoArgs {}

/// The JSON of the second argument.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PluginArgs {
    /// Sent with every call.
    pub init_options: InitOptions,
    /// `defaultAlgorithm`, `supportedAlgorithms`, `createKey`, `publicKey`, `signMessage` or
    /// `verifySignature`.
    pub method_name: String,
    /// `defaultAlgorithm` arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_algorithm: Option<NoArgs>,
    /// `supportedAlgorithms` arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supported_algorithms: Option<NoArgs>,
    /// `createKey` arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_key: Option<CreateKeyArgs>,
    /// `publicKey` arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<PublicKeyArgs>,
    /// `signMessage` arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sign_message: Option<SignMessageArgs>,
    /// `verifySignature` arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify_signature: Option<VerifySignatureArgs>,
}

/// `{"defaultAlgorithm": NAME}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DefaultAlgorithmResp {
    /// The algorithm name.
    pub default_algorithm: String,
}

/// `{"supportedAlgorithms": [NAME…]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SupportedAlgorithmsResp {
    /// The algorithm names.
    pub supported_algorithms: Vec<String>,
}

/// `{"publicKeyPEM": base64(PEM)}`, for `createKey` and `publicKey`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicKeyResp {
    /// The PEM `PUBLIC KEY` block's bytes.
    #[serde(rename = "publicKeyPEM", with = "b64")]
    pub public_key_pem: Vec<u8>,
}

/// `{"signature": base64(sig)}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignMessageResp {
    /// DER for ECDSA, raw for RSA.
    #[serde(with = "b64")]
    pub signature: Vec<u8>,
}

/// The one JSON object a plugin writes to stdout.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PluginResp {
    /// Why the call failed; empty (and omitted) on success.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub error_message: String,
    /// `defaultAlgorithm` result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_algorithm: Option<DefaultAlgorithmResp>,
    /// `supportedAlgorithms` result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supported_algorithms: Option<SupportedAlgorithmsResp>,
    /// `createKey` result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_key: Option<PublicKeyResp>,
    /// `publicKey` result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<PublicKeyResp>,
    /// `signMessage` result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sign_message: Option<SignMessageResp>,
    /// `verifySignature` result: present and empty on success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify_signature: Option<NoArgs>,
}

impl PluginResp {
    /// A response carrying only an error message.
    #[must_use]
    pub fn error(message: impl Into<String>) -> Self {
        Self { error_message: message.into(), ..Self::default() }
    }
}

/// The Go `crypto.Hash` number of a hash.
#[must_use]
pub const fn go_hash(hash: HashAlgorithm) -> u32 {
    match hash {
        HashAlgorithm::Sha384 => 6,
        HashAlgorithm::Sha512 => 7,
        _ => 5,
    }
}

/// The whole `main` of a plugin binary: reads the process's arguments and standard input, runs
/// [`handle`], and writes the one JSON response to standard output, as the protocol requires.
///
/// Fails (exit status 1) when the response carries an error; cosign ignores the status, but a
/// person running the plugin by hand sees it.
pub fn run_plugin(backend: &dyn KmsBackend) -> std::process::ExitCode {
    use std::io::Write as _;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let resp = handle(&args, std::io::stdin().lock(), backend);
    let failed = !resp.error_message.is_empty();
    // Serialising these plain structs cannot fail; fall back to a hand-written error anyway.
    let json = serde_json::to_string(&resp)
        .unwrap_or_else(|e| format!("{{\"errorMessage\":\"cannot encode the response: {e}\"}}"));
    let written = writeln!(std::io::stdout().lock(), "{json}");
    if failed || written.is_err() {
        std::process::ExitCode::FAILURE
    } else {
        std::process::ExitCode::SUCCESS
    }
}

/// Runs one plugin call: `args` are the program's arguments after its name (`[v1, JSON]`),
/// `stdin` the message. Never fails: errors become [`PluginResp::error_message`].
pub fn handle(args: &[String], stdin: impl Read, backend: &dyn KmsBackend) -> PluginResp {
    match dispatch(args, stdin, backend) {
        Ok(resp) => resp,
        Err(message) => PluginResp::error(message),
    }
}

fn dispatch(
    args: &[String],
    mut stdin: impl Read,
    backend: &dyn KmsBackend,
) -> Result<PluginResp, String> {
    let [version, json] = args else {
        return Err(format!(
            "expected 2 arguments (protocol version, JSON), got {}; this program is a sigstore \
             KMS plugin run by cosign",
            args.len()
        ));
    };
    if version != PROTOCOL_VERSION {
        return Err(format!(
            "unsupported protocol version `{version}`; this plugin speaks {PROTOCOL_VERSION}"
        ));
    }
    let args: PluginArgs =
        serde_json::from_str(json).map_err(|e| format!("malformed plugin arguments: {e}"))?;
    let key_id = args.init_options.key_resource_id.as_str();
    let mut resp = PluginResp::default();
    match args.method_name.as_str() {
        "defaultAlgorithm" => {
            let default_algorithm = backend.default_algorithm().name().to_owned();
            resp.default_algorithm = Some(DefaultAlgorithmResp { default_algorithm });
        }
        "supportedAlgorithms" => {
            let supported_algorithms =
                backend.supported_algorithms().iter().map(|a| a.name().to_owned()).collect();
            resp.supported_algorithms = Some(SupportedAlgorithmsResp { supported_algorithms });
        }
        "createKey" => {
            let name = args.create_key.map(|c| c.algorithm).unwrap_or_default();
            let algorithm = if name.is_empty() {
                backend.default_algorithm()
            } else {
                name.parse::<SignatureAlgorithm>().map_err(|e| e.to_string())?
            };
            let key = backend.create_key(key_id, algorithm).map_err(|e| chain(&*e))?;
            resp.create_key = Some(PublicKeyResp { public_key_pem: key.to_pem().into_bytes() });
        }
        "publicKey" => {
            let signer = backend.signer(key_id).map_err(|e| chain(&*e))?;
            let pem = signer.public_key().to_pem().into_bytes();
            resp.public_key = Some(PublicKeyResp { public_key_pem: pem });
        }
        "signMessage" => {
            let options = args.sign_message.and_then(|s| s.sign_options).unwrap_or_default();
            let message = read_all(&mut stdin)?;
            let signer = backend.signer(key_id).map_err(|e| chain(&*e))?;
            let hash = signing_hash(&*signer, &options.message_options, &args.init_options)?;
            let signature = match options.message_options.digest {
                Some(digest) => {
                    let digest = Digest::new(hash, &digest).map_err(|e| e.to_string())?;
                    signer.sign_digest(&digest)
                }
                None => signer.sign(&message),
            }
            .map_err(|e| chain(&e))?;
            resp.sign_message = Some(SignMessageResp { signature: signature.into_bytes() });
        }
        "verifySignature" => {
            let verify_args = args.verify_signature.unwrap_or_default();
            let options = verify_args.verify_options.unwrap_or_default();
            let message = read_all(&mut stdin)?;
            let signer = backend.signer(key_id).map_err(|e| chain(&*e))?;
            let algorithm = signer.algorithm();
            let hash = signing_hash(&*signer, &options.message_options, &args.init_options)?;
            let bytes = verify_args.signature.unwrap_or_default();
            let signature = Signature::new(algorithm, &bytes).map_err(|e| chain(&e))?;
            let key = signer.public_key();
            match options.message_options.digest {
                Some(digest) => {
                    let digest = Digest::new(hash, &digest).map_err(|e| e.to_string())?;
                    verify(key, algorithm, &digest, &signature)
                }
                None => verify_message(key, algorithm, &message, &signature),
            }
            .map_err(|e| chain(&e))?;
            resp.verify_signature = Some(NoArgs {});
        }
        other => return Err(format!("unknown method `{other}`")),
    }
    Ok(resp)
}

/// The hash the caller means: the message options' `hashFunc`, else the one the plugin was
/// loaded with, else (0, unset) the key's. It must be the key's: our keys are bound to one.
fn signing_hash(
    signer: &dyn Signer,
    options: &MessageOptions,
    init: &InitOptions,
) -> Result<HashAlgorithm, String> {
    let hash = signer.algorithm().hash();
    let asked = options.hash_func.filter(|h| *h != 0).unwrap_or(init.hash_func);
    if asked != 0 && asked != go_hash(hash) {
        return Err(format!(
            "the key signs with {} (crypto.Hash {}), but hashFunc {asked} was requested",
            signer.algorithm(),
            go_hash(hash)
        ));
    }
    Ok(hash)
}

fn read_all(stdin: &mut impl Read) -> Result<Vec<u8>, String> {
    let mut message = Vec::new();
    stdin.read_to_end(&mut message).map_err(|e| format!("reading the message from stdin: {e}"))?;
    Ok(message)
}

/// An error and its sources, `outer: inner: root`, since cosign shows only this string.
#[must_use]
pub fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

mod b64 {
    //! Go's `[]byte` JSON form: standard, padded base64.
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize as _, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        // Go encodes a nil slice as null.
        let text = Option::<String>::deserialize(d)?.unwrap_or_default();
        STANDARD.decode(text).map_err(serde::de::Error::custom)
    }
}

mod b64_opt {
    //! An optional `[]byte` (`*[]byte` in Go): absent or null is `None`.
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize as _, Deserializer, Serializer};

    #[allow(clippy::ref_option)] // serde's `with` hands us `&Option<T>`
    pub(super) fn serialize<S: Serializer>(
        bytes: &Option<Vec<u8>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match bytes {
            Some(b) => s.serialize_str(&STANDARD.encode(b)),
            None => s.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Vec<u8>>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|text| STANDARD.decode(text).map_err(serde::de::Error::custom))
            .transpose()
    }
}

/// The Parsec backend of `sigstore-kms-parsec`: `parsec://NAME[?provider=P]` key references,
/// so the key resource ID is `NAME[?provider=P]`.
#[derive(Debug, Clone, Default)]
pub struct ParsecKms {
    /// The service endpoint; `None` for the default socket.
    pub endpoint: Option<String>,
}

impl ParsecKms {
    /// A backend reading the endpoint from `PARSEC_SERVICE_ENDPOINT`, as the plugin does.
    #[must_use]
    pub fn from_env() -> Self {
        Self { endpoint: crate::endpoint_from_env() }
    }

    fn parse(
        key_resource_id: &str,
    ) -> Result<(String, Option<proofmark_types::ParsecProvider>), String> {
        let key: proofmark_types::KeyRef = format!("parsec://{key_resource_id}")
            .parse()
            .map_err(|e: proofmark_types::KeyRefError| e.to_string())?;
        match key {
            proofmark_types::KeyRef::Parsec { name, provider } => Ok((name, provider)),
            other => Err(format!("`{other}` is not a Parsec key")),
        }
    }
}

impl KmsBackend for ParsecKms {
    fn create_key(
        &self,
        key_resource_id: &str,
        algorithm: SignatureAlgorithm,
    ) -> Result<PublicKey, Box<dyn std::error::Error>> {
        let (name, provider) = Self::parse(key_resource_id)?;
        let parsec = crate::Parsec::connect(self.endpoint.clone(), provider)?;
        Ok(parsec.create_key(&name, algorithm)?)
    }

    fn signer(&self, key_resource_id: &str) -> Result<Box<dyn Signer>, Box<dyn std::error::Error>> {
        let (name, provider) = Self::parse(key_resource_id)?;
        let parsec = crate::Parsec::connect(self.endpoint.clone(), provider)?;
        Ok(Box::new(crate::ParsecSigner::open(parsec, &name)?))
    }
}
