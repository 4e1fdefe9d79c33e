//! Criterion benchmarks of key attestation (issue 15; information only, no goal), on one swtpm.
//!
//! Groups (each with a `baseline`, which `cargo xtask bench` prints the others' ratio to):
//! - `key_attest`: `baseline` = bare tss-esapi doing the same TPM work (EK from the default
//!   template, AK under it, load both, load the key, `TPM2_Certify`, flush); `proofmark` =
//!   `proofmark_tpm::attest_key` (plus conversions, the EK certificate probe and the AK's name).
//! - `verify_attestation`: `baseline` = the AK signature check alone (what
//!   `openssl dgst -verify` does); `proofmark` = `verify_key_attestation` (signature, parsing,
//!   nonce, name and attributes of the key and the AK).
//! - `make_credential`: the verifier's challenge for an RSA-2048 EK (`proofmark` only, no
//!   baseline).
//!
//! Without swtpm the bench prints why and exits successfully.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    reason = "a benchmark reports on stdout and a panic is its failure report"
)]

use std::hint::black_box;

use criterion::Criterion;
use proofmark_test_support::swtpm::Swtpm;
use proofmark_tpm::tss_esapi::abstraction::{AsymmetricAlgorithmSelection, ak, ek};
use proofmark_tpm::tss_esapi::interface_types::algorithm::{
    HashingAlgorithm, SignatureSchemeAlgorithm,
};
use proofmark_tpm::tss_esapi::interface_types::ecc::EccCurve;
use proofmark_tpm::tss_esapi::interface_types::key_bits::RsaKeyBits;
use proofmark_tpm::tss_esapi::interface_types::resource_handles::Hierarchy;
use proofmark_tpm::tss_esapi::interface_types::session_handles::AuthSession;
use proofmark_tpm::tss_esapi::structures::{Data, SignatureScheme};
use proofmark_tpm::tss_esapi::{Context, traits::Marshall as _};
use proofmark_tpm::{
    AkAlgorithm, AttestedKey, KeyAuth, KeyFile, ParentTemplate, StoredAuth, Tcti, Tpm, attest_key,
};
use proofmark_types::tpm_attest::{KeyAttestationInput, make_credential, verify_key_attestation};
use proofmark_types::{Signature, SignatureAlgorithm};

const NONCE: &[u8] = b"0123456789abcdef";

/// The same TPM work as `attest_key`, with tss-esapi alone.
fn bare_attest(tcti: &Tcti, key: &KeyFile) -> Vec<u8> {
    let mut ctx = Context::new(tcti.as_str().parse().unwrap()).unwrap();
    let rsa = AsymmetricAlgorithmSelection::Rsa(RsaKeyBits::Rsa2048);
    let ek = ek::create_ek_object_2(&mut ctx, rsa, None).unwrap();
    let ecc = AsymmetricAlgorithmSelection::Ecc(EccCurve::NistP256);
    let created = ak::create_ak_2(
        &mut ctx,
        ek,
        HashingAlgorithm::Sha256,
        ecc,
        SignatureSchemeAlgorithm::EcDsa,
        None,
        None,
    )
    .unwrap();
    let ak = ak::load_ak(&mut ctx, ek, None, created.out_private, created.out_public).unwrap();
    ctx.flush_context(ek.into()).unwrap();
    let primary = ctx
        .execute_with_session(Some(AuthSession::Password), |c| {
            c.create_primary(
                Hierarchy::Owner,
                ParentTemplate::EccP256.public().unwrap(),
                None,
                None,
                None,
                None,
            )
        })
        .unwrap()
        .key_handle;
    let loaded = ctx
        .execute_with_session(Some(AuthSession::Password), |c| {
            c.load(primary, key.private().clone(), key.public().clone())
        })
        .unwrap();
    ctx.flush_context(primary.into()).unwrap();
    if let StoredAuth::Random(v) = key.auth() {
        let auth =
            proofmark_tpm::tss_esapi::structures::Auth::try_from(v.expose().to_vec()).unwrap();
        ctx.tr_set_auth(loaded.into(), auth).unwrap();
    }
    let (attest, _signature) = ctx
        .execute_with_sessions(
            (Some(AuthSession::Password), Some(AuthSession::Password), None),
            |c| {
                c.certify(
                    loaded.into(),
                    ak,
                    Data::try_from(NONCE.to_vec()).unwrap(),
                    SignatureScheme::Null,
                )
            },
        )
        .unwrap();
    ctx.flush_context(loaded.into()).unwrap();
    ctx.flush_context(ak.into()).unwrap();
    attest.marshall().unwrap()
}

fn main() {
    let Some(tpm) = Swtpm::start() else {
        println!("attest bench: swtpm is not installed; skipping");
        return;
    };
    let tcti = Tcti::parse(&tpm.tcti()).unwrap();
    let key = Tpm::connect(&tcti)
        .unwrap()
        .create_key(SignatureAlgorithm::EcdsaP256Sha256, ParentTemplate::EccP256, &KeyAuth::Random)
        .unwrap();
    let auth = match key.auth() {
        StoredAuth::Random(v) => Some(v.clone()),
        _ => None,
    };
    let attested = AttestedKey::File { key: &key, auth: auth.as_ref() };
    let mut c = Criterion::default().configure_from_args().sample_size(10);

    let mut group = c.benchmark_group("key_attest");
    group.bench_function("baseline", |b| b.iter(|| black_box(bare_attest(&tcti, &key))));
    group.bench_function("proofmark", |b| {
        b.iter(|| black_box(attest_key(&tcti, attested, NONCE, AkAlgorithm::EccP256).unwrap()))
    });
    group.finish();

    let a = attest_key(&tcti, attested, NONCE, AkAlgorithm::EccP256).unwrap();
    let public = key.public_key().unwrap();
    let input = KeyAttestationInput {
        attest: &a.attest,
        signature: &a.signature,
        ak: &a.ak_key,
        ak_public: Some(&a.ak_public),
        key_public: &a.key_public,
        key: &public,
        nonce: NONCE,
    };
    let mut c = Criterion::default().configure_from_args();
    let mut group = c.benchmark_group("verify_attestation");
    group.bench_function("baseline", |b| {
        b.iter(|| {
            let alg = SignatureAlgorithm::EcdsaP256Sha256;
            let sig = Signature::from_der(alg, &a.signature).unwrap();
            proofmark_types::verify_message(&a.ak_key, alg, black_box(&a.attest), &sig).unwrap();
        })
    });
    group.bench_function("proofmark", |b| {
        b.iter(|| black_box(verify_key_attestation(black_box(&input)).unwrap()))
    });
    group.finish();

    let mut group = c.benchmark_group("make_credential");
    group.bench_function("proofmark", |b| {
        b.iter(|| {
            black_box(
                make_credential(&a.ek_key, &a.ak_name, &[7u8; 32], &mut rand_core::OsRng).unwrap(),
            )
        })
    });
    group.finish();
    c.final_summary();
}
