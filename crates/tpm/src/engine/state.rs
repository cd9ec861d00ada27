//! The engine's state: what survives a power cycle (permanent, persisted by
//! the host as a blob) and what does not (volatile).
//!
//! The blob format is `MAGIC || version u32 || body_len u32 || body ||
//! SHA-256(all preceding bytes)`, the body a sequence of tagged fields. A
//! blob is accepted whole or not at all: bad magic, unknown version,
//! length mismatch, checksum mismatch, unknown or missing fields are all
//! refused, so a torn or tampered file is never loaded half-way. (Integrity
//! against a deliberate attacker is the host store's job — vtpmd seals the
//! blob with an AEAD; this checksum catches accidents.)

use std::collections::{BTreeMap, BTreeSet};

use zeroize::Zeroizing;

use crate::crypto::{Drbg, HashAlg};
use crate::types::{PcrSelection, PcrSelectionList, IMPLEMENTATION_PCR};
use crate::wire::{Codec, Reader, WireError};

use super::Transient;

const MAGIC: &[u8; 8] = b"TCTPMST\0";
const FORMAT_VERSION: u32 = 1;

/// Why a state blob was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StateError {
    #[error("not a trustcloud TPM state blob (bad magic)")]
    BadMagic,
    #[error("state blob format version {0} is not supported (this build reads version {FORMAT_VERSION})")]
    Version(u32),
    #[error("state blob is truncated or has trailing bytes")]
    Length,
    #[error("state blob checksum mismatch: the file is corrupt")]
    Checksum,
    #[error("state blob field {tag:#06x} is malformed: {err}")]
    Field { tag: u16, err: WireError },
    #[error("state blob lacks required field {0:#06x}")]
    Missing(u16),
    #[error("state blob has unknown field {0:#06x} (written by a newer version?)")]
    UnknownField(u16),
}

/// A 64-byte secret (seed or proof value), zeroized on drop.
pub(crate) type Secret = Zeroizing<Vec<u8>>;

/// How the TPM was last shut down (Part 1 §12.2 orderly shutdown).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Orderly {
    /// No TPM2_Shutdown before power loss (or TPM running): disorderly.
    None,
    Clear,
    State,
}

/// Volatile state preserved by TPM2_Shutdown(STATE) (the reference code's
/// STATE_CLEAR and STATE_RESET data, Part 1 §12.2.3 / §36.5): TPM Resume
/// (Startup(STATE)) restores all of it, TPM Restart (Startup(CLEAR) after
/// Shutdown(STATE)) only the reset-scoped part (`pcr_update_counter`,
/// `null_proof`).
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct SavedState {
    /// Every allocated bank's PCR values at shutdown; Resume restores only
    /// the PCRs with the stateSave attribute.
    pub pcr_banks: Vec<PcrBank>,
    pub pcr_update_counter: u32,
    pub platform_auth: Secret,
    pub null_proof: Secret,
    /// Locality of the Startup that began the saved cycle: a Resume must
    /// come from the same locality class (reference STARTUP_LOCALITY_3).
    pub startup_locality: u8,
    pub sh_enable: bool,
    pub eh_enable: bool,
    pub ph_enable_nv: bool,
}

impl std::fmt::Debug for SavedState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SavedState")
            .field("pcr_banks", &self.pcr_banks)
            .field("pcr_update_counter", &self.pcr_update_counter)
            .field("startup_locality", &self.startup_locality)
            .finish_non_exhaustive()
    }
}

/// Everything that survives _TPM_Init.
pub(crate) struct PermanentState {
    pub eps: Secret,
    pub sps: Secret,
    pub pps: Secret,
    pub ph_proof: Secret,
    pub sh_proof: Secret,
    pub eh_proof: Secret,
    pub owner_auth: Secret,
    pub endorsement_auth: Secret,
    pub lockout_auth: Secret,
    /// Clock (ms) as last committed to NV: at the last Shutdown, ClockSet
    /// or crossing of a [`super::clock::CLOCK_UPDATE_INTERVAL_MS`] boundary
    /// (Part 1 §36.4). A power loss rolls Clock back to this value.
    pub clock: u64,
    /// Whether no larger Clock was ever reported (TPMS_CLOCK_INFO.safe).
    pub clock_safe: bool,
    pub reset_count: u32,
    pub restart_count: u32,
    /// One selection per implemented hash, in TPM_ALG_ID order, empty for
    /// unallocated banks (as the reference code keeps gp.pcrAllocated).
    pub pcr_allocation: PcrSelectionList,
    /// Set by TPM2_PCR_Allocate, applied at the next TPM2_Startup(CLEAR)
    /// (Part 3 §22.5.1).
    pub pending_allocation: Option<PcrSelectionList>,
    pub orderly: Orderly,
    pub saved: Option<SavedState>,
    /// Hierarchy policies, disableClear and dictionary-attack state
    /// (see `hierarchy::data`).
    pub hierarchy: super::hierarchy::HierarchyPerm,
    /// NV indices and the NV counter floor (see `nv::store`).
    pub nv: super::nv::NvStore,
    /// Persistent objects and the object/session state saved by
    /// Shutdown(STATE) (see `object::store`).
    pub objects: super::object::ObjectsPermanent,
    /// Command audit: audited commands, hash, counter and the digest saved
    /// by Shutdown(STATE) (see `attest::audit`).
    pub audit: super::attest::AuditPerm,
}

impl PermanentState {
    pub fn manufacture(drbg: &mut Drbg, banks: &[HashAlg]) -> Self {
        let mut secret = || Zeroizing::new(drbg.bytes(64));
        PermanentState {
            eps: secret(),
            sps: secret(),
            pps: secret(),
            ph_proof: secret(),
            sh_proof: secret(),
            eh_proof: secret(),
            owner_auth: Zeroizing::new(Vec::new()),
            endorsement_auth: Zeroizing::new(Vec::new()),
            lockout_auth: Zeroizing::new(Vec::new()),
            clock: 0,
            clock_safe: true,
            reset_count: 0,
            restart_count: 0,
            pcr_allocation: full_allocation(
                &banks
                    .iter()
                    .map(|&h| PcrSelection::all(h))
                    .collect::<Vec<_>>(),
            ),
            pending_allocation: None,
            // A TPM leaves manufacturing shut down in order: its first
            // Startup(CLEAR) reports Clock as safe (as libtpms does).
            orderly: Orderly::Clear,
            saved: None,
            hierarchy: Default::default(),
            nv: Default::default(),
            objects: Default::default(),
            audit: Default::default(),
        }
    }

    pub fn to_blob(&self, clock_now: u64) -> Vec<u8> {
        let mut body = Vec::new();
        let mut field = |tag: u16, bytes: &[u8]| {
            tag.encode(&mut body);
            (bytes.len() as u32).encode(&mut body);
            body.extend_from_slice(bytes);
        };
        field(tag::EPS, &self.eps);
        field(tag::SPS, &self.sps);
        field(tag::PPS, &self.pps);
        field(tag::PH_PROOF, &self.ph_proof);
        field(tag::SH_PROOF, &self.sh_proof);
        field(tag::EH_PROOF, &self.eh_proof);
        field(tag::OWNER_AUTH, &self.owner_auth);
        field(tag::ENDORSEMENT_AUTH, &self.endorsement_auth);
        field(tag::LOCKOUT_AUTH, &self.lockout_auth);
        let mut clock = Vec::new();
        clock_now.encode(&mut clock);
        self.clock_safe.encode(&mut clock);
        self.reset_count.encode(&mut clock);
        self.restart_count.encode(&mut clock);
        field(tag::CLOCK, &clock);
        field(tag::PCR_ALLOCATION, &self.pcr_allocation.to_bytes());
        if let Some(p) = &self.pending_allocation {
            field(tag::PENDING_ALLOCATION, &p.to_bytes());
        }
        let orderly = match self.orderly {
            Orderly::None => 0u8,
            Orderly::Clear => 1,
            Orderly::State => 2,
        };
        field(tag::ORDERLY, &[orderly]);
        if let Some(s) = &self.saved {
            field(tag::SAVED_STATE, &s.to_bytes());
        }
        field(tag::HIERARCHY, &self.hierarchy.to_bytes());
        field(tag::NV_INDICES, &self.nv.to_bytes());
        for (t, bytes) in self.objects.blob_fields(tag::OBJECTS, tag::OBJECTS_SAVED) {
            field(t, &bytes);
        }
        field(tag::AUDIT, &self.audit.to_bytes());

        let mut out = Vec::with_capacity(body.len() + 48);
        out.extend_from_slice(MAGIC);
        FORMAT_VERSION.encode(&mut out);
        (body.len() as u32).encode(&mut out);
        out.extend_from_slice(&body);
        let sum = HashAlg::Sha256.digest(&[&out]);
        out.extend_from_slice(&sum);
        out
    }

    pub fn from_blob(blob: &[u8]) -> Result<Self, StateError> {
        if blob.len() < MAGIC.len() + 8 + 32 {
            return Err(if blob.starts_with(MAGIC) || blob.is_empty() {
                StateError::Length
            } else {
                StateError::BadMagic
            });
        }
        if &blob[..MAGIC.len()] != MAGIC {
            return Err(StateError::BadMagic);
        }
        let (content, sum) = blob.split_at(blob.len() - 32);
        let mut r = Reader::new(&content[MAGIC.len()..]);
        let version = r.u32().map_err(|_| StateError::Length)?;
        if version != FORMAT_VERSION {
            return Err(StateError::Version(version));
        }
        let body_len = r.u32().map_err(|_| StateError::Length)? as usize;
        if body_len != r.remaining() {
            return Err(StateError::Length);
        }
        if !bool::from(subtle::ConstantTimeEq::ct_eq(
            HashAlg::Sha256.digest(&[content]).as_slice(),
            sum,
        )) {
            return Err(StateError::Checksum);
        }

        let mut fields: BTreeMap<u16, &[u8]> = BTreeMap::new();
        while !r.is_empty() {
            let t = r.u16().map_err(|_| StateError::Length)?;
            let n = r.u32().map_err(|_| StateError::Length)? as usize;
            let v = r.take(n).map_err(|_| StateError::Length)?;
            if !tag::KNOWN.contains(&t) {
                return Err(StateError::UnknownField(t));
            }
            fields.insert(t, v);
        }
        let get = |t: u16| fields.get(&t).copied().ok_or(StateError::Missing(t));
        let secret = |t: u16| -> Result<Secret, StateError> {
            let v = get(t)?;
            if v.len() > 128 {
                return Err(StateError::Field {
                    tag: t,
                    err: WireError::Size,
                });
            }
            Ok(Zeroizing::new(v.to_vec()))
        };
        let parse = |t: u16, v: &[u8]| -> Result<PcrSelectionList, StateError> {
            PcrSelectionList::from_bytes(v).map_err(|err| StateError::Field { tag: t, err })
        };

        let mut cr = Reader::new(get(tag::CLOCK)?);
        let clock_err = |err| StateError::Field {
            tag: tag::CLOCK,
            err,
        };
        let clock = cr.u64().map_err(clock_err)?;
        let clock_safe = bool::decode(&mut cr).map_err(clock_err)?;
        let reset_count = cr.u32().map_err(clock_err)?;
        let restart_count = cr.u32().map_err(clock_err)?;

        let orderly = match get(tag::ORDERLY)? {
            [0] => Orderly::None,
            [1] => Orderly::Clear,
            [2] => Orderly::State,
            _ => {
                return Err(StateError::Field {
                    tag: tag::ORDERLY,
                    err: WireError::Value,
                })
            }
        };
        let saved = match fields.get(&tag::SAVED_STATE) {
            Some(v) => Some(SavedState::from_bytes(v).map_err(|err| StateError::Field {
                tag: tag::SAVED_STATE,
                err,
            })?),
            None => None,
        };
        Ok(PermanentState {
            eps: secret(tag::EPS)?,
            sps: secret(tag::SPS)?,
            pps: secret(tag::PPS)?,
            ph_proof: secret(tag::PH_PROOF)?,
            sh_proof: secret(tag::SH_PROOF)?,
            eh_proof: secret(tag::EH_PROOF)?,
            owner_auth: secret(tag::OWNER_AUTH)?,
            endorsement_auth: secret(tag::ENDORSEMENT_AUTH)?,
            lockout_auth: secret(tag::LOCKOUT_AUTH)?,
            clock,
            clock_safe,
            reset_count,
            restart_count,
            pcr_allocation: full_allocation(
                &parse(tag::PCR_ALLOCATION, get(tag::PCR_ALLOCATION)?)?.0,
            ),
            pending_allocation: match fields.get(&tag::PENDING_ALLOCATION) {
                Some(v) => Some(full_allocation(&parse(tag::PENDING_ALLOCATION, v)?.0)),
                None => None,
            },
            orderly,
            saved,
            // Absent in blobs written before the hierarchy commands
            // existed: those TPMs still have their manufacture values.
            hierarchy: match fields.get(&tag::HIERARCHY) {
                Some(v) => super::hierarchy::HierarchyPerm::from_bytes(v).map_err(|err| {
                    StateError::Field {
                        tag: tag::HIERARCHY,
                        err,
                    }
                })?,
                None => Default::default(),
            },
            // Absent when there is no persistent object / saved state.
            objects: super::object::ObjectsPermanent::from_fields(
                fields.get(&tag::OBJECTS).map(|v| (tag::OBJECTS, *v)),
                fields
                    .get(&tag::OBJECTS_SAVED)
                    .map(|v| (tag::OBJECTS_SAVED, *v)),
            )
            .map_err(|(tag, err)| StateError::Field { tag, err })?,
            // Absent in blobs written before NV indices existed: no index.
            nv: match fields.get(&tag::NV_INDICES) {
                Some(v) => super::nv::NvStore::from_bytes(v).map_err(|err| StateError::Field {
                    tag: tag::NV_INDICES,
                    err,
                })?,
                None => Default::default(),
            },
            // Absent in blobs written before command audit existed: the
            // manufacture values.
            audit: match fields.get(&tag::AUDIT) {
                Some(v) => {
                    super::attest::AuditPerm::from_bytes(v).map_err(|err| StateError::Field {
                        tag: tag::AUDIT,
                        err,
                    })?
                }
                None => Default::default(),
            },
        })
    }
}

/// An allocation naming every implemented hash once, in TPM_ALG_ID order:
/// banks absent from `sels` are empty, and when a bank appears more than
/// once the last selection wins (Part 3 §22.5.1).
pub(crate) fn full_allocation(sels: &[PcrSelection]) -> PcrSelectionList {
    PcrSelectionList(
        HashAlg::ALL
            .iter()
            .map(|&h| {
                sels.iter()
                    .rev()
                    .find(|s| s.hash == h)
                    .cloned()
                    .unwrap_or_else(|| PcrSelection::none(h))
            })
            .collect(),
    )
}

/// Field tags of the state blob body. New fields get new tags; a tag's
/// meaning never changes. 0x0100–0x01FF belong to the volatile-state blob
/// (`volatile.rs`), so a field can never be read as the other blob's.
mod tag {
    pub const EPS: u16 = 0x0001;
    pub const SPS: u16 = 0x0002;
    pub const PPS: u16 = 0x0003;
    pub const PH_PROOF: u16 = 0x0004;
    pub const SH_PROOF: u16 = 0x0005;
    pub const EH_PROOF: u16 = 0x0006;
    pub const OWNER_AUTH: u16 = 0x0010;
    pub const ENDORSEMENT_AUTH: u16 = 0x0011;
    pub const LOCKOUT_AUTH: u16 = 0x0012;
    pub const CLOCK: u16 = 0x0020;
    pub const PCR_ALLOCATION: u16 = 0x0030;
    pub const PENDING_ALLOCATION: u16 = 0x0031;
    pub const ORDERLY: u16 = 0x0040;
    pub const SAVED_STATE: u16 = 0x0041;
    /// Hierarchy policies, disableClear, dictionary-attack state
    /// (0x0050-0x005F belong to the hierarchy module).
    pub const HIERARCHY: u16 = 0x0050;
    /// NV indices (0x0060-0x006F belong to the NV module).
    pub const NV_INDICES: u16 = 0x0060;
    /// Persistent objects (0x0070-0x007F belong to the objects module).
    pub const OBJECTS: u16 = 0x0070;
    /// Object/session reset data saved by Shutdown(STATE).
    pub const OBJECTS_SAVED: u16 = 0x0071;
    /// Command audit (0x0080-0x008F belong to the attestation module).
    pub const AUDIT: u16 = 0x0080;
    pub const KNOWN: &[u16] = &[
        EPS,
        SPS,
        PPS,
        PH_PROOF,
        SH_PROOF,
        EH_PROOF,
        OWNER_AUTH,
        ENDORSEMENT_AUTH,
        LOCKOUT_AUTH,
        CLOCK,
        PCR_ALLOCATION,
        PENDING_ALLOCATION,
        ORDERLY,
        SAVED_STATE,
        HIERARCHY,
        NV_INDICES,
        OBJECTS,
        OBJECTS_SAVED,
        AUDIT,
    ];
}

/// One PCR bank: the values of the PCRs allocated in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PcrBank {
    pub alg: HashAlg,
    /// Which PCRs are allocated in this bank.
    pub allocated: PcrSelection,
    /// `IMPLEMENTATION_PCR` digests, concatenated.
    pub values: Vec<u8>,
}

impl PcrBank {
    pub fn new(allocated: &PcrSelection) -> Self {
        PcrBank {
            alg: allocated.hash,
            allocated: allocated.clone(),
            values: vec![0; IMPLEMENTATION_PCR * allocated.hash.digest_size()],
        }
    }

    pub fn get(&self, pcr: usize) -> Option<&[u8]> {
        let n = self.alg.digest_size();
        self.values.get(pcr * n..(pcr + 1) * n)
    }

    pub fn get_mut(&mut self, pcr: usize) -> Option<&mut [u8]> {
        let n = self.alg.digest_size();
        self.values.get_mut(pcr * n..(pcr + 1) * n)
    }
}

impl Codec for PcrBank {
    fn encode(&self, out: &mut Vec<u8>) {
        self.allocated.encode(out);
        out.extend_from_slice(&self.values);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let allocated = PcrSelection::decode(r)?;
        let n = IMPLEMENTATION_PCR * allocated.hash.digest_size();
        let values = r.take(n)?.to_vec();
        Ok(PcrBank {
            alg: allocated.hash,
            allocated,
            values,
        })
    }
}

impl Codec for SavedState {
    fn encode(&self, out: &mut Vec<u8>) {
        crate::wire::encode_list_u32(&self.pcr_banks, out);
        self.pcr_update_counter.encode(out);
        crate::wire::Tpm2bBytes::<64>(self.platform_auth.to_vec()).encode(out);
        crate::wire::Tpm2bBytes::<64>(self.null_proof.to_vec()).encode(out);
        self.startup_locality.encode(out);
        self.sh_enable.encode(out);
        self.eh_enable.encode(out);
        self.ph_enable_nv.encode(out);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let pcr_banks: Vec<PcrBank> = crate::wire::decode_list_u32(r, crate::types::HASH_COUNT)?;
        let pcr_update_counter = r.u32()?;
        let platform_auth = Zeroizing::new(crate::types::Auth2b::decode(r)?.0.clone());
        let null_proof = Zeroizing::new(crate::types::Auth2b::decode(r)?.0.clone());
        let startup_locality = r.u8()?;
        if startup_locality > 4 {
            return Err(WireError::Value);
        }
        Ok(SavedState {
            pcr_banks,
            pcr_update_counter,
            platform_auth,
            null_proof,
            startup_locality,
            sh_enable: bool::decode(r)?,
            eh_enable: bool::decode(r)?,
            ph_enable_nv: bool::decode(r)?,
        })
    }
}

/// The running Clock (Part 1 §36.2): `base` ms at host time `anchor_ms`,
/// advancing at `CLOCK_NOMINAL / rate` of host speed (TPM2_ClockRateAdjust).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ClockState {
    pub base: u64,
    pub anchor_ms: u64,
    pub rate: u32,
}

/// Everything lost at _TPM_Init unless saved by Shutdown(STATE).
pub(crate) struct VolatileState {
    pub pcr_banks: Vec<PcrBank>,
    /// TPM_PT_... pcrUpdateCounter (Part 2 §10.9.7, PCR_Read response).
    pub pcr_update_counter: u32,
    /// Loaded transient objects and sequences, by handle.
    pub transients: BTreeMap<u32, Transient>,
    /// Loaded authorization sessions, by handle.
    pub sessions: BTreeMap<u32, super::session::Session>,
    /// The exclusive audit session, if any (Part 1 §19.6.14).
    pub exclusive_audit: Option<u32>,
    /// Platform authorization: empty after every Startup(CLEAR).
    pub platform_auth: Secret,
    /// Null hierarchy proof, new at every TPM Reset.
    pub null_proof: Secret,
    pub ph_enable: bool,
    pub sh_enable: bool,
    pub eh_enable: bool,
    pub ph_enable_nv: bool,
    /// Algorithms that have passed self-test since power-on.
    pub tested: BTreeSet<u16>,
    /// The algorithm whose known-answer test failed, if one did: the TPM
    /// is then in failure mode (Part 1 §12.3, Part 3 §10.2) until _TPM_Init.
    pub test_failure: Option<u16>,
    /// Locality of the TPM2_Startup command (PCR 0 initial value, PC Client).
    pub startup_locality: u8,
    /// Clock progress since power-on (see `clock.rs`).
    pub clock: ClockState,
    /// Whether the last TPM2_Startup followed an orderly TPM2_Shutdown
    /// (TPMA_STARTUP_CLEAR.orderly, Part 2 §8.11).
    pub orderly_startup: bool,
    /// platformPolicy and the dictionary-attack timers (see `hierarchy::data`).
    pub hierarchy: super::hierarchy::HierarchyVol,
    /// Random per _TPM_Init, drawn on first use (the reference code's
    /// g_timeEpoch): tickets with a timeout bind it, because TPM time
    /// restarts from zero at every _TPM_Init (policy helper).
    pub time_epoch: Option<u64>,
    /// Null seed, context counters, saved sequences (see `object::store`).
    pub objects: super::object::ObjectsVolatile,
    /// The command audit digest (see `attest::audit`).
    pub audit: super::attest::AuditVol,
}

impl VolatileState {
    pub fn new(allocation: &PcrSelectionList) -> Self {
        VolatileState {
            pcr_banks: allocation.0.iter().map(PcrBank::new).collect(),
            pcr_update_counter: 0,
            transients: BTreeMap::new(),
            sessions: BTreeMap::new(),
            exclusive_audit: None,
            platform_auth: Zeroizing::new(Vec::new()),
            null_proof: Zeroizing::new(Vec::new()),
            ph_enable: true,
            sh_enable: true,
            eh_enable: true,
            ph_enable_nv: true,
            tested: BTreeSet::new(),
            test_failure: None,
            startup_locality: 0,
            clock: ClockState {
                base: 0,
                anchor_ms: 0,
                rate: super::clock::CLOCK_NOMINAL,
            },
            orderly_startup: false,
            hierarchy: Default::default(),
            time_epoch: None,
            objects: Default::default(),
            audit: Default::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> PermanentState {
        let mut d = Drbg::new([7; 32]);
        PermanentState::manufacture(&mut d, &[HashAlg::Sha256, HashAlg::Sm3_256])
    }

    #[test]
    fn blob_round_trip() {
        let p = sample();
        let blob = p.to_blob(1234);
        let q = PermanentState::from_blob(&blob).expect("round trip");
        assert_eq!(q.clock, 1234);
        assert_eq!(*q.eps, *p.eps);
        assert_eq!(q.pcr_allocation, p.pcr_allocation);
        assert_eq!(q.to_blob(1234), blob);
    }

    /// A state as after Shutdown(STATE) with an allocation pending.
    fn sample_saved() -> PermanentState {
        let mut p = sample();
        let mut bank = PcrBank::new(&PcrSelection::all(HashAlg::Sha256));
        if let Some(v) = bank.get_mut(3) {
            v.fill(0x33);
        }
        p.saved = Some(SavedState {
            pcr_banks: vec![
                bank,
                PcrBank::new(&PcrSelection::with(HashAlg::Sha1, &[0, 17])),
            ],
            pcr_update_counter: 77,
            platform_auth: Zeroizing::new(b"platform".to_vec()),
            null_proof: Zeroizing::new(vec![9; 64]),
            startup_locality: 3,
            sh_enable: false,
            eh_enable: true,
            ph_enable_nv: false,
        });
        p.orderly = Orderly::State;
        p.pending_allocation = Some(full_allocation(&[PcrSelection::all(HashAlg::Sha384)]));
        p.clock_safe = false;
        p.reset_count = 5;
        p.restart_count = 2;
        p
    }

    #[test]
    fn manufactured_allocation_lists_every_bank() {
        let p = sample();
        let banks: Vec<(HashAlg, bool)> = p
            .pcr_allocation
            .0
            .iter()
            .map(|s| (s.hash, s.is_empty()))
            .collect();
        assert_eq!(
            banks,
            vec![
                (HashAlg::Sha1, true),
                (HashAlg::Sha256, false),
                (HashAlg::Sha384, true),
                (HashAlg::Sha512, true),
                (HashAlg::Sm3_256, false),
            ]
        );
        assert_eq!(p.orderly, Orderly::Clear);
    }

    #[test]
    fn full_allocation_last_selection_wins() {
        let a = full_allocation(&[
            PcrSelection::all(HashAlg::Sm3_256),
            PcrSelection::with(HashAlg::Sha1, &[1]),
            PcrSelection::with(HashAlg::Sm3_256, &[2]),
        ]);
        assert_eq!(a.0.len(), 5);
        assert_eq!(a.0[0], PcrSelection::with(HashAlg::Sha1, &[1]));
        assert_eq!(a.0[4], PcrSelection::with(HashAlg::Sm3_256, &[2]));
        assert!(a.0[1].is_empty() && a.0[2].is_empty() && a.0[3].is_empty());
    }

    #[test]
    fn saved_state_round_trip() {
        let p = sample_saved();
        let blob = p.to_blob(4321);
        let q = PermanentState::from_blob(&blob).expect("round trip");
        assert_eq!(q.saved, p.saved);
        assert_eq!(q.pending_allocation, p.pending_allocation);
        assert_eq!(q.orderly, Orderly::State);
        assert_eq!(
            (q.clock, q.clock_safe, q.reset_count, q.restart_count),
            (4321, false, 5, 2)
        );
        assert_eq!(q.to_blob(4321), blob);
    }

    #[test]
    fn every_truncation_and_bit_flip_of_a_saved_state_is_refused() {
        let blob = sample_saved().to_blob(1);
        for n in 0..blob.len() {
            assert!(
                PermanentState::from_blob(&blob[..n]).is_err(),
                "truncated at {n}"
            );
        }
        for i in 0..blob.len() {
            let mut b = blob.clone();
            b[i] ^= 0x01;
            assert!(PermanentState::from_blob(&b).is_err(), "flip at {i}");
        }
    }

    #[test]
    fn every_truncation_and_bit_flip_is_refused() {
        let blob = sample().to_blob(99);
        for n in 0..blob.len() {
            assert!(
                PermanentState::from_blob(&blob[..n]).is_err(),
                "truncated at {n}"
            );
        }
        for i in (0..blob.len()).step_by(7) {
            let mut b = blob.clone();
            b[i] ^= 0x10;
            assert!(PermanentState::from_blob(&b).is_err(), "flip at {i}");
        }
    }
}
