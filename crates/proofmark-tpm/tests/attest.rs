//! Key attestation against a real software TPM: `TPM2_Certify` by an AK under the EK, checked
//! by the pure verifier of proofmark-types, by tpm2-tools (`tpm2_print`) and by OpenSSL; the EK
//! certificate chain on an swtpm manufactured with a local CA; and credential activation.

#![allow(clippy::unwrap_used, reason = "tests: a panic is the failure report")]

use std::path::Path;
use std::process::Command;

mod common;
use common::{run, tcti};

use proofmark_test_support::swtpm::{EkCa, Swtpm};
use proofmark_test_support::{require_tool, temp_dir};
use proofmark_tpm::{
    AkAlgorithm, AttestedKey, KeyAttestation, KeyAuth, KeyFile, ParentTemplate, Tcti, Tpm,
    activate_credential, attest_key,
};
use proofmark_types::tpm_attest::{
    AttestationError, Credential, EkCertError, KeyAttestationInput, make_credential,
    verify_ek_certificate, verify_key_attestation,
};
use proofmark_types::{PublicKey, SignatureAlgorithm};

const NONCE: &[u8] = b"\x01\x02\x03\x04verifier-nonce";

fn new_key(tcti: &Tcti, algorithm: SignatureAlgorithm) -> KeyFile {
    let mut tpm = Tpm::connect(tcti).unwrap();
    tpm.create_key(algorithm, ParentTemplate::EccP256, &KeyAuth::Random).unwrap()
}

fn attest(tcti: &Tcti, key: &KeyFile, ak: AkAlgorithm) -> KeyAttestation {
    let auth = match key.auth() {
        proofmark_tpm::StoredAuth::Random(v) => Some(v.clone()),
        _ => None,
    };
    attest_key(tcti, AttestedKey::File { key, auth: auth.as_ref() }, NONCE, ak).unwrap()
}

fn check(
    a: &KeyAttestation,
    key: &PublicKey,
    nonce: &[u8],
) -> Result<proofmark_types::tpm_attest::VerifiedKeyAttestation, AttestationError> {
    verify_key_attestation(&KeyAttestationInput {
        attest: &a.attest,
        signature: &a.signature,
        ak: &a.ak_key,
        ak_public: Some(&a.ak_public),
        key_public: &a.key_public,
        key,
        nonce,
    })
}

/// Writes the files tpm2-tools and OpenSSL read.
fn write_files(dir: &Path, a: &KeyAttestation) {
    std::fs::write(dir.join("attest.bin"), &a.attest).unwrap();
    std::fs::write(dir.join("attest.sig"), &a.signature).unwrap();
    std::fs::write(dir.join("ak.pub.pem"), a.ak_key.to_pem()).unwrap();
}

#[test]
fn a_tpm_key_is_certified_and_judged_by_tpm2_tools_and_openssl() {
    let Some(tpm) = Swtpm::start() else { return };
    let Some(openssl) = require_tool("openssl", "openssl") else { return };
    let tcti = tcti(&tpm);
    for (algorithm, ak) in [
        (SignatureAlgorithm::EcdsaP256Sha256, AkAlgorithm::EccP256),
        (SignatureAlgorithm::RsaPkcs1v15_2048Sha256, AkAlgorithm::Rsa2048),
    ] {
        let key = new_key(&tcti, algorithm);
        let a = attest(&tcti, &key, ak);
        let public = key.public_key().unwrap();
        let verified = check(&a, &public, NONCE).unwrap();
        assert_eq!(verified.ak_name.as_deref(), Some(a.ak_name.as_slice()));
        assert!(verified.key_attributes.to_string().contains("sensitivedataorigin"));
        // Plain swtpm has no EK certificate.
        assert_eq!(a.ek_certificate, None);

        let dir = temp_dir("attest");
        write_files(dir.path(), &a);
        let Some(mut print) = tpm.tpm2_tool("tpm2_print") else { return };
        let out = print.args(["-t", "TPMS_ATTEST"]).arg(dir.path().join("attest.bin")).output();
        let out = out.unwrap();
        let printed = String::from_utf8_lossy(&out.stdout);
        // tpm2-tools 5.x parses the whole header, then declines to print the certify part.
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() || stderr.contains("unsupported type 0x8017"),
            "{algorithm}: {stderr}"
        );
        assert!(printed.contains("type: 8017"), "{algorithm}: {printed}");
        assert!(printed.contains(&hex::encode(NONCE)), "{algorithm}: {printed}");
        assert!(printed.contains("ff544347"), "{algorithm}: {printed}");
        let verified = run(Command::new(&openssl)
            .args(["dgst", "-sha256", "-verify"])
            .arg(dir.path().join("ak.pub.pem"))
            .arg("-signature")
            .arg(dir.path().join("attest.sig"))
            .arg(dir.path().join("attest.bin")));
        assert_eq!(String::from_utf8_lossy(&verified).trim(), "Verified OK", "{algorithm}");
    }
}

#[test]
fn wrong_nonce_swapped_ak_other_bytes_and_other_keys_are_rejected() {
    let Some(tpm) = Swtpm::start() else { return };
    let tcti = tcti(&tpm);
    let key = new_key(&tcti, SignatureAlgorithm::EcdsaP256Sha256);
    let other = new_key(&tcti, SignatureAlgorithm::EcdsaP256Sha256);
    let a = attest(&tcti, &key, AkAlgorithm::EccP256);
    let b = attest(&tcti, &other, AkAlgorithm::EccP256);
    let public = key.public_key().unwrap();

    let err = check(&a, &public, b"another nonce").unwrap_err();
    assert!(matches!(err, AttestationError::WrongNonce { .. }), "{err}");
    assert!(err.to_string().contains(&hex::encode(NONCE)), "{err}");

    // The other attestation's AK.
    let swapped = KeyAttestation { ak_key: b.ak_key.clone(), ..a.clone() };
    let err = check(&swapped, &public, NONCE).unwrap_err();
    assert!(matches!(err, AttestationError::BadSignature { .. }), "{err}");

    // A valid signature, over other bytes (the other attestation).
    let spliced = KeyAttestation { attest: b.attest.clone(), ..a.clone() };
    let err = check(&spliced, &public, NONCE).unwrap_err();
    assert!(matches!(err, AttestationError::BadSignature { .. }), "{err}");

    // Another key's public half, with this key's attestation.
    let err = check(&a, &other.public_key().unwrap(), NONCE).unwrap_err();
    assert!(matches!(err, AttestationError::KeyMismatch { what: "key", .. }), "{err}");

    // Another key's public area and PEM, with this key's attestation: another name.
    let renamed = KeyAttestation { key_public: b.key_public.clone(), ..a.clone() };
    let err = check(&renamed, &other.public_key().unwrap(), NONCE).unwrap_err();
    assert!(matches!(err, AttestationError::NameMismatch { .. }), "{err}");
}

#[test]
fn an_imported_key_is_rejected() {
    let Some(tpm) = Swtpm::start() else { return };
    let Some(openssl) = require_tool("openssl", "openssl") else { return };
    let tcti = tcti(&tpm);
    let dir = temp_dir("attest-import");
    let d = dir.path();
    // An external P-256 key, imported under the same storage primary our keys use.
    run(Command::new(&openssl)
        .args(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out"])
        .arg(d.join("external.pem")));
    let Some(mut primary) = tpm.tpm2_tool("tpm2_createprimary") else { return };
    let mut child = primary
        .args(["-C", "o", "-g", "sha256", "-G", "ecc256:aes128cfb", "-a"])
        .arg("fixedtpm|fixedparent|sensitivedataorigin|userwithauth|noda|restricted|decrypt")
        .args(["-u", "-", "-c"])
        .arg(d.join("primary.ctx"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), &[0u8; 64]).unwrap();
    assert!(child.wait().unwrap().success());
    run(tpm
        .tpm2_tool("tpm2_import")
        .unwrap()
        .args(["-C"])
        .arg(d.join("primary.ctx"))
        .args(["-G", "ecc", "-a", "userwithauth|sign", "-i"])
        .arg(d.join("external.pem"))
        .arg("-u")
        .arg(d.join("imported.pub"))
        .arg("-r")
        .arg(d.join("imported.priv")));
    run(tpm.tpm2_tool("tpm2_flushcontext").unwrap().arg("-t"));
    let public = tss_esapi_public(&std::fs::read(d.join("imported.pub")).unwrap());
    let private = std::fs::read(d.join("imported.priv")).unwrap();
    let private = proofmark_tpm::tss_esapi::structures::Private::try_from(&private[2..]).unwrap();
    let key = Tpm::connect(&tcti)
        .unwrap()
        .import(public, private, ParentTemplate::EccP256, None)
        .unwrap();

    let a =
        attest_key(&tcti, AttestedKey::File { key: &key, auth: None }, NONCE, AkAlgorithm::EccP256)
            .unwrap();
    let err = check(&a, &key.public_key().unwrap(), NONCE).unwrap_err();
    assert!(matches!(err, AttestationError::WeakAttributes { imported: true, .. }), "{err}");
    assert!(err.to_string().contains("imported"), "{err}");
}

fn tss_esapi_public(tpm2b: &[u8]) -> proofmark_tpm::tss_esapi::structures::Public {
    use proofmark_tpm::tss_esapi::traits::UnMarshall as _;
    proofmark_tpm::tss_esapi::structures::Public::unmarshall(&tpm2b[2..]).unwrap()
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

#[test]
fn the_ek_certificate_chains_to_its_ca_and_the_ak_answers_the_challenge() {
    let Some(ca) = EkCa::new() else { return };
    let Some(tpm) = Swtpm::start_with_ek_cert(&ca) else { return };
    let Some(openssl) = require_tool("openssl", "openssl") else { return };
    let tcti = tcti(&tpm);
    let key = new_key(&tcti, SignatureAlgorithm::EcdsaP256Sha256);
    let a = attest(&tcti, &key, AkAlgorithm::EccP256);
    check(&a, &key.public_key().unwrap(), NONCE).unwrap();

    let cert = a.ek_certificate.clone().expect("the EK certificate from NV 0x01c00002");
    let ek = verify_ek_certificate(&cert, &std::fs::read(ca.bundle()).unwrap(), now()).unwrap();
    assert_eq!(ek, a.ek_key, "the certificate certifies the EK the TPM derives");

    // OpenSSL agrees the certificate chains to the CA.
    let dir = temp_dir("attest-ek");
    std::fs::write(dir.path().join("ek.crt"), &cert).unwrap();
    let verified = run(Command::new(&openssl)
        .args(["verify", "-CAfile"])
        .arg(ca.bundle())
        .arg(dir.path().join("ek.crt")));
    assert!(String::from_utf8_lossy(&verified).contains("OK"));

    // The verifier's challenge: only this TPM, with this AK loaded, recovers the secret.
    let secret = *b"0123456789abcdef0123456789abcdef";
    let credential = make_credential(&ek, &a.ak_name, &secret, &mut rand_core::OsRng).unwrap();
    let answer = activate_credential(&tcti, &a.ak_public, &a.ak_private, &credential).unwrap();
    assert_eq!(answer, secret);

    // A credential made for another object's name is refused by the TPM.
    let mut wrong_name = a.ak_name.clone();
    wrong_name[5] ^= 1;
    let credential = make_credential(&ek, &wrong_name, &secret, &mut rand_core::OsRng).unwrap();
    let err = activate_credential(&tcti, &a.ak_public, &a.ak_private, &credential).unwrap_err();
    assert!(err.to_string().contains("activating the credential"), "{err}");

    // tpm2-tools' offline `tpm2_makecredential` makes credentials we activate too.
    std::fs::write(dir.path().join("ek.pem"), ek.to_pem()).unwrap();
    std::fs::write(dir.path().join("secret"), secret).unwrap();
    std::fs::write(dir.path().join("ak.name"), &a.ak_name).unwrap();
    let Some(mut make) = tpm.tpm2_tool("tpm2_makecredential") else { return };
    run(make
        .args(["-T", "none", "-G", "rsa", "-u"])
        .arg(dir.path().join("ek.pem"))
        .arg("-s")
        .arg(dir.path().join("secret"))
        .arg("-n")
        .arg(hex::encode(&a.ak_name))
        .arg("-o")
        .arg(dir.path().join("cred")));
    let credential =
        Credential::from_tpm2_tools(&std::fs::read(dir.path().join("cred")).unwrap()).unwrap();
    let answer = activate_credential(&tcti, &a.ak_public, &a.ak_private, &credential).unwrap();
    assert_eq!(answer, secret);
}

#[test]
fn an_ek_certificate_from_another_ca_is_rejected() {
    let Some(ca) = EkCa::new() else { return };
    let Some(other_ca) = EkCa::new() else { return };
    let Some(tpm) = Swtpm::start_with_ek_cert(&ca) else { return };
    // The other CA exists only once it set up a TPM.
    let Some(_other) = Swtpm::start_with_ek_cert(&other_ca) else { return };
    let tcti = tcti(&tpm);
    let key = new_key(&tcti, SignatureAlgorithm::EcdsaP256Sha256);
    let a = attest(&tcti, &key, AkAlgorithm::EccP256);
    let cert = a.ek_certificate.unwrap();
    let err = verify_ek_certificate(&cert, &std::fs::read(other_ca.bundle()).unwrap(), now())
        .unwrap_err();
    assert!(matches!(err, EkCertError::UntrustedIssuer { .. }), "{err}");
    assert!(err.to_string().contains("swtpm-localca"), "{err}");
    let err =
        verify_ek_certificate(b"not a certificate", &std::fs::read(ca.bundle()).unwrap(), now())
            .unwrap_err();
    assert!(matches!(err, EkCertError::Malformed(_)), "{err}");
}
