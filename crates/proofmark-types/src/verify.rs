//! Signature verification for every [`SignatureAlgorithm`].

use rsa::traits::PublicKeyParts as _;
use sha2::Digest as _;
use signature::hazmat::PrehashVerifier as _;

use crate::public_key::Inner;
use crate::signature::EcSig;
use crate::{Digest, HashAlgorithm, KeyKind, PublicKey, RsaPadding, Signature, SignatureAlgorithm};

/// Why a signature did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The signature is tagged with another algorithm than the one asked for.
    #[error("expected a {expected} signature, got a {got} signature")]
    AlgorithmMismatch {
        /// The algorithm asked for.
        expected: SignatureAlgorithm,
        /// The signature's.
        got: SignatureAlgorithm,
    },
    /// The digest was made with another hash than the algorithm's.
    #[error("{algorithm} verifies {expected} digests, got a {got} digest")]
    DigestAlgorithmMismatch {
        /// The algorithm.
        algorithm: SignatureAlgorithm,
        /// The hash it uses.
        expected: HashAlgorithm,
        /// The digest's.
        got: HashAlgorithm,
    },
    /// The key cannot check signatures of this algorithm.
    #[error("a {key} public key cannot verify {algorithm} signatures")]
    KeyMismatch {
        /// The key's kind.
        key: KeyKind,
        /// The algorithm.
        algorithm: SignatureAlgorithm,
    },
    /// The signature is well-formed but does not match the key and digest.
    #[error("signature verification failed")]
    BadSignature,
}

/// Checks `signature` over `digest` with `public_key` under `algorithm`.
///
/// * ECDSA: high-S signatures are accepted, as cosign/Go and OpenSSL accept them and TPMs
///   produce them (see [`Signature::normalize_low_s`]).
/// * RSA-PSS: MGF1 with the algorithm's hash; any salt length is accepted ("auto", as Go's
///   `rsa.PSSSaltLengthAuto` that cosign verifies with, and OpenSSL's default when verifying).
///   Our signers use salt length = hash length.
pub fn verify(
    public_key: &PublicKey,
    algorithm: SignatureAlgorithm,
    digest: &Digest,
    signature: &Signature,
) -> Result<(), VerifyError> {
    check_inputs(public_key, algorithm, digest, signature)?;
    let hashed = digest.as_bytes();
    let ok = match (public_key.inner(), algorithm.rsa_padding()) {
        (Inner::P256(key), None) => match signature.ec() {
            Ok(EcSig::P256(sig)) => key.verify_prehash(hashed, &sig).is_ok(),
            _ => false,
        },
        (Inner::P384(key), None) => match signature.ec() {
            Ok(EcSig::P384(sig)) => key.verify_prehash(hashed, &sig).is_ok(),
            _ => false,
        },
        (Inner::Rsa(key), Some(RsaPadding::Pkcs1v15)) => key
            .verify(rsa::Pkcs1v15Sign::new::<sha2::Sha256>(), hashed, signature.as_bytes())
            .is_ok(),
        (Inner::Rsa(key), Some(RsaPadding::Pss)) => verify_pss(key, hashed, signature.as_bytes()),
        // `supports` ruled the other combinations out.
        _ => false,
    };
    if ok { Ok(()) } else { Err(VerifyError::BadSignature) }
}

/// The checks every verification starts with: the signature's and digest's algorithms match
/// `algorithm`, and the key can check it.
pub(crate) fn check_inputs(
    public_key: &PublicKey,
    algorithm: SignatureAlgorithm,
    digest: &Digest,
    signature: &Signature,
) -> Result<(), VerifyError> {
    if signature.algorithm() != algorithm {
        return Err(VerifyError::AlgorithmMismatch {
            expected: algorithm,
            got: signature.algorithm(),
        });
    }
    if digest.algorithm() != algorithm.hash() {
        return Err(VerifyError::DigestAlgorithmMismatch {
            algorithm,
            expected: algorithm.hash(),
            got: digest.algorithm(),
        });
    }
    if !public_key.supports(algorithm) {
        return Err(VerifyError::KeyMismatch { key: public_key.key_kind(), algorithm });
    }
    Ok(())
}

/// Hashes `message` with the algorithm's hash, then [`verify`]s.
pub fn verify_message(
    public_key: &PublicKey,
    algorithm: SignatureAlgorithm,
    message: &[u8],
    signature: &Signature,
) -> Result<(), VerifyError> {
    verify(public_key, algorithm, &Digest::compute(algorithm.hash(), message), signature)
}

/// RSA-PSS with SHA-256 and any salt length.
///
/// The `rsa` crate checks one given salt length. We try the hash length first (ours, cosign's
/// and Go's choice); if that fails we recover the salt length the signer used from the encoded
/// message (RFC 8017 §9.1.2 steps 7–10) and let the `rsa` crate verify with it.
fn verify_pss(key: &rsa::RsaPublicKey, hashed: &[u8], sig: &[u8]) -> bool {
    let verify_with = |salt_len| {
        key.verify(rsa::Pss::new_with_salt::<sha2::Sha256>(salt_len), hashed, sig).is_ok()
    };
    if verify_with(HashAlgorithm::Sha256.output_size()) {
        return true;
    }
    pss_salt_len(key, sig).is_some_and(verify_with)
}

/// The salt length encoded in a PSS signature (SHA-256, MGF1-SHA-256), if it decodes at all.
fn pss_salt_len(key: &rsa::RsaPublicKey, sig: &[u8]) -> Option<usize> {
    const H_LEN: usize = 32;
    let n = key.n();
    let key_bits = n.bits();
    let key_len = key_bits.div_ceil(8);
    let em_bits = key_bits - 1;
    let em_len = em_bits.div_ceil(8);
    if sig.len() != key_len || em_len < H_LEN + 2 {
        return None;
    }
    let s = rsa::BigUint::from_bytes_be(sig);
    if &s >= n {
        return None;
    }
    let m = s.modpow(key.e(), n).to_bytes_be();
    if m.len() > em_len {
        return None;
    }
    let mut em = vec![0u8; em_len];
    em[em_len - m.len()..].copy_from_slice(&m);
    if em.last() != Some(&0xbc) {
        return None;
    }
    let db_len = em_len - H_LEN - 1;
    let (masked_db, rest) = em.split_at(db_len);
    let h = &rest[..H_LEN];
    // MGF1-SHA-256(H, db_len) xor maskedDB.
    let mut db = masked_db.to_vec();
    for (counter, chunk) in db.chunks_mut(H_LEN).enumerate() {
        let counter = u32::try_from(counter).ok()?;
        let mask =
            sha2::Sha256::new().chain_update(h).chain_update(counter.to_be_bytes()).finalize();
        chunk.iter_mut().zip(mask).for_each(|(b, m)| *b ^= m);
    }
    db[0] &= 0xff >> (8 * em_len - em_bits);
    let one = db.iter().position(|&b| b != 0)?;
    (db[one] == 0x01).then(|| db_len - one - 1)
}
