//! Primary objects derived recently, so that re-creating the same primary
//! (tpm2-tools and attestation agents re-run CreatePrimary for the EK and
//! SRK on every invocation) does not repeat an RSA prime search that takes
//! hundreds of milliseconds. Part 1 §28.1 makes a primary a pure function
//! of the hierarchy seed, the template and the sensitive inputs, so an
//! entry is found only under a digest of exactly those: a changed seed
//! (TPM2_Clear, ChangeEPS/PPS, a new null seed) or template can never hit
//! an old entry. The cache is volatile (lost at power-off) and small.

use std::collections::VecDeque;

use crate::crypto::HashAlg;
use crate::types::{Public, Sensitive};

/// Entries kept: one vTPM typically re-creates its RSA EK and one SRK.
const ENTRIES: usize = 2;

/// Derived primaries by input digest, newest last.
#[derive(Default)]
pub(crate) struct PrimaryCache {
    entries: VecDeque<([u8; 32], Public, Sensitive)>,
}

/// The digest that identifies a derivation: length-prefixed seed, template
/// (TPMT_PUBLIC as sent), authValue and sensitive data.
pub(crate) fn derivation_key(seed: &[u8], template: &[u8], auth: &[u8], data: &[u8]) -> [u8; 32] {
    let mut h = HashAlg::Sha256.hasher();
    for part in [seed, template, auth, data] {
        h.update(&(part.len() as u32).to_be_bytes());
        h.update(part);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(&h.finish());
    out
}

impl PrimaryCache {
    /// The public and sensitive areas derived for `key`, if remembered.
    pub fn get(&self, key: &[u8; 32]) -> Option<(Public, Sensitive)> {
        self.entries
            .iter()
            .find(|(k, _, _)| bool::from(subtle::ConstantTimeEq::ct_eq(&k[..], &key[..])))
            .map(|(_, p, s)| (p.clone(), s.clone()))
    }

    /// Remembers a derivation, forgetting the oldest beyond [`ENTRIES`].
    pub fn put(&mut self, key: [u8; 32], public: Public, sensitive: Sensitive) {
        if self.entries.len() >= ENTRIES {
            self.entries.pop_front();
        }
        self.entries.push_back((key, public, sensitive));
    }
}
