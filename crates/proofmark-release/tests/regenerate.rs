//! Whole-history changelogs on a synthetic repository, judged by git: the commits listed in
//! each release section are exactly the ones `git log <tag> ^<previous tag> -- <crate>` lists.

#![allow(clippy::unwrap_used, reason = "a panic is the test's failure report")]

use std::collections::BTreeSet;

use expect_test::expect;
use proofmark_release::history::Repo;
use proofmark_release::regenerate::regenerate;
use proofmark_release::{Date, PlanOptions, Workspace};
use proofmark_test_support::cargo_registry::git;
use proofmark_test_support::history::Synthetic;

/// The abbreviated ids (seven hex digits in parentheses) in `text`.
fn ids(text: &str) -> BTreeSet<String> {
    text.match_indices('(')
        .filter_map(|(i, _)| {
            let id = text.get(i + 1..i + 8)?;
            (id.bytes().all(|b| b.is_ascii_hexdigit()) && text.get(i + 8..i + 9) == Some(")"))
                .then(|| id.to_owned())
        })
        .collect()
}

#[test]
fn every_release_section_lists_what_git_says_the_tag_added() {
    let Some(git_path) = proofmark_test_support::require_tool("git", "git") else { return };
    let temp = proofmark_test_support::temp_dir("regenerate");
    let dir = temp.path();
    // Over 4,096 commits, so attribution runs on several threads.
    let spec =
        Synthetic { commits: 5000, crates: 3, releases: 3, unreleased_tail: 150, merge_every: 40 };
    spec.build(&git_path, dir).unwrap();
    let root = dir.canonicalize().unwrap();
    let workspace = Workspace::load(&root).unwrap();
    let repo = Repo::open(&root).unwrap();
    let options = PlanOptions::new(Date::new(2026, 11, 28).unwrap());
    let regenerated = regenerate(&workspace, &repo, &options).unwrap();
    assert!(regenerated.warnings.is_empty(), "{:?}", regenerated.warnings);
    let total: usize = git(dir, &["rev-list", "--count", "HEAD"]).trim().parse().unwrap();
    assert_eq!(regenerated.commits, total);
    assert_eq!(regenerated.crates.len(), 3);
    for (k, changelog) in regenerated.crates.iter().enumerate() {
        assert_eq!(changelog.name, Synthetic::crate_name(k));
        assert_eq!(changelog.releases, 3);
        let dir_arg = Synthetic::crate_dir(k);
        let prefix = Synthetic::tag_prefix(k);
        let ranges: Vec<(String, String, Option<String>)> = vec![
            ("Unreleased".into(), "HEAD".into(), Some(format!("{prefix}0.3.0"))),
            ("0.3.0".into(), format!("{prefix}0.3.0"), Some(format!("{prefix}0.2.0"))),
            ("0.2.0".into(), format!("{prefix}0.2.0"), Some(format!("{prefix}0.1.0"))),
            ("0.1.0".into(), format!("{prefix}0.1.0"), None),
        ];
        for (version, to, from) in ranges {
            let section = if version == "Unreleased" {
                let start = changelog.text.find("## [Unreleased]").unwrap();
                let end = changelog.text[start..].find("\n## [0.3.0]").unwrap();
                changelog.text[start..start + end].to_owned()
            } else {
                proofmark_release::changelog::section_text(
                    &changelog.text,
                    &version.parse().unwrap(),
                )
                .unwrap()
            };
            // `--full-history`: no history simplification, so a commit is listed iff it changed
            // the folder against its parent, the engine's rule for non-merge commits.
            let mut args =
                vec!["log", "--full-history", "--no-merges", "--format=%h %s", "--abbrev=7", &to];
            let not = from.as_ref().map(|f| format!("^{f}"));
            if let Some(not) = &not {
                args.push(not);
            }
            args.extend(["--", &dir_arg]);
            // Chores (the first commit, release commits) make no entry; every other commit that
            // changed the folder makes one.
            let expected: BTreeSet<String> = git(dir, &args)
                .lines()
                .filter(|l| !l[8..].starts_with("chore"))
                .map(|l| l[..7].to_owned())
                .collect();
            assert!(!expected.is_empty(), "{} {version}: git lists nothing", changelog.name);
            assert_eq!(ids(&section), expected, "{} {version}", changelog.name);
        }
    }
    let head: String = regenerated.crates[1].text.lines().take(24).collect::<Vec<_>>().join("\n");
    expect![[r#"
        # Changelog

        All notable changes to this crate are documented in this file.

        The format is based on [Keep a Changelog](https://keepachangelog.com/en/1.1.0/),
        and this crate adheres to [Semantic Versioning](https://semver.org/spec/v2.0.0.html).

        ## [Unreleased]

        ### Added

        - add option 4998 (8b6f6a7)
        - add option 4995 (9e0b275)
        - add option 4993 (ce30d1b)
        - add option 4945 (a81e56f)
        - add option 4897 (ea54978)
        - add option 4886 (728f6d9)
        - add option 4878 (8f8c644)
        - add option 4876 (8550d07)

        ### Changed

        - explain 4984 (f416c29)
        - shared helper 4977 (0d6f7b0)"#]]
    .assert_eq(&head);
}

// Regeneration writes, for a released version, the section the plan of that version wrote:
// each scripted history below is planned, the plan's tags are made at HEAD (the release), and
// the regenerated section is compared with the plan's, and both with git.

/// The section of `version` in a changelog, without its heading (dates differ: the plan's is
/// its date, the regenerated one the tagged commit's).
fn body(changelog: &str, version: &semver::Version) -> String {
    let text = proofmark_release::changelog::section_text(changelog, version)
        .unwrap_or_else(|| panic!("no {version} section in\n{changelog}"));
    text.split_once('\n').map(|(_, rest)| rest.to_owned()).unwrap_or_default()
}

/// Plans `dir`, makes every planned tag at HEAD, regenerates, and checks that each released
/// crate's regenerated section is the plan's. Returns the plan and the regenerated changelogs.
fn plan_release_regenerate(
    dir: &std::path::Path,
    repo: &proofmark_test_support::history::Scripted,
) -> (proofmark_release::ReleasePlan, proofmark_release::regenerate::Regenerated) {
    let options = PlanOptions::new(Date::new(2026, 11, 28).unwrap());
    let plan = proofmark_release::plan_workspace(dir, &options).unwrap();
    assert!(!plan.releases.is_empty(), "{}", plan.to_human());
    for release in &plan.releases {
        repo.run(&["tag", &release.tag]);
    }
    let root = dir.canonicalize().unwrap();
    let workspace = Workspace::load(&root).unwrap();
    let regenerated = regenerate(&workspace, &Repo::open(&root).unwrap(), &options).unwrap();
    for release in &plan.releases {
        let changelog = regenerated.crates.iter().find(|c| c.name == release.name).unwrap();
        assert_eq!(
            body(&changelog.text, &release.next_version),
            body(&release.changelog, &release.next_version),
            "{} {}: regenerated section differs from the plan's",
            release.name,
            release.next_version
        );
    }
    (plan, regenerated)
}

/// (crate, commit) pairs.
fn pairs<'a>(items: impl Iterator<Item = (&'a str, &'a str)>) -> BTreeSet<(String, String)> {
    items.map(|(c, id)| (c.to_owned(), id.to_owned())).collect()
}

#[test]
fn commits_without_net_effect_make_no_entry_as_in_the_plan() {
    let Some(git_path) = proofmark_test_support::require_tool("git", "git") else { return };
    let temp = proofmark_test_support::temp_dir("regenerate-net-effect");
    let dir = temp.path();
    let repo = proofmark_test_support::history::classes::release_branch_merged_back(&git_path, dir);
    let (plan, regenerated) = plan_release_regenerate(dir, &repo);
    let planned = pairs(plan.no_effect.iter().map(|c| (c.crate_name.as_str(), c.id.as_str())));
    let regen = pairs(regenerated.no_effect.iter().map(|c| (c.crate_name.as_str(), c.id.as_str())));
    assert_eq!(regen, planned, "{}", plan.to_human());
    let merge = repo.rev_parse("HEAD");
    let typo = repo.rev_parse("HEAD^1");
    assert!(planned.contains(&("b".to_owned(), merge.clone())), "{planned:?}");
    assert!(planned.contains(&("c".to_owned(), typo.clone())), "{planned:?}");
    // git's judgement of each: a plain commit changed only files `cargo package` leaves out
    // (the changelog, `b`'s excluded tests); a merge changed only files that are exactly as
    // in the crate's last release.
    for (name, id) in &planned {
        let dir_arg = format!("crates/{name}");
        let changed = git(dir, &["diff", "--name-only", &format!("{id}^1"), id, "--", &dir_arg]);
        let parents = git(dir, &["rev-list", "--parents", "-n1", id]);
        if parents.split_whitespace().count() > 2 {
            // `a` was last released in 1.0.1, `b` in 1.1.0 (both on the release branch).
            let last = if name == "a" { "a-1.0.1" } else { "b-1.1.0" };
            let mut args = vec!["diff", "--name-only", last, id.as_str(), "--"];
            args.extend(changed.lines());
            assert_eq!(git(dir, &args), "", "{name}: {id} brings more than {last}");
        } else {
            assert!(
                changed
                    .lines()
                    .all(|p| p.ends_with("/CHANGELOG.md") || p.starts_with("crates/b/tests/")),
                "{name}: {id} changed packaged files: {changed}"
            );
        }
    }
    // The regenerated changelogs name none of them: `c`'s typo fix made no entry, nor did the
    // pull request that merged the release back.
    let c = regenerated.crates.iter().find(|c| c.name == "c").unwrap();
    assert!(!c.text.contains(&typo[..7]), "{}", c.text);
    for changelog in &regenerated.crates {
        assert!(!changelog.text.contains(&merge[..7]), "{}", changelog.text);
        assert!(!changelog.text.contains("#7"), "{}", changelog.text);
    }
}

#[test]
fn commits_released_on_a_maintenance_branch_make_no_entry_as_in_the_plan() {
    let Some(git_path) = proofmark_test_support::require_tool("git", "git") else { return };
    let temp = proofmark_test_support::temp_dir("regenerate-cherry");
    let dir = temp.path();
    let repo =
        proofmark_test_support::history::classes::maintenance_branch_cherry_picks(&git_path, dir);
    let (plan, regenerated) = plan_release_regenerate(dir, &repo);
    let key = |c: &proofmark_release::skip::AlreadyReleased| {
        (c.crate_name.clone(), c.id.clone(), c.version.to_string(), c.released_as.clone())
    };
    let planned: BTreeSet<_> = plan.already_released.iter().map(key).collect();
    let regen: BTreeSet<_> = regenerated.already_released.iter().map(key).collect();
    assert_eq!(planned.len(), 2, "{}", plan.to_human());
    assert_eq!(regen, planned);
    // git's judgement: `git cherry` marks with `-` exactly the commits of core-v7.0.1 whose
    // patch core-v8.0.0 has, and `git patch-id --stable` pairs them with the originals.
    let cherry = git(dir, &["cherry", "core-v8.0.0", "core-v7.0.1"]);
    let copies: BTreeSet<String> =
        cherry.lines().filter_map(|l| l.strip_prefix("- ")).map(str::to_owned).collect();
    let released_as: BTreeSet<String> = planned.iter().map(|(_, _, _, c)| c.clone()).collect();
    assert_eq!(released_as, copies, "{cherry}");
    for (_, id, version, copy) in &planned {
        assert_eq!(version, "7.0.1");
        let original = patch_id(dir, id);
        assert!(!original.is_empty(), "{id} has no patch-id");
        assert_eq!(original, patch_id(dir, copy), "{id} and {copy}");
        let core = regenerated.crates.iter().find(|c| c.name == "core").unwrap();
        assert!(!core.text.contains(&id[..7]), "{}", core.text);
    }
}

#[test]
fn pull_requests_make_one_entry_each_as_in_the_plan() {
    let Some(git_path) = proofmark_test_support::require_tool("git", "git") else { return };
    let temp = proofmark_test_support::temp_dir("regenerate-pr");
    let dir = temp.path();
    let mut repo = proofmark_test_support::history::Scripted::init(&git_path, dir);
    let manifest = |version: &str| {
        proofmark_test_support::history::crate_manifest(
            "solo",
            version,
            "repository = \"https://github.com/family/solo\"\n",
        )
    };
    repo.write("Cargo.toml", &manifest("1.0.0"));
    repo.write("src/lib.rs", "//! solo\n");
    repo.commit("Initial version");
    repo.run(&["tag", "v1.0.0"]);
    repo.run(&["checkout", "-q", "-b", "fix"]);
    repo.write("src/lib.rs", "//! solo\npub fn parse() {}\n");
    repo.commit("Handle empty input");
    repo.write("src/lib.rs", "//! solo\npub fn parse() -> bool { true }\n");
    repo.commit("Fixed clippy warnings");
    repo.run(&["checkout", "-q", "main"]);
    repo.step(&[
        "merge",
        "-q",
        "--no-ff",
        "-m",
        "Merge pull request #651 from ionut/fix\n\nFix the parser on empty input",
        "fix",
    ]);
    repo.write("src/seal.rs", "// sealing\n");
    repo.commit("Add sealing support (#652)");
    let (plan, regenerated) = plan_release_regenerate(dir, &repo);
    let release = &plan.releases[0];
    let section = body(&regenerated.crates[0].text, &release.next_version);
    // git's judgement: the commits the merge brought in (`M^1..M^2`) are folded under the
    // pull request's entry and make none of their own.
    let merge = repo.rev_parse("HEAD^1");
    let brought = git(dir, &["rev-list", &format!("{merge}^1..{merge}^2")]);
    assert_eq!(brought.lines().count(), 2);
    let entry_lines: Vec<&str> = section.lines().filter(|l| l.starts_with("- ")).collect();
    assert_eq!(entry_lines.len(), 2, "{section}");
    for id in brought.lines() {
        let line = section.lines().find(|l| l.contains(&id[..7])).unwrap();
        assert!(line.starts_with("  - "), "{id} is not folded: {section}");
    }
    assert!(
        section.contains(&format!(
            "Fix the parser on empty input ([#651](https://github.com/family/solo/pull/651), {})",
            &merge[..7]
        )),
        "{section}"
    );
    assert!(section.contains("Add sealing support ([#652]"), "{section}");
    assert_eq!(regenerated.notes, plan.notes);
}

fn patch_id(dir: &std::path::Path, commit: &str) -> String {
    let patch = git(dir, &["show", "--format=", commit]);
    let mut child = std::process::Command::new("git")
        .args(["patch-id", "--stable"])
        .current_dir(dir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), patch.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout).split_whitespace().next().unwrap_or_default().to_owned()
}
