//! The vTPMs the test VMs use: swtpm (the reference QEMU users run today)
//! and `trustcloud vtpmd`. Both serve QEMU on a UNIX control socket.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::support::{self, ServerBuilder, Tools};

/// swtpm serving QEMU on a UNIX control socket, its state in a directory
/// that outlives it (swtpm exits when QEMU sends CMD_SHUTDOWN at exit).
pub struct Swtpm {
    pub dir: tempfile::TempDir,
    child: Option<Child>,
}

impl Swtpm {
    pub fn new() -> Swtpm {
        let dir = tempfile::Builder::new()
            .prefix("trustcloud-qemu-swtpm-")
            .tempdir()
            .unwrap();
        std::fs::create_dir_all(dir.path().join("state")).unwrap();
        Swtpm { dir, child: None }
    }

    pub fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    pub fn ctrl(&self) -> PathBuf {
        self.dir.path().join("swtpm.ctrl")
    }

    /// Starts swtpm for one QEMU run.
    pub fn start(&mut self) {
        self.stop();
        let _ = std::fs::remove_file(self.ctrl());
        let child = Command::new("swtpm")
            .args(["socket", "--tpm2", "--tpmstate"])
            .arg(format!("dir={}", self.state().display()))
            .arg("--ctrl")
            .arg(format!("type=unixio,path={}", self.ctrl().display()))
            .arg("--log")
            .arg(format!(
                "file={}/swtpm.log,level=1",
                self.dir.path().display()
            ))
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn swtpm (apt-get install swtpm)");
        self.child = Some(child);
        let deadline = Instant::now() + support::SERVER_START_TIMEOUT;
        while !self.ctrl().exists() {
            assert!(
                Instant::now() < deadline,
                "swtpm did not create its control socket"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits for swtpm to exit after QEMU shut it down (so its state dir
    /// is free), killing it if it lingers.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let deadline = Instant::now() + Duration::from_secs(10);
            while matches!(c.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Runs `f` against a TCP swtpm over the same state (QEMU's swtpm must
    /// be gone), after TPM2_Startup.
    pub fn with_tools<T>(&mut self, f: impl FnOnce(&Tools, &support::Server) -> T) -> T {
        self.stop();
        let server = ServerBuilder::swtpm().state_dir(&self.state()).start();
        let tools = server.tools();
        tools.ok("tpm2_startup", &["-c"]);
        f(&tools, &server)
    }
}

impl Drop for Swtpm {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// `trustcloud vtpmd` in a private state and run directory.
pub struct Vtpmd {
    pub dir: tempfile::TempDir,
    child: Option<Child>,
}

/// One vTPM of a [`Vtpmd`], as `vtpm create` described it.
pub struct VtpmInfo {
    pub ctrl: PathBuf,
    /// swtpm-protocol TCP listener (data port; control is port + 1).
    pub tcti: String,
    pub data_port: u16,
}

impl Vtpmd {
    pub fn start() -> Vtpmd {
        let dir = tempfile::Builder::new()
            .prefix("trustcloud-qemu-vtpmd-")
            .tempdir()
            .unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_trustcloud"))
            .arg("vtpmd")
            .arg("--state-dir")
            .arg(dir.path().join("state"))
            .arg("--run-dir")
            .arg(dir.path().join("run"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(
                std::fs::File::create(dir.path().join("vtpmd.log")).unwrap(),
            ))
            .spawn()
            .expect("spawn trustcloud vtpmd");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let _ = tx.send(line);
            }
        });
        let d = Vtpmd {
            dir,
            child: Some(child),
        };
        match rx.recv_timeout(support::SERVER_START_TIMEOUT) {
            Ok(line) if line.starts_with("ready ") => d,
            other => panic!(
                "vtpmd did not print `ready ...` ({other:?})\n--- log ---\n{}",
                d.log()
            ),
        }
    }

    pub fn run_dir(&self) -> PathBuf {
        self.dir.path().join("run")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("vtpmd.log")).unwrap_or_default()
    }

    /// `trustcloud vtpm ARGS --run-dir RUN --json`, parsed.
    pub fn vtpm(&self, args: &[&str]) -> serde_json::Value {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_trustcloud"));
        cmd.arg("vtpm")
            .args(args)
            .arg("--run-dir")
            .arg(self.run_dir())
            .arg("--json");
        let out = support::run_bounded(cmd, None, support::TOOL_TIMEOUT);
        assert!(
            out.success(),
            "trustcloud vtpm {args:?}: {out:?}\n--- vtpmd log ---\n{}",
            self.log()
        );
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("vtpm {args:?} printed no JSON ({e}): {out:?}"))
    }

    /// Manufactures vTPM `name` with a swtpm-protocol TCP listener beside
    /// its control socket.
    pub fn create(&self, name: &str) -> VtpmInfo {
        self.create_with(name, &[])
    }

    /// [`Vtpmd::create`] with more `vtpm create` options (e.g.
    /// `--incoming SOURCE` for a live-migration destination).
    pub fn create_with(&self, name: &str, extra: &[&str]) -> VtpmInfo {
        let mut args = vec![
            "create",
            name,
            "--listen",
            "127.0.0.1:0",
            "--protocol",
            "swtpm",
        ];
        args.extend_from_slice(extra);
        let json = self.vtpm(&args);
        let ctrl = PathBuf::from(json["control_socket"].as_str().expect("control_socket"));
        let tcti = json["listen"]["tcti"]
            .as_str()
            .expect("listen.tcti")
            .to_owned();
        let first = json["listen"]["first"].as_str().expect("listen.first");
        let data_port = first
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("listen port");
        VtpmInfo {
            ctrl,
            tcti,
            data_port,
        }
    }
}

impl VtpmInfo {
    /// tpm2-tools against this vTPM's TCP listener.
    pub fn tools(&self, cwd: &Path) -> Tools {
        Tools {
            tcti: self.tcti.clone(),
            cwd: cwd.to_path_buf(),
            server_log: None,
        }
    }

    /// swtpm CMD_INIT on the TCP control port: powers the vTPM on again
    /// after QEMU shut it down (CMD_SHUTDOWN) at exit.
    pub fn power_on(&self) {
        const CMD_INIT: u32 = 2;
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], self.data_port + 1));
        let r = support::swtpm_ctrl(addr, CMD_INIT, &0u32.to_be_bytes(), 4).expect("CMD_INIT");
        assert_eq!(r, vec![0; 4], "CMD_INIT result");
    }
}

impl Drop for Vtpmd {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SAFETY: kill(2) on a child we spawned and have not reaped.
            unsafe {
                libc::kill(c.id() as libc::pid_t, libc::SIGTERM);
            }
            let deadline = Instant::now() + Duration::from_secs(10);
            while matches!(c.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
