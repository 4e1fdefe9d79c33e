//! Paired measurements that benches take outside criterion, recorded for `cargo xtask bench`.
//!
//! Criterion measures each function of a group in its own stretch of time; on a shared machine
//! the load changes in between, and a ratio of two means taken a minute apart drifts with it.
//! A bench that alternates the subject and its baseline round by round (see
//! `proofmark-tpm/benches/tpm_sign.rs`) records the two medians here, and xtask reports their
//! ratio beside criterion's, with the same goals table.
//!
//! Files: `<CARGO_TARGET_TMPDIR>/proofmark-bench/<group>.<function>.json`, each
//! `{"group": …, "function": …, "mean_ns": …}`.

use std::path::Path;

/// Records `function`'s typical time (`ns`) in `group`; `target_tmpdir` is the bench's
/// `env!("CARGO_TARGET_TMPDIR")`. A failure to write is reported on stderr, never fatal: the
/// bench has printed its figures already.
pub fn record(target_tmpdir: &str, group: &str, function: &str, ns: f64) {
    let dir = Path::new(target_tmpdir).join("proofmark-bench");
    let json = serde_json::json!({ "group": group, "function": function, "mean_ns": ns });
    let result = std::fs::create_dir_all(&dir).and_then(|()| {
        std::fs::write(dir.join(format!("{group}.{function}.json")), json.to_string())
    });
    if let Err(e) = result {
        #[allow(clippy::print_stderr, reason = "a bench helper reports where the bench prints")]
        {
            eprintln!("cannot record {group}/{function} in {}: {e}", dir.display());
        }
    }
}
