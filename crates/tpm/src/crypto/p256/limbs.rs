//! 256-bit unsigned integers as four u64 limbs, least significant first:
//! the parsing and the few operations on plain integers that the field
//! and scalar code need.

pub type Limbs = [u64; 4];

/// A big-endian integer of any length (leading zeros allowed, as TPMs
/// send ECDSA r and s) as limbs; `None` when it does not fit in 256 bits.
pub fn from_be(bytes: &[u8]) -> Option<Limbs> {
    let skip = bytes.iter().take_while(|&&b| b == 0).count();
    let digits = bytes.get(skip..)?;
    if digits.len() > 32 {
        return None;
    }
    let mut out = [0u64; 4];
    for (i, &b) in digits.iter().rev().enumerate() {
        let limb = out.get_mut(i / 8)?;
        *limb |= u64::from(b) << (8 * (i % 8));
    }
    Some(out)
}

/// Exactly 32 big-endian octets as limbs, with no branch on their
/// values (for secrets; [`from_be`] skips leading zeros).
pub fn from_be32(bytes: &[u8; 32]) -> Limbs {
    let mut out = [0u64; 4];
    for (limb, chunk) in out.iter_mut().rev().zip(bytes.chunks_exact(8)) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        *limb = u64::from_be_bytes(word);
    }
    out
}

/// The 32 big-endian octets of `a`.
pub fn to_be(a: &Limbs) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (chunk, limb) in out.chunks_exact_mut(8).zip(a.iter().rev()) {
        chunk.copy_from_slice(&limb.to_be_bytes());
    }
    out
}

/// a < b.
pub fn lt(a: &Limbs, b: &Limbs) -> bool {
    for (x, y) in a.iter().rev().zip(b.iter().rev()) {
        if x != y {
            return x < y;
        }
    }
    false
}

/// Bit `i` (0 = least significant); false beyond 255.
#[inline]
pub fn bit(a: &Limbs, i: usize) -> bool {
    a.get(i / 64).is_some_and(|l| (l >> (i % 64)) & 1 == 1)
}

/// a + b and the carry out of bit 255.
pub fn add(a: &Limbs, b: &Limbs) -> (Limbs, bool) {
    let mut out = [0u64; 4];
    let mut carry = 0;
    for ((o, x), y) in out.iter_mut().zip(a).zip(b) {
        (*o, carry) = adc(*x, *y, carry);
    }
    (out, carry != 0)
}

/// a − b and whether it borrowed (a < b).
pub fn sub(a: &Limbs, b: &Limbs) -> (Limbs, bool) {
    let mut out = [0u64; 4];
    let mut borrow = 0;
    for ((o, x), y) in out.iter_mut().zip(a).zip(b) {
        (*o, borrow) = sbb(*x, *y, borrow);
    }
    (out, borrow != 0)
}

/// (a + top·2²⁵⁶) / 2, rounding down.
pub fn half(a: &Limbs, top: bool) -> Limbs {
    [
        (a[0] >> 1) | (a[1] << 63),
        (a[1] >> 1) | (a[2] << 63),
        (a[2] >> 1) | (a[3] << 63),
        (a[3] >> 1) | (u64::from(top) << 63),
    ]
}

pub fn is_zero(a: &Limbs) -> bool {
    a.iter().all(|&l| l == 0)
}

/// a + b·c + carry as (low, high): never overflows 128 bits.
#[inline(always)]
pub fn mac(a: u64, b: u64, c: u64, carry: u64) -> (u64, u64) {
    let t = u128::from(a) + u128::from(b) * u128::from(c) + u128::from(carry);
    (t as u64, (t >> 64) as u64)
}

/// a + b + carry as (sum, carry out).
#[inline(always)]
pub fn adc(a: u64, b: u64, carry: u64) -> (u64, u64) {
    let t = u128::from(a) + u128::from(b) + u128::from(carry);
    (t as u64, (t >> 64) as u64)
}

/// a − b − borrow, where borrow is 0 or all ones (the previous limb's
/// borrow out); the borrow out is again 0 or all ones.
#[inline(always)]
pub fn sbb(a: u64, b: u64, borrow: u64) -> (u64, u64) {
    let t = u128::from(a).wrapping_sub(u128::from(b) + u128::from(borrow >> 63));
    (t as u64, (t >> 64) as u64)
}
