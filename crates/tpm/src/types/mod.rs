//! TPM 2.0 structures (Part 2 §10–§12) with their wire codecs. This is the
//! one definition of each structure in the project: the engine, the
//! transports and the verifier all use these.

mod digest;
mod pcr;
mod session;
mod ticket;
mod time;

pub use digest::{Data2b, Digest2b, DigestList, DigestValues, Event2b, Ha, MaxBuffer};
pub use pcr::{PcrSelection, PcrSelectionList, IMPLEMENTATION_PCR, PCR_SELECT_MAX, PCR_SELECT_MIN};
pub use session::{Auth2b, AuthCommand, AuthResponse, Nonce2b};
pub use ticket::TkHashcheck;
pub use time::{ClockInfo, TimeInfo};

/// Number of implemented hash algorithms (HASH_COUNT in the reference
/// code): bounds TPML_PCR_SELECTION and TPML_DIGEST_VALUES.
pub const HASH_COUNT: usize = 5;
/// Largest digest of an implemented hash (sizeof TPMU_HA).
pub const MAX_DIGEST_SIZE: usize = 64;
/// MAX_DIGEST_BUFFER: TPM2B_MAX_BUFFER and TPM2B_EVENT capacity.
pub const MAX_DIGEST_BUFFER: usize = 1024;
