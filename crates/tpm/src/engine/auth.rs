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

use super::{Tpm, Transient};

/// The authValue of the entity `handle` refers to.
pub(crate) fn auth_value(tpm: &Tpm, handle: u32) -> Result<Zeroizing<Vec<u8>>, Rc> {
    let v: &[u8] = match handle {
        rh::OWNER => &tpm.perm.owner_auth,
        rh::ENDORSEMENT => &tpm.perm.endorsement_auth,
        rh::LOCKOUT => &tpm.perm.lockout_auth,
        rh::PLATFORM => &tpm.vol.platform_auth,
        rh::NULL => &[],
        h if rh::handle_type(h) == rh::HT_PCR => &[],
        h => match tpm.transient(h) {
            Some(Transient::Sequence(s)) => s.auth.as_slice(),
            None => return Err(Rc::HANDLE),
        },
    };
    Ok(Zeroizing::new(v.to_vec()))
}

/// The authPolicy of an entity and its hash, if it has one (policy
/// sessions can only authorize entities with a policy).
pub(crate) fn auth_policy(_tpm: &Tpm, _handle: u32) -> Option<(HashAlg, Vec<u8>)> {
    None
}

/// The Name of an entity (Part 1 §16): the handle itself for PCRs,
/// permanent handles and sessions; for a sequence object (no public area,
/// nameAlg TPM_ALG_NULL) the empty buffer.
pub(crate) fn entity_name(tpm: &Tpm, handle: u32) -> Vec<u8> {
    match rh::handle_type(handle) {
        rh::HT_TRANSIENT | rh::HT_PERSISTENT => match tpm.transient(handle) {
            Some(Transient::Sequence(_)) | None => Vec::new(),
        },
        _ => handle.to_be_bytes().to_vec(),
    }
}

/// Whether a failed authorization of `handle` counts against the
/// dictionary-attack lockout (Part 1 §19.8): of today's entities only
/// TPM_RH_LOCKOUT is protected.
pub(crate) fn is_da_protected(_tpm: &Tpm, handle: u32) -> bool {
    handle == rh::LOCKOUT
}

/// The response code of a failed authorization of `handle` (Part 1
/// §19.7.2): TPM_RC_AUTH_FAIL when it counts against the lockout,
/// TPM_RC_BAD_AUTH otherwise — as libtpms reports for PCRs, sequences and
/// the owner/endorsement/platform hierarchies.
pub(crate) fn failure_code(handle: u32) -> Rc {
    if handle == rh::LOCKOUT {
        Rc::AUTH_FAIL
    } else {
        Rc::BAD_AUTH
    }
}

/// The TPMA_NV_WRITTEN state of an NV index (None if `handle` is not one).
pub(crate) fn nv_written(_tpm: &Tpm, _handle: u32) -> Option<bool> {
    None
}

/// Trailing zero octets are not significant in an authValue (Part 1
/// §19.6.4.3), so "abc" and "abc\0" are the same password.
pub(crate) fn trim(v: &[u8]) -> &[u8] {
    let end = v.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    &v[..end]
}

/// Checks a password session (session number `n`) against `handle`.
pub(crate) fn check_password(tpm: &Tpm, handle: u32, s: &AuthCommand, n: u32) -> Result<(), Rc> {
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
        Err(failure_code(handle).session(n))
    }
}
