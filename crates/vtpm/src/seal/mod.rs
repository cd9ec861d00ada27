//! State at rest: every vTPM instance's state encrypted, authenticated,
//! versioned and protected against rollback, in one directory.
//!
//! - [`keys`]: the host master key and HKDF-SHA256 derivation of a separate
//!   key per instance and purpose (state, export, migration, record MAC,
//!   anchor chain, anchor auth).
//! - [`envelope`]: the sealed-blob format (AES-256-GCM, header as AAD).
//! - [`record`]: the version record, an authenticated hash-chained log of
//!   every instance's latest version and file digest.
//! - [`anchor`]: the value outside the directory that pins the record's
//!   chain head: a host TPM NV extend index ([`host::TpmAnchor`]) or, on
//!   hosts without a TPM, a 0600 file ([`anchor::FileAnchor`], weak).
//! - [`master`]: the master key in a 0600 file, or sealed by the host TPM.
//! - [`store`]: [`SealedStore`], the API the daemon uses.
//! - [`open_sealed_store`] / [`SealConfig`]: the daemon's start-up wiring.
//! - [`tpm_host`]: [`HostTpm`] over a real TPM through `tpmclient`.
//!
//! The protocol, the threat model and what exactly is anchored are
//! described in `docs/vtpm-state.md`.

pub mod anchor;
pub mod envelope;
mod error;
mod fsio;
pub mod host;
mod journal;
pub mod keys;
pub mod master;
mod name;
pub mod record;
mod setup;
pub mod store;
pub mod tpm_host;

pub use anchor::{Anchor, AnchorValue, FileAnchor};
pub use error::SealError;
pub use fsio::{FaultHook, Step};
pub use host::{HostTpm, HostTpmError, SharedHostTpm, TpmAnchor, DEFAULT_ANCHOR_INDEX};
pub use keys::{MasterKey, Purpose};
pub use master::{file_master_key, tpm_master_key};
pub use name::{check_name, MAX_NAME};
pub use record::RECORD_FILE;
pub use setup::{open_sealed_store, SealConfig};
pub use store::{Exported, Loaded, SealedInstance, SealedStore, SEALED_SUFFIX};
pub use tpm_host::TpmClientHost;
