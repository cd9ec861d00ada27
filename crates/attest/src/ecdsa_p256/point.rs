//! Points of P-256 (y² = x³ − 3x + b over GF(p), SEC 2 v2 §2.4.2) in
//! affine and Jacobian coordinates, with the doubling and mixed addition
//! a variable-time verifier needs, including every exceptional case
//! (a signature is attacker-chosen, so sums that hit P + P, P + (−P) or
//! the point at infinity must come out right, not just be unlikely).

use tpm::crypto::p256::curve::B;
use tpm::crypto::p256::field::Fe;
use tpm::crypto::p256::limbs::Limbs;

/// A finite point (the point at infinity has no affine form).
#[derive(Clone, Copy)]
pub(super) struct Affine {
    pub(super) x: Fe,
    pub(super) y: Fe,
}

impl Affine {
    /// The point (x, y) if it lies on the curve (SEC 1 v2 §3.2.2.1 step 2
    /// for a public key: coordinates below p, equation holds; P-256 has
    /// cofactor 1, so every such point has order n).
    pub(super) fn new(x: Limbs, y: Limbs) -> Option<Affine> {
        let (x, y) = (Fe::from_limbs(x)?, Fe::from_limbs(y)?);
        let b = Fe::from_limbs(B)?;
        let three_x = x.double().add(&x);
        let rhs = x.square().mul(&x).sub(&three_x).add(&b);
        y.square().equals(&rhs).then_some(Affine { x, y })
    }
}

/// (X, Y, Z) stands for (X/Z², Y/Z³); Z = 0 is the point at infinity.
#[derive(Clone, Copy)]
pub(super) struct Jacobian {
    pub(super) x: Fe,
    pub(super) y: Fe,
    pub(super) z: Fe,
}

impl Jacobian {
    pub(super) fn infinity() -> Jacobian {
        Jacobian {
            x: Fe::ONE,
            y: Fe::ONE,
            z: Fe::ZERO,
        }
    }

    pub(super) fn from_affine(a: &Affine) -> Jacobian {
        Jacobian {
            x: a.x,
            y: a.y,
            z: Fe::ONE,
        }
    }

    #[inline]
    pub(super) fn is_infinity(&self) -> bool {
        self.z.is_zero()
    }

    /// 2·self ("dbl-2001-b" for a = −3: 3M + 5S). Infinity doubles to
    /// Z₃ = Y² − Y² − 0 = 0, infinity again; P-256 has no point with y = 0.
    #[inline]
    pub(super) fn double(&self) -> Jacobian {
        let delta = self.z.square();
        let gamma = self.y.square();
        let beta = self.x.mul(&gamma);
        let t = self.x.sub(&delta).mul(&self.x.add(&delta));
        let alpha = t.double().add(&t);
        let beta4 = beta.double().double();
        let x3 = alpha.square().sub(&beta4.double());
        let z3 = self.y.add(&self.z).square().sub(&gamma).sub(&delta);
        let gamma2_8 = gamma.square().double().double().double();
        let y3 = alpha.mul(&beta4.sub(&x3)).sub(&gamma2_8);
        Jacobian {
            x: x3,
            y: y3,
            z: z3,
        }
    }

    /// self + a ("madd-2007-bl", Z₂ = 1: 7M + 4S), with the cases the
    /// formula does not cover: self at infinity, self = a (doubling) and
    /// self = −a (infinity).
    #[inline]
    pub(super) fn add_affine(&self, a: &Affine) -> Jacobian {
        if self.is_infinity() {
            return Jacobian::from_affine(a);
        }
        let z1z1 = self.z.square();
        let u2 = a.x.mul(&z1z1);
        let s2 = a.y.mul(&self.z).mul(&z1z1);
        let h = u2.sub(&self.x);
        let s_diff = s2.sub(&self.y);
        if h.is_zero() {
            return if s_diff.is_zero() {
                self.double()
            } else {
                Jacobian::infinity()
            };
        }
        let hh = h.square();
        let i = hh.double().double();
        let j = h.mul(&i);
        let r = s_diff.double();
        let v = self.x.mul(&i);
        let x3 = r.square().sub(&j).sub(&v.double());
        let y3 = r.mul(&v.sub(&x3)).sub(&self.y.mul(&j).double());
        let z3 = self.z.add(&h).square().sub(&z1z1).sub(&hh);
        Jacobian {
            x: x3,
            y: y3,
            z: z3,
        }
    }
}

/// The affine forms of finite points with one field inversion in all
/// (Montgomery's trick); `None` if any of them is the point at infinity.
pub(super) fn normalize_all(points: &[Jacobian]) -> Option<Vec<Affine>> {
    let mut prefix = Vec::with_capacity(points.len());
    let mut acc = Fe::ONE;
    for p in points {
        if p.is_infinity() {
            return None;
        }
        acc = acc.mul(&p.z);
        prefix.push(acc);
    }
    let mut inv = acc.invert();
    let mut out = vec![
        Affine {
            x: Fe::ZERO,
            y: Fe::ZERO
        };
        points.len()
    ];
    for (i, (p, slot)) in points.iter().zip(out.iter_mut()).enumerate().rev() {
        // inv = (z₀···z_i)⁻¹ here; times z₀···z_{i−1} gives z_i⁻¹.
        let z_inv = match i.checked_sub(1).and_then(|k| prefix.get(k)) {
            Some(before) => inv.mul(before),
            None => inv,
        };
        inv = inv.mul(&p.z);
        let z_inv2 = z_inv.square();
        *slot = Affine {
            x: p.x.mul(&z_inv2),
            y: p.y.mul(&z_inv2.mul(&z_inv)),
        };
    }
    Some(out)
}
