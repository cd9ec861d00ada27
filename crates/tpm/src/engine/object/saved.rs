//! The contents of saved session contexts (TPM2_ContextSave of an HMAC or
//! policy session, Part 3 §28.2): every field of a session, encoded so
//! that TPM2_ContextLoad restores it exactly. The encoding is private to
//! this TPM (the blob is encrypted and integrity-protected around it, see
//! `engine/context.rs`); decoding still checks every length, since a
//! corrupt blob must never be half-loaded.

use zeroize::Zeroizing;

use crate::crypto::HashAlg;
use crate::wire::{Codec, Reader, WireError};

use super::super::fields::{self, get_flag, put_bytes, put_opt_bytes};
use super::super::session::{PolicyState, Session, SessionKind, SessionSym};

/// Version of the session encoding.
const VERSION: u8 = 1;
/// Largest byte string a session holds (a digest, nonce or Name).
const MAX_FIELD: usize = 2 + crate::types::MAX_DIGEST_SIZE;

fn get_bytes(r: &mut Reader<'_>) -> Result<Vec<u8>, WireError> {
    fields::get_bytes(r, MAX_FIELD)
}

fn get_opt_bytes(r: &mut Reader<'_>) -> Result<Option<Vec<u8>>, WireError> {
    fields::get_opt_bytes(r, MAX_FIELD)
}

pub(crate) fn encode_session(s: &Session) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(512));
    let o = &mut *out;
    VERSION.encode(o);
    o.push(match s.kind {
        SessionKind::Hmac => 0,
        SessionKind::Policy => 1,
        SessionKind::Trial => 3,
    });
    s.auth_hash.id().encode(o);
    put_bytes(o, &s.session_key);
    put_bytes(o, &s.nonce_tpm);
    match s.symmetric {
        SessionSym::Null => o.push(0),
        SessionSym::Xor(h) => {
            o.push(1);
            h.id().encode(o);
        }
        SessionSym::Cfb { alg, key_bits } => {
            o.push(2);
            alg.encode(o);
            key_bits.encode(o);
        }
    }
    match &s.bound {
        None => o.push(0),
        Some((name, auth)) => {
            o.push(1);
            put_bytes(o, name);
            put_bytes(o, auth);
        }
    }
    let p = &s.policy;
    put_bytes(o, &p.digest);
    match p.command_code {
        None => o.push(0),
        Some(c) => {
            o.push(1);
            c.encode(o);
        }
    }
    put_opt_bytes(o, p.cp_hash.as_deref());
    put_opt_bytes(o, p.name_hash.as_deref());
    put_opt_bytes(o, p.template_hash.as_deref());
    p.auth_value_needed.encode(o);
    p.password_needed.encode(o);
    match p.pcr_counter {
        None => o.push(0),
        Some(c) => {
            o.push(1);
            c.encode(o);
        }
    }
    p.locality.encode(o);
    match p.timeout {
        None => o.push(0),
        Some(t) => {
            o.push(1);
            t.encode(o);
        }
    }
    match p.nv_written {
        None => o.push(0),
        Some(w) => {
            o.push(1);
            w.encode(o);
        }
    }
    p.pp_required.encode(o);
    put_opt_bytes(o, s.audit_digest.as_deref());
    s.start_time.encode(o);
    out
}

/// Decodes [`encode_session`]'s output; the whole input must be used.
pub(crate) fn decode_session(bytes: &[u8]) -> Result<Session, WireError> {
    let mut r = Reader::new(bytes);
    let r = &mut r;
    if r.u8()? != VERSION {
        return Err(WireError::Value);
    }
    let kind = match r.u8()? {
        0 => SessionKind::Hmac,
        1 => SessionKind::Policy,
        3 => SessionKind::Trial,
        _ => return Err(WireError::Value),
    };
    let auth_hash = HashAlg::from_id(r.u16()?).ok_or(WireError::Hash)?;
    let session_key = Zeroizing::new(get_bytes(r)?);
    let nonce_tpm = get_bytes(r)?;
    let symmetric = match r.u8()? {
        0 => SessionSym::Null,
        1 => SessionSym::Xor(HashAlg::from_id(r.u16()?).ok_or(WireError::Hash)?),
        2 => SessionSym::Cfb {
            alg: r.u16()?,
            key_bits: r.u16()?,
        },
        _ => return Err(WireError::Value),
    };
    let bound = if get_flag(r)? {
        let name = get_bytes(r)?;
        Some((name, Zeroizing::new(get_bytes(r)?)))
    } else {
        None
    };
    let digest = get_bytes(r)?;
    let command_code = if get_flag(r)? { Some(r.u32()?) } else { None };
    let cp_hash = get_opt_bytes(r)?;
    let name_hash = get_opt_bytes(r)?;
    let template_hash = get_opt_bytes(r)?;
    let auth_value_needed = get_flag(r)?;
    let password_needed = get_flag(r)?;
    let pcr_counter = if get_flag(r)? { Some(r.u32()?) } else { None };
    let locality = r.u8()?;
    let timeout = if get_flag(r)? { Some(r.u64()?) } else { None };
    let nv_written = if get_flag(r)? {
        Some(get_flag(r)?)
    } else {
        None
    };
    let pp_required = get_flag(r)?;
    let audit_digest = get_opt_bytes(r)?;
    let start_time = r.u64()?;
    if !r.is_empty() {
        return Err(WireError::Size);
    }
    // The update is a no-op today; it keeps this compiling if PolicyState
    // grows (the test below then reminds to encode the new field).
    #[allow(clippy::needless_update)]
    let policy = PolicyState {
        digest,
        command_code,
        cp_hash,
        name_hash,
        template_hash,
        auth_value_needed,
        password_needed,
        pcr_counter,
        locality,
        timeout,
        nv_written,
        pp_required,
        ..PolicyState::new(auth_hash)
    };
    Ok(Session {
        kind,
        auth_hash,
        session_key,
        nonce_tpm,
        symmetric,
        bound,
        policy,
        audit_digest,
        start_time,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The session encoding must cover every policy field: a field added
    /// to PolicyState without being added here would silently be lost
    /// across TPM2_ContextSave / ContextLoad. Update `encode_session`,
    /// `decode_session` and this list together.
    #[test]
    fn policy_state_fields_are_all_encoded() {
        let dbg = format!("{:?}", PolicyState::default());
        let inner = dbg
            .trim_start_matches("PolicyState {")
            .trim_end_matches('}');
        let fields: Vec<&str> = inner
            .split(", ")
            .filter_map(|f| f.split(':').next())
            .map(str::trim)
            .filter(|f| !f.is_empty())
            .collect();
        assert_eq!(
            fields,
            [
                "digest",
                "command_code",
                "cp_hash",
                "name_hash",
                "template_hash",
                "auth_value_needed",
                "password_needed",
                "pcr_counter",
                "locality",
                "timeout",
                "nv_written",
                "pp_required"
            ]
        );
    }

    /// The largest session context stays below TPM_PT_MAX_SESSION_CONTEXT
    /// (with the 66-octet integrity and the 8-octet fingerprint).
    #[test]
    fn largest_session_fits_the_reported_maximum() {
        let d = vec![0xAA; 64];
        let policy = PolicyState {
            digest: d.clone(),
            command_code: Some(1),
            cp_hash: Some(d.clone()),
            name_hash: Some(d.clone()),
            template_hash: Some(d.clone()),
            auth_value_needed: true,
            password_needed: true,
            pcr_counter: Some(1),
            locality: 1,
            timeout: Some(1),
            nv_written: Some(true),
            pp_required: true,
        };
        let s = Session {
            kind: SessionKind::Policy,
            auth_hash: HashAlg::Sha512,
            session_key: Zeroizing::new(d.clone()),
            nonce_tpm: d.clone(),
            symmetric: SessionSym::Cfb {
                alg: crate::constants::alg::AES,
                key_bits: 256,
            },
            bound: Some((vec![0; 66], Zeroizing::new(d.clone()))),
            policy,
            audit_digest: Some(d),
            start_time: u64::MAX,
        };
        let total = encode_session(&s).len() + 8 + 66;
        assert!(
            total <= super::super::super::capability::limits::SESSION_CONTEXT_MAX as usize,
            "{total}"
        );
    }

    #[test]
    fn session_round_trip() {
        let mut policy = PolicyState::new(HashAlg::Sha256);
        policy.command_code = Some(0x14B);
        policy.cp_hash = Some(vec![7; 32]);
        policy.password_needed = true;
        policy.pcr_counter = Some(9);
        policy.locality = 3;
        policy.timeout = Some(12345);
        policy.nv_written = Some(false);
        let s = Session {
            kind: SessionKind::Policy,
            auth_hash: HashAlg::Sha256,
            session_key: Zeroizing::new(vec![1; 32]),
            nonce_tpm: vec![2; 32],
            symmetric: SessionSym::Cfb {
                alg: crate::constants::alg::AES,
                key_bits: 128,
            },
            bound: Some((vec![3; 34], Zeroizing::new(vec![4; 5]))),
            policy,
            audit_digest: Some(vec![5; 32]),
            start_time: 77,
        };
        let b = encode_session(&s);
        let t = decode_session(&b).expect("decode");
        assert_eq!(&*encode_session(&t), &*b);
        assert_eq!(t.policy.cp_hash, Some(vec![7; 32]));
        for n in 0..b.len() {
            assert!(decode_session(&b[..n]).is_err(), "truncated at {n}");
        }
    }
}
