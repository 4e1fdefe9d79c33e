//! Files written so that nothing is ever half-written: a temporary file in the same folder,
//! synced, then renamed over the target.

use std::io::Write as _;
use std::path::Path;

use anyhow::Context;

/// Writes `bytes` to `path` atomically with Unix permissions `mode`; refuses to replace an
/// existing file unless `overwrite`.
pub(crate) fn write_atomic(
    path: &Path,
    bytes: &[u8],
    mode: u32,
    overwrite: bool,
) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    if !overwrite && path.exists() {
        anyhow::bail!("{} already exists; pass --force to replace it", path.display());
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".proofmark-")
        .tempfile_in(dir)
        .with_context(|| format!("cannot create a file in {}", dir.display()))?;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(mode))
        .context("cannot set file permissions")?;
    tmp.write_all(bytes).with_context(|| format!("cannot write {}", path.display()))?;
    tmp.as_file().sync_all().with_context(|| format!("cannot sync {}", path.display()))?;
    tmp.persist(path).with_context(|| format!("cannot move the new file to {}", path.display()))?;
    Ok(())
}

/// Reads a file, naming it in the error.
pub(crate) fn read(path: &Path, what: &str) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read the {what} {}", path.display()))
}
