//! `sigstore-kms-parsec`: the sigstore KMS plugin that lets cosign sign with Parsec keys.
//!
//! cosign runs it for key references `parsec://NAME[?provider=tpm|mbed-crypto|pkcs11]` (put it
//! on `PATH`); the service endpoint comes from `PARSEC_SERVICE_ENDPOINT`, else the default
//! socket. See `proofmark_parsec::kms` for the protocol.

use std::io::Write as _;

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let backend = proofmark_parsec::kms::ParsecKms::from_env();
    let resp = proofmark_parsec::kms::handle(&args, std::io::stdin().lock(), &backend);
    let failed = !resp.error_message.is_empty();
    // Serialising these plain structs cannot fail; fall back to a hand-written error anyway.
    let json = serde_json::to_string(&resp)
        .unwrap_or_else(|e| format!("{{\"errorMessage\":\"cannot encode the response: {e}\"}}"));
    let written = writeln!(std::io::stdout().lock(), "{json}");
    // cosign ignores the exit status; a non-zero one helps people running it by hand.
    if failed || written.is_err() {
        std::process::ExitCode::FAILURE
    } else {
        std::process::ExitCode::SUCCESS
    }
}
