//! OCI 1.1 referrers: the manifest cosign 3 stores a Sigstore bundle in (`artifactType` = the
//! bundle media type, `subject` = the signed manifest, the bundle as its only layer), and the
//! referrers tag schema (`sha256-<hex>`, an image index listing the referrers) kept up to date
//! on registries without the referrers API.
//!
//! The index is updated by read-modify-write with the care of the `.sig` append
//! ([`crate::append_layer`]): other entries are copied byte for byte, the index is re-read
//! just before the `PUT`, and read back after a wait; a lost entry is appended again.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::digest::digest_hex;
use crate::error::{Error, Result};
use crate::manifest::{OCI_INDEX, OCI_MANIFEST, StoredManifest};
use crate::sign::{SignOptions, TagWatch};
use crate::store::ImageStore;

/// The empty descriptor's media type (the config of an artefact manifest).
pub const OCI_EMPTY: &str = "application/vnd.oci.empty.v1+json";
/// The empty descriptor's content.
pub const EMPTY_JSON: &[u8] = b"{}";
/// Manifest annotation: `dsse-envelope` or `message-signature`.
pub const ANNOTATION_CONTENT: &str = "dev.sigstore.bundle.content";
/// Manifest annotation: the in-toto predicate type of a DSSE bundle.
pub const ANNOTATION_PREDICATE_TYPE: &str = "dev.sigstore.bundle.predicateType";
/// Manifest annotation: creation time, RFC 3339.
pub const ANNOTATION_CREATED: &str = "org.opencontainers.image.created";
/// The most referrers read from (or appended to) one index. cosign writes one per signature
/// or attestation; an index far longer than that is refused rather than walked.
pub const MAX_REFERRERS: usize = 1000;

/// How signatures reach a registry as referrers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReferrersMode {
    /// Use the referrers API when the registry has one (it then indexes the referrer
    /// itself), else maintain the tag schema index: cosign's `oci-1-1`.
    #[default]
    Oci11,
    /// Always maintain the tag schema index, even where the API exists.
    Legacy,
}

/// The tag of the referrers tag schema for `digest`: `sha256-<hex>`.
pub fn referrers_tag(digest: &str) -> Result<String> {
    Ok(format!("sha256-{}", digest_hex(digest)?))
}

/// A descriptor as the referrers index lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferrerDescriptor {
    /// The referrer manifest's media type.
    #[serde(rename = "mediaType")]
    pub media_type: String,
    /// Its digest.
    pub digest: String,
    /// Its size.
    pub size: u64,
    /// What it is (the bundle media type for Sigstore bundles).
    #[serde(rename = "artifactType", default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// The referrer manifest's annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

/// A referrers index: entries parsed and as written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReferrersIndex {
    /// Entries, parsed, with their exact JSON text.
    pub entries: Vec<(ReferrerDescriptor, String)>,
    annotations_raw: Option<String>,
}

#[derive(Deserialize)]
struct RawIndex<'a> {
    #[serde(rename = "mediaType", default)]
    media_type: Option<String>,
    #[serde(default, borrow)]
    manifests: Option<Vec<&'a RawValue>>,
    #[serde(default, borrow)]
    annotations: Option<&'a RawValue>,
}

impl ReferrersIndex {
    /// Parses an index found at `place` (for messages); refuses more than [`MAX_REFERRERS`]
    /// entries, and an entry naming `own_digest` (an index that points at itself) or
    /// `subject` (an image listed as its own referrer).
    pub fn parse(
        place: &str,
        bytes: &[u8],
        own_digest: Option<&str>,
        subject: Option<&str>,
    ) -> Result<Self> {
        let bad = |reason: String| Error::BadReferrersIndex { index: place.to_owned(), reason };
        let raw: RawIndex<'_> =
            serde_json::from_slice(bytes).map_err(|e| bad(format!("not an image index: {e}")))?;
        if let Some(mt) = raw.media_type.as_deref().filter(|mt| *mt != OCI_INDEX) {
            return Err(bad(format!("media type {mt:?}, not {OCI_INDEX}")));
        }
        let manifests = raw.manifests.unwrap_or_default();
        if manifests.len() > MAX_REFERRERS {
            return Err(bad(format!(
                "lists {} referrers, more than the {MAX_REFERRERS} read; clean it up with your \
                 registry's tools",
                manifests.len()
            )));
        }
        let mut entries = Vec::with_capacity(manifests.len());
        for m in manifests {
            let d: ReferrerDescriptor = serde_json::from_str(m.get())
                .map_err(|e| bad(format!("entry {}: {e}", entries.len())))?;
            if digest_hex(&d.digest).is_err() {
                return Err(bad(format!("entry {} has the digest {:?}", entries.len(), d.digest)));
            }
            if own_digest == Some(d.digest.as_str()) {
                return Err(bad(format!("entry {} points at the index itself", entries.len())));
            }
            if subject == Some(d.digest.as_str()) {
                return Err(bad(format!(
                    "entry {} is the image itself, not a referrer of it",
                    entries.len()
                )));
            }
            entries.push((d, m.get().to_owned()));
        }
        Ok(Self { entries, annotations_raw: raw.annotations.map(|a| a.get().to_owned()) })
    }

    /// Whether an entry has this digest.
    pub fn contains(&self, digest: &str) -> bool {
        self.entries.iter().any(|(d, _)| d.digest == digest)
    }

    /// The index as JSON; existing entries are copied verbatim.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out =
            format!("{{\"schemaVersion\":2,\"mediaType\":\"{OCI_INDEX}\",\"manifests\":[");
        for (i, (_, raw)) in self.entries.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(raw);
        }
        out.push(']');
        if let Some(a) = &self.annotations_raw {
            out.push_str(",\"annotations\":");
            out.push_str(a);
        }
        out.push('}');
        out.into_bytes()
    }

    /// Appends an entry.
    pub fn push(&mut self, d: ReferrerDescriptor) {
        let raw = serde_json::to_string(&d).unwrap_or_default();
        self.entries.push((d, raw));
    }
}

/// The referrers of `subject` and where they were found: the referrers API, else the tag
/// schema index (empty when there is none).
pub fn list_referrers(store: &dyn ImageStore, subject: &str) -> Result<(String, ReferrersIndex)> {
    if let Some(m) = store.referrers(subject)? {
        let place = format!("{} (referrers API)", store.describe());
        return Ok((place.clone(), ReferrersIndex::parse(&place, &m.bytes, None, Some(subject))?));
    }
    let tag = referrers_tag(subject)?;
    let place = format!("{}:{tag}", store.describe());
    let (_, index) = read_tag_index(store, &tag, &place, subject)?;
    Ok((place, index))
}

fn read_tag_index(
    store: &dyn ImageStore,
    tag: &str,
    place: &str,
    subject: &str,
) -> Result<(Option<String>, ReferrersIndex)> {
    match store.get_manifest(tag)? {
        None => Ok((None, ReferrersIndex::default())),
        Some(m) if m.digest == subject => Err(Error::BadReferrersIndex {
            index: place.to_owned(),
            reason: "the tag holds the image itself, not an index of its referrers".into(),
        }),
        Some(m) => {
            if m.media_type != OCI_INDEX {
                return Err(Error::BadReferrersIndex {
                    index: place.to_owned(),
                    reason: format!("the tag holds a {:?}, not an image index", m.media_type),
                });
            }
            let index = ReferrersIndex::parse(place, &m.bytes, Some(&m.digest), Some(subject))?;
            Ok((Some(m.digest), index))
        }
    }
}

/// A parsed referrer manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Referrer {
    /// `artifactType` (or, as older writers did, the config media type).
    pub artifact_type: Option<String>,
    /// The subject's digest.
    pub subject: Option<String>,
    /// The layers.
    pub layers: Vec<crate::manifest::Descriptor>,
    /// The manifest annotations.
    pub annotations: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct RawReferrer {
    #[serde(rename = "mediaType", default)]
    media_type: Option<String>,
    #[serde(rename = "artifactType", default)]
    artifact_type: Option<String>,
    #[serde(default)]
    config: Option<crate::manifest::Descriptor>,
    #[serde(default)]
    layers: Vec<crate::manifest::Descriptor>,
    #[serde(default)]
    subject: Option<crate::manifest::Descriptor>,
    #[serde(default)]
    annotations: Option<BTreeMap<String, String>>,
}

impl Referrer {
    /// Parses a referrer manifest (an OCI image manifest with a `subject`).
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let raw: RawReferrer =
            serde_json::from_slice(bytes).map_err(|e| Error::malformed("referrer manifest", e))?;
        if let Some(mt) = raw.media_type.filter(|mt| mt != OCI_MANIFEST) {
            return Err(Error::MediaType { what: "referrer manifest".into(), got: mt });
        }
        let artifact_type = raw
            .artifact_type
            .or_else(|| raw.config.map(|c| c.media_type).filter(|t| t != OCI_EMPTY));
        Ok(Self {
            artifact_type,
            subject: raw.subject.map(|s| s.digest),
            layers: raw.layers,
            annotations: raw.annotations.unwrap_or_default(),
        })
    }
}

/// The referrer manifest cosign 3 writes for a bundle (go-containerregistry's field order):
/// the empty config, the bundle as the only layer, `subject`, the annotations, `artifactType`.
pub fn referrer_manifest(
    subject: &StoredManifest,
    artifact_type: &str,
    layer_digest: &str,
    layer_size: u64,
    annotations: &BTreeMap<String, String>,
) -> Vec<u8> {
    let text = |v: &str| serde_json::to_string(v).unwrap_or_default();
    let empty = crate::digest::sha256_digest(EMPTY_JSON);
    let mut s = format!("{{\"schemaVersion\":2,\"mediaType\":\"{OCI_MANIFEST}\",\"config\":");
    s.push_str(&format!(
        "{{\"mediaType\":\"{OCI_EMPTY}\",\"size\":{},\"digest\":\"{empty}\",\"artifactType\":{}}}",
        EMPTY_JSON.len(),
        text(artifact_type)
    ));
    s.push_str(&format!(
        ",\"layers\":[{{\"mediaType\":{},\"size\":{layer_size},\"digest\":\"{layer_digest}\"}}]",
        text(artifact_type)
    ));
    if !annotations.is_empty() {
        s.push_str(",\"annotations\":");
        s.push_str(&serde_json::to_string(annotations).unwrap_or_default());
    }
    s.push_str(&format!(
        ",\"subject\":{{\"mediaType\":{},\"size\":{},\"digest\":\"{}\"}}",
        text(&subject.media_type),
        subject.bytes.len(),
        subject.digest
    ));
    s.push_str(",\"artifactType\":");
    s.push_str(&text(artifact_type));
    s.push('}');
    s.into_bytes()
}

/// Lists `entry` among the referrers of `subject`: nothing to do when the registry has the
/// referrers API and `mode` allows it (it indexed the referrer when it was stored), else
/// appended to the tag schema index and confirmed. Returns the read-modify-write rounds used
/// (0 with the API).
pub fn add_referrer(
    store: &dyn ImageStore,
    subject: &str,
    entry: &ReferrerDescriptor,
    mode: ReferrersMode,
    opts: &SignOptions,
) -> Result<u32> {
    if mode == ReferrersMode::Oci11 && store.referrers(subject)?.is_some() {
        return Ok(0);
    }
    let tag = referrers_tag(subject)?;
    let place = format!("{}:{tag}", store.describe());
    let mut attempts = 0;
    let mut last_error = None;
    while attempts < opts.max_attempts.max(1) {
        attempts += 1;
        // A lost round means others write this index too: wait and watch as for `.sig`.
        let contended = attempts > 1;
        match append_round(store, subject, &tag, &place, entry, contended, opts) {
            Ok(true) => return Ok(attempts),
            Ok(false) => last_error = None,
            Err(e) if crate::sign::is_transient(&e) => last_error = Some(e),
            Err(e) => return Err(e),
        }
        std::thread::sleep(crate::sign::backoff(attempts));
    }
    match last_error {
        Some(e) => Err(e),
        None => Err(Error::Contended { tag: place, attempts }),
    }
}

/// One round: read, append unless present, re-read and write only if unchanged, wait, read
/// back (again while others keep rewriting the index, as `sign` does for `.sig`). `Ok(true)`
/// once the entry is seen in an index that held still for a wait.
fn append_round(
    store: &dyn ImageStore,
    subject: &str,
    tag: &str,
    place: &str,
    entry: &ReferrerDescriptor,
    contended: bool,
    opts: &SignOptions,
) -> Result<bool> {
    let started = Instant::now();
    let (digest, mut index) = read_tag_index(store, tag, place, subject)?;
    if index.contains(&entry.digest) {
        return Ok(true);
    }
    if index.entries.len() >= MAX_REFERRERS {
        return Err(Error::BadReferrersIndex {
            index: place.to_owned(),
            reason: format!("already lists {MAX_REFERRERS} referrers; not appending another"),
        });
    }
    index.push(entry.clone());
    let bytes = index.to_bytes();
    let (now, _) = read_tag_index(store, tag, place, subject)?;
    if now != digest {
        return Ok(false);
    }
    let mut watch = TagWatch::default();
    watch.contended = contended;
    watch.wrote(store.put_manifest(tag, OCI_INDEX, &bytes)?);
    let delta = started.elapsed();
    loop {
        std::thread::sleep(watch.wait(delta, opts).min(Duration::from_secs(5)));
        let (now, back) = read_tag_index(store, tag, place, subject)?;
        if !back.contains(&entry.digest) {
            return Ok(false);
        }
        if watch.holds_still(now) {
            return Ok(true);
        }
    }
}

#[cfg(test)]
mod tests {
    use expect_test::expect;

    use super::*;

    const D: &str = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";

    #[test]
    fn manifest_bytes() {
        let subject = StoredManifest {
            bytes: b"{}".to_vec(),
            media_type: OCI_MANIFEST.into(),
            digest: D.into(),
        };
        let annotations =
            BTreeMap::from([(ANNOTATION_CONTENT.to_owned(), "dsse-envelope".to_owned())]);
        let m = referrer_manifest(&subject, crate::bundle::BUNDLE_V03, D, 10, &annotations);
        expect![[r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.empty.v1+json","size":2,"digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","artifactType":"application/vnd.dev.sigstore.bundle.v0.3+json"},"layers":[{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","size":10,"digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"}],"annotations":{"dev.sigstore.bundle.content":"dsse-envelope"},"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":2,"digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"},"artifactType":"application/vnd.dev.sigstore.bundle.v0.3+json"}"#]]
        .assert_eq(std::str::from_utf8(&m).unwrap());
        let r = Referrer::parse(&m).unwrap();
        assert_eq!(r.artifact_type.as_deref(), Some(crate::bundle::BUNDLE_V03));
        assert_eq!(r.subject.as_deref(), Some(D));
        assert_eq!(r.layers.len(), 1);
    }

    #[test]
    fn index_keeps_foreign_entries_and_refuses_bad_ones() {
        let foreign = r#"{"digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","mediaType":"application/vnd.oci.image.manifest.v1+json","size":1,"x":"\u003c"}"#;
        let text =
            format!(r#"{{"schemaVersion":2,"manifests":[{foreign}],"annotations":{{"a":"b"}}}}"#);
        let mut index = ReferrersIndex::parse("p", text.as_bytes(), None, None).unwrap();
        index.push(ReferrerDescriptor {
            media_type: OCI_MANIFEST.into(),
            digest: D.replace("441", "442"),
            size: 3,
            artifact_type: None,
            annotations: None,
        });
        let out = String::from_utf8(index.to_bytes()).unwrap();
        assert!(out.contains(foreign) && out.ends_with(r#","annotations":{"a":"b"}}"#), "{out}");
        let err =
            ReferrersIndex::parse("p", text.as_bytes(), Some(D), None).unwrap_err().to_string();
        assert!(err.contains("entry 0 points at the index itself"), "{err}");
        let err =
            ReferrersIndex::parse("p", text.as_bytes(), None, Some(D)).unwrap_err().to_string();
        assert!(err.contains("entry 0 is the image itself"), "{err}");
        let many = format!(r#"{{"manifests":[{}]}}"#, vec![foreign; MAX_REFERRERS + 1].join(","));
        let err = ReferrersIndex::parse("p", many.as_bytes(), None, None).unwrap_err().to_string();
        assert!(err.contains("lists 1001 referrers"), "{err}");
        let err = ReferrersIndex::parse("p", br#"{"mediaType":"x","manifests":[]}"#, None, None)
            .unwrap_err()
            .to_string();
        assert!(err.contains(r#"media type "x""#), "{err}");
    }

    proptest::proptest! {
        #[test]
        fn parsers_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = ReferrersIndex::parse("p", &bytes, None, None);
            let _ = Referrer::parse(&bytes);
        }
    }
}
