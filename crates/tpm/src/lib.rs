//! A TPM 2.0 library: the wire types of TPM 2.0 Library Part 2 and a
//! sans-I/O engine that executes Part 3 commands.
//!
//! The engine takes command bytes and returns response bytes
//! ([`Tpm::execute`]); its persistent state is a byte blob
//! ([`Tpm::state_blob`]) the host stores however it likes. Transports,
//! files and concurrency live outside this crate.

pub mod constants;
pub mod crypto;
pub mod engine;
pub mod rc;
pub mod templates;
pub mod types;
pub mod wire;

pub use engine::{EngineConfig, StateError, TimeSource, Tpm};
pub use rc::Rc;
