//! HTTPS with a private CA (`RegistryOptions::ca_bundle_pem`): trusted with the bundle,
//! refused without it. Certificates are made by openssl, the server is rustls.
#![allow(clippy::unwrap_used, reason = "tests")]

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use proofmark_cosign::{Error, ImageStore as _, RegistryClient, RegistryOptions};
use proofmark_test_support::require_tool;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

const MANIFEST: &[u8] =
    br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","layers":[]}"#;

fn run(openssl: &Path, dir: &Path, args: &[&str]) {
    let out = Command::new(openssl).args(args).current_dir(dir).output().unwrap();
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A CA and a leaf for 127.0.0.1 signed by it.
fn make_certs(openssl: &Path, dir: &Path) {
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    run(
        openssl,
        dir,
        &[
            &["req", "-x509"][..],
            &ec,
            &[
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "2",
                "-subj",
                "/CN=proofmark test CA",
            ],
        ]
        .concat(),
    );
    run(
        openssl,
        dir,
        &[
            &["req"][..],
            &ec,
            &["-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=127.0.0.1"],
        ]
        .concat(),
    );
    std::fs::write(
        dir.join("leaf.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    run(
        openssl,
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "leaf.ext",
            "-out",
            "leaf.pem",
        ],
    );
}

/// Serves `MANIFEST` for every request over TLS; returns `127.0.0.1:PORT`.
fn serve(dir: &Path) -> String {
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(dir.join("leaf.pem")).unwrap().map(Result::unwrap).collect();
    let key = PrivateKeyDer::from_pem_file(dir.join("leaf.key")).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for tcp in listener.incoming() {
            let config = config.clone();
            std::thread::spawn(move || {
                let conn = rustls::ServerConnection::new(config).unwrap();
                let mut tls = rustls::StreamOwned::new(conn, tcp.unwrap());
                // The client may refuse our certificate: then reading fails, and that is fine.
                let mut reader = BufReader::new(&mut tls);
                let mut line = String::new();
                while reader.read_line(&mut line).unwrap_or(0) > 2 {
                    line.clear();
                }
                drop(reader);
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.oci.image.manifest.v1+json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    MANIFEST.len()
                );
                let _ = tls.write_all(head.as_bytes()).and_then(|()| tls.write_all(MANIFEST));
                let _ = tls.flush();
            });
        }
    });
    addr
}

#[test]
fn private_ca_bundle() {
    let Some(openssl) = require_tool("openssl", "openssl") else { return };
    let dir = tempfile::tempdir().unwrap();
    make_certs(&openssl, dir.path());
    let addr = serve(dir.path());

    let ca = std::fs::read(dir.path().join("ca.pem")).unwrap();
    let trusted =
        RegistryClient::new(RegistryOptions { ca_bundle_pem: Some(ca), ..Default::default() })
            .unwrap();
    let m = trusted.repository(&addr, "tls/app").get_manifest("v1").unwrap().unwrap();
    assert_eq!(m.bytes, MANIFEST);

    // Another CA: the handshake fails, as a transport error.
    let other = tempfile::tempdir().unwrap();
    make_certs(&openssl, other.path());
    let wrong = std::fs::read(other.path().join("ca.pem")).unwrap();
    let untrusted =
        RegistryClient::new(RegistryOptions { ca_bundle_pem: Some(wrong), ..Default::default() })
            .unwrap();
    let err = untrusted.repository(&addr, "tls/app").get_manifest("v1").unwrap_err();
    assert!(matches!(err, Error::Transport { .. }), "{err}");
}
