//! The checked merge of a sharded run (`check-deps merge s1.json … sN.json`): the reports must
//! be of one registry, either all shards of one `--shard I/N` split (each of 1..=N exactly
//! once, so a lost shard cannot pass for "nothing found") or all whole runs, and no finding
//! may be in two of them. The merged report is the one an unsharded run writes.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::Shard;
use crate::error::{Error, Result};
use crate::report::Report;

/// Merges reports read from the named files (the names are for error messages).
pub fn merge(reports: Vec<(PathBuf, Report)>) -> Result<Report> {
    let fail = |detail: String| Err(Error::Merge(detail));
    let Some((first_path, first)) = reports.first() else {
        return fail("no reports to merge".to_owned());
    };
    let show = |p: &PathBuf| format!("`{}`", p.display());
    for (path, r) in &reports[1..] {
        if r.registry != first.registry {
            return fail(format!(
                "{} read {} but {} read {}",
                show(first_path),
                first.registry,
                show(path),
                r.registry
            ));
        }
    }
    let mut shards: BTreeMap<usize, &PathBuf> = BTreeMap::new();
    let mut count = None;
    for (path, r) in &reports {
        let shard = match (&r.shard, &first.shard) {
            (Some(s), Some(_)) => s.parse::<Shard>()?,
            (None, None) => continue,
            (Some(s), None) | (None, Some(s)) => {
                let (sharded, whole) =
                    if r.shard.is_some() { (path, first_path) } else { (first_path, path) };
                return fail(format!(
                    "{} is shard {s}'s report but {} is a whole run's",
                    show(sharded),
                    show(whole)
                ));
            }
        };
        match count {
            None => count = Some(shard.count),
            Some(n) if n != shard.count => {
                return fail(format!(
                    "{} is shard {shard} but the first report is of {n} shards",
                    show(path)
                ));
            }
            Some(_) => {}
        }
        if let Some(other) = shards.insert(shard.index, path) {
            return fail(format!(
                "shard {shard} is given twice: {} and {}",
                show(other),
                show(path)
            ));
        }
    }
    if let Some(n) = count {
        let missing: Vec<String> =
            (1..=n).filter(|i| !shards.contains_key(i)).map(|i| format!("{i}/{n}")).collect();
        if !missing.is_empty() {
            return fail(format!(
                "shard {} missing: pass every shard's report",
                missing.join(", ")
            ));
        }
    }
    let mut owner: BTreeMap<&str, &PathBuf> = BTreeMap::new();
    for (path, r) in &reports {
        for f in &r.findings {
            if let Some(other) = owner.insert(&f.id, path) {
                return fail(format!(
                    "`{}` is in both {} and {}: merge the shards of one run",
                    f.id,
                    show(other),
                    show(path)
                ));
            }
        }
    }
    let merged = Report::merge(reports.into_iter().map(|(_, r)| r).collect());
    merged.ok_or_else(|| Error::Merge("no reports to merge".to_owned()))
}

#[cfg(test)]
mod tests {
    use expect_test::expect;

    use super::*;
    use crate::cargo::Toolchain;

    fn report(shard: Option<&str>, ids: &[&str]) -> Report {
        let findings = ids
            .iter()
            .map(|id| {
                let mut f = crate::report::Finding::empty("a", "1.x");
                f.id = (*id).to_owned();
                f
            })
            .collect();
        Report {
            schema_version: crate::report::SCHEMA_VERSION,
            toolchain: Toolchain {
                rustc: "rustc 1.95.0".to_owned(),
                version: semver::Version::new(1, 95, 0),
                host: "h".to_owned(),
            },
            registry: "fixture".to_owned(),
            findings,
            warnings: vec!["no advisory database".to_owned()],
            shard: shard.map(str::to_owned),
            diff: None,
        }
    }

    fn err(reports: Vec<(&str, Report)>) -> String {
        let reports = reports.into_iter().map(|(p, r)| (PathBuf::from(p), r)).collect();
        match merge(reports) {
            Ok(r) => format!("merged {} findings", r.findings.len()),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn shards_of_one_run_merge_and_anything_else_is_refused() {
        let ok = err(vec![
            ("s2.json", report(Some("2/2"), &["b@1.0.0"])),
            ("s1.json", report(Some("1/2"), &["a@1.0.0"])),
        ]);
        let mut other_registry = report(None, &[]);
        other_registry.registry = "elsewhere".to_owned();
        let results = [
            ok,
            err(vec![("s1.json", report(Some("1/3"), &[])), ("s3.json", report(Some("3/3"), &[]))]),
            err(vec![("s1.json", report(Some("1/2"), &[])), ("x.json", report(Some("1/2"), &[]))]),
            err(vec![("s1.json", report(Some("1/2"), &[])), ("s2.json", report(Some("2/3"), &[]))]),
            err(vec![("s1.json", report(Some("1/2"), &[])), ("all.json", report(None, &[]))]),
            err(vec![
                ("a.json", report(None, &["a@1.0.0"])),
                ("b.json", report(None, &["a@1.0.0"])),
            ]),
            err(vec![("a.json", report(None, &[])), ("b.json", other_registry)]),
            err(Vec::new()),
        ];
        expect![[r#"
            [
                "merged 2 findings",
                "cannot merge the reports: shard 2/3 missing: pass every shard's report",
                "cannot merge the reports: shard 1/2 is given twice: `s1.json` and `x.json`",
                "cannot merge the reports: `s2.json` is shard 2/3 but the first report is of 2 shards",
                "cannot merge the reports: `s1.json` is shard 1/2's report but `all.json` is a whole run's",
                "cannot merge the reports: `a@1.0.0` is in both `a.json` and `b.json`: merge the shards of one run",
                "cannot merge the reports: `a.json` read fixture but `b.json` read elsewhere",
                "cannot merge the reports: no reports to merge",
            ]
        "#]]
        .assert_debug_eq(&results);
    }
}
