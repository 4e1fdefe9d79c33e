//! Fuzzes the strict simple-signing payload parser: it must never panic.
//! The body is shared with the stable replay test (`tests/fuzz_replay.rs`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    proofmark_cosign_fuzz::payload(data);
});
