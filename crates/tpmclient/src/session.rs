//! Authorization of command handles (TPM 2.0 Part 1 §19): the password
//! session TPM_RS_PW, and HMAC and policy sessions whose command and
//! response HMACs the client computes and checks.
//!
//! A caller holds [`Session`] values (a handle and what kind of session it
//! is) and says per command how each handle is authorized with an
//! [`Auth`]. The client keeps each session's secret state (session key,
//! the TPM's last nonce, what the policy so far requires) and rolls it with
//! every response, so sessions are used through the [`crate::Tpm`] that
//! started them.

use subtle::ConstantTimeEq;
use tpm::constants::session_attr;
use tpm::crypto::HashAlg;
use tpm::types::{SessionType, SymDef};
use zeroize::Zeroizing;

/// A session started with [`crate::Tpm::start_auth_session`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Session {
    pub(crate) handle: u32,
    pub(crate) kind: SessionType,
    pub(crate) hash: HashAlg,
}

impl Session {
    /// The TPM's handle for the session (0x02xxxxxx HMAC, 0x03xxxxxx
    /// policy).
    pub fn handle(&self) -> u32 {
        self.handle
    }
    pub fn kind(&self) -> SessionType {
        self.kind
    }
    /// The session's hash (authHash): HMACs, policy digest, nonces.
    pub fn hash(&self) -> HashAlg {
        self.hash
    }
}

/// How one handle of a command is authorized.
#[derive(Clone)]
pub enum Auth {
    /// TPM_RS_PW with the entity's authValue in clear (Part 1 §19.6.4).
    Password(Zeroizing<Vec<u8>>),
    /// An HMAC or policy session; `auth_value` is the entity's authValue,
    /// which keys the HMAC (unless the session is bound to the entity, or a
    /// policy session without PolicyAuthValue) and is sent in clear after
    /// PolicyPassword.
    Session {
        session: Session,
        auth_value: Zeroizing<Vec<u8>>,
        /// TPMA_SESSION bits (continueSession, decrypt, encrypt).
        attributes: u8,
    },
}

impl Auth {
    /// The empty password: the default authValue of hierarchies and of
    /// objects created without one.
    pub fn empty() -> Self {
        Auth::Password(Zeroizing::new(Vec::new()))
    }

    /// A password authorization.
    pub fn password(value: impl AsRef<[u8]>) -> Self {
        Auth::Password(Zeroizing::new(value.as_ref().to_vec()))
    }

    /// `session`, kept open after the command, for an entity whose
    /// authValue is empty (or not needed, as for a policy without
    /// PolicyAuthValue).
    pub fn session(session: Session) -> Self {
        Auth::session_with(session, [])
    }

    /// `session` for an entity whose authValue is `auth_value`.
    pub fn session_with(session: Session, auth_value: impl AsRef<[u8]>) -> Self {
        Auth::Session {
            session,
            auth_value: Zeroizing::new(auth_value.as_ref().to_vec()),
            attributes: session_attr::CONTINUE_SESSION,
        }
    }

    /// Lets the TPM flush the session after this command (continueSession
    /// clear). No effect on a password.
    #[must_use]
    pub fn end_session(self) -> Self {
        self.with_attribute(session_attr::CONTINUE_SESSION, false)
    }

    /// Asks the session to encrypt the command's first parameter, when the
    /// command has one that may be encrypted (Part 1 §21; ignored
    /// otherwise). The session needs a symmetric algorithm.
    #[must_use]
    pub fn decrypt(self) -> Self {
        self.with_attribute(session_attr::DECRYPT, true)
    }

    /// Asks the TPM to encrypt the response's first parameter, when the
    /// command has one that may be encrypted.
    #[must_use]
    pub fn encrypt(self) -> Self {
        self.with_attribute(session_attr::ENCRYPT, true)
    }

    fn with_attribute(mut self, bit: u8, on: bool) -> Self {
        if let Auth::Session { attributes, .. } = &mut self {
            if on {
                *attributes |= bit;
            } else {
                *attributes &= !bit;
            }
        }
        self
    }

    pub(crate) fn session_ref(&self) -> Option<Session> {
        match self {
            Auth::Session { session, .. } => Some(*session),
            Auth::Password(_) => None,
        }
    }
}

impl Default for Auth {
    fn default() -> Self {
        Auth::empty()
    }
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::Password(p) => write!(f, "Auth::Password(<{} octets>)", p.len()),
            Auth::Session {
                session,
                auth_value,
                attributes,
            } => write!(
                f,
                "Auth::Session({:#010x}, attrs {attributes:#04x}, <{} octets>)",
                session.handle,
                auth_value.len()
            ),
        }
    }
}

/// The client's copy of a session's state.
pub(crate) struct SessionState {
    pub kind: SessionType,
    pub hash: HashAlg,
    /// sessionKey (Part 1 §19.6.8); empty for an unbound, unsalted session.
    pub key: Zeroizing<Vec<u8>>,
    /// The nonce the TPM sent last.
    pub nonce_tpm: Vec<u8>,
    pub symmetric: SymDef,
    /// Name and authValue of the entity an HMAC session is bound to.
    pub bind: Option<(Vec<u8>, Zeroizing<Vec<u8>>)>,
    /// PolicyAuthValue ran: the authValue keys the HMAC.
    pub policy_auth_value: bool,
    /// PolicyPassword ran: the HMAC field carries the authValue.
    pub policy_password: bool,
}

/// An authValue with trailing zero octets removed, as the TPM uses it in
/// HMAC keys and comparisons (Part 1 §19.6.4.3, reference MemoryRemoveTrailingZeros).
pub(crate) fn trim(auth: &[u8]) -> &[u8] {
    let n = auth.iter().rposition(|b| *b != 0).map_or(0, |i| i + 1);
    auth.get(..n).unwrap_or(&[])
}

impl SessionState {
    pub fn is_policy(&self) -> bool {
        self.kind != SessionType::Hmac
    }

    /// Whether the entity's authValue goes into the HMAC key: for a policy
    /// session only after PolicyAuthValue; for an HMAC session unless it is
    /// bound to this very entity (same Name and authValue, Part 1
    /// §19.6.13).
    pub fn include_auth(&self, entity_name: &[u8], auth_value: &[u8]) -> bool {
        if self.is_policy() {
            return self.policy_auth_value;
        }
        match &self.bind {
            Some((name, bound_auth)) => {
                let same_name = name.as_slice() == entity_name;
                let same_auth: bool = trim(bound_auth).ct_eq(trim(auth_value)).into();
                !(same_name && same_auth)
            }
            None => true,
        }
    }

    /// sessionKey || authValue (if included): the HMAC key.
    pub fn hmac_key(&self, include_auth: bool, auth_value: &[u8]) -> Zeroizing<Vec<u8>> {
        let mut k = Zeroizing::new(self.key.to_vec());
        if include_auth {
            k.extend_from_slice(trim(auth_value));
        }
        k
    }

    /// The command HMAC (Part 1 §19.6.5): HMAC(key, cpHash || nonceCaller
    /// || nonceTPM || [nonceTPMdecrypt] || [nonceTPMencrypt] || attrs).
    pub fn command_hmac(
        &self,
        key: &[u8],
        cp_hash: &[u8],
        nonce_caller: &[u8],
        extra_nonces: &[Vec<u8>],
        attrs: u8,
    ) -> Vec<u8> {
        let mut parts: Vec<&[u8]> = vec![cp_hash, nonce_caller, &self.nonce_tpm];
        for n in extra_nonces {
            parts.push(n);
        }
        let a = [attrs];
        parts.push(&a);
        self.hash.hmac(key, &parts)
    }

    /// The response HMAC (Part 1 §19.6.5): HMAC(key, rpHash || nonceTPM ||
    /// nonceCaller || attrs), with the TPM's new nonce.
    pub fn response_hmac(
        &self,
        key: &[u8],
        rp_hash: &[u8],
        nonce_tpm: &[u8],
        nonce_caller: &[u8],
        attrs: u8,
    ) -> Vec<u8> {
        self.hash
            .hmac(key, &[rp_hash, nonce_tpm, nonce_caller, &[attrs]])
    }
}

/// cpHash (Part 1 §18.7): H(commandCode || Name1 || ... || parameters).
pub(crate) fn cp_hash(hash: HashAlg, code: u32, names: &[Vec<u8>], params: &[u8]) -> Vec<u8> {
    let mut h = hash.hasher();
    h.update(&code.to_be_bytes());
    for n in names {
        h.update(n);
    }
    h.update(params);
    h.finish()
}

/// rpHash (Part 1 §18.8): H(responseCode || commandCode || parameters);
/// only successful responses carry HMACs, so the code is always 0.
pub(crate) fn rp_hash(hash: HashAlg, code: u32, params: &[u8]) -> Vec<u8> {
    hash.digest(&[&0u32.to_be_bytes(), &code.to_be_bytes(), params])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trim_removes_trailing_zeros_only() {
        assert_eq!(trim(b"ab\0\0"), b"ab");
        assert_eq!(trim(b"\0a\0"), b"\0a");
        assert_eq!(trim(b"\0\0"), b"");
        assert_eq!(trim(b""), b"");
    }

    fn state(kind: SessionType, bind: Option<(&[u8], &[u8])>) -> SessionState {
        SessionState {
            kind,
            hash: HashAlg::Sha256,
            key: Zeroizing::new(vec![1, 2, 3]),
            nonce_tpm: vec![9; 32],
            symmetric: SymDef::Null,
            bind: bind.map(|(n, a)| (n.to_vec(), Zeroizing::new(a.to_vec()))),
            policy_auth_value: false,
            policy_password: false,
        }
    }

    #[test]
    fn auth_value_inclusion_follows_binding_and_policy() {
        let unbound = state(SessionType::Hmac, None);
        assert!(unbound.include_auth(b"name", b"pw"));
        let bound = state(SessionType::Hmac, Some((b"name", b"pw")));
        assert!(!bound.include_auth(b"name", b"pw\0"));
        assert!(bound.include_auth(b"other", b"pw"));
        assert!(bound.include_auth(b"name", b"changed"));
        let mut policy = state(SessionType::Policy, None);
        assert!(!policy.include_auth(b"name", b"pw"));
        policy.policy_auth_value = true;
        assert!(policy.include_auth(b"name", b"pw"));
        assert_eq!(
            bound.hmac_key(true, b"pw\0").as_slice(),
            &[1, 2, 3, b'p', b'w']
        );
    }

    /// The HMAC layout of Part 1 §19.6.5 against an independent
    /// computation with the same primitive.
    #[test]
    fn hmac_layouts() {
        let s = state(SessionType::Hmac, None);
        let got = s.command_hmac(b"k", b"cp", b"nc", &[b"x".to_vec()], 0x21);
        let want = HashAlg::Sha256.hmac(b"k", &[b"cpnc", &[9; 32], b"x", &[0x21]]);
        assert_eq!(got, want);
        let got = s.response_hmac(b"k", b"rp", b"nt", b"nc", 1);
        assert_eq!(got, HashAlg::Sha256.hmac(b"k", &[b"rpntnc\x01"]));
        let cp = cp_hash(HashAlg::Sha256, 0x14e, &[vec![1], vec![2, 3]], b"p");
        assert_eq!(
            cp,
            HashAlg::Sha256.digest(&[&[0, 0, 1, 0x4e, 1, 2, 3], b"p"])
        );
    }
}
