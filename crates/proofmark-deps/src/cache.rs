//! The results cache: one JSON file per probe result, found by either of two keys.
//!
//! * The **resolved key** covers everything that decided a result: the lockfile a fresh
//!   consumer resolves today (packages, checksums, yank states), the toolchain and every probe
//!   setting, the feature set included. Computing it needs `cargo generate-lockfile` (about a
//!   second per version).
//! * The **index key** answers a warm re-run without running cargo at all: it hashes the index
//!   files of every crate cargo's resolver could consult for the consumer (see [`index_key`]
//!   for why an unchanged set of files means an identical resolution). A result stores the index
//!   keys it was reached under; when the index moved somewhere that does not change the
//!   lockfile, the resolved key still finds it and the new index key is added.
//!
//! Results that need no cargo (the index stage, a yanked version) are keyed on index lines
//! alone ([`lines_key`]).

use std::collections::{BTreeSet, VecDeque};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::CheckOptions;
use crate::cargo;
use crate::culprit;
use crate::error::Result;
use crate::index::IndexEntry;
use crate::probe::{self, ProbeResult, Prober};

/// What a cache file holds.
#[derive(Debug, Serialize, Deserialize)]
struct Cached {
    /// The index keys this result was reached under.
    #[serde(default)]
    index_keys: Vec<String>,
    result: ProbeResult,
}

/// One probe, through the results cache when there is one: first the index key (no cargo),
/// then the resolved key (one `cargo generate-lockfile`), then the probe itself.
pub(crate) fn probe_cached(
    prober: &Prober<'_>,
    opts: &CheckOptions,
    entry: &IndexEntry,
    worker: usize,
) -> Result<ProbeResult> {
    let index_decided = probe::index_decided(&prober.index_notes(entry)?).is_some();
    if prober.opts.stage == probe::Stage::Index || entry.yanked || index_decided {
        // No cargo runs: no scratch folder to create and remove.
        let key = match &opts.cache_dir {
            Some(_) => Some(lines_key(prober, entry)?),
            None => None,
        };
        let path = cache_path(opts, entry, key.as_deref());
        if let Some(hit) = read(path.as_deref()) {
            return Ok(hit.result);
        }
        let result = prober.probe(entry, worker, &prober.env.scratch_root)?;
        write(path.as_deref(), &Cached { index_keys: Vec::new(), result: result.clone() });
        return Ok(result);
    }
    let quick = match &opts.cache_dir {
        // The index key only saves cargo runs: when it cannot be had (a closure too large, an
        // index file that cannot be read), the resolved key still keys the result.
        Some(dir) => index_key(prober, entry).ok().flatten().map(|k| (dir, k)),
        None => None,
    };
    if let Some((dir, key)) = &quick {
        if let Some(hit) = find_by_index_key(dir, entry, key) {
            return Ok(hit);
        }
    }
    let dir = probe::scratch_dir(prober.env, entry)?;
    let result = probe_in(prober, opts, entry, worker, &dir, quick.map(|(_, k)| k));
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn probe_in(
    prober: &Prober<'_>,
    opts: &CheckOptions,
    entry: &IndexEntry,
    worker: usize,
    dir: &Path,
    index_key: Option<String>,
) -> Result<ProbeResult> {
    let Some(cache_dir) = &opts.cache_dir else { return prober.probe(entry, worker, dir) };
    // Nothing stored for this version yet (a cold run): no resolved key can hit, so the probe
    // resolves by itself and the key is computed from its own lockfile afterwards.
    if !has_entries(cache_dir, entry) {
        let result = prober.probe(entry, worker, dir)?;
        if worth_keeping(&result) {
            let manifest = result.manifest.as_deref().unwrap_or_default();
            let key = lock_key(prober, entry, manifest, result.lockfile.as_deref())?;
            let index_keys = index_key.into_iter().collect();
            write(
                cache_path(opts, entry, Some(&key)).as_deref(),
                &Cached { index_keys, result: result.clone() },
            );
        }
        return Ok(result);
    }
    let (key, lockfile, resolution) = resolved_key(prober, entry, worker, dir)?;
    let path = cache_path(opts, entry, Some(&key));
    if let Some(mut hit) = read(path.as_deref()) {
        // The index moved somewhere that left the resolution as it was: remember this state.
        if let Some(k) = index_key.filter(|k| !hit.index_keys.contains(k)) {
            hit.index_keys.push(k);
            write(path.as_deref(), &hit);
        }
        return Ok(hit.result);
    }
    let result = prober.probe_resolved(entry, worker, dir, Some(&resolution))?;
    // A result whose resolution moved between the key and the probe is not stored.
    if worth_keeping(&result) && result.lockfile == lockfile {
        let index_keys = index_key.into_iter().collect();
        write(path.as_deref(), &Cached { index_keys, result: result.clone() });
    }
    Ok(result)
}

/// Spurious outcomes (a timed-out culprit search included) are not worth remembering.
fn worth_keeping(result: &ProbeResult) -> bool {
    !matches!(result.class, probe::Class::Spurious { .. })
        && !matches!(result.culprit, Some(culprit::CulpritSearch::Inconclusive { .. }))
}

fn has_entries(dir: &Path, entry: &IndexEntry) -> bool {
    let start = format!("{}-", prefix(entry));
    std::fs::read_dir(dir)
        .map(|files| files.flatten().any(|f| f.file_name().to_string_lossy().starts_with(&start)))
        .unwrap_or(false)
}

/// `NAME-VERSION-KEY.json` (the feature set is in the key).
fn cache_path(opts: &CheckOptions, entry: &IndexEntry, key: Option<&str>) -> Option<PathBuf> {
    let (dir, key) = (opts.cache_dir.as_ref()?, key?);
    Some(dir.join(format!("{}-{key}.json", prefix(entry))))
}

fn prefix(entry: &IndexEntry) -> String {
    format!("{}-{}", entry.name, entry.vers)
}

fn read(path: Option<&Path>) -> Option<Cached> {
    let text = std::fs::read_to_string(path?).ok()?;
    serde_json::from_str(&text).ok()
}

/// The result stored under `key` among this version's cache files (a handful: one per
/// distinct resolution the version has had).
fn find_by_index_key(dir: &Path, entry: &IndexEntry, key: &str) -> Option<ProbeResult> {
    let start = format!("{}-", prefix(entry));
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .filter(|f| f.file_name().to_string_lossy().starts_with(&start))
        .filter_map(|f| read(Some(&f.path())))
        .find(|c| c.index_keys.iter().any(|k| k == key))
        .map(|c| c.result)
}

/// Stores a result atomically (temp file + rename): a reader never sees half a result.
fn write(path: Option<&Path>, cached: &Cached) {
    let Some(path) = path else { return };
    let Some(parent) = path.parent() else { return };
    let _ = std::fs::create_dir_all(parent);
    let Ok(mut tmp) = tempfile::NamedTempFile::new_in(parent) else { return };
    let text = serde_json::to_string(cached).unwrap_or_default();
    if std::io::Write::write_all(&mut tmp, text.as_bytes()).is_ok() {
        let _ = tmp.persist(path);
    }
}

/// What every key ends with: the toolchain and every probe setting (stage, feature set,
/// registry, culprit search, time limits, retries).
fn settings(prober: &Prober<'_>) -> String {
    format!("\n{} {}\n{:?}", prober.toolchain.rustc, prober.toolchain.host, prober.opts)
}

fn digest(text: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(text.as_bytes());
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// The key of a result that needs no cargo (index stage, yanked version): the version's index
/// line and its dependencies' index lines decide it.
fn lines_key(prober: &Prober<'_>, entry: &IndexEntry) -> Result<String> {
    let mut text = serde_json::to_string(entry).unwrap_or_default();
    for dep in &entry.deps {
        for v in prober.index.versions(dep.crate_name())?.iter() {
            text.push_str(&format!("\n{}@{} {} {}", v.name, v.vers, v.yanked, v.cksum));
        }
    }
    text.push_str(&settings(prober));
    Ok(digest(&text))
}

/// The index key: the version's index line, the full index files (every version, its yank
/// state, checksum, dependencies and features) of every crate in its *candidate closure*, and
/// the settings. `None` when a dependency lives in another registry, whose index we do not
/// read (the resolved key still applies).
///
/// The candidate closure is the smallest set of crate names that contains the version's own
/// crate and, for every requirement `(name, req)` of a normal or build dependency (optional and
/// target-specific ones included) of any version in it, `name`, and then the requirements of
/// every version of `name` that matches `req` (yanked ones included; a pre-release counts when
/// `req` matches its release, a superset of cargo's rule).
///
/// Why an unchanged key means cargo would resolve the same lockfile: cargo's resolver is a
/// deterministic function of the root manifest, the index summaries it loads, the toolchain
/// (`rust-version` fallback) and the cargo configuration. The root manifest is fixed by the
/// version and the feature set (both in the key); toolchain and settings are in the key; the
/// configuration is the environment's, as for the resolved key. Every summary the resolver
/// loads is one of the closure's: it starts from `NAME = "=VERSION"`, and it only ever loads
/// the candidates of a requirement (versions of that name matching it; yanked ones are loaded
/// and then skipped) of a summary it already loaded, which by induction is in the closure,
/// so the candidate's name is too. Which version it finally picks, backtracking included,
/// depends only on what those summaries say, and the key holds all of them, not only the
/// versions picked last time. That is why the closure is not "the packages of the previous
/// lockfile": a new release of a crate the previous resolution rejected or never reached
/// (say `x 2.0.0` that lets a newer candidate of a direct dependency in) changes the result
/// while every locked package's index file stays the same.
///
/// The compile result then depends on the lockfile, the `.crate` contents (their checksums are
/// in the index lines hashed here), the toolchain and the settings; the look-through and the
/// culprit search read only index entries of locked packages or candidates, all in the
/// closure. The index is read once per run, before cargo resolves: if a release lands between
/// the two, the key is of the older state, which later runs never see again (releases are
/// never removed; only a yank undone within that window could bring it back).
///
/// On crates.io a closure can reach thousands of crates (every version of every candidate,
/// optional and target-specific dependencies included): beyond [`MAX_CLOSURE`] crates there is
/// no index key (`None`), and warm runs pay one `cargo generate-lockfile` for the resolved key.
pub(crate) fn index_key(prober: &Prober<'_>, entry: &IndexEntry) -> Result<Option<String>> {
    let mut text = serde_json::to_string(entry).unwrap_or_default();
    let needed = |d: &&crate::index::IndexDep| d.kind.as_deref() != Some("dev");
    let mut queue: VecDeque<(String, String)> = entry
        .deps
        .iter()
        .filter(needed)
        .map(|d| (d.crate_name().to_owned(), d.req.clone()))
        .collect();
    if entry.deps.iter().filter(needed).any(|d| d.registry.is_some()) {
        return Ok(None);
    }
    let mut seen = BTreeSet::new();
    let mut names = BTreeSet::from([entry.name.clone()]);
    // Level by level, each level's index files read at once (over the internet, one at a time
    // is minutes for a crate with a large dependency graph).
    let mut level_end = 0;
    while let Some((name, req)) = queue.pop_front() {
        if level_end == 0 {
            level_end = queue.len() + 1;
            let next: Vec<String> = std::iter::once(name.clone())
                .chain(queue.iter().map(|(n, _)| n.clone()))
                .filter(|n| !names.contains(n))
                .collect();
            prober.index.prefetch(&next);
        }
        level_end -= 1;
        if !seen.insert((name.clone(), req.clone())) {
            continue;
        }
        names.insert(name.clone());
        if names.len() > MAX_CLOSURE {
            return Ok(None);
        }
        let parsed = semver::VersionReq::parse(&req).ok();
        let matches = |v: &semver::Version| match &parsed {
            // An unparsable requirement: every version, to stay a superset.
            None => true,
            Some(r) => {
                r.matches(v)
                    || !v.pre.is_empty()
                        && r.matches(&semver::Version::new(v.major, v.minor, v.patch))
            }
        };
        for v in prober.index.versions(&name)?.iter().filter(|v| matches(&v.vers)) {
            for d in v.deps.iter().filter(needed) {
                if d.registry.is_some() {
                    return Ok(None);
                }
                queue.push_back((d.crate_name().to_owned(), d.req.clone()));
            }
        }
    }
    for name in &names {
        text.push_str(&format!("\n# {name}"));
        for v in prober.index.versions(name)?.iter() {
            text.push('\n');
            text.push_str(&serde_json::to_string(v).unwrap_or_default());
        }
    }
    text.push_str(&settings(prober));
    Ok(Some(format!("i{}", digest(&text))))
}

/// The most crates an index key's candidate closure may hold: reading a few hundred index
/// files costs seconds, thousands cost minutes, more than the cargo run the key saves.
const MAX_CLOSURE: usize = 400;

/// The key of a probe that runs cargo: resolve a fresh consumer first (about a second), then
/// [`lock_key`]. Returns the key, the lockfile it was computed from, and cargo's outcome (the
/// probe reuses both rather than resolving again).
fn resolved_key(
    prober: &Prober<'_>,
    entry: &IndexEntry,
    worker: usize,
    dir: &Path,
) -> Result<(String, Option<String>, cargo::Outcome)> {
    let features = prober.consumer_features(entry, worker, dir)?;
    let registry = prober.opts.registry.as_deref();
    let manifest = cargo::write_consumer(dir, &entry.name, &entry.vers, registry, &features)?;
    let mut cmd = prober.env.command(dir, worker);
    cmd.arg("generate-lockfile");
    let out = cargo::run(cmd, prober.limit(), dir)?;
    let lock_path = dir.join("Cargo.lock");
    let lockfile = if out.success { std::fs::read_to_string(&lock_path).ok() } else { None };
    let key = lock_key(prober, entry, &manifest, lockfile.as_deref())?;
    Ok((key, lockfile, out))
}

/// The resolved key: the version's index line and the consumer's manifest (its feature set),
/// every package of the resolved lockfile with its checksum and its yank state in the index
/// today, plus the toolchain and the probe settings. When resolution failed (`lockfile` is
/// `None`), the index lines of every crate reachable from the version (by name, all versions)
/// decide instead.
fn lock_key(
    prober: &Prober<'_>,
    entry: &IndexEntry,
    manifest: &str,
    lockfile: Option<&str>,
) -> Result<String> {
    let mut text = serde_json::to_string(entry).unwrap_or_default();
    text.push('\n');
    text.push_str(manifest);
    if let Some(lockfile) = lockfile {
        for p in cargo::parse_lock(lockfile, Path::new("Cargo.lock"))? {
            let yanked = prober
                .index
                .versions(&p.name)?
                .iter()
                .find(|v| v.vers == p.version)
                .map(|v| v.yanked);
            text.push_str(&format!(
                "\n{}@{} {} {} {yanked:?}",
                p.name,
                p.version,
                p.source.unwrap_or_default(),
                p.checksum.unwrap_or_default()
            ));
        }
    } else {
        let mut seen = BTreeSet::new();
        let mut queue: VecDeque<String> =
            entry.deps.iter().map(|d| d.crate_name().to_owned()).collect();
        // Level by level, each level read at once: on crates.io this set can be thousands of
        // index files (minutes one at a time).
        let mut level_end = 0;
        while let Some(name) = queue.pop_front() {
            if level_end == 0 {
                level_end = queue.len() + 1;
                let next: Vec<String> = std::iter::once(name.clone())
                    .chain(queue.iter().cloned())
                    .filter(|n| !seen.contains(n))
                    .collect();
                prober.index.prefetch(&next);
            }
            level_end -= 1;
            if !seen.insert(name.clone()) {
                continue;
            }
            for v in prober.index.versions(&name)?.iter() {
                text.push_str(&format!("\n{}@{} {} {}", v.name, v.vers, v.yanked, v.cksum));
                for d in v.deps.iter().filter(|d| d.kind.as_deref() != Some("dev")) {
                    queue.push_back(d.crate_name().to_owned());
                }
            }
        }
    }
    text.push_str(&settings(prober));
    Ok(digest(&text))
}
