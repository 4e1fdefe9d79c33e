//! The harness starts real components: a TPM that answers through a TCTI, a registry that stores
//! and returns blobs (over TLS from a private CA, behind bcrypt htpasswd auth), and parallel
//! instances that do not see each other; curl and openssl judge the registry's TLS and auth.

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

/// curl's HTTP status for `url` with these extra arguments, or `None` when curl itself fails
/// (as it does when it refuses the certificate).
fn curl_status(curl: &std::path::Path, url: &str, extra: &[&str]) -> Option<String> {
    let out = std::process::Command::new(curl)
        .args(["-sS", "-o", "/dev/null", "-w", "%{http_code}"])
        .args(extra)
        .arg(url)
        .output()
        .unwrap();
    out.status.success().then(|| String::from_utf8(out.stdout).unwrap())
}

#[test]
fn tls_registry_is_trusted_through_its_ca_only() {
    let Some(curl) = proofmark_test_support::require_tool("curl", "curl") else { return };
    let Some(registry) = Registry::start_tls() else { return };
    let ca = registry.ca_pem().unwrap();
    assert!(registry.url().starts_with("https://127.0.0.1:"));
    let ping = format!("{}/v2/", registry.url());
    assert_eq!(
        curl_status(&curl, &ping, &["--cacert", ca.to_str().unwrap()]).as_deref(),
        Some("200")
    );
    // The system roots do not know the test CA; another registry's CA is no better.
    assert_eq!(curl_status(&curl, &ping, &[]), None);
    let other = Registry::start_tls().unwrap();
    let wrong = other.ca_pem().unwrap();
    assert_eq!(curl_status(&curl, &ping, &["--cacert", wrong.to_str().unwrap()]), None);
    // openssl agrees that the server certificate chains to the CA and names 127.0.0.1.
    let openssl = proofmark_test_support::require_tool("openssl", "openssl").unwrap();
    let server = ca.with_file_name("server.pem");
    let mut verify = std::process::Command::new(openssl);
    verify.args(["verify", "-verify_ip", "127.0.0.1", "-CAfile"]).arg(&ca).arg(&server);
    run(verify);
}

#[test]
fn htpasswd_registry_checks_a_bcrypt_password() {
    use proofmark_test_support::registry::{HTPASSWD_PASSWORD, HTPASSWD_USER, Options};
    let Some(curl) = proofmark_test_support::require_tool("curl", "curl") else { return };
    let Some(registry) = Registry::start_with(Options { htpasswd: true, tls: true }) else {
        return;
    };
    let file =
        std::fs::read_to_string(registry.ca_pem().unwrap().with_file_name("htpasswd")).unwrap();
    assert!(file.starts_with(&format!("{HTPASSWD_USER}:$2y$")), "not bcrypt: {file}");
    let ping = format!("{}/v2/", registry.url());
    let ca = registry.ca_pem().unwrap();
    let status = |user: &str| {
        curl_status(&curl, &ping, &["--cacert", ca.to_str().unwrap(), "-u", user]).unwrap()
    };
    assert_eq!(status(&format!("{HTPASSWD_USER}:{HTPASSWD_PASSWORD}")), "200");
    assert_eq!(status(&format!("{HTPASSWD_USER}:wrong")), "401");
}

#[test]
fn referrers_api_lists_what_was_pushed_with_a_subject() {
    use proofmark_test_support::referrers_api::ReferrersApi;
    use sha2::Digest as _;
    let Some(registry) = Registry::start() else { return };
    let proxy = ReferrersApi::start(&registry);
    let base = format!("http://{}/v2/proofmark/referred", proxy.addr());
    let sha = |b: &[u8]| format!("sha256:{}", hex::encode(sha2::Sha256::digest(b)));
    // The empty config blob, then an image and an artefact that refers to it.
    let start = ureq::post(&format!("{base}/blobs/uploads/")).call().unwrap();
    let location = start.header("Location").unwrap().to_owned();
    let sep = if location.contains('?') { '&' } else { '?' };
    ureq::put(&format!("{location}{sep}digest={}", sha(b"{}"))).send_bytes(b"{}").unwrap();
    let manifest_type = "application/vnd.oci.image.manifest.v1+json";
    let empty = format!(
        r#"{{"mediaType":"application/vnd.oci.empty.v1+json","digest":"{}","size":2}}"#,
        sha(b"{}")
    );
    let image = format!(
        r#"{{"schemaVersion":2,"mediaType":"{manifest_type}","config":{empty},"layers":[]}}"#
    );
    let put = |reference: &str, body: &str| {
        ureq::put(&format!("{base}/manifests/{reference}"))
            .set("Content-Type", manifest_type)
            .send_string(body)
            .unwrap()
    };
    assert!(put("v1", &image).header("OCI-Subject").is_none());
    let subject = sha(image.as_bytes());
    let artefact = format!(
        r#"{{"schemaVersion":2,"mediaType":"{manifest_type}","artifactType":"application/x.test","config":{empty},"layers":[],"subject":{{"mediaType":"{manifest_type}","digest":"{subject}","size":{}}},"annotations":{{"k":"v"}}}}"#,
        image.len()
    );
    let answer = put(&sha(artefact.as_bytes()), &artefact);
    assert_eq!(answer.header("OCI-Subject"), Some(subject.as_str()));

    let list = |query: &str| {
        let resp = ureq::get(&format!("{base}/referrers/{subject}{query}")).call().unwrap();
        let filtered = resp.header("OCI-Filters-Applied").map(str::to_owned);
        let json: serde_json::Value = serde_json::from_reader(resp.into_reader()).unwrap();
        (json, filtered)
    };
    let (index, filtered) = list("");
    assert_eq!(filtered, None);
    assert_eq!(index["mediaType"], "application/vnd.oci.image.index.v1+json");
    assert_eq!(index["manifests"][0]["digest"], sha(artefact.as_bytes()));
    assert_eq!(index["manifests"][0]["size"], artefact.len());
    assert_eq!(index["manifests"][0]["artifactType"], "application/x.test");
    assert_eq!(index["manifests"][0]["annotations"]["k"], "v");
    let (index, filtered) = list("?artifactType=application/x.other");
    assert_eq!(index["manifests"], serde_json::json!([]));
    assert_eq!(filtered.as_deref(), Some("artifactType"));
    // Everything else is the real registry's: the artefact is stored there, and the registry
    // itself has no referrers API, which is why this one is scripted.
    let direct = format!("{}/v2/proofmark/referred", registry.url());
    let stored = ureq::get(&format!("{direct}/manifests/{}", sha(artefact.as_bytes())))
        .set("Accept", manifest_type)
        .call()
        .unwrap();
    assert_eq!(stored.status(), 200);
    let missing = ureq::get(&format!("{direct}/referrers/{subject}")).call();
    assert!(matches!(missing, Err(ureq::Error::Status(404, _))), "{missing:?}");
    // Deleting the artefact takes it off the list.
    ureq::delete(&format!("{base}/manifests/{}", sha(artefact.as_bytes()))).call().unwrap();
    assert_eq!(list("").0["manifests"], serde_json::json!([]));
}
