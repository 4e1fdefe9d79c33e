//! Signing and verifying N images in a local registry: proofmark-cosign against sigstore-rs's
//! own cosign path (`SignatureLayer` + `push_signature`; `trusted_signature_layers` +
//! `verify_constraints`). Groups `sign` and `verify`; `baseline` is sigstore-rs.
//!
//! The two `sign` paths do not do the same work: sigstore-rs writes a fresh manifest holding
//! only the layers it is given (it overwrites), while proofmark reads the existing manifest,
//! appends, and reads back (twice, after a settle delay) to detect concurrent writers. Each
//! iteration starts from images without signatures.
#![allow(clippy::unwrap_used, clippy::print_stdout, reason = "benchmark harness")]

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use proofmark_cosign::manifest::OCI_MANIFEST;
use proofmark_cosign::{
    ImageStore as _, RegistryClient, RegistryOptions, RegistryRepo, SignOptions, VerifyOptions,
    VerifyStatus,
};
use proofmark_test_support::registry::Registry;
use proofmark_types::{SignatureAlgorithm, Signer as _, SoftwareSigner};
use sigstore::cosign::CosignCapabilities as _;
use sigstore::cosign::constraint::{Constraint as _, PrivateKeySigner};
use sigstore::cosign::verification_constraint::{PublicKeyVerifier, VerificationConstraint};
use sigstore::crypto::SigningScheme;
use sigstore::registry::{Auth, ClientConfig, ClientProtocol, OciReference};

const IMAGES: usize = 4;

struct Fixture {
    reg: Registry,
    repo: RegistryRepo,
    digests: Vec<String>,
}

fn fixture() -> Option<Fixture> {
    let reg = Registry::start()?;
    let client = RegistryClient::new(RegistryOptions {
        allow_insecure: vec![reg.addr()],
        ..Default::default()
    })
    .unwrap();
    let repo = client.repository(&reg.addr(), "bench/app");
    let digests = (0..IMAGES)
        .map(|i| {
            let config = format!(r#"{{"architecture":"amd64","os":"linux","n":{i}}}"#);
            let config_digest = repo.put_blob(config.as_bytes()).unwrap();
            let manifest = format!(
                r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config_digest}","size":{}}},"layers":[]}}"#,
                config.len()
            );
            repo.put_manifest(&format!("v{i}"), OCI_MANIFEST, manifest.as_bytes()).unwrap()
        })
        .collect();
    Some(Fixture { reg, repo, digests })
}

/// Deletes every image's signature manifest (the registry runs with deletion enabled).
fn clear_signatures(f: &Fixture) {
    for d in &f.digests {
        let tag = proofmark_cosign::digest::signature_tag(d).unwrap();
        if let Some(m) = f.repo.get_manifest(&tag).unwrap() {
            let url = format!("{}/v2/bench/app/manifests/{}", f.reg.url(), m.digest);
            ureq::delete(&url).call().unwrap();
        }
    }
}

fn sigstore_client(addr: &str) -> sigstore::cosign::Client {
    let cfg = ClientConfig {
        protocol: ClientProtocol::HttpsExcept(vec![addr.to_owned()]),
        ..Default::default()
    };
    sigstore::cosign::ClientBuilder::default().with_oci_client_config(cfg).build().unwrap()
}

fn benches(c: &mut Criterion) {
    let Some(f) = fixture() else {
        println!("cosign bench: docker-registry is not installed; skipping");
        return;
    };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let ours = SoftwareSigner::generate(SignatureAlgorithm::EcdsaP256Sha256).unwrap();
    let repository = format!("{}/bench/app", f.reg.addr());
    let sign_opts = SignOptions { settle: Duration::ZERO, ..Default::default() };

    let mut group = c.benchmark_group("sign");
    group.sample_size(10).measurement_time(Duration::from_secs(20));
    group.bench_function("baseline", |b| {
        let scheme = SigningScheme::ECDSA_P256_SHA256_ASN1;
        let signer = PrivateKeySigner::new_with_signer(scheme.create_signer().unwrap());
        let mut client = sigstore_client(&f.reg.addr());
        b.iter_batched(
            || clear_signatures(&f),
            |()| {
                rt.block_on(async {
                    for i in 0..IMAGES {
                        let image: OciReference = format!("{repository}:v{i}").parse().unwrap();
                        let (sig_ref, digest) =
                            client.triangulate(&image, &Auth::Anonymous).await.unwrap();
                        let mut layer =
                            sigstore::cosign::SignatureLayer::new_unsigned(&image, &digest)
                                .unwrap();
                        signer.add_constraint(&mut layer).unwrap();
                        client
                            .push_signature(None, &Auth::Anonymous, &sig_ref, vec![layer])
                            .await
                            .unwrap();
                    }
                });
            },
            criterion::BatchSize::PerIteration,
        );
    });
    group.bench_function("proofmark", |b| {
        b.iter_batched(
            || clear_signatures(&f),
            |()| {
                for i in 0..IMAGES {
                    proofmark_cosign::sign_image(
                        &f.repo,
                        &format!("v{i}"),
                        &f.repo,
                        &repository,
                        &ours,
                        &sign_opts,
                    )
                    .unwrap();
                }
            },
            criterion::BatchSize::PerIteration,
        );
    });
    group.finish();

    // Verification: every image signed once by our key.
    clear_signatures(&f);
    for i in 0..IMAGES {
        proofmark_cosign::sign_image(
            &f.repo,
            &format!("v{i}"),
            &f.repo,
            &repository,
            &ours,
            &sign_opts,
        )
        .unwrap();
    }
    let pem = ours.public_key().to_pem();
    let mut group = c.benchmark_group("verify");
    group.sample_size(20);
    group.bench_function("baseline", |b| {
        let mut client = sigstore_client(&f.reg.addr());
        let constraints: Vec<Box<dyn VerificationConstraint>> =
            vec![Box::new(PublicKeyVerifier::try_from(pem.as_bytes()).unwrap())];
        b.iter(|| {
            rt.block_on(async {
                for i in 0..IMAGES {
                    let image: OciReference = format!("{repository}:v{i}").parse().unwrap();
                    let layers =
                        client.trusted_signature_layers(&Auth::Anonymous, &image).await.unwrap();
                    sigstore::cosign::verify_constraints(&layers, constraints.iter()).unwrap();
                }
            });
        });
    });
    let opts = VerifyOptions::new(vec![ours.public_key().clone()], repository.clone());
    group.bench_function("proofmark", |b| {
        b.iter(|| {
            for i in 0..IMAGES {
                let report =
                    proofmark_cosign::verify_image(&f.repo, &format!("v{i}"), &f.repo, &opts)
                        .unwrap();
                assert_eq!(report.status, VerifyStatus::Verified);
            }
        });
    });
    group.finish();
}

criterion_group!(cosign, benches);
criterion_main!(cosign);
