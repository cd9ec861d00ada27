//! Why the sealed store refused or failed an operation. Every refusal names
//! the instance, the file and, for rollbacks, the versions expected and
//! found, so an operator can tell an attack from a misconfiguration.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::fsio::Step;

/// An error of the sealed store.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("cannot {op} {}: {err}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        err: io::Error,
    },
    #[error("{} is in use by another process (its lock is held)", path.display())]
    Locked { path: PathBuf },
    #[error("{} is {size} bytes, more than the {max}-byte limit", path.display())]
    TooLarge { path: PathBuf, size: u64, max: u64 },
    #[error("invalid instance name {name:?}: {reason}")]
    InvalidName { name: String, reason: &'static str },
    #[error("instance {0} does not exist")]
    NotFound(String),
    #[error("instance {instance} is refused: {} is not a sealed vTPM state ({reason})", path.display())]
    Malformed {
        instance: String,
        path: PathBuf,
        reason: String,
    },
    #[error("instance {instance} is refused: {} holds the state of instance {holds:?}, not {instance:?} (files swapped or renamed)", path.display())]
    WrongInstance {
        instance: String,
        path: PathBuf,
        holds: String,
    },
    #[error("instance {instance} is refused: {} fails authentication (tampered with, or sealed with another master key)", path.display())]
    Tampered { instance: String, path: PathBuf },
    #[error("instance {instance} is refused: rollback detected: {} holds state version {found}, but the version record says the latest is version {expected} (expected {expected}, found {found})", path.display())]
    Rollback {
        instance: String,
        path: PathBuf,
        expected: u64,
        found: u64,
    },
    #[error("instance {instance} is refused: {} holds state version {found} but its content is not the one recorded for that version (a replaced or forked state; expected the recorded version {expected})", path.display())]
    Forked {
        instance: String,
        path: PathBuf,
        expected: u64,
        found: u64,
    },
    #[error("instance {instance} is refused: {} holds state version {found}, ahead of the recorded version {expected} by more than one write (the version record was rolled back?)", path.display())]
    Ahead {
        instance: String,
        path: PathBuf,
        expected: u64,
        found: u64,
    },
    #[error("instance {instance} is refused: its state file {} is missing, but the version record says version {expected} exists (deleted, or not restored)", path.display())]
    Missing {
        instance: String,
        path: PathBuf,
        expected: u64,
    },
    #[error("state directory {} is refused: rollback or tampering detected: {detail}; instances refused: {instances}", dir.display())]
    StoreRollback {
        dir: PathBuf,
        detail: String,
        instances: String,
    },
    #[error("the version record {} is refused: {reason}", path.display())]
    RecordCorrupt { path: PathBuf, reason: String },
    #[error("anchor {anchor}: {reason}")]
    Anchor { anchor: String, reason: String },
    #[error("host TPM {tpm}: cannot {op}: {err}")]
    HostTpm {
        tpm: String,
        op: &'static str,
        err: super::host::HostTpmError,
    },
    #[error("master key {}: {reason}", path.display())]
    MasterKey { path: PathBuf, reason: String },
    #[error("sealed blob refused: {0}")]
    Blob(String),
    #[error("the sealed store stopped after an earlier failure and must be reopened: {0}")]
    Poisoned(String),
    #[error("simulated crash at {0:?}")]
    Crashed(Step),
    #[error(transparent)]
    Shared(Arc<SealError>),
}

impl SealError {
    /// Whether this is (or wraps) a simulated crash.
    pub fn is_crash(&self) -> bool {
        match self {
            SealError::Crashed(_) => true,
            SealError::Shared(e) => e.is_crash(),
            _ => false,
        }
    }
}

pub(crate) fn io_err<'a>(
    op: &'static str,
    path: &'a Path,
) -> impl FnOnce(io::Error) -> SealError + 'a {
    move |err| SealError::Io {
        op,
        path: path.to_path_buf(),
        err,
    }
}
