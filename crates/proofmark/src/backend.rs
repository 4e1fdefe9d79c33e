//! From a key reference to a [`Signer`]: the one place that knows every backend.

use std::path::Path;

use anyhow::{Context, bail};
use proofmark_tpm::{AuthValue, TpmSigner};
use proofmark_types::{KeyRef, PublicKey, SignatureAlgorithm, Signer, SoftwareSigner};

/// What opening a key may need besides the reference.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Options<'a> {
    /// The scheme, where the key allows several (RSA files: PKCS#1 v1.5 or PSS).
    pub(crate) algorithm: Option<SignatureAlgorithm>,
    /// `--tcti`, for TPM keys.
    pub(crate) tcti: Option<&'a str>,
    /// The name of an environment variable holding a TPM key's user-chosen auth value.
    pub(crate) auth_env: Option<&'a str>,
}

/// Opens the signer behind `key`.
pub(crate) fn open_signer(key: &KeyRef, opts: Options<'_>) -> anyhow::Result<Box<dyn Signer>> {
    let signer: Box<dyn Signer> =
        match key {
            KeyRef::File(path) => Box::new(open_file_key(path, opts.algorithm)?),
            KeyRef::TpmKeyFile(_) | KeyRef::TpmPersistent(_) => {
                let tcti = crate::tpm::tcti(opts.tcti)?;
                let auth = auth_from_env(opts.auth_env)?;
                Box::new(TpmSigner::open_key_ref(&tcti, key, auth).with_context(|| {
                    format!("cannot open the TPM key {key} at {}", tcti.as_str())
                })?)
            }
            KeyRef::Parsec { name, provider } => {
                // The endpoint comes from PARSEC_SERVICE_ENDPOINT, else the default socket.
                let parsec = proofmark_parsec::Parsec::connect_from_env(*provider)
                    .with_context(|| format!("cannot open the Parsec key {key}"))?;
                Box::new(
                    proofmark_parsec::ParsecSigner::open(parsec, name)
                        .with_context(|| format!("cannot open the Parsec key {key}"))?,
                )
            }
            other => bail!("unsupported key reference {other}"),
        };
    if let Some(wanted) = opts.algorithm {
        if signer.algorithm() != wanted {
            bail!("the key {key} signs with {}, not {wanted}", signer.algorithm());
        }
    }
    Ok(signer)
}

/// The public key behind `key`, without signing anything (a TPM key file needs no TPM).
pub(crate) fn public_key(key: &KeyRef, opts: Options<'_>) -> anyhow::Result<PublicKey> {
    match key {
        KeyRef::TpmKeyFile(path) => proofmark_tpm::KeyFile::load(path)
            .and_then(|k| k.public_key())
            .with_context(|| format!("cannot read the TPM key file {}", path.display())),
        KeyRef::TpmPersistent(handle) => {
            let mut tpm = crate::tpm::connect(opts.tcti)?;
            let (_, public) = tpm
                .read_persistent(*handle)
                .with_context(|| format!("cannot read the key persisted at {handle}"))?;
            Ok(public)
        }
        _ => Ok(open_signer(key, opts)?.public_key().clone()),
    }
}

/// A user-chosen TPM auth value from the named environment variable.
pub(crate) fn auth_from_env(var: Option<&str>) -> anyhow::Result<Option<AuthValue>> {
    let Some(var) = var else { return Ok(None) };
    let value = std::env::var(var)
        .with_context(|| format!("--auth-env names {var}, which is not set (or not UTF-8)"))?;
    let auth = AuthValue::new(value.into_bytes())
        .with_context(|| format!("the auth value in {var} is not usable"))?;
    Ok(Some(auth))
}

fn open_file_key(
    path: &Path,
    algorithm: Option<SignatureAlgorithm>,
) -> anyhow::Result<SoftwareSigner> {
    let bytes = crate::fsutil::read(path, "private key")?;
    let signer = if bytes.starts_with(b"-----BEGIN") {
        SoftwareSigner::from_pkcs8_pem(&bytes, algorithm)
    } else {
        SoftwareSigner::from_pkcs8_der(&bytes, algorithm)
    };
    signer.with_context(|| {
        format!(
            "{} is not a usable PKCS#8 private key (expected `-----BEGIN PRIVATE KEY-----` PEM or \
             DER, as `openssl genpkey` or `proofmark key generate file:PATH` write)",
            path.display()
        )
    })
}
