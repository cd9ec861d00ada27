//! swtpm the way hosts run it today: one `swtpm socket --tpm2 --ctrl
//! type=unixio,path=...` process per vTPM, data channel passed by QEMU
//! with CMD_SET_DATAFD — exactly what [`crate::ctrl_client`] does.
//! No swtpm_setup: the processes manufacture their TPM (seeds, no EK) at
//! the first CMD_INIT.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// Running swtpm processes; killed and reaped on drop.
pub struct Fleet {
    children: Vec<Child>,
    pub ctrl_paths: Vec<PathBuf>,
    /// Time to start them all and see every control socket.
    pub started_in: Duration,
}

impl Fleet {
    /// Starts `count` swtpm processes under `base` (`base/swtpm-I/`).
    pub fn start(base: &Path, count: usize) -> Fleet {
        let started = Instant::now();
        let mut fleet = Fleet {
            children: Vec::with_capacity(count),
            ctrl_paths: Vec::with_capacity(count),
            started_in: Duration::ZERO,
        };
        for i in 0..count {
            let dir = base.join(format!("swtpm-{i}"));
            std::fs::create_dir_all(&dir).expect("create a swtpm state dir");
            let ctrl = dir.join("ctrl");
            let child = Command::new("swtpm")
                .args(["socket", "--tpm2", "--ctrl"])
                .arg(format!("type=unixio,path={}", ctrl.display()))
                .arg("--tpmstate")
                .arg(format!("dir={}", dir.display()))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn swtpm (is it installed?)");
            fleet.children.push(child);
            fleet.ctrl_paths.push(ctrl);
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        for p in &fleet.ctrl_paths {
            while !p.exists() {
                assert!(
                    Instant::now() < deadline,
                    "swtpm did not create {}",
                    p.display()
                );
                thread::sleep(Duration::from_millis(5));
            }
        }
        fleet.started_in = started.elapsed();
        fleet
    }

    pub fn pids(&self) -> Vec<u32> {
        self.children.iter().map(Child::id).collect()
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
        }
        for c in &mut self.children {
            let _ = c.wait();
        }
    }
}
