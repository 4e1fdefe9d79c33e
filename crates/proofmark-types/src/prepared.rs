//! [`PreparedVerifier`]: fast verification of many signatures made by one public key.
//!
//! ECDSA verification computes `R = u1·G + u2·Q`. RustCrypto's generic path does two full
//! scalar multiplications per call (about 256 doublings and 64 additions each for P-256, plus a
//! per-call table for `Q`). A signer that checks every signature it makes — the TPM signer —
//! verifies against the same `Q` over and over, so we precompute, once per key, the points
//! `j·2^(W·i)·Q` for every `W`-bit window `i` and every `j` in `1..=2^(W-1)` (and the same for
//! `G`, once per process). Writing each scalar in signed base-`2^W` digits, a scalar
//! multiplication is then one point addition or subtraction per non-zero digit and no doublings:
//! with `W = 10` for P-256, at most 27 per scalar; with `W = 8` for P-384 (whose points are
//! larger and slower to precompute), at most 49.
//!
//! The point arithmetic is our own, on the curves' field elements (p256/p384's `expose-field`),
//! because primeorder 0.13's points keep their coordinates private and only offer complete,
//! constant-time projective formulas:
//!
//! * the tables are affine (one shared field inversion per table, Montgomery's trick), so each
//!   addition is a mixed Jacobian + affine one: 8M + 3S instead of about 12M + 2M(b) and three
//!   times the field additions;
//! * the final check compares `x(R)` projectively (`X == r·Z²`, and `X == (r + n)·Z²` when
//!   `r + n < p`) instead of converting `R` to affine, which would cost a field inversion;
//! * `s⁻¹` is a variable-time Bernstein–Yang inversion ([`modinv`](crate::modinv)), a few
//!   times faster than the curve crates' own variable-time inversion.
//!
//! This arithmetic is variable-time and its addition formula is incomplete (doubling and
//! cancellation are detected and handled apart), which is fine: verification handles only public
//! data (the key, the digest and the signature). The checks follow SEC1 v2 §4.1.4 and FIPS 186-5
//! §6.4.2: `r` and `s` must lie in `1..n`, `R` must not be the identity, and `x(R) mod n` must
//! equal `r`. RSA keys delegate to [`verify`], whose public-exponent operation is already cheap.

use std::fmt;
use std::sync::OnceLock;

use p256::elliptic_curve::ff::{Field, PrimeField};
use p256::elliptic_curve::ops::{Invert as _, Reduce};
use p256::elliptic_curve::sec1::ToEncodedPoint as _;
use p256::elliptic_curve::{AffinePoint, CurveArithmetic, FieldBytes, Scalar};

use crate::modinv::Modulus;
use crate::public_key::Inner;
use crate::signature::EcSig;
use crate::verify::check_inputs;
use crate::{Digest, PublicKey, Signature, SignatureAlgorithm, VerifyError, verify};

/// How many `window`-bit windows a scalar of `bytes` bytes has.
const fn windows(bytes: usize, window: usize) -> usize {
    (8 * bytes).div_ceil(window)
}

/// Bits `window·i .. window·(i + 1)` of a big-endian integer (`window <= 16`).
fn window_bits(be: &[u8], i: usize, window: usize) -> u32 {
    let start = window * i;
    // The (up to) three bytes holding the window, little-endian.
    let mut bits = 0u32;
    for k in 0..3 {
        let byte = start / 8 + k;
        if byte < be.len() {
            bits |= u32::from(be[be.len() - 1 - byte]) << (8 * k);
        }
    }
    (bits >> (start % 8)) & ((1 << window) - 1)
}

/// The curves we precompute for: their base field, the constant the final `x(R) mod n` check
/// needs, their scalar inversion, window widths and shared generator tables.
trait PreparedCurve: CurveArithmetic + Sized {
    /// The base field, in which our own point arithmetic works.
    type Fe: PrimeField<Repr = FieldBytes<Self>>;
    /// `p - n`, big-endian and field-sized: an `r` below it may also stand for an `x(R)` of
    /// `r + n` (an x-coordinate is reduced mod n before the comparison).
    const P_MINUS_N: &'static str;
    /// `s⁻¹ mod n` for `s` in `1..n`, by [`modinv`](crate::modinv) (checked, with the curve's
    /// own inversion as the fallback).
    fn invert_scalar(s: &Scalar<Self>) -> Option<Scalar<Self>>;
    /// The affine coordinates of a point, `None` for the identity.
    fn coordinates(point: &AffinePoint<Self>) -> Option<Affine<Self::Fe>>;
    /// The window width, in bits, of the generator's table: a scalar is written in signed
    /// base-`2^G_WINDOW` digits, one table point per digit.
    const G_WINDOW: usize;
    /// The window width of each key's table.
    const Q_WINDOW: usize;
    /// The generator's table, built on first use and shared by every verifier of the process
    /// (`None` only if the generator had no coordinates, which cannot happen).
    fn generator_table() -> Option<&'static Table<Self>>;
}

macro_rules! prepared_curve {
    (
        $curve:ident,
        $krate:ident,
        $order:literal,
        $limbs:literal,
        $p_minus_n:literal,
        $g_window:literal,
        $q_window:literal
    ) => {
        impl PreparedCurve for $krate::$curve {
            type Fe = $krate::FieldElement;
            const P_MINUS_N: &'static str = $p_minus_n;
            const G_WINDOW: usize = $g_window;
            const Q_WINDOW: usize = $q_window;

            fn invert_scalar(s: &$krate::Scalar) -> Option<$krate::Scalar> {
                static ORDER: OnceLock<Option<Modulus<$limbs>>> = OnceLock::new();
                let order = ORDER.get_or_init(|| Modulus::new(&hex::decode($order).ok()?));
                let mut inverse = FieldBytes::<Self>::default();
                let fast = order
                    .as_ref()
                    .and_then(|order| order.invert(&s.to_repr(), &mut inverse))
                    .and_then(|()| Option::from($krate::Scalar::from_repr(inverse)));
                match fast {
                    Some(w) if *s * w == $krate::Scalar::ONE => Some(w),
                    _ => s.invert_vartime().into(),
                }
            }

            fn coordinates(point: &$krate::AffinePoint) -> Option<Affine<Self::Fe>> {
                let encoded = point.to_encoded_point(false);
                let x = Option::from(Self::Fe::from_repr(*encoded.x()?))?;
                let y = Option::from(Self::Fe::from_repr(*encoded.y()?))?;
                Some(Affine { x, y })
            }

            fn generator_table() -> Option<&'static Table<Self>> {
                static TABLE: OnceLock<Option<Table<$krate::$curve>>> = OnceLock::new();
                TABLE
                    .get_or_init(|| {
                        let g = Self::coordinates(&$krate::AffinePoint::GENERATOR)?;
                        Table::new(g, Self::G_WINDOW)
                    })
                    .as_ref()
            }
        }
    };
}

prepared_curve!(
    NistP256,
    p256,
    "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551",
    5,
    "000000000000000000000000000000004319055358e8617b0c46353d039cdaae",
    10,
    10
);
prepared_curve!(
    NistP384,
    p384,
    "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973",
    7,
    "000000000000000000000000000000000000000000000000389cb27e0bc8d21fa7e5f24cb74f58851313e696333ad68c",
    8,
    8
);

/// A point in affine coordinates; never the identity. Aligned so that a P-256 point is one
/// cache line (a P-384 point two).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(align(64))]
struct Affine<F> {
    x: F,
    y: F,
}

/// A point in Jacobian coordinates `(X, Y, Z)` for the affine `(X/Z², Y/Z³)`; `Z = 0` is the
/// identity. With an affine second operand an addition costs 8 multiplications and 3 squarings,
/// against 12 multiplications (and many more additions) for the complete projective formulas
/// of primeorder, which must also work in constant time. These formulas are not complete: the
/// cases they do not cover (the identity, `P + P`, `P - P`) are tested for and handled apart,
/// which is fine here because all our inputs are public.
#[derive(Clone, Copy, Debug)]
struct Jacobian<F> {
    x: F,
    y: F,
    z: F,
}

impl<F: Field> Jacobian<F> {
    const IDENTITY: Self = Self { x: F::ONE, y: F::ONE, z: F::ZERO };

    fn is_identity(&self) -> bool {
        self.z.is_zero_vartime()
    }

    fn from_affine(point: &Affine<F>) -> Self {
        Self { x: point.x, y: point.y, z: F::ONE }
    }

    /// `2·self`, for curves with `a = -3` (P-256 and P-384): "dbl-2001-b" of the Explicit-Formulas
    /// Database, 3M + 5S.
    fn double(&self) -> Self {
        if self.is_identity() || self.y.is_zero_vartime() {
            return Self::IDENTITY;
        }
        let delta = self.z.square();
        let gamma = self.y.square();
        let beta = self.x * gamma;
        let alpha = (self.x - delta) * (self.x + delta);
        let alpha = alpha.double() + alpha;
        let beta4 = beta.double().double();
        let x = alpha.square() - beta4.double();
        let z = (self.y + self.z).square() - gamma - delta;
        let y = alpha * (beta4 - x) - gamma.square().double().double().double();
        Self { x, y, z }
    }

    /// `self + point`, or `self - point` when `negate`: "add-1998-cmo-2" with `Z2 = 1`,
    /// 8M + 3S.
    fn add_affine(&self, point: &Affine<F>, negate: bool) -> Self {
        let y2 = if negate { -point.y } else { point.y };
        if self.is_identity() {
            return Self { x: point.x, y: y2, z: F::ONE };
        }
        let z1z1 = self.z.square();
        let u2 = point.x * z1z1;
        let s2 = y2 * self.z * z1z1;
        let h = u2 - self.x;
        let r = s2 - self.y;
        if h.is_zero_vartime() {
            // Same x: the same point (double it) or its negation (the sum is the identity).
            return if r.is_zero_vartime() { self.double() } else { Self::IDENTITY };
        }
        let hh = h.square();
        let hhh = h * hh;
        let v = self.x * hh;
        let x = r.square() - hhh - v.double();
        let y = r * (v - x) - self.y * hhh;
        let z = self.z * h;
        Self { x, y, z }
    }

    /// Whether the affine x-coordinate equals `x`, without the inversion that converting to
    /// affine coordinates costs: `X == x·Z²`. Never for the identity.
    fn x_equals(&self, x: &F) -> bool {
        !self.is_identity() && self.x == *x * self.z.square()
    }
}

/// Converts points to affine coordinates with one field inversion for all of them
/// (Montgomery's trick); `None` if one of them is the identity.
fn batch_to_affine<F: Field>(points: &[Jacobian<F>]) -> Option<Vec<Affine<F>>> {
    // prefix[i] = z_0 · … · z_(i-1)
    let mut prefix = Vec::with_capacity(points.len());
    let mut product = F::ONE;
    for point in points {
        if point.is_identity() {
            return None;
        }
        prefix.push(product);
        product *= point.z;
    }
    let mut inverse: F = Option::from(product.invert())?;
    let mut affine = vec![Affine { x: F::ZERO, y: F::ZERO }; points.len()];
    for ((point, prefix), out) in points.iter().zip(&prefix).zip(&mut affine).rev() {
        // inverse = 1 / (z_0 · … · z_i) here.
        let z_inv = inverse * prefix;
        inverse *= point.z;
        let z_inv2 = z_inv.square();
        *out = Affine { x: point.x * z_inv2, y: point.y * z_inv2 * z_inv };
    }
    Some(affine)
}

/// Fixed-base table for a point `B` and windows of `W` bits: entry `i·DIGITS + (j - 1)` is
/// `j·2^(W·i)·B` for each window `i` of a scalar and each `j` in `1..=DIGITS = 2^(W-1)` (signed
/// digits cover the negative half), then one last entry `2^(W·windows)·B` for the final carry of
/// the signed recoding. Affine, so that each lookup is one cache line and each addition a mixed one.
#[derive(Clone)]
struct Table<C: PreparedCurve> {
    points: Vec<Affine<C::Fe>>,
    /// `W`, at most 16.
    window: usize,
}

impl<C: PreparedCurve> Table<C> {
    /// `2^(W-1)`, the multiples per window.
    const fn digits(&self) -> usize {
        1 << (self.window - 1)
    }

    /// The table of `base` for `window`-bit windows (`2..=16`); `None` if `base` is the identity
    /// (no multiple of a non-identity point in the table is).
    fn new(base: Affine<C::Fe>, window: usize) -> Option<Self> {
        if !(2..=16).contains(&window) {
            return None;
        }
        let (windows, digits) =
            (windows(FieldBytes::<C>::default().len(), window), 1 << (window - 1));
        // Each window's base 2^(W·i)·B by doublings, made affine together (one inversion), so
        // that the multiples of each are mixed additions.
        let mut bases = Vec::with_capacity(windows + 1);
        let mut next = Jacobian::from_affine(&base);
        for _ in 0..=windows {
            bases.push(next);
            for _ in 0..window {
                next = next.double();
            }
        }
        let bases = batch_to_affine(&bases)?;
        let mut points = Vec::with_capacity(windows * digits + 1);
        for base in &bases[..windows] {
            let mut multiple = Jacobian::from_affine(base);
            points.push(multiple);
            for _ in 1..digits {
                multiple = multiple.add_affine(base, false);
                points.push(multiple);
            }
        }
        points.push(Jacobian::from_affine(&bases[windows]));
        Some(Self { points: batch_to_affine(&points)?, window })
    }

    /// Appends to `terms` the table points whose signed sum is `k·B`: one point, to add or
    /// (when its flag is set) subtract, per non-zero signed base-`2^W` digit of `k`. The points
    /// are copied out first so that the table reads (cache misses, when the table has gone cold
    /// while the TPM worked) overlap instead of each stalling its addition.
    fn select(&self, k: &Scalar<C>, terms: &mut Vec<(Affine<C::Fe>, bool)>) {
        let repr = k.to_repr();
        let digits = self.digits();
        // Digits of DIGITS or more become `digit - 2^W` with a carry into the next window.
        let mut carry = 0;
        let windows = windows(repr.len(), self.window);
        for i in 0..windows {
            let value = window_bits(&repr, i, self.window) + carry;
            carry = u32::from(value as usize >= digits);
            let (magnitude, negate) =
                if carry == 1 { ((1 << self.window) - value, true) } else { (value, false) };
            if magnitude != 0 {
                terms.push((self.points[i * digits + magnitude as usize - 1], negate));
            }
        }
        if carry != 0 {
            terms.push((self.points[windows * digits], false));
        }
    }

    /// `acc += k·B`.
    #[cfg(test)]
    fn add_multiple(&self, acc: &mut Jacobian<C::Fe>, k: &Scalar<C>) {
        let mut terms = Vec::new();
        self.select(k, &mut terms);
        *acc = sum(*acc, &terms);
    }
}

/// `acc` plus the signed sum of `terms`.
fn sum<F: Field>(acc: Jacobian<F>, terms: &[(Affine<F>, bool)]) -> Jacobian<F> {
    terms.iter().fold(acc, |acc, (point, negate)| acc.add_affine(point, *negate))
}

/// The per-key state for one curve: the table of `Q`, and the field constants of the final
/// check.
#[derive(Clone)]
struct EcVerifier<C: PreparedCurve> {
    q: Table<C>,
    /// `p - n`, big-endian.
    p_minus_n: FieldBytes<C>,
    /// `n` as a field element (`n < p`).
    n: C::Fe,
}

impl<C: PreparedCurve> EcVerifier<C> {
    /// `None` for the identity, which is no public key.
    fn new(q: &AffinePoint<C>) -> Option<Self> {
        let q = C::coordinates(q)?;
        // Build the shared generator table now, with the key's, rather than in a first verify.
        C::generator_table()?;
        let mut p_minus_n = FieldBytes::<C>::default();
        hex::decode_to_slice(C::P_MINUS_N, &mut p_minus_n).ok()?;
        let n = -Option::<C::Fe>::from(C::Fe::from_repr(p_minus_n.clone()))?;
        Some(Self { q: Table::new(q, C::Q_WINDOW)?, p_minus_n, n })
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
        let Some(w) = C::invert_scalar(s) else {
            return false;
        };
        // Step 5: R = (e·w)·G + (r·w)·Q.
        let mut terms = Vec::with_capacity(2 * (FieldBytes::<C>::default().len() + 1));
        let Some(g) = C::generator_table() else {
            return false;
        };
        g.select(&(e * w), &mut terms);
        self.q.select(&(*r * w), &mut terms);
        let point = sum(Jacobian::IDENTITY, &terms);
        // Step 6 (`x_equals` is false for the identity), and steps 7–8.
        self.x_mod_n_equals(&point, r)
    }

    /// Whether `x(point) mod n == r`, with `r` in `1..n`: `x(point)` is `r` or, when `r + n`
    /// is still below `p`, `r + n`.
    fn x_mod_n_equals(&self, point: &Jacobian<C::Fe>, r: &Scalar<C>) -> bool {
        let r_bytes = r.to_repr();
        let Some(r_fe) = Option::<C::Fe>::from(C::Fe::from_repr(r_bytes.clone())) else {
            return false;
        };
        if point.x_equals(&r_fe) {
            return true;
        }
        // Big-endian byte strings of equal length compare as the integers they encode.
        r_bytes[..] < self.p_minus_n[..] && point.x_equals(&(r_fe + self.n))
    }
}

/// A big-endian scalar of exactly the field size, if it is below `n`.
#[cfg(test)]
fn scalar_from_bytes<C: CurveArithmetic>(bytes: &[u8]) -> Option<Scalar<C>> {
    use p256::elliptic_curve::PrimeField as _;
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
/// Building one precomputes an affine table for the key (about 10 ms, and 830 KiB for P-256 or
/// 770 KiB for P-384; the first verifier of each curve in a process builds the generator's
/// shared table of the same size too). Each ECDSA verification afterwards costs about
/// ten times less than [`verify`] — see the `verify_p256_prepared` benchmark. It accepts exactly the signatures [`verify`] accepts
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

    /// The `p - n` constants are right: `-(p - n)` is `n` in the field.
    #[test]
    fn order_constants() {
        fn check<C: PreparedCurve>(n_hex: &str, public_key: &AffinePoint<C>) {
            let verifier = EcVerifier::<C>::new(public_key).unwrap();
            let mut n = FieldBytes::<C>::default();
            hex::decode_to_slice(n_hex, &mut n).unwrap();
            assert_eq!(Option::<C::Fe>::from(C::Fe::from_repr(n)), Some(verifier.n));
        }
        check::<p256::NistP256>(N_P256, &p256::AffinePoint::GENERATOR);
        check::<p384::NistP384>(N_P384, &p384::AffinePoint::GENERATOR);
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

    fn affine256(point: p256::ProjectivePoint) -> Affine<p256::FieldElement> {
        p256::NistP256::coordinates(&point.to_affine()).unwrap()
    }

    fn to_affine<F: Field>(point: &Jacobian<F>) -> Affine<F> {
        batch_to_affine(&[*point]).unwrap()[0]
    }

    /// Table entries are the multiples they claim to be, and the signed-digit walk computes
    /// `k·G` for scalars whose digits hit every case: 0, ±1, ±127, -128, carries, and n - 1.
    #[test]
    fn tables_hold_multiples() {
        let table = p256::NistP256::generator_table().unwrap();
        let g = p256::ProjectivePoint::GENERATOR;
        let (w, two, digits) = (table.window as u64, p256::Scalar::from(2u64), table.digits());
        assert_eq!(table.points.len(), windows(32, table.window) * digits + 1);
        assert_eq!(table.points[0], affine256(g));
        assert_eq!(table.points[2], affine256(g * p256::Scalar::from(3u64)));
        let two_w = two.pow_vartime(&[w]);
        assert_eq!(table.points[digits + 1], affine256(g * p256::Scalar::from(2u64) * two_w));
        let top = two.pow_vartime(&[w * windows(32, table.window) as u64]);
        assert_eq!(table.points[windows(32, table.window) * digits], affine256(g * top));

        let table = p384::NistP384::generator_table().unwrap();
        let g = p384::ProjectivePoint::GENERATOR;
        let (w, digits) = (table.window as u64, table.digits());
        let last = windows(48, table.window) - 1;
        assert_eq!(table.points.len(), windows(48, table.window) * digits + 1);
        let k = p384::Scalar::from(digits as u64)
            * p384::Scalar::from(2u64).pow_vartime(&[w * last as u64]);
        assert_eq!(
            table.points[last * digits + digits - 1],
            p384::NistP384::coordinates(&(g * k).to_affine()).unwrap()
        );

        let ks = [
            0u64,
            1,
            127,
            128,
            129,
            255,
            256,
            511,
            512,
            1023,
            1024,
            0x80_80_80,
            0x20_0800,
            0xff_ff_ff_ff,
            u64::MAX,
        ];
        let scalars = ks.iter().map(|&k| p256::Scalar::from(k)).chain([
            -p256::Scalar::ONE,
            -p256::Scalar::from(128u64),
            p256::Scalar::from(2u64).invert().unwrap(),
        ]);
        let tables: Vec<_> = [2, 5, 9, 11, 16]
            .into_iter()
            .map(|window| Table::<p256::NistP256>::new(affine256(g256()), window).unwrap())
            .chain([p256::NistP256::generator_table().unwrap().clone()])
            .collect();
        assert!(Table::<p256::NistP256>::new(affine256(g256()), 17).is_none());
        for k in scalars {
            for table in &tables {
                let mut acc = Jacobian::IDENTITY;
                table.add_multiple(&mut acc, &k);
                if k == p256::Scalar::ZERO {
                    assert!(acc.is_identity());
                    continue;
                }
                assert_eq!(
                    to_affine(&acc),
                    affine256(g256() * k),
                    "{k:?}, window {}",
                    table.window
                );
            }
        }
    }

    fn g256() -> p256::ProjectivePoint {
        p256::ProjectivePoint::GENERATOR
    }

    /// The incomplete Jacobian formulas agree with p256's complete ones, including the cases
    /// they treat apart: the identity, `P + P`, `P - P`, and sums through the identity.
    #[test]
    fn jacobian_arithmetic_matches_p256() {
        let g = g256();
        let point = |k: u64| affine256(g * p256::Scalar::from(k));
        let jac = |k: u64| Jacobian::from_affine(&point(k));
        // 5G + 3G, 5G - 3G, 3G + 3G (a doubling), 3G - 3G (the identity), O + 3G, O - 3G.
        assert_eq!(to_affine(&jac(5).add_affine(&point(3), false)), point(8));
        assert_eq!(to_affine(&jac(5).add_affine(&point(3), true)), point(2));
        assert_eq!(to_affine(&jac(3).add_affine(&point(3), false)), point(6));
        assert!(jac(3).add_affine(&point(3), true).is_identity());
        let identity = Jacobian::<p256::FieldElement>::IDENTITY;
        assert_eq!(to_affine(&identity.add_affine(&point(3), false)), point(3));
        assert_eq!(
            to_affine(&identity.add_affine(&point(3), true)),
            affine256(-(g * p256::Scalar::from(3u64)))
        );
        assert!(identity.double().is_identity());
        // A point with Z != 1: (7G doubled) = 14G, then + 14G again and - 7G.
        let fourteen = jac(7).double();
        assert_eq!(to_affine(&fourteen), point(14));
        assert_eq!(to_affine(&fourteen.add_affine(&point(14), false)), point(28));
        assert_eq!(to_affine(&fourteen.add_affine(&point(7), true)), point(7));
        assert!(fourteen.add_affine(&point(14), true).is_identity());
        assert!(batch_to_affine(&[fourteen, identity]).is_none());
    }

    /// `x(R) mod n == r` also holds when `x(R)` is `r + n` (possible only when `r < p - n`, with
    /// probability about 2^-128 for a real signature, so we build such a point), and the
    /// comparison is projective: the point's `Z` does not matter.
    #[test]
    fn x_coordinate_above_n() {
        let signer = SoftwareSigner::generate(SignatureAlgorithm::EcdsaP256Sha256).unwrap();
        let Inner::P256(key) = signer.public_key().inner() else { unreachable!() };
        let verifier = EcVerifier::<p256::NistP256>::new(key.as_affine()).unwrap();
        let n = hex::decode(N_P256).unwrap();
        let fe = |bytes: &[u8]| {
            let mut repr = p256::FieldBytes::default();
            repr.copy_from_slice(bytes);
            p256::FieldElement::from_repr(repr).unwrap()
        };
        let b =
            fe(&hex::decode("5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604b")
                .unwrap());
        // The first x >= n on the curve: y² = x³ - 3x + b has a root.
        let mut small = 0u16;
        let (x, y) = loop {
            let x = fe(&add_small(&n, small));
            let rhs = x.square() * x - x.double() - x + b;
            if let Some(y) = Option::<p256::FieldElement>::from(rhs.sqrt()) {
                break (x, y);
            }
            small += 1;
        };
        let r = scalar_from_bytes::<p256::NistP256>(&add_small(&[0u8; 32], small)).unwrap();
        // A Jacobian representative with Z = 5: (x·25, y·125, 5).
        let z = p256::FieldElement::from_u64(5);
        let point = Jacobian { x: x * z.square(), y: y * z.square() * z, z };
        assert!(verifier.x_mod_n_equals(&point, &r), "x = n + {small}");
        assert!(!verifier.x_mod_n_equals(&point, &(r + p256::Scalar::ONE)));
        assert!(!verifier.x_mod_n_equals(&Jacobian::IDENTITY, &r));
        // And the plain case: x(G) compared with x(G) mod n.
        let g = Jacobian::from_affine(&affine256(g256()));
        let x_g = p256::elliptic_curve::point::AffineCoordinates::x(&g256().to_affine());
        let r_g = <p256::Scalar as Reduce<p256::U256>>::reduce_bytes(&x_g);
        assert!(verifier.x_mod_n_equals(&g, &r_g));
        assert!(!verifier.x_mod_n_equals(&g.double(), &r_g));
    }
}
