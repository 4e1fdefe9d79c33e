//! The policy and the report renderings on synthetic probe results (no cargo involved):
//! Markdown and SARIF snapshots, JSON round trip, suppressions with expiry, shard merging.
#![allow(clippy::unwrap_used, reason = "tests")]

use std::collections::BTreeMap;

use expect_test::expect;
use proofmark_deps::advisory::AdvisoryDb;
use proofmark_deps::cargo::Toolchain;
use proofmark_deps::policy::{Action, Policy, evaluate};
use proofmark_deps::probe::{Class, ProbeResult, Stage, Unresolvable};
use proofmark_deps::report::{Format, Report, Severity, Suppression, apply_suppressions};

fn result(name: &str, version: &str, class: Class) -> ProbeResult {
    ProbeResult {
        name: name.to_owned(),
        version: version.parse().unwrap(),
        pubtime: None,
        yanked: class == Class::Yanked,
        stage: Stage::Compile,
        index_notes: Vec::new(),
        class,
        attempts: 1,
        manifest: None,
        lockfile: None,
        look_through: None,
        culprit: None,
        millis: 0,
        features: Default::default(),
    }
}

fn db() -> (tempfile::TempDir, AdvisoryDb) {
    let dir = tempfile::tempdir().unwrap();
    let crates = dir.path().join("crates/vuln");
    std::fs::create_dir_all(&crates).unwrap();
    std::fs::write(
        crates.join("RUSTSEC-2026-0009.md"),
        "```toml\n[advisory]\nid = \"RUSTSEC-2026-0009\"\npackage = \"vuln\"\ndate = \"2026-01-01\"\n[versions]\npatched = [\">= 0.2.1\"]\n```\n\n# Use after free\n",
    )
    .unwrap();
    let db = AdvisoryDb::load(dir.path()).unwrap();
    (dir, db)
}

fn report(policy: &Policy) -> Report {
    let (_dir, db) = db();
    let unresolvable = Class::Unresolvable {
        reason: Unresolvable::Missing,
        detail: "no matching package".to_owned(),
    };
    let targets = vec![
        result("broken", "1.0.0", unresolvable),
        result("broken", "1.0.1", Class::Builds),
        result("old", "0.1.0", Class::Yanked),
        result("vuln", "0.2.0", Class::Builds),
        result("vuln", "0.2.1", Class::Builds),
    ];
    let all: BTreeMap<_, _> =
        targets.iter().map(|r| ((r.name.clone(), r.version.clone()), r.clone())).collect();
    Report {
        schema_version: 1,
        toolchain: Toolchain {
            rustc: "rustc 1.95.0 (fixture)".to_owned(),
            version: semver::Version::new(1, 95, 0),
            host: "x86_64-unknown-linux-gnu".to_owned(),
        },
        registry: "fixture".to_owned(),
        findings: evaluate(&targets, &all, &db, policy),
        warnings: Vec::new(),
        shard: None,
        diff: None,
    }
}

#[test]
fn markdown_snapshot() {
    expect![[r#"
        ## check-deps

        | target | severity | class | action | rule | reason |
        |---|---|---|---|---|---|
        | broken@1.0.0 | warning | unresolvable/missing | no-yank | R3-unbuildable-stays | no yank, successor 1.0.1 builds: lockfile users are unaffected and fresh consumers get the successor |
        | broken@1.0.1 | ok | builds | none | R-ok | builds |
        | old@0.1.0 | note | yanked | none | R0-already-yanked | already yanked |
        | vuln@0.2.0 | error | builds | yank | R2-security | works but has an advisory fixed in successor 0.2.1 builds: yank, and link the advisory; advisories RUSTSEC-2026-0009 (vuln@0.2.0) |
        | vuln@0.2.1 | ok | builds | none | R-ok | builds |

        ### `broken@1.0.0`

        - **blocked by** unresolvable/missing: no matching package
        - **fails** nothing compiled: resolution fails
        - **fixed by** broken 1.0.1 builds
        - **verdict** no-yank (R3-unbuildable-stays)

        ```sh
        cargo yank --version 0.2.0 vuln
        ```

        _rustc 1.95.0 (fixture) (x86_64-unknown-linux-gnu), registry fixture_
    "#]]
    .assert_eq(&report(&Policy::default()).render(Format::Markdown));
}

#[test]
fn sarif_snapshot() {
    let sarif = report(&Policy::default()).render(Format::Sarif);
    let value: serde_json::Value = serde_json::from_str(&sarif).unwrap();
    assert_eq!(value["version"], "2.1.0");
    let results = value["runs"][0]["results"].as_array().unwrap();
    let summary: Vec<String> = results
        .iter()
        .map(|r| {
            format!(
                "{} {} {}",
                r["level"].as_str().unwrap(),
                r["ruleId"].as_str().unwrap(),
                r["partialFingerprints"]["finding"].as_str().unwrap()
            )
        })
        .collect();
    expect![[r#"
        [
            "warning R3-unbuildable-stays broken@1.0.0",
            "note R0-already-yanked old@0.1.0",
            "error R2-security vuln@0.2.0",
        ]
    "#]]
    .assert_debug_eq(&summary);
}

#[test]
fn policy_can_ask_a_human_instead_of_yanking() {
    let policy = Policy { on_fixed_vulnerability: Action::NeedsHuman, ..Policy::default() };
    let r = report(&policy);
    let f = r.findings.iter().find(|f| f.id == "vuln@0.2.0").unwrap();
    assert_eq!(f.action, Action::NeedsHuman);
}

#[test]
fn json_round_trips_and_shards_merge() {
    let full = report(&Policy::default());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.json");
    std::fs::write(&path, full.render(Format::Json)).unwrap();
    assert_eq!(Report::read(&path).unwrap(), full);

    let (mut a, mut b) = (full.clone(), full.clone());
    a.findings.retain(|f| f.krate != "vuln");
    b.findings.retain(|f| f.krate == "vuln");
    assert_eq!(Report::merge(vec![b, a]).unwrap(), full);
    assert!(Report::merge(Vec::new()).is_none());
}

#[test]
fn suppressions_apply_until_they_expire() {
    let mut r = report(&Policy::default());
    assert_eq!(r.gate_severity(), Severity::Error);
    assert!(r.fails(Severity::Error) && r.fails(Severity::Warning));
    let suppressions = [
        Suppression {
            id: "vuln@0.2.0".to_owned(),
            reason: "advisory disputed".to_owned(),
            expires: Some("2026-12-31".to_owned()),
        },
        Suppression {
            id: "broken".to_owned(),
            reason: "old line".to_owned(),
            expires: Some("2026-01-01".to_owned()),
        },
        Suppression { id: "gone@9.9.9".to_owned(), reason: "stale".to_owned(), expires: None },
    ];
    apply_suppressions(&mut r, &suppressions, "2026-06-01");
    assert_eq!(
        r.gate_severity(),
        Severity::Warning,
        "the expired suppression leaves broken@1.0.0's warning"
    );
    assert!(r.fails(Severity::Warning) && !r.fails(Severity::Error));
    expect![[r#"
        [
            "suppression `broken` expired on 2026-01-01",
            "suppression `gone@9.9.9` matches no finding",
        ]
    "#]]
    .assert_debug_eq(&r.warnings);
    let f = r.findings.iter().find(|f| f.id == "vuln@0.2.0").unwrap();
    assert_eq!(f.suppressed.as_deref(), Some("advisory disputed"));
}

/// Many versions: runs of the same fine verdict collapse into ranges (in version order, not
/// text order), a failure splits the run and stays individual, with its chain.
fn many_versions() -> Report {
    let (_dir, db) = db();
    let mut targets: Vec<ProbeResult> = (0..12)
        .map(|patch| {
            let class =
                if patch == 5 { Class::OwnCode { errors: Vec::new() } } else { Class::Builds };
            result("many", &format!("1.0.{patch}"), class)
        })
        .collect();
    targets.extend((0..3).map(|patch| result("old", &format!("0.1.{patch}"), Class::Yanked)));
    targets.push(result("one", "2.0.0", Class::Builds));
    let all: BTreeMap<_, _> =
        targets.iter().map(|r| ((r.name.clone(), r.version.clone()), r.clone())).collect();
    let mut r = report(&Policy::default());
    r.findings = evaluate(&targets, &all, &db, &Policy::default());
    r.findings.sort_by(|a, b| a.id.cmp(&b.id));
    r
}

#[test]
fn consecutive_versions_with_one_verdict_collapse_into_ranges() {
    expect![[r#"
        target                            severity  class     action   rule                  reason
        many@1.0.0 – 1.0.4 (5 versions)   ok        builds    none     R-ok                  builds
        many@1.0.5                        warning   own-code  no-yank  R3-unbuildable-stays  no yank, successor 1.0.11 builds: lockfile users are unaffected and fresh consumers get the successor
        many@1.0.6 – 1.0.11 (6 versions)  ok        builds    none     R-ok                  builds
        old@0.1.0 – 0.1.2 (3 versions)    note      yanked    none     R0-already-yanked     already yanked
        one@2.0.0                         ok        builds    none     R-ok                  builds
        many@1.0.5:
          fails:        own-code
          fixed by:     many 1.0.11 builds
          verdict:      no-yank (R3-unbuildable-stays)
        rustc 1.95.0 (fixture) (x86_64-unknown-linux-gnu), registry fixture
    "#]]
    .assert_eq(&many_versions().render(Format::Human));
    expect![[r#"
        ## check-deps

        | target | severity | class | action | rule | reason |
        |---|---|---|---|---|---|
        | many@1.0.0 – 1.0.4 (5 versions) | ok | builds | none | R-ok | builds |
        | many@1.0.5 | warning | own-code | no-yank | R3-unbuildable-stays | no yank, successor 1.0.11 builds: lockfile users are unaffected and fresh consumers get the successor |
        | many@1.0.6 – 1.0.11 (6 versions) | ok | builds | none | R-ok | builds |
        | old@0.1.0 – 0.1.2 (3 versions) | note | yanked | none | R0-already-yanked | already yanked |
        | one@2.0.0 | ok | builds | none | R-ok | builds |

        ### `many@1.0.5`

        - **fails** own-code
        - **fixed by** many 1.0.11 builds
        - **verdict** no-yank (R3-unbuildable-stays)

        _rustc 1.95.0 (fixture) (x86_64-unknown-linux-gnu), registry fixture_
    "#]]
    .assert_eq(&many_versions().render(Format::Markdown));
    // JSON and SARIF stay one entry per version.
    let json: serde_json::Value =
        serde_json::from_str(&many_versions().render(Format::Json)).unwrap();
    assert_eq!(json["findings"].as_array().unwrap().len(), 16);
}

#[test]
fn a_baseline_that_is_not_a_report_is_named_in_the_error() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let full = report(&Policy::default());
    let mut v2: serde_json::Value = serde_json::from_str(&full.render(Format::Json)).unwrap();
    v2["schema_version"] = 2.into();
    let errors: Vec<String> = [
        write("notes.txt", "not json"),
        write("sarif.json", &full.render(Format::Sarif)),
        write("other.json", "{\"findings\": []}"),
        write("v2.json", &v2.to_string()),
        write("broken.json", "{\"schema_version\": 1, \"findings\": 3}"),
    ]
    .iter()
    .map(|p| {
        Report::read(p).unwrap_err().to_string().replace(&dir.path().display().to_string(), "DIR")
    })
    .collect();
    expect![[r#"
        [
            "`DIR/notes.txt` is not a check-deps JSON report (not JSON: expected ident at line 1 column 2); pass a file written by `check-deps --format json`",
            "`DIR/sarif.json` is not a check-deps JSON report (SARIF); pass a file written by `check-deps --format json`",
            "`DIR/other.json` is not a check-deps JSON report (no `schema_version`); pass a file written by `check-deps --format json`",
            "`DIR/v2.json` is a check-deps report of schema version 2, this proofmark reads version 1; make a new one with this proofmark (`check-deps --format json --output FILE`)",
            "cannot parse report `DIR/broken.json`: invalid type: integer `3`, expected a sequence",
        ]
    "#]]
    .assert_debug_eq(&errors);
}

#[test]
fn sarif_says_what_is_new_since_the_baseline() {
    let before = report(&Policy::default());
    let mut now = before.clone();
    now.findings.retain(|f| f.id != "broken@1.0.0");
    let mut back = before.clone();
    back.findings.retain(|f| f.krate != "vuln");
    now.diff = Some(proofmark_deps::diff::diff(&back, &now, "back.json"));
    assert_eq!(now.gate_severity(), Severity::Error, "vuln@0.2.0's error is new since back.json");
    let sarif: serde_json::Value = serde_json::from_str(&now.render(Format::Sarif)).unwrap();
    let states: Vec<String> = sarif["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| format!("{} {}", r["partialFingerprints"]["finding"], r["baselineState"]))
        .collect();
    expect![[r#"
        [
            "\"old@0.1.0\" \"unchanged\"",
            "\"vuln@0.2.0\" \"new\"",
        ]
    "#]]
    .assert_debug_eq(&states);
    now.diff = Some(proofmark_deps::diff::diff(&now, &now, "same.json"));
    assert_eq!(now.gate_severity(), Severity::Ok, "nothing new");
    assert!(
        !now.fails(Severity::Warning) && !now.fails(Severity::Note),
        "a gate below warning is warning"
    );
}

/// The shape of a real run (tss-esapi 6.1.0 and 6.1.2 against crates.io, 2026-12-02): every
/// version of the line is blocked by one yanked requirement; behind the yank the older one
/// fails in its own code and the newer one builds. The dead line's chain tells the older
/// one's story (what fails behind the yank, the culprit search) and that the newer one builds
/// behind the yank, not the newer one's "builds" as what fails.
#[test]
fn a_dead_lines_chain_tells_the_story_of_the_version_whose_code_fails() {
    let (_dir, db) = db();
    let blocked = || Class::Unresolvable {
        reason: Unresolvable::AllYanked,
        detail: "every version of m matching ^0.5.0 is yanked".to_owned(),
    };
    let looked = |version: &str, class: Class| {
        let mut r = result("t", version, blocked());
        r.index_notes = vec![proofmark_deps::probe::IndexNote::AllYanked {
            dependency: "m".to_owned(),
            req: "^0.5.0".to_owned(),
            yanked: vec!["0.5.0".to_owned()],
        }];
        r.look_through =
            Some(proofmark_deps::probe::LookThrough { seeded: vec!["m@0.5.0".to_owned()], class });
        r
    };
    let own = Class::OwnCode {
        errors: vec![proofmark_deps::cargo::Diagnostic {
            package: "t@6.1.0".to_owned(),
            code: Some("E0509".to_owned()),
            message: "cannot move out of type `SignatureData`, which implements the `Drop` trait"
                .to_owned(),
            location: Some("src/utils/mod.rs:855:39".to_owned()),
        }],
    };
    let targets = vec![looked("6.1.0", own), looked("6.1.2", Class::Builds)];
    let all: BTreeMap<_, _> =
        targets.iter().map(|r| ((r.name.clone(), r.version.clone()), r.clone())).collect();
    let findings = evaluate(&targets, &all, &db, &Policy::default());
    assert_eq!(findings.len(), 1, "{findings:#?}");
    let chain = findings[0].chain.as_ref().unwrap();
    assert_eq!(
        (chain.blocked_by.as_deref(), chain.fails.as_str(), chain.fixed_by.as_str()),
        (
            Some("every version of m matching ^0.5.0 is yanked (0.5.0)"),
            "behind the yank (with m@0.5.0): own-code: E0509 at src/utils/mod.rs:855:39 (cannot move out of type `SignatureData`, which implements the `Drop` trait)",
            "nothing yet: the newest release on the 6.x line, t 6.1.2, is unresolvable/all-yanked; behind the yank (with m@0.5.0) it builds",
        )
    );
}
