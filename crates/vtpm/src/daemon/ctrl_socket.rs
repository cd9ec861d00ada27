//! An instance's control socket `RUN/NAME.ctrl`: the swtpm control
//! protocol ([`crate::ctrl`]) over a UNIX stream socket, as swtpm serves
//! it with `--ctrl type=unixio` and QEMU's `-tpmdev emulator` uses it.
//!
//! QEMU connects, probes CMD_GET_CAPABILITY, then sends CMD_SET_DATAFD
//! with one end of a socketpair attached (SCM_RIGHTS); TPM commands then
//! flow over that socket ([`super::data_channel`]) while the control
//! connection carries CMD_STOP, CMD_SET_BUFFERSIZE, CMD_INIT,
//! CMD_SET_LOCALITY, CMD_GET/RESET_TPMESTABLISHED, state blobs and, when
//! QEMU ends, CMD_SHUTDOWN. Every message is read with recvmsg so a
//! descriptor sent with any of them is seen (swtpm ctrlchannel.c).
//!
//! The instance is loaded when a client connects; a state that cannot be
//! loaded (corrupt, rolled back) closes the connection with the reason in
//! the log, so QEMU fails to start instead of running with a wrong TPM.

use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::Interest;
use tokio::net::UnixStream;
use tokio::time::timeout;

use super::migration::{Migrating, MigrationPolicy};
use super::registry::{stopped, Registry, Slot};
use super::{data_channel, sys};
use crate::ctrl::{self, res};
use crate::net::{self, SharedInstance};

/// The first read of a message takes up to this many bytes, as swtpm's
/// `struct input` (the code and the largest fixed request, ptm_hdata).
const FIRST_READ: usize = 4 + 4 + 4096;
/// A client that has sent part of a message must send the rest of the
/// first [`FIRST_READ`] bytes within 500 ms (ctrlchannel_recv_cmd);
/// longer messages (state blobs) may not stall longer than this.
const STALL: Duration = net::FRAME_TIMEOUT;

/// Serves `listener` until the instance stops.
pub(crate) fn start(
    reg: Arc<Registry>,
    slot: Arc<Slot>,
    listener: std::os::unix::net::UnixListener,
) {
    tokio::spawn(accept_loop(reg, slot, listener));
}

async fn accept_loop(
    reg: Arc<Registry>,
    slot: Arc<Slot>,
    listener: std::os::unix::net::UnixListener,
) {
    let listener = match listener
        .set_nonblocking(true)
        .and_then(|()| tokio::net::UnixListener::from_std(listener))
    {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(name = %slot.name, error = %e, "cannot serve the control socket");
            return;
        }
    };
    let mut stop = slot.stop.subscribe();
    loop {
        tokio::select! {
            _ = stopped(&mut stop) => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    tokio::spawn(connection(Arc::clone(&reg), Arc::clone(&slot), stream));
                }
                Err(e) => {
                    // EMFILE and the like: back off instead of spinning.
                    tracing::warn!(name = %slot.name, error = %e, "control socket accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
        }
    }
}

/// Loads the instance on a blocking-pool thread.
pub(crate) async fn load(reg: &Arc<Registry>, slot: &Arc<Slot>) -> Option<SharedInstance> {
    if let Some(inst) = Registry::loaded(slot) {
        reg.touch(slot);
        return Some(inst);
    }
    let (r, s) = (Arc::clone(reg), Arc::clone(slot));
    match tokio::task::spawn_blocking(move || r.load(&s)).await {
        Ok(Ok(inst)) => Some(inst),
        Ok(Err(e)) => {
            tracing::error!(name = %slot.name, error = %e.message, "closing a client connection: the vTPM cannot be loaded");
            None
        }
        Err(_) => None,
    }
}

/// Runs `f` on the engine on a blocking-pool thread, under its lock.
pub(crate) async fn with_instance<R, F>(inst: &SharedInstance, f: F) -> Option<R>
where
    R: Send + 'static,
    F: FnOnce(&mut crate::instance::Instance) -> R + Send + 'static,
{
    let inst = Arc::clone(inst);
    tokio::task::spawn_blocking(move || f(&mut net::lock(&inst)))
        .await
        .ok()
}

async fn connection(reg: Arc<Registry>, slot: Arc<Slot>, stream: UnixStream) {
    let _guard = slot.connection();
    let Some(inst) = load(&reg, &slot).await else {
        return;
    };
    let policy = Arc::new(MigrationPolicy {
        name: Arc::clone(&slot.name),
        plaintext: slot.migration_plaintext,
        incoming: slot.incoming.clone(),
        store: Arc::clone(reg.storage.sealed()),
    });
    let mut stop = slot.stop.subscribe();
    loop {
        let mut fds = Vec::new();
        let msg = tokio::select! {
            _ = stopped(&mut stop) => return,
            m = read_message(&stream, &mut fds) => m,
        };
        let Some(msg) = msg else {
            return;
        };
        let code = net::be32(&msg, 0).unwrap_or(0);
        let policy = Arc::clone(&policy);
        let Some(outcome) = with_instance(&inst, move |i| {
            let mut b = Migrating {
                inst: i,
                policy: &policy,
            };
            ctrl::handle(&mut b, &msg)
        })
        .await
        else {
            return;
        };
        reg.touch(&slot);
        let mut response = outcome.response;
        if outcome.set_data_fd {
            let result = set_data_fd(&reg, &slot, &inst, fds);
            response = result.to_be_bytes().to_vec();
        }
        tracing::debug!(
            name = %slot.name,
            code,
            result = net::be32(&response, 0).unwrap_or(0),
            "control command"
        );
        if write_all(&stream, &response).await.is_err() {
            return;
        }
        if outcome.terminate {
            // swtpm exits on CMD_SHUTDOWN; here only this TPM stops: its
            // data channel and this connection end, the instance stays.
            tracing::info!(name = %slot.name, "CMD_SHUTDOWN: TPM stopped");
            if let Some(h) = super::registry::lock(&slot.data_channel).take() {
                h.abort();
            }
            return;
        }
    }
}

/// CMD_SET_DATAFD (swtpm ctrlchannel.c): TPM_IOERROR while a data channel
/// is already served, TPM_BAD_PARAMETER without a usable descriptor.
fn set_data_fd(
    reg: &Arc<Registry>,
    slot: &Arc<Slot>,
    inst: &SharedInstance,
    mut fds: Vec<OwnedFd>,
) -> u32 {
    if slot.data_channel_active() {
        return res::IOERROR;
    }
    let Some(fd) = fds.pop() else {
        tracing::warn!(name = %slot.name, "CMD_SET_DATAFD without a descriptor");
        return res::BAD_PARAMETER;
    };
    match data_channel::start(Arc::clone(reg), Arc::clone(slot), Arc::clone(inst), fd) {
        Ok(()) => res::SUCCESS,
        Err(e) => {
            tracing::warn!(name = %slot.name, error = %e, "CMD_SET_DATAFD: the descriptor is not a usable socket");
            res::BAD_PARAMETER
        }
    }
}

async fn write_all(stream: &UnixStream, mut bytes: &[u8]) -> std::io::Result<()> {
    while !bytes.is_empty() {
        stream.writable().await?;
        match stream.try_write(bytes) {
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// One recvmsg, waiting for readiness; descriptors go to `fds`.
async fn recv(
    stream: &UnixStream,
    buf: &mut [u8],
    fds: &mut Vec<OwnedFd>,
) -> std::io::Result<usize> {
    let (n, got) = stream
        .async_io(Interest::READABLE, || {
            sys::recv_with_fds(stream.as_fd(), buf)
        })
        .await?;
    fds.extend(got);
    Ok(n)
}

/// Reads one whole control message (see [`ctrl::needed_len`]); `None`
/// closes the connection without an answer, as swtpm does on EOF, a
/// stall or an oversized message.
async fn read_message(stream: &UnixStream, fds: &mut Vec<OwnedFd>) -> Option<Vec<u8>> {
    let mut chunk = vec![0u8; FIRST_READ];
    let n = recv(stream, &mut chunk, fds).await.ok()?;
    if n == 0 {
        return None;
    }
    let mut msg = chunk[..n].to_vec();
    let deadline = tokio::time::Instant::now() + Duration::from_millis(ctrl::RECV_DEADLINE_MS);
    loop {
        let needed = ctrl::needed_len(&msg);
        if msg.len() >= needed {
            return Some(msg);
        }
        if needed > ctrl::MAX_MESSAGE {
            tracing::warn!(needed, "control message too long: closing");
            return None;
        }
        let limit = if msg.len() < FIRST_READ {
            deadline.saturating_duration_since(tokio::time::Instant::now())
        } else {
            STALL
        };
        let want = (needed - msg.len()).min(chunk.len());
        match timeout(limit, recv(stream, &mut chunk[..want], fds)).await {
            Ok(Ok(n)) if n > 0 => msg.extend_from_slice(&chunk[..n]),
            _ => return None,
        }
    }
}
