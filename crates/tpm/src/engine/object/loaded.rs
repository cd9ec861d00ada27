//! A loaded object (Part 1 §15.3, §23): its public area, Name, Qualified
//! Name, sensitive area and the key material parsed from them once, so
//! every command that uses the key (Sign, RSA_Decrypt, ECDH_ZGen, HMAC,
//! EncryptDecrypt, ...) gets it without re-parsing.
//!
//! The same structure is what a persistent handle refers to and what a
//! saved object context carries, so it has one byte encoding
//! ([`LoadedObject::to_bytes`] / [`LoadedObject::from_bytes`]) used by
//! both. Decoding re-derives everything that can be derived (the Name, the
//! key pair) and refuses a blob whose parts disagree.

use zeroize::Zeroizing;

use crate::constants::alg;
use crate::crypto::{CryptoError, EccCurve, EccKeyPair, EccPoint, HashAlg, RsaKeyPair, RsaPublic};
use crate::types::{
    Name, Public, Public2b, PublicId, PublicParms, Sensitive, Sensitive2b, SensitiveComposite,
};
use crate::wire::{Codec, Reader, WireError};

use super::super::algorithms::Implemented;

/// Object properties that are not in the public area (the reference
/// code's OBJECT_ATTRIBUTES): where the object came from and what it may
/// be used for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct ObjectFlags {
    /// Created by TPM2_CreatePrimary (or CreateLoaded under a hierarchy).
    pub primary: bool,
    /// In the NULL hierarchy or loaded with TPM2_LoadExternal: may not be
    /// made persistent.
    pub temporary: bool,
    /// Loaded with TPM2_LoadExternal.
    pub external: bool,
    /// stClear, set in the public area or inherited from the parent: its
    /// contexts do not survive TPM Restart.
    pub st_clear: bool,
    /// A storage parent (restricted decryption key with a sensitive area).
    pub is_parent: bool,
    /// A derivation parent (restricted decryption KEYEDHASH key).
    pub derivation: bool,
}

impl ObjectFlags {
    fn bits(self) -> u8 {
        u8::from(self.primary)
            | u8::from(self.temporary) << 1
            | u8::from(self.external) << 2
            | u8::from(self.st_clear) << 3
            | u8::from(self.is_parent) << 4
            | u8::from(self.derivation) << 5
    }

    fn from_bits(b: u8) -> Result<Self, WireError> {
        if b & 0xC0 != 0 {
            return Err(WireError::Value);
        }
        Ok(ObjectFlags {
            primary: b & 1 != 0,
            temporary: b & 2 != 0,
            external: b & 4 != 0,
            st_clear: b & 8 != 0,
            is_parent: b & 16 != 0,
            derivation: b & 32 != 0,
        })
    }
}

/// The asymmetric key of an object, parsed from its public and sensitive
/// areas. Symmetric and keyed-hash objects keep their key in the
/// sensitive area ([`LoadedObject::sym_key`], [`LoadedObject::hmac_key`]).
#[derive(Clone, Debug)]
#[allow(clippy::large_enum_variant)] // One per loaded object; boxing buys nothing.
pub(crate) enum AsymKey {
    None,
    RsaPublic(RsaPublic),
    Rsa(RsaKeyPair),
    EccPublic(EccCurve, EccPoint),
    Ecc(EccKeyPair),
}

/// One loaded object.
#[derive(Clone, Debug)]
pub(crate) struct LoadedObject {
    pub public: Public,
    /// nameAlg || H(public) (empty when nameAlg is TPM_ALG_NULL).
    pub name: Name,
    /// Part 1 §16.3: H(parent's QN || Name); the Name for external objects.
    pub qualified_name: Name,
    /// None for a public-only object (TPM2_LoadExternal without a
    /// sensitive area).
    pub sensitive: Option<Sensitive>,
    /// TPM_RH_OWNER, _ENDORSEMENT, _PLATFORM or _NULL.
    pub hierarchy: u32,
    pub flags: ObjectFlags,
    key: AsymKey,
}

/// Whether an ECC private scalar must be checked against the public point
/// (d·G, most of an ECC Load's time) when a key is built.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Binding {
    /// Recompute and compare: parts from outside, or of unknown origin.
    Check,
    /// The parts were checked when this TPM made the blob: a child of a
    /// fixedTPM parent, whose private area only this TPM can have
    /// produced (its integrity HMAC is keyed from the parent's seed, Part 1
    /// §23.3.1), after Create or after Import checked it. The reference's
    /// ObjectLoad skips CryptValidateKeys for these too.
    MadeHere,
}

/// Parses the key material of `public` (and `sensitive`, if present).
/// Errors are the crypto module's, mapped by the caller: an RSA prime that
/// does not divide the modulus or an ECC scalar that does not produce the
/// public point is [`CryptoError::Binding`].
pub(crate) fn build_key(
    public: &Public,
    sensitive: Option<&Sensitive>,
    binding: Binding,
) -> Result<AsymKey, CryptoError> {
    match (&public.parameters, &public.unique) {
        (PublicParms::Rsa(p), PublicId::Rsa(n)) => match sensitive.map(|s| &s.sensitive) {
            Some(SensitiveComposite::Rsa(prime)) => Ok(AsymKey::Rsa(RsaKeyPair::from_prime(
                n.as_slice(),
                p.exponent,
                prime.as_slice(),
            )?)),
            Some(_) => Err(CryptoError::Key),
            None => Ok(AsymKey::RsaPublic(RsaPublic::new(
                n.as_slice(),
                p.exponent,
            )?)),
        },
        (PublicParms::Ecc(p), PublicId::Ecc(q)) => {
            let curve = EccCurve::from_id(p.curve_id).ok_or(CryptoError::Curve)?;
            let point = EccPoint::new(q.x.as_slice(), q.y.as_slice());
            match sensitive.map(|s| &s.sensitive) {
                Some(SensitiveComposite::Ecc(d)) => {
                    if public.name_alg == alg::NULL {
                        Ok(AsymKey::Ecc(EccKeyPair::from_private(curve, d.as_slice())?))
                    } else if binding == Binding::MadeHere {
                        Ok(AsymKey::Ecc(EccKeyPair::from_checked_parts(
                            curve,
                            d.as_slice(),
                            &point,
                        )?))
                    } else {
                        Ok(AsymKey::Ecc(EccKeyPair::from_parts(
                            curve,
                            d.as_slice(),
                            &point,
                        )?))
                    }
                }
                Some(_) => Err(CryptoError::Key),
                None => Ok(AsymKey::EccPublic(curve, point)),
            }
        }
        _ => Ok(AsymKey::None),
    }
}

impl LoadedObject {
    /// An object from its parts; the Name is computed from `public`.
    pub fn new(
        public: Public,
        sensitive: Option<Sensitive>,
        key: AsymKey,
        hierarchy: u32,
        flags: ObjectFlags,
        qualified_name: Option<Name>,
    ) -> LoadedObject {
        let name = public.name().unwrap_or_default();
        let qualified_name = qualified_name.unwrap_or_else(|| name.clone());
        LoadedObject {
            public,
            name,
            qualified_name,
            sensitive,
            hierarchy,
            flags,
            key,
        }
    }

    /// The public area (TPMT_PUBLIC).
    #[allow(dead_code)] // For the key-using commands (Sign, HMAC, ...).
    pub fn public(&self) -> &Public {
        &self.public
    }

    /// The object's nameAlg as a hash, None for TPM_ALG_NULL.
    pub fn name_alg(&self) -> Option<HashAlg> {
        HashAlg::from_id(self.public.name_alg)
    }

    /// Whether only the public area is loaded.
    pub fn is_public_only(&self) -> bool {
        self.sensitive.is_none()
    }

    /// The authValue (empty for a public-only object).
    pub fn auth_value(&self) -> &[u8] {
        self.sensitive
            .as_ref()
            .map_or(&[][..], |s| s.auth_value.as_slice())
    }

    /// The seed protecting this object's children (Part 1 §23.2).
    pub fn seed_value(&self) -> Option<&[u8]> {
        self.sensitive.as_ref().map(|s| s.seed_value.as_slice())
    }

    /// The RSA key pair, if this is an RSA object with its private part.
    pub fn rsa_key_pair(&self) -> Option<&RsaKeyPair> {
        match &self.key {
            AsymKey::Rsa(k) => Some(k),
            _ => None,
        }
    }

    /// The RSA public key of any RSA object.
    pub fn rsa_public(&self) -> Option<RsaPublic> {
        match &self.key {
            AsymKey::Rsa(k) => Some(k.public()),
            AsymKey::RsaPublic(k) => Some(k.clone()),
            _ => None,
        }
    }

    /// The ECC key pair, if this is an ECC object with its private part.
    pub fn ecc_key_pair(&self) -> Option<&EccKeyPair> {
        match &self.key {
            AsymKey::Ecc(k) => Some(k),
            _ => None,
        }
    }

    /// The curve and public point of any ECC object.
    pub fn ecc_public(&self) -> Option<(EccCurve, EccPoint)> {
        match &self.key {
            AsymKey::Ecc(k) => Some((k.curve(), k.public().clone())),
            AsymKey::EccPublic(c, p) => Some((*c, p.clone())),
            _ => None,
        }
    }

    /// The key of a SYMCIPHER object.
    #[allow(dead_code)] // For TPM2_EncryptDecrypt.
    pub fn sym_key(&self) -> Option<&[u8]> {
        match self.sensitive.as_ref().map(|s| &s.sensitive) {
            Some(SensitiveComposite::SymCipher(k)) => Some(k.as_slice()),
            _ => None,
        }
    }

    /// The key (or sealed data) of a KEYEDHASH object.
    pub fn hmac_key(&self) -> Option<&[u8]> {
        match self.sensitive.as_ref().map(|s| &s.sensitive) {
            Some(SensitiveComposite::KeyedHash(k)) => Some(k.as_slice()),
            _ => None,
        }
    }

    /// Whether this is a storage key: a restricted decryption asymmetric
    /// key that does not sign (the reference's ObjectIsStorage), usable as
    /// the new parent of TPM2_Duplicate even when public-only.
    pub fn is_storage(&self) -> bool {
        let a = self.public.attributes;
        a.restricted()
            && a.decrypt()
            && !a.sign_encrypt()
            && matches!(self.public.object_type(), alg::RSA | alg::ECC)
    }

    /// The byte encoding used for persistent objects and saved contexts:
    /// version, flags, hierarchy, TPM2B_PUBLIC, the Qualified Name and
    /// TPM2B_SENSITIVE (size 0 when public-only).
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(1024));
        ENCODING_VERSION.encode(&mut out);
        self.flags.bits().encode(&mut out);
        self.hierarchy.encode(&mut out);
        Public2b(self.public.clone()).encode(&mut out);
        self.qualified_name.encode(&mut out);
        Sensitive2b(self.sensitive.clone()).encode(&mut out);
        out
    }

    /// Inverse of [`LoadedObject::to_bytes`], with this TPM's algorithm
    /// checks; the whole input must be consumed. The key is rebuilt and
    /// checked against the public area (a mismatch is
    /// [`WireError::Value`]).
    pub fn from_bytes(bytes: &[u8]) -> Result<LoadedObject, WireError> {
        let mut r = Reader::new(bytes);
        if r.u8()? != ENCODING_VERSION {
            return Err(WireError::Value);
        }
        let flags = ObjectFlags::from_bits(r.u8()?)?;
        let hierarchy = r.u32()?;
        if !matches!(
            hierarchy,
            crate::constants::rh::OWNER
                | crate::constants::rh::ENDORSEMENT
                | crate::constants::rh::PLATFORM
                | crate::constants::rh::NULL
        ) {
            return Err(WireError::Value);
        }
        let public = decode_public(&mut r)?;
        let qualified_name = Name::decode(&mut r)?;
        let sensitive = Sensitive2b::decode_with(&mut r, &Implemented)?.0;
        if !r.is_empty() {
            return Err(WireError::Size);
        }
        if let Some(s) = &sensitive {
            if s.object_type() != public.object_type() {
                return Err(WireError::Type);
            }
        }
        let key =
            build_key(&public, sensitive.as_ref(), Binding::Check).map_err(|_| WireError::Value)?;
        Ok(LoadedObject::new(
            public,
            sensitive,
            key,
            hierarchy,
            flags,
            Some(qualified_name),
        ))
    }
}

/// Version of [`LoadedObject::to_bytes`].
const ENCODING_VERSION: u8 = 1;

/// A TPM2B_PUBLIC with this TPM's algorithm checks; TPM_ALG_NULL nameAlg
/// allowed (external objects).
fn decode_public(r: &mut Reader<'_>) -> Result<Public, WireError> {
    Ok(Public2b::decode_with(r, &Implemented, true)?.0)
}
