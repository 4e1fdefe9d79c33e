//! HTTPS with a private CA (`RegistryOptions::ca_bundle_pem`): trusted with the bundle,
//! refused without it or with another CA. The server is Debian's docker-registry serving a
//! certificate that `openssl` made for the test (no scripted server).
#![allow(clippy::unwrap_used, reason = "tests")]

mod common;

use proofmark_cosign::{Error, ImageStore as _, RegistryClient, RegistryOptions};
use proofmark_test_support::registry::Registry;

fn client(ca: Option<Vec<u8>>) -> RegistryClient {
    RegistryClient::new(RegistryOptions { ca_bundle_pem: ca, ..Default::default() }).unwrap()
}

#[test]
fn private_ca_bundle() {
    let Some(reg) = Registry::start_tls() else { return };
    let ca = std::fs::read(reg.ca_pem().unwrap()).unwrap();
    let trusted = client(Some(ca)).repository(&reg.addr(), "tls/app");
    let digest = common::push_image(&trusted, "v1", "tls");
    let m = trusted.get_manifest("v1").unwrap().unwrap();
    assert_eq!(m.digest, digest);

    // The system roots, or another CA: the handshake fails, as a transport error.
    let other = Registry::start_tls().unwrap();
    let wrong = std::fs::read(other.ca_pem().unwrap()).unwrap();
    for untrusted in [client(None), client(Some(wrong))] {
        let err = untrusted.repository(&reg.addr(), "tls/app").get_manifest("v1").unwrap_err();
        assert!(matches!(err, Error::Transport { .. }), "{err}");
        assert!(err.to_string().contains("UnknownIssuer"), "{err}");
    }
}
