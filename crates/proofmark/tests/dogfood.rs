//! Dogfood: proofmark releases itself. A clone of this repository is released with
//! `proofmark release --execute --registry local` to a real cargo-http-registry on loopback;
//! then the registry is the only source of our crates: a fresh crate depends on six of them
//! and runs, and `cargo install proofmark --registry local` gives a binary that signs and
//! verifies. Judges: the registry's index and archives (`tar`), git's tags, cargo itself, and
//! openssl for the installed binary's signature.
//!
//! Loopback only. Every cargo run of the test (the release gate's `cargo package`, its
//! package tests, `cargo publish`, the consumer build, `cargo install`) runs online, so cargo
//! downloads our crates from the loopback registry (with `--offline` it refuses to download
//! anything, even from loopback), yet crates.io is never contacted: the test's scratch
//! `CARGO_HOME` replaces the crates.io source with a directory of the third-party crates,
//! made by `cargo vendor --offline` from the clone's `Cargo.lock` out of cargo's real cache
//! (`cargo xtask ci` runs `cargo fetch --locked` first, so every platform's crates are there).
//! A directory source cannot reach the network, and the test also points `http(s)_proxy` at a
//! dead loopback port with only loopback exempt, so any other request would fail the run. We
//! rejected resolving offline and then running online with the real cache (only our crates
//! would download): it keeps away from crates.io only while every resolution of every step
//! is fully locked and cached, which cargo does not promise; the directory source makes it
//! structural.
//!
//! Cost: what survives between runs lives in `$PROOFMARK_DOGFOOD_CACHE`, else
//! `~/.cache/proofmark/dogfood` (beside the tool cache, outside the checkout, so a fresh
//! clone reuses it): the vendored crates (re-vendored when `Cargo.lock` changes, at the same
//! path, since cargo keys a registry crate's artifacts on its source path), the scratch
//! `CARGO_HOME`, and one target folder that every build shares, without debug info
//! (`CARGO_PROFILE_DEV_DEBUG=0`) or incremental data. A cold run compiles the third-party
//! crates for the gate's package builds, the consumer and the debug install; a warm run only
//! compiles our crates, which come from a new registry (a new source) each run.

#![allow(clippy::unwrap_used, reason = "a test: a panic is the failure report")]
#![allow(clippy::print_stderr, reason = "the test reports its time and the .crate sizes")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use proofmark_test_support::cargo_registry::CargoRegistry;
use proofmark_test_support::{require_tool, temp_dir};

/// The published crates.
const CRATES: [&str; 7] = [
    "proofmark-types",
    "proofmark-release",
    "proofmark-deps",
    "proofmark-cosign",
    "proofmark-parsec",
    "proofmark-tpm",
    "proofmark",
];

/// The six libraries the consumer crate uses.
const CONSUMER: &str = r#"//! Uses one public function of each library, as fetched from the registry.

use proofmark_types::{SignatureAlgorithm, Signer as _, SoftwareSigner};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let signer = SoftwareSigner::generate(SignatureAlgorithm::EcdsaP256Sha256)?;
    let signature = signer.sign(b"payload")?;
    proofmark_types::verify_message(
        signer.public_key(),
        SignatureAlgorithm::EcdsaP256Sha256,
        b"payload",
        &signature,
    )?;
    println!("types: signed and verified");
    let dir = std::env::args().nth(1).ok_or("usage: consumer DIR")?;
    proofmark_cosign::OciLayout::open_or_create(std::path::Path::new(&dir).join("layout"))?;
    println!("cosign: OCI layout created");
    let from: proofmark_release::Date = "2026-12-01".parse()?;
    println!("release: {} day(s)", from.days_until("2026-12-02".parse()?));
    let target: proofmark_deps::Target = "tss-esapi@^7".parse()?;
    println!("deps: {}", target.name);
    let tcti = proofmark_tpm::Tcti::parse("swtpm:host=127.0.0.1,port=2321")?;
    println!("tpm: {tcti}");
    let endpoint = format!("unix:{dir}/no-parsec.sock");
    let refused = proofmark_parsec::Parsec::connect(Some(endpoint), None).is_err();
    println!("parsec: no service, refused = {refused}");
    Ok(())
}
"#;

#[test]
fn proofmark_releases_itself_and_every_crate_is_consumable_from_the_registry() {
    let tools = [("git", "git"), ("tar", "tar"), ("openssl", "openssl")];
    if tools.iter().any(|(tool, package)| require_tool(tool, package).is_none()) {
        return;
    }
    let Some(registry) = CargoRegistry::start() else { return };
    let started = Instant::now();
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap();
    let cache = cache_dir();
    let target_dir = cache.join("target");
    let warm = target_dir.join("debug").is_dir();
    std::fs::create_dir_all(&target_dir).unwrap();
    clean_our_crates(&workspace, &target_dir);
    let temp = temp_dir("dogfood");

    // The clone: this repository's HEAD, with the family's workspace dependencies naming the
    // registry (the gate demands it for an alternate registry), committed as a user would. It
    // sits at a fixed path, so the gate's scratch folders (keyed on it) are reused, not piled up.
    let clone = cache.join("clone");
    if clone.exists() {
        std::fs::remove_dir_all(&clone).unwrap();
    }
    run(Command::new("git").arg("clone").arg("-q").arg(&workspace).arg(&clone));
    let vendor = vendor(&clone, &cache);
    let env = Env {
        home: scratch_cargo_home(&cache.join("cargo-home"), &vendor),
        index: registry.index_url(),
        target_dir: target_dir.clone(),
    };
    for (key, value) in [
        ("user.name", "Ada"),
        ("user.email", "ada@example.org"),
        ("commit.gpgsign", "false"),
        ("tag.gpgsign", "false"),
    ] {
        git(&clone, &["config", key, value]);
    }
    // Released from `main`, an allowed branch, whatever this checkout is on (a helper's
    // branch, CI's detached HEAD).
    git(&clone, &["checkout", "-q", "-B", "main"]);
    let manifest = std::fs::read_to_string(clone.join("Cargo.toml")).unwrap();
    let named = name_registry(&manifest);
    assert_eq!(named.matches("registry = \"local\"").count(), CRATES.len(), "{named}");
    std::fs::write(clone.join("Cargo.toml"), named).unwrap();
    git(&clone, &["commit", "-q", "-am", "chore: publish the family to the local registry"]);
    // The gate builds in `<workspace>/target` whatever CARGO_TARGET_DIR says; `target` is
    // ignored by git, and this link keeps those builds in the shared folder too.
    std::os::unix::fs::symlink(&target_dir, clone.join("target")).unwrap();

    // No `--date`: the changelog headings carry today's date (UTC), as for a user.
    let before = proofmark_release::Date::today_utc();
    let out = env
        .cargo_like(Command::new(env!("CARGO_BIN_EXE_proofmark")))
        .args(["release", "--execute", "--registry", "local"])
        .current_dir(&clone)
        .output()
        .unwrap();
    assert!(out.status.success(), "release: {}", String::from_utf8_lossy(&out.stderr));
    let days = [before, proofmark_release::Date::today_utc()];
    let released = started.elapsed();

    // Every crate reached the registry once, in dependency order.
    for name in CRATES {
        assert_eq!(registry.versions(name), ["0.1.0"], "{name} published once");
    }
    let order = publish_order(&registry.index_dir());
    for (name, dependencies) in family_dependencies(&clone) {
        let at = order.iter().position(|n| *n == name).unwrap();
        for dependency in dependencies {
            let before = order.iter().position(|n| *n == dependency).unwrap();
            assert!(before < at, "{dependency} is published before {name}: {order:?}");
        }
    }
    // Each archive carries its changelog section and licence and leaves the tests out.
    let mut sizes = Vec::new();
    for name in CRATES {
        let archive = registry.index_dir().join(format!("{name}-0.1.0.crate"));
        sizes.push((name, std::fs::metadata(&archive).unwrap().len()));
        let list = stdout(run(Command::new("tar").arg("-tzf").arg(&archive)));
        let prefix = format!("{name}-0.1.0/");
        for file in ["LICENSE", "README.md", "CHANGELOG.md", "Cargo.toml", "src/lib.rs"] {
            assert!(list.lines().any(|l| l == format!("{prefix}{file}")), "{name}: {file}");
        }
        assert!(!list.contains("/tests/") && !list.contains("/benches/"), "{name}: {list}");
        let licence = stdout(run(Command::new("tar")
            .arg("-xzOf")
            .arg(&archive)
            .arg(format!("{prefix}LICENSE"))));
        assert!(licence.contains("Apache License"), "{name}: {licence}");
        let changelog = stdout(run(Command::new("tar")
            .arg("-xzOf")
            .arg(&archive)
            .arg(format!("{prefix}CHANGELOG.md"))));
        let headed = days.iter().any(|d| changelog.contains(&format!("## [0.1.0] - {d}\n")));
        assert!(headed, "{name}: no `## [0.1.0] - {}` heading:\n{changelog}", days[1]);
        assert!(changelog.contains("MSRV: 1.85"), "{name}: {changelog}");
    }
    // The tags, at the release commit.
    let tags = git(&clone, &["tag", "--points-at", "HEAD"]);
    let mut want: Vec<String> = CRATES.iter().map(|c| format!("{c}-v0.1.0")).collect();
    want.sort();
    assert_eq!(tags.lines().collect::<Vec<_>>(), want);

    // A consumer with the registry as the only source of our crates. The workspace's lockfile
    // pins the same third-party versions as the install's, so their artifacts are shared.
    let consumer = temp.path().join("consumer");
    std::fs::create_dir_all(consumer.join("src")).unwrap();
    let mut manifest = String::from(
        "[package]\nname = \"consumer\"\nversion = \"0.0.0\"\nedition = \"2024\"\n\
         publish = false\n\n[dependencies]\n",
    );
    for name in &CRATES[..6] {
        manifest.push_str(&format!("{name} = {{ version = \"=0.1.0\", registry = \"local\" }}\n"));
    }
    manifest.push_str("\n[workspace]\n");
    std::fs::write(consumer.join("Cargo.toml"), manifest).unwrap();
    std::fs::write(consumer.join("src/main.rs"), CONSUMER).unwrap();
    std::fs::copy(clone.join("Cargo.lock"), consumer.join("Cargo.lock")).unwrap();
    let built = Instant::now();
    run(env.cargo().arg("build").current_dir(&consumer));
    let lock = std::fs::read_to_string(consumer.join("Cargo.lock")).unwrap();
    for name in &CRATES[..6] {
        let entry = format!("name = \"{name}\"\nversion = \"0.1.0\"\nsource = \"registry+file://");
        assert!(lock.contains(&entry), "{name} comes from the registry:\n{lock}");
    }
    let ran = stdout(run(Command::new(target_dir.join("debug/consumer")).arg(temp.path())));
    expect_test::expect![[r#"
        types: signed and verified
        cosign: OCI layout created
        release: 1 day(s)
        deps: tss-esapi
        tpm: swtpm:host=127.0.0.1,port=2321
        parsec: no service, refused = true
    "#]]
    .assert_eq(&ran);
    let consumed = built.elapsed();

    // The binary, installed from the registry (the default features: what users get), in
    // debug: the checks below need no speed, and the debug build shares the consumer's.
    let root = temp.path().join("install");
    let installed = Instant::now();
    run(env
        .cargo()
        .args(["install", "proofmark", "--registry", "local", "--version", "=0.1.0"])
        .args(["--locked", "--debug", "--root"])
        .arg(&root)
        .current_dir(temp.path()));
    let install_time = installed.elapsed();
    let bin = root.join("bin/proofmark");
    let version = stdout(run(Command::new(&bin).arg("--version")));
    assert_eq!(version.trim(), "proofmark 0.1.0");
    let work = temp.path().join("blob");
    std::fs::create_dir_all(&work).unwrap();
    std::fs::write(work.join("artifact.txt"), "dogfood\n").unwrap();
    let public = stdout(run(Command::new(&bin)
        .args(["key", "generate", "file:signing.key"])
        .current_dir(&work)));
    assert!(public.starts_with("-----BEGIN PUBLIC KEY-----"), "{public}");
    std::fs::write(work.join("signing.pub"), &public).unwrap();
    let signature = stdout(run(Command::new(&bin)
        .args(["sign-blob", "--key", "file:signing.key", "artifact.txt"])
        .current_dir(&work)));
    std::fs::write(work.join("artifact.sig"), signature.trim()).unwrap();
    let verified = run(Command::new(&bin)
        .args(["verify-blob", "--key", "signing.pub", "--signature", "artifact.sig"])
        .arg("artifact.txt")
        .current_dir(&work));
    assert_eq!(String::from_utf8_lossy(&verified.stderr).trim(), "Verified OK");
    // The independent judge: openssl verifies the same signature (base64 DER ECDSA).
    run(Command::new("openssl")
        .args(["base64", "-d", "-A", "-in", "artifact.sig", "-out", "artifact.der"])
        .current_dir(&work));
    let judged = run(Command::new("openssl")
        .args(["dgst", "-sha256", "-verify", "signing.pub", "-signature", "artifact.der"])
        .arg("artifact.txt")
        .current_dir(&work));
    assert_eq!(stdout(judged).trim(), "Verified OK");
    std::fs::write(work.join("artifact.txt"), "tampered\n").unwrap();
    let tampered = Command::new(&bin)
        .args(["verify-blob", "--key", "signing.pub", "--signature", "artifact.sig"])
        .arg("artifact.txt")
        .current_dir(&work)
        .output()
        .unwrap();
    assert!(!tampered.status.success(), "a changed blob must not verify");
    // No test drill in the shipped binary (issue 14, item 5).
    let bytes = std::fs::read(&bin).unwrap();
    let needle = b"PROOFMARK_RELEASE_FAIL_AFTER";
    assert!(!bytes.windows(needle.len()).any(|w| w == needle), "the drill hook is compiled in");

    eprintln!(
        "dogfood ({}, cache {}): release {released:.1?}, consumer build {consumed:.1?}, install \
         {install_time:.1?}, total {:.1?}",
        if warm { "warm" } else { "cold" },
        cache.display(),
        started.elapsed()
    );
    for (name, size) in sizes {
        eprintln!("dogfood: {name}-0.1.0.crate {size} bytes");
    }
}

/// Without the `test-hooks` feature (a plain `cargo test -p proofmark`, and every shipped
/// build), `PROOFMARK_RELEASE_FAIL_AFTER` does nothing: the release runs to its end.
#[cfg(not(feature = "test-hooks"))]
#[test]
fn without_test_hooks_the_drill_variable_is_ignored() {
    use proofmark_test_support::cargo_registry::{git as git_at, write_family};

    if require_tool("git", "git").is_none() {
        return;
    }
    let Some(registry) = CargoRegistry::start() else { return };
    let dir = temp_dir("dogfood-no-hooks");
    let d = dir.path();
    write_family(d, "", &registry);
    let out = Command::new(env!("CARGO_BIN_EXE_proofmark"))
        .args(["release", "--execute", "--date", "2026-11-28", "--registry", "local"])
        .arg("--no-verify")
        .arg("--cargo-home")
        .arg(registry.cargo_home())
        .env("PROOFMARK_RELEASE_FAIL_AFTER", "commit")
        .current_dir(d)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for name in ["a", "b", "c"] {
        assert_eq!(registry.versions(name), ["0.1.0"], "{name} published");
    }
    assert_eq!(git_at(d, &["tag", "--points-at", "HEAD"]), "a-v0.1.0\nb-v0.1.0\nc-v0.1.0");
    assert!(!d.join(".git/proofmark-release/journal.jsonl").exists(), "the release finished");
}

/// Where the test keeps what survives between runs: `$PROOFMARK_DOGFOOD_CACHE`, else
/// `$HOME/.cache/proofmark/dogfood`.
fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("PROOFMARK_DOGFOOD_CACHE") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").map_or_else(std::env::temp_dir, PathBuf::from);
    home.join(".cache/proofmark/dogfood")
}

/// Removes the last run's artifacts of our crates and of the consumer from the shared target
/// folder. Our crates come from a new registry (a new source) each run, so those artifacts
/// are never reused; removing them keeps the folder from growing. The third-party ones stay.
fn clean_our_crates(workspace: &Path, target_dir: &Path) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut clean = Command::new(&cargo);
    clean.args(["clean", "--offline", "--quiet", "--target-dir"]).arg(target_dir);
    for name in CRATES {
        clean.args(["-p", name]);
    }
    run(clean.current_dir(workspace));
    for folder in ["debug/deps", "debug/.fingerprint", "debug/incremental"] {
        let Ok(entries) = std::fs::read_dir(target_dir.join(folder)) else { continue };
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with("consumer-") {
                let path = entry.path();
                let _ = std::fs::remove_dir_all(&path).or_else(|_| std::fs::remove_file(&path));
            }
        }
    }
}

/// The third-party crates of `clone`'s lockfile, vendored from cargo's real cache (offline)
/// into `cache/vendor`, unless that already holds this lockfile's crates.
fn vendor(clone: &Path, cache: &Path) -> PathBuf {
    let dir = cache.join("vendor");
    let stamp = cache.join("vendor.Cargo.lock");
    let lock = std::fs::read(clone.join("Cargo.lock")).unwrap();
    if dir.is_dir() && std::fs::read(&stamp).is_ok_and(|s| s == lock) {
        return dir;
    }
    let _ = std::fs::remove_file(&stamp);
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let out = Command::new(cargo)
        .args(["vendor", "--offline", "--locked", "--versioned-dirs", "--quiet"])
        .arg(&dir)
        .current_dir(clone)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cargo vendor --offline: {}\nevery crate of Cargo.lock (every platform's) must be in \
         cargo's cache: run `cargo fetch --locked` (cargo xtask ci does)",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(&stamp, lock).unwrap();
    dir
}

/// The environment every cargo run of the test shares.
struct Env {
    home: PathBuf,
    index: String,
    target_dir: PathBuf,
}

impl Env {
    fn cargo(&self) -> Command {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        self.cargo_like(Command::new(cargo))
    }

    /// `command` with the registry `local`, the scratch `CARGO_HOME`, the shared target
    /// folder, cheap builds, and no way off loopback.
    fn cargo_like(&self, mut command: Command) -> Command {
        const DEAD: &str = "http://127.0.0.1:9";
        command
            .env("CARGO_HOME", &self.home)
            .env("CARGO_REGISTRIES_LOCAL_INDEX", &self.index)
            .env("CARGO_REGISTRIES_LOCAL_TOKEN", "test-token")
            .env("CARGO_TARGET_DIR", &self.target_dir)
            .env("CARGO_PROFILE_DEV_DEBUG", "0")
            .env("CARGO_INCREMENTAL", "0")
            .env("CARGO_NET_RETRY", "0")
            .env("http_proxy", DEAD)
            .env("https_proxy", DEAD)
            .env("HTTPS_PROXY", DEAD)
            .env("ALL_PROXY", DEAD)
            .env("no_proxy", "127.0.0.1,localhost")
            .env("NO_PROXY", "127.0.0.1,localhost")
            .env_remove("PROOFMARK_RELEASE_FAIL_AFTER")
            .env_remove("CARGO_MANIFEST_DIR")
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS");
        command
    }
}

/// The scratch `CARGO_HOME` at `home`: crates.io replaced by the vendored directory, nothing
/// of the last run's registry left (a new registry each run). It stays at one path: our
/// crates' registry sources live in it, and cargo keys artifacts on source paths.
fn scratch_cargo_home(home: &Path, vendor: &Path) -> PathBuf {
    let _ = std::fs::remove_dir_all(home);
    std::fs::create_dir_all(home).unwrap();
    let config = format!(
        "[source.crates-io]\nreplace-with = \"vendored\"\n\n[source.vendored]\ndirectory = {:?}\n",
        vendor.display().to_string()
    );
    std::fs::write(home.join("config.toml"), config).unwrap();
    home.to_owned()
}

/// The root manifest with `registry = "local"` on each family entry of
/// `[workspace.dependencies]` (those with both a path and a version).
fn name_registry(manifest: &str) -> String {
    manifest
        .lines()
        .map(|line| {
            let family = line.starts_with("proofmark")
                && line.contains("path = \"crates/")
                && line.contains("version = ");
            match (family, line.find("version = \"")) {
                (true, Some(at)) => {
                    let end = at + line[at + 11..].find('"').unwrap() + 12;
                    format!("{}, registry = \"local\"{}", &line[..end], &line[end..])
                }
                _ => line.to_owned(),
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// The crates in the order the registry's index repository received them.
fn publish_order(index: &Path) -> Vec<String> {
    let names = git(index, &["log", "--reverse", "--name-only", "--format="]);
    let mut order: Vec<String> = Vec::new();
    // Index files live at `pr/oo/proofmark-types`; `config.json` and the rest have no folder.
    for line in names.lines().filter(|l| l.contains('/')) {
        let name = line.rsplit('/').next().unwrap().to_owned();
        if !order.contains(&name) {
            order.push(name);
        }
    }
    order
}

/// Each published crate and the family members among its normal dependencies.
fn family_dependencies(clone: &Path) -> Vec<(String, Vec<String>)> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let json = stdout(run(Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--no-deps", "--offline"])
        .env("CARGO_REGISTRIES_LOCAL_INDEX", "file:///nonexistent")
        .current_dir(clone)));
    let metadata: serde_json::Value = serde_json::from_str(&json).unwrap();
    let mut out = Vec::new();
    for package in metadata["packages"].as_array().unwrap() {
        let name = package["name"].as_str().unwrap();
        if !CRATES.contains(&name) {
            continue;
        }
        let dependencies = package["dependencies"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["kind"].is_null())
            .filter_map(|d| d["name"].as_str())
            .filter(|d| CRATES.contains(d))
            .map(str::to_owned)
            .collect();
        out.push((name.to_owned(), dependencies));
    }
    assert_eq!(out.len(), CRATES.len(), "{out:?}");
    out
}

fn git(dir: &Path, args: &[&str]) -> String {
    stdout(run(Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")))
}

/// Runs `command`; its output, or a panic with its stderr.
fn run(command: &mut Command) -> Output {
    let out = command.output().unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(
        out.status.success(),
        "{command:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stdout(out: Output) -> String {
    String::from_utf8(out.stdout).unwrap()
}
