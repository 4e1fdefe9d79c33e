//! One OCI registry (Debian's `docker-registry`, the CNCF distribution server 2.8) per test.
//!
//! It listens on a free loopback port with its storage in a temporary folder and deletion
//! enabled, so tests can push, pull and delete without touching anything shared. Its real
//! features stand in for scripted servers wherever it has them ([`Options`]):
//!
//! - TLS with a server certificate from a private CA that `openssl` makes at start
//!   ([`crate::tls::TestCa`]); clients trust [`Registry::ca_pem`].
//! - Basic auth from an htpasswd file that Apache's `htpasswd -B` (Debian's `apache2-utils`)
//!   writes at start: bcrypt, the only hash distribution accepts.
//!
//! What it cannot do (the OCI 1.1 referrers API, bearer-token exchange, 429s) is left to the
//! scripted servers that say so at their top, e.g. [`crate::referrers_api`].

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::net;
use crate::tls::TestCa;

const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// The user a registry started with [`Options::htpasswd`] accepts.
pub const HTPASSWD_USER: &str = "alice";
/// Their password.
pub const HTPASSWD_PASSWORD: &str = "s3cret";

/// Which of the registry's own features to turn on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// Serve HTTPS with a certificate from a fresh private CA (needs `openssl`).
    pub tls: bool,
    /// Require basic auth as [`HTPASSWD_USER`] / [`HTPASSWD_PASSWORD`] (needs `htpasswd`).
    pub htpasswd: bool,
}

/// A running registry, killed on drop together with its storage.
#[derive(Debug)]
pub struct Registry {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
    ca: Option<TestCa>,
}

impl Registry {
    /// Starts a registry with empty storage, over plain HTTP, without auth.
    ///
    /// Returns `None` (after saying why) when `docker-registry` is not installed and external
    /// components are not required; panics when they are.
    pub fn start() -> Option<Registry> {
        Self::start_with(Options::default())
    }

    /// Starts a registry that requires basic auth as [`HTPASSWD_USER`] /
    /// [`HTPASSWD_PASSWORD`] (distribution's htpasswd, over plain HTTP).
    pub fn start_with_htpasswd() -> Option<Registry> {
        Self::start_with(Options { htpasswd: true, ..Options::default() })
    }

    /// Starts a registry serving HTTPS with a certificate from its own private CA.
    pub fn start_tls() -> Option<Registry> {
        Self::start_with(Options { tls: true, ..Options::default() })
    }

    /// Starts a registry with these features; `None` (after saying why) when a program it
    /// needs is missing and external components are not required.
    pub fn start_with(options: Options) -> Option<Registry> {
        let program = crate::require_tool("docker-registry", "docker-registry")?;
        let openssl = match options.tls {
            true => Some(crate::require_tool("openssl", "openssl")?),
            false => None,
        };
        let htpasswd_program = match options.htpasswd {
            true => Some(crate::require_tool("htpasswd", "apache2-utils")?),
            false => None,
        };
        let dir = crate::temp_dir("registry");
        let htpasswd = htpasswd_program.map(|p| write_htpasswd(&p, dir.path()));
        let ca = openssl.map(|o| TestCa::create(&o, dir.path()));
        let mut last_log = String::new();
        for _ in 0..10 {
            let port = net::free_port();
            let config = dir.path().join("config.yml");
            let yaml =
                config_yaml(&dir.path().join("storage"), port, htpasswd.as_deref(), ca.as_ref());
            std::fs::write(&config, yaml).expect("write the registry config");
            let log = std::fs::File::create(dir.path().join("registry.log")).expect("log file");
            let mut child = crate::isolate(&mut Command::new(&program))
                .arg("serve")
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("clone log handle"))
                .stderr(log)
                .spawn()
                .expect("spawn docker-registry");
            let ready =
                net::wait_for_port(port, READY_TIMEOUT, || matches!(child.try_wait(), Ok(None)));
            if ready {
                return Some(Registry { child, port, dir, ca });
            }
            let _ = child.kill();
            let _ = child.wait();
            last_log = std::fs::read_to_string(dir.path().join("registry.log")).unwrap_or_default();
        }
        panic!("docker-registry did not start after 10 attempts; last log:\n{last_log}");
    }

    /// `127.0.0.1:PORT`, the registry host as image references name it.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `http://127.0.0.1:PORT`, or `https://` when it serves TLS.
    pub fn url(&self) -> String {
        let scheme = if self.ca.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", self.addr())
    }

    /// The CA certificate (PEM) that signed its server certificate, when it serves TLS.
    pub fn ca_pem(&self) -> Option<PathBuf> {
        self.ca.as_ref().map(TestCa::ca_pem)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Where the registry keeps blobs and manifests.
    pub fn storage(&self) -> PathBuf {
        self.dir.path().join("storage")
    }
}

/// An htpasswd file in `dir` made by `htpasswd -B` (bcrypt) for [`HTPASSWD_USER`], the
/// password given on standard input so that it is not on a command line.
fn write_htpasswd(program: &Path, dir: &Path) -> PathBuf {
    let path = dir.join("htpasswd");
    let mut child = crate::isolate(&mut Command::new(program))
        .args(["-B", "-c", "-i"])
        .arg(&path)
        .arg(HTPASSWD_USER)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn htpasswd");
    let mut stdin = child.stdin.take().expect("htpasswd's standard input");
    stdin.write_all(HTPASSWD_PASSWORD.as_bytes()).expect("give htpasswd the password");
    drop(stdin);
    let out = child.wait_with_output().expect("wait for htpasswd");
    assert!(out.status.success(), "htpasswd -B: {}", String::from_utf8_lossy(&out.stderr));
    path
}

fn config_yaml(storage: &Path, port: u16, htpasswd: Option<&Path>, ca: Option<&TestCa>) -> String {
    let auth = match htpasswd {
        Some(path) => {
            format!("auth:\n  htpasswd:\n    realm: proofmark-test\n    path: {}\n", path.display())
        }
        None => String::new(),
    };
    let tls = match ca {
        Some(ca) => format!(
            "  tls:\n    certificate: {}\n    key: {}\n",
            ca.server_cert().display(),
            ca.server_key().display()
        ),
        None => String::new(),
    };
    format!(
        "version: 0.1\n\
         log:\n  level: warn\n  accesslog:\n    disabled: true\n\
         storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
         {auth}http:\n  addr: 127.0.0.1:{port}\n{tls}",
        storage.display()
    )
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
