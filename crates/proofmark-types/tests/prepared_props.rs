//! Property tests: [`PreparedVerifier`] gives the same answer as [`verify`] (RustCrypto's
//! `verify_prehash`) on valid signatures, high-S and low-S, and on corrupted ones.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use p256::elliptic_curve::PrimeField as _;
use p256::pkcs8::EncodePrivateKey as _;
use proofmark_types::{
    Digest, PreparedVerifier, Signature, SignatureAlgorithm, Signer as _, SoftwareSigner,
    VerifyError, verify,
};
use proptest::prelude::*;

const CURVES: [SignatureAlgorithm; 2] =
    [SignatureAlgorithm::EcdsaP256Sha256, SignatureAlgorithm::EcdsaP384Sha384];

/// A signer for `algorithm` with the secret scalar derived from `seed` (retrying the rare seed
/// that is no valid scalar by hashing it).
fn signer(algorithm: SignatureAlgorithm, seed: &[u8; 48]) -> SoftwareSigner {
    let pkcs8 = match algorithm {
        SignatureAlgorithm::EcdsaP256Sha256 => p256::SecretKey::from_slice(&seed[..32])
            .or_else(|_| p256::SecretKey::from_slice(&sha2_256(seed)))
            .unwrap()
            .to_pkcs8_der()
            .unwrap(),
        _ => p384::SecretKey::from_slice(seed)
            .or_else(|_| p384::SecretKey::from_slice(&[&sha2_256(seed)[..], &[1; 16]].concat()))
            .unwrap()
            .to_pkcs8_der()
            .unwrap(),
    };
    SoftwareSigner::from_pkcs8_der(pkcs8.as_bytes(), Some(algorithm)).unwrap()
}

fn sha2_256(bytes: &[u8]) -> Vec<u8> {
    Digest::compute(proofmark_types::HashAlgorithm::Sha256, bytes).as_bytes().to_vec()
}

/// `(r, n - s)`: the other of the signature's high-S/low-S pair.
fn negate_s(sig: &Signature) -> Signature {
    let algorithm = sig.algorithm();
    let (r, s) = sig.scalars().unwrap();
    let neg_s = match algorithm {
        SignatureAlgorithm::EcdsaP256Sha256 => {
            let mut repr = p256::FieldBytes::default();
            repr.copy_from_slice(&s);
            let s = p256::Scalar::from_repr(repr).unwrap();
            (-s).to_repr().to_vec()
        }
        _ => {
            let mut repr = p384::FieldBytes::default();
            repr.copy_from_slice(&s);
            let s = p384::Scalar::from_repr(repr).unwrap();
            (-s).to_repr().to_vec()
        }
    };
    Signature::from_scalars(algorithm, &r, &neg_s).unwrap()
}

/// Both verifiers' answers, asserted equal.
fn both(verifier: &PreparedVerifier, digest: &Digest, sig: &Signature) -> Result<(), VerifyError> {
    let plain = verify(verifier.public_key(), verifier.algorithm(), digest, sig);
    let prepared = verifier.verify(digest, sig);
    assert_eq!(prepared, plain, "prepared and plain verification disagree on {sig:?}");
    prepared
}

fn flip_bit(bytes: &[u8], bit: usize) -> Vec<u8> {
    let mut out = bytes.to_vec();
    let bit = bit % (out.len() * 8);
    out[bit / 8] ^= 1 << (bit % 8);
    out
}

fn seed() -> impl Strategy<Value = [u8; 48]> {
    proptest::array::uniform32(any::<u8>()).prop_flat_map(|a| {
        proptest::array::uniform16(any::<u8>()).prop_map(move |b| {
            let mut seed = [0u8; 48];
            seed[..32].copy_from_slice(&a);
            seed[32..].copy_from_slice(&b);
            seed
        })
    })
}

proptest! {
    // Each case builds a verifier's tables (milliseconds); a few dozen cases cover both curves.
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn valid_signatures_verify_high_and_low_s(
        curve in 0..CURVES.len(),
        seed in seed(),
        digest in proptest::collection::vec(any::<u8>(), 48),
    ) {
        let algorithm = CURVES[curve];
        let signer = signer(algorithm, &seed);
        let verifier = PreparedVerifier::new(signer.public_key(), algorithm).unwrap();
        let digest = Digest::new(algorithm.hash(), &digest[..algorithm.hash().output_size()]).unwrap();
        let sig = signer.sign_digest(&digest).unwrap();
        let low = sig.normalize_low_s();
        let high = negate_s(&low);
        prop_assert!(!low.is_high_s());
        prop_assert!(high.is_high_s());
        for sig in [&sig, &low, &high] {
            prop_assert_eq!(both(&verifier, &digest, sig), Ok(()));
        }
    }

    #[test]
    fn corrupted_signatures_are_rejected(
        curve in 0..CURVES.len(),
        seed in seed(),
        other_seed in seed(),
        digest in proptest::collection::vec(any::<u8>(), 48),
        bit in any::<usize>(),
    ) {
        let algorithm = CURVES[curve];
        let signer = signer(algorithm, &seed);
        let verifier = PreparedVerifier::new(signer.public_key(), algorithm).unwrap();
        let size = algorithm.hash().output_size();
        let digest = Digest::new(algorithm.hash(), &digest[..size]).unwrap();
        let sig = signer.sign_digest(&digest).unwrap();
        let (r, s) = sig.scalars().unwrap();

        // A flipped bit in r or s: either no longer a valid scalar (a `Signature` refuses it) or
        // a signature both verifiers reject.
        for (r, s) in [(flip_bit(&r, bit), s.clone()), (r.clone(), flip_bit(&s, bit))] {
            if let Ok(bad) = Signature::from_scalars(algorithm, &r, &s) {
                prop_assert_eq!(both(&verifier, &digest, &bad), Err(VerifyError::BadSignature));
            }
        }
        // A flipped bit in the digest.
        let other_digest = Digest::new(algorithm.hash(), &flip_bit(digest.as_bytes(), bit)).unwrap();
        prop_assert_eq!(both(&verifier, &other_digest, &sig), Err(VerifyError::BadSignature));
        // The wrong key.
        prop_assume!(seed != other_seed);
        let other = signer_verifier(algorithm, &other_seed);
        prop_assert_eq!(both(&other, &digest, &sig), Err(VerifyError::BadSignature));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Arbitrary `r` and `s` (random, zero, at or just above `n`, all ones): a `Signature` holds
    /// them only when both are in `1..n`, and then both verifiers reject them alike.
    #[test]
    fn arbitrary_scalars_are_rejected_alike(
        curve in 0..CURVES.len(),
        seed in seed(),
        r_kind in 0..5usize,
        s_kind in 0..5usize,
        r_random in proptest::collection::vec(any::<u8>(), 48),
        s_random in proptest::collection::vec(any::<u8>(), 48),
        small in 0..3u8,
    ) {
        let algorithm = CURVES[curve];
        let verifier = signer_verifier(algorithm, &seed);
        let size = algorithm.hash().output_size();
        let n = hex::decode(match algorithm {
            SignatureAlgorithm::EcdsaP256Sha256 => N_P256,
            _ => N_P384,
        })
        .unwrap();
        let scalar = |kind: usize, random: &[u8]| -> (Vec<u8>, bool) {
            match kind {
                0 => (random[..size].to_vec(), random[..size] < n[..] && random[..size].iter().any(|&b| b != 0)),
                1 => (vec![0; size], false),
                2 => (n.clone(), false),
                3 => {
                    let mut above = n.clone();
                    *above.last_mut().unwrap() += small + 1;
                    (above, false)
                }
                _ => (vec![0xff; size], false),
            }
        };
        let ((r, r_ok), (s, s_ok)) = (scalar(r_kind, &r_random), scalar(s_kind, &s_random));
        let digest = Digest::new(algorithm.hash(), &r_random[..size]).unwrap();
        match Signature::from_scalars(algorithm, &r, &s) {
            Ok(sig) => {
                prop_assert!(r_ok && s_ok);
                prop_assert_eq!(both(&verifier, &digest, &sig), Err(VerifyError::BadSignature));
            }
            Err(e) => {
                prop_assert!(!(r_ok && s_ok), "{e}");
                prop_assert_eq!(e, proofmark_types::SignatureError::ScalarOutOfRange(algorithm));
            }
        }
    }
}

/// The group orders, big-endian (SEC 2 §2.4.2 and §2.5.1).
const N_P256: &str = "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551";
const N_P384: &str = "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973";

fn signer_verifier(algorithm: SignatureAlgorithm, seed: &[u8; 48]) -> PreparedVerifier {
    PreparedVerifier::new(signer(algorithm, seed).public_key(), algorithm).unwrap()
}

/// Type and algorithm mismatches fail exactly as in [`verify`], and RSA delegates to it.
#[test]
fn mismatches_and_rsa_match_verify() {
    let p256 = SoftwareSigner::generate(SignatureAlgorithm::EcdsaP256Sha256).unwrap();
    let p384 = SoftwareSigner::generate(SignatureAlgorithm::EcdsaP384Sha384).unwrap();
    let rsa = SoftwareSigner::generate(SignatureAlgorithm::RsaPkcs1v15_2048Sha256).unwrap();

    // A P-256 key cannot be prepared for P-384, nor for RSA.
    for algorithm in
        [SignatureAlgorithm::EcdsaP384Sha384, SignatureAlgorithm::RsaPkcs1v15_2048Sha256]
    {
        let err = PreparedVerifier::new(p256.public_key(), algorithm).unwrap_err();
        assert!(matches!(err, VerifyError::KeyMismatch { .. }), "{err}");
    }

    let verifier =
        PreparedVerifier::new(p256.public_key(), SignatureAlgorithm::EcdsaP256Sha256).unwrap();
    let d256 = Digest::compute(proofmark_types::HashAlgorithm::Sha256, b"m");
    let d384 = Digest::compute(proofmark_types::HashAlgorithm::Sha384, b"m");
    let sig384 = p384.sign_digest(&d384).unwrap();
    assert!(matches!(both(&verifier, &d256, &sig384), Err(VerifyError::AlgorithmMismatch { .. })));
    let sig256 = p256.sign_digest(&d256).unwrap();
    assert!(matches!(
        both(&verifier, &d384, &sig256),
        Err(VerifyError::DigestAlgorithmMismatch { .. })
    ));
    assert_eq!(verifier.verify_message(b"m", &sig256), Ok(()));
    assert_eq!(verifier.verify_message(b"n", &sig256), Err(VerifyError::BadSignature));

    let verifier = PreparedVerifier::new(rsa.public_key(), rsa.algorithm()).unwrap();
    let sig = rsa.sign_digest(&d256).unwrap();
    assert_eq!(both(&verifier, &d256, &sig), Ok(()));
    let other = Digest::compute(proofmark_types::HashAlgorithm::Sha256, b"other");
    assert_eq!(both(&verifier, &other, &sig), Err(VerifyError::BadSignature));
}
