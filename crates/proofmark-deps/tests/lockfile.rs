//! The lockfile check (like cargo-audit, on our own `Cargo.lock`) against a fixture registry
//! replacing crates.io, hand-written lockfiles in formats 3 and 4 and a fixture advisory-db;
//! and the advisory-db fetch against local bare git repositories on `file://`.
#![allow(clippy::unwrap_used, reason = "tests")]

mod support;

use std::path::Path;
use std::process::Command;

use expect_test::expect;
use proofmark_deps::advisory::{self, AdvisoryDb};
use proofmark_deps::cargo::Toolchain;
use proofmark_deps::index::{Index, RegistrySource};
use proofmark_deps::lockfile::{LockfileCheck, check_lockfile};
use proofmark_deps::policy::{Action, Policy};
use proofmark_deps::report::{Format, Report, Severity};
use support::Pkg;

const T: &str = "2026-01-01T00:00:00Z";

fn registry() -> Vec<Pkg> {
    let p = |name, vers| Pkg::new(name, vers, T, "");
    vec![
        p("yanky", "1.0.0"),
        p("yanky", "1.0.1").yanked(),
        p("yanky", "1.0.2"),
        p("yanky", "2.0.0"),
        p("vuln", "0.2.0"),
        p("vuln", "0.2.1"),
        p("vuln", "0.2.2").yanked(),
        p("vuln", "0.2.3"),
        p("vuln", "0.3.0"),
        p("safe", "1.0.0"),
        p("old", "1.0.0"),
        p("noway", "1.0.0").yanked(),
    ]
}

/// An advisory file with explicit `[versions]` lines and an optional `withdrawn` date.
fn advisory_file(db: &Path, id: &str, package: &str, versions: &str, withdrawn: bool) {
    let dir = db.join("crates").join(package);
    std::fs::create_dir_all(&dir).unwrap();
    let withdrawn = if withdrawn { "withdrawn = \"2026-02-01\"\n" } else { "" };
    let text = format!(
        "```toml\n[advisory]\nid = \"{id}\"\npackage = \"{package}\"\ndate = \"2026-01-01\"\n\
         {withdrawn}\n[versions]\n{versions}\n```\n\n# Problem in {package}\n"
    );
    std::fs::write(dir.join(format!("{id}.md")), text).unwrap();
}

fn advisory_db(dir: &Path) -> AdvisoryDb {
    // Fixed in 0.2.1: the locked 0.2.0 is affected.
    advisory_file(dir, "RUSTSEC-2026-0001", "vuln", "patched = [\">= 0.2.1\"]", false);
    // Affects 0.2.3 only: the newest compatible version is not a fix, 0.2.1 is.
    advisory_file(
        dir,
        "RUSTSEC-2026-0002",
        "vuln",
        "patched = [\">= 0.2.4\"]\nunaffected = [\"< 0.2.3\"]",
        false,
    );
    // The locked 1.0.0 is patched / unaffected: not reported.
    advisory_file(dir, "RUSTSEC-2026-0003", "safe", "patched = [\">= 1.0.0\"]", false);
    advisory_file(dir, "RUSTSEC-2026-0004", "safe", "unaffected = [\"^1\"]", false);
    // Withdrawn: ignored although it would affect the locked version.
    advisory_file(dir, "RUSTSEC-2026-0005", "old", "patched = []", true);
    AdvisoryDb::load(dir).unwrap()
}

fn lockfile(format: u32, crates_io: &str) -> String {
    let mut text = format!("# hand-written\nversion = {format}\n");
    let pkgs = [
        ("gone", "1.0.0"),
        ("noway", "1.0.0"),
        ("old", "1.0.0"),
        ("safe", "1.0.0"),
        ("vuln", "0.2.0"),
        ("yanky", "1.0.1"),
        ("yanky", "2.0.0"),
    ];
    for (name, version) in pkgs {
        text.push_str(&format!(
            "\n[[package]]\nname = \"{name}\"\nversion = \"{version}\"\nsource = \"{crates_io}\"\nchecksum = \"00\"\n"
        ));
    }
    // A workspace member and a git dependency: no index, never reported.
    text.push_str("\n[[package]]\nname = \"me\"\nversion = \"0.1.0\"\ndependencies = [\"vuln\"]\n");
    text.push_str(
        "\n[[package]]\nname = \"gitdep\"\nversion = \"0.1.0\"\nsource = \"git+https://example.invalid/gitdep?branch=main#0123abcd\"\n",
    );
    text
}

struct Fixture {
    _dir: tempfile::TempDir,
    root: std::path::PathBuf,
    index: Index,
    db: AdvisoryDb,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_owned();
    support::local_registry(&registry(), &root.join("registry"));
    let home = support::cargo_home(
        &root.join("home"),
        &format!("local-registry = \"{}\"", root.join("registry").display()),
    );
    // crates.io as cargo is configured: here replaced by the fixture registry.
    let source = RegistrySource::from_cargo_config(&home, &root, None).unwrap();
    let db = advisory_db(&root.join("advisory-db"));
    Fixture { _dir: dir, root, index: Index::new(source), db }
}

fn check(fx: &Fixture, format: u32, source: &str) -> LockfileCheck {
    let path = fx.root.join(format!("Cargo-v{format}.lock"));
    std::fs::write(&path, lockfile(format, source)).unwrap();
    check_lockfile(&path, "Cargo.lock", &fx.index, &fx.db, &Policy::default()).unwrap()
}

fn report(check: LockfileCheck) -> Report {
    Report {
        schema_version: 1,
        toolchain: Toolchain {
            rustc: "rustc 1.95.0 (fixture)".to_owned(),
            version: semver::Version::new(1, 95, 0),
            host: "x86_64-unknown-linux-gnu".to_owned(),
        },
        registry: "fixture".to_owned(),
        findings: check.findings,
        warnings: check.warnings,
        shard: None,
        diff: None,
    }
}

#[test]
fn lockfile_findings_in_both_formats() {
    let fx = fixture();
    let v3 = check(&fx, 3, "registry+https://github.com/rust-lang/crates.io-index");
    let v4 = check(&fx, 4, "sparse+https://index.crates.io/");
    // Both spellings of crates.io mean the configured (replaced) index.
    assert_eq!(v3, v4);
    let ids: Vec<_> = v3.findings.iter().map(|f| f.id.as_str()).collect();
    // Not reported: safe (patched and unaffected), old (withdrawn advisory), yanky 2.0.0,
    // the workspace member and the git dependency.
    assert_eq!(
        ids,
        [
            "lockfile:gone@1.0.0",
            "lockfile:noway@1.0.0",
            "lockfile:vuln@0.2.0",
            "lockfile:yanky@1.0.1"
        ]
    );
    let by_id = |id: &str| v3.findings.iter().find(|f| f.id == id).unwrap();
    let vuln = by_id("lockfile:vuln@0.2.0");
    assert_eq!((vuln.action, vuln.severity), (Action::UpdateLockfile, Severity::Error));
    assert_eq!(vuln.command.as_deref(), Some("cargo update -p vuln --precise 0.2.1"));
    assert_eq!(vuln.advisories.len(), 1);
    assert_eq!(vuln.advisories[0].id, "RUSTSEC-2026-0001");
    let yanky = by_id("lockfile:yanky@1.0.1");
    assert_eq!((yanky.action, yanky.severity), (Action::UpdateLockfile, Severity::Warning));
    // Two yanky versions are locked: the command names which one.
    assert_eq!(yanky.command.as_deref(), Some("cargo update -p yanky@1.0.1 --precise 1.0.2"));
    let noway = by_id("lockfile:noway@1.0.0");
    assert_eq!((noway.action, noway.command.as_deref()), (Action::NeedsHuman, None));
    let gone = by_id("lockfile:gone@1.0.0");
    assert_eq!((gone.action, gone.rule.as_str()), (Action::NeedsHuman, "L3-vanished-dependency"));

    let report = report(v3);
    assert_eq!(report.gate_severity(), proofmark_deps::report::Severity::Error);
    expect![[r#"
        target                severity  class              action           rule                      reason
        lockfile:gone@1.0.0   error     locked-vanished    needs-human      L3-vanished-dependency    gone is no longer in local-registry REGISTRY: no non-yanked, unaffected version compatible with 1.0.0; raise the requirement of the crates that depend on it
        lockfile:noway@1.0.0  warning   locked-yanked      needs-human      L1-yanked-dependency      1.0.0 is yanked: no non-yanked, unaffected version compatible with 1.0.0; raise the requirement of the crates that depend on it
        lockfile:vuln@0.2.0   error     locked-vulnerable  update-lockfile  L2-vulnerable-dependency  0.2.0 is affected by an advisory: update the lockfile to 0.2.1; advisories RUSTSEC-2026-0001 (vuln@0.2.0)
        lockfile:yanky@1.0.1  warning   locked-yanked      update-lockfile  L1-yanked-dependency      1.0.1 is yanked: update the lockfile to 1.0.2
        run by hand: cargo update -p vuln --precise 0.2.1
        run by hand: cargo update -p yanky@1.0.1 --precise 1.0.2
        rustc 1.95.0 (fixture) (x86_64-unknown-linux-gnu), registry fixture
    "#]]
    .assert_eq(
        &report
            .render(Format::Human)
            .replace(&fx.root.join("registry").display().to_string(), "REGISTRY"),
    );
    let markdown = report.render(Format::Markdown);
    let commands: Vec<_> = markdown.lines().filter(|l| l.starts_with("cargo update")).collect();
    expect![[r#"
        [
            "cargo update -p vuln --precise 0.2.1",
            "cargo update -p yanky@1.0.1 --precise 1.0.2",
        ]
    "#]]
    .assert_debug_eq(&commands);
    // SARIF points at the lockfile, not at Cargo.toml.
    let sarif: serde_json::Value = serde_json::from_str(&report.render(Format::Sarif)).unwrap();
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    let uris: Vec<_> = results
        .iter()
        .map(|r| r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].as_str().unwrap())
        .collect();
    assert_eq!(uris, ["Cargo.lock"; 4]);
    // The JSON schema carries the location and round-trips.
    let json = report.render(Format::Json);
    assert!(json.contains("\"location\": \"Cargo.lock\""), "{json}");
    let back: Report = serde_json::from_str(&json).unwrap();
    assert_eq!(back, report);
}

#[test]
fn informational_advisories_are_notes_unless_they_count() {
    let fx = fixture();
    advisory_file(
        &fx.root.join("advisory-db"),
        "RUSTSEC-2026-0006",
        "safe",
        "patched = []\n",
        false,
    );
    let path = fx.root.join("advisory-db/crates/safe/RUSTSEC-2026-0006.md");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("date =", "informational = \"unmaintained\"\ndate ="))
        .unwrap();
    let db = AdvisoryDb::load(&fx.root.join("advisory-db")).unwrap();
    let lock = fx.root.join("Cargo.lock");
    std::fs::write(&lock, lockfile(3, "registry+https://github.com/rust-lang/crates.io-index"))
        .unwrap();
    let check = |policy: &Policy| {
        let got = check_lockfile(&lock, "Cargo.lock", &fx.index, &db, policy).unwrap();
        got.findings.into_iter().find(|f| f.krate == "safe").unwrap()
    };
    let note = check(&Policy::default());
    assert_eq!((note.severity, note.action), (Severity::Note, Action::None));
    assert_eq!(note.class, "locked-informational");
    // When informational advisories count, every safe 1.x is affected: no fix to offer.
    let counted = check(&Policy { informational_counts: true, ..Policy::default() });
    assert_eq!((counted.severity, counted.action), (Severity::Error, Action::NeedsHuman));
}

fn cargo(home: &Path, dir: &Path, args: &[&str]) {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(dir)
        .args(args)
        .arg("--offline")
        .env("CARGO_HOME", home)
        .output()
        .unwrap();
    assert!(out.status.success(), "cargo {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// Cargo is the judge: the lockfile it writes (its current format) is read, and the command a
/// finding prints really moves the lockfile to a version the check no longer reports.
#[test]
fn cargo_written_lockfile_and_the_printed_fix() {
    let fx = fixture();
    let home = fx.root.join("home");
    let consumer = fx.root.join("consumer");
    std::fs::create_dir_all(consumer.join("src")).unwrap();
    std::fs::write(
        consumer.join("Cargo.toml"),
        "[package]\nname = \"consumer\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
         [dependencies]\nvuln = \"0.2\"\nyanky = \"1\"\nsafe = \"1\"\n\n[workspace]\n",
    )
    .unwrap();
    std::fs::write(consumer.join("src/lib.rs"), "").unwrap();
    cargo(&home, &consumer, &["generate-lockfile"]);
    // Pin the bad versions the way a stale lockfile would have them.
    cargo(&home, &consumer, &["update", "-p", "vuln", "--precise", "0.2.0"]);
    cargo(&home, &consumer, &["update", "-p", "yanky", "--precise", "1.0.1"]);
    let lock = consumer.join("Cargo.lock");
    let check = || check_lockfile(&lock, "Cargo.lock", &fx.index, &fx.db, &Policy::default());
    let before = check().unwrap();
    let commands: Vec<_> = before.findings.iter().filter_map(|f| f.command.clone()).collect();
    assert_eq!(
        commands,
        ["cargo update -p vuln --precise 0.2.1", "cargo update -p yanky --precise 1.0.2"]
    );
    for command in &commands {
        let args: Vec<&str> = command.split_whitespace().skip(1).collect();
        cargo(&home, &consumer, &args);
    }
    let after = check().unwrap();
    assert_eq!(after, LockfileCheck::default(), "{after:?}");
}

fn git(git: &Path, dir: &Path, args: &[&str]) {
    let status = Command::new(git)
        .current_dir(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.invalid")
        .status()
        .unwrap();
    assert!(status.success(), "git {args:?}");
}

/// A bare repository at `dir/NAME.git` holding an advisory-db with `ids` (package `vuln`).
fn bare_db(git_bin: &Path, dir: &Path, name: &str, ids: &[&str]) -> String {
    let work = dir.join(format!("{name}-work"));
    std::fs::create_dir_all(&work).unwrap();
    for id in ids {
        advisory_file(&work, id, "vuln", "patched = [\">= 0.2.1\"]", false);
    }
    git(git_bin, &work, &["init", "-q"]);
    git(git_bin, &work, &["add", "-A"]);
    git(git_bin, &work, &["commit", "-q", "-m", "advisories"]);
    let bare = dir.join(format!("{name}.git"));
    git(git_bin, dir, &["clone", "-q", "--bare", work.to_str().unwrap(), bare.to_str().unwrap()]);
    format!("file://{}", bare.display())
}

#[test]
fn advisory_db_fetch_is_shallow_atomic_and_says_how_to_work_offline() {
    let Some(git_bin) = proofmark_test_support::require_tool("git", "git") else { return };
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("cargo-home");
    let cache = advisory::default_cache_dir(&home);
    assert_eq!(cache, home.join("advisory-db"));

    let first = bare_db(&git_bin, dir.path(), "one", &["RUSTSEC-2026-0001"]);
    let got = advisory::fetch(&git_bin, &first, &cache).unwrap();
    assert_eq!(AdvisoryDb::load(&got).unwrap().len(), 1);
    // Shallow: one commit.
    let out = Command::new(&git_bin)
        .args(["-C", cache.to_str().unwrap(), "rev-parse", "--is-shallow-repository"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "true");

    // A second fetch replaces the copy and leaves no temporary folder behind.
    let second = bare_db(&git_bin, dir.path(), "two", &["RUSTSEC-2026-0001", "RUSTSEC-2026-0002"]);
    advisory::fetch(&git_bin, &second, &cache).unwrap();
    assert_eq!(AdvisoryDb::load(&cache).unwrap().len(), 2);
    let mut names: Vec<_> = std::fs::read_dir(&home)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["advisory-db"]);

    // Unreachable (as offline): a clear error, and the cached copy is untouched.
    let missing = format!("file://{}", dir.path().join("nowhere.git").display());
    let err = advisory::fetch(&git_bin, &missing, &cache).unwrap_err();
    assert!(matches!(err, proofmark_deps::Error::AdvisoryFetch { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("--advisory-db PATH") && text.contains(&missing), "{text}");
    assert_eq!(AdvisoryDb::load(&cache).unwrap().len(), 2);
}
