//! TPM2_Clear (Part 3 §24.6), TPM2_ClearControl (§24.7), TPM2_ChangePPS
//! (§24.5) and TPM2_ChangeEPS (§24.3): starting a hierarchy over with a
//! new primary seed.
//!
//! A new seed means new primary keys; a new proof value means contexts
//! saved under the old one no longer load and tickets no longer verify.
//! The entities of the hierarchy are removed through the hooks of the
//! modules that own them: `objects::flush_hierarchy` (loaded objects),
//! `objects::evict_hierarchy` (persistent objects, Part 3 §24.6 "flush
//! resident objects (persistent and volatile)") and
//! `nv::flush_owner_indices` (NV indices not created by the platform).

use zeroize::Zeroizing;

use crate::constants::rh;
use crate::rc::Rc;

use super::super::dispatch::Ctx;
use super::super::{nv, objects, pcr, Tpm};
use super::data::DaParams;

/// A fresh 64-octet seed or proof value from the TPM's RNG (the reference
/// design takes proofs from the RNG too, Part 3 §24.6 NOTE 1).
fn fresh(tpm: &mut Tpm) -> Zeroizing<Vec<u8>> {
    Zeroizing::new(tpm.drbg.bytes(64))
}

/// Removes every object of `hierarchy`, loaded or persistent.
fn flush_all(tpm: &mut Tpm, hierarchy: u32) {
    objects::flush_hierarchy(tpm, hierarchy);
    objects::evict_hierarchy(tpm, hierarchy);
}

/// TPM2_Clear (lockoutAuth or platformAuth): removes the owner. Refused
/// with TPM_RC_DISABLED while disableClear is set. Otherwise: new SPS,
/// shProof and ehProof; storage and endorsement hierarchies enabled;
/// owner, endorsement and lockout authValues and authPolicies emptied;
/// owner and endorsement objects and owner NV indices deleted;
/// dictionary-attack values back to their defaults; Clock, resetCount and
/// restartCount zero and Clock safe; pcrUpdateCounter incremented.
pub(crate) fn clear(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    ctx.done()?;
    if tpm.perm.hierarchy.disable_clear {
        return Err(Rc::DISABLED);
    }
    tpm.perm.sps = fresh(tpm);
    tpm.perm.sh_proof = fresh(tpm);
    tpm.perm.eh_proof = fresh(tpm);
    tpm.vol.sh_enable = true;
    tpm.vol.eh_enable = true;
    tpm.perm.owner_auth = Zeroizing::new(Vec::new());
    tpm.perm.endorsement_auth = Zeroizing::new(Vec::new());
    tpm.perm.lockout_auth = Zeroizing::new(Vec::new());
    let h = &mut tpm.perm.hierarchy;
    h.owner_policy = None;
    h.endorsement_policy = None;
    h.lockout_policy = None;
    h.da = DaParams::default();
    flush_all(tpm, rh::OWNER);
    flush_all(tpm, rh::ENDORSEMENT);
    nv::flush_owner_indices(tpm);
    // Clock starts again from zero (and is safe), as do the counters.
    tpm.perm.clock = 0;
    tpm.perm.clock_safe = true;
    tpm.vol.clock.base = 0;
    tpm.vol.clock.anchor_ms = tpm.time.now_ms();
    tpm.perm.reset_count = 0;
    tpm.perm.restart_count = 0;
    pcr::pcr_changed(tpm, 0);
    tpm.dirty = true;
    Ok(())
}

/// TPM2_ClearControl: sets or clears disableClear. lockoutAuth may only
/// set it; clearing it takes platformAuth (TPM_RC_AUTH_FAIL otherwise, as
/// the reference code answers).
pub(crate) fn clear_control(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    let disable: bool = ctx.read()?;
    ctx.done()?;
    if ctx.handle(0) == rh::LOCKOUT && !disable {
        return Err(Rc::AUTH_FAIL);
    }
    tpm.perm.hierarchy.disable_clear = disable;
    tpm.dirty = true;
    Ok(())
}

/// TPM2_ChangePPS (platformAuth): new PPS and phProof, empty platform
/// policy, platform objects flushed. Platform NV indices stay (the
/// reference NvFlushHierarchy deletes no index for the platform).
pub(crate) fn change_pps(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    ctx.done()?;
    tpm.perm.pps = fresh(tpm);
    tpm.perm.ph_proof = fresh(tpm);
    tpm.vol.hierarchy.platform_policy = None;
    flush_all(tpm, rh::PLATFORM);
    tpm.dirty = true;
    Ok(())
}

/// TPM2_ChangeEPS (platformAuth): new EPS and ehProof, endorsement
/// hierarchy enabled with empty authValue and authPolicy, endorsement
/// objects flushed (the EK changes with the seed).
pub(crate) fn change_eps(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    ctx.done()?;
    tpm.perm.eps = fresh(tpm);
    tpm.perm.eh_proof = fresh(tpm);
    tpm.vol.eh_enable = true;
    tpm.perm.endorsement_auth = Zeroizing::new(Vec::new());
    tpm.perm.hierarchy.endorsement_policy = None;
    flush_all(tpm, rh::ENDORSEMENT);
    tpm.dirty = true;
    Ok(())
}
