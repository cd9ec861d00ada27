//! TPMS_CREATION_DATA and TPM2B_CREATION_DATA (Part 2 §15): the
//! circumstances of an object's creation, hashed into the creation ticket
//! and later attested by TPM2_CertifyCreation.

use crate::wire::{Codec, Reader, WireError};

use super::sized::{decode_sized, encode_sized};
use super::{Data2b, Digest2b, Name, PcrSelectionList};

/// TPMS_CREATION_DATA (Part 2 §15.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreationData {
    /// The PCRs the caller asked to record (creationPCR).
    pub pcr_select: PcrSelectionList,
    /// Digest of the selected PCRs with the object's nameAlg.
    pub pcr_digest: Digest2b,
    /// TPMA_LOCALITY of the creating command.
    pub locality: u8,
    /// The parent's nameAlg (TPM_ALG_NULL for a primary object).
    pub parent_name_alg: u16,
    pub parent_name: Name,
    pub parent_qualified_name: Name,
    /// The caller's outsideInfo.
    pub outside_info: Data2b,
}

impl Codec for CreationData {
    fn encode(&self, out: &mut Vec<u8>) {
        self.pcr_select.encode(out);
        self.pcr_digest.encode(out);
        self.locality.encode(out);
        self.parent_name_alg.encode(out);
        self.parent_name.encode(out);
        self.parent_qualified_name.encode(out);
        self.outside_info.encode(out);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(CreationData {
            pcr_select: PcrSelectionList::decode(r)?,
            pcr_digest: Digest2b::decode(r)?,
            locality: r.u8()?,
            parent_name_alg: r.u16()?,
            parent_name: Name::decode(r)?,
            parent_qualified_name: Name::decode(r)?,
            outside_info: Data2b::decode(r)?,
        })
    }
}

/// TPM2B_CREATION_DATA (Part 2 §15.2): size 0, or a size the structure
/// does not fill exactly, is TPM_RC_SIZE.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreationData2b(pub CreationData);

impl Codec for CreationData2b {
    fn encode(&self, out: &mut Vec<u8>) {
        encode_sized(out, |out| self.0.encode(out));
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        decode_sized(r, CreationData::decode).map(CreationData2b)
    }
}
