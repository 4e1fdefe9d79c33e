//! `cargo xtask bench`: run the criterion benches, then print one table of ratios and goals.
//!
//! Convention: in every criterion group, the reference implementation's function is named
//! `baseline` and is measured in the same run as ours. We read criterion's own estimates
//! (`target/criterion/**/new/{benchmark,estimates}.json`) and report each other function's
//! figure as a ratio of the baseline's, so the figure does not depend on how fast the machine is.
//!
//! Every goal gets a row, measured or not: a goal whose bench was not selected, skipped (a tool
//! missing), failed, or left no estimate is printed as "not measured: why", and `--check` fails
//! on it as it fails on a missed goal. Each goal is judged on one named figure.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::SystemTime;

use anyhow::Context;
use serde_json::Value;

use crate::cmd;

#[derive(clap::Args, Debug)]
pub(crate) struct BenchArgs {
    /// Only run benches whose id contains this (criterion's filter).
    filter: Option<String>,
    /// Only bench this package (repeatable); default: the whole workspace.
    #[arg(long = "package", short = 'p')]
    packages: Vec<String>,
    /// Exit non-zero when any goal is missed or not measured.
    #[arg(long)]
    check: bool,
}

/// Which figure of a measurement a ratio is taken of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Figure {
    /// Criterion's mean; subject and reference measured one after the other in the same run.
    Mean,
    /// Criterion's median; subject and reference measured one after the other in the same run.
    Median,
    /// The medians of a bench that alternates subject and reference round by round
    /// (`proofmark_test_support::bench::record`), so load drift hits both alike.
    PairedMedian,
}

impl Figure {
    fn label(self) -> &'static str {
        match self {
            Figure::Mean => "mean",
            Figure::Median => "median",
            Figure::PairedMedian => "paired median",
        }
    }
}

/// A goal stated by an issue: the largest acceptable ratio of `subject` to `reference` in a
/// group, on one figure. A goal's group matches the group itself and its parameterised variants
/// (`group/...`). `package` and `bench` name the bench target that measures it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Goal {
    pub(crate) package: &'static str,
    pub(crate) bench: &'static str,
    pub(crate) group: &'static str,
    pub(crate) subject: &'static str,
    pub(crate) reference: &'static str,
    pub(crate) figure: Figure,
    pub(crate) max: f64,
}

const fn goal(
    (package, bench): (&'static str, &'static str),
    group: &'static str,
    reference: &'static str,
    figure: Figure,
    max: f64,
) -> Goal {
    Goal { package, bench, group, subject: "proofmark", reference, figure, max }
}

const TYPES: (&str, &str) = ("proofmark-types", "signer");
const TPM: (&str, &str) = ("proofmark-tpm", "tpm_sign");
const DEPS: (&str, &str) = ("proofmark-deps", "probe");
const COSIGN: (&str, &str) = ("proofmark-cosign", "cosign");
const RELEASE: (&str, &str) = ("proofmark-release", "history");

/// The goals of the issues. Criterion goals are judged on the mean, as they always were; a
/// change of figure needs a minute that says why, with the old figure kept in the record.
const GOALS: &[Goal] = &[
    // proofmark-types: the trait layer adds nothing; prepared verification is >= 3x faster.
    goal(TYPES, "software_sign_p256", "baseline", Figure::Mean, 1.10),
    goal(TYPES, "verify_p256_prepared", "baseline", Figure::Mean, 1.0 / 3.0),
    goal(TYPES, "verify_p384_prepared", "baseline", Figure::Mean, 1.0 / 3.0),
    goal(TYPES, "verify_p256", "baseline", Figure::Mean, 1.10),
    // proofmark-tpm (issue 4): TpmSigner within 10 % of bare tss-esapi signing, judged on the
    // bench's paired medians (criterion's `tpm_sign` means are taken a minute apart and drift
    // with the machine's load; they are printed without a goal).
    goal(TPM, "tpm_sign_interleaved", "baseline", Figure::PairedMedian, 1.10),
    // proofmark-tpm (issue 15): the same goal for a signer opened from a TSS2 key file.
    goal(TPM, "tpm_sign_tss2_interleaved", "baseline", Figure::PairedMedian, 1.10),
    // proofmark-deps (issue 13, replacing issue 3's fresh `cargo build` per version, which
    // nobody scripts and which stays in the bench as `info_fresh_build_per_version`, without a
    // goal): detection (every stage up to `cargo check`, no culprit search) no slower than a
    // maintainer's loop of `generate-lockfile` + `check` sharing one target folder, and a warm
    // re-run with an unchanged index <= 0.05x that loop re-run.
    goal(DEPS, "detect_cold", "baseline", Figure::Mean, 1.0),
    goal(DEPS, "detect_warm", "baseline", Figure::Mean, 0.05),
    // proofmark-cosign (issue 12, like for like in the `.sig` layout sigstore-rs writes): signing
    // one image no slower than sigstore-rs; signing N images in one batch no slower than
    // sigstore-rs signing them concurrently (tokio tasks); verifying <= 0.3x sigstore-rs.
    // (`sign_vs_serial_loop`, the batch against a serial loop, `verify`'s `proofmark_bundle`,
    // and the paired medians of `sign_one_interleaved`, `sign_interleaved` and
    // `verify_interleaved` are printed without a goal; minutes/2026-12-02-cosign-bench.md.)
    goal(COSIGN, "sign_one", "baseline", Figure::Mean, 1.0),
    goal(COSIGN, "sign", "baseline", Figure::Mean, 1.0),
    goal(COSIGN, "verify", "baseline", Figure::Mean, 0.3),
    // proofmark-release: the dry-run plan (issue 11, on a history with release merges,
    // pre-release tags and cherry-picks) <= 0.10x git-cliff run once per crate and <= 1.5x one
    // `git log --name-only` of the same range; the full-history regeneration (issue 7) >= 3x
    // faster than git-cliff and within 2x of `git log` over the whole history.
    goal(RELEASE, "changelog_unreleased", "baseline", Figure::Mean, 0.10),
    goal(RELEASE, "changelog_unreleased", "git_log", Figure::Mean, 1.5),
    goal(RELEASE, "changelog_full", "baseline", Figure::Mean, 1.0 / 3.0),
    goal(RELEASE, "changelog_full", "git_log", Figure::Mean, 2.0),
];

/// One figure of one measured function of a group.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Estimate {
    pub(crate) group: String,
    pub(crate) function: String,
    pub(crate) figure: Figure,
    pub(crate) ns: f64,
}

/// How a goal or a comparison came out.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Verdict {
    Met,
    Missed,
    /// Printed for information: no goal covers it.
    NoGoal,
    NotMeasured(String),
}

/// One row of the table: a subject compared with a reference on one figure.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Row {
    pub(crate) group: String,
    pub(crate) subject: String,
    /// The function compared with (`baseline` unless a goal names another).
    pub(crate) reference: String,
    pub(crate) figure: Figure,
    /// Subject and reference times and their ratio; `None` when not measured.
    pub(crate) measured: Option<(f64, f64, f64)>,
    pub(crate) goal: Option<f64>,
    pub(crate) verdict: Verdict,
}

/// What happened to one bench target in this run.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Outcome {
    Ran,
    /// The bench printed that it skipped; its line.
    Skipped(String),
    /// `cargo bench` failed; how.
    Failed(String),
}

pub(crate) fn run(args: &BenchArgs) -> anyhow::Result<()> {
    let started = SystemTime::now();
    let root = crate::project_root();
    let targets = bench_targets(&args.packages)?;
    // One build for all benches first, so a compile error is reported once and plainly.
    let mut build = cmd::cargo();
    build.args(["bench", "--locked", "--no-run"]);
    for (package, _) in &targets {
        build.args(["--package", package]);
    }
    let built = cmd::run(&mut build);
    let mut outcomes: BTreeMap<(String, String), Outcome> = BTreeMap::new();
    for (package, bench) in &targets {
        let outcome = match &built {
            Err(err) => Outcome::Failed(format!("the benches did not build: {err:#}")),
            Ok(_) => run_one(package, bench, args.filter.as_deref()),
        };
        outcomes.insert((package.clone(), bench.clone()), outcome);
    }

    let mut estimates = read_estimates(&root.join("target/criterion"), started)?;
    estimates.extend(read_paired(&root.join("target/tmp/proofmark-bench"), started)?);
    let why = |g: &Goal| why_not_measured(g, &outcomes, args.filter.as_deref());
    let rows = rows(GOALS, &estimates, &why);
    println!("\n{}", table(&rows));
    let json = serde_json::json!(rows.iter().map(row_json).collect::<Vec<_>>());
    let out = root.join("target/proofmark-bench.json");
    std::fs::write(&out, serde_json::to_string_pretty(&json)?)
        .with_context(|| format!("writing {}", out.display()))?;
    println!("ratios written to {}", out.display());
    let failing = failing_goals(&rows);
    if args.check && failing > 0 {
        anyhow::bail!("{failing} goal(s) missed or not measured (see the table above)");
    }
    Ok(())
}

/// The number of goal rows that are missed or not measured.
pub(crate) fn failing_goals(rows: &[Row]) -> usize {
    rows.iter()
        .filter(|r| {
            r.goal.is_some() && matches!(r.verdict, Verdict::Missed | Verdict::NotMeasured(_))
        })
        .count()
}

fn row_json(r: &Row) -> Value {
    let (subject_ns, reference_ns, ratio) = r.measured.unzip3();
    let (verdict, why) = match &r.verdict {
        Verdict::Met => ("met", None),
        Verdict::Missed => ("missed", None),
        Verdict::NoGoal => ("no goal", None),
        Verdict::NotMeasured(why) => ("not measured", Some(why.as_str())),
    };
    serde_json::json!({
        "group": r.group, "subject": r.subject, "reference": r.reference,
        "figure": r.figure.label(), "subject_ns": subject_ns, "reference_ns": reference_ns,
        "ratio": ratio, "goal": r.goal, "verdict": verdict, "why": why,
    })
}

trait Unzip3 {
    fn unzip3(self) -> (Option<f64>, Option<f64>, Option<f64>);
}

impl Unzip3 for Option<(f64, f64, f64)> {
    fn unzip3(self) -> (Option<f64>, Option<f64>, Option<f64>) {
        self.map_or((None, None, None), |(a, b, c)| (Some(a), Some(b), Some(c)))
    }
}

/// The workspace's bench targets, as `(package, bench)`, of `packages` (all when empty).
fn bench_targets(packages: &[String]) -> anyhow::Result<Vec<(String, String)>> {
    let out = cmd::cargo()
        .args(["metadata", "--format-version", "1", "--no-deps", "--locked"])
        .output()
        .context("could not run `cargo metadata`")?;
    anyhow::ensure!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let meta: Value = serde_json::from_slice(&out.stdout).context("parsing `cargo metadata`")?;
    let mut found = Vec::new();
    for p in meta["packages"].as_array().into_iter().flatten() {
        let name = p["name"].as_str().unwrap_or_default();
        if !packages.is_empty() && !packages.iter().any(|wanted| wanted == name) {
            continue;
        }
        for t in p["targets"].as_array().into_iter().flatten() {
            let is_bench = t["kind"].as_array().is_some_and(|k| k.iter().any(|k| k == "bench"));
            if let (true, Some(bench)) = (is_bench, t["name"].as_str()) {
                found.push((name.to_owned(), bench.to_owned()));
            }
        }
    }
    for wanted in packages {
        anyhow::ensure!(
            found.iter().any(|(p, _)| p == wanted),
            "package `{wanted}` has no bench target (or is not in this workspace)"
        );
    }
    Ok(found)
}

/// Runs one bench target, echoing its output, and notes whether it said it skipped.
fn run_one(package: &str, bench: &str, filter: Option<&str>) -> Outcome {
    let mut cargo = cmd::cargo();
    cargo.args(["bench", "--locked", "--package", package, "--bench", bench, "--"]);
    if let Some(filter) = filter {
        cargo.arg(filter);
    }
    println!("$ {}", cmd::display(&cargo));
    let child = cargo.stdout(Stdio::piped()).spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(e) => return Outcome::Failed(format!("could not start cargo: {e}")),
    };
    let mut skipped = None;
    if let Some(stdout) = child.stdout.take() {
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            println!("{line}");
            if skipped.is_none() && line.to_lowercase().contains("skip") {
                skipped = Some(line.trim().to_owned());
            }
        }
    }
    match (child.wait(), skipped) {
        (Err(e), _) => Outcome::Failed(format!("waiting for cargo: {e}")),
        (Ok(status), _) if !status.success() => {
            Outcome::Failed(format!("`cargo bench -p {package} --bench {bench}` failed ({status})"))
        }
        (Ok(_), Some(line)) => Outcome::Skipped(line),
        (Ok(_), None) => Outcome::Ran,
    }
}

/// Why `goal` has no figure in this run, as precisely as the outcomes tell.
pub(crate) fn why_not_measured(
    goal: &Goal,
    outcomes: &BTreeMap<(String, String), Outcome>,
    filter: Option<&str>,
) -> String {
    let target = (goal.package.to_owned(), goal.bench.to_owned());
    match outcomes.get(&target) {
        None => format!("bench {}/{} was not run (package not selected)", goal.package, goal.bench),
        Some(Outcome::Skipped(line)) => format!("bench skipped: {line}"),
        Some(Outcome::Failed(why)) => why.clone(),
        Some(Outcome::Ran) => {
            let mut why = format!("no {} estimate from this run", goal.figure.label());
            if let Some(filter) = filter {
                why.push_str(&format!(" (filter `{filter}`)"));
            }
            why
        }
    }
}

/// Paired medians benches recorded with `proofmark_test_support::bench::record` since `since`.
fn read_paired(dir: &Path, since: SystemTime) -> anyhow::Result<Vec<Estimate>> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return Ok(found) };
    for entry in entries.flatten() {
        let path = entry.path();
        let fresh = entry.metadata().and_then(|m| m.modified()).is_ok_and(|t| t >= since);
        if !fresh || path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let value: Value =
            serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        let field = |key: &str| value.get(key).and_then(Value::as_str).map(str::to_owned);
        let (Some(group), Some(function), Some(mean_ns)) =
            (field("group"), field("function"), value.get("mean_ns").and_then(Value::as_f64))
        else {
            anyhow::bail!("{} is not a recorded measurement", path.display());
        };
        found.push(Estimate { group, function, figure: Figure::PairedMedian, ns: mean_ns });
    }
    found.sort_by(|a, b| (&a.group, &a.function).cmp(&(&b.group, &b.function)));
    Ok(found)
}

/// Every criterion result under `dir` written since `since` (this run's results only).
fn read_estimates(dir: &Path, since: SystemTime) -> anyhow::Result<Vec<Estimate>> {
    let mut found = Vec::new();
    let mut stack: Vec<PathBuf> = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            if !path.is_dir() {
                continue;
            }
            if path.file_name().is_some_and(|n| n == "new") {
                let estimates = path.join("estimates.json");
                let fresh = estimates
                    .metadata()
                    .and_then(|m| m.modified())
                    .is_ok_and(|modified| modified >= since);
                if fresh {
                    found.extend(read_one(&path)?);
                }
            } else if path.file_name().is_some_and(|n| n != "report") {
                stack.push(path);
            }
        }
    }
    found.sort_by(|a, b| (&a.group, &a.function).cmp(&(&b.group, &b.function)));
    Ok(found)
}

/// The mean and the median of one criterion result.
fn read_one(new_dir: &Path) -> anyhow::Result<[Estimate; 2]> {
    let read = |name: &str| -> anyhow::Result<Value> {
        let path = new_dir.join(name);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
    };
    let benchmark = read("benchmark.json")?;
    let estimates = read("estimates.json")?;
    let text = |key: &str| benchmark.get(key).and_then(Value::as_str).map(str::to_owned);
    let mut group = text("group_id").context("benchmark.json has no group_id")?;
    if let Some(value) = text("value_str") {
        group = format!("{group}/{value}");
    }
    let function = text("function_id").unwrap_or_else(|| "baseline".to_owned());
    let figure = |key: &str, figure: Figure| -> anyhow::Result<Estimate> {
        let ns = estimates
            .pointer(&format!("/{key}/point_estimate"))
            .and_then(Value::as_f64)
            .with_context(|| format!("{}: estimates.json has no {key}", new_dir.display()))?;
        Ok(Estimate { group: group.clone(), function: function.clone(), figure, ns })
    };
    Ok([figure("mean", Figure::Mean)?, figure("median", Figure::Median)?])
}

fn in_group(group: &str, goal_group: &str) -> bool {
    group == goal_group || group.strip_prefix(goal_group).is_some_and(|r| r.starts_with('/'))
}

/// The table: first one row per goal (per measured variant of its group, or one "not measured"
/// row with `why`), then, for information, every other function's mean (or paired median)
/// against its group's baseline.
pub(crate) fn rows(
    goals: &[Goal],
    estimates: &[Estimate],
    why: &dyn Fn(&Goal) -> String,
) -> Vec<Row> {
    let find = |group: &str, function: &str, figure: Figure| {
        estimates.iter().find(|e| e.group == group && e.function == function && e.figure == figure)
    };
    let mut out = Vec::new();
    for g in goals {
        let mut variants: Vec<&str> = estimates
            .iter()
            .filter(|e| {
                in_group(&e.group, g.group) && e.function == g.subject && e.figure == g.figure
            })
            .map(|e| e.group.as_str())
            .collect();
        variants.dedup();
        let mut measured_any = false;
        for group in variants {
            let (Some(subject), Some(reference)) =
                (find(group, g.subject, g.figure), find(group, g.reference, g.figure))
            else {
                continue;
            };
            measured_any = true;
            let ratio = subject.ns / reference.ns;
            out.push(Row {
                group: group.to_owned(),
                subject: g.subject.to_owned(),
                reference: g.reference.to_owned(),
                figure: g.figure,
                measured: Some((subject.ns, reference.ns, ratio)),
                goal: Some(g.max),
                verdict: if ratio <= g.max { Verdict::Met } else { Verdict::Missed },
            });
        }
        if !measured_any {
            out.push(Row {
                group: g.group.to_owned(),
                subject: g.subject.to_owned(),
                reference: g.reference.to_owned(),
                figure: g.figure,
                measured: None,
                goal: Some(g.max),
                verdict: Verdict::NotMeasured(why(g)),
            });
        }
    }
    let informative = estimates.iter().filter(|e| {
        e.function != "baseline" && matches!(e.figure, Figure::Mean | Figure::PairedMedian)
    });
    for e in informative {
        let covered = out
            .iter()
            .any(|r| r.group == e.group && r.subject == e.function && r.reference == "baseline");
        let Some(base) = find(&e.group, "baseline", e.figure) else { continue };
        if covered {
            continue;
        }
        out.push(Row {
            group: e.group.clone(),
            subject: e.function.clone(),
            reference: "baseline".to_owned(),
            figure: e.figure,
            measured: Some((e.ns, base.ns, e.ns / base.ns)),
            goal: None,
            verdict: Verdict::NoGoal,
        });
    }
    out
}

pub(crate) fn table(rows: &[Row]) -> String {
    if rows.is_empty() {
        return "no goals and no bench group with a `baseline` function ran".to_owned();
    }
    let mut s = format!(
        "{:<28} {:<10} {:<10} {:<13} {:>10} {:>10} {:>7}  {}\n",
        "group", "subject", "vs", "figure", "subject", "reference", "ratio", "goal"
    );
    for r in rows {
        let goal = match (&r.goal, &r.verdict) {
            (Some(g), Verdict::Met) => format!("<= {g:.2} met"),
            (Some(g), Verdict::Missed) => format!("<= {g:.2} MISSED"),
            (Some(g), Verdict::NotMeasured(why)) => format!("<= {g:.2} not measured: {why}"),
            _ => "-".to_owned(),
        };
        let (subject, reference, ratio) = match r.measured {
            Some((s, b, ratio)) => (human(s), human(b), format!("{ratio:.3}")),
            None => ("-".to_owned(), "-".to_owned(), "-".to_owned()),
        };
        s.push_str(&format!(
            "{:<28} {:<10} {:<10} {:<13} {subject:>10} {reference:>10} {ratio:>7}  {goal}\n",
            r.group,
            r.subject,
            r.reference,
            r.figure.label(),
        ));
    }
    s
}

fn human(ns: f64) -> String {
    match ns {
        ns if ns >= 1e9 => format!("{:.2} s", ns / 1e9),
        ns if ns >= 1e6 => format!("{:.2} ms", ns / 1e6),
        ns if ns >= 1e3 => format!("{:.2} µs", ns / 1e3),
        ns => format!("{ns:.0} ns"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn est(group: &str, function: &str, figure: Figure, ns: f64) -> Estimate {
        Estimate { group: group.to_owned(), function: function.to_owned(), figure, ns }
    }

    /// Criterion's two figures of one function.
    fn both(group: &str, function: &str, mean: f64, median: f64) -> [Estimate; 2] {
        [est(group, function, Figure::Mean, mean), est(group, function, Figure::Median, median)]
    }

    fn why(g: &Goal) -> String {
        format!("(why for {})", g.bench)
    }

    #[test]
    fn every_goal_gets_a_row_measured_or_not() {
        let estimates: Vec<Estimate> = [
            both("software_sign_p256", "baseline", 100.0, 100.0),
            both("software_sign_p256", "proofmark", 105.0, 130.0),
            both("verify_p256", "baseline", 100.0, 100.0),
            both("verify_p256", "proofmark", 125.0, 101.0),
            both("tpm_sign", "baseline", 400_000.0, 390_000.0),
            both("tpm_sign", "proofmark", 500_000.0, 380_000.0),
            both("orphan", "proofmark", 1.0, 1.0),
            both("changelog_full", "baseline", 9.0e9, 9.0e9),
            both("changelog_full", "proofmark", 2.0e9, 2.0e9),
            both("changelog_full", "git_log", 1.5e9, 1.5e9),
            // The subject without its reference is not a measurement of the goal.
            both("sign", "proofmark", 3.0e6, 3.0e6),
        ]
        .into_iter()
        .flatten()
        .chain([
            est("tpm_sign_interleaved", "baseline", Figure::PairedMedian, 600_000.0),
            est("tpm_sign_interleaved", "proofmark", Figure::PairedMedian, 630_000.0),
        ])
        .collect();
        let rows = rows(GOALS, &estimates, &why);
        expect_test::expect![[r#"
            group                        subject    vs         figure           subject  reference   ratio  goal
            software_sign_p256           proofmark  baseline   mean              105 ns     100 ns   1.050  <= 1.10 met
            verify_p256_prepared         proofmark  baseline   mean                   -          -       -  <= 0.33 not measured: (why for signer)
            verify_p384_prepared         proofmark  baseline   mean                   -          -       -  <= 0.33 not measured: (why for signer)
            verify_p256                  proofmark  baseline   mean              125 ns     100 ns   1.250  <= 1.10 MISSED
            tpm_sign_interleaved         proofmark  baseline   paired median  630.00 µs  600.00 µs   1.050  <= 1.10 met
            tpm_sign_tss2_interleaved    proofmark  baseline   paired median          -          -       -  <= 1.10 not measured: (why for tpm_sign)
            detect_cold                  proofmark  baseline   mean                   -          -       -  <= 1.00 not measured: (why for probe)
            detect_warm                  proofmark  baseline   mean                   -          -       -  <= 0.05 not measured: (why for probe)
            sign_one                     proofmark  baseline   mean                   -          -       -  <= 1.00 not measured: (why for cosign)
            sign                         proofmark  baseline   mean                   -          -       -  <= 1.00 not measured: (why for cosign)
            verify                       proofmark  baseline   mean                   -          -       -  <= 0.30 not measured: (why for cosign)
            changelog_unreleased         proofmark  baseline   mean                   -          -       -  <= 0.10 not measured: (why for history)
            changelog_unreleased         proofmark  git_log    mean                   -          -       -  <= 1.50 not measured: (why for history)
            changelog_full               proofmark  baseline   mean              2.00 s     9.00 s   0.222  <= 0.33 met
            changelog_full               proofmark  git_log    mean              2.00 s     1.50 s   1.333  <= 2.00 met
            tpm_sign                     proofmark  baseline   mean           500.00 µs  400.00 µs   1.250  -
            changelog_full               git_log    baseline   mean              1.50 s     9.00 s   0.167  -
        "#]]
        .assert_eq(&table(&rows));
        // One missed and ten not measured: `--check` fails on all eleven.
        assert_eq!(failing_goals(&rows), 11);
        let all_met: Vec<Row> = rows.into_iter().filter(|r| r.verdict == Verdict::Met).collect();
        assert_eq!(failing_goals(&all_met), 0);
    }

    #[test]
    fn a_goal_is_judged_on_its_own_figure_and_every_variant() {
        let goals = [Goal {
            package: "p",
            bench: "b",
            group: "g",
            subject: "proofmark",
            reference: "baseline",
            figure: Figure::Median,
            max: 1.0,
        }];
        // The means would miss the goal, the medians meet it; two parameterised variants.
        let estimates: Vec<Estimate> = [
            both("g/small", "baseline", 10.0, 10.0),
            both("g/small", "proofmark", 20.0, 9.0),
            both("g/large", "baseline", 100.0, 100.0),
            both("g/large", "proofmark", 90.0, 110.0),
            both("gx", "proofmark", 1.0, 1.0),
        ]
        .into_iter()
        .flatten()
        .collect();
        let rows = rows(&goals, &estimates, &why);
        expect_test::expect![[r#"
            group                        subject    vs         figure           subject  reference   ratio  goal
            g/small                      proofmark  baseline   median              9 ns      10 ns   0.900  <= 1.00 met
            g/large                      proofmark  baseline   median            110 ns     100 ns   1.100  <= 1.00 MISSED
        "#]]
        .assert_eq(&table(&rows));
        assert_eq!(failing_goals(&rows), 1);
    }

    #[test]
    fn the_reason_says_what_kept_a_goal_unmeasured() {
        let g = &GOALS[0];
        let target = (g.package.to_owned(), g.bench.to_owned());
        let reason = |outcome: Option<Outcome>, filter: Option<&str>| {
            let outcomes: BTreeMap<_, _> =
                outcome.map(|o| (target.clone(), o)).into_iter().collect();
            why_not_measured(g, &outcomes, filter)
        };
        let reasons = [
            reason(None, None),
            reason(
                Some(Outcome::Skipped("tpm_sign: swtpm is not installed; skipping".into())),
                None,
            ),
            reason(Some(Outcome::Failed("`cargo bench` failed (exit status: 101)".into())), None),
            reason(Some(Outcome::Ran), None),
            reason(Some(Outcome::Ran), Some("verify")),
        ];
        expect_test::expect![[r#"
            bench proofmark-types/signer was not run (package not selected)
            bench skipped: tpm_sign: swtpm is not installed; skipping
            `cargo bench` failed (exit status: 101)
            no mean estimate from this run
            no mean estimate from this run (filter `verify`)"#]]
        .assert_eq(&reasons.join("\n"));
    }

    #[test]
    fn every_goal_names_a_bench_target_that_exists() {
        let root = crate::project_root();
        for g in GOALS {
            let file =
                root.join("crates").join(g.package).join("benches").join(format!("{}.rs", g.bench));
            let text = std::fs::read_to_string(&file)
                .unwrap_or_else(|e| panic!("{g:?}: {}: {e}", file.display()));
            assert!(
                text.contains(&format!("\"{}\"", g.group)),
                "{g:?}: group not in {}",
                file.display()
            );
        }
    }

    #[test]
    fn paired_medians_are_read_from_this_run_only() {
        let dir = tempfile::tempdir().unwrap();
        let write = |function: &str, ns: f64| {
            std::fs::write(
                dir.path().join(format!("tpm_sign_interleaved.{function}.json")),
                format!(
                    r#"{{"group":"tpm_sign_interleaved","function":"{function}","mean_ns":{ns}}}"#
                ),
            )
            .unwrap();
        };
        write("stale", 1.0);
        std::thread::sleep(std::time::Duration::from_millis(20));
        let since = SystemTime::now();
        std::thread::sleep(std::time::Duration::from_millis(20));
        write("baseline", 600_000.0);
        write("proofmark", 630_000.0);
        let got = read_paired(dir.path(), since).unwrap();
        assert_eq!(
            got,
            [
                est("tpm_sign_interleaved", "baseline", Figure::PairedMedian, 600_000.0),
                est("tpm_sign_interleaved", "proofmark", Figure::PairedMedian, 630_000.0),
            ]
        );
        assert!(read_paired(&dir.path().join("absent"), since).unwrap().is_empty());
    }

    #[test]
    fn reads_criterion_means_and_medians_written_in_this_run_only() {
        let dir = tempfile::tempdir().unwrap();
        let write = |rel: &str, group: &str, function: &str, mean: f64, median: f64| {
            let new = dir.path().join(rel).join("new");
            std::fs::create_dir_all(&new).unwrap();
            std::fs::write(
                new.join("benchmark.json"),
                format!(r#"{{"group_id":"{group}","function_id":"{function}","value_str":null}}"#),
            )
            .unwrap();
            // The shape criterion 0.5 writes, trimmed to the fields read.
            std::fs::write(
                new.join("estimates.json"),
                format!(
                    r#"{{"mean":{{"confidence_interval":{{"confidence_level":0.95}},"point_estimate":{mean}}},"median":{{"point_estimate":{median}}},"std_dev":{{"point_estimate":1.0}}}}"#
                ),
            )
            .unwrap();
        };
        write("g/baseline", "g", "baseline", 10.0, 10.0);
        let since = SystemTime::now();
        std::thread::sleep(std::time::Duration::from_millis(20));
        write("h/baseline", "h", "baseline", 10.0, 11.0);
        write("h/proofmark", "h", "proofmark", 30.0, 22.0);
        let got = read_estimates(dir.path(), since).unwrap();
        let want: Vec<Estimate> =
            [both("h", "baseline", 10.0, 11.0), both("h", "proofmark", 30.0, 22.0)]
                .into_iter()
                .flatten()
                .collect();
        assert_eq!(got, want);
        // A file without a median is an error that names it, not a silent drop.
        let bad = dir.path().join("i/proofmark/new");
        std::fs::create_dir_all(&bad).unwrap();
        std::fs::write(bad.join("benchmark.json"), r#"{"group_id":"i","function_id":"proofmark"}"#)
            .unwrap();
        std::fs::write(bad.join("estimates.json"), r#"{"mean":{"point_estimate":1.0}}"#).unwrap();
        let err = read_estimates(dir.path(), since).unwrap_err();
        assert!(format!("{err:#}").contains("has no median"), "{err:#}");
    }
}
