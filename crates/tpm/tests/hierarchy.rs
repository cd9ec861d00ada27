//! The hierarchy commands and dictionary-attack protection end to end
//! through `Tpm::execute` (TPM 2.0 Part 3 §24–25, Part 1 §13–14, §19.8):
//! HierarchyChangeAuth, SetPrimaryPolicy (with policy sessions whose
//! digests are computed here), HierarchyControl, Clear, ClearControl,
//! ChangeEPS/ChangePPS, DictionaryAttackLockReset/Parameters, and the
//! lockout state machine driven by the test clock — checking response
//! codes with their numbers and the values GetCapability reports.

mod common;

use common::*;
use tpm::constants::{alg, cc, rh};
use tpm::Tpm;

const RC_BAD_AUTH_S1: u32 = 0x9a2;
const RC_AUTH_FAIL_S1: u32 = 0x98e;
const RC_AUTH_FAIL: u32 = 0x08e;
const RC_LOCKOUT: u32 = 0x921;
const RC_RETRY: u32 = 0x922;
const RC_HIERARCHY_H1: u32 = 0x185;
const RC_VALUE_H1: u32 = 0x184;
const RC_VALUE_P1: u32 = 0x1c4;
const RC_VALUE_P2: u32 = 0x2c4;
const RC_SIZE_P1: u32 = 0x1d5;
const RC_HASH_P2: u32 = 0x2c3;
const RC_AUTH_TYPE: u32 = 0x124;
const RC_DISABLED: u32 = 0x120;
const RC_AUTH_UNAVAILABLE: u32 = 0x12f;
const RC_POLICY_FAIL_S1: u32 = 0x99d;
const RC_POLICY_CC_S1: u32 = 0x9a4;
const RC_INSUFFICIENT_P1: u32 = 0x1da;

/// TPM_PT values (Part 2 §6.13).
const PT_PERMANENT: u32 = 0x200;
const PT_STARTUP_CLEAR: u32 = 0x201;
const PT_LOCKOUT_COUNTER: u32 = 0x20e;
const PT_MAX_AUTH_FAIL: u32 = 0x20f;
const PT_LOCKOUT_INTERVAL: u32 = 0x210;
const PT_LOCKOUT_RECOVERY: u32 = 0x211;

/// TPMA_PERMANENT bits.
const OWNER_AUTH_SET: u32 = 1 << 0;
const ENDORSEMENT_AUTH_SET: u32 = 1 << 1;
const LOCKOUT_AUTH_SET: u32 = 1 << 2;
const DISABLE_CLEAR: u32 = 1 << 8;
const IN_LOCKOUT: u32 = 1 << 9;
const TPM_GENERATED_EPS: u32 = 1 << 10;
/// TPMA_STARTUP_CLEAR bits.
const PH_ENABLE: u32 = 1 << 0;
const SH_ENABLE: u32 = 1 << 1;
const EH_ENABLE: u32 = 1 << 2;
const PH_ENABLE_NV: u32 = 1 << 3;

/// TPMA_NV bits for the DA test index.
const NV_AUTHWRITE: u32 = 1 << 2;
const NV_AUTHREAD: u32 = 1 << 18;
const NV_NO_DA: u32 = 1 << 25;

fn started() -> (Tpm, TestClock) {
    let (mut tpm, clock) = engine(&[HashAlg::Sha256]);
    startup_clear(&mut tpm);
    (tpm, clock)
}

/// One TPM property via GetCapability(TPM_CAP_TPM_PROPERTIES).
fn prop(tpm: &mut Tpm, pt: u32) -> u32 {
    let r = Cmd::new(cc::GET_CAPABILITY)
        .u32(6)
        .u32(pt)
        .u32(1)
        .run(tpm, 0);
    let mut p = r.params(false);
    p.u8();
    assert_eq!(p.u32(), 6, "capability");
    assert_eq!(p.u32(), 1, "count");
    assert_eq!(p.u32(), pt, "property");
    p.u32()
}

/// (failedTries, maxTries, recoveryTime, lockoutRecovery) as reported.
fn da(tpm: &mut Tpm) -> [u32; 4] {
    [
        prop(tpm, PT_LOCKOUT_COUNTER),
        prop(tpm, PT_MAX_AUTH_FAIL),
        prop(tpm, PT_LOCKOUT_INTERVAL),
        prop(tpm, PT_LOCKOUT_RECOVERY),
    ]
}

/// TPM_CAP_AUTH_POLICIES entry of `handle`: (hashAlg, digest).
fn auth_policy_cap(tpm: &mut Tpm, handle: u32) -> (u16, Vec<u8>) {
    let r = Cmd::new(cc::GET_CAPABILITY)
        .u32(9)
        .u32(handle)
        .u32(1)
        .run(tpm, 0);
    let mut p = r.params(false);
    p.u8();
    assert_eq!(p.u32(), 9);
    assert_eq!(p.u32(), 1);
    assert_eq!(p.u32(), handle);
    let a = p.u16();
    let d = if a == alg::NULL {
        Vec::new()
    } else {
        p.bytes(digest_len(a)).to_vec()
    };
    p.end();
    (a, d)
}

fn change_auth(tpm: &mut Tpm, h: u32, old: &[u8], new: &[u8]) -> Resp {
    Cmd::new(cc::HIERARCHY_CHANGE_AUTH)
        .handle(h)
        .pw(old)
        .tpm2b(new)
        .run(tpm, 0)
}

fn set_policy(tpm: &mut Tpm, h: u32, auth: &[u8], digest: &[u8], hash_alg: u16) -> Resp {
    Cmd::new(cc::SET_PRIMARY_POLICY)
        .handle(h)
        .pw(auth)
        .tpm2b(digest)
        .u16(hash_alg)
        .run(tpm, 0)
}

fn hierarchy_control(tpm: &mut Tpm, auth: u32, enable: u32, state: u8) -> Resp {
    Cmd::new(cc::HIERARCHY_CONTROL)
        .handle(auth)
        .pw(b"")
        .u32(enable)
        .u8(state)
        .run(tpm, 0)
}

fn clear(tpm: &mut Tpm, h: u32, auth: &[u8]) -> Resp {
    Cmd::new(cc::CLEAR).handle(h).pw(auth).run(tpm, 0)
}

fn clear_control(tpm: &mut Tpm, h: u32, auth: &[u8], disable: u8) -> Resp {
    Cmd::new(cc::CLEAR_CONTROL)
        .handle(h)
        .pw(auth)
        .u8(disable)
        .run(tpm, 0)
}

fn da_parameters(tpm: &mut Tpm, auth: &[u8], max: u32, recovery: u32, lockout: u32) -> Resp {
    Cmd::new(cc::DICTIONARY_ATTACK_PARAMETERS)
        .handle(rh::LOCKOUT)
        .pw(auth)
        .u32(max)
        .u32(recovery)
        .u32(lockout)
        .run(tpm, 0)
}

fn da_reset(tpm: &mut Tpm, auth: &[u8]) -> Resp {
    Cmd::new(cc::DICTIONARY_ATTACK_LOCK_RESET)
        .handle(rh::LOCKOUT)
        .pw(auth)
        .run(tpm, 0)
}

/// A policy session (SHA-256, unbound, unsalted): its handle.
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
    let h = u32::from_be_bytes(r.body[0..4].try_into().unwrap());
    assert_eq!(h >> 24, 0x03, "policy session handle");
    h
}

/// policyDigest' = H(policyDigest || TPM_CC_PolicyCommandCode || code)
/// (Part 3 §23.11).
fn policy_cc_digest(old: &[u8], code: u32) -> Vec<u8> {
    hash(
        alg::SHA256,
        &[
            old,
            &cc::POLICY_COMMAND_CODE.to_be_bytes(),
            &code.to_be_bytes(),
        ],
    )
}

/// policyDigest' = H(policyDigest || TPM_CC_PolicyAuthValue) — what
/// PolicyPassword extends too (Part 3 §23.18).
fn policy_password_digest(old: &[u8]) -> Vec<u8> {
    hash(alg::SHA256, &[old, &cc::POLICY_AUTH_VALUE.to_be_bytes()])
}

// ---------------------------------------------------------------------------
// TPM2_HierarchyChangeAuth

#[test]
fn change_auth_of_every_hierarchy_and_use_of_the_new_value() {
    let (mut tpm, _) = started();
    assert_eq!(prop(&mut tpm, PT_PERMANENT), TPM_GENERATED_EPS);
    for (h, bit, new) in [
        (rh::OWNER, OWNER_AUTH_SET, &b"owner-pw"[..]),
        (rh::ENDORSEMENT, ENDORSEMENT_AUTH_SET, b"endorse"),
        (rh::LOCKOUT, LOCKOUT_AUTH_SET, b"lock"),
        (rh::PLATFORM, 0, b"plat"),
    ] {
        change_auth(&mut tpm, h, b"", new).expect_ok();
        assert_eq!(
            prop(&mut tpm, PT_PERMANENT) & bit,
            bit,
            "auth-set bit of {h:#x}"
        );
        // The old (empty) value no longer works...
        let bad = change_auth(&mut tpm, h, b"", b"x");
        let want = if h == rh::LOCKOUT {
            RC_AUTH_FAIL_S1
        } else {
            RC_BAD_AUTH_S1
        };
        bad.expect_rc(want);
        if h == rh::LOCKOUT {
            // ... and a wrong lockoutAuth locks lockoutAuth out; reset it.
            change_auth(&mut tpm, h, new, b"").expect_rc(RC_LOCKOUT);
            continue;
        }
        // The new one does: change back to empty.
        change_auth(&mut tpm, h, new, b"").expect_ok();
        assert_eq!(prop(&mut tpm, PT_PERMANENT) & bit, 0);
    }
}

#[test]
fn trailing_zeros_are_not_part_of_an_auth_value() {
    let (mut tpm, _) = started();
    change_auth(&mut tpm, rh::OWNER, b"", b"abc\0\0").expect_ok();
    change_auth(&mut tpm, rh::OWNER, b"abc", b"\0\0\0").expect_ok();
    // All zeros is the Empty Auth: ownerAuthSet stays clear.
    assert_eq!(prop(&mut tpm, PT_PERMANENT) & OWNER_AUTH_SET, 0);
    change_auth(&mut tpm, rh::OWNER, b"", b"").expect_ok();
}

#[test]
fn change_auth_size_and_handle_checks() {
    let (mut tpm, _) = started();
    // TPM2B_AUTH holds at most 64 octets.
    change_auth(&mut tpm, rh::OWNER, b"", &[1; 65]).expect_rc(RC_SIZE_P1);
    change_auth(&mut tpm, rh::OWNER, b"", &[1; 64]).expect_ok();
    // TPMI_RH_HIERARCHY_AUTH excludes TPM_RH_NULL.
    Cmd::new(cc::HIERARCHY_CHANGE_AUTH)
        .handle(rh::NULL)
        .pw(b"")
        .tpm2b(b"")
        .run(&mut tpm, 0)
        .expect_rc(RC_VALUE_H1);
    // A truncated parameter.
    Cmd::new(cc::HIERARCHY_CHANGE_AUTH)
        .handle(rh::ENDORSEMENT)
        .pw(b"")
        .u8(0)
        .run(&mut tpm, 0)
        .expect_rc(RC_INSUFFICIENT_P1);
}

#[test]
fn auth_values_persist_but_platform_auth_is_state_clear() {
    let (mut tpm, clock) = started();
    change_auth(&mut tpm, rh::OWNER, b"", b"o").expect_ok();
    change_auth(&mut tpm, rh::PLATFORM, b"", b"p").expect_ok();
    // Shutdown(STATE) + Resume keeps platformAuth.
    shutdown(&mut tpm, su::STATE).expect_ok();
    let mut tpm = reload(&tpm, &clock);
    startup(&mut tpm, 0, su::STATE).expect_ok();
    change_auth(&mut tpm, rh::PLATFORM, b"", b"p").expect_rc(RC_BAD_AUTH_S1);
    change_auth(&mut tpm, rh::PLATFORM, b"p", b"p").expect_ok();
    // Startup(CLEAR) empties it; ownerAuth survives the restart.
    shutdown(&mut tpm, su::CLEAR).expect_ok();
    let mut tpm = reload(&tpm, &clock);
    startup_clear(&mut tpm);
    change_auth(&mut tpm, rh::PLATFORM, b"", b"").expect_ok();
    change_auth(&mut tpm, rh::OWNER, b"", b"").expect_rc(RC_BAD_AUTH_S1);
    change_auth(&mut tpm, rh::OWNER, b"o", b"o").expect_ok();
    assert_eq!(
        prop(&mut tpm, PT_PERMANENT) & OWNER_AUTH_SET,
        OWNER_AUTH_SET
    );
}

// ---------------------------------------------------------------------------
// TPM2_SetPrimaryPolicy

#[test]
fn set_primary_policy_values_and_checks() {
    let (mut tpm, _) = started();
    for h in [rh::OWNER, rh::ENDORSEMENT, rh::LOCKOUT, rh::PLATFORM] {
        assert_eq!(auth_policy_cap(&mut tpm, h), (alg::NULL, Vec::new()));
    }
    let d256 = [0xabu8; 32];
    set_policy(&mut tpm, rh::OWNER, b"", &d256, alg::SHA256).expect_ok();
    set_policy(&mut tpm, rh::ENDORSEMENT, b"", &[7; 48], alg::SHA384).expect_ok();
    set_policy(&mut tpm, rh::PLATFORM, b"", &[9; 20], alg::SHA1).expect_ok();
    assert_eq!(
        auth_policy_cap(&mut tpm, rh::OWNER),
        (alg::SHA256, d256.to_vec())
    );
    assert_eq!(
        auth_policy_cap(&mut tpm, rh::ENDORSEMENT),
        (alg::SHA384, vec![7; 48])
    );
    assert_eq!(
        auth_policy_cap(&mut tpm, rh::PLATFORM),
        (alg::SHA1, vec![9; 20])
    );
    // Digest size must match the hash; NULL needs an empty digest.
    set_policy(&mut tpm, rh::OWNER, b"", &[1; 20], alg::SHA256).expect_rc(RC_SIZE_P1);
    set_policy(&mut tpm, rh::OWNER, b"", &[1; 32], alg::NULL).expect_rc(RC_SIZE_P1);
    // TPM_ALG_HMAC is no hash.
    set_policy(&mut tpm, rh::OWNER, b"", &[1; 32], alg::HMAC).expect_rc(RC_HASH_P2);
    // Removing a policy: NULL and empty.
    set_policy(&mut tpm, rh::OWNER, b"", &[], alg::NULL).expect_ok();
    assert_eq!(
        auth_policy_cap(&mut tpm, rh::OWNER),
        (alg::NULL, Vec::new())
    );
}

#[test]
fn owner_policy_session_authorizes_only_the_commands_of_the_policy() {
    let (mut tpm, _) = started();
    change_auth(&mut tpm, rh::OWNER, b"", b"secret").expect_ok();
    // Without an owner policy, a policy session cannot authorize.
    let s = policy_session(&mut tpm);
    Cmd::new(cc::HIERARCHY_CHANGE_AUTH)
        .handle(rh::OWNER)
        .session(s, &[1; 16], CONTINUE_SESSION, &[])
        .tpm2b(b"new")
        .run(&mut tpm, 0)
        .expect_rc(RC_AUTH_UNAVAILABLE);

    let policy = policy_cc_digest(&[0; 32], cc::HIERARCHY_CHANGE_AUTH);
    set_policy(&mut tpm, rh::OWNER, b"secret", &policy, alg::SHA256).expect_ok();
    Cmd::new(cc::POLICY_COMMAND_CODE)
        .handle(s)
        .u32(cc::HIERARCHY_CHANGE_AUTH)
        .run(&mut tpm, 0)
        .expect_ok();
    // The session is for HierarchyChangeAuth only.
    Cmd::new(cc::SET_PRIMARY_POLICY)
        .handle(rh::OWNER)
        .session(s, &[1; 16], CONTINUE_SESSION, &[])
        .tpm2b(&[])
        .u16(alg::NULL)
        .run(&mut tpm, 0)
        .expect_rc(RC_POLICY_CC_S1);
    // The owner's authValue is not needed: the policy changes it.
    let r = Cmd::new(cc::HIERARCHY_CHANGE_AUTH)
        .handle(rh::OWNER)
        .session(s, &[1; 16], CONTINUE_SESSION, &[])
        .tpm2b(b"via-policy")
        .run(&mut tpm, 0);
    r.expect_ok();
    change_auth(&mut tpm, rh::OWNER, b"via-policy", b"").expect_ok();
    // A fresh session whose digest does not match the policy fails.
    let s2 = policy_session(&mut tpm);
    Cmd::new(cc::HIERARCHY_CHANGE_AUTH)
        .handle(rh::OWNER)
        .session(s2, &[1; 16], CONTINUE_SESSION, &[])
        .tpm2b(b"x")
        .run(&mut tpm, 0)
        .expect_rc(RC_POLICY_FAIL_S1);
}

/// A policy session that has run PolicyPassword.
fn password_session(tpm: &mut Tpm) -> u32 {
    let s = policy_session(tpm);
    Cmd::new(cc::POLICY_PASSWORD)
        .handle(s)
        .run(tpm, 0)
        .expect_ok();
    s
}

#[test]
fn lockout_policy_with_password_counts_failures_against_lockout_auth() {
    let (mut tpm, clock) = started();
    change_auth(&mut tpm, rh::LOCKOUT, b"", b"lk").expect_ok();
    let policy = policy_password_digest(&[0; 32]);
    set_policy(&mut tpm, rh::LOCKOUT, b"lk", &policy, alg::SHA256).expect_ok();
    // PolicyPassword: the authValue travels in clear in the HMAC field.
    let s = password_session(&mut tpm);
    Cmd::new(cc::DICTIONARY_ATTACK_LOCK_RESET)
        .handle(rh::LOCKOUT)
        .session(s, &[2; 16], CONTINUE_SESSION, b"lk")
        .run(&mut tpm, 0)
        .expect_ok();
    let s = password_session(&mut tpm);
    Cmd::new(cc::DICTIONARY_ATTACK_LOCK_RESET)
        .handle(rh::LOCKOUT)
        .session(s, &[2; 16], CONTINUE_SESSION, b"wrong")
        .run(&mut tpm, 0)
        .expect_rc(RC_AUTH_FAIL_S1);
    // lockoutAuth is now locked out, through any session.
    da_reset(&mut tpm, b"lk").expect_rc(RC_LOCKOUT);
    clock.advance(1_000_000);
    da_reset(&mut tpm, b"lk").expect_ok();
}

#[test]
fn platform_policy_is_state_clear_data() {
    let (mut tpm, clock) = started();
    set_policy(&mut tpm, rh::PLATFORM, b"", &[3; 32], alg::SHA256).expect_ok();
    set_policy(&mut tpm, rh::OWNER, b"", &[4; 32], alg::SHA256).expect_ok();
    shutdown(&mut tpm, su::STATE).expect_ok();
    let mut tpm = reload(&tpm, &clock);
    startup(&mut tpm, 0, su::STATE).expect_ok();
    assert_eq!(
        auth_policy_cap(&mut tpm, rh::PLATFORM),
        (alg::SHA256, vec![3; 32])
    );
    // TPM Restart (Startup(CLEAR) after Shutdown(STATE)) empties it.
    shutdown(&mut tpm, su::STATE).expect_ok();
    let mut tpm = reload(&tpm, &clock);
    startup_clear(&mut tpm);
    assert_eq!(auth_policy_cap(&mut tpm, rh::PLATFORM), (alg::NULL, vec![]));
    assert_eq!(
        auth_policy_cap(&mut tpm, rh::OWNER),
        (alg::SHA256, vec![4; 32])
    );
}

// ---------------------------------------------------------------------------
// TPM2_HierarchyControl

#[test]
fn hierarchy_control_enables_and_disables() {
    let (mut tpm, _) = started();
    let all = PH_ENABLE | SH_ENABLE | EH_ENABLE | PH_ENABLE_NV;
    assert_eq!(prop(&mut tpm, PT_STARTUP_CLEAR) & all, all);
    // The owner may disable the storage hierarchy...
    hierarchy_control(&mut tpm, rh::OWNER, rh::OWNER, 0).expect_ok();
    assert_eq!(prop(&mut tpm, PT_STARTUP_CLEAR) & all, all & !SH_ENABLE);
    // ... after which its handle is refused ...
    change_auth(&mut tpm, rh::OWNER, b"", b"x").expect_rc(RC_HIERARCHY_H1);
    hierarchy_control(&mut tpm, rh::OWNER, rh::OWNER, 1).expect_rc(RC_HIERARCHY_H1);
    // ... and only the platform enables it again.
    hierarchy_control(&mut tpm, rh::PLATFORM, rh::OWNER, 1).expect_ok();
    assert_eq!(prop(&mut tpm, PT_STARTUP_CLEAR) & all, all);

    // Endorsement: its own auth or the platform's; never the owner's.
    hierarchy_control(&mut tpm, rh::OWNER, rh::ENDORSEMENT, 0).expect_rc(RC_AUTH_TYPE);
    hierarchy_control(&mut tpm, rh::ENDORSEMENT, rh::ENDORSEMENT, 0).expect_ok();
    hierarchy_control(&mut tpm, rh::PLATFORM, rh::ENDORSEMENT, 1).expect_ok();
    // Platform enables: platform auth only.
    hierarchy_control(&mut tpm, rh::OWNER, rh::PLATFORM_NV, 0).expect_rc(RC_AUTH_TYPE);
    hierarchy_control(&mut tpm, rh::ENDORSEMENT, rh::PLATFORM, 0).expect_rc(RC_AUTH_TYPE);
    hierarchy_control(&mut tpm, rh::PLATFORM, rh::PLATFORM_NV, 0).expect_ok();
    assert_eq!(prop(&mut tpm, PT_STARTUP_CLEAR) & all, all & !PH_ENABLE_NV);
    // Enabling what is enabled is a no-op that succeeds.
    hierarchy_control(&mut tpm, rh::OWNER, rh::OWNER, 1).expect_ok();

    // Unmarshalling: TPMI_RH_ENABLES and TPMI_YES_NO.
    hierarchy_control(&mut tpm, rh::PLATFORM, rh::LOCKOUT, 0).expect_rc(RC_VALUE_P1);
    hierarchy_control(&mut tpm, rh::PLATFORM, rh::OWNER, 2).expect_rc(RC_VALUE_P2);
    // TPMI_RH_HIERARCHY excludes lockout.
    hierarchy_control(&mut tpm, rh::LOCKOUT, rh::OWNER, 0).expect_rc(RC_VALUE_H1);

    // Disabling the platform hierarchy lasts until Startup(CLEAR).
    hierarchy_control(&mut tpm, rh::PLATFORM, rh::PLATFORM, 0).expect_ok();
    assert_eq!(prop(&mut tpm, PT_STARTUP_CLEAR) & PH_ENABLE, 0);
    hierarchy_control(&mut tpm, rh::PLATFORM, rh::PLATFORM, 1).expect_rc(RC_HIERARCHY_H1);
    shutdown(&mut tpm, su::CLEAR).expect_ok();
    tpm.power_on();
    startup_clear(&mut tpm);
    assert_eq!(prop(&mut tpm, PT_STARTUP_CLEAR) & all, all);
}

#[test]
fn disabled_hierarchies_survive_resume_not_restart() {
    let (mut tpm, clock) = started();
    hierarchy_control(&mut tpm, rh::ENDORSEMENT, rh::ENDORSEMENT, 0).expect_ok();
    shutdown(&mut tpm, su::STATE).expect_ok();
    let mut tpm = reload(&tpm, &clock);
    startup(&mut tpm, 0, su::STATE).expect_ok();
    assert_eq!(prop(&mut tpm, PT_STARTUP_CLEAR) & EH_ENABLE, 0);
    shutdown(&mut tpm, su::STATE).expect_ok();
    let mut tpm = reload(&tpm, &clock);
    startup_clear(&mut tpm);
    assert_eq!(prop(&mut tpm, PT_STARTUP_CLEAR) & EH_ENABLE, EH_ENABLE);
}

// ---------------------------------------------------------------------------
// TPM2_Clear, TPM2_ClearControl

#[test]
fn clear_resets_owner_state_clock_and_counters() {
    let (mut tpm, clock) = started();
    for (h, v) in [
        (rh::OWNER, &b"o"[..]),
        (rh::ENDORSEMENT, b"e"),
        (rh::LOCKOUT, b"l"),
    ] {
        change_auth(&mut tpm, h, b"", v).expect_ok();
    }
    set_policy(&mut tpm, rh::OWNER, b"o", &[1; 32], alg::SHA256).expect_ok();
    set_policy(&mut tpm, rh::LOCKOUT, b"l", &[2; 32], alg::SHA256).expect_ok();
    da_parameters(&mut tpm, b"l", 9, 77, 55).expect_ok();
    hierarchy_control(&mut tpm, rh::PLATFORM, rh::ENDORSEMENT, 0).expect_ok();
    // Some Clock and a few resets and restarts.
    for _ in 0..2 {
        shutdown(&mut tpm, su::CLEAR).expect_ok();
        tpm.power_on();
        startup_clear(&mut tpm);
    }
    shutdown(&mut tpm, su::STATE).expect_ok();
    tpm.power_on();
    startup_clear(&mut tpm);
    clock.advance(50_000);
    let before = read_clock(&mut tpm);
    assert!(
        before.clock >= 50_000 && before.reset_count == 3 && before.restart_count == 1,
        "{before:?}"
    );
    let counter = pcr_counter(&mut tpm);

    // TPMI_RH_CLEAR: not the owner.
    clear(&mut tpm, rh::OWNER, b"o").expect_rc(RC_VALUE_H1);
    clear(&mut tpm, rh::LOCKOUT, b"l").expect_ok();

    assert_eq!(prop(&mut tpm, PT_PERMANENT), TPM_GENERATED_EPS);
    for h in [rh::OWNER, rh::ENDORSEMENT, rh::LOCKOUT] {
        assert_eq!(auth_policy_cap(&mut tpm, h), (alg::NULL, vec![]));
        change_auth(&mut tpm, h, b"", b"").expect_ok();
    }
    assert_eq!(da(&mut tpm), [0, 3, 1000, 1000]);
    assert_eq!(prop(&mut tpm, PT_STARTUP_CLEAR) & EH_ENABLE, EH_ENABLE);
    let after = read_clock(&mut tpm);
    assert!(after.clock < 1_000, "Clock restarts from zero: {after:?}");
    assert_eq!(
        (after.reset_count, after.restart_count, after.safe),
        (0, 0, true)
    );
    assert_eq!(pcr_counter(&mut tpm), counter + 1);
    // The cleared state is what the host stores.
    let mut tpm = reload(&tpm, &clock);
    startup_clear(&mut tpm);
    assert_eq!(prop(&mut tpm, PT_PERMANENT), TPM_GENERATED_EPS);
    assert_eq!(da(&mut tpm), [0, 3, 1000, 1000]);
}

#[test]
fn clear_control_disables_clear() {
    let (mut tpm, clock) = started();
    clear_control(&mut tpm, rh::LOCKOUT, b"", 1).expect_ok();
    assert_eq!(prop(&mut tpm, PT_PERMANENT) & DISABLE_CLEAR, DISABLE_CLEAR);
    clear(&mut tpm, rh::LOCKOUT, b"").expect_rc(RC_DISABLED);
    clear(&mut tpm, rh::PLATFORM, b"").expect_rc(RC_DISABLED);
    // lockoutAuth may not re-enable Clear; platformAuth may.
    clear_control(&mut tpm, rh::LOCKOUT, b"", 0).expect_rc(RC_AUTH_FAIL);
    clear_control(&mut tpm, rh::PLATFORM, b"", 2).expect_rc(RC_VALUE_P1);
    // disableClear is persistent.
    let mut tpm = reload(&tpm, &clock);
    startup_clear(&mut tpm);
    assert_eq!(prop(&mut tpm, PT_PERMANENT) & DISABLE_CLEAR, DISABLE_CLEAR);
    clear_control(&mut tpm, rh::PLATFORM, b"", 0).expect_ok();
    assert_eq!(prop(&mut tpm, PT_PERMANENT) & DISABLE_CLEAR, 0);
    clear(&mut tpm, rh::PLATFORM, b"").expect_ok();
    // Clear leaves disableClear as ClearControl set it.
    clear_control(&mut tpm, rh::PLATFORM, b"", 1).expect_ok();
    assert_eq!(prop(&mut tpm, PT_PERMANENT) & DISABLE_CLEAR, DISABLE_CLEAR);
}

#[test]
fn change_eps_and_pps_reset_their_hierarchies() {
    let (mut tpm, _) = started();
    change_auth(&mut tpm, rh::ENDORSEMENT, b"", b"e").expect_ok();
    change_auth(&mut tpm, rh::OWNER, b"", b"o").expect_ok();
    set_policy(&mut tpm, rh::ENDORSEMENT, b"e", &[5; 32], alg::SHA256).expect_ok();
    set_policy(&mut tpm, rh::PLATFORM, b"", &[6; 32], alg::SHA256).expect_ok();
    hierarchy_control(&mut tpm, rh::PLATFORM, rh::ENDORSEMENT, 0).expect_ok();
    // Only the platform may change seeds.
    Cmd::new(cc::CHANGE_EPS)
        .handle(rh::OWNER)
        .pw(b"o")
        .run(&mut tpm, 0)
        .expect_rc(RC_VALUE_H1);
    Cmd::new(cc::CHANGE_EPS)
        .handle(rh::PLATFORM)
        .pw(b"")
        .run(&mut tpm, 0)
        .expect_ok();
    // Endorsement is enabled again with empty auth and policy; the owner
    // keeps its auth.
    assert_eq!(prop(&mut tpm, PT_STARTUP_CLEAR) & EH_ENABLE, EH_ENABLE);
    assert_eq!(
        prop(&mut tpm, PT_PERMANENT),
        TPM_GENERATED_EPS | OWNER_AUTH_SET
    );
    assert_eq!(
        auth_policy_cap(&mut tpm, rh::ENDORSEMENT),
        (alg::NULL, vec![])
    );
    Cmd::new(cc::CHANGE_PPS)
        .handle(rh::PLATFORM)
        .pw(b"")
        .run(&mut tpm, 0)
        .expect_ok();
    assert_eq!(auth_policy_cap(&mut tpm, rh::PLATFORM), (alg::NULL, vec![]));
}

// ---------------------------------------------------------------------------
// Dictionary-attack protection

#[test]
fn da_parameters_and_lock_reset() {
    let (mut tpm, clock) = started();
    assert_eq!(da(&mut tpm), [0, 3, 1000, 1000]);
    da_parameters(&mut tpm, b"", 5, 10, 20).expect_ok();
    assert_eq!(da(&mut tpm), [0, 5, 10, 20]);
    da_reset(&mut tpm, b"").expect_ok();
    // Persistent.
    let mut tpm = reload(&tpm, &clock);
    startup_clear(&mut tpm);
    assert_eq!(da(&mut tpm), [0, 5, 10, 20]);
    // TPMI_RH_LOCKOUT only.
    Cmd::new(cc::DICTIONARY_ATTACK_LOCK_RESET)
        .handle(rh::OWNER)
        .pw(b"")
        .run(&mut tpm, 0)
        .expect_rc(RC_VALUE_H1);
}

#[test]
fn bad_lockout_auth_disables_lockout_auth_until_recovery() {
    let (mut tpm, clock) = started();
    da_parameters(&mut tpm, b"", 3, 1000, 30).expect_ok();
    change_auth(&mut tpm, rh::LOCKOUT, b"", b"right").expect_ok();
    da_reset(&mut tpm, b"wrong").expect_rc(RC_AUTH_FAIL_S1);
    // A lockoutAuth failure does not count in failedTries.
    assert_eq!(prop(&mut tpm, PT_LOCKOUT_COUNTER), 0);
    assert_eq!(prop(&mut tpm, PT_PERMANENT) & IN_LOCKOUT, 0);
    // Even the right value is refused, before it is checked.
    da_reset(&mut tpm, b"right").expect_rc(RC_LOCKOUT);
    clear(&mut tpm, rh::LOCKOUT, b"right").expect_rc(RC_LOCKOUT);
    clock.advance(29_999);
    da_reset(&mut tpm, b"right").expect_rc(RC_LOCKOUT);
    clock.advance(1);
    da_reset(&mut tpm, b"right").expect_ok();
    // Platform-authorized commands are not affected by the lockout.
    da_reset(&mut tpm, b"bad").expect_rc(RC_AUTH_FAIL_S1);
    clear(&mut tpm, rh::PLATFORM, b"").expect_ok();
    // Clear restores the DA defaults: lockoutAuth (now empty) is usable.
    da_reset(&mut tpm, b"").expect_ok();
}

#[test]
fn lockout_recovery_zero_needs_a_startup() {
    let (mut tpm, clock) = started();
    da_parameters(&mut tpm, b"", 3, 1000, 0).expect_ok();
    da_reset(&mut tpm, b"x").expect_rc(RC_AUTH_FAIL_S1);
    clock.advance(100_000_000);
    da_reset(&mut tpm, b"").expect_rc(RC_LOCKOUT);
    // The disabled state is persistent until a Startup.
    let mut tpm = reload(&tpm, &clock);
    startup_clear(&mut tpm);
    da_reset(&mut tpm, b"").expect_ok();
}

#[test]
fn lockout_recovery_time_survives_orderly_shutdown_only() {
    // Orderly: 600 s before the shutdown count towards the 1000 s.
    let (mut tpm, clock) = started();
    da_reset(&mut tpm, b"x").expect_rc(RC_AUTH_FAIL_S1);
    clock.advance(600_000);
    shutdown(&mut tpm, su::CLEAR).expect_ok();
    let mut tpm = reload(&tpm, &clock);
    startup_clear(&mut tpm);
    clock.advance(399_000);
    da_reset(&mut tpm, b"").expect_rc(RC_LOCKOUT);
    clock.advance(1_000);
    da_reset(&mut tpm, b"").expect_ok();

    // Power loss: the time before it is lost.
    let (mut tpm, clock) = started();
    da_reset(&mut tpm, b"x").expect_rc(RC_AUTH_FAIL_S1);
    clock.advance(600_000);
    let mut tpm = reload(&tpm, &clock);
    startup_clear(&mut tpm);
    clock.advance(400_000);
    da_reset(&mut tpm, b"").expect_rc(RC_LOCKOUT);
    clock.advance(600_000);
    da_reset(&mut tpm, b"").expect_ok();
}

/// NV_DefineSpace of an ordinary 8-octet index with authValue `auth`.
fn define_nv(tpm: &mut Tpm, index: u32, auth: &[u8], attrs: u32) {
    let mut public = Vec::new();
    public.extend_from_slice(&index.to_be_bytes());
    public.extend_from_slice(&alg::SHA256.to_be_bytes());
    public.extend_from_slice(&attrs.to_be_bytes());
    public.extend_from_slice(&0u16.to_be_bytes());
    public.extend_from_slice(&8u16.to_be_bytes());
    Cmd::new(cc::NV_DEFINE_SPACE)
        .handle(rh::OWNER)
        .pw(b"")
        .tpm2b(auth)
        .tpm2b(&public)
        .run(tpm, 0)
        .expect_ok();
}

fn nv_write(tpm: &mut Tpm, index: u32, auth: &[u8]) -> Resp {
    Cmd::new(cc::NV_WRITE)
        .handle(index)
        .handle(index)
        .pw(auth)
        .tpm2b(&[1; 8])
        .u16(0)
        .run(tpm, 0)
}

#[test]
fn failed_tries_count_only_for_da_protected_entities_and_heal() {
    let (mut tpm, clock) = started();
    da_parameters(&mut tpm, b"", 3, 10, 1000).expect_ok();
    let protected = 0x0150_0001;
    let exempt = 0x0150_0002;
    define_nv(&mut tpm, protected, b"nvpw", NV_AUTHWRITE | NV_AUTHREAD);
    define_nv(
        &mut tpm,
        exempt,
        b"nvpw",
        NV_AUTHWRITE | NV_AUTHREAD | NV_NO_DA,
    );

    // noDA: BAD_AUTH, nothing counted.
    for _ in 0..5 {
        nv_write(&mut tpm, exempt, b"bad").expect_rc(RC_BAD_AUTH_S1);
    }
    assert_eq!(prop(&mut tpm, PT_LOCKOUT_COUNTER), 0);

    // The first DA-protected check of the cycle asks for a retry (the
    // reference USE_DA_USED), then failures count.
    nv_write(&mut tpm, protected, b"bad").expect_rc(RC_RETRY);
    assert_eq!(prop(&mut tpm, PT_LOCKOUT_COUNTER), 0);
    for n in 1..=3 {
        nv_write(&mut tpm, protected, b"bad").expect_rc(RC_AUTH_FAIL_S1);
        assert_eq!(prop(&mut tpm, PT_LOCKOUT_COUNTER), n);
    }
    assert_eq!(prop(&mut tpm, PT_PERMANENT) & IN_LOCKOUT, IN_LOCKOUT);
    // In lockout even the right value is refused; noDA entities work.
    nv_write(&mut tpm, protected, b"nvpw").expect_rc(RC_LOCKOUT);
    nv_write(&mut tpm, exempt, b"nvpw").expect_ok();

    // One try comes back every recoveryTime (10 s) of TPM time.
    clock.advance(9_999);
    assert_eq!(prop(&mut tpm, PT_LOCKOUT_COUNTER), 3);
    clock.advance(1);
    assert_eq!(prop(&mut tpm, PT_LOCKOUT_COUNTER), 2);
    assert_eq!(prop(&mut tpm, PT_PERMANENT) & IN_LOCKOUT, 0);
    nv_write(&mut tpm, protected, b"nvpw").expect_ok();
    clock.advance(25_000);
    assert_eq!(prop(&mut tpm, PT_LOCKOUT_COUNTER), 0);

    // Back into lockout; lockoutAuth resets the counter at once.
    for _ in 0..3 {
        nv_write(&mut tpm, protected, b"bad").expect_rc(RC_AUTH_FAIL_S1);
    }
    nv_write(&mut tpm, protected, b"nvpw").expect_rc(RC_LOCKOUT);
    da_reset(&mut tpm, b"").expect_ok();
    assert_eq!(prop(&mut tpm, PT_LOCKOUT_COUNTER), 0);
    nv_write(&mut tpm, protected, b"nvpw").expect_ok();

    // A lower maxTries puts the TPM in lockout with the current count.
    nv_write(&mut tpm, protected, b"bad").expect_rc(RC_AUTH_FAIL_S1);
    da_parameters(&mut tpm, b"", 1, 10, 1000).expect_ok();
    assert_eq!(prop(&mut tpm, PT_PERMANENT) & IN_LOCKOUT, IN_LOCKOUT);
    // recoveryTime 0 turns DA protection off and forgets the count.
    da_parameters(&mut tpm, b"", 1, 0, 1000).expect_ok();
    assert_eq!(prop(&mut tpm, PT_LOCKOUT_COUNTER), 0);
    nv_write(&mut tpm, protected, b"bad").expect_rc(RC_AUTH_FAIL_S1);
    assert_eq!(prop(&mut tpm, PT_LOCKOUT_COUNTER), 0);
}

#[test]
fn power_loss_after_da_use_counts_as_a_failure() {
    let (mut tpm, clock) = started();
    let index = 0x0150_0003;
    define_nv(&mut tpm, index, b"pw", NV_AUTHWRITE | NV_AUTHREAD);
    nv_write(&mut tpm, index, b"pw").expect_rc(RC_RETRY);
    nv_write(&mut tpm, index, b"pw").expect_ok();
    // Power loss (no Shutdown): the next Startup counts one failure.
    let mut tpm = reload(&tpm, &clock);
    startup_clear(&mut tpm);
    assert_eq!(prop(&mut tpm, PT_LOCKOUT_COUNTER), 1);
    // An orderly cycle costs nothing, even with DA use before Shutdown.
    nv_write(&mut tpm, index, b"pw").expect_rc(RC_RETRY);
    nv_write(&mut tpm, index, b"pw").expect_ok();
    shutdown(&mut tpm, su::CLEAR).expect_ok();
    let mut tpm = reload(&tpm, &clock);
    startup_clear(&mut tpm);
    assert_eq!(prop(&mut tpm, PT_LOCKOUT_COUNTER), 1);
    // DA use after a Shutdown makes the coming power loss disorderly
    // again: Startup(STATE) is refused and a failure is counted.
    shutdown(&mut tpm, su::STATE).expect_ok();
    nv_write(&mut tpm, index, b"pw").expect_rc(RC_RETRY);
    let mut tpm = reload(&tpm, &clock);
    startup(&mut tpm, 0, su::STATE).expect_rc(RC_VALUE_P1);
    startup_clear(&mut tpm);
    assert_eq!(prop(&mut tpm, PT_LOCKOUT_COUNTER), 2);
}

#[test]
fn hmac_session_failures_follow_the_entity() {
    let (mut tpm, _) = started();
    // An unbound, unsalted HMAC session on lockout: a bad HMAC is a
    // lockoutAuth failure (AUTH_FAIL) ...
    let r = Cmd::new(cc::START_AUTH_SESSION)
        .handle(rh::NULL)
        .handle(rh::NULL)
        .tpm2b(&[0x66; 16])
        .tpm2b(&[])
        .u8(0)
        .u16(alg::NULL)
        .u16(alg::SHA256)
        .run(&mut tpm, 0);
    r.expect_ok();
    let s = u32::from_be_bytes(r.body[0..4].try_into().unwrap());
    Cmd::new(cc::DICTIONARY_ATTACK_LOCK_RESET)
        .handle(rh::LOCKOUT)
        .session(s, &[1; 16], CONTINUE_SESSION, &[0xee; 32])
        .run(&mut tpm, 0)
        .expect_rc(RC_AUTH_FAIL_S1);
    da_reset(&mut tpm, b"").expect_rc(RC_LOCKOUT);
    // ... while on the owner it is BAD_AUTH and has no DA effect.
    Cmd::new(cc::HIERARCHY_CHANGE_AUTH)
        .handle(rh::OWNER)
        .session(s, &[1; 16], CONTINUE_SESSION, &[0xee; 32])
        .tpm2b(b"")
        .run(&mut tpm, 0)
        .expect_rc(RC_BAD_AUTH_S1);
    change_auth(&mut tpm, rh::OWNER, b"", b"").expect_ok();
}

#[test]
fn hierarchy_commands_are_reported_with_their_attributes() {
    let (mut tpm, _) = started();
    // TPM_CAP_COMMANDS from HierarchyControl (0x121): TPMA_CC of each.
    let r = Cmd::new(cc::GET_CAPABILITY)
        .u32(2)
        .u32(0x121)
        .u32(10)
        .run(&mut tpm, 0);
    let mut p = r.params(false);
    p.u8();
    assert_eq!(p.u32(), 2);
    let n = p.u32();
    let mut got = std::collections::BTreeMap::new();
    for _ in 0..n {
        let a = p.u32();
        got.insert(a & 0xffff, a);
    }
    // TPMA_CC: nv (bit 22), extensive (bit 23), cHandles (bits 25..27).
    let attr =
        |code: u32, extensive: bool| code | (1 << 22) | (u32::from(extensive) << 23) | (1 << 25);
    assert_eq!(
        got.get(&0x121),
        Some(&attr(0x121, true)),
        "HierarchyControl"
    );
    assert_eq!(got.get(&0x124), Some(&attr(0x124, true)), "ChangeEPS");
    assert_eq!(got.get(&0x125), Some(&attr(0x125, true)), "ChangePPS");
    assert_eq!(got.get(&0x126), Some(&attr(0x126, true)), "Clear");
    assert_eq!(got.get(&0x127), Some(&attr(0x127, false)), "ClearControl");
    assert_eq!(
        got.get(&0x129),
        Some(&attr(0x129, false)),
        "HierarchyChangeAuth"
    );
}

// ---------------------------------------------------------------------------
// Seeds and the objects of a hierarchy

/// TPMT_PUBLIC of an ECC P-256 ECDSA signing key (fixedTPM, fixedParent,
/// sensitiveDataOrigin, userWithAuth, sign).
fn ecc_template() -> Vec<u8> {
    let mut t = Vec::new();
    t.extend_from_slice(&alg::ECC.to_be_bytes());
    t.extend_from_slice(&alg::SHA256.to_be_bytes());
    t.extend_from_slice(&0x0004_0072u32.to_be_bytes());
    t.extend_from_slice(&0u16.to_be_bytes()); // authPolicy
    t.extend_from_slice(&alg::NULL.to_be_bytes()); // symmetric
    t.extend_from_slice(&alg::ECDSA.to_be_bytes());
    t.extend_from_slice(&alg::SHA256.to_be_bytes());
    t.extend_from_slice(&0x0003u16.to_be_bytes()); // NIST P-256
    t.extend_from_slice(&alg::NULL.to_be_bytes()); // kdf
    t.extend_from_slice(&[0, 0, 0, 0]); // unique: empty x, y
    t
}

/// CreatePrimary of [`ecc_template`] under `hierarchy`: (handle, outPublic).
fn create_primary(tpm: &mut Tpm, hierarchy: u32) -> (u32, Vec<u8>) {
    let r = Cmd::new(cc::CREATE_PRIMARY)
        .handle(hierarchy)
        .pw(b"")
        .tpm2b(&[0, 0, 0, 0])
        .tpm2b(&ecc_template())
        .tpm2b(&[])
        .u32(0)
        .run(tpm, 0);
    r.expect_ok();
    let handle = u32::from_be_bytes(r.body[0..4].try_into().unwrap());
    let out_public = r.params(true).tpm2b();
    (handle, out_public)
}

/// TPM_CAP_HANDLES from `first` (transient 0x80..., persistent 0x81...).
fn handles(tpm: &mut Tpm, first: u32) -> Vec<u32> {
    let r = Cmd::new(cc::GET_CAPABILITY)
        .u32(1)
        .u32(first)
        .u32(64)
        .run(tpm, 0);
    let mut p = r.params(false);
    p.u8();
    assert_eq!(p.u32(), 1);
    (0..p.u32()).map(|_| p.u32()).collect()
}

fn flush(tpm: &mut Tpm, h: u32) {
    Cmd::new(cc::FLUSH_CONTEXT).u32(h).run(tpm, 0).expect_ok();
}

#[test]
fn clear_and_seed_changes_give_new_primary_keys_and_flush_objects() {
    let (mut tpm, _) = started();
    let (ho, owner1) = create_primary(&mut tpm, rh::OWNER);
    let (he, endorse1) = create_primary(&mut tpm, rh::ENDORSEMENT);
    let (hp, platform1) = create_primary(&mut tpm, rh::PLATFORM);
    assert_eq!(handles(&mut tpm, 0x8000_0000), vec![ho, he, hp]);
    // Disabling the storage hierarchy flushes its objects only.
    hierarchy_control(&mut tpm, rh::OWNER, rh::OWNER, 0).expect_ok();
    assert_eq!(handles(&mut tpm, 0x8000_0000), vec![he, hp]);
    hierarchy_control(&mut tpm, rh::PLATFORM, rh::OWNER, 1).expect_ok();
    // Same seed, same template: same key.
    let (ho, again) = create_primary(&mut tpm, rh::OWNER);
    assert_eq!(again, owner1);
    // A persistent owner object.
    Cmd::new(cc::EVICT_CONTROL)
        .handle(rh::OWNER)
        .handle(ho)
        .pw(b"")
        .u32(0x8100_0001)
        .run(&mut tpm, 0)
        .expect_ok();
    assert_eq!(handles(&mut tpm, 0x8100_0000), vec![0x8100_0001]);

    // Clear: new SPS; owner and endorsement objects gone, platform's kept.
    clear(&mut tpm, rh::PLATFORM, b"").expect_ok();
    assert_eq!(handles(&mut tpm, 0x8000_0000), vec![hp]);
    assert_eq!(handles(&mut tpm, 0x8100_0000), Vec::<u32>::new());
    let (h, owner2) = create_primary(&mut tpm, rh::OWNER);
    assert_ne!(owner2, owner1, "Clear changes the SPS");
    flush(&mut tpm, h);
    let (h, endorse2) = create_primary(&mut tpm, rh::ENDORSEMENT);
    assert_eq!(endorse2, endorse1, "Clear keeps the EPS");
    flush(&mut tpm, h);

    // ChangeEPS: new EPS, endorsement objects flushed.
    let (he, _) = create_primary(&mut tpm, rh::ENDORSEMENT);
    Cmd::new(cc::CHANGE_EPS)
        .handle(rh::PLATFORM)
        .pw(b"")
        .run(&mut tpm, 0)
        .expect_ok();
    assert!(!handles(&mut tpm, 0x8000_0000).contains(&he));
    let (h, endorse3) = create_primary(&mut tpm, rh::ENDORSEMENT);
    assert_ne!(endorse3, endorse1, "ChangeEPS changes the EPS");
    flush(&mut tpm, h);
    let (h, owner3) = create_primary(&mut tpm, rh::OWNER);
    assert_eq!(owner3, owner2, "ChangeEPS keeps the SPS");
    flush(&mut tpm, h);

    // ChangePPS: new PPS, platform objects flushed.
    Cmd::new(cc::CHANGE_PPS)
        .handle(rh::PLATFORM)
        .pw(b"")
        .run(&mut tpm, 0)
        .expect_ok();
    assert_eq!(handles(&mut tpm, 0x8000_0000), Vec::<u32>::new());
    let (_, platform2) = create_primary(&mut tpm, rh::PLATFORM);
    assert_ne!(platform2, platform1, "ChangePPS changes the PPS");
}
