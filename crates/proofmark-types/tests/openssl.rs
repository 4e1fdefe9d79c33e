//! Interoperability with OpenSSL, the independent judge, for every signature algorithm:
//!
//! 1. our signer's signatures verify with `openssl dgst -verify`, using the PEM we export;
//! 2. signatures made by `openssl dgst -sign` with keys from `openssl genpkey` verify with our
//!    [`verify`], and those PKCS#8 keys load into our signer with the same public key;
//! 3. our DER ⇄ `r || s` conversion agrees with `openssl asn1parse` on signatures from both sides,
//!    including signatures whose `r` or `s` is shorter than the field.
//!
//! Gated on the `openssl` binary through `proofmark_test_support::require_tool`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use proofmark_types::{
    Digest, KeyKind, PublicKey, RsaPadding, Signature, SignatureAlgorithm, Signer, SoftwareSigner,
    VerifyError, verify, verify_message,
};
use tempfile::TempDir;

const MESSAGE: &[u8] = b"proofmark: the payload that gets signed\n";

fn openssl() -> Option<PathBuf> {
    proofmark_test_support::require_tool("openssl", "openssl")
}

/// Runs openssl in `dir`; returns (success, stdout + stderr).
fn run(openssl: &Path, dir: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(openssl).args(args).current_dir(dir).output().unwrap();
    let text =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

fn run_ok(openssl: &Path, dir: &Path, args: &[&str]) -> String {
    let (ok, text) = run(openssl, dir, args);
    assert!(ok, "openssl {args:?} failed:\n{text}");
    text
}

fn dgst_flag(alg: SignatureAlgorithm) -> &'static str {
    match alg.hash().name() {
        "sha384" => "-sha384",
        "sha512" => "-sha512",
        _ => "-sha256",
    }
}

/// The `-sigopt` arguments for `openssl dgst` to use `alg`'s padding. For PSS on the verifying
/// side, `saltlen` is `digest` (salt length must equal the hash length: what we produce) or
/// `-1` (same, older spelling); on the signing side OpenSSL's default is the maximum salt length.
fn padding_opts(alg: SignatureAlgorithm, saltlen: Option<&'static str>) -> Vec<String> {
    match alg.rsa_padding() {
        Some(RsaPadding::Pss) => {
            let mut v = vec!["-sigopt".into(), "rsa_padding_mode:pss".into()];
            if let Some(s) = saltlen {
                v.extend(["-sigopt".into(), format!("rsa_pss_saltlen:{s}")]);
            }
            v
        }
        Some(RsaPadding::Pkcs1v15) => vec!["-sigopt".into(), "rsa_padding_mode:pkcs1".into()],
        None => Vec::new(),
    }
}

fn genpkey_args(alg: SignatureAlgorithm) -> Vec<String> {
    match alg.key_kind() {
        KeyKind::Ec(curve) => vec![
            "-algorithm".into(),
            "EC".into(),
            "-pkeyopt".into(),
            format!("ec_paramgen_curve:{}", curve.name()),
        ],
        KeyKind::Rsa { bits } => vec![
            "-algorithm".into(),
            "RSA".into(),
            "-pkeyopt".into(),
            format!("rsa_keygen_bits:{bits}"),
        ],
        other => panic!("no genpkey arguments for {other}"),
    }
}

/// A PKCS#8 PEM made by our own `generate` and `to_pkcs8_pem`, one per key kind per test binary
/// (RSA generation is slow in debug builds; PKCS#1 v1.5 and PSS share the key).
fn our_key_pem(alg: SignatureAlgorithm) -> &'static str {
    static P256: OnceLock<String> = OnceLock::new();
    static P384: OnceLock<String> = OnceLock::new();
    static RSA2048: OnceLock<String> = OnceLock::new();
    static RSA3072: OnceLock<String> = OnceLock::new();
    let cell = match alg.key_kind() {
        KeyKind::Ec(c) if c.name() == "P-256" => &P256,
        KeyKind::Ec(_) => &P384,
        KeyKind::Rsa { bits: 2048 } => &RSA2048,
        _ => &RSA3072,
    };
    cell.get_or_init(|| {
        let signer = SoftwareSigner::generate(alg).unwrap();
        signer.to_pkcs8_pem().unwrap().to_string()
    })
}

fn our_signer(alg: SignatureAlgorithm) -> SoftwareSigner {
    SoftwareSigner::from_pkcs8_pem(our_key_pem(alg).as_bytes(), Some(alg)).unwrap()
}

/// (1) Our signature over a message, checked by `openssl dgst -verify` with our exported PEM.
fn ours_verified_by_openssl(alg: SignatureAlgorithm) {
    let Some(openssl) = openssl() else { return };
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    let signer = our_signer(alg);
    assert_eq!(signer.algorithm(), alg);
    let sig = signer.sign(MESSAGE).unwrap();
    std::fs::write(d.join("msg"), MESSAGE).unwrap();
    std::fs::write(d.join("tampered"), b"something else").unwrap();
    std::fs::write(d.join("pub.pem"), signer.public_key().to_pem()).unwrap();
    std::fs::write(d.join("sig"), sig.as_bytes()).unwrap();

    let saltlens: &[Option<&str>] = if alg.rsa_padding() == Some(RsaPadding::Pss) {
        &[Some("digest"), Some("-1")]
    } else {
        &[None]
    };
    for &saltlen in saltlens {
        let mut args: Vec<String> = vec!["dgst".into(), dgst_flag(alg).into()];
        args.extend(padding_opts(alg, saltlen));
        args.extend(["-verify".into(), "pub.pem".into(), "-signature".into(), "sig".into()]);
        let args_for = |file: &str| {
            let mut a = args.clone();
            a.push(file.into());
            a
        };
        let ok = args_for("msg");
        let out = run_ok(&openssl, d, &ok.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(out.contains("Verified OK"), "{alg}: {out}");
        // The judge is not a rubber stamp: the same signature over other bytes fails.
        let bad = args_for("tampered");
        let (success, out) = run(&openssl, d, &bad.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(!success && out.contains("Verification failure"), "{alg}: {out}");
    }

    // The public key we export is the one OpenSSL derives from our private key.
    std::fs::write(d.join("key.pem"), our_key_pem(alg)).unwrap();
    run_ok(&openssl, d, &["pkey", "-in", "key.pem", "-pubout", "-out", "derived.pem"]);
    let derived = std::fs::read_to_string(d.join("derived.pem")).unwrap();
    assert_eq!(derived, signer.public_key().to_pem(), "{alg}");
}

/// (2) OpenSSL's key and signature, checked by our `verify`.
fn openssl_verified_by_us(alg: SignatureAlgorithm) {
    let Some(openssl) = openssl() else { return };
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    std::fs::write(d.join("msg"), MESSAGE).unwrap();
    let mut gen_args: Vec<String> = vec!["genpkey".into()];
    gen_args.extend(genpkey_args(alg));
    gen_args.extend(["-out".into(), "key.pem".into()]);
    run_ok(&openssl, d, &gen_args.iter().map(String::as_str).collect::<Vec<_>>());
    run_ok(&openssl, d, &["pkey", "-in", "key.pem", "-pubout", "-out", "pub.pem"]);
    run_ok(
        &openssl,
        d,
        &["pkey", "-pubin", "-in", "pub.pem", "-outform", "DER", "-out", "pub.der"],
    );

    let pem = std::fs::read(d.join("pub.pem")).unwrap();
    let public_key = PublicKey::from_pem(&pem).unwrap();
    assert_eq!(public_key.key_kind(), alg.key_kind());
    assert!(public_key.supports(alg));
    assert_eq!(public_key.to_pem().as_bytes(), pem, "{alg}: PEM re-encoding differs");
    assert_eq!(public_key.as_der(), std::fs::read(d.join("pub.der")).unwrap());
    // Fingerprint = SHA-256 of the DER SPKI, computed by openssl.
    let out = run_ok(&openssl, d, &["dgst", "-sha256", "-r", "pub.der"]);
    let openssl_hex = out.split_whitespace().next().unwrap();
    assert_eq!(public_key.fingerprint_sha256().to_string(), format!("sha256:{openssl_hex}"));

    // OpenSSL's PKCS#8 private key loads into our signer with the same public key.
    let key_pem = std::fs::read(d.join("key.pem")).unwrap();
    let signer = SoftwareSigner::from_pkcs8_pem(&key_pem, Some(alg)).unwrap();
    assert_eq!(signer.public_key(), &public_key);

    // PSS: OpenSSL signs with its default (maximum) salt length and with salt = digest length;
    // we must accept both.
    let saltlens: &[Option<&str>] = if alg.rsa_padding() == Some(RsaPadding::Pss) {
        &[None, Some("digest"), Some("max")]
    } else {
        &[None]
    };
    for &saltlen in saltlens {
        let mut args: Vec<String> = vec!["dgst".into(), dgst_flag(alg).into()];
        args.extend(padding_opts(alg, saltlen));
        args.extend(["-sign".into(), "key.pem".into(), "-out".into(), "sig".into(), "msg".into()]);
        run_ok(&openssl, d, &args.iter().map(String::as_str).collect::<Vec<_>>());
        let sig_bytes = std::fs::read(d.join("sig")).unwrap();
        let sig = Signature::new(alg, &sig_bytes).unwrap();
        assert_eq!(sig.as_bytes(), sig_bytes);
        verify_message(&public_key, alg, MESSAGE, &sig)
            .unwrap_or_else(|e| panic!("{alg} saltlen {saltlen:?}: {e}"));
        assert_eq!(
            verify_message(&public_key, alg, b"other message", &sig),
            Err(VerifyError::BadSignature)
        );
        // And our signer (on OpenSSL's key) agrees with our verifier.
        let ours = signer.sign(MESSAGE).unwrap();
        verify(&public_key, alg, &Digest::compute(alg.hash(), MESSAGE), &ours).unwrap();
    }
}

macro_rules! per_algorithm {
    ($($name:ident => $alg:ident),* $(,)?) => {$(
        mod $name {
            use super::*;
            #[test]
            fn our_signature_verifies_with_openssl() {
                ours_verified_by_openssl(SignatureAlgorithm::$alg);
            }
            #[test]
            fn openssl_signature_verifies_with_ours() {
                openssl_verified_by_us(SignatureAlgorithm::$alg);
            }
        }
    )*};
}

per_algorithm! {
    ecdsa_p256 => EcdsaP256Sha256,
    ecdsa_p384 => EcdsaP384Sha384,
    rsa_pkcs1_2048 => RsaPkcs1v15_2048Sha256,
    rsa_pkcs1_3072 => RsaPkcs1v15_3072Sha256,
    rsa_pss_2048 => RsaPss2048Sha256,
    rsa_pss_3072 => RsaPss3072Sha256,
}

#[test]
fn every_algorithm_is_covered() {
    // Guards the list above: a new algorithm must get its openssl tests.
    assert_eq!(SignatureAlgorithm::ALL.len(), 6);
}

/// The two INTEGERs of a DER ECDSA signature, as `openssl asn1parse` prints them (uppercase hex,
/// no leading zero bytes... but possibly a leading `0` nibble), normalised to lowercase without
/// leading zeros.
fn asn1parse_integers(openssl: &Path, dir: &Path, file: &str) -> Vec<String> {
    let out = run_ok(openssl, dir, &["asn1parse", "-inform", "DER", "-in", file]);
    out.lines()
        .filter(|l| l.contains("INTEGER"))
        .map(|l| {
            let hex = l.rsplit(':').next().unwrap().trim();
            hex.trim_start_matches('0').to_ascii_lowercase()
        })
        .collect()
}

fn strip_hex(bytes: &[u8]) -> String {
    hex::encode(bytes).trim_start_matches('0').to_owned()
}

/// Checks our view of `sig` (r and s) against `openssl asn1parse`, and the raw form's padding.
fn check_against_asn1parse(openssl: &Path, dir: &Path, sig: &Signature) {
    let field = sig.algorithm().ec_curve().unwrap().field_size();
    std::fs::write(dir.join("sig.der"), sig.as_bytes()).unwrap();
    let ints = asn1parse_integers(openssl, dir, "sig.der");
    let (r, s) = sig.scalars().unwrap();
    assert_eq!(ints, vec![strip_hex(&r), strip_hex(&s)]);
    let raw = sig.to_raw_rs().unwrap();
    assert_eq!(raw.len(), 2 * field);
    assert_eq!(raw, [r, s].concat());
    assert_eq!(&Signature::from_raw_rs(sig.algorithm(), &raw).unwrap(), sig);
}

/// (3) DER ⇄ `r || s` against `openssl asn1parse`, on signatures from both sides.
#[test]
fn raw_rs_and_der_agree_with_openssl_asn1parse() {
    let Some(openssl) = openssl() else { return };
    for alg in [SignatureAlgorithm::EcdsaP256Sha256, SignatureAlgorithm::EcdsaP384Sha384] {
        let dir = TempDir::new().unwrap();
        let d = dir.path();
        std::fs::write(d.join("msg"), MESSAGE).unwrap();

        // OpenSSL's signatures.
        let mut gen_args: Vec<String> = vec!["genpkey".into()];
        gen_args.extend(genpkey_args(alg));
        gen_args.extend(["-out".into(), "key.pem".into()]);
        run_ok(&openssl, d, &gen_args.iter().map(String::as_str).collect::<Vec<_>>());
        for _ in 0..4 {
            run_ok(
                &openssl,
                d,
                &["dgst", dgst_flag(alg), "-sign", "key.pem", "-out", "o.der", "msg"],
            );
            let der = std::fs::read(d.join("o.der")).unwrap();
            let sig = Signature::from_der(alg, &der).unwrap();
            check_against_asn1parse(&openssl, d, &sig);
        }

        // Ours, until both a full-size and a short scalar (leading zero byte) were seen; about
        // one signature in 128 has one, so this ends quickly.
        let signer = our_signer(alg);
        std::fs::write(d.join("pub.pem"), signer.public_key().to_pem()).unwrap();
        let mut short_seen = false;
        for i in 0u32..4000 {
            let message = format!("message {i}");
            let sig = signer.sign(message.as_bytes()).unwrap();
            let (r, s) = sig.scalars().unwrap();
            let short = r[0] == 0 || s[0] == 0;
            if i < 2 || (short && !short_seen) {
                check_against_asn1parse(&openssl, d, &sig);
            }
            if short && !short_seen {
                short_seen = true;
                // Rebuild from the stripped scalars, as a TPM might return them, and let
                // OpenSSL verify the result.
                let strip =
                    |v: &[u8]| v.iter().skip_while(|&&b| b == 0).copied().collect::<Vec<_>>();
                let rebuilt = Signature::from_scalars(alg, &strip(&r), &strip(&s)).unwrap();
                assert_eq!(rebuilt, sig);
                std::fs::write(d.join("m"), message.as_bytes()).unwrap();
                std::fs::write(d.join("s.der"), rebuilt.as_bytes()).unwrap();
                let out = run_ok(
                    &openssl,
                    d,
                    &["dgst", dgst_flag(alg), "-verify", "pub.pem", "-signature", "s.der", "m"],
                );
                assert!(out.contains("Verified OK"), "{out}");
            }
            if short_seen && i >= 2 {
                break;
            }
        }
        assert!(short_seen, "{alg}: no signature with a short scalar in 4000 tries");
    }
}

/// Low-S normalisation keeps validity, as judged by OpenSSL; and OpenSSL accepts high-S too.
#[test]
fn high_and_low_s_both_verify_with_openssl() {
    let Some(openssl) = openssl() else { return };
    for alg in [SignatureAlgorithm::EcdsaP256Sha256, SignatureAlgorithm::EcdsaP384Sha384] {
        let dir = TempDir::new().unwrap();
        let d = dir.path();
        let signer = our_signer(alg);
        std::fs::write(d.join("pub.pem"), signer.public_key().to_pem()).unwrap();
        let (mut high, mut low) = (false, false);
        for i in 0u32..64 {
            let message = format!("m{i}");
            let sig = signer.sign(message.as_bytes()).unwrap();
            let normalized = sig.normalize_low_s();
            assert!(!normalized.is_high_s());
            if sig.is_high_s() {
                high = true;
                assert_ne!(normalized, sig);
            } else {
                low = true;
                assert_eq!(normalized, sig);
            }
            std::fs::write(d.join("m"), message.as_bytes()).unwrap();
            for (name, s) in [("orig.der", &sig), ("low.der", &normalized)] {
                std::fs::write(d.join(name), s.as_bytes()).unwrap();
                let out = run_ok(
                    &openssl,
                    d,
                    &["dgst", dgst_flag(alg), "-verify", "pub.pem", "-signature", name, "m"],
                );
                assert!(out.contains("Verified OK"), "{alg} {name}: {out}");
            }
            if high && low {
                break;
            }
        }
        assert!(high && low, "{alg}: expected both high-S and low-S signatures in 64 tries");
    }
}
