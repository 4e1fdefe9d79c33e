//! `proofmark release` and `proofmark check-deps` work on any Cargo repository, not only this
//! workspace: here a single-crate repository made by the test, with git as the judge of history.

#![allow(clippy::unwrap_used, reason = "helpers of tests: a panic is the failure report")]

use std::path::Path;
use std::process::Command;

use proofmark_test_support::{require_tool, temp_dir};

mod release_common;
use release_common::git;

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
#[cfg_attr(
    not(feature = "test-hooks"),
    ignore = "the drill hook needs `--features test-hooks` (cargo xtask test enables it)"
)]
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
                .args(["--registry", "local", "--no-verify"])
                .arg("--cargo-home")
                .arg(&home)
                .current_dir(d)
                .env_remove("PROOFMARK_RELEASE_FAIL_AFTER");
            if let Some(step) = fail_after {
                cmd.env("PROOFMARK_RELEASE_FAIL_AFTER", step);
            }
            cmd.output().unwrap()
        };
        let killed = proofmark(&["--execute", "--date", "2026-11-28"], Some(step));
        assert_eq!(
            killed.status.signal(),
            Some(6),
            "{step}: the run must die of SIGABRT: {:?} {}",
            killed.status,
            String::from_utf8_lossy(&killed.stderr)
        );
        // Starting over is refused while the journal is unfinished.
        let again = proofmark(&["--execute", "--date", "2026-11-28"], None);
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
    std::fs::write(d.join("LICENSE"), "MIT License\n").unwrap();
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

/// Runs `proofmark ARGS` in `dir` (stderr not a terminal); returns success, stdout, stderr.
fn proofmark(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_proofmark"));
    cmd.args(args).current_dir(dir).env_remove("PROOFMARK_RELEASE_FAIL_AFTER");
    for (key, value) in env {
        cmd.env(key, value);
    }
    let out = cmd.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A family `alpha ← beta` released once (`alpha-v0.1.0`, `beta-v0.1.0`), then a fix in
/// alpha and a feature in beta; no registry involved.
fn released_family(d: &Path) {
    let manifest = |name: &str, dependency: &str| {
        format!(
            "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\
             license = \"MIT\"\ndescription = \"The {name} crate.\"\n{dependency}"
        )
    };
    for dir in ["alpha/src", "beta/src"] {
        std::fs::create_dir_all(d.join(dir)).unwrap();
    }
    std::fs::write(
        d.join("Cargo.toml"),
        "[workspace]\nmembers = [\"alpha\", \"beta\"]\nresolver = \"2\"\n",
    )
    .unwrap();
    std::fs::write(d.join(".gitignore"), "target/\n").unwrap();
    std::fs::write(d.join("alpha/Cargo.toml"), manifest("alpha", "")).unwrap();
    // The gate wants a licence text in every package.
    for dir in ["alpha", "beta"] {
        std::fs::write(d.join(dir).join("LICENSE"), "MIT License\n").unwrap();
    }
    std::fs::write(
        d.join("beta/Cargo.toml"),
        manifest(
            "beta",
            "\n[dependencies]\nalpha = { path = \"../alpha\", version = \"0.1.0\" }\n",
        ),
    )
    .unwrap();
    std::fs::write(d.join("alpha/src/lib.rs"), "//! Alpha.\npub fn one() -> u32 { 1 }\n").unwrap();
    std::fs::write(
        d.join("beta/src/lib.rs"),
        "//! Beta.\npub fn two() -> u32 { alpha::one() + 1 }\n",
    )
    .unwrap();
    git(d, &["init", "-q"]);
    git(d, &["add", "."]);
    git(d, &["commit", "-q", "-m", "feat: the family"]);
    git(d, &["commit", "-q", "--allow-empty", "-m", "chore: release"]);
    git(d, &["tag", "alpha-v0.1.0"]);
    git(d, &["tag", "beta-v0.1.0"]);
    std::fs::write(d.join("alpha/src/lib.rs"), "//! Alpha.\npub fn one() -> u32 { 1 + 0 }\n")
        .unwrap();
    git(d, &["commit", "-q", "-am", "fix(alpha): count from one"]);
    std::fs::write(
        d.join("beta/src/lib.rs"),
        "//! Beta.\npub fn two() -> u32 { 2 }\npub fn three() -> u32 { 3 }\n",
    )
    .unwrap();
    git(d, &["commit", "-q", "-am", "feat(beta): three"]);
}

/// The checklist's line for check `id`.
fn check_line<'a>(checklist: &'a str, id: &str) -> &'a str {
    checklist.lines().find(|l| l.contains(&format!("**{id}**"))).unwrap_or_default()
}

/// Issue 16, item 9: every option of the plan works after the subcommand (and still before
/// it), and an option a subcommand does not use is refused instead of ignored.
#[test]
fn plan_options_work_after_the_subcommand() {
    if require_tool("git", "git").is_none() {
        return;
    }
    let dir = temp_dir("cli-release-options");
    let d = dir.path();
    released_family(d);
    let gate = ["--offline", "--skip-semver-checks"];
    let after =
        [&["release", "check", "--crate", "alpha", "--date", "2026-12-01"][..], &gate].concat();
    let (ok, checklist, stderr) = proofmark(d, &after, &[]);
    assert!(ok, "{checklist}{stderr}");
    assert!(
        check_line(&checklist, "package").contains("packaged alpha without build"),
        "{checklist}"
    );
    // One line per long step when stderr is not a terminal (a CI log).
    assert!(stderr.contains("release: package: cargo package -p alpha\n"), "{stderr}");
    let before =
        [&["release", "--crate", "alpha", "--date", "2026-12-01", "check"][..], &gate].concat();
    let (ok, same, _) = proofmark(d, &before, &[]);
    assert!(ok && same == checklist, "{same}");
    let (ok, json, _) = proofmark(d, &[&after[..], &["--format", "json"]].concat(), &[]);
    assert!(ok, "{json}");
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json["packaged"][0]["name"], "alpha", "{json:#}");
    let (ok, plan, _) =
        proofmark(d, &["release", "changelog", "--crate", "beta", "--format", "json"], &[]);
    assert!(
        ok && plan.contains("beta/CHANGELOG.md") && !plan.contains("alpha/CHANGELOG.md"),
        "{plan}"
    );

    let refused = |args: &[&str]| {
        let (ok, _, stderr) = proofmark(d, args, &[]);
        assert!(!ok, "{args:?} must be refused");
        stderr.trim().to_owned()
    };
    expect_test::expect![[r#"
        error: --pre does nothing with `release status` (see `release status --help`)
        error: --execute does nothing with `release check` (see `release check --help`)
        error: --crate does nothing with `release --resume` (it finishes the release recorded in the journal)
        error: --registry, --offline only apply to --execute and --resume (the dry run reads the workspace only; `release check` takes the gate options)"#]]
    .assert_eq(
        &[
            refused(&["release", "--pre", "rc", "status"]),
            refused(&["release", "--execute", "check"]),
            refused(&["release", "--resume", "--crate", "alpha"]),
            refused(&["release", "--registry", "local", "--offline"]),
        ]
        .join("\n"),
    );
    let unknown = refused(&["release", "status", "--crate", "alpha"]);
    assert!(unknown.contains("unexpected argument '--crate'"), "{unknown}");
}

/// Issue 16, item 9: each subcommand's help lists exactly what it takes, and `--format`
/// says what that subcommand prints; the tool's `--tcti` is neither listed nor taken.
#[test]
fn release_help_texts() {
    let help = |sub: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_proofmark"))
            .arg("release")
            .args(sub)
            .arg("--help")
            .output()
            .unwrap();
        assert!(out.status.success());
        let text = String::from_utf8(out.stdout).unwrap();
        format!("=== release {}\n{text}", sub.join(" "))
    };
    for args in [&["--tcti", "x", "release"][..], &["release", "check", "--tcti", "x"]] {
        let out = Command::new(env!("CARGO_BIN_EXE_proofmark")).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("--tcti does nothing with `proofmark release`: it does not use a TPM"),
            "{stderr}"
        );
    }
    let all: String = [&[][..], &["check"], &["status"], &["audit"], &["changelog"], &["config"]]
        .iter()
        .map(|sub| help(sub))
        .collect();
    expect_test::expect![[r#"
        === release 
        Plan, check, execute, resume or audit a release of the Cargo workspace here (dry run by default)

        Usage: proofmark release [OPTIONS] [COMMAND]

        Commands:
          check      The readiness gate on a preview of the release commit, as a Markdown checklist (or JSON); exits 1 when a check fails
          status     What is left of the release scope in proofmark.toml (date train, required features)
          audit      Compare registry versions, release tags and changelog sections; exit 1 on drift
          changelog  Rebuild every crate's whole changelog from its release tags (one section per tag) and print it; with --write, replace the CHANGELOG.md files. For repositories whose changelogs are missing or were written after the tags
          config     The effective release settings and the file and key each came from (proofmark.toml, cargo-release, release-plz, git-cliff), and what is not honoured
          help       Print this message or the help of the given subcommand(s)

        Options:
              --format <FORMAT>          Output format: human (a table and per-crate sections) or json (the `ReleasePlan`; with --execute or --resume, what the run did) [possible values: human, json]
              --execute                  Execute the plan: gate, write, commit, gate again, publish, tag, (push), with a journal
              --resume                   Finish the release recorded in the unfinished journal
              --online                   Dry run: also refuse versions the registry's index already has (`check` and `--execute` always do; `--registry`/`--index` name the registry)
              --push-remote <REMOTE>     Push the release commit and tags to this remote after every publish (default: no push)
              --out <DIR>                Folder for the release manifest and notes (default: target/release)
              --crate <NAME>             Only release this crate (repeatable; default: every crate with changes)
              --bump <NAME=LEVEL>        Override the inferred bump: NAME=major|minor|patch|X.Y.Z (repeatable)
              --date <YYYY-MM-DD>        Date for the changelog headings (default: today, UTC)
              --tag-template <TEMPLATE>  Template for new tags, with {crate} and {version} (default: {crate}-v{version}, or v{version} when the workspace publishes a single crate)
              --pre <NAME>               Plan release candidates with this pre-release name: `--pre rc` makes `X.Y.Z-rc.N` (without it, a final release folds its candidates' changelog sections into its own)
              --zero-breaking-is-major   Below 1.0.0, bump the major number on breaking changes (default: the minor number)
              --zero-feature-is-minor    Below 1.0.0, bump the minor number on features (default: the patch number)
              --registry <NAME>          Publish to this registry (`cargo publish --registry NAME`; default crates.io); the gate packages for it
              --index <URL>              Publish to this index URL (`cargo publish --index URL`) and poll it
              --no-verify                Package without building (`cargo package --no-verify`)
              --offline                  Run cargo offline in the gate (implies --no-verify)
              --skip-semver-checks       Do not run cargo-semver-checks in the gate (by default it runs when installed)
              --cargo-home <DIR>         Run cargo with this CARGO_HOME (registry configuration and token)
              --workspace <DIR>          The workspace to release (default: the one containing the current directory)
          -h, --help                     Print help
          -V, --version                  Print version
        === release check
        The readiness gate on a preview of the release commit, as a Markdown checklist (or JSON); exits 1 when a check fails

        Usage: proofmark release check [OPTIONS]

        Options:
              --format <FORMAT>          Output format: human (a Markdown checklist for a tracking issue) or json (each check and each packaged .crate with its SHA-256) [possible values: human, json]
              --crate <NAME>             Only release this crate (repeatable; default: every crate with changes)
              --bump <NAME=LEVEL>        Override the inferred bump: NAME=major|minor|patch|X.Y.Z (repeatable)
              --date <YYYY-MM-DD>        Date for the changelog headings (default: today, UTC)
              --tag-template <TEMPLATE>  Template for new tags, with {crate} and {version} (default: {crate}-v{version}, or v{version} when the workspace publishes a single crate)
              --pre <NAME>               Plan release candidates with this pre-release name: `--pre rc` makes `X.Y.Z-rc.N` (without it, a final release folds its candidates' changelog sections into its own)
              --zero-breaking-is-major   Below 1.0.0, bump the major number on breaking changes (default: the minor number)
              --zero-feature-is-minor    Below 1.0.0, bump the minor number on features (default: the patch number)
              --registry <NAME>          Publish to this registry (`cargo publish --registry NAME`; default crates.io); the gate packages for it
              --index <URL>              Publish to this index URL (`cargo publish --index URL`) and poll it
              --no-verify                Package without building (`cargo package --no-verify`)
              --offline                  Run cargo offline in the gate (implies --no-verify)
              --skip-semver-checks       Do not run cargo-semver-checks in the gate (by default it runs when installed)
              --cargo-home <DIR>         Run cargo with this CARGO_HOME (registry configuration and token)
              --workspace <DIR>          The workspace to check (default: the one containing the current directory)
          -h, --help                     Print help
          -V, --version                  Print version
        === release status
        What is left of the release scope in proofmark.toml (date train, required features)

        Usage: proofmark release status [OPTIONS]

        Options:
              --format <FORMAT>    Output format: human (sentences) or json (days to the freeze and to the release, the features landed with their commits and the features missing) [possible values: human, json]
              --date <YYYY-MM-DD>  Count the days of the date train from this date (default: today, UTC)
              --workspace <DIR>    The workspace (default: the one containing the current directory)
          -h, --help               Print help
          -V, --version            Print version
        === release audit
        Compare registry versions, release tags and changelog sections; exit 1 on drift

        Usage: proofmark release audit [OPTIONS]

        Options:
              --format <FORMAT>          Output format: human (one line per finding) or json (the findings: crate, version, problem) [possible values: human, json]
              --registry <NAME>          Audit against this registry (as configured for cargo; default crates.io)
              --index <URL>              Audit against this index URL
              --cargo-home <DIR>         Read the registry configuration from this CARGO_HOME
              --tag-template <TEMPLATE>  Template of the release tags, with {crate} and {version} (default: {crate}-v{version}, or v{version} when the workspace publishes a single crate)
              --workspace <DIR>          The workspace (default: the one containing the current directory)
          -h, --help                     Print help
          -V, --version                  Print version
        === release changelog
        Rebuild every crate's whole changelog from its release tags (one section per tag) and print it; with --write, replace the CHANGELOG.md files. For repositories whose changelogs are missing or were written after the tags

        Usage: proofmark release changelog [OPTIONS]

        Options:
              --write                    Replace each crate's CHANGELOG.md (hand edits in it are lost; review with git diff)
              --format <FORMAT>          Output format: human (each changelog after a `==> PATH <==` line) or json (per crate: the path, the whole text, the number of releases and entries; and the commits read) [possible values: human, json]
              --crate <NAME>             Only rebuild this crate's changelog (repeatable; default: every published crate)
              --tag-template <TEMPLATE>  Template of the release tags, with {crate} and {version} (default: {crate}-v{version}, or v{version} when the workspace publishes a single crate)
              --workspace <DIR>          The workspace (default: the one containing the current directory)
          -h, --help                     Print help
          -V, --version                  Print version
        === release config
        The effective release settings and the file and key each came from (proofmark.toml, cargo-release, release-plz, git-cliff), and what is not honoured

        Usage: proofmark release config [OPTIONS]

        Options:
              --format <FORMAT>  Output format: human (each setting with its source, then what is not honoured) or json (the same as data) [possible values: human, json]
              --workspace <DIR>  The workspace (default: the one containing the current directory)
          -h, --help             Print help
          -V, --version          Print version
    "#]].assert_eq(&all);
}

/// Issue 16, item 2: a shallow clone (`git clone --depth 1`, as CI checkouts are) fails
/// `release check`, `--execute` and `--resume` with the command that fetches the history,
/// writes nothing, and passes once the tags and the commits since them are there.
#[test]
fn a_shallow_clone_fails_the_gate_until_the_history_is_fetched() {
    if require_tool("git", "git").is_none() {
        return;
    }
    let dir = temp_dir("cli-release-shallow");
    let origin = dir.path().join("origin");
    std::fs::create_dir(&origin).unwrap();
    released_family(&origin);
    let url = format!("file://{}", origin.display());
    git(dir.path(), &["clone", "-q", "--depth", "1", &url, "shallow"]);
    let d = &dir.path().join("shallow");
    let gate = ["--offline", "--skip-semver-checks", "--date", "2026-12-01"];
    let head = || {
        let out = Command::new("git").args(["rev-parse", "HEAD"]).current_dir(d).output().unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    let before = head();

    let (ok, checklist, _) = proofmark(d, &[&["release", "check"][..], &gate].concat(), &[]);
    assert!(!ok, "{checklist}");
    expect_test::expect!["- [ ] **history** this is a shallow clone and the release needs history it lacks (alpha: no release tag here, so it looks like a first release; beta: no release tag here, so it looks like a first release): run `git fetch --unshallow --tags` (in CI, check out with full history, e.g. `fetch-depth: 0`) and plan again"]
    .assert_eq(check_line(&checklist, "history"));

    let (ok, _, stderr) = proofmark(d, &[&["release", "--execute"][..], &gate].concat(), &[]);
    assert!(!ok && stderr.contains("git fetch --unshallow --tags"), "{stderr}");
    let status =
        Command::new("git").args(["status", "--porcelain"]).current_dir(d).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&status.stdout), "", "--execute wrote nothing");
    assert_eq!(head(), before);
    assert!(!d.join(".git/proofmark-release/journal.jsonl").exists());

    // --resume of a release started in the full clone: stopped after its first step there,
    // its journal copied here (the stop needs the drill hook of `--features test-hooks`).
    #[cfg(feature = "test-hooks")]
    {
        let abort = [("PROOFMARK_RELEASE_FAIL_AFTER", "edit")];
        let (ok, _, stderr) =
            proofmark(&origin, &[&["release", "--execute"][..], &gate].concat(), &abort);
        assert!(!ok && stderr.contains("aborting after step edit"), "{stderr}");
        std::fs::create_dir_all(d.join(".git/proofmark-release")).unwrap();
        std::fs::copy(
            origin.join(".git/proofmark-release/journal.jsonl"),
            d.join(".git/proofmark-release/journal.jsonl"),
        )
        .unwrap();
        let (ok, _, stderr) = proofmark(d, &["release", "--resume", "--offline"], &[]);
        assert!(!ok, "{stderr}");
        expect_test::expect![[r#"
        error: the release is not ready:
          - [history] this is a shallow clone and the release needs history it lacks (alpha: tag alpha-v0.1.0 is missing; beta: tag beta-v0.1.0 is missing): run `git fetch --unshallow --tags` (in CI, check out with full history, e.g. `fetch-depth: 0`) and plan again"#]]
    .assert_eq(stderr.trim());
        assert_eq!(head(), before, "--resume wrote nothing");
        std::fs::remove_file(d.join(".git/proofmark-release/journal.jsonl")).unwrap();
    }

    // Still shallow, but with the release tags and every commit since them: ready.
    git(d, &["fetch", "-q", "--deepen", "2", "--tags", "origin"]);
    let shallow = Command::new("git")
        .args(["rev-parse", "--is-shallow-repository"])
        .current_dir(d)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&shallow.stdout).trim(), "true");
    let (_, checklist, _) = proofmark(d, &[&["release", "check"][..], &gate].concat(), &[]);
    expect_test::expect!["- [x] **history** a shallow clone, but the history since each crate's last release tag is here"]
        .assert_eq(check_line(&checklist, "history"));
    git(d, &["fetch", "-q", "--unshallow", "--tags", "origin"]);
    let (ok, checklist, stderr) = proofmark(d, &[&["release", "check"][..], &gate].concat(), &[]);
    assert!(ok, "{checklist}{stderr}");
    expect_test::expect!["- [x] **history** the full history is here (not a shallow clone)"]
        .assert_eq(check_line(&checklist, "history"));
}
