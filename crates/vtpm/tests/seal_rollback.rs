//! The sealed store end to end through its public API: confidentiality and
//! integrity of each state file, rollback of one instance and of the whole
//! directory refused with errors naming instance and versions, a crash at
//! every write step leaving the old or the new state (never a refusal), and
//! a writer process killed with SIGKILL in a loop of TPM2_NV_Increment
//! losing no acknowledged increment.

use std::collections::HashMap;
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use vtpm::seal::{
    file_master_key, Anchor, FileAnchor, HostTpm, HostTpmError, MasterKey, SealError, SealedStore,
    SharedHostTpm, Step, TpmAnchor, TpmClientHost, DEFAULT_ANCHOR_INDEX, RECORD_FILE,
};
use zeroize::Zeroizing;

/// A state directory, with its anchor file and master key outside it.
struct Host {
    _tmp: tempfile::TempDir,
    state: PathBuf,
    anchor: PathBuf,
    master: MasterKey,
}

impl Host {
    fn new() -> Host {
        let tmp = tempfile::tempdir().unwrap();
        let master = file_master_key(&tmp.path().join("keys/master.key")).unwrap();
        Host {
            state: tmp.path().join("state"),
            anchor: tmp.path().join("anchor/vtpm.anchor"),
            master,
            _tmp: tmp,
        }
    }

    fn open(&self) -> Result<SealedStore, SealError> {
        SealedStore::open(
            &self.state,
            self.master.clone(),
            Box::new(FileAnchor::open(&self.anchor).unwrap()),
        )
    }

    fn store(&self) -> SealedStore {
        self.open().unwrap()
    }

    /// The store together with its host (whose temp dir must outlive it).
    fn store_with_host(self) -> (SealedStore, Host) {
        let s = self.store();
        (s, self)
    }

    fn file(&self, name: &str) -> PathBuf {
        self.state.join(format!("{name}.sealed"))
    }
}

fn blob(tag: &str, n: u64) -> Vec<u8> {
    format!("{tag} state #{n} ").repeat(20).into_bytes()
}

fn load(s: &SealedStore, name: &str) -> Option<(Vec<u8>, u64)> {
    s.load(name).unwrap().map(|l| (l.blob.to_vec(), l.version))
}

/// Copies every file of `from` into `to` (which is emptied first).
fn copy_dir(from: &Path, to: &Path) {
    if to.exists() {
        fs::remove_dir_all(to).unwrap();
    }
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_name() != ".lock" {
            fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

#[test]
fn round_trip_versions_list_and_reopen() {
    let h = Host::new();
    let s = h.store();
    assert!(s.load("vm1").unwrap().is_none());
    assert_eq!(s.save("vm1", &blob("a", 1)).unwrap(), 1);
    assert_eq!(s.save("vm1", &blob("a", 2)).unwrap(), 2);
    assert_eq!(s.save("vm2", &blob("b", 1)).unwrap(), 1);
    assert_eq!(load(&s, "vm1"), Some((blob("a", 2), 2)));
    assert_eq!(
        s.list(),
        vec![("vm1".to_string(), 2), ("vm2".to_string(), 1)]
    );
    // The file holds no plaintext.
    let raw = fs::read(h.file("vm1")).unwrap();
    assert!(
        !raw.windows(8).any(|w| w == b"a state "),
        "plaintext on disk"
    );
    drop(s);
    let s = h.store();
    assert_eq!(load(&s, "vm1"), Some((blob("a", 2), 2)));
    assert_eq!(load(&s, "vm2"), Some((blob("b", 1), 1)));
    assert_eq!(
        s.save("vm1", &blob("a", 3)).unwrap(),
        3,
        "versions keep increasing"
    );
    assert!(matches!(
        s.save("../x", b"x"),
        Err(SealError::InvalidName { .. })
    ));
    // A second store on the same directory, or on the same anchor, is refused.
    assert!(matches!(
        FileAnchor::open(&h.anchor),
        Err(SealError::Locked { .. })
    ));
    let other_anchor = FileAnchor::open(&h.state.with_file_name("other.anchor")).unwrap();
    let second = SealedStore::open(&h.state, h.master.clone(), Box::new(other_anchor));
    assert!(matches!(second, Err(SealError::Locked { .. })));
}

#[test]
fn tampering_any_byte_is_refused() {
    let h = Host::new();
    let s = h.store();
    s.save("vm1", b"small state").unwrap();
    let path = h.file("vm1");
    let good = fs::read(&path).unwrap();
    for i in 0..good.len() {
        let mut bad = good.clone();
        bad[i] ^= 0x80;
        fs::write(&path, &bad).unwrap();
        let err = s
            .load("vm1")
            .err()
            .unwrap_or_else(|| panic!("byte {i} flipped was accepted"));
        assert!(err.to_string().contains("vm1"), "{err}");
    }
    fs::write(&path, &good[..good.len() - 1]).unwrap();
    assert!(matches!(s.load("vm1"), Err(SealError::Malformed { .. })));
    fs::write(&path, &good).unwrap();
    assert_eq!(load(&s, "vm1").unwrap().0, b"small state");
}

#[test]
fn swapping_two_instances_files_is_refused() {
    let h = Host::new();
    let s = h.store();
    s.save("vm1", &blob("a", 1)).unwrap();
    s.save("vm2", &blob("b", 1)).unwrap();
    let (a, b) = (
        fs::read(h.file("vm1")).unwrap(),
        fs::read(h.file("vm2")).unwrap(),
    );
    fs::write(h.file("vm1"), &b).unwrap();
    fs::write(h.file("vm2"), &a).unwrap();
    let e1 = s.load("vm1").err().unwrap();
    assert!(
        matches!(&e1, SealError::WrongInstance { instance, holds, .. } if instance == "vm1" && holds == "vm2"),
        "{e1}"
    );
    assert!(e1.to_string().contains("swapped"), "{e1}");
    assert!(matches!(
        s.load("vm2"),
        Err(SealError::WrongInstance { .. })
    ));
    // A file renamed into a new name is refused the same way.
    fs::write(h.file("vm3"), &a).unwrap();
    assert!(matches!(
        s.load("vm3"),
        Err(SealError::WrongInstance { .. })
    ));
}

#[test]
fn restoring_an_older_file_is_refused_naming_versions() {
    let h = Host::new();
    let s = h.store();
    s.save("vm1", &blob("a", 1)).unwrap();
    let v1 = fs::read(h.file("vm1")).unwrap();
    s.save("vm1", &blob("a", 2)).unwrap();
    s.save("vm1", &blob("a", 3)).unwrap();
    s.save("vm2", &blob("b", 1)).unwrap();
    drop(s);
    fs::write(h.file("vm1"), &v1).unwrap();
    let s = h.store();
    let err = s.load("vm1").err().unwrap();
    match &err {
        SealError::Rollback {
            instance,
            expected,
            found,
            ..
        } => assert_eq!((instance.as_str(), *expected, *found), ("vm1", 3, 1)),
        other => panic!("expected a rollback refusal, got {other}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains("instance vm1 is refused: rollback detected")
            && msg.contains("expected 3, found 1"),
        "{msg}"
    );
    // Other instances are unaffected.
    assert_eq!(load(&s, "vm2"), Some((blob("b", 1), 1)));
    // Deleting the file is not a way to reset the TPM either.
    fs::remove_file(h.file("vm1")).unwrap();
    let err = s.load("vm1").err().unwrap();
    assert!(
        matches!(err, SealError::Missing { expected: 3, .. }),
        "{err}"
    );
}

#[test]
fn an_unacknowledged_write_cannot_come_back_after_another_took_its_version() {
    let h = Host::new();
    let s = h.store();
    s.save("vm1", &blob("a", 1)).unwrap();
    let v1 = fs::read(h.file("vm1")).unwrap();
    // Crash after the state file of version 2 is durable, before it is
    // recorded: the command was never acknowledged.
    s.set_fault_hook(Some(Arc::new(|st| {
        if st == Step::StateDurable {
            Err(())
        } else {
            Ok(())
        }
    })));
    assert!(s.save("vm1", &blob("a", 2)).unwrap_err().is_crash());
    drop(s);
    let unacked = fs::read(h.file("vm1")).unwrap();
    // Someone puts version 1 back; the store takes it (it is the recorded
    // one) and writes another version 2.
    fs::write(h.file("vm1"), &v1).unwrap();
    let s = h.store();
    assert_eq!(load(&s, "vm1"), Some((blob("a", 1), 1)));
    assert_eq!(s.save("vm1", &blob("other", 2)).unwrap(), 2);
    drop(s);
    // The unacknowledged version 2 has the right number but not the
    // recorded content.
    fs::write(h.file("vm1"), &unacked).unwrap();
    let s = h.store();
    let err = s.load("vm1").err().unwrap();
    assert!(
        matches!(
            err,
            SealError::Forked {
                expected: 2,
                found: 2,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn restoring_the_whole_directory_is_refused_with_a_file_anchor_outside() {
    let h = Host::new();
    let s = h.store();
    s.save("vm1", &blob("a", 1)).unwrap();
    s.save("vm2", &blob("b", 1)).unwrap();
    drop(s);
    let backup = h.state.with_file_name("backup");
    copy_dir(&h.state, &backup);
    let anchor_backup = fs::read(&h.anchor).unwrap();
    let s = h.store();
    s.save("vm1", &blob("a", 2)).unwrap();
    s.save("vm1", &blob("a", 3)).unwrap();
    drop(s);
    copy_dir(&backup, &h.state);
    let err = h.open().err().unwrap();
    let msg = err.to_string();
    assert!(matches!(err, SealError::StoreRollback { .. }), "{msg}");
    assert!(
        msg.contains("ends at commit #3") && msg.contains("holds commit #5"),
        "{msg}"
    );
    assert!(
        msg.contains("vm1 (file version 1, version 1 in that record)")
            && msg.contains("vm2 (file version 1"),
        "{msg}"
    );
    // Deleting the record as well does not help.
    fs::remove_file(h.state.join(RECORD_FILE)).unwrap();
    let msg = h.open().err().unwrap().to_string();
    assert!(
        msg.contains("version record") && msg.contains("is missing"),
        "{msg}"
    );
    // Documented weakness: whoever can also restore the anchor file can
    // roll the whole host back. (A host TPM anchor prevents this.)
    copy_dir(&backup, &h.state);
    fs::write(&h.anchor, &anchor_backup).unwrap();
    let s = h.store();
    assert_eq!(load(&s, "vm1"), Some((blob("a", 1), 1)));
}

#[test]
fn the_operator_can_deliberately_accept_a_restored_directory() {
    let h = Host::new();
    let s = h.store();
    s.save("vm1", &blob("a", 1)).unwrap();
    drop(s);
    let backup = h.state.with_file_name("backup");
    copy_dir(&h.state, &backup);
    let s = h.store();
    s.save("vm1", &blob("a", 2)).unwrap();
    s.save("vm2", &blob("b", 1)).unwrap();
    drop(s);
    copy_dir(&backup, &h.state);
    assert!(h.open().is_err());
    // Not while the anchor still holds the newer head...
    let anchor = Box::new(FileAnchor::open(&h.anchor).unwrap());
    let msg = SealedStore::reanchor(&h.state, &h.master, anchor)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("retire it first"), "{msg}");
    // ...but once the operator retired it.
    fs::remove_file(&h.anchor).unwrap();
    let anchor = Box::new(FileAnchor::open(&h.anchor).unwrap());
    let live = SealedStore::reanchor(&h.state, &h.master, anchor).unwrap();
    assert_eq!(live, vec![("vm1".to_string(), 1)]);
    let s = h.store();
    assert_eq!(load(&s, "vm1"), Some((blob("a", 1), 1)));
    // Protection goes on from there.
    let old = fs::read(h.file("vm1")).unwrap();
    s.save("vm1", &blob("a", 5)).unwrap();
    fs::write(h.file("vm1"), &old).unwrap();
    assert!(matches!(
        s.load("vm1"),
        Err(SealError::Rollback {
            expected: 2,
            found: 1,
            ..
        })
    ));
}

#[test]
fn a_lost_or_reset_anchor_does_not_vouch_for_an_existing_record() {
    let h = Host::new();
    let s = h.store();
    s.save("vm1", &blob("a", 1)).unwrap();
    drop(s);
    fs::remove_file(&h.anchor).unwrap();
    let msg = h.open().err().unwrap().to_string();
    assert!(
        msg.contains("holds nothing (never advanced)") && msg.contains("vm1"),
        "{msg}"
    );
}

#[test]
fn another_master_key_opens_nothing() {
    let h = Host::new();
    h.store().save("vm1", &blob("a", 1)).unwrap();
    let s = SealedStore::open(
        &h.state,
        MasterKey::generate(),
        Box::new(FileAnchor::open(&h.anchor).unwrap()),
    );
    let msg = s.err().unwrap().to_string();
    assert!(msg.contains("wrong master key"), "{msg}");
}

#[test]
fn delete_records_a_tombstone_and_old_files_stay_dead() {
    let h = Host::new();
    let s = h.store();
    s.save("vm1", &blob("a", 1)).unwrap();
    s.save("vm1", &blob("a", 2)).unwrap();
    let old = fs::read(h.file("vm1")).unwrap();
    s.delete("vm1").unwrap();
    assert!(!h.file("vm1").exists());
    assert!(s.load("vm1").unwrap().is_none());
    assert!(s.list().is_empty());
    assert!(matches!(s.delete("vm1"), Err(SealError::NotFound(_))));
    // A restored file of the deleted instance is not resurrected.
    fs::write(h.file("vm1"), &old).unwrap();
    assert!(s.load("vm1").unwrap().is_none());
    assert!(!h.file("vm1").exists());
    // A new instance with the same name continues the version numbers, so
    // the old incarnation's files never pass for the new one's.
    assert_eq!(s.save("vm1", &blob("new", 1)).unwrap(), 4);
    fs::write(h.file("vm1"), &old).unwrap();
    let err = s.load("vm1").err().unwrap();
    assert!(
        matches!(
            err,
            SealError::Rollback {
                expected: 4,
                found: 2,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn export_import_and_migration_blobs() {
    let h = Host::new();
    let s = h.store();
    s.save("vm1", &blob("a", 1)).unwrap();
    s.save("vm1", &blob("a", 2)).unwrap();
    let ex = s.export("vm1").unwrap();
    assert!(!ex.windows(8).any(|w| w == b"a state "));
    let (e, v) = s.import("copy", &ex).unwrap();
    assert_eq!((e.instance.as_str(), e.version, v), ("vm1", 2, 1));
    assert_eq!(load(&s, "copy"), Some((blob("a", 2), 1)));
    let mut bad = ex.clone();
    let n = bad.len() - 3;
    bad[n] ^= 1;
    assert!(s
        .import("x", &bad)
        .unwrap_err()
        .to_string()
        .contains("fails authentication"));
    // A state file is not an export, and another host cannot import.
    let state_file = fs::read(h.file("vm1")).unwrap();
    assert!(s.open_export(&state_file).is_err());
    // One store of the other host for both checks: reopening it right
    // after a drop can find its flock still held by a child that another
    // test thread forked in between (the descriptor lives until the
    // child's exec).
    let other = Host::new();
    let other = other.store_with_host();
    assert!(other.0.open_export(&ex).is_err());
    // Migration blobs: sealed under the context's key, opened by context.
    let m = s.seal_migration("vm1", b"volatile state").unwrap();
    let (ctx, pt) = s.open_migration(&m).unwrap();
    assert_eq!((ctx.as_str(), &pt[..]), ("vm1", &b"volatile state"[..]));
    assert!(
        s.open_export(&m).is_err(),
        "a migration blob is not an export"
    );
    assert!(other.0.open_migration(&m).is_err());
}

#[test]
fn compaction_keeps_every_version_and_bounds_the_record() {
    let h = Host::new();
    let s = h.store();
    s.set_compaction(4096, 2);
    let mut want = HashMap::new();
    for i in 0..400u64 {
        let name = format!("vm{}", i % 7);
        let v = s.save(&name, &blob(&name, i)).unwrap();
        want.insert(name, (blob(&format!("vm{}", i % 7), i), v));
    }
    s.delete("vm3").unwrap();
    want.remove("vm3");
    let size = fs::metadata(h.state.join(RECORD_FILE)).unwrap().len();
    assert!(size < 8192, "record of {size} bytes was not compacted");
    let (seq, _) = s.record_position();
    assert_eq!(seq, 1 + 400 + 1, "one commit per write (+ genesis)");
    drop(s);
    let s = h.store();
    for (name, (b, v)) in &want {
        assert_eq!(load(&s, name).as_ref(), Some(&(b.clone(), *v)), "{name}");
    }
    assert!(s.load("vm3").unwrap().is_none());
}

#[test]
fn concurrent_saves_of_many_instances_are_all_recorded() {
    let h = Host::new();
    let s = Arc::new(h.store());
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let s = s.clone();
            std::thread::spawn(move || {
                for i in 1..=25u64 {
                    let name = format!("t{t}");
                    assert_eq!(s.save(&name, &blob(&name, i)).unwrap(), i);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let (seq, _) = s.record_position();
    assert!(seq <= 1 + 200, "at most one commit per save ({seq})");
    drop(s);
    let s = h.store();
    for t in 0..8 {
        let name = format!("t{t}");
        assert_eq!(load(&s, &name), Some((blob(&name, 25), 25)));
    }
}

/// What an operation left: the state of "a" must be its old or its new
/// value after any crash.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Op {
    Save,
    Delete,
    Create,
}

fn crash_at(step: Step, op: Op, compact_always: bool) {
    let h = Host::new();
    let s = h.store();
    if op != Op::Create {
        s.save("a", &blob("a", 1)).unwrap();
    }
    s.save("b", &blob("b", 1)).unwrap();
    if compact_always {
        s.set_compaction(0, 0);
    }
    let hit = Arc::new(Mutex::new(false));
    let hit2 = hit.clone();
    s.set_fault_hook(Some(Arc::new(move |st| {
        if st == step {
            *hit2.lock().unwrap() = true;
            Err(())
        } else {
            Ok(())
        }
    })));
    let r = match op {
        Op::Save | Op::Create => s.save("a", &blob("a", 2)).map(|_| ()),
        Op::Delete => s.delete("a"),
    };
    let crashed = *hit.lock().unwrap();
    assert_eq!(r.is_err(), crashed, "{step:?} {op:?}: {r:?}");
    if crashed {
        assert!(r.unwrap_err().is_crash());
        // The crashed store does nothing more.
        assert!(matches!(s.save("b", b"x"), Err(SealError::Poisoned(_))));
    }
    drop(s);
    let what = format!("crash at {step:?} during {op:?} (compact: {compact_always})");
    let s = h
        .open()
        .unwrap_or_else(|e| panic!("{what}: refused after the crash: {e}"));
    let old = match op {
        Op::Create => None,
        _ => Some((blob("a", 1), 1)),
    };
    let new = match op {
        Op::Save => Some((blob("a", 2), 2)),
        Op::Create => Some((blob("a", 2), 1)),
        Op::Delete => None,
    };
    let got = s
        .load("a")
        .unwrap_or_else(|e| panic!("{what}: {e}"))
        .map(|l| (l.blob.to_vec(), l.version));
    assert!(got == old || got == new, "{what}: got {got:?}");
    if !crashed {
        assert_eq!(got, new, "{what}: completed operation lost");
    }
    assert_eq!(load(&s, "b"), Some((blob("b", 1), 1)), "{what}");
    // The store goes on normally, and reopens cleanly.
    let next = s.save("a", &blob("a", 9)).unwrap();
    drop(s);
    let s = h
        .open()
        .unwrap_or_else(|e| panic!("{what}: second reopen: {e}"));
    assert_eq!(load(&s, "a"), Some((blob("a", 9), next)), "{what}");
    assert_eq!(s.list().len(), 2, "{what}");
}

#[test]
fn a_crash_at_every_write_step_leaves_the_old_or_the_new_state() {
    for compact in [false, true] {
        for step in Step::ALL {
            for op in [Op::Save, Op::Create, Op::Delete] {
                crash_at(step, op, compact);
            }
        }
    }
}

// ---- A host TPM anchor (NV extend index semantics, in memory) ----

/// NV extend semantics (TPM 2.0 Part 3 §31.7) in memory, standing in for
/// the host TPM; the same protocol runs against swtpm through tpmclient.
#[derive(Default)]
struct MemTpm {
    nv: HashMap<u32, (Vec<u8>, Option<[u8; 32]>)>,
}

impl HostTpm for MemTpm {
    fn describe(&self) -> String {
        "mem".into()
    }
    fn seal(&mut self, s: &[u8]) -> Result<Vec<u8>, HostTpmError> {
        Ok(s.to_vec())
    }
    fn unseal(&mut self, s: &[u8]) -> Result<Zeroizing<Vec<u8>>, HostTpmError> {
        Ok(Zeroizing::new(s.to_vec()))
    }
    fn nv_define_extend(&mut self, i: u32, auth: &[u8]) -> Result<bool, HostTpmError> {
        if self.nv.contains_key(&i) {
            return Ok(false);
        }
        self.nv.insert(i, (auth.to_vec(), None));
        Ok(true)
    }
    fn nv_read_extend(&mut self, i: u32, auth: &[u8]) -> Result<Option<[u8; 32]>, HostTpmError> {
        let (a, v) = self.nv.get(&i).ok_or("TPM_RC_HANDLE")?;
        if a != auth {
            return Err("TPM_RC_AUTH_FAIL".into());
        }
        Ok(*v)
    }
    fn nv_extend(&mut self, i: u32, auth: &[u8], d: &[u8; 32]) -> Result<(), HostTpmError> {
        let (a, v) = self.nv.get_mut(&i).ok_or("TPM_RC_HANDLE")?;
        if a != auth {
            return Err("TPM_RC_AUTH_FAIL".into());
        }
        let mut h = Sha256::new();
        h.update(v.unwrap_or([0; 32]));
        h.update(d);
        *v = Some(h.finalize().into());
        Ok(())
    }
}

#[test]
fn whole_directory_restore_is_refused_with_an_nv_extend_anchor() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("state");
    let master = MasterKey::generate();
    let mem = Arc::new(Mutex::new(MemTpm::default()));
    let host: SharedHostTpm = mem.clone();
    let open = |host: &SharedHostTpm| {
        let a: Box<dyn Anchor> =
            Box::new(TpmAnchor::open(host.clone(), DEFAULT_ANCHOR_INDEX, &master).unwrap());
        SealedStore::open(&dir, master.clone(), a)
    };
    let s = open(&host).unwrap();
    s.save("vm1", &blob("a", 1)).unwrap();
    drop(s);
    let backup = tmp.path().join("backup");
    copy_dir(&dir, &backup);
    let s = open(&host).unwrap();
    s.save("vm1", &blob("a", 2)).unwrap();
    drop(s);
    copy_dir(&backup, &dir);
    let msg = open(&host).err().unwrap().to_string();
    assert!(
        msg.contains("NV index 0x01807c01") && msg.contains("vm1 (file version 1"),
        "{msg}"
    );
    // Undefining and redefining the index (the owner can) gives a fresh
    // index, which vouches for no record at all.
    mem.lock().unwrap().nv.clear();
    let msg = open(&host).err().unwrap().to_string();
    assert!(msg.contains("never advanced"), "{msg}");
}

// ---- The host TPM for real: swtpm through tpmclient ----

/// `swtpm socket` standing in for the host's hardware TPM; killed on drop.
struct Swtpm {
    child: std::process::Child,
    port: u16,
}

impl Swtpm {
    fn start(state: &Path) -> Swtpm {
        fs::create_dir_all(state).unwrap();
        for _ in 0..8 {
            let port = free_port_pair();
            let mut child = Command::new("swtpm")
                .args([
                    "socket",
                    "--tpm2",
                    "--flags",
                    "not-need-init,startup-clear",
                    "--tpmstate",
                ])
                .arg(format!("dir={}", state.display()))
                .arg("--server")
                .arg(format!("type=tcp,port={port},bindaddr=127.0.0.1"))
                .arg("--ctrl")
                .arg(format!("type=tcp,port={},bindaddr=127.0.0.1", port + 1))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn swtpm (is it installed?)");
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                if child.try_wait().unwrap().is_some() {
                    break; // lost a port race: try another pair
                }
                let ctrl = std::net::SocketAddr::from(([127, 0, 0, 1], port + 1));
                if std::net::TcpStream::connect_timeout(&ctrl, Duration::from_millis(200)).is_ok() {
                    return Swtpm { child, port };
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("swtpm did not start");
    }

    fn host(&self) -> SharedHostTpm {
        let tcti = format!("swtpm:host=127.0.0.1,port={}", self.port);
        Arc::new(Mutex::new(TpmClientHost::open(&tcti, b"").unwrap()))
    }
}

impl Drop for Swtpm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port_pair() -> u16 {
    for _ in 0..100 {
        let a = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let p = a.local_addr().unwrap().port();
        if p < u16::MAX && std::net::TcpListener::bind(("127.0.0.1", p + 1)).is_ok() {
            return p;
        }
    }
    panic!("no free pair of adjacent ports");
}

#[test]
fn swtpm_as_host_tpm_seals_the_master_key_and_anchors_the_record() {
    let tmp = tempfile::tempdir().unwrap();
    let swtpm = Swtpm::start(&tmp.path().join("host-tpm"));
    let dir = tmp.path().join("state");
    let sealed_key = tmp.path().join("master.sealed");
    // What the daemon does at start: unseal (or create) the master key,
    // open the anchor index, open the store.
    let start = |swtpm: &Swtpm| {
        let host = swtpm.host();
        let master = vtpm::seal::tpm_master_key(&mut *host.lock().unwrap(), &sealed_key).unwrap();
        let anchor = TpmAnchor::open(host, DEFAULT_ANCHOR_INDEX, &master).unwrap();
        SealedStore::open(&dir, master, Box::new(anchor))
    };
    let s = start(&swtpm).unwrap();
    assert!(s.anchor_description().contains("NV index 0x01807c01"));
    s.save("vm1", &blob("a", 1)).unwrap();
    s.save("vm2", &blob("b", 1)).unwrap();
    drop(s);
    // The sealed master key is no key without the TPM.
    let on_disk = fs::read(&sealed_key).unwrap();
    assert!(on_disk.len() > 100, "a TPM2B_PRIVATE + TPM2B_PUBLIC");
    let backup = tmp.path().join("backup");
    copy_dir(&dir, &backup);
    let s = start(&swtpm).unwrap();
    s.save("vm1", &blob("a", 2)).unwrap();
    let (seq, head) = s.record_position();
    drop(s);
    // The NV index holds the chain head, as tpm2_nvread would show.
    {
        let host = swtpm.host();
        let mut h = host.lock().unwrap();
        let master = vtpm::seal::tpm_master_key(&mut *h, &sealed_key).unwrap();
        let auth = master.derive(
            vtpm::seal::Purpose::AnchorAuth,
            &DEFAULT_ANCHOR_INDEX.to_be_bytes(),
        );
        let v = h
            .nv_read_extend(DEFAULT_ANCHOR_INDEX, &auth[..])
            .unwrap()
            .unwrap();
        assert_eq!(hex::encode(v), head);
        assert_eq!(seq, 4, "genesis + three saves");
    }
    // Restoring the whole state directory (record and all) is refused.
    copy_dir(&backup, &dir);
    let msg = start(&swtpm).err().unwrap().to_string();
    assert!(
        msg.contains("ends at commit #3")
            && msg.contains("NV index 0x01807c01")
            && msg.contains("vm1 (file version 1"),
        "{msg}"
    );
    // The owner can undefine the index; the index defined anew is fresh
    // and vouches for no record, old or current.
    {
        let conn = TpmClientHost::open(&format!("swtpm:host=127.0.0.1,port={}", swtpm.port), b"")
            .unwrap()
            .connection();
        conn.lock()
            .unwrap()
            .nv_undefine(0x4000_0001, &tpmclient::Auth::empty(), DEFAULT_ANCHOR_INDEX)
            .unwrap();
    }
    fs::remove_dir_all(&dir).unwrap();
    copy_dir(&backup, &dir);
    let msg = start(&swtpm).err().unwrap().to_string();
    assert!(msg.contains("holds nothing (never advanced)"), "{msg}");
}

#[test]
fn swtpm_anchor_survives_a_host_tpm_restart_and_refuses_a_single_file_rollback() {
    let tmp = tempfile::tempdir().unwrap();
    let tpm_state = tmp.path().join("host-tpm");
    let dir = tmp.path().join("state");
    let sealed_key = tmp.path().join("master.sealed");
    let start = |swtpm: &Swtpm| {
        let host = swtpm.host();
        let master = vtpm::seal::tpm_master_key(&mut *host.lock().unwrap(), &sealed_key).unwrap();
        let anchor = TpmAnchor::open(host, DEFAULT_ANCHOR_INDEX, &master).unwrap();
        SealedStore::open(&dir, master, Box::new(anchor))
    };
    let swtpm = Swtpm::start(&tpm_state);
    let s = start(&swtpm).unwrap();
    s.save("vm1", &blob("a", 1)).unwrap();
    let v1 = fs::read(dir.join("vm1.sealed")).unwrap();
    s.save("vm1", &blob("a", 2)).unwrap();
    drop(s);
    drop(swtpm);
    // Host reboot: the TPM restarts from its NV; the key unseals, the
    // anchor still matches.
    let swtpm = Swtpm::start(&tpm_state);
    let s = start(&swtpm).unwrap();
    assert_eq!(load(&s, "vm1"), Some((blob("a", 2), 2)));
    drop(s);
    fs::write(dir.join("vm1.sealed"), &v1).unwrap();
    let s = start(&swtpm).unwrap();
    let msg = s.load("vm1").err().unwrap().to_string();
    assert!(
        msg.contains("rollback detected") && msg.contains("expected 2, found 1"),
        "{msg}"
    );
}

// ---- An Instance (the daemon's unit) running on the sealed store ----

#[test]
fn an_instance_runs_on_the_sealed_store_and_refuses_its_rolled_back_state() {
    let h = Host::new();
    let store = Arc::new(h.store());
    let open = |store: &Arc<SealedStore>| {
        vtpm::Instance::open(store.instance("vm").unwrap(), &tpm::EngineConfig::default())
    };
    let (mut inst, how) = open(&store).unwrap();
    assert_eq!(how, vtpm::Opened::Manufactured);
    assert_eq!(
        rc(&inst.execute(0, &cmd(0x8001, 0x144, &[], false, &[0, 0]))),
        0
    );
    let mut p = vec![0, 0];
    p.extend_from_slice(&14u16.to_be_bytes());
    p.extend_from_slice(&NV_INDEX.to_be_bytes());
    p.extend_from_slice(&0x000Bu16.to_be_bytes());
    p.extend_from_slice(&0x0204_0014u32.to_be_bytes());
    p.extend_from_slice(&[0, 0]);
    p.extend_from_slice(&8u16.to_be_bytes());
    assert_eq!(
        rc(&inst.execute(0, &cmd(0x8002, 0x12A, &[0x4000_0001], true, &p))),
        0
    );
    let inc = cmd(0x8002, 0x134, &[NV_INDEX, NV_INDEX], true, &[]);
    assert_eq!(rc(&inst.execute(0, &inc)), 0);
    let v_before = store.version("vm").unwrap();
    let old = fs::read(h.file("vm")).unwrap();
    assert_eq!(rc(&inst.execute(0, &inc)), 0);
    assert!(
        store.version("vm").unwrap() > v_before,
        "the increment was stored before its response"
    );
    drop(inst);
    // Power cycle: the counter is there.
    let (mut inst, how) = open(&store).unwrap();
    assert_eq!(how, vtpm::Opened::Loaded);
    assert_eq!(
        rc(&inst.execute(0, &cmd(0x8001, 0x144, &[], false, &[0, 0]))),
        0
    );
    let r = inst.execute(
        0,
        &cmd(0x8002, 0x14E, &[NV_INDEX, NV_INDEX], true, &[0, 8, 0, 0]),
    );
    assert_eq!(u64::from_be_bytes(r[16..24].try_into().unwrap()), 2);
    drop(inst);
    // Putting the state from before the second increment back is refused.
    fs::write(h.file("vm"), &old).unwrap();
    let msg = open(&store).err().unwrap().to_string();
    assert!(
        msg.contains("instance vm is refused: rollback detected"),
        "{msg}"
    );
}

// ---- kill -9 of a writer process ----

const NV_INDEX: u32 = 0x0100_0010;

fn cmd(tag: u16, cc: u32, handles: &[u32], auth: bool, params: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&tag.to_be_bytes());
    v.extend_from_slice(&0u32.to_be_bytes());
    v.extend_from_slice(&cc.to_be_bytes());
    for h in handles {
        v.extend_from_slice(&h.to_be_bytes());
    }
    if auth {
        // One password session (TPM_RS_PW) with an empty password.
        v.extend_from_slice(&9u32.to_be_bytes());
        v.extend_from_slice(&0x4000_0009u32.to_be_bytes());
        v.extend_from_slice(&[0, 0, 0, 0, 0]);
    }
    v.extend_from_slice(params);
    let n = v.len() as u32;
    v[2..6].copy_from_slice(&n.to_be_bytes());
    v
}

fn rc(resp: &[u8]) -> u32 {
    u32::from_be_bytes(resp[6..10].try_into().unwrap())
}

fn startup(tpm: &mut tpm::Tpm) {
    let r = tpm.execute(0, &cmd(0x8001, 0x144, &[], false, &[0, 0]));
    assert_eq!(rc(&r), 0, "Startup");
}

fn define_counter(tpm: &mut tpm::Tpm) {
    let mut p = vec![0, 0]; // empty auth
    p.extend_from_slice(&14u16.to_be_bytes());
    p.extend_from_slice(&NV_INDEX.to_be_bytes());
    p.extend_from_slice(&0x000Bu16.to_be_bytes());
    // TPM_NT_COUNTER | AUTHWRITE | AUTHREAD | NO_DA (Part 2 §13.4).
    p.extend_from_slice(&0x0204_0014u32.to_be_bytes());
    p.extend_from_slice(&[0, 0]);
    p.extend_from_slice(&8u16.to_be_bytes());
    let r = tpm.execute(0, &cmd(0x8002, 0x12A, &[0x4000_0001], true, &p));
    assert_eq!(rc(&r), 0, "NV_DefineSpace");
}

fn increment(tpm: &mut tpm::Tpm) {
    let r = tpm.execute(0, &cmd(0x8002, 0x134, &[NV_INDEX, NV_INDEX], true, &[]));
    assert_eq!(rc(&r), 0, "NV_Increment");
}

/// The counter, or `None` while it is not defined or never incremented.
fn read_counter(tpm: &mut tpm::Tpm) -> Option<u64> {
    let r = tpm.execute(
        0,
        &cmd(0x8002, 0x14E, &[NV_INDEX, NV_INDEX], true, &[0, 8, 0, 0]),
    );
    if rc(&r) != 0 {
        return None;
    }
    Some(u64::from_be_bytes(r[16..24].try_into().unwrap()))
}

fn open_writer_store(dir: &Path) -> SealedStore {
    let master = file_master_key(&dir.join("master.key")).unwrap();
    let anchor = FileAnchor::open(&dir.join("anchor/anchor")).unwrap();
    SealedStore::open(&dir.join("state"), master, Box::new(anchor)).unwrap()
}

fn load_tpm(store: &SealedStore) -> Option<tpm::Tpm> {
    store.load("vm").unwrap().map(|l| {
        tpm::Tpm::from_state(
            &l.blob,
            tpm::crypto::Drbg::from_os(),
            Box::<tpm::engine::SystemTime>::default(),
        )
        .unwrap()
    })
}

const CHILD_ENV: &str = "SEAL_KILL9_WRITER_DIR";

/// The writer: runs only when re-executed by the test below. Increments
/// the NV counter forever, saving the state before printing "ack N".
#[test]
fn kill9_writer_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let dir = PathBuf::from(dir);
    let store = open_writer_store(&dir);
    let mut tpm = load_tpm(&store).unwrap_or_else(|| tpm::Tpm::new(&tpm::EngineConfig::default()));
    startup(&mut tpm);
    if read_counter(&mut tpm).is_none() {
        define_counter(&mut tpm);
    }
    let mut out = std::io::stdout().lock();
    loop {
        increment(&mut tpm);
        if tpm.take_dirty() {
            store.save("vm", &tpm.state_blob()).unwrap();
        }
        let v = read_counter(&mut tpm).unwrap();
        use std::io::Write;
        writeln!(out, "ack {v}").unwrap();
        out.flush().unwrap();
    }
}

#[test]
fn kill9_of_a_writer_loses_no_acknowledged_increment() {
    let tmp = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut seed = u64::from(std::process::id()) ^ 0x9E37_79B9_7F4A_7C15;
    let mut last_acked: Option<u64> = None;
    let mut total_acks = 0;
    let started = Instant::now();
    for round in 0..25 {
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "kill9_writer_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, tmp.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let acks = Arc::new(Mutex::new(Vec::new()));
        let acks2 = acks.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(n) = line.strip_prefix("ack ") {
                    acks2.lock().unwrap().push(n.trim().parse::<u64>().unwrap());
                }
            }
        });
        // Wait for the first ack of this round, then a random while more.
        let deadline = Instant::now() + Duration::from_secs(20);
        while acks.lock().unwrap().is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        std::thread::sleep(Duration::from_millis(seed % 150));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        reader.join().unwrap();
        let acks = acks.lock().unwrap().clone();
        assert!(
            !acks.is_empty(),
            "round {round}: the writer never acknowledged"
        );
        total_acks += acks.len();
        // Acks of one round are consecutive and continue the last round's.
        if let Some(prev) = last_acked {
            assert!(
                acks[0] > prev,
                "round {round}: counter went back to {} after {prev}",
                acks[0]
            );
        }
        let acked = *acks.last().unwrap();
        let store = open_writer_store(tmp.path());
        let mut tpm = load_tpm(&store).expect("state exists");
        startup(&mut tpm);
        let durable = read_counter(&mut tpm).expect("counter exists");
        assert!(
            durable == acked || durable == acked + 1,
            "round {round}: acknowledged {acked}, but the durable counter is {durable}"
        );
        last_acked = Some(acked);
    }
    // Each durable write costs a few fsyncs (~10 ms each on this disk).
    assert!(
        total_acks >= 40,
        "too few increments to mean anything ({total_acks})"
    );
    eprintln!(
        "kill -9 loop: 25 kills, {total_acks} acknowledged increments, last {last_acked:?}, {:?}",
        started.elapsed()
    );
}
