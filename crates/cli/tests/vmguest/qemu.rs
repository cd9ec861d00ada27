//! Booting the agent guest with the launcher of tests/guest/qemu.rs (q35,
//! OVMF, TCG, the vTPM on QEMU's `emulator` backend, serial console on
//! stdio), plus a virtio-net NIC on QEMU user networking (slirp: the guest
//! is 10.0.2.15, and 10.0.2.2 reaches the host's loopback), and more memory
//! for the larger initramfs.

use std::path::Path;
use std::time::Duration;

use super::AgentGuest;
use crate::guest::qemu::{BootImage, Vm, VmConfig};

pub use crate::guest::qemu::APPEND;

/// The initramfs (`trustcloud` and its libraries, ~40 MB) is unpacked into
/// RAM next to the running agent, so more than the launcher's default.
const MEMORY_MB: u32 = 768;

impl BootImage for AgentGuest {
    fn kernel(&self) -> &Path {
        &self.kernel
    }
    fn initrd(&self) -> &Path {
        &self.initrd
    }
}

/// A running agent guest, killed and reaped on drop.
pub struct NetVm {
    vm: Vm,
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
        let mut cfg = VmConfig::new(dir, tpm_ctrl);
        cfg.append = append.to_owned();
        cfg.memory_mb = MEMORY_MB;
        cfg.extra_args = [
            "-netdev",
            "user,id=n0",
            // No option ROM: OVMF would otherwise try a PXE boot from it.
            "-device",
            "virtio-net-pci,netdev=n0,romfile=",
        ]
        .map(String::from)
        .to_vec();
        Ok(NetVm {
            vm: Vm::start(guest, &cfg)?,
        })
    }

    /// Everything the guest printed so far.
    pub fn console(&self) -> String {
        self.vm.console()
    }

    /// See [`Vm::wait_for_marker`]: the marker anywhere in a line, and a
    /// `TC-ERROR` line fails at once.
    pub fn wait_for(&mut self, marker: &str, timeout: Duration) -> Result<String, String> {
        self.vm.wait_for_marker(marker, timeout)
    }

    /// Sends one line to the guest's console.
    pub fn send_line(&mut self, line: &str) -> Result<(), String> {
        self.vm.send_line(line)
    }

    /// Asks the guest to power off and waits (bounded) for QEMU to exit
    /// successfully.
    pub fn power_off(&mut self, timeout: Duration) -> Result<(), String> {
        self.vm.send_line("go")?;
        let st = self.vm.wait_exit(timeout)?;
        if st.success() {
            Ok(())
        } else {
            Err(self.vm.failure(&format!("QEMU exited with {st}")))
        }
    }

    /// A failure message with the console and QEMU's stderr attached.
    pub fn failure(&self, why: &str) -> String {
        self.vm.failure(why)
    }
}
