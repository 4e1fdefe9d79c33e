//! DSSE-signed in-toto Statements in Sigstore bundles, attached to images as OCI 1.1
//! referrers: what cosign 3's `sign` (predicate type [`COSIGN_SIGN_PREDICATE`]) and `attest`
//! (any predicate type) write, and their verification.
//!
//! The statement is deterministic (no time in it), so re-signing with the same key finds the
//! earlier bundle and adds nothing, as the `.sig` path does.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use proofmark_types::{PublicKey, SignatureAlgorithm, Signer};
use serde_json::Value;

use crate::bundle::{
    BUNDLE_READ_MEDIA_TYPES, BUNDLE_V03, Bundle, Content, MAX_BUNDLE_BYTES, key_hint,
};
use crate::dsse::{INTOTO_PAYLOAD_TYPE, pae};
use crate::error::{Error, Result};
use crate::manifest::{OCI_MANIFEST, StoredManifest};
use crate::referrers::{
    ANNOTATION_CONTENT, ANNOTATION_CREATED, ANNOTATION_PREDICATE_TYPE, EMPTY_JSON, Referrer,
    ReferrerDescriptor, add_referrer, list_referrers, referrers_tag,
};
use crate::sign::{SignOptions, SignatureFormat, Signed, backoff, is_transient};
use crate::statement::{COSIGN_SIGN_PREDICATE, Statement, statement_bytes};
use crate::store::ImageStore;

/// cosign's `--type` short names and the predicate type URIs they stand for
/// (`cmd/cosign/cli/options/predicate.go`).
pub const PREDICATE_TYPES: [(&str, &str); 8] = [
    ("slsaprovenance", "https://slsa.dev/provenance/v0.2"),
    ("slsaprovenance02", "https://slsa.dev/provenance/v0.2"),
    ("slsaprovenance1", "https://slsa.dev/provenance/v1"),
    ("link", "https://in-toto.io/Link/v1"),
    ("spdx", "https://spdx.dev/Document"),
    ("spdxjson", "https://spdx.dev/Document"),
    ("cyclonedx", "https://cyclonedx.org/bom"),
    ("vuln", "https://cosign.sigstore.dev/attestation/vuln/v1"),
];
/// `--type custom`.
pub const CUSTOM_PREDICATE: &str = "https://cosign.sigstore.dev/attestation/v1";

/// The predicate type URI for cosign's `--type` value: a short name, `custom`, or a URI.
pub fn predicate_type_for(name: &str) -> Result<String> {
    if name == "custom" {
        return Ok(CUSTOM_PREDICATE.into());
    }
    if let Some((_, uri)) = PREDICATE_TYPES.iter().find(|(short, _)| *short == name) {
        return Ok((*uri).into());
    }
    if name.contains("://") && !name.chars().any(char::is_whitespace) {
        return Ok(name.into());
    }
    let names: Vec<&str> = PREDICATE_TYPES.iter().map(|(s, _)| *s).collect();
    Err(Error::InvalidOptions(format!(
        "predicate type {name:?}: use one of {}, custom, or a URI",
        names.join(", ")
    )))
}

/// What to attach: the predicate type and the predicate JSON.
#[derive(Debug, Clone)]
pub struct StatementSpec {
    /// The predicate type URI.
    pub predicate_type: String,
    /// The predicate (`{}` for `cosign sign`).
    pub predicate: Value,
}

impl StatementSpec {
    /// `cosign sign`'s: [`COSIGN_SIGN_PREDICATE`] with an empty predicate.
    pub fn cosign_sign() -> Self {
        Self {
            predicate_type: COSIGN_SIGN_PREDICATE.into(),
            predicate: Value::Object(Default::default()),
        }
    }
}

/// Attaches a DSSE-signed in-toto Statement with `spec`'s predicate to the manifest
/// `reference` names in `image` (cosign 3's `attest`), as a bundle referrer in `signatures`.
/// Attesting the same statement again with the same key adds nothing.
pub fn attest_image(
    image: &dyn ImageStore,
    reference: &str,
    signatures: &dyn ImageStore,
    spec: &StatementSpec,
    signer: &dyn Signer,
    opts: &SignOptions,
) -> Result<Signed> {
    crate::sign::check_cosign_algorithm(signer.algorithm())?;
    let manifest = image
        .get_manifest(reference)?
        .ok_or_else(|| Error::NotFound(format!("{}:{reference}", image.describe())))?;
    crate::manifest::check_manifest_media_type("image manifest", &manifest.media_type)?;
    let target = BundleTarget { image, signatures, digest: &manifest.digest };
    let mut signed = attach_all(&[target], spec, signer, opts)?;
    signed.pop().ok_or_else(|| Error::NotFound(manifest.digest.clone()))
}

/// One manifest to attach a statement to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BundleTarget<'a> {
    pub(crate) image: &'a dyn ImageStore,
    pub(crate) signatures: &'a dyn ImageStore,
    pub(crate) digest: &'a str,
}

/// Signs and attaches one statement per target, up to [`SignOptions::parallelism`] at once.
pub(crate) fn attach_all(
    targets: &[BundleTarget<'_>],
    spec: &StatementSpec,
    signer: &dyn Signer,
    opts: &SignOptions,
) -> Result<Vec<Signed>> {
    crate::sign::parallel(targets, opts.parallelism, |t| attach(t, spec, signer, opts))
        .into_iter()
        .collect()
}

fn attach(
    t: &BundleTarget<'_>,
    spec: &StatementSpec,
    signer: &dyn Signer,
    opts: &SignOptions,
) -> Result<Signed> {
    let subject = t
        .image
        .get_manifest(t.digest)?
        .ok_or_else(|| Error::NotFound(format!("{}@{}", t.image.describe(), t.digest)))?;
    let statement =
        statement_bytes(t.digest, &spec.predicate_type, &spec.predicate, &opts.annotations)?;
    let tag = referrers_tag(t.digest)?;
    let key = (signer.public_key().clone(), signer.algorithm());
    let mut signed = Signed {
        signatures: t.signatures.describe(),
        image_digest: t.digest.to_owned(),
        signature_tag: tag,
        payload: statement,
        signature_b64: String::new(),
        added: false,
        attempts: 0,
        format: SignatureFormat::Bundle,
        referrer: None,
        via_referrers_api: false,
    };
    if let Some(existing) = already_signed(t.signatures, t.digest, &signed.payload, &key, spec)? {
        signed.referrer = Some(existing);
        return Ok(signed);
    }
    let signature = signer.sign(&pae(INTOTO_PAYLOAD_TYPE, &signed.payload))?;
    signed.signature_b64 = STANDARD.encode(signature.as_bytes());
    let bundle =
        Bundle::dsse(INTOTO_PAYLOAD_TYPE, &signed.payload, signature.as_bytes(), &key_hint(&key.0))
            .to_json();
    let (referrer, descriptor) =
        store_referrer_retrying(t.signatures, &subject, &bundle, &spec.predicate_type, opts)?;
    signed.attempts = add_referrer(t.signatures, t.digest, &descriptor, opts.referrers_mode, opts)?;
    signed.via_referrers_api = signed.attempts == 0;
    signed.referrer = Some(referrer);
    signed.added = true;
    Ok(signed)
}

/// [`store_referrer`], again after a transient error. Distribution writes blob links
/// non-atomically, so signers uploading the same empty config at once can make a manifest
/// `PUT` find it unknown for a moment (`MANIFEST_BLOB_UNKNOWN`); everything here is named by
/// its digest, so repeating it changes nothing else.
fn store_referrer_retrying(
    store: &dyn ImageStore,
    subject: &StoredManifest,
    bundle: &[u8],
    predicate_type: &str,
    opts: &SignOptions,
) -> Result<(String, ReferrerDescriptor)> {
    let mut attempt = 1;
    loop {
        match store_referrer(store, subject, bundle, predicate_type) {
            Err(e) if is_transient(&e) && attempt < opts.max_attempts.max(1) => {
                std::thread::sleep(backoff(attempt));
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// Uploads the bundle and the empty config, and stores the referrer manifest by digest.
fn store_referrer(
    store: &dyn ImageStore,
    subject: &StoredManifest,
    bundle: &[u8],
    predicate_type: &str,
) -> Result<(String, ReferrerDescriptor)> {
    store.put_blob(EMPTY_JSON)?;
    let bundle_digest = store.put_blob(bundle)?;
    let annotations = BTreeMap::from([
        (ANNOTATION_CONTENT.to_owned(), "dsse-envelope".to_owned()),
        (ANNOTATION_PREDICATE_TYPE.to_owned(), predicate_type.to_owned()),
        (ANNOTATION_CREATED.to_owned(), rfc3339_now()),
    ]);
    let manifest = crate::referrers::referrer_manifest(
        subject,
        BUNDLE_V03,
        &bundle_digest,
        bundle.len() as u64,
        &annotations,
    );
    let digest = crate::digest::sha256_digest(&manifest);
    store.put_manifest(&digest, OCI_MANIFEST, &manifest)?;
    let descriptor = ReferrerDescriptor {
        media_type: OCI_MANIFEST.into(),
        digest: digest.clone(),
        size: manifest.len() as u64,
        artifact_type: Some(BUNDLE_V03.into()),
        annotations: Some(annotations),
    };
    Ok((digest, descriptor))
}

/// The referrer holding a bundle of exactly `statement` that `key` verifies, if any.
fn already_signed(
    store: &dyn ImageStore,
    digest: &str,
    statement: &[u8],
    key: &(PublicKey, SignatureAlgorithm),
    spec: &StatementSpec,
) -> Result<Option<String>> {
    let (_, index) = list_referrers(store, digest)?;
    for (entry, _) in &index.entries {
        if !is_candidate(entry, &spec.predicate_type) {
            continue;
        }
        let bundle = match fetch_bundle(store, &entry.digest, digest) {
            Ok(b) => b,
            Err(e) if e.is_transport() => return Err(e),
            Err(_) => continue,
        };
        let Content::Dsse(env) = &bundle.content else { continue };
        if env.payload_bytes().ok().as_deref() != Some(statement) {
            continue;
        }
        if bundle.verifying_key(&[(&key.0, key.1)], None).ok().flatten().is_some() {
            return Ok(Some(entry.digest.clone()));
        }
    }
    Ok(None)
}

/// Whether an index entry may be a bundle with this predicate type (its annotations, when
/// present, say so; entries without them are looked at).
pub(crate) fn is_candidate(entry: &ReferrerDescriptor, predicate_type: &str) -> bool {
    let bundle =
        entry.artifact_type.as_deref().is_some_and(|t| BUNDLE_READ_MEDIA_TYPES.contains(&t));
    let predicate = entry
        .annotations
        .as_ref()
        .and_then(|a| a.get(ANNOTATION_PREDICATE_TYPE))
        .is_none_or(|p| p == predicate_type);
    bundle && predicate
}

/// Reads the referrer manifest `referrer` and its bundle; checks that its subject is
/// `subject`, its artifact type and its layer.
pub(crate) fn fetch_bundle(
    store: &dyn ImageStore,
    referrer: &str,
    subject: &str,
) -> Result<Bundle> {
    if referrer == subject {
        return Err(Error::malformed(
            "referrer",
            "the index lists the image itself as its referrer",
        ));
    }
    let m = store
        .get_manifest(referrer)?
        .ok_or_else(|| Error::NotFound(format!("referrer manifest {referrer}")))?;
    if m.media_type != OCI_MANIFEST {
        return Err(Error::MediaType {
            what: format!("referrer manifest {referrer}"),
            got: m.media_type,
        });
    }
    let r = Referrer::parse(&m.bytes)?;
    match r.subject.as_deref() {
        Some(s) if s == subject => {}
        Some(other) => {
            return Err(Error::malformed(
                "referrer",
                format!("its subject is {other}, not this image ({subject})"),
            ));
        }
        None => return Err(Error::malformed("referrer", "it has no subject")),
    }
    let layer = match r.layers.as_slice() {
        [one] => one,
        other => {
            return Err(Error::malformed(
                "referrer",
                format!("{} layers; a bundle referrer has one", other.len()),
            ));
        }
    };
    if !BUNDLE_READ_MEDIA_TYPES.contains(&layer.media_type.as_str()) {
        return Err(Error::MediaType {
            what: "bundle layer".into(),
            got: layer.media_type.clone(),
        });
    }
    if layer.size > MAX_BUNDLE_BYTES {
        return Err(Error::TooLarge {
            what: format!("bundle {}", layer.digest),
            limit: MAX_BUNDLE_BYTES,
        });
    }
    Bundle::parse(&store.get_blob(&layer.digest, MAX_BUNDLE_BYTES)?)
}

/// What checking one bundle referrer found: the key that verified it and the statement, or
/// why it was rejected (and the statement when it parsed).
pub(crate) struct Checked {
    pub(crate) key: std::result::Result<proofmark_types::Fingerprint, crate::verify::Rejection>,
    pub(crate) statement: Option<Statement>,
    pub(crate) bundle: Option<Bundle>,
}

/// Checks one referrer entry against the image digest, keys, predicate type and required
/// subject annotations.
pub(crate) fn check_referrer(
    store: &dyn ImageStore,
    referrer: &str,
    image_digest: &str,
    keys: &[(&PublicKey, SignatureAlgorithm)],
    predicate_type: &str,
    required: &BTreeMap<String, String>,
) -> Result<Checked> {
    use crate::verify::Rejection;
    let reject = |r: Rejection, statement, bundle| Ok(Checked { key: Err(r), statement, bundle });
    let bundle = match fetch_bundle(store, referrer, image_digest) {
        Ok(b) => b,
        Err(e) if e.is_transport() => return Err(e),
        Err(e) => return reject(Rejection::Bundle(e.to_string()), None, None),
    };
    let Content::Dsse(env) = &bundle.content else {
        return reject(
            Rejection::Bundle("a message signature, not a DSSE envelope".into()),
            None,
            Some(bundle),
        );
    };
    let key = match bundle.verifying_key(keys, None) {
        Ok(k) => k,
        Err(e) => return reject(Rejection::Bundle(e.to_string()), None, Some(bundle)),
    };
    let Some(key) = key else { return reject(Rejection::NoKeyMatches, None, Some(bundle)) };
    // Claims only once the signature holds.
    if env.payload_type != INTOTO_PAYLOAD_TYPE {
        return reject(
            Rejection::Bundle(format!(
                "payload type {:?}, not {INTOTO_PAYLOAD_TYPE}",
                env.payload_type
            )),
            None,
            Some(bundle),
        );
    }
    let statement = match env.payload_bytes().and_then(|p| Statement::parse(&p)) {
        Ok(s) => s,
        Err(e) => return reject(Rejection::MalformedPayload(e.to_string()), None, Some(bundle)),
    };
    if statement.predicate_type != predicate_type {
        let r = Rejection::WrongPredicateType(statement.predicate_type.clone());
        return reject(r, Some(statement), Some(bundle));
    }
    let Some(subject) = statement.subject_for(image_digest) else {
        let r = Rejection::WrongDigest(statement.subject_digests().join(", "));
        return reject(r, Some(statement), Some(bundle));
    };
    let missing = required.iter().find(|(k, v)| {
        subject.annotations.as_ref().and_then(|a| a.get(*k)).and_then(Value::as_str)
            != Some(v.as_str())
    });
    if let Some((k, _)) = missing {
        return reject(Rejection::MissingAnnotation(k.clone()), Some(statement), Some(bundle));
    }
    Ok(Checked {
        key: Ok(key.fingerprint_sha256()),
        statement: Some(statement),
        bundle: Some(bundle),
    })
}

/// Now as RFC 3339 UTC with seconds, as Go's `time.RFC3339` prints it.
fn rfc3339_now() -> String {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    proofmark_types::civil::rfc3339_utc(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predicate_types() {
        assert_eq!(
            predicate_type_for("slsaprovenance1").unwrap(),
            "https://slsa.dev/provenance/v1"
        );
        assert_eq!(predicate_type_for("spdxjson").unwrap(), "https://spdx.dev/Document");
        assert_eq!(predicate_type_for("custom").unwrap(), CUSTOM_PREDICATE);
        assert_eq!(predicate_type_for("https://x.dev/p/v1").unwrap(), "https://x.dev/p/v1");
        let err = predicate_type_for("slsa").unwrap_err().to_string();
        assert!(err.contains("use one of slsaprovenance"), "{err}");
    }
}
