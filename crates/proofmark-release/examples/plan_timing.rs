//! Times the dry-run plan against one `git log --name-only` of the same range, outside
//! criterion, for profiling (`perf record`) and for other repository sizes:
//!
//! ```text
//! cargo run --profile bench -p proofmark-release --example plan_timing -- DIR [CRATES COMMITS [RUNS]]
//! ```
//!
//! Builds the synthetic repository with the bench's shapes in `DIR` when it is missing
//! (default size: the bench's 20 crates and 50,000 commits), then runs the plan and the `git
//! log` floor `RUNS` times each, alternating, and prints the mean and the minimum of each.

#![allow(
    clippy::print_stdout,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a measuring tool reports on stdout and a panic is its failure report"
)]

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use proofmark_release::{Date, PlanOptions};
use proofmark_test_support::history::{Shapes, Synthetic};

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().expect("usage: plan_timing DIR [CRATES COMMITS [RUNS]]"));
    let crates: usize = args.next().map_or(Synthetic::BENCH.crates, |a| a.parse().unwrap());
    let commits: usize = args.next().map_or(Synthetic::BENCH.commits, |a| a.parse().unwrap());
    let runs: usize = args.next().map_or(10, |a| a.parse().unwrap());
    let synthetic = Synthetic {
        crates,
        commits,
        unreleased_tail: Synthetic::BENCH.unreleased_tail.min(commits / 5),
        ..Synthetic::BENCH
    };
    let git = PathBuf::from("git");
    if !dir.join(".git").is_dir() {
        let started = Instant::now();
        synthetic.build_with(&Shapes::BENCH, &git, &dir).unwrap();
        println!("built {} in {:.1?}", dir.display(), started.elapsed());
    }
    let options = PlanOptions::new(Date::new(2026, 11, 28).unwrap());
    let mut range = vec!["HEAD".to_owned()];
    range.extend(
        (0..crates).map(|k| format!("^{}0.{}.0", Synthetic::tag_prefix(k), synthetic.releases)),
    );
    let plan = proofmark_release::plan_workspace(&dir, &options).unwrap();
    println!(
        "{} releases, {} unreleased commits, {} visited, {} already released",
        plan.releases.len(),
        plan.stats.commits_unreleased,
        plan.stats.commits_visited,
        plan.already_released.len()
    );
    let (mut planned, mut logged) = (Vec::new(), Vec::new());
    let (mut plan_cpu, mut log_cpu) = (0.0, 0.0);
    for _ in 0..runs {
        let cpu = cpu_seconds();
        let started = Instant::now();
        proofmark_release::plan_workspace(&dir, &options).unwrap();
        planned.push(started.elapsed());
        plan_cpu += cpu_seconds() - cpu;
        let cpu = cpu_seconds();
        let started = Instant::now();
        let out = Command::new(&git)
            .current_dir(&dir)
            .args([
                "log",
                "--format=%H%x00%P%x00%an%x00%at%x00%B%x00",
                "--name-only",
                "--diff-merges=first-parent",
            ])
            .args(&range)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(out.status.success());
        logged.push(started.elapsed());
        log_cpu += cpu_seconds() - cpu;
    }
    let report = |what: &str, times: &[Duration]| {
        let mean = times.iter().sum::<Duration>() / u32::try_from(times.len()).unwrap();
        let min = times.iter().min().copied().unwrap_or_default();
        println!("{what:8} mean {mean:>10.1?}  min {min:>10.1?}");
        mean
    };
    let p = report("plan", &planned);
    let g = report("git log", &logged);
    println!("ratio {:.2}", p.as_secs_f64() / g.as_secs_f64());
    // Under load, wall time mostly measures the scheduler; CPU time (children included) does not.
    let n = f64::from(u32::try_from(runs).unwrap());
    println!(
        "cpu: plan {:.1} ms, git log {:.1} ms, ratio {:.2}",
        plan_cpu / n * 1000.0,
        log_cpu / n * 1000.0,
        plan_cpu / log_cpu
    );
}

/// User and system CPU seconds of this process and its waited-for children (Linux only; 0
/// elsewhere).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    // Fields 14-17 of proc(5): utime stime cutime cstime, in clock ticks (100 per second).
    let ticks: f64 =
        after.split_whitespace().skip(11).take(4).filter_map(|f| f.parse::<f64>().ok()).sum();
    ticks / 100.0
}
