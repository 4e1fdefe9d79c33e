//! OCI manifests: the signature manifest cosign writes, and just enough of image manifests and
//! indexes to find what to sign.
//!
//! Existing layer descriptors are kept as raw JSON ([`serde_json::value::RawValue`]) so that
//! appending a signature never re-serialises someone else's descriptor.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::error::{Error, Result};

/// OCI image manifest media type.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index media type.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Docker schema 2 manifest media type.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker manifest list media type.
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// OCI image config media type (cosign's signature config uses it).
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// The media type of a cosign signature layer.
pub const SIMPLE_SIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// The layer annotation holding the base64 signature.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// Every manifest media type we accept when reading.
pub const MANIFEST_MEDIA_TYPES: [&str; 4] =
    [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST];

/// Default upper bound on manifest size (4 MiB, distribution's own limit).
pub const MAX_MANIFEST_BYTES: u64 = 4 << 20;
/// Default upper bound on a signature payload blob (128 KiB; real payloads are < 1 KiB).
pub const MAX_PAYLOAD_BYTES: u64 = 128 << 10;

/// An OCI content descriptor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Descriptor {
    /// Media type of the referenced content.
    #[serde(rename = "mediaType")]
    pub media_type: String,
    /// `sha256:<hex>`.
    pub digest: String,
    /// Size in bytes.
    pub size: u64,
    /// Annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    /// Platform (index entries).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<serde_json::Value>,
}

/// A manifest as stored: bytes, media type and digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredManifest {
    /// The exact bytes.
    pub bytes: Vec<u8>,
    /// The media type (from the registry's `Content-Type` or the layout index).
    pub media_type: String,
    /// `sha256:` of `bytes`.
    pub digest: String,
}

#[derive(Deserialize)]
struct RawManifest<'a> {
    #[serde(rename = "mediaType", default)]
    media_type: Option<String>,
    #[serde(default, borrow)]
    layers: Option<Vec<&'a RawValue>>,
    #[serde(default)]
    manifests: Option<Vec<Descriptor>>,
    #[serde(default, borrow)]
    annotations: Option<&'a RawValue>,
}

/// One signature layer: its descriptor, parsed, and its exact JSON text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureLayer {
    /// The parsed descriptor.
    pub descriptor: Descriptor,
    /// The descriptor's JSON text exactly as found.
    pub raw: String,
}

impl SignatureLayer {
    /// The `dev.cosignproject.cosign/signature` annotation.
    pub fn signature_b64(&self) -> Option<&str> {
        self.descriptor.annotations.as_ref()?.get(SIGNATURE_ANNOTATION).map(String::as_str)
    }
}

/// The layers of a signature manifest (`sha256-<hex>.sig`) plus its manifest-level annotations.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SignatureManifest {
    /// The layers, in order.
    pub layers: Vec<SignatureLayer>,
    /// Manifest-level annotations, raw.
    pub annotations_raw: Option<String>,
}

impl SignatureManifest {
    /// Parses a signature manifest. Layers whose descriptors do not parse make the whole
    /// manifest malformed; layers with other media types are kept (and skipped by verification).
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let raw: RawManifest<'_> =
            serde_json::from_slice(bytes).map_err(|e| Error::malformed("signature manifest", e))?;
        if let Some(mt) = &raw.media_type {
            if mt != OCI_MANIFEST && mt != DOCKER_MANIFEST {
                return Err(Error::MediaType {
                    what: "signature manifest".into(),
                    got: mt.clone(),
                });
            }
        }
        let mut layers = Vec::new();
        for layer in raw.layers.unwrap_or_default() {
            let descriptor: Descriptor = serde_json::from_str(layer.get())
                .map_err(|e| Error::malformed("signature manifest layer", e))?;
            layers.push(SignatureLayer { descriptor, raw: layer.get().to_owned() });
        }
        Ok(Self { layers, annotations_raw: raw.annotations.map(|a| a.get().to_owned()) })
    }

    /// Serialises as cosign does: an OCI image manifest whose config lists the layer digests as
    /// `rootfs.diff_ids`. Returns `(manifest bytes, config bytes)`; existing layer descriptors
    /// are copied verbatim.
    pub fn to_bytes(&self) -> (Vec<u8>, Vec<u8>) {
        let config = config_bytes(self.layers.iter().map(|l| l.descriptor.digest.as_str()));
        let config_desc = Descriptor {
            media_type: OCI_CONFIG.into(),
            digest: crate::digest::sha256_digest(&config),
            size: config.len() as u64,
            annotations: None,
            platform: None,
        };
        let mut out = String::new();
        out.push_str("{\"schemaVersion\":2,\"mediaType\":\"");
        out.push_str(OCI_MANIFEST);
        out.push_str("\",\"config\":");
        out.push_str(&serde_json::to_string(&config_desc).unwrap_or_default());
        out.push_str(",\"layers\":[");
        for (i, layer) in self.layers.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&layer.raw);
        }
        out.push(']');
        if let Some(a) = &self.annotations_raw {
            out.push_str(",\"annotations\":");
            out.push_str(a);
        }
        out.push('}');
        (out.into_bytes(), config)
    }
}

/// The config go-containerregistry writes for cosign's signature image (`empty.Image` plus one
/// appended layer per signature).
fn config_bytes<'a>(digests: impl Iterator<Item = &'a str>) -> Vec<u8> {
    let digests: Vec<&str> = digests.collect();
    // Written by hand: serde_json orders keys alphabetically, Go uses struct order.
    let mut s =
        String::from("{\"architecture\":\"\",\"created\":\"0001-01-01T00:00:00Z\",\"history\":[");
    for i in 0..digests.len() {
        if i > 0 {
            s.push(',');
        }
        s.push_str("{\"created\":\"0001-01-01T00:00:00Z\"}");
    }
    s.push_str("],\"os\":\"\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[");
    for (i, d) in digests.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push('"');
        s.push_str(d);
        s.push('"');
    }
    s.push_str("]},\"config\":{}}");
    s.into_bytes()
}

/// The JSON text of a new signature layer descriptor.
pub fn new_layer(
    payload: &[u8],
    signature_b64: &str,
    extra: &BTreeMap<String, String>,
) -> SignatureLayer {
    let mut annotations = extra.clone();
    annotations.insert(SIGNATURE_ANNOTATION.into(), signature_b64.into());
    let descriptor = Descriptor {
        media_type: SIMPLE_SIGNING.into(),
        digest: crate::digest::sha256_digest(payload),
        size: payload.len() as u64,
        annotations: Some(annotations),
        platform: None,
    };
    let raw = serde_json::to_string(&descriptor).unwrap_or_default();
    SignatureLayer { descriptor, raw }
}

/// The child manifests of an index (empty for an image manifest).
pub fn index_children(bytes: &[u8]) -> Result<Vec<Descriptor>> {
    let raw: RawManifest<'_> =
        serde_json::from_slice(bytes).map_err(|e| Error::malformed("image index", e))?;
    Ok(raw.manifests.unwrap_or_default())
}

/// Checks a media type is a manifest or index we can sign.
pub fn check_manifest_media_type(what: &str, media_type: &str) -> Result<()> {
    if MANIFEST_MEDIA_TYPES.contains(&media_type) {
        Ok(())
    } else {
        Err(Error::MediaType { what: what.into(), got: media_type.into() })
    }
}

/// True for index / manifest list media types.
pub fn is_index(media_type: &str) -> bool {
    media_type == OCI_INDEX || media_type == DOCKER_MANIFEST_LIST
}

#[cfg(test)]
mod tests {
    use expect_test::expect;

    use super::*;

    #[test]
    fn new_manifest_bytes() {
        let payload = b"{}";
        let layer = new_layer(payload, "MEUCIQ==", &BTreeMap::new());
        let m = SignatureManifest { layers: vec![layer], annotations_raw: None };
        let (manifest, config) = m.to_bytes();
        expect![[r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:6f29d8e6119adaeb39cf93ac85462871f2d31831507f96622ca872636caad2d5","size":233},"layers":[{"mediaType":"application/vnd.dev.cosign.simplesigning.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2,"annotations":{"dev.cosignproject.cosign/signature":"MEUCIQ=="}}]}"#]]
        .assert_eq(std::str::from_utf8(&manifest).unwrap());
        expect![[r#"{"architecture":"","created":"0001-01-01T00:00:00Z","history":[{"created":"0001-01-01T00:00:00Z"}],"os":"","rootfs":{"type":"layers","diff_ids":["sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"]},"config":{}}"#]]
        .assert_eq(std::str::from_utf8(&config).unwrap());
        let parsed = SignatureManifest::parse(&manifest).unwrap();
        assert_eq!(parsed, m);
    }

    #[test]
    fn foreign_layers_are_kept_verbatim() {
        let foreign = r#"{"mediaType":"application/vnd.dev.cosign.simplesigning.v1+json","size":2,"digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","annotations":{"dev.cosignproject.cosign/signature":"AAAA","dev.sigstore.cosign/bundle":"{\"x\":\u003c1}"}}"#;
        let manifest = format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"x","digest":"sha256:00","size":1}},"layers":[{foreign}],"annotations":{{"a":"b"}}}}"#
        );
        let mut m = SignatureManifest::parse(manifest.as_bytes()).unwrap();
        m.layers.push(new_layer(b"x", "BBBB", &BTreeMap::new()));
        let (out, _) = m.to_bytes();
        let out = String::from_utf8(out).unwrap();
        assert!(out.contains(foreign), "{out}");
        assert!(out.ends_with(r#","annotations":{"a":"b"}}"#));
    }

    #[test]
    fn bad_manifests() {
        assert!(matches!(SignatureManifest::parse(b"{"), Err(Error::Malformed { .. })));
        assert!(matches!(
            SignatureManifest::parse(br#"{"mediaType":"text/plain","layers":[]}"#),
            Err(Error::MediaType { .. })
        ));
        assert!(matches!(
            SignatureManifest::parse(br#"{"layers":[{"digest":"sha256:00"}]}"#),
            Err(Error::Malformed { .. })
        ));
    }

    proptest::proptest! {
        #[test]
        fn parser_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = SignatureManifest::parse(&bytes);
            let _ = index_children(&bytes);
        }

        #[test]
        fn structured_manifests_never_panic(
            layers in proptest::collection::vec(
                ("[a-z/.+]{0,20}", "sha256:[0-9a-f]{0,64}", 0u64..1000, proptest::option::of("[A-Za-z0-9+/=]{0,12}")),
                0..4,
            )
        ) {
            let layers: Vec<String> = layers.iter().map(|(mt, d, size, sig)| {
                let ann = sig.as_ref().map(|s| format!(r#","annotations":{{"{SIGNATURE_ANNOTATION}":"{s}"}}"#)).unwrap_or_default();
                format!(r#"{{"mediaType":"{mt}","digest":"{d}","size":{size}{ann}}}"#)
            }).collect();
            let manifest = format!(r#"{{"schemaVersion":2,"layers":[{}]}}"#, layers.join(","));
            let parsed = SignatureManifest::parse(manifest.as_bytes()).unwrap();
            proptest::prop_assert_eq!(parsed.layers.len(), layers.len());
            let (again, _) = parsed.to_bytes();
            let reparsed = SignatureManifest::parse(&again).unwrap();
            proptest::prop_assert_eq!(reparsed.layers, parsed.layers);
        }
    }
}
