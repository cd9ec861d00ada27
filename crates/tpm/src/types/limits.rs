//! Size bounds of the key-material buffers (Part 2 §10.4, §11.2.4.5,
//! §11.2.5.1, §13.5) and of the structures built from them.
//!
//! Part 2 sizes these buffers from implementation constants (MAX_RSA_KEY_BYTES,
//! MAX_ECC_KEY_BYTES, MAX_NV_INDEX_SIZE in the reference TpmProfile), and
//! the reference unmarshallers refuse a larger size with TPM_RC_SIZE. Two
//! readers need different bounds: this TPM's engine must answer exactly
//! like the reference code for its own profile (RSA up to 3072 bits, ECC up
//! to P-384), while the verifier must parse structures made by TPMs with
//! bigger keys. So the wire types have room for [`Limits::ANY`] and every
//! policy-aware decoder (`decode_with`) enforces the [`Limits`] its
//! [`super::AlgPolicy`] reports: [`Limits::PROFILE`] by default (the
//! engine), [`Limits::ANY`] for [`super::AnyAlgorithm`] (the verifier).

use crate::wire::{Reader, Tpm2b, Tpm2bBytes, WireError};

use super::MAX_DIGEST_SIZE;

/// MAX_RSA_KEY_BYTES of this TPM: 3072-bit moduli (Part 2 §10.4,
/// TpmProfile RSA_3072).
pub const MAX_RSA_KEY_BYTES: usize = 384;
/// MAX_ECC_KEY_BYTES of this TPM: P-384 coordinates.
pub const MAX_ECC_KEY_BYTES: usize = 48;
/// MAX_NV_INDEX_SIZE: the largest NV index data area this TPM defines
/// (TPM_PT_NV_INDEX_MAX, PC Client minimum).
pub const MAX_NV_INDEX_SIZE: usize = 2048;
/// MAX_SYM_KEY_BYTES: AES-256 (Part 2 §11.1.8 TPM2B_SYM_KEY).
pub const MAX_SYM_KEY_BYTES: usize = 32;
/// MAX_SYM_BLOCK_SIZE: the AES/SM4 block (Part 2 §10.4.11 TPM2B_IV).
pub const MAX_SYM_BLOCK_SIZE: usize = 16;
/// MAX_SYM_DATA: sealed data in a keyed-hash object (reference TpmProfile;
/// Part 2 §11.1.14 TPM2B_SENSITIVE_DATA is sizeof(TPMU_SENSITIVE_CREATE),
/// the larger of this and TPMS_DERIVE).
pub const MAX_SYM_DATA: usize = 128;
/// LABEL_MAX_BUFFER: TPM2B_LABEL (Part 2 §11.1.10).
pub const LABEL_MAX_BUFFER: usize = 32;
/// MAX_NV_BUFFER_SIZE: one NV read or write (TPM_PT_NV_BUFFER_MAX; the
/// reference and libtpms use 1024).
pub const MAX_NV_BUFFER_SIZE: usize = 1024;
/// MAX_CONTEXT_SIZE: the encrypted part of a saved context. libtpms uses
/// 2680 so RSA-3072 objects fit; we do the same.
pub const MAX_CONTEXT_SIZE: usize = 2680;
/// MAX_ALG_LIST_SIZE: TPML_ALG (Part 2 §10.9.4).
pub const MAX_ALG_LIST_SIZE: usize = 64;

/// The implementation constants a decoder enforces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// MAX_RSA_KEY_BYTES: TPM2B_PUBLIC_KEY_RSA.
    pub rsa_key_bytes: usize,
    /// MAX_ECC_KEY_BYTES: TPM2B_ECC_PARAMETER.
    pub ecc_key_bytes: usize,
    /// MAX_NV_INDEX_SIZE: TPMS_NV_PUBLIC.dataSize.
    pub nv_index_size: usize,
}

impl Limits {
    /// This TPM's profile: what the engine accepts.
    pub const PROFILE: Limits = Limits {
        rsa_key_bytes: MAX_RSA_KEY_BYTES,
        ecc_key_bytes: MAX_ECC_KEY_BYTES,
        nv_index_size: MAX_NV_INDEX_SIZE,
    };

    /// Room for structures from any TPM: RSA-4096 and ECC parameters up
    /// to 128 bytes (the TSS's TPM2_MAX_RSA_KEY_BYTES and
    /// TPM2_MAX_ECC_KEY_BYTES), and any NV index size a u16 can state.
    pub const ANY: Limits = Limits {
        rsa_key_bytes: 512,
        ecc_key_bytes: 128,
        nv_index_size: u16::MAX as usize,
    };

    /// RSA_PRIVATE_SIZE: TPM2B_PRIVATE_KEY_RSA holds up to five half-size
    /// values (a prime and the CRT values, Part 2 §11.2.4.7).
    pub const fn rsa_private_bytes(&self) -> usize {
        self.rsa_key_bytes / 2 * 5
    }

    /// sizeof(TPMU_ENCRYPTED_SECRET) (Part 2 §11.4): an RSA-encrypted
    /// seed, an ECC point, or a digest-sized value.
    pub const fn encrypted_secret_bytes(&self) -> usize {
        max(
            self.rsa_key_bytes,
            max(2 * (2 + self.ecc_key_bytes), 2 + MAX_DIGEST_SIZE),
        )
    }

    /// Reads a TPM2B_PUBLIC_KEY_RSA under these limits (TPM_RC_SIZE when
    /// larger): for command parameters of that type, e.g. the message of
    /// TPM2_RSA_Encrypt.
    pub fn read_public_key_rsa(&self, r: &mut Reader<'_>) -> Result<PublicKeyRsa, WireError> {
        read_2b(r, self.rsa_key_bytes)
    }

    /// Reads a TPM2B_ECC_PARAMETER under these limits.
    pub fn read_ecc_parameter(&self, r: &mut Reader<'_>) -> Result<EccParameter, WireError> {
        read_2b(r, self.ecc_key_bytes)
    }

    /// Reads a TPM2B_ENCRYPTED_SECRET under these limits.
    pub fn read_encrypted_secret(
        &self,
        r: &mut Reader<'_>,
    ) -> Result<EncryptedSecret2b, WireError> {
        read_2b(r, self.encrypted_secret_bytes())
    }
}

const fn max(a: usize, b: usize) -> usize {
    if a > b {
        a
    } else {
        b
    }
}

/// TPM2B_PUBLIC_KEY_RSA (Part 2 §11.2.4.5): a modulus or an RSA signature.
pub type PublicKeyRsa = Tpm2b<{ Limits::ANY.rsa_key_bytes }>;
/// TPM2B_ECC_PARAMETER (Part 2 §11.2.5.1): a coordinate or a signature
/// half.
pub type EccParameter = Tpm2b<{ Limits::ANY.ecc_key_bytes }>;
/// TPM2B_PRIVATE_KEY_RSA (Part 2 §11.2.4.7): secret, zeroized on drop.
pub type PrivateKeyRsa = Tpm2bBytes<{ Limits::ANY.rsa_private_bytes() }>;
/// An ECC private scalar: a TPM2B_ECC_PARAMETER in
/// TPMU_SENSITIVE_COMPOSITE (Part 2 §12.3.2.3); secret.
pub type EccPrivateKey = Tpm2bBytes<{ Limits::ANY.ecc_key_bytes }>;
/// TPM2B_SYM_KEY (Part 2 §11.1.8): secret.
pub type SymKey = Tpm2bBytes<MAX_SYM_KEY_BYTES>;
/// TPM2B_SENSITIVE_DATA (Part 2 §11.1.14): sealed data or a keyed-hash key;
/// secret.
pub type SensitiveData = Tpm2bBytes<MAX_SYM_DATA>;
/// The seedValue of TPMT_SENSITIVE (a TPM2B_DIGEST, Part 2 §12.3.2.4):
/// protects a parent's children, so it is secret.
pub type SeedValue = Tpm2bBytes<MAX_DIGEST_SIZE>;
/// TPM2B_LABEL (Part 2 §11.1.10).
pub type Label2b = Tpm2b<LABEL_MAX_BUFFER>;
/// TPM2B_DERIVE (Part 2 §11.1.12): a marshalled TPMS_DERIVE.
pub type Derive2b = Tpm2b<{ 2 * (2 + LABEL_MAX_BUFFER) }>;
/// TPM2B_IV (Part 2 §10.4.11).
pub type Iv2b = Tpm2b<MAX_SYM_BLOCK_SIZE>;
/// TPM2B_MAX_NV_BUFFER (Part 2 §10.4.9).
pub type MaxNvBuffer = Tpm2b<MAX_NV_BUFFER_SIZE>;
/// TPM2B_TIMEOUT (Part 2 §10.4.10): sizeof(UINT64).
pub type Timeout2b = Tpm2b<8>;
/// TPM2B_OPERAND (Part 2 §10.4.6): a TPM2B_DIGEST-sized comparand for
/// TPM2_PolicyNV and TPM2_PolicyCounterTimer.
pub type Operand2b = Tpm2b<MAX_DIGEST_SIZE>;
/// TPM2B_ENCRYPTED_SECRET (Part 2 §11.4): room for any TPM's key; the
/// engine reads it with [`Limits::read_encrypted_secret`].
pub type EncryptedSecret2b = Tpm2b<{ Limits::ANY.encrypted_secret_bytes() }>;
/// TPM2B_ID_OBJECT (Part 2 §12.4.3): sizeof(TPMS_ID_OBJECT), an integrity
/// HMAC and an encrypted credential, both TPM2B_DIGEST.
pub type IdObject2b = Tpm2b<{ 2 * (2 + MAX_DIGEST_SIZE) }>;

/// sizeof(TPMT_SENSITIVE) for this profile (Part 2 §12.3.2.4): type,
/// authValue, seedValue and the largest TPMU_SENSITIVE_COMPOSITE member.
pub const SENSITIVE_MAX: usize = 2
    + 2 * (2 + MAX_DIGEST_SIZE)
    + 2
    + max(
        Limits::PROFILE.rsa_private_bytes(),
        max(MAX_SYM_DATA, max(MAX_ECC_KEY_BYTES, MAX_SYM_KEY_BYTES)),
    );
/// sizeof(_PRIVATE) (Part 2 §12.3): two digests and a TPM2B_SENSITIVE;
/// the capacity of TPM2B_PRIVATE.
pub const PRIVATE_MAX: usize = 2 * (2 + MAX_DIGEST_SIZE) + 2 + SENSITIVE_MAX;
/// TPM2B_PRIVATE (Part 2 §12.3): an encrypted, integrity-protected
/// sensitive area, opaque outside the TPM that made it.
pub type Private2b = Tpm2b<PRIVATE_MAX>;

/// The largest marshalled TPMT_PUBLIC of this profile: type, nameAlg,
/// attributes, authPolicy, the largest parameters (ECC with an ECDAA scheme)
/// and the largest unique (an RSA modulus). The capacity of TPM2B_TEMPLATE
/// (Part 2 §12.2.6).
pub const TEMPLATE_MAX: usize = 2
    + 2
    + 4
    + (2 + MAX_DIGEST_SIZE)
    + 18
    + max(
        2 + MAX_RSA_KEY_BYTES,
        max(2 * (2 + MAX_ECC_KEY_BYTES), 2 + MAX_DIGEST_SIZE),
    );
/// TPM2B_TEMPLATE (Part 2 §12.2.6): a marshalled TPMT_PUBLIC or
/// TPMT_TEMPLATE for TPM2_CreateLoaded.
pub type Template2b = Tpm2b<TEMPLATE_MAX>;

/// sizeof(TPMS_CONTEXT_DATA) (Part 2 §14.3): integrity digest and the
/// encrypted TPM2B_CONTEXT_SENSITIVE.
pub const CONTEXT_DATA_MAX: usize = (2 + MAX_DIGEST_SIZE) + (2 + MAX_CONTEXT_SIZE);
/// TPM2B_CONTEXT_DATA (Part 2 §14.4): opaque to everyone but the TPM that
/// saved it.
pub type ContextData2b = Tpm2b<CONTEXT_DATA_MAX>;

/// Reads a TPM2B of capacity `MAX` whose size may not exceed `limit`
/// either (TPM_RC_SIZE, checked before reading the bytes).
pub(crate) fn read_2b<const MAX: usize>(
    r: &mut Reader<'_>,
    limit: usize,
) -> Result<Tpm2b<MAX>, WireError> {
    let n = r.u16()? as usize;
    if n > MAX.min(limit) {
        return Err(WireError::Size);
    }
    Ok(Tpm2b(r.take(n)?.to_vec()))
}

/// [`read_2b`] for secret buffers.
pub(crate) fn read_secret_2b<const MAX: usize>(
    r: &mut Reader<'_>,
    limit: usize,
) -> Result<Tpm2bBytes<MAX>, WireError> {
    let n = r.u16()? as usize;
    if n > MAX.min(limit) {
        return Err(WireError::Size);
    }
    Ok(Tpm2bBytes(r.take(n)?.to_vec()))
}
