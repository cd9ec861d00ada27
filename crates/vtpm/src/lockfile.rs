//! Exclusive lock files: the daemon's state directory, the instance state
//! store and the sealed store / anchor each hold an `flock` for as long as
//! they live, so two processes never write the same files.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::Duration;

/// Opens (creating it, mode 0600) the lock file at `path`.
pub fn open_lock_file(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(path)
}

/// Tries of [`try_lock`], [`RETRY`] apart.
const ATTEMPTS: u32 = 20;
const RETRY: Duration = Duration::from_millis(10);

/// Takes an exclusive `flock` on `file`: `Ok(false)` when another process
/// holds it. The lock lives as long as the descriptor.
///
/// A lock just released can still be held for a moment by a child that
/// another thread of this process forked and that has not exec'd yet (it
/// shares the open file description), so a held lock is retried for up to
/// 200 ms before it counts as another process's.
pub fn try_lock(file: &File) -> io::Result<bool> {
    for attempt in 0..ATTEMPTS {
        // SAFETY: flock on a descriptor we own; no memory is involved.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc == 0 {
            return Ok(true);
        }
        let err = io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EWOULDBLOCK) {
            return Err(err);
        }
        if attempt + 1 < ATTEMPTS {
            std::thread::sleep(RETRY);
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flock_is_exclusive_between_descriptors() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("lock");
        let f1 = open_lock_file(&path).unwrap();
        let f2 = File::open(&path).unwrap();
        assert!(try_lock(&f1).unwrap());
        assert!(!try_lock(&f2).unwrap());
        drop(f1);
        assert!(try_lock(&f2).unwrap());
    }
}
