//! PCR commands (TPM 2.0 Part 3 §22): PCR_Read, PCR_Extend, PCR_Event,
//! PCR_Reset and PCR_Allocate, with the PCR attributes of the TCG PC Client
//! Platform TPM Profile (PTP) "PCR attributes" table.
//!
//! Where Part 3 leaves room, this follows libtpms (swtpm) so the two give
//! the same bytes for the same commands: the attribute bitmaps below are
//! the ones libtpms 0.9 reports in TPM_CAP_PCR_PROPERTIES, PCR_Read returns
//! at most eight digests and trims the selection to what it returned, and
//! pcrUpdateCounter moves exactly as the reference code's PCRChanged().

use crate::crypto::HashAlg;
use crate::rc::Rc;
use crate::types::{
    Digest2b, DigestList, DigestValues, Event2b, Ha, PcrSelection, PcrSelectionList,
    IMPLEMENTATION_PCR,
};

use super::dispatch::Ctx;
use super::state::{full_allocation, Orderly, PcrBank};
use super::Tpm;
use crate::constants::{pt, rh};

/// One PCR's attributes (the reference code's PCR_Attributes): whether
/// Shutdown(STATE) saves it, and bitmaps of the localities (bit n =
/// locality n) that may reset and extend it.
#[derive(Clone, Copy, Debug)]
struct PcrAttributes {
    state_save: bool,
    reset_locality: u8,
    extend_locality: u8,
}

const fn attr(state_save: bool, reset_locality: u8, extend_locality: u8) -> PcrAttributes {
    PcrAttributes {
        state_save,
        reset_locality,
        extend_locality,
    }
}

/// The PC Client PTP PCR attribute table, as libtpms implements it.
const SRTM: PcrAttributes = attr(true, 0x00, 0x1F);
const ATTRIBUTES: [PcrAttributes; IMPLEMENTATION_PCR] = [
    // PCR 0–15: static RTM; state saved, never reset, extendable anywhere.
    SRTM,
    SRTM,
    SRTM,
    SRTM,
    SRTM,
    SRTM,
    SRTM,
    SRTM,
    SRTM,
    SRTM,
    SRTM,
    SRTM,
    SRTM,
    SRTM,
    SRTM,
    SRTM,
    attr(false, 0x0F, 0x1F), // 16: debug
    attr(false, 0x10, 0x1C), // 17: D-RTM, locality 4
    attr(false, 0x10, 0x1C), // 18: locality 3
    attr(false, 0x10, 0x0C), // 19: locality 2
    attr(false, 0x14, 0x0E), // 20: locality 1
    attr(false, 0x14, 0x04), // 21: dynamic OS
    attr(false, 0x14, 0x04), // 22: dynamic OS
    attr(false, 0x0F, 0x1F), // 23: application specific
];

/// The H-CRTM PCR: its initial value carries the startup locality.
pub(crate) const HCRTM_PCR: usize = 0;
/// The D-RTM PCR. A TPM with D-RTM refuses TPM2_PCR_Reset at locality 4
/// (only _TPM_Hash_Start resets there), and PCR_Allocate must keep it.
pub(crate) const DRTM_PCR: usize = 17;

/// PCRs whose changes do not bump pcrUpdateCounter
/// (TPM_PT_PCR_NO_INCREMENT); libtpms reports 16, 21, 22 and 23.
const NO_INCREMENT: [usize; 4] = [16, 21, 22, 23];
/// PCRs in the (single) authValue and policy groups (TPM_PT_PCR_AUTH,
/// TPM_PT_PCR_POLICY): 20–22, as in libtpms.
const AUTH_POLICY_GROUP: [usize; 3] = [20, 21, 22];

fn attributes(pcr: usize) -> PcrAttributes {
    ATTRIBUTES.get(pcr).copied().unwrap_or(attr(false, 0, 0))
}

fn bitmap(f: impl Fn(usize) -> bool) -> [u8; 3] {
    let mut b = [0u8; 3];
    for pcr in (0..IMPLEMENTATION_PCR).filter(|&p| f(p)) {
        if let Some(byte) = b.get_mut(pcr / 8) {
            *byte |= 1 << (pcr % 8);
        }
    }
    b
}

/// TPM_PT_PCR_SAVE: the PCRs TPM2_Shutdown(STATE) preserves (0–15).
pub(crate) fn pcr_save_bitmap() -> [u8; 3] {
    bitmap(|p| attributes(p).state_save)
}

/// The TPM_CAP_PCR_PROPERTIES data (Part 2 §6.14, TPML_TAGGED_PCR_PROPERTY):
/// every implemented TPM_PT_PCR property in ascending order with its PCR
/// bitmap (3 octets, PCR n = bit n%8 of octet n/8). The capability command
/// pages through this list from the requested property.
pub(crate) fn pcr_properties() -> Vec<(u32, [u8; 3])> {
    let ext = |l: u8| bitmap(move |p| attributes(p).extend_locality & (1 << l) != 0);
    let rst = |l: u8| bitmap(move |p| attributes(p).reset_locality & (1 << l) != 0);
    vec![
        (pt::PCR_SAVE, pcr_save_bitmap()),
        (pt::PCR_EXTEND_L0, ext(0)),
        (pt::PCR_RESET_L0, rst(0)),
        (pt::PCR_EXTEND_L1, ext(1)),
        (pt::PCR_RESET_L1, rst(1)),
        (pt::PCR_EXTEND_L2, ext(2)),
        (pt::PCR_RESET_L2, rst(2)),
        (pt::PCR_EXTEND_L3, ext(3)),
        (pt::PCR_RESET_L3, rst(3)),
        (pt::PCR_EXTEND_L4, ext(4)),
        (pt::PCR_RESET_L4, rst(4)),
        (pt::PCR_NO_INCREMENT, bitmap(|p| NO_INCREMENT.contains(&p))),
        // D-RTM PCRs are those locality 4 resets.
        (pt::PCR_DRTM_RESET, rst(4)),
        (pt::PCR_POLICY, bitmap(|p| AUTH_POLICY_GROUP.contains(&p))),
        (pt::PCR_AUTH, bitmap(|p| AUTH_POLICY_GROUP.contains(&p))),
    ]
}

/// Whether PCR `pcr` is preserved by Shutdown(STATE).
pub(crate) fn is_state_saved(pcr: usize) -> bool {
    attributes(pcr).state_save
}

/// PCR `pcr`'s value right after a TPM Reset or Restart (PC Client PTP):
/// all ones for the D-RTM PCRs (those locality 4 may reset), zero
/// otherwise, with the H-CRTM PCR's last octet set to the startup locality.
pub(crate) fn initial_value(pcr: usize, size: usize, startup_locality: u8) -> Vec<u8> {
    if attributes(pcr).reset_locality & 0x10 != 0 {
        return vec![0xFF; size];
    }
    let mut v = vec![0; size];
    if pcr == HCRTM_PCR {
        if let Some(last) = v.last_mut() {
            *last = startup_locality;
        }
    }
    v
}

/// Records that PCR `pcr` changed (the reference PCRChanged()): the
/// counter moves unless the PCR is in the no-increment set; PCR 0 always
/// counts.
pub(crate) fn pcr_changed(tpm: &mut Tpm, pcr: usize) {
    if pcr == 0 || !NO_INCREMENT.contains(&pcr) {
        tpm.vol.pcr_update_counter = tpm.vol.pcr_update_counter.wrapping_add(1);
    }
}

/// Locality check for extending `pcr_handle` (Part 3 §22.2.1; PC Client
/// PTP PCR attributes). TPM_RH_NULL is always allowed. Call before any
/// side effect; [`extend_digests`] then does the update.
pub(crate) fn check_extend(pcr_handle: u32, locality: u8) -> Result<(), Rc> {
    if pcr_handle == rh::NULL {
        return Ok(());
    }
    let bit = 1u8.checked_shl(u32::from(locality)).unwrap_or(0);
    if attributes(pcr_handle as usize).extend_locality & bit == 0 {
        return Err(Rc::LOCALITY);
    }
    Ok(())
}

/// Changing a state-saved PCR after TPM2_Shutdown makes the saved state
/// stale, so the shutdown no longer counts as orderly (the reference
/// code's RETURN_IF_ORDERLY / g_clearOrderly).
fn touch_state_saved(tpm: &mut Tpm, pcr: usize) {
    if is_state_saved(pcr) && tpm.perm.orderly != Orderly::None {
        tpm.perm.orderly = Orderly::None;
        tpm.dirty = true;
    }
}

/// Extends PCR `pcr` of bank `alg` with `data` if that PCR is allocated:
/// new = H(old || data) (Part 1 §17.2). Returns whether it was extended.
fn extend_one(tpm: &mut Tpm, pcr: usize, alg: HashAlg, data: &[u8]) -> bool {
    let Some(bank) = tpm
        .vol
        .pcr_banks
        .iter_mut()
        .find(|b| b.alg == alg && b.allocated.is_selected(pcr))
    else {
        return false;
    };
    let Some(value) = bank.get_mut(pcr) else {
        return false;
    };
    let new = alg.digest(&[value, data]);
    value.copy_from_slice(&new);
    pcr_changed(tpm, pcr);
    true
}

/// Extends `pcr_handle` with each `(bank, digest)` in order, skipping
/// banks where the PCR is not allocated; TPM_RH_NULL does nothing. The
/// caller has run [`check_extend`]. Shared with EventSequenceComplete.
pub(crate) fn extend_digests(tpm: &mut Tpm, pcr_handle: u32, digests: &[(HashAlg, &[u8])]) {
    if pcr_handle == rh::NULL {
        return;
    }
    let pcr = pcr_handle as usize;
    touch_state_saved(tpm, pcr);
    for (alg, d) in digests {
        extend_one(tpm, pcr, *alg, d);
    }
}

/// [`check_extend`] then [`extend_digests`]: the whole "extend these
/// digests into `pcr`" step of PCR_Event and EventSequenceComplete
/// (TPM_RC_LOCALITY before any change; TPM_RH_NULL is a no-op).
pub(crate) fn extend_pcr(tpm: &mut Tpm, locality: u8, pcr: u32, values: &[Ha]) -> Result<(), Rc> {
    check_extend(pcr, locality)?;
    let list: Vec<(HashAlg, &[u8])> = values
        .iter()
        .map(|h| (h.alg, h.digest.as_slice()))
        .collect();
    extend_digests(tpm, pcr, &list);
    Ok(())
}

/// TPM2_PCR_Read (Part 3 §22.4). Unallocated PCRs are dropped from the
/// selection; at most eight digests are returned (TPML_DIGEST), in
/// selection order, and pcrSelectionOut names exactly the PCRs returned.
pub(crate) fn pcr_read(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    let selection: PcrSelectionList = ctx.read()?;
    ctx.done()?;
    let mut out_sel = Vec::with_capacity(selection.0.len());
    let mut digests: Vec<Digest2b> = Vec::with_capacity(8);
    for sel in &selection.0 {
        let bank = tpm.vol.pcr_banks.iter().find(|b| b.alg == sel.hash);
        let mut returned = PcrSelection::none(sel.hash);
        for pcr in sel.indices() {
            if digests.len() == 8 {
                break;
            }
            let Some(value) = bank
                .filter(|b| b.allocated.is_selected(pcr))
                .and_then(|b| b.get(pcr))
            else {
                continue;
            };
            digests.push(Digest2b::new(value.to_vec()).map_err(|_| Rc::FAILURE)?);
            returned.set(pcr, true);
        }
        out_sel.push(returned);
    }
    ctx.write(&tpm.vol.pcr_update_counter);
    ctx.write(&PcrSelectionList(out_sel));
    ctx.write(&DigestList(digests));
    Ok(())
}

/// TPM2_PCR_Extend (Part 3 §22.2): each listed digest extends the PCR in
/// its bank; digests for banks where the PCR is not allocated are ignored,
/// a bank listed twice is extended twice, TPM_RH_NULL is a no-op.
pub(crate) fn pcr_extend(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    let handle = ctx.handle(0);
    let digests: DigestValues = ctx.read()?;
    ctx.done()?;
    extend_pcr(tpm, ctx.locality, handle, &digests.0)
}

/// TPM2_PCR_Event (Part 3 §22.3): eventData is hashed with every active
/// bank's algorithm, each digest extends the PCR in its bank (unless
/// pcrHandle is TPM_RH_NULL), and the digests are returned either way.
pub(crate) fn pcr_event(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    let handle = ctx.handle(0);
    let event: Event2b = ctx.read()?;
    ctx.done()?;
    // The reference code hashes the event with every implemented hash and
    // returns them all; only allocated banks are extended (Part 3 §22.3).
    let computed: Vec<Ha> = HashAlg::ALL
        .into_iter()
        .map(|alg| Ha {
            alg,
            digest: alg.digest(&[event.as_slice()]),
        })
        .collect();
    extend_pcr(tpm, ctx.locality, handle, &computed)?;
    ctx.write(&DigestValues(computed));
    Ok(())
}

/// TPM2_PCR_Reset (Part 3 §22.8): sets the PCR to zero in every bank,
/// if the PCR attributes let the command's locality reset it. Locality 4
/// never may: it belongs to the D-RTM sequence (_TPM_Hash_Start).
pub(crate) fn pcr_reset(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    let pcr = ctx.handle(0) as usize;
    ctx.done()?;
    let bit = 1u8.checked_shl(u32::from(ctx.locality)).unwrap_or(0);
    if ctx.locality >= 4 || attributes(pcr).reset_locality & bit == 0 {
        return Err(Rc::LOCALITY);
    }
    touch_state_saved(tpm, pcr);
    for bank in tpm.vol.pcr_banks.iter_mut() {
        if bank.allocated.is_selected(pcr) {
            if let Some(v) = bank.get_mut(pcr) {
                v.fill(0);
            }
        }
    }
    pcr_changed(tpm, pcr);
    Ok(())
}

/// Octets of PCR storage this TPM has: every PCR of every implemented bank.
pub(crate) fn pcr_space() -> u32 {
    HashAlg::ALL
        .iter()
        .map(|h| (h.digest_size() * IMPLEMENTATION_PCR) as u32)
        .sum()
}

/// TPM2_PCR_Allocate (Part 3 §22.5): the listed banks replace those of the
/// *current* allocation (last selection of a bank wins), the result must
/// keep the H-CRTM and D-RTM PCRs in some bank (else TPM_RC_PCR), and it
/// is stored to take effect at the next TPM2_Startup(CLEAR). Until then
/// TPM2_Shutdown(STATE) is refused.
pub(crate) fn pcr_allocate(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    let request: PcrSelectionList = ctx.read()?;
    ctx.done()?;
    let mut merged = tpm.perm.pcr_allocation.0.clone();
    merged.extend(request.0.iter().cloned());
    let new = full_allocation(&merged);
    let has = |pcr: usize| new.0.iter().any(|s| s.is_selected(pcr));
    if !has(HCRTM_PCR) || !has(DRTM_PCR) {
        return Err(Rc::PCR);
    }
    let size_needed: u32 = new
        .0
        .iter()
        .map(|s| (s.indices().count() * s.hash.digest_size()) as u32)
        .sum();
    tpm.perm.pending_allocation = Some(new);
    tpm.dirty = true;
    ctx.write(&true); // allocationSuccess
    ctx.write(&(IMPLEMENTATION_PCR as u32)); // maxPCR
    ctx.write(&size_needed);
    ctx.write(&pcr_space()); // sizeAvailable
    Ok(())
}

/// Fresh PCR banks for `allocation` at a TPM Reset or Restart, every PCR
/// at its initial value.
pub(crate) fn initial_banks(allocation: &PcrSelectionList, startup_locality: u8) -> Vec<PcrBank> {
    allocation
        .0
        .iter()
        .map(|sel| {
            let mut bank = PcrBank::new(sel);
            let n = sel.hash.digest_size();
            for pcr in 0..IMPLEMENTATION_PCR {
                if let Some(v) = bank.get_mut(pcr) {
                    v.copy_from_slice(&initial_value(pcr, n, startup_locality));
                }
            }
            bank
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_match_libtpms() {
        // The bitmaps swtpm 0.7 / libtpms 0.9 report for TPM_CAP_PCR_PROPERTIES.
        let expect: &[(u32, [u8; 3])] = &[
            (0x00, [0xff, 0xff, 0x00]),
            (0x01, [0xff, 0xff, 0x81]),
            (0x02, [0x00, 0x00, 0x81]),
            (0x03, [0xff, 0xff, 0x91]),
            (0x04, [0x00, 0x00, 0x81]),
            (0x05, [0xff, 0xff, 0xff]),
            (0x06, [0x00, 0x00, 0xf1]),
            (0x07, [0xff, 0xff, 0x9f]),
            (0x08, [0x00, 0x00, 0x81]),
            (0x09, [0xff, 0xff, 0x87]),
            (0x0a, [0x00, 0x00, 0x7e]),
            (0x11, [0x00, 0x00, 0xe1]),
            (0x12, [0x00, 0x00, 0x7e]),
            (0x13, [0x00, 0x00, 0x70]),
            (0x14, [0x00, 0x00, 0x70]),
        ];
        assert_eq!(pcr_properties(), expect);
    }

    #[test]
    fn initial_values() {
        assert_eq!(initial_value(0, 4, 3), vec![0, 0, 0, 3]);
        assert_eq!(initial_value(0, 4, 0), vec![0; 4]);
        assert_eq!(initial_value(1, 4, 3), vec![0; 4]);
        for p in 17..=22 {
            assert_eq!(initial_value(p, 2, 0), vec![0xff; 2], "pcr {p}");
        }
        assert_eq!(initial_value(16, 2, 0), vec![0; 2]);
        assert_eq!(initial_value(23, 2, 0), vec![0; 2]);
    }

    #[test]
    fn extend_localities() {
        assert_eq!(check_extend(rh::NULL, 4), Ok(()));
        assert_eq!(check_extend(0, 0), Ok(()));
        assert_eq!(check_extend(17, 0), Err(Rc::LOCALITY));
        assert_eq!(check_extend(17, 2), Ok(()));
        assert_eq!(check_extend(21, 3), Err(Rc::LOCALITY));
        assert_eq!(check_extend(0, 200), Err(Rc::LOCALITY));
    }
}
