//! Targets as a user names them, against a fixture local registry (index-only stage, no cargo):
//! names match as crates.io matches them, and a target that matches nothing is an error that
//! says what the index has.
#![allow(clippy::unwrap_used, reason = "tests")]

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use expect_test::{Expect, expect};
use proofmark_deps::cargo::{CargoEnv, Toolchain};
use proofmark_deps::index::{Index, RegistrySource};
use proofmark_deps::policy::Policy;
use proofmark_deps::probe::{ProbeOptions, Stage};
use proofmark_deps::{CheckOptions, Error, Target, check};
use support::Pkg;

const T1: &str = "2024-01-01T00:00:00Z";

fn registry(dir: &Path) -> Index {
    let lib = "pub fn f() {}\n";
    let mut pkgs = vec![
        Pkg::new("my-crate", "1.0.0", T1, lib),
        Pkg::new("my-crate", "1.1.0", T1, lib).yanked(),
        Pkg::new("my-crate", "1.2.0", T1, lib),
        Pkg::new("my-crate", "2.0.0-rc.1", T1, lib),
        Pkg::new("Upper_Case", "0.1.0", T1, lib),
    ];
    pkgs.extend(
        ["0.1.0", "0.2.0", "0.3.0", "0.4.0", "0.5.0", "0.6.0"]
            .map(|v| Pkg::new("many", v, T1, lib)),
    );
    pkgs.extend(
        ["0.7.0", "0.8.0", "0.9.0", "0.10.0", "0.11.0", "0.12.0"]
            .map(|v| Pkg::new("many", v, T1, lib)),
    );
    support::local_registry(&pkgs, dir);
    Index::new(RegistrySource::Local(dir.to_owned()))
}

/// The published `name@version`s a check of `targets` covers and its warnings, or its error;
/// the fixture registry's folder shows as `REGISTRY`.
fn targets(targets: &[&str], require_published: bool) -> String {
    let dir = proofmark_test_support::temp_dir("deps-targets");
    let index = registry(&dir.path().join("registry"));
    let env = CargoEnv {
        cargo: PathBuf::from("cargo"),
        cargo_home: None,
        target_root: dir.path().join("target"),
        scratch_root: dir.path().join("scratch"),
        offline: true,
        build_jobs: 1,
    };
    let toolchain = Toolchain {
        rustc: "rustc 1.85.0 (fixture)".to_owned(),
        version: semver::Version::new(1, 85, 0),
        host: "x86_64-unknown-linux-gnu".to_owned(),
    };
    let opts = CheckOptions {
        targets: targets.iter().map(|t| t.parse::<Target>().unwrap()).collect(),
        probe: ProbeOptions {
            stage: Stage::Index,
            timeout: Duration::from_secs(60),
            probe_timeout: None,
            retries: 0,
            culprit: false,
            registry: None,
            features: Vec::new(),
        },
        workers: 1,
        advisory_db: None,
        policy: Policy::default(),
        shard: None,
        cache_dir: None,
        require_published,
    };
    let registry = index.source().to_string();
    let report = match check(&index, &env, &toolchain, &opts, &|_| {}) {
        Ok(report) => report,
        Err(error @ (Error::NotPublished { .. } | Error::NoMatchingVersion { .. })) => {
            return format!("error: {error}").replace(&registry, "REGISTRY");
        }
        Err(other) => panic!("{other}"),
    };
    let mut covered: Vec<String> = report
        .findings
        .iter()
        .flat_map(|f| f.evidence.iter().map(|e| format!("{}@{}", e.name, e.version)))
        .collect();
    covered.extend(report.warnings.iter().map(|w| format!("warning: {w}")));
    covered.sort();
    covered.dedup();
    covered.join("\n").replace(&registry, "REGISTRY")
}

fn check_targets(given: &[&str], require_published: bool, expect: Expect) {
    expect.assert_eq(&targets(given, require_published));
}

#[test]
fn names_match_as_the_registry_matches_them() {
    check_targets(
        &["my_crate@1.0.0", "MY-CRATE@1.2.0", "upper-case"],
        true,
        expect![[r#"
            Upper_Case@0.1.0
            my-crate@1.0.0
            my-crate@1.2.0"#]],
    );
}

#[test]
fn a_version_the_index_does_not_have_is_an_error_listing_what_it_has() {
    check_targets(
        &["my-crate@99.0.0"],
        true,
        expect![
            "error: `my-crate@99.0.0` matches no version in REGISTRY, which has 1.0.0, 1.1.0 (yanked), 1.2.0, 2.0.0-rc.1; name one of these versions (`my-crate@VERSION`) or `my-crate` for all"
        ],
    );
}

#[test]
fn a_requirement_only_pre_releases_satisfy_is_an_error_naming_the_pre_release() {
    check_targets(
        &["my_crate@^2"],
        true,
        expect![
            "error: `my_crate@^2` matches no version in REGISTRY, which has 1.0.0, 1.1.0 (yanked), 1.2.0, 2.0.0-rc.1; a requirement matches a pre-release only when it names one: `my-crate@=2.0.0-rc.1`"
        ],
    );
    // Named, the pre-release is checked.
    check_targets(&["my_crate@=2.0.0-rc.1"], true, expect!["my-crate@2.0.0-rc.1"]);
}

#[test]
fn a_long_version_list_is_shortened() {
    check_targets(
        &["many@^1"],
        true,
        expect![
            "error: `many@^1` matches no version in REGISTRY, which has 12 versions: 0.1.0, 0.2.0, 0.3.0, …, 0.7.0, 0.8.0, 0.9.0, 0.10.0, 0.11.0, 0.12.0; name one of these versions (`many@VERSION`) or `many` for all"
        ],
    );
}

#[test]
fn an_unpublished_crate_is_an_error_when_named_and_a_warning_for_a_workspace() {
    check_targets(
        &["no-such-crate"],
        true,
        expect![[
            r#"error: `no-such-crate` is not published in REGISTRY (looked up as crates.io does: case and `-`/`_` ignored); check the name, or pass `--registry NAME` for a crate of an alternate registry"#
        ]],
    );
    check_targets(
        &["no-such-crate", "my-crate@1.0.0"],
        false,
        expect![[r#"
            my-crate@1.0.0
            warning: `no-such-crate` is not published in REGISTRY"#]],
    );
}
