//! Entry boundaries of the IMA measurement list in its binary form
//! (`/sys/kernel/security/ima/binary_runtime_measurements`, Linux
//! `ima_fs.c` ima_measurements_show): per entry, in the host's byte order,
//! PCR index (u32), template digest (20 octets, SHA-1), template name
//! length (u32) and name, then the template data length (u32) and data —
//! except for the original `ima` template, whose data has a fixed layout
//! and no length field (SHA-1 file digest, then a u32-length file name).
//!
//! The agent only needs entry boundaries (to send the list from the entry
//! the verifier asks for), found with `attest::ima`'s parser; the verifier
//! checks the entries.

use attest::ima::{ImaError, ImaLog};

/// Why the list could not be walked.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("IMA measurement list entry {index} at byte {offset}: {reason}")]
pub struct ImaWalkError {
    pub index: u64,
    pub offset: usize,
    pub reason: String,
}

/// Walks the complete entries of `data` with `attest::ima`'s bounded
/// parser, calling `each(index, end_offset)` after each; a trailing
/// partial entry (the kernel appended while we read) ends the walk.
fn walk(data: &[u8], mut each: impl FnMut(u64, usize)) -> Result<(u64, usize), ImaWalkError> {
    let mut log = ImaLog::new(data);
    let mut at = 0usize;
    let mut n = 0u64;
    while at < data.len() {
        match log.next() {
            Some(Ok(_)) => {
                at = log.offset();
                n += 1;
                each(n, at);
            }
            None | Some(Err(ImaError::Truncated { .. })) => break,
            Some(Err(e)) => {
                return Err(ImaWalkError {
                    index: n,
                    offset: at,
                    reason: e.to_string(),
                })
            }
        }
    }
    Ok((n, at))
}

/// The byte offset of entry `skip` (0-based) in `data` and the byte length
/// of the complete entries from there on; a trailing partial entry is left
/// out. `skip` beyond the end is an error: the list shrank, so this is
/// not the list the verifier saw (a reboot the verifier has not noticed
/// yet); the caller then sends the whole list.
pub fn slice_from(data: &[u8], skip: u64) -> Result<(usize, usize), ImaWalkError> {
    let mut start = (skip == 0).then_some(0usize);
    let (n, end) = walk(data, |i, at| {
        if i == skip {
            start = Some(at);
        }
    })?;
    match start {
        Some(s) => Ok((s, end - s)),
        None => Err(ImaWalkError {
            index: n,
            offset: end,
            reason: "the list has fewer entries than the verifier already verified".into(),
        }),
    }
}

/// The number of complete entries in `data`.
pub fn count(data: &[u8]) -> Result<u64, ImaWalkError> {
    walk(data, |_, _| {}).map(|(n, _)| n)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// One ima-ng entry for `path` (digest fields are arbitrary here).
    pub(crate) fn ima_ng_entry(path: &str) -> Vec<u8> {
        let mut data = Vec::new();
        let algo = b"sha256:\0";
        data.extend_from_slice(&((algo.len() + 32) as u32).to_ne_bytes());
        data.extend_from_slice(algo);
        data.extend_from_slice(&[0x11; 32]);
        let name = [path.as_bytes(), b"\0"].concat();
        data.extend_from_slice(&(name.len() as u32).to_ne_bytes());
        data.extend_from_slice(&name);
        let mut e = Vec::new();
        e.extend_from_slice(&10u32.to_ne_bytes());
        e.extend_from_slice(&[0x22; 20]);
        e.extend_from_slice(&6u32.to_ne_bytes());
        e.extend_from_slice(b"ima-ng");
        e.extend_from_slice(&(data.len() as u32).to_ne_bytes());
        e.extend_from_slice(&data);
        e
    }

    fn ima_entry(path: &str) -> Vec<u8> {
        let mut e = Vec::new();
        e.extend_from_slice(&10u32.to_ne_bytes());
        e.extend_from_slice(&[0x22; 20]);
        e.extend_from_slice(&3u32.to_ne_bytes());
        e.extend_from_slice(b"ima");
        e.extend_from_slice(&[0x33; 20]);
        e.extend_from_slice(&(path.len() as u32).to_ne_bytes());
        e.extend_from_slice(path.as_bytes());
        e
    }

    #[test]
    fn slices_from_an_entry_and_drops_a_partial_tail() {
        let a = ima_ng_entry("boot_aggregate");
        let b = ima_entry("/usr/bin/old");
        let c = ima_ng_entry("/usr/bin/x");
        let list = [a.clone(), b.clone(), c.clone()].concat();
        assert_eq!(count(&list), Ok(3));
        assert_eq!(slice_from(&list, 0), Ok((0, list.len())));
        assert_eq!(slice_from(&list, 1), Ok((a.len(), b.len() + c.len())));
        assert_eq!(slice_from(&list, 3), Ok((list.len(), 0)));
        assert!(slice_from(&list, 4).is_err(), "list shrank");
        let partial = &list[..list.len() - 3];
        assert_eq!(count(partial), Ok(2));
        assert_eq!(slice_from(partial, 2), Ok((a.len() + b.len(), 0)));
    }

    #[test]
    fn garbage_is_refused_not_walked() {
        let mut e = ima_ng_entry("x");
        e[24..28].copy_from_slice(&0u32.to_ne_bytes());
        assert!(count(&e).is_err());
        let mut e = ima_ng_entry("x");
        let at = 4 + 20 + 4 + 6;
        e[at..at + 4].copy_from_slice(&u32::MAX.to_ne_bytes());
        let err = count(&[ima_ng_entry("a"), e].concat()).unwrap_err();
        assert_eq!(err.index, 1, "{err}");
    }
}
