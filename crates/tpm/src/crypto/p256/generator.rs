//! k·G on P-256 for secret k (private keys, ECDSA nonces) in constant
//! time, on our field arithmetic.
//!
//! Why: the engine multiplies the generator in every ECDSA signature
//! (R = k·G, FIPS 186-5 §6.4.1), every key generation (Q = d·G) and every
//! Load of outside ECC key parts (d·G checks the public point, TPM2_Load
//! and LoadExternal, Part 3 §12.2.1 and §12.3.1). The
//! curve crate's field product costs 30–42 ns against our 20–22, and its
//! complete addition ~500 ns; this is the same method as
//! `crypto::fixed_base` (signed 5-bit windows, one precomputed row per
//! window, a constant-time scan of the row and one complete mixed addition
//! per window, no doublings) on our field.
//!
//! Additions use the complete formulas of Renes, Costello and Batina,
//! "Complete addition formulas for prime order elliptic curves" (2016),
//! Algorithm 5 (mixed addition, a = −3) in homogeneous projective
//! coordinates: correct for every accumulator value, the identity and
//! doubling included, so no branch depends on the scalar. The one case
//! the mixed formula cannot take, an identity operand (digit 0), is
//! handled by keeping the previous accumulator with a masked select.
//!
//! Table: 52 rows × 16 affine points × 64 octets = 52 KiB, built once per
//! process with the same formulas and one batched inversion (~1 ms). The
//! width is the measured best (`cargo bench -p tpm --bench engine`,
//! `ecc-fixed-base`): 5 and 6 bits take the same time with the table in
//! cache (28–29 µs), but every signature scans the whole table, and with
//! the caches evicted first (a daemon with thousands of instances) 5 bits
//! took 30–32 µs, 6 bits 32–42 µs, 4 bits 34–35 µs.

use std::sync::OnceLock;

use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};
use zeroize::Zeroize;

use super::curve::{B, GX, GY};
use super::field::Fe;
use crate::crypto::fixed_base::recode;

/// Window width in bits.
const WIDTH: usize = 5;
/// Points per row: digit magnitudes 1..=2^(WIDTH−1).
const ROW: usize = 1 << (WIDTH - 1);
/// Windows: enough that the carry out of the top signed digit of a
/// 256-bit scalar still has a row (WIDTH·ROWS ≥ 257).
const ROWS: usize = 257_usize.div_ceil(WIDTH);

/// An affine point (x, y), never the identity.
#[derive(Clone, Copy, Default)]
pub struct Affine {
    pub x: Fe,
    pub y: Fe,
}

impl ConditionallySelectable for Affine {
    fn conditional_select(a: &Self, b: &Self, choice: Choice) -> Self {
        Affine {
            x: Fe::conditional_select(&a.x, &b.x, choice),
            y: Fe::conditional_select(&a.y, &b.y, choice),
        }
    }
}

/// A point (X : Y : Z) with x = X/Z, y = Y/Z; the identity is (0 : 1 : 0).
#[derive(Clone, Copy)]
struct Projective {
    x: Fe,
    y: Fe,
    z: Fe,
}

impl ConditionallySelectable for Projective {
    fn conditional_select(a: &Self, b: &Self, choice: Choice) -> Self {
        Projective {
            x: Fe::conditional_select(&a.x, &b.x, choice),
            y: Fe::conditional_select(&a.y, &b.y, choice),
            z: Fe::conditional_select(&a.z, &b.z, choice),
        }
    }
}

impl Zeroize for Projective {
    fn zeroize(&mut self) {
        self.x.zeroize();
        self.y.zeroize();
        self.z.zeroize();
    }
}

impl Projective {
    const IDENTITY: Projective = Projective {
        x: Fe::ZERO,
        y: Fe::ONE,
        z: Fe::ZERO,
    };

    fn from_affine(p: &Affine) -> Projective {
        Projective {
            x: p.x,
            y: p.y,
            z: Fe::ONE,
        }
    }

    /// self + q for any self (identity and q itself included) and an
    /// affine q: RCB 2016 Algorithm 5 for a = −3, 11 products.
    #[inline]
    fn add_mixed(&self, q: &Affine, b: &Fe) -> Projective {
        let (x1, y1, z1) = (self.x, self.y, self.z);
        let (x2, y2) = (q.x, q.y);
        let t0 = x1.mul(&x2);
        let t1 = y1.mul(&y2);
        let t3 = x2.add(&y2).mul(&x1.add(&y1)).sub(&t0.add(&t1));
        let t4 = y2.mul(&z1).add(&y1);
        let y3 = x2.mul(&z1).add(&x1);
        let z3 = b.mul(&z1);
        let x3 = y3.sub(&z3);
        let x3 = x3.double().add(&x3);
        let z3 = t1.sub(&x3);
        let x3 = t1.add(&x3);
        let t2 = z1.double().add(&z1);
        let y3 = b.mul(&y3).sub(&t2).sub(&t0);
        let y3 = y3.double().add(&y3);
        let t0 = t0.double().add(&t0).sub(&t2);
        let t1 = t4.mul(&y3);
        let t2 = t0.mul(&y3);
        let y3 = x3.mul(&z3).add(&t2);
        let x3 = t3.mul(&x3).sub(&t1);
        let z3 = t4.mul(&z3).add(&t3.mul(&t0));
        Projective {
            x: x3,
            y: y3,
            z: z3,
        }
    }
}

/// Affine forms of many points with one inversion (Montgomery's trick:
/// the prefix products, one inverse, then back down). Every z must be
/// non-zero; the table's points are.
fn normalize_all(points: &[Projective]) -> Vec<Affine> {
    let mut prefix = Vec::with_capacity(points.len());
    let mut acc = Fe::ONE;
    for p in points {
        prefix.push(acc);
        acc = acc.mul(&p.z);
    }
    let mut inv = acc.invert();
    let mut out = vec![Affine::default(); points.len()];
    for ((p, before), o) in points.iter().zip(&prefix).zip(out.iter_mut()).rev() {
        let z_inv = inv.mul(before);
        inv = inv.mul(&p.z);
        *o = Affine {
            x: p.x.mul(&z_inv),
            y: p.y.mul(&z_inv),
        };
    }
    out
}

struct Table {
    b: Fe,
    /// Row i, entry j − 1 is j·2^(WIDTH·i)·G.
    points: Vec<Affine>,
}

/// Row i from its base 2^(WIDTH·i)·G by repeated addition (the complete
/// formula takes the doubling G + G too); the next base is 2·(ROW·base).
fn build() -> Option<Table> {
    let b = Fe::from_limbs(B)?;
    let mut base = Affine {
        x: Fe::from_limbs(GX)?,
        y: Fe::from_limbs(GY)?,
    };
    let mut all = Vec::with_capacity(ROWS * ROW);
    for _ in 0..ROWS {
        let mut acc = Projective::IDENTITY;
        for _ in 0..ROW {
            acc = acc.add_mixed(&base, &b);
            all.push(acc);
        }
        // 2^(WIDTH−1)·base (the row's last) in affine form, then doubled:
        // the next base.
        let top = *normalize_all(&[acc]).first()?;
        let next = Projective::from_affine(&top).add_mixed(&top, &b);
        base = *normalize_all(&[next]).first()?;
    }
    Some(Table {
        b,
        points: normalize_all(&all),
    })
}

fn table() -> Option<&'static Table> {
    static TABLE: OnceLock<Option<Table>> = OnceLock::new();
    TABLE.get_or_init(build).as_ref()
}

/// k·G for the big-endian 32-octet k (any value below 2²⁵⁶; k ≡ 0 mod n
/// gives `None`, the identity), as affine coordinates. Constant time in k.
pub fn mul_generator(k: &[u8; 32]) -> Option<Affine> {
    let mut acc = mul_projective(k)?;
    // Z = 0 only for the identity, which a scalar in [1, n − 1] never gives.
    let z_inv = acc.z.invert();
    let out = to_affine(&acc, &z_inv);
    acc.zeroize();
    out
}

/// [`mul_generator`] for a caller that has a fresh uniformly random
/// `blind` in [1, p − 1] (big-endian): Z⁻¹ is (Z·blind)⁻¹·blind, with the
/// variable-time safegcd inversion. Its running time then depends only on
/// Z·blind, which is uniform and unrelated to k; the inversion then costs
/// about a third of the constant-time exponentiation's ~5 µs (27.5 → 23.4
/// µs per k·G, `ecc-fixed-base` in `cargo bench -p tpm --bench engine`).
/// A `blind` outside [1, p − 1] falls back to that exponentiation.
pub fn mul_generator_blinded(k: &[u8; 32], blind: &[u8; 32]) -> Option<Affine> {
    let Some(b) = Fe::from_limbs(super::limbs::from_be32(blind)).filter(|b| !b.is_zero()) else {
        return mul_generator(k);
    };
    let mut acc = mul_projective(k)?;
    let mut zb = acc.z.mul(&b);
    let out = zb
        .invert_vartime()
        .and_then(|inverse| to_affine(&acc, &inverse.mul(&b)));
    zb.zeroize();
    acc.zeroize();
    out
}

/// (X/Z, Y/Z) given Z⁻¹; `None` for the identity (Z = 0).
fn to_affine(p: &Projective, z_inv: &Fe) -> Option<Affine> {
    (!p.z.is_zero()).then(|| Affine {
        x: p.x.mul(z_inv),
        y: p.y.mul(z_inv),
    })
}

/// k·G in projective form, constant time in k (`None` only if the table
/// could not be built).
fn mul_projective(k: &[u8; 32]) -> Option<Projective> {
    let table = table()?;
    // The signed digits, branch-free, as `crypto::fixed_base` recodes
    // (wiped when dropped).
    let digits = recode(k, WIDTH, ROWS);
    let mut acc = Projective::IDENTITY;
    let mut pick = Affine::default();
    let mut sum = Projective::IDENTITY;
    for (row, &d) in table.points.chunks_exact(ROW).zip(digits.iter()) {
        // |d| and its sign without branches: mask is all ones iff d < 0.
        let mask = d >> 7;
        let magnitude = (d ^ mask).wrapping_sub(mask) as u8;
        pick = Affine::default();
        for (j, p) in (1u8..).zip(row) {
            pick.conditional_assign(p, magnitude.ct_eq(&j));
        }
        let negated = pick.y.neg();
        pick.y
            .conditional_assign(&negated, Choice::from((mask & 1) as u8));
        sum = acc.add_mixed(&pick, &table.b);
        // Digit 0 adds nothing: keep acc (pick is then (0, 0), not a point).
        acc.conditional_assign(&sum, !magnitude.ct_eq(&0));
    }
    pick.x.zeroize();
    pick.y.zeroize();
    sum.zeroize();
    Some(acc)
}
