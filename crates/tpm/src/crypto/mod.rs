//! Cryptographic primitives the engine uses, all from the RustCrypto family.

pub mod drbg;
pub mod ecc;
pub mod error;
pub(crate) mod fixed_base;
pub mod hash;
pub mod kdf;
pub mod p256;
pub mod prime;
pub mod rsa;
pub mod secret;
pub mod sm2;
pub mod sym;
pub mod xor;

pub use drbg::Drbg;
pub use ecc::{EccCurve, EccKeyPair, EccPoint};
pub use error::CryptoError;
pub use hash::{HashAlg, Hasher};
pub use kdf::{kdfa, kdfe, KdfRng};
pub use rsa::{RsaEncScheme, RsaKeyPair, RsaPublic};
pub use sym::{SymAlg, SymMode};
