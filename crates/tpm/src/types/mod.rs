//! TPM 2.0 structures (Part 2 §10–§12) with their wire codecs. This is the
//! one definition of each structure in the project: the engine, the
//! transports and the verifier all use these.

mod capability;
mod digest;
mod pcr;
mod public_parms;
mod session;
mod ticket;
mod time;

pub use capability::{
    ActData, AlgProperty, Capabilities, CapabilityData, CommandAttributes, TaggedPcrSelect,
    TaggedPolicy, TaggedProperty, MAX_ACT_DATA, MAX_CAP_ALGS, MAX_CAP_BUFFER, MAX_CAP_CC,
    MAX_CAP_DATA, MAX_CAP_HANDLES, MAX_ECC_CURVES, MAX_PCR_PROPERTIES, MAX_TAGGED_POLICIES,
    MAX_TPM_PROPERTIES,
};
pub use digest::{Data2b, Digest2b, DigestList, DigestValues, Event2b, Ha, MaxBuffer};
pub use pcr::{PcrSelection, PcrSelectionList, IMPLEMENTATION_PCR, PCR_SELECT_MAX, PCR_SELECT_MIN};
pub use public_parms::{
    AlgPolicy, AnyAlgorithm, AsymScheme, EccParms, KdfScheme, KeyedHashParms, KeyedHashScheme,
    PublicParms, RsaParms, SymCipherParms, SymDefObject,
};
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
