//! NV indices (TPM 2.0 Part 1 §37, Part 3 §31): ordinary, counter, bit
//! field, extend and PIN pass/fail indices, their attributes, locks and
//! authorizations, kept in the permanent state.
//!
//! - `store`: the indices, their NV/RAM accounting and blob form;
//! - `define`: TPM2_NV_DefineSpace, _UndefineSpace, _UndefineSpaceSpecial;
//! - `access`: TPM2_NV_Write, _Read, _Increment, _Extend, _SetBits,
//!   _ReadPublic, _ChangeAuth and the read/write access checks;
//! - `locks`: TPM2_NV_WriteLock, _ReadLock, _GlobalWriteLock;
//! - `lifecycle`: what TPM2_Startup, TPM2_Shutdown and TPM2_Clear do to
//!   indices;
//! - `authz`: which authorizations an index accepts for a command, and PIN
//!   index counting (reference SessionProcess.c).
//!
//! This file holds the lookups the rest of the engine uses (authorization,
//! handle checks, capabilities, attestation).

mod access;
mod authz;
mod define;
mod lifecycle;
mod locks;
mod store;

pub(crate) use access::{
    nv_change_auth, nv_extend, nv_increment, nv_read, nv_read_public, nv_set_bits, nv_write,
};
pub(crate) use authz::{after_auth, check_auth_use};
pub(crate) use define::{nv_define_space, nv_undefine_space, nv_undefine_space_special};
pub(crate) use lifecycle::{flush_owner_indices, shutdown, startup};
pub(crate) use locks::{nv_global_write_lock, nv_read_lock, nv_write_lock};
pub(crate) use store::NvStore;

use zeroize::Zeroizing;

use crate::constants::rh;
use crate::crypto::HashAlg;
use crate::rc::Rc;
use crate::types::{Name, NvAttributes, NvPublic, MAX_NV_BUFFER_SIZE};

use super::dispatch::{HandleKind, Role};
use super::Tpm;
use store::NvIndex;

/// Handle areas of the NV commands (Part 3 §31 "Command Structure"
/// tables): TPMI_RH_NV_AUTH @authHandle (USER) and TPMI_RH_NV_INDEX.
pub(crate) const AUTH_AND_INDEX: &[(HandleKind, Role)] = &[
    (HandleKind::NvAuth, Role::User),
    (HandleKind::NvIndex, Role::None),
];
/// TPMI_RH_PROVISION @authHandle and TPMI_RH_NV_INDEX (NV_UndefineSpace).
pub(crate) const PROVISION_AND_INDEX: &[(HandleKind, Role)] = &[
    (
        HandleKind::Permanent(&[rh::OWNER, rh::PLATFORM]),
        Role::User,
    ),
    (HandleKind::NvIndex, Role::None),
];
/// TPMI_RH_NV_INDEX @nvIndex (ADMIN) and TPMI_RH_PLATFORM @platform
/// (NV_UndefineSpaceSpecial).
pub(crate) const INDEX_ADMIN_AND_PLATFORM: &[(HandleKind, Role)] = &[
    (HandleKind::NvIndex, Role::Admin),
    (HandleKind::Permanent(&[rh::PLATFORM]), Role::User),
];
/// TPMI_RH_NV_INDEX @nvIndex (ADMIN) (NV_ChangeAuth).
pub(crate) const INDEX_ADMIN: &[(HandleKind, Role)] = &[(HandleKind::NvIndex, Role::Admin)];
/// TPMI_RH_NV_INDEX without authorization (NV_ReadPublic).
pub(crate) const INDEX_ONLY: &[(HandleKind, Role)] = &[(HandleKind::NvIndex, Role::None)];

/// The index `handle` refers to, if defined.
fn index(tpm: &Tpm, handle: u32) -> Option<&NvIndex> {
    tpm.perm.nv.get(handle)
}

/// The index of a handle that passed [`check_accessible`] during handle
/// processing; its absence is an internal inconsistency.
fn checked(tpm: &Tpm, handle: u32) -> Result<&NvIndex, Rc> {
    index(tpm, handle).ok_or(Rc::FAILURE)
}

/// NvIndexIsAccessible (reference NVDynamic.c), the load check of a
/// TPMI_RH_NV_INDEX handle: an undefined index is TPM_RC_HANDLE, and so is
/// an index of a disabled hierarchy — owner-created ones while shEnable is
/// CLEAR, platform-created ones while phEnableNV is CLEAR (Part 1 §13.5).
pub(crate) fn check_accessible(tpm: &Tpm, handle: u32) -> Result<(), Rc> {
    let idx = index(tpm, handle).ok_or(Rc::HANDLE)?;
    let visible = if idx.has(NvAttributes::PLATFORMCREATE) {
        tpm.vol.ph_enable_nv
    } else {
        tpm.vol.sh_enable
    };
    if visible {
        Ok(())
    } else {
        Err(Rc::HANDLE)
    }
}

/// The authValue of an NV index.
pub(crate) fn auth_value(tpm: &Tpm, handle: u32) -> Result<Zeroizing<Vec<u8>>, Rc> {
    index(tpm, handle)
        .map(|i| Zeroizing::new(i.auth.to_vec()))
        .ok_or(Rc::HANDLE)
}

/// The authPolicy of an NV index and its nameAlg; `None` when the policy
/// is empty (no policy session can authorize it, Part 1 §19.7.1).
pub(crate) fn auth_policy(tpm: &Tpm, handle: u32) -> Option<(HashAlg, Vec<u8>)> {
    let idx = index(tpm, handle)?;
    if idx.public.auth_policy.is_empty() {
        return None;
    }
    Some((idx.name_alg(), idx.public.auth_policy.as_slice().to_vec()))
}

/// The Name of an NV index: nameAlg || H(TPMS_NV_PUBLIC), over the live
/// attributes (Part 1 §16); empty for an undefined handle.
pub(crate) fn name(tpm: &Tpm, handle: u32) -> Vec<u8> {
    index(tpm, handle).map(NvIndex::name).unwrap_or_default()
}

/// Whether failures count against the lockout (TPMA_NV_NO_DA clear,
/// Part 1 §19.8.4).
pub(crate) fn is_da_protected(tpm: &Tpm, handle: u32) -> bool {
    index(tpm, handle).is_some_and(|i| !i.has(NvAttributes::NO_DA))
}

/// TPMA_NV_WRITTEN of an index, None when no such index.
pub(crate) fn written(tpm: &Tpm, handle: u32) -> Option<bool> {
    index(tpm, handle).map(|i| i.has(NvAttributes::WRITTEN))
}

// ---------------------------------------------------------------------------
// Accessors for other command groups (policy, attestation, capability).

/// The public area of an index, with its live attributes.
pub(crate) fn public(tpm: &Tpm, handle: u32) -> Option<NvPublic> {
    index(tpm, handle).map(|i| i.public.clone())
}

/// The Name of an index as a [`Name`].
#[allow(dead_code)] // for PolicyNV / NV_Certify
pub(crate) fn index_name(tpm: &Tpm, handle: u32) -> Option<Name> {
    index(tpm, handle).and_then(|i| Name::new(i.name()).ok())
}

/// The whole data area of an index (zeros where never written).
pub(crate) fn data(tpm: &Tpm, handle: u32) -> Option<&[u8]> {
    index(tpm, handle).map(|i| i.data.as_slice())
}

/// NvReadAccessChecks for `auth_handle` reading `nv_handle` (PolicyNV,
/// PolicyAuthorizeNV, NV_Certify): TPM_RC_NV_LOCKED, _NV_AUTHORIZATION or
/// _NV_UNINITIALIZED.
pub(crate) fn check_read(tpm: &Tpm, auth_handle: u32, nv_handle: u32) -> Result<(), Rc> {
    access::read_access_checks(checked(tpm, nv_handle)?, auth_handle, nv_handle)
}

/// What TPM2_NV_Certify (Part 3 §31.16) reads, after the signing-key and
/// scheme checks its caller makes: the read access checks, then
/// `size + offset` within the index (TPM_RC_NV_RANGE), then `size` within
/// MAX_NV_BUFFER_SIZE (TPM_RC_VALUE on parameter `size_param`). Returns
/// the index Name and either the `size` octets at `offset` or, when both
/// are zero (TPM_ST_ATTEST_NV_DIGEST), the whole data area to be hashed.
#[allow(dead_code)] // for TPM2_NV_Certify (attestation helper)
pub(crate) fn certify_contents(
    tpm: &Tpm,
    auth_handle: u32,
    nv_handle: u32,
    size: u16,
    offset: u16,
    size_param: u32,
) -> Result<(Name, Vec<u8>), Rc> {
    let idx = checked(tpm, nv_handle)?;
    access::read_access_checks(idx, auth_handle, nv_handle)?;
    if u32::from(size) + u32::from(offset) > u32::from(idx.public.data_size) {
        return Err(Rc::NV_RANGE);
    }
    if usize::from(size) > MAX_NV_BUFFER_SIZE {
        return Err(Rc::VALUE.param(size_param));
    }
    let name = Name::new(idx.name()).map_err(|_| Rc::FAILURE)?;
    let contents = if size == 0 && offset == 0 {
        idx.data.clone()
    } else {
        let (o, n) = (usize::from(offset), usize::from(size));
        idx.data.get(o..o + n).ok_or(Rc::NV_RANGE)?.to_vec()
    };
    Ok((name, contents))
}

/// The defined NV index handles, ascending (TPM_CAP_HANDLES).
pub(crate) fn handles(tpm: &Tpm) -> impl Iterator<Item = u32> + '_ {
    tpm.perm.nv.indices.keys().copied()
}

/// TPM_PT_HR_NV_INDEX: the number of defined indices.
pub(crate) fn count(tpm: &Tpm) -> u32 {
    tpm.perm.nv.indices.len() as u32
}

/// TPM_PT_NV_COUNTERS: the number of counter indices.
pub(crate) fn counters(tpm: &Tpm) -> u32 {
    tpm.perm.nv.counters() as u32
}

/// TPM_PT_NV_COUNTERS_AVAIL: how many more counters would fit.
pub(crate) fn counters_avail(tpm: &Tpm) -> u32 {
    tpm.perm.nv.counters_avail() as u32
}

// ---------------------------------------------------------------------------
// Updates shared by the commands.

/// Writes `bytes` at `offset` of an index's data (reference
/// NvWriteIndexData): the first write SETs TPMA_NV_WRITTEN and clears an
/// ordinary index's data first, so a partial write never exposes older
/// contents — to 0xFF, erased NV, or to zeros for an orderly index's RAM,
/// as libtpms does; orderly indices change in RAM only, except that the
/// first write of an orderly counter is committed at once.
fn write_data(tpm: &mut Tpm, handle: u32, offset: usize, bytes: &[u8]) {
    let Some(idx) = tpm.perm.nv.get_mut(handle) else {
        return;
    };
    let orderly = idx.is_orderly();
    let mut commit = false;
    if !idx.has(NvAttributes::WRITTEN) {
        idx.public.attributes = idx.attrs().with(NvAttributes::WRITTEN, true);
        match idx.nv_type() {
            Some(crate::types::NvType::Ordinary) => {
                idx.data.fill(if orderly { 0 } else { ERASED });
            }
            Some(crate::types::NvType::Counter) => commit = orderly,
            _ => {}
        }
    }
    if let Some(dst) = idx.data.get_mut(offset..offset.saturating_add(bytes.len())) {
        dst.copy_from_slice(bytes);
    }
    if !orderly {
        tpm.dirty = true;
    }
    if commit {
        commit_orderly(tpm);
    }
}

/// The value of erased NV memory (reference _plat__NvMemoryClear).
const ERASED: u8 = 0xFF;

/// Writes an 8-octet integer value (counter, bits, PIN parameters) in
/// canonical big-endian form (reference NvWriteUINT64Data).
fn write_u64(tpm: &mut Tpm, handle: u32, value: u64) {
    write_data(tpm, handle, 0, &value.to_be_bytes());
}

/// Replaces an index's attributes: in RAM for an orderly index, in NV
/// otherwise (reference NvWriteIndexAttributes).
fn set_attributes(tpm: &mut Tpm, handle: u32, attributes: NvAttributes) {
    let Some(idx) = tpm.perm.nv.get_mut(handle) else {
        return;
    };
    if idx.public.attributes == attributes {
        return;
    }
    idx.public.attributes = attributes;
    if !idx.is_orderly() {
        tpm.dirty = true;
    }
}

/// Commits the RAM copy of every orderly index to NV (UT_ORDERLY).
fn commit_orderly(tpm: &mut Tpm) {
    if tpm.perm.nv.commit_orderly() {
        tpm.dirty = true;
    }
}
