//! Our hand-written Montgomery arithmetic against fiat-crypto's
//! (generated from a proof) on the same Montgomery representations:
//! random elements and the values where carries and the final
//! subtraction change (0, 1, p − 1, limbs of all ones, 2²⁵⁵).
use f::fiat_p256_montgomery_domain_field_element as M;
use fiat_crypto::p256_64 as f;
use proptest::prelude::*;

use super::field::{Fe, P};
use super::limbs::{self, Limbs};

fn specials() -> Vec<Limbs> {
    let p_minus = |k: u64| limbs::sub(&P, &[k, 0, 0, 0]).0;
    vec![
        [0; 4],
        [1, 0, 0, 0],
        [2, 0, 0, 0],
        p_minus(1),
        p_minus(2),
        [u64::MAX, u64::MAX, u64::MAX, P[3] - 1],
        [0, 0, 0, 1 << 63],
        [u64::MAX, 0, 0, 0],
        [u64::MAX, u64::MAX, 0, 0],
        [0, u64::MAX, u64::MAX, 0],
        [0, 0, 0, P[3]],
        [u64::MAX, u64::MAX - 1, u64::MAX, P[3] - 1],
    ]
}

fn below_p() -> impl Strategy<Value = Limbs> {
    prop_oneof![
        any::<[u64; 4]>().prop_map(|mut l| {
            l[3] %= P[3];
            l
        }),
        proptest::sample::select(specials()),
        (any::<u64>(), 0u64..4).prop_map(|(x, k)| {
            let mut l = limbs::sub(&P, &[k + 1, 0, 0, 0]).0;
            l[1] ^= x & 0xffff_0000;
            if limbs::lt(&l, &P) {
                l
            } else {
                [x, 0, 0, 0]
            }
        }),
    ]
}

fn check(a: Limbs, b: Limbs) -> Result<(), TestCaseError> {
    let (x, y) = (Fe::from_raw(a), Fe::from_raw(b));
    let (fa, fb) = (M(a), M(b));
    let mut o = M([0; 4]);
    f::fiat_p256_mul(&mut o, &fa, &fb);
    prop_assert_eq!(x.mul(&y).raw(), o.0, "mul {:x?} {:x?}", a, b);
    f::fiat_p256_square(&mut o, &fa);
    prop_assert_eq!(x.square().raw(), o.0, "square {:x?}", a);
    f::fiat_p256_add(&mut o, &fa, &fb);
    prop_assert_eq!(x.add(&y).raw(), o.0, "add {:x?} {:x?}", a, b);
    f::fiat_p256_sub(&mut o, &fa, &fb);
    prop_assert_eq!(x.sub(&y).raw(), o.0, "sub {:x?} {:x?}", a, b);
    Ok(())
}

#[test]
fn special_values() {
    for a in specials() {
        for b in specials() {
            check(a, b).unwrap();
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(20_000))]
    #[test]
    fn random_values(a in below_p(), b in below_p()) {
        check(a, b)?;
    }
}

#[test]
fn conversion_round_trip_and_inverse() {
    for v in specials().into_iter().skip(1) {
        let x = Fe::from_limbs(v).unwrap();
        assert_eq!(x.to_limbs(), v);
        assert_eq!(x.mul(&x.invert()).to_limbs(), [1, 0, 0, 0], "{v:x?}");
    }
    assert!(Fe::from_limbs(P).is_none());
}
