//! The TCG (Microsoft) TPM 2.0 simulator protocol, as the reference
//! simulator's TcpServer.c / TPMCmdp.c serve it and tpm2-tss tcti-mssim
//! speaks it.
//!
//! Two ports. The command port (PORT) takes a big-endian u32 code, then:
//! TPM_SEND_COMMAND `{u8 locality, u32 size, command}` answered
//! `{u32 size, response}`; every command is acknowledged with a u32 0.
//! The platform port (PORT+1) takes u32 signals, each acknowledged with a
//! u32 0. tcti-mssim sends POWER_ON and NV_ON on the platform port when it
//! starts, then only TPM_SEND_COMMAND; at the end it just closes both
//! sockets (its SESSION_END is never sent). An unknown code ends the
//! connection (the platform port first answers u32 1), as in TcpServer.c.

use std::io::{BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use crate::net::{self, lock, read_part, ReadOutcome, SharedInstance, StopReason, StopSender};

/// Codes of TpmTcpProtocol.h.
pub mod code {
    pub const SIGNAL_POWER_ON: u32 = 1;
    pub const SIGNAL_POWER_OFF: u32 = 2;
    pub const SIGNAL_PHYS_PRES_ON: u32 = 3;
    pub const SIGNAL_PHYS_PRES_OFF: u32 = 4;
    pub const SIGNAL_HASH_START: u32 = 5;
    pub const SIGNAL_HASH_DATA: u32 = 6;
    pub const SIGNAL_HASH_END: u32 = 7;
    pub const SEND_COMMAND: u32 = 8;
    pub const SIGNAL_CANCEL_ON: u32 = 9;
    pub const SIGNAL_CANCEL_OFF: u32 = 10;
    pub const SIGNAL_NV_ON: u32 = 11;
    pub const SIGNAL_NV_OFF: u32 = 12;
    pub const SIGNAL_KEY_CACHE_ON: u32 = 13;
    pub const SIGNAL_KEY_CACHE_OFF: u32 = 14;
    pub const REMOTE_HANDSHAKE: u32 = 15;
    pub const SET_ALTERNATIVE_RESULT: u32 = 16;
    pub const SIGNAL_RESET: u32 = 17;
    pub const SIGNAL_RESTART: u32 = 18;
    pub const SESSION_END: u32 = 20;
    pub const STOP: u32 = 21;
    pub const GET_COMMAND_RESPONSE_SIZES: u32 = 25;
    pub const TEST_FAILURE_MODE: u32 = 30;
}

/// REMOTE_HANDSHAKE answer: server version 1 and the TpmEndPointInfo
/// flags tpmPlatformAvailable | tpmInRawMode | tpmSupportsPP.
const SERVER_VERSION: u32 = 1;
const ENDPOINT_INFO: u32 = 0x01 | 0x04 | 0x08;

/// The largest command and response seen since the last
/// GET_COMMAND_RESPONSE_SIZES (TcpServer.c CommandResponseSizes).
#[derive(Default)]
struct Sizes {
    command_size: u32,
    command: [u8; 4],
    response_size: u32,
    response: [u8; 4],
}

/// Bytes 6..10 of a command or response: its command or response code.
fn code_bytes(msg: &[u8]) -> [u8; 4] {
    let mut c = [0u8; 4];
    if let Some(s) = msg.get(6..10) {
        c.copy_from_slice(s);
    }
    c
}

impl Sizes {
    fn record(&mut self, command: &[u8], response: &[u8]) {
        if command.len() as u32 > self.command_size {
            self.command_size = command.len() as u32;
            self.command = code_bytes(command);
        }
        if response.len() as u32 > self.response_size {
            self.response_size = response.len() as u32;
            self.response = code_bytes(response);
        }
    }

    /// The struct as the simulator writes it: raw memory, so the sizes are
    /// in host byte order and the codes in wire order.
    fn take_bytes(&mut self) -> Vec<u8> {
        let s = std::mem::take(self);
        let mut v = Vec::with_capacity(16);
        v.extend_from_slice(&s.command_size.to_ne_bytes());
        v.extend_from_slice(&s.command);
        v.extend_from_slice(&s.response_size.to_ne_bytes());
        v.extend_from_slice(&s.response);
        v
    }
}

struct Server {
    instance: SharedInstance,
    stop: StopSender,
    sizes: Mutex<Sizes>,
}

/// Serves `instance` on the command and platform listeners, each
/// connection on its own thread. Returns once both accept loops run.
pub fn serve(
    command: TcpListener,
    platform: TcpListener,
    instance: SharedInstance,
    stop: StopSender,
) -> std::io::Result<()> {
    let server = Arc::new(Server {
        instance,
        stop,
        sizes: Mutex::new(Sizes::default()),
    });
    let s = Arc::clone(&server);
    net::spawn_listener("mssim-command", command, move |stream| {
        command_conn(&s, stream)
    })?;
    net::spawn_listener("mssim-platform", platform, move |stream| {
        platform_conn(&server, stream)
    })?;
    Ok(())
}

/// One instance's mssim connections, for a host that runs its own accept
/// loops (vtpmd, which must close an instance's ports when it is deleted);
/// [`serve`] is the same with accept threads that run for the process's
/// life. Clones share the instance and the command/response size record.
#[derive(Clone)]
pub struct Handler(Arc<Server>);

impl Handler {
    pub fn new(instance: SharedInstance, stop: StopSender) -> Handler {
        Handler(Arc::new(Server {
            instance,
            stop,
            sizes: Mutex::new(Sizes::default()),
        }))
    }

    /// Serves one accepted command-port connection until it ends.
    pub fn command_connection(&self, stream: TcpStream) {
        command_conn(&self.0, stream)
    }

    /// Serves one accepted platform-port connection until it ends.
    pub fn platform_connection(&self, stream: TcpStream) {
        platform_conn(&self.0, stream)
    }
}

fn read_u32(stream: &mut impl Read, frame_start: bool) -> Result<u32, ReadOutcome> {
    let mut b = [0u8; 4];
    match read_part(stream, &mut b, frame_start) {
        ReadOutcome::Full => Ok(u32::from_be_bytes(b)),
        other => Err(other),
    }
}

/// Reads a `{u32 size, bytes}` array, at most [`net::MAX_FRAME`] long.
fn read_var(stream: &mut impl Read) -> Option<Vec<u8>> {
    let len = read_u32(stream, false).ok()? as usize;
    if len > net::MAX_FRAME {
        tracing::warn!(len, "mssim: length prefix over the 1 MiB buffer: closing");
        return None;
    }
    let mut buf = vec![0u8; len];
    (read_part(stream, &mut buf, false) == ReadOutcome::Full).then_some(buf)
}

fn send(stream: &mut TcpStream, bytes: &[u8]) -> bool {
    stream.write_all(bytes).is_ok()
}

fn command_conn(server: &Server, stream: TcpStream) {
    // Frames are read through a buffer so a whole command usually costs one
    // read system call; responses go out in one write.
    let mut writer = &stream;
    let mut stream = BufReader::with_capacity(net::READ_BUFFER, &stream);
    loop {
        let Ok(code) = read_u32(&mut stream, true) else {
            return;
        };
        let mut out = Vec::new();
        match code {
            code::SEND_COMMAND => {
                let mut loc = [0u8; 1];
                if read_part(&mut stream, &mut loc, false) != ReadOutcome::Full {
                    return;
                }
                let Some(command) = read_var(&mut stream) else {
                    return;
                };
                let response = {
                    let mut inst = lock(&server.instance);
                    // A TPM without power answers nothing (_rpc__Send_Command).
                    if inst.is_powered() {
                        inst.execute(loc[0], &command)
                    } else {
                        Vec::new()
                    }
                };
                if let Ok(mut sizes) = server.sizes.lock() {
                    sizes.record(&command, &response);
                }
                out.reserve(response.len() + 8);
                out.extend_from_slice(&(response.len() as u32).to_be_bytes());
                out.extend_from_slice(&response);
            }
            code::SIGNAL_HASH_START | code::SIGNAL_HASH_END => {
                tracing::debug!(
                    code,
                    "mssim: _TPM_Hash_* is not implemented by the engine; acknowledged"
                );
            }
            code::SIGNAL_HASH_DATA => {
                if read_var(&mut stream).is_none() {
                    return;
                }
                tracing::debug!(
                    "mssim: _TPM_Hash_Data is not implemented by the engine; acknowledged"
                );
            }
            code::REMOTE_HANDSHAKE => {
                match read_u32(&mut stream, false) {
                    Ok(0) => {
                        tracing::warn!("mssim: unsupported client version 0: closing");
                        return;
                    }
                    Ok(_) => {}
                    Err(_) => return,
                }
                out.extend_from_slice(&SERVER_VERSION.to_be_bytes());
                out.extend_from_slice(&ENDPOINT_INFO.to_be_bytes());
            }
            code::SET_ALTERNATIVE_RESULT => {
                if read_u32(&mut stream, false).is_err() {
                    return;
                }
            }
            code::SESSION_END => return,
            code::STOP => {
                tracing::info!("mssim: TPM_STOP received on the command port");
                let _ = server.stop.send(StopReason::ClientStop);
                return;
            }
            other => {
                tracing::warn!(code = other, "mssim: unknown command-port code: closing");
                return;
            }
        }
        out.extend_from_slice(&0u32.to_be_bytes());
        if writer.write_all(&out).is_err() {
            return;
        }
    }
}

fn platform_conn(server: &Server, mut stream: TcpStream) {
    loop {
        let Ok(signal) = read_u32(&mut stream, true) else {
            return;
        };
        let mut out = Vec::new();
        match signal {
            code::SIGNAL_POWER_ON => lock(&server.instance).power_on(),
            code::SIGNAL_POWER_OFF => lock(&server.instance).power_off(),
            code::SIGNAL_RESET => lock(&server.instance).reset(),
            code::SIGNAL_RESTART
            | code::SIGNAL_PHYS_PRES_ON
            | code::SIGNAL_PHYS_PRES_OFF
            | code::SIGNAL_CANCEL_ON
            | code::SIGNAL_CANCEL_OFF
            | code::SIGNAL_NV_ON
            | code::SIGNAL_NV_OFF
            | code::SIGNAL_KEY_CACHE_ON
            | code::SIGNAL_KEY_CACHE_OFF
            | code::TEST_FAILURE_MODE => {
                // Commands run synchronously (nothing to cancel), the state
                // store is always available, and no command here depends on
                // physical presence: these signals change nothing.
                tracing::debug!(signal, "mssim: platform signal acknowledged");
            }
            code::GET_COMMAND_RESPONSE_SIZES => {
                let bytes = server
                    .sizes
                    .lock()
                    .map(|mut s| s.take_bytes())
                    .unwrap_or_else(|_| vec![0; 16]);
                out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
                out.extend_from_slice(&bytes);
            }
            code::SESSION_END => return,
            code::STOP => {
                tracing::info!("mssim: TPM_STOP received on the platform port");
                let _ = server.stop.send(StopReason::ClientStop);
                return;
            }
            other => {
                tracing::warn!(signal = other, "mssim: unknown platform signal: closing");
                let _ = send(&mut stream, &1u32.to_be_bytes());
                return;
            }
        }
        out.extend_from_slice(&0u32.to_be_bytes());
        if !send(&mut stream, &out) {
            return;
        }
    }
}
