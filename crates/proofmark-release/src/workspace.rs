//! The workspace model: members, versions, publish flags, path dependencies and the order in
//! which crates must be published.
//!
//! The model comes from `cargo metadata --format-version 1 --no-deps --offline` (run as a
//! subprocess with `$CARGO`, or `cargo`), so it sees exactly what cargo sees: inherited
//! versions are already resolved, globs in `members` are expanded. The manifests are then read
//! as TOML only to learn what cargo metadata does not say: whether a crate inherits its
//! version from `[workspace.package]`, and whether a dependency's requirement is written in
//! the crate's manifest or inherited from `[workspace.dependencies]` — the file a version
//! change has to edit.
//!
//! Dependency order only counts normal and build dependencies between published members:
//! path-only dev-dependencies are stripped by `cargo publish`, so they never constrain the
//! order (and may form cycles, which Cargo allows).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use semver::{Version, VersionReq};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// One member crate of the workspace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Package {
    /// The crate name.
    pub name: String,
    /// The version cargo resolved (inherited versions included).
    pub version: Version,
    /// Absolute path of the crate's `Cargo.toml`.
    pub manifest_path: PathBuf,
    /// The crate's folder relative to the workspace root, `/`-separated; empty for a root
    /// package.
    pub dir: String,
    /// Whether the version is `version.workspace = true`.
    pub version_inherited: bool,
    /// `false` for `publish = false` (or an empty registry list).
    pub publish: bool,
    /// Dependencies on other workspace members.
    pub member_dependencies: Vec<MemberDependency>,
    /// `rust-version` (the MSRV), if set.
    pub rust_version: Option<String>,
    /// `[package] include` patterns (gitignore syntax, relative to the crate folder): only
    /// matching files are packaged. Empty: no `include`.
    pub include: Vec<String>,
    /// `[package] exclude` patterns: matching files are not packaged (ignored when `include`
    /// is set, as cargo does).
    pub exclude: Vec<String>,
}

/// How a crate depends on another member.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DependencyKind {
    /// `[dependencies]`.
    Normal,
    /// `[build-dependencies]`.
    Build,
    /// `[dev-dependencies]`.
    Dev,
}

/// A dependency of a member on another member.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MemberDependency {
    /// The depended-on crate's name.
    pub name: String,
    /// The version requirement (`None` for a path-only dependency).
    pub requirement: Option<VersionReq>,
    /// The kind of dependency.
    pub kind: DependencyKind,
    /// Whether the requirement comes from `[workspace.dependencies]` (`foo.workspace = true`).
    pub inherited: bool,
}

/// A Cargo workspace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Workspace {
    /// Absolute path of the workspace root folder.
    pub root: PathBuf,
    /// The members, sorted by name.
    pub packages: Vec<Package>,
}

#[derive(Deserialize)]
struct Metadata {
    packages: Vec<MetaPackage>,
    workspace_members: Vec<String>,
    workspace_root: PathBuf,
}

#[derive(Deserialize)]
struct MetaPackage {
    name: String,
    version: String,
    id: String,
    manifest_path: PathBuf,
    publish: Option<Vec<String>>,
    dependencies: Vec<MetaDependency>,
    #[serde(default)]
    rust_version: Option<String>,
}

#[derive(Deserialize)]
struct MetaDependency {
    name: String,
    req: String,
    kind: Option<String>,
    rename: Option<String>,
    path: Option<PathBuf>,
}

impl Workspace {
    /// Runs `cargo metadata` for the workspace containing `dir` and builds the model.
    pub fn load(dir: &Path) -> Result<Self> {
        Self::from_metadata_json(&PendingMetadata::spawn(dir)?.wait()?)
    }

    /// Builds the model from the JSON of `cargo metadata --format-version 1 --no-deps`,
    /// reading the manifests it names.
    pub fn from_metadata_json(json: &[u8]) -> Result<Self> {
        let metadata: Metadata = serde_json::from_slice(json).map_err(Error::MetadataJson)?;
        let root = metadata.workspace_root;
        let member_ids: BTreeSet<&str> =
            metadata.workspace_members.iter().map(String::as_str).collect();
        let members: Vec<&MetaPackage> =
            metadata.packages.iter().filter(|p| member_ids.contains(p.id.as_str())).collect();
        let member_names: BTreeSet<&str> = members.iter().map(|p| p.name.as_str()).collect();
        let mut packages = Vec::new();
        for meta in members {
            let manifest = read_toml(&meta.manifest_path)?;
            let version = Version::parse(&meta.version)
                .map_err(|source| Error::Version { text: meta.version.clone(), source })?;
            let dir = meta
                .manifest_path
                .parent()
                .and_then(|d| d.strip_prefix(&root).ok())
                .map(|d| {
                    d.components()
                        .map(|c| c.as_os_str().to_string_lossy().into_owned())
                        .collect::<Vec<_>>()
                        .join("/")
                })
                .unwrap_or_default();
            let version_inherited = manifest
                .get("package")
                .and_then(|p| p.get("version"))
                .and_then(|v| v.get("workspace"))
                .and_then(toml::Value::as_bool)
                .unwrap_or(false);
            let mut member_dependencies = Vec::new();
            for dep in &meta.dependencies {
                if dep.path.is_none() || !member_names.contains(dep.name.as_str()) {
                    continue;
                }
                let kind = match dep.kind.as_deref() {
                    Some("dev") => DependencyKind::Dev,
                    Some("build") => DependencyKind::Build,
                    _ => DependencyKind::Normal,
                };
                let key = dep.rename.as_deref().unwrap_or(&dep.name);
                let requirement = if dep.req == "*" {
                    None
                } else {
                    Some(
                        VersionReq::parse(&dep.req)
                            .map_err(|source| Error::Version { text: dep.req.clone(), source })?,
                    )
                };
                member_dependencies.push(MemberDependency {
                    name: dep.name.clone(),
                    requirement,
                    kind,
                    inherited: dependency_inherited(&manifest, kind, key),
                });
            }
            let patterns = |key: &str| -> Vec<String> {
                manifest
                    .get("package")
                    .and_then(|p| p.get(key))
                    .and_then(toml::Value::as_array)
                    .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
                    .unwrap_or_default()
            };
            member_dependencies.sort_by(|a, b| (&a.name, a.kind).cmp(&(&b.name, b.kind)));
            member_dependencies.dedup();
            packages.push(Package {
                name: meta.name.clone(),
                version,
                manifest_path: meta.manifest_path.clone(),
                dir,
                version_inherited,
                publish: meta.publish.as_ref().is_none_or(|registries| !registries.is_empty()),
                member_dependencies,
                rust_version: meta.rust_version.clone(),
                include: patterns("include"),
                exclude: patterns("exclude"),
            });
        }
        packages.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(Self { root, packages })
    }

    /// The member named `name`.
    pub fn package(&self, name: &str) -> Option<&Package> {
        self.packages.iter().find(|p| p.name == name)
    }

    /// The published members, sorted by name.
    pub fn published(&self) -> impl Iterator<Item = &Package> {
        self.packages.iter().filter(|p| p.publish)
    }

    /// The root manifest (`<root>/Cargo.toml`).
    pub fn root_manifest(&self) -> PathBuf {
        self.root.join("Cargo.toml")
    }

    /// Publish levels of the published members: level 0 depends on no other published member,
    /// level n only on members of levels below n. Crates of one level may be published
    /// together. Names within a level are sorted.
    pub fn levels(&self) -> Result<BTreeMap<String, usize>> {
        let published: BTreeSet<&str> = self.published().map(|p| p.name.as_str()).collect();
        let mut pending: BTreeMap<&str, BTreeSet<&str>> = self
            .published()
            .map(|p| {
                let deps = p
                    .member_dependencies
                    .iter()
                    .filter(|d| {
                        d.kind != DependencyKind::Dev && published.contains(d.name.as_str())
                    })
                    .map(|d| d.name.as_str())
                    .collect();
                (p.name.as_str(), deps)
            })
            .collect();
        let mut levels = BTreeMap::new();
        let mut level = 0;
        while !pending.is_empty() {
            let ready: Vec<&str> =
                pending.iter().filter(|(_, deps)| deps.is_empty()).map(|(n, _)| *n).collect();
            if ready.is_empty() {
                return Err(Error::DependencyCycle {
                    crates: pending.keys().map(|n| (*n).to_owned()).collect(),
                });
            }
            for name in &ready {
                pending.remove(name);
                levels.insert((*name).to_owned(), level);
            }
            for deps in pending.values_mut() {
                for name in &ready {
                    deps.remove(name);
                }
            }
            level += 1;
        }
        Ok(levels)
    }
}

/// `cargo metadata --format-version 1 --no-deps --offline` running in the background, so that
/// a caller can read the repository meanwhile (see [`crate::plan_workspace`]).
#[derive(Debug)]
pub struct PendingMetadata {
    program: String,
    output: std::thread::JoinHandle<std::io::Result<std::process::Output>>,
}

impl PendingMetadata {
    /// Starts `cargo metadata` (with `$CARGO`, or `cargo`) in `dir`.
    pub fn spawn(dir: &Path) -> Result<Self> {
        let program = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let child = Command::new(&program)
            .args(["metadata", "--format-version", "1", "--no-deps", "--offline"])
            .current_dir(dir)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .map_err(|source| Error::CargoSpawn { program: program.clone(), source })?;
        // The JSON of a large workspace exceeds a pipe's buffer: read it as it comes.
        let output = std::thread::spawn(move || child.wait_with_output());
        Ok(Self { program, output })
    }

    /// Waits for cargo; the JSON it printed.
    pub fn wait(self) -> Result<Vec<u8>> {
        let output = self
            .output
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("the thread reading cargo panicked")))
            .map_err(|source| Error::CargoSpawn { program: self.program, source })?;
        if !output.status.success() {
            return Err(Error::CargoMetadata {
                stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
            });
        }
        Ok(output.stdout)
    }
}

fn read_toml(path: &Path) -> Result<toml::Value> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| Error::Read { path: path.to_owned(), source })?;
    text.parse::<toml::Value>()
        .map_err(|source| Error::Manifest { path: path.to_owned(), source: Box::new(source) })
}

/// Whether `[<kind>-dependencies].<key>` (or a target-specific table) says `workspace = true`.
fn dependency_inherited(manifest: &toml::Value, kind: DependencyKind, key: &str) -> bool {
    let table = match kind {
        DependencyKind::Normal => "dependencies",
        DependencyKind::Build => "build-dependencies",
        DependencyKind::Dev => "dev-dependencies",
    };
    let inherits = |tables: &toml::Value| {
        tables
            .get(table)
            .and_then(|t| t.get(key))
            .and_then(|d| d.get("workspace"))
            .and_then(toml::Value::as_bool)
            .unwrap_or(false)
    };
    if inherits(manifest) {
        return true;
    }
    manifest
        .get("target")
        .and_then(toml::Value::as_table)
        .is_some_and(|targets| targets.values().any(inherits))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes manifests for `(name, dependencies)` and the matching `cargo metadata` JSON.
    fn metadata(dir: &Path, crates: &[(&str, &[(&str, &str)])]) -> Vec<u8> {
        let mut packages = Vec::new();
        for (name, deps) in crates {
            let manifest = dir.join(name).join("Cargo.toml");
            std::fs::create_dir_all(dir.join(name)).unwrap_or_else(|e| panic!("{e}"));
            std::fs::write(
                &manifest,
                format!("[package]\nname = \"{name}\"\nversion = \"1.0.0\"\n"),
            )
            .unwrap_or_else(|e| panic!("{e}"));
            let dependencies: Vec<serde_json::Value> = deps
                .iter()
                .map(|(dep, kind)| {
                    serde_json::json!({
                        "name": dep, "req": "^1.0.0", "rename": null,
                        "kind": if *kind == "normal" { serde_json::Value::Null } else { (*kind).into() },
                        "path": dir.join(dep),
                    })
                })
                .collect();
            packages.push(serde_json::json!({
                "name": name, "version": "1.0.0", "id": format!("{name}-id"),
                "manifest_path": manifest, "publish": null, "dependencies": dependencies,
            }));
        }
        let members: Vec<String> = crates.iter().map(|(n, _)| format!("{n}-id")).collect();
        serde_json::to_vec(&serde_json::json!({
            "packages": packages, "workspace_members": members, "workspace_root": dir,
        }))
        .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn levels_group_independent_crates() {
        let temp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let json = metadata(
            temp.path(),
            &[
                ("a", &[]),
                ("b", &[("a", "normal")]),
                ("c", &[("a", "build")]),
                ("d", &[("b", "normal"), ("c", "normal")]),
                // A dev-dependency cycle does not constrain the order.
                ("e", &[("d", "dev")]),
            ],
        );
        let workspace = Workspace::from_metadata_json(&json).unwrap_or_else(|e| panic!("{e}"));
        let levels = workspace.levels().unwrap_or_else(|e| panic!("{e}"));
        let text: Vec<String> = levels.iter().map(|(n, l)| format!("{n}={l}")).collect();
        assert_eq!(text, ["a=0", "b=1", "c=1", "d=2", "e=0"]);
    }

    #[test]
    fn cycles_are_reported() {
        let temp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let json = metadata(
            temp.path(),
            &[("a", &[("b", "normal")]), ("b", &[("a", "build")]), ("c", &[])],
        );
        let workspace = Workspace::from_metadata_json(&json).unwrap_or_else(|e| panic!("{e}"));
        match workspace.levels() {
            Err(Error::DependencyCycle { crates }) => assert_eq!(crates, ["a", "b"]),
            other => panic!("unexpected {other:?}"),
        }
    }
}
