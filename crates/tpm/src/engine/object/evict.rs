//! TPM2_EvictControl (Part 3 §28.5): makes a loaded object persistent, or
//! removes a persistent one. Persistent objects are part of the permanent
//! state (the host stores it before the response goes out) and are listed
//! by TPM2_GetCapability(TPM_CAP_HANDLES, TPM_HT_PERSISTENT).

use crate::constants::rh;
use crate::rc::Rc;

use super::super::dispatch::Ctx;
use super::super::Tpm;
use super::store::MAX_PERSISTENT;
use super::{PERSISTENT_LAST, PLATFORM_PERSISTENT};

/// TPM2_EvictControl. Handles: auth (1, TPMI_RH_PROVISION), objectHandle
/// (2). Parameter: persistentHandle (1, TPMI_DH_PERSISTENT).
pub(crate) fn evict_control(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    let auth = ctx.handle(0);
    let object_handle = ctx.handle(1);
    let persistent = ctx.read_with(|r| {
        let h = r.u32()?;
        if (rh::PERSISTENT_FIRST..=PERSISTENT_LAST).contains(&h) {
            Ok(h)
        } else {
            Err(crate::wire::WireError::Value)
        }
    })?;
    ctx.done()?;

    let object = tpm.object(object_handle).ok_or(Rc::HANDLE.handle(2))?;
    let evicted = rh::handle_type(object_handle) == rh::HT_PERSISTENT;
    if object.flags.temporary || object.flags.st_clear || object.is_public_only() {
        return Err(Rc::ATTRIBUTES.handle(2));
    }
    if evicted && object_handle != persistent {
        return Err(Rc::HANDLE.handle(2));
    }
    let platform_range = persistent >= PLATFORM_PERSISTENT;
    if auth == rh::PLATFORM {
        if !evicted {
            // The platform may only make its own objects persistent, in
            // its own range; it may remove any persistent object.
            if object.hierarchy != rh::PLATFORM {
                return Err(Rc::HIERARCHY.handle(2));
            }
            if !platform_range {
                return Err(Rc::RANGE.param(1));
            }
        }
    } else {
        if object.hierarchy == rh::PLATFORM {
            return Err(Rc::HIERARCHY.handle(2));
        }
        if !evicted && platform_range {
            return Err(Rc::RANGE.param(1));
        }
    }

    if evicted {
        tpm.perm.objects.persistent.remove(&persistent);
    } else {
        if tpm.perm.objects.persistent.contains_key(&persistent) {
            return Err(Rc::NV_DEFINED);
        }
        if tpm.perm.objects.persistent.len() >= MAX_PERSISTENT {
            return Err(Rc::NV_SPACE);
        }
        let copy = object.clone();
        tpm.perm.objects.persistent.insert(persistent, copy);
    }
    tpm.dirty = true;
    Ok(())
}
