//! Which release tags belong to which crate, and which tag scheme a crate's new tags follow.
//!
//! # Ownership
//!
//! A prefixed tag (`name-X.Y.Z`, `name-vX.Y.Z`, the same with `/` or `@` for `-`, or the
//! `--tag-template` rendered for the crate) belongs to crate `name`. An unprefixed tag
//! (`X.Y.Z`, `vX.Y.Z`) belongs to the only published crate of a single-crate workspace; in a
//! multi-crate workspace it belongs to each crate whose manifest had exactly that version at
//! the tagged commit (read in the tagged tree, `version.workspace = true` resolved through the
//! root manifest of that tree). A crate
//! may own tags of several schemes: a root crate that moved from `name-vX.Y.Z` to `vX.Y.Z`
//! tags finds its newest release among both.
//!
//! # Scheme of new tags
//!
//! Without a template from the command line or a config file, a crate's new tags follow the
//! scheme of its newest release tag (highest version; between tags of one version, the
//! prefixed one). A crate without release tags follows the scheme most of the other crates'
//! newest tags use when that scheme names the crate, else the default (`{crate}-v{version}`, or
//! `v{version}` in a workspace that publishes a single crate). A crate whose tags mix schemes
//! gets a warning.

use std::collections::{BTreeMap, BTreeSet};

use semver::Version;
use serde::Serialize;

use crate::content::{Trees, object_id};
use crate::error::Result;
use crate::history::{Repo, TagRef};
use crate::tags::{ReleaseTag, TagTemplate};
use crate::workspace::{Package, Workspace};

/// A tag scheme proofmark reads: `X.Y.Z` or `vX.Y.Z`, with or without the crate's name before
/// it (`name-`, `name/` as knope writes, `name@` as cargo-workspaces writes). Ordered as
/// `X.Y.Z` < `vX.Y.Z` < `name-X.Y.Z` < `name-vX.Y.Z` < the `/` and `@` forms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Scheme {
    /// What stands between the crate's name and the version; `None`: the tag has no name.
    pub separator: Option<char>,
    /// Whether the version is written `vX.Y.Z`.
    pub v: bool,
}

impl Scheme {
    /// `X.Y.Z`
    pub const BARE: Self = Self { separator: None, v: false };
    /// `vX.Y.Z`
    pub const V: Self = Self { separator: None, v: true };
    /// `name-X.Y.Z`
    pub const NAME: Self = Self { separator: Some('-'), v: false };
    /// `name-vX.Y.Z`
    pub const NAME_V: Self = Self { separator: Some('-'), v: true };

    /// The scheme of a release tag's name; `None` if it is no release tag.
    pub fn of(tag: &str) -> Option<Self> {
        let parsed = ReleaseTag::parse(tag)?;
        let (separator, rest) = match &parsed.crate_name {
            Some(name) => {
                (tag[name.len()..].chars().next(), tag.get(name.len() + 1..).unwrap_or_default())
            }
            None => (None, tag),
        };
        Some(Self { separator, v: rest.starts_with('v') })
    }

    /// A tag of this scheme with `name` and `version` written in.
    fn write(self, name: &str, version: &str) -> String {
        let prefix = self.separator.map_or_else(String::new, |s| format!("{name}{s}"));
        format!("{prefix}{}{version}", if self.v { "v" } else { "" })
    }

    /// The template that renders tags of this scheme.
    pub fn template(self) -> TagTemplate {
        // Valid by construction: `{version}` and at most `{crate}`, `-`, `/`, `@` and `v`.
        TagTemplate::new(&self.write("{crate}", "{version}"))
            .unwrap_or_else(|_| TagTemplate::default_for(2))
    }

    /// Whether the scheme names the crate.
    pub fn prefixed(self) -> bool {
        self.separator.is_some()
    }

    /// How the scheme is written in messages (`name-vX.Y.Z`).
    pub fn pattern(self) -> String {
        self.write("name", "X.Y.Z")
    }
}

/// For each unprefixed release tag (by name), the published crates that own it.
#[derive(Clone, Debug, Default)]
pub(crate) struct Owners {
    /// A single-crate workspace: every unprefixed tag is its crate's.
    single: Option<String>,
    by_tag: BTreeMap<String, BTreeSet<String>>,
}

impl Owners {
    /// Reads the manifests of the published crates at every unprefixed tag of `tags`.
    pub(crate) fn read(repo: &Repo, workspace: &Workspace, tags: &[TagRef]) -> Result<Self> {
        let published: Vec<&Package> = workspace.published().collect();
        if published.len() == 1 {
            return Ok(Self {
                single: published.first().map(|p| p.name.clone()),
                by_tag: BTreeMap::new(),
            });
        }
        let mut trees = Trees::new(repo);
        let prefix = repo.prefix().join("/");
        let at = |dir: &str| {
            [prefix.as_str(), dir, "Cargo.toml"]
                .iter()
                .filter(|c| !c.is_empty())
                .copied()
                .collect::<Vec<_>>()
                .join("/")
        };
        let mut by_tag = BTreeMap::new();
        for tag in tags {
            let Some(release) = ReleaseTag::parse(&tag.name) else { continue };
            if release.crate_name.is_some() {
                continue;
            }
            let commit = object_id(&tag.commit)?;
            let wanted = release.version.to_string();
            let mut root_version: Option<Option<String>> = None;
            let mut owners = BTreeSet::new();
            for package in &published {
                let Some(bytes) = trees.file_at(commit, &at(&package.dir))? else { continue };
                let text = String::from_utf8_lossy(&bytes);
                // Cheap filter before parsing: the version, or an inherited one, must appear.
                if !text.contains(&wanted) && !text.contains("workspace") {
                    continue;
                }
                let Ok(manifest) = text.parse::<toml::Value>() else { continue };
                let Some(fields) = manifest.get("package") else { continue };
                if fields.get("name").and_then(toml::Value::as_str) != Some(&package.name) {
                    continue;
                }
                let version = match fields.get("version") {
                    Some(toml::Value::String(v)) => Some(v.clone()),
                    Some(inherited) if inherited.get("workspace").is_some() => root_version
                        .get_or_insert_with(|| {
                            trees
                                .file_at(commit, &at(""))
                                .ok()
                                .flatten()
                                .and_then(|b| {
                                    String::from_utf8_lossy(&b).parse::<toml::Value>().ok()
                                })
                                .and_then(|m| {
                                    m.get("workspace")?
                                        .get("package")?
                                        .get("version")?
                                        .as_str()
                                        .map(str::to_owned)
                                })
                        })
                        .clone(),
                    _ => None,
                };
                if version.as_deref().and_then(|v| Version::parse(v).ok()).as_ref()
                    == Some(&release.version)
                {
                    owners.insert(package.name.clone());
                }
            }
            by_tag.insert(tag.name.clone(), owners);
        }
        Ok(Self { single: None, by_tag })
    }

    /// Whether crate `name` owns the unprefixed tag `tag`.
    pub(crate) fn owns(&self, name: &str, tag: &str) -> bool {
        if let Some(single) = &self.single {
            return single == name;
        }
        self.by_tag.get(tag).is_some_and(|owners| owners.contains(name))
    }
}

/// The scheme of crate `name`'s newest tag among `tags` (name, version), and a warning when
/// its tags mix schemes.
pub(crate) fn infer(name: &str, tags: &[(&str, &Version)]) -> (Option<Scheme>, Option<String>) {
    let schemed: Vec<(Scheme, &str, &Version)> =
        tags.iter().filter_map(|(tag, v)| Some((Scheme::of(tag)?, *tag, *v))).collect();
    let newest = schemed
        .iter()
        .max_by(|a, b| a.2.cmp(b.2).then_with(|| a.0.prefixed().cmp(&b.0.prefixed())))
        .copied();
    let mut counts: BTreeMap<Scheme, usize> = BTreeMap::new();
    for (scheme, _, _) in &schemed {
        *counts.entry(*scheme).or_default() += 1;
    }
    let warning = match newest {
        Some((scheme, tag, _)) if counts.len() > 1 => {
            let mix: Vec<String> =
                counts.iter().map(|(s, n)| format!("{} ×{n}", s.pattern())).collect();
            Some(format!(
                "{name}: release tags mix schemes ({}); new tags follow the newest, {tag} ({})",
                mix.join(", "),
                scheme.pattern()
            ))
        }
        _ => None,
    };
    (newest.map(|n| n.0), warning)
}

/// The scheme for crates without release tags: the one most crates' newest tags use, when it
/// names the crate.
pub(crate) fn family_scheme(schemes: &[Scheme]) -> Option<Scheme> {
    let mut counts: BTreeMap<Scheme, usize> = BTreeMap::new();
    for scheme in schemes {
        *counts.entry(*scheme).or_default() += 1;
    }
    counts
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(&a.0)))
        .map(|(s, _)| s)
        .filter(|s| s.prefixed())
}

/// `next`, or when a release tag of the crate already has it, the first version after it that
/// none has (the next pre-release number on a pre-release line, else the next patch), with a
/// note saying which tag released it.
pub(crate) fn unreleased(
    next: Version,
    released: &BTreeMap<Version, String>,
) -> (Version, Option<String>) {
    let Some(tag) = released.get(&next) else { return (next, None) };
    let note = format!("{next} is already released as {tag}");
    let mut candidate = next;
    while released.contains_key(&candidate) {
        candidate = following(&candidate);
    }
    (candidate, Some(note))
}

/// The version after `version` on its line: `-alpha.2` → `-alpha.3`, `-rc` → `-rc.1`,
/// `1.2.3` → `1.2.4`.
fn following(version: &Version) -> Version {
    if version.pre.is_empty() {
        return Version::new(version.major, version.minor, version.patch + 1);
    }
    let text = version.pre.as_str();
    let (head, last) = text.rsplit_once('.').unwrap_or(("", text));
    let pre = match last.parse::<u64>() {
        Ok(n) if head.is_empty() => (n + 1).to_string(),
        Ok(n) => format!("{head}.{}", n + 1),
        Err(_) => format!("{text}.1"),
    };
    let mut next = Version::new(version.major, version.minor, version.patch);
    next.pre = semver::Prerelease::new(&pre).unwrap_or_else(|_| version.pre.clone());
    next
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn released_versions_are_never_planned_again() {
        let v = |s: &str| Version::parse(s).unwrap_or_else(|e| panic!("{e}"));
        let released: BTreeMap<Version, String> = [
            (v("1.0.0-alpha.2"), "v1.0.0-alpha.2".to_owned()),
            (v("1.0.0-alpha.3"), "top-v1.0.0-alpha.3".to_owned()),
            (v("1.0.0-rc"), "v1.0.0-rc".to_owned()),
            (v("2.0.0"), "v2.0.0".to_owned()),
        ]
        .into();
        let cases = [
            (
                "1.0.0-alpha.2",
                "1.0.0-alpha.4",
                Some("1.0.0-alpha.2 is already released as v1.0.0-alpha.2"),
            ),
            ("1.0.0-rc", "1.0.0-rc.1", Some("1.0.0-rc is already released as v1.0.0-rc")),
            ("2.0.0", "2.0.1", Some("2.0.0 is already released as v2.0.0")),
            ("2.1.0", "2.1.0", None),
        ];
        for (next, planned, note) in cases {
            let (got, why) = unreleased(v(next), &released);
            assert_eq!((got.to_string().as_str(), why.as_deref()), (planned, note), "{next}");
        }
    }

    #[test]
    fn schemes_of_tags() {
        let cases = [
            ("1.5.0", Some(Scheme::BARE)),
            ("v1.5.0", Some(Scheme::V)),
            ("tss-esapi-7.7.0", Some(Scheme::NAME)),
            ("tss-esapi-v8.0.0-alpha.2", Some(Scheme::NAME_V)),
            ("tss-esapi/v7.7.0", Some(Scheme { separator: Some('/'), v: true })),
            ("tss-esapi/7.7.0", Some(Scheme { separator: Some('/'), v: false })),
            ("tss-esapi@7.7.0", Some(Scheme { separator: Some('@'), v: false })),
            ("tss-esapi@v7.7.0-rc.1", Some(Scheme { separator: Some('@'), v: true })),
            ("v8-beta", None),
            ("tss-esapi/beta", None),
        ];
        for (tag, scheme) in cases {
            assert_eq!(Scheme::of(tag), scheme, "{tag}");
            if let Some(scheme) = scheme {
                let version = ReleaseTag::parse(tag).map(|t| t.version);
                let rendered = version.map(|v| scheme.template().render("tss-esapi", &v));
                assert!(
                    rendered.as_deref() == Some(tag) || !scheme.prefixed(),
                    "{tag} renders as {rendered:?}"
                );
            }
        }
    }

    #[test]
    fn newest_tag_decides_and_mixes_warn() {
        let v = |s: &str| Version::parse(s).unwrap_or_else(|e| panic!("{e}"));
        let (old, new) = (v("1.1.0"), v("1.2.0"));
        let (scheme, warning) = infer("top", &[("top-v1.1.0", &old), ("v1.2.0", &new)]);
        assert_eq!(scheme, Some(Scheme::V));
        assert_eq!(
            warning.as_deref(),
            Some(
                "top: release tags mix schemes (vX.Y.Z ×1, name-vX.Y.Z ×1); new tags follow \
                 the newest, v1.2.0 (vX.Y.Z)"
            )
        );
        assert_eq!(infer("a", &[("a-1.1.0", &old)]), (Some(Scheme::NAME), None));
        assert_eq!(family_scheme(&[Scheme::NAME, Scheme::NAME, Scheme::V]), Some(Scheme::NAME));
        assert_eq!(family_scheme(&[Scheme::V, Scheme::V, Scheme::NAME]), None);
    }
}
