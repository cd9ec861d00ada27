//! k·G on our arithmetic against the p256 crate's `mul_by_generator`, for
//! edge scalars (0, 1, n − 1, powers of two, digit patterns that borrow
//! across every window) and random ones, with and without the blinded
//! inversion.
use elliptic_curve::ops::MulByGenerator;
use elliptic_curve::sec1::ToEncodedPoint;
use elliptic_curve::{Field, PrimeField};
use p256::{ProjectivePoint, Scalar};
use proptest::prelude::*;

use super::curve::N;
use super::field::Fe;
use super::generator::{mul_generator, mul_generator_blinded, Affine};
use super::limbs;

/// Blinding factors: small, the largest valid, and some others; 0 and p
/// itself are outside [1, p − 1] and take the constant-time path.
const BLINDS: [[u64; 4]; 5] = [
    [1, 0, 0, 0],
    [2, 0, 0, 0],
    [
        0xffff_ffff_ffff_fffe,
        0x0000_0000_ffff_ffff,
        0,
        0xffff_ffff_0000_0001,
    ], // p − 1
    [
        0x0123_4567_89ab_cdef,
        0xfedc_ba98_7654_3210,
        0x0f0f_0f0f_0f0f_0f0f,
        0x7777,
    ],
    [0; 4],
];

fn check(k: [u8; 32]) {
    check_with(k, mul_generator);
    for b in BLINDS {
        check_with(k, |k| mul_generator_blinded(k, &limbs::to_be(&b)));
    }
    check_with(k, |k| {
        mul_generator_blinded(k, &limbs::to_be(&super::field::P))
    });
}

fn check_with(k: [u8; 32], mul: impl Fn(&[u8; 32]) -> Option<Affine>) {
    let s: Option<Scalar> = Scalar::from_repr(k.into()).into();
    let s = s.expect("below n");
    let want = ProjectivePoint::mul_by_generator(&s).to_affine();
    let got = mul(&k);
    if bool::from(s.is_zero()) {
        assert!(got.is_none(), "0·G is the identity");
        return;
    }
    let got = got.expect("non-zero scalar");
    let ep = want.to_encoded_point(false);
    assert_eq!(
        got.x.to_be_bytes().as_slice(),
        ep.x().unwrap().as_slice(),
        "x of {k:02x?}"
    );
    assert_eq!(
        got.y.to_be_bytes().as_slice(),
        ep.y().unwrap().as_slice(),
        "y of {k:02x?}"
    );
}

#[test]
fn edge_scalars() {
    let n_minus = |k: u64| limbs::sub(&N, &[k, 0, 0, 0]).0;
    let mut cases = vec![
        [0u64; 4],
        [1, 0, 0, 0],
        [2, 0, 0, 0],
        n_minus(1),
        n_minus(2),
    ];
    for bit in 0..256 {
        let mut l = [0u64; 4];
        l[bit / 64] = 1 << (bit % 64);
        if limbs::lt(&l, &N) {
            cases.push(l);
        }
    }
    // Digits of all 32 (the largest positive), all 33 (every window
    // borrows), and alternating patterns.
    for pattern in [0x20u8, 0x21, 0x1f, 0x3f, 0xff, 0xaa, 0x55] {
        let l = limbs::from_be(&[pattern; 32]).unwrap();
        if limbs::lt(&l, &N) {
            cases.push(l);
        }
    }
    cases.push(limbs::half(&N, false)); // (n − 1)/2
    for l in cases {
        check(limbs::to_be(&l));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]
    #[test]
    fn random_scalars(k in any::<[u64; 4]>()) {
        let mut k = k;
        k[3] %= N[3];
        check(limbs::to_be(&k));
    }

    #[test]
    fn random_scalars_with_random_blinds(k in any::<[u64; 4]>(), b in any::<[u64; 4]>()) {
        let (mut k, mut b) = (k, b);
        k[3] %= N[3];
        b[3] %= super::field::P[3];
        check_with(limbs::to_be(&k), |k| mul_generator_blinded(k, &limbs::to_be(&b)));
    }

    #[test]
    fn vartime_inverse_is_the_constant_time_one(v in any::<[u64; 4]>()) {
        let mut v = v;
        v[3] %= super::field::P[3];
        let x = Fe::from_limbs(v).unwrap();
        match x.invert_vartime() {
            Some(inv) => prop_assert_eq!(inv.to_limbs(), x.invert().to_limbs()),
            None => prop_assert!(limbs::is_zero(&v)),
        }
    }

    #[test]
    fn inverse_times_value_is_one(v in any::<[u64; 4]>()) {
        let mut v = v;
        v[3] %= super::field::P[3];
        let x = Fe::from_limbs(v).unwrap();
        let one = if limbs::is_zero(&v) { [0; 4] } else { [1, 0, 0, 0] };
        prop_assert_eq!(x.mul(&x.invert()).to_limbs(), one);
    }
}
