//! The history engine: one bounded walk shared by all crates, subtree-id attribution.
//!
//! # Why gix
//!
//! The engine reads objects with [gix](https://docs.rs/gix) (gitoxide), pure Rust, built with
//! `default-features = false` plus `sha1`, a small delta-base cache and `parallel` (so a
//! repository handle can move to a worker thread): no network, no index, no diff machinery,
//! no C library to link. It only needs references, commits and trees. gix 0.87 is the newest
//! release whose MSRV fits the workspace's rust-version (1.85).
//!
//! Attribution (the tree comparisons) of walks longer than 1,024 commits is split over up to
//! four threads in contiguous chunks, each with its own handle and caches; the commits the
//! walk read are shared with them read-only.
//!
//! # The walk
//!
//! Every release tag of a crate marks the tagged commit and all its ancestors as *released*
//! for that crate. A commit is *unreleased* for a crate when it is reachable from `HEAD` and
//! not from any of the crate's release tags — what `git rev-list HEAD ^tag1 ^tag2 …` lists
//! for that crate. Instead of one such walk per crate, a single walk paints every commit with
//! a set of "released for crate i" bits, seeded at `HEAD` (no bits) and at each tag commit
//! (the bit of its crate), processed newest-first by committer time and propagated to
//! parents; a commit whose bits grow is processed again, so clock skew costs time, not
//! correctness of what was visited. The walk stops when no queued commit reachable from
//! `HEAD` still lacks the bit of some tagged crate, exactly git's own stopping rule for
//! `rev-list A ^B` (and with git's caveat: badly skewed committer dates can end it early).
//! Crates that were never tagged need the whole history, so their presence makes the walk go
//! down to the root commits.
//!
//! # Attribution by subtree ids
//!
//! A commit touches a crate when the id of the crate folder's tree differs from the id of the
//! same folder in the commit's **first** parent (missing on one side counts as different; a
//! root commit is compared with nothing). No diff is computed: two tree lookups per crate and
//! commit, memoised per tree, and identical root trees short-cut everything. The judge is git
//! itself: for every commit `c` of the walk, the crate is touched iff
//! `git diff-tree --no-commit-id -r --name-only c^1 c -- <dir>` prints something
//! (`git diff-tree --root` for root commits). Merge commits are therefore attributed when
//! their first-parent diff touches the folder, i.e. when the merged branch changed it.
//!
//! A crate folder that contains other members' folders (a root package above `crates/*`, say)
//! excludes them: when its tree id differs, the two trees are compared entry by entry, and
//! only differences outside the nested members' folders count — still by ids, descending
//! only along the nested folders' paths. The judge is then `git diff-tree … -- <dir>
//! ':!<dir>/<nested>'`.
//!
//! For commits that touch no crate, the changed paths up to two levels deep are listed, so
//! the plan can say what the commit changed.

use std::collections::BinaryHeap;

use gix::hashtable::HashMap;
use std::path::Path;

use gix::ObjectId;
use gix::bstr::ByteSlice as _;

use crate::error::{Error, Result};

/// A tag pointing (possibly through annotated tag objects) at a commit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TagRef {
    /// The short name (without `refs/tags/`).
    pub name: String,
    /// The commit's hex id.
    pub commit: String,
}

/// What the walk needs to know about one crate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WalkCrate {
    /// The crate folder relative to the workspace root, `/`-separated (empty: the root).
    pub dir: String,
    /// Hex ids of the commits of the crate's release tags.
    pub released_at: Vec<String>,
    /// Folders inside `dir` (relative to it, `/`-separated) whose changes do not count for
    /// this crate: the folders of other members nested in it.
    pub exclude: Vec<String>,
}

/// A commit reachable from `HEAD` that is unreleased for at least one crate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitRecord {
    /// The hex id.
    pub id: String,
    /// The parents' hex ids, first parent first.
    pub parents: Vec<String>,
    /// Committer time, seconds since the Unix epoch.
    pub time: i64,
    /// The raw message.
    pub message: String,
    /// Indexes (into the walk's crates) of the crates for which this commit is unreleased.
    pub unreleased: Vec<usize>,
    /// Indexes of the unreleased crates whose folder this commit changed (first parent).
    pub touched: Vec<usize>,
    /// When `touched` is empty: the changed paths, up to two levels deep, relative to the
    /// repository root.
    pub changed_paths: Vec<String>,
    /// For each touched crate: its folder's tree id in this commit and in the first parent,
    /// so later rules read the folder without looking it up again, and whether a packaged
    /// file differs between the two (`None`: not judged, see [`Repo::walk_with`]).
    pub(crate) folder_trees: Vec<FolderChange>,
}

/// A touched crate's folder in a commit: the crate's index, the folder's tree id in the
/// commit and in its first parent, and whether a packaged file differs between the two.
pub(crate) type FolderChange = (usize, Option<ObjectId>, Option<ObjectId>, Option<bool>);

/// Everything the walk found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Walk {
    /// The commits, newest first (by committer time, then discovery order).
    pub commits: Vec<CommitRecord>,
    /// How many commits were read, including released ones needed to stop the walk.
    pub visited: usize,
    /// Whether some parent commit was missing (a shallow clone).
    pub truncated: bool,
    /// Commits the walk found reachable from `HEAD` (processed or queued): a side walk can
    /// stop at them.
    pub(crate) head_reached: gix::hashtable::HashSet<ObjectId>,
    /// The committer time of the oldest commit the walk processed.
    pub(crate) oldest_time: Option<i64>,
}

/// A git repository opened for reading.
#[derive(Debug)]
pub struct Repo {
    repo: gix::Repository,
    /// The workspace root relative to the work tree, as path components.
    prefix: Vec<String>,
}

#[derive(Clone, Debug)]
struct CommitInfo {
    parents: Vec<ObjectId>,
    time: i64,
    tree: ObjectId,
    /// Kept from the first read: inflating the commit again would double the cost.
    message: String,
}

/// A growable bit set: bit i = "released for crate i".
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Bits(Vec<u64>);

impl Bits {
    fn set(&mut self, bit: usize) {
        let word = bit / 64;
        if self.0.len() <= word {
            self.0.resize(word + 1, 0);
        }
        self.0[word] |= 1 << (bit % 64);
    }

    fn get(&self, bit: usize) -> bool {
        self.0.get(bit / 64).is_some_and(|w| w & (1 << (bit % 64)) != 0)
    }

    /// Adds `other`'s bits; true if something changed.
    fn union(&mut self, other: &Bits) -> bool {
        if self.0.len() < other.0.len() {
            self.0.resize(other.0.len(), 0);
        }
        let mut changed = false;
        for (mine, theirs) in self.0.iter_mut().zip(&other.0) {
            let before = *mine;
            *mine |= theirs;
            changed |= *mine != before;
        }
        changed
    }

    fn covers(&self, other: &Bits) -> bool {
        other.0.iter().enumerate().all(|(i, w)| self.0.get(i).copied().unwrap_or(0) & w == *w)
    }
}

#[derive(Clone, Debug, Default)]
struct Paint {
    released: Bits,
    from_head: bool,
    /// Order of first processing, for a stable output order.
    seq: Option<usize>,
    /// Whether an entry for the commit is in the queue.
    queued: bool,
}

/// The walk's priority queue (newest committer time first) and the paint of every commit.
#[derive(Debug, Default)]
struct Queue {
    heap: BinaryHeap<(i64, std::cmp::Reverse<usize>, ObjectId)>,
    paint: HashMap<ObjectId, Paint>,
    /// Every crate's bit.
    all: Bits,
    pushes: usize,
    /// How many queued commits are interesting (reachable from `HEAD`, unreleased for some
    /// crate); kept up to date so that the stop test costs nothing.
    interesting_queued: usize,
}

impl Queue {
    fn interesting(&self, paint: &Paint) -> bool {
        paint.from_head && !paint.released.covers(&self.all)
    }

    /// Paints `id` with `released` / `from_head` and queues it if that changed anything.
    fn offer(
        &mut self,
        engine: &mut Engine<'_>,
        id: ObjectId,
        released: &Bits,
        from_head: bool,
    ) -> Result<()> {
        let new = !self.paint.contains_key(&id);
        let mut entry = self.paint.remove(&id).unwrap_or_default();
        let was_interesting = entry.queued && self.interesting(&entry);
        let grew = entry.released.union(released) | (from_head && !entry.from_head);
        entry.from_head |= from_head;
        if (new || grew) && !entry.queued {
            entry.queued = true;
            let time = engine.commit(id)?.time;
            self.pushes += 1;
            self.heap.push((time, std::cmp::Reverse(self.pushes), id));
        }
        let is_interesting = entry.queued && self.interesting(&entry);
        match (was_interesting, is_interesting) {
            (false, true) => self.interesting_queued += 1,
            (true, false) => self.interesting_queued -= 1,
            _ => {}
        }
        self.paint.insert(id, entry);
        Ok(())
    }

    /// Takes the newest queued commit: its paint and id.
    fn pop(&mut self, seq: &mut usize) -> Option<(Bits, bool, ObjectId)> {
        let (_, _, id) = self.heap.pop()?;
        let interesting = self.paint.get(&id).is_some_and(|p| self.interesting(p));
        let state = self.paint.get_mut(&id)?;
        state.queued = false;
        if interesting {
            self.interesting_queued -= 1;
        }
        if state.seq.is_none() {
            state.seq = Some(*seq);
            *seq += 1;
        }
        Some((state.released.clone(), state.from_head, id))
    }
}

type TreeEntries = std::rc::Rc<Tree>;

/// A decoded tree: its entries' names in one buffer (one allocation per tree, not per entry),
/// with their ids and whether each is a tree, in git's tree order.
#[derive(Debug, Default)]
pub(crate) struct Tree {
    names: String,
    entries: Vec<(u32, u32, ObjectId, bool)>,
}

impl Tree {
    /// Reads and decodes the tree `id`.
    pub(crate) fn read(repo: &gix::Repository, id: ObjectId) -> Result<Self> {
        let object = repo.find_tree(id).map_err(|e| Error::git(format!("read tree {id}"), e))?;
        let decoded = object.decode().map_err(|e| Error::git(format!("decode tree {id}"), e))?;
        let mut built = Tree {
            names: String::with_capacity(decoded.entries.iter().map(|e| e.filename.len()).sum()),
            entries: Vec::with_capacity(decoded.entries.len()),
        };
        for entry in &decoded.entries {
            let start = built.names.len();
            built.names.push_str(&entry.filename.to_str_lossy());
            let (start, end) = (
                u32::try_from(start).unwrap_or(u32::MAX),
                u32::try_from(built.names.len()).unwrap_or(u32::MAX),
            );
            built.entries.push((start, end, entry.oid.to_owned(), entry.mode.is_tree()));
        }
        Ok(built)
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// The entry at `index`: name, id, whether it is a tree.
    pub(crate) fn get(&self, index: usize) -> Option<(&str, ObjectId, bool)> {
        let (start, end, id, is_tree) = *self.entries.get(index)?;
        Some((self.names.get(start as usize..end as usize).unwrap_or_default(), id, is_tree))
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, ObjectId, bool)> {
        (0..self.len()).filter_map(|i| self.get(i))
    }

    /// The entries that differ between `self` (new) and `old`, paired by name in one pass
    /// (both lists are in git's tree order): `(name, new side, old side)`, each side `(id,
    /// is_tree)` or `None` where the name is absent. A name that is a file on one side and a
    /// folder on the other comes out as two unpaired entries.
    pub(crate) fn diff<'t>(
        &'t self,
        old: &'t Tree,
    ) -> impl Iterator<Item = (&'t str, Side, Side)> + 't {
        let (mut i, mut j) = (0, 0);
        std::iter::from_fn(move || {
            loop {
                let side = |e: (&str, ObjectId, bool)| Some((e.1, e.2));
                return match (self.get(i), old.get(j)) {
                    (None, None) => None,
                    (Some(x), Some(y)) if tree_order(x, y) == std::cmp::Ordering::Equal => {
                        i += 1;
                        j += 1;
                        if x.1 == y.1 {
                            continue;
                        }
                        Some((x.0, side(x), side(y)))
                    }
                    (Some(x), Some(y)) if tree_order(x, y) == std::cmp::Ordering::Less => {
                        i += 1;
                        Some((x.0, side(x), None))
                    }
                    (Some(x), None) => {
                        i += 1;
                        Some((x.0, side(x), None))
                    }
                    (_, Some(y)) => {
                        j += 1;
                        Some((y.0, None, side(y)))
                    }
                };
            }
        })
    }

    /// The entry named `name`: its id and whether it is a tree.
    pub(crate) fn find(&self, name: &str) -> Option<(ObjectId, bool)> {
        self.iter().find(|(entry, _, _)| *entry == name).map(|(_, id, is_tree)| (id, is_tree))
    }
}

/// Walks with fewer commits to attribute than this stay on one thread.
const PARALLEL_FROM: usize = 1024;

/// Decoded trees kept at most; a walk needs a tree for two consecutive commits, so a small
/// cache that is simply cleared when full keeps memory flat on any history.
const TREE_CACHE: usize = 8192;

/// One side of a tree entry: its object id and whether it is a tree.
type Side = Option<(ObjectId, bool)>;

impl Repo {
    /// Opens the repository containing the workspace root `workspace_root`.
    pub fn open(workspace_root: &Path) -> Result<Self> {
        let mut repo = gix::discover(workspace_root).map_err(|e| {
            Error::git(format!("open the repository at {}", workspace_root.display()), e)
        })?;
        // Without gix's `max-performance-safe` feature no delta-base cache is installed, and
        // every tree read resolves its whole delta chain again; trees of consecutive commits
        // share bases, so a small LRU of decoded bases pays for itself (each clone of the
        // handle gets its own).
        repo.objects.set_pack_cache(|| {
            Box::new(gix::odb::pack::cache::lru::StaticLinkedList::<64>::default())
        });
        let prefix = match repo.workdir() {
            Some(workdir) => {
                let workdir = workdir
                    .canonicalize()
                    .map_err(|source| Error::Read { path: workdir.to_owned(), source })?;
                let root = workspace_root
                    .canonicalize()
                    .map_err(|source| Error::Read { path: workspace_root.to_owned(), source })?;
                root.strip_prefix(&workdir)
                    .map(|rel| {
                        rel.components()
                            .map(|c| c.as_os_str().to_string_lossy().into_owned())
                            .collect()
                    })
                    .unwrap_or_default()
            }
            None => Vec::new(),
        };
        Ok(Self { repo, prefix })
    }

    /// The id of `HEAD`, or `None` on an unborn branch (a repository without commits).
    pub fn head(&self) -> Result<Option<String>> {
        let head = self.repo.head().map_err(|e| Error::git("read HEAD", e))?;
        Ok(head.id().map(|id| id.detach().to_string()))
    }

    /// All tags that point at commits.
    pub fn tags(&self) -> Result<Vec<TagRef>> {
        let platform = self.repo.references().map_err(|e| Error::git("list references", e))?;
        let tags = platform.tags().map_err(|e| Error::git("list tags", e))?;
        let mut out = Vec::new();
        for reference in tags {
            let mut reference = reference.map_err(|e| Error::git("read a tag", e))?;
            let name = reference.name().shorten().to_string();
            let commit = match reference.target().try_id() {
                Some(id) => self.peel_to_commit(id.to_owned()),
                None => reference.peel_to_commit().ok().map(|c| c.id().detach()),
            };
            // Tags of trees or blobs are no releases; skip them rather than fail.
            let Some(commit) = commit else { continue };
            out.push(TagRef { name, commit: commit.to_string() });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// The commit `id` points at, through annotated tags; `None` for trees, blobs and unreadable
    /// objects. Only the header of the final object is read: the walk reads the tagged commits
    /// anyway, and inflating them here too cost a tenth of a plan.
    fn peel_to_commit(&self, mut id: ObjectId) -> Option<ObjectId> {
        // Tag chains are short; the bound only guards against a cycle in a broken repository.
        for _ in 0..32 {
            match self.repo.find_header(id).ok()?.kind() {
                gix::object::Kind::Commit => return Some(id),
                gix::object::Kind::Tag => {
                    id = self.repo.find_tag(id).ok()?.target_id().ok()?.detach();
                }
                gix::object::Kind::Tree | gix::object::Kind::Blob => return None,
            }
        }
        None
    }

    /// Walks from `HEAD` and attributes commits to `crates`. See the module documentation.
    pub fn walk(&self, crates: &[WalkCrate]) -> Result<Walk> {
        self.walk_with(crates, &[])
    }

    /// [`Repo::walk`], also judging for each touched crate whose packaging rules `packaged`
    /// gives (same order as `crates`; missing ones are not judged) whether a packaged file
    /// differs from the first parent ([`crate::content`]'s net effect, first step). The
    /// attribution threads have the folder trees at hand, so this costs no second pass.
    pub(crate) fn walk_with(
        &self,
        crates: &[WalkCrate],
        packaged: &[crate::content::Packaged],
    ) -> Result<Walk> {
        let Some(head) = self.repo.head().map_err(|e| Error::git("read HEAD", e))?.id() else {
            return Ok(Walk {
                commits: Vec::new(),
                visited: 0,
                truncated: false,
                head_reached: Default::default(),
                oldest_time: None,
            });
        };
        let mut engine = Engine {
            repo: &self.repo,
            commits: HashMap::default(),
            shared: None,
            trees: HashMap::default(),
            truncated: false,
            shallow: self.repo.is_shallow(),
        };
        // Bit i set = released for crate i; a commit stays interesting while some bit is unset.
        let mut all = Bits::default();
        for index in 0..crates.len() {
            all.set(index);
        }
        let mut queue = Queue { all, ..Queue::default() };
        queue.offer(&mut engine, head.detach(), &Bits::default(), true)?;
        for (index, krate) in crates.iter().enumerate() {
            let mut bits = Bits::default();
            bits.set(index);
            for hex in &krate.released_at {
                let id = ObjectId::from_hex(hex.as_bytes())
                    .map_err(|e| Error::git(format!("parse commit id {hex}"), e))?;
                queue.offer(&mut engine, id, &bits, false)?;
            }
        }
        let mut seq = 0usize;
        // git's `everybody_uninteresting`: stop once only released commits are queued.
        while queue.interesting_queued > 0 {
            let Some((released, from_head, id)) = queue.pop(&mut seq) else { break };
            let parents = engine.commit(id)?.parents.clone();
            for parent in parents {
                queue.offer(&mut engine, parent, &released, from_head)?;
            }
        }
        let Queue { paint, all, .. } = queue;
        let interesting = |p: &Paint| p.from_head && !p.released.covers(&all);
        let visited = paint.values().filter(|p| p.seq.is_some()).count();
        let head_reached = paint.iter().filter(|(_, p)| p.from_head).map(|(id, _)| *id).collect();
        let oldest_time = paint
            .iter()
            .filter(|(_, p)| p.seq.is_some())
            .filter_map(|(id, _)| engine.commits.get(id).map(|c| c.time))
            .min();
        let mut selected: Vec<(ObjectId, Paint)> =
            paint.into_iter().filter(|(_, p)| p.seq.is_some() && interesting(p)).collect();
        selected.sort_by_key(|(id, p)| {
            let time = engine.commits.get(id).map_or(0, |c| c.time);
            (std::cmp::Reverse(time), p.seq)
        });
        let trie = Trie::new(crates, &self.prefix);
        let jobs: Vec<(ObjectId, Vec<usize>)> = selected
            .into_iter()
            .map(|(id, state)| {
                (id, (0..crates.len()).filter(|i| !state.released.get(*i)).collect())
            })
            .collect();
        let truncated = engine.truncated;
        let shared = std::mem::take(&mut engine.commits);
        // Attribution reads two trees per commit and dominates long walks: split it over the
        // cores, each thread with its own repository handle and caches, in contiguous chunks
        // (a commit's parent tree is usually its neighbour's).
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(4);
        let chunk = if jobs.len() < PARALLEL_FROM {
            jobs.len().max(1)
        } else {
            jobs.len().div_ceil(threads)
        };
        let results: Vec<Result<Vec<CommitRecord>>> = std::thread::scope(|scope| {
            let handles: Vec<_> = jobs
                .chunks(chunk)
                .map(|part| {
                    let repo = self.repo.clone();
                    let (trie, shared) = (&trie, &shared);
                    scope.spawn(move || {
                        let mut engine = Engine {
                            repo: &repo,
                            commits: HashMap::default(),
                            shared: Some(shared),
                            trees: HashMap::default(),
                            truncated: false,
                            shallow: repo.is_shallow(),
                        };
                        let mut trees = crate::content::Trees::from_gix(&repo);
                        part.iter()
                            .map(|(id, unreleased)| {
                                let mut record = engine.record(*id, unreleased.clone(), trie)?;
                                for change in &mut record.folder_trees {
                                    let Some(rules) = packaged.get(change.0) else { continue };
                                    let differs =
                                        trees.packaged_changed(change.1, change.2, rules)?;
                                    change.3 = Some(differs);
                                }
                                Ok(record)
                            })
                            .collect()
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|_| Err(Error::git("walk", "a worker panicked"))))
                .collect()
        });
        let mut commits = Vec::with_capacity(jobs.len());
        for part in results {
            commits.extend(part?);
        }
        Ok(Walk { commits, visited, truncated, head_reached, oldest_time })
    }

    /// The gix repository, for the modules that read trees and blobs of their own.
    pub(crate) fn gix(&self) -> &gix::Repository {
        &self.repo
    }

    /// The workspace root relative to the work tree, as path components.
    pub(crate) fn prefix(&self) -> &[String] {
        &self.prefix
    }
}

struct Engine<'r> {
    repo: &'r gix::Repository,
    commits: HashMap<ObjectId, CommitInfo>,
    /// Commits read by the walk, shared read-only with the attribution threads.
    shared: Option<&'r HashMap<ObjectId, CommitInfo>>,
    trees: HashMap<ObjectId, TreeEntries>,
    truncated: bool,
    shallow: bool,
}

impl Engine<'_> {
    fn commit(&mut self, id: ObjectId) -> Result<&CommitInfo> {
        if let Some(info) = self.shared.and_then(|shared| shared.get(&id)) {
            return Ok(info);
        }
        if !self.commits.contains_key(&id) {
            let commit = self
                .repo
                .find_commit(id)
                .map_err(|e| Error::git(format!("read commit {id}"), e))?;
            let decoded =
                commit.decode().map_err(|e| Error::git(format!("read commit {id}"), e))?;
            let mut parents = Vec::with_capacity(decoded.parents.len());
            for parent in decoded.parents() {
                // Only a shallow clone lacks parents; elsewhere the lookup is not worth it.
                if !self.shallow || self.repo.has_object(parent) {
                    parents.push(parent);
                } else {
                    self.truncated = true;
                }
            }
            let time = decoded
                .committer()
                .map_err(|e| Error::git(format!("read commit {id}"), e))?
                .seconds();
            let info = CommitInfo {
                parents,
                time,
                tree: decoded.tree(),
                message: decoded.message.to_string(),
            };
            self.commits.insert(id, info);
        }
        self.commits.get(&id).ok_or_else(|| Error::git("commit cache", format!("{id} vanished")))
    }

    fn entries(&mut self, tree: ObjectId) -> Result<TreeEntries> {
        if let Some(entries) = self.trees.get(&tree) {
            return Ok(entries.clone());
        }
        let entries: TreeEntries = std::rc::Rc::new(Tree::read(self.repo, tree)?);
        if self.trees.len() >= TREE_CACHE {
            self.trees.clear();
        }
        self.trees.insert(tree, entries.clone());
        Ok(entries)
    }

    /// The entries (name, new side, old side; each `(id, is_tree)`) that differ between two trees,
    /// by name. Either tree may be absent.
    fn differing_entries(
        &mut self,
        new: Option<ObjectId>,
        old: Option<ObjectId>,
    ) -> Result<Vec<(String, Side, Side)>> {
        let mut by_name: std::collections::BTreeMap<String, (Side, Side)> = Default::default();
        if let Some(id) = new {
            for (name, id, is_tree) in self.entries(id)?.iter() {
                by_name.entry(name.to_owned()).or_default().0 = Some((id, is_tree));
            }
        }
        if let Some(id) = old {
            for (name, id, is_tree) in self.entries(id)?.iter() {
                by_name.entry(name.to_owned()).or_default().1 = Some((id, is_tree));
            }
        }
        Ok(by_name.into_iter().filter(|(_, (a, b))| a != b).map(|(n, (a, b))| (n, a, b)).collect())
    }

    /// Paths (up to `depth` levels) whose entries differ between two trees.
    fn changed_paths(
        &mut self,
        new: Option<ObjectId>,
        old: Option<ObjectId>,
        base: &str,
        depth: usize,
        out: &mut Vec<String>,
    ) -> Result<()> {
        if new == old {
            return Ok(());
        }
        for (name, a, b) in self.differing_entries(new, old)? {
            let path = if base.is_empty() { name } else { format!("{base}/{name}") };
            let both_trees = a.is_none_or(|(_, t)| t) && b.is_none_or(|(_, t)| t);
            if depth > 1 && both_trees {
                self.changed_paths(a.map(|x| x.0), b.map(|x| x.0), &path, depth - 1, out)?;
            } else {
                out.push(path);
            }
        }
        Ok(())
    }

    /// Whether two trees differ outside the `exclude`d paths (each a list of components).
    fn differs(
        &mut self,
        new: Option<ObjectId>,
        old: Option<ObjectId>,
        exclude: &[Vec<&str>],
    ) -> Result<bool> {
        if new == old {
            return Ok(false);
        }
        if exclude.is_empty() {
            return Ok(true);
        }
        if exclude.iter().any(Vec::is_empty) {
            return Ok(false);
        }
        for (name, a, b) in self.differing_entries(new, old)? {
            let below: Vec<Vec<&str>> = exclude
                .iter()
                .filter(|p| p.first() == Some(&name.as_str()))
                .map(|p| p[1..].to_vec())
                .collect();
            let trees = a.is_none_or(|(_, t)| t) && b.is_none_or(|(_, t)| t);
            if below.is_empty() || !trees {
                return Ok(true);
            }
            if self.differs(a.map(|x| x.0), b.map(|x| x.0), &below)? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn record(
        &mut self,
        id: ObjectId,
        unreleased: Vec<usize>,
        trie: &Trie<'_>,
    ) -> Result<CommitRecord> {
        let (tree, parents, time, message) = {
            let info = self.commit(id)?;
            (info.tree, info.parents.clone(), info.time, info.message.clone())
        };
        let parent_tree = match parents.first() {
            Some(parent) => Some(self.commit(*parent)?.tree),
            None => None,
        };
        let mut folder_trees = Vec::new();
        self.touched(Some(tree), parent_tree, trie, 0, &mut folder_trees)?;
        folder_trees.retain(|(index, _, _, _)| unreleased.contains(index));
        folder_trees.sort_unstable_by_key(|(index, _, _, _)| *index);
        let touched: Vec<usize> = folder_trees.iter().map(|(index, _, _, _)| *index).collect();
        let mut changed_paths = Vec::new();
        if touched.is_empty() {
            self.changed_paths(Some(tree), parent_tree, "", 2, &mut changed_paths)?;
        }
        Ok(CommitRecord {
            id: id.to_string(),
            parents: parents.iter().map(ToString::to_string).collect(),
            time,
            message,
            unreleased,
            touched,
            changed_paths,
            folder_trees,
        })
    }

    /// Adds to `out` the crates of trie node `node` and below whose folder differs between
    /// `new` and `old` (trees at that node's path): one descent for all crates, entering only
    /// subtrees whose ids differ.
    fn touched(
        &mut self,
        new: Option<ObjectId>,
        old: Option<ObjectId>,
        trie: &Trie<'_>,
        node: usize,
        out: &mut Vec<FolderChange>,
    ) -> Result<()> {
        if new == old {
            return Ok(());
        }
        let here = &trie.nodes[node];
        for (index, exclude) in &here.crates {
            if self.differs(new, old, exclude)? {
                out.push((*index, new, old, None));
            }
        }
        if here.children.is_empty() {
            return Ok(());
        }
        // Pair the children's entries of both trees by name (both lists are in git's tree
        // order), keeping only subtrees that differ.
        let new_entries = match new {
            Some(tree) => Some(self.entries(tree)?),
            None => None,
        };
        let old_entries = match old {
            Some(tree) => Some(self.entries(tree)?),
            None => None,
        };
        let find = |entries: &Option<TreeEntries>, name: &str| {
            entries.as_ref().and_then(|tree| {
                tree.iter().find(|(entry, _, is_tree)| *is_tree && *entry == name).map(|e| e.1)
            })
        };
        let mut differing = Vec::new();
        if here.children.len() == 1 {
            let (name, child) = here.children[0];
            let (a, b) = (find(&new_entries, name), find(&old_entries, name));
            if a != b {
                differing.push((child, a, b));
            }
        } else {
            let empty = Tree::default();
            let a = new_entries.as_deref().unwrap_or(&empty);
            let b = old_entries.as_deref().unwrap_or(&empty);
            let subtree = |side: Option<(ObjectId, bool)>| side.filter(|s| s.1).map(|s| s.0);
            for (name, new_side, old_side) in a.diff(b) {
                let (new_id, old_id) = (subtree(new_side), subtree(old_side));
                if new_id == old_id {
                    continue;
                }
                if let Some((_, child)) = here.children.iter().find(|(c, _)| *c == name) {
                    differing.push((*child, new_id, old_id));
                }
            }
        }
        for (child, a, b) in differing {
            self.touched(a, b, trie, child, out)?;
        }
        Ok(())
    }
}

/// git's order of tree entries: by name, a tree's name compared as if it ended in `/`.
pub(crate) fn tree_order(
    a: (&str, ObjectId, bool),
    b: (&str, ObjectId, bool),
) -> std::cmp::Ordering {
    let (x, y) = (a.0.as_bytes(), b.0.as_bytes());
    let common = x.len().min(y.len());
    match x[..common].cmp(&y[..common]) {
        std::cmp::Ordering::Equal => {}
        other => return other,
    }
    let next = |name: &[u8], is_tree: bool| match name.get(common) {
        Some(byte) => *byte,
        None if is_tree => b'/',
        None => 0,
    };
    next(x, a.2).cmp(&next(y, b.2))
}

/// The crate folders as a tree of path components, so that one descent per commit finds
/// every touched crate.
struct Trie<'c> {
    nodes: Vec<TrieNode<'c>>,
}

#[derive(Default)]
struct TrieNode<'c> {
    children: Vec<(&'c str, usize)>,
    /// Crates whose folder is this node, with the nested folders they exclude.
    crates: Vec<(usize, Vec<Vec<&'c str>>)>,
}

impl<'c> Trie<'c> {
    fn new(crates: &'c [WalkCrate], prefix: &'c [String]) -> Self {
        let mut nodes = vec![TrieNode::default()];
        for (index, krate) in crates.iter().enumerate() {
            let mut node = 0;
            let components = prefix
                .iter()
                .map(String::as_str)
                .chain(krate.dir.split('/').filter(|c| !c.is_empty()));
            for component in components {
                node = match nodes[node].children.iter().find(|(name, _)| *name == component) {
                    Some((_, child)) => *child,
                    None => {
                        nodes.push(TrieNode::default());
                        let child = nodes.len() - 1;
                        nodes[node].children.push((component, child));
                        child
                    }
                };
            }
            let exclude = krate
                .exclude
                .iter()
                .map(|p| p.split('/').filter(|c| !c.is_empty()).collect())
                .collect();
            nodes[node].crates.push((index, exclude));
        }
        Self { nodes }
    }
}
