//! The `Signer` trait layer against bare RustCrypto on P-256.
//!
//! Group `software_sign_p256`: `baseline` is `p256::ecdsa::SigningKey::sign_prehash` on a fixed
//! digest; `proofmark` is `SoftwareSigner::sign_digest` (the digest check, the signing, and the DER
//! `Signature` it returns). Group `verify_p256`: `baseline` is `VerifyingKey::verify_prehash`;
//! `proofmark` is `proofmark_types::verify` (algorithm checks and DER parsing included).
//! Groups `verify_p256_prepared` and `verify_p384_prepared`: `baseline` is
//! `proofmark_types::verify`; `proofmark` is `PreparedVerifier::verify` on a verifier built once
//! (its table building is not measured, as a long-lived signer pays it once).
//! `cargo xtask bench` reports each `proofmark / baseline` ratio.

// A bench is a test harness: a broken setup should stop it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use p256::pkcs8::EncodePrivateKey as _;
use proofmark_types::{
    Digest, HashAlgorithm, PreparedVerifier, SignatureAlgorithm, Signer as _, SoftwareSigner,
    verify,
};
use signature::hazmat::{PrehashSigner as _, PrehashVerifier as _};

fn keys() -> (p256::ecdsa::SigningKey, SoftwareSigner) {
    let secret = p256::SecretKey::from_slice(&[0x42; 32]).expect("valid scalar");
    let pkcs8 = secret.to_pkcs8_der().expect("PKCS#8 encoding");
    let bare = p256::ecdsa::SigningKey::from(&secret);
    let ours = SoftwareSigner::from_pkcs8_der(pkcs8.as_bytes(), None).expect("our signer");
    (bare, ours)
}

fn software_sign_p256(c: &mut Criterion) {
    let (bare, ours) = keys();
    let digest = Digest::compute(HashAlgorithm::Sha256, b"proofmark bench payload");
    let mut group = c.benchmark_group("software_sign_p256");
    group.bench_function("baseline", |b| {
        b.iter(|| {
            let sig: p256::ecdsa::Signature =
                bare.sign_prehash(black_box(digest.as_bytes())).unwrap();
            sig
        });
    });
    group.bench_function("proofmark", |b| b.iter(|| ours.sign_digest(black_box(&digest)).unwrap()));
    group.finish();
}

fn verify_p256(c: &mut Criterion) {
    let (bare, ours) = keys();
    let digest = Digest::compute(HashAlgorithm::Sha256, b"proofmark bench payload");
    let sig = ours.sign_digest(&digest).unwrap();
    let bare_sig = p256::ecdsa::Signature::from_der(sig.as_bytes()).unwrap();
    let bare_vk = *bare.verifying_key();
    let public_key = ours.public_key().clone();
    let mut group = c.benchmark_group("verify_p256");
    group.bench_function("baseline", |b| {
        b.iter(|| {
            bare_vk.verify_prehash(black_box(digest.as_bytes()), black_box(&bare_sig)).unwrap()
        });
    });
    group.bench_function("proofmark", |b| {
        b.iter(|| {
            verify(
                black_box(&public_key),
                SignatureAlgorithm::EcdsaP256Sha256,
                black_box(&digest),
                black_box(&sig),
            )
            .unwrap();
        });
    });
    group.finish();
}

fn verify_prepared(c: &mut Criterion, group: &str, algorithm: SignatureAlgorithm) {
    let signer = SoftwareSigner::generate(algorithm).unwrap();
    let digest = Digest::compute(algorithm.hash(), b"proofmark bench payload");
    let sig = signer.sign_digest(&digest).unwrap();
    let public_key = signer.public_key().clone();
    let prepared = PreparedVerifier::new(&public_key, algorithm).unwrap();
    let mut group = c.benchmark_group(group);
    group.bench_function("baseline", |b| {
        b.iter(|| {
            verify(black_box(&public_key), algorithm, black_box(&digest), black_box(&sig)).unwrap();
        });
    });
    group.bench_function("proofmark", |b| {
        b.iter(|| prepared.verify(black_box(&digest), black_box(&sig)).unwrap());
    });
    group.finish();
}

fn verify_p256_prepared(c: &mut Criterion) {
    verify_prepared(c, "verify_p256_prepared", SignatureAlgorithm::EcdsaP256Sha256);
}

fn verify_p384_prepared(c: &mut Criterion) {
    verify_prepared(c, "verify_p384_prepared", SignatureAlgorithm::EcdsaP384Sha384);
}

/// How long building a verifier's tables takes (a one-off per key).
fn prepare(c: &mut Criterion) {
    let mut group = c.benchmark_group("prepared_verifier_new");
    group.sample_size(20);
    for algorithm in [SignatureAlgorithm::EcdsaP256Sha256, SignatureAlgorithm::EcdsaP384Sha384] {
        let signer = SoftwareSigner::generate(algorithm).unwrap();
        group.bench_function(algorithm.to_string(), |b| {
            b.iter(|| PreparedVerifier::new(black_box(signer.public_key()), algorithm).unwrap());
        });
    }
    group.finish();
}

criterion_group!(
    benches,
    software_sign_p256,
    verify_p256,
    verify_p256_prepared,
    verify_p384_prepared,
    prepare
);
criterion_main!(benches);
