use crate::constants::st;
use crate::wire::{Codec, Reader, WireError};

use super::Digest2b;

/// TPMT_TK_HASHCHECK (Part 2 §10.7.6): proof that the TPM hashed data that
/// did not start with TPM_GENERATED_VALUE. A null ticket has hierarchy
/// TPM_RH_NULL and an empty digest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TkHashcheck {
    pub tag: u16,
    pub hierarchy: u32,
    pub digest: Digest2b,
}

impl TkHashcheck {
    pub fn null() -> Self {
        TkHashcheck {
            tag: st::HASHCHECK,
            hierarchy: crate::constants::rh::NULL,
            digest: Digest2b::empty(),
        }
    }
}

impl Codec for TkHashcheck {
    fn encode(&self, out: &mut Vec<u8>) {
        self.tag.encode(out);
        self.hierarchy.encode(out);
        self.digest.encode(out);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let tag = r.u16()?;
        if tag != st::HASHCHECK {
            return Err(WireError::Tag);
        }
        Ok(TkHashcheck {
            tag,
            hierarchy: r.u32()?,
            digest: Digest2b::decode(r)?,
        })
    }
}
