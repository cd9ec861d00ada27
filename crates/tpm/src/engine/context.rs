//! Context management (Part 3 §28): TPM2_FlushContext today; ContextSave
//! and ContextLoad join it with saved objects and sessions.

use crate::constants::rh;
use crate::rc::Rc;

use super::dispatch::Ctx;
use super::Tpm;

/// TPM2_FlushContext (Part 3 §28.4): the handle is a parameter
/// (TPMI_DH_CONTEXT), so errors are numbered as parameter 1.
pub(crate) fn flush_context(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    let handle: u32 = ctx.read()?;
    ctx.done()?;
    match rh::handle_type(handle) {
        rh::HT_HMAC_SESSION | rh::HT_POLICY_SESSION => tpm
            .flush_session(handle)
            .map(|_| ())
            .ok_or(Rc::HANDLE.param(1)),
        rh::HT_TRANSIENT => tpm
            .flush_transient(handle)
            .map(|_| ())
            .ok_or(Rc::HANDLE.param(1)),
        _ => Err(Rc::VALUE.param(1)),
    }
}
