//! Variable-time modular inversion by Bernstein–Yang "safegcd" divsteps, for the
//! [`PreparedVerifier`](crate::PreparedVerifier)'s `s⁻¹ mod n`.
//!
//! A port of libsecp256k1's `secp256k1_modinv64_var` (src/modinv64_impl.h, MIT licence), generic
//! over the number of 62-bit limbs: batches of 62 divsteps run on machine words, and only their
//! 2×2 transition matrix is applied to the full-size numbers. It takes a few times less than
//! p256/p384 0.13's Stein-algorithm `invert_vartime`, which moves one bit per loop through 256-
//! or 384-bit arithmetic. Variable time is fine: it only ever sees public values (a signature's
//! `s`). The caller checks the result (`s·s⁻¹ = 1`), so a defect here could cost speed, never
//! correctness.

/// The low 62 bits.
const M62: u64 = u64::MAX >> 2;
/// More batches of 62 divsteps than an inversion of our sizes needs (about 12 for 384 bits,
/// fewer in variable time): reaching it means something is wrong.
const MAX_BATCHES: usize = 64;

/// The 2×2 transition matrix of a batch of divsteps, scaled by `2^62`.
#[derive(Clone, Copy)]
struct Transition {
    u: i64,
    v: i64,
    q: i64,
    r: i64,
}

/// An odd modulus in signed 62-bit limbs, with its inverse modulo `2^62`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Modulus<const N: usize> {
    limbs: [i64; N],
    inverse_62: u64,
}

impl<const N: usize> Modulus<N> {
    /// `None` if `modulus` (big-endian) is even or does not fit `N` limbs with room for the
    /// signed intermediate values (two spare bits).
    pub(crate) fn new(modulus: &[u8]) -> Option<Self> {
        if modulus.len() * 8 + 2 > 62 * N || modulus.last().is_none_or(|b| b & 1 == 0) {
            return None;
        }
        let limbs = to_limbs::<N>(modulus);
        // Newton's iteration doubles the correct low bits of an inverse mod 2^64; an odd n is
        // its own inverse mod 8.
        let n0 = limbs[0] as u64;
        let mut inverse = n0;
        for _ in 0..5 {
            inverse = inverse.wrapping_mul(2u64.wrapping_sub(n0.wrapping_mul(inverse)));
        }
        Some(Self { limbs, inverse_62: inverse & M62 })
    }

    /// `x⁻¹` modulo the modulus, big-endian into `out` (as long as `x`), for `x` in `1..modulus`
    /// (big-endian, at most the modulus's length). `None` if it does not converge (`x` zero or
    /// sharing a factor with the modulus).
    pub(crate) fn invert(&self, x: &[u8], out: &mut [u8]) -> Option<()> {
        let (mut d, mut e) = ([0i64; N], [0i64; N]);
        e[0] = 1;
        let (mut f, mut g) = (self.limbs, to_limbs::<N>(x));
        let mut len = N;
        // eta = -delta; delta starts at 1.
        let mut eta = -1i64;
        let mut batches = 0;
        loop {
            batches += 1;
            if batches > MAX_BATCHES {
                return None;
            }
            let (next_eta, t) = divsteps_62(eta, f[0] as u64, g[0] as u64);
            eta = next_eta;
            self.update_de(&mut d, &mut e, t);
            update_fg(len, &mut f, &mut g, t);
            if g[..len].iter().all(|&limb| limb == 0) {
                break;
            }
            // When the top limbs of f and g are both 0 or -1, drop them, folding their sign into
            // the limb below.
            let (f_top, g_top) = (f[len - 1], g[len - 1]);
            if len >= 2 && (f_top ^ (f_top >> 63)) == 0 && (g_top ^ (g_top >> 63)) == 0 {
                f[len - 2] |= ((f_top as u64) << 62) as i64;
                g[len - 2] |= ((g_top as u64) << 62) as i64;
                len -= 1;
            }
        }
        // g = 0, so f = ±gcd, which must be ±1.
        let one = f[0] == 1 && f[1..len].iter().all(|&limb| limb == 0);
        let minus_one = f[..len - 1].iter().all(|&limb| limb as u64 == M62) && f[len - 1] == -1;
        if !(one || minus_one) {
            return None;
        }
        self.normalize(&mut d, f[len - 1]);
        from_limbs(&d, out);
        Some(())
    }

    /// `(d, e) = (t·(d, e) + n·(md, me)) / 2^62`, with `md`, `me` chosen to make the division
    /// exact; keeps `d`, `e` in `(-2n, n)`.
    fn update_de(&self, d: &mut [i64; N], e: &mut [i64; N], t: Transition) {
        let Transition { u, v, q, r } = t;
        let wide = |a: i64, b: i64| i128::from(a) * i128::from(b);
        let (sd, se) = (d[N - 1] >> 63, e[N - 1] >> 63);
        let mut md = (u & sd).wrapping_add(v & se);
        let mut me = (q & sd).wrapping_add(r & se);
        let mut cd = wide(u, d[0]) + wide(v, e[0]);
        let mut ce = wide(q, d[0]) + wide(r, e[0]);
        md = md.wrapping_sub(
            (self.inverse_62.wrapping_mul(cd as u64).wrapping_add(md as u64) & M62) as i64,
        );
        me = me.wrapping_sub(
            (self.inverse_62.wrapping_mul(ce as u64).wrapping_add(me as u64) & M62) as i64,
        );
        cd += wide(self.limbs[0], md);
        ce += wide(self.limbs[0], me);
        cd >>= 62;
        ce >>= 62;
        for i in 1..N {
            cd += wide(u, d[i]) + wide(v, e[i]) + wide(self.limbs[i], md);
            ce += wide(q, d[i]) + wide(r, e[i]) + wide(self.limbs[i], me);
            d[i - 1] = (cd as u64 & M62) as i64;
            e[i - 1] = (ce as u64 & M62) as i64;
            cd >>= 62;
            ce >>= 62;
        }
        d[N - 1] = cd as i64;
        e[N - 1] = ce as i64;
    }

    /// Brings `r` from `(-2n, n)` to `[0, n)`, negated first if `sign` is negative.
    fn normalize(&self, r: &mut [i64; N], sign: i64) {
        let add_if_negative = |r: &mut [i64; N]| {
            let negative = r[N - 1] >> 63;
            for (limb, m) in r.iter_mut().zip(&self.limbs) {
                *limb += m & negative;
            }
        };
        let propagate = |r: &mut [i64; N]| {
            for i in 0..N - 1 {
                r[i + 1] += r[i] >> 62;
                r[i] &= M62 as i64;
            }
        };
        add_if_negative(r);
        let negate = sign >> 63;
        for limb in r.iter_mut() {
            *limb = (*limb ^ negate) - negate;
        }
        propagate(r);
        add_if_negative(r);
        propagate(r);
    }
}

/// 62 divsteps on the low words of `f` (odd) and `g`, as a transition matrix; returns the new
/// `eta`.
fn divsteps_62(mut eta: i64, f0: u64, g0: u64) -> (i64, Transition) {
    let (mut u, mut v, mut q, mut r) = (1u64, 0u64, 0u64, 1u64);
    let (mut f, mut g) = (f0, g0);
    let mut i = 62u32;
    loop {
        // A sentinel bit stops the count of zeros at i.
        let zeros = (g | (u64::MAX << i)).trailing_zeros();
        g >>= zeros;
        u <<= zeros;
        v <<= zeros;
        eta -= i64::from(zeros);
        i -= zeros;
        if i == 0 {
            break;
        }
        let (mask, w);
        if eta < 0 {
            // Negate eta and replace (f, g) with (g, -f); then cancel up to 6 bits of g.
            eta = -eta;
            (f, g) = (g, f.wrapping_neg());
            (u, q) = (q, u.wrapping_neg());
            (v, r) = (r, v.wrapping_neg());
            let limit = (eta + 1).min(i64::from(i)) as u32;
            mask = (u64::MAX >> (64 - limit)) & 63;
            w = f.wrapping_mul(g).wrapping_mul(f.wrapping_mul(f).wrapping_sub(2)) & mask;
        } else {
            // Cancel up to 4 bits of g.
            let limit = (eta + 1).min(i64::from(i)) as u32;
            mask = (u64::MAX >> (64 - limit)) & 15;
            let w0 = f.wrapping_add((f.wrapping_add(1) & 4) << 1);
            w = w0.wrapping_neg().wrapping_mul(g) & mask;
        }
        g = g.wrapping_add(f.wrapping_mul(w));
        q = q.wrapping_add(u.wrapping_mul(w));
        r = r.wrapping_add(v.wrapping_mul(w));
    }
    (eta, Transition { u: u as i64, v: v as i64, q: q as i64, r: r as i64 })
}

/// `(f, g) = t·(f, g) / 2^62` on the first `len` limbs (the division is exact).
fn update_fg<const N: usize>(len: usize, f: &mut [i64; N], g: &mut [i64; N], t: Transition) {
    let Transition { u, v, q, r } = t;
    let wide = |a: i64, b: i64| i128::from(a) * i128::from(b);
    let mut cf = (wide(u, f[0]) + wide(v, g[0])) >> 62;
    let mut cg = (wide(q, f[0]) + wide(r, g[0])) >> 62;
    for i in 1..len {
        cf += wide(u, f[i]) + wide(v, g[i]);
        cg += wide(q, f[i]) + wide(r, g[i]);
        f[i - 1] = (cf as u64 & M62) as i64;
        g[i - 1] = (cg as u64 & M62) as i64;
        cf >>= 62;
        cg >>= 62;
    }
    f[len - 1] = cf as i64;
    g[len - 1] = cg as i64;
}

/// A big-endian unsigned integer as `N` 62-bit limbs, least significant first.
fn to_limbs<const N: usize>(be: &[u8]) -> [i64; N] {
    let mut limbs = [0i64; N];
    let (mut acc, mut bits, mut limb) = (0u128, 0u32, 0usize);
    for &byte in be.iter().rev() {
        acc |= u128::from(byte) << bits;
        bits += 8;
        if bits >= 62 && limb < N {
            limbs[limb] = (acc as u64 & M62) as i64;
            acc >>= 62;
            bits -= 62;
            limb += 1;
        }
    }
    if limb < N {
        limbs[limb] = acc as i64;
    }
    limbs
}

/// Non-negative 62-bit limbs back to big-endian bytes (the value must fit `out`).
fn from_limbs<const N: usize>(limbs: &[i64; N], out: &mut [u8]) {
    let (mut acc, mut bits, mut limb) = (0u128, 0u32, 0usize);
    for byte in out.iter_mut().rev() {
        while bits < 8 && limb < N {
            acc |= u128::from(limbs[limb] as u64) << bits;
            bits += 62;
            limb += 1;
        }
        *byte = acc as u8;
        acc >>= 8;
        bits = bits.saturating_sub(8);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The P-256 and P-384 group orders, big-endian.
    const N_P256: &str = "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551";
    const N_P384: &str = "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973";

    #[test]
    fn limbs_round_trip() {
        for hex_value in [
            N_P256,
            "01",
            "00ff",
            "8000000000000000000000000000000000000000000000000000000000000000",
        ] {
            let bytes = hex::decode(hex_value).unwrap();
            let mut out = vec![0u8; bytes.len()];
            from_limbs(&to_limbs::<5>(&bytes), &mut out);
            assert_eq!(out, bytes);
        }
    }

    #[test]
    fn rejects_bad_moduli() {
        assert!(Modulus::<5>::new(&hex::decode(N_P384).unwrap()).is_none(), "too long");
        assert!(Modulus::<5>::new(&[0x10]).is_none(), "even");
        assert!(Modulus::<5>::new(&[]).is_none(), "empty");
        let modulus = Modulus::<5>::new(&hex::decode(N_P256).unwrap()).unwrap();
        let mut out = [0u8; 32];
        assert_eq!(modulus.invert(&[0u8; 32], &mut out), None, "zero has no inverse");
    }

    /// Against p256's and p384's own inversion, on edge cases and pseudo-random values.
    #[test]
    fn matches_the_curves_inversion() {
        use p256::elliptic_curve::PrimeField as _;
        use p256::elliptic_curve::ops::Invert as _;

        let m256 = Modulus::<5>::new(&hex::decode(N_P256).unwrap()).unwrap();
        let m384 = Modulus::<7>::new(&hex::decode(N_P384).unwrap()).unwrap();
        let mut x256 = p256::Scalar::from(3u64);
        let mut x384 = p384::Scalar::from(3u64);
        let mut cases256 = vec![p256::Scalar::ONE, -p256::Scalar::ONE, p256::Scalar::from(2u64)];
        let mut cases384 = vec![p384::Scalar::ONE, -p384::Scalar::ONE, p384::Scalar::from(2u64)];
        for _ in 0..500 {
            // x ← x² + 7, a cheap pseudo-random walk.
            x256 = x256 * x256 + p256::Scalar::from(7u64);
            x384 = x384 * x384 + p384::Scalar::from(7u64);
            cases256.push(x256);
            cases384.push(x384);
        }
        for x in cases256 {
            let mut out = [0u8; 32];
            m256.invert(&x.to_repr(), &mut out).unwrap();
            assert_eq!(out[..], x.invert_vartime().unwrap().to_repr()[..], "{x:?}");
        }
        for x in cases384 {
            let mut out = [0u8; 48];
            m384.invert(&x.to_repr(), &mut out).unwrap();
            assert_eq!(out[..], x.invert_vartime().unwrap().to_repr()[..], "{x:?}");
        }
    }
}
