//! TPM2_Startup and TPM2_Shutdown (Part 3 §9.3–§9.4) and the three kinds
//! of startup they select (Part 1 §12.2):
//!
//! | previous shutdown | Startup(CLEAR) | Startup(STATE) |
//! |---|---|---|
//! | none (power loss) | TPM Reset | TPM_RC_VALUE |
//! | Shutdown(CLEAR)   | TPM Reset | TPM_RC_VALUE |
//! | Shutdown(STATE)   | TPM Restart | TPM Resume |
//!
//! Everything here follows the reference TPM2_Startup()/TPM2_Shutdown()
//! (as in libtpms), including the order of the checks, so swtpm and this
//! engine give the same response codes.

use zeroize::Zeroizing;

use crate::constants::su;
use crate::rc::Rc;
use crate::types::IMPLEMENTATION_PCR;

use super::dispatch::Ctx;
use super::pcr;
use super::state::{Orderly, SavedState};
use super::Tpm;

/// How a TPM2_Startup resumes (Part 1 §12.2.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Reset,
    Restart,
    Resume,
}

/// Reads a TPM_SU; anything but CLEAR or STATE is TPM_RC_VALUE on
/// parameter 1 (unmarshalling, Part 2 §6.10).
fn read_su(ctx: &mut Ctx<'_>) -> Result<u16, Rc> {
    let v: u16 = ctx.read()?;
    if v != su::CLEAR && v != su::STATE {
        return Err(Rc::VALUE.param(ctx.last_param()));
    }
    Ok(v)
}

/// TPM2_Startup (Part 3 §9.3).
pub(crate) fn startup(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    let startup_type = read_su(ctx)?;
    ctx.done()?;
    let locality = ctx.locality;
    // PC Client PTP: Startup comes from locality 0 or 3 only.
    if locality != 0 && locality != 3 {
        return Err(Rc::LOCALITY);
    }
    let prev = tpm.perm.orderly;
    let kind = if startup_type == su::STATE {
        // A Resume needs a prior Shutdown(STATE) whose saved state is
        // still valid and is for the current PCR allocation.
        let saved = match (&tpm.perm.saved, prev) {
            (Some(s), Orderly::State) if tpm.perm.pending_allocation.is_none() => s,
            _ => return Err(Rc::VALUE.param(1)),
        };
        // The saved PCR 0 carries the locality of the Startup that began
        // the saved cycle; resuming from another locality would misreport it.
        if (saved.startup_locality == 3) != (locality == 3) {
            return Err(Rc::LOCALITY);
        }
        Kind::Resume
    } else if prev == Orderly::State && tpm.perm.saved.is_some() {
        Kind::Restart
    } else {
        Kind::Reset
    };

    tpm.started = true;
    tpm.dirty = true;
    // Part 2 §10.11.1: after a disorderly shutdown a larger Clock may have
    // been reported before the power loss.
    if prev == Orderly::None {
        tpm.perm.clock_safe = false;
    }
    tpm.vol.orderly_startup = prev != Orderly::None;
    if kind != Kind::Resume {
        // Part 3 §22.5.1: a pending allocation takes effect now.
        if let Some(alloc) = tpm.perm.pending_allocation.take() {
            tpm.perm.pcr_allocation = alloc;
        }
    }
    let saved = tpm.perm.saved.take();
    tpm.vol.startup_locality = locality;
    tpm.vol.pcr_banks = pcr::initial_banks(&tpm.perm.pcr_allocation, locality);
    tpm.vol.transients.clear();
    tpm.vol.ph_enable = true;

    match (kind, saved) {
        (Kind::Resume, Some(s)) => {
            restore_pcrs(tpm, &s);
            tpm.vol.pcr_update_counter = s.pcr_update_counter;
            tpm.vol.platform_auth = s.platform_auth.clone();
            tpm.vol.null_proof = s.null_proof.clone();
            tpm.vol.sh_enable = s.sh_enable;
            tpm.vol.eh_enable = s.eh_enable;
            tpm.vol.ph_enable_nv = s.ph_enable_nv;
            tpm.vol.startup_locality = s.startup_locality;
            tpm.perm.restart_count = tpm.perm.restart_count.wrapping_add(1);
        }
        (Kind::Restart, Some(s)) => {
            // STATE_RESET data survives a Restart; STATE_CLEAR data does not.
            tpm.vol.pcr_update_counter = s.pcr_update_counter;
            tpm.vol.null_proof = s.null_proof.clone();
            clear_state(tpm);
            tpm.perm.restart_count = tpm.perm.restart_count.wrapping_add(1);
        }
        _ => {
            tpm.vol.pcr_update_counter = 0;
            tpm.vol.null_proof = Zeroizing::new(tpm.drbg.bytes(64));
            clear_state(tpm);
            tpm.perm.reset_count = tpm.perm.reset_count.wrapping_add(1);
            tpm.perm.restart_count = 0;
        }
    }
    // Every PCR that was (re)initialized counts as changed (PCRStartup()).
    for p in 0..IMPLEMENTATION_PCR {
        if kind != Kind::Resume || !pcr::is_state_saved(p) {
            pcr::pcr_changed(tpm, p);
        }
    }
    // Hierarchy STATE_CLEAR data and dictionary-attack startup.
    super::hierarchy::on_startup(tpm, kind == Kind::Resume, prev != Orderly::None);
    // NV index locks, CLEAR_STCLEAR data and orderly RAM (Part 1 §37.2).
    super::nv::startup(
        tpm,
        kind == Kind::Resume,
        kind == Kind::Reset,
        prev == Orderly::None,
    );
    // Null seed and saved-context bookkeeping (STATE_RESET data).
    super::object::on_startup(tpm, kind == Kind::Reset, kind == Kind::Resume);
    // The command audit digest is STATE_RESET data (attestation helper).
    super::attest::on_startup(tpm, kind == Kind::Reset);
    // Until the next Shutdown, a power loss is disorderly.
    tpm.perm.orderly = Orderly::None;
    Ok(())
}

/// STATE_CLEAR data at TPM Reset and Restart (reference HierarchyStartup):
/// empty platform authorization, all hierarchies enabled.
fn clear_state(tpm: &mut Tpm) {
    tpm.vol.platform_auth = Zeroizing::new(Vec::new());
    tpm.vol.sh_enable = true;
    tpm.vol.eh_enable = true;
    tpm.vol.ph_enable_nv = true;
}

/// Copies the saved values of the state-saved PCRs into the fresh banks.
fn restore_pcrs(tpm: &mut Tpm, s: &SavedState) {
    for bank in tpm.vol.pcr_banks.iter_mut() {
        let Some(old) = s.pcr_banks.iter().find(|b| b.alg == bank.alg) else {
            continue;
        };
        for p in (0..IMPLEMENTATION_PCR).filter(|&p| pcr::is_state_saved(p)) {
            if !bank.allocated.is_selected(p) {
                continue;
            }
            if let (Some(dst), Some(src)) = (bank.get_mut(p), old.get(p)) {
                dst.copy_from_slice(src);
            }
        }
    }
}

/// TPM2_Shutdown (Part 3 §9.4). Both kinds make the next power loss
/// orderly and commit Clock; STATE also saves what a Resume restores.
/// After TPM2_PCR_Allocate only CLEAR is allowed (TPM_RC_TYPE, §22.5.1).
pub(crate) fn shutdown(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    let shutdown_type = read_su(ctx)?;
    ctx.done()?;
    if shutdown_type == su::STATE && tpm.perm.pending_allocation.is_some() {
        return Err(Rc::TYPE.param(1));
    }
    if shutdown_type == su::STATE {
        tpm.perm.saved = Some(SavedState {
            pcr_banks: tpm.vol.pcr_banks.clone(),
            pcr_update_counter: tpm.vol.pcr_update_counter,
            platform_auth: tpm.vol.platform_auth.clone(),
            null_proof: tpm.vol.null_proof.clone(),
            startup_locality: tpm.vol.startup_locality,
            sh_enable: tpm.vol.sh_enable,
            eh_enable: tpm.vol.eh_enable,
            ph_enable_nv: tpm.vol.ph_enable_nv,
        });
        tpm.perm.orderly = Orderly::State;
    } else {
        tpm.perm.saved = None;
        tpm.perm.orderly = Orderly::Clear;
    }
    super::hierarchy::on_shutdown(tpm, shutdown_type == su::STATE);
    // The null seed and context counters survive only Shutdown(STATE).
    super::object::on_shutdown(tpm, shutdown_type == su::STATE);
    // STATE saves the command audit digest (attestation helper).
    super::attest::on_shutdown(tpm, shutdown_type == su::STATE);
    // Orderly NV index RAM is committed (reference NvUpdateIndexOrderlyData).
    super::nv::shutdown(tpm);
    super::clock::commit(tpm);
    tpm.dirty = true;
    Ok(())
}

/// _TPM_Init (Part 3 §9.2): the volatile state is already fresh; Clock
/// resumes from its last committed value.
pub(crate) fn on_power_on(tpm: &mut Tpm) {
    super::clock::power_on(tpm);
}
