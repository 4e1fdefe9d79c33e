//! One software TPM (`swtpm`) per test, on a free pair of loopback ports.
//!
//! The swtpm TCTI of libtss2 talks to the server port and sets locality through the control
//! port, which must be the next port up; so we always allocate consecutive pairs. The simulator
//! is started with `--flags not-need-init,startup-clear`, so it answers commands at once
//! without `tpm2_startup`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::net;

/// How long a fresh swtpm may take to accept connections. It normally takes a few milliseconds;
/// the margin is for a loaded two-core CI machine.
const READY_TIMEOUT: Duration = Duration::from_secs(15);

/// A running swtpm, killed on drop; its state folder is removed on drop unless the caller owns it.
#[derive(Debug)]
pub struct Swtpm {
    child: Option<Child>,
    port: u16,
    state_dir: PathBuf,
    // Kept alive so the folder outlives the process; `None` when the caller owns the folder.
    _owned_state: Option<tempfile::TempDir>,
    log: PathBuf,
}

impl Swtpm {
    /// Starts a fresh simulator with its own empty state folder.
    ///
    /// Returns `None` (after saying why) when swtpm is not installed and external components
    /// are not required; panics when they are.
    pub fn start() -> Option<Swtpm> {
        crate::require_tool("swtpm", "swtpm")?;
        let dir = crate::temp_dir("swtpm");
        let state_dir = dir.path().to_owned();
        Some(Swtpm::spawn(state_dir, Some(dir)))
    }

    /// Starts a simulator on an existing state folder (created if missing), which the caller
    /// keeps: use it to check what survives a TPM restart.
    pub fn start_in(state_dir: &Path) -> Option<Swtpm> {
        crate::require_tool("swtpm", "swtpm")?;
        std::fs::create_dir_all(state_dir).expect("create the swtpm state folder");
        Some(Swtpm::spawn(state_dir.to_owned(), None))
    }

    fn spawn(state_dir: PathBuf, owned: Option<tempfile::TempDir>) -> Swtpm {
        let log = state_dir.join("swtpm.log");
        let mut tpm = Swtpm { child: None, port: 0, state_dir, _owned_state: owned, log };
        // Another process can take the ports between our probe and swtpm's bind: retry with a
        // new pair when the simulator exits early.
        for _ in 0..10 {
            let port = net::free_port_pair();
            if tpm.launch(port) {
                return tpm;
            }
        }
        panic!("swtpm did not start after 10 attempts; last log:\n{}", tpm.log_text());
    }

    /// Runs swtpm on `port`/`port + 1` and waits until it accepts connections.
    fn launch(&mut self, port: u16) -> bool {
        let child = crate::isolate(&mut Command::new("swtpm"))
            .args(["socket", "--tpm2"])
            .arg("--tpmstate")
            .arg(format!("dir={}", self.state_dir.display()))
            .args(["--server", &format!("type=tcp,port={port},bindaddr=127.0.0.1")])
            .args(["--ctrl", &format!("type=tcp,port={},bindaddr=127.0.0.1", port + 1)])
            .args(["--flags", "not-need-init,startup-clear"])
            .arg("--log")
            .arg(format!("file={},level=1", self.log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn swtpm");
        self.child = Some(child);
        self.port = port;
        let ready = net::wait_for_port(port, READY_TIMEOUT, || self.is_running());
        if !ready {
            self.kill();
        }
        ready
    }

    fn is_running(&mut self) -> bool {
        self.child.as_mut().is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// The TCTI configuration string for tss-esapi and tpm2-tools.
    pub fn tcti(&self) -> String {
        format!("swtpm:host=127.0.0.1,port={}", self.port)
    }

    /// The server port; the control port is the next one.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The folder that holds the TPM's persistent state.
    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    /// Stops the simulator abruptly (SIGKILL), as a crash or a pulled cable would; the state
    /// folder is kept.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            // The process may have exited already; either way we reap it.
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the simulator again on the same state folder and, so that clients holding the TCTI
    /// string can reconnect, on the same ports.
    ///
    /// # Panics
    ///
    /// When the ports cannot be taken back within the ready timeout.
    pub fn restart(&mut self) {
        self.kill();
        let port = self.port;
        for _ in 0..50 {
            if self.launch(port) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("swtpm could not restart on port {port}; log:\n{}", self.log_text());
    }

    /// Whether the simulator process is alive.
    pub fn running(&mut self) -> bool {
        self.is_running()
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_else(|e| format!("<no log: {e}>"))
    }

    /// A `Command` for a tpm2-tools program aimed at this simulator (`TPM2TOOLS_TCTI` set), or
    /// `None` when tpm2-tools is missing and external components are not required.
    pub fn tpm2_tool(&self, program: &str) -> Option<Command> {
        let path = crate::require_tool(program, "tpm2-tools")?;
        let mut cmd = Command::new(path);
        crate::isolate(&mut cmd);
        cmd.env("TPM2TOOLS_TCTI", self.tcti());
        Some(cmd)
    }
}

impl Swtpm {
    /// An `openssl` command with Debian's tpm2-openssl provider aimed at this simulator
    /// (`TPM2OPENSSL_TCTI` set), or `None` when openssl or the provider is missing and external
    /// components are not required. The caller adds `-provider tpm2 -provider default`.
    pub fn openssl_tpm2(&self) -> Option<Command> {
        let openssl = crate::require_tool("openssl", "openssl")?;
        if crate::openssl_tpm2_provider().is_none() {
            return crate::missing("the OpenSSL tpm2 provider (tpm2.so)", "tpm2-openssl");
        }
        let mut cmd = Command::new(openssl);
        crate::isolate(&mut cmd);
        cmd.env("TPM2OPENSSL_TCTI", self.tcti()).env("TSS2_LOG", "all+NONE");
        Some(cmd)
    }
}

impl Drop for Swtpm {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A local certificate authority for endorsement-key certificates, as `swtpm_localca` (Debian's
/// swtpm-tools) makes one: a self-signed root and an issuing CA below it, in a temporary folder.
/// The certificates exist once a TPM was set up with it ([`Swtpm::start_with_ek_cert`]).
#[derive(Debug)]
pub struct EkCa {
    dir: tempfile::TempDir,
}

impl EkCa {
    /// A new, empty CA folder with the configuration `swtpm_setup --config` and
    /// `swtpm_localca` read; `None` (after saying why) when swtpm-tools is missing and external
    /// components are not required.
    pub fn new() -> Option<EkCa> {
        crate::require_tool("swtpm_setup", "swtpm-tools")?;
        let localca = crate::require_tool("swtpm_localca", "swtpm-tools")?;
        let dir = crate::temp_dir("ekca");
        let ca = dir.path().join("ca");
        std::fs::create_dir_all(&ca).expect("create the CA folder");
        let localca_conf = dir.path().join("swtpm-localca.conf");
        std::fs::write(
            &localca_conf,
            format!(
                "statedir = {ca}\nsigningkey = {ca}/signkey.pem\nissuercert = {ca}/issuercert.pem\n\
                 certserial = {ca}/certserial\n",
                ca = ca.display()
            ),
        )
        .expect("write swtpm-localca.conf");
        let options = dir.path().join("swtpm-localca.options");
        std::fs::write(
            &options,
            "--platform-manufacturer proofmark\n--platform-version 2.1\n--platform-model test\n",
        )
        .expect("write swtpm-localca.options");
        std::fs::write(
            dir.path().join("swtpm_setup.conf"),
            format!(
                "create_certs_tool = {}\ncreate_certs_tool_config = {}\n\
                 create_certs_tool_options = {}\nactive_pcr_banks = sha256\n",
                localca.display(),
                localca_conf.display(),
                options.display()
            ),
        )
        .expect("write swtpm_setup.conf");
        Some(EkCa { dir })
    }

    /// The `swtpm_setup --config` file.
    pub fn setup_config(&self) -> PathBuf {
        self.dir.path().join("swtpm_setup.conf")
    }

    /// The self-signed root certificate (PEM), once a TPM was set up.
    pub fn root_cert(&self) -> PathBuf {
        self.dir.path().join("ca/swtpm-localca-rootca-cert.pem")
    }

    /// The issuing CA's certificate (PEM), which signs the EK certificates.
    pub fn issuer_cert(&self) -> PathBuf {
        self.dir.path().join("ca/issuercert.pem")
    }

    /// The issuing CA and the root in one PEM file (what `openssl verify -CAfile` and
    /// `proofmark key verify-attestation --ek-ca` take), written on first call.
    pub fn bundle(&self) -> PathBuf {
        let path = self.dir.path().join("ek-ca-bundle.pem");
        if !path.exists() {
            let mut pem = std::fs::read_to_string(self.issuer_cert()).expect("read the issuer CA");
            pem.push_str(&std::fs::read_to_string(self.root_cert()).expect("read the root CA"));
            std::fs::write(&path, pem).expect("write the CA bundle");
        }
        path
    }
}

impl Swtpm {
    /// Starts a simulator manufactured by `swtpm_setup --tpm2 --create-ek-cert
    /// --create-platform-cert` with `ca`: it has an RSA-2048 EK (certificate at NV index
    /// `0x01c00002`, persisted at `0x81010001`) and a P-384 ECC EK (`0x01c00016`,
    /// `0x81010016`), both certified by `ca`'s issuing CA.
    ///
    /// Returns `None` (after saying why) when swtpm or swtpm-tools is missing and external
    /// components are not required; panics when they are, or when the setup fails.
    pub fn start_with_ek_cert(ca: &EkCa) -> Option<Swtpm> {
        crate::require_tool("swtpm", "swtpm")?;
        let setup = crate::require_tool("swtpm_setup", "swtpm-tools")?;
        let dir = crate::temp_dir("swtpm");
        let log = dir.path().join("swtpm_setup.log");
        let status = crate::isolate(&mut Command::new(setup))
            .args(["--tpm2", "--create-ek-cert", "--create-platform-cert", "--overwrite"])
            .arg("--tpmstate")
            .arg(dir.path())
            .arg("--config")
            .arg(ca.setup_config())
            .arg("--logfile")
            .arg(&log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("run swtpm_setup");
        assert!(
            status.success(),
            "swtpm_setup failed ({status}); log:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        let state_dir = dir.path().to_owned();
        Some(Swtpm::spawn(state_dir, Some(dir)))
    }
}
