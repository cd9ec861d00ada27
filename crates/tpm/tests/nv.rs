//! NV indices end to end through `Tpm::execute` (TPM 2.0 Part 3 §31,
//! Part 1 §37): every index type's semantics, the locks, the attribute
//! rules of TPM2_NV_DefineSpace, the authorization variants, undefine
//! rules, space limits, persistence across power cycles and blob reloads,
//! and the capabilities that report indices.
//!
//! Names, extend digests, HMACs and policy digests are recomputed here
//! from the Part 1/Part 2 formulas; response codes are the ones libtpms
//! (the reference code) gives, with their handle/parameter numbers.

mod common;

use common::*;
use hmac::{Mac, SimpleHmac};
use sha2::Sha256;
use tpm::constants::{alg, cc, pt, rh, su};
use tpm::crypto::HashAlg;
use tpm::Tpm;

// TPMA_NV bits (Part 2 §13.4).
const PPWRITE: u32 = 1 << 0;
const OWNERWRITE: u32 = 1 << 1;
const AUTHWRITE: u32 = 1 << 2;
const POLICYWRITE: u32 = 1 << 3;
const POLICY_DELETE: u32 = 1 << 10;
const WRITELOCKED: u32 = 1 << 11;
const WRITEALL: u32 = 1 << 12;
const WRITEDEFINE: u32 = 1 << 13;
const WRITE_STCLEAR: u32 = 1 << 14;
const GLOBALLOCK: u32 = 1 << 15;
const PPREAD: u32 = 1 << 16;
const OWNERREAD: u32 = 1 << 17;
const AUTHREAD: u32 = 1 << 18;
const POLICYREAD: u32 = 1 << 19;
const NO_DA: u32 = 1 << 25;
const ORDERLY: u32 = 1 << 26;
const CLEAR_STCLEAR: u32 = 1 << 27;
const READLOCKED: u32 = 1 << 28;
const WRITTEN: u32 = 1 << 29;
const PLATFORMCREATE: u32 = 1 << 30;
const READ_STCLEAR: u32 = 1 << 31;
// TPM_NT in bits 4..7.
const NT_COUNTER: u32 = 1 << 4;
const NT_BITS: u32 = 2 << 4;
const NT_EXTEND: u32 = 4 << 4;
const NT_PIN_FAIL: u32 = 8 << 4;
const NT_PIN_PASS: u32 = 9 << 4;

const OWNER_RW: u32 = OWNERREAD | OWNERWRITE;
const AUTH_RW: u32 = AUTHREAD | AUTHWRITE | NO_DA;

// Response codes, as libtpms numbers them.
const RC_NV_RANGE: u32 = 0x146;
const RC_NV_LOCKED: u32 = 0x148;
const RC_NV_AUTHORIZATION: u32 = 0x149;
const RC_NV_UNINITIALIZED: u32 = 0x14A;
const RC_NV_SPACE: u32 = 0x14B;
const RC_NV_DEFINED: u32 = 0x14C;
const RC_AUTH_TYPE: u32 = 0x124;
const RC_AUTH_UNAVAILABLE: u32 = 0x12F;
const RC_ATTRIBUTES: u32 = 0x082;
const RC_ATTRIBUTES_H1: u32 = 0x182;
const RC_ATTRIBUTES_H2: u32 = 0x282;
const RC_ATTRIBUTES_P2: u32 = 0x2C2;
const RC_SIZE_P1: u32 = 0x1D5;
const RC_SIZE_P2: u32 = 0x2D5;
const RC_VALUE_P1: u32 = 0x1C4;
const RC_VALUE_P2: u32 = 0x2C4;
const RC_VALUE_H1: u32 = 0x184;
const RC_HANDLE_H1: u32 = 0x18B;
const RC_HANDLE_H2: u32 = 0x28B;
const RC_RESERVED_BITS_P2: u32 = 0x2E1;
const RC_HASH_P2: u32 = 0x2C3;
const RC_BAD_AUTH_S1: u32 = 0x9A2;
const RC_AUTH_FAIL_S1: u32 = 0x98E;
const RC_RETRY: u32 = 0x922;

fn started() -> (Tpm, TestClock) {
    let (mut t, c) = engine(&[HashAlg::Sha256]);
    startup_clear(&mut t);
    (t, c)
}

/// TPMS_NV_PUBLIC bytes.
fn nv_public(index: u32, name_alg: u16, attrs: u32, policy: &[u8], size: u16) -> Vec<u8> {
    let mut v = index.to_be_bytes().to_vec();
    v.extend_from_slice(&name_alg.to_be_bytes());
    v.extend_from_slice(&attrs.to_be_bytes());
    v.extend_from_slice(&(policy.len() as u16).to_be_bytes());
    v.extend_from_slice(policy);
    v.extend_from_slice(&size.to_be_bytes());
    v
}

/// The Name of an index (Part 1 §16): nameAlg || H(TPMS_NV_PUBLIC).
fn nv_name(public: &[u8]) -> Vec<u8> {
    let name_alg = u16::from_be_bytes([public[4], public[5]]);
    let mut v = name_alg.to_be_bytes().to_vec();
    v.extend_from_slice(&hash(name_alg, &[public]));
    v
}

fn define_raw(tpm: &mut Tpm, auth_handle: u32, auth: &[u8], public: &[u8]) -> Resp {
    let mut sized = (public.len() as u16).to_be_bytes().to_vec();
    sized.extend_from_slice(public);
    Cmd::new(cc::NV_DEFINE_SPACE)
        .handle(auth_handle)
        .pw(b"")
        .tpm2b(auth)
        .bytes(&sized)
        .run(tpm, 0)
}

/// Defines a SHA-256 index with owner authorization (PLATFORMCREATE
/// selects platform authorization).
fn define(tpm: &mut Tpm, index: u32, attrs: u32, auth: &[u8], size: u16) -> Resp {
    let h = if attrs & PLATFORMCREATE != 0 {
        rh::PLATFORM
    } else {
        rh::OWNER
    };
    define_raw(
        tpm,
        h,
        auth,
        &nv_public(index, alg::SHA256, attrs, &[], size),
    )
}

fn write_pw(tpm: &mut Tpm, auth: u32, index: u32, pw: &[u8], data: &[u8], offset: u16) -> Resp {
    Cmd::new(cc::NV_WRITE)
        .handle(auth)
        .handle(index)
        .pw(pw)
        .tpm2b(data)
        .u16(offset)
        .run(tpm, 0)
}

fn read_pw(tpm: &mut Tpm, auth: u32, index: u32, pw: &[u8], size: u16, offset: u16) -> Resp {
    Cmd::new(cc::NV_READ)
        .handle(auth)
        .handle(index)
        .pw(pw)
        .u16(size)
        .u16(offset)
        .run(tpm, 0)
}

/// Reads and returns data, which must succeed.
#[track_caller]
fn read_ok(tpm: &mut Tpm, auth: u32, index: u32, pw: &[u8], size: u16, offset: u16) -> Vec<u8> {
    let r = read_pw(tpm, auth, index, pw, size, offset);
    let mut p = r.params(false);
    let d = p.tpm2b();
    p.end();
    d
}

/// A command on (authHandle, nvIndex) with a password session.
fn on_index(tpm: &mut Tpm, code: u32, auth: u32, index: u32, pw: &[u8], params: &[u8]) -> Resp {
    Cmd::new(code)
        .handle(auth)
        .handle(index)
        .pw(pw)
        .bytes(params)
        .run(tpm, 0)
}

fn increment(tpm: &mut Tpm, auth: u32, index: u32, pw: &[u8]) -> Resp {
    on_index(tpm, cc::NV_INCREMENT, auth, index, pw, &[])
}

fn read_u64(tpm: &mut Tpm, auth: u32, index: u32, pw: &[u8]) -> u64 {
    let d = read_ok(tpm, auth, index, pw, 8, 0);
    u64::from_be_bytes(d.try_into().unwrap())
}

/// TPM2_NV_ReadPublic: (TPMS_NV_PUBLIC bytes, Name).
#[track_caller]
fn read_public(tpm: &mut Tpm, index: u32) -> (Vec<u8>, Vec<u8>) {
    let r = Cmd::new(cc::NV_READ_PUBLIC).handle(index).run(tpm, 0);
    let mut p = r.params(false);
    let public = p.tpm2b();
    let name = p.tpm2b();
    p.end();
    (public, name)
}

fn attrs_of(tpm: &mut Tpm, index: u32) -> u32 {
    let (p, _) = read_public(tpm, index);
    u32::from_be_bytes(p[6..10].try_into().unwrap())
}

fn undefine(tpm: &mut Tpm, auth: u32, index: u32) -> Resp {
    Cmd::new(cc::NV_UNDEFINE_SPACE)
        .handle(auth)
        .handle(index)
        .pw(b"")
        .run(tpm, 0)
}

/// A power cycle without TPM2_Shutdown: the engine is rebuilt from its
/// blob and started with Startup(CLEAR) (TPM Reset).
fn power_loss(tpm: &Tpm, clock: &TestClock) -> Tpm {
    let mut t = reload(tpm, clock);
    startup_clear(&mut t);
    t
}

/// Shutdown(`kind`), power cycle through the blob, Startup(`start`).
fn cycle(tpm: &mut Tpm, clock: &TestClock, kind: u16, start: u16) -> Tpm {
    shutdown(tpm, kind).expect_ok();
    let mut t = reload(tpm, clock);
    startup(&mut t, 0, start).expect_ok();
    t
}

// ---------------------------------------------------------------------------
// Index types.

#[test]
fn ordinary_index_partial_writes_with_offsets() {
    let (mut t, _) = started();
    let idx = 0x0150_0001;
    define(&mut t, idx, AUTH_RW, b"pw", 32).expect_ok();
    read_pw(&mut t, idx, idx, b"pw", 4, 0).expect_rc(RC_NV_UNINITIALIZED);

    // The first, partial write leaves the rest of the index erased (0xFF,
    // as libtpms's NV reads after it is cleared).
    write_pw(&mut t, idx, idx, b"pw", &[1, 2, 3, 4], 4).expect_ok();
    let mut want = vec![0xFFu8; 32];
    want[4..8].copy_from_slice(&[1, 2, 3, 4]);
    assert_eq!(read_ok(&mut t, idx, idx, b"pw", 32, 0), want);
    write_pw(&mut t, idx, idx, b"pw", &[9; 6], 26).expect_ok();
    want[26..32].fill(9);
    write_pw(&mut t, idx, idx, b"pw", &[7, 7], 3).expect_ok();
    want[3..5].copy_from_slice(&[7, 7]);
    assert_eq!(read_ok(&mut t, idx, idx, b"pw", 32, 0), want);
    assert_eq!(read_ok(&mut t, idx, idx, b"pw", 5, 27), want[27..32]);
    assert_eq!(read_ok(&mut t, idx, idx, b"pw", 0, 32), Vec::<u8>::new());

    // Ranges: offset past the end is a bad value, data past the end a
    // range error; reads the same, and more than MAX_NV_BUFFER_SIZE.
    write_pw(&mut t, idx, idx, b"pw", &[1], 33).expect_rc(RC_VALUE_P2);
    write_pw(&mut t, idx, idx, b"pw", &[1, 2], 31).expect_rc(RC_NV_RANGE);
    read_pw(&mut t, idx, idx, b"pw", 1, 33).expect_rc(RC_VALUE_P2);
    read_pw(&mut t, idx, idx, b"pw", 2, 31).expect_rc(RC_NV_RANGE);
    read_pw(&mut t, idx, idx, b"pw", 1025, 0).expect_rc(RC_VALUE_P1);
    // Counter-only, extend-only and bits-only commands refuse it.
    increment(&mut t, idx, idx, b"pw").expect_rc(RC_ATTRIBUTES_H2);
    on_index(&mut t, cc::NV_EXTEND, idx, idx, b"pw", &[0, 1, 5]).expect_rc(RC_ATTRIBUTES_H2);
    on_index(
        &mut t,
        cc::NV_SET_BITS,
        idx,
        idx,
        b"pw",
        &1u64.to_be_bytes(),
    )
    .expect_rc(RC_ATTRIBUTES_H2);
}

#[test]
fn largest_index_is_written_in_two_buffers() {
    let (mut t, _) = started();
    let idx = 0x0150_0002;
    define(&mut t, idx, OWNER_RW, b"", 2048).expect_ok();
    let data: Vec<u8> = (0..2048u32).map(|i| (i * 7 + 3) as u8).collect();
    write_pw(&mut t, rh::OWNER, idx, b"", &data[..1024], 0).expect_ok();
    write_pw(&mut t, rh::OWNER, idx, b"", &data[1024..], 1024).expect_ok();
    let mut got = read_ok(&mut t, rh::OWNER, idx, b"", 1024, 0);
    got.extend(read_ok(&mut t, rh::OWNER, idx, b"", 1024, 1024));
    assert_eq!(got, data);
    // A buffer above MAX_NV_BUFFER_SIZE fails unmarshalling.
    write_pw(&mut t, rh::OWNER, idx, b"", &[0; 1025], 0).expect_rc(RC_SIZE_P1);
    // The largest index is MAX_NV_INDEX_SIZE.
    define(&mut t, 0x0150_0003, OWNER_RW, b"", 2049).expect_rc(RC_SIZE_P2);
}

#[test]
fn writeall_needs_the_whole_index_at_once() {
    let (mut t, _) = started();
    let idx = 0x0150_0010;
    define(&mut t, idx, OWNER_RW | WRITEALL, b"", 16).expect_ok();
    write_pw(&mut t, rh::OWNER, idx, b"", &[1; 8], 0).expect_rc(RC_NV_RANGE);
    write_pw(&mut t, rh::OWNER, idx, b"", &[1; 8], 8).expect_rc(RC_NV_RANGE);
    read_pw(&mut t, rh::OWNER, idx, b"", 16, 0).expect_rc(RC_NV_UNINITIALIZED);
    write_pw(&mut t, rh::OWNER, idx, b"", &[2; 16], 0).expect_ok();
    assert_eq!(read_ok(&mut t, rh::OWNER, idx, b"", 16, 0), vec![2; 16]);
    // WRITEALL cannot be honoured above MAX_NV_BUFFER_SIZE.
    define(&mut t, 0x0150_0011, OWNER_RW | WRITEALL, b"", 1025).expect_rc(RC_SIZE_P2);
    define(&mut t, 0x0150_0011, OWNER_RW | WRITEALL, b"", 1024).expect_ok();
}

#[test]
fn counter_is_monotonic_across_power_cycles_and_redefinition() {
    let (mut t, clock) = started();
    let idx = 0x0150_0020;
    define(&mut t, idx, OWNER_RW | NT_COUNTER, b"", 8).expect_ok();
    read_pw(&mut t, rh::OWNER, idx, b"", 8, 0).expect_rc(RC_NV_UNINITIALIZED);
    for want in 1..=5u64 {
        increment(&mut t, rh::OWNER, idx, b"").expect_ok();
        assert_eq!(read_u64(&mut t, rh::OWNER, idx, b""), want);
    }
    // Not orderly: every increment is in NV at once.
    let mut t = power_loss(&t, &clock);
    assert_eq!(read_u64(&mut t, rh::OWNER, idx, b""), 5);
    increment(&mut t, rh::OWNER, idx, b"").expect_ok();
    assert_eq!(read_u64(&mut t, rh::OWNER, idx, b""), 6);

    // A counter is written only by TPM2_NV_Increment.
    write_pw(&mut t, rh::OWNER, idx, b"", &[0; 8], 0).expect_rc(RC_ATTRIBUTES);
    on_index(&mut t, cc::NV_SET_BITS, rh::OWNER, idx, b"", &[0; 8]).expect_rc(RC_ATTRIBUTES_H2);

    // Deleting and redefining cannot roll it back: a new counter starts
    // above every deleted one, also after a power cycle.
    undefine(&mut t, rh::OWNER, idx).expect_ok();
    let mut t = power_loss(&t, &clock);
    define(&mut t, idx, OWNER_RW | NT_COUNTER, b"", 8).expect_ok();
    increment(&mut t, rh::OWNER, idx, b"").expect_ok();
    assert_eq!(read_u64(&mut t, rh::OWNER, idx, b""), 7);
    // A second counter too.
    let other = 0x0150_0021;
    define(&mut t, other, OWNER_RW | NT_COUNTER, b"", 8).expect_ok();
    increment(&mut t, rh::OWNER, other, b"").expect_ok();
    assert_eq!(read_u64(&mut t, rh::OWNER, other, b""), 7);
}

#[test]
fn orderly_counter_loses_at_most_its_low_bits() {
    let (mut t, clock) = started();
    let idx = 0x0150_0030;
    define(&mut t, idx, OWNER_RW | NT_COUNTER | ORDERLY, b"", 8).expect_ok();
    for _ in 0..3 {
        increment(&mut t, rh::OWNER, idx, b"").expect_ok();
    }
    // An orderly shutdown commits the value.
    let mut t = cycle(&mut t, &clock, su::CLEAR, su::CLEAR);
    assert_eq!(read_u64(&mut t, rh::OWNER, idx, b""), 3);
    increment(&mut t, rh::OWNER, idx, b"").expect_ok();
    increment(&mut t, rh::OWNER, idx, b"").expect_ok();
    assert_eq!(read_u64(&mut t, rh::OWNER, idx, b""), 5);
    // A power loss: the committed 3 comes back with its low 8 bits set, so
    // the counter never reports a value twice.
    let mut t = power_loss(&t, &clock);
    assert_eq!(read_u64(&mut t, rh::OWNER, idx, b""), 0xFF);
    // Rolling over the low bits commits at once.
    increment(&mut t, rh::OWNER, idx, b"").expect_ok();
    assert_eq!(read_u64(&mut t, rh::OWNER, idx, b""), 0x100);
    let mut t = power_loss(&t, &clock);
    assert_eq!(read_u64(&mut t, rh::OWNER, idx, b""), 0x1FF);
    // TPM Restart and Resume keep the live value.
    increment(&mut t, rh::OWNER, idx, b"").expect_ok();
    let mut t = cycle(&mut t, &clock, su::STATE, su::CLEAR);
    assert_eq!(read_u64(&mut t, rh::OWNER, idx, b""), 0x200);
    increment(&mut t, rh::OWNER, idx, b"").expect_ok();
    let mut t = cycle(&mut t, &clock, su::STATE, su::STATE);
    assert_eq!(read_u64(&mut t, rh::OWNER, idx, b""), 0x201);
}

#[test]
fn orderly_ordinary_index_is_unwritten_after_tpm_reset() {
    let (mut t, clock) = started();
    let idx = 0x0150_0031;
    define(&mut t, idx, OWNER_RW | ORDERLY, b"", 16).expect_ok();
    write_pw(&mut t, rh::OWNER, idx, b"", &[5; 16], 0).expect_ok();
    // Restart and Resume keep its data; Reset clears TPMA_NV_WRITTEN.
    let mut t = cycle(&mut t, &clock, su::STATE, su::CLEAR);
    assert_eq!(read_ok(&mut t, rh::OWNER, idx, b"", 16, 0), vec![5; 16]);
    let mut t = cycle(&mut t, &clock, su::STATE, su::STATE);
    assert_eq!(read_ok(&mut t, rh::OWNER, idx, b"", 16, 0), vec![5; 16]);
    let mut t = cycle(&mut t, &clock, su::CLEAR, su::CLEAR);
    read_pw(&mut t, rh::OWNER, idx, b"", 16, 0).expect_rc(RC_NV_UNINITIALIZED);
    assert_eq!(attrs_of(&mut t, idx) & WRITTEN, 0);
    // Orderly data lives in RAM, cleared to zeros before a partial write.
    write_pw(&mut t, rh::OWNER, idx, b"", &[6], 2).expect_ok();
    let mut want = vec![0u8; 16];
    want[2] = 6;
    assert_eq!(read_ok(&mut t, rh::OWNER, idx, b"", 16, 0), want);
}

#[test]
fn extend_index_hashes_old_value_and_data() {
    let (mut t, clock) = started();
    let idx = 0x0150_0040;
    define(&mut t, idx, OWNER_RW | NT_EXTEND, b"", 32).expect_ok();
    let ext = |t: &mut Tpm, d: &[u8]| {
        let mut p = (d.len() as u16).to_be_bytes().to_vec();
        p.extend_from_slice(d);
        on_index(t, cc::NV_EXTEND, rh::OWNER, idx, b"", &p)
    };
    ext(&mut t, b"abc").expect_ok();
    let v1 = hash(alg::SHA256, &[&[0; 32], b"abc"]);
    assert_eq!(read_ok(&mut t, rh::OWNER, idx, b"", 32, 0), v1);
    ext(&mut t, b"defg").expect_ok();
    let v2 = hash(alg::SHA256, &[&v1, b"defg"]);
    assert_eq!(read_ok(&mut t, rh::OWNER, idx, b"", 32, 0), v2);
    write_pw(&mut t, rh::OWNER, idx, b"", &[0; 32], 0).expect_rc(RC_ATTRIBUTES);
    let mut t = power_loss(&t, &clock);
    assert_eq!(read_ok(&mut t, rh::OWNER, idx, b"", 32, 0), v2);

    // The digest size follows the nameAlg; any other size is refused.
    let sha1 = 0x0150_0041;
    let p = nv_public(sha1, alg::SHA1, OWNER_RW | NT_EXTEND, &[], 20);
    define_raw(&mut t, rh::OWNER, b"", &p).expect_ok();
    let mut params = 1u16.to_be_bytes().to_vec();
    params.push(0x61);
    on_index(&mut t, cc::NV_EXTEND, rh::OWNER, sha1, b"", &params).expect_ok();
    assert_eq!(
        read_ok(&mut t, rh::OWNER, sha1, b"", 20, 0),
        hash(alg::SHA1, &[&[0; 20], b"a"])
    );
    let p = nv_public(0x0150_0042, alg::SHA1, OWNER_RW | NT_EXTEND, &[], 32);
    define_raw(&mut t, rh::OWNER, b"", &p).expect_rc(RC_SIZE_P2);
}

#[test]
fn bits_index_ors_in_bits() {
    let (mut t, clock) = started();
    let idx = 0x0150_0050;
    define(&mut t, idx, OWNER_RW | NT_BITS, b"", 8).expect_ok();
    let set =
        |t: &mut Tpm, b: u64| on_index(t, cc::NV_SET_BITS, rh::OWNER, idx, b"", &b.to_be_bytes());
    read_pw(&mut t, rh::OWNER, idx, b"", 8, 0).expect_rc(RC_NV_UNINITIALIZED);
    // Setting no bit still initializes the index.
    set(&mut t, 0).expect_ok();
    assert_eq!(read_u64(&mut t, rh::OWNER, idx, b""), 0);
    set(&mut t, 0x0000_0001_0000_0010).expect_ok();
    set(&mut t, 0x8000_0000_0000_0011).expect_ok();
    assert_eq!(read_u64(&mut t, rh::OWNER, idx, b""), 0x8000_0001_0000_0011);
    let mut t = power_loss(&t, &clock);
    assert_eq!(read_u64(&mut t, rh::OWNER, idx, b""), 0x8000_0001_0000_0011);
    increment(&mut t, rh::OWNER, idx, b"").expect_rc(RC_ATTRIBUTES_H2);
}

// ---------------------------------------------------------------------------
// Locks.

#[test]
fn writedefine_lock_lasts_until_deletion() {
    let (mut t, clock) = started();
    let idx = 0x0150_0060;
    define(&mut t, idx, OWNER_RW | WRITEDEFINE, b"", 8).expect_ok();
    write_pw(&mut t, rh::OWNER, idx, b"", &[1; 8], 0).expect_ok();
    on_index(&mut t, cc::NV_WRITE_LOCK, rh::OWNER, idx, b"", &[]).expect_ok();
    assert_ne!(attrs_of(&mut t, idx) & WRITELOCKED, 0);
    write_pw(&mut t, rh::OWNER, idx, b"", &[2; 8], 0).expect_rc(RC_NV_LOCKED);
    // Locking again is no error.
    on_index(&mut t, cc::NV_WRITE_LOCK, rh::OWNER, idx, b"", &[]).expect_ok();
    let t = cycle(&mut t, &clock, su::CLEAR, su::CLEAR);
    let mut t = power_loss(&t, &clock);
    write_pw(&mut t, rh::OWNER, idx, b"", &[2; 8], 0).expect_rc(RC_NV_LOCKED);
    assert_eq!(read_ok(&mut t, rh::OWNER, idx, b"", 8, 0), vec![1; 8]);
    // Deletion still works.
    undefine(&mut t, rh::OWNER, idx).expect_ok();

    // An unwritten WRITEDEFINE index is unlocked by a TPM Reset.
    define(&mut t, idx, OWNER_RW | WRITEDEFINE, b"", 8).expect_ok();
    on_index(&mut t, cc::NV_WRITE_LOCK, rh::OWNER, idx, b"", &[]).expect_ok();
    let mut t = cycle(&mut t, &clock, su::CLEAR, su::CLEAR);
    write_pw(&mut t, rh::OWNER, idx, b"", &[3; 8], 0).expect_ok();
}

#[test]
fn write_stclear_lock_lasts_until_reset_or_restart() {
    let (mut t, clock) = started();
    let idx = 0x0150_0061;
    define(&mut t, idx, OWNER_RW | WRITE_STCLEAR, b"", 8).expect_ok();
    write_pw(&mut t, rh::OWNER, idx, b"", &[1; 8], 0).expect_ok();
    on_index(&mut t, cc::NV_WRITE_LOCK, rh::OWNER, idx, b"", &[]).expect_ok();
    write_pw(&mut t, rh::OWNER, idx, b"", &[2; 8], 0).expect_rc(RC_NV_LOCKED);
    // TPM Resume keeps the lock; Restart releases it.
    let mut t = cycle(&mut t, &clock, su::STATE, su::STATE);
    write_pw(&mut t, rh::OWNER, idx, b"", &[2; 8], 0).expect_rc(RC_NV_LOCKED);
    let mut t = cycle(&mut t, &clock, su::STATE, su::CLEAR);
    write_pw(&mut t, rh::OWNER, idx, b"", &[2; 8], 0).expect_ok();
    on_index(&mut t, cc::NV_WRITE_LOCK, rh::OWNER, idx, b"", &[]).expect_ok();
    // A power loss is a TPM Reset.
    let mut t = power_loss(&t, &clock);
    write_pw(&mut t, rh::OWNER, idx, b"", &[3; 8], 0).expect_ok();

    // Neither WRITEDEFINE nor WRITE_STCLEAR: cannot be locked.
    let plain = 0x0150_0062;
    define(&mut t, plain, OWNER_RW, b"", 8).expect_ok();
    on_index(&mut t, cc::NV_WRITE_LOCK, rh::OWNER, plain, b"", &[]).expect_rc(RC_ATTRIBUTES_H2);
    // The authorization is checked first.
    define(
        &mut t,
        0x0150_0063,
        OWNERREAD | PPWRITE | WRITE_STCLEAR,
        b"",
        8,
    )
    .expect_ok();
    on_index(&mut t, cc::NV_WRITE_LOCK, rh::OWNER, 0x0150_0063, b"", &[])
        .expect_rc(RC_NV_AUTHORIZATION);
}

#[test]
fn read_stclear_lock() {
    let (mut t, clock) = started();
    let idx = 0x0150_0070;
    define(&mut t, idx, OWNER_RW | READ_STCLEAR, b"", 4).expect_ok();
    // An unwritten index can be read-locked.
    on_index(&mut t, cc::NV_READ_LOCK, rh::OWNER, idx, b"", &[]).expect_ok();
    assert_ne!(attrs_of(&mut t, idx) & READLOCKED, 0);
    write_pw(&mut t, rh::OWNER, idx, b"", &[4; 4], 0).expect_ok();
    read_pw(&mut t, rh::OWNER, idx, b"", 4, 0).expect_rc(RC_NV_LOCKED);
    on_index(&mut t, cc::NV_READ_LOCK, rh::OWNER, idx, b"", &[]).expect_ok();
    let mut t = cycle(&mut t, &clock, su::STATE, su::STATE);
    read_pw(&mut t, rh::OWNER, idx, b"", 4, 0).expect_rc(RC_NV_LOCKED);
    let mut t = cycle(&mut t, &clock, su::STATE, su::CLEAR);
    assert_eq!(read_ok(&mut t, rh::OWNER, idx, b"", 4, 0), vec![4; 4]);

    let plain = 0x0150_0071;
    define(&mut t, plain, OWNER_RW, b"", 4).expect_ok();
    on_index(&mut t, cc::NV_READ_LOCK, rh::OWNER, plain, b"", &[]).expect_rc(RC_ATTRIBUTES_H2);
    // Without read access: an authorization error, not a lock.
    define(
        &mut t,
        0x0150_0072,
        PPREAD | OWNERWRITE | READ_STCLEAR,
        b"",
        4,
    )
    .expect_ok();
    on_index(&mut t, cc::NV_READ_LOCK, rh::OWNER, 0x0150_0072, b"", &[])
        .expect_rc(RC_NV_AUTHORIZATION);
}

#[test]
fn global_write_lock_locks_globallock_indices_until_reset() {
    let (mut t, clock) = started();
    let (a, b, c) = (0x0150_0080, 0x0150_0081, 0x0150_0082);
    define(&mut t, a, OWNER_RW | GLOBALLOCK, b"", 4).expect_ok();
    define(&mut t, b, OWNER_RW | GLOBALLOCK | ORDERLY, b"", 4).expect_ok();
    define(&mut t, c, OWNER_RW, b"", 4).expect_ok();
    Cmd::new(cc::NV_GLOBAL_WRITE_LOCK)
        .handle(rh::OWNER)
        .pw(b"")
        .run(&mut t, 0)
        .expect_ok();
    for i in [a, b] {
        assert_ne!(attrs_of(&mut t, i) & WRITELOCKED, 0, "{i:#x} locked");
        write_pw(&mut t, rh::OWNER, i, b"", &[1; 4], 0).expect_rc(RC_NV_LOCKED);
    }
    write_pw(&mut t, rh::OWNER, c, b"", &[1; 4], 0).expect_ok();
    let mut t = cycle(&mut t, &clock, su::CLEAR, su::CLEAR);
    for i in [a, b] {
        assert_eq!(attrs_of(&mut t, i) & WRITELOCKED, 0);
        write_pw(&mut t, rh::OWNER, i, b"", &[1; 4], 0).expect_ok();
    }
}

#[test]
fn clear_stclear_data_is_unwritten_after_reset_and_restart() {
    let (mut t, clock) = started();
    let idx = 0x0150_0090;
    define(&mut t, idx, OWNER_RW | CLEAR_STCLEAR, b"", 4).expect_ok();
    write_pw(&mut t, rh::OWNER, idx, b"", &[8; 4], 0).expect_ok();
    let mut t = cycle(&mut t, &clock, su::STATE, su::STATE);
    assert_eq!(read_ok(&mut t, rh::OWNER, idx, b"", 4, 0), vec![8; 4]);
    let mut t = cycle(&mut t, &clock, su::STATE, su::CLEAR);
    read_pw(&mut t, rh::OWNER, idx, b"", 4, 0).expect_rc(RC_NV_UNINITIALIZED);
    // A partial write after that starts from erased NV again.
    write_pw(&mut t, rh::OWNER, idx, b"", &[1], 1).expect_ok();
    assert_eq!(
        read_ok(&mut t, rh::OWNER, idx, b"", 4, 0),
        vec![0xFF, 1, 0xFF, 0xFF]
    );
}

// ---------------------------------------------------------------------------
// Definition rules.

#[test]
fn define_space_attribute_rules() {
    let (mut t, _) = started();
    let i = 0x0150_00A0;
    let sha = alg::SHA256;
    // (handle, auth, public, expected, what) in the order the reference checks.
    type Case = (u32, Vec<u8>, Vec<u8>, u32, &'static str);
    let cases: Vec<Case> = vec![
        (
            rh::OWNER,
            vec![],
            nv_public(i, sha, OWNER_RW, &[0; 20], 8),
            RC_SIZE_P2,
            "policy size",
        ),
        (
            rh::OWNER,
            vec![1; 33],
            nv_public(i, sha, OWNER_RW, &[], 8),
            RC_SIZE_P1,
            "auth size",
        ),
        (
            rh::OWNER,
            vec![],
            nv_public(i, sha, OWNER_RW | (3 << 4), &[], 8),
            RC_ATTRIBUTES_P2,
            "type 3",
        ),
        (
            rh::OWNER,
            vec![],
            nv_public(i, sha, OWNER_RW | NT_COUNTER, &[], 4),
            RC_SIZE_P2,
            "counter size",
        ),
        (
            rh::OWNER,
            vec![],
            nv_public(i, sha, OWNER_RW | NT_BITS, &[], 16),
            RC_SIZE_P2,
            "bits size",
        ),
        (
            rh::OWNER,
            vec![],
            nv_public(i, sha, OWNER_RW | NT_PIN_PASS, &[], 4),
            RC_SIZE_P2,
            "pin size",
        ),
        (
            rh::OWNER,
            vec![],
            nv_public(i, sha, OWNER_RW | NT_COUNTER | CLEAR_STCLEAR, &[], 8),
            RC_ATTRIBUTES_P2,
            "counter clear_stclear",
        ),
        (
            rh::OWNER,
            vec![],
            nv_public(i, sha, OWNER_RW | NT_PIN_FAIL, &[], 8),
            RC_ATTRIBUTES_P2,
            "pin fail without no_da",
        ),
        (
            rh::OWNER,
            vec![],
            nv_public(i, sha, OWNER_RW | NT_PIN_PASS | AUTHWRITE, &[], 8),
            RC_ATTRIBUTES_P2,
            "pin authwrite",
        ),
        (
            rh::OWNER,
            vec![],
            nv_public(i, sha, OWNER_RW | NT_PIN_FAIL | NO_DA | GLOBALLOCK, &[], 8),
            RC_ATTRIBUTES_P2,
            "pin globallock",
        ),
        (
            rh::OWNER,
            vec![],
            nv_public(i, sha, OWNER_RW | NT_PIN_PASS | WRITEDEFINE, &[], 8),
            RC_ATTRIBUTES_P2,
            "pin writedefine",
        ),
        (
            rh::OWNER,
            vec![],
            nv_public(i, sha, OWNER_RW | WRITTEN, &[], 8),
            RC_ATTRIBUTES_P2,
            "written",
        ),
        (
            rh::OWNER,
            vec![],
            nv_public(i, sha, OWNER_RW | WRITELOCKED, &[], 8),
            RC_ATTRIBUTES_P2,
            "writelocked",
        ),
        (
            rh::OWNER,
            vec![],
            nv_public(i, sha, OWNER_RW | READLOCKED, &[], 8),
            RC_ATTRIBUTES_P2,
            "readlocked",
        ),
        (
            rh::OWNER,
            vec![],
            nv_public(i, sha, OWNERWRITE, &[], 8),
            RC_ATTRIBUTES_P2,
            "no read",
        ),
        (
            rh::OWNER,
            vec![],
            nv_public(i, sha, OWNERREAD, &[], 8),
            RC_ATTRIBUTES_P2,
            "no write",
        ),
        (
            rh::OWNER,
            vec![],
            nv_public(i, sha, OWNER_RW | CLEAR_STCLEAR | WRITEDEFINE, &[], 8),
            RC_ATTRIBUTES_P2,
            "clear_stclear writedefine",
        ),
        (
            rh::OWNER,
            vec![],
            nv_public(i, sha, OWNER_RW | PLATFORMCREATE, &[], 8),
            RC_ATTRIBUTES_H1,
            "owner platformcreate",
        ),
        (
            rh::PLATFORM,
            vec![],
            nv_public(i, sha, OWNER_RW, &[], 8),
            RC_ATTRIBUTES_H1,
            "platform without platformcreate",
        ),
        (
            rh::OWNER,
            vec![],
            nv_public(i, sha, OWNER_RW | POLICY_DELETE, &[], 8),
            RC_ATTRIBUTES_P2,
            "owner policy_delete",
        ),
        (
            rh::OWNER,
            vec![],
            nv_public(i, sha, OWNER_RW | 1 << 8, &[], 8),
            RC_RESERVED_BITS_P2,
            "reserved bit",
        ),
        (
            rh::OWNER,
            vec![],
            nv_public(0x0200_0000, sha, OWNER_RW, &[], 8),
            RC_VALUE_P2,
            "not an NV handle",
        ),
        (
            rh::OWNER,
            vec![],
            nv_public(i, alg::NULL, OWNER_RW, &[], 8),
            RC_HASH_P2,
            "null nameAlg",
        ),
        (
            rh::OWNER,
            vec![],
            nv_public(i, sha, OWNER_RW, &[], 2049),
            RC_SIZE_P2,
            "too large",
        ),
    ];
    for (h, auth, public, want, what) in cases {
        let r = define_raw(&mut t, h, &auth, &public);
        assert_eq!(r.rc, want, "{what}: rc {:#x}", r.rc);
    }
    // Trailing zeros of the authValue do not count.
    let mut auth = vec![1; 32];
    auth.extend_from_slice(&[0; 8]);
    define_raw(
        &mut t,
        rh::OWNER,
        &auth,
        &nv_public(i, alg::SHA256, AUTH_RW, &[], 8),
    )
    .expect_ok();
    write_pw(&mut t, i, i, &[1; 32], &[0; 8], 0).expect_ok();
    define(&mut t, i, OWNER_RW, b"", 8).expect_rc(RC_NV_DEFINED);
    // An authHandle that is not owner or platform.
    Cmd::new(cc::NV_DEFINE_SPACE)
        .handle(rh::ENDORSEMENT)
        .pw(b"")
        .tpm2b(&[])
        .tpm2b(&nv_public(0x0150_00A1, alg::SHA256, OWNER_RW, &[], 8))
        .run(&mut t, 0)
        .expect_rc(RC_VALUE_H1);
    // A zero-sized TPM2B_NV_PUBLIC.
    Cmd::new(cc::NV_DEFINE_SPACE)
        .handle(rh::OWNER)
        .pw(b"")
        .tpm2b(&[])
        .u16(0)
        .run(&mut t, 0)
        .expect_rc(RC_SIZE_P2);
}

#[test]
fn read_public_and_name_follow_the_written_state() {
    let (mut t, _) = started();
    let idx = 0x0150_00B0;
    let policy = [0x33u8; 32];
    let public = nv_public(idx, alg::SHA256, AUTH_RW | POLICYREAD, &policy, 24);
    define_raw(&mut t, rh::OWNER, b"secret", &public).expect_ok();
    let (p, name) = read_public(&mut t, idx);
    assert_eq!(p, public);
    assert_eq!(name, nv_name(&public));
    write_pw(&mut t, idx, idx, b"secret", &[1], 0).expect_ok();
    let written = nv_public(
        idx,
        alg::SHA256,
        AUTH_RW | POLICYREAD | WRITTEN,
        &policy,
        24,
    );
    let (p, name) = read_public(&mut t, idx);
    assert_eq!(p, written);
    assert_eq!(name, nv_name(&written));
    // SHA-384 names are 50 octets.
    let p384 = nv_public(0x0150_00B1, alg::SHA384, OWNER_RW, &[], 4);
    define_raw(&mut t, rh::OWNER, b"", &p384).expect_ok();
    let (_, name) = read_public(&mut t, 0x0150_00B1);
    assert_eq!(name.len(), 50);
    assert_eq!(name, nv_name(&p384));
    // Undefined and out-of-range handles.
    Cmd::new(cc::NV_READ_PUBLIC)
        .handle(0x0150_00B2)
        .run(&mut t, 0)
        .expect_rc(RC_HANDLE_H1);
    Cmd::new(cc::NV_READ_PUBLIC)
        .handle(0x8100_0000)
        .run(&mut t, 0)
        .expect_rc(RC_VALUE_H1);
}

// ---------------------------------------------------------------------------
// Authorization.

#[test]
fn owner_platform_and_index_authorizations() {
    let (mut t, _) = started();
    let idx = 0x0150_00C0;
    define(
        &mut t,
        idx,
        OWNERWRITE | PPREAD | AUTHREAD | NO_DA,
        b"pw",
        4,
    )
    .expect_ok();
    // Owner may write, not read; the platform may read, not write.
    write_pw(&mut t, rh::PLATFORM, idx, b"", &[1; 4], 0).expect_rc(RC_NV_AUTHORIZATION);
    write_pw(&mut t, rh::OWNER, idx, b"", &[1; 4], 0).expect_ok();
    read_pw(&mut t, rh::OWNER, idx, b"", 4, 0).expect_rc(RC_NV_AUTHORIZATION);
    assert_eq!(read_ok(&mut t, rh::PLATFORM, idx, b"", 4, 0), vec![1; 4]);
    // The index's own password: reads (AUTHREAD) but not writes.
    assert_eq!(read_ok(&mut t, idx, idx, b"pw", 4, 0), vec![1; 4]);
    assert_eq!(read_ok(&mut t, idx, idx, b"pw\0\0", 4, 0), vec![1; 4]);
    read_pw(&mut t, idx, idx, b"px", 4, 0).expect_rc(RC_BAD_AUTH_S1);
    write_pw(&mut t, idx, idx, b"pw", &[2; 4], 0).expect_rc(RC_AUTH_UNAVAILABLE);
    // Another index's authorization is not this index's.
    let other = 0x0150_00C1;
    define(&mut t, other, AUTH_RW, b"", 4).expect_ok();
    read_pw(&mut t, other, idx, b"", 4, 0).expect_rc(RC_NV_AUTHORIZATION);
    // Failures against a DA-protected index count (TPM_RC_AUTH_FAIL).
    let da = 0x0150_00C2;
    define(&mut t, da, AUTHREAD | AUTHWRITE, b"pw", 4).expect_ok();
    // The first DA-protected authorization after Startup only records
    // that DA is in use (TPM_RC_RETRY, reference USE_DA_USED).
    write_pw(&mut t, da, da, b"pw", &[3; 4], 0).expect_rc(RC_RETRY);
    write_pw(&mut t, da, da, b"pw", &[3; 4], 0).expect_ok();
    read_pw(&mut t, da, da, b"bad", 4, 0).expect_rc(RC_AUTH_FAIL_S1);
}

fn hmac256(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut m = <SimpleHmac<Sha256> as Mac>::new_from_slice(key).unwrap();
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().to_vec()
}

/// An unbound, unsalted SHA-256 session of type `kind` (0 HMAC, 1 policy):
/// (handle, nonceTPM).
fn start_session(tpm: &mut Tpm, kind: u8) -> (u32, Vec<u8>) {
    let r = Cmd::new(cc::START_AUTH_SESSION)
        .handle(rh::NULL)
        .handle(rh::NULL)
        .tpm2b(&[0x55; 16])
        .tpm2b(&[])
        .u8(kind)
        .u16(alg::NULL)
        .u16(alg::SHA256)
        .run(tpm, 0);
    r.expect_ok();
    let handle = u32::from_be_bytes(r.body[0..4].try_into().unwrap());
    let mut rd = Rd::new(&r.body[4..]);
    let nonce = rd.tpm2b();
    rd.end();
    (handle, nonce)
}

#[test]
fn hmac_session_authorizes_with_the_index_auth_value() {
    let (mut t, _) = started();
    let idx = 0x0150_00D0;
    let public = nv_public(idx, alg::SHA256, AUTH_RW, &[], 8);
    define_raw(&mut t, rh::OWNER, b"nvpass", &public).expect_ok();
    let (s, nonce_tpm) = start_session(&mut t, 0);

    let data = [0xAB; 8];
    let mut params = (data.len() as u16).to_be_bytes().to_vec();
    params.extend_from_slice(&data);
    params.extend_from_slice(&0u16.to_be_bytes());
    let name = nv_name(&public);
    let cp = hash(
        alg::SHA256,
        &[&cc::NV_WRITE.to_be_bytes(), &name, &name, &params],
    );
    let nonce_caller = [0x21u8; 16];
    let attrs = CONTINUE_SESSION;
    // A wrong key first: the authValue is part of the HMAC key.
    let bad = hmac256(b"other", &[&cp, &nonce_caller, &nonce_tpm, &[attrs]]);
    Cmd::new(cc::NV_WRITE)
        .handle(idx)
        .handle(idx)
        .session(s, &nonce_caller, attrs, &bad)
        .bytes(&params)
        .run(&mut t, 0)
        .expect_rc(RC_BAD_AUTH_S1);
    let good = hmac256(b"nvpass", &[&cp, &nonce_caller, &nonce_tpm, &[attrs]]);
    let r = Cmd::new(cc::NV_WRITE)
        .handle(idx)
        .handle(idx)
        .session(s, &nonce_caller, attrs, &good)
        .bytes(&params)
        .run(&mut t, 0);
    r.expect_ok();
    let mut rd = Rd::new(&r.body);
    assert_eq!(rd.u32(), 0, "no response parameters");
    let nonce_new = rd.tpm2b();
    assert_eq!(rd.u8(), attrs);
    let rhmac = rd.tpm2b();
    rd.end();
    let rp = hash(
        alg::SHA256,
        &[&0u32.to_be_bytes(), &cc::NV_WRITE.to_be_bytes()],
    );
    assert_eq!(
        rhmac,
        hmac256(b"nvpass", &[&rp, &nonce_new, &nonce_caller, &[attrs]]),
        "response HMAC"
    );
    assert_eq!(read_ok(&mut t, idx, idx, b"nvpass", 8, 0), data);
}

/// TPM2_PolicyCommandCode(`code`) in session `s`.
fn policy_command_code(tpm: &mut Tpm, s: u32, code: u32) {
    Cmd::new(cc::POLICY_COMMAND_CODE)
        .handle(s)
        .u32(code)
        .run(tpm, 0)
        .expect_ok();
}

/// The policy digest of TPM2_PolicyCommandCode(`code`) from zeros (Part 3
/// §23.11): H(0^32 || TPM_CC_PolicyCommandCode || code).
fn command_code_policy(code: u32) -> Vec<u8> {
    hash(
        alg::SHA256,
        &[
            &[0; 32],
            &cc::POLICY_COMMAND_CODE.to_be_bytes(),
            &code.to_be_bytes(),
        ],
    )
}

#[test]
fn policy_session_authorizes_per_policyread_and_policywrite() {
    let (mut t, _) = started();
    // An index whose policy is the initial (all-zero) policy digest: any
    // fresh policy session satisfies it.
    let idx = 0x0150_00E0;
    let public = nv_public(idx, alg::SHA256, POLICYWRITE | OWNERREAD, &[0; 32], 4);
    define_raw(&mut t, rh::OWNER, b"", &public).expect_ok();
    let (s, _) = start_session(&mut t, 1);
    Cmd::new(cc::NV_WRITE)
        .handle(idx)
        .handle(idx)
        .session(s, &[], CONTINUE_SESSION, &[])
        .tpm2b(&[7; 4])
        .u16(0)
        .run(&mut t, 0)
        .expect_ok();
    assert_eq!(read_ok(&mut t, rh::OWNER, idx, b"", 4, 0), vec![7; 4]);
    // POLICYREAD is clear: no policy reads.
    Cmd::new(cc::NV_READ)
        .handle(idx)
        .handle(idx)
        .session(s, &[], CONTINUE_SESSION, &[])
        .u16(4)
        .u16(0)
        .run(&mut t, 0)
        .expect_rc(RC_AUTH_UNAVAILABLE);

    // A policy limited to TPM2_NV_Read by PolicyCommandCode.
    let idx2 = 0x0150_00E1;
    let policy = command_code_policy(cc::NV_READ);
    let public2 = nv_public(idx2, alg::SHA256, POLICYREAD | OWNERWRITE, &policy, 4);
    define_raw(&mut t, rh::OWNER, b"", &public2).expect_ok();
    write_pw(&mut t, rh::OWNER, idx2, b"", &[9; 4], 0).expect_ok();
    let read_with = |t: &mut Tpm, s: u32| {
        Cmd::new(cc::NV_READ)
            .handle(idx2)
            .handle(idx2)
            .session(s, &[], CONTINUE_SESSION, &[])
            .u16(4)
            .u16(0)
            .run(t, 0)
    };
    // Without the PolicyCommandCode the digest does not match.
    read_with(&mut t, s).expect_rc(0x99D); // TPM_RC_POLICY_FAIL, session 1
    policy_command_code(&mut t, s, cc::NV_READ);
    let r = read_with(&mut t, s);
    r.expect_ok();
    let mut p = Rd::new(&r.body);
    let n = p.u32() as usize;
    assert_eq!(&p.bytes(n)[2..], &[9; 4]);
}

#[test]
fn change_auth_needs_an_admin_policy() {
    let (mut t, _) = started();
    let idx = 0x0150_00F0;
    let policy = command_code_policy(cc::NV_CHANGE_AUTH);
    let public = nv_public(idx, alg::SHA256, AUTH_RW, &policy, 4);
    define_raw(&mut t, rh::OWNER, b"old", &public).expect_ok();
    // A password is not enough for the ADMIN role.
    Cmd::new(cc::NV_CHANGE_AUTH)
        .handle(idx)
        .pw(b"old")
        .tpm2b(b"new")
        .run(&mut t, 0)
        .expect_rc(RC_AUTH_TYPE);
    let (s, _) = start_session(&mut t, 1);
    policy_command_code(&mut t, s, cc::NV_CHANGE_AUTH);
    // A new authValue longer than the nameAlg digest.
    Cmd::new(cc::NV_CHANGE_AUTH)
        .handle(idx)
        .session(s, &[], CONTINUE_SESSION, &[])
        .tpm2b(&[1; 33])
        .run(&mut t, 0)
        .expect_rc(RC_SIZE_P1);
    let (s, _) = start_session(&mut t, 1);
    policy_command_code(&mut t, s, cc::NV_CHANGE_AUTH);
    Cmd::new(cc::NV_CHANGE_AUTH)
        .handle(idx)
        .session(s, &[], 0, &[])
        .tpm2b(b"new")
        .run(&mut t, 0)
        .expect_ok();
    write_pw(&mut t, idx, idx, b"old", &[1; 4], 0).expect_rc(RC_BAD_AUTH_S1);
    write_pw(&mut t, idx, idx, b"new", &[1; 4], 0).expect_ok();
    // The authValue is not part of the Name.
    assert_eq!(
        read_public(&mut t, idx).1,
        nv_name(&nv_public(idx, alg::SHA256, AUTH_RW | WRITTEN, &policy, 4))
    );
}

#[test]
fn pin_pass_and_pin_fail_indices_count() {
    let (mut t, _) = started();
    // PIN Pass: each successful use of its authValue counts, up to pinLimit.
    let pass = 0x0150_0100;
    define(
        &mut t,
        pass,
        OWNER_RW | AUTHREAD | NT_PIN_PASS | NO_DA,
        b"pin",
        8,
    )
    .expect_ok();
    read_pw(&mut t, pass, pass, b"pin", 8, 0).expect_rc(RC_AUTH_UNAVAILABLE);
    let params = |count: u32, limit: u32| {
        let mut v = count.to_be_bytes().to_vec();
        v.extend_from_slice(&limit.to_be_bytes());
        v
    };
    write_pw(&mut t, rh::OWNER, pass, b"", &params(0, 2), 0).expect_ok();
    assert_eq!(read_ok(&mut t, pass, pass, b"pin", 8, 0), params(1, 2));
    assert_eq!(read_ok(&mut t, pass, pass, b"pin", 8, 0), params(2, 2));
    read_pw(&mut t, pass, pass, b"pin", 8, 0).expect_rc(RC_AUTH_UNAVAILABLE);
    assert_eq!(read_ok(&mut t, rh::OWNER, pass, b"", 8, 0), params(2, 2));
    // A failure does not count for a PIN Pass index.
    write_pw(&mut t, rh::OWNER, pass, b"", &params(0, 5), 0).expect_ok();
    read_pw(&mut t, pass, pass, b"nope", 8, 0).expect_rc(RC_BAD_AUTH_S1);
    assert_eq!(read_ok(&mut t, rh::OWNER, pass, b"", 8, 0), params(0, 5));

    // PIN Fail: failures count, a success resets.
    let fail = 0x0150_0101;
    define(&mut t, fail, OWNER_RW | NT_PIN_FAIL | NO_DA, b"pin", 8).expect_ok();
    write_pw(&mut t, rh::OWNER, fail, b"", &params(0, 2), 0).expect_ok();
    read_pw(&mut t, fail, fail, b"x", 8, 0).expect_rc(RC_BAD_AUTH_S1);
    assert_eq!(read_ok(&mut t, rh::OWNER, fail, b"", 8, 0), params(1, 2));
    assert_eq!(read_ok(&mut t, fail, fail, b"pin", 8, 0), params(0, 2));
    read_pw(&mut t, fail, fail, b"x", 8, 0).expect_rc(RC_BAD_AUTH_S1);
    read_pw(&mut t, fail, fail, b"x", 8, 0).expect_rc(RC_BAD_AUTH_S1);
    // pinCount reached pinLimit: the authValue is no longer available.
    read_pw(&mut t, fail, fail, b"pin", 8, 0).expect_rc(RC_AUTH_UNAVAILABLE);
    assert_eq!(read_ok(&mut t, rh::OWNER, fail, b"", 8, 0), params(2, 2));
}

// ---------------------------------------------------------------------------
// Undefine, hierarchies, space, persistence, capabilities.

#[test]
fn undefine_rules() {
    let (mut t, _) = started();
    let plat = 0x01C0_0100;
    define(
        &mut t,
        plat,
        PLATFORMCREATE | PPWRITE | PPREAD | OWNERREAD,
        b"",
        8,
    )
    .expect_ok();
    undefine(&mut t, rh::OWNER, plat).expect_rc(RC_NV_AUTHORIZATION);
    let owner = 0x0150_0110;
    define(&mut t, owner, OWNER_RW, b"", 8).expect_ok();
    // The platform may delete the owner's indices, locks notwithstanding.
    undefine(&mut t, rh::PLATFORM, owner).expect_ok();
    undefine(&mut t, rh::PLATFORM, plat).expect_ok();
    undefine(&mut t, rh::PLATFORM, plat).expect_rc(RC_HANDLE_H2);

    // POLICY_DELETE: only TPM2_NV_UndefineSpaceSpecial, with the policy
    // (ADMIN role) and platform authorization.
    let special = 0x01C0_0101;
    let policy = command_code_policy(cc::NV_UNDEFINE_SPACE_SPECIAL);
    let public = nv_public(
        special,
        alg::SHA256,
        PLATFORMCREATE | PPWRITE | PPREAD | POLICY_DELETE,
        &policy,
        8,
    );
    define_raw(&mut t, rh::PLATFORM, b"", &public).expect_ok();
    undefine(&mut t, rh::PLATFORM, special).expect_rc(RC_ATTRIBUTES_H2);
    let (s, _) = start_session(&mut t, 1);
    policy_command_code(&mut t, s, cc::NV_UNDEFINE_SPACE_SPECIAL);
    let special_cmd = |t: &mut Tpm, s: u32, index: u32| {
        Cmd::new(cc::NV_UNDEFINE_SPACE_SPECIAL)
            .handle(index)
            .handle(rh::PLATFORM)
            .session(s, &[], 0, &[])
            .pw(b"")
            .run(t, 0)
    };
    special_cmd(&mut t, s, special).expect_ok();
    Cmd::new(cc::NV_READ_PUBLIC)
        .handle(special)
        .run(&mut t, 0)
        .expect_rc(RC_HANDLE_H1);
    // Without POLICY_DELETE, UndefineSpaceSpecial refuses.
    let plain = 0x01C0_0102;
    let public = nv_public(
        plain,
        alg::SHA256,
        PLATFORMCREATE | PPWRITE | PPREAD,
        &policy,
        8,
    );
    define_raw(&mut t, rh::PLATFORM, b"", &public).expect_ok();
    let (s, _) = start_session(&mut t, 1);
    policy_command_code(&mut t, s, cc::NV_UNDEFINE_SPACE_SPECIAL);
    special_cmd(&mut t, s, plain).expect_rc(RC_ATTRIBUTES_H1);
}

#[test]
fn disabled_owner_hierarchy_hides_owner_indices() {
    let (mut t, clock) = started();
    let owner = 0x0150_0120;
    let plat = 0x01C0_0120;
    define(&mut t, owner, OWNER_RW | AUTHREAD | NO_DA, b"", 4).expect_ok();
    define(
        &mut t,
        plat,
        PLATFORMCREATE | PPWRITE | PPREAD | AUTHREAD,
        b"",
        4,
    )
    .expect_ok();
    write_pw(&mut t, rh::OWNER, owner, b"", &[1; 4], 0).expect_ok();
    // TPM2_HierarchyControl(platform, TPM_RH_OWNER, NO).
    Cmd::new(cc::HIERARCHY_CONTROL)
        .handle(rh::PLATFORM)
        .pw(b"")
        .u32(rh::OWNER)
        .u8(0)
        .run(&mut t, 0)
        .expect_ok();
    Cmd::new(cc::NV_READ_PUBLIC)
        .handle(owner)
        .run(&mut t, 0)
        .expect_rc(RC_HANDLE_H1);
    read_pw(&mut t, owner, owner, b"", 4, 0).expect_rc(RC_HANDLE_H1);
    read_public(&mut t, plat);
    // TPM2_HierarchyControl(platform, TPM_RH_PLATFORM_NV, NO).
    Cmd::new(cc::HIERARCHY_CONTROL)
        .handle(rh::PLATFORM)
        .pw(b"")
        .u32(rh::PLATFORM_NV)
        .u8(0)
        .run(&mut t, 0)
        .expect_ok();
    Cmd::new(cc::NV_READ_PUBLIC)
        .handle(plat)
        .run(&mut t, 0)
        .expect_rc(RC_HANDLE_H1);
    // A TPM Reset enables both again.
    let mut t = power_loss(&t, &clock);
    assert_eq!(read_ok(&mut t, owner, owner, b"", 4, 0), vec![1; 4]);
    read_public(&mut t, plat);
}

#[test]
fn nv_space_runs_out() {
    let (mut t, _) = started();
    // Large indices until NV is full.
    let mut n = 0;
    loop {
        let r = define(&mut t, 0x0150_0200 + n, OWNER_RW, b"", 2048);
        if r.rc == RC_NV_SPACE {
            break;
        }
        r.expect_ok();
        n += 1;
        assert!(n < 100, "NV never fills");
    }
    assert!(n >= 20, "only {n} indices of 2048 octets fit");
    // Freeing one makes room again.
    undefine(&mut t, rh::OWNER, 0x0150_0200).expect_ok();
    define(&mut t, 0x0150_0200, OWNER_RW, b"", 2048).expect_ok();

    // Orderly data lives in 512 octets of RAM.
    let (mut t, _) = started();
    define(&mut t, 0x0150_0300, OWNER_RW | ORDERLY, b"", 400).expect_ok();
    define(&mut t, 0x0150_0301, OWNER_RW | ORDERLY, b"", 200).expect_rc(RC_NV_SPACE);
    define(&mut t, 0x0150_0301, OWNER_RW, b"", 200).expect_ok();

    // At most 64 indices.
    let (mut t, _) = started();
    for i in 0..64 {
        define(&mut t, 0x0150_0400 + i, OWNER_RW, b"", 1).expect_ok();
    }
    define(&mut t, 0x0150_0400 + 64, OWNER_RW, b"", 1).expect_rc(RC_NV_SPACE);
}

#[test]
fn indices_survive_blob_reload_bit_for_bit() {
    let (mut t, clock) = started();
    let a = 0x0150_0500;
    let b = 0x0150_0501;
    let c = 0x01C0_0502;
    define(&mut t, a, AUTH_RW | WRITEDEFINE, b"a-pass", 100).expect_ok();
    define(&mut t, b, OWNER_RW | NT_COUNTER, b"", 8).expect_ok();
    define(
        &mut t,
        c,
        PLATFORMCREATE | PPWRITE | PPREAD | NT_BITS,
        b"",
        8,
    )
    .expect_ok();
    write_pw(&mut t, a, a, b"a-pass", &[0x42; 50], 25).expect_ok();
    on_index(&mut t, cc::NV_WRITE_LOCK, a, a, b"a-pass", &[]).expect_ok();
    increment(&mut t, rh::OWNER, b, b"").expect_ok();
    on_index(
        &mut t,
        cc::NV_SET_BITS,
        rh::PLATFORM,
        c,
        b"",
        &0x30u64.to_be_bytes(),
    )
    .expect_ok();
    let before: Vec<_> = [a, b, c].iter().map(|&i| read_public(&mut t, i)).collect();
    let data_a = read_ok(&mut t, a, a, b"a-pass", 100, 0);

    let blob = t.state_blob();
    let mut r = Tpm::from_state(&blob, Drbg::new([1; 32]), Box::new(clock.clone())).unwrap();
    assert_eq!(r.state_blob(), blob, "the blob re-encodes identically");
    // Startup(CLEAR) after Startup without Shutdown: a TPM Reset.
    startup_clear(&mut r);
    let after: Vec<_> = [a, b, c].iter().map(|&i| read_public(&mut r, i)).collect();
    assert_eq!(before, after);
    assert_eq!(read_ok(&mut r, a, a, b"a-pass", 100, 0), data_a);
    assert_eq!(read_u64(&mut r, rh::OWNER, b, b""), 1);
    assert_eq!(read_u64(&mut r, rh::PLATFORM, c, b""), 0x30);
    write_pw(&mut r, a, a, b"a-pass", &[1], 0).expect_rc(RC_NV_LOCKED);

    // A blob whose NV field is damaged is refused whole (its checksum).
    let mut bad = blob.clone();
    let at = bad.len() - 40;
    bad[at] ^= 0x80;
    assert!(Tpm::from_state(&bad, Drbg::new([1; 32]), Box::new(clock.clone())).is_err());
}

#[test]
fn nv_state_marks_the_tpm_dirty() {
    let (mut t, _) = started();
    t.take_dirty();
    let idx = 0x0150_0600;
    define(&mut t, idx, OWNER_RW, b"", 8).expect_ok();
    assert!(t.take_dirty(), "define");
    write_pw(&mut t, rh::OWNER, idx, b"", &[1; 8], 0).expect_ok();
    assert!(t.take_dirty(), "write");
    read_ok(&mut t, rh::OWNER, idx, b"", 8, 0);
    assert!(!t.take_dirty(), "read changes nothing");
    // An orderly index changes RAM only, until it must be committed.
    let o = 0x0150_0601;
    define(&mut t, o, OWNER_RW | ORDERLY, b"", 8).expect_ok();
    assert!(t.take_dirty(), "define orderly");
    write_pw(&mut t, rh::OWNER, o, b"", &[1; 8], 0).expect_ok();
    assert!(!t.take_dirty(), "orderly write");
}

/// TPM2_GetCapability(TPM_CAP_HANDLES, `first`, `count`): (more, handles).
fn cap_handles(tpm: &mut Tpm, first: u32, count: u32) -> (bool, Vec<u32>) {
    let r = Cmd::new(cc::GET_CAPABILITY)
        .u32(1)
        .u32(first)
        .u32(count)
        .run(tpm, 0);
    let mut p = r.params(false);
    let more = p.u8() == 1;
    assert_eq!(p.u32(), 1, "TPM_CAP_HANDLES");
    let n = p.u32();
    let v = (0..n).map(|_| p.u32()).collect();
    p.end();
    (more, v)
}

fn cap_property(tpm: &mut Tpm, prop: u32) -> u32 {
    let r = Cmd::new(cc::GET_CAPABILITY)
        .u32(6)
        .u32(prop)
        .u32(1)
        .run(tpm, 0);
    let mut p = r.params(false);
    p.u8();
    assert_eq!(p.u32(), 6);
    assert_eq!(p.u32(), 1);
    assert_eq!(p.u32(), prop);
    p.u32()
}

#[test]
fn capabilities_report_indices_and_counters() {
    let (mut t, _) = started();
    assert_eq!(cap_handles(&mut t, 0x0100_0000, 100), (false, vec![]));
    let avail = cap_property(&mut t, pt::NV_COUNTERS_AVAIL);
    for i in [0x0150_0703, 0x0100_0001, 0x01C0_0002] {
        let attrs = if i >= 0x01C0_0000 {
            PLATFORMCREATE | PPWRITE | PPREAD
        } else {
            OWNER_RW
        };
        define(&mut t, i, attrs, b"", 16).expect_ok();
    }
    define(&mut t, 0x0150_0704, OWNER_RW | NT_COUNTER, b"", 8).expect_ok();
    assert_eq!(
        cap_handles(&mut t, 0x0100_0000, 100),
        (
            false,
            vec![0x0100_0001, 0x0150_0703, 0x0150_0704, 0x01C0_0002]
        )
    );
    assert_eq!(
        cap_handles(&mut t, 0x0150_0000, 2),
        (true, vec![0x0150_0703, 0x0150_0704])
    );
    assert_eq!(cap_property(&mut t, pt::HR_NV_INDEX), 4);
    assert_eq!(cap_property(&mut t, pt::NV_COUNTERS), 1);
    // The estimate is bounded by orderly RAM (RAM_INDEX_SPACE 512, 12-octet
    // headers, 8-octet counters), as the reference NvCapGetCounterAvail.
    assert_eq!(avail, 512 / 20);
    define(&mut t, 0x0150_0705, OWNER_RW | ORDERLY, b"", 100).expect_ok();
    assert_eq!(
        cap_property(&mut t, pt::NV_COUNTERS_AVAIL),
        (512 - 112) / 20
    );
}

#[test]
fn ek_certificate_indices_as_the_platform_provisions_them() {
    let (mut t, clock) = started();
    // TCG EK Credential Profile: RSA and ECC EK certificate indices, defined
    // and written by the platform, locked, readable by the owner and by
    // their (empty) authValue.
    let ek_attrs = PLATFORMCREATE | PPWRITE | PPREAD | OWNERREAD | AUTHREAD | NO_DA | WRITEDEFINE;
    let certs = [
        (
            0x01C0_0002u32,
            (0..1290u32).map(|i| (i % 251) as u8).collect::<Vec<u8>>(),
        ),
        (0x01C0_000A, (0..730u32).map(|i| (i % 241) as u8).collect()),
    ];
    for (idx, cert) in &certs {
        let public = nv_public(*idx, alg::SHA256, ek_attrs, &[], cert.len() as u16);
        define_raw(&mut t, rh::PLATFORM, b"", &public).expect_ok();
        for (n, chunk) in cert.chunks(1024).enumerate() {
            write_pw(&mut t, rh::PLATFORM, *idx, b"", chunk, (n * 1024) as u16).expect_ok();
        }
        on_index(&mut t, cc::NV_WRITE_LOCK, rh::PLATFORM, *idx, b"", &[]).expect_ok();
        write_pw(&mut t, rh::PLATFORM, *idx, b"", &[0], 0).expect_rc(RC_NV_LOCKED);
        write_pw(&mut t, rh::OWNER, *idx, b"", &[0], 0).expect_rc(RC_NV_LOCKED);
        undefine(&mut t, rh::OWNER, *idx).expect_rc(RC_NV_AUTHORIZATION);
    }
    let mut t = power_loss(&t, &clock);
    for (idx, cert) in &certs {
        let (public, name) = read_public(&mut t, *idx);
        let want = nv_public(
            *idx,
            alg::SHA256,
            ek_attrs | WRITTEN | WRITELOCKED,
            &[],
            cert.len() as u16,
        );
        assert_eq!(public, want);
        assert_eq!(name, nv_name(&want));
        for auth in [rh::OWNER, *idx] {
            let mut got = Vec::new();
            while got.len() < cert.len() {
                let n = (cert.len() - got.len()).min(1024) as u16;
                got.extend(read_ok(&mut t, auth, *idx, b"", n, got.len() as u16));
            }
            assert_eq!(&got, cert);
        }
    }
}
