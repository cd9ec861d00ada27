//! Small-prime sieving for the prime search.
//!
//! Two jobs:
//!
//! * the "first value coprime to 3…53" step of num-bigint-dig 0.8.6's
//!   `gen_prime`, reproduced exactly ([`SMALL_PRIMES`],
//!   [`SMALL_PRIMES_PRODUCT`]) because it decides which number is tested
//!   and therefore which key a seed derives;
//! * trial division by every odd prime below 2^14 before Miller–Rabin
//!   ([`has_small_factor`]). A number with such a factor (and larger than
//!   2^14) is composite, so rejecting it early cannot change which
//!   candidate the search accepts; it only saves the exponentiation that
//!   would have rejected it. Most composites are caught here, which is
//!   what libtpms (CryptPrimeSieve.c) and OpenSSL also do before
//!   Miller–Rabin.

use std::sync::OnceLock;

/// The primes num-bigint-dig 0.8.6 `gen_prime` sieves with (its
/// `SMALL_PRIMES`).
pub const SMALL_PRIMES: [u64; 15] = [3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53];

/// Their product (fits a u64; num-bigint-dig's `SMALL_PRIMES_PRODUCT`).
pub const SMALL_PRIMES_PRODUCT: u64 = 16_294_579_238_595_022_365;

/// Trial division covers the odd primes below this bound.
pub const TRIAL_BOUND: usize = 1 << 14;

/// Largest candidate width (in 32-bit digits) the residue tables cover:
/// 2048-bit primes, for 4096-bit keys.
const MAX_DIGITS: usize = 64;

/// The odd primes below [`TRIAL_BOUND`], ascending (Eratosthenes).
pub fn odd_primes() -> Vec<u64> {
    let mut composite = vec![false; TRIAL_BOUND];
    let mut out = Vec::new();
    for i in 2..TRIAL_BOUND {
        if composite.get(i).copied().unwrap_or(true) {
            continue;
        }
        if i != 2 {
            out.push(i as u64);
        }
        let mut j = i * i;
        while j < TRIAL_BOUND {
            if let Some(c) = composite.get_mut(j) {
                *c = true;
            }
            j += i;
        }
    }
    out
}

/// One trial-division group: primes whose product `m` fits below 2^62,
/// with 2^(32·i) mod m for each 32-bit digit position i, so a candidate is
/// reduced mod m with multiplications and one division.
struct Group {
    m: u64,
    /// (p, p⁻¹ mod 2^64, ⌊(2^64 - 1) / p⌋): r ≡ 0 (mod p) exactly when
    /// r·p⁻¹ mod 2^64 ≤ ⌊(2^64 - 1) / p⌋ (Granlund–Montgomery, for odd p).
    primes: Vec<(u64, u64, u64)>,
    digit_weights: [u64; MAX_DIGITS],
}

fn groups() -> &'static [Group] {
    static GROUPS: OnceLock<Vec<Group>> = OnceLock::new();
    GROUPS.get_or_init(build_groups)
}

fn build_groups() -> Vec<Group> {
    let mut out = Vec::new();
    let mut current: Vec<u64> = Vec::new();
    let mut product = 1u64;
    let flush = |primes: &mut Vec<u64>, m: u64, out: &mut Vec<Group>| {
        if primes.is_empty() {
            return;
        }
        let mut digit_weights = [0u64; MAX_DIGITS];
        let mut w = 1u64 % m;
        for slot in digit_weights.iter_mut() {
            *slot = w;
            w = ((u128::from(w) << 32) % u128::from(m)) as u64;
        }
        let primes = primes
            .drain(..)
            .map(|p| (p, word_inverse(p), u64::MAX / p))
            .collect();
        out.push(Group {
            m,
            primes,
            digit_weights,
        });
    };
    for p in odd_primes() {
        match product.checked_mul(p) {
            Some(next) if next < (1 << 62) => {
                product = next;
                current.push(p);
            }
            _ => {
                flush(&mut current, product, &mut out);
                product = p;
                current.push(p);
            }
        }
    }
    flush(&mut current, product, &mut out);
    out
}

/// p⁻¹ mod 2^64 for odd p (Newton's iteration).
fn word_inverse(p: u64) -> u64 {
    let mut inv = p;
    for _ in 0..5 {
        inv = inv.wrapping_mul(2u64.wrapping_sub(p.wrapping_mul(inv)));
    }
    inv
}

/// Whether `n` (little-endian u64 limbs, at most 2048 bits, greater than
/// 2^14) has an odd prime factor below 2^14. Numbers wider than the tables
/// are reported as having none (the full test then decides).
pub fn has_small_factor(n: &[u64]) -> bool {
    if n.len() * 2 > MAX_DIGITS {
        return false;
    }
    for g in groups() {
        let mut acc = 0u128;
        for (limb, w) in n.iter().zip(g.digit_weights.chunks_exact(2)) {
            let (w_lo, w_hi) = match w {
                [a, b] => (*a, *b),
                _ => (0, 0),
            };
            acc += u128::from(*limb & 0xffff_ffff) * u128::from(w_lo);
            acc += u128::from(*limb >> 32) * u128::from(w_hi);
        }
        let r = (acc % u128::from(g.m)) as u64;
        if g.primes
            .iter()
            .any(|(_, inv, lim)| r.wrapping_mul(*inv) <= *lim)
        {
            return true;
        }
    }
    false
}

/// n mod [`SMALL_PRIMES_PRODUCT`] (the residue num-bigint-dig's
/// `gen_prime` steps from).
pub fn rem_small_primes_product(n: &[u64]) -> u64 {
    let m = u128::from(SMALL_PRIMES_PRODUCT);
    n.iter()
        .rev()
        .fold(0u128, |r, limb| ((r << 64) | u128::from(*limb)) % m) as u64
}

/// The first even `delta` in [0, 2^20) such that `rem + delta` is divisible
/// by none of [`SMALL_PRIMES`] — num-bigint-dig 0.8.6 `gen_prime`'s step for
/// prime sizes above 6 bits — or `None` if there is none (then it tests the
/// unchanged number).
pub fn coprime_step(rem: u64) -> Option<u64> {
    (0..1u64 << 20).step_by(2).find(|delta| {
        SMALL_PRIMES
            .iter()
            .all(|p| !(rem + delta).is_multiple_of(*p))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use num_bigint_dig::BigUint;

    #[test]
    fn prime_table() {
        let p = odd_primes();
        // π(16384) = 1900, minus the prime 2.
        assert_eq!(p.len(), 1899);
        assert_eq!(p.first(), Some(&3));
        assert_eq!(p.last(), Some(&16381));
        assert_eq!(
            SMALL_PRIMES.iter().product::<u64>(),
            SMALL_PRIMES_PRODUCT,
            "the product num-bigint-dig hard-codes"
        );
        let covered: usize = groups().iter().map(|g| g.primes.len()).sum();
        assert_eq!(covered, 1899);
        for g in groups() {
            let prod: u64 = g.primes.iter().map(|(p, _, _)| p).product();
            assert_eq!(prod, g.m);
        }
    }

    #[test]
    fn detects_each_small_factor_in_a_big_number() {
        // 2^1023 + 1 style base times each prime: build n = k·p with a
        // 1024-bit k, check detection; and a prime-free product of large
        // factors is not flagged.
        let base = (BigUint::from(1u32) << 1000usize) + BigUint::from(12345u32);
        for p in [3u64, 5, 53, 59, 8191, 16381] {
            let n = &base * BigUint::from(p);
            let limbs: [u64; 16] = super::super::limbs::from_be_bytes(&n.to_bytes_be()).unwrap();
            assert!(has_small_factor(&limbs), "factor {p}");
        }
        // 16411 and 16417 are the first primes above 2^14.
        let n = BigUint::from(16411u64 * 16417) * BigUint::from(16421u32) * BigUint::from(16427u32);
        let limbs: [u64; 16] = super::super::limbs::from_be_bytes(&n.to_bytes_be()).unwrap();
        assert!(!has_small_factor(&limbs));
    }

    #[test]
    fn residue_and_step() {
        let n = (BigUint::from(1u32) << 1023usize) + BigUint::from(999u32);
        let limbs: [u64; 16] = super::super::limbs::from_be_bytes(&n.to_bytes_be()).unwrap();
        let want = &n % BigUint::from(SMALL_PRIMES_PRODUCT);
        assert_eq!(BigUint::from(rem_small_primes_product(&limbs)), want);
        // 15 = 3·5 → next coprime value is 59: delta 44.
        assert_eq!(coprime_step(15), Some(44));
        assert_eq!(coprime_step(1), Some(0));
    }
}
