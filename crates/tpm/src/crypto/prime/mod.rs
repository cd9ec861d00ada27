//! RSA prime generation that derives exactly the keys the pinned `rsa`
//! 0.9.10 / num-bigint-dig 0.8.6 derive from the same random stream, at a
//! fraction of the cost.
//!
//! Primary keys are a function of the hierarchy seed and the template
//! (TPM 2.0 Part 1 §26.3), and an EK certificate binds the EK, so the
//! derivation must never change; only the work per candidate may. The
//! search ([`search`]) and key assembly ([`keygen`]) follow those crates
//! draw for draw; the speed comes from trial division ([`sieve`]), fewer
//! Miller–Rabin rounds plus the Lucas test ([`lucas`]), and fixed-width
//! Montgomery arithmetic ([`montgomery`], [`limbs`]).

pub mod keygen;
pub mod limbs;
pub mod lucas;
pub mod montgomery;
mod montgomery_x86;
pub mod rsaep;
pub mod search;
pub mod sieve;

pub use keygen::generate_key;
pub use montgomery::Mont;
pub use search::{gen_prime, is_probable_prime};
