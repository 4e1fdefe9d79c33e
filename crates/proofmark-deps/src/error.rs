//! The one error type of this crate: everything that stops a check from producing findings.
//!
//! A probe that *fails* (a version that no longer resolves or compiles) is not an error: it is
//! a finding. Errors are about the checker itself: an unreadable index, a cargo that cannot be
//! started, a malformed advisory or suppression file.

use std::path::PathBuf;

/// Why a check could not run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or folder could not be read or written.
    #[error("{action} `{path}`")]
    Io {
        /// What we were doing.
        action: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A program (cargo, rustc, git) could not be started or waited for.
    #[error("cannot run `{program}`")]
    Spawn {
        /// The program.
        program: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A program ran but did not do what a check needs from it (not a probe failure).
    #[error("`{command}` failed: {detail}")]
    Command {
        /// The command line.
        command: String,
        /// Its stderr, trimmed.
        detail: String,
    },
    /// An HTTP request to a sparse index failed for another reason than "no such crate".
    #[error("GET {url}: {detail}")]
    Http {
        /// The URL.
        url: String,
        /// What went wrong.
        detail: String,
    },
    /// A line of a registry index could not be parsed.
    #[error("index entry for `{krate}` (line {line}): {source}")]
    IndexLine {
        /// The crate whose index file it is.
        krate: String,
        /// The 1-based line number.
        line: usize,
        /// The parser's complaint.
        #[source]
        source: serde_json::Error,
    },
    /// Cargo is configured with a registry source this crate cannot read.
    #[error("unsupported registry source: {0}")]
    UnsupportedSource(String),
    /// A target named on the command line is not `CRATE`, `CRATE@VERSION` or `CRATE@REQ`.
    #[error("invalid target `{0}`: expected CRATE, CRATE@VERSION or CRATE@REQ")]
    InvalidTarget(String),
    /// A target names a crate the index does not have, in any spelling the registry treats as
    /// the same crate.
    #[error(
        "`{name}` is not published in {registry} (looked up as crates.io does: case and `-`/`_` \
         ignored); check the name, or pass `--registry NAME` for a crate of an alternate registry"
    )]
    NotPublished {
        /// The name as given.
        name: String,
        /// The index read.
        registry: String,
    },
    /// A target's version or requirement matches none of the crate's published versions.
    #[error("`{target}` matches no version in {registry}, which has {available}; {hint}")]
    NoMatchingVersion {
        /// The target as given (`name@99.0.0`, `name@^2`).
        target: String,
        /// The index read.
        registry: String,
        /// The versions the index has, oldest first (`1.0.0, 1.1.0 (yanked)`).
        available: String,
        /// What to write instead.
        hint: String,
    },
    /// A `--shard` value is not `I/N` with 1 <= I <= N.
    #[error("invalid shard `{0}`: expected I/N with 1 <= I <= N")]
    InvalidShard(String),
    /// A `--features` value names no feature set.
    #[error(
        "invalid feature set `{0}`: expected a comma-separated list of `default`, `all`, \
         `none`, `docsrs` or features joined with `+` (`serde+std`: default features plus those)"
    )]
    InvalidFeatures(String),
    /// A TOML file (cargo config, advisory, suppression file, lockfile) could not be parsed.
    #[error("cannot parse `{path}`: {detail}")]
    Toml {
        /// The file.
        path: PathBuf,
        /// The parser's complaint.
        detail: String,
    },
    /// The advisory database could not be cloned (offline, bad URL, no `git`).
    #[error(
        "cannot fetch the advisory database from {url}: {detail}; when offline, pass a local \
         copy with `--advisory-db PATH` (a checkout of https://github.com/rustsec/advisory-db)"
    )]
    AdvisoryFetch {
        /// The repository URL.
        url: String,
        /// What git said.
        detail: String,
    },
    /// A JSON report (for `merge`) could not be parsed.
    #[error("cannot parse report `{path}`: {source}")]
    Report {
        /// The file.
        path: PathBuf,
        /// The parser's complaint.
        #[source]
        source: serde_json::Error,
    },
    /// A file given as a report (`--baseline`, `merge`) is not a check-deps JSON report.
    #[error(
        "`{path}` is not a check-deps JSON report ({detail}); pass a file written by \
         `check-deps --format json`"
    )]
    NotAReport {
        /// The file.
        path: PathBuf,
        /// What it is instead.
        detail: String,
    },
    /// A report of another JSON schema version.
    #[error(
        "`{path}` is a check-deps report of schema version {found}, this proofmark reads version \
         {expected}; make a new one with this proofmark (`check-deps --format json --output FILE`)"
    )]
    SchemaVersion {
        /// The file.
        path: PathBuf,
        /// Its `schema_version`.
        found: u64,
        /// The version this build reads.
        expected: u32,
    },
    /// Reports that cannot be merged into one (shards of different runs, a missing or repeated
    /// shard, different registries, a finding in two of them).
    #[error("cannot merge the reports: {0}")]
    Merge(String),
}

/// This crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Builds an [`Error::Io`] for `path`.
pub(crate) fn io(
    action: &'static str,
    path: impl Into<PathBuf>,
) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.into();
    move |source| Error::Io { action, path, source }
}
