//! The data channel received with CMD_SET_DATAFD: TPM commands in, TPM
//! responses out, as swtpm serves the socket QEMU passes it.
//!
//! Framing (swtpm mainloop.c/tpmlib.c, the same as on its TCP data port):
//! a frame whose tag is TPM_ST_NO_SESSIONS/TPM_ST_SESSIONS is a raw TPM
//! 2.0 command answered with the raw response (what QEMU sends: it writes
//! the command, reads the 10-byte response header, then the rest). A frame
//! starting with the u32 TPM_SEND_COMMAND (8) carries the simulator prefix
//! `{u32 8, u8 locality, u32 size}` (PTM_CAP_SEND_COMMAND_HEADER) and is
//! answered `{u32 size, response, u32 0}`. Any other frame with a sane
//! size field (a TPM 1.2 command: OVMF probes the TPM family through the
//! TIS with one) is handed to the TPM, which answers TPM_RC_BAD_TAG, and
//! the channel stays open; a frame whose size cannot be right is answered
//! and the channel closed, since the next frame's start is unknown.
//! Commands run at the locality set with
//! CMD_SET_LOCALITY; a stopped TPM answers TPM_RC_FAILURE (swtpm's
//! tpmlib_write_fatal_error_response).
//!
//! Each data channel is served by its own OS thread with blocking I/O: a
//! TPM command then costs one read, the engine call under the instance
//! lock and one write on that thread, as in swtpm's main loop, instead of
//! two hand-offs between the async reactor and the blocking pool (the
//! earlier design, 1.6–5.5× swtpm's latency; BENCHMARKS.md). A VM has one
//! data channel, so threads grow with running VMs, not with instances.
//! Stopping the instance (delete, daemon exit, CMD_SHUTDOWN) shuts the
//! socket down, which ends the thread's blocking read.

use std::io::{self, BufReader, Read, Write};
use std::net::Shutdown;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tpm::Rc;

use super::registry::{stopped, Registry, Slot};
use crate::instance::error_response;
use crate::net::{self, be32, SharedInstance};

const SEND_COMMAND: u32 = 8;

/// A served data channel: lets the control socket see whether it still
/// runs and end it.
pub(crate) struct DataChannel {
    sock: UnixStream,
    done: Arc<AtomicBool>,
}

impl DataChannel {
    /// Whether the serving thread has ended (the client closed it).
    pub fn is_finished(&self) -> bool {
        self.done.load(Ordering::Acquire)
    }

    /// Ends the channel: the thread's blocked read returns.
    pub fn abort(&self) {
        let _ = self.sock.shutdown(Shutdown::Both);
    }
}

/// Starts serving `fd` for `inst` on a thread of its own. Fails when `fd`
/// is not a socket. Must run inside the daemon's runtime (a small task
/// ends the channel when the instance stops).
pub(crate) fn start(
    reg: Arc<Registry>,
    slot: Arc<Slot>,
    inst: SharedInstance,
    fd: OwnedFd,
) -> io::Result<()> {
    let sock = UnixStream::from(fd);
    // ENOTSOCK for anything but a socket (a file, a pipe).
    sock.local_addr()?;
    sock.set_nonblocking(false)?;
    let done = Arc::new(AtomicBool::new(false));
    let handle = DataChannel {
        sock: sock.try_clone()?,
        done: Arc::clone(&done),
    };
    let on_stop = sock.try_clone()?;
    let (ended_tx, ended_rx) = tokio::sync::oneshot::channel::<()>();
    let mut stop = slot.stop.subscribe();
    tokio::spawn(async move {
        tokio::select! {
            _ = stopped(&mut stop) => {
                let _ = on_stop.shutdown(Shutdown::Both);
            }
            _ = ended_rx => {}
        }
    });
    let s = Arc::clone(&slot);
    std::thread::Builder::new()
        .name("vtpm-data".into())
        .spawn(move || {
            let _guard = s.connection();
            if let Err(e) = channel(&reg, &s, &inst, sock) {
                tracing::debug!(name = %s.name, error = %e, "data channel ended");
            }
            tracing::debug!(name = %s.name, "data channel closed");
            done.store(true, Ordering::Release);
            drop(ended_tx);
        })?;
    *super::registry::lock(&slot.data_channel) = Some(handle);
    Ok(())
}

/// How reading a part of a frame ended.
enum Part {
    Full,
    /// EOF before the first byte of a frame.
    Closed,
    /// EOF, error or stall after `n` bytes.
    Short(usize),
}

/// The read side: buffered, with the socket's read timeout switched only
/// when a read must really wait.
struct Input {
    r: BufReader<UnixStream>,
    timed: bool,
}

impl Input {
    /// Reads `buf.len()` bytes; the wait for the first byte of a frame
    /// (`frame_start`) is unbounded, later stalls end at
    /// [`net::FRAME_TIMEOUT`].
    fn read_part(&mut self, buf: &mut [u8], frame_start: bool) -> Part {
        let mut got = 0;
        while got < buf.len() {
            if self.r.buffer().is_empty() {
                let want_timed = !(frame_start && got == 0);
                if want_timed != self.timed {
                    let t = want_timed.then_some(net::FRAME_TIMEOUT);
                    if self.r.get_ref().set_read_timeout(t).is_err() {
                        return Part::Short(got);
                    }
                    self.timed = want_timed;
                }
            }
            match self.r.read(&mut buf[got..]) {
                Ok(0) if got == 0 && frame_start => return Part::Closed,
                Ok(0) => return Part::Short(got),
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Part::Short(got),
            }
        }
        Part::Full
    }
}

fn run(
    reg: &Registry,
    slot: &Slot,
    inst: &SharedInstance,
    locality: Option<u8>,
    command: &[u8],
) -> Vec<u8> {
    let r = {
        let mut i = net::lock(inst);
        if let Some(l) = locality {
            i.set_locality(l);
        }
        if !i.is_powered() {
            error_response(Rc::FAILURE)
        } else {
            let l = i.locality();
            i.execute(l, command)
        }
    };
    reg.touch(slot);
    r
}

fn channel(
    reg: &Registry,
    slot: &Slot,
    inst: &SharedInstance,
    stream: UnixStream,
) -> io::Result<()> {
    let mut wr = stream.try_clone()?;
    let mut rd = Input {
        r: BufReader::with_capacity(net::READ_BUFFER, stream),
        timed: false,
    };
    loop {
        // 9 bytes: the whole simulator prefix, and less than any raw command.
        let mut head = [0u8; 9];
        match rd.read_part(&mut head, true) {
            Part::Full => {}
            Part::Closed | Part::Short(_) => return Ok(()),
        }
        let tag = u16::from_be_bytes([head[0], head[1]]);
        let raw = tag == 0x8001 || tag == 0x8002;
        if !raw && be32(&head, 0) == Some(SEND_COMMAND) {
            let size = be32(&head, 5).unwrap_or(0) as usize;
            if size > net::MAX_FRAME {
                return Ok(());
            }
            let mut command = vec![0u8; size];
            let whole = match rd.read_part(&mut command, false) {
                Part::Full => true,
                Part::Short(n) => {
                    command.truncate(n);
                    false
                }
                Part::Closed => return Ok(()),
            };
            let response = run(reg, slot, inst, Some(head[4]), &command);
            let mut out = Vec::with_capacity(response.len() + 8);
            out.extend_from_slice(&(response.len() as u32).to_be_bytes());
            out.extend_from_slice(&response);
            out.extend_from_slice(&0u32.to_be_bytes());
            wr.write_all(&out)?;
            if !whole {
                return Ok(());
            }
            continue;
        }
        // A raw command, or any other frame whose size field is sane: a
        // TPM 1.2 command (tag 0x00C1, which firmware sends to probe the
        // TPM family through the TIS) gets the TPM's answer and the
        // channel stays open, as swtpm keeps it.
        let size = be32(&head, 2).unwrap_or(0) as usize;
        let mut command = head.to_vec();
        if (10..=net::MAX_FRAME).contains(&size) {
            if !raw {
                tracing::debug!(name = %slot.name, tag, size, "data channel: non-TPM-2.0 tag");
            }
            command.resize(size, 0);
            match rd.read_part(&mut command[9..], false) {
                Part::Full => {
                    let response = run(reg, slot, inst, None, &command);
                    wr.write_all(&response)?;
                }
                Part::Short(n) if n > 0 => {
                    // Cut short: the TPM answers TPM_RC_COMMAND_SIZE for
                    // what arrived, then the channel closes (as swtpm).
                    command.truncate(9 + n);
                    let response = run(reg, slot, inst, None, &command);
                    wr.write_all(&response)?;
                    return Ok(());
                }
                // Fewer than 10 bytes: no header yet, no answer.
                Part::Short(_) | Part::Closed => return Ok(()),
            }
            continue;
        }
        // A size that cannot be right: answer the header and close, since
        // where the next frame starts is unknown.
        let mut tenth = [0u8; 1];
        if !matches!(rd.read_part(&mut tenth, false), Part::Full) {
            return Ok(());
        }
        command.push(tenth[0]);
        let response = if size > net::MAX_FRAME {
            error_response(Rc::COMMAND_SIZE)
        } else {
            tracing::warn!(name = %slot.name, tag, size, "data channel: malformed frame: answering and closing");
            run(reg, slot, inst, None, &command)
        };
        wr.write_all(&response)?;
        return Ok(());
    }
}
