//! Templates for the keys a client usually needs besides the EK (whose
//! templates are `tpm::templates`): storage root keys, attestation keys
//! and sealed data objects.
//!
//! * SRKs follow the TCG TPM v2.0 Provisioning Guidance (§7.5.1, the
//!   "H-1"/"H-2" storage templates of the EK Credential Profile with
//!   userWithAuth and noDA): restricted decryption keys with AES-128-CFB
//!   and an empty unique field, so every client derives the same SRK.
//! * AKs follow TCG "TPM 2.0 Keys for Device Identity and Attestation"
//!   (§7.3.4.1, restricted signing keys): only TPM-generated data can be
//!   signed, so a quote cannot be forged by signing a chosen digest.

use tpm::constants::{alg, curve};
use tpm::types::{
    AsymScheme, Digest2b, EccParms, EccPoint, KdfScheme, KeyedHashParms, KeyedHashScheme,
    ObjectAttributes, Public, PublicId, PublicKeyRsa, PublicParms, RsaParms, SymDefObject,
};

const FIXED: u32 = ObjectAttributes::FIXED_TPM
    | ObjectAttributes::FIXED_PARENT
    | ObjectAttributes::SENSITIVE_DATA_ORIGIN;

/// Storage key attributes: fixedTPM, fixedParent, sensitiveDataOrigin,
/// userWithAuth, noDA, restricted, decrypt (0x00030472).
pub const STORAGE_ATTRIBUTES: ObjectAttributes = ObjectAttributes(
    FIXED
        | ObjectAttributes::USER_WITH_AUTH
        | ObjectAttributes::NO_DA
        | ObjectAttributes::RESTRICTED
        | ObjectAttributes::DECRYPT,
);

/// Attestation key attributes: fixedTPM, fixedParent,
/// sensitiveDataOrigin, userWithAuth, restricted, sign (0x00050072).
pub const AK_ATTRIBUTES: ObjectAttributes = ObjectAttributes(
    FIXED
        | ObjectAttributes::USER_WITH_AUTH
        | ObjectAttributes::RESTRICTED
        | ObjectAttributes::SIGN_ENCRYPT,
);

fn aes128_cfb() -> SymDefObject {
    SymDefObject::Cipher {
        alg: alg::AES,
        key_bits: 128,
        mode: alg::CFB,
    }
}

fn ecc(attributes: ObjectAttributes, symmetric: SymDefObject, scheme: AsymScheme) -> Public {
    Public {
        name_alg: alg::SHA256,
        attributes,
        auth_policy: Digest2b::empty(),
        parameters: PublicParms::Ecc(EccParms {
            symmetric,
            scheme,
            curve_id: curve::NIST_P256,
            kdf: KdfScheme::Null,
        }),
        unique: PublicId::Ecc(EccPoint::default()),
    }
}

fn rsa(attributes: ObjectAttributes, symmetric: SymDefObject, scheme: AsymScheme) -> Public {
    Public {
        name_alg: alg::SHA256,
        attributes,
        auth_policy: Digest2b::empty(),
        parameters: PublicParms::Rsa(RsaParms {
            symmetric,
            scheme,
            key_bits: 2048,
            exponent: 0,
        }),
        unique: PublicId::Rsa(PublicKeyRsa::empty()),
    }
}

/// ECC NIST P-256 storage root key.
pub fn srk_ecc_p256() -> Public {
    ecc(STORAGE_ATTRIBUTES, aes128_cfb(), AsymScheme::Null)
}

/// RSA 2048 storage root key.
pub fn srk_rsa2048() -> Public {
    rsa(STORAGE_ATTRIBUTES, aes128_cfb(), AsymScheme::Null)
}

/// ECC NIST P-256 attestation key: ECDSA with SHA-256.
pub fn ak_ecc_p256() -> Public {
    ecc(
        AK_ATTRIBUTES,
        SymDefObject::Null,
        AsymScheme::Ecdsa(alg::SHA256),
    )
}

/// RSA 2048 attestation key: RSASSA-PKCS1-v1_5 with SHA-256.
pub fn ak_rsa2048() -> Public {
    rsa(
        AK_ATTRIBUTES,
        SymDefObject::Null,
        AsymScheme::Rsassa(alg::SHA256),
    )
}

/// An unrestricted ECC NIST P-256 signing key (ECDSA SHA-256), e.g. for a
/// CA key kept in the TPM.
pub fn signing_ecc_p256() -> Public {
    let attrs =
        ObjectAttributes(FIXED | ObjectAttributes::USER_WITH_AUTH | ObjectAttributes::SIGN_ENCRYPT);
    ecc(attrs, SymDefObject::Null, AsymScheme::Ecdsa(alg::SHA256))
}

/// A sealed data object (keyedHash, no scheme) whose data comes from
/// `KeyInputs::data`. With a non-empty `policy` it can be unsealed only
/// through that policy; `user_with_auth` additionally allows its
/// authValue.
pub fn sealed_data(policy: &[u8], user_with_auth: bool) -> Public {
    let mut attrs = ObjectAttributes(ObjectAttributes::FIXED_TPM | ObjectAttributes::FIXED_PARENT);
    attrs = attrs.with(ObjectAttributes::USER_WITH_AUTH, user_with_auth);
    Public {
        name_alg: alg::SHA256,
        attributes: attrs,
        auth_policy: Digest2b::new(policy.to_vec()).unwrap_or_default(),
        parameters: PublicParms::KeyedHash(KeyedHashParms {
            scheme: KeyedHashScheme::Null,
        }),
        unique: PublicId::KeyedHash(Digest2b::empty()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_words() {
        assert_eq!(STORAGE_ATTRIBUTES.0, 0x0003_0472);
        assert_eq!(AK_ATTRIBUTES.0, 0x0005_0072);
        assert_eq!(sealed_data(&[1; 32], false).attributes.0, 0x12);
        assert!(sealed_data(&[], true).attributes.user_with_auth());
    }
}
