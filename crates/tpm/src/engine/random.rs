//! TPM2_GetRandom and TPM2_StirRandom (Part 3 §16).

use crate::rc::Rc;
use crate::types::MAX_DIGEST_SIZE;
use crate::wire::Tpm2bBytes;

use super::dispatch::Ctx;
use super::hash_cmds::digest2b;
use super::Tpm;

/// Capacity of TPM2B_SENSITIVE_DATA (Part 2 §11.1.14), MAX_SYM_DATA in
/// libtpms: a larger StirRandom input is TPM_RC_SIZE on parameter 1.
pub(crate) const MAX_SYM_DATA: usize = 128;

/// TPM2B_SENSITIVE_DATA: caller entropy, zeroized once mixed in.
type SensitiveData2b = Tpm2bBytes<MAX_SYM_DATA>;

/// TPM2_GetRandom (Part 3 §16.1). The answer is a TPM2B_DIGEST, so at most
/// sizeof(TPMU_HA) = 64 octets are returned however many are requested;
/// the spec lets the TPM return fewer than requested and libtpms caps at
/// exactly this size, without an error.
pub(crate) fn get_random(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    let requested: u16 = ctx.read()?;
    ctx.done()?;
    let n = usize::from(requested).min(MAX_DIGEST_SIZE);
    let bytes = tpm.drbg.bytes(n);
    ctx.write(&digest2b(bytes));
    Ok(())
}

/// TPM2_StirRandom (Part 3 §16.2): mixes caller data into the DRBG state.
/// The data can add entropy but never replace what the TPM already has.
pub(crate) fn stir_random(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    let data: SensitiveData2b = ctx.read()?;
    ctx.done()?;
    // `data` is zeroized when dropped (Tpm2bBytes).
    tpm.drbg.stir(data.as_slice());
    Ok(())
}
