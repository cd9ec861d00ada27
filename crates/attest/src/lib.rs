//! Remote attestation building blocks.
//!
//! [`eventlog`] parses the firmware's measured-boot event log (TCG PC Client
//! Platform Firmware Profile, crypto-agile format) and replays it into the
//! PCR values it claims, so a verifier can compare them with the PCRs a TPM
//! quoted or a guest printed.

pub mod eventlog;
pub mod protocol;

pub use eventlog::{Event, EventDigest, EventLog, EventLogError, ReplayError, SpecIdEvent};
