//! Crash-safe storage of one TPM's permanent state in a directory.
//!
//! A TPM acknowledges a command only after its NV writes are done (TPM 2.0
//! Part 1, clause "NV Memory"): a host that loses power right after a
//! response must find the state that response implied. So every save writes a temp
//! file in the same directory, fsyncs it, renames it over the state file
//! and fsyncs the directory: after a crash the file holds either the old
//! or the new blob, never a mix. The blob itself is self-checking (the
//! engine's `Tpm::from_state` refuses truncated or corrupt blobs).
//!
//! The directory is locked (`flock` on `.lock`) for the store's lifetime so
//! two processes never serve, and overwrite, the same TPM.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use tpm::StateError;

/// Name of the state file inside the state directory.
pub const STATE_FILE: &str = "tpm-state.bin";
/// Name of the temp file a save writes before renaming it.
const TEMP_FILE: &str = "tpm-state.bin.tmp";
/// Name of the lock file.
const LOCK_FILE: &str = ".lock";
/// A state file larger than this is refused rather than read into memory.
pub const MAX_STATE_FILE: u64 = 64 * 1024 * 1024;

/// Why the state could not be opened, read or written.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot {op} {}: {err}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        err: io::Error,
    },
    #[error("state directory {} is in use by another process (lock on {} is held)", dir.display(), dir.join(LOCK_FILE).display())]
    Locked { dir: PathBuf },
    #[error("state file {} is refused: {reason}; move it away to manufacture a new TPM, or restore a backup", path.display())]
    Corrupt { path: PathBuf, reason: StateError },
    #[error("state file {} is refused: it is {size} bytes, more than the {MAX_STATE_FILE}-byte limit", path.display())]
    TooLarge { path: PathBuf, size: u64 },
    /// An error of another [`StateBackend`] (the sealed store), carried whole.
    #[error(transparent)]
    Backend(Box<dyn std::error::Error + Send + Sync + 'static>),
}

/// Where an [`Instance`](crate::Instance) keeps its permanent state. The
/// plain [`StateStore`] here, or a store that also encrypts and
/// rollback-protects the blob (vtpmd's sealed store): an Instance only needs
/// "the last durably saved blob" and "durably save this blob before I
/// answer" (TPM 2.0 Part 1, clause "NV Memory": a response is sent only
/// after its NV writes are done).
pub trait StateBackend: Send {
    /// The last saved blob; `None` when nothing was saved yet.
    fn load(&self) -> Result<Option<Vec<u8>>, StoreError>;
    /// Durably replaces the stored blob before returning.
    fn save(&mut self, blob: &[u8]) -> Result<(), StoreError>;
    /// The file named in logs and errors.
    fn path(&self) -> &Path;
}

impl StateBackend for StateStore {
    fn load(&self) -> Result<Option<Vec<u8>>, StoreError> {
        StateStore::load(self)
    }

    fn save(&mut self, blob: &[u8]) -> Result<(), StoreError> {
        StateStore::save(self, blob)
    }

    fn path(&self) -> &Path {
        StateStore::path(self)
    }
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> StoreError + 'a {
    move |err| StoreError::Io {
        op,
        path: path.to_path_buf(),
        err,
    }
}

/// The state directory of one TPM, locked for exclusive use.
pub struct StateStore {
    dir: PathBuf,
    path: PathBuf,
    tmp: PathBuf,
    /// Open handle on the directory, fsynced after each rename.
    dir_handle: File,
    /// Holds the `flock` for as long as the store lives.
    _lock: File,
}

impl StateStore {
    /// Opens (creating it, mode 0700, if missing) and locks `dir`.
    pub fn open(dir: &Path) -> Result<StateStore, StoreError> {
        if !dir.exists() {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(io_err("create state directory", dir))?;
            tracing::info!(dir = %dir.display(), "created state directory");
        }
        let lock_path = dir.join(LOCK_FILE);
        let lock = crate::lockfile::open_lock_file(&lock_path)
            .map_err(io_err("open lock file", &lock_path))?;
        if !crate::lockfile::try_lock(&lock).map_err(io_err("lock", &lock_path))? {
            return Err(StoreError::Locked {
                dir: dir.to_path_buf(),
            });
        }
        let dir_handle = File::open(dir).map_err(io_err("open state directory", dir))?;
        let store = StateStore {
            dir: dir.to_path_buf(),
            path: dir.join(STATE_FILE),
            tmp: dir.join(TEMP_FILE),
            dir_handle,
            _lock: lock,
        };
        // A temp file left by a crash mid-save was never renamed, so it was
        // never the state: drop it.
        if store.tmp.exists() {
            tracing::warn!(file = %store.tmp.display(), "removing an unfinished save left by a crash");
            fs::remove_file(&store.tmp).map_err(io_err("remove", &store.tmp))?;
        }
        Ok(store)
    }

    /// The state directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The state file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the state file; `None` when there is none yet.
    pub fn load(&self) -> Result<Option<Vec<u8>>, StoreError> {
        let mut file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err("open", &self.path)(e)),
        };
        let size = file.metadata().map_err(io_err("stat", &self.path))?.len();
        if size > MAX_STATE_FILE {
            return Err(StoreError::TooLarge {
                path: self.path.clone(),
                size,
            });
        }
        let mut blob = Vec::with_capacity(size as usize);
        Read::by_ref(&mut file)
            .take(MAX_STATE_FILE + 1)
            .read_to_end(&mut blob)
            .map_err(io_err("read", &self.path))?;
        Ok(Some(blob))
    }

    /// Durably replaces the state file with `blob` (temp file, fsync,
    /// rename, fsync of the directory).
    pub fn save(&self, blob: &[u8]) -> Result<(), StoreError> {
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&self.tmp)
            .map_err(io_err("create", &self.tmp))?;
        file.write_all(blob).map_err(io_err("write", &self.tmp))?;
        file.sync_all().map_err(io_err("fsync", &self.tmp))?;
        drop(file);
        fs::rename(&self.tmp, &self.path).map_err(io_err("rename into place", &self.path))?;
        self.dir_handle
            .sync_all()
            .map_err(io_err("fsync", &self.dir))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_dir_is_created_and_missing_file_is_none() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/b");
        let store = StateStore::open(&dir).unwrap();
        assert!(dir.is_dir());
        assert_eq!(store.load().unwrap(), None);
    }

    #[test]
    fn save_then_load_round_trips_and_leaves_no_temp() {
        let tmp = tempfile::tempdir().unwrap();
        let store = StateStore::open(tmp.path()).unwrap();
        store.save(b"first").unwrap();
        store.save(b"second blob").unwrap();
        assert_eq!(store.load().unwrap().as_deref(), Some(&b"second blob"[..]));
        assert!(!tmp.path().join(TEMP_FILE).exists());
    }

    #[test]
    fn second_open_of_same_dir_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let _first = StateStore::open(tmp.path()).unwrap();
        match StateStore::open(tmp.path()) {
            Err(StoreError::Locked { dir }) => assert_eq!(dir, tmp.path()),
            other => panic!("expected Locked, got {:?}", other.err()),
        }
    }

    #[test]
    fn stale_temp_file_is_removed_and_state_kept() {
        let tmp = tempfile::tempdir().unwrap();
        {
            let store = StateStore::open(tmp.path()).unwrap();
            store.save(b"good").unwrap();
        }
        fs::write(tmp.path().join(TEMP_FILE), b"half").unwrap();
        let store = StateStore::open(tmp.path()).unwrap();
        assert!(!tmp.path().join(TEMP_FILE).exists());
        assert_eq!(store.load().unwrap().as_deref(), Some(&b"good"[..]));
    }
}
