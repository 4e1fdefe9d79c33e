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
mod key;
mod tpm;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Key(cmd) => key::run(cmd, cli.tcti.as_deref()),
        Command::Tpm(cmd) => tpm::run(cmd, cli.tcti.as_deref()),
        Command::SignBlob(args) => blob::sign(&args, cli.tcti.as_deref()),
        Command::VerifyBlob(args) => blob::verify(&args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(exit::ERROR)
        }
    }
}
