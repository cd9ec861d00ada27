//! Object generation (reference CryptCreateObject; Part 1 §26–27): the
//! key or data of a new object, its seedValue and the unique field of its
//! public area, drawn from a random generator — the TPM's DRBG for
//! ordinary objects, a [`crate::crypto::KdfRng`] keyed with a hierarchy
//! seed for primary objects (so the same template and seed give the same
//! key), or keyed with a derivation parent's secret for derived objects.

use rand_core::CryptoRngCore;

use crate::constants::alg;
use crate::crypto::{CryptoError, EccCurve, EccKeyPair, HashAlg, RsaKeyPair};
use crate::rc::Rc;
use crate::types::{
    EccPoint, KeyedHashScheme, Public, PublicId, PublicParms, Sensitive, SensitiveComposite,
    SensitiveCreate, SymDefObject,
};
use crate::wire::{Tpm2b, Tpm2bBytes};

use super::loaded::AsymKey;
use super::validate::{sym_key_validate, symmetric_unique};

fn crypto_rc(e: CryptoError) -> Rc {
    e.rc()
}

/// Creates the sensitive area and key for `public` (whose unique field is
/// replaced) from `create` and `rng`. `public` has passed the creation
/// checks. The authValue is taken as given (already adjusted). With
/// sensitiveDataOrigin set the data is generated, otherwise `create.data`
/// is used.
pub(crate) fn create_object(
    public: &mut Public,
    create: &SensitiveCreate,
    rng: &mut dyn CryptoRngCore,
) -> Result<(Sensitive, AsymKey), Rc> {
    let name_hash = HashAlg::from_id(public.name_alg).ok_or(Rc::HASH)?;
    let a = public.attributes;
    let data: &[u8] = if a.sensitive_data_origin() {
        &[]
    } else {
        create.data.as_slice()
    };
    let (composite, key) = match &public.parameters {
        PublicParms::Rsa(p) => {
            let pair = RsaKeyPair::generate(rng, p.key_bits, p.exponent).map_err(crypto_rc)?;
            public.unique =
                PublicId::Rsa(Tpm2b::new(pair.public().modulus()).map_err(|_| Rc::FAILURE)?);
            let prime = pair.prime();
            (
                SensitiveComposite::Rsa(Tpm2bBytes(prime.to_vec())),
                AsymKey::Rsa(pair),
            )
        }
        PublicParms::Ecc(p) => {
            let curve = EccCurve::from_id(p.curve_id).ok_or(Rc::CURVE)?;
            let pair = EccKeyPair::generate(curve, rng).map_err(crypto_rc)?;
            let q = pair.public();
            public.unique = PublicId::Ecc(EccPoint {
                x: Tpm2b::new(q.x.clone()).map_err(|_| Rc::FAILURE)?,
                y: Tpm2b::new(q.y.clone()).map_err(|_| Rc::FAILURE)?,
            });
            (
                SensitiveComposite::Ecc(Tpm2bBytes(pair.private().to_vec())),
                AsymKey::Ecc(pair),
            )
        }
        PublicParms::SymCipher(p) => {
            let key = if data.is_empty() {
                let bits = match p.sym {
                    SymDefObject::Cipher { key_bits, .. } => usize::from(key_bits),
                    SymDefObject::Null => return Err(Rc::SYMMETRIC),
                };
                random(rng, bits.div_ceil(8))
            } else {
                sym_key_validate(&p.sym, data)?;
                data.to_vec()
            };
            (
                SensitiveComposite::SymCipher(Tpm2bBytes(key)),
                AsymKey::None,
            )
        }
        PublicParms::KeyedHash(p) => {
            let hash = match p.scheme {
                KeyedHashScheme::Hmac(h) | KeyedHashScheme::Xor { hash: h, .. } => {
                    HashAlg::from_id(h).unwrap_or(name_hash)
                }
                KeyedHashScheme::Null => name_hash,
            };
            let bits = if data.is_empty() {
                random(rng, hash.digest_size())
            } else {
                if (a.sign_encrypt() || a.decrypt()) && data.len() > hash.block_size() {
                    return Err(Rc::SIZE);
                }
                data.to_vec()
            };
            (
                SensitiveComposite::KeyedHash(Tpm2bBytes(bits)),
                AsymKey::None,
            )
        }
    };
    // Parents get a seed for their children's protection; symmetric and
    // keyed-hash objects an obfuscation value hashed into their unique.
    let symmetric = matches!(public.object_type(), alg::KEYEDHASH | alg::SYMCIPHER);
    let seed = if symmetric || (a.restricted() && a.decrypt()) {
        random(rng, name_hash.digest_size())
    } else {
        Vec::new()
    };
    let sensitive = Sensitive {
        auth_value: Tpm2bBytes(create.user_auth.as_slice().to_vec()),
        seed_value: Tpm2bBytes(seed),
        sensitive: composite,
    };
    if symmetric {
        let u =
            Tpm2b::new(symmetric_unique(public.name_alg, &sensitive)).map_err(|_| Rc::FAILURE)?;
        public.unique = match public.object_type() {
            alg::KEYEDHASH => PublicId::KeyedHash(u),
            _ => PublicId::SymCipher(u),
        };
    }
    Ok((sensitive, key))
}

/// `n` octets from `rng`.
fn random(rng: &mut dyn CryptoRngCore, n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    rng.fill_bytes(&mut v);
    v
}
