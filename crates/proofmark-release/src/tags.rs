//! Release tag names: reading the legacy schemes and writing new tags from a template.
//!
//! Four schemes are read, so the history of repositories that changed conventions over time
//! (Parsec's `rust-tss-esapi` has `4.0.1-alpha.1`, `tss-esapi-5.0.0` and
//! `tss-esapi-v8.0.0-alpha.2`) still parses, and the two other separators release tools use
//! for prefixed tags (knope's `name/vX.Y.Z`, cargo-workspaces' `name@X.Y.Z`):
//!
//! | tag              | crate  | version |
//! |------------------|--------|---------|
//! | `X.Y.Z`          | none   | X.Y.Z   |
//! | `vX.Y.Z`         | none   | X.Y.Z   |
//! | `name-X.Y.Z`     | `name` | X.Y.Z   |
//! | `name-vX.Y.Z`    | `name` | X.Y.Z   |
//! | `name/vX.Y.Z`, `name/X.Y.Z`, `name@X.Y.Z`, `name@vX.Y.Z` | `name` | X.Y.Z |
//!
//! Versions are full SemVer (pre-release and build metadata allowed). A prefixed tag is split
//! at the leftmost `-`, `/` or `@` after which a version follows, so crate names may contain
//! `-` and digits (`tss-esapi-sys-0.1.0` → `tss-esapi-sys`, 0.1.0).
//!
//! New tags are rendered from a [`TagTemplate`] with the placeholders `{crate}` and
//! `{version}`; the default is `{crate}-v{version}`, or `v{version}` in a workspace that
//! publishes a single crate.

use semver::Version;
use serde::Serialize;

use crate::error::{Error, Result};

/// A tag name understood as a release.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReleaseTag {
    /// The crate named by the tag's prefix; `None` for `X.Y.Z` / `vX.Y.Z`.
    pub crate_name: Option<String>,
    /// The released version.
    pub version: Version,
}

impl ReleaseTag {
    /// Parses a tag's short name (without `refs/tags/`); `None` if it is no release tag.
    pub fn parse(name: &str) -> Option<Self> {
        if let Some(version) = parse_version(name) {
            return Some(Self { crate_name: None, version });
        }
        for (index, _) in name.match_indices(SEPARATORS) {
            let prefix = &name[..index];
            if prefix.is_empty() || !prefix.bytes().all(is_crate_name_byte) {
                continue;
            }
            if let Some(version) = parse_version(&name[index + 1..]) {
                return Some(Self { crate_name: Some(prefix.to_owned()), version });
            }
        }
        None
    }
}

/// What may stand between a crate's name and its version in a release tag.
const SEPARATORS: [char; 3] = ['-', '/', '@'];

fn is_crate_name_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_'
}

fn parse_version(text: &str) -> Option<Version> {
    let text = text.strip_prefix('v').unwrap_or(text);
    // `Version::parse` accepts leading zeros nowhere and requires three components, which is
    // what we want: `1.0` is not a release tag.
    if !text.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    Version::parse(text).ok()
}

/// A template for new tag names, e.g. `{crate}-v{version}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct TagTemplate(String);

impl TagTemplate {
    /// The default for workspaces that publish several crates.
    pub const MULTI: &'static str = "{crate}-v{version}";
    /// The default for workspaces that publish one crate.
    pub const SINGLE: &'static str = "v{version}";

    /// Checks and wraps a template: it must contain `{version}` and no other placeholder
    /// than `{crate}`.
    pub fn new(template: &str) -> Result<Self> {
        let bad = |reason| Error::BadTagTemplate { template: template.to_owned(), reason };
        if !template.contains("{version}") {
            return Err(bad("it must contain {version}"));
        }
        let stripped = template.replace("{version}", "").replace("{crate}", "");
        if stripped.contains('{') || stripped.contains('}') {
            return Err(bad("only {crate} and {version} are known placeholders"));
        }
        if template.chars().any(|c| c.is_whitespace() || "~^:?*[\\".contains(c)) {
            return Err(bad("git does not allow whitespace or any of ~^:?*[\\ in tag names"));
        }
        Ok(Self(template.to_owned()))
    }

    /// The default template for a workspace publishing `published_crates` crates.
    pub fn default_for(published_crates: usize) -> Self {
        Self(if published_crates == 1 { Self::SINGLE } else { Self::MULTI }.to_owned())
    }

    /// Renders the tag name of `crate_name` at `version`.
    pub fn render(&self, crate_name: &str, version: &Version) -> String {
        self.0.replace("{crate}", crate_name).replace("{version}", &version.to_string())
    }

    /// The version of `tag` if it is this template rendered for `crate_name`, so custom
    /// templates (e.g. `{crate}/{version}`) are read back too.
    pub fn version_of(&self, crate_name: &str, tag: &str) -> Option<Version> {
        let pattern = self.0.replace("{crate}", crate_name);
        let (before, after) = pattern.split_once("{version}")?;
        let text = tag.strip_prefix(before)?.strip_suffix(after)?;
        if !text.starts_with(|c: char| c.is_ascii_digit()) {
            return None;
        }
        Version::parse(text).ok()
    }

    /// The template text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tag and what it parses to: (crate, version), or `None`.
    type Case = (&'static str, Option<(Option<&'static str>, &'static str)>);

    #[test]
    fn parses_schemes() {
        let cases: &[Case] = &[
            ("1.0.0", Some((None, "1.0.0"))),
            ("v1.2.3", Some((None, "1.2.3"))),
            ("4.0.1-alpha.1", Some((None, "4.0.1-alpha.1"))),
            ("alpha-1.0.0", Some((Some("alpha"), "1.0.0"))),
            ("alpha-v1.0.0", Some((Some("alpha"), "1.0.0"))),
            ("tss-esapi-5.0.0", Some((Some("tss-esapi"), "5.0.0"))),
            ("tss-esapi-sys-0.1.0", Some((Some("tss-esapi-sys"), "0.1.0"))),
            ("tss-esapi-v8.0.0-alpha.2", Some((Some("tss-esapi"), "8.0.0-alpha.2"))),
            ("lib-2-1.0.0", Some((Some("lib-2"), "1.0.0"))),
            ("x_y-v0.3.0+build.5", Some((Some("x_y"), "0.3.0+build.5"))),
            ("1.0", None),
            ("v1", None),
            ("release-2024", None),
            ("alpha-vv1.0.0", None),
            ("-1.0.0", None),
            // knope's and cargo-workspaces' separators; such a tag names a crate (here one
            // called `feature`) and is ignored by the others.
            ("feature/1.0.0", Some((Some("feature"), "1.0.0"))),
            ("tss-esapi/v7.7.0", Some((Some("tss-esapi"), "7.7.0"))),
            ("tss-esapi@7.7.0-rc.1", Some((Some("tss-esapi"), "7.7.0-rc.1"))),
            ("feature/login", None),
            ("@1.0.0", None),
            ("a/b/1.0.0", None),
            ("01.0.0", None),
        ];
        for (tag, expected) in cases {
            let got = ReleaseTag::parse(tag);
            let got = got.as_ref().map(|t| (t.crate_name.as_deref(), t.version.to_string()));
            let expected = expected.map(|(c, v)| (c, v.to_owned()));
            assert_eq!(got, expected, "tag {tag}");
        }
    }

    #[test]
    fn renders_templates() {
        let version = Version::new(1, 2, 3);
        assert_eq!(TagTemplate::default_for(2).render("alpha", &version), "alpha-v1.2.3");
        assert_eq!(TagTemplate::default_for(1).render("alpha", &version), "v1.2.3");
        let custom = TagTemplate::new("{crate}/{version}").map(|t| t.render("a", &version));
        assert_eq!(custom.ok().as_deref(), Some("a/1.2.3"));
    }

    #[test]
    fn reads_tags_back_through_templates() {
        let slash = TagTemplate::new("{crate}/{version}").unwrap_or_else(|e| panic!("{e}"));
        let cases = [
            (&slash, "a", "a/1.2.3", Some("1.2.3")),
            (&slash, "a", "ab/1.2.3", None),
            (&slash, "a", "a/v1.2.3", None),
            (&slash, "a", "a/1.2", None),
        ];
        for (template, krate, tag, expected) in cases {
            let got = template.version_of(krate, tag).map(|v| v.to_string());
            assert_eq!(got.as_deref(), expected, "{tag}");
        }
    }

    #[test]
    fn rejects_bad_templates() {
        for (template, reason) in [
            ("{crate}", "it must contain {version}"),
            ("{name}-{version}", "only {crate} and {version} are known placeholders"),
            ("v {version}", "git does not allow whitespace or any of ~^:?*[\\ in tag names"),
        ] {
            match TagTemplate::new(template) {
                Err(Error::BadTagTemplate { reason: got, .. }) => assert_eq!(got, reason),
                other => panic!("{template}: unexpected {other:?}"),
            }
        }
    }
}
