//! The sealed-blob format shared by state files, exports and migration
//! blobs: a clear header naming what the blob is, for which instance, at
//! which version; then the AES-256-GCM ciphertext (NIST SP 800-38D) of the
//! payload, with the whole header as additional authenticated data.
//!
//! ```text
//! magic    4   "TCVS" state at rest | "TCVX" export | "TCVM" migration
//! format   u16 1
//! id_len   u16 1..=255
//! id       id_len bytes: instance name (state, export) or context (migration)
//! version  u64 state version
//! nonce    12  random
//! ct_len   u32
//! ct       ct_len bytes: ciphertext || 16-byte tag
//! ```
//!
//! The key is derived from the master key for the kind's purpose and the
//! id, and the header is authenticated, so a blob opens only as what it
//! claims: a file renamed to another instance, an export presented as a
//! state, or a changed version number all fail authentication.
//!
//! The nonce is random, not derived from the version: after a crash the
//! same version can be written twice with different contents (the first
//! was never recorded), and a repeated (key, nonce) pair would break GCM.
//! A key seals one blob per state write, far below the 2^32 random-nonce
//! limit of SP 800-38D §8.3.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use rand_core::{OsRng, RngCore};
use zeroize::Zeroizing;

use super::keys::{MasterKey, Purpose};

/// Current format number.
pub(crate) const FORMAT: u16 = 1;
/// Largest payload accepted (and written): the engine's state is far smaller.
pub(crate) const MAX_PAYLOAD: usize = 64 * 1024 * 1024;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// What a sealed blob is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// An instance's state at rest.
    State,
    /// An exported instance state.
    Export,
    /// A live-migration blob.
    Migration,
}

impl Kind {
    fn magic(self) -> &'static [u8; 4] {
        match self {
            Kind::State => b"TCVS",
            Kind::Export => b"TCVX",
            Kind::Migration => b"TCVM",
        }
    }

    fn from_magic(m: &[u8]) -> Option<Kind> {
        [Kind::State, Kind::Export, Kind::Migration]
            .into_iter()
            .find(|k| k.magic() == m)
    }

    fn purpose(self) -> Purpose {
        match self {
            Kind::State => Purpose::State,
            Kind::Export => Purpose::Export,
            Kind::Migration => Purpose::Migration,
        }
    }
}

/// The clear header of a sealed blob.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub kind: Kind,
    pub id: String,
    pub version: u64,
}

/// Why a blob did not open.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum OpenError {
    /// Not a well-formed blob of this format.
    Malformed(String),
    /// Well-formed, but the tag does not verify: tampered with, or sealed
    /// under another key (another host, instance or purpose).
    Auth(Header),
}

fn cipher(master: &MasterKey, kind: Kind, id: &str) -> Aes256Gcm {
    let key = master.derive(kind.purpose(), id.as_bytes());
    Aes256Gcm::new(key.as_slice().into())
}

/// Seals `payload` as a blob of `kind` for `id` at `version`.
pub(crate) fn seal(
    master: &MasterKey,
    kind: Kind,
    id: &str,
    version: u64,
    payload: &[u8],
) -> Result<Vec<u8>, String> {
    if id.is_empty() || id.len() > 255 {
        return Err(format!("id of {} bytes (1..=255 allowed)", id.len()));
    }
    if payload.len() > MAX_PAYLOAD {
        return Err(format!(
            "payload of {} bytes exceeds {MAX_PAYLOAD}",
            payload.len()
        ));
    }
    let ct_len = payload.len() + TAG_LEN;
    let mut out = Vec::with_capacity(4 + 2 + 2 + id.len() + 8 + NONCE_LEN + 4 + ct_len);
    out.extend_from_slice(kind.magic());
    out.extend_from_slice(&FORMAT.to_be_bytes());
    out.extend_from_slice(&(id.len() as u16).to_be_bytes());
    out.extend_from_slice(id.as_bytes());
    out.extend_from_slice(&version.to_be_bytes());
    let mut nonce = [0u8; NONCE_LEN];
    OsRng.fill_bytes(&mut nonce);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&(ct_len as u32).to_be_bytes());
    let ct = cipher(master, kind, id)
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: payload,
                aad: &out,
            },
        )
        .map_err(|_| "AES-GCM refused the payload".to_string())?;
    out.extend_from_slice(&ct);
    Ok(out)
}

/// A bounded big-endian reader over untrusted bytes.
struct Rd<'a>(&'a [u8]);

impl<'a> Rd<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], String> {
        if self.0.len() < n {
            return Err(format!("truncated at {what}"));
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn u16(&mut self, what: &str) -> Result<u16, String> {
        let b = self.take(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    fn u32(&mut self, what: &str) -> Result<u32, String> {
        let mut a = [0u8; 4];
        a.copy_from_slice(self.take(4, what)?);
        Ok(u32::from_be_bytes(a))
    }
    fn u64(&mut self, what: &str) -> Result<u64, String> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8, what)?);
        Ok(u64::from_be_bytes(a))
    }
}

struct Parsed<'a> {
    header: Header,
    aad: &'a [u8],
    nonce: &'a [u8],
    ct: &'a [u8],
}

fn parse(bytes: &[u8]) -> Result<Parsed<'_>, String> {
    let mut r = Rd(bytes);
    let magic = r.take(4, "magic")?;
    let kind = Kind::from_magic(magic).ok_or_else(|| "bad magic".to_string())?;
    let format = r.u16("format")?;
    if format != FORMAT {
        return Err(format!("format {format} (this build reads {FORMAT})"));
    }
    let id_len = usize::from(r.u16("id length")?);
    if id_len == 0 || id_len > 255 {
        return Err(format!("id length {id_len}"));
    }
    let id = std::str::from_utf8(r.take(id_len, "id")?)
        .map_err(|_| "id is not UTF-8".to_string())?
        .to_string();
    let version = r.u64("version")?;
    let nonce = r.take(NONCE_LEN, "nonce")?;
    let ct_len = r.u32("ciphertext length")? as usize;
    if !(TAG_LEN..=MAX_PAYLOAD + TAG_LEN).contains(&ct_len) {
        return Err(format!("ciphertext length {ct_len}"));
    }
    let aad_len = bytes.len() - r.0.len();
    let ct = r.take(ct_len, "ciphertext")?;
    if !r.0.is_empty() {
        return Err(format!("{} trailing bytes", r.0.len()));
    }
    Ok(Parsed {
        header: Header { kind, id, version },
        aad: &bytes[..aad_len],
        nonce,
        ct,
    })
}

/// Reads the clear header only (no authentication: for reports).
pub(crate) fn peek(bytes: &[u8]) -> Result<Header, String> {
    parse(bytes).map(|p| p.header)
}

/// Parses and authenticates a blob; returns its header and payload.
pub(crate) fn open(
    master: &MasterKey,
    bytes: &[u8],
) -> Result<(Header, Zeroizing<Vec<u8>>), OpenError> {
    let p = parse(bytes).map_err(OpenError::Malformed)?;
    match cipher(master, p.header.kind, &p.header.id).decrypt(
        Nonce::from_slice(p.nonce),
        Payload {
            msg: p.ct,
            aad: p.aad,
        },
    ) {
        Ok(pt) => Ok((p.header, Zeroizing::new(pt))),
        Err(_) => Err(OpenError::Auth(p.header)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> MasterKey {
        MasterKey::from_bytes([3; 32])
    }

    #[test]
    fn round_trip_and_header() {
        let b = seal(&key(), Kind::State, "vm1", 7, b"state bytes").unwrap();
        let (h, pt) = open(&key(), &b).unwrap();
        assert_eq!(
            h,
            Header {
                kind: Kind::State,
                id: "vm1".into(),
                version: 7
            }
        );
        assert_eq!(&pt[..], b"state bytes");
        assert_eq!(peek(&b).unwrap().version, 7);
        // Random nonces: two seals of the same thing differ.
        assert_ne!(
            b,
            seal(&key(), Kind::State, "vm1", 7, b"state bytes").unwrap()
        );
    }

    #[test]
    fn every_flipped_byte_is_refused() {
        let b = seal(&key(), Kind::State, "vm1", 7, b"0123456789").unwrap();
        for i in 0..b.len() {
            let mut t = b.clone();
            t[i] ^= 0x01;
            assert!(open(&key(), &t).is_err(), "byte {i} flipped was accepted");
        }
        for n in 0..b.len() {
            assert!(open(&key(), &b[..n]).is_err(), "truncated to {n}");
        }
        let mut longer = b.clone();
        longer.push(0);
        assert!(matches!(
            open(&key(), &longer),
            Err(OpenError::Malformed(_))
        ));
    }

    #[test]
    fn other_key_kind_or_id_does_not_open() {
        let b = seal(&key(), Kind::State, "vm1", 1, b"x").unwrap();
        let other = MasterKey::from_bytes([4; 32]);
        assert!(matches!(open(&other, &b), Err(OpenError::Auth(_))));
        // Relabel as an export: same bytes, other key and AAD.
        let mut relabeled = b.clone();
        relabeled[..4].copy_from_slice(b"TCVX");
        assert!(matches!(open(&key(), &relabeled), Err(OpenError::Auth(_))));
        // Rename the id in the header (same length): refused.
        let mut renamed = b.clone();
        let pos = 8;
        assert_eq!(&renamed[pos..pos + 3], b"vm1");
        renamed[pos + 2] = b'2';
        assert!(matches!(open(&key(), &renamed), Err(OpenError::Auth(h)) if h.id == "vm2"));
    }

    #[test]
    fn bad_ids_and_formats() {
        assert!(seal(&key(), Kind::State, "", 1, b"x").is_err());
        let b = seal(&key(), Kind::State, "a", 1, b"x").unwrap();
        let mut f = b.clone();
        f[5] = 2;
        assert!(matches!(open(&key(), &f), Err(OpenError::Malformed(m)) if m.contains("format 2")));
    }
}
