//! Every algorithm signs, and OpenSSL verifies the signature with our exported PEM.

use proofmark_test_support::{require_tool, swtpm::Swtpm, temp_dir};
use proofmark_tpm::{
    AuthValue, KeyAuth, ParentTemplate, SessionKind, StoredAuth, Tpm, TpmError, TpmSigner,
};
use proofmark_types::{PersistentHandle, SignError, SignatureAlgorithm, Signer as _};

use crate::{openssl_verify, tcti};

fn signs_and_openssl_verifies(algorithm: SignatureAlgorithm, parent: ParentTemplate) {
    let Some(tpm) = Swtpm::start() else { return };
    let Some(openssl) = require_tool("openssl", "openssl") else { return };
    let dir = temp_dir("tpm-sign");
    let tcti = tcti(&tpm);
    let key = Tpm::connect(&tcti).unwrap().create_key(algorithm, parent, &KeyAuth::Random).unwrap();
    let path = dir.path().join("key.json");
    key.save(&path).unwrap();
    let signer = TpmSigner::open_file(&tcti, &path, None).unwrap();
    assert_eq!(signer.algorithm(), algorithm);
    for message in [&b""[..], b"proofmark", &[0xa5; 1000]] {
        let signature = signer.sign(message).unwrap();
        assert_eq!(signature.algorithm(), algorithm);
        openssl_verify(
            &openssl,
            dir.path(),
            algorithm,
            &signer.public_key_pem(),
            message,
            signature.as_bytes(),
        );
        if algorithm.is_ecdsa() {
            let raw = signature.to_raw_rs().unwrap();
            assert_eq!(raw.len(), 2 * algorithm.ec_curve().unwrap().field_size());
        }
    }
}

#[test]
fn ecdsa_p256() {
    signs_and_openssl_verifies(SignatureAlgorithm::EcdsaP256Sha256, ParentTemplate::EccP256);
}

#[test]
fn ecdsa_p384() {
    signs_and_openssl_verifies(SignatureAlgorithm::EcdsaP384Sha384, ParentTemplate::EccP256);
}

#[test]
fn ecdsa_p256_under_an_rsa_parent() {
    signs_and_openssl_verifies(SignatureAlgorithm::EcdsaP256Sha256, ParentTemplate::Rsa2048);
}

#[test]
fn rsa_pkcs1_2048() {
    signs_and_openssl_verifies(SignatureAlgorithm::RsaPkcs1v15_2048Sha256, ParentTemplate::EccP256);
}

#[test]
fn rsa_pkcs1_3072() {
    signs_and_openssl_verifies(SignatureAlgorithm::RsaPkcs1v15_3072Sha256, ParentTemplate::EccP256);
}

#[test]
fn rsa_pss_2048() {
    signs_and_openssl_verifies(SignatureAlgorithm::RsaPss2048Sha256, ParentTemplate::EccP256);
}

#[test]
fn rsa_pss_3072() {
    signs_and_openssl_verifies(SignatureAlgorithm::RsaPss3072Sha256, ParentTemplate::EccP256);
}

#[test]
fn probe_reports_the_simulator() {
    let Some(tpm) = Swtpm::start() else { return };
    let info = Tpm::connect(&tcti(&tpm)).unwrap().info().unwrap();
    assert_eq!(info.manufacturer, "IBM");
    assert_eq!(info.tcti, tpm.tcti());
    assert!(info.algorithms.contains(&SignatureAlgorithm::EcdsaP256Sha256), "{info:?}");
    assert!(info.transient_slots >= 3, "{info:?}");
    assert_eq!(info.lockout_counter, 0);
}

#[test]
fn one_signer_serves_many_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<TpmSigner>();

    let Some(tpm) = Swtpm::start() else { return };
    let tcti = tcti(&tpm);
    let key = Tpm::connect(&tcti)
        .unwrap()
        .create_key(SignatureAlgorithm::EcdsaP256Sha256, ParentTemplate::EccP256, &KeyAuth::Random)
        .unwrap();
    let signer = std::sync::Arc::new(TpmSigner::open(&tcti, key, None).unwrap());
    let threads: Vec<_> = (0..4)
        .map(|i| {
            let signer = std::sync::Arc::clone(&signer);
            std::thread::spawn(move || {
                for j in 0..10 {
                    let message = format!("thread {i} message {j}");
                    let signature = signer.sign(message.as_bytes()).unwrap();
                    proofmark_types::verify_message(
                        signer.public_key(),
                        signer.algorithm(),
                        message.as_bytes(),
                        &signature,
                    )
                    .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn salted_hmac_sessions_sign_and_still_check_auth() {
    let Some(tpm) = Swtpm::start() else { return };
    let Some(openssl) = require_tool("openssl", "openssl") else { return };
    let dir = temp_dir("tpm-salted");
    let tcti = tcti(&tpm);
    let right = AuthValue::new(b"bus sniffers see nothing".to_vec()).unwrap();
    let mut conn = Tpm::connect(&tcti).unwrap();
    let ecc = conn
        .create_key(SignatureAlgorithm::EcdsaP256Sha256, ParentTemplate::EccP256, &KeyAuth::Random)
        .unwrap();
    let rsa = conn
        .create_key(
            SignatureAlgorithm::RsaPss2048Sha256,
            ParentTemplate::Rsa2048,
            &KeyAuth::User(right.clone()),
        )
        .unwrap();
    let handle = PersistentHandle::new(0x8100_0030).unwrap();
    conn.persist(&ecc, handle).unwrap();
    drop(conn);

    let StoredAuth::Random(ecc_auth) = ecc.auth().clone() else { panic!("random auth expected") };
    let signers = [
        TpmSigner::open_with_session(&tcti, ecc, None, SessionKind::SaltedHmac).unwrap(),
        TpmSigner::open_with_session(&tcti, rsa.clone(), Some(right), SessionKind::SaltedHmac)
            .unwrap(),
        TpmSigner::open_persistent_with_session(
            &tcti,
            handle,
            Some(ecc_auth),
            SessionKind::SaltedHmac,
        )
        .unwrap(),
    ];
    for signer in &signers {
        for message in [&b"one"[..], b"two"] {
            let signature = signer.sign(message).unwrap();
            openssl_verify(
                &openssl,
                dir.path(),
                signer.algorithm(),
                &signer.public_key_pem(),
                message,
                signature.as_bytes(),
            );
        }
    }
    drop(signers);

    let wrong = TpmSigner::open_with_session(
        &tcti,
        rsa,
        Some(AuthValue::new(b"guess".to_vec()).unwrap()),
        SessionKind::SaltedHmac,
    )
    .unwrap();
    let err = wrong.sign(b"x").unwrap_err();
    let SignError::Backend { source, .. } = err else { panic!("{err:?}") };
    let err = source.downcast_ref::<TpmError>().unwrap();
    assert!(matches!(err, TpmError::WrongAuth { da_counted: true, .. }), "{err:?}");
}
