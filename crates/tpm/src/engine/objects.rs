//! Transient entities in TPM memory (Part 1 §15.3): loaded objects and
//! sequence objects, addressed by TPM_HT_TRANSIENT handles, and persistent
//! objects (TPM_HT_PERSISTENT). This module is the object store's face to
//! the rest of the engine: lookups by handle, what authorization needs to
//! know about an object (authValue, authPolicy, Name, DA protection), the
//! salt decryption of TPM2_StartAuthSession, and the hooks other parts call
//! when hierarchies change. The object commands live in `object/`.

use zeroize::Zeroizing;

use crate::constants::{alg, rh};
use crate::crypto::HashAlg;
use crate::rc::Rc;

use super::dispatch::Role;
use super::object::{self, LoadedObject};
use super::sequence::SequenceObject;
use super::Tpm;

/// Object slots: how many transient entities may be loaded at once
/// (TPM_PT_HR_TRANSIENT_MIN / MAX_LOADED_OBJECTS). Three, like libtpms:
/// tpm2-tools run without a resource manager because they flush.
pub(crate) const MAX_LOADED_OBJECTS: usize = 3;

/// A loaded transient entity.
pub(crate) enum Transient {
    /// A hash, HMAC or event sequence (Part 3 §17).
    Sequence(Box<SequenceObject>),
    /// A key or data object (Part 1 §23).
    Object(Box<LoadedObject>),
}

impl Tpm {
    /// Places `t` in a free transient slot and returns its handle, or
    /// TPM_RC_OBJECT_MEMORY when every slot is taken.
    pub(crate) fn load_transient(&mut self, t: Transient) -> Result<u32, Rc> {
        if self.vol.transients.len() >= MAX_LOADED_OBJECTS {
            return Err(Rc::OBJECT_MEMORY);
        }
        let mut h = rh::TRANSIENT_FIRST;
        while self.vol.transients.contains_key(&h) {
            h += 1;
        }
        self.vol.transients.insert(h, t);
        Ok(h)
    }

    pub(crate) fn transient(&self, handle: u32) -> Option<&Transient> {
        self.vol.transients.get(&handle)
    }

    pub(crate) fn transient_mut(&mut self, handle: u32) -> Option<&mut Transient> {
        self.vol.transients.get_mut(&handle)
    }

    pub(crate) fn flush_transient(&mut self, handle: u32) -> Option<Transient> {
        self.vol.transients.remove(&handle)
    }

    /// The object a transient or persistent handle refers to (None for
    /// sequences and unknown handles). Commands get their handles checked
    /// by the dispatcher first, so for them this is always Some.
    pub(crate) fn object(&self, handle: u32) -> Option<&LoadedObject> {
        match rh::handle_type(handle) {
            rh::HT_TRANSIENT => match self.vol.transients.get(&handle) {
                Some(Transient::Object(o)) => Some(o),
                _ => None,
            },
            rh::HT_PERSISTENT => self.perm.objects.persistent.get(&handle),
            _ => None,
        }
    }
}

/// Free object slots for a command whose handle area is `handles`: each
/// persistent handle occupies a slot while the command runs, as in the
/// reference code (ObjectLoadEvict), so e.g. TPM2_Load under a persistent
/// parent needs two free slots.
pub(crate) fn free_slots(tpm: &Tpm, handles: &[u32]) -> usize {
    let persistent = handles
        .iter()
        .filter(|&&h| rh::handle_type(h) == rh::HT_PERSISTENT)
        .count();
    MAX_LOADED_OBJECTS.saturating_sub(tpm.vol.transients.len() + persistent)
}

/// The handle area check for a persistent handle (the reference's
/// ObjectLoadEvict, in its order): a platform handle while phEnable is
/// clear or an owner-range handle while shEnable is clear is
/// TPM_RC_HANDLE; no free slot to load it into is TPM_RC_OBJECT_MEMORY; an
/// undefined handle is TPM_RC_HANDLE, and so is an endorsement object
/// while ehEnable is clear (except for TPM2_EvictControl, which may still
/// remove it). Unnumbered: the caller adds the handle number.
pub(crate) fn persistent_load_status(
    tpm: &Tpm,
    handle: u32,
    evict_control: bool,
) -> Result<(), Rc> {
    let enabled = if handle >= object::PLATFORM_PERSISTENT {
        tpm.vol.ph_enable
    } else {
        tpm.vol.sh_enable
    };
    if !enabled {
        return Err(Rc::HANDLE);
    }
    if tpm.vol.transients.len() >= MAX_LOADED_OBJECTS {
        return Err(Rc::OBJECT_MEMORY);
    }
    let o = tpm.perm.objects.persistent.get(&handle).ok_or(Rc::HANDLE)?;
    if o.hierarchy == rh::ENDORSEMENT && !tpm.vol.eh_enable && !evict_control {
        return Err(Rc::HANDLE);
    }
    Ok(())
}

/// Decrypts a StartAuthSession salt with the private key of `handle`
/// (Part 1 §19.6.9, Part 3 §11.1; reference TPM2_StartAuthSession and
/// CryptSecretDecrypt with the "SECRET" label), with the reference's
/// checks in its order: a key that is not asymmetric is TPM_RC_KEY
/// (handle 1), an empty salt TPM_RC_VALUE (parameter 2), a public-only key
/// TPM_RC_HANDLE, a key without decrypt TPM_RC_ATTRIBUTES (handle 1), and
/// any decryption failure TPM_RC_VALUE (parameter 2).
pub(crate) fn decrypt_salt(
    tpm: &mut Tpm,
    handle: u32,
    encrypted: &[u8],
) -> Result<Zeroizing<Vec<u8>>, Rc> {
    let Some(key) = tpm.object(handle) else {
        return Err(Rc::KEY.handle(1));
    };
    if !matches!(key.public.object_type(), alg::RSA | alg::ECC) {
        return Err(Rc::KEY.handle(1));
    }
    if encrypted.is_empty() {
        return Err(Rc::VALUE.param(2));
    }
    if key.is_public_only() {
        return Err(Rc::HANDLE.handle(1));
    }
    if !key.public.attributes.decrypt() {
        return Err(Rc::ATTRIBUTES.handle(1));
    }
    let key = key.clone();
    object::secret_decrypt(tpm, &key, crate::crypto::secret::LABEL_SECRET, encrypted)
        .map_err(|_| Rc::VALUE.param(2))
}

/// The authValue of a loaded object (or sequence); a public-only object's
/// is empty. Objects store it zero-padded to the nameAlg digest size
/// (AdjustAuthSize); like the reference EntityGetAuthValue, the trailing
/// zeros are removed here, so the session key of a session bound to the
/// object is the one a TSS computes from the caller's value.
pub(crate) fn auth_value(tpm: &Tpm, handle: u32) -> Result<Zeroizing<Vec<u8>>, Rc> {
    if let Some(Transient::Sequence(s)) = tpm.transient(handle) {
        return Ok(Zeroizing::new(s.auth.to_vec()));
    }
    tpm.object(handle)
        .map(|o| Zeroizing::new(super::auth::trim(o.auth_value()).to_vec()))
        .ok_or(Rc::HANDLE)
}

/// The authPolicy of a loaded object with its nameAlg; None for sequences
/// and for an empty policy (a policy session then cannot authorize it:
/// TPM_RC_AUTH_UNAVAILABLE).
pub(crate) fn auth_policy(tpm: &Tpm, handle: u32) -> Option<(HashAlg, Vec<u8>)> {
    let o = tpm.object(handle)?;
    if o.public.auth_policy.is_empty() {
        return None;
    }
    Some((o.name_alg()?, o.public.auth_policy.as_slice().to_vec()))
}

/// The Name of a loaded object; a sequence object (nameAlg TPM_ALG_NULL)
/// has the empty Name.
pub(crate) fn name(tpm: &Tpm, handle: u32) -> Vec<u8> {
    tpm.object(handle)
        .map(|o| o.name.as_bytes().to_vec())
        .unwrap_or_default()
}

/// Whether authorization failures on the object count against the
/// dictionary-attack lockout (TPMA_OBJECT.noDA clear; sequences are
/// exempt, reference IsDAExempted).
pub(crate) fn is_da_protected(tpm: &Tpm, handle: u32) -> bool {
    tpm.object(handle)
        .is_some_and(|o| !o.public.attributes.no_da())
}

/// Whether the object `handle` may be authorized in `role` with the kind
/// of session given (Part 1 §19.7.4; reference IsPolicySessionRequired and
/// IsAuthValueAvailable): the DUP role, and the ADMIN role of an object
/// with adminWithPolicy, need a policy session (TPM_RC_AUTH_TYPE); a
/// password or HMAC session needs the authValue to be usable — a private
/// part loaded and userWithAuth set, or the ADMIN role without
/// adminWithPolicy (TPM_RC_AUTH_UNAVAILABLE). Other handles and sequences
/// pass. Policy availability (a non-empty authPolicy) is checked by the
/// session code through [`auth_policy`].
pub(crate) fn check_auth_use(
    tpm: &Tpm,
    role: Role,
    handle: u32,
    is_policy: bool,
) -> Result<(), Rc> {
    let Some(o) = tpm.object(handle) else {
        return Ok(());
    };
    let a = o.public.attributes;
    let policy_required = role == Role::Dup || (role == Role::Admin && a.admin_with_policy());
    if policy_required && !is_policy {
        return Err(Rc::AUTH_TYPE);
    }
    if !is_policy {
        let available = !o.is_public_only()
            && (a.user_with_auth() || (role == Role::Admin && !a.admin_with_policy()));
        if !available {
            return Err(Rc::AUTH_UNAVAILABLE);
        }
    }
    Ok(())
}

/// Flushes every transient object of `hierarchy` (reference
/// ObjectFlushHierarchy): for TPM2_HierarchyControl disabling a hierarchy,
/// TPM2_Clear (owner and endorsement), TPM2_ChangePPS / ChangeEPS.
pub(crate) fn flush_hierarchy(tpm: &mut Tpm, hierarchy: u32) {
    tpm.vol
        .transients
        .retain(|_, t| !matches!(t, Transient::Object(o) if o.hierarchy == hierarchy));
}

/// Removes the persistent objects of `hierarchy` (TPM2_Clear evicts the
/// owner and endorsement ones, Part 3 §24.6; ChangePPS the platform ones).
pub(crate) fn evict_hierarchy(tpm: &mut Tpm, hierarchy: u32) {
    let before = tpm.perm.objects.persistent.len();
    tpm.perm
        .objects
        .persistent
        .retain(|_, o| o.hierarchy != hierarchy);
    if tpm.perm.objects.persistent.len() != before {
        tpm.dirty = true;
    }
}

/// The persistent handles, ascending (TPM_CAP_HANDLES, TPM_HT_PERSISTENT).
pub(crate) fn persistent_handles(tpm: &Tpm) -> Vec<u32> {
    tpm.perm.objects.persistent.keys().copied().collect()
}
