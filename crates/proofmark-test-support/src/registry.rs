//! One OCI registry (Debian's `docker-registry`, the CNCF distribution server) per test.
//!
//! It listens on a free loopback port with its storage in a temporary folder and deletion
//! enabled, so tests can push, pull and delete without touching anything shared. A variant
//! requires basic auth from an htpasswd file ([`Registry::start_with_htpasswd`]).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::net;

const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// The user [`Registry::start_with_htpasswd`] accepts.
pub const HTPASSWD_USER: &str = "alice";
/// Their password.
pub const HTPASSWD_PASSWORD: &str = "s3cret";
/// bcrypt of [`HTPASSWD_PASSWORD`] (the only hash distribution's htpasswd accepts), made once
/// with libxcrypt so that tests need no `htpasswd` program.
const HTPASSWD_HASH: &str = "$2b$12$xVM4/sFx326lqu5.TpbsAeK1xJZuJI4j1UbWf5oTZi3OzagKxXzYO";

/// A running registry, killed on drop together with its storage.
#[derive(Debug)]
pub struct Registry {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Registry {
    /// Starts a registry with empty storage.
    ///
    /// Returns `None` (after saying why) when `docker-registry` is not installed and external
    /// components are not required; panics when they are.
    pub fn start() -> Option<Registry> {
        Self::start_with(false)
    }

    /// Starts a registry that requires basic auth as [`HTPASSWD_USER`] /
    /// [`HTPASSWD_PASSWORD`] (distribution's htpasswd, over plain HTTP).
    pub fn start_with_htpasswd() -> Option<Registry> {
        Self::start_with(true)
    }

    fn start_with(htpasswd: bool) -> Option<Registry> {
        let program = crate::require_tool("docker-registry", "docker-registry")?;
        let dir = crate::temp_dir("registry");
        let htpasswd = htpasswd.then(|| {
            let path = dir.path().join("htpasswd");
            std::fs::write(&path, format!("{HTPASSWD_USER}:{HTPASSWD_HASH}\n"))
                .expect("write the htpasswd file");
            path
        });
        let mut last_log = String::new();
        for _ in 0..10 {
            let port = net::free_port();
            let config = dir.path().join("config.yml");
            std::fs::write(
                &config,
                config_yaml(&dir.path().join("storage"), port, htpasswd.as_deref()),
            )
            .expect("write the registry config");
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
                return Some(Registry { child, port, dir });
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

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr())
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

fn config_yaml(storage: &std::path::Path, port: u16, htpasswd: Option<&std::path::Path>) -> String {
    let auth = match htpasswd {
        Some(path) => {
            format!("auth:\n  htpasswd:\n    realm: proofmark-test\n    path: {}\n", path.display())
        }
        None => String::new(),
    };
    format!(
        "version: 0.1\n\
         log:\n  level: warn\n  accesslog:\n    disabled: true\n\
         storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
         {auth}http:\n  addr: 127.0.0.1:{port}\n",
        storage.display()
    )
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
