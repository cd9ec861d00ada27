//! The hierarchy and dictionary-attack commands through the real
//! tpm2-tools (5.4) against `trustcloud tpm serve`, under both TCP
//! protocols: tpm2_changeauth of the owner, endorsement, lockout and
//! platform hierarchies, tpm2_clear, tpm2_clearcontrol,
//! tpm2_dictionarylockout (parameters, reset, lockout after a bad
//! lockoutAuth and its recovery), tpm2_hierarchycontrol, and
//! tpm2_setprimarypolicy with a policy session whose digest this file
//! computes. Every effect is checked in what `tpm2_getcap
//! properties-variable` (and tpm2_readclock) report.
//!
//! `TRUSTCLOUD_TEST_TPM=swtpm cargo test -p trustcloud --test
//! tpm2_tools_hierarchy swtpm` runs the same checks against swtpm.

mod support;

use std::thread;
use std::time::Duration;

use sha2::Digest;
use support::{parse, Protocol, Server};

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
    changeauth_every_hierarchy,
    clear_by_lockout_and_platform,
    clearcontrol_blocks_clear,
    dictionarylockout_parameters_and_lockout,
    repeated_bad_auth_locks_out_da_protected_index,
    hierarchycontrol_enables,
    setprimarypolicy_with_policy_session,
);

const RC_BAD_AUTH_S1: u32 = 0x9a2;
const RC_AUTH_FAIL_S1: u32 = 0x98e;
const RC_LOCKOUT: u32 = 0x921;
const RC_DISABLED: u32 = 0x120;
const RC_HIERARCHY_H1: u32 = 0x185;
const RC_SIZE_P1: u32 = 0x1d5;

fn started(p: Protocol) -> Server {
    let s = Server::start(p);
    s.ok("tpm2_startup", &["-c"]);
    s
}

fn assert_rc(out: &support::ToolOutput, rc: u32) {
    assert_eq!(
        out.tpm_rc(),
        Some(rc),
        "expected TPM response code {rc:#x}: {out:?}"
    );
}

/// `tpm2_getcap properties-variable`, parsed.
struct Vars(Vec<parse::Block>);

impl Vars {
    fn read(s: &Server) -> Vars {
        Vars(parse::blocks(
            &s.ok("tpm2_getcap", &["properties-variable"]),
        ))
    }
    /// A TPMA_PERMANENT field (ownerAuthSet, disableClear, inLockout ...).
    fn permanent(&self, field: &str) -> u64 {
        parse::block(&self.0, "TPM2_PT_PERMANENT").num(field)
    }
    /// A TPMA_STARTUP_CLEAR field (phEnable, shEnable ...).
    fn startup_clear(&self, field: &str) -> u64 {
        parse::block(&self.0, "TPM2_PT_STARTUP_CLEAR").num(field)
    }
    /// A plain property such as TPM2_PT_LOCKOUT_COUNTER.
    fn value(&self, key: &str) -> u64 {
        parse::num(parse::block(&self.0, key).inline.as_deref().unwrap_or(""))
    }
    /// (counter, max tries, interval, recovery).
    fn da(&self) -> [u64; 4] {
        [
            self.value("TPM2_PT_LOCKOUT_COUNTER"),
            self.value("TPM2_PT_MAX_AUTH_FAIL"),
            self.value("TPM2_PT_LOCKOUT_INTERVAL"),
            self.value("TPM2_PT_LOCKOUT_RECOVERY"),
        ]
    }
}

fn auth_bits(v: &Vars) -> [u64; 3] {
    [
        v.permanent("ownerAuthSet"),
        v.permanent("endorsementAuthSet"),
        v.permanent("lockoutAuthSet"),
    ]
}

/// clock and reset_count from tpm2_readclock.
fn readclock(s: &Server) -> (u64, u64, u64) {
    let out = s.ok("tpm2_readclock", &[]);
    let b = parse::blocks(&out);
    let ci = parse::block(&b, "clock_info");
    (
        ci.num("clock"),
        ci.num("reset_count"),
        ci.num("restart_count"),
    )
}

fn changeauth_every_hierarchy(p: Protocol) {
    let s = started(p);
    assert_eq!(auth_bits(&Vars::read(&s)), [0, 0, 0]);
    s.ok("tpm2_changeauth", &["-c", "o", "ownerpw"]);
    assert_eq!(auth_bits(&Vars::read(&s)), [1, 0, 0]);
    s.ok("tpm2_changeauth", &["-c", "e", "endorsepw"]);
    s.ok("tpm2_changeauth", &["-c", "l", "lockpw"]);
    s.ok("tpm2_changeauth", &["-c", "p", "platpw"]);
    assert_eq!(auth_bits(&Vars::read(&s)), [1, 1, 1]);

    // Without the old value: refused, BAD_AUTH for the DA-exempt
    // hierarchies.
    for h in ["o", "e", "p"] {
        let out = s.fails("tpm2_changeauth", &["-c", h, "x"]);
        assert_rc(&out, RC_BAD_AUTH_S1);
    }
    // With it: each new value works, and then the newer one.
    s.ok("tpm2_changeauth", &["-c", "o", "-p", "ownerpw", "owner2"]);
    s.ok(
        "tpm2_changeauth",
        &["-c", "e", "-p", "endorsepw", "endorse2"],
    );
    s.ok("tpm2_changeauth", &["-c", "p", "-p", "platpw", "plat2"]);
    s.ok("tpm2_changeauth", &["-c", "l", "-p", "lockpw", "lock2"]);
    // Use of the new authorizations by other commands.
    s.ok(
        "tpm2_hierarchycontrol",
        &["-C", "o", "-P", "owner2", "shEnable", "clear"],
    );
    assert_eq!(Vars::read(&s).startup_clear("shEnable"), 0);
    s.ok(
        "tpm2_hierarchycontrol",
        &["-C", "p", "-P", "plat2", "shEnable", "set"],
    );
    s.ok(
        "tpm2_dictionarylockout",
        &["-s", "-n", "4", "-t", "100", "-l", "200", "-p", "lock2"],
    );
    assert_eq!(Vars::read(&s).da(), [0, 4, 100, 200]);
    // Back to empty: the auth-set bits clear again.
    s.ok("tpm2_changeauth", &["-c", "o", "-p", "owner2"]);
    s.ok("tpm2_changeauth", &["-c", "e", "-p", "endorse2"]);
    s.ok("tpm2_changeauth", &["-c", "l", "-p", "lock2"]);
    assert_eq!(auth_bits(&Vars::read(&s)), [0, 0, 0]);
    // Owner and lockout values persist across a power cycle; the
    // platform's does not.
    s.ok("tpm2_changeauth", &["-c", "o", "persist"]);
    s.ok("tpm2_shutdown", &["-c"]);
    let mut s = s;
    s.power_cycle();
    s.ok("tpm2_startup", &["-c"]);
    assert_eq!(auth_bits(&Vars::read(&s)), [1, 0, 0]);
    s.ok("tpm2_changeauth", &["-c", "p", "fresh"]);
    s.ok("tpm2_changeauth", &["-c", "o", "-p", "persist"]);
}

fn clear_by_lockout_and_platform(p: Protocol) {
    let s = started(p);
    s.ok("tpm2_changeauth", &["-c", "o", "o1"]);
    s.ok("tpm2_changeauth", &["-c", "e", "e1"]);
    s.ok("tpm2_changeauth", &["-c", "l", "l1"]);
    s.ok(
        "tpm2_dictionarylockout",
        &["-s", "-n", "7", "-t", "70", "-l", "700", "-p", "l1"],
    );
    s.ok("tpm2_shutdown", &["-c"]);
    let mut s = s;
    s.power_cycle();
    s.ok("tpm2_startup", &["-c"]);
    thread::sleep(Duration::from_millis(300));
    let (clock1, reset1, _) = readclock(&s);
    assert!(reset1 >= 1 && clock1 >= 300, "{clock1} {reset1}");

    // A wrong lockoutAuth is refused (and locks lockoutAuth out, so the
    // platform clears this time).
    let out = s.fails("tpm2_clear", &["-c", "l", "wrong"]);
    assert_rc(&out, RC_AUTH_FAIL_S1);
    s.ok("tpm2_clear", &["-c", "p"]);
    let v = Vars::read(&s);
    assert_eq!(auth_bits(&v), [0, 0, 0]);
    assert_eq!(v.da(), [0, 3, 1000, 1000]);
    let (clock2, reset2, restart2) = readclock(&s);
    assert_eq!((reset2, restart2), (0, 0));
    assert!(
        clock2 < clock1,
        "Clock restarts at Clear: {clock1} -> {clock2}"
    );

    // Clear restored the DA defaults, lockoutAuth enabled: the lockout
    // hierarchy clears again, with its new value.
    s.ok("tpm2_changeauth", &["-c", "l", "l2"]);
    s.ok("tpm2_changeauth", &["-c", "o", "o2"]);
    assert_eq!(auth_bits(&Vars::read(&s)), [1, 0, 1]);
    s.ok("tpm2_clear", &["-c", "l", "l2"]);
    assert_eq!(auth_bits(&Vars::read(&s)), [0, 0, 0]);
}

fn clearcontrol_blocks_clear(p: Protocol) {
    let s = started(p);
    s.ok("tpm2_changeauth", &["-c", "l", "lk"]);
    s.ok("tpm2_clearcontrol", &["-C", "l", "-P", "lk", "s"]);
    assert_eq!(Vars::read(&s).permanent("disableClear"), 1);
    let out = s.fails("tpm2_clear", &["-c", "l", "lk"]);
    assert_rc(&out, RC_DISABLED);
    let out = s.fails("tpm2_clear", &["-c", "p"]);
    assert_rc(&out, RC_DISABLED);
    // Only the platform clears disableClear.
    s.ok("tpm2_clearcontrol", &["-C", "p", "c"]);
    assert_eq!(Vars::read(&s).permanent("disableClear"), 0);
    s.ok("tpm2_clear", &["-c", "l", "lk"]);
    assert_eq!(Vars::read(&s).permanent("lockoutAuthSet"), 0);
}

fn dictionarylockout_parameters_and_lockout(p: Protocol) {
    let s = started(p);
    assert_eq!(Vars::read(&s).da(), [0, 3, 1000, 1000]);
    s.ok("tpm2_changeauth", &["-c", "l", "lockpw"]);
    s.ok(
        "tpm2_dictionarylockout",
        &["-s", "-n", "5", "-t", "10", "-l", "2", "-p", "lockpw"],
    );
    assert_eq!(Vars::read(&s).da(), [0, 5, 10, 2]);
    s.ok("tpm2_dictionarylockout", &["-c", "-p", "lockpw"]);

    // A bad lockoutAuth counts against lockoutAuth itself: refused with
    // AUTH_FAIL, then even the right value is refused (TPM_RC_LOCKOUT)
    // until lockoutRecovery (2 s) has passed.
    let out = s.fails("tpm2_dictionarylockout", &["-c", "-p", "wrong"]);
    assert_rc(&out, RC_AUTH_FAIL_S1);
    let out = s.fails("tpm2_dictionarylockout", &["-c", "-p", "lockpw"]);
    assert_rc(&out, RC_LOCKOUT);
    let v = Vars::read(&s);
    assert_eq!(v.value("TPM2_PT_LOCKOUT_COUNTER"), 0);
    assert_eq!(v.permanent("inLockout"), 0);
    thread::sleep(Duration::from_millis(2_300));
    s.ok("tpm2_dictionarylockout", &["-c", "-p", "lockpw"]);

    // Parameters persist across a power cycle.
    s.ok("tpm2_shutdown", &["-c"]);
    let mut s = s;
    s.power_cycle();
    s.ok("tpm2_startup", &["-c"]);
    assert_eq!(Vars::read(&s).da(), [0, 5, 10, 2]);
}

/// A DA-protected NV index (no TPMA_NV_NO_DA): every bad authValue
/// counts (tpm2-tss retries the TPM_RC_RETRY of the cycle's first DA
/// check by itself), maxTries of them put the TPM in lockout, where even
/// the right value is refused until lockoutAuth resets the counter.
fn repeated_bad_auth_locks_out_da_protected_index(p: Protocol) {
    let s = started(p);
    s.ok(
        "tpm2_nvdefine",
        &[
            "0x1500020",
            "-C",
            "o",
            "-s",
            "8",
            "-a",
            "authread|authwrite",
            "-p",
            "nvpw",
        ],
    );
    let data = s.write_file("d.bin", b"12345678");
    let args = |auth: &'static str| -> Vec<String> {
        ["0x1500020", "-C", "0x1500020", "-P", auth, "-i", &data]
            .map(str::to_string)
            .to_vec()
    };
    let nvwrite_fails = |auth: &'static str| {
        let a = args(auth);
        s.fails(
            "tpm2_nvwrite",
            &a.iter().map(String::as_str).collect::<Vec<_>>(),
        )
    };
    for n in 1..=3 {
        let out = nvwrite_fails("bad");
        assert_rc(&out, RC_AUTH_FAIL_S1);
        let v = Vars::read(&s);
        assert_eq!(v.value("TPM2_PT_LOCKOUT_COUNTER"), n);
        assert_eq!(v.permanent("inLockout"), u64::from(n == 3));
    }
    let out = nvwrite_fails("nvpw");
    assert_rc(&out, RC_LOCKOUT);
    s.ok("tpm2_dictionarylockout", &["-c"]);
    let v = Vars::read(&s);
    assert_eq!(
        (v.value("TPM2_PT_LOCKOUT_COUNTER"), v.permanent("inLockout")),
        (0, 0)
    );
    let a = args("nvpw");
    s.ok(
        "tpm2_nvwrite",
        &a.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let read = s.ok(
        "tpm2_nvread",
        &["0x1500020", "-C", "0x1500020", "-P", "nvpw"],
    );
    assert_eq!(read, "12345678");
}

fn hierarchycontrol_enables(p: Protocol) {
    let s = started(p);
    s.ok("tpm2_hierarchycontrol", &["-C", "p", "shEnable", "clear"]);
    s.ok("tpm2_hierarchycontrol", &["-C", "e", "ehEnable", "clear"]);
    s.ok("tpm2_hierarchycontrol", &["-C", "p", "phEnableNV", "clear"]);
    let v = Vars::read(&s);
    assert_eq!(
        [
            v.startup_clear("phEnable"),
            v.startup_clear("shEnable"),
            v.startup_clear("ehEnable"),
            v.startup_clear("phEnableNV"),
        ],
        [1, 0, 0, 0]
    );
    // A disabled hierarchy's handle is refused.
    let out = s.fails("tpm2_changeauth", &["-c", "o", "x"]);
    assert_rc(&out, RC_HIERARCHY_H1);
    s.ok("tpm2_hierarchycontrol", &["-C", "p", "shEnable", "set"]);
    s.ok("tpm2_hierarchycontrol", &["-C", "p", "ehEnable", "set"]);
    s.ok("tpm2_hierarchycontrol", &["-C", "p", "phEnableNV", "set"]);
    s.ok("tpm2_changeauth", &["-c", "o", "x"]);
    // The platform hierarchy disabled stays so until Startup(CLEAR).
    s.ok("tpm2_hierarchycontrol", &["-C", "p", "phEnable", "clear"]);
    assert_eq!(Vars::read(&s).startup_clear("phEnable"), 0);
    let out = s.fails("tpm2_changeauth", &["-c", "p", "x"]);
    assert_rc(&out, RC_HIERARCHY_H1);
    s.ok("tpm2_shutdown", &["-c"]);
    let mut s = s;
    s.power_cycle();
    s.ok("tpm2_startup", &["-c"]);
    assert_eq!(Vars::read(&s).startup_clear("phEnable"), 1);
}

/// PolicyCommandCode(code) from the empty policy (Part 3 §23.11).
fn policy_command_code(code: u32) -> Vec<u8> {
    let mut h = sha2::Sha256::new();
    h.update([0u8; 32]);
    h.update(0x16Cu32.to_be_bytes());
    h.update(code.to_be_bytes());
    h.finalize().to_vec()
}

fn setprimarypolicy_with_policy_session(p: Protocol) {
    let s = started(p);
    s.ok("tpm2_changeauth", &["-c", "o", "ownerpw"]);
    let policy = policy_command_code(0x129); // TPM_CC_HierarchyChangeAuth
    let pol = s.write_file("policy.dat", &policy);
    s.ok(
        "tpm2_setprimarypolicy",
        &["-C", "o", "-P", "ownerpw", "-L", &pol, "-g", "sha256"],
    );
    // The session's digest, as the TPM computes it, is the one here.
    s.ok(
        "tpm2_startauthsession",
        &["--policy-session", "-S", "s.ctx"],
    );
    s.ok(
        "tpm2_policycommandcode",
        &[
            "-S",
            "s.ctx",
            "-L",
            "got.dat",
            "TPM2_CC_HierarchyChangeAuth",
        ],
    );
    let got = std::fs::read(s.path("got.dat")).expect("policy digest file");
    assert_eq!(got, policy);
    // ownerAuth is not needed: the policy changes it.
    s.ok(
        "tpm2_changeauth",
        &["-c", "o", "-p", "session:s.ctx", "bypolicy"],
    );
    s.ok("tpm2_flushcontext", &["s.ctx"]);
    s.ok("tpm2_changeauth", &["-c", "o", "-p", "bypolicy"]);
    assert_eq!(Vars::read(&s).permanent("ownerAuthSet"), 0);
    // Without -L the tool sends an empty digest for SHA-256: the wrong
    // size for the hash (TPM_RC_SIZE, parameter 1), and the policy stays.
    let out = s.fails("tpm2_setprimarypolicy", &["-C", "o", "-g", "sha256"]);
    assert_rc(&out, RC_SIZE_P1);
    s.ok(
        "tpm2_startauthsession",
        &["--policy-session", "-S", "s2.ctx"],
    );
    s.ok(
        "tpm2_policycommandcode",
        &["-S", "s2.ctx", "TPM2_CC_HierarchyChangeAuth"],
    );
    s.ok(
        "tpm2_changeauth",
        &["-c", "o", "-p", "session:s2.ctx", "again"],
    );
    assert_eq!(Vars::read(&s).permanent("ownerAuthSet"), 1);
}
