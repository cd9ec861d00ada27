//! NV index public areas (Part 2 §13): TPM_NT, TPMA_NV, TPMS_NV_PUBLIC and
//! TPM2B_NV_PUBLIC.

use crate::wire::{Codec, Reader, WireError};

use super::handles::check_nv_index;
use super::public_parms::read_hash;
use super::sized::{decode_sized, encode_sized};
use super::{AlgPolicy, AnyAlgorithm, Digest2b, Name};

/// TPM_NT (Part 2 §13.2): what kind of data an index holds, and so which
/// commands may write it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NvType {
    /// Written with TPM2_NV_Write.
    Ordinary,
    /// A 64-bit counter, TPM2_NV_Increment only.
    Counter,
    /// A 64-bit bit field, TPM2_NV_SetBits only.
    Bits,
    /// A digest, TPM2_NV_Extend only.
    Extend,
    /// PIN pass/fail counters (TPMS_NV_PIN_COUNTER_PARAMETERS).
    PinFail,
    PinPass,
}

impl NvType {
    /// The 4-bit TPM_NT value.
    pub const fn value(self) -> u32 {
        match self {
            NvType::Ordinary => 0x0,
            NvType::Counter => 0x1,
            NvType::Bits => 0x2,
            NvType::Extend => 0x4,
            NvType::PinFail => 0x8,
            NvType::PinPass => 0x9,
        }
    }

    /// The type with TPM_NT value `v`, if Part 2 defines one.
    pub const fn from_value(v: u32) -> Option<Self> {
        Some(match v {
            0x0 => NvType::Ordinary,
            0x1 => NvType::Counter,
            0x2 => NvType::Bits,
            0x4 => NvType::Extend,
            0x8 => NvType::PinFail,
            0x9 => NvType::PinPass,
            _ => return None,
        })
    }
}

/// TPMA_NV (Part 2 §13.4). Unmarshalling refuses reserved bits
/// (TPM_RC_RESERVED_BITS) but not an undefined TPM_NT, which
/// TPM2_NV_DefineSpace judges, as in the reference code.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct NvAttributes(pub u32);

impl NvAttributes {
    pub const PPWRITE: u32 = 1 << 0;
    pub const OWNERWRITE: u32 = 1 << 1;
    pub const AUTHWRITE: u32 = 1 << 2;
    pub const POLICYWRITE: u32 = 1 << 3;
    /// The TPM_NT field, bits 4–7.
    pub const TPM_NT_MASK: u32 = 0xF << 4;
    pub const TPM_NT_SHIFT: u32 = 4;
    pub const POLICY_DELETE: u32 = 1 << 10;
    pub const WRITELOCKED: u32 = 1 << 11;
    pub const WRITEALL: u32 = 1 << 12;
    pub const WRITEDEFINE: u32 = 1 << 13;
    pub const WRITE_STCLEAR: u32 = 1 << 14;
    pub const GLOBALLOCK: u32 = 1 << 15;
    pub const PPREAD: u32 = 1 << 16;
    pub const OWNERREAD: u32 = 1 << 17;
    pub const AUTHREAD: u32 = 1 << 18;
    pub const POLICYREAD: u32 = 1 << 19;
    pub const NO_DA: u32 = 1 << 25;
    pub const ORDERLY: u32 = 1 << 26;
    pub const CLEAR_STCLEAR: u32 = 1 << 27;
    pub const READLOCKED: u32 = 1 << 28;
    pub const WRITTEN: u32 = 1 << 29;
    pub const PLATFORMCREATE: u32 = 1 << 30;
    pub const READ_STCLEAR: u32 = 1 << 31;
    /// Bits that shall be zero: 8–9 and 20–24.
    pub const RESERVED: u32 = 0x01F0_0300;

    /// Attributes from bits; reserved bits are TPM_RC_RESERVED_BITS.
    pub fn new(bits: u32) -> Result<Self, WireError> {
        if bits & Self::RESERVED != 0 {
            return Err(WireError::ReservedBits);
        }
        Ok(NvAttributes(bits))
    }

    /// Whether every bit of `bits` is set.
    pub const fn contains(self, bits: u32) -> bool {
        self.0 & bits == bits
    }

    /// These attributes with `bits` set (`on`) or cleared.
    #[must_use]
    pub const fn with(self, bits: u32, on: bool) -> Self {
        if on {
            NvAttributes(self.0 | bits)
        } else {
            NvAttributes(self.0 & !bits)
        }
    }

    /// The raw TPM_NT field.
    pub const fn nt(self) -> u32 {
        (self.0 & Self::TPM_NT_MASK) >> Self::TPM_NT_SHIFT
    }

    /// The index type, if the TPM_NT field holds a defined one.
    pub const fn nv_type(self) -> Option<NvType> {
        NvType::from_value(self.nt())
    }

    /// These attributes with the TPM_NT field set to `t`.
    #[must_use]
    pub const fn with_type(self, t: NvType) -> Self {
        NvAttributes((self.0 & !Self::TPM_NT_MASK) | (t.value() << Self::TPM_NT_SHIFT))
    }
}

impl std::fmt::Debug for NvAttributes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const NAMES: [(u32, &str); 21] = [
            (NvAttributes::PPWRITE, "ppwrite"),
            (NvAttributes::OWNERWRITE, "ownerwrite"),
            (NvAttributes::AUTHWRITE, "authwrite"),
            (NvAttributes::POLICYWRITE, "policywrite"),
            (NvAttributes::POLICY_DELETE, "policy_delete"),
            (NvAttributes::WRITELOCKED, "writelocked"),
            (NvAttributes::WRITEALL, "writeall"),
            (NvAttributes::WRITEDEFINE, "writedefine"),
            (NvAttributes::WRITE_STCLEAR, "write_stclear"),
            (NvAttributes::GLOBALLOCK, "globallock"),
            (NvAttributes::PPREAD, "ppread"),
            (NvAttributes::OWNERREAD, "ownerread"),
            (NvAttributes::AUTHREAD, "authread"),
            (NvAttributes::POLICYREAD, "policyread"),
            (NvAttributes::NO_DA, "no_da"),
            (NvAttributes::ORDERLY, "orderly"),
            (NvAttributes::CLEAR_STCLEAR, "clear_stclear"),
            (NvAttributes::READLOCKED, "readlocked"),
            (NvAttributes::WRITTEN, "written"),
            (NvAttributes::PLATFORMCREATE, "platformcreate"),
            (NvAttributes::READ_STCLEAR, "read_stclear"),
        ];
        write!(f, "NvAttributes({:#010x}, nt={}", self.0, self.nt())?;
        for (bit, name) in NAMES {
            if self.contains(bit) {
                write!(f, "|{name}")?;
            }
        }
        write!(f, ")")
    }
}

impl Codec for NvAttributes {
    fn encode(&self, out: &mut Vec<u8>) {
        self.0.encode(out);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        NvAttributes::new(r.u32()?)
    }
}

/// TPMS_NV_PUBLIC (Part 2 §13.5): what TPM2_NV_DefineSpace takes and
/// TPM2_NV_ReadPublic returns; an index's Name is the digest of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NvPublic {
    /// TPMI_RH_NV_INDEX.
    pub nv_index: u32,
    /// TPMI_ALG_HASH (not NULL).
    pub name_alg: u16,
    pub attributes: NvAttributes,
    pub auth_policy: Digest2b,
    /// Size of the data area in octets.
    pub data_size: u16,
}

impl NvPublic {
    /// The index's Name ([`Name::from_nv_public`]).
    pub fn name(&self) -> Option<Name> {
        Name::from_nv_public(self)
    }

    /// Unmarshals as TPMS_NV_PUBLIC_Unmarshal: nvIndex outside the NV range
    /// is TPM_RC_VALUE, a nameAlg `p` refuses TPM_RC_HASH, reserved
    /// attribute bits TPM_RC_RESERVED_BITS, a dataSize above `p`'s
    /// MAX_NV_INDEX_SIZE TPM_RC_SIZE.
    pub fn decode_with(r: &mut Reader<'_>, p: &dyn AlgPolicy) -> Result<Self, WireError> {
        let nv_index = check_nv_index(r.u32()?)?;
        let name_alg = read_hash(r, p)?;
        let attributes = NvAttributes::decode(r)?;
        let auth_policy = Digest2b::decode(r)?;
        let data_size = r.u16()?;
        if usize::from(data_size) > p.limits().nv_index_size {
            return Err(WireError::Size);
        }
        Ok(NvPublic {
            nv_index,
            name_alg,
            attributes,
            auth_policy,
            data_size,
        })
    }
}

impl Codec for NvPublic {
    fn encode(&self, out: &mut Vec<u8>) {
        self.nv_index.encode(out);
        self.name_alg.encode(out);
        self.attributes.encode(out);
        self.auth_policy.encode(out);
        self.data_size.encode(out);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Self::decode_with(r, &AnyAlgorithm)
    }
}

/// TPM2B_NV_PUBLIC (Part 2 §13.6): size 0, or a size the structure does
/// not fill exactly, is TPM_RC_SIZE.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NvPublic2b(pub NvPublic);

impl NvPublic2b {
    pub fn decode_with(r: &mut Reader<'_>, p: &dyn AlgPolicy) -> Result<Self, WireError> {
        decode_sized(r, |r| NvPublic::decode_with(r, p)).map(NvPublic2b)
    }
}

impl Codec for NvPublic2b {
    fn encode(&self, out: &mut Vec<u8>) {
        encode_sized(out, |out| self.0.encode(out));
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Self::decode_with(r, &AnyAlgorithm)
    }
}
