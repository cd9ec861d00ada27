//! Endorsement key certificates: the host vTPM CA and the manufacturing
//! of each vTPM's EKs and their certificates (TCG EK Credential Profile
//! for TPM Family 2.0, version 2.5).
//!
//! A VM trusts its vTPM, and a verifier trusts a VM's attestation, only if
//! the EK is known to belong to a vTPM hosted here: the EK certificate in
//! NV says so, signed by the host's vTPM CA. [`manufacture`] runs once per
//! vTPM, at `vtpm create`.
//!
//! The CA ([`CaKey`]) lives in one directory: `ca-cert.pem` (give it to
//! verifiers as the trust anchor) and either `ca-key.tpm.pem`, a key
//! wrapped by the host TPM ([`TpmCa`], `--host-tpm`), or `ca-key.pem`, a
//! 0600 PKCS#8 file ([`FileCa`]). With a file key anyone who can read it
//! can mint EK certificates for VMs that do not exist: the host has no
//! hardware root, and the daemon must say so loudly.

mod ca;
mod cmd;
mod ek_spki;
mod error;
mod file_ca;
mod issue;
mod manufacture;
pub mod oids;
mod tpm_ca;

pub use ca::{ca_subject, certificate_pem, hostname, CaAlgorithm, CaKey};
pub use ek_spki::subject_public_key_info;
pub use error::EkCertError;
pub use file_ca::{FileCa, CA_CERT_FILE, CA_KEY_FILE};
pub use issue::{issue_ek_certificate, TpmInfo, EK_USER_NOTICE};
pub use manufacture::{
    create_ek, manufacture, read_ek_certificate, read_tpm_info, Manufactured, ManufacturedEk,
    EK_CERT_NV_ATTRIBUTES,
};
pub use tpm_ca::{SharedTpm, TpmCa, CA_TPM_KEY_FILE};

use tpm::templates::EkTemplate;
use tpm::types::Public;

/// An endorsement key the profile defines, with its template and the NV
/// index of its certificate (EK Credential Profile 2.5 Table 2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EkKind {
    /// RSA 2048, template L-1, certificate at 0x01C00002.
    Rsa2048,
    /// ECC NIST P-256, template L-2, certificate at 0x01C0000A.
    EccP256,
    /// ECC SM2-P256, high-range template H-5, certificate at 0x01C0001A.
    Sm2P256,
}

impl EkKind {
    pub const ALL: [EkKind; 3] = [EkKind::Rsa2048, EkKind::EccP256, EkKind::Sm2P256];

    /// The name used on command lines (`--ek rsa2048,ecc-p256,sm2`).
    pub fn name(self) -> &'static str {
        match self {
            EkKind::Rsa2048 => "rsa2048",
            EkKind::EccP256 => "ecc-p256",
            EkKind::Sm2P256 => "sm2",
        }
    }

    /// The profile template this EK is made from (`tpm::templates`).
    pub fn ek_template(self) -> EkTemplate {
        match self {
            EkKind::Rsa2048 => EkTemplate::RsaL1,
            EkKind::EccP256 => EkTemplate::EccP256L2,
            EkKind::Sm2P256 => EkTemplate::Sm2P256H5,
        }
    }

    /// The NV index of the EK certificate.
    pub fn nv_index(self) -> u32 {
        self.ek_template().cert_index()
    }

    /// The template's public area, for TPM2_CreatePrimary.
    pub fn template(self) -> Public {
        self.ek_template().public()
    }
}

impl std::fmt::Display for EkKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for EkKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "rsa2048" | "rsa" | "rsa-2048" => Ok(EkKind::Rsa2048),
            "ecc-p256" | "ecc" | "p256" | "ecc256" | "ecc-nist-p256" => Ok(EkKind::EccP256),
            "sm2" | "sm2-p256" | "ecc-sm2-p256" => Ok(EkKind::Sm2P256),
            other => Err(format!(
                "unknown EK type {other:?} (expected rsa2048, ecc-p256 or sm2)"
            )),
        }
    }
}
