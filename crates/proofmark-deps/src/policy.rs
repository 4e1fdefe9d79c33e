//! The yank policy (documented in `docs/yank-policy.md`): from probe results and advisories to
//! one recommendation per version (or one per dead semver line), always with its evidence.
//!
//! Rules, in priority order (ids appear in every finding):
//! * `R0-already-yanked` — nothing to do.
//! * `R6-environment` — environment or spurious failures never justify a yank.
//! * `R9-dead-line` — no version of a semver line is usable: one finding, suggest a patch
//!   release, never a mass yank.
//! * `R2-security` — the version works but has a vulnerability fixed in a successor that builds:
//!   yank (or "needs a human", by configuration).
//! * `R1-no-replacement` — the version is broken or vulnerable and no working successor
//!   exists: no yank, publish a fix.
//! * `R3-unbuildable-stays` — broken for fresh consumers, the successor builds: no yank.
//! * `R-ok` — builds, nothing known against it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::advisory::{Advisory, AdvisoryDb};
use crate::culprit::{CulpritSearch, compatible};
use crate::probe::{Class, IndexNote, ProbeResult};
use crate::report::{AdvisoryRef, Chain, Finding, Severity, Successor};

/// What to do about a version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Nothing.
    None,
    /// Do not yank (with the reason given).
    NoYank,
    /// Update our own lockfile (the `cargo update --precise` command is printed, never run).
    UpdateLockfile,
    /// A maintainer has to decide.
    NeedsHuman,
    /// Yank it (the command is printed, never run).
    Yank,
}

/// The configurable part of the policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// What a vulnerability fixed in a working successor leads to: [`Action::Yank`] (default,
    /// the Parsec stance) or [`Action::NeedsHuman`] (cargo's stance: let RustSec warn).
    pub on_fixed_vulnerability: Action,
    /// Whether informational advisories (unmaintained, unsound, notice) count like
    /// vulnerabilities. Default: no; they are listed as evidence only.
    pub informational_counts: bool,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy { on_fixed_vulnerability: Action::Yank, informational_counts: false }
    }
}

/// The semver line of a version: `1.x`, `0.3.x`, `0.0.4`.
pub fn line_of(v: &semver::Version) -> String {
    match (v.major, v.minor) {
        (0, 0) => format!("0.0.{}", v.patch),
        (0, m) => format!("0.{m}.x"),
        (m, _) => format!("{m}.x"),
    }
}

fn advisory_refs(
    name: &str,
    version: &semver::Version,
    advisories: &[&Advisory],
) -> Vec<AdvisoryRef> {
    advisories
        .iter()
        .map(|a| AdvisoryRef {
            id: a.id.clone(),
            package: format!("{name}@{version}"),
            title: a.title.clone(),
            informational: a.informational.clone(),
        })
        .collect()
}

/// Advisories for the version itself and, when a culprit was named, for the culprit's last
/// good and first bad versions ("works only with a vulnerable dependency").
fn joined_advisories(r: &ProbeResult, db: &AdvisoryDb) -> Vec<AdvisoryRef> {
    let mut refs = advisory_refs(&r.name, &r.version, &db.affecting(&r.name, &r.version));
    if let Some(CulpritSearch::Found { culprit, .. }) = &r.culprit {
        for v in [&culprit.last_good.version, &culprit.first_bad.version] {
            refs.extend(advisory_refs(&culprit.package, v, &db.affecting(&culprit.package, v)));
        }
    }
    refs
}

/// Applies the policy to every target result. `all` also holds probed successors.
pub fn evaluate(
    targets: &[ProbeResult],
    all: &BTreeMap<(String, semver::Version), ProbeResult>,
    db: &AdvisoryDb,
    policy: &Policy,
) -> Vec<Finding> {
    let counts = |a: &AdvisoryRef| policy.informational_counts || a.informational.is_none();
    let own_vuln = |r: &ProbeResult| {
        db.affecting(&r.name, &r.version)
            .iter()
            .any(|a| policy.informational_counts || a.informational.is_none())
    };
    let healthy = |r: &ProbeResult| r.class.works() && !own_vuln(r);
    // Lines whose every probed, non-yanked version (target or successor) is unusable.
    let mut lines: BTreeMap<(String, String), Vec<&ProbeResult>> = BTreeMap::new();
    for r in all.values().filter(|r| !r.yanked) {
        lines.entry((r.name.clone(), line_of(&r.version))).or_default().push(r);
    }
    let dead: BTreeMap<_, _> = lines
        .into_iter()
        .filter(|(_, rs)| {
            rs.iter().all(|r| !healthy(r))
                && rs.iter().any(|r| r.class.is_breakage() || own_vuln(r))
        })
        .collect();

    let mut findings = Vec::new();
    let mut dead_done = std::collections::BTreeSet::new();
    for r in targets {
        let key = (r.name.clone(), line_of(&r.version));
        if !r.yanked {
            if let Some(members) = dead.get(&key) {
                if dead_done.insert(key.clone()) {
                    findings.push(dead_line_finding(&key.0, &key.1, members, db));
                }
                continue;
            }
        }
        let advisories = joined_advisories(r, db);
        let successor = successor_result(r, all).map(|s| Successor {
            version: s.version.clone(),
            class: s.class.label(),
            works: s.class.works(),
            vulnerable: own_vuln(s),
        });
        let succ_ok = successor.as_ref().is_some_and(|s| s.works && !s.vulnerable);
        let mut f = Finding::new(r, advisories.clone(), successor.clone());
        let vulnerable = advisories
            .iter()
            .any(|a| a.package == format!("{}@{}", r.name, r.version) && counts(a));
        let succ_text = successor.as_ref().map_or_else(
            || "no newer semver-compatible version".to_owned(),
            |s| format!("successor {} {}", s.version, s.class),
        );
        if r.class == Class::Yanked {
            f.set(Action::None, Severity::Note, "R0-already-yanked", "already yanked".to_owned());
        } else if matches!(
            r.class,
            Class::Environment { .. } | Class::Spurious { .. } | Class::Unknown { .. }
        ) {
            f.set(
                Action::NoYank,
                Severity::Note,
                "R6-environment",
                format!(
                    "{}: not evidence about the crate; fix the environment and re-run",
                    r.class.label()
                ),
            );
        } else if r.class.works() && vulnerable && succ_ok {
            let action = policy.on_fixed_vulnerability;
            let what = if action == Action::Yank { "yank" } else { "decide" };
            f.set(
                action,
                Severity::Error,
                "R2-security",
                format!(
                    "works but has an advisory fixed in {succ_text}: {what}, and link the advisory"
                ),
            );
            f.command = Some(format!("cargo yank --version {} {}", r.version, r.name));
        } else if r.class.works() && !vulnerable {
            f.set(Action::None, Severity::Ok, "R-ok", r.class.label());
        } else if succ_ok {
            f.set(
                Action::NoYank,
                Severity::Warning,
                "R3-unbuildable-stays",
                format!("no yank, {succ_text}: lockfile users are unaffected and fresh consumers get the successor"),
            );
        } else {
            f.set(
                Action::NoYank,
                Severity::Error,
                "R1-no-replacement",
                format!(
                    "no yank without a working replacement ({succ_text}); publish a fix release"
                ),
            );
        }
        f.chain = chain_of(r, successor_result(r, all), &f);
        findings.push(f);
    }
    findings
}

/// The end-to-end story of a failing version (none for a working, yanked, environment or
/// spurious one).
pub(crate) fn chain_of(r: &ProbeResult, succ: Option<&ProbeResult>, f: &Finding) -> Option<Chain> {
    if !r.class.is_breakage() {
        return None;
    }
    let blocked_by = match &r.class {
        Class::Unresolvable { reason, detail } => {
            let why = r.index_notes.iter().find_map(|n| match n {
                IndexNote::AllYanked { dependency, req, yanked } => Some(format!(
                    "every version of {dependency} matching {req} is yanked ({})",
                    yanked.join(", ")
                )),
                _ => None,
            });
            let first = detail.lines().find(|l| l.contains("error")).unwrap_or(detail).trim();
            Some(why.unwrap_or_else(|| format!("unresolvable/{}: {first}", serde_label(reason))))
        }
        _ => None,
    };
    let fails = match (&r.look_through, &r.class) {
        (Some(look), _) => {
            format!(
                "behind the yank (with {}): {}",
                look.seeded.join(", "),
                class_text(&look.class)
            )
        }
        (None, Class::Unresolvable { .. }) => "nothing compiled: resolution fails".to_owned(),
        (None, class) => class_text(class),
    };
    let mut confirmations = Vec::new();
    let mut culprit_version = None;
    let caused_by = r.culprit.as_ref().map(|search| match search {
        CulpritSearch::Found { culprit, .. } => {
            confirmations.clone_from(&culprit.confirmations);
            culprit_version = Some((culprit.package.clone(), culprit.first_bad.version.clone()));
            let joint = if culprit.moved_with.is_empty() {
                String::new()
            } else {
                format!(
                    "; {}, moved with: {}",
                    culprit.confirmed_as(),
                    culprit.moved_with.join(", ")
                )
            };
            format!(
                "{} {} (last good {}{}{joint})",
                culprit.package,
                culprit.first_bad.version,
                culprit.last_good.version,
                culprit
                    .first_bad
                    .pubtime
                    .as_deref()
                    .map(|t| format!("; {} published {t}", culprit.first_bad.version))
                    .unwrap_or_default()
            )
        }
        CulpritSearch::Unconfirmed { candidate, joint, unmovable, .. } => {
            confirmations.clone_from(&candidate.confirmations);
            let joint = joint_text(joint, unmovable);
            format!(
                "unconfirmed: the search pointed at {} {} -> {}, but a confirming build disagrees{joint}",
                candidate.package, candidate.last_good.version, candidate.first_bad.version
            )
        }
        CulpritSearch::BaselineFails { class } => format!(
            "no dependency release: the as-published dependency set fails too with today's toolchain ({})",
            class_text(class)
        ),
        CulpritSearch::Interaction { changed, joint, unmovable } => {
            let joint = joint_text(joint, unmovable);
            format!(
                "interaction: no single changed package breaks it alone (changed: {}){joint}",
                changed.join(", ")
            )
        }
        CulpritSearch::Inconclusive { class, .. } => {
            format!("inconclusive: a build of the search was {}", class.label())
        }
        CulpritSearch::NoPubtime => "unknown: the index has no publish time for it".to_owned(),
    });
    let line = line_of(&r.version);
    let fixed_by = match succ {
        None => format!("no later release on the {line} line"),
        Some(s) if s.class.works() => {
            let with = culprit_version.as_ref().and_then(|(package, first_bad)| {
                let v = locked_version(s.lockfile.as_deref()?, package)?;
                Some(if &v >= first_bad {
                    format!(", free of it with {package} {v}")
                } else {
                    format!(", with {package} {v} (older than the culprit)")
                })
            });
            format!("{} {} {}{}", s.name, s.version, s.class.label(), with.unwrap_or_default())
        }
        Some(s) => {
            // Blocked by the same yank, but its code is fine behind it: say so.
            let behind = match &s.look_through {
                Some(look) if look.class.works() => format!(
                    "; behind the yank (with {}) it {}",
                    look.seeded.join(", "),
                    look.class.label()
                ),
                _ => String::new(),
            };
            format!(
                "nothing yet: the newest release on the {line} line, {} {}, is {}{behind}",
                s.name,
                s.version,
                s.class.label()
            )
        }
    };
    Some(Chain {
        blocked_by,
        fails,
        culprit_outcome: r.culprit.as_ref().map(|c| c.label().to_owned()),
        caused_by,
        confirmations,
        fixed_by,
        verdict: format!("{} ({})", serde_label(&f.action), f.rule),
    })
}

/// `own-code: E0308 at src/lib.rs:1:21 (mismatched types)`.
fn class_text(class: &Class) -> String {
    let errors = match class {
        Class::OwnCode { errors } | Class::DependencyBroken { errors, .. } => errors,
        _ => return class.label(),
    };
    let Some(e) = errors.first() else { return class.label() };
    let mut text = class.label();
    text.push(':');
    if let Some(code) = &e.code {
        text.push_str(&format!(" {code}"));
    }
    if let Some(at) = &e.location {
        text.push_str(&format!(" at {at}"));
    }
    text.push_str(&format!(" ({})", e.message));
    if errors.len() > 1 {
        text.push_str(&format!(" and {} more", errors.len() - 1));
    }
    text
}

/// The version of `package` in a lockfile's text (the newest, when several are locked).
fn locked_version(lockfile: &str, package: &str) -> Option<semver::Version> {
    let value: toml::Table = toml::from_str(lockfile).ok()?;
    value
        .get("package")?
        .as_array()?
        .iter()
        .filter(|p| p.get("name").and_then(|n| n.as_str()) == Some(package))
        .filter_map(|p| semver::Version::parse(p.get("version")?.as_str()?).ok())
        .max()
}

fn serde_label<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

/// The newest non-yanked, semver-compatible version newer than `r` among the probed results.
pub(crate) fn successor_result<'a>(
    r: &ProbeResult,
    all: &'a BTreeMap<(String, semver::Version), ProbeResult>,
) -> Option<&'a ProbeResult> {
    all.values()
        .filter(|s| {
            s.name == r.name
                && !s.yanked
                && s.version > r.version
                && compatible(&s.version, &r.version)
        })
        .max_by(|a, b| a.version.cmp(&b.version))
}

fn dead_line_finding(name: &str, line: &str, members: &[&ProbeResult], db: &AdvisoryDb) -> Finding {
    let mut advisories = Vec::new();
    for r in members {
        advisories.extend(joined_advisories(r, db));
    }
    let newest = members.iter().max_by(|a, b| a.version.cmp(&b.version));
    let mut f = match newest {
        Some(r) => Finding::new(r, advisories, None),
        None => return Finding::empty(name, line),
    };
    f.id = format!("{name}@{line}");
    f.line = line.to_owned();
    f.versions = members.iter().map(|r| r.version.to_string()).collect();
    let mut labels: Vec<String> = Vec::new();
    for r in members {
        let label = r.class.label();
        if !labels.contains(&label) {
            labels.push(label);
        }
    }
    f.class = labels.join(", ");
    let each: Vec<String> =
        members.iter().map(|r| format!("{} {}", r.version, r.class.label())).collect();
    f.evidence = members.iter().map(|r| (*r).clone()).collect();
    f.set(
        Action::NoYank,
        Severity::Error,
        "R9-dead-line",
        format!(
            "no usable version on the {line} line ({}): do not yank; publish a patch release on {line} if the line is still supported",
            each.join(", ")
        ),
    );
    // The story of the newest member that failed for a reason worth telling: one whose code
    // fails (in the fresh build or behind the yanks) goes first, since a later member blocked
    // only by the same yank, and fine behind it, says less (tss-esapi 6.1.0 against 6.1.2).
    let breakages = || members.iter().rev().filter(|r| r.class.is_breakage());
    let deepest = breakages().find(|r| code_fails(r)).or_else(|| breakages().next());
    f.chain = deepest.and_then(|r| {
        let later = members.iter().filter(|m| m.version > r.version).max_by_key(|m| &m.version);
        chain_of(r, later.copied(), &f)
    });
    f
}

/// Whether the version's code fails to compile: in the fresh build, or behind the yanks.
fn code_fails(r: &ProbeResult) -> bool {
    let failing = |c: &Class| matches!(c, Class::OwnCode { .. } | Class::DependencyBroken { .. });
    failing(&r.class) || r.look_through.as_ref().is_some_and(|l| failing(&l.class))
}

/// `; joint moves that fail: …; could not be moved alone: …`: the second are no builds.
fn joint_text(joint: &[String], unmovable: &[String]) -> String {
    let mut text = String::new();
    if !joint.is_empty() {
        text.push_str(&format!("; joint moves that fail: {}", joint.join("; ")));
    }
    if !unmovable.is_empty() {
        text.push_str(&format!("; could not be moved alone: {}", unmovable.join(", ")));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines() {
        let v = |s| semver::Version::parse(s).unwrap();
        assert_eq!(line_of(&v("1.2.3")), "1.x");
        assert_eq!(line_of(&v("0.3.9")), "0.3.x");
        assert_eq!(line_of(&v("0.0.4")), "0.0.4");
    }
}
