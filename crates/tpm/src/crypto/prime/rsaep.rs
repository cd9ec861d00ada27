//! The RSA public operation m^e mod n (RSAEP / RSAVP1, PKCS#1 §5.1.1,
//! §5.2.2) on [`Mont`] arithmetic.
//!
//! Why: num-bigint-dig's `modpow` rebuilds its Montgomery context and a
//! 16-entry window table on every call, so one 2048-bit RSA-OAEP
//! encryption (MakeCredential to an RSA EK, RSA-salted sessions,
//! VerifySignature, Import under an RSA parent) cost ~230 µs
//! (BENCHMARKS.md). With a small public exponent square-and-multiply needs
//! 17 products; the context setup here costs about a dozen more. Everything
//! is public (n, e, and m, which the caller already holds), so variable
//! time is fine. The result is the same number, so outputs are unchanged.

use super::limbs;
use super::montgomery::Mont;

/// m^e mod n as exactly `n.len()` big-endian octets. `n` is the modulus
/// (big-endian, odd, 128–512 octets), `m` a big-endian number below n.
/// `None` if the sizes are outside that range, n is even or m ≥ n.
pub fn public_op(n: &[u8], e: u32, m: &[u8]) -> Option<Vec<u8>> {
    match n.len() {
        0..=127 => None,
        128 => op::<16>(n, e, m),
        129..=192 => op::<24>(n, e, m),
        193..=256 => op::<32>(n, e, m),
        257..=384 => op::<48>(n, e, m),
        385..=512 => op::<64>(n, e, m),
        _ => None,
    }
}

fn op<const N: usize>(n_be: &[u8], e: u32, m_be: &[u8]) -> Option<Vec<u8>> {
    let n: [u64; N] = limbs::from_be_bytes(n_be)?;
    let m: [u64; N] = limbs::from_be_bytes(m_be)?;
    if limbs::cmp(&m, &n) != core::cmp::Ordering::Less {
        return None;
    }
    let ctx = Mont::new(&n)?;
    let c = ctx.from_mont(&ctx.pow(&ctx.to_mont(&m), &[u64::from(e)]));
    let full = limbs::to_be_bytes(&c);
    full.get(full.len() - n_be.len()..).map(<[u8]>::to_vec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use num_bigint_dig::BigUint;

    #[test]
    fn matches_modpow_at_every_size() {
        for k in [128usize, 160, 256, 300, 384, 512] {
            let mut n: Vec<u8> = (0..k).map(|i| (i as u8).wrapping_mul(37) ^ 0x5c).collect();
            n[0] |= 0x80;
            n[k - 1] |= 1;
            let mut m: Vec<u8> = (0..k).map(|i| (i as u8).wrapping_mul(91) ^ 0x33).collect();
            m[0] &= 0x7f;
            for e in [3u32, 65537, 2_147_483_647] {
                let got = public_op(&n, e, &m).unwrap();
                let want = BigUint::from_bytes_be(&m)
                    .modpow(&BigUint::from(e), &BigUint::from_bytes_be(&n))
                    .to_bytes_be();
                assert_eq!(got.len(), k);
                assert_eq!(
                    BigUint::from_bytes_be(&got).to_bytes_be(),
                    want,
                    "k={k} e={e}"
                );
            }
            // A modulus whose top octet is small (not filling its width).
            n[0] = 0x01;
            let m2 = &m[1..];
            let got = public_op(&n, 65537, m2).unwrap();
            let want = BigUint::from_bytes_be(m2)
                .modpow(&BigUint::from(65537u32), &BigUint::from_bytes_be(&n));
            assert_eq!(BigUint::from_bytes_be(&got), want);
        }
    }

    #[test]
    fn rejects_bad_input() {
        let n = vec![0xffu8; 256];
        assert!(public_op(&n, 65537, &n).is_none(), "m = n");
        assert!(public_op(&[0xff; 100], 3, &[1]).is_none(), "too small");
        let mut even = vec![0xffu8; 256];
        even[255] = 0xfe;
        assert!(public_op(&even, 3, &[1]).is_none(), "even modulus");
    }
}
