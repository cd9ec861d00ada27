//! An instance's directory and its metadata file.
//!
//! Layout: `STATE/instances/NAME/` holds the engine state (the store's
//! files) and `instance.json` (this module): how the instance was
//! manufactured (banks, EK public keys and certificates) and its TCP
//! listener. The metadata is written once, last, when the instance is
//! complete, and is only read again by `show`/`export` and at daemon start;
//! the daemon keeps a few bytes of it per instance in memory.

use std::fs::File;
use std::io::{self, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::api::EkInfo;

/// The metadata file inside an instance directory.
pub const META_FILE: &str = "instance.json";
/// The subdirectory of the state directory holding one directory per
/// instance.
pub const INSTANCES_DIR: &str = "instances";
/// Prefix of a directory being manufactured or imported: renamed to the
/// instance's name when complete, removed at start if a crash left it.
pub const PARTIAL_PREFIX: &str = ".partial-";
/// Longest instance name. Names become file names and socket paths
/// (`RUN/NAME.ctrl`, limited to 107 bytes by sun_path).
pub const MAX_NAME: usize = 64;
/// A metadata file larger than this is refused (it holds at most a few
/// certificates).
const MAX_META: u64 = 1 << 20;
const META_FORMAT: u32 = 1;

/// The TCP protocol of an instance's listener pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// swtpm TCP: data port, control port.
    Swtpm,
    /// TCG simulator: command port, platform port.
    Mssim,
}

impl Protocol {
    pub fn parse(s: &str) -> Option<Protocol> {
        match s {
            "swtpm" => Some(Protocol::Swtpm),
            "mssim" => Some(Protocol::Mssim),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Swtpm => "swtpm",
            Protocol::Mssim => "mssim",
        }
    }
}

/// A TCP listener pair: `addr` and the next port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listen {
    pub protocol: Protocol,
    pub addr: SocketAddr,
}

/// `instance.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    pub format: u32,
    pub name: String,
    /// Unix time of manufacture.
    pub created: u64,
    pub pcr_banks: Vec<String>,
    pub eks: Vec<EkInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listen: Option<Listen>,
    /// Live-migration blobs leave (and enter) in the clear
    /// (`--migration-plaintext`; unsafe, see docs/vtpm-state.md).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub migration_plaintext: bool,
    /// A migration destination (`--incoming SOURCE`): not manufactured,
    /// it takes its state from migration blobs sealed for SOURCE.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incoming: Option<String>,
}

impl Meta {
    pub fn new(name: &str, pcr_banks: Vec<String>, eks: Vec<EkInfo>) -> Meta {
        let created = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        Meta {
            format: META_FORMAT,
            name: name.to_string(),
            created,
            pcr_banks,
            eks,
            listen: None,
            migration_plaintext: false,
            incoming: None,
        }
    }
}

/// Why a metadata file was not read.
#[derive(Debug, thiserror::Error)]
pub enum MetaError {
    #[error("cannot read {}: {err}", path.display())]
    Io { path: PathBuf, err: io::Error },
    #[error("{} is not valid instance metadata: {reason}", path.display())]
    Invalid { path: PathBuf, reason: String },
}

/// Checks that `name` is usable as an instance name: 1 to 64 characters
/// from `A-Z a-z 0-9 . _ -`, not starting with `.` or `-` (so it is a
/// plain file name, never hidden, never an option).
pub fn validate_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > MAX_NAME {
        return Err(format!(
            "invalid vTPM name {name:?}: it must be 1 to {MAX_NAME} characters long"
        ));
    }
    if name.starts_with('.') || name.starts_with('-') {
        return Err(format!(
            "invalid vTPM name {name:?}: it must not start with '.' or '-'"
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(format!(
            "invalid vTPM name {name:?}: character {c:?} is not allowed (use A-Z a-z 0-9 . _ -)"
        ));
    }
    Ok(())
}

/// Reads and checks `dir/instance.json`.
pub fn read(dir: &Path) -> Result<Meta, MetaError> {
    let path = dir.join(META_FILE);
    let io_err = |err| MetaError::Io {
        path: path.clone(),
        err,
    };
    let mut text = String::new();
    File::open(&path)
        .map_err(io_err)?
        .take(MAX_META)
        .read_to_string(&mut text)
        .map_err(io_err)?;
    let meta: Meta = serde_json::from_str(&text).map_err(|e| MetaError::Invalid {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    if meta.format != META_FORMAT {
        return Err(MetaError::Invalid {
            path,
            reason: format!(
                "format {} is not supported (this build reads {META_FORMAT})",
                meta.format
            ),
        });
    }
    Ok(meta)
}

/// Writes `dir/instance.json` durably (temp file, fsync, rename, fsync of
/// the directory), mode 0600.
pub fn write(dir: &Path, meta: &Meta) -> io::Result<()> {
    let text = serde_json::to_vec_pretty(meta).map_err(io::Error::other)?;
    crate::durable::write_atomic(&dir.join(META_FILE), &text, 0o600)
        .map_err(|e| io::Error::new(e.err.kind(), e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_plain_file_names() {
        for ok in ["vm1", "a", "web-01.prod_x", &"x".repeat(64)] {
            assert_eq!(validate_name(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            ".hidden",
            "-opt",
            "a/b",
            "..",
            "a b",
            "é",
            &"x".repeat(65),
        ] {
            let err = validate_name(bad).unwrap_err();
            assert!(err.contains("invalid vTPM name"), "{bad}: {err}");
        }
    }

    #[test]
    fn meta_round_trips_and_bad_files_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let mut meta = Meta::new("vm1", vec!["sha256".into()], vec![]);
        meta.listen = Some(Listen {
            protocol: Protocol::Mssim,
            addr: "127.0.0.1:2321".parse().unwrap(),
        });
        write(tmp.path(), &meta).unwrap();
        assert_eq!(read(tmp.path()).unwrap(), meta);
        std::fs::write(tmp.path().join(META_FILE), b"{not json").unwrap();
        let err = read(tmp.path()).unwrap_err().to_string();
        assert!(err.contains("not valid instance metadata"), "{err}");
        let mut future = serde_json::to_value(&meta).unwrap();
        future["format"] = 9.into();
        std::fs::write(tmp.path().join(META_FILE), future.to_string()).unwrap();
        let err = read(tmp.path()).unwrap_err().to_string();
        assert!(err.contains("format 9 is not supported"), "{err}");
    }
}
