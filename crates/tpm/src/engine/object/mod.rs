//! The object commands (Part 3 §12, §13, §24.1, §28.5) and their support:
//! attribute and scheme validation, key generation, the protection of
//! private areas, credentials and duplication blobs, creation data, and the
//! object store with its persistent and reset-scoped parts.
//!
//! Each command handler lives in its own file; this module holds the
//! small helpers they share: hierarchy seeds and proofs, secret sharing
//! with a loaded key, startup and shutdown hooks.

mod change_auth;
mod create;
mod creation;
mod credential;
mod evict;
mod import_dup;
mod keygen;
mod load;
mod loaded;
mod primary;
mod primary_cache;
mod protect;
pub(crate) mod saved;
mod store;
mod transient;
mod unseal;
mod validate;

pub(crate) use change_auth::object_change_auth;
pub(crate) use create::{create, create_loaded};
#[allow(unused_imports)] // For CertifyCreation (attestation commands).
pub(crate) use creation::creation_ticket;
pub(crate) use credential::{activate_credential, make_credential};
pub(crate) use evict::evict_control;
pub(crate) use import_dup::{duplicate, import};
pub(crate) use load::{load, load_external, read_public};
#[allow(unused_imports)] // Accessors for the key-using commands.
pub(crate) use loaded::{AsymKey, LoadedObject, ObjectFlags};
pub(crate) use primary::create_primary;
pub(crate) use store::{ObjectsPermanent, ObjectsReset, ObjectsVolatile, MAX_SAVED_SEQUENCES};
pub(crate) use unseal::unseal;

use zeroize::Zeroizing;

use crate::constants::{alg, rh};
use crate::crypto::secret::{decrypt_seed, encrypt_seed, SeedPrivate, SeedPublic};
use crate::crypto::{CryptoError, HashAlg};
use crate::rc::Rc;
use crate::types::AsymScheme;

use super::Tpm;

/// First handle of the platform persistent range (Part 2 §7.5: owner
/// 0x81000000–0x817FFFFF, platform 0x81800000–0x81FFFFFF).
pub(crate) const PLATFORM_PERSISTENT: u32 = 0x8180_0000;
/// Last persistent handle.
pub(crate) const PERSISTENT_LAST: u32 = 0x81FF_FFFF;

/// The proof value of a hierarchy (Part 1 §14.4): the HMAC key of its
/// tickets and saved contexts.
pub(crate) fn hierarchy_proof(tpm: &Tpm, hierarchy: u32) -> Option<&[u8]> {
    match hierarchy {
        rh::OWNER => Some(&tpm.perm.sh_proof),
        rh::ENDORSEMENT => Some(&tpm.perm.eh_proof),
        rh::PLATFORM => Some(&tpm.perm.ph_proof),
        rh::NULL => Some(&tpm.vol.null_proof),
        _ => None,
    }
}

/// The primary seed of a hierarchy (Part 1 §14.3): EPS, SPS, PPS, or the
/// null seed that changes at every TPM Reset.
pub(crate) fn primary_seed(tpm: &Tpm, hierarchy: u32) -> Option<&[u8]> {
    match hierarchy {
        rh::OWNER => Some(&tpm.perm.sps),
        rh::ENDORSEMENT => Some(&tpm.perm.eps),
        rh::PLATFORM => Some(&tpm.perm.pps),
        rh::NULL => Some(&tpm.vol.objects.reset.null_seed),
        _ => None,
    }
}

/// Whether a hierarchy is enabled (TPM_RH_NULL always is).
pub(crate) fn hierarchy_enabled(tpm: &Tpm, hierarchy: u32) -> bool {
    match hierarchy {
        rh::OWNER => tpm.vol.sh_enable,
        rh::ENDORSEMENT => tpm.vol.eh_enable,
        rh::PLATFORM => tpm.vol.ph_enable,
        _ => true,
    }
}

/// The hash and scheme a key uses to receive a seed (reference
/// CryptSecretDecrypt): an RSA key with no scheme uses OAEP with its
/// nameAlg, an RSA key with OAEP its OAEP hash, anything else is
/// TPM_RC_SCHEME; ECC keys use their nameAlg.
fn seed_hash(key: &LoadedObject) -> Result<HashAlg, Rc> {
    let name_hash = key.name_alg().ok_or(Rc::SCHEME)?;
    match &key.public.parameters {
        crate::types::PublicParms::Rsa(p) => match p.scheme {
            AsymScheme::Null => Ok(name_hash),
            AsymScheme::Oaep(h) => HashAlg::from_id(h).ok_or(Rc::SCHEME),
            _ => Err(Rc::SCHEME),
        },
        _ => Ok(name_hash),
    }
}

/// Recovers a seed encrypted to `key` with `label` (Part 1 Annex B.10.3
/// and C.6.4; reference CryptSecretDecrypt). Errors are unnumbered.
pub(crate) fn secret_decrypt(
    tpm: &mut Tpm,
    key: &LoadedObject,
    label: &[u8],
    encrypted: &[u8],
) -> Result<Zeroizing<Vec<u8>>, Rc> {
    let hash = seed_hash(key)?;
    let private = if let Some(k) = key.rsa_key_pair() {
        SeedPrivate::Rsa(k)
    } else if let Some(k) = key.ecc_key_pair() {
        SeedPrivate::Ecc(k)
    } else {
        return Err(Rc::KEY);
    };
    decrypt_seed(private, hash, label, encrypted, &mut tpm.drbg).map_err(|e| match e {
        CryptoError::Key => Rc::KEY,
        other => other.rc(),
    })
}

/// Makes a fresh seed and encrypts it to `key` with `label` (reference
/// CryptSecretEncrypt: OAEP with the nameAlg for RSA, one-pass ECDH for
/// ECC). Returns (seed, encrypted secret). Errors are unnumbered.
pub(crate) fn secret_encrypt(
    tpm: &mut Tpm,
    key: &LoadedObject,
    label: &[u8],
) -> Result<(Zeroizing<Vec<u8>>, Vec<u8>), Rc> {
    let hash = key.name_alg().ok_or(Rc::KEY)?;
    let rsa;
    let ecc;
    let public = match key.public.object_type() {
        alg::RSA => {
            rsa = key.rsa_public().ok_or(Rc::KEY)?;
            SeedPublic::Rsa(&rsa)
        }
        alg::ECC => {
            ecc = key.ecc_public().ok_or(Rc::KEY)?;
            SeedPublic::Ecc(ecc.0, &ecc.1)
        }
        _ => return Err(Rc::KEY),
    };
    encrypt_seed(public, hash, label, &mut tpm.drbg).map_err(|e| e.rc())
}

/// Start of a TPM Reset, Restart or Resume (Part 1 §12.2.3; the
/// reference's SessionStartup and the gr handling of TPM2_Startup): a
/// Reset draws a new null seed and forgets every saved context; Restart
/// and Resume restore what Shutdown(STATE) saved. Restart and Reset also
/// advance clearCount, so stClear object contexts die with them.
pub(crate) fn on_startup(tpm: &mut Tpm, reset: bool, resume: bool) {
    let saved = tpm.perm.objects.saved.take();
    let mut state = match (reset, saved) {
        (false, Some(s)) => s,
        _ => ObjectsReset {
            null_seed: Zeroizing::new(tpm.drbg.bytes(64)),
            clear_count: tpm.vol.objects.reset.clear_count,
            ..Default::default()
        },
    };
    if !resume {
        state.clear_count = state.clear_count.wrapping_add(1);
    }
    tpm.vol.objects = ObjectsVolatile {
        reset: state,
        saved_sequences: Default::default(),
        // Keyed by seed and template, so never stale: kept.
        primaries: std::mem::take(&mut tpm.vol.objects.primaries),
    };
}

/// TPM2_Shutdown (Part 3 §9.4): STATE keeps the reset-scoped data for the
/// next Restart or Resume; CLEAR drops it.
pub(crate) fn on_shutdown(tpm: &mut Tpm, state: bool) {
    tpm.perm.objects.saved = state.then(|| tpm.vol.objects.reset.clone());
}

/// ObjectSetLoadedAttributes: the flags and hierarchy of an object loaded
/// under `parent_handle` (an object, or a hierarchy for primary and
/// external objects). Returns (flags, hierarchy, qualified name).
pub(crate) fn loaded_attributes(
    tpm: &Tpm,
    public: &crate::types::Public,
    name: &crate::types::Name,
    parent_handle: u32,
    external: bool,
    has_sensitive: bool,
) -> (ObjectFlags, u32, crate::types::Name) {
    let a = public.attributes;
    let mut flags = ObjectFlags {
        st_clear: a.st_clear(),
        external,
        ..Default::default()
    };
    let hierarchy = match tpm.object(parent_handle) {
        Some(p) => {
            flags.st_clear |= p.flags.st_clear;
            flags.temporary = p.flags.temporary || external;
            p.hierarchy
        }
        None => {
            flags.primary = parent_handle != rh::NULL && !external;
            flags.temporary = parent_handle == rh::NULL || external;
            parent_handle
        }
    };
    let qualified = if external {
        name.clone()
    } else {
        if a.restricted() && a.decrypt() && has_sensitive && public.name_alg != alg::NULL {
            if public.object_type() == alg::KEYEDHASH {
                flags.derivation = true;
            } else {
                flags.is_parent = true;
            }
        }
        qualified_name(tpm, parent_handle, public.name_alg, name)
    };
    (flags, hierarchy, qualified)
}

/// ComputeQualifiedName (Part 1 §16.3): nameAlg || H(parent QN || Name);
/// a hierarchy's QN is its handle.
pub(crate) fn qualified_name(
    tpm: &Tpm,
    parent_handle: u32,
    name_alg: u16,
    name: &crate::types::Name,
) -> crate::types::Name {
    let parent_qn = match tpm.object(parent_handle) {
        Some(p) => p.qualified_name.clone(),
        None => crate::types::Name::from_handle(parent_handle).unwrap_or_default(),
    };
    match HashAlg::from_id(name_alg) {
        Some(h) => crate::types::Name::qualified(h, &parent_qn, name),
        None => crate::types::Name::empty(),
    }
}
