//! Commits already released on another branch: cherry-picks found by patch-id.
//!
//! Families that keep a maintenance branch (`7.x`) cherry-pick fixes from `main` and release
//! them there; on `main` those commits have other ids, so the walk counts them as unreleased.
//! A commit reachable from `HEAD` is *already released in X.Y.Z* for a crate when its
//! `git patch-id --stable` equals that of a commit contained in the crate's release tag
//! `X.Y.Z` (the lowest such version) but not reachable from `HEAD` — what `git cherry HEAD TAG`
//! marks `-`.
//!
//! # Bounded work
//!
//! - The *maintenance commits* are walked from the crate's release tags that the main walk did
//!   not reach from `HEAD`, newest first, stopping at commits it did reach and at commits
//!   older than the oldest commit it read: a cherry-pick is newer than its original, and the
//!   originals that matter are unreleased, so within the main walk's range. In a repository
//!   whose tags are all on `HEAD`'s history this costs nothing.
//! - Patch-ids are computed only when a crate has maintenance commits that touch it, and only
//!   for those and for the crate's unreleased non-merge commits, with one
//!   `git log -p | git patch-id --stable` pipeline, and cached per commit id in
//!   `<git dir>/proofmark/patch-ids` (a commit's patch-id never changes).

use std::collections::{BTreeMap, BTreeSet, BinaryHeap};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use gix::ObjectId;
use gix::hashtable::{HashMap, HashSet};

use crate::content::Trees;
use crate::error::{Error, Result};

/// The maintenance commits of one crate: commit → index (into the caller's tag list) of the
/// lowest release tag containing it.
pub(crate) fn side_commits(
    trees: &mut Trees<'_>,
    tags: &[(ObjectId, usize)],
    head_reached: &HashSet<ObjectId>,
    since: i64,
) -> Result<Vec<(ObjectId, usize)>> {
    let mut best: HashMap<ObjectId, usize> = HashMap::default();
    let mut heap: BinaryHeap<(i64, ObjectId)> = BinaryHeap::new();
    for (commit, rank) in tags {
        if head_reached.contains(commit) {
            continue;
        }
        let slot = best.entry(*commit).or_insert(usize::MAX);
        if *rank < *slot {
            *slot = *rank;
            heap.push((trees.commit(*commit)?.2, *commit));
        }
    }
    let mut done: HashSet<ObjectId> = HashSet::default();
    while let Some((time, id)) = heap.pop() {
        if time < since || head_reached.contains(&id) {
            continue;
        }
        done.insert(id);
        let rank = best.get(&id).copied().unwrap_or(usize::MAX);
        for parent in trees.parents(id)? {
            let slot = best.entry(parent).or_insert(usize::MAX);
            if rank < *slot {
                *slot = rank;
                heap.push((trees.commit(parent)?.2, parent));
            }
        }
    }
    Ok(best.into_iter().filter(|(id, _)| done.contains(id)).collect())
}

/// Patch-ids by commit id, cached in the git dir.
#[derive(Debug)]
pub(crate) struct PatchIds {
    work_dir: PathBuf,
    cache: PathBuf,
    /// Commit → patch-id (`None`: the commit has no patch, e.g. a merge or an empty commit).
    known: BTreeMap<String, Option<String>>,
    dirty: bool,
}

impl PatchIds {
    /// Loads the cache of the repository whose git dir is `git_dir`; git runs in `work_dir`.
    pub(crate) fn load(git_dir: &Path, work_dir: &Path) -> Self {
        let cache = git_dir.join("proofmark").join("patch-ids");
        let known = std::fs::read_to_string(&cache)
            .unwrap_or_default()
            .lines()
            .filter_map(|line| {
                let (commit, patch) = line.split_once(' ')?;
                Some((commit.to_owned(), (patch != "-").then(|| patch.to_owned())))
            })
            .collect();
        Self { work_dir: work_dir.to_owned(), cache, known, dirty: false }
    }

    /// The patch-id of `commit`, once [`PatchIds::compute`] has seen it.
    pub(crate) fn get(&self, commit: &str) -> Option<&str> {
        self.known.get(commit).and_then(|p| p.as_deref())
    }

    /// Computes the patch-ids of the `commits` not yet known.
    pub(crate) fn compute(&mut self, commits: &BTreeSet<String>) -> Result<()> {
        let missing: Vec<&String> =
            commits.iter().filter(|c| !self.known.contains_key(*c)).collect();
        if missing.is_empty() {
            return Ok(());
        }
        let mut input = String::new();
        for commit in &missing {
            input.push_str(commit);
            input.push('\n');
        }
        let log = pipe(
            &self.work_dir,
            &[
                "log",
                "--stdin",
                "--no-walk=unsorted",
                "-p",
                "--no-color",
                "--no-ext-diff",
                "--format=commit %H",
            ],
            input.into_bytes(),
        )?;
        let ids = pipe(&self.work_dir, &["patch-id", "--stable"], log)?;
        let mut found: BTreeMap<String, String> = BTreeMap::new();
        for line in String::from_utf8_lossy(&ids).lines() {
            if let Some((patch, commit)) = line.split_once(' ') {
                found.insert(commit.to_owned(), patch.to_owned());
            }
        }
        for commit in missing {
            self.known.insert(commit.clone(), found.remove(commit));
        }
        self.dirty = true;
        Ok(())
    }

    /// Writes the cache (temporary file, then rename); a failure only costs the next run time.
    pub(crate) fn save(&self) {
        if !self.dirty {
            return;
        }
        let Some(dir) = self.cache.parent() else { return };
        if std::fs::create_dir_all(dir).is_err() {
            return;
        }
        let mut text = String::new();
        for (commit, patch) in &self.known {
            text.push_str(commit);
            text.push(' ');
            text.push_str(patch.as_deref().unwrap_or("-"));
            text.push('\n');
        }
        let temp = dir.join(format!("patch-ids.{}.tmp", std::process::id()));
        let written = std::fs::File::create(&temp)
            .and_then(|mut f| f.write_all(text.as_bytes()).and_then(|()| f.sync_all()));
        if written.is_err() || std::fs::rename(&temp, &self.cache).is_err() {
            let _ = std::fs::remove_file(&temp);
        }
    }
}

/// Runs `git args…` in `dir` with `input` on stdin; its stdout.
fn pipe(dir: &Path, args: &[&str], input: Vec<u8>) -> Result<Vec<u8>> {
    let line = format!("git {}", args.join(" "));
    let mut child = Command::new("git")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| Error::Spawn { program: "git".to_owned(), source })?;
    let mut stdin = child.stdin.take();
    // Feed stdin from a thread: git writes while it reads, and both pipes are bounded.
    let writer = std::thread::spawn(move || {
        if let Some(stdin) = stdin.as_mut() {
            let _ = stdin.write_all(&input);
        }
    });
    let out = child
        .wait_with_output()
        .map_err(|source| Error::Spawn { program: "git".to_owned(), source })?;
    let _ = writer.join();
    if !out.status.success() {
        return Err(Error::git(line, String::from_utf8_lossy(&out.stderr).trim().to_owned()));
    }
    Ok(out.stdout)
}
