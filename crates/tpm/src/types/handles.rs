//! Handle interface types that appear inside structures (Part 2 §9):
//! TPMI_RH_HIERARCHY (tickets, saved contexts), TPMI_RH_NV_INDEX
//! (TPMS_NV_PUBLIC), TPMI_DH_SAVED (TPMS_CONTEXT) and the session ranges of
//! TPMI_SH_AUTH_SESSION. A value outside the type is TPM_RC_VALUE, as the
//! reference unmarshallers answer.

use crate::constants::rh;
use crate::wire::WireError;

/// MAX_ACTIVE_SESSIONS: session handles run from HMAC_SESSION_FIRST
/// (POLICY_SESSION_FIRST) to that plus this minus one (reference
/// TpmProfile; reported as TPM_PT_ACTIVE_SESSIONS_MAX).
pub const MAX_ACTIVE_SESSIONS: u32 = 64;

/// HMAC_SESSION_LAST.
pub const HMAC_SESSION_LAST: u32 = rh::HMAC_SESSION_FIRST + MAX_ACTIVE_SESSIONS - 1;
/// POLICY_SESSION_LAST.
pub const POLICY_SESSION_LAST: u32 = rh::POLICY_SESSION_FIRST + MAX_ACTIVE_SESSIONS - 1;
/// NV_INDEX_LAST: the whole TPM_HT_NV_INDEX range.
pub const NV_INDEX_LAST: u32 = 0x01FF_FFFF;

/// TPMI_DH_SAVED values for saved objects (Part 2 §9): a transient
/// object, a sequence object, and a transient object with stClear.
pub mod saved {
    pub const TRANSIENT: u32 = 0x8000_0000;
    pub const SEQUENCE: u32 = 0x8000_0001;
    pub const TRANSIENT_ST_CLEAR: u32 = 0x8000_0002;
}

/// Whether `h` is an HMAC session handle (TPMI_SH_HMAC).
pub fn is_hmac_session(h: u32) -> bool {
    (rh::HMAC_SESSION_FIRST..=HMAC_SESSION_LAST).contains(&h)
}

/// Whether `h` is a policy session handle (TPMI_SH_POLICY).
pub fn is_policy_session(h: u32) -> bool {
    (rh::POLICY_SESSION_FIRST..=POLICY_SESSION_LAST).contains(&h)
}

/// TPMI_SH_AUTH_SESSION(+): an HMAC or policy session, or TPM_RS_PW when
/// `allow_pw`.
pub fn check_auth_session(h: u32, allow_pw: bool) -> Result<u32, WireError> {
    if is_hmac_session(h) || is_policy_session(h) || (allow_pw && h == rh::PW) {
        Ok(h)
    } else {
        Err(WireError::Value)
    }
}

/// TPMI_RH_HIERARCHY(+) (Part 2 §9): owner, platform, endorsement, and
/// TPM_RH_NULL when `allow_null`.
pub fn check_hierarchy(h: u32, allow_null: bool) -> Result<u32, WireError> {
    match h {
        rh::OWNER | rh::PLATFORM | rh::ENDORSEMENT => Ok(h),
        rh::NULL if allow_null => Ok(h),
        _ => Err(WireError::Value),
    }
}

/// TPMI_RH_NV_INDEX (Part 2 §9): a handle in the NV index range.
pub fn check_nv_index(h: u32) -> Result<u32, WireError> {
    if (rh::NV_INDEX_FIRST..=NV_INDEX_LAST).contains(&h) {
        Ok(h)
    } else {
        Err(WireError::Value)
    }
}

/// TPMI_DH_SAVED (Part 2 §9): a session, or one of the [`saved`] object
/// values.
pub fn check_saved(h: u32) -> Result<u32, WireError> {
    let object = matches!(
        h,
        saved::TRANSIENT | saved::SEQUENCE | saved::TRANSIENT_ST_CLEAR
    );
    if object || is_hmac_session(h) || is_policy_session(h) {
        Ok(h)
    } else {
        Err(WireError::Value)
    }
}
