//! The key-attestation verifier on a real attestation recorded from swtpm (`proofmark key attest
//! tpm:k.json --nonce 5eed00112233445566778899aabbccdd`, files in tests/data/tpm-attest), and on
//! damaged copies of it: each case's outcome is in one snapshot (`UPDATE_EXPECT=1` rewrites it).

#![allow(clippy::unwrap_used)]

use std::path::Path;

use expect_test::expect;
use proofmark_types::PublicKey;
use proofmark_types::tpm_attest::{KeyAttestationInput, verify_key_attestation};

fn file(name: &str) -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/tpm-attest").join(name))
        .unwrap()
}

#[derive(Clone)]
struct Case {
    attest: Vec<u8>,
    signature: Vec<u8>,
    ak: Vec<u8>,
    ak_public: Vec<u8>,
    key_public: Vec<u8>,
    key: Vec<u8>,
    nonce: Vec<u8>,
}

fn outcome(c: &Case) -> String {
    let ak = PublicKey::from_pem(&c.ak).unwrap();
    let key = PublicKey::from_pem(&c.key).unwrap();
    let input = KeyAttestationInput {
        attest: &c.attest,
        signature: &c.signature,
        ak: &ak,
        ak_public: Some(&c.ak_public),
        key_public: &c.key_public,
        key: &key,
        nonce: &c.nonce,
    };
    match verify_key_attestation(&input) {
        Ok(v) => format!("ok: key {} ({})", hex::encode(&v.key_name[..6]), v.key_attributes),
        Err(e) => {
            // Fingerprints differ per recording: keep their first 8 digits.
            let text = e.to_string();
            text.split("sha256:")
                .enumerate()
                .map(|(i, part)| {
                    if i == 0 {
                        part.to_owned()
                    } else {
                        format!("sha256:{}…{}", &part[..8], &part[64..])
                    }
                })
                .collect()
        }
    }
}

#[test]
fn recorded_attestation_and_damaged_copies() {
    let good = Case {
        attest: file("attest.bin"),
        signature: file("attest.sig"),
        ak: file("ak.pub.pem"),
        ak_public: file("ak.pub"),
        key_public: file("key.pub"),
        key: file("key.pub.pem"),
        nonce: hex::decode("5eed00112233445566778899aabbccdd").unwrap(),
    };
    let mut flipped = good.attest.clone();
    flipped[40] ^= 1;
    let mut ak_unrestricted = good.ak_public.clone();
    ak_unrestricted[7] ^= 0x01; // objectAttributes bit 16: restricted
    let cases: Vec<(&str, Case)> = vec![
        ("as recorded", good.clone()),
        ("another nonce", Case { nonce: b"another".to_vec(), ..good.clone() }),
        ("the key's PEM given as the AK", Case { ak: good.key.clone(), ..good.clone() }),
        ("one bit of attest.bin flipped", Case { attest: flipped, ..good.clone() }),
        ("attest.bin truncated", Case { attest: good.attest[..60].to_vec(), ..good.clone() }),
        ("attest.sig truncated", Case { signature: good.signature[..30].to_vec(), ..good.clone() }),
        (
            "the AK's public area and PEM given as the key's",
            Case { key_public: good.ak_public.clone(), key: good.ak.clone(), ..good.clone() },
        ),
        ("key.pub truncated", Case { key_public: good.key_public[..50].to_vec(), ..good.clone() }),
        (
            "the key's public area given as the AK's",
            Case { ak_public: good.key_public.clone(), ..good.clone() },
        ),
        ("ak.pub without restricted", Case { ak_public: ak_unrestricted, ..good.clone() }),
    ];
    let report: String =
        cases.iter().map(|(name, case)| format!("{name}: {}\n", outcome(case))).collect();
    expect![[r#"
        as recorded: ok: key 000b19520b80 (fixedtpm|fixedparent|sensitivedataorigin|userwithauth|noda|sign)
        another nonce: the attestation's nonce (extraData) is 5eed00112233445566778899aabbccdd, not the expected 616e6f74686572: a replay or another session
        the key's PEM given as the AK: the signature over attest.bin does not verify with the attestation key sha256:c388b109…: another AK signed it, or it signs other bytes
        one bit of attest.bin flipped: the signature over attest.bin does not verify with the attestation key sha256:f24d5a5b…: another AK signed it, or it signs other bytes
        attest.bin truncated: the signature over attest.bin does not verify with the attestation key sha256:f24d5a5b…: another AK signed it, or it signs other bytes
        attest.sig truncated: the signature (attest.sig) is not a ecdsa-sha2-256-nistp256 signature (DER for ECDSA, raw for RSA): not a valid DER ECDSA signature for ecdsa-sha2-256-nistp256
        the AK's public area and PEM given as the key's: the TPM certified the object named 000b19520b80d674faa9b678958465d91a60d7f32dc1638fc08a71e5d5aaf00c1afb, but the key's name is 000bf236d00e341ae6cc3cc8874047b2d35e5180a3c2ffc9cbefcfe520faaccaba63: it certified another key
        key.pub truncated: the key public area is not a TPM2B_PUBLIC: TPM2B_PUBLIC is truncated: body needs 88 more bytes, 48 left
        the key's public area given as the AK's: the attestation key public area holds key sha256:c388b109…, not the given sha256:f24d5a5b…
        ak.pub without restricted: the attestation key is not a restricted TPM signing key (fixedtpm|fixedparent|sensitivedataorigin|restricted|sign, not decrypt): its attributes are fixedtpm|fixedparent|sensitivedataorigin|userwithauth|sign
    "#]].assert_eq(&report);
}
