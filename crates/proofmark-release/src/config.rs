//! Release settings: proofmark's own `proofmark.toml`, and the settings of the release tools a
//! repository may already use (cargo-release, release-plz, git-cliff), read where they map.
//!
//! # proofmark's own settings
//!
//! They live in the `[release]` table of `proofmark.toml` at the workspace root, a name no
//! other tool reads:
//!
//! ```toml
//! [release]
//! # Branches a release may be made from: globs (`*` any text, `?` one character); a pattern
//! # starting with `!` excludes.
//! allowed-branches = ["main", "release/*"]
//! # The template of new tags, with {crate} and {version}.
//! tag-template = "{crate}-v{version}"
//! # Whether the readiness gate runs cargo-semver-checks when it is installed.
//! semver-checks = true
//!
//! # A date train: code freeze, then the release (Parsec: fixed time, variable scope).
//! [release.train]
//! freeze = "2026-12-01"
//! release = "2026-12-15"
//!
//! # Or (and/or) a feature list: each must be named by a `Feature:` trailer or a commit scope.
//! [release.features]
//! required = ["tpm-sealing", "cosign-verify"]
//!
//! # Packager checks: other lockfiles (e.g. the tool's) that must resolve the same single
//! # version of every crate of this family.
//! [release.packagers]
//! lockfiles = ["../parsec-tool/Cargo.lock"]
//! ```
//!
//! A bad value in `proofmark.toml` (a date that is no date, a tag template without
//! `{version}`) is an error; an unknown key is listed as not honoured. Earlier versions read
//! the same keys, at the top level, from `release.toml`: that file is still read as
//! proofmark's when every key in it is one of these, with a note to move it.
//!
//! # Other tools' files
//!
//! Another tool's file is never an error: what maps is read ([`crate::compat`] has the
//! mapping), and every other key — unknown, unsupported, malformed, or overridden by a
//! file of higher precedence — is listed in [`ReleaseConfig::not_honoured`] with the reason,
//! which the plan shows among its notes. Precedence, highest first: the command line,
//! `proofmark.toml`, cargo-release's per-package settings (`[package.metadata.release]`, then
//! the crate folder's `release.toml`), its workspace settings (`[workspace.metadata.release]`,
//! then the root `release.toml`), release-plz's `release-plz.toml` (`[[package]]`, then
//! `[workspace]`), then git-cliff's `cliff.toml` (or `[workspace.metadata.git-cliff]`).
//!
//! Every effective setting records where it came from ([`ReleaseConfig::settings`]), which
//! `proofmark release config` prints.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::compat::{self, PackageInfo};
use crate::date::Date;
use crate::error::{Error, Result};
use crate::plan::PlanOptions;
use crate::tags::TagTemplate;
use crate::workspace::Workspace;

pub use crate::compat::{ChangeRules, CommitParser};

/// The effective release settings of a workspace, with where each came from.
#[derive(Clone, Debug, Serialize)]
pub struct ReleaseConfig {
    /// Branch patterns a release may be made from.
    pub allowed_branches: Vec<String>,
    /// The date train, if any.
    pub train: Option<Train>,
    /// Features that must have landed, if any.
    pub required_features: Vec<String>,
    /// Extra lockfiles for the one-version-per-family-crate check, relative to the root.
    pub lockfiles: Vec<PathBuf>,
    /// The template for new tags (`None`: the plan's default).
    pub tag_template: Option<TagTemplate>,
    /// Whether the readiness gate runs cargo-semver-checks (`None`: when installed).
    pub semver_checks: Option<bool>,
    /// Crates a config says not to release (`release = false`, `publish = false`).
    pub not_released: BTreeSet<String>,
    /// How commits are grouped or skipped (git-cliff `commit_parsers`) and which tags are
    /// releases (`tag_pattern`).
    pub changes: ChangeRules,
    /// Each effective setting, its value and the file and key it came from.
    pub settings: Vec<Setting>,
    /// Keys read and not honoured, with why.
    pub not_honoured: Vec<NotHonoured>,
    /// Other things to know about the configuration (e.g. a legacy file to move).
    pub notes: Vec<String>,
    /// The files read, relative to the workspace root.
    pub files: Vec<String>,
}

/// A date train.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Train {
    /// Code freeze: only fixes land after it.
    pub freeze: Date,
    /// The release date.
    pub release: Date,
}

/// One effective setting and its origin.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Setting {
    /// proofmark's name of the setting (`allowed-branches`, `tag-template`, ...).
    pub name: String,
    /// The value, as text.
    pub value: String,
    /// The file it came from, relative to the workspace root (`(default)` for defaults).
    pub file: String,
    /// The key in that file (dotted TOML path); empty for defaults.
    pub key: String,
}

/// A key that was read and is not honoured.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NotHonoured {
    /// The file, relative to the workspace root.
    pub file: String,
    /// The key (dotted TOML path).
    pub key: String,
    /// Why it is not honoured.
    pub reason: String,
}

impl Default for ReleaseConfig {
    fn default() -> Self {
        Self {
            allowed_branches: vec!["main".to_owned(), "master".to_owned()],
            train: None,
            required_features: Vec::new(),
            lockfiles: Vec::new(),
            tag_template: None,
            semver_checks: None,
            not_released: BTreeSet::new(),
            changes: ChangeRules::default(),
            settings: Vec::new(),
            not_honoured: Vec::new(),
            notes: Vec::new(),
            files: Vec::new(),
        }
    }
}

/// proofmark's own keys (in `proofmark.toml [release]` and the legacy `release.toml`).
pub(crate) const OWN_KEYS: [&str; 6] =
    ["allowed-branches", "tag-template", "semver-checks", "train", "features", "packagers"];

/// Collects settings from sources applied lowest precedence first; a later value replaces an
/// earlier one, which is then listed as overridden.
#[derive(Debug, Default)]
pub(crate) struct Builder {
    config: ReleaseConfig,
    /// Setting name → (value, file, key).
    origins: BTreeMap<String, Setting>,
    /// Per-crate tag templates (crate → template, file, key); `None` crate: every crate.
    tag_templates: BTreeMap<Option<String>, (TagTemplate, String, String)>,
    /// Per-crate `release` flags (crate → flag, file, key).
    releases: BTreeMap<String, (bool, String, String)>,
}

impl Builder {
    /// Records that `file` was read.
    pub(crate) fn file(&mut self, file: &str) {
        if !self.config.files.iter().any(|f| f == file) {
            self.config.files.push(file.to_owned());
        }
    }

    /// Lists `key` of `file` as not honoured.
    pub(crate) fn ignore(&mut self, file: &str, key: &str, reason: impl Into<String>) {
        self.config.not_honoured.push(NotHonoured {
            file: file.to_owned(),
            key: key.to_owned(),
            reason: reason.into(),
        });
    }

    /// Adds a note.
    pub(crate) fn note(&mut self, note: impl Into<String>) {
        self.config.notes.push(note.into());
    }

    /// Sets setting `name` to `value` (shown as `shown`), from `key` of `file`.
    fn set(
        &mut self,
        name: &str,
        shown: String,
        file: &str,
        key: &str,
        apply: impl FnOnce(&mut ReleaseConfig),
    ) {
        let setting = Setting {
            name: name.to_owned(),
            value: shown,
            file: file.to_owned(),
            key: key.to_owned(),
        };
        if let Some(previous) = self.origins.insert(name.to_owned(), setting) {
            self.ignore(&previous.file, &previous.key, format!("overridden by {file} `{key}`"));
        }
        apply(&mut self.config);
    }

    pub(crate) fn allowed_branches(&mut self, branches: Vec<String>, file: &str, key: &str) {
        let shown = branches.join(", ");
        self.set("allowed-branches", shown, file, key, |c| c.allowed_branches = branches);
    }

    pub(crate) fn train(&mut self, train: Train, file: &str, key: &str) {
        let shown = format!("freeze {}, release {}", train.freeze, train.release);
        self.set("train", shown, file, key, |c| c.train = Some(train));
    }

    pub(crate) fn required_features(&mut self, features: Vec<String>, file: &str, key: &str) {
        let shown = features.join(", ");
        self.set("required-features", shown, file, key, |c| c.required_features = features);
    }

    pub(crate) fn lockfiles(&mut self, lockfiles: Vec<PathBuf>, file: &str, key: &str) {
        let shown = lockfiles.iter().map(|p| p.display().to_string()).collect::<Vec<_>>();
        self.set("lockfiles", shown.join(", "), file, key, |c| c.lockfiles = lockfiles);
    }

    pub(crate) fn semver_checks(&mut self, on: bool, file: &str, key: &str) {
        self.set("semver-checks", on.to_string(), file, key, |c| c.semver_checks = Some(on));
    }

    /// A tag template for one crate (`Some`) or every crate (`None`).
    pub(crate) fn tag_template(
        &mut self,
        crate_name: Option<&str>,
        template: TagTemplate,
        file: &str,
        key: &str,
    ) {
        let entry = (template, file.to_owned(), key.to_owned());
        if let Some((_, old_file, old_key)) =
            self.tag_templates.insert(crate_name.map(str::to_owned), entry)
        {
            self.ignore(&old_file, &old_key, format!("overridden by {file} `{key}`"));
        }
    }

    /// Whether crate `name` is released (`release = false`, `publish = false`).
    pub(crate) fn release(&mut self, name: &str, release: bool, file: &str, key: &str) {
        let entry = (release, file.to_owned(), key.to_owned());
        if let Some((_, old_file, old_key)) = self.releases.insert(name.to_owned(), entry) {
            self.ignore(&old_file, &old_key, format!("overridden by {file} `{key}`"));
        }
    }

    pub(crate) fn changes(&mut self, changes: ChangeRules, file: &str, key: &str) {
        if !changes.parsers.is_empty() {
            let shown = changes.parsers.iter().map(CommitParser::describe).collect::<Vec<_>>();
            let parsers = changes.parsers.clone();
            self.set(
                "commit-parsers",
                shown.join("; "),
                file,
                &format!("{key}commit_parsers"),
                |c| c.changes.parsers = parsers,
            );
        }
        if changes.filter_unconventional {
            self.set(
                "filter-unconventional",
                "true".to_owned(),
                file,
                &format!("{key}filter_unconventional"),
                |c| c.changes.filter_unconventional = true,
            );
        }
        if let Some(pattern) = changes.tag_pattern {
            let shown = pattern.as_str().to_owned();
            self.set("tag-pattern", shown, file, &format!("{key}tag_pattern"), |c| {
                c.changes.tag_pattern = Some(pattern)
            });
        }
    }

    /// The result; `published` are the crates the tag templates are resolved for.
    fn finish(mut self, published: &[String]) -> ReleaseConfig {
        // One template serves every crate: the per-crate templates that agree with the most
        // common one are honoured, the others listed.
        let wanted = |name: &str| {
            self.tag_templates
                .get(&Some(name.to_owned()))
                .or_else(|| self.tag_templates.get(&None))
                .cloned()
        };
        let per_crate: Vec<(String, (TagTemplate, String, String))> = if published.is_empty() {
            self.tag_templates.get(&None).map(|t| (String::new(), t.clone())).into_iter().collect()
        } else {
            published.iter().filter_map(|n| Some((n.clone(), wanted(n)?))).collect()
        };
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for (_, (template, _, _)) in &per_crate {
            *counts.entry(template.as_str()).or_default() += 1;
        }
        let chosen = counts.iter().max_by_key(|(_, n)| **n).map(|(t, _)| (*t).to_owned());
        if let Some(chosen) = chosen {
            let mut sources = BTreeSet::new();
            let mut ignored = Vec::new();
            for (name, (template, file, key)) in &per_crate {
                if template.as_str() == chosen {
                    sources.insert((file.clone(), key.clone()));
                } else {
                    ignored.push(NotHonoured {
                        file: file.clone(),
                        key: key.clone(),
                        reason: format!(
                            "{name}: tag template `{}` differs from `{chosen}`, which the other \
                             crates use (proofmark uses one template for all crates)",
                            template.as_str()
                        ),
                    });
                }
            }
            self.config.not_honoured.extend(ignored);
            if let Some((file, key)) = sources.iter().next() {
                self.config.settings.push(Setting {
                    name: "tag-template".to_owned(),
                    value: chosen.clone(),
                    file: file.clone(),
                    key: key.clone(),
                });
            }
            self.config.tag_template = self
                .tag_templates
                .values()
                .find(|(t, _, _)| t.as_str() == chosen)
                .map(|(t, _, _)| t.clone());
        }
        for (name, (release, file, key)) in std::mem::take(&mut self.releases) {
            if !release {
                self.config.not_released.insert(name.clone());
                self.config.settings.push(Setting {
                    name: format!("release.{name}"),
                    value: "false".to_owned(),
                    file,
                    key,
                });
            }
        }
        if !self.origins.contains_key("allowed-branches") {
            self.config.settings.push(Setting {
                name: "allowed-branches".to_owned(),
                value: self.config.allowed_branches.join(", "),
                file: "(default)".to_owned(),
                key: String::new(),
            });
        }
        self.config.settings.extend(self.origins.into_values());
        self.config.settings.sort_by(|a, b| a.name.cmp(&b.name));
        self.config
    }
}

impl ReleaseConfig {
    /// proofmark's own file, at the workspace root.
    pub const FILE: &'static str = "proofmark.toml";
    /// The legacy file name of proofmark's settings, read only when clearly ours.
    pub const LEGACY_FILE: &'static str = "release.toml";

    /// Reads the settings of the files at the workspace root `root` (not the per-package
    /// ones, which need the workspace: see [`ReleaseConfig::load_workspace`]). Only a bad
    /// value in `proofmark.toml`, or an unreadable file, is an error.
    pub fn load(root: &Path) -> Result<Self> {
        Self::load_with(root, &[])
    }

    /// Reads every source of the workspace: the root files and each member's
    /// `[package.metadata.release]` and `release.toml`.
    pub fn load_workspace(workspace: &Workspace) -> Result<Self> {
        let packages: Vec<PackageInfo> = workspace
            .packages
            .iter()
            .map(|p| PackageInfo {
                name: p.name.clone(),
                dir: p.dir.clone(),
                manifest: p.manifest_path.clone(),
                publish: p.publish,
            })
            .collect();
        Self::load_with(&workspace.root, &packages)
    }

    fn load_with(root: &Path, packages: &[PackageInfo]) -> Result<Self> {
        let mut builder = Builder::default();
        // Lowest precedence first.
        compat::read_cliff(&mut builder, root);
        compat::read_release_plz(&mut builder, root, packages);
        // The root release.toml is proofmark's legacy file only when every key in it is ours;
        // otherwise it is cargo-release's.
        let legacy = compat::read_legacy(&mut Builder::default(), root)?;
        compat::read_cargo_release(&mut builder, root, packages, legacy);
        if legacy {
            compat::read_legacy(&mut builder, root)?;
        }
        let own = root.join(Self::FILE);
        match std::fs::read_to_string(&own) {
            Ok(text) => {
                builder.file(Self::FILE);
                let table: toml::Table = toml::from_str(&text).map_err(|e| Error::Config {
                    path: own.clone(),
                    reason: e.message().to_owned(),
                })?;
                for (key, value) in &table {
                    if key != "release" {
                        builder.ignore(
                            Self::FILE,
                            key,
                            "unknown table (the settings are in [release])",
                        );
                        continue;
                    }
                    let Some(release) = value.as_table() else {
                        return Err(Error::Config {
                            path: own,
                            reason: "`release` must be a table: [release]".to_owned(),
                        });
                    };
                    read_own(&mut builder, release, Self::FILE, "release.", &own)?;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(Error::Read { path: own, source }),
        }
        let published: Vec<String> =
            packages.iter().filter(|p| p.publish).map(|p| p.name.clone()).collect();
        Ok(builder.finish(&published))
    }

    /// Parses text in proofmark's own shape at the top level (the legacy `release.toml`;
    /// `path` is used in errors). Unknown keys are listed as not honoured.
    pub fn parse(text: &str, path: &Path) -> Result<Self> {
        let file = path.display().to_string();
        let table: toml::Table = toml::from_str(text)
            .map_err(|e| Error::Config { path: path.to_owned(), reason: e.message().to_owned() })?;
        let mut builder = Builder::default();
        builder.file(&file);
        read_own(&mut builder, &table, &file, "", path)?;
        Ok(builder.finish(&[]))
    }

    /// The plan options with these settings where `options` leave them open (the command
    /// line wins), and `workspace` with the crates the settings do not release marked as not
    /// published.
    pub fn apply(&self, workspace: &mut Workspace, options: &PlanOptions) -> PlanOptions {
        let mut options = options.clone();
        if options.tag_template.is_none() {
            options.tag_template = self.tag_template.clone();
        }
        if options.changes.parsers.is_empty() {
            options.changes.parsers = self.changes.parsers.clone();
        }
        if options.changes.tag_pattern.is_none() {
            options.changes.tag_pattern = self.changes.tag_pattern.clone();
        }
        options.changes.filter_unconventional |= self.changes.filter_unconventional;
        for package in &mut workspace.packages {
            if self.not_released.contains(&package.name) {
                package.publish = false;
            }
        }
        options
    }

    /// Whether `branch` matches one of the allowed patterns: a glob (`*`, `?`) that matches,
    /// and no `!`-prefixed glob that does.
    pub fn branch_allowed(&self, branch: &str) -> bool {
        let (excluded, included): (Vec<&String>, Vec<&String>) =
            self.allowed_branches.iter().partition(|p| p.starts_with('!'));
        included.iter().any(|p| glob_match(p, branch))
            && !excluded.iter().any(|p| glob_match(&p[1..], branch))
    }

    /// The lines the plan shows about the configuration: each key not honoured, then the
    /// notes.
    pub fn plan_notes(&self) -> Vec<String> {
        let mut notes: Vec<String> = self
            .not_honoured
            .iter()
            .map(|n| format!("{}: `{}` not honoured: {}", n.file, n.key, n.reason))
            .collect();
        for setting in self.settings.iter().filter(|s| s.name.starts_with("release.")) {
            notes.push(format!(
                "{} is not released: {} `{}` = false",
                &setting.name["release.".len()..],
                setting.file,
                setting.key
            ));
        }
        notes.extend(self.notes.iter().cloned());
        notes
    }

    /// The settings for people: one line per setting with its origin, then what is not
    /// honoured and the notes.
    pub fn to_human(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        if self.files.is_empty() {
            out.push_str("No configuration file found: defaults apply.\n");
        } else {
            let _ = writeln!(out, "Read: {}", self.files.join(", "));
        }
        out.push_str("\nEffective settings:\n");
        let width = self.settings.iter().map(|s| s.name.len()).max().unwrap_or(0);
        for setting in &self.settings {
            let origin = if setting.key.is_empty() {
                setting.file.clone()
            } else {
                format!("{} `{}`", setting.file, setting.key)
            };
            let _ = writeln!(out, "  {:<width$}  {}  (from {origin})", setting.name, setting.value);
        }
        if !self.not_honoured.is_empty() {
            out.push_str("\nNot honoured:\n");
            for n in &self.not_honoured {
                let _ = writeln!(out, "  {} `{}`: {}", n.file, n.key, n.reason);
            }
        }
        if !self.notes.is_empty() {
            out.push_str("\nNotes:\n");
            for note in &self.notes {
                let _ = writeln!(out, "  - {note}");
            }
        }
        out
    }

    /// The settings as pretty-printed JSON.
    pub fn to_json(&self) -> String {
        // Plain data with string keys: serialising cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

/// Reads proofmark's own keys from `table` (whose keys are `prefix` + name in `file`).
pub(crate) fn read_own(
    builder: &mut Builder,
    table: &toml::Table,
    file: &str,
    prefix: &str,
    path: &Path,
) -> Result<()> {
    let bad = |key: &str, reason: String| Error::Config {
        path: path.to_owned(),
        reason: format!("`{prefix}{key}`: {reason}"),
    };
    let strings = |key: &str, value: &toml::Value| -> Result<Vec<String>> {
        value
            .as_array()
            .and_then(|items| items.iter().map(|i| i.as_str().map(str::to_owned)).collect())
            .ok_or_else(|| bad(key, "must be a list of strings".to_owned()))
    };
    let sub = |key: &str, value: &'_ toml::Value| -> Result<toml::Table> {
        value.as_table().cloned().ok_or_else(|| bad(key, "must be a table".to_owned()))
    };
    for (key, value) in table {
        let full = format!("{prefix}{key}");
        match key.as_str() {
            "allowed-branches" => builder.allowed_branches(strings(key, value)?, file, &full),
            "tag-template" => {
                let text = value.as_str().ok_or_else(|| bad(key, "must be a string".to_owned()))?;
                let template = TagTemplate::new(text).map_err(|e| bad(key, e.to_string()))?;
                builder.tag_template(None, template, file, &full);
            }
            "semver-checks" => {
                let on =
                    value.as_bool().ok_or_else(|| bad(key, "must be true or false".to_owned()))?;
                builder.semver_checks(on, file, &full);
            }
            "train" => {
                let train = sub(key, value)?;
                let date = |name: &str| -> Result<Date> {
                    let text = train
                        .get(name)
                        .and_then(toml::Value::as_str)
                        .ok_or_else(|| bad(key, format!("needs `{name} = \"YYYY-MM-DD\"`")))?;
                    text.parse::<Date>().map_err(|e| bad(key, e.to_string()))
                };
                let parsed = Train { freeze: date("freeze")?, release: date("release")? };
                if parsed.freeze > parsed.release {
                    return Err(bad(
                        key,
                        format!("freeze {} is after release {}", parsed.freeze, parsed.release),
                    ));
                }
                for other in train.keys().filter(|k| *k != "freeze" && *k != "release") {
                    builder.ignore(file, &format!("{full}.{other}"), "unknown key");
                }
                builder.train(parsed, file, &full);
            }
            "features" => {
                let features = sub(key, value)?;
                for (name, value) in &features {
                    if name == "required" {
                        let list = strings("features.required", value)?;
                        builder.required_features(list, file, &format!("{full}.required"));
                    } else {
                        builder.ignore(file, &format!("{full}.{name}"), "unknown key");
                    }
                }
            }
            "packagers" => {
                let packagers = sub(key, value)?;
                for (name, value) in &packagers {
                    if name == "lockfiles" {
                        let list = strings("packagers.lockfiles", value)?;
                        let list = list.into_iter().map(PathBuf::from).collect();
                        builder.lockfiles(list, file, &format!("{full}.lockfiles"));
                    } else {
                        builder.ignore(file, &format!("{full}.{name}"), "unknown key");
                    }
                }
            }
            _ => builder.ignore(file, &full, "unknown key"),
        }
    }
    Ok(())
}

/// Whether `text` matches `pattern`, where `*` matches any text and `?` one character.
pub(crate) fn glob_match(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    // Iterative matching with backtracking to the last `*`.
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == '?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == '*' {
            star = Some((p, t));
            p += 1;
        } else if let Some((star_p, star_t)) = star {
            p = star_p + 1;
            t = star_t + 1;
            star = Some((star_p, star_t + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|c| *c == '*')
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
            ("tag-template = \"{crate}\"\n", "{version}"),
        ] {
            match ReleaseConfig::parse(text, path) {
                Err(Error::Config { reason: got, .. }) => assert!(got.contains(reason), "{got}"),
                other => panic!("{text}: unexpected {other:?}"),
            }
        }
        // An unknown key is listed, not an error.
        let config =
            ReleaseConfig::parse("branches = []\n", path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.plan_notes(), ["release.toml: `branches` not honoured: unknown key"]);
    }

    #[test]
    fn globs() {
        for (pattern, text, expected) in [
            ("main", "main", true),
            ("main", "mainline", false),
            ("release/*", "release/1.0", true),
            ("*", "HEAD", true),
            ("v?.x", "v7.x", true),
            ("v?.x", "v10.x", false),
            ("*-stable", "1.2-stable", true),
            ("a*b*c", "aXbYbc", true),
            ("a*b*c", "aXbY", false),
        ] {
            assert_eq!(glob_match(pattern, text), expected, "{pattern} {text}");
        }
        let config = ReleaseConfig {
            allowed_branches: vec!["*".to_owned(), "!HEAD".to_owned()],
            ..ReleaseConfig::default()
        };
        assert!(config.branch_allowed("feature/x"));
        assert!(!config.branch_allowed("HEAD"));
    }
}
