//! Time and Clock (Part 1 §36) and the clock commands: TPM2_ReadClock
//! (Part 3 §29.1), TPM2_ClockSet (§29.2), TPM2_ClockRateAdjust (§29.3).
//!
//! *Time* counts milliseconds since _TPM_Init. *Clock* counts milliseconds
//! the TPM has been powered over its whole life; it lives in NV and, like
//! the reference code, is committed there only every
//! [`CLOCK_UPDATE_INTERVAL_MS`] (TPM_PT_CLOCK_UPDATE), at TPM2_Shutdown and
//! at TPM2_ClockSet. A power loss without Shutdown rolls Clock back to its
//! last committed value, which is why the next Startup reports it not
//! `safe` (Part 2 §10.11.1).

use crate::rc::Rc;
use crate::types::{ClockInfo, TimeInfo};

use super::dispatch::Ctx;
use super::Tpm;

/// TPM_PT_CLOCK_UPDATE: Clock is committed to NV when it crosses a multiple
/// of this many milliseconds (2^12, as libtpms' NV_CLOCK_UPDATE_INTERVAL),
/// so the host stores the state about every 4 s of activity, not every ms.
pub(crate) const CLOCK_UPDATE_INTERVAL_MS: u64 = 1 << 12;
const CLOCK_UPDATE_MASK: u64 = CLOCK_UPDATE_INTERVAL_MS - 1;

/// Largest value TPM2_ClockSet accepts (Part 3 §29.2.1).
const CLOCK_SET_MAX: u64 = 0xFFFF_0000_0000_0000;

/// Rate of Clock in 1/CLOCK_NOMINAL units of host time: Clock advances by
/// `elapsed * CLOCK_NOMINAL / rate` (the reference platform's scheme).
pub(crate) const CLOCK_NOMINAL: u32 = 30_000;
/// Fine, medium and coarse rate steps (|TPM_CLOCK_ADJUST| 1, 2, 3): about
/// 0.003 %, 0.1 % and 1 %.
const ADJUST_STEPS: [u32; 3] = [1, 30, 300];
/// The rate never drifts more than this from nominal (about ±17 %).
const ADJUST_LIMIT: u32 = 5_000;

/// Current Clock: the value at the last rebase plus the host time since,
/// scaled by the rate adjustment. Never decreases while powered.
pub(crate) fn current_clock(tpm: &Tpm) -> u64 {
    let c = &tpm.vol.clock;
    let elapsed = tpm.time.now_ms().saturating_sub(c.anchor_ms);
    let scaled = u128::from(elapsed) * u128::from(CLOCK_NOMINAL) / u128::from(c.rate.max(1));
    c.base
        .saturating_add(u64::try_from(scaled).unwrap_or(u64::MAX))
}

/// Restarts the running Clock from `value` at the present host time.
fn rebase(tpm: &mut Tpm, value: u64) {
    tpm.vol.clock.base = value;
    tpm.vol.clock.anchor_ms = tpm.time.now_ms();
}

/// _TPM_Init: Clock resumes from its last committed value at nominal rate
/// (the rate adjustment is not persistent).
pub(crate) fn power_on(tpm: &mut Tpm) {
    tpm.vol.clock.base = tpm.perm.clock;
    tpm.vol.clock.anchor_ms = tpm.init_ms;
    tpm.vol.clock.rate = CLOCK_NOMINAL;
}

/// Writes the current Clock to NV (TPM2_Shutdown).
pub(crate) fn commit(tpm: &mut Tpm) {
    tpm.perm.clock = current_clock(tpm);
    tpm.dirty = true;
}

/// Called before each command once the TPM has started (the reference
/// TimeUpdateToCurrent()): when Clock crosses a TPM_PT_CLOCK_UPDATE
/// boundary it is committed to NV, which also makes it safe again.
pub(crate) fn update(tpm: &mut Tpm) {
    if !tpm.started {
        return;
    }
    let now = current_clock(tpm);
    if (now | CLOCK_UPDATE_MASK) > (tpm.perm.clock | CLOCK_UPDATE_MASK) {
        tpm.perm.clock = now;
        tpm.perm.clock_safe = true;
        tpm.dirty = true;
    }
}

/// TPMS_CLOCK_INFO now.
pub(crate) fn clock_info(tpm: &Tpm) -> ClockInfo {
    ClockInfo {
        clock: current_clock(tpm),
        reset_count: tpm.perm.reset_count,
        restart_count: tpm.perm.restart_count,
        safe: tpm.perm.clock_safe,
    }
}

/// TPMS_TIME_INFO now (also what attestation commands embed).
pub(crate) fn time_info(tpm: &Tpm) -> TimeInfo {
    TimeInfo {
        time: tpm.time_since_init(),
        clock_info: clock_info(tpm),
    }
}

/// TPM2_ReadClock (Part 3 §29.1).
pub(crate) fn read_clock(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    ctx.done()?;
    update(tpm);
    ctx.write(&time_info(tpm));
    Ok(())
}

/// TPM2_ClockSet (Part 3 §29.2): Clock may only move forward, and not past
/// 0xFFFF000000000000 (TPM_RC_VALUE on newTime). The new value is
/// committed; it is `safe` again only if it crossed an update boundary, as
/// in the reference TimeClockUpdate().
pub(crate) fn clock_set(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    let new_time: u64 = ctx.read()?;
    ctx.done()?;
    let now = current_clock(tpm);
    if new_time > CLOCK_SET_MAX || new_time < now {
        return Err(Rc::VALUE.param(1));
    }
    if (new_time | CLOCK_UPDATE_MASK) > (tpm.perm.clock | CLOCK_UPDATE_MASK) {
        tpm.perm.clock_safe = true;
    }
    rebase(tpm, new_time);
    tpm.perm.clock = new_time;
    tpm.dirty = true;
    Ok(())
}

/// TPM2_ClockRateAdjust (Part 3 §29.3): TPM_CLOCK_ADJUST is an INT8 from
/// −3 (coarse slower) to +3 (coarse faster); other values are TPM_RC_VALUE
/// when unmarshalled. The adjustment lasts until the next _TPM_Init.
pub(crate) fn clock_rate_adjust(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    let adjust = ctx.read::<u8>()? as i8;
    if !(-3..=3).contains(&adjust) {
        return Err(Rc::VALUE.param(ctx.last_param()));
    }
    ctx.done()?;
    if adjust == 0 {
        return Ok(());
    }
    let step = ADJUST_STEPS
        .get(usize::from(adjust.unsigned_abs()) - 1)
        .copied()
        .unwrap_or(0);
    let now = current_clock(tpm);
    rebase(tpm, now);
    // A larger rate value makes Clock slower.
    let rate = if adjust < 0 {
        tpm.vol.clock.rate.saturating_add(step)
    } else {
        tpm.vol.clock.rate.saturating_sub(step)
    };
    tpm.vol.clock.rate = rate.clamp(CLOCK_NOMINAL - ADJUST_LIMIT, CLOCK_NOMINAL + ADJUST_LIMIT);
    Ok(())
}
