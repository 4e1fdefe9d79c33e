//! Cosign's encrypted private key files (`ENCRYPTED SIGSTORE PRIVATE KEY`): scrypt and NaCl
//! secretbox over the PKCS#8 DER key, in the JSON envelope of go-securesystemslib's
//! `encrypted` package.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use crypto_secretbox::aead::{Aead as _, KeyInit as _};
use proofmark_types::{SignatureAlgorithm, Signer as _, SoftwareSigner};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// The PEM label cosign ≥ 2 and sigstore-rs write.
pub const SIGSTORE_KEY_LABEL: &str = "ENCRYPTED SIGSTORE PRIVATE KEY";
/// The PEM label cosign 1 and containers/image use.
pub const COSIGN_KEY_LABEL: &str = "ENCRYPTED COSIGN PRIVATE KEY";

const SCRYPT_N: u32 = 32768;
const SCRYPT_N_HIGH: u32 = 65536;
const SCRYPT_R: u32 = 8;
const SCRYPT_P: u32 = 1;

/// Why a key file cannot be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// Not PEM, or a PEM block with another label.
    #[error("not a cosign private key: {0}")]
    NotCosignKey(String),
    /// The JSON envelope is malformed or uses another KDF or cipher.
    #[error("malformed cosign key envelope: {0}")]
    Envelope(String),
    /// The password is wrong (or the file was altered).
    #[error("decryption failed: wrong password or corrupted key")]
    Decrypt,
    /// The decrypted key is not a usable PKCS#8 key.
    #[error("the decrypted key is not usable")]
    Pkcs8(#[source] proofmark_types::SoftwareKeyError),
}

#[derive(Serialize, Deserialize)]
struct Envelope {
    kdf: Kdf,
    cipher: Cipher,
    #[serde(with = "b64")]
    ciphertext: Vec<u8>,
}

#[derive(Serialize, Deserialize)]
struct Kdf {
    name: String,
    params: ScryptParams,
    #[serde(with = "b64")]
    salt: Vec<u8>,
}

#[derive(Serialize, Deserialize)]
struct ScryptParams {
    #[serde(rename = "N")]
    n: u32,
    r: u32,
    p: u32,
}

#[derive(Serialize, Deserialize)]
struct Cipher {
    name: String,
    #[serde(with = "b64")]
    nonce: Vec<u8>,
}

mod b64 {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize as _, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(v))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        STANDARD.decode(s).map_err(serde::de::Error::custom)
    }
}

fn derive_key(password: &[u8], salt: &[u8], n: u32) -> Result<Zeroizing<[u8; 32]>, KeyError> {
    let log_n = n.trailing_zeros() as u8;
    let params = scrypt::Params::new(log_n, SCRYPT_R, SCRYPT_P)
        .map_err(|e| KeyError::Envelope(format!("scrypt parameters: {e}")))?;
    let mut key = Zeroizing::new([0u8; 32]);
    scrypt::scrypt(password, salt, &params, key.as_mut())
        .map_err(|e| KeyError::Envelope(format!("scrypt: {e}")))?;
    Ok(key)
}

/// Encrypts a software key as cosign does (scrypt N=32768, r=8, p=1; 32-byte salt; 24-byte
/// nonce) and returns the PEM text with the `ENCRYPTED SIGSTORE PRIVATE KEY` label.
pub fn encrypt_private_key(
    signer: &SoftwareSigner,
    password: &[u8],
) -> Result<Zeroizing<String>, KeyError> {
    encrypt_with(signer, password, SCRYPT_N)
}

fn encrypt_with(
    signer: &SoftwareSigner,
    password: &[u8],
    n: u32,
) -> Result<Zeroizing<String>, KeyError> {
    let der = signer.to_pkcs8_der().map_err(KeyError::Pkcs8)?;
    let mut salt = vec![0u8; 32];
    let mut nonce = [0u8; 24];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut salt);
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut nonce);
    let key = derive_key(password, &salt, n)?;
    let cipher = crypto_secretbox::XSalsa20Poly1305::new(&crypto_secretbox::Key::from(*key));
    let ciphertext = cipher
        .encrypt(&crypto_secretbox::Nonce::from(nonce), der.as_slice())
        .map_err(|_| KeyError::Envelope("secretbox encryption failed".into()))?;
    let envelope = Envelope {
        kdf: Kdf {
            name: "scrypt".into(),
            params: ScryptParams { n, r: SCRYPT_R, p: SCRYPT_P },
            salt,
        },
        cipher: Cipher { name: "nacl/secretbox".into(), nonce: nonce.to_vec() },
        ciphertext,
    };
    let json = serde_json::to_vec(&envelope).map_err(|e| KeyError::Envelope(e.to_string()))?;
    let pem = der::pem::encode_string(SIGSTORE_KEY_LABEL, der::pem::LineEnding::LF, &json)
        .map_err(|e| KeyError::Envelope(e.to_string()))?;
    Ok(Zeroizing::new(pem))
}

/// Decrypts a cosign private key (either label). Only cosign's scrypt parameters (N 32768 or
/// 65536, r 8, p 1) are accepted, so a hostile file cannot make us allocate gigabytes.
pub fn decrypt_private_key(pem: &[u8], password: &[u8]) -> Result<SoftwareSigner, KeyError> {
    let (label, json) =
        der::pem::decode_vec(pem).map_err(|e| KeyError::NotCosignKey(e.to_string()))?;
    if label != SIGSTORE_KEY_LABEL && label != COSIGN_KEY_LABEL {
        return Err(KeyError::NotCosignKey(format!("PEM label {label:?}")));
    }
    let env: Envelope =
        serde_json::from_slice(&json).map_err(|e| KeyError::Envelope(e.to_string()))?;
    if env.kdf.name != "scrypt" || env.cipher.name != "nacl/secretbox" {
        return Err(KeyError::Envelope(format!(
            "kdf {:?} / cipher {:?}",
            env.kdf.name, env.cipher.name
        )));
    }
    let p = &env.kdf.params;
    if !(p.n == SCRYPT_N || p.n == SCRYPT_N_HIGH) || p.r != SCRYPT_R || p.p != SCRYPT_P {
        return Err(KeyError::Envelope(format!(
            "unexpected scrypt parameters N={} r={} p={}",
            p.n, p.r, p.p
        )));
    }
    let nonce: [u8; 24] = env
        .cipher
        .nonce
        .as_slice()
        .try_into()
        .map_err(|_| KeyError::Envelope("the nonce must be 24 bytes".into()))?;
    let key = derive_key(password, &env.kdf.salt, p.n)?;
    let cipher = crypto_secretbox::XSalsa20Poly1305::new(&crypto_secretbox::Key::from(*key));
    let der = Zeroizing::new(
        cipher
            .decrypt(&crypto_secretbox::Nonce::from(nonce), env.ciphertext.as_slice())
            .map_err(|_| KeyError::Decrypt)?,
    );
    SoftwareSigner::from_pkcs8_der(&der, None).map_err(KeyError::Pkcs8)
}

/// A new cosign key pair, as `cosign generate-key-pair` writes it.
#[derive(Debug)]
pub struct KeyPairFiles {
    /// `cosign.key`: the encrypted private key PEM.
    pub private_pem: Zeroizing<String>,
    /// `cosign.pub`: the `PUBLIC KEY` PEM.
    pub public_pem: String,
}

/// Generates an ECDSA P-256 key pair and encrypts the private half with `password`.
pub fn generate_key_pair(password: &[u8]) -> Result<KeyPairFiles, KeyError> {
    let signer =
        SoftwareSigner::generate(SignatureAlgorithm::EcdsaP256Sha256).map_err(KeyError::Pkcs8)?;
    Ok(KeyPairFiles {
        private_pem: encrypt_private_key(&signer, password)?,
        public_pem: signer.public_key().to_pem(),
    })
}

/// Base64 of a key's fingerprint bytes: cosign's public-key hint.
pub fn key_hint(key: &proofmark_types::PublicKey) -> String {
    STANDARD.encode(key.fingerprint_sha256().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_errors() {
        let signer = SoftwareSigner::generate(SignatureAlgorithm::EcdsaP256Sha256).unwrap();
        // Low N keeps the debug-build test fast; the full-N path is covered by the sigstore test.
        let pem = encrypt_with(&signer, b"pw", 1024).unwrap();
        assert!(pem.starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n"));
        // Our reader only accepts cosign's parameters.
        assert!(matches!(decrypt_private_key(pem.as_bytes(), b"pw"), Err(KeyError::Envelope(_))));
        let pem = encrypt_private_key(&signer, b"pw").unwrap();
        let back = decrypt_private_key(pem.as_bytes(), b"pw").unwrap();
        assert_eq!(back.public_key(), signer.public_key());
        assert!(matches!(decrypt_private_key(pem.as_bytes(), b"wrong"), Err(KeyError::Decrypt)));
        let relabelled = pem.replace(SIGSTORE_KEY_LABEL, COSIGN_KEY_LABEL);
        assert!(decrypt_private_key(relabelled.as_bytes(), b"pw").is_ok());
        let other = pem.replace(SIGSTORE_KEY_LABEL, "PRIVATE KEY");
        assert!(matches!(
            decrypt_private_key(other.as_bytes(), b"pw"),
            Err(KeyError::NotCosignKey(_))
        ));
        assert!(matches!(decrypt_private_key(b"garbage", b"pw"), Err(KeyError::NotCosignKey(_))));
    }

    #[test]
    fn reads_the_envelope_field_names_cosign_uses() {
        // Shape from go-securesystemslib `encrypted` (as in sigstore-rs's kdf test vector).
        let json = r#"{"kdf":{"name":"scrypt","params":{"N":32768,"r":8,"p":1},"salt":"+QseLb/O/0j2dG201MALNSv2xLcclv6UvpXZVvXGT0k="},"cipher":{"name":"nacl/secretbox","nonce":"B5zH5d9AwoPkgaPAwIgpnft2BO6HZM/j"},"ciphertext":"AAAA"}"#;
        let env: Envelope = serde_json::from_str(json).unwrap();
        assert_eq!(env.kdf.params.n, 32768);
        assert_eq!(env.cipher.nonce.len(), 24);
        assert_eq!(serde_json::to_string(&env).unwrap(), json);
    }
}
