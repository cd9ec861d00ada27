//! Transient entities in TPM memory (Part 1 §15.3): loaded objects and
//! sequence objects, addressed by TPM_HT_TRANSIENT handles.

use crate::constants::rh;
use crate::rc::Rc;

use super::sequence::SequenceObject;
use super::Tpm;

/// Object slots: how many transient entities may be loaded at once
/// (TPM_PT_HR_TRANSIENT_MIN / MAX_LOADED_OBJECTS).
pub(crate) const MAX_LOADED_OBJECTS: usize = 3;

/// A loaded transient entity.
pub(crate) enum Transient {
    /// A hash, HMAC or event sequence (Part 3 §17).
    Sequence(Box<SequenceObject>),
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
}

/// Decrypts a StartAuthSession salt with the private key of `handle`
/// (Part 1 §19.6.9). Only asymmetric decryption keys can; today no such
/// object can be loaded, so every handle is refused as TPM_RC_KEY.
pub(crate) fn decrypt_salt(
    _tpm: &mut Tpm,
    _handle: u32,
    _encrypted: &[u8],
) -> Result<zeroize::Zeroizing<Vec<u8>>, Rc> {
    Err(Rc::KEY.handle(1))
}

/// The authValue of a loaded object (or sequence).
pub(crate) fn auth_value(tpm: &Tpm, handle: u32) -> Result<zeroize::Zeroizing<Vec<u8>>, Rc> {
    match tpm.transient(handle) {
        Some(Transient::Sequence(s)) => Ok(zeroize::Zeroizing::new(s.auth.to_vec())),
        None => Err(Rc::HANDLE),
    }
}

/// The authPolicy of a loaded object; sequences have none.
pub(crate) fn auth_policy(_tpm: &Tpm, _handle: u32) -> Option<(crate::crypto::HashAlg, Vec<u8>)> {
    None
}

/// The Name of a loaded object; a sequence object (nameAlg TPM_ALG_NULL)
/// has the empty Name.
pub(crate) fn name(_tpm: &Tpm, _handle: u32) -> Vec<u8> {
    Vec::new()
}

/// Whether authorization failures on the object count against the
/// dictionary-attack lockout (TPMA_OBJECT.noDA clear).
pub(crate) fn is_da_protected(_tpm: &Tpm, _handle: u32) -> bool {
    false
}
