//! Public-area algorithm parameters (Part 2 §12.2.3): TPMT_PUBLIC_PARMS and
//! the TPMU_PUBLIC_PARMS members for RSA, ECC, keyed-hash and symmetric
//! objects, with the symmetric definition, schemes and KDFs they carry.
//!
//! The reference implementation's unmarshallers accept only values the TPM
//! implements, and which response code a bad value earns depends on the
//! field (TPM_RC_SYMMETRIC, _VALUE, _MODE, _HASH, _SCHEME, _CURVE, _KDF,
//! _TYPE; Part 2 §9 "TPMI_" types). The verifier, in contrast, must parse
//! structures made by other TPMs. So decoding takes an [`AlgPolicy`]: the
//! engine passes its implemented-algorithm table and gets the reference
//! codes field by field in wire order; [`Codec::decode`] uses
//! [`AnyAlgorithm`], which accepts every value whose wire layout is known.
//!
//! TPMT_PUBLIC ([`super::Public`]) reuses [`PublicParms::decode_details`]
//! and [`PublicParms::encode_details`] for its `parameters` field, which has
//! the same layout without the leading type.

use crate::constants::{alg, curve};
use crate::wire::{Codec, Reader, WireError};

use super::Limits;

/// Which algorithm values a decoder accepts, per TPMI_ type. Each method
/// answers for one interface type of Part 2 §9; TPM_ALG_NULL is handled by
/// the decoder (it knows where "+" allows it), never passed here.
pub trait AlgPolicy {
    /// TPMI_ALG_PUBLIC: object types.
    fn public_type(&self, id: u16) -> bool;
    /// TPMI_ALG_HASH.
    fn hash(&self, id: u16) -> bool;
    /// TPMI_ALG_SYM_OBJECT: block ciphers for objects.
    fn sym_object(&self, id: u16) -> bool;
    /// TPMI_AES_KEY_BITS, TPMI_SM4_KEY_BITS, ... for cipher `id`.
    fn sym_key_bits(&self, id: u16, bits: u16) -> bool;
    /// TPMI_ALG_SYM_MODE.
    fn sym_mode(&self, id: u16) -> bool;
    /// TPMI_ALG_RSA_SCHEME.
    fn rsa_scheme(&self, id: u16) -> bool;
    /// TPMI_RSA_KEY_BITS.
    fn rsa_key_bits(&self, bits: u16) -> bool;
    /// TPMI_ALG_ECC_SCHEME.
    fn ecc_scheme(&self, id: u16) -> bool;
    /// TPMI_ECC_CURVE.
    fn ecc_curve(&self, id: u16) -> bool;
    /// TPMI_ALG_KDF.
    fn kdf(&self, id: u16) -> bool;
    /// TPMI_ALG_KEYEDHASH_SCHEME.
    fn keyedhash_scheme(&self, id: u16) -> bool;

    /// TPMI_ALG_SIG_SCHEME (Part 2 §11.2.1): the signing members of the
    /// RSA, ECC and keyed-hash scheme sets, so it can never disagree with
    /// them.
    fn sig_scheme(&self, id: u16) -> bool {
        match id {
            alg::RSASSA | alg::RSAPSS => self.rsa_scheme(id),
            alg::ECDSA | alg::ECDAA | alg::SM2 | alg::ECSCHNORR => self.ecc_scheme(id),
            alg::HMAC => self.keyedhash_scheme(id),
            _ => false,
        }
    }

    /// TPMI_ALG_SYM (Part 2 §9.27): the object block ciphers plus XOR
    /// (parameter obfuscation), which is implemented exactly when the XOR
    /// keyed-hash scheme is.
    fn sym(&self, id: u16) -> bool {
        if id == alg::XOR {
            self.keyedhash_scheme(id)
        } else {
            self.sym_object(id)
        }
    }

    /// The buffer bounds (MAX_RSA_KEY_BYTES, ...) to enforce; this TPM's
    /// profile unless the policy says otherwise.
    fn limits(&self) -> Limits {
        Limits::PROFILE
    }
}

/// Accepts every value whose layout is defined by Part 2, whether or not
/// this TPM implements it: for parsing structures produced elsewhere.
#[derive(Clone, Copy, Debug, Default)]
pub struct AnyAlgorithm;

impl AlgPolicy for AnyAlgorithm {
    fn public_type(&self, id: u16) -> bool {
        matches!(id, alg::RSA | alg::KEYEDHASH | alg::ECC | alg::SYMCIPHER)
    }
    fn hash(&self, id: u16) -> bool {
        // A hash identifier does not change the layout of what follows.
        id != alg::ERROR && id != alg::NULL
    }
    fn sym_object(&self, id: u16) -> bool {
        matches!(id, alg::AES | alg::SM4 | alg::CAMELLIA | alg::TDES)
    }
    fn sym_key_bits(&self, _id: u16, _bits: u16) -> bool {
        true
    }
    fn sym_mode(&self, id: u16) -> bool {
        matches!(id, alg::CTR | alg::OFB | alg::CBC | alg::CFB | alg::ECB)
    }
    fn rsa_scheme(&self, id: u16) -> bool {
        matches!(id, alg::RSASSA | alg::RSAES | alg::RSAPSS | alg::OAEP)
    }
    fn rsa_key_bits(&self, _bits: u16) -> bool {
        true
    }
    fn ecc_scheme(&self, id: u16) -> bool {
        matches!(
            id,
            alg::ECDSA | alg::ECDH | alg::ECDAA | alg::SM2 | alg::ECSCHNORR | alg::ECMQV
        )
    }
    fn ecc_curve(&self, id: u16) -> bool {
        id != curve::NONE
    }
    fn kdf(&self, id: u16) -> bool {
        matches!(
            id,
            alg::MGF1 | alg::KDF1_SP800_56A | alg::KDF2 | alg::KDF1_SP800_108
        )
    }
    fn keyedhash_scheme(&self, id: u16) -> bool {
        matches!(id, alg::HMAC | alg::XOR)
    }
    fn limits(&self) -> Limits {
        Limits::ANY
    }
}

/// TPMI_ALG_HASH without NULL (TPMS_SCHEME_HASH.hashAlg): TPM_RC_HASH.
pub(crate) fn read_hash(r: &mut Reader<'_>, p: &dyn AlgPolicy) -> Result<u16, WireError> {
    read_hash_or_null(r, p, false)
}

/// TPMI_ALG_HASH, with TPM_ALG_NULL accepted when `allow_null` (the "+"
/// of the interface type); anything else refused is TPM_RC_HASH.
pub(crate) fn read_hash_or_null(
    r: &mut Reader<'_>,
    p: &dyn AlgPolicy,
    allow_null: bool,
) -> Result<u16, WireError> {
    let h = r.u16()?;
    let ok = if h == alg::NULL {
        allow_null
    } else {
        p.hash(h)
    };
    if !ok {
        return Err(WireError::Hash);
    }
    Ok(h)
}

/// TPMT_SYM_DEF_OBJECT (Part 2 §11.1.7): the symmetric algorithm of a
/// storage key or symmetric cipher object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SymDefObject {
    Null,
    /// A block cipher (AES, SM4, ...), key size in bits and mode (the mode
    /// may be TPM_ALG_NULL, which TPMI_ALG_SYM_MODE+ allows).
    Cipher {
        alg: u16,
        key_bits: u16,
        mode: u16,
    },
}

impl SymDefObject {
    /// The algorithm identifier (TPM_ALG_NULL for `Null`).
    pub fn alg(&self) -> u16 {
        match self {
            SymDefObject::Null => alg::NULL,
            SymDefObject::Cipher { alg, .. } => *alg,
        }
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            SymDefObject::Null => alg::NULL.encode(out),
            SymDefObject::Cipher {
                alg,
                key_bits,
                mode,
            } => {
                alg.encode(out);
                key_bits.encode(out);
                mode.encode(out);
            }
        }
    }

    /// Unmarshals with TPMI_ALG_SYM_OBJECT (`allow_null` is its "+"):
    /// a bad algorithm is TPM_RC_SYMMETRIC, a bad key size TPM_RC_VALUE
    /// (TPMI_AES_KEY_BITS etc.), a bad mode TPM_RC_MODE.
    pub fn decode_with(
        r: &mut Reader<'_>,
        p: &dyn AlgPolicy,
        allow_null: bool,
    ) -> Result<Self, WireError> {
        let a = r.u16()?;
        if a == alg::NULL {
            return if allow_null {
                Ok(SymDefObject::Null)
            } else {
                Err(WireError::Symmetric)
            };
        }
        if !p.sym_object(a) {
            return Err(WireError::Symmetric);
        }
        let (key_bits, mode) = read_cipher_details(a, r, p)?;
        Ok(SymDefObject::Cipher {
            alg: a,
            key_bits,
            mode,
        })
    }
}

/// TPMU_SYM_KEY_BITS and TPMU_SYM_MODE of block cipher `a` (Part 2
/// §11.1.3–§11.1.4), shared by TPMT_SYM_DEF_OBJECT and TPMT_SYM_DEF: a key
/// size the cipher's TPMI_*_KEY_BITS refuses is TPM_RC_VALUE, a mode
/// TPMI_ALG_SYM_MODE+ refuses is TPM_RC_MODE.
pub(crate) fn read_cipher_details(
    a: u16,
    r: &mut Reader<'_>,
    p: &dyn AlgPolicy,
) -> Result<(u16, u16), WireError> {
    let key_bits = r.u16()?;
    if !p.sym_key_bits(a, key_bits) {
        return Err(WireError::Value);
    }
    let mode = r.u16()?;
    if mode != alg::NULL && !p.sym_mode(mode) {
        return Err(WireError::Mode);
    }
    Ok((key_bits, mode))
}

/// TPMT_RSA_SCHEME / TPMT_ECC_SCHEME with TPMU_ASYM_SCHEME (Part 2
/// §11.2.3–§11.2.5): the scheme of an asymmetric key and its parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AsymScheme {
    Null,
    Rsassa(u16),
    Rsaes,
    Rsapss(u16),
    Oaep(u16),
    Ecdsa(u16),
    Ecdh(u16),
    Ecdaa { hash: u16, count: u16 },
    Sm2(u16),
    Ecschnorr(u16),
    Ecmqv(u16),
}

impl AsymScheme {
    /// The scheme's TPM_ALG_ID.
    pub fn id(&self) -> u16 {
        match self {
            AsymScheme::Null => alg::NULL,
            AsymScheme::Rsassa(_) => alg::RSASSA,
            AsymScheme::Rsaes => alg::RSAES,
            AsymScheme::Rsapss(_) => alg::RSAPSS,
            AsymScheme::Oaep(_) => alg::OAEP,
            AsymScheme::Ecdsa(_) => alg::ECDSA,
            AsymScheme::Ecdh(_) => alg::ECDH,
            AsymScheme::Ecdaa { .. } => alg::ECDAA,
            AsymScheme::Sm2(_) => alg::SM2,
            AsymScheme::Ecschnorr(_) => alg::ECSCHNORR,
            AsymScheme::Ecmqv(_) => alg::ECMQV,
        }
    }

    /// The scheme's hash algorithm, if it has one.
    pub fn hash(&self) -> Option<u16> {
        match *self {
            AsymScheme::Null | AsymScheme::Rsaes => None,
            AsymScheme::Rsassa(h)
            | AsymScheme::Rsapss(h)
            | AsymScheme::Oaep(h)
            | AsymScheme::Ecdsa(h)
            | AsymScheme::Ecdh(h)
            | AsymScheme::Sm2(h)
            | AsymScheme::Ecschnorr(h)
            | AsymScheme::Ecmqv(h) => Some(h),
            AsymScheme::Ecdaa { hash, .. } => Some(hash),
        }
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        self.id().encode(out);
        if let AsymScheme::Ecdaa { hash, count } = self {
            hash.encode(out);
            count.encode(out);
        } else if let Some(h) = self.hash() {
            h.encode(out);
        }
    }

    /// Unmarshals the details (TPMU_ASYM_SCHEME) selected by `id`, already
    /// accepted by the caller's TPMI_ check.
    fn decode_details(id: u16, r: &mut Reader<'_>, p: &dyn AlgPolicy) -> Result<Self, WireError> {
        Ok(match id {
            alg::NULL => AsymScheme::Null,
            alg::RSAES => AsymScheme::Rsaes,
            alg::ECDAA => {
                let hash = read_hash(r, p)?;
                AsymScheme::Ecdaa {
                    hash,
                    count: r.u16()?,
                }
            }
            alg::RSASSA => AsymScheme::Rsassa(read_hash(r, p)?),
            alg::RSAPSS => AsymScheme::Rsapss(read_hash(r, p)?),
            alg::OAEP => AsymScheme::Oaep(read_hash(r, p)?),
            alg::ECDSA => AsymScheme::Ecdsa(read_hash(r, p)?),
            alg::ECDH => AsymScheme::Ecdh(read_hash(r, p)?),
            alg::SM2 => AsymScheme::Sm2(read_hash(r, p)?),
            alg::ECSCHNORR => AsymScheme::Ecschnorr(read_hash(r, p)?),
            alg::ECMQV => AsymScheme::Ecmqv(read_hash(r, p)?),
            _ => return Err(WireError::Selector),
        })
    }

    /// TPMT_RSA_SCHEME+: a scheme TPMI_ALG_RSA_SCHEME refuses is
    /// TPM_RC_VALUE.
    pub fn decode_rsa(r: &mut Reader<'_>, p: &dyn AlgPolicy) -> Result<Self, WireError> {
        let id = r.u16()?;
        if id != alg::NULL && !(p.rsa_scheme(id) && AnyAlgorithm.rsa_scheme(id)) {
            return Err(WireError::Value);
        }
        Self::decode_details(id, r, p)
    }

    /// TPMT_ECC_SCHEME+: a scheme TPMI_ALG_ECC_SCHEME refuses is
    /// TPM_RC_SCHEME.
    pub fn decode_ecc(r: &mut Reader<'_>, p: &dyn AlgPolicy) -> Result<Self, WireError> {
        let id = r.u16()?;
        if id != alg::NULL && !(p.ecc_scheme(id) && AnyAlgorithm.ecc_scheme(id)) {
            return Err(WireError::Scheme);
        }
        Self::decode_details(id, r, p)
    }
}

/// TPMT_KDF_SCHEME (Part 2 §11.2.3.3) with TPMU_KDF_SCHEME.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KdfScheme {
    Null,
    Mgf1(u16),
    Kdf1Sp800_56a(u16),
    Kdf2(u16),
    Kdf1Sp800_108(u16),
}

impl KdfScheme {
    pub fn id(&self) -> u16 {
        match self {
            KdfScheme::Null => alg::NULL,
            KdfScheme::Mgf1(_) => alg::MGF1,
            KdfScheme::Kdf1Sp800_56a(_) => alg::KDF1_SP800_56A,
            KdfScheme::Kdf2(_) => alg::KDF2,
            KdfScheme::Kdf1Sp800_108(_) => alg::KDF1_SP800_108,
        }
    }

    pub fn hash(&self) -> Option<u16> {
        match *self {
            KdfScheme::Null => None,
            KdfScheme::Mgf1(h)
            | KdfScheme::Kdf1Sp800_56a(h)
            | KdfScheme::Kdf2(h)
            | KdfScheme::Kdf1Sp800_108(h) => Some(h),
        }
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        self.id().encode(out);
        if let Some(h) = self.hash() {
            h.encode(out);
        }
    }

    /// TPMT_KDF_SCHEME+: a KDF TPMI_ALG_KDF refuses is TPM_RC_KDF.
    pub fn decode_with(r: &mut Reader<'_>, p: &dyn AlgPolicy) -> Result<Self, WireError> {
        let id = r.u16()?;
        if id == alg::NULL {
            return Ok(KdfScheme::Null);
        }
        if !(p.kdf(id) && AnyAlgorithm.kdf(id)) {
            return Err(WireError::Kdf);
        }
        let h = read_hash(r, p)?;
        Ok(match id {
            alg::MGF1 => KdfScheme::Mgf1(h),
            alg::KDF1_SP800_56A => KdfScheme::Kdf1Sp800_56a(h),
            alg::KDF2 => KdfScheme::Kdf2(h),
            _ => KdfScheme::Kdf1Sp800_108(h),
        })
    }
}

/// TPMT_KEYEDHASH_SCHEME (Part 2 §11.1.23) with TPMU_SCHEME_KEYEDHASH.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyedHashScheme {
    Null,
    /// TPMS_SCHEME_HMAC: the HMAC's hash.
    Hmac(u16),
    /// TPMS_SCHEME_XOR: the hash and KDF (TPMI_ALG_KDF+, so NULL allowed)
    /// of the XOR obfuscation.
    Xor {
        hash: u16,
        kdf: u16,
    },
}

impl KeyedHashScheme {
    pub fn id(&self) -> u16 {
        match self {
            KeyedHashScheme::Null => alg::NULL,
            KeyedHashScheme::Hmac(_) => alg::HMAC,
            KeyedHashScheme::Xor { .. } => alg::XOR,
        }
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        self.id().encode(out);
        match self {
            KeyedHashScheme::Null => {}
            KeyedHashScheme::Hmac(h) => h.encode(out),
            KeyedHashScheme::Xor { hash, kdf } => {
                hash.encode(out);
                kdf.encode(out);
            }
        }
    }

    /// TPMT_KEYEDHASH_SCHEME+: a scheme TPMI_ALG_KEYEDHASH_SCHEME refuses
    /// is TPM_RC_VALUE; the XOR KDF is a TPMI_ALG_KDF+ (TPM_RC_KDF).
    pub fn decode_with(r: &mut Reader<'_>, p: &dyn AlgPolicy) -> Result<Self, WireError> {
        let id = r.u16()?;
        match id {
            alg::NULL => Ok(KeyedHashScheme::Null),
            alg::HMAC if p.keyedhash_scheme(id) => Ok(KeyedHashScheme::Hmac(read_hash(r, p)?)),
            alg::XOR if p.keyedhash_scheme(id) => {
                let hash = read_hash(r, p)?;
                let kdf = r.u16()?;
                if kdf != alg::NULL && !(p.kdf(kdf) && AnyAlgorithm.kdf(kdf)) {
                    return Err(WireError::Kdf);
                }
                Ok(KeyedHashScheme::Xor { hash, kdf })
            }
            _ => Err(WireError::Value),
        }
    }
}

/// TPMS_RSA_PARMS (Part 2 §12.2.3.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RsaParms {
    /// For a restricted decryption key, the protection of its children;
    /// otherwise NULL.
    pub symmetric: SymDefObject,
    pub scheme: AsymScheme,
    pub key_bits: u16,
    /// The public exponent; 0 means the default 2^16 + 1.
    pub exponent: u32,
}

/// TPMS_ECC_PARMS (Part 2 §12.2.3.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EccParms {
    pub symmetric: SymDefObject,
    pub scheme: AsymScheme,
    pub curve_id: u16,
    pub kdf: KdfScheme,
}

/// TPMS_KEYEDHASH_PARMS (Part 2 §12.2.3.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyedHashParms {
    pub scheme: KeyedHashScheme,
}

/// TPMS_SYMCIPHER_PARMS (Part 2 §12.2.3.2): never NULL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SymCipherParms {
    pub sym: SymDefObject,
}

/// TPMT_PUBLIC_PARMS (Part 2 §12.2.3.8): an object type and its
/// TPMU_PUBLIC_PARMS member.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PublicParms {
    Rsa(RsaParms),
    KeyedHash(KeyedHashParms),
    Ecc(EccParms),
    SymCipher(SymCipherParms),
}

impl PublicParms {
    /// The object type (TPMI_ALG_PUBLIC) selecting the union member.
    pub fn object_type(&self) -> u16 {
        match self {
            PublicParms::Rsa(_) => alg::RSA,
            PublicParms::KeyedHash(_) => alg::KEYEDHASH,
            PublicParms::Ecc(_) => alg::ECC,
            PublicParms::SymCipher(_) => alg::SYMCIPHER,
        }
    }

    /// Marshals the TPMU_PUBLIC_PARMS member alone (no type), as it sits in
    /// TPMT_PUBLIC.parameters.
    pub fn encode_details(&self, out: &mut Vec<u8>) {
        match self {
            PublicParms::Rsa(p) => {
                p.symmetric.encode(out);
                p.scheme.encode(out);
                p.key_bits.encode(out);
                p.exponent.encode(out);
            }
            PublicParms::KeyedHash(p) => p.scheme.encode(out),
            PublicParms::Ecc(p) => {
                p.symmetric.encode(out);
                p.scheme.encode(out);
                p.curve_id.encode(out);
                p.kdf.encode(out);
            }
            PublicParms::SymCipher(p) => p.sym.encode(out),
        }
    }

    /// Unmarshals the TPMU_PUBLIC_PARMS member selected by `object_type`,
    /// checking each field in wire order as the reference unmarshallers do.
    pub fn decode_details(
        object_type: u16,
        r: &mut Reader<'_>,
        p: &dyn AlgPolicy,
    ) -> Result<Self, WireError> {
        Ok(match object_type {
            alg::RSA => {
                let symmetric = SymDefObject::decode_with(r, p, true)?;
                let scheme = AsymScheme::decode_rsa(r, p)?;
                let key_bits = r.u16()?;
                if !p.rsa_key_bits(key_bits) {
                    return Err(WireError::Value);
                }
                PublicParms::Rsa(RsaParms {
                    symmetric,
                    scheme,
                    key_bits,
                    exponent: r.u32()?,
                })
            }
            alg::KEYEDHASH => PublicParms::KeyedHash(KeyedHashParms {
                scheme: KeyedHashScheme::decode_with(r, p)?,
            }),
            alg::ECC => {
                let symmetric = SymDefObject::decode_with(r, p, true)?;
                let scheme = AsymScheme::decode_ecc(r, p)?;
                let curve_id = r.u16()?;
                if curve_id == curve::NONE || !p.ecc_curve(curve_id) {
                    return Err(WireError::Curve);
                }
                PublicParms::Ecc(EccParms {
                    symmetric,
                    scheme,
                    curve_id,
                    kdf: KdfScheme::decode_with(r, p)?,
                })
            }
            alg::SYMCIPHER => PublicParms::SymCipher(SymCipherParms {
                sym: SymDefObject::decode_with(r, p, false)?,
            }),
            _ => return Err(WireError::Type),
        })
    }

    /// Unmarshals a TPMT_PUBLIC_PARMS under policy `p`: an object type
    /// TPMI_ALG_PUBLIC refuses is TPM_RC_TYPE.
    pub fn decode_with(r: &mut Reader<'_>, p: &dyn AlgPolicy) -> Result<Self, WireError> {
        let t = r.u16()?;
        if !p.public_type(t) {
            return Err(WireError::Type);
        }
        Self::decode_details(t, r, p)
    }
}

impl Codec for PublicParms {
    fn encode(&self, out: &mut Vec<u8>) {
        self.object_type().encode(out);
        self.encode_details(out);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Self::decode_with(r, &AnyAlgorithm)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(hex_bytes: &[u8]) -> Result<PublicParms, WireError> {
        let mut r = Reader::new(hex_bytes);
        PublicParms::decode_with(&mut r, &AnyAlgorithm)
    }

    #[test]
    fn rsa_storage_key_parms() {
        // RSA 2048, AES-128-CFB children, no scheme, default exponent.
        let b = [
            0x00, 0x01, 0x00, 0x06, 0x00, 0x80, 0x00, 0x43, 0x00, 0x10, 0x08, 0x00, 0, 0, 0, 0,
        ];
        let p = dec(&b).expect("decode");
        assert_eq!(
            p,
            PublicParms::Rsa(RsaParms {
                symmetric: SymDefObject::Cipher {
                    alg: alg::AES,
                    key_bits: 128,
                    mode: alg::CFB
                },
                scheme: AsymScheme::Null,
                key_bits: 2048,
                exponent: 0,
            })
        );
        assert_eq!(p.to_bytes(), b);
    }

    #[test]
    fn field_codes_follow_the_tpmi_types() {
        // Symcipher may not be NULL.
        assert_eq!(dec(&[0x00, 0x25, 0x00, 0x10]), Err(WireError::Symmetric));
        // RSA scheme ECDSA is not an RSA scheme.
        assert_eq!(
            dec(&[0x00, 0x01, 0x00, 0x10, 0x00, 0x18, 0x00, 0x0b, 0x08, 0, 0, 0, 0, 0]),
            Err(WireError::Value)
        );
        // ECC scheme RSASSA is not an ECC scheme.
        assert_eq!(
            dec(&[0x00, 0x23, 0x00, 0x10, 0x00, 0x14, 0x00, 0x0b, 0x00, 0x03, 0x00, 0x10]),
            Err(WireError::Scheme)
        );
        // Unknown KDF.
        assert_eq!(
            dec(&[0x00, 0x23, 0x00, 0x10, 0x00, 0x10, 0x00, 0x03, 0x00, 0x99, 0x00, 0x0b]),
            Err(WireError::Kdf)
        );
        // HMAC with a NULL hash.
        assert_eq!(
            dec(&[0x00, 0x08, 0x00, 0x05, 0x00, 0x10]),
            Err(WireError::Hash)
        );
        // Not an object type.
        assert_eq!(dec(&[0x00, 0x0b]), Err(WireError::Type));
        // Truncated.
        assert_eq!(dec(&[0x00, 0x01, 0x00]), Err(WireError::Insufficient));
    }
}
