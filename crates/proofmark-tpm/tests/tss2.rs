//! TSS2 PRIVATE KEY files against Debian's tpm2-openssl (the OpenSSL 3 `tpm2` provider) on a
//! per-test swtpm: keys openssl makes sign through [`TpmSigner`], keys we make sign through
//! `openssl pkeyutl`, and plain openssl verifies every signature. Then the bad input: foreign,
//! truncated and parentless files.

#![allow(clippy::unwrap_used, reason = "helpers of tests: a panic is the failure report")]

use std::path::Path;
use std::process::Command;

use proofmark_test_support::swtpm::Swtpm;
use proofmark_test_support::temp_dir;
use proofmark_tpm::{
    AuthValue, KeyAuth, KeyFile, KeyFileFormat, ParentTemplate, StoredAuth, Tpm, TpmError,
    TpmSigner,
};
use proofmark_types::{Digest, HashAlgorithm, PersistentHandle, SignatureAlgorithm, Signer as _};

mod common;
use common::tcti;

const MESSAGE: &[u8] = b"signed through a TSS2 key file\n";

/// Runs `cmd` in `dir`, failing the test with its output unless it succeeds.
fn run(cmd: &mut Command, dir: &Path) -> Vec<u8> {
    common::run(cmd.current_dir(dir))
}

/// `openssl ARGS -provider tpm2 -provider default` aimed at `tpm`.
fn openssl_tpm2(tpm: &Swtpm, args: &[&str]) -> Option<Command> {
    let mut cmd = tpm.openssl_tpm2()?;
    cmd.args(args).args(["-provider", "tpm2", "-provider", "default"]);
    Some(cmd)
}

/// Plain openssl (no TPM) checks `signature` over [`MESSAGE`] with the PEM public key at
/// `public`.
fn openssl_verifies(dir: &Path, algorithm: SignatureAlgorithm, public: &str, signature: &[u8]) {
    std::fs::write(dir.join("message"), MESSAGE).unwrap();
    std::fs::write(dir.join("signature"), signature).unwrap();
    let mut cmd = Command::new("openssl");
    cmd.args(["dgst", "-sha256"]);
    if algorithm.rsa_padding() == Some(proofmark_types::RsaPadding::Pss) {
        cmd.args(["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:auto"]);
    }
    cmd.args(["-verify", public, "-signature", "signature", "message"]);
    let out = run(&mut cmd, dir);
    assert_eq!(String::from_utf8_lossy(&out).trim(), "Verified OK", "{algorithm} {public}");
}

/// A key `openssl genpkey` made in the TPM: `(file, genpkey options, auth, algorithm)`. The
/// DER one shows that the format is read from the content, whatever the name.
const OPENSSL_KEYS: &[(&str, &[&str], Option<&str>, SignatureAlgorithm)] = &[
    (
        "ec.pem",
        &["-algorithm", "EC", "-pkeyopt", "group:P-256"],
        None,
        SignatureAlgorithm::EcdsaP256Sha256,
    ),
    (
        "ec-der.key",
        &["-algorithm", "EC", "-pkeyopt", "group:P-256", "-outform", "DER"],
        None,
        SignatureAlgorithm::EcdsaP256Sha256,
    ),
    (
        "rsa.pem",
        &["-algorithm", "RSA", "-pkeyopt", "bits:2048"],
        None,
        SignatureAlgorithm::RsaPkcs1v15_2048Sha256,
    ),
    (
        "ec-auth.pem",
        &["-algorithm", "EC", "-pkeyopt", "group:P-256", "-pkeyopt", "user-auth:s3cret pass"],
        Some("s3cret pass"),
        SignatureAlgorithm::EcdsaP256Sha256,
    ),
];

#[test]
fn keys_openssl_makes_sign_through_proofmark() {
    let Some(tpm) = Swtpm::start() else { return };
    let dir = temp_dir("tss2-from-openssl");
    let tcti = tcti(&tpm);
    for (name, options, auth, algorithm) in OPENSSL_KEYS {
        let key_path = dir.path().join(name);
        let Some(mut genpkey) = openssl_tpm2(&tpm, &["genpkey"]) else { return };
        genpkey.args(["-propquery", "?provider=tpm2"]).args(*options).arg("-out").arg(&key_path);
        run(&mut genpkey, dir.path());
        let public = format!("{name}.pub.pem");
        let mut export = openssl_tpm2(&tpm, &["pkey"]).unwrap();
        export.arg("-in").arg(&key_path).args(["-pubout", "-out", &public]);
        if let Some(auth) = auth {
            export.args(["-passin", &format!("pass:{auth}")]);
        }
        run(&mut export, dir.path());

        let key = KeyFile::load(&key_path).unwrap();
        assert_eq!(key.format(), KeyFileFormat::Tss2);
        assert_eq!(key.algorithm(), *algorithm, "{name}");
        assert_eq!(key.parent(), ParentTemplate::Tss2EccP256);
        assert_eq!(key.parent_handle(), None);
        let want_auth = if auth.is_some() { StoredAuth::User } else { StoredAuth::None };
        assert_eq!(key.auth(), &want_auth, "{name}");
        // The public key in the file is the one openssl exports.
        let exported = std::fs::read_to_string(dir.path().join(&public)).unwrap();
        assert_eq!(key.public_key().unwrap().to_pem(), exported, "{name}");

        let auth = auth.map(|a| AuthValue::new(a.as_bytes().to_vec()).unwrap());
        let signer = TpmSigner::open_file(&tcti, &key_path, auth).unwrap();
        let digest = Digest::compute(HashAlgorithm::Sha256, MESSAGE);
        let signature = signer.sign_digest(&digest).unwrap();
        drop(signer);
        openssl_verifies(dir.path(), *algorithm, &public, signature.as_bytes());
    }
}

/// `openssl pkeyutl -sign` with a key file we wrote, checked by plain openssl against our
/// public key.
fn openssl_signs(
    tpm: &Swtpm,
    dir: &Path,
    key: &KeyFile,
    name: &str,
    auth: Option<&str>,
) -> Option<()> {
    let key_path = dir.join(format!("{name}.pem"));
    key.create(&key_path).unwrap();
    // What is on disk is a TSS2 file that openssl's plain ASN.1 parser reads.
    let text = std::fs::read_to_string(&key_path).unwrap();
    assert!(text.starts_with("-----BEGIN TSS2 PRIVATE KEY-----\n"), "{text}");
    let public = format!("{name}.ours.pub.pem");
    std::fs::write(dir.join(&public), key.public_key().unwrap().to_pem()).unwrap();
    let digest = Digest::compute(HashAlgorithm::Sha256, MESSAGE);
    std::fs::write(dir.join("digest"), digest.as_bytes()).unwrap();
    let mut sign = openssl_tpm2(tpm, &["pkeyutl"])?;
    sign.args(["-sign", "-in", "digest", "-out", "openssl.sig", "-pkeyopt", "digest:sha256"]);
    sign.arg("-inkey").arg(&key_path);
    if key.algorithm().rsa_padding() == Some(proofmark_types::RsaPadding::Pss) {
        sign.args(["-pkeyopt", "rsa_padding_mode:pss"]);
    }
    if let Some(auth) = auth {
        sign.args(["-passin", &format!("pass:{auth}")]);
    }
    run(&mut sign, dir);
    let signature = std::fs::read(dir.join("openssl.sig")).unwrap();
    openssl_verifies(dir, key.algorithm(), &public, &signature);
    Some(())
}

#[test]
fn keys_proofmark_makes_sign_through_openssl() {
    let Some(tpm) = Swtpm::start() else { return };
    let dir = temp_dir("tss2-to-openssl");
    let tcti = tcti(&tpm);
    let cases = [
        ("ec", SignatureAlgorithm::EcdsaP256Sha256, None),
        ("rsa", SignatureAlgorithm::RsaPkcs1v15_2048Sha256, None),
        ("rsa-pss", SignatureAlgorithm::RsaPss2048Sha256, None),
        ("ec-auth", SignatureAlgorithm::EcdsaP256Sha256, Some("correct horse")),
    ];
    for (name, algorithm, auth) in cases {
        let key_auth = match auth {
            Some(a) => KeyAuth::User(AuthValue::new(a.as_bytes().to_vec()).unwrap()),
            None => KeyAuth::None,
        };
        let key = Tpm::connect(&tcti)
            .unwrap()
            .create_key(algorithm, ParentTemplate::Tss2EccP256, &key_auth)
            .unwrap()
            .with_format(KeyFileFormat::Tss2)
            .unwrap();
        if openssl_signs(&tpm, dir.path(), &key, name, auth).is_none() {
            return;
        }
        // And it reads back as the same key.
        let back = KeyFile::load(&dir.path().join(format!("{name}.pem"))).unwrap();
        assert_eq!(back, key, "{name}");
    }
}

#[test]
fn persistent_parents_both_ways_and_a_missing_one() {
    let Some(tpm) = Swtpm::start() else { return };
    let dir = temp_dir("tss2-persistent");
    let tcti = tcti(&tpm);
    let parent = PersistentHandle::new(0x8100_0101).unwrap();
    // A storage primary made persistent with tpm2-tools, as a TPM's provisioning would.
    let Some(mut create) = tpm.tpm2_tool("tpm2_createprimary") else { return };
    run(
        create.args(["-C", "o", "-g", "sha256", "-G", "ecc256:aes128cfb", "-c", "srk.ctx"]),
        dir.path(),
    );
    let mut evict = tpm.tpm2_tool("tpm2_evictcontrol").unwrap();
    run(evict.args(["-C", "o", "-c", "srk.ctx", "0x81000101"]), dir.path());
    run(tpm.tpm2_tool("tpm2_flushcontext").unwrap().arg("-t"), dir.path());

    // openssl's key under it signs through us.
    let Some(mut genpkey) = openssl_tpm2(&tpm, &["genpkey"]) else { return };
    genpkey.args(["-propquery", "?provider=tpm2", "-algorithm", "EC", "-pkeyopt", "group:P-256"]);
    run(genpkey.args(["-pkeyopt", "parent:0x81000101", "-out", "theirs.pem"]), dir.path());
    let theirs = KeyFile::load(&dir.path().join("theirs.pem")).unwrap();
    assert_eq!(theirs.parent_handle(), Some(parent));
    let signer = TpmSigner::open_file(&tcti, &dir.path().join("theirs.pem"), None).unwrap();
    let signature = signer.sign(MESSAGE).unwrap();
    drop(signer);
    let public = "theirs.pub.pem";
    std::fs::write(dir.path().join(public), theirs.public_key().unwrap().to_pem()).unwrap();
    openssl_verifies(dir.path(), theirs.algorithm(), public, signature.as_bytes());

    // Ours under it signs through openssl.
    let ours = Tpm::connect(&tcti)
        .unwrap()
        .create_key_under_persistent(SignatureAlgorithm::EcdsaP256Sha256, parent, &KeyAuth::None)
        .unwrap();
    assert_eq!(ours.format(), KeyFileFormat::Tss2);
    openssl_signs(&tpm, dir.path(), &ours, "ours", None).unwrap();
    assert!(ours.clone().with_format(KeyFileFormat::Json).is_err());

    // Without its parent, the key file is named with what is missing.
    let mut evict = tpm.tpm2_tool("tpm2_evictcontrol").unwrap();
    run(evict.args(["-C", "o", "-c", "0x81000101"]), dir.path());
    let path = dir.path().join("ours.pem");
    let err = TpmSigner::open_file(&tcti, &path, None).unwrap_err();
    assert!(
        matches!(&err, TpmError::ParentNotFound { handle: 0x8100_0101, path: Some(p) } if *p == path),
        "{err:?}"
    );
    assert_eq!(
        err.to_string().replace(&dir.path().display().to_string(), "$DIR"),
        "the parent of key file $DIR/ours.pem is the persistent key 0x81000101, which is not in \
         this TPM: use the TPM the key was made on, or make its parent persistent there again"
    );
}

#[test]
fn foreign_truncated_and_unwritable_key_files_are_typed_errors() {
    let dir = temp_dir("tss2-bad");
    let cases: &[(&str, &[u8], &str)] = &[
        (
            "public.pem",
            b"-----BEGIN PUBLIC KEY-----\nMAA=\n-----END PUBLIC KEY-----\n",
            "a `PUBLIC KEY` PEM file, not a TSS2 PRIVATE KEY (proofmark reads TSS2 PRIVATE KEY \
             files and its own JSON key files)",
        ),
        (
            "truncated.pem",
            b"-----BEGIN TSS2 PRIVATE KEY-----\nMIHwBgZngQUKAQOgAwEBAQIEQAAAAQRYAFYAIwALAAYAcgAAABAAEAADABAAIPs9\n",
            "not a TSS2 PRIVATE KEY PEM file (PEM error",
        ),
        (
            // A complete PEM file whose ASN.1 stops inside the public part.
            "short-asn1.pem",
            b"-----BEGIN TSS2 PRIVATE KEY-----\nMBQGBmeBBQoBA6ADAQH/AgRAAAABBAA=\n-----END TSS2 PRIVATE KEY-----\n",
            "malformed TPMKey ASN.1",
        ),
        ("garbage.pem", b"\x00\x01binary", "not a proofmark TPM key file"),
    ];
    for (name, bytes, needle) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let err = KeyFile::load(&path).unwrap_err();
        let TpmError::KeyFile { path: named, reason } = &err else { panic!("{name}: {err:?}") };
        assert_eq!(named, &path);
        assert!(reason.contains(needle), "{name}: {reason}");
        assert!(err.to_string().contains(name), "{err}");
    }

    // proofmark's own primaries and random auth values have no TSS2 form.
    let Some(tpm) = Swtpm::start() else { return };
    let mut tpm = Tpm::connect(&tcti(&tpm)).unwrap();
    let alg = SignatureAlgorithm::EcdsaP256Sha256;
    let ours = tpm.create_key(alg, ParentTemplate::EccP256, &KeyAuth::None).unwrap();
    let err = ours.with_format(KeyFileFormat::Tss2).unwrap_err();
    assert!(err.to_string().contains("not the ecc-p256 primary"), "{err}");
    let random = tpm.create_key(alg, ParentTemplate::Tss2EccP256, &KeyAuth::Random).unwrap();
    let err = random.with_format(KeyFileFormat::Tss2).unwrap_err();
    assert!(err.to_string().contains("cannot hold a random auth value"), "{err}");
    let err = tpm
        .create_key_under_persistent(
            alg,
            PersistentHandle::new(0x8100_0199).unwrap(),
            &KeyAuth::None,
        )
        .unwrap_err();
    assert!(matches!(err, TpmError::ParentNotFound { handle: 0x8100_0199, .. }), "{err:?}");
    assert!(!dir.path().join("anything.pem").exists());
}

/// Keys under the RSA owner primary (tpm2-tss-engine's, and tpm2-openssl's on TPMs without ECC)
/// load whether or not the file says `rsaParent`; a key from another TPM is refused.
#[test]
fn keys_under_the_rsa_owner_primary_load_with_or_without_rsa_parent() {
    let Some(tpm) = Swtpm::start() else { return };
    let dir = temp_dir("tss2-rsa-parent");
    let tcti = tcti(&tpm);
    let alg = SignatureAlgorithm::EcdsaP256Sha256;
    let key = Tpm::connect(&tcti)
        .unwrap()
        .create_key(alg, ParentTemplate::Tss2Rsa2048, &KeyAuth::None)
        .unwrap()
        .with_format(KeyFileFormat::Tss2)
        .unwrap();
    let flagged = dir.path().join("flagged.pem");
    key.create(&flagged).unwrap();
    let mut bare = proofmark_tpm::Tss2Key::from_pem(key.to_tss2_pem().unwrap().as_bytes()).unwrap();
    assert!(bare.rsa_parent);
    bare.rsa_parent = false;
    let unflagged = dir.path().join("unflagged.pem");
    std::fs::write(&unflagged, bare.to_pem().unwrap()).unwrap();
    let public = "rsa-parent.pub.pem";
    std::fs::write(dir.path().join(public), key.public_key().unwrap().to_pem()).unwrap();
    for path in [&flagged, &unflagged] {
        let signer = TpmSigner::open_file(&tcti, path, None).unwrap();
        let signature = signer.sign(MESSAGE).unwrap();
        drop(signer);
        openssl_verifies(dir.path(), alg, public, signature.as_bytes());
    }
    assert!(
        Tpm::connect(&tcti).unwrap().check_key(&KeyFile::load(&unflagged).unwrap(), None).is_ok()
    );

    // On another TPM neither primary is the parent.
    let Some(other) = Swtpm::start() else { return };
    let err = TpmSigner::open_file(&self::tcti(&other), &unflagged, None).unwrap_err();
    assert!(matches!(err, TpmError::KeyRejected { .. }), "{err:?}");
}
