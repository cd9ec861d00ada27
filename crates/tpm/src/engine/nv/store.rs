//! The NV index store: every defined index with its public area, authValue
//! and data, the NV and RAM space they take, and their form in the state
//! blob.
//!
//! Orderly indices (TPMA_NV_ORDERLY, Part 1 §37.2.2) are kept twice, as the
//! reference implementation keeps them: the live copy that commands read
//! and write (its "RAM", reference `s_indexOrderlyRam`), and the copy last
//! committed to NV ([`Saved`]). The live copy is committed at
//! TPM2_Shutdown, when an orderly index is defined or deleted, on the first
//! write of an orderly counter and whenever such a counter's low
//! [`MAX_ORDERLY_COUNT`] bits roll over (reference UT_ORDERLY updates); at
//! every TPM2_Startup the live copy is restored from the committed one, so
//! a power loss loses exactly what a real TPM would lose. Both copies live
//! in [`super::super::PermanentState`] and so in the state blob; writing
//! the live copy alone never marks the state dirty.

use std::collections::BTreeMap;

use zeroize::Zeroizing;

use crate::constants::rh;
use crate::crypto::HashAlg;
use crate::types::{NvAttributes, NvPublic, NvType, MAX_NV_INDEX_SIZE};
use crate::wire::{Codec, Reader, Tpm2bBytes, WireError};

use super::super::capability::limits::NV_INDICES_MAX;
use super::super::state::Secret;

/// NV memory available to NV indices, in bytes (this TPM's NV_MEMORY_SIZE
/// for indices). Each index takes [`INDEX_OVERHEAD`] plus, unless it is
/// orderly, its data size (reference NvDefineIndex).
pub(crate) const NV_MEMORY_SIZE: usize = 64 * 1024;
/// NV bytes an index takes besides its data: its TPMS_NV_PUBLIC and
/// authValue (about sizeof(NV_INDEX) in the reference code).
pub(crate) const INDEX_OVERHEAD: usize = 160;
/// RAM for the data of orderly indices (reference RAM_INDEX_SPACE, the
/// same 512 bytes libtpms has).
pub(crate) const RAM_INDEX_SPACE: usize = 512;
/// Each orderly index's RAM entry header: size, handle and attributes
/// (reference NV_RAM_HEADER).
pub(crate) const RAM_HEADER: usize = 12;
/// The low bits of an orderly counter that may be lost in a power failure
/// (reference MAX_ORDERLY_COUNT, ORDERLY_BITS = 8).
pub(crate) const MAX_ORDERLY_COUNT: u64 = 0xFF;
/// The most indices the store holds (TPM_PT_NV_COUNTERS_AVAIL is bounded
/// by it too).
pub(crate) const MAX_INDICES: usize = NV_INDICES_MAX as usize;
/// TPMA_NV bits that change after definition (Part 2 §13.4): everything
/// else in a public area is fixed at TPM2_NV_DefineSpace.
pub(crate) const RUNTIME_BITS: u32 =
    NvAttributes::WRITTEN | NvAttributes::WRITELOCKED | NvAttributes::READLOCKED;

/// The committed (NV) copy of an orderly index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Saved {
    pub attributes: NvAttributes,
    pub data: Vec<u8>,
}

/// One defined NV index.
pub(crate) struct NvIndex {
    /// The public area, with the live attributes (WRITTEN and the locks).
    pub public: NvPublic,
    /// The authValue, trailing zeros removed as TPM2_NV_DefineSpace and
    /// TPM2_NV_ChangeAuth store it.
    pub auth: Secret,
    /// The live data, `dataSize` octets (never readable before the first
    /// write, which clears it).
    pub data: Vec<u8>,
    /// The committed copy of an orderly index; `None` for other indices,
    /// whose live copy is the NV copy.
    pub saved: Option<Saved>,
}

impl NvIndex {
    pub fn attrs(&self) -> NvAttributes {
        self.public.attributes
    }

    pub fn has(&self, bits: u32) -> bool {
        self.public.attributes.contains(bits)
    }

    pub fn nv_type(&self) -> Option<NvType> {
        self.public.attributes.nv_type()
    }

    pub fn is_orderly(&self) -> bool {
        self.has(NvAttributes::ORDERLY)
    }

    /// The nameAlg (validated when the index was defined or loaded).
    pub fn name_alg(&self) -> HashAlg {
        HashAlg::from_id(self.public.name_alg).unwrap_or(HashAlg::Sha256)
    }

    /// The Name: nameAlg || H_nameAlg(TPMS_NV_PUBLIC) (Part 1 §16),
    /// computed over the live attributes as NvGetIndexName does.
    pub fn name(&self) -> Vec<u8> {
        let h = self.name_alg();
        let mut v = h.id().to_be_bytes().to_vec();
        v.extend_from_slice(&h.digest(&[&self.public.to_bytes()]));
        v
    }

    /// The first eight data octets as a big-endian integer: the value of a
    /// counter or bit field, or the TPMS_NV_PIN_COUNTER_PARAMETERS of a PIN
    /// index (reference NvGetUINT64Data).
    pub fn u64_value(&self) -> u64 {
        let mut b = [0u8; 8];
        if let Some(d) = self.data.get(..8) {
            b.copy_from_slice(d);
        }
        u64::from_be_bytes(b)
    }

    /// NV bytes taken (reference NvDefineIndex: orderly data is in RAM).
    fn nv_bytes(&self) -> usize {
        INDEX_OVERHEAD
            + if self.is_orderly() {
                0
            } else {
                self.data.len()
            }
    }

    /// RAM bytes taken by an orderly index's data.
    fn ram_bytes(&self) -> usize {
        if self.is_orderly() {
            RAM_HEADER + self.data.len()
        } else {
            0
        }
    }
}

/// The NV size rules a public area must satisfy whatever its state
/// (TPM2_NV_DefineSpace, Part 3 §31.3.1): a defined type, dataSize within
/// MAX_NV_INDEX_SIZE for ordinary indices, the nameAlg digest size for
/// extend indices and 8 octets for the others. Used to vet state blobs.
fn shape_ok(p: &NvPublic) -> bool {
    let Some(h) = HashAlg::from_id(p.name_alg) else {
        return false;
    };
    let size = usize::from(p.data_size);
    let size_ok = match p.attributes.nv_type() {
        Some(NvType::Ordinary) => size <= MAX_NV_INDEX_SIZE,
        Some(NvType::Extend) => size == h.digest_size(),
        Some(_) => size == 8,
        None => false,
    };
    let policy_ok = p.auth_policy.is_empty() || p.auth_policy.len() == h.digest_size();
    size_ok
        && policy_ok
        && rh::handle_type(p.nv_index) == rh::HT_NV_INDEX
        && p.attributes.0 & NvAttributes::RESERVED == 0
}

/// Every defined NV index, and the highest value a deleted counter had.
#[derive(Default)]
pub(crate) struct NvStore {
    pub indices: BTreeMap<u32, NvIndex>,
    /// The largest count of any deleted counter index: a new counter starts
    /// above it, so deleting and redefining a counter cannot roll it back
    /// (Part 3 §31.8; reference s_maxCounter).
    pub max_counter: u64,
}

impl NvStore {
    pub fn get(&self, handle: u32) -> Option<&NvIndex> {
        self.indices.get(&handle)
    }

    pub fn get_mut(&mut self, handle: u32) -> Option<&mut NvIndex> {
        self.indices.get_mut(&handle)
    }

    fn nv_used(&self) -> usize {
        self.indices.values().map(NvIndex::nv_bytes).sum()
    }

    fn ram_used(&self) -> usize {
        self.indices.values().map(NvIndex::ram_bytes).sum()
    }

    /// Whether an index with public area `p` fits: a free slot, NV for its
    /// entry and, if orderly, RAM for its data (reference NvTestSpace and
    /// NvRamTestSpaceIndex).
    pub fn has_room_for(&self, p: &NvPublic) -> bool {
        let size = usize::from(p.data_size);
        let orderly = p.attributes.contains(NvAttributes::ORDERLY);
        let nv = INDEX_OVERHEAD + if orderly { 0 } else { size };
        let ram_ok = !orderly || self.ram_used() + RAM_HEADER + size <= RAM_INDEX_SPACE;
        self.indices.len() < MAX_INDICES && self.nv_used() + nv <= NV_MEMORY_SIZE && ram_ok
    }

    /// The number of counter indices (TPM_PT_NV_COUNTERS).
    pub fn counters(&self) -> usize {
        self.indices
            .values()
            .filter(|i| i.nv_type() == Some(NvType::Counter))
            .count()
    }

    /// How many more counters could be defined (TPM_PT_NV_COUNTERS_AVAIL):
    /// the smaller of what fits in NV and, as the reference
    /// NvCapGetCounterAvail estimates, in orderly RAM.
    pub fn counters_avail(&self) -> usize {
        let slots = MAX_INDICES.saturating_sub(self.indices.len());
        let nv = NV_MEMORY_SIZE.saturating_sub(self.nv_used()) / (INDEX_OVERHEAD + 8);
        let ram = RAM_INDEX_SPACE.saturating_sub(self.ram_used()) / (RAM_HEADER + 8);
        slots.min(nv).min(ram)
    }

    /// Commits the live copy of every orderly index (reference
    /// NvUpdateIndexOrderlyData). Returns whether anything changed.
    pub fn commit_orderly(&mut self) -> bool {
        let mut changed = false;
        for idx in self.indices.values_mut() {
            if let Some(saved) = idx.saved.as_mut() {
                if saved.attributes != idx.public.attributes || saved.data != idx.data {
                    saved.attributes = idx.public.attributes;
                    saved.data.clone_from(&idx.data);
                    changed = true;
                }
            }
        }
        changed
    }

    /// Restores the live copy of every orderly index from NV (reference
    /// NvEntityStartup reading s_indexOrderlyRam back).
    pub fn restore_orderly(&mut self) {
        for idx in self.indices.values_mut() {
            if let Some(saved) = &idx.saved {
                idx.public.attributes = saved.attributes;
                idx.data.clone_from(&saved.data);
            }
        }
    }

    /// The blob encoding: max_counter u64, count u32, then per index its
    /// TPMS_NV_PUBLIC, authValue (TPM2B), data (dataSize octets) and, for
    /// an orderly index, 1 || committed attributes || committed data (0
    /// otherwise).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.max_counter.encode(&mut out);
        (self.indices.len() as u32).encode(&mut out);
        for idx in self.indices.values() {
            idx.public.encode(&mut out);
            Tpm2bBytes::<64>(idx.auth.to_vec()).encode(&mut out);
            out.extend_from_slice(&idx.data);
            match &idx.saved {
                Some(s) => {
                    out.push(1);
                    s.attributes.encode(&mut out);
                    out.extend_from_slice(&s.data);
                }
                None => out.push(0),
            }
        }
        out
    }

    /// Decodes [`NvStore::to_bytes`], refusing anything a running TPM could
    /// not have produced: unknown types or algorithms, sizes that break the
    /// DefineSpace rules, duplicate or unordered handles, an orderly index
    /// without its committed copy (or the reverse), a committed copy whose
    /// fixed attributes differ, more indices or bytes than fit.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(bytes);
        let max_counter = r.u64()?;
        let n = r.u32()? as usize;
        if n > MAX_INDICES {
            return Err(WireError::Count);
        }
        let mut indices = BTreeMap::new();
        let mut last: Option<u32> = None;
        for _ in 0..n {
            let idx = decode_index(&mut r)?;
            let h = idx.public.nv_index;
            if last.is_some_and(|l| l >= h) {
                return Err(WireError::Value);
            }
            last = Some(h);
            indices.insert(h, idx);
        }
        if !r.is_empty() {
            return Err(WireError::Size);
        }
        let store = NvStore {
            indices,
            max_counter,
        };
        if store.nv_used() > NV_MEMORY_SIZE || store.ram_used() > RAM_INDEX_SPACE {
            return Err(WireError::Size);
        }
        Ok(store)
    }
}

fn decode_index(r: &mut Reader<'_>) -> Result<NvIndex, WireError> {
    let public = NvPublic::decode(r)?;
    if !shape_ok(&public) {
        return Err(WireError::Value);
    }
    let auth = Tpm2bBytes::<64>::decode(r)?;
    let name_size = HashAlg::from_id(public.name_alg).map_or(0, |h| h.digest_size());
    if auth.len() > name_size {
        return Err(WireError::Size);
    }
    let size = usize::from(public.data_size);
    let data = r.take(size)?.to_vec();
    let saved = match r.u8()? {
        0 => None,
        1 => {
            let attributes = NvAttributes::decode(r)?;
            if (attributes.0 ^ public.attributes.0) & !RUNTIME_BITS != 0 {
                return Err(WireError::Value);
            }
            Some(Saved {
                attributes,
                data: r.take(size)?.to_vec(),
            })
        }
        _ => return Err(WireError::Value),
    };
    if saved.is_some() != public.attributes.contains(NvAttributes::ORDERLY) {
        return Err(WireError::Value);
    }
    Ok(NvIndex {
        public,
        auth: Zeroizing::new(auth.as_slice().to_vec()),
        data,
        saved,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Digest2b;

    fn index(h: u32, attrs: u32, size: u16) -> NvIndex {
        let attributes = NvAttributes(attrs);
        NvIndex {
            public: NvPublic {
                nv_index: h,
                name_alg: crate::constants::alg::SHA256,
                attributes,
                auth_policy: Digest2b::empty(),
                data_size: size,
            },
            auth: Zeroizing::new(b"pw".to_vec()),
            data: vec![0x5A; usize::from(size)],
            saved: attributes.contains(NvAttributes::ORDERLY).then(|| Saved {
                attributes,
                data: vec![0; usize::from(size)],
            }),
        }
    }

    fn sample() -> NvStore {
        let mut s = NvStore {
            max_counter: 77,
            ..Default::default()
        };
        let rw = NvAttributes::OWNERREAD | NvAttributes::OWNERWRITE;
        s.indices.insert(
            0x0100_0001,
            index(0x0100_0001, rw | NvAttributes::WRITTEN, 33),
        );
        let counter = rw | (1 << 4) | NvAttributes::ORDERLY;
        s.indices
            .insert(0x0180_0002, index(0x0180_0002, counter, 8));
        s
    }

    #[test]
    fn round_trip() {
        let s = sample();
        let b = s.to_bytes();
        let t = NvStore::from_bytes(&b).expect("decodes");
        assert_eq!(t.max_counter, 77);
        assert_eq!(t.indices.len(), 2);
        assert_eq!(t.to_bytes(), b);
        let c = t.get(0x0180_0002).expect("counter");
        assert_eq!(c.saved.as_ref().map(|s| s.data.clone()), Some(vec![0; 8]));
        assert_eq!(c.data, vec![0x5A; 8]);
    }

    #[test]
    fn every_truncation_is_refused() {
        let b = sample().to_bytes();
        for n in 0..b.len() {
            assert!(NvStore::from_bytes(&b[..n]).is_err(), "truncated at {n}");
        }
    }

    #[test]
    fn inconsistent_indices_are_refused() {
        // A counter of 9 octets, an orderly index without its NV copy, a
        // committed copy whose fixed attributes differ.
        let mut s = sample();
        if let Some(i) = s.get_mut(0x0180_0002) {
            i.public.data_size = 9;
            i.data.push(0);
            if let Some(sv) = i.saved.as_mut() {
                sv.data.push(0);
            }
        }
        assert!(NvStore::from_bytes(&s.to_bytes()).is_err());
        let mut s = sample();
        if let Some(i) = s.get_mut(0x0180_0002) {
            i.saved = None;
        }
        assert!(NvStore::from_bytes(&s.to_bytes()).is_err());
        let mut s = sample();
        if let Some(sv) = s.get_mut(0x0180_0002).and_then(|i| i.saved.as_mut()) {
            sv.attributes = sv.attributes.with(NvAttributes::NO_DA, true);
        }
        assert!(NvStore::from_bytes(&s.to_bytes()).is_err());
    }

    #[test]
    fn space_accounting() {
        let mut s = NvStore::default();
        let orderly = NvAttributes::OWNERREAD | NvAttributes::OWNERWRITE | NvAttributes::ORDERLY;
        // Orderly data must fit in RAM_INDEX_SPACE with its header.
        let mut p = index(0x0100_0000, orderly, 500).public;
        assert!(s.has_room_for(&p));
        p.data_size = (RAM_INDEX_SPACE - RAM_HEADER + 1) as u16;
        assert!(!s.has_room_for(&p));
        s.indices
            .insert(0x0100_0000, index(0x0100_0000, orderly, 500));
        let small = index(0x0100_0001, orderly, 1).public;
        assert!(!s.has_room_for(&small));
        assert_eq!(s.counters_avail(), 0);
    }
}
