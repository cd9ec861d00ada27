//! A bounded little-endian reader over the event log bytes.
//!
//! The event log is UEFI data, so its integers are little-endian (TCG PC
//! Client Platform Firmware Profile v1.05 §10.2, "all fields are in
//! little-endian byte order"), unlike the TPM wire format. Every read checks
//! the remaining length first and reports the offset where the log ended.

use super::EventLogError;

pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, pos: 0 }
    }

    pub(crate) fn offset(&self) -> usize {
        self.pos
    }

    pub(crate) fn remaining(&self) -> &'a [u8] {
        self.bytes.get(self.pos..).unwrap_or(&[])
    }

    pub(crate) fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], EventLogError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.bytes.len())
            .ok_or(EventLogError::Truncated {
                offset: self.pos,
                what,
                needed: n,
                available: self.bytes.len().saturating_sub(self.pos),
            })?;
        let out = self.bytes.get(self.pos..end).unwrap_or(&[]);
        self.pos = end;
        Ok(out)
    }

    pub(crate) fn u8(&mut self, what: &'static str) -> Result<u8, EventLogError> {
        Ok(self.take(1, what)?.first().copied().unwrap_or(0))
    }

    pub(crate) fn u16(&mut self, what: &'static str) -> Result<u16, EventLogError> {
        let b = self.take(2, what)?;
        let mut a = [0u8; 2];
        a.copy_from_slice(b);
        Ok(u16::from_le_bytes(a))
    }

    pub(crate) fn u32(&mut self, what: &'static str) -> Result<u32, EventLogError> {
        let b = self.take(4, what)?;
        let mut a = [0u8; 4];
        a.copy_from_slice(b);
        Ok(u32::from_le_bytes(a))
    }
}
