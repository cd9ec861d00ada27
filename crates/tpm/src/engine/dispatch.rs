//! The command table: for every implemented command, its handle area
//! (types and authorization roles, Part 3 "Command Structure" tables) and
//! the function that runs it.

use crate::constants::{cc, rh};
use crate::rc::Rc;
use crate::wire::{Codec, Reader};

use super::Tpm;
use super::{
    capability, clock, context, hash_cmds, pcr, random, selftest, sequence, session, startup,
    testparms,
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
const START_SESSION: &[(HandleKind, Role)] = &[
    (HandleKind::ObjectOrNull, Role::None),
    (HandleKind::Entity, Role::None),
];
const PCR_OBJECT_USER: &[(HandleKind, Role)] = &[
    (HandleKind::Pcr { null: true }, Role::User),
    (HandleKind::Object, Role::User),
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
    def!(cc::CLOCK_SET, PROVISION_USER, clock::clock_set, nv),
    def!(cc::PCR_ALLOCATE, PLATFORM_USER, pcr::pcr_allocate, nv),
    def!(
        cc::CLOCK_RATE_ADJUST,
        PROVISION_USER,
        clock::clock_rate_adjust
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
        cc::SEQUENCE_UPDATE,
        OBJECT_USER,
        sequence::sequence_update,
        decrypt
    ),
    def!(cc::FLUSH_CONTEXT, NONE, context::flush_context, no_sessions),
    def!(
        cc::START_AUTH_SESSION,
        START_SESSION,
        session::start_auth_session,
        r_handle,
        decrypt,
        encrypt
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
    def!(cc::READ_CLOCK, NONE, clock::read_clock),
    def!(cc::PCR_EXTEND, PCR_USER, pcr::pcr_extend, nv),
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
    def!(cc::TEST_PARMS, NONE, testparms::test_parms),
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
