//! A private certificate authority and a server certificate for `127.0.0.1`, made at test time
//! by the `openssl` command (never by the code under test), for servers such as
//! [`crate::registry::Registry`] to serve TLS with.
//!
//! Keys are EC P-256 in PKCS#8, which both Go's `crypto/tls` (docker-registry) and rustls read.
//! The certificates are valid for two days from now, so no test depends on a fixed clock.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A CA certificate and a leaf it signed for `IP:127.0.0.1` and `DNS:localhost`, in a folder.
#[derive(Debug)]
pub struct TestCa {
    dir: PathBuf,
}

impl TestCa {
    /// Makes the CA and the leaf in `dir` (which must exist) with the `openssl` at `openssl`.
    ///
    /// # Panics
    ///
    /// When an `openssl` command fails; the message shows its standard error.
    pub fn create(openssl: &Path, dir: &Path) -> TestCa {
        let run = |args: &[&str]| {
            let out = crate::isolate(&mut Command::new(openssl))
                .args(args)
                .current_dir(dir)
                .output()
                .expect("run openssl");
            assert!(
                out.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        // A name of its own, so that two test CAs are told apart by name, as real ones are.
        let folder = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let subject = format!("/CN=proofmark test CA {folder}");
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
        run(&[
            &["req", "-x509"][..],
            &ec,
            &["-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", &subject],
            &["-addext", "basicConstraints=critical,CA:TRUE"],
            &["-addext", "keyUsage=critical,keyCertSign,cRLSign"],
        ]
        .concat());
        run(&[
            &["req"][..],
            &ec,
            &["-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"],
        ]
        .concat());
        std::fs::write(
            dir.join("server.ext"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=critical,CA:FALSE\n\
             keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
        )
        .expect("write server.ext");
        run(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "server.ext",
            "-out",
            "server.pem",
        ]);
        TestCa { dir: dir.to_owned() }
    }

    /// The CA certificate (PEM): what a client trusts.
    pub fn ca_pem(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// The server certificate (PEM), signed by the CA.
    pub fn server_cert(&self) -> PathBuf {
        self.dir.join("server.pem")
    }

    /// The server's private key (PKCS#8 PEM).
    pub fn server_key(&self) -> PathBuf {
        self.dir.join("server.key")
    }
}
