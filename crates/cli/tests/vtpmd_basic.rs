//! `trustcloud vtpmd` and `trustcloud vtpm`: a daemon hosting several
//! vTPMs, driven by tpm2-tools over TCP and by a QEMU-like client over the
//! control socket with the data channel passed by SCM_RIGHTS; instances,
//! PCRs (saved by TPM2_Shutdown(STATE)) and NV survive a daemon restart;
//! export, delete and import round-trip the TPM's seeds.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;
use sha2::{Digest, Sha256};
use support::{
    parse, run_bounded, ToolOutput, Tools, IO_TIMEOUT, SERVER_START_TIMEOUT, TOOL_TIMEOUT,
};
use tempfile::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_trustcloud");

/// A `trustcloud vtpmd` child on a temporary state and run directory.
struct Vtpmd {
    dir: TempDir,
    child: Option<Child>,
    ready: String,
    extra: Vec<String>,
}

impl Vtpmd {
    fn start() -> Vtpmd {
        Vtpmd::start_with(&[])
    }

    fn start_with(extra: &[&str]) -> Vtpmd {
        let dir = tempfile::Builder::new()
            .prefix("vtpmd-test-")
            .tempdir()
            .unwrap();
        let mut d = Vtpmd {
            dir,
            child: None,
            ready: String::new(),
            extra: extra.iter().map(|s| s.to_string()).collect(),
        };
        d.spawn();
        d
    }

    fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    fn run_dir(&self) -> PathBuf {
        self.dir.path().join("run")
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("vtpmd.log")
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log())
            .unwrap();
        let mut child = Command::new(BIN)
            .args(["vtpmd", "-v", "--state-dir"])
            .arg(self.state())
            .arg("--run-dir")
            .arg(self.run_dir())
            .args(&self.extra)
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
        let line = rx
            .recv_timeout(SERVER_START_TIMEOUT)
            .unwrap_or_else(|_| panic!("vtpmd did not get ready; log:\n{}", self.log_text()));
        assert!(
            line.starts_with("ready socket="),
            "unexpected first line {line:?}; log:\n{}",
            self.log_text()
        );
        self.ready = line.trim().to_string();
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(self.log()).unwrap_or_default()
    }

    /// SIGTERM and wait: the daemon stores every loaded vTPM first.
    fn stop(&mut self) {
        let mut c = self.child.take().expect("running");
        unsafe {
            libc::kill(c.id() as libc::pid_t, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(st) = c.try_wait().unwrap() {
                assert!(st.success(), "vtpmd exit {st}; log:\n{}", self.log_text());
                return;
            }
            assert!(Instant::now() < deadline, "vtpmd did not stop on SIGTERM");
            thread::sleep(Duration::from_millis(10));
        }
    }

    fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// `trustcloud vtpm ARGS --run-dir RUN`.
    fn vtpm(&self, args: &[&str]) -> ToolOutput {
        let mut cmd = Command::new(BIN);
        cmd.arg("vtpm")
            .args(args)
            .arg("--run-dir")
            .arg(self.run_dir());
        let mut out = run_bounded(cmd, None, TOOL_TIMEOUT);
        out.server_log = Some(self.log());
        out
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.vtpm(args);
        assert!(out.success(), "expected success: {out:?}");
        out.stdout_str()
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut a = args.to_vec();
        a.push("--json");
        serde_json::from_str(&self.ok(&a)).unwrap()
    }

    fn fails(&self, args: &[&str]) -> String {
        let out = self.vtpm(args);
        assert!(!out.success(), "expected failure: {out:?}");
        out.stderr
    }

    fn tools(&self, info: &Value) -> Tools {
        let work = self.dir.path().join("work");
        std::fs::create_dir_all(&work).unwrap();
        Tools {
            tcti: info["listen"]["tcti"].as_str().unwrap().to_string(),
            cwd: work,
            server_log: Some(self.log()),
        }
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

// ---------------------------------------------------------------------------
// A QEMU-like client of the control socket: exactly what QEMU's
// `-tpmdev emulator` does (tpm_emulator.c).

mod cmd {
    pub const GET_CAPABILITY: u32 = 0x01;
    pub const INIT: u32 = 0x02;
    pub const SHUTDOWN: u32 = 0x03;
    pub const GET_TPMESTABLISHED: u32 = 0x04;
    pub const SET_LOCALITY: u32 = 0x05;
    pub const RESET_TPMESTABLISHED: u32 = 0x0b;
    pub const STOP: u32 = 0x0e;
    pub const SET_DATAFD: u32 = 0x10;
    pub const SET_BUFFERSIZE: u32 = 0x11;
}

/// Sends `bytes` with `fd` attached by SCM_RIGHTS, as QEMU sends
/// CMD_SET_DATAFD.
fn send_with_fd(sock: &UnixStream, bytes: &[u8], fd: i32) {
    use std::os::fd::AsFd;
    let n = vtpm::daemon::send_with_fds(sock.as_fd(), bytes, &[fd]).unwrap();
    assert_eq!(n, bytes.len());
}

struct QemuLike {
    ctrl: UnixStream,
    data: UnixStream,
}

impl QemuLike {
    /// Connects, probes the capabilities and hands over the data channel.
    fn attach(path: &Path) -> QemuLike {
        let ctrl = UnixStream::connect(path).unwrap();
        ctrl.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        let mut q = QemuLike {
            data: ctrl.try_clone().unwrap(), // replaced below
            ctrl,
        };
        let caps = u64::from_be_bytes(q.ctrl(cmd::GET_CAPABILITY, &[], 8).try_into().unwrap());
        // QEMU's minimum for a TPM 2 (tpm_emulator_check_caps): INIT,
        // SHUTDOWN, GET_TPMESTABLISHED, SET_LOCALITY, RESET_TPMESTABLISHED,
        // SET_DATAFD, STOP, SET_BUFFERSIZE; migration needs the state blobs.
        let required = 1 | 2 | 4 | 8 | 0x80 | 0x1000 | 0x400 | 0x2000 | 0x100 | 0x200;
        assert_eq!(caps & required, required, "capabilities {caps:#x}");
        let (ours, theirs) = UnixStream::pair().unwrap();
        send_with_fd(&q.ctrl, &cmd::SET_DATAFD.to_be_bytes(), theirs.as_raw_fd());
        drop(theirs);
        let mut res = [0u8; 4];
        q.ctrl.read_exact(&mut res).unwrap();
        assert_eq!(res, [0; 4], "CMD_SET_DATAFD result");
        ours.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        q.data = ours;
        q
    }

    fn ctrl(&mut self, code: u32, payload: &[u8], resp_len: usize) -> Vec<u8> {
        let mut m = code.to_be_bytes().to_vec();
        m.extend_from_slice(payload);
        self.ctrl.write_all(&m).unwrap();
        let mut r = vec![0u8; resp_len];
        self.ctrl.read_exact(&mut r).unwrap();
        r
    }

    fn ctrl_result(&mut self, code: u32, payload: &[u8]) -> u32 {
        u32::from_be_bytes(self.ctrl(code, payload, 4).try_into().unwrap())
    }

    /// What QEMU does when the VM starts (tpm_emulator_startup_tpm):
    /// STOP, SET_BUFFERSIZE, INIT, then the established flag and locality.
    fn power_on(&mut self) {
        assert_eq!(self.ctrl_result(cmd::STOP, &[]), 0);
        let r = self.ctrl(cmd::SET_BUFFERSIZE, &4096u32.to_be_bytes(), 16);
        assert_eq!(&r[..4], &[0; 4]);
        let size = u32::from_be_bytes(r[4..8].try_into().unwrap());
        assert!((1024..=4096).contains(&size), "buffer size {size}");
        assert_eq!(self.ctrl_result(cmd::INIT, &[0; 4]), 0);
        assert_eq!(self.ctrl(cmd::GET_TPMESTABLISHED, &[], 8), vec![0; 8]);
        assert_eq!(self.ctrl_result(cmd::SET_LOCALITY, &[0]), 0);
    }

    /// One TPM command on the data channel, read as QEMU reads it: the
    /// 10-byte header, then the rest.
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
        let r = self.transmit(command);
        u32::from_be_bytes(r[6..10].try_into().unwrap())
    }
}

fn startup(state: bool) -> Vec<u8> {
    vec![
        0x80,
        0x01,
        0,
        0,
        0,
        12,
        0,
        0,
        0x01,
        0x44,
        0,
        u8::from(state),
    ]
}

fn shutdown_state() -> Vec<u8> {
    vec![0x80, 0x01, 0, 0, 0, 12, 0, 0, 0x01, 0x45, 0, 1]
}

/// TPM2_PCR_Extend(pcr, sha256 digest) with an empty password session.
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

/// TPM2_PCR_Read of one sha256 PCR below 24; returns its value.
fn pcr_read(q: &mut QemuLike, pcr: u32) -> Vec<u8> {
    let mut select = [0u8; 3];
    select[(pcr / 8) as usize] = 1 << (pcr % 8);
    let mut c = vec![
        0x80, 0x01, 0, 0, 0, 20, 0, 0, 0x01, 0x7e, 0, 0, 0, 1, 0, 0x0b, 3,
    ];
    c.extend_from_slice(&select);
    let r = q.transmit(&c);
    assert_eq!(&r[6..10], &[0; 4], "PCR_Read rc");
    // header, pcrUpdateCounter, TPML_PCR_SELECTION (10), count, size.
    assert_eq!(&r[24..30], &[0, 0, 0, 1, 0, 32]);
    r[30..62].to_vec()
}

fn extended(old: &[u8], digest: &[u8]) -> Vec<u8> {
    Sha256::new()
        .chain_update(old)
        .chain_update(digest)
        .finalize()
        .to_vec()
}

fn names(list: &Value) -> Vec<&str> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect()
}

#[test]
fn vtpmd_hosts_manages_and_persists_instances() {
    let mut d = Vtpmd::start();
    assert!(d.ready.ends_with("instances=0"), "{}", d.ready);
    assert!(
        d.log_text().contains("NO HARDWARE ROOT OF TRUST"),
        "a daemon without --host-tpm must say so"
    );

    // --- create ---------------------------------------------------------
    let a = d.json(&["create", "vm-a", "--ek", "ecc-p256"]);
    assert_eq!(a["name"], "vm-a");
    assert_eq!(a["ek_kinds"], serde_json::json!(["ecc-p256"]));
    assert_eq!(a["pcr_banks"], serde_json::json!(["sha256"]));
    let ctrl_a = PathBuf::from(a["control_socket"].as_str().unwrap());
    assert_eq!(ctrl_a, d.run_dir().join("vm-a.ctrl"));
    assert!(ctrl_a.exists());
    let b = d.json(&[
        "create",
        "vm-b",
        "--ek",
        "rsa2048,ecc-p256",
        "--pcr-banks",
        "sha1,sha256",
    ]);
    assert_eq!(b["ek_kinds"], serde_json::json!(["rsa2048", "ecc-p256"]));
    assert_eq!(b["pcr_banks"], serde_json::json!(["sha1", "sha256"]));
    let c = d.json(&[
        "create",
        "vm-c",
        "--ek",
        "ecc-p256",
        "--listen",
        "127.0.0.1:0",
        "--protocol",
        "swtpm",
    ]);
    assert_eq!(c["listen"]["protocol"], "swtpm");
    let m = d.json(&[
        "create",
        "vm-m",
        "--ek",
        "ecc-p256",
        "--listen",
        "127.0.0.1:0",
        "--protocol",
        "mssim",
    ]);
    assert!(m["listen"]["tcti"]
        .as_str()
        .unwrap()
        .starts_with("mssim:host=127.0.0.1,port="));

    // Refusals carry a clear message.
    let err = d.fails(&["create", "vm-a"]);
    assert!(
        err.contains("already exists") && err.contains("already_exists"),
        "{err}"
    );
    let err = d.fails(&["create", "../evil"]);
    assert!(err.contains("invalid vTPM name"), "{err}");
    let err = d.fails(&["create", "vm-x", "--ek", "dsa"]);
    assert!(err.contains("unknown EK kind"), "{err}");
    let err = d.fails(&["show", "nope"]);
    assert!(
        err.contains("no vTPM named \"nope\"") && err.contains("not_found"),
        "{err}"
    );

    // --- list / show ----------------------------------------------------
    let list = d.json(&["list"]);
    assert_eq!(names(&list), ["vm-a", "vm-b", "vm-c", "vm-m"]);
    let table = d.ok(&["list"]);
    assert!(table.starts_with("NAME"), "{table}");
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("vm-b") && l.contains("rsa2048,ecc-p256")),
        "{table}"
    );
    let show_b = d.json(&["show", "vm-b"]);
    let eks = show_b["eks"].as_array().unwrap();
    assert_eq!(eks.len(), 2);
    let rsa_pub = hex::decode(eks[0]["public"].as_str().unwrap()).unwrap();
    assert_eq!(&rsa_pub[..4], &[0, 1, 0, 0x0b], "RSA EK, SHA-256 name");
    let ecc_pub_b = eks[1]["public"].as_str().unwrap().to_string();
    let ecc_cert_b = eks[1]["certificate"].as_str().unwrap().to_string();
    assert_eq!(eks[1]["cert_nv_index"], 0x01c0000a);
    assert_eq!(&hex::decode(&ecc_pub_b).unwrap()[..4], &[0, 0x23, 0, 0x0b]);

    // --- tpm2-tools over TCP: swtpm and mssim ----------------------------
    let tc = d.tools(&c);
    tc.ok("tpm2_startup", &["-c"]);
    let ev = [0x5au8; 32];
    tc.ok(
        "tpm2_pcrextend",
        &[&format!("8:sha256={}", hex::encode(ev))],
    );
    let pcr8 = extended(&[0; 32], &ev);
    let out = tc.ok("tpm2_pcrread", &["sha256:8"]);
    assert_eq!(parse::pcrread(&out)["sha256"][&8], pcr8);
    tc.ok(
        "tpm2_nvdefine",
        &[
            "0x1500016",
            "-C",
            "o",
            "-s",
            "8",
            "-a",
            "ownerread|ownerwrite",
        ],
    );
    std::fs::write(tc.cwd.join("nv.bin"), b"persist!").unwrap();
    tc.ok("tpm2_nvwrite", &["0x1500016", "-C", "o", "-i", "nv.bin"]);
    // Shutdown(STATE): PCR 8 is saved for the next Startup(STATE).
    tc.ok("tpm2_shutdown", &[]);
    let tm = d.tools(&m);
    tm.ok("tpm2_startup", &["-c"]);
    let rand = tm.ok("tpm2_getrandom", &["8", "--hex"]);
    assert_eq!(rand.trim().len(), 16, "{rand}");

    // --- control socket + data channel, as QEMU ---------------------------
    let mut q = QemuLike::attach(&ctrl_a);
    q.power_on();
    assert_eq!(q.rc(&startup(false)), 0);
    let pcr10 = pcr_read(&mut q, 10);
    assert_eq!(pcr10, vec![0; 32]);
    let digest = [0x11u8; 32];
    assert_eq!(q.rc(&pcr_extend(10, &digest)), 0);
    let expect10 = extended(&pcr10, &digest);
    assert_eq!(pcr_read(&mut q, 10), expect10);
    // A second data channel while one is served: TPM_IOERROR, as swtpm.
    let (_o, t) = UnixStream::pair().unwrap();
    send_with_fd(&q.ctrl, &cmd::SET_DATAFD.to_be_bytes(), t.as_raw_fd());
    let mut res = [0u8; 4];
    q.ctrl.read_exact(&mut res).unwrap();
    assert_eq!(u32::from_be_bytes(res), 0x1f);
    // Locality 3 may reset the TPM-established bit, locality 0 may not.
    assert_eq!(q.ctrl_result(cmd::RESET_TPMESTABLISHED, &[0]), 0x3d);
    assert_eq!(q.ctrl_result(cmd::RESET_TPMESTABLISHED, &[3]), 0);
    // An attached VM keeps delete away unless forced.
    let err = d.fails(&["delete", "vm-a"]);
    assert!(err.contains("busy"), "{err}");
    let listed = d.json(&["list"]);
    let row_a = &listed.as_array().unwrap()[0];
    assert_eq!(row_a["status"], "loaded");
    assert!(row_a["connections"].as_u64().unwrap() >= 2, "{row_a}");
    assert_eq!(q.rc(&shutdown_state()), 0);
    // QEMU's exit: CMD_SHUTDOWN stops the TPM and ends both channels.
    assert_eq!(q.ctrl_result(cmd::SHUTDOWN, &[]), 0);
    let mut byte = [0u8; 1];
    assert_eq!(q.data.read(&mut byte).unwrap(), 0, "data channel closed");
    assert_eq!(q.ctrl.read(&mut byte).unwrap(), 0, "control channel closed");

    // --- restart: instances, PCRs and NV survive -------------------------
    d.restart();
    assert!(d.ready.ends_with("instances=4"), "{}", d.ready);
    assert_eq!(names(&d.json(&["list"])), ["vm-a", "vm-b", "vm-c", "vm-m"]);
    let c2 = d.json(&["show", "vm-c"]);
    assert_eq!(c2["listen"], c["listen"], "TCP ports are kept");
    assert_eq!(c2["status"], "unloaded", "loaded lazily");
    tc.ok("tpm2_startup", &[]);
    let out = tc.ok("tpm2_pcrread", &["sha256:8"]);
    assert_eq!(parse::pcrread(&out)["sha256"][&8], pcr8, "PCR 8 resumed");
    let nv = tc.ok_bytes("tpm2_nvread", &["0x1500016", "-C", "o", "-s", "8"], None);
    assert_eq!(nv, b"persist!");
    let mut q = QemuLike::attach(&ctrl_a);
    q.power_on();
    assert_eq!(
        q.rc(&startup(true)),
        0,
        "Startup(STATE) after Shutdown(STATE)"
    );
    assert_eq!(pcr_read(&mut q, 10), expect10, "PCR 10 resumed");
    drop(q);

    // --- export / delete / import ----------------------------------------
    let file = d.dir.path().join("vm-b.vtpm");
    let out = d.ok(&["export", "vm-b", "--to", file.to_str().unwrap()]);
    assert!(out.contains("exported vm-b"), "{out}");
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let doc: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(doc["format"], "trustcloud-vtpm-export");
    assert_eq!(doc["name"], "vm-b");
    d.ok(&["delete", "vm-b"]);
    assert!(!d.run_dir().join("vm-b.ctrl").exists());
    assert!(!d.state().join("instances/vm-b").exists());
    assert_eq!(names(&d.json(&["list"])), ["vm-a", "vm-c", "vm-m"]);
    assert!(d.fails(&["show", "vm-b"]).contains("not_found"));
    let imported = d.json(&[
        "import",
        "--from",
        file.to_str().unwrap(),
        "vm-b2",
        "--listen",
        "127.0.0.1:0",
    ]);
    assert_eq!(imported["name"], "vm-b2");
    assert_eq!(imported["pcr_banks"], serde_json::json!(["sha1", "sha256"]));
    // The imported TPM has the exported seeds: tpm2_createek derives the
    // same ECC EK (template L-2) that was recorded at manufacture.
    let tb = d.tools(&imported);
    tb.ok("tpm2_startup", &["-c"]);
    tb.ok(
        "tpm2_createek",
        &["-c", "ek.ctx", "-G", "ecc", "-u", "ek.pub"],
    );
    let ek = std::fs::read(tb.cwd.join("ek.pub")).unwrap();
    assert_eq!(hex::encode(&ek[2..]), ecc_pub_b, "same EK after import");
    // Its certificate is in the EK Credential Profile's NV index.
    let cert = tb.ok_bytes("tpm2_nvread", &["0x01c0000a", "-C", "o"], None);
    assert_eq!(hex::encode(&cert), ecc_cert_b);
    assert_eq!(cert[0], 0x30, "DER certificate");
    // Importing under the original name works too; twice does not.
    d.ok(&["import", "--from", file.to_str().unwrap()]);
    assert!(d
        .fails(&["import", "--from", file.to_str().unwrap()])
        .contains("already exists"));
    assert_eq!(
        names(&d.json(&["list"])),
        ["vm-a", "vm-b", "vm-b2", "vm-c", "vm-m"]
    );
    d.stop();
}

#[test]
fn second_daemon_on_the_same_state_is_refused() {
    let d = Vtpmd::start();
    let out = run_bounded(
        {
            let mut c = Command::new(BIN);
            c.args(["vtpmd", "--state-dir"])
                .arg(d.state())
                .arg("--run-dir")
                .arg(d.dir.path().join("run2"));
            c
        },
        None,
        TOOL_TIMEOUT,
    );
    assert!(!out.success());
    assert!(
        out.stderr
            .contains("another vtpmd uses the state directory"),
        "{out:?}"
    );
    let out = run_bounded(
        {
            let mut c = Command::new(BIN);
            c.args(["vtpm", "list", "--run-dir"])
                .arg(d.dir.path().join("nowhere"));
            c
        },
        None,
        TOOL_TIMEOUT,
    );
    assert!(!out.success());
    assert!(out.stderr.contains("cannot reach vtpmd"), "{out:?}");
}

#[test]
fn idle_instances_are_unloaded_and_reload_their_state() {
    let d = Vtpmd::start_with(&["--unload-after", "1"]);
    let info = d.json(&["create", "idle", "--ek", "ecc-p256"]);
    let ctrl = PathBuf::from(info["control_socket"].as_str().unwrap());
    let mut q = QemuLike::attach(&ctrl);
    q.power_on();
    assert_eq!(q.rc(&startup(false)), 0);
    let digest = [0x22u8; 32];
    assert_eq!(q.rc(&pcr_extend(3, &digest)), 0);
    assert_eq!(q.rc(&shutdown_state()), 0);
    // While a client is attached the instance stays, however idle.
    thread::sleep(Duration::from_millis(1600));
    assert_eq!(d.json(&["show", "idle"])["status"], "loaded");
    drop(q);
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let s = d.json(&["show", "idle"]);
        if s["status"] == "unloaded" {
            assert_eq!(s["connections"], 0);
            break;
        }
        assert!(Instant::now() < deadline, "never unloaded: {s}");
        thread::sleep(Duration::from_millis(200));
    }
    assert!(
        d.log_text().contains("idle vTPMs unloaded"),
        "{}",
        d.log_text()
    );
    // The next client loads it again, with the state stored at unload.
    let mut q = QemuLike::attach(&ctrl);
    q.power_on();
    assert_eq!(q.rc(&startup(true)), 0);
    assert_eq!(pcr_read(&mut q, 3), extended(&[0; 32], &digest));
}

/// Tries STOP/INIT on a control socket the way QEMU powers a vTPM on;
/// None when the daemon refuses the connection or answers nothing.
fn try_power_on(ctrl_path: &Path) -> Option<u32> {
    let mut s = UnixStream::connect(ctrl_path).ok()?;
    s.set_read_timeout(Some(IO_TIMEOUT)).ok()?;
    let mut m = cmd::INIT.to_be_bytes().to_vec();
    m.extend_from_slice(&[0; 4]);
    s.write_all(&m).ok()?;
    let mut r = [0u8; 4];
    s.read_exact(&mut r).ok()?;
    Some(u32::from_be_bytes(r))
}

/// Drives instance `name` once: power on, Startup (STATE after the first
/// time), extend PCR 3 with `digest`, Shutdown(STATE), detach.
fn use_instance(ctrl: &Path, resume: bool, digest: &[u8; 32]) -> Vec<u8> {
    let mut q = QemuLike::attach(ctrl);
    q.power_on();
    assert_eq!(q.rc(&startup(resume)), 0);
    assert_eq!(q.rc(&pcr_extend(3, digest)), 0);
    let v = pcr_read(&mut q, 3);
    assert_eq!(q.rc(&shutdown_state()), 0);
    v
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let t = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &t);
        } else if e.file_type().unwrap().is_file() {
            std::fs::copy(e.path(), &t).unwrap();
        }
    }
}

/// Issue 4 "Must show 2": an instance's sealed state copied aside, the
/// vTPM used, the old copy restored while the daemon is down — the daemon
/// refuses that instance, naming it and the versions, instead of loading
/// the older state. The same for the whole state directory.
#[test]
fn restored_old_state_is_refused_as_rollback() {
    let mut d = Vtpmd::start();
    let info = d.json(&["create", "rb", "--ek", "ecc-p256"]);
    let ctrl = PathBuf::from(info["control_socket"].as_str().unwrap());
    let first = use_instance(&ctrl, false, &[0x31; 32]);
    d.stop();
    let sealed = d.state().join("sealed").join("rb.sealed");
    assert!(sealed.exists(), "sealed state at {}", sealed.display());
    let old_file = d.dir.path().join("rb.sealed.old");
    std::fs::copy(&sealed, &old_file).unwrap();
    let old_dir = d.dir.path().join("state.old");
    copy_dir(&d.state(), &old_dir);

    // Use the vTPM: its state moves forward.
    d.spawn();
    let second = use_instance(&ctrl, true, &[0x32; 32]);
    assert_ne!(first, second);
    d.stop();

    // One instance's file rolled back.
    std::fs::copy(&old_file, &sealed).unwrap();
    d.spawn();
    let answer = try_power_on(&ctrl);
    assert!(
        answer != Some(0),
        "rolled-back vTPM was powered on: {answer:?}"
    );
    let log = d.log_text();
    assert!(
        log.contains("rollback") && log.contains("rb"),
        "the refusal names the instance and says rollback:\n{log}"
    );
    d.stop();

    // The whole state directory rolled back (the anchor beside it stays).
    std::fs::remove_dir_all(d.state()).unwrap();
    copy_dir(&old_dir, &d.state());
    // The daemon refuses to start on it, saying why.
    let out = run_bounded(
        {
            let mut c = Command::new(BIN);
            c.args(["vtpmd", "--state-dir"])
                .arg(d.state())
                .arg("--run-dir")
                .arg(d.run_dir());
            c
        },
        None,
        SERVER_START_TIMEOUT,
    );
    assert!(
        !out.success(),
        "vtpmd started on a rolled-back state dir: {out:?}"
    );
    assert!(
        out.stderr.contains("rollback") || out.stderr.contains("anchor"),
        "the refusal says what is wrong: {}",
        out.stderr
    );
    assert!(try_power_on(&ctrl).is_none());
}
