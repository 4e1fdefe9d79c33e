//! `proofmark key generate` and `proofmark key public`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use proofmark_tpm::{KeyAuth, KeyFile, KeyFileFormat, ParentTemplate};
use proofmark_types::{KeyRef, PersistentHandle, SignatureAlgorithm, Signer as _, SoftwareSigner};

use crate::backend::{self, Options};

#[derive(clap::Subcommand, Debug)]
pub(crate) enum KeyCommand {
    /// Create a signing key and print its public key (PEM).
    Generate(GenerateArgs),
    /// Print a key's public key as PEM (SubjectPublicKeyInfo).
    Public {
        /// The key: `PATH` or `file:PATH` (a private, public or cosign key file), `tpm:PATH`,
        /// `tpm:0x81xxxxxx`, `parsec://NAME`.
        key: KeyRef,
        /// Write the PEM here instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Have the TPM certify a TPM key with an attestation key under its endorsement key
    /// (TPM2_Certify): evidence, for a verifier, that the key was born in the TPM and cannot
    /// leave it.
    Attest(crate::key_attest::AttestArgs),
    /// Check a `key attest` folder without a TPM; with --ek-ca, also bind the attestation key
    /// to the TPM's certified endorsement key by a challenge.
    VerifyAttestation(crate::key_attest::VerifyAttestationArgs),
    /// Answer a `verify-attestation --ek-ca` challenge with the TPM (TPM2_ActivateCredential).
    ActivateCredential(crate::key_attest::ActivateArgs),
}

#[derive(clap::Args, Debug)]
pub(crate) struct GenerateArgs {
    /// Where the key goes: `PATH` or `file:PATH` (PKCS#8 PEM, mode 0600), `tpm:PATH` (a TPM
    /// key file; the private key never leaves the TPM; `tpm:PATH.pem` writes a TSS2 PRIVATE
    /// KEY file that tpm2-openssl reads, any other name proofmark's JSON) or
    /// `parsec://NAME[?provider=...]` (a key in the Parsec service at PARSEC_SERVICE_ENDPOINT).
    key: KeyRef,
    /// Signature algorithm, by its sigstore registry name.
    #[arg(long, default_value = "ecdsa-sha2-256-nistp256")]
    algorithm: SignatureAlgorithm,
    /// TPM keys: also make the key persistent at this handle (`0x81xxxxxx`), then usable as
    /// `tpm:HANDLE`. Without --auth-env it has no auth value: anyone who can use the TPM can
    /// sign with it.
    #[arg(long)]
    persist: Option<PersistentHandle>,
    /// TPM keys: the storage parent, `ecc-p256` or `rsa-2048` (JSON key files; default
    /// `ecc-p256`), `tss2-ecc-p256` (tpm2-openssl's owner primary, the default for `.pem` TSS2
    /// files) or, for TSS2 files, a persistent storage key `0x81xxxxxx`.
    #[arg(long)]
    parent: Option<String>,
    /// TPM keys: take a user-chosen auth value from this environment variable (the key keeps
    /// dictionary-attack protection; the value is not stored, and signing needs the same
    /// --auth-env). Default: a random auth value stored in the key file, and no lockout
    /// counting; with --persist or a `.pem` TSS2 file (which cannot hold one), no auth value.
    #[arg(long, value_name = "VAR")]
    auth_env: Option<String>,
    /// TPM keys: no auth value at all.
    #[arg(long, conflicts_with = "auth_env")]
    no_auth: bool,
    /// TPM keys: also write the key's TPM2B_PUBLIC and TPM2B_PRIVATE, as `tpm2_create` does, to
    /// PREFIX.pub and PREFIX.priv (for `tpm2_load -u PREFIX.pub -r PREFIX.priv`).
    #[arg(long, value_name = "PREFIX")]
    tpm2_tools_files: Option<PathBuf>,
    /// Replace existing files.
    #[arg(long)]
    force: bool,
}

pub(crate) fn run(cmd: KeyCommand, tcti: Option<&str>) -> anyhow::Result<ExitCode> {
    match cmd {
        KeyCommand::Generate(args) => generate(&args, tcti),
        KeyCommand::Public { key, output } => print_public_key(&key, output.as_deref(), tcti),
        KeyCommand::Attest(args) => crate::key_attest::attest(&args, tcti),
        KeyCommand::VerifyAttestation(args) => crate::key_attest::verify(&args),
        KeyCommand::ActivateCredential(args) => crate::key_attest::activate(&args, tcti),
    }
}

/// `key public` and `public-key`: the PEM public key of any key reference.
pub(crate) fn print_public_key(
    key: &KeyRef,
    output: Option<&Path>,
    tcti: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let public = backend::public_key(key, Options { tcti, ..Options::default() })?;
    let pem = public.to_pem();
    match output {
        Some(path) => crate::fsutil::write_atomic(path, pem.as_bytes(), 0o644, true)?,
        None => print!("{pem}"),
    }
    Ok(ExitCode::SUCCESS)
}

fn generate(args: &GenerateArgs, tcti: Option<&str>) -> anyhow::Result<ExitCode> {
    if args.tpm2_tools_files.is_some() && !matches!(args.key, KeyRef::TpmKeyFile(_)) {
        bail!("--tpm2-tools-files is for tpm:PATH keys; {} is not one", args.key);
    }
    let public = match &args.key {
        KeyRef::File(path) => {
            if args.persist.is_some() {
                bail!("--persist is for tpm: keys; {} is a file key", args.key);
            }
            let signer = SoftwareSigner::generate(args.algorithm)
                .with_context(|| format!("cannot generate a {} key", args.algorithm))?;
            let pem = signer.to_pkcs8_pem().context("cannot encode the private key")?;
            crate::fsutil::write_atomic(path, pem.as_bytes(), 0o600, args.force)?;
            eprintln!("wrote {}", args.key);
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
            "`key generate` makes PATH, tpm:PATH and parsec://NAME keys; for {other} use \
             tpm:PATH with --persist HANDLE"
        ),
    };
    print!("{}", public.to_pem());
    Ok(ExitCode::SUCCESS)
}

/// Refuses a persistent handle the TCG reserves for keys that are not the owner's.
pub(crate) fn check_owner_handle(handle: PersistentHandle, action: &str) -> anyhow::Result<()> {
    if let Some(range) = handle.reserved_range() {
        bail!(
            "cannot {action} {handle}: it lies in {range}; use an owner handle such as 0x81000010"
        );
    }
    Ok(())
}

fn generate_tpm(
    args: &GenerateArgs,
    path: &Path,
    tcti: Option<&str>,
) -> anyhow::Result<proofmark_types::PublicKey> {
    // Every file this command writes is known, and checked, before the TPM does anything.
    let tools = args.tpm2_tools_files.as_deref().map(KeyFile::tpm2_tools_paths);
    let mut targets = vec![path.to_owned()];
    targets.extend(tools.iter().flat_map(|(p, q)| [p.clone(), q.clone()]));
    if targets[1..].iter().any(|t| t == path) {
        bail!("--tpm2-tools-files would write over the key file {}", path.display());
    }
    if !args.force {
        if let Some(existing) = targets.iter().find(|t| t.exists()) {
            bail!("{} already exists; pass --force to replace it", existing.display());
        }
    }
    let format = key_file_format(path);
    let parent = Parent::parse(args.parent.as_deref(), format)?;
    let auth = match (&args.auth_env, args.no_auth, args.persist) {
        (_, true, _) => KeyAuth::None,
        (Some(var), false, _) => match backend::auth_from_env(Some(var))? {
            Some(value) => KeyAuth::User(value),
            None => bail!("--auth-env {var} gave no auth value"),
        },
        // A persistent key is used by its handle alone, where a random value stored in the key
        // file would be out of reach (minutes/2026-12-02-persistent-key-auth.md).
        (None, false, Some(_)) => KeyAuth::None,
        // A TSS2 file says "empty auth" or "ask the user": it has no room for a random value.
        (None, false, None) if format == KeyFileFormat::Tss2 => KeyAuth::None,
        (None, false, None) => KeyAuth::Random,
    };
    if let Some(handle) = args.persist {
        check_owner_handle(handle, "persist a key at")?;
    }
    let mut tpm = crate::tpm::connect(tcti)?;
    if let Some(handle) = args.persist {
        let used = tpm.list_persistent().context("cannot list the persistent handles")?;
        if used.contains(&handle) {
            bail!(
                "persistent handle {handle} is already in use: choose a free one (`proofmark tpm \
                 list` shows those in use) or free it with `proofmark tpm evict {handle}`"
            );
        }
    }
    let created = match parent {
        Parent::Template(parent) => {
            tpm.create_key(args.algorithm, parent, &auth).and_then(|key| key.with_format(format))
        }
        Parent::Persistent(handle) => {
            tpm.create_key_under_persistent(args.algorithm, handle, &auth)
        }
    };
    let key = created.with_context(|| {
        format!("the TPM could not create a {} key for {}", args.algorithm, path.display())
    })?;
    if let Some(handle) = args.persist {
        tpm.persist(&key, handle).with_context(|| format!("cannot persist the key at {handle}"))?;
    }
    // Nothing is left behind by a failure: not the files, not the persistent key.
    if let Err(e) = write_tpm_files(&key, path, tools.as_ref(), args.force) {
        if let Some(handle) = args.persist {
            let _ = tpm.evict(handle);
        }
        return Err(e);
    }
    match &tools {
        Some((p, q)) => {
            eprintln!("wrote {} and, for tpm2-tools, {} and {}", args.key, p.display(), q.display())
        }
        None => eprintln!("wrote {}", args.key),
    }
    if let Some(handle) = args.persist {
        let how = match auth {
            KeyAuth::None => "with no auth value: anyone who can use the TPM can sign with it",
            _ => "its auth value is needed to sign with it: pass the same --auth-env",
        };
        eprintln!("persisted at {handle} ({how})");
    }
    Ok(key.public_key()?)
}

/// The format of a new `tpm:PATH` key file: TSS2 PEM for `*.pem`, else our JSON.
fn key_file_format(path: &Path) -> KeyFileFormat {
    match path.extension() {
        Some(ext) if ext.eq_ignore_ascii_case("pem") => KeyFileFormat::Tss2,
        _ => KeyFileFormat::Json,
    }
}

/// The storage parent of a new TPM key.
#[derive(Debug, Clone, Copy)]
enum Parent {
    Template(ParentTemplate),
    Persistent(PersistentHandle),
}

impl Parent {
    /// `--parent`, checked against the key file's format.
    fn parse(arg: Option<&str>, format: KeyFileFormat) -> anyhow::Result<Self> {
        let tss2 = format == KeyFileFormat::Tss2;
        let Some(arg) = arg else {
            return Ok(Self::Template(if tss2 {
                ParentTemplate::Tss2EccP256
            } else {
                ParentTemplate::EccP256
            }));
        };
        if arg.starts_with("0x") {
            let handle: PersistentHandle = arg
                .parse()
                .with_context(|| format!("--parent {arg} is not a persistent handle"))?;
            if !tss2 {
                bail!(
                    "--parent {arg}: only TSS2 key files (tpm:PATH.pem) record a persistent                      parent; JSON key files use a parent template"
                );
            }
            return Ok(Self::Persistent(handle));
        }
        let template: ParentTemplate = arg.parse()?;
        if tss2 && !template.is_tss2() {
            bail!(
                "--parent {arg}: a TSS2 key file's owner parent is tpm2-openssl's primary; use \
                 --parent tss2-ecc-p256 (the default) or a persistent handle 0x81xxxxxx"
            );
        }
        Ok(Self::Template(template))
    }
}

/// Writes the key file and, if asked, its tpm2-tools files; on failure removes what it wrote.
fn write_tpm_files(
    key: &KeyFile,
    path: &Path,
    tools: Option<&(PathBuf, PathBuf)>,
    force: bool,
) -> anyhow::Result<()> {
    let saved = if force { key.save(path) } else { key.create(path) };
    saved.with_context(|| format!("cannot save the key file {}", path.display()))?;
    if let Some((pub_path, priv_path)) = tools {
        if let Err(e) = key.save_tpm2_tools(pub_path, priv_path, force) {
            let _ = std::fs::remove_file(path);
            return Err(e).context("cannot write the tpm2-tools files");
        }
    }
    Ok(())
}
