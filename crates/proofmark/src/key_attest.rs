//! `proofmark key attest`, `key verify-attestation` and `key activate-credential`: evidence that
//! a signing key was born in a TPM and cannot leave it, checked without a TPM, and bound to the
//! TPM's endorsement key by a challenge the verifier makes (docs/tpm.md, "Key attestation").

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use proofmark_tpm::{AkAlgorithm, AttestedKey, KeyAttestation, KeyFile, StoredAuth};
use proofmark_types::tpm_attest::{
    AttestationError, Credential, KeyAttestationInput, TpmPublic, make_credential,
    verify_ek_certificate, verify_key_attestation,
};
use proofmark_types::{KeyRef, PublicKey};

use crate::Format;

/// The files of an attestation folder.
mod files {
    pub(super) const ATTEST: &str = "attest.bin";
    pub(super) const SIGNATURE: &str = "attest.sig";
    pub(super) const AK_PEM: &str = "ak.pub.pem";
    pub(super) const AK_PUBLIC: &str = "ak.pub";
    pub(super) const AK_PRIVATE: &str = "ak.priv";
    pub(super) const AK_NAME: &str = "ak.name";
    pub(super) const KEY_PUBLIC: &str = "key.pub";
    pub(super) const KEY_PEM: &str = "key.pub.pem";
    pub(super) const EK_PEM: &str = "ek.pub.pem";
    pub(super) const EK_CERT: &str = "ek.crt";
    pub(super) const CHALLENGE: &str = "challenge.cred";
    pub(super) const ANSWER: &str = "challenge.answer";
}

/// Exit code of `verify-attestation --ek-ca` when it issued a challenge and waits for the
/// TPM's answer: nothing is verified yet.
const CHALLENGE_ISSUED: u8 = 4;

#[derive(clap::Args, Debug)]
pub(crate) struct AttestArgs {
    /// The TPM key to attest: `tpm:PATH` or `tpm:0x81xxxxxx`.
    key: KeyRef,
    /// The verifier's nonce, hex (1 to 64 bytes): it ends up in the attestation's extraData.
    #[arg(long)]
    nonce: String,
    /// The folder to write (created; it must not exist or be empty).
    #[arg(long)]
    out: PathBuf,
    /// The attestation key's algorithm: `ecc-p256` (ECDSA-SHA256) or `rsa-2048` (RSASSA-SHA256).
    #[arg(long, default_value = "ecc-p256")]
    ak_algorithm: String,
    /// The key's user-chosen auth value is in this environment variable.
    #[arg(long, value_name = "VAR")]
    auth_env: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
}

#[derive(clap::Args, Debug)]
pub(crate) struct VerifyAttestationArgs {
    /// The signing key's public key (PEM or DER SubjectPublicKeyInfo).
    #[arg(long)]
    key: PathBuf,
    /// The attestation key the verifier trusts (PEM), e.g. the ak.pub.pem it recorded.
    #[arg(long)]
    ak: PathBuf,
    /// The nonce the verifier gave `key attest`, hex.
    #[arg(long)]
    nonce: String,
    /// Also bind the AK to the TPM's endorsement key: check DIR/ek.crt chains to these CA
    /// certificates (PEM) and challenge the TPM (needs --secret).
    #[arg(long, value_name = "PEM", requires = "secret")]
    ek_ca: Option<PathBuf>,
    /// With --ek-ca: the verifier's own file for the challenge's secret (mode 0600). The first
    /// run writes it and DIR/challenge.cred and exits with 4; after `key activate-credential DIR`
    /// the second run compares DIR/challenge.answer with it.
    #[arg(long, value_name = "FILE", requires = "ek_ca")]
    secret: Option<PathBuf>,
    /// The folder `key attest` wrote.
    dir: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
}

#[derive(clap::Args, Debug)]
pub(crate) struct ActivateArgs {
    /// The folder `key attest` wrote, with the verifier's challenge.cred in it.
    dir: PathBuf,
}

fn parse_nonce(hex_nonce: &str) -> anyhow::Result<Vec<u8>> {
    let nonce = hex::decode(hex_nonce.trim())
        .with_context(|| format!("--nonce {hex_nonce} is not hex (e.g. `openssl rand -hex 16`)"))?;
    if nonce.is_empty() || nonce.len() > 64 {
        bail!("--nonce must be 1 to 64 bytes, got {}", nonce.len());
    }
    Ok(nonce)
}

fn read(dir: &Path, name: &str) -> anyhow::Result<Vec<u8>> {
    let path = dir.join(name);
    std::fs::read(&path).with_context(|| {
        format!(
            "cannot read {}: is {} a folder `proofmark key attest` wrote?",
            path.display(),
            dir.display()
        )
    })
}

fn read_public_key(path: &Path, what: &str) -> anyhow::Result<PublicKey> {
    let bytes = crate::fsutil::read(path, what)?;
    let key = if bytes.starts_with(b"-----BEGIN") {
        PublicKey::from_pem(&bytes)
    } else {
        PublicKey::from_der(&bytes)
    };
    key.with_context(|| {
        format!("{} is not a public key (PEM or DER SubjectPublicKeyInfo)", path.display())
    })
}

/// `key attest`.
pub(crate) fn attest(args: &AttestArgs, tcti: Option<&str>) -> anyhow::Result<ExitCode> {
    let nonce = parse_nonce(&args.nonce)?;
    let ak_algorithm = match args.ak_algorithm.as_str() {
        "ecc-p256" => AkAlgorithm::EccP256,
        "rsa-2048" => AkAlgorithm::Rsa2048,
        other => bail!("--ak-algorithm {other}: use ecc-p256 or rsa-2048"),
    };
    let out = &args.out;
    if std::fs::read_dir(out).is_ok_and(|mut entries| entries.next().is_some()) {
        bail!("{} exists and is not empty; give a new folder to --out", out.display());
    }
    let tcti = crate::tpm::tcti(tcti)?;
    let user_auth = crate::backend::auth_from_env(args.auth_env.as_deref())?;
    let attestation = match &args.key {
        KeyRef::TpmKeyFile(path) => {
            let key = KeyFile::load(path)
                .with_context(|| format!("cannot read the TPM key file {}", path.display()))?;
            let auth = match key.auth() {
                StoredAuth::Random(value) => Some(value.clone()),
                StoredAuth::User if user_auth.is_none() => {
                    return Err(proofmark_tpm::TpmError::AuthRequired.into());
                }
                _ => user_auth,
            };
            let attested = AttestedKey::File { key: &key, auth: auth.as_ref() };
            proofmark_tpm::attest_key(&tcti, attested, &nonce, ak_algorithm)
        }
        KeyRef::TpmPersistent(handle) => {
            let attested = AttestedKey::Persistent { handle: *handle, auth: user_auth.as_ref() };
            proofmark_tpm::attest_key(&tcti, attested, &nonce, ak_algorithm)
        }
        other => bail!("`key attest` attests TPM keys (tpm:PATH, tpm:0x81xxxxxx), not {other}"),
    }
    .with_context(|| format!("the TPM could not attest {}", args.key))?;
    let written = write_folder(out, &attestation)?;
    match args.format {
        Format::Json => {
            let json = serde_json::json!({
                "key": args.key.to_string(),
                "dir": out.display().to_string(),
                "files": written,
                "ak": attestation.ak_key.fingerprint_sha256().to_string(),
                "ak_name": hex::encode(&attestation.ak_name),
                "ek_certificate": attestation.ek_certificate.is_some(),
            });
            println!("{}", serde_json::to_string_pretty(&json)?);
        }
        Format::Human => {
            println!(
                "certified {} with attestation key {}",
                args.key,
                attestation.ak_key.fingerprint_sha256()
            );
            println!("wrote {}: {}", out.display(), written.join(" "));
            if attestation.ek_certificate.is_none() {
                println!(
                    "note: this TPM has no RSA EK certificate (NV index 0x01c00002): the AK cannot be bound to a manufacturer's CA"
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes the attestation folder all at once: a temporary sibling folder, renamed into place.
fn write_folder(out: &Path, a: &KeyAttestation) -> anyhow::Result<Vec<&'static str>> {
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let tmp = tempfile::Builder::new()
        .prefix(".proofmark-attest-")
        .tempdir_in(parent)
        .with_context(|| format!("cannot create a folder in {}", parent.display()))?;
    let key_pem = TpmPublic::parse_tpm2b(&a.key_public)
        .ok()
        .and_then(|p| p.public_key().ok())
        .map(|k| k.to_pem())
        .context("the TPM returned a key public area this tool cannot read")?;
    let mut contents: Vec<(&'static str, Vec<u8>)> = vec![
        (files::ATTEST, a.attest.clone()),
        (files::SIGNATURE, a.signature.clone()),
        (files::AK_PEM, a.ak_key.to_pem().into_bytes()),
        (files::AK_PUBLIC, a.ak_public.clone()),
        (files::AK_PRIVATE, a.ak_private.clone()),
        (files::AK_NAME, a.ak_name.clone()),
        (files::KEY_PUBLIC, a.key_public.clone()),
        (files::KEY_PEM, key_pem.into_bytes()),
        (files::EK_PEM, a.ek_key.to_pem().into_bytes()),
    ];
    if let Some(cert) = &a.ek_certificate {
        contents.push((files::EK_CERT, cert.clone()));
    }
    for (name, bytes) in &contents {
        crate::fsutil::write_atomic(&tmp.path().join(name), bytes, 0o644, false)?;
    }
    // rename(2) replaces an empty folder, and fails on a non-empty one (someone wrote it since).
    std::fs::rename(tmp.path(), out)
        .with_context(|| format!("cannot move the attestation into {}", out.display()))?;
    Ok(contents.into_iter().map(|(name, _)| name).collect())
}

/// `key verify-attestation`.
pub(crate) fn verify(args: &VerifyAttestationArgs) -> anyhow::Result<ExitCode> {
    let nonce = parse_nonce(&args.nonce)?;
    let key = read_public_key(&args.key, "key")?;
    let ak = read_public_key(&args.ak, "attestation key")?;
    let dir = &args.dir;
    let attest = read(dir, files::ATTEST)?;
    let signature = read(dir, files::SIGNATURE)?;
    let key_public = read(dir, files::KEY_PUBLIC)?;
    let ak_public = read(dir, files::AK_PUBLIC)?;
    let input = KeyAttestationInput {
        attest: &attest,
        signature: &signature,
        ak: &ak,
        ak_public: Some(&ak_public),
        key_public: &key_public,
        key: &key,
        nonce: &nonce,
    };
    let verified = match verify_key_attestation(&input) {
        Ok(v) => v,
        Err(e) => return invalid(dir, &e),
    };
    let ak_name = verified.ak_name.clone().unwrap_or_default();
    let mut ek_status = "not checked (no --ek-ca)".to_owned();
    let mut ek_subject = None;
    if let (Some(ca), Some(secret_path)) = (&args.ek_ca, &args.secret) {
        let cert = read(dir, files::EK_CERT).with_context(|| {
            "the TPM has no RSA EK certificate (NV index 0x01c00002), so the AK cannot be bound to a CA"
        })?;
        let ca_pem = crate::fsutil::read(ca, "CA file")?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let ek = verify_ek_certificate(&cert, &ca_pem, now).with_context(|| {
            format!("{} does not chain to {}", dir.join(files::EK_CERT).display(), ca.display())
        });
        let ek = match ek {
            Ok(ek) => ek,
            Err(e) => {
                eprintln!("error: {e:#}");
                return Ok(ExitCode::from(crate::exit::INVALID_SIGNATURE));
            }
        };
        ek_subject = Some(ek.fingerprint_sha256().to_string());
        let answer_path = dir.join(files::ANSWER);
        if !answer_path.exists() {
            return issue_challenge(dir, &ek, &ak_name, secret_path, args.format);
        }
        let expected = crate::fsutil::read(secret_path, "challenge secret")?;
        let answer = crate::fsutil::read(&answer_path, "challenge answer")?;
        if !constant_time_eq(&expected, &answer) {
            eprintln!(
                "error: {} does not hold the challenge's secret: the AK is not on the TPM that \
                 holds the EK certified by {} (or the challenge was made again since)",
                answer_path.display(),
                dir.join(files::EK_CERT).display()
            );
            return Ok(ExitCode::from(crate::exit::INVALID_SIGNATURE));
        }
        ek_status = "bound: the TPM holding the certified EK answered the challenge".to_owned();
    }
    match args.format {
        Format::Json => {
            let json = serde_json::json!({
                "verified": true,
                "key": key.fingerprint_sha256().to_string(),
                "key_name": hex::encode(&verified.key_name),
                "key_attributes": verified.key_attributes.to_string(),
                "ak": ak.fingerprint_sha256().to_string(),
                "ak_name": hex::encode(&ak_name),
                "ek": ek_subject,
                "ek_binding": ek_status,
                "clock": verified.clock_info.clock,
                "reset_count": verified.clock_info.reset_count,
                "restart_count": verified.clock_info.restart_count,
                "firmware_version": format!("{:#x}", verified.firmware_version),
            });
            println!("{}", serde_json::to_string_pretty(&json)?);
        }
        Format::Human => {
            println!("Verified OK: the TPM certified the key, and it never left the TPM");
            println!("key         {}", key.fingerprint_sha256());
            println!("attributes  {}", verified.key_attributes);
            println!("ak          {}", ak.fingerprint_sha256());
            println!("ek          {ek_status}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn invalid(dir: &Path, e: &AttestationError) -> anyhow::Result<ExitCode> {
    eprintln!("error: the attestation in {} does not hold: {e}", dir.display());
    Ok(ExitCode::from(crate::exit::INVALID_SIGNATURE))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Makes the challenge: a fresh secret, encrypted to the certified EK for the AK's name.
fn issue_challenge(
    dir: &Path,
    ek: &PublicKey,
    ak_name: &[u8],
    secret_path: &Path,
    format: Format,
) -> anyhow::Result<ExitCode> {
    let mut secret = zeroize::Zeroizing::new([0u8; 32]);
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, secret.as_mut());
    let credential = make_credential(ek, ak_name, secret.as_ref(), &mut rand_core::OsRng)
        .context("cannot make the credential challenge")?;
    crate::fsutil::write_atomic(secret_path, secret.as_ref(), 0o600, true)?;
    let challenge = dir.join(files::CHALLENGE);
    crate::fsutil::write_atomic(&challenge, &credential.to_tpm2_tools(), 0o644, true)?;
    match format {
        Format::Json => {
            let json = serde_json::json!({
                "verified": false,
                "challenge": challenge.display().to_string(),
                "secret": secret_path.display().to_string(),
            });
            println!("{}", serde_json::to_string_pretty(&json)?);
        }
        Format::Human => {
            println!(
                "the key attestation holds and the EK certificate chains to the CA; wrote the \
                 challenge {}",
                challenge.display()
            );
            println!(
                "next: run `proofmark key activate-credential {}` where the TPM is, then run \
                 this command again",
                dir.display()
            );
        }
    }
    Ok(ExitCode::from(CHALLENGE_ISSUED))
}

/// `key activate-credential`: the TPM answers the verifier's challenge.
pub(crate) fn activate(args: &ActivateArgs, tcti: Option<&str>) -> anyhow::Result<ExitCode> {
    let dir = &args.dir;
    let ak_public = read(dir, files::AK_PUBLIC)?;
    let ak_private = read(dir, files::AK_PRIVATE)?;
    let challenge_path = dir.join(files::CHALLENGE);
    let challenge = crate::fsutil::read(&challenge_path, "challenge")?;
    let credential = Credential::from_tpm2_tools(&challenge)
        .with_context(|| format!("{} is not a credential challenge", challenge_path.display()))?;
    let tcti = crate::tpm::tcti(tcti)?;
    let answer = proofmark_tpm::activate_credential(&tcti, &ak_public, &ak_private, &credential)
        .context("the TPM refused the challenge: it was made for another TPM's EK or another AK")?;
    let answer_path = dir.join(files::ANSWER);
    crate::fsutil::write_atomic(&answer_path, &answer, 0o600, true)?;
    eprintln!("wrote {}", answer_path.display());
    Ok(ExitCode::SUCCESS)
}
