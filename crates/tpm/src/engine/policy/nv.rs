//! Policies on data: TPM2_PolicyNV (Part 3 §23.9, a comparison with the
//! contents of an NV index) and TPM2_PolicyCounterTimer (§23.10, a
//! comparison with TPMS_TIME_INFO).
//!
//! Both extend the digest with an argument hash so the policy commits to
//! the comparison: args = H(operandB || offset || operation),
//! policyDigest_new = H(old || commandCode || args [|| nvIndexName]).

use crate::constants::cc;
use crate::crypto::HashAlg;
use crate::rc::Rc;
use crate::types::Operand2b;
use crate::wire::{Codec, WireError};

use super::super::auth::entity_name;
use super::super::clock::time_info;
use super::super::dispatch::Ctx;
use super::super::nv;
use super::super::Tpm;
use super::{extend, is_trial, session, session_mut, Operation};

/// The marshalled size of TPMS_TIME_INFO (time, clock, resetCount,
/// restartCount, safe).
const TIME_INFO_SIZE: usize = 8 + 8 + 4 + 4 + 1;

/// operandB, offset and operation, as both commands take them.
struct Comparison {
    operand_b: Operand2b,
    offset: u16,
    /// The TPM_EO value as received (it enters the argument hash).
    op_code: u16,
    operation: Operation,
}

fn read_comparison(ctx: &mut Ctx<'_>) -> Result<Comparison, Rc> {
    let operand_b: Operand2b = ctx.read()?;
    let offset: u16 = ctx.read()?;
    let (op_code, operation) = ctx.read_with(|r| {
        let v = r.u16()?;
        Operation::from_u16(v)
            .map(|o| (v, o))
            .ok_or(WireError::Value)
    })?;
    Ok(Comparison {
        operand_b,
        offset,
        op_code,
        operation,
    })
}

/// args = H(operandB || offset || operation).
fn args_hash(alg: HashAlg, c: &Comparison) -> Vec<u8> {
    alg.digest(&[
        c.operand_b.as_slice(),
        &c.offset.to_be_bytes(),
        &c.op_code.to_be_bytes(),
    ])
}

/// TPM2_PolicyNV: in a real session, the index must be readable with
/// `authHandle` (NvReadAccessChecks: TPM_RC_NV_LOCKED,
/// TPM_RC_NV_AUTHORIZATION, TPM_RC_NV_UNINITIALIZED), `offset` within it
/// (TPM_RC_VALUE) and operandB must fit after it (TPM_RC_SIZE); the data
/// at `offset` compared with operandB must satisfy `operation`
/// (TPM_RC_POLICY). policyDigest_new = H(old || TPM_CC_PolicyNV || args ||
/// nvIndexName).
pub(crate) fn policy_nv(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    let c = read_comparison(ctx)?;
    ctx.done()?;
    let (auth, index, handle) = (ctx.handle(0), ctx.handle(1), ctx.handle(2));
    let s = session(tpm, handle, 3)?;
    if !is_trial(s) {
        let public = nv::public(tpm, index).ok_or(Rc::HANDLE.handle(2))?;
        nv::check_read(tpm, auth, index)?;
        if c.offset > public.data_size {
            return Err(Rc::VALUE.param(2));
        }
        let len = c.operand_b.len();
        if usize::from(public.data_size - c.offset) < len {
            return Err(Rc::SIZE.param(1));
        }
        let start = usize::from(c.offset);
        let data = nv::data(tpm, index)
            .and_then(|d| d.get(start..start + len))
            .ok_or(Rc::FAILURE)?;
        if !c.operation.holds(data, c.operand_b.as_slice()) {
            return Err(Rc::POLICY);
        }
    }
    let name = entity_name(tpm, index);
    let s = session_mut(tpm, handle, 3)?;
    let alg = s.auth_hash;
    let args = args_hash(alg, &c);
    extend(&mut s.policy, alg, cc::POLICY_NV, &[&args, &name]);
    Ok(())
}

/// TPM2_PolicyCounterTimer: operandB is compared with the octets at
/// `offset` of the marshalled TPMS_TIME_INFO (time, clock, resetCount,
/// restartCount, safe). The bounds are checked even in a trial session:
/// offset past the structure is TPM_RC_VALUE, an operand running past it
/// TPM_RC_RANGE. In a real session the comparison must hold
/// (TPM_RC_POLICY). policyDigest_new = H(old || TPM_CC_PolicyCounterTimer
/// || args).
pub(crate) fn policy_counter_timer(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    let c = read_comparison(ctx)?;
    ctx.done()?;
    let handle = ctx.handle(0);
    let info = time_info(tpm).to_bytes();
    let offset = usize::from(c.offset);
    if offset > TIME_INFO_SIZE {
        return Err(Rc::VALUE.param(2));
    }
    if offset + c.operand_b.len() > TIME_INFO_SIZE {
        return Err(Rc::RANGE);
    }
    let s = session_mut(tpm, handle, 1)?;
    if !is_trial(s) {
        let a = info
            .get(offset..offset + c.operand_b.len())
            .ok_or(Rc::RANGE)?;
        if !c.operation.holds(a, c.operand_b.as_slice()) {
            return Err(Rc::POLICY);
        }
    }
    let alg = s.auth_hash;
    let args = args_hash(alg, &c);
    extend(&mut s.policy, alg, cc::POLICY_COUNTER_TIMER, &[&args]);
    Ok(())
}
