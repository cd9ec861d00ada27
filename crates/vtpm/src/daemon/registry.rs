//! The instance registry: every instance's small in-memory record
//! ([`Slot`]), lazy loading of its engine, idle unloading, and per-instance
//! command serialization.
//!
//! Why lazy: 10,000 instances must fit in one daemon, and an engine in
//! memory costs tens of kilobytes, so an instance is a few hundred bytes
//! (name, a few bits of metadata, a listening control socket) until a
//! client connects. Loading happens on a blocking-pool thread, never on an
//! async worker. An instance is unloaded (state flushed, engine dropped)
//! once it has had no client and no command for the idle timeout; one with
//! a TCP listener stays loaded, since tpm2-tools connects per command and
//! its volatile state (PCRs, sessions) must survive between connections.
//!
//! Ordering: one instance's commands run one at a time under the
//! [`SharedInstance`] mutex, taken on a blocking-pool thread; different
//! instances run in parallel on different threads.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::api::{ApiError, ErrorCode, InstanceInfo, ListenInfo};
use super::manufacture::kind_bit;
use super::meta::{self, Listen, Meta, INSTANCES_DIR};
use super::storage::Storage;
use super::tcp::TcpState;
use crate::ekcert::{CaKey, EkKind};
use crate::instance::Instance;
use crate::net::{self, SharedInstance};
use crate::store::StoreError;
use tpm::EngineConfig;

/// The daemon's settings.
#[derive(Clone, Debug)]
pub struct Config {
    /// Instance directories, the daemon lock.
    pub state_dir: PathBuf,
    /// The management socket and the control sockets.
    pub run_dir: PathBuf,
    /// The host TPM's TCTI string; `None`: no hardware root of trust.
    pub host_tpm: Option<String>,
    /// An instance without clients is unloaded after this long.
    pub idle_unload: Duration,
}

/// Locks a std mutex, ignoring poisoning: the data behind these locks is
/// replaced whole, never left half-updated by a panic.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Resolves once `rx` says the instance stopped (or its sender is gone).
pub(crate) async fn stopped(rx: &mut watch::Receiver<bool>) {
    // The guard wait_for returns is not Send: drop it here, not across an
    // await of the caller.
    let _ = rx.wait_for(|s| *s).await;
}

/// One instance's record.
pub(crate) struct Slot {
    pub name: Arc<str>,
    pub created: u64,
    /// Comma-separated PCR banks at manufacture.
    pub pcr_banks: Box<str>,
    /// [`EkKind::bit`]s.
    pub ek_kinds: u8,
    pub listen: Option<Listen>,
    /// `--migration-plaintext`.
    pub migration_plaintext: bool,
    /// `--incoming SOURCE`.
    pub incoming: Option<Arc<str>>,
    /// The engine, when in memory.
    pub loaded: Mutex<Option<SharedInstance>>,
    /// The TCP handler (pins the engine) once a TCP client came.
    pub tcp: Mutex<Option<Arc<TcpState>>>,
    /// The data channel received with CMD_SET_DATAFD, while served.
    pub data_channel: Mutex<Option<super::data_channel::DataChannel>>,
    /// Milliseconds since the registry's epoch at the last use.
    last_used: AtomicU64,
    connections: AtomicU32,
    /// Why the last load failed.
    pub refused: Mutex<Option<Box<str>>>,
    /// Set to true when the instance is deleted or the daemon stops: its
    /// listeners and connections end.
    pub stop: watch::Sender<bool>,
}

impl Slot {
    fn new(meta: &Meta) -> Slot {
        let ek_kinds = meta
            .eks
            .iter()
            .filter_map(|e| e.kind.parse::<EkKind>().ok())
            .fold(0, |acc, k| acc | kind_bit(k));
        Slot {
            name: Arc::from(meta.name.as_str()),
            created: meta.created,
            pcr_banks: meta.pcr_banks.join(",").into_boxed_str(),
            ek_kinds,
            listen: meta.listen,
            migration_plaintext: meta.migration_plaintext,
            incoming: meta.incoming.as_deref().map(Arc::from),
            loaded: Mutex::new(None),
            tcp: Mutex::new(None),
            data_channel: Mutex::new(None),
            last_used: AtomicU64::new(0),
            connections: AtomicU32::new(0),
            refused: Mutex::new(None),
            stop: watch::channel(false).0,
        }
    }

    pub fn is_stopped(&self) -> bool {
        *self.stop.borrow()
    }

    /// Counts a client connection until the guard drops.
    pub fn connection(self: &Arc<Self>) -> ConnectionGuard {
        self.connections.fetch_add(1, Ordering::AcqRel);
        ConnectionGuard(Arc::clone(self))
    }

    pub fn connections(&self) -> u32 {
        self.connections.load(Ordering::Acquire)
    }

    /// Whether a data channel is being served.
    pub fn data_channel_active(&self) -> bool {
        lock(&self.data_channel)
            .as_ref()
            .is_some_and(|h| !h.is_finished())
    }

    fn ek_kind_names(&self) -> Vec<String> {
        EkKind::ALL
            .iter()
            .filter(|&&k| self.ek_kinds & kind_bit(k) != 0)
            .map(|k| k.name().to_string())
            .collect()
    }
}

/// See [`Slot::connection`].
pub(crate) struct ConnectionGuard(Arc<Slot>);

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.0.connections.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Every instance of the daemon.
pub(crate) struct Registry {
    pub cfg: Config,
    pub storage: Storage,
    /// The host vTPM CA that certifies every EK.
    pub ca: Box<dyn CaKey>,
    instances: RwLock<BTreeMap<Arc<str>, Arc<Slot>>>,
    /// Names being created or imported.
    pub creating: Mutex<std::collections::BTreeSet<String>>,
    epoch: Instant,
}

impl Registry {
    pub fn new(cfg: Config, storage: Storage, ca: Box<dyn CaKey>) -> Registry {
        Registry {
            cfg,
            storage,
            ca,
            instances: RwLock::new(BTreeMap::new()),
            creating: Mutex::new(Default::default()),
            epoch: Instant::now(),
        }
    }

    pub fn instances_dir(&self) -> PathBuf {
        self.cfg.state_dir.join(INSTANCES_DIR)
    }

    pub fn instance_dir(&self, name: &str) -> PathBuf {
        self.instances_dir().join(name)
    }

    pub fn ctrl_path(&self, name: &str) -> PathBuf {
        self.cfg.run_dir.join(format!("{name}.ctrl"))
    }

    pub fn get(&self, name: &str) -> Option<Arc<Slot>> {
        self.instances
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .cloned()
    }

    pub fn find(&self, name: &str) -> Result<Arc<Slot>, ApiError> {
        self.get(name)
            .ok_or_else(|| ApiError::new(ErrorCode::NotFound, format!("no vTPM named {name:?}")))
    }

    pub fn all(&self) -> Vec<Arc<Slot>> {
        self.instances
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect()
    }

    /// Adds the record of a complete instance directory.
    pub fn insert(&self, meta: &Meta) -> Arc<Slot> {
        let slot = Arc::new(Slot::new(meta));
        self.instances
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(Arc::clone(&slot.name), Arc::clone(&slot));
        slot
    }

    pub fn remove(&self, name: &str) -> Option<Arc<Slot>> {
        self.instances
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(name)
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// Records a use of `slot` (idle unloading counts from the last one).
    pub fn touch(&self, slot: &Slot) {
        slot.last_used.store(self.now_ms(), Ordering::Release);
    }

    /// The loaded engine, if any, without loading it.
    pub fn loaded(slot: &Slot) -> Option<SharedInstance> {
        lock(&slot.loaded).clone()
    }

    /// The engine of `slot`, loaded from its store if needed. Blocking
    /// (file I/O and state parsing): call from a blocking-pool thread.
    pub fn load(&self, slot: &Slot) -> Result<SharedInstance, ApiError> {
        let mut loaded = lock(&slot.loaded);
        if slot.is_stopped() {
            return Err(ApiError::new(
                ErrorCode::NotFound,
                format!("vTPM {:?} is being deleted", slot.name),
            ));
        }
        self.touch(slot);
        if let Some(inst) = loaded.as_ref() {
            return Ok(Arc::clone(inst));
        }
        let started = Instant::now();
        match self.open(&slot.name) {
            Ok(inst) => {
                *lock(&slot.refused) = None;
                let inst = Arc::new(Mutex::new(inst));
                *loaded = Some(Arc::clone(&inst));
                tracing::debug!(name = %slot.name, ms = started.elapsed().as_millis() as u64, "vTPM loaded");
                Ok(inst)
            }
            Err(e) => {
                tracing::error!(name = %slot.name, error = %e.message, "vTPM state refused");
                *lock(&slot.refused) = Some(e.message.clone().into_boxed_str());
                Err(e)
            }
        }
    }

    fn open(&self, name: &str) -> Result<Instance, ApiError> {
        let dir = self.instance_dir(name);
        let store = self
            .storage
            .open(&dir, name)
            .map_err(|e| store_error(name, e))?;
        // Instance::open would manufacture a new TPM in place of a missing
        // state: for an existing instance that is never right.
        {
            use crate::store::StateBackend;
            if store.load().map_err(|e| store_error(name, e))?.is_none() {
                return Err(ApiError::new(
                    ErrorCode::StateRefused,
                    format!(
                        "vTPM {name:?} has no state in {}: refusing to manufacture a new TPM in its place",
                        dir.display()
                    ),
                ));
            }
        }
        let (inst, _) =
            Instance::open(store, &EngineConfig::default()).map_err(|e| store_error(name, e))?;
        Ok(inst)
    }

    /// Unloads every instance idle for the configured time with no client:
    /// its state is stored and the engine dropped. Blocking. Returns how
    /// many were unloaded.
    pub fn reap(&self) -> usize {
        let idle_ms = self.cfg.idle_unload.as_millis() as u64;
        let now = self.now_ms();
        let mut unloaded = 0;
        for slot in self.all() {
            if slot.listen.is_some() || slot.connections() > 0 {
                continue;
            }
            if now.saturating_sub(slot.last_used.load(Ordering::Acquire)) < idle_ms {
                continue;
            }
            let mut loaded = lock(&slot.loaded);
            let idle = loaded.as_ref().is_some_and(|i| Arc::strong_count(i) == 1);
            if !idle {
                continue;
            }
            if let Some(inst) = loaded.take() {
                let mut inst = net::lock(&inst);
                if let Err(e) = inst.flush() {
                    tracing::warn!(name = %slot.name, error = %e, "cannot store the state while unloading");
                }
                unloaded += 1;
            }
        }
        if unloaded > 0 {
            tracing::debug!(unloaded, "idle vTPMs unloaded");
        }
        unloaded
    }

    /// What `list` (and, with `detail`, `show`) says about `slot`.
    pub fn info(&self, slot: &Slot, detail: Option<&Meta>) -> InstanceInfo {
        let loaded = lock(&slot.loaded).is_some();
        let refused = lock(&slot.refused).as_deref().map(str::to_string);
        let status = match (loaded, &refused) {
            (true, _) => "loaded",
            (false, Some(_)) => "refused",
            (false, None) => "unloaded",
        };
        let listen = slot.listen.map(|l| listen_info(&l));
        InstanceInfo {
            name: slot.name.to_string(),
            status: status.to_string(),
            connections: slot.connections(),
            control_socket: self.ctrl_path(&slot.name).display().to_string(),
            listen,
            pcr_banks: slot
                .pcr_banks
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            ek_kinds: slot.ek_kind_names(),
            created: slot.created,
            eks: detail.map(|m| m.eks.clone()).unwrap_or_default(),
            state_dir: detail.map(|_| self.instance_dir(&slot.name).display().to_string()),
            state_version: None,
            error: refused,
            migration_plaintext: slot.migration_plaintext,
            incoming: slot.incoming.as_deref().map(str::to_string),
        }
    }

    /// Reads the metadata of `name` from disk.
    pub fn read_meta(&self, name: &str) -> Result<Meta, ApiError> {
        meta::read(&self.instance_dir(name))
            .map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))
    }
}

/// The TCP endpoints of `l` as `show` prints them.
pub(crate) fn listen_info(l: &Listen) -> ListenInfo {
    let second = std::net::SocketAddr::new(l.addr.ip(), l.addr.port().wrapping_add(1));
    ListenInfo {
        protocol: l.protocol.as_str().to_string(),
        first: l.addr.to_string(),
        second: second.to_string(),
        tcti: format!(
            "{}:host={},port={}",
            l.protocol.as_str(),
            l.addr.ip(),
            l.addr.port()
        ),
    }
}

/// A store error as an API error: refusals of the stored state are
/// `state_refused` (the message names the instance and the file).
pub(crate) fn store_error(name: &str, e: StoreError) -> ApiError {
    let code = match &e {
        StoreError::Corrupt { .. } | StoreError::TooLarge { .. } | StoreError::Backend(_) => {
            ErrorCode::StateRefused
        }
        StoreError::Locked { .. } | StoreError::Io { .. } => ErrorCode::Internal,
    };
    ApiError::new(code, format!("vTPM {name:?}: {e}"))
}

/// Removes `path` if it exists.
pub(crate) fn remove_if_exists(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}
