//! Fuzzes the encrypted cosign key reader (PEM, JSON envelope, parameter checks).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = proofmark_cosign::decrypt_private_key(data, b"password");
});
