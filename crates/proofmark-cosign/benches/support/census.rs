//! A counting proxy for the cosign bench: a loopback TCP relay in front of the registry that
//! records each HTTP request line (with its time) and each TCP connection a client opens, so
//! the bench can print how many round trips and connections each tool spends on the same
//! work. Timing is what criterion measures; these counts do not depend on the machine's load.

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// One proxy; requests and connections are counted from [`Census::reset`] on.
pub(crate) struct Census {
    addr: String,
    requests: Arc<Mutex<Vec<(Instant, String)>>>,
    connections: Arc<AtomicUsize>,
    since: Mutex<Instant>,
}

impl Census {
    /// Listens on a free loopback port and relays every connection to `upstream`.
    pub(crate) fn start(upstream: &str) -> Census {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(AtomicUsize::new(0));
        let (reqs, conns, upstream) =
            (Arc::clone(&requests), Arc::clone(&connections), upstream.to_owned());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                conns.fetch_add(1, Ordering::Relaxed);
                let Ok(server) = TcpStream::connect(&upstream) else { continue };
                let _ = (client.set_nodelay(true), server.set_nodelay(true));
                let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                std::thread::spawn(move || relay_responses(s2, c2));
                let reqs = Arc::clone(&reqs);
                std::thread::spawn(move || relay_requests(client, server, &reqs));
            }
        });
        Census { addr, requests, connections, since: Mutex::new(Instant::now()) }
    }

    /// `127.0.0.1:PORT` of the proxy.
    pub(crate) fn addr(&self) -> &str {
        &self.addr
    }

    /// Forgets what was counted so far.
    pub(crate) fn reset(&self) {
        self.requests.lock().unwrap().clear();
        self.connections.store(0, Ordering::Relaxed);
        *self.since.lock().unwrap() = Instant::now();
    }

    /// What was counted since the last reset: a one-line summary and the timeline.
    pub(crate) fn report(&self) -> (usize, String, String) {
        let requests = self.requests.lock().unwrap().clone();
        let since = *self.since.lock().unwrap();
        let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
        let mut timeline = String::new();
        for (at, line) in &requests {
            let kind = kind(line);
            *kinds.entry(kind.clone()).or_default() += 1;
            let ms = at.saturating_duration_since(since).as_secs_f64() * 1e3;
            timeline.push_str(&format!("      {ms:7.2} ms  {kind}\n"));
        }
        let summary = kinds.iter().map(|(k, n)| format!("{n}× {k}")).collect::<Vec<_>>().join(", ");
        let summary = format!(
            "{} requests on {} new connections: {summary}",
            requests.len(),
            self.connections.load(Ordering::Relaxed)
        );
        (requests.len(), summary, timeline)
    }
}

/// `GET /v2/bench/app/manifests/sha256-….sig HTTP/1.1` → `GET manifest`.
fn kind(line: &str) -> String {
    let mut parts = line.split(' ');
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let what = if path.contains("/manifests/") {
        "manifest"
    } else if path.contains("/blobs/uploads/") {
        "upload"
    } else if path.contains("/blobs/") {
        "blob"
    } else if path.contains("/referrers/") {
        "referrers"
    } else if path == "/v2/" {
        "ping"
    } else {
        path
    };
    format!("{method} {what}")
}

fn relay_responses(mut server: TcpStream, mut client: TcpStream) {
    let _ = std::io::copy(&mut server, &mut client);
    let _ = client.shutdown(Shutdown::Both);
}

/// Forwards requests one by one, recording each request line when its head arrives.
fn relay_requests(client: TcpStream, mut server: TcpStream, log: &Mutex<Vec<(Instant, String)>>) {
    let mut reader = BufReader::new(client);
    loop {
        let mut head = Vec::new();
        let mut first = String::new();
        let (mut length, mut chunked) = (0usize, false);
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => {
                    let _ = server.shutdown(Shutdown::Write);
                    return;
                }
                Ok(_) => {}
            }
            head.extend_from_slice(line.as_bytes());
            if first.is_empty() {
                first = line.trim_end().to_owned();
                log.lock().unwrap().push((Instant::now(), first.clone()));
                continue;
            }
            let lower = line.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
            if lower.starts_with("transfer-encoding:") && lower.contains("chunked") {
                chunked = true;
            }
            if line == "\r\n" {
                break;
            }
        }
        if server.write_all(&head).is_err() {
            return;
        }
        if chunked {
            loop {
                let mut size = String::new();
                if reader.read_line(&mut size).unwrap_or(0) == 0 {
                    return;
                }
                let n = usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16)
                    .unwrap_or(0);
                let mut data = vec![0; n + 2];
                if reader.read_exact(&mut data).is_err() {
                    return;
                }
                let _ = server.write_all(size.as_bytes()).and_then(|()| server.write_all(&data));
                if n == 0 {
                    break;
                }
            }
        } else if length > 0 {
            let mut body = vec![0; length];
            if reader.read_exact(&mut body).is_err() || server.write_all(&body).is_err() {
                return;
            }
        }
    }
}
