//! vtpmd: many vTPM instances in one process.
//!
//! # Layout
//!
//! - `STATE/instances/NAME/`: one directory per instance (engine state and
//!   `instance.json`, see [`meta`]); `STATE/.vtpmd.lock` keeps a second
//!   daemon off the same state.
//! - `RUN/vtpmd.sock`: the management socket (mode 0600).
//! - `RUN/NAME.ctrl`: each instance's swtpm control socket, for QEMU's
//!   `-chardev socket,id=chrtpm,path=RUN/NAME.ctrl -tpmdev
//!   emulator,id=tpm0,chardev=chrtpm` (see `ctrl_socket`).
//! - Optionally a TCP port pair per instance (swtpm or mssim protocol).
//!
//! Instances are loaded on their first connection and unloaded when idle
//! (see `registry`); one instance's commands run in order, different
//! instances' in parallel. A VM's data channel (the TPM commands QEMU
//! sends) has a thread of its own with blocking I/O, like swtpm's main
//! loop (see `data_channel`); control sockets, TCP listeners and the
//! management socket run on a tokio runtime whose blocking pool runs their
//! engine calls. Live migration (CMD_GET/SET_STATEBLOB, sealed blobs):
//! see `migration` and docs/vtpm-state.md.
//!
//! `create` also takes `"incoming":"SOURCE"` (a migration destination that
//! accepts only state blobs sealed for SOURCE) and
//! `"migration_plaintext":true` (unsafe: clear blobs).
//!
//! # Management protocol
//!
//! A client connects to `RUN/vtpmd.sock` and sends requests, each one JSON
//! object on one line (`\n`-terminated); the daemon answers each with one
//! line, in order. Requests ([`api::Request`]), tagged by `"op"`:
//!
//! ```text
//! {"op":"status"}
//! {"op":"create","name":"vm1","ek":["rsa2048","ecc-p256"],"pcr_banks":["sha256"],
//!  "listen":"127.0.0.1:2321","protocol":"swtpm"}      (all but name optional)
//! {"op":"list"}
//! {"op":"show","name":"vm1"}
//! {"op":"delete","name":"vm1","force":false}
//! {"op":"export","name":"vm1"}
//! {"op":"import","name":"vm2","document":{...export result...},
//!  "listen":"127.0.0.1:0","protocol":"mssim"}         (name, listen optional)
//! ```
//!
//! Answers ([`api::Response`]):
//!
//! ```text
//! {"ok":true,"result":...}
//! {"ok":false,"error":{"code":"not_found","message":"no vTPM named \"vm9\""}}
//! ```
//!
//! `result` is an [`api::DaemonStatus`] (status), an [`api::InstanceInfo`]
//! (create, import, show), a list of them (list), `{"deleted":NAME}`
//! (delete) or an [`api::ExportDocument`] (export). Error codes
//! ([`api::ErrorCode`]): `bad_request` (unparsable line), `invalid_argument`,
//! `already_exists`, `not_found`, `busy` (delete with clients connected),
//! `state_refused` (the stored state cannot be loaded: corrupt or rolled
//! back), `address_in_use`, `internal`.

pub mod api;
pub mod client;
mod ctrl_socket;
mod data_channel;
pub mod manufacture;
pub mod meta;
mod mgmt;
mod migration;
mod ops;
mod registry;
mod storage;
mod sys;
mod tcp;

use std::fs::{DirBuilder, File};
use std::io;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub use client::{Client, ClientError};
pub use registry::Config;
pub use sys::send_with_fds;

use registry::Registry;
use storage::Storage;

/// The management socket's file name in the run directory.
pub const SOCKET_NAME: &str = "vtpmd.sock";
/// The host vTPM CA's directory in the state directory.
pub const CA_DIR: &str = "ca";
/// The lock file in the state directory.
const LOCK_FILE: &str = ".vtpmd.lock";
/// Default for [`Config::idle_unload`].
pub const DEFAULT_IDLE_UNLOAD: Duration = Duration::from_secs(300);

/// Why the daemon did not start.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("cannot {op} {}: {err}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        err: io::Error,
    },
    #[error("another vtpmd uses the state directory {} (lock {} is held)", dir.display(), dir.join(LOCK_FILE).display())]
    StateLocked { dir: PathBuf },
    #[error("another vtpmd answers on {}", path.display())]
    AlreadyRunning { path: PathBuf },
    #[error("cannot open the state store: {0}")]
    Store(#[from] crate::store::StoreError),
    #[error("cannot use the host TPM {tcti}: {reason}")]
    HostTpm { tcti: String, reason: String },
    #[error("cannot open the vTPM CA: {0}")]
    Ca(#[from] crate::ekcert::EkCertError),
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> DaemonError + 'a {
    move |err| DaemonError::Io {
        op,
        path: path.to_path_buf(),
        err,
    }
}

/// A running daemon.
pub struct Daemon {
    runtime: Option<tokio::runtime::Runtime>,
    reg: Arc<Registry>,
    socket: PathBuf,
    instances: usize,
    _lock: File,
}

impl Daemon {
    /// Locks the state directory, registers every instance in it, opens
    /// their sockets and the management socket, and starts serving.
    pub fn start(mut cfg: Config) -> Result<Daemon, DaemonError> {
        match &cfg.host_tpm {
            None => tracing::warn!(
                "NO HARDWARE ROOT OF TRUST: no --host-tpm given, so the vTPM state keys and the EK \
                 CA key live in files on this host; anyone who copies the state directory can \
                 clone every vTPM. Give --host-tpm device:/dev/tpmrm0 on a host with a TPM."
            ),
            Some(t) => tracing::info!(host_tpm = t, "host TPM"),
        }
        match sys::raise_nofile_limit() {
            Ok(n) => tracing::debug!(limit = n, "open-file limit"),
            Err(e) => tracing::warn!(error = %e, "cannot raise the open-file limit"),
        }
        for dir in [&cfg.state_dir, &cfg.run_dir] {
            DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(io_err("create", dir))?;
        }
        // Absolute paths: the sockets' paths are handed to QEMU and printed.
        cfg.state_dir = cfg
            .state_dir
            .canonicalize()
            .map_err(io_err("resolve", &cfg.state_dir))?;
        cfg.run_dir = cfg
            .run_dir
            .canonicalize()
            .map_err(io_err("resolve", &cfg.run_dir))?;
        let lock_path = cfg.state_dir.join(LOCK_FILE);
        let lock =
            crate::lockfile::open_lock_file(&lock_path).map_err(io_err("open", &lock_path))?;
        if !crate::lockfile::try_lock(&lock).map_err(io_err("lock", &lock_path))? {
            return Err(DaemonError::StateLocked {
                dir: cfg.state_dir.clone(),
            });
        }
        let socket = cfg.run_dir.join(SOCKET_NAME);
        if std::os::unix::net::UnixStream::connect(&socket).is_ok() {
            return Err(DaemonError::AlreadyRunning { path: socket });
        }
        registry::remove_if_exists(&socket).map_err(io_err("remove", &socket))?;

        // One connection to the host TPM, shared by the sealed store (master
        // key, rollback anchor) and the EK CA: a TPM serves one client.
        let host = open_host_tpm(&cfg)?;
        let storage = Storage::new(
            &cfg.state_dir,
            host.as_ref()
                .map(|h| Arc::clone(h) as crate::seal::SharedHostTpm),
        )?;
        let ca = open_ca(&cfg, host.as_ref())?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .thread_name("vtpmd")
            .max_blocking_threads(64)
            .enable_all()
            .build()
            .map_err(io_err("start the runtime for", &cfg.run_dir))?;
        let idle = cfg.idle_unload;
        let reg = Arc::new(Registry::new(cfg, storage, ca));
        let _entered = runtime.enter();
        let started = std::time::Instant::now();
        let instances = reg
            .scan()
            .map_err(io_err("read the instances in", &reg.instances_dir()))?;
        tracing::info!(
            instances,
            ms = started.elapsed().as_millis() as u64,
            "instances registered"
        );

        let listener = std::os::unix::net::UnixListener::bind(&socket)
            .map_err(io_err("listen on", &socket))?;
        std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o600))
            .map_err(io_err("chmod", &socket))?;
        listener
            .set_nonblocking(true)
            .map_err(io_err("listen on", &socket))?;
        let listener =
            tokio::net::UnixListener::from_std(listener).map_err(io_err("listen on", &socket))?;
        runtime.spawn(mgmt::serve(Arc::clone(&reg), listener));
        runtime.spawn(reaper(Arc::clone(&reg), idle));
        drop(_entered);
        Ok(Daemon {
            runtime: Some(runtime),
            reg,
            socket,
            instances,
            _lock: lock,
        })
    }

    /// The management socket.
    pub fn socket_path(&self) -> &Path {
        &self.socket
    }

    /// Instances registered at start.
    pub fn instance_count(&self) -> usize {
        self.instances
    }

    /// Stops serving: every loaded instance's state is stored, sockets are
    /// removed. Commands that were running have finished and been stored.
    pub fn shutdown(mut self) {
        self.reg.shutdown();
        let _ = registry::remove_if_exists(&self.socket);
        if let Some(rt) = self.runtime.take() {
            // Blocking threads may wait forever on engines kept locked by
            // the shutdown: do not wait for them.
            rt.shutdown_background();
        }
        tracing::info!("vtpmd stopped");
    }
}

/// The host TPM named by `--host-tpm`, started and ready, if any.
fn open_host_tpm(
    cfg: &Config,
) -> Result<Option<Arc<std::sync::Mutex<crate::seal::TpmClientHost>>>, DaemonError> {
    let Some(tcti) = &cfg.host_tpm else {
        return Ok(None);
    };
    let host = crate::seal::TpmClientHost::open(tcti, b"").map_err(|e| DaemonError::HostTpm {
        tcti: tcti.clone(),
        reason: e.to_string(),
    })?;
    Ok(Some(Arc::new(std::sync::Mutex::new(host))))
}

/// The host vTPM CA in `STATE/ca` (created at the first start): its key
/// lives in the host TPM when one is given (unusable without it), else in
/// a 0600 file.
fn open_ca(
    cfg: &Config,
    host: Option<&Arc<std::sync::Mutex<crate::seal::TpmClientHost>>>,
) -> Result<Box<dyn crate::ekcert::CaKey>, DaemonError> {
    use crate::ekcert::{self, CaAlgorithm, FileCa, TpmCa};
    let dir = cfg.state_dir.join(CA_DIR);
    let (ca, created): (Box<dyn ekcert::CaKey>, bool) = match host {
        Some(h) => {
            let conn = h
                .lock()
                .map_err(|_| DaemonError::HostTpm {
                    tcti: cfg.host_tpm.clone().unwrap_or_default(),
                    reason: "host TPM connection poisoned".into(),
                })?
                .connection();
            let (ca, created) = TpmCa::open_or_create(&dir, conn, &ekcert::hostname())?;
            (Box::new(ca), created)
        }
        None => {
            let (ca, created) =
                FileCa::open_or_create(&dir, CaAlgorithm::default(), &ekcert::hostname())?;
            (Box::new(ca), created)
        }
    };
    if created {
        tracing::info!(dir = %dir.display(), "created the host vTPM CA");
    }
    Ok(ca)
}

/// Unloads idle instances periodically.
async fn reaper(reg: Arc<Registry>, idle: Duration) {
    let period = (idle / 4).clamp(Duration::from_millis(250), Duration::from_secs(60));
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let r = Arc::clone(&reg);
        let _ = tokio::task::spawn_blocking(move || r.reap()).await;
    }
}
