//! Engine-level tests of TPM2_Startup / TPM2_Shutdown (Part 3 §9, TPM
//! Reset / Restart / Resume of Part 1 §12.2) and of Time and Clock
//! (TPM2_ReadClock, TPM2_ClockSet, TPM2_ClockRateAdjust, Part 3 §29),
//! across in-process power cycles and process restarts from the state
//! blob. Expected codes are those swtpm 0.7 (libtpms 0.9) returns.

mod common;
use common::*;

const RC_INITIALIZE: u32 = 0x100;
const RC_LOCALITY: u32 = 0x907;
const RC_VALUE_P1: u32 = 0x1c4;
const RC_VALUE_H1: u32 = 0x184;
const RC_SIZE: u32 = 0x095;
const RC_INSUFFICIENT_P1: u32 = 0x1da;
/// TPM_PT_CLOCK_UPDATE of libtpms: Clock is committed every 2^12 ms.
const CLOCK_UPDATE: u64 = 4096;

fn banks() -> [HashAlg; 2] {
    [HashAlg::Sha256, HashAlg::Sm3_256]
}

/// Extends PCR 0–23 once each (at a locality allowed for it) with a
/// distinct digest in both banks and returns the values read back.
fn fill_pcrs(t: &mut tpm::Tpm) -> Vec<(Vec<u8>, Vec<u8>)> {
    for pcr in 0..24u32 {
        let loc = match pcr {
            17 | 18 => 4,
            19 | 21 | 22 => 2,
            20 => 1,
            _ => 0,
        };
        let d = [pcr as u8 + 1; 32];
        pcr_extend(t, loc, pcr, &[(alg::SHA256, &d), (alg::SM3_256, &d)]).expect_ok();
    }
    (0..24)
        .map(|p| (pcr_value(t, alg::SHA256, p), pcr_value(t, alg::SM3_256, p)))
        .collect()
}

fn initial(pcr: u32) -> Vec<u8> {
    if (17..=22).contains(&pcr) {
        vec![0xff; 32]
    } else {
        vec![0; 32]
    }
}

#[test]
fn startup_only_once_and_first() {
    let (mut t, _) = engine(&banks());
    assert!(!t.is_started());
    Cmd::new(cc::READ_CLOCK)
        .run(&mut t, 0)
        .expect_rc(RC_INITIALIZE);
    shutdown(&mut t, su::CLEAR).expect_rc(RC_INITIALIZE);
    startup_clear(&mut t);
    assert!(t.is_started());
    startup(&mut t, 0, su::CLEAR).expect_rc(RC_INITIALIZE);
}

#[test]
fn startup_parameter_and_locality_checks() {
    let (mut t, _) = engine(&banks());
    // Only CLEAR and STATE are TPM_SU values.
    startup(&mut t, 0, 2).expect_rc(RC_VALUE_P1);
    // A fresh TPM has no saved state.
    startup(&mut t, 0, su::STATE).expect_rc(RC_VALUE_P1);
    // PC Client: Startup from locality 0 or 3 only.
    for loc in [1u8, 2, 4] {
        startup(&mut t, loc, su::CLEAR).expect_rc(RC_LOCALITY);
    }
    // Trailing and missing bytes.
    Cmd::new(cc::STARTUP)
        .u16(0)
        .u8(0)
        .run(&mut t, 0)
        .expect_rc(RC_SIZE);
    Cmd::new(cc::STARTUP)
        .u8(0)
        .run(&mut t, 0)
        .expect_rc(RC_INSUFFICIENT_P1);
    assert!(!t.is_started(), "failed Startups leave the TPM unstarted");
    startup(&mut t, 3, su::CLEAR).expect_ok();
    shutdown(&mut t, 2).expect_rc(RC_VALUE_P1);
}

#[test]
fn first_startup_counts_and_is_safe() {
    let (mut t, _) = engine(&banks());
    startup_clear(&mut t);
    let c = read_clock(&mut t);
    assert_eq!((c.reset_count, c.restart_count, c.safe), (1, 0, true));
}

#[test]
fn resume_restores_pcrs_0_to_15_only() {
    let (mut t, clock) = engine(&banks());
    startup_clear(&mut t);
    let before = fill_pcrs(&mut t);
    let counter = pcr_counter(&mut t);
    shutdown(&mut t, su::STATE).expect_ok();
    clock.advance(500);
    t.power_on();
    startup(&mut t, 0, su::STATE).expect_ok();
    for pcr in 0..24u32 {
        let got = (
            pcr_value(&mut t, alg::SHA256, pcr),
            pcr_value(&mut t, alg::SM3_256, pcr),
        );
        if pcr < 16 {
            assert_eq!(got, before[pcr as usize], "pcr {pcr} restored");
        } else {
            assert_eq!(got, (initial(pcr), initial(pcr)), "pcr {pcr} reset");
        }
    }
    // Only PCR 17–20 count as changed on Resume (16, 21–23 never count).
    assert_eq!(pcr_counter(&mut t), counter + 4);
    let c = read_clock(&mut t);
    assert_eq!((c.reset_count, c.restart_count, c.safe), (1, 1, true));
}

#[test]
fn resume_across_process_restart_from_state_blob() {
    let (mut t, clock) = engine(&banks());
    startup_clear(&mut t);
    let before = fill_pcrs(&mut t);
    shutdown(&mut t, su::STATE).expect_ok();
    assert!(t.take_dirty(), "Shutdown must be persisted");
    let mut t = reload(&t, &clock);
    assert!(!t.is_started());
    startup(&mut t, 0, su::STATE).expect_ok();
    for pcr in 0..16u32 {
        assert_eq!(
            pcr_value(&mut t, alg::SHA256, pcr),
            before[pcr as usize].0,
            "pcr {pcr}"
        );
    }
    assert_eq!(pcr_value(&mut t, alg::SHA256, 16), vec![0; 32]);
    // The saved state is used once: a second Resume needs a new Shutdown.
    let mut t = reload(&t, &clock);
    startup(&mut t, 0, su::STATE).expect_rc(RC_VALUE_P1);
    startup_clear(&mut t);
    let c = read_clock(&mut t);
    // The last cycle ended without Shutdown: a TPM Reset, Clock not safe.
    assert_eq!((c.reset_count, c.restart_count, c.safe), (2, 0, false));
}

#[test]
fn restart_resets_pcrs_but_keeps_counter() {
    let (mut t, _) = engine(&banks());
    startup_clear(&mut t);
    fill_pcrs(&mut t);
    let counter = pcr_counter(&mut t);
    shutdown(&mut t, su::STATE).expect_ok();
    t.power_on();
    // Startup(CLEAR) after Shutdown(STATE): TPM Restart.
    startup_clear(&mut t);
    for pcr in 0..24u32 {
        assert_eq!(
            pcr_value(&mut t, alg::SHA256, pcr),
            initial(pcr),
            "pcr {pcr}"
        );
    }
    assert_eq!(pcr_counter(&mut t), counter + 20);
    let c = read_clock(&mut t);
    assert_eq!((c.reset_count, c.restart_count, c.safe), (1, 1, true));
}

#[test]
fn reset_after_shutdown_clear() {
    let (mut t, _) = engine(&banks());
    startup_clear(&mut t);
    shutdown(&mut t, su::STATE).expect_ok();
    t.power_on();
    startup(&mut t, 0, su::STATE).expect_ok();
    fill_pcrs(&mut t);
    shutdown(&mut t, su::CLEAR).expect_ok();
    t.power_on();
    startup(&mut t, 0, su::STATE).expect_rc(RC_VALUE_P1);
    startup_clear(&mut t);
    for pcr in 0..24u32 {
        assert_eq!(
            pcr_value(&mut t, alg::SM3_256, pcr),
            initial(pcr),
            "pcr {pcr}"
        );
    }
    assert_eq!(pcr_counter(&mut t), 20);
    let c = read_clock(&mut t);
    assert_eq!((c.reset_count, c.restart_count, c.safe), (2, 0, true));
}

#[test]
fn resume_must_come_from_the_same_locality_class() {
    let (mut t, _) = engine(&banks());
    startup(&mut t, 3, su::CLEAR).expect_ok();
    shutdown(&mut t, su::STATE).expect_ok();
    t.power_on();
    startup(&mut t, 0, su::STATE).expect_rc(RC_LOCALITY);
    startup(&mut t, 3, su::STATE).expect_ok();
    let v = pcr_value(&mut t, alg::SHA256, 0);
    assert_eq!(v[31], 3, "PCR 0 keeps the locality-3 marker");
    shutdown(&mut t, su::STATE).expect_ok();
    t.power_on();
    // A Restart re-initializes PCR 0 for the new startup locality.
    startup_clear(&mut t);
    assert_eq!(pcr_value(&mut t, alg::SHA256, 0), vec![0; 32]);
}

#[test]
fn shutdown_keeps_tpm_running_and_sets_dirty() {
    let (mut t, _) = engine(&banks());
    startup_clear(&mut t);
    assert!(t.take_dirty(), "Startup must be persisted");
    pcr_extend(&mut t, 0, 3, &[(alg::SHA256, &[1; 32])]).expect_ok();
    assert!(!t.is_dirty(), "a PCR extend is volatile");
    shutdown(&mut t, su::CLEAR).expect_ok();
    assert!(t.take_dirty());
    // Commands still run after Shutdown.
    pcr_extend(&mut t, 0, 3, &[(alg::SHA256, &[1; 32])]).expect_ok();
    read_clock(&mut t);
}

#[test]
fn disorderly_power_loss_rolls_clock_back_and_makes_it_unsafe() {
    let (mut t, clock) = engine(&banks());
    startup_clear(&mut t);
    t.take_dirty();
    clock.advance(1000);
    let before = read_clock(&mut t);
    assert_eq!(before.clock, 1000);
    assert!(!t.is_dirty(), "no NV commit inside an update interval");
    // Power lost without Shutdown: Clock resumes from its last commit (0).
    t.power_on();
    startup_clear(&mut t);
    let c = read_clock(&mut t);
    assert_eq!(c.clock, 0);
    assert!(!c.safe);
    assert_eq!((c.reset_count, c.restart_count), (2, 0));
    // Unsafe persists across an orderly cycle ...
    shutdown(&mut t, su::CLEAR).expect_ok();
    t.power_on();
    startup_clear(&mut t);
    assert!(!read_clock(&mut t).safe);
    // ... until Clock is next committed at an update boundary.
    t.take_dirty();
    clock.advance(CLOCK_UPDATE);
    let c = read_clock(&mut t);
    assert!(c.safe);
    assert!(t.is_dirty(), "crossing TPM_PT_CLOCK_UPDATE commits Clock");
}

#[test]
fn clock_is_committed_every_update_interval() {
    let (mut t, clock) = engine(&banks());
    startup_clear(&mut t);
    t.take_dirty();
    clock.advance(CLOCK_UPDATE - 10);
    // Any command drives the clock update, not just ReadClock.
    pcr_counter(&mut t);
    assert!(!t.is_dirty());
    clock.advance(20);
    pcr_counter(&mut t);
    assert!(t.take_dirty());
    // A power loss now only loses what followed the commit.
    clock.advance(100);
    t.power_on();
    startup_clear(&mut t);
    let c = read_clock(&mut t).clock;
    assert!((CLOCK_UPDATE..CLOCK_UPDATE + 20).contains(&c), "clock {c}");
}

#[test]
fn time_counts_from_power_on_and_clock_survives_orderly_restart() {
    let (mut t, clock) = engine(&banks());
    clock.advance(50); // powered, not yet started: both count
    startup_clear(&mut t);
    clock.advance(1234);
    let a = read_clock(&mut t);
    assert_eq!((a.time, a.clock), (1284, 1284));
    shutdown(&mut t, su::CLEAR).expect_ok();
    clock.advance(10);
    let blob_clock = read_clock(&mut t).clock;
    // Process restart after an hour powered off: Clock does not advance
    // while off, and does not go back.
    let saved = reload(&t, &clock);
    clock.advance(3_600_000);
    let mut t = saved;
    t.power_on();
    clock.advance(7);
    startup_clear(&mut t);
    let b = read_clock(&mut t);
    assert_eq!(b.time, 7);
    assert_eq!(b.clock, blob_clock + 7);
    assert!(b.safe);
    assert_eq!((b.reset_count, b.restart_count), (2, 0));
}

fn clock_set(t: &mut tpm::Tpm, auth: u32, value: u64) -> Resp {
    Cmd::new(cc::CLOCK_SET)
        .handle(auth)
        .pw(b"")
        .u64(value)
        .run(t, 0)
}

fn rate_adjust(t: &mut tpm::Tpm, v: i8) -> Resp {
    Cmd::new(cc::CLOCK_RATE_ADJUST)
        .handle(rh::OWNER)
        .pw(b"")
        .u8(v as u8)
        .run(t, 0)
}

#[test]
fn clock_set_rules() {
    let (mut t, clock) = engine(&banks());
    startup_clear(&mut t);
    clock.advance(5000);
    clock_set(&mut t, rh::OWNER, 4999).expect_rc(RC_VALUE_P1);
    clock_set(&mut t, rh::OWNER, 0xFFFF_0000_0000_0001).expect_rc(RC_VALUE_P1);
    clock_set(&mut t, rh::ENDORSEMENT, 1 << 20).expect_rc(RC_VALUE_H1);
    clock_set(&mut t, rh::NULL, 1 << 20).expect_rc(RC_VALUE_H1);
    t.take_dirty();
    let r = clock_set(&mut t, rh::PLATFORM, 1_000_000);
    r.params(false).end();
    assert!(t.take_dirty(), "ClockSet commits Clock");
    assert_eq!(read_clock(&mut t).clock, 1_000_000);
    clock.advance(3);
    assert_eq!(read_clock(&mut t).clock, 1_000_003);
    // Setting the current value is allowed.
    clock_set(&mut t, rh::OWNER, 1_000_003).expect_ok();
    clock_set(&mut t, rh::OWNER, 0xFFFF_0000_0000_0000).expect_ok();
    clock.advance(1);
    assert_eq!(read_clock(&mut t).clock, 0xFFFF_0000_0000_0001);
    // A set Clock survives a power loss (it was committed).
    t.power_on();
    startup_clear(&mut t);
    assert!(read_clock(&mut t).clock >= 0xFFFF_0000_0000_0000);
}

#[test]
fn clock_set_makes_unsafe_clock_safe_only_across_a_boundary() {
    let (mut t, _) = engine(&banks());
    startup_clear(&mut t);
    t.power_on(); // disorderly
    startup_clear(&mut t);
    assert!(!read_clock(&mut t).safe);
    clock_set(&mut t, rh::OWNER, 10).expect_ok();
    assert!(!read_clock(&mut t).safe, "same update interval");
    clock_set(&mut t, rh::OWNER, CLOCK_UPDATE * 3).expect_ok();
    assert!(read_clock(&mut t).safe);
}

#[test]
fn clock_rate_adjust_values_and_effect() {
    let (mut t, clock) = engine(&banks());
    startup_clear(&mut t);
    for v in [-4i8, 4, 127, -128] {
        rate_adjust(&mut t, v).expect_rc(RC_VALUE_P1);
    }
    Cmd::new(cc::CLOCK_RATE_ADJUST)
        .handle(rh::OWNER)
        .pw(b"")
        .u16(0)
        .run(&mut t, 0)
        .expect_rc(RC_SIZE);
    Cmd::new(cc::CLOCK_RATE_ADJUST)
        .handle(rh::ENDORSEMENT)
        .pw(b"")
        .u8(0)
        .run(&mut t, 0)
        .expect_rc(RC_VALUE_H1);
    for v in -3i8..=3 {
        rate_adjust(&mut t, v).expect_ok().params(false).end();
    }
    // Net zero so far: Clock runs with host time.
    let a = read_clock(&mut t).clock;
    clock.advance(100_000);
    assert_eq!(read_clock(&mut t).clock - a, 100_000);
    // Coarse slower: Clock advances about 1 % less than host time.
    rate_adjust(&mut t, -3).expect_ok();
    let a = read_clock(&mut t).clock;
    clock.advance(100_000);
    let d = read_clock(&mut t).clock - a;
    assert!((98_900..99_100).contains(&d), "slower by ~1%: {d}");
    // Two coarse faster steps: about 1 % more.
    rate_adjust(&mut t, 3).expect_ok();
    rate_adjust(&mut t, 3).expect_ok();
    let a = read_clock(&mut t).clock;
    clock.advance(100_000);
    let d = read_clock(&mut t).clock - a;
    assert!((100_900..101_100).contains(&d), "faster by ~1%: {d}");
    // Time is not affected, and the adjustment ends at power-on.
    shutdown(&mut t, su::CLEAR).expect_ok();
    t.power_on();
    startup_clear(&mut t);
    let a = read_clock(&mut t);
    clock.advance(100_000);
    let b = read_clock(&mut t);
    assert_eq!(b.clock - a.clock, 100_000);
    assert_eq!(b.time - a.time, 100_000);
}

#[test]
fn clock_never_decreases_over_a_run() {
    let (mut t, clock) = engine(&banks());
    startup_clear(&mut t);
    let mut last = 0;
    for i in 0..200u64 {
        clock.advance(i * 37 % 1000);
        if i % 7 == 0 {
            rate_adjust(&mut t, if i % 2 == 0 { -3 } else { 2 }).expect_ok();
        }
        let c = read_clock(&mut t).clock;
        assert!(c >= last, "clock went back: {last} -> {c}");
        last = c;
    }
}
