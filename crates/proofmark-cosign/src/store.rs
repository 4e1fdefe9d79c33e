//! The [`ImageStore`] trait (one repository's manifests and blobs) and its OCI-layout
//! implementation, [`OciLayout`].

use std::fmt::Debug;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};

use crate::digest::{check_digest, digest_hex, is_attachment_tag, sha256_digest};
use crate::error::{Error, Result};
use crate::manifest::StoredManifest;

/// The annotation naming a manifest in an OCI layout's `index.json`.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// One repository's manifests and blobs: a registry repository or an OCI layout.
pub trait ImageStore: Debug + Send + Sync {
    /// A human-readable name (`127.0.0.1:5000/test/img`, `oci:/path`).
    fn describe(&self) -> String;

    /// The manifest at `reference` (a tag or a digest); `None` when it does not exist.
    /// Implementations check the digest of what they return and the size limit.
    fn get_manifest(&self, reference: &str) -> Result<Option<StoredManifest>>;

    /// Stores a manifest under `reference` (a tag, or its own digest); returns its digest.
    fn put_manifest(&self, reference: &str, media_type: &str, bytes: &[u8]) -> Result<String>;

    /// Whether a blob exists.
    fn has_blob(&self, digest: &str) -> Result<bool>;

    /// Reads a blob, refusing more than `limit` bytes, and checks its digest.
    fn get_blob(&self, digest: &str, limit: u64) -> Result<Vec<u8>>;

    /// Stores a blob (skipped when it exists); returns its digest.
    fn put_blob(&self, bytes: &[u8]) -> Result<String>;

    /// Opens an upload whose content is given later, so that a caller can open it beside
    /// requests it is waiting for and take the round trip (and, on distribution, a synced
    /// write) off its critical path. `None` when the store has no upload sessions (an OCI
    /// layout); then [`put_blob_via`](Self::put_blob_via) is [`put_blob`](Self::put_blob).
    fn open_upload(&self) -> Result<Option<Upload>> {
        Ok(None)
    }

    /// Stores a blob through `upload` (opened by [`open_upload`](Self::open_upload)) when one
    /// is given, else as [`put_blob`](Self::put_blob) does; returns its digest.
    fn put_blob_via(&self, upload: Option<Upload>, bytes: &[u8]) -> Result<String> {
        let _ = upload;
        self.put_blob(bytes)
    }

    /// Gives up an upload that was opened and not used. Best effort: a registry also expires
    /// upload sessions by itself (distribution after a week).
    fn cancel_upload(&self, upload: Upload) {
        let _ = upload;
    }

    /// The OCI 1.1 referrers API's index for `digest`; `None` when the store has no such
    /// API (then the referrers tag schema, `sha256-<hex>`, is used). OCI layouts and
    /// registries without the API (distribution 2.8) answer `None`.
    fn referrers(&self, digest: &str) -> Result<Option<StoredManifest>> {
        let _ = digest;
        Ok(None)
    }
}

/// An upload session opened before its content was known ([`ImageStore::open_upload`]).
/// Single use: a session used or cancelled once is unknown to the registry afterwards.
#[derive(Debug, Clone)]
pub struct Upload {
    /// Where the content goes: the absolute URL the registry answered the `POST` with.
    pub(crate) location: String,
}

/// An OCI image layout folder (`oci-layout`, `index.json`, `blobs/sha256/`).
///
/// Tags are `org.opencontainers.image.ref.name` annotations in `index.json`. Updates of
/// `index.json` take a lock file and replace the file atomically, so concurrent writers in
/// several threads or processes do not lose each other's entries.
#[derive(Debug, Clone)]
pub struct OciLayout {
    root: PathBuf,
    manifest_limit: u64,
}

impl OciLayout {
    /// Opens a layout, creating an empty one if the folder has no `oci-layout` file.
    pub fn open_or_create(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        let marker = root.join("oci-layout");
        if !marker.exists() {
            std::fs::create_dir_all(root.join("blobs/sha256")).map_err(|e| Error::io(&root, e))?;
            write_atomic(&marker, br#"{"imageLayoutVersion":"1.0.0"}"#)?;
        }
        let index = root.join("index.json");
        if !index.exists() {
            write_atomic(&index, br#"{"schemaVersion":2,"manifests":[]}"#)?;
        }
        Ok(Self { root, manifest_limit: crate::manifest::MAX_MANIFEST_BYTES })
    }

    /// The layout folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn blob_path(&self, digest: &str) -> Result<PathBuf> {
        Ok(self.root.join("blobs/sha256").join(digest_hex(digest)?))
    }

    fn read_index(&self) -> Result<Value> {
        let path = self.root.join("index.json");
        let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        let index: Value =
            serde_json::from_slice(&bytes).map_err(|e| Error::malformed("index.json", e))?;
        if !index.get("manifests").is_some_and(Value::is_array) {
            return Err(Error::malformed("index.json", "no `manifests` array"));
        }
        Ok(index)
    }

    /// The entries of `index.json`.
    pub fn index_entries(&self) -> Result<Vec<crate::manifest::Descriptor>> {
        let index = self.read_index()?;
        serde_json::from_value(index["manifests"].clone())
            .map_err(|e| Error::malformed("index.json", e))
    }

    /// The digest the layout's `tag` points to; with no tag, the layout's only image.
    /// Signature manifests (`sha256-<hex>.sig` and other cosign attachments) are not images:
    /// they do not count, so signing a layout's only image keeps it the only one.
    pub fn resolve(&self, tag: Option<&str>) -> Result<String> {
        let entries = self.index_entries()?;
        let ref_name = |d: &crate::manifest::Descriptor| {
            d.annotations.as_ref().and_then(|a| a.get(REF_NAME)).cloned()
        };
        let found: Vec<_> = match tag {
            Some(t) => entries.iter().filter(|d| ref_name(d).as_deref() == Some(t)).collect(),
            None => entries
                .iter()
                .filter(|d| !ref_name(d).is_some_and(|n| is_attachment_tag(&n)))
                .collect(),
        };
        match found.as_slice() {
            [one] => Ok(one.digest.clone()),
            [] => Err(Error::NotFound(format!(
                "{} in {}",
                tag.unwrap_or("an image"),
                self.describe()
            ))),
            _ => Err(Error::InvalidReference {
                reference: self.describe(),
                reason: "the layout holds several images; name one with oci:PATH:TAG or \
                         oci:PATH@sha256:DIGEST",
            }),
        }
    }

    /// The digest to use for `oci:PATH[:TAG][@DIGEST]`: the digest when given (it must be in
    /// the layout, as an image of `index.json` or a manifest an index lists), else
    /// [`Self::resolve`] of the tag.
    pub fn resolve_reference(&self, tag: Option<&str>, digest: Option<&str>) -> Result<String> {
        let Some(digest) = digest else { return self.resolve(tag) };
        match self.get_manifest(digest)? {
            Some(m) => Ok(m.digest),
            None => Err(Error::NotFound(format!("manifest {digest} in {}", self.describe()))),
        }
    }

    fn with_index_lock<T>(&self, f: impl FnOnce() -> Result<T>) -> Result<T> {
        let lock = self.root.join("index.json.lock");
        let mut waited = Duration::ZERO;
        loop {
            match std::fs::OpenOptions::new().write(true).create_new(true).open(&lock) {
                Ok(_) => break,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    // A crashed writer leaves the lock behind: take it over after 10 s.
                    if waited > Duration::from_secs(10) {
                        let _ = std::fs::remove_file(&lock);
                    }
                    std::thread::sleep(Duration::from_millis(5));
                    waited += Duration::from_millis(5);
                }
                Err(e) => return Err(Error::io(&lock, e)),
            }
        }
        let result = f();
        let _ = std::fs::remove_file(&lock);
        result
    }
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile_in(dir)?;
    std::io::Write::write_all(&mut tmp.1, bytes).map_err(|e| Error::io(&tmp.0, e))?;
    tmp.1.sync_all().map_err(|e| Error::io(&tmp.0, e))?;
    std::fs::rename(&tmp.0, path).map_err(|e| Error::io(path, e))
}

fn tempfile_in(dir: &Path) -> Result<(PathBuf, std::fs::File)> {
    let mut rnd = [0u8; 8];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut rnd);
    let path = dir.join(format!(".tmp-{}", hex::encode(rnd)));
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(|e| Error::io(&path, e))?;
    Ok((path, file))
}

impl ImageStore for OciLayout {
    fn describe(&self) -> String {
        format!("oci:{}", self.root.display())
    }

    fn get_manifest(&self, reference: &str) -> Result<Option<StoredManifest>> {
        let entries = self.index_entries()?;
        let entry = if reference.starts_with("sha256:") {
            digest_hex(reference)?;
            entries.into_iter().find(|d| d.digest == reference)
        } else {
            entries.into_iter().find(|d| {
                d.annotations.as_ref().and_then(|a| a.get(REF_NAME)).map(String::as_str)
                    == Some(reference)
            })
        };
        let (digest, media_type) = match entry {
            Some(d) => (d.digest, Some(d.media_type)),
            // Child manifests of an index are blobs without index.json entries.
            None if reference.starts_with("sha256:") => (reference.to_owned(), None),
            None => return Ok(None),
        };
        let path = self.blob_path(&digest)?;
        if !path.exists() {
            return Ok(None);
        }
        let bytes = self.get_blob(&digest, self.manifest_limit)?;
        let media_type = match media_type {
            Some(mt) => mt,
            None => serde_json::from_slice::<Value>(&bytes)
                .ok()
                .and_then(|v| v.get("mediaType").and_then(Value::as_str).map(str::to_owned))
                .ok_or_else(|| Error::malformed("manifest", "no mediaType"))?,
        };
        Ok(Some(StoredManifest { bytes, media_type, digest }))
    }

    fn put_manifest(&self, reference: &str, media_type: &str, bytes: &[u8]) -> Result<String> {
        let digest = self.put_blob(bytes)?;
        if reference.starts_with("sha256:") {
            if reference != digest {
                return Err(Error::DigestMismatch {
                    what: "manifest".into(),
                    expected: reference.into(),
                    actual: digest,
                });
            }
            return Ok(digest);
        }
        self.with_index_lock(|| {
            let mut index = self.read_index()?;
            let Some(manifests) = index["manifests"].as_array_mut() else {
                return Err(Error::malformed("index.json", "no `manifests` array"));
            };
            manifests.retain(|m| m["annotations"][REF_NAME].as_str() != Some(reference));
            manifests.push(json!({
                "mediaType": media_type,
                "digest": digest,
                "size": bytes.len(),
                "annotations": {REF_NAME: reference},
            }));
            let text = serde_json::to_vec(&index).map_err(|e| Error::malformed("index.json", e))?;
            write_atomic(&self.root.join("index.json"), &text)
        })?;
        Ok(digest)
    }

    fn has_blob(&self, digest: &str) -> Result<bool> {
        Ok(self.blob_path(digest)?.exists())
    }

    fn get_blob(&self, digest: &str, limit: u64) -> Result<Vec<u8>> {
        let path = self.blob_path(digest)?;
        let file = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::NotFound(format!("blob {digest} in {}", self.describe())));
            }
            Err(e) => return Err(Error::io(&path, e)),
        };
        let mut bytes = Vec::new();
        file.take(limit + 1).read_to_end(&mut bytes).map_err(|e| Error::io(&path, e))?;
        if bytes.len() as u64 > limit {
            return Err(Error::TooLarge { what: format!("blob {digest}"), limit });
        }
        check_digest(&format!("blob {digest}"), digest, &bytes)?;
        Ok(bytes)
    }

    fn put_blob(&self, bytes: &[u8]) -> Result<String> {
        let digest = sha256_digest(bytes);
        let path = self.blob_path(&digest)?;
        if !path.exists() {
            write_atomic(&path, bytes)?;
        }
        Ok(digest)
    }
}
