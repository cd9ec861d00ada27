//! TPM2_Unseal (Part 3 §12.7): returns the data of a sealed data object (a
//! KEYEDHASH object that neither signs nor decrypts and is not
//! restricted).

use crate::constants::alg;
use crate::rc::Rc;
use crate::wire::Tpm2bBytes;

use super::super::dispatch::Ctx;
use super::super::Tpm;

/// TPM2_Unseal. Handle: itemHandle (1, USER role).
pub(crate) fn unseal(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    let handle = ctx.handle(0);
    ctx.done()?;
    let o = tpm.object(handle).ok_or(Rc::TYPE.handle(1))?;
    if o.public.object_type() != alg::KEYEDHASH {
        return Err(Rc::TYPE.handle(1));
    }
    let a = o.public.attributes;
    if a.decrypt() || a.sign_encrypt() || a.restricted() {
        return Err(Rc::ATTRIBUTES.handle(1));
    }
    let data = o.hmac_key().unwrap_or_default().to_vec();
    ctx.write(&Tpm2bBytes::<{ crate::types::MAX_SYM_DATA }>(data));
    Ok(())
}
