//! The daemon's only system calls that std and tokio do not wrap: passing
//! file descriptors with SCM_RIGHTS (swtpm's CMD_SET_DATAFD), raising the
//! open-file limit (one listening control socket per instance) and a
//! non-blocking `flock` on the state directory. Each `unsafe` block is a
//! single libc call on memory owned by the function.

use std::io;
use std::mem::size_of;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// At most this many descriptors are taken from one message; QEMU sends
/// one. Descriptors beyond the control buffer are discarded (closed) by
/// the kernel (MSG_CTRUNC).
const MAX_FDS: usize = 4;

/// `recvmsg(2)` on the UNIX stream socket `sock` into `buf`, returning
/// the byte count and every descriptor passed with SCM_RIGHTS (owned, so
/// closed when dropped; close-on-exec set atomically by
/// MSG_CMSG_CLOEXEC). A non-blocking socket with nothing to read gives
/// `WouldBlock`, as `read` does.
///
/// Why: swtpm's control channel (ctrlchannel.c) receives every command
/// with recvmsg so that CMD_SET_DATAFD's data-channel socket, sent by
/// QEMU in the same sendmsg as the command code, is not lost.
pub fn recv_with_fds(sock: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<(usize, Vec<OwnedFd>)> {
    // 64 bytes, room for CMSG_SPACE of MAX_FDS ints (16 + 16); u64
    // elements because cmsghdr needs the alignment of size_t.
    let mut control = [0u64; 8];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: msghdr is plain data; all-zero is a valid empty header.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control) as _;
    // SAFETY: `msg` points at `iov` (describing `buf`) and `control`,
    // both alive and exclusively borrowed for the call; the kernel writes
    // at most iov_len and msg_controllen bytes into them.
    let n = unsafe { libc::recvmsg(sock.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut fds = Vec::new();
    // SAFETY: the CMSG_* macros walk the control buffer the kernel filled
    // in, bounded by msg_controllen (which it updated); each SCM_RIGHTS
    // payload holds cmsg_len - CMSG_LEN(0) bytes of ints, read unaligned,
    // and each descriptor in it is new in this process and owned by no
    // one else, so OwnedFd may take it.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            let hdr = &*cmsg;
            if hdr.cmsg_level == libc::SOL_SOCKET && hdr.cmsg_type == libc::SCM_RIGHTS {
                let data = libc::CMSG_DATA(cmsg).cast::<libc::c_int>();
                let payload = (hdr.cmsg_len as usize).saturating_sub(libc::CMSG_LEN(0) as usize);
                for i in 0..payload / size_of::<libc::c_int>() {
                    let raw = std::ptr::read_unaligned(data.add(i));
                    if raw >= 0 && fds.len() < MAX_FDS {
                        fds.push(OwnedFd::from_raw_fd(raw));
                    } else if raw >= 0 {
                        drop(OwnedFd::from_raw_fd(raw));
                    }
                }
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    Ok((n as usize, fds))
}

/// `sendmsg(2)` of `bytes` with `fds` (at most `MAX_FDS`) attached by
/// SCM_RIGHTS: what QEMU does for CMD_SET_DATAFD (qemu_chr_fe_set_msgfds,
/// then the write of the command). The daemon only receives; this side is
/// for clients that attach a data channel as QEMU does (tests, benchmarks,
/// tools). Returns the bytes sent.
pub fn send_with_fds(sock: BorrowedFd<'_>, bytes: &[u8], fds: &[i32]) -> io::Result<usize> {
    if fds.is_empty() || fds.len() > MAX_FDS {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("between 1 and {MAX_FDS} descriptors per message"),
        ));
    }
    let mut control = [0u64; 8];
    let mut iov = libc::iovec {
        iov_base: bytes.as_ptr() as *mut libc::c_void,
        iov_len: bytes.len(),
    };
    let payload = std::mem::size_of_val(fds) as u32;
    // SAFETY: msghdr is plain data; `msg` then points at `iov` (describing
    // `bytes`, only read by the kernel) and `control`, both alive for the
    // call; CMSG_SPACE(MAX_FDS ints) = 32 of control's 64 bytes, so the
    // header and payload written through the CMSG macros stay inside it.
    let n = unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = libc::CMSG_SPACE(payload) as _;
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(payload) as _;
        let data = libc::CMSG_DATA(cmsg).cast::<libc::c_int>();
        for (i, fd) in fds.iter().enumerate() {
            std::ptr::write_unaligned(data.add(i), *fd);
        }
        libc::sendmsg(sock.as_raw_fd(), &msg, 0)
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

/// Raises the soft RLIMIT_NOFILE to the hard limit and returns the new
/// soft limit. Every instance keeps a listening control socket open, and
/// a loaded one two more descriptors (state-directory lock and handle):
/// the default soft limit of 1024 would cap the daemon at a few hundred
/// instances.
pub fn raise_nofile_limit() -> io::Result<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit into `lim`, which we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(io::Error::last_os_error());
    }
    if lim.rlim_cur < lim.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: lim.rlim_max,
            rlim_max: lim.rlim_max,
        };
        // SAFETY: setrlimit only reads `raised`.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } != 0 {
            return Err(io::Error::last_os_error());
        }
        lim = raised;
    }
    Ok(lim.rlim_cur)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::fd::AsFd;
    use std::os::unix::net::UnixStream;

    fn send_with_fds(sock: &UnixStream, bytes: &[u8], fds: &[i32]) {
        let n = super::send_with_fds(sock.as_fd(), bytes, fds).unwrap();
        assert_eq!(n, bytes.len());
    }

    #[test]
    fn passed_socket_arrives_and_works() {
        let (a, b) = UnixStream::pair().unwrap();
        let (mut data_ours, data_theirs) = UnixStream::pair().unwrap();
        send_with_fds(&a, &[0, 0, 0, 0x10], &[data_theirs.as_raw_fd()]);
        drop(data_theirs);
        let mut buf = [0u8; 16];
        let (n, mut fds) = recv_with_fds(b.as_fd(), &mut buf).unwrap();
        assert_eq!(&buf[..n], &[0, 0, 0, 0x10]);
        assert_eq!(fds.len(), 1);
        let mut received = UnixStream::from(fds.remove(0));
        received.write_all(b"ping").unwrap();
        let mut got = [0u8; 4];
        data_ours.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"ping");
    }

    #[test]
    fn plain_bytes_come_without_fds_and_eof_is_zero() {
        let (mut a, b) = UnixStream::pair().unwrap();
        a.write_all(&[1, 2, 3]).unwrap();
        let mut buf = [0u8; 16];
        let (n, fds) = recv_with_fds(b.as_fd(), &mut buf).unwrap();
        assert_eq!((n, fds.len()), (3, 0));
        drop(a);
        let (n, fds) = recv_with_fds(b.as_fd(), &mut buf).unwrap();
        assert_eq!((n, fds.len()), (0, 0));
    }

    #[test]
    fn nonblocking_empty_socket_would_block() {
        let (_a, b) = UnixStream::pair().unwrap();
        b.set_nonblocking(true).unwrap();
        let err = recv_with_fds(b.as_fd(), &mut [0u8; 4]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
    }
}
