//! The hierarchies and their authorizations (TPM 2.0 Part 1 §13–14, Part 3
//! §24–25): authValues, authPolicies, enables, TPM2_Clear and the seed
//! changes, and dictionary-attack protection (Part 1 §19.8).
//!
//! Where each value lives follows the reference code: ownerAuth,
//! endorsementAuth, lockoutAuth, their policies, disableClear and the DA
//! values are persistent (NV); platformAuth, platformPolicy and the
//! hierarchy enables are STATE_CLEAR data, reset by every Startup(CLEAR)
//! and kept only by Shutdown(STATE) + Startup(STATE).
//!
//! - [`change_auth`] — TPM2_HierarchyChangeAuth, TPM2_SetPrimaryPolicy
//! - [`control`] — TPM2_HierarchyControl
//! - [`clear`] — TPM2_Clear, TPM2_ClearControl, TPM2_ChangeEPS, TPM2_ChangePPS
//! - [`lockout`] — dictionary-attack state machine and its two commands
//! - [`data`] — the state and its blob encoding

mod change_auth;
mod clear;
mod control;
mod data;
pub(crate) mod lockout;

use zeroize::Zeroizing;

use crate::constants::rh;
use crate::crypto::HashAlg;
use crate::rc::Rc;

use super::Tpm;

pub(crate) use change_auth::{hierarchy_change_auth, set_primary_policy};
pub(crate) use clear::{change_eps, change_pps, clear, clear_control};
pub(crate) use control::hierarchy_control;
pub(crate) use data::{AuthPolicy, HierarchyPerm, HierarchyVol};
pub(crate) use lockout::{dictionary_attack_lock_reset, dictionary_attack_parameters};

/// The authValue of a permanent handle.
pub(crate) fn auth_value(tpm: &Tpm, handle: u32) -> Result<Zeroizing<Vec<u8>>, Rc> {
    let v: &[u8] = match handle {
        rh::OWNER => &tpm.perm.owner_auth,
        rh::ENDORSEMENT => &tpm.perm.endorsement_auth,
        rh::LOCKOUT => &tpm.perm.lockout_auth,
        rh::PLATFORM => &tpm.vol.platform_auth,
        rh::NULL => &[],
        _ => return Err(Rc::HANDLE),
    };
    Ok(Zeroizing::new(v.to_vec()))
}

/// The authPolicy of a hierarchy (TPM2_SetPrimaryPolicy), if one is set.
pub(crate) fn policy(tpm: &Tpm, handle: u32) -> Option<&AuthPolicy> {
    match handle {
        rh::OWNER => tpm.perm.hierarchy.owner_policy.as_ref(),
        rh::ENDORSEMENT => tpm.perm.hierarchy.endorsement_policy.as_ref(),
        rh::LOCKOUT => tpm.perm.hierarchy.lockout_policy.as_ref(),
        rh::PLATFORM => tpm.vol.hierarchy.platform_policy.as_ref(),
        _ => None,
    }
}

/// The authPolicy of a hierarchy and its hash, for policy-session
/// authorization: none (TPM_RC_AUTH_UNAVAILABLE) while the policy is the
/// Empty Buffer (Part 1 §19.7.2, reference IsAuthPolicyAvailable).
pub(crate) fn auth_policy(tpm: &Tpm, handle: u32) -> Option<(HashAlg, Vec<u8>)> {
    policy(tpm, handle).map(|p| (p.alg, p.digest.clone()))
}

/// TPMS_TAGGED_POLICY content for TPM_CAP_AUTH_POLICIES: the hash
/// (TPM_ALG_NULL when no policy is set) and digest of a permanent handle.
pub(crate) fn tagged_policy(tpm: &Tpm, handle: u32) -> (u16, Vec<u8>) {
    match policy(tpm, handle) {
        Some(p) => (p.alg.id(), p.digest.clone()),
        None => (crate::constants::alg::NULL, Vec::new()),
    }
}

/// Hierarchy part of TPM2_Startup (reference HierarchyStartup and
/// DAStartup): platformPolicy is emptied, except that a Resume
/// (`resume`) restores the one saved by Shutdown(STATE); `orderly` says
/// the previous cycle ended in an orderly shutdown.
pub(crate) fn on_startup(tpm: &mut Tpm, resume: bool, orderly: bool) {
    let saved = tpm.perm.hierarchy.saved_platform_policy.take();
    tpm.vol.hierarchy.platform_policy = if resume { saved } else { None };
    lockout::on_startup(tpm, orderly);
}

/// Hierarchy part of TPM2_Shutdown: `state` (Shutdown(STATE)) saves
/// platformPolicy for a Resume; the DA timers are saved either way.
pub(crate) fn on_shutdown(tpm: &mut Tpm, state: bool) {
    tpm.perm.hierarchy.saved_platform_policy = if state {
        tpm.vol.hierarchy.platform_policy.clone()
    } else {
        None
    };
    lockout::on_shutdown(tpm);
}

/// TPMA_PERMANENT bits owned by the hierarchies (Part 2 §8.6):
/// ownerAuthSet, endorsementAuthSet, lockoutAuthSet, disableClear,
/// inLockout. tpmGeneratedEPS is added by the caller.
pub(crate) fn permanent_attributes(tpm: &Tpm) -> u32 {
    const OWNER_AUTH_SET: u32 = 1 << 0;
    const ENDORSEMENT_AUTH_SET: u32 = 1 << 1;
    const LOCKOUT_AUTH_SET: u32 = 1 << 2;
    const DISABLE_CLEAR: u32 = 1 << 8;
    const IN_LOCKOUT: u32 = 1 << 9;
    let h = &tpm.perm.hierarchy;
    [
        (!tpm.perm.owner_auth.is_empty(), OWNER_AUTH_SET),
        (!tpm.perm.endorsement_auth.is_empty(), ENDORSEMENT_AUTH_SET),
        (!tpm.perm.lockout_auth.is_empty(), LOCKOUT_AUTH_SET),
        (h.disable_clear, DISABLE_CLEAR),
        (lockout::in_lockout(&h.da), IN_LOCKOUT),
    ]
    .iter()
    .filter(|(on, _)| *on)
    .fold(0, |v, (_, bit)| v | bit)
}

/// The dictionary-attack TPM properties (Part 2 §6.13): LOCKOUT_COUNTER,
/// MAX_AUTH_FAIL, LOCKOUT_INTERVAL, LOCKOUT_RECOVERY, in that order.
pub(crate) fn da_properties(tpm: &Tpm) -> [u32; 4] {
    let da = &tpm.perm.hierarchy.da;
    [
        da.failed_tries,
        da.max_tries,
        da.recovery_time,
        da.lockout_recovery,
    ]
}
