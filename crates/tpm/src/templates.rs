//! The endorsement key templates of the TCG EK Credential Profile for TPM
//! Family 2.0 (v2.5/2.6, Annex B): the public areas a TPM manufacturer
//! feeds to TPM2_CreatePrimary in the endorsement hierarchy, and the NV
//! indices where the matching EK certificates live (§2.2.1.5).
//!
//! The EK is derived from the endorsement primary seed and its template
//! alone, so anyone holding the template can recreate the same key on the
//! same TPM and compare it with the key in the EK certificate. That makes
//! these templates part of the interface between the TPM, the vTPM
//! manufacturer (which certifies the EK) and the verifier (which checks the
//! EK against the certificate): all of them use these constructors.
//!
//! * Low range (L-1, L-2): `adminWithPolicy` without `userWithAuth`, the
//!   PolicySecret(TPM_RH_ENDORSEMENT) policy ("PolicyA"), and a unique
//!   field of zeros of the key size (§B.3.3, §B.3.4).
//! * High range (H-1..H-7): `userWithAuth` too, the "PolicyB" digest
//!   (PolicyOR of PolicyA and PolicyC) in the name hash, and an empty unique
//!   field (§B.4.4).

use crate::constants::{alg, curve};
use crate::types::{
    AsymScheme, Digest2b, EccParameter, EccParms, EccPoint, KdfScheme, ObjectAttributes, Public,
    PublicId, PublicKeyRsa, PublicParms, RsaParms, SymDefObject,
};

/// PolicySecret(TPM_RH_ENDORSEMENT) with SHA-256 ("PolicyA", §B.3.3): the
/// authPolicy of the low-range templates.
pub const POLICY_A_SHA256: [u8; 32] = [
    0x83, 0x71, 0x97, 0x67, 0x44, 0x84, 0xb3, 0xf8, 0x1a, 0x90, 0xcc, 0x8d, 0x46, 0xa5, 0xd7, 0x24,
    0xfd, 0x52, 0xd7, 0x6e, 0x06, 0x52, 0x0b, 0x64, 0xf2, 0xa1, 0xda, 0x1b, 0x33, 0x14, 0x69, 0xaa,
];

/// "PolicyC" with SHA-256 (§B.4.3: PolicyAuthorizeNV of the EK policy
/// index 0x01C07F01).
pub const POLICY_C_SHA256: [u8; 32] = [
    0x37, 0x67, 0xe2, 0xed, 0xd4, 0x3f, 0xf4, 0x5a, 0x3a, 0x7e, 0x1e, 0xae, 0xfc, 0xef, 0x78, 0x64,
    0x3d, 0xca, 0x96, 0x46, 0x32, 0xe7, 0xaa, 0xd8, 0x2c, 0x67, 0x3a, 0x30, 0xd8, 0x63, 0x3f, 0xde,
];

/// "PolicyB" with SHA-256 (§B.4.3): PolicyOR(PolicyA, PolicyC), the
/// authPolicy of H-1 and H-2.
pub const POLICY_B_SHA256: [u8; 32] = [
    0xca, 0x3d, 0x0a, 0x99, 0xa2, 0xb9, 0x39, 0x06, 0xf7, 0xa3, 0x34, 0x24, 0x14, 0xef, 0xcf, 0xb3,
    0xa3, 0x85, 0xd4, 0x4c, 0xd1, 0xfd, 0x45, 0x90, 0x89, 0xd1, 0x9b, 0x50, 0x71, 0xc0, 0xb7, 0xa0,
];

/// "PolicyB" with SHA-384: the authPolicy of H-3, H-6 and H-7.
pub const POLICY_B_SHA384: [u8; 48] = [
    0xb2, 0x6e, 0x7d, 0x28, 0xd1, 0x1a, 0x50, 0xbc, 0x53, 0xd8, 0x82, 0xbc, 0xf5, 0xfd, 0x3a, 0x1a,
    0x07, 0x41, 0x48, 0xbb, 0x35, 0xd3, 0xb4, 0xe4, 0xcb, 0x1c, 0x0a, 0xd9, 0xbd, 0xe4, 0x19, 0xca,
    0xcb, 0x47, 0xba, 0x09, 0x69, 0x96, 0x46, 0x15, 0x0f, 0x9f, 0xc0, 0x00, 0xf3, 0xf8, 0x0e, 0x12,
];

/// "PolicyB" with SHA-512: the authPolicy of H-4.
pub const POLICY_B_SHA512: [u8; 64] = [
    0xb8, 0x22, 0x1c, 0xa6, 0x9e, 0x85, 0x50, 0xa4, 0x91, 0x4d, 0xe3, 0xfa, 0xa6, 0xa1, 0x8c, 0x07,
    0x2c, 0xc0, 0x12, 0x08, 0x07, 0x3a, 0x92, 0x8d, 0x5d, 0x66, 0xd5, 0x9e, 0xf7, 0x9e, 0x49, 0xa4,
    0x29, 0xc4, 0x1a, 0x6b, 0x26, 0x95, 0x71, 0xd5, 0x7e, 0xdb, 0x25, 0xfb, 0xdb, 0x18, 0x38, 0x42,
    0x56, 0x08, 0xb4, 0x13, 0xcd, 0x61, 0x6a, 0x5f, 0x6d, 0xb5, 0xb6, 0x07, 0x1a, 0xf9, 0x9b, 0xea,
];

/// "PolicyB" with SM3-256: the authPolicy of H-5.
pub const POLICY_B_SM3_256: [u8; 32] = [
    0x16, 0x78, 0x60, 0xa3, 0x5f, 0x2c, 0x5c, 0x35, 0x67, 0xf9, 0xc9, 0x27, 0xac, 0x56, 0xc0, 0x32,
    0xf3, 0xb3, 0xa6, 0x46, 0x2f, 0x8d, 0x03, 0x79, 0x98, 0xe7, 0xa1, 0x0f, 0x77, 0xfa, 0x45, 0x4a,
];

/// TPMA_OBJECT of the low-range templates: fixedTPM, fixedParent,
/// sensitiveDataOrigin, adminWithPolicy, restricted, decrypt (0x000300b2).
pub const LOW_RANGE_ATTRIBUTES: ObjectAttributes = ObjectAttributes(
    ObjectAttributes::FIXED_TPM
        | ObjectAttributes::FIXED_PARENT
        | ObjectAttributes::SENSITIVE_DATA_ORIGIN
        | ObjectAttributes::ADMIN_WITH_POLICY
        | ObjectAttributes::RESTRICTED
        | ObjectAttributes::DECRYPT,
);

/// TPMA_OBJECT of the high-range templates: the low-range attributes plus
/// userWithAuth (0x000300f2).
pub const HIGH_RANGE_ATTRIBUTES: ObjectAttributes =
    LOW_RANGE_ATTRIBUTES.with(ObjectAttributes::USER_WITH_AUTH, true);

/// One EK template of the profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EkTemplate {
    /// L-1: RSA 2048, SHA-256, AES-128-CFB (§B.3.3).
    RsaL1,
    /// L-2: ECC NIST P-256, SHA-256, AES-128-CFB (§B.3.4).
    EccP256L2,
    /// H-1: RSA 2048, SHA-256, AES-128-CFB (§B.4.4.1).
    Rsa2048H1,
    /// H-2: ECC NIST P-256, SHA-256, AES-128-CFB (§B.4.4.2).
    EccP256H2,
    /// H-3: ECC NIST P-384, SHA-384, AES-256-CFB (§B.4.4.3).
    EccP384H3,
    /// H-4: ECC NIST P-521, SHA-512, AES-256-CFB (§B.4.4.4).
    EccP521H4,
    /// H-5: ECC SM2 P-256, SM3-256, SM4-128-CFB (§B.4.4.5).
    Sm2P256H5,
    /// H-6: RSA 3072, SHA-384, AES-256-CFB (§B.4.4.6).
    Rsa3072H6,
    /// H-7: RSA 4096, SHA-384, AES-256-CFB (§B.4.4.7).
    Rsa4096H7,
}

impl EkTemplate {
    /// Every template, low range first.
    pub const ALL: [EkTemplate; 9] = [
        EkTemplate::RsaL1,
        EkTemplate::EccP256L2,
        EkTemplate::Rsa2048H1,
        EkTemplate::EccP256H2,
        EkTemplate::EccP384H3,
        EkTemplate::EccP521H4,
        EkTemplate::Sm2P256H5,
        EkTemplate::Rsa3072H6,
        EkTemplate::Rsa4096H7,
    ];

    /// The profile's label for the template ("L-1", "H-5", ...).
    pub fn label(self) -> &'static str {
        match self {
            EkTemplate::RsaL1 => "L-1",
            EkTemplate::EccP256L2 => "L-2",
            EkTemplate::Rsa2048H1 => "H-1",
            EkTemplate::EccP256H2 => "H-2",
            EkTemplate::EccP384H3 => "H-3",
            EkTemplate::EccP521H4 => "H-4",
            EkTemplate::Sm2P256H5 => "H-5",
            EkTemplate::Rsa3072H6 => "H-6",
            EkTemplate::Rsa4096H7 => "H-7",
        }
    }

    /// The NV index of the EK certificate for a key made from this
    /// template (§2.2.1.5.1 low range, §2.2.1.5.2 high range).
    pub fn cert_index(self) -> u32 {
        match self {
            EkTemplate::RsaL1 => 0x01C0_0002,
            EkTemplate::EccP256L2 => 0x01C0_000A,
            EkTemplate::Rsa2048H1 => 0x01C0_0012,
            EkTemplate::EccP256H2 => 0x01C0_0014,
            EkTemplate::EccP384H3 => 0x01C0_0016,
            EkTemplate::EccP521H4 => 0x01C0_0018,
            EkTemplate::Sm2P256H5 => 0x01C0_001A,
            EkTemplate::Rsa3072H6 => 0x01C0_001C,
            EkTemplate::Rsa4096H7 => 0x01C0_001E,
        }
    }

    /// Whether this is a low-range template (policy-only USER role).
    pub fn is_low_range(self) -> bool {
        matches!(self, EkTemplate::RsaL1 | EkTemplate::EccP256L2)
    }

    /// The template's public area, ready for TPM2_CreatePrimary under
    /// TPM_RH_ENDORSEMENT.
    pub fn public(self) -> Public {
        match self {
            EkTemplate::RsaL1 => rsa(
                alg::SHA256,
                LOW_RANGE_ATTRIBUTES,
                &POLICY_A_SHA256,
                128,
                2048,
                256,
            ),
            EkTemplate::EccP256L2 => ecc(
                alg::SHA256,
                LOW_RANGE_ATTRIBUTES,
                &POLICY_A_SHA256,
                (alg::AES, 128),
                curve::NIST_P256,
                32,
            ),
            EkTemplate::Rsa2048H1 => rsa(
                alg::SHA256,
                HIGH_RANGE_ATTRIBUTES,
                &POLICY_B_SHA256,
                128,
                2048,
                0,
            ),
            EkTemplate::EccP256H2 => ecc(
                alg::SHA256,
                HIGH_RANGE_ATTRIBUTES,
                &POLICY_B_SHA256,
                (alg::AES, 128),
                curve::NIST_P256,
                0,
            ),
            EkTemplate::EccP384H3 => ecc(
                alg::SHA384,
                HIGH_RANGE_ATTRIBUTES,
                &POLICY_B_SHA384,
                (alg::AES, 256),
                curve::NIST_P384,
                0,
            ),
            EkTemplate::EccP521H4 => ecc(
                alg::SHA512,
                HIGH_RANGE_ATTRIBUTES,
                &POLICY_B_SHA512,
                (alg::AES, 256),
                curve::NIST_P521,
                0,
            ),
            EkTemplate::Sm2P256H5 => ecc(
                alg::SM3_256,
                HIGH_RANGE_ATTRIBUTES,
                &POLICY_B_SM3_256,
                (alg::SM4, 128),
                curve::SM2_P256,
                0,
            ),
            EkTemplate::Rsa3072H6 => rsa(
                alg::SHA384,
                HIGH_RANGE_ATTRIBUTES,
                &POLICY_B_SHA384,
                256,
                3072,
                0,
            ),
            EkTemplate::Rsa4096H7 => rsa(
                alg::SHA384,
                HIGH_RANGE_ATTRIBUTES,
                &POLICY_B_SHA384,
                256,
                4096,
                0,
            ),
        }
    }
}

/// Template L-1 (RSA 2048 EK, low range).
pub fn ek_rsa2048_l1() -> Public {
    EkTemplate::RsaL1.public()
}

/// Template L-2 (ECC NIST P-256 EK, low range).
pub fn ek_ecc_p256_l2() -> Public {
    EkTemplate::EccP256L2.public()
}

/// Template H-5 (SM2 P-256 EK with SM3-256 names and SM4 protection).
pub fn ek_sm2_p256_h5() -> Public {
    EkTemplate::Sm2P256H5.public()
}

/// The symmetric algorithm protecting an EK's children: `alg` in CFB mode.
fn cfb(alg: u16, key_bits: u16) -> SymDefObject {
    SymDefObject::Cipher {
        alg,
        key_bits,
        mode: alg::CFB,
    }
}

/// The templates' policies are constants of at most 64 bytes, so they
/// always fit a TPM2B_DIGEST.
fn policy(p: &[u8]) -> Digest2b {
    Digest2b::new(p.to_vec()).unwrap_or_default()
}

/// An RSA storage EK; `unique_len` zero octets go in the modulus field
/// (256 for L-1, none for the high range).
fn rsa(
    name_alg: u16,
    attributes: ObjectAttributes,
    auth_policy: &[u8],
    aes_bits: u16,
    key_bits: u16,
    unique_len: usize,
) -> Public {
    Public {
        name_alg,
        attributes,
        auth_policy: policy(auth_policy),
        parameters: PublicParms::Rsa(RsaParms {
            symmetric: cfb(alg::AES, aes_bits),
            scheme: AsymScheme::Null,
            key_bits,
            exponent: 0,
        }),
        unique: PublicId::Rsa(PublicKeyRsa::new(vec![0; unique_len]).unwrap_or_default()),
    }
}

/// An ECC storage EK; `coord_len` zero octets go in each coordinate of
/// the unique field (32 for L-2, none for the high range).
fn ecc(
    name_alg: u16,
    attributes: ObjectAttributes,
    auth_policy: &[u8],
    (sym, sym_bits): (u16, u16),
    curve_id: u16,
    coord_len: usize,
) -> Public {
    let coord = || EccParameter::new(vec![0; coord_len]).unwrap_or_default();
    Public {
        name_alg,
        attributes,
        auth_policy: policy(auth_policy),
        parameters: PublicParms::Ecc(EccParms {
            symmetric: cfb(sym, sym_bits),
            scheme: AsymScheme::Null,
            curve_id,
            kdf: KdfScheme::Null,
        }),
        unique: PublicId::Ecc(EccPoint {
            x: coord(),
            y: coord(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::constants::{cc, rh};
    use crate::crypto::HashAlg;
    use crate::types::Public2b;
    use crate::wire::Codec;

    #[test]
    fn attributes_are_the_profile_values() {
        assert_eq!(LOW_RANGE_ATTRIBUTES.0, 0x0003_00b2);
        assert_eq!(HIGH_RANGE_ATTRIBUTES.0, 0x0003_00f2);
    }

    /// PolicyA is PolicySecret(TPM_RH_ENDORSEMENT) with an empty policyRef
    /// (Part 3 §23.4: H(H(0 || CC || authName) || policyRef)), and PolicyB
    /// is PolicyOR(PolicyA, PolicyC) (Part 3 §23.6): the constants hold
    /// together.
    #[test]
    fn policy_constants_are_the_policies_they_claim() {
        let h = HashAlg::Sha256;
        let step = h.digest(&[
            &[0u8; 32],
            &cc::POLICY_SECRET.to_be_bytes(),
            &rh::ENDORSEMENT.to_be_bytes(),
        ]);
        assert_eq!(h.digest(&[&step]), POLICY_A_SHA256);
        let or = h.digest(&[
            &[0u8; 32],
            &cc::POLICY_OR.to_be_bytes(),
            &POLICY_A_SHA256,
            &POLICY_C_SHA256,
        ]);
        assert_eq!(or, POLICY_B_SHA256);
    }

    /// L-1 marshals to the 314-byte TPMT_PUBLIC tpm2_createek sends (the
    /// TPM2B is 0x013a long), and every template round-trips.
    #[test]
    fn templates_marshal_and_round_trip() {
        let l1 = Public2b(ek_rsa2048_l1()).to_bytes();
        assert_eq!(&l1[..2], &[0x01, 0x3a]);
        let l2 = Public2b(ek_ecc_p256_l2()).to_bytes();
        assert_eq!(l2.len(), 2 + 2 + 2 + 4 + 34 + 6 + 2 + 2 + 2 + 34 + 34);
        for t in EkTemplate::ALL {
            let p = t.public();
            let b = p.to_bytes();
            assert_eq!(
                Public::from_bytes(&b).ok(),
                Some(p.clone()),
                "{}",
                t.label()
            );
            assert_eq!(
                p.auth_policy.len(),
                HashAlg::from_id(p.name_alg).map_or(0, |h| h.digest_size())
            );
            assert_eq!(t.is_low_range(), p.attributes == LOW_RANGE_ATTRIBUTES);
        }
        // High-range templates carry no unique bytes.
        let h2 = EkTemplate::EccP256H2.public().to_bytes();
        assert_eq!(&h2[h2.len() - 4..], &[0, 0, 0, 0]);
    }

    #[test]
    fn certificate_indices_are_distinct_and_in_the_tcg_range() {
        let mut seen = std::collections::HashSet::new();
        for t in EkTemplate::ALL {
            assert!(seen.insert(t.cert_index()));
            assert_eq!(t.cert_index() & 0xFFFF_FF00, 0x01C0_0000);
        }
    }
}
