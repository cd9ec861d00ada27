//! Context management (Part 3 §28; Part 1 §30): TPM2_ContextSave,
//! TPM2_ContextLoad and TPM2_FlushContext for objects, sequences and
//! sessions.
//!
//! A saved context (TPMS_CONTEXT.contextBlob) is
//! `TPM2B_DIGEST(integrity) || AES-256-CFB(sequence || contents)`:
//!
//! * the key and IV are `KDFa(SHA-512, proof, "CONTEXT", sequence,
//!   savedHandle, 256 + 128)`, the proof being that of the context's
//!   hierarchy (the null proof for sessions, sequences and NULL-hierarchy
//!   objects, so they die with a TPM Reset);
//! * the integrity is `HMAC-SHA-512(proof, resetCount [|| clearCount] ||
//!   sequence || savedHandle || encrypted)`, clearCount only for stClear
//!   objects (savedHandle 0x80000002), so those die with a TPM Restart;
//! * the sequence is repeated inside the encryption as a fingerprint.
//!
//! Everything is checked before anything is decoded, and the decoded
//! contents are validated again as for a fresh load, so a hostile blob
//! (the CVE-2021-3623 class) is refused with a response code.
//!
//! Sessions follow the reference's context-ID scheme: a saved session
//! keeps its handle; its slot records the sequence it was saved with, so
//! only that blob (and only once) can load it back; the counter may not
//! lap the oldest saved session (TPM_RC_CONTEXT_GAP).

use zeroize::Zeroizing;

use crate::constants::rh;
use crate::crypto::kdf::kdfa;
use crate::crypto::sym::{self, SymAlg, SymMode};
use crate::rc::Rc;
use crate::types::handles::saved;
use crate::types::{Context, ContextData2b, Digest2b};
use crate::wire::{Codec, Reader, WireError};

use super::algorithms::CONTEXT_INTEGRITY_HASH;
use super::dispatch::Ctx;
use super::object::saved::{decode_session, encode_session};
use super::object::{hierarchy_enabled, hierarchy_proof, LoadedObject};
use super::objects::{Transient, MAX_LOADED_OBJECTS};
use super::session::{MAX_ACTIVE_SESSIONS, MAX_LOADED_SESSIONS};
use super::Tpm;

/// "CONTEXT" (Part 1 §30.2).
const CONTEXT_LABEL: &[u8] = b"CONTEXT\0";
/// The context cipher (TPM_PT_CONTEXT_SYM / _SYM_SIZE).
const CONTEXT_CIPHER: SymAlg = SymAlg::Aes256;
/// Session context slots compare the low 16 bits of sequences
/// (TPM_PT_CONTEXT_GAP_MAX = 0xFFFF).
const CONTEXT_SLOT_MASK: u64 = 0xFFFF;

/// Key and IV of a context blob.
fn protection(proof: &[u8], sequence: u64, handle: u32) -> Zeroizing<Vec<u8>> {
    let bits = u32::from(CONTEXT_CIPHER.key_bits()) + (sym::BLOCK_SIZE as u32) * 8;
    kdfa(
        CONTEXT_INTEGRITY_HASH,
        proof,
        CONTEXT_LABEL,
        &sequence.to_be_bytes(),
        &handle.to_be_bytes(),
        bits,
    )
}

fn integrity(tpm: &Tpm, proof: &[u8], sequence: u64, handle: u32, encrypted: &[u8]) -> Vec<u8> {
    let reset = tpm.perm.reset_count.to_be_bytes();
    let clear = tpm.vol.objects.reset.clear_count.to_be_bytes();
    let mut parts: Vec<&[u8]> = vec![&reset];
    if handle == saved::TRANSIENT_ST_CLEAR {
        parts.push(&clear);
    }
    let seq = sequence.to_be_bytes();
    let h = handle.to_be_bytes();
    parts.extend([&seq[..], &h[..], encrypted]);
    CONTEXT_INTEGRITY_HASH.hmac(proof, &parts)
}

/// Builds the TPMS_CONTEXT for `contents`.
fn seal(
    tpm: &Tpm,
    sequence: u64,
    saved_handle: u32,
    hierarchy: u32,
    contents: &[u8],
) -> Result<Context, Rc> {
    let proof = Zeroizing::new(hierarchy_proof(tpm, hierarchy).ok_or(Rc::FAILURE)?.to_vec());
    let kiv = protection(&proof, sequence, saved_handle);
    let (key, iv) = kiv.split_at(CONTEXT_CIPHER.key_bytes());
    let mut enc = Zeroizing::new(Vec::with_capacity(contents.len() + 8));
    enc.extend_from_slice(&sequence.to_be_bytes());
    enc.extend_from_slice(contents);
    let mut iv = iv.to_vec();
    sym::encrypt(CONTEXT_CIPHER, SymMode::Cfb, key, &mut iv, &mut enc).map_err(|_| Rc::FAILURE)?;
    let mac = integrity(tpm, &proof, sequence, saved_handle, &enc);
    let mut blob = Vec::with_capacity(enc.len() + mac.len() + 2);
    (mac.len() as u16).encode(&mut blob);
    blob.extend_from_slice(&mac);
    blob.extend_from_slice(&enc);
    Ok(Context {
        sequence,
        saved_handle,
        hierarchy,
        blob: ContextData2b::new(blob).map_err(|_| Rc::FAILURE)?,
    })
}

/// Checks and decrypts a TPMS_CONTEXT's blob; returns the contents after
/// the fingerprint. Errors are numbered for parameter 1.
fn open(tpm: &Tpm, c: &Context) -> Result<Zeroizing<Vec<u8>>, Rc> {
    let mut r = Reader::new(c.blob.as_slice());
    let mac = Digest2b::decode(&mut r).map_err(|e| e.rc().param(1))?;
    if mac.len() != CONTEXT_INTEGRITY_HASH.digest_size() {
        return Err(Rc::SIZE.param(1));
    }
    let enc = r.rest();
    if enc.len() < 8 {
        return Err(Rc::SIZE.param(1));
    }
    let proof = Zeroizing::new(
        hierarchy_proof(tpm, c.hierarchy)
            .ok_or(Rc::VALUE.param(1))?
            .to_vec(),
    );
    let expected = integrity(tpm, &proof, c.sequence, c.saved_handle, enc);
    if !bool::from(subtle::ConstantTimeEq::ct_eq(
        expected.as_slice(),
        mac.as_slice(),
    )) {
        return Err(Rc::INTEGRITY.param(1));
    }
    let kiv = protection(&proof, c.sequence, c.saved_handle);
    let (key, iv) = kiv.split_at(CONTEXT_CIPHER.key_bytes());
    let mut data = Zeroizing::new(enc.to_vec());
    let mut iv = iv.to_vec();
    sym::decrypt(CONTEXT_CIPHER, SymMode::Cfb, key, &mut iv, &mut data).map_err(|_| Rc::FAILURE)?;
    // The fingerprint can only differ if the proof was compromised: the
    // reference enters failure mode; we refuse the blob.
    if data.get(..8) != Some(&c.sequence.to_be_bytes()[..]) {
        return Err(Rc::INTEGRITY.param(1));
    }
    Ok(Zeroizing::new(data[8..].to_vec()))
}

/// TPM2_ContextSave (Part 3 §28.2). Handle: saveHandle (TPMI_DH_CONTEXT).
pub(crate) fn context_save(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    let handle = ctx.handle(0);
    ctx.done()?;
    let context = match rh::handle_type(handle) {
        rh::HT_TRANSIENT => save_transient(tpm, handle)?,
        _ => save_session(tpm, handle)?,
    };
    ctx.write(&context);
    Ok(())
}

fn next_object_context_id(tpm: &mut Tpm) -> Result<u64, Rc> {
    let r = &mut tpm.vol.objects.reset;
    r.object_context_id = r.object_context_id.checked_add(1).ok_or(Rc::FAILURE)?;
    Ok(r.object_context_id)
}

fn save_transient(tpm: &mut Tpm, handle: u32) -> Result<Context, Rc> {
    match tpm.transient(handle) {
        Some(Transient::Object(o)) => {
            let saved_handle = if o.flags.st_clear {
                saved::TRANSIENT_ST_CLEAR
            } else {
                saved::TRANSIENT
            };
            let hierarchy = o.hierarchy;
            let contents = o.to_bytes();
            let seq = next_object_context_id(tpm)?;
            seal(tpm, seq, saved_handle, hierarchy, &contents)
        }
        Some(Transient::Sequence(s)) => {
            // Hash state cannot be exported: a copy of the sequence stays in
            // TPM memory and the blob names it by its sequence number.
            let copy = (**s).clone();
            let seq = next_object_context_id(tpm)?;
            let c = seal(tpm, seq, saved::SEQUENCE, rh::NULL, &[])?;
            let kept = &mut tpm.vol.objects.saved_sequences;
            while kept.len() >= super::object::MAX_SAVED_SEQUENCES {
                kept.pop_first();
            }
            kept.insert(seq, copy);
            Ok(c)
        }
        #[allow(unreachable_patterns)] // Future transient kinds.
        _ => Err(Rc::TYPE.handle(1)),
    }
}

/// The context-array value of a saved session (its sequence's low bits).
fn slot_value(seq: u64) -> u64 {
    seq & CONTEXT_SLOT_MASK
}

/// The saved session whose sequence is the oldest, if any.
fn oldest_saved(tpm: &Tpm) -> Option<(u32, u64)> {
    tpm.vol
        .objects
        .reset
        .saved_sessions
        .iter()
        .min_by_key(|(_, &seq)| seq)
        .map(|(&i, &seq)| (i, seq))
}

/// Whether assigning the current counter would make a saved context
/// ambiguous (the counter has lapped the oldest saved session).
fn gap_is_max(tpm: &Tpm) -> bool {
    let counter = tpm.vol.objects.reset.context_counter;
    oldest_saved(tpm).is_some_and(|(_, seq)| slot_value(seq) == slot_value(counter))
}

fn save_session(tpm: &mut Tpm, handle: u32) -> Result<Context, Rc> {
    let session = tpm.session(handle).ok_or(Rc(0x910))?;
    if gap_is_max(tpm) {
        return Err(Rc::CONTEXT_GAP);
    }
    let contents = encode_session(session);
    let r = &mut tpm.vol.objects.reset;
    let seq = r.context_counter;
    let next = seq.checked_add(1).ok_or(Rc::TOO_MANY_CONTEXTS)?;
    // Low bits 0..=MAX_LOADED_SESSIONS are reserved for loaded sessions.
    r.context_counter = if slot_value(next) == 0 {
        next + MAX_LOADED_SESSIONS as u64 + 1
    } else {
        next
    };
    let c = seal(tpm, seq, handle, rh::NULL, &contents)?;
    tpm.vol
        .objects
        .reset
        .saved_sessions
        .insert(handle & 0x00FF_FFFF, seq);
    tpm.flush_session(handle);
    Ok(c)
}

/// TPM2_ContextLoad (Part 3 §28.3). Parameter: context (1).
pub(crate) fn context_load(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    let context: Context = ctx.read()?;
    ctx.done()?;
    let contents = open(tpm, &context)?;
    let handle = match context.saved_handle {
        saved::TRANSIENT | saved::TRANSIENT_ST_CLEAR => {
            if !hierarchy_enabled(tpm, context.hierarchy) {
                return Err(Rc::HIERARCHY.param(1));
            }
            let o = LoadedObject::from_bytes(&contents).map_err(|_| Rc::INTEGRITY.param(1))?;
            if o.hierarchy != context.hierarchy
                || o.flags.st_clear != (context.saved_handle == saved::TRANSIENT_ST_CLEAR)
            {
                return Err(Rc::INTEGRITY.param(1));
            }
            if tpm.vol.transients.len() >= MAX_LOADED_OBJECTS {
                return Err(Rc::OBJECT_MEMORY);
            }
            tpm.load_transient(Transient::Object(Box::new(o)))?
        }
        saved::SEQUENCE => {
            if !contents.is_empty() || context.hierarchy != rh::NULL {
                return Err(Rc::INTEGRITY.param(1));
            }
            if tpm.vol.transients.len() >= MAX_LOADED_OBJECTS {
                return Err(Rc::OBJECT_MEMORY);
            }
            let s = tpm
                .vol
                .objects
                .saved_sequences
                .get(&context.sequence)
                .cloned()
                .ok_or(Rc::HANDLE.param(1))?;
            tpm.load_transient(Transient::Sequence(Box::new(s)))?
        }
        h => load_session(tpm, h, &context, &contents)?,
    };
    ctx.out_handle = Some(handle);
    Ok(())
}

fn load_session(tpm: &mut Tpm, handle: u32, c: &Context, contents: &[u8]) -> Result<u32, Rc> {
    let index = handle & 0x00FF_FFFF;
    let counter = tpm.vol.objects.reset.context_counter;
    let valid = (index as usize) < MAX_ACTIVE_SESSIONS
        && tpm.vol.objects.reset.saved_sessions.get(&index) == Some(&c.sequence)
        && c.sequence <= counter
        && c.hierarchy == rh::NULL;
    if !valid {
        return Err(Rc::HANDLE.param(1));
    }
    let session = decode_session(contents).map_err(|_| Rc::INTEGRITY.param(1))?;
    let kind_ok = match session.kind {
        super::session::SessionKind::Hmac => rh::handle_type(handle) == rh::HT_HMAC_SESSION,
        _ => rh::handle_type(handle) == rh::HT_POLICY_SESSION,
    };
    if !kind_ok {
        return Err(Rc::INTEGRITY.param(1));
    }
    let loaded = tpm.vol.sessions.len();
    if loaded >= MAX_LOADED_SESSIONS {
        return Err(Rc::SESSION_MEMORY);
    }
    // With one slot left and the gap at its maximum, only the oldest
    // saved session may come back (it is what frees the gap).
    if loaded + 1 == MAX_LOADED_SESSIONS
        && gap_is_max(tpm)
        && oldest_saved(tpm).map(|(i, _)| i) != Some(index)
    {
        return Err(Rc::CONTEXT_GAP);
    }
    tpm.vol.objects.reset.saved_sessions.remove(&index);
    tpm.vol.sessions.insert(handle, session);
    Ok(handle)
}

/// For TPM2_StartAuthSession (reference ContextIdSessionCreate): a new
/// session may not take the last free slot while the gap is at its
/// maximum, else the oldest saved context could never be loaded again.
pub(crate) fn check_new_session_gap(tpm: &Tpm) -> Result<(), Rc> {
    if tpm.vol.sessions.len() + 1 == MAX_LOADED_SESSIONS && gap_is_max(tpm) {
        return Err(Rc::CONTEXT_GAP);
    }
    Ok(())
}

/// Whether session slot `index` belongs to a saved session (its handle is
/// still in use).
pub(crate) fn is_saved_session_slot(tpm: &Tpm, index: u32) -> bool {
    tpm.vol.objects.reset.saved_sessions.contains_key(&index)
}

/// Saved session handles for TPM_CAP_HANDLES (TPM_HT_SAVED_SESSION): the
/// reference reports them in the HMAC session range.
pub(crate) fn saved_session_handles(tpm: &Tpm) -> Vec<u32> {
    tpm.vol
        .objects
        .reset
        .saved_sessions
        .keys()
        .map(|i| rh::HMAC_SESSION_FIRST + i)
        .collect()
}

/// TPM2_FlushContext (Part 3 §28.4): the handle is a parameter
/// (TPMI_DH_CONTEXT), so errors are numbered as parameter 1: outside the
/// implemented ranges TPM_RC_VALUE, nothing there TPM_RC_HANDLE. A saved
/// session can be flushed too.
pub(crate) fn flush_context(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    let handle: u32 = ctx.read_with(|r| {
        let h = r.u32()?;
        let i = (h & 0x00FF_FFFF) as usize;
        let ok = match rh::handle_type(h) {
            rh::HT_HMAC_SESSION | rh::HT_POLICY_SESSION => i < MAX_ACTIVE_SESSIONS,
            rh::HT_TRANSIENT => i < MAX_LOADED_OBJECTS,
            _ => false,
        };
        if ok {
            Ok(h)
        } else {
            Err(WireError::Value)
        }
    })?;
    ctx.done()?;
    match rh::handle_type(handle) {
        rh::HT_TRANSIENT => tpm
            .flush_transient(handle)
            .map(|_| ())
            .ok_or(Rc::HANDLE.param(1)),
        _ => {
            if tpm.flush_session(handle).is_some() {
                if tpm.vol.exclusive_audit == Some(handle) {
                    tpm.vol.exclusive_audit = None;
                }
                return Ok(());
            }
            let index = handle & 0x00FF_FFFF;
            if tpm
                .vol
                .objects
                .reset
                .saved_sessions
                .remove(&index)
                .is_some()
            {
                if tpm
                    .vol
                    .exclusive_audit
                    .is_some_and(|h| h & 0x00FF_FFFF == index)
                {
                    tpm.vol.exclusive_audit = None;
                }
                Ok(())
            } else {
                Err(Rc::HANDLE.param(1))
            }
        }
    }
}

/// Sessions that are loaded or saved (TPM_PT_HR_ACTIVE).
pub(crate) fn active_sessions(tpm: &Tpm) -> usize {
    tpm.vol.sessions.len() + tpm.vol.objects.reset.saved_sessions.len()
}
