//! Authorization of handles (Part 1 §19). Today only password
//! authorization (TPM_RS_PW, §19.6.4); HMAC and policy sessions plug in here.

use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::constants::{rh, session_attr};
use crate::rc::Rc;
use crate::types::{AuthCommand, AuthResponse, Nonce2b};
use crate::wire::Tpm2b;

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

/// Trailing zero octets are not significant in an authValue (Part 1
/// §19.6.4.3), so "abc" and "abc\0" are the same password.
fn trim(v: &[u8]) -> &[u8] {
    let end = v.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    &v[..end]
}

/// Whether a failed authorization of `handle` counts against the
/// dictionary-attack lockout (Part 1 §19.8): of today's entities only
/// TPM_RH_LOCKOUT is protected.
fn is_da_protected(handle: u32) -> bool {
    handle == rh::LOCKOUT
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
    } else if is_da_protected(handle) {
        Err(Rc::AUTH_FAIL.session(n))
    } else {
        // Entities outside dictionary-attack protection report
        // TPM_RC_BAD_AUTH (Part 1 §19.7.2), as libtpms does for PCRs,
        // sequences and the owner/endorsement/platform hierarchies.
        Err(Rc::BAD_AUTH.session(n))
    }
}

/// The response to a password session: empty nonce and HMAC,
/// continueSession set (Part 1 §19.6.4.2).
pub(crate) fn password_response(_s: &AuthCommand) -> AuthResponse {
    AuthResponse {
        nonce: Nonce2b::empty(),
        attributes: session_attr::CONTINUE_SESSION,
        hmac: Tpm2b::empty(),
    }
}
