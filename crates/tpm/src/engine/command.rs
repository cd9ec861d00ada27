//! Command framing: header, handle area, authorization area and response
//! assembly, in the order the reference implementation's ExecCommand.c
//! checks them (Part 3 §5), so malformed commands get the same response
//! codes a hardware TPM gives.

use crate::constants::{cc, rh, st};
use crate::rc::Rc;
use crate::types::{AuthCommand, IMPLEMENTATION_PCR};
use crate::wire::{Codec, Reader};

use super::auth;
use super::dispatch::{self, Ctx, HandleKind, Role};
use super::Tpm;

/// Largest command (and response) this TPM accepts (TPM_PT_MAX_COMMAND_SIZE).
pub const MAX_COMMAND_SIZE: usize = 4096;
/// At most three sessions per command (Part 1 §18.1).
const MAX_SESSIONS: usize = 3;
/// TPM_RC_REFERENCE_H0: a handle references nothing loaded (warning).
const RC_REFERENCE_H0: u32 = 0x910;
/// TPM_RC_REFERENCE_S0: a session handle references no loaded session.
const RC_REFERENCE_S0: u32 = 0x918;

/// A header-level failure also decides the response tag.
struct Fail {
    rc: Rc,
    tag: u16,
}

impl From<Rc> for Fail {
    fn from(rc: Rc) -> Self {
        Fail {
            rc,
            tag: st::NO_SESSIONS,
        }
    }
}

pub(crate) fn execute(tpm: &mut Tpm, locality: u8, command: &[u8]) -> Vec<u8> {
    match run(tpm, locality, command) {
        Ok(resp) => resp,
        Err(f) => error_response(f.tag, f.rc),
    }
}

/// A 10-byte error response.
pub(crate) fn error_response(tag: u16, rc: Rc) -> Vec<u8> {
    let mut v = Vec::with_capacity(10);
    tag.encode(&mut v);
    10u32.encode(&mut v);
    rc.0.encode(&mut v);
    v
}

fn run(tpm: &mut Tpm, locality: u8, command: &[u8]) -> Result<Vec<u8>, Fail> {
    let mut r = Reader::new(command);
    let tag = r.u16().map_err(|_| Rc::INSUFFICIENT)?;
    if tag == st::RQU_COMMAND_12 {
        // A TPM 1.2 command: answered in TPM 1.2 format (Part 2 §6.6.3).
        return Err(Fail {
            rc: Rc::BAD_TAG,
            tag: st::RSP_COMMAND,
        });
    }
    if tag != st::NO_SESSIONS && tag != st::SESSIONS {
        return Err(Rc::BAD_TAG.into());
    }
    let size = r.u32().map_err(|_| Rc::INSUFFICIENT)? as usize;
    if size != command.len() || size > MAX_COMMAND_SIZE {
        return Err(Rc::COMMAND_SIZE.into());
    }
    let code = r.u32().map_err(|_| Rc::INSUFFICIENT)?;
    let def = dispatch::find(code).ok_or(Rc::COMMAND_CODE)?;
    // In failure mode only GetTestResult and GetCapability run (Part 1 §12.3.5).
    if super::selftest::in_failure_mode(tpm)
        && code != cc::GET_TEST_RESULT
        && code != cc::GET_CAPABILITY
    {
        return Err(Rc::FAILURE.into());
    }
    if tpm.started == (code == cc::STARTUP) {
        return Err(Rc::INITIALIZE.into());
    }
    // Clock advances and is committed to NV at its update interval
    // before each command (Part 1 §36.4; reference TimeUpdateToCurrent).
    super::clock::update(tpm);

    // Handle area (Part 3 §5.4): type checks, then "is it loaded".
    let mut handles = Vec::with_capacity(def.handles.len());
    for (i, (kind, _)) in def.handles.iter().enumerate() {
        let n = i as u32 + 1;
        let h = r.u32().map_err(|_| Rc::INSUFFICIENT)?;
        check_handle(tpm, *kind, h, n)?;
        handles.push(h);
    }

    // Authorization area (Part 1 §18.5).
    let auth_count = def
        .handles
        .iter()
        .filter(|(_, role)| *role != Role::None)
        .count();
    let mut sessions: Vec<AuthCommand> = Vec::new();
    if tag == st::SESSIONS {
        let auth_size = r.u32().map_err(|_| Rc::AUTHSIZE)? as usize;
        // The smallest session is 9 bytes (handle, empty nonce, attributes, empty hmac).
        if auth_size < 9 || auth_size > r.remaining() {
            return Err(Rc::AUTHSIZE.into());
        }
        let mut ar = r.sub(auth_size).map_err(|_| Rc::AUTHSIZE)?;
        while !ar.is_empty() {
            if sessions.len() == MAX_SESSIONS {
                return Err(Rc::AUTHSIZE.into());
            }
            let n = sessions.len() as u32 + 1;
            let s = AuthCommand::decode(&mut ar).map_err(|e| e.rc().session(n))?;
            sessions.push(s);
        }
    }
    if sessions.len() < auth_count {
        return Err(Rc::AUTH_MISSING.into());
    }
    for (i, s) in sessions.iter().enumerate() {
        let n = i as u32 + 1;
        match s.session_handle {
            rh::PW => {}
            h if matches!(
                rh::handle_type(h),
                rh::HT_HMAC_SESSION | rh::HT_POLICY_SESSION
            ) =>
            {
                // No HMAC or policy sessions can be loaded yet.
                return Err(Rc(RC_REFERENCE_S0 + i as u32).into());
            }
            _ => return Err(Rc::HANDLE.session(n).into()),
        }
    }
    let mut authorized = 0;
    for (i, (_, role)) in def.handles.iter().enumerate() {
        if *role == Role::None {
            continue;
        }
        let (Some(h), Some(s)) = (handles.get(i), sessions.get(authorized)) else {
            return Err(Rc::AUTH_MISSING.into());
        };
        auth::check_password(tpm, *h, s, authorized as u32 + 1)?;
        authorized += 1;
    }
    // Password sessions authorize handles; they cannot audit or encrypt.
    if sessions.len() > authorized {
        return Err(Rc::AUTH_CONTEXT.into());
    }

    let mut ctx = Ctx::new(locality, handles, r.rest());
    (def.run)(tpm, &mut ctx)?;

    let mut out = Vec::with_capacity(ctx.out.len() + 32);
    let resp_tag = if tag == st::SESSIONS {
        st::SESSIONS
    } else {
        st::NO_SESSIONS
    };
    resp_tag.encode(&mut out);
    0u32.encode(&mut out); // size, patched below
    Rc::SUCCESS.0.encode(&mut out);
    if def.r_handle {
        ctx.out_handle.unwrap_or(rh::NULL).encode(&mut out);
    }
    if tag == st::SESSIONS {
        (ctx.out.len() as u32).encode(&mut out);
        out.extend_from_slice(&ctx.out);
        for s in &sessions {
            auth::password_response(s).encode(&mut out);
        }
    } else {
        out.extend_from_slice(&ctx.out);
    }
    let len = (out.len() as u32).to_be_bytes();
    if let Some(sz) = out.get_mut(2..6) {
        sz.copy_from_slice(&len);
    }
    Ok(out)
}

/// Validates handle `h` (number `n` in the handle area) against its type.
fn check_handle(tpm: &Tpm, kind: HandleKind, h: u32, n: u32) -> Result<(), Rc> {
    match kind {
        HandleKind::Pcr { null } => {
            if (h as usize) < IMPLEMENTATION_PCR || (null && h == rh::NULL) {
                Ok(())
            } else {
                Err(Rc::VALUE.handle(n))
            }
        }
        HandleKind::Permanent(allowed) => {
            if allowed.contains(&h) {
                // A disabled hierarchy's handle is refused (Part 1 §13.5).
                let enabled = match h {
                    rh::PLATFORM => tpm.vol.ph_enable,
                    rh::OWNER => tpm.vol.sh_enable,
                    rh::ENDORSEMENT => tpm.vol.eh_enable,
                    _ => true,
                };
                if enabled {
                    Ok(())
                } else {
                    Err(Rc::HIERARCHY.handle(n))
                }
            } else {
                Err(Rc::VALUE.handle(n))
            }
        }
        // TPMI_DH_OBJECT (Part 2 §9.3): a transient handle outside the
        // implemented slots is a bad value; an empty slot is a reference
        // warning; a persistent handle with nothing behind it is
        // TPM_RC_HANDLE — as the reference code's EntityGetLoadStatus.
        HandleKind::Object => match rh::handle_type(h) {
            rh::HT_TRANSIENT => {
                if (h - rh::TRANSIENT_FIRST) as usize >= super::objects::MAX_LOADED_OBJECTS {
                    Err(Rc::VALUE.handle(n))
                } else if tpm.transient(h).is_some() {
                    Ok(())
                } else {
                    Err(Rc(RC_REFERENCE_H0 + n - 1))
                }
            }
            rh::HT_PERSISTENT => Err(Rc::HANDLE.handle(n)),
            _ => Err(Rc::VALUE.handle(n)),
        },
    }
}
