//! TPM2_GetCapability (Part 3 §30.2): the TPM describes itself.
//!
//! Every list is paged the way the reference implementation pages it:
//! `property` is the first value to report (entries below it are skipped),
//! at most `propertyCount` entries are returned and never more than fit in
//! MAX_CAP_BUFFER (the MAX_CAP_* bounds), and moreData is YES exactly when
//! an entry remained that did not fit. Nothing here keeps its own list of
//! what the TPM implements: algorithms and curves come from
//! [`super::algorithms`], commands from the dispatch table, PCR attributes
//! from [`super::pcr::pcr_properties`].

use crate::constants::{cap, pt, rh};
use crate::rc::Rc;
use crate::types::{
    AlgProperty, Capabilities, CapabilityData, CommandAttributes, TaggedPcrSelect, TaggedPolicy,
    TaggedProperty, IMPLEMENTATION_PCR, MAX_CAP_ALGS, MAX_CAP_BUFFER, MAX_CAP_CC, MAX_CAP_HANDLES,
    MAX_DIGEST_BUFFER, MAX_DIGEST_SIZE, MAX_ECC_CURVES, MAX_PCR_PROPERTIES, MAX_TAGGED_POLICIES,
    MAX_TPM_PROPERTIES, PCR_SELECT_MIN,
};
use crate::wire::WireError;

use super::dispatch::{Ctx, COMMANDS};
use super::objects::MAX_LOADED_OBJECTS;
use super::{algorithms, clock, pcr, Tpm, MAX_COMMAND_SIZE};

/// TPM_SPEC_FAMILY: "2.0" (Part 2 §6.1).
const SPEC_FAMILY: u32 = 0x322E_3000;
/// The Library specification this TPM follows: level 00, revision 1.83,
/// dated day 25 of 2024 (title page of TPM 2.0 Library Part 1 r1.83).
const SPEC_LEVEL: u32 = 0;
const SPEC_VERSION: u32 = 183;
const SPEC_YEAR: u32 = 2024;
const SPEC_DAY_OF_YEAR: u32 = 25;
/// The platform profile: TPM_PS_PC (TCG PC Client Platform TPM Profile),
/// version 1.06 encoded as hardware PC-Client TPMs and the reference code
/// report it (0x106). Hardware TPMs report no profile date; neither do we.
const PS_FAMILY: u32 = 1;
const PS_LEVEL: u32 = 0;
const PS_REVISION: u32 = 0x106;
const PS_DAY_OF_YEAR: u32 = 0;
const PS_YEAR: u32 = 0;
/// TPM_PT_MANUFACTURER: four ASCII characters (Part 2 §6.13); not a TCG
/// registered vendor ID, which only hardware vendors hold.
const MANUFACTURER: [u8; 4] = *b"TCLD";
/// TPM_PT_VENDOR_STRING_1..4: "trustcloud", NUL padded.
const VENDOR_STRING: [[u8; 4]; 4] = [*b"trus", *b"tclo", *b"ud\0\0", [0; 4]];
/// TPM_PT_VENDOR_TPM_TYPE: vendor-defined model number.
const VENDOR_TPM_TYPE: u32 = 1;

/// Resource limits this TPM reports. Later issues that implement sessions,
/// persistent objects and NV must honour these same numbers.
pub(crate) mod limits {
    /// MAX_LOADED_SESSIONS (TPM_PT_HR_LOADED_MIN).
    pub const LOADED_SESSIONS: u32 = 3;
    /// MAX_ACTIVE_SESSIONS (TPM_PT_ACTIVE_SESSIONS_MAX).
    pub const ACTIVE_SESSIONS: u32 = 64;
    /// Persistent objects guaranteed (TPM_PT_HR_PERSISTENT_MIN): the PC
    /// Client profile asks for at least 7.
    pub const PERSISTENT_MIN: u32 = 7;
    /// Persistent objects that fit in NV.
    pub const PERSISTENT_MAX: u32 = 64;
    /// NV indices that fit in NV (bounds TPM_PT_NV_COUNTERS_AVAIL).
    pub const NV_INDICES_MAX: u32 = 64;
    /// Largest NV index data area (TPM_PT_NV_INDEX_MAX), the PC Client
    /// minimum.
    pub const NV_INDEX_SIZE_MAX: u32 = 2048;
    /// MAX_NV_BUFFER_SIZE (TPM_PT_NV_BUFFER_MAX).
    pub const NV_BUFFER_MAX: u32 = 1024;
    /// Largest saved object / session context (TPM_PT_MAX_OBJECT_CONTEXT,
    /// TPM_PT_MAX_SESSION_CONTEXT): TPM2_ContextSave stays within these.
    pub const OBJECT_CONTEXT_MAX: u32 = 2048;
    /// A SHA-512 session with every policy field set saves to ~720 octets
    /// (object/saved.rs tests the bound).
    pub const SESSION_CONTEXT_MAX: u32 = 1024;
    /// Context slots are 16-bit (TPM_PT_CONTEXT_GAP_MAX).
    pub const CONTEXT_GAP_MAX: u32 = 0xFFFF;
    /// MAX_ORDERLY_COUNT (TPM_PT_ORDERLY_COUNT).
    pub const ORDERLY_COUNT: u32 = 255;
}

/// TPMA_PERMANENT bits (Part 2 §8.6) not owned by the hierarchy module.
mod permanent {
    pub const TPM_GENERATED_EPS: u32 = 1 << 10;
}

/// TPMA_STARTUP_CLEAR bits (Part 2 §8.7).
mod startup_clear {
    pub const PH_ENABLE: u32 = 1 << 0;
    pub const SH_ENABLE: u32 = 1 << 1;
    pub const EH_ENABLE: u32 = 1 << 2;
    pub const PH_ENABLE_NV: u32 = 1 << 3;
    pub const ORDERLY: u32 = 1 << 31;
}

/// TPMA_MEMORY (Part 2 §8.8): NV indices and persistent objects share NV,
/// and a persistent object is copied to RAM to be used.
const MEMORY: u32 = (1 << 1) | (1 << 2);

/// Properties are grouped in pages of 256 (PT_GROUP): fixed, then variable.
const PT_GROUP: u32 = 0x100;
/// The last TPM_PT_PCR the spec defines (TPM_PT_PCR_LAST).
const PT_PCR_LAST: u32 = pt::PCR_AUTH;
/// The range of ACT handles (TPM_RH_ACT_0..TPM_RH_ACT_F, Part 2 §7.4).
const RH_ACT_0: u32 = 0x4000_0110;
const RH_ACT_F: u32 = 0x4000_011F;
/// The vendor bit of a command code (TPM_CC.V, Part 2 §6.5.1).
const CC_VEND: u32 = 0x2000_0000;

/// The permanent handles this TPM implements, ascending.
const PERMANENT_HANDLES: &[u32] = &[
    rh::OWNER,
    rh::NULL,
    rh::PW,
    rh::LOCKOUT,
    rh::ENDORSEMENT,
    rh::PLATFORM,
    rh::PLATFORM_NV,
];

/// The permanent handles that can carry an authorization policy
/// (TPM2_SetPrimaryPolicy, Part 3 §24.4).
const POLICY_HANDLES: &[u32] = &[rh::OWNER, rh::LOCKOUT, rh::ENDORSEMENT, rh::PLATFORM];

/// Reads a TPM_CAP: anything Part 2 §6.12 does not define is TPM_RC_VALUE
/// at unmarshalling, before the other parameters are read.
fn read_cap(r: &mut crate::wire::Reader<'_>) -> Result<u32, WireError> {
    let c = r.u32()?;
    if c <= cap::ACT || c == cap::VENDOR_PROPERTY {
        Ok(c)
    } else {
        Err(WireError::Value)
    }
}

/// TPM2_GetCapability.
pub(crate) fn get_capability(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    let capability = ctx.read_with(read_cap)?;
    let property: u32 = ctx.read()?;
    let count: u32 = ctx.read()?;
    ctx.done()?;
    // The dictionary-attack values reported must be current.
    super::hierarchy::lockout::self_heal(tpm);

    let (data, more) = match capability {
        // TPM_ALG_ID is 16 bits: the reference casts `property` to it.
        cap::ALGS => {
            let algs = algorithms::ALGORITHMS.iter().map(|a| {
                (
                    u32::from(a.id),
                    AlgProperty {
                        alg: a.id,
                        attributes: a.attributes,
                    },
                )
            });
            let (v, more) = page(algs, u32::from(property as u16), count, MAX_CAP_ALGS);
            (Capabilities::Algorithms(v), more)
        }
        cap::HANDLES => {
            let (v, more) = handles(tpm, property, count)?;
            (Capabilities::Handles(v), more)
        }
        cap::COMMANDS => {
            let (v, more) = commands(property, count);
            (Capabilities::Commands(v), more)
        }
        // No command needs physical presence: TPM2_PP_Commands does not
        // exist here.
        cap::PP_COMMANDS => (Capabilities::PpCommands(Vec::new()), false),
        // The commands TPM2_SetCommandCodeAuditStatus made audited, from
        // `property` on (reference CommandAuditCapGetCCList; no vendor
        // commands exist, so a property with the V bit lists nothing).
        cap::AUDIT_COMMANDS => {
            if property & CC_VEND != 0 {
                (Capabilities::AuditCommands(Vec::new()), false)
            } else {
                let codes = super::attest::audited_commands(tpm).map(|c| (c, c));
                let (v, more) = page(codes, property, count, MAX_CAP_CC);
                (Capabilities::AuditCommands(v), more)
            }
        }
        cap::PCRS => {
            if property != 0 {
                return Err(Rc::VALUE.param(2));
            }
            // The whole allocation or, for a count of 0, nothing and YES
            // (reference PCRCapGetAllocation).
            if count == 0 {
                (Capabilities::Pcrs(Default::default()), true)
            } else {
                (Capabilities::Pcrs(tpm.perm.pcr_allocation.clone()), false)
            }
        }
        cap::TPM_PROPERTIES => {
            let (v, more) = tpm_properties(tpm, property, count);
            (Capabilities::TpmProperties(v), more)
        }
        cap::PCR_PROPERTIES => {
            let (v, more) = pcr_properties(property, count);
            (Capabilities::PcrProperties(v), more)
        }
        cap::ECC_CURVES => {
            let curves = algorithms::ECC_CURVES.iter().map(|&c| (u32::from(c), c));
            let (v, more) = page(curves, u32::from(property as u16), count, MAX_ECC_CURVES);
            (Capabilities::EccCurves(v), more)
        }
        cap::AUTH_POLICIES => {
            if rh::handle_type(property) != rh::HT_PERMANENT {
                return Err(Rc::VALUE.param(2));
            }
            // TPM2_SetPrimaryPolicy values; TPM_ALG_NULL and an empty
            // digest where none is set.
            let policies = POLICY_HANDLES.iter().map(|&h| {
                let (policy_hash, digest) = super::hierarchy::tagged_policy(tpm, h);
                (
                    h,
                    TaggedPolicy {
                        handle: h,
                        policy_hash,
                        digest,
                    },
                )
            });
            let (v, more) = page(policies, property, count, MAX_TAGGED_POLICIES);
            (Capabilities::AuthPolicies(v), more)
        }
        cap::ACT => {
            if !(RH_ACT_0..=RH_ACT_F).contains(&property) {
                return Err(Rc::VALUE.param(2));
            }
            // No authenticated countdown timer is implemented.
            (Capabilities::Act(Vec::new()), false)
        }
        // TPM_CAP_VENDOR_PROPERTY: no vendor properties.
        _ => return Err(Rc::VALUE.param(1)),
    };
    ctx.write(&more);
    ctx.write(&CapabilityData(data));
    Ok(())
}

/// Pages through `items` (ascending keys): skips keys below `start`, takes
/// at most `min(count, max)`, and reports whether one remained.
fn page<T>(
    items: impl Iterator<Item = (u32, T)>,
    start: u32,
    count: u32,
    max: usize,
) -> (Vec<T>, bool) {
    let limit = (count as usize).min(max);
    let mut out = Vec::new();
    for (key, v) in items {
        if key < start {
            continue;
        }
        if out.len() < limit {
            out.push(v);
        } else {
            return (out, true);
        }
    }
    (out, false)
}

/// TPM_CAP_HANDLES: the handle type is the top octet of `property`.
fn handles(tpm: &Tpm, property: u32, count: u32) -> Result<(Vec<u32>, bool), Rc> {
    let max = MAX_CAP_HANDLES;
    Ok(match rh::handle_type(property) {
        rh::HT_TRANSIENT => {
            let loaded = tpm.vol.transients.keys().map(|&h| (h, h));
            page(loaded, property, count, max)
        }
        rh::HT_PCR => {
            let pcrs = (0..IMPLEMENTATION_PCR as u32).map(|i| (i, rh::PCR_FIRST + i));
            page(pcrs, property, count, max)
        }
        rh::HT_PERMANENT => page(
            PERMANENT_HANDLES.iter().map(|&h| (h, h)),
            property,
            count,
            max,
        ),
        // Defined NV indices, ascending (reference NvCapGetIndex).
        rh::HT_NV_INDEX => page(
            super::nv::handles(tpm).map(|h| (h, h)),
            property,
            count,
            max,
        ),
        // Persistent objects, ascending.
        rh::HT_PERSISTENT => page(
            super::objects::persistent_handles(tpm)
                .into_iter()
                .map(|h| (h, h)),
            property,
            count,
            max,
        ),
        // TPM_HT_LOADED_SESSION: loaded sessions by slot, with their own
        // handle type (reference SessionCapGetLoaded).
        rh::HT_HMAC_SESSION => page(
            tpm.vol
                .sessions
                .keys()
                .map(|&h| (rh::HMAC_SESSION_FIRST + (h & 0x00FF_FFFF), h))
                .collect::<std::collections::BTreeMap<_, _>>()
                .into_iter(),
            property,
            count,
            max,
        ),
        // TPM_HT_SAVED_SESSION: saved sessions by slot, reported in the
        // HMAC range (reference SessionCapGetSaved).
        rh::HT_POLICY_SESSION => page(
            super::context::saved_session_handles(tpm)
                .into_iter()
                .map(|h| (rh::POLICY_SESSION_FIRST + (h & 0x00FF_FFFF), h)),
            property,
            count,
            max,
        ),
        _ => return Err(Rc::HANDLE.param(2)),
    })
}

/// The TPMA_CC of a command in the dispatch table.
fn command_attributes(d: &super::dispatch::CommandDef) -> CommandAttributes {
    CommandAttributes::new(
        d.code as u16,
        d.nv,
        d.extensive,
        d.flushed,
        d.handles.len() as u8,
        d.r_handle,
    )
}

/// TPM_CAP_COMMANDS. A start code with bits outside the command index
/// (other than the vendor bit) names no command, and no vendor command
/// exists: both give an empty list (reference GetClosestCommandIndex).
fn commands(property: u32, count: u32) -> (Vec<CommandAttributes>, bool) {
    if property & CC_VEND != 0 || property & !CC_VEND > 0xFFFF {
        return (Vec::new(), false);
    }
    let all = COMMANDS.iter().map(|d| (d.code, command_attributes(d)));
    page(all, property, count, MAX_CAP_CC)
}

/// TPM_CAP_TPM_PROPERTIES: from `property` to the end of its group (fixed
/// or variable, never both in one answer), as TPMCapGetProperties does.
fn tpm_properties(tpm: &Tpm, property: u32, count: u32) -> (Vec<TaggedProperty>, bool) {
    let start = property.max(pt::FIXED);
    if start >= pt::VAR + PT_GROUP {
        return (Vec::new(), false);
    }
    let group_end = (start / PT_GROUP + 1) * PT_GROUP;
    let props = (start..group_end).filter_map(|p| {
        property_value(tpm, p).map(|value| (p, TaggedProperty { property: p, value }))
    });
    page(props, start, count, MAX_TPM_PROPERTIES)
}

/// TPM_CAP_PCR_PROPERTIES. As in the reference PCRCapGetProperties, the
/// scan runs over TPM_PT_PCR values up to TPM_PT_PCR_LAST and moreData is
/// YES as soon as the list is full before the scan ends.
fn pcr_properties(property: u32, count: u32) -> (Vec<TaggedPcrSelect>, bool) {
    let limit = (count as usize).min(MAX_PCR_PROPERTIES);
    let all = pcr::pcr_properties();
    let mut out = Vec::new();
    let mut i = property;
    while i <= PT_PCR_LAST {
        if out.len() >= limit {
            return (out, true);
        }
        if let Some((tag, bits)) = all.iter().find(|(t, _)| *t == i) {
            out.push(TaggedPcrSelect {
                tag: *tag,
                select: bits.to_vec(),
            });
        }
        i += 1;
    }
    (out, false)
}

/// Four ASCII characters as the big-endian UINT32 the spec reports.
fn chars(c: [u8; 4]) -> u32 {
    u32::from_be_bytes(c)
}

/// The crate version, for TPM_PT_FIRMWARE_VERSION_1 (major.minor, 16 bits
/// each) and _2 (patch in the upper 16 bits). Attestations report the same
/// value as firmwareVersion (V1 << 32 | V2).
pub(crate) fn firmware_version() -> (u32, u32) {
    let n = |s: &str| s.parse::<u32>().unwrap_or(0) & 0xFFFF;
    let major = n(env!("CARGO_PKG_VERSION_MAJOR"));
    let minor = n(env!("CARGO_PKG_VERSION_MINOR"));
    let patch = n(env!("CARGO_PKG_VERSION_PATCH"));
    ((major << 16) | minor, patch << 16)
}

/// The value of TPM property `p`, or `None` if this TPM does not define it
/// (Part 2 §6.13).
fn property_value(tpm: &Tpm, p: u32) -> Option<u32> {
    let cfg = |n: usize| n as u32;
    Some(match p {
        pt::FAMILY_INDICATOR => SPEC_FAMILY,
        pt::LEVEL => SPEC_LEVEL,
        pt::REVISION => SPEC_VERSION,
        pt::DAY_OF_YEAR => SPEC_DAY_OF_YEAR,
        pt::YEAR => SPEC_YEAR,
        pt::MANUFACTURER => chars(MANUFACTURER),
        pt::VENDOR_STRING_1 => chars(VENDOR_STRING[0]),
        pt::VENDOR_STRING_2 => chars(VENDOR_STRING[1]),
        pt::VENDOR_STRING_3 => chars(VENDOR_STRING[2]),
        pt::VENDOR_STRING_4 => chars(VENDOR_STRING[3]),
        pt::VENDOR_TPM_TYPE => VENDOR_TPM_TYPE,
        pt::FIRMWARE_VERSION_1 => firmware_version().0,
        pt::FIRMWARE_VERSION_2 => firmware_version().1,
        pt::INPUT_BUFFER => cfg(MAX_DIGEST_BUFFER),
        pt::HR_TRANSIENT_MIN => cfg(MAX_LOADED_OBJECTS),
        pt::HR_PERSISTENT_MIN => limits::PERSISTENT_MIN,
        pt::HR_LOADED_MIN => limits::LOADED_SESSIONS,
        pt::ACTIVE_SESSIONS_MAX => limits::ACTIVE_SESSIONS,
        pt::PCR_COUNT => cfg(IMPLEMENTATION_PCR),
        pt::PCR_SELECT_MIN => cfg(PCR_SELECT_MIN),
        pt::CONTEXT_GAP_MAX => limits::CONTEXT_GAP_MAX,
        // No limit on counters beyond NV space.
        pt::NV_COUNTERS_MAX => 0,
        pt::NV_INDEX_MAX => limits::NV_INDEX_SIZE_MAX,
        pt::MEMORY => MEMORY,
        pt::CLOCK_UPDATE => clock::CLOCK_UPDATE_INTERVAL_MS as u32,
        pt::CONTEXT_HASH => u32::from(algorithms::CONTEXT_INTEGRITY_HASH.id()),
        pt::CONTEXT_SYM => u32::from(algorithms::CONTEXT_ENCRYPT_ALG),
        pt::CONTEXT_SYM_SIZE => u32::from(algorithms::CONTEXT_ENCRYPT_KEY_BITS),
        pt::ORDERLY_COUNT => limits::ORDERLY_COUNT,
        pt::MAX_COMMAND_SIZE => cfg(MAX_COMMAND_SIZE),
        pt::MAX_RESPONSE_SIZE => cfg(MAX_COMMAND_SIZE),
        pt::MAX_DIGEST => cfg(MAX_DIGEST_SIZE),
        pt::MAX_OBJECT_CONTEXT => limits::OBJECT_CONTEXT_MAX,
        pt::MAX_SESSION_CONTEXT => limits::SESSION_CONTEXT_MAX,
        pt::PS_FAMILY_INDICATOR => PS_FAMILY,
        pt::PS_LEVEL => PS_LEVEL,
        pt::PS_REVISION => PS_REVISION,
        pt::PS_DAY_OF_YEAR => PS_DAY_OF_YEAR,
        pt::PS_YEAR => PS_YEAR,
        // No split-signing (TPM2_Commit) support.
        pt::SPLIT_MAX => 0,
        pt::TOTAL_COMMANDS | pt::LIBRARY_COMMANDS => cfg(COMMANDS.len()),
        pt::VENDOR_COMMANDS => 0,
        pt::NV_BUFFER_MAX => limits::NV_BUFFER_MAX,
        // TPMA_MODES: not FIPS 140-2 validated.
        pt::MODES => 0,
        pt::MAX_CAP_BUFFER => cfg(MAX_CAP_BUFFER),

        pt::PERMANENT => permanent_attributes(tpm),
        pt::STARTUP_CLEAR => startup_clear_attributes(tpm),
        pt::HR_NV_INDEX => super::nv::count(tpm),
        pt::HR_LOADED => cfg(tpm.vol.sessions.len()),
        pt::HR_LOADED_AVAIL => limits::LOADED_SESSIONS.saturating_sub(cfg(tpm.vol.sessions.len())),
        pt::HR_ACTIVE => cfg(super::context::active_sessions(tpm)),
        pt::HR_ACTIVE_AVAIL => {
            limits::ACTIVE_SESSIONS.saturating_sub(cfg(super::context::active_sessions(tpm)))
        }
        pt::HR_TRANSIENT_AVAIL => cfg(MAX_LOADED_OBJECTS.saturating_sub(tpm.vol.transients.len())),
        pt::HR_PERSISTENT => cfg(super::objects::persistent_handles(tpm).len()),
        pt::HR_PERSISTENT_AVAIL => limits::PERSISTENT_MAX
            .saturating_sub(cfg(super::objects::persistent_handles(tpm).len())),
        pt::NV_COUNTERS => super::nv::counters(tpm),
        pt::NV_COUNTERS_AVAIL => super::nv::counters_avail(tpm),
        // The algorithm set is not configurable (TPM2_SetAlgorithmSet).
        pt::ALGORITHM_SET => 0,
        pt::LOADED_CURVES => cfg(algorithms::ECC_CURVES.len()),
        pt::LOCKOUT_COUNTER => super::hierarchy::da_properties(tpm)[0],
        pt::MAX_AUTH_FAIL => super::hierarchy::da_properties(tpm)[1],
        pt::LOCKOUT_INTERVAL => super::hierarchy::da_properties(tpm)[2],
        pt::LOCKOUT_RECOVERY => super::hierarchy::da_properties(tpm)[3],
        // NV writes are not rate limited.
        pt::NV_WRITE_RECOVERY => 0,
        // The command audit counter, high and low halves.
        pt::AUDIT_COUNTER_0 => (super::attest::audit_counter(tpm) >> 32) as u32,
        pt::AUDIT_COUNTER_1 => super::attest::audit_counter(tpm) as u32,
        _ => return None,
    })
}

/// TPMA_PERMANENT from the permanent state: the EPS is always generated
/// by this TPM; the auth-set, disableClear and inLockout bits come from
/// the hierarchy module.
fn permanent_attributes(tpm: &Tpm) -> u32 {
    permanent::TPM_GENERATED_EPS | super::hierarchy::permanent_attributes(tpm)
}

/// TPMA_STARTUP_CLEAR from the volatile state; `orderly` says the last
/// TPM2_Startup followed a TPM2_Shutdown (Part 2 §8.7).
fn startup_clear_attributes(tpm: &Tpm) -> u32 {
    let mut v = 0;
    for (on, bit) in [
        (tpm.vol.ph_enable, startup_clear::PH_ENABLE),
        (tpm.vol.sh_enable, startup_clear::SH_ENABLE),
        (tpm.vol.eh_enable, startup_clear::EH_ENABLE),
        (tpm.vol.ph_enable_nv, startup_clear::PH_ENABLE_NV),
        (tpm.vol.orderly_startup, startup_clear::ORDERLY),
    ] {
        if on {
            v |= bit;
        }
    }
    v
}
