//! The version record: an append-only, hash-chained log of the latest
//! state version (and the digest of its sealed file) of every instance.
//!
//! ```text
//! file    = header commit*
//! header  = "TCVR" format:u16 reserved:u16 base_seq:u64 base_head:32
//! commit  = len:u32 body tag:32
//! body    = seq:u64 kind:u8 (0 delta, 1 snapshot) count:u32 entry*
//! entry   = flags:u8 (bit 0: deleted) id_len:u8 id version:u64 digest:32
//! tag     = HMAC-SHA256(K_record_mac, prev_head || body)
//! link    = HMAC-SHA256(K_anchor_chain, body)
//! head(n) = SHA-256(head(n-1) || link(n)),   head(0) = 32 zero bytes
//! ```
//!
//! `head` is exactly what a SHA-256 NV extend index holds after being
//! extended with every `link` in turn (TPM 2.0 Part 3 §31.7 TPM2_NV_Extend:
//! new = H(old || data), starting from zeros when unwritten), so the host
//! TPM can anchor the chain with one NV_Extend per commit. The links are
//! keyed: nobody without the master key can rebuild the chain in a fresh
//! index. The tags make each commit (in particular the one not yet
//! anchored after a crash) unforgeable, and bind it to its predecessor.
//!
//! A compaction starts a new file whose header carries the current
//! (seq, head) as its base and whose first commit is a snapshot of the
//! whole table: the chain goes on unbroken, so the anchor does too.

use std::collections::HashMap;

use hmac::{Mac, SimpleHmac};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::keys::{MasterKey, Purpose};
use super::name::check_name;

/// File name of the version record in the state directory.
pub const RECORD_FILE: &str = "versions.log";
const MAGIC: &[u8; 4] = b"TCVR";
const FORMAT: u16 = 1;
/// Bytes of the file header.
pub(crate) const HEADER_LEN: usize = 4 + 2 + 2 + 8 + 32;
const TAG_LEN: usize = 32;
/// Largest commit body accepted (a snapshot of 10,000 instances is ~0.5 MB).
const MAX_BODY: usize = 64 * 1024 * 1024;

/// A 32-byte digest (head, link, tag or file digest).
pub type Hash32 = [u8; 32];

/// What the record says about one instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    /// Latest state version (for a tombstone: the version the delete took).
    pub version: u64,
    /// SHA-256 of the sealed state file of that version (zeros if deleted).
    pub digest: Hash32,
    /// The instance was deleted at `version`.
    pub deleted: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CommitKind {
    Delta = 0,
    Snapshot = 1,
}

/// The two keys of the record, derived from the master key.
pub(crate) struct RecordKeys {
    mac: Zeroizing<Hash32>,
    chain: Zeroizing<Hash32>,
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> Hash32 {
    // HMAC accepts keys of any length (RFC 2104 §2), so this cannot fail.
    let mut m = match SimpleHmac::<Sha256>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => return [0; 32],
    };
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().into()
}

impl RecordKeys {
    pub(crate) fn new(master: &MasterKey) -> RecordKeys {
        RecordKeys {
            mac: master.derive(Purpose::RecordMac, b""),
            chain: master.derive(Purpose::AnchorChain, b""),
        }
    }

    fn tag(&self, prev_head: &Hash32, body: &[u8]) -> Hash32 {
        hmac(&self.mac[..], &[prev_head, body])
    }

    /// The value the anchor is extended with for a commit.
    pub(crate) fn link(&self, body: &[u8]) -> Hash32 {
        hmac(&self.chain[..], &[body])
    }
}

/// head(n) from head(n-1) and link(n).
pub(crate) fn next_head(prev: &Hash32, link: &Hash32) -> Hash32 {
    let mut h = Sha256::new();
    h.update(prev);
    h.update(link);
    h.finalize().into()
}

/// SHA-256 of a sealed file, as recorded.
pub(crate) fn file_digest(bytes: &[u8]) -> Hash32 {
    Sha256::digest(bytes).into()
}

pub(crate) fn header(base_seq: u64, base_head: &Hash32) -> Vec<u8> {
    let mut v = Vec::with_capacity(HEADER_LEN);
    v.extend_from_slice(MAGIC);
    v.extend_from_slice(&FORMAT.to_be_bytes());
    v.extend_from_slice(&0u16.to_be_bytes());
    v.extend_from_slice(&base_seq.to_be_bytes());
    v.extend_from_slice(base_head);
    v
}

pub(crate) fn body<'a>(
    seq: u64,
    kind: CommitKind,
    entries: impl ExactSizeIterator<Item = (&'a str, &'a Entry)>,
) -> Vec<u8> {
    let mut v = Vec::with_capacity(13 + entries.len() * 64);
    v.extend_from_slice(&seq.to_be_bytes());
    v.push(kind as u8);
    v.extend_from_slice(&(entries.len() as u32).to_be_bytes());
    for (id, e) in entries {
        v.push(u8::from(e.deleted));
        // Names are checked to be 1..=64 bytes before they reach here.
        v.push(id.len() as u8);
        v.extend_from_slice(id.as_bytes());
        v.extend_from_slice(&e.version.to_be_bytes());
        v.extend_from_slice(&e.digest);
    }
    v
}

/// One commit as appended: len, body, tag.
pub(crate) fn commit(keys: &RecordKeys, prev_head: &Hash32, body: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(4 + body.len() + TAG_LEN);
    v.extend_from_slice(&(body.len() as u32).to_be_bytes());
    v.extend_from_slice(body);
    v.extend_from_slice(&keys.tag(prev_head, body));
    v
}

/// The record as read back.
#[derive(Debug)]
pub(crate) struct Replay {
    /// Number of the last valid commit (`base_seq` if none).
    pub seq: u64,
    /// Chain head after the last valid commit.
    pub head: Hash32,
    /// Chain head before the last valid commit (`head` if none).
    pub prev_head: Hash32,
    /// Link of the last valid commit (to re-advance an anchor left behind).
    pub last_link: Hash32,
    /// Valid commits in this file.
    pub commits: u64,
    pub table: HashMap<String, Entry>,
    /// Bytes up to the end of the last valid commit.
    pub valid_len: u64,
    /// Bytes after it: a torn append left by a crash, or garbage.
    pub trailing: u64,
}

struct Rd<'a>(&'a [u8]);

impl<'a> Rd<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    fn arr<const N: usize>(&mut self) -> Option<[u8; N]> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Some(a)
    }
    fn u8(&mut self) -> Option<u8> {
        self.arr::<1>().map(|a| a[0])
    }
    fn u32(&mut self) -> Option<u32> {
        self.arr().map(u32::from_be_bytes)
    }
    fn u64(&mut self) -> Option<u64> {
        self.arr().map(u64::from_be_bytes)
    }
}

/// A commit body read back: number, kind, entries.
type Body = (u64, CommitKind, Vec<(String, Entry)>);

fn parse_body(body: &[u8]) -> Result<Body, String> {
    let bad = || "malformed commit body".to_string();
    let mut r = Rd(body);
    let seq = r.u64().ok_or_else(bad)?;
    let kind = match r.u8().ok_or_else(bad)? {
        0 => CommitKind::Delta,
        1 => CommitKind::Snapshot,
        k => return Err(format!("commit #{seq}: unknown kind {k}")),
    };
    let count = r.u32().ok_or_else(bad)?;
    let mut out = Vec::new();
    for _ in 0..count {
        let flags = r.u8().ok_or_else(bad)?;
        if flags > 1 {
            return Err(format!("commit #{seq}: unknown entry flags {flags:#x}"));
        }
        let n = usize::from(r.u8().ok_or_else(bad)?);
        let id = std::str::from_utf8(r.take(n).ok_or_else(bad)?)
            .map_err(|_| format!("commit #{seq}: instance name is not UTF-8"))?;
        check_name(id).map_err(|e| format!("commit #{seq}: {e}"))?;
        let version = r.u64().ok_or_else(bad)?;
        let digest = r.arr::<32>().ok_or_else(bad)?;
        out.push((
            id.to_string(),
            Entry {
                version,
                digest,
                deleted: flags == 1,
            },
        ));
    }
    if !r.0.is_empty() {
        return Err(format!("commit #{seq}: trailing bytes in body"));
    }
    Ok((seq, kind, out))
}

/// Reads a record file. A commit that is cut short or whose tag does not
/// verify ends the valid part (a crash mid-append leaves exactly that);
/// whether the valid part is the real record is for the anchor to say.
/// A commit whose tag verifies but whose content breaks the rules (a
/// version going backwards, a bad name) means a broken invariant or a
/// leaked key: an error.
pub(crate) fn replay(bytes: &[u8], keys: &RecordKeys) -> Result<Replay, String> {
    let mut r = Rd(bytes);
    let magic = r.take(4).ok_or("shorter than its header")?;
    if magic != MAGIC {
        return Err("bad magic (not a version record)".into());
    }
    let format = r.arr::<2>().map(u16::from_be_bytes).ok_or("short header")?;
    if format != FORMAT {
        return Err(format!("format {format} (this build reads {FORMAT})"));
    }
    r.take(2).ok_or("short header")?;
    let base_seq = r.u64().ok_or("short header")?;
    let base_head = r.arr::<32>().ok_or("short header")?;
    let mut rp = Replay {
        seq: base_seq,
        head: base_head,
        prev_head: base_head,
        last_link: [0; 32],
        commits: 0,
        table: HashMap::new(),
        valid_len: HEADER_LEN as u64,
        trailing: 0,
    };
    loop {
        let rest = r.0;
        if rest.is_empty() {
            break;
        }
        let Some(len) = r.u32().map(|l| l as usize) else {
            break;
        };
        if len > MAX_BODY {
            r = Rd(rest);
            break;
        }
        let (Some(body), Some(tag)) = (r.take(len), r.arr::<32>()) else {
            r = Rd(rest);
            break;
        };
        let want = keys.tag(&rp.head, body);
        if !bool::from(subtle::ConstantTimeEq::ct_eq(&want[..], &tag[..])) {
            if rp.commits == 0 {
                // The first commit binds the header: a bad tag there means
                // another master key as often as a torn write.
                tracing::warn!("the first commit of the version record does not authenticate");
            }
            r = Rd(rest);
            break;
        }
        let (seq, kind, entries) = parse_body(body)?;
        if seq != rp.seq.wrapping_add(1) {
            return Err(format!("commit #{seq} follows commit #{}", rp.seq));
        }
        match kind {
            CommitKind::Snapshot if rp.commits != 0 => {
                return Err(format!("commit #{seq}: a snapshot after the start"));
            }
            CommitKind::Delta if rp.commits == 0 && base_seq != 0 => {
                return Err(format!(
                    "commit #{seq}: a compacted record must start with a snapshot"
                ));
            }
            _ => {}
        }
        for (id, e) in entries {
            if kind == CommitKind::Snapshot {
                if rp.table.insert(id.clone(), e).is_some() {
                    return Err(format!("commit #{seq}: instance {id} twice in a snapshot"));
                }
            } else {
                if let Some(old) = rp.table.get(&id) {
                    if e.version <= old.version {
                        return Err(format!(
                            "commit #{seq}: instance {id} goes from version {} to {}",
                            old.version, e.version
                        ));
                    }
                }
                rp.table.insert(id, e);
            }
        }
        let link = keys.link(body);
        rp.prev_head = rp.head;
        rp.head = next_head(&rp.head, &link);
        rp.last_link = link;
        rp.seq = seq;
        rp.commits += 1;
        rp.valid_len = (bytes.len() - r.0.len()) as u64;
    }
    rp.trailing = r.0.len() as u64;
    Ok(rp)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> RecordKeys {
        RecordKeys::new(&MasterKey::from_bytes([9; 32]))
    }

    fn e(version: u64) -> Entry {
        Entry {
            version,
            digest: [version as u8; 32],
            deleted: false,
        }
    }

    /// Builds a record: header at base, then the given commits.
    fn build(
        k: &RecordKeys,
        commits: &[(CommitKind, Vec<(&str, Entry)>)],
    ) -> (Vec<u8>, Vec<Hash32>) {
        let mut f = header(0, &[0; 32]);
        let mut head = [0u8; 32];
        let mut heads = vec![head];
        for (i, (kind, es)) in commits.iter().enumerate() {
            let b = body(i as u64 + 1, *kind, es.iter().map(|(n, e)| (*n, e)));
            f.extend_from_slice(&commit(k, &head, &b));
            head = next_head(&head, &k.link(&b));
            heads.push(head);
        }
        (f, heads)
    }

    #[test]
    fn replay_builds_table_and_chain() {
        let k = keys();
        let (f, heads) = build(
            &k,
            &[
                (CommitKind::Snapshot, vec![]),
                (CommitKind::Delta, vec![("a", e(1)), ("b", e(1))]),
                (CommitKind::Delta, vec![("a", e(2))]),
            ],
        );
        let r = replay(&f, &k).unwrap();
        assert_eq!((r.seq, r.commits, r.trailing), (3, 3, 0));
        assert_eq!(r.head, heads[3]);
        assert_eq!(r.prev_head, heads[2]);
        assert_eq!(r.table["a"], e(2));
        assert_eq!(r.table["b"], e(1));
        assert_eq!(r.valid_len, f.len() as u64);
    }

    #[test]
    fn the_chain_is_what_an_nv_extend_index_computes() {
        // NV_Extend (Part 3 §31.7): new = SHA-256(old || data), old = zeros
        // when unwritten. Our head after one commit must equal that.
        let k = keys();
        let (f, heads) = build(&k, &[(CommitKind::Snapshot, vec![])]);
        let b = body(1, CommitKind::Snapshot, std::iter::empty());
        let mut h = Sha256::new();
        h.update([0u8; 32]);
        h.update(k.link(&b));
        let nv: Hash32 = h.finalize().into();
        assert_eq!(heads[1], nv);
        assert_eq!(replay(&f, &k).unwrap().head, nv);
    }

    #[test]
    fn torn_or_forged_tail_ends_the_valid_part() {
        let k = keys();
        let (f, heads) = build(
            &k,
            &[
                (CommitKind::Snapshot, vec![]),
                (CommitKind::Delta, vec![("a", e(1))]),
            ],
        );
        let full = replay(&f, &k).unwrap();
        for cut in HEADER_LEN..f.len() {
            let r = replay(&f[..cut], &k).unwrap();
            assert!(r.seq < 2, "cut at {cut}");
            assert_eq!(r.valid_len + r.trailing, cut as u64);
            assert_eq!(r.head, heads[r.seq as usize]);
        }
        let mut forged = f.clone();
        let last = forged.len() - 40;
        forged[last] ^= 1;
        let r = replay(&forged, &k).unwrap();
        assert_eq!(r.seq, 1);
        assert!(r.trailing > 0);
        assert_eq!(full.seq, 2);
        // Another master key authenticates nothing.
        let other = RecordKeys::new(&MasterKey::from_bytes([1; 32]));
        assert_eq!(replay(&f, &other).unwrap().commits, 0);
    }

    #[test]
    fn authentic_but_backward_versions_are_an_error() {
        let k = keys();
        let (f, _) = build(
            &k,
            &[
                (CommitKind::Snapshot, vec![("a", e(5))]),
                (CommitKind::Delta, vec![("a", e(5))]),
            ],
        );
        assert!(replay(&f, &k).unwrap_err().contains("version 5 to 5"));
    }

    #[test]
    fn bad_header_is_an_error() {
        let k = keys();
        assert!(replay(b"TCV", &k).is_err());
        let mut h = header(0, &[0; 32]);
        h[0] = b'X';
        assert!(replay(&h, &k).unwrap_err().contains("magic"));
    }
}
