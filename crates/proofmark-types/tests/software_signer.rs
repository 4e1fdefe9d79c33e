//! The software signer, the `Signer` trait objects, and `verify`'s error cases, without external
//! tools.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, OnceLock};

use proofmark_types::{
    Digest, EcCurve, HashAlgorithm, KeyKind, PublicKey, SignError, Signature, SignatureAlgorithm,
    Signer, SoftwareKeyError, SoftwareSigner, VerifyError, verify, verify_message,
};

use SignatureAlgorithm as A;

/// One generated RSA-2048 key per test binary (generation is slow in debug builds).
fn rsa2048_pem() -> &'static str {
    static PEM: OnceLock<String> = OnceLock::new();
    PEM.get_or_init(|| {
        SoftwareSigner::generate(A::RsaPkcs1v15_2048Sha256)
            .unwrap()
            .to_pkcs8_pem()
            .unwrap()
            .to_string()
    })
}

fn signer(alg: SignatureAlgorithm) -> SoftwareSigner {
    match alg.key_kind() {
        KeyKind::Rsa { bits: 2048 } => {
            SoftwareSigner::from_pkcs8_pem(rsa2048_pem().as_bytes(), Some(alg)).unwrap()
        }
        _ => SoftwareSigner::generate(alg).unwrap(),
    }
}

const TESTED: [SignatureAlgorithm; 4] =
    [A::EcdsaP256Sha256, A::EcdsaP384Sha384, A::RsaPkcs1v15_2048Sha256, A::RsaPss2048Sha256];

#[test]
fn sign_and_verify_every_tested_algorithm() {
    for alg in TESTED {
        let signer = signer(alg);
        assert_eq!(signer.algorithm(), alg);
        let sig = signer.sign(b"message").unwrap();
        assert_eq!(sig.algorithm(), alg);
        verify_message(signer.public_key(), alg, b"message", &sig).unwrap();
        assert_eq!(
            verify_message(signer.public_key(), alg, b"massage", &sig),
            Err(VerifyError::BadSignature),
            "{alg}"
        );
        // sign == hash + sign_digest.
        let digest = Digest::compute(alg.hash(), b"message");
        let sig2 = signer.sign_digest(&digest).unwrap();
        verify(signer.public_key(), alg, &digest, &sig2).unwrap();
        // The wire bytes round-trip through Signature::new.
        assert_eq!(Signature::new(alg, sig.as_bytes()).unwrap(), sig);
    }
}

#[test]
fn rsa_3072_generate_sign_verify() {
    let alg = A::RsaPss3072Sha256;
    let signer = SoftwareSigner::generate(alg).unwrap();
    assert_eq!(signer.public_key().key_kind(), KeyKind::Rsa { bits: 3072 });
    let sig = signer.sign(b"m").unwrap();
    assert_eq!(sig.as_bytes().len(), 384);
    verify_message(signer.public_key(), alg, b"m", &sig).unwrap();
    // The same key signs PKCS#1 v1.5 when asked.
    let pem = signer.to_pkcs8_pem().unwrap();
    let pkcs1 = SoftwareSigner::from_pkcs8_pem(pem.as_bytes(), None).unwrap();
    assert_eq!(pkcs1.algorithm(), A::RsaPkcs1v15_3072Sha256, "RSA defaults to PKCS#1 v1.5");
    let sig = pkcs1.sign(b"m").unwrap();
    verify_message(signer.public_key(), A::RsaPkcs1v15_3072Sha256, b"m", &sig).unwrap();
    assert_eq!(
        verify_message(signer.public_key(), A::RsaPss3072Sha256, b"m", &sig),
        Err(VerifyError::AlgorithmMismatch {
            expected: A::RsaPss3072Sha256,
            got: A::RsaPkcs1v15_3072Sha256
        })
    );
    // A PKCS#1 v1.5 signature relabelled as PSS does not verify.
    let relabelled = Signature::new(A::RsaPss3072Sha256, sig.as_bytes()).unwrap();
    assert_eq!(
        verify_message(signer.public_key(), A::RsaPss3072Sha256, b"m", &relabelled),
        Err(VerifyError::BadSignature)
    );
}

#[test]
fn pkcs8_export_round_trips() {
    for alg in TESTED {
        let signer = signer(alg);
        let pem = signer.to_pkcs8_pem().unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
        let again = SoftwareSigner::from_pkcs8_pem(pem.as_bytes(), Some(alg)).unwrap();
        assert_eq!(again.public_key(), signer.public_key());
        let der = signer.to_pkcs8_der().unwrap();
        let from_der = SoftwareSigner::from_pkcs8_der(&der, Some(alg)).unwrap();
        assert_eq!(from_der.public_key(), signer.public_key());
        // A signature by the reloaded key verifies under the original public key.
        let sig = from_der.sign(b"x").unwrap();
        verify_message(signer.public_key(), alg, b"x", &sig).unwrap();
    }
}

#[test]
fn ec_keys_imply_their_algorithm_and_refuse_others() {
    let p384 = SoftwareSigner::generate(A::EcdsaP384Sha384).unwrap();
    let pem = p384.to_pkcs8_pem().unwrap();
    assert_eq!(
        SoftwareSigner::from_pkcs8_pem(pem.as_bytes(), None).unwrap().algorithm(),
        A::EcdsaP384Sha384
    );
    for wrong in [A::EcdsaP256Sha256, A::RsaPss2048Sha256] {
        assert_eq!(
            SoftwareSigner::from_pkcs8_pem(pem.as_bytes(), Some(wrong)).unwrap_err(),
            SoftwareKeyError::AlgorithmMismatch {
                key: KeyKind::Ec(EcCurve::P384),
                algorithm: wrong
            }
        );
    }
    assert_eq!(
        SoftwareSigner::from_pkcs8_pem(rsa2048_pem().as_bytes(), Some(A::RsaPss3072Sha256))
            .unwrap_err(),
        SoftwareKeyError::AlgorithmMismatch {
            key: KeyKind::Rsa { bits: 2048 },
            algorithm: A::RsaPss3072Sha256
        }
    );
}

#[test]
fn bad_private_keys_are_rejected_clearly() {
    let err = |pem: &str| SoftwareSigner::from_pkcs8_pem(pem.as_bytes(), None).unwrap_err();
    assert!(matches!(err("not pem"), SoftwareKeyError::Pem(_)));
    assert_eq!(
        SoftwareSigner::from_pkcs8_pem(&[0xff, 0x00], None).unwrap_err(),
        SoftwareKeyError::PemNotUtf8
    );
    let p256 = SoftwareSigner::generate(A::EcdsaP256Sha256).unwrap().to_pkcs8_pem().unwrap();
    let sec1 = p256.replace("PRIVATE KEY", "EC PRIVATE KEY");
    let e = err(&sec1);
    assert!(
        matches!(&e, SoftwareKeyError::WrongPemLabel { found, .. } if found == "EC PRIVATE KEY")
    );
    assert!(e.to_string().contains("openssl pkcs8 -topk8"), "{e}");
    assert_eq!(
        err(&p256.replace("PRIVATE KEY", "ENCRYPTED PRIVATE KEY")),
        SoftwareKeyError::Encrypted
    );
    assert!(matches!(
        SoftwareSigner::from_pkcs8_der(b"\x30\x03\x02\x01\x00", None).unwrap_err(),
        SoftwareKeyError::Malformed(_)
    ));
    // An Ed25519 PKCS#8 key (RFC 8410 §10.3).
    let ed25519 = hex::decode("302e020100300506032b657004220420d4ee72dbf913584ad5b6d8f1f769f8ad3afe7c28cbf1d4fbe097a88f44755842").unwrap();
    let e = SoftwareSigner::from_pkcs8_der(&ed25519, None).unwrap_err();
    assert!(matches!(e, SoftwareKeyError::UnsupportedAlgorithm(_)), "{e:?}");
}

#[test]
fn debug_shows_no_secret() {
    let signer = SoftwareSigner::generate(A::EcdsaP256Sha256).unwrap();
    let debug = format!("{signer:?}");
    let pem = signer.to_pkcs8_pem().unwrap();
    for line in pem.lines().filter(|l| !l.starts_with("-----")) {
        assert!(!debug.contains(line), "{debug}");
    }
    let der = signer.to_pkcs8_der().unwrap();
    // The 32-byte private scalar sits at the end of the ECPrivateKey's OCTET STRING; check that
    // no 8-byte window of the DER appears in hex in the output.
    for window in der.windows(8) {
        assert!(!debug.contains(&hex::encode(window)), "{debug}");
    }
    assert!(debug.contains("EcdsaP256Sha256") && debug.contains("fingerprint"), "{debug}");
}

#[test]
fn wrong_digest_is_refused() {
    let signer = signer(A::EcdsaP256Sha256);
    let digest = Digest::compute(HashAlgorithm::Sha512, b"x");
    match signer.sign_digest(&digest) {
        Err(SignError::DigestAlgorithmMismatch { algorithm, expected, got }) => {
            assert_eq!(
                (algorithm, expected, got),
                (A::EcdsaP256Sha256, HashAlgorithm::Sha256, HashAlgorithm::Sha512)
            );
        }
        other => panic!("expected a digest mismatch, got {other:?}"),
    }
}

#[test]
fn trait_objects_and_smart_pointers_sign() {
    let boxed: Box<dyn Signer> = Box::new(signer(A::EcdsaP256Sha256));
    let shared: Arc<dyn Signer> = Arc::new(signer(A::EcdsaP384Sha384));
    let signers: Vec<Box<dyn Signer>> = vec![boxed, Box::new(Arc::clone(&shared))];
    for s in &signers {
        let sig = s.sign(b"m").unwrap();
        verify_message(s.public_key(), s.algorithm(), b"m", &sig).unwrap();
    }
    // Shared across threads.
    std::thread::scope(|scope| {
        for _ in 0..2 {
            let shared = Arc::clone(&shared);
            scope.spawn(move || {
                let sig = shared.sign(b"t").unwrap();
                verify_message(shared.public_key(), shared.algorithm(), b"t", &sig).unwrap();
            });
        }
    });
    fn takes_generic<S: Signer>(s: &S) -> SignatureAlgorithm {
        s.algorithm()
    }
    assert_eq!(takes_generic(&shared), A::EcdsaP384Sha384);
    assert_eq!(takes_generic(&&*shared), A::EcdsaP384Sha384);
}

#[test]
fn verify_reports_each_mismatch() {
    let p256 = signer(A::EcdsaP256Sha256);
    let sig = p256.sign(b"m").unwrap();
    let d256 = Digest::compute(HashAlgorithm::Sha256, b"m");
    assert_eq!(
        verify(p256.public_key(), A::EcdsaP384Sha384, &d256, &sig),
        Err(VerifyError::AlgorithmMismatch {
            expected: A::EcdsaP384Sha384,
            got: A::EcdsaP256Sha256
        })
    );
    let d384 = Digest::compute(HashAlgorithm::Sha384, b"m");
    assert_eq!(
        verify(p256.public_key(), A::EcdsaP256Sha256, &d384, &sig),
        Err(VerifyError::DigestAlgorithmMismatch {
            algorithm: A::EcdsaP256Sha256,
            expected: HashAlgorithm::Sha256,
            got: HashAlgorithm::Sha384
        })
    );
    let p384 = signer(A::EcdsaP384Sha384);
    let e = verify(p384.public_key(), A::EcdsaP256Sha256, &d256, &sig).unwrap_err();
    assert_eq!(
        e,
        VerifyError::KeyMismatch { key: KeyKind::Ec(EcCurve::P384), algorithm: A::EcdsaP256Sha256 }
    );
    assert_eq!(
        e.to_string(),
        "a EC P-384 public key cannot verify ecdsa-sha2-256-nistp256 signatures"
    );
    // Another P-256 key: well-formed, wrong key.
    let other = signer(A::EcdsaP256Sha256);
    assert_eq!(
        verify(other.public_key(), A::EcdsaP256Sha256, &d256, &sig),
        Err(VerifyError::BadSignature)
    );
}

#[test]
fn high_s_is_accepted_and_low_s_normalisation_keeps_validity() {
    let signer = signer(A::EcdsaP256Sha256);
    let mut seen_high = false;
    for i in 0..64u8 {
        let sig = signer.sign(&[i]).unwrap();
        // Flip s to n - s with the curve arithmetic: the mirror image has the other S form.
        let (r, s) = sig.scalars().unwrap();
        let s_scalar = p256::NonZeroScalar::try_from(s.as_slice()).unwrap();
        let mirrored = -s_scalar;
        let flipped =
            Signature::from_scalars(A::EcdsaP256Sha256, &r, &mirrored.to_bytes()).unwrap();
        assert_ne!(flipped.is_high_s(), sig.is_high_s());
        for candidate in [&sig, &flipped] {
            verify_message(signer.public_key(), A::EcdsaP256Sha256, &[i], candidate).unwrap();
            let low = candidate.normalize_low_s();
            assert!(!low.is_high_s());
            verify_message(signer.public_key(), A::EcdsaP256Sha256, &[i], &low).unwrap();
            assert_eq!(low.normalize_low_s(), low);
        }
        assert_eq!(sig.normalize_low_s(), flipped.normalize_low_s());
        seen_high |= sig.is_high_s() || flipped.is_high_s();
    }
    assert!(seen_high);
}

#[test]
fn public_key_from_rsa_components_matches_spki() {
    let signer = signer(A::RsaPkcs1v15_2048Sha256);
    let spki = signer.public_key().as_der();
    // Pull n and e out with the rsa crate, as a TPM would hand them to us.
    use rsa::pkcs8::DecodePublicKey as _;
    use rsa::traits::PublicKeyParts as _;
    let key = rsa::RsaPublicKey::from_public_key_der(spki).unwrap();
    let rebuilt =
        PublicKey::from_rsa_components(&key.n().to_bytes_be(), &key.e().to_bytes_be()).unwrap();
    assert_eq!(&rebuilt, signer.public_key());
    assert!(rebuilt.supports(A::RsaPss2048Sha256) && !rebuilt.supports(A::RsaPss3072Sha256));
}
