//! Deadline-bounded socket I/O shared by the TCP and UNIX transports.
//!
//! The standard library's socket timeouts apply per call; a peer trickling
//! one byte at a time could stretch a command forever. These helpers carry
//! one deadline across all the calls of a command, so the total wait is
//! bounded by [`super::Timeouts::command`].

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use super::TransportError;

/// A connected stream socket whose per-call timeouts can be set.
pub(crate) trait Stream: Read + Write + AsRawFd + Send {
    fn set_timeouts(&self, t: Duration) -> io::Result<()>;
}

impl Stream for TcpStream {
    fn set_timeouts(&self, t: Duration) -> io::Result<()> {
        self.set_read_timeout(Some(t))?;
        self.set_write_timeout(Some(t))
    }
}

impl Stream for UnixStream {
    fn set_timeouts(&self, t: Duration) -> io::Result<()> {
        self.set_read_timeout(Some(t))?;
        self.set_write_timeout(Some(t))
    }
}

/// What an I/O helper reports its errors against.
#[derive(Clone, Copy)]
pub(crate) struct Ctx<'a> {
    pub endpoint: &'a str,
    pub during: &'static str,
    pub deadline: Instant,
    pub budget: Duration,
}

impl Ctx<'_> {
    fn timeout(&self) -> TransportError {
        TransportError::Timeout {
            endpoint: self.endpoint.to_string(),
            during: self.during,
            timeout: self.budget,
        }
    }

    fn io(&self, e: io::Error) -> TransportError {
        match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => self.timeout(),
            io::ErrorKind::UnexpectedEof => self.closed(),
            _ => TransportError::Io {
                endpoint: self.endpoint.to_string(),
                during: self.during,
                source: e,
            },
        }
    }

    fn closed(&self) -> TransportError {
        TransportError::Closed {
            endpoint: self.endpoint.to_string(),
            during: self.during,
        }
    }

    /// Time left before the deadline, or a timeout error.
    fn remaining(&self) -> Result<Duration, TransportError> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            Err(self.timeout())
        } else {
            Ok(left)
        }
    }

    /// A context for the next step of the same command.
    pub fn during(self, during: &'static str) -> Self {
        Ctx { during, ..self }
    }
}

/// Fills `buf` before the deadline.
pub(crate) fn read_exact<S: Stream + ?Sized>(
    s: &mut S,
    buf: &mut [u8],
    cx: Ctx<'_>,
) -> Result<(), TransportError> {
    let mut off = 0;
    while off < buf.len() {
        s.set_timeouts(cx.remaining()?).map_err(|e| cx.io(e))?;
        let Some(rest) = buf.get_mut(off..) else {
            break;
        };
        match s.read(rest) {
            Ok(0) => return Err(cx.closed()),
            Ok(n) => off += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(cx.io(e)),
        }
    }
    Ok(())
}

/// Writes all of `buf` before the deadline.
pub(crate) fn write_all<S: Stream + ?Sized>(
    s: &mut S,
    buf: &[u8],
    cx: Ctx<'_>,
) -> Result<(), TransportError> {
    let mut off = 0;
    while off < buf.len() {
        s.set_timeouts(cx.remaining()?).map_err(|e| cx.io(e))?;
        let Some(rest) = buf.get(off..) else {
            break;
        };
        match s.write(rest) {
            Ok(0) => return Err(cx.closed()),
            Ok(n) => off += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(cx.io(e)),
        }
    }
    Ok(())
}

/// Reads a big-endian u32 before the deadline.
pub(crate) fn read_u32<S: Stream + ?Sized>(s: &mut S, cx: Ctx<'_>) -> Result<u32, TransportError> {
    let mut b = [0u8; 4];
    read_exact(s, &mut b, cx)?;
    Ok(u32::from_be_bytes(b))
}

/// Connects to `host:port` (any address the name resolves to, in order),
/// each attempt bounded by `timeout`. Brackets around an IPv6 literal are
/// accepted.
pub(crate) fn connect_tcp(host: &str, port: u16, timeout: Duration) -> io::Result<TcpStream> {
    let h = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let mut last = io::Error::new(io::ErrorKind::NotFound, "host resolves to no address");
    for addr in (h, port).to_socket_addrs()? {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(s) => {
                // Commands are small request/response exchanges.
                s.set_nodelay(true)?;
                return Ok(s);
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Connects to a UNIX stream socket (connect(2) on a local socket does not
/// block for long, so no separate timeout).
pub(crate) fn connect_unix(path: &Path) -> io::Result<UnixStream> {
    UnixStream::connect(path)
}

/// Whether the peer of a connected stream socket has closed it (or sent
/// something nobody asked for), checked without blocking: the data
/// connection of a server that closes after each response must be
/// re-opened before the next command is sent, not after it is lost.
pub(crate) fn peer_gone(fd: RawFd) -> bool {
    let mut b = [0u8; 1];
    // SAFETY: recv(2) on a socket descriptor we own, into a 1-byte local
    // buffer whose length we pass; MSG_PEEK | MSG_DONTWAIT neither consumes
    // data nor blocks.
    let n = unsafe {
        libc::recv(
            fd,
            b.as_mut_ptr().cast(),
            b.len(),
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    if n < 0 {
        let e = io::Error::last_os_error();
        return !matches!(
            e.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
        );
    }
    // 0: orderly shutdown; >0: stray bytes would corrupt the next response.
    true
}
