//! `Tpm::volatile_blob` / `Tpm::restore_volatile`: the running state a live
//! migration carries (swtpm PTM_BLOB_TYPE_VOLATILE, libtpms
//! VolatileState_Marshal). A TPM restored from the permanent and volatile
//! blobs of another runs on as that one would: same PCRs, same loaded
//! objects and sessions (policy digests included), same TPM time; and a
//! blob that is truncated or has any bit flipped is refused whole.

mod common;

use common::*;
use proptest::prelude::*;
use tpm::constants::{alg, cc, rh};
use tpm::crypto::{Drbg, HashAlg};
use tpm::Tpm;

fn ecc_template() -> Vec<u8> {
    let mut t = Vec::new();
    t.extend_from_slice(&alg::ECC.to_be_bytes());
    t.extend_from_slice(&alg::SHA256.to_be_bytes());
    t.extend_from_slice(&0x0004_0072u32.to_be_bytes());
    t.extend_from_slice(&0u16.to_be_bytes());
    t.extend_from_slice(&alg::NULL.to_be_bytes());
    t.extend_from_slice(&alg::ECDSA.to_be_bytes());
    t.extend_from_slice(&alg::SHA256.to_be_bytes());
    t.extend_from_slice(&0x0003u16.to_be_bytes());
    t.extend_from_slice(&alg::NULL.to_be_bytes());
    t.extend_from_slice(&[0, 0, 0, 0]);
    t
}

fn create_primary(tpm: &mut Tpm) -> (u32, Vec<u8>) {
    let r = Cmd::new(cc::CREATE_PRIMARY)
        .handle(rh::OWNER)
        .pw(b"")
        .tpm2b(&[0, 0, 0, 0])
        .tpm2b(&ecc_template())
        .tpm2b(&[])
        .u32(0)
        .run(tpm, 0);
    r.expect_ok();
    let handle = u32::from_be_bytes(r.body[0..4].try_into().unwrap());
    (handle, r.params(true).tpm2b())
}

fn policy_session(tpm: &mut Tpm) -> u32 {
    let r = Cmd::new(cc::START_AUTH_SESSION)
        .handle(rh::NULL)
        .handle(rh::NULL)
        .tpm2b(&[0x55; 16])
        .tpm2b(&[])
        .u8(1)
        .u16(alg::NULL)
        .u16(alg::SHA256)
        .run(tpm, 0);
    r.expect_ok();
    u32::from_be_bytes(r.body[0..4].try_into().unwrap())
}

fn policy_digest(tpm: &mut Tpm, session: u32) -> Vec<u8> {
    let r = Cmd::new(cc::POLICY_GET_DIGEST).handle(session).run(tpm, 0);
    r.expect_ok();
    r.params(false).tpm2b()
}

fn read_public(tpm: &mut Tpm, handle: u32) -> Vec<u8> {
    let r = Cmd::new(cc::READ_PUBLIC).handle(handle).run(tpm, 0);
    r.expect_ok();
    r.params(false).tpm2b()
}

/// The destination of a migration: the source's permanent blob on another
/// host clock (far behind the source's), then its volatile blob.
fn migrate(src: &Tpm) -> (Tpm, TestClock) {
    let clock = TestClock::default();
    clock.advance(3);
    let mut dst = Tpm::from_state(
        &src.state_blob(),
        Drbg::new([0x44; 32]),
        Box::new(clock.clone()),
    )
    .expect("permanent blob");
    dst.restore_volatile(&src.volatile_blob())
        .expect("volatile blob");
    (dst, clock)
}

/// A running TPM with PCRs extended, a key loaded and a policy session
/// with a non-trivial digest.
fn busy_tpm() -> (Tpm, TestClock, u32, Vec<u8>, u32) {
    let (mut tpm, clock) = engine(&[HashAlg::Sha256, HashAlg::Sha1]);
    clock.advance(50_000);
    startup_clear(&mut tpm);
    pcr_extend(&mut tpm, 0, 16, &[(alg::SHA256, &[0xAB; 32])]).expect_ok();
    pcr_extend(&mut tpm, 0, 23, &[(alg::SHA1, &[0x11; 20])]).expect_ok();
    let (key, public) = create_primary(&mut tpm);
    let s = policy_session(&mut tpm);
    Cmd::new(cc::POLICY_COMMAND_CODE)
        .handle(s)
        .u32(cc::PCR_EXTEND)
        .run(&mut tpm, 0)
        .expect_ok();
    clock.advance(1234);
    (tpm, clock, key, public, s)
}

#[test]
fn a_migrated_tpm_runs_on_with_pcrs_objects_sessions_and_time() {
    let (mut src, _clock, key, public, s) = busy_tpm();
    let before = pcr_read(&mut src, &[(alg::SHA256, &[16]), (alg::SHA1, &[23])]);
    let digest = policy_digest(&mut src, s);
    let time = read_clock(&mut src);
    let counter = pcr_counter(&mut src);
    let (mut dst, dclock) = migrate(&src);
    assert!(dst.is_started(), "no TPM2_Startup needed after a migration");
    let after = pcr_read(&mut dst, &[(alg::SHA256, &[16]), (alg::SHA1, &[23])]);
    assert_eq!(after.digests, before.digests);
    assert_eq!(pcr_counter(&mut dst), counter);
    assert_eq!(read_public(&mut dst, key), read_public(&mut src, key));
    assert_eq!(read_public(&mut dst, key)[..public.len()], public[..]);
    assert_eq!(policy_digest(&mut dst, s), digest);
    let t = read_clock(&mut dst);
    assert_eq!(t.time, time.time, "TPM time carries over");
    assert_eq!(t.clock, time.clock, "Clock carries over");
    assert_eq!(t.reset_count, time.reset_count);
    dclock.advance(10);
    assert_eq!(read_clock(&mut dst).time, time.time + 10);
    // A second Startup is refused: the TPM is running.
    startup(&mut dst, 0, 0).expect_rc(0x100);
    // PCRs keep extending from the migrated values.
    pcr_extend(&mut dst, 0, 16, &[(alg::SHA256, &[0xCD; 32])]).expect_ok();
    pcr_extend(&mut src, 0, 16, &[(alg::SHA256, &[0xCD; 32])]).expect_ok();
    assert_eq!(
        pcr_value(&mut dst, alg::SHA256, 16),
        pcr_value(&mut src, alg::SHA256, 16)
    );
}

#[test]
fn round_trip_is_exact() {
    let (src, _c, _, _, _) = busy_tpm();
    let blob = src.volatile_blob();
    let (dst, _) = migrate(&src);
    assert_eq!(dst.volatile_blob(), blob);
}

#[test]
fn a_never_started_tpm_round_trips_and_still_needs_startup() {
    let (src, _c) = engine(&[HashAlg::Sha256]);
    let (mut dst, _) = migrate(&src);
    assert!(!dst.is_started());
    startup_clear(&mut dst);
}

#[test]
fn blob_for_another_pcr_allocation_is_refused() {
    let (src, _c, _, _, _) = busy_tpm();
    let (mut other, _) = engine(&[HashAlg::Sha256]);
    let err = other.restore_volatile(&src.volatile_blob()).unwrap_err();
    assert!(
        matches!(err, tpm::StateError::Field { tag: 0x0102, .. }),
        "{err}"
    );
    assert!(!other.is_started(), "left as it was");
}

#[test]
fn every_truncation_and_bit_flip_is_refused() {
    let (src, _c, _, _, _) = busy_tpm();
    let blob = src.volatile_blob();
    let (mut dst, _) = engine(&[HashAlg::Sha256, HashAlg::Sha1]);
    for n in 0..blob.len() {
        assert!(
            dst.restore_volatile(&blob[..n]).is_err(),
            "truncated at {n}"
        );
    }
    for i in 0..blob.len() {
        let mut b = blob.clone();
        b[i] ^= 1 << (i % 8);
        assert!(dst.restore_volatile(&b).is_err(), "flip at {i}");
    }
    assert!(!dst.is_started());
    // The permanent blob is not a volatile blob, and vice versa.
    assert_eq!(
        dst.restore_volatile(&src.state_blob()).unwrap_err(),
        tpm::StateError::BadMagic
    );
    assert!(Tpm::from_state(&blob, Drbg::new([1; 32]), Box::new(TestClock::default())).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Any mix of PCR extends, sessions and clock movement round-trips
    /// exactly, and the restored TPM reads the same PCRs.
    #[test]
    fn random_states_round_trip(
        extends in proptest::collection::vec((0u32..24, any::<[u8; 32]>()), 0..8),
        sessions in 0usize..3,
        advance in 0u64..10_000_000,
        locality3 in any::<bool>(),
    ) {
        let (mut src, clock) = engine(&[HashAlg::Sha256]);
        clock.advance(advance);
        startup(&mut src, if locality3 { 3 } else { 0 }, 0).expect_ok();
        for (pcr, d) in &extends {
            // PCRs 17-22 need locality 4/3 and answer TPM_RC_LOCALITY here:
            // either way the state must round-trip.
            let _ = pcr_extend(&mut src, 0, *pcr, &[(alg::SHA256, d)]);
        }
        for _ in 0..sessions {
            policy_session(&mut src);
        }
        let blob = src.volatile_blob();
        let (mut dst, _) = migrate(&src);
        prop_assert_eq!(dst.volatile_blob(), blob);
        let all: Vec<u32> = (0..24).collect();
        prop_assert_eq!(
            pcr_read(&mut dst, &[(alg::SHA256, &all[..8])]).digests,
            pcr_read(&mut src, &[(alg::SHA256, &all[..8])]).digests
        );
    }
}
