//! What changed since an earlier report (`check-deps --baseline previous.json`): the nightly
//! job's question. Findings are matched by id (`name@version`, `name@line`,
//! `lockfile:name@version`) and compared on what decides them: severity (a suppressed finding
//! counts as a note at most), class, action, rule, the furthest stage probed and the culprit.
//! Each comes out new, worse, changed, fixed, gone or unchanged; [`Diff::worst`] is what a CI
//! job's gate judges. Pure data: no I/O.

use serde::{Deserialize, Serialize};

use crate::probe::Stage;
use crate::report::{Finding, Report, Severity};

/// How a finding moved between the baseline and this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Change {
    /// Only in this run (a new release, a newly checked crate, a line that just died).
    New,
    /// In both, at a higher severity now.
    Worse,
    /// In both, at the same severity, with another class, action, rule, stage or culprit.
    Changed,
    /// In both, at a lower severity now.
    Fixed,
    /// Only in the baseline (no longer checked, or folded into a dead-line finding).
    Gone,
    /// In both, the same.
    Unchanged,
}

impl Change {
    /// `new`, `worse`, `changed`, `fixed`, `gone`, `unchanged`.
    pub fn label(self) -> &'static str {
        match self {
            Change::New => "new",
            Change::Worse => "worse",
            Change::Changed => "changed",
            Change::Fixed => "fixed",
            Change::Gone => "gone",
            Change::Unchanged => "unchanged",
        }
    }
}

/// What decides a finding, as compared between runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// Severity; a suppressed finding counts as a note at most.
    pub severity: Severity,
    /// Failure class label(s).
    pub class: String,
    /// Recommended action (kebab-case).
    pub action: String,
    /// The policy rule.
    pub rule: String,
    /// The furthest stage probed (absent for lockfile findings).
    pub stage: Option<Stage>,
    /// The culprit (`b 1.0.1 -> 1.1.0`), or the culprit search's outcome when none was named.
    pub culprit: Option<String>,
    /// Whether a suppression matched.
    pub suppressed: bool,
}

impl State {
    /// The state of `f`.
    pub fn of(f: &Finding) -> State {
        let severity = match f.suppressed {
            Some(_) => f.severity.min(Severity::Note),
            None => f.severity,
        };
        let outcome = f.chain.as_ref().and_then(|c| c.culprit_outcome.clone());
        State {
            severity,
            class: f.class.clone(),
            action: serde_json::to_value(f.action)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            rule: f.rule.clone(),
            stage: f.evidence.first().map(|r| r.stage),
            culprit: f.culprit().or(outcome),
            suppressed: f.suppressed.is_some(),
        }
    }

    /// `warning own-code, no-yank (R3-unbuildable-stays), culprit b 1.0.1 -> 1.1.0`; the stage
    /// only when asked (it differs from the other side's).
    pub fn text(&self, with_stage: bool) -> String {
        let severity = serde_json::to_value(self.severity)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let mut text = format!("{severity} {}, {} ({})", self.class, self.action, self.rule);
        if let Some(c) = &self.culprit {
            text.push_str(&format!(", culprit {c}"));
        }
        if with_stage {
            let stage = self.stage.map_or("none", |s| match s {
                Stage::Index => "index",
                Stage::Resolve => "resolve",
                Stage::Compile => "compile",
            });
            text.push_str(&format!(", stage {stage}"));
        }
        if self.suppressed {
            text.push_str(", suppressed");
        }
        text
    }
}

/// One finding that is not unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The finding id.
    pub id: String,
    /// How it moved.
    pub change: Change,
    /// In the baseline (absent when new).
    pub before: Option<State>,
    /// In this run (absent when gone).
    pub after: Option<State>,
    /// When gone: the finding of this run that covers its version now (a dead line's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub now_in: Option<String>,
}

impl Entry {
    /// Whether this is news a CI job should act on: new or worse at warning or above, or
    /// changed while at warning or above.
    pub fn is_problem(&self) -> bool {
        matches!(self.change, Change::New | Change::Worse | Change::Changed)
            && self.after.as_ref().is_some_and(|a| a.severity >= Severity::Warning)
    }

    /// `before -> after` (or one side), for the human and Markdown renderings.
    pub fn text(&self) -> String {
        let stage = match (&self.before, &self.after) {
            (Some(b), Some(a)) => b.stage != a.stage,
            _ => false,
        };
        match (&self.before, &self.after) {
            (Some(b), Some(a)) => format!("{} -> {}", b.text(stage), a.text(stage)),
            (None, Some(a)) => a.text(false),
            (Some(b), None) => match &self.now_in {
                Some(id) => format!("was {}; now in {id}", b.text(false)),
                None => format!("was {}", b.text(false)),
            },
            (None, None) => String::new(),
        }
    }
}

/// The changes since a baseline report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diff {
    /// The baseline, as named on the command line.
    pub baseline: String,
    /// Every finding that is not unchanged: new and worse first, then changed, fixed, gone;
    /// by id within each.
    pub entries: Vec<Entry>,
    /// How many findings are unchanged.
    pub unchanged: usize,
    /// Why some changes may not be the registry's (another toolchain or registry).
    pub notes: Vec<String>,
}

/// Compares `current` with `baseline` (named `baseline_name` in the output).
pub fn diff(baseline: &Report, current: &Report, baseline_name: &str) -> Diff {
    let before: std::collections::BTreeMap<&str, &Finding> =
        baseline.findings.iter().map(|f| (f.id.as_str(), f)).collect();
    let after: std::collections::BTreeMap<&str, &Finding> =
        current.findings.iter().map(|f| (f.id.as_str(), f)).collect();
    let mut entries = Vec::new();
    let mut unchanged = 0;
    for (id, f) in &after {
        let now = State::of(f);
        let Some(old) = before.get(id).map(|b| State::of(b)) else {
            entries.push(Entry {
                id: (*id).to_owned(),
                change: Change::New,
                before: None,
                after: Some(now),
                now_in: None,
            });
            continue;
        };
        let change = match old.severity.cmp(&now.severity) {
            std::cmp::Ordering::Less => Change::Worse,
            std::cmp::Ordering::Greater => Change::Fixed,
            std::cmp::Ordering::Equal if old == now => Change::Unchanged,
            std::cmp::Ordering::Equal => Change::Changed,
        };
        if change == Change::Unchanged {
            unchanged += 1;
            continue;
        }
        entries.push(Entry {
            id: (*id).to_owned(),
            change,
            before: Some(old),
            after: Some(now),
            now_in: None,
        });
    }
    for (id, f) in before.iter().filter(|(id, _)| !after.contains_key(*id)) {
        let old = Some(State::of(f));
        let covering = current.findings.iter().find(|c| {
            c.id != **id
                && c.krate == f.krate
                && !f.versions.is_empty()
                && f.versions.iter().all(|v| c.versions.contains(v))
        });
        let now_in = covering.map(|c| c.id.clone());
        entries.push(Entry {
            id: (*id).to_owned(),
            change: Change::Gone,
            before: old,
            after: None,
            now_in,
        });
    }
    // New and worse together: both are what appeared since the baseline.
    let rank = |c: Change| if c == Change::New { Change::Worse } else { c };
    entries.sort_by(|a, b| (rank(a.change), &a.id).cmp(&(rank(b.change), &b.id)));
    let mut notes = Vec::new();
    if baseline.toolchain.rustc != current.toolchain.rustc {
        notes.push(format!(
            "the baseline ran on {}, this run on {}: a change may be the toolchain's",
            baseline.toolchain.rustc, current.toolchain.rustc
        ));
    }
    if baseline.registry != current.registry {
        notes.push(format!(
            "the baseline read {}, this run {}",
            baseline.registry, current.registry
        ));
    }
    Diff { baseline: baseline_name.to_owned(), entries, unchanged, notes }
}

impl Diff {
    /// How many entries have each change.
    pub fn count(&self, change: Change) -> usize {
        self.entries.iter().filter(|e| e.change == change).count()
    }

    /// The highest severity among what is new, worse or changed since the baseline (`Ok` when
    /// nothing is: only fixed, gone, unchanged, or new versions that are fine): what a CI gate
    /// judges ([`crate::report::Report::fails`]).
    pub fn worst(&self) -> Severity {
        self.entries
            .iter()
            .filter(|e| e.is_problem())
            .filter_map(|e| e.after.as_ref().map(|a| a.severity))
            .max()
            .unwrap_or(Severity::Ok)
    }

    /// `1 new problem, 2 changed, 1 fixed, 0 gone, 5 unchanged`.
    pub fn summary(&self) -> String {
        let problems = self.entries.iter().filter(|e| e.is_problem()).count();
        let plural = if problems == 1 { "" } else { "s" };
        let fine_new = self.entries.iter().filter(|e| !e.is_problem() && e.change == Change::New);
        format!(
            "{problems} new problem{plural}, {} new and fine, {} changed, {} fixed, {} gone, {} unchanged",
            fine_new.count(),
            self.count(Change::Changed),
            self.count(Change::Fixed),
            self.count(Change::Gone),
            self.unchanged
        )
    }

    /// The human rendering: a headline and one line per entry.
    pub fn human(&self) -> String {
        let mut out = format!("since {}: {}\n", self.baseline, self.summary());
        let width = self.entries.iter().map(|e| e.id.chars().count()).max().unwrap_or(0);
        for e in &self.entries {
            out.push_str(&format!(
                "  {:<9}{:<width$}  {}\n",
                format!("{}:", e.change.label()),
                e.id,
                e.text()
            ));
        }
        for n in &self.notes {
            out.push_str(&format!("  note: {n}\n"));
        }
        out
    }

    /// The Markdown rendering, fit for an issue body: a headline and a table.
    pub fn markdown(&self) -> String {
        let mut out = format!(
            "## check-deps: changes since `{}`\n\n**{}**\n",
            self.baseline.replace('`', "'"),
            self.summary()
        );
        if !self.entries.is_empty() {
            out.push_str("\n| change | target | before | after |\n|---|---|---|---|\n");
        }
        let cell = |s: Option<&State>, stage: bool| {
            s.map_or_else(|| "—".to_owned(), |s| s.text(stage).replace('|', "\\|"))
        };
        let gone =
            |e: &Entry| e.now_in.as_ref().map_or_else(|| "—".to_owned(), |id| format!("in `{id}`"));
        for e in &self.entries {
            let stage = matches!((&e.before, &e.after), (Some(b), Some(a)) if b.stage != a.stage);
            let change = if e.is_problem() {
                format!("**{}**", e.change.label())
            } else {
                e.change.label().to_owned()
            };
            out.push_str(&format!(
                "| {change} | `{}` | {} | {} |\n",
                e.id,
                cell(e.before.as_ref(), stage),
                if e.after.is_some() { cell(e.after.as_ref(), stage) } else { gone(e) }
            ));
        }
        for n in &self.notes {
            out.push_str(&format!("\n> note: {n}\n"));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use expect_test::expect;

    use super::*;
    use crate::cargo::Toolchain;
    use crate::policy::Action;

    fn finding(id: &str, severity: Severity, class: &str, rule: &str) -> Finding {
        let (name, version) = id.split_once('@').unwrap_or((id, ""));
        Finding {
            id: id.to_owned(),
            krate: name.to_owned(),
            versions: vec![version.to_owned()],
            line: String::new(),
            severity,
            class: class.to_owned(),
            action: match severity {
                Severity::Error => Action::NoYank,
                Severity::Warning => Action::NoYank,
                _ => Action::None,
            },
            rule: rule.to_owned(),
            reason: String::new(),
            command: None,
            advisories: Vec::new(),
            successor: None,
            suppressed: None,
            evidence: Vec::new(),
            location: None,
            chain: None,
        }
    }

    fn report(rustc: &str, findings: Vec<Finding>) -> Report {
        Report {
            schema_version: crate::report::SCHEMA_VERSION,
            toolchain: Toolchain {
                rustc: rustc.to_owned(),
                version: semver::Version::new(1, 95, 0),
                host: "x86_64-unknown-linux-gnu".to_owned(),
            },
            registry: "fixture".to_owned(),
            findings,
            warnings: Vec::new(),
            shard: None,
            diff: None,
        }
    }

    fn baseline() -> Report {
        report(
            "rustc 1.95.0",
            vec![
                finding("a@1.0.0", Severity::Ok, "builds", "R-ok"),
                finding("a@1.0.1", Severity::Ok, "builds", "R-ok"),
                finding("b@1.0.0", Severity::Warning, "own-code", "R3-unbuildable-stays"),
                finding("c@2.0.0", Severity::Error, "unresolvable/all-yanked", "R1-no-replacement"),
                finding("d@0.1.0", Severity::Warning, "own-code", "R3-unbuildable-stays"),
                finding("e@1.0.0", Severity::Ok, "builds", "R-ok"),
            ],
        )
    }

    #[test]
    fn nothing_changed_is_exit_zero() {
        let d = diff(&baseline(), &baseline(), "previous.json");
        assert_eq!((d.entries.len(), d.unchanged, d.worst()), (0, 6, Severity::Ok));
        expect![[r#"
            since previous.json: 0 new problems, 0 new and fine, 0 changed, 0 fixed, 0 gone, 6 unchanged
        "#]]
        .assert_eq(&d.human());
    }

    #[test]
    fn new_worse_changed_fixed_and_gone() {
        let mut now = baseline();
        // a@1.0.1 breaks (worse), a@1.0.2 is new and broken, b's class changes, c is fixed by
        // a release, d is no longer checked, e@1.1.0 is new and fine.
        now.findings[1] = finding("a@1.0.1", Severity::Error, "own-code", "R1-no-replacement");
        now.findings.push(finding("a@1.0.2", Severity::Error, "own-code", "R1-no-replacement"));
        now.findings[2].class = "depends-on/x@1.0.0".to_owned();
        now.findings[3] = finding(
            "c@2.0.0",
            Severity::Warning,
            "unresolvable/all-yanked",
            "R3-unbuildable-stays",
        );
        now.findings.retain(|f| f.krate != "d");
        now.findings.push(finding("e@1.1.0", Severity::Ok, "builds", "R-ok"));
        now.toolchain.rustc = "rustc 1.96.0".to_owned();
        let d = diff(&baseline(), &now, "previous.json");
        assert_eq!(d.worst(), Severity::Error, "new errors");
        expect![[r#"
            since previous.json: 3 new problems, 1 new and fine, 1 changed, 1 fixed, 1 gone, 2 unchanged
              worse:   a@1.0.1  ok builds, none (R-ok) -> error own-code, no-yank (R1-no-replacement)
              new:     a@1.0.2  error own-code, no-yank (R1-no-replacement)
              new:     e@1.1.0  ok builds, none (R-ok)
              changed: b@1.0.0  warning own-code, no-yank (R3-unbuildable-stays) -> warning depends-on/x@1.0.0, no-yank (R3-unbuildable-stays)
              fixed:   c@2.0.0  error unresolvable/all-yanked, no-yank (R1-no-replacement) -> warning unresolvable/all-yanked, no-yank (R3-unbuildable-stays)
              gone:    d@0.1.0  was warning own-code, no-yank (R3-unbuildable-stays)
              note: the baseline ran on rustc 1.95.0, this run on rustc 1.96.0: a change may be the toolchain's
        "#]]
        .assert_eq(&d.human());
        expect![[r#"
            ## check-deps: changes since `previous.json`

            **3 new problems, 1 new and fine, 1 changed, 1 fixed, 1 gone, 2 unchanged**

            | change | target | before | after |
            |---|---|---|---|
            | **worse** | `a@1.0.1` | ok builds, none (R-ok) | error own-code, no-yank (R1-no-replacement) |
            | **new** | `a@1.0.2` | — | error own-code, no-yank (R1-no-replacement) |
            | new | `e@1.1.0` | — | ok builds, none (R-ok) |
            | **changed** | `b@1.0.0` | warning own-code, no-yank (R3-unbuildable-stays) | warning depends-on/x@1.0.0, no-yank (R3-unbuildable-stays) |
            | fixed | `c@2.0.0` | error unresolvable/all-yanked, no-yank (R1-no-replacement) | warning unresolvable/all-yanked, no-yank (R3-unbuildable-stays) |
            | gone | `d@0.1.0` | warning own-code, no-yank (R3-unbuildable-stays) | — |

            > note: the baseline ran on rustc 1.95.0, this run on rustc 1.96.0: a change may be the toolchain's
        "#]]
        .assert_eq(&d.markdown());
    }

    #[test]
    fn only_fixed_and_fine_new_versions_are_exit_zero() {
        let mut now = baseline();
        now.findings[2] = finding("b@1.0.0", Severity::Ok, "builds", "R-ok");
        now.findings.push(finding("b@1.0.1", Severity::Ok, "builds", "R-ok"));
        let d = diff(&baseline(), &now, "b.json");
        assert_eq!((d.count(Change::Fixed), d.count(Change::New), d.worst()), (1, 1, Severity::Ok));
    }

    #[test]
    fn a_new_warning_is_one_and_a_suppressed_one_is_zero() {
        let mut now = baseline();
        now.findings.push(finding(
            "e@1.0.1",
            Severity::Warning,
            "own-code",
            "R3-unbuildable-stays",
        ));
        assert_eq!(diff(&baseline(), &now, "b.json").worst(), Severity::Warning);
        if let Some(f) = now.findings.last_mut() {
            f.suppressed = Some("known".to_owned());
        }
        let d = diff(&baseline(), &now, "b.json");
        assert_eq!(d.worst(), Severity::Ok);
        assert!(d.human().contains("note own-code, no-yank (R3-unbuildable-stays), suppressed"));
    }

    #[test]
    fn a_version_folded_into_a_dead_line_is_gone_into_it() {
        let mut before = baseline();
        let mut lock = Finding::empty("d", "0.1.x");
        lock.id = "lockfile:d@0.1.0".to_owned();
        before.findings.push(lock);
        let mut now = baseline();
        let mut line = finding("d@0.1.x", Severity::Error, "own-code", "R9-dead-line");
        line.versions = vec!["0.1.0".to_owned()];
        now.findings.retain(|f| f.krate != "d");
        now.findings.push(line);
        let d = diff(&before, &now, "b.json");
        let gone: Vec<_> = d.entries.iter().map(|e| (e.id.as_str(), e.now_in.as_deref())).collect();
        assert_eq!(
            gone,
            [("d@0.1.x", None), ("d@0.1.0", Some("d@0.1.x")), ("lockfile:d@0.1.0", None)]
        );
        assert_eq!(d.worst(), Severity::Error);
    }

    #[test]
    fn a_culprit_or_stage_change_is_a_change() {
        let mut now = baseline();
        now.findings[2].chain = Some(crate::report::Chain {
            blocked_by: None,
            fails: String::new(),
            caused_by: None,
            culprit_outcome: Some("unconfirmed".to_owned()),
            confirmations: Vec::new(),
            fixed_by: String::new(),
            verdict: String::new(),
        });
        let d = diff(&baseline(), &now, "b.json");
        assert_eq!((d.entries[0].change, d.worst()), (Change::Changed, Severity::Warning));
        expect![[r#"
            "warning own-code, no-yank (R3-unbuildable-stays) -> warning own-code, no-yank (R3-unbuildable-stays), culprit unconfirmed"
        "#]]
        .assert_debug_eq(&d.entries[0].text());
    }
}
