//! Sensitive areas (Part 2 §11.1.11–§11.1.16, §12.3): the secret half of
//! an object, and the secrets a caller supplies when creating one.
//!
//! Every secret buffer here is a [`crate::wire::Tpm2bBytes`]: zeroized when
//! dropped and printed by `Debug` as its length only, so logging one of
//! these structures cannot leak a key.

use crate::constants::alg;
use crate::wire::{Codec, Reader, WireError};

use super::limits::read_secret_2b;
use super::sized::{decode_sized, decode_sized_opt, encode_sized};
use super::{
    AlgPolicy, AnyAlgorithm, Auth2b, EccPrivateKey, Label2b, PrivateKeyRsa, SeedValue,
    SensitiveData, SymKey,
};

/// TPMU_SENSITIVE_COMPOSITE (Part 2 §12.3.2.3): the private key material,
/// selected by the object type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SensitiveComposite {
    /// TPM_ALG_RSA: a prime factor (optionally followed by CRT values).
    Rsa(PrivateKeyRsa),
    /// TPM_ALG_ECC: the private scalar.
    Ecc(EccPrivateKey),
    /// TPM_ALG_KEYEDHASH: the HMAC key or the sealed data.
    KeyedHash(SensitiveData),
    /// TPM_ALG_SYMCIPHER: the symmetric key.
    SymCipher(SymKey),
}

impl SensitiveComposite {
    /// The object type (TPMI_ALG_PUBLIC) this member belongs to.
    pub fn object_type(&self) -> u16 {
        match self {
            SensitiveComposite::Rsa(_) => alg::RSA,
            SensitiveComposite::Ecc(_) => alg::ECC,
            SensitiveComposite::KeyedHash(_) => alg::KEYEDHASH,
            SensitiveComposite::SymCipher(_) => alg::SYMCIPHER,
        }
    }

    /// The secret bytes of whichever member this is.
    pub fn as_slice(&self) -> &[u8] {
        match self {
            SensitiveComposite::Rsa(v) => v.as_slice(),
            SensitiveComposite::Ecc(v) => v.as_slice(),
            SensitiveComposite::KeyedHash(v) => v.as_slice(),
            SensitiveComposite::SymCipher(v) => v.as_slice(),
        }
    }

    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            SensitiveComposite::Rsa(v) => v.encode(out),
            SensitiveComposite::Ecc(v) => v.encode(out),
            SensitiveComposite::KeyedHash(v) => v.encode(out),
            SensitiveComposite::SymCipher(v) => v.encode(out),
        }
    }

    /// Unmarshals the member for `object_type` under `p`'s limits
    /// (RSA_PRIVATE_SIZE, MAX_ECC_KEY_BYTES; larger is TPM_RC_SIZE).
    fn decode_with(
        object_type: u16,
        r: &mut Reader<'_>,
        p: &dyn AlgPolicy,
    ) -> Result<Self, WireError> {
        let l = p.limits();
        Ok(match object_type {
            alg::RSA => SensitiveComposite::Rsa(read_secret_2b(r, l.rsa_private_bytes())?),
            alg::ECC => SensitiveComposite::Ecc(read_secret_2b(r, l.ecc_key_bytes)?),
            alg::KEYEDHASH => SensitiveComposite::KeyedHash(SensitiveData::decode(r)?),
            alg::SYMCIPHER => SensitiveComposite::SymCipher(SymKey::decode(r)?),
            _ => return Err(WireError::Selector),
        })
    }
}

/// TPMT_SENSITIVE (Part 2 §12.3.2.4). The sensitiveType is the type of
/// `sensitive`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sensitive {
    /// The object's authValue.
    pub auth_value: Auth2b,
    /// For a parent, the seed protecting its children; for a keyed-hash or
    /// symmetric object, the obfuscation value in its unique field.
    pub seed_value: SeedValue,
    pub sensitive: SensitiveComposite,
}

impl Sensitive {
    /// The object type (sensitiveType).
    pub fn object_type(&self) -> u16 {
        self.sensitive.object_type()
    }

    /// Unmarshals as TPMT_SENSITIVE_Unmarshal: sensitiveType
    /// (TPMI_ALG_PUBLIC, TPM_RC_TYPE), authValue and seedValue (at most a
    /// digest, TPM_RC_SIZE), then the composite.
    pub fn decode_with(r: &mut Reader<'_>, p: &dyn AlgPolicy) -> Result<Self, WireError> {
        let t = r.u16()?;
        if !p.public_type(t) {
            return Err(WireError::Type);
        }
        Ok(Sensitive {
            auth_value: Auth2b::decode(r)?,
            seed_value: SeedValue::decode(r)?,
            sensitive: SensitiveComposite::decode_with(t, r, p)?,
        })
    }
}

impl Codec for Sensitive {
    fn encode(&self, out: &mut Vec<u8>) {
        self.object_type().encode(out);
        self.auth_value.encode(out);
        self.seed_value.encode(out);
        self.sensitive.encode(out);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Self::decode_with(r, &AnyAlgorithm)
    }
}

/// TPM2B_SENSITIVE (Part 2 §12.3.3): a sized TPMT_SENSITIVE that may be
/// empty (TPM2_LoadExternal of a public key only). A non-zero size the
/// area does not fill exactly is TPM_RC_SIZE.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sensitive2b(pub Option<Sensitive>);

impl Sensitive2b {
    pub fn decode_with(r: &mut Reader<'_>, p: &dyn AlgPolicy) -> Result<Self, WireError> {
        decode_sized_opt(r, |r| Sensitive::decode_with(r, p)).map(Sensitive2b)
    }
}

impl Codec for Sensitive2b {
    fn encode(&self, out: &mut Vec<u8>) {
        match &self.0 {
            None => 0u16.encode(out),
            Some(s) => encode_sized(out, |out| s.encode(out)),
        }
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Self::decode_with(r, &AnyAlgorithm)
    }
}

/// TPMS_SENSITIVE_CREATE (Part 2 §11.1.15): the authValue and (for sealed
/// data, HMAC and symmetric keys the caller chooses) the secret of an
/// object to be created.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SensitiveCreate {
    pub user_auth: Auth2b,
    pub data: SensitiveData,
}

impl Codec for SensitiveCreate {
    fn encode(&self, out: &mut Vec<u8>) {
        self.user_auth.encode(out);
        self.data.encode(out);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(SensitiveCreate {
            user_auth: Auth2b::decode(r)?,
            data: SensitiveData::decode(r)?,
        })
    }
}

/// TPM2B_SENSITIVE_CREATE (Part 2 §11.1.16): size 0, or a size the
/// structure does not fill exactly, is TPM_RC_SIZE.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SensitiveCreate2b(pub SensitiveCreate);

impl Codec for SensitiveCreate2b {
    fn encode(&self, out: &mut Vec<u8>) {
        encode_sized(out, |out| self.0.encode(out));
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        decode_sized(r, SensitiveCreate::decode).map(SensitiveCreate2b)
    }
}

/// TPMS_DERIVE (Part 2 §11.1.11): the label and context of a derived
/// object (TPM2_CreateLoaded under a derivation parent).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Derive {
    pub label: Label2b,
    pub context: Label2b,
}

impl Codec for Derive {
    fn encode(&self, out: &mut Vec<u8>) {
        self.label.encode(out);
        self.context.encode(out);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(Derive {
            label: Label2b::decode(r)?,
            context: Label2b::decode(r)?,
        })
    }
}
