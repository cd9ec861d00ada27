//! TPM2_PolicyPCR (Part 3 §23.7): the authorization depends on PCR values.

use crate::constants::cc;
use crate::rc::Rc;
use crate::types::{Digest2b, PcrSelection, PcrSelectionList};
use crate::wire::Codec;

use super::super::dispatch::Ctx;
use super::super::Tpm;
use super::{extend, is_trial, session_mut};

/// FilterPcr: the selection restricted to allocated PCRs (a bank that is
/// not allocated selects nothing). The reference code filters the
/// command's selection in place, so the filtered form is what enters the
/// policy digest.
fn filtered(tpm: &Tpm, list: &PcrSelectionList) -> PcrSelectionList {
    PcrSelectionList(
        list.0
            .iter()
            .map(|s| {
                let bank = tpm.vol.pcr_banks.iter().find(|b| b.alg == s.hash);
                let mut out = PcrSelection::none(s.hash);
                if let Some(b) = bank {
                    for (o, (x, a)) in out
                        .select
                        .iter_mut()
                        .zip(s.select.iter().zip(b.allocated.select.iter()))
                    {
                        *o = x & a;
                    }
                }
                out
            })
            .collect(),
    )
}

/// PCRComputeCurrentDigest: H_session of the selected PCR values, bank by
/// bank in selection order, PCRs in ascending order.
fn current_digest(tpm: &Tpm, alg: crate::crypto::HashAlg, list: &PcrSelectionList) -> Vec<u8> {
    let mut h = alg.hasher();
    for s in &list.0 {
        let Some(bank) = tpm.vol.pcr_banks.iter().find(|b| b.alg == s.hash) else {
            continue;
        };
        for pcr in s.indices() {
            if let Some(v) = bank.get(pcr) {
                h.update(v);
            }
        }
    }
    h.finish()
}

/// TPM2_PolicyPCR: policyDigest_new = H(old || TPM_CC_PolicyPCR || pcrs ||
/// pcrDigest), pcrDigest being the digest of the selected PCRs now. In a
/// real session a pcrDigest given by the caller must match them
/// (TPM_RC_VALUE), and PCRs must not have changed since an earlier
/// PolicyPCR (TPM_RC_PCR_CHANGED); the session remembers pcrUpdateCounter
/// so a later change voids it. A trial session uses the caller's pcrDigest
/// if one is given.
pub(crate) fn policy_pcr(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    let pcr_digest: Digest2b = ctx.read()?;
    let pcrs: PcrSelectionList = ctx.read()?;
    ctx.done()?;
    let handle = ctx.handle(0);
    let pcrs = filtered(tpm, &pcrs);
    let counter = tpm.vol.pcr_update_counter;
    let alg = super::session(tpm, handle, 1)?.auth_hash;
    let current = current_digest(tpm, alg, &pcrs);
    let s = session_mut(tpm, handle, 1)?;
    let trial = is_trial(s);
    let digest = if trial {
        if pcr_digest.is_empty() {
            current
        } else {
            pcr_digest.0
        }
    } else {
        if s.policy.pcr_counter.is_some_and(|c| c != counter) {
            return Err(Rc::PCR_CHANGED);
        }
        if !pcr_digest.is_empty() && pcr_digest.as_slice() != current.as_slice() {
            return Err(Rc::VALUE.param(1));
        }
        current
    };
    extend(
        &mut s.policy,
        alg,
        cc::POLICY_PCR,
        &[&pcrs.to_bytes(), &digest],
    );
    if !trial {
        s.policy.pcr_counter = Some(counter);
    }
    Ok(())
}
