use crate::crypto::HashAlg;
use crate::wire::{decode_list_u32, encode_list_u32, Codec, Reader, WireError};

use super::HASH_COUNT;

/// PCRs per bank (PC Client profile).
pub const IMPLEMENTATION_PCR: usize = 24;
/// Smallest sizeofSelect a TPMS_PCR_SELECTION may carry (TPM_PT_PCR_SELECT_MIN).
pub const PCR_SELECT_MIN: usize = IMPLEMENTATION_PCR.div_ceil(8);
/// Largest sizeofSelect this TPM accepts.
pub const PCR_SELECT_MAX: usize = IMPLEMENTATION_PCR.div_ceil(8);

/// TPMS_PCR_SELECTION (Part 2 §10.6.2): one bank and a bitmap of its PCRs,
/// PCR n being bit (n mod 8) of octet (n / 8).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PcrSelection {
    pub hash: HashAlg,
    pub select: [u8; PCR_SELECT_MAX],
}

impl PcrSelection {
    pub fn none(hash: HashAlg) -> Self {
        PcrSelection {
            hash,
            select: [0; PCR_SELECT_MAX],
        }
    }

    pub fn all(hash: HashAlg) -> Self {
        PcrSelection {
            hash,
            select: [0xff; PCR_SELECT_MAX],
        }
    }

    pub fn with(hash: HashAlg, pcrs: &[usize]) -> Self {
        let mut s = PcrSelection::none(hash);
        for &p in pcrs {
            s.set(p, true);
        }
        s
    }

    pub fn is_selected(&self, pcr: usize) -> bool {
        self.select
            .get(pcr / 8)
            .is_some_and(|b| b & (1 << (pcr % 8)) != 0)
    }

    pub fn set(&mut self, pcr: usize, on: bool) {
        if let Some(b) = self.select.get_mut(pcr / 8) {
            if on {
                *b |= 1 << (pcr % 8);
            } else {
                *b &= !(1 << (pcr % 8));
            }
        }
    }

    /// Selected PCR indices, ascending.
    pub fn indices(&self) -> impl Iterator<Item = usize> + '_ {
        (0..IMPLEMENTATION_PCR).filter(|&i| self.is_selected(i))
    }

    pub fn is_empty(&self) -> bool {
        self.select.iter().all(|&b| b == 0)
    }
}

impl Codec for PcrSelection {
    fn encode(&self, out: &mut Vec<u8>) {
        self.hash.id().encode(out);
        out.push(PCR_SELECT_MAX as u8);
        out.extend_from_slice(&self.select);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let hash = HashAlg::from_id(r.u16()?).ok_or(WireError::Hash)?;
        let size = r.u8()? as usize;
        if !(PCR_SELECT_MIN..=PCR_SELECT_MAX).contains(&size) {
            return Err(WireError::Value);
        }
        let mut select = [0u8; PCR_SELECT_MAX];
        select.copy_from_slice(r.take(size)?);
        Ok(PcrSelection { hash, select })
    }
}

/// TPML_PCR_SELECTION (Part 2 §10.9.7).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PcrSelectionList(pub Vec<PcrSelection>);

impl Codec for PcrSelectionList {
    fn encode(&self, out: &mut Vec<u8>) {
        encode_list_u32(&self.0, out);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(PcrSelectionList(decode_list_u32(r, HASH_COUNT)?))
    }
}
