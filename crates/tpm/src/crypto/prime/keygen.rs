//! RSA key assembly from two derived primes: rsa 0.9.10
//! `generate_multi_prime_key_with_exp` for two primes, step for step.
//!
//! It draws p of ⌊bits/2⌋ bits, then q of bits − bits(p) bits; starts over
//! (drawing two new primes) if p = q, if p·q is not exactly `bits` long, or
//! if e has no inverse modulo (p−1)(q−1); and derives d = e⁻¹ mod
//! (p−1)(q−1) (Euler's totient, not Carmichael's λ, as that crate does).
//! The key is then built with `RsaPrivateKey::from_primes`, which computes
//! n and d by those same functions, validates the key and precomputes the
//! CRT values, so every component equals what `RsaPrivateKey::new_with_exp`
//! would have produced from the same stream.

use super::search::gen_prime;
use crate::crypto::CryptoError;
use num_bigint_dig::BigUint;
use rand_core::CryptoRngCore;
use rsa::RsaPrivateKey;
use zeroize::Zeroize;

/// The key `RsaPrivateKey::new_with_exp(rng, bits, e)` returns, computed
/// with the fast prime search. [`CryptoError::KeySize`] for moduli outside
/// 256–4096 bits; [`CryptoError::NoResult`] if the primes do not form a
/// valid key for a reason other than those the original retries on.
pub fn generate_key<R: CryptoRngCore + ?Sized>(
    rng: &mut R,
    bits: usize,
    exponent: u32,
) -> Result<RsaPrivateKey, CryptoError> {
    let e = BigUint::from(exponent);
    loop {
        let mut p = gen_prime(rng, bits / 2).ok_or(CryptoError::KeySize)?;
        let Some(mut q) = gen_prime(rng, bits - p.bits()) else {
            p.zeroize();
            return Err(CryptoError::KeySize);
        };
        if p == q {
            p.zeroize();
            q.zeroize();
            continue;
        }
        let mut n = &p * &q;
        let size_ok = n.bits() == bits;
        n.zeroize();
        if !size_ok {
            p.zeroize();
            q.zeroize();
            continue;
        }
        match RsaPrivateKey::from_primes(vec![p, q], e.clone()) {
            Ok(key) => return Ok(key),
            // e not invertible mod (p−1)(q−1): the original draws again.
            Err(rsa::Error::InvalidPrime) => continue,
            Err(_) => return Err(CryptoError::NoResult),
        }
    }
}
