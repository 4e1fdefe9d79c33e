//! SCRIPTED SERVER: the OCI 1.1 referrers API (`GET /v2/<name>/referrers/<digest>`) in front
//! of a real docker-registry.
//!
//! It is scripted only because Debian's docker-registry (distribution 2.8) does not have that
//! API, and there is no packaged registry that does; every other request (blobs, manifests,
//! tags, deletes) is forwarded unchanged to the real [`Registry`] behind it, which stores
//! everything. The one thing answered here is what registries with the API (zot,
//! distribution 3) answer: the image index of the manifests pushed through this proxy whose
//! `subject` is the digest, with their `artifactType` and annotations, filtered by the
//! `artifactType` query parameter (and saying so in `OCI-Filters-Applied`). A manifest put with
//! a `subject` gets the `OCI-Subject` response header, as the distribution spec requires.
//!
//! The registry behind it must be plain HTTP without auth (the proxy adds neither). Requests
//! are read with `Content-Length` bodies (what proofmark sends); each client connection carries
//! one request and is then closed, and the registry's answer is passed on unchanged (plus
//! `OCI-Subject` where due, and `Connection: close`).

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::registry::Registry;

const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// A running proxy; stops accepting on drop (the registry behind it is the caller's).
#[derive(Debug)]
pub struct ReferrersApi {
    addr: String,
    stop: Arc<AtomicBool>,
    state: Arc<Mutex<State>>,
}

#[derive(Debug, Default)]
struct State {
    /// `(repository, subject digest)` → descriptors of its referrers, in push order.
    referrers: BTreeMap<(String, String), Vec<serde_json::Value>>,
    /// `METHOD PATH` of every request, in arrival order.
    requests: Vec<String>,
}

/// One parsed request.
struct Request {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

impl ReferrersApi {
    /// Starts the proxy on a free loopback port in front of `backend`.
    ///
    /// # Panics
    ///
    /// When `backend` serves TLS, or no port can be bound.
    pub fn start(backend: &Registry) -> ReferrersApi {
        assert!(backend.ca_pem().is_none(), "the referrers API proxy forwards plain HTTP only");
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let addr = listener.local_addr().expect("proxy address").to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let state = Arc::new(Mutex::new(State::default()));
        let backend = backend.addr();
        let (stop2, state2) = (stop.clone(), state.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop2.load(Ordering::Relaxed) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                let (state, backend) = (state2.clone(), backend.clone());
                std::thread::spawn(move || serve(stream, &backend, &state));
            }
        });
        ReferrersApi { addr, stop, state }
    }

    /// `127.0.0.1:PORT`, the registry host image references name.
    pub fn addr(&self) -> String {
        self.addr.clone()
    }

    /// `METHOD PATH` of every request received so far.
    pub fn requests(&self) -> Vec<String> {
        self.state.lock().expect("proxy state").requests.clone()
    }
}

impl Drop for ReferrersApi {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wake the accept loop so that it sees the flag.
        let _ = TcpStream::connect(&self.addr);
    }
}

fn serve(stream: TcpStream, backend: &str, state: &Mutex<State>) {
    let mut client = stream;
    let Some(request) = read_request(&client) else { return };
    let path = request.target.split('?').next().unwrap_or("").to_owned();
    state.lock().expect("proxy state").requests.push(format!("{} {path}", request.method));
    let response = match endpoint(&path, "referrers") {
        Some((repo, subject)) if request.method == "GET" => {
            referrers_response(state, repo, subject, &request.target)
        }
        _ => forward(backend, &request, &path, state),
    };
    let _ = client.write_all(&response);
    let _ = client.flush();
    let _ = client.shutdown(Shutdown::Both);
}

/// `(repository, reference)` of `/v2/<repository>/<kind>/<reference>`; the repository may
/// itself contain `/<kind>/`, the reference never holds a `/`.
fn endpoint<'a>(path: &'a str, kind: &str) -> Option<(&'a str, &'a str)> {
    let (rest, reference) = path.strip_prefix("/v2/")?.rsplit_once('/')?;
    let repo = rest.strip_suffix(kind)?.strip_suffix('/')?;
    (!repo.is_empty()).then_some((repo, reference))
}

fn read_request(stream: &TcpStream) -> Option<Request> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next()?.to_owned(), parts.next()?.to_owned());
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        headers.push((k.trim().to_owned(), v.trim().to_owned()));
    }
    let mut request = Request { method, target, headers, body: Vec::new() };
    if request.header("transfer-encoding").is_some() {
        panic!("the referrers API proxy reads Content-Length bodies only");
    }
    let length: usize = request.header("content-length").map_or(Ok(0), str::parse).ok()?;
    request.body = vec![0; length];
    reader.read_exact(&mut request.body).ok()?;
    Some(request)
}

/// Sends the request to the registry on a connection of its own and returns its whole
/// response; records the referrers of manifests it accepted.
fn forward(backend: &str, request: &Request, path: &str, state: &Mutex<State>) -> Vec<u8> {
    let mut upstream = TcpStream::connect(backend).expect("connect to docker-registry");
    let mut head = format!("{} {} HTTP/1.1\r\n", request.method, request.target);
    for (k, v) in &request.headers {
        if !k.eq_ignore_ascii_case("connection") {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    // Keep-alive towards the registry: with `Connection: close` Go closes without reading a
    // body it ignored, and the reset that follows can destroy its answer before we read it.
    // The response is framed here instead, and the connection dropped after it.
    head.push_str("\r\n");
    upstream.write_all(head.as_bytes()).expect("forward the request head");
    upstream.write_all(&request.body).expect("forward the request body");
    let response =
        read_response(&upstream, &request.method).expect("read docker-registry's response");
    let Some((repo, reference)) = endpoint(path, "manifests") else {
        return response;
    };
    let status = response.get(9..12).and_then(|s| std::str::from_utf8(s).ok()).unwrap_or("");
    match (request.method.as_str(), status) {
        ("PUT", "201") => {
            let digest = response_header(&response, "docker-content-digest");
            let subject = record(state, repo, request, digest.as_deref());
            if let Some(subject) = subject {
                return with_header(response, &format!("OCI-Subject: {subject}"));
            }
        }
        ("DELETE", "202") => {
            let mut state = state.lock().expect("proxy state");
            for list in state.referrers.values_mut() {
                list.retain(|d| d["digest"] != reference);
            }
        }
        _ => {}
    }
    response
}

/// One whole HTTP/1.1 response (head and body as sent, minus `Connection` headers, plus
/// `Connection: close`), framed by its `Content-Length` or chunked encoding.
fn read_response(stream: &TcpStream, method: &str) -> std::io::Result<Vec<u8>> {
    let mut reader = BufReader::new(stream);
    let mut status = String::new();
    reader.read_line(&mut status)?;
    let mut out = status.clone().into_bytes();
    let (mut length, mut chunked) = (None, false);
    loop {
        let mut h = String::new();
        reader.read_line(&mut h)?;
        if h.trim_end().is_empty() {
            break;
        }
        let (k, v) = h.split_once(':').unwrap_or((h.as_str(), ""));
        match k.trim().to_ascii_lowercase().as_str() {
            "connection" => continue,
            "content-length" => length = v.trim().parse::<usize>().ok(),
            "transfer-encoding" => chunked = v.to_ascii_lowercase().contains("chunked"),
            _ => {}
        }
        out.extend_from_slice(h.as_bytes());
    }
    out.extend_from_slice(b"Connection: close\r\n\r\n");
    let code = status.split_whitespace().nth(1).unwrap_or("");
    if method == "HEAD" || matches!(code, "204" | "304") || code.starts_with('1') {
        return Ok(out);
    }
    if chunked {
        // Passed on still chunked, as the header says.
        loop {
            let mut size = String::new();
            reader.read_line(&mut size)?;
            out.extend_from_slice(size.as_bytes());
            let n = usize::from_str_radix(size.trim().split(';').next().unwrap_or(""), 16)
                .map_err(|e| std::io::Error::other(format!("chunk size {size:?}: {e}")))?;
            let mut chunk = vec![0; n + 2];
            reader.read_exact(&mut chunk)?;
            out.extend_from_slice(&chunk);
            if n == 0 {
                return Ok(out);
            }
        }
    }
    match length {
        Some(n) => {
            let mut body = vec![0; n];
            reader.read_exact(&mut body)?;
            out.extend_from_slice(&body);
        }
        None => {
            reader.read_to_end(&mut out)?;
        }
    }
    Ok(out)
}

/// Lists a manifest with a `subject` among that subject's referrers; returns the subject.
fn record(
    state: &Mutex<State>,
    repo: &str,
    request: &Request,
    digest: Option<&str>,
) -> Option<String> {
    let manifest: serde_json::Value = serde_json::from_slice(&request.body).ok()?;
    let subject = manifest["subject"]["digest"].as_str()?.to_owned();
    let digest = digest?;
    let media_type = request
        .header("content-type")
        .map(str::to_owned)
        .or_else(|| manifest["mediaType"].as_str().map(str::to_owned))?;
    let artifact_type =
        manifest.get("artifactType").or_else(|| manifest.get("config").map(|c| &c["mediaType"]));
    let mut descriptor = serde_json::json!({
        "mediaType": media_type,
        "digest": digest,
        "size": request.body.len(),
    });
    if let Some(t) = artifact_type.filter(|t| t.is_string()) {
        descriptor["artifactType"] = t.clone();
    }
    if let Some(a) = manifest.get("annotations").filter(|a| a.is_object()) {
        descriptor["annotations"] = a.clone();
    }
    let mut state = state.lock().expect("proxy state");
    let list = state.referrers.entry((repo.to_owned(), subject.clone())).or_default();
    if !list.iter().any(|d| d["digest"] == digest) {
        list.push(descriptor);
    }
    Some(subject)
}

fn referrers_response(state: &Mutex<State>, repo: &str, subject: &str, target: &str) -> Vec<u8> {
    let filter = target
        .split_once('?')
        .map(|(_, q)| q)
        .into_iter()
        .flat_map(|q| q.split('&'))
        .find_map(|kv| kv.strip_prefix("artifactType="))
        .map(|t| t.replace("%2B", "+").replace("%2b", "+").replace("%2F", "/").replace("%2f", "/"));
    let manifests: Vec<serde_json::Value> = state
        .lock()
        .expect("proxy state")
        .referrers
        .get(&(repo.to_owned(), subject.to_owned()))
        .into_iter()
        .flatten()
        .filter(|d| filter.as_deref().is_none_or(|f| d["artifactType"] == f))
        .cloned()
        .collect();
    let body =
        serde_json::json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests})
            .to_string();
    let filtered = if filter.is_some() { "OCI-Filters-Applied: artifactType\r\n" } else { "" };
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: {OCI_INDEX}\r\nContent-Length: {}\r\n{filtered}\
         Connection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn response_header(response: &[u8], name: &str) -> Option<String> {
    let end = response.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&response[..end]).ok()?;
    head.lines().skip(1).find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
    })
}

/// `response` with one more header after the status line.
fn with_header(response: Vec<u8>, header: &str) -> Vec<u8> {
    let Some(eol) = response.windows(2).position(|w| w == b"\r\n") else { return response };
    let mut out = response[..eol + 2].to_vec();
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&response[eol + 2..]);
    out
}
