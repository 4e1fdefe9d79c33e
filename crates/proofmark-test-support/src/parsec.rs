//! One Parsec service (`parsec` from the `parsec-service` crate) per test, in a temporary
//! folder: its socket, its SQLite key-info database and the Mbed Crypto provider's key store
//! (which Parsec keeps in its working directory) all live there.
//!
//! The TPM provider comes first, so it is the service's default provider, on the given
//! [`Swtpm`] with an empty owner authorisation (a fresh simulator); the Mbed Crypto provider
//! comes second. Clients authenticate with Unix peer credentials, so their identity is their
//! uid. Both binaries come from crates.io through [`crate::tools`].

use std::os::unix::fs::{FileTypeExt as _, MetadataExt as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::swtpm::Swtpm;

/// How long the service may take to open its socket. The TPM provider creates an RSA-2048
/// primary key at start-up, which takes a few seconds on a loaded two-core machine.
const READY_TIMEOUT: Duration = Duration::from_secs(90);

/// A running Parsec service, killed on drop together with its folder.
#[derive(Debug)]
pub struct ParsecService {
    program: PathBuf,
    child: Option<Child>,
    dir: tempfile::TempDir,
}

impl ParsecService {
    /// Writes a configuration for `swtpm` and starts the service, waiting for its socket.
    ///
    /// Returns `None` (after saying why) when the service cannot be built or swtpm's tools are
    /// missing and external components are not required; panics when they are, or when the
    /// service does not come up.
    pub fn start(swtpm: &Swtpm) -> Option<ParsecService> {
        let program = crate::tools::cargo_tool("parsec")?;
        let dir = crate::temp_dir("parsec");
        let config = config_toml(dir.path(), &swtpm.tcti(), running_as_root());
        std::fs::write(dir.path().join("config.toml"), config).expect("write the Parsec config");
        let mut service = ParsecService { program, child: None, dir };
        service.launch();
        Some(service)
    }

    fn launch(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("open the Parsec log");
        let child = crate::isolate(&mut Command::new(&self.program))
            .arg("--config")
            .arg(self.dir.path().join("config.toml"))
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone the log handle"))
            .stderr(log)
            .spawn()
            .expect("spawn parsec");
        self.child = Some(child);
        let deadline = Instant::now() + READY_TIMEOUT;
        while Instant::now() < deadline {
            if self.socket_ready() {
                return;
            }
            if !self.running() {
                panic!("the Parsec service exited during start-up; log:\n{}", self.log_text());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.stop();
        panic!("the Parsec service did not open its socket in {READY_TIMEOUT:?}; log:\n{}", {
            self.log_text()
        });
    }

    fn socket_ready(&self) -> bool {
        let is_socket = self.socket().metadata().is_ok_and(|m| m.file_type().is_socket());
        is_socket && std::os::unix::net::UnixStream::connect(self.socket()).is_ok()
    }

    /// The socket path.
    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("parsec.sock")
    }

    /// `unix:<socket>`, the value of `PARSEC_SERVICE_ENDPOINT` for clients.
    pub fn endpoint(&self) -> String {
        format!("unix:{}", self.socket().display())
    }

    /// The service's folder (config, log, key stores).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Whether the service process is alive.
    pub fn running(&mut self) -> bool {
        self.child.as_mut().is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Stops the service abruptly (SIGKILL), as a crash would: the socket file stays behind
    /// and nothing answers on it. Keys and their mappings are kept.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // It may have exited already; either way we reap it.
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the service again with the same configuration and key stores (the service
    /// replaces the stale socket file).
    pub fn restart(&mut self) {
        self.stop();
        self.launch();
    }

    /// A `parsec-tool` command aimed at this service (`PARSEC_SERVICE_ENDPOINT` set), or `None`
    /// when parsec-tool cannot be had and external components are not required.
    pub fn parsec_tool(&self) -> Option<Command> {
        let program = crate::tools::cargo_tool("parsec-tool")?;
        let mut cmd = Command::new(program);
        crate::isolate(&mut cmd);
        cmd.env("PARSEC_SERVICE_ENDPOINT", self.endpoint());
        Some(cmd)
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("parsec.log")
    }

    /// The service's log so far, for failure messages.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_else(|e| format!("<no log: {e}>"))
    }
}

impl Drop for ParsecService {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Parsec refuses to run as root unless told to; we only tell it so when we are root.
fn running_as_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// The service configuration: socket, key-info database and stores under `dir`.
fn config_toml(dir: &Path, tcti: &str, allow_root: bool) -> String {
    let socket = dir.join("parsec.sock");
    let db = dir.join("kim.sqlite3");
    // Paths come from `tempfile` and contain no quotes or backslashes; `{:?}` quotes them.
    format!(
        r#"[core_settings]
allow_root = {allow_root}
log_level = "info"
log_error_details = true

[listener]
listener_type = "DomainSocket"
timeout = 200
socket_path = {socket:?}

[authenticator]
auth_type = "UnixPeerCredentials"

[[key_manager]]
name = "sqlite-manager"
manager_type = "SQLite"
sqlite_db_path = {db:?}

[[provider]]
provider_type = "Tpm"
key_info_manager = "sqlite-manager"
tcti = {tcti:?}
owner_hierarchy_auth = ""

[[provider]]
provider_type = "MbedCrypto"
key_info_manager = "sqlite-manager"
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_names_everything_in_the_folder() {
        let text = config_toml(Path::new("/tmp/p"), "swtpm:host=127.0.0.1,port=20000", false);
        assert!(text.contains("socket_path = \"/tmp/p/parsec.sock\""), "{text}");
        assert!(text.contains("sqlite_db_path = \"/tmp/p/kim.sqlite3\""), "{text}");
        assert!(text.contains("allow_root = false"), "{text}");
        let tpm = text.find("\"Tpm\"").expect("TPM provider");
        let mbed = text.find("\"MbedCrypto\"").expect("Mbed Crypto provider");
        assert!(tpm < mbed, "the TPM provider must be the default: {text}");
    }
}
