//! The version record on disk and its anchor, kept in step.
//!
//! Commit protocol (one commit = one or more instance entries):
//! 1. append the commit to `versions.log` and fsync it;
//! 2. advance the anchor by the commit's link.
//!
//! So the anchor is always at the record's last commit, or one behind
//! (a crash between 1 and 2). On open, both are accepted, and the second
//! is completed by advancing the anchor; any other difference means the
//! record (or the anchor) was replaced by an older copy, and the store is
//! refused. While the anchor is behind, no new commit is appended.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use super::anchor::{short, Anchor, AnchorValue};
use super::error::{io_err, SealError};
use super::fsio::{self, Faults, ReplaceSteps, Step};
use super::record::{self, CommitKind, Entry, Hash32, RecordKeys, RECORD_FILE};

/// Largest record file read at open (compaction keeps it far smaller).
const MAX_RECORD: u64 = 256 * 1024 * 1024;
/// Compact once the record is at least this big...
pub(crate) const DEFAULT_COMPACT_MIN: u64 = 4 * 1024 * 1024;
/// ...and this many times the size of a snapshot.
pub(crate) const DEFAULT_COMPACT_RATIO: u64 = 4;
/// Upper estimate of one snapshot entry's bytes.
const ENTRY_ESTIMATE: u64 = 1 + 1 + 64 + 8 + 32;

pub(crate) type Table = HashMap<String, Entry>;

pub(crate) struct Journal {
    dir: PathBuf,
    path: PathBuf,
    tmp: PathBuf,
    file: File,
    len: u64,
    seq: u64,
    head: Hash32,
    prev_head: Hash32,
    last_link: Hash32,
    /// Whether the anchor is known to hold `head` (else `prev_head`).
    anchored: bool,
    keys: RecordKeys,
    anchor: Box<dyn Anchor>,
    poisoned: Option<String>,
    pub(crate) compact_min: u64,
    pub(crate) compact_ratio: u64,
}

fn open_append(path: &Path) -> Result<File, SealError> {
    OpenOptions::new()
        .append(true)
        .open(path)
        .map_err(io_err("open for append", path))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Journal {
    /// Opens the record of `dir` (creating it for a new store) and
    /// reconciles it with `anchor`. `has_states` tells whether sealed state
    /// files exist; `instances` describes them for a refusal message.
    pub(crate) fn open(
        dir: &Path,
        dir_handle: &File,
        keys: RecordKeys,
        mut anchor: Box<dyn Anchor>,
        has_states: bool,
        instances: &dyn Fn(Option<&Table>) -> String,
    ) -> Result<(Journal, Table), SealError> {
        let path = dir.join(RECORD_FILE);
        let tmp = dir.join(format!("{RECORD_FILE}.tmp"));
        if tmp.exists() {
            // An unfinished compaction: the rename never happened.
            fs::remove_file(&tmp).map_err(io_err("remove", &tmp))?;
        }
        let value = anchor.read()?;
        let refuse = |detail: String, table: Option<&Table>| SealError::StoreRollback {
            dir: dir.to_path_buf(),
            detail,
            instances: instances(table),
        };
        let Some(bytes) = fsio::read_bounded(&path, MAX_RECORD)? else {
            // A new store, or a record deleted to hide the versions.
            if has_states {
                return Err(refuse(
                    format!(
                        "the version record {} is missing, but sealed instance states exist",
                        path.display()
                    ),
                    None,
                ));
            }
            let genesis = record::body(1, CommitKind::Snapshot, std::iter::empty());
            let link = keys.link(&genesis);
            let head = record::next_head(&[0; 32], &link);
            // Anchor first: a record file then always has an anchor that
            // vouches for it, and a crash before the record is written is
            // recognized below (the anchor at exactly the genesis head).
            match value {
                AnchorValue::Fresh => anchor.advance(1, &link, &head)?,
                v if v.matches(1, &head) => {}
                v => {
                    return Err(refuse(
                        format!(
                            "the version record {} is missing, but the anchor ({}) holds {v}, so this directory had a record; \
                             if this really is a new state directory, retire that anchor first",
                            path.display(),
                            anchor.describe()
                        ),
                        None,
                    ))
                }
            }
            let mut b = record::header(0, &[0; 32]);
            b.extend_from_slice(&record::commit(&keys, &[0; 32], &genesis));
            let steps = ReplaceSteps {
                written: None,
                synced: None,
                renamed: None,
            };
            fsio::replace_file(dir, dir_handle, &tmp, &path, &b, &steps, &Faults::default())?;
            tracing::info!(dir = %dir.display(), anchor = %anchor.describe(), "created a new sealed state store");
            let j = Journal {
                dir: dir.to_path_buf(),
                file: open_append(&path)?,
                path,
                tmp,
                len: b.len() as u64,
                seq: 1,
                head,
                prev_head: [0; 32],
                last_link: link,
                anchored: true,
                keys,
                anchor,
                poisoned: None,
                compact_min: DEFAULT_COMPACT_MIN,
                compact_ratio: DEFAULT_COMPACT_RATIO,
            };
            return Ok((j, Table::new()));
        };
        let rp = record::replay(&bytes, &keys).map_err(|reason| SealError::RecordCorrupt {
            path: path.clone(),
            reason,
        })?;
        if rp.commits == 0 {
            return Err(SealError::RecordCorrupt {
                path,
                reason: "no commit in it authenticates with this master key \
                         (a wrong master key, another host's record, or a corrupt file)"
                    .into(),
            });
        }
        if value.matches(rp.seq, &rp.head) {
            // In step.
        } else if value.matches(rp.seq - 1, &rp.prev_head) {
            tracing::warn!(
                commit = rp.seq,
                "completing a version-record commit interrupted by a crash"
            );
            anchor.advance(rp.seq, &rp.last_link, &rp.head)?;
        } else {
            return Err(refuse(
                format!(
                    "the version record {} ends at commit #{} (head {}), but the anchor ({}) holds {value}",
                    path.display(),
                    rp.seq,
                    short(&rp.head),
                    anchor.describe()
                ),
                Some(&rp.table),
            ));
        }
        if rp.trailing > 0 {
            tracing::warn!(bytes = rp.trailing, file = %path.display(), "dropping a torn append left by a crash");
            let f = OpenOptions::new()
                .write(true)
                .open(&path)
                .map_err(io_err("open", &path))?;
            f.set_len(rp.valid_len).map_err(io_err("truncate", &path))?;
            f.sync_all().map_err(io_err("fsync", &path))?;
        }
        let j = Journal {
            dir: dir.to_path_buf(),
            file: open_append(&path)?,
            path,
            tmp,
            len: rp.valid_len,
            seq: rp.seq,
            head: rp.head,
            prev_head: rp.prev_head,
            last_link: rp.last_link,
            anchored: true,
            keys,
            anchor,
            poisoned: None,
            compact_min: DEFAULT_COMPACT_MIN,
            compact_ratio: DEFAULT_COMPACT_RATIO,
        };
        Ok((j, rp.table))
    }

    /// The operator's deliberate acceptance of the record as it is (after
    /// restoring a backup on purpose, or moving to a new anchor): the
    /// anchor must have been retired first (it reads fresh). Rewrites the
    /// record as a snapshot starting a new chain, then anchors it. If
    /// interrupted, running it again finishes it. Returns the table.
    pub(crate) fn reanchor(
        dir: &Path,
        dir_handle: &File,
        keys: &RecordKeys,
        anchor: &mut dyn Anchor,
    ) -> Result<Table, SealError> {
        let path = dir.join(RECORD_FILE);
        let tmp = dir.join(format!("{RECORD_FILE}.tmp"));
        let value = anchor.read()?;
        if value != AnchorValue::Fresh {
            return Err(SealError::Anchor {
                anchor: anchor.describe(),
                reason: format!(
                    "holds {value}; retire it first (remove the anchor file, or undefine the NV index) \
                     to accept the state directory as it is"
                ),
            });
        }
        let bytes =
            fsio::read_bounded(&path, MAX_RECORD)?.ok_or_else(|| SealError::RecordCorrupt {
                path: path.clone(),
                reason: "missing: nothing to accept".into(),
            })?;
        let rp = record::replay(&bytes, keys).map_err(|reason| SealError::RecordCorrupt {
            path: path.clone(),
            reason,
        })?;
        if rp.commits == 0 {
            return Err(SealError::RecordCorrupt {
                path,
                reason: "no commit in it authenticates with this master key".into(),
            });
        }
        let mut all: Vec<(&String, &Entry)> = rp.table.iter().collect();
        all.sort_by(|a, b| a.0.cmp(b.0));
        let body = record::body(
            1,
            CommitKind::Snapshot,
            all.iter().map(|(n, e)| (n.as_str(), *e)),
        );
        let mut b = record::header(0, &[0; 32]);
        b.extend_from_slice(&record::commit(keys, &[0; 32], &body));
        let steps = ReplaceSteps {
            written: None,
            synced: None,
            renamed: None,
        };
        fsio::replace_file(dir, dir_handle, &tmp, &path, &b, &steps, &Faults::default())?;
        let link = keys.link(&body);
        anchor.advance(1, &link, &record::next_head(&[0; 32], &link))?;
        tracing::warn!(
            dir = %dir.display(),
            anchor = %anchor.describe(),
            instances = rp.table.len(),
            "the operator accepted the state directory as it is and re-anchored it"
        );
        Ok(rp.table)
    }

    pub(crate) fn anchor_description(&self) -> String {
        self.anchor.describe()
    }

    pub(crate) fn anchor_is_hardware(&self) -> bool {
        self.anchor.is_hardware()
    }

    /// The last commit number and chain head.
    pub(crate) fn position(&self) -> (u64, Hash32) {
        (self.seq, self.head)
    }

    fn poison(&mut self, e: SealError) -> SealError {
        if self.poisoned.is_none() {
            self.poisoned = Some(e.to_string());
        }
        e
    }

    /// Brings a lagging anchor up to the last commit (after a failed
    /// advance), or refuses if it moved in a way we did not.
    fn catch_up(&mut self) -> Result<(), SealError> {
        if self.anchored {
            return Ok(());
        }
        let v = self.anchor.read()?;
        if v.matches(self.seq, &self.head) {
            // The failed advance did happen.
        } else if v.matches(self.seq - 1, &self.prev_head) {
            self.anchor.advance(self.seq, &self.last_link, &self.head)?;
        } else {
            let e = SealError::Anchor {
                anchor: self.anchor.describe(),
                reason: format!(
                    "holds {v}, but this store's record is at commit #{} (head {}): someone else moved it",
                    self.seq,
                    short(&self.head)
                ),
            };
            return Err(self.poison(e));
        }
        self.anchored = true;
        Ok(())
    }

    /// Durably records `changes` (in order) and advances the anchor; the
    /// table is updated once the commit is in the record file.
    pub(crate) fn commit(
        &mut self,
        table: &Mutex<Table>,
        changes: &[(String, Entry)],
        dir_handle: &File,
        faults: &Faults,
    ) -> Result<(), SealError> {
        if let Some(p) = &self.poisoned {
            return Err(SealError::Poisoned(p.clone()));
        }
        self.catch_up()?;
        let snapshot = {
            let t = lock(table);
            let mut scratch: HashMap<&str, u64> = HashMap::new();
            for (id, e) in changes {
                let old = scratch
                    .get(id.as_str())
                    .copied()
                    .or_else(|| t.get(id).map(|o| o.version));
                if let Some(old) = old {
                    if e.version <= old {
                        return Err(SealError::RecordCorrupt {
                            path: self.path.clone(),
                            reason: format!(
                                "refusing to record instance {id} going from version {old} to {}",
                                e.version
                            ),
                        });
                    }
                }
                scratch.insert(id, e.version);
            }
            let estimate = (t.len() as u64 + 1) * ENTRY_ESTIMATE;
            if self.len >= self.compact_min
                && self.len >= self.compact_ratio.saturating_mul(estimate)
            {
                let mut all = t.clone();
                for (id, e) in changes {
                    all.insert(id.clone(), *e);
                }
                let mut v: Vec<(String, Entry)> = all.into_iter().collect();
                v.sort_by(|a, b| a.0.cmp(&b.0));
                Some(v)
            } else {
                None
            }
        };
        let seq = self.seq + 1;
        let body = match &snapshot {
            Some(all) => record::body(
                seq,
                CommitKind::Snapshot,
                all.iter().map(|(n, e)| (n.as_str(), e)),
            ),
            None => record::body(
                seq,
                CommitKind::Delta,
                changes.iter().map(|(n, e)| (n.as_str(), e)),
            ),
        };
        let c = record::commit(&self.keys, &self.head, &body);
        if snapshot.is_some() {
            let mut b = record::header(self.seq, &self.head);
            b.extend_from_slice(&c);
            let steps = ReplaceSteps {
                written: Some(Step::CompactWritten),
                synced: None,
                renamed: Some(Step::CompactRenamed),
            };
            if let Err(e) = fsio::replace_file(
                &self.dir, dir_handle, &self.tmp, &self.path, &b, &steps, faults,
            ) {
                // Before the rename the old record stands; after it, which
                // file is durable is unknown: stop until reopened.
                return Err(self.poison(e));
            }
            self.file = match open_append(&self.path) {
                Ok(f) => f,
                Err(e) => return Err(self.poison(e)),
            };
            tracing::info!(
                commit = seq,
                instances = snapshot.as_ref().map_or(0, Vec::len),
                bytes = b.len(),
                "compacted the version record"
            );
            self.len = b.len() as u64;
        } else {
            self.append(&c, faults)?;
        }
        if let Err(e) = faults.at(Step::RecordDurable) {
            return Err(self.poison(e));
        }
        let link = self.keys.link(&body);
        self.prev_head = self.head;
        self.head = record::next_head(&self.head, &link);
        self.last_link = link;
        self.seq = seq;
        self.anchored = false;
        {
            let mut t = lock(table);
            for (id, e) in changes {
                t.insert(id.clone(), *e);
            }
        }
        self.anchor.advance(seq, &link, &self.head)?;
        self.anchored = true;
        faults.at(Step::AnchorAdvanced).map_err(|e| self.poison(e))
    }

    /// Appends one commit and fsyncs; on an I/O error the file is cut back
    /// to its previous length, so no torn commit sits before the next one.
    fn append(&mut self, c: &[u8], faults: &Faults) -> Result<(), SealError> {
        let half = c.len() / 2;
        let (a, b) = c.split_at(half);
        let r = self
            .file
            .write_all(a)
            .map_err(io_err("append to", &self.path))
            .and_then(|()| faults.at(Step::RecordTorn))
            .and_then(|()| {
                self.file
                    .write_all(b)
                    .map_err(io_err("append to", &self.path))
            })
            .and_then(|()| faults.at(Step::RecordWritten))
            .and_then(|()| self.file.sync_data().map_err(io_err("fsync", &self.path)));
        match r {
            Ok(()) => {
                self.len += c.len() as u64;
                Ok(())
            }
            Err(e) if e.is_crash() => Err(self.poison(e)),
            Err(e) => {
                let undo = self
                    .file
                    .set_len(self.len)
                    .and_then(|()| self.file.sync_all());
                if let Err(u) = undo {
                    tracing::error!(error = %u, file = %self.path.display(), "cannot cut back a failed append");
                    return Err(self.poison(e));
                }
                Err(e)
            }
        }
    }
}
