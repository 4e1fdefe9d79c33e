//! Running `git` and `cargo` as subprocesses.
//!
//! Writes to the repository (commits, tags, pushes) go through the `git` CLI rather than gix so
//! that the user's hooks, signing and credential configuration apply exactly as they would by
//! hand; publishing goes through `cargo publish` for the same reason (tokens, registries).

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Output};

use crate::error::{Error, Result};

/// The cargo program: `$CARGO` (set when run under cargo) or `cargo`.
pub(crate) fn cargo_program() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned())
}

/// Runs `program args…` in `dir` and returns its output whatever the exit status.
pub(crate) fn output<I, S>(program: &str, dir: &Path, args: I) -> Result<(String, Output)>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args: Vec<S> = args.into_iter().collect();
    let line = std::iter::once(program.to_owned())
        .chain(args.iter().map(|a| a.as_ref().to_string_lossy().into_owned()))
        .collect::<Vec<_>>()
        .join(" ");
    let out = Command::new(program)
        .args(&args)
        .current_dir(dir)
        .output()
        .map_err(|source| Error::Spawn { program: program.to_owned(), source })?;
    Ok((line, out))
}

/// Runs cargo with `args` in `dir`, with `CARGO_HOME` set to `cargo_home` when given;
/// returns the command line and the output whatever the exit status.
pub(crate) fn cargo(
    dir: &Path,
    args: &[String],
    cargo_home: Option<&Path>,
) -> Result<(String, Output)> {
    let program = cargo_program();
    let line = format!("cargo {}", args.join(" "));
    let mut command = Command::new(&program);
    command.args(args).current_dir(dir);
    if let Some(home) = cargo_home {
        command.env("CARGO_HOME", home);
    }
    let out = command.output().map_err(|source| Error::Spawn { program, source })?;
    Ok((line, out))
}

/// Runs `program args…` in `dir`; its stdout, or [`Error::Command`] when it fails.
pub(crate) fn run<I, S>(program: &str, dir: &Path, args: I) -> Result<String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let (command, out) = output(program, dir, args)?;
    if !out.status.success() {
        return Err(Error::Command {
            command,
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs `git args…` in `dir`.
pub(crate) fn git<I, S>(dir: &Path, args: I) -> Result<String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    run("git", dir, args)
}

/// Writes `contents` to `path` atomically: a temporary file in the same folder, fsync'd, then
/// renamed over the target, so a crash leaves either the old or the new file, never half.
pub(crate) fn write_atomic(path: &Path, contents: &[u8]) -> Result<()> {
    use std::io::Write as _;
    let err = |source| Error::Write { path: path.to_owned(), source };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(err)?;
    }
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.proofmark-tmp"));
    let mut file = std::fs::File::create(&tmp).map_err(err)?;
    file.write_all(contents).map_err(err)?;
    file.sync_all().map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)
}
