//! Other release tools' configuration files and pull-request changelogs, on scripted
//! repositories built with the `git` CLI (fixed dates and identities, no global git
//! configuration, so commit ids and snapshots are stable).
//!
//! - A cargo-release `release.toml` with keys proofmark does not know (`owners`,
//!   `pre-release-replacements`) no longer stops the plan; its tag template, branches and
//!   `release = false` are honoured, the rest listed. git judges which tag is the last release.
//! - release-plz's `release-plz.toml` and git-cliff's `cliff.toml` (skip and group parsers,
//!   `tag_pattern`), with the rendered changelog as snapshot.
//! - proofmark's own `proofmark.toml`, the legacy `release.toml` read only when clearly ours,
//!   and precedence between files.
//! - Pull request merges with the title in the body, and squash merges: one entry per pull
//!   request, linked, its commits folded under it; git judges the folded commits
//!   (`git rev-list M^1..M^2`).

#![allow(clippy::unwrap_used, reason = "helpers of tests: a panic is the failure report")]

use std::path::{Path, PathBuf};

use expect_test::{Expect, expect};
use proofmark_release::config::ReleaseConfig;
use proofmark_release::{Date, PlanOptions, ReleasePlan, Workspace, plan_workspace};
use proofmark_test_support::history::Scripted as Git;

/// Merges `branch` into the current branch with `message` (no fast-forward); returns the merge.
fn merge(repo: &mut Git, branch: &str, message: &str) -> String {
    repo.step(&["merge", "-q", "--no-ff", "-m", message, branch]);
    repo.rev_parse("HEAD")
}

fn manifest(name: &str, version: &str, extra: &str) -> String {
    format!(
        "[package]\nname = \"{name}\"\nversion = \"{version}\"\nedition = \"2021\"\n\
         license = \"MIT\"\ndescription = \"{name}\"\n{extra}"
    )
}

fn workspace_manifest(members: &[&str]) -> String {
    let members: Vec<String> = members.iter().map(|m| format!("\"crates/{m}\"")).collect();
    format!("[workspace]\nresolver = \"2\"\nmembers = [{}]\n", members.join(", "))
}

fn options() -> PlanOptions {
    PlanOptions::new(Date::new(2026, 11, 28).unwrap())
}

fn root_of(repo: &Git) -> PathBuf {
    repo.dir().canonicalize().unwrap()
}

fn planned(root: &Path) -> ReleasePlan {
    plan_workspace(root, &options()).unwrap_or_else(|e| panic!("{e}"))
}

fn human(plan: &ReleasePlan, root: &Path) -> String {
    plan.to_human().replace(&root.display().to_string(), "<root>")
}

fn config_of(root: &Path) -> ReleaseConfig {
    let workspace = Workspace::load(root).unwrap_or_else(|e| panic!("{e}"));
    ReleaseConfig::load_workspace(&workspace).unwrap_or_else(|e| panic!("{e}"))
}

/// The tags `git tag --merged HEAD` lists.
fn merged_tags(repo: &Git) -> Vec<String> {
    repo.run(&["tag", "--merged", "HEAD"]).lines().map(str::to_owned).collect()
}

#[test]
fn cargo_release_toml_with_unknown_keys_is_read_not_refused() {
    let Some(git) = proofmark_test_support::require_tool("git", "git") else { return };
    let temp = proofmark_test_support::temp_dir("config-cargo-release");
    let mut repo = Git::init(&git, temp.path());
    repo.write("Cargo.toml", &workspace_manifest(&["alpha", "beta", "internal"]));
    // The file that made `proofmark release` fail with "unknown field `owners`".
    repo.write(
        "release.toml",
        "allow-branch = [\"main\", \"release-*\"]\n\
         sign-tag = true\n\
         tag-name = \"{{crate_name}}@{{version}}\"\n\
         dependent-version = \"fix\"\n\
         owners = [\"github:org:team\"]\n\
         pre-release-replacements = [\n  \
           { file = \"CHANGELOG.md\", search = \"Unreleased\", replace = \"{{version}}\" },\n]\n",
    );
    repo.write("crates/alpha/Cargo.toml", &manifest("alpha", "1.0.0", ""));
    repo.write("crates/alpha/src/lib.rs", "//! alpha\n");
    repo.write("crates/beta/Cargo.toml", &manifest("beta", "0.1.0", ""));
    repo.write("crates/beta/src/lib.rs", "//! beta\n");
    repo.write(
        "crates/internal/Cargo.toml",
        &manifest("internal", "0.1.0", "\n[package.metadata.release]\nrelease = false\n"),
    );
    repo.write("crates/internal/src/lib.rs", "//! internal\n");
    repo.commit("build: initial workspace");
    repo.run(&["tag", "alpha@1.0.0"]);
    repo.write("crates/alpha/src/lib.rs", "//! alpha\npub fn spin() {}\n");
    repo.commit("feat(alpha): spin");
    repo.write("crates/internal/src/lib.rs", "//! internal, tidied\n");
    repo.commit("fix(internal): tidy");
    let root = root_of(&repo);

    // The root files alone no longer fail (this was the bug).
    let config = ReleaseConfig::load(&root).unwrap_or_else(|e| panic!("{e}"));
    assert!(config.branch_allowed("release-1.2"));
    assert!(!config.branch_allowed("feature"));

    expect![[r#"
        Read: release.toml, crates/internal/Cargo.toml

        Effective settings:
          allowed-branches  main, release-*  (from release.toml `allow-branch`)
          release.internal  false  (from crates/internal/Cargo.toml `package.metadata.release.release`)
          tag-template      {crate}@{version}  (from release.toml `tag-name`)

        Not honoured:
          release.toml `owners`: proofmark does not manage crate owners
          release.toml `pre-release-replacements`: proofmark writes versions and changelog sections itself; run other edits before the release
          release.toml `sign-tag`: proofmark makes annotated tags; signing is not supported yet
    "#]]
    .assert_eq(&config_of(&root).to_human());

    let plan = planned(&root);
    // git is the judge of the last release: the template's tag, merged into HEAD.
    assert!(merged_tags(&repo).contains(&"alpha@1.0.0".to_owned()));
    let alpha = plan.releases.iter().find(|r| r.name == "alpha").unwrap();
    assert_eq!(alpha.last_release.as_ref().map(|l| l.tag.as_str()), Some("alpha@1.0.0"));
    expect![[r#"
        Release plan (dry run) for <root>
        date 2026-11-28, HEAD 565ad6440685, tag template {crate}@{version}, 3 commit(s) read, 3 unreleased

        level  crate  current             next   bump   tag          commits  reason
        0      alpha  1.0.0               1.1.0  minor  alpha@1.1.0  1        1 feature(s)
        0      beta   0.1.0 (unreleased)  0.1.0  -      beta@0.1.0   1        first release (no release tag)

        == alpha 1.0.0 → 1.1.0 (tag alpha@1.1.0) ==
        files:
          crates/alpha/Cargo.toml: [package] version `1.0.0` → `1.1.0`
          crates/alpha/CHANGELOG.md: create, with the 1.1.0 section
        commits:
          f1c3854 feat(alpha): spin (via path+scope)
        changelog (crates/alpha/CHANGELOG.md):
          ## [1.1.0] - 2026-11-28

          ### Added

          - spin (f1c3854)

        == beta 0.1.0 → 0.1.0 (tag beta@0.1.0) ==
        files:
          crates/beta/CHANGELOG.md: create, with the 0.1.0 section
        commits:
          5410b0e build: initial workspace (via path)
        changelog (crates/beta/CHANGELOG.md):
          ## [0.1.0] - 2026-11-28

          ### Changed

          - initial workspace (5410b0e)

        Commits not attributed to any published crate (1):
          565ad64 fix(internal): tidy [crates/internal]

        Notes:
          - release.toml: `owners` not honoured: proofmark does not manage crate owners
          - release.toml: `pre-release-replacements` not honoured: proofmark writes versions and changelog sections itself; run other edits before the release
          - release.toml: `sign-tag` not honoured: proofmark makes annotated tags; signing is not supported yet
          - internal is not released: crates/internal/Cargo.toml `package.metadata.release.release` = false
    "#]]
    .assert_eq(&human(&plan, &root));
}

#[test]
fn release_plz_toml_is_mapped() {
    let Some(git) = proofmark_test_support::require_tool("git", "git") else { return };
    let temp = proofmark_test_support::temp_dir("config-release-plz");
    let mut repo = Git::init(&git, temp.path());
    repo.write("Cargo.toml", &workspace_manifest(&["a", "b", "c"]));
    repo.write(
        "release-plz.toml",
        "[workspace]\n\
         git_tag_name = \"{{ package }}/v{{ version }}\"\n\
         semver_check = false\n\
         changelog_update = false\n\
         pr_labels = [\"release\"]\n\
         \n\
         [[package]]\n\
         name = \"c\"\n\
         publish = false\n\
         \n\
         [[package]]\n\
         name = \"b\"\n\
         changelog_path = \"docs/b-CHANGELOG.md\"\n\
         git_tag_name = \"{{ package }}-{{ date }}\"\n\
         \n\
         [[package]]\n\
         name = \"a\"\n\
         changelog_path = \"./crates/a/CHANGELOG.md\"\n",
    );
    for name in ["a", "b", "c"] {
        repo.write(&format!("crates/{name}/Cargo.toml"), &manifest(name, "0.1.0", ""));
        repo.write(&format!("crates/{name}/src/lib.rs"), "//! x\n");
    }
    repo.commit("initial");
    repo.run(&["tag", "a/v0.1.0"]);
    repo.run(&["tag", "b/v0.1.0"]);
    repo.run(&["tag", "c/v0.1.0"]);
    for name in ["a", "b", "c"] {
        repo.write(&format!("crates/{name}/src/lib.rs"), "//! y\n");
        repo.commit(&format!("fix({name}): y"));
    }
    let root = root_of(&repo);
    let config = config_of(&root);
    assert_eq!(config.semver_checks, Some(false));
    expect![[r#"
        Read: release-plz.toml

        Effective settings:
          allowed-branches  main, master  (from (default))
          release.c         false  (from release-plz.toml `package[0].publish`)
          semver-checks     false  (from release-plz.toml `workspace.semver_check`)
          tag-template      {crate}/v{version}  (from release-plz.toml `workspace.git_tag_name`)

        Not honoured:
          release-plz.toml `package[1].changelog_path`: proofmark keeps each crate's changelog in CHANGELOG.md in its folder, so that `cargo package` includes it
          release-plz.toml `package[1].git_tag_name`: placeholder `{{date}}` has no proofmark equivalent
          release-plz.toml `workspace.changelog_update`: proofmark always writes the changelog section before tagging, so that it is inside the tag and the published crate
          release-plz.toml `workspace.pr_labels`: not a proofmark setting
    "#]]
    .assert_eq(&config.to_human());
    let plan = planned(&root);
    let tags: Vec<(&str, &str)> = plan
        .releases
        .iter()
        .map(|r| (r.tag.as_str(), r.last_release.as_ref().map_or("-", |l| l.tag.as_str())))
        .collect();
    assert_eq!(tags, [("a/v0.1.1", "a/v0.1.0"), ("b/v0.1.1", "b/v0.1.0")]);
    assert!(
        plan.notes
            .iter()
            .any(|n| n == "c is not released: release-plz.toml `package[0].publish` = false")
    );
}

#[test]
fn cliff_toml_parsers_and_tag_pattern() {
    let Some(git) = proofmark_test_support::require_tool("git", "git") else { return };
    let temp = proofmark_test_support::temp_dir("config-cliff");
    let mut repo = Git::init(&git, temp.path());
    repo.write("Cargo.toml", &manifest("solo", "0.2.0", ""));
    repo.write(
        "cliff.toml",
        r#"[changelog]
body = "{% for group, commits in commits | group_by(attribute=\"group\") %}...{% endfor %}"

[git]
conventional_commits = true
filter_unconventional = false
commit_parsers = [
  { message = "^chore\\(release\\)", skip = true },
  { message = "^doc", group = "<!-- 3 -->📚 Documentation" },
  { message = "^perf", group = "Performance" },
  { message = "^Fixes", group = "<!-- 1 -->🐛 Bug Fixes" },
  { body = ".*security", group = "<!-- 9 -->🛡️ Security" },
  { field = "author.name", pattern = "bot", skip = true },
]
tag_pattern = "^v[0-9]"
"#,
    );
    let mut step = 0;
    let mut change = |repo: &mut Git, message: &str| {
        step += 1;
        repo.write("src/lib.rs", &format!("//! step {step}\n"));
        repo.commit(message)
    };
    change(&mut repo, "feat: first");
    repo.run(&["tag", "v0.1.0"]);
    change(&mut repo, "feat: spin");
    // A tag outside `tag_pattern`: not a release, although its scheme names the crate.
    repo.run(&["tag", "solo-0.2.0"]);
    change(&mut repo, "chore(release): prepare 0.2.0");
    change(&mut repo, "docs: explain spinning");
    change(&mut repo, "perf: spin faster");
    change(&mut repo, "Fixes the wobble");
    change(&mut repo, "refactor: tidy\n\nThis closes a security hole.");
    let root = root_of(&repo);
    let plan = planned(&root);
    // git: both tags are merged into HEAD; only the one the pattern keeps is a release.
    let tags = merged_tags(&repo);
    assert!(tags.contains(&"solo-0.2.0".to_owned()) && tags.contains(&"v0.1.0".to_owned()));
    let release = &plan.releases[0];
    assert_eq!(release.last_release.as_ref().map(|l| l.tag.as_str()), Some("v0.1.0"));
    check(
        &release.changelog,
        expect![[r#"
            ## [0.2.0] - 2026-11-28

            ### Added

            - spin (6229bad)

            ### Changed

            - spin faster (c80f0a6)
            - explain spinning (3b63a57)

            ### Fixed

            - Fixes the wobble (0e19b83)

            ### Security

            - tidy (3158075)
        "#]],
    );
    // The whole-history changelog follows the same rules.
    let mut workspace = Workspace::load(&root).unwrap();
    let config = ReleaseConfig::load_workspace(&workspace).unwrap();
    let applied = config.apply(&mut workspace, &options());
    let opened = proofmark_release::history::Repo::open(&root).unwrap();
    let whole = proofmark_release::regenerate::regenerate(&workspace, &opened, &applied).unwrap();
    let text = &whole.crates[0].text;
    assert!(text.contains("### Fixed\n\n- Fixes the wobble"), "{text}");
    assert!(!text.contains("prepare 0.2.0"), "skipped by a parser: {text}");
    assert!(text.contains("## [0.1.0]") && !text.contains("## [0.2.0]"), "tag_pattern: {text}");
    expect![[r#"
        Read: cliff.toml

        Effective settings:
          allowed-branches  main, master  (from (default))
          commit-parsers    message ~ /^chore\(release\)/ → skip; message ~ /^doc/ → Changed ("<!-- 3 -->📚 Documentation"); message ~ /^perf/ → Changed ("Performance"); message ~ /^Fixes/ → Fixed ("<!-- 1 -->🐛 Bug Fixes"); body ~ /.*security/ → Security ("<!-- 9 -->🛡️ Security")  (from cliff.toml `git.commit_parsers`)
          tag-pattern       ^v[0-9]  (from cliff.toml `git.tag_pattern`)

        Not honoured:
          cliff.toml `changelog`: proofmark writes Keep a Changelog sections; git-cliff templates are not used
          cliff.toml `git.commit_parsers[5]`: proofmark reads `message`, `body`, `sha`, `group`, `skip`, not field, pattern
    "#]]
    .assert_eq(&config_of(&root).to_human());
}

/// git-cliff's `filter_unconventional = true` (its default config's value): commits that
/// are not Conventional Commits and that no parser groups make no entry, as in git-cliff, but
/// still bump; a parser still wins over the filter, and the warning says where they went.
#[test]
fn cliff_toml_filter_unconventional() {
    let Some(git) = proofmark_test_support::require_tool("git", "git") else { return };
    let temp = proofmark_test_support::temp_dir("config-cliff-filter");
    let mut repo = Git::init(&git, temp.path());
    repo.write("Cargo.toml", &manifest("solo", "0.2.0", ""));
    repo.write(
        "cliff.toml",
        "[git]\nconventional_commits = true\nfilter_unconventional = true\n\
         commit_parsers = [{ message = \"^Fixes\", group = \"Bug Fixes\" }]\n",
    );
    repo.write("src/lib.rs", "//! one\n");
    repo.commit("feat: first");
    repo.run(&["tag", "v0.2.0"]);
    for (step, message) in
        ["Random tidying", "Fixes the wobble", "fix: the spin"].iter().enumerate()
    {
        repo.write("src/lib.rs", &format!("//! step {step}\n"));
        repo.commit(message);
    }
    let root = root_of(&repo);
    let plan = planned(&root);
    let release = &plan.releases[0];
    // git: three commits since the tag, all attributed to the crate.
    assert_eq!(repo.run(&["rev-list", "--count", "v0.2.0..HEAD"]).trim(), "3");
    assert_eq!(release.commits.len(), 3);
    assert_eq!(release.next_version.to_string(), "0.2.1");
    check(
        &mask_ids(&release.changelog),
        expect![[r#"
            ## [0.2.1] - 2026-11-28

            ### Fixed

            - the spin (<id>)
            - Fixes the wobble (<id>)
        "#]],
    );
    assert!(
        plan.warnings.iter().any(|w| w.contains("1 released commit(s)")
            && w.contains("no changelog entry (git-cliff's `filter_unconventional`)")),
        "{:?}",
        plan.warnings
    );
    let shown = config_of(&root).to_human();
    assert!(
        shown
            .contains("filter-unconventional  true  (from cliff.toml `git.filter_unconventional`)"),
        "{shown}"
    );
}

/// The dry run plans on any branch, but says when `release check` and `--execute` will refuse
/// it; cargo-release's `allow-branch` decides as proofmark's own setting does.
#[test]
fn dry_run_on_a_branch_that_is_not_allowed() {
    let Some(git) = proofmark_test_support::require_tool("git", "git") else { return };
    let temp = proofmark_test_support::temp_dir("config-branch");
    let mut repo = Git::init(&git, temp.path());
    repo.write("Cargo.toml", &manifest("solo", "0.2.0", ""));
    repo.write("src/lib.rs", "//! one\n");
    repo.commit("feat: first");
    repo.run(&["checkout", "-q", "-b", "0.2.x"]);
    assert_eq!(repo.run(&["symbolic-ref", "--short", "HEAD"]).trim(), "0.2.x");
    let root = root_of(&repo);
    let refused = |plan: &ReleasePlan| {
        plan.warnings.iter().filter(|w| w.contains("is not an allowed branch")).cloned().collect()
    };
    let warnings: Vec<String> = refused(&planned(&root));
    expect![[r#"
        [
            "`0.2.x` is not an allowed branch (main, master): `release check` and `--execute` will refuse it; set allowed-branches under [release] in proofmark.toml, or cargo-release's `allow-branch`",
        ]
    "#]]
    .assert_debug_eq(&warnings);
    repo.write("release.toml", "allow-branch = [\"main\", \"*.x\"]\n");
    assert_eq!(refused(&planned(&root)), Vec::<String>::new());
    repo.run(&["checkout", "-q", "main"]);
    std::fs::remove_file(root.join("release.toml")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(refused(&planned(&root)), Vec::<String>::new());
}

/// Replaces the abbreviated ids in `(id)` by `(<id>)`.
fn mask_ids(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        match line.rfind(" (") {
            Some(at) if line.ends_with(')') && line.len() - at == 10 => {
                out.push_str(&line[..at]);
                out.push_str(" (<id>)");
            }
            _ => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

fn check(actual: &str, expected: Expect) {
    expected.assert_eq(actual);
}

/// Root files only, no git needed: proofmark's own file, the legacy file, precedence.
#[test]
fn own_file_legacy_file_and_precedence() {
    let temp = proofmark_test_support::temp_dir("config-own");
    let root = temp.path();
    let write = |name: &str, text: &str| std::fs::write(root.join(name), text).unwrap();
    let load = || ReleaseConfig::load(root);

    // A release.toml with only proofmark's keys is still ours, with a note to move it.
    write(
        "release.toml",
        "allowed-branches = [\"main\", \"7.x\"]\n[train]\nfreeze = \"2026-12-01\"\nrelease = \"2026-12-15\"\n",
    );
    let config = load().unwrap();
    assert!(config.branch_allowed("7.x"));
    assert!(config.train.is_some());
    expect![[r#"
        Read: release.toml

        Effective settings:
          allowed-branches  main, 7.x  (from release.toml `allowed-branches`)
          train             freeze 2026-12-01, release 2026-12-15  (from release.toml `train`)

        Notes:
          - release.toml is read as proofmark's settings (all its keys are proofmark's); move them under [release] in proofmark.toml, a name no other tool reads
    "#]]
    .assert_eq(&config.to_human());

    // Mixed with a cargo-release key, it is cargo-release's: our key is listed, not read.
    write("release.toml", "allowed-branches = [\"7.x\"]\nowners = [\"x\"]\ntag-prefix = \"\"\n");
    // proofmark.toml wins over release.toml; an unknown key there is listed too.
    write(
        "proofmark.toml",
        "[release]\nallowed-branches = [\"main\"]\ntag-template = \"v{version}\"\nfreez = 1\n\n[sign]\nkey = \"x\"\n",
    );
    let config = load().unwrap();
    assert!(!config.branch_allowed("7.x"));
    expect![[r#"
        Read: release.toml, proofmark.toml

        Effective settings:
          allowed-branches  main  (from proofmark.toml `release.allowed-branches`)
          tag-template      v{version}  (from proofmark.toml `release.tag-template`)

        Not honoured:
          release.toml `allowed-branches`: proofmark's own key in a file cargo-release reads: move it under [release] in proofmark.toml
          release.toml `owners`: proofmark does not manage crate owners
          proofmark.toml `release.freez`: unknown key
          release.toml `tag-prefix`: overridden by proofmark.toml `release.tag-template`
          proofmark.toml `sign`: unknown table (the settings are in [release])
    "#]]
    .assert_eq(&config.to_human());

    // Another tool's broken file is a note; a bad value in ours is an error naming it.
    write("release.toml", "owners = [\n");
    write(
        "proofmark.toml",
        "[release]\n[release.train]\nfreeze = \"2026-12-20\"\nrelease = \"2026-12-15\"\n",
    );
    let err = load().map(|_| ()).unwrap_err().to_string();
    assert!(
        err.contains("proofmark.toml") && err.contains("freeze 2026-12-20 is after release"),
        "{err}"
    );
    std::fs::remove_file(root.join("proofmark.toml")).unwrap();
    let config = load().unwrap();
    assert_eq!(config.not_honoured.len(), 1, "{config:?}");
    assert!(config.not_honoured[0].reason.starts_with("not valid TOML"), "{config:?}");
}

/// A single-crate repository that merges pull requests: GitHub merge commits (title in the
/// body), a branch that merged `main` into itself, squash merges, a direct commit.
fn pull_request_history(git: PathBuf, dir: &Path) -> (Git, Vec<String>) {
    let mut repo = Git::init(&git, dir);
    repo.write(
        "Cargo.toml",
        &manifest("widget", "1.0.0", "repository = \"https://github.com/acme/widget.git\"\n"),
    );
    let mut step = 0;
    let mut change = |repo: &mut Git, file: &str, message: &str| {
        step += 1;
        repo.write(file, &format!("//! step {step}\n"));
        repo.commit(message)
    };
    change(&mut repo, "src/lib.rs", "Initial version");
    repo.run(&["tag", "v1.0.0"]);
    let mut merges = Vec::new();
    // #651: two commits, then merged.
    repo.run(&["checkout", "-q", "-b", "fix-parser"]);
    change(&mut repo, "src/parser.rs", "Fixed clippy warnings");
    change(&mut repo, "src/parser.rs", "Handle empty input");
    repo.run(&["checkout", "-q", "main"]);
    // #653's branch starts here and later merges main into itself.
    repo.run(&["branch", "docs"]);
    merges.push(merge(
        &mut repo,
        "fix-parser",
        "Merge pull request #651 from acme/fix-parser\n\nFix the parser on empty input",
    ));
    repo.run(&["checkout", "-q", "-b", "sealing"]);
    change(&mut repo, "src/seal.rs", "Seal to PCRs");
    change(&mut repo, "src/seal.rs", "Review comments");
    repo.run(&["checkout", "-q", "main"]);
    merges.push(merge(
        &mut repo,
        "sealing",
        "Merge pull request #652 from bob/sealing\n\nAdd sealing to PCRs",
    ));
    repo.run(&["checkout", "-q", "docs"]);
    change(&mut repo, "src/docs.rs", "Reword the README section");
    merge(&mut repo, "main", "Merge branch 'main' into docs");
    change(&mut repo, "src/docs.rs", "Typos");
    repo.run(&["checkout", "-q", "main"]);
    merges.push(merge(
        &mut repo,
        "docs",
        "Merge pull request #653 from carol/docs\n\nUpdate the documentation",
    ));
    change(&mut repo, "src/old.rs", "Remove the deprecated API (#654)");
    change(&mut repo, "src/tpm.rs", "fix(tpm): retry on busy (#655)");
    change(&mut repo, "src/lib.rs", "Tidy the prelude");
    repo.run(&["checkout", "-q", "-b", "ci"]);
    change(&mut repo, "src/ci.rs", "Tweak the CI");
    repo.run(&["checkout", "-q", "main"]);
    merges.push(merge(&mut repo, "ci", "Merge pull request #656 from acme/ci\n\nchore: CI tweaks"));
    // A plain title over conventional commits: grouped by the commits' types.
    repo.run(&["checkout", "-q", "-b", "polish"]);
    change(&mut repo, "src/seal.rs", "fix: handle a zero PCR mask");
    change(&mut repo, "src/seal.rs", "docs: reword");
    repo.run(&["checkout", "-q", "main"]);
    merges.push(merge(&mut repo, "polish", "Merge pull request #657 from dave/polish\n\nPolish"));
    (repo, merges)
}

#[test]
fn pull_request_entries_fold_their_commits() {
    let Some(git) = proofmark_test_support::require_tool("git", "git") else { return };
    let temp = proofmark_test_support::temp_dir("config-pr");
    let (repo, merges) = pull_request_history(git, temp.path());
    let root = root_of(&repo);
    let plan = planned(&root);
    let release = &plan.releases[0];
    let entries = &release.section.as_ref().unwrap().entries;
    // git is the judge of folding: the commits a merge brought in are `M^1..M^2`.
    for merge in &merges {
        let key = &merge[..7];
        let brought = repo.run(&["rev-list", "--no-merges", &format!("{merge}^1..{merge}^2")]);
        assert!(!brought.trim().is_empty(), "{merge}");
        for id in brought.lines().map(|id| &id[..7]) {
            assert!(!entries.iter().any(|e| e.key == id), "{id} has its own entry");
            if let Some(entry) = entries.iter().find(|e| e.key == key) {
                assert!(entry.text.contains(id), "{id} is not folded into {key}: {entry:?}");
            }
        }
    }
    // The chore PR makes no entry; its commit is folded away with it.
    assert!(!entries.iter().any(|e| e.key == merges[3][..7]));
    check(
        &release.changelog,
        expect![[r#"
            ## [1.0.1] - 2026-11-28

            ### Added

            - Add sealing to PCRs ([#652](https://github.com/acme/widget/pull/652), a748a79)
              - Seal to PCRs (d8a34c4)
              - Review comments (bd69647)

            ### Changed

            - Tidy the prelude (b0d0bbb)
            - Update the documentation ([#653](https://github.com/acme/widget/pull/653), 0504509)
              - Reword the README section (c2b94c7)
              - Typos (9e31b19)

            ### Removed

            - Remove the deprecated API ([#654](https://github.com/acme/widget/pull/654), 6bf6ea3)

            ### Fixed

            - Polish ([#657](https://github.com/acme/widget/pull/657), d22bdc0)
              - fix: handle a zero PCR mask (c63dd65)
              - docs: reword (dd69a2e)
            - **tpm**: retry on busy ([#655](https://github.com/acme/widget/pull/655), 1177c61)
            - Fix the parser on empty input ([#651](https://github.com/acme/widget/pull/651), c175030)
              - Fixed clippy warnings (c70f0e7)
              - Handle empty input (c946078)
        "#]],
    );
    check(
        &plan.notes.join("\n"),
        expect![[r#"
            7 pull request(s), one entry each with its commits folded: 1 by a Conventional Commits prefix, 1 as Added by the title's first word, 1 as Removed by the title's first word, 1 as Fixed by the title's first word, 1 by the Conventional Commits types of their commits, 1 as Changed (no prefix, no known first word), 1 left out (a `chore`-like prefix or a skip rule)
            pull request titles do not change the bump (a non-conventional commit bumps patch): use --bump NAME=minor|major when a pull request adds a feature or breaks the API"#]],
    );
    // Only "Tidy the prelude", outside every pull request, is a non-conventional commit
    // listed as one: the others are grouped by their pull request's title.
    check(
        &plan.warnings.join("\n"),
        expect![
            "1 released commit(s) (merges not counted) do not follow Conventional Commits: they are listed under Changed and bump patch"
        ],
    );
    // The bump stays patch: no pull request title changes it.
    assert_eq!(release.next_version.to_string(), "1.0.1");
}
