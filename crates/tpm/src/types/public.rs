//! The public area of an object (Part 2 §12.2): TPMU_PUBLIC_ID,
//! TPMT_PUBLIC and TPM2B_PUBLIC.
//!
//! The public area is what a Name commits to, what TPM2_CreatePrimary
//! derives a key from and what the verifier checks an attestation key
//! against, so it round-trips byte for byte: `decode` then `encode` gives
//! back the input.

use crate::constants::alg;
use crate::wire::{Codec, Reader, WireError};

use super::limits::read_2b;
use super::public_parms::read_hash_or_null;
use super::sized::{decode_sized, encode_sized};
use super::{
    AlgPolicy, AnyAlgorithm, Digest2b, EccPoint, Name, ObjectAttributes, PublicKeyRsa, PublicParms,
};

/// TPMU_PUBLIC_ID (Part 2 §12.2.3.2): the unique identifier of an object,
/// selected by its type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PublicId {
    /// TPM_ALG_RSA: the modulus.
    Rsa(PublicKeyRsa),
    /// TPM_ALG_KEYEDHASH: H(seedValue || sensitive data).
    KeyedHash(Digest2b),
    /// TPM_ALG_ECC: the public point.
    Ecc(EccPoint),
    /// TPM_ALG_SYMCIPHER: H(seedValue || key).
    SymCipher(Digest2b),
}

impl PublicId {
    /// The object type (TPM_ALG_ID) that selects this member.
    pub fn object_type(&self) -> u16 {
        match self {
            PublicId::Rsa(_) => alg::RSA,
            PublicId::KeyedHash(_) => alg::KEYEDHASH,
            PublicId::Ecc(_) => alg::ECC,
            PublicId::SymCipher(_) => alg::SYMCIPHER,
        }
    }

    /// The empty member for `object_type` (a template's unique field), or
    /// `None` for a value that is not an object type.
    pub fn empty(object_type: u16) -> Option<Self> {
        Some(match object_type {
            alg::RSA => PublicId::Rsa(PublicKeyRsa::empty()),
            alg::KEYEDHASH => PublicId::KeyedHash(Digest2b::empty()),
            alg::ECC => PublicId::Ecc(EccPoint::default()),
            alg::SYMCIPHER => PublicId::SymCipher(Digest2b::empty()),
            _ => return None,
        })
    }

    /// Marshals the member without its selector.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            PublicId::Rsa(n) => n.encode(out),
            PublicId::KeyedHash(d) | PublicId::SymCipher(d) => d.encode(out),
            PublicId::Ecc(p) => p.encode(out),
        }
    }

    /// Unmarshals the member selected by `object_type`, with the key
    /// buffer bounds of `p`; an unknown selector is TPM_RC_SELECTOR.
    pub fn decode_with(
        object_type: u16,
        r: &mut Reader<'_>,
        p: &dyn AlgPolicy,
    ) -> Result<Self, WireError> {
        Ok(match object_type {
            alg::RSA => PublicId::Rsa(read_2b(r, p.limits().rsa_key_bytes)?),
            alg::KEYEDHASH => PublicId::KeyedHash(Digest2b::decode(r)?),
            alg::ECC => PublicId::Ecc(EccPoint::decode_with(r, p)?),
            alg::SYMCIPHER => PublicId::SymCipher(Digest2b::decode(r)?),
            _ => return Err(WireError::Selector),
        })
    }
}

/// TPMT_PUBLIC (Part 2 §12.2.4). The object type is not stored: it is the
/// type of `parameters`, and `unique` must be the member of the same type
/// ([`Public::new`] checks this; decoding guarantees it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Public {
    /// TPMI_ALG_HASH+: the Name algorithm; TPM_ALG_NULL only for
    /// public-only objects loaded with TPM2_LoadExternal.
    pub name_alg: u16,
    pub attributes: ObjectAttributes,
    /// The policy digest for ADMIN (and, if !userWithAuth, USER) actions.
    pub auth_policy: Digest2b,
    pub parameters: PublicParms,
    pub unique: PublicId,
}

impl Public {
    /// A public area; `unique` of another type than `parameters` is
    /// TPM_RC_TYPE.
    pub fn new(
        name_alg: u16,
        attributes: ObjectAttributes,
        auth_policy: Digest2b,
        parameters: PublicParms,
        unique: PublicId,
    ) -> Result<Self, WireError> {
        if unique.object_type() != parameters.object_type() {
            return Err(WireError::Type);
        }
        Ok(Public {
            name_alg,
            attributes,
            auth_policy,
            parameters,
            unique,
        })
    }

    /// The object type (TPMI_ALG_PUBLIC).
    pub fn object_type(&self) -> u16 {
        self.parameters.object_type()
    }

    /// The object's Name ([`Name::from_public`]).
    pub fn name(&self) -> Option<Name> {
        Name::from_public(self)
    }

    /// Unmarshals field by field as TPMT_PUBLIC_Unmarshal does: type
    /// (TPM_RC_TYPE), nameAlg (TPM_RC_HASH; NULL only if `allow_null_name`),
    /// attributes (TPM_RC_RESERVED_BITS), authPolicy, parameters (per
    /// [`PublicParms::decode_details`]) and unique (bounded by `p`'s
    /// limits, TPM_RC_SIZE).
    pub fn decode_with(
        r: &mut Reader<'_>,
        p: &dyn AlgPolicy,
        allow_null_name: bool,
    ) -> Result<Self, WireError> {
        let t = r.u16()?;
        if !p.public_type(t) {
            return Err(WireError::Type);
        }
        let name_alg = read_hash_or_null(r, p, allow_null_name)?;
        let attributes = ObjectAttributes::decode(r)?;
        let auth_policy = Digest2b::decode(r)?;
        let parameters = PublicParms::decode_details(t, r, p)?;
        let unique = PublicId::decode_with(t, r, p)?;
        Ok(Public {
            name_alg,
            attributes,
            auth_policy,
            parameters,
            unique,
        })
    }
}

impl Codec for Public {
    fn encode(&self, out: &mut Vec<u8>) {
        self.object_type().encode(out);
        self.name_alg.encode(out);
        self.attributes.encode(out);
        self.auth_policy.encode(out);
        self.parameters.encode_details(out);
        self.unique.encode(out);
    }
    /// Lenient decode for structures from any TPM: [`AnyAlgorithm`], NULL
    /// nameAlg allowed.
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Self::decode_with(r, &AnyAlgorithm, true)
    }
}

/// TPM2B_PUBLIC (Part 2 §12.2.5): a sized TPMT_PUBLIC. Size 0, or a size
/// the public area does not fill exactly, is TPM_RC_SIZE.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Public2b(pub Public);

impl Public2b {
    /// Unmarshals under `p` ([`Public::decode_with`]); `allow_null_name` is
    /// the "+" of TPM2B_PUBLIC+ (TPM2_LoadExternal only).
    pub fn decode_with(
        r: &mut Reader<'_>,
        p: &dyn AlgPolicy,
        allow_null_name: bool,
    ) -> Result<Self, WireError> {
        decode_sized(r, |r| Public::decode_with(r, p, allow_null_name)).map(Public2b)
    }
}

impl Codec for Public2b {
    fn encode(&self, out: &mut Vec<u8>) {
        encode_sized(out, |out| self.0.encode(out));
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Self::decode_with(r, &AnyAlgorithm, true)
    }
}
