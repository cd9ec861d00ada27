//! The policy commands that record a condition without consulting TPM
//! state: PolicyRestart, PolicyGetDigest, PolicyAuthValue, PolicyPassword,
//! PolicyCommandCode, PolicyLocality, PolicyPhysicalPresence, PolicyCpHash,
//! PolicyNameHash, PolicyTemplate, PolicyDuplicationSelect and
//! PolicyNvWritten (Part 3 §23; PolicyRestart §11.2). They behave the same
//! in trial sessions.

use crate::constants::cc;
use crate::rc::Rc;
use crate::types::{Digest2b, Name};

use super::super::dispatch::{self, Ctx};
use super::super::session::PolicyState;
use super::super::Tpm;
use super::{extend, occupied_cp_slot, session_mut};

/// TPMI_YES_NO: 0 or 1, anything else TPM_RC_VALUE.
fn read_yes_no(ctx: &mut Ctx<'_>) -> Result<bool, Rc> {
    ctx.read::<bool>()
}

/// TPM2_PolicyRestart (Part 3 §11.2): back to the state of a fresh
/// session — zero digest, no conditions — keeping the session type, hash,
/// nonces and start time.
pub(crate) fn policy_restart(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    ctx.done()?;
    let s = session_mut(tpm, ctx.handle(0), 1)?;
    s.policy = PolicyState::new(s.auth_hash);
    Ok(())
}

/// TPM2_PolicyGetDigest (Part 3 §23.19): the current policyDigest.
pub(crate) fn policy_get_digest(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    ctx.done()?;
    let s = session_mut(tpm, ctx.handle(0), 1)?;
    let d = Digest2b::new(s.policy.digest.clone()).map_err(|_| Rc::FAILURE)?;
    ctx.write(&d);
    Ok(())
}

/// TPM2_PolicyAuthValue (Part 3 §23.17): the authorized entity's authValue
/// goes into the session HMAC key. policyDigest_new = H(old ||
/// TPM_CC_PolicyAuthValue); cancels a PolicyPassword.
pub(crate) fn policy_auth_value(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    ctx.done()?;
    let s = session_mut(tpm, ctx.handle(0), 1)?;
    extend(&mut s.policy, s.auth_hash, cc::POLICY_AUTH_VALUE, &[]);
    s.policy.auth_value_needed = true;
    s.policy.password_needed = false;
    Ok(())
}

/// TPM2_PolicyPassword (Part 3 §23.18): the authValue is given in clear in
/// the HMAC field. Its digest update is deliberately that of
/// PolicyAuthValue (TPM_CC_PolicyAuthValue), so a policy does not say how
/// the authValue is proven; cancels a PolicyAuthValue.
pub(crate) fn policy_password(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    ctx.done()?;
    let s = session_mut(tpm, ctx.handle(0), 1)?;
    extend(&mut s.policy, s.auth_hash, cc::POLICY_AUTH_VALUE, &[]);
    s.policy.password_needed = true;
    s.policy.auth_value_needed = false;
    Ok(())
}

/// TPM2_PolicyCommandCode (Part 3 §23.11): the session may only authorize
/// `code`. A different code set earlier is TPM_RC_VALUE; a command this TPM
/// does not implement TPM_RC_POLICY_CC. policyDigest_new = H(old ||
/// TPM_CC_PolicyCommandCode || code).
pub(crate) fn policy_command_code(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    let code: u32 = ctx.read()?;
    ctx.done()?;
    let s = session_mut(tpm, ctx.handle(0), 1)?;
    if s.policy.command_code.is_some_and(|c| c != code) {
        return Err(Rc::VALUE.param(1));
    }
    if dispatch::find(code).is_none() {
        return Err(Rc::POLICY_CC.param(1));
    }
    extend(
        &mut s.policy,
        s.auth_hash,
        cc::POLICY_COMMAND_CODE,
        &[&code.to_be_bytes()],
    );
    s.policy.command_code = Some(code);
    Ok(())
}

/// TPM2_PolicyLocality (Part 3 §23.8): the localities the command may come
/// from, as TPMA_LOCALITY. Zero is TPM_RC_RANGE; successive calls narrow
/// the set (TPM_RC_RANGE if nothing remains) and may not mix ordinary
/// (0–4, a bit field) with extended (32–255, one value) localities.
/// policyDigest_new = H(old || TPM_CC_PolicyLocality || locality).
pub(crate) fn policy_locality(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    let locality: u8 = ctx.read()?;
    ctx.done()?;
    let s = session_mut(tpm, ctx.handle(0), 1)?;
    let range = Rc::RANGE.param(1);
    if locality == 0 {
        return Err(range);
    }
    let prev = s.policy.locality;
    if prev != 0 && (prev < 32) != (locality < 32) {
        return Err(range);
    }
    let new = if locality < 32 {
        let base = if prev == 0 { 0x1F } else { prev };
        let v = base & locality;
        if v == 0 {
            return Err(range);
        }
        v
    } else {
        if prev != 0 && prev != locality {
            return Err(range);
        }
        locality
    };
    extend(
        &mut s.policy,
        s.auth_hash,
        cc::POLICY_LOCALITY,
        &[&[locality]],
    );
    s.policy.locality = new;
    Ok(())
}

/// TPM2_PolicyPhysicalPresence (Part 3 §23.12): the command needs physical
/// presence (which this TPM cannot assert, so such a policy never
/// authorizes). policyDigest_new = H(old || TPM_CC_PolicyPhysicalPresence).
pub(crate) fn policy_physical_presence(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    ctx.done()?;
    let s = session_mut(tpm, ctx.handle(0), 1)?;
    extend(
        &mut s.policy,
        s.auth_hash,
        cc::POLICY_PHYSICAL_PRESENCE,
        &[],
    );
    s.policy.pp_required = true;
    Ok(())
}

/// TPM2_PolicyCpHash (Part 3 §23.13): the command must have this cpHash. It
/// must be a digest of the session hash (TPM_RC_SIZE) and agree with a
/// cpHash set before; a nameHash or templateHash already set is
/// TPM_RC_CPHASH. policyDigest_new = H(old || TPM_CC_PolicyCpHash ||
/// cpHashA).
pub(crate) fn policy_cp_hash(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    let cp: Digest2b = ctx.read()?;
    ctx.done()?;
    let s = session_mut(tpm, ctx.handle(0), 1)?;
    if cp.len() != s.auth_hash.digest_size() {
        return Err(Rc::SIZE.param(1));
    }
    let p = &s.policy;
    let conflict = p.name_hash.is_some()
        || p.template_hash.is_some()
        || p.cp_hash.as_deref().is_some_and(|c| c != cp.as_slice());
    if conflict {
        return Err(Rc::CPHASH);
    }
    extend(
        &mut s.policy,
        s.auth_hash,
        cc::POLICY_CP_HASH,
        &[cp.as_slice()],
    );
    s.policy.cp_hash = Some(cp.0);
    Ok(())
}

/// TPM2_PolicyNameHash (Part 3 §23.14): the digest of the Names of the
/// command's handles. Size as PolicyCpHash; anything already in the
/// cpHash slot is TPM_RC_CPHASH. policyDigest_new = H(old ||
/// TPM_CC_PolicyNameHash || nameHash).
pub(crate) fn policy_name_hash(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    let nh: Digest2b = ctx.read()?;
    ctx.done()?;
    let s = session_mut(tpm, ctx.handle(0), 1)?;
    if nh.len() != s.auth_hash.digest_size() {
        return Err(Rc::SIZE.param(1));
    }
    if occupied_cp_slot(&s.policy).is_some() {
        return Err(Rc::CPHASH);
    }
    extend(
        &mut s.policy,
        s.auth_hash,
        cc::POLICY_NAME_HASH,
        &[nh.as_slice()],
    );
    s.policy.name_hash = Some(nh.0);
    Ok(())
}

/// TPM2_PolicyTemplate (Part 3 §23.21): the digest of the public template
/// of Create / CreatePrimary / CreateLoaded. A different templateHash set
/// earlier is TPM_RC_VALUE; a cpHash or nameHash already set is
/// TPM_RC_CPHASH; then the size is checked (TPM_RC_SIZE), in the reference
/// code's order. policyDigest_new = H(old || TPM_CC_PolicyTemplate ||
/// templateHash).
pub(crate) fn policy_template(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    let th: Digest2b = ctx.read()?;
    ctx.done()?;
    let s = session_mut(tpm, ctx.handle(0), 1)?;
    let p = &s.policy;
    match &p.template_hash {
        Some(t) if t.as_slice() != th.as_slice() => return Err(Rc::VALUE.param(1)),
        Some(_) => {}
        None if p.cp_hash.is_some() || p.name_hash.is_some() => return Err(Rc::CPHASH),
        None => {}
    }
    if th.len() != s.auth_hash.digest_size() {
        return Err(Rc::SIZE.param(1));
    }
    extend(
        &mut s.policy,
        s.auth_hash,
        cc::POLICY_TEMPLATE,
        &[th.as_slice()],
    );
    s.policy.template_hash = Some(th.0);
    Ok(())
}

/// TPM2_PolicyDuplicationSelect (Part 3 §23.15): the session authorizes
/// only TPM2_Duplicate of `objectName` to `newParentName`. It sets the
/// nameHash H(objectName || newParentName) (TPM_RC_CPHASH if the slot is
/// taken) and the command code (TPM_RC_COMMAND_CODE if one is set).
/// policyDigest_new = H(old || TPM_CC_PolicyDuplicationSelect ||
/// [objectName] || newParentName || includeObject), objectName only when
/// includeObject is YES.
pub(crate) fn policy_duplication_select(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    let object: Name = ctx.read()?;
    let parent: Name = ctx.read()?;
    let include = read_yes_no(ctx)?;
    ctx.done()?;
    let s = session_mut(tpm, ctx.handle(0), 1)?;
    if occupied_cp_slot(&s.policy).is_some() {
        return Err(Rc::CPHASH);
    }
    if s.policy.command_code.is_some() {
        return Err(Rc::COMMAND_CODE);
    }
    let alg = s.auth_hash;
    let name_hash = alg.digest(&[object.as_bytes(), parent.as_bytes()]);
    let flag = [u8::from(include)];
    let mut parts: Vec<&[u8]> = Vec::with_capacity(3);
    if include {
        parts.push(object.as_bytes());
    }
    parts.push(parent.as_bytes());
    parts.push(&flag);
    extend(&mut s.policy, alg, cc::POLICY_DUPLICATION_SELECT, &parts);
    s.policy.name_hash = Some(name_hash);
    s.policy.command_code = Some(cc::DUPLICATE);
    Ok(())
}

/// TPM2_PolicyNvWritten (Part 3 §23.20): the authorized NV index must (or
/// must not) have been written. A contrary setting made earlier is
/// TPM_RC_VALUE. policyDigest_new = H(old || TPM_CC_PolicyNvWritten ||
/// writtenSet).
pub(crate) fn policy_nv_written(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    let written = read_yes_no(ctx)?;
    ctx.done()?;
    let s = session_mut(tpm, ctx.handle(0), 1)?;
    if s.policy.nv_written.is_some_and(|w| w != written) {
        return Err(Rc::VALUE.param(1));
    }
    s.policy.nv_written = Some(written);
    extend(
        &mut s.policy,
        s.auth_hash,
        cc::POLICY_NV_WRITTEN,
        &[&[u8::from(written)]],
    );
    Ok(())
}
