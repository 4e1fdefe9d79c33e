//! [`KeyFile`]: a TPM key blob on disk, in a versioned JSON format or as a TSS2 PRIVATE KEY PEM
//! file (tpm2-openssl's, see [`crate::tss2`]), and on request the tpm2-tools `.pub`/`.priv` files.
//!
//! [`KeyFile::load`] tells the formats apart by content, not by name: a file that starts with
//! `-----BEGIN` (or is a DER `TPMKey`) is read as TSS2, anything else as our JSON. A TSS2 file
//! pins no parent name: its parent is tpm2-openssl's owner-hierarchy primary
//! ([`ParentTemplate::Tss2EccP256`]) or a persistent key, and a key made under another parent is
//! refused by the TPM when it is loaded.
//!
//! The JSON file (mode 0600, written atomically) holds:
//!
//! ```json
//! {
//!   "format": "proofmark-tpm-key",
//!   "version": 1,
//!   "algorithm": "ecdsa-sha2-256-nistp256",
//!   "parent": { "template": "ecc-p256", "name": "000b…" },
//!   "public": "<hex TPM2B_PUBLIC>",
//!   "private": "<hex TPM2B_PRIVATE>",
//!   "auth": { "kind": "random", "value": "<hex>" }
//! }
//! ```
//!
//! `auth.kind` is `none`, `random` (the value is stored here: the file is the credential) or
//! `user` (the value is asked for at every load and never stored). `parent.name` pins the
//! storage primary: loading on a TPM whose primary differs fails with
//! [`TpmError::WrongParent`](crate::TpmError::WrongParent).
//!
//! The JSON file is the whole key. [`KeyFile::save_tpm2_tools`] also writes, on request and
//! under names the caller chooses, the `TPM2B_PUBLIC` and `TPM2B_PRIVATE` structures exactly as
//! `tpm2_create -u PREFIX.pub -r PREFIX.priv` writes them, so
//! `tpm2_load -C <primary> -u PREFIX.pub -r PREFIX.priv` accepts our keys. Nothing is written
//! beside the key file unasked: `NAME.pub` is, by a common convention, a PEM public key the
//! user owns.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use proofmark_types::{PersistentHandle, SignatureAlgorithm};
use serde::{Deserialize, Serialize};
use tss_esapi::structures::{Private, Public};
use tss_esapi::traits::{Marshall as _, UnMarshall as _};
use zeroize::Zeroizing;

use crate::auth::AuthValue;
use crate::error::{Result, TpmError};
use crate::template::{self, ParentTemplate};
use crate::tss2::{self, Tss2Key};

/// The `format` field of our key files.
pub const FORMAT: &str = "proofmark-tpm-key";
/// The newest key-file version we read and the one we write.
pub const VERSION: u32 = 1;

/// How the key file holds the key's auth value.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoredAuth {
    /// The key has an empty auth value.
    None,
    /// A random auth value, stored in the file.
    Random(AuthValue),
    /// A user-chosen auth value, not stored; the caller supplies it.
    User,
}

/// The on-disk format of a [`KeyFile`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum KeyFileFormat {
    /// proofmark's versioned JSON.
    #[default]
    Json,
    /// A `-----BEGIN TSS2 PRIVATE KEY-----` PEM file, as tpm2-openssl reads and writes.
    Tss2,
}

/// A TPM signing key as stored on disk: its public and (parent-encrypted) private parts, the
/// parent it was created under, and how it is authorised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyFile {
    algorithm: SignatureAlgorithm,
    parent: ParentTemplate,
    parent_name: Vec<u8>,
    public: Public,
    private: Private,
    auth: StoredAuth,
    /// A persistent parent (TSS2 files only); `None`: the `parent` primary.
    parent_handle: Option<PersistentHandle>,
    format: KeyFileFormat,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Json {
    format: String,
    version: u32,
    algorithm: String,
    parent: JsonParent,
    public: String,
    private: String,
    auth: JsonAuth,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonParent {
    template: String,
    name: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonAuth {
    kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    value: Option<String>,
}

impl Drop for JsonAuth {
    fn drop(&mut self) {
        use zeroize::Zeroize as _;
        if let Some(value) = &mut self.value {
            value.zeroize();
        }
    }
}

/// Room for the largest key file (an RSA-3072 key's is under 3 KiB), reserved up front so the
/// buffer holding the auth value is never reallocated (which would leave a copy behind).
const JSON_CAPACITY: usize = 16 * 1024;

/// Adds the big-endian `u16` size prefix of a `TPM2B_*` structure.
fn tpm2b(body: &[u8]) -> Result<Vec<u8>> {
    let len = u16::try_from(body.len())
        .map_err(|_| TpmError::Unsupported(format!("a {}-byte TPM2B buffer", body.len())))?;
    let mut out = len.to_be_bytes().to_vec();
    out.extend_from_slice(body);
    Ok(out)
}

/// Strips the size prefix of a `TPM2B_*` structure, checking that it covers the whole input.
fn un_tpm2b(bytes: &[u8]) -> std::result::Result<&[u8], String> {
    let [hi, lo, body @ ..] = bytes else {
        return Err("shorter than a TPM2B size prefix".to_owned());
    };
    let len = usize::from(u16::from_be_bytes([*hi, *lo]));
    if len != body.len() {
        return Err(format!("TPM2B size prefix says {len} bytes but {} follow", body.len()));
    }
    Ok(body)
}

/// Parses a `TPM2B_PUBLIC`, rejecting trailing or inconsistent bytes.
pub(crate) fn public_from_tpm2b(bytes: &[u8]) -> std::result::Result<Public, String> {
    let body = un_tpm2b(bytes)?;
    let public = Public::unmarshall(body).map_err(|e| format!("not a TPMT_PUBLIC: {e}"))?;
    // The unmarshaller ignores trailing bytes: insist on an exact round trip.
    if public.marshall().map_err(|e| e.to_string())? != body {
        return Err("TPMT_PUBLIC has trailing or non-canonical bytes".to_owned());
    }
    Ok(public)
}

/// Parses a `TPM2B_PRIVATE`.
pub(crate) fn private_from_tpm2b(bytes: &[u8]) -> std::result::Result<Private, String> {
    let body = un_tpm2b(bytes)?;
    if body.is_empty() {
        return Err("empty private part".to_owned());
    }
    Private::try_from(body).map_err(|e| format!("not a TPM2B_PRIVATE: {e}"))
}

/// Writes `contents` to `path` atomically (temporary file in the same folder, fsync, then a
/// rename, or a hard link when `replace` is false so that an existing file is never replaced)
/// with permissions `mode`.
pub(crate) fn write_atomic(path: &Path, contents: &[u8], mode: u32, replace: bool) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let io = |action, source| TpmError::Io { action, path: path.to_owned(), source };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let file_name = path.file_name().ok_or_else(|| {
        io("writing", std::io::Error::new(std::io::ErrorKind::InvalidInput, "no file name"))
    })?;
    let mut nonce = [0u8; 8];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut nonce);
    let tmp = dir.join(format!(".{}.{}.tmp", file_name.to_string_lossy(), hex::encode(nonce)));
    let result = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)
            .map_err(|e| io("creating a temporary file for", e))?;
        file.write_all(contents).map_err(|e| io("writing", e))?;
        file.sync_all().map_err(|e| io("syncing", e))?;
        if replace {
            std::fs::rename(&tmp, path).map_err(|e| io("renaming a temporary file to", e))?;
        } else {
            // link(2) fails if `path` exists, even when another process created it just now.
            std::fs::hard_link(&tmp, path).map_err(|e| {
                if e.kind() == std::io::ErrorKind::AlreadyExists {
                    TpmError::FileExists { path: path.to_owned() }
                } else {
                    io("linking a temporary file to", e)
                }
            })?;
            let _ = std::fs::remove_file(&tmp);
        }
        // Make the rename durable; not all filesystems support syncing a folder.
        if let Ok(d) = std::fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

impl KeyFile {
    /// Assembles a key file from its parts, checking that `algorithm` matches the public area.
    pub fn new(
        parent: ParentTemplate,
        parent_name: Vec<u8>,
        public: Public,
        private: Private,
        auth: StoredAuth,
    ) -> Result<Self> {
        let algorithm = template::algorithm_of(&public)?;
        Ok(Self {
            algorithm,
            parent,
            parent_name,
            public,
            private,
            auth,
            parent_handle: None,
            format: KeyFileFormat::Json,
        })
    }

    /// Assembles a key made under the persistent key at `parent` (written as a TSS2 file: our
    /// JSON format names parents by template only).
    pub fn under_persistent(
        parent: PersistentHandle,
        public: Public,
        private: Private,
        auth: StoredAuth,
    ) -> Result<Self> {
        let mut key = Self::new(ParentTemplate::Tss2EccP256, Vec::new(), public, private, auth)?;
        key.parent_handle = Some(parent);
        key.format = KeyFileFormat::Tss2;
        Ok(key)
    }

    /// The format [`KeyFile::save`] writes (and [`KeyFile::load`] found).
    #[must_use]
    pub fn format(&self) -> KeyFileFormat {
        self.format
    }

    /// The same key, to be saved in `format` (for TSS2, without the parent name, which that
    /// format does not record).
    ///
    /// A TSS2 file cannot hold a random auth value (only "empty" or "ask the user"), and its
    /// owner-hierarchy parent is tpm2-openssl's primary: a key under proofmark's own
    /// [`ParentTemplate::EccP256`] or [`ParentTemplate::Rsa2048`] cannot be written as TSS2, and
    /// a key under a persistent parent cannot be written as JSON.
    pub fn with_format(mut self, format: KeyFileFormat) -> Result<Self> {
        match format {
            KeyFileFormat::Json if self.parent_handle.is_some() => {
                return Err(TpmError::Unsupported(
                    "a key under a persistent parent is kept in a TSS2 key file, not JSON"
                        .to_owned(),
                ));
            }
            KeyFileFormat::Tss2 => {
                if matches!(self.auth, StoredAuth::Random(_)) {
                    return Err(TpmError::Unsupported(
                        "a TSS2 key file cannot hold a random auth value: make the key with no \
                         auth value or a user-chosen one"
                            .to_owned(),
                    ));
                }
                if self.parent_handle.is_none() && !self.parent.is_tss2() {
                    return Err(TpmError::Unsupported(format!(
                        "a TSS2 key file's parent is tpm2-openssl's primary (tss2-ecc-p256 or \
                         tss2-rsa-2048) or a persistent key, not the {} primary",
                        self.parent
                    )));
                }
                // The file has no room for it; drop it so the key equals what loading gives.
                self.parent_name.clear();
            }
            KeyFileFormat::Json => {}
        }
        self.format = format;
        Ok(self)
    }

    /// The persistent parent of a TSS2 key, if it has one (else its parent is the
    /// [`KeyFile::parent`] primary).
    #[must_use]
    pub fn parent_handle(&self) -> Option<PersistentHandle> {
        self.parent_handle
    }

    /// The signature algorithm.
    #[must_use]
    pub fn algorithm(&self) -> SignatureAlgorithm {
        self.algorithm
    }

    /// The parent template.
    #[must_use]
    pub fn parent(&self) -> ParentTemplate {
        self.parent
    }

    /// The TPM name of the parent the key was created under; empty for TSS2 files, which do not
    /// record it.
    #[must_use]
    pub fn parent_name(&self) -> &[u8] {
        &self.parent_name
    }

    /// The key's public area.
    #[must_use]
    pub fn public(&self) -> &Public {
        &self.public
    }

    /// The key's private part, encrypted by its parent.
    #[must_use]
    pub fn private(&self) -> &Private {
        &self.private
    }

    /// How the key is authorised.
    #[must_use]
    pub fn auth(&self) -> &StoredAuth {
        &self.auth
    }

    /// The public key.
    pub fn public_key(&self) -> Result<proofmark_types::PublicKey> {
        template::public_key(&self.public)
    }

    /// The `TPM2B_PUBLIC` bytes, as in a tpm2-tools `.pub` file.
    pub fn public_tpm2b(&self) -> Result<Vec<u8>> {
        let body = self.public.marshall().map_err(|source| TpmError::Tpm {
            operation: "marshalling the public area",
            code: 0,
            source,
        })?;
        tpm2b(&body)
    }

    /// The `TPM2B_PRIVATE` bytes, as in a tpm2-tools `.priv` file.
    pub fn private_tpm2b(&self) -> Result<Vec<u8>> {
        tpm2b(self.private.value())
    }

    /// The tpm2-tools file names for `prefix`: `(PREFIX.pub, PREFIX.priv)` (appended, so
    /// `keys/app.tpm2` gives `keys/app.tpm2.pub`).
    #[must_use]
    pub fn tpm2_tools_paths(prefix: &Path) -> (PathBuf, PathBuf) {
        let with = |ext: &str| {
            let mut name = prefix.as_os_str().to_owned();
            name.push(ext);
            PathBuf::from(name)
        };
        (with(".pub"), with(".priv"))
    }

    /// Writes the key file (mode 0600, in its [`KeyFile::format`]) atomically, replacing any
    /// file at `path`.
    pub fn save(&self, path: &Path) -> Result<()> {
        write_atomic(path, &self.to_bytes(path)?, 0o600, true)
    }

    /// Writes the key file (mode 0600, in its [`KeyFile::format`]) atomically, failing with
    /// [`TpmError::FileExists`] if `path` exists: a key file may be the only copy of its key.
    pub fn create(&self, path: &Path) -> Result<()> {
        write_atomic(path, &self.to_bytes(path)?, 0o600, false)
    }

    fn to_bytes(&self, path: &Path) -> Result<Zeroizing<Vec<u8>>> {
        match self.format {
            KeyFileFormat::Json => self.to_json(path),
            KeyFileFormat::Tss2 => Ok(Zeroizing::new(self.to_tss2_pem()?.into_bytes())),
        }
    }

    /// The key as a TSS2 PRIVATE KEY PEM file (see [`KeyFile::with_format`] for the keys that
    /// can be written so).
    pub fn to_tss2_pem(&self) -> Result<String> {
        let checked = self.clone().with_format(KeyFileFormat::Tss2)?;
        let parent = checked.parent_handle.map_or(tss2::OWNER, |h| h.value());
        let key = Tss2Key {
            empty_auth: matches!(checked.auth, StoredAuth::None),
            rsa_parent: checked.parent_handle.is_none()
                && checked.parent == ParentTemplate::Tss2Rsa2048,
            parent,
            description: None,
            public: checked.public_tpm2b()?,
            private: checked.private_tpm2b()?,
        };
        key.to_pem().map_err(|e| TpmError::Unsupported(format!("encoding a TSS2 key: {e}")))
    }

    /// Writes the tpm2-tools files: `TPM2B_PUBLIC` to `pub_path` (mode 0644) and
    /// `TPM2B_PRIVATE` to `priv_path` (mode 0600), each atomically. Without `replace`, an
    /// existing file is an error ([`TpmError::FileExists`]) and nothing is left written.
    pub fn save_tpm2_tools(&self, pub_path: &Path, priv_path: &Path, replace: bool) -> Result<()> {
        write_atomic(pub_path, &self.public_tpm2b()?, 0o644, replace)?;
        if let Err(e) = write_atomic(priv_path, &self.private_tpm2b()?, 0o600, replace) {
            if !replace {
                let _ = std::fs::remove_file(pub_path);
            }
            return Err(e);
        }
        Ok(())
    }

    /// The JSON text of the key file, in a buffer that is zeroed when dropped.
    fn to_json(&self, path: &Path) -> Result<Zeroizing<Vec<u8>>> {
        let (kind, value) = match &self.auth {
            StoredAuth::None => ("none", None),
            StoredAuth::Random(v) => ("random", Some(hex::encode(v.expose()))),
            StoredAuth::User => ("user", None),
        };
        let json = Json {
            format: FORMAT.to_owned(),
            version: VERSION,
            algorithm: self.algorithm.name().to_owned(),
            parent: JsonParent {
                template: self.parent.name().to_owned(),
                name: hex::encode(&self.parent_name),
            },
            public: hex::encode(self.public_tpm2b()?),
            private: hex::encode(self.private_tpm2b()?),
            auth: JsonAuth { kind: kind.to_owned(), value },
        };
        let mut text = Zeroizing::new(Vec::with_capacity(JSON_CAPACITY));
        serde_json::to_writer_pretty(&mut *text, &json).map_err(|e| TpmError::KeyFile {
            path: path.to_owned(),
            reason: format!("serialising: {e}"),
        })?;
        text.push(b'\n');
        Ok(text)
    }

    /// Reads a key file: ours (JSON, as [`KeyFile::save`] writes it) or a TSS2 PRIVATE KEY
    /// (PEM or DER), whoever wrote it.
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = Zeroizing::new(std::fs::read(path).map_err(|source| TpmError::Io {
            action: "reading key file",
            path: path.to_owned(),
            source,
        })?);
        Self::from_bytes(&bytes)
            .map_err(|reason| TpmError::KeyFile { path: path.to_owned(), reason })
    }

    /// Reads a key file's contents, in either format.
    fn from_bytes(bytes: &[u8]) -> std::result::Result<Self, String> {
        let start = bytes.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(bytes.len());
        if bytes[start..].starts_with(b"-----BEGIN") {
            return Self::from_tss2(Tss2Key::from_pem(bytes).map_err(|e| {
                format!("{e} (proofmark reads TSS2 PRIVATE KEY files and its own JSON key files)")
            })?);
        }
        if tss2::is_der(bytes) {
            return Self::from_tss2(Tss2Key::from_der(bytes).map_err(|e| e.to_string())?);
        }
        Self::from_json(bytes)
    }

    fn from_tss2(key: Tss2Key) -> std::result::Result<Self, String> {
        let public = public_from_tpm2b(&key.public)
            .map_err(|e| format!("corrupt TSS2 key: its public part: {e}"))?;
        let private = private_from_tpm2b(&key.private)
            .map_err(|e| format!("corrupt TSS2 key: its private part: {e}"))?;
        let algorithm = template::algorithm_of(&public).map_err(|e| e.to_string())?;
        let parent_handle = match key.parent {
            tss2::OWNER => None,
            handle => Some(PersistentHandle::new(handle).map_err(|e| e.to_string())?),
        };
        let parent =
            if key.rsa_parent { ParentTemplate::Tss2Rsa2048 } else { ParentTemplate::Tss2EccP256 };
        let auth = if key.empty_auth { StoredAuth::None } else { StoredAuth::User };
        Ok(Self {
            algorithm,
            parent,
            parent_name: Vec::new(),
            public,
            private,
            auth,
            parent_handle,
            format: KeyFileFormat::Tss2,
        })
    }

    fn from_json(bytes: &[u8]) -> std::result::Result<Self, String> {
        let mut json: Json = serde_json::from_slice(bytes)
            .map_err(|e| format!("not a proofmark TPM key file ({e})"))?;
        let mut auth_value = json.auth.value.take().map(Zeroizing::new);
        if json.format != FORMAT {
            return Err(format!("not a proofmark TPM key file (format `{}`)", json.format));
        }
        if json.version == 0 || json.version > VERSION {
            return Err(format!(
                "key file version {} is not supported (this proofmark reads up to {VERSION})",
                json.version
            ));
        }
        let algorithm: SignatureAlgorithm =
            json.algorithm.parse().map_err(|e| format!("corrupt: {e}"))?;
        let parent: ParentTemplate =
            json.parent.template.parse().map_err(|e: TpmError| format!("corrupt: {e}"))?;
        let unhex = |field: &str, s: &str| {
            hex::decode(s).map_err(|e| format!("corrupt: field `{field}` is not hex ({e})"))
        };
        let parent_name = unhex("parent.name", &json.parent.name)?;
        let public = public_from_tpm2b(&unhex("public", &json.public)?)
            .map_err(|e| format!("corrupt public part: {e}"))?;
        let private = private_from_tpm2b(&unhex("private", &json.private)?)
            .map_err(|e| format!("corrupt private part: {e}"))?;
        let auth = match (json.auth.kind.as_str(), auth_value.take()) {
            ("none", None) => StoredAuth::None,
            ("user", None) => StoredAuth::User,
            ("random", Some(value)) => {
                let bytes = Zeroizing::new(
                    hex::decode(value.as_str())
                        .map_err(|_| "corrupt: the auth value is not hex".to_owned())?,
                );
                StoredAuth::Random(
                    AuthValue::new(bytes.to_vec()).map_err(|e| format!("corrupt: {e}"))?,
                )
            }
            (kind, _) => {
                return Err(format!("corrupt: unknown or inconsistent auth kind `{kind}`"));
            }
        };
        let actual = template::algorithm_of(&public).map_err(|e| format!("corrupt: {e}"))?;
        if actual != algorithm {
            return Err(format!(
                "corrupt: the file says {algorithm} but the public part is a {actual} key"
            ));
        }
        Ok(Self {
            algorithm,
            parent,
            parent_name,
            public,
            private,
            auth,
            parent_handle: None,
            format: KeyFileFormat::Json,
        })
    }

    /// Reads the tpm2-tools `TPM2B_PUBLIC` and `TPM2B_PRIVATE` files of a key (as written by
    /// `tpm2_create -u key.pub -r key.priv`).
    ///
    /// Returns the public and private parts; [`Tpm::import`](crate::Tpm::import) turns them into
    /// a [`KeyFile`] pinned to this TPM's parent.
    pub fn read_tpm2_tools(pub_path: &Path, priv_path: &Path) -> Result<(Public, Private)> {
        let read = |path: &Path| {
            std::fs::read(path).map_err(|source| TpmError::Io {
                action: "reading",
                path: path.to_owned(),
                source,
            })
        };
        let public = public_from_tpm2b(&read(pub_path)?)
            .map_err(|reason| TpmError::KeyFile { path: pub_path.to_owned(), reason })?;
        let private = private_from_tpm2b(&read(priv_path)?)
            .map_err(|reason| TpmError::KeyFile { path: priv_path.to_owned(), reason })?;
        Ok((public, private))
    }

    /// Deletes a key file (only the key file: tpm2-tools files were named by the caller).
    pub fn delete(path: &Path) -> Result<()> {
        std::fs::remove_file(path).map_err(|source| TpmError::Io {
            action: "deleting",
            path: path.to_owned(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tpm2b_framing() {
        assert_eq!(tpm2b(&[1, 2, 3]).unwrap(), vec![0, 3, 1, 2, 3]);
        assert_eq!(un_tpm2b(&[0, 3, 1, 2, 3]).unwrap(), &[1, 2, 3]);
        assert!(un_tpm2b(&[0, 4, 1, 2, 3]).is_err());
        assert!(un_tpm2b(&[0]).is_err());
    }

    #[test]
    fn public_parts_round_trip_and_garbage_is_refused() {
        let public =
            template::signing_key_public(SignatureAlgorithm::EcdsaP256Sha256, true).unwrap();
        let bytes = tpm2b(&public.marshall().unwrap()).unwrap();
        assert_eq!(public_from_tpm2b(&bytes).unwrap(), public);
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(public_from_tpm2b(&longer).is_err());
        assert!(public_from_tpm2b(&[0, 2, 0xff, 0xff]).is_err());
    }

    #[test]
    fn foreign_and_corrupt_files_are_named_as_such() {
        let expect = |json: &str, needle: &str| {
            let err = KeyFile::from_json(json.as_bytes()).unwrap_err();
            assert!(err.contains(needle), "{err}");
        };
        expect("-----BEGIN PRIVATE KEY-----", "not a proofmark TPM key file");
        expect(
            r#"{"format":"x","version":1,"algorithm":"a","parent":{"template":"t","name":""},"public":"","private":"","auth":{"kind":"none"}}"#,
            "format `x`",
        );
        expect(
            r#"{"format":"proofmark-tpm-key","version":9,"algorithm":"a","parent":{"template":"t","name":""},"public":"","private":"","auth":{"kind":"none"}}"#,
            "version 9",
        );
        expect(
            r#"{"format":"proofmark-tpm-key","version":1,"algorithm":"ecdsa-sha2-256-nistp256","parent":{"template":"ecc-p256","name":"00"},"public":"zz","private":"","auth":{"kind":"none"}}"#,
            "not hex",
        );
    }
}
