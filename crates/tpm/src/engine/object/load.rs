//! TPM2_Load (Part 3 §12.2), TPM2_LoadExternal (§12.3) and
//! TPM2_ReadPublic (§12.4), with the reference's ObjectLoad checks shared
//! by everything that brings an object into TPM memory.

use crate::constants::alg;
use crate::crypto::CryptoError;
use crate::rc::Rc;
use crate::types::{Private2b, Public, Public2b, Sensitive, Sensitive2b};

use super::super::algorithms::Implemented;
use super::super::dispatch::Ctx;
use super::super::hash_cmds::read_hierarchy_plus;
use super::super::objects::{free_slots, Transient};
use super::super::Tpm;
use super::loaded::{build_key, AsymKey, Binding, LoadedObject};
use super::protect::private_to_sensitive;
use super::transient::load_with_sensitive;
use super::validate::{digest_size, public_attributes_validation, scheme_checks, validate_keys};
use super::{hierarchy_enabled, loaded_attributes};

/// ObjectLoad: validates a public area (full attribute checks when a
/// sensitive area comes with it, scheme checks only for public-only or
/// nameless objects), the key material (skipped under a fixedTPM parent,
/// whose children were checked at creation or import, including whether
/// an ECC key's d·G is its public point) and builds the key.
/// `blame_public` / `blame_sensitive` are the parameter numbers.
pub(crate) fn object_load(
    parent: Option<&LoadedObject>,
    public: &Public,
    sensitive: Option<&Sensitive>,
    blame_public: u32,
    blame_sensitive: u32,
) -> Result<AsymKey, Rc> {
    match sensitive {
        Some(s) if public.name_alg != alg::NULL => {
            if s.seed_value.len() > digest_size(public.name_alg) {
                return Err(Rc::KEY_SIZE.param(blame_sensitive));
            }
            public_attributes_validation(parent, public).map_err(|e| e.param(blame_public))?;
        }
        _ => scheme_checks(None, public).map_err(|e| e.param(blame_public))?,
    }
    let binding = if parent.is_some_and(|p| p.public.attributes.fixed_tpm()) {
        Binding::MadeHere
    } else {
        validate_keys(public, sensitive, blame_public, blame_sensitive)?;
        Binding::Check
    };
    build_key(public, sensitive, binding).map_err(|e| match e {
        CryptoError::Binding => Rc::BINDING,
        CryptoError::KeySize => Rc::KEY_SIZE.param(blame_sensitive),
        CryptoError::EccPoint => Rc::ECC_POINT.param(blame_public),
        CryptoError::Key if sensitive.is_some() => Rc::KEY_SIZE.param(blame_sensitive),
        other => other.rc().param(blame_public),
    })
}

/// TPM2_Load. Parameters: inPrivate (1), inPublic (2).
pub(crate) fn load(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    let parent_handle = ctx.handle(0);
    let in_private: Private2b = ctx.read()?;
    let public = ctx
        .read_with(|r| Public2b::decode_with(r, &Implemented, false))?
        .0;
    ctx.done()?;

    if free_slots(tpm, &ctx.handles) == 0 {
        return Err(Rc::OBJECT_MEMORY);
    }
    if in_private.is_empty() {
        return Err(Rc::SIZE.param(1));
    }
    let parent = tpm.object(parent_handle).ok_or(Rc::HANDLE.handle(1))?;
    if !parent.flags.is_parent {
        return Err(Rc::TYPE.handle(1));
    }
    let name = public.name().ok_or(Rc::HASH.param(2))?;
    let sensitive = private_to_sensitive(
        in_private.as_slice(),
        name.as_bytes(),
        &parent.public,
        parent.seed_value().unwrap_or_default(),
    )
    .map_err(|e| e.param(1))?;
    let key = object_load(Some(parent), &public, Some(&sensitive), 2, 1)?;
    load_with_sensitive(tpm, ctx, public, sensitive, key, &name, parent_handle)?;
    ctx.write(&name);
    Ok(())
}

/// TPM2_LoadExternal. Parameters: inPrivate (1, may be empty), inPublic
/// (2, TPM_ALG_NULL nameAlg allowed), hierarchy (3).
pub(crate) fn load_external(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    let in_private = ctx
        .read_with(|r| Sensitive2b::decode_with(r, &Implemented))?
        .0;
    let public = ctx
        .read_with(|r| Public2b::decode_with(r, &Implemented, true))?
        .0;
    let hierarchy = ctx.read_with(read_hierarchy_plus)?;
    ctx.done()?;

    if free_slots(tpm, &ctx.handles) == 0 {
        return Err(Rc::OBJECT_MEMORY);
    }
    if !hierarchy_enabled(tpm, hierarchy) {
        return Err(Rc::HIERARCHY.param(3));
    }
    if in_private.is_some() {
        // A key with a private part that did not come from this TPM lives
        // in the NULL hierarchy and may not look like one of its own.
        if hierarchy != crate::constants::rh::NULL {
            return Err(Rc::HIERARCHY.param(3));
        }
        let a = public.attributes;
        if a.fixed_tpm() || a.fixed_parent() || a.restricted() {
            return Err(Rc::ATTRIBUTES.param(2));
        }
    }
    let name = public.name().ok_or(Rc::HASH.param(2))?;
    let key = object_load(None, &public, in_private.as_ref(), 2, 1)?;
    let has_sensitive = in_private.is_some();
    let (flags, hier, qn) = loaded_attributes(tpm, &public, &name, hierarchy, true, has_sensitive);
    let object = LoadedObject::new(public, in_private, key, hier, flags, Some(qn));
    let handle = tpm.load_transient(Transient::Object(Box::new(object)))?;
    ctx.out_handle = Some(handle);
    ctx.write(&name);
    Ok(())
}

/// TPM2_ReadPublic: the public area, Name and Qualified Name; a sequence
/// object has none (TPM_RC_SEQUENCE).
pub(crate) fn read_public(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    let handle = ctx.handle(0);
    ctx.done()?;
    if let Some(Transient::Sequence(_)) = tpm.transient(handle) {
        return Err(Rc::SEQUENCE);
    }
    let o = tpm.object(handle).ok_or(Rc::HANDLE.handle(1))?;
    ctx.write(&Public2b(o.public.clone()));
    ctx.write(&o.name);
    ctx.write(&o.qualified_name);
    Ok(())
}
