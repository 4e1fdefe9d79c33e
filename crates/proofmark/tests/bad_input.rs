//! Issue 12, "Bad input", end to end on Debian's docker-registry: a referrers index of 10,000
//! entries, one that lists the image itself, a tag that holds something other than an index,
//! and bundle referrers that are malformed, of the wrong media type, oversize, or about another
//! image. `sign` and `verify` say what is wrong and name it, and the registry's storage is
//! byte for byte what it was (compared file by file on disk, not through proofmark).

#![allow(clippy::unwrap_used, reason = "helpers of tests: a panic is the failure report")]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use expect_test::expect;
use proofmark_cosign::ImageStore;
use proofmark_test_support::registry::Registry;
use proofmark_test_support::{stdout_ok as ok, temp_dir};

mod oci_image;
use oci_image::{proofmark, put_image_seeded};

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const BUNDLE_V03: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";

/// Every file of the registry's storage and its content.
fn snapshot(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut todo = vec![root.to_owned()];
    while let Some(dir) = todo.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else {
                out.insert(
                    path.strip_prefix(root).unwrap().to_owned(),
                    std::fs::read(&path).unwrap(),
                );
            }
        }
    }
    out
}

/// A referrer manifest of `subject` with one layer, stored by digest; returns its descriptor
/// as a referrers index lists it.
fn put_referrer(
    store: &dyn ImageStore,
    subject: &str,
    layer_type: &str,
    blob: &str,
    size: usize,
) -> String {
    let empty = store.put_blob(b"{}").unwrap();
    let subject_size = store.get_manifest(subject).unwrap().unwrap().bytes.len();
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","artifactType":"{BUNDLE_V03}","config":{{"mediaType":"application/vnd.oci.empty.v1+json","digest":"{empty}","size":2}},"layers":[{{"mediaType":"{layer_type}","digest":"{blob}","size":{size}}}],"subject":{{"mediaType":"{OCI_MANIFEST}","digest":"{subject}","size":{subject_size}}}}}"#
    );
    let digest = store
        .put_manifest(
            &format!("sha256:{}", sha256_hex(manifest.as_bytes())),
            OCI_MANIFEST,
            manifest.as_bytes(),
        )
        .unwrap();
    format!(
        r#"{{"mediaType":"{OCI_MANIFEST}","digest":"{digest}","size":{},"artifactType":"{BUNDLE_V03}"}}"#,
        manifest.len()
    )
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// `text` with the fingerprint after each "key " replaced by `KEY` (keys are new every run).
fn without_key(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("key sha256:") {
        out.push_str(&rest[..at]);
        out.push_str("key KEY");
        rest = rest[at + "key sha256:".len()..].trim_start_matches(|c: char| c.is_ascii_hexdigit());
    }
    out.push_str(rest);
    out
}

fn index(entries: &[String]) -> String {
    format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{}]}}"#,
        entries.join(",")
    )
}

struct Env {
    reg: Registry,
    dir: tempfile::TempDir,
    store: proofmark_cosign::RegistryRepo,
    digest: String,
    image: String,
}

impl Env {
    fn start(repo: &str) -> Option<Env> {
        let reg = Registry::start()?;
        let dir = temp_dir("bad-input");
        let store = proofmark_cosign::RegistryClient::new(proofmark_cosign::RegistryOptions {
            allow_insecure: vec![reg.addr()],
            ..Default::default()
        })
        .unwrap()
        .repository(&reg.addr(), repo);
        let digest = put_image_seeded(&store, "v1", "v1");
        let image = format!("{}/{repo}:v1", reg.addr());
        let d = dir.path();
        ok(proofmark(&["key", "generate", "file:a.key"], d));
        std::fs::write(d.join("a.pub"), ok(proofmark(&["key", "public", "file:a.key"], d)))
            .unwrap();
        Some(Env { reg, dir, store, digest, image })
    }

    fn run(&self, args: &[&str]) -> Output {
        let addr = self.reg.addr();
        let args = [args, &["--allow-insecure", &addr, &self.image]].concat();
        proofmark(&args, self.dir.path())
    }

    fn tag(&self) -> String {
        format!("sha256-{}", self.digest.trim_start_matches("sha256:"))
    }

    /// Standard error (or output) with the run-specific parts replaced by names.
    fn tidy(&self, text: &[u8]) -> String {
        String::from_utf8_lossy(text)
            .trim()
            .replace(&self.reg.addr(), "ADDR")
            .replace(self.digest.trim_start_matches("sha256:"), "IMAGE")
    }

    /// `sign` and `verify` fail with exit 1, and the registry is unchanged; returns both
    /// messages.
    fn refused(&self) -> (String, String) {
        let before = snapshot(&self.reg.storage());
        let sign = self.run(&["sign", "--key", "file:a.key"]);
        assert_eq!(sign.status.code(), Some(1), "{}", self.tidy(&sign.stderr));
        let verify = self.run(&["verify", "--key", "a.pub"]);
        assert_eq!(verify.status.code(), Some(1), "{}", self.tidy(&verify.stderr));
        assert!(snapshot(&self.reg.storage()) == before, "the registry's storage changed");
        (self.tidy(&sign.stderr), self.tidy(&verify.stderr))
    }
}

#[test]
fn bad_referrers_indexes_are_named_and_left_alone() {
    let Some(env) = Env::start("bad/index") else { return };
    let tag = env.tag();
    // 10,000 entries (all naming one valid referrer), under the manifest size limit.
    let one =
        put_referrer(&env.store, &env.digest, BUNDLE_V03, &env.store.put_blob(b"{}").unwrap(), 2);
    env.store.put_manifest(&tag, OCI_INDEX, index(&vec![one; 10_000]).as_bytes()).unwrap();
    let (sign, verify) = env.refused();
    expect![[r#"error: signing ADDR/bad/index:v1: referrers index ADDR/bad/index:sha256-IMAGE: lists 10000 referrers, more than the 1000 read; clean it up with your registry's tools; nothing was changed in the registry"#]]
    .assert_eq(&sign);
    expect![[r#"error: verifying ADDR/bad/index:v1: referrers index ADDR/bad/index:sha256-IMAGE: lists 10000 referrers, more than the 1000 read; clean it up with your registry's tools; nothing was changed in the registry"#]]
    .assert_eq(&verify);

    // An index that lists the image itself.
    let image = env.store.get_manifest(&env.digest).unwrap().unwrap();
    let itself = format!(
        r#"{{"mediaType":"{OCI_MANIFEST}","digest":"{}","size":{}}}"#,
        env.digest,
        image.bytes.len()
    );
    env.store.put_manifest(&tag, OCI_INDEX, index(&[itself]).as_bytes()).unwrap();
    let (sign, verify) = env.refused();
    expect![[r#"error: signing ADDR/bad/index:v1: referrers index ADDR/bad/index:sha256-IMAGE: entry 0 is the image itself, not a referrer of it; nothing was changed in the registry"#]]
    .assert_eq(&sign);
    expect![[r#"error: verifying ADDR/bad/index:v1: referrers index ADDR/bad/index:sha256-IMAGE: entry 0 is the image itself, not a referrer of it; nothing was changed in the registry"#]]
    .assert_eq(&verify);

    // The tag holds an image manifest, not an index.
    env.store.put_manifest(&tag, OCI_MANIFEST, &image.bytes).unwrap();
    let (sign, verify) = env.refused();
    expect![[r#"error: signing ADDR/bad/index:v1: referrers index ADDR/bad/index:sha256-IMAGE: the tag holds the image itself, not an index of its referrers; nothing was changed in the registry"#]]
    .assert_eq(&sign);
    expect![[r#"error: verifying ADDR/bad/index:v1: referrers index ADDR/bad/index:sha256-IMAGE: the tag holds the image itself, not an index of its referrers; nothing was changed in the registry"#]]
    .assert_eq(&verify);
}

#[test]
fn bad_bundle_referrers_are_rejected_by_name() {
    let Some(env) = Env::start("bad/bundle") else { return };
    let d = env.dir.path();
    // A good signature first, so that verify still has one to accept.
    let signed = env.run(&["sign", "--key", "file:a.key"]);
    assert!(signed.status.success(), "{}", env.tidy(&signed.stderr));
    let good = env.store.get_manifest(&env.tag()).unwrap().unwrap();
    let good: serde_json::Value = serde_json::from_slice(&good.bytes).unwrap();
    let mut entries = vec![good["manifests"][0].to_string()];

    let not_json = env.store.put_blob(b"this is not a bundle").unwrap();
    entries.push(put_referrer(&env.store, &env.digest, BUNDLE_V03, &not_json, 20));
    let wrong_type = env.store.put_blob(b"{}").unwrap();
    entries.push(put_referrer(&env.store, &env.digest, "application/json", &wrong_type, 2));
    let big = vec![b' '; (4 << 20) + 1];
    let big_digest = env.store.put_blob(&big).unwrap();
    entries.push(put_referrer(&env.store, &env.digest, BUNDLE_V03, &big_digest, big.len()));
    // A real bundle, but of another image, listed among this image's referrers.
    let other = put_image_seeded(&env.store, "v2", "v2");
    let addr = env.reg.addr();
    let other_image = format!("{addr}/bad/bundle:v2");
    ok(proofmark(&["sign", "--key", "file:a.key", "--allow-insecure", &addr, &other_image], d));
    let other_index = env
        .store
        .get_manifest(&format!("sha256-{}", other.trim_start_matches("sha256:")))
        .unwrap()
        .unwrap();
    let other_index: serde_json::Value = serde_json::from_slice(&other_index.bytes).unwrap();
    entries.push(other_index["manifests"][0].to_string());
    env.store.put_manifest(&env.tag(), OCI_INDEX, index(&entries).as_bytes()).unwrap();

    let before = snapshot(&env.reg.storage());
    let verify = env.run(&["verify", "--key", "a.pub"]);
    assert!(verify.status.success(), "{}", env.tidy(&verify.stderr));
    // Each rejection names its referrer; the digests depend on the image, so they are named
    // by position here.
    let mut shown = without_key(&env.tidy(&verify.stdout))
        .replace(other.trim_start_matches("sha256:"), "OTHER");
    for (n, entry) in entries.iter().enumerate().skip(1) {
        let entry: serde_json::Value = serde_json::from_str(entry).unwrap();
        shown = shown.replace(entry["digest"].as_str().unwrap(), &format!("sha256:REFERRER{n}"));
    }
    expect![[r#"
        sha256:IMAGE: verified (1 of 1 required keys)
          [0] bundle: valid, key KEY
          [1] bundle sha256:REFERRER1: rejected: malformed Sigstore bundle: expected ident at line 1 column 2
          [2] bundle sha256:REFERRER2: rejected: unexpected media type for bundle layer: "application/json"
          [3] bundle sha256:REFERRER3: rejected: bundle sha256:2650f5452459081abf6602c1620ef8c809a8a1887a2f4692369575bd10ea2b85 is larger than the 4194304-byte limit
          [4] bundle sha256:REFERRER4: rejected: malformed referrer: its subject is sha256:OTHER, not this image (sha256:IMAGE)"#]]
    .assert_eq(&shown);
    // Signing again with the same key finds its signature among the bad ones; nothing added.
    let again = env.run(&["sign", "--key", "file:a.key"]);
    assert!(again.status.success(), "{}", env.tidy(&again.stderr));
    assert!(env.tidy(&again.stderr).contains("already signed"), "{}", env.tidy(&again.stderr));
    assert!(snapshot(&env.reg.storage()) == before, "the registry's storage changed");
}
