//! The step TPM2_Load, TPM2_CreateLoaded and TPM2_CreatePrimary end with:
//! an object whose sensitive area the TPM holds becomes a transient object
//! (Part 1 §28.2 ObjectLoad; the handle is the command's out handle).

use crate::rc::Rc;
use crate::types::{Name, Public, Sensitive};

use super::super::dispatch::Ctx;
use super::super::objects::Transient;
use super::super::Tpm;
use super::loaded::{AsymKey, LoadedObject};
use super::loaded_attributes;

/// Loads `public`/`sensitive` under `parent_handle` (an object, or a
/// hierarchy for primaries) and sets the response's handle.
pub(super) fn load_with_sensitive(
    tpm: &mut Tpm,
    ctx: &mut Ctx<'_>,
    public: Public,
    sensitive: Sensitive,
    key: AsymKey,
    name: &Name,
    parent_handle: u32,
) -> Result<(), Rc> {
    let (flags, hierarchy, qn) = loaded_attributes(tpm, &public, name, parent_handle, false, true);
    let object = LoadedObject::new(public, Some(sensitive), key, hierarchy, flags, Some(qn));
    let handle = tpm.load_transient(Transient::Object(Box::new(object)))?;
    ctx.out_handle = Some(handle);
    Ok(())
}
