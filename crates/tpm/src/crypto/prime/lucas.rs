//! The "almost extra strong" Lucas probable-prime test with Baillie–OEIS
//! parameter selection (method C: P = 3, 4, … with D = P² − 4, Q = 1,
//! until the Jacobi symbol (D/n) = −1), the same test num-bigint-dig 0.8.6
//! runs after Miller–Rabin, here on [`Mont`] arithmetic.
//!
//! Together with a base-2 Miller–Rabin round it is the Baillie–PSW test:
//! no composite passing both is known, which is why a few Miller–Rabin
//! rounds suffice (FIPS 186-5 Appendix B.3, Table B.1).

use super::limbs;
use super::montgomery::Mont;
use num_bigint_dig::BigUint;

/// Jacobi symbol (a/m) for odd m > 0, both machine words.
fn jacobi_word(mut a: u64, mut m: u64) -> i32 {
    a %= m;
    let mut t = 1;
    while a != 0 {
        while a.is_multiple_of(2) {
            a /= 2;
            if matches!(m % 8, 3 | 5) {
                t = -t;
            }
        }
        core::mem::swap(&mut a, &mut m);
        if a % 4 == 3 && m % 4 == 3 {
            t = -t;
        }
        a %= m;
    }
    if m == 1 {
        t
    } else {
        0
    }
}

/// Jacobi symbol (a/n) for a word `a` and an odd multi-limb `n` greater
/// than `a`, by quadratic reciprocity (so only n mod a is needed).
pub fn jacobi_small<const N: usize>(a: u64, n: &[u64; N]) -> i32 {
    if a == 0 {
        return if limbs::eq_small(n, 1) { 1 } else { 0 };
    }
    let n_low = n.first().copied().unwrap_or(0);
    let s = a.trailing_zeros();
    let a1 = a >> s;
    let mut j = 1;
    if s % 2 == 1 && matches!(n_low % 8, 3 | 5) {
        j = -j;
    }
    if a1 == 1 {
        return j;
    }
    if a1 % 4 == 3 && n_low % 4 == 3 {
        j = -j;
    }
    let r = n.iter().rev().fold(0u128, |r, limb| {
        ((r << 64) | u128::from(*limb)) % u128::from(a1)
    }) as u64;
    j * jacobi_word(r, a1)
}

/// Whether n is a perfect square (a rare path: only reached when forty
/// values of D all fail, which for a non-square n essentially never
/// happens; num-bigint-dig checks at the same point).
fn is_square<const N: usize>(n: &[u64; N]) -> bool {
    let b = BigUint::from_bytes_be(&limbs::to_be_bytes(n));
    let r = b.sqrt();
    &r * &r == b
}

/// The almost extra strong Lucas test on the modulus of `m` (odd, above
/// 2^64). Returns true for every prime.
pub fn probably_prime_lucas<const N: usize>(m: &Mont<N>) -> bool {
    let n = m.modulus();
    let mut p = 3u64;
    loop {
        if p > 10_000 {
            // num-bigint-dig panics here ("widely believed impossible");
            // treat the number as composite instead.
            return false;
        }
        let j = jacobi_small(p * p - 4, n);
        if j == -1 {
            break;
        }
        if j == 0 {
            // D = (p − 2)(p + 2) shares the factor p + 2 with n.
            return limbs::eq_small(n, p + 2);
        }
        if p == 40 && is_square(n) {
            return false;
        }
        p += 1;
    }
    // n + 1 = s·2^r with s odd.
    let (np1, carry) = limbs::add_small(n, 1);
    if carry == 1 {
        return false;
    }
    let r = limbs::trailing_zeros(&np1);
    let s = limbs::shr(&np1, r);

    let two = m.to_mont(&limbs::from_u64(2));
    let pm = m.to_mont(&limbs::from_u64(p));
    let minus_two = m.sub(&[0u64; N], &two);
    // V(0) = 2, V(1) = P; V(2k) = V(k)² − 2, V(2k+1) = V(k)V(k+1) − P.
    let mut vk = two;
    let mut vk1 = pm;
    for i in (0..limbs::bits(&s)).rev() {
        if limbs::bit(&s, i) {
            vk = m.sub(&m.mul(&vk, &vk1), &pm);
            vk1 = m.sub(&m.square(&vk1), &two);
        } else {
            vk1 = m.sub(&m.mul(&vk, &vk1), &pm);
            vk = m.sub(&m.square(&vk), &two);
        }
    }
    if vk == two || vk == minus_two {
        // U(s) ≡ 0 ⇔ P·V(s) ≡ 2·V(s+1) (Crandall–Pomerance eq. 3.13).
        if m.mul(&vk, &pm) == m.add(&vk1, &vk1) {
            return true;
        }
    }
    // V(2^t·s) ≡ 0 for some 0 ≤ t < r − 1.
    for _ in 0..r.saturating_sub(1) {
        if limbs::is_zero(&vk) {
            return true;
        }
        if vk == two {
            return false;
        }
        vk = m.sub(&m.square(&vk), &two);
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jacobi_matches_definition() {
        // Compare against Euler's criterion for small odd primes.
        for q in [3u64, 5, 7, 11, 13, 101, 65537] {
            for a in 0..50u64 {
                let e = num_bigint_dig::BigUint::from(a)
                    .modpow(&num_bigint_dig::BigUint::from((q - 1) / 2), &q.into());
                let want = if a % q == 0 {
                    0
                } else if e == num_bigint_dig::BigUint::from(1u32) {
                    1
                } else {
                    -1
                };
                assert_eq!(jacobi_small(a, &[q, 0]), want, "({a}/{q})");
            }
        }
        // Composite moduli: (2/15) = (2/3)(2/5) = (−1)(−1) = 1.
        assert_eq!(jacobi_word(2, 15), 1);
        assert_eq!(jacobi_word(5, 15), 0);
    }

    #[test]
    fn lucas_on_primes_and_pseudoprimes() {
        // 2^127 − 1 is prime; 2^127 + 1 is not.
        let m127 = [u64::MAX, u64::MAX >> 1];
        assert!(probably_prime_lucas(&Mont::new(&m127).unwrap()));
        let c = [1u64, 1 << 63];
        assert!(!probably_prime_lucas(&Mont::new(&c).unwrap()));
        // Almost extra strong Lucas pseudoprimes (OEIS A217719) pass it, as
        // they do num-bigint-dig's: same test.
        for n in [989u64, 3239, 5777, 10877] {
            assert!(probably_prime_lucas(&Mont::new(&[n]).unwrap()), "{n}");
            assert!(num_bigint_dig::prime::probably_prime_lucas(&n.into()));
        }
        for n in [991u64, 997, 1009, 65537] {
            assert!(probably_prime_lucas(&Mont::new(&[n]).unwrap()), "{n}");
        }
        for n in [993u64, 995, 1011, 65539 * 3] {
            assert_eq!(
                probably_prime_lucas(&Mont::new(&[n]).unwrap()),
                num_bigint_dig::prime::probably_prime_lucas(&n.into()),
                "{n}"
            );
        }
    }
}
