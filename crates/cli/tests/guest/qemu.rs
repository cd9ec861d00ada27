//! Booting the guest in `qemu-system-x86_64` with OVMF and a vTPM.
//!
//! Software emulation only (`-accel tcg`): CI machines have no KVM. The
//! serial console is QEMU's stdio, read line by line by a thread; the test
//! answers the guest's final prompt through QEMU's stdin. The vTPM is QEMU's
//! `emulator` TPM backend on a UNIX control socket: QEMU sends the swtpm
//! control protocol there and hands over the data channel with
//! CMD_SET_DATAFD, so the same command line works with swtpm and vtpmd.
//!
//! This is the one launcher for every test guest: tests/vmguest (the agent
//! guest) adds its NIC and memory through [`VmConfig::extra_args`] and
//! [`VmConfig::memory_mb`].

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use super::Guest;

/// Kernel command line: console on the serial port, no kernel chatter on
/// it (it could split the guest's hex lines), and a panic exits QEMU
/// (`-no-reboot`) instead of hanging the test.
pub const APPEND: &str = "console=ttyS0 quiet loglevel=1 panic=-1";

/// A bootable guest: the kernel and initramfs QEMU loads directly
/// (`-kernel`/`-initrd`), so the EFI stub measures them as a firmware-loaded
/// kernel would be.
pub trait BootImage {
    fn kernel(&self) -> &Path;
    fn initrd(&self) -> &Path;
}

impl BootImage for Guest {
    fn kernel(&self) -> &Path {
        &self.kernel
    }
    fn initrd(&self) -> &Path {
        &self.initrd
    }
}

/// OVMF as Debian's `ovmf` package installs it. The single-image
/// `OVMF.fd` (loaded with `-bios`, variables kept in RAM) is preferred: under
/// TCG it boots in about two thirds of the time of the pflash pair, whose
/// variable writes are emulated flash cycles. The pflash pair (code
/// read-only, a private copy of the variable store) is the fallback.
#[derive(Debug, Clone)]
pub enum Firmware {
    Pflash { code: PathBuf, vars: PathBuf },
    Bios(PathBuf),
}

impl Firmware {
    pub fn find() -> Result<Firmware, String> {
        let bios = Path::new("/usr/share/ovmf/OVMF.fd");
        if bios.exists() {
            return Ok(Firmware::Bios(bios.into()));
        }
        let code = Path::new("/usr/share/OVMF/OVMF_CODE_4M.fd");
        let vars = Path::new("/usr/share/OVMF/OVMF_VARS_4M.fd");
        if code.exists() && vars.exists() {
            return Ok(Firmware::Pflash {
                code: code.into(),
                vars: vars.into(),
            });
        }
        Err("OVMF not found in /usr/share/ovmf or /usr/share/OVMF (apt-get install ovmf)".into())
    }
}

/// One VM's configuration. `dir` holds its private files (UEFI variable
/// store copy, QEMU's stderr, monitor socket).
#[derive(Debug, Clone)]
pub struct VmConfig {
    pub dir: PathBuf,
    /// The vTPM's control socket (swtpm `--ctrl type=unixio` or vtpmd's
    /// `RUN/NAME.ctrl`).
    pub tpm_ctrl: PathBuf,
    /// `tpm-tis` or `tpm-crb`.
    pub tpm_device: &'static str,
    pub append: String,
    /// `-incoming` URI (migration destination).
    pub incoming: Option<String>,
    /// A QEMU human monitor on this UNIX socket.
    pub monitor: Option<PathBuf>,
    /// Guest RAM (`-m`), in MiB.
    pub memory_mb: u32,
    /// Further QEMU arguments, appended after the TPM (devices such as a NIC).
    pub extra_args: Vec<String>,
}

impl VmConfig {
    pub fn new(dir: &Path, tpm_ctrl: &Path) -> VmConfig {
        VmConfig {
            dir: dir.to_path_buf(),
            tpm_ctrl: tpm_ctrl.to_path_buf(),
            tpm_device: "tpm-tis",
            append: APPEND.to_owned(),
            incoming: None,
            monitor: None,
            memory_mb: 256,
            extra_args: Vec::new(),
        }
    }
}

/// A running QEMU. Killed and reaped on drop.
pub struct Vm {
    child: Option<Child>,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    console: Arc<Mutex<String>>,
    stderr_path: PathBuf,
    pub started: Instant,
}

impl Vm {
    pub fn start<G: BootImage + ?Sized>(guest: &G, cfg: &VmConfig) -> Result<Vm, String> {
        let fw = Firmware::find()?;
        std::fs::create_dir_all(&cfg.dir).map_err(|e| format!("mkdir {:?}: {e}", cfg.dir))?;
        let mut cmd = Command::new("qemu-system-x86_64");
        cmd.args(["-machine", "q35", "-accel", "tcg", "-smp", "1"])
            .arg("-m")
            .arg(cfg.memory_mb.to_string())
            .args(["-nodefaults", "-display", "none", "-no-reboot"])
            .args(["-serial", "stdio"]);
        match &fw {
            Firmware::Pflash { code, vars } => {
                // Every VM gets its own variable store, as a real one would.
                let my_vars = cfg.dir.join("OVMF_VARS.fd");
                if !my_vars.exists() {
                    std::fs::copy(vars, &my_vars).map_err(|e| format!("copy OVMF vars: {e}"))?;
                }
                cmd.arg("-drive").arg(format!(
                    "if=pflash,format=raw,unit=0,readonly=on,file={}",
                    code.display()
                ));
                cmd.arg("-drive").arg(format!(
                    "if=pflash,format=raw,unit=1,file={}",
                    my_vars.display()
                ));
            }
            Firmware::Bios(bios) => {
                cmd.arg("-bios").arg(bios);
            }
        }
        cmd.arg("-kernel")
            .arg(guest.kernel())
            .arg("-initrd")
            .arg(guest.initrd())
            .arg("-append")
            .arg(&cfg.append)
            .arg("-chardev")
            .arg(format!("socket,id=chrtpm,path={}", cfg.tpm_ctrl.display()))
            .args(["-tpmdev", "emulator,id=tpm0,chardev=chrtpm"])
            .arg("-device")
            .arg(format!("{},tpmdev=tpm0", cfg.tpm_device))
            .args(&cfg.extra_args);
        if let Some(m) = &cfg.monitor {
            cmd.arg("-monitor")
                .arg(format!("unix:{},server=on,wait=off", m.display()));
        }
        if let Some(uri) = &cfg.incoming {
            cmd.args(["-incoming", uri]);
        }
        let stderr_path = cfg.dir.join("qemu.stderr");
        let stderr = std::fs::File::create(&stderr_path).map_err(|e| format!("{e}"))?;
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr));
        let mut child = cmd.spawn().map_err(|e| {
            format!("spawn qemu-system-x86_64: {e} (apt-get install qemu-system-x86)")
        })?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().ok_or("no QEMU stdout")?;
        let console = Arc::new(Mutex::new(String::new()));
        let (tx, lines) = mpsc::channel();
        let sink = Arc::clone(&console);
        thread::spawn(move || {
            let mut r = BufReader::new(stdout);
            let mut buf = Vec::new();
            while let Ok(n) = r.read_until(b'\n', &mut buf) {
                if n == 0 {
                    break;
                }
                let line = String::from_utf8_lossy(&buf).into_owned();
                if let Ok(mut c) = sink.lock() {
                    c.push_str(&line);
                }
                let _ = tx.send(line);
                buf.clear();
            }
        });
        Ok(Vm {
            child: Some(child),
            stdin,
            lines,
            console,
            stderr_path,
            started: Instant::now(),
        })
    }

    /// Everything the guest printed so far.
    pub fn console(&self) -> String {
        self.console.lock().map(|c| c.clone()).unwrap_or_default()
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// Waits until a console line (without `\r\n`) equals or starts with
    /// `marker`; returns that line.
    pub fn wait_for(&mut self, marker: &str, timeout: Duration) -> Result<String, String> {
        self.wait_line(marker, timeout, |l| {
            Ok(l.starts_with(marker).then(|| l.to_owned()))
        })
    }

    /// Waits for a console line holding `marker` anywhere (firmware escape
    /// codes may precede it on the same line); returns the line from the
    /// marker on. A `TC-ERROR` line from the guest fails at once instead of
    /// waiting out the timeout.
    // Only tests/vmguest calls it; each test crate compiles this module.
    #[allow(dead_code)]
    pub fn wait_for_marker(&mut self, marker: &str, timeout: Duration) -> Result<String, String> {
        self.wait_line(marker, timeout, |l| {
            if let Some(at) = l.find(marker) {
                return Ok(Some(l[at..].to_owned()));
            }
            match l.find("TC-ERROR") {
                Some(at) => Err(format!("waiting for {marker:?}: {}", &l[at..])),
                None => Ok(None),
            }
        })
    }

    /// Feeds console lines (without `\r\n`) to `check` until it returns a
    /// value or an error, QEMU exits, or `timeout` passes.
    fn wait_line(
        &mut self,
        marker: &str,
        timeout: Duration,
        check: impl Fn(&str) -> Result<Option<String>, String>,
    ) -> Result<String, String> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self
                .lines
                .recv_timeout(left.min(Duration::from_millis(200)))
            {
                Ok(line) => match check(line.trim_end_matches(['\r', '\n'])) {
                    Ok(Some(found)) => return Ok(found),
                    Ok(None) => {}
                    Err(why) => return Err(self.failure(&why)),
                },
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(self.failure(&format!("QEMU exited before {marker:?}")));
                }
            }
            if Instant::now() >= deadline {
                return Err(self.failure(&format!("no {marker:?} within {timeout:?}")));
            }
        }
    }

    /// Sends one line to the guest's console.
    pub fn send_line(&mut self, line: &str) -> Result<(), String> {
        let w = self.stdin.as_mut().ok_or("QEMU stdin closed")?;
        w.write_all(format!("{line}\n").as_bytes())
            .and_then(|()| w.flush())
            .map_err(|e| format!("write to QEMU console: {e}"))
    }

    /// Waits for QEMU to exit by itself (the guest powered off).
    pub fn wait_exit(&mut self, timeout: Duration) -> Result<ExitStatus, String> {
        let deadline = Instant::now() + timeout;
        loop {
            let Some(child) = self.child.as_mut() else {
                return Err("QEMU already reaped".into());
            };
            match child.try_wait() {
                Ok(Some(st)) => {
                    self.child = None;
                    return Ok(st);
                }
                Ok(None) => {}
                Err(e) => return Err(format!("wait for QEMU: {e}")),
            }
            if Instant::now() >= deadline {
                return Err(self.failure(&format!("QEMU still running after {timeout:?}")));
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills QEMU (used for the migration source once the destination runs).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// A failure message with the console and QEMU's stderr attached.
    pub fn failure(&self, why: &str) -> String {
        format!(
            "{why}\n--- guest console ---\n{}\n--- qemu stderr ---\n{}",
            self.console(),
            self.stderr()
        )
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        self.kill();
    }
}
