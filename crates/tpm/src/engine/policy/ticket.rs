//! The tickets of enhanced authorization (Part 2 §10.7.4, §10.7.5): an HMAC,
//! keyed with the proof of a hierarchy, over what the TPM checked, so that
//! the check need not be repeated. TPMT_TK_AUTH comes from PolicySigned /
//! PolicySecret and is redeemed by PolicyTicket; TPMT_TK_VERIFIED comes
//! from VerifySignature and is redeemed by PolicyAuthorize.
//!
//! The HMAC uses the context integrity hash, as the reference code does.
//! Only this TPM can check its tickets, so the exact input layout is ours
//! (it follows TicketComputeAuth / TicketComputeVerified).

use subtle::ConstantTimeEq;

use crate::constants::st;
use crate::rc::Rc;
use crate::types::{AuthTicketKind, Digest2b, TkAuth, TkVerified};

use super::super::algorithms::CONTEXT_INTEGRITY_HASH;
use super::super::Tpm;

/// HierarchyGetProof: the secret that keys tickets of `hierarchy`. The
/// null hierarchy's proof changes at every TPM Reset, so its tickets die
/// with it.
pub(crate) fn proof(tpm: &Tpm, hierarchy: u32) -> &[u8] {
    super::super::object::hierarchy_proof(tpm, hierarchy).unwrap_or(&tpm.vol.null_proof)
}

/// The time epoch of this power cycle (g_timeEpoch), drawn on first use.
fn time_epoch(tpm: &mut Tpm) -> u64 {
    if let Some(e) = tpm.vol.time_epoch {
        return e;
    }
    let mut b = [0u8; 8];
    tpm.drbg.fill(&mut b);
    let e = u64::from_be_bytes(b);
    tpm.vol.time_epoch = Some(e);
    e
}

/// What a TPMT_TK_AUTH vouches for.
pub(crate) struct AuthTicketInput<'a> {
    pub kind: AuthTicketKind,
    pub hierarchy: u32,
    /// TPM time (ms since _TPM_Init) the authorization lapses; 0 = never.
    pub timeout: u64,
    /// Whether the authorization was not tied to a session nonce (and so
    /// lapses at the next TPM Reset).
    pub expires_on_reset: bool,
    pub cp_hash: &'a [u8],
    pub policy_ref: &'a [u8],
    pub name: &'a [u8],
}

/// TicketComputeAuth: HMAC(proof, tag || cpHashA || policyRef || authName
/// || timeout [|| epoch [|| resetCount]]). An authorization with a timeout
/// binds the time epoch, because TPM time restarts at _TPM_Init.
pub(crate) fn compute_auth(tpm: &mut Tpm, t: &AuthTicketInput<'_>) -> Result<TkAuth, Rc> {
    let epoch = (t.timeout != 0).then(|| time_epoch(tpm));
    let key = proof(tpm, t.hierarchy);
    let tag = t.kind.tag().to_be_bytes();
    let timeout = t.timeout.to_be_bytes();
    let epoch_b = epoch.map(u64::to_be_bytes);
    let reset = tpm.perm.reset_count.to_be_bytes();
    let mut parts: Vec<&[u8]> = vec![&tag, t.cp_hash, t.policy_ref, t.name, &timeout];
    if let Some(e) = &epoch_b {
        parts.push(e);
        if t.expires_on_reset {
            parts.push(&reset);
        }
    }
    let digest = CONTEXT_INTEGRITY_HASH.hmac(key, &parts);
    Ok(TkAuth {
        kind: t.kind,
        hierarchy: t.hierarchy,
        digest: Digest2b::new(digest).map_err(|_| Rc::FAILURE)?,
    })
}

/// TicketComputeVerified: HMAC(proof, TPM_ST_VERIFIED || digest || keyName)
/// — the ticket TPM2_VerifySignature returns for a signature over `digest`
/// by the key named `key_name` (Part 3 §20.1), redeemed by PolicyAuthorize.
pub(crate) fn compute_verified(
    tpm: &Tpm,
    hierarchy: u32,
    digest: &[u8],
    key_name: &[u8],
) -> Result<TkVerified, Rc> {
    let tag = st::VERIFIED.to_be_bytes();
    let d = CONTEXT_INTEGRITY_HASH.hmac(proof(tpm, hierarchy), &[&tag, digest, key_name]);
    Ok(TkVerified {
        hierarchy,
        digest: Digest2b::new(d).map_err(|_| Rc::FAILURE)?,
    })
}

/// Whether `given` is the ticket digest `expected` (constant time).
pub(crate) fn digest_matches(given: &Digest2b, expected: &Digest2b) -> bool {
    bool::from(given.as_slice().ct_eq(expected.as_slice()))
}
