//! The TPM 2.0 wire format (TPM 2.0 Library Part 2 §4–§10): big-endian
//! integers, size-prefixed buffers (TPM2B), counted lists (TPML) and
//! selector-driven unions (TPMU).
//!
//! Every structure implements [`Codec`]: `encode` appends to a `Vec<u8>`,
//! `decode` reads from a bounded [`Reader`] that can never read past its end,
//! so a hostile length field produces a [`WireError`], never a panic or an
//! out-of-bounds read. The error carries the TPM response code the spec
//! assigns to that kind of malformation, so the engine can answer it as-is.

mod primitives;
mod reader;

pub use primitives::{Tpm2b, Tpm2bBytes};
pub use reader::Reader;

use crate::rc::Rc;

/// Why bytes could not be turned into a structure. Each variant maps to the
/// response code the reference implementation returns for it (Part 2 §6.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The input ended before the structure did (TPM_RC_INSUFFICIENT).
    #[error("input too short")]
    Insufficient,
    /// A size field is larger than the structure allows (TPM_RC_SIZE).
    #[error("size field out of range")]
    Size,
    /// A value is outside the set the type allows (TPM_RC_VALUE).
    #[error("value out of range")]
    Value,
    /// A hash algorithm identifier is not an implemented hash (TPM_RC_HASH).
    #[error("unsupported hash algorithm")]
    Hash,
    /// A selector for a union names no member (TPM_RC_SELECTOR).
    #[error("bad union selector")]
    Selector,
    /// A structure tag is wrong (TPM_RC_TAG).
    #[error("bad structure tag")]
    Tag,
    /// An algorithm identifier is not implemented (TPM_RC_SYMMETRIC etc. are
    /// refined by callers; this is the generic TPM_RC_VALUE-class case).
    #[error("unsupported algorithm")]
    Algorithm,
    /// A handle is not of the type the field allows (TPM_RC_VALUE for handles).
    #[error("bad handle")]
    Handle,
    /// A list count exceeds the implementation maximum (TPM_RC_SIZE).
    #[error("list too long")]
    Count,
    /// Scheme not allowed (TPM_RC_SCHEME).
    #[error("bad scheme")]
    Scheme,
    /// Curve not implemented (TPM_RC_CURVE).
    #[error("bad curve")]
    Curve,
    /// Key size not implemented (TPM_RC_KEY_SIZE).
    #[error("bad key size")]
    KeySize,
    /// Symmetric algorithm or mode not allowed (TPM_RC_SYMMETRIC).
    #[error("bad symmetric definition")]
    Symmetric,
    /// Mode not allowed (TPM_RC_MODE).
    #[error("bad mode")]
    Mode,
    /// Type not allowed (TPM_RC_TYPE).
    #[error("bad type")]
    Type,
    /// Key derivation function not allowed (TPM_RC_KDF).
    #[error("bad KDF")]
    Kdf,
    /// A reserved bit of an attribute word is set (TPM_RC_RESERVED_BITS,
    /// Part 2 §8 "shall be zero" bits).
    #[error("reserved bits set")]
    ReservedBits,
}

impl WireError {
    /// The base (un-numbered) response code for this malformation.
    pub fn rc(self) -> Rc {
        match self {
            WireError::Insufficient => Rc::INSUFFICIENT,
            WireError::Size | WireError::Count => Rc::SIZE,
            WireError::Value | WireError::Algorithm | WireError::Handle => Rc::VALUE,
            WireError::Hash => Rc::HASH,
            WireError::Selector => Rc::SELECTOR,
            WireError::Tag => Rc::TAG,
            WireError::Scheme => Rc::SCHEME,
            WireError::Curve => Rc::CURVE,
            WireError::KeySize => Rc::KEY_SIZE,
            WireError::Symmetric => Rc::SYMMETRIC,
            WireError::Mode => Rc::MODE,
            WireError::Type => Rc::TYPE,
            WireError::Kdf => Rc::KDF,
            WireError::ReservedBits => Rc::RESERVED_BITS,
        }
    }
}

impl From<WireError> for Rc {
    fn from(e: WireError) -> Rc {
        e.rc()
    }
}

/// A TPM structure that can be marshalled and unmarshalled.
pub trait Codec: Sized {
    /// Appends the marshalled form to `out`.
    fn encode(&self, out: &mut Vec<u8>);
    /// Reads one value, consuming exactly its bytes.
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError>;

    /// Marshals into a fresh buffer.
    fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.encode(&mut v);
        v
    }

    /// Unmarshals from a complete buffer; trailing bytes are an error
    /// (TPM_RC_SIZE), as for a command's parameter area.
    fn from_bytes(bytes: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(bytes);
        let v = Self::decode(&mut r)?;
        if !r.is_empty() {
            return Err(WireError::Size);
        }
        Ok(v)
    }
}

/// Encodes a list with a u32 count (TPML_* convention).
pub fn encode_list_u32<T: Codec>(items: &[T], out: &mut Vec<u8>) {
    (items.len() as u32).encode(out);
    for i in items {
        i.encode(out);
    }
}

/// Decodes a list with a u32 count, refusing counts above `max` before
/// allocating anything (a hostile count must not reserve memory).
pub fn decode_list_u32<T: Codec>(r: &mut Reader<'_>, max: usize) -> Result<Vec<T>, WireError> {
    let n = u32::decode(r)? as usize;
    if n > max {
        return Err(WireError::Count);
    }
    let mut v = Vec::with_capacity(n.min(64));
    for _ in 0..n {
        v.push(T::decode(r)?);
    }
    Ok(v)
}
