//! TPM2_GetRandom, TPM2_StirRandom (Part 3 §16) and the self-test
//! commands (Part 3 §10) driven through `Tpm::execute` after a real
//! TPM2_Startup(CLEAR). Response codes are the ones swtpm 0.7.1 (libtpms
//! 0.9.2) gives for the same bytes.

use tpm::crypto::{Drbg, HashAlg};
use tpm::engine::SystemTime;
use tpm::types::{Digest2b, MaxBuffer};
use tpm::wire::{Codec, Reader};
use tpm::{EngineConfig, Tpm};

const CC_STARTUP: u32 = 0x144;
const CC_GET_RANDOM: u32 = 0x17B;
const CC_STIR_RANDOM: u32 = 0x146;
const CC_SELF_TEST: u32 = 0x143;
const CC_INCREMENTAL: u32 = 0x142;
const CC_GET_TEST_RESULT: u32 = 0x17C;
const CC_HASH: u32 = 0x17D;

const CC_GET_CAPABILITY: u32 = 0x17A;

const SHA1: u16 = 0x0004;
const HMAC: u16 = 0x0005;
const SHA256: u16 = 0x000B;
const SHA384: u16 = 0x000C;
const SHA512: u16 = 0x000D;
const ALG_NULL: u16 = 0x0010;
const SM3: u16 = 0x0012;

/// Runs a TPM_ST_NO_SESSIONS command; returns rc and the parameter area.
fn run(tpm: &mut Tpm, code: u32, params: &[u8]) -> (u32, Vec<u8>) {
    let mut c = Vec::new();
    c.extend_from_slice(&0x8001u16.to_be_bytes());
    c.extend_from_slice(&(10 + params.len() as u32).to_be_bytes());
    c.extend_from_slice(&code.to_be_bytes());
    c.extend_from_slice(params);
    let r = tpm.execute(0, &c);
    let size = u32::from_be_bytes(r[2..6].try_into().unwrap()) as usize;
    assert_eq!(size, r.len());
    let rc = u32::from_be_bytes(r[6..10].try_into().unwrap());
    if rc != 0 {
        assert_eq!(r.len(), 10);
    }
    (rc, r[10..].to_vec())
}

fn started(seed: u8) -> Tpm {
    let mut tpm = Tpm::manufacture(
        &EngineConfig {
            pcr_banks: vec![HashAlg::Sha256],
        },
        Drbg::new([seed; 32]),
        Box::<SystemTime>::default(),
    );
    let (rc, _) = run(&mut tpm, CC_STARTUP, &0u16.to_be_bytes());
    assert_eq!(rc, 0, "TPM2_Startup(CLEAR)");
    tpm
}

fn get_random(tpm: &mut Tpm, n: u16) -> Vec<u8> {
    let (rc, p) = run(tpm, CC_GET_RANDOM, &n.to_be_bytes());
    assert_eq!(rc, 0);
    let mut r = Reader::new(&p);
    let d = Digest2b::decode(&mut r).unwrap();
    assert!(r.is_empty());
    d.0
}

fn b2(data: &[u8]) -> Vec<u8> {
    let mut v = (data.len() as u16).to_be_bytes().to_vec();
    v.extend_from_slice(data);
    v
}

fn alg_list(algs: &[u16]) -> Vec<u8> {
    let mut v = (algs.len() as u32).to_be_bytes().to_vec();
    for a in algs {
        v.extend_from_slice(&a.to_be_bytes());
    }
    v
}

/// IncrementalSelfTest(toTest): rc and the toDoList.
fn incremental(tpm: &mut Tpm, algs: &[u16]) -> (u32, Vec<u16>) {
    incremental_raw(tpm, &alg_list(algs))
}

fn incremental_raw(tpm: &mut Tpm, params: &[u8]) -> (u32, Vec<u16>) {
    let (rc, p) = run(tpm, CC_INCREMENTAL, params);
    if rc != 0 {
        return (rc, Vec::new());
    }
    let mut r = Reader::new(&p);
    let n = r.u32().unwrap() as usize;
    let list = (0..n).map(|_| r.u16().unwrap()).collect();
    assert!(r.is_empty());
    (rc, list)
}

/// Every algorithm TPM2_GetCapability(TPM_CAP_ALGS) reports, ascending.
fn implemented(tpm: &mut Tpm) -> Vec<u16> {
    let mut algs = Vec::new();
    let mut next = 0u32;
    loop {
        let mut p = 0u32.to_be_bytes().to_vec();
        p.extend_from_slice(&next.to_be_bytes());
        p.extend_from_slice(&64u32.to_be_bytes());
        let (rc, r) = run(tpm, CC_GET_CAPABILITY, &p);
        assert_eq!(rc, 0);
        let mut rd = Reader::new(&r);
        let more = rd.u8().unwrap();
        assert_eq!(rd.u32().unwrap(), 0, "TPM_CAP_ALGS");
        let n = rd.u32().unwrap();
        for _ in 0..n {
            algs.push(rd.u16().unwrap());
            rd.u32().unwrap();
        }
        assert!(rd.is_empty());
        match (more, algs.last()) {
            (1, Some(&last)) => next = u32::from(last) + 1,
            _ => break,
        }
    }
    algs
}

/// The algorithms subject to self-test: every implemented one except
/// TPM_ALG_NULL (which libtpms refuses in IncrementalSelfTest as well).
fn testable(tpm: &mut Tpm) -> Vec<u16> {
    let all = implemented(tpm);
    // The hashes and HMAC have known-answer tests; they must be listed.
    for a in [SHA1, HMAC, SHA256, SHA384, SHA512, SM3] {
        assert!(all.contains(&a), "{a:#x} implemented");
    }
    all.into_iter().filter(|&a| a != ALG_NULL).collect()
}

fn without(list: &[u16], gone: &[u16]) -> Vec<u16> {
    list.iter().copied().filter(|a| !gone.contains(a)).collect()
}

// ---- GetRandom / StirRandom -------------------------------------------------

#[test]
fn get_random_returns_at_most_64_octets() {
    let mut tpm = started(1);
    for n in [0u16, 1, 20, 32, 63, 64] {
        assert_eq!(get_random(&mut tpm, n).len(), n as usize);
    }
    // More than sizeof(TPMU_HA) is capped, not refused (libtpms does the same).
    for n in [65u16, 100, 1024, 65535] {
        assert_eq!(get_random(&mut tpm, n).len(), 64, "requested {n}");
    }
    // Truncated and oversized parameter areas.
    assert_eq!(run(&mut tpm, CC_GET_RANDOM, &[0]).0, 0x1da);
    assert_eq!(run(&mut tpm, CC_GET_RANDOM, &[0, 8, 0]).0, 0x095);
}

#[test]
fn get_random_never_repeats() {
    let mut tpm = started(1);
    let a = get_random(&mut tpm, 32);
    let b = get_random(&mut tpm, 32);
    assert_ne!(a, b);
    assert_ne!(a, vec![0; 32]);
    // A long run of outputs: all distinct, and every byte value shows up.
    let mut seen = std::collections::HashSet::new();
    let mut bytes = [false; 256];
    for _ in 0..200 {
        let r = get_random(&mut tpm, 64);
        for &b in &r {
            bytes[b as usize] = true;
        }
        assert!(seen.insert(r));
    }
    assert!(bytes.iter().all(|&b| b), "200×64 octets cover all values");
}

#[test]
fn stir_random_mixes_caller_data() {
    // Three TPMs from the same entropy: one stirs "A", one stirs "A" too,
    // one stirs "B". The DRBG is deterministic given its inputs, so the
    // first two agree and the third does not.
    let mut a = started(7);
    let mut b = started(7);
    let mut c = started(7);
    let mut d = started(7);
    for (tpm, data) in [(&mut a, b"A"), (&mut b, b"A"), (&mut c, b"B")] {
        let (rc, p) = run(tpm, CC_STIR_RANDOM, &b2(data));
        assert_eq!(rc, 0);
        assert!(p.is_empty());
    }
    let (ra, rb, rc, rd) = (
        get_random(&mut a, 32),
        get_random(&mut b, 32),
        get_random(&mut c, 32),
        get_random(&mut d, 32),
    );
    assert_eq!(ra, rb);
    assert_ne!(ra, rc);
    // And stirring changed the output of the unstirred twin.
    assert_ne!(ra, rd);
    assert_ne!(rc, rd);
}

#[test]
fn stir_random_size_bounds() {
    let mut tpm = started(2);
    for n in [0usize, 1, 127, 128] {
        assert_eq!(run(&mut tpm, CC_STIR_RANDOM, &b2(&vec![9; n])).0, 0, "{n}");
    }
    // TPM2B_SENSITIVE_DATA holds at most 128 octets: TPM_RC_SIZE + P1.
    for n in [129usize, 256, 1024] {
        assert_eq!(
            run(&mut tpm, CC_STIR_RANDOM, &b2(&vec![9; n])).0,
            0x1d5,
            "{n}"
        );
    }
    assert_eq!(run(&mut tpm, CC_STIR_RANDOM, &[0, 4, 1, 2]).0, 0x1da);
    assert_eq!(
        run(&mut tpm, CC_STIR_RANDOM, &[b2(b"x"), vec![0]].concat()).0,
        0x095
    );
    // Still working afterwards.
    assert_eq!(get_random(&mut tpm, 16).len(), 16);
}

// ---- self test ----------------------------------------------------------------

#[test]
fn incremental_self_test_tracks_the_to_do_list() {
    let mut tpm = started(3);
    let all = testable(&mut tpm);
    // Nothing tested yet after Startup.
    assert_eq!(incremental(&mut tpm, &[]), (0, all.clone()));
    // Testing SHA-256 removes it (and only it).
    assert_eq!(
        incremental(&mut tpm, &[SHA256]),
        (0, without(&all, &[SHA256]))
    );
    // Using an algorithm tests it first (TPM2_Hash with SM3).
    let mut hash = b2(b"abc");
    hash.extend_from_slice(&SM3.to_be_bytes());
    hash.extend_from_slice(&0x4000_0007u32.to_be_bytes());
    assert_eq!(run(&mut tpm, CC_HASH, &hash).0, 0);
    assert_eq!(
        incremental(&mut tpm, &[]),
        (0, without(&all, &[SHA256, SM3]))
    );
    // Repeats in the list are fine; a retest of a tested one is harmless.
    assert_eq!(
        incremental(&mut tpm, &[HMAC, HMAC, SHA256]),
        (0, without(&all, &[SHA256, SM3, HMAC]))
    );
    // Testing everything that is left empties the list.
    let rest = without(&all, &[SHA256, SM3, HMAC]);
    assert_eq!(incremental(&mut tpm, &rest), (0, vec![]));
    // A power cycle forgets every result.
    tpm.power_on();
    let (rc, _) = run(&mut tpm, CC_STARTUP, &0u16.to_be_bytes());
    assert_eq!(rc, 0);
    assert_eq!(incremental(&mut tpm, &[]), (0, all));
}

#[test]
fn incremental_self_test_errors_match_libtpms() {
    let mut tpm = started(4);
    let all = testable(&mut tpm);
    // An algorithm the TPM does not implement (or TPM_ALG_NULL):
    // TPM_RC_VALUE + P1, and nothing is tested, even the valid entries.
    for bad in [0x0003u16, 0x0026, ALG_NULL, 0xffff, 0x0000] {
        assert!(!all.contains(&bad));
        assert_eq!(incremental(&mut tpm, &[SHA256, bad]).0, 0x1c4, "{bad:#x}");
    }
    assert_eq!(incremental(&mut tpm, &[]), (0, all.clone()));
    // TPML_ALG holds at most 64 entries: TPM_RC_SIZE + P1.
    assert_eq!(incremental(&mut tpm, &[SHA1; 65]).0, 0x1d5);
    assert_eq!(incremental_raw(&mut tpm, &u32::MAX.to_be_bytes()).0, 0x1d5);
    assert_eq!(
        incremental(&mut tpm, &[SHA1; 64]),
        (0, without(&all, &[SHA1]))
    );
    // Truncated list: TPM_RC_INSUFFICIENT + P1; trailing bytes: TPM_RC_SIZE.
    assert_eq!(incremental_raw(&mut tpm, &[0, 0, 0, 2, 0, 4]).0, 0x1da);
    assert_eq!(incremental_raw(&mut tpm, &[0, 0, 0, 0, 0]).0, 0x095);
}

#[test]
fn self_test_runs_everything() {
    let mut tpm = started(5);
    let all = testable(&mut tpm);
    // fullTest is a TPMI_YES_NO: 2 is TPM_RC_VALUE + P1.
    assert_eq!(run(&mut tpm, CC_SELF_TEST, &[2]).0, 0x1c4);
    assert_eq!(run(&mut tpm, CC_SELF_TEST, &[]).0, 0x1da);
    assert_eq!(run(&mut tpm, CC_SELF_TEST, &[1, 0]).0, 0x095);
    // fullTest = NO tests what is untested.
    assert_eq!(incremental(&mut tpm, &[SHA1]).1.len(), all.len() - 1);
    let (rc, p) = run(&mut tpm, CC_SELF_TEST, &[0]);
    assert_eq!((rc, p.len()), (0, 0));
    assert_eq!(incremental(&mut tpm, &[]), (0, vec![]));
    // fullTest = YES after a power cycle tests all of them.
    tpm.power_on();
    assert_eq!(run(&mut tpm, CC_STARTUP, &0u16.to_be_bytes()).0, 0);
    assert_eq!(incremental(&mut tpm, &[]), (0, all));
    assert_eq!(run(&mut tpm, CC_SELF_TEST, &[1]).0, 0);
    assert_eq!(incremental(&mut tpm, &[]), (0, vec![]));
    // And again (a full test repeats every test).
    assert_eq!(run(&mut tpm, CC_SELF_TEST, &[1]).0, 0);
}

#[test]
fn get_test_result_reports_success() {
    let mut tpm = started(6);
    for _ in 0..2 {
        let (rc, p) = run(&mut tpm, CC_GET_TEST_RESULT, &[]);
        assert_eq!(rc, 0);
        // outData (empty), testResult TPM_RC_SUCCESS: the bytes swtpm sends.
        assert_eq!(p, [0, 0, 0, 0, 0, 0]);
        let mut r = Reader::new(&p);
        assert!(MaxBuffer::decode(&mut r).unwrap().is_empty());
        assert_eq!(r.u32().unwrap(), 0);
        assert_eq!(run(&mut tpm, CC_SELF_TEST, &[1]).0, 0);
    }
    assert_eq!(run(&mut tpm, CC_GET_TEST_RESULT, &[0]).0, 0x095);
}
