use super::{Codec, Reader, WireError};
use zeroize::Zeroize;

impl Codec for u8 {
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(*self);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        r.u8()
    }
}

impl Codec for u16 {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_be_bytes());
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        r.u16()
    }
}

impl Codec for u32 {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_be_bytes());
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        r.u32()
    }
}

impl Codec for u64 {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_be_bytes());
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        r.u64()
    }
}

impl Codec for i32 {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_be_bytes());
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(r.u32()? as i32)
    }
}

/// TPMI_YES_NO (Part 2 §9.2): only 0 and 1 are valid.
impl Codec for bool {
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(u8::from(*self));
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        match r.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(WireError::Value),
        }
    }
}

/// A size-prefixed byte buffer (TPM2B, Part 2 §10.4) whose capacity is the
/// const `MAX`: a larger size field is TPM_RC_SIZE, as the spec's
/// unmarshalling code requires, and is refused before any allocation.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Tpm2b<const MAX: usize>(pub Vec<u8>);

impl<const MAX: usize> Tpm2b<MAX> {
    pub fn new(bytes: impl Into<Vec<u8>>) -> Result<Self, WireError> {
        let v = bytes.into();
        if v.len() > MAX {
            return Err(WireError::Size);
        }
        Ok(Tpm2b(v))
    }
    pub fn empty() -> Self {
        Tpm2b(Vec::new())
    }
    pub fn as_slice(&self) -> &[u8] {
        &self.0
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<const MAX: usize> std::fmt::Debug for Tpm2b<MAX> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tpm2b(")?;
        for b in &self.0 {
            write!(f, "{b:02x}")?;
        }
        write!(f, ")")
    }
}

impl<const MAX: usize> Codec for Tpm2b<MAX> {
    fn encode(&self, out: &mut Vec<u8>) {
        (self.0.len() as u16).encode(out);
        out.extend_from_slice(&self.0);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let n = r.u16()? as usize;
        if n > MAX {
            return Err(WireError::Size);
        }
        Ok(Tpm2b(r.take(n)?.to_vec()))
    }
}

/// A TPM2B holding secret bytes (auth values, sensitive data): zeroized on
/// drop and never printed.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Tpm2bBytes<const MAX: usize>(pub Vec<u8>);

impl<const MAX: usize> Drop for Tpm2bBytes<MAX> {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl<const MAX: usize> std::fmt::Debug for Tpm2bBytes<MAX> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tpm2bBytes(<{} secret bytes>)", self.0.len())
    }
}

impl<const MAX: usize> Tpm2bBytes<MAX> {
    pub fn as_slice(&self) -> &[u8] {
        &self.0
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<const MAX: usize> Codec for Tpm2bBytes<MAX> {
    fn encode(&self, out: &mut Vec<u8>) {
        (self.0.len() as u16).encode(out);
        out.extend_from_slice(&self.0);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let n = r.u16()? as usize;
        if n > MAX {
            return Err(WireError::Size);
        }
        Ok(Tpm2bBytes(r.take(n)?.to_vec()))
    }
}
