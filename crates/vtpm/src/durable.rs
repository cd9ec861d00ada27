//! Crash-safe replacement of small files (CA keys and certificates, instance
//! metadata, the agent's AK blobs): after a crash the path holds the old or
//! the new bytes, never a mix, and a secret is never readable by others
//! even for a moment. The sealed state store has its own variant with
//! fault-injection points (`seal/fsio.rs`).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Which step failed, on which path.
#[derive(Debug, thiserror::Error)]
#[error("cannot {op} {}: {err}", path.display())]
pub struct WriteError {
    pub op: &'static str,
    pub path: PathBuf,
    #[source]
    pub err: io::Error,
}

fn step<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> WriteError + 'a {
    move |err| WriteError {
        op,
        path: path.to_path_buf(),
        err,
    }
}

/// Writes `data` to `path` with permissions `mode`: a temporary file in the
/// same directory (created with `mode`, so a secret is never 0644), fsync,
/// rename over `path` (atomic in POSIX), fsync of the directory so the
/// rename itself survives a crash.
pub fn write_atomic(path: &Path, data: &[u8], mode: u32) -> Result<(), WriteError> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(path.file_name().unwrap_or_default());
    tmp_name.push(".tmp");
    let tmp = dir.join(tmp_name);
    let _ = fs::remove_file(&tmp);
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)
        .map_err(step("create", &tmp))?;
    f.write_all(data).map_err(step("write", &tmp))?;
    f.sync_all().map_err(step("fsync", &tmp))?;
    drop(f);
    fs::rename(&tmp, path).map_err(step("rename into place", path))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(step("fsync directory", dir))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn replaces_with_the_mode_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.pem");
        write_atomic(&path, b"old", 0o644).unwrap();
        write_atomic(&path, b"new", 0o600).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new");
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "temp file left behind");
    }

    #[test]
    fn a_missing_directory_names_the_step_and_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("absent").join("x");
        let e = write_atomic(&path, b"x", 0o600).unwrap_err();
        assert_eq!(e.op, "create");
        assert!(e.to_string().contains("absent"), "{e}");
    }
}
