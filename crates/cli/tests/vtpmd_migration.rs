//! vtpmd live migration over the control socket, exactly as QEMU's
//! `-tpmdev emulator` drives it (backends/tpm/tpm_emulator.c): on the
//! source CMD_GET_STATEBLOB of PERMANENT, VOLATILE and SAVESTATE with
//! PTM_STATE_FLAG_DECRYPTED while the TPM runs; on the destination
//! CMD_STOP, CMD_SET_STATEBLOB of each non-empty blob with the flags the
//! source returned, then CMD_INIT(PTM_INIT_FLAG_DELETE_VOLATILE).
//!
//! Checks: the blobs are sealed (PTM_STATE_FLAG_ENCRYPTED, no engine
//! magic or PCR value in them) even though QEMU asks for decrypted ones;
//! the destination (`vtpm create B --incoming A`) resumes with A's PCRs
//! without TPM2_Startup and keeps the state across a daemon restart;
//! blobs sealed for another vTPM, by another daemon, tampered with or in
//! the clear are refused with TPM_DECRYPT_ERROR and a log line naming the
//! instance; `--migration-plaintext` hands out the clear engine blobs.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;
use sha2::{Digest, Sha256};
use support::{run_bounded, IO_TIMEOUT, SERVER_START_TIMEOUT, TOOL_TIMEOUT};
use tempfile::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_trustcloud");

const GET_CAPABILITY: u32 = 0x01;
const INIT: u32 = 0x02;
const GET_STATEBLOB: u32 = 0x0c;
const SET_STATEBLOB: u32 = 0x0d;
const STOP: u32 = 0x0e;
const SET_DATAFD: u32 = 0x10;

const PERMANENT: u32 = 1;
const VOLATILE: u32 = 2;
const SAVESTATE: u32 = 3;
const FLAG_DECRYPTED: u32 = 1;
const FLAG_ENCRYPTED: u32 = 2;
const INIT_FLAG_DELETE_VOLATILE: u32 = 1;
const TPM_DECRYPT_ERROR: u32 = 0x21;
const TPM_RC_INITIALIZE: u32 = 0x100;

struct Vtpmd {
    dir: TempDir,
    child: Option<Child>,
}

impl Vtpmd {
    fn start() -> Vtpmd {
        let dir = tempfile::Builder::new()
            .prefix("vtpmd-mig-")
            .tempdir()
            .unwrap();
        let mut d = Vtpmd { dir, child: None };
        d.spawn();
        d
    }

    fn run_dir(&self) -> PathBuf {
        self.dir.path().join("run")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("vtpmd.log")).unwrap_or_default()
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("vtpmd.log"))
            .unwrap();
        let mut child = Command::new(BIN)
            .args(["vtpmd", "--state-dir"])
            .arg(self.dir.path().join("state"))
            .arg("--run-dir")
            .arg(self.run_dir())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        self.child = Some(child);
        let line = rx.recv_timeout(SERVER_START_TIMEOUT).unwrap_or_default();
        assert!(
            line.starts_with("ready "),
            "vtpmd not ready: {line:?}\n{}",
            self.log()
        );
    }

    fn restart(&mut self) {
        let mut c = self.child.take().expect("running");
        // SAFETY: kill(2) on our own unreaped child.
        unsafe {
            libc::kill(c.id() as libc::pid_t, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        while matches!(c.try_wait(), Ok(None)) {
            assert!(Instant::now() < deadline, "vtpmd did not stop");
            thread::sleep(Duration::from_millis(10));
        }
        self.spawn();
    }

    fn create(&self, args: &[&str]) -> Value {
        let mut cmd = Command::new(BIN);
        cmd.arg("vtpm")
            .arg("create")
            .args(args)
            .arg("--run-dir")
            .arg(self.run_dir())
            .arg("--json");
        let out = run_bounded(cmd, None, TOOL_TIMEOUT);
        assert!(
            out.success(),
            "vtpm create {args:?}: {out:?}\n{}",
            self.log()
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    fn show(&self, name: &str) -> Value {
        let mut cmd = Command::new(BIN);
        cmd.args(["vtpm", "show", name, "--json", "--run-dir"])
            .arg(self.run_dir());
        let out = run_bounded(cmd, None, TOOL_TIMEOUT);
        assert!(out.success(), "vtpm show {name}: {out:?}");
        serde_json::from_slice(&out.stdout).unwrap()
    }

    fn ctrl(&self, name: &str) -> PathBuf {
        self.run_dir().join(format!("{name}.ctrl"))
    }
}

impl Drop for Vtpmd {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Sends `bytes` with `fd` attached by SCM_RIGHTS, as QEMU sends
/// CMD_SET_DATAFD.
fn send_with_fd(sock: &UnixStream, bytes: &[u8], fd: i32) {
    use std::os::fd::AsFd;
    let n = vtpm::daemon::send_with_fds(sock.as_fd(), bytes, &[fd]).unwrap();
    assert_eq!(n, bytes.len());
}

/// QEMU's side of one vTPM: control connection and data channel.
struct Qemu {
    ctrl: UnixStream,
    data: UnixStream,
}

impl Qemu {
    fn attach(path: &Path) -> Qemu {
        let ctrl = UnixStream::connect(path).unwrap();
        ctrl.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        let mut q = Qemu {
            data: ctrl.try_clone().unwrap(),
            ctrl,
        };
        let caps = u64::from_be_bytes(q.call(GET_CAPABILITY, &[], 8).try_into().unwrap());
        assert_eq!(caps & 0x300, 0x300, "GET/SET_STATEBLOB advertised");
        let (ours, theirs) = UnixStream::pair().unwrap();
        send_with_fd(&q.ctrl, &SET_DATAFD.to_be_bytes(), theirs.as_raw_fd());
        drop(theirs);
        let mut res = [0u8; 4];
        q.ctrl.read_exact(&mut res).unwrap();
        assert_eq!(res, [0; 4]);
        ours.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        q.data = ours;
        q
    }

    fn call(&mut self, code: u32, payload: &[u8], resp_len: usize) -> Vec<u8> {
        let mut m = code.to_be_bytes().to_vec();
        m.extend_from_slice(payload);
        self.ctrl.write_all(&m).unwrap();
        let mut r = vec![0u8; resp_len];
        self.ctrl.read_exact(&mut r).unwrap();
        r
    }

    fn result(&mut self, code: u32, payload: &[u8]) -> u32 {
        u32::from_be_bytes(self.call(code, payload, 4).try_into().unwrap())
    }

    fn init(&mut self, flags: u32) {
        assert_eq!(self.result(INIT, &flags.to_be_bytes()), 0, "CMD_INIT");
    }

    /// tpm_emulator_get_state_blob: (result, state_flags, blob).
    fn get_blob(&mut self, blob_type: u32) -> (u32, u32, Vec<u8>) {
        let mut req = FLAG_DECRYPTED.to_be_bytes().to_vec();
        req.extend_from_slice(&blob_type.to_be_bytes());
        req.extend_from_slice(&0u32.to_be_bytes());
        let h = self.call(GET_STATEBLOB, &req, 16);
        let word = |i: usize| u32::from_be_bytes(h[i..i + 4].try_into().unwrap());
        assert_eq!(word(8), word(12), "totlength == length");
        let mut blob = vec![0u8; word(8) as usize];
        self.ctrl.read_exact(&mut blob).unwrap();
        (word(0), word(4), blob)
    }

    /// tpm_emulator_set_state_blob: header, body, result.
    fn set_blob(&mut self, blob_type: u32, flags: u32, blob: &[u8]) -> u32 {
        let mut req = flags.to_be_bytes().to_vec();
        req.extend_from_slice(&blob_type.to_be_bytes());
        req.extend_from_slice(&(blob.len() as u32).to_be_bytes());
        req.extend_from_slice(blob);
        self.result(SET_STATEBLOB, &req)
    }

    fn transmit(&mut self, command: &[u8]) -> Vec<u8> {
        self.data.write_all(command).unwrap();
        let mut resp = vec![0u8; 10];
        self.data.read_exact(&mut resp).unwrap();
        let size = u32::from_be_bytes(resp[2..6].try_into().unwrap()) as usize;
        resp.resize(size, 0);
        self.data.read_exact(&mut resp[10..]).unwrap();
        resp
    }

    fn rc(&mut self, command: &[u8]) -> u32 {
        u32::from_be_bytes(self.transmit(command)[6..10].try_into().unwrap())
    }

    fn pcr(&mut self, pcr: u32) -> Vec<u8> {
        let mut select = [0u8; 3];
        select[(pcr / 8) as usize] = 1 << (pcr % 8);
        let mut c = vec![
            0x80, 0x01, 0, 0, 0, 20, 0, 0, 0x01, 0x7e, 0, 0, 0, 1, 0, 0x0b, 3,
        ];
        c.extend_from_slice(&select);
        let r = self.transmit(&c);
        assert_eq!(&r[6..10], &[0; 4], "PCR_Read rc");
        r[30..62].to_vec()
    }
}

const STARTUP_CLEAR: [u8; 12] = [0x80, 0x01, 0, 0, 0, 12, 0, 0, 0x01, 0x44, 0, 0];

fn pcr_extend(pcr: u32, digest: &[u8; 32]) -> Vec<u8> {
    let mut c = vec![0x80, 0x02, 0, 0, 0, 0, 0, 0, 0x01, 0x82];
    c.extend_from_slice(&pcr.to_be_bytes());
    c.extend_from_slice(&9u32.to_be_bytes());
    c.extend_from_slice(&0x4000_0009u32.to_be_bytes());
    c.extend_from_slice(&[0, 0, 0, 0, 0]);
    c.extend_from_slice(&1u32.to_be_bytes());
    c.extend_from_slice(&0x000bu16.to_be_bytes());
    c.extend_from_slice(digest);
    let len = c.len() as u32;
    c[2..6].copy_from_slice(&len.to_be_bytes());
    c
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// A running source vTPM with PCR 16 extended: (QEMU side, PCR 16 value).
fn running_source(d: &Vtpmd, name: &str) -> (Qemu, Vec<u8>) {
    let mut q = Qemu::attach(&d.ctrl(name));
    q.init(0);
    assert_eq!(q.rc(&STARTUP_CLEAR), 0);
    assert_eq!(q.rc(&pcr_extend(16, &[0x5a; 32])), 0);
    let v = q.pcr(16);
    let want = Sha256::new()
        .chain_update([0u8; 32])
        .chain_update([0x5a; 32])
        .finalize()
        .to_vec();
    assert_eq!(v, want);
    (q, v)
}

/// The three blobs as QEMU's pre_save fetches them: (flags, blob) each.
fn fetch(q: &mut Qemu) -> Vec<(u32, u32, Vec<u8>)> {
    [PERMANENT, VOLATILE, SAVESTATE]
        .into_iter()
        .map(|t| {
            let (res, flags, blob) = q.get_blob(t);
            assert_eq!(res, 0, "GET_STATEBLOB({t})");
            (t, flags, blob)
        })
        .collect()
}

/// QEMU's post_load on the destination; returns the first failing result.
fn push(q: &mut Qemu, blobs: &[(u32, u32, Vec<u8>)]) -> u32 {
    assert_eq!(q.result(STOP, &[]), 0);
    for (t, flags, blob) in blobs {
        if blob.is_empty() {
            continue;
        }
        let r = q.set_blob(*t, *flags, blob);
        if r != 0 {
            return r;
        }
    }
    q.init(INIT_FLAG_DELETE_VOLATILE);
    0
}

#[test]
fn sealed_migration_resumes_the_destination_and_refuses_foreign_blobs() {
    let mut d = Vtpmd::start();
    d.create(&["src", "--ek", "ecc-p256"]);
    let info = d.create(&["dst", "--incoming", "src"]);
    assert_eq!(info["incoming"], "src");
    let shown = d.show("dst");
    let version_before = shown["state_version"].as_u64().expect("state_version");
    // It describes the TPM it will receive: the source's EKs.
    assert_eq!(shown["eks"], d.show("src")["eks"]);
    assert_eq!(shown["eks"][0]["kind"], "ecc-p256");
    d.create(&["wrong", "--incoming", "elsewhere"]);
    d.create(&["dst-b", "--incoming", "src"]);

    let (mut src, pcr16) = running_source(&d, "src");
    let blobs = fetch(&mut src);
    for (t, flags, blob) in &blobs[..2] {
        assert_eq!(*flags, FLAG_ENCRYPTED, "blob {t} marked encrypted");
        assert!(blob.starts_with(b"TCVM"), "blob {t} sealed");
        assert!(!contains(blob, b"TCTPMST") && !contains(blob, b"TCTPMVL"));
        assert!(!contains(blob, &pcr16), "PCR value readable in blob {t}");
    }
    assert!(blobs[2].2.is_empty(), "SAVESTATE is empty (in PERMANENT)");
    // The source runs on (a failed migration resumes the VM there).
    assert_eq!(src.pcr(16), pcr16);

    // Destination: QEMU -incoming INITs the blank TPM at machine reset,
    // then loads the migrated state.
    let mut dst = Qemu::attach(&d.ctrl("dst"));
    dst.init(0);
    assert_eq!(push(&mut dst, &blobs), 0);
    assert_eq!(dst.pcr(16), pcr16, "PCR 16 migrated");
    assert_eq!(dst.rc(&STARTUP_CLEAR), TPM_RC_INITIALIZE, "already started");
    assert_eq!(dst.rc(&pcr_extend(16, &[1; 32])), 0);
    // The received state was stored as a newer version (rollback record).
    let version_after = d.show("dst")["state_version"].as_u64().unwrap();
    assert!(
        version_after > version_before,
        "state version {version_before} -> {version_after}"
    );

    // Another destination, a tampered blob, a clear blob: refused.
    let mut wrong = Qemu::attach(&d.ctrl("wrong"));
    wrong.init(0);
    assert_eq!(push(&mut wrong, &blobs), TPM_DECRYPT_ERROR);
    let mut tampered = blobs.clone();
    let mid = tampered[0].2.len() / 2;
    tampered[0].2[mid] ^= 1;
    let mut dst2 = Qemu::attach(&d.ctrl("dst-b"));
    dst2.init(0);
    assert_eq!(push(&mut dst2, &tampered), TPM_DECRYPT_ERROR);
    // VOLATILE sealed as PERMANENT: the type is authenticated.
    assert_eq!(
        dst2.set_blob(PERMANENT, FLAG_ENCRYPTED, &blobs[1].2),
        TPM_DECRYPT_ERROR
    );
    drop((src, dst, dst2, wrong));
    let log = d.log();
    assert!(
        log.contains("sealed for another vTPM") && log.contains("wrong"),
        "log names the refusing instance:\n{log}"
    );
    assert!(
        log.contains("does not open with this daemon's keys"),
        "{log}"
    );

    // The received state is durable: after a restart dst loads and boots
    // (TPM Reset: PCR 16 back to zeros) with src's seeds.
    d.restart();
    let mut dst = Qemu::attach(&d.ctrl("dst"));
    dst.init(0);
    assert_eq!(dst.rc(&STARTUP_CLEAR), 0);
    assert_eq!(dst.pcr(16), vec![0; 32]);

    // Another daemon (another master key) cannot open them.
    let other = Vtpmd::start();
    other.create(&["dst", "--incoming", "src"]);
    let mut q = Qemu::attach(&other.ctrl("dst"));
    q.init(0);
    assert_eq!(push(&mut q, &blobs), TPM_DECRYPT_ERROR);
    drop(q);
    let log = other.log();
    assert!(
        log.contains("does not open with this daemon's keys") && log.contains("dst"),
        "{log}"
    );
}

#[test]
fn plaintext_migration_only_when_configured() {
    let d = Vtpmd::start();
    d.create(&["clear", "--ek", "ecc-p256", "--migration-plaintext"]);
    d.create(&["sealed-dst", "--incoming", "clear"]);
    let clear_dst = d.create(&["clear-dst", "--incoming", "clear", "--migration-plaintext"]);
    assert_eq!(clear_dst["migration_plaintext"], true);
    let (mut src, pcr16) = running_source(&d, "clear");
    let blobs = fetch(&mut src);
    assert_eq!(blobs[0].1, 0, "not marked encrypted");
    assert!(
        blobs[0].2.starts_with(b"TCTPMST\0"),
        "engine blob in the clear"
    );
    assert!(blobs[1].2.starts_with(b"TCTPMVL\0"));
    assert!(contains(&blobs[1].2, &pcr16), "PCR value readable");
    // A destination without --migration-plaintext refuses clear blobs.
    let mut q = Qemu::attach(&d.ctrl("sealed-dst"));
    q.init(0);
    assert_eq!(push(&mut q, &blobs), TPM_DECRYPT_ERROR);
    assert!(d.log().contains("accepts only sealed blobs"), "{}", d.log());
    let mut q = Qemu::attach(&d.ctrl("clear-dst"));
    q.init(0);
    assert_eq!(push(&mut q, &blobs), 0);
    assert_eq!(q.pcr(16), pcr16);
}
