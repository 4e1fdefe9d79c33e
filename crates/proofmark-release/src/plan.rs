//! The release plan: which crates to release at which versions, in which order, with which
//! changelog sections and file changes. Computing a plan reads the repository and the
//! workspace and writes nothing (the dry run).
//!
//! # Rules, in the order they are applied
//!
//! 1. **Release tags of a crate.** Tags are parsed with [`ReleaseTag::parse`] and with the
//!    plan's tag template; ownership and the scheme of new tags are [`crate::tagscheme`]'s
//!    rules (a `name-…` tag belongs to crate `name`; an unprefixed one to the crates whose
//!    manifest had exactly its version at the tagged commit). The crate's last release is its
//!    highest tagged version.
//! 2. **Commits of a crate.** The [history walk](crate::history) attributes a commit to a
//!    crate when it changed the crate's folder against its first parent, or when its
//!    Conventional Commits scope or a `Crate:` trailer names the crate; in both cases only if
//!    the commit is not yet released for that crate. A commit attributed to no published
//!    crate and contained in no release tag is listed in [`ReleasePlan::unattributed`] with
//!    the paths it changed.
//!    Commits without net effect on the crate's packaged files ([`crate::content`]) and
//!    commits whose patch a release of the crate already contains ([`crate::skip`]) are then
//!    taken out and listed apart.
//! 3. **Bump.** A crate whose packaged files are those of its last release is not released
//!    (`unchanged since X.Y.Z`); a planned version that a release tag already has becomes the
//!    next one (see [`crate::tagscheme`]). Breaking → major, `feat` → minor, anything else →
//!    patch, with the 0.x [`BumpRules`]. A crate without release tag is released at its
//!    manifest version (first release). A released crate without new commits is not
//!    released. When the manifest was already bumped by hand past the last release and is at
//!    least the inferred version, the manifest version wins (unless a tag released it: then
//!    the final release of its pre-release line). Overrides (`--bump NAME=LEVEL|X.Y.Z`)
//!    replace the inference; a level override is applied literally (no 0.x rules).
//! 4. **Dependents.** When a member requires a released crate with a requirement the new
//!    version does not satisfy, the requirement is updated (in the dependent's manifest, or
//!    in `[workspace.dependencies]` when inherited) and a published dependent that was not
//!    released yet is released with a patch bump, level by level.
//! 5. **Versions in manifests.** A crate with its own `version` gets it replaced. Crates that
//!    inherit `version.workspace = true` share one field: it is changed when every inheriting
//!    member is released at the same version; otherwise each released inheriting crate gets an
//!    explicit `version = "…"` in place of the inheritance.
//!
//! # Changelog entries
//!
//! `feat` → Added, `fix` → Fixed, `security`/`sec` → Security, `deprecate`/`deprecated` →
//! Deprecated, `remove`/`removed` → Removed; `chore`, `ci`, `test`, `style` are left out of
//! the changelog unless breaking (they still count for the bump and are listed in the plan);
//! every other type and every non-conventional commit goes to Changed. Non-conventional
//! commits are flagged in the plan (`conventional: false`) and counted in a warning.
//! Non-conventional merge commits (`Merge branch …`) are left out of the changelog since the
//! merged commits carry the changes. An entry is `[**BREAKING**: ][**scope**: ]description
//! (abcdef1)`, the scope being omitted when it is the crate's own name, followed by the
//! `BREAKING CHANGE` footer's text on indented lines.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

use semver::Version;
use serde::Serialize;

use crate::bump::{self, BumpRules, CrateOverride, Level, Override};
use crate::changelog::{self, Entry, Group, Section};
use crate::content::{Packaged, Trees};
use crate::conventional::Message;
use crate::date::Date;
use crate::error::{Error, Result};
use crate::history::{Repo, WalkCrate};
use crate::skip::{self, AlreadyReleased, CrateCommits, NoEffect};
use crate::tags::{ReleaseTag, TagTemplate};
use crate::tagscheme::{self, Owners};
use crate::workspace::{DependencyKind, Package, Workspace};

/// What the caller decides for a plan.
#[derive(Clone, Debug)]
pub struct PlanOptions {
    /// The release date written into changelog headings.
    pub date: Date,
    /// Only release these crates (empty: all). Names must be published members.
    pub only: Vec<String>,
    /// Per-crate overrides of the inferred bump.
    pub overrides: Vec<CrateOverride>,
    /// The 0.x bump rules.
    pub rules: BumpRules,
    /// The template for new tags (`None`: the default for the workspace's size).
    pub tag_template: Option<TagTemplate>,
    /// Release candidates: `Some("rc")` plans `X.Y.Z-rc.N` versions, counting from the
    /// crate's last pre-release of the same `X.Y.Z`. `None` plans final releases, which fold
    /// the entries of their pre-releases into their own section.
    pub pre: Option<String>,
    /// Commit parsers and the release tag pattern from git-cliff-style configuration.
    pub changes: crate::config::ChangeRules,
}

impl PlanOptions {
    /// Default options for a release on `date`.
    pub fn new(date: Date) -> Self {
        Self {
            date,
            only: Vec::new(),
            overrides: Vec::new(),
            rules: BumpRules::default(),
            tag_template: None,
            pre: None,
            changes: crate::config::ChangeRules::default(),
        }
    }
}

/// The dry-run release plan of a workspace.
#[derive(Clone, Debug, Serialize)]
pub struct ReleasePlan {
    /// The workspace root.
    pub workspace_root: String,
    /// The release date.
    pub date: Date,
    /// The commit the plan was computed at (`None` in a repository without commits).
    pub head: Option<String>,
    /// The template new tags are made from: the one given, or, when `tag_scheme_inferred`,
    /// the one for crates without release tags.
    pub tag_template: TagTemplate,
    /// Whether no template was given, so that each crate's tags follow the scheme of its
    /// newest release tag (`X.Y.Z`, `vX.Y.Z`, `name-X.Y.Z`, `name-vX.Y.Z`).
    pub tag_scheme_inferred: bool,
    /// The releases, in publish order: by level, then name.
    pub releases: Vec<CrateRelease>,
    /// Published crates that are not released, with why.
    pub unchanged: Vec<UnchangedCrate>,
    /// Commits in the walked range that belong to no published crate.
    pub unattributed: Vec<CommitSummary>,
    /// Attributed commits without net effect on their crate's packaged files (no entry).
    pub no_effect: Vec<NoEffect>,
    /// Attributed commits whose patch is already in one of the crate's releases (no entry).
    pub already_released: Vec<AlreadyReleased>,
    /// Every file the release changes, once.
    pub files: Vec<FileChange>,
    /// Things a person should look at.
    pub warnings: Vec<String>,
    /// About the configuration and the changelog entries: settings not honoured, how pull
    /// request titles were grouped.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Numbers about the history walk.
    pub stats: Stats,
}

/// Numbers about the history walk.
#[derive(Clone, Debug, Serialize)]
pub struct Stats {
    /// Commits read (including released ones needed to end the walk).
    pub commits_visited: usize,
    /// Commits unreleased for at least one published crate.
    pub commits_unreleased: usize,
    /// Whether the history is shallow (some parents are missing).
    pub truncated: bool,
}

/// The release of one crate.
#[derive(Clone, Debug, Serialize)]
pub struct CrateRelease {
    /// The crate name.
    pub name: String,
    /// The version in the manifest now.
    pub current_version: Version,
    /// The last release found in tags.
    pub last_release: Option<LastRelease>,
    /// The version to release.
    pub next_version: Version,
    /// The bump level applied to the last release, if any (none for a first release or an
    /// exact override).
    pub bump: Option<Level>,
    /// Why this version.
    pub reason: String,
    /// The tag to create.
    pub tag: String,
    /// The publish level (0 = depends on no other published member).
    pub level: usize,
    /// The crate folder relative to the workspace root.
    pub dir: String,
    /// The commits attributed to the crate, newest first.
    pub commits: Vec<CommitSummary>,
    /// The changelog file, relative to the workspace root.
    pub changelog_path: String,
    /// The changelog section for `next_version` as the release writes it: the generated
    /// entries plus what it moves from `[Unreleased]` and from its candidates' sections.
    pub changelog: String,
    /// The files this release changes.
    pub files: Vec<FileChange>,
    /// The section as data, for writing it ([`changelog::update`]); not serialised, the
    /// rendered text is in `changelog`.
    #[serde(skip)]
    pub section: Option<Section>,
}

/// A crate's last release.
#[derive(Clone, Debug, Serialize)]
pub struct LastRelease {
    /// The tag name.
    pub tag: String,
    /// The version.
    pub version: Version,
}

/// A published crate left out of the release.
#[derive(Clone, Debug, Serialize)]
pub struct UnchangedCrate {
    /// The crate name.
    pub name: String,
    /// Its manifest version.
    pub version: Version,
    /// Why it is not released.
    pub reason: String,
}

/// A commit as the plan shows it.
#[derive(Clone, Debug, Serialize)]
pub struct CommitSummary {
    /// The full hex id.
    pub id: String,
    /// The first 7 hex digits.
    pub short_id: String,
    /// The first line of the message.
    pub summary: String,
    /// Whether the header follows Conventional Commits.
    pub conventional: bool,
    /// Whether the change is breaking.
    pub breaking: bool,
    /// Whether it is a merge commit (more than one parent).
    pub merge: bool,
    /// The bump this commit asks for.
    pub level: Level,
    /// How it was attributed: `path`, `scope`, `trailer`.
    pub via: Vec<&'static str>,
    /// The changelog group, if the commit makes an entry.
    pub group: Option<Group>,
    /// For unattributed commits: the paths changed (up to two levels deep).
    pub paths: Vec<String>,
}

/// A change to one file.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct FileChange {
    /// The file, relative to the workspace root.
    pub path: String,
    /// What changes, in words.
    pub change: String,
    /// What changes, as data (what executing the plan will apply).
    pub edit: Edit,
}

/// A file edit of a release, precise enough to be applied later.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Edit {
    /// Set `[package] version` of a crate manifest.
    PackageVersion {
        /// The new version.
        to: Version,
    },
    /// Set `[workspace.package] version` of the root manifest.
    WorkspaceVersion {
        /// The new version.
        to: Version,
    },
    /// Replace `version.workspace = true` with an own `version` in a crate manifest.
    OwnVersion {
        /// The new version.
        to: Version,
    },
    /// Set the version requirement of a dependency on a released crate.
    Requirement {
        /// The table holding it (`[dependencies]`, `[workspace.dependencies]`, ...).
        table: String,
        /// The dependency's crate name.
        dependency: String,
        /// The version the requirement must accept (written as `to`, i.e. `^to`).
        to: Version,
    },
    /// Write the changelog section of `version` ([`changelog::update`]).
    Changelog {
        /// What happens to the file.
        action: ChangelogAction,
        /// The section's version.
        version: Version,
    },
}

/// What writing a changelog section does to the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangelogAction {
    /// The file does not exist yet.
    Create,
    /// The file has no section for the version: insert one.
    Insert,
    /// The file has a section for the version: add the missing entries.
    Merge,
    /// The file's section already has every entry.
    UpToDate,
    /// The file has sections of the version's release candidates: fold them into its section.
    Fold,
}

/// The changelog group of a commit, `None` when it makes no entry.
pub(crate) fn group_of(message: &Message, is_merge: bool) -> Option<Group> {
    let Some(header) = &message.conventional else {
        return if is_merge { None } else { Some(Group::Changed) };
    };
    Some(match header.kind.as_str() {
        "feat" => Group::Added,
        "fix" => Group::Fixed,
        "security" | "sec" => Group::Security,
        "deprecate" | "deprecated" => Group::Deprecated,
        "remove" | "removed" => Group::Removed,
        "chore" | "ci" | "test" | "tests" | "style" if !message.is_breaking() => return None,
        _ => Group::Changed,
    })
}

fn level_of(message: &Message) -> Level {
    if message.is_breaking() {
        return Level::Major;
    }
    match &message.conventional {
        Some(h) if h.kind == "feat" => Level::Minor,
        _ => Level::Patch,
    }
}

/// The crates a commit's `Crate:` trailers name.
pub(crate) fn trailer_crates(message: &Message) -> BTreeSet<String> {
    message
        .footers
        .iter()
        .filter(|f| f.token.eq_ignore_ascii_case("crate"))
        .flat_map(|f| f.value.split(',').map(|n| n.trim().to_owned()))
        .collect()
}

/// How a commit belongs to crate `name`: `path` (it changed the folder), `scope` (its
/// Conventional Commits scope names the crate), `trailer` (a `Crate:` trailer does); empty
/// when it does not.
pub(crate) fn attribution(
    touched: bool,
    message: &Message,
    name: &str,
    trailer_named: &BTreeSet<String>,
) -> Vec<&'static str> {
    let mut via = Vec::new();
    if touched {
        via.push("path");
    }
    let scoped = message
        .conventional
        .as_ref()
        .and_then(|h| h.scope.as_deref())
        .is_some_and(|s| s.split(',').any(|part| part.trim() == name));
    if scoped {
        via.push("scope");
    }
    if trailer_named.contains(name) {
        via.push("trailer");
    }
    via
}

pub(crate) fn entry_text(message: &Message, crate_name: &str, short_id: &str) -> String {
    let mut text = String::new();
    if message.is_breaking() {
        text.push_str("**BREAKING**: ");
    }
    match &message.conventional {
        Some(header) => {
            if let Some(scope) = header.scope.as_deref().filter(|s| *s != crate_name) {
                let _ = write!(text, "**{scope}**: ");
            }
            text.push_str(&header.description);
        }
        None => text.push_str(&message.summary),
    }
    let _ = write!(text, " ({short_id})");
    if let Some(footer) = message.breaking_footer() {
        for line in footer.lines() {
            text.push('\n');
            text.push_str(line);
        }
    }
    text
}

pub(crate) fn join(dir: &str, file: &str) -> String {
    if dir.is_empty() { file.to_owned() } else { format!("{dir}/{file}") }
}

/// A walked commit as the plan (and [`crate::regenerate`]) shows it, attributed `via`.
pub(crate) fn commit_summary(
    record: &crate::history::CommitRecord,
    message: &Message,
    via: Vec<&'static str>,
    paths: Vec<String>,
    changes: &crate::config::ChangeRules,
) -> CommitSummary {
    let is_merge = record.parents.len() > 1;
    CommitSummary {
        id: record.id.clone(),
        short_id: record.id.chars().take(7).collect(),
        summary: message.summary.clone(),
        conventional: message.conventional.is_some(),
        breaking: message.is_breaking(),
        merge: is_merge,
        level: level_of(message),
        via,
        group: changes
            .classify_or_filter(&record.id, &record.message, message.conventional.is_some())
            .unwrap_or_else(|| group_of(message, is_merge)),
        paths,
    }
}

/// The changelog entries of one crate's commits (newest first, already rid of the commits
/// [`skip::filter`] takes out): pull requests as single entries with their commits folded
/// ([`crate::pr`]), other commits one entry each. The plan's sections and
/// [`crate::regenerate`]'s come from here.
pub(crate) fn crate_entries(
    pulls: &mut crate::pr::PullRequests,
    workspace: &Workspace,
    package: &Package,
    commits: &[(CommitSummary, Message)],
    changes: &crate::config::ChangeRules,
) -> Vec<Entry> {
    let repository =
        (!pulls.is_empty()).then(|| crate::pr::repository_url(workspace, package)).flatten();
    pulls.entries(commits, &package.name, repository.as_deref(), changes)
}

fn relative(workspace: &Workspace, path: &Path) -> String {
    path.strip_prefix(&workspace.root)
        .map(|p| {
            p.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/")
        })
        .unwrap_or_else(|_| path.display().to_string())
}

/// Per-crate intermediate state.
struct Candidate<'w> {
    package: &'w Package,
    last: Option<LastRelease>,
    /// The last release that is not a pre-release.
    last_final: Option<LastRelease>,
    /// The newest release tag of any kind (a final release plan ignores candidates otherwise).
    last_any: Option<LastRelease>,
    tag_commits: Vec<String>,
    commits: Vec<(CommitSummary, Message)>,
}

/// Computes the plan of `workspace`, whose history is read from `repo`.
pub fn plan(workspace: &Workspace, repo: &Repo, options: &PlanOptions) -> Result<ReleasePlan> {
    let published: Vec<&Package> = workspace.published().collect();
    let known: Vec<String> = published.iter().map(|p| p.name.clone()).collect();
    let check = |name: &str| {
        if known.iter().any(|k| k == name) {
            Ok(())
        } else {
            Err(Error::UnknownCrate { name: name.to_owned(), known: known.clone() })
        }
    };
    for name in &options.only {
        check(name)?;
    }
    for o in &options.overrides {
        check(&o.crate_name)?;
    }
    if let Some(id) = &options.pre {
        let valid = !id.is_empty()
            && !id.contains('.')
            && !id.bytes().all(|b| b.is_ascii_digit())
            && semver::Prerelease::new(&format!("{id}.1")).is_ok();
        if !valid {
            return Err(Error::BadPreRelease { id: id.clone() });
        }
    }
    let template =
        options.tag_template.clone().unwrap_or_else(|| TagTemplate::default_for(published.len()));
    let levels = workspace.levels()?;
    let mut warnings = Vec::new();

    // 1. Release tags of each crate.
    let mut tags = repo.tags()?;
    tags.retain(|t| options.changes.keeps_tag(&t.name));
    let owners = Owners::read(repo, workspace, &tags)?;
    // Every release tag of each crate (tag, commit, version), its versions, and its scheme.
    let mut crate_releases: BTreeMap<String, Vec<(String, String, Version)>> = BTreeMap::new();
    let mut schemes = BTreeMap::new();
    let mut candidates: Vec<Candidate<'_>> = published
        .iter()
        .map(|package| Candidate {
            package,
            last: None,
            last_final: None,
            last_any: None,
            tag_commits: Vec::new(),
            commits: Vec::new(),
        })
        .collect();
    let tag_names: BTreeSet<&str> = tags.iter().map(|t| t.name.as_str()).collect();
    for candidate in &mut candidates {
        let name = candidate.package.name.as_str();
        let mine = crate_tags(&tags, options.tag_template.as_ref(), name, &owners);
        let (scheme, mixed) = tagscheme::infer(
            name,
            &mine.iter().map(|(tag, _, _, version)| (*tag, version)).collect::<Vec<_>>(),
        );
        schemes.insert(name.to_owned(), scheme);
        warnings.extend(mixed.filter(|_| options.tag_template.is_none()));
        crate_releases.insert(
            name.to_owned(),
            mine.iter().map(|(t, c, _, v)| ((*t).to_owned(), (*c).to_owned(), v.clone())).collect(),
        );
        let newest = |tags: &mut dyn Iterator<Item = &CrateTag<'_>>| {
            tags.max_by(|a, b| a.3.cmp(&b.3).then_with(|| b.0.cmp(a.0))).map(
                |(tag, _, _, version)| LastRelease {
                    tag: (*tag).to_owned(),
                    version: version.clone(),
                },
            )
        };
        // A final release starts from the last final release, so that its section folds in
        // every change of its candidates; a candidate starts from the last tag of any kind.
        candidate.last_any = newest(&mut mine.iter());
        let mine: Vec<_> = if options.pre.is_some() {
            mine
        } else {
            mine.into_iter().filter(|(_, _, _, v)| v.pre.is_empty()).collect()
        };
        candidate.tag_commits = mine.iter().map(|(_, commit, _, _)| (*commit).to_owned()).collect();
        candidate.last = newest(&mut mine.iter());
        candidate.last_final = newest(&mut mine.iter().filter(|t| t.3.pre.is_empty()));
    }

    // New tags follow each crate's scheme unless a template is given.
    let family = tagscheme::family_scheme(&schemes.values().flatten().copied().collect::<Vec<_>>());
    let templates: BTreeMap<String, TagTemplate> = schemes
        .iter()
        .map(|(name, scheme)| {
            let inferred = scheme.or(family).map(tagscheme::Scheme::template);
            let chosen = match &options.tag_template {
                Some(given) => given.clone(),
                None => inferred.unwrap_or_else(|| template.clone()),
            };
            (name.clone(), chosen)
        })
        .collect();
    let template_of = |name: &str| templates.get(name).unwrap_or(&template);
    let released_versions = |name: &str| -> BTreeMap<Version, String> {
        crate_releases
            .get(name)
            .map(|tags| tags.iter().map(|(t, _, v)| (v.clone(), t.clone())).collect())
            .unwrap_or_default()
    };

    // 2. One walk for all crates.
    let walk_crates: Vec<WalkCrate> = candidates
        .iter()
        .map(|c| WalkCrate {
            dir: c.package.dir.clone(),
            released_at: c.tag_commits.clone(),
            exclude: nested_members(workspace, &c.package.dir),
        })
        .collect();
    let packaged: Vec<Packaged> =
        candidates.iter().map(|c| Packaged::new(repo.prefix(), c.package)).collect();
    let walk = repo.walk_with(&walk_crates, &packaged)?;
    if walk.truncated {
        warnings.push(
            "the history is shallow (some parent commits are missing): fetch the full history \
             for a complete plan"
                .to_owned(),
        );
    }
    let mut pulls = crate::pr::PullRequests::new(&walk.commits);
    let mut unattributed = Vec::new();
    for record in &walk.commits {
        let message = Message::parse(&record.message);
        let trailer_named = trailer_crates(&message);
        let summary = |via: Vec<&'static str>, paths: Vec<String>| {
            commit_summary(record, &message, via, paths, &options.changes)
        };
        let mut attributed = false;
        for &index in &record.unreleased {
            let name = &candidates[index].package.name;
            let via = attribution(record.touched.contains(&index), &message, name, &trailer_named);
            if via.is_empty() {
                continue;
            }
            attributed = true;
            candidates[index].commits.push((summary(via, Vec::new()), message.clone()));
        }
        // Only commits that no release tag contains are reported: older ones belong to
        // history that earlier releases already judged.
        if !attributed && record.unreleased.len() == candidates.len() {
            unattributed.push(summary(Vec::new(), record.changed_paths.clone()));
        }
    }

    // 2b. Commits without net effect, and commits already released on another branch.
    let tag_commit = |tag: &str| tags.iter().find(|t| t.name == tag).map(|t| t.commit.clone());
    let mut inputs: Vec<CrateCommits<'_>> = candidates
        .iter_mut()
        .enumerate()
        .map(|(index, c)| CrateCommits {
            index,
            package: c.package,
            tags: crate_releases.get(&c.package.name).cloned().unwrap_or_default(),
            baselines: [&c.last, &c.last_any]
                .into_iter()
                .flatten()
                .filter_map(|l| tag_commit(&l.tag))
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect(),
            commits: std::mem::take(&mut c.commits),
        })
        .collect();
    let (no_effect, already_released) = skip::filter(repo, &walk, &mut inputs)?;
    for (candidate, input) in candidates.iter_mut().zip(inputs) {
        candidate.commits = input.commits;
    }

    // 3. Versions.
    let head = repo.head()?;
    let mut trees = Trees::new(repo);
    let mut releases: BTreeMap<String, CrateRelease> = BTreeMap::new();
    let mut unchanged = Vec::new();
    for candidate in &candidates {
        let package = candidate.package;
        let name = package.name.clone();
        let decision = options.overrides.iter().rev().find(|o| o.crate_name == name);
        // A crate whose packaged files are those of its last release is not released.
        if let (None, Some(last), Some(head)) = (decision, &candidate.last, &head) {
            let base = tag_commit(&last.tag);
            let packaged = Packaged::new(repo.prefix(), package);
            if let Some(base) = base {
                if trees.unchanged_since(head, &base, &packaged)? {
                    unchanged.push(UnchangedCrate {
                        name,
                        version: package.version.clone(),
                        reason: format!("unchanged since {} ({})", last.version, last.tag),
                    });
                    continue;
                }
            }
        }
        let released = released_versions(&name);
        let inferred = candidate.commits.iter().map(|(c, _)| c.level).max();
        let exact = matches!(decision.map(|o| &o.decision), Some(Override::Version(_)));
        let (next, bump_level, reason) = if let Some(id) = options.pre.as_deref().filter(|_| !exact)
        {
            let forced = match decision.map(|o| &o.decision) {
                Some(Override::Level(level)) => Some(*level),
                _ => None,
            };
            let (target, bump_level, why) = match &candidate.last {
                None => (bump::finished(&package.version), None, "first release".to_owned()),
                Some(last) => {
                    let Some(level) = forced.or(inferred) else {
                        unchanged.push(UnchangedCrate {
                            name,
                            version: package.version.clone(),
                            reason: format!("no commits since {}", last.tag),
                        });
                        continue;
                    };
                    let (from_final, applied, why) = match (&candidate.last_final, forced) {
                        (Some(f), Some(level)) => (
                            bump::apply(&f.version, level),
                            level,
                            format!("override: {level} bump"),
                        ),
                        (Some(f), None) => {
                            let effective = options.rules.effective(&f.version, level);
                            let why = describe_inference(&candidate.commits, level, effective);
                            (bump::apply(&f.version, effective), effective, why)
                        }
                        (None, _) => (
                            bump::finished(&package.version),
                            level,
                            format!("after {}, no final release yet", last.tag),
                        ),
                    };
                    // A later candidate never goes below the version the earlier ones lead to.
                    let pending = bump::finished(&last.version);
                    let target = if !last.version.pre.is_empty() && pending > from_final {
                        pending
                    } else {
                        from_final
                    };
                    (target, Some(applied), why)
                }
            };
            let next = bump::candidate(&target, candidate.last.as_ref().map(|l| &l.version), id);
            (next, bump_level, format!("{why}; release candidate of {target}"))
        } else {
            match (&candidate.last, decision.map(|o| &o.decision)) {
                (last, Some(Override::Version(version))) => {
                    if let Some(last) = last.as_ref().filter(|l| *version <= l.version) {
                        return Err(Error::OverrideNotGreater {
                            name,
                            requested: version.clone(),
                            released: last.version.clone(),
                        });
                    }
                    (version.clone(), None, format!("override: version {version}"))
                }
                (None, Some(Override::Level(level))) => (
                    bump::apply(&package.version, *level),
                    Some(*level),
                    format!("override: {level} bump of the unreleased version {}", package.version),
                ),
                (Some(last), Some(Override::Level(level))) => (
                    bump::apply(&last.version, *level),
                    Some(*level),
                    format!("override: {level} bump"),
                ),
                (None, None) => match &candidate.last_any {
                    // Only candidates were released: this is their final release.
                    Some(any) if !any.version.pre.is_empty() => (
                        bump::finished(&any.version).max(bump::finished(&package.version)),
                        None,
                        format!("final release after {}", any.tag),
                    ),
                    _ => {
                        (package.version.clone(), None, "first release (no release tag)".to_owned())
                    }
                },
                (Some(last), None) => {
                    let Some(level) = inferred else {
                        unchanged.push(UnchangedCrate {
                            name,
                            version: package.version.clone(),
                            reason: format!("no commits since {}", last.tag),
                        });
                        continue;
                    };
                    let effective = options.rules.effective(&last.version, level);
                    let computed = bump::apply(&last.version, effective);
                    let why = describe_inference(&candidate.commits, level, effective);
                    if package.version > last.version && package.version >= computed {
                        match released.get(&package.version) {
                            // The manifest's pre-release is out: the final release of its line.
                            Some(tag) => {
                                let target = bump::finished(&package.version).max(computed);
                                let reason = format!(
                                    "{why}; the manifest's {} is already released as {tag}",
                                    package.version
                                );
                                (target, Some(effective), reason)
                            }
                            None => {
                                let reason = format!(
                                    "{why}; the manifest is already at {}",
                                    package.version
                                );
                                (package.version.clone(), Some(effective), reason)
                            }
                        }
                    } else {
                        (computed, Some(effective), why)
                    }
                }
            }
        };
        let (next, reason) = match tagscheme::unreleased(next, &released) {
            (next, Some(note)) => (next, format!("{reason}; {note}")),
            (next, None) => (next, reason),
        };
        let level = levels.get(&name).copied().unwrap_or(0);
        releases.insert(
            name.clone(),
            CrateRelease {
                tag: template_of(&name).render(&name, &next),
                name,
                current_version: package.version.clone(),
                last_release: candidate.last.clone(),
                next_version: next,
                bump: bump_level,
                reason,
                level,
                dir: package.dir.clone(),
                commits: candidate.commits.iter().map(|(c, _)| c.clone()).collect(),
                changelog_path: join(&package.dir, "CHANGELOG.md"),
                changelog: String::new(),
                files: Vec::new(),
                section: None,
            },
        );
    }

    // 4. Dependents, level by level so that cascades are complete.
    let max_level = levels.values().copied().max().unwrap_or(0);
    let root_manifest = relative(workspace, &workspace.root_manifest());
    let mut requirement_files: BTreeMap<String, Vec<FileChange>> = BTreeMap::new();
    for level in 0..=max_level {
        let at_level: Vec<(String, Version)> = releases
            .values()
            .filter(|r| r.level == level)
            .map(|r| (r.name.clone(), r.next_version.clone()))
            .collect();
        for (released, next) in at_level {
            for dependent in &workspace.packages {
                for dep in dependent.member_dependencies.iter().filter(|d| d.name == released) {
                    let Some(requirement) = &dep.requirement else { continue };
                    if requirement.matches(&next) {
                        continue;
                    }
                    let (path, table) = if dep.inherited {
                        (root_manifest.clone(), "[workspace.dependencies]".to_owned())
                    } else {
                        let table = match dep.kind {
                            DependencyKind::Normal => "[dependencies]",
                            DependencyKind::Build => "[build-dependencies]",
                            DependencyKind::Dev => "[dev-dependencies]",
                        };
                        (relative(workspace, &dependent.manifest_path), table.to_owned())
                    };
                    let change = FileChange {
                        path,
                        change: format!(
                            "{table} {released}: requirement `{requirement}` → `{next}`"
                        ),
                        edit: Edit::Requirement {
                            table: table.clone(),
                            dependency: released.clone(),
                            to: next.clone(),
                        },
                    };
                    let files = requirement_files.entry(released.clone()).or_default();
                    if !files.contains(&change) {
                        files.push(change);
                    }
                    if dependent.publish && !releases.contains_key(&dependent.name) {
                        let Some(candidate) =
                            candidates.iter().find(|c| c.package.name == dependent.name)
                        else {
                            continue;
                        };
                        let (next_dependent, bump_level) = match &candidate.last {
                            Some(last) => {
                                (bump::apply(&last.version, Level::Patch), Some(Level::Patch))
                            }
                            None => (dependent.version.clone(), None),
                        };
                        let next_dependent = tagscheme::unreleased(
                            next_dependent,
                            &released_versions(&dependent.name),
                        )
                        .0;
                        releases.insert(
                            dependent.name.clone(),
                            CrateRelease {
                                tag: template_of(&dependent.name)
                                    .render(&dependent.name, &next_dependent),
                                name: dependent.name.clone(),
                                current_version: dependent.version.clone(),
                                last_release: candidate.last.clone(),
                                next_version: next_dependent,
                                bump: bump_level,
                                reason: format!("its requirement on {released} is updated"),
                                level: levels.get(&dependent.name).copied().unwrap_or(0),
                                dir: dependent.dir.clone(),
                                commits: Vec::new(),
                                changelog_path: join(&dependent.dir, "CHANGELOG.md"),
                                changelog: String::new(),
                                files: Vec::new(),
                                section: None,
                            },
                        );
                        unchanged.retain(|u| u.name != dependent.name);
                    }
                }
            }
        }
    }

    // --crate: keep only the chosen releases.
    if !options.only.is_empty() {
        let dropped: Vec<String> =
            releases.keys().filter(|n| !options.only.contains(n)).cloned().collect();
        for name in dropped {
            if let Some(release) = releases.remove(&name) {
                unchanged.push(UnchangedCrate {
                    name,
                    version: release.current_version,
                    reason: format!("not selected (would be {})", release.next_version),
                });
            }
        }
    }

    // 5. Manifest versions, changelogs, files.
    let inheriting: Vec<&Package> =
        workspace.packages.iter().filter(|p| p.version_inherited).collect();
    let shared_next: Option<Version> = {
        let nexts: BTreeSet<Option<&Version>> =
            inheriting.iter().map(|p| releases.get(&p.name).map(|r| &r.next_version)).collect();
        match nexts.into_iter().collect::<Vec<_>>().as_slice() {
            [Some(next)] => Some((*next).clone()),
            _ => None,
        }
    };
    let mut entries_by_crate: BTreeMap<String, Vec<Entry>> = BTreeMap::new();
    for candidate in &candidates {
        let entries = crate_entries(
            &mut pulls,
            workspace,
            candidate.package,
            &candidate.commits,
            &options.changes,
        );
        entries_by_crate.insert(candidate.package.name.clone(), entries);
    }
    for release in releases.values_mut() {
        let Some(package) = workspace.package(&release.name) else { continue };
        let manifest = relative(workspace, &package.manifest_path);
        if release.next_version != package.version {
            if !package.version_inherited {
                release.files.push(FileChange {
                    path: manifest,
                    change: format!(
                        "[package] version `{}` → `{}`",
                        package.version, release.next_version
                    ),
                    edit: Edit::PackageVersion { to: release.next_version.clone() },
                });
            } else if shared_next.as_ref() == Some(&release.next_version) {
                release.files.push(FileChange {
                    path: root_manifest.clone(),
                    change: format!(
                        "[workspace.package] version `{}` → `{}`",
                        package.version, release.next_version
                    ),
                    edit: Edit::WorkspaceVersion { to: release.next_version.clone() },
                });
            } else {
                release.files.push(FileChange {
                    path: manifest,
                    change: format!(
                        "[package] `version.workspace = true` → `version = \"{}\"`",
                        release.next_version
                    ),
                    edit: Edit::OwnVersion { to: release.next_version.clone() },
                });
            }
        }
        release.files.extend(requirement_files.get(&release.name).cloned().unwrap_or_default());
        let section = Section {
            version: release.next_version.clone(),
            date: options.date,
            entries: entries_by_crate.get(&release.name).cloned().unwrap_or_default(),
            first_release: release.last_release.is_none(),
            msrv: package.rust_version.clone(),
        };
        let changelog_file = workspace.root.join(&release.changelog_path);
        let version = release.next_version.clone();
        let existing = std::fs::read_to_string(&changelog_file).ok();
        let updated = existing.as_deref().map(|text| changelog::update(Some(text), &section));
        // The section as `--execute` writes it: with the hand-written lines it moves out of
        // `[Unreleased]` and, for a final release, its candidates' entries.
        release.changelog = updated
            .as_deref()
            .and_then(|text| changelog::section_text(text, &version))
            .unwrap_or_else(|| section.render());
        let (action, change) = match existing.as_deref() {
            Some(text) if !changelog::candidate_sections(text, &version).is_empty() => {
                let names: Vec<String> = changelog::candidate_sections(text, &version)
                    .iter()
                    .map(ToString::to_string)
                    .collect();
                (
                    ChangelogAction::Fold,
                    format!("fold the {} section(s) into the {version} section", names.join(", ")),
                )
            }
            Some(text) if text.lines().any(|l| changelog_heading_of(l, &version)) => {
                if updated.as_deref() == Some(text) {
                    (ChangelogAction::UpToDate, format!("section {version} is up to date"))
                } else {
                    (
                        ChangelogAction::Merge,
                        format!("merge new entries into the existing {version} section"),
                    )
                }
            }
            Some(_) => (ChangelogAction::Insert, format!("insert the {version} section")),
            None => (ChangelogAction::Create, format!("create, with the {version} section")),
        };
        // Entries and prose, not the `### Group` headings they sit under.
        let moved = existing.as_deref().map_or(0, |text| {
            changelog::unreleased_lines(text).iter().filter(|l| !l.starts_with('#')).count()
        });
        let change = match moved {
            0 => change,
            n => format!("{change}, moving the {n} line(s) written under [Unreleased] into it"),
        };
        release.files.push(FileChange {
            path: release.changelog_path.clone(),
            change,
            edit: Edit::Changelog { action, version },
        });
        release.section = Some(section);
        // A release made on another branch (a maintenance branch) leaves this manifest behind
        // by design; only a release in HEAD's history says the manifest was not bumped.
        let in_history = |tag: &str| {
            tag_commit(tag)
                .and_then(|c| gix::ObjectId::from_hex(c.as_bytes()).ok())
                .is_some_and(|id| walk.head_reached.contains(&id))
        };
        if let Some(last) = release
            .last_release
            .as_ref()
            .filter(|l| l.version > package.version && in_history(&l.tag))
        {
            warnings.push(format!(
                "{}: the manifest says {} but tag {} released {}",
                release.name, package.version, last.tag, last.version
            ));
        }
        if tag_names.contains(release.tag.as_str()) {
            warnings.push(format!("tag {} already exists", release.tag));
        }
        for dep in &package.member_dependencies {
            if dep.kind != DependencyKind::Dev
                && workspace.package(&dep.name).is_some_and(|d| !d.publish)
            {
                warnings.push(format!(
                    "{} depends on {}, which has `publish = false`",
                    release.name, dep.name
                ));
            }
        }
    }

    // Commits folded into a pull request's entry are grouped by its title (the notes say how);
    // those a commit parser grouped or skipped went where the configuration said.
    let (default_group, where_listed) = match options.changes.filter_unconventional {
        true => (
            None,
            "they make no changelog entry (git-cliff's `filter_unconventional`) but bump patch",
        ),
        false => (Some(Group::Changed), "they are listed under Changed and bump patch"),
    };
    let non_conventional: BTreeSet<&str> = releases
        .values()
        .flat_map(|r| r.commits.iter())
        .filter(|c| !c.conventional && !c.merge && !pulls.folds(&c.id))
        .filter(|c| c.group == default_group)
        .map(|c| c.id.as_str())
        .collect();
    if !non_conventional.is_empty() {
        warnings.push(format!(
            "{} released commit(s) (merges not counted) do not follow Conventional Commits: \
             {where_listed}",
            non_conventional.len()
        ));
    }
    let mut releases: Vec<CrateRelease> = releases.into_values().collect();
    releases.sort_by(|a, b| (a.level, &a.name).cmp(&(b.level, &b.name)));
    unchanged.sort_by(|a, b| a.name.cmp(&b.name));
    // Inferred unprefixed schemes can give two crates one tag name, which git cannot hold.
    let mut by_tag: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for release in &releases {
        by_tag.entry(&release.tag).or_default().push(&release.name);
    }
    for (tag, names) in by_tag.into_iter().filter(|(_, names)| names.len() > 1) {
        warnings.push(format!(
            "{} would all be tagged {tag}, and a tag marks one release: pass \
             --tag-template '{{crate}}-v{{version}}'",
            names.join(", ")
        ));
    }
    let mut files: Vec<FileChange> =
        releases.iter().flat_map(|r| r.files.iter().cloned()).collect();
    files.sort();
    files.dedup();
    warnings.dedup();
    Ok(ReleasePlan {
        workspace_root: workspace.root.display().to_string(),
        date: options.date,
        head,
        tag_template: template.clone(),
        tag_scheme_inferred: options.tag_template.is_none(),
        stats: Stats {
            commits_visited: walk.visited,
            commits_unreleased: walk.commits.len(),
            truncated: walk.truncated,
        },
        releases,
        unchanged,
        unattributed,
        no_effect,
        already_released,
        files,
        warnings,
        notes: pulls.notes(),
    })
}

/// A release tag of one crate: name, commit, the crate its name gives, version.
pub(crate) type CrateTag<'t> = (&'t str, &'t str, Option<String>, Version);

/// The release tags of crate `name` among `tags` (see [`crate::tagscheme`]): tags of the
/// given template rendered for the crate, `name-…` tags, and the unprefixed tags `owners`
/// gives it.
pub(crate) fn crate_tags<'t>(
    tags: &'t [crate::history::TagRef],
    template: Option<&TagTemplate>,
    name: &str,
    owners: &Owners,
) -> Vec<CrateTag<'t>> {
    tags.iter()
        .filter_map(|t| {
            if let Some(version) = template
                .filter(|t| t.as_str().contains("{crate}"))
                .and_then(|template| template.version_of(name, &t.name))
            {
                return Some((t.name.as_str(), t.commit.as_str(), Some(name.to_owned()), version));
            }
            let parsed = ReleaseTag::parse(&t.name)?;
            let mine = match &parsed.crate_name {
                Some(crate_name) => crate_name == name,
                None => owners.owns(name, &t.name),
            };
            mine.then_some((t.name.as_str(), t.commit.as_str(), parsed.crate_name, parsed.version))
        })
        .collect()
}

/// The folders of the members nested in `dir`, relative to it.
pub(crate) fn nested_members(workspace: &Workspace, dir: &str) -> Vec<String> {
    workspace
        .packages
        .iter()
        .filter_map(|p| {
            if dir.is_empty() {
                (!p.dir.is_empty()).then(|| p.dir.clone())
            } else {
                p.dir.strip_prefix(dir)?.strip_prefix('/').map(str::to_owned)
            }
        })
        .collect()
}

fn changelog_heading_of(line: &str, version: &Version) -> bool {
    let version = version.to_string();
    let Some(rest) = line.strip_prefix("## ") else { return false };
    let rest = rest.trim_start().strip_prefix('[').unwrap_or(rest);
    rest.strip_prefix(version.as_str())
        .is_some_and(|after| after.is_empty() || after.starts_with([']', ' ']))
}

fn describe_inference(
    commits: &[(CommitSummary, Message)],
    level: Level,
    effective: Level,
) -> String {
    let count = |l: Level| commits.iter().filter(|(c, _)| c.level == l).count();
    let cause = match level {
        Level::Major => format!("{} breaking change(s)", count(Level::Major)),
        Level::Minor => format!("{} feature(s)", count(Level::Minor)),
        Level::Patch => format!("{} commit(s), no feature or breaking change", count(Level::Patch)),
    };
    if effective == level { cause } else { format!("{cause}; {effective} below 1.0.0") }
}

impl ReleasePlan {
    /// The plan as pretty-printed JSON.
    pub fn to_json(&self) -> String {
        // Serialising plain data with string keys cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// The plan for people: a table of releases, then per-crate details, unattributed commits
    /// and warnings.
    pub fn to_human(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "Release plan (dry run) for {}", self.workspace_root);
        let head = self.head.as_deref().map_or("no commits", |h| &h[..h.len().min(12)]);
        let tags = match self.tag_scheme_inferred {
            true => format!(
                "tag scheme of each crate's newest tag ({} without one)",
                self.tag_template.as_str()
            ),
            false => format!("tag template {}", self.tag_template.as_str()),
        };
        let _ = writeln!(
            out,
            "date {}, HEAD {head}, {tags}, {} commit(s) read, {} unreleased",
            self.date, self.stats.commits_visited, self.stats.commits_unreleased
        );
        out.push('\n');
        if self.releases.is_empty() {
            out.push_str("Nothing to release.\n");
        } else {
            let header = ["level", "crate", "current", "next", "bump", "tag", "commits", "reason"];
            let rows: Vec<[String; 8]> = self
                .releases
                .iter()
                .map(|r| {
                    [
                        r.level.to_string(),
                        r.name.clone(),
                        r.last_release.as_ref().map_or_else(
                            // A final release plan does not count pre-release tags as
                            // releases; the manifest's pre-release may have one.
                            || match r.current_version.pre.is_empty() {
                                true => format!("{} (unreleased)", r.current_version),
                                false => format!("{} (no final release)", r.current_version),
                            },
                            |l| l.version.to_string(),
                        ),
                        r.next_version.to_string(),
                        r.bump.map_or_else(|| "-".to_owned(), |b| b.to_string()),
                        r.tag.clone(),
                        r.commits.len().to_string(),
                        r.reason.clone(),
                    ]
                })
                .collect();
            let mut widths = header.map(str::len);
            for row in &rows {
                for (width, cell) in widths.iter_mut().zip(row) {
                    *width = (*width).max(cell.chars().count());
                }
            }
            let line = |cells: Vec<&str>| {
                let mut text = String::new();
                for (index, (cell, width)) in cells.iter().zip(widths).enumerate() {
                    if index + 1 == cells.len() {
                        text.push_str(cell);
                    } else {
                        let _ = write!(text, "{cell:<width$}  ");
                    }
                }
                text.trim_end().to_owned() + "\n"
            };
            out.push_str(&line(header.to_vec()));
            for row in &rows {
                out.push_str(&line(row.iter().map(String::as_str).collect()));
            }
        }
        for release in &self.releases {
            let _ = writeln!(
                out,
                "\n== {} {} → {} (tag {}) ==",
                release.name, release.current_version, release.next_version, release.tag
            );
            out.push_str("files:\n");
            for file in &release.files {
                let _ = writeln!(out, "  {}: {}", file.path, file.change);
            }
            if !release.commits.is_empty() {
                out.push_str("commits:\n");
                for commit in &release.commits {
                    let flag = if commit.conventional { "" } else { " [non-conventional]" };
                    let _ = writeln!(
                        out,
                        "  {} {}{flag} (via {})",
                        commit.short_id,
                        commit.summary,
                        commit.via.join("+")
                    );
                }
            }
            let _ = writeln!(out, "changelog ({}):", release.changelog_path);
            for text in release.changelog.lines() {
                if text.is_empty() {
                    out.push('\n');
                } else {
                    let _ = writeln!(out, "  {text}");
                }
            }
        }
        if !self.unchanged.is_empty() {
            out.push_str("\nNot released:\n");
            for crate_ in &self.unchanged {
                let _ = writeln!(out, "  {} {}: {}", crate_.name, crate_.version, crate_.reason);
            }
        }
        if !self.already_released.is_empty() {
            let _ = writeln!(
                out,
                "\nAlready released on another branch ({}), not in the new sections:",
                self.already_released.len()
            );
            for c in &self.already_released {
                let _ = writeln!(
                    out,
                    "  {} {}: {} already released in {} ({}, as {})",
                    c.short_id,
                    c.summary,
                    c.crate_name,
                    c.version,
                    c.tag,
                    &c.released_as[..c.released_as.len().min(7)]
                );
            }
        }
        if !self.no_effect.is_empty() {
            let mut by_commit: Vec<(&str, &str, Vec<&str>)> = Vec::new();
            for c in &self.no_effect {
                match by_commit.iter_mut().find(|(id, _, _)| *id == c.short_id) {
                    Some((_, _, crates)) => crates.push(&c.crate_name),
                    None => by_commit.push((&c.short_id, &c.summary, vec![&c.crate_name])),
                }
            }
            let _ = writeln!(
                out,
                "\nCommits without net effect on the packaged files ({}), no entry:",
                by_commit.len()
            );
            for (id, summary, crates) in by_commit {
                let _ = writeln!(out, "  {id} {summary} [{}]", crates.join(", "));
            }
        }
        if !self.unattributed.is_empty() {
            let _ = writeln!(
                out,
                "\nCommits not attributed to any published crate ({}):",
                self.unattributed.len()
            );
            for commit in &self.unattributed {
                let _ = writeln!(
                    out,
                    "  {} {} [{}]",
                    commit.short_id,
                    commit.summary,
                    commit.paths.join(", ")
                );
            }
        }
        if !self.warnings.is_empty() {
            out.push_str("\nWarnings:\n");
            for warning in &self.warnings {
                let _ = writeln!(out, "  - {warning}");
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
}
