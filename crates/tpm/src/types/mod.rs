//! TPM 2.0 structures (Part 2 §10–§12) with their wire codecs. This is the
//! one definition of each structure in the project: the engine, the
//! transports and the verifier all use these.

mod attest;
mod capability;
mod context;
mod creation;
mod digest;
mod ecc_point;
pub mod handles;
mod limits;
mod name;
mod nv;
mod object_attributes;
mod pcr;
mod public;
mod public_parms;
mod sensitive;
mod session;
mod session_types;
mod signature;
mod sized;
mod tag;
mod ticket;
mod tickets;
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

pub use attest::{
    Attest, Attest2b, Attested, CertifyInfo, CommandAuditInfo, CreationInfo, NvCertifyInfo,
    NvDigestCertifyInfo, QuoteInfo, SessionAuditInfo, TimeAttestInfo, ATTEST_MAX,
};
pub use context::Context;
pub use creation::{CreationData, CreationData2b};
pub use ecc_point::{EccPoint, EccPoint2b};
pub use limits::{
    ContextData2b, Derive2b, EccParameter, EccPrivateKey, EncryptedSecret2b, IdObject2b, Iv2b,
    Label2b, Limits, MaxNvBuffer, Operand2b, Private2b, PrivateKeyRsa, PublicKeyRsa, SeedValue,
    SensitiveData, SymKey, Template2b, Timeout2b, CONTEXT_DATA_MAX, LABEL_MAX_BUFFER,
    MAX_ALG_LIST_SIZE, MAX_CONTEXT_SIZE, MAX_ECC_KEY_BYTES, MAX_NV_BUFFER_SIZE, MAX_NV_INDEX_SIZE,
    MAX_RSA_KEY_BYTES, MAX_SYM_BLOCK_SIZE, MAX_SYM_DATA, MAX_SYM_KEY_BYTES, PRIVATE_MAX,
    SENSITIVE_MAX, TEMPLATE_MAX,
};
pub use name::{Name, NAME_MAX};
pub use nv::{NvAttributes, NvPublic, NvPublic2b, NvType};
pub use object_attributes::ObjectAttributes;
pub use public::{Public, Public2b, PublicId};
pub use sensitive::{
    Derive, Sensitive, Sensitive2b, SensitiveComposite, SensitiveCreate, SensitiveCreate2b,
};
pub use session_types::{AlgList, CommandCodeList, SessionType, SymDef};
pub use signature::{RsaDecrypt, SigScheme, Signature, SignatureEcc, SignatureRsa};
pub use tickets::{AuthTicketKind, TkAuth, TkCreation, TkVerified};

/// Number of implemented hash algorithms (HASH_COUNT in the reference
/// code): bounds TPML_PCR_SELECTION and TPML_DIGEST_VALUES.
pub const HASH_COUNT: usize = 5;
/// Largest digest of an implemented hash (sizeof TPMU_HA).
pub const MAX_DIGEST_SIZE: usize = 64;
/// MAX_DIGEST_BUFFER: TPM2B_MAX_BUFFER and TPM2B_EVENT capacity.
pub const MAX_DIGEST_BUFFER: usize = 1024;
