//! Recomputing PCR values from an event log.
//!
//! Each extended event does `PCR[i] := H(PCR[i] || digest)` in every bank
//! (TPM 2.0 Part 3 §22.2 TPM2_PCR_Extend). The starting values are those
//! after TPM2_Startup(CLEAR): all zeros, except PCR 0 whose last byte is the
//! startup locality when the log has a StartupLocality record (PFP
//! §10.4.5.3), and the dynamic-launch PCRs 17–22 which start as all ones
//! (PC Client Platform TPM Profile §4.6.2) and are only reset by a dynamic
//! launch, which a boot-time (SRTM) log does not describe.

use std::collections::BTreeMap;

use super::{event_type, EventLog};
use tpm::crypto::HashAlg;

/// PCRs of a PC Client TPM (PC Client Platform TPM Profile §4.6).
pub const PCR_COUNT: u32 = 24;

/// Why a log cannot be replayed in a bank.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReplayError {
    #[error("the event log has no {0} digests (its Spec ID event does not list that bank)")]
    BankNotInLog(&'static str),
    #[error(
        "event #{index} ({kind}) extends PCR {pcr}, beyond the {PCR_COUNT} PCRs of a PC Client TPM"
    )]
    PcrOutOfRange {
        index: usize,
        kind: String,
        pcr: u32,
    },
    #[error("event #{index} ({kind}) extends dynamic-launch PCR {pcr}, which a boot-time log cannot reproduce")]
    DynamicLaunchPcr {
        index: usize,
        kind: String,
        pcr: u32,
    },
    #[error("event #{index} ({kind}) in PCR {pcr} has no {alg} digest")]
    MissingDigest {
        index: usize,
        kind: String,
        pcr: u32,
        alg: &'static str,
    },
}

fn kind(ty: u32) -> String {
    event_type::name(ty)
        .map(str::to_owned)
        .unwrap_or_else(|| format!("event type {ty:#010x}"))
}

impl EventLog {
    /// The value every PCR the log extends ends with, in bank `alg`.
    /// PCRs the log never extends are left out: the log says nothing
    /// about them. `index` in errors counts records after the header, from 0.
    pub fn replay(&self, alg: HashAlg) -> Result<BTreeMap<u32, Vec<u8>>, ReplayError> {
        if !self.spec_id.algorithms.iter().any(|a| a.alg == alg.id()) {
            return Err(ReplayError::BankNotInLog(alg.name()));
        }
        let locality = self.startup_locality();
        let mut pcrs: BTreeMap<u32, Vec<u8>> = BTreeMap::new();
        for (index, e) in self.events.iter().enumerate() {
            if !e.is_extended() {
                continue;
            }
            let pcr = e.pcr_index;
            if pcr >= PCR_COUNT {
                let kind = kind(e.event_type);
                return Err(ReplayError::PcrOutOfRange { index, kind, pcr });
            }
            if (17..=22).contains(&pcr) {
                let kind = kind(e.event_type);
                return Err(ReplayError::DynamicLaunchPcr { index, kind, pcr });
            }
            let digest = e.digest(alg).ok_or_else(|| ReplayError::MissingDigest {
                index,
                kind: kind(e.event_type),
                pcr,
                alg: alg.name(),
            })?;
            let value = pcrs
                .entry(pcr)
                .or_insert_with(|| initial_value(alg, pcr, locality));
            *value = alg.digest(&[value, digest]);
        }
        Ok(pcrs)
    }
}

/// A PCR's value right after TPM2_Startup(CLEAR) from `locality`.
pub fn initial_value(alg: HashAlg, pcr: u32, locality: u8) -> Vec<u8> {
    let mut v = vec![0u8; alg.digest_size()];
    if pcr == 0 {
        if let Some(last) = v.last_mut() {
            *last = locality;
        }
    }
    v
}
