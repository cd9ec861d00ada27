//! Signing and decryption schemes and signatures (Part 2 §11.2.1,
//! §11.2.4, §11.3): TPMT_SIG_SCHEME, TPMT_RSA_DECRYPT and TPMT_SIGNATURE.
//!
//! Hash algorithms are kept as TPM_ALG_ID values so the verifier can parse
//! signatures made with a hash this crate does not implement; the engine
//! decodes with its own [`AlgPolicy`] and only ever sees implemented ones.

use crate::constants::alg;
use crate::crypto::HashAlg;
use crate::wire::{Codec, Reader, WireError};

use super::limits::read_2b;
use super::public_parms::read_hash;
use super::{AlgPolicy, AnyAlgorithm, EccParameter, Ha, PublicKeyRsa};

/// TPMI_ALG_SIG_SCHEME(+) check: NULL only where allowed, anything else
/// `p` refuses is TPM_RC_SCHEME.
fn read_sig_scheme(
    r: &mut Reader<'_>,
    p: &dyn AlgPolicy,
    allow_null: bool,
) -> Result<u16, WireError> {
    let id = r.u16()?;
    let ok = if id == alg::NULL {
        allow_null
    } else {
        p.sig_scheme(id) && AnyAlgorithm.sig_scheme(id)
    };
    if !ok {
        return Err(WireError::Scheme);
    }
    Ok(id)
}

/// TPMT_SIG_SCHEME (Part 2 §11.2.1) with TPMU_SIG_SCHEME: the scheme a
/// caller asks TPM2_Sign, TPM2_Quote, TPM2_Certify... to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SigScheme {
    /// Use the key's own scheme.
    Null,
    Rsassa(u16),
    Rsapss(u16),
    Ecdsa(u16),
    Ecdaa {
        hash: u16,
        count: u16,
    },
    Sm2(u16),
    Ecschnorr(u16),
    Hmac(u16),
}

impl SigScheme {
    /// The scheme's TPM_ALG_ID.
    pub fn id(&self) -> u16 {
        match self {
            SigScheme::Null => alg::NULL,
            SigScheme::Rsassa(_) => alg::RSASSA,
            SigScheme::Rsapss(_) => alg::RSAPSS,
            SigScheme::Ecdsa(_) => alg::ECDSA,
            SigScheme::Ecdaa { .. } => alg::ECDAA,
            SigScheme::Sm2(_) => alg::SM2,
            SigScheme::Ecschnorr(_) => alg::ECSCHNORR,
            SigScheme::Hmac(_) => alg::HMAC,
        }
    }

    /// The scheme's hash (`None` for NULL).
    pub fn hash(&self) -> Option<u16> {
        match *self {
            SigScheme::Null => None,
            SigScheme::Rsassa(h)
            | SigScheme::Rsapss(h)
            | SigScheme::Ecdsa(h)
            | SigScheme::Sm2(h)
            | SigScheme::Ecschnorr(h)
            | SigScheme::Hmac(h) => Some(h),
            SigScheme::Ecdaa { hash, .. } => Some(hash),
        }
    }

    /// Unmarshals under `p`: a scheme TPMI_ALG_SIG_SCHEME refuses (NULL
    /// unless `allow_null`) is TPM_RC_SCHEME, a bad hash TPM_RC_HASH.
    pub fn decode_with(
        r: &mut Reader<'_>,
        p: &dyn AlgPolicy,
        allow_null: bool,
    ) -> Result<Self, WireError> {
        let id = read_sig_scheme(r, p, allow_null)?;
        if id == alg::NULL {
            return Ok(SigScheme::Null);
        }
        let h = read_hash(r, p)?;
        Ok(match id {
            alg::RSASSA => SigScheme::Rsassa(h),
            alg::RSAPSS => SigScheme::Rsapss(h),
            alg::ECDSA => SigScheme::Ecdsa(h),
            alg::ECDAA => SigScheme::Ecdaa {
                hash: h,
                count: r.u16()?,
            },
            alg::SM2 => SigScheme::Sm2(h),
            alg::ECSCHNORR => SigScheme::Ecschnorr(h),
            _ => SigScheme::Hmac(h),
        })
    }
}

impl Codec for SigScheme {
    fn encode(&self, out: &mut Vec<u8>) {
        self.id().encode(out);
        if let Some(h) = self.hash() {
            h.encode(out);
        }
        if let SigScheme::Ecdaa { count, .. } = self {
            count.encode(out);
        }
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Self::decode_with(r, &AnyAlgorithm, true)
    }
}

/// TPMT_RSA_DECRYPT (Part 2 §11.2.4.4): the padding of TPM2_RSA_Encrypt
/// and TPM2_RSA_Decrypt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RsaDecrypt {
    /// Use the key's scheme.
    Null,
    /// PKCS#1 v1.5 (RSAES-PKCS1-v1_5).
    Rsaes,
    /// RSAES-OAEP with this hash.
    Oaep(u16),
}

impl RsaDecrypt {
    pub fn id(&self) -> u16 {
        match self {
            RsaDecrypt::Null => alg::NULL,
            RsaDecrypt::Rsaes => alg::RSAES,
            RsaDecrypt::Oaep(_) => alg::OAEP,
        }
    }

    /// Unmarshals under `p`: a scheme TPMI_ALG_RSA_DECRYPT refuses (NULL
    /// unless `allow_null`) is TPM_RC_VALUE.
    pub fn decode_with(
        r: &mut Reader<'_>,
        p: &dyn AlgPolicy,
        allow_null: bool,
    ) -> Result<Self, WireError> {
        let id = r.u16()?;
        match id {
            alg::NULL if allow_null => Ok(RsaDecrypt::Null),
            alg::RSAES if p.rsa_scheme(id) => Ok(RsaDecrypt::Rsaes),
            alg::OAEP if p.rsa_scheme(id) => Ok(RsaDecrypt::Oaep(read_hash(r, p)?)),
            _ => Err(WireError::Value),
        }
    }
}

impl Codec for RsaDecrypt {
    fn encode(&self, out: &mut Vec<u8>) {
        self.id().encode(out);
        if let RsaDecrypt::Oaep(h) = self {
            h.encode(out);
        }
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Self::decode_with(r, &AnyAlgorithm, true)
    }
}

/// TPMS_SIGNATURE_RSA (Part 2 §11.3.1): RSASSA and RSAPSS signatures.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureRsa {
    pub hash: u16,
    pub sig: PublicKeyRsa,
}

/// TPMS_SIGNATURE_ECC (Part 2 §11.3.2): ECDSA, ECDAA, SM2 and EC-Schnorr
/// signatures as the pair (r, s).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureEcc {
    pub hash: u16,
    pub r: EccParameter,
    pub s: EccParameter,
}

/// TPMT_SIGNATURE (Part 2 §11.3.4) with TPMU_SIGNATURE.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Signature {
    /// No signature (TPM2_Quote etc. with a NULL signing key).
    Null,
    Rsassa(SignatureRsa),
    Rsapss(SignatureRsa),
    Ecdsa(SignatureEcc),
    Ecdaa(SignatureEcc),
    Sm2(SignatureEcc),
    Ecschnorr(SignatureEcc),
    /// An HMAC "signature" by a keyed-hash key: a TPMT_HA.
    Hmac(Ha),
}

impl Signature {
    /// sigAlg: the scheme's TPM_ALG_ID.
    pub fn sig_alg(&self) -> u16 {
        match self {
            Signature::Null => alg::NULL,
            Signature::Rsassa(_) => alg::RSASSA,
            Signature::Rsapss(_) => alg::RSAPSS,
            Signature::Ecdsa(_) => alg::ECDSA,
            Signature::Ecdaa(_) => alg::ECDAA,
            Signature::Sm2(_) => alg::SM2,
            Signature::Ecschnorr(_) => alg::ECSCHNORR,
            Signature::Hmac(_) => alg::HMAC,
        }
    }

    /// The hash the signed digest was made with.
    pub fn hash(&self) -> Option<u16> {
        match self {
            Signature::Null => None,
            Signature::Rsassa(s) | Signature::Rsapss(s) => Some(s.hash),
            Signature::Ecdsa(s)
            | Signature::Ecdaa(s)
            | Signature::Sm2(s)
            | Signature::Ecschnorr(s) => Some(s.hash),
            Signature::Hmac(h) => Some(h.alg.id()),
        }
    }

    /// Unmarshals under `p`: a sigAlg TPMI_ALG_SIG_SCHEME refuses (NULL
    /// unless `allow_null`) is TPM_RC_SCHEME, a bad hash TPM_RC_HASH, an
    /// RSA signature or ECC half larger than `p`'s limits TPM_RC_SIZE.
    pub fn decode_with(
        r: &mut Reader<'_>,
        p: &dyn AlgPolicy,
        allow_null: bool,
    ) -> Result<Self, WireError> {
        let id = read_sig_scheme(r, p, allow_null)?;
        let l = p.limits();
        let rsa = |r: &mut Reader<'_>| -> Result<SignatureRsa, WireError> {
            Ok(SignatureRsa {
                hash: read_hash(r, p)?,
                sig: read_2b(r, l.rsa_key_bytes)?,
            })
        };
        let ecc = |r: &mut Reader<'_>| -> Result<SignatureEcc, WireError> {
            Ok(SignatureEcc {
                hash: read_hash(r, p)?,
                r: read_2b(r, l.ecc_key_bytes)?,
                s: read_2b(r, l.ecc_key_bytes)?,
            })
        };
        Ok(match id {
            alg::NULL => Signature::Null,
            alg::RSASSA => Signature::Rsassa(rsa(r)?),
            alg::RSAPSS => Signature::Rsapss(rsa(r)?),
            alg::ECDSA => Signature::Ecdsa(ecc(r)?),
            alg::ECDAA => Signature::Ecdaa(ecc(r)?),
            alg::SM2 => Signature::Sm2(ecc(r)?),
            alg::ECSCHNORR => Signature::Ecschnorr(ecc(r)?),
            _ => {
                // TPMT_HA without NULL: a hash `p` accepts and whose digest
                // size is known here, else TPM_RC_HASH.
                let h = read_hash(r, p)?;
                let a = HashAlg::from_id(h).ok_or(WireError::Hash)?;
                Signature::Hmac(Ha {
                    alg: a,
                    digest: r.take(a.digest_size())?.to_vec(),
                })
            }
        })
    }
}

impl Codec for Signature {
    fn encode(&self, out: &mut Vec<u8>) {
        self.sig_alg().encode(out);
        match self {
            Signature::Null => {}
            Signature::Rsassa(s) | Signature::Rsapss(s) => {
                s.hash.encode(out);
                s.sig.encode(out);
            }
            Signature::Ecdsa(s)
            | Signature::Ecdaa(s)
            | Signature::Sm2(s)
            | Signature::Ecschnorr(s) => {
                s.hash.encode(out);
                s.r.encode(out);
                s.s.encode(out);
            }
            Signature::Hmac(h) => h.encode(out),
        }
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Self::decode_with(r, &AnyAlgorithm, true)
    }
}
