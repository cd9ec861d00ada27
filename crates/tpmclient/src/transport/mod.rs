//! Moving command bytes to a TPM and response bytes back.
//!
//! A [`Transport`] knows nothing of TPM commands beyond the 10-byte header
//! it needs to frame a response; everything else is the client's job. The
//! implementations follow the tpm2-tss TCTI modules of the same names, so a
//! TCTI string that works for tpm2-tools works here:
//!
//! * [`DeviceTransport`]: the Linux character device (`/dev/tpmrm0`), one
//!   write per command and reads until the response is complete;
//! * [`MssimTransport`]: the TCG simulator protocol (command port + platform
//!   port), as `tcti-mssim`;
//! * [`SwtpmTransport`]: swtpm's data channel (raw commands) and control
//!   channel (locality), as `tcti-swtpm`, but over one kept-open data
//!   connection;
//! * [`EngineTransport`]: this project's engine in the same process.
//!
//! Every wait is bounded by [`Timeouts`]: a hung or hostile peer yields
//! [`TransportError::Timeout`], never a hang, and a response larger than
//! [`MAX_RESPONSE_SIZE`] is refused before it is buffered.

pub mod device;
mod engine;
pub(crate) mod io;
pub mod mssim;
pub mod swtpm;

use std::time::Duration;

pub use device::DeviceTransport;
pub use engine::EngineTransport;
pub use mssim::MssimTransport;
pub use swtpm::{SwtpmEndpoint, SwtpmTransport};

/// The largest response a transport accepts. TPMs answer with at most
/// TPM_PT_MAX_RESPONSE_SIZE octets (4 KiB on every TPM seen so far); the
/// margin only guards against a hostile size field.
pub const MAX_RESPONSE_SIZE: usize = 64 * 1024;

/// The size of a TPM command/response header: tag, size, code (Part 1
/// §18.2).
pub const HEADER_SIZE: usize = 10;

/// How long a transport may wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// Establishing a connection (TCP connect, opening a device).
    pub connect: Duration,
    /// One command, from the first byte sent to the last byte received. A
    /// hardware TPM generating an RSA key can take tens of seconds.
    pub command: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(10),
            command: Duration::from_secs(120),
        }
    }
}

/// A channel to one TPM.
pub trait Transport: Send {
    /// Sends one complete command at `locality` and returns the complete
    /// response (header included). The command's header size field must
    /// equal `command.len()`.
    fn transmit(&mut self, locality: u8, command: &[u8]) -> Result<Vec<u8>, TransportError>;

    /// A short description of the endpoint for messages and logs.
    fn endpoint(&self) -> String;
}

impl<T: Transport + ?Sized> Transport for Box<T> {
    fn transmit(&mut self, locality: u8, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        (**self).transmit(locality, command)
    }
    fn endpoint(&self) -> String {
        (**self).endpoint()
    }
}

/// Why bytes did not make it to the TPM or back.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// Connecting to (or opening) the endpoint failed.
    #[error("cannot connect to {endpoint}: {source}")]
    Connect {
        endpoint: String,
        source: std::io::Error,
    },
    /// A read or write failed.
    #[error("I/O error with {endpoint} while {during}: {source}")]
    Io {
        endpoint: String,
        during: &'static str,
        source: std::io::Error,
    },
    /// The peer did not answer in time.
    #[error("{endpoint} did not answer within {timeout:?} while {during}")]
    Timeout {
        endpoint: String,
        during: &'static str,
        timeout: Duration,
    },
    /// The peer closed the connection.
    #[error("{endpoint} closed the connection while {during}")]
    Closed {
        endpoint: String,
        during: &'static str,
    },
    /// The peer broke the framing protocol (bad size field, nonzero
    /// acknowledgement, failed control command, ...).
    #[error("protocol error from {endpoint}: {detail}")]
    Protocol { endpoint: String, detail: String },
    /// The transport cannot send commands at this locality.
    #[error("{endpoint} cannot send commands at locality {locality}")]
    Locality { endpoint: String, locality: u8 },
    /// The command handed to the transport is not a framed TPM command.
    #[error("malformed command: {0}")]
    BadCommand(String),
}

/// Checks the header of a command before it is sent: at least
/// [`HEADER_SIZE`] octets and a size field equal to the length (as
/// tcti_common_transmit_checks does).
pub(crate) fn check_command(command: &[u8]) -> Result<(), TransportError> {
    let size = header_size(command)
        .ok_or_else(|| TransportError::BadCommand(format!("{} octets", command.len())))?;
    if size != command.len() {
        return Err(TransportError::BadCommand(format!(
            "header says {size} octets, buffer has {}",
            command.len()
        )));
    }
    Ok(())
}

/// The size field of a command or response header, if there is a header.
pub(crate) fn header_size(buf: &[u8]) -> Option<usize> {
    let b: [u8; 4] = buf.get(2..6)?.try_into().ok()?;
    if buf.len() < HEADER_SIZE {
        return None;
    }
    Some(u32::from_be_bytes(b) as usize)
}

/// Validates a response header's size field: at least a header, at most
/// [`MAX_RESPONSE_SIZE`].
pub(crate) fn response_size(endpoint: &str, header: &[u8]) -> Result<usize, TransportError> {
    let size = header_size(header).ok_or_else(|| TransportError::Protocol {
        endpoint: endpoint.to_string(),
        detail: "short response header".into(),
    })?;
    if !(HEADER_SIZE..=MAX_RESPONSE_SIZE).contains(&size) {
        return Err(TransportError::Protocol {
            endpoint: endpoint.to_string(),
            detail: format!("response size field {size} out of range"),
        });
    }
    Ok(size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_header_checks() {
        let ok = [0x80, 0x01, 0, 0, 0, 12, 0, 0, 1, 0x7b, 0, 8];
        assert!(check_command(&ok).is_ok());
        assert!(check_command(&ok[..11]).is_err());
        assert!(check_command(&ok[..5]).is_err());
        let resp = [0x80, 0x01, 0, 0, 0, 10, 0, 0, 0, 0];
        assert_eq!(response_size("t", &resp).unwrap(), 10);
        let huge = [0x80, 0x01, 0x7f, 0, 0, 0, 0, 0, 0, 0];
        assert!(matches!(
            response_size("t", &huge),
            Err(TransportError::Protocol { .. })
        ));
        let tiny = [0x80, 0x01, 0, 0, 0, 9, 0, 0, 0, 0];
        assert!(response_size("t", &tiny).is_err());
    }
}
