//! The anchor: a value outside the state directory that moves forward with
//! every commit of the version record, so an older record (and with it an
//! older state) no longer matches it.
//!
//! Two kinds exist. The host TPM's NV extend index ([`super::host::TpmAnchor`])
//! cannot be moved back by anyone without the TPM's owner authorization,
//! and even then cannot be set to an old value without the master key.
//! The file anchor ([`FileAnchor`]) is a weak stand-in for hosts without a
//! TPM: it defeats a restore of the state directory alone, but not someone
//! who restores the anchor file too.

use std::fs::{self, File};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use super::error::SealError;
use super::fsio::{self, Faults, ReplaceSteps};
use super::record::Hash32;

/// What an anchor holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnchorValue {
    /// Never advanced (a file that does not exist, an NV index never written).
    Fresh,
    /// A commit number and the chain head after it (file anchor).
    Counted { seq: u64, head: Hash32 },
    /// The chain head only (an NV extend index holds just the digest).
    Head(Hash32),
}

impl AnchorValue {
    /// Whether the anchor vouches for the record ending at commit `seq`
    /// with chain head `head`. A fresh anchor vouches for nothing.
    pub fn matches(&self, seq: u64, head: &Hash32) -> bool {
        match self {
            AnchorValue::Fresh => false,
            AnchorValue::Counted { seq: s, head: h } => *s == seq && h == head,
            AnchorValue::Head(h) => h == head,
        }
    }
}

impl std::fmt::Display for AnchorValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AnchorValue::Fresh => f.write_str("nothing (never advanced)"),
            AnchorValue::Counted { seq, head } => {
                write!(f, "commit #{seq} (head {})", short(head))
            }
            AnchorValue::Head(h) => write!(f, "head {}", short(h)),
        }
    }
}

/// The first 8 bytes of a digest in hex, for messages.
pub(crate) fn short(h: &Hash32) -> String {
    hex::encode(&h[..8])
}

/// A monotonic value outside the state directory.
pub trait Anchor: Send {
    /// Where the anchor lives, for messages ("file /var/lib/x", "host TPM NV index 0x...").
    fn describe(&self) -> String;
    /// Whether the anchor is protected by hardware (a host TPM).
    fn is_hardware(&self) -> bool;
    /// The current value.
    fn read(&mut self) -> Result<AnchorValue, SealError>;
    /// Advances the anchor past commit `seq`, whose link is `link` and
    /// after which the chain head is `head` (= SHA-256(old head || link)).
    /// Must be durable when it returns.
    fn advance(&mut self, seq: u64, link: &Hash32, head: &Hash32) -> Result<(), SealError>;
}

const MAGIC: &[u8; 4] = b"TCVA";
const FORMAT: u16 = 1;
const FILE_LEN: usize = 4 + 2 + 8 + 32;

/// The anchor as a 0600 file holding (commit number, chain head). Keep it
/// outside the state directory (another disk or partition, not in the
/// same backups): its whole value is that a restore of the state
/// directory does not restore it.
pub struct FileAnchor {
    path: PathBuf,
    tmp: PathBuf,
    dir: PathBuf,
    dir_handle: File,
    /// Holds an exclusive lock on `PATH.lock`: one store per anchor.
    _lock: File,
}

impl FileAnchor {
    /// Opens (creating its directory, mode 0700, if needed) and locks the
    /// anchor file at `path`. Logs a warning: this anchor is weak.
    pub fn open(path: &Path) -> Result<FileAnchor, SealError> {
        let name = path
            .file_name()
            .ok_or_else(|| SealError::Anchor {
                anchor: path.display().to_string(),
                reason: "not a file path".into(),
            })?
            .to_os_string();
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if !dir.exists() {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&dir)
                .map_err(super::error::io_err("create anchor directory", &dir))?;
        }
        let mut lock_name = name.clone();
        lock_name.push(".lock");
        let mut tmp_name = name;
        tmp_name.push(".tmp");
        let lock = fsio::lock_file(&dir.join(lock_name))?;
        let dir_handle = fsio::open_dir(&dir)?;
        tracing::warn!(
            anchor = %path.display(),
            "NO HOST TPM: vTPM rollback protection is anchored in a plain file; \
             it detects a restored state directory only while this file is not restored with it"
        );
        Ok(FileAnchor {
            path: path.to_path_buf(),
            tmp: dir.join(tmp_name),
            dir,
            dir_handle,
            _lock: lock,
        })
    }
}

impl Anchor for FileAnchor {
    fn describe(&self) -> String {
        format!("file {}", self.path.display())
    }

    fn is_hardware(&self) -> bool {
        false
    }

    fn read(&mut self) -> Result<AnchorValue, SealError> {
        let Some(b) = fsio::read_bounded(&self.path, FILE_LEN as u64)? else {
            return Ok(AnchorValue::Fresh);
        };
        let bad = |reason: &str| SealError::Anchor {
            anchor: self.describe(),
            reason: reason.to_string(),
        };
        if b.len() != FILE_LEN || &b[..4] != MAGIC {
            return Err(bad("not an anchor file"));
        }
        let mut f = [0u8; 2];
        f.copy_from_slice(&b[4..6]);
        if u16::from_be_bytes(f) != FORMAT {
            return Err(bad("unknown anchor format"));
        }
        let mut s = [0u8; 8];
        s.copy_from_slice(&b[6..14]);
        let mut head = [0u8; 32];
        head.copy_from_slice(&b[14..46]);
        Ok(AnchorValue::Counted {
            seq: u64::from_be_bytes(s),
            head,
        })
    }

    fn advance(&mut self, seq: u64, _link: &Hash32, head: &Hash32) -> Result<(), SealError> {
        let mut b = Vec::with_capacity(FILE_LEN);
        b.extend_from_slice(MAGIC);
        b.extend_from_slice(&FORMAT.to_be_bytes());
        b.extend_from_slice(&seq.to_be_bytes());
        b.extend_from_slice(head);
        let steps = ReplaceSteps {
            written: None,
            synced: None,
            renamed: None,
        };
        fsio::replace_file(
            &self.dir,
            &self.dir_handle,
            &self.tmp,
            &self.path,
            &b,
            &steps,
            &Faults::default(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_anchor_starts_fresh_advances_and_persists() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("sub/anchor");
        let mut a = FileAnchor::open(&p).unwrap();
        assert_eq!(a.read().unwrap(), AnchorValue::Fresh);
        a.advance(3, &[1; 32], &[2; 32]).unwrap();
        drop(a);
        let mut a = FileAnchor::open(&p).unwrap();
        let v = a.read().unwrap();
        assert_eq!(
            v,
            AnchorValue::Counted {
                seq: 3,
                head: [2; 32]
            }
        );
        assert!(v.matches(3, &[2; 32]));
        assert!(!v.matches(2, &[2; 32]));
        assert!(!AnchorValue::Fresh.matches(0, &[0; 32]));
        assert!(AnchorValue::Head([2; 32]).matches(99, &[2; 32]));
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    #[test]
    fn file_anchor_is_exclusive_and_refuses_garbage() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("anchor");
        let _a = FileAnchor::open(&p).unwrap();
        assert!(matches!(
            FileAnchor::open(&p),
            Err(SealError::Locked { .. })
        ));
        drop(_a);
        fs::write(&p, b"garbage").unwrap();
        let mut a = FileAnchor::open(&p).unwrap();
        assert!(matches!(a.read(), Err(SealError::Anchor { .. })));
    }
}
