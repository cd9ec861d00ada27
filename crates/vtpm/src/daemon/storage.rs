//! Where the daemon's instances keep their state: the sealed,
//! rollback-protected store of [`crate::seal`] (AES-256-GCM per instance,
//! a MACed version record, its chain head anchored in the host TPM's NV —
//! or, without a host TPM, in a file beside the state directory). See
//! docs/vtpm-state.md for the protocol and the threat model.

use std::path::Path;
use std::sync::Arc;

use crate::seal::{open_sealed_store, SealConfig, SealError, SealedStore, SharedHostTpm};
use crate::store::{StateBackend, StoreError};

/// Opens instance stores.
pub struct Storage {
    sealed: Arc<SealedStore>,
}

fn backend(e: SealError) -> StoreError {
    StoreError::Backend(Box::new(e))
}

impl Storage {
    /// Opens the sealed store under `state_dir`, keyed by the host TPM when
    /// one is given.
    pub fn new(state_dir: &Path, host: Option<SharedHostTpm>) -> Result<Storage, StoreError> {
        let cfg = SealConfig::under(state_dir, host.is_some());
        let sealed = open_sealed_store(&cfg, host).map_err(backend)?;
        Ok(Storage {
            sealed: Arc::new(sealed),
        })
    }

    /// Opens the store of instance `name`. `dir` (the instance directory,
    /// possibly a partial one being manufactured) holds no state: sealed
    /// states are keyed by name in one place, so a half-made instance
    /// leaves nothing behind once [`Storage::remove`] has run.
    pub fn open(&self, _dir: &Path, name: &str) -> Result<impl StateBackend + 'static, StoreError> {
        self.sealed.instance(name).map_err(backend)
    }

    /// The sealed store itself (migration blobs are sealed with its keys).
    pub fn sealed(&self) -> &Arc<SealedStore> {
        &self.sealed
    }

    /// Forgets the state of a deleted instance (its version record keeps a
    /// tombstone, so an old copy cannot be brought back either).
    pub fn remove(&self, name: &str) -> Result<(), StoreError> {
        match self.sealed.delete(name) {
            Ok(()) | Err(SealError::NotFound(_)) => Ok(()),
            Err(e) => Err(backend(e)),
        }
    }
}
