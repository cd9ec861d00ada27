//! Differential fuzzing of `attest::ecdsa_p256` (the verifier's own P-256
//! quote-signature check) against RustCrypto's `verify_prehash`: from the
//! input, a key, a nonce and a digest make an honest signature, which the
//! input may then alter (flip bits of r, s or the digest, replace r or s
//! with raw bytes, sign with a related key, use a nonce or key ±1 of a
//! special value). Both must accept or both reject; a disagreement either
//! accepts a forgery or fails an honest agent.
#![no_main]

use attest::ecdsa_p256::P256Verifier;
use libfuzzer_sys::fuzz_target;
use p256::ecdsa::signature::hazmat::PrehashVerifier;
use p256::elliptic_curve::ops::Reduce;
use p256::elliptic_curve::point::AffineCoordinates;
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::elliptic_curve::{Field, PrimeField};
use p256::{FieldBytes, ProjectivePoint, Scalar, U256};

fn scalar(bytes: &[u8]) -> Scalar {
    let mut b = [0u8; 32];
    for (dst, src) in b.iter_mut().zip(bytes) {
        *dst = *src;
    }
    <Scalar as Reduce<U256>>::reduce_bytes(&FieldBytes::from(b))
}

fn part(data: &[u8], at: usize) -> &[u8] {
    data.get(at..).map(|d| &d[..d.len().min(32)]).unwrap_or(&[])
}

fuzz_target!(|data: &[u8]| {
    let mode = data.first().copied().unwrap_or(0);
    let mut d = scalar(part(data, 1));
    let mut k = scalar(part(data, 33));
    let digest_bytes = part(data, 65);
    let mut digest = [0u8; 32];
    for (dst, src) in digest.iter_mut().zip(digest_bytes) {
        *dst = *src;
    }
    let tweak = part(data, 97);
    // Special keys and nonces: ±1, so Q or R is ±G.
    match mode & 0x30 {
        0x10 => d = if mode & 1 == 0 { Scalar::ONE } else { -Scalar::ONE },
        0x20 => k = if mode & 1 == 0 { Scalar::ONE } else { -Scalar::ONE },
        _ => {}
    }
    if bool::from(d.is_zero()) || bool::from(k.is_zero()) {
        return;
    }
    let q = (ProjectivePoint::GENERATOR * d).to_affine();
    let big_r = (ProjectivePoint::GENERATOR * k).to_affine();
    let r = <Scalar as Reduce<U256>>::reduce_bytes(&big_r.x());
    let e = <Scalar as Reduce<U256>>::reduce_bytes(&FieldBytes::from(digest));
    let Some(k_inv) = Option::<Scalar>::from(k.invert()) else {
        return;
    };
    let s = k_inv * (e + r * d);
    let mut r_bytes: Vec<u8> = r.to_repr().to_vec();
    let mut s_bytes: Vec<u8> = s.to_repr().to_vec();
    let flip = |v: &mut [u8]| {
        if let (Some(&at), Some(&bit)) = (tweak.first(), tweak.get(1)) {
            if let Some(b) = v.get_mut(usize::from(at) % 32) {
                *b ^= 1 << (bit % 8);
            }
        }
    };
    match mode >> 6 {
        1 => flip(&mut r_bytes),
        2 => flip(&mut s_bytes),
        3 => match mode & 0x0e {
            0x02 => r_bytes = tweak.to_vec(),
            0x04 => s_bytes = tweak.to_vec(),
            _ => flip(&mut digest),
        },
        _ => {}
    }
    let enc = q.to_encoded_point(false);
    let (Some(x), Some(y)) = (enc.x(), enc.y()) else {
        return;
    };
    let ours = P256Verifier::new(x, y)
        .expect("a multiple of G is on the curve")
        .verify(&digest, &r_bytes, &s_bytes);
    let theirs = (|| {
        let vk = p256::ecdsa::VerifyingKey::from_affine(q).ok()?;
        let rs = left_pad(&r_bytes)?;
        let ss = left_pad(&s_bytes)?;
        let sig = p256::ecdsa::Signature::from_scalars(rs, ss).ok()?;
        Some(vk.verify_prehash(&digest, &sig).is_ok())
    })()
    .unwrap_or(false);
    assert_eq!(ours, theirs, "r={r_bytes:02x?} s={s_bytes:02x?} digest={digest:02x?}");
});

/// A big-endian integer of any length as 32 bytes, if it fits.
fn left_pad(v: &[u8]) -> Option<FieldBytes> {
    let skip = v.iter().take_while(|&&b| b == 0).count();
    let v = v.get(skip..)?;
    if v.len() > 32 {
        return None;
    }
    let mut out = FieldBytes::default();
    out[32 - v.len()..].copy_from_slice(v);
    Some(out)
}
