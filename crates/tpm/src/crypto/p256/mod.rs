//! Arithmetic for NIST P-256 written for the prime's shape, shared by the
//! engine's signing (k·G, d·G: secret scalars) and the verifier's ECDSA
//! verification (`attest::ecdsa_p256`: public values).
//!
//! Why our own: the curve crate's field product takes 30–42 ns where this
//! one takes 20–22 ns, and the field is where both signing and
//! verification spend their time. The tests check every operation against
//! fiat-crypto's (code generated from a machine-checked proof).

pub mod curve;
pub mod field;
pub mod generator;
pub mod limbs;
pub mod scalar_inverse;

#[cfg(test)]
mod generator_tests;
#[cfg(test)]
mod tests;
