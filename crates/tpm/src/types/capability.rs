//! TPM2_GetCapability's output (Part 2 §10.10): TPMS_CAPABILITY_DATA and
//! the TPMU_CAPABILITIES lists it selects between.
//!
//! Every list is bounded by the count that fits in MAX_CAP_BUFFER (Part 2
//! §6, "MAX_CAP_*" derived constants), and a larger count is refused before
//! anything is allocated.

use crate::constants::{alg, cap};
use crate::crypto::HashAlg;
use crate::wire::{decode_list_u32, encode_list_u32, Codec, Reader, WireError};

use super::{PcrSelectionList, MAX_DIGEST_SIZE, PCR_SELECT_MAX};

/// MAX_CAP_BUFFER: the room for one TPMS_CAPABILITY_DATA (reported as
/// TPM_PT_MAX_CAP_BUFFER).
pub const MAX_CAP_BUFFER: usize = 1024;
/// MAX_CAP_DATA: MAX_CAP_BUFFER less the capability and count fields.
pub const MAX_CAP_DATA: usize = MAX_CAP_BUFFER - 4 - 4;
/// MAX_CAP_ALGS: TPMS_ALG_PROPERTY is 6 bytes.
pub const MAX_CAP_ALGS: usize = MAX_CAP_DATA / 6;
/// MAX_CAP_HANDLES: a handle is 4 bytes.
pub const MAX_CAP_HANDLES: usize = MAX_CAP_DATA / 4;
/// MAX_CAP_CC: a TPM_CC / TPMA_CC is 4 bytes.
pub const MAX_CAP_CC: usize = MAX_CAP_DATA / 4;
/// MAX_TPM_PROPERTIES: TPMS_TAGGED_PROPERTY is 8 bytes.
pub const MAX_TPM_PROPERTIES: usize = MAX_CAP_DATA / 8;
/// MAX_PCR_PROPERTIES: TPMS_TAGGED_PCR_SELECT is tag, size and bitmap.
pub const MAX_PCR_PROPERTIES: usize = MAX_CAP_DATA / (4 + 1 + PCR_SELECT_MAX);
/// MAX_ECC_CURVES: a TPM_ECC_CURVE is 2 bytes.
pub const MAX_ECC_CURVES: usize = MAX_CAP_DATA / 2;
/// MAX_TAGGED_POLICIES: a handle and a TPMT_HA.
pub const MAX_TAGGED_POLICIES: usize = MAX_CAP_DATA / (4 + 2 + MAX_DIGEST_SIZE);
/// MAX_ACT_DATA: TPMS_ACT_DATA is 12 bytes.
pub const MAX_ACT_DATA: usize = MAX_CAP_DATA / 12;

/// TPMS_ALG_PROPERTY (Part 2 §10.8.1): an algorithm and its TPMA_ALGORITHM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AlgProperty {
    pub alg: u16,
    pub attributes: u32,
}

impl Codec for AlgProperty {
    fn encode(&self, out: &mut Vec<u8>) {
        self.alg.encode(out);
        self.attributes.encode(out);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(AlgProperty {
            alg: r.u16()?,
            attributes: r.u32()?,
        })
    }
}

/// TPMA_CC (Part 2 §8.9): a command's code and its handling attributes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CommandAttributes(pub u32);

impl CommandAttributes {
    const NV: u32 = 1 << 22;
    const EXTENSIVE: u32 = 1 << 23;
    const FLUSHED: u32 = 1 << 24;
    const C_HANDLES_SHIFT: u32 = 25;
    const R_HANDLE: u32 = 1 << 28;
    const V: u32 = 1 << 29;

    /// Builds a library (not vendor) command's attributes.
    pub fn new(
        command_index: u16,
        nv: bool,
        extensive: bool,
        flushed: bool,
        c_handles: u8,
        r_handle: bool,
    ) -> Self {
        let mut v = u32::from(command_index);
        if nv {
            v |= Self::NV;
        }
        if extensive {
            v |= Self::EXTENSIVE;
        }
        if flushed {
            v |= Self::FLUSHED;
        }
        v |= u32::from(c_handles & 0x7) << Self::C_HANDLES_SHIFT;
        if r_handle {
            v |= Self::R_HANDLE;
        }
        CommandAttributes(v)
    }

    pub fn command_index(self) -> u16 {
        self.0 as u16
    }
    /// The command may write NV.
    pub fn nv(self) -> bool {
        self.0 & Self::NV != 0
    }
    /// The command may flush many objects.
    pub fn extensive(self) -> bool {
        self.0 & Self::EXTENSIVE != 0
    }
    /// The command flushes a context it is given.
    pub fn flushed(self) -> bool {
        self.0 & Self::FLUSHED != 0
    }
    /// Number of handles in the handle area.
    pub fn c_handles(self) -> u8 {
        ((self.0 >> Self::C_HANDLES_SHIFT) & 0x7) as u8
    }
    /// The response has a handle area.
    pub fn r_handle(self) -> bool {
        self.0 & Self::R_HANDLE != 0
    }
    /// A vendor-specific command.
    pub fn vendor(self) -> bool {
        self.0 & Self::V != 0
    }
}

impl Codec for CommandAttributes {
    fn encode(&self, out: &mut Vec<u8>) {
        self.0.encode(out);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(CommandAttributes(r.u32()?))
    }
}

/// TPMS_TAGGED_PROPERTY (Part 2 §10.8.2): a TPM_PT and its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TaggedProperty {
    pub property: u32,
    pub value: u32,
}

impl Codec for TaggedProperty {
    fn encode(&self, out: &mut Vec<u8>) {
        self.property.encode(out);
        self.value.encode(out);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(TaggedProperty {
            property: r.u32()?,
            value: r.u32()?,
        })
    }
}

/// TPMS_TAGGED_PCR_SELECT (Part 2 §10.8.3): a TPM_PT_PCR and the PCRs that
/// have it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaggedPcrSelect {
    pub tag: u32,
    /// The bitmap, PCR n in bit (n mod 8) of octet (n / 8); its length is
    /// sizeofSelect, at most PCR_SELECT_MAX.
    pub select: Vec<u8>,
}

impl TaggedPcrSelect {
    /// Whether PCR `pcr` has the property.
    pub fn is_selected(&self, pcr: usize) -> bool {
        self.select
            .get(pcr / 8)
            .is_some_and(|b| b & (1 << (pcr % 8)) != 0)
    }
}

impl Codec for TaggedPcrSelect {
    fn encode(&self, out: &mut Vec<u8>) {
        self.tag.encode(out);
        (self.select.len() as u8).encode(out);
        out.extend_from_slice(&self.select);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let tag = r.u32()?;
        let n = r.u8()? as usize;
        if n > PCR_SELECT_MAX {
            return Err(WireError::Value);
        }
        Ok(TaggedPcrSelect {
            tag,
            select: r.take(n)?.to_vec(),
        })
    }
}

/// TPMS_TAGGED_POLICY (Part 2 §10.8.4): a permanent handle and its
/// authorization policy as a TPMT_HA whose hash may be TPM_ALG_NULL (no
/// policy; then the digest is empty).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaggedPolicy {
    pub handle: u32,
    pub policy_hash: u16,
    pub digest: Vec<u8>,
}

impl Codec for TaggedPolicy {
    fn encode(&self, out: &mut Vec<u8>) {
        self.handle.encode(out);
        self.policy_hash.encode(out);
        out.extend_from_slice(&self.digest);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let handle = r.u32()?;
        let policy_hash = r.u16()?;
        let n = if policy_hash == alg::NULL {
            0
        } else {
            HashAlg::from_id(policy_hash)
                .ok_or(WireError::Hash)?
                .digest_size()
        };
        Ok(TaggedPolicy {
            handle,
            policy_hash,
            digest: r.take(n)?.to_vec(),
        })
    }
}

/// TPMS_ACT_DATA (Part 2 §10.8.5): an authenticated countdown timer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ActData {
    pub handle: u32,
    pub timeout: u32,
    pub attributes: u32,
}

impl Codec for ActData {
    fn encode(&self, out: &mut Vec<u8>) {
        self.handle.encode(out);
        self.timeout.encode(out);
        self.attributes.encode(out);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(ActData {
            handle: r.u32()?,
            timeout: r.u32()?,
            attributes: r.u32()?,
        })
    }
}

/// TPMU_CAPABILITIES (Part 2 §10.10.1), each member with the TPM_CAP that
/// selects it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Capabilities {
    /// TPM_CAP_ALGS: TPML_ALG_PROPERTY.
    Algorithms(Vec<AlgProperty>),
    /// TPM_CAP_HANDLES: TPML_HANDLE.
    Handles(Vec<u32>),
    /// TPM_CAP_COMMANDS: TPML_CCA.
    Commands(Vec<CommandAttributes>),
    /// TPM_CAP_PP_COMMANDS: TPML_CC.
    PpCommands(Vec<u32>),
    /// TPM_CAP_AUDIT_COMMANDS: TPML_CC.
    AuditCommands(Vec<u32>),
    /// TPM_CAP_PCRS: TPML_PCR_SELECTION.
    Pcrs(PcrSelectionList),
    /// TPM_CAP_TPM_PROPERTIES: TPML_TAGGED_TPM_PROPERTY.
    TpmProperties(Vec<TaggedProperty>),
    /// TPM_CAP_PCR_PROPERTIES: TPML_TAGGED_PCR_PROPERTY.
    PcrProperties(Vec<TaggedPcrSelect>),
    /// TPM_CAP_ECC_CURVES: TPML_ECC_CURVE.
    EccCurves(Vec<u16>),
    /// TPM_CAP_AUTH_POLICIES: TPML_TAGGED_POLICY.
    AuthPolicies(Vec<TaggedPolicy>),
    /// TPM_CAP_ACT: TPML_ACT_DATA.
    Act(Vec<ActData>),
}

impl Capabilities {
    /// The TPM_CAP selector of this member.
    pub fn capability(&self) -> u32 {
        match self {
            Capabilities::Algorithms(_) => cap::ALGS,
            Capabilities::Handles(_) => cap::HANDLES,
            Capabilities::Commands(_) => cap::COMMANDS,
            Capabilities::PpCommands(_) => cap::PP_COMMANDS,
            Capabilities::AuditCommands(_) => cap::AUDIT_COMMANDS,
            Capabilities::Pcrs(_) => cap::PCRS,
            Capabilities::TpmProperties(_) => cap::TPM_PROPERTIES,
            Capabilities::PcrProperties(_) => cap::PCR_PROPERTIES,
            Capabilities::EccCurves(_) => cap::ECC_CURVES,
            Capabilities::AuthPolicies(_) => cap::AUTH_POLICIES,
            Capabilities::Act(_) => cap::ACT,
        }
    }

    /// Number of entries in the list.
    pub fn len(&self) -> usize {
        match self {
            Capabilities::Algorithms(v) => v.len(),
            Capabilities::Handles(v)
            | Capabilities::PpCommands(v)
            | Capabilities::AuditCommands(v) => v.len(),
            Capabilities::Commands(v) => v.len(),
            Capabilities::Pcrs(v) => v.0.len(),
            Capabilities::TpmProperties(v) => v.len(),
            Capabilities::PcrProperties(v) => v.len(),
            Capabilities::EccCurves(v) => v.len(),
            Capabilities::AuthPolicies(v) => v.len(),
            Capabilities::Act(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Marshals the member without the selector.
    pub fn encode_details(&self, out: &mut Vec<u8>) {
        match self {
            Capabilities::Algorithms(v) => encode_list_u32(v, out),
            Capabilities::Handles(v)
            | Capabilities::PpCommands(v)
            | Capabilities::AuditCommands(v) => encode_list_u32(v, out),
            Capabilities::Commands(v) => encode_list_u32(v, out),
            Capabilities::Pcrs(v) => v.encode(out),
            Capabilities::TpmProperties(v) => encode_list_u32(v, out),
            Capabilities::PcrProperties(v) => encode_list_u32(v, out),
            Capabilities::EccCurves(v) => encode_list_u32(v, out),
            Capabilities::AuthPolicies(v) => encode_list_u32(v, out),
            Capabilities::Act(v) => encode_list_u32(v, out),
        }
    }

    /// Unmarshals the member selected by `capability`; an unknown selector
    /// is TPM_RC_SELECTOR.
    pub fn decode_details(capability: u32, r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(match capability {
            cap::ALGS => Capabilities::Algorithms(decode_list_u32(r, MAX_CAP_ALGS)?),
            cap::HANDLES => Capabilities::Handles(decode_list_u32(r, MAX_CAP_HANDLES)?),
            cap::COMMANDS => Capabilities::Commands(decode_list_u32(r, MAX_CAP_CC)?),
            cap::PP_COMMANDS => Capabilities::PpCommands(decode_list_u32(r, MAX_CAP_CC)?),
            cap::AUDIT_COMMANDS => Capabilities::AuditCommands(decode_list_u32(r, MAX_CAP_CC)?),
            cap::PCRS => Capabilities::Pcrs(PcrSelectionList::decode(r)?),
            cap::TPM_PROPERTIES => {
                Capabilities::TpmProperties(decode_list_u32(r, MAX_TPM_PROPERTIES)?)
            }
            cap::PCR_PROPERTIES => {
                Capabilities::PcrProperties(decode_list_u32(r, MAX_PCR_PROPERTIES)?)
            }
            cap::ECC_CURVES => Capabilities::EccCurves(decode_list_u32(r, MAX_ECC_CURVES)?),
            cap::AUTH_POLICIES => {
                Capabilities::AuthPolicies(decode_list_u32(r, MAX_TAGGED_POLICIES)?)
            }
            cap::ACT => Capabilities::Act(decode_list_u32(r, MAX_ACT_DATA)?),
            _ => return Err(WireError::Selector),
        })
    }
}

/// TPMS_CAPABILITY_DATA (Part 2 §10.10.2): the selector and its list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CapabilityData(pub Capabilities);

impl Codec for CapabilityData {
    fn encode(&self, out: &mut Vec<u8>) {
        self.0.capability().encode(out);
        self.0.encode_details(out);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let c = r.u32()?;
        Ok(CapabilityData(Capabilities::decode_details(c, r)?))
    }
}
