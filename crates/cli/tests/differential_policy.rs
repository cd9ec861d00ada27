//! Differential tests of the policy commands (TPM 2.0 Part 3 §23) against
//! swtpm (libtpms): the same commands go to `swtpm socket --tpm2` and to
//! `trustcloud tpm serve --protocol swtpm`, each in its own policy or trial
//! session, and every response must be identical byte for byte — the
//! response codes (with their handle / parameter numbers) and, through
//! TPM2_PolicyGetDigest, the policy digests.
//!
//! Policy digests are deterministic by design (Part 3 gives each formula),
//! so they are compared for every command, alone and chained, in sessions
//! of every common hash. Real (non-trial) sessions are used where the
//! answer is still deterministic: PolicyPCR against PCR values made equal
//! on both sides, PolicyOR, PolicySecret without a ticket.
//!
//! Left out on purpose: nonces and tickets (random and TPM-specific),
//! PolicyCounterTimer in a real session (Time and Clock differ), and
//! PolicyCommandCode of a command one TPM implements and the other does not.
//! Commands that need objects or NV indices run only when this build
//! implements TPM2_LoadExternal / TPM2_NV_DefineSpace (reported on stderr
//! otherwise).
//!
//! `TRUSTCLOUD_TEST_TPM=swtpm` compares swtpm with itself (a check that
//! only deterministic bytes are compared); `DIFF_TRACE=1` prints every
//! exchange.

mod support;

use support::{Protocol, RawConn, Server, ServerBuilder, UNDER_TEST_ENV};

/// swtpm's own allocation when it manufactures a TPM without swtpm_setup.
const BANKS: &str = "sha1,sha256,sha384,sha512";

const TPM_ST_NO_SESSIONS: u16 = 0x8001;
const TPM_ST_SESSIONS: u16 = 0x8002;
const TPM_RS_PW: u32 = 0x4000_0009;
const TPM_RH_OWNER: u32 = 0x4000_0001;
const TPM_RH_NULL: u32 = 0x4000_0007;
const TPM_RH_LOCKOUT: u32 = 0x4000_000A;
const TPM_RH_ENDORSEMENT: u32 = 0x4000_000B;
const TPM_RH_PLATFORM: u32 = 0x4000_000C;

const SHA1: u16 = 0x0004;
const SHA256: u16 = 0x000B;
const SHA384: u16 = 0x000C;
const SHA512: u16 = 0x000D;
const HASHES: [u16; 4] = [SHA1, SHA256, SHA384, SHA512];

mod cc {
    pub const POLICY_NV: u32 = 0x149;
    pub const POLICY_SECRET: u32 = 0x151;
    pub const POLICY_SIGNED: u32 = 0x160;
    pub const POLICY_AUTHORIZE: u32 = 0x16A;
    pub const POLICY_AUTH_VALUE: u32 = 0x16B;
    pub const POLICY_COMMAND_CODE: u32 = 0x16C;
    pub const POLICY_COUNTER_TIMER: u32 = 0x16D;
    pub const POLICY_CP_HASH: u32 = 0x16E;
    pub const POLICY_LOCALITY: u32 = 0x16F;
    pub const POLICY_NAME_HASH: u32 = 0x170;
    pub const POLICY_OR: u32 = 0x171;
    pub const POLICY_TICKET: u32 = 0x172;
    pub const POLICY_PCR: u32 = 0x17F;
    pub const POLICY_RESTART: u32 = 0x180;
    pub const POLICY_PHYSICAL_PRESENCE: u32 = 0x187;
    pub const POLICY_DUPLICATION_SELECT: u32 = 0x188;
    pub const POLICY_GET_DIGEST: u32 = 0x189;
    pub const POLICY_PASSWORD: u32 = 0x18C;
    pub const POLICY_NV_WRITTEN: u32 = 0x18F;
    pub const POLICY_TEMPLATE: u32 = 0x190;
    pub const POLICY_AUTHORIZE_NV: u32 = 0x192;
    pub const STARTUP: u32 = 0x144;
    pub const START_AUTH_SESSION: u32 = 0x176;
    pub const FLUSH_CONTEXT: u32 = 0x165;
    pub const PCR_EXTEND: u32 = 0x182;
    pub const PCR_RESET: u32 = 0x13D;
    pub const NV_DEFINE_SPACE: u32 = 0x12A;
    pub const NV_WRITE: u32 = 0x137;
    pub const NV_UNDEFINE_SPACE: u32 = 0x122;
    pub const LOAD_EXTERNAL: u32 = 0x167;
    pub const FLUSH: u32 = 0x165;
    pub const DUPLICATE: u32 = 0x14B;
}

/// A TPM command under construction.
#[derive(Clone)]
struct Cmd {
    code: u32,
    handles: Vec<u32>,
    pw: bool,
    params: Vec<u8>,
}

impl Cmd {
    fn new(code: u32) -> Cmd {
        Cmd {
            code,
            handles: Vec::new(),
            pw: false,
            params: Vec::new(),
        }
    }
    fn handle(mut self, h: u32) -> Cmd {
        self.handles.push(h);
        self
    }
    /// An empty-password session (TPM_RS_PW) for the first handle.
    fn pw(mut self) -> Cmd {
        self.pw = true;
        self
    }
    fn u8(mut self, v: u8) -> Cmd {
        self.params.push(v);
        self
    }
    fn u16(mut self, v: u16) -> Cmd {
        self.params.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn u32(mut self, v: u32) -> Cmd {
        self.params.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn bytes(mut self, b: &[u8]) -> Cmd {
        self.params.extend_from_slice(b);
        self
    }
    fn tpm2b(self, b: &[u8]) -> Cmd {
        self.u16(b.len() as u16).bytes(b)
    }
    fn build(&self) -> Vec<u8> {
        let mut v = Vec::new();
        let tag = if self.pw {
            TPM_ST_SESSIONS
        } else {
            TPM_ST_NO_SESSIONS
        };
        v.extend_from_slice(&tag.to_be_bytes());
        v.extend_from_slice(&[0; 4]);
        v.extend_from_slice(&self.code.to_be_bytes());
        for h in &self.handles {
            v.extend_from_slice(&h.to_be_bytes());
        }
        if self.pw {
            v.extend_from_slice(&9u32.to_be_bytes());
            v.extend_from_slice(&TPM_RS_PW.to_be_bytes());
            v.extend_from_slice(&[0, 0, 1, 0, 0]);
        }
        v.extend_from_slice(&self.params);
        let n = (v.len() as u32).to_be_bytes();
        v[2..6].copy_from_slice(&n);
        v
    }
}

fn rc(resp: &[u8]) -> u32 {
    u32::from_be_bytes(resp[6..10].try_into().expect("response header"))
}

/// One TPM's connection.
struct Side {
    conn: RawConn,
}

impl Side {
    fn exchange(&mut self, cmd: &[u8]) -> Vec<u8> {
        self.conn.transmit(cmd).expect("TPM exchange")
    }
}

/// swtpm and trustcloud side by side; every mismatch is collected.
struct Pair {
    sw: Side,
    ours: Side,
    /// The policy session of the current scenario on each side.
    session: (u32, u32),
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
            sw: Side {
                conn: RawConn::connect(sw.addr()).expect("connect swtpm"),
            },
            ours: Side {
                conn: RawConn::connect(ours.addr()).expect("connect trustcloud"),
            },
            session: (0, 0),
            diffs: Vec::new(),
            _servers: (sw, ours),
        };
        let r = p.same("Startup(CLEAR)", |_| Cmd::new(cc::STARTUP).u16(0));
        assert_eq!(rc(&r), 0, "swtpm refused Startup");
        p
    }

    /// Sends the command `f` builds for each side's session handle; records
    /// a mismatch unless the responses are identical. Returns swtpm's.
    fn same(&mut self, what: &str, f: impl Fn(u32) -> Cmd) -> Vec<u8> {
        let (c_sw, c_ours) = (f(self.session.0), f(self.session.1));
        self.same2(what, c_sw, c_ours)
    }

    /// Sends `c_sw` to swtpm and `c_ours` to trustcloud (commands naming
    /// handles that may differ between the two); compares the responses.
    fn same2(&mut self, what: &str, c_sw: Cmd, c_ours: Cmd) -> Vec<u8> {
        let (c_sw, c_ours) = (c_sw.build(), c_ours.build());
        let sw = self.sw.exchange(&c_sw);
        let ours = self.ours.exchange(&c_ours);
        if std::env::var_os("DIFF_TRACE").is_some() {
            eprintln!(
                "{what}\n  cmd   {}\n  swtpm {}\n  ours  {}",
                hex::encode(&c_sw),
                hex::encode(&sw),
                hex::encode(&ours)
            );
        }
        if sw != ours {
            self.diffs.push(format!(
                "{what}\n    command: {}\n    swtpm:   {}\n    ours:    {}",
                hex::encode(&c_ours),
                hex::encode(&sw),
                hex::encode(&ours)
            ));
        }
        sw
    }

    /// Sends to both without comparing; returns (swtpm, ours).
    fn both(&mut self, f: impl Fn(u32) -> Cmd) -> (Vec<u8>, Vec<u8>) {
        let sw = self.sw.exchange(&f(self.session.0).build());
        let ours = self.ours.exchange(&f(self.session.1).build());
        (sw, ours)
    }

    /// Starts a policy (`se` = 1) or trial (3) session of `hash` on both
    /// and makes it the current one; the response codes must agree.
    fn start(&mut self, se: u8, hash: u16) {
        let (sw, ours) = self.both(|_| {
            Cmd::new(cc::START_AUTH_SESSION)
                .handle(TPM_RH_NULL)
                .handle(TPM_RH_NULL)
                .tpm2b(&[0x42; 16])
                .tpm2b(&[])
                .u8(se)
                .u16(0x0010)
                .u16(hash)
        });
        assert_eq!(rc(&sw), 0, "swtpm StartAuthSession");
        assert_eq!(rc(&ours), 0, "our StartAuthSession");
        let h = |r: &[u8]| u32::from_be_bytes(r[10..14].try_into().unwrap());
        self.session = (h(&sw), h(&ours));
    }

    /// Flushes the current sessions.
    fn flush(&mut self) {
        self.same("FlushContext(session)", |h| {
            Cmd::new(cc::FLUSH_CONTEXT).u32(h)
        });
    }

    /// Compares PolicyGetDigest of the current sessions.
    fn digest(&mut self, what: &str) {
        self.same(&format!("{what}: PolicyGetDigest"), |h| {
            Cmd::new(cc::POLICY_GET_DIGEST).handle(h)
        });
    }

    /// A policy command on the current session, compared, then the digest.
    fn step(&mut self, what: &str, f: impl Fn(u32) -> Cmd) {
        self.same(what, f);
        self.digest(what);
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

/// A named command builder, for tables of cases.
type Step = (&'static str, Box<dyn Fn(u32) -> Cmd>);

fn on(code: u32, h: u32) -> Cmd {
    Cmd::new(code).handle(h)
}

fn pcr_selection(list: &[(u16, &[u32])]) -> Vec<u8> {
    let mut v = (list.len() as u32).to_be_bytes().to_vec();
    for (alg, pcrs) in list {
        v.extend_from_slice(&alg.to_be_bytes());
        v.push(3);
        let mut bits = [0u8; 3];
        for &p in *pcrs {
            bits[(p / 8) as usize] |= 1 << (p % 8);
        }
        v.extend_from_slice(&bits);
    }
    v
}

fn digest_len(alg: u16) -> usize {
    match alg {
        SHA1 => 20,
        SHA256 => 32,
        SHA384 => 48,
        _ => 64,
    }
}

fn secret(entity: u32, h: u32, cp: &[u8], policy_ref: &[u8], expiration: i32) -> Cmd {
    Cmd::new(cc::POLICY_SECRET)
        .handle(entity)
        .handle(h)
        .pw()
        .tpm2b(&[])
        .tpm2b(cp)
        .tpm2b(policy_ref)
        .u32(expiration as u32)
}

/// Every single policy command from a fresh trial session, in every hash.
#[test]
fn each_command_alone_in_trial_sessions() {
    let mut p = Pair::started();
    for hash in HASHES {
        let n = digest_len(hash);
        let d = |b: u8| vec![b; n];
        let name = |b: u8| [&SHA256.to_be_bytes()[..], &[b; 32]].concat();
        let (d1, d2, d3, d4) = (d(0x11), d(0x22), d(0x33), d(0x44));
        let (n1, n2) = (name(0xa1), name(0xb2));
        let steps: Vec<Step> = vec![
            ("AuthValue", Box::new(|h| on(cc::POLICY_AUTH_VALUE, h))),
            ("Password", Box::new(|h| on(cc::POLICY_PASSWORD, h))),
            (
                "CommandCode(PCR_Extend)",
                Box::new(|h| on(cc::POLICY_COMMAND_CODE, h).u32(cc::PCR_EXTEND)),
            ),
            (
                "CommandCode(Duplicate)",
                Box::new(|h| on(cc::POLICY_COMMAND_CODE, h).u32(cc::DUPLICATE)),
            ),
            (
                "Locality(1)",
                Box::new(|h| on(cc::POLICY_LOCALITY, h).u8(0x01)),
            ),
            (
                "Locality(0x1f)",
                Box::new(|h| on(cc::POLICY_LOCALITY, h).u8(0x1f)),
            ),
            (
                "Locality(0x80)",
                Box::new(|h| on(cc::POLICY_LOCALITY, h).u8(0x80)),
            ),
            (
                "PhysicalPresence",
                Box::new(|h| on(cc::POLICY_PHYSICAL_PRESENCE, h)),
            ),
            (
                "CpHash",
                Box::new(move |h| on(cc::POLICY_CP_HASH, h).tpm2b(&d1)),
            ),
            (
                "NameHash",
                Box::new(move |h| on(cc::POLICY_NAME_HASH, h).tpm2b(&d2)),
            ),
            (
                "Template",
                Box::new(move |h| on(cc::POLICY_TEMPLATE, h).tpm2b(&d3)),
            ),
            (
                "NvWritten(YES)",
                Box::new(|h| on(cc::POLICY_NV_WRITTEN, h).u8(1)),
            ),
            (
                "NvWritten(NO)",
                Box::new(|h| on(cc::POLICY_NV_WRITTEN, h).u8(0)),
            ),
            ("Restart", Box::new(|h| on(cc::POLICY_RESTART, h))),
        ];
        for (what, f) in &steps {
            p.start(3, hash);
            p.step(&format!("{what} [alg {hash:#x}]"), f);
            p.flush();
        }
        for include in [0u8, 1] {
            let (a, b) = (n1.clone(), n2.clone());
            p.start(3, hash);
            p.step(
                &format!("DuplicationSelect(include {include}) [alg {hash:#x}]"),
                move |h| {
                    on(cc::POLICY_DUPLICATION_SELECT, h)
                        .tpm2b(&a)
                        .tpm2b(&b)
                        .u8(include)
                },
            );
            p.flush();
        }
        // PolicyOR with 2 and 8 branches (trial: no match needed).
        for count in [2usize, 8] {
            let list: Vec<Vec<u8>> = (0..count).map(|i| d(i as u8)).collect();
            p.start(3, hash);
            p.step(&format!("OR({count}) [alg {hash:#x}]"), move |h| {
                let mut c = on(cc::POLICY_OR, h).u32(list.len() as u32);
                for x in &list {
                    c = c.tpm2b(x);
                }
                c
            });
            p.flush();
        }
        // PolicySecret of each hierarchy, with and without policyRef/cpHash.
        for entity in [
            TPM_RH_OWNER,
            TPM_RH_ENDORSEMENT,
            TPM_RH_PLATFORM,
            TPM_RH_LOCKOUT,
        ] {
            let c = d4.clone();
            p.start(3, hash);
            p.step(&format!("Secret({entity:#x}) [alg {hash:#x}]"), move |h| {
                secret(entity, h, &[], &[], 0)
            });
            p.step(
                &format!("Secret({entity:#x}, ref, cp) [alg {hash:#x}]"),
                move |h| secret(entity, h, &c, b"reference", 0),
            );
            p.flush();
        }
        // PolicyAuthorize in a trial session (no ticket check).
        let key = name(0x5e);
        p.start(3, hash);
        p.same("AuthValue", |h| on(cc::POLICY_AUTH_VALUE, h));
        p.step(&format!("Authorize [alg {hash:#x}]"), move |h| {
            on(cc::POLICY_AUTHORIZE, h)
                .tpm2b(&[0x77; 32])
                .tpm2b(b"policy-ref")
                .tpm2b(&key)
                .u16(0x8022)
                .u32(TPM_RH_NULL)
                .tpm2b(&[])
        });
        p.flush();
        // PolicyCounterTimer in a trial session.
        p.start(3, hash);
        p.step(&format!("CounterTimer [alg {hash:#x}]"), |h| {
            on(cc::POLICY_COUNTER_TIMER, h)
                .tpm2b(&1000u64.to_be_bytes())
                .u16(0)
                .u16(4)
        });
        p.flush();
    }
    p.finish();
}

/// PolicyPCR in trial and real sessions, with PCR values made equal on
/// both sides by the same extends.
#[test]
fn policy_pcr_trial_and_real() {
    let mut p = Pair::started();
    for (pcr, b) in [(1u32, 0x01u8), (16, 0x10), (23, 0x23)] {
        p.same(&format!("PCR_Extend({pcr})"), |_| {
            let mut c = Cmd::new(cc::PCR_EXTEND).handle(pcr).pw().u32(4);
            for alg in HASHES {
                c = c.u16(alg).bytes(&vec![b; digest_len(alg)]);
            }
            c
        });
    }
    let selections: Vec<Vec<u8>> = vec![
        pcr_selection(&[(SHA256, &[0, 1, 2, 3])]),
        pcr_selection(&[(SHA1, &[16]), (SHA256, &[1, 16, 23])]),
        pcr_selection(&[(SHA384, &[0, 23]), (SHA512, &[7]), (SHA256, &[])]),
        pcr_selection(&[(SHA256, &[16]), (SHA256, &[16])]),
    ];
    for hash in HASHES {
        for (i, sel) in selections.iter().enumerate() {
            for se in [3u8, 1] {
                let s = sel.clone();
                p.start(se, hash);
                p.step(&format!("PCR sel#{i} se {se} [alg {hash:#x}]"), move |h| {
                    on(cc::POLICY_PCR, h).tpm2b(&[]).bytes(&s)
                });
                // The same again with the digest the first call used is
                // accepted only in trial sessions or if it matches.
                let s = sel.clone();
                p.step(&format!("PCR sel#{i} wrong digest se {se}"), move |h| {
                    on(cc::POLICY_PCR, h)
                        .tpm2b(&vec![0xee; digest_len(hash)])
                        .bytes(&s)
                });
                p.flush();
            }
        }
    }
    // A real session after a PCR change.
    p.start(1, SHA256);
    let sel = selections[0].clone();
    p.step("PCR before change", |h| {
        on(cc::POLICY_PCR, h).tpm2b(&[]).bytes(&sel)
    });
    p.same("PCR_Extend(2)", |_| {
        Cmd::new(cc::PCR_EXTEND)
            .handle(2)
            .pw()
            .u32(1)
            .u16(SHA256)
            .bytes(&[0x99; 32])
    });
    p.step("PCR after change", |h| {
        on(cc::POLICY_PCR, h).tpm2b(&[]).bytes(&sel)
    });
    p.flush();
    p.finish();
}

/// One session through every command whose digest can be chained, then
/// PolicyOR over it in a real session.
#[test]
fn chained_policies_and_policy_or_in_real_sessions() {
    let mut p = Pair::started();
    for hash in HASHES {
        let n = digest_len(hash);
        p.start(3, hash);
        p.step("AuthValue", |h| on(cc::POLICY_AUTH_VALUE, h));
        p.step("CommandCode", |h| {
            on(cc::POLICY_COMMAND_CODE, h).u32(cc::PCR_RESET)
        });
        p.step("Locality", |h| on(cc::POLICY_LOCALITY, h).u8(0x06));
        p.step("Locality narrower", |h| on(cc::POLICY_LOCALITY, h).u8(0x02));
        p.step("CpHash", |h| on(cc::POLICY_CP_HASH, h).tpm2b(&vec![7; n]));
        p.step("Secret", |h| secret(TPM_RH_OWNER, h, &vec![7; n], b"r", 0));
        p.step("NvWritten", |h| on(cc::POLICY_NV_WRITTEN, h).u8(1));
        p.step("PCR", |h| {
            on(cc::POLICY_PCR, h)
                .tpm2b(&[])
                .bytes(&pcr_selection(&[(SHA256, &[0])]))
        });
        p.step("Password", |h| on(cc::POLICY_PASSWORD, h));
        p.step("PhysicalPresence", |h| on(cc::POLICY_PHYSICAL_PRESENCE, h));
        let branch = p.same("branch digest", |h| {
            Cmd::new(cc::POLICY_GET_DIGEST).handle(h)
        });
        let branch = branch[12..].to_vec();
        p.flush();

        // A real session: PolicyOR must find its current digest among the
        // branches (TPM_RC_VALUE otherwise).
        p.start(1, hash);
        let (b1, b2) = (branch.clone(), vec![0x55; n]);
        p.step("OR without a matching branch", move |h| {
            on(cc::POLICY_OR, h).u32(2).tpm2b(&b1).tpm2b(&b2)
        });
        p.step("Secret(endorsement)", |h| {
            secret(TPM_RH_ENDORSEMENT, h, &[], &[], 0)
        });
        let current =
            p.same("current", |h| Cmd::new(cc::POLICY_GET_DIGEST).handle(h))[12..].to_vec();
        let b2 = vec![0x55; n];
        p.step("OR with a matching branch", move |h| {
            on(cc::POLICY_OR, h)
                .u32(3)
                .tpm2b(&b2)
                .tpm2b(&current)
                .tpm2b(&b2)
        });
        p.flush();
    }
    p.finish();
}

/// The response codes of malformed and conflicting policy commands.
#[test]
fn policy_errors_match_the_reference() {
    let mut p = Pair::started();
    p.start(3, SHA256);
    let name = [&SHA256.to_be_bytes()[..], &[0x61; 32]].concat();
    let cases: Vec<Step> = vec![
        (
            "Locality(0)",
            Box::new(|h| on(cc::POLICY_LOCALITY, h).u8(0)),
        ),
        (
            "OR(1)",
            Box::new(|h| on(cc::POLICY_OR, h).u32(1).tpm2b(&[1; 32])),
        ),
        (
            "OR(9)",
            Box::new(|h| {
                let mut c = on(cc::POLICY_OR, h).u32(9);
                for _ in 0..9 {
                    c = c.tpm2b(&[1; 32]);
                }
                c
            }),
        ),
        (
            "OR oversized digest",
            Box::new(|h| on(cc::POLICY_OR, h).u32(2).tpm2b(&[1; 65]).tpm2b(&[1; 32])),
        ),
        (
            "CpHash short",
            Box::new(|h| on(cc::POLICY_CP_HASH, h).tpm2b(&[1; 20])),
        ),
        (
            "NameHash long",
            Box::new(|h| on(cc::POLICY_NAME_HASH, h).tpm2b(&[1; 48])),
        ),
        (
            "Template short",
            Box::new(|h| on(cc::POLICY_TEMPLATE, h).tpm2b(&[1; 2])),
        ),
        (
            "NvWritten(2)",
            Box::new(|h| on(cc::POLICY_NV_WRITTEN, h).u8(2)),
        ),
        (
            "CounterTimer offset 26",
            Box::new(|h| on(cc::POLICY_COUNTER_TIMER, h).tpm2b(&[1]).u16(26).u16(0)),
        ),
        (
            "CounterTimer past the end",
            Box::new(|h| {
                on(cc::POLICY_COUNTER_TIMER, h)
                    .tpm2b(&[1, 2])
                    .u16(24)
                    .u16(0)
            }),
        ),
        (
            "CounterTimer operation 12",
            Box::new(|h| on(cc::POLICY_COUNTER_TIMER, h).tpm2b(&[1]).u16(0).u16(12)),
        ),
        (
            "Authorize keySign hash",
            Box::new(|h| {
                on(cc::POLICY_AUTHORIZE, h)
                    .tpm2b(&[])
                    .tpm2b(&[])
                    .tpm2b(&[0x00, 0x01, 0x02])
                    .u16(0x8022)
                    .u32(TPM_RH_NULL)
                    .tpm2b(&[])
            }),
        ),
        (
            "Authorize keySign size",
            Box::new(move |h| {
                on(cc::POLICY_AUTHORIZE, h)
                    .tpm2b(&[])
                    .tpm2b(&[])
                    .tpm2b(&name[..30])
                    .u16(0x8022)
                    .u32(TPM_RH_NULL)
                    .tpm2b(&[])
            }),
        ),
        (
            "Authorize ticket tag",
            Box::new(|h| {
                on(cc::POLICY_AUTHORIZE, h)
                    .tpm2b(&[])
                    .tpm2b(&[])
                    .tpm2b(&[0x00, 0x0b])
                    .u16(0x8021)
                    .u32(TPM_RH_NULL)
                    .tpm2b(&[])
            }),
        ),
        (
            "Ticket in a trial session",
            Box::new(|h| {
                on(cc::POLICY_TICKET, h)
                    .tpm2b(&[0; 8])
                    .tpm2b(&[])
                    .tpm2b(&[])
                    .tpm2b(&[0x40, 0, 0, 1])
                    .u16(0x8023)
                    .u32(TPM_RH_OWNER)
                    .tpm2b(&[])
            }),
        ),
        (
            "PCR with SHA-256 bank of sizeofSelect 4",
            Box::new(|h| {
                on(cc::POLICY_PCR, h)
                    .tpm2b(&[])
                    .u32(1)
                    .u16(SHA256)
                    .u8(4)
                    .bytes(&[0xff; 4])
            }),
        ),
        (
            "PCR with unknown hash",
            Box::new(|h| {
                on(cc::POLICY_PCR, h)
                    .tpm2b(&[])
                    .bytes(&pcr_selection(&[(0x0010, &[1])]))
            }),
        ),
        (
            "trailing bytes",
            Box::new(|h| on(cc::POLICY_AUTH_VALUE, h).u8(0)),
        ),
        (
            "GetDigest on an HMAC session handle",
            Box::new(|_| on(cc::POLICY_GET_DIGEST, 0x0200_0000)),
        ),
        (
            "GetDigest on an unloaded policy session",
            Box::new(|_| on(cc::POLICY_GET_DIGEST, 0x0300_0020)),
        ),
        (
            "Secret of TPM_RH_NULL",
            Box::new(|h| secret(TPM_RH_NULL, h, &[], &[], 0)),
        ),
    ];
    for (what, f) in &cases {
        p.same(what, f);
    }
    // Conflicts between conditions.
    let conflicts: Vec<Step> = vec![
        (
            "CommandCode A",
            Box::new(|h| on(cc::POLICY_COMMAND_CODE, h).u32(cc::PCR_EXTEND)),
        ),
        (
            "CommandCode B",
            Box::new(|h| on(cc::POLICY_COMMAND_CODE, h).u32(cc::PCR_RESET)),
        ),
        (
            "Locality 3",
            Box::new(|h| on(cc::POLICY_LOCALITY, h).u8(0x08)),
        ),
        (
            "Locality 4",
            Box::new(|h| on(cc::POLICY_LOCALITY, h).u8(0x10)),
        ),
        (
            "Locality ext",
            Box::new(|h| on(cc::POLICY_LOCALITY, h).u8(0x40)),
        ),
        (
            "NvWritten YES",
            Box::new(|h| on(cc::POLICY_NV_WRITTEN, h).u8(1)),
        ),
        (
            "NvWritten NO",
            Box::new(|h| on(cc::POLICY_NV_WRITTEN, h).u8(0)),
        ),
        (
            "Template",
            Box::new(|h| on(cc::POLICY_TEMPLATE, h).tpm2b(&[5; 32])),
        ),
        (
            "Template again",
            Box::new(|h| on(cc::POLICY_TEMPLATE, h).tpm2b(&[5; 32])),
        ),
        (
            "Template other",
            Box::new(|h| on(cc::POLICY_TEMPLATE, h).tpm2b(&[6; 32])),
        ),
        (
            "CpHash after template",
            Box::new(|h| on(cc::POLICY_CP_HASH, h).tpm2b(&[5; 32])),
        ),
        (
            "NameHash after template",
            Box::new(|h| on(cc::POLICY_NAME_HASH, h).tpm2b(&[5; 32])),
        ),
        (
            "DuplicationSelect after template",
            Box::new(|h| {
                on(cc::POLICY_DUPLICATION_SELECT, h)
                    .tpm2b(&[0, 0x0b])
                    .tpm2b(&[0, 0x0b])
                    .u8(1)
            }),
        ),
        ("Restart", Box::new(|h| on(cc::POLICY_RESTART, h))),
        (
            "CpHash",
            Box::new(|h| on(cc::POLICY_CP_HASH, h).tpm2b(&[5; 32])),
        ),
        (
            "CpHash same",
            Box::new(|h| on(cc::POLICY_CP_HASH, h).tpm2b(&[5; 32])),
        ),
        (
            "CpHash other",
            Box::new(|h| on(cc::POLICY_CP_HASH, h).tpm2b(&[6; 32])),
        ),
        (
            "Template after cpHash",
            Box::new(|h| on(cc::POLICY_TEMPLATE, h).tpm2b(&[5; 32])),
        ),
        (
            "Secret other cpHash",
            Box::new(|h| secret(TPM_RH_OWNER, h, &[6; 32], &[], 0)),
        ),
        (
            "Secret short cpHash",
            Box::new(|h| secret(TPM_RH_OWNER, h, &[6; 31], &[], 0)),
        ),
        (
            "Secret same cpHash",
            Box::new(|h| secret(TPM_RH_OWNER, h, &[5; 32], &[], 0)),
        ),
        ("Restart 2", Box::new(|h| on(cc::POLICY_RESTART, h))),
        (
            "NameHash",
            Box::new(|h| on(cc::POLICY_NAME_HASH, h).tpm2b(&[5; 32])),
        ),
        (
            "NameHash again",
            Box::new(|h| on(cc::POLICY_NAME_HASH, h).tpm2b(&[5; 32])),
        ),
        (
            "CommandCode",
            Box::new(|h| on(cc::POLICY_COMMAND_CODE, h).u32(cc::PCR_EXTEND)),
        ),
        (
            "DuplicationSelect after commandCode",
            Box::new(|h| {
                on(cc::POLICY_DUPLICATION_SELECT, h)
                    .tpm2b(&[0, 0x0b])
                    .tpm2b(&[0, 0x0b])
                    .u8(1)
            }),
        ),
        ("Restart 3", Box::new(|h| on(cc::POLICY_RESTART, h))),
        (
            "DuplicationSelect",
            Box::new(|h| {
                on(cc::POLICY_DUPLICATION_SELECT, h)
                    .tpm2b(&[0, 0x0b])
                    .tpm2b(&[0, 0x04])
                    .u8(0)
            }),
        ),
        (
            "CommandCode after dup",
            Box::new(|h| on(cc::POLICY_COMMAND_CODE, h).u32(cc::DUPLICATE)),
        ),
        (
            "CommandCode other after dup",
            Box::new(|h| on(cc::POLICY_COMMAND_CODE, h).u32(cc::PCR_EXTEND)),
        ),
    ];
    for (what, f) in &conflicts {
        p.step(what, f);
    }
    p.flush();
    // Real-session checks: PolicySecret nonce and expiration, PolicyOR, PolicyAuthorize.
    p.start(1, SHA256);
    p.step("Secret with a foreign nonce", |h| {
        Cmd::new(cc::POLICY_SECRET)
            .handle(TPM_RH_OWNER)
            .handle(h)
            .pw()
            .tpm2b(&[0xab; 32])
            .tpm2b(&[])
            .tpm2b(&[])
            .u32(0)
    });
    p.step("OR without a match", |h| {
        on(cc::POLICY_OR, h).u32(2).tpm2b(&[1; 32]).tpm2b(&[2; 32])
    });
    p.step("Authorize approvedPolicy mismatch", |h| {
        on(cc::POLICY_AUTHORIZE, h)
            .tpm2b(&[9; 32])
            .tpm2b(&[])
            .tpm2b(&[&SHA256.to_be_bytes()[..], &[1; 32]].concat())
            .u16(0x8022)
            .u32(TPM_RH_NULL)
            .tpm2b(&[])
    });
    p.step("Ticket with a short timeout", |h| {
        on(cc::POLICY_TICKET, h)
            .tpm2b(&[0; 4])
            .tpm2b(&[])
            .tpm2b(&[])
            .tpm2b(&TPM_RH_OWNER.to_be_bytes())
            .u16(0x8023)
            .u32(TPM_RH_OWNER)
            .tpm2b(&[])
    });
    p.flush();
    p.finish();
}

/// PolicyNV and PolicyAuthorizeNV against an NV index defined the same way
/// on both sides (when this build has NV).
#[test]
fn policy_nv_and_authorize_nv() {
    let mut p = Pair::started();
    const INDEX: u32 = 0x0150_0001;
    // TPMA_NV: OWNERWRITE | AUTHWRITE | OWNERREAD | AUTHREAD | NO_DA.
    let attrs: u32 = (1 << 1) | (1 << 2) | (1 << 17) | (1 << 18) | (1 << 25);
    let (sw, ours) = p.both(|_| {
        let mut public = Vec::new();
        public.extend_from_slice(&INDEX.to_be_bytes());
        public.extend_from_slice(&SHA256.to_be_bytes());
        public.extend_from_slice(&attrs.to_be_bytes());
        public.extend_from_slice(&0u16.to_be_bytes());
        public.extend_from_slice(&34u16.to_be_bytes());
        Cmd::new(cc::NV_DEFINE_SPACE)
            .handle(TPM_RH_OWNER)
            .pw()
            .tpm2b(&[])
            .tpm2b(&public)
    });
    assert_eq!(rc(&sw), 0, "swtpm NV_DefineSpace");
    if rc(&ours) == 0x143 {
        eprintln!("TPM2_NV_DefineSpace not implemented yet: PolicyNV differential skipped");
        return;
    }
    assert_eq!(rc(&ours), 0, "our NV_DefineSpace");
    for hash in [SHA256, SHA1] {
        for se in [3u8, 1] {
            p.start(se, hash);
            p.step("PolicyNV before the index is written", |h| {
                Cmd::new(cc::POLICY_NV)
                    .handle(TPM_RH_OWNER)
                    .handle(INDEX)
                    .handle(h)
                    .pw()
                    .tpm2b(&[0; 4])
                    .u16(0)
                    .u16(0)
            });
            p.step("PolicyAuthorizeNV before the index is written", |h| {
                Cmd::new(cc::POLICY_AUTHORIZE_NV)
                    .handle(TPM_RH_OWNER)
                    .handle(INDEX)
                    .handle(h)
                    .pw()
            });
            p.flush();
        }
    }
    // Write a TPMT_HA of the SHA-256 digest "PolicyAuthValue" into it.
    let mut approved = vec![0u8; 32];
    {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        h.update(&approved);
        h.update(cc::POLICY_AUTH_VALUE.to_be_bytes());
        approved = h.finalize().to_vec();
    }
    let ha = [&SHA256.to_be_bytes()[..], &approved].concat();
    p.same("NV_Write", |_| {
        Cmd::new(cc::NV_WRITE)
            .handle(TPM_RH_OWNER)
            .handle(INDEX)
            .pw()
            .tpm2b(&ha)
            .u16(0)
    });
    for hash in [SHA256, SHA1] {
        for se in [3u8, 1] {
            p.start(se, hash);
            for (op, offset, operand) in [
                (0u16, 0u16, vec![0x00, 0x0b]),
                (1, 0, vec![0x00, 0x0b]),
                (2, 2, approved[..4].to_vec()),
                (3, 2, approved[..4].to_vec()),
                (8, 4, vec![0x00]),
                (10, 2, approved[..2].to_vec()),
                (11, 2, approved[..2].to_vec()),
                (0, 35, vec![1]),
                (0, 33, vec![1, 2]),
            ] {
                p.step(
                    &format!("PolicyNV op {op} offset {offset} se {se}"),
                    move |h| {
                        Cmd::new(cc::POLICY_NV)
                            .handle(TPM_RH_OWNER)
                            .handle(INDEX)
                            .handle(h)
                            .pw()
                            .tpm2b(&operand)
                            .u16(offset)
                            .u16(op)
                    },
                );
            }
            p.step("PolicyNV authorized by the index itself", |h| {
                Cmd::new(cc::POLICY_NV)
                    .handle(INDEX)
                    .handle(INDEX)
                    .handle(h)
                    .pw()
                    .tpm2b(&[0x00, 0x0b])
                    .u16(0)
                    .u16(0)
            });
            p.same("Restart", |h| on(cc::POLICY_RESTART, h));
            p.same("AuthValue", |h| on(cc::POLICY_AUTH_VALUE, h));
            p.step(&format!("PolicyAuthorizeNV se {se} alg {hash:#x}"), |h| {
                Cmd::new(cc::POLICY_AUTHORIZE_NV)
                    .handle(TPM_RH_OWNER)
                    .handle(INDEX)
                    .handle(h)
                    .pw()
            });
            p.step("PolicyAuthorizeNV with a digest that differs", |h| {
                Cmd::new(cc::POLICY_AUTHORIZE_NV)
                    .handle(TPM_RH_OWNER)
                    .handle(INDEX)
                    .handle(h)
                    .pw()
            });
            p.flush();
        }
    }
    p.same("NV_UndefineSpace", |_| {
        Cmd::new(cc::NV_UNDEFINE_SPACE)
            .handle(TPM_RH_OWNER)
            .handle(INDEX)
            .pw()
    });
    p.finish();
}

/// PolicySigned's digest in a trial session names the key: the same
/// external public key loaded on both sides (when this build has
/// TPM2_LoadExternal).
#[test]
fn policy_signed_trial_digest() {
    let mut p = Pair::started();
    // An ECC P-256 signing key (public part only), loaded in the owner
    // hierarchy: TPMT_PUBLIC with nameAlg SHA-256.
    let x = hex::decode("6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296")
        .expect("hex");
    let y = hex::decode("4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5")
        .expect("hex");
    let mut public = Vec::new();
    public.extend_from_slice(&0x0023u16.to_be_bytes()); // TPM_ALG_ECC
    public.extend_from_slice(&SHA256.to_be_bytes());
    public.extend_from_slice(&0x0004_0040u32.to_be_bytes()); // sign | userWithAuth
    public.extend_from_slice(&0u16.to_be_bytes()); // authPolicy
    public.extend_from_slice(&0x0010u16.to_be_bytes()); // symmetric NULL
    public.extend_from_slice(&0x0018u16.to_be_bytes()); // ECDSA
    public.extend_from_slice(&SHA256.to_be_bytes());
    public.extend_from_slice(&0x0003u16.to_be_bytes()); // NIST P-256
    public.extend_from_slice(&0x0010u16.to_be_bytes()); // KDF NULL
    public.extend_from_slice(&(x.len() as u16).to_be_bytes());
    public.extend_from_slice(&x);
    public.extend_from_slice(&(y.len() as u16).to_be_bytes());
    public.extend_from_slice(&y);
    let (sw, ours) = p.both(|_| {
        Cmd::new(cc::LOAD_EXTERNAL)
            .tpm2b(&[])
            .tpm2b(&public)
            .u32(TPM_RH_OWNER)
    });
    assert_eq!(rc(&sw), 0, "swtpm LoadExternal");
    if rc(&ours) == 0x143 {
        eprintln!("TPM2_LoadExternal not implemented yet: PolicySigned differential skipped");
        return;
    }
    assert_eq!(rc(&ours), 0, "our LoadExternal");
    // The Name follows the handle in the response: must be equal.
    assert_eq!(sw[14..], ours[14..], "LoadExternal name");
    let key = |r: &[u8]| u32::from_be_bytes(r[10..14].try_into().unwrap());
    let keys = (key(&sw), key(&ours));
    for hash in HASHES {
        p.start(3, hash);
        let signed = |key: u32, session: u32| {
            Cmd::new(cc::POLICY_SIGNED)
                .handle(key)
                .handle(session)
                .tpm2b(&[])
                .tpm2b(&[])
                .tpm2b(b"signed-ref")
                .u32(0)
                .u16(0x0018)
                .u16(SHA256)
                .tpm2b(&[1; 32])
                .tpm2b(&[1; 32])
        };
        let what = format!("PolicySigned trial [alg {hash:#x}]");
        let (s_sw, s_ours) = p.session;
        p.same2(&what, signed(keys.0, s_sw), signed(keys.1, s_ours));
        p.digest(&what);
        p.flush();
    }
    p.same2(
        "FlushContext(key)",
        Cmd::new(cc::FLUSH).u32(keys.0),
        Cmd::new(cc::FLUSH).u32(keys.1),
    );
    p.finish();
}

/// Runs openssl in `dir`; returns its stdout.
fn openssl(dir: &std::path::Path, args: &[&str]) -> Vec<u8> {
    let mut cmd = std::process::Command::new("openssl");
    cmd.args(args).current_dir(dir);
    let out = support::run_bounded(cmd, None, support::TOOL_TIMEOUT);
    assert!(out.success(), "openssl {args:?}: {out:?}");
    out.stdout
}

/// (r, s) of a DER ECDSA-Sig-Value, each left-padded to `n` octets.
fn ecdsa_der_to_rs(der: &[u8], n: usize) -> (Vec<u8>, Vec<u8>) {
    assert_eq!(der[0], 0x30, "SEQUENCE");
    let mut i = 2;
    let mut int = || {
        assert_eq!(der[i], 0x02, "INTEGER");
        let len = der[i + 1] as usize;
        let v = &der[i + 2..i + 2 + len];
        i += 2 + len;
        let v: Vec<u8> = v.iter().copied().skip_while(|b| *b == 0).collect();
        let mut out = vec![0u8; n - v.len()];
        out.extend_from_slice(&v);
        out
    };
    let r = int();
    let s = int();
    (r, s)
}

/// A TPMT_SIGNATURE.
fn signature(sig_alg: u16, parts: &[&[u8]]) -> Vec<u8> {
    let mut v = sig_alg.to_be_bytes().to_vec();
    v.extend_from_slice(&SHA256.to_be_bytes());
    for p in parts {
        v.extend_from_slice(&(p.len() as u16).to_be_bytes());
        v.extend_from_slice(p);
    }
    v
}

/// PolicySigned in real sessions with signatures made by openssl over
/// aHash = H(nonceTPM || expiration || cpHashA || policyRef): both TPMs must
/// verify (or refuse) them alike and reach the same digest.
#[test]
fn policy_signed_real_signatures() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    openssl(d, &["genrsa", "-out", "rsa.pem", "2048"]);
    openssl(
        d,
        &[
            "ecparam",
            "-name",
            "prime256v1",
            "-genkey",
            "-noout",
            "-out",
            "ec.pem",
        ],
    );
    let modulus = String::from_utf8(openssl(d, &["rsa", "-in", "rsa.pem", "-noout", "-modulus"]))
        .expect("utf8");
    let modulus = hex::decode(modulus.trim().trim_start_matches("Modulus=")).expect("hex");
    let spki = openssl(d, &["ec", "-in", "ec.pem", "-pubout", "-outform", "DER"]);
    let point = &spki[spki.len() - 64..];

    let mut p = Pair::started();
    // TPMT_PUBLIC of both keys: sign | userWithAuth, nameAlg SHA-256, no scheme.
    let mut rsa = Vec::new();
    rsa.extend_from_slice(&0x0001u16.to_be_bytes());
    rsa.extend_from_slice(&SHA256.to_be_bytes());
    rsa.extend_from_slice(&0x0004_0040u32.to_be_bytes());
    rsa.extend_from_slice(&0u16.to_be_bytes());
    rsa.extend_from_slice(&0x0010u16.to_be_bytes());
    rsa.extend_from_slice(&0x0010u16.to_be_bytes());
    rsa.extend_from_slice(&2048u16.to_be_bytes());
    rsa.extend_from_slice(&0u32.to_be_bytes());
    rsa.extend_from_slice(&(modulus.len() as u16).to_be_bytes());
    rsa.extend_from_slice(&modulus);
    let mut ec = Vec::new();
    ec.extend_from_slice(&0x0023u16.to_be_bytes());
    ec.extend_from_slice(&SHA256.to_be_bytes());
    ec.extend_from_slice(&0x0004_0040u32.to_be_bytes());
    ec.extend_from_slice(&0u16.to_be_bytes());
    ec.extend_from_slice(&0x0010u16.to_be_bytes());
    ec.extend_from_slice(&0x0010u16.to_be_bytes());
    ec.extend_from_slice(&0x0003u16.to_be_bytes());
    ec.extend_from_slice(&0x0010u16.to_be_bytes());
    for c in [&point[..32], &point[32..]] {
        ec.extend_from_slice(&32u16.to_be_bytes());
        ec.extend_from_slice(c);
    }
    let mut keys = Vec::new();
    for public in [&rsa, &ec] {
        let (sw, ours) = p.both(|_| {
            Cmd::new(cc::LOAD_EXTERNAL)
                .tpm2b(&[])
                .tpm2b(public)
                .u32(TPM_RH_OWNER)
        });
        assert_eq!(rc(&sw), 0, "swtpm LoadExternal");
        if rc(&ours) == 0x143 {
            eprintln!("TPM2_LoadExternal not implemented yet: skipped");
            return;
        }
        assert_eq!(rc(&ours), 0, "our LoadExternal");
        let h = |r: &[u8]| u32::from_be_bytes(r[10..14].try_into().unwrap());
        keys.push((h(&sw), h(&ours)));
    }

    // aHash preimage: empty nonce, expiration, empty cpHashA, policyRef.
    let preimage =
        |expiration: i32, policy_ref: &[u8]| [&expiration.to_be_bytes()[..], policy_ref].concat();
    let sign = |key: &str, data: &[u8], extra: &[&str]| {
        std::fs::write(d.join("data.bin"), data).expect("write");
        let mut args = vec!["dgst", "-sha256", "-sign", key];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["-out", "sig.bin", "data.bin"]);
        openssl(d, &args);
        std::fs::read(d.join("sig.bin")).expect("read sig")
    };
    let pss = [
        "-sigopt",
        "rsa_padding_mode:pss",
        "-sigopt",
        "rsa_pss_saltlen:32",
    ];
    let good = preimage(0, b"ref");
    let later = preimage(600, b"ref");
    let rsassa = signature(0x0014, &[&sign("rsa.pem", &good, &[])]);
    let rsassa_later = signature(0x0014, &[&sign("rsa.pem", &later, &[])]);
    let rsapss = signature(0x0016, &[&sign("rsa.pem", &good, &pss)]);
    let rsassa_other = signature(0x0014, &[&sign("rsa.pem", &preimage(0, b"other"), &[])]);
    let (r, s) = ecdsa_der_to_rs(&sign("ec.pem", &good, &[]), 32);
    let ecdsa = signature(0x0018, &[&r, &s]);
    let (r2, s2) = ecdsa_der_to_rs(&sign("ec.pem", &preimage(0, b"other"), &[]), 32);
    let ecdsa_other = signature(0x0018, &[&r2, &s2]);
    let short = signature(0x0014, &[&[1; 255]]);

    let cases: Vec<(&str, usize, i32, &[u8])> = vec![
        ("RSASSA", 0, 0, &rsassa),
        ("RSASSA, expiration 600 s", 0, 600, &rsassa_later),
        ("RSAPSS", 0, 0, &rsapss),
        ("RSASSA over another policyRef", 0, 0, &rsassa_other),
        ("RSA key, ECDSA signature", 0, 0, &ecdsa),
        ("RSASSA of 255 octets", 0, 0, &short),
        ("ECDSA", 1, 0, &ecdsa),
        ("ECDSA over another policyRef", 1, 0, &ecdsa_other),
        ("ECC key, RSASSA signature", 1, 0, &rsassa),
    ];
    for (what, key, expiration, sig) in cases {
        p.start(1, SHA256);
        let (k_sw, k_ours) = keys[key];
        let (s_sw, s_ours) = p.session;
        let cmd = |k: u32, h: u32| {
            Cmd::new(cc::POLICY_SIGNED)
                .handle(k)
                .handle(h)
                .tpm2b(&[])
                .tpm2b(&[])
                .tpm2b(b"ref")
                .u32(expiration as u32)
                .bytes(sig)
        };
        p.same2(
            &format!("PolicySigned {what}"),
            cmd(k_sw, s_sw),
            cmd(k_ours, s_ours),
        );
        p.digest(&format!("PolicySigned {what}"));
        p.flush();
    }
    for (i, (k_sw, k_ours)) in keys.iter().enumerate() {
        p.same2(
            &format!("FlushContext(key {i})"),
            Cmd::new(cc::FLUSH).u32(*k_sw),
            Cmd::new(cc::FLUSH).u32(*k_ours),
        );
    }
    p.finish();
}
