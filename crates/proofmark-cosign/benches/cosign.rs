//! Signing and verifying images in a local registry: proofmark-cosign against sigstore-rs's own
//! cosign path (`triangulate` + `SignatureLayer` + `push_signature`; `trusted_signature_layers`
//! + `verify_constraints`). In every group `baseline` is sigstore-rs, measured in the same run.
//!
//! sigstore-rs writes only the `sha256-<hex>.sig` layout, so every signing comparison uses that
//! layout for proofmark too ([`SignOptions::legacy`]); the goals are in `xtask/src/bench.rs`.
//!
//! * `sign_one` (goal ≤ 1.0×): one image. sigstore-rs signs it once; proofmark calls
//!   [`proofmark_cosign::sign_image`] with default options, which reads the signature manifest,
//!   uploads, re-reads, writes and confirms with a read-back after a wait (twice the measured
//!   read-to-write time, at least `SignOptions::settle`, 10 ms): the safe append that
//!   sigstore-rs does not do (it overwrites the manifest with the layers it is given).
//! * `sign` (goal ≤ 1.0×): N images. sigstore-rs signs them **concurrently**, one tokio task per
//!   image (`tokio::spawn` on a current-thread runtime: their registry round trips overlap),
//!   each task with its own client (built before the timing, as a user would build them
//!   once); proofmark signs them as `proofmark sign
//!   IMAGE...` does, one [`proofmark_cosign::sign_many`] batch with default options.
//! * `sign_vs_serial_loop` (information, no goal): the same proofmark batch against sigstore-rs
//!   signing the N images one after the other, the comparison an earlier goal used.
//! * `verify` (goal ≤ 0.3×): the N images, each signed once in the `.sig` layout, verified one
//!   after the other by both tools (both also look for OCI 1.1 referrers, as users get them).
//!   `proofmark_bundle` (information, no goal) verifies N other images each signed once with a
//!   cosign 3 bundle referrer, against the same sigstore-rs `.sig` baseline.
//!
//! Before the groups, two things criterion does not give:
//!
//! * a census: every request and new connection each tool spends on signing and verifying one
//!   image, counted by a proxy in front of the registry (`support/census.rs`), which does not
//!   depend on the machine's load (`PROOFMARK_BENCH_TIMELINE=1` prints each request's time);
//! * `sign_one_interleaved`, `sign_interleaved` (the batch against the concurrent tasks) and
//!   `verify_interleaved`: 40 rounds alternating sigstore-rs and proofmark, whose medians
//!   `cargo xtask bench` prints as paired-median rows (no goal).
//!
//! Before each timed signing iteration (untimed) the tags `v0`…`v{N-1}` are pointed at N images
//! never seen before, so both tools make first signatures with new payload and config blobs, as
//! CI does for what it just pushed.
//!
//! The functions of a group run one after the other, each for its whole measurement time, and
//! this machine's disk latency (registry writes are fsync-bound) drifts over minutes: read a
//! signing ratio as a trend over runs, not as an exact figure.
#![allow(clippy::unwrap_used, clippy::print_stdout, reason = "benchmark harness")]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use proofmark_cosign::manifest::OCI_MANIFEST;
use proofmark_cosign::{
    ImageStore as _, RegistryClient, RegistryOptions, RegistryRepo, SignOptions, SignTarget,
    VerifyOptions, VerifyStatus,
};
use proofmark_test_support::registry::Registry;
use proofmark_types::{SignatureAlgorithm, Signer as _, SoftwareSigner};
use sigstore::cosign::CosignCapabilities as _;
use sigstore::cosign::constraint::{Constraint as _, PrivateKeySigner};
use sigstore::cosign::verification_constraint::{PublicKeyVerifier, VerificationConstraint};
use sigstore::crypto::SigningScheme;
use sigstore::registry::{Auth, ClientConfig, ClientProtocol, OciReference};

#[path = "support/census.rs"]
mod census;

const IMAGES: usize = 4;
/// Rounds of the interleaved measurements.
const ROUNDS: usize = 40;
/// Registry round trips need no long warm-up; the shared build machine needs short runs.
const WARM_UP: Duration = Duration::from_secs(1);

struct Fixture {
    reg: Registry,
    repo: RegistryRepo,
}

fn fixture() -> Option<Fixture> {
    let reg = Registry::start()?;
    let client = RegistryClient::new(RegistryOptions {
        allow_insecure: vec![reg.addr()],
        ..Default::default()
    })
    .unwrap();
    let repo = client.repository(&reg.addr(), "bench/app");
    Some(Fixture { reg, repo })
}

/// Points `{prefix}0`…`{prefix}{N-1}` at N images never seen before (a fresh config each), so
/// every signature is a first signature with new blobs, as when CI signs what it just pushed.
fn push_images(repo: &RegistryRepo, prefix: &str) -> Vec<String> {
    static SEED: AtomicU64 = AtomicU64::new(0);
    let seed = SEED.fetch_add(1, Ordering::Relaxed);
    (0..IMAGES)
        .map(|i| {
            let config =
                format!(r#"{{"architecture":"amd64","os":"linux","n":{i},"seed":{seed}}}"#);
            let config_digest = repo.put_blob(config.as_bytes()).unwrap();
            let manifest = format!(
                r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config_digest}","size":{}}},"layers":[]}}"#,
                config.len()
            );
            repo.put_manifest(&format!("{prefix}{i}"), OCI_MANIFEST, manifest.as_bytes()).unwrap()
        })
        .collect()
}

/// sigstore-rs's own cosign signing of one image: `triangulate`, a `SignatureLayer`, the
/// signer's constraint, `push_signature`.
async fn sigstore_sign(
    client: &mut sigstore::cosign::Client,
    signer: &PrivateKeySigner,
    image: &OciReference,
) {
    try_sigstore_sign(client, signer, image).await.unwrap();
}

async fn try_sigstore_sign(
    client: &mut sigstore::cosign::Client,
    signer: &PrivateKeySigner,
    image: &OciReference,
) -> sigstore::errors::Result<()> {
    let (sig_ref, digest) = client.triangulate(image, &Auth::Anonymous).await?;
    let mut layer = sigstore::cosign::SignatureLayer::new_unsigned(image, &digest)?;
    signer.add_constraint(&mut layer)?;
    client.push_signature(None, &Auth::Anonymous, &sig_ref, vec![layer]).await?;
    Ok(())
}

/// Concurrent sigstore-rs signers in one repository all upload the same `{}` config blob, and
/// distribution 2.8 sometimes answers one of them `DIGEST_INVALID`; a user would retry.
async fn sigstore_sign_retrying(
    client: &mut sigstore::cosign::Client,
    signer: &PrivateKeySigner,
    image: &OciReference,
) {
    for _ in 0..4 {
        if try_sigstore_sign(client, signer, image).await.is_ok() {
            return;
        }
    }
    sigstore_sign(client, signer, image).await;
}

/// sigstore-rs signing `{prefix}0`… concurrently: one tokio task and client per image (the
/// clients are handed back for the next round, as a user would keep them).
async fn sigstore_sign_concurrently(
    clients: Vec<sigstore::cosign::Client>,
    signer: &Arc<PrivateKeySigner>,
    repository: &str,
    prefix: &str,
) -> Vec<sigstore::cosign::Client> {
    let tasks: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(i, mut client)| {
            let signer = Arc::clone(signer);
            let image: OciReference = format!("{repository}:{prefix}{i}").parse().unwrap();
            tokio::spawn(async move {
                sigstore_sign_retrying(&mut client, &signer, &image).await;
                client
            })
        })
        .collect();
    let mut back = Vec::with_capacity(tasks.len());
    for t in tasks {
        back.push(t.await.unwrap());
    }
    back
}

/// proofmark's batch of `references` in `repo`, named `repository` in the payloads.
fn sign_targets<'a>(
    repo: &'a RegistryRepo,
    references: &'a [String],
    repository: &'a str,
) -> Vec<SignTarget<'a>> {
    references
        .iter()
        .map(|r| SignTarget {
            image: repo,
            reference: r,
            signatures: repo,
            docker_reference: repository,
        })
        .collect()
}

fn sigstore_client(addr: &str) -> sigstore::cosign::Client {
    let cfg = ClientConfig {
        protocol: ClientProtocol::HttpsExcept(vec![addr.to_owned()]),
        ..Default::default()
    };
    sigstore::cosign::ClientBuilder::default().with_oci_client_config(cfg).build().unwrap()
}

fn sigstore_signer() -> PrivateKeySigner {
    let scheme = SigningScheme::ECDSA_P256_SHA256_ASN1;
    PrivateKeySigner::new_with_signer(scheme.create_signer().unwrap())
}

fn benches(c: &mut Criterion) {
    let Some(f) = fixture() else {
        println!("cosign bench: docker-registry is not installed; skipping");
        return;
    };
    // One thread: the tasks' network waits overlap; their CPU work (microseconds per image)
    // does not, which on this 2-core machine costs the baseline nothing measurable.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let ours = SoftwareSigner::generate(SignatureAlgorithm::EcdsaP256Sha256).unwrap();
    census(&f, &rt, &ours);
    interleaved(&f, &rt, &ours);
    let repository = format!("{}/bench/app", f.reg.addr());
    let sign_opts = SignOptions::legacy();
    let references: Vec<String> = (0..IMAGES).map(|i| format!("v{i}")).collect();
    let targets = sign_targets(&f.repo, &references, &repository);
    let proofmark_batch = |b: &mut criterion::Bencher<'_>| {
        b.iter_batched(
            || push_images(&f.repo, "v"),
            |_| {
                let signed = proofmark_cosign::sign_many(&targets, &ours, &sign_opts).unwrap();
                assert_eq!(signed.len(), IMAGES);
            },
            BatchSize::PerIteration,
        );
    };

    // One image: no batch to share the confirmation wait with.
    let mut group = c.benchmark_group("sign_one");
    group.sample_size(20).warm_up_time(WARM_UP).measurement_time(Duration::from_secs(8));
    group.bench_function("baseline", |b| {
        let signer = sigstore_signer();
        let mut client = sigstore_client(&f.reg.addr());
        let image: OciReference = format!("{repository}:v0").parse().unwrap();
        b.iter_batched(
            || push_images(&f.repo, "v"),
            |_| rt.block_on(sigstore_sign(&mut client, &signer, &image)),
            BatchSize::PerIteration,
        );
    });
    group.bench_function("proofmark", |b| {
        b.iter_batched(
            || push_images(&f.repo, "v"),
            |_| {
                proofmark_cosign::sign_image(
                    &f.repo,
                    "v0",
                    &f.repo,
                    &repository,
                    &ours,
                    &sign_opts,
                )
                .unwrap();
            },
            BatchSize::PerIteration,
        );
    });
    group.finish();

    // N images: sigstore-rs concurrently (one tokio task and client per image), proofmark's batch.
    let mut group = c.benchmark_group("sign");
    group.sample_size(10).warm_up_time(WARM_UP).measurement_time(Duration::from_secs(10));
    group.bench_function("baseline", |b| {
        let signer = Arc::new(sigstore_signer());
        let mut clients: Vec<_> = (0..IMAGES).map(|_| sigstore_client(&f.reg.addr())).collect();
        b.iter_batched(
            || push_images(&f.repo, "v"),
            |_| {
                let taken = std::mem::take(&mut clients);
                clients = rt.block_on(sigstore_sign_concurrently(taken, &signer, &repository, "v"));
            },
            BatchSize::PerIteration,
        );
    });
    group.bench_function("proofmark", proofmark_batch);
    group.finish();

    // Information only: the same batch against sigstore-rs signing one image after the other.
    let mut group = c.benchmark_group("sign_vs_serial_loop");
    group.sample_size(10).warm_up_time(WARM_UP).measurement_time(Duration::from_secs(6));
    group.bench_function("baseline", |b| {
        let signer = sigstore_signer();
        let mut client = sigstore_client(&f.reg.addr());
        b.iter_batched(
            || push_images(&f.repo, "v"),
            |_| {
                rt.block_on(async {
                    for i in 0..IMAGES {
                        let image: OciReference = format!("{repository}:v{i}").parse().unwrap();
                        sigstore_sign(&mut client, &signer, &image).await;
                    }
                });
            },
            BatchSize::PerIteration,
        );
    });
    group.bench_function("proofmark", proofmark_batch);
    group.finish();

    // Verification: `v*` signed once in the `.sig` layout, `b*` once with a bundle referrer.
    push_images(&f.repo, "v");
    push_images(&f.repo, "b");
    let bundle_opts = SignOptions::default();
    for i in 0..IMAGES {
        let (legacy, bundle) = (format!("v{i}"), format!("b{i}"));
        proofmark_cosign::sign_image(&f.repo, &legacy, &f.repo, &repository, &ours, &sign_opts)
            .unwrap();
        proofmark_cosign::sign_image(&f.repo, &bundle, &f.repo, &repository, &ours, &bundle_opts)
            .unwrap();
    }
    let pem = ours.public_key().to_pem();
    let opts = VerifyOptions::new(vec![ours.public_key().clone()], repository.clone());
    let proofmark_verify = |prefix: &'static str| {
        let opts = &opts;
        let repo = &f.repo;
        move |b: &mut criterion::Bencher<'_>| {
            b.iter(|| {
                for i in 0..IMAGES {
                    let report =
                        proofmark_cosign::verify_image(repo, &format!("{prefix}{i}"), repo, opts)
                            .unwrap();
                    assert_eq!(report.status, VerifyStatus::Verified);
                }
            });
        }
    };
    let mut group = c.benchmark_group("verify");
    group.sample_size(20).warm_up_time(WARM_UP);
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
    group.bench_function("proofmark", proofmark_verify("v"));
    group.bench_function("proofmark_bundle", proofmark_verify("b"));
    group.finish();
}

/// Counts the requests and new connections each tool spends on the same work, through a
/// counting proxy in front of the registry, and prints them with the timeline of one run.
/// Each client does the work once untimed first, as in the timed loops, where clients live
/// across iterations and their idle connections are reused.
fn census(f: &Fixture, rt: &tokio::runtime::Runtime, ours: &SoftwareSigner) {
    let proxy = census::Census::start(&f.reg.addr());
    let client = RegistryClient::new(RegistryOptions {
        allow_insecure: vec![proxy.addr().to_owned()],
        ..Default::default()
    })
    .unwrap();
    let repo = client.repository(proxy.addr(), "bench/census");
    let repository = format!("{}/bench/census", proxy.addr());
    let mut sigstore = sigstore_client(proxy.addr());
    let signer = sigstore_signer();
    let pem = ours.public_key().to_pem();
    let constraints: Vec<Box<dyn VerificationConstraint>> =
        vec![Box::new(PublicKeyVerifier::try_from(pem.as_bytes()).unwrap())];
    let verify_opts = VerifyOptions::new(vec![ours.public_key().clone()], repository.clone());
    // `run` resets the counts itself when it has set up (untimed) what it works on.
    let show = |what: &str, run: &mut dyn FnMut()| {
        run();
        proxy.reset();
        run();
        let (_, summary, timeline) = proxy.report();
        println!("  {what}: {summary}");
        if std::env::var_os("PROOFMARK_BENCH_TIMELINE").is_some() {
            print!("{timeline}");
        }
    };
    println!("cosign bench: requests per operation through a counting proxy (second run):");
    show("sign one, sigstore-rs", &mut || {
        push_images(&repo, "c");
        proxy.reset();
        let image: OciReference = format!("{repository}:c0").parse().unwrap();
        rt.block_on(sigstore_sign(&mut sigstore, &signer, &image));
    });
    for (name, opts) in [("legacy", SignOptions::legacy()), ("bundle", SignOptions::default())] {
        show(&format!("sign one, proofmark {name}"), &mut || {
            push_images(&repo, "c");
            proxy.reset();
            proofmark_cosign::sign_image(&repo, "c0", &repo, &repository, ours, &opts).unwrap();
        });
    }
    let mut clients: Vec<_> = (0..IMAGES).map(|_| sigstore_client(proxy.addr())).collect();
    let signer = Arc::new(signer);
    show(&format!("sign {IMAGES} concurrently, sigstore-rs"), &mut || {
        push_images(&repo, "n");
        proxy.reset();
        let taken = std::mem::take(&mut clients);
        clients = rt.block_on(sigstore_sign_concurrently(taken, &signer, &repository, "n"));
    });
    let references: Vec<String> = (0..IMAGES).map(|i| format!("n{i}")).collect();
    let targets = sign_targets(&repo, &references, &repository);
    show(&format!("sign {IMAGES} in a batch, proofmark legacy"), &mut || {
        push_images(&repo, "n");
        proxy.reset();
        proofmark_cosign::sign_many(&targets, ours, &SignOptions::legacy()).unwrap();
    });
    // Verification of what the last rounds signed: c0 in the bundle format, c1 in `.sig`.
    proofmark_cosign::sign_image(&repo, "c1", &repo, &repository, ours, &SignOptions::legacy())
        .unwrap();
    let signed = rt.block_on(async {
        let image: OciReference = format!("{repository}:c1").parse().unwrap();
        sigstore.trusted_signature_layers(&Auth::Anonymous, &image).await.unwrap()
    });
    sigstore::cosign::verify_constraints(&signed, constraints.iter()).unwrap();
    show("verify one, sigstore-rs (.sig)", &mut || {
        rt.block_on(async {
            let image: OciReference = format!("{repository}:c1").parse().unwrap();
            let layers = sigstore.trusted_signature_layers(&Auth::Anonymous, &image).await.unwrap();
            sigstore::cosign::verify_constraints(&layers, constraints.iter()).unwrap();
        });
    });
    for (name, tag) in [("legacy", "c1"), ("bundle", "c0")] {
        show(&format!("verify one, proofmark {name}"), &mut || {
            let report = proofmark_cosign::verify_image(&repo, tag, &repo, &verify_opts).unwrap();
            assert_eq!(report.status, VerifyStatus::Verified);
        });
    }
}

/// The middle of sorted `times`.
fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// `sign_one` and `verify` measured round by round, baseline and proofmark alternating (their
/// order swapped every round), so that the load of the shared machine hits both alike; the
/// medians are recorded for `cargo xtask bench` as `sign_one_interleaved` and
/// `verify_interleaved`.
fn interleaved(f: &Fixture, rt: &tokio::runtime::Runtime, ours: &SoftwareSigner) {
    let repository = format!("{}/bench/app", f.reg.addr());
    let sign_opts = SignOptions::legacy();
    let signer = sigstore_signer();
    let mut client = sigstore_client(&f.reg.addr());
    let image: OciReference = format!("{repository}:v0").parse().unwrap();
    let (mut base, mut mine) = alternate(
        &f.repo,
        || rt.block_on(sigstore_sign(&mut client, &signer, &image)),
        || {
            proofmark_cosign::sign_image(&f.repo, "v0", &f.repo, &repository, ours, &sign_opts)
                .unwrap();
        },
    );
    report("sign_one_interleaved", ROUNDS, &mut base, &mut mine);

    // N images: sigstore-rs's concurrent tasks against proofmark's batch, as in `sign`.
    let signer = Arc::new(signer);
    let mut clients: Vec<_> = (0..IMAGES).map(|_| sigstore_client(&f.reg.addr())).collect();
    let references: Vec<String> = (0..IMAGES).map(|i| format!("v{i}")).collect();
    let targets = sign_targets(&f.repo, &references, &repository);
    let mut rounds: std::collections::BTreeMap<u32, usize> = std::collections::BTreeMap::new();
    let (mut base, mut mine) = alternate(
        &f.repo,
        || {
            let taken = std::mem::take(&mut clients);
            clients = rt.block_on(sigstore_sign_concurrently(taken, &signer, &repository, "v"));
        },
        || {
            let signed = proofmark_cosign::sign_many(&targets, ours, &sign_opts).unwrap();
            let most = signed.iter().map(|s| s.attempts).max().unwrap_or(0);
            *rounds.entry(most).or_default() += 1;
        },
    );
    report("sign_interleaved", ROUNDS, &mut base, &mut mine);
    // A batch that lost a round (a transient registry error, or a signature overwritten) pays
    // a backoff and a second wait: the tail that separates a mean from a median.
    let tally: Vec<String> = rounds.iter().map(|(n, c)| format!("{n} round(s): {c}")).collect();
    println!("sign_interleaved: proofmark batches by rounds used: {}", tally.join(", "));

    // Verification: `s*` signed once in the `.sig` layout, `r*` once with a bundle referrer.
    push_images(&f.repo, "s");
    push_images(&f.repo, "r");
    for i in 0..IMAGES {
        let (legacy, bundle) = (format!("s{i}"), format!("r{i}"));
        let bundle_opts = SignOptions::default();
        proofmark_cosign::sign_image(&f.repo, &legacy, &f.repo, &repository, ours, &sign_opts)
            .unwrap();
        proofmark_cosign::sign_image(&f.repo, &bundle, &f.repo, &repository, ours, &bundle_opts)
            .unwrap();
    }
    let pem = ours.public_key().to_pem();
    let constraints: Vec<Box<dyn VerificationConstraint>> =
        vec![Box::new(PublicKeyVerifier::try_from(pem.as_bytes()).unwrap())];
    let opts = VerifyOptions::new(vec![ours.public_key().clone()], repository.clone());
    let (mut base, mut mine, mut bundle) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..=ROUNDS {
        for turn in 0..3 {
            let started = Instant::now();
            let which = (round + turn) % 3;
            match which {
                0 => rt.block_on(async {
                    for i in 0..IMAGES {
                        let image: OciReference = format!("{repository}:s{i}").parse().unwrap();
                        let layers = client
                            .trusted_signature_layers(&Auth::Anonymous, &image)
                            .await
                            .unwrap();
                        sigstore::cosign::verify_constraints(&layers, constraints.iter()).unwrap();
                    }
                }),
                _ => {
                    let prefix = if which == 1 { "s" } else { "r" };
                    for i in 0..IMAGES {
                        let tag = format!("{prefix}{i}");
                        let report =
                            proofmark_cosign::verify_image(&f.repo, &tag, &f.repo, &opts).unwrap();
                        assert_eq!(report.status, VerifyStatus::Verified);
                    }
                }
            }
            if round > 0 {
                [&mut base, &mut mine, &mut bundle][which].push(started.elapsed());
            }
        }
    }
    report("verify_interleaved", ROUNDS, &mut base, &mut mine);
    let (b, o) = (median(&mut base), median(&mut bundle));
    println!(
        "verify_interleaved: proofmark_bundle median {:.2} ms, ratio {:.3} (information)",
        o.as_secs_f64() * 1e3,
        o.as_secs_f64() / b.as_secs_f64()
    );
    let tmp = env!("CARGO_TARGET_TMPDIR");
    proofmark_test_support::bench::record(tmp, "verify_interleaved", "proofmark_bundle", ns(o));
}

/// Rounds of signing in `repo`, `baseline` and `ours` alternating (their order swapped every
/// round), each after `v0`… were pointed at fresh images; round 0 warms both up (connections,
/// first uploads) and is not kept. Returns the times of each.
fn alternate(
    repo: &RegistryRepo,
    mut baseline: impl FnMut(),
    mut ours: impl FnMut(),
) -> (Vec<Duration>, Vec<Duration>) {
    let (mut base, mut mine) = (Vec::with_capacity(ROUNDS), Vec::with_capacity(ROUNDS));
    for round in 0..=ROUNDS {
        for turn in 0..2 {
            push_images(repo, "v");
            let started = Instant::now();
            let is_baseline = (round + turn) % 2 == 0;
            if is_baseline {
                baseline()
            } else {
                ours()
            }
            if round > 0 {
                if is_baseline { &mut base } else { &mut mine }.push(started.elapsed());
            }
        }
    }
    (base, mine)
}

fn ns(d: Duration) -> f64 {
    d.as_secs_f64() * 1e9
}

fn report(group: &str, rounds: usize, base: &mut [Duration], mine: &mut [Duration]) {
    let (b, o) = (median(base), median(mine));
    let quartiles = |t: &[Duration]| {
        let ms = |i: usize| t[i].as_secs_f64() * 1e3;
        format!("{:.2}/{:.2}/{:.2}", ms(t.len() / 4), ms(t.len() / 2), ms(3 * t.len() / 4))
    };
    println!(
        "{group} ({rounds} rounds, quartiles in ms): baseline {}, proofmark {}; median ratio {:.3}",
        quartiles(base),
        quartiles(mine),
        o.as_secs_f64() / b.as_secs_f64()
    );
    let tmp = env!("CARGO_TARGET_TMPDIR");
    proofmark_test_support::bench::record(tmp, group, "baseline", ns(b));
    proofmark_test_support::bench::record(tmp, group, "proofmark", ns(o));
}

criterion_group!(cosign, benches);
criterion_main!(cosign);
