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
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
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
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
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
    /// The crate's index among the walk's crates.
    pub(crate) index: usize,
    pub(crate) package: &'a Package,
    pub(crate) tags: Vec<(String, String, Version)>,
    pub(crate) baselines: Vec<String>,
    pub(crate) commits: Vec<(CommitSummary, Message)>,
}

/// Crates with fewer commits to judge than this in all stay on one thread.
const PARALLEL_FROM: usize = 1024;

/// Takes the commits without net effect out of `krate`'s commits and returns them.
fn without_effect(
    trees: &mut Trees<'_>,
    prefix: &[String],
    records: &std::collections::HashMap<&str, &crate::history::CommitRecord>,
    krate: &mut CrateCommits<'_>,
) -> Result<Vec<NoEffect>> {
    let packaged = Packaged::new(prefix, krate.package);
    let tagged: BTreeSet<String> = krate.tags.iter().map(|(_, c, _)| c.clone()).collect();
    let mut no_effect = Vec::new();
    let mut kept = Vec::with_capacity(krate.commits.len());
    for (summary, message) in std::mem::take(&mut krate.commits) {
        let folders = records.get(summary.id.as_str()).and_then(|record| {
            let found = record.folder_trees.iter().find(|(i, _, _, _)| *i == krate.index)?;
            Some((found.1, found.2, found.3, &record.parents))
        });
        let nil = match folders {
            // The walk judged the first step: nothing packaged changed means no effect, and
            // only a merge can still be judged nil when something did.
            Some((_, _, Some(false), _)) => true,
            Some((_, _, Some(true), parents)) if parents.len() < 2 => false,
            Some((new, old, _, parents)) => {
                trees.folder_effect_nil(new, old, parents, &krate.baselines, &tagged, &packaged)?
            }
            None if summary.via.contains(&"path") => {
                trees.no_net_effect(&summary.id, &krate.baselines, &tagged, &packaged)?
            }
            None => false,
        };
        if nil {
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
    Ok(no_effect)
}

/// Removes the commits without net effect and the commits already released elsewhere from
/// each crate's commits, and returns them.
pub(crate) fn filter(
    repo: &Repo,
    walk: &Walk,
    crates: &mut [CrateCommits<'_>],
) -> Result<(Vec<NoEffect>, Vec<AlreadyReleased>)> {
    let records: std::collections::HashMap<&str, &crate::history::CommitRecord> =
        walk.commits.iter().map(|r| (r.id.as_str(), r)).collect();
    // Reading trees dominates on long ranges: split the crates over the cores, each thread
    // with its own repository handle and caches, as the walk does. Commits the walk already
    // judged read no tree here, unless they are merges whose packaged files changed.
    let judged = |krate: &CrateCommits<'_>, id: &str| {
        records.get(id).is_some_and(|record| {
            let found = record.folder_trees.iter().find(|(i, _, _, _)| *i == krate.index);
            found.is_some_and(|f| f.3 == Some(false) || (f.3.is_some() && record.parents.len() < 2))
        })
    };
    let total: usize =
        crates.iter().map(|c| c.commits.iter().filter(|(s, _)| !judged(c, &s.id)).count()).sum();
    let threads = if total < PARALLEL_FROM {
        1
    } else {
        std::thread::available_parallelism().map_or(1, |n| n.get()).min(4)
    };
    let chunk = crates.len().div_ceil(threads).max(1);
    let results: Vec<Result<Vec<NoEffect>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = crates
            .chunks_mut(chunk)
            .map(|part| {
                let gix = repo.gix().clone();
                let (records, prefix) = (&records, repo.prefix());
                scope.spawn(move || {
                    let mut trees = Trees::from_gix(&gix);
                    let mut found = Vec::new();
                    for krate in part {
                        found.extend(without_effect(&mut trees, prefix, records, krate)?);
                    }
                    Ok(found)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(crate::error::Error::git("net effect", "a worker panicked"))
                })
            })
            .collect()
    });
    let mut no_effect = Vec::new();
    for part in results {
        no_effect.extend(part?);
    }

    let mut trees = Trees::new(repo);
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
        let packaged = Packaged::new(repo.prefix(), krate.package);
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
