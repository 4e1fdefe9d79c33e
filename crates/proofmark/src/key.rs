//! `proofmark key generate` and `proofmark key public`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use proofmark_tpm::{KeyAuth, ParentTemplate};
use proofmark_types::{KeyRef, PersistentHandle, SignatureAlgorithm, Signer as _, SoftwareSigner};

use crate::backend::{self, Options};

#[derive(clap::Subcommand, Debug)]
pub(crate) enum KeyCommand {
    /// Create a signing key and print its public key (PEM).
    Generate(GenerateArgs),
    /// Print a key's public key as PEM (SubjectPublicKeyInfo).
    Public {
        /// The key: `file:PATH`, `tpm:PATH`, `tpm:0x81xxxxxx`, `parsec://NAME`.
        key: KeyRef,
        /// Write the PEM here instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
}

#[derive(clap::Args, Debug)]
pub(crate) struct GenerateArgs {
    /// Where the key goes: `file:PATH` (PKCS#8 PEM, mode 0600), `tpm:PATH` (a TPM key file,
    /// with tpm2-tools `.pub`/`.priv` beside it; the private key never leaves the TPM) or
    /// `parsec://NAME[?provider=...]` (a key in the Parsec service at PARSEC_SERVICE_ENDPOINT).
    key: KeyRef,
    /// Signature algorithm, by its sigstore registry name.
    #[arg(long, default_value = "ecdsa-sha2-256-nistp256")]
    algorithm: SignatureAlgorithm,
    /// TPM keys: also make the key persistent at this handle (`0x81xxxxxx`).
    #[arg(long)]
    persist: Option<PersistentHandle>,
    /// TPM keys: the storage parent, `ecc-p256` or `rsa-2048`.
    #[arg(long, default_value = "ecc-p256")]
    parent: String,
    /// TPM keys: take a user-chosen auth value from this environment variable (the key keeps
    /// dictionary-attack protection; the value is not stored). Default: a random auth value
    /// stored in the key file, and no lockout counting.
    #[arg(long)]
    auth_env: Option<String>,
    /// TPM keys: no auth value at all.
    #[arg(long, conflicts_with = "auth_env")]
    no_auth: bool,
    /// Replace an existing key file.
    #[arg(long)]
    force: bool,
}

pub(crate) fn run(cmd: KeyCommand, tcti: Option<&str>) -> anyhow::Result<ExitCode> {
    match cmd {
        KeyCommand::Generate(args) => generate(&args, tcti),
        KeyCommand::Public { key, output } => {
            let public = backend::public_key(&key, Options { tcti, ..Options::default() })?;
            let pem = public.to_pem();
            match output {
                Some(path) => crate::fsutil::write_atomic(&path, pem.as_bytes(), 0o644, true)?,
                None => print!("{pem}"),
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn generate(args: &GenerateArgs, tcti: Option<&str>) -> anyhow::Result<ExitCode> {
    let public = match &args.key {
        KeyRef::File(path) => {
            if args.persist.is_some() {
                bail!("--persist is for tpm: keys; {} is a file key", args.key);
            }
            let signer = SoftwareSigner::generate(args.algorithm)
                .with_context(|| format!("cannot generate a {} key", args.algorithm))?;
            let pem = signer.to_pkcs8_pem().context("cannot encode the private key")?;
            crate::fsutil::write_atomic(path, pem.as_bytes(), 0o600, args.force)?;
            signer.public_key().clone()
        }
        KeyRef::TpmKeyFile(path) => generate_tpm(args, path, tcti)?,
        KeyRef::Parsec { name, provider } => {
            let parsec = proofmark_parsec::Parsec::connect_from_env(*provider)
                .with_context(|| format!("cannot reach the Parsec service for {}", args.key))?;
            let signer = proofmark_parsec::ParsecSigner::create(parsec, name, args.algorithm)
                .with_context(|| format!("Parsec could not create {}", args.key))?;
            signer.public_key().clone()
        }
        other => bail!(
            "`key generate` makes file:PATH, tpm:PATH and parsec://NAME keys; for {other} use \
             tpm:PATH with --persist HANDLE"
        ),
    };
    print!("{}", public.to_pem());
    Ok(ExitCode::SUCCESS)
}

fn generate_tpm(
    args: &GenerateArgs,
    path: &Path,
    tcti: Option<&str>,
) -> anyhow::Result<proofmark_types::PublicKey> {
    if !args.force && path.exists() {
        bail!("{} already exists; pass --force to replace it", path.display());
    }
    let parent: ParentTemplate = args.parent.parse()?;
    let auth = match (&args.auth_env, args.no_auth) {
        (_, true) => KeyAuth::None,
        (Some(var), false) => match backend::auth_from_env(Some(var))? {
            Some(value) => KeyAuth::User(value),
            None => KeyAuth::Random,
        },
        (None, false) => KeyAuth::Random,
    };
    let mut tpm = crate::tpm::connect(tcti)?;
    let key = tpm
        .create_key(args.algorithm, parent, &auth)
        .with_context(|| format!("the TPM could not create a {} key", args.algorithm))?;
    key.save(path).with_context(|| format!("cannot save the key file {}", path.display()))?;
    if let Some(handle) = args.persist {
        tpm.persist(&key, handle).with_context(|| format!("cannot persist the key at {handle}"))?;
        eprintln!("persisted at {handle}");
    }
    Ok(key.public_key()?)
}
