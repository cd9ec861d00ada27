//! The measured-boot event log of UEFI firmware, in the crypto-agile format
//! of the TCG PC Client Platform Firmware Profile (PFP) v1.05 §10.
//!
//! The log is what a verifier gets from an untrusted machine (Linux exposes
//! it as `/sys/kernel/security/tpm0/binary_bios_measurements`), so parsing
//! never trusts a length: every count and size is checked against the bytes
//! that are left, and malformed input is an [`EventLogError`] naming the
//! offset. The log only means something once [`EventLog::replay`] has
//! recomputed the PCRs from it and those equal PCRs the TPM signed.
//!
//! Layout (PFP §10.2):
//! - the first record is a SHA-1 format `TCG_PCClientPCREvent`
//!   (pcrIndex, eventType, 20-byte digest, eventSize, event) of type
//!   `EV_NO_ACTION` whose data is the `TCG_EfiSpecIDEvent` (§10.4.5.1)
//!   announcing the crypto-agile format ("Spec ID Event03") and the digest
//!   size of every algorithm the records use;
//! - every further record is a `TCG_PCR_EVENT2`: pcrIndex, eventType, a
//!   `TPML_DIGEST_VALUES` (count, then (algId, digest) pairs whose sizes come
//!   from the Spec ID table), eventSize, event.

pub mod event_type;
mod reader;
mod replay;

use reader::Reader;
pub use replay::{initial_value, ReplayError, PCR_COUNT};
use tpm::crypto::HashAlg;

/// `TCG_EfiSpecIDEvent.signature` of a crypto-agile log (PFP §10.4.5.1).
pub const SPEC_ID_SIGNATURE: &[u8; 16] = b"Spec ID Event03\0";
/// Signature of the `TCG_EfiStartupLocalityEvent` (PFP §10.4.5.3).
pub const STARTUP_LOCALITY_SIGNATURE: &[u8; 16] = b"StartupLocality\0";
/// More algorithms than any TPM implements; bounds work on hostile input.
pub const MAX_ALGORITHMS: usize = 32;
/// The SHA-1 digest size of the legacy header record (PFP §10.2.1).
const HEADER_DIGEST_SIZE: usize = 20;

/// Why an event log could not be parsed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EventLogError {
    #[error(
        "event log truncated at offset {offset}: {what} needs {needed} bytes, {available} left"
    )]
    Truncated {
        offset: usize,
        what: &'static str,
        needed: usize,
        available: usize,
    },
    #[error("event log is empty")]
    Empty,
    #[error("first event is not the crypto-agile Spec ID event ({0}); SHA-1-only (TPM 1.2) logs are not supported")]
    NotCryptoAgile(&'static str),
    #[error("Spec ID event lists {0} algorithms (at most {MAX_ALGORITHMS} are accepted)")]
    TooManyAlgorithms(u32),
    #[error("Spec ID event lists algorithm {alg:#06x} twice")]
    DuplicateAlgorithm { alg: u16 },
    #[error("Spec ID event gives algorithm {alg:#06x} digest size {size}, but that algorithm's digests are {expected} bytes")]
    WrongDigestSize {
        alg: u16,
        size: u16,
        expected: usize,
    },
    #[error("Spec ID event data has {0} bytes after the vendor info")]
    SpecIdTrailingBytes(usize),
    #[error(
        "event at offset {offset} has {count} digests but the Spec ID event lists {max} algorithms"
    )]
    TooManyDigests {
        offset: usize,
        count: u32,
        max: usize,
    },
    #[error("event at offset {offset} has a digest of algorithm {alg:#06x}, which the Spec ID event does not list")]
    UnknownDigestAlgorithm { offset: usize, alg: u16 },
    #[error("event at offset {offset} has two digests of algorithm {alg:#06x}")]
    DuplicateDigest { offset: usize, alg: u16 },
}

/// One (algorithm, digest size) entry of the Spec ID event (PFP §10.4.5.1
/// `TCG_EfiSpecIdEventAlgorithmSize`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlgorithmSize {
    pub alg: u16,
    pub digest_size: u16,
}

/// The `TCG_EfiSpecIDEvent` header of a crypto-agile log (PFP §10.4.5.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpecIdEvent {
    pub platform_class: u32,
    pub spec_version_minor: u8,
    pub spec_version_major: u8,
    pub spec_errata: u8,
    /// 1 = UINTN is 32 bits, 2 = 64 bits.
    pub uintn_size: u8,
    pub algorithms: Vec<AlgorithmSize>,
    pub vendor_info: Vec<u8>,
}

impl SpecIdEvent {
    fn digest_size(&self, alg: u16) -> Option<usize> {
        self.algorithms
            .iter()
            .find(|a| a.alg == alg)
            .map(|a| usize::from(a.digest_size))
    }
}

/// One digest of an event (`TPMT_HA`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventDigest {
    pub alg: u16,
    pub digest: Vec<u8>,
}

/// One `TCG_PCR_EVENT2` record (PFP §10.2.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub pcr_index: u32,
    pub event_type: u32,
    pub digests: Vec<EventDigest>,
    pub data: Vec<u8>,
}

impl Event {
    /// This event's digest in bank `alg`, if it carries one.
    pub fn digest(&self, alg: HashAlg) -> Option<&[u8]> {
        self.digests
            .iter()
            .find(|d| d.alg == alg.id())
            .map(|d| d.digest.as_slice())
    }

    /// Whether the event was extended into its PCR: every type except
    /// `EV_NO_ACTION` (PFP §10.4.1).
    pub fn is_extended(&self) -> bool {
        self.event_type != event_type::EV_NO_ACTION
    }

    /// The locality of a `StartupLocality` record (PFP §10.4.5.3), which
    /// sets PCR 0's initial value.
    pub fn startup_locality(&self) -> Option<u8> {
        if self.event_type != event_type::EV_NO_ACTION || self.pcr_index != 0 {
            return None;
        }
        match self.data.split_at_checked(STARTUP_LOCALITY_SIGNATURE.len()) {
            Some((sig, [locality])) if sig == STARTUP_LOCALITY_SIGNATURE => Some(*locality),
            _ => None,
        }
    }
}

/// A parsed crypto-agile event log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventLog {
    pub spec_id: SpecIdEvent,
    /// Every record after the Spec ID header, in log order.
    pub events: Vec<Event>,
}

impl EventLog {
    /// Parses a whole log. Trailing zero bytes after the last record are
    /// accepted (logs copied out of a firmware-reserved memory area are
    /// zero-padded; an all-zero record is not a valid event); anything else
    /// must be a complete, well-formed record.
    pub fn parse(bytes: &[u8]) -> Result<EventLog, EventLogError> {
        if bytes.is_empty() {
            return Err(EventLogError::Empty);
        }
        let mut r = Reader::new(bytes);
        let spec_id = parse_header(&mut r)?;
        let mut events = Vec::new();
        while !r.remaining().is_empty() {
            if r.remaining().iter().all(|&b| b == 0) {
                break;
            }
            events.push(parse_event(&mut r, &spec_id)?);
        }
        Ok(EventLog { spec_id, events })
    }

    /// The hash banks the log carries digests for, in Spec ID order
    /// (algorithms this crate cannot compute are left out).
    pub fn banks(&self) -> Vec<HashAlg> {
        self.spec_id
            .algorithms
            .iter()
            .filter_map(|a| HashAlg::from_id(a.alg))
            .collect()
    }

    /// The locality the TPM was started from, per the first
    /// `StartupLocality` record (0 when there is none, PFP §10.4.5.3).
    pub fn startup_locality(&self) -> u8 {
        self.events
            .iter()
            .find_map(Event::startup_locality)
            .unwrap_or(0)
    }

    /// Serializes the log in the format [`EventLog::parse`] reads; used to
    /// build logs in tests and to check round trips.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut spec = Vec::new();
        spec.extend_from_slice(SPEC_ID_SIGNATURE);
        spec.extend_from_slice(&self.spec_id.platform_class.to_le_bytes());
        spec.push(self.spec_id.spec_version_minor);
        spec.push(self.spec_id.spec_version_major);
        spec.push(self.spec_id.spec_errata);
        spec.push(self.spec_id.uintn_size);
        spec.extend_from_slice(&len_u32(self.spec_id.algorithms.len()).to_le_bytes());
        for a in &self.spec_id.algorithms {
            spec.extend_from_slice(&a.alg.to_le_bytes());
            spec.extend_from_slice(&a.digest_size.to_le_bytes());
        }
        let vendor_len = u8::try_from(self.spec_id.vendor_info.len()).unwrap_or(u8::MAX);
        spec.push(vendor_len);
        spec.extend(
            self.spec_id
                .vendor_info
                .iter()
                .take(usize::from(vendor_len)),
        );

        let mut out = Vec::new();
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&event_type::EV_NO_ACTION.to_le_bytes());
        out.extend_from_slice(&[0u8; HEADER_DIGEST_SIZE]);
        out.extend_from_slice(&len_u32(spec.len()).to_le_bytes());
        out.extend_from_slice(&spec);
        for e in &self.events {
            out.extend_from_slice(&e.pcr_index.to_le_bytes());
            out.extend_from_slice(&e.event_type.to_le_bytes());
            out.extend_from_slice(&len_u32(e.digests.len()).to_le_bytes());
            for d in &e.digests {
                out.extend_from_slice(&d.alg.to_le_bytes());
                out.extend_from_slice(&d.digest);
            }
            out.extend_from_slice(&len_u32(e.data.len()).to_le_bytes());
            out.extend_from_slice(&e.data);
        }
        out
    }
}

fn len_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The legacy-format first record and the Spec ID event in it (PFP §10.2.1,
/// §10.4.5.1): PCR 0, `EV_NO_ACTION`, an all-zero SHA-1 digest.
fn parse_header(r: &mut Reader<'_>) -> Result<SpecIdEvent, EventLogError> {
    let pcr = r.u32("header pcrIndex")?;
    let ty = r.u32("header eventType")?;
    let digest = r.take(HEADER_DIGEST_SIZE, "header digest")?;
    let size = r.u32("header eventSize")?;
    if pcr != 0 || ty != event_type::EV_NO_ACTION {
        return Err(EventLogError::NotCryptoAgile(
            "not an EV_NO_ACTION record in PCR 0",
        ));
    }
    if digest.iter().any(|&b| b != 0) {
        return Err(EventLogError::NotCryptoAgile("header digest is not zero"));
    }
    let data = r.take(usize_of(size), "Spec ID event data")?;
    let mut s = Reader::new(data);
    if s.take(SPEC_ID_SIGNATURE.len(), "Spec ID signature")? != SPEC_ID_SIGNATURE {
        return Err(EventLogError::NotCryptoAgile(
            "signature is not \"Spec ID Event03\"",
        ));
    }
    let platform_class = s.u32("platformClass")?;
    let spec_version_minor = s.u8("specVersionMinor")?;
    let spec_version_major = s.u8("specVersionMajor")?;
    let spec_errata = s.u8("specErrata")?;
    let uintn_size = s.u8("uintnSize")?;
    let n = s.u32("numberOfAlgorithms")?;
    if usize_of(n) > MAX_ALGORITHMS {
        return Err(EventLogError::TooManyAlgorithms(n));
    }
    let mut algorithms: Vec<AlgorithmSize> = Vec::new();
    for _ in 0..n {
        let alg = s.u16("algorithmId")?;
        let digest_size = s.u16("digestSize")?;
        if algorithms.iter().any(|a| a.alg == alg) {
            return Err(EventLogError::DuplicateAlgorithm { alg });
        }
        if let Some(h) = HashAlg::from_id(alg) {
            if h.digest_size() != usize::from(digest_size) {
                return Err(EventLogError::WrongDigestSize {
                    alg,
                    size: digest_size,
                    expected: h.digest_size(),
                });
            }
        }
        algorithms.push(AlgorithmSize { alg, digest_size });
    }
    let vendor_size = s.u8("vendorInfoSize")?;
    let vendor_info = s.take(usize::from(vendor_size), "vendorInfo")?.to_vec();
    if !s.remaining().is_empty() {
        return Err(EventLogError::SpecIdTrailingBytes(s.remaining().len()));
    }
    Ok(SpecIdEvent {
        platform_class,
        spec_version_minor,
        spec_version_major,
        spec_errata,
        uintn_size,
        algorithms,
        vendor_info,
    })
}

/// One `TCG_PCR_EVENT2` (PFP §10.2.2); digest sizes come from the Spec ID
/// table, so an algorithm it does not list cannot be skipped and is an error.
fn parse_event(r: &mut Reader<'_>, spec: &SpecIdEvent) -> Result<Event, EventLogError> {
    let offset = r.offset();
    let pcr_index = r.u32("pcrIndex")?;
    let event_type = r.u32("eventType")?;
    let count = r.u32("digest count")?;
    if usize_of(count) > spec.algorithms.len() {
        return Err(EventLogError::TooManyDigests {
            offset,
            count,
            max: spec.algorithms.len(),
        });
    }
    // `count` is bounded by the Spec ID event's list just above.
    let mut digests: Vec<EventDigest> = Vec::with_capacity(usize_of(count));
    for _ in 0..count {
        let alg = r.u16("digest algorithm")?;
        let size = spec
            .digest_size(alg)
            .ok_or(EventLogError::UnknownDigestAlgorithm { offset, alg })?;
        if digests.iter().any(|d| d.alg == alg) {
            return Err(EventLogError::DuplicateDigest { offset, alg });
        }
        let digest = r.take(size, "digest")?.to_vec();
        digests.push(EventDigest { alg, digest });
    }
    let size = r.u32("eventSize")?;
    let data = r.take(usize_of(size), "event data")?.to_vec();
    Ok(Event {
        pcr_index,
        event_type,
        digests,
        data,
    })
}

/// A u32 length as usize; saturating keeps a huge value a huge value on
/// 16-bit targets, so the bounds check still refuses it.
fn usize_of(n: u32) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}
