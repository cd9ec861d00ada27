//! Variable-time modular inversion modulo an odd number (for us: the P-256
//! group order n) by Bernstein and Yang's "safegcd" ("Fast constant-time
//! gcd computation and modular inversion", TCHES 2019, cited as "BY" with
//! its section numbers; the batching, the signed-62-bit representation and
//! the bounds on d and e follow the write-up doc/safegcd_implementation.md
//! of bitcoin-core/secp256k1).
//!
//! Why: ECDSA needs s⁻¹ mod n to verify (FIPS 186-5 §6.4.2, s
//! public) and k⁻¹ mod n to sign (§6.4.1, k blinded by a random factor so
//! its timing reveals nothing). A binary extended GCD does ~2·256 passes of
//! 256-bit shifts and subtractions; safegcd decides 62 division steps at a
//! time from the low 62 bits of two integers alone, using only 64-bit
//! arithmetic, and then applies them to the full-size numbers with one
//! 2×2 matrix product, so a 256-bit inversion is ~9–12 such batches.
//!
//! Variable time: the number of batches and the work inside each depend on
//! the input. Only use it on public values or on values blinded by a
//! fresh random factor.

use super::curve::N;
use super::limbs::{self, Limbs};

/// a⁻¹ mod n for 1 ≤ a < n; `None` for 0 or a ≥ n.
///
/// Variable time (see the module doc): for public values or blinded
/// secrets only.
pub fn invert_mod_n_vartime(a: &Limbs) -> Option<Limbs> {
    ORDER.invert(a)
}

/// a⁻¹ mod `modulus` for any odd modulus > 1 and 1 ≤ a < modulus with
/// gcd(a, modulus) = 1; `None` otherwise (even modulus, a = 0, a ≥
/// modulus, or no inverse). Variable time.
pub fn invert_vartime(a: &Limbs, modulus: &Limbs) -> Option<Limbs> {
    if modulus[0] & 1 == 0 || *modulus == [1, 0, 0, 0] {
        return None;
    }
    Modulus::new(modulus).invert(a)
}

/// Divsteps per batch: the transition matrix of 62 divsteps, scaled by
/// 2⁶², has entries with |u| + |v| ≤ 2⁶² and |q| + |r| ≤ 2⁶² (BY §8.3), so
/// it fits in i64 — 62 is the most a 64-bit word allows.
const BATCH: u32 = 62;

/// The low 62 bits of a limb.
const MASK: u64 = (1 << BATCH) - 1;

/// Batches after which g must be 0. BY Theorem 11.2: from δ = 1 with f
/// odd, ⌊49b/34⌋ divsteps reach g = 0 where b = log₂(f² + 4g²) > 92. Here
/// f = modulus < 2²⁵⁶ and g = a < modulus, so b < 512 + log₂5 and
/// ⌊49b/34⌋ ≤ 741; ⌈741/62⌉ = 12. (The computer-checked bound of
/// sipa/safegcd-bounds, 724, also needs 12.) Every batch performs exactly
/// 62 divsteps (once g = 0 further divsteps only halve it), so valid input
/// never gets past 12; the loop returns `None` if it did. Random inputs
/// take 9 or 10.
const MAX_BATCHES: usize = 12;

/// An integer as five limbs of 62 bits, least significant first: the
/// value is Σ lᵢ·2⁶²ⁱ with l₀…l₃ in [0, 2⁶²) and l₄ signed (it carries the
/// sign). 310 bits leave room for the signed intermediates f, g ∈
/// (−2²⁵⁶, 2²⁵⁶) and d, e ∈ (−2·modulus, modulus). Why 62 and not 64 bits:
/// a product of a matrix entry (≤ 2⁶² in absolute value) with a limb, plus
/// a few such terms and the carry, stays within an i128 (BY §8.3 bound;
/// secp256k1 write-up §3). f and g may use fewer live limbs (see
/// `update_fg`): then limb len − 1 is the signed top and those above are 0.
type Signed62 = [i64; 5];

/// The transition matrix of a batch of 62 divsteps, multiplied by 2⁶² so
/// its entries are integers (BY §8.1, Theorem 9.2): after the batch,
/// [f, g] ← [[u, v], [q, r]]·[f, g] / 2⁶².
#[derive(Clone, Copy, Debug)]
struct Matrix {
    u: i64,
    v: i64,
    q: i64,
    r: i64,
}

/// An odd modulus in the form the inversion needs.
struct Modulus {
    /// The modulus, in signed-62-bit limbs.
    m: Signed62,
    /// The modulus as plain limbs (for the range checks).
    limbs: Limbs,
    /// modulus⁻¹ mod 2⁶²: cancels the low 62 bits of d and e before their
    /// exact division by 2⁶² (secp256k1 write-up §3, "div2n").
    inv62: u64,
}

/// n precomputed at compile time.
const ORDER: Modulus = Modulus::new(&N);

impl Modulus {
    /// `modulus` must be odd (the inverse mod 2⁶² exists only then); the
    /// callers check.
    const fn new(modulus: &Limbs) -> Modulus {
        let m0 = modulus[0];
        // Newton's iteration x ← x·(2 − m·x) doubles the number of correct
        // low bits; x = m is right to 3 bits (m² ≡ 1 mod 8 for odd m), so
        // five rounds give 96 ≥ 64.
        let mut x = m0;
        let mut k = 0;
        while k < 5 {
            x = x.wrapping_mul(2u64.wrapping_sub(m0.wrapping_mul(x)));
            k += 1;
        }
        Modulus {
            m: to_signed62(modulus),
            limbs: *modulus,
            inv62: x & MASK,
        }
    }

    /// a⁻¹ mod m: the variable-time `modinv` of the secp256k1 write-up §6–7
    /// (BY §11–12 with d, e tracked as in the write-up §2). Invariants,
    /// mod m: d·a ≡ f and e·a ≡ g; at the end g = 0 and f = ±gcd(a, m).
    fn invert(&self, a: &Limbs) -> Option<Limbs> {
        if limbs::is_zero(a) || !limbs::lt(a, &self.limbs) {
            return None;
        }
        // η = −δ; BY's divstep starts from δ = 1.
        let mut eta: i64 = -1;
        let mut f = self.m;
        let mut g = to_signed62(a);
        let mut d: Signed62 = [0; 5];
        let mut e: Signed62 = [1, 0, 0, 0, 0];
        // Limbs of f and g in use (see `update_fg`).
        let mut len = 5;
        for _ in 0..MAX_BATCHES {
            if is_zero(&g) {
                break;
            }
            let t;
            (eta, t) = divsteps_vartime(eta, f[0] as u64, g[0] as u64);
            // f, g first: the next batch's divsteps need only their low
            // limbs, so the CPU can start on them while d, e are updated.
            update_fg(&mut f, &mut g, &t, len);
            update_de(&mut d, &mut e, &t, self);
            len = shrink(&mut f, &mut g, len);
        }
        if !is_zero(&g) {
            return None; // unreachable for valid input: see MAX_BATCHES
        }
        // Back to the 5-limb form so ±1 has one spelling.
        let f = combine(&f, 1, &[0; 5], 0);
        let negative = if f == [1, 0, 0, 0, 0] {
            false
        } else if f == MINUS_ONE {
            true
        } else {
            return None; // gcd(a, m) = |f| > 1: no inverse
        };
        // d·a ≡ f = ±1, so a⁻¹ ≡ ±d; d ∈ (−2m, m) (write-up §4).
        let d = normalize(d, negative, &self.m);
        let out = to_limbs(&d)?;
        // normalize's range argument gives 0 ≤ out < m; checked anyway
        // rather than trusted, since a wrong inverse would be silent.
        limbs::lt(&out, &self.limbs).then_some(out)
    }
}

/// −1 in normalized signed-62 form.
const MINUS_ONE: Signed62 = [MASK as i64, MASK as i64, MASK as i64, MASK as i64, -1];

/// 62 divsteps on the low 62 bits of f (odd) and g, from η = −δ; returns
/// the new η and the scaled transition matrix. Variable-time form of the
/// write-up §6: runs of zero bits of g are shifted out at once (BY §8.2
/// splits a divstep into "make g even" and "halve g"), and while η ≥ 0 no
/// swap can happen, so up to min(η + 1, steps left, 6) consecutive
/// "g += f if g odd, halve" steps are one addition g + w·f with
/// w = −g/f mod 2^limit.
///
/// Only the low bits matter: the next k divsteps depend on the low k bits
/// of f and g alone (BY §8, write-up §1), and after j halvings exactly
/// 62 − j = `left` bits of g are still valid, never fewer than the bits
/// the next step looks at (`limit` ≤ `left`). The u64 arithmetic wraps,
/// which keeps low bits exact.
fn divsteps_vartime(mut eta: i64, f0: u64, g0: u64) -> (i64, Matrix) {
    let (mut f, mut g) = (f0, g0);
    // Identity, scaled as the write-up §3 does: f·2^s = u·F + v·G and
    // g·2^s = q·F + r·G after s steps, so halving g doubles u and v.
    let (mut u, mut v, mut q, mut r) = (1i64, 0i64, 0i64, 1i64);
    let mut left = BATCH;
    // Each pass but the first takes at least one step (the previous pass
    // left g with ≥ 1 low zero bit), so 63 passes cover 62 steps.
    for _ in 0..=BATCH {
        // Shift out g's zero bits, no further than the steps left: the
        // OR puts a 1 at bit `left` (left ≤ 62 here, so the shift is in range).
        let zeros = (g | (u64::MAX << left)).trailing_zeros();
        g >>= zeros;
        u <<= zeros;
        v <<= zeros;
        eta -= i64::from(zeros);
        left -= zeros;
        if left == 0 {
            break;
        }
        // g is odd. With δ > 0 (η < 0) the divstep swaps: (f, g) ← (g, −f)
        // and then adds, exactly as the first branch of BY §11's divstep.
        if eta < 0 {
            eta = -eta;
            (f, g) = (g, f.wrapping_neg());
            (u, q) = (q, -u);
            (v, r) = (r, -v);
        }
        // η ≥ 0: the next min(η + 1, left) steps cannot swap. Cancel up to
        // 6 of g's low bits at once: f·(f² − 2) ≡ −1/f (mod 64) for odd f
        // (write-up §6, after Hacker's Delight 2nd ed., pp. 245–247).
        let limit = (eta + 1).min(i64::from(left)).min(6) as u32;
        let w = f
            .wrapping_mul(g)
            .wrapping_mul(f.wrapping_mul(f).wrapping_sub(2))
            & (u64::MAX >> (64 - limit));
        g = g.wrapping_add(w.wrapping_mul(f));
        // |w·u| < 2^(s + limit) ≤ 2⁶², and q + w·u is an entry of the
        // matrix of s + limit divsteps, bounded by 2⁶² (BY §8.3): no
        // overflow.
        q += w as i64 * u;
        r += w as i64 * v;
    }
    (eta, Matrix { u, v, q, r })
}

/// Σ for one limb position: c + x·a + y·b as i128.
#[inline(always)]
fn mul2(c: i128, x: i64, a: i64, y: i64, b: i64) -> i128 {
    c + i128::from(x) * i128::from(a) + i128::from(y) * i128::from(b)
}

/// The low 62 bits of an accumulator as a limb.
#[inline(always)]
fn low(c: i128) -> i64 {
    (c as u64 & MASK) as i64
}

/// [f, g] ← t·[f, g] / 2⁶² (write-up §3 `update_fg`): exact, because the
/// divsteps only ever halve even numbers, so t·[f, g] ≡ 0 (mod 2⁶²).
///
/// Only the low `len` limbs are live: f and g shrink by ~30 bits per batch
/// (the variable-time trick of the write-up's C code: no point multiplying
/// limbs that are zero). A divstep sets f to f or g and g to (g ± f)/2, so
/// max(|f|, |g|) never grows: every carry fits in the limbs in use.
fn update_fg(f: &mut Signed62, g: &mut Signed62, t: &Matrix, len: usize) {
    match len {
        5 => update_fg_limbs::<5>(f, g, t),
        4 => update_fg_limbs::<4>(f, g, t),
        3 => update_fg_limbs::<3>(f, g, t),
        2 => update_fg_limbs::<2>(f, g, t),
        _ => update_fg_limbs::<1>(f, g, t),
    }
}

/// `update_fg` on the low `LEN` limbs (a constant, so the loop unrolls);
/// the limbs from `LEN` up come out zero.
#[inline(always)]
fn update_fg_limbs<const LEN: usize>(f: &mut Signed62, g: &mut Signed62, t: &Matrix) {
    let Matrix { u, v, q, r } = *t;
    // Low limb: its 62 bits are zero; only the carry remains.
    let mut cf = mul2(0, u, f[0], v, g[0]) >> BATCH;
    let mut cg = mul2(0, q, f[0], r, g[0]) >> BATCH;
    let (mut nf, mut ng) = ([0i64; 5], [0i64; 5]);
    let inputs = f.iter().zip(g.iter()).skip(1).take(LEN - 1);
    for ((&fi, &gi), (nfi, ngi)) in inputs.zip(nf.iter_mut().zip(ng.iter_mut())) {
        cf = mul2(cf, u, fi, v, gi);
        cg = mul2(cg, q, fi, r, gi);
        (*nfi, *ngi) = (low(cf), low(cg));
        cf >>= BATCH;
        cg >>= BATCH;
    }
    // The signed top limb.
    if let (Some(nft), Some(ngt)) = (nf.get_mut(LEN - 1), ng.get_mut(LEN - 1)) {
        (*nft, *ngt) = (cf as i64, cg as i64);
    }
    (*f, *g) = (nf, ng);
}

/// The number of live limbs after folding the top one into the one below
/// when it is 0 or −1 in both f and g (the value then fits one limb lower,
/// that limb becoming the signed top). The value is unchanged.
fn shrink(f: &mut Signed62, g: &mut Signed62, len: usize) -> usize {
    let Some(below) = len.checked_sub(2) else {
        return len;
    };
    let (Some(&ft), Some(&gt)) = (f.get(len - 1), g.get(len - 1)) else {
        return len;
    };
    if (ft ^ (ft >> 63)) | (gt ^ (gt >> 63)) != 0 {
        return len;
    }
    for (x, top) in [(f, ft), (g, gt)] {
        if let Some(l) = x.get_mut(below) {
            // l ∈ [0, 2⁶²): adding top·2⁶² is setting its two top bits.
            *l |= top << BATCH;
        }
        if let Some(l) = x.get_mut(below + 1) {
            *l = 0;
        }
    }
    below + 1
}

/// [d, e] ← t·[d, e] / 2⁶² (mod m), keeping d, e in (−2m, m) (write-up
/// §4): a negative input first gets m added (folded into the multiples md,
/// me of m), then md, me are lowered by less than 2⁶² so that
/// t·[d, e] + m·[md, me] ≡ 0 (mod 2⁶²), and the sum is divided exactly.
/// With inputs in (−m, m) after the correction, t·[d, e] ∈ (−2⁶²·m, 2⁶²·m)
/// (|u| + |v| ≤ 2⁶²), minus < 2⁶²·m, divided by 2⁶²: (−2m, m) again.
fn update_de(d: &mut Signed62, e: &mut Signed62, t: &Matrix, modulus: &Modulus) {
    let Matrix { u, v, q, r } = *t;
    let [d0, d1, d2, d3, d4] = *d;
    let [e0, e1, e2, e3, e4] = *e;
    let [m0, m1, m2, m3, m4] = modulus.m;
    // All ones when negative.
    let (sd, se) = (d4 >> 63, e4 >> 63);
    // |u| + |v| ≤ 2⁶², so md ∈ [−2⁶², 2⁶²] here and (−2⁶³, 2⁶²] after the
    // correction: it fits in i64.
    let mut md = (u & sd) + (v & se);
    let mut me = (q & sd) + (r & se);
    let cd = mul2(0, u, d0, v, e0);
    let ce = mul2(0, q, d0, r, e0);
    md -= (modulus
        .inv62
        .wrapping_mul(cd as u64)
        .wrapping_add(md as u64)
        & MASK) as i64;
    me -= (modulus
        .inv62
        .wrapping_mul(ce as u64)
        .wrapping_add(me as u64)
        & MASK) as i64;
    // Each accumulator: two products < 2¹²⁴, m's limb times md < 2¹²⁵,
    // plus a carry: below 2¹²⁷.
    let mut cd = (cd + i128::from(m0) * i128::from(md)) >> BATCH;
    let mut ce = (ce + i128::from(m0) * i128::from(me)) >> BATCH;
    let limb = |cd: &mut i128, ce: &mut i128, di: i64, ei: i64, mi: i64| {
        *cd = mul2(*cd, u, di, v, ei) + i128::from(mi) * i128::from(md);
        *ce = mul2(*ce, q, di, r, ei) + i128::from(mi) * i128::from(me);
        let out = (low(*cd), low(*ce));
        *cd >>= BATCH;
        *ce >>= BATCH;
        out
    };
    let (nd0, ne0) = limb(&mut cd, &mut ce, d1, e1, m1);
    let (nd1, ne1) = limb(&mut cd, &mut ce, d2, e2, m2);
    let (nd2, ne2) = limb(&mut cd, &mut ce, d3, e3, m3);
    let (nd3, ne3) = limb(&mut cd, &mut ce, d4, e4, m4);
    *d = [nd0, nd1, nd2, nd3, cd as i64];
    *e = [ne0, ne1, ne2, ne3, ce as i64];
}

/// ±v mod m for v ∈ (−2m, m), in [0, m) (write-up §4 `normalize`).
fn normalize(v: Signed62, negate: bool, m: &Signed62) -> Signed62 {
    let v = if v[4] < 0 { combine(&v, 1, m, 1) } else { v }; // (−m, m)
    let v = if negate { combine(&v, -1, m, 0) } else { v }; // (−m, m)
    if v[4] < 0 {
        combine(&v, 1, m, 1) // [0, m)
    } else {
        v
    }
}

/// s·x + k·m, renormalized (limbs 0..3 in [0, 2⁶²)), for s, k ∈ {−1, 0, 1}.
fn combine(x: &Signed62, s: i64, m: &Signed62, k: i64) -> Signed62 {
    let mut out = [0i64; 5];
    let mut c: i128 = 0;
    for ((o, &xi), &mi) in out.iter_mut().zip(x).zip(m) {
        c = mul2(c, s, xi, k, mi);
        *o = low(c);
        c >>= BATCH;
    }
    // The top limb keeps the sign: put back what `low` cut off.
    if let Some(top) = out.last_mut() {
        *top |= (c << BATCH) as i64;
    }
    out
}

fn is_zero(x: &Signed62) -> bool {
    x.iter().all(|&l| l == 0)
}

/// 4×64 bits to 5×62 bits (value in [0, 2²⁵⁶), so the top limb is 8 bits).
const fn to_signed62(a: &Limbs) -> Signed62 {
    [
        (a[0] & MASK) as i64,
        ((a[0] >> 62 | a[1] << 2) & MASK) as i64,
        ((a[1] >> 60 | a[2] << 4) & MASK) as i64,
        ((a[2] >> 58 | a[3] << 6) & MASK) as i64,
        (a[3] >> 56) as i64,
    ]
}

/// 5×62 bits back to 4×64; `None` unless the value is normalized and in
/// [0, 2²⁵⁶).
fn to_limbs(s: &Signed62) -> Option<Limbs> {
    let [s0, s1, s2, s3, s4] = s.map(|l| l as u64);
    if [s0, s1, s2, s3].iter().any(|&l| l > MASK) || s4 >= 1 << 8 {
        return None;
    }
    Some([
        s0 | s1 << 62,
        s1 >> 2 | s2 << 60,
        s2 >> 4 | s3 << 58,
        s3 >> 6 | s4 << 56,
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use num_bigint_dig::BigUint;
    use p256::elliptic_curve::ops::Invert;
    use p256::elliptic_curve::{Field, PrimeField};
    use proptest::prelude::*;

    fn big(a: &Limbs) -> BigUint {
        let mut bytes = Vec::with_capacity(32);
        for l in a {
            bytes.extend_from_slice(&l.to_le_bytes());
        }
        BigUint::from_bytes_le(&bytes)
    }

    fn from_big(b: &BigUint) -> Limbs {
        let mut bytes = b.to_bytes_le();
        bytes.resize(32, 0);
        let mut out = [0u64; 4];
        for (o, chunk) in out.iter_mut().zip(bytes.chunks(8)) {
            *o = u64::from_le_bytes(chunk.try_into().unwrap());
        }
        out
    }

    /// p256's own variable-time inverse, as plain limbs.
    fn p256_inverse(a: &Limbs) -> Limbs {
        let s = p256::Scalar::from_repr(limbs::to_be(a).into()).unwrap();
        let inv = s.invert_vartime().unwrap();
        limbs::from_be(&inv.to_repr()).unwrap()
    }

    /// The inverse checked three ways: in range, a·inv ≡ 1 with BigUint
    /// arithmetic, and equal to the p256 crate's.
    fn check(a: &Limbs) {
        let inv = invert_mod_n_vartime(a).unwrap_or_else(|| panic!("no inverse of {a:x?}"));
        assert!(limbs::lt(&inv, &N), "{a:x?}");
        let n = big(&N);
        assert_eq!((big(a) * big(&inv)) % &n, BigUint::from(1u32), "a = {a:x?}");
        assert_eq!(inv, p256_inverse(a), "a = {a:x?}");
        // And the generic entry point agrees.
        assert_eq!(invert_vartime(a, &N), Some(inv));
    }

    fn n_minus(k: u64) -> Limbs {
        limbs::sub(&N, &[k, 0, 0, 0]).0
    }

    #[test]
    fn edge_values() {
        let half = limbs::half(&n_minus(1), false);
        for a in [
            [1, 0, 0, 0],
            [2, 0, 0, 0],
            [3, 0, 0, 0],
            n_minus(1),
            n_minus(2),
            half,
            limbs::add(&half, &[1, 0, 0, 0]).0,
            [u64::MAX, 0, 0, 0],
            [u64::MAX, u64::MAX, 0, 0],
            [u64::MAX, u64::MAX, u64::MAX, 0],
            [0, u64::MAX, u64::MAX, 0],
            [u64::MAX, u64::MAX, u64::MAX, N[3] - 1],
            [u64::MAX, u64::MAX, u64::MAX, 0xffff_fffe_ffff_ffff],
            [0, 0, 0, 1],
            [MASK, MASK, MASK, 0],
        ] {
            check(&a);
        }
    }

    #[test]
    fn known_inverses() {
        // 1⁻¹ = 1, (n−1)⁻¹ = n−1, 2⁻¹ = (n+1)/2.
        assert_eq!(invert_mod_n_vartime(&[1, 0, 0, 0]), Some([1, 0, 0, 0]));
        assert_eq!(invert_mod_n_vartime(&n_minus(1)), Some(n_minus(1)));
        let half_up = limbs::add(&limbs::half(&n_minus(1), false), &[1, 0, 0, 0]).0;
        assert_eq!(invert_mod_n_vartime(&[2, 0, 0, 0]), Some(half_up));
    }

    #[test]
    fn powers_of_two() {
        for k in 0..256 {
            let mut a = [0u64; 4];
            a[k / 64] = 1 << (k % 64);
            if limbs::lt(&a, &N) {
                check(&a);
            } else {
                assert_eq!(invert_mod_n_vartime(&a), None, "2^{k}");
            }
        }
    }

    #[test]
    fn out_of_range_is_none() {
        assert_eq!(invert_mod_n_vartime(&[0; 4]), None);
        assert_eq!(invert_mod_n_vartime(&N), None);
        assert_eq!(invert_mod_n_vartime(&limbs::add(&N, &[1, 0, 0, 0]).0), None);
        assert_eq!(invert_mod_n_vartime(&[u64::MAX; 4]), None);
        assert_eq!(invert_mod_n_vartime(&[0, 0, 0, N[3] + 1]), None);
        assert_eq!(invert_mod_n_vartime(&[0, 0, 0, u64::MAX]), None);
    }

    #[test]
    fn generic_modulus() {
        // Small odd moduli, exhaustively against BigUint: composite ones
        // give None exactly when gcd > 1.
        for m in [3u64, 9, 15, 21, 97, 255, 1001] {
            for a in 0..m + 2 {
                let got = invert_vartime(&[a, 0, 0, 0], &[m, 0, 0, 0]);
                let want = (1..m).find(|x| a < m && (a * x) % m == 1);
                assert_eq!(got, want.map(|x| [x, 0, 0, 0]), "{a}⁻¹ mod {m}");
            }
        }
        // Even moduli and 1 are refused.
        assert_eq!(invert_vartime(&[1, 0, 0, 0], &[4, 0, 0, 0]), None);
        assert_eq!(invert_vartime(&[0, 0, 0, 0], &[1, 0, 0, 0]), None);
        // The field prime p and the largest odd 256-bit modulus.
        let p = [u64::MAX, 0xffff_ffff, 0, 0xffff_ffff_0000_0001];
        let top = [u64::MAX; 4];
        for m in [p, top] {
            for a in [[2, 0, 0, 0], [3, 5, 7, 11], limbs::sub(&m, &[1, 0, 0, 0]).0] {
                let inv = invert_vartime(&a, &m).unwrap();
                assert_eq!((big(&a) * big(&inv)) % big(&m), BigUint::from(1u32));
            }
        }
        // 2²⁵⁶ − 1 = 3·5·17·257·… : 3 has no inverse.
        assert_eq!(invert_vartime(&[3, 0, 0, 0], &top), None);
    }

    #[test]
    fn matches_p256_constant_time_inverse() {
        let a = [0x0123_4567_89ab_cdef, 0xfedc_ba98_7654_3210, 42, 7];
        let s = p256::Scalar::from_repr(limbs::to_be(&a).into()).unwrap();
        let ct = limbs::from_be(&Field::invert(&s).unwrap().to_repr()).unwrap();
        assert_eq!(invert_mod_n_vartime(&a), Some(ct));
    }

    #[test]
    fn roundtrip_signed62() {
        for a in [[0; 4], N, [u64::MAX; 4], [1, 2, 3, 4]] {
            assert_eq!(to_limbs(&to_signed62(&a)), Some(a));
        }
        assert_eq!(to_limbs(&MINUS_ONE), None);
        assert_eq!(combine(&[1, 0, 0, 0, 0], -1, &[0; 5], 0), MINUS_ONE);
        assert_eq!(combine(&MINUS_ONE, -1, &[0; 5], 0), [1, 0, 0, 0, 0]);
    }

    fn below_n() -> impl Strategy<Value = Limbs> {
        any::<[u64; 4]>().prop_map(|a| {
            // Uniform enough below n: reduce the 256-bit value mod n.
            from_big(&(big(&a) % big(&N)))
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(10_000))]

        #[test]
        fn random_inverse(a in below_n()) {
            prop_assume!(!limbs::is_zero(&a));
            check(&a);
        }

        /// Sparse inputs (few set bits) take the long runs of zero bits
        /// through the shift path.
        #[test]
        fn sparse_inverse(bits in proptest::collection::vec(0usize..256, 1..6)) {
            let mut a = [0u64; 4];
            for b in bits {
                a[b / 64] |= 1 << (b % 64);
            }
            if limbs::lt(&a, &N) {
                check(&a);
            } else {
                prop_assert_eq!(invert_mod_n_vartime(&a), None);
            }
        }

        #[test]
        fn involution(a in below_n()) {
            prop_assume!(!limbs::is_zero(&a));
            let inv = invert_mod_n_vartime(&a).unwrap();
            prop_assert_eq!(invert_mod_n_vartime(&inv), Some(a));
        }
    }
}
