//! `proofmark check-deps` against the fixture registries of proofmark-deps' tests (a
//! local-registry folder, index-only stage): targets that match nothing fail and say what the
//! index has, exit statuses tell findings (1, at `--fail-on` or above) from a failed run (2),
//! and the cache goes where cargo puts the workspace's target folder (cargo itself
//! is the judge), or into the user's cache folder outside a workspace.

#![allow(clippy::unwrap_used, reason = "helpers of tests: a panic is the failure report")]

#[path = "../../proofmark-deps/tests/support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use proofmark_test_support::temp_dir;
use support::Pkg;

const T1: &str = "2024-01-01T00:00:00Z";

/// A fixture registry with `my-crate` 1.0.0 and 2.0.0-rc.1, and a `CARGO_HOME` that replaces
/// crates.io with it.
fn cargo_home(dir: &Path) -> PathBuf {
    let lib = "pub fn f() {}\n";
    let registry = dir.join("registry");
    support::local_registry(
        &[Pkg::new("my-crate", "1.0.0", T1, lib), Pkg::new("my-crate", "2.0.0-rc.1", T1, lib)],
        &registry,
    );
    support::cargo_home(&dir.join("cargo-home"), &format!("local-registry = {:?}", registry))
}

/// Runs `proofmark check-deps ARGS --stage index -q` (just ARGS for `lockfile`) in `cwd` with a clean environment: `HOME` in
/// `dir`, no `CARGO_TARGET_DIR` or `XDG_CACHE_HOME` unless `vars` sets them.
fn check_deps(dir: &Path, cwd: &Path, args: &[&str], vars: &[(&str, &Path)]) -> Output {
    let home = dir.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_proofmark"));
    cmd.arg("check-deps")
        .args(args)
        // `lockfile` has no stages and no progress.
        .args(if args.first() == Some(&"lockfile") { &[][..] } else { &["--stage", "index", "-q"] })
        .current_dir(cwd)
        .env("CARGO_HOME", cargo_home(dir))
        .env("HOME", &home)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("XDG_CACHE_HOME")
        .env_remove("CARGO_BUILD_TARGET_DIR");
    for (key, value) in vars {
        cmd.env(key, value);
    }
    cmd.output().unwrap()
}

/// A one-package workspace at `dir/ws`.
fn workspace(dir: &Path) -> PathBuf {
    let ws = dir.join("ws");
    std::fs::create_dir_all(ws.join("src/nested")).unwrap();
    std::fs::write(
        ws.join("Cargo.toml"),
        "[package]\nname = \"consumer\"\nversion = \"0.1.0\"\nedition = \"2021\"\npublish = false\n",
    )
    .unwrap();
    std::fs::write(ws.join("src/lib.rs"), "").unwrap();
    ws
}

/// The files of the results cache under `work` (`work/cache/*.json`).
fn cached(work: &Path) -> usize {
    std::fs::read_dir(work.join("cache")).map_or(0, |entries| entries.count())
}

/// The target folder cargo itself uses for a command run in `cwd`.
fn cargo_target_dir(cwd: &Path, vars: &[(&str, &Path)]) -> PathBuf {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.args(["metadata", "--no-deps", "--format-version", "1", "--offline"])
        .current_dir(cwd)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET_DIR");
    for (key, value) in vars {
        cmd.env(key, value);
    }
    let meta: serde_json::Value =
        serde_json::from_str(&proofmark_test_support::stdout_ok(cmd.output().unwrap())).unwrap();
    PathBuf::from(meta["target_directory"].as_str().unwrap())
}

fn assert_ok(out: &Output) {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn the_cache_goes_into_the_target_folder_cargo_uses() {
    let dir = temp_dir("check-deps-cache");
    let d = dir.path();
    let ws = workspace(d);
    let nested = ws.join("src/nested");

    // Run from a folder inside the workspace: its root's target folder, nothing in the folder.
    assert_ok(&check_deps(d, &nested, &["my_crate@1.0.0"], &[]));
    let target = cargo_target_dir(&nested, &[]);
    assert_eq!(target, ws.join("target").canonicalize().unwrap());
    assert_eq!(cached(&target.join("check-deps")), 1);
    assert!(!nested.join("target").exists(), "nothing in the current folder");

    // The lockfile checked by default is the workspace root's, wherever the command runs.
    let mut lock = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    lock.args(["generate-lockfile", "--offline"]).current_dir(&ws);
    proofmark_test_support::stdout_ok(lock.output().unwrap());
    let out = check_deps(d, &nested, &["lockfile", "--format", "json"], &[]);
    assert_ok(&out);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["findings"], serde_json::json!([]), "{report:#}");

    // CARGO_TARGET_DIR moves it, as it moves cargo's.
    let elsewhere = d.join("elsewhere");
    let vars = [("CARGO_TARGET_DIR", elsewhere.as_path())];
    assert_ok(&check_deps(d, &nested, &["my-crate@1.0.0"], &vars));
    assert_eq!(cargo_target_dir(&nested, &vars), elsewhere);
    assert_eq!(cached(&elsewhere.join("check-deps")), 1);
}

#[test]
fn outside_a_workspace_the_cache_is_the_users_cache_folder() {
    let dir = temp_dir("check-deps-cache");
    let d = dir.path();
    let plain = d.join("plain");
    std::fs::create_dir_all(&plain).unwrap();

    let xdg = d.join("xdg");
    assert_ok(&check_deps(d, &plain, &["my-crate@1.0.0"], &[("XDG_CACHE_HOME", xdg.as_path())]));
    assert_eq!(cached(&xdg.join("proofmark/check-deps")), 1);

    assert_ok(&check_deps(d, &plain, &["my-crate@1.0.0"], &[]));
    assert_eq!(cached(&d.join("home/.cache/proofmark/check-deps")), 1);
    assert_eq!(std::fs::read_dir(&plain).unwrap().count(), 0, "nothing in the current folder");

    // With no target named there is nothing to check outside a workspace: say what to do.
    let out = check_deps(d, &plain, &[], &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("is not in a Cargo workspace") && stderr.contains("CRATE[@VERSION]"));
}

#[test]
fn a_target_that_matches_nothing_fails_and_says_what_the_index_has() {
    let dir = temp_dir("check-deps-targets");
    let d = dir.path();
    let failure = |target: &str| {
        let out = check_deps(d, d, &[target], &[]);
        assert_eq!(out.status.code(), Some(2), "a failed run, not a finding: {out:?}");
        assert!(out.stdout.is_empty(), "no report: {}", String::from_utf8_lossy(&out.stdout));
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let registry = d.join("registry").display().to_string();
        stderr.replace(&registry, "REGISTRY")
    };
    expect_test::expect![[r#"
        error: `my-crate@99.0.0` matches no version in local-registry REGISTRY, which has 1.0.0, 2.0.0-rc.1; name one of these versions (`my-crate@VERSION`) or `my-crate` for all
    "#]]
    .assert_eq(&failure("my-crate@99.0.0"));
    expect_test::expect![[r#"
        error: `my_crate@^2` matches no version in local-registry REGISTRY, which has 1.0.0, 2.0.0-rc.1; a requirement matches a pre-release only when it names one: `my-crate@=2.0.0-rc.1`
    "#]]
    .assert_eq(&failure("my_crate@^2"));
    expect_test::expect![[r#"
        error: `my-crates` is not published in local-registry REGISTRY (looked up as crates.io does: case and `-`/`_` ignored); check the name, or pass `--registry NAME` for a crate of an alternate registry
    "#]]
    .assert_eq(&failure("my-crates"));

    // Spelled differently, it is the same crate, as for crates.io.
    let out = check_deps(d, d, &["My_Crate@1.0.0", "--format", "json"], &[]);
    assert_ok(&out);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["findings"][0]["id"], "my-crate@1.0.0", "{report:#}");
}

#[test]
fn features_name_the_sets_to_probe_and_every_finding_says_its_set() {
    let dir = temp_dir("check-deps-features");
    let d = dir.path();
    let out = check_deps(
        d,
        d,
        &["my-crate@1.0.0", "--features", "default,all,none,docsrs,a+b", "--format", "json"],
        &[],
    );
    assert_ok(&out);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ids: Vec<&str> =
        report["findings"].as_array().unwrap().iter().map(|f| f["id"].as_str().unwrap()).collect();
    expect_test::expect![[r#"
        [
            "my-crate@1.0.0 [features: a+b]",
            "my-crate@1.0.0 [features: all]",
            "my-crate@1.0.0 [features: default]",
            "my-crate@1.0.0 [features: docsrs]",
            "my-crate@1.0.0 [features: none]",
        ]
    "#]]
    .assert_debug_eq(&ids);
    assert_eq!(report["findings"][1]["evidence"][0]["features"], "all", "{report:#}");

    let out = check_deps(d, d, &["my-crate@1.0.0", "--features", "default,,all"], &[]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    expect_test::expect![[r#"
        error: invalid feature set ``: expected a comma-separated list of `default`, `all`, `none`, `docsrs` or features joined with `+` (`serde+std`: default features plus those)
    "#]]
    .assert_eq(&String::from_utf8_lossy(&out.stderr));
}

/// Exit statuses: 0 nothing at or above `--fail-on`, 1 findings at or above it (the report is
/// complete), 2 the run failed (no report), clap's usage errors included. The index decides
/// every verdict here: `ex-app` 1.0.0 needs a crate the registry lacks and 1.0.1 is fine (a
/// warning: no registry action), 2.0.0 needs it too and has no successor (an error).
#[test]
fn exit_statuses_tell_findings_from_a_failed_run() {
    let dir = temp_dir("check-deps-exit");
    let d = dir.path();
    let registry = d.join("exit-registry");
    let lib = "pub fn f() {}\n";
    support::local_registry(
        &[
            Pkg::new("ex-app", "1.0.0", T1, lib).dep("ex-gone", "^1"),
            Pkg::new("ex-app", "1.0.1", T1, lib),
            Pkg::new("ex-app", "2.0.0", T1, lib).dep("ex-gone", "^1"),
        ],
        &registry,
    );
    let home = support::cargo_home(&d.join("exit-home"), &format!("local-registry = {registry:?}"));
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_proofmark"))
            .arg("check-deps")
            .args(args)
            .args(["--stage", "index", "-q", "--no-cache", "--format", "json"])
            .current_dir(d)
            .env("CARGO_HOME", &home)
            .env("HOME", d)
            .output()
            .unwrap();
        let severities = serde_json::from_slice::<serde_json::Value>(&out.stdout)
            .map(|r| {
                r["findings"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|f| f["severity"].to_string())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_else(|_| "no report".to_owned());
        (out.status.code(), severities)
    };
    let warning = r#""warning""#;
    let error = r#""error""#;
    assert_eq!(run(&["ex-app@1.0.1"]), (Some(0), r#""ok""#.to_owned()));
    assert_eq!(run(&["ex-app@1.0.0"]), (Some(1), warning.to_owned()), "warnings fail by default");
    assert_eq!(run(&["ex-app@1.0.0", "--fail-on", "error"]), (Some(0), warning.to_owned()));
    assert_eq!(run(&["ex-app@2.0.0", "--fail-on", "error"]), (Some(1), error.to_owned()));
    assert_eq!(run(&["ex-app@3.0.0"]), (Some(2), "no report".to_owned()), "no such version");
    assert_eq!(run(&["ex-app", "--fail-on", "never"]), (Some(2), "no report".to_owned()));
}
