//! Harness shared by the integration tests that drive a real TPM over TCP:
//! `trustcloud tpm serve` (mssim or swtpm protocol) and the reference
//! `swtpm socket`, the tpm2-tools runner, raw transports, and parsers for
//! tpm2-tools' YAML-like output.
//!
//! Every wait is bounded (a hung server or tool fails the test instead of
//! hanging CI), every child process is killed and reaped on drop, and each
//! server lives in its own temporary directory, so tests run in parallel.
//!
//! Used with `mod support;` from several test crates; each uses a different
//! subset, hence the `dead_code` allowance.
#![allow(dead_code)]

pub mod raw;

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// How long a server may take to print its `listening ...` line. Generous:
/// the machine is shared with concurrent builds.
pub const SERVER_START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one tpm2-tools (or openssl) invocation may take.
pub const TOOL_TIMEOUT: Duration = Duration::from_secs(30);
/// Timeout for raw socket I/O with a server: bounds a hang, and leaves room
/// for an RSA-3072 primary derived by the unoptimized test build on a
/// loaded machine (one CI run took over 10 s for it).
pub const IO_TIMEOUT: Duration = Duration::from_secs(30);

/// Set to `swtpm` to run the tests that use [`ServerBuilder::under_test`]
/// against the reference swtpm instead of trustcloud (swtpm protocol only).
/// A check of the tests themselves: what libtpms does should pass, except
/// for what libtpms lacks (SM3 banks, `--pcr-banks`).
pub const UNDER_TEST_ENV: &str = "TRUSTCLOUD_TEST_TPM";

/// The two TCP protocols a TPM simulator speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// TCG/Microsoft simulator: command port + platform port.
    Mssim,
    /// swtpm TCP: data port + control port.
    Swtpm,
}

impl Protocol {
    pub const ALL: [Protocol; 2] = [Protocol::Mssim, Protocol::Swtpm];

    /// The value of `--protocol`.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Mssim => "mssim",
            Protocol::Swtpm => "swtpm",
        }
    }

    /// The tpm2-tss TCTI configuration string for a server whose first
    /// (command/data) port is `port`.
    pub fn tcti(self, port: u16) -> String {
        format!("{}:host=127.0.0.1,port={port}", self.as_str())
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which TPM implementation a [`Server`] runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Implementation {
    /// `trustcloud tpm serve`.
    Trustcloud,
    /// `swtpm socket --tpm2` (libtpms), always the swtpm protocol.
    Swtpm,
}

/// Configures and starts a [`Server`].
#[derive(Clone, Debug)]
pub struct ServerBuilder {
    implementation: Implementation,
    protocol: Protocol,
    pcr_banks: Option<String>,
    extra_args: Vec<String>,
    swtpm_flags: Vec<String>,
    state_dir: Option<PathBuf>,
}

impl ServerBuilder {
    /// `trustcloud tpm serve --protocol <protocol>`.
    pub fn trustcloud(protocol: Protocol) -> Self {
        ServerBuilder {
            implementation: Implementation::Trustcloud,
            protocol,
            pcr_banks: None,
            extra_args: Vec::new(),
            swtpm_flags: vec!["not-need-init".into()],
            state_dir: None,
        }
    }

    /// The reference swtpm (TCP data + control ports). By default it runs
    /// with `--flags not-need-init`, so it accepts TPM commands at once
    /// (TPM2_Startup is still the client's job).
    pub fn swtpm() -> Self {
        ServerBuilder {
            implementation: Implementation::Swtpm,
            ..ServerBuilder::trustcloud(Protocol::Swtpm)
        }
    }

    /// The TPM under test: trustcloud, unless [`UNDER_TEST_ENV`] says
    /// `swtpm` (then the reference, which only speaks the swtpm protocol).
    pub fn under_test(protocol: Protocol) -> Self {
        match std::env::var(UNDER_TEST_ENV).as_deref() {
            Ok("swtpm") => {
                assert_eq!(
                    protocol,
                    Protocol::Swtpm,
                    "{UNDER_TEST_ENV}=swtpm only supports the swtpm protocol"
                );
                ServerBuilder::swtpm()
            }
            _ => ServerBuilder::trustcloud(protocol),
        }
        // trustcloud's default allocation, so the reference matches it.
        .pcr_banks("sha256")
    }

    /// The active PCR banks, e.g. `"sha256,sm3_256"`: trustcloud's
    /// `--pcr-banks`; for swtpm, `swtpm_setup --pcr-banks` manufactures the
    /// state first (libtpms has no SM3 bank, so that fails there). Without
    /// it each implementation keeps its own default.
    pub fn pcr_banks(mut self, banks: &str) -> Self {
        self.pcr_banks = Some(banks.to_string());
        self
    }

    /// An extra command-line argument for the server.
    pub fn arg(mut self, arg: &str) -> Self {
        self.extra_args.push(arg.to_string());
        self
    }

    /// Replaces swtpm's `--flags` list (swtpm only), e.g.
    /// `&["not-need-init", "startup-clear"]`.
    pub fn swtpm_flags(mut self, flags: &[&str]) -> Self {
        self.swtpm_flags = flags.iter().map(|s| s.to_string()).collect();
        self
    }

    /// Uses an existing state directory instead of a fresh temporary one.
    pub fn state_dir(mut self, dir: &Path) -> Self {
        self.state_dir = Some(dir.to_path_buf());
        self
    }

    pub fn start(self) -> Server {
        let dir = tempfile::Builder::new()
            .prefix("trustcloud-test-")
            .tempdir()
            .expect("create temporary directory");
        let state_dir = self
            .state_dir
            .clone()
            .unwrap_or_else(|| dir.path().join("state"));
        let work_dir = dir.path().join("work");
        std::fs::create_dir_all(&state_dir).expect("create state dir");
        std::fs::create_dir_all(&work_dir).expect("create work dir");
        let log_path = dir.path().join("server.log");
        if let (Implementation::Swtpm, Some(banks)) = (self.implementation, &self.pcr_banks) {
            let mut cmd = Command::new("swtpm_setup");
            cmd.args(["--tpm2", "--overwrite", "--pcr-banks", banks, "--tpmstate"])
                .arg(&state_dir);
            let out = run_bounded(cmd, None, SERVER_START_TIMEOUT);
            assert!(out.success(), "swtpm_setup failed: {out:?}");
        }
        let mut server = Server {
            config: self,
            state_dir,
            work_dir,
            log_path,
            child: None,
            port: 0,
            aux_port: 0,
            ready_line: String::new(),
            starts: 0,
            _dir: dir,
        };
        server.spawn();
        server
    }
}

/// A running TPM server. Killed (and reaped) on drop; its temporary
/// directory (state, scratch files, log) is removed after that.
pub struct Server {
    config: ServerBuilder,
    state_dir: PathBuf,
    work_dir: PathBuf,
    log_path: PathBuf,
    child: Option<Child>,
    port: u16,
    aux_port: u16,
    ready_line: String,
    starts: u32,
    // Dropped last (fields drop in declaration order, after Drop::drop).
    _dir: TempDir,
}

impl Server {
    /// Shorthand for `ServerBuilder::under_test(protocol).start()`.
    pub fn start(protocol: Protocol) -> Server {
        ServerBuilder::under_test(protocol).start()
    }

    pub fn implementation(&self) -> Implementation {
        self.config.implementation
    }

    pub fn protocol(&self) -> Protocol {
        self.config.protocol
    }

    /// The command (mssim) or data (swtpm) port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The platform (mssim) or control (swtpm) port.
    pub fn aux_port(&self) -> u16 {
        self.aux_port
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    pub fn aux_addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.aux_port))
    }

    /// The line the server printed once bound (trustcloud only).
    pub fn ready_line(&self) -> &str {
        &self.ready_line
    }

    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    /// A scratch directory for the test's files; tools run in it.
    pub fn work_dir(&self) -> &Path {
        &self.work_dir
    }

    /// `work_dir/name`.
    pub fn path(&self, name: &str) -> PathBuf {
        self.work_dir.join(name)
    }

    /// Writes `data` to `work_dir/name` and returns the path as a string.
    pub fn write_file(&self, name: &str, data: &[u8]) -> String {
        let p = self.path(name);
        std::fs::write(&p, data).expect("write scratch file");
        p.to_string_lossy().into_owned()
    }

    /// The tpm2-tss TCTI string for the current ports.
    pub fn tcti(&self) -> String {
        self.protocol().tcti(self.port)
    }

    /// A tool runner bound to the current ports (ports change on restart).
    pub fn tools(&self) -> Tools {
        Tools {
            tcti: self.tcti(),
            cwd: self.work_dir.clone(),
            server_log: Some(self.log_path.clone()),
        }
    }

    /// Runs a tpm2-tools command; see [`Tools::run`].
    pub fn run(&self, tool: &str, args: &[&str]) -> ToolOutput {
        self.tools().run(tool, args)
    }

    /// Runs a tpm2-tools command that must succeed; returns its stdout.
    pub fn ok(&self, tool: &str, args: &[&str]) -> String {
        self.tools().ok(tool, args)
    }

    /// Runs a tpm2-tools command that must fail; returns its output.
    pub fn fails(&self, tool: &str, args: &[&str]) -> ToolOutput {
        self.tools().fails(tool, args)
    }

    /// The server's stderr so far (all runs).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Whether the server process is still running.
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Kills the server abruptly (SIGKILL: a power loss; nothing is saved
    /// that was not already on disk) and waits for it.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Asks the server to stop (SIGTERM) and waits up to `timeout` before
    /// killing it. Returns the exit status if it stopped by itself.
    pub fn terminate(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let mut c = self.child.take()?;
        // SAFETY: kill(2) with a pid we spawned and have not reaped yet.
        unsafe {
            libc::kill(c.id() as libc::pid_t, libc::SIGTERM);
        }
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(st)) = c.try_wait() {
                return Some(st);
            }
            if Instant::now() >= deadline {
                let _ = c.kill();
                let _ = c.wait();
                return None;
            }
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// A power cycle: kill the process and start it again on the same state
    /// directory (the ports change). The TPM then awaits TPM2_Startup.
    pub fn power_cycle(&mut self) {
        self.kill();
        self.spawn();
    }

    /// Starts the server again after [`Server::kill`]/[`Server::terminate`].
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    fn spawn(&mut self) {
        self.starts += 1;
        match self.config.implementation {
            Implementation::Trustcloud => self.spawn_trustcloud(),
            Implementation::Swtpm => self.spawn_swtpm(),
        }
    }

    fn open_log(&self) -> File {
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .expect("open server log");
        let _ = writeln!(f, "---- start #{} ----", self.starts);
        f
    }

    fn spawn_trustcloud(&mut self) {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_trustcloud"));
        cmd.args(["tpm", "serve", "--state-dir"])
            .arg(&self.state_dir)
            .args(["--listen", "127.0.0.1:0", "--protocol"])
            .arg(self.config.protocol.as_str());
        if let Some(b) = &self.config.pcr_banks {
            cmd.args(["--pcr-banks", b]);
        }
        cmd.args(&self.config.extra_args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(self.open_log()));
        let mut child = cmd.spawn().expect("spawn trustcloud tpm serve");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel::<String>();
        // Keeps draining stdout for the server's whole life so it never
        // blocks on a full pipe.
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let _ = tx.send(line);
            }
        });
        self.child = Some(child);
        let deadline = Instant::now() + SERVER_START_TIMEOUT;
        loop {
            match rx.recv_timeout(Duration::from_millis(50)) {
                Ok(line) if line.starts_with("listening ") => {
                    self.parse_ready_line(&line);
                    return;
                }
                Ok(_) => {}
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    self.startup_failed("closed stdout without a `listening` line")
                }
            }
            if !self.is_running() {
                self.startup_failed("exited before printing `listening ...`");
            }
            if Instant::now() >= deadline {
                self.startup_failed("did not print `listening ...` in time");
            }
        }
    }

    fn parse_ready_line(&mut self, line: &str) {
        let (main_key, aux_key) = match self.config.protocol {
            Protocol::Mssim => ("command", "platform"),
            Protocol::Swtpm => ("data", "control"),
        };
        let mut main = None;
        let mut aux = None;
        let mut proto = None;
        for tok in line.split_whitespace().skip(1) {
            let Some((k, v)) = tok.split_once('=') else {
                continue;
            };
            if k == "protocol" {
                proto = Some(v.to_string());
            } else if k == main_key {
                main = v.parse::<SocketAddr>().ok();
            } else if k == aux_key {
                aux = v.parse::<SocketAddr>().ok();
            }
        }
        let (Some(main), Some(aux)) = (main, aux) else {
            self.startup_failed(&format!(
                "unexpected ready line {line:?} (want {main_key}=ADDR {aux_key}=ADDR)"
            ));
        };
        assert_eq!(
            proto.as_deref(),
            Some(self.config.protocol.as_str()),
            "ready line {line:?} names the wrong protocol"
        );
        assert_eq!(
            aux.port(),
            main.port().wrapping_add(1),
            "ready line {line:?}: second port must be the first + 1"
        );
        self.port = main.port();
        self.aux_port = aux.port();
        self.ready_line = line.to_string();
    }

    fn spawn_swtpm(&mut self) {
        // swtpm needs explicit ports: pick a free pair, retry on a lost race.
        for _attempt in 0..8 {
            let port = free_port_pair();
            let mut cmd = Command::new("swtpm");
            cmd.args(["socket", "--tpm2", "--tpmstate"])
                .arg(format!("dir={}", self.state_dir.display()))
                .arg("--server")
                .arg(format!("type=tcp,port={port},bindaddr=127.0.0.1"))
                .arg("--ctrl")
                .arg(format!("type=tcp,port={},bindaddr=127.0.0.1", port + 1));
            if !self.config.swtpm_flags.is_empty() {
                cmd.arg("--flags").arg(self.config.swtpm_flags.join(","));
            }
            let log = self.open_log();
            let log2 = log.try_clone().expect("clone log handle");
            cmd.args(&self.config.extra_args)
                .stdin(Stdio::null())
                .stdout(Stdio::from(log))
                .stderr(Stdio::from(log2));
            let child = cmd.spawn().expect("spawn swtpm (is it installed?)");
            self.child = Some(child);
            self.port = port;
            self.aux_port = port + 1;
            let deadline = Instant::now() + SERVER_START_TIMEOUT;
            loop {
                if !self.is_running() {
                    break; // most likely lost the port race: retry
                }
                // Both ports accept once swtpm is up. A port of the pair
                // may have been taken by another test's server since it
                // was picked: then swtpm exits on its failed bind, while
                // a connection to that port reaches the other server. So
                // the process must also still be running after both
                // connections (a refused data connection in CI came from
                // checking the control port alone).
                let accepts = |addr: SocketAddr| {
                    TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
                };
                if accepts(self.aux_addr()) && accepts(self.addr()) {
                    thread::sleep(Duration::from_millis(20));
                    if !self.is_running() {
                        break;
                    }
                    self.ready_line =
                        format!("swtpm data=127.0.0.1:{port} control=127.0.0.1:{}", port + 1);
                    return;
                }
                if Instant::now() >= deadline {
                    self.startup_failed("swtpm did not accept connections in time");
                }
                thread::sleep(Duration::from_millis(10));
            }
            self.kill();
        }
        self.startup_failed("swtpm kept exiting at start");
    }

    fn startup_failed(&mut self, why: &str) -> ! {
        self.kill();
        panic!(
            "{:?} server ({}) {why}\n--- server log ---\n{}",
            self.config.implementation,
            self.config.protocol,
            self.log()
        );
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A port P such that P and P+1 were both free a moment ago.
pub fn free_port_pair() -> u16 {
    for _ in 0..100 {
        let Ok(a) = TcpListener::bind("127.0.0.1:0") else {
            continue;
        };
        let Ok(addr) = a.local_addr() else { continue };
        let p = addr.port();
        if p == u16::MAX {
            continue;
        }
        if TcpListener::bind(("127.0.0.1", p + 1)).is_ok() {
            return p;
        }
    }
    panic!("no free pair of adjacent TCP ports");
}

/// Result of one external command.
#[derive(Clone)]
pub struct ToolOutput {
    pub cmdline: String,
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: String,
    /// Tail of the server's log at the time of the failure report.
    pub server_log: Option<PathBuf>,
}

impl ToolOutput {
    pub fn success(&self) -> bool {
        self.status.success()
    }

    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// The TPM response code tpm2-tools reported (`... ErrorCode
    /// (0x000001ca)` or `Esys_X(0x1CA)`), if any.
    pub fn tpm_rc(&self) -> Option<u32> {
        parse_reported_rc(&self.stderr)
    }

    fn server_log_tail(&self) -> String {
        let Some(p) = &self.server_log else {
            return String::new();
        };
        let log = std::fs::read_to_string(p).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        let start = lines.len().saturating_sub(40);
        format!("\n--- server log (tail) ---\n{}", lines[start..].join("\n"))
    }
}

impl fmt::Debug for ToolOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` -> {}\n--- stdout ---\n{}\n--- stderr ---\n{}{}",
            self.cmdline,
            self.status,
            String::from_utf8_lossy(&self.stdout),
            self.stderr,
            self.server_log_tail()
        )
    }
}

/// Finds the TPM response code in tpm2-tools' stderr.
pub fn parse_reported_rc(stderr: &str) -> Option<u32> {
    if let Some(i) = stderr.find("ErrorCode (0x") {
        let rest = &stderr[i + "ErrorCode (0x".len()..];
        let hex: String = rest.chars().take_while(|c| c.is_ascii_hexdigit()).collect();
        if let Ok(v) = u32::from_str_radix(&hex, 16) {
            return Some(v);
        }
    }
    // `ERROR: Esys_PCR_Reset(0x907) - tpm:warn(2.0): bad locality`
    for line in stderr.lines() {
        let Some(i) = line.find("Esys_") else {
            continue;
        };
        let rest = &line[i..];
        let Some(j) = rest.find("(0x") else { continue };
        let hex: String = rest[j + 3..]
            .chars()
            .take_while(|c| c.is_ascii_hexdigit())
            .collect();
        if let Ok(v) = u32::from_str_radix(&hex, 16) {
            return Some(v);
        }
    }
    None
}

/// Runs tpm2-tools against one TCTI.
#[derive(Clone, Debug)]
pub struct Tools {
    pub tcti: String,
    pub cwd: PathBuf,
    pub server_log: Option<PathBuf>,
}

impl Tools {
    /// Runs `tool args...` with `TPM2TOOLS_TCTI` set, bounded by
    /// [`TOOL_TIMEOUT`].
    pub fn run(&self, tool: &str, args: &[&str]) -> ToolOutput {
        self.run_stdin(tool, args, None)
    }

    /// Like [`Tools::run`], feeding `stdin` to the tool.
    pub fn run_stdin(&self, tool: &str, args: &[&str], stdin: Option<&[u8]>) -> ToolOutput {
        let mut cmd = Command::new(tool);
        cmd.args(args)
            .current_dir(&self.cwd)
            .env("TPM2TOOLS_TCTI", &self.tcti)
            .env_remove("TPM2TOOLS_ENABLE_ERRATA");
        let mut out = run_bounded(cmd, stdin, TOOL_TIMEOUT);
        out.server_log = self.server_log.clone();
        out
    }

    /// Runs a tool that must succeed and returns its stdout as text.
    pub fn ok(&self, tool: &str, args: &[&str]) -> String {
        let out = self.run(tool, args);
        assert!(out.success(), "expected success: {out:?}");
        out.stdout_str()
    }

    /// Runs a tool that must succeed and returns its raw stdout.
    pub fn ok_bytes(&self, tool: &str, args: &[&str], stdin: Option<&[u8]>) -> Vec<u8> {
        let out = self.run_stdin(tool, args, stdin);
        assert!(out.success(), "expected success: {out:?}");
        out.stdout
    }

    /// Runs a tool that must fail.
    pub fn fails(&self, tool: &str, args: &[&str]) -> ToolOutput {
        let out = self.run(tool, args);
        assert!(!out.success(), "expected failure: {out:?}");
        out
    }
}

/// Runs `cmd` to completion with piped stdout/stderr (drained by threads so
/// a chatty child never blocks) and optional stdin; kills it and panics
/// after `timeout`.
pub fn run_bounded(mut cmd: Command, stdin: Option<&[u8]>, timeout: Duration) -> ToolOutput {
    let cmdline = format!("{cmd:?}").replace('"', "");
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {cmdline}: {e}"));
    let writer = match (child.stdin.take(), stdin) {
        (Some(mut w), Some(data)) => {
            let data = data.to_vec();
            Some(thread::spawn(move || {
                let _ = w.write_all(&data);
            }))
        }
        _ => None,
    };
    let out_reader = drain(child.stdout.take());
    let err_reader = drain(child.stderr.take());
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break st,
            Ok(None) => {}
            Err(e) => panic!("wait for {cmdline}: {e}"),
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmdline} did not finish within {timeout:?}");
        }
        thread::sleep(Duration::from_millis(2));
    };
    if let Some(w) = writer {
        let _ = w.join();
    }
    let stdout = out_reader.join().unwrap_or_default();
    let stderr = err_reader.join().unwrap_or_default();
    ToolOutput {
        cmdline,
        status,
        stdout,
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
        server_log: None,
    }
}

fn drain<R: Read + Send + 'static>(r: Option<R>) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut r) = r {
            let _ = r.read_to_end(&mut buf);
        }
        buf
    })
}

/// `openssl dgst -<alg> -binary` over `data` (alg as tpm2-tools names it:
/// sha1, sha256, sha384, sha512, sm3_256).
pub fn openssl_digest(alg: &str, data: &[u8]) -> Vec<u8> {
    let name = match alg {
        "sm3_256" | "sm3" => "sm3",
        other => other,
    };
    let mut cmd = Command::new("openssl");
    cmd.args(["dgst", &format!("-{name}"), "-binary"]);
    let out = run_bounded(cmd, Some(data), TOOL_TIMEOUT);
    assert!(out.success(), "openssl failed: {out:?}");
    out.stdout
}

// ---------------------------------------------------------------------------
// Raw transports (for tests that send their own command bytes).

fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
    let s = TcpStream::connect_timeout(&addr, IO_TIMEOUT)?;
    s.set_read_timeout(Some(IO_TIMEOUT))?;
    s.set_write_timeout(Some(IO_TIMEOUT))?;
    s.set_nodelay(true)?;
    Ok(s)
}

/// Reads one TPM response (10-byte header, then the rest by its size).
pub fn read_tpm_response(s: &mut impl Read) -> io::Result<Vec<u8>> {
    let mut hdr = [0u8; 10];
    s.read_exact(&mut hdr)?;
    let size = u32::from_be_bytes([hdr[2], hdr[3], hdr[4], hdr[5]]) as usize;
    if !(10..=1 << 20).contains(&size) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("bad response size {size}"),
        ));
    }
    let mut resp = hdr.to_vec();
    resp.resize(size, 0);
    s.read_exact(&mut resp[10..])?;
    Ok(resp)
}

/// A connection to a swtpm-protocol data port carrying raw TPM commands.
pub struct RawConn(TcpStream);

impl RawConn {
    pub fn connect(addr: SocketAddr) -> io::Result<Self> {
        connect(addr).map(RawConn)
    }

    pub fn transmit(&mut self, cmd: &[u8]) -> io::Result<Vec<u8>> {
        self.0.write_all(cmd)?;
        read_tpm_response(&mut self.0)
    }
}

/// mssim command-port codes (TpmTcpProtocol.h of the TCG reference).
pub mod mssim {
    pub const SIGNAL_POWER_ON: u32 = 1;
    pub const SIGNAL_POWER_OFF: u32 = 2;
    pub const SEND_COMMAND: u32 = 8;
    pub const SIGNAL_NV_ON: u32 = 11;
    pub const SIGNAL_NV_OFF: u32 = 12;
    pub const SIGNAL_RESET: u32 = 17;
    pub const SESSION_END: u32 = 20;
    pub const STOP: u32 = 21;
}

/// A connection to an mssim command port (or a swtpm data port, which
/// also accepts the mssim framing).
pub struct MssimConn(TcpStream);

impl MssimConn {
    pub fn connect(addr: SocketAddr) -> io::Result<Self> {
        connect(addr).map(MssimConn)
    }

    /// TPM_SEND_COMMAND: u32 code, u8 locality, u32 size, command; the reply
    /// is u32 size, response, u32 acknowledgement (0).
    pub fn transmit(&mut self, locality: u8, cmd: &[u8]) -> io::Result<Vec<u8>> {
        let mut msg = Vec::with_capacity(cmd.len() + 9);
        msg.extend_from_slice(&mssim::SEND_COMMAND.to_be_bytes());
        msg.push(locality);
        msg.extend_from_slice(&(cmd.len() as u32).to_be_bytes());
        msg.extend_from_slice(cmd);
        self.0.write_all(&msg)?;
        let len = read_u32(&mut self.0)? as usize;
        if len > 1 << 20 {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "huge response"));
        }
        let mut resp = vec![0u8; len];
        self.0.read_exact(&mut resp)?;
        let ack = read_u32(&mut self.0)?;
        if ack != 0 {
            return Err(io::Error::other(format!("mssim ack {ack}")));
        }
        Ok(resp)
    }

    /// Sends TPM_SESSION_END (no reply) and closes.
    pub fn end(mut self) -> io::Result<()> {
        self.0.write_all(&mssim::SESSION_END.to_be_bytes())
    }
}

/// Sends one mssim platform-port signal (e.g. [`mssim::SIGNAL_POWER_ON`])
/// and returns the server's u32 acknowledgement.
pub fn mssim_platform_signal(addr: SocketAddr, code: u32) -> io::Result<u32> {
    let mut s = connect(addr)?;
    s.write_all(&code.to_be_bytes())?;
    read_u32(&mut s)
}

/// Sends one swtpm control-channel command (u32 code + payload) and reads
/// `resp_len` bytes of response (the length is fixed per command).
pub fn swtpm_ctrl(
    addr: SocketAddr,
    code: u32,
    payload: &[u8],
    resp_len: usize,
) -> io::Result<Vec<u8>> {
    let mut s = connect(addr)?;
    let mut msg = code.to_be_bytes().to_vec();
    msg.extend_from_slice(payload);
    s.write_all(&msg)?;
    let mut resp = vec![0u8; resp_len];
    s.read_exact(&mut resp)?;
    Ok(resp)
}

fn read_u32(s: &mut impl Read) -> io::Result<u32> {
    let mut b = [0u8; 4];
    s.read_exact(&mut b)?;
    Ok(u32::from_be_bytes(b))
}

// ---------------------------------------------------------------------------
// Parsers for tpm2-tools 5.4 output. Strict: a line that fits no expected
// shape panics, so a format surprise is seen rather than silently skipped.

pub mod parse {
    use std::collections::BTreeMap;

    /// `0x1F` (hex) or `31` (decimal).
    pub fn num(s: &str) -> u64 {
        let s = s.trim();
        let r = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
            Some(h) => u64::from_str_radix(h, 16),
            None => s.parse::<u64>(),
        };
        r.unwrap_or_else(|e| panic!("not a number: {s:?}: {e}"))
    }

    pub fn hex(s: &str) -> Vec<u8> {
        let s = s.trim();
        let s = s.strip_prefix("0x").unwrap_or(s);
        hex::decode(s).unwrap_or_else(|e| panic!("not hex: {s:?}: {e}"))
    }

    /// `tpm2_pcrread` output: bank -> PCR index -> value.
    ///
    /// ```text
    ///   sha256:
    ///     0 : 0x00...
    ///     16: 0x00...
    /// ```
    pub fn pcrread(out: &str) -> BTreeMap<String, BTreeMap<u32, Vec<u8>>> {
        let mut banks: BTreeMap<String, BTreeMap<u32, Vec<u8>>> = BTreeMap::new();
        let mut bank: Option<String> = None;
        for line in out.lines() {
            let t = line.trim();
            if t.is_empty() {
                continue;
            }
            if let Some(name) = t.strip_suffix(':') {
                if !name.contains(' ') && !name.chars().all(|c| c.is_ascii_digit()) {
                    banks.entry(name.to_string()).or_default();
                    bank = Some(name.to_string());
                    continue;
                }
            }
            let (idx, val) = t
                .split_once(':')
                .unwrap_or_else(|| panic!("unexpected pcrread line {line:?} in\n{out}"));
            let idx: u32 = idx
                .trim()
                .parse()
                .unwrap_or_else(|_| panic!("unexpected pcrread line {line:?} in\n{out}"));
            let b = bank
                .clone()
                .unwrap_or_else(|| panic!("PCR line before a bank: {line:?}"));
            let prev = banks.entry(b).or_default().insert(idx, hex(val));
            assert!(prev.is_none(), "PCR {idx} listed twice in\n{out}");
        }
        banks
    }

    /// `alg: hexdigest` lines (tpm2_pcrevent output).
    pub fn alg_digests(out: &str) -> BTreeMap<String, Vec<u8>> {
        let mut m = BTreeMap::new();
        for line in out.lines() {
            let t = line.trim();
            if t.is_empty() {
                continue;
            }
            let (alg, d) = t
                .split_once(':')
                .unwrap_or_else(|| panic!("unexpected digest line {line:?} in\n{out}"));
            let prev = m.insert(alg.trim().to_string(), hex(d));
            assert!(prev.is_none(), "{alg} listed twice in\n{out}");
        }
        m
    }

    /// One top-level entry of tpm2-tools' YAML-like output: `key: inline`
    /// followed by indented `field: value` lines.
    #[derive(Clone, Debug)]
    pub struct Block {
        pub key: String,
        pub inline: Option<String>,
        pub fields: Vec<(String, String)>,
    }

    impl Block {
        pub fn field(&self, name: &str) -> Option<&str> {
            self.fields
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        }

        /// A field that must exist, as a number.
        pub fn num(&self, name: &str) -> u64 {
            num(self
                .field(name)
                .unwrap_or_else(|| panic!("{}: no field {name}: {self:?}", self.key)))
        }
    }

    pub fn blocks(out: &str) -> Vec<Block> {
        let mut v: Vec<Block> = Vec::new();
        for line in out.lines() {
            if line.trim().is_empty() {
                continue;
            }
            let indented = line.starts_with(' ');
            let (k, val) = line
                .trim()
                .split_once(':')
                .unwrap_or_else(|| panic!("unexpected line {line:?} in\n{out}"));
            let k = k.trim().to_string();
            let val = val.trim().to_string();
            if indented {
                let b = v
                    .last_mut()
                    .unwrap_or_else(|| panic!("field before any key: {line:?}"));
                b.fields.push((k, val));
            } else {
                v.push(Block {
                    key: k,
                    inline: (!val.is_empty()).then_some(val),
                    fields: Vec::new(),
                });
            }
        }
        v
    }

    pub fn block<'a>(blocks: &'a [Block], key: &str) -> &'a Block {
        blocks.iter().find(|b| b.key == key).unwrap_or_else(|| {
            let keys: Vec<&str> = blocks.iter().map(|b| b.key.as_str()).collect();
            panic!("no {key} among {keys:?}")
        })
    }

    /// `tpm2_getcap pcrs`: bank -> selected PCRs.
    ///
    /// ```text
    /// selected-pcrs:
    ///   - sha256: [ 0, 1, 2 ]
    ///   - sha1: [ ]
    /// ```
    pub fn pcr_selection(out: &str) -> BTreeMap<String, Vec<u32>> {
        let mut m = BTreeMap::new();
        for line in out.lines() {
            let t = line.trim();
            if t.is_empty() || t == "selected-pcrs:" {
                continue;
            }
            let rest = t
                .strip_prefix("- ")
                .unwrap_or_else(|| panic!("unexpected pcrs line {line:?} in\n{out}"));
            let (bank, list) = rest
                .split_once(':')
                .unwrap_or_else(|| panic!("unexpected pcrs line {line:?}"));
            let list = list.trim();
            let inner = list
                .strip_prefix('[')
                .and_then(|l| l.strip_suffix(']'))
                .unwrap_or_else(|| panic!("unexpected pcrs list {list:?}"));
            let pcrs: Vec<u32> = inner
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| num(s) as u32)
                .collect();
            let prev = m.insert(bank.trim().to_string(), pcrs);
            assert!(prev.is_none(), "bank {bank} listed twice in\n{out}");
        }
        m
    }

    /// `tpm2_getcap handles-*`: `- 0x81000000` lines.
    pub fn handles(out: &str) -> Vec<u32> {
        out.lines()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(|t| {
                let h = t
                    .strip_prefix("- ")
                    .unwrap_or_else(|| panic!("unexpected handle line {t:?} in\n{out}"));
                num(h) as u32
            })
            .collect()
    }

    /// A TPMT_TK_HASHCHECK as written by `tpm2_hash -t`: (tag, hierarchy,
    /// digest).
    pub fn hashcheck_ticket(bytes: &[u8]) -> (u16, u32, Vec<u8>) {
        assert!(bytes.len() >= 8, "ticket too short: {bytes:02x?}");
        let tag = u16::from_be_bytes([bytes[0], bytes[1]]);
        let hier = u32::from_be_bytes([bytes[2], bytes[3], bytes[4], bytes[5]]);
        let size = u16::from_be_bytes([bytes[6], bytes[7]]) as usize;
        assert_eq!(bytes.len(), 8 + size, "ticket size mismatch: {bytes:02x?}");
        (tag, hier, bytes[8..].to_vec())
    }
}
