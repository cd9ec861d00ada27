//! TPM2_Duplicate (Part 3 §13.1) and TPM2_Import (§13.3): moving an
//! object to another parent, possibly on another TPM (Part 1 §23.3).
//!
//! A duplication blob has an optional inner wrap (a symmetric key the
//! caller knows) and an optional outer wrap (a seed encrypted to the new
//! parent with the label "DUPLICATE"); an object with
//! encryptedDuplication needs both. Duplicate is always authorized with a
//! policy session (DUP role, usually PolicyCommandCode(Duplicate) or
//! PolicyDuplicationSelect), which the session code enforces.

use zeroize::Zeroizing;

use crate::constants::rh;
use crate::crypto::secret::LABEL_DUPLICATE;
use crate::rc::Rc;
use crate::types::{Data2b, EncryptedSecret2b, Limits, Private2b, Public2b, SymDefObject};

use super::super::algorithms::Implemented;
use super::super::dispatch::Ctx;
use super::super::Tpm;
use super::load::object_load;
use super::protect::{
    duplicate_to_sensitive, sensitive_to_duplicate, sensitive_to_private, sym_def_cipher, DupWrap,
};
use super::{secret_decrypt, secret_encrypt};

fn read_sym_def(r: &mut crate::wire::Reader<'_>) -> Result<SymDefObject, crate::wire::WireError> {
    SymDefObject::decode_with(r, &Implemented, true)
}

/// TPM2_Duplicate. Handles: objectHandle (1, DUP role), newParentHandle
/// (2, an object or TPM_RH_NULL). Parameters: encryptionKeyIn (1),
/// symmetricAlg (2).
pub(crate) fn duplicate(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    let object_handle = ctx.handle(0);
    let new_parent_handle = ctx.handle(1);
    let key_in: Data2b = ctx.read()?;
    let sym_def = ctx.read_with(read_sym_def)?;
    ctx.done()?;

    let object = tpm
        .object(object_handle)
        .ok_or(Rc::HANDLE.handle(1))?
        .clone();
    let a = object.public.attributes;
    if a.fixed_parent() {
        return Err(Rc::ATTRIBUTES.handle(1));
    }
    if object.public.name_alg == crate::constants::alg::NULL {
        return Err(Rc::TYPE.handle(1));
    }
    let new_parent = if new_parent_handle == rh::NULL {
        None
    } else {
        let p = tpm.object(new_parent_handle).ok_or(Rc::HANDLE.handle(2))?;
        if !p.is_storage() {
            return Err(Rc::TYPE.handle(2));
        }
        Some(p.clone())
    };
    if a.encrypted_duplication() {
        if sym_def == SymDefObject::Null {
            return Err(Rc::SYMMETRIC.param(2));
        }
        if new_parent.is_none() {
            return Err(Rc::HIERARCHY.handle(2));
        }
    }
    let cipher = sym_def_cipher(&sym_def).map_err(|e| e.param(2))?;
    match cipher {
        None if !key_in.is_empty() => return Err(Rc::SIZE.param(1)),
        Some(c) if !key_in.is_empty() && key_in.len() != c.key_bytes() => {
            return Err(Rc::SIZE.param(1))
        }
        _ => {}
    }
    let (seed, sym_seed) = match &new_parent {
        Some(p) => secret_encrypt(tpm, p, LABEL_DUPLICATE)?,
        None => (Zeroizing::new(Vec::new()), Vec::new()),
    };
    // The TPM picks the inner key when the caller gave none, and returns it.
    let (inner_key, key_out) = match cipher {
        Some(c) if key_in.is_empty() => {
            let k = Zeroizing::new(tpm.drbg.bytes(c.key_bytes()));
            let out = k.to_vec();
            (k, out)
        }
        _ => (Zeroizing::new(key_in.as_slice().to_vec()), Vec::new()),
    };
    let sensitive = object.sensitive.as_ref().ok_or(Rc::TYPE.handle(1))?;
    let wrap = DupWrap {
        outer: new_parent.as_ref().map(|p| (&p.public, seed.as_slice())),
        inner: cipher.map(|c| (c, inner_key.as_slice())),
    };
    let blob = sensitive_to_duplicate(
        sensitive,
        object.name.as_bytes(),
        object.public.name_alg,
        &wrap,
    )?;
    ctx.write(&Data2b::new(key_out).map_err(|_| Rc::FAILURE)?);
    ctx.write(&Private2b::new(blob).map_err(|_| Rc::FAILURE)?);
    ctx.write(&EncryptedSecret2b::new(sym_seed).map_err(|_| Rc::FAILURE)?);
    Ok(())
}

/// TPM2_Import. Handle: parentHandle (1, USER role). Parameters:
/// encryptionKey (1), objectPublic (2), duplicate (3), inSymSeed (4),
/// symmetricAlg (5).
pub(crate) fn import(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    let parent_handle = ctx.handle(0);
    let encryption_key: Data2b = ctx.read()?;
    let public = ctx
        .read_with(|r| Public2b::decode_with(r, &Implemented, false))?
        .0;
    let dup: Private2b = ctx.read()?;
    let in_sym_seed = ctx.read_with(|r| Limits::PROFILE.read_encrypted_secret(r))?;
    let sym_def = ctx.read_with(read_sym_def)?;
    ctx.done()?;

    let a = public.attributes;
    if a.fixed_tpm() || a.fixed_parent() {
        return Err(Rc::ATTRIBUTES.param(2));
    }
    let parent = tpm.object(parent_handle).ok_or(Rc::HANDLE.handle(1))?;
    if !parent.flags.is_parent {
        return Err(Rc::TYPE.handle(1));
    }
    let parent = parent.clone();
    let cipher = sym_def_cipher(&sym_def).map_err(|e| e.param(5))?;
    match cipher {
        Some(c) => {
            if encryption_key.len() != c.key_bytes() {
                return Err(Rc::SIZE.param(1));
            }
        }
        None => {
            if !encryption_key.is_empty() {
                return Err(Rc::SIZE.param(1));
            }
            if a.encrypted_duplication() {
                return Err(Rc::ATTRIBUTES.param(1));
            }
        }
    }
    let seed = if in_sym_seed.is_empty() {
        if a.encrypted_duplication() {
            return Err(Rc::ATTRIBUTES.param(4));
        }
        Zeroizing::new(Vec::new())
    } else {
        if parent.public.object_type() == crate::constants::alg::SYMCIPHER {
            return Err(Rc::TYPE.handle(1));
        }
        secret_decrypt(tpm, &parent, LABEL_DUPLICATE, in_sym_seed.as_slice())
            .map_err(|e| e.param(4))?
    };
    let name = public.name().ok_or(Rc::HASH.param(2))?;
    let wrap = DupWrap {
        outer: (!seed.is_empty()).then_some((&parent.public, seed.as_slice())),
        inner: cipher.map(|c| (c, encryption_key.as_slice())),
    };
    let sensitive = duplicate_to_sensitive(dup.as_slice(), name.as_bytes(), public.name_alg, &wrap)
        .map_err(|e| e.param(3))?;
    // Under a fixedTPM parent the object is validated now, so TPM2_Load
    // need not repeat it.
    if parent.public.attributes.fixed_tpm() {
        object_load(None, &public, Some(&sensitive), 2, 3)?;
    }
    let iv = tpm.drbg.bytes(crate::crypto::sym::BLOCK_SIZE);
    let private = sensitive_to_private(
        &sensitive,
        name.as_bytes(),
        &parent.public,
        parent.seed_value().unwrap_or_default(),
        public.name_alg,
        &iv,
    )?;
    ctx.write(&Private2b::new(private).map_err(|_| Rc::FAILURE)?);
    Ok(())
}
