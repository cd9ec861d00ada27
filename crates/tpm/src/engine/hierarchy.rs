//! The hierarchies and their authorizations (Part 1 §13, Part 3 §24):
//! authValues, authPolicies, enables, and dictionary-attack protection.

use zeroize::Zeroizing;

use crate::constants::rh;
use crate::crypto::HashAlg;
use crate::rc::Rc;

use super::Tpm;

/// The authValue of a permanent handle.
pub(crate) fn auth_value(tpm: &Tpm, handle: u32) -> Result<Zeroizing<Vec<u8>>, Rc> {
    let v: &[u8] = match handle {
        rh::OWNER => &tpm.perm.owner_auth,
        rh::ENDORSEMENT => &tpm.perm.endorsement_auth,
        rh::LOCKOUT => &tpm.perm.lockout_auth,
        rh::PLATFORM => &tpm.vol.platform_auth,
        rh::NULL => &[],
        _ => return Err(Rc::HANDLE),
    };
    Ok(Zeroizing::new(v.to_vec()))
}

/// The authPolicy of a hierarchy (TPM2_SetPrimaryPolicy), if set.
pub(crate) fn auth_policy(_tpm: &Tpm, _handle: u32) -> Option<(HashAlg, Vec<u8>)> {
    None
}
