//! Response-side session processing (reference BuildResponseSession):
//! roll every session's nonceTPM, encrypt the first response parameter,
//! extend audit digests, compute response HMACs, and flush sessions whose
//! caller did not ask to continue them (Part 1 §19.6.5, §21).

use zeroize::Zeroizing;

use crate::constants::{rh, session_attr};
use crate::crypto::HashAlg;
use crate::rc::Rc;
use crate::types::{AuthResponse, Nonce2b};
use crate::wire::{Codec, Tpm2b};

use super::super::auth::{auth_value, trim};
use super::super::Tpm;
use super::{param_crypt, PolicyState, SessionKind, Sessions};

/// rpHash (Part 1 §18.8): H(responseCode || commandCode || parameters).
fn rp_hash(alg: HashAlg, code: u32, params: &[u8]) -> Vec<u8> {
    alg.digest(&[&0u32.to_be_bytes(), &code.to_be_bytes(), params])
}

/// Builds the response authorization area for a successful command whose
/// response parameters are `params` (encrypted here in place if asked).
pub(crate) fn respond(tpm: &mut Tpm, s: &mut Sessions, params: &mut [u8]) -> Result<Vec<u8>, Rc> {
    for e in &s.list {
        if e.handle == rh::PW {
            continue;
        }
        let fresh = match tpm.session(e.handle) {
            Some(session) => tpm_nonce(tpm, session.auth_hash),
            None => continue,
        };
        if let Some(session) = tpm.session_mut(e.handle) {
            session.nonce_tpm = fresh;
        }
    }

    if let Some(i) = s.encrypt {
        let e = &s.list[i];
        let extra = match e.associated {
            Some(h) => auth_value(tpm, h).unwrap_or_else(|_| Zeroizing::new(Vec::new())),
            None => Zeroizing::new(Vec::new()),
        };
        if let Some(session) = tpm.session(e.handle) {
            param_crypt::encrypt(session, &extra, &e.nonce_caller, params)
                .map_err(|rc| rc.session(i as u32 + 1))?;
        }
    }

    update_audit(tpm, s, params);

    let mut out = Vec::new();
    for e in &s.list {
        if e.handle == rh::PW {
            AuthResponse {
                nonce: Nonce2b::empty(),
                attributes: e.attrs | session_attr::CONTINUE_SESSION,
                hmac: Tpm2b::empty(),
            }
            .encode(&mut out);
            continue;
        }
        let Some(session) = tpm.session(e.handle) else {
            continue;
        };
        let password = session.kind != SessionKind::Hmac && session.policy.password_needed;
        let hmac = if password {
            Vec::new()
        } else {
            let mut key = Zeroizing::new(session.session_key.to_vec());
            if e.include_auth {
                if let Some(h) = e.associated {
                    if let Ok(v) = auth_value(tpm, h) {
                        key.extend_from_slice(trim(&v));
                    }
                }
            }
            if key.is_empty() && e.hmac.is_empty() {
                Vec::new()
            } else {
                let rp = rp_hash(session.auth_hash, s.code, params);
                session.auth_hash.hmac(
                    &key,
                    &[&rp, &session.nonce_tpm, &e.nonce_caller, &[e.attrs]],
                )
            }
        };
        AuthResponse {
            nonce: Tpm2b(session.nonce_tpm.clone()),
            attributes: e.attrs,
            hmac: Tpm2b(hmac),
        }
        .encode(&mut out);
    }

    // Roll policy sessions that continue; flush those that do not.
    let now = tpm.time_since_init();
    for e in &s.list {
        if e.handle == rh::PW {
            continue;
        }
        if e.attrs & session_attr::CONTINUE_SESSION == 0 {
            tpm.flush_session(e.handle);
        } else if let Some(session) = tpm.session_mut(e.handle) {
            if session.kind != SessionKind::Hmac {
                session.policy = PolicyState::new(session.auth_hash);
                session.start_time = now;
            }
        }
    }
    Ok(out)
}

fn tpm_nonce(tpm: &mut Tpm, alg: HashAlg) -> Vec<u8> {
    tpm.drbg.bytes(alg.digest_size())
}

/// Session audit (Part 1 §19.6.14): digestNew = H(digestOld || cpHash ||
/// rpHash), restarted from zeros on first use or auditReset; exclusivity
/// holds while no other command runs without this audit session.
fn update_audit(tpm: &mut Tpm, s: &mut Sessions, params: &[u8]) {
    let mut audit_handle = None;
    if let Some(i) = s.audit {
        let handle = s.list[i].handle;
        let attrs = s.list[i].attrs;
        let Some(alg) = tpm.session(handle).map(|x| x.auth_hash) else {
            return;
        };
        let cp = s.cp_hash(alg);
        let rp = rp_hash(alg, s.code, params);
        let reset = attrs & session_attr::AUDIT_RESET != 0;
        let exclusive_before = tpm.vol.exclusive_audit;
        if let Some(session) = tpm.session_mut(handle) {
            let old = match (&session.audit_digest, reset) {
                (Some(d), false) => d.clone(),
                _ => vec![0; alg.digest_size()],
            };
            let first = session.audit_digest.is_none() || reset;
            session.audit_digest = Some(alg.digest(&[&old, &cp, &rp]));
            tpm.vol.exclusive_audit = if first || exclusive_before == Some(handle) {
                Some(handle)
            } else {
                None
            };
        }
        let exclusive = tpm.vol.exclusive_audit == Some(handle);
        if let Some(e) = s.list.get_mut(i) {
            if exclusive {
                e.attrs |= session_attr::AUDIT_EXCLUSIVE;
            } else {
                e.attrs &= !session_attr::AUDIT_EXCLUSIVE;
            }
        }
        audit_handle = Some(handle);
    }
    if audit_handle.is_none() {
        tpm.vol.exclusive_audit = None;
    }
}
