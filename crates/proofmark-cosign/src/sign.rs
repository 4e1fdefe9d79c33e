//! Signing: payload, signature, and a safe append to the `sha256-<hex>.sig` manifest.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use proofmark_types::{SignatureAlgorithm, Signer};

use crate::digest::{sha256_digest, signature_tag};
use crate::error::{Error, Result};
use crate::manifest::{
    OCI_MANIFEST, SignatureLayer, SignatureManifest, check_manifest_media_type, index_children,
    is_index, new_layer,
};
use crate::payload::payload_bytes;
use crate::store::ImageStore;

/// How to sign.
#[derive(Debug, Clone)]
pub struct SignOptions {
    /// `-a key=value` annotations, written to the payload's `optional`.
    pub annotations: BTreeMap<String, String>,
    /// Also sign every manifest of an index.
    pub recursive: bool,
    /// Read-modify-write rounds before giving up when other signers race us.
    pub max_attempts: u32,
    /// How long to wait before the second read-back that confirms our layer survived.
    pub settle: Duration,
}

impl Default for SignOptions {
    fn default() -> Self {
        Self {
            annotations: BTreeMap::new(),
            recursive: false,
            max_attempts: 12,
            settle: Duration::from_millis(200),
        }
    }
}

/// What signing one manifest did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    /// The digest that was signed.
    pub image_digest: String,
    /// The signature tag (`sha256-<hex>.sig`).
    pub signature_tag: String,
    /// The exact payload bytes signed.
    pub payload: Vec<u8>,
    /// The base64 DER signature.
    pub signature_b64: String,
    /// False when an identical payload and signature was already there.
    pub added: bool,
    /// Read-modify-write rounds used.
    pub attempts: u32,
}

/// The algorithms cosign verifies with a bare public key (it hashes with SHA-256 and uses
/// PKCS#1 v1.5 for RSA keys).
pub fn check_cosign_algorithm(algorithm: SignatureAlgorithm) -> Result<()> {
    match algorithm {
        SignatureAlgorithm::EcdsaP256Sha256
        | SignatureAlgorithm::RsaPkcs1v15_2048Sha256
        | SignatureAlgorithm::RsaPkcs1v15_3072Sha256 => Ok(()),
        other => Err(Error::UnsupportedAlgorithm(other)),
    }
}

/// Resolves `reference` (tag or digest) in `image` and signs it; with
/// [`SignOptions::recursive`], also every manifest an index lists. `docker_reference` is the
/// repository written into the payload (cosign: `registry/repository`, no tag).
pub fn sign_image(
    image: &dyn ImageStore,
    reference: &str,
    signatures: &dyn ImageStore,
    docker_reference: &str,
    signer: &dyn Signer,
    opts: &SignOptions,
) -> Result<Vec<Signed>> {
    check_cosign_algorithm(signer.algorithm())?;
    let manifest = image
        .get_manifest(reference)?
        .ok_or_else(|| Error::NotFound(format!("{}:{reference}", image.describe())))?;
    check_manifest_media_type("image manifest", &manifest.media_type)?;
    let mut digests = vec![manifest.digest.clone()];
    if opts.recursive && is_index(&manifest.media_type) {
        for child in index_children(&manifest.bytes)? {
            check_manifest_media_type("index entry", &child.media_type)?;
            digests.push(child.digest);
        }
    }
    digests.iter().map(|d| sign_digest(signatures, d, docker_reference, signer, opts)).collect()
}

/// Signs `image_digest` (already resolved) and appends the signature.
pub fn sign_digest(
    signatures: &dyn ImageStore,
    image_digest: &str,
    docker_reference: &str,
    signer: &dyn Signer,
    opts: &SignOptions,
) -> Result<Signed> {
    check_cosign_algorithm(signer.algorithm())?;
    let tag = signature_tag(image_digest)?;
    let payload = payload_bytes(docker_reference, image_digest, &opts.annotations);
    let signature = signer.sign(&payload)?;
    let signature_b64 = STANDARD.encode(signature.as_bytes());
    let layer = new_layer(&payload, &signature_b64, &BTreeMap::new());
    let (added, attempts) = append_layer(signatures, &tag, &payload, &layer, opts)?;
    Ok(Signed {
        image_digest: image_digest.to_owned(),
        signature_tag: tag,
        payload,
        signature_b64,
        added,
        attempts,
    })
}

fn same_signature(a: &SignatureLayer, b: &SignatureLayer) -> bool {
    a.descriptor.digest == b.descriptor.digest && a.signature_b64() == b.signature_b64()
}

fn read_signature_manifest(store: &dyn ImageStore, tag: &str) -> Result<SignatureManifest> {
    match store.get_manifest(tag)? {
        None => Ok(SignatureManifest::default()),
        Some(m) => {
            if m.media_type != OCI_MANIFEST && m.media_type != crate::manifest::DOCKER_MANIFEST {
                return Err(Error::MediaType {
                    what: format!("signature manifest {tag}"),
                    got: m.media_type,
                });
            }
            SignatureManifest::parse(&m.bytes)
        }
    }
}

/// Appends `layer` to the manifest at `tag`, keeping every existing layer descriptor verbatim.
///
/// Registries offer no compare-and-swap, so a concurrent writer can replace the manifest with
/// one lacking our layer. We read back right after the `PUT` and twice more, each after
/// [`SignOptions::settle`] or three times our own round's duration (whichever is longer), and
/// start over (with backoff) if our layer is gone. This narrows the lost-update window to a
/// writer stalled for longer than that; it cannot close it. Returns `(added, attempts)`.
pub fn append_layer(
    store: &dyn ImageStore,
    tag: &str,
    payload: &[u8],
    layer: &SignatureLayer,
    opts: &SignOptions,
) -> Result<(bool, u32)> {
    let contains = |m: &SignatureManifest| m.layers.iter().any(|l| same_signature(l, layer));
    let expected_payload = sha256_digest(payload);
    let mut payload_stored = false;
    let attempts = opts.max_attempts.max(1);
    for attempt in 1..=attempts {
        let round = || -> Result<Option<bool>> {
            let started = std::time::Instant::now();
            let mut manifest = read_signature_manifest(store, tag)?;
            if contains(&manifest) {
                return Ok(Some(attempt > 1));
            }
            if !payload_stored {
                let d = store.put_blob(payload)?;
                if d != expected_payload {
                    return Err(Error::DigestMismatch {
                        what: "payload blob".into(),
                        expected: expected_payload.clone(),
                        actual: d,
                    });
                }
            }
            manifest.layers.push(layer.clone());
            let (bytes, config) = manifest.to_bytes();
            store.put_blob(&config)?;
            store.put_manifest(tag, OCI_MANIFEST, &bytes)?;
            // A writer that read before our PUT overwrites it at most one read-modify-write
            // round later; rounds take about as long as ours did. Wait out a few of them.
            let settle = opts.settle.max(started.elapsed() * 3);
            for _ in 0..2 {
                if !contains(&read_signature_manifest(store, tag)?) {
                    return Ok(None);
                }
                std::thread::sleep(settle);
            }
            Ok(contains(&read_signature_manifest(store, tag)?).then_some(true))
        };
        match round() {
            Ok(Some(added)) => return Ok((added, attempt)),
            Ok(None) => payload_stored = true,
            // Registries answer 5xx when concurrent writers touch the same tag (distribution's
            // filesystem driver reads half-written tag links): a lost round, not a failure.
            Err(e) if is_transient(&e) && attempt < attempts => payload_stored = false,
            Err(e) => return Err(e),
        }
        std::thread::sleep(backoff(attempt));
    }
    Err(Error::Contended { tag: tag.to_owned(), attempts })
}

fn is_transient(e: &Error) -> bool {
    // Distribution's filesystem driver writes repository links non-atomically: under concurrent
    // writes a manifest PUT can briefly see a just-linked blob as unknown.
    // A dropped connection mid-round is retried too: every step of a round can be repeated.
    match e {
        Error::Http { status, body, .. } => {
            *status >= 500
                || *status == 429
                || (*status == 400 && body.contains("MANIFEST_BLOB_UNKNOWN"))
        }
        Error::Transport { .. } => true,
        _ => false,
    }
}

fn backoff(attempt: u32) -> Duration {
    let base = 10u64 << attempt.min(6);
    let mut r = [0u8; 2];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut r);
    Duration::from_millis(base + u64::from(u16::from_le_bytes(r)) % base)
}
