//! Policies approved by someone else: TPM2_PolicyAuthorize (Part 3 §23.16),
//! approval by a signature, and TPM2_PolicyAuthorizeNV (§23.22), approval
//! by the contents of an NV index. Both replace the digest reached so far
//! by one that names the approver, so the approver can later approve other
//! policies without changing the object's authPolicy.

use subtle::ConstantTimeEq;

use crate::constants::cc;
use crate::crypto::HashAlg;
use crate::rc::Rc;
use crate::types::{Digest2b, Name, Nonce2b, TkVerified};

use super::super::auth::entity_name;
use super::super::dispatch::Ctx;
use super::super::nv;
use super::super::Tpm;
use super::ticket::{compute_verified, digest_matches};
use super::{clear_digest, context_update, is_trial, session, session_mut};

/// sizeof(TPMT_HA): the most PolicyAuthorizeNV reads from the index.
const HA_MAX: usize = 2 + 64;

/// TPM2_PolicyAuthorize: `keySign` (a key's Name, whose first two octets
/// name its hash: TPM_RC_HASH if that is not an implemented hash,
/// TPM_RC_SIZE if the rest is not one digest) signed
/// aHash = H_keyNameAlg(approvedPolicy || policyRef), as the TPMT_TK_VERIFIED
/// from TPM2_VerifySignature proves (TPM_RC_VALUE on checkTicket if not). In
/// a real session approvedPolicy must be the current policyDigest
/// (TPM_RC_VALUE). Then policyDigest := 0…0 and
/// policyDigest_new = H(H(0…0 || TPM_CC_PolicyAuthorize || keySign) ||
/// policyRef).
pub(crate) fn policy_authorize(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    let approved: Digest2b = ctx.read()?;
    let policy_ref: Nonce2b = ctx.read()?;
    let key_sign: Name = ctx.read()?;
    let ticket: TkVerified = ctx.read()?;
    ctx.done()?;
    let handle = ctx.handle(0);
    let name_alg = key_sign
        .name_alg()
        .and_then(HashAlg::from_id)
        .ok_or(Rc::HASH.param(3))?;
    if name_alg.digest_size() + 2 != key_sign.len() {
        return Err(Rc::SIZE.param(3));
    }
    let s = session(tpm, handle, 1)?;
    if !is_trial(s) {
        if !bool::from(s.policy.digest.as_slice().ct_eq(approved.as_slice())) {
            return Err(Rc::VALUE.param(1));
        }
        let a_hash = name_alg.digest(&[approved.as_slice(), policy_ref.as_slice()]);
        let expected = compute_verified(tpm, ticket.hierarchy, &a_hash, key_sign.as_bytes())?;
        if !digest_matches(&ticket.digest, &expected.digest) {
            return Err(Rc::VALUE.param(4));
        }
    }
    let s = session_mut(tpm, handle, 1)?;
    let alg = s.auth_hash;
    clear_digest(&mut s.policy, alg);
    context_update(
        s,
        cc::POLICY_AUTHORIZE,
        key_sign.as_bytes(),
        Some(policy_ref.as_slice()),
        &[],
        0,
    );
    Ok(())
}

/// TPM2_PolicyAuthorizeNV: the NV index holds a TPMT_HA naming the approved
/// policy. In a real session the index must be readable with `authHandle`
/// (TPM_RC_NV_AUTHORIZATION / _LOCKED / _UNINITIALIZED), its TPMT_HA must
/// be of the session hash (TPM_RC_HASH) and equal the current policyDigest
/// (TPM_RC_VALUE). Then policyDigest := 0…0 and policyDigest_new =
/// H(0…0 || TPM_CC_PolicyAuthorizeNV || nvIndexName).
pub(crate) fn policy_authorize_nv(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    ctx.done()?;
    let (auth, index, handle) = (ctx.handle(0), ctx.handle(1), ctx.handle(2));
    let s = session(tpm, handle, 3)?;
    if !is_trial(s) {
        nv::check_read(tpm, auth, index)?;
        let data = nv::data(tpm, index).ok_or(Rc::HANDLE.handle(2))?;
        let data = data.get(..data.len().min(HA_MAX)).unwrap_or(data);
        let (alg_id, rest) = data.split_first_chunk::<2>().ok_or(Rc::INSUFFICIENT)?;
        let alg = HashAlg::from_id(u16::from_be_bytes(*alg_id)).ok_or(Rc::HASH)?;
        let digest = rest.get(..alg.digest_size()).ok_or(Rc::INSUFFICIENT)?;
        if alg != s.auth_hash {
            return Err(Rc::HASH);
        }
        if !bool::from(digest.ct_eq(s.policy.digest.as_slice())) {
            return Err(Rc::VALUE);
        }
    }
    let name = entity_name(tpm, index);
    let s = session_mut(tpm, handle, 3)?;
    let alg = s.auth_hash;
    clear_digest(&mut s.policy, alg);
    context_update(s, cc::POLICY_AUTHORIZE_NV, &name, None, &[], 0);
    Ok(())
}
