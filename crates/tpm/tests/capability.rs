//! TPM2_GetCapability (Part 3 §30.2) and TPM2_TestParms (Part 3 §10.5)
//! driven through `Tpm::execute` with raw command bytes after a real
//! TPM2_Startup(CLEAR); every answer is parsed back with the crate's own
//! wire types. Response codes for malformed or unsupported input are the
//! ones swtpm (libtpms) returns for the same bytes; algorithm and limit
//! values are this TPM's own.

use proptest::prelude::*;
use tpm::crypto::{Drbg, HashAlg};
use tpm::engine::SystemTime;
use tpm::types::{
    ActData, AlgProperty, AnyAlgorithm, AsymScheme, Capabilities, CapabilityData,
    CommandAttributes, EccParms, KdfScheme, KeyedHashParms, KeyedHashScheme, PcrSelection,
    PcrSelectionList, PublicParms, RsaParms, SymCipherParms, SymDefObject, TaggedPcrSelect,
    TaggedPolicy, TaggedProperty,
};
use tpm::wire::{Codec, Reader};
use tpm::{EngineConfig, Tpm};

// ---- constants (Part 2 §6, §7) -------------------------------------------

const CC_STARTUP: u32 = 0x144;
const CC_GET_CAPABILITY: u32 = 0x17A;
const CC_TEST_PARMS: u32 = 0x18A;
const CC_HASH_SEQUENCE_START: u32 = 0x186;

const CAP_ALGS: u32 = 0;
const CAP_HANDLES: u32 = 1;
const CAP_COMMANDS: u32 = 2;
const CAP_PP_COMMANDS: u32 = 3;
const CAP_AUDIT_COMMANDS: u32 = 4;
const CAP_PCRS: u32 = 5;
const CAP_TPM_PROPERTIES: u32 = 6;
const CAP_PCR_PROPERTIES: u32 = 7;
const CAP_ECC_CURVES: u32 = 8;
const CAP_AUTH_POLICIES: u32 = 9;
const CAP_ACT: u32 = 10;

const PT_FIXED: u32 = 0x100;
const PT_VAR: u32 = 0x200;

const RC_SUCCESS: u32 = 0;
const RC_VALUE_P1: u32 = 0x1C4;
const RC_VALUE_P2: u32 = 0x2C4;
const RC_HANDLE_P2: u32 = 0x2CB;
const RC_SIZE: u32 = 0x095;
const RC_INSUFFICIENT_P1: u32 = 0x1DA;
const RC_INSUFFICIENT_P3: u32 = 0x3DA;
const RC_HASH_P1: u32 = 0x1C3;
const RC_MODE_P1: u32 = 0x1C9;
const RC_TYPE_P1: u32 = 0x1CA;
const RC_KDF_P1: u32 = 0x1CC;
const RC_SCHEME_P1: u32 = 0x1D2;
const RC_SYMMETRIC_P1: u32 = 0x1D6;
const RC_CURVE_P1: u32 = 0x1E6;

// ---- a small harness -----------------------------------------------------

fn command(code: u32, params: &[u8]) -> Vec<u8> {
    let mut c = Vec::new();
    c.extend_from_slice(&0x8001u16.to_be_bytes());
    c.extend_from_slice(&((10 + params.len()) as u32).to_be_bytes());
    c.extend_from_slice(&code.to_be_bytes());
    c.extend_from_slice(params);
    c
}

/// Response code and the bytes after the 10-byte header.
fn run(tpm: &mut Tpm, code: u32, params: &[u8]) -> (u32, Vec<u8>) {
    let r = tpm.execute(0, &command(code, params));
    assert!(r.len() >= 10, "short response {r:02x?}");
    let size = u32::from_be_bytes([r[2], r[3], r[4], r[5]]) as usize;
    assert_eq!(size, r.len(), "responseSize field");
    let rc = u32::from_be_bytes([r[6], r[7], r[8], r[9]]);
    (rc, r[10..].to_vec())
}

fn started(config: &EngineConfig) -> Tpm {
    let mut tpm = Tpm::manufacture(config, Drbg::new([3; 32]), Box::<SystemTime>::default());
    let (rc, _) = run(&mut tpm, CC_STARTUP, &0u16.to_be_bytes());
    assert_eq!(rc, RC_SUCCESS, "TPM2_Startup(CLEAR)");
    tpm
}

fn tpm() -> Tpm {
    started(&EngineConfig::default())
}

fn cap_params(cap: u32, property: u32, count: u32) -> Vec<u8> {
    [cap, property, count]
        .iter()
        .flat_map(|v| v.to_be_bytes())
        .collect()
}

/// Runs TPM2_GetCapability; Ok((moreData, data)) or Err(response code).
fn get_cap(
    tpm: &mut Tpm,
    cap: u32,
    property: u32,
    count: u32,
) -> Result<(bool, Capabilities), u32> {
    let (rc, body) = run(tpm, CC_GET_CAPABILITY, &cap_params(cap, property, count));
    if rc != RC_SUCCESS {
        return Err(rc);
    }
    let mut r = Reader::new(&body);
    let more = bool::decode(&mut r).expect("moreData");
    let data = CapabilityData::decode(&mut r).expect("TPMS_CAPABILITY_DATA");
    assert!(r.is_empty(), "trailing response bytes");
    assert_eq!(data.0.capability(), cap, "capability echoed");
    // Never more than MAX_CAP_BUFFER of capability data.
    assert!(data.to_bytes().len() <= 1024);
    Ok((more, data.0))
}

fn ok(tpm: &mut Tpm, cap: u32, property: u32, count: u32) -> (bool, Capabilities) {
    get_cap(tpm, cap, property, count).unwrap_or_else(|rc| panic!("GetCapability rc {rc:#x}"))
}

fn algorithms(c: Capabilities) -> Vec<AlgProperty> {
    match c {
        Capabilities::Algorithms(v) => v,
        other => panic!("not algorithms: {other:?}"),
    }
}
fn handles(c: Capabilities) -> Vec<u32> {
    match c {
        Capabilities::Handles(v) => v,
        other => panic!("not handles: {other:?}"),
    }
}
fn commands(c: Capabilities) -> Vec<CommandAttributes> {
    match c {
        Capabilities::Commands(v) => v,
        other => panic!("not commands: {other:?}"),
    }
}
fn properties(c: Capabilities) -> Vec<TaggedProperty> {
    match c {
        Capabilities::TpmProperties(v) => v,
        other => panic!("not properties: {other:?}"),
    }
}
fn pcr_props(c: Capabilities) -> Vec<TaggedPcrSelect> {
    match c {
        Capabilities::PcrProperties(v) => v,
        other => panic!("not PCR properties: {other:?}"),
    }
}
fn curves(c: Capabilities) -> Vec<u16> {
    match c {
        Capabilities::EccCurves(v) => v,
        other => panic!("not curves: {other:?}"),
    }
}

/// Pages through a capability `step` entries at a time, the next request
/// starting after the last key returned, and checks moreData on every page.
fn collect<T: Clone>(
    tpm: &mut Tpm,
    cap: u32,
    first: u32,
    step: u32,
    unwrap: fn(Capabilities) -> Vec<T>,
    key: fn(&T) -> u32,
) -> Vec<T> {
    let mut all = Vec::new();
    let mut next = first;
    loop {
        let (more, data) = ok(tpm, cap, next, step);
        let page = unwrap(data);
        assert!(page.len() <= step as usize);
        if more {
            assert_eq!(page.len(), step as usize, "a page with moreData is full");
        }
        if let Some(last) = page.last() {
            next = key(last) + 1;
        }
        all.extend(page);
        if !more {
            return all;
        }
    }
}

fn property(list: &[TaggedProperty], p: u32) -> u32 {
    list.iter()
        .find(|t| t.property == p)
        .unwrap_or_else(|| panic!("property {p:#x} missing"))
        .value
}

fn ascii(v: u32) -> String {
    v.to_be_bytes()
        .iter()
        .filter(|&&b| b != 0)
        .map(|&b| b as char)
        .collect()
}

// ---- TPM_CAP_ALGS ----------------------------------------------------------

/// The implemented algorithms with their TPMA_ALGORITHM (Part 2 §8.2:
/// asymmetric 1, symmetric 2, hash 4, object 8, signing 0x100,
/// encrypting 0x200, method 0x400), in TPM_ALG_ID order.
const EXPECTED_ALGS: &[(u16, u32)] = &[
    (0x0001, 0x009), // RSA
    (0x0004, 0x004), // SHA1
    (0x0005, 0x104), // HMAC
    (0x0006, 0x002), // AES
    (0x0007, 0x404), // MGF1
    (0x0008, 0x30C), // KEYEDHASH
    (0x000A, 0x006), // XOR
    (0x000B, 0x004), // SHA256
    (0x000C, 0x004), // SHA384
    (0x000D, 0x004), // SHA512
    (0x0010, 0x000), // NULL
    (0x0012, 0x004), // SM3_256
    (0x0013, 0x002), // SM4
    (0x0014, 0x101), // RSASSA
    (0x0015, 0x201), // RSAES
    (0x0016, 0x101), // RSAPSS
    (0x0017, 0x201), // OAEP
    (0x0018, 0x101), // ECDSA
    (0x0019, 0x401), // ECDH
    (0x001B, 0x501), // SM2
    (0x0020, 0x404), // KDF1_SP800_56A
    (0x0022, 0x404), // KDF1_SP800_108
    (0x0023, 0x009), // ECC
    (0x0025, 0x008), // SYMCIPHER
    (0x0043, 0x202), // CFB
];

#[test]
fn algorithms_are_listed_with_their_attributes() {
    let mut t = tpm();
    let (more, data) = ok(&mut t, CAP_ALGS, 1, 169);
    assert!(!more);
    let got: Vec<(u16, u32)> = algorithms(data)
        .iter()
        .map(|a| (a.alg, a.attributes))
        .collect();
    assert_eq!(got, EXPECTED_ALGS);
}

#[test]
fn algorithms_page_from_property() {
    let mut t = tpm();
    // The first value to report is `property`.
    let (more, data) = ok(&mut t, CAP_ALGS, 0x000B, 2);
    assert!(more);
    let ids: Vec<u16> = algorithms(data).iter().map(|a| a.alg).collect();
    assert_eq!(ids, [0x000B, 0x000C]);
    // TPM_ALG_ID is 16 bits: the upper half of `property` is ignored, as
    // by libtpms.
    let (_, data) = ok(&mut t, CAP_ALGS, 0x0001_0004, 1);
    assert_eq!(algorithms(data)[0].alg, 0x0004);
    // Past the last algorithm: nothing, and no more.
    let (more, data) = ok(&mut t, CAP_ALGS, 0x0044, 10);
    assert!(!more && algorithms(data).is_empty());
    // Count 0: nothing, but more remains.
    let (more, data) = ok(&mut t, CAP_ALGS, 0, 0);
    assert!(more && algorithms(data).is_empty());
    // Paged three at a time, the pages add up to the whole list.
    let all = collect(&mut t, CAP_ALGS, 0, 3, algorithms, |a| u32::from(a.alg));
    let ids: Vec<u16> = all.iter().map(|a| a.alg).collect();
    let want: Vec<u16> = EXPECTED_ALGS.iter().map(|a| a.0).collect();
    assert_eq!(ids, want);
}

// ---- TPM_CAP_COMMANDS ------------------------------------------------------

#[test]
fn commands_carry_tpma_cc_from_the_dispatch_table() {
    let mut t = tpm();
    let (more, data) = ok(&mut t, CAP_COMMANDS, 0x11F, 254);
    assert!(!more);
    let list = commands(data);
    let codes: Vec<u16> = list.iter().map(|c| c.command_index()).collect();
    let mut sorted = codes.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(codes, sorted, "ascending, no duplicates");
    // Every command this issue implements is present.
    for cc in [
        0x12B, 0x128, 0x130, 0x13C, 0x13D, 0x13E, 0x142, 0x143, 0x144, 0x145, 0x146, 0x15C, 0x17A,
        0x17B, 0x17C, 0x17D, 0x17E, 0x181, 0x182, 0x185, 0x186, 0x18A,
    ] {
        assert!(codes.contains(&cc), "command {cc:#x} missing");
    }
    let attrs = |cc: u16| list.iter().find(|c| c.command_index() == cc).unwrap().0;
    // The values the reference implementation reports (CommandAttributeData.h):
    // GetCapability: nothing set.
    assert_eq!(attrs(0x17A), 0x0000_017A);
    // PCR_Allocate: nv, one handle.
    assert_eq!(attrs(0x12B), 0x0240_012B);
    // PCR_Extend: nv, one handle.
    assert_eq!(attrs(0x182), 0x0240_0182);
    // SequenceComplete: flushed, one handle.
    assert_eq!(attrs(0x13E), 0x0300_013E);
    // EventSequenceComplete: nv, flushed, two handles.
    assert_eq!(attrs(0x185), 0x0540_0185);
    // HashSequenceStart: response handle.
    assert_eq!(attrs(0x186), 0x1000_0186);
    // Startup: nv.
    assert_eq!(attrs(0x144), 0x0040_0144);
    for c in &list {
        assert!(!c.vendor());
        // extensive: only HierarchyControl, ChangeEPS, ChangePPS and Clear,
        // as CommandAttributeData.h marks them.
        assert_eq!(
            c.extensive(),
            [0x121, 0x124, 0x125, 0x126].contains(&c.command_index()),
            "extensive of {:#x}",
            c.0
        );
        assert_eq!(c.0 & 0xC03F_0000, 0, "reserved bits of {:#x}", c.0);
    }

    // TPM_PT_TOTAL_COMMANDS agrees with the list.
    let (_, data) = ok(&mut t, CAP_TPM_PROPERTIES, PT_FIXED, 127);
    let props = properties(data);
    assert_eq!(property(&props, PT_FIXED + 41) as usize, list.len());
    assert_eq!(property(&props, PT_FIXED + 42) as usize, list.len());
    assert_eq!(property(&props, PT_FIXED + 43), 0);
}

#[test]
fn commands_page_and_ignore_foreign_start_codes() {
    let mut t = tpm();
    let (_, data) = ok(&mut t, CAP_COMMANDS, 0, 254);
    let whole = commands(data);
    let paged = collect(&mut t, CAP_COMMANDS, 0, 5, commands, |c| {
        u32::from(c.command_index())
    });
    assert_eq!(paged, whole);
    // One command at a time from GetCapability: the next is GetRandom.
    let (more, data) = ok(&mut t, CAP_COMMANDS, 0x17A, 1);
    assert!(more);
    assert_eq!(commands(data)[0].command_index(), 0x17A);
    // A start value with TPMA_CC bits (as tpm2-tools sends when paging)
    // or the vendor bit names no command: empty list, no more.
    for start in [0x0240_012B, 0x2000_0000, 0x0001_0144] {
        let (more, data) = ok(&mut t, CAP_COMMANDS, start, 10);
        assert!(!more && commands(data).is_empty(), "start {start:#x}");
    }
}

#[test]
fn pp_and_audit_commands_are_lists_of_the_right_type() {
    let mut t = tpm();
    let (more, data) = ok(&mut t, CAP_PP_COMMANDS, 0, 254);
    assert!(!more);
    assert_eq!(data, Capabilities::PpCommands(vec![]));
    // As manufactured only TPM2_SetCommandCodeAuditStatus is audited
    // (reference CommandAuditPreInstall_Init; attestation helper).
    let (more, data) = ok(&mut t, CAP_AUDIT_COMMANDS, 0, 254);
    assert!(!more);
    assert_eq!(data, Capabilities::AuditCommands(vec![0x140]));
    let (more, data) = ok(&mut t, CAP_AUDIT_COMMANDS, 0x141, 254);
    assert!(!more);
    assert_eq!(data, Capabilities::AuditCommands(vec![]));
}

// ---- TPM_CAP_TPM_PROPERTIES ----------------------------------------------

#[test]
fn fixed_properties_describe_this_tpm() {
    let mut t = tpm();
    let (more, data) = ok(&mut t, CAP_TPM_PROPERTIES, PT_FIXED, 127);
    assert!(!more, "the fixed group ends the answer");
    let p = properties(data);
    assert!(p.iter().all(|t| (PT_FIXED..PT_VAR).contains(&t.property)));
    assert!(p.windows(2).all(|w| w[0].property < w[1].property));
    assert_eq!(ascii(property(&p, PT_FIXED)), "2.0");
    assert_eq!(property(&p, PT_FIXED), 0x322E_3000);
    assert_eq!(property(&p, PT_FIXED + 1), 0, "level");
    assert_eq!(property(&p, PT_FIXED + 2), 183, "revision 1.83");
    assert_eq!(property(&p, PT_FIXED + 4), 2024, "year");
    assert_eq!(ascii(property(&p, PT_FIXED + 5)), "TCLD");
    let vendor: String = (6..=9).map(|i| ascii(property(&p, PT_FIXED + i))).collect();
    assert_eq!(vendor, "trustcloud");
    assert_eq!(property(&p, PT_FIXED + 13), 1024, "INPUT_BUFFER");
    assert_eq!(property(&p, PT_FIXED + 14), 3, "HR_TRANSIENT_MIN");
    assert_eq!(property(&p, PT_FIXED + 15), 7, "HR_PERSISTENT_MIN");
    assert_eq!(property(&p, PT_FIXED + 18), 24, "PCR_COUNT");
    assert_eq!(property(&p, PT_FIXED + 19), 3, "PCR_SELECT_MIN");
    assert_eq!(property(&p, PT_FIXED + 30), 4096, "MAX_COMMAND_SIZE");
    assert_eq!(property(&p, PT_FIXED + 31), 4096, "MAX_RESPONSE_SIZE");
    assert_eq!(property(&p, PT_FIXED + 32), 64, "MAX_DIGEST");
    assert_eq!(
        property(&p, PT_FIXED + 35),
        1,
        "PS_FAMILY_INDICATOR: PC Client"
    );
    assert_eq!(property(&p, PT_FIXED + 46), 1024, "MAX_CAP_BUFFER");
    assert_eq!(
        property(&p, PT_FIXED + 26),
        0x000D,
        "CONTEXT_HASH sha512, as libtpms"
    );
    assert_eq!(property(&p, PT_FIXED + 27), 0x0006, "CONTEXT_SYM aes");
    assert_eq!(property(&p, PT_FIXED + 28), 256, "CONTEXT_SYM_SIZE");
    // TPM_PT_FIXED + 21 is not defined by Part 2.
    assert!(p.iter().all(|t| t.property != PT_FIXED + 21));
    assert_eq!(p.len(), 46);
}

#[test]
fn variable_properties_follow_the_state() {
    let mut t = tpm();
    let (more, data) = ok(&mut t, CAP_TPM_PROPERTIES, PT_VAR, 127);
    assert!(!more);
    let p = properties(data);
    assert!(p
        .iter()
        .all(|t| (PT_VAR..PT_VAR + 0x100).contains(&t.property)));
    assert_eq!(p.len(), 21);
    // TPMA_PERMANENT: no authorization set, EPS generated by the TPM.
    assert_eq!(property(&p, PT_VAR), 1 << 10);
    // TPMA_STARTUP_CLEAR: all hierarchies enabled.
    assert_eq!(property(&p, PT_VAR + 1) & 0xF, 0xF);
    assert_eq!(property(&p, PT_VAR + 7), 3, "HR_TRANSIENT_AVAIL");
    assert_eq!(property(&p, PT_VAR + 13), 3, "LOADED_CURVES");
    assert_eq!(property(&p, PT_VAR + 15), 3, "MAX_AUTH_FAIL");
    assert_eq!(property(&p, PT_VAR + 16), 1000, "LOCKOUT_INTERVAL");
    assert_eq!(property(&p, PT_VAR + 17), 1000, "LOCKOUT_RECOVERY");

    // A loaded sequence object takes a transient slot.
    let (rc, _) = run(&mut t, CC_HASH_SEQUENCE_START, &[0, 0, 0x00, 0x0B]);
    assert_eq!(rc, RC_SUCCESS);
    let (_, data) = ok(&mut t, CAP_TPM_PROPERTIES, PT_VAR + 7, 1);
    assert_eq!(
        properties(data),
        [TaggedProperty {
            property: PT_VAR + 7,
            value: 2
        }]
    );
}

#[test]
fn properties_page_within_a_group() {
    let mut t = tpm();
    let (_, data) = ok(&mut t, CAP_TPM_PROPERTIES, PT_FIXED, 127);
    let whole = properties(data);
    let paged = collect(&mut t, CAP_TPM_PROPERTIES, PT_FIXED, 7, properties, |p| {
        p.property
    });
    // Values of fixed properties do not change between calls.
    assert_eq!(paged, whole);
    // A property below TPM_PT_FIXED starts the fixed group.
    let (_, data) = ok(&mut t, CAP_TPM_PROPERTIES, 0, 1);
    assert_eq!(properties(data)[0].property, PT_FIXED);
    // Exactly filling the group leaves nothing more.
    let (more, data) = ok(&mut t, CAP_TPM_PROPERTIES, PT_FIXED, 46);
    assert!(!more);
    assert_eq!(properties(data).len(), 46);
    let (more, _) = ok(&mut t, CAP_TPM_PROPERTIES, PT_FIXED, 45);
    assert!(more);
    // Past the variable group: empty.
    let (more, data) = ok(&mut t, CAP_TPM_PROPERTIES, PT_VAR + 0x100, 10);
    assert!(!more && properties(data).is_empty());
}

#[test]
fn startup_clear_orderly_follows_the_last_shutdown() {
    const CC_SHUTDOWN: u32 = 0x145;
    let startup_clear = |t: &mut Tpm| {
        let (_, data) = ok(t, CAP_TPM_PROPERTIES, PT_VAR + 1, 1);
        property(&properties(data), PT_VAR + 1)
    };
    // A new TPM leaves manufacturing shut down in order.
    let mut t = tpm();
    assert_eq!(startup_clear(&mut t), 0x8000_000F);
    // Power lost without TPM2_Shutdown: disorderly.
    t.power_on();
    assert_eq!(run(&mut t, CC_STARTUP, &0u16.to_be_bytes()).0, RC_SUCCESS);
    assert_eq!(startup_clear(&mut t), 0x0000_000F);
    // Shutdown(CLEAR), power cycle, Startup(CLEAR): orderly again.
    assert_eq!(run(&mut t, CC_SHUTDOWN, &0u16.to_be_bytes()).0, RC_SUCCESS);
    t.power_on();
    assert_eq!(run(&mut t, CC_STARTUP, &0u16.to_be_bytes()).0, RC_SUCCESS);
    assert_eq!(startup_clear(&mut t), 0x8000_000F);
}

// ---- TPM_CAP_PCRS and TPM_CAP_PCR_PROPERTIES -----------------------------

#[test]
fn pcrs_report_the_allocation() {
    let mut t = started(&EngineConfig {
        pcr_banks: vec![HashAlg::Sha1, HashAlg::Sm3_256],
    });
    let (more, data) = ok(&mut t, CAP_PCRS, 0, 1);
    assert!(!more);
    let Capabilities::Pcrs(PcrSelectionList(banks)) = data else {
        panic!("not PCRs")
    };
    // Every implemented bank, in TPM_ALG_ID order; unallocated ones empty
    // (as the reference implementation reports gp.pcrAllocated).
    let algs: Vec<HashAlg> = banks.iter().map(|b| b.hash).collect();
    assert_eq!(algs, HashAlg::ALL);
    for b in &banks {
        if matches!(b.hash, HashAlg::Sha1 | HashAlg::Sm3_256) {
            assert_eq!(b, &PcrSelection::all(b.hash));
        } else {
            assert!(b.is_empty(), "{:?} not allocated", b.hash);
        }
    }
    // Count 0: nothing, more YES (reference PCRCapGetAllocation).
    let (more, data) = ok(&mut t, CAP_PCRS, 0, 0);
    assert!(more);
    assert_eq!(data, Capabilities::Pcrs(PcrSelectionList(vec![])));
    // The property must be 0.
    assert_eq!(get_cap(&mut t, CAP_PCRS, 1, 1), Err(RC_VALUE_P2));
}

#[test]
fn pcr_properties_page_like_the_reference() {
    let mut t = tpm();
    let (more, data) = ok(&mut t, CAP_PCR_PROPERTIES, 0, 127);
    assert!(!more);
    let all = pcr_props(data);
    assert!(all.windows(2).all(|w| w[0].tag < w[1].tag));
    assert!(all.iter().all(|p| p.select.len() == 3 && p.tag <= 0x14));
    // PC Client: PCR 16 and 23 are resettable and extendable at locality 0.
    let reset_l0 = all.iter().find(|p| p.tag == 0x02).expect("RESET_L0");
    assert!(reset_l0.is_selected(16) && reset_l0.is_selected(23));
    assert!(!reset_l0.is_selected(0));
    let paged = collect(&mut t, CAP_PCR_PROPERTIES, 0, 4, pcr_props, |p| p.tag);
    assert_eq!(paged, all);
    // The last property alone: nothing after it.
    let last = all.last().unwrap().tag;
    let (more, data) = ok(&mut t, CAP_PCR_PROPERTIES, last, 1);
    assert!(!more);
    assert_eq!(pcr_props(data).len(), 1);
    // Beyond TPM_PT_PCR_LAST.
    let (more, data) = ok(&mut t, CAP_PCR_PROPERTIES, 0x1300_0000, 3);
    assert!(!more && pcr_props(data).is_empty());
}

// ---- TPM_CAP_ECC_CURVES ----------------------------------------------------

#[test]
fn ecc_curves() {
    let mut t = tpm();
    let (more, data) = ok(&mut t, CAP_ECC_CURVES, 1, 508);
    assert!(!more);
    assert_eq!(curves(data), [0x0003, 0x0004, 0x0020]);
    let (more, data) = ok(&mut t, CAP_ECC_CURVES, 0, 1);
    assert!(more);
    assert_eq!(curves(data), [0x0003]);
    let (more, data) = ok(&mut t, CAP_ECC_CURVES, 4, 5);
    assert!(!more);
    assert_eq!(curves(data), [0x0004, 0x0020]);
}

// ---- TPM_CAP_HANDLES -------------------------------------------------------

#[test]
fn handles_by_type() {
    let mut t = tpm();
    let (more, data) = ok(&mut t, CAP_HANDLES, 0, 254);
    assert!(!more);
    assert_eq!(handles(data), (0..24).collect::<Vec<u32>>());
    let (more, data) = ok(&mut t, CAP_HANDLES, 20, 2);
    assert!(more);
    assert_eq!(handles(data), [20, 21]);
    let paged = collect(&mut t, CAP_HANDLES, 0, 5, handles, |h| *h);
    assert_eq!(paged, (0..24).collect::<Vec<u32>>());

    let (more, data) = ok(&mut t, CAP_HANDLES, 0x4000_0000, 254);
    assert!(!more);
    assert_eq!(
        handles(data),
        [
            0x4000_0001,
            0x4000_0007,
            0x4000_0009,
            0x4000_000A,
            0x4000_000B,
            0x4000_000C,
            0x4000_000D
        ]
    );
    let (more, data) = ok(&mut t, CAP_HANDLES, 0x4000_000A, 2);
    assert!(more);
    assert_eq!(handles(data), [0x4000_000A, 0x4000_000B]);

    for first in [
        0x8000_0000u32,
        0x8100_0000,
        0x0100_0000,
        0x0200_0000,
        0x0300_0000,
    ] {
        let (more, data) = ok(&mut t, CAP_HANDLES, first, 254);
        assert!(!more && handles(data).is_empty(), "{first:#x}");
    }
    // A sequence object appears as a transient handle.
    let (rc, body) = run(&mut t, CC_HASH_SEQUENCE_START, &[0, 0, 0x00, 0x0B]);
    assert_eq!(rc, RC_SUCCESS);
    let seq = u32::from_be_bytes([body[0], body[1], body[2], body[3]]);
    let (more, data) = ok(&mut t, CAP_HANDLES, 0x8000_0000, 254);
    assert!(!more);
    assert_eq!(handles(data), [seq]);
    // Not a handle type GetCapability lists.
    assert_eq!(
        get_cap(&mut t, CAP_HANDLES, 0x0500_0000, 1),
        Err(RC_HANDLE_P2)
    );
}

// ---- TPM_CAP_AUTH_POLICIES and TPM_CAP_ACT -------------------------------

#[test]
fn auth_policies_and_act() {
    let mut t = tpm();
    let (more, data) = ok(&mut t, CAP_AUTH_POLICIES, 0x4000_0000, 14);
    assert!(!more);
    let want: Vec<TaggedPolicy> = [0x4000_0001u32, 0x4000_000A, 0x4000_000B, 0x4000_000C]
        .iter()
        .map(|&h| TaggedPolicy {
            handle: h,
            policy_hash: 0x0010,
            digest: vec![],
        })
        .collect();
    assert_eq!(data, Capabilities::AuthPolicies(want));
    assert_eq!(get_cap(&mut t, CAP_AUTH_POLICIES, 1, 1), Err(RC_VALUE_P2));

    let (more, data) = ok(&mut t, CAP_ACT, 0x4000_0110, 84);
    assert!(!more);
    assert_eq!(data, Capabilities::Act(vec![]));
    assert_eq!(get_cap(&mut t, CAP_ACT, 0, 1), Err(RC_VALUE_P2));
}

// ---- malformed requests ----------------------------------------------------

#[test]
fn bad_capability_requests_get_reference_codes() {
    let mut t = tpm();
    // Not a TPM_CAP: refused while unmarshalling, before the rest is read.
    assert_eq!(
        run(&mut t, CC_GET_CAPABILITY, &cap_params(0x0B, 0, 1)).0,
        RC_VALUE_P1
    );
    assert_eq!(
        run(&mut t, CC_GET_CAPABILITY, &0x0Bu32.to_be_bytes()).0,
        RC_VALUE_P1
    );
    // TPM_CAP_VENDOR_PROPERTY: defined, but this TPM has none.
    assert_eq!(
        run(&mut t, CC_GET_CAPABILITY, &cap_params(0x100, 0, 1)).0,
        RC_VALUE_P1
    );
    // propertyCount missing.
    assert_eq!(
        run(&mut t, CC_GET_CAPABILITY, &cap_params(6, 0x100, 1)[..8]).0,
        RC_INSUFFICIENT_P3
    );
    // A trailing byte.
    let mut p = cap_params(6, 0x100, 1);
    p.push(0);
    assert_eq!(run(&mut t, CC_GET_CAPABILITY, &p).0, RC_SIZE);
}

#[test]
fn every_answer_fits_even_for_huge_counts() {
    let mut t = tpm();
    for (cap, prop) in [
        (CAP_ALGS, 0),
        (CAP_HANDLES, 0),
        (CAP_HANDLES, 0x4000_0000),
        (CAP_COMMANDS, 0),
        (CAP_PCRS, 0),
        (CAP_TPM_PROPERTIES, PT_FIXED),
        (CAP_TPM_PROPERTIES, PT_VAR),
        (CAP_PCR_PROPERTIES, 0),
        (CAP_ECC_CURVES, 0),
        (CAP_AUTH_POLICIES, 0x4000_0000),
    ] {
        let (more, data) = ok(&mut t, cap, prop, u32::MAX);
        assert!(!more, "cap {cap} property {prop:#x}");
        assert!(!data.is_empty());
    }
}

// ---- TPM2_TestParms --------------------------------------------------------

fn hex(s: &str) -> Vec<u8> {
    hex::decode(s.replace(' ', "")).expect("hex")
}

fn test_parms(t: &mut Tpm, parms: &str) -> (u32, Vec<u8>) {
    run(t, CC_TEST_PARMS, &hex(parms))
}

#[test]
fn test_parms_accepts_implemented_parameters() {
    let mut t = tpm();
    for (name, parms) in [
        ("rsa2048", "0001 0010 0010 0800 00000000"),
        ("rsa3072", "0001 0010 0010 0c00 00010001"),
        (
            "rsa2048 storage aes128cfb",
            "0001 0006 0080 0043 0010 0800 00000000",
        ),
        (
            "rsa2048 storage sm4cfb",
            "0001 0013 0080 0043 0010 0800 00000000",
        ),
        (
            "rsa2048 aes256 null mode",
            "0001 0006 0100 0010 0010 0800 00000000",
        ),
        ("rsa rsassa sha256", "0001 0010 0014 000b 0800 00000000"),
        ("rsa rsapss sha384", "0001 0010 0016 000c 0800 00000000"),
        ("rsa rsaes", "0001 0010 0015 0800 00000000"),
        ("rsa oaep sha1", "0001 0010 0017 0004 0800 00000000"),
        ("ecc p256", "0023 0010 0010 0003 0010"),
        ("ecc p384 ecdsa sha384", "0023 0010 0018 000c 0004 0010"),
        ("ecc sm2 sm2 sm3", "0023 0010 001b 0012 0020 0010"),
        ("ecc ecdh kdf mgf1", "0023 0010 0019 000b 0003 0007 000b"),
        ("ecc kdf1 56a", "0023 0010 0010 0003 0020 000b"),
        (
            "ecc storage kdf 108",
            "0023 0006 0080 0043 0010 0003 0022 000b",
        ),
        ("aes128cfb", "0025 0006 0080 0043"),
        ("aes256cfb", "0025 0006 0100 0043"),
        ("sm4 128 cfb", "0025 0013 0080 0043"),
        ("keyedhash null", "0008 0010"),
        ("hmac sha256", "0008 0005 000b"),
        ("hmac sm3", "0008 0005 0012"),
        ("xor sha256 kdf108", "0008 000a 000b 0022"),
        ("xor sha512 no kdf", "0008 000a 000d 0010"),
    ] {
        let (rc, body) = test_parms(&mut t, parms);
        assert_eq!(rc, RC_SUCCESS, "{name}");
        assert!(body.is_empty(), "{name}: no response parameters");
    }
}

#[test]
fn test_parms_refuses_with_reference_codes() {
    let mut t = tpm();
    for (name, parms, want) in [
        // RSA key sizes this TPM lacks: TPMI_RSA_KEY_BITS -> VALUE.
        ("rsa1024", "0001 0010 0010 0400 00000000", RC_VALUE_P1),
        ("rsa4096", "0001 0010 0010 1000 00000000", RC_VALUE_P1),
        // Symmetric: key size VALUE, mode MODE, algorithm SYMMETRIC.
        ("aes192", "0025 0006 00c0 0043", RC_VALUE_P1),
        ("sm4 256", "0025 0013 0100 0043", RC_VALUE_P1),
        ("aes ecb", "0025 0006 0080 0044", RC_MODE_P1),
        (
            "aes ctr",
            "0001 0006 0080 0040 0010 0800 00000000",
            RC_MODE_P1,
        ),
        ("symcipher null", "0025 0010", RC_SYMMETRIC_P1),
        ("symcipher xor", "0025 000a 000b", RC_SYMMETRIC_P1),
        ("camellia", "0025 0026 0080 0043", RC_SYMMETRIC_P1),
        (
            "rsa sym xor",
            "0001 000a 000b 0010 0800 00000000",
            RC_SYMMETRIC_P1,
        ),
        // Schemes: RSA VALUE, ECC SCHEME, keyed-hash VALUE, hash HASH.
        (
            "rsa ecdsa",
            "0001 0010 0018 000b 0800 00000000",
            RC_VALUE_P1,
        ),
        (
            "rsassa null hash",
            "0001 0010 0014 0010 0800 00000000",
            RC_HASH_P1,
        ),
        (
            "rsassa sha3",
            "0001 0010 0014 0027 0800 00000000",
            RC_HASH_P1,
        ),
        ("ecc rsassa", "0023 0010 0014 000b 0003 0010", RC_SCHEME_P1),
        (
            "ecc ecdaa",
            "0023 0010 001a 000b 0001 0003 0010",
            RC_SCHEME_P1,
        ),
        ("ecc schnorr", "0023 0010 001c 000b 0003 0010", RC_SCHEME_P1),
        ("keyedhash rsassa", "0008 0014 000b", RC_VALUE_P1),
        ("hmac null hash", "0008 0005 0010", RC_HASH_P1),
        ("xor null hash", "0008 000a 0010 0022", RC_HASH_P1),
        // Curves and KDFs.
        ("ecc p192", "0023 0010 0010 0001 0010", RC_CURVE_P1),
        ("ecc bn256", "0023 0010 0010 0010 0010", RC_CURVE_P1),
        ("ecc p521", "0023 0010 0010 0005 0010", RC_CURVE_P1),
        ("ecc curve none", "0023 0010 0010 0000 0010", RC_CURVE_P1),
        ("ecc kdf2", "0023 0010 0010 0003 0021 000b", RC_KDF_P1),
        ("ecc kdf bogus", "0023 0010 0010 0003 0099 000b", RC_KDF_P1),
        ("xor kdf2", "0008 000a 000b 0021", RC_KDF_P1),
        ("mgf1 bad hash", "0023 0010 0010 0003 0007 0099", RC_HASH_P1),
        // Not an object type.
        ("type sha256", "000b", RC_TYPE_P1),
        ("type null", "0010", RC_TYPE_P1),
        // Framing.
        ("truncated", "0001 0010 0010 0800 0000", RC_INSUFFICIENT_P1),
        ("empty", "", RC_INSUFFICIENT_P1),
        ("trailing byte", "0001 0010 0010 0800 00000000 00", RC_SIZE),
        // The first bad field wins, even if the rest is missing.
        ("rsa4096 truncated", "0001 0010 0010 1000", RC_VALUE_P1),
    ] {
        assert_eq!(test_parms(&mut t, parms).0, want, "{name}");
    }
}

// ---- wire round-trips ------------------------------------------------------

fn hash_id() -> impl Strategy<Value = u16> {
    prop::sample::select(vec![0x0004u16, 0x000B, 0x000C, 0x000D, 0x0012, 0x0027])
}

fn sym_def(allow_null: bool) -> impl Strategy<Value = SymDefObject> {
    let cipher = (
        prop::sample::select(vec![0x0006u16, 0x0013, 0x0026, 0x0003]),
        any::<u16>(),
        prop::sample::select(vec![0x0040u16, 0x0041, 0x0042, 0x0043, 0x0044, 0x0010]),
    )
        .prop_map(|(alg, key_bits, mode)| SymDefObject::Cipher {
            alg,
            key_bits,
            mode,
        });
    if allow_null {
        prop_oneof![Just(SymDefObject::Null), cipher].boxed()
    } else {
        cipher.boxed()
    }
}

fn rsa_scheme() -> impl Strategy<Value = AsymScheme> {
    prop_oneof![
        Just(AsymScheme::Null),
        Just(AsymScheme::Rsaes),
        hash_id().prop_map(AsymScheme::Rsassa),
        hash_id().prop_map(AsymScheme::Rsapss),
        hash_id().prop_map(AsymScheme::Oaep),
    ]
}

fn ecc_scheme() -> impl Strategy<Value = AsymScheme> {
    prop_oneof![
        Just(AsymScheme::Null),
        hash_id().prop_map(AsymScheme::Ecdsa),
        hash_id().prop_map(AsymScheme::Ecdh),
        hash_id().prop_map(AsymScheme::Sm2),
        hash_id().prop_map(AsymScheme::Ecschnorr),
        hash_id().prop_map(AsymScheme::Ecmqv),
        (hash_id(), any::<u16>()).prop_map(|(hash, count)| AsymScheme::Ecdaa { hash, count }),
    ]
}

fn kdf() -> impl Strategy<Value = KdfScheme> {
    prop_oneof![
        Just(KdfScheme::Null),
        hash_id().prop_map(KdfScheme::Mgf1),
        hash_id().prop_map(KdfScheme::Kdf1Sp800_56a),
        hash_id().prop_map(KdfScheme::Kdf2),
        hash_id().prop_map(KdfScheme::Kdf1Sp800_108),
    ]
}

fn keyedhash_scheme() -> impl Strategy<Value = KeyedHashScheme> {
    prop_oneof![
        Just(KeyedHashScheme::Null),
        hash_id().prop_map(KeyedHashScheme::Hmac),
        (
            hash_id(),
            prop::sample::select(vec![0x0010u16, 0x0007, 0x0020, 0x0021, 0x0022])
        )
            .prop_map(|(hash, kdf)| KeyedHashScheme::Xor { hash, kdf }),
    ]
}

fn public_parms() -> impl Strategy<Value = PublicParms> {
    prop_oneof![
        (sym_def(true), rsa_scheme(), any::<u16>(), any::<u32>()).prop_map(
            |(symmetric, scheme, key_bits, exponent)| PublicParms::Rsa(RsaParms {
                symmetric,
                scheme,
                key_bits,
                exponent
            })
        ),
        (sym_def(true), ecc_scheme(), 1..=u16::MAX, kdf()).prop_map(
            |(symmetric, scheme, curve_id, kdf)| PublicParms::Ecc(EccParms {
                symmetric,
                scheme,
                curve_id,
                kdf
            })
        ),
        keyedhash_scheme().prop_map(|scheme| PublicParms::KeyedHash(KeyedHashParms { scheme })),
        sym_def(false).prop_map(|sym| PublicParms::SymCipher(SymCipherParms { sym })),
    ]
}

fn pcr_selection() -> impl Strategy<Value = PcrSelection> {
    (
        prop::sample::select(HashAlg::ALL.to_vec()),
        any::<[u8; 3]>(),
    )
        .prop_map(|(hash, select)| PcrSelection { hash, select })
}

fn tagged_policy() -> impl Strategy<Value = TaggedPolicy> {
    let hashed = prop::sample::select(HashAlg::ALL.to_vec()).prop_flat_map(|h| {
        prop::collection::vec(any::<u8>(), h.digest_size()).prop_map(move |d| (h.id(), d))
    });
    (any::<u32>(), prop_oneof![Just((0x0010u16, vec![])), hashed]).prop_map(
        |(handle, (policy_hash, digest))| TaggedPolicy {
            handle,
            policy_hash,
            digest,
        },
    )
}

fn capabilities() -> impl Strategy<Value = Capabilities> {
    use prop::collection::vec;
    prop_oneof![
        vec((any::<u16>(), any::<u32>()), 0..=169).prop_map(|v| Capabilities::Algorithms(
            v.into_iter()
                .map(|(alg, attributes)| AlgProperty { alg, attributes })
                .collect()
        )),
        vec(any::<u32>(), 0..=254).prop_map(Capabilities::Handles),
        vec(any::<u32>(), 0..=254)
            .prop_map(|v| Capabilities::Commands(v.into_iter().map(CommandAttributes).collect())),
        vec(any::<u32>(), 0..=254).prop_map(Capabilities::PpCommands),
        vec(any::<u32>(), 0..=254).prop_map(Capabilities::AuditCommands),
        vec(pcr_selection(), 0..=5).prop_map(|v| Capabilities::Pcrs(PcrSelectionList(v))),
        vec((any::<u32>(), any::<u32>()), 0..=127).prop_map(|v| Capabilities::TpmProperties(
            v.into_iter()
                .map(|(property, value)| TaggedProperty { property, value })
                .collect()
        )),
        vec((any::<u32>(), vec(any::<u8>(), 0..=3)), 0..=127).prop_map(|v| {
            Capabilities::PcrProperties(
                v.into_iter()
                    .map(|(tag, select)| TaggedPcrSelect { tag, select })
                    .collect(),
            )
        }),
        vec(any::<u16>(), 0..=508).prop_map(Capabilities::EccCurves),
        vec(tagged_policy(), 0..=14).prop_map(Capabilities::AuthPolicies),
        vec(any::<(u32, u32, u32)>(), 0..=84).prop_map(|v| Capabilities::Act(
            v.into_iter()
                .map(|(handle, timeout, attributes)| ActData {
                    handle,
                    timeout,
                    attributes
                })
                .collect()
        )),
    ]
}

proptest! {
    #[test]
    fn capability_data_round_trips(c in capabilities()) {
        let v = CapabilityData(c);
        let b = v.to_bytes();
        prop_assert_eq!(CapabilityData::from_bytes(&b), Ok(v));
    }

    #[test]
    fn public_parms_round_trip(p in public_parms()) {
        let b = p.to_bytes();
        prop_assert_eq!(PublicParms::from_bytes(&b), Ok(p));
        // The permissive decoder is the one Codec uses.
        let mut r = Reader::new(&b);
        prop_assert_eq!(PublicParms::decode_with(&mut r, &AnyAlgorithm), Ok(p));
    }

    /// Arbitrary bytes never panic, and whatever decodes re-encodes to
    /// exactly the bytes consumed.
    #[test]
    fn decoders_are_canonical(data in prop::collection::vec(any::<u8>(), 0..600)) {
        let mut r = Reader::new(&data);
        if let Ok(v) = CapabilityData::decode(&mut r) {
            prop_assert_eq!(&v.to_bytes()[..], &data[..r.position()]);
        }
        let mut r = Reader::new(&data);
        if let Ok(v) = PublicParms::decode(&mut r) {
            prop_assert_eq!(&v.to_bytes()[..], &data[..r.position()]);
        }
    }

    /// Structured-but-random TestParms inputs never panic the engine and
    /// always get either success or a parameter-1 / size code.
    #[test]
    fn test_parms_never_panics(p in public_parms(), tail in prop::collection::vec(any::<u8>(), 0..3)) {
        let mut t = tpm();
        let mut b = p.to_bytes();
        b.extend_from_slice(&tail);
        let (rc, body) = run(&mut t, CC_TEST_PARMS, &b);
        prop_assert!(body.is_empty());
        prop_assert!(rc == RC_SUCCESS || rc == RC_SIZE || rc & 0xFC0 == 0x1C0, "rc {:#x}", rc);
    }
}
