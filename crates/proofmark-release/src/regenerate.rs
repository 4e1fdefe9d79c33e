//! Whole-history changelogs: every release section of every crate, rebuilt from the tags.
//!
//! For adopting proofmark in a repository that has release tags but no changelog, or whose
//! changelog was written after the tags (Parsec's), [`regenerate`] renders each published
//! crate's complete `CHANGELOG.md`: `[Unreleased]`, then one section per release tag, newest
//! first, dated by the tagged commit.
//!
//! One walk reads every commit reachable from `HEAD` once and attributes it to crates by
//! subtree ids, scopes and `Crate:` trailers, exactly as the release plan does (see
//! [`crate::history`]). A commit belongs to the *oldest* release of the crate whose tag
//! contains it — what `git tag --contains` would answer, for all commits and crates at once:
//! a commit's release is the oldest among its own tags and its children's releases, so one
//! pass over the commits in topological order (children first) settles it.
//!
//! Each section then gets the entries the release plan of that version would have written:
//! the plan's own rules run on it, through the same code (`skip::filter`,
//! [`crate::pr`]), with the crate's releases of lower versions as "the releases before":
//!
//! - a commit without net effect on the crate's packaged files ([`crate::content`]; for a
//!   merge, everything it changed is as in the newest final or newest release before the
//!   section's) makes no entry; such commits are listed in [`Regenerated::no_effect`];
//! - a commit whose patch-id equals that of a commit in a release of a lower version that is
//!   not in `HEAD`'s history (a maintenance branch's cherry-pick, [`crate::cherry`]) makes no
//!   entry; listed in [`Regenerated::already_released`];
//! - in a repository that merges pull requests, a pull request makes one entry, its title
//!   linked to it, with its commits folded under it ([`crate::pr`]).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::changelog::{self, Entry, NEW_FILE_HEADER, Section};
use crate::conventional::Message;
use crate::date::Date;
use crate::error::Result;
use crate::history::{Repo, WalkCrate};
use crate::plan::{self, CommitSummary, PlanOptions};
use crate::pr::PullRequests;
use crate::skip::{self, AlreadyReleased, CrateCommits, NoEffect};
use crate::workspace::{Package, Workspace};

/// One crate's regenerated changelog.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CrateChangelog {
    /// The crate.
    pub name: String,
    /// The changelog file, relative to the workspace root.
    pub path: String,
    /// The whole file.
    pub text: String,
    /// Release sections written.
    pub releases: usize,
    /// Entries written (unreleased ones included).
    pub entries: usize,
}

/// What [`regenerate`] read and wrote.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Regenerated {
    /// Commits read.
    pub commits: usize,
    /// One changelog per published crate, in workspace order.
    pub crates: Vec<CrateChangelog>,
    /// Problems that did not stop the work (tags not reachable from `HEAD`, a shallow clone).
    pub warnings: Vec<String>,
    /// Attributed commits without net effect on their crate's packaged files (no entry).
    pub no_effect: Vec<NoEffect>,
    /// Attributed commits whose patch an earlier release of the crate holds (no entry).
    pub already_released: Vec<AlreadyReleased>,
    /// How pull request entries were grouped, as in the plan's notes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// Renders the complete changelog of every published crate of `workspace` from `repo`'s
/// history. `options.date` is not used (sections are dated by their tags); `options.only`
/// limits the crates. Reads only.
pub fn regenerate(
    workspace: &Workspace,
    repo: &Repo,
    options: &PlanOptions,
) -> Result<Regenerated> {
    let published: Vec<&Package> = workspace
        .published()
        .filter(|p| options.only.is_empty() || options.only.contains(&p.name))
        .collect();
    let mut tags = repo.tags()?;
    tags.retain(|t| options.changes.keeps_tag(&t.name));
    let owners = crate::tagscheme::Owners::read(repo, workspace, &tags)?;
    let walk_crates: Vec<WalkCrate> = published
        .iter()
        .map(|p| WalkCrate {
            dir: p.dir.clone(),
            released_at: Vec::new(),
            exclude: plan::nested_members(workspace, &p.dir),
        })
        .collect();
    let packaged: Vec<crate::content::Packaged> =
        published.iter().map(|p| crate::content::Packaged::new(repo.prefix(), p)).collect();
    let walk = repo.walk_with(&walk_crates, &packaged)?;
    let mut warnings = Vec::new();
    if walk.truncated {
        warnings.push(
            "the history is shallow: older releases are incomplete; fetch the full history"
                .to_owned(),
        );
    }

    // The commit graph as indexes (newest first, as walked).
    let position: HashMap<&str, usize> =
        walk.commits.iter().enumerate().map(|(i, c)| (c.id.as_str(), i)).collect();
    let parents: Vec<Vec<usize>> = walk
        .commits
        .iter()
        .map(|c| c.parents.iter().filter_map(|p| position.get(p.as_str()).copied()).collect())
        .collect();
    let messages: Vec<Message> = walk.commits.iter().map(|c| Message::parse(&c.message)).collect();
    let trailers: Vec<_> = messages.iter().map(plan::trailer_crates).collect();

    // Per crate: the rank (oldest version first) of the oldest release containing each
    // commit, `u32::MAX` for none. A commit is contained in every release whose tag reaches
    // it, so its rank is the least rank among its own tags and its children's ranks: one pass
    // in topological order (children first) settles every crate at once.
    let crates = published.len();
    let mut labels = vec![u32::MAX; walk.commits.len() * crates];
    let mut dated_by_crate = Vec::with_capacity(crates);
    let mut releases_by_crate = Vec::with_capacity(crates);
    for (k, package) in published.iter().enumerate() {
        let mut releases =
            plan::crate_tags(&tags, options.tag_template.as_ref(), &package.name, &owners);
        releases.sort_by(|a, b| a.3.cmp(&b.3).then_with(|| a.0.cmp(b.0)));
        let mut dated = Vec::with_capacity(releases.len());
        for (rank, (tag, commit, _, version)) in releases.iter().enumerate() {
            let Some(&at) = position.get(commit) else {
                warnings.push(format!("{}: tag {tag} is not reachable from HEAD", package.name));
                continue;
            };
            let seconds = u64::try_from(walk.commits[at].time).unwrap_or(0);
            dated.push((rank, version.clone(), Date::from_unix_seconds(seconds)));
            let rank = u32::try_from(rank).unwrap_or(u32::MAX - 1);
            let slot = &mut labels[at * crates + k];
            *slot = (*slot).min(rank);
        }
        dated_by_crate.push((releases.len(), dated));
        releases_by_crate.push(
            releases
                .iter()
                .map(|(tag, commit, _, version)| {
                    ((*tag).to_owned(), (*commit).to_owned(), version.clone())
                })
                .collect::<Vec<_>>(),
        );
    }
    for c in topological(&parents) {
        for &p in &parents[c] {
            for k in 0..crates {
                let from_child = labels[c * crates + k];
                let slot = &mut labels[p * crates + k];
                *slot = (*slot).min(from_child);
            }
        }
    }

    // One pass over the commits: each goes to the crates it is attributed to (as in the plan:
    // its folder changed, or its scope or a `Crate:` trailer names the crate), into the
    // section of the oldest release containing it.
    let mut commits: Vec<Vec<Vec<(CommitSummary, Message)>>> =
        dated_by_crate.iter().map(|(n, _)| vec![Vec::new(); n + 1]).collect();
    for (c, record) in walk.commits.iter().enumerate() {
        let message = &messages[c];
        for (index, package) in published.iter().enumerate() {
            let touched = record.touched.contains(&index);
            let via = plan::attribution(touched, message, &package.name, &trailers[c]);
            if via.is_empty() {
                continue;
            }
            let summary = plan::commit_summary(record, message, via, Vec::new(), &options.changes);
            let rank = (labels[c * crates + index] as usize).min(dated_by_crate[index].0);
            commits[index][rank].push((summary, message.clone()));
        }
    }

    // Then the plan's rules, on each section as the plan of that release saw it: commits
    // without net effect on the packaged files since the releases before it, and commits whose
    // patch an earlier release of the crate holds, make no entry (`crate::skip`); pull
    // requests make one entry each (`crate::pr`).
    let mut inputs = Vec::new();
    let mut slots = Vec::new();
    for (index, package) in published.iter().enumerate() {
        let releases = &releases_by_crate[index];
        for (rank, section) in commits[index].iter_mut().enumerate() {
            if section.is_empty() {
                continue;
            }
            // The releases before this one: every tag of a lower version (all of them for the
            // unreleased section).
            let earlier: Vec<(String, String, semver::Version)> = releases
                [..rank.min(releases.len())]
                .iter()
                .map(|(tag, commit, version)| (tag.clone(), commit.clone(), version.clone()))
                .collect();
            let last_any = earlier.last().map(|(_, commit, _)| commit.clone());
            let last_final =
                earlier.iter().rev().find(|(_, _, v)| v.pre.is_empty()).map(|(_, c, _)| c.clone());
            let mut baselines: Vec<String> = last_final.into_iter().chain(last_any).collect();
            baselines.dedup();
            inputs.push(CrateCommits {
                index,
                package,
                tags: earlier,
                baselines,
                commits: std::mem::take(section),
            });
            slots.push((index, rank));
        }
    }
    let (no_effect, already_released) = skip::filter(repo, &walk, &mut inputs)?;
    let mut pulls = PullRequests::new(&walk.commits);
    let mut by_release: Vec<Vec<Vec<Entry>>> =
        dated_by_crate.iter().map(|(n, _)| vec![Vec::new(); *n]).collect();
    let mut unreleased: Vec<Vec<Entry>> = vec![Vec::new(); published.len()];
    for (input, (index, rank)) in inputs.iter().zip(slots) {
        let entries = plan::crate_entries(
            &mut pulls,
            workspace,
            published[index],
            &input.commits,
            &options.changes,
        );
        match by_release[index].get_mut(rank) {
            Some(section) => *section = entries,
            None => unreleased[index] = entries,
        }
    }

    let mut out = Vec::with_capacity(published.len());
    for (index, package) in published.iter().enumerate() {
        let releases = &mut by_release[index];
        let entries = unreleased[index].len() + releases.iter().map(Vec::len).sum::<usize>();
        let mut text = NEW_FILE_HEADER.trim_end_matches("## [Unreleased]\n").to_owned();
        text.push_str(&changelog::render_unreleased(&unreleased[index]));
        let dated = &dated_by_crate[index].1;
        for (rank, version, date) in dated.iter().rev() {
            let section = Section {
                version: version.clone(),
                date: *date,
                entries: std::mem::take(&mut releases[*rank]),
                first_release: *rank == 0,
                msrv: None,
            };
            text.push('\n');
            text.push_str(&section.render());
        }
        out.push(CrateChangelog {
            name: package.name.clone(),
            path: plan::join(&package.dir, "CHANGELOG.md"),
            text,
            releases: dated.len(),
            entries,
        });
    }
    warnings.dedup();
    Ok(Regenerated {
        commits: walk.commits.len(),
        crates: out,
        warnings,
        no_effect,
        already_released,
        notes: pulls.notes(),
    })
}

/// The commits (indexes into `parents`) ordered so that every commit comes before its
/// parents (Kahn's algorithm; committer dates play no part, so clock skew cannot break it).
fn topological(parents: &[Vec<usize>]) -> Vec<usize> {
    let mut children = vec![0usize; parents.len()];
    for list in parents {
        for &p in list {
            children[p] += 1;
        }
    }
    let mut ready: Vec<usize> = (0..parents.len()).filter(|&c| children[c] == 0).collect();
    let mut order = Vec::with_capacity(parents.len());
    while let Some(c) = ready.pop() {
        order.push(c);
        for &p in &parents[c] {
            children[p] -= 1;
            if children[p] == 0 {
                ready.push(p);
            }
        }
    }
    order
}

/// Writes every regenerated changelog under `root` (each file replaced atomically); returns
/// the paths written.
pub fn write(root: &Path, regenerated: &Regenerated) -> Result<Vec<PathBuf>> {
    let mut written = Vec::with_capacity(regenerated.crates.len());
    for changelog in &regenerated.crates {
        let path = root.join(&changelog.path);
        crate::process::write_atomic(&path, changelog.text.as_bytes())?;
        written.push(path);
    }
    Ok(written)
}
