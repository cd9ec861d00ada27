//! Command-side session processing, in the order of the reference code's
//! SessionProcess.c (ParseSessionBuffer): unmarshal every session, tie the
//! first sessions to the handles that need authorization, check each
//! authorization (password, HMAC or policy), then decrypt the first
//! parameter (Part 1 §19.6, §21).

use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::constants::{cc, rh, session_attr};
use crate::crypto::HashAlg;
use crate::rc::Rc;
use crate::types::{AuthCommand, Nonce2b};
use crate::wire::{Codec, Reader};

use super::super::auth::{self, auth_policy, auth_value, entity_name, is_da_protected};
use super::super::dispatch::{CommandDef, Role};
use super::super::hierarchy::lockout;
use super::super::Tpm;
use super::{param_crypt, Session, SessionKind};

/// At most three sessions per command (Part 1 §18.1).
const MAX_SESSIONS: usize = 3;
/// TPM_RC_REFERENCE_S0: the session handle references no loaded session.
const RC_REFERENCE_S0: u32 = 0x918;
/// TPMA_SESSION bits 3 and 4 are reserved (Part 2 §8.4).
const SESSION_RESERVED: u8 = 0x18;

/// One entry of the command's authorization area, after checking.
pub(crate) struct SessionIn {
    pub handle: u32,
    pub nonce_caller: Vec<u8>,
    pub attrs: u8,
    pub hmac: Zeroizing<Vec<u8>>,
    /// The handle this session authorizes, if it is an authorization session.
    pub associated: Option<u32>,
    /// Whether the entity's authValue is part of the HMAC key (includeAuth).
    pub include_auth: bool,
}

/// The sessions of one command and the facts the response side needs.
pub(crate) struct Sessions {
    pub list: Vec<SessionIn>,
    pub decrypt: Option<usize>,
    pub encrypt: Option<usize>,
    pub audit: Option<usize>,
    pub code: u32,
    /// Names of the handles in the handle area, for cpHash.
    pub names: Vec<Vec<u8>>,
    /// The command parameters as received (encrypted), for cpHash.
    pub raw_params: Vec<u8>,
}

impl Sessions {
    /// cpHash (Part 1 §18.7): H(commandCode || names || parameters).
    pub fn cp_hash(&self, alg: HashAlg) -> Vec<u8> {
        let mut h = alg.hasher();
        h.update(&self.code.to_be_bytes());
        for n in &self.names {
            h.update(n);
        }
        h.update(&self.raw_params);
        h.finish()
    }
}

/// Processes a command's authorization area. `params` is the parameter
/// area; if a session decrypts the first parameter, it is decrypted in place.
pub(crate) fn authorize(
    tpm: &mut Tpm,
    def: &CommandDef,
    locality: u8,
    handles: &[u32],
    auth_area: &[u8],
    params: &mut [u8],
) -> Result<Sessions, Rc> {
    let mut s = Sessions {
        list: Vec::new(),
        decrypt: None,
        encrypt: None,
        audit: None,
        code: def.code,
        names: handles.iter().map(|&h| entity_name(tpm, h)).collect(),
        raw_params: params.to_vec(),
    };
    retrieve(tpm, def, auth_area, &mut s)?;

    for (i, (_, role)) in def.handles.iter().enumerate() {
        if *role == Role::None {
            continue;
        }
        let (Some(entry), Some(&h)) = (s.list.get_mut(i), handles.get(i)) else {
            return Err(Rc::AUTH_MISSING);
        };
        entry.associated = Some(h);
    }

    for idx in 0..s.list.len() {
        let n = idx as u32 + 1;
        let handle = s.list[idx].handle;
        if handle == rh::PW {
            let Some(assoc) = s.list[idx].associated else {
                return Err(Rc::HANDLE.session(n));
            };
            let e = &s.list[idx];
            let cmd = AuthCommand {
                session_handle: e.handle,
                nonce: Nonce2b::empty(),
                attributes: e.attrs,
                hmac: crate::wire::Tpm2bBytes(e.hmac.to_vec()),
            };
            // A password always uses the authValue: a locked-out entity is
            // refused before it is compared (reference CheckLockedOut).
            if is_da_protected(tpm, assoc) {
                lockout::check_locked_out(tpm, assoc == rh::LOCKOUT)?;
            }
            // NV indices: is the authValue available for this command?
            let role = def.handles.get(idx).map_or(Role::None, |(_, r)| *r);
            super::super::nv::check_auth_use(tpm, def.code, role, assoc, false)?;
            // Objects: userWithAuth / adminWithPolicy (objects helper).
            super::super::objects::check_auth_use(tpm, role, assoc, false)?;
            let r = auth::check_password(tpm, assoc, &cmd, n);
            super::super::nv::after_auth(tpm, assoc, true, &r);
            r?;
            continue;
        }
        let kind = tpm
            .session(handle)
            .map(|x| x.kind)
            .ok_or(Rc(RC_REFERENCE_S0 + idx as u32))?;
        if kind == SessionKind::Trial {
            return Err(Rc::ATTRIBUTES.session(n));
        }
        // A session bound to lockoutAuth is subject to its lockout however
        // it is used (reference ParseSessionBuffer, isDaBound).
        if is_lockout_bound(tpm, handle) {
            lockout::check_locked_out(tpm, true)?;
        }
        match s.list[idx].associated {
            Some(assoc) => {
                let r = check_auth_session(tpm, def, locality, &mut s, idx, assoc);
                // PIN indices count the authorizations that used them.
                let used = s.list[idx].include_auth;
                super::super::nv::after_auth(tpm, assoc, used, &r);
                r.map_err(|e| e.session(n))?
            }
            None => {
                let a = s.list[idx].attrs;
                let any = session_attr::AUDIT | session_attr::ENCRYPT | session_attr::DECRYPT;
                if a & any == 0 {
                    return Err(Rc::ATTRIBUTES.session(n));
                }
                s.list[idx].include_auth = false;
                check_hmac(tpm, &s, idx, None)
                    .map_err(|e| da_failure(tpm, e, None, false, handle).session(n))?;
            }
        }
    }

    if let Some(d) = s.decrypt {
        let e = &s.list[d];
        let extra = match e.associated {
            Some(h) => auth_value(tpm, h)?,
            None => Zeroizing::new(Vec::new()),
        };
        let session = tpm.session(e.handle).ok_or(Rc::FAILURE)?;
        param_crypt::decrypt(session, &extra, &e.nonce_caller, params)
            .map_err(|rc| rc.session(d as u32 + 1))?;
    }
    Ok(s)
}

/// RetrieveSessionData: unmarshals the sessions and records which ones
/// decrypt, encrypt and audit.
fn retrieve(tpm: &Tpm, def: &CommandDef, area: &[u8], s: &mut Sessions) -> Result<(), Rc> {
    let mut r = Reader::new(area);
    while !r.is_empty() {
        let idx = s.list.len();
        let n = idx as u32 + 1;
        if idx == MAX_SESSIONS {
            return Err(Rc::SIZE.session(n));
        }
        let handle = r.u32().map_err(|e| e.rc().session(n))?;
        let handle_ok = handle == rh::PW
            || matches!(
                rh::handle_type(handle),
                rh::HT_HMAC_SESSION | rh::HT_POLICY_SESSION
            );
        if !handle_ok {
            return Err(Rc::VALUE.session(n));
        }
        let nonce = Nonce2b::decode(&mut r).map_err(|e| e.rc().session(n))?;
        let attrs = r.u8().map_err(|e| e.rc().session(n))?;
        if attrs & SESSION_RESERVED != 0 {
            return Err(Rc::RESERVED_BITS.session(n));
        }
        let hmac = crate::types::Auth2b::decode(&mut r).map_err(|e| e.rc().session(n))?;
        let entry = SessionIn {
            handle,
            nonce_caller: nonce.0,
            attrs,
            hmac: Zeroizing::new(hmac.as_slice().to_vec()),
            associated: None,
            include_auth: true,
        };
        if handle == rh::PW {
            let forbidden = session_attr::ENCRYPT
                | session_attr::DECRYPT
                | session_attr::AUDIT
                | session_attr::AUDIT_EXCLUSIVE
                | session_attr::AUDIT_RESET;
            if attrs & forbidden != 0 {
                return Err(Rc::ATTRIBUTES.session(n));
            }
            if !entry.nonce_caller.is_empty() {
                return Err(Rc::NONCE.session(n));
            }
            s.list.push(entry);
            continue;
        }
        let session = tpm
            .session(handle)
            .ok_or(Rc(RC_REFERENCE_S0 + idx as u32))?;
        if s.list.iter().any(|e| e.handle == handle) {
            return Err(Rc::HANDLE.session(n));
        }
        if attrs & session_attr::DECRYPT != 0 {
            if !def.decrypt || s.decrypt.is_some() {
                return Err(Rc::ATTRIBUTES.session(n));
            }
            if session.symmetric == super::SessionSym::Null {
                return Err(Rc::SYMMETRIC.session(n));
            }
            s.decrypt = Some(idx);
        }
        if attrs & session_attr::ENCRYPT != 0 {
            if !def.encrypt || s.encrypt.is_some() {
                return Err(Rc::ATTRIBUTES.session(n));
            }
            if session.symmetric == super::SessionSym::Null {
                return Err(Rc::SYMMETRIC.session(n));
            }
            s.encrypt = Some(idx);
        }
        if attrs & session_attr::AUDIT != 0 {
            if s.audit.is_some() || rh::handle_type(handle) == rh::HT_POLICY_SESSION {
                return Err(Rc::ATTRIBUTES.session(n));
            }
            let first_use = session.audit_digest.is_none();
            if !first_use
                && attrs & session_attr::AUDIT_RESET == 0
                && attrs & session_attr::AUDIT_EXCLUSIVE != 0
                && tpm.vol.exclusive_audit != Some(handle)
            {
                return Err(Rc::EXCLUSIVE);
            }
            s.audit = Some(idx);
        }
        s.list.push(entry);
    }
    Ok(())
}

/// Whether `handle` is the entity `session` is bound to (same name and
/// same authValue, Part 1 §19.6.13).
fn is_bind_entity(tpm: &Tpm, session: &Session, handle: u32) -> bool {
    let Some((name, auth)) = &session.bound else {
        return false;
    };
    if handle == rh::NULL || entity_name(tpm, handle) != *name {
        return false;
    }
    match auth_value(tpm, handle) {
        Ok(v) => bool::from(v.as_slice().ct_eq(auth.as_slice())),
        Err(_) => false,
    }
}

/// Whether session `handle` is bound to TPM_RH_LOCKOUT (the reference
/// isLockoutBound; only HMAC sessions record their bind entity here).
fn is_lockout_bound(tpm: &Tpm, handle: u32) -> bool {
    tpm.session(handle)
        .and_then(|s| s.bound.as_ref())
        .is_some_and(|(name, _)| name.as_slice() == rh::LOCKOUT.to_be_bytes())
}

/// Turns an authorization failure (TPM_RC_BAD_AUTH / TPM_RC_AUTH_FAIL from
/// a comparison) into the reference IncrementLockout result: the DA
/// bookkeeping is done and the code is AUTH_FAIL exactly when DA applies.
/// Other codes pass through.
fn da_failure(tpm: &mut Tpm, rc: Rc, assoc: Option<u32>, include_auth: bool, session: u32) -> Rc {
    if rc != Rc::BAD_AUTH && rc != Rc::AUTH_FAIL {
        return rc;
    }
    let bound = is_lockout_bound(tpm, session);
    lockout::increment_lockout(tpm, assoc, include_auth, bound)
}

/// CheckAuthSession for an HMAC or policy session authorizing `assoc`.
fn check_auth_session(
    tpm: &mut Tpm,
    def: &CommandDef,
    locality: u8,
    s: &mut Sessions,
    idx: usize,
    assoc: u32,
) -> Result<(), Rc> {
    let handle = s.list[idx].handle;
    let session = tpm.session(handle).ok_or(Rc::FAILURE)?;
    let is_policy = matches!(session.kind, SessionKind::Policy | SessionKind::Trial);
    let include_auth = if is_policy {
        session.policy.auth_value_needed || session.policy.password_needed
    } else {
        !is_bind_entity(tpm, session, assoc)
    };
    s.list[idx].include_auth = include_auth;
    // An authValue about to be used must not be locked out.
    if include_auth && is_da_protected(tpm, assoc) {
        lockout::check_locked_out(tpm, assoc == rh::LOCKOUT)?;
    }
    // NV indices: is the authValue or authPolicy available for this command?
    let role = def.handles.get(idx).map_or(Role::None, |(_, r)| *r);
    super::super::nv::check_auth_use(tpm, def.code, role, assoc, is_policy)?;
    // Objects: userWithAuth / adminWithPolicy (objects helper).
    super::super::objects::check_auth_use(tpm, role, assoc, is_policy)?;
    if is_policy {
        let Some((policy_alg, policy)) = auth_policy(tpm, assoc) else {
            return Err(Rc::AUTH_UNAVAILABLE);
        };
        check_policy(tpm, def, locality, s, idx, policy_alg, &policy)?;
        let session = tpm.session(handle).ok_or(Rc::FAILURE)?;
        if session.policy.password_needed {
            let expected = auth_value(tpm, assoc)?;
            let given = auth::trim(&s.list[idx].hmac);
            return if bool::from(auth::trim(&expected).ct_eq(given)) {
                Ok(())
            } else {
                Err(da_failure(tpm, Rc::BAD_AUTH, Some(assoc), true, handle))
            };
        }
    }
    check_hmac(tpm, s, idx, Some(assoc))
        .map_err(|e| da_failure(tpm, e, Some(assoc), include_auth, handle))
}

/// CheckPolicyAuthSession: the policy session's accumulated state must
/// match the entity and this command.
fn check_policy(
    tpm: &Tpm,
    def: &CommandDef,
    locality: u8,
    s: &Sessions,
    idx: usize,
    policy_alg: HashAlg,
    policy: &[u8],
) -> Result<(), Rc> {
    let session = tpm.session(s.list[idx].handle).ok_or(Rc::FAILURE)?;
    let p = &session.policy;
    if s.code == cc::POLICY_SECRET && !p.password_needed && !p.auth_value_needed {
        return Err(Rc::MODE);
    }
    if p.pcr_counter
        .is_some_and(|c| c != tpm.vol.pcr_update_counter)
    {
        return Err(Rc::PCR_CHANGED);
    }
    if !bool::from(p.digest.as_slice().ct_eq(policy)) || policy_alg != session.auth_hash {
        return Err(Rc::POLICY_FAIL);
    }
    if p.timeout.is_some_and(|t| t < tpm.time_since_init()) {
        return Err(Rc::EXPIRED);
    }
    match p.command_code {
        Some(c) if c != s.code => return Err(Rc::POLICY_CC),
        None if def
            .handles
            .get(idx)
            .is_some_and(|(_, r)| *r == Role::Admin || *r == Role::Dup) =>
        {
            return Err(Rc::POLICY_FAIL)
        }
        _ => {}
    }
    if p.locality != 0 {
        let ok = locality < 5 && p.locality & (1 << locality) != 0 && p.locality <= 31;
        if !ok {
            return Err(Rc::LOCALITY);
        }
    }
    if p.pp_required {
        return Err(Rc::PP);
    }
    if let Some(cp) = &p.cp_hash {
        if *cp != s.cp_hash(session.auth_hash) {
            return Err(Rc::POLICY_FAIL);
        }
    }
    if let Some(nh) = &p.name_hash {
        let mut h = session.auth_hash.hasher();
        for n in &s.names {
            h.update(n);
        }
        if *nh != h.finish() {
            return Err(Rc::POLICY_FAIL);
        }
    }
    if let Some(th) = &p.template_hash {
        if !template_matches(session.auth_hash, s, th) {
            return Err(Rc::POLICY_FAIL);
        }
    }
    if let Some(want) = p.nv_written {
        let assoc = s.list[idx].associated.unwrap_or(rh::NULL);
        if super::super::auth::nv_written(tpm, assoc) != Some(want) {
            return Err(Rc::POLICY_FAIL);
        }
    }
    Ok(())
}

/// PolicyTemplate (Part 3 §23.21): the hash of the second parameter (the
/// template) of Create, CreatePrimary or CreateLoaded.
fn template_matches(alg: HashAlg, s: &Sessions, want: &[u8]) -> bool {
    if !matches!(s.code, cc::CREATE | cc::CREATE_PRIMARY | cc::CREATE_LOADED) {
        return false;
    }
    let mut r = Reader::new(&s.raw_params);
    let Ok(n) = r.u16() else { return false };
    if r.take(n as usize).is_err() {
        return false;
    }
    let Ok(n) = r.u16() else { return false };
    let Ok(template) = r.take(n as usize) else {
        return false;
    };
    alg.digest(&[template]) == want
}

/// The command HMAC a session must carry (Part 1 §19.6.5).
pub(super) fn command_hmac(
    tpm: &Tpm,
    s: &Sessions,
    idx: usize,
    assoc: Option<u32>,
) -> Result<Vec<u8>, Rc> {
    let e = &s.list[idx];
    let session = tpm.session(e.handle).ok_or(Rc::FAILURE)?;
    let mut key = Zeroizing::new(session.session_key.to_vec());
    if e.include_auth {
        if let Some(h) = assoc {
            key.extend_from_slice(auth::trim(&auth_value(tpm, h)?));
        }
    }
    if key.is_empty() && e.hmac.is_empty() {
        return Ok(Vec::new());
    }
    let cp = s.cp_hash(session.auth_hash);
    let mut parts: Vec<&[u8]> = vec![&cp, &e.nonce_caller, &session.nonce_tpm];
    // The first authorization session also covers the nonces of separate
    // decrypt and encrypt sessions, so they cannot be swapped out.
    let mut extra: Vec<Vec<u8>> = Vec::new();
    if idx == 0 && e.associated.is_some() {
        if let Some(d) = s.decrypt.filter(|&d| d != idx) {
            if let Some(ds) = s.list.get(d).and_then(|x| tpm.session(x.handle)) {
                extra.push(ds.nonce_tpm.clone());
            }
        }
        if let Some(en) = s.encrypt.filter(|&en| en != idx && Some(en) != s.decrypt) {
            if let Some(es) = s.list.get(en).and_then(|x| tpm.session(x.handle)) {
                extra.push(es.nonce_tpm.clone());
            }
        }
    }
    for x in &extra {
        parts.push(x);
    }
    let attrs = [e.attrs];
    parts.push(&attrs);
    Ok(session.auth_hash.hmac(&key, &parts))
}

fn check_hmac(tpm: &Tpm, s: &Sessions, idx: usize, assoc: Option<u32>) -> Result<(), Rc> {
    let expected = command_hmac(tpm, s, idx, assoc)?;
    if bool::from(expected.as_slice().ct_eq(s.list[idx].hmac.as_slice())) {
        Ok(())
    } else {
        Err(match assoc {
            Some(h) if is_da_protected(tpm, h) => Rc::AUTH_FAIL,
            _ => Rc::BAD_AUTH,
        })
    }
}
