//! Typed errors: wrong auth (with and without dictionary-attack protection), corrupt and
//! foreign key files, wrong parent, wrong digests, missing TPM, Unix-socket TCTIs.

use proofmark_test_support::{net, swtpm::Swtpm, temp_dir};
use proofmark_tpm::{
    AuthValue, KeyAuth, KeyFile, ParentTemplate, StoredAuth, Tcti, Tpm, TpmError, TpmSigner,
};
use proofmark_types::{Digest, HashAlgorithm, SignError, SignatureAlgorithm, Signer as _};

use crate::{run, tcti, tool};

/// `TPM2_PT_LOCKOUT_COUNTER` as tpm2-tools reports it.
fn tools_lockout_counter(tpm: &Swtpm) -> Option<u32> {
    let out = run(tool(tpm, "tpm2_getcap")?.arg("properties-variable"));
    let text = String::from_utf8(out).unwrap();
    let line = text
        .split("TPM2_PT_LOCKOUT_COUNTER:")
        .nth(1)
        .and_then(|rest| rest.lines().next())
        .unwrap_or_else(|| panic!("no lockout counter in:\n{text}"));
    let value = line.trim().trim_start_matches("0x");
    Some(u32::from_str_radix(value, 16).unwrap())
}

#[test]
fn wrong_auth_on_a_no_da_key_does_not_touch_the_lockout_counter() {
    let Some(tpm) = Swtpm::start() else { return };
    let tcti = tcti(&tpm);
    let key = Tpm::connect(&tcti)
        .unwrap()
        .create_key(SignatureAlgorithm::EcdsaP256Sha256, ParentTemplate::EccP256, &KeyAuth::Random)
        .unwrap();
    assert!(key.public().object_attributes().no_da());
    let forged = KeyFile::new(
        key.parent(),
        key.parent_name().to_vec(),
        key.public().clone(),
        key.private().clone(),
        StoredAuth::Random(AuthValue::new(vec![7; 32]).unwrap()),
    )
    .unwrap();
    let signer = TpmSigner::open(&tcti, forged, None).unwrap();
    let digest = Digest::compute(HashAlgorithm::Sha256, b"x");
    for _ in 0..5 {
        let err = signer.try_sign_digest(&digest).unwrap_err();
        assert!(matches!(err, TpmError::WrongAuth { da_counted: false, .. }), "{err:?}");
        assert!(!format!("{err:?}{err}").contains("0707070707"), "no secrets in errors");
    }
    drop(signer);
    assert_eq!(tools_lockout_counter(&tpm).unwrap_or(0), 0);
    assert_eq!(Tpm::connect(&tcti).unwrap().lockout_counter().unwrap(), 0);
}

#[test]
fn wrong_auth_on_a_user_auth_key_counts_and_the_right_one_works() {
    let Some(tpm) = Swtpm::start() else { return };
    let tcti = tcti(&tpm);
    let right = AuthValue::new(b"right".to_vec()).unwrap();
    let key = Tpm::connect(&tcti)
        .unwrap()
        .create_key(
            SignatureAlgorithm::EcdsaP256Sha256,
            ParentTemplate::EccP256,
            &KeyAuth::User(right.clone()),
        )
        .unwrap();
    assert!(!key.public().object_attributes().no_da());
    assert!(matches!(TpmSigner::open(&tcti, key.clone(), None), Err(TpmError::AuthRequired)));

    let wrong =
        TpmSigner::open(&tcti, key.clone(), Some(AuthValue::new(b"wrong".to_vec()).unwrap()))
            .unwrap();
    let err = wrong.try_sign_digest(&Digest::compute(HashAlgorithm::Sha256, b"x")).unwrap_err();
    assert!(matches!(err, TpmError::WrongAuth { da_counted: true, .. }), "{err:?}");
    drop(wrong);
    assert_eq!(Tpm::connect(&tcti).unwrap().lockout_counter().unwrap(), 1);
    if let Some(count) = tools_lockout_counter(&tpm) {
        assert_eq!(count, 1);
    }

    let signer = TpmSigner::open(&tcti, key, Some(right)).unwrap();
    signer.sign(b"x").unwrap();
}

#[test]
fn corrupt_and_foreign_key_files_are_typed_errors() {
    let Some(tpm) = Swtpm::start() else { return };
    let tcti = tcti(&tpm);
    let dir = temp_dir("tpm-corrupt");
    let path = dir.path().join("key.json");
    let key = Tpm::connect(&tcti)
        .unwrap()
        .create_key(SignatureAlgorithm::EcdsaP256Sha256, ParentTemplate::EccP256, &KeyAuth::Random)
        .unwrap();
    key.save(&path).unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    let good = std::fs::read_to_string(&path).unwrap();

    let cases: Vec<(&str, String)> = vec![
        ("pem", "-----BEGIN PRIVATE KEY-----\nMC4CAQ==\n".to_owned()),
        ("truncated", good[..good.len() / 2].to_owned()),
        ("foreign format", good.replace("proofmark-tpm-key", "someone-else")),
        ("future version", good.replace("\"version\": 1", "\"version\": 2")),
    ];
    for (what, text) in cases {
        std::fs::write(&path, text).unwrap();
        let err = TpmSigner::open_file(&tcti, &path, None).unwrap_err();
        assert!(matches!(err, TpmError::KeyFile { .. }), "{what}: {err:?}");
        assert!(err.to_string().contains("key.json"), "{what}: {err}");
    }

    // A private blob damaged inside (valid framing): the TPM's integrity check rejects it.
    let mut private = key.private_tpm2b().unwrap();
    let last = private.len() - 1;
    private[last] ^= 0x55;
    let damaged = KeyFile::new(
        key.parent(),
        key.parent_name().to_vec(),
        key.public().clone(),
        proofmark_tpm::tss_esapi::structures::Private::try_from(&private[2..]).unwrap(),
        key.auth().clone(),
    )
    .unwrap();
    let err = TpmSigner::open(&tcti, damaged, None).unwrap_err();
    assert!(matches!(err, TpmError::KeyRejected { .. }), "{err:?}");

    let err = TpmSigner::open_file(&tcti, &dir.path().join("missing.json"), None).unwrap_err();
    assert!(matches!(err, TpmError::Io { .. }), "{err:?}");
}

#[test]
fn a_key_from_another_tpm_is_a_wrong_parent() {
    let Some(a) = Swtpm::start() else { return };
    let Some(b) = Swtpm::start() else { return };
    let key = Tpm::connect(&tcti(&a))
        .unwrap()
        .create_key(SignatureAlgorithm::EcdsaP256Sha256, ParentTemplate::EccP256, &KeyAuth::Random)
        .unwrap();
    let err = TpmSigner::open(&tcti(&b), key, None).unwrap_err();
    assert!(matches!(err, TpmError::WrongParent { .. }), "{err:?}");
}

#[test]
fn wrong_digests_never_reach_the_tpm() {
    let Some(mut tpm) = Swtpm::start() else { return };
    let tcti = tcti(&tpm);
    let key = Tpm::connect(&tcti)
        .unwrap()
        .create_key(SignatureAlgorithm::EcdsaP256Sha256, ParentTemplate::EccP256, &KeyAuth::None)
        .unwrap();
    let signer = TpmSigner::open(&tcti, key, None).unwrap();
    // With the TPM gone, only a check made before calling it can give these errors.
    tpm.kill();
    for hash in [HashAlgorithm::Sha384, HashAlgorithm::Sha512] {
        let digest = Digest::compute(hash, b"x");
        let err = signer.try_sign_digest(&digest).unwrap_err();
        assert!(matches!(err, TpmError::DigestMismatch { got, .. } if got == hash), "{err:?}");
        let err = signer.sign_digest(&digest).unwrap_err();
        assert!(matches!(err, SignError::DigestAlgorithmMismatch { .. }), "{err:?}");
    }
}

#[test]
fn no_tpm_and_unix_socket_tctis_are_explained() {
    let port = net::free_port_pair();
    let text = format!("swtpm:host=127.0.0.1,port={port}");
    let err = Tpm::connect(&Tcti::parse(&text).unwrap()).unwrap_err();
    assert!(matches!(err, TpmError::NoTpm { .. }), "{err:?}");
    assert!(err.to_string().contains(&text), "{err}");

    let err = Tcti::parse("swtpm:path=/run/swtpm.sock").unwrap_err();
    assert!(matches!(err, TpmError::UnixSocketTcti { .. }), "{err:?}");
    assert!(err.to_string().contains("localhost:2321"), "{err}");
}

#[test]
fn full_object_memory_is_a_typed_error() {
    let Some(tpm) = Swtpm::start() else { return };
    // Without a resource manager each tpm2_createprimary leaves its primary loaded: three of
    // them fill swtpm's three transient slots.
    for _ in 0..3 {
        let Some(mut cmd) = tool(&tpm, "tpm2_createprimary") else { return };
        run(cmd.args(["-C", "o", "-G", "ecc256:aes128cfb", "-c", "/dev/null"]));
    }
    let mut conn = Tpm::connect(&tcti(&tpm)).unwrap();
    let err = conn
        .create_key(SignatureAlgorithm::EcdsaP256Sha256, ParentTemplate::EccP256, &KeyAuth::None)
        .unwrap_err();
    assert!(matches!(err, TpmError::ObjectMemory { .. }), "{err:?}");
    assert!(err.to_string().contains("tpm2_flushcontext"), "{err}");
}

#[test]
fn dictionary_attack_lockout_is_typed_and_spares_no_da_keys() {
    let Some(tpm) = Swtpm::start() else { return };
    let tcti = tcti(&tpm);
    let right = AuthValue::new(b"right".to_vec()).unwrap();
    let mut conn = Tpm::connect(&tcti).unwrap();
    let guarded = conn
        .create_key(
            SignatureAlgorithm::EcdsaP256Sha256,
            ParentTemplate::EccP256,
            &KeyAuth::User(right.clone()),
        )
        .unwrap();
    let service = conn
        .create_key(SignatureAlgorithm::EcdsaP256Sha256, ParentTemplate::EccP256, &KeyAuth::Random)
        .unwrap();
    let max = conn.info().unwrap().max_auth_fail;
    drop(conn);

    let digest = Digest::compute(HashAlgorithm::Sha256, b"x");
    let wrong =
        TpmSigner::open(&tcti, guarded.clone(), Some(AuthValue::new(b"guess".to_vec()).unwrap()))
            .unwrap();
    let errors: Vec<TpmError> =
        (0..=max).map(|_| wrong.try_sign_digest(&digest).unwrap_err()).collect();
    assert!(
        errors[..max as usize]
            .iter()
            .all(|e| matches!(e, TpmError::WrongAuth { da_counted: true, .. })),
        "{errors:?}"
    );
    assert!(matches!(errors.last(), Some(TpmError::Lockout { .. })), "{errors:?}");
    drop(wrong);

    // Locked out: even the right value is refused, with the same typed error.
    let signer = TpmSigner::open(&tcti, guarded, Some(right)).unwrap();
    let err = signer.try_sign_digest(&digest).unwrap_err();
    assert!(matches!(err, TpmError::Lockout { .. }), "{err:?}");
    assert!(err.to_string().contains("tpm2_dictionarylockout"), "{err}");
    drop(signer);

    // noDA keys keep working during a lockout.
    TpmSigner::open(&tcti, service, None).unwrap().try_sign_digest(&digest).unwrap();
}
