//! The gate's packager checks on a real `cargo package`: `license` (the `.crate` carries a
//! licence text) and `package-tests` (the tests of the unpacked `.crate` build offline, as a
//! distribution's `cargo test` would run them). Judge: cargo, on a workspace written here.

use std::fmt::Write as _;
use std::path::Path;

use expect_test::expect;
use proofmark_release::config::ReleaseConfig;
use proofmark_release::readiness::{PackageOptions, Target, check_packages};
use semver::Version;

fn write(dir: &Path, path: &str, text: &str) {
    let path = dir.join(path);
    std::fs::create_dir_all(path.parent().unwrap_or(dir)).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

/// A workspace: `harness` (never published), `widget` whose integration test uses the
/// harness, and `tool`, which depends on `widget` and has a unit test. `widget_extra` is
/// appended to widget's `[package]`; `licence` says whether the crates carry a LICENSE.
fn workspace(dir: &Path, widget_extra: &str, licence: bool) {
    write(
        dir,
        "Cargo.toml",
        "[workspace]\nmembers = [\"harness\", \"widget\", \"tool\"]\nresolver = \"2\"\n",
    );
    let package = |name: &str, extra: &str| {
        format!(
            "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\
             rust-version = \"1.85\"\nlicense = \"MIT\"\ndescription = \"The {name} crate.\"\n{extra}"
        )
    };
    write(dir, "harness/Cargo.toml", &package("harness", "publish = false\n"));
    write(dir, "harness/src/lib.rs", "//! Test harness.\npub fn fixture() -> u32 { 41 }\n");
    write(
        dir,
        "widget/Cargo.toml",
        &(package("widget", widget_extra)
            + "\n[dev-dependencies]\nharness = { path = \"../harness\" }\n"),
    );
    write(dir, "widget/src/lib.rs", "//! Widgets.\npub fn spin() -> u32 { 1 }\n");
    write(
        dir,
        "widget/tests/with_harness.rs",
        "//! Needs the harness.\n#[test]\nfn spins() { assert_eq!(harness::fixture() + widget::spin(), 42); }\n",
    );
    write(
        dir,
        "tool/Cargo.toml",
        &(package("tool", "")
            + "\n[dependencies]\nwidget = { path = \"../widget\", version = \"0.1.0\" }\n"),
    );
    write(
        dir,
        "tool/src/lib.rs",
        "//! Tools.\npub fn use_it() -> u32 { widget::spin() }\n\
         #[cfg(test)]\nmod tests {\n    #[test]\n    fn uses() { assert_eq!(super::use_it(), 1); }\n}\n",
    );
    for name in ["widget", "tool"] {
        write(
            dir,
            &format!("{name}/CHANGELOG.md"),
            "# Changelog\n\n## [0.1.0] - 2026-12-02\n\nMSRV: 1.85\n\n### Added\n\n- first\n",
        );
        if licence {
            write(dir, &format!("{name}/LICENSE"), "MIT License\n");
        }
    }
}

/// The gate's checks of ids `license` and `package-tests`, one line each.
fn packager_checks(dir: &Path) -> String {
    let targets: Vec<Target> = ["widget", "tool"]
        .iter()
        .map(|name| Target {
            name: (*name).to_owned(),
            version: Version::new(0, 1, 0),
            rust_version: Some("1.85".to_owned()),
        })
        .collect();
    let family = ["widget".to_owned(), "tool".to_owned()];
    let options = PackageOptions {
        offline: true,
        allow_dirty: true,
        target_dir: Some(dir.join("target")),
        ..PackageOptions::default()
    };
    let readiness = check_packages(dir, &targets, &family, &ReleaseConfig::default(), &options)
        .unwrap_or_else(|e| panic!("{e}"));
    let mut out = String::new();
    for check in &readiness.checks {
        if !["package", "license", "package-tests"].contains(&check.id) {
            continue;
        }
        let mut message = check.message.clone();
        // Keep the verdict and the first error, not cargo's whole command line.
        if let Some(at) = message.find(" (`") {
            let rest = &message[at..];
            let end = rest.find("`): ").map_or(rest.len(), |e| e + 4);
            message = format!("{}: {}", &message[..at], &rest[end..]);
        }
        let message = message.split(" / ").next().unwrap_or_default().to_owned();
        // rustc's wording changes between versions; the code and the crate named do not.
        let message = match message.find("error[") {
            Some(at) => {
                let code =
                    &message[at..message[at..].find(']').map_or(message.len(), |e| at + e + 1)];
                let named = if message.contains("`harness`") { "names `harness`" } else { "?" };
                format!("{}{code}, {named}", &message[..at])
            }
            None => message,
        };
        let krate = check.krate.as_deref().unwrap_or("-");
        let _ = writeln!(out, "{:?} {} {krate}: {message}", check.status, check.id);
    }
    out
}

#[test]
fn the_gate_builds_the_tests_of_each_unpacked_crate_and_wants_a_licence() {
    let temp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let dir = temp.path();

    // The package ships the test that needs the unpublished harness (cargo strips the
    // harness from the published manifest): a packager's `cargo test` cannot build it.
    workspace(dir, "", false);
    let shipped = packager_checks(dir);
    // Tests left out of the package, and a licence in each crate folder.
    workspace(dir, "include = [\"/src\", \"/LICENSE\", \"/CHANGELOG.md\"]\n", true);
    let left_out = packager_checks(dir);
    expect![[r#"
        Pass package -: packaged widget, tool and verified
        Fail license widget: widget-0.1.0.crate carries no licence text (no LICENSE*, COPYING* or `license-file`): packagers must ship it; put the licence file in the crate folder (and in `include`, if set) or name it with `license-file`
        Fail license tool: tool-0.1.0.crate carries no licence text (no LICENSE*, COPYING* or `license-file`): packagers must ship it; put the licence file in the crate folder (and in `include`, if set) or name it with `license-file`
        Fail package-tests widget: the tests of the unpacked widget-0.1.0.crate do not build offline: error[E0433], names `harness`
        Pass package-tests tool: the tests of the unpacked tool-0.1.0.crate build offline (cargo test --no-run)
    "#]]
    .assert_eq(&shipped);
    expect![[r#"
        Pass package -: packaged widget, tool and verified
        Pass license widget: widget-0.1.0.crate carries LICENSE
        Pass license tool: tool-0.1.0.crate carries LICENSE
        Pass package-tests widget: the tests of the unpacked widget-0.1.0.crate build offline (cargo test --no-run)
        Pass package-tests tool: the tests of the unpacked tool-0.1.0.crate build offline (cargo test --no-run)
    "#]]
    .assert_eq(&left_out);
}
