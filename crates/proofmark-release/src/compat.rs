//! Other release tools' configuration files, read where their settings map onto proofmark's,
//! so a repository can switch without rewriting them. Nothing here is ever an error: what
//! does not map is listed as not honoured, with the reason.
//!
//! | tool | file / table | read |
//! |---|---|---|
//! | cargo-release | `release.toml`, `[workspace.metadata.release]`, a crate's `release.toml` and `[package.metadata.release]` | `tag-name`, `tag-prefix` (→ tag template), `allow-branch`, `release`/`publish` = false (→ not released), `sign-tag`, `dependent-version`, `shared-version` (honoured when they agree with what proofmark does) |
//! | release-plz | `release-plz.toml`, `.release-plz.toml`, `.config/release-plz.toml`: `[workspace]`, `[[package]]`, `[changelog]` | `git_tag_name` (→ tag template), `publish`/`release` = false, `semver_check`, `changelog_path` and `changelog_update` (when they agree), `changelog_config`, `[changelog] commit_parsers` and `tag_pattern` |
//! | git-cliff | `cliff.toml` or `[workspace.metadata.git-cliff]` | `[git] commit_parsers` (`message`/`body`/`sha` with `group` or `skip`), `[git] tag_pattern`, `[git] filter_unconventional` |
//!
//! Templates: cargo-release's `{{prefix}}`, `{{crate_name}}`, `{{version}}` and release-plz's
//! `{{ package }}`, `{{ version }}` become proofmark's `{crate}` and `{version}`; a template
//! with any other placeholder is not honoured. cargo-release's `tag-prefix` defaults to `""`
//! for a crate at the repository root and `{{crate_name}}-` otherwise, and `tag-name` to
//! `{{prefix}}v{{version}}`, as in cargo-release.
//!
//! A git-cliff group name maps onto a Keep a Changelog group by its words (emoji and
//! `<!-- N -->` ordering comments ignored): `feat`/`add`/`new` → Added, `fix`/`bug` → Fixed,
//! `secur` → Security, `deprecat` → Deprecated, `remov`/`delet` → Removed, anything else →
//! Changed. Parsers are tried in order; the first that matches decides, as in git-cliff.

use std::path::{Path, PathBuf};

use regex::Regex;
use serde::Serialize;

use crate::changelog::Group;
use crate::config::{Builder, OWN_KEYS, ReleaseConfig, read_own};
use crate::error::Result;
use crate::tags::TagTemplate;

/// What the readers need to know about a workspace member.
#[derive(Clone, Debug)]
pub(crate) struct PackageInfo {
    pub(crate) name: String,
    pub(crate) dir: String,
    pub(crate) manifest: PathBuf,
    pub(crate) publish: bool,
}

/// Rules from git-cliff-style configuration: how commits are grouped or skipped, and which
/// tags are releases.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ChangeRules {
    /// Commit parsers, tried in order.
    pub parsers: Vec<CommitParser>,
    /// Only tags matching this regex are release tags (`None`: every tag).
    #[serde(serialize_with = "serialize_regex")]
    pub tag_pattern: Option<Regex>,
    /// Commits that no parser matches and that do not follow Conventional Commits make no
    /// entry (git-cliff's `filter_unconventional`); they still count for the bump.
    pub filter_unconventional: bool,
}

fn serialize_regex<S: serde::Serializer>(
    regex: &Option<Regex>,
    serializer: S,
) -> std::result::Result<S::Ok, S::Error> {
    match regex {
        Some(regex) => serializer.serialize_some(regex.as_str()),
        None => serializer.serialize_none(),
    }
}

/// One commit parser: a regex on a part of the commit, and what a match means.
#[derive(Clone, Debug, Serialize)]
pub struct CommitParser {
    /// What the regex is matched against: `message` (the whole message), `body` (all but
    /// the first line) or `sha` (the full id).
    pub field: &'static str,
    /// The regex as written.
    pub pattern: String,
    #[serde(skip)]
    regex: Regex,
    /// The Keep a Changelog group of matching commits; `None`: they are skipped.
    pub group: Option<Group>,
    /// The group name as written in the file (`None` for `skip = true`).
    pub group_name: Option<String>,
}

impl CommitParser {
    /// `field ~ /pattern/ → Group ("name")` or `→ skip`, for listings.
    pub fn describe(&self) -> String {
        let action = match (&self.group, &self.group_name) {
            (Some(group), Some(name)) if name != group.title() => {
                format!("{} (\"{name}\")", group.title())
            }
            (Some(group), _) => group.title().to_owned(),
            (None, _) => "skip".to_owned(),
        };
        format!("{} ~ /{}/ → {action}", self.field, self.pattern)
    }

    fn matches(&self, id: &str, message: &str) -> bool {
        match self.field {
            "sha" => id.starts_with(&self.pattern),
            "body" => self.regex.is_match(message.split_once('\n').map_or("", |(_, b)| b.trim())),
            _ => self.regex.is_match(message.trim()),
        }
    }
}

impl ChangeRules {
    /// The changelog group the parsers give a commit: `Some(Some(group))`, `Some(None)` when
    /// a parser skips it, `None` when no parser matches (the built-in rules apply).
    pub fn classify(&self, id: &str, message: &str) -> Option<Option<Group>> {
        self.parsers.iter().find(|p| p.matches(id, message)).map(|p| p.group)
    }

    /// [`Self::classify`], then `filter_unconventional` for a commit (or pull request title)
    /// that is not a Conventional Commit: `Some(None)`, it makes no entry.
    pub fn classify_or_filter(
        &self,
        id: &str,
        message: &str,
        conventional: bool,
    ) -> Option<Option<Group>> {
        match self.classify(id, message) {
            None if self.filter_unconventional && !conventional => Some(None),
            found => found,
        }
    }

    /// Whether tag `name` can be a release tag under `tag_pattern`.
    pub fn keeps_tag(&self, name: &str) -> bool {
        self.tag_pattern.as_ref().is_none_or(|r| r.is_match(name))
    }
}

/// The Keep a Changelog group a git-cliff group name stands for.
pub fn group_for(name: &str) -> Group {
    let mut text = name.to_owned();
    // `<!-- 0 -->🚀 Features`: the comment only orders groups in git-cliff's output.
    while let Some(start) = text.find("<!--") {
        let end = text[start..].find("-->").map_or(text.len(), |e| start + e + 3);
        text.replace_range(start..end, "");
    }
    let text = text.to_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| text.contains(w));
    if has(&["secur"]) {
        Group::Security
    } else if has(&["deprecat"]) {
        Group::Deprecated
    } else if has(&["remov", "delet"]) {
        Group::Removed
    } else if has(&["fix", "bug"]) {
        Group::Fixed
    } else if has(&["feat", "add", "new"]) {
        Group::Added
    } else {
        Group::Changed
    }
}

/// Reads a TOML file that belongs to another tool; `None` (with a note) when it is missing
/// or unreadable.
fn foreign(builder: &mut Builder, root: &Path, relative: &str) -> Option<toml::Table> {
    let text = std::fs::read_to_string(root.join(relative)).ok()?;
    builder.file(relative);
    match toml::from_str::<toml::Table>(&text) {
        Ok(table) => Some(table),
        Err(e) => {
            builder.ignore(relative, "(file)", format!("not valid TOML: {}", e.message()));
            None
        }
    }
}

fn table_at<'t>(table: &'t toml::Table, path: &[&str]) -> Option<&'t toml::Table> {
    let mut current = table;
    for key in path {
        current = current.get(*key)?.as_table()?;
    }
    Some(current)
}

/// Converts a `{{ name }}` template; `names` maps placeholder names to replacements.
fn convert_template(text: &str, names: &[(&str, &str)]) -> std::result::Result<String, String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { return Err("unclosed `{{`".to_owned()) };
        let name = after[..end].trim();
        match names.iter().find(|(n, _)| *n == name) {
            Some((_, replacement)) => out.push_str(replacement),
            None => {
                return Err(format!("placeholder `{{{{{name}}}}}` has no proofmark equivalent"));
            }
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

// ----- git-cliff -----

/// Reads `cliff.toml`, or else `[workspace.metadata.git-cliff]` of the root manifest.
pub(crate) fn read_cliff(builder: &mut Builder, root: &Path) {
    if root.join("cliff.toml").is_file() {
        read_cliff_file(builder, root, "cliff.toml");
        return;
    }
    let Ok(text) = std::fs::read_to_string(root.join("Cargo.toml")) else { return };
    let Ok(manifest) = toml::from_str::<toml::Table>(&text) else { return };
    if let Some(cliff) = table_at(&manifest, &["workspace", "metadata", "git-cliff"]) {
        builder.file("Cargo.toml");
        read_cliff_table(builder, cliff, "Cargo.toml", "workspace.metadata.git-cliff.");
    }
}

fn read_cliff_file(builder: &mut Builder, root: &Path, relative: &str) {
    if let Some(table) = foreign(builder, root, relative) {
        read_cliff_table(builder, &table, relative, "");
    }
}

fn read_cliff_table(builder: &mut Builder, table: &toml::Table, file: &str, prefix: &str) {
    for (key, value) in table {
        let full = format!("{prefix}{key}");
        match key.as_str() {
            "git" => {
                let Some(git) = value.as_table() else {
                    builder.ignore(file, &full, "not a table");
                    continue;
                };
                let mut rules = ChangeRules::default();
                for (name, value) in git {
                    let key = format!("{full}.{name}");
                    match name.as_str() {
                        "commit_parsers" => {
                            rules.parsers = read_parsers(builder, value, file, &key);
                        }
                        "tag_pattern" => match value.as_str().map(Regex::new) {
                            Some(Ok(regex)) => rules.tag_pattern = Some(regex),
                            Some(Err(e)) => builder.ignore(file, &key, format!("bad regex: {e}")),
                            None => builder.ignore(file, &key, "not a string"),
                        },
                        "conventional_commits" => {
                            if value.as_bool() == Some(false) {
                                builder.ignore(
                                    file,
                                    &key,
                                    "proofmark always reads Conventional Commits headers",
                                );
                            }
                        }
                        // git-cliff filters only when it parses Conventional Commits.
                        "filter_unconventional" => match value.as_bool() {
                            Some(filter) => {
                                rules.filter_unconventional = filter
                                    && git
                                        .get("conventional_commits")
                                        .and_then(toml::Value::as_bool)
                                        != Some(false);
                            }
                            None => builder.ignore(file, &key, "not true or false"),
                        },
                        "filter_commits" if value.as_bool() == Some(true) => builder.ignore(
                            file,
                            &key,
                            "commits no parser matches get the built-in groups; skip them with \
                             a last `{ message = \".*\", skip = true }` parser",
                        ),
                        "filter_commits"
                        | "protect_breaking_commits"
                        | "topo_order"
                        | "sort_commits" => {}
                        _ => builder.ignore(file, &key, "not a proofmark setting"),
                    }
                }
                builder.changes(rules, file, &format!("{full}."));
            }
            "changelog" => builder.ignore(
                file,
                &full,
                "proofmark writes Keep a Changelog sections; git-cliff templates are not used",
            ),
            _ => builder.ignore(file, &full, "not a proofmark setting"),
        }
    }
}

fn read_parsers(
    builder: &mut Builder,
    value: &toml::Value,
    file: &str,
    key: &str,
) -> Vec<CommitParser> {
    let Some(items) = value.as_array() else {
        builder.ignore(file, key, "not a list of tables");
        return Vec::new();
    };
    let mut parsers = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let key = format!("{key}[{index}]");
        let Some(item) = item.as_table() else {
            builder.ignore(file, &key, "not a table");
            continue;
        };
        let fields: Vec<&str> =
            ["message", "body", "sha"].into_iter().filter(|f| item.contains_key(*f)).collect();
        let unsupported: Vec<&String> = item
            .keys()
            .filter(|k| !["message", "body", "sha", "group", "skip"].contains(&k.as_str()))
            .collect();
        if !unsupported.is_empty() || fields.len() != 1 {
            let names: Vec<&str> = unsupported.iter().map(|s| s.as_str()).collect();
            let reason = if unsupported.is_empty() {
                "a parser needs exactly one of `message`, `body`, `sha`".to_owned()
            } else {
                format!(
                    "proofmark reads `message`, `body`, `sha`, `group`, `skip`, not {}",
                    names.join(", ")
                )
            };
            builder.ignore(file, &key, reason);
            continue;
        }
        let field = fields[0];
        let Some(pattern) = item.get(field).and_then(toml::Value::as_str) else {
            builder.ignore(file, &key, format!("`{field}` is not a string"));
            continue;
        };
        let regex = match Regex::new(pattern) {
            Ok(regex) => regex,
            Err(e) => {
                builder.ignore(file, &key, format!("bad regex: {e}"));
                continue;
            }
        };
        let skip = item.get("skip").and_then(toml::Value::as_bool) == Some(true);
        let group_name = item.get("group").and_then(toml::Value::as_str).map(str::to_owned);
        let (group, group_name) = match (skip, group_name) {
            (true, _) => (None, None),
            (false, Some(name)) => (Some(group_for(&name)), Some(name)),
            (false, None) => {
                builder.ignore(file, &key, "a parser needs `group` or `skip = true`");
                continue;
            }
        };
        parsers.push(CommitParser { field, pattern: pattern.to_owned(), regex, group, group_name });
    }
    parsers
}

// ----- release-plz -----

const RELEASE_PLZ_FILES: [&str; 3] =
    ["release-plz.toml", ".release-plz.toml", ".config/release-plz.toml"];

/// Reads the first of release-plz's files, as release-plz does.
pub(crate) fn read_release_plz(builder: &mut Builder, root: &Path, packages: &[PackageInfo]) {
    let Some(file) = RELEASE_PLZ_FILES.into_iter().find(|f| root.join(f).is_file()) else {
        return;
    };
    let Some(table) = foreign(builder, root, file) else { return };
    for (key, value) in &table {
        match key.as_str() {
            "workspace" => {
                let Some(workspace) = value.as_table() else {
                    builder.ignore(file, key, "not a table");
                    continue;
                };
                if let Some(config) = workspace.get("changelog_config").and_then(|v| v.as_str()) {
                    read_cliff_file(builder, root, config);
                }
                read_release_plz_settings(builder, workspace, file, "workspace.", None, packages);
            }
            "package" => {
                let Some(items) = value.as_array() else {
                    builder.ignore(file, key, "not a list of [[package]] tables");
                    continue;
                };
                for (index, item) in items.iter().enumerate() {
                    let prefix = format!("package[{index}].");
                    let Some(item) = item.as_table() else { continue };
                    let name = item.get("name").and_then(toml::Value::as_str);
                    let Some(package) = name.and_then(|n| packages.iter().find(|p| p.name == n))
                    else {
                        // Without the workspace (or for a crate that is not a member) the
                        // table cannot apply.
                        if !packages.is_empty() {
                            builder.ignore(file, &format!("{prefix}name"), "no such member");
                        }
                        continue;
                    };
                    read_release_plz_settings(
                        builder,
                        item,
                        file,
                        &prefix,
                        Some(package),
                        packages,
                    );
                }
            }
            "changelog" => {
                let Some(changelog) = value.as_table() else { continue };
                let mut rules = ChangeRules::default();
                for (name, value) in changelog {
                    let key = format!("changelog.{name}");
                    match name.as_str() {
                        "commit_parsers" => {
                            rules.parsers = read_parsers(builder, value, file, &key)
                        }
                        "tag_pattern" => match value.as_str().map(Regex::new) {
                            Some(Ok(regex)) => rules.tag_pattern = Some(regex),
                            _ => builder.ignore(file, &key, "not a valid regex"),
                        },
                        "protect_breaking_commits" | "sort_commits" => {}
                        _ => builder.ignore(
                            file,
                            &key,
                            "proofmark writes Keep a Changelog sections; templates and other \
                             changelog options are not used",
                        ),
                    }
                }
                builder.changes(rules, file, "changelog.");
            }
            _ => builder.ignore(file, key, "not a proofmark setting"),
        }
    }
}

fn read_release_plz_settings(
    builder: &mut Builder,
    table: &toml::Table,
    file: &str,
    prefix: &str,
    package: Option<&PackageInfo>,
    packages: &[PackageInfo],
) {
    let targets: Vec<&PackageInfo> = match package {
        Some(package) => vec![package],
        None => packages.iter().filter(|p| p.publish).collect(),
    };
    for (name, value) in table {
        let key = format!("{prefix}{name}");
        match name.as_str() {
            "name" | "changelog_config" => {}
            "git_tag_name" => {
                let converted =
                    value.as_str().ok_or_else(|| "not a string".to_owned()).and_then(|t| {
                        convert_template(t, &[("package", "{crate}"), ("version", "{version}")])
                    });
                match converted.and_then(|t| TagTemplate::new(&t).map_err(|e| e.to_string())) {
                    Ok(template) => {
                        builder.tag_template(package.map(|p| p.name.as_str()), template, file, &key)
                    }
                    Err(reason) => builder.ignore(file, &key, reason),
                }
            }
            "publish" | "release" => match value.as_bool() {
                Some(true) => {}
                Some(false) => {
                    for target in &targets {
                        builder.release(&target.name, false, file, &key);
                    }
                }
                None => builder.ignore(file, &key, "not true or false"),
            },
            "semver_check" => match (value.as_bool(), package) {
                (Some(on), None) => builder.semver_checks(on, file, &key),
                (Some(_), Some(_)) => builder.ignore(
                    file,
                    &key,
                    "proofmark runs the semver check for all crates or none ([workspace] \
                     semver_check)",
                ),
                (None, _) => builder.ignore(file, &key, "not true or false"),
            },
            "changelog_update" if value.as_bool() == Some(true) => {}
            "changelog_update" => builder.ignore(
                file,
                &key,
                "proofmark always writes the changelog section before tagging, so that it is \
                 inside the tag and the published crate",
            ),
            "changelog_path" => {
                let default = package.map(|p| {
                    if p.dir.is_empty() {
                        "CHANGELOG.md".to_owned()
                    } else {
                        format!("{}/CHANGELOG.md", p.dir)
                    }
                });
                let given = value.as_str().map(|s| s.trim_start_matches("./").to_owned());
                if given.is_none() || given != default {
                    builder.ignore(
                        file,
                        &key,
                        "proofmark keeps each crate's changelog in CHANGELOG.md in its folder, \
                         so that `cargo package` includes it",
                    );
                }
            }
            "git_tag_enable" if value.as_bool() == Some(true) => {}
            "git_tag_enable" => builder.ignore(file, &key, "proofmark tags every release"),
            _ => builder.ignore(file, &key, "not a proofmark setting"),
        }
    }
}

// ----- cargo-release -----

/// One level of cargo-release configuration: its table, file and key prefix.
struct Level {
    table: toml::Table,
    file: String,
    prefix: String,
}

/// Reads cargo-release's configuration: the root `release.toml` (unless `skip_root_file`,
/// when it is proofmark's legacy file), `[workspace.metadata.release]`, and per member its
/// `release.toml` and `[package.metadata.release]`.
pub(crate) fn read_cargo_release(
    builder: &mut Builder,
    root: &Path,
    packages: &[PackageInfo],
    skip_root_file: bool,
) {
    let mut workspace_levels = Vec::new();
    if !skip_root_file {
        if let Some(table) = foreign(builder, root, ReleaseConfig::LEGACY_FILE) {
            workspace_levels.push(Level {
                table,
                file: ReleaseConfig::LEGACY_FILE.to_owned(),
                prefix: String::new(),
            });
        }
    }
    let root_manifest = std::fs::read_to_string(root.join("Cargo.toml"))
        .ok()
        .and_then(|t| toml::from_str::<toml::Table>(&t).ok());
    if let Some(table) =
        root_manifest.as_ref().and_then(|m| table_at(m, &["workspace", "metadata", "release"]))
    {
        builder.file("Cargo.toml");
        workspace_levels.push(Level {
            table: table.clone(),
            file: "Cargo.toml".to_owned(),
            prefix: "workspace.metadata.release.".to_owned(),
        });
    }
    // Workspace-only keys, and the keys that are not per crate, lowest precedence first.
    for level in &workspace_levels {
        read_cargo_release_level(builder, level);
    }
    // Per crate: the nearest level that sets a key wins, crate levels first.
    let targets: Vec<PackageInfo> = if packages.is_empty() {
        // Without the workspace: one crate at the root if the manifest has a [package].
        let single = root_manifest
            .as_ref()
            .and_then(|m| table_at(m, &["package"]))
            .and_then(|p| p.get("name")?.as_str())
            .map(|name| PackageInfo {
                name: name.to_owned(),
                dir: String::new(),
                manifest: root.join("Cargo.toml"),
                publish: true,
            })
            // Else a stand-in for every member crate (empty name), so that the workspace
            // settings still resolve.
            .unwrap_or_else(|| PackageInfo {
                name: String::new(),
                dir: "(member)".to_owned(),
                manifest: root.join("(member)/Cargo.toml"),
                publish: true,
            });
        vec![single]
    } else {
        packages.to_vec()
    };
    for package in &targets {
        let mut levels: Vec<Level> = Vec::new();
        if let Ok(text) = std::fs::read_to_string(&package.manifest) {
            let relative = if package.dir.is_empty() {
                "Cargo.toml".to_owned()
            } else {
                format!("{}/Cargo.toml", package.dir)
            };
            if let Ok(manifest) = toml::from_str::<toml::Table>(&text) {
                if let Some(table) = table_at(&manifest, &["package", "metadata", "release"]) {
                    builder.file(&relative);
                    levels.push(Level {
                        table: table.clone(),
                        file: relative,
                        prefix: "package.metadata.release.".to_owned(),
                    });
                }
            }
        }
        if !package.dir.is_empty() && !package.name.is_empty() {
            let relative = format!("{}/{}", package.dir, ReleaseConfig::LEGACY_FILE);
            if let Some(table) = foreign(builder, root, &relative) {
                levels.push(Level { table, file: relative, prefix: String::new() });
            }
        }
        for level in &levels {
            read_cargo_release_level(builder, level);
        }
        levels.extend(workspace_levels.iter().rev().map(|l| Level {
            table: l.table.clone(),
            file: l.file.clone(),
            prefix: l.prefix.clone(),
        }));
        resolve_cargo_release_crate(builder, package, &levels);
    }
}

/// The keys of one level that are not resolved per crate.
fn read_cargo_release_level(builder: &mut Builder, level: &Level) {
    let file = level.file.as_str();
    for (name, value) in &level.table {
        let key = format!("{}{name}", level.prefix);
        let reason: Option<String> = match name.as_str() {
            // Resolved per crate.
            "tag-name" | "tag-prefix" | "release" | "publish" => None,
            "allow-branch" => {
                match value.as_array().and_then(|items| {
                    items.iter().map(|i| i.as_str().map(str::to_owned)).collect::<Option<Vec<_>>>()
                }) {
                    Some(branches) => {
                        builder.allowed_branches(branches, file, &key);
                        None
                    }
                    None => Some("not a list of strings".to_owned()),
                }
            }
            "sign-tag" | "sign-commit" if value.as_bool() == Some(false) => None,
            "sign-tag" => {
                Some("proofmark makes annotated tags; signing is not supported yet".into())
            }
            "sign-commit" => Some("the release commit is not signed".into()),
            "dependent-version" if value.as_str() == Some("fix") => None,
            "dependent-version" => Some(
                "proofmark updates a member's requirement only when the new version no longer \
                 satisfies it (cargo-release's `fix`)"
                    .into(),
            ),
            "shared-version" if value.as_bool() == Some(false) => None,
            "shared-version" => Some(
                "proofmark versions each crate from its own commits; members that inherit \
                 `version.workspace = true` share it when they are released together"
                    .into(),
            ),
            "pre-release-commit-message" | "consolidate-commits" => Some(
                "the release is one commit `chore(release): …` whose `Release-Id:` trailer \
                 --resume needs"
                    .into(),
            ),
            "tag" if value.as_bool() == Some(true) => None,
            "tag" => Some("proofmark tags every release".into()),
            "tag-message" => Some("the tag message is the release's changelog section".into()),
            "push" if value.as_bool() == Some(false) => None,
            "push" | "push-remote" => Some("proofmark pushes only with --push-remote NAME".into()),
            "registry" => Some("use --registry NAME".into()),
            "verify" => Some("use --no-verify".into()),
            "owners" => Some("proofmark does not manage crate owners".into()),
            "pre-release-replacements" | "pre-release-hook" => Some(
                "proofmark writes versions and changelog sections itself; run other edits \
                 before the release"
                    .into(),
            ),
            own if OWN_KEYS.contains(&own) => Some(format!(
                "proofmark's own key in a file cargo-release reads: move it under [release] in {}",
                ReleaseConfig::FILE
            )),
            "rate-limit" => Some("proofmark plans with crates.io's published limits".into()),
            _ => Some("not a proofmark setting".into()),
        };
        if let Some(reason) = reason {
            builder.ignore(file, &key, reason);
        }
    }
}

/// Resolves `tag-name`/`tag-prefix` and `release`/`publish` for one crate from its levels
/// (nearest first).
fn resolve_cargo_release_crate(builder: &mut Builder, package: &PackageInfo, levels: &[Level]) {
    let find = |name: &str| {
        levels.iter().find_map(|l| {
            l.table.get(name).map(|v| (v.clone(), l.file.clone(), format!("{}{name}", l.prefix)))
        })
    };
    // The stand-in for every member (empty name) only resolves the workspace's template.
    let crate_name = (!package.name.is_empty()).then_some(package.name.as_str());
    for flag in ["release", "publish"].into_iter().filter(|_| crate_name.is_some()) {
        if let Some((value, file, key)) = find(flag) {
            match value.as_bool() {
                Some(release) => builder.release(&package.name, release, &file, &key),
                None => builder.ignore(&file, &key, "not true or false"),
            }
        }
    }
    let name = find("tag-name");
    let prefix = find("tag-prefix");
    if name.is_none() && prefix.is_none() {
        return;
    }
    let default_prefix = if package.dir.is_empty() { "" } else { "{crate}-" };
    let names = [("crate_name", "{crate}"), ("version", "{version}")];
    let prefix_text = match &prefix {
        Some((value, file, key)) => {
            match value
                .as_str()
                .ok_or_else(|| "not a string".to_owned())
                .and_then(|t| convert_template(t, &names))
            {
                Ok(text) => text,
                Err(reason) => {
                    builder.ignore(file, key, reason);
                    return;
                }
            }
        }
        None => default_prefix.to_owned(),
    };
    let with_prefix =
        [("crate_name", "{crate}"), ("version", "{version}"), ("prefix", prefix_text.as_str())];
    let (template_text, file, key) = match &name {
        Some((value, file, key)) => {
            match value
                .as_str()
                .ok_or_else(|| "not a string".to_owned())
                .and_then(|t| convert_template(t, &with_prefix))
            {
                Ok(text) => (text, file.clone(), key.clone()),
                Err(reason) => {
                    builder.ignore(file, key, reason);
                    return;
                }
            }
        }
        None => {
            // Only `tag-prefix` is set: cargo-release's default `tag-name` applies.
            let Some((_, file, key)) = prefix.clone() else { return };
            (format!("{prefix_text}v{{version}}"), file, key)
        }
    };
    match TagTemplate::new(&template_text) {
        Ok(template) => builder.tag_template(crate_name, template, &file, &key),
        Err(e) => builder.ignore(&file, &key, e.to_string()),
    }
}

/// Whether the root `release.toml` holds only proofmark's own keys (then it is ours).
pub(crate) fn legacy_file_is_ours(table: &toml::Table) -> bool {
    !table.is_empty() && table.keys().all(|k| OWN_KEYS.contains(&k.as_str()))
}

/// Reads the root `release.toml` as proofmark's legacy settings when it is clearly ours;
/// returns whether it was.
pub(crate) fn read_legacy(builder: &mut Builder, root: &Path) -> Result<bool> {
    let path = root.join(ReleaseConfig::LEGACY_FILE);
    let Ok(text) = std::fs::read_to_string(&path) else { return Ok(false) };
    let Ok(table) = toml::from_str::<toml::Table>(&text) else { return Ok(false) };
    if !legacy_file_is_ours(&table) {
        return Ok(false);
    }
    builder.file(ReleaseConfig::LEGACY_FILE);
    read_own(builder, &table, ReleaseConfig::LEGACY_FILE, "", &path)?;
    builder.note(format!(
        "{} is read as proofmark's settings (all its keys are proofmark's); move them under \
         [release] in {}, a name no other tool reads",
        ReleaseConfig::LEGACY_FILE,
        ReleaseConfig::FILE
    ));
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_templates() {
        let names = [("package", "{crate}"), ("version", "{version}")];
        for (text, expected) in [
            ("{{ package }}-v{{ version }}", Ok("{crate}-v{version}")),
            ("v{{version}}", Ok("v{version}")),
            ("{{ date }}", Err("placeholder `{{date}}` has no proofmark equivalent")),
            ("{{ version", Err("unclosed `{{`")),
        ] {
            let got = convert_template(text, &names);
            assert_eq!(got.as_deref(), expected.map_err(str::to_owned).as_deref(), "{text}");
        }
    }

    #[test]
    fn maps_cliff_groups() {
        for (name, group) in [
            ("<!-- 0 -->🚀 Features", Group::Added),
            ("<!-- 1 -->🐛 Bug Fixes", Group::Fixed),
            ("Documentation", Group::Changed),
            ("<!-- 9 -->🛡️ Security", Group::Security),
            ("Removed", Group::Removed),
            ("Deprecations", Group::Deprecated),
            ("Performance", Group::Changed),
        ] {
            assert_eq!(group_for(name), group, "{name}");
        }
    }
}
