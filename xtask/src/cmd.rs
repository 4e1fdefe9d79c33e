//! Running commands the way a person would see them: echoed first, timed, checked.

use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// `cargo`, as the running cargo names itself.
pub(crate) fn cargo() -> Command {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(crate::project_root());
    cmd
}

/// Echoes `cmd`, runs it with inherited output, and fails unless it exits with status 0.
pub(crate) fn run(cmd: &mut Command) -> anyhow::Result<Duration> {
    println!("$ {}", display(cmd));
    let started = Instant::now();
    let status = cmd.status().with_context(|| format!("could not start `{}`", display(cmd)))?;
    if !status.success() {
        bail!("`{}` failed ({status})", display(cmd));
    }
    Ok(started.elapsed())
}

/// A command line as a shell would show it, environment overrides first.
pub(crate) fn display(cmd: &Command) -> String {
    let mut parts = Vec::new();
    for (key, value) in cmd.get_envs() {
        if let Some(value) = value {
            parts.push(format!("{}={}", key.to_string_lossy(), value.to_string_lossy()));
        }
    }
    parts.push(cmd.get_program().to_string_lossy().into_owned());
    parts.extend(cmd.get_args().map(|a| a.to_string_lossy().into_owned()));
    parts.join(" ")
}
