//! Enhanced authorization: the policy commands (TPM 2.0 Part 3 §23) that
//! build up a policy session's policyDigest and the conditions it places on
//! the command it later authorizes (Part 1 §19.7).
//!
//! Every command extends policyDigest exactly as Part 3 prescribes, in a
//! trial session too; a trial session only computes digests, so the checks
//! against TPM state (PCR values, signatures, NV contents, time) are skipped
//! there, as in the reference code. The conditions themselves are enforced
//! when the session authorizes a command (`session::authorize`).
//!
//! One file per family: `basic` (the commands that only record a condition),
//! `pcr`, `secret_signed` (PolicySecret, PolicySigned, PolicyTicket), `or`,
//! `authorize` (PolicyAuthorize, PolicyAuthorizeNV) and `nv` (PolicyNV,
//! PolicyCounterTimer); `ticket` computes TPMT_TK_AUTH / TPMT_TK_VERIFIED
//! and `verify` checks signatures with a loaded key.

mod authorize;
mod basic;
mod nv;
mod or;
mod pcr;
mod secret_signed;
pub(crate) mod ticket;

pub(crate) use authorize::{policy_authorize, policy_authorize_nv};
pub(crate) use basic::{
    policy_auth_value, policy_command_code, policy_cp_hash, policy_duplication_select,
    policy_get_digest, policy_locality, policy_name_hash, policy_nv_written, policy_password,
    policy_physical_presence, policy_restart, policy_template,
};
pub(crate) use nv::{policy_counter_timer, policy_nv};
pub(crate) use or::policy_or;
pub(crate) use pcr::policy_pcr;
pub(crate) use secret_signed::{policy_secret, policy_signed, policy_ticket};

use crate::constants::rh;
use crate::crypto::HashAlg;
use crate::rc::Rc;

use super::session::{PolicyState, Session, SessionKind};
use super::Tpm;

/// TPM_RC_REFERENCE_H0: a handle references no loaded entity (warning).
const RC_REFERENCE_H0: u32 = 0x910;

/// The policy session `handle` (handle number `n` of the command). The
/// handle area check already made sure it is a loaded policy session.
pub(super) fn session_mut(tpm: &mut Tpm, handle: u32, n: u32) -> Result<&mut Session, Rc> {
    match tpm.session_mut(handle) {
        Some(s) if s.kind != SessionKind::Hmac => Ok(s),
        _ => Err(Rc(RC_REFERENCE_H0 + n.saturating_sub(1))),
    }
}

/// The policy session `handle`, read-only.
pub(super) fn session(tpm: &Tpm, handle: u32, n: u32) -> Result<&Session, Rc> {
    match tpm.session(handle) {
        Some(s) if s.kind != SessionKind::Hmac => Ok(s),
        _ => Err(Rc(RC_REFERENCE_H0 + n.saturating_sub(1))),
    }
}

/// Whether `s` is a trial session (TPM_SE_TRIAL): digests only, no checks.
pub(super) fn is_trial(s: &Session) -> bool {
    s.kind == SessionKind::Trial
}

/// policyDigest_new := H(policyDigest_old || commandCode || parts...), the
/// update every policy command makes (Part 3 §23.1). Each part is the
/// buffer of a TPM2B without its size, or a marshalled integer.
pub(super) fn extend(p: &mut PolicyState, alg: HashAlg, code: u32, parts: &[&[u8]]) {
    let mut h = alg.hasher();
    h.update(&p.digest);
    h.update(&code.to_be_bytes());
    for part in parts {
        h.update(part);
    }
    p.digest = h.finish();
}

/// Sets policyDigest to the all-zero digest of the session hash, as
/// PolicyOR, PolicyAuthorize and PolicyAuthorizeNV do before their update.
pub(super) fn clear_digest(p: &mut PolicyState, alg: HashAlg) {
    p.digest = vec![0; alg.digest_size()];
}

/// PolicyContextUpdate (Part 3 §23.2 "Signed Authorization Actions";
/// used by PolicySigned, PolicySecret, PolicyTicket, PolicyAuthorize and
/// PolicyAuthorizeNV):
///
/// policyDigest := H(policyDigest || commandCode || name), then, when the
/// command has a policyRef, policyDigest := H(policyDigest || policyRef).
/// A non-empty cpHashA becomes the session's cpHash; a non-zero timeout
/// tightens the session's expiration.
pub(super) fn context_update(
    s: &mut Session,
    code: u32,
    name: &[u8],
    policy_ref: Option<&[u8]>,
    cp_hash: &[u8],
    timeout: u64,
) {
    let alg = s.auth_hash;
    let p = &mut s.policy;
    extend(p, alg, code, &[name]);
    if let Some(r) = policy_ref {
        p.digest = alg.digest(&[&p.digest, r]);
    }
    if !cp_hash.is_empty() {
        p.cp_hash = Some(cp_hash.to_vec());
    }
    if timeout != 0 && !matches!(p.timeout, Some(t) if t <= timeout) {
        p.timeout = Some(timeout);
    }
}

/// What the session's cpHash slot holds (the reference code keeps cpHash,
/// nameHash and templateHash in one union, so any of them "occupies" it).
pub(super) fn occupied_cp_slot(p: &PolicyState) -> Option<&[u8]> {
    p.cp_hash
        .as_deref()
        .or(p.name_hash.as_deref())
        .or(p.template_hash.as_deref())
}

/// Parameter numbers to blame in [`parameter_checks`].
pub(super) struct Blame {
    pub nonce: u32,
    pub cp_hash: u32,
    pub expiration: u32,
}

/// PolicyParameterChecks (the shared input validation of PolicySigned,
/// PolicySecret and PolicyTicket, Part 3 §23.2.1 "Policy Parameter Checks"): a nonceTPM that
/// is present must be the session's (TPM_RC_NONCE); an authorization with
/// a timeout must not have expired (TPM_RC_EXPIRED); a cpHashA that is
/// present must be a digest of the session hash (TPM_RC_SIZE) and agree
/// with a cpHash set before (TPM_RC_CPHASH).
pub(super) fn parameter_checks(
    now: u64,
    s: &Session,
    auth_timeout: u64,
    cp_hash: &[u8],
    nonce: Option<&[u8]>,
    blame: Blame,
) -> Result<(), Rc> {
    if let Some(n) = nonce.filter(|n| !n.is_empty()) {
        if n != s.nonce_tpm.as_slice() {
            return Err(Rc::NONCE.param(blame.nonce));
        }
    }
    // Sessions do not survive _TPM_Init, so the reference code's epoch
    // comparison (a session from before a reset) cannot fail here.
    if auth_timeout != 0 && auth_timeout < now {
        return Err(Rc::EXPIRED.param(blame.expiration));
    }
    if !cp_hash.is_empty() {
        if cp_hash.len() != s.policy.digest.len() {
            return Err(Rc::SIZE.param(blame.cp_hash));
        }
        if occupied_cp_slot(&s.policy).is_some_and(|c| c != cp_hash) {
            return Err(Rc::CPHASH);
        }
    }
    Ok(())
}

/// ComputeAuthTimeout: the TPM time (ms since _TPM_Init) at which an
/// authorization with `expiration` seconds lapses — counted from the start
/// of the session when it is tied to the session's nonceTPM, from TPM time
/// zero otherwise (Part 3 §23.3.1). Zero means "no expiration". Without a
/// nonce the reference code adds the current millisecond within the
/// second so the authorization never lapses early; so do we.
pub(super) fn auth_timeout(now: u64, s: &Session, expiration: i32, nonce_empty: bool) -> u64 {
    if expiration == 0 {
        return 0;
    }
    let secs_ms = u64::from(expiration.unsigned_abs()) * 1000;
    if nonce_empty {
        secs_ms + now % 1000
    } else {
        s.start_time.saturating_add(secs_ms)
    }
}

/// TPM_EO (Part 2 §6.8): the comparison PolicyNV and PolicyCounterTimer
/// make between operand A (TPM data) and operand B (the caller's).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Operation {
    Eq,
    Neq,
    SignedGt,
    UnsignedGt,
    SignedLt,
    UnsignedLt,
    SignedGe,
    UnsignedGe,
    SignedLe,
    UnsignedLe,
    BitSet,
    BitClear,
}

impl Operation {
    /// TPM_EO_Unmarshal: values past TPM_EO_BITCLEAR are TPM_RC_VALUE.
    pub fn from_u16(v: u16) -> Option<Operation> {
        use Operation::*;
        const ALL: [Operation; 12] = [
            Eq, Neq, SignedGt, UnsignedGt, SignedLt, UnsignedLt, SignedGe, UnsignedGe, SignedLe,
            UnsignedLe, BitSet, BitClear,
        ];
        ALL.get(usize::from(v)).copied()
    }

    /// PolicySptCheckCondition: `a` and `b` are big-endian integers of the
    /// same length (two's complement for the signed comparisons).
    pub fn holds(self, a: &[u8], b: &[u8]) -> bool {
        use std::cmp::Ordering;
        use Operation::*;
        let unsigned = || a.cmp(b);
        let signed = || {
            let neg = |x: &[u8]| x.first().is_some_and(|f| f & 0x80 != 0);
            match (neg(a), neg(b)) {
                (true, false) => Ordering::Less,
                (false, true) => Ordering::Greater,
                // Same sign: two's complement orders like unsigned.
                _ => a.cmp(b),
            }
        };
        match self {
            Eq => unsigned() == Ordering::Equal,
            Neq => unsigned() != Ordering::Equal,
            SignedGt => signed() == Ordering::Greater,
            UnsignedGt => unsigned() == Ordering::Greater,
            SignedLt => signed() == Ordering::Less,
            UnsignedLt => unsigned() == Ordering::Less,
            SignedGe => signed() != Ordering::Less,
            UnsignedGe => unsigned() != Ordering::Less,
            SignedLe => signed() != Ordering::Greater,
            UnsignedLe => unsigned() != Ordering::Greater,
            BitSet => a.iter().zip(b).all(|(x, y)| x & y == *y),
            BitClear => a.iter().zip(b).all(|(x, y)| x & y == 0),
        }
    }
}

/// EntityGetHierarchy: the hierarchy a ticket about `handle` is bound to
/// (its proof keys the ticket HMAC). Permanent handles other than the
/// platform, endorsement and null hierarchies, and PCRs, belong to the
/// owner; an NV index to the platform if TPMA_NV_PLATFORMCREATE, else the
/// owner; an object to the hierarchy it was created in.
pub(super) fn entity_hierarchy(tpm: &Tpm, handle: u32) -> u32 {
    match rh::handle_type(handle) {
        rh::HT_PERMANENT => match handle {
            rh::PLATFORM | rh::ENDORSEMENT | rh::NULL => handle,
            _ => rh::OWNER,
        },
        rh::HT_NV_INDEX => match super::nv::public(tpm, handle) {
            Some(p)
                if p.attributes
                    .contains(crate::types::NvAttributes::PLATFORMCREATE) =>
            {
                rh::PLATFORM
            }
            _ => rh::OWNER,
        },
        rh::HT_TRANSIENT | rh::HT_PERSISTENT => {
            tpm.object(handle).map_or(rh::NULL, |o| o.hierarchy)
        }
        rh::HT_PCR => rh::OWNER,
        _ => rh::NULL,
    }
}

#[cfg(test)]
mod tests {
    use super::Operation;

    #[test]
    fn operations_compare_like_the_reference() {
        let (a, b) = ([0x80u8, 0x00], [0x01u8, 0x00]);
        assert!(Operation::UnsignedGt.holds(&a, &b));
        assert!(Operation::SignedLt.holds(&a, &b));
        assert!(Operation::SignedLe.holds(&a, &a));
        assert!(Operation::SignedGe.holds(&[0xff], &[0xfe]));
        assert!(!Operation::SignedGt.holds(&[0xfe], &[0xff]));
        assert!(Operation::Eq.holds(&[1, 2], &[1, 2]));
        assert!(Operation::Neq.holds(&[1, 2], &[1, 3]));
        assert!(Operation::BitSet.holds(&[0b1011], &[0b0011]));
        assert!(!Operation::BitSet.holds(&[0b1001], &[0b0011]));
        assert!(Operation::BitClear.holds(&[0b1000], &[0b0011]));
        assert!(!Operation::BitClear.holds(&[0b1010], &[0b0011]));
        assert_eq!(Operation::from_u16(11), Some(Operation::BitClear));
        assert_eq!(Operation::from_u16(12), None);
    }
}
