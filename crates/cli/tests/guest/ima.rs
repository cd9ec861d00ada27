//! The guest kernel's IMA measurement list, just enough to account for PCR
//! 10: the firmware log covers PCRs 0–9, IMA extends PCR 10 with its
//! `boot_aggregate` (a digest of PCRs 0–9) and whatever its policy measures.
//!
//! Format of `binary_runtime_measurements` (Linux security/integrity/ima/
//! ima_fs.c, `ima_measurements_show`; host byte order, x86 = little-endian):
//! pcr u32, SHA-1 template digest [20], template name (u32 length + bytes),
//! template data (u32 length + bytes). For `ima-ng`/`ima-sig` the data is a
//! list of (u32 length, bytes) fields: `d-ng` (`"<alg>:\0"` + file digest),
//! `n-ng` (NUL-terminated name), and for `ima-sig` the signature.
//! In a SHA-256 bank each entry extends SHA-256(template data)
//! (ima_calc_field_array_hash); a violation (all-zero SHA-1 digest) extends
//! all ones (ima_add_violation).

use sha2::{Digest, Sha256};

#[derive(Debug)]
pub struct Entry {
    pub pcr: u32,
    pub template_name: String,
    pub template_data: Vec<u8>,
    pub violation: bool,
}

impl Entry {
    /// The template's fields (each a u32 length + bytes).
    pub fn fields(&self) -> Result<Vec<Vec<u8>>, String> {
        let mut r = Cursor(&self.template_data);
        let mut out = Vec::new();
        while !r.0.is_empty() {
            let n = r.u32()? as usize;
            out.push(r.take(n)?.to_vec());
        }
        Ok(out)
    }
}

struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if n > self.0.len() {
            return Err(format!(
                "IMA log truncated: need {n}, have {}",
                self.0.len()
            ));
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn u32(&mut self) -> Result<u32, String> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
}

pub fn parse(bytes: &[u8]) -> Result<Vec<Entry>, String> {
    let mut r = Cursor(bytes);
    let mut out = Vec::new();
    while !r.0.is_empty() {
        let pcr = r.u32()?;
        let sha1 = r.take(20)?;
        let name_len = r.u32()? as usize;
        let template_name = String::from_utf8_lossy(r.take(name_len)?).into_owned();
        let data_len = r.u32()? as usize;
        let template_data = r.take(data_len)?.to_vec();
        out.push(Entry {
            pcr,
            template_name,
            template_data,
            violation: sha1.iter().all(|&b| b == 0),
        });
    }
    Ok(out)
}

/// PCR `pcr`'s SHA-256 value after the entries that extend it.
pub fn replay_sha256(entries: &[Entry], pcr: u32) -> Vec<u8> {
    let mut v = vec![0u8; 32];
    for e in entries.iter().filter(|e| e.pcr == pcr) {
        let d = if e.violation {
            vec![0xFF; 32]
        } else {
            Sha256::digest(&e.template_data).to_vec()
        };
        v = Sha256::new()
            .chain_update(&v)
            .chain_update(&d)
            .finalize()
            .to_vec();
    }
    v
}
