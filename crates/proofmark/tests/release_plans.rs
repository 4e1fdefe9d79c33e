//! `proofmark release` on scripted histories of the repository classes whose plans used to be
//! wrong (issue 11): release branches merged back, a root crate whose tag scheme changed,
//! pre-release tags on `main`, a maintenance branch with cherry-picks. git is the judge of
//! each history in `proofmark-release`'s tests; here the CLI's plan is checked end to end.

#![allow(clippy::unwrap_used, reason = "helpers of tests: a panic is the failure report")]

use std::path::Path;
use std::process::Command;

use proofmark_test_support::history::classes;
use proofmark_test_support::{require_tool, temp_dir};
use serde_json::Value;

/// `proofmark release ARGS --format json` in `dir`: the plan.
fn plan(dir: &Path, args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_proofmark"))
        .args(["release", "--format", "json", "--date", "2026-11-28"])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `(name, next_version, tag)` of every release.
fn releases(plan: &Value) -> Vec<(String, String, String)> {
    plan["releases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let text = |key: &str| r[key].as_str().unwrap().to_owned();
            (text("name"), text("next_version"), text("tag"))
        })
        .collect()
}

/// `(crate, summary)` of the entries of `list` (`no_effect`, `already_released`).
fn skipped(plan: &Value, list: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = plan[list]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (c["crate"].as_str().unwrap().to_owned(), c["summary"].as_str().unwrap().to_owned())
        })
        .collect();
    out.sort();
    out
}

fn owned(items: &[(&str, &str, &str)]) -> Vec<(String, String, String)> {
    items.iter().map(|(a, b, c)| ((*a).to_owned(), (*b).to_owned(), (*c).to_owned())).collect()
}

#[test]
fn release_branches_merged_back_release_only_what_changed() {
    let Some(git) = require_tool("git", "git") else { return };
    let dir = temp_dir("cli-class-merged-back");
    classes::release_branch_merged_back(&git, dir.path());
    let plan = plan(dir.path(), &[]);
    assert_eq!(releases(&plan), owned(&[("b", "1.1.1", "b-1.1.1")]), "{plan:#}");
    let unchanged: Vec<&str> = plan["unchanged"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["reason"].as_str().unwrap())
        .collect();
    assert_eq!(unchanged, ["unchanged since 1.0.1 (a-1.0.1)", "unchanged since 1.0.0 (c-1.0.0)"]);
    let merge = "Merge pull request #7 from family/release-1";
    let expected: Vec<(String, String)> = [
        ("a", merge),
        ("b", merge),
        ("b", "test(b): widget tests"),
        ("c", "docs(c): fix a typo in the changelog"),
    ]
    .iter()
    .map(|(c, s)| ((*c).to_owned(), (*s).to_owned()))
    .collect();
    assert_eq!(skipped(&plan, "no_effect"), expected);
    let section = plan["releases"][0]["changelog"].as_str().unwrap();
    assert!(section.contains("the widget spins"), "{section}");
    assert!(!section.contains("widget tests") && !section.contains("Merge"), "{section}");
}

#[test]
fn a_root_crate_whose_tag_scheme_changed_keeps_its_new_scheme() {
    let Some(git) = require_tool("git", "git") else { return };
    let dir = temp_dir("cli-class-scheme");
    classes::root_crate_tag_scheme_changed(&git, dir.path());
    let plan = plan(dir.path(), &[]);
    assert_eq!(
        releases(&plan),
        owned(&[("top", "1.2.1", "v1.2.1"), ("util", "0.4.0", "util-v0.4.0")]),
        "{plan:#}"
    );
    assert_eq!(plan["releases"][0]["last_release"]["tag"], "v1.2.0");
    let warnings = plan["warnings"].to_string();
    assert!(warnings.contains("top: release tags mix schemes"), "{warnings}");
    // An explicit template wins over the inferred scheme.
    let templated = self::plan(dir.path(), &["--tag-template", "{crate}-v{version}"]);
    assert_eq!(templated["releases"][0]["tag"], "top-v1.2.1", "{templated:#}");
}

#[test]
fn prerelease_tags_on_main_are_never_planned_again() {
    let Some(git) = require_tool("git", "git") else { return };
    let dir = temp_dir("cli-class-pre");
    classes::prerelease_tags_on_main(&git, dir.path());
    let fin = plan(dir.path(), &[]);
    assert_eq!(releases(&fin), owned(&[("solo", "1.0.0", "v1.0.0")]), "{fin:#}");
    let reason = fin["releases"][0]["reason"].as_str().unwrap();
    assert!(reason.contains("1.0.0-alpha.2 is already released as v1.0.0-alpha.2"), "{reason}");
    let alpha = plan(dir.path(), &["--pre", "alpha"]);
    assert_eq!(
        releases(&alpha),
        owned(&[("solo", "1.0.0-alpha.3", "v1.0.0-alpha.3")]),
        "{alpha:#}"
    );
}

#[test]
fn cherry_picks_released_on_a_maintenance_branch_are_listed_apart() {
    let Some(git) = require_tool("git", "git") else { return };
    let dir = temp_dir("cli-class-cherry");
    classes::maintenance_branch_cherry_picks(&git, dir.path());
    let plan = plan(dir.path(), &[]);
    assert_eq!(
        releases(&plan),
        owned(&[("cli", "7.1.0", "cli-v7.1.0"), ("core", "8.0.0", "core-v8.0.0")]),
        "{plan:#}"
    );
    let expected: Vec<(String, String)> =
        [("core", "fix(core): free the pool"), ("core", "fix(core): no overflow on add")]
            .iter()
            .map(|(c, s)| ((*c).to_owned(), (*s).to_owned()))
            .collect();
    assert_eq!(skipped(&plan, "already_released"), expected);
    assert!(plan["already_released"].as_array().unwrap().iter().all(|c| c["version"] == "7.0.1"));
    let section = plan["releases"][1]["changelog"].as_str().unwrap();
    assert!(section.contains("a race") && !section.contains("overflow"), "{section}");
    // The human plan has the list of its own.
    let out = Command::new(env!("CARGO_BIN_EXE_proofmark"))
        .args(["release", "--date", "2026-11-28"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Already released on another branch (2)"), "{text}");
}

#[test]
fn online_refuses_a_version_the_index_already_has() {
    let Some(git) = require_tool("git", "git") else { return };
    let dir = temp_dir("cli-class-online");
    classes::prerelease_tags_on_main(&git, dir.path());
    let index = temp_dir("cli-class-online-index");
    let run = |line: &str| {
        std::fs::create_dir_all(index.path().join("so/lo")).unwrap();
        std::fs::write(index.path().join("so/lo/solo"), line).unwrap();
        Command::new(env!("CARGO_BIN_EXE_proofmark"))
            .args(["release", "--online", "--date", "2026-11-28", "--index"])
            .arg(index.path())
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    let entry = |version: &str| {
        format!(
            "{{\"name\":\"solo\",\"vers\":\"{version}\",\"deps\":[],\"cksum\":\"00\",\
             \"features\":{{}},\"yanked\":false}}\n"
        )
    };
    let published = run(&entry("1.0.0"));
    assert!(!published.status.success());
    let stderr = String::from_utf8_lossy(&published.stderr);
    assert!(stderr.contains("already published in") && stderr.contains("solo 1.0.0"), "{stderr}");
    let other = run(&entry("1.0.0-alpha.2"));
    assert!(other.status.success(), "{}", String::from_utf8_lossy(&other.stderr));
}
