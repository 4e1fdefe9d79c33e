//! Signing: payload, signature, and a safe append to the `sha256-<hex>.sig` manifest, one
//! manifest at a time or as a batch sharing one confirmation wait ([`sign_many`]).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use proofmark_types::{PublicKey, Signature, SignatureAlgorithm, Signer};

use crate::attestation::{BundleTarget, StatementSpec};
use crate::digest::{sha256_digest, signature_tag};
use crate::error::{Error, Result};
use crate::manifest::{
    OCI_MANIFEST, SignatureLayer, SignatureManifest, check_manifest_media_type, index_children,
    is_index, new_layer,
};
use crate::payload::payload_bytes;
use crate::referrers::ReferrersMode;
use crate::store::{ImageStore, Upload};

/// How much longer than our own read-to-`PUT` time we wait before the confirming read-back.
/// A racer that read the manifest just before our `PUT` landed writes within one of its own
/// rounds; racers do the same work as we do, so theirs take about as long as ours. The factor
/// tolerates a racer twice as slow as us. See
/// minutes/2026-11-28-cosign-append-confirmation.md.
const CONFIRM_FACTOR: u32 = 2;
/// The factor once others were seen writing the same tag: racers are known to exist, and on a
/// loaded machine their rounds vary fivefold (minutes/2026-12-03-cosign-watched-confirmation.md).
const CONTENDED_FACTOR: u32 = 4;
/// The floor then, in multiples of [`SignOptions::settle`].
const CONTENDED_FLOOR: u32 = 5;

/// How to sign.
#[derive(Debug, Clone)]
pub struct SignOptions {
    /// `-a key=value` annotations, written to the payload's `optional`.
    pub annotations: BTreeMap<String, String>,
    /// Also sign every manifest of an index.
    pub recursive: bool,
    /// Read-modify-write rounds before giving up when other signers race us.
    pub max_attempts: u32,
    /// The shortest wait between our `PUT` and the read-back that confirms our layer survived.
    /// The wait actually used is the longer of this and twice the measured read-to-`PUT` time
    /// (for a batch: after its last `PUT`, twice its fastest read-to-`PUT` time); once others
    /// are seen writing the same tag, five times this and four times that, and the tag is read
    /// again until it holds still.
    pub settle: Duration,
    /// How many manifests of a batch are read and written at the same time.
    pub parallelism: usize,
    /// Where and how signatures are written: cosign 3's Sigstore bundle referrer (the
    /// default) or the `.sig` tag.
    pub format: SignatureFormat,
    /// How bundle referrers are listed (referrers API or tag schema).
    pub referrers_mode: ReferrersMode,
}

impl SignOptions {
    /// The defaults, writing the `.sig` layout of cosign 1 and 2 (`--new-bundle-format=false`).
    pub fn legacy() -> Self {
        Self { format: SignatureFormat::Legacy, ..Self::default() }
    }
}

/// The two ways cosign stores an image signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SignatureFormat {
    /// cosign 3: a DSSE in-toto Statement in a Sigstore bundle, stored as an OCI 1.1
    /// referrer of the image (`--new-bundle-format`, the default).
    #[default]
    Bundle,
    /// cosign 1–2: a simple-signing payload, one layer of the `sha256-<hex>.sig` manifest
    /// (`--new-bundle-format=false`).
    Legacy,
}

impl SignatureFormat {
    /// `bundle` or `legacy`, for output.
    pub fn name(self) -> &'static str {
        match self {
            Self::Bundle => "bundle",
            Self::Legacy => "legacy",
        }
    }
}

impl Default for SignOptions {
    fn default() -> Self {
        Self {
            annotations: BTreeMap::new(),
            recursive: false,
            max_attempts: 12,
            settle: Duration::from_millis(10),
            parallelism: 8,
            format: SignatureFormat::default(),
            referrers_mode: ReferrersMode::default(),
        }
    }
}

/// What signing one manifest did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    /// Where the signature manifest is ([`ImageStore::describe`]).
    pub signatures: String,
    /// The digest that was signed.
    pub image_digest: String,
    /// The signature tag: `sha256-<hex>.sig`, or the referrers tag `sha256-<hex>` for a bundle.
    pub signature_tag: String,
    /// The exact payload bytes signed (the in-toto Statement for a bundle).
    pub payload: Vec<u8>,
    /// The base64 DER signature.
    pub signature_b64: String,
    /// False when the manifest already held a signature of the same payload by the same key
    /// (ECDSA signatures differ each time, so the signature bytes are not compared).
    pub added: bool,
    /// Read-modify-write rounds used.
    pub attempts: u32,
    /// The format written.
    pub format: SignatureFormat,
    /// The bundle's referrer manifest digest (bundle format).
    pub referrer: Option<String>,
    /// True when the registry's referrers API lists the bundle, so no `signature_tag` index was
    /// written (bundle format, `ReferrersMode::Oci11` on a registry that has the API).
    pub via_referrers_api: bool,
}

/// One image to sign with [`sign_many`].
#[derive(Debug, Clone, Copy)]
pub struct SignTarget<'a> {
    /// Where the image is.
    pub image: &'a dyn ImageStore,
    /// Its tag or digest in `image`.
    pub reference: &'a str,
    /// Where its signatures go (usually the same repository).
    pub signatures: &'a dyn ImageStore,
    /// The repository written into the payload (cosign: `registry/repository`, no tag).
    pub docker_reference: &'a str,
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
    sign_many(&[SignTarget { image, reference, signatures, docker_reference }], signer, opts)
}

/// Signs several images as one batch: resolves them, signs every payload, writes every
/// signature manifest (up to [`SignOptions::parallelism`] at once), then waits **once** for
/// the whole batch before reading the manifests back, and repeats only for the manifests whose
/// layer was lost to a concurrent writer.
///
/// Returns one [`Signed`] per distinct manifest, in order (a manifest named twice, or both
/// named and listed by a signed index, is signed once). Stops at the first error; manifests
/// written before it keep their signatures.
pub fn sign_many(
    targets: &[SignTarget<'_>],
    signer: &dyn Signer,
    opts: &SignOptions,
) -> Result<Vec<Signed>> {
    check_cosign_algorithm(signer.algorithm())?;
    if opts.format == SignatureFormat::Bundle {
        let resolved = parallel(targets, opts.parallelism, |t| resolve(t, opts.recursive));
        let resolved = resolved.into_iter().collect::<Result<Vec<_>>>()?;
        let mut seen = BTreeSet::new();
        let mut bundle_targets = Vec::new();
        for (target, digests) in targets.iter().zip(&resolved) {
            for digest in digests {
                if seen.insert((target.signatures.describe(), digest.clone())) {
                    bundle_targets.push(BundleTarget {
                        image: target.image,
                        signatures: target.signatures,
                        digest,
                    });
                }
            }
        }
        let spec = StatementSpec::cosign_sign();
        return crate::attestation::attach_all(&bundle_targets, &spec, signer, opts);
    }
    let resolved = parallel(targets, opts.parallelism, |t| resolve_opening_uploads(t, opts));
    let mut seen = BTreeSet::new();
    let mut pending = Vec::new();
    let mut error = None;
    for (target, (digests, mut uploads)) in targets.iter().zip(resolved) {
        let prepared = digests.and_then(|digests| {
            for digest in digests {
                if seen.insert((target.signatures.describe(), digest.clone())) {
                    let mut p =
                        prepare(target.signatures, &digest, target.docker_reference, signer, opts)?;
                    p.uploads = std::mem::take(&mut uploads);
                    pending.push(p);
                }
            }
            Ok(())
        });
        for upload in uploads {
            target.signatures.cancel_upload(upload);
        }
        if let Err(e) = prepared {
            error.get_or_insert(e);
        }
    }
    if let Some(e) = error {
        pending.iter_mut().for_each(Pending::cancel_uploads);
        return Err(e);
    }
    append_all(&mut pending, opts)?;
    Ok(pending.into_iter().map(Pending::into_signed).collect())
}

/// [`resolve`], with the upload sessions of the target's first signature (payload and config)
/// opened beside it: the `POST`s (on distribution each a synced write) leave the critical
/// path. Sessions the store would not open are left out; the uploads then open their own.
fn resolve_opening_uploads(
    t: &SignTarget<'_>,
    opts: &SignOptions,
) -> (Result<Vec<String>>, Vec<Upload>) {
    let store = t.signatures;
    std::thread::scope(|s| {
        let jobs: Vec<_> = (0..2).map(|_| s.spawn(|| store.open_upload())).collect();
        let digests = resolve(t, opts.recursive);
        let uploads = jobs
            .into_iter()
            .filter_map(|h| {
                h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)).ok().flatten()
            })
            .collect();
        (digests, uploads)
    })
}

/// The manifest digests to sign for one target.
fn resolve(t: &SignTarget<'_>, recursive: bool) -> Result<Vec<String>> {
    let manifest = t
        .image
        .get_manifest(t.reference)?
        .ok_or_else(|| Error::NotFound(format!("{}:{}", t.image.describe(), t.reference)))?;
    check_manifest_media_type("image manifest", &manifest.media_type)?;
    let mut digests = vec![manifest.digest.clone()];
    if recursive && is_index(&manifest.media_type) {
        for child in index_children(&manifest.bytes)? {
            check_manifest_media_type("index entry", &child.media_type)?;
            digests.push(child.digest);
        }
    }
    Ok(digests)
}

/// Signs `image_digest` (already resolved) and appends the signature; in the bundle format
/// the image manifest is read from `signatures`.
pub fn sign_digest(
    signatures: &dyn ImageStore,
    image_digest: &str,
    docker_reference: &str,
    signer: &dyn Signer,
    opts: &SignOptions,
) -> Result<Signed> {
    check_cosign_algorithm(signer.algorithm())?;
    if opts.format == SignatureFormat::Bundle {
        // The referrer names the image manifest, which must be in the signatures store too.
        let target = BundleTarget { image: signatures, signatures, digest: image_digest };
        let spec = StatementSpec::cosign_sign();
        let mut signed = crate::attestation::attach_all(&[target], &spec, signer, opts)?;
        return signed.pop().ok_or_else(|| Error::NotFound(image_digest.to_owned()));
    }
    let mut pending = [prepare(signatures, image_digest, docker_reference, signer, opts)?];
    append_all(&mut pending, opts)?;
    let [one] = pending;
    Ok(one.into_signed())
}

/// A signature layer on its way into one signature manifest.
struct Pending<'a> {
    store: &'a dyn ImageStore,
    image_digest: String,
    tag: String,
    payload: Vec<u8>,
    signature_b64: String,
    layer: SignatureLayer,
    /// The signer's key: a layer with our payload that this key verifies is as good as ours.
    key: Option<(PublicKey, SignatureAlgorithm)>,
    payload_stored: bool,
    attempts: u32,
    /// Whether one of our rounds reached its `PUT`.
    put_once: bool,
    /// `Some(added)` once confirmed.
    done: Option<bool>,
    /// Written this round, waiting for the read-back: when the `PUT` completed, and the time
    /// from our last read to then.
    written: Option<(Instant, Duration)>,
    /// What we know of others writing this tag, for the read-backs.
    watch: TagWatch,
    /// The digest of the config blob uploaded this round, before the manifest was read.
    config_stored: Option<String>,
    /// Upload sessions opened for this signature's blobs ahead of time.
    uploads: Vec<Upload>,
}

impl Pending<'_> {
    fn into_signed(mut self) -> Signed {
        self.cancel_uploads();
        Signed {
            signatures: self.store.describe(),
            image_digest: self.image_digest,
            signature_tag: self.tag,
            payload: self.payload,
            signature_b64: self.signature_b64,
            added: self.done.unwrap_or(false),
            attempts: self.attempts,
            format: SignatureFormat::Legacy,
            referrer: None,
            via_referrers_api: false,
        }
    }

    /// A read-back found our layer in the tag, whose digest is now `digest`: confirmed, or
    /// another look a wait from now ([`TagWatch::holds_still`]).
    fn settle(&mut self, digest: Option<String>, window: Duration) {
        if self.watch.holds_still(digest) {
            self.done = Some(true);
        } else {
            self.written = Some((Instant::now(), window));
        }
    }

    /// Gives back the upload sessions this signature did not use.
    fn cancel_uploads(&mut self) {
        for upload in self.uploads.drain(..) {
            self.store.cancel_upload(upload);
        }
    }

    /// Whether `m` already holds our signature: our layer, or another signature of the same
    /// payload that our key verifies (re-signing with a TPM's ECDSA key gives new bytes each
    /// time, and must not append another layer on every run).
    fn contained_in(&self, m: &SignatureManifest) -> bool {
        let ours = self.layer.descriptor.digest.as_str();
        let same_payload = || m.layers.iter().filter(|l| l.descriptor.digest == ours);
        // Our own layer first (the common case on read-back), then a signature verification
        // for each other signature of the same payload.
        same_payload().any(|l| l.signature_b64() == self.layer.signature_b64())
            || same_payload().any(|l| self.key_signed(l))
    }

    /// Whether our key verifies `layer`'s signature over our payload (the caller checked that
    /// the layer's payload digest is ours, so the payload bytes are ours too).
    fn key_signed(&self, layer: &SignatureLayer) -> bool {
        let Some((key, algorithm)) = &self.key else { return false };
        let Some(sig) = layer.signature_b64().and_then(|b| STANDARD.decode(b.trim()).ok()) else {
            return false;
        };
        Signature::new(*algorithm, &sig).is_ok_and(|sig| {
            proofmark_types::verify_message(key, *algorithm, &self.payload, &sig).is_ok()
        })
    }
}

fn prepare<'a>(
    store: &'a dyn ImageStore,
    image_digest: &str,
    docker_reference: &str,
    signer: &dyn Signer,
    opts: &SignOptions,
) -> Result<Pending<'a>> {
    let tag = signature_tag(image_digest)?;
    let payload = payload_bytes(docker_reference, image_digest, &opts.annotations);
    let signature = signer.sign(&payload)?;
    let signature_b64 = STANDARD.encode(signature.as_bytes());
    let layer = new_layer(&payload, &signature_b64, &BTreeMap::new());
    Ok(Pending {
        store,
        image_digest: image_digest.to_owned(),
        tag,
        payload,
        signature_b64,
        layer,
        key: Some((signer.public_key().clone(), signer.algorithm())),
        payload_stored: false,
        attempts: 0,
        put_once: false,
        done: None,
        written: None,
        watch: TagWatch::default(),
        config_stored: None,
        uploads: Vec::new(),
    })
}

/// A signature manifest's digest (`None` when there is none) and its content.
type ManifestRead = (Option<String>, SignatureManifest);

/// The signature manifest at `tag` (empty when there is none) and its digest.
fn read_signature_manifest(store: &dyn ImageStore, tag: &str) -> Result<ManifestRead> {
    match store.get_manifest(tag)? {
        None => Ok((None, SignatureManifest::default())),
        Some(m) => {
            if m.media_type != OCI_MANIFEST && m.media_type != crate::manifest::DOCKER_MANIFEST {
                return Err(Error::MediaType {
                    what: format!("signature manifest {tag}"),
                    got: m.media_type,
                });
            }
            Ok((Some(m.digest), SignatureManifest::parse(&m.bytes)?))
        }
    }
}

/// Appends `layer` to the manifest at `tag`, keeping every existing layer descriptor verbatim;
/// the single-manifest form of what [`sign_many`] does. Returns `(added, attempts)`.
///
/// Registries offer no compare-and-swap, so a concurrent writer can replace the manifest with
/// one lacking our layer. After the `PUT` we wait (see [`SignOptions::settle`]), read back,
/// and start over (with backoff) if our layer is gone. This narrows the lost-update window to
/// a writer stalled for longer than the wait; it cannot close it.
pub fn append_layer(
    store: &dyn ImageStore,
    tag: &str,
    payload: &[u8],
    layer: &SignatureLayer,
    opts: &SignOptions,
) -> Result<(bool, u32)> {
    let mut pending = [Pending {
        store,
        image_digest: String::new(),
        tag: tag.to_owned(),
        payload: payload.to_vec(),
        signature_b64: String::new(),
        layer: layer.clone(),
        key: None,
        payload_stored: false,
        attempts: 0,
        put_once: false,
        done: None,
        written: None,
        watch: TagWatch::default(),
        config_stored: None,
        uploads: Vec::new(),
    }];
    append_all(&mut pending, opts)?;
    Ok((pending[0].done.unwrap_or(false), pending[0].attempts))
}

/// The batch loop: write every unfinished manifest, wait once, read every one back.
fn append_all(items: &mut [Pending<'_>], opts: &SignOptions) -> Result<()> {
    let max_attempts = opts.max_attempts.max(1);
    for attempt in 1..=max_attempts {
        let last = attempt == max_attempts;
        let writes = parallel_mut(items, opts.parallelism, |p| {
            if p.done.is_some() {
                return Ok(());
            }
            p.attempts = attempt;
            p.watch.contended |= attempt > 1;
            match write_round(p) {
                Err(e) if is_transient(&e) && !last => {
                    // Registries answer 5xx when concurrent writers touch the same tag
                    // (distribution's filesystem driver reads half-written tag links): a lost
                    // round, not a failure.
                    p.payload_stored = false;
                    Ok(())
                }
                other => other,
            }
        });
        writes.into_iter().collect::<Result<()>>()?;

        // One sleep until the batch's read-back is due covers all its manifests (`confirm_at`);
        // a read-back that finds a tag rewritten by others asks for another look
        // (`Pending::settle`).
        while let Some(confirm_at) = confirm_at(items, opts) {
            std::thread::sleep(confirm_at.saturating_duration_since(Instant::now()));
            let reads = parallel_mut(items, opts.parallelism, |p| {
                let Some((_, window)) = p.written.take() else { return Ok(()) };
                match read_signature_manifest(p.store, &p.tag) {
                    Ok((digest, m)) if p.contained_in(&m) => p.settle(digest, window),
                    Ok(_) => {}
                    Err(e) if is_transient(&e) && !last => {}
                    Err(e) => return Err(e),
                }
                Ok(())
            });
            reads.into_iter().collect::<Result<()>>()?;
        }
        if items.iter().all(|p| p.done.is_some()) {
            return Ok(());
        }
        std::thread::sleep(backoff(attempt));
    }
    match items.iter().find(|p| p.done.is_none()) {
        Some(p) => Err(Error::Contended { tag: p.tag.clone(), attempts: max_attempts }),
        None => Ok(()),
    }
}

/// The wait before a read-back, for a write whose read-to-`PUT` time was `delta`.
fn wait_for(delta: Duration, contended: bool, opts: &SignOptions) -> Duration {
    if contended {
        (opts.settle * CONTENDED_FLOOR).max(delta * CONTENDED_FACTOR)
    } else {
        opts.settle.max(delta * CONFIRM_FACTOR)
    }
}

/// When the batch's next read-back is due.
///
/// A write that others were seen racing is read back `wait_for(δ, true)` after its own `PUT`.
/// The others share one instant: the batch's last `PUT`, plus the wait for the shortest δ
/// among them. A batch writes its manifests at once and the registry's writes queue behind
/// each other (distribution syncs each to disk), so the k-th measured δ holds up to k − 1 of
/// our own writes. A racer's `PUT` queues behind those too, but only until our last `PUT` has
/// landed; after that it needs one round of its own, which our fastest round measures best.
fn confirm_at(items: &[Pending<'_>], opts: &SignOptions) -> Option<Instant> {
    let written: Vec<_> =
        items.iter().filter_map(|p| Some((p.written?, p.watch.contended))).collect();
    read_back_at(&written, opts)
}

/// [`confirm_at`] over `((put_at, δ), contended)` of each write waiting for its read-back.
fn read_back_at(written: &[((Instant, Duration), bool)], opts: &SignOptions) -> Option<Instant> {
    let calm = || written.iter().filter(|(_, contended)| !contended).map(|(w, _)| *w);
    let last_calm = calm().map(|(at, _)| at).max();
    let fastest_calm = calm().map(|(_, delta)| delta).min();
    let calm = last_calm.zip(fastest_calm).map(|(at, delta)| at + wait_for(delta, false, opts));
    let raced = written
        .iter()
        .filter(|(_, contended)| *contended)
        .map(|((at, delta), _)| *at + wait_for(*delta, true, opts))
        .max();
    calm.max(raced)
}

/// One read-modify-write round: read the manifest, add our layer, and `PUT` it; when the
/// manifest needs a config other than the one uploaded (it holds other layers), upload that,
/// read again, and `PUT` only if the manifest did not change meanwhile (else rebuild from the
/// newer one, a few times).
///
/// Only a read and the `PUT` sit between the read the manifest is built from and the write,
/// never an upload: that keeps the window in which a concurrent writer can overwrite us short,
/// and the wait after the `PUT` is sized from it.
fn write_round(p: &mut Pending<'_>) -> Result<()> {
    if !p.payload_stored {
        upload_first(p)?;
    }
    let mut started = Instant::now();
    let (mut digest, mut manifest) = read_signature_manifest(p.store, &p.tag)?;
    for _ in 0..REREADS {
        if p.contained_in(&manifest) {
            // Already there: an identical earlier signature, or ours from a round whose
            // read-back failed and which another writer has since carried over.
            p.done = Some(p.put_once);
            return Ok(());
        }
        manifest.layers.push(p.layer.clone());
        let (bytes, config) = manifest.to_bytes();
        let config_digest = sha256_digest(&config);
        if p.config_stored.as_ref() != Some(&config_digest) {
            upload_blobs(p, &config)?;
            p.config_stored = Some(config_digest);
            started = Instant::now();
            let (now, latest) = read_signature_manifest(p.store, &p.tag)?;
            if now != digest {
                // Someone wrote in between: start from what they wrote.
                (digest, manifest) = (now, latest);
                p.watch.contended = true;
                continue;
            }
        }
        p.watch.wrote(p.store.put_manifest(&p.tag, OCI_MANIFEST, &bytes)?);
        p.put_once = true;
        p.written = Some((Instant::now(), started.elapsed()));
        return Ok(());
    }
    // Still changing: count it as a lost round; the caller backs off and retries.
    Ok(())
}

/// A signature's uploads before its manifest is read: the payload, and the config of a
/// manifest holding only our layer (what a first signature writes, the common case: CI signs
/// what it just pushed; a manifest already holding only our signature has it too). When the
/// manifest turns out to hold other layers, that config blob is left unreferenced (a few
/// hundred bytes, for the registry's garbage collection) and the right one is uploaded.
fn upload_first(p: &mut Pending<'_>) -> Result<()> {
    let guess = SignatureManifest { layers: vec![p.layer.clone()], annotations_raw: None };
    let (_, config) = guess.to_bytes();
    upload_blobs(p, &config)?;
    p.config_stored = Some(sha256_digest(&config));
    Ok(())
}

/// How many more read-backs a signature takes, at most, while others keep rewriting its tag.
const WATCHES: u32 = 8;

/// The confirming read-backs of one tag we wrote (a `.sig` manifest or a referrers index).
#[derive(Debug, Default)]
pub(crate) struct TagWatch {
    /// The digest the tag held when we last looked: what we wrote, then each read-back.
    seen: Option<String>,
    /// Read-backs since our write that found the tag rewritten by others.
    looks: u32,
    /// Whether we have seen others write this tag while we did (a lost round, a manifest
    /// changed under us, a read-back finding the tag rewritten): our waits grow.
    pub(crate) contended: bool,
}

impl TagWatch {
    /// We wrote the tag; it now holds `digest`.
    pub(crate) fn wrote(&mut self, digest: String) {
        self.seen = Some(digest);
        self.looks = 0;
    }

    /// A read-back found our entry in the tag, which now holds `digest`. True (confirmed)
    /// when nobody wrote the tag since our last look. Otherwise others are writing it, and
    /// one that read it before our `PUT` may land after this read-back: false, look again a
    /// wait later, until the tag holds still (at most [`WATCHES`] more looks).
    pub(crate) fn holds_still(&mut self, digest: Option<String>) -> bool {
        if digest == self.seen || self.looks >= WATCHES {
            return true;
        }
        self.seen = digest;
        self.looks += 1;
        self.contended = true;
        false
    }

    /// The wait before the next read-back, for a write whose read-to-`PUT` time was `delta`.
    pub(crate) fn wait(&self, delta: Duration, opts: &SignOptions) -> Duration {
        wait_for(delta, self.contended, opts)
    }
}

/// How often one round re-reads a manifest that keeps changing before it backs off.
const REREADS: usize = 3;

/// Uploads the payload (once per signature) and this manifest's config, side by side.
fn upload_blobs(p: &mut Pending<'_>, config: &[u8]) -> Result<()> {
    let payload_upload = if p.payload_stored { None } else { p.uploads.pop() };
    let config_upload = p.uploads.pop();
    let (store, payload) = (p.store, &p.payload);
    let (payload_result, config_result) = std::thread::scope(|s| {
        let payload_job =
            (!p.payload_stored).then(|| s.spawn(|| store.put_blob_via(payload_upload, payload)));
        let config_result = store.put_blob_via(config_upload, config);
        let payload_result =
            payload_job.map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)));
        (payload_result, config_result)
    });
    if let Some(result) = payload_result {
        let expected = sha256_digest(&p.payload);
        let d = result?;
        if d != expected {
            return Err(Error::DigestMismatch { what: "payload blob".into(), expected, actual: d });
        }
        p.payload_stored = true;
    }
    config_result.map(|_| ())
}

/// Runs `f` on every item, at most `threads` at once; results in item order.
pub(crate) fn parallel<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    if items.len() <= 1 || threads <= 1 {
        return items.iter().map(f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> =
            items.chunks(chunk).map(|c| s.spawn(|| c.iter().map(&f).collect::<Vec<_>>())).collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

/// [`parallel`] over mutable items.
fn parallel_mut<T: Send, R: Send>(
    items: &mut [T],
    threads: usize,
    f: impl Fn(&mut T) -> R + Sync,
) -> Vec<R> {
    if items.len() <= 1 || threads <= 1 {
        return items.iter_mut().map(f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = items
            .chunks_mut(chunk)
            .map(|c| s.spawn(|| c.iter_mut().map(&f).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

pub(crate) fn is_transient(e: &Error) -> bool {
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

pub(crate) fn backoff(attempt: u32) -> Duration {
    let base = 10u64 << attempt.min(6);
    let mut r = [0u8; 2];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut r);
    Duration::from_millis(base + u64::from(u16::from_le_bytes(r)) % base)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// When a batch reads back, in ms after `t`, for writes `(put_at, δ, contended)` in ms.
    fn read_back(writes: &[(u64, u64, bool)]) -> Option<u64> {
        let t = Instant::now();
        let ms = Duration::from_millis;
        let written: Vec<_> =
            writes.iter().map(|&(at, delta, c)| ((t + ms(at), ms(delta)), c)).collect();
        read_back_at(&written, &SignOptions::default())
            .map(|i| u64::try_from((i - t).as_millis()).unwrap_or(u64::MAX))
    }

    #[test]
    fn read_back_instants() {
        // Nothing written: no read-back.
        assert_eq!(read_back(&[]), None);
        // One write: twice its read-to-`PUT` time after it, at least the 10 ms floor.
        assert_eq!(read_back(&[(0, 8, false)]), Some(16));
        assert_eq!(read_back(&[(0, 3, false)]), Some(10));
        // A batch: after its last `PUT`, twice its fastest round (the slower ones queued
        // behind our own writes).
        assert_eq!(read_back(&[(0, 5, false), (3, 20, false), (6, 12, false)]), Some(16));
        // A write others were seen racing: four times its round, at least 50 ms, after its
        // own `PUT`; the calm ones of the batch keep theirs.
        assert_eq!(read_back(&[(0, 5, false), (2, 30, true)]), Some(122));
        assert_eq!(read_back(&[(0, 5, false), (2, 4, true)]), Some(52));
        assert_eq!(read_back(&[(100, 5, false), (2, 4, true)]), Some(110));
    }
}
