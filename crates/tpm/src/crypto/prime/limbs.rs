//! Fixed-width unsigned integers as little-endian arrays of 64-bit limbs:
//! the conversions and the few carry-propagating helpers the Montgomery
//! arithmetic and the prime search need.
//!
//! Fixed width (a const generic limb count) lets the compiler unroll and
//! keep the hot loops in registers; the RSA sizes the TPM supports are all
//! multiples of 64 bits (TPM 2.0 Part 2 §12.2.3.5 key sizes 1024–4096, so
//! primes of 512–2048 bits).

use core::cmp::Ordering;

/// `a - b` with the final borrow (1 if `b > a`).
pub fn sub<const N: usize>(a: &[u64; N], b: &[u64; N]) -> ([u64; N], u64) {
    let mut out = [0u64; N];
    let mut borrow = 0u64;
    for ((o, x), y) in out.iter_mut().zip(a).zip(b) {
        let (d1, b1) = x.overflowing_sub(*y);
        let (d2, b2) = d1.overflowing_sub(borrow);
        *o = d2;
        borrow = u64::from(b1 | b2);
    }
    (out, borrow)
}

/// `a + b` with the final carry.
pub fn add<const N: usize>(a: &[u64; N], b: &[u64; N]) -> ([u64; N], u64) {
    let mut out = [0u64; N];
    let mut carry = 0u64;
    for ((o, x), y) in out.iter_mut().zip(a).zip(b) {
        let (s1, c1) = x.overflowing_add(*y);
        let (s2, c2) = s1.overflowing_add(carry);
        *o = s2;
        carry = u64::from(c1 | c2);
    }
    (out, carry)
}

/// `a` plus a small value, with the final carry.
pub fn add_small<const N: usize>(a: &[u64; N], v: u64) -> ([u64; N], u64) {
    let mut out = *a;
    let mut carry = v;
    for o in out.iter_mut() {
        let (s, c) = o.overflowing_add(carry);
        *o = s;
        carry = u64::from(c);
        if carry == 0 {
            break;
        }
    }
    (out, carry)
}

/// Numeric comparison (variable time; used on public or test values and on
/// candidates being rejected).
pub fn cmp<const N: usize>(a: &[u64; N], b: &[u64; N]) -> Ordering {
    for (x, y) in a.iter().rev().zip(b.iter().rev()) {
        match x.cmp(y) {
            Ordering::Equal => {}
            other => return other,
        }
    }
    Ordering::Equal
}

/// Whether `a` equals the small value `v`.
pub fn eq_small<const N: usize>(a: &[u64; N], v: u64) -> bool {
    let mut it = a.iter();
    it.next().is_some_and(|x| *x == v) && it.all(|x| *x == 0)
}

/// Whether `a` is zero.
pub fn is_zero<const N: usize>(a: &[u64; N]) -> bool {
    a.iter().all(|x| *x == 0)
}

/// Number of significant bits (0 for zero).
pub fn bits<const N: usize>(a: &[u64; N]) -> usize {
    for (i, x) in a.iter().enumerate().rev() {
        if *x != 0 {
            return i * 64 + (64 - x.leading_zeros() as usize);
        }
    }
    0
}

/// Bit `i` (false beyond the width).
pub fn bit<const N: usize>(a: &[u64; N], i: usize) -> bool {
    a.get(i / 64).is_some_and(|x| (x >> (i % 64)) & 1 == 1)
}

/// Number of trailing zero bits (`N * 64` for zero).
pub fn trailing_zeros<const N: usize>(a: &[u64; N]) -> usize {
    for (i, x) in a.iter().enumerate() {
        if *x != 0 {
            return i * 64 + x.trailing_zeros() as usize;
        }
    }
    N * 64
}

/// `a >> s` (zero for shifts of the whole width or more).
pub fn shr<const N: usize>(a: &[u64; N], s: usize) -> [u64; N] {
    let mut out = [0u64; N];
    let limbs = s / 64;
    let bits = s % 64;
    for (i, o) in out.iter_mut().enumerate() {
        let lo = a.get(i + limbs).copied().unwrap_or(0);
        let hi = a.get(i + limbs + 1).copied().unwrap_or(0);
        *o = if bits == 0 {
            lo
        } else {
            (lo >> bits) | (hi << (64 - bits))
        };
    }
    out
}

/// A small value as a wide integer.
pub fn from_u64<const N: usize>(v: u64) -> [u64; N] {
    let mut out = [0u64; N];
    if let Some(o) = out.first_mut() {
        *o = v;
    }
    out
}

/// Big-endian octets (at most `8 * N`, else `None`) as limbs.
pub fn from_be_bytes<const N: usize>(bytes: &[u8]) -> Option<[u64; N]> {
    if bytes.len() > N * 8 {
        return None;
    }
    let mut out = [0u64; N];
    for (i, b) in bytes.iter().rev().enumerate() {
        let limb = out.get_mut(i / 8)?;
        *limb |= u64::from(*b) << (8 * (i % 8));
    }
    Some(out)
}

/// The value as big-endian octets, exactly `8 * N` long.
pub fn to_be_bytes<const N: usize>(a: &[u64; N]) -> Vec<u8> {
    a.iter().rev().flat_map(|x| x.to_be_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_round_trip_and_bits() {
        let bytes = [0x01u8, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09];
        let a: [u64; 2] = from_be_bytes(&bytes).unwrap();
        assert_eq!(a, [0x0203_0405_0607_0809, 0x01]);
        assert_eq!(bits(&a), 65);
        let back = to_be_bytes(&a);
        assert_eq!(&back[7..], &bytes);
        assert!(from_be_bytes::<1>(&bytes).is_none());
        assert_eq!(shr(&a, 8), [0x0102_0304_0506_0708, 0]);
        assert_eq!(shr(&a, 64), [1, 0]);
        assert_eq!(trailing_zeros(&[0u64, 8]), 67);
        assert!(bit(&a, 64) && !bit(&a, 65) && !bit(&a, 500));
    }

    #[test]
    fn add_sub_carry() {
        let (s, c) = add(&[u64::MAX, u64::MAX], &[1, 0]);
        assert_eq!((s, c), ([0, 0], 1));
        let (d, b) = sub(&[0u64, 0], &[1, 0]);
        assert_eq!((d, b), ([u64::MAX, u64::MAX], 1));
        assert_eq!(add_small(&[u64::MAX, 5], 1), ([0, 6], 0));
        assert_eq!(cmp(&[5u64, 1], &[6, 0]), Ordering::Greater);
    }
}
