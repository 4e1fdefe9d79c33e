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
pub fn plan_workspace(dir: &Path, options: &PlanOptions) -> Result<ReleasePlan> {
    let mut workspace = Workspace::load(dir)?;
    let config = config::ReleaseConfig::load_workspace(&workspace)?;
    let options = config.apply(&mut workspace, options);
    let repo = history::Repo::open(&workspace.root)?;
    let mut plan = plan::plan(&workspace, &repo, &options)?;
    plan.notes.extend(config.plan_notes());
    Ok(plan)
}

/// The README's examples, compiled (and, unless marked `no_run`, run) as doctests; not API.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
