//! `proofmark sign-blob` and `proofmark verify-blob`, compatible with cosign's: the signature is
//! base64 of the DER (ECDSA) or raw (RSA) signature over the file's hash.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use proofmark_types::{
    Digest, EcCurve, HashAlgorithm, KeyKind, KeyRef, PublicKey, RsaPadding, Signature,
    SignatureAlgorithm, VerifyError,
};

#[derive(clap::Args, Debug)]
pub(crate) struct SignBlobArgs {
    /// The signing key: `file:PATH`, `tpm:PATH`, `tpm:0x81xxxxxx`, `parsec://NAME`.
    #[arg(long)]
    key: KeyRef,
    /// For RSA keys, the scheme (e.g. `rsa-sign-pss-2048-sha256`); EC keys imply theirs.
    #[arg(long)]
    signing_algorithm: Option<SignatureAlgorithm>,
    /// TPM keys with a user-chosen auth value: the environment variable that holds it.
    #[arg(long)]
    auth_env: Option<String>,
    /// Also write the base64 signature to this file.
    #[arg(long)]
    output_signature: Option<PathBuf>,
    /// The file to sign.
    file: PathBuf,
}

#[derive(clap::Args, Debug)]
pub(crate) struct VerifyBlobArgs {
    /// The public key, PEM (or DER) SubjectPublicKeyInfo.
    #[arg(long)]
    key: PathBuf,
    /// The signature file: base64 (as `sign-blob` prints it) or raw bytes.
    #[arg(long)]
    signature: PathBuf,
    /// The scheme, where the key allows several (RSA: PKCS#1 v1.5 by default).
    #[arg(long)]
    signing_algorithm: Option<SignatureAlgorithm>,
    /// The file that was signed.
    file: PathBuf,
}

pub(crate) fn sign(args: &SignBlobArgs, tcti: Option<&str>) -> anyhow::Result<ExitCode> {
    let opts = crate::backend::Options {
        algorithm: args.signing_algorithm,
        tcti,
        auth_env: args.auth_env.as_deref(),
    };
    let signer = crate::backend::open_signer(&args.key, opts)?;
    let digest = hash_file(&args.file, signer.algorithm().hash())?;
    let signature = signer
        .sign_digest(&digest)
        .with_context(|| format!("signing {} with {}", args.file.display(), args.key))?;
    let encoded = BASE64.encode(signature.as_bytes());
    if let Some(out) = &args.output_signature {
        crate::fsutil::write_atomic(out, encoded.as_bytes(), 0o644, true)?;
    }
    println!("{encoded}");
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn verify(args: &VerifyBlobArgs) -> anyhow::Result<ExitCode> {
    let key_bytes = crate::fsutil::read(&args.key, "public key")?;
    let key = if key_bytes.starts_with(b"-----BEGIN") {
        PublicKey::from_pem(&key_bytes)
    } else {
        PublicKey::from_der(&key_bytes)
    }
    .with_context(|| format!("{} is not a PEM or DER public key", args.key.display()))?;
    let algorithm = match args.signing_algorithm {
        Some(a) => a,
        None => default_algorithm(key.key_kind())?,
    };
    let raw = read_signature(&args.signature)?;
    let signature = Signature::new(algorithm, &raw)
        .with_context(|| format!("{} is not a {algorithm} signature", args.signature.display()))?;
    let digest = hash_file(&args.file, algorithm.hash())?;
    match proofmark_types::verify(&key, algorithm, &digest, &signature) {
        Ok(()) => {
            eprintln!("Verified OK");
            Ok(ExitCode::SUCCESS)
        }
        Err(VerifyError::BadSignature) => {
            eprintln!(
                "error: the signature in {} does not match {} under the key {} ({})",
                args.signature.display(),
                args.file.display(),
                args.key.display(),
                key.fingerprint_sha256()
            );
            Ok(ExitCode::from(crate::exit::INVALID_SIGNATURE))
        }
        Err(other) => Err(other).context("cannot verify"),
    }
}

/// The scheme a key implies when none is given: its curve for EC, PKCS#1 v1.5 for RSA.
fn default_algorithm(kind: KeyKind) -> anyhow::Result<SignatureAlgorithm> {
    match kind {
        KeyKind::Ec(EcCurve::P256) => Ok(SignatureAlgorithm::EcdsaP256Sha256),
        KeyKind::Ec(EcCurve::P384) => Ok(SignatureAlgorithm::EcdsaP384Sha384),
        KeyKind::Rsa { bits } => SignatureAlgorithm::rsa(RsaPadding::Pkcs1v15, bits)
            .with_context(|| format!("RSA keys of {bits} bits are not supported (2048 or 3072)")),
        other => bail!("unsupported key kind {other}"),
    }
}

/// Base64 text when it decodes, otherwise the raw bytes.
fn read_signature(path: &Path) -> anyhow::Result<Vec<u8>> {
    let bytes = crate::fsutil::read(path, "signature")?;
    let text: Vec<u8> = bytes.iter().copied().filter(|b| !b.is_ascii_whitespace()).collect();
    Ok(BASE64.decode(&text).unwrap_or(bytes))
}

/// Hashes a file in chunks, so a multi-gigabyte artifact needs no more memory than a small one.
fn hash_file(path: &Path, algorithm: HashAlgorithm) -> anyhow::Result<Digest> {
    use sha2::Digest as _;
    let mut file = std::fs::File::open(path)
        .with_context(|| format!("cannot open the file to hash, {}", path.display()))?;
    let mut buf = vec![0u8; 1 << 16];
    macro_rules! stream {
        ($hasher:expr) => {{
            let mut h = $hasher;
            loop {
                let n = file
                    .read(&mut buf)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                if n == 0 {
                    break;
                }
                h.update(&buf[..n]);
            }
            h.finalize().to_vec()
        }};
    }
    let bytes = match algorithm {
        HashAlgorithm::Sha256 => stream!(sha2::Sha256::new()),
        HashAlgorithm::Sha384 => stream!(sha2::Sha384::new()),
        HashAlgorithm::Sha512 => stream!(sha2::Sha512::new()),
        other => bail!("unsupported hash {other}"),
    };
    Ok(Digest::new(algorithm, &bytes)?)
}
