//! TPM2_HierarchyControl (Part 3 §24.2): enabling and disabling the
//! platform, storage and endorsement hierarchies and platform NV.
//!
//! The enables are STATE_CLEAR data (TPMA_STARTUP_CLEAR phEnable,
//! shEnable, ehEnable, phEnableNV): every Startup(CLEAR) sets them again.
//! While a hierarchy is disabled its handle is refused with
//! TPM_RC_HIERARCHY (engine/command.rs `check_handle`, Part 1 §13.5), so
//! the platform hierarchy, once disabled, can only come back at the next
//! Startup(CLEAR).

use crate::constants::rh;
use crate::rc::Rc;
use crate::wire::WireError;

use super::super::dispatch::Ctx;
use super::super::objects;
use super::super::Tpm;

/// Reads a TPMI_RH_ENABLES (Part 2 §9.10): the hierarchy whose enable is
/// changed; anything else is TPM_RC_VALUE on the parameter.
fn read_enables(r: &mut crate::wire::Reader<'_>) -> Result<u32, WireError> {
    let h = r.u32()?;
    match h {
        rh::OWNER | rh::ENDORSEMENT | rh::PLATFORM | rh::PLATFORM_NV => Ok(h),
        _ => Err(WireError::Value),
    }
}

/// TPM2_HierarchyControl. Who may do what (reference TPM2_HierarchyControl,
/// all violations TPM_RC_AUTH_TYPE):
/// - phEnable and phEnableNV: platform authorization only;
/// - shEnable / ehEnable: platform or owner / endorsement authorization to
///   disable, platform authorization only to enable again.
///
/// Disabling a hierarchy flushes its loaded objects.
pub(crate) fn hierarchy_control(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    let enable = ctx.read_with(read_enables)?;
    let state: bool = ctx.read()?;
    ctx.done()?;
    let auth = ctx.handle(0);
    let allowed = match enable {
        rh::OWNER => {
            (auth == rh::PLATFORM || auth == rh::OWNER)
                && (tpm.vol.sh_enable || !state || auth == rh::PLATFORM)
        }
        rh::ENDORSEMENT => {
            (auth == rh::PLATFORM || auth == rh::ENDORSEMENT)
                && (tpm.vol.eh_enable || !state || auth == rh::PLATFORM)
        }
        _ => auth == rh::PLATFORM,
    };
    if !allowed {
        return Err(Rc::AUTH_TYPE);
    }
    let slot = match enable {
        rh::OWNER => &mut tpm.vol.sh_enable,
        rh::ENDORSEMENT => &mut tpm.vol.eh_enable,
        rh::PLATFORM => &mut tpm.vol.ph_enable,
        _ => &mut tpm.vol.ph_enable_nv,
    };
    if *slot != state {
        *slot = state;
        if !state && enable != rh::PLATFORM_NV {
            objects::flush_hierarchy(tpm, enable);
        }
    }
    Ok(())
}
