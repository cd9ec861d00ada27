//! What authorization needs to know about entities (Part 1 §19): their
//! names, authValues and authPolicies, whether they are protected against
//! dictionary attacks, and password authorization (TPM_RS_PW, §19.6.4).
//! Session-based authorization lives in `session`.

use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::constants::{rh, session_attr};
use crate::crypto::HashAlg;
use crate::rc::Rc;
use crate::types::AuthCommand;

use super::{hierarchy, nv, objects, Tpm};

/// The authValue of the entity `handle` refers to.
pub(crate) fn auth_value(tpm: &Tpm, handle: u32) -> Result<Zeroizing<Vec<u8>>, Rc> {
    match rh::handle_type(handle) {
        rh::HT_PCR => Ok(Zeroizing::new(Vec::new())),
        rh::HT_PERMANENT => hierarchy::auth_value(tpm, handle),
        rh::HT_NV_INDEX => nv::auth_value(tpm, handle),
        rh::HT_TRANSIENT | rh::HT_PERSISTENT => objects::auth_value(tpm, handle),
        _ => Err(Rc::HANDLE),
    }
}

/// The authPolicy of an entity and its hash, if it has one (policy
/// sessions can only authorize entities with a policy).
pub(crate) fn auth_policy(tpm: &Tpm, handle: u32) -> Option<(HashAlg, Vec<u8>)> {
    match rh::handle_type(handle) {
        rh::HT_PERMANENT => hierarchy::auth_policy(tpm, handle),
        rh::HT_NV_INDEX => nv::auth_policy(tpm, handle),
        rh::HT_TRANSIENT | rh::HT_PERSISTENT => objects::auth_policy(tpm, handle),
        _ => None,
    }
}

/// The Name of an entity (Part 1 §16): the handle itself for PCRs,
/// permanent handles and sessions; nameAlg || H(public area) for objects
/// and NV indices.
pub(crate) fn entity_name(tpm: &Tpm, handle: u32) -> Vec<u8> {
    match rh::handle_type(handle) {
        rh::HT_TRANSIENT | rh::HT_PERSISTENT => objects::name(tpm, handle),
        rh::HT_NV_INDEX => nv::name(tpm, handle),
        _ => handle.to_be_bytes().to_vec(),
    }
}

/// Whether a failed authorization of `handle` counts against the
/// dictionary-attack lockout (Part 1 §19.8).
pub(crate) fn is_da_protected(tpm: &Tpm, handle: u32) -> bool {
    match rh::handle_type(handle) {
        rh::HT_PERMANENT => handle == rh::LOCKOUT,
        rh::HT_NV_INDEX => nv::is_da_protected(tpm, handle),
        rh::HT_TRANSIENT | rh::HT_PERSISTENT => objects::is_da_protected(tpm, handle),
        _ => false,
    }
}

/// The TPMA_NV_WRITTEN state of an NV index (None if `handle` is not one).
pub(crate) fn nv_written(tpm: &Tpm, handle: u32) -> Option<bool> {
    nv::written(tpm, handle)
}

/// Trailing zero octets are not significant in an authValue (Part 1
/// §19.6.4.3), so "abc" and "abc\0" are the same password.
pub(crate) fn trim(v: &[u8]) -> &[u8] {
    let end = v.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    &v[..end]
}

/// Checks a password session (session number `n`) against `handle`. A
/// mismatch is TPM_RC_AUTH_FAIL, counted against the dictionary-attack
/// lockout, when `handle` is DA-protected and TPM_RC_BAD_AUTH otherwise
/// (Part 1 §19.8; reference CheckPWAuthSession / IncrementLockout).
pub(crate) fn check_password(
    tpm: &mut Tpm,
    handle: u32,
    s: &AuthCommand,
    n: u32,
) -> Result<(), Rc> {
    if !s.nonce.is_empty() {
        return Err(Rc::NONCE.session(n));
    }
    let forbidden = session_attr::AUDIT
        | session_attr::AUDIT_EXCLUSIVE
        | session_attr::AUDIT_RESET
        | session_attr::DECRYPT
        | session_attr::ENCRYPT;
    if s.attributes & forbidden != 0 {
        return Err(Rc::ATTRIBUTES.session(n));
    }
    let expected = auth_value(tpm, handle)?;
    if bool::from(trim(&expected).ct_eq(trim(s.hmac.as_slice()))) {
        Ok(())
    } else {
        Err(hierarchy::lockout::increment_lockout(tpm, Some(handle), true, false).session(n))
    }
}
