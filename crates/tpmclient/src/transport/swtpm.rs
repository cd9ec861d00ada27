//! swtpm's socket interface, as tpm2-tss's `tcti-swtpm`: raw TPM commands
//! on the data channel, and the control channel (data port + 1, or the
//! data socket path + `.ctrl`) for the locality.
//!
//! tcti-swtpm opens a new data connection for every command; this
//! transport keeps one open (swtpm and `trustcloud tpm serve` both serve
//! many commands per connection) and re-opens it only when the peer has
//! closed it before a command is sent — never after, because the command
//! may already have run — or after a command failed half-way. swtpm serves
//! one data connection at a time, so a shared swtpm wants
//! [`SwtpmTransport::set_connection_per_command`]. Control commands use a fresh connection each, as
//! in tcti-swtpm: `u32 code || payload`, answered by a u32 result (0 = OK).
//! As tcti-swtpm's init does, connecting sets locality 0.

use std::path::PathBuf;
use std::time::Instant;

use super::io::{self, Ctx, Stream};
use super::{check_command, response_size, Timeouts, Transport, TransportError, HEADER_SIZE};

/// swtpm control channel command codes (swtpm's tpm_ioctl.h).
pub mod ctrl {
    pub const CMD_GET_CAPABILITY: u32 = 0x01;
    pub const CMD_INIT: u32 = 0x02;
    pub const CMD_SHUTDOWN: u32 = 0x03;
    pub const CMD_SET_LOCALITY: u32 = 0x05;
    pub const CMD_STOP: u32 = 0x0e;
    /// PTM_INIT_FLAG_DELETE_VOLATILE: CMD_INIT discards saved volatile
    /// state.
    pub const INIT_FLAG_DELETE_VOLATILE: u32 = 1;
}

/// Where swtpm listens.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum SwtpmEndpoint {
    /// Data port `port`, control port `port + 1`.
    Tcp { host: String, port: u16 },
    /// Data socket `path`, control socket `path.ctrl`.
    Unix { path: PathBuf },
}

impl std::fmt::Display for SwtpmEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SwtpmEndpoint::Tcp { host, port } => write!(f, "swtpm:host={host},port={port}"),
            SwtpmEndpoint::Unix { path } => write!(f, "swtpm:path={}", path.display()),
        }
    }
}

/// A connection to swtpm's data channel.
pub struct SwtpmTransport {
    endpoint: SwtpmEndpoint,
    /// The kept-open data connection; `None` between commands in
    /// connection-per-command mode.
    data: Option<Box<dyn Stream>>,
    /// Open a new data connection for every command, as tcti-swtpm does.
    per_command: bool,
    locality: u8,
    timeouts: Timeouts,
    /// A command failed half-way: a late response could still arrive on
    /// this connection and be taken for the next command's, so the next
    /// command gets a fresh connection.
    desynced: bool,
}

impl SwtpmTransport {
    /// Connects the data channel and sets locality 0 on the control
    /// channel.
    pub fn connect(endpoint: SwtpmEndpoint, timeouts: Timeouts) -> Result<Self, TransportError> {
        let data = open_data(&endpoint, timeouts)?;
        let mut t = SwtpmTransport {
            endpoint,
            data: Some(data),
            per_command: false,
            locality: 0,
            timeouts,
            desynced: false,
        };
        t.set_locality(0)?;
        tracing::debug!(endpoint = %t.endpoint, "connected to swtpm");
        Ok(t)
    }

    /// Sets the locality of the following commands (CMD_SET_LOCALITY).
    pub fn set_locality(&mut self, locality: u8) -> Result<(), TransportError> {
        self.control(ctrl::CMD_SET_LOCALITY, &[locality])?;
        self.locality = locality;
        Ok(())
    }

    /// CMD_INIT: _TPM_Init for a swtpm started without `not-need-init`
    /// (or after CMD_STOP); `delete_volatile` drops saved volatile state.
    pub fn init(&mut self, delete_volatile: bool) -> Result<(), TransportError> {
        let flags = if delete_volatile {
            ctrl::INIT_FLAG_DELETE_VOLATILE
        } else {
            0
        };
        self.control(ctrl::CMD_INIT, &flags.to_be_bytes())
    }

    /// Sends one control command on a fresh control connection and
    /// requires a zero result. Only commands whose response is the bare
    /// u32 result (INIT, SET_LOCALITY, SHUTDOWN, STOP) fit this helper.
    pub fn control(&mut self, code: u32, payload: &[u8]) -> Result<(), TransportError> {
        let name = self.endpoint.to_string();
        let mut s = open_control(&self.endpoint, self.timeouts)?;
        let budget = self.timeouts.command;
        let cx = Ctx {
            endpoint: &name,
            during: "sending a control command",
            deadline: Instant::now() + budget,
            budget,
        };
        let mut msg = code.to_be_bytes().to_vec();
        msg.extend_from_slice(payload);
        io::write_all(s.as_mut(), &msg, cx)?;
        let result = io::read_u32(s.as_mut(), cx.during("reading a control result"))?;
        if result != 0 {
            return Err(TransportError::Protocol {
                endpoint: name,
                detail: format!("control command {code:#x} failed with result {result:#x}"),
            });
        }
        Ok(())
    }
}

fn open_data(
    endpoint: &SwtpmEndpoint,
    timeouts: Timeouts,
) -> Result<Box<dyn Stream>, TransportError> {
    let r: std::io::Result<Box<dyn Stream>> = match endpoint {
        SwtpmEndpoint::Tcp { host, port } => {
            io::connect_tcp(host, *port, timeouts.connect).map(|s| Box::new(s) as Box<dyn Stream>)
        }
        SwtpmEndpoint::Unix { path } => {
            io::connect_unix(path).map(|s| Box::new(s) as Box<dyn Stream>)
        }
    };
    r.map_err(|e| TransportError::Connect {
        endpoint: endpoint.to_string(),
        source: e,
    })
}

fn open_control(
    endpoint: &SwtpmEndpoint,
    timeouts: Timeouts,
) -> Result<Box<dyn Stream>, TransportError> {
    let (name, r): (String, std::io::Result<Box<dyn Stream>>) = match endpoint {
        SwtpmEndpoint::Tcp { host, port } => {
            let Some(p) = port.checked_add(1) else {
                return Err(TransportError::Connect {
                    endpoint: endpoint.to_string(),
                    source: std::io::Error::new(
                        std::io::ErrorKind::InvalidInput,
                        "port 65535 leaves no room for the control port",
                    ),
                });
            };
            (
                format!("{host}:{p} (control)"),
                io::connect_tcp(host, p, timeouts.connect).map(|s| Box::new(s) as Box<dyn Stream>),
            )
        }
        SwtpmEndpoint::Unix { path } => {
            let mut p = path.clone().into_os_string();
            p.push(".ctrl");
            let p = PathBuf::from(p);
            (
                format!("{} (control)", p.display()),
                io::connect_unix(&p).map(|s| Box::new(s) as Box<dyn Stream>),
            )
        }
    };
    r.map_err(|e| TransportError::Connect {
        endpoint: name,
        source: e,
    })
}

impl Transport for SwtpmTransport {
    fn transmit(&mut self, locality: u8, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        check_command(command)?;
        if locality != self.locality {
            self.set_locality(locality)?;
        }
        let usable = match &self.data {
            Some(d) => !self.desynced && !io::peer_gone(d.as_raw_fd()),
            None => false,
        };
        let mut data = match self.data.take() {
            Some(d) if usable => d,
            _ => open_data(&self.endpoint, self.timeouts)?,
        };
        let r = self.exchange(data.as_mut(), command);
        self.desynced = r.is_err();
        if !self.per_command && !self.desynced {
            self.data = Some(data);
        }
        r
    }

    fn endpoint(&self) -> String {
        self.endpoint.to_string()
    }
}

impl SwtpmTransport {
    /// Opens a new data connection for every command and closes it after
    /// the response, as tcti-swtpm does. swtpm serves one data connection
    /// at a time, so a client that keeps its connection open blocks every
    /// other client (tpm2-tools included) until it disconnects; use this
    /// when the swtpm is shared.
    pub fn set_connection_per_command(&mut self, on: bool) {
        self.per_command = on;
        if on {
            self.data = None;
        }
    }

    /// One command and its response on the data connection.
    fn exchange(&self, data: &mut dyn Stream, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        let name = self.endpoint.to_string();
        let budget = self.timeouts.command;
        let cx = Ctx {
            endpoint: &name,
            during: "sending the command",
            deadline: Instant::now() + budget,
            budget,
        };
        io::write_all(data, command, cx)?;
        let mut header = [0u8; HEADER_SIZE];
        io::read_exact(data, &mut header, cx.during("reading the response"))?;
        let size = response_size(&name, &header)?;
        let mut resp = header.to_vec();
        resp.resize(size, 0);
        if let Some(rest) = resp.get_mut(HEADER_SIZE..) {
            io::read_exact(data, rest, cx.during("reading the response"))?;
        }
        Ok(resp)
    }
}

impl std::fmt::Debug for SwtpmTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SwtpmTransport({})", self.endpoint)
    }
}
