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
