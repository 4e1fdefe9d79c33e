//! Property tests: every encoding round-trips.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use proofmark_types::{
    Digest, HashAlgorithm, KeyRef, ParsecProvider, PersistentHandle, PublicKey, Signature,
    SignatureAlgorithm, Signer as _, SoftwareSigner, verify_message,
};
use proptest::prelude::*;
use spki::EncodePublicKey as _;

fn path_string(forbid_handle_prefix: bool) -> impl Strategy<Value = String> {
    // Any non-empty UTF-8 without NUL; not starting with `//` (URL-like, rejected on purpose).
    "[^\u{0}]{1,24}".prop_filter("not URL-like, not a handle", move |s| {
        !s.starts_with("//")
            && !(forbid_handle_prefix && (s.starts_with("0x") || s.starts_with("0X")))
    })
}

fn provider() -> impl Strategy<Value = Option<ParsecProvider>> {
    prop_oneof![Just(None), proptest::sample::select(ParsecProvider::ALL.to_vec()).prop_map(Some)]
}

fn key_ref() -> impl Strategy<Value = KeyRef> {
    prop_oneof![
        path_string(false).prop_map(|p| KeyRef::File(PathBuf::from(p))),
        path_string(true).prop_map(|p| KeyRef::TpmKeyFile(PathBuf::from(p))),
        (0x8100_0000u32..=0x81FF_FFFF)
            .prop_map(|h| KeyRef::TpmPersistent(PersistentHandle::new(h).unwrap())),
        ("\\PC{1,16}", provider()).prop_map(|(name, provider)| KeyRef::Parsec { name, provider }),
        // Names full of characters that need escaping.
        ("[/?#% &=é\u{1F600}a-z]{1,12}", provider())
            .prop_map(|(name, provider)| KeyRef::Parsec { name, provider }),
    ]
}

/// Canonical string forms, built independently of `Display`.
fn canonical_key_ref_string() -> impl Strategy<Value = String> {
    prop_oneof![
        path_string(false).prop_map(|p| format!("file:{p}")),
        path_string(true).prop_map(|p| format!("tpm:{p}")),
        (0x8100_0000u32..=0x81FF_FFFF).prop_map(|h| format!("tpm:0x{h:08x}")),
        ("\\PC{1,16}", provider()).prop_map(|(name, p)| {
            // A reference percent-encoder, written from RFC 3986 rather than from our Display.
            let mut enc = String::new();
            for b in name.bytes() {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    enc.push(char::from(b));
                } else {
                    enc.push_str(&format!("%{b:02X}"));
                }
            }
            match p {
                Some(p) => format!("parsec://{enc}?provider={p}"),
                None => format!("parsec://{enc}"),
            }
        }),
    ]
}

fn ec_signer(curve_bytes: &[u8], alg: SignatureAlgorithm) -> Option<SoftwareSigner> {
    let pkcs8 = match alg {
        SignatureAlgorithm::EcdsaP256Sha256 => {
            use p256::pkcs8::EncodePrivateKey as _;
            p256::SecretKey::from_slice(curve_bytes).ok()?.to_pkcs8_der().ok()?
        }
        _ => {
            use p384::pkcs8::EncodePrivateKey as _;
            p384::SecretKey::from_slice(curve_bytes).ok()?.to_pkcs8_der().ok()?
        }
    };
    SoftwareSigner::from_pkcs8_der(pkcs8.as_bytes(), None).ok()
}

proptest! {
    #[test]
    fn key_ref_display_parse_round_trips(k in key_ref()) {
        let s = k.to_string();
        prop_assert_eq!(s.parse::<KeyRef>(), Ok(k.clone()), "string: {}", s);
        // Serde uses the same string.
        let json = serde_json::to_string(&k).unwrap();
        prop_assert_eq!(serde_json::from_str::<KeyRef>(&json).unwrap(), k);
    }

    #[test]
    fn canonical_key_ref_strings_display_unchanged(s in canonical_key_ref_string()) {
        let parsed = s.parse::<KeyRef>().unwrap();
        prop_assert_eq!(parsed.to_string(), s);
    }

    #[test]
    fn parsec_names_decode_to_what_was_encoded(name in "\\PC{1,16}") {
        let encoded: String = name.bytes().map(|b| format!("%{b:02x}")).collect();
        let parsed = format!("parsec://{encoded}").parse::<KeyRef>().unwrap();
        prop_assert_eq!(parsed, KeyRef::Parsec { name, provider: None });
    }

    #[test]
    fn any_string_parses_or_errors_and_reparses_stably(s in "\\PC{0,40}") {
        if let Ok(k) = s.parse::<KeyRef>() {
            prop_assert_eq!(k.to_string().parse::<KeyRef>(), Ok(k));
        }
    }

    #[test]
    fn digest_string_round_trips(alg in proptest::sample::select(HashAlgorithm::ALL.to_vec()), data in any::<Vec<u8>>()) {
        let d = Digest::compute(alg, &data);
        prop_assert_eq!(d.to_string().parse::<Digest>(), Ok(d));
        prop_assert_eq!(Digest::new(alg, d.as_bytes()), Ok(d));
    }

    #[test]
    fn raw_rs_der_round_trip_p256(raw in proptest::collection::vec(any::<u8>(), 64)) {
        // Random r and s are almost always below n; skip the rare rejects.
        if let Ok(sig) = Signature::from_raw_rs(SignatureAlgorithm::EcdsaP256Sha256, &raw) {
            prop_assert_eq!(sig.to_raw_rs().unwrap(), raw.clone());
            prop_assert_eq!(Signature::from_der(sig.algorithm(), sig.as_bytes()).unwrap(), sig.clone());
            // The DER is what p256 itself produces.
            let theirs = p256::ecdsa::Signature::from_slice(&raw).unwrap().to_der();
            prop_assert_eq!(sig.as_bytes(), theirs.as_bytes());
        }
    }

    #[test]
    fn raw_rs_der_round_trip_p384(raw in proptest::collection::vec(any::<u8>(), 96)) {
        if let Ok(sig) = Signature::from_raw_rs(SignatureAlgorithm::EcdsaP384Sha384, &raw) {
            prop_assert_eq!(sig.to_raw_rs().unwrap(), raw.clone());
            prop_assert_eq!(Signature::from_der(sig.algorithm(), sig.as_bytes()).unwrap(), sig);
        }
    }

    #[test]
    fn short_scalars_are_padded(
        r in proptest::collection::vec(any::<u8>(), 32),
        s in proptest::collection::vec(any::<u8>(), 32),
        r_zeros in 0usize..32,
        s_zeros in 0usize..32,
    ) {
        // Zero the leading bytes, then strip them as a TPM might.
        let (mut r, mut s) = (r, s);
        r[..r_zeros].fill(0);
        s[..s_zeros].fill(0);
        let alg = SignatureAlgorithm::EcdsaP256Sha256;
        let full = Signature::from_raw_rs(alg, &[r.clone(), s.clone()].concat());
        let short = Signature::from_scalars(alg, &r[r_zeros..], &s[s_zeros..]);
        prop_assert_eq!(&full, &short);
        if let Ok(sig) = short {
            let (r2, s2) = sig.scalars().unwrap();
            prop_assert_eq!((r2, s2), (r, s));
        }
    }

    #[test]
    fn public_key_pem_der_round_trip(
        secret in proptest::collection::vec(any::<u8>(), 48),
        p384 in any::<bool>(),
    ) {
        let der = if p384 {
            p384::SecretKey::from_slice(&secret).ok().map(|k| k.public_key().to_public_key_der())
        } else {
            p256::SecretKey::from_slice(&secret[..32]).ok().map(|k| k.public_key().to_public_key_der())
        };
        if let Some(der) = der {
            let der = der.unwrap();
            let key = PublicKey::from_der(der.as_bytes()).unwrap();
            prop_assert_eq!(key.as_der(), der.as_bytes());
            let from_pem = PublicKey::from_pem(key.to_pem()).unwrap();
            prop_assert_eq!(&from_pem, &key);
            prop_assert_eq!(from_pem.to_der(), der.as_bytes().to_vec());
            prop_assert_eq!(from_pem.fingerprint_sha256(), key.fingerprint_sha256());
        }
    }
}

proptest! {
    // Signing is slower; fewer cases.
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn low_s_normalisation_keeps_validity(
        secret in proptest::collection::vec(any::<u8>(), 48),
        p384 in any::<bool>(),
        message in any::<Vec<u8>>(),
    ) {
        let alg = if p384 { SignatureAlgorithm::EcdsaP384Sha384 } else { SignatureAlgorithm::EcdsaP256Sha256 };
        let bytes = if p384 { &secret[..] } else { &secret[..32] };
        if let Some(signer) = ec_signer(bytes, alg) {
            let sig = signer.sign(&message).unwrap();
            let low = sig.normalize_low_s();
            prop_assert!(!low.is_high_s());
            prop_assert_eq!(low == sig, !sig.is_high_s());
            prop_assert!(verify_message(signer.public_key(), alg, &message, &sig).is_ok());
            prop_assert!(verify_message(signer.public_key(), alg, &message, &low).is_ok());
            // DER of the normalised signature round-trips too.
            prop_assert_eq!(Signature::new(alg, low.as_bytes()).unwrap(), low);
        }
    }
}
