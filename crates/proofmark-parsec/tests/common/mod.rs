//! What the proofmark-parsec test crates (`service`, `kms_plugin`) share: a Parsec service on
//! its own swtpm, a scratch folder, and `openssl` as the judge of signatures.

use std::path::{Path, PathBuf};
use std::process::Command;

use proofmark_test_support::parsec::ParsecService;
use proofmark_test_support::swtpm::Swtpm;
use proofmark_types::SignatureAlgorithm;

/// A service with its TPM; the service is declared first so it stops before the TPM.
pub(crate) struct Env {
    pub(crate) service: ParsecService,
    _tpm: Swtpm,
    openssl: PathBuf,
    dir: tempfile::TempDir,
}

/// A fresh service on a fresh swtpm, its files under a temporary folder named after `prefix`;
/// `None` skips the test when a component is missing.
pub(crate) fn env(prefix: &str) -> Option<Env> {
    let openssl = proofmark_test_support::require_tool("openssl", "openssl")?;
    let tpm = Swtpm::start()?;
    let service = ParsecService::start(&tpm)?;
    // Make sure the judge is there before the test starts, not halfway through.
    service.parsec_tool()?;
    let dir = proofmark_test_support::temp_dir(prefix);
    Some(Env { service, _tpm: tpm, openssl, dir })
}

impl Env {
    /// Writes `bytes` to the file `name` of the scratch folder; returns its path.
    pub(crate) fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, bytes).expect("write a test file");
        path
    }

    /// `openssl dgst -verify`: the independent check of a signature over `message`.
    pub(crate) fn openssl_verifies(
        &self,
        algorithm: SignatureAlgorithm,
        pem: &Path,
        message: &[u8],
        der_signature: &[u8],
    ) {
        let msg = self.write("message.bin", message);
        let sig = self.write("signature.bin", der_signature);
        let mut cmd = Command::new(&self.openssl);
        cmd.args(["dgst", &format!("-{}", algorithm.hash())]).arg("-verify").arg(pem);
        if algorithm.name().starts_with("rsa-sign-pss") {
            cmd.args(["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:digest"]);
        }
        cmd.arg("-signature").arg(&sig).arg(&msg);
        assert_eq!(run(&mut cmd).trim(), "Verified OK");
    }
}

/// Runs a command and returns its stdout, failing the test with its output otherwise.
pub(crate) fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}
