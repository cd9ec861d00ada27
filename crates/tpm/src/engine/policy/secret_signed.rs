//! Authorizations by a secret or a signature, and the tickets that stand in
//! for them: TPM2_PolicySigned (Part 3 §23.3), TPM2_PolicySecret (§23.4)
//! and TPM2_PolicyTicket (§23.5).
//!
//! All three extend the digest with PolicyContextUpdate:
//! policyDigest_new = H(H(old || commandCode || authName) || policyRef),
//! record a cpHashA if given, and tighten the session's expiration.

use crate::constants::{cc, rh};
use crate::crypto::HashAlg;
use crate::rc::Rc;
use crate::types::{AuthTicketKind, Digest2b, Name, Nonce2b, NvType, Signature, Timeout2b, TkAuth};

use super::super::algorithms::Implemented;
use super::super::auth::entity_name;
use super::super::dispatch::Ctx;
use super::super::session::Session;
use super::super::signing::verify_with_object;
use super::super::Tpm;
use super::ticket::{compute_auth, digest_matches, AuthTicketInput};
use super::{
    auth_timeout, context_update, entity_hierarchy, is_trial, parameter_checks, session,
    session_mut, Blame,
};

/// The most significant bit of the timeout buffer flags an authorization
/// that was not tied to a session nonce and so lapses at TPM Reset (the
/// reference code's EXPIRATION_BIT; the buffer's format is TPM-specific).
const EXPIRATION_BIT: u64 = 1 << 63;

/// The common parameters of PolicySigned and PolicySecret.
struct AuthParams {
    nonce: Nonce2b,
    cp_hash: Digest2b,
    policy_ref: Nonce2b,
    expiration: i32,
}

fn read_auth_params(ctx: &mut Ctx<'_>) -> Result<AuthParams, Rc> {
    Ok(AuthParams {
        nonce: ctx.read()?,
        cp_hash: ctx.read()?,
        policy_ref: ctx.read()?,
        expiration: ctx.read::<u32>()? as i32,
    })
}

/// PolicyParameterChecks for PolicySigned and PolicySecret in a real
/// session (Part 3 §23.3.1, §23.4.1): nonceTPM (parameter 1), cpHashA (2)
/// and expiration (4); returns the authorization's timeout.
fn checked_timeout(now: u64, s: &Session, p: &AuthParams) -> Result<u64, Rc> {
    let timeout = auth_timeout(now, s, p.expiration, p.nonce.is_empty());
    let blame = Blame {
        nonce: 1,
        cp_hash: 2,
        expiration: 4,
    };
    parameter_checks(
        now,
        s,
        timeout,
        p.cp_hash.as_slice(),
        Some(p.nonce.as_slice()),
        blame,
    )?;
    Ok(timeout)
}

/// Writes timeout and policyTicket: a real ticket when the caller asked for
/// one (expiration < 0) in a real session, else an empty timeout and a
/// NULL ticket.
fn write_ticket(
    tpm: &mut Tpm,
    ctx: &mut Ctx<'_>,
    kind: AuthTicketKind,
    issue: Option<(u32, u64, &AuthParams, &[u8])>,
) -> Result<(), Rc> {
    let Some((hierarchy, timeout, p, name)) = issue else {
        ctx.write(&Timeout2b::empty());
        ctx.write(&TkAuth {
            kind,
            hierarchy: rh::NULL,
            digest: Digest2b::empty(),
        });
        return Ok(());
    };
    let expires_on_reset = p.nonce.is_empty();
    let ticket = compute_auth(
        tpm,
        &AuthTicketInput {
            kind,
            hierarchy,
            timeout,
            expires_on_reset,
            cp_hash: p.cp_hash.as_slice(),
            policy_ref: p.policy_ref.as_slice(),
            name,
        },
    )?;
    let flagged = if expires_on_reset {
        timeout | EXPIRATION_BIT
    } else {
        timeout
    };
    ctx.write(&Timeout2b::new(flagged.to_be_bytes().to_vec()).map_err(|_| Rc::FAILURE)?);
    ctx.write(&ticket);
    Ok(())
}

/// TPM2_PolicySigned: the holder of `authObject`'s private key signed
/// aHash = H_sig(nonceTPM || expiration || cpHashA || policyRef). In a real
/// session the nonce, expiration and cpHashA are checked
/// (PolicyParameterChecks) and the signature verified with the key
/// (TPM_RC_SCHEME / TPM_RC_SIGNATURE on parameter 5). A negative
/// expiration asks for a TPMT_TK_AUTH usable with PolicyTicket until the
/// authorization lapses.
pub(crate) fn policy_signed(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    let p = read_auth_params(ctx)?;
    let sig = ctx.read_with(|r| Signature::decode_with(r, &Implemented, false))?;
    ctx.done()?;
    let (key, handle) = (ctx.handle(0), ctx.handle(1));
    let now = tpm.time_since_init();
    let name = entity_name(tpm, key);
    let s = session(tpm, handle, 2)?;
    let trial = is_trial(s);
    let mut timeout = 0;
    if !trial {
        timeout = checked_timeout(now, s, &p)?;
        let hash = sig
            .hash()
            .and_then(HashAlg::from_id)
            .ok_or(Rc::SCHEME.param(5))?;
        let a_hash = hash.digest(&[
            p.nonce.as_slice(),
            &p.expiration.to_be_bytes(),
            p.cp_hash.as_slice(),
            p.policy_ref.as_slice(),
        ]);
        // A sequence object has no key to verify with; an HMAC key checks
        // with its secret, as the reference CryptValidateSignature does.
        let object = tpm.object(key).ok_or(Rc::HANDLE.param(5))?;
        verify_with_object(object, &a_hash, &sig).map_err(|e| e.param(5))?;
    }
    let s = session_mut(tpm, handle, 2)?;
    context_update(
        s,
        cc::POLICY_SIGNED,
        &name,
        Some(p.policy_ref.as_slice()),
        p.cp_hash.as_slice(),
        timeout,
    );
    let issue = (p.expiration < 0 && !trial).then(|| entity_hierarchy(tpm, key));
    let issue = issue.map(|h| (h, timeout, &p, name.as_slice()));
    write_ticket(tpm, ctx, AuthTicketKind::Signed, issue)
}

/// Whether `handle` is a PIN Pass index, whose PolicySecret never yields a
/// ticket (a ticket would bypass its use counter, Part 3 §23.4.1).
fn is_pin_pass(tpm: &Tpm, handle: u32) -> bool {
    rh::handle_type(handle) == rh::HT_NV_INDEX
        && super::super::nv::public(tpm, handle)
            .is_some_and(|p| p.attributes.nv_type() == Some(NvType::PinPass))
}

/// TPM2_PolicySecret: the caller proved knowledge of `authHandle`'s
/// authValue (the command's authorization session did, before this runs).
/// Parameters are checked as for PolicySigned in a real session; a
/// negative expiration asks for a TPMT_TK_AUTH (not for a PIN Pass index).
/// This is how an EK's policy (PolicySecret(TPM_RH_ENDORSEMENT)) is met.
pub(crate) fn policy_secret(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    let p = read_auth_params(ctx)?;
    ctx.done()?;
    let (entity, handle) = (ctx.handle(0), ctx.handle(1));
    let now = tpm.time_since_init();
    let name = entity_name(tpm, entity);
    let s = session(tpm, handle, 2)?;
    let trial = is_trial(s);
    let mut timeout = 0;
    if !trial {
        timeout = checked_timeout(now, s, &p)?;
    }
    let s = session_mut(tpm, handle, 2)?;
    context_update(
        s,
        cc::POLICY_SECRET,
        &name,
        Some(p.policy_ref.as_slice()),
        p.cp_hash.as_slice(),
        timeout,
    );
    let wants = p.expiration < 0 && !trial && !is_pin_pass(tpm, entity);
    let issue = wants.then(|| entity_hierarchy(tpm, entity));
    let issue = issue.map(|h| (h, timeout, &p, name.as_slice()));
    write_ticket(tpm, ctx, AuthTicketKind::Secret, issue)
}

/// TPM2_PolicyTicket: redeems a TPMT_TK_AUTH from PolicySigned or
/// PolicySecret in place of the authorization itself. Not in a trial
/// session (TPM_RC_ATTRIBUTES on the session handle). The timeout must be
/// the 8-octet buffer the ticket came with (TPM_RC_SIZE), not past
/// (TPM_RC_EXPIRED), cpHashA checked as for PolicySigned, and the ticket
/// must be this TPM's HMAC over the inputs (TPM_RC_TICKET). The digest is
/// then updated as the original command would have.
pub(crate) fn policy_ticket(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    let timeout_buf: Timeout2b = ctx.read()?;
    let cp_hash: Digest2b = ctx.read()?;
    let policy_ref: Nonce2b = ctx.read()?;
    let auth_name: Name = ctx.read()?;
    let ticket: TkAuth = ctx.read()?;
    ctx.done()?;
    let handle = ctx.handle(0);
    let now = tpm.time_since_init();
    let s = session(tpm, handle, 1)?;
    if is_trial(s) {
        return Err(Rc::ATTRIBUTES.handle(1));
    }
    let raw: [u8; 8] = timeout_buf
        .as_slice()
        .try_into()
        .map_err(|_| Rc::SIZE.param(1))?;
    let raw = u64::from_be_bytes(raw);
    let expires_on_reset = raw & EXPIRATION_BIT != 0;
    let timeout = raw & !EXPIRATION_BIT;
    let blame = Blame {
        nonce: 0,
        cp_hash: 2,
        expiration: 1,
    };
    parameter_checks(now, s, timeout, cp_hash.as_slice(), None, blame)?;
    let expected = compute_auth(
        tpm,
        &AuthTicketInput {
            kind: ticket.kind,
            hierarchy: ticket.hierarchy,
            timeout,
            expires_on_reset,
            cp_hash: cp_hash.as_slice(),
            policy_ref: policy_ref.as_slice(),
            name: auth_name.as_bytes(),
        },
    )?;
    if !digest_matches(&ticket.digest, &expected.digest) {
        return Err(Rc::TICKET.param(5));
    }
    let code = match ticket.kind {
        AuthTicketKind::Signed => cc::POLICY_SIGNED,
        AuthTicketKind::Secret => cc::POLICY_SECRET,
    };
    let s = session_mut(tpm, handle, 1)?;
    context_update(
        s,
        code,
        auth_name.as_bytes(),
        Some(policy_ref.as_slice()),
        cp_hash.as_slice(),
        timeout,
    );
    Ok(())
}
