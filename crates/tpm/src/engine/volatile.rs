//! The volatile state of a running TPM as a blob, for live migration.
//!
//! A TPM that moves to another host while its VM runs must keep what a
//! power cycle would lose: PCR values, loaded objects and sessions (with
//! their nonces and policy digests), the context-gap bookkeeping, the
//! hierarchy enables, TPM time and the startup facts. libtpms serializes
//! the same data for swtpm's `PTM_BLOB_TYPE_VOLATILE` (NVMarshal.c
//! `VolatileState_Marshal`: PCRs, objects, sessions, the STATE_CLEAR and
//! STATE_RESET data, `g_time`, `s_selfHealTimer`…); QEMU fetches it on the
//! source and pushes it into the destination before CMD_INIT, which then
//! resumes the TPM instead of a _TPM_Init.
//!
//! Format, like the permanent blob (`state.rs`): `MAGIC || version u32 ||
//! body_len u32 || body || SHA-256(all preceding bytes)`, the body tagged
//! fields (`tag u16 || len u32 || bytes`). Tags live in 0x0100–0x01FF so
//! they never collide with the permanent blob's 0x0001–0x00FF. Every field
//! is required, unknown ones are refused, and a blob is applied whole or
//! not at all. The checksum catches accidents only; vtpmd seals the blob
//! (AES-256-GCM) before it leaves the daemon.
//!
//! Not carried: hash/HMAC/event sequence objects (their hash state cannot
//! be exported from the hash implementations used here; a migrated
//! sequence handle answers TPM_RC_HANDLE as after a TPM Reset), and the
//! cache of recently derived RSA primaries (it is rebuilt on demand).

use super::fields::{get_bytes, get_flag, put_bytes};
use std::collections::{BTreeMap, BTreeSet};

use zeroize::Zeroizing;

use crate::constants::rh;
use crate::crypto::HashAlg;
use crate::types::HASH_COUNT;
use crate::wire::{decode_list_u32, encode_list_u32, Codec, Reader, WireError};

use super::hierarchy::{AuthPolicy, HierarchyVol};
use super::object::saved::{decode_session, encode_session};
use super::object::{LoadedObject, ObjectsPermanent, ObjectsReset};
use super::state::{ClockState, PcrBank, StateError, VolatileState};
use super::{TimeSource, Tpm, Transient};

const MAGIC: &[u8; 8] = b"TCTPMVL\0";
const FORMAT_VERSION: u32 = 1;
/// Largest volatile blob accepted: three objects and three sessions are
/// a few KiB each.
pub const MAX_VOLATILE_BLOB: usize = 1 << 20;

mod tag {
    /// started, startup locality, orderly, enables, self-test, audit session.
    pub const CORE: u16 = 0x0100;
    /// Host time, TPM time, Clock and its rate, the ticket time epoch.
    pub const TIME: u16 = 0x0101;
    /// PCR banks and pcrUpdateCounter.
    pub const PCR: u16 = 0x0102;
    /// platformAuth and the null proof.
    pub const SECRETS: u16 = 0x0103;
    /// platformPolicy and the dictionary-attack timers.
    pub const HIERARCHY: u16 = 0x0104;
    /// Null seed and context counters (STATE_RESET data).
    pub const OBJECTS_RESET: u16 = 0x0105;
    /// Command audit digest.
    pub const AUDIT: u16 = 0x0106;
    /// Loaded transient objects.
    pub const TRANSIENTS: u16 = 0x0107;
    /// Loaded sessions.
    pub const SESSIONS: u16 = 0x0108;
    pub const ALL: [u16; 9] = [
        CORE,
        TIME,
        PCR,
        SECRETS,
        HIERARCHY,
        OBJECTS_RESET,
        AUDIT,
        TRANSIENTS,
        SESSIONS,
    ];
}

/// A time source running `offset` ms ahead of (or behind) `inner`, so a
/// restored TPM sees the host time of the TPM it was taken from and every
/// host-time value in the blob keeps its meaning. Never below the value
/// it had when created.
struct Shifted {
    inner: Box<dyn TimeSource>,
    offset: i128,
}

impl TimeSource for Shifted {
    fn now_ms(&self) -> u64 {
        let t = i128::from(self.inner.now_ms()) + self.offset;
        u64::try_from(t.max(0)).unwrap_or(u64::MAX)
    }
}

/// Placeholder while the real time source is moved into a [`Shifted`].
struct Frozen;

impl TimeSource for Frozen {
    fn now_ms(&self) -> u64 {
        0
    }
}

fn put(body: &mut Vec<u8>, tag: u16, bytes: &[u8]) {
    tag.encode(body);
    (bytes.len() as u32).encode(body);
    body.extend_from_slice(bytes);
}

/// The restored pieces, built whole before the TPM is touched.
struct Decoded {
    started: bool,
    host_now: u64,
    init_ms: u64,
    vol: VolatileState,
}

impl Tpm {
    /// The volatile state (everything TPM2_Shutdown(STATE) would not save
    /// plus what it would) as a self-checking blob; see the module docs.
    /// Pair it with [`Tpm::state_blob`] taken at the same moment.
    pub fn volatile_blob(&self) -> Vec<u8> {
        let v = &self.vol;
        let mut body = Vec::new();

        let mut core = Vec::new();
        self.started.encode(&mut core);
        v.startup_locality.encode(&mut core);
        v.orderly_startup.encode(&mut core);
        for b in [v.ph_enable, v.sh_enable, v.eh_enable, v.ph_enable_nv] {
            b.encode(&mut core);
        }
        match v.test_failure {
            Some(a) => {
                core.push(1);
                a.encode(&mut core);
            }
            None => core.push(0),
        }
        match v.exclusive_audit {
            Some(h) => {
                core.push(1);
                h.encode(&mut core);
            }
            None => core.push(0),
        }
        (v.tested.len() as u16).encode(&mut core);
        for a in &v.tested {
            a.encode(&mut core);
        }
        put(&mut body, tag::CORE, &core);

        let mut time = Vec::new();
        self.time.now_ms().encode(&mut time);
        self.init_ms.encode(&mut time);
        v.clock.base.encode(&mut time);
        v.clock.anchor_ms.encode(&mut time);
        v.clock.rate.encode(&mut time);
        match v.time_epoch {
            Some(e) => {
                time.push(1);
                e.encode(&mut time);
            }
            None => time.push(0),
        }
        put(&mut body, tag::TIME, &time);

        let mut pcr = Vec::new();
        v.pcr_update_counter.encode(&mut pcr);
        encode_list_u32(&v.pcr_banks, &mut pcr);
        put(&mut body, tag::PCR, &pcr);

        let mut secrets = Zeroizing::new(Vec::new());
        put_bytes(&mut secrets, &v.platform_auth);
        put_bytes(&mut secrets, &v.null_proof);
        put(&mut body, tag::SECRETS, &secrets);

        let mut h = Vec::new();
        match &v.hierarchy.platform_policy {
            Some(p) => {
                h.push(1);
                p.alg.id().encode(&mut h);
                put_bytes(&mut h, &p.digest);
            }
            None => h.push(0),
        }
        (v.hierarchy.heal_timer as u64).encode(&mut h);
        (v.hierarchy.lockout_timer as u64).encode(&mut h);
        v.hierarchy.da_used.encode(&mut h);
        put(&mut body, tag::HIERARCHY, &h);

        // The reset data has an encoding already: the one Shutdown(STATE)
        // stores in the permanent blob.
        let holder = ObjectsPermanent {
            persistent: BTreeMap::new(),
            saved: Some(v.objects.reset.clone()),
        };
        let reset = holder
            .blob_fields(0, tag::OBJECTS_RESET)
            .into_iter()
            .map(|(_, b)| Zeroizing::new(b))
            .next()
            .unwrap_or_default();
        put(&mut body, tag::OBJECTS_RESET, &reset);

        let mut audit = Vec::new();
        put_bytes(&mut audit, &v.audit.digest);
        v.audit.hash_changed.encode(&mut audit);
        put(&mut body, tag::AUDIT, &audit);

        let mut objs = Zeroizing::new(Vec::new());
        let objects: Vec<(u32, &LoadedObject)> = v
            .transients
            .iter()
            .filter_map(|(&h, t)| match t {
                Transient::Object(o) => Some((h, &**o)),
                Transient::Sequence(_) => None,
            })
            .collect();
        (objects.len() as u32).encode(&mut objs);
        for (h, o) in objects {
            h.encode(&mut objs);
            let bytes = o.to_bytes();
            (bytes.len() as u32).encode(&mut objs);
            objs.extend_from_slice(&bytes);
        }
        put(&mut body, tag::TRANSIENTS, &objs);

        let mut sess = Zeroizing::new(Vec::new());
        (v.sessions.len() as u32).encode(&mut sess);
        for (h, s) in &v.sessions {
            h.encode(&mut sess);
            let bytes = encode_session(s);
            (bytes.len() as u32).encode(&mut sess);
            sess.extend_from_slice(&bytes);
        }
        put(&mut body, tag::SESSIONS, &sess);

        let mut out = Vec::with_capacity(body.len() + 48);
        out.extend_from_slice(MAGIC);
        FORMAT_VERSION.encode(&mut out);
        (body.len() as u32).encode(&mut out);
        out.extend_from_slice(&body);
        let sum = HashAlg::Sha256.digest(&[&out]);
        out.extend_from_slice(&sum);
        // The body held secrets; only `out` leaves.
        zeroize::Zeroize::zeroize(&mut body);
        out
    }

    /// Replaces the volatile state with one written by
    /// [`Tpm::volatile_blob`] on a TPM with the same permanent state (the
    /// destination of a live migration, after [`Tpm::from_state`]). The TPM
    /// then runs on as the source did, without TPM2_Startup. A blob that is
    /// corrupt, of another version, or inconsistent with this TPM's PCR
    /// allocation is refused and the TPM is left as it was.
    pub fn restore_volatile(&mut self, blob: &[u8]) -> Result<(), StateError> {
        let d = self.decode_volatile(blob)?;
        let inner = std::mem::replace(&mut self.time, Box::new(Frozen));
        let offset = i128::from(d.host_now) - i128::from(inner.now_ms());
        self.time = Box::new(Shifted { inner, offset });
        self.init_ms = d.init_ms;
        self.started = d.started;
        self.vol = d.vol;
        Ok(())
    }

    fn decode_volatile(&self, blob: &[u8]) -> Result<Decoded, StateError> {
        if blob.len() > MAX_VOLATILE_BLOB {
            return Err(StateError::Length);
        }
        if blob.len() < MAGIC.len() + 8 + 32 {
            return Err(if blob.starts_with(MAGIC) || blob.is_empty() {
                StateError::Length
            } else {
                StateError::BadMagic
            });
        }
        if blob.get(..MAGIC.len()) != Some(&MAGIC[..]) {
            return Err(StateError::BadMagic);
        }
        let (content, sum) = blob.split_at(blob.len() - 32);
        let mut r = Reader::new(content.get(MAGIC.len()..).unwrap_or(&[]));
        let version = r.u32().map_err(|_| StateError::Length)?;
        if version != FORMAT_VERSION {
            return Err(StateError::Version(version));
        }
        let body_len = r.u32().map_err(|_| StateError::Length)? as usize;
        if body_len != r.remaining() {
            return Err(StateError::Length);
        }
        let expect = HashAlg::Sha256.digest(&[content]);
        if !bool::from(subtle::ConstantTimeEq::ct_eq(&expect[..], sum)) {
            return Err(StateError::Checksum);
        }
        let mut fields: BTreeMap<u16, &[u8]> = BTreeMap::new();
        while !r.is_empty() {
            let t = r.u16().map_err(|_| StateError::Length)?;
            let n = r.u32().map_err(|_| StateError::Length)? as usize;
            let v = r.take(n).map_err(|_| StateError::Length)?;
            if !tag::ALL.contains(&t) {
                return Err(StateError::UnknownField(t));
            }
            if fields.insert(t, v).is_some() {
                return Err(StateError::Field {
                    tag: t,
                    err: WireError::Value,
                });
            }
        }
        let get = |t: u16| fields.get(&t).copied().ok_or(StateError::Missing(t));
        // Each field parses whole: every byte used, errors name the tag.
        fn whole<T>(
            t: u16,
            bytes: &[u8],
            f: impl FnOnce(&mut Reader<'_>) -> Result<T, WireError>,
        ) -> Result<T, StateError> {
            let mut r = Reader::new(bytes);
            let v = f(&mut r).map_err(|err| StateError::Field { tag: t, err })?;
            if !r.is_empty() {
                return Err(StateError::Field {
                    tag: t,
                    err: WireError::Size,
                });
            }
            Ok(v)
        }

        let mut vol = VolatileState::new(&self.perm.pcr_allocation);
        let started = whole(tag::CORE, get(tag::CORE)?, |r| {
            let started = get_flag(r)?;
            vol.startup_locality = r.u8()?;
            if vol.startup_locality > 4 {
                return Err(WireError::Value);
            }
            vol.orderly_startup = get_flag(r)?;
            vol.ph_enable = get_flag(r)?;
            vol.sh_enable = get_flag(r)?;
            vol.eh_enable = get_flag(r)?;
            vol.ph_enable_nv = get_flag(r)?;
            vol.test_failure = if get_flag(r)? { Some(r.u16()?) } else { None };
            vol.exclusive_audit = if get_flag(r)? { Some(r.u32()?) } else { None };
            let n = usize::from(r.u16()?);
            if n > 256 {
                return Err(WireError::Count);
            }
            let mut tested = BTreeSet::new();
            for _ in 0..n {
                tested.insert(r.u16()?);
            }
            vol.tested = tested;
            Ok(started)
        })?;
        let (host_now, init_ms) = whole(tag::TIME, get(tag::TIME)?, |r| {
            let host_now = r.u64()?;
            let init_ms = r.u64()?;
            let base = r.u64()?;
            let anchor_ms = r.u64()?;
            let rate = r.u32()?;
            let nominal = super::clock::CLOCK_NOMINAL;
            if init_ms > host_now
                || anchor_ms > host_now
                || !(nominal / 2..=nominal * 2).contains(&rate)
            {
                return Err(WireError::Value);
            }
            vol.clock = ClockState {
                base,
                anchor_ms,
                rate,
            };
            vol.time_epoch = if get_flag(r)? { Some(r.u64()?) } else { None };
            Ok((host_now, init_ms))
        })?;
        whole(tag::PCR, get(tag::PCR)?, |r| {
            vol.pcr_update_counter = r.u32()?;
            let banks: Vec<PcrBank> = decode_list_u32(r, HASH_COUNT)?;
            // The banks must be exactly this TPM's allocation.
            let same = banks.len() == self.perm.pcr_allocation.0.len()
                && banks
                    .iter()
                    .zip(&self.perm.pcr_allocation.0)
                    .all(|(b, a)| b.allocated == *a);
            if !same {
                return Err(WireError::Value);
            }
            vol.pcr_banks = banks;
            Ok(())
        })?;
        whole(tag::SECRETS, get(tag::SECRETS)?, |r| {
            vol.platform_auth = Zeroizing::new(get_bytes(r, 64)?);
            vol.null_proof = Zeroizing::new(get_bytes(r, 64)?);
            Ok(())
        })?;
        vol.hierarchy = whole(tag::HIERARCHY, get(tag::HIERARCHY)?, |r| {
            let platform_policy = if get_flag(r)? {
                let alg = HashAlg::from_id(r.u16()?).ok_or(WireError::Hash)?;
                let digest = get_bytes(r, 64)?;
                if digest.len() != alg.digest_size() {
                    return Err(WireError::Size);
                }
                Some(AuthPolicy { alg, digest })
            } else {
                None
            };
            Ok(HierarchyVol {
                platform_policy,
                heal_timer: r.u64()? as i64,
                lockout_timer: r.u64()? as i64,
                da_used: get_flag(r)?,
            })
        })?;
        let reset_bytes = get(tag::OBJECTS_RESET)?;
        vol.objects.reset =
            ObjectsPermanent::from_fields(None, Some((tag::OBJECTS_RESET, reset_bytes)))
                .map_err(|(tag, err)| StateError::Field { tag, err })?
                .saved
                .unwrap_or_else(ObjectsReset::default);
        whole(tag::AUDIT, get(tag::AUDIT)?, |r| {
            vol.audit.digest = get_bytes(r, 64)?;
            vol.audit.hash_changed = get_flag(r)?;
            Ok(())
        })?;
        vol.transients = whole(tag::TRANSIENTS, get(tag::TRANSIENTS)?, |r| {
            let n = r.u32()? as usize;
            if n > super::objects::MAX_LOADED_OBJECTS {
                return Err(WireError::Count);
            }
            let mut out = BTreeMap::new();
            for _ in 0..n {
                let h = r.u32()?;
                if rh::handle_type(h) != rh::HT_TRANSIENT {
                    return Err(WireError::Handle);
                }
                let len = r.u32()? as usize;
                let o = LoadedObject::from_bytes(r.take(len)?)?;
                if out.insert(h, Transient::Object(Box::new(o))).is_some() {
                    return Err(WireError::Value);
                }
            }
            Ok(out)
        })?;
        vol.sessions = whole(tag::SESSIONS, get(tag::SESSIONS)?, |r| {
            let n = r.u32()? as usize;
            if n > super::session::MAX_LOADED_SESSIONS {
                return Err(WireError::Count);
            }
            let mut out = BTreeMap::new();
            for _ in 0..n {
                let h = r.u32()?;
                let ty = rh::handle_type(h);
                if ty != rh::HT_HMAC_SESSION && ty != rh::HT_POLICY_SESSION {
                    return Err(WireError::Handle);
                }
                let len = r.u32()? as usize;
                let s = decode_session(r.take(len)?)?;
                if out.insert(h, s).is_some() {
                    return Err(WireError::Value);
                }
            }
            Ok(out)
        })?;
        if let Some(h) = vol.exclusive_audit {
            if !vol.sessions.contains_key(&h) {
                return Err(StateError::Field {
                    tag: tag::CORE,
                    err: WireError::Handle,
                });
            }
        }
        Ok(Decoded {
            started,
            host_now,
            init_ms,
            vol,
        })
    }
}
