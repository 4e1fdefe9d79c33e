//! Naming the culprit of an own-code failure: rebuild the dependency set as of the version's
//! publish time from the index (yanked versions included), write it as a seed lockfile, confirm
//! it builds, diff it against today's lockfile, then move one changed package at a time to
//! today's version (`cargo update -p P@OLD --precise NEW`) and bisect the one that breaks.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::cargo::{self, LockedPackage};
use crate::error::{Result, io};
use crate::index::IndexEntry;
use crate::probe::{Class, Prober, Spurious};

/// One version of a dependency, as the index describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DepVersion {
    /// The version.
    pub version: semver::Version,
    /// Its publish time.
    pub pubtime: Option<String>,
    /// Whether it is yanked.
    pub yanked: bool,
}

/// The named culprit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Culprit {
    /// The dependency.
    pub package: String,
    /// The newest version with which the probed version builds.
    pub last_good: DepVersion,
    /// The oldest version with which it fails.
    pub first_bad: DepVersion,
    /// Builds run by the bisection.
    pub steps: u32,
}

/// What the culprit search found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum CulpritSearch {
    /// One dependency release breaks it.
    Found {
        /// The culprit.
        culprit: Culprit,
        /// Packages whose version differs between the as-published and today's lockfiles.
        changed: Vec<String>,
        /// The as-published seed lockfile.
        baseline_lock: String,
    },
    /// The index has no publish time for the version, so no baseline can be built.
    NoPubtime,
    /// The as-published dependency set fails too (toolchain drift, environment).
    BaselineFails {
        /// What compiling the baseline gave.
        class: Class,
    },
    /// No single changed package breaks it alone.
    Interaction {
        /// The changed packages.
        changed: Vec<String>,
    },
    /// A build of the search failed spuriously (most often: the probe's time limit passed), so
    /// no step can be trusted to mean "breaks it".
    Inconclusive {
        /// The changed packages known so far (empty when the baseline build was the one).
        changed: Vec<String>,
        /// The spurious outcome that stopped the search.
        class: Class,
    },
}

/// One build of the search.
enum Step {
    Builds,
    Fails,
    /// Spurious (timeout, OOM, …) even after retries: says nothing either way.
    Inconclusive(Class),
}

/// Whether `a` and `b` are semver-compatible (cargo's `^` rule).
pub(crate) fn compatible(a: &semver::Version, b: &semver::Version) -> bool {
    match (a.major, b.major) {
        (0, 0) if a.minor == 0 && b.minor == 0 => a.patch == b.patch,
        (0, 0) => a.minor == b.minor,
        (x, y) => x == y,
    }
}

/// `pubtime <= t`; entries without a publish time predate the field and count as older.
fn published_by(entry: &IndexEntry, t: &str) -> bool {
    entry.pubtime.as_deref().is_none_or(|p| p <= t)
}

pub(crate) fn search(
    prober: &Prober<'_>,
    entry: &IndexEntry,
    today: &[LockedPackage],
    worker: usize,
    dir: &Path,
) -> Result<CulpritSearch> {
    let Some(t) = entry.pubtime.as_deref() else { return Ok(CulpritSearch::NoPubtime) };
    let target = format!("{}@{}", entry.name, entry.vers);
    let mut seed = Vec::new();
    for p in today {
        if p.name == entry.name && p.version == entry.vers {
            seed.push(prober.locked(entry));
            continue;
        }
        let versions = prober.index.versions(&p.name)?;
        let best = versions
            .iter()
            .filter(|v| {
                compatible(&v.vers, &p.version) && v.vers <= p.version && published_by(v, t)
            })
            .max_by(|a, b| a.vers.cmp(&b.vers));
        if let Some(best) = best {
            seed.push(LockedPackage { source: p.source.clone(), ..prober.locked(best) });
        }
    }
    let lock_path = dir.join("Cargo.lock");
    let baseline_lock = cargo::write_seed_lock(&lock_path, &seed)?;
    let (class, _) = prober.retrying(|| prober.check(dir, worker, &target, false))?;
    if matches!(class, Class::Spurious { .. }) {
        return Ok(CulpritSearch::Inconclusive { changed: Vec::new(), class });
    }
    if class != Class::Builds {
        return Ok(CulpritSearch::BaselineFails { class });
    }
    // The baseline as cargo completed it: every later step starts from this exact file.
    let resolved = std::fs::read_to_string(&lock_path).map_err(io("read", &lock_path))?;
    let base = cargo::lock_map(&cargo::read_lock(&lock_path)?);
    let now = cargo::lock_map(today);
    let mut changed = Vec::new();
    for (name, versions) in &now {
        let (Some(new), Some(old)) = (versions.first(), base.get(name).and_then(|v| v.first()))
        else {
            continue;
        };
        if new != old {
            changed.push((name.clone(), old.clone(), new.clone()));
        }
    }
    let names: Vec<String> = changed.iter().map(|(n, o, v)| format!("{n} {o} -> {v}")).collect();
    let mut steps = 0;
    for (name, old, new) in &changed {
        steps += 1;
        match try_version(prober, dir, worker, &target, &resolved, name, old, new)? {
            Step::Builds => continue,
            Step::Fails => {}
            Step::Inconclusive(class) => {
                return Ok(CulpritSearch::Inconclusive { changed: names, class });
            }
        }
        // `name` alone breaks it: bisect over the versions between the two.
        let versions = prober.index.versions(name)?;
        let mut between: Vec<&IndexEntry> =
            versions.iter().filter(|v| &v.vers > old && &v.vers <= new).collect();
        between.sort_by(|a, b| a.vers.cmp(&b.vers));
        let (mut lo, mut hi) = (None::<usize>, between.len().saturating_sub(1));
        while lo.map_or(0, |l| l + 1) < hi {
            let mid = (lo.map_or(0, |l| l + 1) + hi) / 2;
            steps += 1;
            match try_version(
                prober,
                dir,
                worker,
                &target,
                &resolved,
                name,
                old,
                &between[mid].vers,
            )? {
                Step::Builds => lo = Some(mid),
                Step::Fails => hi = mid,
                Step::Inconclusive(class) => {
                    return Ok(CulpritSearch::Inconclusive { changed: names, class });
                }
            }
        }
        let describe = |v: &semver::Version| {
            let e = versions.iter().find(|e| &e.vers == v);
            DepVersion {
                version: v.clone(),
                pubtime: e.and_then(|e| e.pubtime.clone()),
                yanked: e.is_some_and(|e| e.yanked),
            }
        };
        let last_good = lo.map_or_else(|| old.clone(), |l| between[l].vers.clone());
        let first_bad = between.get(hi).map_or_else(|| new.clone(), |e| e.vers.clone());
        let culprit = Culprit {
            package: name.clone(),
            last_good: describe(&last_good),
            first_bad: describe(&first_bad),
            steps,
        };
        return Ok(CulpritSearch::Found { culprit, changed: names, baseline_lock });
    }
    Ok(CulpritSearch::Interaction { changed: names })
}

/// Restores the baseline lockfile, moves `name` from `old` to `version`, and compiles.
#[allow(clippy::too_many_arguments, reason = "one bisection step needs all of them")]
fn try_version(
    prober: &Prober<'_>,
    dir: &Path,
    worker: usize,
    target: &str,
    baseline: &str,
    name: &str,
    old: &semver::Version,
    version: &semver::Version,
) -> Result<Step> {
    let lock_path = dir.join("Cargo.lock");
    std::fs::write(&lock_path, baseline).map_err(io("write", &lock_path))?;
    let mut cmd = prober.env.command(dir, worker);
    cmd.args(["update", "-p", &format!("{name}@{old}"), "--precise", &version.to_string()]);
    let out = cargo::run(cmd, prober.limit(), dir)?;
    if out.timed_out {
        let detail = cargo::tail(&out.stderr, 12);
        return Ok(Step::Inconclusive(Class::Spurious { kind: Spurious::Timeout, detail }));
    }
    if !out.success {
        // Cannot be reached alone: count it as bad so the search narrows towards `old`.
        return Ok(Step::Fails);
    }
    let (class, _) = prober.retrying(|| prober.check(dir, worker, target, true))?;
    Ok(match class {
        Class::Builds => Step::Builds,
        Class::Spurious { .. } => Step::Inconclusive(class),
        _ => Step::Fails,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caret_compatibility() {
        let v = |s: &str| semver::Version::parse(s).unwrap();
        let cases = [
            ("1.0.0", "1.9.3", true),
            ("1.0.0", "2.0.0", false),
            ("0.3.1", "0.3.9", true),
            ("0.3.1", "0.4.0", false),
            ("0.0.1", "0.0.2", false),
        ];
        for (a, b, want) in cases {
            assert_eq!(compatible(&v(a), &v(b)), want, "{a} {b}");
        }
    }
}
