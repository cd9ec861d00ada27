//! Cryptographic primitives the engine uses, all from the RustCrypto family.

pub mod drbg;
pub mod hash;

pub use drbg::Drbg;
pub use hash::{HashAlg, Hasher};
