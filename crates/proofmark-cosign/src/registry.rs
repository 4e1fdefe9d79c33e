//! A blocking OCI distribution client: manifests, blobs, bearer-token and basic auth.

use std::collections::{HashMap, HashSet};
use std::io::Read as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::credentials::{Credential, DockerConfig};
use crate::digest::{check_digest, digest_hex, sha256_digest};
use crate::error::{Error, Result};
use crate::manifest::{MANIFEST_MEDIA_TYPES, MAX_MANIFEST_BYTES, StoredManifest};
use crate::store::{ImageStore, Upload};

/// How to reach registries.
#[derive(Debug, Clone)]
pub struct RegistryOptions {
    /// `HOST:PORT`s that are contacted over plain HTTP. Everything else uses HTTPS.
    /// [`RegistryClient::new`] accepts `http://HOST:PORT` too, and a `HOST` without a port
    /// stands for every port of that host; it refuses anything else (`https://…`, paths).
    pub allow_insecure: Vec<String>,
    /// PEM certificates to trust *instead of* the system roots.
    pub ca_bundle_pem: Option<Vec<u8>>,
    /// Credentials.
    pub docker_config: DockerConfig,
    /// Upper bound on manifest size.
    pub manifest_limit: u64,
    /// Per-request timeout.
    pub timeout: Duration,
}

impl Default for RegistryOptions {
    fn default() -> Self {
        Self {
            allow_insecure: Vec::new(),
            ca_bundle_pem: None,
            docker_config: DockerConfig::default(),
            manifest_limit: MAX_MANIFEST_BYTES,
            timeout: Duration::from_secs(60),
        }
    }
}

/// A blocking registry client; cheap to clone and share between threads.
#[derive(Debug, Clone)]
pub struct RegistryClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    agent: ureq::Agent,
    opts: RegistryOptions,
    /// `host/repository` → `Authorization` header value.
    auth: Mutex<HashMap<String, String>>,
    /// Hosts that answered that they have no referrers API (as oras-go remembers it per
    /// repository): later lookups go straight to the tag schema, one round trip fewer.
    no_referrers_api: Mutex<HashSet<String>>,
}

impl RegistryClient {
    /// A client with these options; fails on an [`RegistryOptions::allow_insecure`] entry that
    /// is not a host (with or without port).
    pub fn new(mut opts: RegistryOptions) -> Result<Self> {
        opts.allow_insecure =
            opts.allow_insecure.iter().map(|v| normalize_insecure(v)).collect::<Result<_>>()?;
        let mut builder = ureq::AgentBuilder::new()
            .timeout(opts.timeout)
            .user_agent(concat!("proofmark-cosign/", env!("CARGO_PKG_VERSION")))
            // Batches talk to one registry from several threads: keep their connections.
            .max_idle_connections_per_host(16);
        if let Some(pem) = &opts.ca_bundle_pem {
            builder = builder.tls_config(Arc::new(tls_config(pem)?));
        }
        Ok(Self {
            inner: Arc::new(Inner {
                agent: builder.build(),
                opts,
                auth: Mutex::default(),
                no_referrers_api: Mutex::default(),
            }),
        })
    }

    /// A handle on one repository, usable as an [`ImageStore`].
    pub fn repository(&self, registry: &str, repository: &str) -> RegistryRepo {
        RegistryRepo {
            client: self.clone(),
            host: registry.to_owned(),
            repository: repository.to_owned(),
        }
    }
}

/// `HOST:PORT`, `HOST`, `http://HOST:PORT/` → `host:port` / `host`; refuses anything else, so
/// that an entry never silently matches nothing.
fn normalize_insecure(value: &str) -> Result<String> {
    let err = |reason| Error::InsecureHost { value: value.to_owned(), reason };
    let v = value.trim();
    if v.starts_with("https://") {
        return Err(err("https:// asks for TLS, which --allow-insecure turns off"));
    }
    let v = v.strip_prefix("http://").unwrap_or(v);
    let v = v.strip_suffix('/').unwrap_or(v);
    if v.is_empty() {
        return Err(err("no host"));
    }
    if v.contains("://") {
        return Err(err("the only scheme allowed is http://"));
    }
    if v.contains('/') {
        return Err(err("a registry host has no path"));
    }
    let (name, port) = split_port(v);
    if let Some(port) = port {
        if !port.parse::<u16>().is_ok_and(|p| p != 0) {
            return Err(err("the port is not a number from 1 to 65535"));
        }
    }
    let name_ok = !name.is_empty()
        && ((name.starts_with('[') && name.ends_with(']'))
            || name.bytes().all(|b| b.is_ascii_alphanumeric() || b".-_".contains(&b)));
    if !name_ok {
        return Err(err("not a host name or IP address"));
    }
    Ok(v.to_ascii_lowercase())
}

/// `host:port` → (`host`, `Some(port)`); `[::1]:5000` → (`[::1]`, `Some(5000)`); `host` →
/// (`host`, `None`).
fn split_port(host: &str) -> (&str, Option<&str>) {
    if host.starts_with('[') {
        return match host.split_once(']') {
            Some((_, rest)) => {
                let name = &host[..host.len() - rest.len()];
                (name, rest.strip_prefix(':'))
            }
            None => (host, None),
        };
    }
    match host.rsplit_once(':') {
        Some((name, port)) => (name, Some(port)),
        None => (host, None),
    }
}

fn tls_config(pem: &[u8]) -> Result<rustls::ClientConfig> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject as _;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pem) {
        let cert = cert.map_err(|e| Error::Tls(format!("CA bundle: {e}")))?;
        roots.add(cert).map_err(|e| Error::Tls(format!("CA bundle: {e}")))?;
    }
    if roots.is_empty() {
        return Err(Error::Tls("the CA bundle holds no certificate".into()));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}

/// One repository in a registry.
#[derive(Debug, Clone)]
pub struct RegistryRepo {
    client: RegistryClient,
    host: String,
    repository: String,
}

struct Challenge {
    scheme: String,
    params: HashMap<String, String>,
}

fn parse_challenge(header: &str) -> Challenge {
    let (scheme, rest) = header.trim().split_once(' ').unwrap_or((header.trim(), ""));
    let mut params = HashMap::new();
    let mut rest = rest.trim();
    while !rest.is_empty() {
        let Some((key, after)) = rest.split_once('=') else { break };
        let key = key.trim().trim_start_matches(',').trim().to_ascii_lowercase();
        let after = after.trim_start();
        let (value, remaining) = if let Some(quoted) = after.strip_prefix('"') {
            match quoted.find('"') {
                Some(end) => (&quoted[..end], &quoted[end + 1..]),
                None => (quoted, ""),
            }
        } else {
            match after.find(',') {
                Some(end) => (&after[..end], &after[end..]),
                None => (after, ""),
            }
        };
        params.insert(key, value.to_owned());
        rest = remaining.trim_start().trim_start_matches(',').trim_start();
    }
    Challenge { scheme: scheme.to_ascii_lowercase(), params }
}

const BODY_PREVIEW: u64 = 512;

impl RegistryRepo {
    fn inner(&self) -> &Inner {
        &self.client.inner
    }

    /// Whether this registry is named in `allow_insecure` (entries without a port stand for
    /// every port of the host).
    fn insecure(&self) -> bool {
        let host = self.host.to_ascii_lowercase();
        let name = split_port(&host).0;
        self.inner().opts.allow_insecure.iter().any(|h| *h == host || *h == name)
    }

    fn base(&self) -> Result<String> {
        let scheme = if self.insecure() { "http" } else { "https" };
        Ok(format!("{scheme}://{}", self.host))
    }

    /// A transport error, told apart when an HTTPS request reached a plain-HTTP server (rustls
    /// then reads the HTTP answer as a corrupt TLS record).
    fn transport_error(&self, url: &str, message: String) -> Error {
        if url.starts_with("https://") && message.contains("corrupt message") {
            return Error::PlainHttp { host: self.host.clone(), url: url.to_owned() };
        }
        // ureq's message repeats the URL ("<url>: <cause>"); the error names it once.
        let cause =
            message.strip_prefix(url).and_then(|m| m.strip_prefix(": ")).unwrap_or(&message);
        let mut message = cause.to_owned();
        if cause.contains("UnknownIssuer") || cause.contains("invalid peer certificate") {
            message
                .push_str("; trust the registry's CA with --ca-bundle FILE or SSL_CERT_FILE=FILE");
        }
        Error::Transport { url: url.to_owned(), message }
    }

    fn manifest_url(&self, reference: &str) -> Result<String> {
        check_reference(reference)?;
        self.url(&format!("manifests/{reference}"))
    }

    fn url(&self, path: &str) -> Result<String> {
        Ok(format!("{}/v2/{}/{path}", self.base()?, self.repository))
    }

    fn auth_key(&self) -> String {
        format!("{}/{}", self.host, self.repository)
    }

    /// Sends a request, answering one auth challenge. Returns the response for any status
    /// (the caller decides what is an error).
    fn send(
        &self,
        method: &'static str,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Result<ureq::Response> {
        let mut retried = false;
        loop {
            let mut req = self.inner().agent.request(method, url);
            for (k, v) in headers {
                req = req.set(k, v);
            }
            let cached =
                self.inner().auth.lock().ok().and_then(|m| m.get(&self.auth_key()).cloned());
            if let Some(auth) = &cached {
                req = req.set("Authorization", auth);
            }
            let result = match body {
                Some(b) => req.send_bytes(b),
                None => req.call(),
            };
            let resp = match result {
                Ok(r) => r,
                Err(ureq::Error::Status(_, r)) => r,
                Err(ureq::Error::Transport(t)) => {
                    return Err(self.transport_error(url, t.to_string()));
                }
            };
            if resp.status() != 401 || retried {
                return Ok(resp);
            }
            retried = true;
            let Some(header) = resp.header("www-authenticate").map(str::to_owned) else {
                return Ok(resp);
            };
            drain(resp);
            let value = self.authenticate(&parse_challenge(&header), method)?;
            if let Ok(mut map) = self.inner().auth.lock() {
                map.insert(self.auth_key(), value);
            }
        }
    }

    fn authenticate(&self, challenge: &Challenge, method: &str) -> Result<String> {
        let creds = self.inner().opts.docker_config.credentials(&self.host)?;
        let auth_err = |reason: String| Error::Auth { host: self.host.clone(), reason };
        let basic = |u: &str, p: &str| format!("Basic {}", STANDARD.encode(format!("{u}:{p}")));
        match challenge.scheme.as_str() {
            "basic" => match creds {
                Some(Credential::Basic { username, password }) => Ok(basic(&username, &password)),
                Some(Credential::IdentityToken(_)) => Err(auth_err(
                    "the registry wants basic auth and only an identity token is configured".into(),
                )),
                None => Err(auth_err(format!(
                    "the registry wants basic auth and there are no credentials for {} in {}",
                    self.host,
                    self.inner().opts.docker_config.source(&self.host)
                ))),
            },
            "bearer" => {
                let realm = challenge
                    .params
                    .get("realm")
                    .ok_or_else(|| auth_err("bearer challenge without realm".into()))?;
                let scope = challenge.params.get("scope").cloned().unwrap_or_else(|| {
                    let access =
                        if method == "GET" || method == "HEAD" { "pull" } else { "pull,push" };
                    format!("repository:{}:{access}", self.repository)
                });
                let service = challenge.params.get("service").cloned().unwrap_or_default();
                let result = match &creds {
                    // OAuth2 refresh-token grant, as the docker CLI does with identity tokens.
                    Some(Credential::IdentityToken(token)) => {
                        self.inner().agent.post(realm).send_form(&[
                            ("grant_type", "refresh_token"),
                            ("refresh_token", token.as_str()),
                            ("service", &service),
                            ("scope", &scope),
                            ("client_id", "proofmark"),
                        ])
                    }
                    _ => {
                        let mut req = self.inner().agent.get(realm).query("scope", &scope);
                        if !service.is_empty() {
                            req = req.query("service", &service);
                        }
                        if let Some(Credential::Basic { username, password }) = &creds {
                            req = req.set("Authorization", &basic(username, password));
                        }
                        req.call()
                    }
                };
                let resp = match result {
                    Ok(r) => r,
                    Err(ureq::Error::Status(code, r)) => {
                        let body = preview(r);
                        let body = if body.is_empty() { "an empty body".to_owned() } else { body };
                        return Err(auth_err(format!(
                            "token endpoint {realm} returned HTTP {code} with {body}; {}",
                            self.credentials_tried()
                        )));
                    }
                    Err(ureq::Error::Transport(t)) => {
                        return Err(self.transport_error(realm, t.to_string()));
                    }
                };
                let mut text = String::new();
                resp.into_reader()
                    .take(1 << 20)
                    .read_to_string(&mut text)
                    .map_err(|e| auth_err(format!("reading the token: {e}")))?;
                let v: serde_json::Value = serde_json::from_str(&text)
                    .map_err(|e| auth_err(format!("token response is not JSON: {e}")))?;
                let token = v
                    .get("token")
                    .or_else(|| v.get("access_token"))
                    .and_then(|t| t.as_str())
                    .ok_or_else(|| auth_err("token response has no token".into()))?;
                Ok(format!("Bearer {token}"))
            }
            other => Err(auth_err(format!("unsupported auth scheme {other:?}"))),
        }
    }

    fn status_error(&self, method: &'static str, url: &str, resp: ureq::Response) -> Error {
        let status = resp.status();
        if status != 401 {
            return Error::Http { method, url: url.to_owned(), status, body: preview(resp) };
        }
        // Registries (and proxies in front of them) often answer 401 with no body: say what we
        // sent and where it came from, which is what the user can fix.
        let challenged = resp.header("www-authenticate").is_some();
        let body = preview(resp);
        let answer = if body.is_empty() { "an empty body".to_owned() } else { body };
        let tried = if challenged {
            self.credentials_tried()
        } else {
            "the registry sent no WWW-Authenticate challenge, so no credentials were sent".into()
        };
        Error::Auth {
            host: self.host.clone(),
            reason: format!("{method} {url} returned HTTP 401 with {answer}; {tried}"),
        }
    }

    /// Which credentials this host gets, and from where, without any secret.
    fn credentials_tried(&self) -> String {
        let config = &self.inner().opts.docker_config;
        let source = config.source(&self.host);
        match config.credentials(&self.host) {
            Ok(Some(Credential::Basic { username, .. })) => {
                format!("tried user {username:?} and its password from {source}")
            }
            Ok(Some(Credential::IdentityToken(_))) => {
                format!("tried the identity token from {source}")
            }
            Ok(None) => format!("tried no credentials: none for {} in {source}", self.host),
            Err(e) => format!("tried no credentials: {e}"),
        }
    }

    /// Resolves a tag or digest to `(digest, media type)` with a `HEAD` request.
    pub fn head_manifest(&self, reference: &str) -> Result<Option<(String, String)>> {
        let url = self.manifest_url(reference)?;
        let accept = MANIFEST_MEDIA_TYPES.join(", ");
        let resp = self.send("HEAD", &url, &[("Accept", &accept)], None)?;
        match resp.status() {
            200 => {}
            404 => return Ok(None),
            _ => return Err(self.status_error("HEAD", &url, resp)),
        }
        let media_type = content_type(&resp);
        match resp.header("docker-content-digest") {
            Some(d) => Ok(Some((d.to_owned(), media_type))),
            // Without the header we must read the manifest to know its digest.
            None => Ok(self.get_manifest(reference)?.map(|m| (m.digest, m.media_type))),
        }
    }
}

/// A digest, or a tag as the distribution spec allows (`[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`),
/// so nothing else ends up in a URL path.
fn check_reference(reference: &str) -> Result<()> {
    if reference.starts_with("sha256:") {
        return digest_hex(reference).map(|_| ());
    }
    let ok = !reference.is_empty()
        && reference.len() <= 128
        && !reference.starts_with(['.', '-'])
        && reference.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidReference {
            reference: reference.to_owned(),
            reason: "not a tag or sha256 digest",
        })
    }
}

fn content_type(resp: &ureq::Response) -> String {
    resp.header("content-type").unwrap_or("").split(';').next().unwrap_or("").trim().to_owned()
}

fn preview(resp: ureq::Response) -> String {
    let mut buf = Vec::new();
    let _ = resp.into_reader().take(BODY_PREVIEW).read_to_end(&mut buf);
    String::from_utf8_lossy(&buf).trim().to_owned()
}

fn read_limited(resp: ureq::Response, what: &str, limit: u64) -> Result<Vec<u8>> {
    if let Some(len) = resp.header("content-length").and_then(|l| l.parse::<u64>().ok()) {
        if len > limit {
            return Err(Error::TooLarge { what: what.to_owned(), limit });
        }
    }
    let mut buf = Vec::new();
    resp.into_reader()
        .take(limit + 1)
        .read_to_end(&mut buf)
        .map_err(|e| Error::Transport { url: what.to_owned(), message: e.to_string() })?;
    if buf.len() as u64 > limit {
        return Err(Error::TooLarge { what: what.to_owned(), limit });
    }
    Ok(buf)
}

impl ImageStore for RegistryRepo {
    fn describe(&self) -> String {
        format!("{}/{}", self.host, self.repository)
    }

    fn referrers(&self, digest: &str) -> Result<Option<StoredManifest>> {
        digest_hex(digest)?;
        let no_api = || self.inner().no_referrers_api.lock().ok();
        if no_api().is_some_and(|hosts| hosts.contains(&self.host)) {
            return Ok(None);
        }
        let url = self.url(&format!("referrers/{digest}"))?;
        let resp = self.send("GET", &url, &[("Accept", crate::manifest::OCI_INDEX)], None)?;
        // Registries without the API answer 404 (distribution 2.8), some 400, 405 or 501.
        // One with it answers 404 only for a repository it does not know (`NAME_UNKNOWN`,
        // e.g. a signature repository not pushed to yet), and 405 or 501 never (the
        // distribution spec): the rest is remembered; a 400 may be about this request only.
        let status = resp.status();
        if matches!(status, 400 | 404 | 405 | 501) {
            let body = preview(resp);
            if status != 400 && !body.contains("NAME_UNKNOWN") {
                if let Some(mut hosts) = no_api() {
                    hosts.insert(self.host.clone());
                }
            }
            return Ok(None);
        }
        if resp.status() != 200 {
            return Err(self.status_error("GET", &url, resp));
        }
        let media_type = content_type(&resp);
        let what = format!("referrers of {}@{digest}", self.describe());
        let bytes = read_limited(resp, &what, self.inner().opts.manifest_limit)?;
        let digest = sha256_digest(&bytes);
        Ok(Some(StoredManifest { bytes, media_type, digest }))
    }

    fn get_manifest(&self, reference: &str) -> Result<Option<StoredManifest>> {
        let url = self.manifest_url(reference)?;
        let accept = MANIFEST_MEDIA_TYPES.join(", ");
        let resp = self.send("GET", &url, &[("Accept", &accept)], None)?;
        match resp.status() {
            200 => {}
            404 => {
                drain(resp);
                return Ok(None);
            }
            _ => return Err(self.status_error("GET", &url, resp)),
        }
        let media_type = content_type(&resp);
        let header_digest = resp.header("docker-content-digest").map(str::to_owned);
        let what = format!("manifest {}:{reference}", self.describe());
        let bytes = read_limited(resp, &what, self.inner().opts.manifest_limit)?;
        let digest = sha256_digest(&bytes);
        if reference.starts_with("sha256:") {
            check_digest(&what, reference, &bytes)?;
        } else if let Some(h) = header_digest.filter(|h| h.starts_with("sha256:")) {
            check_digest(&what, &h, &bytes)?;
        }
        Ok(Some(StoredManifest { bytes, media_type, digest }))
    }

    fn put_manifest(&self, reference: &str, media_type: &str, bytes: &[u8]) -> Result<String> {
        let url = self.manifest_url(reference)?;
        let resp = self.send("PUT", &url, &[("Content-Type", media_type)], Some(bytes))?;
        if !(200..300).contains(&resp.status()) {
            return Err(self.status_error("PUT", &url, resp));
        }
        let digest = sha256_digest(bytes);
        if let Some(h) = resp.header("docker-content-digest") {
            if h != digest {
                return Err(Error::DigestMismatch {
                    what: format!("stored manifest {url}"),
                    expected: digest,
                    actual: h.to_owned(),
                });
            }
        }
        drain(resp);
        Ok(digest)
    }

    fn has_blob(&self, digest: &str) -> Result<bool> {
        digest_hex(digest)?;
        let url = self.url(&format!("blobs/{digest}"))?;
        let resp = self.send("HEAD", &url, &[], None)?;
        match resp.status() {
            200 => Ok(true),
            404 => Ok(false),
            _ => Err(self.status_error("HEAD", &url, resp)),
        }
    }

    fn get_blob(&self, digest: &str, limit: u64) -> Result<Vec<u8>> {
        digest_hex(digest)?;
        let url = self.url(&format!("blobs/{digest}"))?;
        let resp = self.send("GET", &url, &[], None)?;
        match resp.status() {
            200 => {}
            404 => return Err(Error::NotFound(format!("blob {digest} in {}", self.describe()))),
            _ => return Err(self.status_error("GET", &url, resp)),
        }
        let what = format!("blob {digest}");
        let bytes = read_limited(resp, &what, limit)?;
        check_digest(&what, digest, &bytes)?;
        Ok(bytes)
    }

    fn put_blob(&self, bytes: &[u8]) -> Result<String> {
        // No `HEAD` first: signature blobs are almost always new, and the upload below costs
        // no more requests than `HEAD` + upload. Small blobs go in the `POST` itself (the
        // spec's single-request upload, one round trip); a registry without it (distribution
        // 2.8) ignores the body and answers 202 with an upload session, which we complete.
        let digest = sha256_digest(bytes);
        let small = bytes.len() <= MONOLITHIC_POST_LIMIT;
        let url = if small {
            format!("{}?digest={}", self.url("blobs/uploads/")?, digest.replace(':', "%3A"))
        } else {
            self.url("blobs/uploads/")?
        };
        let headers = [("Content-Type", "application/octet-stream")];
        let resp = self.send("POST", &url, &headers, Some(if small { bytes } else { &[] }))?;
        match resp.status() {
            201 if small => {
                drain(resp);
                return Ok(digest);
            }
            202 => {}
            _ => return Err(self.status_error("POST", &url, resp)),
        }
        let location = self.upload_location(&url, resp)?;
        self.finish_upload(&location, &digest, bytes)
    }

    fn open_upload(&self) -> Result<Option<Upload>> {
        let url = self.url("blobs/uploads/")?;
        let headers = [("Content-Type", "application/octet-stream")];
        let resp = self.send("POST", &url, &headers, Some(&[]))?;
        if resp.status() != 202 {
            return Err(self.status_error("POST", &url, resp));
        }
        Ok(Some(Upload { location: self.upload_location(&url, resp)? }))
    }

    fn put_blob_via(&self, upload: Option<Upload>, bytes: &[u8]) -> Result<String> {
        let Some(upload) = upload else { return self.put_blob(bytes) };
        match self.finish_upload(&upload.location, &sha256_digest(bytes), bytes) {
            // The session is gone (expired, or purged by the registry): start another.
            Err(Error::Http { status: 404, .. }) => self.put_blob(bytes),
            other => other,
        }
    }

    fn cancel_upload(&self, upload: Upload) {
        if let Ok(resp) = self.send("DELETE", &upload.location, &[], None) {
            drain(resp);
        }
    }
}

impl RegistryRepo {
    /// The absolute URL of the upload session a `POST` to `url` opened.
    fn upload_location(&self, url: &str, resp: ureq::Response) -> Result<String> {
        let location = resp
            .header("location")
            .ok_or_else(|| Error::Http {
                method: "POST",
                url: url.to_owned(),
                status: 202,
                body: "no Location header".into(),
            })?
            .to_owned();
        drain(resp);
        if location.starts_with("http://") || location.starts_with("https://") {
            return Ok(location);
        }
        Ok(format!("{}{location}", self.base()?))
    }

    /// Completes the upload session at `location` with all of `bytes` in one `PUT`.
    fn finish_upload(&self, location: &str, digest: &str, bytes: &[u8]) -> Result<String> {
        let mut put_url = location.to_owned();
        put_url.push(if put_url.contains('?') { '&' } else { '?' });
        put_url.push_str("digest=");
        put_url.push_str(&digest.replace(':', "%3A"));
        let headers = [("Content-Type", "application/octet-stream")];
        let resp = self.send("PUT", &put_url, &headers, Some(bytes))?;
        if resp.status() != 201 {
            return Err(self.status_error("PUT", &put_url, resp));
        }
        drain(resp);
        Ok(digest.to_owned())
    }
}

/// Blobs up to this size are sent in the upload's first request.
const MONOLITHIC_POST_LIMIT: usize = 64 * 1024;

/// Reads what is left of a response so its connection goes back to the pool.
fn drain(resp: ureq::Response) {
    let _ = std::io::copy(&mut resp.into_reader().take(1 << 16), &mut std::io::sink());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges() {
        let c = parse_challenge(
            r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push""#,
        );
        assert_eq!(c.scheme, "bearer");
        assert_eq!(c.params["realm"], "https://auth.example/token");
        assert_eq!(c.params["service"], "registry.example");
        assert_eq!(c.params["scope"], "repository:a/b:pull,push");
        let c = parse_challenge(r#"Basic realm="Registry Realm""#);
        assert_eq!(c.scheme, "basic");
        assert_eq!(c.params["realm"], "Registry Realm");
    }

    #[test]
    fn bad_ca_bundle() {
        let opts =
            RegistryOptions { ca_bundle_pem: Some(b"not pem".to_vec()), ..Default::default() };
        assert!(matches!(RegistryClient::new(opts), Err(Error::Tls(_))));
    }

    #[test]
    fn unreachable_registry_is_a_transport_error() {
        // Port 1 on loopback: nothing listens there.
        let client = RegistryClient::new(RegistryOptions {
            allow_insecure: vec!["127.0.0.1:1".into()],
            ..Default::default()
        })
        .unwrap();
        let err = client.repository("127.0.0.1:1", "x").get_manifest("latest").unwrap_err();
        assert!(matches!(err, Error::Transport { .. }), "{err}");
        assert!(err.is_transport());
    }
}
