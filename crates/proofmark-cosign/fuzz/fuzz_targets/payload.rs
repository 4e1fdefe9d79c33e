//! Fuzzes the strict simple-signing payload parser: it must never panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(p) = proofmark_cosign::payload::Payload::parse(data) {
        let _ = p.check_type();
        let _ = p.annotation("creator");
    }
});
