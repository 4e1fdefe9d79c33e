//! Tidy tests: the workspace's invariants, checked by plain `cargo test` (after rust-analyzer's
//! `tidy.rs`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if name == "target" || name.to_string_lossy().starts_with('.') {
            continue;
        }
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_rust_file_starts_with_a_module_doc() {
    let root = crate::project_root();
    let mut files = Vec::new();
    rust_files(&root.join("crates"), &mut files);
    rust_files(&root.join("xtask"), &mut files);
    assert!(files.len() > 5, "found only {files:?}");
    let missing: Vec<_> = files
        .iter()
        .filter(|f| {
            let text = std::fs::read_to_string(f).unwrap();
            !text.trim_start().starts_with("//!")
        })
        .map(|f| f.strip_prefix(&root).unwrap().display().to_string())
        .collect();
    assert!(missing.is_empty(), "files without a `//!` module doc: {missing:?}");
}

/// The resolved graph for this machine's target: what actually gets linked here, and nothing
/// that would need downloading crates for other platforms.
fn metadata() -> Value {
    let rustc = std::process::Command::new("rustc").arg("-vV").output().unwrap();
    let host = String::from_utf8(rustc.stdout)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_owned))
        .unwrap();
    let out = crate::cmd::cargo()
        .args(["metadata", "--format-version", "1", "--locked", "--offline", "--filter-platform"])
        .arg(host)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn only_proofmark_tpm_links_tss_esapi() {
    let meta = metadata();
    let packages = meta["packages"].as_array().unwrap();
    let members: BTreeSet<&str> =
        meta["workspace_members"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();

    for p in packages.iter().filter(|p| members.contains(p["id"].as_str().unwrap())) {
        let name = p["name"].as_str().unwrap();
        if name == "proofmark-tpm" {
            continue;
        }
        let direct: Vec<_> = p["dependencies"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["name"].as_str().unwrap().starts_with("tss-esapi"))
            .collect();
        assert!(direct.is_empty(), "{name} depends on tss-esapi directly; only proofmark-tpm may");
    }

    // Neither xtask nor the types crate may reach it through any normal or build dependency.
    // `cargo tree -p X` resolves features as a build of X alone would (not unified with the
    // rest of the workspace), which is what `cargo xtask` builds on a machine without libtss2.
    for root in ["xtask", "proofmark-types"] {
        let out = crate::cmd::cargo()
            .args(["tree", "--locked", "--offline", "-e", "normal,build", "--prefix", "none", "-p"])
            .arg(root)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let tree = String::from_utf8(out.stdout).unwrap();
        let linked: BTreeSet<&str> = tree.lines().filter(|l| l.starts_with("tss-esapi")).collect();
        assert!(linked.is_empty(), "{root} reaches {linked:?}");
        assert!(tree.lines().count() > 3, "implausibly small tree for {root}:\n{tree}");
    }
}

#[test]
fn every_crate_uses_workspace_lints_and_metadata() {
    let root = crate::project_root();
    let mut manifests: Vec<PathBuf> = std::fs::read_dir(root.join("crates"))
        .unwrap()
        .flatten()
        .map(|e| e.path().join("Cargo.toml"))
        .filter(|p| p.exists())
        .collect();
    manifests.push(root.join("xtask/Cargo.toml"));
    for manifest in manifests {
        let text = std::fs::read_to_string(&manifest).unwrap();
        let shown = manifest.strip_prefix(&root).unwrap().display().to_string();
        assert!(
            text.contains("[lints]\nworkspace = true"),
            "{shown}: add `[lints] workspace = true`"
        );
        assert!(text.contains("description = "), "{shown}: add a description");
        assert!(text.contains("license.workspace = true"), "{shown}: inherit the license");
        let publishable = !text.contains("publish = false");
        if publishable {
            let dir = manifest.parent().unwrap();
            assert!(dir.join("README.md").exists(), "{shown}: a published crate needs a README.md");
            assert!(text.contains("readme = "), "{shown}: point `readme` at the README");
        }
    }
}

/// The workspace members that are published: every member not marked `publish = false`.
fn publishable(meta: &Value) -> Vec<&Value> {
    let members: BTreeSet<&str> =
        meta["workspace_members"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    let found: Vec<&Value> = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| members.contains(p["id"].as_str().unwrap()))
        // `publish` is null when unrestricted and `[]` for `publish = false`.
        .filter(|p| p["publish"].as_array().is_none_or(|registries| !registries.is_empty()))
        .collect();
    assert!(found.len() >= 5, "implausibly few publishable crates: {}", found.len());
    found
}

#[test]
fn every_published_crate_carries_the_licence_text() {
    let root = crate::project_root();
    let licence = std::fs::read(root.join("LICENSE")).expect("the repository needs a LICENSE");
    assert!(
        String::from_utf8_lossy(&licence)
            .contains("Apache License\n                           Version 2.0"),
        "LICENSE is not the Apache License 2.0 text"
    );
    let meta = metadata();
    let mut missing = Vec::new();
    for p in publishable(&meta) {
        let name = p["name"].as_str().unwrap();
        assert_eq!(p["license"].as_str(), Some("Apache-2.0"), "{name}: license");
        // What `cargo publish` would upload: the list is cargo's, not a guess from the folder.
        let out = crate::cmd::cargo()
            .args(["package", "--list", "--allow-dirty", "--no-verify", "--offline", "-p", name])
            .output()
            .unwrap();
        assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
        let list = String::from_utf8(out.stdout).unwrap();
        assert!(list.lines().any(|l| l == "Cargo.toml"), "{name}: implausible list:\n{list}");
        if !list.lines().any(|l| l == "LICENSE") {
            missing.push(format!("{name}: its package has no LICENSE"));
            continue;
        }
        // The copy in the crate folder is what gets packaged; it must not drift from the root's.
        let manifest = Path::new(p["manifest_path"].as_str().unwrap());
        let copy = std::fs::read(manifest.with_file_name("LICENSE")).unwrap();
        if copy != licence {
            missing.push(format!("{name}: LICENSE differs from the root LICENSE; copy it again"));
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

/// `1.85` or `1.85.1` as a comparable triple.
fn rust_version(text: &str) -> (u64, u64, u64) {
    let mut parts = text.split('.').map(|p| p.parse::<u64>().unwrap());
    (parts.next().unwrap(), parts.next().unwrap_or(0), parts.next().unwrap_or(0))
}

/// Every package that `roots` reach through normal and build dependencies (dev-dependencies are
/// not built by anyone who depends on us), with the name of a root that reaches it.
fn reached<'a>(meta: &'a Value, roots: &[&'a str]) -> BTreeMap<&'a str, &'a str> {
    let nodes: BTreeMap<&str, &Value> = meta["resolve"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["id"].as_str().unwrap(), n))
        .collect();
    let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
    let mut stack: Vec<(&str, &str)> = roots.iter().map(|r| (*r, *r)).collect();
    while let Some((id, root)) = stack.pop() {
        if seen.insert(id, root).is_some() {
            continue;
        }
        for dep in nodes[id]["deps"].as_array().unwrap() {
            let linked = dep["dep_kinds"]
                .as_array()
                .unwrap()
                .iter()
                .any(|k| k["kind"].as_str().is_none_or(|kind| kind == "build"));
            if linked {
                stack.push((dep["pkg"].as_str().unwrap(), root));
            }
        }
    }
    seen
}

/// The declared MSRV is only true if nothing we link needs a newer Rust: clippy's
/// `incompatible_msrv` catches our own use of newer std APIs, this catches our dependencies'.
#[test]
fn no_dependency_of_a_published_crate_needs_a_newer_rust_than_ours() {
    let meta = metadata();
    let publishable = publishable(&meta);
    let ours =
        publishable[0]["rust_version"].as_str().expect("the workspace declares rust-version");
    for p in &publishable {
        let name = p["name"].as_str().unwrap();
        assert_eq!(p["rust_version"].as_str(), Some(ours), "{name}: inherit the workspace MSRV");
    }
    let too_new = needs_newer_rust(&meta, ours);
    assert!(
        too_new.is_empty(),
        "rust-version {ours} is not true; pin these down (`cargo update -p NAME --precise OLDER`) \
         or raise the workspace rust-version:\n{}",
        too_new.join("\n")
    );
}

/// The normal and build dependencies of published crates that declare a `rust-version` above
/// `ours`, one line each.
fn needs_newer_rust(meta: &Value, ours: &str) -> Vec<String> {
    let packages: BTreeMap<&str, &Value> = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_str().unwrap(), p))
        .collect();
    let roots: Vec<&str> = publishable(meta).iter().map(|p| p["id"].as_str().unwrap()).collect();
    let reached = reached(meta, &roots);
    assert!(reached.len() > 50, "implausibly small graph: {} packages", reached.len());
    reached
        .iter()
        .filter_map(|(id, root)| {
            let dep = packages[id];
            let needs = dep["rust_version"].as_str()?;
            (rust_version(needs) > rust_version(ours)).then(|| {
                format!(
                    "{} {} needs Rust {needs} (reached from {})",
                    dep["name"].as_str().unwrap(),
                    dep["version"].as_str().unwrap(),
                    packages[root]["name"].as_str().unwrap()
                )
            })
        })
        .collect()
}

#[test]
fn the_msrv_check_finds_dependencies_that_need_a_newer_rust() {
    // Against an MSRV older than edition 2024, many dependencies must be reported, and no
    // dev-dependency-only package (criterion is only a dev-dependency) may be among them.
    let found = needs_newer_rust(&metadata(), "1.60");
    assert!(found.len() > 10, "{found:#?}");
    assert!(found.iter().any(|l| l.starts_with("tss-esapi ")), "{found:#?}");
    assert!(!found.iter().any(|l| l.starts_with("criterion ")), "{found:#?}");
}

#[test]
fn clippy_incompatible_msrv_stays_on() {
    let root = crate::project_root();
    // clippy reads the MSRV from `rust-version`; an `msrv` in clippy.toml would override it.
    let config = std::fs::read_to_string(root.join("clippy.toml")).unwrap_or_default();
    assert!(!config.lines().any(|l| l.trim_start().starts_with("msrv")), "clippy.toml sets msrv");
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    assert!(manifest.contains("suspicious = { level = \"warn\""), "the suspicious group is off");
    let mut files = Vec::new();
    rust_files(&root.join("crates"), &mut files);
    rust_files(&root.join("xtask"), &mut files);
    files.push(root.join("Cargo.toml"));
    let needle = ["incompatible", "_msrv"].concat();
    let allowed: Vec<_> = files
        .iter()
        .filter(|f| {
            let text = std::fs::read_to_string(f).unwrap();
            text.lines().any(|l| l.contains(&needle) && (l.contains("allow") || l.contains("= \"")))
        })
        .collect();
    assert!(allowed.is_empty(), "{needle} is allowed or reconfigured in {allowed:?}");
}

#[test]
fn rust_versions_compare_as_numbers() {
    assert!(rust_version("1.85") < rust_version("1.85.1"));
    assert!(rust_version("1.9") < rust_version("1.85"));
    assert_eq!(rust_version("1.85"), rust_version("1.85.0"));
}

/// docs.rs and crates.io show the README: its examples must compile, so each published crate's
/// lib.rs includes it as a doctest (`#[doc = include_str!("../README.md")]`) and it has one.
#[test]
fn every_published_readme_has_a_compiled_example() {
    let meta = metadata();
    let mut missing = Vec::new();
    for p in publishable(&meta) {
        let name = p["name"].as_str().unwrap();
        let dir = Path::new(p["manifest_path"].as_str().unwrap()).parent().unwrap().to_owned();
        let readme = std::fs::read_to_string(dir.join("README.md")).unwrap_or_default();
        if !readme.lines().any(|l| l.starts_with("```rust")) {
            missing.push(format!("{name}: README.md has no ```rust example"));
        }
        let lib = std::fs::read_to_string(dir.join("src/lib.rs")).unwrap_or_default();
        if !lib.contains("#[doc = include_str!(\"../README.md\")]") {
            missing.push(format!("{name}: src/lib.rs does not include README.md as a doctest"));
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}
