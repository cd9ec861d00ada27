//! Fixed-base scalar multiplication k·G for the generator of each curve.
//!
//! Why: every private-key operation of the engine multiplies the generator
//! (d·G when a loaded key's parts are checked, TPM2_Load, Part 3 §12.2.1;
//! Q = d·G at key generation; R = k·G in ECDSA and SM2 signing, Part 1
//! Annex C.3 and C.5). The curve crates' `mul_by_generator` is their generic
//! variable-base 4-bit window multiply: about 256 doublings and 64
//! additions per product. With G fixed, the doublings can be precomputed
//! once per process: for each W-bit window i the table holds
//! j·2^(W·i)·G for j in 0..=2^(W-1) in affine form, and
//! k·G = Σ_i digit_i·2^(W·i)·G is only ⌈(bits+1)/W⌉ mixed additions.
//!
//! The scalar is recoded into signed digits in [−2^(W−1), 2^(W−1)] (a
//! digit above half the window borrows from the next window), which halves
//! the table: a negative digit selects |digit| and negates the point.
//!
//! Constant time, as the scalars are secrets (private keys, nonces): the
//! recoding is branch-free integer arithmetic; every entry of a window's
//! row is read and the wanted one kept with `subtle` conditional
//! assignment, so the memory addresses touched do not depend on the
//! digit; digit 0 selects the stored identity, which the complete mixed
//! addition of `primeorder` (Renes–Costello–Batina 2015, Algorithm 5 with
//! a constant-time select for an identity operand) absorbs. All field and
//! point arithmetic is the curve crates' own.
//!
//! NIST P-256 does the same on our own field arithmetic
//! ([`crate::crypto::p256::generator`]), where products cost two thirds of
//! the curve crate's. Table memory for the others, with the window widths
//! below: SM2-P256 (W = 5) 52 rows × 17 points × 72 octets ≈ 62 KiB;
//! NIST P-384 (W = 5) 77 × 17 × 104 octets ≈ 133 KiB. Each is built on first use
//! and kept for the life of the process; building costs one field
//! inversion per point (about 25 ms for SM2, 100 ms for P-384 in release
//! builds), paid by the first command that needs d·G or
//! k·G on that curve.

use crate::crypto::ecc::{Affine, EcArith, Projective, Scalar};
use elliptic_curve::ff::PrimeField;
use elliptic_curve::group::prime::PrimeCurveAffine;
use elliptic_curve::group::{Curve, Group};
use elliptic_curve::CurveArithmetic;
use std::sync::OnceLock;
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};
use zeroize::{Zeroize, Zeroizing};

/// Precomputed multiples of the generator, one row per window.
pub(crate) struct Table<C: CurveArithmetic> {
    /// Window width in bits.
    width: usize,
    /// Points per row: 2^(width−1) + 1 (digit magnitudes 0..=2^(width−1)).
    row_len: usize,
    /// Row i, entry j is j·2^(width·i)·G; entry 0 is the identity.
    points: Box<[Affine<C>]>,
}

impl<C: CurveArithmetic> Table<C> {
    /// Number of windows.
    fn rows(&self) -> usize {
        self.points.len() / self.row_len
    }

    /// Size of the table's points in octets (for the memory figure).
    #[cfg(test)]
    pub(crate) fn size_bytes(&self) -> usize {
        std::mem::size_of_val(&*self.points)
    }
}

/// A curve with a fast constant-time k·G. Implemented for the three curve
/// types of [`crate::crypto::ecc`].
pub(crate) trait FixedBase: CurveArithmetic {
    /// k·G in affine form (the identity for k = 0), in constant time with
    /// respect to k. Equal to `mul_by_generator(k)`.
    fn mul_generator(k: &Scalar<Self>) -> Affine<Self>;

    /// k·G as [`FixedBase::mul_generator`], for a caller with a fresh
    /// uniformly random non-zero `blind`: P-256 then converts to affine
    /// with a variable-time inversion of Z·blind (see
    /// `p256::generator::mul_generator_blinded`); the other curves ignore
    /// it.
    fn mul_generator_blinded(k: &Scalar<Self>, blind: &Scalar<Self>) -> Affine<Self> {
        let _ = blind;
        Self::mul_generator(k)
    }
}

/// A curve whose k·G comes from this module's table on the curve crate's
/// arithmetic (NIST P-384, SM2). P-256 has its own, on our field
/// arithmetic: [`crate::crypto::p256::generator`].
trait Tabled: CurveArithmetic {
    /// The process-wide table, built on first use.
    fn table() -> &'static Table<Self>;
    /// p + q with the crate's complete mixed addition.
    fn add_affine(p: &Projective<Self>, q: &Affine<Self>) -> Projective<Self>;
    /// −q.
    fn neg_affine(q: &Affine<Self>) -> Affine<Self>;
}

/// Builds the table for a scalar field of `bits` bits: enough windows that
/// the carry out of the top signed digit still has a row
/// (width·rows ≥ bits + 1).
fn build<C: CurveArithmetic>(width: usize, bits: usize) -> Table<C> {
    let rows = (bits + 1).div_ceil(width);
    let row_len = (1 << (width - 1)) + 1;
    let mut projective = Vec::with_capacity(rows * row_len);
    let mut base = Projective::<C>::generator();
    for _ in 0..rows {
        let mut acc = Projective::<C>::identity();
        for _ in 0..row_len {
            projective.push(acc);
            acc += base;
        }
        for _ in 0..width {
            base = base.double();
        }
    }
    // The crates' `batch_normalize` for slices is one inversion per
    // point here (p256/p384 0.13 lack the batch-inversion hook); it runs
    // once per process.
    let mut points = vec![Affine::<C>::default(); projective.len()].into_boxed_slice();
    Projective::<C>::batch_normalize(&projective, &mut points);
    Table {
        width,
        row_len,
        points,
    }
}

/// Signed base-2^width digits of the big-endian number `be`, least
/// significant first, `rows` of them, each in [−2^(width−1), 2^(width−1)],
/// with Σ digit_i·2^(width·i) equal to the number. Branch-free: the only
/// indices used are bit positions, which are public.
pub(crate) fn recode(be: &[u8], width: usize, rows: usize) -> Zeroizing<Vec<i8>> {
    let half = 1i16 << (width - 1);
    let bit = |pos: usize| -> i16 {
        let byte = be
            .len()
            .checked_sub(1 + pos / 8)
            .and_then(|i| be.get(i))
            .copied()
            .unwrap_or(0);
        i16::from((byte >> (pos % 8)) & 1)
    };
    let mut digits = Zeroizing::new(Vec::with_capacity(rows));
    let mut carry = 0i16;
    for i in 0..rows {
        let mut v = carry;
        for b in 0..width {
            v += bit(i * width + b) << b;
        }
        // v in [0, 2^width]; borrow is 1 exactly when v > half (the sign
        // bit of half − v), and then the digit is v − 2^width < 0.
        let borrow = ((half - v) >> 15) & 1;
        digits.push((v - (borrow << width)) as i8);
        carry = borrow;
    }
    digits
}

/// k·G using the precomputed table of `C`'s generator, in constant time
/// with respect to k.
fn table_mul<C: Tabled>(k: &Scalar<C>) -> Projective<C> {
    let table = C::table();
    let mut repr = k.to_repr();
    let digits = recode(repr.as_ref(), table.width, table.rows());
    repr.as_mut().zeroize();

    let mut acc = Projective::<C>::identity();
    let mut pick = Affine::<C>::default();
    for (row, &d) in table.points.chunks_exact(table.row_len).zip(digits.iter()) {
        // |d| and its sign without branches: mask is all ones iff d < 0.
        let mask = d >> 7;
        let magnitude = (d ^ mask).wrapping_sub(mask) as u8;
        let negative = Choice::from((mask & 1) as u8);
        // Entry 0 is the identity: the default when no other matches.
        pick = row.first().copied().unwrap_or_default();
        for (j, p) in row.iter().enumerate().skip(1) {
            pick.conditional_assign(p, magnitude.ct_eq(&(j as u8)));
        }
        let negated = C::neg_affine(&pick);
        pick.conditional_assign(&negated, negative);
        acc = C::add_affine(&acc, &pick);
    }
    pick.zeroize();
    acc
}

macro_rules! fixed_base {
    ($c:ty, $width:expr) => {
        impl Tabled for $c {
            fn table() -> &'static Table<Self> {
                static TABLE: OnceLock<Table<$c>> = OnceLock::new();
                TABLE.get_or_init(|| build::<$c>($width, Scalar::<$c>::NUM_BITS as usize))
            }
            fn add_affine(p: &Projective<Self>, q: &Affine<Self>) -> Projective<Self> {
                p + q
            }
            fn neg_affine(q: &Affine<Self>) -> Affine<Self> {
                -q
            }
        }
        impl FixedBase for $c {
            fn mul_generator(k: &Scalar<Self>) -> Affine<Self> {
                table_mul::<$c>(k).to_affine()
            }
        }
    };
}
fixed_base!(p384::NistP384, 5);
fixed_base!(sm2::Sm2, 5);

impl FixedBase for p256::NistP256 {
    fn mul_generator(k: &Scalar<Self>) -> Affine<Self> {
        p256_point(k, crate::crypto::p256::generator::mul_generator)
    }

    /// A scalar below n is a field element below p (n < p), as the
    /// blinded inversion needs.
    fn mul_generator_blinded(k: &Scalar<Self>, blind: &Scalar<Self>) -> Affine<Self> {
        let mut b: [u8; 32] = blind.to_repr().into();
        let p = p256_point(k, |k| {
            crate::crypto::p256::generator::mul_generator_blinded(k, &b)
        });
        b.zeroize();
        p
    }
}

/// k·G through our P-256 arithmetic (`mul`); the result is decoded like
/// any outside point (on-curve check), so a fault or bug yields the
/// identity — refused by every caller — rather than a wrong point.
fn p256_point(
    k: &Scalar<p256::NistP256>,
    mul: impl FnOnce(&[u8; 32]) -> Option<crate::crypto::p256::generator::Affine>,
) -> Affine<p256::NistP256> {
    let mut repr: [u8; 32] = k.to_repr().into();
    let p = mul(&repr);
    repr.zeroize();
    p.and_then(|p| {
        let (x, y) = (p.x.to_be_bytes(), p.y.to_be_bytes());
        <p256::NistP256 as EcArith>::decode(&x.into(), &y.into())
    })
    .unwrap_or(<Affine<p256::NistP256> as PrimeCurveAffine>::identity())
}

/// k·G for any of the curves (see [`FixedBase`]).
pub(crate) fn mul_generator<C: FixedBase>(k: &Scalar<C>) -> Affine<C> {
    C::mul_generator(k)
}

/// k·G for any of the curves, `blind` a fresh random non-zero scalar (see
/// [`FixedBase::mul_generator_blinded`]).
pub(crate) fn mul_generator_blinded<C: FixedBase>(k: &Scalar<C>, blind: &Scalar<C>) -> Affine<C> {
    C::mul_generator_blinded(k, blind)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::ecc::EcArith;
    use elliptic_curve::ops::MulByGenerator;
    use elliptic_curve::Field;
    use proptest::prelude::*;

    fn same<C: EcArith>(k: &Scalar<C>) {
        let want = Projective::<C>::mul_by_generator(k).to_affine();
        let got = mul_generator::<C>(k);
        assert_eq!(got, want, "k = {:02x?}", k.to_repr().as_ref());
    }

    /// The scalar whose big-endian octets are `be` (reduced mod n).
    fn scalar<C: EcArith>(be: &[u8]) -> Scalar<C> {
        crate::crypto::ecc::reduce_mod_n::<C>(be)
    }

    /// 0, 1, 2, n−1, n−2, powers of two at every bit, and patterns whose
    /// windows are all zero, all ones or alternating (digit 0, digit 15
    /// / −1 borrows, carries through the top window).
    fn edge_cases<C: EcArith>() {
        let size = crate::crypto::ecc::field_bytes::<C>(&[1]).unwrap().len();
        let one = Scalar::<C>::ONE;
        for k in [
            Scalar::<C>::ZERO,
            one,
            one + one,
            -one,
            -one - one,
            -(one + one + one),
        ] {
            same::<C>(&k);
        }
        for bit in 0..size * 8 {
            let mut be = vec![0u8; size];
            be[size - 1 - bit / 8] = 1 << (bit % 8);
            same::<C>(&scalar::<C>(&be));
        }
        for pattern in [0xff, 0xf0, 0x0f, 0x80, 0x88, 0x10, 0x11, 0xaa, 0x55, 0x7f] {
            let mut be = vec![pattern; size];
            same::<C>(&scalar::<C>(&be));
            // Low half zero windows, high half the pattern, and reverse.
            be[size / 2..].fill(0);
            same::<C>(&scalar::<C>(&be));
            let mut be = vec![0u8; size];
            be[size / 2..].fill(pattern);
            same::<C>(&scalar::<C>(&be));
        }
    }

    #[test]
    fn edge_cases_p256() {
        edge_cases::<p256::NistP256>();
    }

    #[test]
    fn edge_cases_p384() {
        edge_cases::<p384::NistP384>();
    }

    #[test]
    fn edge_cases_sm2() {
        edge_cases::<sm2::Sm2>();
    }

    #[test]
    fn recode_sums_back() {
        // Σ digit_i·2^(w·i) over a 16-bit number, for every width used.
        for width in 2..=7 {
            for v in [0u16, 1, 0x7fff, 0xffff, 0x8000, 0x1234, 0xabcd, 0x0f0f] {
                let rows = 17usize.div_ceil(width);
                let digits = recode(&v.to_be_bytes(), width, rows);
                let half = 1i64 << (width - 1);
                let sum: i64 = digits
                    .iter()
                    .enumerate()
                    .map(|(i, &d)| {
                        assert!(-half <= i64::from(d) && i64::from(d) <= half);
                        i64::from(d) << (width * i)
                    })
                    .sum();
                assert_eq!(sum, i64::from(v), "width {width}, v {v:#x}");
            }
        }
    }

    #[test]
    fn table_sizes() {
        // The documented memory figures (module docs) stay true.
        assert!(sm2::Sm2::table().size_bytes() <= 64 * 1024);
        assert!(p384::NistP384::table().size_bytes() <= 136 * 1024);
        assert_eq!(p384::NistP384::table().rows(), 77);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn matches_mul_by_generator(be in proptest::collection::vec(any::<u8>(), 48)) {
            same::<p256::NistP256>(&scalar::<p256::NistP256>(&be[..32]));
            same::<sm2::Sm2>(&scalar::<sm2::Sm2>(&be[16..]));
            same::<p384::NistP384>(&scalar::<p384::NistP384>(&be));
        }
    }
}
