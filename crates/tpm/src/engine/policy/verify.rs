//! Signature verification with the public area of a loaded key
//! (CryptValidateSignature in the reference code), for PolicySigned. Only
//! the public part is needed for RSA and ECC keys; an HMAC "signature"
//! needs the key's secret and is left to the object store.

use crate::crypto::{ecc, rsa, sm2, EccCurve, EccPoint, HashAlg, RsaPublic};
use crate::rc::Rc;
use crate::types::Public;
use crate::types::{PublicId, PublicParms, Signature, SignatureEcc};

/// Checks `sig` over `digest` with the key whose public area is `public`.
///
/// As the reference code: a signature scheme the key type cannot verify is
/// TPM_RC_SCHEME; anything else wrong with the signature (wrong size, bad
/// padding, r or s out of range, a forgery) is TPM_RC_SIGNATURE. The
/// key's own scheme does not restrict which scheme the signature uses
/// (Part 3 §20.1, CryptValidateSignature).
pub(crate) fn verify_with_public(
    public: &Public,
    digest: &[u8],
    sig: &Signature,
) -> Result<(), Rc> {
    match (&public.parameters, &public.unique) {
        (PublicParms::Rsa(p), PublicId::Rsa(n)) => {
            let (is_pss, s) = match sig {
                Signature::Rsassa(s) => (false, s),
                Signature::Rsapss(s) => (true, s),
                _ => return Err(Rc::SCHEME),
            };
            let hash = HashAlg::from_id(s.hash).ok_or(Rc::SCHEME)?;
            let key = RsaPublic::new(n.as_slice(), p.exponent).map_err(|_| Rc::SIGNATURE)?;
            let r = if is_pss {
                rsa::verify_pss(&key, hash, digest, s.sig.as_slice())
            } else {
                rsa::verify_pkcs1v15(&key, hash, digest, s.sig.as_slice())
            };
            r.map_err(|_| Rc::SIGNATURE)
        }
        (PublicParms::Ecc(p), PublicId::Ecc(q)) => {
            let curve = EccCurve::from_id(p.curve_id).ok_or(Rc::CURVE)?;
            let q = EccPoint::new(q.x.as_slice(), q.y.as_slice());
            let ok = |s: &SignatureEcc, f: fn(EccCurve, &EccPoint, &[u8], &[u8], &[u8]) -> _| {
                f(curve, &q, digest, s.r.as_slice(), s.s.as_slice())
            };
            let r: Result<(), crate::crypto::CryptoError> = match sig {
                Signature::Ecdsa(s) => ok(s, ecc::ecdsa_verify),
                Signature::Sm2(s) => ok(s, sm2::sm2_verify),
                _ => return Err(Rc::SCHEME),
            };
            r.map_err(|_| Rc::SIGNATURE)
        }
        // A keyed-hash key verifies with its secret, which the public area
        // does not carry; a symmetric cipher key cannot sign at all.
        _ => Err(Rc::SCHEME),
    }
}
