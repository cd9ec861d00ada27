//! TPM2_HierarchyChangeAuth (Part 3 §24.8) and TPM2_SetPrimaryPolicy
//! (Part 3 §24.4): the two ways a hierarchy's authorization is set.

use zeroize::Zeroizing;

use crate::constants::{alg, rh};
use crate::crypto::HashAlg;
use crate::rc::Rc;
use crate::types::{Auth2b, Digest2b};
use crate::wire::WireError;

use super::super::algorithms::CONTEXT_INTEGRITY_HASH;
use super::super::auth::trim;
use super::super::dispatch::Ctx;
use super::super::Tpm;
use super::AuthPolicy;

/// TPM2_HierarchyChangeAuth: a new authValue for the owner, endorsement,
/// platform or lockout hierarchy. Trailing zeros are not significant
/// (Part 1 §19.6.4.3) and are dropped before storing, so an all-zero
/// newAuth is the Empty Auth and TPMA_PERMANENT.xxxAuthSet stays clear, as
/// in the reference code. The value may not be longer than the context
/// integrity digest (TPM_RC_SIZE). platformAuth is STATE_CLEAR data; the
/// others are persistent.
pub(crate) fn hierarchy_change_auth(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    let new_auth: Auth2b = ctx.read()?;
    ctx.done()?;
    let value = trim(new_auth.as_slice());
    if value.len() > CONTEXT_INTEGRITY_HASH.digest_size() {
        return Err(Rc::SIZE.param(1));
    }
    let value = Zeroizing::new(value.to_vec());
    match ctx.handle(0) {
        rh::OWNER => tpm.perm.owner_auth = value,
        rh::ENDORSEMENT => tpm.perm.endorsement_auth = value,
        rh::LOCKOUT => tpm.perm.lockout_auth = value,
        rh::PLATFORM => {
            tpm.vol.platform_auth = value;
            return Ok(());
        }
        _ => return Err(Rc::VALUE.handle(1)),
    }
    tpm.dirty = true;
    Ok(())
}

/// Reads a TPMI_ALG_HASH+ (an implemented hash or TPM_ALG_NULL); anything
/// else is TPM_RC_HASH on the parameter (Part 2 §9.27).
fn read_hash_or_null(r: &mut crate::wire::Reader<'_>) -> Result<Option<HashAlg>, WireError> {
    let id = r.u16()?;
    if id == alg::NULL {
        return Ok(None);
    }
    HashAlg::from_id(id).map(Some).ok_or(WireError::Hash)
}

/// TPM2_SetPrimaryPolicy: a new authPolicy (and its hash) for a hierarchy.
/// The digest must be exactly the size of hashAlg's digest, which for
/// TPM_ALG_NULL means empty: that removes the policy. The platform policy
/// is STATE_CLEAR data like platformAuth; the others are persistent.
pub(crate) fn set_primary_policy(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    let digest: Digest2b = ctx.read()?;
    let hash = ctx.read_with(read_hash_or_null)?;
    ctx.done()?;
    if digest.len() != hash.map_or(0, HashAlg::digest_size) {
        return Err(Rc::SIZE.param(1));
    }
    let policy = hash.map(|alg| AuthPolicy {
        alg,
        digest: digest.as_slice().to_vec(),
    });
    let h = &mut tpm.perm.hierarchy;
    match ctx.handle(0) {
        rh::OWNER => h.owner_policy = policy,
        rh::ENDORSEMENT => h.endorsement_policy = policy,
        rh::LOCKOUT => h.lockout_policy = policy,
        rh::PLATFORM => {
            tpm.vol.hierarchy.platform_policy = policy;
            return Ok(());
        }
        _ => return Err(Rc::VALUE.handle(1)),
    }
    tpm.dirty = true;
    Ok(())
}
