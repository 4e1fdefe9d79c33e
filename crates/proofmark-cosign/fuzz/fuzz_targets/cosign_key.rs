//! Fuzzes the encrypted cosign key reader (PEM, JSON envelope, parameter checks).
//! The body is shared with the stable replay test (`tests/fuzz_replay.rs`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    proofmark_cosign_fuzz::cosign_key(data);
});
