//! Attestation structures (Part 2 §10.12): TPMS_ATTEST with every
//! TPMU_ATTEST member, and TPM2B_ATTEST.
//!
//! TPM2B_ATTEST is kept as the exact bytes the TPM signed
//! ([`Attest2b`]), because a verifier must hash those bytes, not a
//! re-encoding; [`Attest2b::attest`] parses them.

use crate::constants::{st, TPM_GENERATED_VALUE};
use crate::wire::{Codec, Reader, WireError};

use super::limits::MAX_NV_BUFFER_SIZE;
use super::name::NAME_MAX;
use super::tag::read_tag;
use super::{ClockInfo, Data2b, Digest2b, MaxNvBuffer, Name, PcrSelectionList, TimeInfo};
use super::{MAX_DIGEST_SIZE, PCR_SELECT_MAX};

/// TPMS_CERTIFY_INFO (Part 2 §10.12.3): TPM2_Certify.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertifyInfo {
    pub name: Name,
    pub qualified_name: Name,
}

/// TPMS_QUOTE_INFO (Part 2 §10.12.4): TPM2_Quote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuoteInfo {
    pub pcr_select: PcrSelectionList,
    /// Digest of the selected PCR values, in selection order, with the
    /// signing scheme's hash.
    pub pcr_digest: Digest2b,
}

/// TPMS_COMMAND_AUDIT_INFO (Part 2 §10.12.5): TPM2_GetCommandAuditDigest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandAuditInfo {
    pub audit_counter: u64,
    pub digest_alg: u16,
    pub audit_digest: Digest2b,
    pub command_digest: Digest2b,
}

/// TPMS_SESSION_AUDIT_INFO (Part 2 §10.12.6): TPM2_GetSessionAuditDigest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionAuditInfo {
    pub exclusive_session: bool,
    pub session_digest: Digest2b,
}

/// TPMS_CREATION_INFO (Part 2 §10.12.7): TPM2_CertifyCreation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreationInfo {
    pub object_name: Name,
    pub creation_hash: Digest2b,
}

/// TPMS_TIME_ATTEST_INFO (Part 2 §10.12.2): TPM2_GetTime.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimeAttestInfo {
    pub time: TimeInfo,
    pub firmware_version: u64,
}

/// TPMS_NV_CERTIFY_INFO (Part 2 §10.12.8): TPM2_NV_Certify of a range.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NvCertifyInfo {
    pub index_name: Name,
    pub offset: u16,
    pub nv_contents: MaxNvBuffer,
}

/// TPMS_NV_DIGEST_CERTIFY_INFO (Part 2 §10.12.9): TPM2_NV_Certify with size
/// and offset 0, attesting a digest of the whole index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NvDigestCertifyInfo {
    pub index_name: Name,
    pub nv_digest: Digest2b,
}

/// TPMU_ATTEST (Part 2 §10.12.11), each member with the TPMI_ST_ATTEST
/// value that selects it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attested {
    Certify(CertifyInfo),
    Creation(CreationInfo),
    Quote(QuoteInfo),
    CommandAudit(CommandAuditInfo),
    SessionAudit(SessionAuditInfo),
    Time(TimeAttestInfo),
    Nv(NvCertifyInfo),
    NvDigest(NvDigestCertifyInfo),
}

impl Attested {
    /// The TPM_ST_ATTEST_* type of this member.
    pub fn attest_type(&self) -> u16 {
        match self {
            Attested::Certify(_) => st::ATTEST_CERTIFY,
            Attested::Creation(_) => st::ATTEST_CREATION,
            Attested::Quote(_) => st::ATTEST_QUOTE,
            Attested::CommandAudit(_) => st::ATTEST_COMMAND_AUDIT,
            Attested::SessionAudit(_) => st::ATTEST_SESSION_AUDIT,
            Attested::Time(_) => st::ATTEST_TIME,
            Attested::Nv(_) => st::ATTEST_NV,
            Attested::NvDigest(_) => st::ATTEST_NV_DIGEST,
        }
    }

    fn is_attest_type(t: u16) -> bool {
        matches!(
            t,
            st::ATTEST_CERTIFY
                | st::ATTEST_CREATION
                | st::ATTEST_QUOTE
                | st::ATTEST_COMMAND_AUDIT
                | st::ATTEST_SESSION_AUDIT
                | st::ATTEST_TIME
                | st::ATTEST_NV
                | st::ATTEST_NV_DIGEST
        )
    }

    /// Marshals the member without its selector.
    pub fn encode_details(&self, out: &mut Vec<u8>) {
        match self {
            Attested::Certify(i) => {
                i.name.encode(out);
                i.qualified_name.encode(out);
            }
            Attested::Creation(i) => {
                i.object_name.encode(out);
                i.creation_hash.encode(out);
            }
            Attested::Quote(i) => {
                i.pcr_select.encode(out);
                i.pcr_digest.encode(out);
            }
            Attested::CommandAudit(i) => {
                i.audit_counter.encode(out);
                i.digest_alg.encode(out);
                i.audit_digest.encode(out);
                i.command_digest.encode(out);
            }
            Attested::SessionAudit(i) => {
                i.exclusive_session.encode(out);
                i.session_digest.encode(out);
            }
            Attested::Time(i) => {
                i.time.encode(out);
                i.firmware_version.encode(out);
            }
            Attested::Nv(i) => {
                i.index_name.encode(out);
                i.offset.encode(out);
                i.nv_contents.encode(out);
            }
            Attested::NvDigest(i) => {
                i.index_name.encode(out);
                i.nv_digest.encode(out);
            }
        }
    }

    /// Unmarshals the member selected by `attest_type` (TPM_RC_SELECTOR
    /// if none).
    pub fn decode_details(attest_type: u16, r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(match attest_type {
            st::ATTEST_CERTIFY => Attested::Certify(CertifyInfo {
                name: Name::decode(r)?,
                qualified_name: Name::decode(r)?,
            }),
            st::ATTEST_CREATION => Attested::Creation(CreationInfo {
                object_name: Name::decode(r)?,
                creation_hash: Digest2b::decode(r)?,
            }),
            st::ATTEST_QUOTE => Attested::Quote(QuoteInfo {
                pcr_select: PcrSelectionList::decode(r)?,
                pcr_digest: Digest2b::decode(r)?,
            }),
            st::ATTEST_COMMAND_AUDIT => Attested::CommandAudit(CommandAuditInfo {
                audit_counter: r.u64()?,
                digest_alg: r.u16()?,
                audit_digest: Digest2b::decode(r)?,
                command_digest: Digest2b::decode(r)?,
            }),
            st::ATTEST_SESSION_AUDIT => Attested::SessionAudit(SessionAuditInfo {
                exclusive_session: bool::decode(r)?,
                session_digest: Digest2b::decode(r)?,
            }),
            st::ATTEST_TIME => Attested::Time(TimeAttestInfo {
                time: TimeInfo::decode(r)?,
                firmware_version: r.u64()?,
            }),
            st::ATTEST_NV => Attested::Nv(NvCertifyInfo {
                index_name: Name::decode(r)?,
                offset: r.u16()?,
                nv_contents: MaxNvBuffer::decode(r)?,
            }),
            st::ATTEST_NV_DIGEST => Attested::NvDigest(NvDigestCertifyInfo {
                index_name: Name::decode(r)?,
                nv_digest: Digest2b::decode(r)?,
            }),
            _ => return Err(WireError::Selector),
        })
    }
}

/// TPMS_ATTEST (Part 2 §10.12.12): what the TPM signs for every
/// attestation command. The magic is always TPM_GENERATED_VALUE (not a
/// field; anything else is TPM_RC_VALUE on decode) and the type is that of
/// `attested`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attest {
    /// Qualified Name of the signing key.
    pub qualified_signer: Name,
    /// The caller's qualifying data (nonce).
    pub extra_data: Data2b,
    pub clock_info: ClockInfo,
    /// TPM vendor-specific firmware version.
    pub firmware_version: u64,
    pub attested: Attested,
}

impl Attest {
    /// The TPM_ST_ATTEST_* type.
    pub fn attest_type(&self) -> u16 {
        self.attested.attest_type()
    }
}

impl Codec for Attest {
    fn encode(&self, out: &mut Vec<u8>) {
        TPM_GENERATED_VALUE.encode(out);
        self.attest_type().encode(out);
        self.qualified_signer.encode(out);
        self.extra_data.encode(out);
        self.clock_info.encode(out);
        self.firmware_version.encode(out);
        self.attested.encode_details(out);
    }
    /// Unmarshals as TPMS_ATTEST_Unmarshal: wrong magic is TPM_RC_VALUE; a
    /// type that is no TPM_ST is TPM_RC_VALUE, a TPM_ST that is no
    /// attestation type TPM_RC_SELECTOR.
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        if r.u32()? != TPM_GENERATED_VALUE {
            return Err(WireError::Value);
        }
        let t = read_tag(r, Attested::is_attest_type, WireError::Selector)?;
        Ok(Attest {
            qualified_signer: Name::decode(r)?,
            extra_data: Data2b::decode(r)?,
            clock_info: ClockInfo::decode(r)?,
            firmware_version: r.u64()?,
            attested: Attested::decode_details(t, r)?,
        })
    }
}

/// The largest marshalled TPMU_ATTEST: TPMS_NV_CERTIFY_INFO with a full
/// NV buffer (larger than a quote with every bank, or two digests).
const ATTESTED_MAX: usize = (2 + NAME_MAX) + 2 + (2 + MAX_NV_BUFFER_SIZE);
const _: () =
    assert!(ATTESTED_MAX >= 4 + super::HASH_COUNT * (3 + PCR_SELECT_MAX) + 2 + MAX_DIGEST_SIZE);

/// sizeof(TPMS_ATTEST) as marshalled: the capacity of TPM2B_ATTEST.
pub const ATTEST_MAX: usize =
    4 + 2 + (2 + NAME_MAX) + (2 + MAX_DIGEST_SIZE + 2) + 17 + 8 + ATTESTED_MAX;

/// TPM2B_ATTEST (Part 2 §10.12.13): the signed bytes of a TPMS_ATTEST, kept
/// verbatim. Larger than [`ATTEST_MAX`] is TPM_RC_SIZE.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Attest2b(Vec<u8>);

impl Attest2b {
    /// Wraps the marshalled form of `attest`.
    pub fn from_attest(attest: &Attest) -> Self {
        Attest2b(attest.to_bytes())
    }

    /// Wraps bytes as they came from a TPM; more than [`ATTEST_MAX`] is
    /// TPM_RC_SIZE.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Result<Self, WireError> {
        let v = bytes.into();
        if v.len() > ATTEST_MAX {
            return Err(WireError::Size);
        }
        Ok(Attest2b(v))
    }

    /// The signed bytes (what a signature over the attestation covers).
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Parses the bytes as exactly one TPMS_ATTEST (trailing bytes are
    /// TPM_RC_SIZE).
    pub fn attest(&self) -> Result<Attest, WireError> {
        Attest::from_bytes(&self.0)
    }
}

impl std::fmt::Debug for Attest2b {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Attest2b(")?;
        for b in &self.0 {
            write!(f, "{b:02x}")?;
        }
        write!(f, ")")
    }
}

impl Codec for Attest2b {
    fn encode(&self, out: &mut Vec<u8>) {
        (self.0.len() as u16).encode(out);
        out.extend_from_slice(&self.0);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let n = r.u16()? as usize;
        if n > ATTEST_MAX {
            return Err(WireError::Size);
        }
        Ok(Attest2b(r.take(n)?.to_vec()))
    }
}
