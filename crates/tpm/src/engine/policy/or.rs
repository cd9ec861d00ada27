//! TPM2_PolicyOR (Part 3 §23.6): any one of several policy branches.

use subtle::ConstantTimeEq;

use crate::constants::cc;
use crate::rc::Rc;
use crate::types::Digest2b;
use crate::wire::{Codec, WireError};

use super::super::dispatch::Ctx;
use super::super::Tpm;
use super::{clear_digest, extend, is_trial, session_mut};

/// TPML_DIGEST as PolicyOR unmarshals it: two to eight digests
/// (TPM_RC_SIZE otherwise).
const MIN_BRANCHES: usize = 2;
const MAX_BRANCHES: usize = 8;

/// TPM2_PolicyOR: in a real session the current policyDigest must equal one
/// of the branches (TPM_RC_VALUE otherwise); then policyDigest_new =
/// H(0…0 || TPM_CC_PolicyOR || digest_1 || … || digest_n). A trial session
/// takes the update without the check.
pub(crate) fn policy_or(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    let list = ctx.read_with(|r| {
        let n = r.u32()? as usize;
        if !(MIN_BRANCHES..=MAX_BRANCHES).contains(&n) {
            return Err(WireError::Size);
        }
        (0..n)
            .map(|_| Digest2b::decode(r))
            .collect::<Result<Vec<_>, _>>()
    })?;
    ctx.done()?;
    let s = session_mut(tpm, ctx.handle(0), 1)?;
    if !is_trial(s) {
        let current = s.policy.digest.as_slice();
        let found = list.iter().fold(false, |acc, d| {
            acc | bool::from(d.as_slice().ct_eq(current))
        });
        if !found {
            return Err(Rc::VALUE.param(1));
        }
    }
    let alg = s.auth_hash;
    clear_digest(&mut s.policy, alg);
    let parts: Vec<&[u8]> = list.iter().map(|d| d.as_slice()).collect();
    extend(&mut s.policy, alg, cc::POLICY_OR, &parts);
    Ok(())
}
