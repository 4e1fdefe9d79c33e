//! The done-when stories, each against fixture registries built here: a local-registry
//! folder for all of them, plus story (a) through a git index on `file://` and a sparse index
//! over loopback HTTP. Nothing leaves the machine.
#![allow(clippy::unwrap_used, reason = "tests")]

mod support;

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use expect_test::expect;
use proofmark_deps::cargo::{CargoEnv, Toolchain};
use proofmark_deps::culprit::CulpritSearch;
use proofmark_deps::index::{Index, RegistrySource};
use proofmark_deps::policy::{Action, Policy};
use proofmark_deps::probe::{Class, FeatureSet, ProbeOptions, Stage, Unresolvable};
use proofmark_deps::report::{Format, Report, Severity};
use proofmark_deps::{CheckOptions, Progress, Target, check};
use support::Pkg;

const T1: &str = "2024-01-01T00:00:00Z";
const T2: &str = "2024-02-01T00:00:00Z";
const T3: &str = "2024-03-01T00:00:00Z";
const T4: &str = "2024-03-15T00:00:00Z";
const T5: &str = "2024-04-01T00:00:00Z";
const T6: &str = "2024-05-01T00:00:00Z";

/// Story (a): a dependency's minor release changes `f`'s return type.
fn story_a() -> Vec<Pkg> {
    let u32f = "pub fn f() -> u32 { 1 }\n";
    vec![
        Pkg::new("sa-lib", "1.0.0", T1, u32f),
        Pkg::new("sa-lib", "1.0.1", T2, u32f),
        Pkg::new("sa-app", "1.0.0", T3, "pub fn g() -> u32 { sa_lib::f() }\n")
            .dep("sa-lib", "^1.0"),
        Pkg::new("sa-lib", "1.0.2", T4, u32f),
        Pkg::new("sa-lib", "1.1.0", T5, "pub fn f() -> u64 { 1 }\n"),
        Pkg::new("sa-app", "1.0.1", T6, "pub fn g() -> u64 { sa_lib::f() }\n")
            .dep("sa-lib", "^1.1"),
    ]
}

fn all_stories() -> Vec<Pkg> {
    let mut pkgs = story_a();
    // (b) every version matching `^2` is yanked; the code would build against them.
    pkgs.extend([
        Pkg::new("sb-dep", "1.0.0", T1, "pub fn h() -> u8 { 1 }\n"),
        Pkg::new("sb-dep", "2.0.0", T1, "pub fn h() -> u8 { 2 }\n").yanked(),
        Pkg::new("sb-dep", "2.0.1", T2, "pub fn h() -> u8 { 2 }\n").yanked(),
        Pkg::new("sb-app", "1.0.0", T3, "pub fn g() -> u8 { sb_dep::h() }\n").dep("sb-dep", "^2"),
    ]);
    // (b, transitive) the all-yanked requirement is one level down.
    pkgs.extend([
        Pkg::new("sb-mid", "1.0.0", T3, "pub fn m() -> u8 { sb_dep::h() }\n").dep("sb-dep", "^2"),
        Pkg::new("sb-top", "1.0.0", T4, "pub fn t() -> u8 { sb_mid::m() }\n").dep("sb-mid", "^1"),
    ]);
    // A dependency that does not compile by itself.
    pkgs.extend([
        Pkg::new("sh-bad", "1.0.0", T1, "pub fn h() -> u8 { \"not a u8\" }\n"),
        Pkg::new("sh-app", "1.0.0", T2, "pub fn g() -> u8 { sh_bad::h() }\n").dep("sh-bad", "^1"),
    ]);
    // A rust-version above any toolchain, and an exact pin.
    pkgs.extend([
        Pkg::new("sm-app", "1.0.0", T1, "pub fn g() {}\n").rust_version("1.999"),
        Pkg::new("su-dep", "1.0.0", T1, "pub fn h() {}\n"),
        Pkg::new("su-dep", "1.0.1", T2, "pub fn h() {}\n"),
        Pkg::new("su-app", "1.0.0", T3, "pub fn g() { su_dep::h() }\n").dep("su-dep", "=1.0.0"),
    ]);
    // (c) 1.0.0 builds but has an advisory fixed in 1.0.1, which builds.
    pkgs.extend([
        Pkg::new("sc-app", "1.0.0", T1, "pub fn g() -> u8 { 1 }\n"),
        Pkg::new("sc-app", "1.0.1", T2, "pub fn g() -> u8 { 2 }\n"),
    ]);
    // (d) same, but the fix release does not compile.
    pkgs.extend([
        Pkg::new("sd-app", "1.0.0", T1, "pub fn g() -> u8 { 1 }\n"),
        Pkg::new("sd-app", "1.0.1", T2, "pub fn g() -> u8 { \"two\" }\n"),
    ]);
    // (e) a build script that needs a system library nobody has.
    let build_rs = "fn main() {\n    let found = std::process::Command::new(\"pkg-config\")\n        .args([\"--exists\", \"proofmark-missing-lib\"])\n        .status()\n        .map(|s| s.success())\n        .unwrap_or(false);\n    if !found {\n        panic!(\"system library `proofmark-missing-lib` not found by pkg-config\");\n    }\n}\n";
    pkgs.extend([
        Pkg::new("se-sys", "1.0.0", T1, "pub fn h() {}\n").build_rs(build_rs),
        Pkg::new("se-app", "1.0.0", T2, "pub fn g() { se_sys::h() }\n").dep("se-sys", "^1"),
    ]);
    // (f) a proc-macro whose output changes in a minor release.
    let mac = |ty: &str| {
        format!(
            "use proc_macro::TokenStream;\n#[proc_macro]\npub fn answer(_: TokenStream) -> TokenStream {{\n    \"fn answer() -> {ty} {{ 42 }}\".parse().unwrap()\n}}\n"
        )
    };
    pkgs.extend([
        Pkg::new("sf-macro", "1.0.0", T1, &mac("u32")).proc_macro(),
        Pkg::new("sf-app", "1.0.0", T2, "sf_macro::answer!();\npub fn g() -> u32 { answer() }\n")
            .dep("sf-macro", "^1"),
        Pkg::new("sf-macro", "1.1.0", T3, &mac("u64")).proc_macro(),
    ]);
    // (x) the founding story: the only version of sx-dep matching `^2` is yanked, and behind
    // the yank sx-app's own code stops compiling because sx-macro 1.1.0 (allowed by `^1`)
    // generates a different signature. sx-app 1.0.1 moves to sx-dep 3 and the new signature.
    let answer = |ty: &str| {
        format!(
            "use proc_macro::TokenStream;\n#[proc_macro]\npub fn answer(_: TokenStream) -> TokenStream {{\n    \"fn answer() -> {ty} {{ 42 }}\".parse().unwrap()\n}}\n"
        )
    };
    pkgs.extend([
        Pkg::new("sx-dep", "2.0.0", T1, "pub fn h() -> u32 { 2 }\n").yanked(),
        Pkg::new("sx-macro", "1.0.0", T1, &answer("u32")).proc_macro(),
        Pkg::new("sx-macro", "1.0.1", T2, &answer("u32")).proc_macro(),
        Pkg::new(
            "sx-app",
            "1.0.0",
            T3,
            "sx_macro::answer!();\npub fn g() -> u32 { answer() + sx_dep::h() }\n",
        )
        .dep("sx-dep", "^2")
        .dep("sx-macro", "^1"),
        Pkg::new("sx-dep", "3.0.0", T4, "pub fn h() -> u32 { 3 }\n"),
        Pkg::new("sx-macro", "1.1.0", T5, &answer("u64")).proc_macro(),
        Pkg::new(
            "sx-app",
            "1.0.1",
            T6,
            "sx_macro::answer!();\npub fn g() -> u64 { answer() + u64::from(sx_dep::h()) }\n",
        )
        .dep("sx-dep", "^3")
        .dep("sx-macro", "^1.1"),
    ]);
    // (z) a version whose own code never compiled: the as-published baseline fails too.
    pkgs.extend([
        Pkg::new("sz-dep", "1.0.0", T1, "pub fn h() -> u8 { 1 }\n"),
        Pkg::new("sz-app", "1.0.0", T2, "pub fn g() -> u8 { sz_dep::h() + \"x\" }\n")
            .dep("sz-dep", "^1"),
        Pkg::new("sz-dep", "1.0.1", T3, "pub fn h() -> u8 { 1 }\n"),
    ]);
    // (p) a direct dependency's patch release breaks sp-app, while a transitive dependency
    // (sp-aux, through sp-other) and sp-other itself also moved since publish time.
    pkgs.extend([
        Pkg::new("sp-aux", "1.0.0", T1, "pub fn t() -> u8 { 1 }\n"),
        Pkg::new("sp-direct", "1.0.0", T1, "pub fn f() -> u32 { 1 }\n"),
        Pkg::new("sp-other", "1.0.0", T1, "pub fn o() -> u8 { sp_aux::t() }\n").dep("sp-aux", "^1"),
        Pkg::new(
            "sp-app",
            "1.0.0",
            T2,
            "pub fn g() -> u32 { sp_direct::f() + u32::from(sp_other::o()) }\n",
        )
        .dep("sp-direct", "^1")
        .dep("sp-other", "^1"),
        Pkg::new("sp-aux", "1.0.1", T3, "pub fn t() -> u8 { 2 }\n"),
        Pkg::new("sp-direct", "1.0.1", T4, "pub fn f() -> u64 { 1 }\n"),
        Pkg::new("sp-other", "1.0.1", T4, "pub fn o() -> u8 { sp_aux::t() }\n").dep("sp-aux", "^1"),
        Pkg::new("sp-aux", "1.1.0", T5, "pub fn t() -> u8 { 3 }\n"),
    ]);
    // (q) like (p), but today's sq-aux needs sq-direct's breaking patch: moving sq-aux alone
    // drags sq-direct along (a joint move that must not blame sq-aux), and setting sq-direct
    // back alone is impossible, so nothing is confirmed.
    pkgs.extend([
        Pkg::new("sq-aux", "1.0.0", T1, "pub fn t() -> u8 { 1 }\n"),
        Pkg::new("sq-direct", "1.0.0", T1, "pub fn f() -> u32 { 1 }\n"),
        Pkg::new(
            "sq-app",
            "1.0.0",
            T2,
            "pub fn g() -> u32 { sq_direct::f() + u32::from(sq_aux::t()) }\n",
        )
        .dep("sq-aux", "^1")
        .dep("sq-direct", "^1"),
        Pkg::new("sq-direct", "1.0.1", T4, "pub fn f() -> u64 { 1 }\n"),
        Pkg::new("sq-aux", "1.1.0", T5, "pub fn t() -> u8 { 2 }\n").dep("sq-direct", "^1.0.1"),
    ]);
    // (j) the proc-macro sj-mac's release 1.3.0 generates another signature and breaks sj-app,
    // but it can only move together with sj-core (sj-core 1.0.0 pins `~1.2`, and sj-core 1.1.0
    // requires `^1.3`): no single package breaks it alone, the group {sj-mac, sj-core} does.
    pkgs.extend([
        Pkg::new("sj-mac", "1.2.0", T1, &answer("u32")).proc_macro(),
        Pkg::new("sj-core", "1.0.0", T1, "pub use sj_mac::answer;\n").dep("sj-mac", "~1.2"),
        Pkg::new("sj-app", "1.0.0", T2, "sj_core::answer!();\npub fn g() -> u32 { answer() }\n")
            .dep("sj-core", "^1"),
        Pkg::new("sj-mac", "1.3.0", T3, &answer("u64")).proc_macro(),
        Pkg::new("sj-core", "1.1.0", T4, "pub use sj_mac::answer;\n").dep("sj-mac", "^1.3"),
    ]);
    // (k) the shape of tss-esapi 6.1.0 and zeroize_derive: sk-mac 1.3.0 breaks sk-app and moves
    // only with sk-core, dragging the shared sk-pm forward and dropping the old macro's helper
    // sk-xid. Today's sk-other needs today's sk-pm, so setting the whole group back would move
    // sk-other: only setting back sk-core and sk-mac, cargo settling the rest, confirms it.
    pkgs.extend([
        Pkg::new("sk-xid", "0.1.0", T1, "pub fn x() {}\n"),
        Pkg::new("sk-pm", "1.0.0", T1, "pub fn p() {}\n"),
        Pkg::new("sk-mac", "1.2.0", T1, &answer("u32"))
            .proc_macro()
            .dep("sk-xid", "^0.1")
            .dep("sk-pm", "^1.0"),
        Pkg::new("sk-core", "1.0.0", T1, "pub use sk_mac::answer;\n").dep("sk-mac", "~1.2"),
        Pkg::new("sk-other", "1.0.0", T1, "pub fn o() { sk_pm::p() }\n").dep("sk-pm", "^1.0"),
        Pkg::new(
            "sk-app",
            "1.0.0",
            T2,
            "sk_core::answer!();\npub fn g() -> u32 { sk_other::o(); answer() }\n",
        )
        .dep("sk-core", "^1")
        .dep("sk-other", "^1"),
        Pkg::new("sk-pm", "1.1.0", T3, "pub fn p() {}\n"),
        Pkg::new("sk-mac", "1.3.0", T3, &answer("u64")).proc_macro().dep("sk-pm", "^1.1"),
        Pkg::new("sk-core", "1.1.0", T4, "pub use sk_mac::answer;\n").dep("sk-mac", "^1.3"),
        Pkg::new("sk-other", "1.1.0", T4, "pub fn o() { sk_pm::p() }\n").dep("sk-pm", "^1.1"),
    ]);
    // (g) a build script slower than the time limit.
    pkgs.extend([
        Pkg::new("sg-slow", "1.0.0", T1, "pub fn h() {}\n")
            .build_rs("fn main() { std::thread::sleep(std::time::Duration::from_secs(60)); }\n"),
        Pkg::new("sg-app", "1.0.0", T2, "pub fn g() { sg_slow::h() }\n").dep("sg-slow", "^1"),
    ]);
    pkgs
}

struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
    local_home: PathBuf,
    local_registry: PathBuf,
    advisory_db: PathBuf,
}

/// One local registry, cargo home, target root and advisory db for the whole test binary.
fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_owned();
        let local_registry = root.join("local-registry");
        support::local_registry(&all_stories(), &local_registry);
        let local_home = support::cargo_home(
            &root.join("home-local"),
            &format!("local-registry = \"{}\"", local_registry.display()),
        );
        let advisory_db = root.join("advisory-db");
        support::advisory(&advisory_db, "RUSTSEC-2026-0001", "sc-app", ">= 1.0.1");
        support::advisory(&advisory_db, "RUSTSEC-2026-0002", "sd-app", ">= 1.0.1");
        Fixture { _dir: dir, root, local_home, local_registry, advisory_db }
    })
}

fn toolchain() -> Toolchain {
    Toolchain::detect().unwrap()
}

fn run(
    home: &std::path::Path,
    offline: bool,
    targets: &[&str],
    timeout: Duration,
    target_dir: &str,
) -> Report {
    run_with(home, offline, targets, timeout, target_dir, |_| {})
}

fn run_with(
    home: &std::path::Path,
    offline: bool,
    targets: &[&str],
    timeout: Duration,
    target_dir: &str,
    tweak: impl FnOnce(&mut CheckOptions),
) -> Report {
    let cargo = std::env::var_os("CARGO").map_or_else(|| "cargo".into(), PathBuf::from);
    run_with_cargo(home, offline, targets, timeout, target_dir, cargo, tweak)
}

/// [`run_with`] with another cargo binary (a missing one proves no cargo runs).
fn run_with_cargo(
    home: &std::path::Path,
    offline: bool,
    targets: &[&str],
    timeout: Duration,
    target_dir: &str,
    cargo: PathBuf,
    tweak: impl FnOnce(&mut CheckOptions),
) -> Report {
    let fx = fixture();
    let source = RegistrySource::from_cargo_config(home, std::path::Path::new("/"), None).unwrap();
    let index = Index::new(source);
    let env = CargoEnv {
        cargo,
        cargo_home: Some(home.to_owned()),
        target_root: fx.root.join(target_dir),
        scratch_root: fx.root.join("scratch"),
        offline,
        build_jobs: 2,
    };
    let opts = CheckOptions {
        targets: targets.iter().map(|t| t.parse::<Target>().unwrap()).collect(),
        probe: ProbeOptions {
            stage: Stage::Compile,
            timeout,
            probe_timeout: None,
            retries: 1,
            culprit: true,
            registry: None,
            features: Vec::new(),
        },
        workers: 1,
        advisory_db: Some(fx.advisory_db.clone()),
        policy: Policy::default(),
        shard: None,
        cache_dir: None,
        require_published: true,
    };
    let mut opts = opts;
    tweak(&mut opts);
    let events = std::sync::Mutex::new(Vec::new());
    let report =
        check(&index, &env, &toolchain(), &opts, &|p: Progress| events.lock().unwrap().push(p))
            .unwrap();
    let events = events.into_inner().unwrap();
    let done = events.iter().filter(|e| matches!(e, Progress::Done { .. })).count();
    assert!(done > 0 && matches!(events[0], Progress::Planned(_)), "{events:?}");
    report
}

fn local(targets: &[&str]) -> Report {
    run(&fixture().local_home, true, targets, Duration::from_secs(300), "target")
}

/// The human table without the machine-dependent toolchain line.
fn table(report: &Report) -> String {
    let text = report.render(Format::Human);
    text.lines().filter(|l| !l.starts_with("rustc ")).collect::<Vec<_>>().join("\n")
}

fn evidence<'a>(report: &'a Report, id: &str) -> &'a proofmark_deps::probe::ProbeResult {
    let f = report
        .findings
        .iter()
        .find(|f| f.id == id)
        .unwrap_or_else(|| panic!("no {id} in {report:#?}"));
    &f.evidence[0]
}

fn assert_story_a(report: &Report) {
    let r = evidence(report, "sa-app@1.0.0");
    let Class::OwnCode { errors } = &r.class else { panic!("{:?}", r.class) };
    assert_eq!(errors[0].code.as_deref(), Some("E0308"), "{errors:?}");
    assert_eq!(errors[0].location.as_deref(), Some("src/lib.rs:1:21"), "{errors:?}");
    let Some(CulpritSearch::Found { culprit, .. }) = &r.culprit else { panic!("{:?}", r.culprit) };
    assert_eq!(culprit.package, "sa-lib");
    assert_eq!(culprit.last_good.version.to_string(), "1.0.2");
    assert_eq!(culprit.first_bad.version.to_string(), "1.1.0");
    assert_eq!(culprit.first_bad.pubtime.as_deref(), Some(T5));
    let f = report.findings.iter().find(|f| f.id == "sa-app@1.0.0").unwrap();
    assert_eq!(f.action, Action::NoYank);
    assert_eq!(f.rule, "R3-unbuildable-stays");
    assert!(f.successor.as_ref().is_some_and(|s| s.works && s.version.to_string() == "1.0.1"));
}

#[test]
fn a_dependency_minor_release_breaks_a_published_version() {
    let report = local(&["sa-app"]);
    assert_story_a(&report);
    assert_eq!(report.gate_severity(), Severity::Warning);
    expect![[r#"
        target        severity  class     action   rule                  reason
        sa-app@1.0.0  warning   own-code  no-yank  R3-unbuildable-stays  no yank, successor 1.0.1 builds: lockfile users are unaffected and fresh consumers get the successor; culprit sa-lib 1.0.2 -> 1.1.0
        sa-app@1.0.1  ok        builds    none     R-ok                  builds
        sa-app@1.0.0:
          fails:        own-code: E0308 at src/lib.rs:1:21 (mismatched types)
          caused by:    sa-lib 1.1.0 (last good 1.0.2; 1.1.0 published 2024-04-01T00:00:00Z)
          confirmed by: today's lockfile with sa-lib set back to 1.0.2: builds, as expected
                        the as-published lockfile with sa-lib advanced to 1.1.0: own-code, as expected
          fixed by:     sa-app 1.0.1 builds, free of it with sa-lib 1.1.0
          verdict:      no-yank (R3-unbuildable-stays)"#]]
    .assert_eq(&table(&report));
}

#[test]
fn a_through_a_git_index_on_file_urls() {
    let Some(git) = proofmark_test_support::require_tool("git", "git") else { return };
    let fx = fixture();
    let dir = fx.root.join("git-registry");
    let repo = support::git_registry(&story_a(), &dir, &git);
    let home = support::cargo_home(
        &fx.root.join("home-git"),
        &format!("registry = \"file://{}\"", repo.display()),
    );
    let report = run(&home, false, &["sa-app@1.0.0"], Duration::from_secs(300), "target");
    assert!(report.registry.starts_with("git index file://"), "{}", report.registry);
    assert_story_a(&report);
}

#[test]
fn a_through_a_sparse_index_over_loopback_http() {
    let fx = fixture();
    let base = support::sparse_registry(&story_a(), &fx.root.join("sparse-registry"));
    let home =
        support::cargo_home(&fx.root.join("home-sparse"), &format!("registry = \"sparse+{base}\""));
    let report = run(&home, false, &["sa-app@^1"], Duration::from_secs(300), "target");
    assert_eq!(report.registry, format!("sparse+{base}"));
    assert_story_a(&report);
}

#[test]
fn b_every_matching_version_yanked_is_looked_through() {
    let report = local(&["sb-app"]);
    let r = evidence(&report, "sb-app@1.x");
    assert!(
        matches!(r.class, Class::Unresolvable { reason: Unresolvable::AllYanked, .. }),
        "{:?}",
        r.class
    );
    let look = r.look_through.as_ref().unwrap();
    assert_eq!(look.seeded, ["sb-dep@2.0.1"]);
    assert_eq!(look.class, Class::Builds, "A's own code is fine behind the yank");
    expect![[r#"
        target      severity  class                    action   rule          reason
        sb-app@1.x  error     unresolvable/all-yanked  no-yank  R9-dead-line  no usable version on the 1.x line (1.0.0 unresolvable/all-yanked): do not yank; publish a patch release on 1.x if the line is still supported; 1.0.0 with yanked sb-dep@2.0.1: builds; index: all of sb-dep ^2 yanked
        sb-app@1.x:
          blocked by:   every version of sb-dep matching ^2 is yanked (2.0.0, 2.0.1)
          fails:        behind the yank (with sb-dep@2.0.1): builds
          fixed by:     no later release on the 1.x line
          verdict:      no-yank (R9-dead-line)"#]]
    .assert_eq(&table(&report));
}

#[test]
fn c_advisory_fixed_in_a_working_release_means_yank() {
    let report = local(&["sc-app"]);
    let f = report.findings.iter().find(|f| f.id == "sc-app@1.0.0").unwrap();
    assert_eq!(f.action, Action::Yank);
    assert_eq!(f.command.as_deref(), Some("cargo yank --version 1.0.0 sc-app"));
    assert_eq!(report.gate_severity(), Severity::Error);
    expect![[r#"
        target        severity  class   action  rule         reason
        sc-app@1.0.0  error     builds  yank    R2-security  works but has an advisory fixed in successor 1.0.1 builds: yank, and link the advisory; advisories RUSTSEC-2026-0001 (sc-app@1.0.0)
        sc-app@1.0.1  ok        builds  none    R-ok         builds
        run by hand: cargo yank --version 1.0.0 sc-app"#]]
    .assert_eq(&table(&report));
}

#[test]
fn d_dead_fix_release_means_no_yank_and_one_line_finding() {
    let report = local(&["sd-app"]);
    assert_eq!(report.findings.len(), 1, "{:#?}", report.findings);
    let f = &report.findings[0];
    assert_eq!((f.action, f.rule.as_str()), (Action::NoYank, "R9-dead-line"));
    assert_eq!(f.versions, ["1.0.0", "1.0.1"]);
    assert!(f.command.is_none());
    expect![[r#"
        target      severity  class             action   rule          reason
        sd-app@1.x  error     builds, own-code  no-yank  R9-dead-line  no usable version on the 1.x line (1.0.0 builds, 1.0.1 own-code): do not yank; publish a patch release on 1.x if the line is still supported; advisories RUSTSEC-2026-0002 (sd-app@1.0.0)
        sd-app@1.x:
          fails:        own-code: E0308 at src/lib.rs:1:20 (mismatched types)
          caused by:    no dependency release: the as-published dependency set fails too with today's toolchain (own-code: E0308 at src/lib.rs:1:20 (mismatched types))
          fixed by:     no later release on the 1.x line
          verdict:      no-yank (R9-dead-line)"#]]
    .assert_eq(&table(&report));
}

#[test]
fn e_missing_system_library_is_environment_not_a_yank() {
    let report = local(&["se-app"]);
    let r = evidence(&report, "se-app@1.0.0");
    let Class::Environment { package, detail } = &r.class else { panic!("{:?}", r.class) };
    assert_eq!(package, "se-sys@1.0.0");
    assert!(detail.contains("proofmark-missing-lib"), "{detail}");
    expect![[r#"
        target        severity  class        action   rule            reason
        se-app@1.0.0  note      environment  no-yank  R6-environment  environment: not evidence about the crate; fix the environment and re-run"#]]
    .assert_eq(&table(&report));
}

#[test]
fn f_proc_macro_output_change_is_the_culprit() {
    let report = local(&["sf-app"]);
    let r = evidence(&report, "sf-app@1.x");
    let Some(CulpritSearch::Found { culprit, .. }) = &r.culprit else { panic!("{:?}", r.culprit) };
    assert_eq!(
        (
            culprit.package.as_str(),
            culprit.last_good.version.to_string(),
            culprit.first_bad.version.to_string()
        ),
        ("sf-macro", "1.0.0".to_owned(), "1.1.0".to_owned())
    );
}

#[test]
fn g_timeout_is_retried_and_spurious() {
    let report =
        run(&fixture().local_home, true, &["sg-app"], Duration::from_secs(5), "target-timeout");
    let r = evidence(&report, "sg-app@1.0.0");
    assert_eq!(r.class.label(), "spurious/timeout");
    assert_eq!(r.attempts, 2, "one retry");
    let f = &report.findings[0];
    assert_eq!((f.action, f.rule.as_str()), (Action::NoYank, "R6-environment"));
    assert_eq!(report.gate_severity(), Severity::Note, "a note never fails a gate");
    assert!(!report.fails(Severity::Warning));
}

#[test]
fn the_whole_probe_has_a_time_limit_too() {
    // Each cargo invocation may take 300 s, but the probe as a whole only 3 s: the slow build
    // script is killed at the probe's deadline and no retry starts after it.
    let started = std::time::Instant::now();
    let report = run_with(
        &fixture().local_home,
        true,
        &["sg-app"],
        Duration::from_secs(300),
        "target-probe-timeout",
        |o| o.probe.probe_timeout = Some(Duration::from_secs(3)),
    );
    let r = evidence(&report, "sg-app@1.0.0");
    assert_eq!((r.class.label(), r.attempts), ("spurious/timeout".to_owned(), 1));
    assert!(started.elapsed() < Duration::from_secs(60), "{:?}", started.elapsed());
    assert!(r.millis < 60_000, "{}", r.millis);
}

#[test]
fn index_only_stage_needs_no_cargo() {
    let fx = fixture();
    let index = Index::new(RegistrySource::Local(fx.local_registry.clone()));
    let r = index.versions("sb-app").unwrap();
    assert_eq!(r.len(), 1);
    assert!(index.versions("nope-not-here").unwrap().is_empty());
}

#[test]
fn b_transitive_yanks_are_looked_through_from_cargos_message() {
    let report = local(&["sb-top"]);
    let r = evidence(&report, "sb-top@1.x");
    assert!(
        matches!(r.class, Class::Unresolvable { reason: Unresolvable::AllYanked, .. }),
        "{:?}",
        r.class
    );
    assert!(r.index_notes.is_empty(), "the index lane sees only direct requirements");
    let look = r.look_through.as_ref().unwrap();
    assert_eq!(
        (look.seeded.as_slice(), &look.class),
        (&["sb-dep@2.0.1".to_owned()][..], &Class::Builds)
    );
}

#[test]
fn a_dependency_that_fails_alone_is_depends_on() {
    let report = local(&["sh-app"]);
    let r = evidence(&report, "sh-app@1.x");
    let Class::DependencyBroken { package, errors } = &r.class else { panic!("{:?}", r.class) };
    assert_eq!(package, "sh-bad@1.0.0");
    assert_eq!(errors[0].code.as_deref(), Some("E0308"));
    assert!(r.culprit.is_none(), "no culprit search for someone else's code");
}

#[test]
fn rust_version_above_the_toolchain_is_msrv() {
    let report = local(&["sm-app"]);
    let r = evidence(&report, "sm-app@1.x");
    assert_eq!(r.class.label(), "unresolvable/msrv", "{:?}", r.class);
}

#[test]
fn index_only_stage_in_parallel() {
    let targets = ["sb-app", "su-app", "sm-app", "sc-app", "sa-app"];
    let report =
        run_with(&fixture().local_home, true, &targets, Duration::from_secs(60), "unused", |o| {
            o.probe.stage = Stage::Index;
            o.workers = 3;
        });
    let rows: Vec<String> = report
        .findings
        .iter()
        .flat_map(|f| f.evidence.iter())
        .map(|r| format!("{}@{} {} {:?}", r.name, r.version, r.class.label(), r.index_notes))
        .collect();
    expect![[r#"
        [
            "sa-app@1.0.0 index-clean []",
            "sa-app@1.0.1 index-clean []",
            "sb-app@1.0.0 unresolvable/all-yanked [AllYanked { dependency: \"sb-dep\", req: \"^2\", yanked: [\"2.0.0\", \"2.0.1\"] }]",
            "sc-app@1.0.0 index-clean []",
            "sc-app@1.0.1 index-clean []",
            "sm-app@1.0.0 unresolvable/msrv [RustVersion { rust_version: \"1.999\" }]",
            "su-app@1.0.0 index-clean [UpperBound { dependency: \"su-dep\", req: \"=1.0.0\" }]",
        ]
    "#]]
    .assert_debug_eq(&rows);
    assert!(!fixture().root.join("unused").exists(), "no cargo was run");
}

#[test]
fn results_are_cached_and_shards_split_by_crate() {
    let cache = fixture().root.join("cache");
    let once = |shard: Option<&str>| {
        run_with(
            &fixture().local_home,
            true,
            &["sc-app@1.0.1", "su-app"],
            Duration::from_secs(300),
            "target",
            |o| {
                o.cache_dir = Some(cache.clone());
                o.shard = shard.map(|s| s.parse().unwrap());
            },
        )
    };
    let first = once(None);
    let started = std::time::Instant::now();
    let second = once(None);
    assert_eq!(first, second, "the cached run returns the stored results, timings included");
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    let shard1 = once(Some("1/2"));
    let shard2 = once(Some("2/2"));
    assert_eq!(shard1.findings.iter().map(|f| f.id.as_str()).collect::<Vec<_>>(), ["sc-app@1.0.1"]);
    assert_eq!(Report::merge(vec![shard2, shard1]).unwrap(), first);
}

/// A graph three levels deep in a registry of its own (the test publishes into it).
fn stale_story() -> Vec<Pkg> {
    vec![
        Pkg::new("sk-leaf", "1.0.0", T1, "pub fn f() -> u32 { 1 }\n"),
        Pkg::new("sk-mid", "1.0.0", T2, "pub fn m() -> u32 { sk_leaf::f() }\n")
            .dep("sk-leaf", "^1"),
        Pkg::new("sk-app", "1.0.0", T3, "pub fn g() -> u32 { sk_mid::m() }\n").dep("sk-mid", "^1"),
    ]
}

#[test]
fn a_new_transitive_release_invalidates_the_cache() {
    let fx = fixture();
    let registry = fx.root.join("stale-registry");
    support::local_registry(&stale_story(), &registry);
    let home = support::cargo_home(
        &fx.root.join("home-stale"),
        &format!("local-registry = \"{}\"", registry.display()),
    );
    let cache = fx.root.join("stale-cache");
    let once = || {
        run_with(&home, true, &["sk-app@1.0.0"], Duration::from_secs(300), "target", |o| {
            o.cache_dir = Some(cache.clone());
        })
    };
    assert_eq!(evidence(&once(), "sk-app@1.0.0").class, Class::Builds);
    let files = || std::fs::read_dir(&cache).unwrap().count();
    assert_eq!(files(), 1, "the result is cached");
    assert_eq!(once(), once(), "an unchanged graph hits the cache");
    assert_eq!(files(), 1);
    // Two levels down, sk-leaf 1.1.0 changes `f`'s return type: sk-mid no longer compiles.
    // Neither sk-app's nor its direct dependency's index lines change.
    let mut pkgs = stale_story();
    pkgs.push(Pkg::new("sk-leaf", "1.1.0", T4, "pub fn f() -> u64 { 1 }\n"));
    support::local_registry(&pkgs, &registry);
    let report = once();
    assert_eq!(evidence(&report, "sk-app@1.x").class.label(), "depends-on/sk-mid@1.0.0");
    assert_eq!(files(), 2, "a new key, the old result kept");
}

#[test]
fn x_culprit_behind_a_yank_the_whole_chain_in_every_format() {
    let report = local(&["sx-app"]);
    let r = evidence(&report, "sx-app@1.0.0");
    assert!(
        matches!(r.class, Class::Unresolvable { reason: Unresolvable::AllYanked, .. }),
        "{:?}",
        r.class
    );
    let look = r.look_through.as_ref().unwrap();
    assert_eq!(look.seeded, ["sx-dep@2.0.0"]);
    assert_eq!(look.class.label(), "own-code");
    let Some(CulpritSearch::Found { culprit, changed, baseline_lock }) = &r.culprit else {
        panic!("{:?}", r.culprit)
    };
    assert!(baseline_lock.contains("name = \"sx-dep\"\nversion = \"2.0.0\""), "{baseline_lock}");
    assert_eq!(changed, &["sx-macro 1.0.1 -> 1.1.0"]);
    assert_eq!(
        (
            culprit.package.as_str(),
            culprit.last_good.version.to_string(),
            culprit.first_bad.version.to_string()
        ),
        ("sx-macro", "1.0.1".to_owned(), "1.1.0".to_owned())
    );
    assert!(culprit.confirmations.iter().all(|c| c.holds && c.moved.is_empty()), "{culprit:?}");
    let f = report.findings.iter().find(|f| f.id == "sx-app@1.0.0").unwrap();
    assert_eq!((f.action, f.rule.as_str()), (Action::NoYank, "R3-unbuildable-stays"));
    expect![[r#"
        target        severity  class                    action   rule                  reason
        sx-app@1.0.0  warning   unresolvable/all-yanked  no-yank  R3-unbuildable-stays  no yank, successor 1.0.1 builds: lockfile users are unaffected and fresh consumers get the successor; 1.0.0 with yanked sx-dep@2.0.0: own-code; index: all of sx-dep ^2 yanked; culprit sx-macro 1.0.1 -> 1.1.0
        sx-app@1.0.1  ok        builds                   none     R-ok                  builds
        sx-app@1.0.0:
          blocked by:   every version of sx-dep matching ^2 is yanked (2.0.0)
          fails:        behind the yank (with sx-dep@2.0.0): own-code: E0308 at src/lib.rs:2:32 (mismatched types) and 2 more
          caused by:    sx-macro 1.1.0 (last good 1.0.1; 1.1.0 published 2024-04-01T00:00:00Z)
          confirmed by: today's lockfile with sx-macro set back to 1.0.1: builds, as expected
                        the as-published lockfile with sx-macro advanced to 1.1.0: own-code, as expected
          fixed by:     sx-app 1.0.1 builds, free of it with sx-macro 1.1.0
          verdict:      no-yank (R3-unbuildable-stays)"#]].assert_eq(&table(&report));
    let markdown = report.render(Format::Markdown);
    let chain_md: Vec<&str> =
        markdown.lines().skip_while(|l| !l.starts_with("### ")).take(10).collect();
    expect![[r####"
        [
            "### `sx-app@1.0.0`",
            "",
            "- **blocked by** every version of sx-dep matching ^2 is yanked (2.0.0)",
            "- **fails** behind the yank (with sx-dep@2.0.0): own-code: E0308 at src/lib.rs:2:32 (mismatched types) and 2 more",
            "- **caused by** sx-macro 1.1.0 (last good 1.0.1; 1.1.0 published 2024-04-01T00:00:00Z)",
            "- **confirmed by** today's lockfile with sx-macro set back to 1.0.1: builds, as expected",
            "- **confirmed by** the as-published lockfile with sx-macro advanced to 1.1.0: own-code, as expected",
            "- **fixed by** sx-app 1.0.1 builds, free of it with sx-macro 1.1.0",
            "- **verdict** no-yank (R3-unbuildable-stays)",
            "",
        ]
    "####]].assert_debug_eq(&chain_md);
    let json: serde_json::Value = serde_json::from_str(&report.render(Format::Json)).unwrap();
    let chain = &json["findings"][0]["chain"];
    assert_eq!(chain["culprit_outcome"], "found");
    assert_eq!(
        chain["caused_by"],
        format!("sx-macro 1.1.0 (last good 1.0.1; 1.1.0 published {T5})")
    );
    assert_eq!(chain["confirmations"].as_array().unwrap().len(), 2);
    let sarif: serde_json::Value = serde_json::from_str(&report.render(Format::Sarif)).unwrap();
    let result = &sarif["runs"][0]["results"][0];
    let message = result["message"]["text"].as_str().unwrap();
    for part in [
        "blocked by every version of sx-dep matching ^2 is yanked (2.0.0)",
        "fails behind the yank (with sx-dep@2.0.0): own-code: E0308",
        "caused by sx-macro 1.1.0 (last good 1.0.1",
        "fixed by sx-app 1.0.1 builds, free of it with sx-macro 1.1.0",
        "verdict no-yank (R3-unbuildable-stays)",
    ] {
        assert!(message.contains(part), "{part} not in {message}");
    }
    assert_eq!(result["properties"]["chain"], *chain);
}

#[test]
fn z_a_baseline_that_fails_today_is_its_own_class() {
    let report = local(&["sz-app"]);
    let r = evidence(&report, "sz-app@1.x");
    assert_eq!(r.class.label(), "own-code");
    let Some(search) = &r.culprit else { panic!("no culprit search") };
    assert_eq!(search.label(), "baseline-fails", "{search:?}");
    let chain = report.findings[0].chain.as_ref().unwrap();
    assert_eq!(chain.culprit_outcome.as_deref(), Some("baseline-fails"));
    assert!(
        chain.caused_by.as_deref().unwrap().starts_with(
            "no dependency release: the as-published dependency set fails too with today's toolchain (own-code: E0277"
        ),
        "{chain:?}"
    );
}

#[test]
fn p_a_culprit_is_confirmed_by_two_builds() {
    let report = local(&["sp-app"]);
    let r = evidence(&report, "sp-app@1.x");
    let Some(CulpritSearch::Found { culprit, changed, .. }) = &r.culprit else {
        panic!("{:?}", r.culprit)
    };
    assert_eq!(
        changed,
        &["sp-aux 1.0.0 -> 1.1.0", "sp-direct 1.0.0 -> 1.0.1", "sp-other 1.0.0 -> 1.0.1"]
    );
    assert_eq!(
        (
            culprit.package.as_str(),
            culprit.last_good.version.to_string(),
            culprit.first_bad.version.to_string()
        ),
        ("sp-direct", "1.0.0".to_owned(), "1.0.1".to_owned())
    );
    expect![[r#"
        [
            Confirmation {
                build: "today's lockfile with sp-direct set back to 1.0.0",
                class: "builds",
                holds: true,
                moved: [],
            },
            Confirmation {
                build: "the as-published lockfile with sp-direct advanced to 1.0.1",
                class: "own-code",
                holds: true,
                moved: [],
            },
        ]
    "#]]
    .assert_debug_eq(&culprit.confirmations);
}

#[test]
fn q_a_joint_move_blames_nobody_and_an_unconfirmed_culprit_is_not_named() {
    let report = local(&["sq-app"]);
    let r = evidence(&report, "sq-app@1.x");
    let Some(CulpritSearch::Unconfirmed { candidate, changed, joint, unmovable }) = &r.culprit
    else {
        panic!("{:?}", r.culprit)
    };
    assert_eq!(changed, &["sq-aux 1.0.0 -> 1.1.0", "sq-direct 1.0.0 -> 1.0.1"]);
    assert_eq!(candidate.package, "sq-direct");
    assert!(report.findings[0].culprit().is_none(), "an unconfirmed culprit is not named");
    let chain = report.findings[0].chain.as_ref().unwrap();
    expect![[r#"
        unconfirmed: the search pointed at sq-direct 1.0.0 -> 1.0.1, but a confirming build disagrees; could not be moved alone: sq-aux 1.0.0 -> 1.1.0
        []
        [
            "sq-aux 1.0.0 -> 1.1.0",
        ]
        [
            Confirmation {
                build: "today's lockfile with sq-direct set back to 1.0.0",
                class: "unresolvable",
                holds: false,
                moved: [
                    "cargo cannot move sq-direct to 1.0.0 alone",
                ],
            },
            Confirmation {
                build: "the as-published lockfile with sq-direct advanced to 1.0.1",
                class: "own-code",
                holds: true,
                moved: [],
            },
        ]"#]].assert_eq(&format!(
        "{}\n{joint:?}\n{unmovable:#?}\n{:#?}",
        chain.caused_by.as_deref().unwrap(),
        candidate.confirmations
    ));
}

/// (v) sv-app's optional feature `extra` pulls sv-extra, whose minor release 1.1.0 changes
/// `f`'s return type: the default features (and none) build, every feature fails, and so does
/// what docs.rs builds (`[package.metadata.docs.rs] features = ["extra"]`).
fn feature_story() -> Vec<Pkg> {
    let extra = "pub fn g() -> u32 { 1 }\n#[cfg(feature = \"extra\")]\npub fn e() -> u32 { sv_extra::f() }\n";
    vec![
        Pkg::new("sv-extra", "1.0.0", T1, "pub fn f() -> u32 { 1 }\n"),
        Pkg::new("sv-app", "1.0.0", T2, extra)
            .optional_dep("sv-extra", "^1")
            .feature("extra", &["dep:sv-extra"])
            .docsrs_features(&["extra"]),
        Pkg::new("sv-extra", "1.1.0", T3, "pub fn f() -> u64 { 1 }\n"),
    ]
}

/// A registry of its own for one story, and a cargo home pointing at it.
fn own_registry(name: &str, pkgs: &[Pkg]) -> PathBuf {
    let fx = fixture();
    let registry = fx.root.join(format!("{name}-registry"));
    support::local_registry(pkgs, &registry);
    support::cargo_home(
        &fx.root.join(format!("home-{name}")),
        &format!("local-registry = \"{}\"", registry.display()),
    )
}

#[test]
fn v_feature_matrix_says_which_feature_set_fails() {
    let home = own_registry("features", &feature_story());
    let sets = FeatureSet::parse_list("default,all,none,docsrs").unwrap();
    let report = run_with(&home, true, &["sv-app"], Duration::from_secs(300), "target", |o| {
        o.probe.features = sets;
    });
    let rows: Vec<String> = report
        .findings
        .iter()
        .flat_map(|f| f.evidence.iter().map(move |r| (f, r)))
        .map(|(f, r)| format!("{} {} {} {:?}", f.id, r.features, r.class.label(), f.culprit()))
        .collect();
    expect![[r#"
        [
            "sv-app@1.0.0 [features: default] default builds None",
            "sv-app@1.0.0 [features: none] none builds None",
            "sv-app@1.x [features: all] all own-code Some(\"sv-extra 1.0.0 -> 1.1.0\")",
            "sv-app@1.x [features: docsrs] docsrs own-code Some(\"sv-extra 1.0.0 -> 1.1.0\")",
        ]
    "#]]
    .assert_debug_eq(&rows);
    let all = &report.findings.iter().find(|f| f.id.contains("[features: all]")).unwrap();
    let manifest = all.evidence[0].manifest.as_deref().unwrap();
    assert!(
        manifest.contains("sv-app = { version = \"=1.0.0\", features = [\"extra\"] }"),
        "{manifest}"
    );
    // Every format names the failing set.
    for format in [Format::Human, Format::Json, Format::Markdown, Format::Sarif] {
        let text = report.render(format);
        assert!(text.contains("sv-app@1.x [features: all]"), "{format:?}: {text}");
        assert!(text.contains("sv-app@1.x [features: docsrs]"), "{format:?}: {text}");
    }
    expect![[r#"
        target                            severity  class     action   rule          reason
        sv-app@1.0.0 [features: default]  ok        builds    none     R-ok          builds
        sv-app@1.0.0 [features: none]     ok        builds    none     R-ok          builds
        sv-app@1.x [features: all]        error     own-code  no-yank  R9-dead-line  no usable version on the 1.x line (1.0.0 own-code): do not yank; publish a patch release on 1.x if the line is still supported; culprit sv-extra 1.0.0 -> 1.1.0
        sv-app@1.x [features: docsrs]     error     own-code  no-yank  R9-dead-line  no usable version on the 1.x line (1.0.0 own-code): do not yank; publish a patch release on 1.x if the line is still supported; culprit sv-extra 1.0.0 -> 1.1.0
        sv-app@1.x [features: all]:
          fails:        own-code: E0308 at src/lib.rs:3:21 (mismatched types)
          caused by:    sv-extra 1.1.0 (last good 1.0.0; 1.1.0 published 2024-03-01T00:00:00Z)
          confirmed by: today's lockfile with sv-extra set back to 1.0.0: builds, as expected
                        the as-published lockfile with sv-extra advanced to 1.1.0: own-code, as expected
          fixed by:     no later release on the 1.x line
          verdict:      no-yank (R9-dead-line)
        sv-app@1.x [features: docsrs]:
          fails:        own-code: E0308 at src/lib.rs:3:21 (mismatched types)
          caused by:    sv-extra 1.1.0 (last good 1.0.0; 1.1.0 published 2024-03-01T00:00:00Z)
          confirmed by: today's lockfile with sv-extra set back to 1.0.0: builds, as expected
                        the as-published lockfile with sv-extra advanced to 1.1.0: own-code, as expected
          fixed by:     no later release on the 1.x line
          verdict:      no-yank (R9-dead-line)"#]].assert_eq(&table(&report));
}

#[test]
fn v_the_feature_set_is_part_of_the_cache_key() {
    let home = own_registry("features-cache", &feature_story());
    let cache = fixture().root.join("features-cache");
    let once = |set: &str| {
        run_with(&home, true, &["sv-app@1.0.0"], Duration::from_secs(300), "target", |o| {
            o.cache_dir = Some(cache.clone());
            o.probe.features = FeatureSet::parse_list(set).unwrap();
        })
    };
    let default = once("default");
    assert_eq!(evidence(&default, "sv-app@1.0.0").class, Class::Builds);
    let all = once("all");
    assert_eq!(evidence(&all, "sv-app@1.x [features: all]").class.label(), "own-code");
    assert_eq!(std::fs::read_dir(&cache).unwrap().count(), 2, "one entry per feature set");
    assert_eq!(once("all"), all, "and each is found again");
}

/// sr-mid 1.1.0 needs sr-new, which does not exist yet: cargo resolves sr-mid 1.0.0, and the
/// lockfile never mentions sr-new.
fn rejected_candidate_story() -> Vec<Pkg> {
    vec![
        Pkg::new("sr-mid", "1.0.0", T1, "pub fn m() -> u32 { 1 }\n"),
        Pkg::new("sr-mid", "1.1.0", T2, "pub fn m() -> u32 { sr_new::f() }\n").dep("sr-new", "^1"),
        Pkg::new("sr-app", "1.0.0", T3, "pub fn g() -> u32 { sr_mid::m() }\n").dep("sr-mid", "^1"),
    ]
}

#[test]
fn a_warm_rerun_answers_from_the_index_without_cargo_until_a_transitive_release() {
    let home = own_registry("rejected", &rejected_candidate_story());
    let cache = fixture().root.join("rejected-cache");
    let with_cargo = |cargo: PathBuf| {
        run_with_cargo(
            &home,
            true,
            &["sr-app@1.0.0"],
            Duration::from_secs(300),
            "target",
            cargo,
            |o| {
                o.cache_dir = Some(cache.clone());
            },
        )
    };
    let cargo = std::env::var_os("CARGO").map_or_else(|| "cargo".into(), PathBuf::from);
    let first = with_cargo(cargo.clone());
    let r = evidence(&first, "sr-app@1.0.0");
    assert_eq!(r.class, Class::Builds);
    assert!(!r.lockfile.as_deref().unwrap().contains("sr-new"), "the lockfile never saw sr-new");
    // An unchanged index: answered from the cache, and no cargo is run (this one cannot be).
    let missing = fixture().root.join("no-such-cargo");
    assert_eq!(with_cargo(missing.clone()), first);
    // sr-new 1.0.0 is published, and it breaks sr-mid 1.1.0, which cargo now picks. Neither
    // sr-app's nor sr-mid's index file changed, nor anything in the previous lockfile: a key
    // on those would return the stale "builds". The index key covers sr-new as a candidate's
    // requirement, so the run needs cargo again ...
    let mut pkgs = rejected_candidate_story();
    pkgs.push(Pkg::new("sr-new", "1.0.0", T4, "pub fn f() -> u64 { 1 }\n"));
    support::local_registry(&pkgs, &fixture().root.join("rejected-registry"));
    let stale = std::panic::catch_unwind(|| with_cargo(missing.clone()));
    assert!(stale.is_err(), "a changed index must not be answered from the cache");
    // ... and reports the breakage.
    let report = with_cargo(cargo);
    assert_eq!(evidence(&report, "sr-app@1.x").class.label(), "depends-on/sr-mid@1.1.0");
}

#[test]
fn j_a_joint_move_is_confirmed_as_a_group() {
    let report = local(&["sj-app"]);
    let r = evidence(&report, "sj-app@1.x");
    assert_eq!(r.class.label(), "own-code");
    let Some(search) = &r.culprit else { panic!("no culprit search") };
    assert_eq!(search.label(), "found-joint", "{search:?}");
    let CulpritSearch::Found { culprit, changed, .. } = search else { unreachable!() };
    assert_eq!(changed, &["sj-core 1.0.0 -> 1.1.0", "sj-mac 1.2.0 -> 1.3.0"]);
    assert_eq!(report.findings[0].culprit().as_deref(), Some("sj-mac 1.2.0 -> 1.3.0"));
    let chain = report.findings[0].chain.as_ref().unwrap();
    expect![[r#"
        sj-mac 1.3.0 (last good 1.2.0; 1.3.0 published 2024-03-01T00:00:00Z; confirmed (joint move), moved with: sj-core 1.0.0 -> 1.1.0)
        [
            Confirmation {
                build: "today's lockfile with sj-mac, sj-core set back to their as-published versions",
                class: "builds",
                holds: true,
                moved: [],
            },
            Confirmation {
                build: "the as-published lockfile with sj-mac, sj-core advanced to today's versions",
                class: "own-code",
                holds: true,
                moved: [],
            },
        ]"#]]
    .assert_eq(&format!("{}\n{:#?}", chain.caused_by.as_deref().unwrap(), culprit.confirmations));
    // Every format carries the group and both confirming builds.
    let human = report.render(Format::Human);
    assert!(
        human.contains("confirmed (joint move), moved with: sj-core 1.0.0 -> 1.1.0"),
        "{human}"
    );
    assert_eq!(human.matches(", as expected").count(), 2, "{human}");
    let json = report.render(Format::Json);
    assert!(json.contains("\"moved_with\""), "{json}");
    assert!(json.contains("\"found-joint\""), "{json}");
    let md = report.render(Format::Markdown);
    assert!(md.contains("moved with: sj-core 1.0.0 -> 1.1.0"), "{md}");
    let sarif = report.render(Format::Sarif);
    assert!(sarif.contains("moved with: sj-core 1.0.0 -> 1.1.0"), "{sarif}");
}

#[test]
fn k_a_joint_culprit_is_set_back_with_its_mover_first() {
    let report = local(&["sk-app"]);
    let r = evidence(&report, "sk-app@1.x");
    assert_eq!(r.class.label(), "own-code");
    let Some(search) = &r.culprit else { panic!("no culprit search") };
    assert_eq!(search.label(), "found-joint", "{search:?}");
    let CulpritSearch::Found { culprit, .. } = search else { unreachable!() };
    assert_eq!(report.findings[0].culprit().as_deref(), Some("sk-mac 1.2.0 -> 1.3.0"));
    // The first build sets back only sk-core and sk-mac (sk-other keeps today's sk-pm); the
    // second advances the whole group.
    let builds: Vec<(&str, &str, bool)> = culprit
        .confirmations
        .iter()
        .map(|c| (c.build.as_str(), c.class.as_str(), c.holds))
        .collect();
    assert_eq!(builds.len(), 2, "{builds:#?}");
    assert!(builds[0].0.contains("cargo settling the rest of the group"), "{builds:#?}");
    assert_eq!((builds[0].1, builds[0].2), ("builds", true), "{builds:#?}");
    assert_eq!((builds[1].1, builds[1].2), ("own-code", true), "{builds:#?}");
    assert!(culprit.confirmations.iter().all(|c| c.moved.is_empty()), "{builds:#?}");
}
