//! PLACEHOLDER written by the lead so xtask compiles; the release engineer replaces this whole file.

#[derive(clap::Args, Debug)]
pub(crate) struct ReleaseArgs {}

pub(crate) fn run(_args: ReleaseArgs) -> anyhow::Result<()> {
    anyhow::bail!("release planning is not wired yet")
}
