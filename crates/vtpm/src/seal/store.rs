//! [`SealedStore`]: every vTPM instance's state, encrypted, authenticated,
//! versioned and rollback-protected, in one directory.
//!
//! Write protocol of `save(NAME, blob)` (the exact order matters):
//! 1. `v` = recorded version + 1; seal the blob as `NAME.sealed` version `v`
//!    (temp, fsync, rename, fsync directory);
//! 2. commit (NAME, v, SHA-256 of the file) to the version record (append,
//!    fsync), then advance the anchor (`seal::journal`);
//! 3. return: only now may the caller acknowledge the command.
//!
//! Load accepts a state file whose version equals the recorded one (and
//! whose digest is the recorded digest), or is exactly one more (a crash
//! between 1 and 2: the write is completed by committing it then).
//! Anything older is a rollback and is refused, naming the versions.
//! A crash at any point thus leaves the old or the new state, never a
//! refusal: before the rename the old file is current; after it, the new
//! one is either recorded or one ahead.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::io;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::anchor::Anchor;
use super::envelope::{self, Kind, OpenError};
use super::error::{io_err, SealError};
use super::fsio::{self, FaultHook, Faults, ReplaceSteps, Step};
use super::journal::{Journal, Table};
use super::keys::MasterKey;
use super::name::check_name;
use super::record::{self, Entry, RecordKeys};

/// Suffix of a sealed state file.
pub const SEALED_SUFFIX: &str = ".sealed";
const TMP_SUFFIX: &str = ".sealed.tmp";
const LOCK_FILE: &str = ".lock";
/// Largest state file read.
const MAX_FILE: u64 = envelope::MAX_PAYLOAD as u64 + 4096;
/// How many instances a store-wide refusal lists by name.
const LIST_LIMIT: usize = 20;

/// A state read back from the store.
pub struct Loaded {
    /// The engine's state blob (secret: zeroized on drop).
    pub blob: Zeroizing<Vec<u8>>,
    /// Its version.
    pub version: u64,
}

/// A state read from an export blob.
pub struct Exported {
    /// The instance it was exported from.
    pub instance: String,
    /// Its version there.
    pub version: u64,
    pub blob: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for Loaded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Loaded {{ version: {}, blob: <{} bytes> }}",
            self.version,
            self.blob.len()
        )
    }
}

impl std::fmt::Debug for Exported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Exported {{ instance: {:?}, version: {}, blob: <{} bytes> }}",
            self.instance,
            self.version,
            self.blob.len()
        )
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Commits waiting to be written together (group commit: one record
/// append and one anchor advance for every save that arrived meanwhile,
/// which matters when the anchor is a slow hardware TPM).
#[derive(Default)]
struct Queue {
    next_ticket: u64,
    waiting: Vec<(u64, String, Entry)>,
    leader: bool,
    done: HashMap<u64, Result<(), SealError>>,
}

/// The sealed, rollback-protected states of all instances in a directory.
/// Safe to share between threads; operations on different instances run
/// in parallel, operations on one instance one at a time.
pub struct SealedStore {
    dir: PathBuf,
    dir_handle: File,
    master: MasterKey,
    faults: Faults,
    table: Mutex<Table>,
    journal: Mutex<Journal>,
    queue: Mutex<Queue>,
    queue_cv: Condvar,
    busy: Mutex<HashSet<String>>,
    busy_cv: Condvar,
    poisoned: Mutex<Option<String>>,
    _lock: File,
}

/// Holds one instance for the duration of an operation.
struct Busy<'a> {
    store: &'a SealedStore,
    id: String,
}

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        lock(&self.store.busy).remove(&self.id);
        self.store.busy_cv.notify_all();
    }
}

fn name_ok(id: &str) -> Result<(), SealError> {
    check_name(id).map_err(|reason| SealError::InvalidName {
        name: id.to_string(),
        reason,
    })
}

impl SealedStore {
    /// Opens the store in `dir` (created, mode 0700, if missing), locks it,
    /// and checks its version record against `anchor`: an older record
    /// (a restored directory) is refused here, naming the instances.
    pub fn open(
        dir: &Path,
        master: MasterKey,
        anchor: Box<dyn Anchor>,
    ) -> Result<SealedStore, SealError> {
        if !dir.exists() {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(io_err("create state directory", dir))?;
        }
        let lock_file = fsio::lock_file(&dir.join(LOCK_FILE))?;
        let dir_handle = fsio::open_dir(dir)?;
        let names = scan(dir)?;
        let describe = |table: Option<&Table>| describe_instances(dir, &names, table);
        let (journal, table) = Journal::open(
            dir,
            &dir_handle,
            RecordKeys::new(&master),
            anchor,
            !names.is_empty(),
            &describe,
        )?;
        if !journal.anchor_is_hardware() {
            tracing::warn!(
                dir = %dir.display(),
                anchor = %journal.anchor_description(),
                "vTPM state rollback protection has no hardware anchor on this host"
            );
        }
        let store = SealedStore {
            dir: dir.to_path_buf(),
            dir_handle,
            master,
            faults: Faults::default(),
            table: Mutex::new(table),
            journal: Mutex::new(journal),
            queue: Mutex::new(Queue::default()),
            queue_cv: Condvar::new(),
            busy: Mutex::new(HashSet::new()),
            busy_cv: Condvar::new(),
            poisoned: Mutex::new(None),
            _lock: lock_file,
        };
        // Files the record does not list as live: a creation or a delete
        // interrupted by a crash. Finish them now, so `list` is complete.
        for id in &names {
            let live = lock(&store.table).get(id).is_some_and(|e| !e.deleted);
            if !live {
                let _busy = store.claim(id);
                if let Err(e) = store.load_claimed(id) {
                    tracing::error!(instance = %id, error = %e, "state file refused");
                }
            }
        }
        Ok(store)
    }

    /// Operator action: accept the state directory as it is (a backup
    /// restored on purpose, a move to a new host TPM) and anchor its record
    /// anew. The old anchor must have been retired first (anchor file
    /// removed, or NV index undefined) — so this cannot happen by accident
    /// or by an attacker without that access. Rollback protection then
    /// starts again from these versions. Returns the live instances.
    pub fn reanchor(
        dir: &Path,
        master: &MasterKey,
        mut anchor: Box<dyn Anchor>,
    ) -> Result<Vec<(String, u64)>, SealError> {
        let _lock = fsio::lock_file(&dir.join(LOCK_FILE))?;
        let dir_handle = fsio::open_dir(dir)?;
        let table = Journal::reanchor(dir, &dir_handle, &RecordKeys::new(master), &mut *anchor)?;
        let mut live: Vec<(String, u64)> = table
            .into_iter()
            .filter(|(_, e)| !e.deleted)
            .map(|(n, e)| (n, e.version))
            .collect();
        live.sort();
        Ok(live)
    }

    /// The state directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The sealed state file of `instance`.
    pub fn path_of(&self, instance: &str) -> PathBuf {
        self.dir.join(format!("{instance}{SEALED_SUFFIX}"))
    }

    /// Where the anchor lives, for messages.
    pub fn anchor_description(&self) -> String {
        lock(&self.journal).anchor_description()
    }

    /// The record's last commit number and chain head (hex), for status output.
    pub fn record_position(&self) -> (u64, String) {
        let (seq, head) = lock(&self.journal).position();
        (seq, hex::encode(head))
    }

    /// Live instances and their recorded versions, sorted by name.
    pub fn list(&self) -> Vec<(String, u64)> {
        let mut v: Vec<(String, u64)> = lock(&self.table)
            .iter()
            .filter(|(_, e)| !e.deleted)
            .map(|(n, e)| (n.clone(), e.version))
            .collect();
        v.sort();
        v
    }

    /// The recorded version of a live instance.
    pub fn version(&self, instance: &str) -> Option<u64> {
        lock(&self.table)
            .get(instance)
            .filter(|e| !e.deleted)
            .map(|e| e.version)
    }

    /// Installs (or removes) a crash-simulation hook; for tests.
    #[doc(hidden)]
    pub fn set_fault_hook(&self, hook: Option<FaultHook>) {
        self.faults.set(hook);
    }

    /// Sets when the record is compacted; for tests (0, 0 = every commit).
    #[doc(hidden)]
    pub fn set_compaction(&self, min_bytes: u64, ratio: u64) {
        let mut j = lock(&self.journal);
        j.compact_min = min_bytes;
        j.compact_ratio = ratio;
    }

    fn check_poison(&self) -> Result<(), SealError> {
        match &*lock(&self.poisoned) {
            Some(p) => Err(SealError::Poisoned(p.clone())),
            None => Ok(()),
        }
    }

    /// Stops the store after a simulated crash: a crashed process does
    /// nothing more, so neither does the store.
    fn note<T>(&self, r: Result<T, SealError>) -> Result<T, SealError> {
        if let Err(e) = &r {
            if e.is_crash() {
                let mut p = lock(&self.poisoned);
                if p.is_none() {
                    *p = Some(e.to_string());
                }
            }
        }
        r
    }

    fn claim(&self, id: &str) -> Busy<'_> {
        let mut b = lock(&self.busy);
        while b.contains(id) {
            b = self.busy_cv.wait(b).unwrap_or_else(PoisonError::into_inner);
        }
        b.insert(id.to_string());
        Busy {
            store: self,
            id: id.to_string(),
        }
    }

    /// Records one entry through the group commit.
    fn submit(&self, id: &str, entry: Entry) -> Result<(), SealError> {
        let mut q = lock(&self.queue);
        let ticket = q.next_ticket;
        q.next_ticket += 1;
        q.waiting.push((ticket, id.to_string(), entry));
        loop {
            if let Some(r) = q.done.remove(&ticket) {
                return r;
            }
            if q.leader {
                q = self
                    .queue_cv
                    .wait(q)
                    .unwrap_or_else(PoisonError::into_inner);
                continue;
            }
            q.leader = true;
            let batch = std::mem::take(&mut q.waiting);
            drop(q);
            let changes: Vec<(String, Entry)> =
                batch.iter().map(|(_, n, e)| (n.clone(), *e)).collect();
            let r = self.note(self.check_poison().and_then(|()| {
                lock(&self.journal).commit(&self.table, &changes, &self.dir_handle, &self.faults)
            }));
            q = lock(&self.queue);
            match r {
                Ok(()) => {
                    for (t, _, _) in &batch {
                        q.done.insert(*t, Ok(()));
                    }
                }
                Err(e) if batch.len() == 1 => {
                    q.done.insert(batch[0].0, Err(e));
                }
                Err(e) => {
                    let shared = Arc::new(e);
                    for (t, _, _) in &batch {
                        q.done.insert(*t, Err(SealError::Shared(shared.clone())));
                    }
                }
            }
            q.leader = false;
            self.queue_cv.notify_all();
        }
    }

    /// Loads the state of `instance`: `None` if it does not exist (never
    /// created, or deleted). Refuses tampered, swapped and rolled-back
    /// states with an error naming the instance and versions.
    pub fn load(&self, instance: &str) -> Result<Option<Loaded>, SealError> {
        name_ok(instance)?;
        self.check_poison()?;
        let _busy = self.claim(instance);
        self.note(self.load_claimed(instance))
    }

    fn load_claimed(&self, id: &str) -> Result<Option<Loaded>, SealError> {
        let rec = lock(&self.table).get(id).copied();
        let path = self.path_of(id);
        let Some(bytes) = fsio::read_bounded(&path, MAX_FILE)? else {
            return match rec {
                Some(e) if !e.deleted => Err(SealError::Missing {
                    instance: id.to_string(),
                    path,
                    expected: e.version,
                }),
                _ => Ok(None),
            };
        };
        let (header, blob) = match envelope::open(&self.master, &bytes) {
            Ok(x) => x,
            Err(OpenError::Malformed(reason)) => {
                return Err(SealError::Malformed {
                    instance: id.to_string(),
                    path,
                    reason,
                })
            }
            Err(OpenError::Auth(_)) => {
                return Err(SealError::Tampered {
                    instance: id.to_string(),
                    path,
                })
            }
        };
        if header.kind != Kind::State {
            return Err(SealError::Malformed {
                instance: id.to_string(),
                path,
                reason: format!("it is a {:?} blob, not a state", header.kind),
            });
        }
        if header.id != id {
            return Err(SealError::WrongInstance {
                instance: id.to_string(),
                path,
                holds: header.id,
            });
        }
        let found = header.version;
        let digest = record::file_digest(&bytes);
        let recorded = rec.map_or(0, |e| e.version);
        let live = rec.is_some_and(|e| !e.deleted);
        if live && found == recorded {
            let same = rec.is_some_and(|e| bool::from(e.digest.ct_eq(&digest)));
            if !same {
                return Err(SealError::Forked {
                    instance: id.to_string(),
                    path,
                    expected: recorded,
                    found,
                });
            }
            return Ok(Some(Loaded {
                blob,
                version: found,
            }));
        }
        if found == recorded.wrapping_add(1) {
            // Written, not recorded: a save (or a creation) interrupted
            // between its two steps. Finish it.
            tracing::warn!(instance = %id, version = found, "completing a state write interrupted by a crash");
            self.submit(
                id,
                Entry {
                    version: found,
                    digest,
                    deleted: false,
                },
            )?;
            return Ok(Some(Loaded {
                blob,
                version: found,
            }));
        }
        if !live && rec.is_some() && found <= recorded {
            // The file of a deleted instance: a delete interrupted before
            // the removal, or a restored copy. Either way it is gone.
            tracing::warn!(instance = %id, version = found, deleted_at = recorded, "removing the state file of a deleted instance");
            self.remove_file(&path)?;
            return Ok(None);
        }
        if found < recorded {
            return Err(SealError::Rollback {
                instance: id.to_string(),
                path,
                expected: recorded,
                found,
            });
        }
        Err(SealError::Ahead {
            instance: id.to_string(),
            path,
            expected: recorded,
            found,
        })
    }

    /// Durably stores a new version of `instance`'s state and returns it.
    /// When this returns `Ok`, the state survives a crash and an older one
    /// will be refused: the caller may acknowledge the command.
    pub fn save(&self, instance: &str, blob: &[u8]) -> Result<u64, SealError> {
        name_ok(instance)?;
        self.check_poison()?;
        let _busy = self.claim(instance);
        self.note(self.save_claimed(instance, blob))
    }

    fn save_claimed(&self, id: &str, blob: &[u8]) -> Result<u64, SealError> {
        let version = lock(&self.table).get(id).map_or(0, |e| e.version) + 1;
        let sealed = envelope::seal(&self.master, Kind::State, id, version, blob)
            .map_err(SealError::Blob)?;
        let digest = record::file_digest(&sealed);
        let path = self.path_of(id);
        let tmp = self.dir.join(format!("{id}{TMP_SUFFIX}"));
        let steps = ReplaceSteps {
            written: Some(Step::StateTempWritten),
            synced: Some(Step::StateTempSynced),
            renamed: Some(Step::StateRenamed),
        };
        fsio::replace_file(
            &self.dir,
            &self.dir_handle,
            &tmp,
            &path,
            &sealed,
            &steps,
            &self.faults,
        )?;
        self.faults.at(Step::StateDurable)?;
        self.submit(
            id,
            Entry {
                version,
                digest,
                deleted: false,
            },
        )?;
        Ok(version)
    }

    /// Deletes `instance`: records a tombstone (so its old files are never
    /// accepted again, and a new instance of the same name continues the
    /// version numbers), then removes its state file.
    pub fn delete(&self, instance: &str) -> Result<(), SealError> {
        name_ok(instance)?;
        self.check_poison()?;
        let _busy = self.claim(instance);
        self.note(self.delete_claimed(instance))
    }

    fn delete_claimed(&self, id: &str) -> Result<(), SealError> {
        let rec = lock(&self.table).get(id).copied();
        let path = self.path_of(id);
        let exists = path.exists();
        let version = match rec {
            Some(e) if !e.deleted => e.version + 1,
            // A file the record does not list: a creation that crashed.
            Some(e) if exists => e.version + 1,
            None if exists => 1,
            _ => return Err(SealError::NotFound(id.to_string())),
        };
        self.submit(
            id,
            Entry {
                version,
                digest: [0; 32],
                deleted: true,
            },
        )?;
        self.faults.at(Step::TombstoneCommitted)?;
        self.remove_file(&path)
    }

    fn remove_file(&self, path: &Path) -> Result<(), SealError> {
        match fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err("remove", path)(e)),
        }
        fsio::sync_dir(&self.dir_handle, &self.dir)
    }

    /// The current state of `instance` sealed for export (its own export
    /// key, derived from the master key): only this host (or one sharing
    /// its master key) can import it.
    pub fn export(&self, instance: &str) -> Result<Vec<u8>, SealError> {
        let loaded = self
            .load(instance)?
            .ok_or_else(|| SealError::NotFound(instance.to_string()))?;
        envelope::seal(
            &self.master,
            Kind::Export,
            instance,
            loaded.version,
            &loaded.blob,
        )
        .map_err(SealError::Blob)
    }

    /// Opens an export blob without storing it (to validate it first).
    pub fn open_export(&self, bytes: &[u8]) -> Result<Exported, SealError> {
        let (h, blob) = self.open_blob(bytes, Kind::Export)?;
        Ok(Exported {
            instance: h.id,
            version: h.version,
            blob,
        })
    }

    /// Imports an export blob as a new version of `instance` (which may be
    /// another name than the one exported). Returns what was imported and
    /// the version it got. An import is a deliberate restore: rollback
    /// protection cannot apply to it.
    pub fn import(&self, instance: &str, bytes: &[u8]) -> Result<(Exported, u64), SealError> {
        let e = self.open_export(bytes)?;
        let v = self.save(instance, &e.blob)?;
        Ok((e, v))
    }

    /// Seals a live-migration blob (swtpm GET_STATEBLOB) under the
    /// migration key of `context`. Use a context both ends of a migration
    /// know (the source instance's name, a VM id).
    pub fn seal_migration(&self, context: &str, blob: &[u8]) -> Result<Vec<u8>, SealError> {
        envelope::seal(&self.master, Kind::Migration, context, 0, blob).map_err(SealError::Blob)
    }

    /// Opens a migration blob; returns its context and payload.
    pub fn open_migration(&self, bytes: &[u8]) -> Result<(String, Zeroizing<Vec<u8>>), SealError> {
        let (h, blob) = self.open_blob(bytes, Kind::Migration)?;
        Ok((h.id, blob))
    }

    /// Seals one swtpm state blob (`blob_type` = PTM_BLOB_TYPE_*) of
    /// `instance` for a live migration: AES-256-GCM under the instance's
    /// migration key (HKDF purpose "migration", context the instance
    /// name); the clear header, authenticated as associated data, names the
    /// instance and carries the blob type in its version field, so a blob
    /// opens only as the type of only the instance it was sealed for.
    pub fn seal_migration_blob(
        &self,
        instance: &str,
        blob_type: u32,
        blob: &[u8],
    ) -> Result<Vec<u8>, SealError> {
        name_ok(instance)?;
        envelope::seal(
            &self.master,
            Kind::Migration,
            instance,
            u64::from(blob_type),
            blob,
        )
        .map_err(SealError::Blob)
    }

    /// Opens a [`SealedStore::seal_migration_blob`] blob: the instance it
    /// was sealed for, its blob type and the payload.
    pub fn open_migration_blob(
        &self,
        bytes: &[u8],
    ) -> Result<(String, u64, Zeroizing<Vec<u8>>), SealError> {
        let (h, blob) = self.open_blob(bytes, Kind::Migration)?;
        Ok((h.id, h.version, blob))
    }

    fn open_blob(
        &self,
        bytes: &[u8],
        kind: Kind,
    ) -> Result<(envelope::Header, Zeroizing<Vec<u8>>), SealError> {
        match envelope::open(&self.master, bytes) {
            Ok((h, _)) if h.kind != kind => Err(SealError::Blob(format!("a {:?} blob, not a {kind:?} blob", h.kind))),
            Ok(x) => Ok(x),
            Err(OpenError::Malformed(m)) => Err(SealError::Blob(m)),
            Err(OpenError::Auth(h)) => Err(SealError::Blob(format!(
                "the {:?} blob of {:?} fails authentication (tampered with, or sealed by a host with another master key)",
                h.kind, h.id
            ))),
        }
    }

    /// A handle on one instance, shaped like [`crate::store::StateStore`]
    /// for code that serves one TPM.
    pub fn instance(self: &Arc<Self>, name: &str) -> Result<SealedInstance, SealError> {
        name_ok(name)?;
        Ok(SealedInstance {
            path: self.path_of(name),
            store: self.clone(),
            name: name.to_string(),
        })
    }
}

/// One instance of a shared [`SealedStore`]; a
/// [`StateBackend`](crate::store::StateBackend), so an
/// [`Instance`](crate::Instance) can run on it.
#[derive(Clone)]
pub struct SealedInstance {
    store: Arc<SealedStore>,
    name: String,
    path: PathBuf,
}

impl SealedInstance {
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn store(&self) -> &Arc<SealedStore> {
        &self.store
    }
    /// The state, `None` if the instance does not exist yet.
    pub fn load(&self) -> Result<Option<Loaded>, SealError> {
        self.store.load(&self.name)
    }
    /// Stores a new version; durable and rollback-protected on return.
    pub fn save(&self, blob: &[u8]) -> Result<u64, SealError> {
        self.store.save(&self.name, blob)
    }
    /// The sealed state file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl crate::store::StateBackend for SealedInstance {
    fn load(&self) -> Result<Option<Vec<u8>>, crate::store::StoreError> {
        match SealedInstance::load(self) {
            Ok(l) => Ok(l.map(|l| l.blob.to_vec())),
            Err(e) => Err(crate::store::StoreError::Backend(Box::new(e))),
        }
    }

    fn save(&mut self, blob: &[u8]) -> Result<(), crate::store::StoreError> {
        SealedInstance::save(self, blob)
            .map(|_| ())
            .map_err(|e| crate::store::StoreError::Backend(Box::new(e)))
    }

    fn path(&self) -> &Path {
        &self.path
    }
}

/// Names of the instances with a state file in `dir`; removes the temp
/// files of writes a crash interrupted (never renamed, so never state).
fn scan(dir: &Path) -> Result<Vec<String>, SealError> {
    let mut names = Vec::new();
    for ent in fs::read_dir(dir).map_err(io_err("list", dir))? {
        let ent = ent.map_err(io_err("list", dir))?;
        let file = ent.file_name();
        let Some(file) = file.to_str() else { continue };
        if file.ends_with(TMP_SUFFIX) {
            let p = ent.path();
            fs::remove_file(&p).map_err(io_err("remove", &p))?;
            continue;
        }
        if let Some(name) = file.strip_suffix(SEALED_SUFFIX) {
            if check_name(name).is_ok() {
                names.push(name.to_string());
            } else {
                tracing::warn!(file, "ignoring a state file with an invalid instance name");
            }
        }
    }
    names.sort();
    Ok(names)
}

/// "vm1 (file version 3, record version 5), ..." for a store-wide refusal.
fn describe_instances(dir: &Path, names: &[String], table: Option<&Table>) -> String {
    if names.is_empty() {
        return "none has a state file".into();
    }
    let mut parts: Vec<String> = names
        .iter()
        .take(LIST_LIMIT)
        .map(|n| {
            let p = dir.join(format!("{n}{SEALED_SUFFIX}"));
            let file = match fsio::read_bounded(&p, MAX_FILE) {
                Ok(Some(b)) => match envelope::peek(&b) {
                    Ok(h) => format!("file version {}", h.version),
                    Err(_) => "unreadable file".into(),
                },
                _ => "unreadable file".into(),
            };
            let rec = match table.and_then(|t| t.get(n)) {
                Some(e) if e.deleted => {
                    format!(", deleted at version {} in that record", e.version)
                }
                Some(e) => format!(", version {} in that record", e.version),
                None if table.is_some() => ", not in that record".into(),
                None => String::new(),
            };
            format!("{n} ({file}{rec})")
        })
        .collect();
    if names.len() > LIST_LIMIT {
        parts.push(format!("and {} more", names.len() - LIST_LIMIT));
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seal::anchor::{AnchorValue, FileAnchor};
    use std::sync::atomic::{AtomicU32, Ordering};

    /// A file anchor whose next `fail` advances fail; `lie` makes the
    /// failing advance happen anyway (a TPM whose response was lost).
    struct Flaky {
        inner: FileAnchor,
        fail: Arc<AtomicU32>,
        lie: bool,
    }

    impl Anchor for Flaky {
        fn describe(&self) -> String {
            self.inner.describe()
        }
        fn is_hardware(&self) -> bool {
            false
        }
        fn read(&mut self) -> Result<AnchorValue, SealError> {
            self.inner.read()
        }
        fn advance(&mut self, seq: u64, link: &[u8; 32], head: &[u8; 32]) -> Result<(), SealError> {
            if self.fail.load(Ordering::SeqCst) > 0 {
                self.fail.fetch_sub(1, Ordering::SeqCst);
                if self.lie {
                    self.inner.advance(seq, link, head)?;
                }
                return Err(SealError::Anchor {
                    anchor: "flaky".into(),
                    reason: "injected".into(),
                });
            }
            self.inner.advance(seq, link, head)
        }
    }

    fn flaky_store(dir: &Path, lie: bool) -> (SealedStore, Arc<AtomicU32>) {
        let fail = Arc::new(AtomicU32::new(0));
        let a = Flaky {
            inner: FileAnchor::open(&dir.join("anchor")).unwrap(),
            fail: fail.clone(),
            lie,
        };
        let s = SealedStore::open(
            &dir.join("state"),
            MasterKey::from_bytes([2; 32]),
            Box::new(a),
        )
        .unwrap();
        (s, fail)
    }

    #[test]
    fn a_failed_anchor_advance_is_caught_up_before_the_next_commit() {
        for lie in [false, true] {
            let tmp = tempfile::tempdir().unwrap();
            let (s, fail) = flaky_store(tmp.path(), lie);
            s.save("a", b"1").unwrap();
            fail.store(1, Ordering::SeqCst);
            let e = s.save("a", b"2").unwrap_err();
            assert!(matches!(e, SealError::Anchor { .. }), "{e}");
            // The commit is in the record, so the state is version 2.
            assert_eq!(s.version("a"), Some(2));
            assert_eq!(s.save("a", b"3").unwrap(), 3);
            drop(s);
            let (s, _) = flaky_store(tmp.path(), lie);
            let l = s.load("a").unwrap().unwrap();
            assert_eq!((&l.blob[..], l.version), (&b"3"[..], 3), "lie={lie}");
        }
    }

    #[test]
    fn a_store_left_with_a_lagging_anchor_reopens() {
        let tmp = tempfile::tempdir().unwrap();
        let (s, fail) = flaky_store(tmp.path(), false);
        s.save("a", b"1").unwrap();
        fail.store(5, Ordering::SeqCst);
        assert!(s.save("a", b"2").is_err());
        drop(s);
        let (s, _) = flaky_store(tmp.path(), false);
        let l = s.load("a").unwrap().unwrap();
        assert_eq!((&l.blob[..], l.version), (&b"2"[..], 2));
    }

    #[test]
    fn operations_on_one_instance_wait_for_each_other() {
        let tmp = tempfile::tempdir().unwrap();
        let (s, _) = flaky_store(tmp.path(), false);
        let s = Arc::new(s);
        let ts: Vec<_> = (0..4)
            .map(|_| {
                let s = s.clone();
                std::thread::spawn(move || {
                    for _ in 0..10 {
                        s.save("same", b"x").unwrap();
                    }
                })
            })
            .collect();
        for t in ts {
            t.join().unwrap();
        }
        assert_eq!(s.version("same"), Some(40));
    }
}
