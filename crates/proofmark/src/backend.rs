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
    let signer: Box<dyn Signer> = match key {
        KeyRef::File(path) => open_file_key(path, opts.algorithm)?,
        KeyRef::TpmKeyFile(_) | KeyRef::TpmPersistent(_) => {
            let tcti = crate::tpm::tcti(opts.tcti)?;
            let auth = auth_from_env(opts.auth_env)?;
            Box::new(
                TpmSigner::open_key_ref(&tcti, key, auth)
                    .with_context(|| format!("cannot open the TPM key {key}"))?,
            )
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

/// The public key behind `key`, without signing anything (a TPM key file needs no TPM). A key
/// file may hold the public key itself (PEM or DER), as `verify --key cosign.pub` has it.
pub(crate) fn public_key(key: &KeyRef, opts: Options<'_>) -> anyhow::Result<PublicKey> {
    Ok(public_key_and_algorithm(key, opts)?.0)
}

/// [`public_key`], with the signature algorithm when the key says it (TPM and Parsec keys do;
/// an RSA file key does not choose between PKCS#1 v1.5 and PSS).
pub(crate) fn public_key_and_algorithm(
    key: &KeyRef,
    opts: Options<'_>,
) -> anyhow::Result<(PublicKey, Option<SignatureAlgorithm>)> {
    match key {
        KeyRef::TpmKeyFile(path) => {
            let file = proofmark_tpm::KeyFile::load(path)
                .with_context(|| format!("cannot read the TPM key file {}", path.display()))?;
            Ok((file.public_key()?, Some(file.algorithm())))
        }
        KeyRef::TpmPersistent(handle) => {
            let mut tpm = crate::tpm::connect(opts.tcti)?;
            let (algorithm, public) = tpm
                .read_persistent(*handle)
                .with_context(|| format!("cannot read the key persisted at {handle}"))?;
            Ok((public, Some(algorithm)))
        }
        KeyRef::File(_) => Ok((file_public_key(key, opts)?, None)),
        _ => {
            let signer = open_signer(key, opts)?;
            Ok((signer.public_key().clone(), Some(signer.algorithm())))
        }
    }
}

fn file_public_key(key: &KeyRef, opts: Options<'_>) -> anyhow::Result<PublicKey> {
    match key {
        KeyRef::File(path) => {
            let bytes = crate::fsutil::read(path, "key")?;
            if bytes.starts_with(b"-----BEGIN PUBLIC KEY-----") {
                return PublicKey::from_pem(&bytes)
                    .with_context(|| format!("{} is not a usable PEM public key", path.display()));
            }
            match PublicKey::from_der(&bytes) {
                Ok(public) => Ok(public),
                Err(_) => Ok(open_file_key(path, opts.algorithm)?.public_key().clone()),
            }
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

/// The PEM labels of cosign's encrypted private keys (`cosign generate-key-pair`).
const COSIGN_KEY_HEADERS: [&[u8]; 2] = [
    b"-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----",
    b"-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----",
];

/// A private key file: PKCS#8 (PEM or DER) or a cosign key, whose password comes from
/// `COSIGN_PASSWORD` (else the terminal), as cosign reads it.
fn open_file_key(
    path: &Path,
    algorithm: Option<SignatureAlgorithm>,
) -> anyhow::Result<Box<dyn Signer>> {
    let bytes = crate::fsutil::read(path, "private key")?;
    if COSIGN_KEY_HEADERS.iter().any(|h| bytes.starts_with(h)) {
        let password = crate::image::password(false)?;
        let signer = proofmark_cosign::decrypt_private_key(&bytes, password.as_bytes())
            .with_context(|| format!("cannot open the cosign key {}", path.display()))?;
        return Ok(Box::new(signer));
    }
    let signer = if bytes.starts_with(b"-----BEGIN") {
        SoftwareSigner::from_pkcs8_pem(&bytes, algorithm)
    } else {
        SoftwareSigner::from_pkcs8_der(&bytes, algorithm)
    };
    let signer = signer.with_context(|| {
        format!(
            "{} is not a key proofmark can use (expected a PKCS#8 private key, \
             `-----BEGIN PRIVATE KEY-----` PEM or DER, as `openssl genpkey` or `proofmark key \
             generate PATH` write, or a cosign key from `cosign generate-key-pair`)",
            path.display()
        )
    })?;
    Ok(Box::new(signer))
}
