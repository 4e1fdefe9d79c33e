//! Findings and their renderings: a human table, JSON (the stable schema of
//! `docs/check-deps.md`), SARIF 2.1.0 and Markdown; severities and exit codes; suppressions
//! with reasons and expiry dates; merging sharded reports.

use std::fmt::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::cargo::Toolchain;
use crate::error::{Error, Result, io};
use crate::policy::{Action, line_of};
use crate::probe::ProbeResult;

/// The JSON schema version; bumped on any incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    /// Works, nothing to do.
    Ok,
    /// Informational (already yanked, environment, spurious).
    Note,
    /// Broken for fresh consumers, but no action on the registry is needed.
    Warning,
    /// A maintainer action is recommended (yank, fix release, decision).
    Error,
}

/// An advisory joined to a version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdvisoryRef {
    /// `RUSTSEC-…`.
    pub id: String,
    /// `name@version` it was joined to (the version itself, or a culprit's version).
    pub package: String,
    /// Title.
    pub title: String,
    /// Informational kind, `None` for a vulnerability.
    pub informational: Option<String>,
}

/// The semver-compatible successor that fresh consumers (or a yank) would fall back to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Successor {
    /// Its version.
    pub version: semver::Version,
    /// Its probe class.
    pub class: String,
    /// Whether it works.
    pub works: bool,
    /// Whether it has a counted advisory itself.
    pub vulnerable: bool,
}

/// A failing version's story end to end, for every output format: what blocks resolution,
/// what fails behind it, which dependency release caused it (with the confirming builds),
/// what fixes it, and the policy verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chain {
    /// What blocks a fresh consumer's resolution, when something does (the all-yanked
    /// requirement and the yanked versions looked through).
    pub blocked_by: Option<String>,
    /// What fails: the compile error behind the yanks, or in the fresh build.
    pub fails: String,
    /// The culprit search's outcome: the dependency release that caused it (confirmed), or
    /// why none is named (`baseline-fails`, `unconfirmed`, `interaction`, …).
    pub caused_by: Option<String>,
    /// The culprit search's outcome label (`found`, `baseline-fails`, `unconfirmed`, …).
    pub culprit_outcome: Option<String>,
    /// The confirming builds behind a named (or unconfirmed) culprit.
    pub confirmations: Vec<crate::culprit::Confirmation>,
    /// What fixes it: the later release on the line and whether it is free of the culprit.
    pub fixed_by: String,
    /// The policy verdict: `action (rule)`.
    pub verdict: String,
}

/// One finding: a version (or a whole semver line) and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// `name@version` or `name@line` (`a@1.x`): what suppressions match.
    pub id: String,
    /// Crate name.
    #[serde(rename = "crate")]
    pub krate: String,
    /// The versions covered.
    pub versions: Vec<String>,
    /// The semver line.
    pub line: String,
    /// Severity.
    pub severity: Severity,
    /// Failure class label(s).
    pub class: String,
    /// Recommended action.
    pub action: Action,
    /// The policy rule that decided.
    pub rule: String,
    /// Why, in a sentence.
    pub reason: String,
    /// The `cargo yank` command to run by hand, when the action is a yank.
    pub command: Option<String>,
    /// Advisories joined to the version, its culprit and the culprit's last good version.
    pub advisories: Vec<AdvisoryRef>,
    /// The successor and whether it builds.
    pub successor: Option<Successor>,
    /// The suppression reason, when a suppression matched.
    pub suppressed: Option<String>,
    /// The probes behind it (manifest, lockfile, class, culprit…).
    pub evidence: Vec<ProbeResult>,
    /// The file the finding is about (the SARIF location): the checked `Cargo.lock` for
    /// lockfile findings; absent for published versions (reported against `Cargo.toml`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// The story of a failing version, end to end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain: Option<Chain>,
}

impl Finding {
    pub(crate) fn new(
        r: &ProbeResult,
        advisories: Vec<AdvisoryRef>,
        successor: Option<Successor>,
    ) -> Finding {
        Finding {
            id: format!("{}@{}", r.name, r.version),
            krate: r.name.clone(),
            versions: vec![r.version.to_string()],
            line: line_of(&r.version),
            severity: Severity::Ok,
            class: r.class.label(),
            action: Action::None,
            rule: String::new(),
            reason: String::new(),
            command: None,
            advisories,
            successor,
            suppressed: None,
            evidence: vec![r.clone()],
            location: None,
            chain: None,
        }
    }

    pub(crate) fn empty(name: &str, line: &str) -> Finding {
        Finding {
            id: format!("{name}@{line}"),
            krate: name.to_owned(),
            versions: Vec::new(),
            line: line.to_owned(),
            severity: Severity::Note,
            class: String::new(),
            action: Action::None,
            rule: String::new(),
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

    pub(crate) fn set(&mut self, action: Action, severity: Severity, rule: &str, reason: String) {
        self.action = action;
        self.severity = severity;
        self.rule = rule.to_owned();
        self.reason = reason;
    }

    /// The culprit text, when one was named: `b 1.0.1 -> 1.1.0`.
    pub fn culprit(&self) -> Option<String> {
        self.evidence.iter().find_map(|r| match &r.culprit {
            Some(crate::culprit::CulpritSearch::Found { culprit, .. }) => Some(format!(
                "{} {} -> {}{}",
                culprit.package,
                culprit.last_good.version,
                culprit.first_bad.version,
                if culprit.first_bad.yanked { " (yanked)" } else { "" }
            )),
            _ => None,
        })
    }
}

/// A whole run's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The toolchain probes ran with.
    pub toolchain: Toolchain,
    /// The registry read.
    pub registry: String,
    /// Findings, sorted by id.
    pub findings: Vec<Finding>,
    /// Problems with the run itself (expired suppressions, unknown targets…).
    pub warnings: Vec<String>,
    /// `I/N` when this is one shard's report (`--shard`); `check-deps merge` checks that the
    /// shards it merges are all of one run, each once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<String>,
    /// The changes since a baseline report, when one was given (`--baseline`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diff: Option<crate::diff::Diff>,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A plain-text table.
    Human,
    /// JSON, schema [`SCHEMA_VERSION`].
    Json,
    /// SARIF 2.1.0.
    Sarif,
    /// Markdown (for an issue or a CI summary).
    Markdown,
}

impl Report {
    /// The highest severity among unsuppressed findings.
    pub fn max_severity(&self) -> Severity {
        self.findings
            .iter()
            .filter(|f| f.suppressed.is_none())
            .map(|f| f.severity)
            .max()
            .unwrap_or(Severity::Ok)
    }

    /// The severity a CI gate judges: the highest among unsuppressed findings, or with a
    /// [`Report::diff`] the highest among what is new, worse or changed since the baseline
    /// ([`crate::diff::Diff::worst`]; `Ok` when nothing is).
    pub fn gate_severity(&self) -> Severity {
        match &self.diff {
            Some(diff) => diff.worst(),
            None => self.max_severity(),
        }
    }

    /// Whether the report fails a gate set at `fail_on` (`check-deps --fail-on`): its
    /// [`Report::gate_severity`] is `fail_on` or higher. Notes and ok never fail a gate.
    pub fn fails(&self, fail_on: Severity) -> bool {
        self.gate_severity() >= fail_on.max(Severity::Warning)
    }

    /// Renders the report.
    pub fn render(&self, format: Format) -> String {
        match format {
            // The diff comes first: it is what a nightly run is read for.
            Format::Human => match &self.diff {
                Some(diff) => format!("{}\n{}", diff.human(), self.human()),
                None => self.human(),
            },
            Format::Json => serde_json::to_string_pretty(self).unwrap_or_default(),
            Format::Sarif => serde_json::to_string_pretty(&self.sarif()).unwrap_or_default(),
            Format::Markdown => match &self.diff {
                Some(diff) => format!("{}\n{}", diff.markdown(), self.markdown()),
                None => self.markdown(),
            },
        }
    }

    /// The rows of the human and Markdown tables: each crate's findings in version order, with
    /// a run of consecutive versions that share a fine verdict (ok or note, nothing attached:
    /// no chain, command, advisory or suppression) collapsed into one range row
    /// (`a@1.0.0 – 1.0.9 (10 versions)`). Warnings and errors stay individual.
    fn rows(&self) -> Vec<[String; 6]> {
        let mut order: Vec<&Finding> = self.findings.iter().collect();
        order.sort_by_cached_key(|f| display_key(f));
        let mut out = Vec::new();
        let mut run: Vec<(&Finding, [String; 6])> = Vec::new();
        for f in order {
            let row = row(f);
            let extends = run.last().is_some_and(|(last, last_row)| {
                collapsible(f) && last.krate == f.krate && last_row[1..] == row[1..]
            });
            if !extends {
                flush(&mut run, &mut out);
            }
            if collapsible(f) {
                run.push((f, row));
            } else {
                out.push(row);
            }
        }
        flush(&mut run, &mut out);
        out
    }

    fn human(&self) -> String {
        let header = ["target", "severity", "class", "action", "rule", "reason"].map(str::to_owned);
        let rows = self.rows();
        let mut widths = header.clone().map(|h| h.len());
        for row in &rows {
            for (w, cell) in widths.iter_mut().zip(row).take(5) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let mut out = String::new();
        for row in std::iter::once(&header).chain(&rows) {
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate() {
                if i < 5 {
                    let _ = write!(line, "{cell:<w$}  ", w = widths[i]);
                } else {
                    line.push_str(cell);
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        for f in &self.findings {
            let Some(chain) = &f.chain else { continue };
            let _ = writeln!(out, "{}:", f.id);
            let mut previous = "";
            for (label, text) in chain_lines(chain) {
                // A repeated label (the second confirming build) is left blank.
                let shown = if label == previous { "" } else { label };
                previous = label;
                let _ = writeln!(out, "  {shown:<14}{text}");
            }
        }
        for f in self.findings.iter().filter(|f| f.command.is_some() && f.suppressed.is_none()) {
            let _ = writeln!(out, "run by hand: {}", f.command.as_deref().unwrap_or_default());
        }
        for w in &self.warnings {
            let _ = writeln!(out, "warning: {w}");
        }
        let _ = writeln!(
            out,
            "{} ({}), registry {}",
            self.toolchain.rustc, self.toolchain.host, self.registry
        );
        out
    }

    fn markdown(&self) -> String {
        let mut out = String::from(
            "## check-deps\n\n| target | severity | class | action | rule | reason |\n|---|---|---|---|---|---|\n",
        );
        for row in self.rows() {
            let cells: Vec<_> = row.iter().map(|c| c.replace('|', "\\|")).collect();
            let _ = writeln!(out, "| {} |", cells.join(" | "));
        }
        for f in &self.findings {
            let Some(chain) = &f.chain else { continue };
            let _ = writeln!(out, "\n### `{}`\n", f.id);
            for (label, text) in chain_lines(chain) {
                let _ = writeln!(out, "- **{}** {text}", label.trim_end_matches(':'));
            }
        }
        for f in self.findings.iter().filter(|f| f.command.is_some() && f.suppressed.is_none()) {
            let _ = writeln!(out, "\n```sh\n{}\n```", f.command.as_deref().unwrap_or_default());
        }
        for w in &self.warnings {
            let _ = writeln!(out, "\n> warning: {w}");
        }
        let _ = writeln!(
            out,
            "\n_{} ({}), registry {}_",
            self.toolchain.rustc, self.toolchain.host, self.registry
        );
        out
    }

    fn sarif(&self) -> serde_json::Value {
        let level = |s: Severity| match s {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note | Severity::Ok => "note",
        };
        let mut rules: Vec<&str> = self.findings.iter().map(|f| f.rule.as_str()).collect();
        rules.sort_unstable();
        rules.dedup();
        let results: Vec<_> = self
            .findings
            .iter()
            .filter(|f| f.severity > Severity::Ok)
            .map(|f| {
                let mut result = serde_json::json!({
                    "ruleId": f.rule,
                    "level": level(f.severity),
                    "message": { "text": sarif_message(f) },
                    "locations": [{ "physicalLocation": { "artifactLocation": {
                        "uri": f.location.as_deref().unwrap_or("Cargo.toml"),
                    } } }],
                    "partialFingerprints": { "finding": f.id },
                    "properties": { "action": f.action, "command": f.command, "chain": f.chain },
                });
                if let Some(diff) = &self.diff {
                    // SARIF's own word for what the diff says about this result.
                    let entry = diff.entries.iter().find(|e| e.id == f.id);
                    result["baselineState"] = serde_json::json!(match entry.map(|e| e.change) {
                        Some(crate::diff::Change::New) => "new",
                        Some(_) => "updated",
                        None => "unchanged",
                    });
                }
                if let Some(reason) = &f.suppressed {
                    result["suppressions"] =
                        serde_json::json!([{ "kind": "external", "justification": reason }]);
                }
                result
            })
            .collect();
        serde_json::json!({
            "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
            "version": "2.1.0",
            "runs": [{
                "tool": { "driver": {
                    "name": "proofmark check-deps",
                    "rules": rules.iter().map(|r| serde_json::json!({ "id": r })).collect::<Vec<_>>(),
                } },
                "results": results,
            }],
        })
    }

    /// Merges reports (same schema; findings concatenated and sorted by id, warnings in order
    /// of first appearance, each once). A suppression that matched nothing in one shard but
    /// something in another is not reported as unused. See [`crate::merge`] for the checked
    /// merge of a sharded run's reports.
    pub fn merge(reports: Vec<Report>) -> Option<Report> {
        let mut iter = reports.into_iter();
        let mut first = iter.next()?;
        for r in iter {
            first.findings.extend(r.findings);
            first.warnings.extend(r.warnings);
            if r.toolchain != first.toolchain {
                first
                    .warnings
                    .push(format!("shards ran on different toolchains: {}", r.toolchain.rustc));
            }
        }
        first.findings.sort_by(|a, b| a.id.cmp(&b.id));
        let mut seen = std::collections::BTreeSet::new();
        let findings = &first.findings;
        first.warnings.retain(|w| {
            let used_elsewhere = w
                .strip_prefix("suppression `")
                .and_then(|rest| rest.strip_suffix("` matches no finding"))
                .is_some_and(|id| {
                    findings.iter().any(|f| f.suppressed.is_some() && (f.id == id || f.krate == id))
                });
            !used_elsewhere && seen.insert(w.clone())
        });
        first.shard = None;
        first.diff = None;
        Some(first)
    }

    /// Reads a JSON report (a baseline, or a shard's for merging). A file that is not a
    /// check-deps JSON report, or one of another schema version, is an error naming the file.
    pub fn read(path: &Path) -> Result<Report> {
        let text = std::fs::read_to_string(path).map_err(io("read", path))?;
        let not_a_report = |detail: String| Error::NotAReport { path: path.to_owned(), detail };
        let value: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| not_a_report(format!("not JSON: {e}")))?;
        let version = value.get("schema_version").and_then(serde_json::Value::as_u64);
        let Some(version) = version else {
            let what = if value.get("runs").is_some() { "SARIF" } else { "no `schema_version`" };
            return Err(not_a_report(what.to_owned()));
        };
        if version != u64::from(SCHEMA_VERSION) {
            return Err(Error::SchemaVersion {
                path: path.to_owned(),
                found: version,
                expected: SCHEMA_VERSION,
            });
        }
        serde_json::from_value(value)
            .map_err(|source| Error::Report { path: path.to_owned(), source })
    }
}

/// One finding's table row: target, severity, class, action, rule, reason.
fn row(f: &Finding) -> [String; 6] {
    let mut reason = f.reason.clone();
    for r in &f.evidence {
        if let Some(look) = &r.look_through {
            reason.push_str(&format!(
                "; {} with yanked {}: {}",
                r.version,
                look.seeded.join(", "),
                look.class.label()
            ));
        }
        for note in &r.index_notes {
            reason.push_str(&format!("; index: {}", note_text(note)));
        }
    }
    if let Some(c) = f.culprit() {
        reason.push_str(&format!("; culprit {c}"));
    }
    if !f.advisories.is_empty() {
        let ids: Vec<_> =
            f.advisories.iter().map(|a| format!("{} ({})", a.id, a.package)).collect();
        reason.push_str(&format!("; advisories {}", ids.join(", ")));
    }
    if let Some(s) = &f.suppressed {
        reason.push_str(&format!("; suppressed: {s}"));
    }
    [f.id.clone(), kebab(&f.severity), f.class.clone(), kebab(&f.action), f.rule.clone(), reason]
}

/// Whether a finding may share a range row: a fine verdict on one version, nothing attached.
fn collapsible(f: &Finding) -> bool {
    f.severity <= Severity::Note
        && f.suppressed.is_none()
        && f.command.is_none()
        && f.chain.is_none()
        && f.advisories.is_empty()
        && matches!(f.versions.as_slice(), [v] if f.id == format!("{}@{v}", f.krate))
}

/// Table order: by the id's name part, then by version (not as text: 1.9.0 before 1.10.0).
fn display_key(f: &Finding) -> (String, Option<semver::Version>, String) {
    let (prefix, suffix) = f.id.rsplit_once('@').unwrap_or((f.id.as_str(), ""));
    let version = semver::Version::parse(suffix)
        .ok()
        .or_else(|| f.versions.iter().filter_map(|v| semver::Version::parse(v).ok()).min());
    (prefix.to_owned(), version, f.id.clone())
}

/// Ends a run of collapsible rows: one row, or one range row for two or more.
fn flush(run: &mut Vec<(&Finding, [String; 6])>, out: &mut Vec<[String; 6]>) {
    match run.as_slice() {
        [] => {}
        [(_, row)] => out.push(row.clone()),
        [(first, row), .., (last, _)] => {
            let mut row = row.clone();
            let (a, b) = (&first.versions[0], &last.versions[0]);
            row[0] = format!("{}@{a} – {b} ({} versions)", first.krate, run.len());
            out.push(row);
        }
    }
    run.clear();
}

/// The chain as labelled lines (the human report and Markdown share them).
fn chain_lines(chain: &Chain) -> Vec<(&'static str, String)> {
    let mut lines = Vec::new();
    if let Some(b) = &chain.blocked_by {
        lines.push(("blocked by:", b.clone()));
    }
    lines.push(("fails:", chain.fails.clone()));
    if let Some(c) = &chain.caused_by {
        lines.push(("caused by:", c.clone()));
    }
    for c in &chain.confirmations {
        let moved = if c.moved.is_empty() {
            String::new()
        } else {
            format!(" (cargo also moved {})", c.moved.join(", "))
        };
        let verdict = if c.holds { "as expected" } else { "disagrees" };
        lines.push(("confirmed by:", format!("{}: {}, {verdict}{moved}", c.build, c.class)));
    }
    lines.push(("fixed by:", chain.fixed_by.clone()));
    lines.push(("verdict:", chain.verdict.clone()));
    lines
}

fn sarif_message(f: &Finding) -> String {
    let mut text = format!("{}: {} ({})", f.id, f.reason, f.class);
    if let Some(chain) = &f.chain {
        for (label, line) in chain_lines(chain) {
            let _ = write!(text, "; {} {line}", label.trim_end_matches(':'));
        }
    }
    text
}

fn note_text(note: &crate::probe::IndexNote) -> String {
    use crate::probe::IndexNote;
    match note {
        IndexNote::AllYanked { dependency, req, .. } => format!("all of {dependency} {req} yanked"),
        IndexNote::Missing { dependency, req } => format!("nothing matches {dependency} {req}"),
        IndexNote::UpperBound { dependency, req } => format!("upper-bound pin {dependency} {req}"),
        IndexNote::RustVersion { rust_version } => {
            format!("rust-version {rust_version} above the toolchain")
        }
    }
}

fn kebab<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

/// One suppression: a finding id (`name@version` or `name@line`), why, and until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suppression {
    /// The finding id, or a crate name to match all its findings.
    pub id: String,
    /// Why (required).
    pub reason: String,
    /// `YYYY-MM-DD`; after it the suppression no longer applies and is reported.
    pub expires: Option<String>,
}

#[derive(Deserialize)]
struct SuppressionFile {
    #[serde(default)]
    ignore: Vec<Suppression>,
}

/// Reads a suppression file (`[[ignore]] id = "…" reason = "…" expires = "YYYY-MM-DD"`).
pub fn read_suppressions(path: &Path) -> Result<Vec<Suppression>> {
    let text = std::fs::read_to_string(path).map_err(io("read", path))?;
    let file: SuppressionFile = toml::from_str(&text)
        .map_err(|e| Error::Toml { path: path.to_owned(), detail: e.to_string() })?;
    Ok(file.ignore)
}

/// Marks suppressed findings; expired or unused suppressions become report warnings.
pub fn apply_suppressions(report: &mut Report, suppressions: &[Suppression], today: &str) {
    for s in suppressions {
        if s.expires.as_deref().is_some_and(|e| e < today) {
            report.warnings.push(format!(
                "suppression `{}` expired on {}",
                s.id,
                s.expires.as_deref().unwrap_or("")
            ));
            continue;
        }
        let mut used = false;
        for f in report.findings.iter_mut().filter(|f| f.id == s.id || f.krate == s.id) {
            f.suppressed = Some(s.reason.clone());
            used = true;
        }
        if !used {
            report.warnings.push(format!("suppression `{}` matches no finding", s.id));
        }
    }
}

/// Today's date (UTC) as `YYYY-MM-DD`.
pub fn today() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    proofmark_types::civil::CivilDate::from_unix_seconds(secs).to_string()
}
