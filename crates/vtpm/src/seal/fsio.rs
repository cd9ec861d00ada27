//! File-system primitives of the sealed store: the directory lock, durable
//! replacement of a file (temp, fsync, rename, fsync of the directory — the
//! protocol of [`crate::store`]) and bounded reads, each with named steps
//! at which a test can inject a crash.
//!
//! The steps exist because the store's guarantee ("a crash at any point
//! leaves a state that loads, old or new") is about the points *between*
//! system calls; a test proves it by failing at every one of them.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use super::error::{io_err, SealError};

/// A point between two durable actions of the store, where a crash may
/// happen. Named in the order a save, a delete or a compaction meets them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Step {
    /// The sealed state's temp file is written, not yet fsynced.
    StateTempWritten,
    /// The temp file is fsynced, not yet renamed over the state file.
    StateTempSynced,
    /// The temp file is renamed over the state file; directory not fsynced.
    StateRenamed,
    /// The state file is durable; the version record is not yet appended.
    StateDurable,
    /// Half of the record commit is written (a torn append).
    RecordTorn,
    /// The record commit is written, not yet fsynced.
    RecordWritten,
    /// The record commit is durable; the anchor is not yet advanced.
    RecordDurable,
    /// A compacted record is written to its temp file, not yet renamed.
    CompactWritten,
    /// The compacted record replaced the old one; the anchor is not yet advanced.
    CompactRenamed,
    /// The anchor is advanced; the operation has not yet returned.
    AnchorAdvanced,
    /// A delete's tombstone is committed; the state file is not yet removed.
    TombstoneCommitted,
}

impl Step {
    /// Every step, for tests that crash at each one in turn.
    pub const ALL: [Step; 11] = [
        Step::StateTempWritten,
        Step::StateTempSynced,
        Step::StateRenamed,
        Step::StateDurable,
        Step::RecordTorn,
        Step::RecordWritten,
        Step::RecordDurable,
        Step::CompactWritten,
        Step::CompactRenamed,
        Step::AnchorAdvanced,
        Step::TombstoneCommitted,
    ];
}

/// Called at every [`Step`]; returning `Err(())` simulates a crash there:
/// the operation stops at once, leaving the files as they are, and the
/// store refuses further use (a crashed process does nothing more).
pub type FaultHook = Arc<dyn Fn(Step) -> Result<(), ()> + Send + Sync>;

/// The installed fault hook, if any.
#[derive(Default)]
pub(crate) struct Faults(Mutex<Option<FaultHook>>);

impl Faults {
    pub(crate) fn set(&self, hook: Option<FaultHook>) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = hook;
    }

    /// Passes `step`, or fails with [`SealError::Crashed`] if the hook says so.
    pub(crate) fn at(&self, step: Step) -> Result<(), SealError> {
        let hook = self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        match hook {
            Some(h) if h(step).is_err() => Err(SealError::Crashed(step)),
            _ => Ok(()),
        }
    }
}

/// Takes an exclusive, non-blocking `flock` on `path` (created 0600), so two
/// processes never write the same store or anchor.
pub(crate) fn lock_file(path: &Path) -> Result<File, SealError> {
    let lock = crate::lockfile::open_lock_file(path).map_err(io_err("open lock file", path))?;
    if !crate::lockfile::try_lock(&lock).map_err(io_err("lock", path))? {
        return Err(SealError::Locked {
            path: path.to_path_buf(),
        });
    }
    Ok(lock)
}

/// Opens a directory for fsync.
pub(crate) fn open_dir(dir: &Path) -> Result<File, SealError> {
    File::open(dir).map_err(io_err("open directory", dir))
}

/// Fsyncs a directory, making renames and removals in it durable.
pub(crate) fn sync_dir(handle: &File, dir: &Path) -> Result<(), SealError> {
    handle.sync_all().map_err(io_err("fsync directory", dir))
}

/// The step names one durable replacement reports, so the state file and
/// the compacted record share one implementation.
pub(crate) struct ReplaceSteps {
    pub written: Option<Step>,
    pub synced: Option<Step>,
    pub renamed: Option<Step>,
}

/// Durably replaces `path` (in directory `dir`, opened as `dir_handle`)
/// with `bytes`: write `tmp` (mode 0600), fsync it, rename it over `path`,
/// fsync the directory. After a crash `path` holds the old or the new
/// bytes, never a mix (POSIX rename is atomic).
pub(crate) fn replace_file(
    dir: &Path,
    dir_handle: &File,
    tmp: &Path,
    path: &Path,
    bytes: &[u8],
    steps: &ReplaceSteps,
    faults: &Faults,
) -> Result<(), SealError> {
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(tmp)
        .map_err(io_err("create", tmp))?;
    file.write_all(bytes).map_err(io_err("write", tmp))?;
    if let Some(s) = steps.written {
        faults.at(s)?;
    }
    file.sync_all().map_err(io_err("fsync", tmp))?;
    drop(file);
    if let Some(s) = steps.synced {
        faults.at(s)?;
    }
    fs::rename(tmp, path).map_err(io_err("rename into place", path))?;
    if let Some(s) = steps.renamed {
        faults.at(s)?;
    }
    sync_dir(dir_handle, dir)
}

/// Reads a whole file of at most `max` bytes; `None` when it does not exist.
pub(crate) fn read_bounded(path: &Path, max: u64) -> Result<Option<Vec<u8>>, SealError> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err("open", path)(e)),
    };
    let size = file.metadata().map_err(io_err("stat", path))?.len();
    if size > max {
        return Err(SealError::TooLarge {
            path: path.to_path_buf(),
            size,
            max,
        });
    }
    let mut buf = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    file.take(max + 1)
        .read_to_end(&mut buf)
        .map_err(io_err("read", path))?;
    if buf.len() as u64 > max {
        return Err(SealError::TooLarge {
            path: path.to_path_buf(),
            size: buf.len() as u64,
            max,
        });
    }
    Ok(Some(buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replace_file_writes_and_leaves_no_temp() {
        let tmp = tempfile::tempdir().unwrap();
        let d = open_dir(tmp.path()).unwrap();
        let (t, p) = (tmp.path().join("x.tmp"), tmp.path().join("x"));
        let steps = ReplaceSteps {
            written: None,
            synced: None,
            renamed: None,
        };
        replace_file(tmp.path(), &d, &t, &p, b"one", &steps, &Faults::default()).unwrap();
        replace_file(tmp.path(), &d, &t, &p, b"two", &steps, &Faults::default()).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert!(!t.exists());
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    #[test]
    fn injected_crash_before_rename_keeps_old_bytes() {
        let tmp = tempfile::tempdir().unwrap();
        let d = open_dir(tmp.path()).unwrap();
        let (t, p) = (tmp.path().join("x.tmp"), tmp.path().join("x"));
        fs::write(&p, b"old").unwrap();
        let faults = Faults::default();
        faults.set(Some(Arc::new(|s| {
            if s == Step::StateTempSynced {
                Err(())
            } else {
                Ok(())
            }
        })));
        let steps = ReplaceSteps {
            written: Some(Step::StateTempWritten),
            synced: Some(Step::StateTempSynced),
            renamed: Some(Step::StateRenamed),
        };
        let err = replace_file(tmp.path(), &d, &t, &p, b"new", &steps, &faults).unwrap_err();
        assert!(matches!(err, SealError::Crashed(Step::StateTempSynced)));
        assert_eq!(fs::read(&p).unwrap(), b"old");
    }

    #[test]
    fn read_bounded_refuses_large_and_reports_missing() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("f");
        assert_eq!(read_bounded(&p, 4).unwrap(), None);
        fs::write(&p, b"12345").unwrap();
        assert!(matches!(
            read_bounded(&p, 4),
            Err(SealError::TooLarge { size: 5, .. })
        ));
        assert_eq!(read_bounded(&p, 5).unwrap().unwrap(), b"12345");
    }

    #[test]
    fn second_lock_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join(".lock");
        let _a = lock_file(&p).unwrap();
        assert!(matches!(lock_file(&p), Err(SealError::Locked { .. })));
    }
}
