//! Key files and persistent handles survive a TPM restart; a TPM that dies mid-run gives typed
//! errors and the same signer works again once it is back.

use proofmark_test_support::{swtpm::Swtpm, temp_dir};
use proofmark_tpm::{KeyAuth, ParentTemplate, Tpm, TpmError, TpmSigner};
use proofmark_types::{Digest, PersistentHandle, SignatureAlgorithm, Signer as _};

use crate::tcti;

#[test]
fn key_files_and_persistent_handles_survive_a_restart() {
    let state = temp_dir("tpm-state");
    let Some(mut tpm) = Swtpm::start_in(state.path()) else { return };
    let files = temp_dir("tpm-keys");
    let tcti = tcti(&tpm);
    let handle = PersistentHandle::new(0x8100_0010).unwrap();
    let path = files.path().join("key.json");
    let (file_pem, persistent_pem) = {
        let mut conn = Tpm::connect(&tcti).unwrap();
        let a = conn
            .create_key(
                SignatureAlgorithm::EcdsaP256Sha256,
                ParentTemplate::EccP256,
                &KeyAuth::None,
            )
            .unwrap();
        a.save(&path).unwrap();
        let b = conn
            .create_key(
                SignatureAlgorithm::EcdsaP384Sha384,
                ParentTemplate::Rsa2048,
                &KeyAuth::None,
            )
            .unwrap();
        conn.persist(&b, handle).unwrap();
        assert!(matches!(conn.persist(&b, handle), Err(TpmError::HandleInUse { .. })));
        assert_eq!(conn.list_persistent().unwrap(), vec![handle]);
        (a.public_key().unwrap().to_pem(), b.public_key().unwrap().to_pem())
    };

    tpm.restart();

    let mut conn = Tpm::connect(&tcti).unwrap();
    assert_eq!(conn.list_persistent().unwrap(), vec![handle]);
    let (algorithm, public) = conn.read_persistent(handle).unwrap();
    assert_eq!(algorithm, SignatureAlgorithm::EcdsaP384Sha384);
    assert_eq!(public.to_pem(), persistent_pem);
    drop(conn);

    let signer = TpmSigner::open_file(&tcti, &path, None).unwrap();
    assert_eq!(signer.public_key_pem(), file_pem);
    signer.sign(b"after restart").unwrap();
    drop(signer);

    let key_ref: proofmark_types::KeyRef = "tpm:0x81000010".parse().unwrap();
    let signer = TpmSigner::open_key_ref(&tcti, &key_ref, None).unwrap();
    assert_eq!(signer.public_key_pem(), persistent_pem);
    signer.sign(b"persistent after restart").unwrap();
    drop(signer);

    let mut conn = Tpm::connect(&tcti).unwrap();
    conn.evict(handle).unwrap();
    assert_eq!(conn.list_persistent().unwrap(), vec![]);
    assert!(matches!(conn.evict(handle), Err(TpmError::HandleNotFound { .. })));
    drop(conn);
    assert!(matches!(
        TpmSigner::open_persistent(&tcti, handle, None),
        Err(TpmError::HandleNotFound { .. })
    ));
}

#[test]
fn a_killed_tpm_gives_typed_errors_and_the_signer_recovers() {
    let Some(mut tpm) = Swtpm::start() else { return };
    let tcti = tcti(&tpm);
    let key = Tpm::connect(&tcti)
        .unwrap()
        .create_key(SignatureAlgorithm::EcdsaP256Sha256, ParentTemplate::EccP256, &KeyAuth::Random)
        .unwrap();
    let signer = TpmSigner::open(&tcti, key, None).unwrap();
    let digest = Digest::compute(signer.algorithm().hash(), b"x");
    signer.try_sign_digest(&digest).unwrap();

    tpm.kill();
    for _ in 0..3 {
        let err = signer.try_sign_digest(&digest).unwrap_err();
        assert!(err.needs_reconnect(), "{err:?}");
        assert!(err.to_string().contains(&tpm.tcti()), "{err}");
    }
    // Through the Signer trait too: a backend error, not a panic.
    assert!(signer.sign_digest(&digest).is_err());

    tpm.restart();
    let signature = signer.try_sign_digest(&digest).unwrap();
    proofmark_types::verify(signer.public_key(), signer.algorithm(), &digest, &signature).unwrap();
    signer.sign(b"and again").unwrap();

    // A restart between two calls (the loaded key is gone, the link looks fine) costs no error.
    tpm.restart();
    signer.sign(b"after a quiet restart").unwrap();
}

#[test]
fn a_signer_notices_when_its_persistent_handle_gets_another_key() {
    let Some(mut tpm) = Swtpm::start() else { return };
    let tcti = tcti(&tpm);
    let handle = PersistentHandle::new(0x8100_0020).unwrap();
    let mut conn = Tpm::connect(&tcti).unwrap();
    let create = |conn: &mut Tpm| {
        conn.create_key(
            SignatureAlgorithm::EcdsaP256Sha256,
            ParentTemplate::EccP256,
            &KeyAuth::None,
        )
        .unwrap()
    };
    let (a, b) = (create(&mut conn), create(&mut conn));
    conn.persist(&a, handle).unwrap();
    drop(conn);
    let signer = TpmSigner::open_persistent(&tcti, handle, None).unwrap();
    signer.sign(b"a").unwrap();

    // Swap the key while the signer is disconnected.
    tpm.restart();
    let mut conn = Tpm::connect(&tcti).unwrap();
    conn.evict(handle).unwrap();
    conn.persist(&b, handle).unwrap();
    drop(conn);

    let digest = Digest::compute(signer.algorithm().hash(), b"x");
    // The swtpm TCTI reconnects by itself and the persistent handle now names key B: the
    // software check refuses its signature, and the next call re-checks the key.
    let first = signer.try_sign_digest(&digest).unwrap_err();
    assert!(matches!(first, TpmError::BadSignature(_)), "{first:?}");
    let err = signer.try_sign_digest(&digest).unwrap_err();
    assert!(matches!(err, TpmError::KeyChanged { .. }), "{err:?}");
}
