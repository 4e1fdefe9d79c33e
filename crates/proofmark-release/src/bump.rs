//! Version bumps: inferring a level from commits, applying it, and user overrides.
//!
//! Inference follows Conventional Commits: a breaking change asks for a major bump, a `feat`
//! for a minor one, anything else (fixes, other types, non-conventional commits) for a patch.
//! Below 1.0.0 Cargo treats the minor number as the compatibility boundary, so by default a
//! breaking change bumps the minor number and a feature the patch number there; both rules
//! can be switched off with [`BumpRules`]. `0.0.z` versions follow the same `0.y` rules.
//!
//! Applying a bump to a pre-release finishes it when possible, as cargo-release does:
//! `1.0.0-rc.1` + patch = `1.0.0`, `1.1.0-rc.1` + minor = `1.1.0`, `2.0.0-rc.1` + major =
//! `2.0.0`.

use std::fmt;
use std::str::FromStr;

use semver::{BuildMetadata, Prerelease, Version};
use serde::Serialize;

use crate::error::Error;

/// A SemVer increment, ordered from smallest to largest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// `x.y.Z`.
    Patch,
    /// `x.Y.0`.
    Minor,
    /// `X.0.0`.
    Major,
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Patch => "patch",
            Self::Minor => "minor",
            Self::Major => "major",
        })
    }
}

/// How commit levels map onto `0.y.z` versions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct BumpRules {
    /// Below 1.0.0, a breaking change bumps the minor number instead of the major one
    /// (default `true`; `false` releases 1.0.0 on the first breaking change).
    pub zero_breaking_is_minor: bool,
    /// Below 1.0.0, a feature bumps the patch number instead of the minor one (default `true`).
    pub zero_feature_is_patch: bool,
}

impl Default for BumpRules {
    fn default() -> Self {
        Self { zero_breaking_is_minor: true, zero_feature_is_patch: true }
    }
}

impl BumpRules {
    /// The level actually applied to `version` for a change of `level`.
    pub fn effective(&self, version: &Version, level: Level) -> Level {
        if version.major != 0 {
            return level;
        }
        match level {
            Level::Major if self.zero_breaking_is_minor => Level::Minor,
            Level::Minor if self.zero_feature_is_patch => Level::Patch,
            other => other,
        }
    }

    /// The next version after `version` for a change of `level` (rules applied).
    pub fn next(&self, version: &Version, level: Level) -> Version {
        apply(version, self.effective(version, level))
    }
}

/// Applies `level` to `version` literally (no 0.x rules), dropping pre-release and build.
pub fn apply(version: &Version, level: Level) -> Version {
    let pre = !version.pre.is_empty();
    let mut next =
        Version { pre: Prerelease::EMPTY, build: BuildMetadata::EMPTY, ..version.clone() };
    match level {
        Level::Patch if pre => {}
        Level::Patch => next.patch += 1,
        Level::Minor if pre && version.patch == 0 => {}
        Level::Minor => {
            next.minor += 1;
            next.patch = 0;
        }
        Level::Major if pre && version.minor == 0 && version.patch == 0 => {}
        Level::Major => {
            next.major += 1;
            next.minor = 0;
            next.patch = 0;
        }
    }
    next
}

/// `version` without pre-release and build metadata: the final release a candidate leads to.
pub fn finished(version: &Version) -> Version {
    Version { pre: Prerelease::EMPTY, build: BuildMetadata::EMPTY, ..version.clone() }
}

/// The next pre-release `target-id.N` of `target` (a final version): `N` is one more than the
/// last release's number when that release was `target-id.M`, else 1.
pub fn candidate(target: &Version, last: Option<&Version>, id: &str) -> Version {
    let number = last
        .filter(|last| finished(last) == finished(target))
        .and_then(|last| {
            let text = last.pre.as_str();
            let n = text.strip_prefix(id)?.strip_prefix('.')?;
            n.parse::<u64>().ok()
        })
        .map_or(1, |n| n + 1);
    let mut next = finished(target);
    // `id` was validated as a pre-release identifier by the caller; a number appended with a
    // dot keeps it valid.
    next.pre = Prerelease::new(&format!("{id}.{number}")).unwrap_or(Prerelease::EMPTY);
    next
}

/// A user's decision for one crate's next version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase", tag = "kind", content = "value")]
pub enum Override {
    /// Bump by this level whatever the commits say (0.x rules do not apply: `minor` means minor).
    Level(Level),
    /// Release exactly this version.
    Version(Version),
}

/// A parsed `NAME=major|minor|patch|X.Y.Z` command-line override.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CrateOverride {
    /// The crate.
    pub crate_name: String,
    /// What to do.
    pub decision: Override,
}

impl FromStr for CrateOverride {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || Error::BadOverride { text: text.to_owned() };
        let (name, value) = text.split_once('=').ok_or_else(bad)?;
        let name = name.trim();
        if name.is_empty() {
            return Err(bad());
        }
        let decision = match value.trim() {
            "major" => Override::Level(Level::Major),
            "minor" => Override::Level(Level::Minor),
            "patch" => Override::Level(Level::Patch),
            other => Override::Version(Version::parse(other).map_err(|_| bad())?),
        };
        Ok(Self { crate_name: name.to_owned(), decision })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> Version {
        Version::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn applies_rules() {
        let default = BumpRules::default();
        let strict = BumpRules { zero_breaking_is_minor: false, zero_feature_is_patch: false };
        let cases = [
            (default, "1.2.3", Level::Patch, "1.2.4"),
            (default, "1.2.3", Level::Minor, "1.3.0"),
            (default, "1.2.3", Level::Major, "2.0.0"),
            (default, "0.2.3", Level::Patch, "0.2.4"),
            (default, "0.2.3", Level::Minor, "0.2.4"),
            (default, "0.2.3", Level::Major, "0.3.0"),
            (default, "0.0.3", Level::Major, "0.1.0"),
            (strict, "0.2.3", Level::Minor, "0.3.0"),
            (strict, "0.2.3", Level::Major, "1.0.0"),
            (default, "1.0.0-rc.1", Level::Patch, "1.0.0"),
            (default, "1.1.0-rc.1", Level::Minor, "1.1.0"),
            (default, "1.1.1-rc.1", Level::Minor, "1.2.0"),
            (default, "2.0.0-rc.1", Level::Major, "2.0.0"),
            (default, "2.1.0-rc.1", Level::Major, "3.0.0"),
            (default, "1.2.3+build.7", Level::Patch, "1.2.4"),
        ];
        for (rules, from, level, expected) in cases {
            assert_eq!(rules.next(&v(from), level), v(expected), "{from} {level} {rules:?}");
        }
    }

    #[test]
    fn parses_overrides() {
        let cases = [
            ("alpha=major", Some(("alpha", Override::Level(Level::Major)))),
            ("alpha = minor", Some(("alpha", Override::Level(Level::Minor)))),
            ("beta=patch", Some(("beta", Override::Level(Level::Patch)))),
            ("beta=2.0.0-rc.1", Some(("beta", Override::Version(v("2.0.0-rc.1"))))),
            ("beta=2.0", None),
            ("beta", None),
            ("=major", None),
            ("beta=huge", None),
        ];
        for (text, expected) in cases {
            let got = text.parse::<CrateOverride>().ok().map(|o| (o.crate_name, o.decision));
            let expected = expected.map(|(n, d)| (n.to_owned(), d));
            assert_eq!(got, expected, "{text}");
        }
    }
}
