//! What the TPM's power cycle does to NV indices (Part 1 §37.2.3–§37.2.4,
//! reference NvEntityStartup / NvSetStartupAttributes): orderly RAM comes
//! back from NV at every TPM2_Startup, TPM Reset and TPM Restart release the
//! STCLEAR locks and clear TPMA_NV_CLEAR_STCLEAR data, and TPM2_Shutdown
//! commits orderly RAM.

use crate::types::{NvAttributes as A, NvType};

use super::super::Tpm;
use super::store::MAX_ORDERLY_COUNT;

/// TPM2_Startup. `resume` is a TPM Resume (nothing else changes),
/// `reset` a TPM Reset (else a TPM Restart), `disorderly` says the
/// previous cycle ended without TPM2_Shutdown.
///
/// At Reset and Restart every read lock is released; a non-counter index
/// with CLEAR_STCLEAR, or orderly at a Reset, becomes unwritten; a write
/// lock survives only on a written WRITEDEFINE index. After a disorderly
/// shutdown an orderly counter may have advanced up to
/// [`MAX_ORDERLY_COUNT`] past its committed value, so its low bits are set:
/// the next increment moves it past any value it may have reported.
pub(crate) fn startup(tpm: &mut Tpm, resume: bool, reset: bool, disorderly: bool) {
    tpm.perm.nv.restore_orderly();
    if resume {
        return;
    }
    let mut dirty = false;
    for idx in tpm.perm.nv.indices.values_mut() {
        let before = idx.attrs();
        let mut a = before.with(A::READLOCKED, false);
        let counter = idx.nv_type() == Some(NvType::Counter);
        let orderly = idx.is_orderly();
        if !counter && (a.contains(A::CLEAR_STCLEAR) || (orderly && reset)) {
            a = a.with(A::WRITTEN, false);
        }
        if !a.contains(A::WRITTEN) || !a.contains(A::WRITEDEFINE) {
            a = a.with(A::WRITELOCKED, false);
        }
        if a != before {
            idx.public.attributes = a;
            dirty |= !orderly;
        }
        if orderly && counter && disorderly {
            let v = idx.u64_value() | MAX_ORDERLY_COUNT;
            if let Some(d) = idx.data.get_mut(..8) {
                d.copy_from_slice(&v.to_be_bytes());
            }
        }
    }
    if dirty {
        tpm.dirty = true;
    }
}

/// TPM2_Shutdown (either type): orderly RAM is committed to NV (reference
/// NvUpdateIndexOrderlyData).
pub(crate) fn shutdown(tpm: &mut Tpm) {
    super::commit_orderly(tpm);
}

/// TPM2_Clear (Part 3 §24.6): every index defined with owner
/// authorization is deleted.
pub(crate) fn flush_owner_indices(tpm: &mut Tpm) {
    super::define::delete_owner_indices(tpm);
}
