//! SM2 digital signatures as the TPM defines them (TPM_ALG_SM2, Part 1
//! Annex C.5; GB/T 32918.2-2016 §6–7).
//!
//! The TPM signs a digest it is given: `e` is that digest, so the
//! ZA = SM3(ENTL || ID || a || b || xG || yG || xA || yA) prefix of
//! GB/T 32918.2 is the caller's business (tpm2-tools and the TSS compute
//! e = SM3(ZA || M) before TPM2_Sign). The equations are
//!
//! * sign: (x1, y1) = k·G, r = (e + x1) mod n, rejecting r = 0 and
//!   r + k = n; s = (1 + d)^-1 · (k − r·d) mod n, rejecting s = 0;
//! * verify: r, s in [1, n-1], t = (r + s) mod n ≠ 0,
//!   (x1, y1) = s·G + t·P, accept iff (e + x1) mod n = r.
//!
//! Any implemented curve can be used; the SM2 scheme is normally paired
//! with TPM_ECC_SM2_P256.

use crate::crypto::ecc::{
    decode_point, nonzero_scalar, random_scalar, reduce_mod_n, scalar_bytes, with_curve, x_mod_n,
    EcArith, Projective, Scalar,
};
use crate::crypto::fixed_base::mul_generator;
use crate::crypto::{CryptoError, EccCurve, EccKeyPair, EccPoint};
use elliptic_curve::group::{Curve as _, Group};
use elliptic_curve::ops::LinearCombination;
use elliptic_curve::Field;
use rand_core::CryptoRngCore;

/// At most this many nonces are tried before giving up (each is rejected
/// with negligible probability).
const MAX_TRIES: usize = 64;

fn g_sign<C: EcArith, R: CryptoRngCore + ?Sized>(
    d: &[u8],
    digest: &[u8],
    rng: &mut R,
) -> Result<(Vec<u8>, Vec<u8>), CryptoError> {
    let d = nonzero_scalar::<C>(d).ok_or(CryptoError::Key)?;
    let e = reduce_mod_n::<C>(digest);
    let one_plus_d: Option<Scalar<C>> = Option::from((Scalar::<C>::ONE + d).invert());
    // d = n - 1 makes 1 + d non-invertible; such a key cannot sign (GB/T
    // 32918.1 requires d in [1, n-2]).
    let inv = one_plus_d.ok_or(CryptoError::Key)?;
    for _ in 0..MAX_TRIES {
        let k = random_scalar::<C, R>(rng)?;
        let x1 = x_mod_n::<C>(&mul_generator::<C>(&k));
        let r = e + x1;
        if bool::from(r.is_zero()) || bool::from((r + k).is_zero()) {
            continue;
        }
        let s = inv * (k - r * d);
        if bool::from(s.is_zero()) {
            continue;
        }
        return Ok((scalar_bytes::<C>(&r), scalar_bytes::<C>(&s)));
    }
    Err(CryptoError::NoResult)
}

fn g_verify<C: EcArith>(
    q: &EccPoint,
    digest: &[u8],
    r: &[u8],
    s: &[u8],
) -> Result<(), CryptoError> {
    let q = decode_point::<C>(q)?;
    let r = nonzero_scalar::<C>(r).ok_or(CryptoError::Signature)?;
    let s = nonzero_scalar::<C>(s).ok_or(CryptoError::Signature)?;
    let t = r + s;
    if bool::from(t.is_zero()) {
        return Err(CryptoError::Signature);
    }
    let p = Projective::<C>::lincomb(
        &Projective::<C>::generator(),
        &s,
        &Projective::<C>::from(q),
        &t,
    );
    if bool::from(p.is_identity()) {
        return Err(CryptoError::Signature);
    }
    let e = reduce_mod_n::<C>(digest);
    if e + x_mod_n::<C>(&p.to_affine()) == r {
        Ok(())
    } else {
        Err(CryptoError::Signature)
    }
}

/// SM2 signature over the caller-supplied `digest` (e, any length, taken as
/// a big-endian integer mod n). k comes from `rng`. Returns (r, s), each
/// curve-size octets.
pub fn sm2_sign<R: CryptoRngCore + ?Sized>(
    key: &EccKeyPair,
    digest: &[u8],
    rng: &mut R,
) -> Result<(Vec<u8>, Vec<u8>), CryptoError> {
    let d = key.private();
    with_curve!(key.curve(), g_sign::<R>(d, digest, rng))
}

/// Verifies an SM2 signature (r, s) over `digest` with public key `q`.
/// A `q` off the curve is [`CryptoError::EccPoint`]; any other failure is
/// [`CryptoError::Signature`].
pub fn sm2_verify(
    curve: EccCurve,
    q: &EccPoint,
    digest: &[u8],
    r: &[u8],
    s: &[u8],
) -> Result<(), CryptoError> {
    with_curve!(curve, g_verify(q, digest, r, s))
}
