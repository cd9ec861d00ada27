//! The consistency rules of object attributes, schemes and key material
//! (Part 1 §27 "Object attributes"; Part 3 §12.1 TPM2_Create), in the
//! order and with the response codes of the reference code's CreateChecks,
//! PublicAttributesValidation, SchemeChecks, AdjustAuthSize and
//! CryptValidateKeys, so a bad template earns the code libtpms gives.
//!
//! Codes are returned unnumbered unless the reference numbers them
//! itself; the command adds the parameter number of the public area.

use crate::constants::alg;
use crate::crypto::HashAlg;
use crate::rc::Rc;
use crate::types::{
    AsymScheme, KdfScheme, KeyedHashScheme, Public, PublicId, PublicParms, Sensitive,
    SensitiveComposite, SymDefObject,
};

use super::loaded::LoadedObject;

/// The digest size of a nameAlg (0 for TPM_ALG_NULL or an unknown id).
pub(crate) fn digest_size(name_alg: u16) -> usize {
    HashAlg::from_id(name_alg).map_or(0, |h| h.digest_size())
}

/// AdjustAuthSize: an authValue longer than the nameAlg digest (ignoring
/// trailing zeros) is refused (false → TPM_RC_SIZE); otherwise it is
/// zero-padded to the digest size, as the reference stores it. Without a
/// nameAlg the limit is the largest digest.
pub(crate) fn adjust_auth_size(auth: &mut Vec<u8>, name_alg: u16) -> bool {
    let size = if name_alg == alg::NULL {
        crate::types::MAX_DIGEST_SIZE
    } else {
        digest_size(name_alg)
    };
    let significant = auth.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    if significant > size {
        return false;
    }
    auth.resize(size, 0);
    true
}

/// CreateChecks (Part 3 §12.1.1): attribute rules unique to creation,
/// then [`public_attributes_validation`]. `parent` is None for a primary
/// object. `data_len` is the size of inSensitive.data.
pub(crate) fn create_checks(
    parent: Option<&LoadedObject>,
    public: &Public,
    data_len: usize,
) -> Result<(), Rc> {
    let a = public.attributes;
    // The caller must supply the data the TPM does not generate...
    if !a.sensitive_data_origin() && data_len == 0 {
        return Err(Rc::ATTRIBUTES);
    }
    // ...and may not supply it for an ordinary object the TPM generates.
    if parent.is_some() && a.sensitive_data_origin() && data_len != 0 {
        return Err(Rc::ATTRIBUTES);
    }
    match public.object_type() {
        alg::KEYEDHASH | alg::SYMCIPHER => {
            // A data object (neither sign nor decrypt) holds caller data.
            if public.object_type() == alg::KEYEDHASH
                && !a.sign_encrypt()
                && !a.decrypt()
                && a.sensitive_data_origin()
            {
                return Err(Rc::ATTRIBUTES);
            }
            // A restricted symmetric key must be TPM-generated unless it is
            // fully duplicable.
            if a.restricted() && !a.sensitive_data_origin() && (a.fixed_parent() || a.fixed_tpm()) {
                return Err(Rc::ATTRIBUTES);
            }
        }
        // Asymmetric keys cannot have their private part supplied.
        _ => {
            if !a.sensitive_data_origin() {
                return Err(Rc::ATTRIBUTES);
            }
        }
    }
    public_attributes_validation(parent, public)
}

/// PublicAttributesValidation (Part 1 §27): nameAlg, authPolicy size,
/// fixedTPM/fixedParent consistency with the parent, sign/decrypt/
/// restricted combinations, encryptedDuplication, derivation rules, then
/// [`scheme_checks`].
pub(crate) fn public_attributes_validation(
    parent: Option<&LoadedObject>,
    public: &Public,
) -> Result<(), Rc> {
    let a = public.attributes;
    if public.name_alg == alg::NULL {
        return Err(Rc::HASH);
    }
    if !public.auth_policy.is_empty() && public.auth_policy.len() != digest_size(public.name_alg) {
        return Err(Rc::SIZE);
    }
    let parent_fixed_tpm = parent.is_none_or(|p| p.public.attributes.fixed_tpm());
    if parent_fixed_tpm {
        // Under a fixedTPM parent (or a seed) fixedParent == fixedTPM.
        if a.fixed_parent() != a.fixed_tpm() {
            return Err(Rc::ATTRIBUTES);
        }
    } else if a.fixed_tpm() {
        return Err(Rc::ATTRIBUTES);
    }
    if a.sign_encrypt() == a.decrypt() {
        // A restricted key must be exactly one of sign and decrypt; only a
        // data object may be neither.
        if a.restricted() {
            return Err(Rc::ATTRIBUTES);
        }
        if public.object_type() != alg::KEYEDHASH && !a.sign_encrypt() {
            return Err(Rc::ATTRIBUTES);
        }
    }
    if a.fixed_tpm() && a.encrypted_duplication() {
        return Err(Rc::ATTRIBUTES);
    }
    if let Some(p) = parent {
        let pa = p.public.attributes;
        if !pa.fixed_tpm() && a.encrypted_duplication() != pa.encrypted_duplication() {
            return Err(Rc::ATTRIBUTES);
        }
        // A derived object shares its parent's fixedTPM and is fixedParent.
        if p.flags.derivation && (a.fixed_tpm() != pa.fixed_tpm() || !a.fixed_parent()) {
            return Err(Rc::ATTRIBUTES);
        }
    }
    scheme_checks(parent, public)
}

/// Signing schemes of asymmetric keys (CryptIsAsymSignScheme).
fn is_sign_scheme(object_type: u16, s: &AsymScheme) -> bool {
    match object_type {
        alg::RSA => matches!(s, AsymScheme::Rsassa(_) | AsymScheme::Rsapss(_)),
        alg::ECC => matches!(
            s,
            AsymScheme::Ecdsa(_)
                | AsymScheme::Ecdaa { .. }
                | AsymScheme::Sm2(_)
                | AsymScheme::Ecschnorr(_)
        ),
        _ => false,
    }
}

/// Decryption / key-exchange schemes (CryptIsAsymDecryptScheme).
fn is_decrypt_scheme(object_type: u16, s: &AsymScheme) -> bool {
    match object_type {
        alg::RSA => matches!(s, AsymScheme::Rsaes | AsymScheme::Oaep(_)),
        alg::ECC => matches!(
            s,
            AsymScheme::Ecdh(_) | AsymScheme::Sm2(_) | AsymScheme::Ecmqv(_)
        ),
        _ => false,
    }
}

/// SchemeChecks: schemes consistent with sign/decrypt/restricted, the
/// symmetric definition of parents (and equal to a non-duplicable
/// parent's, with the same nameAlg), ECC KDF NULL.
pub(crate) fn scheme_checks(parent: Option<&LoadedObject>, public: &Public) -> Result<(), Rc> {
    let a = public.attributes;
    let sym: Option<&SymDefObject> = match &public.parameters {
        PublicParms::SymCipher(_) => {
            // Every implemented mode (CFB, or NULL) is a block cipher mode.
            None
        }
        PublicParms::KeyedHash(p) => {
            if a.sign_encrypt() == a.decrypt() {
                if p.scheme != KeyedHashScheme::Null {
                    return Err(Rc::SCHEME);
                }
            } else if a.sign_encrypt() {
                if !matches!(p.scheme, KeyedHashScheme::Hmac(_)) {
                    return Err(Rc::SCHEME);
                }
            } else {
                let KeyedHashScheme::Xor { hash, kdf } = p.scheme else {
                    return Err(Rc::SCHEME);
                };
                if a.restricted() {
                    if kdf != alg::KDF1_SP800_108 {
                        return Err(Rc::SCHEME);
                    }
                    if digest_size(hash) == 0 {
                        return Err(Rc::HASH);
                    }
                }
            }
            None
        }
        PublicParms::Rsa(p) => {
            asym_scheme_checks(public.object_type(), a, &p.scheme, &p.symmetric)?;
            Some(&p.symmetric)
        }
        PublicParms::Ecc(p) => {
            asym_scheme_checks(public.object_type(), a, &p.scheme, &p.symmetric)?;
            // No implemented curve requires a particular scheme; the KDF of
            // an ECC key must be NULL.
            if p.kdf != KdfScheme::Null {
                return Err(Rc::KDF);
            }
            Some(&p.symmetric)
        }
    };
    if let (Some(sym), true) = (sym, a.restricted() && a.decrypt()) {
        if *sym == SymDefObject::Null {
            return Err(Rc::SYMMETRIC);
        }
        if let (true, Some(p)) = (a.fixed_parent(), parent) {
            if public.name_alg != p.public.name_alg {
                return Err(Rc::HASH);
            }
            if Some(*sym) != parent_symmetric(&p.public) {
                return Err(Rc::SYMMETRIC);
            }
        }
    }
    Ok(())
}

/// The symmetric definition of an asymmetric parent.
pub(crate) fn parent_symmetric(public: &Public) -> Option<SymDefObject> {
    match &public.parameters {
        PublicParms::Rsa(p) => Some(p.symmetric),
        PublicParms::Ecc(p) => Some(p.symmetric),
        _ => None,
    }
}

fn asym_scheme_checks(
    object_type: u16,
    a: crate::types::ObjectAttributes,
    scheme: &AsymScheme,
    symmetric: &SymDefObject,
) -> Result<(), Rc> {
    if a.sign_encrypt() == a.decrypt() {
        if *scheme != AsymScheme::Null {
            return Err(Rc::SCHEME);
        }
    } else if a.sign_encrypt() {
        if is_sign_scheme(object_type, scheme) {
            // Unmarshalling already required an implemented hash.
        } else if a.restricted() || *scheme != AsymScheme::Null {
            return Err(Rc::SCHEME);
        }
    } else if a.restricted() {
        if *scheme != AsymScheme::Null {
            return Err(Rc::SCHEME);
        }
    } else if *scheme != AsymScheme::Null && !is_decrypt_scheme(object_type, scheme) {
        return Err(Rc::SCHEME);
    }
    if (!a.restricted() || !a.decrypt()) && *symmetric != SymDefObject::Null {
        return Err(Rc::SYMMETRIC);
    }
    Ok(())
}

/// CryptValidateKeys (reference CryptUtil.c): sizes of the public key and
/// of the private part, and the binding between them (for symmetric and
/// keyed-hash objects: unique = H(seedValue || key)). `blame_public` and
/// `blame_sensitive` are the parameter numbers the reference attaches.
/// RSA and ECC binding (prime divides the modulus, scalar gives the point)
/// is checked when the key is built ([`super::loaded::build_key`]).
pub(crate) fn validate_keys(
    public: &Public,
    sensitive: Option<&Sensitive>,
    blame_public: u32,
    blame_sensitive: u32,
) -> Result<(), Rc> {
    let digest = digest_size(public.name_alg);
    if let Some(s) = sensitive {
        if s.object_type() != public.object_type() {
            return Err(Rc::TYPE.param(blame_sensitive));
        }
        if s.auth_value.len() > digest && digest > 0 {
            return Err(Rc::SIZE.param(blame_sensitive));
        }
    }
    match (&public.parameters, &public.unique) {
        (PublicParms::Rsa(p), PublicId::Rsa(n)) => {
            let bytes = usize::from(p.key_bits).div_ceil(8);
            if n.len() != bytes || n.as_slice().first().is_none_or(|b| *b < 0x80) {
                return Err(Rc::KEY.param(blame_public));
            }
            if p.exponent != 0 && p.exponent < 7 {
                return Err(Rc::VALUE.param(blame_public));
            }
            if let Some(SensitiveComposite::Rsa(prime)) = sensitive.map(|s| &s.sensitive) {
                if prime.len() * 2 != bytes || prime.as_slice().first().is_none_or(|b| *b < 0x80) {
                    return Err(Rc::KEY_SIZE.param(blame_sensitive));
                }
            }
        }
        (PublicParms::Ecc(p), PublicId::Ecc(q)) => {
            let size = crate::crypto::EccCurve::from_id(p.curve_id).map_or(0, |c| c.size());
            match sensitive.map(|s| &s.sensitive) {
                None => {
                    if q.x.len() != size || q.y.len() != size {
                        return Err(Rc::KEY.param(blame_public));
                    }
                    if public.name_alg != alg::NULL {
                        let curve =
                            crate::crypto::EccCurve::from_id(p.curve_id).ok_or(Rc::CURVE)?;
                        let point = crate::crypto::EccPoint::new(q.x.as_slice(), q.y.as_slice());
                        if crate::crypto::ecc::validate_point(curve, &point).is_err() {
                            return Err(Rc::ECC_POINT.param(blame_public));
                        }
                    }
                }
                Some(SensitiveComposite::Ecc(d)) => {
                    // A valid scalar is in [1, n-1]; the binding to the
                    // public point is checked when the key pair is built.
                    if d.is_empty() || d.len() > size {
                        return Err(Rc::KEY_SIZE);
                    }
                }
                Some(_) => return Err(Rc::TYPE.param(blame_sensitive)),
            }
        }
        (params, PublicId::KeyedHash(u) | PublicId::SymCipher(u)) => match sensitive {
            None => {
                if u.len() != digest {
                    return Err(Rc::KEY.param(blame_public));
                }
            }
            Some(s) => {
                match (params, &s.sensitive) {
                    (PublicParms::SymCipher(sp), SensitiveComposite::SymCipher(k)) => {
                        sym_key_validate(&sp.sym, k.as_slice())
                            .map_err(|e| e.param(blame_sensitive))?;
                    }
                    (PublicParms::KeyedHash(kp), SensitiveComposite::KeyedHash(k)) => {
                        if let KeyedHashScheme::Hmac(h) = kp.scheme {
                            let block = HashAlg::from_id(h).map_or(0, |h| h.block_size());
                            if k.len() > block {
                                return Err(Rc::SIZE.param(blame_sensitive));
                            }
                        }
                    }
                    _ => return Err(Rc::TYPE.param(blame_sensitive)),
                }
                if public.name_alg != alg::NULL {
                    if s.seed_value.len() != digest {
                        return Err(Rc::KEY_SIZE.param(blame_sensitive));
                    }
                    let expected = symmetric_unique(public.name_alg, s);
                    if !bool::from(subtle::ConstantTimeEq::ct_eq(
                        expected.as_slice(),
                        u.as_slice(),
                    )) {
                        return Err(Rc::BINDING);
                    }
                }
            }
        },
        _ => return Err(Rc::TYPE.param(blame_public)),
    }
    Ok(())
}

/// CryptSymKeyValidate: the key must be exactly the size the symmetric
/// definition names (TPM_RC_KEY_SIZE).
pub(crate) fn sym_key_validate(def: &SymDefObject, key: &[u8]) -> Result<(), Rc> {
    match def {
        SymDefObject::Cipher { key_bits, .. } if usize::from(*key_bits) == key.len() * 8 => Ok(()),
        _ => Err(Rc::KEY_SIZE),
    }
}

/// CryptComputeSymmetricUnique (Part 2 §12.2.3.2): the unique field of a
/// keyed-hash or symmetric object, H_nameAlg(seedValue || sensitive).
pub(crate) fn symmetric_unique(name_alg: u16, s: &Sensitive) -> Vec<u8> {
    HashAlg::from_id(name_alg)
        .map(|h| h.digest(&[s.seed_value.as_slice(), s.sensitive.as_slice()]))
        .unwrap_or_default()
}
