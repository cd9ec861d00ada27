//! The command table: for every implemented command, its handle area
//! (types and authorization roles, Part 3 "Command Structure" tables) and
//! the function that runs it.

use crate::constants::{cc, rh};
use crate::rc::Rc;
use crate::wire::{Codec, Reader};

use super::Tpm;
use super::{
    attest, capability, clock, context, hash_cmds, hierarchy, keyuse, nv, object, pcr, policy,
    random, selftest, sequence, session, startup, testparms,
};

/// What an input handle may refer to (the TPMI_ type of the handle field).
#[derive(Clone, Copy, Debug)]
pub(crate) enum HandleKind {
    /// TPMI_DH_PCR, with `+` (TPM_RH_NULL allowed) when `null` is set.
    Pcr { null: bool },
    /// One of the listed permanent handles (TPMI_RH_PLATFORM, _PROVISION, ...).
    Permanent(&'static [u32]),
    /// TPMI_DH_OBJECT: a loaded transient or persistent object.
    Object,
    /// TPMI_DH_OBJECT+: an object or TPM_RH_NULL.
    ObjectOrNull,
    /// TPMI_DH_ENTITY+: anything with an authValue, or TPM_RH_NULL.
    Entity,
    /// TPMI_DH_PARENT+ (TPM2_CreateLoaded): a loaded object, or TPM_RH_OWNER,
    /// _ENDORSEMENT, _PLATFORM or _NULL.
    Parent,
    /// TPMI_DH_CONTEXT (TPM2_ContextSave): a loaded transient object or
    /// sequence, or a loaded HMAC or policy session.
    Context,
    /// TPMI_DH_OBJECT of TPM2_EvictControl: as `Object`, but a persistent
    /// endorsement object stays reachable while ehEnable is clear, so it
    /// can still be evicted.
    EvictObject,
    /// TPMI_DH_ENTITY (no `+`): as `Entity`, but TPM_RH_NULL is
    /// TPM_RC_VALUE (TPM2_PolicySecret's authHandle).
    EntityNotNull,
    /// TPMI_SH_POLICY: a loaded policy or trial session (Part 2 §9.9).
    PolicySession,
    /// TPMI_RH_NV_INDEX: a defined NV index of an enabled hierarchy.
    NvIndex,
    /// TPMI_RH_NV_AUTH: TPM_RH_OWNER, TPM_RH_PLATFORM or an NV index.
    NvAuth,
    /// TPMI_SH_HMAC: a loaded HMAC session (Part 2 §9.8;
    /// TPM2_GetSessionAuditDigest).
    HmacSession,
}

/// The authorization role a handle needs (Part 1 §19.2): `None` means the
/// handle takes no authorization session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    None,
    User,
    /// Object administration: needs a policy session with the command code
    /// set when the object's adminWithPolicy is SET.
    #[allow(dead_code)] // used by the object commands
    Admin,
    /// Duplication: always a policy session (TPM2_Duplicate).
    #[allow(dead_code)] // used by TPM2_Duplicate
    Dup,
}

/// One command's definition.
pub(crate) struct CommandDef {
    pub code: u32,
    pub handles: &'static [(HandleKind, Role)],
    /// Whether the response carries a handle (TPMA_CC.rHandle).
    pub r_handle: bool,
    /// Whether the command may write NV (TPMA_CC.nv).
    pub nv: bool,
    /// Whether the command flushes the object it is given (TPMA_CC.flushed).
    pub flushed: bool,
    /// Whether the command may flush many objects (TPMA_CC.extensive).
    pub extensive: bool,
    /// Whether the first command parameter is a TPM2B a session may decrypt.
    pub decrypt: bool,
    /// Whether the first response parameter is a TPM2B a session may encrypt.
    pub encrypt: bool,
    /// Whether the command refuses any session (ContextSave, ContextLoad,
    /// FlushContext: Part 3 tag TPM_ST_NO_SESSIONS only).
    pub no_sessions: bool,
    pub run: Handler,
}

pub(crate) type Handler = fn(&mut Tpm, &mut Ctx<'_>) -> Result<(), Rc>;

/// A command being executed: its validated handles, its parameter bytes and
/// the response being built.
pub(crate) struct Ctx<'a> {
    pub locality: u8,
    pub handles: Vec<u32>,
    params: Reader<'a>,
    param_no: u32,
    /// Handle returned in the response handle area, if any.
    pub out_handle: Option<u32>,
    /// Marshalled response parameters.
    pub out: Vec<u8>,
}

impl<'a> Ctx<'a> {
    pub fn new(locality: u8, handles: Vec<u32>, params: &'a [u8]) -> Self {
        Ctx {
            locality,
            handles,
            params: Reader::new(params),
            param_no: 0,
            out_handle: None,
            out: Vec::new(),
        }
    }

    /// Handle `i` (0-based) of the handle area.
    pub fn handle(&self, i: usize) -> u32 {
        self.handles.get(i).copied().unwrap_or(rh::NULL)
    }

    /// Unmarshals the next parameter; a failure is numbered with the
    /// parameter's position (TPM_RC_P + TPM_RC_n), as the reference
    /// dispatcher does.
    pub fn read<T: Codec>(&mut self) -> Result<T, Rc> {
        self.param_no += 1;
        let n = self.param_no;
        T::decode(&mut self.params).map_err(|e| e.rc().param(n))
    }

    /// Unmarshals the next parameter with a custom decoder.
    pub fn read_with<T>(
        &mut self,
        f: impl FnOnce(&mut Reader<'a>) -> Result<T, crate::wire::WireError>,
    ) -> Result<T, Rc> {
        self.param_no += 1;
        let n = self.param_no;
        f(&mut self.params).map_err(|e| e.rc().param(n))
    }

    /// The number of the parameter read last (for numbering value checks
    /// made after unmarshalling).
    pub fn last_param(&self) -> u32 {
        self.param_no
    }

    /// Must be called after the last parameter and before any action:
    /// leftover bytes are TPM_RC_SIZE (Part 3 §5.2).
    pub fn done(&self) -> Result<(), Rc> {
        if self.params.is_empty() {
            Ok(())
        } else {
            Err(Rc::SIZE)
        }
    }

    pub fn write<T: Codec>(&mut self, v: &T) {
        v.encode(&mut self.out);
    }
}

const NONE: &[(HandleKind, Role)] = &[];
const PCR_USER: &[(HandleKind, Role)] = &[(HandleKind::Pcr { null: true }, Role::User)];
const PCR_NONULL_USER: &[(HandleKind, Role)] = &[(HandleKind::Pcr { null: false }, Role::User)];
const PLATFORM_USER: &[(HandleKind, Role)] =
    &[(HandleKind::Permanent(&[rh::PLATFORM]), Role::User)];
const PROVISION_USER: &[(HandleKind, Role)] = &[(
    HandleKind::Permanent(&[rh::OWNER, rh::PLATFORM]),
    Role::User,
)];
const OBJECT_USER: &[(HandleKind, Role)] = &[(HandleKind::Object, Role::User)];
/// TPMI_DH_OBJECT without authorization (ReadPublic, MakeCredential).
const OBJECT_NONE: &[(HandleKind, Role)] = &[(HandleKind::Object, Role::None)];
/// TPMI_RH_HIERARCHY+ @primaryHandle (CreatePrimary).
const PRIMARY_USER: &[(HandleKind, Role)] = &[(
    HandleKind::Permanent(&[rh::OWNER, rh::ENDORSEMENT, rh::PLATFORM, rh::NULL]),
    Role::User,
)];
/// TPMI_DH_PARENT+ @parentHandle (CreateLoaded).
const PARENT_USER: &[(HandleKind, Role)] = &[(HandleKind::Parent, Role::User)];
/// @activateHandle (ADMIN), @keyHandle (USER) (ActivateCredential).
const ACTIVATE_HANDLES: &[(HandleKind, Role)] = &[
    (HandleKind::Object, Role::Admin),
    (HandleKind::Object, Role::User),
];
/// @objectHandle (ADMIN), parentHandle (ObjectChangeAuth).
const CHANGE_AUTH_HANDLES: &[(HandleKind, Role)] = &[
    (HandleKind::Object, Role::Admin),
    (HandleKind::Object, Role::None),
];
/// @objectHandle (DUP), newParentHandle (Duplicate).
const DUPLICATE_HANDLES: &[(HandleKind, Role)] = &[
    (HandleKind::Object, Role::Dup),
    (HandleKind::ObjectOrNull, Role::None),
];
/// TPMI_RH_PROVISION @auth, TPMI_DH_OBJECT objectHandle (EvictControl).
const EVICT_HANDLES: &[(HandleKind, Role)] = &[
    (
        HandleKind::Permanent(&[rh::OWNER, rh::PLATFORM]),
        Role::User,
    ),
    (HandleKind::EvictObject, Role::None),
];
/// TPMI_DH_CONTEXT saveHandle (ContextSave).
const CONTEXT_HANDLE: &[(HandleKind, Role)] = &[(HandleKind::Context, Role::None)];
/// TPMI_RH_HIERARCHY (HierarchyControl).
const HIERARCHY_USER: &[(HandleKind, Role)] = &[(
    HandleKind::Permanent(&[rh::OWNER, rh::ENDORSEMENT, rh::PLATFORM]),
    Role::User,
)];
/// TPMI_RH_HIERARCHY_AUTH / TPMI_RH_HIERARCHY_POLICY (HierarchyChangeAuth,
/// SetPrimaryPolicy).
const HIERARCHY_AUTH_USER: &[(HandleKind, Role)] = &[(
    HandleKind::Permanent(&[rh::OWNER, rh::ENDORSEMENT, rh::PLATFORM, rh::LOCKOUT]),
    Role::User,
)];
/// TPMI_RH_CLEAR (Clear, ClearControl).
const CLEAR_USER: &[(HandleKind, Role)] = &[(
    HandleKind::Permanent(&[rh::LOCKOUT, rh::PLATFORM]),
    Role::User,
)];
/// TPMI_RH_LOCKOUT (DictionaryAttackLockReset, DictionaryAttackParameters).
const LOCKOUT_USER: &[(HandleKind, Role)] = &[(HandleKind::Permanent(&[rh::LOCKOUT]), Role::User)];
const START_SESSION: &[(HandleKind, Role)] = &[
    (HandleKind::ObjectOrNull, Role::None),
    (HandleKind::Entity, Role::None),
];
const PCR_OBJECT_USER: &[(HandleKind, Role)] = &[
    (HandleKind::Pcr { null: true }, Role::User),
    (HandleKind::Object, Role::User),
];

/// TPMI_SH_POLICY @policySession: every policy command (Part 3 §23).
const POLICY_SESSION: &[(HandleKind, Role)] = &[(HandleKind::PolicySession, Role::None)];
/// TPMI_DH_ENTITY @authHandle (USER), TPMI_SH_POLICY (PolicySecret).
const POLICY_SECRET_HANDLES: &[(HandleKind, Role)] = &[
    (HandleKind::EntityNotNull, Role::User),
    (HandleKind::PolicySession, Role::None),
];
/// TPMI_DH_OBJECT authObject, TPMI_SH_POLICY (PolicySigned).
const POLICY_SIGNED_HANDLES: &[(HandleKind, Role)] = &[
    (HandleKind::Object, Role::None),
    (HandleKind::PolicySession, Role::None),
];
/// TPMI_RH_NV_AUTH @authHandle (USER), TPMI_RH_NV_INDEX, TPMI_SH_POLICY
/// (PolicyNV, PolicyAuthorizeNV).
const POLICY_NV_HANDLES: &[(HandleKind, Role)] = &[
    (HandleKind::NvAuth, Role::User),
    (HandleKind::NvIndex, Role::None),
    (HandleKind::PolicySession, Role::None),
];

/// `def!(code, handles, handler, flags...)`: the flags (`nv`, `r_handle`,
/// `flushed`) are the TPMA_CC attributes the reference implementation gives
/// the command (Part 2 §8.9; CommandAttributeData.h).
macro_rules! def {
    ($code:expr, $handles:expr, $run:expr $(, $flag:ident)*) => {{
        #[allow(unused_mut)]
        let mut d = CommandDef {
            code: $code,
            handles: $handles,
            r_handle: false,
            nv: false,
            flushed: false,
            extensive: false,
            decrypt: false,
            encrypt: false,
            no_sessions: false,
            run: $run,
        };
        $(d.$flag = true;)*
        d
    }};
}

/// Every implemented command, sorted by command code.
pub(crate) static COMMANDS: &[CommandDef] = &[
    def!(
        cc::NV_UNDEFINE_SPACE_SPECIAL,
        nv::INDEX_ADMIN_AND_PLATFORM,
        nv::nv_undefine_space_special,
        nv
    ),
    def!(cc::EVICT_CONTROL, EVICT_HANDLES, object::evict_control, nv),
    def!(
        cc::HIERARCHY_CONTROL,
        HIERARCHY_USER,
        hierarchy::hierarchy_control,
        nv,
        extensive
    ),
    def!(
        cc::NV_UNDEFINE_SPACE,
        nv::PROVISION_AND_INDEX,
        nv::nv_undefine_space,
        nv
    ),
    def!(
        cc::CHANGE_EPS,
        PLATFORM_USER,
        hierarchy::change_eps,
        nv,
        extensive
    ),
    def!(
        cc::CHANGE_PPS,
        PLATFORM_USER,
        hierarchy::change_pps,
        nv,
        extensive
    ),
    def!(cc::CLEAR, CLEAR_USER, hierarchy::clear, nv, extensive),
    def!(cc::CLEAR_CONTROL, CLEAR_USER, hierarchy::clear_control, nv),
    def!(cc::CLOCK_SET, PROVISION_USER, clock::clock_set, nv),
    def!(
        cc::HIERARCHY_CHANGE_AUTH,
        HIERARCHY_AUTH_USER,
        hierarchy::hierarchy_change_auth,
        nv,
        decrypt
    ),
    def!(
        cc::NV_DEFINE_SPACE,
        PROVISION_USER,
        nv::nv_define_space,
        nv,
        decrypt
    ),
    def!(cc::PCR_ALLOCATE, PLATFORM_USER, pcr::pcr_allocate, nv),
    def!(
        cc::SET_PRIMARY_POLICY,
        HIERARCHY_AUTH_USER,
        hierarchy::set_primary_policy,
        nv,
        decrypt
    ),
    def!(
        cc::CLOCK_RATE_ADJUST,
        PROVISION_USER,
        clock::clock_rate_adjust
    ),
    def!(
        cc::CREATE_PRIMARY,
        PRIMARY_USER,
        object::create_primary,
        r_handle,
        decrypt,
        encrypt
    ),
    def!(
        cc::NV_GLOBAL_WRITE_LOCK,
        PROVISION_USER,
        nv::nv_global_write_lock,
        nv
    ),
    def!(
        cc::GET_COMMAND_AUDIT_DIGEST,
        attest::PRIVACY_SIGN,
        attest::get_command_audit_digest,
        nv,
        decrypt,
        encrypt
    ),
    def!(cc::NV_INCREMENT, nv::AUTH_AND_INDEX, nv::nv_increment, nv),
    def!(cc::NV_SET_BITS, nv::AUTH_AND_INDEX, nv::nv_set_bits, nv),
    def!(
        cc::NV_EXTEND,
        nv::AUTH_AND_INDEX,
        nv::nv_extend,
        nv,
        decrypt
    ),
    def!(cc::NV_WRITE, nv::AUTH_AND_INDEX, nv::nv_write, nv, decrypt),
    def!(cc::NV_WRITE_LOCK, nv::AUTH_AND_INDEX, nv::nv_write_lock, nv),
    def!(
        cc::DICTIONARY_ATTACK_LOCK_RESET,
        LOCKOUT_USER,
        hierarchy::dictionary_attack_lock_reset,
        nv
    ),
    def!(
        cc::DICTIONARY_ATTACK_PARAMETERS,
        LOCKOUT_USER,
        hierarchy::dictionary_attack_parameters,
        nv
    ),
    def!(
        cc::NV_CHANGE_AUTH,
        nv::INDEX_ADMIN,
        nv::nv_change_auth,
        nv,
        decrypt
    ),
    def!(cc::PCR_EVENT, PCR_USER, pcr::pcr_event, nv, decrypt),
    def!(cc::PCR_RESET, PCR_NONULL_USER, pcr::pcr_reset, nv),
    def!(
        cc::SEQUENCE_COMPLETE,
        OBJECT_USER,
        sequence::sequence_complete,
        flushed,
        decrypt,
        encrypt
    ),
    def!(
        cc::SET_COMMAND_CODE_AUDIT_STATUS,
        attest::PROVISION,
        attest::set_command_code_audit_status,
        nv
    ),
    def!(
        cc::INCREMENTAL_SELF_TEST,
        NONE,
        selftest::incremental_self_test,
        nv
    ),
    def!(cc::SELF_TEST, NONE, selftest::self_test, nv),
    def!(cc::STARTUP, NONE, startup::startup, nv),
    def!(cc::SHUTDOWN, NONE, startup::shutdown, nv),
    def!(cc::STIR_RANDOM, NONE, random::stir_random, nv, decrypt),
    def!(
        cc::ACTIVATE_CREDENTIAL,
        ACTIVATE_HANDLES,
        object::activate_credential,
        decrypt,
        encrypt
    ),
    def!(
        cc::CERTIFY,
        attest::CERTIFY,
        attest::certify,
        decrypt,
        encrypt
    ),
    def!(cc::POLICY_NV, POLICY_NV_HANDLES, policy::policy_nv, decrypt),
    def!(
        cc::CERTIFY_CREATION,
        attest::CERTIFY_CREATION,
        attest::certify_creation,
        decrypt,
        encrypt
    ),
    def!(
        cc::DUPLICATE,
        DUPLICATE_HANDLES,
        object::duplicate,
        decrypt,
        encrypt
    ),
    def!(
        cc::GET_TIME,
        attest::PRIVACY_SIGN,
        attest::get_time,
        decrypt,
        encrypt
    ),
    def!(
        cc::GET_SESSION_AUDIT_DIGEST,
        attest::PRIVACY_SIGN_SESSION,
        attest::get_session_audit_digest,
        decrypt,
        encrypt
    ),
    def!(cc::NV_READ, nv::AUTH_AND_INDEX, nv::nv_read, encrypt),
    def!(cc::NV_READ_LOCK, nv::AUTH_AND_INDEX, nv::nv_read_lock, nv),
    def!(
        cc::OBJECT_CHANGE_AUTH,
        CHANGE_AUTH_HANDLES,
        object::object_change_auth,
        decrypt,
        encrypt
    ),
    def!(
        cc::POLICY_SECRET,
        POLICY_SECRET_HANDLES,
        policy::policy_secret,
        decrypt,
        encrypt
    ),
    def!(cc::CREATE, OBJECT_USER, object::create, decrypt, encrypt),
    def!(
        cc::ECDH_ZGEN,
        OBJECT_USER,
        keyuse::ecdh_zgen,
        decrypt,
        encrypt
    ),
    def!(cc::HMAC, OBJECT_USER, keyuse::hmac, decrypt, encrypt),
    def!(cc::IMPORT, OBJECT_USER, object::import, decrypt, encrypt),
    def!(
        cc::LOAD,
        OBJECT_USER,
        object::load,
        r_handle,
        decrypt,
        encrypt
    ),
    def!(cc::QUOTE, attest::SIGN, attest::quote, decrypt, encrypt),
    def!(
        cc::RSA_DECRYPT,
        OBJECT_USER,
        keyuse::rsa_decrypt,
        decrypt,
        encrypt
    ),
    def!(
        cc::HMAC_START,
        OBJECT_USER,
        keyuse::hmac_start,
        r_handle,
        decrypt
    ),
    def!(
        cc::SEQUENCE_UPDATE,
        OBJECT_USER,
        sequence::sequence_update,
        decrypt
    ),
    def!(cc::SIGN, OBJECT_USER, keyuse::sign, decrypt),
    def!(cc::UNSEAL, OBJECT_USER, object::unseal, encrypt),
    def!(
        cc::POLICY_SIGNED,
        POLICY_SIGNED_HANDLES,
        policy::policy_signed,
        decrypt,
        encrypt
    ),
    def!(
        cc::CONTEXT_LOAD,
        NONE,
        context::context_load,
        r_handle,
        no_sessions
    ),
    def!(
        cc::CONTEXT_SAVE,
        CONTEXT_HANDLE,
        context::context_save,
        no_sessions
    ),
    def!(cc::ECDH_KEY_GEN, OBJECT_NONE, keyuse::ecdh_key_gen, encrypt),
    def!(
        cc::ENCRYPT_DECRYPT,
        OBJECT_USER,
        keyuse::encrypt_decrypt,
        encrypt
    ),
    def!(cc::FLUSH_CONTEXT, NONE, context::flush_context, no_sessions),
    def!(
        cc::LOAD_EXTERNAL,
        NONE,
        object::load_external,
        r_handle,
        decrypt,
        encrypt
    ),
    def!(
        cc::MAKE_CREDENTIAL,
        OBJECT_NONE,
        object::make_credential,
        decrypt,
        encrypt
    ),
    def!(
        cc::NV_READ_PUBLIC,
        nv::INDEX_ONLY,
        nv::nv_read_public,
        encrypt
    ),
    def!(
        cc::POLICY_AUTHORIZE,
        POLICY_SESSION,
        policy::policy_authorize,
        decrypt
    ),
    def!(
        cc::POLICY_AUTH_VALUE,
        POLICY_SESSION,
        policy::policy_auth_value
    ),
    def!(
        cc::POLICY_COMMAND_CODE,
        POLICY_SESSION,
        policy::policy_command_code
    ),
    def!(
        cc::POLICY_COUNTER_TIMER,
        POLICY_SESSION,
        policy::policy_counter_timer,
        decrypt
    ),
    def!(
        cc::POLICY_CP_HASH,
        POLICY_SESSION,
        policy::policy_cp_hash,
        decrypt
    ),
    def!(cc::POLICY_LOCALITY, POLICY_SESSION, policy::policy_locality),
    def!(
        cc::POLICY_NAME_HASH,
        POLICY_SESSION,
        policy::policy_name_hash,
        decrypt
    ),
    def!(cc::POLICY_OR, POLICY_SESSION, policy::policy_or),
    def!(
        cc::POLICY_TICKET,
        POLICY_SESSION,
        policy::policy_ticket,
        decrypt
    ),
    def!(cc::READ_PUBLIC, OBJECT_NONE, object::read_public, encrypt),
    def!(
        cc::RSA_ENCRYPT,
        OBJECT_NONE,
        keyuse::rsa_encrypt,
        decrypt,
        encrypt
    ),
    def!(
        cc::START_AUTH_SESSION,
        START_SESSION,
        session::start_auth_session,
        r_handle,
        decrypt,
        encrypt
    ),
    def!(
        cc::VERIFY_SIGNATURE,
        OBJECT_NONE,
        keyuse::verify_signature,
        decrypt
    ),
    def!(cc::GET_CAPABILITY, NONE, capability::get_capability),
    def!(cc::GET_RANDOM, NONE, random::get_random, encrypt),
    def!(
        cc::GET_TEST_RESULT,
        NONE,
        selftest::get_test_result,
        encrypt
    ),
    def!(cc::HASH, NONE, hash_cmds::hash, decrypt, encrypt),
    def!(cc::PCR_READ, NONE, pcr::pcr_read),
    def!(cc::POLICY_PCR, POLICY_SESSION, policy::policy_pcr, decrypt),
    def!(cc::POLICY_RESTART, POLICY_SESSION, policy::policy_restart),
    def!(cc::READ_CLOCK, NONE, clock::read_clock),
    def!(cc::PCR_EXTEND, PCR_USER, pcr::pcr_extend, nv),
    def!(
        cc::NV_CERTIFY,
        attest::NV_CERTIFY,
        attest::nv_certify,
        decrypt,
        encrypt
    ),
    def!(
        cc::EVENT_SEQUENCE_COMPLETE,
        PCR_OBJECT_USER,
        sequence::event_sequence_complete,
        nv,
        flushed,
        decrypt
    ),
    def!(
        cc::HASH_SEQUENCE_START,
        NONE,
        sequence::hash_sequence_start,
        r_handle,
        decrypt
    ),
    def!(
        cc::POLICY_PHYSICAL_PRESENCE,
        POLICY_SESSION,
        policy::policy_physical_presence
    ),
    def!(
        cc::POLICY_DUPLICATION_SELECT,
        POLICY_SESSION,
        policy::policy_duplication_select,
        decrypt
    ),
    def!(
        cc::POLICY_GET_DIGEST,
        POLICY_SESSION,
        policy::policy_get_digest,
        encrypt
    ),
    def!(cc::TEST_PARMS, NONE, testparms::test_parms),
    def!(cc::POLICY_PASSWORD, POLICY_SESSION, policy::policy_password),
    def!(
        cc::POLICY_NV_WRITTEN,
        POLICY_SESSION,
        policy::policy_nv_written
    ),
    def!(
        cc::POLICY_TEMPLATE,
        POLICY_SESSION,
        policy::policy_template,
        decrypt
    ),
    def!(
        cc::CREATE_LOADED,
        PARENT_USER,
        object::create_loaded,
        r_handle,
        decrypt,
        encrypt
    ),
    def!(
        cc::POLICY_AUTHORIZE_NV,
        POLICY_NV_HANDLES,
        policy::policy_authorize_nv
    ),
    def!(
        cc::ENCRYPT_DECRYPT2,
        OBJECT_USER,
        keyuse::encrypt_decrypt2,
        decrypt,
        encrypt
    ),
];

/// Looks up a command by code.
pub(crate) fn find(code: u32) -> Option<&'static CommandDef> {
    COMMANDS
        .binary_search_by_key(&code, |d| d.code)
        .ok()
        .and_then(|i| COMMANDS.get(i))
}

#[cfg(test)]
mod tests {
    #[test]
    fn table_is_sorted_and_unique() {
        for w in super::COMMANDS.windows(2) {
            assert!(
                w[0].code < w[1].code,
                "{:#x} before {:#x}",
                w[0].code,
                w[1].code
            );
        }
    }
}
