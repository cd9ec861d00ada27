//! TPM2_ObjectChangeAuth (Part 3 §12.8): a new private area for an
//! object, with a new authValue, under the same parent. The loaded object
//! itself keeps its old authValue; the caller loads the new private area.

use zeroize::Zeroizing;

use crate::rc::Rc;
use crate::types::{Auth2b, Private2b};
use crate::wire::Tpm2bBytes;

use super::super::dispatch::Ctx;
use super::super::objects::Transient;
use super::super::Tpm;
use super::protect::sensitive_to_private;
use super::qualified_name;
use super::validate::adjust_auth_size;

/// TPM2_ObjectChangeAuth. Handles: objectHandle (1, ADMIN role),
/// parentHandle (2). Parameter: newAuth (1).
pub(crate) fn object_change_auth(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    let object_handle = ctx.handle(0);
    let parent_handle = ctx.handle(1);
    let new_auth: Auth2b = ctx.read()?;
    ctx.done()?;

    if let Some(Transient::Sequence(_)) = tpm.transient(object_handle) {
        return Err(Rc::TYPE.handle(1));
    }
    let object = tpm.object(object_handle).ok_or(Rc::TYPE.handle(1))?;
    let mut auth = Zeroizing::new(new_auth.as_slice().to_vec());
    if !adjust_auth_size(&mut auth, object.public.name_alg) {
        return Err(Rc::SIZE.param(1));
    }
    // The parent is identified by the object's Qualified Name.
    let qn = qualified_name(tpm, parent_handle, object.public.name_alg, &object.name);
    if qn != object.qualified_name {
        return Err(Rc::TYPE.handle(2));
    }
    let parent = tpm.object(parent_handle).ok_or(Rc::TYPE.handle(2))?;
    let mut sensitive = object.sensitive.clone().ok_or(Rc::TYPE.handle(1))?;
    sensitive.auth_value = Tpm2bBytes(auth.to_vec());
    let name = object.name.clone();
    let name_alg = object.public.name_alg;
    let parent_public = parent.public.clone();
    let seed = Zeroizing::new(parent.seed_value().unwrap_or_default().to_vec());
    let iv = tpm.drbg.bytes(crate::crypto::sym::BLOCK_SIZE);
    let private = sensitive_to_private(
        &sensitive,
        name.as_bytes(),
        &parent_public,
        &seed,
        name_alg,
        &iv,
    )?;
    ctx.write(&Private2b::new(private).map_err(|_| Rc::FAILURE)?);
    Ok(())
}
