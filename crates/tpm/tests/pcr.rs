//! Engine-level tests of the PCR commands (TPM 2.0 Part 3 §22) with the PC
//! Client PTP PCR attributes. Expected values are recomputed with the
//! sha1/sha2/sm3 crates; expected response codes and counters are the ones
//! swtpm 0.7 (libtpms 0.9) gives for the same command bytes.

mod common;
use common::*;

const ALL: [HashAlg; 5] = [
    HashAlg::Sha1,
    HashAlg::Sha256,
    HashAlg::Sha384,
    HashAlg::Sha512,
    HashAlg::Sm3_256,
];
const ALL_IDS: [u16; 5] = [
    alg::SHA1,
    alg::SHA256,
    alg::SHA384,
    alg::SHA512,
    alg::SM3_256,
];

const RC_LOCALITY: u32 = 0x907;
const RC_INITIALIZE: u32 = 0x100;
const RC_AUTH_MISSING: u32 = 0x125;
const RC_PCR: u32 = 0x127;
const RC_VALUE_H1: u32 = 0x184;
const RC_VALUE_P1: u32 = 0x1c4;
const RC_HASH_P1: u32 = 0x1c3;
const RC_SIZE_P1: u32 = 0x1d5;
const RC_INSUFFICIENT_P1: u32 = 0x1da;
const RC_SIZE: u32 = 0x095;
const RC_TYPE_P1: u32 = 0x1ca;

/// Extend and reset locality bitmaps per PCR, from the PC Client PTP
/// attribute table (as libtpms reports them in TPM_CAP_PCR_PROPERTIES).
fn may_extend(pcr: u32, locality: u8) -> bool {
    let mask: u8 = match pcr {
        0..=16 | 23 => 0x1f,
        17 | 18 => 0x1c,
        19 => 0x0c,
        20 => 0x0e,
        21 | 22 => 0x04,
        _ => 0,
    };
    mask & (1 << locality) != 0
}

fn may_reset(pcr: u32, locality: u8) -> bool {
    // Locality 4 never resets with TPM2_PCR_Reset on a D-RTM TPM.
    let mask: u8 = match pcr {
        16 | 23 => 0x0f,
        20..=22 => 0x04,
        _ => 0,
    };
    mask & (1 << locality) != 0
}

/// PCRs whose changes leave pcrUpdateCounter alone.
fn no_increment(pcr: u32) -> bool {
    matches!(pcr, 16 | 21 | 22 | 23)
}

fn initial(pcr: u32, len: usize, locality: u8) -> Vec<u8> {
    if (17..=22).contains(&pcr) {
        vec![0xff; len]
    } else if pcr == 0 {
        let mut v = vec![0; len];
        v[len - 1] = locality;
        v
    } else {
        vec![0; len]
    }
}

fn started(banks: &[HashAlg]) -> (tpm::Tpm, TestClock) {
    let (mut t, c) = engine(banks);
    startup_clear(&mut t);
    (t, c)
}

#[test]
fn commands_need_startup() {
    let (mut t, _) = engine(&[HashAlg::Sha256]);
    Cmd::new(cc::PCR_READ)
        .bytes(&pcr_selection(&[(alg::SHA256, &[0])]))
        .run(&mut t, 0)
        .expect_rc(RC_INITIALIZE);
    pcr_extend(&mut t, 0, 0, &[]).expect_rc(RC_INITIALIZE);
}

#[test]
fn initial_values_after_startup_in_every_bank() {
    let (mut t, _) = started(&ALL);
    for a in ALL_IDS {
        for pcr in 0..24 {
            assert_eq!(
                pcr_value(&mut t, a, pcr),
                initial(pcr, digest_len(a), 0),
                "bank {a:#x} pcr {pcr}"
            );
        }
    }
    // Every PCR initialized at Startup counts as changed except the
    // no-increment ones (16, 21, 22, 23): 20, as swtpm reports.
    assert_eq!(pcr_counter(&mut t), 20);
}

#[test]
fn startup_at_locality_3_marks_pcr0() {
    let (mut t, _) = engine(&ALL);
    startup(&mut t, 3, su::CLEAR).expect_ok();
    for a in ALL_IDS {
        let v = pcr_value(&mut t, a, 0);
        assert_eq!(v, initial(0, digest_len(a), 3));
        assert_eq!(*v.last().unwrap(), 3);
        assert_eq!(pcr_value(&mut t, a, 1), vec![0; digest_len(a)]);
    }
}

#[test]
fn extend_recomputes_in_each_bank() {
    let (mut t, _) = started(&ALL);
    let mut expect: Vec<Vec<u8>> = ALL_IDS.iter().map(|&a| vec![0; digest_len(a)]).collect();
    for round in 0u8..3 {
        let ds: Vec<(u16, Vec<u8>)> = ALL_IDS
            .iter()
            .map(|&a| (a, vec![round.wrapping_mul(37) ^ a as u8; digest_len(a)]))
            .collect();
        let refs: Vec<(u16, &[u8])> = ds.iter().map(|(a, d)| (*a, d.as_slice())).collect();
        pcr_extend(&mut t, 0, 7, &refs).expect_ok();
        for (i, (a, d)) in ds.iter().enumerate() {
            expect[i] = hash(*a, &[&expect[i], d]);
        }
    }
    for (i, &a) in ALL_IDS.iter().enumerate() {
        assert_eq!(pcr_value(&mut t, a, 7), expect[i], "bank {a:#x}");
    }
    // Known answer: one extend of SHA-256 PCR 8 with 32 zero octets.
    pcr_extend(&mut t, 0, 8, &[(alg::SHA256, &[0; 32])]).expect_ok();
    assert_eq!(
        hex::encode(pcr_value(&mut t, alg::SHA256, 8)),
        "f5a5fd42d16a20302798ef6ed309979b43003d2320d9f0e8ea9831a92759fb4b"
    );
}

#[test]
fn extend_response_is_empty_with_password_session() {
    let (mut t, _) = started(&[HashAlg::Sha256]);
    let r = pcr_extend(&mut t, 0, 3, &[(alg::SHA256, &[1; 32])]);
    assert_eq!(r.tag, ST_SESSIONS);
    // parameterSize 0, then one password-session response.
    assert_eq!(r.body, [0, 0, 0, 0, 0, 0, 1, 0, 0]);
    r.params(false).end();
}

#[test]
fn extend_same_bank_twice_and_unallocated_bank() {
    let (mut t, _) = started(&[HashAlg::Sha256]);
    let c0 = pcr_counter(&mut t);
    // SHA-1 is not allocated: its digest is ignored, without error.
    pcr_extend(
        &mut t,
        0,
        4,
        &[
            (alg::SHA256, &[1; 32]),
            (alg::SHA1, &[2; 20]),
            (alg::SHA256, &[3; 32]),
        ],
    )
    .expect_ok();
    let once = hash(alg::SHA256, &[&[0; 32], &[1; 32]]);
    let twice = hash(alg::SHA256, &[&once, &[3; 32]]);
    assert_eq!(pcr_value(&mut t, alg::SHA256, 4), twice);
    // One count per bank actually extended, as libtpms' PCRExtend().
    assert_eq!(pcr_counter(&mut t), c0 + 2);
    // The SHA-1 bank is listed in the allocation but empty.
    let r = pcr_read(&mut t, &[(alg::SHA1, &[4])]);
    assert_eq!(r.selection, vec![(alg::SHA1, [0, 0, 0])]);
    assert!(r.digests.is_empty());
}

#[test]
fn extend_null_handle_is_a_noop_at_any_locality() {
    let (mut t, _) = started(&[HashAlg::Sha256]);
    let before = pcr_read(&mut t, &[(alg::SHA256, &[0, 1, 2, 3, 4, 5, 6, 7])]);
    for loc in 0..=4 {
        pcr_extend(&mut t, loc, rh::NULL, &[(alg::SHA256, &[9; 32])]).expect_ok();
    }
    assert_eq!(
        pcr_read(&mut t, &[(alg::SHA256, &[0, 1, 2, 3, 4, 5, 6, 7])]),
        before
    );
}

#[test]
fn extend_locality_matrix() {
    let (mut t, _) = started(&[HashAlg::Sha256]);
    for pcr in 0..24u32 {
        for loc in 0..=4u8 {
            let before = pcr_value(&mut t, alg::SHA256, pcr);
            let r = pcr_extend(&mut t, loc, pcr, &[(alg::SHA256, &[0xab; 32])]);
            if may_extend(pcr, loc) {
                r.expect_ok();
                assert_eq!(
                    pcr_value(&mut t, alg::SHA256, pcr),
                    hash(alg::SHA256, &[&before, &[0xab; 32]])
                );
            } else {
                r.expect_rc(RC_LOCALITY);
                assert_eq!(pcr_value(&mut t, alg::SHA256, pcr), before);
            }
        }
    }
}

#[test]
fn counter_follows_no_increment_set() {
    let (mut t, _) = started(&[HashAlg::Sha1, HashAlg::Sha256]);
    for pcr in 0..24u32 {
        let loc = (0..=4).find(|&l| may_extend(pcr, l)).unwrap();
        let c = pcr_counter(&mut t);
        pcr_extend(
            &mut t,
            loc,
            pcr,
            &[(alg::SHA256, &[1; 32]), (alg::SHA1, &[1; 20])],
        )
        .expect_ok();
        let want = if no_increment(pcr) { 0 } else { 2 };
        assert_eq!(pcr_counter(&mut t) - c, want, "pcr {pcr}");
    }
    // An empty digest list changes nothing.
    let c = pcr_counter(&mut t);
    pcr_extend(&mut t, 0, 1, &[]).expect_ok();
    assert_eq!(pcr_counter(&mut t), c);
}

#[test]
fn reset_locality_matrix_and_values() {
    let (mut t, _) = started(&[HashAlg::Sha256, HashAlg::Sm3_256]);
    for pcr in 0..24u32 {
        for loc in 0..=4u8 {
            // Make the PCR non-initial first where possible.
            if let Some(l) = (0..=4).find(|&l| may_extend(pcr, l)) {
                pcr_extend(
                    &mut t,
                    l,
                    pcr,
                    &[(alg::SHA256, &[7; 32]), (alg::SM3_256, &[7; 32])],
                )
                .expect_ok();
            }
            let before = pcr_value(&mut t, alg::SHA256, pcr);
            let c = pcr_counter(&mut t);
            let r = Cmd::new(cc::PCR_RESET).handle(pcr).pw(b"").run(&mut t, loc);
            if may_reset(pcr, loc) {
                r.expect_ok();
                assert_eq!(pcr_value(&mut t, alg::SHA256, pcr), vec![0; 32]);
                assert_eq!(pcr_value(&mut t, alg::SM3_256, pcr), vec![0; 32]);
                let want = u32::from(!no_increment(pcr));
                assert_eq!(pcr_counter(&mut t) - c, want, "pcr {pcr}");
            } else {
                r.expect_rc(RC_LOCALITY);
                assert_eq!(pcr_value(&mut t, alg::SHA256, pcr), before);
                assert_eq!(pcr_counter(&mut t), c);
            }
        }
    }
}

#[test]
fn reset_handle_checks() {
    let (mut t, _) = started(&[HashAlg::Sha256]);
    // TPMI_DH_PCR without "+": TPM_RH_NULL and PCR 24 are bad handles.
    Cmd::new(cc::PCR_RESET)
        .handle(rh::NULL)
        .pw(b"")
        .run(&mut t, 0)
        .expect_rc(RC_VALUE_H1);
    Cmd::new(cc::PCR_RESET)
        .handle(24)
        .pw(b"")
        .run(&mut t, 0)
        .expect_rc(RC_VALUE_H1);
    Cmd::new(cc::PCR_RESET)
        .handle(16)
        .run(&mut t, 0)
        .expect_rc(RC_AUTH_MISSING);
    pcr_extend(&mut t, 0, 24, &[]).expect_rc(RC_VALUE_H1);
}

fn pcr_event(t: &mut tpm::Tpm, loc: u8, pcr: u32, data: &[u8]) -> Resp {
    Cmd::new(cc::PCR_EVENT)
        .handle(pcr)
        .pw(b"")
        .tpm2b(data)
        .run(t, loc)
}

fn parse_digest_values(r: &Resp) -> Vec<(u16, Vec<u8>)> {
    let mut p = r.params(false);
    let n = p.u32();
    let v = (0..n)
        .map(|_| {
            let a = p.u16();
            (a, p.bytes(digest_len(a)).to_vec())
        })
        .collect();
    p.end();
    v
}

#[test]
fn event_hashes_with_every_implemented_hash_and_extends_active_banks() {
    let banks = [
        HashAlg::Sha1,
        HashAlg::Sha256,
        HashAlg::Sha384,
        HashAlg::Sm3_256,
    ];
    let ids = [alg::SHA1, alg::SHA256, alg::SHA384, alg::SM3_256];
    let (mut t, _) = started(&banks);
    let data = b"measured boot event";
    let r = pcr_event(&mut t, 0, 5, data);
    let got = parse_digest_values(&r);
    // Every implemented hash is returned (as the reference code does); only
    // allocated banks are extended.
    let all = [
        alg::SHA1,
        alg::SHA256,
        alg::SHA384,
        alg::SHA512,
        alg::SM3_256,
    ];
    let want: Vec<(u16, Vec<u8>)> = all.iter().map(|&a| (a, hash(a, &[data]))).collect();
    assert_eq!(got, want);
    for (a, d) in want.iter().filter(|(a, _)| ids.contains(a)) {
        assert_eq!(
            pcr_value(&mut t, *a, 5),
            hash(*a, &[&vec![0; digest_len(*a)], d])
        );
    }
    // "abc" known answers for SHA-1 and SM3 (FIPS 180, GB/T 32905).
    let got = parse_digest_values(&pcr_event(&mut t, 0, rh::NULL, b"abc"));
    assert_eq!(
        hex::encode(&got[0].1),
        "a9993e364706816aba3e25717850c26c9cd0d89d"
    );
    assert_eq!(
        hex::encode(&got[4].1),
        "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    );
}

#[test]
fn event_with_null_handle_returns_digests_without_extending() {
    let (mut t, _) = started(&[HashAlg::Sha256]);
    let before = pcr_read(&mut t, &[(alg::SHA256, &[0, 1, 2, 3, 4, 5, 6, 7])]);
    let got = parse_digest_values(&pcr_event(&mut t, 4, rh::NULL, b""));
    let all = [
        alg::SHA1,
        alg::SHA256,
        alg::SHA384,
        alg::SHA512,
        alg::SM3_256,
    ];
    assert_eq!(
        got,
        all.iter()
            .map(|&a| (a, hash(a, &[b""])))
            .collect::<Vec<_>>()
    );
    assert_eq!(
        pcr_read(&mut t, &[(alg::SHA256, &[0, 1, 2, 3, 4, 5, 6, 7])]),
        before
    );
}

#[test]
fn event_locality_and_size_limits() {
    let (mut t, _) = started(&[HashAlg::Sha256]);
    pcr_event(&mut t, 0, 17, b"x").expect_rc(RC_LOCALITY);
    pcr_event(&mut t, 2, 21, b"x").expect_ok();
    pcr_event(&mut t, 3, 21, b"x").expect_rc(RC_LOCALITY);
    // TPM2B_EVENT holds up to 1024 octets.
    let big = vec![0x5a; 1024];
    let got = parse_digest_values(&pcr_event(&mut t, 0, 16, &big));
    assert_eq!(got[1], (alg::SHA256, hash(alg::SHA256, &[&big])));
    pcr_event(&mut t, 0, 16, &[0; 1025]).expect_rc(RC_SIZE_P1);
}

#[test]
fn read_caps_at_eight_digests_and_trims_selection() {
    let (mut t, _) = started(&[HashAlg::Sha1, HashAlg::Sha256, HashAlg::Sha384]);
    let r = pcr_read(
        &mut t,
        &[
            (alg::SHA1, &[0, 1, 2, 3, 4, 5]),
            (alg::SHA256, &[0, 1, 2, 3, 4, 5]),
        ],
    );
    assert_eq!(
        r.selection,
        vec![(alg::SHA1, [0x3f, 0, 0]), (alg::SHA256, [0x03, 0, 0])]
    );
    assert_eq!(r.digests.len(), 8);
    assert_eq!(r.digests[5], vec![0; 20]);
    assert_eq!(r.digests[6], vec![0; 32]);
    // A bank after the limit is listed with an empty selection.
    let r = pcr_read(
        &mut t,
        &[
            (alg::SHA1, &[0, 1, 2, 3, 4, 5, 6, 7]),
            (alg::SHA256, &[0]),
            (alg::SHA384, &[23]),
        ],
    );
    assert_eq!(
        r.selection,
        vec![
            (alg::SHA1, [0xff, 0, 0]),
            (alg::SHA256, [0, 0, 0]),
            (alg::SHA384, [0, 0, 0])
        ]
    );
    assert_eq!(r.digests.len(), 8);
    // All 24 of one bank: only PCR 0–7 come back.
    let all: Vec<u32> = (0..24).collect();
    let r = pcr_read(&mut t, &[(alg::SHA256, &all)]);
    assert_eq!(r.selection, vec![(alg::SHA256, [0xff, 0, 0])]);
    // PCR 16–23 via a second read.
    let r = pcr_read(&mut t, &[(alg::SHA256, &all[16..])]);
    assert_eq!(r.selection, vec![(alg::SHA256, [0, 0, 0xff])]);
    for (i, d) in r.digests.iter().enumerate() {
        assert_eq!(*d, initial(16 + i as u32, 32, 0));
    }
}

#[test]
fn read_duplicate_and_empty_selections() {
    let (mut t, _) = started(&[HashAlg::Sha256]);
    pcr_extend(&mut t, 0, 1, &[(alg::SHA256, &[1; 32])]).expect_ok();
    let v1 = hash(alg::SHA256, &[&[0; 32], &[1; 32]]);
    let r = pcr_read(&mut t, &[(alg::SHA256, &[0, 1]), (alg::SHA256, &[0, 1])]);
    assert_eq!(r.digests, vec![vec![0; 32], v1.clone(), vec![0; 32], v1]);
    let r = pcr_read(&mut t, &[]);
    assert!(r.selection.is_empty() && r.digests.is_empty());
    assert_eq!(r.update_counter, 21);
}

#[test]
fn read_malformed_selections() {
    let (mut t, _) = started(&[HashAlg::Sha256]);
    // sizeofSelect must be 3 (PCR_SELECT_MIN..=PCR_SELECT_MAX).
    for size in [0u8, 2, 4] {
        let mut b = vec![0, 0, 0, 1, 0, 0x0b, size];
        b.extend(vec![0xff; size as usize]);
        Cmd::new(cc::PCR_READ)
            .bytes(&b)
            .run(&mut t, 0)
            .expect_rc(RC_VALUE_P1);
    }
    // TPM_ALG_NULL is not a hash.
    Cmd::new(cc::PCR_READ)
        .bytes(&[0, 0, 0, 1, 0, 0x10, 3, 0xff, 0xff, 0xff])
        .run(&mut t, 0)
        .expect_rc(RC_HASH_P1);
    // Truncated, trailing byte, too many selections.
    Cmd::new(cc::PCR_READ)
        .bytes(&[0, 0, 0, 1, 0, 0x0b, 3, 0xff, 0xff])
        .run(&mut t, 0)
        .expect_rc(RC_INSUFFICIENT_P1);
    Cmd::new(cc::PCR_READ)
        .bytes(&[0, 0, 0, 1, 0, 0x0b, 3, 0xff, 0xff, 0xff, 0])
        .run(&mut t, 0)
        .expect_rc(RC_SIZE);
    let mut b = vec![0, 0, 0, 6];
    for _ in 0..6 {
        b.extend_from_slice(&[0, 0x0b, 3, 1, 0, 0]);
    }
    Cmd::new(cc::PCR_READ)
        .bytes(&b)
        .run(&mut t, 0)
        .expect_rc(RC_SIZE_P1);
}

fn allocate(t: &mut tpm::Tpm, list: &[(u16, &[u32])]) -> Resp {
    Cmd::new(cc::PCR_ALLOCATE)
        .handle(rh::PLATFORM)
        .pw(b"")
        .bytes(&pcr_selection(list))
        .run(t, 0)
}

/// (allocationSuccess, maxPCR, sizeNeeded, sizeAvailable)
fn parse_allocate(r: &Resp) -> (u8, u32, u32, u32) {
    let mut p = r.params(false);
    let v = (p.u8(), p.u32(), p.u32(), p.u32());
    p.end();
    v
}

const ALL_PCRS: [u32; 24] = [
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23,
];
/// 24 PCRs of every implemented bank: 24 × (20 + 32 + 48 + 64 + 32).
const SIZE_AVAILABLE: u32 = 4704;

#[test]
fn allocate_reports_sizes_and_validates() {
    let (mut t, _) = started(&[HashAlg::Sha256]);
    // An empty request re-stores the current allocation.
    assert_eq!(
        parse_allocate(&allocate(&mut t, &[])),
        (1, 24, 24 * 32, SIZE_AVAILABLE)
    );
    let r = allocate(&mut t, &[(alg::SHA1, &ALL_PCRS), (alg::SM3_256, &[0, 17])]);
    assert_eq!(
        parse_allocate(&r),
        (1, 24, 24 * 32 + 24 * 20 + 2 * 32, SIZE_AVAILABLE)
    );
    // The last selection of a bank wins.
    let r = allocate(&mut t, &[(alg::SHA384, &ALL_PCRS), (alg::SHA384, &[0])]);
    assert_eq!(parse_allocate(&r), (1, 24, 24 * 32 + 48, SIZE_AVAILABLE));
    // Some bank must keep PCR 0 (H-CRTM) and PCR 17 (D-RTM).
    let no0: Vec<u32> = (1..24).collect();
    allocate(&mut t, &[(alg::SHA256, &no0)]).expect_rc(RC_PCR);
    let no17: Vec<u32> = ALL_PCRS.iter().copied().filter(|&p| p != 17).collect();
    allocate(&mut t, &[(alg::SHA256, &no17)]).expect_rc(RC_PCR);
    allocate(&mut t, &[(alg::SHA256, &[])]).expect_rc(RC_PCR);
    // ... in any bank.
    let r = allocate(&mut t, &[(alg::SHA256, &[0]), (alg::SM3_256, &[17])]);
    assert_eq!(parse_allocate(&r), (1, 24, 64, SIZE_AVAILABLE));
    // Platform authorization only.
    Cmd::new(cc::PCR_ALLOCATE)
        .handle(rh::OWNER)
        .pw(b"")
        .bytes(&pcr_selection(&[(alg::SHA256, &ALL_PCRS)]))
        .run(&mut t, 0)
        .expect_rc(RC_VALUE_H1);
    Cmd::new(cc::PCR_ALLOCATE)
        .handle(rh::PLATFORM)
        .bytes(&pcr_selection(&[(alg::SHA256, &ALL_PCRS)]))
        .run(&mut t, 0)
        .expect_rc(RC_AUTH_MISSING);
    // Unimplemented hash in the request.
    Cmd::new(cc::PCR_ALLOCATE)
        .handle(rh::PLATFORM)
        .pw(b"")
        .bytes(&[0, 0, 0, 1, 0, 0x10, 3, 0xff, 0xff, 0xff])
        .run(&mut t, 0)
        .expect_rc(RC_HASH_P1);
}

#[test]
fn allocation_takes_effect_only_after_power_cycle_and_startup_clear() {
    let (mut t, clock) = started(&[HashAlg::Sha256]);
    t.take_dirty();
    allocate(
        &mut t,
        &[
            (alg::SHA256, &[]),
            (alg::SM3_256, &ALL_PCRS),
            (alg::SHA1, &[0, 1, 17]),
        ],
    )
    .expect_ok();
    assert!(t.is_dirty(), "the pending allocation must be persisted");
    // Still the old banks.
    assert_eq!(pcr_value(&mut t, alg::SHA256, 3), vec![0; 32]);
    assert!(pcr_read(&mut t, &[(alg::SM3_256, &[3])]).digests.is_empty());
    // Shutdown(STATE) is refused once an allocation is pending.
    shutdown(&mut t, su::STATE).expect_rc(RC_TYPE_P1);
    shutdown(&mut t, su::CLEAR).expect_ok();
    // A process restart keeps the pending allocation.
    let mut t = reload(&t, &clock);
    let sha256 = t
        .pcr_allocation()
        .0
        .iter()
        .find(|s| s.hash == HashAlg::Sha256)
        .cloned()
        .unwrap();
    assert_eq!(
        sha256.select, [0xff; 3],
        "not applied before Startup(CLEAR)"
    );
    startup(&mut t, 0, su::STATE).expect_rc(RC_VALUE_P1);
    startup_clear(&mut t);
    let r = pcr_read(
        &mut t,
        &[
            (alg::SHA256, &[0]),
            (alg::SM3_256, &[0, 1]),
            (alg::SHA1, &[0, 1, 2, 17]),
        ],
    );
    assert_eq!(
        r.selection,
        vec![
            (alg::SHA256, [0, 0, 0]),
            (alg::SM3_256, [3, 0, 0]),
            (alg::SHA1, [3, 0, 2])
        ]
    );
    assert_eq!(
        r.digests,
        vec![
            vec![0; 32],
            vec![0; 32],
            vec![0; 20],
            vec![0; 20],
            vec![0xff; 20]
        ]
    );
    // The allocation lists every implemented bank, in algorithm order.
    let alloc: Vec<(HashAlg, bool)> = t
        .pcr_allocation()
        .0
        .iter()
        .map(|s| (s.hash, s.is_empty()))
        .collect();
    assert_eq!(
        alloc,
        vec![
            (HashAlg::Sha1, false),
            (HashAlg::Sha256, true),
            (HashAlg::Sha384, true),
            (HashAlg::Sha512, true),
            (HashAlg::Sm3_256, false)
        ]
    );
    // PCR_Event now extends the SHA-1 and SM3 banks.
    pcr_event(&mut t, 0, 1, b"e").expect_ok();
    assert_eq!(
        pcr_value(&mut t, alg::SM3_256, 1),
        hash(alg::SM3_256, &[&[0; 32], &hash(alg::SM3_256, &[b"e"])])
    );
    // Shutdown(STATE) is allowed again.
    shutdown(&mut t, su::STATE).expect_ok();
}

#[test]
fn allocation_applies_at_in_process_power_cycle_too() {
    let (mut t, _) = started(&[HashAlg::Sha256]);
    allocate(&mut t, &[(alg::SHA512, &ALL_PCRS)]).expect_ok();
    t.power_on();
    startup_clear(&mut t);
    assert_eq!(pcr_value(&mut t, alg::SHA512, 17), vec![0xff; 64]);
    assert_eq!(pcr_value(&mut t, alg::SHA256, 17), vec![0xff; 32]);
}

#[test]
fn extending_saved_pcr_after_shutdown_state_voids_the_saved_state() {
    let (mut t, _) = started(&[HashAlg::Sha256]);
    shutdown(&mut t, su::STATE).expect_ok();
    // PCR 17 is not state-saved: the saved state stays valid.
    pcr_extend(&mut t, 2, 17, &[(alg::SHA256, &[1; 32])]).expect_ok();
    t.power_on();
    startup(&mut t, 0, su::STATE).expect_ok();
    shutdown(&mut t, su::STATE).expect_ok();
    // PCR 1 is: Startup(STATE) is then refused, as by swtpm.
    pcr_extend(&mut t, 0, 1, &[(alg::SHA256, &[1; 32])]).expect_ok();
    t.power_on();
    startup(&mut t, 0, su::STATE).expect_rc(RC_VALUE_P1);
    startup_clear(&mut t);
}

#[test]
fn allocation_after_shutdown_state_blocks_resume_and_applies_at_restart() {
    let (mut t, _) = started(&[HashAlg::Sha256]);
    let c = pcr_counter(&mut t);
    shutdown(&mut t, su::STATE).expect_ok();
    allocate(&mut t, &[(alg::SHA384, &ALL_PCRS)]).expect_ok();
    t.power_on();
    startup(&mut t, 0, su::STATE).expect_rc(RC_VALUE_P1);
    // Startup(CLEAR) after Shutdown(STATE) is a Restart: the counter goes
    // on, and the pending allocation is applied.
    startup_clear(&mut t);
    assert_eq!(pcr_counter(&mut t), c + 20);
    assert_eq!(pcr_value(&mut t, alg::SHA384, 18), vec![0xff; 48]);
}
