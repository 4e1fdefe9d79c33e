//! `release.toml` at the workspace root: which branches may release, and the release scope
//! (a date train or a list of features that must have landed).
//!
//! ```toml
//! # Branches a release may be made from; `*` at the end matches any suffix.
//! allowed-branches = ["main", "release/*"]
//!
//! # A date train: code freeze, then the release (Parsec: fixed time, variable scope).
//! [train]
//! freeze = "2026-12-01"
//! release = "2026-12-15"
//!
//! # Or (and/or) a feature list: each must be named by a `Feature:` trailer or a commit scope.
//! [features]
//! required = ["tpm-sealing", "cosign-verify"]
//!
//! # Packager checks: other lockfiles (e.g. the tool's) that must resolve the same single
//! # version of every crate of this family.
//! [packagers]
//! lockfiles = ["../parsec-tool/Cargo.lock"]
//! ```
//!
//! A missing file means: branches `main` and `master`, no scope constraint, only this
//! workspace's `Cargo.lock`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::date::Date;
use crate::error::{Error, Result};

/// The parsed `release.toml`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReleaseConfig {
    /// Branch patterns a release may be made from.
    pub allowed_branches: Vec<String>,
    /// The date train, if any.
    pub train: Option<Train>,
    /// Features that must have landed, if any.
    pub required_features: Vec<String>,
    /// Extra lockfiles for the one-version-per-family-crate check, relative to the root.
    pub lockfiles: Vec<PathBuf>,
}

/// A date train.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Train {
    /// Code freeze: only fixes land after it.
    pub freeze: Date,
    /// The release date.
    pub release: Date,
}

impl Default for ReleaseConfig {
    fn default() -> Self {
        Self {
            allowed_branches: vec!["main".to_owned(), "master".to_owned()],
            train: None,
            required_features: Vec::new(),
            lockfiles: Vec::new(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Raw {
    allowed_branches: Option<Vec<String>>,
    train: Option<RawTrain>,
    features: Option<RawFeatures>,
    packagers: Option<RawPackagers>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTrain {
    freeze: String,
    release: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFeatures {
    required: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPackagers {
    lockfiles: Vec<PathBuf>,
}

impl ReleaseConfig {
    /// The file name looked up at the workspace root.
    pub const FILE: &'static str = "release.toml";

    /// Reads `<root>/release.toml`, or the defaults when it does not exist.
    pub fn load(root: &Path) -> Result<Self> {
        let path = root.join(Self::FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => Self::parse(&text, &path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(source) => Err(Error::Read { path, source }),
        }
    }

    /// Parses the text of a `release.toml` (`path` is only used in errors).
    pub fn parse(text: &str, path: &Path) -> Result<Self> {
        let bad = |reason: String| Error::Config { path: path.to_owned(), reason };
        let raw: Raw = toml::from_str(text).map_err(|e| bad(e.message().to_owned()))?;
        let mut config = Self::default();
        if let Some(branches) = raw.allowed_branches {
            config.allowed_branches = branches;
        }
        if let Some(train) = raw.train {
            let date = |text: &str| text.parse::<Date>().map_err(|e| bad(format!("[train] {e}")));
            let train = Train { freeze: date(&train.freeze)?, release: date(&train.release)? };
            if train.freeze > train.release {
                return Err(bad(format!(
                    "[train] freeze {} is after release {}",
                    train.freeze, train.release
                )));
            }
            config.train = Some(train);
        }
        if let Some(features) = raw.features {
            config.required_features = features.required;
        }
        if let Some(packagers) = raw.packagers {
            config.lockfiles = packagers.lockfiles;
        }
        Ok(config)
    }

    /// Whether `branch` matches one of the allowed patterns.
    pub fn branch_allowed(&self, branch: &str) -> bool {
        self.allowed_branches.iter().any(|pattern| match pattern.strip_suffix('*') {
            Some(prefix) => branch.starts_with(prefix),
            None => branch == pattern,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects() {
        let path = Path::new("release.toml");
        let config = ReleaseConfig::parse(
            "allowed-branches = [\"main\", \"release/*\"]\n[train]\nfreeze = \"2026-12-01\"\n\
             release = \"2026-12-15\"\n[features]\nrequired = [\"x\"]\n",
            path,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(config.branch_allowed("release/1.0"));
        assert!(config.branch_allowed("main"));
        assert!(!config.branch_allowed("mainline"));
        assert_eq!(config.required_features, ["x"]);
        assert_eq!(config.train.map(|t| t.release.to_string()).as_deref(), Some("2026-12-15"));
        for (text, reason) in [
            ("[train]\nfreeze = \"2026-12-20\"\nrelease = \"2026-12-15\"\n", "after release"),
            ("[train]\nfreeze = \"2026-13-01\"\nrelease = \"2026-12-15\"\n", "YYYY-MM-DD"),
            ("branches = []\n", "unknown field"),
        ] {
            match ReleaseConfig::parse(text, path) {
                Err(Error::Config { reason: got, .. }) => assert!(got.contains(reason), "{got}"),
                other => panic!("{text}: unexpected {other:?}"),
            }
        }
    }
}
