//! Booting the agent guest: like tests/guest/qemu.rs (q35, OVMF, TCG, the
//! vTPM on QEMU's `emulator` backend, serial console on stdio), plus a
//! virtio-net NIC on QEMU user networking (slirp: the guest is 10.0.2.15,
//! and 10.0.2.2 reaches the host's loopback), and more memory for the
//! larger initramfs.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use super::AgentGuest;
use crate::guest::qemu::Firmware;

/// The same console settings as tests/guest (APPEND there).
pub const APPEND: &str = "console=ttyS0 quiet loglevel=1 panic=-1";

/// A running QEMU, killed and reaped on drop.
pub struct NetVm {
    child: Option<Child>,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    console: Arc<Mutex<String>>,
    stderr_path: PathBuf,
}

impl NetVm {
    /// Boots `guest` with `append` as the kernel command line against the
    /// vTPM whose control socket is `tpm_ctrl`; QEMU's files go to `dir`.
    pub fn start(
        guest: &AgentGuest,
        dir: &Path,
        tpm_ctrl: &Path,
        append: &str,
    ) -> Result<NetVm, String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
        let mut cmd = Command::new("qemu-system-x86_64");
        cmd.args(["-machine", "q35", "-accel", "tcg", "-m", "768", "-smp", "1"])
            .args(["-nodefaults", "-display", "none", "-no-reboot"])
            .args(["-serial", "stdio"]);
        match Firmware::find()? {
            Firmware::Bios(bios) => {
                cmd.arg("-bios").arg(bios);
            }
            Firmware::Pflash { code, vars } => {
                let mine = dir.join("OVMF_VARS.fd");
                if !mine.exists() {
                    std::fs::copy(&vars, &mine).map_err(|e| format!("copy OVMF vars: {e}"))?;
                }
                cmd.arg("-drive").arg(format!(
                    "if=pflash,format=raw,unit=0,readonly=on,file={}",
                    code.display()
                ));
                cmd.arg("-drive").arg(format!(
                    "if=pflash,format=raw,unit=1,file={}",
                    mine.display()
                ));
            }
        }
        cmd.arg("-kernel")
            .arg(&guest.kernel)
            .arg("-initrd")
            .arg(&guest.initrd)
            .arg("-append")
            .arg(append)
            .arg("-chardev")
            .arg(format!("socket,id=chrtpm,path={}", tpm_ctrl.display()))
            .args(["-tpmdev", "emulator,id=tpm0,chardev=chrtpm"])
            .args(["-device", "tpm-tis,tpmdev=tpm0"])
            // No option ROM: OVMF would otherwise try a PXE boot from it.
            .args(["-netdev", "user,id=n0"])
            .args(["-device", "virtio-net-pci,netdev=n0,romfile="]);
        let stderr_path = dir.join("qemu.stderr");
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
        Ok(NetVm {
            child: Some(child),
            stdin,
            lines,
            console,
            stderr_path,
        })
    }

    /// Everything the guest printed so far.
    pub fn console(&self) -> String {
        self.console.lock().map(|c| c.clone()).unwrap_or_default()
    }

    /// Waits for a console line starting with `marker` (after any firmware
    /// escape codes on the same line); returns it from the marker on.
    /// A `TC-ERROR` line from the guest fails at once.
    pub fn wait_for(&mut self, marker: &str, timeout: Duration) -> Result<String, String> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self
                .lines
                .recv_timeout(left.min(Duration::from_millis(200)))
            {
                Ok(line) => {
                    let l = line.trim_end_matches(['\r', '\n']);
                    if let Some(at) = l.find(marker) {
                        return Ok(l[at..].to_owned());
                    }
                    if let Some(at) = l.find("TC-ERROR") {
                        let err = l[at..].to_owned();
                        return Err(self.failure(&format!("waiting for {marker:?}: {err}")));
                    }
                }
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

    /// Asks the guest to power off and waits (bounded) for QEMU to exit.
    pub fn power_off(&mut self, timeout: Duration) -> Result<(), String> {
        self.send_line("go")?;
        let deadline = Instant::now() + timeout;
        loop {
            let Some(child) = self.child.as_mut() else {
                return Ok(());
            };
            match child.try_wait() {
                Ok(Some(st)) if st.success() => {
                    self.child = None;
                    return Ok(());
                }
                Ok(Some(st)) => {
                    self.child = None;
                    return Err(self.failure(&format!("QEMU exited with {st}")));
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

    /// A failure message with the console and QEMU's stderr attached.
    pub fn failure(&self, why: &str) -> String {
        format!(
            "{why}\n--- guest console ---\n{}\n--- qemu stderr ---\n{}",
            self.console(),
            std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
        )
    }
}

impl Drop for NetVm {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
