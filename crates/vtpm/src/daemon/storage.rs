//! Where the daemon's instances keep their state: the one place that picks
//! the store behind [`StateBackend`](crate::store::StateBackend).
//!
//! Today the plain crash-safe [`StateStore`]; the sealed, rollback-protected
//! store replaces it by changing the body of [`Storage::open`] (and
//! [`Storage::new`] if it needs keys at start).

use std::path::{Path, PathBuf};

use crate::store::{StateBackend, StateStore, StoreError};

/// Opens instance stores.
pub struct Storage {
    /// The daemon's state directory (master keys and version records of a
    /// sealing store live beside the instance directories).
    #[allow(dead_code)]
    state_dir: PathBuf,
}

impl Storage {
    pub fn new(state_dir: &Path) -> Result<Storage, StoreError> {
        Ok(Storage {
            state_dir: state_dir.to_path_buf(),
        })
    }

    /// Opens (and locks) the store of instance `name` in `dir`. `dir` may
    /// be a partial directory being manufactured; `name` is the name it
    /// will have.
    pub fn open(&self, dir: &Path, _name: &str) -> Result<impl StateBackend + 'static, StoreError> {
        StateStore::open(dir)
    }

    /// Forgets the state of a deleted instance. The plain store keeps it in
    /// the instance directory, which `delete` removes whole; a store that
    /// keeps states (or version records) elsewhere drops them here.
    pub fn remove(&self, _name: &str) -> Result<(), StoreError> {
        Ok(())
    }
}
