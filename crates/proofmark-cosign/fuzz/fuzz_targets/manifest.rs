//! Fuzzes the signature-manifest and index parsers, and re-serialisation of what parses.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(m) = proofmark_cosign::manifest::SignatureManifest::parse(data) {
        let (bytes, _) = m.to_bytes();
        let again = proofmark_cosign::manifest::SignatureManifest::parse(&bytes)
            .expect("our own output parses");
        assert_eq!(again.layers, m.layers);
    }
    let _ = proofmark_cosign::manifest::index_children(data);
});
