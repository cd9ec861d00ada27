//! The trustcloud attester (issue 5): it proves this machine's state to
//! the verifier with its TPM.
//!
//! * [`tpm::AgentTpm`] opens the TPM from a tpm2-tss TCTI string, reads the
//!   EK certificate from NV, recreates the EK from the EK Credential
//!   Profile template and checks it is the certified key, keeps an
//!   attestation key (AK) under the EK, answers credential challenges and
//!   quotes PCRs.
//! * [`evidence`] reads the firmware event log and the IMA measurement
//!   list from the kernel's securityfs.
//! * [`client::ApiClient`] speaks REST API v1 over HTTPS with mutual TLS
//!   (bodies from `attest::protocol`).
//! * [`run::Agent`] ties them together: enroll, activate, then answer the
//!   verifier's challenges at the interval it sets, reconnecting and
//!   re-enrolling as needed.
//!
//! Everything here is blocking (the TPM is a blocking device); the loop
//! runs on the caller's thread and stops when its stop flag is set.

pub mod client;
pub use reqwest::Method;
pub mod ek;
mod error;
pub mod evidence;
pub mod ima;
pub mod run;
pub mod tpm;

pub use error::{Error, Result};
