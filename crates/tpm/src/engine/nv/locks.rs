//! NV locks (Part 3 §31.11, §31.12, §31.14; Part 1 §37.2.3): write locks
//! that hold until the index is deleted (TPMA_NV_WRITEDEFINE) or until the
//! next TPM Reset/Restart (TPMA_NV_WRITE_STCLEAR, GLOBALLOCK), and read
//! locks until the next TPM Reset/Restart (TPMA_NV_READ_STCLEAR). Locking
//! an already locked index succeeds.

use crate::rc::Rc;
use crate::types::NvAttributes as A;

use super::super::dispatch::Ctx;
use super::super::Tpm;
use super::access::{read_access_checks, write_access_checks};
use super::{checked, set_attributes};

/// TPM2_NV_WriteLock (Part 3 §31.11): only an index with WRITEDEFINE or
/// WRITE_STCLEAR can be write-locked (TPM_RC_ATTRIBUTES); a wrong
/// authorization is TPM_RC_NV_AUTHORIZATION even when already locked.
pub(crate) fn nv_write_lock(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    let (auth_handle, nv_handle) = (ctx.handle(0), ctx.handle(1));
    ctx.done()?;
    let idx = checked(tpm, nv_handle)?;
    match write_access_checks(idx, auth_handle, nv_handle) {
        Ok(()) => {}
        Err(Rc::NV_AUTHORIZATION) => return Err(Rc::NV_AUTHORIZATION),
        // Already locked: nothing to do.
        Err(_) => return Ok(()),
    }
    if !idx.has(A::WRITEDEFINE) && !idx.has(A::WRITE_STCLEAR) {
        return Err(Rc::ATTRIBUTES.handle(2));
    }
    let locked = idx.attrs().with(A::WRITELOCKED, true);
    set_attributes(tpm, nv_handle, locked);
    Ok(())
}

/// TPM2_NV_ReadLock (Part 3 §31.14): only an index with READ_STCLEAR can
/// be read-locked (TPM_RC_ATTRIBUTES); locking an unwritten index is
/// allowed.
pub(crate) fn nv_read_lock(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    let (auth_handle, nv_handle) = (ctx.handle(0), ctx.handle(1));
    ctx.done()?;
    let idx = checked(tpm, nv_handle)?;
    match read_access_checks(idx, auth_handle, nv_handle) {
        Ok(()) | Err(Rc::NV_UNINITIALIZED) => {}
        Err(Rc::NV_LOCKED) => return Ok(()),
        Err(e) => return Err(e),
    }
    if !idx.has(A::READ_STCLEAR) {
        return Err(Rc::ATTRIBUTES.handle(2));
    }
    let locked = idx.attrs().with(A::READLOCKED, true);
    set_attributes(tpm, nv_handle, locked);
    Ok(())
}

/// TPM2_NV_GlobalWriteLock (Part 3 §31.12): write-locks every index with
/// TPMA_NV_GLOBALLOCK until the next TPM Reset or Restart.
pub(crate) fn nv_global_write_lock(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    ctx.done()?;
    let targets: Vec<(u32, A)> = tpm
        .perm
        .nv
        .indices
        .values()
        .filter(|i| i.has(A::GLOBALLOCK))
        .map(|i| (i.public.nv_index, i.attrs().with(A::WRITELOCKED, true)))
        .collect();
    for (h, attrs) in targets {
        set_attributes(tpm, h, attrs);
    }
    Ok(())
}
