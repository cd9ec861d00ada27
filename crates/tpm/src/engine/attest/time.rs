//! TPM2_GetTime (Part 3 §18.7): signed Time, Clock and firmware version.

use crate::rc::Rc;
use crate::types::{Attested, Data2b, SigScheme, TimeAttestInfo};

use super::super::algorithms::Implemented;
use super::super::dispatch::Ctx;
use super::super::{capability, clock, Tpm};
use super::fill;

/// TPM2_GetTime (Part 3 §18.7), authorized by the endorsement hierarchy
/// (privacyAdminHandle) and the signing key. Unlike the common header,
/// TPMS_TIME_ATTEST_INFO carries Time, Clock, resetCount, restartCount
/// and firmwareVersion in the clear — the privacy administrator agreed
/// to reveal them (Part 3 §18.1, §18.7).
pub(crate) fn get_time(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    let qualifying_data: Data2b = ctx.read()?;
    let in_scheme = ctx.read_with(|r| SigScheme::decode_with(r, &Implemented, true))?;
    ctx.done()?;
    let signer = fill::signer(tpm, ctx.handle(1), in_scheme, 2, 2)?;
    let (v1, v2) = capability::firmware_version();
    let attested = Attested::Time(TimeAttestInfo {
        time: clock::time_info(tpm),
        firmware_version: (u64::from(v1) << 32).wrapping_add(u64::from(v2)),
    });
    fill::respond(tpm, ctx, &signer, qualifying_data, attested)
}
