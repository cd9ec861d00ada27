//! Hash and event sequences (Part 3 §17): TPM2_HashSequenceStart,
//! TPM2_SequenceUpdate, TPM2_SequenceComplete and
//! TPM2_EventSequenceComplete, for data too large for one TPM2_Hash or
//! TPM2_PCR_Event.
//!
//! A sequence lives in a transient object slot (Part 1 §15.3) until it is
//! completed, flushed or the TPM is reset; its authValue protects every
//! use (USER role, checked by the common authorization code).

use zeroize::Zeroizing;

use crate::constants::rh;
use crate::crypto::{HashAlg, Hasher};
use crate::rc::Rc;
use crate::types::{Auth2b, DigestValues, Ha, MaxBuffer, TkHashcheck};

use super::dispatch::Ctx;
use super::hash_cmds::{
    digest2b, hashcheck_ticket, read_hash_alg_or_null, read_hierarchy_plus, ticket_is_safe,
};
use super::pcr::extend_pcr;
use super::{selftest, Tpm, Transient};

/// What a sequence computes.
#[derive(Clone)]
pub(crate) enum SequenceKind {
    /// A hash sequence (Part 3 §17.3, hashAlg not TPM_ALG_NULL).
    Hash {
        hasher: Box<Hasher>,
        /// Whether the first block of data allows a ticket (see
        /// [`ticket_is_safe`]); `None` until the first block arrives. As in
        /// the reference code only the first SequenceUpdate buffer (or the
        /// SequenceComplete buffer when there was no update) is examined,
        /// so an empty first update makes the result ticketless.
        ticket_safe: Option<bool>,
    },
    /// An event sequence (hashAlg TPM_ALG_NULL): the data is hashed with
    /// every implemented hash, in TPM_ALG_ID order.
    Event { hashers: Vec<Hasher> },
    /// An HMAC sequence (TPM2_HMAC_Start, Part 3 §17.2): completed by
    /// TPM2_SequenceComplete, never with a ticket.
    Hmac(Box<super::keyuse::HmacState>),
}

/// A sequence object. Clone: TPM2_ContextSave keeps a copy.
#[derive(Clone)]
pub(crate) struct SequenceObject {
    /// The authValue given to TPM2_HashSequenceStart, zeroized on drop.
    pub auth: Zeroizing<Vec<u8>>,
    pub kind: SequenceKind,
}

/// The sequence object `handle` refers to. The command framework already
/// checked that the handle is loaded; a loaded object that is not a
/// sequence is TPM_RC_MODE on handle `n`, as in libtpms (Part 3 §17.4:
/// "sequenceHandle does not reference a sequence object").
fn sequence_mut(tpm: &mut Tpm, handle: u32, n: u32) -> Result<&mut SequenceObject, Rc> {
    match tpm.transient_mut(handle) {
        Some(Transient::Sequence(s)) => Ok(s),
        #[allow(unreachable_patterns)] // Other object kinds arrive with keys.
        _ => Err(Rc::MODE.handle(n)),
    }
}

/// TPM2_HashSequenceStart (Part 3 §17.3).
pub(crate) fn hash_sequence_start(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    let auth: Auth2b = ctx.read()?;
    let alg = ctx.read_with(read_hash_alg_or_null)?;
    ctx.done()?;
    let kind = match alg {
        Some(a) => {
            selftest::ensure_tested(tpm, a.id())?;
            SequenceKind::Hash {
                hasher: Box::new(a.hasher()),
                ticket_safe: None,
            }
        }
        None => {
            for a in HashAlg::ALL {
                selftest::ensure_tested(tpm, a.id())?;
            }
            SequenceKind::Event {
                hashers: HashAlg::ALL.iter().map(|a| a.hasher()).collect(),
            }
        }
    };
    let seq = SequenceObject {
        auth: Zeroizing::new(auth.as_slice().to_vec()),
        kind,
    };
    // TPM_RC_OBJECT_MEMORY when every slot is taken.
    let handle = tpm.load_transient(Transient::Sequence(Box::new(seq)))?;
    ctx.out_handle = Some(handle);
    Ok(())
}

/// TPM2_SequenceUpdate (Part 3 §17.4).
pub(crate) fn sequence_update(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    let handle = ctx.handle(0);
    let buffer: MaxBuffer = ctx.read()?;
    ctx.done()?;
    let seq = sequence_mut(tpm, handle, 1)?;
    match &mut seq.kind {
        SequenceKind::Hash {
            hasher,
            ticket_safe,
        } => {
            if ticket_safe.is_none() {
                *ticket_safe = Some(ticket_is_safe(buffer.as_slice()));
            }
            hasher.update(buffer.as_slice());
        }
        SequenceKind::Event { hashers } => {
            for h in hashers {
                h.update(buffer.as_slice());
            }
        }
        SequenceKind::Hmac(state) => state.update(buffer.as_slice()),
    }
    Ok(())
}

/// TPM2_SequenceComplete (Part 3 §17.5): the digest, and a ticket when
/// the data is safe to sign and a hierarchy was named. The sequence is
/// flushed. An event sequence is TPM_RC_MODE (it needs
/// TPM2_EventSequenceComplete).
pub(crate) fn sequence_complete(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    let handle = ctx.handle(0);
    let buffer: MaxBuffer = ctx.read()?;
    let hierarchy = ctx.read_with(read_hierarchy_plus)?;
    ctx.done()?;
    if !matches!(
        sequence_mut(tpm, handle, 1)?.kind,
        SequenceKind::Hash { .. } | SequenceKind::Hmac(_)
    ) {
        return Err(Rc::MODE.handle(1));
    }
    let Some(Transient::Sequence(seq)) = tpm.flush_transient(handle) else {
        return Err(Rc::MODE.handle(1));
    };
    // An HMAC sequence: the HMAC, and the null ticket (reference
    // TPM2_SequenceComplete: "No ticket is generated for HMAC sequence").
    if let SequenceKind::Hmac(mut state) = seq.kind {
        state.update(buffer.as_slice());
        ctx.write(&digest2b(state.finish()));
        ctx.write(&TkHashcheck::null());
        return Ok(());
    }
    let SequenceKind::Hash {
        mut hasher,
        ticket_safe,
    } = seq.kind
    else {
        return Err(Rc::MODE.handle(1));
    };
    let alg = hasher.alg();
    hasher.update(buffer.as_slice());
    let digest = hasher.finish();
    let safe = ticket_safe.unwrap_or_else(|| ticket_is_safe(buffer.as_slice()));
    let ticket = if safe {
        hashcheck_ticket(tpm, hierarchy, alg, &digest)
    } else {
        TkHashcheck::null()
    };
    ctx.write(&digest2b(digest));
    ctx.write(&ticket);
    Ok(())
}

/// TPM2_EventSequenceComplete (Part 3 §17.6): the digests of the event
/// data with every implemented hash (as the reference code returns one
/// per implemented hash, not per allocated bank), extended into
/// `pcrHandle` in each allocated bank unless it is TPM_RH_NULL. The PCR's
/// locality rules apply (TPM_RC_LOCALITY, checked before the sequence is
/// consumed). A hash sequence is TPM_RC_MODE on handle 2.
pub(crate) fn event_sequence_complete(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    let pcr = ctx.handle(0);
    let handle = ctx.handle(1);
    let buffer: MaxBuffer = ctx.read()?;
    ctx.done()?;
    let values: Vec<Ha> = match &sequence_mut(tpm, handle, 2)?.kind {
        SequenceKind::Event { hashers } => hashers
            .iter()
            .map(|h| {
                let mut h = h.clone();
                h.update(buffer.as_slice());
                Ha {
                    alg: h.alg(),
                    digest: h.finish(),
                }
            })
            .collect(),
        SequenceKind::Hash { .. } | SequenceKind::Hmac(_) => return Err(Rc::MODE.handle(2)),
    };
    if pcr != rh::NULL {
        extend_pcr(tpm, ctx.locality, pcr, &values)?;
    }
    tpm.flush_transient(handle);
    ctx.write(&DigestValues(values));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::Drbg;
    use crate::engine::{EngineConfig, SystemTime};

    #[test]
    fn sequences_are_flushed_by_power_cycle() {
        let mut t = Tpm::manufacture(
            &EngineConfig::default(),
            Drbg::new([5; 32]),
            Box::<SystemTime>::default(),
        );
        let seq = SequenceObject {
            auth: Zeroizing::new(b"pw".to_vec()),
            kind: SequenceKind::Hash {
                hasher: Box::new(HashAlg::Sha256.hasher()),
                ticket_safe: None,
            },
        };
        let h = t
            .load_transient(Transient::Sequence(Box::new(seq)))
            .unwrap();
        assert!(t.transient(h).is_some());
        t.power_on();
        assert!(t.transient(h).is_none());
    }
}
