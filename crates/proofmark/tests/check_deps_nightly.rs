//! The nightly path of `proofmark check-deps` end to end against fixture registries (a
//! local-registry folder, compile stage, no network):
//! * `--baseline`: a run, then a new breaking release of a dependency, then a run with the
//!   first run's report as baseline shows the new error first and exits 1 (findings), also
//!   with `--fail-on error`; a baseline that is not a report fails the run (exit 2) before any
//!   probe, naming the file.
//! * `.github/workflows/check-deps.yml`, read by an independent YAML parser (python3's PyYAML):
//!   its shard step runs once per matrix entry and its merge step merges their reports, both
//!   as the workflow writes them (through a `cargo xtask` shim); the merged report must equal an
//!   unsharded run's, and every `check-deps` call of the workflow is in a step run here.

#![allow(clippy::unwrap_used, reason = "helpers of tests: a panic is the failure report")]

#[path = "../../proofmark-deps/tests/support/mod.rs"]
mod support;

use std::path::Path;
use std::process::{Command, Output};

use proofmark_test_support::temp_dir;
use support::Pkg;

const T1: &str = "2024-01-01T00:00:00Z";
const T2: &str = "2024-02-01T00:00:00Z";
const T3: &str = "2024-03-01T00:00:00Z";

/// `proofmark ARGS` in `cwd` with the fixture `CARGO_HOME` and `HOME` under `dir`, plus `vars`.
fn proofmark(dir: &Path, cwd: &Path, args: &[&str], vars: &[(&str, &Path)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_proofmark"));
    cmd.args(args).current_dir(cwd);
    environment(&mut cmd, dir, vars);
    cmd.output().unwrap()
}

fn environment(cmd: &mut Command, dir: &Path, vars: &[(&str, &Path)]) {
    let home = dir.join("home");
    std::fs::create_dir_all(&home).unwrap();
    cmd.env("CARGO_HOME", dir.join("cargo-home"))
        .env("HOME", &home)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET_DIR")
        .env_remove("XDG_CACHE_HOME");
    for (key, value) in vars {
        cmd.env(key, value);
    }
}

/// Writes the local registry `dir/registry` with `pkgs` (again: publishing is rewriting it) and
/// the `CARGO_HOME` that replaces crates.io with it.
fn publish(dir: &Path, pkgs: &[Pkg]) {
    let registry = dir.join("registry");
    support::local_registry(pkgs, &registry);
    support::cargo_home(&dir.join("cargo-home"), &format!("local-registry = {registry:?}"));
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_new_breaking_release_since_the_baseline_is_a_new_error() {
    let dir = temp_dir("check-deps-baseline");
    let d = dir.path();
    let mut pkgs = vec![
        Pkg::new("nd-lib", "1.0.0", T1, "pub fn f() -> u32 { 1 }\n"),
        Pkg::new("nd-app", "1.0.0", T2, "pub fn g() -> u32 { nd_lib::f() }\n").dep("nd-lib", "^1"),
    ];
    publish(d, &pkgs);
    let db = d.join("advisory-db");
    std::fs::create_dir_all(db.join("crates")).unwrap();
    let db_arg = db.to_str().unwrap();
    let check = ["check-deps", "nd-app", "-q", "--advisory-db", db_arg];

    let out = proofmark(
        d,
        d,
        &[&check[..], &["--format", "json", "--output", "base.json"]].concat(),
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));

    // Not a report: named, and refused before any probe runs.
    std::fs::write(d.join("notes.txt"), "hello").unwrap();
    let out = proofmark(d, d, &[&check[..], &["--baseline", "notes.txt"]].concat(), &[]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "a failed run: {stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(stderr.contains("`notes.txt` is not a check-deps JSON report"), "{stderr}");

    // nd-lib 1.1.0, allowed by nd-app's `^1`, changes f's return type.
    pkgs.push(Pkg::new("nd-lib", "1.1.0", T3, "pub fn f() -> u64 { 1 }\n"));
    publish(d, &pkgs);
    let out = proofmark(
        d,
        d,
        &[&check[..], &["--baseline", "base.json", "--format", "markdown"]].concat(),
        &[],
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "a new error: {stdout}\n{stderr}");
    let diff = stdout.split("\n## check-deps\n").next().unwrap();
    expect_test::expect![[r#"
        ## check-deps: changes since `base.json`

        **1 new problem, 0 new and fine, 0 changed, 0 fixed, 1 gone, 0 unchanged**

        | change | target | before | after |
        |---|---|---|---|
        | **new** | `nd-app@1.x` | — | error own-code, no-yank (R9-dead-line), culprit nd-lib 1.0.0 -> 1.1.0 |
        | gone | `nd-app@1.0.0` | ok builds, none (R-ok) | in `nd-app@1.x` |
    "#]]
    .assert_eq(diff);
    assert!(stdout.contains("| nd-app@1.x | error | own-code |"), "the report follows: {stdout}");

    // Tomorrow nothing changed: the same report as its own baseline (through `merge`) is 0.
    let out =
        proofmark(d, d, &[&check[..], &["--format", "json", "--output", "now.json"]].concat(), &[]);
    assert_eq!(out.status.code(), Some(1), "{:?}", text(&out));
    // The gate the workflow uses: an error new since the baseline fails `--fail-on error`.
    let merge = ["check-deps", "merge", "now.json", "--format", "json", "--fail-on", "error"];
    let out = proofmark(d, d, &[&merge[..], &["--baseline", "base.json"]].concat(), &[]);
    assert_eq!(out.status.code(), Some(1), "{:?}", text(&out));
    let out = proofmark(
        d,
        d,
        &["check-deps", "merge", "now.json", "--baseline", "now.json", "--format", "markdown"],
        &[],
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains(
            "**0 new problems, 0 new and fine, 0 changed, 0 fixed, 0 gone, 1 unchanged**"
        ),
        "{stdout}"
    );
}

/// The workflow as JSON, parsed by PyYAML; `None` (a skip, a failure under CI) without it.
fn workflow() -> Option<serde_json::Value> {
    let python = proofmark_test_support::require_tool("python3", "python3-yaml")?;
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.github/workflows/check-deps.yml");
    let out = Command::new(python)
        .args([
            "-c",
            "import json, sys, yaml; json.dump(yaml.safe_load(open(sys.argv[1])), sys.stdout)",
        ])
        .arg(&path)
        .output()
        .unwrap();
    if !out.status.success() && String::from_utf8_lossy(&out.stderr).contains("No module named") {
        return proofmark_test_support::missing("python3's yaml module", "python3-yaml");
    }
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    Some(serde_json::from_slice(&out.stdout).unwrap())
}

/// The step `id` of `job`: its script and its `env` with the matrix expressions resolved.
fn step(
    wf: &serde_json::Value,
    job: &str,
    id: &str,
    shard: Option<(u64, usize)>,
) -> (String, Vec<(String, String)>) {
    let steps = wf["jobs"][job]["steps"].as_array().unwrap();
    let step =
        steps.iter().find(|s| s["id"] == id).unwrap_or_else(|| panic!("no step {id} in {job}"));
    let mut env = Vec::new();
    for (key, value) in step["env"].as_object().into_iter().flatten() {
        let mut value = value.as_str().map_or_else(|| value.to_string(), str::to_owned);
        if let Some((index, count)) = shard {
            value = value.replace("${{ matrix.shard }}", &index.to_string());
            value = value.replace("${{ strategy.job-total }}", &count.to_string());
        }
        assert!(
            !value.contains("${{"),
            "step {id}: {key} = {value} has an expression this test does not know"
        );
        env.push((key.clone(), value));
    }
    let script = step["run"].as_str().unwrap().to_owned();
    assert!(!script.contains("${{"), "step {id} must read expressions through its env: {script}");
    (script, env)
}

/// Runs a step's script as GitHub does (`bash -eo pipefail`) in `cwd`, with `cargo xtask
/// check-deps` going to this build's proofmark (anything else from cargo fails).
fn run_step(
    dir: &Path,
    cwd: &Path,
    script: &str,
    env: &[(String, String)],
    vars: &[(&str, &Path)],
) -> Output {
    let shim = "cargo() {\n  if [ \"$1\" = xtask ] && [ \"$2\" = check-deps ]; then shift 2; \"$PROOFMARK\" check-deps \"$@\"; return; fi\n  echo \"the step runs cargo $*, unknown to this test\" >&2; return 99\n}\n";
    let mut cmd = Command::new("bash");
    cmd.args(["--noprofile", "--norc", "-eo", "pipefail", "-c"])
        .arg(format!("{shim}{script}"))
        .current_dir(cwd)
        .env("PROOFMARK", env!("CARGO_BIN_EXE_proofmark"));
    environment(&mut cmd, dir, vars);
    for (key, value) in env {
        cmd.env(key, value);
    }
    cmd.output().unwrap()
}

/// A report's JSON with the probes' wall times zeroed (the only field two runs may differ in).
fn normalized(path: &Path) -> serde_json::Value {
    fn zero(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(map) => {
                for (key, value) in map.iter_mut() {
                    if key == "millis" {
                        *value = 0.into();
                    } else {
                        zero(value);
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(zero),
            _ => {}
        }
    }
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    zero(&mut v);
    v
}

#[test]
fn the_workflows_shards_merge_into_the_unsharded_report() {
    let Some(wf) = workflow() else { return };
    // Every check-deps call of the workflow is in a step this test runs.
    for (job, value) in wf["jobs"].as_object().unwrap() {
        for s in value["steps"].as_array().unwrap() {
            let calls = s["run"].as_str().is_some_and(|r| {
                r.contains("xtask check-deps") || r.contains("proofmark check-deps")
            });
            let tested = [("shard", "check"), ("merge", "merge")]
                .contains(&(job.as_str(), s["id"].as_str().unwrap_or("")));
            assert!(
                !calls || tested,
                "job {job} calls check-deps in a step this test does not run: {s}"
            );
        }
    }
    let shards: Vec<u64> = wf["jobs"]["shard"]["strategy"]["matrix"]["shard"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert!(shards.len() >= 2, "{shards:?}");
    let download =
        wf["jobs"]["merge"]["steps"].as_array().unwrap().iter().find(|s| {
            s["uses"].as_str().is_some_and(|u| u.starts_with("actions/download-artifact"))
        });
    assert_eq!(download.unwrap()["with"]["path"], "shards", "the merge step reads shards/*.json");

    let dir = temp_dir("check-deps-workflow");
    let d = dir.path();
    // Two crates over four semver lines (one of them dead, with two versions: split apart, the
    // shards would each report it), behind a shared dependency.
    publish(
        d,
        &[
            Pkg::new("wf-dep", "1.0.0", T1, "pub fn f() -> u32 { 1 }\n"),
            Pkg::new("wf-a", "1.0.0", T2, "pub fn g() -> u32 { wf_dep::f() }\n")
                .dep("wf-dep", "^1"),
            Pkg::new("wf-a", "1.0.1", T2, "pub fn g() -> u32 { wf_dep::f() }\n")
                .dep("wf-dep", "^1"),
            Pkg::new("wf-a", "2.0.0", T3, "pub fn g() {}\n"),
            Pkg::new("wf-b", "0.1.0", T1, "pub fn h() {}\n"),
            Pkg::new("wf-b", "0.2.0", T2, "pub fn h() -> u8 { \"x\" }\n"),
            Pkg::new("wf-b", "0.2.1", T3, "pub fn h() -> u8 { \"y\" }\n"),
        ],
    );
    // The workspace the workflow checks: its publishable members are the registry's crates.
    let ws = d.join("ws");
    for member in ["wf-a", "wf-b"] {
        std::fs::create_dir_all(ws.join(member).join("src")).unwrap();
        std::fs::write(
            ws.join(member).join("Cargo.toml"),
            format!("[package]\nname = \"{member}\"\nversion = \"9.0.0\"\nedition = \"2021\"\n"),
        )
        .unwrap();
        std::fs::write(ws.join(member).join("src/lib.rs"), "").unwrap();
    }
    std::fs::write(
        ws.join("Cargo.toml"),
        "[workspace]\nmembers = [\"wf-a\", \"wf-b\"]\nresolver = \"2\"\n",
    )
    .unwrap();
    let runner_temp = d.join("runner-temp");
    std::fs::create_dir_all(runner_temp.join("advisory-db/crates")).unwrap();
    let outputs = d.join("github-output");
    let summary = d.join("step-summary");

    // Each shard on its own "machine": its own target folder, so its own cache.
    for &index in &shards {
        let (script, env) = step(&wf, "shard", "check", Some((index, shards.len())));
        let target = d.join(format!("runner-{index}"));
        let vars = [("RUNNER_TEMP", runner_temp.as_path()), ("CARGO_TARGET_DIR", target.as_path())];
        let out = run_step(d, &ws, &script, &env, &vars);
        assert!(out.status.success(), "shard {index}: {:?}", text(&out));
        std::fs::create_dir_all(ws.join("shards")).unwrap();
        let name = format!("shard-{index}.json");
        std::fs::rename(ws.join(&name), ws.join("shards").join(&name)).unwrap();
    }
    // The unsharded run, the judge, with the same options on a machine of its own.
    let whole = d.join("runner-whole");
    let db = runner_temp.join("advisory-db");
    let out = proofmark(
        d,
        &ws,
        &[
            "check-deps",
            "--advisory-db",
            db.to_str().unwrap(),
            "--format",
            "json",
            "--output",
            "whole.json",
        ],
        &[("CARGO_TARGET_DIR", whole.as_path())],
    );
    assert_eq!(out.status.code(), Some(1), "wf-b 0.2.x is dead: {:?}", text(&out));
    // Yesterday's report is today's unsharded one: nothing is new.
    std::fs::create_dir_all(ws.join("baseline")).unwrap();
    std::fs::copy(ws.join("whole.json"), ws.join("baseline/report.json")).unwrap();

    let (script, env) = step(&wf, "merge", "merge", None);
    let vars = [("GITHUB_OUTPUT", outputs.as_path()), ("GITHUB_STEP_SUMMARY", summary.as_path())];
    let out = run_step(d, &ws, &script, &env, &vars);
    assert!(out.status.success(), "merge: {:?}", text(&out));
    let merged = normalized(&ws.join("out/report.json"));
    let unsharded = normalized(&ws.join("whole.json"));
    assert_eq!(merged, unsharded, "the merged shards are the unsharded report");
    let ids: Vec<&str> =
        merged["findings"].as_array().unwrap().iter().map(|f| f["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["wf-a@1.0.0", "wf-a@1.0.1", "wf-a@2.0.0", "wf-b@0.1.0", "wf-b@0.2.x"]);
    let each: Vec<serde_json::Value> =
        shards.iter().map(|i| normalized(&ws.join(format!("shards/shard-{i}.json")))).collect();
    assert!(
        each.iter().all(|s| s["findings"].as_array().unwrap().len() < ids.len()),
        "every shard has a part"
    );
    assert_eq!(
        std::fs::read_to_string(&outputs).unwrap(),
        "status=0\n",
        "nothing new since the baseline"
    );
    let summary = std::fs::read_to_string(&summary).unwrap();
    assert!(
        summary.starts_with("## check-deps: changes since `baseline/report.json`"),
        "{summary}"
    );
    assert!(
        summary.contains(
            "**0 new problems, 0 new and fine, 0 changed, 0 fixed, 0 gone, 5 unchanged**"
        ),
        "{summary}"
    );
    assert_eq!(normalized(&ws.join("baseline/report.json")), merged, "tomorrow's baseline");

    // A lost shard fails the merge step, before any summary: it never reads as "fixed".
    std::fs::remove_file(ws.join(format!("shards/shard-{}.json", shards[0]))).unwrap();
    std::fs::remove_dir_all(ws.join("out")).unwrap();
    let out = run_step(d, &ws, &script, &env, &vars);
    let (_, stderr) = text(&out);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("missing: pass every shard's report"), "{stderr}");
    assert!(!ws.join("out/summary.md").exists(), "no summary from a partial run");
}
