//! The one table of what this TPM implements: algorithms with their
//! TPMA_ALGORITHM attributes (reported by TPM2_GetCapability(TPM_CAP_ALGS),
//! Part 3 §30.2), ECC curves (TPM_CAP_ECC_CURVES), RSA key sizes, symmetric
//! key sizes and modes.
//!
//! Everything that asks "is X implemented?" consults this module: the
//! capability reports, TPM2_TestParms (Part 3 §10.5) and the unmarshalling
//! of public areas, so what the TPM says it supports and what it accepts
//! can never disagree. The unmarshalling rules themselves live with the wire
//! types ([`crate::types::AlgPolicy`]); this module only answers the
//! membership questions, through [`Implemented`].

use crate::constants::{alg, curve};
use crate::crypto::HashAlg;
use crate::types::AlgPolicy;

/// TPMA_ALGORITHM bits (Part 2 §8.2).
pub(crate) mod attr {
    /// An asymmetric algorithm with public and private portions.
    pub const ASYMMETRIC: u32 = 1 << 0;
    /// A symmetric block cipher.
    pub const SYMMETRIC: u32 = 1 << 1;
    /// A hash algorithm.
    pub const HASH: u32 = 1 << 2;
    /// An algorithm that may be used as an object type.
    pub const OBJECT: u32 = 1 << 3;
    /// A signing algorithm.
    pub const SIGNING: u32 = 1 << 8;
    /// An encryption/decryption algorithm.
    pub const ENCRYPTING: u32 = 1 << 9;
    /// A method such as a key derivation function.
    pub const METHOD: u32 = 1 << 10;
}

/// One implemented algorithm (TPMS_ALG_PROPERTY, Part 2 §10.8.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct AlgInfo {
    pub id: u16,
    pub attributes: u32,
}

const fn a(id: u16, attributes: u32) -> AlgInfo {
    AlgInfo { id, attributes }
}

use attr::{ASYMMETRIC, ENCRYPTING, HASH, METHOD, OBJECT, SIGNING, SYMMETRIC};

/// Every implemented algorithm, sorted by TPM_ALG_ID (TPM_CAP_ALGS pages
/// through it in this order). The attributes follow the TCG Algorithm
/// Registry's classification of each algorithm, as the reference
/// implementation's AlgorithmCap.c does. TPM_ALG_NULL is listed with no
/// attributes: it is accepted wherever a "+" (NULL-allowed) type is.
pub(crate) static ALGORITHMS: &[AlgInfo] = &[
    a(alg::RSA, ASYMMETRIC | OBJECT),
    a(alg::SHA1, HASH),
    a(alg::HMAC, HASH | SIGNING),
    a(alg::AES, SYMMETRIC),
    a(alg::MGF1, HASH | METHOD),
    a(alg::KEYEDHASH, HASH | OBJECT | SIGNING | ENCRYPTING),
    a(alg::XOR, SYMMETRIC | HASH),
    a(alg::SHA256, HASH),
    a(alg::SHA384, HASH),
    a(alg::SHA512, HASH),
    a(alg::NULL, 0),
    a(alg::SM3_256, HASH),
    a(alg::SM4, SYMMETRIC),
    a(alg::RSASSA, ASYMMETRIC | SIGNING),
    a(alg::RSAES, ASYMMETRIC | ENCRYPTING),
    a(alg::RSAPSS, ASYMMETRIC | SIGNING),
    a(alg::OAEP, ASYMMETRIC | ENCRYPTING),
    a(alg::ECDSA, ASYMMETRIC | SIGNING),
    a(alg::ECDH, ASYMMETRIC | METHOD),
    a(alg::SM2, ASYMMETRIC | SIGNING | METHOD),
    a(alg::KDF1_SP800_56A, HASH | METHOD),
    a(alg::KDF1_SP800_108, HASH | METHOD),
    a(alg::ECC, ASYMMETRIC | OBJECT),
    a(alg::SYMCIPHER, OBJECT),
    a(alg::CFB, SYMMETRIC | ENCRYPTING),
];

/// Object types (TPMI_ALG_PUBLIC, Part 2 §9.30).
pub(crate) const PUBLIC_TYPES: &[u16] = &[alg::RSA, alg::KEYEDHASH, alg::ECC, alg::SYMCIPHER];
/// RSA schemes (TPMI_ALG_RSA_SCHEME, Part 2 §11.2.4.1).
pub(crate) const RSA_SCHEMES: &[u16] = &[alg::RSASSA, alg::RSAES, alg::RSAPSS, alg::OAEP];
/// ECC schemes (TPMI_ALG_ECC_SCHEME, Part 2 §11.2.5.4).
pub(crate) const ECC_SCHEMES: &[u16] = &[alg::ECDSA, alg::ECDH, alg::SM2];
/// Key derivation functions (TPMI_ALG_KDF, Part 2 §9.32).
pub(crate) const KDFS: &[u16] = &[alg::MGF1, alg::KDF1_SP800_56A, alg::KDF1_SP800_108];
/// Keyed-hash schemes (TPMI_ALG_KEYEDHASH_SCHEME, Part 2 §11.1.19).
pub(crate) const KEYEDHASH_SCHEMES: &[u16] = &[alg::HMAC, alg::XOR];
/// Block ciphers usable in an object's symmetric definition
/// (TPMI_ALG_SYM_OBJECT, Part 2 §9.28).
pub(crate) const SYM_OBJECTS: &[u16] = &[alg::AES, alg::SM4];
/// Block cipher modes (TPMI_ALG_SYM_MODE, Part 2 §9.29).
pub(crate) const SYM_MODES: &[u16] = &[alg::CFB];

/// Implemented ECC curves, ascending (TPM_CAP_ECC_CURVES, TPMI_ECC_CURVE).
pub(crate) const ECC_CURVES: &[u16] = &[curve::NIST_P256, curve::NIST_P384, curve::SM2_P256];
/// Implemented RSA modulus sizes in bits (TPMI_RSA_KEY_BITS).
pub(crate) const RSA_KEY_BITS: &[u16] = &[2048, 3072];
/// Implemented AES key sizes in bits (TPMI_AES_KEY_BITS).
pub(crate) const AES_KEY_BITS: &[u16] = &[128, 256];
/// Implemented SM4 key sizes in bits (TPMI_SM4_KEY_BITS).
pub(crate) const SM4_KEY_BITS: &[u16] = &[128];

/// Hash used for the integrity HMAC of saved contexts and reported as
/// TPM_PT_CONTEXT_HASH; TPM2_ContextSave must use it.
pub(crate) const CONTEXT_INTEGRITY_HASH: HashAlg = HashAlg::Sha512;
/// Cipher and key size for encrypting saved contexts (TPM_PT_CONTEXT_SYM,
/// TPM_PT_CONTEXT_SYM_SIZE); TPM2_ContextSave must use them.
pub(crate) const CONTEXT_ENCRYPT_ALG: u16 = alg::AES;
pub(crate) const CONTEXT_ENCRYPT_KEY_BITS: u16 = 256;

/// The TPMA_ALGORITHM of `id`, or `None` when it is not implemented.
#[allow(dead_code)] // For the object commands (next issue) and the tests.
pub(crate) fn attributes(id: u16) -> Option<u32> {
    ALGORITHMS
        .binary_search_by_key(&id, |i| i.id)
        .ok()
        .and_then(|i| ALGORITHMS.get(i))
        .map(|i| i.attributes)
}

/// Whether `id` is an implemented algorithm.
#[allow(dead_code)] // For the object commands (next issue) and the tests.
pub(crate) fn is_implemented(id: u16) -> bool {
    attributes(id).is_some()
}

/// The key sizes implemented for block cipher `alg` (empty if none).
pub(crate) fn sym_key_bits(alg_id: u16) -> &'static [u16] {
    match alg_id {
        alg::AES => AES_KEY_BITS,
        alg::SM4 => SM4_KEY_BITS,
        _ => &[],
    }
}

/// The algorithm policy of this TPM: a value is accepted exactly when this
/// module lists it. Used to unmarshal public parameters the way the
/// reference implementation does (its TPMI_ unmarshallers accept only
/// implemented values), e.g. in TPM2_TestParms.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Implemented;

impl AlgPolicy for Implemented {
    fn public_type(&self, id: u16) -> bool {
        PUBLIC_TYPES.contains(&id)
    }
    fn hash(&self, id: u16) -> bool {
        HashAlg::from_id(id).is_some()
    }
    fn sym_object(&self, id: u16) -> bool {
        SYM_OBJECTS.contains(&id)
    }
    fn sym_key_bits(&self, id: u16, bits: u16) -> bool {
        sym_key_bits(id).contains(&bits)
    }
    fn sym_mode(&self, id: u16) -> bool {
        SYM_MODES.contains(&id)
    }
    fn rsa_scheme(&self, id: u16) -> bool {
        RSA_SCHEMES.contains(&id)
    }
    fn rsa_key_bits(&self, bits: u16) -> bool {
        RSA_KEY_BITS.contains(&bits)
    }
    fn ecc_scheme(&self, id: u16) -> bool {
        ECC_SCHEMES.contains(&id)
    }
    fn ecc_curve(&self, id: u16) -> bool {
        ECC_CURVES.contains(&id)
    }
    fn kdf(&self, id: u16) -> bool {
        KDFS.contains(&id)
    }
    fn keyedhash_scheme(&self, id: u16) -> bool {
        KEYEDHASH_SCHEMES.contains(&id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_unique() {
        for w in ALGORITHMS.windows(2) {
            assert!(w[0].id < w[1].id, "{:#x} before {:#x}", w[0].id, w[1].id);
        }
        for w in ECC_CURVES.windows(2) {
            assert!(w[0] < w[1]);
        }
    }

    /// Every algorithm a sub-list accepts is in the table, with the
    /// attribute that makes it usable in that role.
    #[test]
    fn sub_lists_agree_with_the_table() {
        let has = |id: u16, bits: u32| {
            let a = attributes(id).unwrap_or_else(|| panic!("{id:#x} not in table"));
            assert_eq!(a & bits, bits, "{id:#x} lacks {bits:#x}");
        };
        for &h in &HashAlg::ALL {
            has(h.id(), attr::HASH);
        }
        for &t in PUBLIC_TYPES {
            has(t, attr::OBJECT);
        }
        for &s in RSA_SCHEMES.iter().chain(ECC_SCHEMES) {
            has(s, attr::ASYMMETRIC);
        }
        for &k in KDFS {
            has(k, attr::HASH | attr::METHOD);
        }
        for &s in SYM_OBJECTS.iter().chain(SYM_MODES) {
            has(s, attr::SYMMETRIC);
            assert!(!sym_key_bits(s).is_empty() || SYM_MODES.contains(&s));
        }
        for &s in KEYEDHASH_SCHEMES {
            has(s, attr::HASH);
        }
        assert!(!is_implemented(alg::ECDAA));
        assert!(!is_implemented(alg::TDES));
    }
}
