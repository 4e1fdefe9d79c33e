//! RustSec advisories read from a local copy of the advisory database (`crates/<name>/*.md`,
//! each with a TOML front matter in a ```` ```toml ```` block, as in rustsec/advisory-db), and
//! fetched into a cache folder with the `git` CLI ([`fetch`]).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, io};

/// One advisory, reduced to what the join needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Advisory {
    /// `RUSTSEC-YYYY-NNNN`.
    pub id: String,
    /// The affected crate.
    pub package: String,
    /// The title (the Markdown heading).
    pub title: String,
    /// `unmaintained`, `unsound`, `notice`… for informational advisories; `None` for
    /// vulnerabilities.
    pub informational: Option<String>,
    /// Requirements of the versions that fix it.
    pub patched: Vec<String>,
    /// Requirements of the versions never affected.
    pub unaffected: Vec<String>,
}

#[derive(Deserialize)]
struct FrontMatter {
    advisory: AdvisorySection,
    #[serde(default)]
    versions: VersionsSection,
}

#[derive(Deserialize)]
struct AdvisorySection {
    id: String,
    package: String,
    #[serde(default)]
    informational: Option<String>,
    #[serde(default)]
    withdrawn: Option<String>,
}

#[derive(Deserialize, Default)]
struct VersionsSection {
    #[serde(default)]
    patched: Vec<String>,
    #[serde(default)]
    unaffected: Vec<String>,
}

impl Advisory {
    /// Whether `version` is affected: it matches neither a patched nor an unaffected range.
    pub fn affects(&self, version: &semver::Version) -> bool {
        let hit = |reqs: &[String]| {
            reqs.iter().any(|r| semver::VersionReq::parse(r).is_ok_and(|req| req.matches(version)))
        };
        !hit(&self.patched) && !hit(&self.unaffected)
    }
}

/// A loaded advisory database.
#[derive(Debug, Clone, Default)]
pub struct AdvisoryDb {
    advisories: Vec<Advisory>,
}

impl AdvisoryDb {
    /// Loads every advisory under `root/crates/` (withdrawn ones skipped).
    pub fn load(root: &Path) -> Result<AdvisoryDb> {
        let crates = root.join("crates");
        let mut advisories = Vec::new();
        let dirs = std::fs::read_dir(&crates).map_err(io("read advisory folder", &crates))?;
        let mut files: Vec<PathBuf> = Vec::new();
        for dir in dirs.flatten() {
            let Ok(entries) = std::fs::read_dir(dir.path()) else { continue };
            files.extend(
                entries
                    .flatten()
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|e| e == "md")),
            );
        }
        files.sort();
        for path in files {
            let text = std::fs::read_to_string(&path).map_err(io("read advisory", &path))?;
            if let Some(advisory) = parse_advisory(&path, &text)? {
                advisories.push(advisory);
            }
        }
        Ok(AdvisoryDb { advisories })
    }

    /// The advisories affecting `name@version`.
    pub fn affecting(&self, name: &str, version: &semver::Version) -> Vec<&Advisory> {
        self.advisories.iter().filter(|a| a.package == name && a.affects(version)).collect()
    }

    /// How many advisories are loaded.
    pub fn len(&self) -> usize {
        self.advisories.len()
    }

    /// Whether none are.
    pub fn is_empty(&self) -> bool {
        self.advisories.is_empty()
    }
}

/// The upstream advisory database.
pub const ADVISORY_DB_URL: &str = "https://github.com/rustsec/advisory-db";

/// Where [`fetch`] keeps its copy by default: `$CARGO_HOME/advisory-db`, the folder cargo-audit
/// uses, so either tool can reuse the other's copy.
pub fn default_cache_dir(cargo_home: &Path) -> PathBuf {
    cargo_home.join("advisory-db")
}

/// Clones `url` (shallow, `--depth 1`) into `dest`, replacing what is there. Atomic: the clone
/// goes into a temporary sibling folder and is renamed over `dest` only once complete, so an
/// interrupted fetch (or a concurrent reader) never sees a half-written database. A fresh
/// shallow clone rather than a fetch into the old copy keeps the folder a pure function of
/// upstream (a few MB). `git` is the CLI to run.
pub fn fetch(git: &Path, url: &str, dest: &Path) -> Result<PathBuf> {
    let parent = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(io("create", &parent))?;
    let tmp = tempfile::Builder::new()
        .prefix(".advisory-db-fetch-")
        .tempdir_in(&parent)
        .map_err(io("create temporary folder in", &parent))?;
    let clone = tmp.path().join("db");
    let out = std::process::Command::new(git)
        .args(["clone", "--quiet", "--depth", "1", "--", url])
        .arg(&clone)
        // Never wait for credentials on a terminal: fail, and say how to work offline.
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .map_err(|source| Error::Spawn { program: "git".to_owned(), source })?;
    if !out.status.success() {
        return Err(Error::AdvisoryFetch {
            url: url.to_owned(),
            // The first line says why (`Could not resolve host`, `not a git repository`).
            detail: String::from_utf8_lossy(&out.stderr)
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("git clone failed")
                .trim()
                .to_owned(),
        });
    }
    // Move the old copy aside first: rename cannot replace a non-empty folder.
    let old = tmp.path().join("old");
    if dest.exists() {
        std::fs::rename(dest, &old).map_err(io("move aside", dest))?;
    }
    if let Err(e) = std::fs::rename(&clone, dest) {
        // Put the old copy back rather than leave nothing.
        let _ = std::fs::rename(&old, dest);
        return Err(io("rename the new clone to", dest)(e));
    }
    // `tmp` (with the old copy) is removed on drop.
    Ok(dest.to_owned())
}

fn parse_advisory(path: &Path, text: &str) -> Result<Option<Advisory>> {
    let bad = |detail: &str| Error::Toml { path: path.to_owned(), detail: detail.to_owned() };
    let body =
        text.trim_start().strip_prefix("```toml").ok_or_else(|| bad("no ```toml front matter"))?;
    let (front, rest) = body.split_once("```").ok_or_else(|| bad("unterminated front matter"))?;
    let front: FrontMatter = toml::from_str(front).map_err(|e| bad(&e.to_string()))?;
    if front.advisory.withdrawn.is_some() {
        return Ok(None);
    }
    let title =
        rest.lines().find_map(|l| l.strip_prefix("# ")).unwrap_or_default().trim().to_owned();
    Ok(Some(Advisory {
        id: front.advisory.id,
        package: front.advisory.package,
        title,
        informational: front.advisory.informational,
        patched: front.versions.patched,
        unaffected: front.versions.unaffected,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn front_matter_and_ranges() {
        let text = "```toml\n[advisory]\nid = \"RUSTSEC-2026-0001\"\npackage = \"a\"\ndate = \"2026-01-01\"\n\n[versions]\npatched = [\">= 1.0.1\"]\nunaffected = [\"< 0.9\"]\n```\n\n# Bad thing in a\n\nBody.\n";
        let a = parse_advisory(Path::new("x.md"), text).unwrap().unwrap();
        assert_eq!(a.title, "Bad thing in a");
        let v = |s| semver::Version::parse(s).unwrap();
        assert!(a.affects(&v("1.0.0")));
        assert!(!a.affects(&v("1.0.1")));
        assert!(!a.affects(&v("0.8.0")));
        assert!(parse_advisory(Path::new("x.md"), "# no front").is_err());
    }
}
