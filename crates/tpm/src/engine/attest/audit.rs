//! Command audit (Part 1 §32; reference CommandAudit.c and the audit parts
//! of SessionProcess.c) and the audit commands: TPM2_SetCommandCodeAuditStatus
//! (Part 3 §21.2), TPM2_GetCommandAuditDigest (§18.5) and
//! TPM2_GetSessionAuditDigest (§18.6).
//!
//! The TPM keeps a list of audited command codes, a hash algorithm and a
//! counter (all persistent), and an audit digest (reset-scoped: kept by
//! TPM Restart and Resume, zeroed by TPM Reset). Each successful audited
//! command extends the digest: digestNew = H(digestOld || cpHash ||
//! rpHash), both hashes with the audit algorithm, cpHash over the
//! parameters as received (encrypted) and rpHash over those returned
//! (encrypted). The first extension after the digest was cleared starts
//! from zeros and increments the counter, so (counter, digest) names one
//! unbroken audit log.

use std::collections::BTreeSet;

use crate::constants::{alg, cc};
use crate::crypto::HashAlg;
use crate::rc::Rc;
use crate::types::{
    Attested, CommandAuditInfo, CommandCodeList, Data2b, Digest2b, SessionAuditInfo, SigScheme,
};
use crate::wire::{Codec, Reader, Tpm2b, WireError};

use super::super::algorithms::{Implemented, CONTEXT_INTEGRITY_HASH};
use super::super::auth::entity_name;
use super::super::dispatch::{self, Ctx};
use super::super::Tpm;
use super::fill;

/// The persistent command-audit state (the reference's gp.auditCommands,
/// gp.auditHashAlg, gp.auditCounter) and the digest saved by
/// TPM2_Shutdown(STATE) for the next Restart or Resume.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct AuditPerm {
    pub hash: HashAlg,
    pub counter: u64,
    /// Audited command codes, ascending (implemented commands only).
    pub commands: BTreeSet<u32>,
    /// The audit digest at Shutdown(STATE) (empty: none running).
    pub saved_digest: Option<Vec<u8>>,
}

impl Default for AuditPerm {
    /// As manufactured (reference CommandAuditPreInstall_Init): only
    /// TPM2_SetCommandCodeAuditStatus is audited, with the context
    /// integrity hash, counter 0.
    fn default() -> Self {
        AuditPerm {
            hash: CONTEXT_INTEGRITY_HASH,
            counter: 0,
            commands: BTreeSet::from([cc::SET_COMMAND_CODE_AUDIT_STATUS]),
            saved_digest: None,
        }
    }
}

/// Most audited commands a state blob may list.
const MAX_AUDITED: usize = 1024;

impl AuditPerm {
    /// Blob form: hash u16, counter u64, u32 count + codes, then a flag
    /// and TPM2B for the saved digest.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.hash.id().encode(&mut out);
        self.counter.encode(&mut out);
        (self.commands.len() as u32).encode(&mut out);
        for c in &self.commands {
            c.encode(&mut out);
        }
        match &self.saved_digest {
            Some(d) => {
                1u8.encode(&mut out);
                Tpm2b::<64>(d.clone()).encode(&mut out);
            }
            None => 0u8.encode(&mut out),
        }
        out
    }

    /// Inverse of [`AuditPerm::to_bytes`]; the whole input must be used,
    /// the hash must be one this TPM implements and a saved digest empty
    /// or of that hash's size.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(bytes);
        let hash = HashAlg::from_id(r.u16()?).ok_or(WireError::Hash)?;
        let counter = r.u64()?;
        let n = r.u32()? as usize;
        if n > MAX_AUDITED {
            return Err(WireError::Size);
        }
        let mut commands = BTreeSet::new();
        for _ in 0..n {
            commands.insert(r.u32()?);
        }
        let saved_digest = match r.u8()? {
            0 => None,
            1 => {
                let d = Tpm2b::<64>::decode(&mut r)?.0;
                if !d.is_empty() && d.len() != hash.digest_size() {
                    return Err(WireError::Size);
                }
                Some(d)
            }
            _ => return Err(WireError::Value),
        };
        if !r.is_empty() {
            return Err(WireError::Size);
        }
        Ok(AuditPerm {
            hash,
            counter,
            commands,
            saved_digest,
        })
    }
}

/// The reset-scoped command-audit state (the reference's
/// gr.commandAuditDigest).
#[derive(Clone, Debug, Default)]
pub(crate) struct AuditVol {
    /// The audit digest; empty when no audit log is running (the next
    /// audited command starts one and increments the counter).
    pub digest: Vec<u8>,
    /// Set by TPM2_SetCommandCodeAuditStatus when it changed the audit
    /// hash: that command itself is then not audited and the digest is
    /// cleared (the reference's digest size 1 marker).
    pub hash_changed: bool,
}

// ---------------------------------------------------------------------------
// Bookkeeping around every command (called from engine/command.rs).

/// Whether `code` is audited now (reference CommandAuditIsRequired).
pub(crate) fn is_audited(tpm: &Tpm, code: u32) -> bool {
    tpm.perm.audit.commands.contains(&code)
}

/// Before an audited command runs (reference CheckCommandAudit): its
/// cpHash with the audit hash, H(commandCode || Names of the handles ||
/// parameters as received). `None` when the command is not audited.
pub(crate) fn command_cp_hash(
    tpm: &Tpm,
    code: u32,
    handles: &[u32],
    params: &[u8],
) -> Option<Vec<u8>> {
    if !is_audited(tpm, code) {
        return None;
    }
    let mut h = tpm.perm.audit.hash.hasher();
    h.update(&code.to_be_bytes());
    for &handle in handles {
        h.update(&entity_name(tpm, handle));
    }
    h.update(params);
    Some(h.finish())
}

/// After an audited command succeeded (reference CommandAudit), with the
/// cpHash [`command_cp_hash`] gave and the response parameters as sent:
/// extends the audit digest with cpHash and rpHash = H(TPM_RC_SUCCESS ||
/// commandCode || parameters), first starting a new log (zeros, counter
/// incremented and persisted) if none runs. A command that changed the
/// audit hash only clears the digest.
pub(crate) fn command_audit(tpm: &mut Tpm, code: u32, cp_hash: Option<Vec<u8>>, params: &[u8]) {
    let Some(cp_hash) = cp_hash else {
        return;
    };
    if std::mem::take(&mut tpm.vol.audit.hash_changed) {
        tpm.vol.audit.digest.clear();
        return;
    }
    let hash = tpm.perm.audit.hash;
    if tpm.vol.audit.digest.len() != hash.digest_size() {
        tpm.vol.audit.digest = vec![0; hash.digest_size()];
        tpm.perm.audit.counter = tpm.perm.audit.counter.wrapping_add(1);
        tpm.dirty = true;
    }
    let rp_hash = hash.digest(&[&0u32.to_be_bytes(), &code.to_be_bytes(), params]);
    tpm.vol.audit.digest = hash.digest(&[&tpm.vol.audit.digest, &cp_hash, &rp_hash]);
}

/// TPM2_Startup: a TPM Reset clears the audit digest; Restart and Resume
/// restore the one Shutdown(STATE) saved (reference CommandAuditStartup).
pub(crate) fn on_startup(tpm: &mut Tpm, reset: bool) {
    let saved = tpm.perm.audit.saved_digest.take();
    tpm.vol.audit = AuditVol {
        digest: if reset {
            Vec::new()
        } else {
            saved.unwrap_or_default()
        },
        hash_changed: false,
    };
}

/// TPM2_Shutdown: STATE saves the audit digest (STATE_RESET data).
pub(crate) fn on_shutdown(tpm: &mut Tpm, state: bool) {
    tpm.perm.audit.saved_digest = state.then(|| tpm.vol.audit.digest.clone());
}

/// The audited command codes, ascending (TPM_CAP_AUDIT_COMMANDS).
pub(crate) fn audited_commands(tpm: &Tpm) -> impl Iterator<Item = u32> + '_ {
    tpm.perm.audit.commands.iter().copied()
}

/// TPM_PT_AUDIT_COUNTER_0 / _1: the audit counter's high and low halves.
pub(crate) fn audit_counter(tpm: &Tpm) -> u64 {
    tpm.perm.audit.counter
}

// ---------------------------------------------------------------------------
// The commands.

/// TPM2_SetCommandCodeAuditStatus (Part 3 §21.2), authorized by owner or
/// platform. A non-NULL auditAlg different from the current one changes
/// the audit hash, and then the lists must be empty (TPM_RC_VALUE on
/// auditAlg); otherwise setList is added (unimplemented commands and
/// TPM2_Shutdown are ignored) and clearList removed (except this command,
/// which is always audited).
pub(crate) fn set_command_code_audit_status(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    let audit_alg: u16 = ctx.read()?;
    let new_hash = if audit_alg == alg::NULL {
        None
    } else {
        Some(HashAlg::from_id(audit_alg).ok_or(Rc::HASH.param(1))?)
    };
    let set_list: CommandCodeList = ctx.read()?;
    let clear_list: CommandCodeList = ctx.read()?;
    ctx.done()?;
    match new_hash {
        Some(h) if h != tpm.perm.audit.hash => {
            if !set_list.0.is_empty() || !clear_list.0.is_empty() {
                return Err(Rc::VALUE.param(1));
            }
            tpm.perm.audit.hash = h;
            tpm.vol.audit.hash_changed = true;
            tpm.dirty = true;
        }
        _ => {
            let mut changed = false;
            for &c in &set_list.0 {
                if dispatch::find(c).is_some() && c != cc::SHUTDOWN {
                    changed |= tpm.perm.audit.commands.insert(c);
                }
            }
            for &c in &clear_list.0 {
                if c != cc::SET_COMMAND_CODE_AUDIT_STATUS {
                    changed |= tpm.perm.audit.commands.remove(&c);
                }
            }
            if changed {
                tpm.dirty = true;
            }
        }
    }
    Ok(())
}

/// The digest of the audited command codes (reference
/// CommandAuditGetDigest): the codes ascending, each as a big-endian
/// UINT32, hashed with the audit hash.
fn command_digest(tpm: &Tpm) -> Vec<u8> {
    let mut h = tpm.perm.audit.hash.hasher();
    for c in &tpm.perm.audit.commands {
        h.update(&c.to_be_bytes());
    }
    h.finish()
}

/// TPM2_GetCommandAuditDigest (Part 3 §18.5), authorized by the
/// endorsement hierarchy and the signing key: attests the audit counter,
/// hash, digest and the digest of the audited-command list. A signed
/// (not TPM_RH_NULL) answer closes the log: the digest is cleared, so the
/// next audited command starts a new one under the next counter value.
pub(crate) fn get_command_audit_digest(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    let qualifying_data: Data2b = ctx.read()?;
    let in_scheme = ctx.read_with(|r| SigScheme::decode_with(r, &Implemented, true))?;
    ctx.done()?;
    let signer = fill::signer(tpm, ctx.handle(1), in_scheme, 2, 2)?;
    let attested = Attested::CommandAudit(CommandAuditInfo {
        audit_counter: tpm.perm.audit.counter,
        digest_alg: tpm.perm.audit.hash.id(),
        audit_digest: Digest2b::new(tpm.vol.audit.digest.clone()).map_err(|_| Rc::FAILURE)?,
        command_digest: Digest2b::new(command_digest(tpm)).map_err(|_| Rc::FAILURE)?,
    });
    fill::respond(tpm, ctx, &signer, qualifying_data, attested)?;
    if signer.handle != crate::constants::rh::NULL {
        tpm.vol.audit.digest.clear();
    }
    Ok(())
}

/// TPM2_GetSessionAuditDigest (Part 3 §18.6), authorized by the
/// endorsement hierarchy and the signing key: attests an HMAC session's
/// audit digest and whether it is the exclusive audit session. A session
/// never used for audit is TPM_RC_TYPE (handle 3).
pub(crate) fn get_session_audit_digest(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    let qualifying_data: Data2b = ctx.read()?;
    let in_scheme = ctx.read_with(|r| SigScheme::decode_with(r, &Implemented, true))?;
    ctx.done()?;
    let signer = fill::signer(tpm, ctx.handle(1), in_scheme, 2, 2)?;
    let handle = ctx.handle(2);
    let session = tpm.session(handle).ok_or(Rc::FAILURE)?;
    let digest = session.audit_digest.clone().ok_or(Rc::TYPE.handle(3))?;
    let attested = Attested::SessionAudit(SessionAuditInfo {
        exclusive_session: tpm.vol.exclusive_audit == Some(handle),
        session_digest: Digest2b::new(digest).map_err(|_| Rc::FAILURE)?,
    });
    fill::respond(tpm, ctx, &signer, qualifying_data, attested)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perm_round_trip_and_refusals() {
        let mut p = AuditPerm::default();
        p.commands.insert(cc::QUOTE);
        p.counter = 7;
        p.saved_digest = Some(vec![3; 64]);
        let b = p.to_bytes();
        assert_eq!(AuditPerm::from_bytes(&b).unwrap(), p);
        for n in 0..b.len() {
            assert!(AuditPerm::from_bytes(&b[..n]).is_err(), "truncated at {n}");
        }
        let mut extra = b.clone();
        extra.push(0);
        assert!(AuditPerm::from_bytes(&extra).is_err());
        // A saved digest of the wrong size for the hash is refused.
        p.saved_digest = Some(vec![3; 32]);
        assert!(AuditPerm::from_bytes(&p.to_bytes()).is_err());
    }

    #[test]
    fn manufactured_state_audits_set_command_code_audit_status() {
        let p = AuditPerm::default();
        assert_eq!(
            p.commands.iter().copied().collect::<Vec<_>>(),
            vec![cc::SET_COMMAND_CODE_AUDIT_STATUS]
        );
        assert_eq!(p.hash, CONTEXT_INTEGRITY_HASH);
    }
}
