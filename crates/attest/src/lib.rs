//! Remote attestation building blocks, free of I/O so the agent, the
//! verifier, tests and fuzzers share one implementation:
//!
//! - [`eventlog`]: the firmware's measured-boot event log (TCG PC Client
//!   PFP, crypto-agile) — parse and replay;
//! - [`quote`]: TPM2_Quote verification with an enrolled AK;
//! - [`pcrs`]: reported PCR values and the quote's pcrDigest;
//! - [`ima`]: the Linux IMA measurement list and incremental PCR 10 replay;
//! - [`runtime_policy`]: Keylime runtime policies for IMA;
//! - [`policy`]: attestation policies (PCR values, measured boot, runtime);
//! - [`appraise`](mod@appraise): the whole per-evidence pipeline and its [`Failure`]s;
//! - [`credential`]: software MakeCredential for enrollment;
//! - [`ekcert`]: EK certificate chains;
//! - [`ear`]: EAR attestation-result tokens (draft-ietf-rats-ear);
//! - [`protocol`]: the JSON bodies between agent, verifier and CLI.

pub mod appraise;
pub mod credential;
pub mod ear;
pub mod ecdsa_p256;
pub mod ekcert;
pub mod eventlog;
mod failure;
pub mod ima;
mod memo;
pub mod pcr_hex;
pub mod pcrs;
pub mod policy;
pub mod protocol;
pub mod quote;
pub mod runtime_policy;

pub use appraise::{appraise, AgentHistory, Appraisal, AppraisalInput};
pub use eventlog::{Event, EventDigest, EventLog, EventLogError, ReplayError, SpecIdEvent};
pub use failure::Failure;
pub use quote::{AkVerifier, QuoteInfo};
