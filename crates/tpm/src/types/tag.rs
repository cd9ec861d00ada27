//! TPM_ST structure tags inside structures (Part 2 §6.9). The reference
//! code unmarshals a tag as TPM_ST first, so a value that is no TPM_ST at
//! all is TPM_RC_VALUE, and only then checks that it is the tag the
//! structure wants (TPM_RC_TAG for tickets, TPM_RC_SELECTOR for
//! TPMI_ST_ATTEST).

use crate::constants::st;
use crate::wire::{Reader, WireError};

/// TPM_ST_FU_MANIFEST (Part 2 §6.9), absent from the constants module.
const FU_MANIFEST: u16 = 0x8029;

/// Whether `v` is a TPM_ST value Part 2 defines.
pub(crate) fn is_structure_tag(v: u16) -> bool {
    matches!(
        v,
        st::RSP_COMMAND
            | st::NULL
            | st::NO_SESSIONS
            | st::SESSIONS
            | st::ATTEST_NV
            | st::ATTEST_COMMAND_AUDIT
            | st::ATTEST_SESSION_AUDIT
            | st::ATTEST_CERTIFY
            | st::ATTEST_QUOTE
            | st::ATTEST_TIME
            | st::ATTEST_CREATION
            | st::ATTEST_NV_DIGEST
            | st::CREATION
            | st::VERIFIED
            | st::AUTH_SECRET
            | st::HASHCHECK
            | st::AUTH_SIGNED
            | FU_MANIFEST
    )
}

/// Reads a TPM_ST that `wanted` accepts: not a TPM_ST is TPM_RC_VALUE, a
/// TPM_ST `wanted` refuses is `wrong`.
pub(crate) fn read_tag(
    r: &mut Reader<'_>,
    wanted: impl Fn(u16) -> bool,
    wrong: WireError,
) -> Result<u16, WireError> {
    let t = r.u16()?;
    if !is_structure_tag(t) {
        return Err(WireError::Value);
    }
    if !wanted(t) {
        return Err(wrong);
    }
    Ok(t)
}
