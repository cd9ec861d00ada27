//! Differential tests of the hierarchy and dictionary-attack commands
//! against swtpm (libtpms), the reference vTPM: the same raw command bytes
//! go to `swtpm socket --tpm2` and to `trustcloud tpm serve --protocol
//! swtpm`, and the answers must be byte-identical wherever Part 3 makes
//! them deterministic — response codes with their handle / parameter /
//! session numbers, TPMA_PERMANENT and TPMA_STARTUP_CLEAR, the
//! dictionary-attack properties, TPM_CAP_AUTH_POLICIES, and the lockout
//! state machine (including TPM_RC_RETRY on the first DA-protected
//! authorization of a cycle and the failure a power loss after it costs).
//!
//! Left out on purpose: nonces and Clock values (random / timing), which
//! are compared only by the fields that are deterministic.
//!
//! `TRUSTCLOUD_TEST_TPM=swtpm` runs swtpm against itself (a check that
//! only deterministic fields are compared); `DIFF_TRACE=1 ... --
//! --nocapture` prints every compared command with swtpm's answer.

mod support;

use sha2::Digest;
use support::raw::{auth_cmd, cmd, pw, session, tpm2b, ST_NO_SESSIONS};
use support::{Protocol, RawConn, Server, ServerBuilder, UNDER_TEST_ENV};

/// swtpm's own allocation when it manufactures a TPM by itself.
const BANKS: &str = "sha1,sha256,sha384,sha512";

struct Side {
    data: std::net::SocketAddr,
    ctrl: std::net::SocketAddr,
    conn: Option<RawConn>,
}

impl Side {
    fn new(s: &Server) -> Side {
        Side {
            data: s.addr(),
            ctrl: s.aux_addr(),
            conn: None,
        }
    }

    fn exchange(&mut self, cmd: &[u8]) -> Result<Vec<u8>, String> {
        let mut conn = match self.conn.take() {
            Some(c) => c,
            None => RawConn::connect(self.data).map_err(|e| format!("connect: {e}"))?,
        };
        let r = conn.transmit(cmd).map_err(|e| format!("exchange: {e}"));
        if r.is_ok() {
            self.conn = Some(conn);
        }
        r
    }
}

fn show(r: &Result<Vec<u8>, String>) -> String {
    match r {
        Ok(b) => hex::encode(b),
        Err(e) => format!("<{e}>"),
    }
}

/// swtpm and our server side by side, collecting every mismatch.
struct Pair {
    sw: Side,
    ours: Side,
    diffs: Vec<String>,
    _servers: (Server, Server),
}

impl Pair {
    fn started() -> Pair {
        let sw = ServerBuilder::swtpm().start();
        let ours = match std::env::var(UNDER_TEST_ENV).as_deref() {
            Ok("swtpm") => ServerBuilder::swtpm().start(),
            _ => ServerBuilder::trustcloud(Protocol::Swtpm)
                .pcr_banks(BANKS)
                .start(),
        };
        let mut p = Pair {
            sw: Side::new(&sw),
            ours: Side::new(&ours),
            diffs: Vec::new(),
            _servers: (sw, ours),
        };
        let r = p.same("Startup(CLEAR)", &startup(SU_CLEAR));
        assert_eq!(rc(&r), 0, "swtpm refused Startup");
        p
    }

    fn both(&mut self, what: &str, cmd: &[u8]) -> (Vec<u8>, Result<Vec<u8>, String>) {
        let sw = self
            .sw
            .exchange(cmd)
            .unwrap_or_else(|e| panic!("swtpm failed on {what}: {e}"));
        if std::env::var_os("DIFF_TRACE").is_some() {
            eprintln!(
                "{what}\n  cmd   {}\n  swtpm {}",
                hex::encode(cmd),
                hex::encode(&sw)
            );
        }
        let ours = self.ours.exchange(cmd);
        (sw, ours)
    }

    /// Both answers must be identical; returns swtpm's.
    fn same(&mut self, what: &str, cmd: &[u8]) -> Vec<u8> {
        let (sw, ours) = self.both(what, cmd);
        if ours.as_ref() != Ok(&sw) {
            self.diff(what, cmd, &sw, &ours);
        }
        sw
    }

    /// Both answers must carry the same response code (and, on success,
    /// the same handle when `handle` is set); the rest may differ
    /// (nonces). Returns (swtpm, ours) responses.
    fn same_rc(&mut self, what: &str, cmd: &[u8], handle: bool) -> (Vec<u8>, Vec<u8>) {
        let (sw, ours) = self.both(what, cmd);
        let ours_b = ours.clone().unwrap_or_default();
        let same = rc(&sw) == rc(&ours_b)
            && (!handle || rc(&sw) != 0 || sw.get(10..14) == ours_b.get(10..14));
        if !same {
            self.diff(what, cmd, &sw, &ours);
        }
        (sw, ours_b)
    }

    fn diff(&mut self, what: &str, cmd: &[u8], sw: &[u8], ours: &Result<Vec<u8>, String>) {
        self.diffs.push(format!(
            "{what}\n    command: {}\n    swtpm:   {}\n    ours:    {}",
            hex::encode(cmd),
            hex::encode(sw),
            show(ours)
        ));
    }

    fn note(&mut self, what: &str, detail: String) {
        self.diffs.push(format!("{what}\n    {detail}"));
    }

    /// A power loss on both (swtpm CMD_INIT without a prior Shutdown is
    /// _TPM_Init), then fresh connections.
    fn power_cycle(&mut self) {
        self.sw.conn = None;
        self.ours.conn = None;
        let sw = support::swtpm_ctrl(self.sw.ctrl, CMD_INIT, &[0; 4], 4).expect("swtpm CMD_INIT");
        let ours =
            support::swtpm_ctrl(self.ours.ctrl, CMD_INIT, &[0; 4], 4).map_err(|e| e.to_string());
        assert_eq!(sw, [0; 4], "swtpm refused CMD_INIT");
        if ours.as_deref() != Ok(&sw[..]) {
            self.note("CMD_INIT", format!("swtpm {sw:?} ours {ours:?}"));
        }
    }

    /// The hierarchy-related properties: TPMA_PERMANENT, TPMA_STARTUP_CLEAR
    /// and the four dictionary-attack values.
    fn same_props(&mut self, when: &str) {
        self.same(
            &format!("PERMANENT/STARTUP_CLEAR {when}"),
            &get_capability(CAP_TPM_PROPERTIES, PT_PERMANENT, 2),
        );
        self.same(
            &format!("DA properties {when}"),
            &get_capability(CAP_TPM_PROPERTIES, PT_LOCKOUT_COUNTER, 4),
        );
    }

    /// resetCount, restartCount and safe of ReadClock (Clock itself runs
    /// on each side's own time).
    fn same_clock_counters(&mut self, when: &str) {
        let c = cmd(ST_NO_SESSIONS, CC_READ_CLOCK, &[]);
        let (sw, ours) = self.both(&format!("ReadClock {when}"), &c);
        let ours = ours.unwrap_or_default();
        if sw.get(26..35) != ours.get(26..35) {
            self.note(
                &format!("ReadClock counters {when}"),
                format!("swtpm {} ours {}", hex::encode(&sw), hex::encode(&ours)),
            );
        }
    }

    fn finish(self) {
        if !self.diffs.is_empty() {
            panic!(
                "{} difference(s) between swtpm and trustcloud:\n{}",
                self.diffs.len(),
                self.diffs.join("\n")
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Command encoding (raw bytes, independent of the crate under test).

const SU_CLEAR: u16 = 0;
const SU_STATE: u16 = 1;
const RH_OWNER: u32 = 0x4000_0001;
const RH_NULL: u32 = 0x4000_0007;
const RH_LOCKOUT: u32 = 0x4000_000A;
const RH_ENDORSEMENT: u32 = 0x4000_000B;
const RH_PLATFORM: u32 = 0x4000_000C;
const RH_PLATFORM_NV: u32 = 0x4000_000D;

const SHA1: u16 = 0x0004;
const HMAC: u16 = 0x0005;
const SHA256: u16 = 0x000B;
const SHA384: u16 = 0x000C;
const ALG_NULL: u16 = 0x0010;

const CC_HIERARCHY_CONTROL: u32 = 0x121;
const CC_CHANGE_EPS: u32 = 0x124;
const CC_CHANGE_PPS: u32 = 0x125;
const CC_CLEAR: u32 = 0x126;
const CC_CLEAR_CONTROL: u32 = 0x127;
const CC_HIERARCHY_CHANGE_AUTH: u32 = 0x129;
const CC_NV_DEFINE_SPACE: u32 = 0x12A;
const CC_SET_PRIMARY_POLICY: u32 = 0x12E;
const CC_NV_WRITE: u32 = 0x137;
const CC_DA_LOCK_RESET: u32 = 0x139;
const CC_DA_PARAMETERS: u32 = 0x13A;
const CC_STARTUP: u32 = 0x144;
const CC_SHUTDOWN: u32 = 0x145;
const CC_POLICY_COMMAND_CODE: u32 = 0x16C;
const CC_START_AUTH_SESSION: u32 = 0x176;
const CC_GET_CAPABILITY: u32 = 0x17A;
const CC_READ_CLOCK: u32 = 0x181;

const CAP_TPM_PROPERTIES: u32 = 6;
const CAP_AUTH_POLICIES: u32 = 9;
const PT_PERMANENT: u32 = 0x200;
const PT_LOCKOUT_COUNTER: u32 = 0x20E;

/// swtpm control channel: CMD_INIT (tpm_ioctl.h).
const CMD_INIT: u32 = 2;

fn startup(su: u16) -> Vec<u8> {
    cmd(ST_NO_SESSIONS, CC_STARTUP, &su.to_be_bytes())
}

fn shutdown(su: u16) -> Vec<u8> {
    cmd(ST_NO_SESSIONS, CC_SHUTDOWN, &su.to_be_bytes())
}

fn get_capability(cap: u32, property: u32, count: u32) -> Vec<u8> {
    let mut b = cap.to_be_bytes().to_vec();
    b.extend(property.to_be_bytes());
    b.extend(count.to_be_bytes());
    cmd(ST_NO_SESSIONS, CC_GET_CAPABILITY, &b)
}

fn change_auth(h: u32, auth: &[u8], new: &[u8]) -> Vec<u8> {
    auth_cmd(CC_HIERARCHY_CHANGE_AUTH, &[h], &[pw(auth)], &tpm2b(new))
}

fn set_policy(h: u32, auth: &[u8], digest: &[u8], alg: u16) -> Vec<u8> {
    let mut p = tpm2b(digest);
    p.extend(alg.to_be_bytes());
    auth_cmd(CC_SET_PRIMARY_POLICY, &[h], &[pw(auth)], &p)
}

fn hierarchy_control(auth: u32, enable: u32, state: u8) -> Vec<u8> {
    let mut p = enable.to_be_bytes().to_vec();
    p.push(state);
    auth_cmd(CC_HIERARCHY_CONTROL, &[auth], &[pw(b"")], &p)
}

fn clear(h: u32, auth: &[u8]) -> Vec<u8> {
    auth_cmd(CC_CLEAR, &[h], &[pw(auth)], &[])
}

fn clear_control(h: u32, auth: &[u8], disable: u8) -> Vec<u8> {
    auth_cmd(CC_CLEAR_CONTROL, &[h], &[pw(auth)], &[disable])
}

fn da_parameters(auth: &[u8], max: u32, recovery: u32, lockout: u32) -> Vec<u8> {
    let mut p = max.to_be_bytes().to_vec();
    p.extend(recovery.to_be_bytes());
    p.extend(lockout.to_be_bytes());
    auth_cmd(CC_DA_PARAMETERS, &[RH_LOCKOUT], &[pw(auth)], &p)
}

fn da_reset(auth: &[u8]) -> Vec<u8> {
    auth_cmd(CC_DA_LOCK_RESET, &[RH_LOCKOUT], &[pw(auth)], &[])
}

/// StartAuthSession(NULL, NULL, fixed nonce, no salt, `kind`, no
/// symmetric, SHA-256).
fn start_session(kind: u8) -> Vec<u8> {
    let mut b = RH_NULL.to_be_bytes().to_vec();
    b.extend(RH_NULL.to_be_bytes());
    b.extend(tpm2b(&[0x5a; 16]));
    b.extend(tpm2b(&[]));
    b.push(kind);
    b.extend(ALG_NULL.to_be_bytes());
    b.extend(SHA256.to_be_bytes());
    cmd(ST_NO_SESSIONS, CC_START_AUTH_SESSION, &b)
}

fn rc(resp: &[u8]) -> u32 {
    resp.get(6..10)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        .unwrap_or(u32::MAX)
}

fn response_handle(resp: &[u8]) -> u32 {
    resp.get(10..14)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        .unwrap_or(0)
}

/// H(0^32 || TPM_CC_PolicyCommandCode || code).
fn policy_command_code(code: u32) -> Vec<u8> {
    let mut h = sha2::Sha256::new();
    h.update([0u8; 32]);
    h.update(CC_POLICY_COMMAND_CODE.to_be_bytes());
    h.update(code.to_be_bytes());
    h.finalize().to_vec()
}

// ---------------------------------------------------------------------------

#[test]
fn change_auth_and_primary_policy() {
    let mut p = Pair::started();
    p.same_props("fresh");
    p.same("HCA owner -> abc", &change_auth(RH_OWNER, b"", b"abc"));
    p.same("HCA owner, old auth", &change_auth(RH_OWNER, b"", b"x"));
    p.same(
        "HCA owner, trailing zeros in the password",
        &change_auth(RH_OWNER, b"abc\0\0", b"abc"),
    );
    p.same(
        "HCA 65-octet auth",
        &change_auth(RH_OWNER, b"abc", &[7; 65]),
    );
    p.same(
        "HCA 64-octet auth",
        &change_auth(RH_ENDORSEMENT, b"", &[7; 64]),
    );
    p.same(
        "HCA all-zero auth",
        &change_auth(RH_ENDORSEMENT, &[7; 64], &[0; 9]),
    );
    p.same("HCA NULL handle", &change_auth(RH_NULL, b"", b""));
    p.same(
        "HCA PLATFORM_NV handle",
        &change_auth(RH_PLATFORM_NV, b"", b""),
    );
    p.same("HCA platform", &change_auth(RH_PLATFORM, b"", b"pp"));
    p.same("HCA lockout", &change_auth(RH_LOCKOUT, b"", b"lk"));
    p.same_props("after HCA");
    p.same(
        "HCA lockout, bad auth",
        &change_auth(RH_LOCKOUT, b"no", b"x"),
    );
    p.same(
        "HCA lockout, locked out",
        &change_auth(RH_LOCKOUT, b"lk", b"x"),
    );
    p.same_props("after lockout failure");

    let d = [0x3cu8; 32];
    for (what, c) in [
        ("SPP owner sha256", set_policy(RH_OWNER, b"abc", &d, SHA256)),
        (
            "SPP short digest",
            set_policy(RH_OWNER, b"abc", &d[..20], SHA256),
        ),
        (
            "SPP NULL + digest",
            set_policy(RH_OWNER, b"abc", &d, ALG_NULL),
        ),
        ("SPP HMAC alg", set_policy(RH_OWNER, b"abc", &d, HMAC)),
        ("SPP unknown alg", set_policy(RH_OWNER, b"abc", &d, 0x7777)),
        (
            "SPP endorsement sha1",
            set_policy(RH_ENDORSEMENT, b"", &d[..20], SHA1),
        ),
        (
            "SPP platform sha384",
            set_policy(RH_PLATFORM, b"pp", &[1; 48], SHA384),
        ),
        ("SPP NULL handle", set_policy(RH_NULL, b"", &[], ALG_NULL)),
    ] {
        p.same(what, &c);
    }
    p.same(
        "AUTH_POLICIES",
        &get_capability(CAP_AUTH_POLICIES, RH_OWNER, 8),
    );
    p.same(
        "SPP remove endorsement policy",
        &set_policy(RH_ENDORSEMENT, b"", &[], ALG_NULL),
    );
    p.same(
        "AUTH_POLICIES from lockout",
        &get_capability(CAP_AUTH_POLICIES, RH_LOCKOUT, 2),
    );

    // A policy session that satisfies the owner policy
    // PolicyCommandCode(HierarchyChangeAuth) replaces ownerAuth.
    let policy = policy_command_code(CC_HIERARCHY_CHANGE_AUTH);
    p.same(
        "SPP owner := PolicyCommandCode(HCA)",
        &set_policy(RH_OWNER, b"abc", &policy, SHA256),
    );
    let (sw, ours) = p.same_rc("StartAuthSession(policy)", &start_session(1), true);
    let s = response_handle(&sw);
    if s != response_handle(&ours) {
        p.finish();
        return;
    }
    let use_session = |code: u32, params: &[u8], h: u32| {
        auth_cmd(code, &[h], &[session(s, &[0x21; 16], 0x01, &[])], params)
    };
    p.same(
        "HCA with the policy session before PolicyCommandCode",
        &use_session(CC_HIERARCHY_CHANGE_AUTH, &tpm2b(b"x"), RH_OWNER),
    );
    let mut cc_params = s.to_be_bytes().to_vec();
    cc_params.extend(CC_HIERARCHY_CHANGE_AUTH.to_be_bytes());
    p.same(
        "PolicyCommandCode(HCA)",
        &cmd(ST_NO_SESSIONS, CC_POLICY_COMMAND_CODE, &cc_params),
    );
    let mut spp = tpm2b(&[]);
    spp.extend(ALG_NULL.to_be_bytes());
    p.same(
        "SetPrimaryPolicy with the HCA-only session",
        &use_session(CC_SET_PRIMARY_POLICY, &spp, RH_OWNER),
    );
    p.same(
        "HCA(endorsement) with the session: no policy there",
        &use_session(CC_HIERARCHY_CHANGE_AUTH, &tpm2b(b"x"), RH_ENDORSEMENT),
    );
    p.same_rc(
        "HCA(owner) authorized by the policy",
        &use_session(CC_HIERARCHY_CHANGE_AUTH, &tpm2b(b"bypolicy"), RH_OWNER),
        false,
    );
    p.same(
        "HCA owner with the value set by policy",
        &change_auth(RH_OWNER, b"bypolicy", b""),
    );
    p.same_props("end");
    p.finish();
}

#[test]
fn hierarchy_control_clear_and_seeds() {
    let mut p = Pair::started();
    for (what, c) in [
        (
            "HC owner disables sh",
            hierarchy_control(RH_OWNER, RH_OWNER, 0),
        ),
        (
            "HC owner handle while sh disabled",
            hierarchy_control(RH_OWNER, RH_OWNER, 1),
        ),
        (
            "HC endorsement enables sh",
            hierarchy_control(RH_ENDORSEMENT, RH_OWNER, 1),
        ),
        (
            "HC platform enables sh",
            hierarchy_control(RH_PLATFORM, RH_OWNER, 1),
        ),
        (
            "HC owner disables eh",
            hierarchy_control(RH_OWNER, RH_ENDORSEMENT, 0),
        ),
        (
            "HC endorsement disables eh",
            hierarchy_control(RH_ENDORSEMENT, RH_ENDORSEMENT, 0),
        ),
        (
            "HC platform enables eh",
            hierarchy_control(RH_PLATFORM, RH_ENDORSEMENT, 1),
        ),
        (
            "HC owner on phEnableNV",
            hierarchy_control(RH_OWNER, RH_PLATFORM_NV, 0),
        ),
        (
            "HC platform disables phEnableNV",
            hierarchy_control(RH_PLATFORM, RH_PLATFORM_NV, 0),
        ),
        (
            "HC enable = lockout",
            hierarchy_control(RH_PLATFORM, RH_LOCKOUT, 0),
        ),
        ("HC state = 2", hierarchy_control(RH_PLATFORM, RH_OWNER, 2)),
        (
            "HC auth = lockout",
            hierarchy_control(RH_LOCKOUT, RH_OWNER, 0),
        ),
        ("HC no-op enable", hierarchy_control(RH_OWNER, RH_OWNER, 1)),
    ] {
        p.same(what, &c);
        p.same(
            &format!("STARTUP_CLEAR after {what}"),
            &get_capability(CAP_TPM_PROPERTIES, PT_PERMANENT + 1, 1),
        );
    }

    // ClearControl and Clear.
    p.same("Clear by owner handle", &clear(RH_OWNER, b""));
    p.same(
        "ClearControl(lockout, YES)",
        &clear_control(RH_LOCKOUT, b"", 1),
    );
    p.same_props("disableClear");
    p.same("Clear(lockout) while disabled", &clear(RH_LOCKOUT, b""));
    p.same("Clear(platform) while disabled", &clear(RH_PLATFORM, b""));
    p.same(
        "ClearControl(lockout, NO)",
        &clear_control(RH_LOCKOUT, b"", 0),
    );
    p.same(
        "ClearControl(platform, 2)",
        &clear_control(RH_PLATFORM, b"", 2),
    );
    p.same(
        "ClearControl(platform, NO)",
        &clear_control(RH_PLATFORM, b"", 0),
    );

    // Owner state that Clear removes.
    p.same("HCA owner", &change_auth(RH_OWNER, b"", b"o"));
    p.same("HCA endorsement", &change_auth(RH_ENDORSEMENT, b"", b"e"));
    p.same("HCA lockout", &change_auth(RH_LOCKOUT, b"", b"l"));
    p.same(
        "SPP lockout",
        &set_policy(RH_LOCKOUT, b"l", &[9; 32], SHA256),
    );
    p.same("DA parameters", &da_parameters(b"l", 6, 60, 600));
    p.same(
        "HC endorsement off",
        &hierarchy_control(RH_ENDORSEMENT, RH_ENDORSEMENT, 0),
    );
    p.same_props("before Clear");
    p.same("Shutdown(CLEAR)", &shutdown(SU_CLEAR));
    p.power_cycle();
    p.same("Startup(CLEAR) 2", &startup(SU_CLEAR));
    p.same_clock_counters("before Clear");
    p.same("Clear(lockout)", &clear(RH_LOCKOUT, b"l"));
    p.same_props("after Clear");
    p.same(
        "AUTH_POLICIES after Clear",
        &get_capability(CAP_AUTH_POLICIES, RH_OWNER, 8),
    );
    p.same_clock_counters("after Clear");

    // Seeds.
    p.same(
        "HCA endorsement e2",
        &change_auth(RH_ENDORSEMENT, b"", b"e2"),
    );
    p.same(
        "ChangeEPS by owner",
        &auth_cmd(CC_CHANGE_EPS, &[RH_OWNER], &[pw(b"")], &[]),
    );
    p.same(
        "ChangeEPS",
        &auth_cmd(CC_CHANGE_EPS, &[RH_PLATFORM], &[pw(b"")], &[]),
    );
    p.same_props("after ChangeEPS");
    p.same(
        "SPP platform",
        &set_policy(RH_PLATFORM, b"", &[4; 32], SHA256),
    );
    p.same(
        "ChangePPS",
        &auth_cmd(CC_CHANGE_PPS, &[RH_PLATFORM], &[pw(b"")], &[]),
    );
    p.same(
        "AUTH_POLICIES after ChangePPS",
        &get_capability(CAP_AUTH_POLICIES, RH_OWNER, 8),
    );

    // The platform hierarchy, disabled, refuses its own handle.
    p.same(
        "HC platform off",
        &hierarchy_control(RH_PLATFORM, RH_PLATFORM, 0),
    );
    p.same(
        "ChangePPS, platform off",
        &auth_cmd(CC_CHANGE_PPS, &[RH_PLATFORM], &[pw(b"")], &[]),
    );
    p.same_props("platform off");
    p.finish();
}

#[test]
fn lockout_auth_and_da_parameters() {
    let mut p = Pair::started();
    p.same("DA parameters", &da_parameters(b"", 4, 100, 3600));
    p.same_props("after parameters");
    p.same("DA reset", &da_reset(b""));
    p.same(
        "DA reset by owner handle",
        &auth_cmd(CC_DA_LOCK_RESET, &[RH_OWNER], &[pw(b"")], &[]),
    );
    p.same("HCA lockout", &change_auth(RH_LOCKOUT, b"", b"right"));
    p.same("DA reset, bad lockoutAuth", &da_reset(b"wrong"));
    p.same_props("lockoutAuth failed");
    p.same("DA reset, good lockoutAuth", &da_reset(b"right"));
    p.same(
        "DA parameters, locked out",
        &da_parameters(b"right", 1, 1, 1),
    );
    p.same("Clear(lockout), locked out", &clear(RH_LOCKOUT, b"right"));

    // An HMAC session on the (locked-out) lockout: refused the same way.
    let (sw, ours) = p.same_rc("StartAuthSession(hmac)", &start_session(0), true);
    let s = response_handle(&sw);
    if s == response_handle(&ours) {
        p.same(
            "DA reset, HMAC session, locked out",
            &auth_cmd(
                CC_DA_LOCK_RESET,
                &[RH_LOCKOUT],
                &[session(s, &[1; 16], 0x01, &[0xee; 32])],
                &[],
            ),
        );
        // On the owner, a bad HMAC is BAD_AUTH, no DA effect.
        p.same(
            "HCA owner, bad HMAC",
            &auth_cmd(
                CC_HIERARCHY_CHANGE_AUTH,
                &[RH_OWNER],
                &[session(s, &[1; 16], 0x01, &[0xee; 32])],
                &tpm2b(b""),
            ),
        );
    }
    // lockoutRecovery is 3600 s: a Startup after a power loss does not
    // enable lockoutAuth; a Clear by the platform restores the DA
    // defaults, lockoutAuth enabled.
    p.power_cycle();
    p.same("Startup(CLEAR) after power loss", &startup(SU_CLEAR));
    p.same("DA reset after power loss", &da_reset(b"right"));
    p.same("Clear(platform)", &clear(RH_PLATFORM, b""));
    p.same_props("after Clear");
    p.same("DA reset after Clear", &da_reset(b""));
    // With lockoutRecovery 0, a Startup enables lockoutAuth again.
    p.same(
        "DA parameters, lockoutRecovery 0",
        &da_parameters(b"", 3, 1000, 0),
    );
    p.same("Shutdown(CLEAR)", &shutdown(SU_CLEAR));
    p.power_cycle();
    p.same("Startup(CLEAR)", &startup(SU_CLEAR));
    p.same("DA reset, lockoutRecovery 0 after Startup", &da_reset(b""));
    p.same("DA parameters, recovery 0", &da_parameters(b"", 3, 1000, 0));
    p.same("DA reset, bad auth", &da_reset(b"bad"));
    p.same("DA reset, disabled until Startup", &da_reset(b""));
    p.power_cycle();
    p.same("Startup(CLEAR) again", &startup(SU_CLEAR));
    p.same("DA reset, enabled by Startup", &da_reset(b""));
    p.same_props("end");
    p.finish();
}

/// NV_DefineSpace(owner) of an ordinary 8-octet index with authValue "pw"
/// and TPMA_NV_AUTHWRITE | AUTHREAD (| NO_DA).
fn define_nv(index: u32, no_da: bool) -> Vec<u8> {
    let attrs: u32 = (1 << 2) | (1 << 18) | if no_da { 1 << 25 } else { 0 };
    let mut public = index.to_be_bytes().to_vec();
    public.extend(SHA256.to_be_bytes());
    public.extend(attrs.to_be_bytes());
    public.extend(0u16.to_be_bytes());
    public.extend(8u16.to_be_bytes());
    let mut params = tpm2b(b"pw");
    params.extend(tpm2b(&public));
    auth_cmd(CC_NV_DEFINE_SPACE, &[RH_OWNER], &[pw(b"")], &params)
}

fn nv_write(index: u32, auth: &[u8]) -> Vec<u8> {
    let mut params = tpm2b(&[0xa5; 8]);
    params.extend(0u16.to_be_bytes());
    auth_cmd(CC_NV_WRITE, &[index, index], &[pw(auth)], &params)
}

#[test]
fn da_counter_with_nv_indices() {
    let mut p = Pair::started();
    let protected = 0x0150_0010;
    let exempt = 0x0150_0011;
    p.same("DA parameters", &da_parameters(b"", 3, 3600, 3600));
    p.same("NV_DefineSpace (DA)", &define_nv(protected, false));
    p.same("NV_DefineSpace (noDA)", &define_nv(exempt, true));
    p.same("NV_Write noDA, bad auth", &nv_write(exempt, b"bad"));
    p.same_props("after noDA failure");
    // USE_DA_USED: the first DA-protected authorization answers RETRY.
    p.same("NV_Write DA, first use", &nv_write(protected, b"bad"));
    for i in 1..=3 {
        p.same(
            &format!("NV_Write DA, bad auth {i}"),
            &nv_write(protected, b"bad"),
        );
        p.same_props(&format!("after failure {i}"));
    }
    p.same(
        "NV_Write DA, good auth in lockout",
        &nv_write(protected, b"pw"),
    );
    p.same("NV_Write noDA in lockout", &nv_write(exempt, b"pw"));
    p.same("DA reset", &da_reset(b""));
    p.same("NV_Write DA, good auth", &nv_write(protected, b"pw"));
    p.same_props("after reset");

    // DA use after Shutdown(STATE) makes the cycle disorderly: no Resume.
    p.same("Shutdown(STATE)", &shutdown(SU_STATE));
    p.same("NV_Write DA after Shutdown", &nv_write(protected, b"pw"));
    p.same(
        "NV_Write DA after Shutdown, again",
        &nv_write(protected, b"pw"),
    );
    p.power_cycle();
    p.same("Startup(STATE) after DA use", &startup(SU_STATE));
    p.same("Startup(CLEAR) after refused Resume", &startup(SU_CLEAR));
    // Not compared here: libtpms' refused Startup(STATE) already consumed
    // its SU_DA_USED mark, so it no longer counts the failure; we do
    // (Part 1 §19.8.6: a power loss after DA use counts as a failure).
    p.same("DA reset to realign", &da_reset(b""));
    // A power loss after DA use: one failure at the next Startup.
    p.same("NV_Write DA, new cycle", &nv_write(protected, b"pw"));
    p.same("NV_Write DA, new cycle, again", &nv_write(protected, b"pw"));
    p.power_cycle();
    p.same("Startup(CLEAR) after DA use", &startup(SU_CLEAR));
    p.same_props("after disorderly startup");
    // Without DA use, a power loss costs nothing.
    p.power_cycle();
    p.same("Startup(CLEAR) 2", &startup(SU_CLEAR));
    p.same_props("after unused cycle");
    // lower maxTries: in lockout at once.
    p.same("DA parameters max 1", &da_parameters(b"", 1, 3600, 3600));
    p.same_props("max 1");
    p.same("NV_Write DA, max 1", &nv_write(protected, b"pw"));
    p.same("DA parameters recovery 0", &da_parameters(b"", 1, 0, 3600));
    p.same_props("recovery 0");
    p.same("NV_Write DA, recovery 0, bad", &nv_write(protected, b"bad"));
    p.same_props("recovery 0, after failure");
    p.finish();
}
