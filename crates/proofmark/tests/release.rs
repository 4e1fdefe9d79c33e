//! `proofmark release` and `proofmark check-deps` work on any Cargo repository, not only this
//! workspace: here a single-crate repository made by the test, with git as the judge of history.

#![allow(clippy::unwrap_used, reason = "helpers of tests: a panic is the failure report")]

use std::path::Path;
use std::process::Command;

use proofmark_test_support::{require_tool, temp_dir};

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args([
            "-c",
            "init.defaultBranch=main",
            "-c",
            "user.name=T",
            "-c",
            "user.email=t@example.invalid",
        ])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_DATE", "2026-01-02T03:04:05Z")
        .env("GIT_COMMITTER_DATE", "2026-01-02T03:04:05Z")
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn release_plans_a_foreign_single_crate_repository() {
    if require_tool("git", "git").is_none() {
        return;
    }
    let dir = temp_dir("cli-release");
    let d = dir.path();
    std::fs::create_dir(d.join("src")).unwrap();
    std::fs::write(
        d.join("Cargo.toml"),
        "[package]\nname = \"widget\"\nversion = \"1.2.3\"\nedition = \"2021\"\nrust-version = \"1.70\"\n\
         license = \"MIT\"\ndescription = \"A widget.\"\n",
    )
    .unwrap();
    std::fs::write(d.join("src/lib.rs"), "//! Widgets.\n").unwrap();
    git(d, &["init", "-q"]);
    git(d, &["add", "."]);
    git(d, &["commit", "-q", "-m", "feat: first widget"]);
    git(d, &["tag", "v1.2.3"]);
    std::fs::write(d.join("src/lib.rs"), "//! Widgets.\npub fn spin() {}\n").unwrap();
    git(d, &["commit", "-q", "-am", "feat: widgets spin"]);

    let out = Command::new(env!("CARGO_BIN_EXE_proofmark"))
        .args(["release", "--format", "json", "--date", "2026-02-03"])
        .current_dir(d)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let text = plan.to_string();
    // A feature after v1.2.3 on a 1.x crate is a minor bump, tagged with the single-crate template.
    assert!(text.contains("\"1.3.0\""), "{plan:#}");
    assert!(text.contains("v1.3.0"), "{plan:#}");
    assert!(text.contains("widgets spin"), "the new section lists the commit: {plan:#}");
    assert!(!text.contains("first widget"), "released commits stay out: {plan:#}");
}

#[test]
fn release_changelog_rebuilds_the_whole_history_from_tags() {
    if require_tool("git", "git").is_none() {
        return;
    }
    let dir = temp_dir("cli-release-changelog");
    let d = dir.path();
    std::fs::create_dir(d.join("src")).unwrap();
    std::fs::write(
        d.join("Cargo.toml"),
        "[package]\nname = \"widget\"\nversion = \"0.2.0\"\nedition = \"2021\"\n\
         license = \"MIT\"\ndescription = \"A widget.\"\n",
    )
    .unwrap();
    git(d, &["init", "-q"]);
    let mut step = 0;
    let mut commit = |message: &str, tag: Option<&str>| {
        step += 1;
        std::fs::write(d.join("src/lib.rs"), format!("//! Widgets, step {step}.\n")).unwrap();
        git(d, &["add", "."]);
        git(d, &["commit", "-q", "-m", message]);
        if let Some(tag) = tag {
            git(d, &["tag", tag]);
        }
    };
    commit("feat: first widget", Some("v0.1.0"));
    commit("fix: widgets no longer wobble", None);
    commit("feat!: widgets spin\n\nBREAKING CHANGE: `spin` replaces `turn`", Some("v0.2.0"));
    commit("docs: explain spinning", None);

    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_proofmark"))
            .arg("release")
            .args(args)
            .current_dir(d)
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let printed = run(&["changelog"]);
    let ids = |rev: &str| {
        let out = Command::new("git")
            .args(["rev-parse", "--short=7", rev])
            .current_dir(d)
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    let masked = ["HEAD", "HEAD~1", "HEAD~2", "HEAD~3"]
        .iter()
        .enumerate()
        .fold(printed.clone(), |text, (n, rev)| text.replace(&ids(rev), &format!("<HEAD~{n}>")));
    expect_test::expect![[r#"
        ==> CHANGELOG.md (widget: 2 release(s), 4 entries) <==
        # Changelog

        All notable changes to this crate are documented in this file.

        The format is based on [Keep a Changelog](https://keepachangelog.com/en/1.1.0/),
        and this crate adheres to [Semantic Versioning](https://semver.org/spec/v2.0.0.html).

        ## [Unreleased]

        ### Changed

        - explain spinning (<HEAD~0>)

        ## [0.2.0] - 2026-01-02

        ### Added

        - **BREAKING**: widgets spin (<HEAD~1>)
          `spin` replaces `turn`

        ### Fixed

        - widgets no longer wobble (<HEAD~2>)

        ## [0.1.0] - 2026-01-02

        ### Added

        - first widget (<HEAD~3>)
    "#]]
    .assert_eq(&masked);
    // --write puts exactly that text into CHANGELOG.md (atomically; the tree is otherwise
    // untouched).
    let written = run(&["changelog", "--write"]);
    assert!(written.trim_end().ends_with("CHANGELOG.md"), "{written}");
    let file = std::fs::read_to_string(d.join("CHANGELOG.md")).unwrap();
    assert!(printed.ends_with(&file), "the file is the printed changelog");
    let json: serde_json::Value =
        serde_json::from_str(&run(&["changelog", "--format", "json"])).unwrap();
    assert_eq!(json["crates"][0]["releases"], 2, "{json:#}");
    assert_eq!(json["commits"], 4, "{json:#}");
}

/// `proofmark release --execute` is killed mid-run (it aborts right after a step's action,
/// before journaling it, through `PROOFMARK_RELEASE_FAIL_AFTER`: the process dies of SIGABRT
/// with no clean-up), then `--resume` in a new process finishes the release. Judges: the
/// registry's index (each version published once), git (tags at the release commit), and
/// the journal.
#[test]
fn a_killed_release_process_is_finished_by_resume() {
    use std::os::unix::process::ExitStatusExt as _;

    use proofmark_test_support::cargo_registry::{CargoRegistry, git as git_out, write_family};

    if require_tool("git", "git").is_none() {
        return;
    }
    for step in ["commit", "publish:b", "tag:a"] {
        let Some(registry) = CargoRegistry::start() else { return };
        let dir = temp_dir("cli-release-resume");
        let d = dir.path();
        write_family(d, "", &registry);
        let home = registry.cargo_home();
        let proofmark = |args: &[&str], fail_after: Option<&str>| {
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_proofmark"));
            cmd.arg("release")
                .args(args)
                .args(["--registry", "local", "--no-verify", "--date", "2026-11-28"])
                .arg("--cargo-home")
                .arg(&home)
                .current_dir(d)
                .env_remove("PROOFMARK_RELEASE_FAIL_AFTER");
            if let Some(step) = fail_after {
                cmd.env("PROOFMARK_RELEASE_FAIL_AFTER", step);
            }
            cmd.output().unwrap()
        };
        let killed = proofmark(&["--execute"], Some(step));
        assert_eq!(
            killed.status.signal(),
            Some(6),
            "{step}: the run must die of SIGABRT: {:?} {}",
            killed.status,
            String::from_utf8_lossy(&killed.stderr)
        );
        // Starting over is refused while the journal is unfinished.
        let again = proofmark(&["--execute"], None);
        assert!(!again.status.success(), "{step}: a second --execute must refuse");
        assert!(
            String::from_utf8_lossy(&again.stderr).contains("--resume"),
            "{step}: the refusal names --resume: {}",
            String::from_utf8_lossy(&again.stderr)
        );
        let resumed = proofmark(&["--resume"], None);
        assert!(resumed.status.success(), "{step}: {}", String::from_utf8_lossy(&resumed.stderr));
        for (name, version) in [("a", "0.1.0"), ("b", "0.1.0"), ("c", "0.1.0")] {
            assert_eq!(registry.versions(name), [version], "{step}: {name} published once");
            let tag = format!("{name}-v{version}");
            assert_eq!(
                git_out(d, &["rev-parse", &format!("{tag}^{{commit}}")]),
                git_out(d, &["rev-parse", "HEAD"]),
                "{step}: {tag} is at the release commit"
            );
        }
        assert_eq!(git_out(d, &["status", "--porcelain"]), "", "{step}: clean tree");
        let nothing = proofmark(&["--resume"], None);
        assert!(!nothing.status.success(), "{step}: nothing is left to resume");
    }
}

/// With cargo-semver-checks installed, `release check` fails a patch release that removes a
/// public function and passes once the bump is raised: the API judge agrees with the
/// declared bump or the gate says why not.
#[test]
fn the_gate_asks_cargo_semver_checks_whether_the_bump_is_enough() {
    if require_tool("git", "git").is_none() {
        return;
    }
    let Some(semver_checks) = proofmark_test_support::tools::cargo_tool("cargo-semver-checks")
    else {
        return;
    };
    let dir = temp_dir("cli-release-semver");
    let d = dir.path();
    std::fs::create_dir(d.join("src")).unwrap();
    std::fs::write(
        d.join("Cargo.toml"),
        "[package]\nname = \"widget\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\
         license = \"MIT\"\ndescription = \"A widget.\"\n",
    )
    .unwrap();
    std::fs::write(d.join(".gitignore"), "target/\n").unwrap();
    std::fs::write(d.join("src/lib.rs"), "//! Widgets.\npub fn spin() {}\npub fn turn() {}\n")
        .unwrap();
    git(d, &["init", "-q"]);
    git(d, &["add", "."]);
    git(d, &["commit", "-q", "-m", "feat: widgets"]);
    git(d, &["tag", "v0.1.0"]);
    // Not marked breaking, so the plan says patch; the API says otherwise.
    std::fs::write(d.join("src/lib.rs"), "//! Widgets.\npub fn spin() {}\n").unwrap();
    git(d, &["commit", "-q", "-am", "fix: drop turn"]);

    let path = format!(
        "{}:{}",
        semver_checks.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let check = |extra: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_proofmark"))
            .args(["release", "--date", "2026-11-28"])
            .args(extra)
            .args(["check", "--offline"])
            .current_dir(d)
            .env("PATH", &path)
            .output()
            .unwrap();
        (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let (ok, checklist) = check(&[]);
    assert!(!ok, "a patch release that removes `turn` must not pass:\n{checklist}");
    let semver_line = checklist.lines().find(|l| l.contains("semver")).unwrap_or_default();
    assert!(
        semver_line.contains("widget") && semver_line.contains("disagrees"),
        "the failing check names the crate and says why:\n{checklist}"
    );
    assert!(semver_line.contains("function_missing"), "the lint is named: {semver_line}");
    // Below 1.0.0 a minor bump may break the API.
    let (ok, checklist) = check(&["--bump", "widget=minor"]);
    let semver_line = checklist.lines().find(|l| l.contains("semver")).unwrap_or_default();
    assert!(semver_line.contains("agrees"), "{checklist}");
    assert!(ok, "{checklist}");
}
