//! The harness starts real components: a TPM that answers through a TCTI, a registry that stores
//! and returns blobs, and parallel instances that do not see each other.

#![allow(clippy::unwrap_used, reason = "helpers of tests: a panic is the failure report")]

use std::process::Output;
use std::sync::{Arc, Barrier};

use proofmark_test_support::registry::Registry;
use proofmark_test_support::swtpm::Swtpm;

fn run(mut cmd: std::process::Command) -> Output {
    let out = cmd.output().expect("run tool");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn get_random(tpm: &Swtpm) -> Option<String> {
    let mut cmd = tpm.tpm2_tool("tpm2_getrandom")?;
    cmd.args(["--hex", "16"]);
    Some(String::from_utf8(run(cmd).stdout).unwrap().trim().to_owned())
}

fn persistent_handles(tpm: &Swtpm) -> Vec<String> {
    let mut cmd = tpm.tpm2_tool("tpm2_getcap").unwrap();
    cmd.arg("handles-persistent");
    let text = String::from_utf8(run(cmd).stdout).unwrap();
    text.lines()
        .map(|l| l.trim_start_matches("- ").trim().to_owned())
        .filter(|l| !l.is_empty())
        .collect()
}

/// Creates a primary key in the owner hierarchy and makes it persistent at `handle`.
fn persist_primary(tpm: &Swtpm, handle: &str) {
    let dir = proofmark_test_support::temp_dir("primary");
    let ctx = dir.path().join("primary.ctx");
    let mut create = tpm.tpm2_tool("tpm2_createprimary").unwrap();
    create.args(["-C", "o", "-c"]).arg(&ctx);
    run(create);
    let mut evict = tpm.tpm2_tool("tpm2_evictcontrol").unwrap();
    evict.args(["-C", "o", "-c"]).arg(&ctx).arg(handle);
    run(evict);
}

#[test]
fn swtpm_answers_get_random_through_its_tcti() {
    let Some(tpm) = Swtpm::start() else { return };
    let Some(first) = get_random(&tpm) else { return };
    let second = get_random(&tpm).unwrap();
    assert_eq!(first.len(), 32, "16 random bytes in hex: {first}");
    assert!(first.chars().all(|c| c.is_ascii_hexdigit()), "{first}");
    assert_ne!(first, second, "two GetRandom calls returned the same bytes");
    assert!(tpm.tcti().starts_with("swtpm:host=127.0.0.1,port="));
}

#[test]
fn parallel_swtpms_do_not_see_each_other() {
    if proofmark_test_support::require_tool("tpm2_getcap", "tpm2-tools").is_none() {
        return;
    }
    let barrier = Arc::new(Barrier::new(2));
    let writer = {
        let barrier = Arc::clone(&barrier);
        std::thread::spawn(move || {
            let tpm = Swtpm::start().unwrap();
            barrier.wait(); // both simulators are up
            persist_primary(&tpm, "0x81000001");
            let handles = persistent_handles(&tpm);
            barrier.wait(); // the other side may look now
            barrier.wait(); // keep this TPM alive until it has looked
            (tpm.port(), handles)
        })
    };
    let tpm = Swtpm::start().unwrap();
    barrier.wait();
    barrier.wait();
    let handles = persistent_handles(&tpm);
    let random = get_random(&tpm).unwrap();
    barrier.wait();
    let (writer_port, writer_handles) = writer.join().unwrap();

    assert_eq!(writer_handles, ["0x81000001"]);
    assert!(handles.is_empty(), "the second TPM sees the first one's key: {handles:?}");
    assert_eq!(random.len(), 32);
    assert_ne!(writer_port, tpm.port());
    assert!(writer_port.abs_diff(tpm.port()) >= 2, "port pairs overlap");
}

#[test]
fn swtpm_state_survives_restart_and_kill_is_visible() {
    let Some(mut tpm) = Swtpm::start() else { return };
    if proofmark_test_support::require_tool("tpm2_getcap", "tpm2-tools").is_none() {
        return;
    }
    persist_primary(&tpm, "0x81000002");
    let port = tpm.port();

    tpm.kill();
    assert!(!tpm.running());
    let mut cmd = tpm.tpm2_tool("tpm2_getrandom").unwrap();
    let out = cmd.arg("8").output().unwrap();
    assert!(!out.status.success(), "a killed TPM still answered");

    tpm.restart();
    assert_eq!(tpm.port(), port, "restart must keep the TCTI valid");
    assert_eq!(persistent_handles(&tpm), ["0x81000002"]);
    assert_eq!(get_random(&tpm).unwrap().len(), 32);
}

#[test]
fn swtpm_start_in_reuses_a_callers_state_folder() {
    let dir = proofmark_test_support::temp_dir("state");
    {
        let Some(tpm) = Swtpm::start_in(dir.path()) else { return };
        if proofmark_test_support::require_tool("tpm2_getcap", "tpm2-tools").is_none() {
            return;
        }
        persist_primary(&tpm, "0x81000003");
    }
    let tpm = Swtpm::start_in(dir.path()).unwrap();
    assert_eq!(persistent_handles(&tpm), ["0x81000003"]);
}

#[test]
fn registry_stores_and_returns_a_blob() {
    use sha2::Digest as _;
    let Some(registry) = Registry::start() else { return };
    let base = registry.url();

    let ping = ureq::get(&format!("{base}/v2/")).call().unwrap();
    assert_eq!(ping.status(), 200);
    assert_eq!(ping.header("Docker-Distribution-API-Version"), Some("registry/2.0"));

    let blob: Vec<u8> =
        (0..100_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    let digest = format!("sha256:{}", hex::encode(sha2::Sha256::digest(&blob)));

    let start = ureq::post(&format!("{base}/v2/proofmark/harness/blobs/uploads/")).call().unwrap();
    assert_eq!(start.status(), 202);
    let location = start.header("Location").unwrap().to_owned();
    let location =
        if location.starts_with("http") { location } else { format!("{base}{location}") };
    let sep = if location.contains('?') { '&' } else { '?' };
    let put = ureq::put(&format!("{location}{sep}digest={digest}"))
        .set("Content-Type", "application/octet-stream")
        .send_bytes(&blob)
        .unwrap();
    assert_eq!(put.status(), 201);
    assert_eq!(put.header("Docker-Content-Digest"), Some(digest.as_str()));

    let got = ureq::get(&format!("{base}/v2/proofmark/harness/blobs/{digest}")).call().unwrap();
    let mut body = Vec::new();
    std::io::Read::read_to_end(&mut got.into_reader(), &mut body).unwrap();
    assert_eq!(format!("sha256:{}", hex::encode(sha2::Sha256::digest(&body))), digest);
    assert_eq!(body, blob);

    let missing =
        ureq::get(&format!("{base}/v2/proofmark/harness/blobs/sha256:{}", "0".repeat(64))).call();
    assert!(matches!(missing, Err(ureq::Error::Status(404, _))), "{missing:?}");
}

#[test]
fn two_registries_are_separate() {
    let Some(a) = Registry::start() else { return };
    let b = Registry::start().unwrap();
    assert_ne!(a.port(), b.port());
    assert_ne!(a.storage(), b.storage());
}
