//! Naming the culprit of an own-code failure: rebuild the dependency set as of the version's
//! publish time from the index (yanked versions included), write it as a seed lockfile, confirm
//! it builds, diff it against today's lockfile, then move one changed package at a time to
//! today's version (`cargo update -p P@OLD --precise NEW`) and bisect the one that breaks.
//! A move that makes cargo move other packages too is a joint move and blames nobody alone; a
//! move cargo cannot make at all is recorded as such (no build ran). A culprit is reported
//! only when two confirming builds agree (today's lockfile with only the culprit set back
//! builds, the baseline with only the culprit advanced fails). When no package breaks it
//! alone, the failing joint moves are confirmed as groups the same way, smallest first (two
//! more builds each, at most three groups), and the first that holds is reported as a joint culprit with the packages moved with it; otherwise the
//! outcome is `unconfirmed` or `interaction` with the packages that moved.

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

/// One confirming build: a lockfile with only the culprit moved, and what compiling gave.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirmation {
    /// What was built, in words: `today's lockfile with b set back to 1.0.2`.
    pub build: String,
    /// The class label compiling it gave.
    pub class: String,
    /// Whether it came out as blaming the culprit predicts (builds, resp. fails) with nothing
    /// else moved.
    pub holds: bool,
    /// Other packages cargo had to move to complete the lockfile (`name old -> new`).
    pub moved: Vec<String>,
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
    /// Builds run by the search (confirmations included).
    pub steps: u32,
    /// The two confirming builds: today's lockfile with only the culprit set back to its last
    /// good version (must build), and the baseline with only the culprit advanced to its first
    /// bad version (must fail).
    #[serde(default)]
    pub confirmations: Vec<Confirmation>,
    /// A joint culprit: the other packages of the group cargo can only move
    /// together (`name old -> new`); the group as a whole is what the builds confirm.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub moved_with: Vec<String>,
}

impl Culprit {
    /// The class of the confirmation: `confirmed`, or `confirmed (joint move)`.
    pub fn confirmed_as(&self) -> &'static str {
        if self.moved_with.is_empty() { "confirmed" } else { "confirmed (joint move)" }
    }
}

/// What the culprit search found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum CulpritSearch {
    /// One dependency release breaks it, and both confirming builds agree.
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
    /// The as-published dependency set fails too with today's toolchain: the breakage is not
    /// a dependency release's (toolchain drift, or the version never built).
    BaselineFails {
        /// What compiling the baseline gave.
        class: Class,
    },
    /// No single changed package breaks it alone.
    Interaction {
        /// The changed packages.
        changed: Vec<String>,
        /// Moves that broke it only together with other packages cargo had to move
        /// (`name old -> new (with x, y)`).
        #[serde(default)]
        joint: Vec<String>,
        /// Moves cargo could not make at all without moving what the lockfile pins (`name old
        /// -> new`): no build ran, so they are no failures.
        #[serde(default)]
        unmovable: Vec<String>,
    },
    /// The search pointed at a package, but a confirming build disagreed: not blamed.
    Unconfirmed {
        /// The candidate and the confirming builds, as far as they went.
        candidate: Culprit,
        /// The changed packages.
        changed: Vec<String>,
        /// Joint moves met on the way (`name old -> new (with x, y)`).
        #[serde(default)]
        joint: Vec<String>,
        /// Moves cargo could not make alone (`name old -> new`).
        #[serde(default)]
        unmovable: Vec<String>,
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

impl CulpritSearch {
    /// A short name: `found`, `found-joint`, `baseline-fails`, `interaction`, `unconfirmed`,
    /// `inconclusive`, `no-pubtime`.
    pub fn label(&self) -> &'static str {
        match self {
            CulpritSearch::Found { culprit, .. } if !culprit.moved_with.is_empty() => "found-joint",
            CulpritSearch::Found { .. } => "found",
            CulpritSearch::NoPubtime => "no-pubtime",
            CulpritSearch::BaselineFails { .. } => "baseline-fails",
            CulpritSearch::Interaction { .. } => "interaction",
            CulpritSearch::Unconfirmed { .. } => "unconfirmed",
            CulpritSearch::Inconclusive { .. } => "inconclusive",
        }
    }
}

/// One build of the search.
enum Step {
    Builds,
    /// Fails, with the class label compiling gave.
    Fails(String),
    /// Spurious (timeout, OOM, …) even after retries: says nothing either way.
    Inconclusive(Class),
    /// Cargo cannot make the move without moving what the lockfile pins: nothing was built.
    Unmovable,
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

/// The culprit search. `today` is the lockfile the failing build used (a fresh resolution,
/// or the look-through's, with yanked versions seeded); `pinned` are `name@version`s the
/// baseline keeps exactly as in `today` (the looked-through yanked versions).
pub(crate) fn search(
    prober: &Prober<'_>,
    entry: &IndexEntry,
    today_lock: &str,
    pinned: &[String],
    want: &str,
    worker: usize,
    dir: &Path,
) -> Result<CulpritSearch> {
    let Some(t) = entry.pubtime.as_deref() else { return Ok(CulpritSearch::NoPubtime) };
    let target = format!("{}@{}", entry.name, entry.vers);
    let lock_path = dir.join("Cargo.lock");
    std::fs::write(&lock_path, today_lock).map_err(io("write", &lock_path))?;
    let today = cargo::read_lock(&lock_path)?;
    let mut seed = Vec::new();
    for p in &today {
        if p.name == entry.name && p.version == entry.vers
            || pinned.contains(&format!("{}@{}", p.name, p.version))
        {
            seed.push(p.clone());
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
    let now = cargo::lock_map(&today);
    let mut changed = Vec::new();
    for (name, versions) in &now {
        let (Some(newest), Some(old)) = (versions.last(), base.get(name).and_then(|v| v.first()))
        else {
            continue;
        };
        // Pair the baseline version with today's on its own semver line; a semver-incompatible
        // duplicate next to it (syn 1 and 2) is another package for cargo, not a move.
        let new = versions.iter().rev().find(|v| compatible(v, old)).unwrap_or(newest);
        if new != old {
            changed.push((name.clone(), old.clone(), new.clone()));
        }
    }
    let names: Vec<String> = changed.iter().map(|(n, o, v)| format!("{n} {o} -> {v}")).collect();
    let mut joint = Vec::new();
    let mut failing_joint: Vec<(String, semver::Version, semver::Version, Vec<String>, String)> =
        Vec::new();
    let mut unmovable = Vec::new();
    let mut steps = 0;
    let ctx = Ctx { prober, dir, worker, target: &target };
    for (name, old, new) in &changed {
        steps += 1;
        let (step, moved) = ctx.move_and_check(&resolved, name, old, new)?;
        match step {
            Step::Builds => continue,
            Step::Unmovable => {
                unmovable.push(format!("{name} {old} -> {new}"));
                continue;
            }
            Step::Fails(label) if !moved.is_empty() => {
                // Cargo had to move others too: a joint move blames nobody alone.
                joint.push(format!("{name} {old} -> {new} (with {})", moved.join(", ")));
                failing_joint.push((name.clone(), old.clone(), new.clone(), moved, label));
                continue;
            }
            Step::Fails(_) => {}
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
            match ctx.move_and_check(&resolved, name, old, &between[mid].vers)?.0 {
                Step::Builds => lo = Some(mid),
                // Not reachable alone: count it as bad so the search narrows towards `old`.
                Step::Fails(_) | Step::Unmovable => hi = mid,
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
        // Both confirmations, each moving only the culprit.
        let (back, moved_back) = ctx.move_and_check(today_lock, name, new, &last_good)?;
        let (forward, moved_forward) = ctx.move_and_check(&resolved, name, old, &first_bad)?;
        steps += 2;
        let confirm = |build: String, step: Step, moved: Vec<String>, want_builds: bool| {
            let (class, holds) = match step {
                Step::Builds => ("builds".to_owned(), want_builds),
                Step::Fails(label) => (label, !want_builds),
                Step::Inconclusive(c) => (c.label(), false),
                Step::Unmovable => ("unresolvable".to_owned(), false),
            };
            Confirmation { build, class, holds: holds && moved.is_empty(), moved }
        };
        let confirmations = vec![
            confirm(
                format!("today's lockfile with {name} set back to {last_good}"),
                back,
                moved_back,
                true,
            ),
            confirm(
                format!("the as-published lockfile with {name} advanced to {first_bad}"),
                forward,
                moved_forward,
                false,
            ),
        ];
        let confirmed = confirmations.iter().all(|c| c.holds);
        let culprit = Culprit {
            package: name.clone(),
            last_good: describe(&last_good),
            first_bad: describe(&first_bad),
            steps,
            confirmations,
            moved_with: Vec::new(),
        };
        if !confirmed {
            return Ok(CulpritSearch::Unconfirmed {
                candidate: culprit,
                changed: names,
                joint,
                unmovable,
            });
        }
        return Ok(CulpritSearch::Found { culprit, changed: names, baseline_lock });
    }
    // No package breaks it alone: confirm the failing joint moves as groups, smallest first
    // (a smaller group can fail to set back while a larger one containing it holds), at most
    // MAX_GROUPS of them, two builds each.
    failing_joint.sort_by_key(|(n, _, _, moved, _)| (moved.len(), n.clone()));
    let not_alone: Vec<String> = unmovable
        .iter()
        .map(|u| u.split(' ').next().unwrap_or_default().to_owned())
        .chain(failing_joint.iter().map(|(n, ..)| n.clone()))
        .collect();
    for (mover, old, new, moved, _) in failing_joint.iter().take(MAX_GROUPS) {
        let group = Group { mover, old, new, moved, changed: &changed, not_alone: &not_alone };
        steps += 2;
        match ctx.confirm_group(&group, today_lock, &resolved, &base, &now, want)? {
            GroupOutcome::Confirmed(mut culprit) => {
                culprit.steps = steps;
                return Ok(CulpritSearch::Found { culprit, changed: names, baseline_lock });
            }
            GroupOutcome::Inconclusive(class) => {
                return Ok(CulpritSearch::Inconclusive { changed: names, class });
            }
            GroupOutcome::Disagrees => {}
        }
    }
    Ok(CulpritSearch::Interaction { changed: names, joint, unmovable })
}

/// How many failing joint moves are confirmed as groups at most.
const MAX_GROUPS: usize = 3;

/// A joint move that fails, as the search met it.
struct Group<'a> {
    /// The package whose move it was.
    mover: &'a str,
    old: &'a semver::Version,
    new: &'a semver::Version,
    /// What cargo moved with it (`name old -> new`).
    moved: &'a [String],
    /// Every changed package (`name`, baseline, today).
    changed: &'a [(String, semver::Version, semver::Version)],
    /// Packages whose own move did not build alone (cargo refused it, or it moved others).
    not_alone: &'a [String],
}

/// How confirming a group came out.
enum GroupOutcome {
    Confirmed(Culprit),
    Disagrees,
    Inconclusive(Class),
}

/// What every step of one search shares.
struct Ctx<'a> {
    prober: &'a Prober<'a>,
    dir: &'a Path,
    worker: usize,
    target: &'a str,
}

impl Ctx<'_> {
    /// Confirms a failing joint move as a group: today's lockfile with the group set back to
    /// its baseline versions must build, and the baseline with the group advanced to today's
    /// must fail with `want`'s class, nothing outside the group moving in either. Names the
    /// package cargo had to drag along whose own move did not build alone (the mover's new
    /// release needs its new release), else the mover.
    fn confirm_group(
        &self,
        group: &Group<'_>,
        today_lock: &str,
        resolved: &str,
        base: &cargo::LockMap,
        now: &cargo::LockMap,
        want: &str,
    ) -> Result<GroupOutcome> {
        let name_of = |m: &str| m.split(' ').next().unwrap_or_default().to_owned();
        let mut members: Vec<String> = group.moved.iter().map(|m| name_of(m)).collect();
        members.push(group.mover.to_owned());
        let leader = members
            .iter()
            .find(|n| n.as_str() != group.mover && group.not_alone.contains(*n))
            .map_or(group.mover, String::as_str)
            .to_owned();
        let (last_good, first_bad) = if leader == group.mover {
            (group.old.clone(), group.new.clone())
        } else {
            match group.changed.iter().find(|(n, _, _)| *n == leader) {
                Some((_, o, v)) => (o.clone(), v.clone()),
                None => return Ok(GroupOutcome::Disagrees),
            }
        };
        let mut moved_with: Vec<String> =
            group.moved.iter().filter(|m| name_of(m) != leader).cloned().collect();
        if leader != group.mover {
            moved_with.insert(0, format!("{} {} -> {}", group.mover, group.old, group.new));
        }
        let lock_path = self.dir.join("Cargo.lock");
        let packages = |text: &str| -> Result<Vec<LockedPackage>> {
            std::fs::write(&lock_path, text).map_err(io("write", &lock_path))?;
            cargo::read_lock(&lock_path)
        };
        let (today, baseline) = (packages(today_lock)?, packages(resolved)?);
        let in_group = |n: &str| members.iter().any(|m| m == n);
        let mut shown = vec![leader.as_str()];
        shown.extend(members.iter().map(String::as_str).filter(|m| *m != leader));
        let shown = shown.join(", ");
        // Builds `rest` with the packages `set` picks taken from `from`, and says how it came
        // out and what moved outside the group (against `expect`).
        let build = |rest: &[LockedPackage],
                     from: &[LockedPackage],
                     set: &dyn Fn(&str) -> bool,
                     expect: &cargo::LockMap|
         -> Result<std::result::Result<(String, Vec<String>), Class>> {
            let seed: Vec<LockedPackage> = rest
                .iter()
                .filter(|p| !set(&p.name))
                .chain(from.iter().filter(|p| set(&p.name)))
                .cloned()
                .collect();
            cargo::write_seed_lock(&lock_path, &seed)?;
            let (class, _) = self
                .prober
                .retrying(|| self.prober.check(self.dir, self.worker, self.target, false))?;
            if matches!(class, Class::Spurious { .. }) {
                return Ok(Err(class));
            }
            let after = cargo::lock_map(&cargo::read_lock(&lock_path)?);
            // A package the other side never had is one the group's versions need (the old
            // zeroize_derive pulls in unicode-xid): part of the group's move, not a move of
            // another package. A package present on both sides at another version is.
            let outside: Vec<String> = after
                .iter()
                .filter(|(n, vs)| !in_group(n) && expect.get(*n).is_some_and(|e| e != *vs))
                .map(|(n, vs)| {
                    let show = |v: Option<&Vec<semver::Version>>| {
                        v.map_or_else(
                            || "none".to_owned(),
                            |v| v.iter().map(ToString::to_string).collect::<Vec<_>>().join("+"),
                        )
                    };
                    format!("{n} {} -> {}", show(expect.get(n)), show(Some(vs)))
                })
                .collect();
            let label = if class == Class::Builds { "builds".to_owned() } else { class.label() };
            Ok(Ok((label, outside)))
        };
        let mut confirmations = Vec::new();
        // 1: today's lockfile with the group set back. First only the mover and the leader,
        // letting cargo settle the rest: the packages they dragged along (proc-macro2, syn)
        // are often needed at today's versions by others, so setting all of them back would
        // move packages outside the group. Then the whole group.
        let core = |n: &str| n == group.mover || n == leader;
        let narrow = format!(
            "today's lockfile with {} set back to {} (cargo settling the rest of the group)",
            if leader == group.mover {
                leader.clone()
            } else {
                format!("{}, {leader}", group.mover)
            },
            if leader == group.mover {
                "its as-published version"
            } else {
                "their as-published versions"
            }
        );
        let whole =
            format!("today's lockfile with {shown} set back to their as-published versions");
        type Picks<'p> = &'p dyn Fn(&str) -> bool;
        let attempts: Vec<(Picks<'_>, String)> = if members.len() > 2 {
            vec![(&core, narrow), (&in_group, whole)]
        } else {
            vec![(&in_group, whole)]
        };
        for (set, what) in attempts {
            let (label, outside) = match build(&today, &baseline, set, now)? {
                Ok(done) => done,
                Err(class) => return Ok(GroupOutcome::Inconclusive(class)),
            };
            let holds = label == "builds" && outside.is_empty();
            confirmations = vec![Confirmation { build: what, holds, class: label, moved: outside }];
            if holds {
                break;
            }
        }
        // 2: the baseline with the group advanced to today's versions.
        let (label, outside) = match build(&baseline, &today, &in_group, base)? {
            Ok(done) => done,
            Err(class) => return Ok(GroupOutcome::Inconclusive(class)),
        };
        confirmations.push(Confirmation {
            build: format!("the as-published lockfile with {shown} advanced to today's versions"),
            holds: label == want && outside.is_empty(),
            class: label,
            moved: outside,
        });
        if !confirmations.iter().all(|c| c.holds) {
            return Ok(GroupOutcome::Disagrees);
        }
        let versions = self.prober.index.versions(&leader)?;
        let describe = |v: &semver::Version| {
            let e = versions.iter().find(|e| &e.vers == v);
            DepVersion {
                version: v.clone(),
                pubtime: e.and_then(|e| e.pubtime.clone()),
                yanked: e.is_some_and(|e| e.yanked),
            }
        };
        Ok(GroupOutcome::Confirmed(Culprit {
            package: leader,
            last_good: describe(&last_good),
            first_bad: describe(&first_bad),
            steps: 0,
            confirmations,
            moved_with,
        }))
    }

    /// Restores `lock`, moves `name` from `old` to `version` (`cargo update -p NAME@OLD
    /// --precise VERSION`) and compiles. Also returns the other packages cargo moved
    /// (`name old -> new`): a step that moved any is a joint move.
    fn move_and_check(
        &self,
        lock: &str,
        name: &str,
        old: &semver::Version,
        version: &semver::Version,
    ) -> Result<(Step, Vec<String>)> {
        let (prober, dir) = (self.prober, self.dir);
        let lock_path = dir.join("Cargo.lock");
        std::fs::write(&lock_path, lock).map_err(io("write", &lock_path))?;
        let before = cargo::lock_map(&cargo::read_lock(&lock_path)?);
        let mut cmd = prober.env.command(dir, self.worker);
        cmd.args(["update", "-p", &format!("{name}@{old}"), "--precise", &version.to_string()]);
        let out = cargo::run(cmd, prober.limit(), dir)?;
        if out.timed_out {
            let detail = cargo::tail(&out.stderr, 12);
            let class = Class::Spurious { kind: Spurious::Timeout, detail };
            return Ok((Step::Inconclusive(class), Vec::new()));
        }
        if !out.success {
            let why = format!("cargo cannot move {name} to {version} alone");
            return Ok((Step::Unmovable, vec![why]));
        }
        let after = cargo::lock_map(&cargo::read_lock(&lock_path)?);
        let mut moved = Vec::new();
        for (n, vs) in before.iter().chain(after.iter()) {
            if n == name || before.get(n) == after.get(n) {
                continue;
            }
            let show = |m: &cargo::LockMap| {
                m.get(n).map_or_else(
                    || "none".to_owned(),
                    |v| v.iter().map(ToString::to_string).collect::<Vec<_>>().join("+"),
                )
            };
            let text = format!("{n} {} -> {}", show(&before), show(&after));
            if !moved.contains(&text) && !vs.is_empty() {
                moved.push(text);
            }
        }
        let (class, _) = prober.retrying(|| prober.check(dir, self.worker, self.target, true))?;
        let step = match class {
            Class::Builds => Step::Builds,
            Class::Spurious { .. } => Step::Inconclusive(class),
            _ => Step::Fails(class.label()),
        };
        Ok((step, moved))
    }
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
