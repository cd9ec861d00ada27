//! Attestation (TPM 2.0 Part 3 §18, §21, §31.16): TPM2_Quote, TPM2_Certify,
//! TPM2_CertifyCreation, TPM2_GetTime, TPM2_NV_Certify,
//! TPM2_GetSessionAuditDigest, TPM2_GetCommandAuditDigest and
//! TPM2_SetCommandCodeAuditStatus, and the command-audit log they report.
//!
//! - `fill`: the signing-key and scheme checks and the common TPMS_ATTEST
//!   fields every command shares (reference Attest_spt.c);
//! - `quote`, `certify`, `time`: the attestation commands;
//! - `audit`: command audit (Part 1 §32) and the audit commands.

mod audit;
mod certify;
mod fill;
mod quote;
mod time;

pub(crate) use audit::{
    audit_counter, audited_commands, command_audit, command_cp_hash, get_command_audit_digest,
    get_session_audit_digest, on_shutdown, on_startup, set_command_code_audit_status, AuditPerm,
    AuditVol,
};
pub(crate) use certify::{certify, certify_creation, nv_certify};
pub(crate) use quote::quote;
pub(crate) use time::get_time;

use crate::constants::rh;

use super::dispatch::{HandleKind, Role};

/// TPMI_DH_OBJECT+ @signHandle (USER): TPM2_Quote.
pub(crate) const SIGN: &[(HandleKind, Role)] = &[(HandleKind::ObjectOrNull, Role::User)];
/// TPMI_DH_OBJECT @objectHandle (ADMIN), TPMI_DH_OBJECT+ @signHandle
/// (USER): TPM2_Certify.
pub(crate) const CERTIFY: &[(HandleKind, Role)] = &[
    (HandleKind::Object, Role::Admin),
    (HandleKind::ObjectOrNull, Role::User),
];
/// TPMI_DH_OBJECT+ @signHandle (USER), TPMI_DH_OBJECT objectHandle:
/// TPM2_CertifyCreation.
pub(crate) const CERTIFY_CREATION: &[(HandleKind, Role)] = &[
    (HandleKind::ObjectOrNull, Role::User),
    (HandleKind::Object, Role::None),
];
/// TPMI_RH_ENDORSEMENT @privacyAdminHandle (USER), TPMI_DH_OBJECT+
/// @signHandle (USER): TPM2_GetTime, TPM2_GetCommandAuditDigest.
pub(crate) const PRIVACY_SIGN: &[(HandleKind, Role)] = &[
    (HandleKind::Permanent(&[rh::ENDORSEMENT]), Role::User),
    (HandleKind::ObjectOrNull, Role::User),
];
/// ... and TPMI_SH_HMAC sessionHandle: TPM2_GetSessionAuditDigest.
pub(crate) const PRIVACY_SIGN_SESSION: &[(HandleKind, Role)] = &[
    (HandleKind::Permanent(&[rh::ENDORSEMENT]), Role::User),
    (HandleKind::ObjectOrNull, Role::User),
    (HandleKind::HmacSession, Role::None),
];
/// TPMI_DH_OBJECT+ @signHandle (USER), TPMI_RH_NV_AUTH @authHandle (USER),
/// TPMI_RH_NV_INDEX nvIndex: TPM2_NV_Certify.
pub(crate) const NV_CERTIFY: &[(HandleKind, Role)] = &[
    (HandleKind::ObjectOrNull, Role::User),
    (HandleKind::NvAuth, Role::User),
    (HandleKind::NvIndex, Role::None),
];
/// TPMI_RH_PROVISION @auth (USER): TPM2_SetCommandCodeAuditStatus.
pub(crate) const PROVISION: &[(HandleKind, Role)] = &[(
    HandleKind::Permanent(&[rh::OWNER, rh::PLATFORM]),
    Role::User,
)];
