//! Creation data and creation tickets (Part 2 §15, §10.7.3; Part 3
//! §12.1, §24.1; reference FillInCreationData and TicketComputeCreation):
//! what TPM2_CertifyCreation later attests about a new object.

use crate::constants::{rh, st};
use crate::crypto::HashAlg;
use crate::rc::Rc;
use crate::types::{
    CreationData, Data2b, Digest2b, Name, PcrSelection, PcrSelectionList, TkCreation,
};

use super::super::algorithms::CONTEXT_INTEGRITY_HASH;
use super::super::Tpm;
use super::hierarchy_proof;

/// TPMA_LOCALITY of a locality (Part 2 §8.5): one bit for 0–4, the value
/// itself for extended localities.
pub(crate) fn locality_attributes(locality: u8) -> u8 {
    if locality < 5 {
        1 << locality
    } else {
        locality
    }
}

/// The digest of the PCRs in `selection` with `hash` (reference
/// PCRComputeCurrentDigest): unallocated PCRs are dropped from the
/// selection, which is returned as used; the values of the rest are
/// hashed in selection order (bank by bank, PCR number ascending).
pub(crate) fn pcr_digest(
    tpm: &Tpm,
    hash: HashAlg,
    selection: &PcrSelectionList,
) -> (PcrSelectionList, Vec<u8>) {
    let mut h = hash.hasher();
    let mut used = Vec::with_capacity(selection.0.len());
    for sel in &selection.0 {
        let bank = tpm.vol.pcr_banks.iter().find(|b| b.alg == sel.hash);
        let mut kept: PcrSelection = sel.clone();
        for pcr in sel.indices() {
            match bank
                .filter(|b| b.allocated.is_selected(pcr))
                .and_then(|b| b.get(pcr))
            {
                Some(v) => h.update(v),
                None => kept.set(pcr, false),
            }
        }
        used.push(kept);
    }
    (PcrSelectionList(used), h.finish())
}

/// FillInCreationData: the creation data of an object created under
/// `parent` (a hierarchy handle for a primary object) and its digest with
/// the object's nameAlg.
pub(crate) fn fill_creation_data(
    tpm: &Tpm,
    parent: u32,
    locality: u8,
    name_hash: HashAlg,
    creation_pcr: &PcrSelectionList,
    outside_info: &Data2b,
) -> Result<(CreationData, Digest2b), Rc> {
    let (pcr_select, digest) = pcr_digest(tpm, name_hash, creation_pcr);
    let (parent_name_alg, parent_name, parent_qualified_name) =
        if rh::handle_type(parent) == rh::HT_PERMANENT {
            let n = Name::from_handle(parent).ok_or(Rc::FAILURE)?;
            (crate::constants::alg::NULL, n.clone(), n)
        } else {
            let p = tpm.object(parent).ok_or(Rc::FAILURE)?;
            (p.public.name_alg, p.name.clone(), p.qualified_name.clone())
        };
    let data = CreationData {
        pcr_select,
        pcr_digest: Digest2b::new(digest).map_err(|_| Rc::FAILURE)?,
        locality: locality_attributes(locality),
        parent_name_alg,
        parent_name,
        parent_qualified_name,
        outside_info: outside_info.clone(),
    };
    let hash = name_hash.digest(&[&crate::wire::Codec::to_bytes(&data)]);
    Ok((data, Digest2b::new(hash).map_err(|_| Rc::FAILURE)?))
}

/// TicketComputeCreation (Part 2 §10.7.3): HMAC with the hierarchy's proof
/// over TPM_ST_CREATION || Name || creationHash. libtpms computes it for
/// TPM_RH_NULL too (with the null proof), so this does as well.
pub(crate) fn creation_ticket(
    tpm: &Tpm,
    hierarchy: u32,
    name: &Name,
    creation_hash: &[u8],
) -> TkCreation {
    let Some(proof) = hierarchy_proof(tpm, hierarchy) else {
        return TkCreation::null();
    };
    let mac = CONTEXT_INTEGRITY_HASH.hmac(
        proof,
        &[&st::CREATION.to_be_bytes(), name.as_bytes(), creation_hash],
    );
    TkCreation {
        hierarchy,
        digest: Digest2b::new(mac).unwrap_or_default(),
    }
}
