//! The key file format on disk: shape, permissions, tpm2-tools files, no-clobber, deletion.

use std::os::unix::fs::PermissionsExt as _;

use expect_test::expect;
use proofmark_test_support::{swtpm::Swtpm, temp_dir};
use proofmark_tpm::{KeyAuth, KeyFile, ParentTemplate, Tpm, TpmSigner};
use proofmark_types::{KeyRef, SignatureAlgorithm, Signer as _};

use crate::tcti;

/// The JSON with every hex value replaced by its length in bytes.
fn shape(json: &str) -> String {
    let mut value: serde_json::Value = serde_json::from_str(json).unwrap();
    fn mask(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::String(s)
                if s.len() > 8 && s.bytes().all(|b| b.is_ascii_hexdigit()) =>
            {
                *s = format!("<{} bytes>", s.len() / 2);
            }
            serde_json::Value::Object(map) => map.values_mut().for_each(mask),
            _ => {}
        }
    }
    mask(&mut value);
    serde_json::to_string_pretty(&value).unwrap()
}

#[test]
fn key_file_shape_modes_and_deletion() {
    let Some(tpm) = Swtpm::start() else { return };
    let tcti = tcti(&tpm);
    let dir = temp_dir("tpm-keyfile");
    let path = dir.path().join("release.key");
    let key = Tpm::connect(&tcti)
        .unwrap()
        .create_key(SignatureAlgorithm::EcdsaP256Sha256, ParentTemplate::EccP256, &KeyAuth::Random)
        .unwrap();
    key.save(&path).unwrap();

    expect![[r#"
        {
          "algorithm": "ecdsa-sha2-256-nistp256",
          "auth": {
            "kind": "random",
            "value": "<32 bytes>"
          },
          "format": "proofmark-tpm-key",
          "parent": {
            "name": "<34 bytes>",
            "template": "ecc-p256"
          },
          "private": "<128 bytes>",
          "public": "<90 bytes>",
          "version": 1
        }"#]]
    .assert_eq(&shape(&std::fs::read_to_string(&path).unwrap()));

    // Only the key file: `release.pub` is, by convention, a PEM the user may own.
    let names = |d: &std::path::Path| {
        let mut v: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    assert_eq!(names(dir.path()), ["release.key"]);
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&path), 0o600);
    assert_eq!(KeyFile::load(&path).unwrap(), key);

    // create() never replaces a file; save() does.
    let err = key.create(&path).unwrap_err();
    assert!(matches!(err, proofmark_tpm::TpmError::FileExists { .. }), "{err}");
    key.save(&path).unwrap();

    // The tpm2-tools files go where the caller says, and are not replaced unasked.
    let (pub_path, priv_path) = KeyFile::tpm2_tools_paths(&dir.path().join("release.tpm2"));
    assert_eq!(pub_path, dir.path().join("release.tpm2.pub"));
    assert_eq!(priv_path, dir.path().join("release.tpm2.priv"));
    std::fs::write(&priv_path, "mine").unwrap();
    let err = key.save_tpm2_tools(&pub_path, &priv_path, false).unwrap_err();
    assert!(matches!(err, proofmark_tpm::TpmError::FileExists { .. }), "{err}");
    assert!(!pub_path.exists(), "a failed save leaves nothing behind");
    assert_eq!(std::fs::read_to_string(&priv_path).unwrap(), "mine");
    key.save_tpm2_tools(&pub_path, &priv_path, true).unwrap();
    assert_eq!((mode(&priv_path), mode(&pub_path)), (0o600, 0o644));
    // TPM2B: a big-endian u16 size, then the structure.
    let public = std::fs::read(&pub_path).unwrap();
    assert_eq!(usize::from(u16::from_be_bytes([public[0], public[1]])), public.len() - 2);
    assert_eq!(public, key.public_tpm2b().unwrap());

    // `tpm:PATH` key references open the same key.
    let key_ref: KeyRef = format!("tpm:{}", path.display()).parse().unwrap();
    let signer = TpmSigner::open_key_ref(&tcti, &key_ref, None).unwrap();
    assert_eq!(signer.public_key(), &key.public_key().unwrap());
    drop(signer);

    KeyFile::delete(&path).unwrap();
    assert!(!path.exists(), "deleted");
    assert!(pub_path.exists() && priv_path.exists(), "files the caller named are the caller's");
}
