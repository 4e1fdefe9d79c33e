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
    /// The signing key: `PATH` or `file:PATH` (PKCS#8, or a cosign `cosign.key` whose password
    /// is read from `COSIGN_PASSWORD`), `tpm:PATH`, `tpm:0x81xxxxxx`, `parsec://NAME`.
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
    /// Also write a Sigstore bundle (v0.3, a message signature over the file's SHA-256 with
    /// the key's hint) to this file, as `cosign sign-blob --bundle`.
    #[arg(long, value_name = "FILE")]
    bundle: Option<PathBuf>,
    /// The file to sign.
    file: PathBuf,
}

#[derive(clap::Args, Debug)]
pub(crate) struct VerifyBlobArgs {
    /// The public key file, PEM (or DER) SubjectPublicKeyInfo, or any key reference `sign-blob`
    /// takes (`file:PATH`, `tpm:PATH`, `tpm:0x81xxxxxx`, `parsec://NAME`), whose public key is
    /// used.
    #[arg(long)]
    key: KeyRef,
    /// The signature file: base64 (as `sign-blob` prints it) or raw bytes.
    #[arg(long, required_unless_present = "bundle", conflicts_with = "bundle")]
    signature: Option<PathBuf>,
    /// A Sigstore bundle (message signature) instead of `--signature`, as `cosign
    /// verify-blob --bundle`; the key given is the only trust (no transparency log).
    #[arg(long, value_name = "FILE")]
    bundle: Option<PathBuf>,
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
    if let Some(out) = &args.bundle {
        if digest.algorithm() != HashAlgorithm::Sha256 {
            bail!(
                "a Sigstore bundle for cosign needs a SHA-256 signature; this key uses {}",
                digest.algorithm()
            );
        }
        let hint = proofmark_cosign::bundle::key_hint(signer.public_key());
        let bundle = proofmark_cosign::bundle::Bundle::message_signature(
            digest.as_bytes(),
            signature.as_bytes(),
            &hint,
        );
        crate::fsutil::write_atomic(out, &bundle.to_json(), 0o644, true)?;
    }
    if let Some(out) = &args.output_signature {
        crate::fsutil::write_atomic(out, encoded.as_bytes(), 0o644, true)?;
    }
    println!("{encoded}");
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn verify(args: &VerifyBlobArgs, tcti: Option<&str>) -> anyhow::Result<ExitCode> {
    let (key, key_algorithm) = crate::backend::public_key_and_algorithm(
        &args.key,
        crate::backend::Options { tcti, ..crate::backend::Options::default() },
    )?;
    // A TPM key knows its scheme; a public key file leaves RSA's padding to be said.
    let algorithm = match args.signing_algorithm.or(key_algorithm) {
        Some(a) => a,
        None => default_algorithm(key.key_kind())?,
    };
    let (signature_path, raw) = match (&args.bundle, &args.signature) {
        (Some(path), _) => (path, bundle_signature(path, &args.file)?),
        (None, Some(path)) => (path, read_signature(path)?),
        (None, None) => bail!("give --signature FILE or --bundle FILE"),
    };
    let signature = Signature::new(algorithm, &raw)
        .with_context(|| format!("{} is not a {algorithm} signature", signature_path.display()))?;
    let digest = hash_file(&args.file, algorithm.hash())?;
    match proofmark_types::verify(&key, algorithm, &digest, &signature) {
        Ok(()) => {
            eprintln!("Verified OK");
            Ok(ExitCode::SUCCESS)
        }
        Err(VerifyError::BadSignature) => {
            eprintln!(
                "error: the signature in {} does not match {} under the key {} ({})",
                signature_path.display(),
                args.file.display(),
                args.key,
                key.fingerprint_sha256()
            );
            if args.signing_algorithm.is_none() && key_algorithm.is_none() {
                if let Some(other) = other_rsa_scheme(&key, algorithm, &raw, &digest) {
                    eprintln!(
                        "hint: it is a valid {other} signature; this key's default scheme is \
                         {algorithm}: pass --signing-algorithm {other}"
                    );
                }
            }
            Ok(ExitCode::from(crate::exit::INVALID_SIGNATURE))
        }
        Err(other) => Err(other).context("cannot verify"),
    }
}

/// The other RSA padding under which `raw` is a valid signature of `digest`, if it is one: an
/// RSA-PSS signature checked with the PKCS#1 v1.5 default says so instead of only failing.
fn other_rsa_scheme(
    key: &PublicKey,
    tried: SignatureAlgorithm,
    raw: &[u8],
    digest: &Digest,
) -> Option<SignatureAlgorithm> {
    let KeyKind::Rsa { bits } = key.key_kind() else { return None };
    [RsaPadding::Pss, RsaPadding::Pkcs1v15]
        .into_iter()
        .filter_map(|padding| SignatureAlgorithm::rsa(padding, bits))
        .filter(|a| *a != tried && a.hash() == tried.hash())
        .find(|a| {
            Signature::new(*a, raw)
                .is_ok_and(|s| proofmark_types::verify(key, *a, digest, &s).is_ok())
        })
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

/// The signature of a message-signature bundle, after checking that the bundle records the
/// file's SHA-256 (a bundle for another file is refused by name, not as a bad signature).
fn bundle_signature(path: &Path, file: &Path) -> anyhow::Result<Vec<u8>> {
    use proofmark_cosign::bundle::{Bundle, Content};
    let bytes = crate::fsutil::read(path, "bundle")?;
    let bundle =
        Bundle::parse(&bytes).with_context(|| format!("reading the bundle {}", path.display()))?;
    let Content::MessageSignature { algorithm, digest, signature } = bundle.content else {
        bail!("{} holds a DSSE envelope, not a message signature over a file", path.display());
    };
    if algorithm != "SHA2_256" {
        bail!(
            "{}: message digest algorithm {algorithm}; only SHA2_256 is supported",
            path.display()
        );
    }
    let actual = hash_file(file, HashAlgorithm::Sha256)?;
    if actual.as_bytes() != digest.as_slice() {
        bail!(
            "the bundle {} is for another file: it records sha256:{}, {} is sha256:{}",
            path.display(),
            to_hex(&digest),
            file.display(),
            to_hex(actual.as_bytes())
        );
    }
    Ok(signature)
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
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
