//! Integers modulo the P-256 group order n (SEC 2 v2 §2.4.2): the scalars
//! of ECDSA verification (FIPS 186-5 §6.4.2 steps 3–5: w = s⁻¹,
//! u₁ = e·w, u₂ = r·w).

use f::fiat_p256_scalar_montgomery_domain_field_element as Mont;
use f::fiat_p256_scalar_non_montgomery_domain_field_element as Plain;
use fiat_crypto::p256_scalar_64 as f;

use tpm::crypto::p256::limbs::{self, Limbs};

pub(super) use tpm::crypto::p256::curve::N;

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

/// a⁻¹ mod n for 1 ≤ a < n: variable time is fine, s is public. Bernstein–
/// Yang safegcd in the engine's P-256 code (~1.6 µs; the binary extended
/// GCD it replaced took ~13 µs, 4 % of the verifier's time).
pub(super) fn invert(a: &Limbs) -> Option<Limbs> {
    tpm::crypto::p256::scalar_inverse::invert_mod_n_vartime(a)
}
