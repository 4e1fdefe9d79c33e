//! The bodies of the cargo-fuzz targets, shared by `fuzz/fuzz_targets/*.rs` (libFuzzer, nightly)
//! and `tests/fuzz_replay.rs` (stable, every `cargo test`), so the two cannot drift apart.
//! Each body must never panic on any input; a panic is the finding.

// `pub` for the fuzz crate, which re-exports these; the test crate uses them privately.
#![allow(unreachable_pub)]

/// The password the key target decrypts with; the seed keys are encrypted with it.
pub const KEY_PASSWORD: &[u8] = b"password";

/// The strict simple-signing payload parser.
pub fn payload(data: &[u8]) {
    if let Ok(p) = proofmark_cosign::payload::Payload::parse(data) {
        let _ = p.check_type();
        let _ = p.annotation("creator");
    }
}

/// The signature-manifest and index parsers, and re-serialisation of what parses.
pub fn manifest(data: &[u8]) {
    if let Ok(m) = proofmark_cosign::manifest::SignatureManifest::parse(data) {
        let (bytes, _) = m.to_bytes();
        let again = proofmark_cosign::manifest::SignatureManifest::parse(&bytes)
            .expect("our own output parses");
        assert_eq!(again.layers, m.layers);
    }
    let _ = proofmark_cosign::manifest::index_children(data);
}

/// The encrypted cosign key reader (PEM, JSON envelope, parameter checks, decryption).
pub fn cosign_key(data: &[u8]) {
    let _ = proofmark_cosign::decrypt_private_key(data, KEY_PASSWORD);
}

/// A fuzz body: takes any bytes, panics only on a bug.
pub type Body = fn(&[u8]);

/// Every target by its cargo-fuzz name.
pub const TARGETS: &[(&str, Body)] =
    &[("payload", payload), ("manifest", manifest), ("cosign_key", cosign_key)];
