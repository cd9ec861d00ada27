//! Protocol-level tests of `trustcloud tpm serve` with raw socket clients:
//! mssim command/platform ports, swtpm data/control ports byte for byte,
//! malformed and oversized frames, and restart persistence.
//!
//! Every wait is bounded; servers are killed on drop; each test has its
//! own state directory, so tests run in parallel.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

const IO_TIMEOUT: Duration = Duration::from_secs(10);
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// TPM2_Startup(TPM_SU_CLEAR).
const STARTUP_CLEAR: [u8; 12] = [0x80, 0x01, 0, 0, 0, 12, 0, 0, 0x01, 0x44, 0, 0];
/// TPM2_GetRandom(8).
const GET_RANDOM_8: [u8; 12] = [0x80, 0x01, 0, 0, 0, 12, 0, 0, 0x01, 0x7b, 0, 8];
/// TPM2_GetCapability(TPM_CAP_PCRS, 0, 1).
const GET_CAP_PCRS: [u8; 22] = [
    0x80, 0x01, 0, 0, 0, 22, 0, 0, 0x01, 0x7a, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 1,
];
const SUCCESS_RESPONSE: [u8; 10] = [0x80, 0x01, 0, 0, 0, 10, 0, 0, 0, 0];
const RC_INITIALIZE: u32 = 0x100;
const RC_FAILURE: u32 = 0x101;
const RC_COMMAND_SIZE: u32 = 0x142;
const RC_BAD_TAG: u32 = 0x01e;

struct Server {
    child: Child,
    first: u16,
    second: u16,
    stderr: PathBuf,
}

impl Server {
    fn start(protocol: &str, dir: &Path, extra: &[&str]) -> Server {
        Self::try_start(protocol, dir, extra)
            .unwrap_or_else(|(status, err)| panic!("server did not start ({status:?}):\n{err}"))
    }

    /// Starts a server; on failure returns its exit status and stderr.
    fn try_start(
        protocol: &str,
        dir: &Path,
        extra: &[&str],
    ) -> Result<Server, (Option<ExitStatus>, String)> {
        let stderr = dir.with_extension(format!("{}.stderr", std::process::id()));
        let mut child = Command::new(env!("CARGO_BIN_EXE_trustcloud"))
            .args([
                "tpm",
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--protocol",
                protocol,
            ])
            .arg("--state-dir")
            .arg(dir)
            .args(extra)
            .env("RUST_LOG", "debug")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(START_TIMEOUT).unwrap_or_default();
        let ports: Vec<u16> = line
            .split_whitespace()
            .filter_map(|kv| kv.rsplit_once(':').and_then(|(_, p)| p.parse().ok()))
            .collect();
        if ports.len() != 2 {
            let status = wait_exit(&mut child, Duration::from_secs(5));
            if status.is_none() {
                let _ = child.kill();
                let _ = child.wait();
            }
            return Err((status, std::fs::read_to_string(&stderr).unwrap_or_default()));
        }
        let (a, b) = match protocol {
            "mssim" => ("command", "platform"),
            _ => ("data", "control"),
        };
        assert_eq!(
            line.trim_end(),
            format!(
                "listening protocol={protocol} {a}=127.0.0.1:{} {b}=127.0.0.1:{}",
                ports[0], ports[1]
            )
        );
        assert_eq!(ports[1], ports[0] + 1);
        Ok(Server {
            child,
            first: ports[0],
            second: ports[1],
            stderr,
        })
    }

    fn first(&self) -> TcpStream {
        connect(self.first)
    }

    fn second(&self) -> TcpStream {
        connect(self.second)
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Waits for the process to end by itself.
    fn wait_exit(&mut self) -> ExitStatus {
        wait_exit(&mut self.child, Duration::from_secs(10))
            .unwrap_or_else(|| panic!("server did not exit; stderr:\n{}", self.stderr()))
    }

    fn terminate(&mut self) -> ExitStatus {
        // SAFETY: signalling our own child process by its id.
        let rc = unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        assert_eq!(rc, 0);
        self.wait_exit()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.stderr);
    }
}

fn wait_exit(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if let Ok(Some(st)) = child.try_wait() {
            return Some(st);
        }
        thread::sleep(Duration::from_millis(20));
    }
    None
}

fn connect(port: u16) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    s.set_nodelay(true).unwrap();
    s
}

fn be(v: u32) -> [u8; 4] {
    v.to_be_bytes()
}

fn read_n(s: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut b = vec![0u8; n];
    s.read_exact(&mut b).unwrap();
    b
}

fn read_u32(s: &mut TcpStream) -> u32 {
    let b = read_n(s, 4);
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// True if the server closed the connection without sending more: EOF,
/// or a reset when it closed with bytes of ours still unread.
fn is_closed(s: &mut TcpStream) -> bool {
    let mut b = [0u8; 1];
    match s.read(&mut b) {
        Ok(0) => true,
        Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
        Ok(_) => false,
    }
}

fn rc(resp: &[u8]) -> u32 {
    u32::from_be_bytes([resp[6], resp[7], resp[8], resp[9]])
}

/// Reads one raw TPM response (header, then the size it announces).
fn read_response(s: &mut TcpStream) -> Vec<u8> {
    let mut r = read_n(s, 10);
    let size = u32::from_be_bytes([r[2], r[3], r[4], r[5]]) as usize;
    assert!((10..=4096).contains(&size), "response size {size}");
    r.extend(read_n(s, size - 10));
    r
}

// ---- mssim ----

/// TPM_SEND_COMMAND on the command port; returns the response after
/// checking the trailing u32 0 acknowledgement.
fn mssim_send(s: &mut TcpStream, locality: u8, cmd: &[u8]) -> Vec<u8> {
    let mut m = be(8).to_vec();
    m.push(locality);
    m.extend(be(cmd.len() as u32));
    m.extend(cmd);
    s.write_all(&m).unwrap();
    let len = read_u32(s) as usize;
    let resp = read_n(s, len);
    assert_eq!(read_u32(s), 0, "acknowledgement");
    resp
}

fn platform(s: &mut TcpStream, signal: u32) -> u32 {
    s.write_all(&be(signal)).unwrap();
    read_u32(s)
}

#[test]
fn mssim_platform_signals_are_acknowledged_with_zero() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start("mssim", &dir.path().join("tpm"), &[]);
    let mut p = srv.second();
    // POWER_ON, NV_ON (what tcti-mssim sends), PHYS_PRES_ON/OFF, CANCEL_ON/
    // OFF, NV_OFF, NV_ON, KEY_CACHE_ON/OFF, RESTART: each answered u32 0.
    for sig in [1, 11, 3, 4, 9, 10, 12, 11, 13, 14, 18] {
        p.write_all(&be(sig)).unwrap();
        assert_eq!(read_n(&mut p, 4), vec![0, 0, 0, 0], "signal {sig}");
    }
    // Several signals in one write are answered in order.
    p.write_all(&[be(1), be(11), be(3)].concat()).unwrap();
    assert_eq!(read_n(&mut p, 12), vec![0; 12]);
    // An unknown signal is answered u32 1, then the connection is closed.
    p.write_all(&be(99)).unwrap();
    assert_eq!(read_u32(&mut p), 1);
    assert!(is_closed(&mut p));
    // SESSION_END closes without an answer.
    let mut p = srv.second();
    p.write_all(&be(20)).unwrap();
    assert!(is_closed(&mut p));
    // The TPM still works.
    let mut c = srv.first();
    assert_eq!(mssim_send(&mut c, 0, &STARTUP_CLEAR), SUCCESS_RESPONSE);
}

#[test]
fn mssim_command_port_framing_and_handshake() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start("mssim", &dir.path().join("tpm"), &[]);
    let mut c = srv.first();
    assert_eq!(mssim_send(&mut c, 0, &STARTUP_CLEAR), SUCCESS_RESPONSE);
    let r1 = mssim_send(&mut c, 0, &GET_RANDOM_8);
    assert_eq!(&r1[..10], &[0x80, 0x01, 0, 0, 0, 20, 0, 0, 0, 0]);
    assert_eq!(&r1[10..12], &[0, 8]);
    let r2 = mssim_send(&mut c, 3, &GET_RANDOM_8);
    assert_ne!(r1[12..], r2[12..], "two GetRandom(8) gave the same bytes");
    // REMOTE_HANDSHAKE: server version 1, flags 0x0d, then the ack.
    c.write_all(&[be(15), be(1)].concat()).unwrap();
    assert_eq!(read_n(&mut c, 12), [be(1), be(0x0d), be(0)].concat());
    // SET_ALTERNATIVE_RESULT, HASH_START, HASH_DATA(abc), HASH_END: ack only.
    c.write_all(&[be(16), be(7)].concat()).unwrap();
    assert_eq!(read_u32(&mut c), 0);
    c.write_all(&be(5)).unwrap();
    assert_eq!(read_u32(&mut c), 0);
    c.write_all(&[&be(6)[..], &be(3), b"abc"].concat()).unwrap();
    assert_eq!(read_u32(&mut c), 0);
    c.write_all(&be(7)).unwrap();
    assert_eq!(read_u32(&mut c), 0);
    // Still in sync.
    assert_eq!(mssim_send(&mut c, 0, &GET_RANDOM_8).len(), 20);
    // Handshake with client version 0 ends the connection.
    c.write_all(&[be(15), be(0)].concat()).unwrap();
    assert!(is_closed(&mut c));
    // An unknown command-port code ends the connection without an answer.
    let mut c = srv.first();
    c.write_all(&be(77)).unwrap();
    assert!(is_closed(&mut c));
    // SESSION_END too.
    let mut c = srv.first();
    c.write_all(&be(20)).unwrap();
    assert!(is_closed(&mut c));
}

#[test]
fn mssim_power_signals_drive_tpm_init() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start("mssim", &dir.path().join("tpm"), &[]);
    let mut c = srv.first();
    let mut p = srv.second();
    assert_eq!(mssim_send(&mut c, 0, &STARTUP_CLEAR), SUCCESS_RESPONSE);
    // POWER_ON while on is a no-op: the TPM stays started.
    assert_eq!(platform(&mut p, 1), 0);
    assert_eq!(rc(&mssim_send(&mut c, 0, &GET_RANDOM_8)), 0);
    // POWER_OFF: commands get an empty response (size 0, then the ack).
    assert_eq!(platform(&mut p, 2), 0);
    c.write_all(&[&be(8)[..], &[0], &be(12), &GET_RANDOM_8].concat())
        .unwrap();
    assert_eq!(read_n(&mut c, 8), vec![0; 8]);
    // SIGNAL_RESET while off does nothing; POWER_ON runs _TPM_Init, so
    // the TPM needs TPM2_Startup again.
    assert_eq!(platform(&mut p, 17), 0);
    c.write_all(&[&be(8)[..], &[0], &be(12), &GET_RANDOM_8].concat())
        .unwrap();
    assert_eq!(read_n(&mut c, 8), vec![0; 8]);
    assert_eq!(platform(&mut p, 1), 0);
    assert_eq!(rc(&mssim_send(&mut c, 0, &GET_RANDOM_8)), RC_INITIALIZE);
    assert_eq!(mssim_send(&mut c, 0, &STARTUP_CLEAR), SUCCESS_RESPONSE);
    // SIGNAL_RESET while on: _TPM_Init again.
    assert_eq!(platform(&mut p, 17), 0);
    assert_eq!(rc(&mssim_send(&mut c, 0, &GET_RANDOM_8)), RC_INITIALIZE);
}

#[test]
fn mssim_command_response_sizes_are_reported_and_reset() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start("mssim", &dir.path().join("tpm"), &[]);
    let mut c = srv.first();
    let mut p = srv.second();
    assert_eq!(mssim_send(&mut c, 0, &STARTUP_CLEAR), SUCCESS_RESPONSE);
    assert_eq!(mssim_send(&mut c, 0, &GET_RANDOM_8).len(), 20);
    p.write_all(&be(25)).unwrap();
    assert_eq!(read_u32(&mut p), 16);
    // The simulator's struct in host byte order: largest command 12 bytes
    // (code bytes as on the wire), largest response 20 bytes (rc 0).
    let mut want = 12u32.to_ne_bytes().to_vec();
    want.extend([0, 0, 0x01, 0x44]);
    want.extend(20u32.to_ne_bytes());
    want.extend([0, 0, 0, 0]);
    assert_eq!(read_n(&mut p, 16), want);
    assert_eq!(read_u32(&mut p), 0);
    p.write_all(&be(25)).unwrap();
    assert_eq!(read_n(&mut p, 24), [&be(16)[..], &[0; 16], &be(0)].concat());
}

#[test]
fn mssim_oversized_and_malformed_commands() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start("mssim", &dir.path().join("tpm"), &[]);
    let mut c = srv.first();
    assert_eq!(mssim_send(&mut c, 0, &STARTUP_CLEAR), SUCCESS_RESPONSE);
    // 5000 bytes (over the 4096-byte buffer) with a consistent header:
    // answered TPM_RC_COMMAND_SIZE, the connection stays in sync.
    let mut big = vec![0u8; 5000];
    big[..10].copy_from_slice(&[0x80, 0x01, 0, 0, 0x13, 0x88, 0, 0, 0x01, 0x7b]);
    let r = mssim_send(&mut c, 0, &big);
    assert_eq!(
        r,
        [&[0x80, 0x01, 0, 0, 0, 10][..], &be(RC_COMMAND_SIZE)].concat()
    );
    assert_eq!(rc(&mssim_send(&mut c, 0, &GET_RANDOM_8)), 0);
    // Garbage and truncated commands get a 10-byte error response.
    for junk in [&[1u8, 2, 3][..], &[], &GET_RANDOM_8[..7], &[0xff; 12]] {
        let r = mssim_send(&mut c, 0, junk);
        assert_eq!(r.len(), 10, "{junk:?}");
        assert_ne!(rc(&r), 0, "{junk:?}");
    }
    // A size field over the simulator's 1 MiB buffer ends the connection.
    c.write_all(&[&be(8)[..], &[0], &be(2 << 20)].concat())
        .unwrap();
    assert!(is_closed(&mut c));
    // A frame cut short by the client: the connection is closed.
    let mut c = srv.first();
    c.write_all(&[&be(8)[..], &[0], &be(12), &GET_RANDOM_8[..5]].concat())
        .unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    assert!(is_closed(&mut c));
    // Other connections are still served.
    let mut c = srv.first();
    assert_eq!(rc(&mssim_send(&mut c, 0, &GET_RANDOM_8)), 0);
}

#[test]
fn mssim_tpm_stop_ends_the_server_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let mut srv = Server::start("mssim", &dir.path().join("tpm"), &[]);
    let mut p = srv.second();
    p.write_all(&be(21)).unwrap();
    assert!(is_closed(&mut p));
    assert!(srv.wait_exit().success());
}

// ---- swtpm ----

/// One control command on a fresh connection, as tcti-swtpm does; returns
/// everything the server sent before closing or going quiet.
fn ctrl(srv: &Server, cmd: u32, body: &[u8]) -> Vec<u8> {
    let mut s = srv.second();
    s.write_all(&[&be(cmd)[..], body].concat()).unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    out
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Sends one raw command on a fresh data connection and reads the response.
fn raw(srv: &Server, cmd: &[u8]) -> Vec<u8> {
    let mut d = srv.first();
    d.write_all(cmd).unwrap();
    read_response(&mut d)
}

#[test]
fn swtpm_control_commands_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start("swtpm", &dir.path().join("tpm"), &[]);
    // Capabilities: everything but HASHING and STORE_VOLATILE, plus
    // SEND_COMMAND_HEADER and LOCK_STORAGE.
    assert_eq!(hex(&ctrl(&srv, 0x01, &[])), "000000000001ffaf");
    assert_eq!(hex(&ctrl(&srv, 0x04, &[])), "0000000000000000");
    assert_eq!(hex(&ctrl(&srv, 0x05, &[5])), "0000003d");
    assert_eq!(hex(&ctrl(&srv, 0x05, &[0])), "00000000");
    assert_eq!(hex(&ctrl(&srv, 0x0b, &[0])), "0000003d");
    assert_eq!(hex(&ctrl(&srv, 0x0b, &[9])), "0000003d");
    assert_eq!(hex(&ctrl(&srv, 0x0b, &[3])), "00000000");
    assert_eq!(hex(&ctrl(&srv, 0x09, &[])), "00000000");
    assert_eq!(hex(&ctrl(&srv, 0x0f, &[])), "0000000000000000");
    assert_eq!(hex(&ctrl(&srv, 0x0f, &[0])), "00000003");
    assert_eq!(
        hex(&ctrl(&srv, 0x11, &be(0))),
        "00000000000010000000100000001000"
    );
    assert_eq!(hex(&ctrl(&srv, 0x11, &be(1000))), "0000000a");
    assert_eq!(hex(&ctrl(&srv, 0x06, &[])), "00000009");
    assert_eq!(
        hex(&ctrl(&srv, 0x07, &[&be(3)[..], b"abc"].concat())),
        "00000009"
    );
    assert_eq!(hex(&ctrl(&srv, 0x08, &[])), "00000009");
    assert_eq!(hex(&ctrl(&srv, 0x0a, &[])), "00000009");
    assert_eq!(hex(&ctrl(&srv, 0x10, &[])), "0000001f");
    assert_eq!(hex(&ctrl(&srv, 0x13, &be(10))), "00000000");
    assert_eq!(hex(&ctrl(&srv, 0x99, &[])), "0000000a");
    assert_eq!(hex(&ctrl(&srv, 0x0e, &[0])), "00000003");
    // A message shorter than its command needs: no answer (swtpm waits
    // 500 ms for the rest, then closes).
    assert_eq!(hex(&ctrl(&srv, 0x02, &[0])), "");
    // GET_INFO: {res, totlength, length} then the NUL-terminated JSON.
    let info = |flags: u64, offset: u32| {
        ctrl(
            &srv,
            0x12,
            &[&flags.to_be_bytes()[..], &be(offset), &be(0)].concat(),
        )
    };
    assert_eq!(hex(&info(0, 0)), "0000000000000003000000037b7d00");
    let r = info(3, 0);
    assert_eq!(&r[..4], &[0, 0, 0, 0]);
    let total = u32::from_be_bytes([r[4], r[5], r[6], r[7]]) as usize;
    assert_eq!(r.len(), 12 + total);
    assert_eq!(r.last(), Some(&0));
    let json: serde_json::Value = serde_json::from_slice(&r[12..r.len() - 1]).unwrap();
    assert_eq!(json["TPMSpecification"]["family"], "2.0");
    assert_eq!(json["TPMAttributes"]["model"], "trustcloud");
    assert!(json["TPMAttributes"]["manufacturer"]
        .as_str()
        .unwrap()
        .starts_with("id:"));
    let r10 = info(3, 10);
    assert_eq!(&r10[4..8], &r[4..8], "totlength is the whole string");
    assert_eq!(&r10[12..], &r[22..]);
    assert_eq!(hex(&info(1, 9999)), "00000003");
}

#[test]
fn swtpm_control_connection_carries_several_commands_and_drops_short_ones() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start("swtpm", &dir.path().join("tpm"), &[]);
    // QEMU keeps one control connection open for many commands.
    let mut s = srv.second();
    for _ in 0..3 {
        s.write_all(&be(0x04)).unwrap();
        assert_eq!(read_n(&mut s, 8), vec![0; 8]);
        s.write_all(&[&be(0x05)[..], &[0]].concat()).unwrap();
        assert_eq!(read_u32(&mut s), 0);
    }
    // A message missing its body: after swtpm's 500 ms the connection is
    // closed without an answer.
    s.write_all(&be(0x05)).unwrap();
    let t = Instant::now();
    assert!(is_closed(&mut s));
    assert!(
        t.elapsed() >= Duration::from_millis(400),
        "{:?}",
        t.elapsed()
    );
    // A message shorter than a command code, then EOF: closed, no answer.
    assert_eq!(ctrl(&srv, 0, &[]).len(), 4, "code 0 is unknown: answered");
    let mut s = srv.second();
    s.write_all(&[0, 1]).unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    assert!(is_closed(&mut s));
}

#[test]
fn swtpm_stop_init_and_fatal_responses() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start("swtpm", &dir.path().join("tpm"), &[]);
    assert_eq!(raw(&srv, &STARTUP_CLEAR), SUCCESS_RESPONSE);
    assert_eq!(hex(&ctrl(&srv, 0x0e, &[])), "00000000");
    // Stopped: TPM commands get TPM_RC_FAILURE, running-only control
    // commands TPM_BAD_ORDINAL; the buffer size may now be set.
    assert_eq!(
        raw(&srv, &GET_RANDOM_8),
        [&[0x80, 0x01, 0, 0, 0, 10][..], &be(RC_FAILURE)].concat()
    );
    assert_eq!(hex(&ctrl(&srv, 0x04, &[])), "0000000a");
    assert_eq!(hex(&ctrl(&srv, 0x0c, &[0; 12])), "0000000a");
    assert_eq!(
        hex(&ctrl(&srv, 0x11, &be(1000))),
        "00000000000010000000100000001000"
    );
    // CMD_INIT: _TPM_Init, so TPM2_Startup is needed again.
    assert_eq!(hex(&ctrl(&srv, 0x02, &be(1))), "00000000");
    assert_eq!(rc(&raw(&srv, &GET_RANDOM_8)), RC_INITIALIZE);
    assert_eq!(raw(&srv, &STARTUP_CLEAR), SUCCESS_RESPONSE);
    assert_eq!(rc(&raw(&srv, &GET_RANDOM_8)), 0);
}

#[test]
fn swtpm_state_blobs() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("tpm");
    let srv = Server::start("swtpm", &state, &[]);
    let get = |ty: u32, offset: u32| ctrl(&srv, 0x0c, &[be(0), be(ty), be(offset)].concat());
    let r = get(1, 0);
    assert_eq!(&r[..8], &[0; 8], "result 0, not encrypted");
    let total = u32::from_be_bytes([r[8], r[9], r[10], r[11]]) as usize;
    assert_eq!(&r[12..16], &r[8..12], "length == totlength");
    assert_eq!(r.len(), 16 + total);
    let blob = r[16..].to_vec();
    let r4 = get(1, 4);
    assert_eq!(
        u32::from_be_bytes([r4[8], r4[9], r4[10], r4[11]]) as usize,
        total - 4
    );
    assert_eq!(&r4[16..20], &blob[4..8]);
    // Volatile/savestate blobs are not available; unknown types as swtpm.
    assert_eq!(hex(&get(2, 0)), "00000009000000000000000000000000");
    assert_eq!(hex(&get(9, 0)), "00000800000000000000000000000000");
    let set = |ty: u32, data: &[u8]| {
        ctrl(
            &srv,
            0x0d,
            &[&be(0)[..], &be(ty), &be(data.len() as u32), data].concat(),
        )
    };
    // Only while stopped.
    assert_eq!(hex(&set(1, &blob)), "0000000a");
    assert_eq!(hex(&ctrl(&srv, 0x0e, &[])), "00000000");
    // A corrupt blob is refused and the state file is untouched.
    let file = state.join(vtpm::STATE_FILE);
    let before = std::fs::read(&file).unwrap();
    let mut bad = blob.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 0x40;
    assert_eq!(hex(&set(1, &bad)), "00000003");
    assert_eq!(std::fs::read(&file).unwrap(), before);
    // A good one is stored as is.
    assert_eq!(hex(&set(1, &blob)), "00000000");
    assert_eq!(std::fs::read(&file).unwrap(), blob);
    assert_eq!(hex(&set(2, &blob)), "00000009");
    assert_eq!(hex(&ctrl(&srv, 0x02, &be(0))), "00000000");
    assert_eq!(raw(&srv, &STARTUP_CLEAR), SUCCESS_RESPONSE);
}

#[test]
fn swtpm_data_port_raw_and_prefixed_frames() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start("swtpm", &dir.path().join("tpm"), &[]);
    // tcti-swtpm's start-up probe: connect and close.
    drop(srv.first());
    // Raw commands, several on one connection.
    let mut d = srv.first();
    d.write_all(&STARTUP_CLEAR).unwrap();
    assert_eq!(read_response(&mut d), SUCCESS_RESPONSE);
    d.write_all(&GET_RANDOM_8).unwrap();
    let r = read_response(&mut d);
    assert_eq!(&r[..12], &[0x80, 0x01, 0, 0, 0, 20, 0, 0, 0, 0, 0, 8]);
    // Command bytes may arrive in pieces.
    for b in GET_RANDOM_8 {
        d.write_all(&[b]).unwrap();
        thread::sleep(Duration::from_millis(2));
    }
    assert_eq!(rc(&read_response(&mut d)), 0);
    // The simulator-framed form: {8, locality, size, command} answered
    // {size, response, 0}; may be mixed with raw frames.
    d.write_all(&[&be(8)[..], &[3], &be(12), &GET_RANDOM_8].concat())
        .unwrap();
    assert_eq!(read_u32(&mut d), 20);
    assert_eq!(
        &read_n(&mut d, 20)[..10],
        &[0x80, 0x01, 0, 0, 0, 20, 0, 0, 0, 0]
    );
    assert_eq!(read_u32(&mut d), 0);
    d.write_all(&GET_RANDOM_8).unwrap();
    assert_eq!(rc(&read_response(&mut d)), 0);
}

#[test]
fn swtpm_data_port_malformed_and_oversized_frames() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start("swtpm", &dir.path().join("tpm"), &[]);
    assert_eq!(raw(&srv, &STARTUP_CLEAR), SUCCESS_RESPONSE);
    // Over the 4096-byte buffer: TPM_RC_COMMAND_SIZE, connection in sync.
    let mut d = srv.first();
    let mut big = vec![0u8; 5000];
    big[..10].copy_from_slice(&[0x80, 0x01, 0, 0, 0x13, 0x88, 0, 0, 0x01, 0x7b]);
    d.write_all(&big).unwrap();
    assert_eq!(
        read_response(&mut d),
        [&[0x80, 0x01, 0, 0, 0, 10][..], &be(RC_COMMAND_SIZE)].concat()
    );
    d.write_all(&GET_RANDOM_8).unwrap();
    assert_eq!(rc(&read_response(&mut d)), 0);
    // Over 1 MiB: answered, then closed.
    let mut d = srv.first();
    d.write_all(&[0x80, 0x01, 0x00, 0x20, 0, 0, 0, 0, 0x01, 0x7b])
        .unwrap();
    assert_eq!(rc(&read_response(&mut d)), RC_COMMAND_SIZE);
    assert!(is_closed(&mut d));
    // An unknown tag: the TPM's answer (TPM_RC_BAD_TAG), then closed.
    let mut d = srv.first();
    d.write_all(&[0x12, 0x34, 0, 0, 0, 12, 0, 0, 0x01, 0x7b, 0, 8])
        .unwrap();
    assert_eq!(rc(&read_response(&mut d)), RC_BAD_TAG);
    assert!(is_closed(&mut d));
    // A size field under the header size: an error, then closed.
    let mut d = srv.first();
    d.write_all(&[0x80, 0x01, 0, 0, 0, 4, 0, 0, 0x01, 0x7b])
        .unwrap();
    assert_ne!(rc(&read_response(&mut d)), 0);
    assert!(is_closed(&mut d));
    // Cut short by the client after the header: the TPM's answer to what
    // arrived (TPM_RC_COMMAND_SIZE, as swtpm), then closed; before the
    // header is complete: closed without an answer.
    let mut d = srv.first();
    d.write_all(&GET_RANDOM_8[..11]).unwrap();
    d.shutdown(Shutdown::Write).unwrap();
    assert_eq!(rc(&read_response(&mut d)), RC_COMMAND_SIZE);
    assert!(is_closed(&mut d));
    let mut d = srv.first();
    d.write_all(&[&be(8)[..], &[0], &be(12), &GET_RANDOM_8[..11]].concat())
        .unwrap();
    d.shutdown(Shutdown::Write).unwrap();
    assert_eq!(read_u32(&mut d), 10);
    assert_eq!(rc(&read_n(&mut d, 10)), RC_COMMAND_SIZE);
    assert_eq!(read_u32(&mut d), 0);
    assert!(is_closed(&mut d));
    let mut d = srv.first();
    d.write_all(&GET_RANDOM_8[..7]).unwrap();
    d.shutdown(Shutdown::Write).unwrap();
    assert!(is_closed(&mut d));
    // The server still serves.
    assert_eq!(rc(&raw(&srv, &GET_RANDOM_8)), 0);
}

#[test]
fn swtpm_cmd_shutdown_ends_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let mut srv = Server::start("swtpm", &dir.path().join("tpm"), &[]);
    assert_eq!(hex(&ctrl(&srv, 0x03, &[])), "00000000");
    assert!(srv.wait_exit().success());
}

// ---- persistence ----

#[test]
fn restart_keeps_the_tpm_and_refuses_corrupt_state() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("tpm");
    let file = state.join(vtpm::STATE_FILE);
    let mut srv = Server::start("mssim", &state, &["--pcr-banks", "sha1,sha256"]);
    assert!(
        srv.stderr().contains("manufacturing a new TPM"),
        "{}",
        srv.stderr()
    );
    assert!(file.is_file(), "the new TPM is stored before serving");
    let mut c = srv.first();
    assert_eq!(mssim_send(&mut c, 0, &STARTUP_CLEAR), SUCCESS_RESPONSE);
    let pcrs_before = mssim_send(&mut c, 0, &GET_CAP_PCRS);
    assert_eq!(rc(&pcrs_before), 0);
    // The second server on the same directory is refused.
    match Server::try_start("mssim", &state, &[]) {
        Err((status, err)) => {
            assert!(!status.unwrap().success());
            assert!(err.contains("in use"), "{err}");
        }
        Ok(_) => panic!("two servers on one state directory"),
    }
    assert!(srv.terminate().success());
    let seeds = std::fs::read(&file).unwrap();

    // Restarted (a power cycle), asking for other banks: the TPM is the
    // same one, its allocation kept.
    let mut srv = Server::start("mssim", &state, &["--pcr-banks", "sha384"]);
    let err = srv.stderr();
    assert!(err.contains("loaded the TPM"), "{err}");
    assert!(err.contains("existing allocation is kept"), "{err}");
    let mut c = srv.first();
    assert_eq!(rc(&mssim_send(&mut c, 0, &GET_RANDOM_8)), RC_INITIALIZE);
    assert_eq!(mssim_send(&mut c, 0, &STARTUP_CLEAR), SUCCESS_RESPONSE);
    assert_eq!(mssim_send(&mut c, 0, &GET_CAP_PCRS), pcrs_before);
    assert!(srv.terminate().success());
    assert_eq!(std::fs::read(&file).unwrap().len(), seeds.len());

    // One flipped byte: refused with the file named, non-zero exit, and
    // the file left as it is.
    let mut bytes = std::fs::read(&file).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    std::fs::write(&file, &bytes).unwrap();
    let (status, err) = Server::try_start("swtpm", &state, &[]).err().unwrap();
    assert!(!status.unwrap().success());
    assert!(err.contains(&file.display().to_string()), "{err}");
    assert!(err.contains("refused"), "{err}");
    assert_eq!(std::fs::read(&file).unwrap(), bytes);

    // Truncated: refused as well.
    std::fs::write(&file, &bytes[..bytes.len() / 3]).unwrap();
    let (status, err) = Server::try_start("mssim", &state, &[]).err().unwrap();
    assert!(!status.unwrap().success());
    assert!(err.contains("refused"), "{err}");
}

#[test]
fn bad_command_lines_are_refused() {
    let out = Command::new(env!("CARGO_BIN_EXE_trustcloud"))
        .args([
            "tpm",
            "serve",
            "--pcr-banks",
            "sha256,md5",
            "--state-dir",
            "/nonexistent/x",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown PCR bank \"md5\""), "{err}");
    assert!(out.stdout.is_empty());
}
