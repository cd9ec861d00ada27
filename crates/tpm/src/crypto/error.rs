//! Why a cryptographic operation on outside bytes failed.
//!
//! Every primitive in this module that takes bytes from a caller (keys,
//! points, ciphertexts, signatures, digests) reports a [`CryptoError`] rather
//! than panicking. Each variant maps to the response code the TPM reference
//! implementation returns for the same failure ([`CryptoError::rc`]); the
//! engine adds the handle/parameter number.

use crate::rc::Rc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// A digest's length does not match its hash algorithm, or a message is
    /// too long for the key (TPM_RC_VALUE, as RSASSA_Encode / OaepEncode).
    #[error("value out of range for the key or algorithm")]
    Value,
    /// Input has the wrong size for the operation, e.g. an RSA ciphertext
    /// that is not exactly the modulus size, or a value >= the modulus
    /// (TPM_RC_SIZE, as CryptRsaDecrypt).
    #[error("input has the wrong size")]
    Size,
    /// The hash is too large for the key (OAEP with a 512-bit hash on a small
    /// key, TPM_RC_HASH in OaepEncode).
    #[error("hash too large for the key")]
    Hash,
    /// The scheme cannot be used with this hash or key (TPM_RC_SCHEME).
    #[error("scheme not usable with this hash or key")]
    Scheme,
    /// Unsupported key size (TPM_RC_KEY_SIZE).
    #[error("unsupported key size")]
    KeySize,
    /// Unsupported RSA public exponent (TPM_RC_RANGE, CryptRsaGenerateKey).
    #[error("unsupported public exponent")]
    Exponent,
    /// Key material is malformed or inconsistent (TPM_RC_KEY).
    #[error("invalid key")]
    Key,
    /// The private part does not belong to the public part, e.g. the stored
    /// RSA prime does not divide the modulus (TPM_RC_BINDING).
    #[error("public and private parts do not match")]
    Binding,
    /// An ECC point is not on the curve, or is the identity (TPM_RC_ECC_POINT).
    #[error("point not on the curve")]
    EccPoint,
    /// Unsupported curve (TPM_RC_CURVE).
    #[error("unsupported curve")]
    Curve,
    /// A computation produced no usable result: point at infinity, or the
    /// deterministic generator ran dry (TPM_RC_NO_RESULT).
    #[error("no result")]
    NoResult,
    /// A signature did not verify or is malformed (TPM_RC_SIGNATURE).
    #[error("signature check failed")]
    Signature,
    /// Marshalled input ended early (TPM_RC_INSUFFICIENT).
    #[error("input too short")]
    Insufficient,
    /// An unsupported symmetric algorithm or mode (TPM_RC_SYMMETRIC / MODE).
    #[error("unsupported symmetric algorithm or mode")]
    Symmetric,
}

impl CryptoError {
    /// The base response code the reference implementation uses for this
    /// failure (Part 2 §6.6); the caller numbers it with `.param(n)` etc.
    pub fn rc(self) -> Rc {
        match self {
            CryptoError::Value => Rc::VALUE,
            CryptoError::Size => Rc::SIZE,
            CryptoError::Hash => Rc::HASH,
            CryptoError::Scheme => Rc::SCHEME,
            CryptoError::KeySize => Rc::KEY_SIZE,
            CryptoError::Exponent => Rc::RANGE,
            CryptoError::Key => Rc::KEY,
            CryptoError::Binding => Rc::BINDING,
            CryptoError::EccPoint => Rc::ECC_POINT,
            CryptoError::Curve => Rc::CURVE,
            CryptoError::NoResult => Rc::NO_RESULT,
            CryptoError::Signature => Rc::SIGNATURE,
            CryptoError::Insufficient => Rc::INSUFFICIENT,
            CryptoError::Symmetric => Rc::SYMMETRIC,
        }
    }
}

impl From<CryptoError> for Rc {
    fn from(e: CryptoError) -> Rc {
        e.rc()
    }
}
