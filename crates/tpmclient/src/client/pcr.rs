//! PCR_Read and PCR_Extend (Part 3 §22).

use tpm::constants::cc;
use tpm::crypto::HashAlg;
use tpm::types::{DigestList, DigestValues, Ha, PcrSelection, PcrSelectionList};

use super::Tpm;
use crate::command::Command;
use crate::error::{Error, Result};
use crate::session::Auth;

/// One PCR's value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PcrValue {
    pub bank: HashAlg,
    pub index: usize,
    pub digest: Vec<u8>,
}

/// PCR values read at one pcrUpdateCounter value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PcrValues {
    /// The TPM's pcrUpdateCounter when the values were read; all values
    /// belong to this counter value.
    pub update_counter: u32,
    /// In the order of the selection that was read: banks in request order,
    /// PCRs ascending within a bank.
    pub values: Vec<PcrValue>,
}

impl PcrValues {
    /// The value of PCR `index` in `bank`, if it was read.
    pub fn get(&self, bank: HashAlg, index: usize) -> Option<&[u8]> {
        self.values
            .iter()
            .find(|v| v.bank == bank && v.index == index)
            .map(|v| v.digest.as_slice())
    }

    /// The PCRs that were read, as a selection.
    pub fn selection(&self) -> PcrSelectionList {
        let mut list: Vec<PcrSelection> = Vec::new();
        for v in &self.values {
            match list.iter_mut().find(|s| s.hash == v.bank) {
                Some(s) => s.set(v.index, true),
                None => list.push(PcrSelection::with(v.bank, &[v.index])),
            }
        }
        PcrSelectionList(list)
    }

    /// The pcrDigest a quote over `selection` must carry (Part 3 §18.4.1):
    /// `hash` over the selected values concatenated in selection order
    /// (banks in list order, PCRs ascending). `None` if a selected value
    /// was not read.
    pub fn quote_digest(&self, selection: &PcrSelectionList, hash: HashAlg) -> Option<Vec<u8>> {
        let mut h = hash.hasher();
        for s in &selection.0 {
            for i in s.indices() {
                h.update(self.get(s.hash, i)?);
            }
        }
        Some(h.finish())
    }
}

/// How often a read that saw the PCRs change under it starts over.
const PCR_READ_ATTEMPTS: usize = 4;

impl Tpm {
    /// TPM2_PCR_Read of every PCR in `selection` (Part 3 §22.4). A TPM
    /// returns at most eight digests per call, so this calls again for the
    /// rest until everything is read, and starts over if pcrUpdateCounter
    /// moved between calls, so all values belong to one counter value. PCRs
    /// the TPM does not have (an unallocated bank) are absent from the
    /// result; compare [`PcrValues::selection`] with the request.
    pub fn pcr_read(&mut self, selection: &PcrSelectionList) -> Result<PcrValues> {
        for _ in 0..PCR_READ_ATTEMPTS {
            if let Some(v) = self.pcr_read_consistent(selection)? {
                return Ok(v);
            }
        }
        Err(Error::Inconsistent(
            "PCRs kept changing while they were read".into(),
        ))
    }

    fn pcr_read_consistent(&mut self, selection: &PcrSelectionList) -> Result<Option<PcrValues>> {
        let mut left = selection.clone();
        let mut out = PcrValues::default();
        let mut counter = None;
        while left.0.iter().any(|s| !s.is_empty()) {
            let resp = self.run(Command::new(cc::PCR_READ).param(&left))?;
            let mut o = resp.out();
            let c: u32 = o.read()?;
            let got: PcrSelectionList = o.read()?;
            let digests: DigestList = o.read()?;
            o.finish()?;
            if counter.is_some_and(|x| x != c) {
                return Ok(None);
            }
            counter = Some(c);
            let mut it = digests.0.into_iter();
            let mut progress = false;
            for s in &got.0 {
                for i in s.indices() {
                    let Some(req) = left.0.iter_mut().find(|l| l.hash == s.hash) else {
                        return Err(Error::malformed(
                            cc::PCR_READ,
                            "a bank that was not asked for",
                        ));
                    };
                    if !req.is_selected(i) {
                        return Err(Error::malformed(
                            cc::PCR_READ,
                            "a PCR that was not asked for",
                        ));
                    }
                    let d = it
                        .next()
                        .ok_or_else(|| Error::malformed(cc::PCR_READ, "fewer digests than PCRs"))?;
                    if d.len() != s.hash.digest_size() {
                        return Err(Error::malformed(cc::PCR_READ, "digest of the wrong size"));
                    }
                    req.set(i, false);
                    progress = true;
                    out.values.push(PcrValue {
                        bank: s.hash,
                        index: i,
                        digest: d.0,
                    });
                }
            }
            if it.next().is_some() {
                return Err(Error::malformed(cc::PCR_READ, "more digests than PCRs"));
            }
            if !progress {
                // What is left is not implemented or not allocated.
                break;
            }
        }
        out.update_counter = counter.unwrap_or(0);
        // Report in request order whatever order the TPM chose.
        let order = |v: &PcrValue| {
            let bank = selection
                .0
                .iter()
                .position(|s| s.hash == v.bank)
                .unwrap_or(usize::MAX);
            (bank, v.index)
        };
        out.values.sort_by_key(order);
        Ok(Some(out))
    }

    /// TPM2_PCR_Extend (Part 3 §22.2) of PCR `index` with one digest per
    /// bank given.
    pub fn pcr_extend(
        &mut self,
        index: u32,
        auth: &Auth,
        digests: &[(HashAlg, &[u8])],
    ) -> Result<()> {
        let mut list = Vec::with_capacity(digests.len());
        for (alg, d) in digests {
            if d.len() != alg.digest_size() {
                return Err(Error::invalid(format!(
                    "a {} digest is {} octets, not {}",
                    alg.name(),
                    alg.digest_size(),
                    d.len()
                )));
            }
            list.push(Ha {
                alg: *alg,
                digest: d.to_vec(),
            });
        }
        self.run(
            Command::new(cc::PCR_EXTEND)
                .auth_handle(index, auth)
                .param(&DigestValues(list)),
        )?;
        Ok(())
    }
}
