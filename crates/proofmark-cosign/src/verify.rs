//! Verification of cosign signatures with public keys: per-layer checks, k-of-n thresholds
//! over distinct keys, and cosign-style JSON output.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use proofmark_types::{EcCurve, Fingerprint, KeyKind, PublicKey, Signature, SignatureAlgorithm};

use crate::digest::signature_tag;
use crate::error::{Error, Result};
use crate::manifest::{MAX_PAYLOAD_BYTES, SIMPLE_SIGNING, SignatureLayer, SignatureManifest};
use crate::payload::Payload;
use crate::sign::SignatureFormat;
use crate::store::ImageStore;

/// How to check `critical.identity.docker-reference`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentityMode {
    /// Must name this repository (`registry/repository`), optionally with a tag or digest
    /// (containers/image writes the full reference).
    Repository(String),
    /// Must equal this string exactly.
    Exact(String),
    /// Not checked (what `cosign verify` does).
    Ignore,
}

impl IdentityMode {
    /// What this mode accepts, in words, for messages.
    pub fn describe(&self) -> String {
        match self {
            Self::Ignore => "anything".to_owned(),
            Self::Exact(e) => format!("exactly {e:?}"),
            Self::Repository(repo) => {
                format!("the repository {repo:?} (with or without a tag or digest)")
            }
        }
    }

    fn accepts(&self, reference: &str) -> bool {
        match self {
            Self::Ignore => true,
            Self::Exact(e) => reference == e,
            Self::Repository(repo) => {
                reference == repo
                    || reference.strip_prefix(repo.as_str()).is_some_and(|rest| {
                        (rest.starts_with(':') && !rest.contains('/')) || rest.starts_with('@')
                    })
            }
        }
    }
}

/// What to accept.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// Trusted keys.
    pub keys: Vec<PublicKey>,
    /// How many distinct keys must have a valid signature (1 = any).
    pub threshold: usize,
    /// When set, every key in `keys` must have one of these fingerprints.
    pub pinned: Option<Vec<Fingerprint>>,
    /// The `docker-reference` check.
    pub identity: IdentityMode,
    /// Annotations every accepted payload must carry in `optional` (string values).
    pub required_annotations: BTreeMap<String, String>,
    /// Largest payload blob read.
    pub payload_limit: u64,
    /// The predicate type a bundle's Statement must carry: cosign's sign predicate for
    /// signatures, the attestation's type for `verify-attestation`.
    pub predicate_type: String,
    /// Where to look: `.sig` layers, bundle referrers, or both (the default).
    pub formats: Vec<SignatureFormat>,
    /// The image as the user named it, for the `docker-reference` cosign prints for bundles.
    pub image_reference: Option<String>,
}

impl VerifyOptions {
    /// One key or more, threshold 1, identity checked against `repository`.
    pub fn new(keys: Vec<PublicKey>, repository: impl Into<String>) -> Self {
        Self {
            keys,
            threshold: 1,
            pinned: None,
            identity: IdentityMode::Repository(repository.into()),
            required_annotations: BTreeMap::new(),
            payload_limit: MAX_PAYLOAD_BYTES,
            predicate_type: crate::statement::COSIGN_SIGN_PREDICATE.into(),
            formats: vec![SignatureFormat::Bundle, SignatureFormat::Legacy],
            image_reference: None,
        }
    }
}

/// Why one signature layer was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// The layer is not a simple-signing payload.
    #[error("layer media type is {0:?}, not {SIMPLE_SIGNING}")]
    MediaType(String),
    /// No `dev.cosignproject.cosign/signature` annotation.
    #[error("no signature annotation")]
    MissingSignature,
    /// The annotation is not base64.
    #[error("the signature annotation is not valid base64")]
    BadBase64,
    /// The payload blob could not be used (too large, missing, digest mismatch).
    #[error("payload blob: {0}")]
    Blob(String),
    /// The payload is not valid simple-signing JSON.
    #[error("{0}")]
    MalformedPayload(String),
    /// `critical.type` is not cosign's.
    #[error("payload type is {0:?}, not \"cosign container image signature\"")]
    WrongType(String),
    /// The payload signs another manifest.
    #[error("payload signs {0}, not this image")]
    WrongDigest(String),
    /// The payload names another repository.
    #[error("payload identity {found:?} does not match: expected {expected}")]
    WrongIdentity {
        /// The payload's `critical.identity.docker-reference`.
        found: String,
        /// What was expected, in words ([`IdentityMode::describe`]).
        expected: String,
    },
    /// A required annotation is missing or different.
    #[error("required annotation {0:?} is missing or different")]
    MissingAnnotation(String),
    /// No trusted key verifies the signature.
    #[error("no trusted key verifies this signature")]
    NoKeyMatches,
    /// The referrer, its manifest or its bundle cannot be used.
    #[error("{0}")]
    Bundle(String),
    /// The Statement has another predicate type.
    #[error("predicate type is {0:?}, not the one asked for")]
    WrongPredicateType(String),
}

/// The verdict on one layer.
#[derive(Debug, Clone)]
pub struct LayerResult {
    /// Position in the report (bundles first, then `.sig` layers).
    pub index: usize,
    /// Where the signature was found.
    pub format: SignatureFormat,
    /// The payload blob digest (`.sig`), or the referrer manifest digest (bundle).
    pub payload_digest: String,
    /// Keys that verified it, or why it was rejected.
    pub result: std::result::Result<Fingerprint, Rejection>,
    /// The parsed payload (when it parsed; `.sig` only).
    pub payload: Option<Payload>,
    /// The in-toto Statement (when it parsed; bundles only).
    pub statement: Option<crate::statement::Statement>,
    /// The bundle (when it parsed; bundles only).
    pub bundle: Option<crate::bundle::Bundle>,
}

/// The overall verdict, for exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyStatus {
    /// At least `threshold` distinct keys have valid signatures.
    Verified,
    /// No signature manifest, or one with no layers.
    NoSignatures,
    /// Signatures exist but none is valid.
    NoneValid,
    /// Some signatures are valid, but from fewer distinct keys than the threshold.
    ThresholdNotMet,
}

impl VerifyStatus {
    /// The `proofmark verify` exit code: 0 verified, 3 none valid (proofmark's "invalid
    /// signature" code, as for `verify-blob`), 4 no signatures, 5 threshold not met. Registry,
    /// transport and input errors are 1.
    pub fn exit_code(self) -> u8 {
        match self {
            Self::Verified => 0,
            Self::NoneValid => 3,
            Self::NoSignatures => 4,
            Self::ThresholdNotMet => 5,
        }
    }
}

/// The result of verifying one image digest.
#[derive(Debug, Clone)]
pub struct VerifyReport {
    /// The image manifest digest checked.
    pub image_digest: String,
    /// One entry per layer of the signature manifest.
    pub layers: Vec<LayerResult>,
    /// Distinct keys with at least one valid signature.
    pub verified_keys: BTreeSet<Fingerprint>,
    /// Required number of distinct keys.
    pub threshold: usize,
    /// The verdict.
    pub status: VerifyStatus,
    /// [`VerifyOptions::image_reference`].
    pub image_reference: Option<String>,
}

impl VerifyReport {
    /// What `cosign verify --output json` prints: the array of accepted payloads, each as
    /// cosign re-encodes it (`PrintVerification` in `cmd/cosign/cli/verify/verify.go`, through
    /// sigstore's `SimpleContainerImage`): `critical.identity.docker-reference`,
    /// `critical.image.docker-manifest-digest`, `critical.type`, and `optional` (`null` when a
    /// `.sig` payload has none).
    ///
    /// For a bundle, cosign 3 (`transformOutput`) prints the same shape with the image as it
    /// was named, normalised as go-containerregistry's `Reference.Name()` does
    /// (`index.docker.io/library/…`, `:latest` when no tag, the tag dropped beside a digest), as
    /// `docker-reference`, the Statement's predicate type as `critical.type` (so
    /// `https://sigstore.dev/cosign/sign/v1` tells a bundle from a `.sig` payload's
    /// `cosign container image signature`), and the subject's annotations (`{}` when none) as
    /// `optional`. Keys are sorted, as Go encodes these structs and maps.
    pub fn cosign_json(&self) -> serde_json::Value {
        let accepted = self
            .layers
            .iter()
            .filter(|l| l.result.is_ok())
            .filter_map(|l| match (&l.payload, &l.statement) {
                (Some(p), _) => Some(serde_json::json!({
                    "critical": {
                        "identity": {"docker-reference": p.docker_reference},
                        "image": {"docker-manifest-digest": p.manifest_digest},
                        "type": p.signature_type,
                    },
                    "optional": p.optional.clone().map_or(serde_json::Value::Null, serde_json::Value::Object),
                })),
                (None, Some(st)) => Some(serde_json::json!({
                    "critical": {
                        "identity": {"docker-reference": self.image_reference.as_deref().map(ggcr_name).unwrap_or_default()},
                        "image": {"docker-manifest-digest": self.image_digest},
                        "type": st.predicate_type,
                    },
                    "optional": st.subject_for(&self.image_digest)
                        .and_then(|s| s.annotations.clone())
                        .unwrap_or_default(),
                })),
                (None, None) => None,
            })
            .collect();
        serde_json::Value::Array(accepted)
    }

    /// [`VerifyReport::cosign_json`] as the text cosign prints on standard output: Go's
    /// `encoding/json` (HTML-safe: `<`, `>`, `&`, U+2028 and U+2029 as `\uXXXX`), after an
    /// empty line (`fmt.Printf("\n%s\n", …)`).
    pub fn cosign_output(&self) -> String {
        let text = self.cosign_json().to_string();
        let mut out = String::with_capacity(text.len() + 2);
        out.push('\n');
        for c in text.chars() {
            match c {
                // Only inside strings: none of these is JSON syntax.
                '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                    let _ = write!(out, "\\u{:04x}", u32::from(c));
                }
                c => out.push(c),
            }
        }
        out.push('\n');
        out
    }

    /// The accepted DSSE envelopes (`cosign verify-attestation --output json` prints these).
    pub fn envelopes_json(&self) -> serde_json::Value {
        let accepted = self
            .layers
            .iter()
            .filter(|l| l.result.is_ok())
            .filter_map(|l| match l.bundle.as_ref().map(|b| &b.content) {
                Some(crate::bundle::Content::Dsse(env)) => serde_json::to_value(env).ok(),
                _ => None,
            })
            .collect();
        serde_json::Value::Array(accepted)
    }

    /// A readable multi-line summary.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        let verdict = match self.status {
            VerifyStatus::Verified => "verified",
            VerifyStatus::NoSignatures => "no signatures found",
            VerifyStatus::NoneValid => "no valid signature",
            VerifyStatus::ThresholdNotMet => "threshold not met",
        };
        let _ = writeln!(
            s,
            "{}: {verdict} ({} of {} required keys)",
            self.image_digest,
            self.verified_keys.len(),
            self.threshold
        );
        for l in &self.layers {
            let format = match l.format {
                SignatureFormat::Bundle => "bundle",
                SignatureFormat::Legacy => ".sig",
            };
            match &l.result {
                Ok(key) => {
                    let _ = writeln!(s, "  [{}] {format}: valid, key {key}", l.index);
                }
                Err(why) => {
                    // The digest names the referrer (or payload) to inspect or delete.
                    let _ = writeln!(
                        s,
                        "  [{}] {format} {}: rejected: {why}",
                        l.index, l.payload_digest
                    );
                }
            }
        }
        s
    }
}

/// The algorithm cosign verifies a key with.
pub fn cosign_algorithm_for(key: &PublicKey) -> Result<SignatureAlgorithm> {
    match key.key_kind() {
        KeyKind::Ec(EcCurve::P256) => Ok(SignatureAlgorithm::EcdsaP256Sha256),
        KeyKind::Rsa { bits: 2048 } => Ok(SignatureAlgorithm::RsaPkcs1v15_2048Sha256),
        KeyKind::Rsa { bits: 3072 } => Ok(SignatureAlgorithm::RsaPkcs1v15_3072Sha256),
        other => Err(Error::UnsupportedKey(other.to_string())),
    }
}

/// Resolves `reference` in `image` and verifies the signatures found in `signatures`.
pub fn verify_image(
    image: &dyn ImageStore,
    reference: &str,
    signatures: &dyn ImageStore,
    opts: &VerifyOptions,
) -> Result<VerifyReport> {
    let manifest = image
        .get_manifest(reference)?
        .ok_or_else(|| Error::NotFound(format!("{}:{reference}", image.describe())))?;
    verify_digest(signatures, &manifest.digest, opts)
}

/// Verifies the signatures of an already-resolved image digest.
pub fn verify_digest(
    signatures: &dyn ImageStore,
    image_digest: &str,
    opts: &VerifyOptions,
) -> Result<VerifyReport> {
    if opts.keys.is_empty() {
        return Err(Error::InvalidOptions("no public keys given".into()));
    }
    let distinct: BTreeSet<Fingerprint> =
        opts.keys.iter().map(PublicKey::fingerprint_sha256).collect();
    if opts.threshold == 0 || opts.threshold > distinct.len() {
        return Err(Error::InvalidOptions(format!(
            "threshold {} with {} distinct keys",
            opts.threshold,
            distinct.len()
        )));
    }
    if let Some(pins) = &opts.pinned {
        if let Some(unpinned) = distinct.iter().find(|f| !pins.contains(f)) {
            return Err(Error::KeyNotPinned(unpinned.to_string()));
        }
    }
    let keys: Vec<(&PublicKey, SignatureAlgorithm)> =
        opts.keys.iter().map(|k| cosign_algorithm_for(k).map(|a| (k, a))).collect::<Result<_>>()?;
    let (bundles, legacy) = (
        opts.formats.contains(&SignatureFormat::Bundle),
        opts.formats.contains(&SignatureFormat::Legacy),
    );
    // One place after the other: looking in both at once (a thread for one) measured slower
    // on the loaded 2-core machine than the round trip it saves
    // (minutes/2026-12-02-cosign-bench.md).
    let mut layers =
        if bundles { check_bundles(signatures, image_digest, &keys, opts)? } else { Vec::new() };
    if legacy {
        layers.extend(check_legacy(signatures, image_digest, &keys, opts)?);
    }
    for (i, layer) in layers.iter_mut().enumerate() {
        layer.index = i;
    }
    let verified_keys: BTreeSet<Fingerprint> =
        layers.iter().filter_map(|l| l.result.as_ref().ok().copied()).collect();
    let status = if layers.is_empty() {
        VerifyStatus::NoSignatures
    } else if verified_keys.is_empty() {
        VerifyStatus::NoneValid
    } else if verified_keys.len() < opts.threshold {
        VerifyStatus::ThresholdNotMet
    } else {
        VerifyStatus::Verified
    };
    Ok(VerifyReport {
        image_digest: image_digest.to_owned(),
        layers,
        verified_keys,
        threshold: opts.threshold,
        status,
        image_reference: opts.image_reference.clone(),
    })
}

/// The bundle referrers' verdicts (indexes are set by the caller).
fn check_bundles(
    signatures: &dyn ImageStore,
    image_digest: &str,
    keys: &[(&PublicKey, SignatureAlgorithm)],
    opts: &VerifyOptions,
) -> Result<Vec<LayerResult>> {
    let (_, index) = crate::referrers::list_referrers(signatures, image_digest)?;
    let mut layers = Vec::new();
    for (entry, _) in &index.entries {
        if !crate::attestation::is_candidate(entry, &opts.predicate_type) {
            continue;
        }
        let checked = crate::attestation::check_referrer(
            signatures,
            &entry.digest,
            image_digest,
            keys,
            &opts.predicate_type,
            &opts.required_annotations,
        )?;
        layers.push(LayerResult {
            index: 0,
            format: SignatureFormat::Bundle,
            payload_digest: entry.digest.clone(),
            result: checked.key,
            payload: None,
            statement: checked.statement,
            bundle: checked.bundle,
        });
    }
    Ok(layers)
}

/// The `.sig` layers' verdicts (indexes are set by the caller).
fn check_legacy(
    signatures: &dyn ImageStore,
    image_digest: &str,
    keys: &[(&PublicKey, SignatureAlgorithm)],
    opts: &VerifyOptions,
) -> Result<Vec<LayerResult>> {
    let mut layers = Vec::new();
    let tag = signature_tag(image_digest)?;
    let manifest = match signatures.get_manifest(&tag)? {
        None => SignatureManifest::default(),
        Some(m) => {
            if m.media_type != crate::manifest::OCI_MANIFEST
                && m.media_type != crate::manifest::DOCKER_MANIFEST
            {
                return Err(Error::MediaType {
                    what: format!("signature manifest {tag}"),
                    got: m.media_type,
                });
            }
            SignatureManifest::parse(&m.bytes)?
        }
    };
    for layer in &manifest.layers {
        let (result, payload) = check_layer(signatures, layer, image_digest, keys, opts)?;
        layers.push(LayerResult {
            index: 0,
            format: SignatureFormat::Legacy,
            payload_digest: layer.descriptor.digest.clone(),
            result,
            payload,
            statement: None,
            bundle: None,
        });
    }
    Ok(layers)
}

type LayerCheck = (std::result::Result<Fingerprint, Rejection>, Option<Payload>);

fn check_layer(
    store: &dyn ImageStore,
    layer: &SignatureLayer,
    image_digest: &str,
    keys: &[(&PublicKey, SignatureAlgorithm)],
    opts: &VerifyOptions,
) -> Result<LayerCheck> {
    let d = &layer.descriptor;
    if d.media_type != SIMPLE_SIGNING {
        return Ok((Err(Rejection::MediaType(d.media_type.clone())), None));
    }
    let Some(sig_b64) = layer.signature_b64() else {
        return Ok((Err(Rejection::MissingSignature), None));
    };
    let Ok(sig_bytes) = STANDARD.decode(sig_b64.trim()) else {
        return Ok((Err(Rejection::BadBase64), None));
    };
    if d.size > opts.payload_limit {
        return Ok((
            Err(Rejection::Blob(format!(
                "{} bytes is over the {}-byte limit",
                d.size, opts.payload_limit
            ))),
            None,
        ));
    }
    let payload_bytes = match known_payload(layer, image_digest, opts) {
        Some(bytes) => bytes,
        None => match store.get_blob(&d.digest, opts.payload_limit) {
            Ok(b) => b,
            Err(e) if e.is_transport() => return Err(e),
            Err(e) => return Ok((Err(Rejection::Blob(e.to_string())), None)),
        },
    };
    let payload = match Payload::parse(&payload_bytes) {
        Ok(p) => p,
        Err(e) => return Ok((Err(Rejection::MalformedPayload(e.to_string())), None)),
    };
    // The signature first: claims of an unauthenticated payload mean nothing.
    let key = keys.iter().find(|(key, alg)| {
        Signature::new(*alg, &sig_bytes).is_ok_and(|sig| {
            proofmark_types::verify_message(key, *alg, &payload_bytes, &sig).is_ok()
        })
    });
    let Some((key, _)) = key else {
        return Ok((Err(Rejection::NoKeyMatches), Some(payload)));
    };
    let rejection = if !payload.check_type() {
        Some(Rejection::WrongType(payload.signature_type.clone()))
    } else if payload.manifest_digest != image_digest {
        Some(Rejection::WrongDigest(payload.manifest_digest.clone()))
    } else if !opts.identity.accepts(&payload.docker_reference) {
        Some(Rejection::WrongIdentity {
            found: payload.docker_reference.clone(),
            expected: opts.identity.describe(),
        })
    } else {
        opts.required_annotations
            .iter()
            .find(|(k, v)| payload.annotation(k) != Some(v.as_str()))
            .map(|(k, _)| Rejection::MissingAnnotation(k.clone()))
    };
    match rejection {
        Some(r) => Ok((Err(r), Some(payload))),
        None => Ok((Ok(key.fingerprint_sha256()), Some(payload))),
    }
}

/// The payload of `layer` without asking the registry, when it is the one proofmark, cosign and
/// sigstore-rs write for this image: the repository the identity check expects (or, with the
/// check off, the one the image was named by), this digest, and no annotations beyond the
/// required ones. A blob is named by its digest, so a candidate whose size and sha256 equal
/// the layer's descriptor *is* the layer's payload; any other layer is fetched. Saves one
/// request per signature on the common path.
fn known_payload(
    layer: &SignatureLayer,
    image_digest: &str,
    opts: &VerifyOptions,
) -> Option<Vec<u8>> {
    let d = &layer.descriptor;
    let reference = match &opts.identity {
        IdentityMode::Repository(r) | IdentityMode::Exact(r) => r.clone(),
        IdentityMode::Ignore => {
            match crate::reference::ImageRef::parse(opts.image_reference.as_deref()?) {
                Ok(crate::reference::ImageRef::Registry(r)) => {
                    format!("{}/{}", r.registry, r.repository)
                }
                _ => return None,
            }
        }
    };
    let candidate =
        crate::payload::payload_bytes(&reference, image_digest, &opts.required_annotations);
    let same = u64::try_from(candidate.len()).is_ok_and(|n| n == d.size)
        && crate::digest::sha256_digest(&candidate) == d.digest;
    same.then_some(candidate)
}

/// go-containerregistry's `Reference.Name()` of an image as the user named it: cosign 3 prints
/// it as the `docker-reference` of a bundle. Anything that is not a registry reference (an
/// `oci:` layout) is kept as given.
fn ggcr_name(image: &str) -> String {
    match crate::reference::ImageRef::parse(image) {
        Ok(crate::reference::ImageRef::Registry(r)) => match (&r.digest, &r.tag) {
            (Some(d), _) => format!("{}/{}@{d}", r.registry, r.repository),
            (None, tag) => {
                format!("{}/{}:{}", r.registry, r.repository, tag.as_deref().unwrap_or("latest"))
            }
        },
        _ => image.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_modes() {
        let repo = IdentityMode::Repository("r.io/a/b".into());
        for ok in ["r.io/a/b", "r.io/a/b:v1", "r.io/a/b@sha256:00"] {
            assert!(repo.accepts(ok), "{ok}");
        }
        for bad in ["r.io/a/bc", "r.io/a/b/c", "r.io/a", "other/a/b", "r.io/a/b:v1/x"] {
            assert!(!repo.accepts(bad), "{bad}");
        }
        assert!(IdentityMode::Exact("x:1".into()).accepts("x:1"));
        assert!(!IdentityMode::Exact("x:1".into()).accepts("x"));
        assert!(IdentityMode::Ignore.accepts("anything"));
        assert_eq!(VerifyStatus::NoneValid.exit_code(), 3);
    }

    #[test]
    fn known_payloads_are_taken_only_when_their_digest_is_the_layers() {
        let digest = format!("sha256:{}", "ab".repeat(32));
        let none = BTreeMap::new();
        let tagged = BTreeMap::from([("k".to_owned(), "v".to_owned())]);
        let layer = |annotations: &BTreeMap<String, String>| {
            let payload = crate::payload::payload_bytes("r.io/a/b", &digest, annotations);
            (crate::manifest::new_layer(&payload, "c2ln", &BTreeMap::new()), payload)
        };
        let opts = |identity: IdentityMode, required: &BTreeMap<String, String>| VerifyOptions {
            identity,
            required_annotations: required.clone(),
            image_reference: Some("r.io/a/b:v1".into()),
            ..VerifyOptions::new(Vec::new(), "unused")
        };
        let repo = || IdentityMode::Repository("r.io/a/b".into());
        let (plain, plain_payload) = layer(&none);
        let (annotated, annotated_payload) = layer(&tagged);
        let cases = [
            ("plain, repository", &plain, opts(repo(), &none), Some(&plain_payload)),
            ("plain, ignore", &plain, opts(IdentityMode::Ignore, &none), Some(&plain_payload)),
            (
                "plain, exact",
                &plain,
                opts(IdentityMode::Exact("r.io/a/b".into()), &none),
                Some(&plain_payload),
            ),
            (
                "plain, other repository",
                &plain,
                opts(IdentityMode::Repository("r.io/a/c".into()), &none),
                None,
            ),
            ("plain, annotation required", &plain, opts(repo(), &tagged), None),
            ("annotated, none required", &annotated, opts(repo(), &none), None),
            ("annotated, required", &annotated, opts(repo(), &tagged), Some(&annotated_payload)),
        ];
        for (what, layer, opts, expected) in cases {
            assert_eq!(known_payload(layer, &digest, &opts).as_ref(), expected, "{what}");
        }
        // Another image's digest, and a descriptor whose size disagrees: fetched.
        let other = format!("sha256:{}", "cd".repeat(32));
        assert_eq!(known_payload(&plain, &other, &opts(repo(), &none)), None);
        let mut resized = plain.clone();
        resized.descriptor.size += 1;
        assert_eq!(known_payload(&resized, &digest, &opts(repo(), &none)), None);
    }

    #[test]
    fn bundles_are_named_as_go_containerregistry_names_the_image() {
        let names: Vec<String> = [
            "127.0.0.1:5000/demo/app:1.4",
            "127.0.0.1:5000/demo/app",
            "alpine",
            "docker.io/foo/bar:1",
            "r.io/a/b:v1@sha256:0000000000000000000000000000000000000000000000000000000000000000",
            "oci:layout",
        ]
        .iter()
        .map(|i| format!("{i} -> {}", ggcr_name(i)))
        .collect();
        expect_test::expect![[r#"
            127.0.0.1:5000/demo/app:1.4 -> 127.0.0.1:5000/demo/app:1.4
            127.0.0.1:5000/demo/app -> 127.0.0.1:5000/demo/app:latest
            alpine -> index.docker.io/library/alpine:latest
            docker.io/foo/bar:1 -> index.docker.io/foo/bar:1
            r.io/a/b:v1@sha256:0000000000000000000000000000000000000000000000000000000000000000 -> r.io/a/b@sha256:0000000000000000000000000000000000000000000000000000000000000000
            oci:layout -> oci:layout"#]]
        .assert_eq(&names.join("\n"));
    }

    #[test]
    fn cosign_output_reencodes_payloads_as_go_does() {
        let key =
            proofmark_types::SoftwareSigner::generate(SignatureAlgorithm::EcdsaP256Sha256).unwrap();
        let fingerprint = proofmark_types::Signer::public_key(&key).fingerprint_sha256();
        let layer = |payload: &[u8], ok: bool| LayerResult {
            index: 0,
            format: SignatureFormat::Legacy,
            payload_digest: String::new(),
            result: if ok { Ok(fingerprint) } else { Err(Rejection::NoKeyMatches) },
            payload: Some(Payload::parse(payload).unwrap()),
            statement: None,
            bundle: None,
        };
        // Keys out of order and an HTML character: Go sorts map keys and escapes `<`, `>`, `&`.
        let annotated = br#"{"critical":{"identity":{"docker-reference":"r.io/a"},"image":{"docker-manifest-digest":"sha256:00"},"type":"cosign container image signature"},"optional":{"z":"<&>","a":1}}"#;
        let plain = br#"{"critical":{"type":"cosign container image signature","image":{"docker-manifest-digest":"sha256:00"},"identity":{"docker-reference":"r.io/a"}},"optional":null}"#;
        let report = VerifyReport {
            image_digest: "sha256:00".into(),
            layers: vec![layer(annotated, true), layer(plain, true), layer(plain, false)],
            verified_keys: BTreeSet::new(),
            threshold: 1,
            status: VerifyStatus::Verified,
            image_reference: None,
        };
        expect_test::expect![[r#"

            [{"critical":{"identity":{"docker-reference":"r.io/a"},"image":{"docker-manifest-digest":"sha256:00"},"type":"cosign container image signature"},"optional":{"a":1,"z":"\u003c\u0026\u003e"}},{"critical":{"identity":{"docker-reference":"r.io/a"},"image":{"docker-manifest-digest":"sha256:00"},"type":"cosign container image signature"},"optional":null}]
        "#]]
        .assert_eq(&report.cosign_output());
    }
}
