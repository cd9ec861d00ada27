//! Signing and signature verification with loaded keys, shared by
//! TPM2_Sign / TPM2_VerifySignature (Part 3 §20), the attestation commands
//! (Part 3 §18, which sign a TPMS_ATTEST) and PolicySigned /
//! PolicyAuthorize (Part 3 §23), so every signer follows one set of rules:
//! the reference code's IsSigningObject, CryptSelectSignScheme, CryptSign
//! and CryptValidateSignature.
//!
//! Response codes come back *unnumbered* except where noted; the caller
//! knows where its key handle and inScheme parameter are. The usual order
//! (as in every reference command) is:
//!
//! 1. [`check_sign_key`] → number with `.handle(n)` of the signing key;
//! 2. [`select_scheme`] → number with `.param(n)` of inScheme;
//! 3. [`sign_digest`] / [`sign_attest`] → errors stay unnumbered (the
//!    reference returns CryptSign's result as is).
//!
//! Steps 1 and 2 are repeated inside step 3 (they are idempotent), so a
//! caller that skips them still gets a refusal, only without a number.

use subtle::ConstantTimeEq;

use crate::constants::{alg, rh};
use crate::crypto::{ecc, rsa, sm2, Drbg, EccCurve, EccPoint, HashAlg, RsaPublic};
use crate::rc::Rc;
use crate::types::{
    AsymScheme, EccParameter, Ha, KeyedHashScheme, Public, PublicId, PublicKeyRsa, PublicParms,
    SigScheme, Signature, SignatureEcc, SignatureRsa,
};
use crate::wire::Tpm2b;

use super::object::LoadedObject;
use super::{Tpm, Transient};

/// The loaded object `handle` and the TPM's random source, borrowed
/// together so a signature can be made without cloning the key.
pub(crate) fn object_and_drbg(tpm: &mut Tpm, handle: u32) -> Option<(&LoadedObject, &mut Drbg)> {
    let Tpm {
        vol, perm, drbg, ..
    } = tpm;
    let obj = match rh::handle_type(handle) {
        rh::HT_TRANSIENT => match vol.transients.get(&handle) {
            Some(Transient::Object(o)) => Some(&**o),
            _ => None,
        },
        rh::HT_PERSISTENT => perm.objects.persistent.get(&handle),
        _ => None,
    }?;
    Some((obj, drbg))
}

/// IsSigningObject (reference Attest_spt.c): TPM_RH_NULL, or an object with
/// TPMA_OBJECT.sign set that is not a symmetric cipher; anything else is
/// TPM_RC_KEY (number it with the key's handle). A public-only key cannot
/// sign either (it has no private part to sign with): TPM_RC_KEY too,
/// where the reference would fail later in the crypto layer.
pub(crate) fn check_sign_key(tpm: &Tpm, key: u32) -> Result<(), Rc> {
    if key == rh::NULL {
        return Ok(());
    }
    // A sequence object in the slot is no key.
    let obj = tpm.object(key).ok_or(Rc::KEY)?;
    let a = obj.public.attributes;
    if !a.sign_encrypt() || obj.public.object_type() == alg::SYMCIPHER || obj.is_public_only() {
        return Err(Rc::KEY);
    }
    Ok(())
}

/// A key's default signing scheme as a TPMT_SIG_SCHEME, or `Err` when the
/// key's scheme is not a signing scheme at all (a decryption scheme, or
/// XOR on a keyed-hash object). NULL stays NULL.
fn key_scheme(public: &Public) -> Result<SigScheme, ()> {
    let asym = |s: &AsymScheme| match *s {
        AsymScheme::Null => Ok(SigScheme::Null),
        AsymScheme::Rsassa(h) => Ok(SigScheme::Rsassa(h)),
        AsymScheme::Rsapss(h) => Ok(SigScheme::Rsapss(h)),
        AsymScheme::Ecdsa(h) => Ok(SigScheme::Ecdsa(h)),
        AsymScheme::Ecdaa { hash, count } => Ok(SigScheme::Ecdaa { hash, count }),
        AsymScheme::Sm2(h) => Ok(SigScheme::Sm2(h)),
        AsymScheme::Ecschnorr(h) => Ok(SigScheme::Ecschnorr(h)),
        AsymScheme::Rsaes | AsymScheme::Oaep(_) | AsymScheme::Ecdh(_) | AsymScheme::Ecmqv(_) => {
            Err(())
        }
    };
    match &public.parameters {
        PublicParms::Rsa(p) => asym(&p.scheme),
        PublicParms::Ecc(p) => asym(&p.scheme),
        PublicParms::KeyedHash(p) => match p.scheme {
            KeyedHashScheme::Null => Ok(SigScheme::Null),
            KeyedHashScheme::Hmac(h) => Ok(SigScheme::Hmac(h)),
            KeyedHashScheme::Xor { .. } => Err(()),
        },
        PublicParms::SymCipher(_) => Err(()),
    }
}

/// CryptSelectSignScheme for a key's public area: the key's scheme when
/// `in_scheme` is NULL; `in_scheme` when the key has none; otherwise both
/// must name the same scheme *and* hash. Both NULL, a split scheme
/// (ECDAA) defaulted from the key, a mismatch, or a key that cannot sign
/// is TPM_RC_SCHEME (number it with inScheme's parameter).
///
/// Whether the chosen scheme suits the key type is left to the signing
/// step, as in the reference (CryptSign then returns TPM_RC_SCHEME,
/// unnumbered).
pub(crate) fn select_for_public(public: &Public, in_scheme: &SigScheme) -> Result<SigScheme, Rc> {
    let key = key_scheme(public).map_err(|_| Rc::SCHEME)?;
    match (key, in_scheme) {
        (SigScheme::Null, SigScheme::Null) => Err(Rc::SCHEME),
        (SigScheme::Null, s) => Ok(*s),
        (SigScheme::Ecdaa { .. }, SigScheme::Null) => Err(Rc::SCHEME),
        (k, SigScheme::Null) => Ok(k),
        (k, s) if k.id() == s.id() && k.hash() == s.hash() => Ok(*s),
        _ => Err(Rc::SCHEME),
    }
}

/// CryptSelectSignScheme for the key `key` (TPM_RH_NULL always gets the
/// NULL scheme, whatever was asked).
pub(crate) fn select_scheme(tpm: &Tpm, key: u32, in_scheme: &SigScheme) -> Result<SigScheme, Rc> {
    if key == rh::NULL {
        return Ok(SigScheme::Null);
    }
    let obj = tpm.object(key).ok_or(Rc::HANDLE)?;
    select_for_public(&obj.public, in_scheme)
}

/// Signs `digest` with `key` (TPM_RH_NULL gives the NULL signature) after
/// [`check_sign_key`] and [`select_scheme`]. This is CryptSign: it does
/// not check restricted-key tickets or the digest size against the
/// scheme's hash — TPM2_Sign does that first (Part 3 §20.2).
pub(crate) fn sign_digest(
    tpm: &mut Tpm,
    key: u32,
    in_scheme: &SigScheme,
    digest: &[u8],
) -> Result<Signature, Rc> {
    check_sign_key(tpm, key)?;
    let scheme = select_scheme(tpm, key, in_scheme)?;
    if key == rh::NULL || scheme == SigScheme::Null {
        return Ok(Signature::Null);
    }
    let (obj, drbg) = object_and_drbg(tpm, key).ok_or(Rc::HANDLE)?;
    sign_with(obj, &scheme, digest, drbg)
}

/// SignAttestInfo (reference Attest_spt.c): hashes the marshalled
/// TPMS_ATTEST with the selected scheme's hash and signs the digest. With
/// TPM_RH_NULL as the key the signature is TPMT_SIGNATURE with
/// TPM_ALG_NULL (Part 3 §18.1). The qualifying data is inside the attest
/// structure (extraData), so it is not hashed again here.
pub(crate) fn sign_attest(
    tpm: &mut Tpm,
    key: u32,
    in_scheme: &SigScheme,
    attest: &[u8],
) -> Result<Signature, Rc> {
    check_sign_key(tpm, key)?;
    let scheme = select_scheme(tpm, key, in_scheme)?;
    let Some(hash) = scheme.hash() else {
        return Ok(Signature::Null);
    };
    let hash = HashAlg::from_id(hash).ok_or(Rc::SCHEME)?;
    let digest = hash.digest(&[attest]);
    sign_digest(tpm, key, &scheme, &digest)
}

fn ecc_param(v: Vec<u8>) -> Result<EccParameter, Rc> {
    Tpm2b::new(v).map_err(|_| Rc::FAILURE)
}

/// CryptSign with a resolved (non-NULL) scheme: CryptRsaSign, CryptEccSign
/// or CryptHmacSign by key type. A scheme the key type cannot produce is
/// TPM_RC_SCHEME; an RSA digest whose size does not match the scheme's
/// hash is TPM_RC_VALUE (RSASSA_Encode / PssEncode).
///
/// Keyed-hash keys sign only with the HMAC scheme. The reference code
/// before libtpms 0.10.1 wrote an HMAC into a signature tagged with
/// whatever scheme the caller asked for when the key's own scheme was
/// NULL, and marshalled it as that scheme — an out-of-bounds read
/// (CVE-2025-49133). Here any other scheme is TPM_RC_SCHEME.
pub(crate) fn sign_with(
    obj: &LoadedObject,
    scheme: &SigScheme,
    digest: &[u8],
    drbg: &mut Drbg,
) -> Result<Signature, Rc> {
    let Some(hash_id) = scheme.hash() else {
        return Ok(Signature::Null);
    };
    let hash = HashAlg::from_id(hash_id).ok_or(Rc::SCHEME)?;
    match obj.public.object_type() {
        alg::RSA => {
            let k = obj.rsa_key_pair().ok_or(Rc::KEY)?;
            let (pss, sig) = match scheme {
                SigScheme::Rsassa(_) => (false, k.sign_pkcs1v15(hash, digest, drbg)?),
                SigScheme::Rsapss(_) => (true, k.sign_pss(hash, digest, drbg)?),
                _ => return Err(Rc::SCHEME),
            };
            let s = SignatureRsa {
                hash: hash_id,
                sig: PublicKeyRsa::new(sig).map_err(|_| Rc::FAILURE)?,
            };
            Ok(if pss {
                Signature::Rsapss(s)
            } else {
                Signature::Rsassa(s)
            })
        }
        alg::ECC => {
            let k = obj.ecc_key_pair().ok_or(Rc::KEY)?;
            let (sm2, (r, s)) = match scheme {
                SigScheme::Ecdsa(_) => (false, k.ecdsa_sign(digest, drbg)?),
                SigScheme::Sm2(_) => (true, sm2::sm2_sign(k, digest, drbg)?),
                _ => return Err(Rc::SCHEME),
            };
            let s = SignatureEcc {
                hash: hash_id,
                r: ecc_param(r)?,
                s: ecc_param(s)?,
            };
            Ok(if sm2 {
                Signature::Sm2(s)
            } else {
                Signature::Ecdsa(s)
            })
        }
        alg::KEYEDHASH => {
            if !matches!(scheme, SigScheme::Hmac(_)) {
                return Err(Rc::SCHEME);
            }
            let key = obj.hmac_key().ok_or(Rc::KEY)?;
            Ok(Signature::Hmac(Ha {
                alg: hash,
                digest: hash.hmac(key, &[digest]),
            }))
        }
        _ => Err(Rc::SCHEME),
    }
}

/// CryptValidateSignature for a public key (RSA or ECC; PolicySigned,
/// PolicyAuthorize's ticket source and TPM2_VerifySignature): checks `sig`
/// over `digest`. A signature scheme the key type cannot verify is
/// TPM_RC_SCHEME; anything else wrong with the signature (wrong size, bad
/// padding, r or s out of range, a forgery) is TPM_RC_SIGNATURE. The key's
/// own scheme does not restrict the signature's (Part 3 §20.1: any public
/// key can be loaded with any scheme, so checking it would prove nothing).
/// A keyed-hash key needs its secret: use `verify_with_object`.
///
/// Public (re-exported as `tpm::engine::verify_signature`) so that a
/// verifier outside the TPM checks quotes and signatures with exactly the
/// rules the engine applies.
pub fn verify_signature(public: &Public, digest: &[u8], sig: &Signature) -> Result<(), Rc> {
    match (&public.parameters, &public.unique) {
        (PublicParms::Rsa(p), PublicId::Rsa(n)) => {
            let (pss, s) = match sig {
                Signature::Rsassa(s) => (false, s),
                Signature::Rsapss(s) => (true, s),
                _ => return Err(Rc::SCHEME),
            };
            let hash = HashAlg::from_id(s.hash).ok_or(Rc::SCHEME)?;
            let key = RsaPublic::new(n.as_slice(), p.exponent).map_err(|_| Rc::SIGNATURE)?;
            let r = if pss {
                rsa::verify_pss(&key, hash, digest, s.sig.as_slice())
            } else {
                rsa::verify_pkcs1v15(&key, hash, digest, s.sig.as_slice())
            };
            r.map_err(|_| Rc::SIGNATURE)
        }
        (PublicParms::Ecc(p), PublicId::Ecc(q)) => {
            let curve = EccCurve::from_id(p.curve_id).ok_or(Rc::CURVE)?;
            let q = EccPoint::new(q.x.as_slice(), q.y.as_slice());
            let r = match sig {
                Signature::Ecdsa(s) => {
                    ecc::ecdsa_verify(curve, &q, digest, s.r.as_slice(), s.s.as_slice())
                }
                Signature::Sm2(s) => {
                    sm2::sm2_verify(curve, &q, digest, s.r.as_slice(), s.s.as_slice())
                }
                _ => return Err(Rc::SCHEME),
            };
            r.map_err(|_| Rc::SIGNATURE)
        }
        _ => Err(Rc::SCHEME),
    }
}

/// CryptValidateSignature for a loaded object, including keyed-hash keys
/// (CryptHMACVerifySignature): the signature must be an HMAC (else
/// TPM_RC_SCHEME), and if the key has a scheme the signature's must be the
/// same scheme and hash (else TPM_RC_SIGNATURE), so a weaker hash than the
/// key allows cannot be used. A public-only keyed-hash object is
/// TPM_RC_HANDLE. The HMAC comparison is constant-time.
pub(crate) fn verify_with_object(
    obj: &LoadedObject,
    digest: &[u8],
    sig: &Signature,
) -> Result<(), Rc> {
    if obj.public.object_type() != alg::KEYEDHASH {
        return verify_signature(&obj.public, digest, sig);
    }
    if obj.is_public_only() {
        return Err(Rc::HANDLE);
    }
    let Signature::Hmac(given) = sig else {
        return Err(Rc::SCHEME);
    };
    if let PublicParms::KeyedHash(p) = &obj.public.parameters {
        match p.scheme {
            KeyedHashScheme::Null => {}
            KeyedHashScheme::Hmac(h) if h == given.alg.id() => {}
            _ => return Err(Rc::SIGNATURE),
        }
    }
    let key = obj.hmac_key().ok_or(Rc::HANDLE)?;
    let expected = given.alg.hmac(key, &[digest]);
    if bool::from(expected.as_slice().ct_eq(given.digest.as_slice())) {
        Ok(())
    } else {
        Err(Rc::SIGNATURE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{
        Digest2b, EccParms, KdfScheme, KeyedHashParms, ObjectAttributes, RsaParms, SymDefObject,
    };

    fn public(parameters: PublicParms, unique: PublicId) -> Public {
        Public::new(
            alg::SHA256,
            ObjectAttributes(ObjectAttributes::SIGN_ENCRYPT),
            Digest2b::default(),
            parameters,
            unique,
        )
        .unwrap()
    }

    fn rsa(scheme: AsymScheme) -> Public {
        public(
            PublicParms::Rsa(RsaParms {
                symmetric: SymDefObject::Null,
                scheme,
                key_bits: 2048,
                exponent: 0,
            }),
            PublicId::Rsa(Tpm2b::default()),
        )
    }

    fn hmac(scheme: KeyedHashScheme) -> Public {
        public(
            PublicParms::KeyedHash(KeyedHashParms { scheme }),
            PublicId::KeyedHash(Tpm2b::default()),
        )
    }

    fn ecc(scheme: AsymScheme) -> Public {
        public(
            PublicParms::Ecc(EccParms {
                symmetric: SymDefObject::Null,
                scheme,
                curve_id: crate::constants::curve::NIST_P256,
                kdf: KdfScheme::Null,
            }),
            PublicId::Ecc(Default::default()),
        )
    }

    /// CryptSelectSignScheme's four cases.
    #[test]
    fn scheme_selection() {
        let sha256 = alg::SHA256;
        let sha384 = alg::SHA384;
        // Key scheme NULL: the input decides; both NULL is refused.
        let k = rsa(AsymScheme::Null);
        assert_eq!(
            select_for_public(&k, &SigScheme::Rsapss(sha384)),
            Ok(SigScheme::Rsapss(sha384))
        );
        assert_eq!(select_for_public(&k, &SigScheme::Null), Err(Rc::SCHEME));
        // Key scheme set, input NULL: the key's.
        let k = rsa(AsymScheme::Rsassa(sha256));
        assert_eq!(
            select_for_public(&k, &SigScheme::Null),
            Ok(SigScheme::Rsassa(sha256))
        );
        // Both set: scheme and hash must match.
        assert_eq!(
            select_for_public(&k, &SigScheme::Rsassa(sha256)),
            Ok(SigScheme::Rsassa(sha256))
        );
        assert_eq!(
            select_for_public(&k, &SigScheme::Rsassa(sha384)),
            Err(Rc::SCHEME)
        );
        assert_eq!(
            select_for_public(&k, &SigScheme::Rsapss(sha256)),
            Err(Rc::SCHEME)
        );
        // ECDAA needs caller data: never defaulted from the key.
        let k = ecc(AsymScheme::Ecdaa {
            hash: sha256,
            count: 0,
        });
        assert_eq!(select_for_public(&k, &SigScheme::Null), Err(Rc::SCHEME));
        // A decryption scheme is never a signing scheme.
        let k = rsa(AsymScheme::Oaep(sha256));
        assert_eq!(select_for_public(&k, &SigScheme::Null), Err(Rc::SCHEME));
    }

    /// CVE-2025-49133 shape, selection half: an HMAC key with a scheme
    /// refuses another hash or another scheme type.
    #[test]
    fn hmac_scheme_mismatch_is_refused_at_selection() {
        let k = hmac(KeyedHashScheme::Hmac(alg::SHA256));
        assert_eq!(
            select_for_public(&k, &SigScheme::Hmac(alg::SHA384)),
            Err(Rc::SCHEME)
        );
        assert_eq!(
            select_for_public(&k, &SigScheme::Rsassa(alg::SHA256)),
            Err(Rc::SCHEME)
        );
        assert_eq!(
            select_for_public(&k, &SigScheme::Hmac(alg::SHA256)),
            Ok(SigScheme::Hmac(alg::SHA256))
        );
        let xor = hmac(KeyedHashScheme::Xor {
            hash: alg::SHA256,
            kdf: alg::KDF1_SP800_108,
        });
        assert_eq!(select_for_public(&xor, &SigScheme::Null), Err(Rc::SCHEME));
    }

    /// Verification refuses signature types the key type cannot check with
    /// TPM_RC_SCHEME, and garbage of the right type with TPM_RC_SIGNATURE.
    #[test]
    fn verify_rejects_wrong_type_and_garbage() {
        let k = ecc(AsymScheme::Null);
        let rsa_sig = Signature::Rsassa(SignatureRsa {
            hash: alg::SHA256,
            sig: Tpm2b(vec![1; 256]),
        });
        assert_eq!(verify_signature(&k, &[0; 32], &rsa_sig), Err(Rc::SCHEME));
        let h = hmac(KeyedHashScheme::Null);
        assert_eq!(verify_signature(&h, &[0; 32], &rsa_sig), Err(Rc::SCHEME));
    }
}
