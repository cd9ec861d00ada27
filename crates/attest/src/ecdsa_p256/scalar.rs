//! Integers modulo the P-256 group order n (SEC 2 v2 §2.4.2): the scalars
//! of ECDSA verification (FIPS 186-5 §6.4.2 steps 3–5: w = s⁻¹,
//! u₁ = e·w, u₂ = r·w).

use f::fiat_p256_scalar_montgomery_domain_field_element as Mont;
use f::fiat_p256_scalar_non_montgomery_domain_field_element as Plain;
use fiat_crypto::p256_scalar_64 as f;

use super::limbs::{self, Limbs};

/// n, least significant limb first.
pub(super) const N: Limbs = [
    0xf3b9_cac2_fc63_2551,
    0xbce6_faad_a717_9e84,
    0xffff_ffff_ffff_ffff,
    0xffff_ffff_0000_0000,
];

const ONE: Limbs = [1, 0, 0, 0];

/// r or s of a signature: `None` unless 1 ≤ value ≤ n − 1 (FIPS 186-5
/// §6.4.2 step 2).
pub(super) fn signature_part(bytes: &[u8]) -> Option<Limbs> {
    let v = limbs::from_be(bytes)?;
    (!limbs::is_zero(&v) && limbs::lt(&v, &N)).then_some(v)
}

/// e = the digest as an integer, reduced mod n (FIPS 186-5 §6.4.2 step 4
/// with a 256-bit hash: all its bits are used, and since e < 2²⁵⁶ < 2n
/// one subtraction reduces it).
pub(super) fn digest_to_scalar(digest: &[u8; 32]) -> Limbs {
    let e = limbs::from_be(digest).unwrap_or_default();
    if limbs::lt(&e, &N) {
        e
    } else {
        limbs::sub(&e, &N).0
    }
}

/// a·b mod n for a, b < n. fiat-crypto's Montgomery product of a·R and b
/// is a·b: the R factors cancel, so neither operand leaves plain form.
pub(super) fn mul(a: &Limbs, b: &Limbs) -> Limbs {
    let mut a_mont = Mont([0; 4]);
    f::fiat_p256_scalar_to_montgomery(&mut a_mont, &Plain(*a));
    let mut out = Mont([0; 4]);
    f::fiat_p256_scalar_mul(&mut out, &a_mont, &Mont(*b));
    out.0
}

/// a⁻¹ mod n for 1 ≤ a < n by the binary extended Euclidean algorithm
/// (variable time: s is public). Invariants: x₁·a ≡ u and x₂·a ≡ v
/// (mod n). Each pass of the outer loop removes at least one bit from
/// u or v, so 512 passes bound it; `None` only if that bound were hit,
/// which a prime n rules out.
pub(super) fn invert(a: &Limbs) -> Option<Limbs> {
    if limbs::is_zero(a) || !limbs::lt(a, &N) {
        return None;
    }
    let (mut u, mut v) = (*a, N);
    let (mut x1, mut x2) = (ONE, [0u64; 4]);
    for _ in 0..=512 {
        if u == ONE {
            return Some(x1);
        }
        if v == ONE {
            return Some(x2);
        }
        if limbs::is_zero(&u) || limbs::is_zero(&v) {
            return None; // gcd(a, n) ≠ 1: impossible for prime n
        }
        while u[0] & 1 == 0 {
            u = limbs::half(&u, false);
            x1 = half_mod_n(&x1);
        }
        while v[0] & 1 == 0 {
            v = limbs::half(&v, false);
            x2 = half_mod_n(&x2);
        }
        if limbs::lt(&u, &v) {
            v = limbs::sub(&v, &u).0;
            x2 = sub_mod_n(&x2, &x1);
        } else {
            u = limbs::sub(&u, &v).0;
            x1 = sub_mod_n(&x1, &x2);
        }
    }
    None
}

/// x / 2 mod n: x itself when even, else x + n (even; n is odd).
fn half_mod_n(x: &Limbs) -> Limbs {
    if x[0] & 1 == 0 {
        limbs::half(x, false)
    } else {
        let (sum, carry) = limbs::add(x, &N);
        limbs::half(&sum, carry)
    }
}

/// a − b mod n for a, b < n.
fn sub_mod_n(a: &Limbs, b: &Limbs) -> Limbs {
    let (d, borrow) = limbs::sub(a, b);
    if borrow {
        limbs::add(&d, &N).0
    } else {
        d
    }
}
