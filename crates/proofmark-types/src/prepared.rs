//! [`PreparedVerifier`]: fast verification of many signatures made by one public key.
//!
//! ECDSA verification computes `R = u1·G + u2·Q`. RustCrypto's generic path does two full
//! scalar multiplications per call (about 256 doublings and 64 additions each for P-256, plus a
//! per-call table for `Q`). A signer that checks every signature it makes — the TPM signer —
//! verifies against the same `Q` over and over, so we precompute, once per key, the points
//! `j·256^i·Q` for every byte-sized window `i` and every `j` in `1..=128` (and the same for `G`,
//! once per process). Writing each scalar in signed base-256 digits (`-128..=127`), a scalar
//! multiplication is then one point addition or subtraction per non-zero digit — at most 33 for
//! P-256, 49 for P-384 — and no doublings.
//!
//! The tables stay in projective coordinates: converting them to affine would allow slightly
//! cheaper (mixed) additions but costs a field inversion per point, since primeorder 0.13
//! normalises points one by one (its shared-inversion `BatchNormalize` needs field traits that
//! p256/p384 0.13 do not implement) — hundreds of milliseconds for a P-384 table.
//!
//! The arithmetic is variable-time, which is fine: verification handles only public data (the
//! key, the digest and the signature). The checks follow SEC1 v2 §4.1.4 and FIPS 186-5 §6.4.2:
//! `r` and `s` must lie in `1..n`, `R` must not be the identity, and `x(R) mod n` must equal `r`.
//! RSA keys delegate to [`verify`], whose public-exponent operation is already cheap.

use std::fmt;
use std::sync::OnceLock;

use p256::elliptic_curve::group::{Curve as _, Group as _};
use p256::elliptic_curve::ops::{Invert as _, Reduce};
use p256::elliptic_curve::point::AffineCoordinates as _;
use p256::elliptic_curve::{
    AffinePoint, CurveArithmetic, Field as _, FieldBytes, PrimeField as _, ProjectivePoint, Scalar,
};

use crate::public_key::Inner;
use crate::signature::EcSig;
use crate::verify::check_inputs;
use crate::{Digest, PublicKey, Signature, SignatureAlgorithm, VerifyError, verify};

/// Multiples per window: `1·B … 128·B` for each window's base `B` (signed digits cover the
/// negative half).
const DIGITS: usize = 128;

/// The curves we precompute for, with their shared generator tables.
trait PreparedCurve: CurveArithmetic + Sized {
    /// The generator's table, built on first use and shared by every verifier of the process.
    fn generator_table() -> &'static Table<Self>;
}

impl PreparedCurve for p256::NistP256 {
    fn generator_table() -> &'static Table<Self> {
        static TABLE: OnceLock<Table<p256::NistP256>> = OnceLock::new();
        TABLE.get_or_init(|| Table::new(p256::ProjectivePoint::GENERATOR))
    }
}

impl PreparedCurve for p384::NistP384 {
    fn generator_table() -> &'static Table<Self> {
        static TABLE: OnceLock<Table<p384::NistP384>> = OnceLock::new();
        TABLE.get_or_init(|| Table::new(p384::ProjectivePoint::GENERATOR))
    }
}

/// Fixed-base table for a point `B`: entry `i·DIGITS + (j - 1)` is `j·256^i·B` for each byte
/// window `i` of a scalar, then one last entry `256^len·B` for the final carry of the signed
/// recoding.
#[derive(Clone)]
struct Table<C: CurveArithmetic> {
    points: Vec<ProjectivePoint<C>>,
}

impl<C: CurveArithmetic> Table<C> {
    fn new(base: ProjectivePoint<C>) -> Self {
        let windows = FieldBytes::<C>::default().len();
        let mut points = Vec::with_capacity(windows * DIGITS + 1);
        let mut base = base;
        for _ in 0..windows {
            let mut multiple = base;
            points.push(multiple);
            for _ in 1..DIGITS {
                multiple += base;
                points.push(multiple);
            }
            // 256·B = 2·(128·B): the next window's base.
            base = multiple.double();
        }
        points.push(base);
        Self { points }
    }

    /// `acc += k·B`, one addition or subtraction per non-zero signed base-256 digit of `k`.
    fn add_multiple(&self, acc: &mut ProjectivePoint<C>, k: &Scalar<C>) {
        let repr = k.to_repr();
        // Big-endian bytes, so the least significant window is the last byte. Digits above 127
        // become `digit - 256` with a carry into the next window.
        let mut carry = 0i16;
        let mut offset = 0;
        for &byte in repr.iter().rev() {
            let value = i16::from(byte) + carry;
            let digit = if value >= 128 { value - 256 } else { value };
            carry = i16::from(value >= 128);
            if digit != 0 {
                let point = &self.points[offset + usize::from(digit.unsigned_abs()) - 1];
                if digit > 0 {
                    *acc += point;
                } else {
                    *acc -= point;
                }
            }
            offset += DIGITS;
        }
        if carry != 0 {
            *acc += &self.points[offset];
        }
    }
}

/// The per-key state for one curve: the table of `Q`.
#[derive(Clone)]
struct EcVerifier<C: CurveArithmetic> {
    q: Table<C>,
}

impl<C: PreparedCurve> EcVerifier<C> {
    /// `None` for the identity, which is no public key.
    fn new(q: &AffinePoint<C>) -> Option<Self> {
        let q = ProjectivePoint::<C>::from(*q);
        if bool::from(q.is_identity()) {
            return None;
        }
        Some(Self { q: Table::new(q) })
    }

    /// SEC1 §4.1.4 steps 1 and 4–8 for big-endian `r` and `s` of exactly the field size, and a
    /// prehashed message.
    #[cfg(test)]
    fn verify_bytes(&self, prehash: &[u8], r: &[u8], s: &[u8]) -> bool {
        let (Some(r), Some(s)) = (scalar_from_bytes::<C>(r), scalar_from_bytes::<C>(s)) else {
            return false;
        };
        self.verify_scalars(prehash, &r, &s)
    }

    fn verify_scalars(&self, prehash: &[u8], r: &Scalar<C>, s: &Scalar<C>) -> bool {
        // Step 1: r, s in 1..n (`from_repr` already refused values >= n).
        if bool::from(r.is_zero() | s.is_zero()) {
            return false;
        }
        // Steps 2–3: e = the leftmost bits of the hash, as an integer mod n.
        let e = <Scalar<C> as Reduce<C::Uint>>::reduce_bytes(&bits2field::<C>(prehash));
        // Step 4: w = s⁻¹ mod n (public data, so variable time is fine).
        let Some(w) = Option::<Scalar<C>>::from(s.invert_vartime()) else {
            return false;
        };
        // Step 5: R = (e·w)·G + (r·w)·Q.
        let mut point = ProjectivePoint::<C>::identity();
        C::generator_table().add_multiple(&mut point, &(e * w));
        self.q.add_multiple(&mut point, &(*r * w));
        // Step 6: reject the identity.
        if bool::from(point.is_identity()) {
            return false;
        }
        // Steps 7–8: v = x(R) mod n; valid iff v == r.
        let x = point.to_affine().x();
        <Scalar<C> as Reduce<C::Uint>>::reduce_bytes(&x) == *r
    }
}

/// A big-endian scalar of exactly the field size, if it is below `n`.
#[cfg(test)]
fn scalar_from_bytes<C: CurveArithmetic>(bytes: &[u8]) -> Option<Scalar<C>> {
    let mut repr = FieldBytes::<C>::default();
    if bytes.len() != repr.len() {
        return None;
    }
    repr.copy_from_slice(bytes);
    Scalar::<C>::from_repr(repr).into()
}

/// FIPS 186-5 §6.4.2 step 3: the leftmost `bitlen(n)` bits of the hash, as `ecdsa`'s
/// `bits2field` does for our curves (whose order's bit length is a whole number of bytes).
fn bits2field<C: CurveArithmetic>(prehash: &[u8]) -> FieldBytes<C> {
    let mut field = FieldBytes::<C>::default();
    let len = field.len();
    if prehash.len() >= len {
        field.copy_from_slice(&prehash[..len]);
    } else {
        field[len - prehash.len()..].copy_from_slice(prehash);
    }
    field
}

#[derive(Clone)]
enum Prepared {
    P256(EcVerifier<p256::NistP256>),
    P384(EcVerifier<p384::NistP384>),
    /// RSA verification needs no preparation.
    Rsa,
}

/// A public key and algorithm made ready to verify many signatures quickly.
///
/// Building one precomputes a table for the key (a few milliseconds, and 400 KiB for P-256 or
/// 900 KiB for P-384; the first verifier of each curve in a process builds the generator's shared
/// table too). Each ECDSA verification afterwards costs several times less than [`verify`] — see
/// the `verify_p256_prepared` benchmark. It accepts exactly the signatures [`verify`] accepts
/// (high-S included) and fails with the same [`VerifyError`]s. RSA keys are verified with
/// [`verify`] itself.
///
/// ```
/// use proofmark_types::{Digest, PreparedVerifier, SignatureAlgorithm, Signer, SoftwareSigner};
///
/// let signer = SoftwareSigner::generate(SignatureAlgorithm::EcdsaP256Sha256)?;
/// let verifier = PreparedVerifier::new(signer.public_key(), SignatureAlgorithm::EcdsaP256Sha256)?;
/// for message in [&b"first"[..], b"second", b"third"] {
///     let digest = Digest::compute(signer.algorithm().hash(), message);
///     let signature = signer.sign_digest(&digest)?;
///     verifier.verify(&digest, &signature)?;
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct PreparedVerifier {
    public_key: PublicKey,
    algorithm: SignatureAlgorithm,
    prepared: Prepared,
}

impl PreparedVerifier {
    /// Prepares `public_key` for `algorithm`. Fails with [`VerifyError::KeyMismatch`] if the key
    /// cannot check that algorithm's signatures.
    pub fn new(public_key: &PublicKey, algorithm: SignatureAlgorithm) -> Result<Self, VerifyError> {
        let mismatch = || VerifyError::KeyMismatch { key: public_key.key_kind(), algorithm };
        if !public_key.supports(algorithm) {
            return Err(mismatch());
        }
        let prepared = match public_key.inner() {
            Inner::P256(key) => {
                Prepared::P256(EcVerifier::new(key.as_affine()).ok_or_else(mismatch)?)
            }
            Inner::P384(key) => {
                Prepared::P384(EcVerifier::new(key.as_affine()).ok_or_else(mismatch)?)
            }
            Inner::Rsa(_) => Prepared::Rsa,
        };
        Ok(Self { public_key: public_key.clone(), algorithm, prepared })
    }

    /// The public key.
    #[must_use]
    pub fn public_key(&self) -> &PublicKey {
        &self.public_key
    }

    /// The algorithm signatures are checked under.
    #[must_use]
    pub const fn algorithm(&self) -> SignatureAlgorithm {
        self.algorithm
    }

    /// Checks `signature` over `digest`; the same answer as
    /// [`verify`]`(self.public_key(), self.algorithm(), digest, signature)`.
    pub fn verify(&self, digest: &Digest, signature: &Signature) -> Result<(), VerifyError> {
        check_inputs(&self.public_key, self.algorithm, digest, signature)?;
        let prehash = digest.as_bytes();
        let ok = match (&self.prepared, signature.ec()) {
            (Prepared::P256(ec), Ok(EcSig::P256(sig))) => {
                let (r, s) = sig.split_scalars();
                ec.verify_scalars(prehash, &r, &s)
            }
            (Prepared::P384(ec), Ok(EcSig::P384(sig))) => {
                let (r, s) = sig.split_scalars();
                ec.verify_scalars(prehash, &r, &s)
            }
            (Prepared::Rsa, _) => {
                return verify(&self.public_key, self.algorithm, digest, signature);
            }
            // `check_inputs` matched the signature's curve to the key's; nothing else verifies.
            _ => false,
        };
        if ok { Ok(()) } else { Err(VerifyError::BadSignature) }
    }

    /// Hashes `message` with the algorithm's hash, then [`PreparedVerifier::verify`]s.
    pub fn verify_message(&self, message: &[u8], signature: &Signature) -> Result<(), VerifyError> {
        self.verify(&Digest::compute(self.algorithm.hash(), message), signature)
    }

    /// ECDSA on a prehash and big-endian `r`, `s` of the field size, with none of the checks on
    /// types that [`Self::verify`] makes first: for tests of out-of-range scalars, which a
    /// [`Signature`] cannot hold. `None` for RSA.
    #[cfg(test)]
    fn verify_raw(&self, prehash: &[u8], r: &[u8], s: &[u8]) -> Option<bool> {
        match &self.prepared {
            Prepared::P256(ec) => Some(ec.verify_bytes(prehash, r, s)),
            Prepared::P384(ec) => Some(ec.verify_bytes(prehash, r, s)),
            Prepared::Rsa => None,
        }
    }
}

impl fmt::Debug for PreparedVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PreparedVerifier")
            .field("algorithm", &self.algorithm)
            .field("public_key", &self.public_key.fingerprint_sha256().to_string())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{HashAlgorithm, Signer as _, SoftwareSigner};

    /// The group orders, big-endian (SEC 2 §2.4.2 and §2.5.1).
    const N_P256: &str = "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551";
    const N_P384: &str = "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973";

    fn add_small(be: &[u8], mut k: u16) -> Vec<u8> {
        let mut out = be.to_vec();
        for b in out.iter_mut().rev() {
            let sum = u16::from(*b) + k;
            *b = (sum & 0xff) as u8;
            k = sum >> 8;
        }
        out
    }

    /// Out-of-range `r` and `s` are rejected before any arithmetic, and a [`Signature`] cannot
    /// even hold them; a valid signature passes the same raw path.
    #[test]
    fn out_of_range_scalars_are_rejected() {
        for (algorithm, n_hex) in [
            (SignatureAlgorithm::EcdsaP256Sha256, N_P256),
            (SignatureAlgorithm::EcdsaP384Sha384, N_P384),
        ] {
            let signer = SoftwareSigner::generate(algorithm).unwrap();
            let verifier = PreparedVerifier::new(signer.public_key(), algorithm).unwrap();
            let digest = Digest::compute(algorithm.hash(), b"edge cases");
            let sig = signer.sign_digest(&digest).unwrap();
            let (r, s) = sig.scalars().unwrap();
            let prehash = digest.as_bytes();
            assert_eq!(verifier.verify_raw(prehash, &r, &s), Some(true), "{algorithm}");

            let n = hex::decode(n_hex).unwrap();
            let zero = vec![0u8; n.len()];
            let all_ones = vec![0xffu8; n.len()];
            let cases: [(&str, &[u8], &[u8]); 8] = [
                ("r = 0", &zero, &s),
                ("s = 0", &r, &zero),
                ("r = n", &n, &s),
                ("s = n", &r, &n),
                ("r = n + 1", &add_small(&n, 1), &s),
                ("s = n + 1", &r, &add_small(&n, 1)),
                ("r = 2^k - 1", &all_ones, &s),
                ("s = 2^k - 1", &r, &all_ones),
            ];
            for (what, r_case, s_case) in cases {
                assert_eq!(
                    verifier.verify_raw(prehash, r_case, s_case),
                    Some(false),
                    "{algorithm}: {what}"
                );
                assert!(
                    Signature::from_scalars(algorithm, r_case, s_case).is_err(),
                    "{algorithm}: {what} must not make a Signature"
                );
            }
            // Wrong lengths never parse.
            assert_eq!(verifier.verify_raw(prehash, &r[1..], &s), Some(false));
        }
    }

    /// A digest that reduces to zero mod n is still checked correctly (e = 0 gives u1 = 0).
    #[test]
    fn zero_digest() {
        let algorithm = SignatureAlgorithm::EcdsaP256Sha256;
        let signer = SoftwareSigner::generate(algorithm).unwrap();
        let verifier = PreparedVerifier::new(signer.public_key(), algorithm).unwrap();
        for bytes in [[0u8; 32], hex::decode(N_P256).unwrap().try_into().unwrap()] {
            let digest = Digest::new(HashAlgorithm::Sha256, &bytes).unwrap();
            let sig = signer.sign_digest(&digest).unwrap();
            assert_eq!(verifier.verify(&digest, &sig), Ok(()));
            assert_eq!(verify(signer.public_key(), algorithm, &digest, &sig), Ok(()));
        }
    }

    /// Table entries are the multiples they claim to be, and the signed-digit walk computes
    /// `k·G` for scalars whose digits hit every case: 0, ±1, ±127, -128, carries, and n - 1.
    #[test]
    fn tables_hold_multiples() {
        let table = p256::NistP256::generator_table();
        let g = p256::ProjectivePoint::GENERATOR;
        assert_eq!(table.points.len(), 32 * DIGITS + 1);
        assert_eq!(table.points[0], g);
        assert_eq!(table.points[2], g * p256::Scalar::from(3u64));
        assert_eq!(table.points[DIGITS + 1], g * p256::Scalar::from(512u64));
        let two_256 = p256::Scalar::from(2u64).pow_vartime(&[256u64]);
        assert_eq!(table.points[32 * DIGITS], g * two_256);

        let table = p384::NistP384::generator_table();
        let g = p384::ProjectivePoint::GENERATOR;
        assert_eq!(table.points.len(), 48 * DIGITS + 1);
        assert_eq!(
            table.points[47 * DIGITS + 127],
            g * (p384::Scalar::from(128u64) * p384::Scalar::from(2u64).pow_vartime(&[8 * 47u64]))
        );

        let ks = [0u64, 1, 127, 128, 129, 255, 256, 0x80_80_80, 0xff_ff_ff_ff, u64::MAX];
        let scalars = ks.iter().map(|&k| p256::Scalar::from(k)).chain([
            -p256::Scalar::ONE,
            -p256::Scalar::from(128u64),
            p256::Scalar::from(2u64).invert().unwrap(),
        ]);
        for k in scalars {
            let mut acc = p256::ProjectivePoint::IDENTITY;
            p256::NistP256::generator_table().add_multiple(&mut acc, &k);
            assert_eq!(acc, p256::ProjectivePoint::GENERATOR * k, "{k:?}");
        }
    }
}
