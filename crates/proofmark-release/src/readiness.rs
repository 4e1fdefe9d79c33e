//! The readiness gate: everything that must hold before a release writes, commits or
//! publishes anything, reported as a checklist (Markdown for a tracking issue, or JSON).
//!
//! Checks, with their ids:
//!
//! - `clean-tree`: no modified or untracked files (`git status --porcelain`);
//! - `branch`: `HEAD` is on a branch allowed by `proofmark.toml` (or another release tool's config);
//! - `history`: not a shallow clone, or one that has every tag and commit the plan needs;
//! - `dependencies` (per crate): no git dependency and no path dependency without a version
//!   in `[dependencies]`/`[build-dependencies]` (dev-dependencies are stripped by cargo), and,
//!   when publishing to an alternate registry, every path dependency names it;
//! - `package`: `cargo package` of every crate to release succeeds, in one invocation so
//!   cargo resolves unpublished family members from its local overlay (`--no-verify` when
//!   asked, e.g. offline);
//! - `changelog` (per crate): the packaged `.crate` (read as gzip + tar) contains
//!   `CHANGELOG.md` with the section of the version being released — the founding bug;
//! - `unreleased` (per crate): that changelog has nothing left under `## [Unreleased]`;
//! - `duplicate` (per crate): no entry of that section appears twice in it;
//! - `msrv` (per crate): that section states the crate's `rust-version` (`MSRV: 1.85`);
//! - `license` (per crate): the packaged `.crate` carries a licence text (`LICENSE*`,
//!   `COPYING*`, or the file `license-file` names);
//! - `package-tests` (per crate): the tests of the unpacked `.crate` build on their own
//!   (`cargo test --no-run --offline` in the unpacked folder, family members patched to their
//!   unpacked packages), so a packager's `cargo test` on the published crate works;
//! - `patch`: the root manifest has no `[patch]`/`[replace]` (ignored by `cargo publish`);
//! - `one-version` (per family crate): every lockfile resolves one version of it;
//! - `scope`: the date train has reached its release date, or every required feature landed.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use semver::Version;
use serde::{Deserialize, Serialize};

use crate::changelog;
use crate::config::ReleaseConfig;
use crate::conventional::Message;
use crate::date::Date;
use crate::error::{Error, Result};
use crate::process;

/// The outcome of one check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// It holds.
    Pass,
    /// It does not hold: the release must not go on.
    Fail,
    /// Worth a look; does not block.
    Warn,
}

/// One line of the checklist.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Check {
    /// The check's id (`clean-tree`, `changelog`, …).
    pub id: &'static str,
    /// The crate it is about, if any.
    #[serde(rename = "crate")]
    pub krate: Option<String>,
    /// Pass, fail or warn.
    pub status: Status,
    /// What was found.
    pub message: String,
}

impl Check {
    fn new(id: &'static str, krate: Option<&str>, status: Status, message: String) -> Self {
        Self { id, krate: krate.map(str::to_owned), status, message }
    }
}

/// A crate the gate checks: the release of `name` at `version`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    /// The crate.
    pub name: String,
    /// The version being released.
    pub version: Version,
    /// Its `rust-version`, if any.
    pub rust_version: Option<String>,
}

/// A `.crate` that `cargo package` produced.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Packaged {
    /// The crate.
    pub name: String,
    /// The version.
    pub version: Version,
    /// The archive.
    pub path: PathBuf,
    /// Its SHA-256, lower-case hex (what the index's `cksum` will say).
    pub sha256: String,
    /// The changelog section of `version` found inside, if any.
    pub section: Option<String>,
}

/// The checklist.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Readiness {
    /// Every check, in the order run.
    pub checks: Vec<Check>,
    /// The archives produced by the `package` check.
    pub packaged: Vec<Packaged>,
}

/// How the package checks run.
#[derive(Clone, Debug, Default)]
pub struct PackageOptions {
    /// Pass `--no-verify` to `cargo package` (no build of the packaged sources).
    pub no_verify: bool,
    /// Pass `--offline` to cargo.
    pub offline: bool,
    /// Pass `--allow-dirty` (the check mode packages an uncommitted preview).
    pub allow_dirty: bool,
    /// Pass `--registry NAME`.
    pub registry: Option<String>,
    /// Pass `--target-dir` (a preview work tree shares the repository's build cache).
    pub target_dir: Option<PathBuf>,
    /// Run cargo with this `CARGO_HOME` (registries and tokens configured there).
    pub cargo_home: Option<PathBuf>,
}

impl Readiness {
    /// Whether no check failed.
    pub fn ok(&self) -> bool {
        self.checks.iter().all(|c| c.status != Status::Fail)
    }

    /// The failed checks as lines `[id] crate: message`.
    pub fn failures(&self) -> Vec<String> {
        self.checks
            .iter()
            .filter(|c| c.status == Status::Fail)
            .map(|c| match &c.krate {
                Some(k) => format!("[{}] {k}: {}", c.id, c.message),
                None => format!("[{}] {}", c.id, c.message),
            })
            .collect()
    }

    /// `Ok` when no check failed, else [`Error::NotReady`].
    pub fn into_result(self) -> Result<Self> {
        if self.ok() { Ok(self) } else { Err(Error::NotReady { failures: self.failures() }) }
    }

    /// A Markdown checklist (`- [x]` passed, `- [ ]` failed, `- [x] ⚠` warning).
    pub fn to_markdown(&self) -> String {
        let mut out = String::from("## Release readiness\n\n");
        for check in &self.checks {
            let mark = match check.status {
                Status::Pass => "[x]",
                Status::Fail => "[ ]",
                Status::Warn => "[x] ⚠",
            };
            let subject = check.krate.as_deref().map(|k| format!(" {k}:")).unwrap_or_default();
            let _ = writeln!(out, "- {mark} **{}**{subject} {}", check.id, check.message);
        }
        let failed = self.checks.iter().filter(|c| c.status == Status::Fail).count();
        let _ = writeln!(
            out,
            "\n{} check(s), {failed} failed: {}",
            self.checks.len(),
            if failed == 0 { "ready" } else { "not ready" }
        );
        out
    }

    /// The checklist as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

/// `clean-tree` and `branch`, on the repository at `root`.
pub fn check_repository(root: &Path, config: &ReleaseConfig) -> Result<Vec<Check>> {
    let mut checks = Vec::new();
    let status = process::git(root, ["status", "--porcelain", "--untracked-files=normal"])?;
    let dirty: Vec<&str> = status.lines().collect();
    checks.push(if dirty.is_empty() {
        Check::new("clean-tree", None, Status::Pass, "no uncommitted changes".to_owned())
    } else {
        let shown: Vec<&str> = dirty.iter().take(5).map(|l| l.get(3..).unwrap_or(l)).collect();
        Check::new(
            "clean-tree",
            None,
            Status::Fail,
            format!("{} uncommitted change(s): {}", dirty.len(), shown.join(", ")),
        )
    });
    let (_, out) = process::output("git", root, ["symbolic-ref", "--short", "-q", "HEAD"])?;
    let branch = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    checks.push(if branch.is_empty() {
        Check::new("branch", None, Status::Fail, "HEAD is detached".to_owned())
    } else if config.branch_allowed(&branch) {
        Check::new("branch", None, Status::Pass, format!("on `{branch}`"))
    } else {
        Check::new(
            "branch",
            None,
            Status::Fail,
            format!(
                "`{branch}` is not an allowed branch ({}; set allowed-branches under [release] in proofmark.toml)",
                config.allowed_branches.join(", ")
            ),
        )
    });
    Ok(checks)
}

/// `history`: the history the plan read is complete. A shallow clone (CI checkouts are often
/// `--depth 1`) lacks the release tags and the commits before its boundary, so crates look
/// never released and commits are attributed wrongly. It passes when the repository is not
/// shallow, or when every crate's previous release tag (`needs`: crate and tag, `None` for a
/// crate with no release tag here) is present and no commit between it and `HEAD` lacks its
/// parents.
pub fn check_history(root: &Path, needs: &[(String, Option<String>)]) -> Result<Check> {
    let shallow = process::git(root, ["rev-parse", "--is-shallow-repository"])?;
    if shallow.trim() != "true" {
        return Ok(Check::new(
            "history",
            None,
            Status::Pass,
            "the full history is here (not a shallow clone)".to_owned(),
        ));
    }
    let shallow_file =
        process::git(root, ["rev-parse", "--path-format=absolute", "--git-path", "shallow"])?;
    let boundary: BTreeSet<String> = std::fs::read_to_string(shallow_file.trim())
        .unwrap_or_default()
        .lines()
        .map(|l| l.trim().to_owned())
        .filter(|l| !l.is_empty())
        .collect();
    let mut missing = Vec::new();
    for (name, tag) in needs {
        let Some(tag) = tag else {
            missing.push(format!("{name}: no release tag here, so it looks like a first release"));
            continue;
        };
        let reference = format!("refs/tags/{tag}^{{commit}}");
        let (_, out) = process::output("git", root, ["rev-parse", "-q", "--verify", &reference])?;
        if !out.status.success() {
            missing.push(format!("{name}: tag {tag} is missing"));
            continue;
        }
        let range = process::git(root, ["rev-list", "HEAD", "--not", &reference])?;
        if range.lines().any(|id| boundary.contains(id.trim())) {
            missing.push(format!("{name}: commits between {tag} and HEAD are missing"));
        }
    }
    Ok(if missing.is_empty() {
        Check::new(
            "history",
            None,
            Status::Pass,
            "a shallow clone, but the history since each crate's last release tag is here"
                .to_owned(),
        )
    } else {
        Check::new(
            "history",
            None,
            Status::Fail,
            format!(
                "this is a shallow clone and the release needs history it lacks ({}): run `git \
                 fetch --unshallow --tags` (in CI, check out with full history, e.g. \
                 `fetch-depth: 0`) and plan again",
                missing.join("; ")
            ),
        )
    })
}

#[derive(Deserialize)]
struct Metadata {
    packages: Vec<MetaPackage>,
    workspace_members: Vec<String>,
    target_directory: PathBuf,
    workspace_root: PathBuf,
}

#[derive(Deserialize)]
struct MetaPackage {
    name: String,
    id: String,
    dependencies: Vec<MetaDependency>,
    manifest_path: PathBuf,
    #[serde(default)]
    publish: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct MetaDependency {
    name: String,
    source: Option<String>,
    req: String,
    kind: Option<String>,
    path: Option<PathBuf>,
    /// The index URL of an alternate registry (`registry = "NAME"`); `None` is crates.io.
    #[serde(default)]
    registry: Option<String>,
}

/// Where a member's dependency entry on `dependency` is written: the member's own manifest, or
/// the root manifest's `[workspace.dependencies]` when the member inherits it.
fn dependency_home(manifest: &Path, root: &Path, dependency: &str) -> String {
    let relative = |path: &Path| path.strip_prefix(root).unwrap_or(path).display().to_string();
    let inherited = std::fs::read_to_string(manifest)
        .ok()
        .and_then(|text| text.parse::<toml::Value>().ok())
        .is_some_and(|value| {
            ["dependencies", "build-dependencies"].iter().any(|table| {
                value
                    .get(table)
                    .and_then(|t| t.get(dependency))
                    .and_then(|d| d.get("workspace"))
                    .and_then(toml::Value::as_bool)
                    == Some(true)
            })
        });
    if inherited {
        format!("`{dependency}` in {} [workspace.dependencies]", relative(&root.join("Cargo.toml")))
    } else {
        format!("`{dependency}` in {}", relative(manifest))
    }
}

/// `semver`: whether cargo-semver-checks, when installed, agrees with each crate's declared
/// bump. It compares the crate in `dir` (a preview with the new version in its manifest, so
/// the release type is the declared one) with its previous release tag; crates without one
/// pass. When the tool is missing the check warns and names the install command. `on_crate`
/// is called before each crate's run (it takes seconds to minutes: a progress display).
pub fn check_semver(
    dir: &Path,
    crates: &[(String, Option<String>)],
    options: &PackageOptions,
    on_crate: &mut dyn FnMut(&str),
) -> Vec<Check> {
    let probe = ["semver-checks".to_owned(), "--version".to_owned()];
    let version = process::cargo(dir, &probe, options.cargo_home.as_deref());
    let installed = matches!(&version, Ok((_, out)) if out.status.success());
    if !installed {
        return vec![Check::new(
            "semver",
            None,
            Status::Warn,
            "cargo-semver-checks is not installed, so the declared bumps were not checked \
             against the API (`cargo install cargo-semver-checks --locked`)"
                .to_owned(),
        )];
    }
    let mut checks = Vec::new();
    for (name, baseline) in crates {
        let Some(baseline) = baseline else {
            checks.push(Check::new(
                "semver",
                Some(name),
                Status::Pass,
                "first release: no earlier API to compare with".to_owned(),
            ));
            continue;
        };
        on_crate(name);
        let args: Vec<String> = [
            "semver-checks",
            "check-release",
            "--package",
            name,
            "--baseline-rev",
            baseline,
            "--color",
            "never",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        let check = match process::cargo(dir, &args, options.cargo_home.as_deref()) {
            Ok((_, out)) if out.status.success() => Check::new(
                "semver",
                Some(name),
                Status::Pass,
                format!("cargo-semver-checks agrees with the declared bump (baseline {baseline})"),
            ),
            Ok((command, out)) => {
                let text = format!(
                    "{}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
                // The tool's own verdict ("semver requires new major version: ...") and the
                // names of the failed lints are what the person needs.
                let lines: Vec<&str> = text
                    .lines()
                    .map(str::trim)
                    .filter(|l| l.starts_with("Summary") || l.starts_with("--- failure"))
                    .collect();
                let message = if lines.iter().any(|l| l.starts_with("Summary")) {
                    format!(
                        "cargo-semver-checks disagrees with the declared bump (baseline \
                         {baseline}): {}; raise the bump with --bump {name}=LEVEL",
                        lines.join("; ")
                    )
                } else {
                    // The tool did not reach a verdict (no baseline build, say): its own words.
                    let tail: Vec<&str> = text
                        .lines()
                        .map(str::trim)
                        .filter(|l| !l.is_empty())
                        .rev()
                        .take(3)
                        .collect();
                    let tail: Vec<&str> = tail.into_iter().rev().collect();
                    format!(
                        "cargo-semver-checks failed without a verdict: {}; rerun `{command}` \
                         to see why, or pass --skip-semver-checks",
                        tail.join(" / ")
                    )
                };
                Check::new("semver", Some(name), Status::Fail, message)
            }
            Err(e) => Check::new("semver", Some(name), Status::Fail, e.to_string()),
        };
        checks.push(check);
    }
    checks
}

/// `dependencies`, `package`, `changelog`, `msrv` and `one-version`, on the workspace at
/// `dir` (the repository, or a preview work tree with the release edits applied).
pub fn check_packages(
    dir: &Path,
    targets: &[Target],
    family: &[String],
    config: &ReleaseConfig,
    options: &PackageOptions,
) -> Result<Readiness> {
    let mut readiness = Readiness::default();
    let json = process::run(
        &process::cargo_program(),
        dir,
        ["metadata", "--format-version", "1", "--no-deps", "--offline"],
    )?;
    let metadata: Metadata = serde_json::from_str(&json).map_err(Error::MetadataJson)?;
    let members: BTreeSet<&str> = metadata.workspace_members.iter().map(String::as_str).collect();
    for target in targets {
        let Some(package) = metadata
            .packages
            .iter()
            .find(|p| p.name == target.name && members.contains(p.id.as_str()))
        else {
            continue;
        };
        let mut problems = Vec::new();
        // `cargo publish` without `--registry` uses the only registry `publish` allows.
        let registry = options.registry.clone().or_else(|| match package.publish.as_deref() {
            Some([only]) => Some(only.clone()),
            _ => None,
        });
        let registry = registry.filter(|r| r != "crates-io");
        let mut unnamed = Vec::new();
        for dep in package.dependencies.iter().filter(|d| d.kind.as_deref() != Some("dev")) {
            if dep.source.as_deref().is_some_and(|s| s.starts_with("git+")) {
                problems.push(format!("`{}` is a git dependency", dep.name));
            } else if dep.path.is_some() && dep.req == "*" {
                problems.push(format!("`{}` is a path dependency without a version", dep.name));
            } else if dep.path.is_some() && dep.registry.is_none() && registry.is_some() {
                // A path dependency published to an alternate registry resolves from crates.io
                // unless it names the registry: `cargo package` fails, and the published
                // manifest would point at crates.io.
                unnamed.push(dependency_home(
                    &package.manifest_path,
                    &metadata.workspace_root,
                    &dep.name,
                ));
            }
        }
        if let (Some(registry), false) = (&registry, unnamed.is_empty()) {
            problems.push(format!(
                "releasing to registry `{registry}`, but these dependencies on family members \
                 resolve from crates.io: {}; add `registry = \"{registry}\"` to each entry \
                 (the published manifests need it too)",
                unnamed.join(", ")
            ));
        }
        readiness.checks.push(if problems.is_empty() {
            Check::new(
                "dependencies",
                Some(&target.name),
                Status::Pass,
                "no git or path-only dependencies".to_owned(),
            )
        } else {
            Check::new("dependencies", Some(&target.name), Status::Fail, problems.join("; "))
        });
    }

    if !targets.is_empty() {
        let mut args: Vec<String> = vec!["package".to_owned()];
        for target in targets {
            args.extend(["-p".to_owned(), target.name.clone()]);
        }
        if options.no_verify {
            args.push("--no-verify".to_owned());
        }
        if options.offline {
            args.push("--offline".to_owned());
        }
        if options.allow_dirty {
            args.push("--allow-dirty".to_owned());
        }
        if let Some(registry) = &options.registry {
            args.extend(["--registry".to_owned(), registry.clone()]);
        }
        if let Some(target_dir) = &options.target_dir {
            args.extend(["--target-dir".to_owned(), target_dir.display().to_string()]);
        }
        let (command, out) = process::cargo(dir, &args, options.cargo_home.as_deref())?;
        let names: Vec<&str> = targets.iter().map(|t| t.name.as_str()).collect();
        let mode = if options.no_verify { "without build (--no-verify)" } else { "and verified" };
        if out.status.success() {
            readiness.checks.push(Check::new(
                "package",
                None,
                Status::Pass,
                format!("packaged {} {mode}", names.join(", ")),
            ));
            for target in targets {
                let path = options
                    .target_dir
                    .clone()
                    .unwrap_or_else(|| metadata.target_directory.clone())
                    .join("package")
                    .join(format!("{}-{}.crate", target.name, target.version));
                let (checks, packaged) = check_archive(&path, target)?;
                readiness.checks.extend(checks);
                readiness.packaged.push(packaged);
            }
            if !options.no_verify {
                let target_dir =
                    options.target_dir.clone().unwrap_or_else(|| metadata.target_directory.clone());
                readiness.checks.extend(check_package_tests(
                    &readiness.packaged,
                    &dir.join("Cargo.lock"),
                    &target_dir,
                    options,
                )?);
            }
        } else {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let tail: Vec<&str> = stderr.lines().filter(|l| l.contains("error")).take(3).collect();
            readiness.checks.push(Check::new(
                "package",
                None,
                Status::Fail,
                format!("`{command}` failed: {}", tail.join(" / ")),
            ));
        }
    }

    let root_manifest = dir.join("Cargo.toml");
    let text = std::fs::read_to_string(&root_manifest)
        .map_err(|source| Error::Read { path: root_manifest.clone(), source })?;
    readiness.checks.push(check_patch(&text));

    let mut lockfiles = vec![dir.join("Cargo.lock")];
    lockfiles.extend(config.lockfiles.iter().map(|l| dir.join(l)));
    readiness.checks.extend(check_lockfiles(&lockfiles, family)?);
    Ok(readiness)
}

/// `package-tests`: each `.crate`, unpacked outside the workspace (as a packager does), builds
/// its tests with `cargo test --no-run --offline`: nothing they need may be left out of the
/// package or come from an unpublished crate. The other packaged family members stand in for
/// their registry versions through `[patch]` (they are not published yet); the workspace's
/// lockfile pins the third-party versions when the package has none; the build shares the
/// packaging's target folder, so what `cargo package` compiled is not compiled again.
pub fn check_package_tests(
    packaged: &[Packaged],
    lockfile: &Path,
    target_dir: &Path,
    options: &PackageOptions,
) -> Result<Vec<Check>> {
    let mut checks = Vec::new();
    if packaged.is_empty() {
        return Ok(checks);
    }
    // Outside the repository (inside it, cargo would take the unpacked crate for a stray
    // workspace member), at a path fixed per target folder: cargo keys a path package's
    // artifacts on its path, so a fresh folder per run would rebuild our crates every time and
    // pile up artifacts in the shared target folder.
    use sha2::Digest as _;
    let key = hex::encode(sha2::Sha256::digest(target_dir.display().to_string().as_bytes()));
    let scratch = std::env::temp_dir().join(format!("proofmark-package-tests-{}", &key[..16]));
    let mut unpacked = Vec::new();
    for item in packaged {
        let folder = scratch.join(format!("{}-{}", item.name, item.version));
        if folder.exists() {
            std::fs::remove_dir_all(&folder)
                .map_err(|source| Error::Write { path: folder.clone(), source })?;
        }
        let bytes = std::fs::read(&item.path)
            .map_err(|source| Error::Archive { path: item.path.clone(), source })?;
        tar::Archive::new(flate2::read::GzDecoder::new(bytes.as_slice()))
            .unpack(&scratch)
            .map_err(|source| Error::Archive { path: item.path.clone(), source })?;
        if !folder.join("Cargo.lock").exists() {
            // Best effort: without it cargo resolves afresh, which offline may still do.
            let _ = std::fs::copy(lockfile, folder.join("Cargo.lock"));
        }
        unpacked.push((item, folder));
    }
    let source = options.registry.as_deref().unwrap_or("crates-io");
    for (item, folder) in &unpacked {
        let file_name = format!("{}-{}.crate", item.name, item.version);
        let mut args: Vec<String> =
            ["test", "--no-run", "--offline", "--quiet", "--target-dir"].map(str::to_owned).into();
        args.push(target_dir.display().to_string());
        for (other, other_folder) in &unpacked {
            if other.name != item.name {
                args.push("--config".to_owned());
                args.push(format!(
                    "patch.{source}.{}.path={:?}",
                    other.name,
                    other_folder.display().to_string()
                ));
            }
        }
        let (command, out) = process::cargo(folder, &args, options.cargo_home.as_deref())?;
        checks.push(if out.status.success() {
            Check::new(
                "package-tests",
                Some(&item.name),
                Status::Pass,
                format!(
                    "the tests of the unpacked {file_name} build offline (cargo test --no-run)"
                ),
            )
        } else {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let tail: Vec<&str> = stderr.lines().filter(|l| l.contains("error")).take(3).collect();
            Check::new(
                "package-tests",
                Some(&item.name),
                Status::Fail,
                format!(
                    "the tests of the unpacked {file_name} do not build offline (`{command}`): {} \
                     — a packager's `cargo test` fails; leave tests that need unpublished \
                     crates or files out of the package (`include`/`exclude`); if a \
                     dependency is only missing from cargo's cache, run `cargo fetch` first",
                    tail.join(" / ")
                ),
            )
        });
    }
    Ok(checks)
}

/// `patch`: the root manifest has no `[patch]` or `[replace]` override. `cargo publish`
/// ignores them, so crates that build here (e.g. against git `main` of a dependency, as
/// Parsec's `release_tracking.py` sets up) would not build from the registry.
pub fn check_patch(root_manifest: &str) -> Check {
    let overrides: Vec<String> = root_manifest
        .parse::<toml::Value>()
        .ok()
        .map(|value| {
            let mut found = Vec::new();
            if let Some(patch) = value.get("patch").and_then(toml::Value::as_table) {
                for (source, table) in patch {
                    let names = table.as_table().map(|t| t.keys().cloned().collect::<Vec<_>>());
                    for name in names.unwrap_or_default() {
                        found.push(format!("[patch.{source}] {name}"));
                    }
                }
            }
            if value.get("replace").is_some() {
                found.push("[replace]".to_owned());
            }
            found
        })
        .unwrap_or_default();
    if overrides.is_empty() {
        Check::new("patch", None, Status::Pass, "no [patch] or [replace] overrides".to_owned())
    } else {
        Check::new(
            "patch",
            None,
            Status::Fail,
            format!(
                "{} (ignored by cargo publish: the published crates would build against other code)",
                overrides.join(", ")
            ),
        )
    }
}

/// `changelog` and `msrv` for one packaged archive.
pub fn check_archive(path: &Path, target: &Target) -> Result<(Vec<Check>, Packaged)> {
    use sha2::Digest as _;
    let bytes =
        std::fs::read(path).map_err(|source| Error::Archive { path: path.to_owned(), source })?;
    let sha256 = hex::encode(sha2::Sha256::digest(&bytes));
    let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let inner = format!("{}-{}/CHANGELOG.md", target.name, target.version);
    let changelog = read_member(&bytes, &inner)
        .map_err(|source| Error::Archive { path: path.to_owned(), source })?;
    let name = Some(target.name.as_str());
    let mut checks = Vec::new();
    let section = changelog.as_deref().and_then(|t| changelog::section_text(t, &target.version));
    let problems = changelog
        .as_deref()
        .map(|text| check_changelog_text(text, &target.version, &file_name, name))
        .unwrap_or_default();
    match (&changelog, &section) {
        (None, _) => checks.push(Check::new(
            "changelog",
            name,
            Status::Fail,
            format!(
                "{file_name} does not contain CHANGELOG.md, so it lacks the section for {} \
                 (is it left out by `include`/`exclude`, or outside the crate folder?)",
                target.version
            ),
        )),
        (Some(_), None) => checks.push(Check::new(
            "changelog",
            name,
            Status::Fail,
            format!(
                "CHANGELOG.md in {file_name} has no section for {} (missing `## [{}]`)",
                target.version, target.version
            ),
        )),
        (Some(_), Some(_)) => checks.push(Check::new(
            "changelog",
            name,
            Status::Pass,
            format!(
                "CHANGELOG.md in {file_name} has the section for {}{}",
                target.version,
                if problems.is_empty() {
                    ", nothing under [Unreleased], no entry twice"
                } else {
                    ""
                }
            ),
        )),
    }
    if let Some(section) = &section {
        let stated = changelog::msrv_of(section);
        checks.push(match (&target.rust_version, stated) {
            (Some(want), Some(got)) if *want == got => {
                Check::new("msrv", name, Status::Pass, format!("section states MSRV {got}"))
            }
            (Some(want), Some(got)) => Check::new(
                "msrv",
                name,
                Status::Fail,
                format!("section states MSRV {got} but rust-version is {want}"),
            ),
            (Some(want), None) => Check::new(
                "msrv",
                name,
                Status::Fail,
                format!("section does not state the MSRV (add `MSRV: {want}`)"),
            ),
            (None, _) => Check::new(
                "msrv",
                name,
                Status::Warn,
                "no rust-version in Cargo.toml: packagers cannot tell which compiler it needs"
                    .to_owned(),
            ),
        });
    }
    checks.extend(problems);
    checks.push(
        check_licence(&bytes, &format!("{}-{}", target.name, target.version), &file_name, name)
            .map_err(|source| Error::Archive { path: path.to_owned(), source })?,
    );
    let packaged = Packaged {
        name: target.name.clone(),
        version: target.version.clone(),
        path: path.to_owned(),
        sha256,
        section,
    };
    Ok((checks, packaged))
}

/// `license`: the archive carries a licence text at its root — a `LICENSE*` or `COPYING*`
/// file, or the file the packaged manifest names in `license-file`. Distributions must ship
/// the text with the package, and an SPDX `license = "…"` line alone is not the text.
fn check_licence(
    crate_bytes: &[u8],
    prefix: &str,
    file_name: &str,
    name: Option<&str>,
) -> std::io::Result<Check> {
    let members = member_names(crate_bytes)?;
    let manifest = read_member(crate_bytes, &format!("{prefix}/Cargo.toml"))?;
    let named = manifest.and_then(|text| text.parse::<toml::Value>().ok()).and_then(|value| {
        let file = value.get("package")?.get("license-file")?.as_str()?.to_owned();
        Some(file)
    });
    let top: Vec<&str> = members
        .iter()
        .filter_map(|m| m.strip_prefix(prefix)?.strip_prefix('/'))
        .filter(|m| !m.contains('/'))
        .collect();
    let found: Vec<&str> = top
        .iter()
        .copied()
        .filter(|m| {
            let upper = m.to_ascii_uppercase();
            upper.starts_with("LICENSE")
                || upper.starts_with("LICENCE")
                || upper.starts_with("COPYING")
        })
        .collect();
    if let Some(file) = &named {
        let inner = format!("{prefix}/{}", file.trim_start_matches("./"));
        return Ok(if members.contains(&inner) {
            Check::new(
                "license",
                name,
                Status::Pass,
                format!("{file_name} carries {file} (license-file)"),
            )
        } else {
            Check::new(
                "license",
                name,
                Status::Fail,
                format!(
                    "{file_name} does not contain {file}, which `license-file` names (is it left out by `include`/`exclude`?)"
                ),
            )
        });
    }
    Ok(if found.is_empty() {
        Check::new(
            "license",
            name,
            Status::Fail,
            format!(
                "{file_name} carries no licence text (no LICENSE*, COPYING* or `license-file`): \
                 packagers must ship it; put the licence file in the crate folder (and in \
                 `include`, if set) or name it with `license-file`"
            ),
        )
    } else {
        Check::new(
            "license",
            name,
            Status::Pass,
            format!("{file_name} carries {}", found.join(", ")),
        )
    })
}

/// The paths of every member of a gzip'd tar.
fn member_names(crate_bytes: &[u8]) -> std::io::Result<Vec<String>> {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(crate_bytes));
    let mut names = Vec::new();
    for entry in archive.entries()? {
        names.push(entry?.path()?.to_string_lossy().into_owned());
    }
    Ok(names)
}

/// The failed `unreleased` and `duplicate` checks: a released changelog lists nothing under `[Unreleased]` (its
/// entries belong to the version being released) and no entry of the version's section twice.
/// An entry ending in a commit id, `(1a2b3c4)`, is a duplicate wherever else in the file that id
/// ends an entry (the commit would be announced in two releases); other entries only when the
/// section repeats their text (older sections may well say "Updated dependencies" too).
fn check_changelog_text(
    text: &str,
    version: &Version,
    file_name: &str,
    name: Option<&str>,
) -> Vec<Check> {
    let mut checks = Vec::new();
    let unreleased = changelog::unreleased_lines(text);
    if let Some(first) = unreleased.iter().find(|l| !l.starts_with('#')).or(unreleased.first()) {
        checks.push(Check::new(
            "unreleased",
            name,
            Status::Fail,
            format!(
                "CHANGELOG.md in {file_name} still has {} line(s) under [Unreleased] (first: \
                 `{first}`): they belong in the {version} section (a release moves them there \
                 when it writes the section)",
                unreleased.len()
            ),
        ));
    }
    let Some(section) = changelog::section_text(text, version) else { return checks };
    let ids: Vec<&str> = text.lines().filter_map(entry_id).collect();
    let mut seen_text: BTreeSet<&str> = BTreeSet::new();
    let mut duplicates: Vec<String> = Vec::new();
    for line in section.lines().filter(|l| is_entry(l)) {
        let twice = match entry_id(line) {
            Some(id) => ids.iter().filter(|other| **other == id).count() > 1,
            None => !seen_text.insert(line.trim()),
        };
        if twice && !duplicates.iter().any(|d| d == line.trim()) {
            duplicates.push(line.trim().to_owned());
        }
    }
    if !duplicates.is_empty() {
        let shown: Vec<String> = duplicates.iter().take(3).map(|d| format!("`{d}`")).collect();
        checks.push(Check::new(
            "duplicate",
            name,
            Status::Fail,
            format!(
                "CHANGELOG.md in {file_name} lists {} entr(ies) of the {version} section twice: \
                 {}; keep each once",
                duplicates.len(),
                shown.join(", ")
            ),
        ));
    }
    checks
}

/// A top-level list item (`- …` or `* …`).
fn is_entry(line: &str) -> bool {
    line.starts_with("- ") || line.starts_with("* ")
}

/// The commit id that ends an entry's first line, `- text (1a2b3c4)`.
fn entry_id(line: &str) -> Option<&str> {
    if !is_entry(line) {
        return None;
    }
    let inner = line.trim_end().strip_suffix(')')?;
    let id = &inner[inner.rfind('(')? + 1..];
    ((7..=40).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_hexdigit())).then_some(id)
}

/// The UTF-8 text of `inner` in a gzip'd tar, `None` when absent.
pub fn read_member(crate_bytes: &[u8], inner: &str) -> std::io::Result<Option<String>> {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(crate_bytes));
    for entry in archive.entries()? {
        let mut entry = entry?;
        if entry.path()?.to_string_lossy() == inner {
            let mut text = String::new();
            entry.read_to_string(&mut text)?;
            return Ok(Some(text));
        }
    }
    Ok(None)
}

/// `one-version`: each family crate has one version across the lockfiles that exist.
pub fn check_lockfiles(lockfiles: &[PathBuf], family: &[String]) -> Result<Vec<Check>> {
    let mut versions: BTreeMap<&str, BTreeMap<String, Vec<String>>> = BTreeMap::new();
    let mut read = 0;
    for path in lockfiles {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => return Err(Error::Read { path: path.clone(), source }),
        };
        read += 1;
        let value: toml::Value = text
            .parse()
            .map_err(|source| Error::Manifest { path: path.clone(), source: Box::new(source) })?;
        let packages = value.get("package").and_then(toml::Value::as_array);
        for package in packages.into_iter().flatten() {
            let name = package.get("name").and_then(toml::Value::as_str).unwrap_or_default();
            let version = package.get("version").and_then(toml::Value::as_str).unwrap_or_default();
            if let Some(member) = family.iter().find(|f| *f == name) {
                versions
                    .entry(member.as_str())
                    .or_default()
                    .entry(version.to_owned())
                    .or_default()
                    .push(path.display().to_string());
            }
        }
    }
    let mut checks = Vec::new();
    let split: Vec<String> = versions
        .iter()
        .filter(|(_, v)| v.len() > 1)
        .map(|(name, v)| {
            let list: Vec<String> = v
                .iter()
                .map(|(version, files)| format!("{version} in {}", files.join(", ")))
                .collect();
            format!("{name}: {}", list.join("; "))
        })
        .collect();
    checks.push(if read == 0 {
        Check::new(
            "one-version",
            None,
            Status::Warn,
            "no Cargo.lock to check (commit the lockfile, or list others under [release] in proofmark.toml)"
                .to_owned(),
        )
    } else if split.is_empty() {
        Check::new(
            "one-version",
            None,
            Status::Pass,
            format!("one version of each family crate across {read} lockfile(s)"),
        )
    } else {
        Check::new(
            "one-version",
            None,
            Status::Fail,
            format!("several versions: {}", split.join(" | ")),
        )
    });
    Ok(checks)
}

/// The scope of the release from `proofmark.toml`, as checks (`scope`) and as the lines of
/// `release status`.
#[derive(Clone, Debug, Serialize)]
pub struct Scope {
    /// Days until the code freeze (negative: passed), with a date train.
    pub days_to_freeze: Option<i64>,
    /// Days until the release date, with a date train.
    pub days_to_release: Option<i64>,
    /// Required features that landed, with the commit naming each.
    pub landed: Vec<(String, String)>,
    /// Required features not found in the history.
    pub missing: Vec<String>,
}

impl Scope {
    /// Reads the history of `root` (`git log HEAD`) for `Feature:` trailers and scopes.
    pub fn compute(root: &Path, config: &ReleaseConfig, today: Date) -> Result<Self> {
        let mut scope = Self {
            days_to_freeze: config.train.map(|t| today.days_until(t.freeze)),
            days_to_release: config.train.map(|t| today.days_until(t.release)),
            landed: Vec::new(),
            missing: Vec::new(),
        };
        if config.required_features.is_empty() {
            return Ok(scope);
        }
        let log = process::git(root, ["log", "--format=%h%x00%B%x1e", "HEAD"])?;
        let mut named: BTreeMap<String, String> = BTreeMap::new();
        for record in log.split('\u{1e}') {
            let Some((id, body)) = record.trim_start().split_once('\0') else { continue };
            let message = Message::parse(body);
            let mut names: Vec<String> = message
                .footers
                .iter()
                .filter(|f| f.token.eq_ignore_ascii_case("feature"))
                .flat_map(|f| f.value.split(',').map(|v| v.trim().to_owned()).collect::<Vec<_>>())
                .collect();
            if let Some(scope) = message.conventional.as_ref().and_then(|h| h.scope.as_deref()) {
                names.extend(scope.split(',').map(|s| s.trim().to_owned()));
            }
            for name in names {
                named.entry(name).or_insert_with(|| id.to_owned());
            }
        }
        for feature in &config.required_features {
            match named.get(feature) {
                Some(id) => scope.landed.push((feature.clone(), id.clone())),
                None => scope.missing.push(feature.clone()),
            }
        }
        Ok(scope)
    }

    /// The `scope` checks: a train fails before its release date; a feature list fails while
    /// features are missing.
    pub fn checks(&self) -> Vec<Check> {
        let mut checks = Vec::new();
        if let (Some(freeze), Some(release)) = (self.days_to_freeze, self.days_to_release) {
            checks.push(if release <= 0 {
                Check::new(
                    "scope",
                    None,
                    Status::Pass,
                    "the train's release date has come".to_owned(),
                )
            } else {
                let phase = if freeze <= 0 { "frozen" } else { "before the freeze" };
                Check::new(
                    "scope",
                    None,
                    Status::Fail,
                    format!("{phase}: the release date is in {release} day(s)"),
                )
            });
        }
        for (feature, id) in &self.landed {
            checks.push(Check::new(
                "scope",
                None,
                Status::Pass,
                format!("feature `{feature}` landed ({id})"),
            ));
        }
        for feature in &self.missing {
            checks.push(Check::new(
                "scope",
                None,
                Status::Fail,
                format!(
                    "feature `{feature}` has not landed (no `Feature: {feature}` trailer or scope)"
                ),
            ));
        }
        checks
    }

    /// `release status`: what is left, in words.
    pub fn to_human(&self) -> String {
        let mut out = String::new();
        match (self.days_to_freeze, self.days_to_release) {
            (Some(f), Some(r)) if f > 0 => {
                let _ =
                    writeln!(out, "Date train: code freeze in {f} day(s), release in {r} day(s).");
            }
            (Some(_), Some(r)) if r > 0 => {
                let _ = writeln!(out, "Date train: frozen (fixes only); release in {r} day(s).");
            }
            (Some(_), Some(0)) => out.push_str("Date train: the release date is today.\n"),
            (Some(_), Some(r)) => {
                let _ = writeln!(out, "Date train: the release date was {} day(s) ago.", -r);
            }
            _ => out.push_str("No date train configured.\n"),
        }
        if self.landed.is_empty() && self.missing.is_empty() {
            out.push_str("No required features configured.\n");
        } else {
            let total = self.landed.len() + self.missing.len();
            let _ = writeln!(out, "Features: {} of {total} landed.", self.landed.len());
            for (feature, id) in &self.landed {
                let _ = writeln!(out, "  [x] {feature} ({id})");
            }
            for feature in &self.missing {
                let _ = writeln!(out, "  [ ] {feature}");
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use expect_test::expect;

    use super::*;

    /// A gzip'd tar with `files` under `<name>-<version>/`.
    fn archive(dir: &Path, files: &[(&str, &str)]) -> PathBuf {
        let path = dir.join("a-1.2.0.crate");
        let mut builder =
            tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), Default::default()));
        for (name, text) in files {
            let mut header = tar::Header::new_gnu();
            header.set_size(text.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            builder
                .append_data(&mut header, format!("a-1.2.0/{name}"), text.as_bytes())
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let bytes =
            builder.into_inner().and_then(|gz| gz.finish()).unwrap_or_else(|e| panic!("{e}"));
        let mut file = std::fs::File::create(&path).unwrap_or_else(|e| panic!("{e}"));
        file.write_all(&bytes).unwrap_or_else(|e| panic!("{e}"));
        path
    }

    /// A label, the archive's files, and the crate's `rust-version`.
    type ArchiveCase<'a> = (&'a str, &'a [(&'a str, &'a str)], Option<&'a str>);

    #[test]
    fn archive_checks() {
        let temp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let good = "# Changelog\n\n## [1.2.0] - 2026-11-28\n\nMSRV: 1.85\n\n## [1.1.0]\n";
        let left = "# Changelog\n\n## [Unreleased]\n\n### Fixed\n\n- fix (aaaaaaa)\n\n\
                    ## [1.2.0] - 2026-11-28\n\nMSRV: 1.85\n\n### Fixed\n\n- fix (aaaaaaa)\n\
                    - Updated dependencies\n\n## [1.1.0]\n\n- Updated dependencies\n\
                    - old (bbbbbbb)\n";
        let twice = "## [Unreleased]\n\n## [1.2.0] - 2026-11-28\n\nMSRV: 1.85\n\n- note\n\
                     - note\n- old (bbbbbbb)\n\n## [1.1.0]\n\n- old (bbbbbbb)\n";
        let comment = "## [Unreleased] - ReleaseDate\n\n<!-- aaaaaaa -->\n\n\
                       ## [1.2.0] - 2026-11-28\n\nMSRV: 1.85\n";
        let cases: &[ArchiveCase<'_>] = &[
            ("no changelog", &[("Cargo.toml", "")], Some("1.85")),
            (
                "old section only",
                &[("CHANGELOG.md", "## [1.1.0] - 2026-01-01\n"), ("LICENSE", "")],
                Some("1.85"),
            ),
            (
                "no MSRV line",
                &[("CHANGELOG.md", "## [1.2.0] - 2026-11-28\n"), ("LICENSE", "")],
                Some("1.85"),
            ),
            ("other MSRV", &[("CHANGELOG.md", good), ("LICENSE", "")], Some("1.80")),
            ("no rust-version", &[("CHANGELOG.md", good), ("LICENSE", "")], None),
            ("all good", &[("CHANGELOG.md", good), ("LICENSE", "")], Some("1.85")),
            // The bug of issue 16: `[Unreleased]` left in place and its entries released too.
            ("unreleased left", &[("CHANGELOG.md", left), ("LICENSE", "")], Some("1.85")),
            ("same text twice", &[("CHANGELOG.md", twice), ("LICENSE", "")], Some("1.85")),
            ("only a comment left", &[("CHANGELOG.md", comment), ("LICENSE", "")], Some("1.85")),
            // Issue 14: a packager needs the licence text inside the package.
            ("licence: COPYING", &[("CHANGELOG.md", good), ("COPYING", "")], Some("1.85")),
            ("licence: LICENSE-MIT", &[("CHANGELOG.md", good), ("LICENSE-MIT", "")], Some("1.85")),
            (
                "licence: license-file",
                &[
                    ("CHANGELOG.md", good),
                    ("Cargo.toml", "[package]\nlicense-file = \"legal/TERMS.txt\"\n"),
                    ("legal/TERMS.txt", ""),
                ],
                Some("1.85"),
            ),
            (
                "licence: license-file missing",
                &[
                    ("CHANGELOG.md", good),
                    ("Cargo.toml", "[package]\nlicense-file = \"TERMS.txt\"\n"),
                    ("LICENSE", ""),
                ],
                Some("1.85"),
            ),
            (
                "licence: only in a subfolder",
                &[("CHANGELOG.md", good), ("docs/LICENSE", "")],
                Some("1.85"),
            ),
        ];
        let mut out = String::new();
        for (label, files, rust_version) in cases {
            let path = archive(temp.path(), files);
            let target = Target {
                name: "a".to_owned(),
                version: Version::new(1, 2, 0),
                rust_version: rust_version.map(str::to_owned),
            };
            let (checks, packaged) =
                check_archive(&path, &target).unwrap_or_else(|e| panic!("{e}"));
            let _ = writeln!(out, "{label}: section found = {}", packaged.section.is_some());
            for check in checks {
                let _ = writeln!(out, "  {:?} {}: {}", check.status, check.id, check.message);
            }
        }
        expect![[r#"
            no changelog: section found = false
              Fail changelog: a-1.2.0.crate does not contain CHANGELOG.md, so it lacks the section for 1.2.0 (is it left out by `include`/`exclude`, or outside the crate folder?)
              Fail license: a-1.2.0.crate carries no licence text (no LICENSE*, COPYING* or `license-file`): packagers must ship it; put the licence file in the crate folder (and in `include`, if set) or name it with `license-file`
            old section only: section found = false
              Fail changelog: CHANGELOG.md in a-1.2.0.crate has no section for 1.2.0 (missing `## [1.2.0]`)
              Pass license: a-1.2.0.crate carries LICENSE
            no MSRV line: section found = true
              Pass changelog: CHANGELOG.md in a-1.2.0.crate has the section for 1.2.0, nothing under [Unreleased], no entry twice
              Fail msrv: section does not state the MSRV (add `MSRV: 1.85`)
              Pass license: a-1.2.0.crate carries LICENSE
            other MSRV: section found = true
              Pass changelog: CHANGELOG.md in a-1.2.0.crate has the section for 1.2.0, nothing under [Unreleased], no entry twice
              Fail msrv: section states MSRV 1.85 but rust-version is 1.80
              Pass license: a-1.2.0.crate carries LICENSE
            no rust-version: section found = true
              Pass changelog: CHANGELOG.md in a-1.2.0.crate has the section for 1.2.0, nothing under [Unreleased], no entry twice
              Warn msrv: no rust-version in Cargo.toml: packagers cannot tell which compiler it needs
              Pass license: a-1.2.0.crate carries LICENSE
            all good: section found = true
              Pass changelog: CHANGELOG.md in a-1.2.0.crate has the section for 1.2.0, nothing under [Unreleased], no entry twice
              Pass msrv: section states MSRV 1.85
              Pass license: a-1.2.0.crate carries LICENSE
            unreleased left: section found = true
              Pass changelog: CHANGELOG.md in a-1.2.0.crate has the section for 1.2.0
              Pass msrv: section states MSRV 1.85
              Fail unreleased: CHANGELOG.md in a-1.2.0.crate still has 2 line(s) under [Unreleased] (first: `- fix (aaaaaaa)`): they belong in the 1.2.0 section (a release moves them there when it writes the section)
              Fail duplicate: CHANGELOG.md in a-1.2.0.crate lists 1 entr(ies) of the 1.2.0 section twice: `- fix (aaaaaaa)`; keep each once
              Pass license: a-1.2.0.crate carries LICENSE
            same text twice: section found = true
              Pass changelog: CHANGELOG.md in a-1.2.0.crate has the section for 1.2.0
              Pass msrv: section states MSRV 1.85
              Fail duplicate: CHANGELOG.md in a-1.2.0.crate lists 2 entr(ies) of the 1.2.0 section twice: `- note`, `- old (bbbbbbb)`; keep each once
              Pass license: a-1.2.0.crate carries LICENSE
            only a comment left: section found = true
              Pass changelog: CHANGELOG.md in a-1.2.0.crate has the section for 1.2.0, nothing under [Unreleased], no entry twice
              Pass msrv: section states MSRV 1.85
              Pass license: a-1.2.0.crate carries LICENSE
            licence: COPYING: section found = true
              Pass changelog: CHANGELOG.md in a-1.2.0.crate has the section for 1.2.0, nothing under [Unreleased], no entry twice
              Pass msrv: section states MSRV 1.85
              Pass license: a-1.2.0.crate carries COPYING
            licence: LICENSE-MIT: section found = true
              Pass changelog: CHANGELOG.md in a-1.2.0.crate has the section for 1.2.0, nothing under [Unreleased], no entry twice
              Pass msrv: section states MSRV 1.85
              Pass license: a-1.2.0.crate carries LICENSE-MIT
            licence: license-file: section found = true
              Pass changelog: CHANGELOG.md in a-1.2.0.crate has the section for 1.2.0, nothing under [Unreleased], no entry twice
              Pass msrv: section states MSRV 1.85
              Pass license: a-1.2.0.crate carries legal/TERMS.txt (license-file)
            licence: license-file missing: section found = true
              Pass changelog: CHANGELOG.md in a-1.2.0.crate has the section for 1.2.0, nothing under [Unreleased], no entry twice
              Pass msrv: section states MSRV 1.85
              Fail license: a-1.2.0.crate does not contain TERMS.txt, which `license-file` names (is it left out by `include`/`exclude`?)
            licence: only in a subfolder: section found = true
              Pass changelog: CHANGELOG.md in a-1.2.0.crate has the section for 1.2.0, nothing under [Unreleased], no entry twice
              Pass msrv: section states MSRV 1.85
              Fail license: a-1.2.0.crate carries no licence text (no LICENSE*, COPYING* or `license-file`): packagers must ship it; put the licence file in the crate folder (and in `include`, if set) or name it with `license-file`
        "#]]
        .assert_eq(&out);
    }

    #[test]
    fn where_a_dependency_entry_is_written() {
        let temp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let root = temp.path();
        let manifest = root.join("b/Cargo.toml");
        std::fs::create_dir_all(root.join("b")).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(
            &manifest,
            "[package]\nname = \"b\"\n\n[dependencies]\na.workspace = true\n\
             c = { path = \"../c\", version = \"0.1\" }\n\n[build-dependencies]\n\
             d = { workspace = true }\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let homes: Vec<String> =
            ["a", "c", "d"].iter().map(|dep| dependency_home(&manifest, root, dep)).collect();
        expect![[r#"
            `a` in Cargo.toml [workspace.dependencies]
            `c` in b/Cargo.toml
            `d` in Cargo.toml [workspace.dependencies]"#]]
        .assert_eq(&homes.join("\n"));
    }

    #[test]
    fn patch_overrides_fail_the_gate() {
        let cases = [
            "[workspace]\nmembers = []\n",
            "[patch.crates-io]\ntss-esapi = { git = \"https://example.org/x\" }\n",
            "[replace]\n\"a:1.0.0\" = { path = \"a\" }\n",
        ];
        let out: Vec<String> = cases
            .iter()
            .map(|text| {
                let check = check_patch(text);
                format!("{:?}: {}", check.status, check.message)
            })
            .collect();
        expect![[r#"
            Pass: no [patch] or [replace] overrides
            Fail: [patch.crates-io] tss-esapi (ignored by cargo publish: the published crates would build against other code)
            Fail: [replace] (ignored by cargo publish: the published crates would build against other code)"#]]
        .assert_eq(&out.join("\n"));
    }

    #[test]
    fn one_version_per_family_crate_across_lockfiles() {
        let temp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let lock = |name: &str, packages: &[(&str, &str)]| {
            let mut text = String::from("version = 4\n");
            for (crate_name, version) in packages {
                text.push_str(&format!(
                    "\n[[package]]\nname = \"{crate_name}\"\nversion = \"{version}\"\n"
                ));
            }
            let path = temp.path().join(name);
            std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
            path
        };
        let service = lock("service.lock", &[("tss-esapi", "7.6.0"), ("serde", "1.0.0")]);
        let tool = lock("tool.lock", &[("tss-esapi", "7.7.0"), ("serde", "1.0.1")]);
        let same = lock("same.lock", &[("tss-esapi", "7.6.0")]);
        let family = ["tss-esapi".to_owned(), "psa-crypto".to_owned()];
        let mut out = String::new();
        for files in
            [vec![service.clone(), same], vec![service, tool], vec![temp.path().join("none")]]
        {
            for check in check_lockfiles(&files, &family).unwrap_or_else(|e| panic!("{e}")) {
                let message = check.message.replace(&temp.path().display().to_string(), "T");
                let _ = writeln!(out, "{:?}: {message}", check.status);
            }
        }
        expect![[r#"
            Pass: one version of each family crate across 2 lockfile(s)
            Fail: several versions: tss-esapi: 7.6.0 in T/service.lock; 7.7.0 in T/tool.lock
            Warn: no Cargo.lock to check (commit the lockfile, or list others under [release] in proofmark.toml)
        "#]]
        .assert_eq(&out);
    }

    #[test]
    fn scope_from_trailers_scopes_and_dates() {
        let temp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let dir = temp.path();
        let git = |args: &[&str]| {
            let out = std::process::Command::new("git")
                .current_dir(dir)
                .env("GIT_CONFIG_GLOBAL", "/dev/null")
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .env("GIT_AUTHOR_NAME", "Ada")
                .env("GIT_AUTHOR_EMAIL", "ada@example.org")
                .env("GIT_COMMITTER_NAME", "Ada")
                .env("GIT_COMMITTER_EMAIL", "ada@example.org")
                .env("GIT_AUTHOR_DATE", "2026-01-01T00:00:00Z")
                .env("GIT_COMMITTER_DATE", "2026-01-01T00:00:00Z")
                .args(args)
                .output()
                .unwrap_or_else(|e| panic!("{e}"));
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        };
        git(&["-c", "init.defaultBranch=main", "init", "-q"]);
        git(&["commit", "-q", "--allow-empty", "-m", "feat(sealing): seal to PCRs"]);
        git(&["commit", "-q", "--allow-empty", "-m", "feat: verify\n\nFeature: cosign-verify"]);
        let config = ReleaseConfig::parse(
            "[train]\nfreeze = \"2026-12-01\"\nrelease = \"2026-12-15\"\n\
             [features]\nrequired = [\"sealing\", \"cosign-verify\", \"attestation\"]\n",
            Path::new("release.toml"),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let mut out = String::new();
        for today in ["2026-11-28", "2026-12-05", "2026-12-15"] {
            let today = today.parse::<Date>().unwrap_or_else(|e| panic!("{e}"));
            let scope = Scope::compute(dir, &config, today).unwrap_or_else(|e| panic!("{e}"));
            let _ = writeln!(out, "{today}:\n{}", scope.to_human());
            for check in scope.checks() {
                let message = check.message.split(" (").next().unwrap_or_default().to_owned();
                let _ = writeln!(out, "  {:?}: {message}", check.status);
            }
        }
        expect![[r#"
            2026-11-28:
            Date train: code freeze in 3 day(s), release in 17 day(s).
            Features: 2 of 3 landed.
              [x] sealing (ID)
              [x] cosign-verify (ID)
              [ ] attestation

              Fail: before the freeze: the release date is in 17 day(s)
              Pass: feature `sealing` landed
              Pass: feature `cosign-verify` landed
              Fail: feature `attestation` has not landed
            2026-12-05:
            Date train: frozen (fixes only); release in 10 day(s).
            Features: 2 of 3 landed.
              [x] sealing (ID)
              [x] cosign-verify (ID)
              [ ] attestation

              Fail: frozen: the release date is in 10 day(s)
              Pass: feature `sealing` landed
              Pass: feature `cosign-verify` landed
              Fail: feature `attestation` has not landed
            2026-12-15:
            Date train: the release date is today.
            Features: 2 of 3 landed.
              [x] sealing (ID)
              [x] cosign-verify (ID)
              [ ] attestation

              Pass: the train's release date has come
              Pass: feature `sealing` landed
              Pass: feature `cosign-verify` landed
              Fail: feature `attestation` has not landed
        "#]]
        .assert_eq(&mask(&out));
    }

    /// Replaces abbreviated commit ids in parentheses with `ID`.
    fn mask(text: &str) -> String {
        text.lines()
            .map(|line| match (line.rfind('('), line.strip_suffix(')')) {
                (Some(open), Some(_)) if line[open + 1..line.len() - 1].len() >= 7 => {
                    format!("{}(ID)", &line[..open])
                }
                _ => line.to_owned(),
            })
            .collect::<Vec<_>>()
            .join("\n")
            + "\n"
    }
}
