//! Where objects and saved-context bookkeeping live between commands.
//!
//! * [`ObjectsPermanent`] (in the permanent state blob): persistent objects
//!   (TPM2_EvictControl, Part 3 §28.5) and, after TPM2_Shutdown(STATE), the
//!   reset-scoped data below, as the reference keeps them in NV.
//! * [`ObjectsVolatile`]: the null hierarchy seed and the context counters
//!   (the reference's STATE_RESET data `gr.nullSeed`, `gr.contextCounter`,
//!   `gr.objectContextID`, `gr.contextArray`, `gr.clearCount`; Part 1
//!   §30), and sequence contexts saved by this TPM.
//!
//! A TPM Reset starts the reset-scoped data afresh; a TPM Restart or
//! Resume restores what Shutdown(STATE) saved (Part 1 §12.2.3).

use std::collections::BTreeMap;

use zeroize::Zeroizing;

use crate::wire::{Codec, Reader, WireError};

use super::super::sequence::SequenceObject;
use super::loaded::LoadedObject;

/// Persistent objects this TPM can hold (TPM_PT_HR_PERSISTENT_AVAIL at
/// manufacture); must match capability.rs `limits::PERSISTENT_MAX`.
pub(crate) const MAX_PERSISTENT: usize = 64;

/// How many sequence contexts are kept for TPM2_ContextLoad (sequence
/// state cannot be exported, so saved sequences stay in TPM memory; the
/// oldest is dropped beyond this).
pub(crate) const MAX_SAVED_SEQUENCES: usize = 8;

/// The reset-scoped object and session bookkeeping.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct ObjectsReset {
    /// The NULL hierarchy's primary seed, new at every TPM Reset.
    pub null_seed: Zeroizing<Vec<u8>>,
    /// Next session context sequence number (gr.contextCounter).
    pub context_counter: u64,
    /// Last object context sequence number (gr.objectContextID).
    pub object_context_id: u64,
    /// Incremented at TPM Restart and Reset (gr.clearCount): binds stClear
    /// object contexts to one Startup(CLEAR) cycle.
    pub clear_count: u32,
    /// Saved sessions: slot index (handle & 0xFFFFFF) → context sequence.
    pub saved_sessions: BTreeMap<u32, u64>,
}

impl std::fmt::Debug for ObjectsReset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectsReset")
            .field("context_counter", &self.context_counter)
            .field("object_context_id", &self.object_context_id)
            .field("clear_count", &self.clear_count)
            .field("saved_sessions", &self.saved_sessions)
            .finish_non_exhaustive()
    }
}

/// First session context sequence number after a TPM Reset: the values
/// up to MAX_LOADED_SESSIONS mark loaded sessions in the reference's
/// context array, so counters start above them.
pub(crate) const FIRST_CONTEXT_COUNT: u64 = super::super::session::MAX_LOADED_SESSIONS as u64 + 1;

impl Default for ObjectsReset {
    fn default() -> Self {
        ObjectsReset {
            null_seed: Zeroizing::new(Vec::new()),
            context_counter: FIRST_CONTEXT_COUNT,
            object_context_id: 0,
            clear_count: 0,
            saved_sessions: BTreeMap::new(),
        }
    }
}

impl ObjectsReset {
    fn encode(&self, out: &mut Vec<u8>) {
        (self.null_seed.len() as u16).encode(out);
        out.extend_from_slice(&self.null_seed);
        self.context_counter.encode(out);
        self.object_context_id.encode(out);
        self.clear_count.encode(out);
        (self.saved_sessions.len() as u32).encode(out);
        for (slot, seq) in &self.saved_sessions {
            slot.encode(out);
            seq.encode(out);
        }
    }

    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let n = r.u16()? as usize;
        if n > 64 {
            return Err(WireError::Size);
        }
        let null_seed = Zeroizing::new(r.take(n)?.to_vec());
        let context_counter = r.u64()?;
        let object_context_id = r.u64()?;
        let clear_count = r.u32()?;
        let count = r.u32()? as usize;
        if count > super::super::session::MAX_ACTIVE_SESSIONS {
            return Err(WireError::Count);
        }
        let mut saved_sessions = BTreeMap::new();
        for _ in 0..count {
            let slot = r.u32()?;
            let seq = r.u64()?;
            if slot as usize >= super::super::session::MAX_ACTIVE_SESSIONS
                || seq >= context_counter
                || saved_sessions.insert(slot, seq).is_some()
            {
                return Err(WireError::Value);
            }
        }
        Ok(ObjectsReset {
            null_seed,
            context_counter,
            object_context_id,
            clear_count,
            saved_sessions,
        })
    }
}

/// The objects part of the permanent state.
#[derive(Clone, Debug, Default)]
pub(crate) struct ObjectsPermanent {
    /// Persistent objects by handle (TPM_HT_PERSISTENT).
    pub persistent: BTreeMap<u32, LoadedObject>,
    /// Reset-scoped data saved by TPM2_Shutdown(STATE).
    pub saved: Option<ObjectsReset>,
}

impl ObjectsPermanent {
    /// The state blob fields: (`persistent_tag`, persistent objects) when
    /// any exist, (`saved_tag`, saved reset data) after Shutdown(STATE).
    pub fn blob_fields(&self, persistent_tag: u16, saved_tag: u16) -> Vec<(u16, Vec<u8>)> {
        let mut v = Vec::new();
        if !self.persistent.is_empty() {
            let mut b = Vec::new();
            (self.persistent.len() as u32).encode(&mut b);
            for (h, o) in &self.persistent {
                h.encode(&mut b);
                let bytes = o.to_bytes();
                (bytes.len() as u32).encode(&mut b);
                b.extend_from_slice(&bytes);
            }
            v.push((persistent_tag, b));
        }
        if let Some(s) = &self.saved {
            let mut b = Vec::new();
            s.encode(&mut b);
            v.push((saved_tag, b));
        }
        v
    }

    /// Rebuilds from the blob fields (either may be absent). Every object
    /// is re-parsed and its key rebuilt; any inconsistency refuses the
    /// whole field (with its tag), so the state is never loaded half-way.
    pub fn from_fields(
        persistent: Option<(u16, &[u8])>,
        saved: Option<(u16, &[u8])>,
    ) -> Result<Self, (u16, WireError)> {
        let mut out = ObjectsPermanent::default();
        if let Some((tag, bytes)) = persistent {
            let e = |err| (tag, err);
            let mut r = Reader::new(bytes);
            let n = r.u32().map_err(e)? as usize;
            if n > MAX_PERSISTENT {
                return Err((tag, WireError::Count));
            }
            for _ in 0..n {
                let h = r.u32().map_err(e)?;
                if crate::constants::rh::handle_type(h) != crate::constants::rh::HT_PERSISTENT {
                    return Err((tag, WireError::Handle));
                }
                let len = r.u32().map_err(e)? as usize;
                let o = LoadedObject::from_bytes(r.take(len).map_err(e)?).map_err(e)?;
                if out.persistent.insert(h, o).is_some() {
                    return Err((tag, WireError::Value));
                }
            }
            if !r.is_empty() {
                return Err((tag, WireError::Size));
            }
        }
        if let Some((tag, bytes)) = saved {
            let mut r = Reader::new(bytes);
            let s = ObjectsReset::decode(&mut r).map_err(|e| (tag, e))?;
            if !r.is_empty() {
                return Err((tag, WireError::Size));
            }
            out.saved = Some(s);
        }
        Ok(out)
    }
}

/// The objects part of the volatile state.
#[derive(Default)]
pub(crate) struct ObjectsVolatile {
    pub reset: ObjectsReset,
    /// Sequence objects saved with TPM2_ContextSave, by context sequence.
    pub saved_sequences: BTreeMap<u64, SequenceObject>,
    /// RSA primaries derived recently (CreatePrimary's prime search).
    pub primaries: super::primary_cache::PrimaryCache,
}
