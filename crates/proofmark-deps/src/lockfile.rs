//! The workspace's own `Cargo.lock`, checked like cargo-audit does: every package locked from a
//! registry is looked up in that registry's index (yanked? vanished?) and joined with RustSec
//! advisories. A problem found here is fixed by updating the lockfile, never by a yank: each
//! finding carries the `cargo update -p NAME --precise X` that fixes it, X being the newest
//! non-yanked, unaffected, semver-compatible version in the index.
//!
//! Lockfile formats v1 to v4 share the `[[package]]` table (`name`, `version`, `source`); v4
//! only changed how git sources are encoded, which this check skips anyway.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::advisory::{Advisory, AdvisoryDb};
use crate::culprit::compatible;
use crate::error::{Error, Result, io};
use crate::index::{CRATES_IO_LOCK_SOURCE, Index, IndexEntry, RegistrySource};
use crate::policy::{Action, Policy, line_of};
use crate::report::{AdvisoryRef, Finding, Severity};

/// crates.io as cargo writes it in a lockfile when the sparse protocol was named explicitly.
const CRATES_IO_SPARSE_LOCK_SOURCE: &str = "sparse+https://index.crates.io/";

/// One `[[package]]` of a lockfile.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct LockedPackage {
    /// Crate name.
    pub name: String,
    /// The locked version.
    pub version: semver::Version,
    /// `registry+URL`, `sparse+URL`, `git+URL#REV`; `None` for workspace members and path
    /// dependencies.
    #[serde(default)]
    pub source: Option<String>,
}

/// A parsed lockfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lockfile {
    /// The `version = N` key (absent before format 3).
    pub format: Option<i64>,
    /// Every package.
    pub packages: Vec<LockedPackage>,
}

#[derive(Deserialize)]
struct RawLockfile {
    #[serde(default)]
    version: Option<i64>,
    #[serde(default)]
    package: Vec<LockedPackage>,
}

impl Lockfile {
    /// Parses the text of a `Cargo.lock`; `path` only names it in errors.
    pub fn parse(path: &Path, text: &str) -> Result<Lockfile> {
        let raw: RawLockfile = toml::from_str(text)
            .map_err(|e| Error::Toml { path: path.to_owned(), detail: e.to_string() })?;
        Ok(Lockfile { format: raw.version, packages: raw.package })
    }

    /// Reads and parses a `Cargo.lock`.
    pub fn read(path: &Path) -> Result<Lockfile> {
        let text = std::fs::read_to_string(path).map_err(io("read lockfile", path))?;
        Lockfile::parse(path, &text)
    }
}

/// Whether a lockfile `source` is crates.io, in either of the spellings cargo writes.
pub fn is_crates_io(source: &str) -> bool {
    source == CRATES_IO_LOCK_SOURCE || source == CRATES_IO_SPARSE_LOCK_SOURCE
}

/// The result of [`check_lockfile`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LockfileCheck {
    /// One finding per locked package with a problem (sorted by id); clean packages are not
    /// reported.
    pub findings: Vec<Finding>,
    /// Packages that could not be checked (an index this crate cannot read).
    pub warnings: Vec<String>,
}

/// Checks every registry package of the lockfile at `path`. crates.io packages are looked up
/// in `crates_io` (the index cargo is configured with, source replacement included); packages
/// from another registry in the index their `source` names, when it is readable (sparse or
/// `file://`), else a warning. `label` is how findings name the lockfile (the SARIF location).
pub fn check_lockfile(
    path: &Path,
    label: &str,
    crates_io: &Index,
    db: &AdvisoryDb,
    policy: &Policy,
) -> Result<LockfileCheck> {
    let lock = Lockfile::read(path)?;
    let mut out = LockfileCheck::default();
    if lock.format.is_some_and(|v| v > 4) {
        out.warnings.push(format!("{label}: lockfile format {:?} is newer than 4", lock.format));
    }
    // Several versions of one crate need `-p NAME@VERSION` to say which one to update.
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for p in &lock.packages {
        *counts.entry(p.name.as_str()).or_default() += 1;
    }
    // One sparse request per crate: a lockfile of 500 crates read one after the other takes
    // over a minute.
    let names: Vec<String> = lock
        .packages
        .iter()
        .filter(|p| p.source.as_deref().is_some_and(is_crates_io))
        .map(|p| p.name.clone())
        .collect();
    crates_io.prefetch(&names);
    let mut others: BTreeMap<String, Option<Index>> = BTreeMap::new();
    for p in &lock.packages {
        let Some(source) = p.source.as_deref() else { continue };
        let index = if is_crates_io(source) {
            crates_io
        } else if source.starts_with("registry+") || source.starts_with("sparse+") {
            let slot = others
                .entry(source.to_owned())
                .or_insert_with(|| RegistrySource::from_url(source).ok().map(Index::new));
            match slot {
                Some(index) => index,
                None => {
                    out.warnings
                        .push(format!("{}@{}: cannot read its index {source}", p.name, p.version));
                    continue;
                }
            }
        } else {
            // git and path sources have no index, no yanks and no RustSec coverage by version.
            continue;
        };
        let versions = index.versions(&p.name)?;
        let ambiguous = counts.get(p.name.as_str()).is_some_and(|n| *n > 1);
        if let Some(f) = check_one(p, &versions, index, label, ambiguous, db, policy) {
            out.findings.push(f);
        }
    }
    out.findings.sort_by(|a, b| a.id.cmp(&b.id));
    out.findings.dedup_by(|a, b| a.id == b.id);
    Ok(out)
}

fn check_one(
    p: &LockedPackage,
    versions: &[IndexEntry],
    index: &Index,
    label: &str,
    ambiguous: bool,
    db: &AdvisoryDb,
    policy: &Policy,
) -> Option<Finding> {
    let counts = |a: &Advisory| policy.informational_counts || a.informational.is_none();
    let advisories = db.affecting(&p.name, &p.version);
    let entry = versions.iter().find(|e| e.vers == p.version);
    let vanished = versions.is_empty();
    let missing_version = !vanished && entry.is_none();
    let yanked = entry.is_some_and(|e| e.yanked);
    let vulnerable = advisories.iter().any(|a| counts(a));
    if !vanished && !missing_version && !yanked && advisories.is_empty() {
        return None;
    }
    let mut f = Finding::empty(&p.name, &line_of(&p.version));
    f.id = format!("lockfile:{}@{}", p.name, p.version);
    f.versions = vec![p.version.to_string()];
    f.location = Some(label.to_owned());
    f.advisories = advisories
        .iter()
        .map(|a| AdvisoryRef {
            id: a.id.clone(),
            package: format!("{}@{}", p.name, p.version),
            title: a.title.clone(),
            informational: a.informational.clone(),
        })
        .collect();
    let mut classes = Vec::new();
    if vanished {
        classes.push("locked-vanished");
    }
    if missing_version {
        classes.push("locked-version-missing");
    }
    if yanked {
        classes.push("locked-yanked");
    }
    if vulnerable {
        classes.push("locked-vulnerable");
    } else if !advisories.is_empty() {
        classes.push("locked-informational");
    }
    f.class = classes.join(", ");
    let fix = versions
        .iter()
        .filter(|e| {
            !e.yanked
                && compatible(&e.vers, &p.version)
                && (e.vers.pre.is_empty() || !p.version.pre.is_empty())
                && db.affecting(&p.name, &e.vers).iter().all(|a| !counts(a))
        })
        .max_by(|a, b| a.vers.cmp(&b.vers));
    let what = [
        vanished.then(|| format!("{} is no longer in {}", p.name, index.source())),
        missing_version.then(|| format!("{} is not in {}", p.version, index.source())),
        yanked.then(|| format!("{} is yanked", p.version)),
        vulnerable.then(|| format!("{} is affected by an advisory", p.version)),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(", ");
    if !vanished && !missing_version && !yanked && !vulnerable {
        f.set(
            Action::None,
            Severity::Note,
            "L4-informational-advisory",
            "informational advisory on a locked dependency".to_owned(),
        );
        return Some(f);
    }
    let rule = if vulnerable {
        "L2-vulnerable-dependency"
    } else if yanked {
        "L1-yanked-dependency"
    } else {
        "L3-vanished-dependency"
    };
    let severity =
        if vulnerable || vanished || missing_version { Severity::Error } else { Severity::Warning };
    match fix.filter(|e| e.vers != p.version) {
        Some(e) => {
            let spec = if ambiguous { format!("{}@{}", p.name, p.version) } else { p.name.clone() };
            f.command = Some(format!("cargo update -p {spec} --precise {}", e.vers));
            f.set(
                Action::UpdateLockfile,
                severity,
                rule,
                format!("{what}: update the lockfile to {}", e.vers),
            );
        }
        None => f.set(
            Action::NeedsHuman,
            severity,
            rule,
            format!(
                "{what}: no non-yanked, unaffected version compatible with {}; raise the \
                 requirement of the crates that depend on it",
                p.version
            ),
        ),
    }
    Some(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_sources() {
        let v3 = "version = 3\n\n[[package]]\nname = \"a\"\nversion = \"1.0.0\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\nchecksum = \"00\"\n\n[[package]]\nname = \"me\"\nversion = \"0.1.0\"\ndependencies = [\"a\"]\n";
        let lock = Lockfile::parse(Path::new("Cargo.lock"), v3).unwrap();
        assert_eq!(lock.format, Some(3));
        assert_eq!(lock.packages.len(), 2);
        assert!(is_crates_io(lock.packages[0].source.as_deref().unwrap()));
        assert_eq!(lock.packages[1].source, None);
        assert!(is_crates_io("sparse+https://index.crates.io/"));
        assert!(!is_crates_io("sparse+https://corp.invalid/index/"));
        let bad = Lockfile::parse(Path::new("Cargo.lock"), "[[package]]\nname = 1\n");
        assert!(matches!(bad, Err(Error::Toml { .. })));
    }
}
