//! Differential tests of NV indices against swtpm (libtpms), the reference
//! vTPM: the same raw TPM2_NV_* command sequences go to `swtpm socket
//! --tpm2` and to `trustcloud tpm serve --protocol swtpm`, and the answers
//! must be identical byte for byte — TPM2_NV_ReadPublic public areas and
//! Names, data read back, counter / bit-field / extend values, and the
//! response codes (with handle and parameter numbers) of every refused
//! operation, including across power cycles (swtpm CMD_INIT) with and
//! without TPM2_Shutdown.
//!
//! Responses that carry a nonceTPM (policy sessions) are compared on their
//! response code and parameters only; everything else is compared whole.
//!
//! `TRUSTCLOUD_TEST_TPM=swtpm` runs swtpm against itself (a check that
//! only deterministic fields are compared); `DIFF_TRACE=1 ... --nocapture`
//! prints every compared command with swtpm's answer.

mod support;

use sha2::Digest;
use support::{Protocol, RawConn, Server, ServerBuilder, UNDER_TEST_ENV};

/// One TPM as seen by the test.
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

/// swtpm and our server side by side, collecting every mismatch.
struct Pair {
    sw: Side,
    ours: Side,
    diffs: Vec<String>,
    _servers: (Server, Server),
}

impl Pair {
    /// Both TPMs, started with TPM2_Startup(CLEAR).
    fn started() -> Pair {
        let sw = ServerBuilder::swtpm().start();
        let ours = match std::env::var(UNDER_TEST_ENV).as_deref() {
            Ok("swtpm") => ServerBuilder::swtpm().start(),
            _ => ServerBuilder::trustcloud(Protocol::Swtpm).start(),
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
        (sw, self.ours.exchange(cmd))
    }

    /// Sends `cmd` to both; the whole responses must be identical. Returns
    /// swtpm's response.
    fn same(&mut self, what: &str, cmd: &[u8]) -> Vec<u8> {
        let (sw, ours) = self.both(what, cmd);
        if ours.as_ref() != Ok(&sw) {
            self.diff(what, cmd, &sw, &ours);
        }
        sw
    }

    /// Sends `f(handle)` to each side with that side's handle (of a policy
    /// session, whose nonceTPM is random): the response code and response
    /// parameters must match, the authorization area is not compared.
    fn same_with(&mut self, what: &str, h: (u32, u32), f: impl Fn(u32) -> Vec<u8>) -> Vec<u8> {
        let sw = self
            .sw
            .exchange(&f(h.0))
            .unwrap_or_else(|e| panic!("swtpm failed on {what}: {e}"));
        let ours = self.ours.exchange(&f(h.1));
        let same = match &ours {
            Ok(o) => rc(o) == rc(&sw) && session_params(o) == session_params(&sw),
            Err(_) => false,
        };
        if !same {
            self.diff(what, &f(h.1), &sw, &ours);
        }
        sw
    }

    fn diff(&mut self, what: &str, cmd: &[u8], sw: &[u8], ours: &Result<Vec<u8>, String>) {
        let ours = match ours {
            Ok(b) => hex::encode(b),
            Err(e) => format!("<{e}>"),
        };
        self.diffs.push(format!(
            "{what}\n    command: {}\n    swtpm:   {}\n    ours:    {ours}",
            hex::encode(cmd),
            hex::encode(sw)
        ));
    }

    /// A policy session on each side: (swtpm's handle, ours).
    fn policy_session(&mut self) -> (u32, u32) {
        let c = start_auth_session(1);
        let (sw, ours) = self.both("StartAuthSession(policy)", &c);
        assert_eq!(rc(&sw), 0, "swtpm StartAuthSession");
        let ours = ours.unwrap_or_default();
        if ours.len() < 14 || rc(&ours) != 0 {
            self.diff("StartAuthSession(policy)", &c, &sw, &Ok(ours.clone()));
            return (handle_of(&sw), 0);
        }
        (handle_of(&sw), handle_of(&ours))
    }

    /// A power cycle on both (swtpm CMD_INIT) without anything else: the
    /// caller decides whether TPM2_Shutdown came first.
    fn power_cycle(&mut self) {
        self.sw.conn = None;
        self.ours.conn = None;
        for (side, name) in [(&self.sw, "swtpm"), (&self.ours, "ours")] {
            let r = support::swtpm_ctrl(side.ctrl, CMD_INIT, &[0, 0, 0, 0], 4)
                .unwrap_or_else(|e| panic!("{name} CMD_INIT: {e}"));
            assert_eq!(r, [0; 4], "{name} refused CMD_INIT");
        }
    }

    /// Shutdown(`kind`) (unless None), power cycle, Startup(`start`).
    fn cycle(&mut self, kind: Option<u16>, start: u16) {
        if let Some(k) = kind {
            self.same("Shutdown", &shutdown(k));
        }
        self.power_cycle();
        let r = self.same("Startup", &startup(start));
        assert_eq!(rc(&r), 0, "swtpm refused Startup after the cycle");
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

const ST_NO_SESSIONS: u16 = 0x8001;
const ST_SESSIONS: u16 = 0x8002;
const SU_CLEAR: u16 = 0;
const SU_STATE: u16 = 1;
const RS_PW: u32 = 0x4000_0009;
const RH_OWNER: u32 = 0x4000_0001;
const RH_NULL: u32 = 0x4000_0007;
const RH_ENDORSEMENT: u32 = 0x4000_000B;
const RH_PLATFORM: u32 = 0x4000_000C;
const SHA1: u16 = 0x0004;
const SHA256: u16 = 0x000B;
const SHA384: u16 = 0x000C;
const ALG_NULL: u16 = 0x0010;

const CC_NV_UNDEFINE_SPACE_SPECIAL: u32 = 0x11F;
const CC_HIERARCHY_CONTROL: u32 = 0x121;
const CC_CLEAR: u32 = 0x126;
const CC_NV_UNDEFINE_SPACE: u32 = 0x122;
const CC_NV_DEFINE_SPACE: u32 = 0x12A;
const CC_NV_GLOBAL_WRITE_LOCK: u32 = 0x132;
const CC_NV_INCREMENT: u32 = 0x134;
const CC_NV_SET_BITS: u32 = 0x135;
const CC_NV_EXTEND: u32 = 0x136;
const CC_NV_WRITE: u32 = 0x137;
const CC_NV_WRITE_LOCK: u32 = 0x138;
const CC_NV_CHANGE_AUTH: u32 = 0x13B;
const CC_STARTUP: u32 = 0x144;
const CC_SHUTDOWN: u32 = 0x145;
const CC_NV_READ: u32 = 0x14E;
const CC_NV_READ_LOCK: u32 = 0x14F;
const CC_NV_READ_PUBLIC: u32 = 0x169;
const CC_POLICY_COMMAND_CODE: u32 = 0x16C;
const CC_START_AUTH_SESSION: u32 = 0x176;
const CC_GET_CAPABILITY: u32 = 0x17A;

/// swtpm control channel: CMD_INIT (swtpm's tpm_ioctl.h).
const CMD_INIT: u32 = 2;

// TPMA_NV (Part 2 §13.4).
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
const NT_COUNTER: u32 = 1 << 4;
const NT_BITS: u32 = 2 << 4;
const NT_EXTEND: u32 = 4 << 4;
const NT_PIN_FAIL: u32 = 8 << 4;
const NT_PIN_PASS: u32 = 9 << 4;
const OWNER_RW: u32 = OWNERREAD | OWNERWRITE;

fn cmd(tag: u16, cc: u32, body: &[u8]) -> Vec<u8> {
    let mut v = tag.to_be_bytes().to_vec();
    v.extend_from_slice(&(10 + body.len() as u32).to_be_bytes());
    v.extend_from_slice(&cc.to_be_bytes());
    v.extend_from_slice(body);
    v
}

fn tpm2b(b: &[u8]) -> Vec<u8> {
    let mut v = (b.len() as u16).to_be_bytes().to_vec();
    v.extend_from_slice(b);
    v
}

/// A command with handles, sessions and parameters (Part 1 §18.2).
fn auth_cmd(cc: u32, handles: &[u32], sessions: &[Vec<u8>], params: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    for h in handles {
        body.extend_from_slice(&h.to_be_bytes());
    }
    if sessions.is_empty() {
        body.extend_from_slice(params);
        return cmd(ST_NO_SESSIONS, cc, &body);
    }
    let area = sessions.concat();
    body.extend_from_slice(&(area.len() as u32).to_be_bytes());
    body.extend_from_slice(&area);
    body.extend_from_slice(params);
    cmd(ST_SESSIONS, cc, &body)
}

fn session(handle: u32, attrs: u8, hmac: &[u8]) -> Vec<u8> {
    let mut v = handle.to_be_bytes().to_vec();
    v.extend(tpm2b(&[]));
    v.push(attrs);
    v.extend(tpm2b(hmac));
    v
}

fn pw(p: &[u8]) -> Vec<u8> {
    session(RS_PW, 0x01, p)
}

fn startup(su: u16) -> Vec<u8> {
    cmd(ST_NO_SESSIONS, CC_STARTUP, &su.to_be_bytes())
}

fn shutdown(su: u16) -> Vec<u8> {
    cmd(ST_NO_SESSIONS, CC_SHUTDOWN, &su.to_be_bytes())
}

fn nv_public(index: u32, name_alg: u16, attrs: u32, policy: &[u8], size: u16) -> Vec<u8> {
    let mut v = index.to_be_bytes().to_vec();
    v.extend_from_slice(&name_alg.to_be_bytes());
    v.extend_from_slice(&attrs.to_be_bytes());
    v.extend(tpm2b(policy));
    v.extend_from_slice(&size.to_be_bytes());
    v
}

fn define_public(auth_handle: u32, auth: &[u8], public: &[u8]) -> Vec<u8> {
    let mut params = tpm2b(auth);
    params.extend(tpm2b(public));
    auth_cmd(CC_NV_DEFINE_SPACE, &[auth_handle], &[pw(b"")], &params)
}

/// DefineSpace of a SHA-256 index, by the platform when PLATFORMCREATE.
fn define(index: u32, attrs: u32, auth: &[u8], size: u16) -> Vec<u8> {
    let h = if attrs & PLATFORMCREATE != 0 {
        RH_PLATFORM
    } else {
        RH_OWNER
    };
    define_public(h, auth, &nv_public(index, SHA256, attrs, &[], size))
}

fn undefine(auth: u32, index: u32) -> Vec<u8> {
    auth_cmd(CC_NV_UNDEFINE_SPACE, &[auth, index], &[pw(b"")], &[])
}

fn write(auth: u32, index: u32, p: &[u8], data: &[u8], offset: u16) -> Vec<u8> {
    let mut params = tpm2b(data);
    params.extend_from_slice(&offset.to_be_bytes());
    auth_cmd(CC_NV_WRITE, &[auth, index], &[pw(p)], &params)
}

fn read(auth: u32, index: u32, p: &[u8], size: u16, offset: u16) -> Vec<u8> {
    let mut params = size.to_be_bytes().to_vec();
    params.extend_from_slice(&offset.to_be_bytes());
    auth_cmd(CC_NV_READ, &[auth, index], &[pw(p)], &params)
}

fn on_index(cc: u32, auth: u32, index: u32, p: &[u8], params: &[u8]) -> Vec<u8> {
    auth_cmd(cc, &[auth, index], &[pw(p)], params)
}

fn read_public(index: u32) -> Vec<u8> {
    auth_cmd(CC_NV_READ_PUBLIC, &[index], &[], &[])
}

fn get_capability(cap: u32, property: u32, count: u32) -> Vec<u8> {
    let mut b = cap.to_be_bytes().to_vec();
    b.extend_from_slice(&property.to_be_bytes());
    b.extend_from_slice(&count.to_be_bytes());
    cmd(ST_NO_SESSIONS, CC_GET_CAPABILITY, &b)
}

/// StartAuthSession(no salt, no bind, `kind`, no symmetric, SHA-256).
fn start_auth_session(kind: u8) -> Vec<u8> {
    let mut b = RH_NULL.to_be_bytes().to_vec();
    b.extend_from_slice(&RH_NULL.to_be_bytes());
    b.extend(tpm2b(&[0x33; 16]));
    b.extend(tpm2b(&[]));
    b.push(kind);
    b.extend_from_slice(&ALG_NULL.to_be_bytes());
    b.extend_from_slice(&SHA256.to_be_bytes());
    cmd(ST_NO_SESSIONS, CC_START_AUTH_SESSION, &b)
}

fn policy_command_code(s: u32, code: u32) -> Vec<u8> {
    auth_cmd(CC_POLICY_COMMAND_CODE, &[s], &[], &code.to_be_bytes())
}

fn rc(resp: &[u8]) -> u32 {
    resp.get(6..10)
        .map(|b| u32::from_be_bytes(b.try_into().unwrap()))
        .unwrap_or(u32::MAX)
}

fn handle_of(resp: &[u8]) -> u32 {
    resp.get(10..14)
        .map(|b| u32::from_be_bytes(b.try_into().unwrap()))
        .unwrap_or(0)
}

/// The response parameters of a TPM_ST_SESSIONS response without a
/// response handle (empty for an error).
fn session_params(resp: &[u8]) -> Vec<u8> {
    if rc(resp) != 0 || resp.len() < 14 {
        return Vec::new();
    }
    let n = u32::from_be_bytes(resp[10..14].try_into().unwrap()) as usize;
    resp.get(14..14 + n).map(<[u8]>::to_vec).unwrap_or_default()
}

/// The data of a successful password-session NV_Read response.
fn read_data(resp: &[u8]) -> Vec<u8> {
    let p = session_params(resp);
    p.get(2..).map(<[u8]>::to_vec).unwrap_or_default()
}

fn sha256(parts: &[&[u8]]) -> Vec<u8> {
    let mut h = sha2::Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().to_vec()
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(29).wrapping_add(u32::from(seed)) as u8)
        .collect()
}

// ---------------------------------------------------------------------------
// Tests.

/// Every TPM2_NV_DefineSpace rule refuses with the same code, and what is
/// accepted reads back as the same public area and Name.
#[test]
fn define_space_rules_and_public_areas_match() {
    let mut p = Pair::started();
    let i = 0x0150_0001;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "policy size",
            define_public(RH_OWNER, b"", &nv_public(i, SHA256, OWNER_RW, &[0; 20], 8)),
        ),
        (
            "auth size",
            define_public(RH_OWNER, &[1; 33], &nv_public(i, SHA256, OWNER_RW, &[], 8)),
        ),
        (
            "auth sha1 size",
            define_public(RH_OWNER, &[1; 21], &nv_public(i, SHA1, OWNER_RW, &[], 8)),
        ),
        ("type 3", define(i, OWNER_RW | (3 << 4), b"", 8)),
        ("type 15", define(i, OWNER_RW | (15 << 4), b"", 8)),
        ("counter size", define(i, OWNER_RW | NT_COUNTER, b"", 4)),
        ("bits size", define(i, OWNER_RW | NT_BITS, b"", 16)),
        ("extend size", define(i, OWNER_RW | NT_EXTEND, b"", 20)),
        ("pin size", define(i, OWNER_RW | NT_PIN_PASS, b"", 9)),
        (
            "counter clear_stclear",
            define(i, OWNER_RW | NT_COUNTER | CLEAR_STCLEAR, b"", 8),
        ),
        ("pin fail no_da", define(i, OWNER_RW | NT_PIN_FAIL, b"", 8)),
        (
            "pin pass authwrite",
            define(i, OWNER_RW | NT_PIN_PASS | AUTHWRITE, b"", 8),
        ),
        (
            "pin fail globallock",
            define(i, OWNER_RW | NT_PIN_FAIL | NO_DA | GLOBALLOCK, b"", 8),
        ),
        (
            "pin pass writedefine",
            define(i, OWNER_RW | NT_PIN_PASS | WRITEDEFINE, b"", 8),
        ),
        ("written", define(i, OWNER_RW | WRITTEN, b"", 8)),
        ("writelocked", define(i, OWNER_RW | WRITELOCKED, b"", 8)),
        ("readlocked", define(i, OWNER_RW | READLOCKED, b"", 8)),
        ("no read", define(i, OWNERWRITE, b"", 8)),
        ("no write", define(i, OWNERREAD, b"", 8)),
        (
            "clear_stclear writedefine",
            define(i, OWNER_RW | CLEAR_STCLEAR | WRITEDEFINE, b"", 8),
        ),
        (
            "owner platformcreate",
            define_public(
                RH_OWNER,
                b"",
                &nv_public(i, SHA256, OWNER_RW | PLATFORMCREATE, &[], 8),
            ),
        ),
        (
            "platform not platformcreate",
            define_public(RH_PLATFORM, b"", &nv_public(i, SHA256, OWNER_RW, &[], 8)),
        ),
        (
            "owner policy_delete",
            define(i, OWNER_RW | POLICY_DELETE, b"", 8),
        ),
        ("writeall 1025", define(i, OWNER_RW | WRITEALL, b"", 1025)),
        ("size 2049", define(i, OWNER_RW, b"", 2049)),
        ("reserved bit 8", define(i, OWNER_RW | (1 << 8), b"", 8)),
        ("reserved bit 20", define(i, OWNER_RW | (1 << 20), b"", 8)),
        ("persistent handle", define(0x8100_0000, OWNER_RW, b"", 8)),
        (
            "null nameAlg",
            define_public(RH_OWNER, b"", &nv_public(i, ALG_NULL, OWNER_RW, &[], 8)),
        ),
        (
            "sm3 nameAlg",
            define_public(RH_OWNER, b"", &nv_public(i, 0x0099, OWNER_RW, &[], 8)),
        ),
        (
            "endorsement handle",
            define_public(RH_ENDORSEMENT, b"", &nv_public(i, SHA256, OWNER_RW, &[], 8)),
        ),
        (
            "empty public",
            auth_cmd(CC_NV_DEFINE_SPACE, &[RH_OWNER], &[pw(b"")], &[0, 0, 0, 0]),
        ),
        (
            "short public",
            auth_cmd(
                CC_NV_DEFINE_SPACE,
                &[RH_OWNER],
                &[pw(b"")],
                &[0, 0, 0, 20, 1, 0x50, 0, 1, 0, 0x0B],
            ),
        ),
        ("long public", {
            let mut pb = nv_public(i, SHA256, OWNER_RW, &[], 8);
            pb.push(0);
            define_public(RH_OWNER, b"", &pb)
        }),
        ("trailing byte", {
            let mut c = define(i, OWNER_RW, b"", 8);
            c.push(0);
            let n = c.len() as u32;
            c[2..6].copy_from_slice(&n.to_be_bytes());
            c
        }),
    ];
    for (what, c) in &cases {
        let r = p.same(what, c);
        assert_ne!(rc(&r), 0, "swtpm accepted {what}");
    }

    // Accepted definitions: every type, several nameAlgs and policies.
    let ok: Vec<(u32, u16, u32, Vec<u8>, u16)> = vec![
        (0x0100_0000, SHA256, OWNER_RW, vec![], 0),
        (
            0x0100_0001,
            SHA256,
            OWNER_RW | AUTHREAD | AUTHWRITE | NO_DA,
            vec![],
            2048,
        ),
        (0x0150_0002, SHA1, OWNER_RW | NT_COUNTER, vec![], 8),
        (
            0x0150_0003,
            SHA384,
            OWNER_RW | NT_EXTEND | POLICYREAD,
            vec![0x11; 48],
            48,
        ),
        (
            0x0150_0004,
            SHA256,
            OWNER_RW | NT_BITS | ORDERLY | READ_STCLEAR,
            vec![],
            8,
        ),
        (
            0x0150_0005,
            SHA256,
            OWNER_RW | NT_PIN_FAIL | NO_DA,
            vec![],
            8,
        ),
        (
            0x0150_0006,
            SHA256,
            OWNER_RW | NT_PIN_PASS | AUTHREAD,
            vec![0x22; 32],
            8,
        ),
        (
            0x0150_0007,
            SHA256,
            OWNER_RW | WRITEALL | WRITE_STCLEAR | GLOBALLOCK | CLEAR_STCLEAR,
            vec![],
            1024,
        ),
        (
            0x01FF_FFFF,
            SHA256,
            POLICYWRITE | POLICYREAD,
            vec![0; 32],
            16,
        ),
    ];
    for (idx, alg, attrs, policy, size) in &ok {
        let public = nv_public(*idx, *alg, *attrs, policy, *size);
        let r = p.same(
            &format!("define {idx:#x}"),
            &define_public(RH_OWNER, b"a\0\0", &public),
        );
        assert_eq!(rc(&r), 0, "swtpm refused {idx:#x}");
        p.same(&format!("ReadPublic {idx:#x}"), &read_public(*idx));
    }
    let plat = nv_public(
        0x01C0_0010,
        SHA256,
        PLATFORMCREATE | PPWRITE | PPREAD | POLICY_DELETE,
        &[0; 32],
        4,
    );
    p.same("define platform", &define_public(RH_PLATFORM, b"", &plat));
    p.same("ReadPublic platform", &read_public(0x01C0_0010));
    p.same("define twice", &define(0x0150_0002, OWNER_RW, b"", 8));
    p.same("ReadPublic undefined", &read_public(0x0150_0099));
    p.same("ReadPublic not NV", &read_public(0x8100_0001));
    p.same("getcap handles", &get_capability(1, 0x0100_0000, 64));
    p.same("getcap handles paged", &get_capability(1, 0x0150_0003, 3));
    for prop in [0x202u32, 0x20A, 0x20B] {
        p.same(
            &format!("getcap property {prop:#x}"),
            &get_capability(6, prop, 1),
        );
    }
    p.finish();
}

/// Ordinary, WRITEALL, counter, bit-field and extend indices hold the same
/// data after the same writes, and refuse the same misuse.
#[test]
fn index_types_hold_the_same_data() {
    let mut p = Pair::started();
    let o = 0x0150_0100;
    p.same("define ordinary", &define(o, OWNER_RW, b"", 64));
    p.same("read unwritten", &read(RH_OWNER, o, b"", 4, 0));
    p.same(
        "partial write",
        &write(RH_OWNER, o, b"", &pattern(10, 1), 20),
    );
    p.same("read all", &read(RH_OWNER, o, b"", 64, 0));
    p.same(
        "overlapping write",
        &write(RH_OWNER, o, b"", &pattern(30, 7), 5),
    );
    p.same("read middle", &read(RH_OWNER, o, b"", 33, 17));
    p.same("write at end", &write(RH_OWNER, o, b"", &[], 64));
    p.same("write past end", &write(RH_OWNER, o, b"", &[1, 2], 63));
    p.same("write offset past end", &write(RH_OWNER, o, b"", &[1], 65));
    p.same("read offset past end", &read(RH_OWNER, o, b"", 1, 65));
    p.same("read past end", &read(RH_OWNER, o, b"", 2, 63));
    p.same("read too much", &read(RH_OWNER, o, b"", 1025, 0));
    p.same("write too much", &write(RH_OWNER, o, b"", &[0; 1025], 0));
    p.same(
        "increment ordinary",
        &on_index(CC_NV_INCREMENT, RH_OWNER, o, b"", &[]),
    );
    p.same(
        "extend ordinary",
        &on_index(CC_NV_EXTEND, RH_OWNER, o, b"", &tpm2b(b"x")),
    );
    p.same(
        "setbits ordinary",
        &on_index(CC_NV_SET_BITS, RH_OWNER, o, b"", &[0; 8]),
    );

    let big = 0x0150_0101;
    p.same("define 2048", &define(big, OWNER_RW, b"", 2048));
    p.same(
        "write first half",
        &write(RH_OWNER, big, b"", &pattern(1024, 3), 0),
    );
    p.same(
        "write second half",
        &write(RH_OWNER, big, b"", &pattern(1024, 4), 1024),
    );
    p.same("read 1024 at 512", &read(RH_OWNER, big, b"", 1024, 512));

    let all = 0x0150_0102;
    p.same(
        "define writeall",
        &define(all, OWNER_RW | WRITEALL, b"", 16),
    );
    p.same("writeall partial", &write(RH_OWNER, all, b"", &[1; 15], 0));
    p.same("writeall offset", &write(RH_OWNER, all, b"", &[1; 8], 8));
    p.same("writeall whole", &write(RH_OWNER, all, b"", &[2; 16], 0));
    p.same("read writeall", &read(RH_OWNER, all, b"", 16, 0));

    let ctr = 0x0150_0103;
    p.same(
        "define counter",
        &define(ctr, OWNER_RW | NT_COUNTER, b"", 8),
    );
    p.same("read unwritten counter", &read(RH_OWNER, ctr, b"", 8, 0));
    for n in 0..3 {
        p.same(
            &format!("increment {n}"),
            &on_index(CC_NV_INCREMENT, RH_OWNER, ctr, b"", &[]),
        );
        p.same(
            &format!("read counter {n}"),
            &read(RH_OWNER, ctr, b"", 8, 0),
        );
    }
    p.same("write counter", &write(RH_OWNER, ctr, b"", &[0; 8], 0));
    p.same("read counter partly", &read(RH_OWNER, ctr, b"", 4, 4));
    p.same("ReadPublic counter", &read_public(ctr));
    // Deleting and redefining continues above the old value.
    p.same("undefine counter", &undefine(RH_OWNER, ctr));
    p.same(
        "redefine counter",
        &define(ctr, OWNER_RW | NT_COUNTER, b"", 8),
    );
    p.same(
        "increment redefined",
        &on_index(CC_NV_INCREMENT, RH_OWNER, ctr, b"", &[]),
    );
    p.same("read redefined", &read(RH_OWNER, ctr, b"", 8, 0));

    let bits = 0x0150_0104;
    p.same("define bits", &define(bits, OWNER_RW | NT_BITS, b"", 8));
    for (n, b) in [0u64, 0x10, 0x8000_0000_0000_0001, 0x10].iter().enumerate() {
        p.same(
            &format!("setbits {n}"),
            &on_index(CC_NV_SET_BITS, RH_OWNER, bits, b"", &b.to_be_bytes()),
        );
        p.same(&format!("read bits {n}"), &read(RH_OWNER, bits, b"", 8, 0));
    }
    p.same("write bits", &write(RH_OWNER, bits, b"", &[0; 8], 0));

    for (idx, alg, size) in [
        (0x0150_0105u32, SHA256, 32u16),
        (0x0150_0106, SHA1, 20),
        (0x0150_0107, SHA384, 48),
    ] {
        let public = nv_public(idx, alg, OWNER_RW | NT_EXTEND, &[], size);
        p.same("define extend", &define_public(RH_OWNER, b"", &public));
        for (n, d) in [&b"abc"[..], &[], &pattern(1024, 9)].iter().enumerate() {
            p.same(
                &format!("extend {idx:#x} {n}"),
                &on_index(CC_NV_EXTEND, RH_OWNER, idx, b"", &tpm2b(d)),
            );
            p.same(
                &format!("read extend {idx:#x} {n}"),
                &read(RH_OWNER, idx, b"", size, 0),
            );
        }
        p.same("ReadPublic extend", &read_public(idx));
    }
    // Our own check of the first SHA-256 extend value.
    let r = p.same(
        "read sha256 extend",
        &read(RH_OWNER, 0x0150_0105, b"", 32, 0),
    );
    let v1 = sha256(&[&[0; 32], b"abc"]);
    let v2 = sha256(&[&v1]);
    let v3 = sha256(&[&v2, &pattern(1024, 9)]);
    assert_eq!(read_data(&r), v3, "swtpm extend chain");
    p.finish();
}

/// Locks, CLEAR_STCLEAR and orderly indices through TPM Reset, Restart,
/// Resume and power loss.
#[test]
fn locks_and_power_cycles_match() {
    let mut p = Pair::started();
    let wd = 0x0150_0200;
    let ws = 0x0150_0201;
    let rs = 0x0150_0202;
    let gl = 0x0150_0203;
    let cs = 0x0150_0204;
    let oc = 0x0150_0205;
    let oo = 0x0150_0206;
    let wd_unwritten = 0x0150_0207;
    let plain = 0x0150_0208;
    let defs = [
        (wd, OWNER_RW | WRITEDEFINE, 8u16),
        (ws, OWNER_RW | WRITE_STCLEAR, 8),
        (rs, OWNER_RW | READ_STCLEAR, 8),
        (gl, OWNER_RW | GLOBALLOCK | ORDERLY, 8),
        (cs, OWNER_RW | CLEAR_STCLEAR, 8),
        (oc, OWNER_RW | NT_COUNTER | ORDERLY, 8),
        (oo, OWNER_RW | ORDERLY, 16),
        (wd_unwritten, OWNER_RW | WRITEDEFINE, 8),
        (plain, OWNER_RW, 8),
    ];
    for (i, a, s) in defs {
        p.same(&format!("define {i:#x}"), &define(i, a, b"", s));
    }
    for i in [wd, ws, rs, gl, cs, oo, plain] {
        p.same(
            &format!("write {i:#x}"),
            &write(RH_OWNER, i, b"", &[0x5A; 8], 0),
        );
    }
    p.same(
        "readlock rs",
        &on_index(CC_NV_READ_LOCK, RH_OWNER, rs, b"", &[]),
    );
    for i in [wd, ws, wd_unwritten] {
        p.same(
            &format!("writelock {i:#x}"),
            &on_index(CC_NV_WRITE_LOCK, RH_OWNER, i, b"", &[]),
        );
    }
    p.same(
        "writelock again",
        &on_index(CC_NV_WRITE_LOCK, RH_OWNER, wd, b"", &[]),
    );
    p.same(
        "writelock plain",
        &on_index(CC_NV_WRITE_LOCK, RH_OWNER, plain, b"", &[]),
    );
    p.same(
        "readlock plain",
        &on_index(CC_NV_READ_LOCK, RH_OWNER, plain, b"", &[]),
    );
    p.same(
        "readlock again",
        &on_index(CC_NV_READ_LOCK, RH_OWNER, rs, b"", &[]),
    );
    p.same(
        "global lock",
        &auth_cmd(CC_NV_GLOBAL_WRITE_LOCK, &[RH_OWNER], &[pw(b"")], &[]),
    );
    for n in 0..5 {
        p.same(
            &format!("increment orderly {n}"),
            &on_index(CC_NV_INCREMENT, RH_OWNER, oc, b"", &[]),
        );
    }

    let check = |p: &mut Pair, when: &str| {
        for (i, _, _) in defs {
            p.same(&format!("ReadPublic {i:#x} {when}"), &read_public(i));
            p.same(
                &format!("read {i:#x} {when}"),
                &read(RH_OWNER, i, b"", 8, 0),
            );
            p.same(
                &format!("write {i:#x} {when}"),
                &write(RH_OWNER, i, b"", &[1], 1),
            );
        }
    };
    check(&mut p, "locked");
    p.cycle(Some(SU_STATE), SU_STATE);
    check(&mut p, "after Resume");
    p.cycle(Some(SU_STATE), SU_CLEAR);
    check(&mut p, "after Restart");
    for n in 0..3 {
        p.same(
            &format!("increment orderly again {n}"),
            &on_index(CC_NV_INCREMENT, RH_OWNER, oc, b"", &[]),
        );
    }
    // Power loss: orderly data falls back to what was committed.
    p.cycle(None, SU_CLEAR);
    check(&mut p, "after power loss");
    p.same(
        "increment after power loss",
        &on_index(CC_NV_INCREMENT, RH_OWNER, oc, b"", &[]),
    );
    p.same("read after power loss", &read(RH_OWNER, oc, b"", 8, 0));
    p.cycle(None, SU_CLEAR);
    p.same(
        "read after second power loss",
        &read(RH_OWNER, oc, b"", 8, 0),
    );
    p.cycle(Some(SU_CLEAR), SU_CLEAR);
    check(&mut p, "after TPM Reset");
    // Startup(STATE) after a power loss is refused by both.
    p.power_cycle();
    p.same("Startup(STATE) after power loss", &startup(SU_STATE));
    p.finish();
}

/// Who may read and write: owner, platform, index password, policy; the
/// ADMIN role; PIN indices; undefine rules.
#[test]
fn authorization_rules_match() {
    let mut p = Pair::started();
    let i = 0x0150_0300;
    p.same(
        "define",
        &define(i, OWNERWRITE | PPREAD | AUTHREAD | NO_DA, b"pw", 8),
    );
    p.same("platform write", &write(RH_PLATFORM, i, b"", &[1; 8], 0));
    p.same("owner write", &write(RH_OWNER, i, b"", &[1; 8], 0));
    p.same("owner read", &read(RH_OWNER, i, b"", 8, 0));
    p.same("platform read", &read(RH_PLATFORM, i, b"", 8, 0));
    p.same("index read", &read(i, i, b"pw", 8, 0));
    p.same("index read trailing zeros", &read(i, i, b"pw\0", 8, 0));
    p.same("index read wrong", &read(i, i, b"pw2", 8, 0));
    p.same(
        "index write without authwrite",
        &write(i, i, b"pw", &[2; 8], 0),
    );
    p.same(
        "wrong owner password",
        &write(RH_OWNER, i, b"x", &[2; 8], 0),
    );
    let other = 0x0150_0301;
    p.same(
        "define other",
        &define(other, AUTHREAD | AUTHWRITE | NO_DA, b"", 8),
    );
    p.same("other index's auth", &read(other, i, b"", 8, 0));
    p.same(
        "endorsement as NV auth",
        &read(RH_ENDORSEMENT, i, b"", 8, 0),
    );
    p.same("null as NV auth", &read(RH_NULL, i, b"", 8, 0));
    p.same("PCR as NV auth", &read(0, i, b"", 8, 0));
    p.same("undefined index", &read(RH_OWNER, 0x0150_03FF, b"", 8, 0));
    p.same("undefined auth index", &read(0x0150_03FF, i, b"", 8, 0));
    p.same(
        "missing session",
        &auth_cmd(CC_NV_READ, &[RH_OWNER, i], &[], &[0, 8, 0, 0]),
    );

    // DA-protected index: the first use answers TPM_RC_RETRY (DA in use),
    // a wrong password then counts (TPM_RC_AUTH_FAIL).
    let da = 0x0150_0302;
    p.same("define DA", &define(da, AUTHREAD | AUTHWRITE, b"pw", 8));
    p.same("DA write 1", &write(da, da, b"pw", &[3; 8], 0));
    p.same("DA write 2", &write(da, da, b"pw", &[3; 8], 0));
    p.same("DA wrong", &read(da, da, b"bad", 8, 0));
    p.same("DA right", &read(da, da, b"pw", 8, 0));

    // PIN Pass and PIN Fail.
    let pass = 0x0150_0303;
    let fail = 0x0150_0304;
    p.same(
        "define pin pass",
        &define(pass, OWNER_RW | AUTHREAD | NT_PIN_PASS | NO_DA, b"pin", 8),
    );
    p.same(
        "define pin fail",
        &define(fail, OWNER_RW | NT_PIN_FAIL | NO_DA, b"pin", 8),
    );
    p.same("pin pass unwritten", &read(pass, pass, b"pin", 8, 0));
    let pin = |count: u32, limit: u32| [count.to_be_bytes(), limit.to_be_bytes()].concat();
    p.same("write pin pass", &write(RH_OWNER, pass, b"", &pin(0, 2), 0));
    p.same("write pin fail", &write(RH_OWNER, fail, b"", &pin(0, 2), 0));
    for n in 0..3 {
        p.same(
            &format!("pin pass use {n}"),
            &read(pass, pass, b"pin", 8, 0),
        );
    }
    p.same("pin pass state", &read(RH_OWNER, pass, b"", 8, 0));
    for (n, pwd) in [&b"x"[..], b"pin", b"x", b"x", b"pin"].iter().enumerate() {
        p.same(&format!("pin fail use {n}"), &read(fail, fail, pwd, 8, 0));
        p.same(
            &format!("pin fail state {n}"),
            &read(RH_OWNER, fail, b"", 8, 0),
        );
    }
    p.same(
        "pin increment",
        &on_index(CC_NV_INCREMENT, RH_OWNER, pass, b"", &[]),
    );

    // Policy: an all-zero authPolicy is met by a fresh policy session.
    let pol = 0x0150_0305;
    let public = nv_public(pol, SHA256, POLICYWRITE | OWNERREAD, &[0; 32], 4);
    p.same(
        "define policy index",
        &define_public(RH_OWNER, b"", &public),
    );
    let s = p.policy_session();
    let policy_write = |h: u32| {
        let mut params = tpm2b(&[7; 4]);
        params.extend_from_slice(&0u16.to_be_bytes());
        auth_cmd(CC_NV_WRITE, &[pol, pol], &[session(h, 0x01, &[])], &params)
    };
    p.same_with("policy write", s, policy_write);
    p.same("read policy-written", &read(RH_OWNER, pol, b"", 4, 0));
    let policy_read = |h: u32| {
        auth_cmd(
            CC_NV_READ,
            &[pol, pol],
            &[session(h, 0x01, &[])],
            &[0, 4, 0, 0],
        )
    };
    p.same_with("policy read without policyread", s, policy_read);
    p.same(
        "password write without authwrite",
        &write(pol, pol, b"", &[1; 4], 0),
    );

    // ADMIN role: NV_ChangeAuth needs a policy with its command code.
    let ca = 0x0150_0306;
    let cc_policy = sha256(&[
        &[0; 32],
        &CC_POLICY_COMMAND_CODE.to_be_bytes(),
        &CC_NV_CHANGE_AUTH.to_be_bytes(),
    ]);
    let public = nv_public(ca, SHA256, AUTHREAD | AUTHWRITE | NO_DA, &cc_policy, 4);
    p.same(
        "define changeauth index",
        &define_public(RH_OWNER, b"old", &public),
    );
    p.same(
        "changeauth with password",
        &auth_cmd(CC_NV_CHANGE_AUTH, &[ca], &[pw(b"old")], &tpm2b(b"new")),
    );
    let s = p.policy_session();
    p.same_with("changeauth without command code", s, |h| {
        auth_cmd(
            CC_NV_CHANGE_AUTH,
            &[ca],
            &[session(h, 0x01, &[])],
            &tpm2b(b"new"),
        )
    });
    p.same_with("PolicyCommandCode", s, |h| {
        policy_command_code(h, CC_NV_CHANGE_AUTH)
    });
    p.same_with("changeauth too long", s, |h| {
        auth_cmd(
            CC_NV_CHANGE_AUTH,
            &[ca],
            &[session(h, 0x01, &[])],
            &tpm2b(&[9; 33]),
        )
    });
    p.same_with("PolicyCommandCode again", s, |h| {
        policy_command_code(h, CC_NV_CHANGE_AUTH)
    });
    p.same_with("changeauth", s, |h| {
        auth_cmd(
            CC_NV_CHANGE_AUTH,
            &[ca],
            &[session(h, 0x00, &[])],
            &tpm2b(b"new\0"),
        )
    });
    p.same("old password", &write(ca, ca, b"old", &[1; 4], 0));
    p.same("new password", &write(ca, ca, b"new", &[1; 4], 0));
    p.same("ReadPublic after changeauth", &read_public(ca));

    // Undefine rules.
    let plat = 0x01C0_0300;
    p.same(
        "define platform",
        &define(plat, PLATFORMCREATE | PPWRITE | PPREAD | OWNERREAD, b"", 8),
    );
    p.same("owner undefines platform index", &undefine(RH_OWNER, plat));
    p.same(
        "platform undefines owner index",
        &undefine(RH_PLATFORM, other),
    );
    p.same("undefine twice", &undefine(RH_PLATFORM, other));
    let special = 0x01C0_0301;
    let us_policy = sha256(&[
        &[0; 32],
        &CC_POLICY_COMMAND_CODE.to_be_bytes(),
        &CC_NV_UNDEFINE_SPACE_SPECIAL.to_be_bytes(),
    ]);
    let public = nv_public(
        special,
        SHA256,
        PLATFORMCREATE | PPWRITE | PPREAD | POLICY_DELETE,
        &us_policy,
        8,
    );
    p.same(
        "define policy_delete",
        &define_public(RH_PLATFORM, b"", &public),
    );
    p.same("undefine policy_delete", &undefine(RH_PLATFORM, special));
    let s = p.policy_session();
    p.same_with("PolicyCommandCode(UndefineSpaceSpecial)", s, |h| {
        policy_command_code(h, CC_NV_UNDEFINE_SPACE_SPECIAL)
    });
    p.same_with("UndefineSpaceSpecial on plat", s, |h| {
        auth_cmd(
            CC_NV_UNDEFINE_SPACE_SPECIAL,
            &[plat, RH_PLATFORM],
            &[session(h, 0x01, &[]), pw(b"")],
            &[],
        )
    });
    p.same_with("UndefineSpaceSpecial", s, |h| {
        auth_cmd(
            CC_NV_UNDEFINE_SPACE_SPECIAL,
            &[special, RH_PLATFORM],
            &[session(h, 0x00, &[]), pw(b"")],
            &[],
        )
    });
    p.same("ReadPublic deleted", &read_public(special));
    p.same("getcap handles", &get_capability(1, 0x0100_0000, 64));
    p.finish();
}

/// The EK certificate indices as swtpm_setup provisions them (TCG EK
/// Credential Profile): defined and written by the platform, locked,
/// readable by the owner and by their empty authValue.
#[test]
fn ek_certificate_indices_match() {
    let mut p = Pair::started();
    let attrs = PLATFORMCREATE | PPWRITE | PPREAD | OWNERREAD | AUTHREAD | NO_DA | WRITEDEFINE;
    for (idx, len) in [(0x01C0_0002u32, 1290usize), (0x01C0_000A, 730)] {
        let cert = pattern(len, idx as u8);
        p.same("define EK cert", &define(idx, attrs, b"", len as u16));
        for (n, chunk) in cert.chunks(1024).enumerate() {
            p.same(
                "write EK cert",
                &write(RH_PLATFORM, idx, b"", chunk, (n * 1024) as u16),
            );
        }
        p.same(
            "lock EK cert",
            &on_index(CC_NV_WRITE_LOCK, RH_PLATFORM, idx, b"", &[]),
        );
        p.same("ReadPublic EK cert", &read_public(idx));
        p.same("owner write EK cert", &write(RH_OWNER, idx, b"", &[0], 0));
        p.same(
            "platform write locked",
            &write(RH_PLATFORM, idx, b"", &[0], 0),
        );
        p.same("owner undefine EK cert", &undefine(RH_OWNER, idx));
        let mut got = Vec::new();
        for auth in [RH_OWNER, idx, RH_PLATFORM] {
            got.clear();
            while got.len() < len {
                let n = (len - got.len()).min(1024) as u16;
                let r = p.same("read EK cert", &read(auth, idx, b"", n, got.len() as u16));
                got.extend(read_data(&r));
            }
            assert_eq!(got, cert, "swtpm EK cert read back by {auth:#x}");
        }
    }
    p.same("getcap handles", &get_capability(1, 0x01C0_0000, 10));
    p.cycle(None, SU_CLEAR);
    p.same("ReadPublic after power loss", &read_public(0x01C0_0002));
    p.finish();
}

/// TPM2_Clear deletes the owner's indices (and raises the counter floor);
/// disabled hierarchies hide their indices (Part 1 §13.5, §37.2.1).
#[test]
fn clear_and_disabled_hierarchies_match() {
    let mut p = Pair::started();
    let owner = 0x0150_0400;
    let ctr = 0x0150_0401;
    let plat = 0x01C0_0400;
    p.same(
        "define owner",
        &define(owner, OWNER_RW | AUTHREAD | NO_DA, b"", 8),
    );
    p.same(
        "define counter",
        &define(ctr, OWNER_RW | NT_COUNTER, b"", 8),
    );
    p.same(
        "define platform",
        &define(plat, PLATFORMCREATE | PPWRITE | PPREAD | OWNERREAD, b"", 8),
    );
    for n in 0..4 {
        p.same(
            &format!("increment {n}"),
            &on_index(CC_NV_INCREMENT, RH_OWNER, ctr, b"", &[]),
        );
    }
    p.same("write platform", &write(RH_PLATFORM, plat, b"", &[4; 8], 0));

    // HierarchyControl(platform, TPM_RH_OWNER, NO): owner indices vanish.
    let hc = |enable: u32, state: u8| {
        let mut params = enable.to_be_bytes().to_vec();
        params.push(state);
        auth_cmd(CC_HIERARCHY_CONTROL, &[RH_PLATFORM], &[pw(b"")], &params)
    };
    p.same("disable owner", &hc(RH_OWNER, 0));
    p.same("ReadPublic owner index", &read_public(owner));
    p.same("read owner index", &read(owner, owner, b"", 8, 0));
    p.same(
        "platform reads owner index",
        &read(RH_PLATFORM, owner, b"", 8, 0),
    );
    p.same("owner defines", &define(0x0150_0402, OWNER_RW, b"", 8));
    p.same("ReadPublic platform index", &read_public(plat));
    p.same("getcap handles", &get_capability(1, 0x0100_0000, 64));
    // HierarchyControl(platform, TPM_RH_PLATFORM_NV, NO).
    p.same("disable platform NV", &hc(0x4000_000D, 0));
    p.same("ReadPublic platform index hidden", &read_public(plat));
    p.same(
        "platform defines",
        &define(0x01C0_0401, PLATFORMCREATE | PPWRITE | PPREAD, b"", 8),
    );
    p.cycle(None, SU_CLEAR);
    p.same("ReadPublic owner index again", &read_public(owner));

    // TPM2_Clear(platform): owner indices go, platform indices stay, and a
    // new counter starts above the deleted one.
    p.same(
        "Clear",
        &auth_cmd(CC_CLEAR, &[RH_PLATFORM], &[pw(b"")], &[]),
    );
    p.same(
        "getcap handles after Clear",
        &get_capability(1, 0x0100_0000, 64),
    );
    p.same("ReadPublic platform after Clear", &read_public(plat));
    p.same("ReadPublic owner after Clear", &read_public(owner));
    p.same(
        "redefine counter",
        &define(ctr, OWNER_RW | NT_COUNTER, b"", 8),
    );
    p.same(
        "increment redefined",
        &on_index(CC_NV_INCREMENT, RH_OWNER, ctr, b"", &[]),
    );
    p.same("read redefined", &read(RH_OWNER, ctr, b"", 8, 0));
    p.finish();
}
