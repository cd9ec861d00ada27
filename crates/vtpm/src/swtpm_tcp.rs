//! swtpm's TCP mode: a data port (PORT) carrying TPM commands and a
//! control port (PORT+1) speaking the swtpm control protocol ([`ctrl`]).
//!
//! Data port (swtpm mainloop.c, tpmlib.c): a frame whose tag is
//! TPM_ST_NO_SESSIONS/TPM_ST_SESSIONS is a raw TPM 2.0 command answered
//! with the raw response. Otherwise, if it starts with the u32
//! TPM_SEND_COMMAND (8), it carries the simulator's prefix
//! `{u32 8, u8 locality, u32 size}`; the locality becomes the current one,
//! and the response is framed `{u32 size, response, u32 0}`. Anything else
//! is handed to the TPM as is (which answers TPM_RC_BAD_TAG) and the
//! connection is closed, since its framing is unknown. A command cut short
//! by EOF or a stall is handed to the TPM as far as it arrived (as swtpm,
//! which passes the TPM whatever one read returned): the answer is
//! TPM_RC_COMMAND_SIZE, then the connection is closed. Connections are
//! kept open across commands; tpm2-tss tcti-swtpm opens one per command
//! (and, at start, one it closes at once) and sets the locality with
//! CMD_SET_LOCALITY on a fresh control connection. It never sends
//! CMD_INIT, so the TPM here starts powered, like swtpm with
//! `--flags not-need-init`.

use std::io::{self, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tpm::Rc;

use crate::ctrl;
use crate::instance::error_response;
use crate::net::{
    self, be32, lock, read_counted, read_part, ReadOutcome, SharedInstance, StopReason, StopSender,
};

/// The simulator's TPM_SEND_COMMAND code, used as a prefix on the data port.
const SEND_COMMAND: u32 = 8;
/// The first read of a control message takes up to this many bytes and
/// the rest of the message must follow within the 500 ms deadline (swtpm
/// `struct input`: the code plus the largest request, ptm_hdata).
const CTRL_FIRST_READ: usize = 4 + 4 + 4096;

struct Server {
    instance: SharedInstance,
    stop: StopSender,
}

/// Serves `instance` on the data and control listeners.
pub fn serve(
    data: TcpListener,
    control: TcpListener,
    instance: SharedInstance,
    stop: StopSender,
) -> io::Result<()> {
    let server = Arc::new(Server { instance, stop });
    let s = Arc::clone(&server);
    net::spawn_listener("swtpm-data", data, move |stream| data_conn(&s, stream))?;
    net::spawn_listener("swtpm-control", control, move |stream| {
        control_conn(&server, stream)
    })?;
    Ok(())
}

/// One instance's swtpm TCP connections, for a host that runs its own
/// accept loops (vtpmd, which must close an instance's ports when it is
/// deleted); [`serve`] is the same with accept threads that run for the
/// process's life.
#[derive(Clone)]
pub struct Handler(Arc<Server>);

impl Handler {
    pub fn new(instance: SharedInstance, stop: StopSender) -> Handler {
        Handler(Arc::new(Server { instance, stop }))
    }

    /// Serves one accepted data-port connection until it ends.
    pub fn data_connection(&self, stream: TcpStream) {
        data_conn(&self.0, stream)
    }

    /// Serves one accepted control-port connection until it ends.
    pub fn control_connection(&self, stream: TcpStream) {
        control_conn(&self.0, stream)
    }
}

/// Runs one command. A stopped TPM gets swtpm's fatal-error response
/// (tpmlib_write_fatal_error_response: TPM_RC_FAILURE).
fn run(server: &Server, prefix_locality: Option<u8>, command: &[u8]) -> Vec<u8> {
    let mut inst = lock(&server.instance);
    if let Some(l) = prefix_locality {
        inst.set_locality(l);
    }
    if !inst.is_powered() {
        return error_response(Rc::FAILURE);
    }
    let locality = inst.locality();
    inst.execute(locality, command)
}

/// Reads a command body of `size` bytes. A body cut short (EOF or
/// stall) is returned with what arrived and `false`: swtpm hands the TPM
/// whatever it read, and the TPM answers TPM_RC_COMMAND_SIZE.
fn read_body(stream: &mut impl Read, size: usize) -> (Vec<u8>, bool) {
    let mut body = vec![0u8; size];
    let (got, outcome) = read_counted(stream, &mut body, false);
    body.truncate(got);
    (body, outcome == ReadOutcome::Full)
}

fn data_conn(server: &Server, stream: TcpStream) {
    // Frames are read through a buffer so a whole command usually costs one
    // read system call; every answer goes out in one write.
    let mut writer = &stream;
    let mut stream = BufReader::with_capacity(net::READ_BUFFER, &stream);
    loop {
        // 9 bytes: the whole simulator prefix, and never more than a raw
        // command (at least 10 bytes) holds.
        let mut head = [0u8; 9];
        if read_part(&mut stream, &mut head, true) != ReadOutcome::Full {
            return;
        }
        let tag = u16::from_be_bytes([head[0], head[1]]);
        let raw = tag == 0x8001 || tag == 0x8002;
        let out = if !raw && be32(&head, 0) == Some(SEND_COMMAND) {
            let size = be32(&head, 5).unwrap_or(0) as usize;
            if size > net::MAX_FRAME {
                tracing::warn!(size, "swtpm data: prefixed command over 1 MiB: closing");
                return;
            }
            let (command, whole) = read_body(&mut stream, size);
            let response = run(server, Some(head[4]), &command);
            let mut out = Vec::with_capacity(response.len() + 8);
            out.extend_from_slice(&(response.len() as u32).to_be_bytes());
            out.extend_from_slice(&response);
            out.extend_from_slice(&0u32.to_be_bytes());
            if !whole {
                let _ = writer.write_all(&out);
                return;
            }
            out
        } else {
            let mut command = head.to_vec();
            let size = be32(&command, 2).unwrap_or(0) as usize;
            if raw && (10..=net::MAX_FRAME).contains(&size) {
                let (rest, whole) = read_body(&mut stream, size - head.len());
                command.extend_from_slice(&rest);
                if !whole {
                    // Fewer than 10 bytes: swtpm is still waiting for a
                    // header when the peer goes; no answer.
                    if command.len() >= 10 {
                        tracing::debug!(size, got = command.len(), "swtpm data: command cut short");
                        let _ = writer.write_all(&run(server, None, &command));
                    }
                    return;
                }
                run(server, None, &command)
            } else {
                let mut tenth = [0u8; 1];
                if read_part(&mut stream, &mut tenth, false) != ReadOutcome::Full {
                    return;
                }
                command.push(tenth[0]);
                let response = if raw && size > net::MAX_FRAME {
                    tracing::warn!(size, "swtpm data: command over 1 MiB: closing");
                    error_response(Rc::COMMAND_SIZE)
                } else {
                    tracing::warn!(
                        tag,
                        size,
                        "swtpm data: malformed frame: answering and closing"
                    );
                    run(server, None, &command)
                };
                let _ = writer.write_all(&response);
                return;
            }
        };
        if writer.write_all(&out).is_err() {
            return;
        }
    }
}

/// Reads one control message as swtpm's ctrlchannel_recv_cmd does: the
/// first bytes may take any time; the rest of the first
/// [`CTRL_FIRST_READ`] bytes must arrive within 500 ms, later bytes (a
/// large state blob) without stalling for [`net::FRAME_TIMEOUT`]. `None`
/// closes the connection without an answer, as swtpm does.
fn read_message(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut chunk = vec![0u8; CTRL_FIRST_READ];
    let n = loop {
        match stream.read(&mut chunk) {
            Ok(0) => return None,
            Ok(n) => break n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::Interrupted
                        | io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return None,
        }
    };
    let mut msg = chunk[..n].to_vec();
    let deadline = Instant::now() + Duration::from_millis(ctrl::RECV_DEADLINE_MS);
    let result = loop {
        let needed = ctrl::needed_len(&msg);
        if msg.len() >= needed {
            break Some(msg);
        }
        if needed > ctrl::MAX_MESSAGE {
            tracing::warn!(needed, "swtpm control: message too long: closing");
            break None;
        }
        let timeout = if msg.len() < CTRL_FIRST_READ {
            deadline.saturating_duration_since(Instant::now())
        } else {
            net::FRAME_TIMEOUT
        };
        if timeout.is_zero() || stream.set_read_timeout(Some(timeout)).is_err() {
            break None;
        }
        let want = (needed - msg.len()).min(chunk.len());
        match stream.read(&mut chunk[..want]) {
            Ok(0) => break None,
            Ok(n) => msg.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break None,
        }
    };
    let _ = stream.set_read_timeout(Some(net::FRAME_TIMEOUT));
    result
}

fn control_conn(server: &Server, mut stream: TcpStream) {
    while let Some(msg) = read_message(&mut stream) {
        let outcome = {
            let mut inst = lock(&server.instance);
            ctrl::handle(&mut *inst, &msg)
        };
        tracing::debug!(
            code = be32(&msg, 0).unwrap_or(0),
            result = be32(&outcome.response, 0).unwrap_or(0),
            "swtpm control command"
        );
        // Over TCP no file descriptor can come with CMD_SET_DATAFD; the
        // answer stays TPM_IOERROR, as swtpm's over TCP.
        if stream.write_all(&outcome.response).is_err() {
            return;
        }
        if outcome.terminate {
            tracing::info!("swtpm control: CMD_SHUTDOWN received");
            let _ = server.stop.send(StopReason::ControlShutdown);
            return;
        }
    }
}
