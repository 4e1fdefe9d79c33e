//! What a crate publishes, read from git trees: the rules that keep crates and commits without
//! a net effect out of a release.
//!
//! # Packaged files
//!
//! A crate's *packaged files* are the files of its folder that `cargo package` would put in
//! the `.crate`, as far as the tree says: every file of the folder, minus subfolders that hold
//! a `Cargo.toml` (other packages, nested members included, which cargo never packages), minus
//! what the manifest's `include` / `exclude` keep out (gitignore syntax relative to the crate
//! folder, the last matching pattern wins, `include` replaces `exclude`, `Cargo.toml` is always
//! in), and minus the crate's `CHANGELOG.md`: proofmark writes that file itself at every
//! release, so editing it is no change to release.
//!
//! # Rules
//!
//! - **Crate:** a crate whose packaged files at `HEAD` are those at its last release tag
//!   (same paths, same blob ids) is *unchanged since* that release and is not released,
//!   whatever the commits in between did (a release branch merged back, a change and its
//!   revert). The judge is git: `git diff --name-only TAG HEAD -- DIR` minus the paths above
//!   prints nothing.
//! - **Commit:** a commit's *net effect* on a crate is the set of packaged files whose blob
//!   differs from its first parent's. It is nil when that set is empty (a commit that only
//!   edits `CHANGELOG.md` or excluded files), and for a merge also when each of those files
//!   is, after the merge, exactly as in the crate's last release tag, its newest tag of any
//!   kind, or a release tag of the crate that the merge merges (its tip): the merge of a release branch back into `main` brings nothing that is not already
//!   released. Such a commit makes no changelog entry and does not count for the bump; the
//!   plan lists it. Comparing blob ids, never contents, keeps this a few tree reads per
//!   commit.

use std::rc::Rc;

use gix::ObjectId;
use gix::bstr::BStr;
use gix::hashtable::HashMap;

use crate::error::{Error, Result};
use crate::history::{Repo, Tree};
use crate::workspace::Package;

/// The changelog proofmark maintains in every crate folder.
const CHANGELOG: &str = "CHANGELOG.md";

/// Which files of a crate folder are packaged.
#[derive(Debug)]
pub(crate) struct Packaged {
    /// The folder, as path components from the repository root.
    dir: Vec<String>,
    include: Vec<gix::glob::Pattern>,
    exclude: Vec<gix::glob::Pattern>,
}

impl Packaged {
    /// The packaging rules of `package`, whose workspace is at `prefix` (components) in the
    /// repository.
    pub(crate) fn new(prefix: &[String], package: &Package) -> Self {
        let parse = |patterns: &[String]| {
            patterns.iter().filter_map(|p| gix::glob::Pattern::from_bytes(p.as_bytes())).collect()
        };
        Self {
            dir: prefix
                .iter()
                .cloned()
                .chain(package.dir.split('/').filter(|c| !c.is_empty()).map(str::to_owned))
                .collect(),
            include: parse(&package.include),
            exclude: parse(&package.exclude),
        }
    }

    /// Whether the file at `path` (relative to the crate folder) is packaged.
    pub(crate) fn keeps(&self, path: &str) -> bool {
        if path == CHANGELOG {
            return false;
        }
        if path == "Cargo.toml" {
            return true;
        }
        if !self.include.is_empty() {
            return matched(&self.include, path);
        }
        !matched(&self.exclude, path)
    }
}

/// gitignore semantics: the last pattern that matches the path or one of its parent folders
/// decides; a negated pattern un-matches.
fn matched(patterns: &[gix::glob::Pattern], path: &str) -> bool {
    let mut candidates = vec![(path, false)];
    let mut rest = path;
    while let Some(slash) = rest.rfind('/') {
        rest = &rest[..slash];
        candidates.push((rest, true));
    }
    let mut result = false;
    for pattern in patterns {
        let hit = candidates.iter().any(|(candidate, is_dir)| {
            pattern.matches_repo_relative_path(
                BStr::new(candidate),
                candidate.rfind('/').map(|i| i + 1),
                Some(*is_dir),
                gix::glob::pattern::Case::Sensitive,
                gix::glob::wildmatch::Mode::NO_MATCH_SLASH_LITERAL,
            )
        });
        if hit {
            result = !pattern.is_negative();
        }
    }
    result
}

/// Reads commits, trees and blobs with small caches.
pub(crate) struct Trees<'r> {
    repo: &'r gix::Repository,
    trees: HashMap<ObjectId, Rc<Tree>>,
    commits: HashMap<ObjectId, Commit>,
}

/// What the rules read of a commit.
#[derive(Clone, Debug)]
struct Commit {
    tree: ObjectId,
    /// The parents present in the repository (a shallow clone lacks some).
    parents: Vec<ObjectId>,
    time: i64,
}

/// Decoded trees kept at most (the cache is cleared when full).
const TREE_CACHE: usize = 8192;

/// Parses a hex commit id.
pub(crate) fn object_id(hex: &str) -> Result<ObjectId> {
    ObjectId::from_hex(hex.as_bytes()).map_err(|e| Error::git(format!("parse commit id {hex}"), e))
}

impl<'r> Trees<'r> {
    /// A reader of `repo`.
    pub(crate) fn new(repo: &'r Repo) -> Self {
        Self::from_gix(repo.gix())
    }

    /// A reader of a gix handle (one per thread).
    pub(crate) fn from_gix(repo: &'r gix::Repository) -> Self {
        Self { repo, trees: HashMap::default(), commits: HashMap::default() }
    }

    /// A commit's root tree, first parent and committer time.
    pub(crate) fn commit(&mut self, id: ObjectId) -> Result<(ObjectId, Option<ObjectId>, i64)> {
        let info = self.read(id)?;
        Ok((info.tree, info.parents.first().copied(), info.time))
    }

    /// The parents of a commit.
    pub(crate) fn parents(&mut self, id: ObjectId) -> Result<Vec<ObjectId>> {
        Ok(self.read(id)?.parents.clone())
    }

    fn read(&mut self, id: ObjectId) -> Result<&Commit> {
        if !self.commits.contains_key(&id) {
            let info = self.decode(id)?;
            self.commits.insert(id, info);
        }
        self.commits.get(&id).ok_or_else(|| Error::git("commit cache", format!("{id} vanished")))
    }

    fn decode(&self, id: ObjectId) -> Result<Commit> {
        let commit =
            self.repo.find_commit(id).map_err(|e| Error::git(format!("read commit {id}"), e))?;
        let decoded = commit.decode().map_err(|e| Error::git(format!("read commit {id}"), e))?;
        let time =
            decoded.committer().map_err(|e| Error::git(format!("read commit {id}"), e))?.seconds();
        // A shallow clone lacks parents: compare with nothing rather than fail.
        let shallow = self.repo.is_shallow();
        let parents = decoded.parents().filter(|p| !shallow || self.repo.has_object(p)).collect();
        Ok(Commit { tree: decoded.tree(), parents, time })
    }

    fn entries(&mut self, tree: ObjectId) -> Result<Rc<Tree>> {
        if let Some(entries) = self.trees.get(&tree) {
            return Ok(entries.clone());
        }
        let entries = Rc::new(Tree::read(self.repo, tree)?);
        if self.trees.len() >= TREE_CACHE {
            self.trees.clear();
        }
        self.trees.insert(tree, entries.clone());
        Ok(entries)
    }

    /// The entry at `path` (components) below `tree`: its id and whether it is a tree.
    fn lookup(&mut self, tree: ObjectId, path: &[&str]) -> Result<Option<(ObjectId, bool)>> {
        let mut current = (tree, true);
        for component in path {
            if !current.1 {
                return Ok(None);
            }
            let Some(found) = self.entries(current.0)?.find(component) else { return Ok(None) };
            current = found;
        }
        Ok(Some(current))
    }

    /// The bytes of the file at `path` (`/`-separated, from the repository root) in `commit`.
    pub(crate) fn file_at(&mut self, commit: ObjectId, path: &str) -> Result<Option<Vec<u8>>> {
        let (tree, _, _) = self.commit(commit)?;
        let components: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
        let Some((id, false)) = self.lookup(tree, &components)? else { return Ok(None) };
        let blob = self.repo.find_blob(id).map_err(|e| Error::git(format!("read blob {id}"), e))?;
        Ok(Some(blob.data.clone()))
    }

    /// The id of the crate folder's tree in `commit`.
    fn folder(&mut self, commit: ObjectId, packaged: &Packaged) -> Result<Option<ObjectId>> {
        let (tree, _, _) = self.commit(commit)?;
        let path: Vec<&str> = packaged.dir.iter().map(String::as_str).collect();
        Ok(self.lookup(tree, &path)?.filter(|(_, is_tree)| *is_tree).map(|(id, _)| id))
    }

    /// The packaged files that differ between two folder trees, with their id on the `new`
    /// side (`None`: deleted), descending only into subtrees whose ids differ.
    fn changed(
        &mut self,
        new: Option<ObjectId>,
        old: Option<ObjectId>,
        packaged: &Packaged,
        base: &str,
        out: &mut Vec<(String, Option<ObjectId>)>,
        first_only: bool,
    ) -> Result<()> {
        if new == old || (first_only && !out.is_empty()) {
            return Ok(());
        }
        let empty = Rc::new(Tree::default());
        let a = match new {
            Some(tree) => self.entries(tree)?,
            None => empty.clone(),
        };
        let b = match old {
            Some(tree) => self.entries(tree)?,
            None => empty,
        };
        for (name, new_side, old_side) in a.diff(&b) {
            let path = if base.is_empty() { name.to_owned() } else { format!("{base}/{name}") };
            let tree_of = |side: Option<(ObjectId, bool)>| side.filter(|s| s.1).map(|s| s.0);
            let file_of = |side: Option<(ObjectId, bool)>| side.filter(|s| !s.1).map(|s| s.0);
            let (new_tree, old_tree) = (tree_of(new_side), tree_of(old_side));
            if new_tree.is_some() || old_tree.is_some() {
                // Cargo never packages a subfolder that is a package of its own.
                let mut nested = false;
                for tree in [new_tree, old_tree].into_iter().flatten() {
                    nested |= self.entries(tree)?.find("Cargo.toml").is_some_and(|(_, t)| !t);
                }
                if !nested {
                    self.changed(new_tree, old_tree, packaged, &path, out, first_only)?;
                }
            }
            let (new_file, old_file) = (file_of(new_side), file_of(old_side));
            if (new_file.is_some() || old_file.is_some()) && packaged.keeps(&path) {
                out.push((path, new_file));
            }
            if first_only && !out.is_empty() {
                return Ok(());
            }
        }
        Ok(())
    }

    /// Whether a packaged file differs between two trees of the crate folder: the first step
    /// of [`Trees::folder_effect_nil`], which stops at the first such file.
    pub(crate) fn packaged_changed(
        &mut self,
        new: Option<ObjectId>,
        old: Option<ObjectId>,
        packaged: &Packaged,
    ) -> Result<bool> {
        let mut out = Vec::new();
        self.changed(new, old, packaged, "", &mut out, true)?;
        Ok(!out.is_empty())
    }

    /// Whether the crate's packaged files are the same in `head` and `base` (hex ids).
    pub(crate) fn unchanged_since(
        &mut self,
        head: &str,
        base: &str,
        packaged: &Packaged,
    ) -> Result<bool> {
        let new = self.folder(object_id(head)?, packaged)?;
        let old = self.folder(object_id(base)?, packaged)?;
        let mut out = Vec::new();
        self.changed(new, old, packaged, "", &mut out, true)?;
        Ok(out.is_empty())
    }

    /// Whether `commit` has no net effect on the crate's packaged files: nothing packaged
    /// differs from its first parent, or, for a merge, everything that does is as in one of
    /// the `released` commits (hex ids of the last release tags) or in a merged parent that
    /// is one of the crate's `tagged` commits.
    pub(crate) fn no_net_effect(
        &mut self,
        commit: &str,
        released: &[String],
        tagged: &std::collections::BTreeSet<String>,
        packaged: &Packaged,
    ) -> Result<bool> {
        let id = object_id(commit)?;
        let parents = self.parents(id)?;
        let new = self.folder(id, packaged)?;
        let old = match parents.first() {
            Some(parent) => self.folder(*parent, packaged)?,
            None => None,
        };
        let parents: Vec<String> = parents.iter().map(ToString::to_string).collect();
        self.folder_effect_nil(new, old, &parents, released, tagged, packaged)
    }

    /// [`Trees::no_net_effect`] with the crate folder's tree ids in the commit and its first
    /// parent already known, and the commit's `parents` (hex ids).
    pub(crate) fn folder_effect_nil(
        &mut self,
        new: Option<ObjectId>,
        old: Option<ObjectId>,
        parents: &[String],
        released: &[String],
        tagged: &std::collections::BTreeSet<String>,
        packaged: &Packaged,
    ) -> Result<bool> {
        let merge = parents.len() > 1;
        let mut changed = Vec::new();
        // A plain commit only needs to know whether anything packaged changed.
        self.changed(new, old, packaged, "", &mut changed, !merge)?;
        if changed.is_empty() {
            return Ok(true);
        }
        // Only a merge can bring released content as a whole; a plain commit that equals a
        // release's files is a fix released elsewhere (a cherry-pick, see `crate::cherry`)
        // or a change a pre-release already shipped, and keeps its entry.
        if !merge {
            return Ok(false);
        }
        let merged_tags = parents[1..].iter().filter(|p| tagged.contains(*p)).cloned();
        let baselines: Vec<String> = released.iter().cloned().chain(merged_tags).collect();
        for hex in &baselines {
            let Some(folder) = self.folder(object_id(hex)?, packaged)? else { continue };
            let mut all_released = true;
            for (path, id) in &changed {
                let components: Vec<&str> = path.split('/').collect();
                let at_release = self.lookup(folder, &components)?.filter(|e| !e.1).map(|e| e.0);
                if at_release != *id {
                    all_released = false;
                    break;
                }
            }
            if all_released {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packaged(include: &[&str], exclude: &[&str]) -> Packaged {
        let parse = |patterns: &[&str]| {
            patterns.iter().filter_map(|p| gix::glob::Pattern::from_bytes(p.as_bytes())).collect()
        };
        Packaged { dir: Vec::new(), include: parse(include), exclude: parse(exclude) }
    }

    #[test]
    fn packaging_follows_cargo_patterns() {
        let cases: &[(&[&str], &[&str], &str, bool)] = &[
            (&[], &[], "src/lib.rs", true),
            (&[], &[], "CHANGELOG.md", false),
            (&[], &["tests/"], "tests/a.rs", false),
            (&[], &["tests/"], "src/tests.rs", true),
            (&[], &["*.png"], "docs/img/a.png", false),
            (&[], &["/ci"], "ci/run.sh", false),
            (&[], &["/ci"], "src/ci", true),
            (&[], &["benches/**", "!benches/keep.rs"], "benches/keep.rs", true),
            (&[], &["benches/**", "!benches/keep.rs"], "benches/drop.rs", false),
            (&["src/**", "README.md"], &["src/"], "src/lib.rs", true),
            (&["src/**", "README.md"], &[], "tests/a.rs", false),
            (&["src/**"], &[], "Cargo.toml", true),
            (&["/README.md"], &[], "docs/README.md", false),
        ];
        for (include, exclude, path, kept) in cases {
            assert_eq!(
                packaged(include, exclude).keeps(path),
                *kept,
                "include {include:?}, exclude {exclude:?}: {path}"
            );
        }
    }
}
