//! Length-prefixed fields of this TPM's private encodings (state blobs,
//! saved session contexts). Private to this implementation — TPM 2.0 leaves
//! the format of saved state to the vendor (Part 1 §30.3) — but decoded
//! from bytes that may be corrupt, so every length is bounded.

use crate::wire::{Codec, Reader, WireError};

/// A byte string of at most 65,535 octets: u16 length, then the bytes.
pub(crate) fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    (b.len() as u16).encode(out);
    out.extend_from_slice(b);
}

/// An optional byte string: a presence flag, then [`put_bytes`].
pub(crate) fn put_opt_bytes(out: &mut Vec<u8>, b: Option<&[u8]>) {
    match b {
        None => out.push(0),
        Some(b) => {
            out.push(1);
            put_bytes(out, b);
        }
    }
}

/// Reads a [`put_bytes`] field longer than `max` as an error.
pub(crate) fn get_bytes(r: &mut Reader<'_>, max: usize) -> Result<Vec<u8>, WireError> {
    let n = usize::from(r.u16()?);
    if n > max {
        return Err(WireError::Size);
    }
    Ok(r.take(n)?.to_vec())
}

/// A boolean octet: 0 or 1, anything else is corrupt.
pub(crate) fn get_flag(r: &mut Reader<'_>) -> Result<bool, WireError> {
    match r.u8()? {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(WireError::Value),
    }
}

/// Reads a [`put_opt_bytes`] field.
pub(crate) fn get_opt_bytes(r: &mut Reader<'_>, max: usize) -> Result<Option<Vec<u8>>, WireError> {
    Ok(if get_flag(r)? {
        Some(get_bytes(r, max)?)
    } else {
        None
    })
}
