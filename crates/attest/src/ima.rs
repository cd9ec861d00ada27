//! The Linux IMA measurement list (`binary_runtime_measurements`) and its
//! incremental verification against PCR 10.
//!
//! Record format (Linux security/integrity/ima/ima_fs.c,
//! `ima_measurements_show`; host byte order, little-endian on every
//! platform we attest):
//! `pcr u32 | template hash [20] (SHA-1) | name_len u32 | template name |
//! [data_len u32] | template data`. The data length is absent for the
//! legacy `ima` template, whose data is `file digest [20] | name_len u32 |
//! name` (fields shown without lengths, the name in the "old string"
//! format).
//!
//! Template hash (ima_calc_field_array_hash): for every template except
//! `ima` it is H(template data as listed) — the listed data is the field
//! array (u32 length + bytes per field), exactly what the kernel hashes.
//! For `ima` it is H(file digest \[20\] || name NUL-padded to 256 bytes).
//! The list only carries the SHA-1 hash; with a TPM 2.0 the kernel
//! (5.8+, "ima: calculate and extend PCR with digests in ima_template_entry")
//! extends each allocated bank with the same computation under that bank's
//! hash (banks the kernel has no hash for get the SHA-1 digest zero-padded),
//! so a verifier recomputes the SHA-256 (or SHA-384...) template hash from
//! the data. A violation (open-writers / ToMToU) is listed with an all-zero
//! template hash and extends all ones in every bank (ima_add_violation).
//!
//! Parsing is zero-copy and bounded: every length is checked against the
//! bytes left, nothing allocates per entry, and malformed input is an
//! [`ImaError`] with the byte offset, never a panic.

use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use tpm::crypto::HashAlg;

use crate::failure::hex;
use crate::pcrs::PcrValues;

/// The PCR IMA extends by default (CONFIG_IMA_MEASURE_PCR_IDX).
pub const IMA_PCR: u32 = 10;
/// Longest template name (TCG_EVENT_NAME_LEN_MAX).
pub const MAX_TEMPLATE_NAME: usize = 255;
/// Largest template data accepted (ima-buf entries carry certificates and
/// command lines; nothing legitimate comes close).
pub const MAX_TEMPLATE_DATA: usize = 1 << 20;
/// IMA_EVENT_NAME_LEN_MAX + 1: the `ima` template pads names to this.
const IMA_NAME_PAD: usize = 256;
const SHA1_LEN: usize = 20;

/// Why an IMA list could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ImaError {
    #[error(
        "IMA list truncated at offset {offset}: {what} needs {needed} bytes, {available} left"
    )]
    Truncated {
        offset: usize,
        what: &'static str,
        needed: usize,
        available: usize,
    },
    #[error(
        "IMA entry at offset {offset}: template name of {len} bytes (at most {MAX_TEMPLATE_NAME})"
    )]
    NameTooLong { offset: usize, len: usize },
    #[error("IMA entry at offset {offset}: template name is not printable ASCII")]
    BadName { offset: usize },
    #[error(
        "IMA entry at offset {offset}: template data of {len} bytes (at most {MAX_TEMPLATE_DATA})"
    )]
    DataTooLong { offset: usize, len: usize },
    #[error("IMA entry {entry}: template data field {field} is malformed")]
    BadField { entry: u64, field: usize },
}

/// The path of IMA's first entry, which records the boot PCRs.
pub const BOOT_AGGREGATE: &[u8] = b"boot_aggregate";

/// The `boot_aggregate` digest the kernel logs as IMA's first entry: the
/// hash, in `bank`, of the values of PCRs 0–7, and for banks other than
/// SHA-1 also PCRs 8–9 (the kernel command line and image in the usual
/// allocation), read when IMA starts (Linux
/// `security/integrity/ima/ima_crypto.c`, `ima_calc_boot_aggregate`; PCRs
/// 8–9 since Linux 5.8). Returns the highest PCR included with the digest,
/// or `None` when a value is not known (not quoted).
pub fn boot_aggregate(bank: HashAlg, pcrs: &PcrValues) -> Option<(u32, Vec<u8>)> {
    let last = if bank == HashAlg::Sha1 { 7 } else { 9 };
    let mut h = bank.hasher();
    for index in 0..=last {
        h.update(pcrs.get(bank, index)?);
    }
    Some((last, h.finish()))
}

/// One record of the list, borrowing from the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImaEntry<'a> {
    pub pcr: u32,
    /// The SHA-1 template hash as listed (all zero for a violation).
    pub template_hash: &'a [u8; SHA1_LEN],
    pub template_name: &'a str,
    /// For `ima`: digest\[20\] || u32 len || name; else the field array.
    pub template_data: &'a [u8],
}

/// The meaning of an entry's template data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImaEvent<'a> {
    /// Hash algorithm name of the file digest (`sha256`...), from the
    /// `d-ng` prefix; `sha1` for the `d` field of the `ima` template.
    pub digest_alg: &'a str,
    /// The file (or buffer) digest.
    pub digest: &'a [u8],
    /// The path (`n`/`n-ng`, without the trailing NUL), or the buffer's
    /// name for `ima-buf` (a keyring name, `kexec-cmdline`...).
    pub path: &'a [u8],
    /// `sig` of `ima-sig`/`ima-modsig` (may be empty).
    pub signature: Option<&'a [u8]>,
    /// `buf` of `ima-buf`.
    pub buf: Option<&'a [u8]>,
}

impl<'a> ImaEntry<'a> {
    /// A violation record (all-zero template hash).
    pub fn is_violation(&self) -> bool {
        self.template_hash.iter().all(|&b| b == 0)
    }

    /// The template hash this entry's data gives in `alg` — what the
    /// kernel extends into PCR 10 of that bank (all ones for a violation).
    pub fn template_digest(&self, alg: HashAlg) -> Vec<u8> {
        if self.is_violation() {
            return vec![0xff; alg.digest_size()];
        }
        let mut h = alg.hasher();
        if self.template_name == "ima" {
            // digest[20] || u32 len || name  →  H(digest || name padded to 256)
            let digest = self.template_data.get(..SHA1_LEN).unwrap_or(&[]);
            let name = self.template_data.get(SHA1_LEN + 4..).unwrap_or(&[]);
            let name = name.get(..IMA_NAME_PAD).unwrap_or(name);
            h.update(digest);
            h.update(name);
            if name.len() < IMA_NAME_PAD {
                h.update(&[0u8; IMA_NAME_PAD][..IMA_NAME_PAD - name.len()]);
            }
        } else {
            h.update(self.template_data);
        }
        h.finish()
    }

    /// Whether the listed SHA-1 template hash is that of the data
    /// (violations are accepted as they are: their data is not hashed).
    pub fn template_hash_ok(&self) -> bool {
        self.is_violation()
            || bool::from(
                self.template_digest(HashAlg::Sha1)
                    .as_slice()
                    .ct_eq(self.template_hash.as_slice()),
            )
    }

    /// Decodes the template data of the templates the kernel defines
    /// (`ima`, `ima-ng`, `ima-ngv2`, `ima-sig`, `ima-sigv2`, `ima-buf`,
    /// `ima-modsig`). `None` for a template it does not know.
    pub fn event(&self, entry: u64) -> Option<Result<ImaEvent<'a>, ImaError>> {
        let bad = |field| ImaError::BadField { entry, field };
        if self.template_name == "ima" {
            let (digest, rest) = match self.template_data.split_at_checked(SHA1_LEN) {
                Some(x) => x,
                None => return Some(Err(bad(0))),
            };
            let path = match field(rest) {
                Some((p, [])) => p,
                _ => return Some(Err(bad(1))),
            };
            return Some(Ok(ImaEvent {
                digest_alg: "sha1",
                digest,
                path: trim_nul(path),
                signature: None,
                buf: None,
            }));
        }
        let kind = match self.template_name {
            "ima-ng" | "ima-ngv2" => 0,
            "ima-sig" | "ima-sigv2" | "ima-modsig" => 1,
            "ima-buf" => 2,
            _ => return None,
        };
        Some(decode_fields(self.template_data, kind, entry))
    }
}

fn decode_fields(data: &[u8], kind: u8, entry: u64) -> Result<ImaEvent<'_>, ImaError> {
    let bad = |field| ImaError::BadField { entry, field };
    let (dng, rest) = field(data).ok_or(bad(0))?;
    let (name, rest) = field(rest).ok_or(bad(1))?;
    let (digest_alg, digest) = split_dng(dng).ok_or(bad(0))?;
    let mut ev = ImaEvent {
        digest_alg,
        digest,
        path: trim_nul(name),
        signature: None,
        buf: None,
    };
    let rest = match kind {
        1 => {
            // ima-sig: sig; ima-modsig adds d-modsig and modsig.
            let (sig, mut rest) = field(rest).ok_or(bad(2))?;
            ev.signature = Some(sig);
            let mut n = 3;
            while !rest.is_empty() {
                rest = field(rest).ok_or(bad(n))?.1;
                n += 1;
            }
            rest
        }
        2 => {
            let (buf, rest) = field(rest).ok_or(bad(2))?;
            ev.buf = Some(buf);
            rest
        }
        _ => rest,
    };
    if !rest.is_empty() {
        return Err(bad(3));
    }
    Ok(ev)
}

/// `d-ng`: `"<alg>:\0" digest` (ima-ngv2 `d-ngv2`: `"<type>:<alg>:\0"`);
/// without a prefix the digest is SHA-1 or MD5 (old kernels), named by size.
fn split_dng(d: &[u8]) -> Option<(&str, &[u8])> {
    match d.iter().position(|&b| b == 0) {
        Some(nul) => {
            let prefix = std::str::from_utf8(d.get(..nul)?).ok()?;
            let prefix = prefix.strip_suffix(':')?;
            let alg = prefix.rsplit(':').next().unwrap_or(prefix);
            Some((alg, d.get(nul + 1..)?))
        }
        None => match d.len() {
            20 => Some(("sha1", d)),
            16 => Some(("md5", d)),
            _ => None,
        },
    }
}

fn trim_nul(b: &[u8]) -> &[u8] {
    b.strip_suffix(&[0]).unwrap_or(b)
}

/// One `u32 length | bytes` field.
fn field(b: &[u8]) -> Option<(&[u8], &[u8])> {
    let (len, rest) = b.split_first_chunk::<4>()?;
    let n = usize::try_from(u32::from_le_bytes(*len)).ok()?;
    rest.split_at_checked(n)
}

/// A zero-copy iterator over the records of a list; stops after the first
/// error.
pub struct ImaLog<'a> {
    bytes: &'a [u8],
    pos: usize,
    failed: bool,
}

impl<'a> ImaLog<'a> {
    pub fn new(bytes: &'a [u8]) -> ImaLog<'a> {
        ImaLog {
            bytes,
            pos: 0,
            failed: false,
        }
    }

    /// Parses every record (for tools and tests; the verifier iterates).
    pub fn parse(bytes: &'a [u8]) -> Result<Vec<ImaEntry<'a>>, ImaError> {
        ImaLog::new(bytes).collect()
    }

    /// Byte offset of the next record.
    pub fn offset(&self) -> usize {
        self.pos
    }

    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], ImaError> {
        let rest = self.bytes.get(self.pos..).unwrap_or(&[]);
        let out = rest.get(..n).ok_or(ImaError::Truncated {
            offset: self.pos,
            what,
            needed: n,
            available: rest.len(),
        })?;
        self.pos += n;
        Ok(out)
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, ImaError> {
        let b = self.take(4, what)?;
        let mut a = [0u8; 4];
        a.copy_from_slice(b);
        Ok(u32::from_le_bytes(a))
    }

    fn next_entry(&mut self) -> Result<ImaEntry<'a>, ImaError> {
        let start = self.pos;
        let pcr = self.u32("pcr")?;
        let template_hash: &[u8; SHA1_LEN] = self
            .take(SHA1_LEN, "template hash")?
            .try_into()
            .map_err(|_| ImaError::BadName { offset: start })?;
        let name_len = usize::try_from(self.u32("template name length")?).unwrap_or(usize::MAX);
        if name_len > MAX_TEMPLATE_NAME || name_len == 0 {
            return Err(ImaError::NameTooLong {
                offset: start,
                len: name_len,
            });
        }
        let name = self.take(name_len, "template name")?;
        if !name.iter().all(|b| b.is_ascii_graphic()) {
            return Err(ImaError::BadName { offset: start });
        }
        let template_name =
            std::str::from_utf8(name).map_err(|_| ImaError::BadName { offset: start })?;
        let template_data = if template_name == "ima" {
            let data_start = self.pos;
            self.take(SHA1_LEN, "ima file digest")?;
            let n = usize::try_from(self.u32("ima name length")?).unwrap_or(usize::MAX);
            if n > MAX_TEMPLATE_DATA {
                return Err(ImaError::DataTooLong {
                    offset: start,
                    len: n,
                });
            }
            self.take(n, "ima file name")?;
            self.bytes.get(data_start..self.pos).unwrap_or(&[])
        } else {
            let n = usize::try_from(self.u32("template data length")?).unwrap_or(usize::MAX);
            if n > MAX_TEMPLATE_DATA {
                return Err(ImaError::DataTooLong {
                    offset: start,
                    len: n,
                });
            }
            self.take(n, "template data")?
        };
        Ok(ImaEntry {
            pcr,
            template_hash,
            template_name,
            template_data,
        })
    }
}

impl<'a> Iterator for ImaLog<'a> {
    type Item = Result<ImaEntry<'a>, ImaError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pos >= self.bytes.len() {
            return None;
        }
        let r = self.next_entry();
        self.failed = r.is_err();
        Some(r)
    }
}

/// Appends a record to `out` in the kernel's format (tests, simulated
/// agents, fuzz seeds). `template_data` is the data as listed (for `ima`:
/// digest\[20\] || u32 len || name). The template hash is computed unless
/// `violation`, which writes the all-zero hash.
pub fn write_entry(
    out: &mut Vec<u8>,
    pcr: u32,
    template_name: &str,
    template_data: &[u8],
    violation: bool,
) {
    let entry = ImaEntry {
        pcr,
        template_hash: &[0; SHA1_LEN],
        template_name,
        template_data,
    };
    let hash = if violation {
        vec![0; SHA1_LEN]
    } else {
        let mut e = entry;
        let nonzero = [1u8; SHA1_LEN];
        e.template_hash = &nonzero;
        e.template_digest(HashAlg::Sha1)
    };
    out.extend_from_slice(&pcr.to_le_bytes());
    out.extend_from_slice(&hash);
    out.extend_from_slice(&len32(template_name.len()).to_le_bytes());
    out.extend_from_slice(template_name.as_bytes());
    if template_name != "ima" {
        out.extend_from_slice(&len32(template_data.len()).to_le_bytes());
    }
    out.extend_from_slice(template_data);
}

/// The `ima-ng` template data for a file: `d-ng` ("alg:\0" || digest) and
/// `n-ng` (path with its NUL).
pub fn ima_ng_data(digest_alg: &str, digest: &[u8], path: &str) -> Vec<u8> {
    let mut d = Vec::with_capacity(digest_alg.len() + 2 + digest.len());
    d.extend_from_slice(digest_alg.as_bytes());
    d.extend_from_slice(b":\0");
    d.extend_from_slice(digest);
    let mut n = path.as_bytes().to_vec();
    n.push(0);
    let mut out = Vec::new();
    for f in [&d, &n] {
        out.extend_from_slice(&len32(f.len()).to_le_bytes());
        out.extend_from_slice(f);
    }
    out
}

/// The `ima-sig` template data: `ima-ng`'s fields plus `sig`.
pub fn ima_sig_data(digest_alg: &str, digest: &[u8], path: &str, sig: &[u8]) -> Vec<u8> {
    let mut out = ima_ng_data(digest_alg, digest, path);
    out.extend_from_slice(&len32(sig.len()).to_le_bytes());
    out.extend_from_slice(sig);
    out
}

/// The `ima-buf` template data: `d-ng` of the buffer, its name, the buffer.
pub fn ima_buf_data(digest_alg: &str, name: &str, buf: &[u8]) -> Vec<u8> {
    let alg = HashAlg::from_name(digest_alg).unwrap_or(HashAlg::Sha256);
    let mut out = ima_ng_data(digest_alg, &alg.digest(&[buf]), name);
    out.extend_from_slice(&len32(buf.len()).to_le_bytes());
    out.extend_from_slice(buf);
    out
}

/// The legacy `ima` template data: SHA-1 file digest, then the name.
pub fn ima_legacy_data(digest: &[u8; SHA1_LEN], path: &str) -> Vec<u8> {
    let mut out = digest.to_vec();
    out.extend_from_slice(&len32(path.len()).to_le_bytes());
    out.extend_from_slice(path.as_bytes());
    out
}

fn len32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The running PCR 10 value in one bank.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImaBank {
    /// Bank name (`sha1`, `sha256`...).
    pub bank: String,
    /// PCR 10 after the entries verified so far, lower-case hex.
    pub value: String,
}

/// What a verifier remembers between appraisals of one boot: how many
/// entries it has verified and the PCR 10 value they give in each bank,
/// so the next evidence only carries (and costs) the new entries.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImaState {
    /// Entries verified (the next expected entry index).
    pub count: u64,
    /// Running PCR 10 per bank; empty means all banks still at zero.
    #[serde(default)]
    pub banks: Vec<ImaBank>,
}

impl ImaState {
    /// The running value of `bank` (zeros before any entry).
    pub fn value(&self, bank: HashAlg) -> Vec<u8> {
        self.banks
            .iter()
            .find(|b| b.bank == bank.name())
            .and_then(|b| crate::pcrs::hex_decode(&b.value))
            .filter(|v| v.len() == bank.digest_size())
            .unwrap_or_else(|| vec![0; bank.digest_size()])
    }

    fn set(&mut self, bank: HashAlg, value: &[u8]) {
        let v = hex(value);
        match self.banks.iter_mut().find(|b| b.bank == bank.name()) {
            Some(b) => b.value = v,
            None => self.banks.push(ImaBank {
                bank: bank.name().into(),
                value: v,
            }),
        }
    }
}

/// Result of extending an [`ImaState`] with new entries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImaProgress {
    /// The state after the accepted entries.
    pub state: ImaState,
    /// Entries accepted from the slice (the rest came after the quote).
    pub accepted: u64,
}

/// Why new IMA entries could not be accepted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ImaCheckError {
    #[error(transparent)]
    Parse(#[from] ImaError),
    #[error("IMA entry {entry} ({path}): template hash does not match its template data")]
    TemplateHash { entry: u64, path: String },
    #[error("no prefix of the IMA list replays to the quoted PCR {pcr} ({bank})")]
    NoMatch { bank: String, pcr: u32 },
}

/// A best-effort printable path of an entry for messages.
pub fn display_path(e: &ImaEntry<'_>, index: u64) -> String {
    match e.event(index) {
        Some(Ok(ev)) => String::from_utf8_lossy(ev.path).into_owned(),
        _ => format!("template {}", e.template_name),
    }
}

impl ImaState {
    /// Extends this state with the entries of `list` (which must start at
    /// entry `self.count`), checking each template hash once, and accepts
    /// the shortest prefix after which the running PCR `pcr` equals
    /// `quoted` in every bank of `quoted` (entries appended after the
    /// quote are left for the next round; the agent re-sends them).
    /// `visit(index, entry)` is called for every accepted entry, in order,
    /// after its hash checked (policy evaluation); its errors stop nothing
    /// here — the caller collects them.
    pub fn extend_to_quote<'a, F>(
        &self,
        list: &'a [u8],
        pcr: u32,
        quoted: &[(HashAlg, &[u8])],
        mut visit: F,
    ) -> Result<ImaProgress, ImaCheckError>
    where
        F: FnMut(u64, &ImaEntry<'a>),
    {
        let mut running: Vec<(HashAlg, Vec<u8>)> =
            quoted.iter().map(|(b, _)| (*b, self.value(*b))).collect();
        let matches = |running: &[(HashAlg, Vec<u8>)]| {
            running
                .iter()
                .zip(quoted)
                .all(|((_, v), (_, q))| bool::from(v.as_slice().ct_eq(q)))
        };
        let mut pending: Vec<(u64, ImaEntry<'a>)> = Vec::new();
        let finish = |running: &[(HashAlg, Vec<u8>)], accepted: u64| {
            let mut state = self.clone();
            state.count = self.count.saturating_add(accepted);
            for (b, v) in running {
                state.set(*b, v);
            }
            ImaProgress { state, accepted }
        };
        if matches(&running) {
            return Ok(finish(&running, 0));
        }
        for (n, entry) in ImaLog::new(list).enumerate() {
            let entry = entry?;
            let index = self.count.saturating_add(n as u64);
            if !entry.template_hash_ok() {
                return Err(ImaCheckError::TemplateHash {
                    entry: index,
                    path: display_path(&entry, index),
                });
            }
            pending.push((index, entry));
            if entry.pcr != pcr {
                continue;
            }
            for (bank, value) in running.iter_mut() {
                let d = entry.template_digest(*bank);
                *value = bank.digest(&[value, &d]);
            }
            if matches(&running) {
                for (i, e) in &pending {
                    visit(*i, e);
                }
                return Ok(finish(&running, n as u64 + 1));
            }
        }
        let bank = quoted.first().map(|(b, _)| b.name()).unwrap_or("sha256");
        Err(ImaCheckError::NoMatch {
            bank: bank.into(),
            pcr,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn extend(alg: HashAlg, v: &[u8], d: &[u8]) -> Vec<u8> {
        alg.digest(&[v, d])
    }

    #[test]
    fn ima_ng_entry_round_trips_and_hashes_like_the_kernel() {
        let data = ima_ng_data("sha256", &[0xaa; 32], "/usr/bin/true");
        let mut list = Vec::new();
        write_entry(&mut list, 10, "ima-ng", &data, false);
        let e = ImaLog::parse(&list).unwrap();
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].template_name, "ima-ng");
        assert_eq!(
            e[0].template_hash.as_slice(),
            HashAlg::Sha1.digest(&[&data])
        );
        assert!(e[0].template_hash_ok());
        let ev = e[0].event(0).unwrap().unwrap();
        assert_eq!(ev.digest_alg, "sha256");
        assert_eq!(ev.digest, &[0xaa; 32]);
        assert_eq!(ev.path, b"/usr/bin/true");
        assert_eq!(
            e[0].template_digest(HashAlg::Sha256),
            HashAlg::Sha256.digest(&[&data])
        );
    }

    #[test]
    fn legacy_ima_template_pads_the_name_to_256() {
        let data = ima_legacy_data(&[5; 20], "boot_aggregate");
        let mut list = Vec::new();
        write_entry(&mut list, 10, "ima", &data, false);
        let e = ImaLog::parse(&list).unwrap();
        let mut padded = b"boot_aggregate".to_vec();
        padded.resize(256, 0);
        assert_eq!(
            e[0].template_hash.as_slice(),
            HashAlg::Sha1.digest(&[&[5; 20], &padded])
        );
        assert_eq!(e[0].event(0).unwrap().unwrap().path, b"boot_aggregate");
    }

    #[test]
    fn violations_extend_all_ones_and_truncation_is_an_error() {
        let data = ima_ng_data("sha256", &[0; 32], "/tmp/x");
        let mut list = Vec::new();
        write_entry(&mut list, 10, "ima-ng", &data, true);
        let e = ImaLog::parse(&list).unwrap();
        assert!(e[0].is_violation());
        assert_eq!(e[0].template_digest(HashAlg::Sha256), vec![0xff; 32]);
        for cut in 1..list.len() {
            assert!(ImaLog::parse(&list[..cut]).is_err(), "cut {cut}");
        }
    }

    #[test]
    fn incremental_state_accepts_the_prefix_that_matches_the_quote() {
        let mut list = Vec::new();
        let mut pcr = vec![0u8; 32];
        let mut values = Vec::new();
        for i in 0..5u8 {
            let data = ima_ng_data("sha256", &[i; 32], &format!("/bin/{i}"));
            write_entry(&mut list, 10, "ima-ng", &data, false);
            pcr = extend(HashAlg::Sha256, &pcr, &HashAlg::Sha256.digest(&[&data]));
            values.push(pcr.clone());
        }
        let s = ImaState::default();
        // Quote taken after 3 entries: 3 accepted, 2 left.
        let mut seen = Vec::new();
        let p = s
            .extend_to_quote(&list, 10, &[(HashAlg::Sha256, &values[2])], |i, _| {
                seen.push(i)
            })
            .unwrap();
        assert_eq!(p.accepted, 3);
        assert_eq!(p.state.count, 3);
        assert_eq!(seen, vec![0, 1, 2]);
        assert_eq!(p.state.value(HashAlg::Sha256), values[2]);
        // The rest, from entry 3.
        let rest_off = {
            let mut it = ImaLog::new(&list);
            for _ in 0..3 {
                it.next();
            }
            it.offset()
        };
        let p2 = p
            .state
            .extend_to_quote(
                &list[rest_off..],
                10,
                &[(HashAlg::Sha256, &values[4])],
                |_, _| {},
            )
            .unwrap();
        assert_eq!(p2.state.count, 5);
        // A PCR value the list never reaches fails.
        assert!(matches!(
            s.extend_to_quote(&list, 10, &[(HashAlg::Sha256, &[9; 32])], |_, _| {}),
            Err(ImaCheckError::NoMatch { .. })
        ));
    }
}
