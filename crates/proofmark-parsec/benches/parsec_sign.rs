//! One ECDSA P-256 signature of a SHA-256 digest by a TPM key, three ways, on one swtpm
//! (group `parsec_sign`):
//!
//! * `baseline`: `TpmSigner::sign_digest`, proofmark-tpm talking to the TPM directly;
//! * `proofmark`: `ParsecSigner::sign_digest` through parsec-service's TPM provider;
//! * `parsec_tool_process`: a whole `parsec-tool sign` process (what a shell script pays).
//!
//! Needs swtpm and parsec-service (through `proofmark_test_support`); without them it says
//! why and exits 0. The ratios to `baseline` are printed at the end (`cargo xtask bench`
//! computes the same from criterion's estimates).
#![allow(clippy::unwrap_used, clippy::print_stdout, reason = "benchmark harness")]

use std::path::PathBuf;
use std::time::Duration;

use criterion::Criterion;
use proofmark_parsec::{Parsec, ParsecSigner};
use proofmark_test_support::parsec::ParsecService;
use proofmark_test_support::swtpm::Swtpm;
use proofmark_tpm::{KeyAuth, ParentTemplate, Tcti, Tpm, TpmSigner};
use proofmark_types::{Digest, HashAlgorithm, ParsecProvider, SignatureAlgorithm, Signer};

const GROUP: &str = "parsec_sign";
const FUNCTIONS: [&str; 3] = ["baseline", "proofmark", "parsec_tool_process"];
const MESSAGE: &str = "proofmark parsec bench payload";

fn main() {
    let Some(swtpm) = Swtpm::start() else {
        println!("{GROUP}: skipped, swtpm is not available");
        return;
    };
    let Some(service) = ParsecService::start(&swtpm) else {
        println!("{GROUP}: skipped, parsec-service is not available");
        return;
    };
    let Some(mut tool) = service.parsec_tool() else {
        println!("{GROUP}: skipped, parsec-tool is not available");
        return;
    };

    let algorithm = SignatureAlgorithm::EcdsaP256Sha256;
    let digest = Digest::compute(HashAlgorithm::Sha256, MESSAGE.as_bytes());

    let tcti = Tcti::parse(&swtpm.tcti()).unwrap();
    let key = Tpm::connect(&tcti)
        .unwrap()
        .create_key(algorithm, ParentTemplate::EccP256, &KeyAuth::Random)
        .unwrap();
    let direct = TpmSigner::open(&tcti, key, None).unwrap();

    let parsec = Parsec::connect(Some(service.endpoint()), Some(ParsecProvider::Tpm)).unwrap();
    let via_parsec = ParsecSigner::create(parsec, "bench-key", algorithm).unwrap();
    // Provider 3 is Parsec's TPM provider.
    tool.args(["-p", "3", "sign", "-k", "bench-key", MESSAGE]);

    let mut c = Criterion::default().configure_from_args();
    let mut group = c.benchmark_group(GROUP);
    group.sample_size(20).measurement_time(Duration::from_secs(10));
    group.bench_function(FUNCTIONS[0], |b| b.iter(|| direct.sign_digest(&digest).unwrap()));
    group.bench_function(FUNCTIONS[1], |b| b.iter(|| via_parsec.sign_digest(&digest).unwrap()));
    group.bench_function(FUNCTIONS[2], |b| {
        b.iter(|| {
            let out = tool.output().unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            out.stdout
        });
    });
    group.finish();
    c.final_summary();
    print_ratios();
}

/// Where criterion wrote its estimates: `CRITERION_HOME`, else `<target>/criterion` (this
/// executable is `<target>/<profile>/deps/parsec_sign-…`).
fn criterion_dir() -> Option<PathBuf> {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return Some(PathBuf::from(home));
    }
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        return Some(PathBuf::from(target).join("criterion"));
    }
    let exe = std::env::current_exe().ok()?;
    Some(exe.parent()?.parent()?.parent()?.join("criterion"))
}

fn mean_ns(dir: &std::path::Path, function: &str) -> Option<f64> {
    let path = dir.join(GROUP).join(function).join("new").join("estimates.json");
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    json["mean"]["point_estimate"].as_f64()
}

fn print_ratios() {
    let Some(dir) = criterion_dir() else { return };
    let Some(baseline) = mean_ns(&dir, FUNCTIONS[0]) else { return };
    for function in FUNCTIONS {
        let Some(mean) = mean_ns(&dir, function) else { continue };
        println!("{GROUP}/{function}: mean {:.3} ms, {:.2}x baseline", mean / 1e6, mean / baseline);
    }
}
