//! Socket plumbing shared by the TCP transports: binding a port pair,
//! accepting connections on threads, and reading frames with a stall
//! timeout.

use std::io::{self, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex, MutexGuard};
use std::thread;
use std::time::Duration;

use crate::instance::Instance;

/// A client that stops sending in the middle of a frame for this long is
/// dropped; an idle client between frames is kept.
pub const FRAME_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections served at once per listener; more are closed on accept.
pub const MAX_CONNECTIONS: usize = 128;
/// Largest frame read whole (the TCG simulator's MAX_BUFFER): a frame up
/// to this size over the TPM's buffer is read and answered
/// TPM_RC_COMMAND_SIZE, keeping the stream in sync; a larger one ends the
/// connection.
pub const MAX_FRAME: usize = 1 << 20;

/// Why a server asks its host process to stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// The host process got this signal (SIGTERM, SIGINT).
    Signal(i32),
    /// mssim TPM_STOP on either port.
    ClientStop,
    /// swtpm CMD_SHUTDOWN on the control port.
    ControlShutdown,
}

/// Where servers send [`StopReason`]s.
pub type StopSender = mpsc::Sender<StopReason>;

/// One instance shared by all connections; commands run one at a time.
pub type SharedInstance = Arc<Mutex<Instance>>;

/// Locks the instance. A panic while it was held (none is expected: the
/// engine runs under `catch_unwind`) does not stop the others from serving.
pub fn lock(inst: &SharedInstance) -> MutexGuard<'_, Instance> {
    inst.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Binds `addr` and the next port. Port 0 picks a free pair of
/// consecutive ports.
pub fn bind_pair(addr: SocketAddr) -> io::Result<(TcpListener, TcpListener)> {
    if addr.port() != 0 {
        let next = addr.port().checked_add(1).ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "port 65535 has no next port")
        })?;
        let first = TcpListener::bind(addr)?;
        let second = TcpListener::bind(SocketAddr::new(addr.ip(), next))?;
        return Ok((first, second));
    }
    let mut last_err = None;
    for _ in 0..64 {
        let first = TcpListener::bind(addr)?;
        let port = first.local_addr()?.port();
        let Some(next) = port.checked_add(1) else {
            continue;
        };
        match TcpListener::bind(SocketAddr::new(addr.ip(), next)) {
            Ok(second) => return Ok((first, second)),
            Err(e) => last_err = Some(e),
        }
    }
    Err(last_err.unwrap_or_else(|| io::Error::other("no free pair of consecutive ports")))
}

/// Idle accepting threads kept per listener; more exit after their
/// connection ends.
const MAX_IDLE_ACCEPTORS: usize = 2;

struct Acceptors {
    name: &'static str,
    listener: TcpListener,
    handler: Box<dyn Fn(TcpStream) + Send + Sync>,
    /// Threads blocked in accept().
    idle: AtomicUsize,
    /// Connections being served.
    active: AtomicUsize,
}

/// Accepts connections on `listener` forever, serving each with `handler`.
///
/// Threads accept and then serve the connection they accepted themselves
/// (no hand-off between threads: tpm2-tss tcti-swtpm opens a connection
/// per command, so this is on the latency path). When the last idle
/// acceptor takes a connection it starts another, so one is always
/// accepting; surplus ones exit once their connection ends.
pub fn spawn_listener<F>(name: &'static str, listener: TcpListener, handler: F) -> io::Result<()>
where
    F: Fn(TcpStream) + Send + Sync + 'static,
{
    let shared = Arc::new(Acceptors {
        name,
        listener,
        handler: Box::new(handler),
        idle: AtomicUsize::new(0),
        active: AtomicUsize::new(0),
    });
    spawn_acceptor(shared)
}

fn spawn_acceptor(shared: Arc<Acceptors>) -> io::Result<()> {
    thread::Builder::new()
        .name(format!("{}-conn", shared.name))
        .spawn(move || acceptor(&shared))?;
    Ok(())
}

fn acceptor(shared: &Arc<Acceptors>) {
    let name = shared.name;
    loop {
        shared.idle.fetch_add(1, Ordering::AcqRel);
        let accepted = shared.listener.accept();
        if shared.idle.fetch_sub(1, Ordering::AcqRel) == 1 {
            if let Err(e) = spawn_acceptor(Arc::clone(shared)) {
                tracing::warn!(port = name, error = %e, "cannot start an accepting thread");
            }
        }
        match accepted {
            Ok((stream, peer)) => {
                if shared.active.fetch_add(1, Ordering::AcqRel) >= MAX_CONNECTIONS {
                    tracing::warn!(port = name, %peer, "too many connections: closing a new one");
                } else {
                    let _ = stream.set_nodelay(true);
                    let _ = stream.set_read_timeout(Some(FRAME_TIMEOUT));
                    tracing::trace!(port = name, %peer, "connection opened");
                    (shared.handler)(stream);
                    tracing::trace!(port = name, %peer, "connection closed");
                }
                shared.active.fetch_sub(1, Ordering::AcqRel);
            }
            Err(e) => {
                tracing::warn!(port = name, error = %e, "accept failed");
                thread::sleep(Duration::from_millis(10));
            }
        }
        if shared.idle.load(Ordering::Acquire) >= MAX_IDLE_ACCEPTORS {
            return;
        }
    }
}

/// How reading one part of a frame ended.
#[derive(Debug, PartialEq, Eq)]
pub enum ReadOutcome {
    /// The buffer is full.
    Full,
    /// The peer closed before sending a byte of a new frame.
    Closed,
    /// The peer closed, failed or stalled in the middle of a frame.
    Broken,
}

/// Reads exactly `buf.len()` bytes. With `frame_start`, waiting for the
/// first byte has no time limit (idle connection) and EOF there is a clean
/// close; otherwise a stall longer than [`FRAME_TIMEOUT`] breaks the frame.
/// Capacity of the read buffer of a data connection: a whole command of
/// the largest size the engine accepts, plus framing.
pub const READ_BUFFER: usize = 4096 + 16;

/// Reads exactly `buf.len()` bytes (see [`read_counted`]).
pub fn read_part(stream: &mut impl Read, buf: &mut [u8], frame_start: bool) -> ReadOutcome {
    read_counted(stream, buf, frame_start).1
}

/// [`read_part`], also telling how many bytes arrived.
pub fn read_counted(
    stream: &mut impl Read,
    buf: &mut [u8],
    frame_start: bool,
) -> (usize, ReadOutcome) {
    let mut got = 0;
    while got < buf.len() {
        match stream.read(&mut buf[got..]) {
            Ok(0) if got == 0 && frame_start => return (0, ReadOutcome::Closed),
            Ok(0) => return (got, ReadOutcome::Broken),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e)
                if got == 0
                    && frame_start
                    && matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) => {}
            Err(_) => return (got, ReadOutcome::Broken),
        }
    }
    (got, ReadOutcome::Full)
}

/// Big-endian u32 at `at`, if present.
pub(crate) fn be32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}
