//! The Linux TPM character device (`/dev/tpmrm0`, `/dev/tpm0`), as
//! tpm2-tss's `tcti-device`.
//!
//! The kernel driver takes one complete command per write(2) and hands the
//! response back through read(2). Older drivers return the whole response
//! in the first read and drop whatever that read did not take, so the first
//! read asks for [`super::MAX_RESPONSE_SIZE`] octets; drivers that allow
//! partial reads are then read until the header's size is reached. Waits
//! use poll(2) with the command deadline. The driver exposes no locality
//! control to user space, so only locality 0 is accepted.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::{check_command, response_size, Timeouts, Transport, TransportError, HEADER_SIZE};

/// The paths tried, in order, when no device is named (tcti-device's
/// default configuration): the resource-managed device first.
pub const DEFAULT_DEVICES: [&str; 2] = ["/dev/tpmrm0", "/dev/tpm0"];

/// An open TPM character device.
pub struct DeviceTransport {
    file: File,
    path: PathBuf,
    timeouts: Timeouts,
    /// A command timed out or failed mid-way: a late response may still be
    /// queued in the driver and is discarded before the next command.
    desynced: bool,
}

impl DeviceTransport {
    /// Opens `path`, or the first of [`DEFAULT_DEVICES`] that opens.
    pub fn open(path: Option<&Path>, timeouts: Timeouts) -> Result<Self, TransportError> {
        let candidates: Vec<PathBuf> = match path {
            Some(p) => vec![p.to_path_buf()],
            None => DEFAULT_DEVICES.iter().map(PathBuf::from).collect(),
        };
        let mut last = None;
        for p in candidates {
            match OpenOptions::new().read(true).write(true).open(&p) {
                Ok(file) => {
                    tracing::debug!(device = %p.display(), "opened TPM device");
                    return Ok(DeviceTransport {
                        file,
                        path: p,
                        timeouts,
                        desynced: false,
                    });
                }
                Err(e) => last = Some((p, e)),
            }
        }
        let (p, e) = last.unwrap_or_else(|| {
            (
                PathBuf::from(DEFAULT_DEVICES[0]),
                io::Error::from(io::ErrorKind::NotFound),
            )
        });
        Err(TransportError::Connect {
            endpoint: p.display().to_string(),
            source: e,
        })
    }

    /// The device path in use.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn io_err(&self, during: &'static str, e: io::Error) -> TransportError {
        TransportError::Io {
            endpoint: self.endpoint(),
            during,
            source: e,
        }
    }

    /// Waits until the device has response bytes, before `deadline`.
    fn wait_readable(&self, deadline: Instant) -> Result<(), TransportError> {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(TransportError::Timeout {
                    endpoint: self.endpoint(),
                    during: "waiting for the response",
                    timeout: self.timeouts.command,
                });
            }
            let ms = i32::try_from(left.as_millis().max(1)).unwrap_or(i32::MAX);
            let mut pfd = libc::pollfd {
                fd: self.file.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: poll(2) on one pollfd we own, with its count.
            let n = unsafe { libc::poll(&mut pfd, 1, ms) };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(self.io_err("waiting for the response", e));
            }
            if n > 0 {
                return Ok(());
            }
        }
    }
}

impl Transport for DeviceTransport {
    fn transmit(&mut self, locality: u8, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        check_command(command)?;
        if locality != 0 {
            return Err(TransportError::Locality {
                endpoint: self.endpoint(),
                locality,
            });
        }
        if self.desynced {
            self.discard_pending();
            self.desynced = false;
        }
        let r = self.exchange(command);
        self.desynced = r.is_err();
        r
    }

    fn endpoint(&self) -> String {
        format!("device:{}", self.path.display())
    }
}

impl DeviceTransport {
    /// Reads and drops whatever response is already queued (a late answer
    /// to a command that timed out), without waiting.
    fn discard_pending(&mut self) {
        let mut buf = vec![0u8; super::MAX_RESPONSE_SIZE];
        while self
            .wait_readable(Instant::now() + std::time::Duration::from_millis(1))
            .is_ok()
        {
            match self.file.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => tracing::debug!(octets = n, "discarded a late TPM response"),
            }
        }
    }

    /// One command and its response.
    fn exchange(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        let deadline = Instant::now() + self.timeouts.command;
        // One write(2) per command: the driver refuses a partial command.
        let n = self
            .file
            .write(command)
            .map_err(|e| self.io_err("sending the command", e))?;
        if n != command.len() {
            return Err(TransportError::Protocol {
                endpoint: self.endpoint(),
                detail: format!("device took {n} of {} command octets", command.len()),
            });
        }
        let mut buf = vec![0u8; super::MAX_RESPONSE_SIZE];
        let mut have = 0usize;
        let mut want: Option<usize> = None;
        loop {
            self.wait_readable(deadline)?;
            let Some(dst) = buf.get_mut(have..) else {
                break;
            };
            let n = match self.file.read(dst) {
                Ok(0) => {
                    return Err(TransportError::Closed {
                        endpoint: self.endpoint(),
                        during: "reading the response",
                    })
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.io_err("reading the response", e)),
            };
            have += n;
            if want.is_none() && have >= HEADER_SIZE {
                want = Some(response_size(&self.endpoint(), &buf[..HEADER_SIZE])?);
            }
            if let Some(w) = want {
                if have >= w {
                    buf.truncate(w);
                    return Ok(buf);
                }
            }
        }
        Err(TransportError::Protocol {
            endpoint: self.endpoint(),
            detail: "response exceeds the size limit".into(),
        })
    }
}

impl std::fmt::Debug for DeviceTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DeviceTransport({})", self.path.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    use std::time::Duration;

    /// A FIFO opened read-write hands back what was written: a stand-in for
    /// the driver that checks the framing (one write, reads up to the
    /// header's size) without a TPM.
    fn fifo(dir: &Path) -> PathBuf {
        let p = dir.join("tpm0");
        let c = CString::new(p.as_os_str().as_bytes()).unwrap();
        // SAFETY: mkfifo(3) with a NUL-terminated path we own.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        p
    }

    const GET_RANDOM: [u8; 12] = [0x80, 0x01, 0, 0, 0, 12, 0, 0, 1, 0x7b, 0, 8];

    #[test]
    fn frames_a_command_and_reads_the_whole_response() {
        let dir = tempfile::tempdir().unwrap();
        let p = fifo(dir.path());
        let t = Timeouts {
            connect: Duration::from_secs(1),
            command: Duration::from_secs(2),
        };
        let mut d = DeviceTransport::open(Some(&p), t).unwrap();
        let cmd = [0x80, 0x01, 0, 0, 0, 12, 0, 0, 1, 0x7b, 0, 8];
        assert_eq!(d.transmit(0, &cmd).unwrap(), cmd);
        assert!(matches!(
            d.transmit(1, &cmd),
            Err(TransportError::Locality { locality: 1, .. })
        ));
        assert!(matches!(
            d.transmit(0, &cmd[..11]),
            Err(TransportError::BadCommand(_))
        ));
        assert_eq!(d.endpoint(), format!("device:{}", p.display()));
    }

    #[test]
    fn a_silent_device_times_out_and_a_missing_one_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = fifo(dir.path());
        let t = Timeouts {
            connect: Duration::from_secs(1),
            command: Duration::from_millis(200),
        };
        let mut d = DeviceTransport::open(Some(&p), t).unwrap();
        // A command whose echo is a valid 10-octet response returns at
        // once...
        let short = [0x80, 0x01, 0, 0, 0, 10, 0, 0, 1, 0x7b];
        assert_eq!(d.transmit(0, &short).unwrap(), short);
        // ...and with nothing to read the wait ends at the deadline.
        let started = Instant::now();
        let e = d.wait_readable(Instant::now() + Duration::from_millis(150));
        assert!(matches!(e, Err(TransportError::Timeout { .. })), "{e:?}");
        assert!(started.elapsed() >= Duration::from_millis(140));
        // A response whose header promises more than arrives times out
        // (the injected header claims 40 octets; 22 arrive)...
        let mut inject = OpenOptions::new().write(true).open(&p).unwrap();
        inject
            .write_all(&[0x80, 0x01, 0, 0, 0, 40, 0, 0, 0, 0])
            .unwrap();
        let e = d.transmit(0, &GET_RANDOM).unwrap_err();
        assert!(matches!(e, TransportError::Timeout { .. }), "{e:?}");
        // ...and a late answer queued afterwards is discarded before the
        // next command, which then gets its own response.
        inject
            .write_all(&[0x80, 0x01, 0, 0, 0, 10, 0, 0, 0, 0])
            .unwrap();
        assert_eq!(d.transmit(0, &GET_RANDOM).unwrap(), GET_RANDOM);
        let missing = dir.path().join("nope");
        let e = DeviceTransport::open(Some(&missing), t).unwrap_err();
        assert!(e.to_string().contains("nope"), "{e}");
    }
}
