//! Elliptic-curve keys, ECDSA and ECDH on the curves the TPM implements:
//! NIST P-256, NIST P-384 and SM2-P256 (TPM_ECC_CURVE, Part 2 §6.4).
//!
//! Points and scalars cross this API as fixed-size big-endian octet strings,
//! the form of TPMS_ECC_POINT / TPM2B_ECC_PARAMETER. Inputs are big-endian
//! numbers of any length that fit the curve size (shorter or zero-extended
//! forms are accepted); every point from outside is checked to be on the
//! curve before use.

use crate::constants::curve;
use crate::crypto::fixed_base::{mul_generator, mul_generator_blinded, FixedBase};
use crate::crypto::CryptoError;
use elliptic_curve::group::{Curve as _, Group};
use elliptic_curve::ops::{Invert, LinearCombination, Reduce};
use elliptic_curve::point::AffineCoordinates;
use elliptic_curve::sec1::{EncodedPoint, FromEncodedPoint, ToEncodedPoint};
use elliptic_curve::{ff::Field, ff::PrimeField, CurveArithmetic, FieldBytes};
use rand_core::CryptoRngCore;
use zeroize::{Zeroize, Zeroizing};

/// An implemented curve.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EccCurve {
    NistP256,
    NistP384,
    Sm2P256,
}

impl EccCurve {
    /// Every implemented curve, in TPM_ECC_CURVE order.
    pub const ALL: [EccCurve; 3] = [EccCurve::NistP256, EccCurve::NistP384, EccCurve::Sm2P256];

    pub fn from_id(id: u16) -> Option<EccCurve> {
        match id {
            curve::NIST_P256 => Some(EccCurve::NistP256),
            curve::NIST_P384 => Some(EccCurve::NistP384),
            curve::SM2_P256 => Some(EccCurve::Sm2P256),
            _ => None,
        }
    }

    pub fn id(self) -> u16 {
        match self {
            EccCurve::NistP256 => curve::NIST_P256,
            EccCurve::NistP384 => curve::NIST_P384,
            EccCurve::Sm2P256 => curve::SM2_P256,
        }
    }

    /// Size of a coordinate or scalar in octets. For all three curves the
    /// group order has exactly this many bits times 8, which is what the
    /// digest truncation below relies on.
    pub fn size(self) -> usize {
        match self {
            EccCurve::NistP256 | EccCurve::Sm2P256 => 32,
            EccCurve::NistP384 => 48,
        }
    }

    pub fn key_bits(self) -> u16 {
        (self.size() * 8) as u16
    }
}

/// A point as its affine coordinates, big-endian (TPMS_ECC_POINT).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct EccPoint {
    pub x: Vec<u8>,
    pub y: Vec<u8>,
}

impl EccPoint {
    pub fn new(x: &[u8], y: &[u8]) -> EccPoint {
        EccPoint {
            x: x.to_vec(),
            y: y.to_vec(),
        }
    }

    /// TPMS_ECC_POINT wire form (Part 2 §11.2.5.2): x and y each as a
    /// TPM2B (u16 big-endian size, then the octets).
    pub fn marshal(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(4 + self.x.len() + self.y.len());
        for c in [&self.x, &self.y] {
            out.extend_from_slice(&(c.len() as u16).to_be_bytes());
            out.extend_from_slice(c);
        }
        out
    }

    /// Parses a TPMS_ECC_POINT that must fill `bytes` exactly: a truncated
    /// buffer is [`CryptoError::Insufficient`], trailing octets
    /// [`CryptoError::Size`].
    pub fn unmarshal(bytes: &[u8]) -> Result<EccPoint, CryptoError> {
        fn take<'a>(b: &mut &'a [u8]) -> Result<&'a [u8], CryptoError> {
            let (len, rest) = b
                .split_first_chunk::<2>()
                .ok_or(CryptoError::Insufficient)?;
            let n = usize::from(u16::from_be_bytes(*len));
            if rest.len() < n {
                return Err(CryptoError::Insufficient);
            }
            let (v, rest) = rest.split_at(n);
            *b = rest;
            Ok(v)
        }
        let mut b = bytes;
        let x = take(&mut b)?;
        let y = take(&mut b)?;
        if !b.is_empty() {
            return Err(CryptoError::Size);
        }
        Ok(EccPoint::new(x, y))
    }
}

/// An ECC key pair: private scalar d and public point Q = d·G.
#[derive(Clone)]
pub struct EccKeyPair {
    curve: EccCurve,
    d: Zeroizing<Vec<u8>>,
    public: EccPoint,
}

impl std::fmt::Debug for EccKeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EccKeyPair")
            .field("curve", &self.curve)
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

/// How many candidates key/nonce generation tries before giving up with
/// TPM_RC_NO_RESULT. A candidate is rejected with probability < 2^-32 on
/// these curves, so hitting the bound means the RNG is broken or exhausted.
const MAX_CANDIDATES: usize = 64;

/// The operations this module needs from a curve, implemented for the three
/// RustCrypto curve types below.
pub(crate) trait EcArith: CurveArithmetic + FixedBase {
    /// Decodes affine coordinates, checking they are field elements and the
    /// point is on the curve.
    fn decode(x: &FieldBytes<Self>, y: &FieldBytes<Self>) -> Option<Self::AffinePoint>;
    /// Encodes a non-identity point; `None` for the identity.
    fn encode(p: &Self::AffinePoint) -> Option<(FieldBytes<Self>, FieldBytes<Self>)>;
    /// a⁻¹ mod n in variable time (for public or blinded values); `None`
    /// for zero.
    fn invert_vartime(a: &Scalar<Self>) -> Option<Scalar<Self>>;
}

macro_rules! ec_arith {
    ($c:ty) => {
        ec_arith!($c, fn invert_vartime(a: &Scalar<Self>) -> Option<Scalar<Self>> {
            Option::from(a.invert_vartime())
        });
    };
    ($c:ty, $invert:item) => {
        impl EcArith for $c {
            $invert
            fn decode(x: &FieldBytes<Self>, y: &FieldBytes<Self>) -> Option<Self::AffinePoint> {
                let ep = EncodedPoint::<$c>::from_affine_coordinates(x, y, false);
                Option::from(<Self as CurveArithmetic>::AffinePoint::from_encoded_point(
                    &ep,
                ))
            }
            fn encode(p: &Self::AffinePoint) -> Option<(FieldBytes<Self>, FieldBytes<Self>)> {
                let ep = p.to_encoded_point(false);
                Some((*ep.x()?, *ep.y()?))
            }
        }
    };
}
// P-256 scalars through safegcd (`crypto::p256::scalar_inverse`), ~7×
// faster than the curve crate's variable-time inversion.
ec_arith!(
    p256::NistP256,
    fn invert_vartime(a: &Scalar<Self>) -> Option<Scalar<Self>> {
        let be: [u8; 32] = a.to_repr().into();
        let inv = crate::crypto::p256::limbs::from_be(&be)
            .and_then(|l| crate::crypto::p256::scalar_inverse::invert_mod_n_vartime(&l))?;
        let out = crate::crypto::p256::limbs::to_be(&inv);
        Option::from(Scalar::<Self>::from_repr(out.into()))
    }
);
ec_arith!(p384::NistP384);
ec_arith!(sm2::Sm2);

/// Calls a generic function instantiated for the curve's type.
macro_rules! with_curve {
    ($curve:expr, $f:ident $(::<$($g:ty),*>)? ( $($arg:expr),* )) => {
        match $curve {
            EccCurve::NistP256 => $f::<p256::NistP256 $($(, $g)*)?>($($arg),*),
            EccCurve::NistP384 => $f::<p384::NistP384 $($(, $g)*)?>($($arg),*),
            EccCurve::Sm2P256 => $f::<sm2::Sm2 $($(, $g)*)?>($($arg),*),
        }
    };
}
pub(crate) use with_curve;

pub(crate) type Scalar<C> = <C as CurveArithmetic>::Scalar;
pub(crate) type Projective<C> = <C as CurveArithmetic>::ProjectivePoint;
pub(crate) type Affine<C> = <C as CurveArithmetic>::AffinePoint;

/// The big-endian number `bytes` as exactly the curve's field size (left
/// padded; extra leading zero octets are dropped, as a TPM2B converted to a
/// number would be), or `None` if it does not fit.
pub(crate) fn field_bytes<C: EcArith>(bytes: &[u8]) -> Option<FieldBytes<C>> {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    let bytes = bytes.get(start..).unwrap_or_default();
    let mut fb = FieldBytes::<C>::default();
    let n = fb.len();
    if bytes.len() > n {
        return None;
    }
    fb[n - bytes.len()..].copy_from_slice(bytes);
    Some(fb)
}

/// A scalar in [1, n-1] from big-endian octets, or `None`.
pub(crate) fn nonzero_scalar<C: EcArith>(bytes: &[u8]) -> Option<Scalar<C>> {
    let mut fb = field_bytes::<C>(bytes)?;
    let s: Option<Scalar<C>> = Option::from(Scalar::<C>::from_repr(fb.clone()));
    fb.zeroize();
    s.filter(|s| !bool::from(s.is_zero()))
}

/// A big-endian integer of any length reduced mod n.
pub(crate) fn reduce_mod_n<C: EcArith>(bytes: &[u8]) -> Scalar<C> {
    if let Some(fb) = field_bytes::<C>(bytes) {
        return <Scalar<C> as Reduce<C::Uint>>::reduce_bytes(&fb);
    }
    // Longer than the order: Horner's rule, one octet at a time.
    let base = Scalar::<C>::from(256u64);
    bytes.iter().fold(Scalar::<C>::ZERO, |acc, b| {
        acc * base + Scalar::<C>::from(u64::from(*b))
    })
}

/// The x coordinate of a point reduced mod n (ECDSA's r, SM2's x1).
pub(crate) fn x_mod_n<C: EcArith>(p: &Affine<C>) -> Scalar<C> {
    <Scalar<C> as Reduce<C::Uint>>::reduce_bytes(&p.x())
}

/// A random scalar in [1, n-1] by rejection sampling (FIPS 186-4 B.4.2,
/// "testing candidates"): draw field-size octets, accept if below n and
/// non-zero. Deterministic given the RNG stream.
pub(crate) fn random_scalar<C: EcArith, R: CryptoRngCore + ?Sized>(
    rng: &mut R,
) -> Result<Scalar<C>, CryptoError> {
    let mut buf = FieldBytes::<C>::default();
    for _ in 0..MAX_CANDIDATES {
        rng.fill_bytes(&mut buf);
        if let Some(s) = nonzero_scalar::<C>(&buf) {
            buf.zeroize();
            return Ok(s);
        }
    }
    buf.zeroize();
    Err(CryptoError::NoResult)
}

/// A point from outside, checked to be on the curve (the identity cannot be
/// expressed in affine coordinates, so it is rejected too).
pub(crate) fn decode_point<C: EcArith>(p: &EccPoint) -> Result<Affine<C>, CryptoError> {
    let x = field_bytes::<C>(&p.x).ok_or(CryptoError::EccPoint)?;
    let y = field_bytes::<C>(&p.y).ok_or(CryptoError::EccPoint)?;
    C::decode(&x, &y).ok_or(CryptoError::EccPoint)
}

/// A projective point as fixed-size coordinates; the identity is
/// [`CryptoError::NoResult`].
pub(crate) fn encode_point<C: EcArith>(p: &Projective<C>) -> Result<EccPoint, CryptoError> {
    if bool::from(p.is_identity()) {
        return Err(CryptoError::NoResult);
    }
    encode_affine::<C>(&p.to_affine())
}

/// An affine point as fixed-size coordinates; the identity is
/// [`CryptoError::NoResult`].
pub(crate) fn encode_affine<C: EcArith>(p: &Affine<C>) -> Result<EccPoint, CryptoError> {
    let (x, y) = C::encode(p).ok_or(CryptoError::NoResult)?;
    Ok(EccPoint {
        x: x.to_vec(),
        y: y.to_vec(),
    })
}

pub(crate) fn scalar_bytes<C: EcArith>(s: &Scalar<C>) -> Vec<u8> {
    s.to_repr().to_vec()
}

/// The point with both coordinates at the curve's size.
fn padded(curve: EccCurve, p: &EccPoint) -> Result<EccPoint, CryptoError> {
    Ok(EccPoint {
        x: pad(curve, &p.x).ok_or(CryptoError::EccPoint)?,
        y: pad(curve, &p.y).ok_or(CryptoError::EccPoint)?,
    })
}

/// The private scalar is in [1, n − 1] (the range g_public checks).
fn check_scalar<C: EcArith>(d: &[u8]) -> Result<(), CryptoError> {
    nonzero_scalar::<C>(d).map(|_| ()).ok_or(CryptoError::Key)
}

fn g_public<C: EcArith>(d: &[u8]) -> Result<EccPoint, CryptoError> {
    let d = nonzero_scalar::<C>(d).ok_or(CryptoError::Key)?;
    encode_affine::<C>(&mul_generator::<C>(&d))
}

fn g_generate<C: EcArith, R: CryptoRngCore + ?Sized>(
    rng: &mut R,
) -> Result<(Zeroizing<Vec<u8>>, EccPoint), CryptoError> {
    let d = random_scalar::<C, R>(rng)?;
    let q = encode_affine::<C>(&mul_generator::<C>(&d))?;
    Ok((Zeroizing::new(scalar_bytes::<C>(&d)), q))
}

fn g_validate<C: EcArith>(p: &EccPoint) -> Result<(), CryptoError> {
    decode_point::<C>(p).map(|_| ())
}

fn g_mul<C: EcArith>(d: &[u8], q: &EccPoint) -> Result<EccPoint, CryptoError> {
    let q = decode_point::<C>(q)?;
    let d = nonzero_scalar::<C>(d).ok_or(CryptoError::Key)?;
    encode_point::<C>(&(Projective::<C>::from(q) * d))
}

/// bits2int of FIPS 186-4 §6.4 / SEC1 4.1.3 step 5, reduced mod n: the
/// leftmost log2(n) bits of the digest. For these curves that is the first
/// `size` octets, left-padded if the digest is shorter.
fn ecdsa_e<C: EcArith>(digest: &[u8]) -> Scalar<C> {
    let n = FieldBytes::<C>::default().len();
    reduce_mod_n::<C>(&digest[..digest.len().min(n)])
}

fn g_ecdsa_sign<C: EcArith, R: CryptoRngCore + ?Sized>(
    d: &[u8],
    digest: &[u8],
    rng: &mut R,
) -> Result<(Vec<u8>, Vec<u8>), CryptoError> {
    let d = nonzero_scalar::<C>(d).ok_or(CryptoError::Key)?;
    let e = ecdsa_e::<C>(digest);
    for _ in 0..MAX_CANDIDATES {
        let k = random_scalar::<C, R>(rng)?;
        // R = k·G with its one field inversion blinded by a second random
        // scalar (as k⁻¹ is below).
        let blind = random_scalar::<C, R>(rng)?;
        let big_r = mul_generator_blinded::<C>(&k, &blind);
        let r = x_mod_n::<C>(&big_r);
        if bool::from(r.is_zero()) {
            continue;
        }
        let Some(k_inv) = blinded_invert::<C, R>(&k, rng)? else {
            continue;
        };
        let s = k_inv * (e + r * d);
        if bool::from(s.is_zero()) {
            continue;
        }
        return Ok((scalar_bytes::<C>(&r), scalar_bytes::<C>(&s)));
    }
    Err(CryptoError::NoResult)
}

/// k⁻¹ for a secret k, by a variable-time inversion of k·b for a fresh
/// random b, then ·b. The constant-time Fermat inversion (an exponentiation
/// to n−2) was a third of an ECDSA signature; the variable-time one on its
/// own would leak the nonce's bits through timing, which is how nonces were
/// recovered from TPMs' ECDSA (TPM-Fail, USENIX Security 2020): with the
/// blinding its running time depends only on k·b, which is uniform and
/// unrelated to k. `None` when k is zero.
fn blinded_invert<C: EcArith, R: CryptoRngCore + ?Sized>(
    k: &Scalar<C>,
    rng: &mut R,
) -> Result<Option<Scalar<C>>, CryptoError> {
    let b = random_scalar::<C, R>(rng)?;
    let t = C::invert_vartime(&(*k * b));
    Ok(t.map(|t| t * b))
}

fn g_ecdsa_verify<C: EcArith>(
    q: &EccPoint,
    digest: &[u8],
    r: &[u8],
    s: &[u8],
) -> Result<(), CryptoError> {
    let q = decode_point::<C>(q)?;
    let r = nonzero_scalar::<C>(r).ok_or(CryptoError::Signature)?;
    let s = nonzero_scalar::<C>(s).ok_or(CryptoError::Signature)?;
    let e = ecdsa_e::<C>(digest);
    // s is public: no need for a constant-time inversion.
    let w = C::invert_vartime(&s).ok_or(CryptoError::Signature)?;
    let x = Projective::<C>::lincomb(
        &Projective::<C>::generator(),
        &(e * w),
        &Projective::<C>::from(q),
        &(r * w),
    );
    if bool::from(x.is_identity()) {
        return Err(CryptoError::Signature);
    }
    if x_mod_n::<C>(&x.to_affine()) == r {
        Ok(())
    } else {
        Err(CryptoError::Signature)
    }
}

impl EccKeyPair {
    /// A new random key (FIPS 186-4 B.4.2): d uniform in [1, n-1] drawn
    /// from `rng`, so the key is a function of the RNG stream (primary key
    /// derivation with a [`crate::crypto::KdfRng`]).
    pub fn generate<R: CryptoRngCore + ?Sized>(
        curve: EccCurve,
        rng: &mut R,
    ) -> Result<EccKeyPair, CryptoError> {
        let (d, public) = with_curve!(curve, g_generate::<R>(rng))?;
        Ok(EccKeyPair { curve, d, public })
    }

    /// A key from its private scalar (TPMT_SENSITIVE's ecc field): d must be
    /// in [1, n-1] and at most the curve size long, else [`CryptoError::Key`].
    pub fn from_private(curve: EccCurve, d: &[u8]) -> Result<EccKeyPair, CryptoError> {
        let public = with_curve!(curve, g_public(d))?;
        let d = Zeroizing::new(with_curve!(curve, pad_scalar(d))?);
        Ok(EccKeyPair { curve, d, public })
    }

    /// A key from private scalar and public point, checking that they belong
    /// together (a loaded object whose parts disagree is TPM_RC_BINDING).
    pub fn from_parts(
        curve: EccCurve,
        d: &[u8],
        public: &EccPoint,
    ) -> Result<EccKeyPair, CryptoError> {
        with_curve!(curve, g_validate(public))?;
        let key = EccKeyPair::from_private(curve, d)?;
        if padded(curve, public)? != key.public {
            return Err(CryptoError::Binding);
        }
        Ok(key)
    }

    /// A key from parts known to belong together (made by this TPM and
    /// integrity-protected since): the scalar's range and the point's
    /// place on the curve are checked, d·G is not recomputed.
    pub fn from_checked_parts(
        curve: EccCurve,
        d: &[u8],
        public: &EccPoint,
    ) -> Result<EccKeyPair, CryptoError> {
        with_curve!(curve, g_validate(public))?;
        with_curve!(curve, check_scalar(d))?;
        let d = Zeroizing::new(with_curve!(curve, pad_scalar(d))?);
        let public = padded(curve, public)?;
        Ok(EccKeyPair { curve, d, public })
    }

    pub fn curve(&self) -> EccCurve {
        self.curve
    }

    /// The private scalar, curve-size octets.
    pub fn private(&self) -> &[u8] {
        &self.d
    }

    /// The public point, curve-size coordinates.
    pub fn public(&self) -> &EccPoint {
        &self.public
    }

    /// ECDSA signature over a digest computed elsewhere (Part 1 Annex C.3,
    /// FIPS 186-4 §6.4): the digest is truncated to the order's bit length,
    /// k is drawn from `rng`. Returns (r, s), each curve-size octets.
    pub fn ecdsa_sign<R: CryptoRngCore + ?Sized>(
        &self,
        digest: &[u8],
        rng: &mut R,
    ) -> Result<(Vec<u8>, Vec<u8>), CryptoError> {
        let d: &[u8] = &self.d;
        with_curve!(self.curve, g_ecdsa_sign::<R>(d, digest, rng))
    }

    /// ECDH (Part 1 §C.6.1; TPM2_ECDH_ZGen, Part 3 §14.5): the point d·Q
    /// for a peer point Q, which must be on the curve
    /// ([`CryptoError::EccPoint`]). The shared secret Z is its x coordinate.
    pub fn ecdh(&self, peer: &EccPoint) -> Result<EccPoint, CryptoError> {
        let d: &[u8] = &self.d;
        with_curve!(self.curve, g_mul(d, peer))
    }
}

fn pad_scalar<C: EcArith>(d: &[u8]) -> Result<Vec<u8>, CryptoError> {
    field_bytes::<C>(d)
        .map(|f| f.to_vec())
        .ok_or(CryptoError::Key)
}

fn pad(curve: EccCurve, v: &[u8]) -> Option<Vec<u8>> {
    let n = curve.size();
    let start = v.iter().position(|b| *b != 0).unwrap_or(v.len());
    let v = v.get(start..).unwrap_or_default();
    if v.len() > n {
        return None;
    }
    let mut out = vec![0u8; n];
    out[n - v.len()..].copy_from_slice(v);
    Some(out)
}

/// Checks that `point` is on `curve` (TPM_RC_ECC_POINT otherwise; the
/// identity cannot be written in affine coordinates and is rejected too).
pub fn validate_point(curve: EccCurve, point: &EccPoint) -> Result<(), CryptoError> {
    with_curve!(curve, g_validate(point))
}

/// Verifies an ECDSA signature (r, s) over `digest` with public key `q`.
/// A `q` off the curve is [`CryptoError::EccPoint`]; anything else wrong,
/// including r or s outside [1, n-1], is [`CryptoError::Signature`].
pub fn ecdsa_verify(
    curve: EccCurve,
    q: &EccPoint,
    digest: &[u8],
    r: &[u8],
    s: &[u8],
) -> Result<(), CryptoError> {
    with_curve!(curve, g_ecdsa_verify(q, digest, r, s))
}

/// One-pass ECDH with a fresh ephemeral key (TPM2_ECDH_KeyGen, Part 3
/// §14.4; the first half of Part 1 §C.6.4 secret sharing): returns the
/// ephemeral public point Qe and the product point de·Q, whose x
/// coordinate is Z. `peer` must be on the curve.
pub fn ecdh_ephemeral<R: CryptoRngCore + ?Sized>(
    curve: EccCurve,
    peer: &EccPoint,
    rng: &mut R,
) -> Result<(EccPoint, EccPoint), CryptoError> {
    validate_point(curve, peer)?;
    let eph = EccKeyPair::generate(curve, rng)?;
    let z = eph.ecdh(peer)?;
    Ok((eph.public, z))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand_core::SeedableRng;

    /// k·(blinded k⁻¹) = 1 on every curve, and zero has no inverse.
    fn inverts<C: EcArith>(be: &[u8], seed: u64) {
        let k = reduce_mod_n::<C>(be);
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(seed);
        match blinded_invert::<C, _>(&k, &mut rng).unwrap() {
            Some(inv) => assert_eq!(inv * k, Scalar::<C>::ONE),
            None => assert!(bool::from(k.is_zero())),
        }
    }

    /// Parts made together give the same key through either constructor;
    /// `from_checked_parts` still refuses a scalar out of [1, n − 1] and a
    /// point off the curve, and `from_parts` parts that do not belong
    /// together (TPM_RC_BINDING for a Load of outside parts).
    #[test]
    fn key_from_checked_and_unchecked_parts() {
        for curve in EccCurve::ALL {
            let size = curve.size();
            let d = vec![0x5a; size];
            let k = EccKeyPair::from_private(curve, &d).unwrap();
            let made = EccKeyPair::from_checked_parts(curve, &d, k.public()).unwrap();
            assert_eq!((made.public(), made.private()), (k.public(), k.private()));
            let other = EccKeyPair::from_private(curve, &vec![0x33; size]).unwrap();
            assert_eq!(
                EccKeyPair::from_parts(curve, &d, other.public()).err(),
                Some(CryptoError::Binding)
            );
            for bad in [vec![0u8; size], vec![0xff; size]] {
                assert_eq!(
                    EccKeyPair::from_checked_parts(curve, &bad, k.public()).err(),
                    Some(CryptoError::Key),
                    "{curve:?} scalar {bad:02x?}"
                );
            }
            let mut off = k.public().clone();
            if let Some(last) = off.y.last_mut() {
                *last ^= 1;
            }
            assert!(EccKeyPair::from_checked_parts(curve, &d, &off).is_err());
        }
    }

    #[test]
    fn zero_has_no_blinded_inverse() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
        let none = blinded_invert::<p256::NistP256, _>(&Scalar::<p256::NistP256>::ZERO, &mut rng);
        assert_eq!(none.unwrap(), None);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn blinded_inverse_is_the_inverse(be in proptest::collection::vec(any::<u8>(), 48), seed in any::<u64>()) {
            inverts::<p256::NistP256>(&be[..32], seed);
            inverts::<p384::NistP384>(&be, seed);
            inverts::<sm2::Sm2>(&be[16..], seed);
        }
    }
}
