//! The TCG/Microsoft simulator protocol, as tpm2-tss's `tcti-mssim`.
//!
//! Two TCP connections: the command port carries
//! `TPM_SEND_COMMAND (u32 8) || locality (u8) || size (u32) || command` and
//! answers `size (u32) || response || 0 (u32)`; the platform port (command
//! port + 1) takes u32 signals, each acknowledged with a u32 0. On connect
//! the platform gets POWER_ON then NV_ON, as tcti-mssim's simulator_setup
//! does (harmless when the simulator is already on); on drop both
//! connections get TPM_SESSION_END. Codes from the reference simulator's
//! TpmTcpProtocol.h.

use std::net::TcpStream;
use std::time::{Duration, Instant};

use super::io::{self, Ctx};
use super::{check_command, Timeouts, Transport, TransportError, MAX_RESPONSE_SIZE};

/// Platform signals and command-port codes (TpmTcpProtocol.h).
pub mod code {
    pub const SIGNAL_POWER_ON: u32 = 1;
    pub const SIGNAL_POWER_OFF: u32 = 2;
    pub const SEND_COMMAND: u32 = 8;
    pub const SIGNAL_NV_ON: u32 = 11;
    pub const SIGNAL_NV_OFF: u32 = 12;
    pub const SESSION_END: u32 = 20;
}

/// A connection to a simulator's command and platform ports.
pub struct MssimTransport {
    command: TcpStream,
    platform: TcpStream,
    host: String,
    port: u16,
    timeouts: Timeouts,
    /// A command failed half-way; the next one re-opens the command port
    /// so a late response cannot be taken for its answer.
    desynced: bool,
}

impl MssimTransport {
    /// Connects to the command port `port` and platform port `port + 1` on
    /// `host` and powers the simulator on.
    pub fn connect(host: &str, port: u16, timeouts: Timeouts) -> Result<Self, TransportError> {
        let endpoint = format!("mssim:host={host},port={port}");
        let platform_port = port.checked_add(1).ok_or_else(|| TransportError::Connect {
            endpoint: endpoint.clone(),
            source: std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "port 65535 leaves no room for the platform port",
            ),
        })?;
        let connect = |p: u16| {
            io::connect_tcp(host, p, timeouts.connect).map_err(|e| TransportError::Connect {
                endpoint: format!("{host}:{p}"),
                source: e,
            })
        };
        let command = connect(port)?;
        let platform = connect(platform_port)?;
        let mut t = MssimTransport {
            command,
            platform,
            host: host.to_string(),
            port,
            timeouts,
            desynced: false,
        };
        t.platform_signal(code::SIGNAL_POWER_ON)?;
        t.platform_signal(code::SIGNAL_NV_ON)?;
        tracing::debug!(%endpoint, "connected to TPM simulator");
        Ok(t)
    }

    /// Sends one platform signal (e.g. [`code::SIGNAL_POWER_ON`]) and
    /// requires the simulator's zero acknowledgement.
    pub fn platform_signal(&mut self, signal: u32) -> Result<(), TransportError> {
        let endpoint = self.endpoint();
        let cx = ctx(
            &endpoint,
            "sending a platform signal",
            self.timeouts.connect,
        );
        io::write_all(&mut self.platform, &signal.to_be_bytes(), cx)?;
        let ack = io::read_u32(&mut self.platform, cx.during("reading a platform ack"))?;
        if ack != 0 {
            return Err(TransportError::Protocol {
                endpoint,
                detail: format!("platform signal {signal} answered {ack}"),
            });
        }
        Ok(())
    }
}

fn ctx<'a>(endpoint: &'a str, during: &'static str, budget: Duration) -> Ctx<'a> {
    Ctx {
        endpoint,
        during,
        deadline: Instant::now() + budget,
        budget,
    }
}

impl Transport for MssimTransport {
    fn transmit(&mut self, locality: u8, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        check_command(command)?;
        if self.desynced {
            self.command =
                io::connect_tcp(&self.host, self.port, self.timeouts.connect).map_err(|e| {
                    TransportError::Connect {
                        endpoint: self.endpoint(),
                        source: e,
                    }
                })?;
            self.desynced = false;
        }
        let r = self.exchange(locality, command);
        self.desynced = r.is_err();
        r
    }

    fn endpoint(&self) -> String {
        format!("mssim:host={},port={}", self.host, self.port)
    }
}

impl MssimTransport {
    /// One TPM_SEND_COMMAND exchange on the command port.
    fn exchange(&mut self, locality: u8, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        let endpoint = self.endpoint();
        let cx = ctx(&endpoint, "sending the command", self.timeouts.command);
        let mut msg = Vec::with_capacity(command.len() + 9);
        msg.extend_from_slice(&code::SEND_COMMAND.to_be_bytes());
        msg.push(locality);
        msg.extend_from_slice(&(command.len() as u32).to_be_bytes());
        msg.extend_from_slice(command);
        io::write_all(&mut self.command, &msg, cx)?;
        let len = io::read_u32(&mut self.command, cx.during("reading the response size"))? as usize;
        if len > MAX_RESPONSE_SIZE {
            return Err(TransportError::Protocol {
                endpoint,
                detail: format!("response size {len} out of range"),
            });
        }
        let mut resp = vec![0u8; len];
        io::read_exact(
            &mut self.command,
            &mut resp,
            cx.during("reading the response"),
        )?;
        // The trailing u32 is 0 from every simulator; tcti-mssim discards it.
        io::read_u32(&mut self.command, cx.during("reading the acknowledgement"))?;
        Ok(resp)
    }
}

impl Drop for MssimTransport {
    fn drop(&mut self) {
        let endpoint = self.endpoint();
        let end = code::SESSION_END.to_be_bytes();
        for s in [&mut self.platform, &mut self.command] {
            let cx = ctx(&endpoint, "ending the session", Duration::from_millis(200));
            let _ = io::write_all(s, &end, cx);
        }
    }
}

impl std::fmt::Debug for MssimTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MssimTransport({})", self.endpoint())
    }
}
