//! Structures of session setup and command lists (Part 2 §6.11, §10.9,
//! §11.1.6): TPM_SE, TPMT_SYM_DEF, TPML_CC and TPML_ALG.

use crate::constants::alg;
use crate::wire::{decode_list_u32, encode_list_u32, Codec, Reader, WireError};

use super::public_parms::{read_cipher_details, read_hash};
use super::{AlgPolicy, AnyAlgorithm, SymDefObject, MAX_ALG_LIST_SIZE, MAX_CAP_CC};

/// TPM_SE (Part 2 §6.11): the kind of session TPM2_StartAuthSession
/// starts. Other values are TPM_RC_VALUE.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SessionType {
    Hmac,
    Policy,
    /// A policy session that only computes a digest and authorizes nothing.
    Trial,
}

impl SessionType {
    pub const fn value(self) -> u8 {
        match self {
            SessionType::Hmac => 0x00,
            SessionType::Policy => 0x01,
            SessionType::Trial => 0x03,
        }
    }
}

impl Codec for SessionType {
    fn encode(&self, out: &mut Vec<u8>) {
        self.value().encode(out);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        match r.u8()? {
            0x00 => Ok(SessionType::Hmac),
            0x01 => Ok(SessionType::Policy),
            0x03 => Ok(SessionType::Trial),
            _ => Err(WireError::Value),
        }
    }
}

/// TPMT_SYM_DEF (Part 2 §11.1.6): a session's parameter-encryption
/// algorithm. Unlike an object's TPMT_SYM_DEF_OBJECT it allows XOR, whose
/// "key bits" field is a hash and which has no mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SymDef {
    /// No parameter encryption.
    Null,
    /// XOR obfuscation keyed through KDFa with this hash.
    Xor { hash: u16 },
    /// A block cipher (AES-CFB in practice).
    Cipher { alg: u16, key_bits: u16, mode: u16 },
}

impl SymDef {
    /// The algorithm identifier.
    pub fn alg(&self) -> u16 {
        match self {
            SymDef::Null => alg::NULL,
            SymDef::Xor { .. } => alg::XOR,
            SymDef::Cipher { alg, .. } => *alg,
        }
    }

    /// Unmarshals under `p`: an algorithm TPMI_ALG_SYM refuses (NULL unless
    /// `allow_null`) is TPM_RC_SYMMETRIC, an XOR hash TPMI_ALG_HASH refuses
    /// TPM_RC_HASH, then key bits (TPM_RC_VALUE) and mode (TPM_RC_MODE) as
    /// for an object.
    pub fn decode_with(
        r: &mut Reader<'_>,
        p: &dyn AlgPolicy,
        allow_null: bool,
    ) -> Result<Self, WireError> {
        let a = r.u16()?;
        if a == alg::NULL {
            return if allow_null {
                Ok(SymDef::Null)
            } else {
                Err(WireError::Symmetric)
            };
        }
        if !(p.sym(a) && AnyAlgorithm.sym(a)) {
            return Err(WireError::Symmetric);
        }
        if a == alg::XOR {
            return Ok(SymDef::Xor {
                hash: read_hash(r, p)?,
            });
        }
        let (key_bits, mode) = read_cipher_details(a, r, p)?;
        Ok(SymDef::Cipher {
            alg: a,
            key_bits,
            mode,
        })
    }
}

impl From<SymDefObject> for SymDef {
    fn from(s: SymDefObject) -> Self {
        match s {
            SymDefObject::Null => SymDef::Null,
            SymDefObject::Cipher {
                alg,
                key_bits,
                mode,
            } => SymDef::Cipher {
                alg,
                key_bits,
                mode,
            },
        }
    }
}

impl Codec for SymDef {
    fn encode(&self, out: &mut Vec<u8>) {
        self.alg().encode(out);
        match self {
            SymDef::Null => {}
            SymDef::Xor { hash } => hash.encode(out),
            SymDef::Cipher { key_bits, mode, .. } => {
                key_bits.encode(out);
                mode.encode(out);
            }
        }
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Self::decode_with(r, &AnyAlgorithm, true)
    }
}

/// TPML_CC (Part 2 §10.9.2): command codes (TPM2_SetCommandCodeAuditStatus,
/// TPM2_PolicyCommandCode lists). More than MAX_CAP_CC is TPM_RC_SIZE.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CommandCodeList(pub Vec<u32>);

impl Codec for CommandCodeList {
    fn encode(&self, out: &mut Vec<u8>) {
        encode_list_u32(&self.0, out);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(CommandCodeList(decode_list_u32(r, MAX_CAP_CC)?))
    }
}

/// TPML_ALG (Part 2 §10.9.4): algorithm identifiers (TPM2_IncrementalSelfTest).
/// More than MAX_ALG_LIST_SIZE is TPM_RC_SIZE.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AlgList(pub Vec<u16>);

impl Codec for AlgList {
    fn encode(&self, out: &mut Vec<u8>) {
        encode_list_u32(&self.0, out);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(AlgList(decode_list_u32(r, MAX_ALG_LIST_SIZE)?))
    }
}
