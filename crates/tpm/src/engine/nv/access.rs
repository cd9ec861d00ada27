//! Reading and writing NV index data (Part 3 §31.5–§31.14): the common
//! access checks and the commands that read, write, increment, extend and
//! set bits, read the public area and change the authValue. Checks run in
//! the order of the reference code so the response codes match libtpms.

use zeroize::Zeroizing;

use crate::constants::rh;
use crate::rc::Rc;
use crate::types::{
    Auth2b, MaxNvBuffer, Name, NvAttributes, NvPublic2b, NvType, MAX_NV_BUFFER_SIZE,
};

use super::super::auth::trim;
use super::super::dispatch::Ctx;
use super::super::Tpm;
use super::store::{NvIndex, MAX_ORDERLY_COUNT};
use super::{checked, commit_orderly, write_data, write_u64};

/// NvReadAccessChecks (reference NV_spt.c): a read-locked index is
/// TPM_RC_NV_LOCKED; owner and platform authorization need OWNERREAD and
/// PPREAD, any other authorization must be the index's own
/// (TPM_RC_NV_AUTHORIZATION; whether AUTHREAD or POLICYREAD allows it was
/// decided when the session was checked); an unwritten index is
/// TPM_RC_NV_UNINITIALIZED — checked last, so TPM2_NV_ReadLock can tell a
/// wrong authorization from an uninitialized index.
pub(super) fn read_access_checks(
    idx: &NvIndex,
    auth_handle: u32,
    nv_handle: u32,
) -> Result<(), Rc> {
    if idx.has(NvAttributes::READLOCKED) {
        return Err(Rc::NV_LOCKED);
    }
    let allowed = match auth_handle {
        rh::OWNER => idx.has(NvAttributes::OWNERREAD),
        rh::PLATFORM => idx.has(NvAttributes::PPREAD),
        h => h == nv_handle,
    };
    if !allowed {
        return Err(Rc::NV_AUTHORIZATION);
    }
    if !idx.has(NvAttributes::WRITTEN) {
        return Err(Rc::NV_UNINITIALIZED);
    }
    Ok(())
}

/// NvWriteAccessChecks: a write-locked index is TPM_RC_NV_LOCKED; owner
/// and platform authorization need OWNERWRITE and PPWRITE, any other must
/// be the index's own (TPM_RC_NV_AUTHORIZATION).
pub(super) fn write_access_checks(
    idx: &NvIndex,
    auth_handle: u32,
    nv_handle: u32,
) -> Result<(), Rc> {
    if idx.has(NvAttributes::WRITELOCKED) {
        return Err(Rc::NV_LOCKED);
    }
    let allowed = match auth_handle {
        rh::OWNER => idx.has(NvAttributes::OWNERWRITE),
        rh::PLATFORM => idx.has(NvAttributes::PPWRITE),
        h => h == nv_handle,
    };
    if allowed {
        Ok(())
    } else {
        Err(Rc::NV_AUTHORIZATION)
    }
}

/// TPM2_NV_Write (Part 3 §31.7): writes `data` at `offset` of an ordinary
/// or PIN index. Counter, bit-field and extend indices have their own
/// commands (TPM_RC_ATTRIBUTES); an offset past the end is TPM_RC_VALUE,
/// data past the end — or short of the whole index when TPMA_NV_WRITEALL
/// is SET — TPM_RC_NV_RANGE.
pub(crate) fn nv_write(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    let (auth_handle, nv_handle) = (ctx.handle(0), ctx.handle(1));
    let data: MaxNvBuffer = ctx.read()?;
    let offset: u16 = ctx.read()?;
    ctx.done()?;
    let idx = checked(tpm, nv_handle)?;
    write_access_checks(idx, auth_handle, nv_handle)?;
    if matches!(
        idx.nv_type(),
        Some(NvType::Counter | NvType::Bits | NvType::Extend)
    ) {
        return Err(Rc::ATTRIBUTES);
    }
    let size = idx.public.data_size;
    if offset > size {
        return Err(Rc::VALUE.param(2));
    }
    if data.len() > usize::from(size - offset) {
        return Err(Rc::NV_RANGE);
    }
    if idx.has(NvAttributes::WRITEALL) && data.len() < usize::from(size) {
        return Err(Rc::NV_RANGE);
    }
    write_data(tpm, nv_handle, usize::from(offset), data.as_slice());
    Ok(())
}

/// TPM2_NV_Read (Part 3 §31.13): `size` octets at `offset`. More than
/// MAX_NV_BUFFER_SIZE is TPM_RC_VALUE (size), an offset past the end
/// TPM_RC_VALUE (offset), a range past the end TPM_RC_NV_RANGE.
pub(crate) fn nv_read(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    let (auth_handle, nv_handle) = (ctx.handle(0), ctx.handle(1));
    let size: u16 = ctx.read()?;
    let offset: u16 = ctx.read()?;
    ctx.done()?;
    let idx = checked(tpm, nv_handle)?;
    read_access_checks(idx, auth_handle, nv_handle)?;
    if usize::from(size) > MAX_NV_BUFFER_SIZE {
        return Err(Rc::VALUE.param(1));
    }
    let total = idx.public.data_size;
    if offset > total {
        return Err(Rc::VALUE.param(2));
    }
    if size > total - offset {
        return Err(Rc::NV_RANGE);
    }
    let (o, n) = (usize::from(offset), usize::from(size));
    let bytes = idx.data.get(o..o + n).ok_or(Rc::NV_RANGE)?.to_vec();
    ctx.write(&MaxNvBuffer::new(bytes).map_err(|_| Rc::FAILURE)?);
    Ok(())
}

/// TPM2_NV_Increment (Part 3 §31.8): adds one to a counter. An unwritten
/// counter starts from the largest value any deleted counter reached, so a
/// counter can never be rolled back by deleting and redefining it. An
/// orderly counter is committed to NV whenever its low bits roll over.
pub(crate) fn nv_increment(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    let (auth_handle, nv_handle) = (ctx.handle(0), ctx.handle(1));
    ctx.done()?;
    let idx = checked(tpm, nv_handle)?;
    write_access_checks(idx, auth_handle, nv_handle)?;
    if idx.nv_type() != Some(NvType::Counter) {
        return Err(Rc::ATTRIBUTES.handle(2));
    }
    let old = if idx.has(NvAttributes::WRITTEN) {
        idx.u64_value()
    } else {
        tpm.perm.nv.max_counter
    };
    let orderly = idx.is_orderly();
    let new = old.wrapping_add(1);
    write_u64(tpm, nv_handle, new);
    if orderly && new & MAX_ORDERLY_COUNT == 0 {
        commit_orderly(tpm);
    }
    Ok(())
}

/// TPM2_NV_Extend (Part 3 §31.9): data = H_nameAlg(data || input), from
/// zeros when unwritten.
pub(crate) fn nv_extend(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    let (auth_handle, nv_handle) = (ctx.handle(0), ctx.handle(1));
    let input: MaxNvBuffer = ctx.read()?;
    ctx.done()?;
    let idx = checked(tpm, nv_handle)?;
    write_access_checks(idx, auth_handle, nv_handle)?;
    if idx.nv_type() != Some(NvType::Extend) {
        return Err(Rc::ATTRIBUTES.handle(2));
    }
    let h = idx.name_alg();
    let old = if idx.has(NvAttributes::WRITTEN) {
        idx.data.clone()
    } else {
        vec![0; h.digest_size()]
    };
    let new = h.digest(&[&old, input.as_slice()]);
    write_data(tpm, nv_handle, 0, &new);
    Ok(())
}

/// TPM2_NV_SetBits (Part 3 §31.10): ORs `bits` into a bit field, from 0
/// when unwritten.
pub(crate) fn nv_set_bits(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    let (auth_handle, nv_handle) = (ctx.handle(0), ctx.handle(1));
    let bits: u64 = ctx.read()?;
    ctx.done()?;
    let idx = checked(tpm, nv_handle)?;
    write_access_checks(idx, auth_handle, nv_handle)?;
    if idx.nv_type() != Some(NvType::Bits) {
        return Err(Rc::ATTRIBUTES.handle(2));
    }
    let old = if idx.has(NvAttributes::WRITTEN) {
        idx.u64_value()
    } else {
        0
    };
    write_u64(tpm, nv_handle, old | bits);
    Ok(())
}

/// TPM2_NV_ReadPublic (Part 3 §31.6): the public area (live attributes)
/// and the Name.
pub(crate) fn nv_read_public(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    let nv_handle = ctx.handle(0);
    ctx.done()?;
    let idx = checked(tpm, nv_handle)?;
    let name = Name::new(idx.name()).map_err(|_| Rc::FAILURE)?;
    let public = NvPublic2b(idx.public.clone());
    ctx.write(&public);
    ctx.write(&name);
    Ok(())
}

/// TPM2_NV_ChangeAuth (Part 3 §31.15): a new authValue, at most the
/// nameAlg digest size once trailing zeros are removed (TPM_RC_SIZE).
/// Authorized by the index's ADMIN role: a policy session with
/// TPM2_PolicyCommandCode(TPM_CC_NV_ChangeAuth).
pub(crate) fn nv_change_auth(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    let nv_handle = ctx.handle(0);
    let new_auth: Auth2b = ctx.read()?;
    ctx.done()?;
    let idx = checked(tpm, nv_handle)?;
    let new_auth = trim(new_auth.as_slice());
    if new_auth.len() > idx.name_alg().digest_size() {
        return Err(Rc::SIZE.param(1));
    }
    let new_auth = Zeroizing::new(new_auth.to_vec());
    if let Some(idx) = tpm.perm.nv.get_mut(nv_handle) {
        idx.auth = new_auth;
        tpm.dirty = true;
    }
    Ok(())
}
