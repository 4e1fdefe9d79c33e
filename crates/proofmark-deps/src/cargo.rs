//! Driving cargo: the scratch consumer package, the shared environment, time limits, and
//! reading what cargo says (`--message-format=json`, lockfiles, resolver errors).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, io};

/// How every cargo invocation of a run is set up: one cargo home and one target folder shared
/// by all probes, so registry downloads and dependency artefacts are reused. Probes run at once
/// share the target folder too: cargo's lock on it serialises their compilations (each with
/// every core of `build_jobs`), while their cargo start-up, index reading and resolution, and
/// the resolution failures, which never take that lock, overlap with a build.
#[derive(Debug, Clone)]
pub struct CargoEnv {
    /// The cargo binary.
    pub cargo: PathBuf,
    /// `CARGO_HOME` for the probes (`None`: the caller's).
    pub cargo_home: Option<PathBuf>,
    /// The target folder of every probe (and culprit build) of the run.
    pub target_root: PathBuf,
    /// Root of the scratch consumer packages.
    pub scratch_root: PathBuf,
    /// Sets `CARGO_NET_OFFLINE=true` (fixture registries).
    pub offline: bool,
    /// `-j` for each cargo build (builds take turns on the shared target folder: every core).
    pub build_jobs: usize,
}

/// What a finished (or killed) cargo invocation left.
#[derive(Debug, Clone)]
pub(crate) struct Outcome {
    pub(crate) success: bool,
    pub(crate) timed_out: bool,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl CargoEnv {
    /// A `cargo` command run in `dir`, with the shared environment (every worker's alike).
    pub(crate) fn command(&self, dir: &Path, _worker: usize) -> Command {
        let mut cmd = Command::new(&self.cargo);
        cmd.current_dir(dir)
            .env("CARGO_TARGET_DIR", &self.target_root)
            .env("CARGO_TERM_COLOR", "never")
            .env_remove("CARGO_BUILD_TARGET_DIR")
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS");
        if let Some(home) = &self.cargo_home {
            cmd.env("CARGO_HOME", home);
        }
        if self.offline {
            cmd.env("CARGO_NET_OFFLINE", "true");
        }
        cmd
    }
}

/// Runs `cmd` until it exits or `limit` passes; on timeout the whole process group (cargo,
/// rustc, build scripts) is killed.
pub(crate) fn run(mut cmd: Command, limit: Duration, log_dir: &Path) -> Result<Outcome> {
    if limit.is_zero() {
        // The probe's time budget is spent: starting cargo only to kill it says nothing more.
        return Ok(Outcome {
            success: false,
            timed_out: true,
            stdout: String::new(),
            stderr: "the probe's time limit passed before this cargo invocation".to_owned(),
        });
    }
    let program = format!("{:?}", cmd.get_program());
    let out_path = log_dir.join("stdout.log");
    let err_path = log_dir.join("stderr.log");
    // Files, not pipes: cargo's JSON output can be larger than a pipe buffer.
    let stdout = std::fs::File::create(&out_path).map_err(io("create", &out_path))?;
    let stderr = std::fs::File::create(&err_path).map_err(io("create", &err_path))?;
    cmd.stdin(Stdio::null()).stdout(stdout).stderr(stderr);
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let mut child =
        cmd.spawn().map_err(|source| Error::Spawn { program: program.clone(), source })?;
    let start = Instant::now();
    let mut timed_out = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if start.elapsed() >= limit => {
                timed_out = true;
                kill_group(&mut child);
                break child.wait().ok();
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(25)),
            Err(source) => return Err(Error::Spawn { program, source }),
        }
    };
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    Ok(Outcome {
        success: !timed_out && status.is_some_and(|s| s.success()),
        timed_out,
        stdout: read(&out_path),
        stderr: read(&err_path),
    })
}

fn kill_group(child: &mut std::process::Child) {
    // `unsafe_code` is denied, so the group is signalled through kill(1).
    #[cfg(unix)]
    {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", child.id())])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
    let _ = child.kill();
}

/// The toolchain probes run with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Toolchain {
    /// `rustc -V`.
    pub rustc: String,
    /// The version alone.
    pub version: semver::Version,
    /// The host triple.
    pub host: String,
}

impl Toolchain {
    /// Asks `rustc -vV` (honouring `$RUSTC`).
    pub fn detect() -> Result<Toolchain> {
        let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
        let out = Command::new(&rustc)
            .arg("-vV")
            .output()
            .map_err(|source| Error::Spawn { program: "rustc".to_owned(), source })?;
        let text = String::from_utf8_lossy(&out.stdout);
        let field = |key: &str| text.lines().find_map(|l| l.strip_prefix(key)).map(str::trim);
        let (Some(first), Some(release), Some(host)) =
            (text.lines().next(), field("release:"), field("host:"))
        else {
            return Err(Error::Command {
                command: "rustc -vV".to_owned(),
                detail: text.into_owned(),
            });
        };
        let version =
            semver::Version::parse(release.split('-').next().unwrap_or(release)).map_err(|e| {
                Error::Command { command: "rustc -vV".to_owned(), detail: e.to_string() }
            })?;
        Ok(Toolchain { rustc: first.trim().to_owned(), version, host: host.to_owned() })
    }
}

/// Writes the scratch consumer: `[dependencies] NAME = "=VERSION"` (with the feature set's
/// `default-features` and `features`), an empty lib, its own `[workspace]` so no enclosing
/// workspace captures it. Returns the manifest text.
pub(crate) fn write_consumer(
    dir: &Path,
    name: &str,
    version: &semver::Version,
    registry: Option<&str>,
    features: &crate::probe::ConsumerFeatures,
) -> Result<String> {
    let mut extra = registry.map(|r| format!(", registry = \"{r}\"")).unwrap_or_default();
    if features.no_default {
        extra.push_str(", default-features = false");
    }
    if !features.features.is_empty() {
        let list: Vec<String> = features.features.iter().map(|f| format!("{f:?}")).collect();
        extra.push_str(&format!(", features = [{}]", list.join(", ")));
    }
    let manifest = format!(
        "[package]\nname = \"proofmark-probe\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n\
         [dependencies]\n{name} = {{ version = \"={version}\"{extra} }}\n\n[workspace]\n"
    );
    std::fs::create_dir_all(dir.join("src")).map_err(io("create", dir))?;
    std::fs::write(dir.join("Cargo.toml"), &manifest)
        .map_err(io("write", dir.join("Cargo.toml")))?;
    std::fs::write(dir.join("src/lib.rs"), "").map_err(io("write", dir.join("src/lib.rs")))?;
    Ok(manifest)
}

/// One `[[package]]` of a lockfile.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct LockedPackage {
    /// Name.
    pub name: String,
    /// Version.
    pub version: semver::Version,
    /// Source (`None` for the probe itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Checksum of the `.crate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<String>,
}

#[derive(Deserialize)]
struct LockFile {
    #[serde(default)]
    package: Vec<LockedPackage>,
}

/// The registry packages of a `Cargo.lock`.
pub(crate) fn read_lock(path: &Path) -> Result<Vec<LockedPackage>> {
    let text = std::fs::read_to_string(path).map_err(io("read", path))?;
    parse_lock(&text, path)
}

/// The registry packages of a lockfile's text (`path` names it in errors).
pub(crate) fn parse_lock(text: &str, path: &Path) -> Result<Vec<LockedPackage>> {
    let lock: LockFile = toml::from_str(text)
        .map_err(|e| Error::Toml { path: path.to_owned(), detail: e.to_string() })?;
    Ok(lock.package.into_iter().filter(|p| p.source.is_some()).collect())
}

/// Writes a seed lockfile: cargo keeps these entries (yanked or not) and resolves the rest.
pub(crate) fn write_seed_lock(path: &Path, packages: &[LockedPackage]) -> Result<String> {
    let mut text =
        String::from("# Seed written by proofmark-deps: cargo keeps these entries.\nversion = 4\n");
    for p in packages {
        text.push_str(&format!(
            "\n[[package]]\nname = \"{}\"\nversion = \"{}\"\n",
            p.name, p.version
        ));
        if let Some(source) = &p.source {
            text.push_str(&format!("source = \"{source}\"\n"));
        }
        if let Some(sum) = &p.checksum {
            text.push_str(&format!("checksum = \"{sum}\"\n"));
        }
    }
    std::fs::write(path, &text).map_err(io("write", path))?;
    Ok(text)
}

/// An error diagnostic from `--message-format=json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    /// `name@version` of the package being compiled.
    pub package: String,
    /// The error code (`E0308`), when rustc gave one.
    pub code: Option<String>,
    /// The one-line message.
    pub message: String,
    /// `file:line:column` of the primary span, relative to the package.
    pub location: Option<String>,
}

/// Error diagnostics and whether a build script failed, from cargo's JSON stream.
pub(crate) fn parse_messages(stdout: &str) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for line in stdout.lines() {
        let Ok(value) = serde_json::from_str::<serde_json::Value>(line) else { continue };
        if value["reason"] != "compiler-message" || value["message"]["level"] != "error" {
            continue;
        }
        let message = value["message"]["message"].as_str().unwrap_or_default().to_owned();
        // Summary lines ("aborting due to …") repeat what the real errors said.
        if message.starts_with("aborting due to") || message.starts_with("could not compile") {
            continue;
        }
        let package = package_of(value["package_id"].as_str().unwrap_or_default());
        let code = value["message"]["code"]["code"].as_str().map(str::to_owned);
        let location = value["message"]["spans"].as_array().and_then(|spans| {
            spans.iter().find(|s| s["is_primary"] == true).map(|s| {
                let file = s["file_name"].as_str().unwrap_or_default();
                let file = file
                    .rsplit_once(&format!("{}/", package.replacen('@', "-", 1)))
                    .map_or(file, |(_, rest)| rest);
                format!("{file}:{}:{}", s["line_start"], s["column_start"])
            })
        });
        out.push(Diagnostic { package, code, message, location });
    }
    out
}

/// `name@version` from a package id in either cargo format
/// (`registry+URL#name@1.0.0`, or the older `name 1.0.0 (registry+URL)`).
pub(crate) fn package_of(id: &str) -> String {
    if let Some((_, frag)) = id.rsplit_once('#') {
        if frag.contains('@') {
            return frag.to_owned();
        }
    }
    let mut parts = id.split_whitespace();
    match (parts.next(), parts.next()) {
        (Some(name), Some(version)) => format!("{name}@{version}"),
        _ => id.to_owned(),
    }
}

/// Packages whose build script failed, from cargo's stderr.
pub(crate) fn failed_build_scripts(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .filter_map(|l| l.split_once("failed to run custom build command for `"))
        .filter_map(|(_, rest)| rest.split_once('`'))
        .map(|(pkg, _)| pkg.replacen(" v", "@", 1))
        .collect()
}

/// The last `n` lines of a text, for evidence.
pub(crate) fn tail(text: &str, n: usize) -> String {
    let lines: Vec<_> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Index entries by name for quick look-up.
pub(crate) type LockMap = BTreeMap<String, Vec<semver::Version>>;

/// Registry packages of a lock, by name.
pub(crate) fn lock_map(lock: &[LockedPackage]) -> LockMap {
    let mut map = LockMap::new();
    for p in lock {
        map.entry(p.name.clone()).or_default().push(p.version.clone());
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_ids_in_both_formats() {
        assert_eq!(
            package_of("registry+https://github.com/rust-lang/crates.io-index#aaaa@1.0.0"),
            "aaaa@1.0.0"
        );
        assert_eq!(
            package_of("aaaa 1.0.0 (registry+https://github.com/rust-lang/crates.io-index)"),
            "aaaa@1.0.0"
        );
    }

    #[test]
    fn build_script_failures_are_found() {
        let stderr =
            "error: failed to run custom build command for `sys-thing v0.3.1`\n\nCaused by:\n";
        assert_eq!(failed_build_scripts(stderr), ["sys-thing@0.3.1"]);
    }
}
