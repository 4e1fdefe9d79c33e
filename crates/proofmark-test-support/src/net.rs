//! Free loopback ports and readiness probes.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

/// Where we start looking for port pairs: above the well-known simulator ports (2321/2322) and
/// below the usual ephemeral range, so the kernel does not hand them out to other clients.
const FIRST_PORT: u16 = 20_000;
const LAST_PORT: u16 = 32_000;

// Spread parallel test binaries apart: each process starts at an offset from its pid, and
// threads within a process take successive candidates from one counter.
static NEXT: AtomicU16 = AtomicU16::new(0);

fn next_candidate() -> u16 {
    let span = LAST_PORT - FIRST_PORT;
    let offset = (std::process::id() % u32::from(span / 2)) as u16 * 2;
    let step = NEXT.fetch_add(2, Ordering::Relaxed);
    FIRST_PORT + (offset.wrapping_add(step) % span)
}

fn is_free(port: u16) -> bool {
    TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).is_ok()
}

/// A port `p` such that `p` and `p + 1` are both free on 127.0.0.1 right now.
///
/// Another process may still take them before the caller binds them: callers retry on failure.
///
/// # Panics
///
/// When no free pair is found after many attempts.
pub fn free_port_pair() -> u16 {
    for _ in 0..2_000 {
        let port = next_candidate();
        if is_free(port) && is_free(port + 1) {
            return port;
        }
    }
    panic!("no free pair of loopback ports between {FIRST_PORT} and {LAST_PORT}");
}

/// A single free port on 127.0.0.1 right now.
pub fn free_port() -> u16 {
    free_port_pair()
}

/// Polls a TCP connect to `127.0.0.1:port` until it succeeds or `timeout` passes; `alive` is
/// asked between attempts so a crashed process ends the wait early.
pub fn wait_for_port(port: u16, timeout: Duration, mut alive: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    while Instant::now() < deadline {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return true;
        }
        if !alive() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}
