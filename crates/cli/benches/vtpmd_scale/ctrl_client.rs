//! A QEMU-like client of a swtpm control socket (`--ctrl type=unixio`),
//! the same for vtpmd's `RUN/NAME.ctrl` and a swtpm process: probe the
//! capabilities, hand over one end of a socketpair with CMD_SET_DATAFD
//! (SCM_RIGHTS), power the TPM on as QEMU's `tpm_emulator_startup_tpm`
//! does (STOP, SET_BUFFERSIZE, INIT, SET_LOCALITY), then raw TPM commands
//! on the data channel, each read as QEMU reads it (header, then the rest).
//!
//! The flow is the one `tests/vtpmd_basic.rs` (`QemuLike`) checks in
//! detail; here every step returns an error instead of panicking, because
//! one of a thousand concurrent clients failing must be counted, not abort
//! the run.

use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::Path;

use crate::support::{read_tpm_response, IO_TIMEOUT};

/// swtpm control commands (swtpm `tpm_ioctl.h`).
mod cmd {
    pub const GET_CAPABILITY: u32 = 0x01;
    pub const INIT: u32 = 0x02;
    pub const SET_LOCALITY: u32 = 0x05;
    pub const STOP: u32 = 0x0e;
    pub const SET_DATAFD: u32 = 0x10;
    pub const SET_BUFFERSIZE: u32 = 0x11;
}

fn fail(what: &str) -> io::Error {
    io::Error::other(what.to_string())
}

/// Sends `bytes` with `fd` attached by SCM_RIGHTS, as QEMU sends
/// CMD_SET_DATAFD.
fn send_with_fd(sock: &UnixStream, bytes: &[u8], fd: i32) -> io::Result<()> {
    use std::os::fd::AsFd;
    let sent = vtpm::daemon::send_with_fds(sock.as_fd(), bytes, &[fd])?;
    if sent != bytes.len() {
        return Err(fail("short sendmsg"));
    }
    Ok(())
}

/// An attached client: the control connection and the data channel.
pub struct CtrlClient {
    ctrl: UnixStream,
    data: UnixStream,
}

impl CtrlClient {
    /// Connects to the control socket `path`, checks the capabilities a
    /// TPM 2 needs under QEMU and passes the data channel.
    pub fn attach(path: &Path) -> io::Result<CtrlClient> {
        let ctrl = UnixStream::connect(path)?;
        ctrl.set_read_timeout(Some(IO_TIMEOUT))?;
        let caps = u64::from_be_bytes(exchange(&ctrl, cmd::GET_CAPABILITY, &[])?);
        // QEMU's minimum (tpm_emulator_check_caps): INIT, SHUTDOWN,
        // GET_TPMESTABLISHED, SET_LOCALITY, RESET_TPMESTABLISHED,
        // SET_DATAFD, STOP, SET_BUFFERSIZE.
        let required = 1 | 2 | 4 | 8 | 0x80 | 0x1000 | 0x400 | 0x2000;
        if caps & required != required {
            return Err(fail(&format!("capabilities {caps:#x} lack {required:#x}")));
        }
        let (ours, theirs) = UnixStream::pair()?;
        send_with_fd(&ctrl, &cmd::SET_DATAFD.to_be_bytes(), theirs.as_raw_fd())?;
        drop(theirs);
        let mut res = [0u8; 4];
        (&ctrl).read_exact(&mut res)?;
        if res != [0; 4] {
            return Err(fail(&format!("CMD_SET_DATAFD answered {res:?}")));
        }
        ours.set_read_timeout(Some(IO_TIMEOUT))?;
        Ok(CtrlClient { ctrl, data: ours })
    }

    /// QEMU's power-on: STOP, SET_BUFFERSIZE(4096), INIT, SET_LOCALITY(0).
    pub fn power_on(&mut self) -> io::Result<()> {
        self.ok(cmd::STOP, &[])?;
        let r: [u8; 16] = exchange(&self.ctrl, cmd::SET_BUFFERSIZE, &4096u32.to_be_bytes())?;
        if r[..4] != [0; 4] {
            return Err(fail("CMD_SET_BUFFERSIZE failed"));
        }
        self.ok(cmd::INIT, &[0; 4])?;
        self.ok(cmd::SET_LOCALITY, &[0])
    }

    fn ok(&mut self, code: u32, payload: &[u8]) -> io::Result<()> {
        let r: [u8; 4] = exchange(&self.ctrl, code, payload)?;
        match u32::from_be_bytes(r) {
            0 => Ok(()),
            e => Err(fail(&format!("control command {code:#x} answered {e:#x}"))),
        }
    }

    /// One TPM command on the data channel; the whole response.
    pub fn transmit(&mut self, command: &[u8]) -> io::Result<Vec<u8>> {
        self.data.write_all(command)?;
        read_tpm_response(&mut self.data)
    }

    /// [`CtrlClient::transmit`] for a command that must succeed.
    pub fn call(&mut self, what: &str, command: &[u8]) -> io::Result<Vec<u8>> {
        let r = self.transmit(command)?;
        match u32::from_be_bytes([r[6], r[7], r[8], r[9]]) {
            0 => Ok(r),
            rc => Err(fail(&format!("{what}: response code {rc:#x}"))),
        }
    }
}

/// Writes `code || payload` and reads an `N`-byte answer.
fn exchange<const N: usize>(mut s: &UnixStream, code: u32, payload: &[u8]) -> io::Result<[u8; N]> {
    let mut m = code.to_be_bytes().to_vec();
    m.extend_from_slice(payload);
    s.write_all(&m)?;
    let mut r = [0u8; N];
    s.read_exact(&mut r)?;
    Ok(r)
}
