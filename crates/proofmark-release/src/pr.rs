//! Changelog entries for repositories that merge pull requests and do not write Conventional
//! Commits: one entry per pull request, its title linked to it, its commits folded under it.
//!
//! # Which commits are pull requests
//!
//! - A **merge** whose first line is `Merge pull request #N from owner/branch` (GitHub's
//!   merge commit). The title is the first non-empty line after the first (GitHub puts the
//!   pull request's title there); without one, the branch name.
//! - A **squash merge**: a commit with one parent whose first line ends in `(#N)`. The title
//!   is the first line without ` (#N)`; the rest of the message (a `BREAKING CHANGE:`
//!   footer, for instance) is kept.
//!
//! # Folding
//!
//! The commits a merge brought in are those reachable from its second parent and not from
//! the main line before it. They are found in one pass over the walked commits: the main
//! line is `HEAD`'s first-parent chain, and its merges, oldest first, claim every commit
//! reachable from their other parents that no older merge claimed. A commit brought in by
//! a pull request merge that is itself attributed to the crate makes no entry of its own;
//! it is listed, oldest first, under the pull request's entry.
//!
//! # Groups
//!
//! A pull request's group comes from, in order: a git-cliff `commit_parsers` rule matching
//! its title ([`crate::compat`]); a Conventional Commits prefix of the title (`fix: …` →
//! Fixed, `feat: …` → Added, `chore: …` → no entry, as for commits); else the first word of
//! the title ([`verb_group`]): `Fix`, `Fixes`, `Fixed`, `Correct`, `Resolve`, `Repair`, … →
//! Fixed; `Add`, `Adds`, `Added`, `Implement`, `Introduce`, `Support`, … → Added; `Remove`,
//! `Delete`, `Drop`, … → Removed; `Deprecate`, … → Deprecated; else, when folded commits are
//! conventional, the first of Added, Removed, Deprecated, Security, Fixed, Changed among
//! their groups (a repository that writes Conventional Commits but merges pull requests);
//! anything else → Changed.
//! The plan's notes say how many entries were grouped which way. The entry is
//! `[**BREAKING**: ]title ([#N](URL/pull/N), abcdef1)` — the link needs the crate
//! manifest's `repository` — marked breaking when the title has a `!` or a folded commit is
//! breaking. The bump is inferred from the commits as before (a non-conventional commit
//! bumps patch): raise it with `--bump NAME=LEVEL`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;

use crate::changelog::{Entry, Group};
use crate::config::ChangeRules;
use crate::conventional::Message;
use crate::history::CommitRecord;
use crate::plan::{CommitSummary, entry_text, group_of};
use crate::workspace::{Package, Workspace};

/// A pull request found in a commit message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PullRequest {
    /// The pull request number.
    pub number: u64,
    /// Its title.
    pub title: String,
    /// The title parsed as a message (with the squash commit's body and footers).
    pub message: Message,
    /// Whether it is a merge commit (else a squash merge).
    pub merge: bool,
}

impl PullRequest {
    /// The pull request a commit message names, if it is a pull request merge or a squash
    /// merge (`is_merge`: the commit has more than one parent).
    pub fn detect(raw: &str, is_merge: bool) -> Option<Self> {
        // Called for every walked commit: rule most out before allocating.
        let first = raw.lines().next().unwrap_or_default().trim_end();
        if is_merge && !first.starts_with("Merge pull request #") {
            return None;
        }
        if !is_merge && !first.ends_with(')') {
            return None;
        }
        let raw = raw.replace("\r\n", "\n");
        let (first, rest) = raw.split_once('\n').unwrap_or((raw.as_str(), ""));
        let first = first.trim();
        if is_merge {
            let after = first.strip_prefix("Merge pull request #")?;
            let (number, from) = after.split_once(' ').unwrap_or((after, ""));
            let number = number.parse().ok()?;
            let branch = from.trim().strip_prefix("from ").unwrap_or(from).trim();
            let title =
                rest.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or(branch).to_owned();
            return Some(Self { number, message: Message::parse(&title), title, merge: true });
        }
        let open = first.strip_suffix(')')?.rfind("(#")?;
        let number = first[open + 2..first.len() - 1].parse().ok()?;
        let title = first[..open].trim_end().to_owned();
        if title.is_empty() {
            return None;
        }
        let message = Message::parse(&format!("{title}\n{rest}"));
        Some(Self { number, title, message, merge: false })
    }
}

/// The group a plain title's first word gives (see the module documentation); `None`:
/// Changed.
pub fn verb_group(title: &str) -> Option<Group> {
    let word = title.split_whitespace().next()?;
    let word = word.trim_end_matches([':', ',', '.', ';']).to_lowercase();
    let group = match word.as_str() {
        "fix" | "fixes" | "fixed" | "fixing" | "bugfix" | "hotfix" | "correct" | "corrects"
        | "corrected" | "resolve" | "resolves" | "resolved" | "repair" | "repairs" | "repaired" => {
            Group::Fixed
        }
        "add" | "adds" | "added" | "adding" | "implement" | "implements" | "implemented"
        | "introduce" | "introduces" | "introduced" | "support" | "supports" => Group::Added,
        "remove" | "removes" | "removed" | "removing" | "delete" | "deletes" | "deleted"
        | "drop" | "drops" | "dropped" => Group::Removed,
        "deprecate" | "deprecates" | "deprecated" => Group::Deprecated,
        _ => return None,
    };
    Some(group)
}

/// The group of a pull request whose title says nothing, from its conventional commits: the
/// first of Added, Removed, Deprecated, Security, Fixed, Changed among their groups.
fn commits_group(inside: &[&(CommitSummary, Message)]) -> Option<Group> {
    let groups: Vec<Group> =
        inside.iter().filter(|(s, _)| s.conventional).filter_map(|(s, _)| s.group).collect();
    [Group::Added, Group::Removed, Group::Deprecated, Group::Security, Group::Fixed, Group::Changed]
        .into_iter()
        .find(|g| groups.contains(g))
}

/// How a pull request entry got its group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum How {
    Parser,
    Prefix,
    Verb(Group),
    Commits,
    Rest,
    /// A prefix (`chore: …`) or a parser's `skip` left it out.
    Left,
}

/// The pull requests of a walk and which commits each merge brought in.
#[derive(Debug, Default)]
pub struct PullRequests {
    /// Commit id → its pull request.
    prs: HashMap<String, PullRequest>,
    /// Commit id → the main-line merge that brought it in.
    owner: HashMap<String, String>,
    /// Pull request commit id → how its entry was grouped (every crate counts it once).
    classified: BTreeMap<String, How>,
}

impl PullRequests {
    /// Finds the pull requests among the walked commits (newest first) and folds the
    /// commits of each merge.
    pub fn new(records: &[CommitRecord]) -> Self {
        let mut prs = HashMap::new();
        for record in records {
            if let Some(pr) = PullRequest::detect(&record.message, record.parents.len() > 1) {
                prs.insert(record.id.clone(), pr);
            }
        }
        if prs.is_empty() {
            return Self::default();
        }
        let index: HashMap<&str, usize> =
            records.iter().enumerate().map(|(i, r)| (r.id.as_str(), i)).collect();
        let parents: HashSet<&str> =
            records.iter().flat_map(|r| r.parents.iter().map(String::as_str)).collect();
        let mut main = Vec::new();
        let mut next = records.iter().find(|r| !parents.contains(r.id.as_str()));
        while let Some(record) = next {
            main.push(record);
            next = record.parents.first().and_then(|p| index.get(p.as_str())).map(|&i| &records[i]);
        }
        let on_main: HashSet<&str> = main.iter().map(|r| r.id.as_str()).collect();
        let mut owner: HashMap<String, String> = HashMap::new();
        for merge in main.iter().rev().filter(|r| r.parents.len() > 1) {
            let mut stack: Vec<&str> = merge.parents[1..].iter().map(String::as_str).collect();
            while let Some(id) = stack.pop() {
                if on_main.contains(id) || owner.contains_key(id) {
                    continue;
                }
                let Some(&i) = index.get(id) else { continue };
                owner.insert(id.to_owned(), merge.id.clone());
                stack.extend(records[i].parents.iter().map(String::as_str));
            }
        }
        Self { prs, owner, classified: BTreeMap::new() }
    }

    /// Whether the walk has no pull request.
    pub fn is_empty(&self) -> bool {
        self.prs.is_empty()
    }

    /// Whether `commit` is a pull request's merge or squash commit, or one of the commits a
    /// merge brought in: its changelog entry is the pull request's.
    pub fn folds(&self, commit: &str) -> bool {
        self.prs.contains_key(commit) || self.owner.contains_key(commit)
    }

    /// The changelog entries of one crate's commits (newest first): pull requests as single
    /// entries with their commits folded, other commits as before.
    pub fn entries(
        &mut self,
        commits: &[(CommitSummary, Message)],
        crate_name: &str,
        repository: Option<&str>,
        changes: &ChangeRules,
    ) -> Vec<Entry> {
        let default = |summary: &CommitSummary, message: &Message| {
            Some(Entry {
                group: summary.group?,
                text: entry_text(message, crate_name, &summary.short_id),
                key: summary.short_id.clone(),
            })
        };
        if self.prs.is_empty() {
            return commits.iter().filter_map(|(s, m)| default(s, m)).collect();
        }
        let in_crate: HashSet<&str> = commits.iter().map(|(s, _)| s.id.as_str()).collect();
        let folded_into = |id: &str| {
            self.owner
                .get(id)
                .filter(|o| self.prs.get(*o).is_some_and(|pr| pr.merge))
                .filter(|o| in_crate.contains(o.as_str()))
                .cloned()
        };
        let mut folded: HashMap<String, Vec<&(CommitSummary, Message)>> = HashMap::new();
        for commit in commits.iter().rev() {
            if let Some(owner) = folded_into(&commit.0.id) {
                folded.entry(owner).or_default().push(commit);
            }
        }
        let mut entries = Vec::new();
        for (summary, message) in commits {
            if folded_into(&summary.id).is_some() {
                continue;
            }
            let Some(pr) = self.prs.get(&summary.id) else {
                entries.extend(default(summary, message));
                continue;
            };
            let inside = folded.get(&summary.id).map(Vec::as_slice).unwrap_or_default();
            let conventional = pr.message.conventional.is_some();
            let (group, how) =
                match changes.classify_or_filter(&summary.id, &pr.title, conventional) {
                    Some(group) => (group, How::Parser),
                    None if conventional => (group_of(&pr.message, false), How::Prefix),
                    None => match verb_group(&pr.title) {
                        Some(group) => (Some(group), How::Verb(group)),
                        None => match commits_group(inside) {
                            Some(group) => (Some(group), How::Commits),
                            None => (Some(Group::Changed), How::Rest),
                        },
                    },
                };
            let Some(group) = group else {
                self.classified.insert(summary.id.clone(), How::Left);
                continue;
            };
            self.classified.insert(summary.id.clone(), how);
            let link = match repository {
                Some(url) => format!("[#{}]({url}/pull/{})", pr.number, pr.number),
                None => format!("#{}", pr.number),
            };
            let mut text =
                entry_text(&pr.message, crate_name, &format!("{link}, {}", summary.short_id));
            let breaking = inside.iter().any(|(s, _)| s.breaking);
            if breaking && !pr.message.is_breaking() {
                text.insert_str(0, "**BREAKING**: ");
            }
            for (sub, sub_message) in inside.iter().filter(|(s, _)| !s.merge) {
                let _ = write!(text, "\n- {} ({})", sub_message.summary, sub.short_id);
            }
            entries.push(Entry { group, text, key: summary.short_id.clone() });
        }
        entries
    }

    /// What the plan says about how pull request entries were grouped; empty without pull
    /// requests.
    pub fn notes(&self) -> Vec<String> {
        if self.classified.is_empty() {
            return Vec::new();
        }
        let count = |f: &dyn Fn(&How) -> bool| self.classified.values().filter(|h| f(h)).count();
        let mut parts = Vec::new();
        let parser = count(&|h| *h == How::Parser);
        if parser > 0 {
            parts.push(format!("{parser} by a commit_parsers rule"));
        }
        let prefix = count(&|h| *h == How::Prefix);
        if prefix > 0 {
            parts.push(format!("{prefix} by a Conventional Commits prefix"));
        }
        for group in Group::ALL {
            let n = count(&|h| *h == How::Verb(group));
            if n > 0 {
                parts.push(format!("{n} as {} by the title's first word", group.title()));
            }
        }
        let commits = count(&|h| *h == How::Commits);
        if commits > 0 {
            parts.push(format!("{commits} by the Conventional Commits types of their commits"));
        }
        let rest = count(&|h| *h == How::Rest);
        if rest > 0 {
            parts.push(format!("{rest} as Changed (no prefix, no known first word)"));
        }
        let left = count(&|h| *h == How::Left);
        if left > 0 {
            parts.push(format!("{left} left out (a `chore`-like prefix or a skip rule)"));
        }
        vec![
            format!(
                "{} pull request(s), one entry each with its commits folded: {}",
                self.classified.len(),
                parts.join(", ")
            ),
            "pull request titles do not change the bump (a non-conventional commit bumps patch): \
             use --bump NAME=minor|major when a pull request adds a feature or breaks the API"
                .to_owned(),
        ]
    }
}

/// The `repository` URL of a crate's manifest (inherited from `[workspace.package]` when
/// `repository.workspace = true`), without a trailing `/` or `.git`; `None` when it is not
/// an http(s) URL.
pub fn repository_url(workspace: &Workspace, package: &Package) -> Option<String> {
    let read = |path: &std::path::Path| {
        std::fs::read_to_string(path).ok().and_then(|t| toml::from_str::<toml::Table>(&t).ok())
    };
    let manifest = read(&package.manifest_path)?;
    let value = manifest.get("package")?.get("repository")?;
    let url = match value.as_str() {
        Some(url) => url.to_owned(),
        None => {
            let root = read(&workspace.root_manifest())?;
            root.get("workspace")?.get("package")?.get("repository")?.as_str()?.to_owned()
        }
    };
    let url = url.trim().trim_end_matches('/');
    let url = url.strip_suffix(".git").unwrap_or(url);
    (url.starts_with("https://") || url.starts_with("http://")).then(|| url.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A message, whether it is a merge, and the (number, title, merge) found.
    type Case = (&'static str, bool, Option<(u64, &'static str, bool)>);

    #[test]
    fn detects_pull_requests() {
        let cases: &[Case] = &[
            (
                "Merge pull request #651 from ionut/fix\n\nFix the parser",
                true,
                Some((651, "Fix the parser", true)),
            ),
            ("Merge pull request #7 from a/b", true, Some((7, "a/b", true))),
            ("Merge pull request #7 from a/b", false, None),
            ("Merge branch 'main' into topic", true, None),
            ("Add sealing (#12)", false, Some((12, "Add sealing", false))),
            (
                "fix(tpm): retry (#13)\n\nBREAKING CHANGE: x",
                false,
                Some((13, "fix(tpm): retry", false)),
            ),
            ("Add sealing (#12)", true, None),
            ("Add sealing (see #12)", false, None),
            ("(#12)", false, None),
        ];
        for (raw, merge, expected) in cases {
            let got =
                PullRequest::detect(raw, *merge).map(|p| (p.number, p.title.clone(), p.merge));
            let expected = expected.map(|(n, t, m)| (n, t.to_owned(), m));
            assert_eq!(got, expected, "{raw:?}");
        }
        let squash = PullRequest::detect("fix(tpm)!: retry (#13)", false);
        assert!(squash.is_some_and(|p| p.message.is_breaking()));
    }

    #[test]
    fn groups_by_first_word() {
        for (title, group) in [
            ("Fix clippy warnings", Some(Group::Fixed)),
            ("Fixed: the thing", Some(Group::Fixed)),
            ("Add a TPM provider", Some(Group::Added)),
            ("Implement sealing", Some(Group::Added)),
            ("Remove the old API", Some(Group::Removed)),
            ("Deprecate v1", Some(Group::Deprecated)),
            ("Update dependencies", None),
            ("Prefix fixes", None),
            ("", None),
        ] {
            assert_eq!(verb_group(title), group, "{title}");
        }
    }
}
