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

use std::io;
use std::os::fd::OwnedFd;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::time::timeout;
use tpm::Rc;

use super::ctrl_socket::with_instance;
use super::registry::{lock, stopped, Registry, Slot};
use crate::instance::error_response;
use crate::net::{self, be32, SharedInstance};

const SEND_COMMAND: u32 = 8;

/// Starts serving `fd` for `inst`. Fails when `fd` is not a socket the
/// runtime can poll.
pub(crate) fn start(
    reg: Arc<Registry>,
    slot: Arc<Slot>,
    inst: SharedInstance,
    fd: OwnedFd,
) -> io::Result<()> {
    let std_stream = std::os::unix::net::UnixStream::from(fd);
    std_stream.set_nonblocking(true)?;
    let stream = UnixStream::from_std(std_stream)?;
    let task = tokio::spawn(serve(reg, Arc::clone(&slot), inst, stream));
    *lock(&slot.data_channel) = Some(task.abort_handle());
    Ok(())
}

async fn serve(reg: Arc<Registry>, slot: Arc<Slot>, inst: SharedInstance, stream: UnixStream) {
    let _guard = slot.connection();
    let mut stop = slot.stop.subscribe();
    tokio::select! {
        _ = stopped(&mut stop) => {}
        r = channel(&reg, &slot, &inst, stream) => {
            if let Err(e) = r {
                tracing::debug!(name = %slot.name, error = %e, "data channel ended");
            }
        }
    }
    tracing::debug!(name = %slot.name, "data channel closed");
}

/// How reading a part of a frame ended.
enum Part {
    Full,
    /// EOF before the first byte of a frame.
    Closed,
    /// EOF, error or stall after `n` bytes.
    Short(usize),
}

/// Reads `buf.len()` bytes; the wait for the first byte of a frame
/// (`frame_start`) is unbounded, later stalls end at
/// [`net::FRAME_TIMEOUT`].
async fn read_part<R: AsyncRead + Unpin>(r: &mut R, buf: &mut [u8], frame_start: bool) -> Part {
    let mut got = 0;
    while got < buf.len() {
        let read = r.read(&mut buf[got..]);
        let n = if frame_start && got == 0 {
            read.await
        } else {
            match timeout(net::FRAME_TIMEOUT, read).await {
                Ok(r) => r,
                Err(_) => return Part::Short(got),
            }
        };
        match n {
            Ok(0) if got == 0 && frame_start => return Part::Closed,
            Ok(0) | Err(_) => return Part::Short(got),
            Ok(n) => got += n,
        }
    }
    Part::Full
}

async fn run(
    reg: &Registry,
    slot: &Slot,
    inst: &SharedInstance,
    locality: Option<u8>,
    command: Vec<u8>,
) -> io::Result<Vec<u8>> {
    let r = with_instance(inst, move |i| {
        if let Some(l) = locality {
            i.set_locality(l);
        }
        if !i.is_powered() {
            return error_response(Rc::FAILURE);
        }
        let l = i.locality();
        i.execute(l, &command)
    })
    .await
    .ok_or_else(|| io::Error::other("the command thread failed"))?;
    reg.touch(slot);
    Ok(r)
}

async fn channel(
    reg: &Registry,
    slot: &Slot,
    inst: &SharedInstance,
    mut stream: UnixStream,
) -> io::Result<()> {
    let (rd, mut wr) = stream.split();
    let mut rd = BufReader::with_capacity(net::READ_BUFFER, rd);
    loop {
        // 9 bytes: the whole simulator prefix, and less than any raw command.
        let mut head = [0u8; 9];
        match read_part(&mut rd, &mut head, true).await {
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
            let whole = match read_part(&mut rd, &mut command, false).await {
                Part::Full => true,
                Part::Short(n) => {
                    command.truncate(n);
                    false
                }
                Part::Closed => return Ok(()),
            };
            let response = run(reg, slot, inst, Some(head[4]), command).await?;
            let mut out = Vec::with_capacity(response.len() + 8);
            out.extend_from_slice(&(response.len() as u32).to_be_bytes());
            out.extend_from_slice(&response);
            out.extend_from_slice(&0u32.to_be_bytes());
            wr.write_all(&out).await?;
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
            match read_part(&mut rd, &mut command[9..], false).await {
                Part::Full => {
                    let response = run(reg, slot, inst, None, command).await?;
                    wr.write_all(&response).await?;
                }
                Part::Short(n) if n > 0 => {
                    // Cut short: the TPM answers TPM_RC_COMMAND_SIZE for
                    // what arrived, then the channel closes (as swtpm).
                    command.truncate(9 + n);
                    let response = run(reg, slot, inst, None, command).await?;
                    wr.write_all(&response).await?;
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
        if !matches!(read_part(&mut rd, &mut tenth, false).await, Part::Full) {
            return Ok(());
        }
        command.push(tenth[0]);
        let response = if size > net::MAX_FRAME {
            error_response(Rc::COMMAND_SIZE)
        } else {
            tracing::warn!(name = %slot.name, tag, size, "data channel: malformed frame: answering and closing");
            run(reg, slot, inst, None, command).await?
        };
        wr.write_all(&response).await?;
        return Ok(());
    }
}
