//! Opening the sealed store as the daemon does at start: the master key
//! (unsealed by the host TPM, or from a 0600 file), the anchor (the host
//! TPM's NV extend index, or a file outside the state directory), then the
//! store, which checks its record against the anchor.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::anchor::{Anchor, FileAnchor};
use super::error::SealError;
use super::host::{SharedHostTpm, TpmAnchor, DEFAULT_ANCHOR_INDEX};
use super::master::{file_master_key, tpm_master_key};
use super::store::SealedStore;

/// Where the sealed store's pieces live.
#[derive(Clone, Debug)]
pub struct SealConfig {
    /// Sealed states and the version record.
    pub dir: PathBuf,
    /// The master key: a 0600 key file, or the blob the host TPM sealed.
    pub master_key: PathBuf,
    /// The anchor file when there is no host TPM. Its only value is being
    /// outside `dir` (and outside whatever backs `dir` up and restores it).
    pub anchor_file: PathBuf,
    /// The anchor's NV index in the host TPM.
    pub anchor_index: u32,
}

impl SealConfig {
    /// Defaults for a daemon state directory `STATE`: states in
    /// `STATE/sealed/`, the master key in `STATE/master.key` (no host TPM)
    /// or `STATE/master.sealed` (host TPM), the anchor file beside the
    /// state directory as `STATE.anchor`, the NV index
    /// [`DEFAULT_ANCHOR_INDEX`].
    pub fn under(state_dir: &Path, host_tpm: bool) -> SealConfig {
        let mut anchor: OsString = state_dir.components().as_path().as_os_str().to_os_string();
        anchor.push(".anchor");
        SealConfig {
            dir: state_dir.join("sealed"),
            master_key: state_dir.join(if host_tpm {
                "master.sealed"
            } else {
                "master.key"
            }),
            anchor_file: PathBuf::from(anchor),
            anchor_index: DEFAULT_ANCHOR_INDEX,
        }
    }
}

/// Opens the store of `cfg`, rooted in `host` when given (master key sealed
/// by it, anchor in its NV), else in files (logged loudly as no hardware
/// root of trust).
pub fn open_sealed_store(
    cfg: &SealConfig,
    host: Option<SharedHostTpm>,
) -> Result<SealedStore, SealError> {
    let (master, anchor): (_, Box<dyn Anchor>) = match host {
        Some(host) => {
            let master = {
                let mut h = host
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                tpm_master_key(&mut *h, &cfg.master_key)?
            };
            let anchor = TpmAnchor::open(host, cfg.anchor_index, &master)?;
            (master, Box::new(anchor))
        }
        None => (
            file_master_key(&cfg.master_key)?,
            Box::new(FileAnchor::open(&cfg.anchor_file)?),
        ),
    };
    SealedStore::open(&cfg.dir, master, anchor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_put_the_anchor_outside_the_state_directory() {
        let c = SealConfig::under(Path::new("/var/lib/tc/vtpmd/"), false);
        assert_eq!(c.dir, Path::new("/var/lib/tc/vtpmd/sealed"));
        assert_eq!(c.master_key, Path::new("/var/lib/tc/vtpmd/master.key"));
        assert_eq!(c.anchor_file, Path::new("/var/lib/tc/vtpmd.anchor"));
        let t = SealConfig::under(Path::new("state"), true);
        assert_eq!(t.master_key, Path::new("state/master.sealed"));
        assert_eq!(t.anchor_file, Path::new("state.anchor"));
    }

    #[test]
    fn file_rooted_store_opens_and_reopens() {
        let tmp = tempfile::tempdir().unwrap();
        let cfg = SealConfig::under(&tmp.path().join("vtpmd"), false);
        let s = open_sealed_store(&cfg, None).unwrap();
        s.save("vm1", b"state").unwrap();
        drop(s);
        let s = open_sealed_store(&cfg, None).unwrap();
        assert_eq!(&s.load("vm1").unwrap().unwrap().blob[..], b"state");
        assert!(cfg.anchor_file.exists() && !cfg.anchor_file.starts_with(&cfg.dir));
    }
}
