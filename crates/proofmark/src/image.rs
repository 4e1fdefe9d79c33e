//! `proofmark sign`, `verify`, `generate-key-pair` and `policy`: cosign-compatible container
//! image signatures (see docs/cosign.md).

use std::collections::BTreeMap;
use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use base64::Engine as _;
use proofmark_cosign::{
    DockerConfig, IdentityMode, ImageRef, ImageStore, OciLayout, RegistryClient, RegistryOptions,
    SignOptions, SignTarget, VerifyOptions,
};
use proofmark_types::{Fingerprint, KeyRef, PublicKey, Signer};
use zeroize::Zeroizing;

/// Where the password of cosign key files comes from.
const PASSWORD_ENV: &str = "COSIGN_PASSWORD";

/// Registry access, shared by `sign` and `verify`.
#[derive(clap::Args, Debug)]
pub(crate) struct RegistryArgs {
    /// Talk plain HTTP to this `HOST:PORT` (repeatable). Everything else uses HTTPS.
    #[arg(long, value_name = "HOST:PORT")]
    allow_insecure: Vec<String>,
    /// cosign's flag: talk plain HTTP to the image's own registry, as `--allow-insecure
    /// HOST:PORT` with that registry (certificates are still checked; see `--ca-bundle`).
    #[arg(
        long,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        default_value_t = false,
        action = clap::ArgAction::Set,
        value_name = "BOOL"
    )]
    allow_insecure_registry: bool,
    /// Trust these PEM CA certificates instead of the system roots.
    #[arg(long, value_name = "PEM")]
    ca_bundle: Option<PathBuf>,
    /// Store / look for signatures in this repository (`registry/repo`) instead of the image's.
    /// Defaults to `COSIGN_REPOSITORY` when that is set, as in cosign.
    #[arg(long, value_name = "REPOSITORY")]
    signature_repository: Option<String>,
}

#[derive(clap::Args, Debug)]
pub(crate) struct SignArgs {
    /// The signing key: `file:PATH` (PKCS#8 or a cosign `cosign.key`, whose password is read
    /// from `COSIGN_PASSWORD`, else asked on the terminal), `tpm:PATH`, `tpm:0x81xxxxxx`.
    #[arg(long)]
    key: KeyRef,
    /// TPM keys with a user-chosen auth value: the environment variable that holds it.
    #[arg(long)]
    auth_env: Option<String>,
    /// Annotation `KEY=VALUE` written into the payload (repeatable), as `cosign sign -a`.
    #[arg(short = 'a', long = "annotation", value_name = "KEY=VALUE", value_parser = parse_kv)]
    annotations: Vec<(String, String)>,
    /// For an index, also sign every platform manifest.
    #[arg(long)]
    recursive: bool,
    /// `true` (the default, as cosign 3): a Sigstore bundle stored as an OCI 1.1 referrer;
    /// `false`: the `sha256-<hex>.sig` layout of cosign 1 and 2.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    new_bundle_format: bool,
    /// How bundle referrers are listed: `oci-1-1` (the registry's referrers API when it has
    /// one, else the `sha256-<hex>` tag schema index) or `legacy` (always the tag index).
    #[arg(long, value_enum, default_value_t = ReferrersModeArg::Oci11)]
    registry_referrers_mode: ReferrersModeArg,
    /// The repository written into the payload (`registry/repo`). Defaults to the image's
    /// repository; required for `oci:` layouts.
    #[arg(long, value_name = "REPOSITORY")]
    docker_reference: Option<String>,
    /// `human` (one line per manifest on standard error) or `json` (an array on standard
    /// output: what was signed, where, and whether it was already signed by this key).
    #[arg(long, value_enum, default_value_t = crate::Format::Human)]
    output: crate::Format,
    /// cosign's `--upload`: `false` signs without pushing anything (write the result with
    /// `--output-signature` / `--output-payload`). `.sig` layout only.
    #[arg(
        long,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        default_value_t = true,
        action = clap::ArgAction::Set,
        value_name = "BOOL"
    )]
    upload: bool,
    /// Write the signature, base64 as in the `.sig` layer, to FILE (cosign's flag; `.sig`
    /// layout, one image).
    #[arg(long, value_name = "FILE")]
    output_signature: Option<PathBuf>,
    /// Write the signed simple-signing payload to FILE (cosign's flag; `.sig` layout, one
    /// image).
    #[arg(long, value_name = "FILE")]
    output_payload: Option<PathBuf>,
    #[command(flatten)]
    registry: RegistryArgs,
    /// The images: `registry/repo[:tag][@sha256:…]` or `oci:PATH[:TAG|@sha256:…]` (one or
    /// more, signed as one batch).
    #[arg(required = true, value_name = "IMAGE")]
    images: Vec<String>,
}

/// `--registry-referrers-mode`, cosign's values.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReferrersModeArg {
    /// The referrers API when the registry has it, else the tag schema.
    #[value(name = "oci-1-1")]
    Oci11,
    /// The tag schema index only.
    Legacy,
}

impl From<ReferrersModeArg> for proofmark_cosign::ReferrersMode {
    fn from(m: ReferrersModeArg) -> Self {
        match m {
            ReferrersModeArg::Oci11 => Self::Oci11,
            ReferrersModeArg::Legacy => Self::Legacy,
        }
    }
}

/// How `--identity` checks the payload's `docker-reference`.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IdentityArg {
    /// It must name the image's repository (or `--docker-reference`).
    Repository,
    /// It must equal `--docker-reference` exactly.
    Exact,
    /// Not checked (as `cosign verify`).
    Ignore,
}

#[derive(clap::Args, Debug)]
pub(crate) struct VerifyArgs {
    /// A trusted key (repeatable): a public key file (PEM), or any key reference `sign` takes
    /// (`file:PATH`, `tpm:PATH`, `tpm:0x81xxxxxx`, `parsec://NAME`), whose public key is used.
    #[arg(long, required = true)]
    key: Vec<KeyRef>,
    /// How many distinct keys must have signed.
    #[arg(long, default_value_t = 1)]
    threshold: usize,
    /// Accept only keys with these SHA-256 fingerprints of the DER public key: `sha256:<hex>`
    /// or the bare 64 hex digits `sha256sum` prints (repeatable).
    #[arg(long, value_name = "FINGERPRINT", value_parser = parse_pin)]
    pin: Vec<String>,
    /// The `docker-reference` check.
    #[arg(long, value_enum, default_value_t = IdentityArg::Repository)]
    identity: IdentityArg,
    /// The repository (or, with `--identity exact`, the reference) to expect; defaults to the
    /// image's repository. Required for `oci:` layouts unless `--identity ignore`.
    #[arg(long, value_name = "REFERENCE")]
    docker_reference: Option<String>,
    /// Annotation `KEY=VALUE` every accepted payload must carry (repeatable).
    #[arg(short = 'a', long = "annotation", value_name = "KEY=VALUE", value_parser = parse_kv)]
    annotations: Vec<(String, String)>,
    /// `human` (a summary) or `json` (cosign's array of verified payloads).
    #[arg(long, value_enum, default_value_t = crate::Format::Human)]
    output: crate::Format,
    #[command(flatten)]
    registry: RegistryArgs,
    #[command(flatten)]
    tpm_attestation: TpmAttestationArgs,
    /// `registry/repo[:tag][@sha256:…]` or `oci:PATH[:TAG|@sha256:…]`.
    image: String,
}

/// `verify --require-tpm-attestation`: see docs/tpm.md, "Attestations on images".
#[derive(clap::Args, Debug)]
pub(crate) struct TpmAttestationArgs {
    /// Count a signing key only if a TPM key attestation it signed for this image shows it
    /// never left a TPM whose attestation key is one of --ak.
    #[arg(long, requires = "ak")]
    pub(crate) require_tpm_attestation: bool,
    /// An attestation key (PEM) the verifier trusts, bound to a TPM's EK earlier with
    /// `key verify-attestation --ek-ca` (repeatable).
    #[arg(long, value_name = "PEM", requires = "require_tpm_attestation")]
    pub(crate) ak: Vec<PathBuf>,
    /// Also require the attestation's EK certificate to chain to these CA certificates (PEM).
    #[arg(long, value_name = "PEM", requires = "require_tpm_attestation")]
    pub(crate) ek_ca: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub(crate) struct GenerateKeyPairArgs {
    /// Writes `PREFIX.key` and `PREFIX.pub`.
    #[arg(long, default_value = "cosign")]
    output_key_prefix: String,
    /// Replace existing files.
    #[arg(long)]
    force: bool,
}

#[derive(clap::Args, Debug)]
pub(crate) struct PolicyArgs {
    /// The public key (PEM), or any key reference `sign` takes, whose public key is used.
    #[arg(long)]
    key: KeyRef,
    /// The containers-policy.json scope: `registry`, `registry/namespace` or a repository.
    #[arg(long)]
    scope: String,
    /// Print the registries.d snippet instead of policy.json.
    #[arg(long)]
    registries_d: bool,
}

/// A `--pin`: `sha256:<64 hex>` or the bare hex, as `sha256:<lowercase hex>`.
fn parse_pin(s: &str) -> Result<String, String> {
    let trimmed = s.trim();
    let hex = trimmed.strip_prefix("sha256:").unwrap_or(trimmed);
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!(
            "{s:?} is not a SHA-256 fingerprint: expected 64 hex digits, with or without \
             sha256: (openssl pkey -pubin -in KEY.pub -outform DER | sha256sum)"
        ));
    }
    Ok(format!("sha256:{}", hex.to_ascii_lowercase()))
}

fn parse_kv(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("expected KEY=VALUE, got {s:?}"))
}

/// The password of a cosign key, as cosign finds it: `COSIGN_PASSWORD`, else a prompt on the
/// terminal without echo (twice, compared, when `confirm`). Standard input must be a terminal
/// for the prompt; otherwise (scripts, CI) the variable is required.
pub(crate) fn password(confirm: bool) -> anyhow::Result<Zeroizing<String>> {
    if let Some(value) = std::env::var_os(PASSWORD_ENV) {
        let value = value
            .into_string()
            .map_err(|_| anyhow::anyhow!("{PASSWORD_ENV} is not valid UTF-8"))?;
        return Ok(Zeroizing::new(value));
    }
    if !std::io::stdin().is_terminal() {
        bail!(
            "the key password is needed and there is no terminal to ask it on: set \
             {PASSWORD_ENV} to the key password"
        );
    }
    let prompt = |text: &str| -> anyhow::Result<Zeroizing<String>> {
        rpassword::prompt_password(text).map(Zeroizing::new).with_context(|| {
            format!("cannot read the key password from the terminal (or set {PASSWORD_ENV})")
        })
    };
    let first = prompt("Enter password for private key: ")?;
    if confirm {
        let second = prompt("Enter password for private key again: ")?;
        if *first != *second {
            bail!("the passwords do not match");
        }
    }
    Ok(first)
}

/// The caller's docker `config.json`: `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.
fn docker_config() -> anyhow::Result<DockerConfig> {
    let path = match std::env::var_os("DOCKER_CONFIG") {
        Some(dir) => PathBuf::from(dir).join("config.json"),
        None => match std::env::var_os("HOME") {
            Some(home) => PathBuf::from(home).join(".docker/config.json"),
            None => return Ok(DockerConfig::default()),
        },
    };
    match std::fs::read(&path) {
        Ok(bytes) => Ok(DockerConfig::parse(&bytes)
            .with_context(|| format!("in {}", path.display()))?
            .with_origin(path.display().to_string())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(DockerConfig::default()
            .with_origin(format!("{} (which does not exist)", path.display()))),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// The image's store, the reference to resolve in it, its repository name (registry images),
/// and where its signatures live.
pub(crate) struct Target {
    pub(crate) image: Box<dyn ImageStore>,
    reference: String,
    repository: Option<String>,
    pub(crate) signatures: Box<dyn ImageStore>,
}

/// cosign's `COSIGN_REPOSITORY`: where signatures go when `--signature-repository` is not given.
const REPOSITORY_ENV: &str = "COSIGN_REPOSITORY";

/// `image_registry` is the image's own registry, which `--allow-insecure-registry` allows.
fn client(args: &RegistryArgs, image_registry: Option<&str>) -> anyhow::Result<RegistryClient> {
    let ca_bundle_pem = match &args.ca_bundle {
        Some(p) => Some(crate::fsutil::read(p, "CA bundle")?),
        None => None,
    };
    let mut allow_insecure = args.allow_insecure.clone();
    if let (true, Some(host)) = (args.allow_insecure_registry, image_registry) {
        allow_insecure.push(host.to_owned());
    }
    Ok(RegistryClient::new(RegistryOptions {
        allow_insecure,
        ca_bundle_pem,
        docker_config: docker_config()?,
        ..Default::default()
    })?)
}

fn open_target(image: &str, args: &RegistryArgs) -> anyhow::Result<Target> {
    let parsed = ImageRef::parse(image)?;
    let signature_repository = args
        .signature_repository
        .clone()
        .or_else(|| std::env::var(REPOSITORY_ENV).ok().filter(|r| !r.trim().is_empty()));
    let image_registry = match &parsed {
        ImageRef::Registry(r) => Some(r.api_host()),
        ImageRef::Layout { .. } => None,
    };
    let client = match (&parsed, &signature_repository) {
        (ImageRef::Layout { .. }, None) => None,
        _ => Some(client(args, image_registry)?),
    };
    let signature_repo = match (&signature_repository, &client) {
        (Some(repo), Some(client)) => {
            let ImageRef::Registry(r) = ImageRef::parse(repo)? else {
                bail!(
                    "--signature-repository (or {REPOSITORY_ENV}) must be a registry repository, \
                     not {repo}"
                );
            };
            Some(client.repository(r.api_host(), &r.repository))
        }
        _ => None,
    };
    match (parsed, client) {
        (ImageRef::Registry(r), Some(client)) => {
            let store = client.repository(r.api_host(), &r.repository);
            let signatures: Box<dyn ImageStore> = match signature_repo {
                Some(s) => Box::new(s),
                None => Box::new(store.clone()),
            };
            Ok(Target {
                image: Box::new(store),
                reference: r.reference().to_owned(),
                repository: Some(r.repository_name()),
                signatures,
            })
        }
        (ImageRef::Layout { path, tag, digest }, _) => {
            if !path.join("oci-layout").exists() {
                bail!("{} is not an OCI image layout (no oci-layout file)", path.display());
            }
            let layout = OciLayout::open_or_create(&path)?;
            let reference = layout.resolve_reference(tag.as_deref(), digest.as_deref())?;
            let signatures: Box<dyn ImageStore> = match signature_repo {
                Some(s) => Box::new(s),
                None => Box::new(layout.clone()),
            };
            Ok(Target { image: Box::new(layout), reference, repository: None, signatures })
        }
        (ImageRef::Registry(_), None) => bail!("internal error: no registry client"),
    }
}

fn open_signer(args: &SignArgs, tcti: Option<&str>) -> anyhow::Result<Box<dyn Signer>> {
    // Cosign keys (`cosign.key`) are read by the backend, for every command.
    let opts =
        crate::backend::Options { algorithm: None, tcti, auth_env: args.auth_env.as_deref() };
    crate::backend::open_signer(&args.key, opts)
}

/// cosign's `--upload=false`, `--output-signature` and `--output-payload` apply to the `.sig`
/// layout of one image; anything else is refused before a key is opened.
fn check_output_files(args: &SignArgs) -> anyhow::Result<()> {
    let files = args.output_signature.is_some() || args.output_payload.is_some();
    if (files || !args.upload) && args.new_bundle_format {
        bail!(
            "--upload=false, --output-signature and --output-payload are for the .sig layout's \
             simple-signing payload: add --new-bundle-format=false"
        );
    }
    if (files || !args.upload) && args.recursive {
        bail!("--upload=false, --output-signature and --output-payload sign no --recursive index");
    }
    if files && args.images.len() > 1 {
        bail!(
            "--output-signature and --output-payload take one image ({} given)",
            args.images.len()
        );
    }
    Ok(())
}

/// Writes `--output-signature` (base64, as in the layer annotation) and `--output-payload`
/// (the exact payload bytes), mode 0600 and replacing existing files, as cosign does.
fn write_output_files(args: &SignArgs, payload: &[u8], signature_b64: &str) -> anyhow::Result<()> {
    if let Some(path) = &args.output_signature {
        crate::fsutil::write_atomic(path, signature_b64.as_bytes(), 0o600, true)?;
    }
    if let Some(path) = &args.output_payload {
        crate::fsutil::write_atomic(path, payload, 0o600, true)?;
    }
    Ok(())
}

/// `--upload=false`: resolve each image (read only), sign its payload, write the files.
fn sign_without_upload(
    args: &SignArgs,
    signer: &dyn Signer,
    opened: &[(Target, String)],
) -> anyhow::Result<ExitCode> {
    let annotations = args.annotations.iter().cloned().collect::<BTreeMap<_, _>>();
    let mut entries = Vec::with_capacity(opened.len());
    for ((t, docker_reference), image) in opened.iter().zip(&args.images) {
        let digest = t
            .image
            .get_manifest(&t.reference)
            .with_context(|| format!("reading {image}"))?
            .ok_or_else(|| anyhow::anyhow!("{image}: no such manifest ({})", t.image.describe()))?
            .digest;
        let payload =
            proofmark_cosign::payload::payload_bytes(docker_reference, &digest, &annotations);
        let signature = signer.sign(&payload).with_context(|| format!("signing {image}"))?;
        let signature_b64 = base64::engine::general_purpose::STANDARD.encode(signature.as_bytes());
        write_output_files(args, &payload, &signature_b64)?;
        entries.push(digest);
    }
    match args.output {
        crate::Format::Human => {
            for digest in &entries {
                eprintln!("signed {digest} (not uploaded: --upload=false)");
            }
        }
        crate::Format::Json => {
            let entries: Vec<serde_json::Value> = entries
                .iter()
                .map(|d| {
                    serde_json::json!({"image": d, "format": "legacy", "status": "not uploaded"})
                })
                .collect();
            println!("{}", serde_json::Value::Array(entries));
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn sign(args: &SignArgs, tcti: Option<&str>) -> anyhow::Result<ExitCode> {
    check_output_files(args)?;
    let signer = open_signer(args, tcti)?;
    proofmark_cosign::check_cosign_algorithm(signer.algorithm())?;
    let mut opened = Vec::with_capacity(args.images.len());
    for image in &args.images {
        let t = open_target(image, &args.registry)?;
        let docker_reference = match (&args.docker_reference, &t.repository) {
            (Some(r), _) | (None, Some(r)) => r.clone(),
            (None, None) => {
                bail!("signing an oci: layout needs --docker-reference REGISTRY/REPOSITORY")
            }
        };
        opened.push((t, docker_reference));
    }
    if !args.upload {
        return sign_without_upload(args, signer.as_ref(), &opened);
    }
    let targets: Vec<SignTarget<'_>> = opened
        .iter()
        .map(|(t, docker_reference)| SignTarget {
            image: t.image.as_ref(),
            reference: &t.reference,
            signatures: t.signatures.as_ref(),
            docker_reference,
        })
        .collect();
    let opts = SignOptions {
        annotations: args.annotations.iter().cloned().collect::<BTreeMap<_, _>>(),
        recursive: args.recursive,
        format: if args.new_bundle_format {
            proofmark_cosign::SignatureFormat::Bundle
        } else {
            proofmark_cosign::SignatureFormat::Legacy
        },
        referrers_mode: args.registry_referrers_mode.into(),
        ..Default::default()
    };
    // One batch: the manifests are written together and confirmed after one shared wait.
    let signed = proofmark_cosign::sign_many(&targets, &signer, &opts)
        .with_context(|| format!("signing {}", args.images.join(" ")))?;
    if let [one] = signed.as_slice() {
        write_output_files(args, &one.payload, &one.signature_b64)?;
    }
    match args.output {
        crate::Format::Human => {
            for s in &signed {
                let (what, note) = if s.added {
                    ("signed", "")
                } else {
                    ("already signed", " (this key already signed this payload; nothing added)")
                };
                match &s.referrer {
                    Some(r) => eprintln!(
                        "{what} {} → {}@{r} (bundle, {}){note}",
                        s.image_digest,
                        s.signatures,
                        listed_in(s)
                    ),
                    None => eprintln!(
                        "{what} {} → {}:{}{note}",
                        s.image_digest, s.signatures, s.signature_tag
                    ),
                }
            }
        }
        crate::Format::Json => {
            let entries: Vec<serde_json::Value> = signed
                .iter()
                .map(|s| {
                    let signatures = match &s.referrer {
                        Some(r) => format!("{}@{r}", s.signatures),
                        None => format!("{}:{}", s.signatures, s.signature_tag),
                    };
                    serde_json::json!({
                        "image": s.image_digest,
                        "format": s.format.name(),
                        "signatures": signatures,
                        "status": if s.added { "signed" } else { "already signed" },
                    })
                })
                .collect();
            println!("{}", serde_json::Value::Array(entries));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn read_public_key(key: &KeyRef, tcti: Option<&str>) -> anyhow::Result<PublicKey> {
    crate::backend::public_key(key, crate::backend::Options { tcti, ..Default::default() })
}

pub(crate) fn verify(args: &VerifyArgs, tcti: Option<&str>) -> anyhow::Result<ExitCode> {
    let keys =
        args.key.iter().map(|k| read_public_key(k, tcti)).collect::<anyhow::Result<Vec<_>>>()?;
    let t = open_target(&args.image, &args.registry)?;
    let expected = args.docker_reference.clone().or(t.repository.clone());
    let identity = match (args.identity, expected) {
        (IdentityArg::Ignore, _) => IdentityMode::Ignore,
        (IdentityArg::Repository, Some(r)) => IdentityMode::Repository(r),
        (IdentityArg::Exact, Some(r)) => IdentityMode::Exact(r),
        (_, None) => {
            bail!("verifying an oci: layout needs --docker-reference or --identity ignore")
        }
    };
    let pinned = if args.pin.is_empty() {
        None
    } else {
        let by_text: BTreeMap<String, Fingerprint> = keys
            .iter()
            .map(|k| (k.fingerprint_sha256().to_string(), k.fingerprint_sha256()))
            .collect();
        // A pin that matches no given key cannot be satisfied; one that matches is kept.
        Some(args.pin.iter().filter_map(|p| by_text.get(p).copied()).collect())
    };
    let opts = VerifyOptions {
        threshold: args.threshold,
        pinned,
        identity,
        required_annotations: args.annotations.iter().cloned().collect(),
        image_reference: Some(args.image.clone()),
        ..VerifyOptions::new(keys, String::new())
    };
    let report = proofmark_cosign::verify_image(
        t.image.as_ref(),
        &t.reference,
        t.signatures.as_ref(),
        &opts,
    )
    .with_context(|| format!("verifying {}", args.image))?;
    if args.tpm_attestation.require_tpm_attestation
        && report.status == proofmark_cosign::VerifyStatus::Verified
    {
        let failed = crate::image_attest::require(&args.tpm_attestation, &t, &opts, &report)?;
        if let Some(code) = failed {
            return Ok(code);
        }
    }
    match args.output {
        // cosign's bytes: an empty line, then the array as Go encodes it.
        crate::Format::Json => print!("{}", report.cosign_output()),
        crate::Format::Human => print!("{}", report.summary()),
    }
    Ok(ExitCode::from(report.status.exit_code()))
}

pub(crate) fn generate_key_pair(args: &GenerateKeyPairArgs) -> anyhow::Result<ExitCode> {
    let password = password(true)?;
    let files = proofmark_cosign::generate_key_pair(password.as_bytes())?;
    let key = PathBuf::from(format!("{}.key", args.output_key_prefix));
    let public = PathBuf::from(format!("{}.pub", args.output_key_prefix));
    crate::fsutil::write_atomic(&key, files.private_pem.as_bytes(), 0o600, args.force)?;
    crate::fsutil::write_atomic(&public, files.public_pem.as_bytes(), 0o644, args.force)?;
    eprintln!("Private key written to {}", key.display());
    eprintln!("Public key written to {}", public.display());
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn policy(args: &PolicyArgs, tcti: Option<&str>) -> anyhow::Result<ExitCode> {
    let key = read_public_key(&args.key, tcti)?;
    proofmark_cosign::cosign_algorithm_for(&key)?;
    if args.registries_d {
        print!("{}", proofmark_cosign::policy::registries_d(&args.scope));
    } else {
        print!("{}", proofmark_cosign::policy::containers_policy(&args.scope, &key));
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(clap::Args, Debug)]
pub(crate) struct AttestArgs {
    /// The signing key, as for `sign`.
    #[arg(long)]
    key: KeyRef,
    /// TPM keys with a user-chosen auth value: the environment variable that holds it.
    #[arg(long)]
    auth_env: Option<String>,
    /// The predicate file (JSON; for `--type custom`, any text, wrapped as cosign does). For
    /// the TPM key attestation type, the folder `key attest` wrote.
    #[arg(long, value_name = "FILE")]
    predicate: Option<PathBuf>,
    /// cosign's predicate type: `slsaprovenance`, `slsaprovenance02`, `slsaprovenance1`,
    /// `link`, `spdx`, `spdxjson`, `cyclonedx`, `vuln`, `custom`, or a URI.
    #[arg(long = "type", default_value = "custom", value_name = "TYPE")]
    predicate_type: String,
    /// How the referrer is listed (see `sign`).
    #[arg(long, value_enum, default_value_t = ReferrersModeArg::Oci11)]
    registry_referrers_mode: ReferrersModeArg,
    #[command(flatten)]
    registry: RegistryArgs,
    /// `registry/repo[:tag][@sha256:…]` or `oci:PATH[:TAG|@sha256:…]`.
    image: String,
}

#[derive(clap::Args, Debug)]
pub(crate) struct VerifyAttestationArgs {
    /// A trusted key (repeatable), as for `verify`.
    #[arg(long, required = true)]
    key: Vec<KeyRef>,
    /// The predicate type to accept, as `attest --type` takes it.
    #[arg(long = "type", default_value = "custom", value_name = "TYPE")]
    predicate_type: String,
    /// How many distinct keys must have attested.
    #[arg(long, default_value_t = 1)]
    threshold: usize,
    /// `human` (a summary) or `json` (the accepted DSSE envelopes, as cosign prints them).
    #[arg(long, value_enum, default_value_t = crate::Format::Human)]
    output: crate::Format,
    #[command(flatten)]
    registry: RegistryArgs,
    /// `registry/repo[:tag][@sha256:…]` or `oci:PATH[:TAG|@sha256:…]`.
    image: String,
}

/// cosign's predicate for `--type custom`: the file's text and a timestamp.
fn predicate_json(
    path: &std::path::Path,
    predicate_type: &str,
) -> anyhow::Result<serde_json::Value> {
    let bytes = crate::fsutil::read(path, "predicate")?;
    if predicate_type == proofmark_cosign::attestation::CUSTOM_PREDICATE {
        let text = String::from_utf8(bytes)
            .with_context(|| format!("the predicate {} is not UTF-8 text", path.display()))?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        return Ok(
            serde_json::json!({"Data": text, "Timestamp": proofmark_types::civil::rfc3339_utc(now)}),
        );
    }
    serde_json::from_slice(&bytes)
        .with_context(|| format!("the predicate {} is not JSON", path.display()))
}

pub(crate) fn attest(args: &AttestArgs, tcti: Option<&str>) -> anyhow::Result<ExitCode> {
    let opts =
        crate::backend::Options { algorithm: None, tcti, auth_env: args.auth_env.as_deref() };
    let signer = crate::backend::open_signer(&args.key, opts)?;
    let predicate_type = proofmark_cosign::predicate_type_for(&args.predicate_type)?;
    let predicate = if predicate_type == crate::image_attest::PREDICATE_TYPE {
        crate::image_attest::predicate(signer.public_key(), args.predicate.as_deref())?
    } else {
        let Some(path) = &args.predicate else {
            bail!("--type {} needs --predicate FILE", args.predicate_type);
        };
        predicate_json(path, &predicate_type)?
    };
    let t = open_target(&args.image, &args.registry)?;
    let spec = proofmark_cosign::StatementSpec { predicate_type, predicate };
    let opts =
        SignOptions { referrers_mode: args.registry_referrers_mode.into(), ..Default::default() };
    let s = proofmark_cosign::attest_image(
        t.image.as_ref(),
        &t.reference,
        t.signatures.as_ref(),
        &spec,
        &signer,
        &opts,
    )
    .with_context(|| format!("attesting {}", args.image))?;
    let what = if s.added { "attested" } else { "already attested" };
    eprintln!(
        "{what} {} ({}) → {}@{} (bundle, {})",
        s.image_digest,
        spec.predicate_type,
        s.signatures,
        s.referrer.as_deref().unwrap_or("?"),
        listed_in(&s)
    );
    Ok(ExitCode::SUCCESS)
}

/// Where a bundle referrer is listed: the registry's referrers API (no tag written) or the
/// OCI 1.1 referrers tag schema index.
fn listed_in(s: &proofmark_cosign::Signed) -> String {
    if s.via_referrers_api {
        return "listed by the registry's referrers API".to_owned();
    }
    format!("listed in {}", s.signature_tag)
}

pub(crate) fn verify_attestation(
    args: &VerifyAttestationArgs,
    tcti: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let keys =
        args.key.iter().map(|k| read_public_key(k, tcti)).collect::<anyhow::Result<Vec<_>>>()?;
    let t = open_target(&args.image, &args.registry)?;
    let opts = VerifyOptions {
        threshold: args.threshold,
        identity: IdentityMode::Ignore,
        predicate_type: proofmark_cosign::predicate_type_for(&args.predicate_type)?,
        formats: vec![proofmark_cosign::SignatureFormat::Bundle],
        image_reference: Some(args.image.clone()),
        ..VerifyOptions::new(keys, String::new())
    };
    let report = proofmark_cosign::verify_image(
        t.image.as_ref(),
        &t.reference,
        t.signatures.as_ref(),
        &opts,
    )
    .with_context(|| format!("verifying the attestations of {}", args.image))?;
    match args.output {
        crate::Format::Json => println!("{}", report.envelopes_json()),
        crate::Format::Human => print!("{}", report.summary()),
    }
    Ok(ExitCode::from(report.status.exit_code()))
}
