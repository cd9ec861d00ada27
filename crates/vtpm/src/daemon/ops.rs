//! The management operations (create, list, show, delete, export, import,
//! status) and the start-up scan of the state directory. All blocking:
//! the management server runs them on blocking-pool threads.

use std::fs::{self, DirBuilder};
use std::net::{SocketAddr, TcpListener};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::sync::Arc;

use tpm::crypto::{Drbg, HashAlg};
use tpm::engine::SystemTime;
use tpm::{EngineConfig, Tpm};

use super::api::{
    ApiError, CreateRequest, DaemonStatus, ErrorCode, ExportDocument, ImportRequest, InstanceInfo,
    ListenRequest, Request, EXPORT_FORMAT, EXPORT_VERSION,
};
use super::manufacture::{self, DEFAULT_EKS};
use super::meta::{self, Listen, Meta, Protocol, PARTIAL_PREFIX};
use super::registry::{lock, remove_if_exists, store_error, Registry, Slot};
use super::{ctrl_socket, tcp};
use crate::ekcert::EkKind;
use crate::instance::{Instance, Opened};
use crate::net;
use crate::store::StateBackend;

fn invalid(msg: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::InvalidArgument, msg)
}

fn internal(what: &str, e: impl std::fmt::Display) -> ApiError {
    ApiError::new(ErrorCode::Internal, format!("{what}: {e}"))
}

fn to_value<T: serde::Serialize>(v: &T) -> Result<serde_json::Value, ApiError> {
    serde_json::to_value(v).map_err(|e| internal("cannot encode the result", e))
}

/// Removes a name from [`Registry::creating`] when dropped.
struct Reservation<'a> {
    reg: &'a Registry,
    name: String,
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        lock(&self.reg.creating).remove(&self.name);
    }
}

/// The endpoints of an instance being created, bound before any work so a
/// taken address fails the request early.
struct Endpoints {
    ctrl: UnixListener,
    tcp: Option<(TcpListener, TcpListener, Protocol)>,
}

impl Registry {
    /// Runs one management request.
    pub fn handle(self: &Arc<Self>, req: Request) -> Result<serde_json::Value, ApiError> {
        match req {
            Request::Status => to_value(&self.status()),
            Request::Create(c) => to_value(&self.create(c)?),
            Request::List => to_value(&self.list()),
            Request::Show { name } => to_value(&self.show(&name)?),
            Request::Delete { name, force } => {
                self.delete(&name, force)?;
                Ok(serde_json::json!({ "deleted": name }))
            }
            Request::Export { name } => to_value(&self.export(&name)?),
            Request::Import(i) => to_value(&self.import(i)?),
        }
    }

    pub fn status(&self) -> DaemonStatus {
        let all = self.all();
        DaemonStatus {
            version: env!("CARGO_PKG_VERSION").to_string(),
            instances: all.len(),
            loaded: all.iter().filter(|s| Registry::loaded(s).is_some()).count(),
            state_dir: self.cfg.state_dir.display().to_string(),
            run_dir: self.cfg.run_dir.display().to_string(),
            host_tpm: self.cfg.host_tpm.clone(),
        }
    }

    pub fn list(&self) -> Vec<InstanceInfo> {
        self.all().iter().map(|s| self.info(s, None)).collect()
    }

    pub fn show(&self, name: &str) -> Result<InstanceInfo, ApiError> {
        let slot = self.find(name)?;
        let meta = self.read_meta(name)?;
        let mut info = self.info(&slot, Some(&meta));
        // The version the rollback record holds for this instance.
        info.state_version = self.storage.sealed().version(name);
        Ok(info)
    }

    fn reserve(&self, name: &str) -> Result<Reservation<'_>, ApiError> {
        meta::validate_name(name).map_err(invalid)?;
        let exists = || {
            ApiError::new(
                ErrorCode::AlreadyExists,
                format!("a vTPM named {name:?} already exists"),
            )
        };
        if self.get(name).is_some() {
            return Err(exists());
        }
        if !lock(&self.creating).insert(name.to_string()) {
            return Err(ApiError::new(
                ErrorCode::AlreadyExists,
                format!("a vTPM named {name:?} is being created"),
            ));
        }
        let reservation = Reservation {
            reg: self,
            name: name.to_string(),
        };
        let dir = self.instance_dir(name);
        if dir.exists() {
            return Err(ApiError::new(
                ErrorCode::AlreadyExists,
                format!(
                    "{} exists but is not a usable vTPM (see the daemon log); move it away to reuse the name {name:?}",
                    dir.display()
                ),
            ));
        }
        Ok(reservation)
    }

    fn bind_endpoints(
        &self,
        name: &str,
        listen: Option<(SocketAddr, Protocol)>,
    ) -> Result<Endpoints, ApiError> {
        let ctrl = bind_ctrl(&self.ctrl_path(name))?;
        let tcp = match listen {
            None => None,
            Some((addr, protocol)) => {
                let (a, b) = net::bind_pair(addr).map_err(|e| {
                    ApiError::new(
                        ErrorCode::AddressInUse,
                        format!("cannot listen on {addr} and the next port: {e}"),
                    )
                })?;
                Some((a, b, protocol))
            }
        };
        Ok(Endpoints { ctrl, tcp })
    }

    /// Builds a new instance directory under a partial name with `fill`,
    /// writes its metadata last, then renames it into place: a crash
    /// leaves either no instance or a complete one.
    fn build(
        &self,
        name: &str,
        fill: impl FnOnce(&Path) -> Result<Meta, ApiError>,
    ) -> Result<Meta, ApiError> {
        let instances = self.instances_dir();
        let partial = instances.join(format!("{PARTIAL_PREFIX}{name}"));
        if partial.exists() {
            fs::remove_dir_all(&partial)
                .map_err(|e| internal(&format!("cannot remove {}", partial.display()), e))?;
        }
        DirBuilder::new()
            .mode(0o700)
            .create(&partial)
            .map_err(|e| internal(&format!("cannot create {}", partial.display()), e))?;
        let done = fill(&partial).and_then(|meta| {
            meta::write(&partial, &meta)
                .map_err(|e| internal(&format!("cannot write {}", partial.display()), e))?;
            let dir = self.instance_dir(name);
            fs::rename(&partial, &dir)
                .map_err(|e| internal(&format!("cannot rename into {}", dir.display()), e))?;
            fs::File::open(&instances)
                .and_then(|d| d.sync_all())
                .map_err(|e| internal(&format!("cannot fsync {}", instances.display()), e))?;
            Ok(meta)
        });
        if done.is_err() {
            let _ = fs::remove_dir_all(&partial);
        }
        done
    }

    fn register(self: &Arc<Self>, meta: &Meta, endpoints: Endpoints) -> InstanceInfo {
        let slot = self.insert(meta);
        start_endpoints(Arc::clone(self), &slot, endpoints);
        self.info(&slot, Some(meta))
    }

    pub fn create(self: &Arc<Self>, req: CreateRequest) -> Result<InstanceInfo, ApiError> {
        let name = req.name.clone();
        let kinds = parse_kinds(&req.ek)?;
        let banks = parse_banks(&req.pcr_banks)?;
        let listen = parse_listen(&req.listen)?;
        let _reservation = self.reserve(&name)?;
        let endpoints = self.bind_endpoints(&name, listen)?;
        let listen = endpoints
            .tcp
            .as_ref()
            .map(|(a, _, protocol)| -> Result<Listen, ApiError> {
                Ok(Listen {
                    protocol: *protocol,
                    addr: a
                        .local_addr()
                        .map_err(|e| internal("cannot read the bound port", e))?,
                })
            })
            .transpose()?;
        if let Some(src) = &req.incoming {
            meta::validate_name(src).map_err(invalid)?;
            if *src == name {
                return Err(invalid("a vTPM cannot be its own migration source"));
            }
        }
        let meta = self.build(&name, |dir| {
            let config = EngineConfig { pcr_banks: banks };
            // A migration destination gets its state (seeds, EKs, NV) from
            // the source's blobs; until then it holds a blank TPM with no
            // EK, never handed to a guest (QEMU -incoming only INITs it).
            let (tpm, eks) = if req.incoming.is_some() {
                (Tpm::new(&config), Vec::new())
            } else {
                manufacture::manufacture(&config, &*self.ca, &kinds)
                    .map_err(|e| internal("cannot manufacture the vTPM", e))?
            };
            let mut store = self
                .storage
                .open(dir, &name)
                .map_err(|e| store_error(&name, e))?;
            store
                .save(&tpm.state_blob())
                .map_err(|e| store_error(&name, e))?;
            let (inst, opened) = Instance::open(store, &EngineConfig::default())
                .map_err(|e| store_error(&name, e))?;
            if opened != Opened::Loaded {
                return Err(internal("manufacturing", "the new TPM was not stored"));
            }
            let mut banks: Vec<String> = inst.pcr_banks().iter().map(|b| b.name().into()).collect();
            banks.sort();
            let mut meta = Meta::new(&name, banks, eks);
            // A destination of a source in this daemon describes the TPM it
            // is going to receive: the source's banks, EKs and certificates
            // (the migrated seeds derive the same EKs).
            if let Some(src) = req.incoming.as_deref().and_then(|s| self.read_meta(s).ok()) {
                meta.pcr_banks = src.pcr_banks;
                meta.eks = src.eks;
            }
            meta.listen = listen;
            meta.migration_plaintext = req.migration_plaintext;
            meta.incoming = req.incoming.clone();
            Ok(meta)
        })?;
        match &req.incoming {
            Some(src) => {
                tracing::info!(name, source = %src, "vTPM created as a live-migration destination")
            }
            None => tracing::info!(name, eks = ?kinds, "vTPM manufactured"),
        }
        if req.migration_plaintext {
            tracing::warn!(name, "vTPM created with --migration-plaintext: its migration blobs carry its secrets in the clear");
        }
        Ok(self.register(&meta, endpoints))
    }

    pub fn import(self: &Arc<Self>, req: ImportRequest) -> Result<InstanceInfo, ApiError> {
        let doc = req.document;
        if doc.format != EXPORT_FORMAT || doc.version != EXPORT_VERSION {
            return Err(invalid(format!(
                "not a vTPM export (format {:?} version {}; expected {EXPORT_FORMAT:?} version {EXPORT_VERSION})",
                doc.format, doc.version
            )));
        }
        let name = req.name.unwrap_or_else(|| doc.name.clone());
        let listen = parse_listen(&req.listen)?;
        let blob = hex::decode(&doc.state)
            .map_err(|e| invalid(format!("the export's state is not hex: {e}")))?;
        Tpm::from_state(&blob, Drbg::from_os(), Box::<SystemTime>::default())
            .map_err(|e| invalid(format!("the export's state is not a valid TPM state: {e}")))?;
        let _reservation = self.reserve(&name)?;
        let endpoints = self.bind_endpoints(&name, listen)?;
        let listen = endpoints.tcp.as_ref().and_then(|(a, _, protocol)| {
            a.local_addr().ok().map(|addr| Listen {
                protocol: *protocol,
                addr,
            })
        });
        let meta = self.build(&name, |dir| {
            let mut store = self
                .storage
                .open(dir, &name)
                .map_err(|e| store_error(&name, e))?;
            store.save(&blob).map_err(|e| store_error(&name, e))?;
            let (_inst, opened) = Instance::open(store, &EngineConfig::default())
                .map_err(|e| store_error(&name, e))?;
            if opened != Opened::Loaded {
                return Err(internal("import", "the imported state was not stored"));
            }
            let mut meta = Meta::new(&name, doc.pcr_banks.clone(), doc.eks.clone());
            meta.created = doc.created;
            meta.listen = listen;
            Ok(meta)
        })?;
        tracing::info!(name, from = doc.name, "vTPM imported");
        Ok(self.register(&meta, endpoints))
    }

    pub fn export(&self, name: &str) -> Result<ExportDocument, ApiError> {
        let slot = self.find(name)?;
        let inst = self.load(&slot)?;
        let blob = {
            let mut inst = net::lock(&inst);
            inst.flush().map_err(|e| store_error(name, e))?;
            inst.state_blob()
        };
        let meta = self.read_meta(name)?;
        Ok(ExportDocument {
            format: EXPORT_FORMAT.to_string(),
            version: EXPORT_VERSION,
            name: name.to_string(),
            created: meta.created,
            pcr_banks: meta.pcr_banks,
            eks: meta.eks,
            state: hex::encode(blob),
        })
    }

    pub fn delete(&self, name: &str, force: bool) -> Result<(), ApiError> {
        let slot = self.find(name)?;
        let clients = slot.connections();
        if clients > 0 && !force {
            return Err(ApiError::new(
                ErrorCode::Busy,
                format!(
                    "vTPM {name:?} has {clients} connected client(s) (a running VM?): stop them first, or force the deletion"
                ),
            ));
        }
        self.remove(name);
        stop_slot(&slot, true);
        remove_if_exists(&self.ctrl_path(name))
            .map_err(|e| internal("cannot remove the control socket", e))?;
        // Rename first so the name is free at once and a crash mid-removal
        // leaves only a partial directory, cleaned at the next start.
        let dir = self.instance_dir(name);
        let doomed = self
            .instances_dir()
            .join(format!("{PARTIAL_PREFIX}deleted-{name}"));
        let _ = fs::remove_dir_all(&doomed);
        fs::rename(&dir, &doomed)
            .and_then(|()| fs::remove_dir_all(&doomed))
            .map_err(|e| internal(&format!("cannot remove {}", dir.display()), e))?;
        self.storage
            .remove(name)
            .map_err(|e| store_error(name, e))?;
        tracing::info!(name, "vTPM deleted");
        Ok(())
    }

    /// Reads every complete instance directory, removes partial ones, and
    /// opens the endpoints of each instance. Instances whose metadata is
    /// unreadable are skipped with an error in the log (their directory
    /// stays for inspection). Returns how many were registered.
    pub fn scan(self: &Arc<Self>) -> std::io::Result<usize> {
        let instances = self.instances_dir();
        DirBuilder::new()
            .mode(0o700)
            .recursive(true)
            .create(&instances)?;
        let mut count = 0;
        for entry in fs::read_dir(&instances)? {
            let entry = entry?;
            let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                continue;
            };
            let path = entry.path();
            if name.starts_with(PARTIAL_PREFIX) {
                tracing::warn!(dir = %path.display(), "removing an instance directory left unfinished by a crash");
                let _ = fs::remove_dir_all(&path);
                continue;
            }
            if meta::validate_name(&name).is_err() || !path.is_dir() {
                continue;
            }
            let meta = match meta::read(&path) {
                Ok(m) if m.name == name => m,
                Ok(m) => {
                    tracing::error!(dir = %path.display(), recorded = m.name, "skipping a vTPM whose metadata names another instance");
                    continue;
                }
                Err(e) => {
                    tracing::error!(error = %e, "skipping a vTPM");
                    continue;
                }
            };
            let ctrl = match bind_ctrl(&self.ctrl_path(&name)) {
                Ok(l) => l,
                Err(e) => {
                    tracing::error!(name, error = %e.message, "skipping a vTPM");
                    continue;
                }
            };
            let tcp = meta.listen.and_then(|l| match net::bind_pair(l.addr) {
                Ok((a, b)) => Some((a, b, l.protocol)),
                Err(e) => {
                    tracing::error!(name, addr = %l.addr, error = %e, "cannot reopen the vTPM's TCP ports: serving it on its control socket only");
                    None
                }
            });
            let slot = self.insert(&meta);
            start_endpoints(Arc::clone(self), &slot, Endpoints { ctrl, tcp });
            count += 1;
        }
        Ok(count)
    }

    /// Stops every instance: listeners and connections end, every loaded
    /// engine's state is stored and its lock kept until the process exits
    /// (so no command runs after its final state was written).
    pub fn shutdown(&self) {
        for slot in self.all() {
            stop_slot(&slot, false);
            let _ = remove_if_exists(&self.ctrl_path(&slot.name));
        }
    }
}

/// Ends `slot`'s listeners, connections and data channel; stores and
/// releases its engine. `deleting` also powers the TPM off (a client that
/// still holds it gets TPM_RC_FAILURE from then on).
fn stop_slot(slot: &Slot, deleting: bool) {
    slot.stop.send_replace(true);
    if let Some(h) = lock(&slot.data_channel).take() {
        h.abort();
    }
    if let Some(t) = lock(&slot.tcp).take() {
        t.close_all();
    }
    if let Some(inst) = lock(&slot.loaded).take() {
        let mut inst = net::lock(&inst);
        if let Err(e) = inst.flush() {
            tracing::warn!(name = %slot.name, error = %e, "cannot store the final state");
        }
        if deleting {
            inst.power_off();
        } else {
            // Keep the engine locked until the process exits.
            std::mem::forget(inst);
        }
    }
}

fn start_endpoints(reg: Arc<Registry>, slot: &Arc<Slot>, e: Endpoints) {
    ctrl_socket::start(Arc::clone(&reg), Arc::clone(slot), e.ctrl);
    if let Some((a, b, protocol)) = e.tcp {
        tcp::start(reg, Arc::clone(slot), a, b, protocol);
    }
}

/// Binds a control socket, replacing a stale socket file. Mode 0660: the
/// run directory's permissions decide who reaches it, and a QEMU in the
/// daemon's group can connect.
fn bind_ctrl(path: &Path) -> Result<UnixListener, ApiError> {
    let fail = |e: std::io::Error| {
        ApiError::new(
            ErrorCode::AddressInUse,
            format!("cannot listen on {}: {e}", path.display()),
        )
    };
    remove_if_exists(path).map_err(fail)?;
    let l = UnixListener::bind(path).map_err(fail)?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o660)).map_err(fail)?;
    Ok(l)
}

fn parse_kinds(names: &[String]) -> Result<Vec<EkKind>, ApiError> {
    if names.is_empty() {
        return Ok(DEFAULT_EKS.to_vec());
    }
    let mut kinds = Vec::new();
    for n in names {
        let k: EkKind = n.parse().map_err(|_| {
            invalid(format!(
                "unknown EK kind {n:?}: expected rsa2048, ecc-p256 or sm2"
            ))
        })?;
        if !kinds.contains(&k) {
            kinds.push(k);
        }
    }
    kinds.sort_by_key(|&k| manufacture::kind_bit(k));
    Ok(kinds)
}

fn parse_banks(names: &[String]) -> Result<Vec<HashAlg>, ApiError> {
    let mut banks = names
        .iter()
        .map(|n| {
            HashAlg::from_name(n.trim()).ok_or_else(|| {
                invalid(format!(
                    "unknown PCR bank {n:?}: expected sha1, sha256, sha384, sha512 or sm3_256"
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    banks.sort();
    banks.dedup();
    if banks.is_empty() {
        banks.push(HashAlg::Sha256);
    }
    Ok(banks)
}

fn parse_listen(req: &ListenRequest) -> Result<Option<(SocketAddr, Protocol)>, ApiError> {
    let protocol =
        match req.protocol.as_deref() {
            None => None,
            Some(p) => Some(Protocol::parse(p).ok_or_else(|| {
                invalid(format!("unknown protocol {p:?}: expected swtpm or mssim"))
            })?),
        };
    match (&req.listen, protocol) {
        (None, None) => Ok(None),
        (None, Some(_)) => Err(invalid("a protocol needs a listen address")),
        (Some(a), p) => {
            let addr: SocketAddr = a.parse().map_err(|e| {
                invalid(format!(
                    "invalid listen address {a:?}: {e} (expected ADDR:PORT)"
                ))
            })?;
            Ok(Some((addr, p.unwrap_or(Protocol::Swtpm))))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_validated_with_clear_messages() {
        assert_eq!(parse_kinds(&[]).unwrap(), DEFAULT_EKS.to_vec());
        assert_eq!(
            parse_kinds(&["sm2".into(), "rsa2048".into(), "sm2".into()]).unwrap(),
            vec![EkKind::Rsa2048, EkKind::Sm2P256]
        );
        let e = parse_kinds(&["dsa".into()]).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidArgument);
        assert!(e.message.contains("unknown EK kind \"dsa\""), "{e}");
        assert_eq!(parse_banks(&[]).unwrap(), vec![HashAlg::Sha256]);
        assert!(parse_banks(&["md5".into()]).is_err());
        let l = |listen: Option<&str>, protocol: Option<&str>| ListenRequest {
            listen: listen.map(Into::into),
            protocol: protocol.map(Into::into),
        };
        assert_eq!(parse_listen(&l(None, None)).unwrap(), None);
        assert_eq!(
            parse_listen(&l(Some("127.0.0.1:5"), None)).unwrap(),
            Some(("127.0.0.1:5".parse().unwrap(), Protocol::Swtpm))
        );
        assert!(parse_listen(&l(None, Some("mssim"))).is_err());
        assert!(parse_listen(&l(Some("localhost"), None)).is_err());
        assert!(parse_listen(&l(Some("127.0.0.1:5"), Some("tcp"))).is_err());
    }
}
