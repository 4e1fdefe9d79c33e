//! The crate's error type.
//!
//! Every fallible function of the crate returns [`Error`]; variants carry the context a
//! person needs to act (which file, which tag, which crate) rather than just the cause.

use std::path::PathBuf;

/// Boxed source error of a git operation (gix has one error type per operation).
pub type GitSource = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong while planning a release.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `cargo metadata` could not be started.
    #[error("could not run `{program} metadata`")]
    CargoSpawn {
        /// The cargo program that was run.
        program: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// `cargo metadata` exited with an error.
    #[error("`cargo metadata` failed: {stderr}")]
    CargoMetadata {
        /// What cargo printed on stderr.
        stderr: String,
    },
    /// `cargo metadata` printed something that is not the expected JSON.
    #[error("could not parse the output of `cargo metadata`")]
    MetadataJson(#[source] serde_json::Error),
    /// A file could not be read.
    #[error("could not read {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A manifest is not valid TOML.
    #[error("could not parse {}", path.display())]
    Manifest {
        /// The manifest.
        path: PathBuf,
        /// The TOML error.
        #[source]
        source: Box<toml::de::Error>,
    },
    /// A version string is not SemVer.
    #[error("`{text}` is not a SemVer version")]
    Version {
        /// The offending text.
        text: String,
        /// The parse error.
        #[source]
        source: semver::Error,
    },
    /// The path dependencies between workspace members form a cycle.
    #[error("the path dependencies between these crates form a cycle: {}", crates.join(", "))]
    DependencyCycle {
        /// The crates left unordered.
        crates: Vec<String>,
    },
    /// A crate named on the command line or in an override is not a published workspace member.
    #[error("`{name}` is not a published crate of this workspace (known: {})", known.join(", "))]
    UnknownCrate {
        /// The unknown name.
        name: String,
        /// The published crates.
        known: Vec<String>,
    },
    /// A bump override could not be parsed.
    #[error("bad bump override `{text}`: expected NAME=major|minor|patch|X.Y.Z")]
    BadOverride {
        /// The offending text.
        text: String,
    },
    /// `--pre` was given something that cannot start a SemVer pre-release.
    #[error(
        "`--pre {id}` is not a pre-release name: use letters, digits and hyphens, not only \
         digits (e.g. `rc`, `beta`)"
    )]
    BadPreRelease {
        /// What was given.
        id: String,
    },
    /// A version override would not move the crate forward.
    #[error("override for {name}: {requested} is not greater than the released version {released}")]
    OverrideNotGreater {
        /// The crate.
        name: String,
        /// The requested version.
        requested: semver::Version,
        /// The last released version.
        released: semver::Version,
    },
    /// A date is not `YYYY-MM-DD`.
    #[error("`{text}` is not a date of the form YYYY-MM-DD")]
    BadDate {
        /// The offending text.
        text: String,
    },
    /// A tag template lacks `{version}` or names an unknown placeholder.
    #[error("bad tag template `{template}`: {reason}")]
    BadTagTemplate {
        /// The template.
        template: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// A git operation failed.
    #[error("git: {context}")]
    Git {
        /// What was being done.
        context: String,
        /// The gix error.
        #[source]
        source: GitSource,
    },
    /// A program could not be started.
    #[error("could not run `{program}`")]
    Spawn {
        /// The program.
        program: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A program exited with an error.
    #[error("`{command}` failed: {stderr}")]
    Command {
        /// The command line.
        command: String,
        /// What it printed on stderr (trimmed).
        stderr: String,
    },
    /// A file could not be written.
    #[error("could not write {}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A release configuration file (`proofmark.toml`, or a legacy `release.toml`) is not valid.
    #[error("{}: {reason}", path.display())]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A packaged `.crate` could not be read.
    #[error("could not read the archive {}", path.display())]
    Archive {
        /// The archive.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The readiness gate failed; each string names the crate, the check and what is wrong.
    #[error("the release is not ready:\n  - {}", failures.join("\n  - "))]
    NotReady {
        /// One line per failed check.
        failures: Vec<String>,
    },
    /// The journal is unreadable or does not match the repository.
    #[error("release journal {}: {reason}", path.display())]
    Journal {
        /// The journal file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// `--execute` while an earlier release is unfinished.
    #[error("a release is in progress (journal {}): finish it with --resume", path.display())]
    InProgress {
        /// The journal file.
        path: PathBuf,
    },
    /// `--resume` without an unfinished release.
    #[error("no release in progress (no unfinished journal at {})", path.display())]
    NothingToResume {
        /// Where the journal would be.
        path: PathBuf,
    },
    /// Reality contradicts the release (a tag on another commit, a published version with
    /// another checksum): never overwritten, a person must decide.
    #[error("drift: {what}")]
    Drift {
        /// What differs.
        what: String,
    },
    /// The registry refused with HTTP 429; resume after `retry_after`.
    #[error("rate limited by the registry during {step}; resume after {retry_after}")]
    RateLimited {
        /// The step.
        step: String,
        /// The server's `Retry-After` or "try again after" text, or a default.
        retry_after: String,
    },
    /// A registry index could not be read.
    #[error("registry index {index}: {reason}")]
    Index {
        /// The index URL.
        index: String,
        /// What went wrong.
        reason: String,
    },
    /// Planned versions that the registry index already has.
    #[error(
        "already published in {index}: {}; a version can be published once, plan another \
         (--bump NAME=X.Y.Z)",
        versions.join(", ")
    )]
    AlreadyPublished {
        /// The index URL.
        index: String,
        /// `name version` of each planned release that is already published.
        versions: Vec<String>,
    },
    /// Stopped on purpose after a step (fault injection, `fail_after`).
    #[error("stopped after step {step} (fault injection)")]
    Interrupted {
        /// The step after which execution stopped.
        step: String,
    },
}

impl Error {
    /// Wraps a gix error with what was being done.
    pub(crate) fn git(context: impl Into<String>, source: impl Into<GitSource>) -> Self {
        Self::Git { context: context.into(), source: source.into() }
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
