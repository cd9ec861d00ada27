//! TPM2B wrappers of structures (Part 2 §4.12 "sized structures"): a u16
//! size followed by one marshalled TPMS/TPMT. The reference unmarshallers
//! (e.g. TPM2B_PUBLIC_Unmarshal) refuse a zero size where the structure is
//! mandatory, then unmarshal the structure and require that it consumed
//! exactly the declared size; both failures are TPM_RC_SIZE.

use crate::wire::{Reader, WireError};

/// Marshals `f`'s output behind its u16 size.
pub(crate) fn encode_sized(out: &mut Vec<u8>, f: impl FnOnce(&mut Vec<u8>)) {
    let at = out.len();
    out.extend_from_slice(&[0, 0]);
    f(out);
    // The wrapped structures are bounded far below 64 KiB by their types.
    let n = (out.len() - at - 2) as u16;
    if let Some(s) = out.get_mut(at..at + 2) {
        s.copy_from_slice(&n.to_be_bytes());
    }
}

/// Unmarshals a mandatory sized structure: size 0 is TPM_RC_SIZE.
pub(crate) fn decode_sized<'a, T>(
    r: &mut Reader<'a>,
    f: impl FnOnce(&mut Reader<'a>) -> Result<T, WireError>,
) -> Result<T, WireError> {
    match decode_sized_opt(r, f)? {
        Some(v) => Ok(v),
        None => Err(WireError::Size),
    }
}

/// Unmarshals a sized structure that may be absent (size 0 → `None`), as
/// TPM2B_SENSITIVE in TPM2_LoadExternal.
///
/// Like the reference code, the structure is unmarshalled from the whole
/// remaining input, not from the declared span: a structure that runs past
/// the declared size but not past the input is TPM_RC_SIZE, one that runs
/// past the input is TPM_RC_INSUFFICIENT.
pub(crate) fn decode_sized_opt<'a, T>(
    r: &mut Reader<'a>,
    f: impl FnOnce(&mut Reader<'a>) -> Result<T, WireError>,
) -> Result<Option<T>, WireError> {
    let n = r.u16()? as usize;
    if n == 0 {
        return Ok(None);
    }
    let mut inner = r.clone();
    let start = inner.position();
    let v = f(&mut inner)?;
    if inner.position() - start != n {
        return Err(WireError::Size);
    }
    r.take(n)?;
    Ok(Some(v))
}
