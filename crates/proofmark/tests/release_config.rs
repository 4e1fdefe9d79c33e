//! `proofmark release` on repositories set up for other release tools, end to end: a
//! cargo-release `release.toml` with keys proofmark does not know no longer stops the plan,
//! `release config` says where each setting came from (text and JSON), and a repository that
//! merges pull requests gets one linked entry per pull request. git builds the histories.

#![allow(clippy::unwrap_used, reason = "helpers of tests: a panic is the failure report")]

use std::path::Path;
use std::process::Command;

use proofmark_test_support::{require_tool, temp_dir};

mod release_common;
use release_common::git;

fn proofmark(dir: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_proofmark"))
        .arg("release")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn write(dir: &Path, path: &str, text: &str) {
    let path = dir.join(path);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[test]
fn cargo_release_config_is_read_and_explained() {
    if require_tool("git", "git").is_none() {
        return;
    }
    let dir = temp_dir("cli-release-config");
    let d = dir.path();
    write(
        d,
        "Cargo.toml",
        "[package]\nname = \"widget\"\nversion = \"1.2.3\"\nedition = \"2021\"\n\
         license = \"MIT\"\ndescription = \"A widget.\"\n",
    );
    write(d, "src/lib.rs", "//! Widgets.\n");
    write(
        d,
        "release.toml",
        "owners = [\"github:acme:release\"]\n\
         pre-release-replacements = [{ file = \"README.md\", search = \"x\", replace = \"y\" }]\n\
         tag-name = \"{{version}}\"\n\
         allow-branch = [\"main\", \"maint/*\"]\n",
    );
    git(d, &["init", "-q"]);
    git(d, &["add", "."]);
    git(d, &["commit", "-q", "-m", "feat: first widget"]);
    git(d, &["tag", "1.2.3"]);
    write(d, "src/lib.rs", "//! Widgets.\npub fn spin() {}\n");
    git(d, &["commit", "-q", "-am", "fix: widgets spin"]);

    // The plan: this used to fail with "unknown field `owners`".
    let plan: serde_json::Value =
        serde_json::from_str(&proofmark(d, &["--format", "json", "--date", "2026-02-03"])).unwrap();
    assert_eq!(plan["tag_template"], "{version}", "{plan:#}");
    assert_eq!(plan["releases"][0]["tag"], "1.2.4", "cargo-release's tag-name: {plan:#}");
    assert_eq!(plan["releases"][0]["last_release"]["tag"], "1.2.3", "{plan:#}");
    let notes = plan["notes"].to_string();
    assert!(notes.contains("`owners` not honoured"), "{plan:#}");
    assert!(notes.contains("`pre-release-replacements` not honoured"), "{plan:#}");

    // The command line wins over the file.
    let plan: serde_json::Value = serde_json::from_str(&proofmark(
        d,
        &["--format", "json", "--date", "2026-02-03", "--tag-template", "v{version}"],
    ))
    .unwrap();
    assert_eq!(plan["releases"][0]["tag"], "v1.2.4", "{plan:#}");

    let human = proofmark(d, &["config"]);
    assert!(
        human.contains("tag-template      {version}  (from release.toml `tag-name`)"),
        "{human}"
    );
    assert!(human.contains("allowed-branches  main, maint/*  (from release.toml `allow-branch`)"));
    assert!(human.contains("release.toml `owners`: proofmark does not manage crate owners"));

    let json: serde_json::Value =
        serde_json::from_str(&proofmark(d, &["config", "--format", "json"])).unwrap();
    let setting =
        json["settings"].as_array().unwrap().iter().find(|s| s["name"] == "tag-template").unwrap();
    assert_eq!(setting["value"], "{version}");
    assert_eq!(setting["file"], "release.toml");
    assert_eq!(setting["key"], "tag-name");
    assert!(json["not_honoured"].as_array().unwrap().iter().any(|n| n["key"] == "owners"));
}

#[test]
fn pull_request_merges_make_linked_entries() {
    if require_tool("git", "git").is_none() {
        return;
    }
    let dir = temp_dir("cli-release-prs");
    let d = dir.path();
    write(
        d,
        "Cargo.toml",
        "[package]\nname = \"widget\"\nversion = \"0.4.0\"\nedition = \"2021\"\n\
         license = \"MIT\"\ndescription = \"A widget.\"\n\
         repository = \"https://github.com/acme/widget\"\n",
    );
    write(d, "src/lib.rs", "//! Widgets.\n");
    git(d, &["init", "-q"]);
    git(d, &["add", "."]);
    git(d, &["commit", "-q", "-m", "Initial version"]);
    git(d, &["tag", "v0.4.0"]);
    git(d, &["checkout", "-q", "-b", "wobble"]);
    write(d, "src/lib.rs", "//! Widgets.\npub fn steady() {}\n");
    git(d, &["commit", "-q", "-am", "Fixed clippy warnings"]);
    git(d, &["checkout", "-q", "main"]);
    git(
        d,
        &[
            "merge",
            "-q",
            "--no-ff",
            "-m",
            "Merge pull request #651 from acme/wobble\n\nFix the wobble",
            "wobble",
        ],
    );
    write(d, "src/more.rs", "//! More.\n");
    git(d, &["add", "."]);
    git(d, &["commit", "-q", "-m", "Add more widgets (#652)"]);

    let text = proofmark(d, &["--date", "2026-02-03"]);
    for line in [
        "### Added",
        "- Add more widgets ([#652](https://github.com/acme/widget/pull/652), ",
        "### Fixed",
        "- Fix the wobble ([#651](https://github.com/acme/widget/pull/651), ",
        "  - Fixed clippy warnings (",
        "2 pull request(s), one entry each with its commits folded: 1 as Added by the title's \
         first word, 1 as Fixed by the title's first word",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
    assert!(text.contains("v0.4.1"), "a patch release, as before: {text}");
}
