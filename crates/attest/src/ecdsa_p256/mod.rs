//! ECDSA P-256 verification (FIPS 186-5 §6.4.2) for a key that verifies
//! many signatures: an AK that signs a quote every round.
//!
//! ring verifies u₂·Q with a constant-time window method that starts from
//! nothing each time (≈255 doublings), which was 22 % of the verifier's CPU
//! at 5,000 agents. Q is public and the same every round, so this keeps a
//! comb table of Q's multiples (4 KiB per key, built once) and a larger
//! one of G's, and computes u₁·G + u₂·Q with 42 shared doublings and ≤ 65
//! mixed additions. Public inputs only, so variable time is fine. The
//! field arithmetic is ours (`tpm::crypto::p256`, tested there against
//! fiat-crypto's machine-checked code as the oracle), the scalar products
//! fiat-crypto's, the inverse the engine's safegcd; the signatures are
//! tested against ring and RustCrypto (unit tests, proptests, and the
//! `ecdsa_p256` fuzz target).

mod comb;
mod point;
mod scalar;
#[cfg(test)]
mod tests;

use std::sync::OnceLock;

// The field and integer code is shared with the engine's signing.
use tpm::crypto::p256::{curve, field, limbs};

use comb::CombTable;
use field::{Fe, P};
use point::Affine;

/// Rows of a key's comb: a 63-point table (4 KiB) per key, built once
/// (~110 µs), 43 additions per signature.
const KEY_TEETH: usize = 6;
/// Rows of G's comb: 4,095 points (256 KiB, once per process), so G
/// joins the last 22 of the 42 doublings with 22 additions.
const GENERATOR_TEETH: usize = 12;

/// A P-256 public key with its comb table.
pub struct P256Verifier {
    table: CombTable,
}

impl std::fmt::Debug for P256Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("P256Verifier")
    }
}

/// G's table, built on first use (shared by every key).
fn generator_table() -> Option<&'static CombTable> {
    static TABLE: OnceLock<Option<CombTable>> = OnceLock::new();
    TABLE
        .get_or_init(|| {
            let g = Affine::new(curve::GX, curve::GY)?;
            CombTable::new(&g, GENERATOR_TEETH)
        })
        .as_ref()
}

impl P256Verifier {
    /// The key with affine coordinates `x`, `y` (big-endian, leading zeros
    /// allowed); `None` unless the point is on the curve.
    pub fn new(x: &[u8], y: &[u8]) -> Option<P256Verifier> {
        let q = Affine::new(limbs::from_be(x)?, limbs::from_be(y)?)?;
        Some(P256Verifier {
            table: CombTable::new(&q, KEY_TEETH)?,
        })
    }

    /// Whether (r, s) is this key's ECDSA signature over `digest`, a
    /// SHA-256 hash (FIPS 186-5 §6.4.2).
    pub fn verify(&self, digest: &[u8; 32], r: &[u8], s: &[u8]) -> bool {
        self.check(digest, r, s).unwrap_or(false)
    }

    fn check(&self, digest: &[u8; 32], r: &[u8], s: &[u8]) -> Option<bool> {
        // Step 2: 1 ≤ r, s ≤ n − 1.
        let r = scalar::signature_part(r)?;
        let s = scalar::signature_part(s)?;
        // Steps 3–5.
        let e = scalar::digest_to_scalar(digest);
        let w = scalar::invert(&s)?;
        let u1 = scalar::mul(&e, &w);
        let u2 = scalar::mul(&r, &w);
        // Step 6: R = u₁·G + u₂·Q, not the point at infinity.
        let big_r = comb::twin_mul(&u1, generator_table()?, &u2, &self.table);
        if big_r.is_infinity() {
            return Some(false);
        }
        // Steps 7–8: x(R) mod n = r. R's affine x is X/Z² < p, so it is r
        // or r + n (when that is below p); compare X with candidate·Z²
        // rather than inverting Z.
        let z2 = big_r.z.square();
        let matches = |candidate: &limbs::Limbs| {
            Fe::from_limbs(*candidate).is_some_and(|c| c.mul(&z2).equals(&big_r.x))
        };
        if matches(&r) {
            return Some(true);
        }
        let (r_plus_n, carry) = limbs::add(&r, &scalar::N);
        Some(!carry && limbs::lt(&r_plus_n, &P) && matches(&r_plus_n))
    }
}
