//! End-to-end tests on real repositories built with the `git` CLI.
//!
//! Each test scripts a small Cargo workspace and its history (several crates, a merge, legacy
//! tags `1.0.0` / `beta-0.3.0` / `alpha-v1.0.0`, non-conventional and breaking commits, a
//! `Crate:` trailer, commits touching only root files) with fixed dates and identities and no
//! global or system git configuration, so commit ids and therefore snapshots are stable.
//! git is the judge of attribution: for every walked commit, a crate counts as touched iff
//! `git diff-tree` against the first parent lists a path in its folder.

use std::path::{Path, PathBuf};

use expect_test::expect;
use proofmark_release::history::{Repo, WalkCrate};
use proofmark_release::{Date, PlanOptions, Workspace, plan::plan};

fn manifest(name: &str, version: &str, extra: &str) -> String {
    format!(
        "[package]\nname = \"{name}\"\n{version}\nedition = \"2021\"\nlicense = \"MIT\"\n\
         description = \"{name}\"\n{extra}"
    )
}

/// Builds the scripted workspace and history; returns the repository and the ids by label.
fn scripted(git: PathBuf, dir: &Path) -> (Scripted, Vec<(&'static str, String)>) {
    let mut repo = Scripted::init(&git, dir);
    let mut ids = Vec::new();
    repo.write(
        "Cargo.toml",
        "[workspace]\nresolver = \"2\"\nmembers = [\"crates/*\", \"tools\"]\n\n\
         [workspace.package]\nversion = \"0.3.0\"\n\n\
         [workspace.dependencies]\nalpha = { path = \"crates/alpha\", version = \"1.0.0\" }\n",
    );
    repo.write("README.md", "# demo\n");
    repo.write("crates/alpha/Cargo.toml", &manifest("alpha", "version = \"1.0.0\"", ""));
    repo.write("crates/alpha/src/lib.rs", "//! alpha\n");
    repo.write(
        "crates/beta/Cargo.toml",
        &manifest("beta", "version.workspace = true", "\n[dependencies]\nalpha.workspace = true\n"),
    );
    repo.write("crates/beta/src/lib.rs", "//! beta\n");
    repo.write(
        "crates/gamma/Cargo.toml",
        &manifest(
            "gamma",
            "version = \"1.0.0\"",
            "\n[dependencies]\nbeta = { path = \"../beta\", version = \"0.3\" }\n",
        ),
    );
    repo.write("crates/gamma/src/lib.rs", "//! gamma\n");
    repo.write(
        "tools/Cargo.toml",
        &manifest(
            "tools",
            "version = \"0.0.0\"",
            "publish = false\n\n[dependencies]\nalpha.workspace = true\n",
        ),
    );
    repo.write("tools/src/lib.rs", "//! tools\n");
    ids.push(("c1", repo.commit("build: initial workspace")));
    repo.run(&["tag", "1.0.0"]);
    repo.write("crates/alpha/src/lib.rs", "//! alpha, documented\n");
    repo.write("crates/beta/src/lib.rs", "//! beta, documented\n");
    ids.push(("c2", repo.commit("docs: document alpha and beta")));
    repo.run(&["tag", "-a", "-m", "alpha 1.0.0", "alpha-v1.0.0"]);
    repo.run(&["tag", "beta-0.3.0"]);
    // A changelog a person started by hand: the new section goes below Unreleased.
    repo.write(
        "crates/alpha/CHANGELOG.md",
        "# Changelog\n\n## [Unreleased]\n\n## [1.0.0] - 2025-12-01\n\n- first\n",
    );
    repo.write("crates/alpha/src/lib.rs", "//! alpha\npub fn parse() {}\n");
    ids.push((
        "c3",
        repo.commit(
            "feat(alpha): new parser API\n\nBREAKING CHANGE: parse() takes no input\nRefs: #1",
        ),
    ));
    repo.write("README.md", "# demo\n\nMore words.\n");
    ids.push(("c4", repo.commit("Update the README")));
    repo.run(&["checkout", "-q", "-b", "topic"]);
    repo.write("crates/beta/src/lib.rs", "//! beta\npub fn empty() {}\n");
    ids.push(("c5", repo.commit("fix: handle empty input")));
    repo.write("crates/delta/Cargo.toml", &manifest("delta", "version = \"0.1.0\"", ""));
    repo.write("crates/delta/src/lib.rs", "//! delta\n");
    ids.push(("c6", repo.commit("feat: add the delta crate")));
    repo.run(&["checkout", "-q", "main"]);
    repo.write("crates/gamma/src/lib.rs", "//! gamma, tidied\n");
    ids.push(("c7", repo.commit("docs: tidy gamma")));
    repo.step(&["merge", "-q", "--no-ff", "-m", "Merge branch 'topic'", "topic"]);
    ids.push(("c8", repo.rev_parse("HEAD")));
    repo.write("tools/src/lib.rs", "//! tools, shared\n");
    ids.push(("c9", repo.commit("Share helpers with gamma\n\nCrate: gamma")));
    repo.write(".ci/run", "cargo test\n");
    ids.push(("c10", repo.commit("chore: run the tests in CI")));
    repo.write("crates/alpha/src/lib.rs", "//! alpha\npub fn parse() {}\npub fn tokens() {}\n");
    ids.push(("c11", repo.commit("feat(beta): expose tokens through alpha")));
    (repo, ids)
}

fn label(ids: &[(&'static str, String)], id: &str) -> String {
    ids.iter()
        .find(|(_, full)| full == id)
        .map_or_else(|| id[..7].to_owned(), |(l, _)| (*l).to_owned())
}

fn options() -> PlanOptions {
    PlanOptions::new(Date::new(2026, 11, 28).unwrap_or_else(|| panic!("date")))
}

#[test]
fn walk_attribution_matches_git() {
    let Some(git) = proofmark_test_support::require_tool("git", "git") else { return };
    let temp = proofmark_test_support::temp_dir("release-walk");
    let (repo, ids) = scripted(git, temp.path());
    let crates: [(&str, &str, Vec<&str>); 5] = [
        ("alpha", "crates/alpha", vec!["alpha-v1.0.0"]),
        ("beta", "crates/beta", vec!["beta-0.3.0"]),
        ("gamma", "crates/gamma", vec!["1.0.0"]),
        ("delta", "crates/delta", vec![]),
        // Released on the topic branch (c5) before the merge, and at the root commit.
        ("beta-topic", "crates/beta", vec![ids[4].1.as_str(), ids[0].1.as_str()]),
    ];
    let walk_crates: Vec<WalkCrate> = crates
        .iter()
        .map(|(_, dir, tags)| WalkCrate {
            dir: (*dir).to_owned(),
            released_at: tags.iter().map(|t| repo.rev_parse(&format!("{t}^{{commit}}"))).collect(),
            exclude: Vec::new(),
        })
        .collect();
    let opened = Repo::open(temp.path()).unwrap_or_else(|e| panic!("{e}"));
    let walk = opened.walk(&walk_crates).unwrap_or_else(|e| panic!("{e}"));
    for (index, (name, dir, tags)) in crates.iter().enumerate() {
        // Judge: `git rev-list HEAD ^tag...`, each commit diffed against its first parent.
        let mut args = vec!["rev-list".to_owned(), "HEAD".to_owned()];
        args.extend(tags.iter().map(|t| format!("^{t}")));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let range: Vec<String> = repo.run(&args).lines().map(str::to_owned).collect();
        let mut expected: Vec<String> = Vec::new();
        for commit in &range {
            let parents = repo.run(&["rev-list", "--parents", "-n1", commit]);
            let first_parent = parents.split_whitespace().nth(1).map(str::to_owned);
            let diff = match &first_parent {
                Some(parent) => {
                    repo.run(&["diff-tree", "-r", "--name-only", parent, commit, "--", dir])
                }
                None => repo.run(&[
                    "diff-tree",
                    "--root",
                    "-r",
                    "--name-only",
                    "--no-commit-id",
                    commit,
                    "--",
                    dir,
                ]),
            };
            if !diff.trim().is_empty() {
                expected.push(label(&ids, commit));
            }
        }
        let unreleased: Vec<String> = walk
            .commits
            .iter()
            .filter(|c| c.unreleased.contains(&index))
            .map(|c| label(&ids, &c.id))
            .collect();
        let got: Vec<String> = walk
            .commits
            .iter()
            .filter(|c| c.touched.contains(&index))
            .map(|c| label(&ids, &c.id))
            .collect();
        let range_labels: Vec<String> = range.iter().map(|c| label(&ids, c)).collect();
        assert_eq!(unreleased, range_labels, "{name}: unreleased range");
        assert_eq!(got, expected, "{name}: touched commits");
    }
    // delta was never tagged, so the walk reads the whole history: all 11 commits.
    assert_eq!(walk.visited, 11);
    assert!(!walk.truncated);
}

#[test]
fn walk_stops_at_the_tags() {
    let Some(git) = proofmark_test_support::require_tool("git", "git") else { return };
    let temp = proofmark_test_support::temp_dir("release-bounded");
    let (repo, ids) = scripted(git, temp.path());
    repo.run(&["tag", "alpha-v2.0.0", ids[8].1.as_str()]);
    let walk_crates = vec![WalkCrate {
        dir: "crates/alpha".to_owned(),
        released_at: vec![repo.rev_parse("alpha-v2.0.0^{commit}")],
        exclude: Vec::new(),
    }];
    let opened = Repo::open(temp.path()).unwrap_or_else(|e| panic!("{e}"));
    let walk = opened.walk(&walk_crates).unwrap_or_else(|e| panic!("{e}"));
    let labels: Vec<String> = walk.commits.iter().map(|c| label(&ids, &c.id)).collect();
    assert_eq!(labels, ["c11", "c10"]);
    // Only HEAD and c10 are processed: once the tagged c9 is all that is queued, the walk ends.
    assert_eq!(walk.visited, 2);
}

/// The plan as text, with the temporary path replaced.
fn human(plan: &proofmark_release::ReleasePlan, root: &Path) -> String {
    plan.to_human().replace(&root.display().to_string(), "<root>")
}

fn load(root: &Path) -> (Workspace, Repo) {
    let workspace = Workspace::load(root).unwrap_or_else(|e| panic!("{e}"));
    let repo = Repo::open(&workspace.root).unwrap_or_else(|e| panic!("{e}"));
    (workspace, repo)
}

#[test]
fn plan_of_the_scripted_history() {
    let Some(git) = proofmark_test_support::require_tool("git", "git") else { return };
    let temp = proofmark_test_support::temp_dir("release-plan");
    let (_repo, _ids) = scripted(git, temp.path());
    let root = temp.path().canonicalize().unwrap_or_else(|e| panic!("{e}"));
    let (workspace, repo) = load(&root);
    let plan = plan(&workspace, &repo, &options()).unwrap_or_else(|e| panic!("{e}"));
    expect![[r#"
        Release plan (dry run) for <root>
        date 2026-11-28, HEAD 9ea1cf9d7444, tag scheme of each crate's newest tag ({crate}-v{version} without one), 11 commit(s) read, 11 unreleased

        level  crate  current             next   bump   tag           commits  reason
        0      alpha  1.0.0               2.0.0  major  alpha-v2.0.0  2        1 breaking change(s)
        0      delta  0.1.0 (unreleased)  0.1.0  -      delta-v0.1.0  2        first release (no release tag)
        1      beta   0.3.0               0.3.1  patch  beta-0.3.1    3        1 feature(s); patch below 1.0.0
        2      gamma  1.0.0               1.0.1  patch  1.0.1         2        2 commit(s), no feature or breaking change

        == alpha 1.0.0 → 2.0.0 (tag alpha-v2.0.0) ==
        files:
          crates/alpha/Cargo.toml: [package] version `1.0.0` → `2.0.0`
          Cargo.toml: [workspace.dependencies] alpha: requirement `^1.0.0` → `2.0.0`
          crates/alpha/CHANGELOG.md: insert the 2.0.0 section
        commits:
          9ea1cf9 feat(beta): expose tokens through alpha (via path)
          4e4d238 feat(alpha): new parser API (via path+scope)
        changelog (crates/alpha/CHANGELOG.md):
          ## [2.0.0] - 2026-11-28

          ### Added

          - **beta**: expose tokens through alpha (9ea1cf9)
          - **BREAKING**: new parser API (4e4d238)
            parse() takes no input

        == delta 0.1.0 → 0.1.0 (tag delta-v0.1.0) ==
        files:
          crates/delta/CHANGELOG.md: create, with the 0.1.0 section
        commits:
          78d2dcc Merge branch 'topic' [non-conventional] (via path)
          10d64c9 feat: add the delta crate (via path)
        changelog (crates/delta/CHANGELOG.md):
          ## [0.1.0] - 2026-11-28

          ### Added

          - add the delta crate (10d64c9)

        == beta 0.3.0 → 0.3.1 (tag beta-0.3.1) ==
        files:
          Cargo.toml: [workspace.package] version `0.3.0` → `0.3.1`
          crates/beta/CHANGELOG.md: create, with the 0.3.1 section
        commits:
          9ea1cf9 feat(beta): expose tokens through alpha (via scope)
          78d2dcc Merge branch 'topic' [non-conventional] (via path)
          0a20347 fix: handle empty input (via path)
        changelog (crates/beta/CHANGELOG.md):
          ## [0.3.1] - 2026-11-28

          ### Added

          - expose tokens through alpha (9ea1cf9)

          ### Fixed

          - handle empty input (0a20347)

        == gamma 1.0.0 → 1.0.1 (tag 1.0.1) ==
        files:
          crates/gamma/Cargo.toml: [package] version `1.0.0` → `1.0.1`
          crates/gamma/CHANGELOG.md: create, with the 1.0.1 section
        commits:
          6712cc0 Share helpers with gamma [non-conventional] (via trailer)
          4b8bbd5 docs: tidy gamma (via path)
        changelog (crates/gamma/CHANGELOG.md):
          ## [1.0.1] - 2026-11-28

          ### Changed

          - Share helpers with gamma (6712cc0)
          - tidy gamma (4b8bbd5)

        Commits not attributed to any published crate (2):
          8c4e5d4 chore: run the tests in CI [.ci/run]
          47521ea Update the README [README.md]

        Warnings:
          - alpha: release tags mix schemes (X.Y.Z ×1, name-vX.Y.Z ×1); new tags follow the newest, alpha-v1.0.0 (name-vX.Y.Z)
          - 1 released commit(s) (merges not counted) do not follow Conventional Commits: they are listed under Changed and bump patch
    "#]].assert_eq(&human(&plan, &root));
}

#[test]
fn plan_with_overrides_selection_and_json() {
    let Some(git) = proofmark_test_support::require_tool("git", "git") else { return };
    let temp = proofmark_test_support::temp_dir("release-overrides");
    let (_repo, _ids) = scripted(git, temp.path());
    let root = temp.path().canonicalize().unwrap_or_else(|e| panic!("{e}"));
    let (workspace, repo) = load(&root);
    let mut options = options();
    options.only = vec!["beta".to_owned(), "gamma".to_owned()];
    options.overrides = vec![
        "beta=minor".parse().unwrap_or_else(|e| panic!("{e}")),
        "gamma=3.0.0-rc.1".parse().unwrap_or_else(|e| panic!("{e}")),
    ];
    let plan = plan(&workspace, &repo, &options).unwrap_or_else(|e| panic!("{e}"));
    let summary: Vec<String> = plan
        .releases
        .iter()
        .map(|r| {
            format!(
                "{} {} -> {} [{}] {}",
                r.name, r.current_version, r.next_version, r.tag, r.reason
            )
        })
        .collect();
    expect![[r#"
        beta 0.3.0 -> 0.4.0 [beta-0.4.0] override: minor bump
        gamma 1.0.0 -> 3.0.0-rc.1 [3.0.0-rc.1] override: version 3.0.0-rc.1"#]]
    .assert_eq(&summary.join("\n"));
    let json: serde_json::Value =
        serde_json::from_str(&plan.to_json()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(json["releases"][0]["name"], "beta");
    assert_eq!(json["releases"][0]["next_version"], "0.4.0");
    assert_eq!(json["date"], "2026-11-28");
    let unchanged: Vec<&str> = plan.unchanged.iter().map(|u| u.reason.as_str()).collect();
    expect![[r#"
        not selected (would be 2.0.0)
        not selected (would be 0.1.0)"#]]
    .assert_eq(&unchanged.join("\n"));
}

#[test]
fn plan_errors_are_typed() {
    let Some(git) = proofmark_test_support::require_tool("git", "git") else { return };
    let temp = proofmark_test_support::temp_dir("release-errors");
    let (_repo, _ids) = scripted(git, temp.path());
    let root = temp.path().canonicalize().unwrap_or_else(|e| panic!("{e}"));
    let (workspace, repo) = load(&root);
    let mut unknown = options();
    unknown.only = vec!["tools".to_owned()];
    match plan(&workspace, &repo, &unknown) {
        Err(proofmark_release::Error::UnknownCrate { name, known }) => {
            assert_eq!(name, "tools");
            assert_eq!(known, ["alpha", "beta", "delta", "gamma"]);
        }
        other => panic!("unexpected {other:?}"),
    }
    let mut backwards = options();
    backwards.overrides = vec!["alpha=0.9.0".parse().unwrap_or_else(|e| panic!("{e}"))];
    match plan(&workspace, &repo, &backwards) {
        Err(proofmark_release::Error::OverrideNotGreater { name, .. }) => assert_eq!(name, "alpha"),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn repository_without_commits() {
    let Some(git) = proofmark_test_support::require_tool("git", "git") else { return };
    let temp = proofmark_test_support::temp_dir("release-empty");
    let repo = Scripted::init(&git, temp.path());
    repo.write("Cargo.toml", &manifest("solo", "version = \"0.1.0\"", ""));
    repo.write("src/lib.rs", "//! solo\n");
    let root = temp.path().canonicalize().unwrap_or_else(|e| panic!("{e}"));
    let (workspace, opened) = load(&root);
    let plan = plan(&workspace, &opened, &options()).unwrap_or_else(|e| panic!("{e}"));
    expect![[r#"
        Release plan (dry run) for <root>
        date 2026-11-28, HEAD no commits, tag scheme of each crate's newest tag (v{version} without one), 0 commit(s) read, 0 unreleased

        level  crate  current             next   bump  tag     commits  reason
        0      solo   0.1.0 (unreleased)  0.1.0  -     v0.1.0  0        first release (no release tag)

        == solo 0.1.0 → 0.1.0 (tag v0.1.0) ==
        files:
          CHANGELOG.md: create, with the 0.1.0 section
        changelog (CHANGELOG.md):
          ## [0.1.0] - 2026-11-28

          First release.
    "#]].assert_eq(&human(&plan, &root));
}

#[test]
fn dependents_follow_and_existing_sections_are_merged() {
    let Some(git) = proofmark_test_support::require_tool("git", "git") else { return };
    let temp = proofmark_test_support::temp_dir("release-dependents");
    let (repo, _ids) = scripted(git, temp.path());
    // gamma was just released, so only beta's new requirement can make it release again.
    repo.run(&["tag", "gamma-v1.0.1"]);
    repo.write(
        "crates/beta/CHANGELOG.md",
        "# Changelog\n\n## [0.4.0] - 2026-11-01\n\n### Fixed\n\n- Handle empty input, reworded by hand (0a20347)\n",
    );
    let root = temp.path().canonicalize().unwrap_or_else(|e| panic!("{e}"));
    let (workspace, opened) = load(&root);
    let mut options = options();
    options.overrides = vec!["beta=minor".parse().unwrap_or_else(|e| panic!("{e}"))];
    let plan = plan(&workspace, &opened, &options).unwrap_or_else(|e| panic!("{e}"));
    let lines: Vec<String> = plan
        .releases
        .iter()
        .flat_map(|r| {
            std::iter::once(format!(
                "{} {} -> {}: {}",
                r.name, r.current_version, r.next_version, r.reason
            ))
            .chain(r.files.iter().map(|f| format!("  {}: {}", f.path, f.change)))
        })
        .collect();
    expect![[r#"
        alpha 1.0.0 -> 2.0.0: 1 breaking change(s)
          crates/alpha/Cargo.toml: [package] version `1.0.0` → `2.0.0`
          Cargo.toml: [workspace.dependencies] alpha: requirement `^1.0.0` → `2.0.0`
          crates/alpha/CHANGELOG.md: insert the 2.0.0 section
        delta 0.1.0 -> 0.1.0: first release (no release tag)
          crates/delta/CHANGELOG.md: create, with the 0.1.0 section
        beta 0.3.0 -> 0.4.0: override: minor bump
          Cargo.toml: [workspace.package] version `0.3.0` → `0.4.0`
          crates/gamma/Cargo.toml: [dependencies] beta: requirement `^0.3` → `0.4.0`
          crates/beta/CHANGELOG.md: merge new entries into the existing 0.4.0 section
        gamma 1.0.0 -> 1.0.2: its requirement on beta is updated
          crates/gamma/Cargo.toml: [package] version `1.0.0` → `1.0.2`
          crates/gamma/CHANGELOG.md: create, with the 1.0.2 section"#]]
    .assert_eq(&lines.join("\n"));
    expect![[r#"
        alpha: release tags mix schemes (X.Y.Z ×1, name-vX.Y.Z ×1); new tags follow the newest, alpha-v1.0.0 (name-vX.Y.Z)
        gamma: release tags mix schemes (X.Y.Z ×1, name-vX.Y.Z ×1); new tags follow the newest, gamma-v1.0.1 (name-vX.Y.Z)
        gamma: the manifest says 1.0.0 but tag gamma-v1.0.1 released 1.0.1"#]]
        .assert_eq(&plan.warnings.join("\n"));
}

#[test]
fn single_crate_with_legacy_tags() {
    let Some(git) = proofmark_test_support::require_tool("git", "git") else { return };
    let temp = proofmark_test_support::temp_dir("release-single");
    let mut repo = Scripted::init(&git, temp.path());
    repo.write("Cargo.toml", &manifest("solo", "version = \"0.9.0\"", ""));
    repo.write("src/lib.rs", "//! solo\n");
    repo.commit("initial");
    repo.run(&["tag", "0.8.0"]);
    repo.write("src/lib.rs", "//! solo 0.9\n");
    repo.commit("fix: something");
    repo.run(&["tag", "v0.9.0"]);
    repo.write("src/lib.rs", "//! solo, more\n");
    repo.commit("feat!: rework everything\n\nBREAKING-CHANGE: all of it");
    repo.write("NOTES.txt", "root file\n");
    repo.commit("docs: notes at the root");
    let root = temp.path().canonicalize().unwrap_or_else(|e| panic!("{e}"));
    let (workspace, opened) = load(&root);
    let plan = plan(&workspace, &opened, &options()).unwrap_or_else(|e| panic!("{e}"));
    expect![[r#"
        Release plan (dry run) for <root>
        date 2026-11-28, HEAD 897d517812f4, tag scheme of each crate's newest tag (v{version} without one), 2 commit(s) read, 2 unreleased

        level  crate  current  next    bump   tag      commits  reason
        0      solo   0.9.0    0.10.0  minor  v0.10.0  2        1 breaking change(s); minor below 1.0.0

        == solo 0.9.0 → 0.10.0 (tag v0.10.0) ==
        files:
          Cargo.toml: [package] version `0.9.0` → `0.10.0`
          CHANGELOG.md: create, with the 0.10.0 section
        commits:
          897d517 docs: notes at the root (via path)
          ac63ef1 feat!: rework everything (via path)
        changelog (CHANGELOG.md):
          ## [0.10.0] - 2026-11-28

          ### Added

          - **BREAKING**: rework everything (ac63ef1)
            all of it

          ### Changed

          - notes at the root (897d517)

        Warnings:
          - solo: release tags mix schemes (X.Y.Z ×1, vX.Y.Z ×1); new tags follow the newest, v0.9.0 (vX.Y.Z)
    "#]].assert_eq(&human(&plan, &root));
    let json = plan.to_json().replace(&root.display().to_string(), "<root>");
    expect![[r###"
        {
          "workspace_root": "<root>",
          "date": "2026-11-28",
          "head": "897d517812f49a779307a0556a39666dbbbdaafd",
          "tag_template": "v{version}",
          "tag_scheme_inferred": true,
          "releases": [
            {
              "name": "solo",
              "current_version": "0.9.0",
              "last_release": {
                "tag": "v0.9.0",
                "version": "0.9.0"
              },
              "next_version": "0.10.0",
              "bump": "minor",
              "reason": "1 breaking change(s); minor below 1.0.0",
              "tag": "v0.10.0",
              "level": 0,
              "dir": "",
              "commits": [
                {
                  "id": "897d517812f49a779307a0556a39666dbbbdaafd",
                  "short_id": "897d517",
                  "summary": "docs: notes at the root",
                  "conventional": true,
                  "breaking": false,
                  "merge": false,
                  "level": "patch",
                  "via": [
                    "path"
                  ],
                  "group": "Changed",
                  "paths": []
                },
                {
                  "id": "ac63ef1bd7159df89e7358b5895e753c91d972b8",
                  "short_id": "ac63ef1",
                  "summary": "feat!: rework everything",
                  "conventional": true,
                  "breaking": true,
                  "merge": false,
                  "level": "major",
                  "via": [
                    "path"
                  ],
                  "group": "Added",
                  "paths": []
                }
              ],
              "changelog_path": "CHANGELOG.md",
              "changelog": "## [0.10.0] - 2026-11-28\n\n### Added\n\n- **BREAKING**: rework everything (ac63ef1)\n  all of it\n\n### Changed\n\n- notes at the root (897d517)\n",
              "files": [
                {
                  "path": "Cargo.toml",
                  "change": "[package] version `0.9.0` → `0.10.0`",
                  "edit": {
                    "kind": "package_version",
                    "to": "0.10.0"
                  }
                },
                {
                  "path": "CHANGELOG.md",
                  "change": "create, with the 0.10.0 section",
                  "edit": {
                    "kind": "changelog",
                    "action": "create",
                    "version": "0.10.0"
                  }
                }
              ]
            }
          ],
          "unchanged": [],
          "unattributed": [],
          "no_effect": [],
          "already_released": [],
          "files": [
            {
              "path": "CHANGELOG.md",
              "change": "create, with the 0.10.0 section",
              "edit": {
                "kind": "changelog",
                "action": "create",
                "version": "0.10.0"
              }
            },
            {
              "path": "Cargo.toml",
              "change": "[package] version `0.9.0` → `0.10.0`",
              "edit": {
                "kind": "package_version",
                "to": "0.10.0"
              }
            }
          ],
          "warnings": [
            "solo: release tags mix schemes (X.Y.Z ×1, vX.Y.Z ×1); new tags follow the newest, v0.9.0 (vX.Y.Z)"
          ],
          "stats": {
            "commits_visited": 2,
            "commits_unreleased": 2,
            "truncated": false
          }
        }"###]].assert_eq(&json);
}

#[test]
fn workspace_in_a_subfolder() {
    let Some(git) = proofmark_test_support::require_tool("git", "git") else { return };
    let temp = proofmark_test_support::temp_dir("release-subfolder");
    let mut repo = Scripted::init(&git, temp.path());
    repo.write("rust/Cargo.toml", "[workspace]\nresolver = \"2\"\nmembers = [\"crates/*\"]\n");
    for name in ["one", "two"] {
        repo.write(
            &format!("rust/crates/{name}/Cargo.toml"),
            &manifest(name, "version = \"0.2.0\"", ""),
        );
        repo.write(&format!("rust/crates/{name}/src/lib.rs"), "//! crate\n");
    }
    repo.write("web/index.html", "<p>hi</p>\n");
    repo.commit("build: two crates and a web page");
    repo.run(&["tag", "one-v0.2.0"]);
    repo.run(&["tag", "two-v0.2.0"]);
    repo.write("rust/crates/two/src/lib.rs", "//! crate two\n");
    repo.commit("fix: two");
    repo.write("web/index.html", "<p>hello</p>\n");
    repo.commit("fix(web): greeting");
    let root = temp.path().join("rust").canonicalize().unwrap_or_else(|e| panic!("{e}"));
    let (workspace, opened) = load(&root);
    let plan = plan(&workspace, &opened, &options()).unwrap_or_else(|e| panic!("{e}"));
    let text: Vec<String> = plan
        .releases
        .iter()
        .map(|r| {
            format!(
                "{} {} -> {} ({} commits)",
                r.name,
                r.current_version,
                r.next_version,
                r.commits.len()
            )
        })
        .chain(
            plan.unattributed.iter().map(|c| format!("unattributed: {} {:?}", c.summary, c.paths)),
        )
        .collect();
    expect![[r#"
        two 0.2.0 -> 0.2.1 (1 commits)
        unattributed: fix(web): greeting ["web/index.html"]"#]]
    .assert_eq(&text.join("\n"));
}

/// A small deterministic generator (64-bit LCG), so the random histories are the same on
/// every run.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 =
            self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

/// The unreleased range and the touched commits of `dir` (minus `exclude`d subfolders), as
/// git computes them.
fn judge(
    repo: &Scripted,
    dir: &str,
    exclude: &[String],
    released_at: &[String],
) -> (Vec<String>, Vec<String>) {
    let mut pathspec = vec![dir.to_owned()];
    pathspec.extend(exclude.iter().map(|e| format!(":(exclude){dir}/{e}")));
    let mut args = vec!["rev-list".to_owned(), "HEAD".to_owned()];
    args.extend(released_at.iter().map(|t| format!("^{t}")));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut range: Vec<String> = repo.run(&args).lines().map(str::to_owned).collect();
    let mut touched = Vec::new();
    for commit in &range {
        let parents = repo.run(&["rev-list", "--parents", "-n1", commit]);
        let mut args = match parents.split_whitespace().nth(1) {
            Some(parent) => vec!["diff-tree", "-r", "--name-only", parent, commit],
            None => vec!["diff-tree", "--root", "-r", "--name-only", "--no-commit-id", commit],
        };
        args.push("--");
        args.extend(pathspec.iter().map(String::as_str));
        if !repo.run(&args).trim().is_empty() {
            touched.push(commit.clone());
        }
    }
    range.sort();
    touched.sort();
    (range, touched)
}

#[test]
fn random_histories_match_git() {
    let Some(git) = proofmark_test_support::require_tool("git", "git") else { return };
    // crates/a/inner is a member nested in crates/a; docs belongs to no crate.
    let dirs = ["crates/a", "crates/b", "crates/a/inner", "docs"];
    let (mut merges, mut tagged, mut compared) = (0, 0, 0);
    for seed in [1_u64, 7, 42] {
        let temp = proofmark_test_support::temp_dir("release-random");
        let mut repo = Scripted::init(&git, temp.path());
        let mut rng = Lcg(seed);
        let mut branches = vec!["main".to_owned()];
        let mut current = 0usize;
        let mut tags: Vec<Vec<String>> = vec![Vec::new(); 3];
        for step in 0..50 {
            match rng.below(8) {
                // Start a branch here.
                0 if branches.len() < 4 => {
                    let name = format!("b{step}");
                    repo.run(&["checkout", "-q", "-b", &name]);
                    branches.push(name);
                    current = branches.len() - 1;
                }
                // Switch to another branch.
                1 => {
                    current = usize::try_from(rng.below(branches.len() as u64)).unwrap_or(0);
                    repo.run(&["checkout", "-q", &branches[current]]);
                }
                // Merge another branch (files never collide, so merges never conflict).
                2 | 3 if branches.len() > 1 => {
                    let other = usize::try_from(rng.below(branches.len() as u64)).unwrap_or(0);
                    if other != current {
                        let before = repo.rev_parse("HEAD");
                        repo.step(&["merge", "-q", "--no-ff", "-m", "Merge", &branches[other]]);
                        merges += usize::from(repo.rev_parse("HEAD") != before);
                    }
                }
                // Tag a release of one crate at HEAD.
                4 if step > 0 => {
                    let krate = usize::try_from(rng.below(3)).unwrap_or(0);
                    let tag = format!("k{krate}-v1.0.{step}");
                    repo.run(&["tag", &tag]);
                    tags[krate].push(repo.rev_parse(&tag));
                    tagged += 1;
                }
                _ => {
                    let dir = dirs[usize::try_from(rng.below(dirs.len() as u64)).unwrap_or(0)];
                    repo.write(&format!("{dir}/f{step}.txt"), "x\n");
                    if rng.below(3) == 0 {
                        let other =
                            dirs[usize::try_from(rng.below(dirs.len() as u64)).unwrap_or(0)];
                        repo.write(&format!("{other}/g{step}.txt"), "y\n");
                    }
                    repo.commit(&format!("fix: step {step}"));
                }
            }
        }
        if repo.run(&["rev-list", "--all"]).trim().is_empty() {
            continue;
        }
        let walk_crates: Vec<WalkCrate> = (0..3)
            .map(|k| WalkCrate {
                dir: dirs[k].to_owned(),
                released_at: tags[k].clone(),
                exclude: if k == 0 { vec!["inner".to_owned()] } else { Vec::new() },
            })
            .collect();
        let opened = Repo::open(temp.path()).unwrap_or_else(|e| panic!("{e}"));
        let walk = opened.walk(&walk_crates).unwrap_or_else(|e| panic!("{e}"));
        for (index, crate_) in walk_crates.iter().enumerate() {
            let (range, touched) = judge(&repo, &crate_.dir, &crate_.exclude, &crate_.released_at);
            let mut got_range: Vec<String> = walk
                .commits
                .iter()
                .filter(|c| c.unreleased.contains(&index))
                .map(|c| c.id.clone())
                .collect();
            let mut got_touched: Vec<String> = walk
                .commits
                .iter()
                .filter(|c| c.touched.contains(&index))
                .map(|c| c.id.clone())
                .collect();
            got_range.sort();
            got_touched.sort();
            assert_eq!(got_range, range, "seed {seed}, {}: unreleased range", crate_.dir);
            assert_eq!(got_touched, touched, "seed {seed}, {}: touched", crate_.dir);
            compared += got_range.len();
        }
    }
    eprintln!("random histories: {merges} merges, {tagged} tags, {compared} (commit, crate) pairs");
    // The histories exercised what they are meant to.
    assert!(
        merges > 3 && tagged > 3 && compared > 30,
        "{merges} merges, {tagged} tags, {compared}"
    );
}

#[test]
fn root_package_excludes_nested_members() {
    let Some(git) = proofmark_test_support::require_tool("git", "git") else { return };
    let temp = proofmark_test_support::temp_dir("release-root-package");
    let mut repo = Scripted::init(&git, temp.path());
    repo.write(
        "Cargo.toml",
        &manifest("top", "version = \"1.0.0\"", "\n[workspace]\nmembers = [\"crates/sub\"]\n"),
    );
    repo.write("src/lib.rs", "//! top\n");
    repo.write("crates/sub/Cargo.toml", &manifest("sub", "version = \"1.0.0\"", ""));
    repo.write("crates/sub/src/lib.rs", "//! sub\n");
    repo.commit("build: top and sub");
    repo.run(&["tag", "top-v1.0.0"]);
    repo.run(&["tag", "sub-v1.0.0"]);
    repo.write("crates/sub/src/lib.rs", "//! sub, changed\n");
    repo.commit("fix: sub only");
    let root = temp.path().canonicalize().unwrap_or_else(|e| panic!("{e}"));
    let (workspace, opened) = load(&root);
    let plan = plan(&workspace, &opened, &options()).unwrap_or_else(|e| panic!("{e}"));
    let text: Vec<String> = plan
        .releases
        .iter()
        .map(|r| format!("{} -> {}", r.name, r.next_version))
        .chain(plan.unchanged.iter().map(|u| format!("{}: {}", u.name, u.reason)))
        .collect();
    expect![[r#"
        sub -> 1.0.1
        top: unchanged since 1.0.0 (top-v1.0.0)"#]]
    .assert_eq(&text.join("\n"));
}

/// Writes the files of `plan` as `--execute` would, commits them and tags every release.
fn apply(repo: &mut Scripted, root: &Path, plan: &proofmark_release::ReleasePlan) -> Vec<String> {
    let (workspace, _) = load(root);
    let prepared = proofmark_release::execute::prepare(root, plan, &workspace)
        .unwrap_or_else(|e| panic!("{e}"));
    for file in &prepared.files {
        repo.write(&file.path, &file.contents);
    }
    repo.commit(&prepared.message);
    prepared
        .items
        .iter()
        .map(|item| {
            repo.run(&["tag", "-a", &item.tag, "-m", &item.section]);
            format!("{} {}", item.name, item.version)
        })
        .collect()
}

#[test]
fn release_candidates_count_up_and_the_final_release_folds_them() {
    let Some(git) = proofmark_test_support::require_tool("git", "git") else { return };
    let temp = proofmark_test_support::temp_dir("release-rc");
    let mut repo = Scripted::init(&git, temp.path());
    repo.write("Cargo.toml", &manifest("solo", "version = \"1.2.0\"", ""));
    repo.write("src/lib.rs", "//! solo\n");
    repo.commit("feat: initial");
    repo.run(&["tag", "v1.2.0"]);
    let root = temp.path().canonicalize().unwrap_or_else(|e| panic!("{e}"));
    let planned = |pre: Option<&str>| {
        let (workspace, opened) = load(&root);
        let options = PlanOptions { pre: pre.map(str::to_owned), ..options() };
        plan(&workspace, &opened, &options).unwrap_or_else(|e| panic!("{e}"))
    };

    repo.write("src/lib.rs", "//! solo with a widget\n");
    repo.commit("feat: add a widget");
    let rc1 = planned(Some("rc"));
    assert_eq!(apply(&mut repo, &root, &rc1), ["solo 1.3.0-rc.1"]);
    // A maintainer rewords the generated entry (keeping its id) and adds a line of their own.
    let text = std::fs::read_to_string(root.join("CHANGELOG.md")).unwrap_or_else(|e| panic!("{e}"));
    let edited = text
        .replace("- add a widget (", "- Add the `Widget` type, see the guide (")
        .replace("### Added\n\n", "### Added\n\n- Thanks to Grace for the design review.\n");
    assert_ne!(edited, text, "the edit must apply");
    repo.write("CHANGELOG.md", &edited);
    repo.commit("docs(solo): polish the changelog of 1.3.0-rc.1");

    repo.write("src/lib.rs", "//! solo with a widget that spins\n");
    repo.commit("fix: the widget spins the right way");
    let rc2 = planned(Some("rc"));
    assert_eq!(apply(&mut repo, &root, &rc2), ["solo 1.3.0-rc.2"]);
    // Nothing new since rc.2: no third candidate.
    let idle = planned(Some("rc"));
    assert!(idle.releases.is_empty(), "{}", idle.to_human());

    // The final release: its section has every entry of rc.1 and rc.2 (hand edits included),
    // each once, and the candidate sections are gone.
    let fin = planned(None);
    expect![[r#"
        solo 1.3.0-rc.2 → 1.3.0: 1 feature(s) (from v1.2.0)
        CHANGELOG.md: fold the 1.3.0-rc.2, 1.3.0-rc.1 section(s) into the 1.3.0 section
    "#]]
    .assert_eq(&summary(&fin));
    assert_eq!(apply(&mut repo, &root, &fin), ["solo 1.3.0"]);
    let changelog =
        std::fs::read_to_string(root.join("CHANGELOG.md")).unwrap_or_else(|e| panic!("{e}"));
    expect![[r#"
        # Changelog

        All notable changes to this crate are documented in this file.

        The format is based on [Keep a Changelog](https://keepachangelog.com/en/1.1.0/),
        and this crate adheres to [Semantic Versioning](https://semver.org/spec/v2.0.0.html).

        ## [Unreleased]

        ## [1.3.0] - 2026-11-28

        ### Added

        - Thanks to Grace for the design review.
        - Add the `Widget` type, see the guide (<id>)

        ### Fixed

        - the widget spins the right way (<id>)
    "#]]
    .assert_eq(&mask_ids(&changelog));

    // After the final release, a breaking change starts candidates of the next major version.
    repo.write("src/lib.rs", "//! solo, reworked\n");
    repo.commit("feat!: a new widget API");
    let next = planned(Some("beta"));
    expect![[r#"
        solo 1.3.0 → 2.0.0-beta.1: 1 breaking change(s); release candidate of 2.0.0 (from v1.3.0)
        CHANGELOG.md: insert the 2.0.0-beta.1 section
    "#]]
    .assert_eq(&summary(&next));
    let bad = {
        let (workspace, opened) = load(&root);
        plan(&workspace, &opened, &PlanOptions { pre: Some("7".to_owned()), ..options() })
    };
    assert!(
        matches!(&bad, Err(proofmark_release::Error::BadPreRelease { id }) if id == "7"),
        "{bad:?}"
    );
}

/// One line per release and one per changelog file change.
fn summary(plan: &proofmark_release::ReleasePlan) -> String {
    let mut out = String::new();
    for r in &plan.releases {
        let from = r.last_release.as_ref().map_or("none".to_owned(), |l| l.tag.clone());
        out.push_str(&format!(
            "{} {} → {}: {} (from {from})\n",
            r.name, r.current_version, r.next_version, r.reason
        ));
        for f in r.files.iter().filter(|f| f.path.ends_with("CHANGELOG.md")) {
            out.push_str(&format!("{}: {}\n", f.path, f.change));
        }
    }
    out
}

/// Replaces abbreviated commit ids (seven hex digits in parentheses) by `(<id>)`.
fn mask_ids(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find('(') {
        let candidate = &rest[start + 1..];
        let is_id = candidate.len() > 8
            && candidate[..7].bytes().all(|b| b.is_ascii_hexdigit())
            && candidate.as_bytes()[7] == b')';
        out.push_str(&rest[..=start]);
        if is_id {
            out.push_str("<id>");
            rest = &candidate[7..];
        } else {
            rest = candidate;
        }
    }
    out.push_str(rest);
    out
}

// Repository classes of issue 11, each judged by git itself.

use proofmark_test_support::history::{Scripted, classes};

fn plan_of(dir: &Path, options: &PlanOptions) -> (PathBuf, proofmark_release::ReleasePlan) {
    let root = dir.canonicalize().unwrap_or_else(|e| panic!("{e}"));
    let (workspace, repo) = load(&root);
    let plan = plan(&workspace, &repo, options).unwrap_or_else(|e| panic!("{e}"));
    (root, plan)
}

/// Releases, not-released crates, skipped commits and warnings, one line each.
fn outline(plan: &proofmark_release::ReleasePlan) -> String {
    let mut out = String::new();
    for r in &plan.releases {
        let commits: Vec<&str> = r.commits.iter().map(|c| c.summary.as_str()).collect();
        out.push_str(&format!(
            "release {} {} → {} [{}] {}: {}\n",
            r.name,
            r.last_release.as_ref().map_or("-".to_owned(), |l| l.tag.clone()),
            r.next_version,
            r.tag,
            r.reason,
            commits.join(" | ")
        ));
    }
    for u in &plan.unchanged {
        out.push_str(&format!("not released {} {}: {}\n", u.name, u.version, u.reason));
    }
    for c in &plan.no_effect {
        out.push_str(&format!("no effect {}: {}\n", c.crate_name, c.summary));
    }
    for c in &plan.already_released {
        out.push_str(&format!(
            "already released {}: {} in {} ({})\n",
            c.crate_name, c.summary, c.version, c.tag
        ));
    }
    for w in &plan.warnings {
        out.push_str(&format!("warning: {w}\n"));
    }
    out
}

/// git's verdict on the net effect of `commit` on a crate's packaged files (`pathspec`):
/// nothing packaged differs from the first parent, or, for a merge, everything that does is
/// as in one of the crate's release tags (`tags`, a `git tag --list` pattern).
fn git_says_no_effect(repo: &Scripted, commit: &str, pathspec: &[String], tags: &str) -> bool {
    let mut args = vec!["diff".to_owned(), "--name-only".to_owned()];
    args.push(format!("{commit}^1"));
    args.push(commit.to_owned());
    args.push("--".to_owned());
    args.extend(pathspec.iter().cloned());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let changed: Vec<String> = repo.run(&args).lines().map(str::to_owned).collect();
    if changed.is_empty() {
        return true;
    }
    let parents = repo.run(&["rev-list", "--parents", "-n1", commit]);
    if parents.split_whitespace().count() < 3 {
        return false;
    }
    repo.run(&["tag", "--list", tags]).lines().any(|baseline| {
        let mut against = vec!["diff", "--name-only", baseline, commit, "--"];
        against.extend(changed.iter().map(String::as_str));
        repo.run(&against).trim().is_empty()
    })
}

/// The commits of `git rev-list HEAD ^last` whose diff against their first parent touches
/// `dir` (no pathspec on rev-list: its history simplification would drop merges).
fn touching(repo: &Scripted, last: &str, dir: &str) -> Vec<String> {
    repo.run(&["rev-list", "HEAD", &format!("^{last}")])
        .lines()
        .filter(|c| {
            !repo.run(&["diff", "--name-only", &format!("{c}^1"), c, "--", dir]).trim().is_empty()
        })
        .map(str::to_owned)
        .collect()
}

#[test]
fn release_branch_merged_back() {
    let Some(git) = proofmark_test_support::require_tool("git", "git") else { return };
    let temp = proofmark_test_support::temp_dir("release-class-merged-back");
    let repo = classes::release_branch_merged_back(&git, temp.path());
    let (_, plan) = plan_of(temp.path(), &options());
    expect![[r#"
        release b b-1.1.0 → 1.1.1 [b-1.1.1] 1 commit(s), no feature or breaking change: fix(b): the widget spins
        not released a 1.0.1: unchanged since 1.0.1 (a-1.0.1)
        not released c 1.0.0: unchanged since 1.0.0 (c-1.0.0)
        no effect a: Merge pull request #7 from family/release-1
        no effect b: Merge pull request #7 from family/release-1
        no effect b: test(b): widget tests
        no effect c: docs(c): fix a typo in the changelog
    "#]]
    .assert_eq(&outline(&plan));
    // Judge, per crate: the packaged files at HEAD against the last release tag, and every
    // unreleased commit that touches the folder, with the files cargo would not package (the
    // changelog, `b`'s tests) left out by pathspec.
    let packaged = |name: &str| {
        let mut spec =
            vec![format!("crates/{name}"), format!(":(exclude)crates/{name}/CHANGELOG.md")];
        if name == "b" {
            spec.push(":(exclude)crates/b/tests".to_owned());
        }
        spec
    };
    for (name, last) in [("a", "a-1.0.1"), ("b", "b-1.1.0"), ("c", "c-1.0.0")] {
        let spec = packaged(name);
        let mut args = vec!["diff", "--name-only", last, "HEAD", "--"];
        args.extend(spec.iter().map(String::as_str));
        let unchanged = repo.run(&args).trim().is_empty();
        assert_eq!(
            plan.unchanged.iter().any(|u| u.name == name),
            unchanged,
            "{name}: git diff {last} HEAD says unchanged = {unchanged}"
        );
        for commit in touching(&repo, last, &format!("crates/{name}")) {
            let commit = commit.as_str();
            let expected = git_says_no_effect(&repo, commit, &spec, &format!("{name}-*"));
            let got = plan.no_effect.iter().any(|c| c.crate_name == name && c.id == commit);
            assert_eq!(got, expected, "{name}: net effect of {commit}");
        }
    }
    // The tree of `a` at HEAD is the tagged one: the merge only brought the release back.
    assert_eq!(repo.rev_parse("a-1.0.1:crates/a"), repo.rev_parse("HEAD:crates/a"));
}

#[test]
fn root_crate_whose_tag_scheme_changed() {
    let Some(git) = proofmark_test_support::require_tool("git", "git") else { return };
    let temp = proofmark_test_support::temp_dir("release-class-scheme");
    let repo = classes::root_crate_tag_scheme_changed(&git, temp.path());
    let (_, plan) = plan_of(temp.path(), &options());
    expect![[r#"
        release top v1.2.0 → 1.2.1 [v1.2.1] 1 commit(s), no feature or breaking change: fix: stop says whether it stopped
        release util - → 0.4.0 [util-v0.4.0] first release (no release tag): fix(sub): a fix; util 0.4.0 | Initial top, sub and util
        not released sub 0.5.0: unchanged since 0.5.0 (sub-v0.5.0)
        warning: sub: release tags mix schemes (X.Y.Z ×1, name-vX.Y.Z ×1); new tags follow the newest, sub-v0.5.0 (name-vX.Y.Z)
        warning: top: release tags mix schemes (vX.Y.Z ×1, name-vX.Y.Z ×2); new tags follow the newest, v1.2.0 (vX.Y.Z)
        warning: 1 released commit(s) (merges not counted) do not follow Conventional Commits: they are listed under Changed and bump patch
    "#]]
    .assert_eq(&outline(&plan));
    // Judge: the manifests in the tagged trees, as git shows them.
    let version_at = |tag: &str, path: &str| {
        repo.run(&["show", &format!("{tag}:{path}")])
            .lines()
            .find_map(|l| {
                l.strip_prefix("version = \"").map(|v| v.trim_end_matches('"').to_owned())
            })
            .unwrap_or_default()
    };
    assert_eq!(version_at("0.4.0", "crates/sub/Cargo.toml"), "0.4.0");
    assert_eq!(version_at("0.4.0", "crates/util/Cargo.toml"), "0.3.0");
    assert_eq!(version_at("v1.2.0", "Cargo.toml"), "1.2.0");
    let top = plan.releases.iter().find(|r| r.name == "top").unwrap_or_else(|| panic!("top"));
    let merged = repo.run(&["tag", "--merged", "HEAD", "--sort=-creatordate"]);
    assert!(merged.lines().any(|t| t == "v1.2.0"), "{merged}");
    assert_eq!(top.last_release.as_ref().map(|l| l.tag.as_str()), Some("v1.2.0"));
    assert!(repo.run(&["tag", "--list", &top.tag]).trim().is_empty(), "{} exists", top.tag);
}

#[test]
fn prerelease_tags_on_main_with_the_manifest_at_the_last_one() {
    let Some(git) = proofmark_test_support::require_tool("git", "git") else { return };
    let temp = proofmark_test_support::temp_dir("release-class-pre");
    let repo = classes::prerelease_tags_on_main(&git, temp.path());
    let (_, fin) = plan_of(temp.path(), &options());
    let (_, alpha) =
        plan_of(temp.path(), &PlanOptions { pre: Some("alpha".to_owned()), ..options() });
    expect![[r#"
        release solo v0.9.0 → 1.0.0 [v1.0.0] 1 breaking change(s); minor below 1.0.0; the manifest's 1.0.0-alpha.2 is already released as v1.0.0-alpha.2: feat: an extension | chore(release): 1.0.0-alpha.2 | fix: a fix of the alpha | chore(release): 1.0.0-alpha.1 | feat!: the 1.0 API
        --
        release solo v1.0.0-alpha.2 → 1.0.0-alpha.3 [v1.0.0-alpha.3] 1 feature(s); patch below 1.0.0; release candidate of 1.0.0: feat: an extension
    "#]]
    .assert_eq(&(outline(&fin) + "--\n" + &outline(&alpha)));
    // Judge: no planned tag exists, and the manifest's version is a tag.
    for plan in [&fin, &alpha] {
        for r in &plan.releases {
            assert!(repo.run(&["tag", "--list", &r.tag]).trim().is_empty(), "{} exists", r.tag);
        }
    }
    assert_eq!(repo.run(&["tag", "--list", "v1.0.0-alpha.2"]).trim(), "v1.0.0-alpha.2");
}

#[test]
fn maintenance_branch_with_cherry_picks() {
    let Some(git) = proofmark_test_support::require_tool("git", "git") else { return };
    let temp = proofmark_test_support::temp_dir("release-class-cherry");
    let repo = classes::maintenance_branch_cherry_picks(&git, temp.path());
    let (_, plan) = plan_of(temp.path(), &options());
    expect![[r#"
        release cli cli-v7.0.0 → 7.1.0 [cli-v7.1.0] 1 feature(s): feat(cli): colours
        release core core-v7.0.1 → 8.0.0 [core-v8.0.0] 1 breaking change(s): fix(core): a race | feat(core)!: a new API
        already released core: fix(core): free the pool in 7.0.1 (core-v7.0.1)
        already released core: fix(core): no overflow on add in 7.0.1 (core-v7.0.1)
    "#]]
    .assert_eq(&outline(&plan));
    // Judge: `git cherry core-v7.0.1 HEAD` marks `-` the commits of HEAD whose patch is in
    // the tag; those touching crates/core are exactly the ones the plan calls released.
    let mut expected: Vec<String> = repo
        .run(&["cherry", "core-v7.0.1", "HEAD"])
        .lines()
        .filter_map(|l| l.strip_prefix("- "))
        .filter(|c| {
            !repo
                .run(&["diff-tree", "-r", "--name-only", "--no-commit-id", c, "--", "crates/core"])
                .trim()
                .is_empty()
        })
        .map(str::to_owned)
        .collect();
    let mut got: Vec<String> = plan.already_released.iter().map(|c| c.id.clone()).collect();
    expected.sort();
    got.sort();
    assert_eq!(got, expected);
    assert_eq!(got.len(), 2);
    // Each matches by `git patch-id --stable`, and the patch-ids are cached in the git dir.
    for c in &plan.already_released {
        let patch = |id: &str| {
            let show = repo.run(&["show", id]);
            let mut child = std::process::Command::new("git")
                .args(["patch-id", "--stable"])
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap_or_else(|e| panic!("{e}"));
            use std::io::Write as _;
            child.stdin.take().map(|mut s| s.write_all(show.as_bytes()));
            let out = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
            String::from_utf8_lossy(&out.stdout).split_whitespace().next().unwrap_or("").to_owned()
        };
        assert_eq!(patch(&c.id), patch(&c.released_as), "{}", c.summary);
    }
    let cache = std::fs::read_to_string(temp.path().join(".git/proofmark/patch-ids"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(plan.already_released.iter().all(|c| cache.contains(&c.id)), "{cache}");
    // Same plan from the cache.
    let (_, again) = plan_of(temp.path(), &options());
    assert_eq!(outline(&again), outline(&plan));
}

#[test]
fn synthetic_family_with_release_merges_prereleases_and_cherry_picks() {
    use proofmark_test_support::history::{Shapes, Synthetic};
    let Some(git) = proofmark_test_support::require_tool("git", "git") else { return };
    let temp = proofmark_test_support::temp_dir("release-synthetic-shapes");
    let spec =
        Synthetic { commits: 600, crates: 4, releases: 3, unreleased_tail: 100, merge_every: 50 };
    let shapes = Shapes { release_branch_every: 2, prereleases: 1, cherry_picks: 3 };
    spec.build_with(&shapes, &git, temp.path()).unwrap_or_else(|e| panic!("{e}"));
    let repo = Scripted::open(&git, temp.path());
    let (_, plan) = plan_of(temp.path(), &options());
    assert_eq!(plan.releases.len(), 4, "{}", plan.to_human());
    // Cherry-picks: exactly the commits `git cherry` marks `-` against the maintenance tag.
    let mut expected: Vec<String> = repo
        .run(&["cherry", "c00-v0.3.1", "HEAD"])
        .lines()
        .filter_map(|l| l.strip_prefix("- ").map(str::to_owned))
        .collect();
    let mut got: Vec<String> = plan.already_released.iter().map(|c| c.id.clone()).collect();
    expected.sort();
    got.sort();
    assert_eq!(got, expected);
    assert_eq!(got.len(), 3);
    // The pre-release on main is not planned again: its line's final release is.
    let c01 = plan.releases.iter().find(|r| r.name == "c01").unwrap_or_else(|| panic!("c01"));
    assert_eq!(c01.next_version.to_string(), "0.4.0");
    assert!(repo.run(&["tag", "--list", &c01.tag]).trim().is_empty(), "{} exists", c01.tag);
    assert!(!repo.run(&["tag", "--list", "c01-v0.4.0-alpha.1"]).trim().is_empty());
    // Net effect, judged by git for every unreleased commit touching each crate.
    let mut merges_without_effect = 0;
    for k in 0..4 {
        let (name, dir) = (Synthetic::crate_name(k), Synthetic::crate_dir(k));
        let last = format!("{}0.3.0", Synthetic::tag_prefix(k));
        let spec = vec![dir.clone(), format!(":(exclude){dir}/CHANGELOG.md")];
        for commit in touching(&repo, &last, &dir) {
            let commit = commit.as_str();
            let tags = format!("{}*", Synthetic::tag_prefix(k));
            let expected = git_says_no_effect(&repo, commit, &spec, &tags);
            let got = plan.no_effect.iter().any(|c| c.crate_name == name && c.id == commit);
            assert_eq!(got, expected, "{name}: net effect of {commit}");
            merges_without_effect += usize::from(got);
        }
    }
    // The history exercised the rule: release merges after the last tags.
    assert!(merges_without_effect > 0, "{}", plan.to_human());
}

#[test]
fn lockstep_family_with_one_unprefixed_tag() {
    let Some(git) = proofmark_test_support::require_tool("git", "git") else { return };
    let temp = proofmark_test_support::temp_dir("release-lockstep");
    let mut repo = Scripted::init(&git, temp.path());
    repo.write(
        "Cargo.toml",
        "[workspace]\nresolver = \"2\"\nmembers = [\"crates/*\"]\n\n\
         [workspace.package]\nversion = \"1.0.0\"\n",
    );
    for name in ["one", "two"] {
        repo.write(
            &format!("crates/{name}/Cargo.toml"),
            &format!(
                "[package]\nname = \"{name}\"\nversion.workspace = true\nedition = \"2021\"\n\
                 license = \"MIT\"\ndescription = \"{name}\"\n"
            ),
        );
        repo.write(&format!("crates/{name}/src/lib.rs"), "//! crate\n");
    }
    repo.commit("Initial family");
    repo.run(&["tag", "v1.0.0"]);
    for name in ["one", "two"] {
        repo.write(&format!("crates/{name}/src/lib.rs"), "//! crate, fixed\n");
    }
    repo.commit("fix: both crates");
    let (_, plan) = plan_of(temp.path(), &options());
    // The tag belongs to both crates: their inherited version was 1.0.0 in the tagged tree.
    assert_eq!(
        repo.run(&["show", "v1.0.0:Cargo.toml"]).contains("version = \"1.0.0\""),
        plan.releases.iter().all(|r| r.last_release.as_ref().is_some_and(|l| l.tag == "v1.0.0"))
    );
    expect![[r#"
        release one v1.0.0 → 1.0.1 [v1.0.1] 1 commit(s), no feature or breaking change: fix: both crates
        release two v1.0.0 → 1.0.1 [v1.0.1] 1 commit(s), no feature or breaking change: fix: both crates
        warning: one, two would all be tagged v1.0.1, and a tag marks one release: pass --tag-template '{crate}-v{version}'
    "#]]
    .assert_eq(&outline(&plan));
}

/// A crate whose only releases are pre-releases: the next candidate says it follows the last
/// one (not "first release"), and the final release plan's table says there is no final
/// release yet (not "unreleased": the manifest's version has a tag).
#[test]
fn candidates_before_any_final_release() {
    let Some(git) = proofmark_test_support::require_tool("git", "git") else { return };
    let temp = proofmark_test_support::temp_dir("release-pre-only");
    let mut repo = Scripted::init(&git, temp.path());
    repo.write("Cargo.toml", &manifest("solo", "version = \"2.0.0-alpha.1\"", ""));
    repo.write("src/lib.rs", "//! solo\n");
    repo.commit("feat: initial");
    repo.run(&["tag", "v2.0.0-alpha.1"]);
    repo.write("src/lib.rs", "//! solo, fixed\n");
    repo.commit("fix: the fix");
    let root = temp.path().canonicalize().unwrap_or_else(|e| panic!("{e}"));
    let planned = |pre: Option<&str>| {
        let (workspace, opened) = load(&root);
        let options = PlanOptions { pre: pre.map(str::to_owned), ..options() };
        plan(&workspace, &opened, &options).unwrap_or_else(|e| panic!("{e}"))
    };
    let rows = |plan: &proofmark_release::ReleasePlan| {
        let human = plan.to_human();
        let row = human.lines().find(|l| l.starts_with("0 ")).map(str::to_owned);
        format!("{}{}", summary(plan), row.unwrap_or_default())
    };
    expect![[r#"
        solo 2.0.0-alpha.1 → 2.0.0-alpha.2: after v2.0.0-alpha.1, no final release yet; release candidate of 2.0.0 (from v2.0.0-alpha.1)
        CHANGELOG.md: create, with the 2.0.0-alpha.2 section
        0      solo   2.0.0-alpha.1  2.0.0-alpha.2  patch  v2.0.0-alpha.2  1        after v2.0.0-alpha.1, no final release yet; release candidate of 2.0.0"#]].assert_eq(&rows(&planned(Some("alpha"))));
    expect![[r#"
        solo 2.0.0-alpha.1 → 2.0.0: final release after v2.0.0-alpha.1 (from none)
        CHANGELOG.md: create, with the 2.0.0 section
        0      solo   2.0.0-alpha.1 (no final release)  2.0.0  -     v2.0.0  2        final release after v2.0.0-alpha.1"#]].assert_eq(&rows(&planned(None)));
}

/// cargo-release's changelog shape: entries written by hand under `## [Unreleased] -
/// ReleaseDate`. The release takes them into its section, and the plan's preview is that
/// section as it ends up in the tagged tree (git is the judge: `git show TAG:CHANGELOG.md`).
#[test]
fn hand_written_unreleased_entries_are_in_the_planned_section() {
    let Some(git) = proofmark_test_support::require_tool("git", "git") else { return };
    let temp = proofmark_test_support::temp_dir("release-hand-written");
    let mut repo = Scripted::init(&git, temp.path());
    repo.write("Cargo.toml", &manifest("solo", "version = \"1.5.0\"", ""));
    repo.write("src/lib.rs", "//! solo\n");
    repo.write(
        "CHANGELOG.md",
        "# Changelog\n\n<!-- next-header -->\n\n## [Unreleased] - ReleaseDate\n\n\
         ### Added\n- A hand-written entry about the new API.\n\n\
         ## [1.5.0] - 2024-01-01\n\n### Fixed\n- Old fix.\n\n<!-- next-url -->\n\
         [Unreleased]: https://example.org/compare/1.5.0...HEAD\n",
    );
    repo.commit("Initial");
    repo.run(&["tag", "1.5.0"]);
    repo.write("src/lib.rs", "//! solo\npub fn b() {}\n");
    repo.commit("feat: add b");
    let (root, planned) = plan_of(temp.path(), &options());
    expect![[r#"
        solo 1.5.0 → 1.6.0: 1 feature(s) (from 1.5.0)
        CHANGELOG.md: insert the 1.6.0 section, moving the 1 line(s) written under [Unreleased] into it
    "#]]
    .assert_eq(&summary(&planned));
    let preview = planned.releases[0].changelog.clone();
    expect![[r#"
        ## [1.6.0] - 2026-11-28

        ### Added

        - A hand-written entry about the new API.
        - add b (<id>)
    "#]]
    .assert_eq(&mask_ids(&preview));

    assert_eq!(apply(&mut repo, &root, &planned), ["solo 1.6.0"]);
    let tagged = repo.run(&["show", "1.6.0:CHANGELOG.md"]);
    let start = tagged.find("## [1.6.0]").unwrap_or_else(|| panic!("no 1.6.0 section:\n{tagged}"));
    let end = tagged[start..].find("## [1.5.0]").map_or(tagged.len(), |e| start + e);
    assert_eq!(tagged[start..end].trim_end(), preview.trim_end(), "{tagged}");
    assert!(tagged.contains("## [Unreleased] - ReleaseDate\n"), "{tagged}");
    assert_eq!(tagged.matches("A hand-written entry").count(), 1, "{tagged}");
}

/// Tags of other tools' schemes: knope's `name/vX.Y.Z` and cargo-workspaces' `name@X.Y.Z`. Each
/// crate finds its release there (never planning a released version again) and keeps its
/// scheme; git judges what changed since each tag.
#[test]
fn slash_and_at_tag_schemes() {
    let Some(git) = proofmark_test_support::require_tool("git", "git") else { return };
    let temp = proofmark_test_support::temp_dir("release-class-separators");
    let mut repo = Scripted::init(&git, temp.path());
    repo.write("Cargo.toml", "[workspace]\nresolver = \"2\"\nmembers = [\"crates/*\"]\n");
    repo.write("crates/alpha/Cargo.toml", &manifest("alpha", "version = \"1.0.0\"", ""));
    repo.write("crates/alpha/src/lib.rs", "//! alpha\n");
    repo.write("crates/beta/Cargo.toml", &manifest("beta", "version = \"0.2.0\"", ""));
    repo.write("crates/beta/src/lib.rs", "//! beta\n");
    repo.commit("Initial alpha and beta");
    repo.run(&["tag", "alpha/v1.0.0"]);
    repo.run(&["tag", "beta@0.2.0"]);
    repo.write("crates/alpha/src/lib.rs", "//! alpha, fixed\n");
    repo.commit("fix(alpha): the fix");
    let (_, plan) = plan_of(temp.path(), &options());
    expect![[r#"
        release alpha alpha/v1.0.0 → 1.0.1 [alpha/v1.0.1] 1 commit(s), no feature or breaking change: fix(alpha): the fix
        not released beta 0.2.0: unchanged since 0.2.0 (beta@0.2.0)
    "#]]
    .assert_eq(&outline(&plan));
    // Judge: git's trees at the tags against HEAD's.
    let tree = |rev: &str| repo.run(&["rev-parse", rev]).trim().to_owned();
    assert_eq!(tree("beta@0.2.0:crates/beta"), tree("HEAD:crates/beta"));
    assert_ne!(tree("alpha/v1.0.0:crates/alpha"), tree("HEAD:crates/alpha"));
    assert!(repo.run(&["tag", "--list", "alpha/v1.0.1"]).trim().is_empty());
}
