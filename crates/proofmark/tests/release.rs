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
