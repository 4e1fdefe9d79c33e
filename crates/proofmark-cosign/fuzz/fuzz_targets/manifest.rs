//! Fuzzes the signature-manifest and index parsers, and re-serialisation of what parses.
//! The body is shared with the stable replay test (`tests/fuzz_replay.rs`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    proofmark_cosign_fuzz::manifest(data);
});
