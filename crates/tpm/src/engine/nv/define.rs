//! Defining and deleting NV indices (Part 3 §31.3–§31.5): the attribute
//! rules of Part 2 §13.4 and Part 1 §37 in the order the reference
//! TPM2_NV_DefineSpace checks them, so every refusal carries the same
//! response code (and handle/parameter number) as libtpms.

use zeroize::Zeroizing;

use crate::constants::rh;
use crate::rc::Rc;
use crate::types::{Auth2b, NvAttributes as A, NvPublic, NvPublic2b, NvType, MAX_NV_BUFFER_SIZE};

use super::super::algorithms::Implemented;
use super::super::auth::trim;
use super::super::dispatch::Ctx;
use super::super::Tpm;
use super::store::{NvIndex, Saved};
use super::{checked, commit_orderly};

/// Parameter numbers of TPM2_NV_DefineSpace: auth, publicInfo; handle 1
/// is authHandle.
const P_AUTH: u32 = 1;
const P_PUBLIC: u32 = 2;

/// TPM2_NV_DefineSpace (Part 3 §31.3).
pub(crate) fn nv_define_space(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    let auth_handle = ctx.handle(0);
    let auth: Auth2b = ctx.read()?;
    let public = ctx
        .read_with(|r| NvPublic2b::decode_with(r, &Implemented))?
        .0;
    ctx.done()?;
    let auth = trim(auth.as_slice());
    check_definition(tpm, auth_handle, auth, &public)?;
    if tpm.perm.nv.get(public.nv_index).is_some() {
        return Err(Rc::NV_DEFINED);
    }
    if !tpm.perm.nv.has_room_for(&public) {
        return Err(Rc::NV_SPACE);
    }
    let size = usize::from(public.data_size);
    let orderly = public.attributes.contains(A::ORDERLY);
    let saved = orderly.then(|| Saved {
        attributes: public.attributes,
        data: vec![0; size],
    });
    let handle = public.nv_index;
    tpm.perm.nv.indices.insert(
        handle,
        NvIndex {
            public,
            auth: Zeroizing::new(auth.to_vec()),
            data: vec![0; size],
            saved,
        },
    );
    tpm.dirty = true;
    // A new orderly index's RAM entry is committed at once (reference
    // NvAddRAM), together with every other orderly index's RAM.
    if orderly {
        commit_orderly(tpm);
    }
    Ok(())
}

/// The input validation of TPM2_NV_DefineSpace (reference NvDefineSpace),
/// up to but not including "already defined" and "no space".
fn check_definition(tpm: &Tpm, auth_handle: u32, auth: &[u8], p: &NvPublic) -> Result<(), Rc> {
    let a = p.attributes;
    // The nameAlg was checked at unmarshalling (TPM_RC_HASH).
    let name_size = crate::crypto::HashAlg::from_id(p.name_alg)
        .map(|h| h.digest_size())
        .ok_or(Rc::HASH.param(P_PUBLIC))?;
    let attr = || Rc::ATTRIBUTES.param(P_PUBLIC);
    let size = || Rc::SIZE.param(P_PUBLIC);

    // An authPolicy is empty or a digest of the nameAlg; an authValue is no
    // longer than that digest.
    if !p.auth_policy.is_empty() && p.auth_policy.len() != name_size {
        return Err(size());
    }
    if auth.len() > name_size {
        return Err(Rc::SIZE.param(P_AUTH));
    }
    // Owner authorization is impossible while shEnable is CLEAR (handle
    // check); platform authorization still works with phEnableNV CLEAR,
    // but may not define indices (Part 1 §13.5).
    if auth_handle == rh::PLATFORM && !tpm.vol.ph_enable_nv {
        return Err(Rc::HIERARCHY.handle(1));
    }

    let Some(t) = a.nv_type() else {
        return Err(attr());
    };
    let data_size = usize::from(p.data_size);
    let size_ok = match t {
        // dataSize <= MAX_NV_INDEX_SIZE was checked at unmarshalling.
        NvType::Ordinary => true,
        NvType::Extend => data_size == name_size,
        NvType::Counter | NvType::Bits | NvType::PinFail | NvType::PinPass => data_size == 8,
    };
    if !size_ok {
        return Err(size());
    }
    match t {
        // Counters are never cleared.
        NvType::Counter if a.contains(A::CLEAR_STCLEAR) => return Err(attr()),
        // A PIN Fail index counts failures, so it must not itself be
        // DA-protected; neither PIN type may be written with its own
        // authValue (unusable before the first write), be globally locked
        // or be locked for good (Part 1 §37.2.4).
        NvType::PinFail if !a.contains(A::NO_DA) => return Err(attr()),
        NvType::PinFail | NvType::PinPass
            if a.0 & (A::AUTHWRITE | A::GLOBALLOCK | A::WRITEDEFINE) != 0 =>
        {
            return Err(attr())
        }
        _ => {}
    }
    // WRITTEN and the locks are state, not definitions.
    if a.0 & (A::WRITTEN | A::WRITELOCKED | A::READLOCKED) != 0 {
        return Err(attr());
    }
    // There must be a way to read it and a way to write it.
    if a.0 & (A::OWNERREAD | A::PPREAD | A::AUTHREAD | A::POLICYREAD) == 0
        || a.0 & (A::OWNERWRITE | A::PPWRITE | A::AUTHWRITE | A::POLICYWRITE) == 0
    {
        return Err(attr());
    }
    // Data cleared at every TPM Restart cannot be locked for good.
    if a.contains(A::CLEAR_STCLEAR) && a.contains(A::WRITEDEFINE) {
        return Err(attr());
    }
    // PLATFORMCREATE says who defined it, and so who may delete it.
    if a.contains(A::PLATFORMCREATE) != (auth_handle == rh::PLATFORM) {
        return Err(Rc::ATTRIBUTES.handle(1));
    }
    // Only the platform may define an index that only a policy deletes.
    if a.contains(A::POLICY_DELETE) && auth_handle != rh::PLATFORM {
        return Err(attr());
    }
    // WRITEALL needs the whole index in one TPM2_NV_Write.
    if data_size > MAX_NV_BUFFER_SIZE && a.contains(A::WRITEALL) {
        return Err(size());
    }
    Ok(())
}

/// Deletes an index (reference NvDeleteIndex): a written counter's value
/// raises the floor new counters start from; deleting an orderly index
/// commits the orderly RAM.
fn delete(tpm: &mut Tpm, handle: u32) {
    let Some(idx) = tpm.perm.nv.indices.remove(&handle) else {
        return;
    };
    if idx.nv_type() == Some(NvType::Counter) && idx.has(A::WRITTEN) {
        tpm.perm.nv.max_counter = tpm.perm.nv.max_counter.max(idx.u64_value());
    }
    tpm.dirty = true;
    if idx.is_orderly() {
        commit_orderly(tpm);
    }
}

/// Deletes every index the owner defined (TPMA_NV_PLATFORMCREATE CLEAR),
/// as TPM2_Clear does (reference NvFlushHierarchy(TPM_RH_OWNER)).
pub(super) fn delete_owner_indices(tpm: &mut Tpm) {
    let owner: Vec<u32> = tpm
        .perm
        .nv
        .indices
        .values()
        .filter(|i| !i.has(A::PLATFORMCREATE))
        .map(|i| i.public.nv_index)
        .collect();
    for h in owner {
        delete(tpm, h);
    }
}

/// TPM2_NV_UndefineSpace (Part 3 §31.4): an index with
/// TPMA_NV_POLICY_DELETE needs TPM2_NV_UndefineSpaceSpecial
/// (TPM_RC_ATTRIBUTES); the owner cannot delete a platform index
/// (TPM_RC_NV_AUTHORIZATION). Locks do not prevent deletion.
pub(crate) fn nv_undefine_space(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    let (auth_handle, nv_handle) = (ctx.handle(0), ctx.handle(1));
    ctx.done()?;
    let idx = checked(tpm, nv_handle)?;
    if idx.has(A::POLICY_DELETE) {
        return Err(Rc::ATTRIBUTES.handle(2));
    }
    if auth_handle == rh::OWNER && idx.has(A::PLATFORMCREATE) {
        return Err(Rc::NV_AUTHORIZATION);
    }
    delete(tpm, nv_handle);
    Ok(())
}

/// TPM2_NV_UndefineSpaceSpecial (Part 3 §31.5): deletes an index with
/// TPMA_NV_POLICY_DELETE, authorized by both its policy (ADMIN role) and
/// the platform. The response HMAC of the index's session no longer
/// includes the deleted authValue.
pub(crate) fn nv_undefine_space_special(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    let nv_handle = ctx.handle(0);
    ctx.done()?;
    let idx = checked(tpm, nv_handle)?;
    if !idx.has(A::POLICY_DELETE) {
        return Err(Rc::ATTRIBUTES.handle(1));
    }
    delete(tpm, nv_handle);
    Ok(())
}
