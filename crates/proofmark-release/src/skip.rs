//! Commits that are attributed to a crate but make no entry in its new section: those without
//! net effect on its packaged files ([`crate::content`]) and those already released on another
//! branch ([`crate::cherry`]). Both are listed in the plan, each in its own list.

use std::collections::{BTreeMap, BTreeSet};

use semver::Version;
use serde::Serialize;

use crate::cherry::{PatchIds, side_commits};
use crate::content::{Packaged, Trees, object_id};
use crate::conventional::Message;
use crate::error::Result;
use crate::history::{Repo, Walk};
use crate::plan::CommitSummary;
use crate::workspace::Package;

/// A commit left out of a crate's section because it changes nothing the crate publishes.
#[derive(Clone, Debug, Serialize)]
pub struct NoEffect {
    /// The crate.
    #[serde(rename = "crate")]
    pub crate_name: String,
    /// The full hex id.
    pub id: String,
    /// The first 7 hex digits.
    pub short_id: String,
    /// The first line of the message.
    pub summary: String,
}

/// A commit left out of a crate's section because a copy of it (same patch-id) is in one of
/// the crate's releases.
#[derive(Clone, Debug, Serialize)]
pub struct AlreadyReleased {
    /// The crate.
    #[serde(rename = "crate")]
    pub crate_name: String,
    /// The full hex id.
    pub id: String,
    /// The first 7 hex digits.
    pub short_id: String,
    /// The first line of the message.
    pub summary: String,
    /// The lowest released version that contains the copy.
    pub version: Version,
    /// That release's tag.
    pub tag: String,
    /// The copy's full hex id.
    pub released_as: String,
}

/// One crate's input: its release tags (name, commit, version; every kind), the commits of its
/// last release tags (what "already released content" means), and its attributed commits,
/// which [`filter`] shortens.
pub(crate) struct CrateCommits<'a> {
    pub(crate) package: &'a Package,
    pub(crate) tags: Vec<(String, String, Version)>,
    pub(crate) baselines: Vec<String>,
    pub(crate) commits: Vec<(CommitSummary, Message)>,
}

/// Removes the commits without net effect and the commits already released elsewhere from
/// each crate's commits, and returns them.
pub(crate) fn filter(
    repo: &Repo,
    walk: &Walk,
    crates: &mut [CrateCommits<'_>],
) -> Result<(Vec<NoEffect>, Vec<AlreadyReleased>)> {
    let mut trees = Trees::new(repo);
    let mut no_effect = Vec::new();
    for krate in crates.iter_mut() {
        let packaged = Packaged::new(repo, krate.package);
        let tagged: BTreeSet<String> = krate.tags.iter().map(|(_, c, _)| c.clone()).collect();
        let mut kept = Vec::with_capacity(krate.commits.len());
        for (summary, message) in std::mem::take(&mut krate.commits) {
            if summary.via.contains(&"path")
                && trees.no_net_effect(&summary.id, &krate.baselines, &tagged, &packaged)?
            {
                no_effect.push(NoEffect {
                    crate_name: krate.package.name.clone(),
                    id: summary.id.clone(),
                    short_id: summary.short_id.clone(),
                    summary: summary.summary.clone(),
                });
                continue;
            }
            kept.push((summary, message));
        }
        krate.commits = kept;
    }

    let mut already = Vec::new();
    let Some(since) = walk.oldest_time else { return Ok((no_effect, already)) };
    let mut patch_ids: Option<PatchIds> = None;
    for krate in crates.iter_mut() {
        if krate.commits.is_empty() || krate.tags.is_empty() {
            continue;
        }
        let mut tags = krate.tags.clone();
        tags.sort_by(|a, b| a.2.cmp(&b.2).then_with(|| a.0.cmp(&b.0)));
        let mut seeds = Vec::with_capacity(tags.len());
        for (rank, (_, commit, _)) in tags.iter().enumerate() {
            seeds.push((object_id(commit)?, rank));
        }
        let side = side_commits(&mut trees, &seeds, &walk.head_reached, since)?;
        if side.is_empty() {
            continue;
        }
        let packaged = Packaged::new(repo, krate.package);
        let mut touching = Vec::new();
        for (id, rank) in side {
            let hex = id.to_string();
            if trees.parents(id)?.len() == 1
                && !trees.no_net_effect(&hex, &[], &BTreeSet::new(), &packaged)?
            {
                touching.push((hex, rank));
            }
        }
        if touching.is_empty() {
            continue;
        }
        let ids = patch_ids.get_or_insert_with(|| {
            let git_dir = repo.gix().git_dir().to_owned();
            let work_dir = repo.gix().workdir().map_or_else(|| git_dir.clone(), ToOwned::to_owned);
            PatchIds::load(&git_dir, &work_dir)
        });
        let mut wanted: BTreeSet<String> = touching.iter().map(|(c, _)| c.clone()).collect();
        wanted.extend(krate.commits.iter().filter(|(s, _)| !s.merge).map(|(s, _)| s.id.clone()));
        ids.compute(&wanted)?;
        let mut by_patch: BTreeMap<&str, (usize, &str)> = BTreeMap::new();
        for (commit, rank) in &touching {
            let Some(patch) = ids.get(commit) else { continue };
            let slot = by_patch.entry(patch).or_insert((*rank, commit));
            if *rank < slot.0 {
                *slot = (*rank, commit);
            }
        }
        let name = krate.package.name.clone();
        krate.commits.retain(|(summary, _)| {
            let found = ids.get(&summary.id).and_then(|patch| by_patch.get(patch));
            let Some((rank, copy)) = found else { return true };
            let Some((tag, _, version)) = tags.get(*rank) else { return true };
            already.push(AlreadyReleased {
                crate_name: name.clone(),
                id: summary.id.clone(),
                short_id: summary.short_id.clone(),
                summary: summary.summary.clone(),
                version: version.clone(),
                tag: tag.clone(),
                released_as: (*copy).to_owned(),
            });
            false
        });
    }
    if let Some(ids) = &patch_ids {
        ids.save();
    }
    Ok((no_effect, already))
}
