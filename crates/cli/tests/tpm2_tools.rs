//! The real tpm2-tools (5.4) against `trustcloud tpm serve`, under both TCP
//! protocols (mssim and swtpm), checking the values the tools print: PCR
//! values are recomputed here with RustCrypto (and SM3 cross-checked with
//! `openssl dgst -sm3`), capabilities are checked entry by entry, clocks
//! and counters are checked across power cycles.
//!
//! Every test starts its own server on its own state directory, so the
//! tests run in parallel. `TRUSTCLOUD_TEST_TPM=swtpm cargo test -p
//! trustcloud --test tpm2_tools swtpm` runs the same checks against the
//! reference swtpm (a check of the tests; SM3 banks fail there, as libtpms
//! has none).

mod support;

use std::collections::BTreeMap;
use std::thread;
use std::time::Duration;

use sha2::Digest;
use support::{openssl_digest, parse, Protocol, Server, ServerBuilder};

/// Generates `mod name { fn mssim(); fn swtpm(); }` calling `name(protocol)`.
macro_rules! both_protocols {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn mssim() {
                super::$name(super::Protocol::Mssim)
            }
            #[test]
            fn swtpm() {
                super::$name(super::Protocol::Swtpm)
            }
        }
    )*};
}

both_protocols!(
    startup_required,
    getcap_every_group,
    pcrread_initial_values,
    pcrextend_values,
    pcrextend_all_five_banks,
    pcrevent_small_and_sequence,
    pcrreset_by_locality,
    pcrallocate_takes_effect_after_power_cycle,
    getrandom_values,
    stirrandom,
    hash_all_algorithms,
    hash_tickets,
    selftest_and_results,
    readclock_and_power_cycles,
    testparms,
    shutdown_state_preserves_pcrs,
    sm3_first_class_bank,
    sm3_pcrevent,
);

// ---------------------------------------------------------------------------
// Independent reference computations.

const ALGS: [&str; 5] = ["sha1", "sha256", "sha384", "sha512", "sm3_256"];

/// TPM_ALG_ID of each hash (TCG Algorithm Registry).
fn alg_id(alg: &str) -> u64 {
    match alg {
        "sha1" => 0x4,
        "sha256" => 0xB,
        "sha384" => 0xC,
        "sha512" => 0xD,
        "sm3_256" => 0x12,
        other => panic!("unknown alg {other}"),
    }
}

fn digest_len(alg: &str) -> usize {
    match alg {
        "sha1" => 20,
        "sha256" | "sm3_256" => 32,
        "sha384" => 48,
        "sha512" => 64,
        other => panic!("unknown alg {other}"),
    }
}

/// The hash computed here: RustCrypto for SHA-2 and SM3, openssl for SHA-1
/// (the `sha1` crate is not a dependency of this package).
fn h(alg: &str, data: &[u8]) -> Vec<u8> {
    match alg {
        "sha256" => sha2::Sha256::digest(data).to_vec(),
        "sha384" => sha2::Sha384::digest(data).to_vec(),
        "sha512" => sha2::Sha512::digest(data).to_vec(),
        "sm3_256" => sm3::Sm3::digest(data).to_vec(),
        "sha1" => openssl_digest("sha1", data),
        other => panic!("unknown alg {other}"),
    }
}

/// PCR extend (Part 1 §17.2): new = H(old || digest).
fn extend(alg: &str, old: &[u8], digest: &[u8]) -> Vec<u8> {
    let mut m = old.to_vec();
    m.extend_from_slice(digest);
    h(alg, &m)
}

/// The value of a PCR after TPM2_Startup(CLEAR) at locality 0: PC Client
/// Platform TPM Profile, PCR attributes table — PCRs 17-22 (D-RTM) start
/// at all ones until a D-RTM event, every other PCR at zero.
fn initial_pcr(alg: &str, pcr: u32) -> Vec<u8> {
    let b = if (17..=22).contains(&pcr) { 0xFF } else { 0x00 };
    vec![b; digest_len(alg)]
}

/// Deterministic test data.
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(31).wrapping_add(seed as u32) as u8)
        .collect()
}

// ---------------------------------------------------------------------------
// Small helpers over the tools.

fn started(p: Protocol) -> Server {
    let s = Server::start(p);
    s.ok("tpm2_startup", &["-c"]);
    s
}

fn started_with_banks(p: Protocol, banks: &str) -> Server {
    let s = ServerBuilder::under_test(p).pcr_banks(banks).start();
    s.ok("tpm2_startup", &["-c"]);
    s
}

type Pcrs = BTreeMap<String, BTreeMap<u32, Vec<u8>>>;

fn pcrread(s: &Server, sel: &str) -> Pcrs {
    parse::pcrread(&s.ok("tpm2_pcrread", &[sel]))
}

fn pcr(s: &Server, alg: &str, idx: u32) -> Vec<u8> {
    let m = pcrread(s, &format!("{alg}:{idx}"));
    m.get(alg)
        .and_then(|b| b.get(&idx))
        .cloned()
        .unwrap_or_else(|| panic!("pcrread {alg}:{idx} returned {m:?}"))
}

fn getcap_pcrs(s: &Server) -> BTreeMap<String, Vec<u32>> {
    parse::pcr_selection(&s.ok("tpm2_getcap", &["pcrs"]))
}

fn all_pcrs() -> Vec<u32> {
    (0..24).collect()
}

/// Asserts that exactly `active` banks have all 24 PCRs and any other bank
/// listed has none.
fn assert_active_banks(sel: &BTreeMap<String, Vec<u32>>, active: &[&str]) {
    for a in active {
        assert_eq!(
            sel.get(*a),
            Some(&all_pcrs()),
            "bank {a} should have PCRs 0-23 in {sel:?}"
        );
    }
    for (bank, pcrs) in sel {
        if !active.contains(&bank.as_str()) {
            assert!(pcrs.is_empty(), "bank {bank} should be inactive: {sel:?}");
        }
    }
}

fn assert_rc(out: &support::ToolOutput, rc: u32) {
    assert_eq!(
        out.tpm_rc(),
        Some(rc),
        "expected TPM response code {rc:#x}: {out:?}"
    );
}

fn readclock(s: &Server) -> (u64, u64, u64, u64, bool) {
    let out = s.ok("tpm2_readclock", &[]);
    let b = parse::blocks(&out);
    let time = parse::num(parse::block(&b, "time").inline.as_deref().unwrap_or(""));
    let ci = parse::block(&b, "clock_info");
    let safe = match ci.field("safe") {
        Some("yes") => true,
        Some("no") => false,
        other => panic!("safe: {other:?} in\n{out}"),
    };
    (
        time,
        ci.num("clock"),
        ci.num("reset_count"),
        ci.num("restart_count"),
        safe,
    )
}

// Response codes used below (Part 2 §6.6).
const RC_INITIALIZE: u32 = 0x100;
const RC_LOCALITY: u32 = 0x907;
/// TPM_RC_VALUE + TPM_RC_P + TPM_RC_1 (Startup's startupType).
const RC_VALUE_P1: u32 = 0x1C4;
/// TPM_RC_TYPE + TPM_RC_P + TPM_RC_1 (Shutdown's shutdownType).
const RC_TYPE_P1: u32 = 0x1CA;
/// TPM_RC_SIZE + TPM_RC_P + TPM_RC_1.
const RC_SIZE_P1: u32 = 0x1D5;

// ---------------------------------------------------------------------------
// Tests.

/// Part 3 §9.3: before TPM2_Startup every command but Startup fails with
/// TPM_RC_INITIALIZE; after it the TPM serves.
fn startup_required(p: Protocol) {
    let s = Server::start(p);
    let out = s.fails("tpm2_getrandom", &["--hex", "8"]);
    assert_rc(&out, RC_INITIALIZE);
    s.ok("tpm2_startup", &["-c"]);
    let hexs = s.ok("tpm2_getrandom", &["--hex", "8"]);
    assert_eq!(parse::hex(&hexs).len(), 8, "{hexs}");
    // A second Startup answers TPM_RC_INITIALIZE, which tpm2_startup
    // accepts as "already started"; the TPM keeps serving.
    s.ok("tpm2_startup", &["-c"]);
    assert_eq!(pcr(&s, "sha256", 0), vec![0u8; 32]);
}

/// Every `tpm2_getcap` group, with its content.
fn getcap_every_group(p: Protocol) {
    let s = started(p);

    // The tool's list of groups is what we cover.
    let groups = s.ok("tpm2_getcap", &["-l"]);
    let groups: Vec<&str> = groups
        .lines()
        .map(|l| l.trim().trim_start_matches("- "))
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(groups.len(), 13, "{groups:?}");

    // algorithms: the five hashes with the right IDs and the hash bit.
    let algs = parse::blocks(&s.ok("tpm2_getcap", &["algorithms"]));
    for a in ALGS {
        let b = parse::block(&algs, a);
        assert_eq!(b.num("value"), alg_id(a), "{b:?}");
        assert_eq!(b.num("hash"), 1, "{b:?}");
        assert_eq!(b.num("asymmetric"), 0, "{b:?}");
    }
    let mut ids: Vec<u64> = algs.iter().map(|b| b.num("value")).collect();
    let n = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), n, "algorithm listed twice: {algs:?}");

    // commands: every command of this issue, with its attributes.
    let cmds = parse::blocks(&s.ok("tpm2_getcap", &["commands"]));
    let by_index: BTreeMap<u64, &parse::Block> =
        cmds.iter().map(|b| (b.num("commandIndex"), b)).collect();
    assert_eq!(by_index.len(), cmds.len(), "command listed twice");
    for b in &cmds {
        assert_eq!(b.num("value") & 0xFFFF, b.num("commandIndex"), "{b:?}");
    }
    // (code, cHandles, rHandle) from Part 3's command tables.
    let expected: &[(u64, u64, u64)] = &[
        (0x144, 0, 0), // Startup
        (0x145, 0, 0), // Shutdown
        (0x143, 0, 0), // SelfTest
        (0x142, 0, 0), // IncrementalSelfTest
        (0x17C, 0, 0), // GetTestResult
        (0x17A, 0, 0), // GetCapability
        (0x18A, 0, 0), // TestParms
        (0x17B, 0, 0), // GetRandom
        (0x146, 0, 0), // StirRandom
        (0x17E, 0, 0), // PCR_Read
        (0x182, 1, 0), // PCR_Extend
        (0x13C, 1, 0), // PCR_Event
        (0x13D, 1, 0), // PCR_Reset
        (0x12B, 1, 0), // PCR_Allocate
        (0x17D, 0, 0), // Hash
        (0x186, 0, 1), // HashSequenceStart
        (0x15C, 1, 0), // SequenceUpdate
        (0x13E, 1, 0), // SequenceComplete
        (0x185, 2, 0), // EventSequenceComplete
        (0x181, 0, 0), // ReadClock
        (0x128, 1, 0), // ClockSet
        (0x130, 1, 0), // ClockRateAdjust
    ];
    for &(code, c_handles, r_handle) in expected {
        let b = by_index
            .get(&code)
            .unwrap_or_else(|| panic!("command {code:#x} missing from getcap commands"));
        assert_eq!(b.num("cHandles"), c_handles, "{b:?}");
        assert_eq!(b.num("rHandle"), r_handle, "{b:?}");
    }
    let extend = parse::block(&cmds, "TPM2_CC_PCR_Extend");
    assert_eq!(extend.num("commandIndex"), 0x182);
    // PCR_Allocate writes NV (TPMA_CC.nv, Part 3 §22.5).
    assert_eq!(parse::block(&cmds, "TPM2_CC_PCR_Allocate").num("nv"), 1);

    // pcrs: the default allocation is sha256, all 24 PCRs.
    assert_active_banks(&getcap_pcrs(&s), &["sha256"]);

    // properties-fixed.
    let fixed = parse::blocks(&s.ok("tpm2_getcap", &["properties-fixed"]));
    assert_eq!(
        parse::block(&fixed, "TPM2_PT_FAMILY_INDICATOR").field("value"),
        Some("\"2.0\"")
    );
    assert_eq!(parse::block(&fixed, "TPM2_PT_PCR_COUNT").num("raw"), 24);
    assert_eq!(parse::block(&fixed, "TPM2_PT_PCR_SELECT_MIN").num("raw"), 3);
    assert_eq!(
        parse::block(&fixed, "TPM2_PT_MAX_COMMAND_SIZE").num("raw"),
        tpm::engine::MAX_COMMAND_SIZE as u64
    );
    assert!(parse::block(&fixed, "TPM2_PT_MAX_RESPONSE_SIZE").num("raw") >= 1024);
    // SHA-512 is the largest hash: 64 bytes.
    assert_eq!(parse::block(&fixed, "TPM2_PT_MAX_DIGEST").num("raw"), 64);
    // MAX_DIGEST_BUFFER: tpm2-tools switches to sequences above it.
    assert!(parse::block(&fixed, "TPM2_PT_INPUT_BUFFER").num("raw") >= 1024);
    parse::block(&fixed, "TPM2_PT_MANUFACTURER");
    parse::block(&fixed, "TPM2_PT_REVISION");

    // properties-variable: hierarchies enabled, no authorizations set.
    let var = parse::blocks(&s.ok("tpm2_getcap", &["properties-variable"]));
    let sc = parse::block(&var, "TPM2_PT_STARTUP_CLEAR");
    for f in ["phEnable", "shEnable", "ehEnable"] {
        assert_eq!(sc.num(f), 1, "{f}: {sc:?}");
    }
    let perm = parse::block(&var, "TPM2_PT_PERMANENT");
    for f in ["ownerAuthSet", "endorsementAuthSet", "lockoutAuthSet"] {
        assert_eq!(perm.num(f), 0, "{f}: {perm:?}");
    }

    // ecc-curves: P-256 (TestParms ecc256 succeeds, see `testparms`).
    let curves = parse::blocks(&s.ok("tpm2_getcap", &["ecc-curves"]));
    assert_eq!(
        parse::num(
            parse::block(&curves, "TPM2_ECC_NIST_P256")
                .inline
                .as_deref()
                .unwrap_or("")
        ),
        3
    );

    // Handles: no objects, persistent objects, NV indices or sessions yet.
    for g in [
        "handles-transient",
        "handles-persistent",
        "handles-nv-index",
        "handles-loaded-session",
        "handles-saved-session",
    ] {
        let h = parse::handles(&s.ok("tpm2_getcap", &[g]));
        assert!(h.is_empty(), "{g}: {h:x?}");
    }
    let perm_handles = parse::handles(&s.ok("tpm2_getcap", &["handles-permanent"]));
    for want in [
        0x4000_0001u32, // TPM_RH_OWNER
        0x4000_0007,    // TPM_RH_NULL
        0x4000_0009,    // TPM_RS_PW
        0x4000_000A,    // TPM_RH_LOCKOUT
        0x4000_000B,    // TPM_RH_ENDORSEMENT
        0x4000_000C,    // TPM_RH_PLATFORM
        0x4000_000D,    // TPM_RH_PLATFORM_NV
    ] {
        assert!(
            perm_handles.contains(&want),
            "{want:#x} in {perm_handles:x?}"
        );
    }
    assert!(
        perm_handles.iter().all(|h| h >> 24 == 0x40),
        "{perm_handles:x?}"
    );
    assert!(perm_handles.windows(2).all(|w| w[0] < w[1]));
    let pcr_handles = parse::handles(&s.ok("tpm2_getcap", &["handles-pcr"]));
    assert_eq!(pcr_handles, (0..24).collect::<Vec<u32>>());
}

/// After Startup(CLEAR): every PCR at its PC Client initial value.
fn pcrread_initial_values(p: Protocol) {
    let s = started(p);
    let all = pcrread(&s, "sha256");
    assert_eq!(all.len(), 1, "{all:?}");
    let bank = &all["sha256"];
    assert_eq!(bank.keys().copied().collect::<Vec<_>>(), all_pcrs());
    for (&i, v) in bank {
        assert_eq!(v, &initial_pcr("sha256", i), "PCR {i}");
    }
    let some = pcrread(&s, "sha256:0,16,23");
    assert_eq!(
        some["sha256"].keys().copied().collect::<Vec<_>>(),
        vec![0, 16, 23]
    );
}

/// PCR_Extend (Part 3 §22.2): new = H(old || digest), per bank; a digest
/// for a bank that is not allocated is ignored.
fn pcrextend_values(p: Protocol) {
    let s = started(p);
    let d1 = h("sha256", b"first");
    let d2 = h("sha256", b"second");
    s.ok(
        "tpm2_pcrextend",
        &[&format!("16:sha256={}", hex::encode(&d1))],
    );
    let v1 = extend("sha256", &[0; 32], &d1);
    assert_eq!(pcr(&s, "sha256", 16), v1);
    s.ok(
        "tpm2_pcrextend",
        &[&format!("16:sha256={}", hex::encode(&d2))],
    );
    let v2 = extend("sha256", &v1, &d2);
    assert_eq!(pcr(&s, "sha256", 16), v2);

    // Two PCRs in one invocation, and PCR 0 (extendable at locality 0).
    s.ok(
        "tpm2_pcrextend",
        &[
            &format!("0:sha256={}", hex::encode(&d1)),
            &format!("23:sha256={}", hex::encode(&d2)),
        ],
    );
    let m = pcrread(&s, "sha256:0,16,23");
    assert_eq!(m["sha256"][&0], extend("sha256", &[0; 32], &d1));
    assert_eq!(m["sha256"][&16], v2);
    assert_eq!(m["sha256"][&23], extend("sha256", &[0; 32], &d2));

    // sha1 is not allocated on this TPM: its digest is skipped.
    let d3 = h("sha256", b"third");
    let d3_sha1 = h("sha1", b"third");
    s.ok(
        "tpm2_pcrextend",
        &[&format!(
            "16:sha1={},sha256={}",
            hex::encode(&d3_sha1),
            hex::encode(&d3)
        )],
    );
    assert_eq!(pcr(&s, "sha256", 16), extend("sha256", &v2, &d3));
    // Untouched PCRs keep their initial values.
    let all = pcrread(&s, "sha256");
    for i in (1..16).chain(17..23) {
        assert_eq!(all["sha256"][&i], initial_pcr("sha256", i), "PCR {i}");
    }
}

/// One PCR_Extend carrying all five digests on a TPM with all five banks.
fn pcrextend_all_five_banks(p: Protocol) {
    let s = started_with_banks(p, "sha1,sha256,sha384,sha512,sm3_256");
    assert_active_banks(&getcap_pcrs(&s), &ALGS);
    let data = b"all banks";
    let arg = ALGS
        .iter()
        .map(|a| format!("{a}={}", hex::encode(h(a, data))))
        .collect::<Vec<_>>()
        .join(",");
    s.ok("tpm2_pcrextend", &[&format!("16:{arg}")]);
    s.ok("tpm2_pcrextend", &[&format!("16:{arg}")]);
    let sel = ALGS
        .iter()
        .map(|a| format!("{a}:16,17"))
        .collect::<Vec<_>>()
        .join("+");
    let m = pcrread(&s, &sel);
    for a in ALGS {
        let once = extend(a, &initial_pcr(a, 16), &h(a, data));
        let twice = extend(a, &once, &h(a, data));
        assert_eq!(m[a][&16], twice, "bank {a}");
        assert_eq!(m[a][&17], initial_pcr(a, 17), "bank {a}");
    }
}

/// PCR_Event (Part 3 §22.3) for small data and, above 1024 bytes, the
/// event sequence (HashSequenceStart(TPM_ALG_NULL), SequenceUpdate,
/// EventSequenceComplete, Part 3 §17.5): the digests printed are the
/// data's hashes, and the PCR is extended with them.
fn pcrevent_small_and_sequence(p: Protocol) {
    let s = started(p);
    let check_digests = |out: &str, data: &[u8]| {
        let d = parse::alg_digests(out);
        assert!(d.contains_key("sha256"), "no sha256 digest in\n{out}");
        for (alg, got) in &d {
            assert!(ALGS.contains(&alg.as_str()), "unexpected alg {alg}");
            assert_eq!(got, &h(alg, data), "{alg} digest of {} bytes", data.len());
        }
    };

    let small = b"trustcloud measured this".to_vec();
    let f_small = s.write_file("small.bin", &small);
    let out = s.ok("tpm2_pcrevent", &["16", &f_small]);
    check_digests(&out, &small);
    let v1 = extend("sha256", &[0; 32], &h("sha256", &small));
    assert_eq!(pcr(&s, "sha256", 16), v1);

    let large = pattern(3000, 7);
    let f_large = s.write_file("large.bin", &large);
    let out = s.ok("tpm2_pcrevent", &["16", &f_large]);
    check_digests(&out, &large);
    let v2 = extend("sha256", &v1, &h("sha256", &large));
    assert_eq!(pcr(&s, "sha256", 16), v2);

    // Exactly 1024 bytes still fits one PCR_Event.
    let edge = pattern(1024, 9);
    let f_edge = s.write_file("edge.bin", &edge);
    let out = s.ok("tpm2_pcrevent", &["23", &f_edge]);
    check_digests(&out, &edge);
    assert_eq!(
        pcr(&s, "sha256", 23),
        extend("sha256", &[0; 32], &h("sha256", &edge))
    );

    // Without a PCR (TPM_RH_NULL): digests only, no PCR changes.
    let out = s.ok("tpm2_pcrevent", &[&f_small]);
    check_digests(&out, &small);
    let out = s.ok("tpm2_pcrevent", &[&f_large]);
    check_digests(&out, &large);
    assert_eq!(pcr(&s, "sha256", 16), v2);
}

/// PCR_Reset (Part 3 §22.4) with the PC Client reset localities: PCR 16
/// and 23 are resettable from locality 0; PCR 0 and the D-RTM PCRs are not
/// (TPM_RC_LOCALITY), and stay as they were.
fn pcrreset_by_locality(p: Protocol) {
    let s = started(p);
    let d = hex::encode(h("sha256", b"x"));
    for i in [0, 16, 23] {
        s.ok("tpm2_pcrextend", &[&format!("{i}:sha256={d}")]);
    }
    let extended = extend("sha256", &[0; 32], &h("sha256", b"x"));
    assert_eq!(pcr(&s, "sha256", 16), extended);

    s.ok("tpm2_pcrreset", &["16"]);
    assert_eq!(pcr(&s, "sha256", 16), vec![0; 32]);
    assert_eq!(pcr(&s, "sha256", 23), extended);
    s.ok("tpm2_pcrreset", &["23"]);
    assert_eq!(pcr(&s, "sha256", 23), vec![0; 32]);

    let out = s.fails("tpm2_pcrreset", &["0"]);
    assert_rc(&out, RC_LOCALITY);
    assert_eq!(pcr(&s, "sha256", 0), extended);
    let out = s.fails("tpm2_pcrreset", &["17"]);
    assert_rc(&out, RC_LOCALITY);
    assert_eq!(pcr(&s, "sha256", 17), vec![0xFF; 32]);

    // A reset PCR extends from zero again.
    s.ok("tpm2_pcrextend", &[&format!("16:sha256={d}")]);
    assert_eq!(pcr(&s, "sha256", 16), extended);
}

/// PCR_Allocate (Part 3 §22.5) takes effect at the next TPM Reset: until
/// then the old banks serve and Shutdown(STATE) is refused (TPM_RC_TYPE);
/// after a power cycle and Startup(CLEAR) the new banks are active.
fn pcrallocate_takes_effect_after_power_cycle(p: Protocol) {
    let mut s = started(p);
    let out = s.ok("tpm2_pcrallocate", &["sha1:all+sha256:all+sm3_256:all"]);
    let requested = parse::pcr_selection(&out);
    assert_eq!(requested.get("sm3_256"), Some(&all_pcrs()), "{out}");

    // Not yet in effect.
    assert_active_banks(&getcap_pcrs(&s), &["sha256"]);
    let d = hex::encode(h("sha256", b"before"));
    s.ok("tpm2_pcrextend", &[&format!("16:sha256={d}")]);
    let out = s.fails("tpm2_shutdown", &[]);
    assert_rc(&out, RC_TYPE_P1);

    s.power_cycle();
    s.ok("tpm2_startup", &["-c"]);
    assert_active_banks(&getcap_pcrs(&s), &["sha1", "sha256", "sm3_256"]);
    let m = pcrread(&s, "sha1:0,16,17+sha256:0,16,17+sm3_256:0,16,17");
    for a in ["sha1", "sha256", "sm3_256"] {
        for i in [0, 16, 17] {
            assert_eq!(m[a][&i], initial_pcr(a, i), "{a} PCR {i}");
        }
    }

    // The new banks are extended like any other.
    let data = b"after allocate";
    let arg = ["sha1", "sha256", "sm3_256"]
        .iter()
        .map(|a| format!("{a}={}", hex::encode(h(a, data))))
        .collect::<Vec<_>>()
        .join(",");
    s.ok("tpm2_pcrextend", &[&format!("16:{arg}")]);
    let m = pcrread(&s, "sha1:16+sha256:16+sm3_256:16");
    for a in ["sha1", "sha256", "sm3_256"] {
        assert_eq!(
            m[a][&16],
            extend(a, &initial_pcr(a, 16), &h(a, data)),
            "{a}"
        );
    }

    // The allocation is permanent: it survives another power cycle.
    s.power_cycle();
    s.ok("tpm2_startup", &["-c"]);
    assert_active_banks(&getcap_pcrs(&s), &["sha1", "sha256", "sm3_256"]);
}

fn getrandom_values(p: Protocol) {
    let s = started(p);
    for n in [1usize, 16, 32, 64] {
        let out = s.ok("tpm2_getrandom", &["--hex", &n.to_string()]);
        assert_eq!(out.trim().len(), 2 * n, "{out}");
        assert_eq!(parse::hex(&out).len(), n);
    }
    let raw = s.tools().ok_bytes("tpm2_getrandom", &["8"], None);
    assert_eq!(raw.len(), 8);
    let path = s.path("r.bin");
    s.ok("tpm2_getrandom", &["-o", &path.to_string_lossy(), "32"]);
    let file = std::fs::read(&path).expect("read random file");
    assert_eq!(file.len(), 32);

    let a = parse::hex(&s.ok("tpm2_getrandom", &["--hex", "32"]));
    let b = parse::hex(&s.ok("tpm2_getrandom", &["--hex", "32"]));
    assert_ne!(a, b, "two GetRandom calls returned the same 32 bytes");
    assert_ne!(a, file);
    assert_ne!(a, vec![0; 32]);
}

/// StirRandom (Part 3 §16.2): inData is a TPM2B_SENSITIVE_DATA (at most
/// 128 bytes); more is TPM_RC_SIZE on parameter 1.
fn stirrandom(p: Protocol) {
    let s = started(p);
    let f = s.write_file("stir.bin", &pattern(64, 3));
    s.ok("tpm2_stirrandom", &[&f]);
    let out = s
        .tools()
        .run_stdin("tpm2_stirrandom", &[], Some(&pattern(128, 4)));
    assert!(out.success(), "{out:?}");
    // tpm2_stirrandom checks a file's size itself but passes stdin
    // through, so the TPM sees the 129 bytes.
    let out = s
        .tools()
        .run_stdin("tpm2_stirrandom", &[], Some(&pattern(129, 5)));
    assert!(!out.success(), "129 bytes accepted: {out:?}");
    assert_rc(&out, RC_SIZE_P1);
    let a = parse::hex(&s.ok("tpm2_getrandom", &["--hex", "16"]));
    let b = parse::hex(&s.ok("tpm2_getrandom", &["--hex", "16"]));
    assert_eq!(a.len(), 16);
    assert_ne!(a, b);
}

/// TPM2_Hash and (above 1024 bytes) the hash sequence give the same digests
/// as RustCrypto, for all five algorithms.
fn hash_all_algorithms(p: Protocol) {
    let s = started(p);
    for (name, data) in [
        ("empty", Vec::new()),
        ("small", b"abc".to_vec()),
        ("max", pattern(1024, 1)),
        ("seq", pattern(2500, 2)),
    ] {
        let f = s.write_file(&format!("{name}.bin"), &data);
        for a in ALGS {
            let out = s.ok("tpm2_hash", &["-g", a, "--hex", &f]);
            assert_eq!(
                parse::hex(&out),
                h(a, &data),
                "{a} of {name} ({} bytes)",
                data.len()
            );
        }
    }
    // SM3 cross-checked with openssl, small and sequence paths, binary -o.
    for (name, data) in [
        ("sm3-small", b"abc".to_vec()),
        ("sm3-seq", pattern(3000, 8)),
    ] {
        let f = s.write_file(&format!("{name}.bin"), &data);
        let o = s.path(&format!("{name}.digest"));
        s.ok(
            "tpm2_hash",
            &["-g", "sm3_256", "-o", &o.to_string_lossy(), &f],
        );
        let got = std::fs::read(&o).expect("read digest");
        assert_eq!(got, openssl_digest("sm3_256", &data), "{name}");
    }
    // Known answer: GB/T 32905-2016 example 1, SM3("abc").
    let f = s.write_file("abc.bin", b"abc");
    assert_eq!(
        s.ok("tpm2_hash", &["-g", "sm3_256", "--hex", &f]).trim(),
        "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    );
}

/// Hash tickets (Part 3 §15.4 and §17.6): a TPMT_TK_HASHCHECK for the
/// owner hierarchy is non-null and deterministic; TPM_RH_NULL gives the
/// null ticket; data starting with TPM_GENERATED_VALUE gets the null
/// ticket even for a real hierarchy (it must not be signable as external).
fn hash_tickets(p: Protocol) {
    let s = started(p);
    const TAG_HASHCHECK: u16 = 0x8024;
    const OWNER: u32 = 0x4000_0001;
    const NULL: u32 = 0x4000_0007;
    let ticket = |data: &[u8], hier: &str, name: &str| {
        let f = s.write_file(&format!("{name}.bin"), data);
        let t = s.path(&format!("{name}.ticket"));
        let out = s.ok(
            "tpm2_hash",
            &[
                "-g",
                "sha256",
                "-C",
                hier,
                "-t",
                &t.to_string_lossy(),
                "--hex",
                &f,
            ],
        );
        assert_eq!(parse::hex(&out), h("sha256", data), "{name}");
        parse::hashcheck_ticket(&std::fs::read(&t).expect("read ticket"))
    };

    for (kind, a, b) in [
        ("hash", b"ticket data".to_vec(), b"other data".to_vec()),
        ("seq", pattern(2000, 11), pattern(2000, 12)),
    ] {
        let (tag, hier, d1) = ticket(&a, "o", &format!("{kind}-o1"));
        assert_eq!((tag, hier), (TAG_HASHCHECK, OWNER), "{kind}");
        assert!(!d1.is_empty(), "{kind}: owner ticket has an empty HMAC");
        let (_, _, d1_again) = ticket(&a, "o", &format!("{kind}-o2"));
        assert_eq!(d1, d1_again, "{kind}: same data, same ticket");
        let (_, _, d2) = ticket(&b, "o", &format!("{kind}-o3"));
        assert_ne!(d1, d2, "{kind}: other data, other ticket");

        let (tag, hier, d) = ticket(&a, "n", &format!("{kind}-n"));
        assert_eq!((tag, hier, d), (TAG_HASHCHECK, NULL, vec![]), "{kind}");

        let mut generated = vec![0xFF, b'T', b'C', b'G'];
        generated.extend_from_slice(&a);
        let (tag, hier, d) = ticket(&generated, "o", &format!("{kind}-gen"));
        assert_eq!(
            (tag, hier, d),
            (TAG_HASHCHECK, NULL, vec![]),
            "{kind}: TPM_GENERATED_VALUE prefix must give the null ticket"
        );
    }
}

fn selftest_and_results(p: Protocol) {
    let s = started(p);
    s.ok("tpm2_selftest", &["-f"]);
    let out = s.ok("tpm2_gettestresult", &[]);
    let b = parse::blocks(&out);
    assert_eq!(
        parse::block(&b, "status").inline.as_deref(),
        Some("success"),
        "{out}"
    );
    // Everything was tested by the full self-test: nothing left to do.
    let out = s.ok(
        "tpm2_incrementalselftest",
        &["sha256", "sm3_256", "aes", "rsa", "ecc"],
    );
    let b = parse::blocks(&out);
    assert_eq!(
        parse::block(&b, "status").inline.as_deref(),
        Some("complete"),
        "{out}"
    );
    let out = s.ok("tpm2_incrementalselftest", &[]);
    assert_eq!(
        parse::block(&parse::blocks(&out), "status")
            .inline
            .as_deref(),
        Some("complete"),
        "{out}"
    );
    s.ok("tpm2_selftest", &[]);
    let out = s.ok("tpm2_gettestresult", &[]);
    assert_eq!(
        parse::block(&parse::blocks(&out), "status")
            .inline
            .as_deref(),
        Some("success"),
        "{out}"
    );
}

/// ReadClock (Part 3 §29.1) and the reset/restart counters across power
/// cycles (Part 1 §36, "TPM Reset / Restart / Resume").
fn readclock_and_power_cycles(p: Protocol) {
    let mut s = started(p);
    let (t1, c1, reset1, restart1, safe1) = readclock(&s);
    assert_eq!(restart1, 0);
    assert!(safe1, "a fresh TPM's clock is safe");
    thread::sleep(Duration::from_millis(150));
    let (t2, c2, reset2, restart2, _) = readclock(&s);
    assert!(c2 >= c1 + 100, "clock {c1} -> {c2} after 150 ms");
    assert!(c2 < c1 + 60_000, "clock {c1} -> {c2} after 150 ms");
    assert!(t2 >= t1 + 100, "time {t1} -> {t2} after 150 ms");
    assert_eq!((reset2, restart2), (reset1, restart1));

    // Orderly Shutdown(CLEAR) + Startup(CLEAR): TPM Reset.
    s.ok("tpm2_shutdown", &["-c"]);
    s.power_cycle();
    s.ok("tpm2_startup", &["-c"]);
    let (_, c3, reset3, restart3, safe3) = readclock(&s);
    assert_eq!((reset3, restart3), (reset1 + 1, 0));
    assert!(safe3, "orderly shutdown keeps the clock safe");
    assert!(
        c3 >= c2,
        "clock went back across an orderly cycle: {c2} -> {c3}"
    );

    // Shutdown(STATE) + Startup(STATE): TPM Resume.
    s.ok("tpm2_shutdown", &[]);
    s.power_cycle();
    s.ok("tpm2_startup", &[]);
    let (_, c4, reset4, restart4, safe4) = readclock(&s);
    assert_eq!((reset4, restart4), (reset3, restart3 + 1));
    assert!(safe4);
    assert!(c4 >= c3, "{c3} -> {c4}");

    // Shutdown(STATE) + Startup(CLEAR): TPM Restart.
    s.ok("tpm2_shutdown", &[]);
    s.power_cycle();
    s.ok("tpm2_startup", &["-c"]);
    let (_, c5, reset5, restart5, _) = readclock(&s);
    assert_eq!((reset5, restart5), (reset4, restart4 + 1));
    assert!(c5 >= c4, "{c4} -> {c5}");

    // Power lost without Shutdown: Startup(STATE) is refused, then
    // Startup(CLEAR) is a TPM Reset.
    s.power_cycle();
    let out = s.fails("tpm2_startup", &[]);
    assert_rc(&out, RC_VALUE_P1);
    s.ok("tpm2_startup", &["-c"]);
    let (t6, c6, reset6, restart6, safe6) = readclock(&s);
    assert_eq!((reset6, restart6), (reset5 + 1, 0));
    if safe6 {
        // TPMS_CLOCK_INFO.safe (Part 2 §10.11.1): YES promises that no
        // greater Clock value was ever reported.
        assert!(c6 >= c5, "safe clock went back: {c5} -> {c6}");
    }
    // time counts from the last _TPM_Init, Clock does not.
    assert!(t6 < c6, "time {t6} clock {c6}");
}

/// TestParms (Part 3 §10.3): supported parameter sets succeed; one the
/// TPM does not list in its algorithms (Camellia) is refused by the TPM
/// with a parameter-1 error: tpm2_testparms exits with tool_rc_unsupported
/// (5) only for those, and names TPM_RC_SYMMETRIC.
fn testparms(p: Protocol) {
    let s = started(p);
    for ok in [
        "rsa2048",
        "ecc256",
        "aes128cfb",
        "rsa2048:rsassa",
        "ecc256:ecdsa",
    ] {
        let out = s.run("tpm2_testparms", &[ok]);
        assert!(out.success(), "{ok} should be supported: {out:?}");
    }
    let algs = parse::blocks(&s.ok("tpm2_getcap", &["algorithms"]));
    assert!(
        algs.iter().all(|b| b.key != "camellia"),
        "camellia is listed as implemented"
    );
    let out = s.fails("tpm2_testparms", &["camellia128cfb"]);
    assert_eq!(out.status.code(), Some(5), "{out:?}");
    assert!(
        out.stderr
            .contains("Specified symmetric algorithm or key length is unsupported"),
        "{out:?}"
    );
}

/// Shutdown(STATE) + Startup(STATE) resumes PCRs 0-15 (PC Client: only
/// these have stateSave) and resets 16-23; Shutdown(STATE) +
/// Startup(CLEAR) and Shutdown(CLEAR) + Startup(CLEAR) reset them all;
/// Startup(STATE) without saved state is TPM_RC_VALUE.
fn shutdown_state_preserves_pcrs(p: Protocol) {
    let mut s = started(p);
    let d = h("sha256", b"boot measurement");
    let dh = hex::encode(&d);
    let measured = [0u32, 7, 15, 16, 23];
    for i in measured {
        s.ok("tpm2_pcrextend", &[&format!("{i}:sha256={dh}")]);
    }
    let v = extend("sha256", &[0; 32], &d);

    // Resume.
    s.ok("tpm2_shutdown", &[]);
    s.power_cycle();
    s.ok("tpm2_startup", &[]);
    let m = &pcrread(&s, "sha256")["sha256"];
    for i in 0..24u32 {
        let want = if [0, 7, 15].contains(&i) {
            v.clone()
        } else {
            initial_pcr("sha256", i)
        };
        assert_eq!(m[&i], want, "PCR {i} after Shutdown(STATE)+Startup(STATE)");
    }

    // A second resume in a row keeps them too.
    s.ok("tpm2_shutdown", &[]);
    s.power_cycle();
    s.ok("tpm2_startup", &[]);
    assert_eq!(pcr(&s, "sha256", 7), v);

    // Restart: Shutdown(STATE) + Startup(CLEAR) resets every PCR.
    s.ok("tpm2_shutdown", &[]);
    s.power_cycle();
    s.ok("tpm2_startup", &["-c"]);
    let m = &pcrread(&s, "sha256")["sha256"];
    for i in 0..24u32 {
        assert_eq!(m[&i], initial_pcr("sha256", i), "PCR {i} after restart");
    }

    // Shutdown(CLEAR) saves nothing: Startup(STATE) is refused.
    s.ok("tpm2_pcrextend", &[&format!("0:sha256={dh}")]);
    s.ok("tpm2_shutdown", &["-c"]);
    s.power_cycle();
    let out = s.fails("tpm2_startup", &[]);
    assert_rc(&out, RC_VALUE_P1);
    s.ok("tpm2_startup", &["-c"]);
    assert_eq!(pcr(&s, "sha256", 0), vec![0; 32]);

    // Saved state is used once: Resume, then a power loss, then
    // Startup(STATE) is refused again.
    s.ok("tpm2_pcrextend", &[&format!("0:sha256={dh}")]);
    s.ok("tpm2_shutdown", &[]);
    s.power_cycle();
    s.ok("tpm2_startup", &[]);
    assert_eq!(pcr(&s, "sha256", 0), v);
    s.power_cycle();
    let out = s.fails("tpm2_startup", &[]);
    assert_rc(&out, RC_VALUE_P1);
}

/// SM3-256 as a first-class PCR bank (`--pcr-banks sha256,sm3_256`), with
/// the expected values computed by `openssl dgst -sm3`.
fn sm3_first_class_bank(p: Protocol) {
    let s = started_with_banks(p, "sha256,sm3_256");
    assert_active_banks(&getcap_pcrs(&s), &["sha256", "sm3_256"]);
    let sm3 = |data: &[u8]| openssl_digest("sm3_256", data);
    let cat = |a: &[u8], b: &[u8]| [a, b].concat();

    let init = pcrread(&s, "sm3_256");
    for (&i, v) in &init["sm3_256"] {
        assert_eq!(v, &initial_pcr("sm3_256", i), "sm3_256 PCR {i}");
    }

    // Extend both banks in one command.
    let data = b"measured with SM3";
    let d_sm3 = sm3(data);
    let d_sha = h("sha256", data);
    s.ok(
        "tpm2_pcrextend",
        &[&format!(
            "16:sm3_256={},sha256={}",
            hex::encode(&d_sm3),
            hex::encode(&d_sha)
        )],
    );
    let v16 = sm3(&cat(&[0; 32], &d_sm3));
    let m = pcrread(&s, "sha256:16+sm3_256:16");
    assert_eq!(m["sm3_256"][&16], v16);
    assert_eq!(m["sha256"][&16], extend("sha256", &[0; 32], &d_sha));

    // Chained: the old SM3 value feeds the next extend.
    let d2 = sm3(b"second");
    s.ok(
        "tpm2_pcrextend",
        &[&format!("16:sm3_256={}", hex::encode(&d2))],
    );
    assert_eq!(pcr(&s, "sm3_256", 16), sm3(&cat(&v16, &d2)));

    // Reset clears the SM3 bank too.
    s.ok("tpm2_pcrreset", &["16"]);
    assert_eq!(pcr(&s, "sm3_256", 16), vec![0; 32]);
}

/// PCR_Event and the event sequence on an SM3 bank: the TPM hashes the
/// data with SM3 itself; checked against `openssl dgst -sm3`.
fn sm3_pcrevent(p: Protocol) {
    let s = started_with_banks(p, "sha256,sm3_256");
    let sm3 = |data: &[u8]| openssl_digest("sm3_256", data);
    let cat = |a: &[u8], b: &[u8]| [a, b].concat();

    let ev = b"an SM3 event".to_vec();
    let f = s.write_file("ev.bin", &ev);
    let out = s.ok("tpm2_pcrevent", &["23", &f]);
    let d = parse::alg_digests(&out);
    assert_eq!(d.get("sm3_256"), Some(&sm3(&ev)), "{out}");
    assert_eq!(d.get("sha256"), Some(&h("sha256", &ev)), "{out}");
    assert_eq!(pcr(&s, "sm3_256", 23), sm3(&cat(&[0; 32], &sm3(&ev))));

    // And the event sequence, above 1024 bytes, onto PCR 16.
    let big = pattern(4000, 13);
    let f = s.write_file("big.bin", &big);
    let out = s.ok("tpm2_pcrevent", &["16", &f]);
    let d = parse::alg_digests(&out);
    assert_eq!(d.get("sm3_256"), Some(&sm3(&big)), "{out}");
    assert_eq!(d.get("sha256"), Some(&h("sha256", &big)), "{out}");
    assert_eq!(pcr(&s, "sm3_256", 16), sm3(&cat(&[0; 32], &sm3(&big))));
    assert_eq!(
        pcr(&s, "sha256", 16),
        extend("sha256", &[0; 32], &h("sha256", &big))
    );
}
