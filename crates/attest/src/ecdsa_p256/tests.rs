//! The verifier against two independent oracles: ring (what quotes were
//! verified with before, message in, so for signatures over real
//! messages) and RustCrypto's p256 `verify_prehash` (digest in, so for
//! crafted digests that steer the computation into the exceptional
//! cases). A disagreement in either direction fails: accepting what they
//! reject would accept forgeries, rejecting what they accept would fail
//! honest agents.

use ecdsa::signature::hazmat::PrehashVerifier;
use p256::elliptic_curve::group::prime::PrimeCurveAffine;
use p256::elliptic_curve::ops::Reduce;
use p256::elliptic_curve::point::AffineCoordinates;
use p256::elliptic_curve::sec1::{FromEncodedPoint, ToEncodedPoint};
use p256::elliptic_curve::{Field, PrimeField};
use p256::{AffinePoint, EncodedPoint, FieldBytes, ProjectivePoint, Scalar, U256};
use proptest::prelude::*;
use sha2::{Digest, Sha256};

use super::scalar;
use super::P256Verifier;
use tpm::crypto::p256::limbs;

fn ours(q: &AffinePoint) -> P256Verifier {
    let enc = q.to_encoded_point(false);
    P256Verifier::new(enc.x().unwrap(), enc.y().unwrap()).unwrap()
}

fn ring_verifies(q: &AffinePoint, message: &[u8], r: &[u8; 32], s: &[u8; 32]) -> bool {
    use ring::signature as rs;
    let mut sig = r.to_vec();
    sig.extend_from_slice(s);
    let sec1 = q.to_encoded_point(false);
    rs::UnparsedPublicKey::new(&rs::ECDSA_P256_SHA256_FIXED, sec1.as_bytes())
        .verify(message, &sig)
        .is_ok()
}

fn rustcrypto_verifies(q: &AffinePoint, digest: &[u8; 32], r: &Scalar, s: &Scalar) -> bool {
    let Ok(vk) = p256::ecdsa::VerifyingKey::from_affine(*q) else {
        return false;
    };
    let Ok(sig) = p256::ecdsa::Signature::from_scalars(r.to_repr(), s.to_repr()) else {
        return false;
    };
    vk.verify_prehash(digest, &sig).is_ok()
}

fn scalar_from(seed: u64) -> Scalar {
    let d: [u8; 32] = Sha256::digest(seed.to_be_bytes()).into();
    let s = <Scalar as Reduce<U256>>::reduce_bytes(&FieldBytes::from(d));
    if s.is_zero().into() {
        Scalar::ONE
    } else {
        s
    }
}

/// A signature with nonce k by the key d over `digest`, by the textbook
/// formula (so tests can pick k and the digest freely).
fn sign(d: &Scalar, k: &Scalar, digest: &[u8; 32]) -> (Scalar, Scalar) {
    let big_r = (ProjectivePoint::GENERATOR * k).to_affine();
    let r = <Scalar as Reduce<U256>>::reduce_bytes(&big_r.x());
    let e = <Scalar as Reduce<U256>>::reduce_bytes(&FieldBytes::from(*digest));
    let s = k.invert().unwrap() * (e + r * d);
    (r, s)
}

fn bytes(s: &Scalar) -> [u8; 32] {
    s.to_repr().into()
}

fn public(d: &Scalar) -> AffinePoint {
    (ProjectivePoint::GENERATOR * d).to_affine()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Honest signatures over messages verify, and any change to the
    /// message, r, s or the key makes them fail — exactly as with ring.
    #[test]
    fn agrees_with_ring(key in any::<u64>(), nonce in any::<u64>(), message in proptest::collection::vec(any::<u8>(), 0..96), flip in 0usize..256) {
        let d = scalar_from(key);
        let q = public(&d);
        let digest: [u8; 32] = Sha256::digest(&message).into();
        let (r, s) = sign(&d, &scalar_from(nonce ^ 0x5555), &digest);
        let (rb, sb) = (bytes(&r), bytes(&s));
        let v = ours(&q);
        prop_assert!(ring_verifies(&q, &message, &rb, &sb));
        prop_assert!(v.verify(&digest, &rb, &sb));

        let mut bad_r = rb;
        bad_r[flip / 8] ^= 1 << (flip % 8);
        prop_assert_eq!(v.verify(&digest, &bad_r, &sb), ring_verifies(&q, &message, &bad_r, &sb));
        let mut bad_s = sb;
        bad_s[flip / 8] ^= 1 << (flip % 8);
        prop_assert_eq!(v.verify(&digest, &rb, &bad_s), ring_verifies(&q, &message, &rb, &bad_s));
        let mut other = message.clone();
        other.push(flip as u8);
        let other_digest: [u8; 32] = Sha256::digest(&other).into();
        prop_assert!(!v.verify(&other_digest, &rb, &sb));
        prop_assert!(!ring_verifies(&q, &other, &rb, &sb));
        let other_key = ours(&public(&(d + Scalar::ONE)));
        prop_assert!(!other_key.verify(&digest, &rb, &sb));
    }

    /// Arbitrary (r, s) under an arbitrary key: ours and ring agree
    /// (almost always a rejection, including out-of-range values).
    #[test]
    fn random_signatures_agree_with_ring(key in any::<u64>(), r in any::<[u8; 32]>(), s in any::<[u8; 32]>(), message in any::<[u8; 8]>()) {
        let q = public(&scalar_from(key));
        let digest: [u8; 32] = Sha256::digest(message).into();
        prop_assert_eq!(ours(&q).verify(&digest, &r, &s), ring_verifies(&q, &message, &r, &s));
    }

    /// Q = ±G with digests chosen so that e = r (+ 0..2), so u₁ = u₂ and
    /// R = 2u₁·G, or the point at infinity for Q = −G and e = r (the
    /// signature must then fail); the RustCrypto oracle decides.
    #[test]
    fn exceptional_additions_agree(nonce in any::<u64>(), sign_of_g in any::<bool>(), extra in 0u64..3) {
        let d = if sign_of_g { Scalar::ONE } else { -Scalar::ONE };
        let q = public(&d);
        let k = scalar_from(nonce);
        let r0 = <Scalar as Reduce<U256>>::reduce_bytes(&public(&k).x());
        // e = r (+ a small offset, so nearby columns differ too).
        let digest = bytes(&(r0 + Scalar::from(extra)));
        let (r, s) = sign(&d, &k, &digest);
        let expected = rustcrypto_verifies(&q, &digest, &r, &s);
        prop_assert_eq!(ours(&q).verify(&digest, &bytes(&r), &bytes(&s)), expected);
    }

    /// Keys chosen so that, at the first column where G's comb joins the
    /// doubling chain, the running sum is exactly ± the G-table point
    /// being added: the doubling and the point-at-infinity branches of the
    /// mixed addition, inside an otherwise ordinary valid signature.
    #[test]
    fn running_sum_meets_the_table_point(seed in any::<u64>(), negate in any::<bool>()) {
        let (u1, u2) = (scalar_from(seed), scalar_from(seed ^ 0xdead_beef));
        let (m, g) = first_generator_column(&u1, &u2);
        prop_assume!(!bool::from(m.is_zero()) && !bool::from(g.is_zero()));
        // acc = m·Q, added point g·G: Q = ±(g/m)·G makes them meet.
        let mut d = g * m.invert().unwrap();
        if negate {
            d = -d;
        }
        let q = public(&d);
        let big_r = (ProjectivePoint::GENERATOR * (u1 + u2 * d)).to_affine();
        prop_assume!(!bool::from(big_r.is_identity()));
        let r = <Scalar as Reduce<U256>>::reduce_bytes(&big_r.x());
        let s = r * u2.invert().unwrap();
        let digest = bytes(&(u1 * s));
        prop_assert!(rustcrypto_verifies(&q, &digest, &r, &s));
        prop_assert!(ours(&q).verify(&digest, &bytes(&r), &bytes(&s)));
        prop_assert!(!ours(&q).verify(&digest, &bytes(&r), &bytes(&(s + Scalar::ONE))));
    }

    /// The binary-GCD inverse: a·a⁻¹ ≡ 1 (mod n).
    #[test]
    fn scalar_inverse(seed in any::<u64>()) {
        let a = scalar_from(seed);
        let a_l = limbs::from_be(&bytes(&a)).unwrap();
        let inv = scalar::invert(&a_l).unwrap();
        let inv_s = Scalar::from_repr(FieldBytes::from(limbs::to_be(&inv))).unwrap();
        prop_assert_eq!(a * inv_s, Scalar::ONE);
        prop_assert_eq!(scalar::mul(&a_l, &inv), [1, 0, 0, 0]);
    }
}

/// For the comb layout of `super::twin_mul` (G's table first, then the
/// key's, in each column): m with running sum = m·Q just before G's first
/// addition, and g with that addition = g·G.
fn first_generator_column(u1: &Scalar, u2: &Scalar) -> (Scalar, Scalar) {
    let key_spacing = 256usize.div_ceil(super::KEY_TEETH);
    let g_spacing = 256usize.div_ceil(super::GENERATOR_TEETH);
    let bits2 = limbs::from_be(&bytes(u2)).unwrap();
    let bits1 = limbs::from_be(&bytes(u1)).unwrap();
    let pow2 = |k: usize| (0..k).fold(Scalar::ONE, |a, _| a.double());
    let column = |k: &limbs::Limbs, j: usize, teeth: usize, spacing: usize| {
        (0..teeth).fold(Scalar::ZERO, |acc, t| {
            if limbs::bit(k, j + t * spacing) {
                acc + pow2(t * spacing)
            } else {
                acc
            }
        })
    };
    let first = g_spacing - 1;
    // Key columns key_spacing−1 … first+1, each doubled down to level
    // `first` (the doubling at `first` happens before G's addition).
    let m = ((first + 1)..key_spacing).fold(Scalar::ZERO, |acc, j| {
        acc + column(&bits2, j, super::KEY_TEETH, key_spacing) * pow2(j - first)
    });
    let g = column(&bits1, first, super::GENERATOR_TEETH, g_spacing);
    (m, g)
}

#[test]
fn q_equal_to_minus_g_with_e_equal_r_is_the_point_at_infinity() {
    // u₁·G + u₂·(−G) with u₁ = u₂ is infinity: ring and RustCrypto reject.
    let d = -Scalar::ONE;
    let k = scalar_from(7);
    let r = <Scalar as Reduce<U256>>::reduce_bytes(&public(&k).x());
    let digest = bytes(&r);
    let (r, s) = sign(&d, &k, &digest);
    assert!(!rustcrypto_verifies(&public(&d), &digest, &r, &s));
    assert!(!ours(&public(&d)).verify(&digest, &bytes(&r), &bytes(&s)));
}

#[test]
fn digest_of_zero_and_digests_at_or_above_n() {
    let d = scalar_from(11);
    let q = public(&d);
    let n_bytes = limbs::to_be(&scalar::N);
    for digest in [[0u8; 32], n_bytes, [0xff; 32]] {
        let (r, s) = sign(&d, &scalar_from(12), &digest);
        assert!(rustcrypto_verifies(&q, &digest, &r, &s));
        assert!(ours(&q).verify(&digest, &bytes(&r), &bytes(&s)));
    }
}

/// x(R) ≥ n, so the signature's r is x(R) − n and the check must try
/// r + n (FIPS 186-5 §6.4.2 step 8 reduces x(R) mod n). Built backwards:
/// R on the curve with such an x, u₁ and u₂ chosen, then
/// Q = u₂⁻¹·(R − u₁·G), s = r·u₂⁻¹, e = u₁·s.
#[test]
fn x_of_r_above_the_group_order() {
    let mut x = scalar::N;
    let big_r = loop {
        let mut compressed = vec![0x02];
        compressed.extend_from_slice(&limbs::to_be(&x));
        let enc = EncodedPoint::from_bytes(&compressed).unwrap();
        if let Some(p) = Option::<AffinePoint>::from(AffinePoint::from_encoded_point(&enc)) {
            break p;
        }
        x = limbs::add(&x, &[1, 0, 0, 0]).0;
    };
    assert!(!bool::from(big_r.is_identity()));
    let r_l = limbs::sub(&x, &scalar::N).0;
    let r = Scalar::from_repr(FieldBytes::from(limbs::to_be(&r_l))).unwrap();
    let (u1, u2) = (scalar_from(21), scalar_from(22));
    let u2_inv = u2.invert().unwrap();
    let q = ((ProjectivePoint::from(big_r) - ProjectivePoint::GENERATOR * u1) * u2_inv).to_affine();
    let s = r * u2_inv;
    let digest = bytes(&(u1 * s));
    assert!(rustcrypto_verifies(&q, &digest, &r, &s));
    assert!(ours(&q).verify(&digest, &bytes(&r), &bytes(&s)));
    // r itself (without the + n) must not pass as x(R) for another s.
    assert!(!ours(&q).verify(&digest, &bytes(&r), &bytes(&(s + Scalar::ONE))));
}

#[test]
fn signature_parts_out_of_range_are_rejected() {
    let d = scalar_from(31);
    let q = public(&d);
    let digest: [u8; 32] = Sha256::digest(b"quote").into();
    let (r, s) = sign(&d, &scalar_from(32), &digest);
    let v = ours(&q);
    let (rb, sb) = (bytes(&r), bytes(&s));
    assert!(v.verify(&digest, &rb, &sb));
    // Leading zeros are only padding (TPMs send minimal or padded forms).
    let mut padded = vec![0u8; 3];
    padded.extend_from_slice(&rb);
    assert!(v.verify(&digest, &padded, &sb));
    let n = limbs::to_be(&scalar::N);
    // s and n − s are not interchangeable here... r + n is out of range.
    let r_plus_n = limbs::add(&limbs::from_be(&rb).unwrap(), &scalar::N);
    if !r_plus_n.1 {
        assert!(!v.verify(&digest, &limbs::to_be(&r_plus_n.0), &sb));
    }
    for bad in [
        &[][..],
        &[0u8][..],
        &[0u8; 32][..],
        &n[..],
        &[0xffu8; 32][..],
        &[1u8; 33][..],
    ] {
        assert!(!v.verify(&digest, bad, &sb), "r = {bad:02x?}");
        assert!(!v.verify(&digest, &rb, bad), "s = {bad:02x?}");
    }
}

#[test]
fn points_off_the_curve_or_out_of_range_are_refused() {
    let q = public(&scalar_from(41)).to_encoded_point(false);
    let (x, y) = (q.x().unwrap().to_vec(), q.y().unwrap().to_vec());
    assert!(P256Verifier::new(&x, &y).is_some());
    let mut y2 = y.clone();
    y2[31] ^= 1;
    assert!(P256Verifier::new(&x, &y2).is_none(), "off the curve");
    let p = limbs::to_be(&tpm::crypto::p256::field::P);
    assert!(P256Verifier::new(&p, &y).is_none(), "x = p");
    assert!(
        P256Verifier::new(&[0u8; 32], &[0u8; 32]).is_none(),
        "(0, 0)"
    );
    assert!(
        P256Verifier::new(&[1u8; 33], &y).is_none(),
        "longer than 32 bytes"
    );
    let g = AffinePoint::generator().to_encoded_point(false);
    assert!(P256Verifier::new(g.x().unwrap(), g.y().unwrap()).is_some());
}
