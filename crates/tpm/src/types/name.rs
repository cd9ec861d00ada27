//! TPM2B_NAME (Part 2 §10.5.3) and the Name of an entity (Part 1 §16).
//!
//! An object's or NV index's Name is its nameAlg followed by the nameAlg
//! digest of its marshalled public area, so it commits to every attribute
//! and policy; an entity without a public area (a PCR, a session, a
//! permanent handle) is named by its handle. Authorization HMACs, policy
//! digests and attestation structures all bind Names, so the engine and
//! the verifier must compute them identically: both use this type.

use crate::constants::{alg, rh};
use crate::crypto::HashAlg;
use crate::wire::{Codec, Reader, WireError};

use super::MAX_DIGEST_SIZE;

/// sizeof(TPMU_NAME): a TPMT_HA (the larger member; the other is a
/// handle).
pub const NAME_MAX: usize = 2 + MAX_DIGEST_SIZE;

/// TPM2B_NAME: a Name of at most [`NAME_MAX`] bytes (larger is
/// TPM_RC_SIZE). Empty for an object whose nameAlg is TPM_ALG_NULL.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Name(Vec<u8>);

impl Name {
    /// A Name from its bytes; more than [`NAME_MAX`] is TPM_RC_SIZE.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Result<Self, WireError> {
        let v = bytes.into();
        if v.len() > NAME_MAX {
            return Err(WireError::Size);
        }
        Ok(Name(v))
    }

    /// The empty Name (an object with TPM_ALG_NULL nameAlg).
    pub fn empty() -> Self {
        Name(Vec::new())
    }

    /// nameAlg || H_nameAlg(`marshalled`) (Part 1 §16): the Name of an
    /// object (marshalled TPMT_PUBLIC) or NV index (marshalled
    /// TPMS_NV_PUBLIC).
    pub fn digest_of(name_alg: HashAlg, marshalled: &[u8]) -> Self {
        let mut v = name_alg.id().to_be_bytes().to_vec();
        v.extend_from_slice(&name_alg.digest(&[marshalled]));
        Name(v)
    }

    /// The Name of an object from its public area: empty when nameAlg is
    /// TPM_ALG_NULL (as the reference PublicMarshalAndComputeName does);
    /// `None` when nameAlg is not a hash this crate implements.
    pub fn from_public(public: &super::Public) -> Option<Self> {
        if public.name_alg == alg::NULL {
            return Some(Name::empty());
        }
        let h = HashAlg::from_id(public.name_alg)?;
        Some(Name::digest_of(h, &public.to_bytes()))
    }

    /// The Name of an NV index from its public area; `None` when nameAlg
    /// is not implemented here.
    pub fn from_nv_public(public: &super::NvPublic) -> Option<Self> {
        let h = HashAlg::from_id(public.name_alg)?;
        Some(Name::digest_of(h, &public.to_bytes()))
    }

    /// The Name of an entity named by its handle (Part 1 §16: PCRs,
    /// sessions, permanent handles): the big-endian handle. `None` for
    /// objects and NV indices, whose Names come from their public areas.
    pub fn from_handle(handle: u32) -> Option<Self> {
        match rh::handle_type(handle) {
            rh::HT_PCR | rh::HT_HMAC_SESSION | rh::HT_POLICY_SESSION | rh::HT_PERMANENT => {
                Some(Name(handle.to_be_bytes().to_vec()))
            }
            _ => None,
        }
    }

    /// The Qualified Name of an object (Part 1 §16.3): nameAlg ||
    /// H_nameAlg(parent's Qualified Name || Name). A hierarchy's Qualified
    /// Name is its handle ([`Name::from_handle`]).
    pub fn qualified(name_alg: HashAlg, parent_qualified: &Name, name: &Name) -> Self {
        let mut v = name_alg.id().to_be_bytes().to_vec();
        v.extend_from_slice(&name_alg.digest(&[&parent_qualified.0, &name.0]));
        Name(v)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The handle, for a handle-based (4-byte) Name.
    pub fn handle(&self) -> Option<u32> {
        let b: [u8; 4] = self.0.as_slice().try_into().ok()?;
        Some(u32::from_be_bytes(b))
    }

    /// The nameAlg of a digest Name (anything but empty or a handle).
    pub fn name_alg(&self) -> Option<u16> {
        if self.0.len() <= 4 {
            return None;
        }
        let b: [u8; 2] = self.0.get(..2)?.try_into().ok()?;
        Some(u16::from_be_bytes(b))
    }

    /// The digest of a digest Name.
    pub fn digest(&self) -> Option<&[u8]> {
        self.name_alg()?;
        self.0.get(2..)
    }
}

impl std::fmt::Debug for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Name(")?;
        for b in &self.0 {
            write!(f, "{b:02x}")?;
        }
        write!(f, ")")
    }
}

impl Codec for Name {
    fn encode(&self, out: &mut Vec<u8>) {
        (self.0.len() as u16).encode(out);
        out.extend_from_slice(&self.0);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let n = r.u16()? as usize;
        if n > NAME_MAX {
            return Err(WireError::Size);
        }
        Ok(Name(r.take(n)?.to_vec()))
    }
}
