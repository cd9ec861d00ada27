//! Command framing: header, handle area, authorization area and response
//! assembly, in the order the reference implementation's ExecCommand.c
//! checks them (Part 3 §5), so malformed commands get the same response
//! codes a hardware TPM gives.

use crate::constants::{cc, rh, st};
use crate::rc::Rc;
use crate::types::IMPLEMENTATION_PCR;
use crate::wire::{Codec, Reader};

use super::dispatch::{self, Ctx, HandleKind, Role};
use super::session;
use super::Tpm;

/// Largest command (and response) this TPM accepts (TPM_PT_MAX_COMMAND_SIZE).
pub const MAX_COMMAND_SIZE: usize = 4096;
/// TPM_RC_REFERENCE_H0: a handle references nothing loaded (warning).
const RC_REFERENCE_H0: u32 = 0x910;

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
        // A TPM 1.2 command. Part 2 §6.9 allows answering it in TPM 1.2
        // format (TPM_ST_RSP_COMMAND), but firmware takes any 0x00C4 answer
        // to its TPM 1.2 probe for a TPM 1.2: OVMF's Tcg2ConfigPei sends
        // TPM_ORD_GetTicks and Tpm12TisTpmCommand accepts the response on
        // its tag alone, then measures nothing into the TPM 2.0 banks. So,
        // as libtpms does, answer with a TPM 2.0 header; the response code
        // stays TPM_RC_BAD_TAG (Part 3 §5.2).
        return Err(Fail {
            rc: Rc::BAD_TAG,
            tag: st::NO_SESSIONS,
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

    // Authorization area (Part 1 §18.5), then the parameters.
    let mut params: Vec<u8>;
    let mut sessions = None;
    if tag == st::SESSIONS {
        if def.no_sessions {
            return Err(Rc::AUTH_CONTEXT.into());
        }
        let auth_size = r.u32().map_err(|_| Rc::INSUFFICIENT)? as usize;
        // The smallest session is 9 octets (handle, empty nonce, attributes,
        // empty HMAC); the reference answers a bad size with TPM_RC_SIZE.
        if auth_size < 9 || auth_size > r.remaining() {
            return Err(Rc::SIZE.into());
        }
        let area = r.take(auth_size).map_err(|_| Rc::SIZE)?;
        params = r.rest().to_vec();
        sessions = Some(session::authorize(
            tpm,
            def,
            locality,
            &handles,
            area,
            &mut params,
        )?);
    } else {
        if def.handles.iter().any(|(_, role)| *role != Role::None) {
            return Err(Rc::AUTH_MISSING.into());
        }
        params = r.rest().to_vec();
    }

    // Command audit (Part 1 §32; attestation helper): an audited command's
    // cpHash is taken now, over the parameters as received (still
    // encrypted), as the reference CheckCommandAudit does.
    let audit_cp = super::attest::command_cp_hash(
        tpm,
        code,
        &handles,
        sessions.as_ref().map_or(&params[..], |s| &s.raw_params[..]),
    );

    let mut ctx = Ctx::new(locality, handles, &params);
    (def.run)(tpm, &mut ctx)?;
    let out_handle = ctx.out_handle;
    let mut out_params = std::mem::take(&mut ctx.out);
    drop(ctx);

    let mut out = Vec::with_capacity(out_params.len() + 64);
    let resp_tag = if tag == st::SESSIONS {
        st::SESSIONS
    } else {
        st::NO_SESSIONS
    };
    resp_tag.encode(&mut out);
    0u32.encode(&mut out); // size, patched below
    Rc::SUCCESS.0.encode(&mut out);
    if def.r_handle {
        out_handle.unwrap_or(rh::NULL).encode(&mut out);
    }
    match sessions.as_mut() {
        Some(s) => {
            let auth_area = session::respond(tpm, s, &mut out_params)?;
            (out_params.len() as u32).encode(&mut out);
            // Command audit of the response as sent (encrypted by now).
            super::attest::command_audit(tpm, code, audit_cp, &out_params);
            out.extend_from_slice(&out_params);
            out.extend_from_slice(&auth_area);
        }
        None => {
            // Command audit (attestation helper), and: a command that may
            // take sessions but came without an audit session ends the
            // exclusivity of the audit session (Part 1 §19.6.14; reference
            // UpdateAuditSessionStatus runs whatever the tag).
            super::attest::command_audit(tpm, code, audit_cp, &out_params);
            if !def.no_sessions {
                tpm.vol.exclusive_audit = None;
            }
            out.extend_from_slice(&out_params);
        }
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
        HandleKind::ObjectOrNull if h == rh::NULL => Ok(()),
        HandleKind::Entity if h == rh::NULL => Ok(()),
        // TPMI_DH_ENTITY without `+` (PolicySecret): TPM_RH_NULL is a bad
        // value; anything else is checked as TPMI_DH_ENTITY.
        HandleKind::EntityNotNull if h == rh::NULL => Err(Rc::VALUE.handle(n)),
        HandleKind::EntityNotNull => check_handle(tpm, HandleKind::Entity, h, n),
        // TPMI_SH_POLICY (Part 2 §9.9): outside the policy session range is
        // TPM_RC_VALUE; a handle with no loaded session behind it is a
        // reference warning, as the reference EntityGetLoadStatus says.
        HandleKind::PolicySession => check_session(tpm, h, n, rh::POLICY_SESSION_FIRST),
        // TPMI_SH_HMAC (Part 2 §9.8): outside the HMAC session range is
        // TPM_RC_VALUE; no loaded session there is a reference warning
        // (attestation helper: TPM2_GetSessionAuditDigest).
        HandleKind::HmacSession => check_session(tpm, h, n, rh::HMAC_SESSION_FIRST),
        // TPMI_RH_NV_INDEX (Part 2 §9.12): outside the NV range is
        // TPM_RC_VALUE; an undefined index, or one of a disabled hierarchy,
        // is TPM_RC_HANDLE (reference NvIndexIsAccessible).
        HandleKind::NvIndex => {
            if rh::handle_type(h) != rh::HT_NV_INDEX {
                return Err(Rc::VALUE.handle(n));
            }
            super::nv::check_accessible(tpm, h).map_err(|e| e.handle(n))
        }
        // TPMI_RH_NV_AUTH (Part 2 §9.11): owner, platform or an NV index.
        HandleKind::NvAuth => match rh::handle_type(h) {
            rh::HT_NV_INDEX => check_handle(tpm, HandleKind::NvIndex, h, n),
            _ => check_handle(tpm, HandleKind::Permanent(&[rh::OWNER, rh::PLATFORM]), h, n),
        },
        HandleKind::Entity => match rh::handle_type(h) {
            rh::HT_PCR => check_handle(tpm, HandleKind::Pcr { null: false }, h, n),
            rh::HT_NV_INDEX => check_handle(tpm, HandleKind::NvIndex, h, n),
            rh::HT_PERMANENT => check_handle(
                tpm,
                HandleKind::Permanent(&[rh::OWNER, rh::ENDORSEMENT, rh::PLATFORM, rh::LOCKOUT]),
                h,
                n,
            ),
            _ => check_handle(tpm, HandleKind::Object, h, n),
        },
        HandleKind::Object | HandleKind::ObjectOrNull => match rh::handle_type(h) {
            rh::HT_TRANSIENT => {
                if (h - rh::TRANSIENT_FIRST) as usize >= super::objects::MAX_LOADED_OBJECTS {
                    Err(Rc::VALUE.handle(n))
                } else if tpm.transient(h).is_some() {
                    Ok(())
                } else {
                    Err(Rc(RC_REFERENCE_H0 + n - 1))
                }
            }
            rh::HT_PERSISTENT => {
                super::objects::persistent_load_status(tpm, h, false).map_err(|e| e.handle(n))
            }
            _ => Err(Rc::VALUE.handle(n)),
        },
        // TPMI_DH_OBJECT of TPM2_EvictControl: an endorsement object may be
        // evicted while its hierarchy is disabled (ObjectLoadEvict).
        HandleKind::EvictObject if rh::handle_type(h) == rh::HT_PERSISTENT => {
            super::objects::persistent_load_status(tpm, h, true).map_err(|e| e.handle(n))
        }
        HandleKind::EvictObject => check_handle(tpm, HandleKind::Object, h, n),
        // TPMI_DH_PARENT+ (TPM2_CreateLoaded): an object or a hierarchy.
        HandleKind::Parent => match rh::handle_type(h) {
            rh::HT_PERMANENT => check_handle(
                tpm,
                HandleKind::Permanent(&[rh::OWNER, rh::ENDORSEMENT, rh::PLATFORM, rh::NULL]),
                h,
                n,
            ),
            _ => check_handle(tpm, HandleKind::Object, h, n),
        },
        // TPMI_DH_CONTEXT (TPM2_ContextSave): a loaded transient entity or
        // session; out of the implemented ranges TPM_RC_VALUE, nothing
        // loaded there a reference warning.
        HandleKind::Context => match rh::handle_type(h) {
            rh::HT_TRANSIENT => check_handle(tpm, HandleKind::Object, h, n),
            rh::HT_HMAC_SESSION | rh::HT_POLICY_SESSION => {
                if (h & 0x00FF_FFFF) as usize >= session::MAX_ACTIVE_SESSIONS {
                    Err(Rc::VALUE.handle(n))
                } else if tpm.session(h).is_some() {
                    Ok(())
                } else {
                    Err(Rc(RC_REFERENCE_H0 + n - 1))
                }
            }
            _ => Err(Rc::VALUE.handle(n)),
        },
    }
}

/// A session handle (TPMI_SH_POLICY, TPMI_SH_HMAC) numbered `n` whose type's
/// range starts at `first`: outside the range is TPM_RC_VALUE; no loaded
/// session behind it is a reference warning (reference EntityGetLoadStatus).
fn check_session(tpm: &Tpm, h: u32, n: u32, first: u32) -> Result<(), Rc> {
    let slot = h.wrapping_sub(first) as usize;
    if slot >= session::MAX_ACTIVE_SESSIONS {
        Err(Rc::VALUE.handle(n))
    } else if tpm.session(h).is_some() {
        Ok(())
    } else {
        Err(Rc(RC_REFERENCE_H0 + n - 1))
    }
}
