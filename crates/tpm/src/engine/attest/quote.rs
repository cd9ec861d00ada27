//! TPM2_Quote (Part 3 §18.4): a signed digest of selected PCRs.

use crate::crypto::HashAlg;
use crate::rc::Rc;
use crate::types::{
    Attested, Data2b, Digest2b, PcrSelection, PcrSelectionList, QuoteInfo, SigScheme,
};

use super::super::algorithms::Implemented;
use super::super::dispatch::Ctx;
use super::super::Tpm;
use super::fill;

/// PCRComputeCurrentDigest as Quote uses it: each selection is first
/// restricted to the PCRs allocated in its bank (FilterPcr; a bank that is
/// not allocated selects nothing), then the values of what remains are
/// hashed with `hash`, selection by selection in the caller's order and
/// PCR number ascending within one. Returns the filtered selection — the
/// reference filters the caller's list in place, so that is what
/// TPMS_QUOTE_INFO reports — and the digest.
pub(super) fn pcr_digest(
    tpm: &Tpm,
    hash: HashAlg,
    selection: &PcrSelectionList,
) -> (PcrSelectionList, Vec<u8>) {
    let mut h = hash.hasher();
    let mut kept = Vec::with_capacity(selection.0.len());
    for sel in &selection.0 {
        let bank = tpm.vol.pcr_banks.iter().find(|b| b.alg == sel.hash);
        let mut out = PcrSelection::none(sel.hash);
        for pcr in sel.indices() {
            let value = bank
                .filter(|b| b.allocated.is_selected(pcr))
                .and_then(|b| b.get(pcr));
            if let Some(v) = value {
                h.update(v);
                out.set(pcr, true);
            }
        }
        kept.push(out);
    }
    (PcrSelectionList(kept), h.finish())
}

/// TPM2_Quote (Part 3 §18.4): signHandle must be a signing key or
/// TPM_RH_NULL (TPM_RC_KEY); the scheme is chosen as for every
/// attestation (TPM_RC_SCHEME on inScheme), and must have a hash to digest
/// the PCRs with, so a NULL signHandle is TPM_RC_SCHEME too. The digest
/// covers the selected PCRs that are allocated, and the selection quoted
/// is that filtered one.
pub(crate) fn quote(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    let qualifying_data: Data2b = ctx.read()?;
    let in_scheme = ctx.read_with(|r| SigScheme::decode_with(r, &Implemented, true))?;
    let pcr_select: PcrSelectionList = ctx.read()?;
    ctx.done()?;
    let signer = fill::signer(tpm, ctx.handle(0), in_scheme, 1, 2)?;
    let hash = signer.hash().ok_or(Rc::SCHEME.param(2))?;
    let (pcr_select, digest) = pcr_digest(tpm, hash, &pcr_select);
    let attested = Attested::Quote(QuoteInfo {
        pcr_select,
        pcr_digest: Digest2b::new(digest).map_err(|_| Rc::FAILURE)?,
    });
    fill::respond(tpm, ctx, &signer, qualifying_data, attested)
}
