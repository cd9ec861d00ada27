//! TPM2_ECDH_KeyGen and TPM2_ECDH_ZGen (Part 3 §14.4, §14.5): the two
//! halves of one-pass Diffie-Hellman (Part 1 Annex C.6) with a loaded ECC
//! key.

use crate::constants::alg;
use crate::crypto::{ecc, CryptoError, EccCurve, EccPoint as Point};
use crate::rc::Rc;
use crate::types::{AsymScheme, EccPoint, EccPoint2b, PublicParms};
use crate::wire::Tpm2b;

use super::super::algorithms::Implemented;
use super::super::dispatch::Ctx;
use super::super::{selftest, Tpm};
use super::key_object;

/// A computed point as TPM2B_ECC_POINT (coordinates are curve-size
/// octets, which always fit TPM2B_ECC_PARAMETER).
fn point2b(p: &Point) -> Result<EccPoint2b, Rc> {
    Ok(EccPoint2b(EccPoint {
        x: Tpm2b::new(p.x.clone()).map_err(|_| Rc::FAILURE)?,
        y: Tpm2b::new(p.y.clone()).map_err(|_| Rc::FAILURE)?,
    }))
}

/// TPM2_ECDH_KeyGen (Part 3 §14.4): a fresh ephemeral key pair (de, Qe)
/// on the curve of a loaded ECC key Qs, returning Z = de·Qs and Qe; the
/// caller keeps Z, and the holder of Qs's private key recovers it with
/// TPM2_ECDH_ZGen(Qe). Only the public key is used, so any ECC object
/// qualifies and no authorization is needed. A key that is not ECC is
/// TPM_RC_KEY (handle 1), and so is one whose public point is not on its
/// curve.
pub(crate) fn ecdh_key_gen(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    let key = ctx.handle(0);
    ctx.done()?;
    let obj = key_object(tpm, key, Rc::KEY)?;
    let (curve, q) = obj.ecc_public().ok_or(Rc::KEY.handle(1))?;
    selftest::ensure_tested(tpm, alg::ECDH)?;
    let (qe, z) = match ecc::ecdh_ephemeral(curve, &q, &mut tpm.drbg) {
        Ok(v) => v,
        Err(CryptoError::EccPoint) => return Err(Rc::KEY.handle(1)),
        Err(e) => return Err(e.rc()),
    };
    ctx.write(&point2b(&z)?);
    ctx.write(&point2b(&qe)?);
    Ok(())
}

/// TPM2_ECDH_ZGen (Part 3 §14.5): Z = ds·Qe for a point Qe from the
/// caller, with the private key of an unrestricted ECC decryption key
/// whose scheme is ECDH or NULL. A key that is not ECC is TPM_RC_KEY, a
/// restricted or non-decrypting one TPM_RC_ATTRIBUTES, another scheme
/// TPM_RC_SCHEME (all handle 1, as the reference). The point must be on
/// the key's curve: multiplying an off-curve point by a secret scalar
/// leaks the scalar (invalid-curve attack), so it is TPM_RC_ECC_POINT
/// (parameter 1) and nothing is computed.
pub(crate) fn ecdh_zgen(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    let key = ctx.handle(0);
    let in_point = ctx.read_with(|r| EccPoint2b::decode_with(r, &Implemented))?;
    ctx.done()?;
    let obj = key_object(tpm, key, Rc::KEY)?;
    let PublicParms::Ecc(p) = &obj.public.parameters else {
        return Err(Rc::KEY.handle(1));
    };
    let a = obj.public.attributes;
    if a.restricted() || !a.decrypt() {
        return Err(Rc::ATTRIBUTES.handle(1));
    }
    if !matches!(p.scheme, AsymScheme::Ecdh(_) | AsymScheme::Null) {
        return Err(Rc::SCHEME.handle(1));
    }
    let curve = EccCurve::from_id(p.curve_id).ok_or(Rc::KEY.handle(1))?;
    let peer = Point::new(in_point.0.x.as_slice(), in_point.0.y.as_slice());
    ecc::validate_point(curve, &peer).map_err(|_| Rc::ECC_POINT.param(1))?;
    let pair = obj.ecc_key_pair().ok_or(Rc::KEY.handle(1))?;
    let z = pair.ecdh(&peer).map_err(|e| e.rc().param(1))?;
    selftest::ensure_tested(tpm, alg::ECDH)?;
    ctx.write(&point2b(&z)?);
    Ok(())
}
