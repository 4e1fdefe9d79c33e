//! Release planning and execution for Cargo workspaces.
//!
//! proofmark renders the changelog section of the upcoming version *before* tagging, commits
//! it, and then publishes and tags exactly that commit, so every tag and every published
//! `.crate` carries its own changelog (Parsec's tools worked from existing tags, so a
//! version's CHANGELOG was never inside that version). This crate computes that release as
//! data — a [`ReleasePlan`] — checks it, and executes it:
//!
//! - [`workspace`]: members, versions, publish flags, path dependencies and publish levels,
//!   from `cargo metadata --no-deps --offline`;
//! - [`history`]: one bounded walk from `HEAD` shared by all crates, attributing commits to
//!   crates by comparing subtree ids with [gix](https://docs.rs/gix);
//! - [`conventional`]: Conventional Commits headers and git trailers;
//! - [`tags`]: legacy tag schemes (`X.Y.Z`, `vX.Y.Z`, `name-X.Y.Z`, `name-vX.Y.Z`) and the
//!   template for new tags;
//! - [`tagscheme`]: which tags belong to which crate (unprefixed ones by the manifest in the
//!   tagged tree) and the scheme each crate's new tags follow;
//! - [`content`]: a crate's packaged files in git trees, unchanged crates and commits without
//!   net effect; [`cherry`]: patch-ids of commits released on other branches;
//! - [`skip`]: commits without net effect on a crate's packaged files, and commits already
//!   released on another branch (patch-ids), kept out of the new sections;
//! - [`bump`]: bump inference, 0.x rules and overrides;
//! - [`changelog`]: Keep a Changelog 1.1.0 sections, inserted or merged without touching
//!   hand edits;
//! - [`pr`]: pull request entries (title, link, folded commits) for repositories that merge
//!   pull requests without Conventional Commits;
//! - [`plan`]: all of the above put together, rendered as text or JSON (the dry run);
//! - [`regenerate`]: every crate's whole changelog rebuilt from its release tags;
//! - [`config`]: `proofmark.toml` (allowed branches, date train or required features, tag
//!   template) and the settings of cargo-release, release-plz and git-cliff ([`compat`]);
//! - [`readiness`]: the gate, which reads the packaged `.crate` to prove the changelog
//!   section is inside;
//! - [`registry`]: registry indexes (is a version visible, with which checksum) and crates.io
//!   rate-limit estimates;
//! - [`execute`]: writing, committing, publishing, tagging and pushing with a resumable
//!   journal, and the registry/tags/changelog audit.
//!
//! ```no_run
//! use proofmark_release::{Date, PlanOptions, plan_workspace};
//!
//! let options = PlanOptions::new(Date::today_utc());
//! let plan = plan_workspace(std::path::Path::new("."), &options)?;
//! let text = plan.to_human();
//! # let _ = text;
//! # Ok::<(), proofmark_release::Error>(())
//! ```
#![warn(missing_docs)]

pub mod bump;
pub mod changelog;
pub mod cherry;
pub mod compat;
pub mod config;
pub mod content;
pub mod conventional;
pub mod date;
pub mod error;
pub mod execute;
pub mod history;
pub mod plan;
pub mod pr;
mod process;
pub mod readiness;
pub mod regenerate;
pub mod registry;
pub mod skip;
pub mod tags;
pub mod tagscheme;
pub mod workspace;

use std::path::Path;

pub use bump::{BumpRules, CrateOverride, Level, Override};
pub use date::Date;
pub use error::{Error, Result};
pub use plan::{ChangelogAction, CrateRelease, Edit, FileChange, PlanOptions, ReleasePlan};
pub use tags::TagTemplate;
pub use workspace::Workspace;

/// Loads the workspace containing `dir` (with `cargo metadata`), opens its git repository and
/// computes the release plan. Reads only; never touches the network.
///
/// The workspace's release settings ([`config::ReleaseConfig::load_workspace`]) apply where
/// `options` leave them open: the tag template, git-cliff's commit parsers and tag pattern,
/// and crates a config says not to release. What they do not honour is in the plan's notes.
///
/// `cargo metadata` runs in the background while the plan is computed from the metadata the
/// previous plan of `dir` saw (kept in `<git dir>/proofmark/metadata`); the plan is returned
/// only if cargo prints exactly that metadata again, else it is computed again from cargo's
/// answer. A plan is therefore always the plan of what cargo says now, and a workspace whose
/// manifests did not change pays for cargo in parallel with the history walk, not before it.
pub fn plan_workspace(dir: &Path, options: &PlanOptions) -> Result<ReleasePlan> {
    let pending = workspace::PendingMetadata::spawn(dir)?;
    let cache = MetadataCache::at(dir);
    let previous = cache.as_ref().and_then(MetadataCache::read);
    let guess = previous.as_ref().map(|json| plan_from_metadata(json, options));
    let json = pending.wait()?;
    if let (Some(previous), Some(Ok(plan))) = (&previous, guess) {
        if *previous == json {
            return Ok(plan);
        }
    }
    let plan = plan_from_metadata(&json, options)?;
    if let Some(cache) = &cache {
        cache.write(&json);
    }
    Ok(plan)
}

fn plan_from_metadata(json: &[u8], options: &PlanOptions) -> Result<ReleasePlan> {
    let mut workspace = Workspace::from_metadata_json(json)?;
    let config = config::ReleaseConfig::load_workspace(&workspace)?;
    let options = config.apply(&mut workspace, options);
    let repo = history::Repo::open(&workspace.root)?;
    let mut plan = plan::plan(&workspace, &repo, &options)?;
    plan.notes.extend(config.plan_notes());
    // The dry run plans on any branch; say now what `release check` and `--execute` refuse.
    let branch = repo.gix().head_name().ok().flatten().map(|name| name.shorten().to_string());
    if let Some(branch) = branch.filter(|b| !config.branch_allowed(b)) {
        plan.warnings.push(format!(
            "`{branch}` is not an allowed branch ({}): `release check` and `--execute` will \
             refuse it; set allowed-branches under [release] in proofmark.toml, or cargo-release's \
             `allow-branch`",
            config.allowed_branches.join(", ")
        ));
    }
    Ok(plan)
}

/// The `cargo metadata` output the last plan of a folder saw: the folder on the first line,
/// the JSON after it. Only a hint (see [`plan_workspace`]): unreadable means absent, and a
/// failed write costs the next plan time, nothing else.
struct MetadataCache {
    path: std::path::PathBuf,
    dir: String,
}

impl MetadataCache {
    fn at(dir: &Path) -> Option<Self> {
        let dir = dir.canonicalize().ok()?;
        let repo = gix::discover(&dir).ok()?;
        let path = repo.git_dir().join("proofmark").join("metadata");
        Some(Self { path, dir: dir.to_string_lossy().into_owned() })
    }

    fn read(&self) -> Option<Vec<u8>> {
        let bytes = std::fs::read(&self.path).ok()?;
        let newline = bytes.iter().position(|b| *b == b'\n')?;
        (bytes[..newline] == *self.dir.as_bytes()).then(|| bytes[newline + 1..].to_vec())
    }

    fn write(&self, json: &[u8]) {
        let mut bytes = Vec::with_capacity(self.dir.len() + 1 + json.len());
        bytes.extend_from_slice(self.dir.as_bytes());
        bytes.push(b'\n');
        bytes.extend_from_slice(json);
        if let Some(parent) = self.path.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        let _ = process::write_atomic(&self.path, &bytes);
    }
}

/// The README's examples, compiled (and, unless marked `no_run`, run) as doctests; not API.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
