//! NV indices (Part 3 §31): definition, access and persistence.
//! TODO(nv helper): everything below is a placeholder until NV lands.

use zeroize::Zeroizing;

use crate::crypto::HashAlg;
use crate::rc::Rc;

use super::Tpm;

/// The authValue of an NV index.
pub(crate) fn auth_value(_tpm: &Tpm, _handle: u32) -> Result<Zeroizing<Vec<u8>>, Rc> {
    Err(Rc::HANDLE)
}

/// The authPolicy of an NV index.
pub(crate) fn auth_policy(_tpm: &Tpm, _handle: u32) -> Option<(HashAlg, Vec<u8>)> {
    None
}

/// The Name of an NV index: nameAlg || H(TPMS_NV_PUBLIC).
pub(crate) fn name(_tpm: &Tpm, handle: u32) -> Vec<u8> {
    handle.to_be_bytes().to_vec()
}

/// Whether failures count against the lockout (TPMA_NV_NO_DA clear).
pub(crate) fn is_da_protected(_tpm: &Tpm, _handle: u32) -> bool {
    false
}

/// TPMA_NV_WRITTEN of an index, None when no such index.
pub(crate) fn written(_tpm: &Tpm, _handle: u32) -> Option<bool> {
    None
}
