//! TPMS_CONTEXT (Part 2 §14.5): a saved object or session, as
//! TPM2_ContextSave returns and TPM2_ContextLoad takes back.
//!
//! The blob is opaque (encrypted and integrity-protected by the TPM that
//! saved it); only the clear fields are checked here, with the codes the
//! reference code gives: a savedHandle that is no TPMI_DH_SAVED value or a
//! hierarchy that is no TPMI_RH_HIERARCHY+ is TPM_RC_VALUE, a blob larger
//! than TPM2B_CONTEXT_DATA TPM_RC_SIZE.

use crate::wire::{Codec, Reader, WireError};

use super::handles::{check_hierarchy, check_saved};
use super::ContextData2b;

/// TPMS_CONTEXT.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Context {
    /// The context's sequence number (replay protection for sessions).
    pub sequence: u64,
    /// TPMI_DH_SAVED: the session handle, or 0x80000000 / 0x80000001 /
    /// 0x80000002 for a transient, sequence or stClear object.
    pub saved_handle: u32,
    /// TPMI_RH_HIERARCHY+: the hierarchy of a saved object.
    pub hierarchy: u32,
    pub blob: ContextData2b,
}

impl Codec for Context {
    fn encode(&self, out: &mut Vec<u8>) {
        self.sequence.encode(out);
        self.saved_handle.encode(out);
        self.hierarchy.encode(out);
        self.blob.encode(out);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(Context {
            sequence: r.u64()?,
            saved_handle: check_saved(r.u32()?)?,
            hierarchy: check_hierarchy(r.u32()?, true)?,
            blob: ContextData2b::decode(r)?,
        })
    }
}
