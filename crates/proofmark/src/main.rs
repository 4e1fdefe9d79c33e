//! `proofmark`, the command-line tool: key management and signing now; images, releases and
//! dependency health as their libraries land.
//!
//! The libraries return data and typed errors; this binary owns presentation: clap for the
//! arguments, anyhow for the error chain, and the exit codes below.

// Printing is this binary's job.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod backend;
mod blob;
mod fsutil;
mod image;
mod image_attest;
mod key;
mod key_attest;
mod tpm;

use std::process::ExitCode;

use clap::{CommandFactory as _, FromArgMatches as _, Parser, Subcommand};
use proofmark::commands;

/// Exit codes shared by every subcommand.
pub(crate) mod exit {
    /// Bad input, a failed operation or an unreachable backend.
    pub(crate) const ERROR: u8 = 1;
    /// A signature was checked and is not valid.
    pub(crate) const INVALID_SIGNATURE: u8 = 3;
}

#[derive(Parser, Debug)]
#[command(name = "proofmark", version, about, propagate_version = true)]
struct Cli {
    /// The TPM to use (`device:/dev/tpmrm0`, `swtpm:host=H,port=P`, `mssim:...`, `tabrmd:...`);
    /// default: `TPM2TOOLS_TCTI`, then `TCTI`, then `device:/dev/tpmrm0`.
    #[arg(long, global = true)]
    tcti: Option<String>,
    #[command(subcommand)]
    command: Command,
}

/// `proofmark public-key`, cosign's name and flags for `proofmark key public`.
#[derive(clap::Args, Debug)]
struct PublicKeyArgs {
    /// The key: `PATH` or `file:PATH` (a private, public or cosign key file), `tpm:PATH`,
    /// `tpm:0x81xxxxxx`, `parsec://NAME`.
    #[arg(long)]
    key: proofmark_types::KeyRef,
    /// Write the PEM here instead of standard output.
    #[arg(long, visible_alias = "output")]
    outfile: Option<std::path::PathBuf>,
}

/// How a command prints its result.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// For people.
    Human,
    /// For programs.
    Json,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Create keys and export their public halves.
    #[command(subcommand)]
    Key(key::KeyCommand),
    /// Inspect the TPM and its persistent keys.
    #[command(subcommand)]
    Tpm(tpm::TpmCommand),
    /// Sign a file; prints the base64 DER signature, as `cosign sign-blob` does.
    SignBlob(blob::SignBlobArgs),
    /// Verify a file's signature with a public key.
    VerifyBlob(blob::VerifyBlobArgs),
    /// Sign a container image: a cosign-compatible signature in its registry or OCI layout.
    Sign(image::SignArgs),
    /// Verify a container image's cosign signatures with public keys.
    Verify(image::VerifyArgs),
    /// Attach a signed in-toto attestation to a container image, as `cosign attest`.
    Attest(image::AttestArgs),
    /// Verify a container image's attestations of one predicate type with public keys.
    VerifyAttestation(image::VerifyAttestationArgs),
    /// Create a cosign key pair: PREFIX.key (encrypted with COSIGN_PASSWORD) and PREFIX.pub.
    GenerateKeyPair(image::GenerateKeyPairArgs),
    /// Print a containers-policy.json (or registries.d) snippet that enforces a key.
    Policy(image::PolicyArgs),
    /// Print the public key (PEM) of any key reference, as `cosign public-key` does.
    PublicKey(PublicKeyArgs),
    /// Plan, check, execute, resume or audit a release of the Cargo workspace here (dry run by
    /// default).
    Release(commands::release::ReleaseArgs),
    /// Find published versions of the workspace's crates (or named crates) that no longer
    /// resolve or build, name the culprit, and recommend yank or no yank.
    CheckDeps(commands::check_deps::CheckDepsArgs),
}

/// The workspace to work on by default: the current directory (cargo finds the workspace root
/// from there, as it does for `cargo build`).
fn here() -> anyhow::Result<std::path::PathBuf> {
    use anyhow::Context as _;
    std::env::current_dir().context("cannot read the current directory")
}

fn ok(_: ()) -> ExitCode {
    ExitCode::SUCCESS
}

/// What to do about an error whose fix is a command-line option the library cannot name.
fn hint(err: &anyhow::Error) -> Option<&'static str> {
    use proofmark_tpm::TpmError;
    err.chain().find_map(|cause| match cause.downcast_ref::<TpmError>()? {
        TpmError::AuthRequired => Some(
            "pass --auth-env VAR, VAR being the environment variable that holds the key's auth \
             value",
        ),
        TpmError::WrongAuth { .. } => Some(
            "if the key has a user-chosen auth value, pass --auth-env VAR, VAR being the \
             environment variable that holds it; a key whose random auth value is in its key \
             file signs by that file (tpm:KEYFILE), not by its persistent handle",
        ),
        _ => None,
    })
}

/// Subcommands that never talk to a TPM: `--tcti` is hidden from their help (it is global, so
/// clap would list it everywhere) and refused there.
const WITHOUT_TPM: &[&str] = &["release", "check-deps", "generate-key-pair"];

/// `Cli::parse`, with `--tcti` shown and accepted only where a TPM can be used.
fn parse() -> Cli {
    let mut cmd = Cli::command();
    for name in WITHOUT_TPM {
        // A subcommand's own global `--tcti`, hidden, takes the place of the root's (clap
        // propagates a global argument only where none of that name exists).
        cmd = cmd.mut_subcommand(name, |sub| {
            sub.arg(clap::Arg::new("tcti").long("tcti").global(true).hide(true))
        });
    }
    let matches = cmd.clone().get_matches();
    if let Some((name, _)) = matches.subcommand() {
        if WITHOUT_TPM.contains(&name) && matches.get_one::<String>("tcti").is_some() {
            cmd.error(
                clap::error::ErrorKind::ArgumentConflict,
                format!("--tcti does nothing with `proofmark {name}`: it does not use a TPM"),
            )
            .exit();
        }
    }
    Cli::from_arg_matches(&matches).unwrap_or_else(|err| err.exit())
}

fn main() -> ExitCode {
    let cli = parse();
    let result = match cli.command {
        Command::Key(cmd) => key::run(cmd, cli.tcti.as_deref()),
        Command::Tpm(cmd) => tpm::run(cmd, cli.tcti.as_deref()),
        Command::SignBlob(args) => blob::sign(&args, cli.tcti.as_deref()),
        Command::VerifyBlob(args) => blob::verify(&args, cli.tcti.as_deref()),
        Command::Sign(args) => image::sign(&args, cli.tcti.as_deref()),
        Command::Verify(args) => image::verify(&args, cli.tcti.as_deref()),
        Command::Attest(args) => image::attest(&args, cli.tcti.as_deref()),
        Command::VerifyAttestation(args) => image::verify_attestation(&args, cli.tcti.as_deref()),
        Command::GenerateKeyPair(args) => image::generate_key_pair(&args),
        Command::Policy(args) => image::policy(&args, cli.tcti.as_deref()),
        Command::PublicKey(args) => {
            let output = args.outfile.as_deref();
            key::print_public_key(&args.key, output, cli.tcti.as_deref())
        }
        Command::Release(args) => here().and_then(|dir| commands::release::run(args, &dir)).map(ok),
        Command::CheckDeps(args) => {
            here().and_then(|dir| commands::check_deps::run(args, &dir)).map(ok)
        }
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            if let Some(hint) = hint(&err) {
                eprintln!("hint: {hint}");
            }
            ExitCode::from(exit::ERROR)
        }
    }
}
