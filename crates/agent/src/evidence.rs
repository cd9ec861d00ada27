//! The logs that go with a quote: the firmware's measured-boot event log
//! (TCG PC Client Platform Firmware Profile §10, crypto-agile format) and
//! the IMA measurement list, both read from securityfs as the kernel
//! exports them. The agent sends them raw; the verifier parses and
//! replays them against the quoted PCRs.

use std::path::{Path, PathBuf};

use attest::protocol::ImaEvidence;

use crate::ima;
use crate::{Error, Result};

/// Where Linux exports the firmware event log.
pub const DEFAULT_EVENT_LOG: &str = "/sys/kernel/security/tpm0/binary_bios_measurements";
/// Where Linux exports the IMA measurement list.
pub const DEFAULT_IMA_LOG: &str = "/sys/kernel/security/ima/binary_runtime_measurements";

/// The log files of this machine.
#[derive(Clone, Debug)]
pub struct LogSources {
    pub event_log: PathBuf,
    pub ima_log: PathBuf,
}

impl Default for LogSources {
    fn default() -> Self {
        LogSources {
            event_log: PathBuf::from(DEFAULT_EVENT_LOG),
            ima_log: PathBuf::from(DEFAULT_IMA_LOG),
        }
    }
}

/// Reads a log file; a missing file is `None` (no firmware log, IMA off).
/// An empty path means "none configured".
fn read_optional(path: &Path) -> Result<Option<Vec<u8>>> {
    if path.as_os_str().is_empty() {
        return Ok(None);
    }
    match std::fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io("read", path, e)),
    }
}

impl LogSources {
    /// The firmware event log, or `None` if this machine has none (no TPM
    /// driver log, a TPM without firmware measurements, swtpm).
    pub fn event_log(&self) -> Result<Option<Vec<u8>>> {
        read_optional(&self.event_log)
    }

    /// The IMA entries from entry `offset` on, or `None` without IMA.
    /// When the list has fewer entries than `offset` (the machine rebooted
    /// and the verifier has not noticed yet) the whole list is sent from
    /// entry 0, which the verifier recognises by `ImaEvidence::offset`.
    pub fn ima_from(&self, offset: u64) -> Result<Option<ImaEvidence>> {
        let Some(data) = read_optional(&self.ima_log)? else {
            return Ok(None);
        };
        let (offset, start, len) = match ima::slice_from(&data, offset) {
            Ok((s, l)) => (offset, s, l),
            Err(e) if offset > 0 => {
                tracing::warn!(error = %e, "sending the IMA list from its first entry");
                let (s, l) =
                    ima::slice_from(&data, 0).map_err(|e| Error::Protocol(e.to_string()))?;
                (0, s, l)
            }
            Err(e) => return Err(Error::Protocol(e.to_string())),
        };
        let entries = data.get(start..start + len).unwrap_or(&[]).to_vec();
        Ok(Some(ImaEvidence { offset, entries }))
    }

    /// Warns once at start about logs that are not there.
    pub fn warn_missing(&self) {
        if self.event_log.as_os_str().is_empty() {
            tracing::info!("no firmware event log configured");
        } else if !self.event_log.exists() {
            tracing::warn!(
                path = %self.event_log.display(),
                "no firmware event log: evidence carries none (measured-boot policies will fail)"
            );
        }
        if !self.ima_log.as_os_str().is_empty() && !self.ima_log.exists() {
            tracing::info!(path = %self.ima_log.display(), "no IMA measurement list (IMA off)");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ima::tests::ima_ng_entry;

    #[test]
    fn ima_slices_and_missing_files() {
        let dir = tempfile::tempdir().unwrap();
        let a = ima_ng_entry("boot_aggregate");
        let b = ima_ng_entry("/bin/sh");
        std::fs::write(dir.path().join("ima"), [a.clone(), b.clone()].concat()).unwrap();
        let src = LogSources {
            event_log: dir.path().join("nope"),
            ima_log: dir.path().join("ima"),
        };
        assert_eq!(src.event_log().unwrap(), None);
        let got = src.ima_from(1).unwrap().unwrap();
        assert_eq!((got.offset, got.entries), (1, b.clone()));
        let got = src.ima_from(2).unwrap().unwrap();
        assert_eq!((got.offset, got.entries.len()), (2, 0));
        // The list shrank below the verifier's offset: everything again.
        let got = src.ima_from(5).unwrap().unwrap();
        assert_eq!((got.offset, got.entries), (0, [a, b].concat()));
        let none = LogSources {
            event_log: dir.path().join("nope"),
            ima_log: dir.path().join("nope"),
        };
        assert_eq!(none.ima_from(0).unwrap(), None);
    }
}
