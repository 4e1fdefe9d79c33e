//! `sigstore-kms-parsec`: the sigstore KMS plugin that lets cosign sign with Parsec keys.
//!
//! cosign runs it for key references `parsec://NAME[?provider=tpm|mbed-crypto|pkcs11]` (put it
//! on `PATH`); the service endpoint comes from `PARSEC_SERVICE_ENDPOINT`, else the default
//! socket. See `proofmark_parsec::kms` for the protocol.

fn main() -> std::process::ExitCode {
    proofmark_parsec::kms::run_plugin(&proofmark_parsec::kms::ParsecKms::from_env())
}
