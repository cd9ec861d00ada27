//! Policy digests computed in software (Part 3 §23, "policyDigest
//! update" of each command), so a caller can build an authPolicy (to seal
//! to PCRs, to restrict a key to one command) without a trial session, and
//! check what a TPM reports with TPM2_PolicyGetDigest.

use tpm::constants::cc;
use tpm::crypto::HashAlg;
use tpm::types::{Name, PcrSelectionList};
use tpm::wire::Codec;

/// A policyDigest being built, starting from all zeros.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyDigest {
    hash: HashAlg,
    digest: Vec<u8>,
}

impl PolicyDigest {
    /// The empty policy in `hash`.
    pub fn new(hash: HashAlg) -> Self {
        PolicyDigest {
            hash,
            digest: vec![0; hash.digest_size()],
        }
    }

    pub fn hash(&self) -> HashAlg {
        self.hash
    }

    /// The digest so far.
    pub fn digest(&self) -> &[u8] {
        &self.digest
    }

    pub fn into_digest(self) -> Vec<u8> {
        self.digest
    }

    fn extend(mut self, parts: &[&[u8]]) -> Self {
        let mut all: Vec<&[u8]> = vec![&self.digest];
        all.extend_from_slice(parts);
        self.digest = self.hash.digest(&all);
        self
    }

    /// PolicySecret / PolicySigned's PolicyUpdate (Part 3 §23.2.3):
    /// H(H(old || code || name) || policyRef).
    fn update(self, code: u32, name: &[u8], policy_ref: &[u8]) -> Self {
        let s = self.extend(&[&code.to_be_bytes(), name]);
        s.extend(&[policy_ref])
    }

    /// TPM2_PolicySecret (Part 3 §23.4) naming the authorizing entity.
    #[must_use]
    pub fn policy_secret(self, auth_name: &Name, policy_ref: &[u8]) -> Self {
        self.update(cc::POLICY_SECRET, auth_name.as_bytes(), policy_ref)
    }

    /// TPM2_PolicyPCR (Part 3 §23.7): H(old || code || pcrs || pcrDigest),
    /// `pcr_digest` being the session hash of the selected values
    /// ([`pcr_digest`]).
    #[must_use]
    pub fn policy_pcr(self, pcrs: &PcrSelectionList, pcr_digest: &[u8]) -> Self {
        let sel = pcrs.to_bytes();
        self.extend(&[&cc::POLICY_PCR.to_be_bytes(), &sel, pcr_digest])
    }

    /// TPM2_PolicyCommandCode (Part 3 §23.11).
    #[must_use]
    pub fn policy_command_code(self, code: u32) -> Self {
        self.extend(&[&cc::POLICY_COMMAND_CODE.to_be_bytes(), &code.to_be_bytes()])
    }

    /// TPM2_PolicyAuthValue (Part 3 §23.17).
    #[must_use]
    pub fn policy_auth_value(self) -> Self {
        self.extend(&[&cc::POLICY_AUTH_VALUE.to_be_bytes()])
    }

    /// TPM2_PolicyPassword (Part 3 §23.18) extends exactly as
    /// PolicyAuthValue, so the two are interchangeable in a policy.
    #[must_use]
    pub fn policy_password(self) -> Self {
        self.policy_auth_value()
    }

    /// TPM2_PolicyOR (Part 3 §23.6): H(zeros || code || branches).
    #[must_use]
    pub fn policy_or(self, branches: &[&[u8]]) -> Self {
        let zero = PolicyDigest::new(self.hash);
        let code = cc::POLICY_OR.to_be_bytes();
        let mut parts: Vec<&[u8]> = vec![&code];
        parts.extend_from_slice(branches);
        zero.extend(&parts)
    }
}

/// The digest PolicyPCR compares: `hash` over the PCR values concatenated
/// in selection order.
pub fn pcr_digest(hash: HashAlg, values: &[&[u8]]) -> Vec<u8> {
    hash.digest(values)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tpm::constants::rh;
    use tpm::templates::{POLICY_A_SHA256, POLICY_B_SHA256, POLICY_C_SHA256};

    #[test]
    fn ek_policies() {
        let eh = Name::from_handle(rh::ENDORSEMENT).unwrap();
        let a = PolicyDigest::new(HashAlg::Sha256).policy_secret(&eh, b"");
        assert_eq!(a.digest(), POLICY_A_SHA256);
        let b = PolicyDigest::new(HashAlg::Sha256).policy_or(&[&POLICY_A_SHA256, &POLICY_C_SHA256]);
        assert_eq!(b.digest(), POLICY_B_SHA256);
    }
}
