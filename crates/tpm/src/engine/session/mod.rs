//! Authorization sessions (TPM 2.0 Part 1 §19, Part 3 §11): HMAC, policy
//! and trial sessions, their nonces and keys, and what a policy session has
//! accumulated so far.
//!
//! `start` implements TPM2_StartAuthSession; `authorize` does the per-command
//! work (checking command HMACs and policies, decrypting the first parameter)
//! and `respond` the response side (rolling nonces, encrypting the first
//! response parameter, response HMACs, audit digests).

mod authorize;
mod param_crypt;
mod respond;
mod start;

pub(crate) use authorize::{authorize, Sessions};
pub(crate) use respond::respond;
pub(crate) use start::start_auth_session;

use zeroize::Zeroizing;

use crate::constants::rh;
use crate::crypto::HashAlg;
use crate::rc::Rc;

use super::Tpm;

/// Sessions that can be loaded at once (MAX_LOADED_SESSIONS; TPM_PT_HR_LOADED_MIN).
pub(crate) const MAX_LOADED_SESSIONS: usize = 3;
/// Sessions that can be active, loaded or saved (MAX_ACTIVE_SESSIONS).
pub(crate) const MAX_ACTIVE_SESSIONS: usize = 64;

/// TPM_SE (Part 2 §6.11).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SessionKind {
    Hmac,
    Policy,
    /// A policy session that only computes a digest; it can never authorize.
    Trial,
}

/// The symmetric algorithm of a session (TPMT_SYM_DEF, Part 2 §11.1.6),
/// used for parameter encryption.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SessionSym {
    Null,
    /// XOR obfuscation with the given hash (Part 1 §21.2).
    Xor(HashAlg),
    /// A block cipher in CFB mode (Part 1 §21.3).
    Cfb {
        alg: u16,
        key_bits: u16,
    },
}

/// What the policy commands executed in a policy session so far require of
/// the command it authorizes (Part 1 §19.7; reference SESSION attributes).
#[derive(Clone, Debug, Default)]
pub(crate) struct PolicyState {
    /// policyDigest, all zeros at start (length of the session hash).
    pub digest: Vec<u8>,
    /// PolicyCommandCode: the only command this session may authorize.
    pub command_code: Option<u32>,
    /// PolicyCpHash: the cpHash the command must have.
    pub cp_hash: Option<Vec<u8>>,
    /// PolicyNameHash: the digest of the names of the command's handles.
    pub name_hash: Option<Vec<u8>>,
    /// PolicyTemplate: the digest of the template of Create* commands.
    pub template_hash: Option<Vec<u8>>,
    /// PolicyAuthValue: the entity's authValue goes into the HMAC key.
    pub auth_value_needed: bool,
    /// PolicyPassword: the HMAC field carries the authValue in clear.
    pub password_needed: bool,
    /// PolicyPCR: the pcrUpdateCounter at the time; a change invalidates.
    pub pcr_counter: Option<u32>,
    /// PolicyLocality: TPMA_LOCALITY of allowed localities (0 = any).
    pub locality: u8,
    /// Absolute TPM time (ms since _TPM_Init) after which the session expires.
    pub timeout: Option<u64>,
    /// PolicyNvWritten: required TPMA_NV_WRITTEN state.
    pub nv_written: Option<bool>,
    /// PolicyPhysicalPresence.
    pub pp_required: bool,
}

impl PolicyState {
    pub fn new(hash: HashAlg) -> Self {
        PolicyState {
            digest: vec![0; hash.digest_size()],
            ..Default::default()
        }
    }
}

/// One active session.
pub(crate) struct Session {
    pub kind: SessionKind,
    pub auth_hash: HashAlg,
    /// sessionKey (Part 1 §19.6.8): empty for unbound, unsalted sessions.
    pub session_key: Zeroizing<Vec<u8>>,
    /// The nonce the TPM returned last (nonceTPM).
    pub nonce_tpm: Vec<u8>,
    pub symmetric: SessionSym,
    /// Name and authValue of the bind entity, for "is this the bind entity"
    /// (Part 1 §19.6.13); None when unbound.
    pub bound: Option<(Vec<u8>, Zeroizing<Vec<u8>>)>,
    pub policy: PolicyState,
    /// Session audit digest once the session has been used for audit.
    pub audit_digest: Option<Vec<u8>>,
    /// TPM time at start (or the last nonce roll of a policy session).
    pub start_time: u64,
}

impl Tpm {
    pub(crate) fn session(&self, handle: u32) -> Option<&Session> {
        self.vol.sessions.get(&handle)
    }

    pub(crate) fn session_mut(&mut self, handle: u32) -> Option<&mut Session> {
        self.vol.sessions.get_mut(&handle)
    }

    /// Places a new session in a free slot. Handles of both session types
    /// share one slot numbering, as in the reference code, so a handle's low
    /// bits never repeat between an HMAC and a policy session in use.
    pub(crate) fn add_session(&mut self, s: Session) -> Result<u32, Rc> {
        if self.vol.sessions.len() >= MAX_LOADED_SESSIONS {
            return Err(Rc::SESSION_MEMORY);
        }
        // Saved sessions keep their slots; the context gap may forbid
        // taking the last free one (reference ContextIdSessionCreate).
        super::context::check_new_session_gap(self)?;
        let base = match s.kind {
            SessionKind::Hmac => rh::HMAC_SESSION_FIRST,
            SessionKind::Policy | SessionKind::Trial => rh::POLICY_SESSION_FIRST,
        };
        let used = |slot: u32| {
            self.vol
                .sessions
                .contains_key(&(rh::HMAC_SESSION_FIRST + slot))
                || self
                    .vol
                    .sessions
                    .contains_key(&(rh::POLICY_SESSION_FIRST + slot))
                || super::context::is_saved_session_slot(self, slot)
        };
        let slot = (0..MAX_ACTIVE_SESSIONS as u32)
            .find(|&s| !used(s))
            .ok_or(Rc::SESSION_HANDLES)?;
        let handle = base + slot;
        self.vol.sessions.insert(handle, s);
        Ok(handle)
    }

    pub(crate) fn flush_session(&mut self, handle: u32) -> Option<Session> {
        self.vol.sessions.remove(&handle)
    }
}
