//! Which authorizations an NV index accepts (Part 1 §37.2.2, reference
//! SessionProcess.c IsAuthValueAvailable / IsAuthPolicyAvailable /
//! IsPolicySessionRequired) and the PIN index counters updated by each
//! authorization with the index's authValue (Part 1 §37.2.4, reference
//! CheckAuthSession).
//!
//! The session layer calls [`check_auth_use`] before it checks a password,
//! HMAC or policy session for an NV index, and [`after_auth`] with the
//! outcome.

use crate::constants::{cc, rh};
use crate::rc::Rc;
use crate::types::{NvAttributes as A, NvType};

use super::super::dispatch::Role;
use super::super::Tpm;
use super::write_u64;

/// Commands that write an index for authorization purposes (reference
/// IsWriteOperation): the index's AUTHWRITE/POLICYWRITE attributes apply;
/// every other command is a read (AUTHREAD/POLICYREAD).
pub(crate) fn is_write_operation(code: u32) -> bool {
    matches!(
        code,
        cc::NV_WRITE | cc::NV_INCREMENT | cc::NV_SET_BITS | cc::NV_EXTEND | cc::NV_WRITE_LOCK
    )
}

/// Whether an index is a PIN Pass or PIN Fail index.
fn is_pin(t: Option<NvType>) -> bool {
    matches!(t, Some(NvType::PinPass | NvType::PinFail))
}

/// Checks that `handle` (if an NV index) may be authorized for command
/// `code` in role `role` by a policy session (`policy_session`) or by a
/// password / HMAC session:
///
/// - the ADMIN role of an index (TPM2_NV_ChangeAuth,
///   TPM2_NV_UndefineSpaceSpecial) needs a policy session: TPM_RC_AUTH_TYPE;
/// - a password or HMAC session uses the authValue, available for writes
///   with AUTHWRITE, for reads with AUTHREAD — or, for a PIN index, once
///   written and while pinCount < pinLimit;
/// - a policy session needs a non-empty authPolicy and, outside the ADMIN
///   role, POLICYWRITE or POLICYREAD.
///
/// Otherwise TPM_RC_AUTH_UNAVAILABLE. Non-NV handles are not judged here.
pub(crate) fn check_auth_use(
    tpm: &Tpm,
    code: u32,
    role: Role,
    handle: u32,
    policy_session: bool,
) -> Result<(), Rc> {
    if rh::handle_type(handle) != rh::HT_NV_INDEX {
        return Ok(());
    }
    let Some(idx) = tpm.perm.nv.get(handle) else {
        return Ok(());
    };
    let admin = role == Role::Admin;
    let write = is_write_operation(code);
    let available = if policy_session {
        !idx.public.auth_policy.is_empty()
            && (admin || idx.has(if write { A::POLICYWRITE } else { A::POLICYREAD }))
    } else {
        if admin {
            return Err(Rc::AUTH_TYPE);
        }
        if write {
            idx.has(A::AUTHWRITE)
        } else if is_pin(idx.nv_type()) {
            let v = idx.u64_value();
            let (count, limit) = ((v >> 32) as u32, v as u32);
            idx.has(A::WRITTEN) && count < limit
        } else {
            idx.has(A::AUTHREAD)
        }
    };
    if available {
        Ok(())
    } else {
        Err(Rc::AUTH_UNAVAILABLE)
    }
}

/// Updates a written PIN index after an authorization that used its
/// authValue (`auth_used`) and reached the password or HMAC comparison
/// (`result` is success, TPM_RC_BAD_AUTH or TPM_RC_AUTH_FAIL; other
/// refusals happen before the authValue is used and count nothing): a PIN
/// Fail index counts failures and resets to zero on success, a PIN Pass
/// index counts successes (Part 1 §37.2.4). pinCount is the upper 32
/// bits, pinLimit the lower (TPMS_NV_PIN_COUNTER_PARAMETERS).
pub(crate) fn after_auth(tpm: &mut Tpm, handle: u32, auth_used: bool, result: &Result<(), Rc>) {
    if !auth_used || rh::handle_type(handle) != rh::HT_NV_INDEX {
        return;
    }
    let success = match result {
        Ok(()) => true,
        Err(e) if matches!(e.base(), Rc::BAD_AUTH | Rc::AUTH_FAIL) => false,
        Err(_) => return,
    };
    let Some(idx) = tpm.perm.nv.get(handle) else {
        return;
    };
    if !idx.has(A::WRITTEN) {
        return;
    }
    let v = idx.u64_value();
    let (count, limit) = ((v >> 32) as u32, v as u32);
    let count = match idx.nv_type() {
        Some(NvType::PinFail) if success => 0,
        Some(NvType::PinFail) => count.wrapping_add(1),
        Some(NvType::PinPass) if success => count.wrapping_add(1),
        _ => return,
    };
    write_u64(tpm, handle, (u64::from(count) << 32) | u64::from(limit));
}
