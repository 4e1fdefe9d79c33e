//! Property tests of the TPM structure parsers of `proofmark_types::tpm_attest`: they never
//! panic on any input, `TPMS_ATTEST` round-trips, and whatever parses re-marshals to the same
//! bytes (so a verifier and the TPM agree on what was signed).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use proofmark_types::tpm_attest::{
    Attest, Attested, ClockInfo, Credential, ST_ATTEST_CERTIFY, TPM_GENERATED_VALUE, TpmPublic,
    verify_ek_certificate,
};
use proptest::prelude::*;

fn name() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..=66)
}

fn attest() -> impl Strategy<Value = Attest> {
    let attested = prop_oneof![
        (name(), name())
            .prop_map(|(name, qualified_name)| Attested::Certify { name, qualified_name }),
        prop::collection::vec(any::<u8>(), 0..80).prop_map(Attested::Other),
    ];
    (
        prop_oneof![Just(TPM_GENERATED_VALUE), any::<u32>()],
        any::<u16>(),
        name(),
        name(),
        (any::<u64>(), any::<u32>(), any::<u32>(), any::<bool>()),
        any::<u64>(),
        attested,
    )
        .prop_map(
            |(magic, ty, qualified_signer, extra_data, clock, firmware_version, attested)| {
                let attest_type = match attested {
                    Attested::Certify { .. } => ST_ATTEST_CERTIFY,
                    // Any other type keeps its body raw.
                    Attested::Other(_) if ty == ST_ATTEST_CERTIFY => 0x8018,
                    Attested::Other(_) => ty,
                };
                Attest {
                    magic,
                    attest_type,
                    qualified_signer,
                    extra_data,
                    clock_info: ClockInfo {
                        clock: clock.0,
                        reset_count: clock.1,
                        restart_count: clock.2,
                        safe: clock.3,
                    },
                    firmware_version,
                    attested,
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn attest_round_trips(a in attest()) {
        prop_assert_eq!(Attest::parse(&a.to_bytes()), Ok(a));
    }

    #[test]
    fn attest_parser_never_panics_and_what_parses_re_marshals(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(a) = Attest::parse(&bytes) {
            prop_assert_eq!(a.to_bytes(), bytes);
        }
    }

    #[test]
    fn damaged_attestations_are_errors_or_re_marshal(a in attest(), at in any::<prop::sample::Index>(), byte in any::<u8>(), cut in any::<prop::sample::Index>()) {
        let mut bytes = a.to_bytes();
        let i = at.index(bytes.len());
        bytes[i] = byte;
        if let Ok(parsed) = Attest::parse(&bytes) {
            prop_assert_eq!(parsed.to_bytes(), bytes.clone());
        }
        let truncated = &bytes[..cut.index(bytes.len())];
        if let Ok(parsed) = Attest::parse(truncated) {
            prop_assert_eq!(parsed.to_bytes(), truncated.to_vec());
        }
    }

    #[test]
    fn public_parser_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        if let Ok(public) = TpmPublic::parse(&bytes) {
            prop_assert_eq!(public.as_bytes(), bytes.as_slice());
            prop_assert!(matches!(public.name().len(), 34 | 50 | 66));
            let _ = public.public_key();
        }
        let _ = TpmPublic::parse_tpm2b(&bytes);
    }

    #[test]
    fn public_parser_survives_damaged_public_areas(at in any::<prop::sample::Index>(), byte in any::<u8>(), cut in any::<prop::sample::Index>()) {
        for good in [ecc_public(), rsa_public()] {
            let mut bytes = hex::decode(good).unwrap();
            let i = at.index(bytes.len());
            bytes[i] = byte;
            if let Ok(public) = TpmPublic::parse(&bytes) {
                let _ = public.public_key();
            }
            let _ = TpmPublic::parse(&bytes[..cut.index(bytes.len())]);
        }
    }

    #[test]
    fn other_parsers_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = Credential::from_tpm2_tools(&bytes);
        let _ = verify_ek_certificate(&bytes, &bytes, 0);
    }
}

/// A P-256 signing key's `TPMT_PUBLIC` as proofmark creates it (ECDSA-SHA256, no symmetric),
/// with a point that is not on the curve.
fn ecc_public() -> String {
    format!(
        "0023000b00040072000000100018000b000300100020{}0020{}",
        "11".repeat(32),
        "22".repeat(32)
    )
}

/// An RSA-2048 key's (RSASSA-SHA256), with an all-0xab modulus.
fn rsa_public() -> String {
    format!("0001000b00040072000000100014000b0800000000000100{}", "ab".repeat(256))
}

#[test]
fn the_fixture_public_areas_parse() {
    let ecc = TpmPublic::parse(&hex::decode(ecc_public()).unwrap()).unwrap();
    assert_eq!(
        ecc.attributes.to_string(),
        "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|sign"
    );
    assert_eq!(ecc.name().len(), 34);
    let rsa = TpmPublic::parse(&hex::decode(rsa_public()).unwrap()).unwrap();
    assert!(matches!(rsa.key, proofmark_types::tpm_attest::TpmKey::Rsa { bits: 2048, .. }));
}
