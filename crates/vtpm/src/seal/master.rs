//! Where the master key lives: a 0600 file on hosts without a TPM (and the
//! daemon says so loudly), or a blob sealed by the host TPM that is
//! useless on any other machine.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use zeroize::Zeroizing;

use super::error::{io_err, SealError};
use super::fsio;
use super::host::HostTpm;
use super::keys::{MasterKey, KEY_LEN};

const FILE_MAGIC: &[u8; 4] = b"TCMK";
const SEALED_MAGIC: &[u8; 4] = b"TCMS";
const FORMAT: u16 = 1;
const MAX_SEALED: u64 = 16 * 1024;

fn key_err(path: &Path, reason: impl Into<String>) -> SealError {
    SealError::MasterKey {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// Creates `path` with `bytes` only if it does not exist (write a temp
/// file, fsync, hard-link it into place, fsync the directory): a crash
/// never leaves a half-written key, and a concurrent creator wins cleanly.
/// Returns false when the file already existed.
fn create_exclusive(path: &Path, bytes: &[u8]) -> Result<bool, SealError> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    fs::DirBuilder::new()
        .recursive(true)
        .create(&dir)
        .map_err(io_err("create directory", &dir))?;
    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(format!(".tmp{}", std::process::id()));
    let tmp = dir.join(tmp_name);
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io_err("create", &tmp))?;
    f.write_all(bytes).map_err(io_err("write", &tmp))?;
    f.sync_all().map_err(io_err("fsync", &tmp))?;
    drop(f);
    let linked = fs::hard_link(&tmp, path);
    let _ = fs::remove_file(&tmp);
    match linked {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(false),
        Err(e) => return Err(io_err("create", path)(e)),
    }
    let d = fsio::open_dir(&dir)?;
    fsio::sync_dir(&d, &dir)?;
    Ok(true)
}

/// Reads a key file, refusing it when group or others may access it.
fn read_private(path: &Path, max: u64) -> Result<Option<Vec<u8>>, SealError> {
    let meta = match fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err("stat", path)(e)),
    };
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(key_err(
            path,
            format!("has mode {mode:04o}; it must be readable by its owner only (chmod 600)"),
        ));
    }
    fsio::read_bounded(path, max)
}

fn parse_with_magic<'a>(path: &Path, b: &'a [u8], magic: &[u8; 4]) -> Result<&'a [u8], SealError> {
    if b.len() < 6 || &b[..4] != magic {
        return Err(key_err(path, "not a trustcloud master key file"));
    }
    if b[4..6] != FORMAT.to_be_bytes() {
        return Err(key_err(path, "unknown format"));
    }
    Ok(&b[6..])
}

/// The master key kept in a 0600 file at `path`, created (random) on
/// first use. For hosts without a TPM: anyone who can read the file can
/// decrypt every vTPM state of the host, which is logged loudly.
pub fn file_master_key(path: &Path) -> Result<MasterKey, SealError> {
    tracing::warn!(
        file = %path.display(),
        "NO HOST TPM: the vTPM state master key is kept in a plain 0600 file; \
         this host has no hardware root of trust (use --host-tpm)"
    );
    if read_private(path, 64)?.is_none() {
        let key = MasterKey::generate();
        let mut b = Zeroizing::new(Vec::with_capacity(6 + KEY_LEN));
        b.extend_from_slice(FILE_MAGIC);
        b.extend_from_slice(&FORMAT.to_be_bytes());
        b.extend_from_slice(key.expose());
        if create_exclusive(path, &b)? {
            tracing::info!(file = %path.display(), "created a new master key");
            return Ok(key);
        }
    }
    let b = Zeroizing::new(
        read_private(path, 64)?.ok_or_else(|| key_err(path, "vanished while being read"))?,
    );
    let body = parse_with_magic(path, &b, FILE_MAGIC)?;
    let key: [u8; KEY_LEN] = body.try_into().map_err(|_| {
        key_err(
            path,
            format!("holds {} key bytes, not {KEY_LEN}", body.len()),
        )
    })?;
    Ok(MasterKey::from_bytes(key))
}

/// The master key sealed by the host TPM, kept as a sealed blob at
/// `path` (0600), created on first use: a random key sealed under the
/// TPM's storage hierarchy. The file is useless without that TPM.
pub fn tpm_master_key(host: &mut dyn HostTpm, path: &Path) -> Result<MasterKey, SealError> {
    let desc = host.describe();
    let tpm_err = |op, err| SealError::HostTpm {
        tpm: desc.clone(),
        op,
        err,
    };
    if read_private(path, MAX_SEALED)?.is_none() {
        let key = MasterKey::generate();
        let sealed = match host.seal(key.expose()) {
            Ok(s) => s,
            Err(e) => return Err(tpm_err("seal the master key", e)),
        };
        let mut b = Vec::with_capacity(6 + sealed.len());
        b.extend_from_slice(SEALED_MAGIC);
        b.extend_from_slice(&FORMAT.to_be_bytes());
        b.extend_from_slice(&sealed);
        if create_exclusive(path, &b)? {
            tracing::info!(file = %path.display(), tpm = %desc, "created a new master key sealed by the host TPM");
            return Ok(key);
        }
    }
    let b = read_private(path, MAX_SEALED)?
        .ok_or_else(|| key_err(path, "vanished while being read"))?;
    let sealed = parse_with_magic(path, &b, SEALED_MAGIC)?;
    let secret = match host.unseal(sealed) {
        Ok(s) => s,
        Err(e) => {
            return Err(tpm_err(
                "unseal the master key (another TPM, or the TPM was cleared?)",
                e,
            ))
        }
    };
    let key: [u8; KEY_LEN] = secret[..].try_into().map_err(|_| {
        key_err(
            path,
            format!("unsealed {} bytes, not {KEY_LEN}", secret.len()),
        )
    })?;
    Ok(MasterKey::from_bytes(key))
}

#[cfg(test)]
mod tests {
    use super::super::host::soft::SoftTpm;
    use super::super::keys::Purpose;
    use super::*;

    #[test]
    fn file_key_is_created_0600_and_reloaded() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("keys/master.key");
        let a = file_master_key(&p).unwrap();
        let b = file_master_key(&p).unwrap();
        assert_eq!(a.expose(), b.expose());
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(fs::read(&p).unwrap().len(), 38);
        assert_ne!(
            *a.derive(Purpose::State, b"x"),
            *MasterKey::generate().derive(Purpose::State, b"x")
        );
    }

    #[test]
    fn file_key_readable_by_others_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("master.key");
        file_master_key(&p).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
        let err = file_master_key(&p).unwrap_err().to_string();
        assert!(err.contains("0644") && err.contains("chmod 600"), "{err}");
    }

    #[test]
    fn file_key_garbage_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("master.key");
        fs::write(&p, b"TCMK\x00\x01short").unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o600)).unwrap();
        assert!(file_master_key(&p)
            .unwrap_err()
            .to_string()
            .contains("key bytes"));
    }

    #[test]
    fn tpm_key_is_sealed_and_unsealed() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("master.sealed");
        let mut t = SoftTpm::default();
        let a = tpm_master_key(&mut t, &p).unwrap();
        let on_disk = fs::read(&p).unwrap();
        assert!(
            !on_disk.windows(32).any(|w| w == a.expose()),
            "key stored in clear"
        );
        let b = tpm_master_key(&mut t, &p).unwrap();
        assert_eq!(a.expose(), b.expose());
    }
}
