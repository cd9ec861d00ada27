//! Fixed-point multiplication by the comb method (Lim–Lee; Hankerson,
//! Menezes, Vanstone, "Guide to Elliptic Curve Cryptography", Alg. 3.44).
//!
//! A scalar k's 256 bits are read as `teeth` rows of `spacing` bits;
//! column j picks bit j of every row, and the table holds, for each of the
//! 2^teeth − 1 non-zero column patterns, Σ bitₜ·2^(t·spacing)·P. Then
//! k·P = Σⱼ 2ʲ·table[column j]: spacing − 1 doublings and up to `spacing`
//! additions, against ~256 doublings for a point seen for the first time.
//! Two tables sharing the doublings give u₁·G + u₂·Q (Shamir's trick); a
//! table with more teeth has a shorter spacing and joins the shared
//! doubling chain late, with half the additions.

use super::point::{normalize_all, Affine, Jacobian};
use tpm::crypto::p256::limbs::{self, Limbs};

/// The multiples of one point a comb reads; entry i − 1 is the point
/// for column pattern i.
pub(super) struct CombTable {
    teeth: usize,
    /// Bits per row: teeth · spacing ≥ 256.
    spacing: usize,
    entries: Vec<Affine>,
}

impl CombTable {
    /// Builds P's table with `teeth` rows (2^teeth − 1 points of 64
    /// bytes): the row bases 2^(t·spacing)·P by doubling, one addition per
    /// other entry, two batched inversions. `None` only if some entry
    /// were the point at infinity, which cannot happen for a point of
    /// prime order n > 2^255 (every multiplier is a non-zero number
    /// below n).
    pub(super) fn new(p: &Affine, teeth: usize) -> Option<CombTable> {
        let spacing = 256_usize.div_ceil(teeth);
        let mut bases = Vec::with_capacity(teeth);
        let mut b = Jacobian::from_affine(p);
        for t in 0..teeth {
            if t > 0 {
                for _ in 0..spacing {
                    b = b.double();
                }
            }
            bases.push(b);
        }
        let bases = normalize_all(&bases)?;
        let count = (1usize << teeth) - 1;
        let mut entries: Vec<Jacobian> = Vec::with_capacity(count);
        for pattern in 1..=count {
            let top = usize::BITS - 1 - pattern.leading_zeros();
            let base = bases.get(top as usize)?;
            let rest = pattern & !(1 << top);
            let point = match rest {
                0 => Jacobian::from_affine(base),
                _ => entries.get(rest - 1)?.add_affine(base),
            };
            entries.push(point);
        }
        Some(CombTable {
            teeth,
            spacing,
            entries: normalize_all(&entries)?,
        })
    }

    /// The point for column `j` of scalar `k` (bit j + t·spacing of k as
    /// bit t of the pattern); `None` for an all-zero column or a column
    /// beyond this comb's spacing.
    #[inline]
    fn column(&self, k: &Limbs, j: usize) -> Option<&Affine> {
        if j >= self.spacing {
            return None;
        }
        let pattern = (0..self.teeth).fold(0usize, |acc, t| {
            acc | (usize::from(limbs::bit(k, j + t * self.spacing)) << t)
        });
        pattern.checked_sub(1).and_then(|i| self.entries.get(i))
    }
}

/// a·A + b·B for the points whose tables these are (variable time).
pub(super) fn twin_mul(a: &Limbs, ta: &CombTable, b: &Limbs, tb: &CombTable) -> Jacobian {
    let mut acc = Jacobian::infinity();
    for j in (0..ta.spacing.max(tb.spacing)).rev() {
        if !acc.is_infinity() {
            acc = acc.double();
        }
        if let Some(p) = ta.column(a, j) {
            acc = acc.add_affine(p);
        }
        if let Some(p) = tb.column(b, j) {
            acc = acc.add_affine(p);
        }
    }
    acc
}
