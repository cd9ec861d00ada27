//! Shared helpers for engine-level tests: build raw TPM 2.0 command bytes
//! (header, handle area, authorization area, parameters), run them through
//! [`Tpm::execute`], and pick responses apart, all without the crate's own
//! wire types so the tests check the byte format independently.
//!
//! ```ignore
//! mod common;
//! use common::*;
//! let (mut tpm, clock) = engine(&[HashAlg::Sha256]);
//! startup_clear(&mut tpm);
//! let r = Cmd::new(cc::PCR_EXTEND).handle(16).pw(b"")
//!     .u32(1).u16(alg::SHA256).bytes(&[0; 32]).run(&mut tpm, 0);
//! r.expect_ok();
//! ```
#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

pub use tpm::constants::{alg, cc, rh, su};
pub use tpm::crypto::{Drbg, HashAlg};
use tpm::{EngineConfig, TimeSource, Tpm};

/// TPM_ST_NO_SESSIONS / TPM_ST_SESSIONS.
pub const ST_NO_SESSIONS: u16 = 0x8001;
pub const ST_SESSIONS: u16 = 0x8002;
/// TPMA_SESSION.continueSession.
pub const CONTINUE_SESSION: u8 = 0x01;

/// A host clock the test moves by hand, shared by every engine built on it
/// (so a "process restart" keeps the same host time line).
#[derive(Clone, Default)]
pub struct TestClock(Arc<AtomicU64>);

impl TestClock {
    pub fn advance(&self, ms: u64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
    pub fn now(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

impl TimeSource for TestClock {
    fn now_ms(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// A freshly manufactured engine with `banks` allocated, a fixed DRBG seed
/// and a [`TestClock`] at 0. It awaits TPM2_Startup.
pub fn engine(banks: &[HashAlg]) -> (Tpm, TestClock) {
    let clock = TestClock::default();
    let tpm = Tpm::manufacture(
        &EngineConfig {
            pcr_banks: banks.to_vec(),
        },
        Drbg::new([0x42; 32]),
        Box::new(clock.clone()),
    );
    (tpm, clock)
}

/// Simulates a process restart: the engine is rebuilt from its state blob
/// (which is what the host stores), on the same host clock.
pub fn reload(tpm: &Tpm, clock: &TestClock) -> Tpm {
    let blob = tpm.state_blob();
    Tpm::from_state(&blob, Drbg::new([0x43; 32]), Box::new(clock.clone()))
        .expect("state blob reloads")
}

/// A command under construction. Sessions added with [`Cmd::pw`] or
/// [`Cmd::session`] make it a TPM_ST_SESSIONS command.
#[derive(Clone, Debug)]
pub struct Cmd {
    tag: Option<u16>,
    code: u32,
    handles: Vec<u32>,
    sessions: Option<Vec<u8>>,
    params: Vec<u8>,
}

impl Cmd {
    pub fn new(code: u32) -> Cmd {
        Cmd {
            tag: None,
            code,
            handles: Vec::new(),
            sessions: None,
            params: Vec::new(),
        }
    }

    /// Overrides the header tag (to send malformed commands).
    pub fn tag(mut self, tag: u16) -> Self {
        self.tag = Some(tag);
        self
    }

    /// Appends a handle to the handle area.
    pub fn handle(mut self, h: u32) -> Self {
        self.handles.push(h);
        self
    }

    /// Appends a password session (TPM_RS_PW, empty nonce, continueSession).
    pub fn pw(self, password: &[u8]) -> Self {
        self.session(rh::PW, &[], CONTINUE_SESSION, password)
    }

    /// Appends a TPMS_AUTH_COMMAND.
    pub fn session(mut self, handle: u32, nonce: &[u8], attrs: u8, hmac: &[u8]) -> Self {
        let s = self.sessions.get_or_insert_with(Vec::new);
        s.extend_from_slice(&handle.to_be_bytes());
        s.extend_from_slice(&(nonce.len() as u16).to_be_bytes());
        s.extend_from_slice(nonce);
        s.push(attrs);
        s.extend_from_slice(&(hmac.len() as u16).to_be_bytes());
        s.extend_from_slice(hmac);
        self
    }

    pub fn u8(mut self, v: u8) -> Self {
        self.params.push(v);
        self
    }
    pub fn u16(mut self, v: u16) -> Self {
        self.params.extend_from_slice(&v.to_be_bytes());
        self
    }
    pub fn u32(mut self, v: u32) -> Self {
        self.params.extend_from_slice(&v.to_be_bytes());
        self
    }
    pub fn u64(mut self, v: u64) -> Self {
        self.params.extend_from_slice(&v.to_be_bytes());
        self
    }
    /// Raw parameter bytes.
    pub fn bytes(mut self, b: &[u8]) -> Self {
        self.params.extend_from_slice(b);
        self
    }
    /// A TPM2B: u16 size then the bytes.
    pub fn tpm2b(mut self, b: &[u8]) -> Self {
        self.params
            .extend_from_slice(&(b.len() as u16).to_be_bytes());
        self.params.extend_from_slice(b);
        self
    }

    /// The command bytes, with a correct commandSize.
    pub fn build(&self) -> Vec<u8> {
        let tag = self.tag.unwrap_or(if self.sessions.is_some() {
            ST_SESSIONS
        } else {
            ST_NO_SESSIONS
        });
        let mut v = Vec::new();
        v.extend_from_slice(&tag.to_be_bytes());
        v.extend_from_slice(&[0; 4]);
        v.extend_from_slice(&self.code.to_be_bytes());
        for h in &self.handles {
            v.extend_from_slice(&h.to_be_bytes());
        }
        if let Some(s) = &self.sessions {
            v.extend_from_slice(&(s.len() as u32).to_be_bytes());
            v.extend_from_slice(s);
        }
        v.extend_from_slice(&self.params);
        let n = (v.len() as u32).to_be_bytes();
        v[2..6].copy_from_slice(&n);
        v
    }

    /// Executes the command at `locality`.
    pub fn run(&self, tpm: &mut Tpm, locality: u8) -> Resp {
        Resp::parse(&tpm.execute(locality, &self.build()))
    }
}

/// A parsed response header; the rest is in `body`.
#[derive(Clone, Debug)]
pub struct Resp {
    pub tag: u16,
    pub rc: u32,
    /// Everything after the response code.
    pub body: Vec<u8>,
}

impl Resp {
    /// Parses a response, checking that responseSize matches its length.
    pub fn parse(bytes: &[u8]) -> Resp {
        assert!(bytes.len() >= 10, "short response {bytes:02x?}");
        let size = u32::from_be_bytes(bytes[2..6].try_into().unwrap()) as usize;
        assert_eq!(size, bytes.len(), "responseSize field");
        Resp {
            tag: u16::from_be_bytes([bytes[0], bytes[1]]),
            rc: u32::from_be_bytes(bytes[6..10].try_into().unwrap()),
            body: bytes[10..].to_vec(),
        }
    }

    /// Asserts success and returns self.
    #[track_caller]
    pub fn expect_ok(&self) -> &Self {
        assert_eq!(self.rc, 0, "expected success, got rc {:#05x}", self.rc);
        self
    }

    /// Asserts an error response: the given code and a 10-byte response.
    #[track_caller]
    pub fn expect_rc(&self, rc: u32) {
        assert_eq!(self.rc, rc, "rc {:#05x}, expected {rc:#05x}", self.rc);
        assert!(self.body.is_empty(), "error responses carry no body");
    }

    /// The response parameters of a successful response. For
    /// TPM_ST_SESSIONS, `has_handle` says whether a handle precedes
    /// parameterSize; the authorization area after the parameters is
    /// checked to be password-session responses (empty nonce and hmac).
    #[track_caller]
    pub fn params(&self, has_handle: bool) -> Rd<'_> {
        self.expect_ok();
        let mut r = Rd::new(&self.body);
        if has_handle {
            r.u32();
        }
        if self.tag == ST_SESSIONS {
            let n = r.u32() as usize;
            let params = r.bytes(n);
            while !r.is_empty() {
                assert_eq!(r.tpm2b(), Vec::<u8>::new(), "nonceTPM");
                assert_eq!(r.u8(), CONTINUE_SESSION, "session attributes");
                assert_eq!(r.tpm2b(), Vec::<u8>::new(), "hmac");
            }
            Rd::new(params)
        } else {
            Rd::new(&self.body[r.pos..])
        }
    }
}

/// A reader over response bytes that panics (fails the test) on underrun.
pub struct Rd<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Rd<'a> {
    pub fn new(b: &'a [u8]) -> Self {
        Rd { b, pos: 0 }
    }
    #[track_caller]
    pub fn bytes(&mut self, n: usize) -> &'a [u8] {
        let s = &self.b[self.pos..self.pos + n];
        self.pos += n;
        s
    }
    pub fn u8(&mut self) -> u8 {
        self.bytes(1)[0]
    }
    pub fn u16(&mut self) -> u16 {
        u16::from_be_bytes(self.bytes(2).try_into().unwrap())
    }
    pub fn u32(&mut self) -> u32 {
        u32::from_be_bytes(self.bytes(4).try_into().unwrap())
    }
    pub fn u64(&mut self) -> u64 {
        u64::from_be_bytes(self.bytes(8).try_into().unwrap())
    }
    pub fn tpm2b(&mut self) -> Vec<u8> {
        let n = self.u16() as usize;
        self.bytes(n).to_vec()
    }
    pub fn is_empty(&self) -> bool {
        self.pos == self.b.len()
    }
    /// Asserts that everything was consumed.
    #[track_caller]
    pub fn end(&self) {
        assert!(self.is_empty(), "{} unread bytes", self.b.len() - self.pos);
    }
}

/// PCR bitmap of `pcrs` as the 3-octet pcrSelect (PCR n = bit n%8 of octet n/8).
pub fn pcr_bits(pcrs: &[u32]) -> [u8; 3] {
    let mut b = [0u8; 3];
    for &p in pcrs {
        b[(p / 8) as usize] |= 1 << (p % 8);
    }
    b
}

/// A TPML_PCR_SELECTION of `(hash alg, PCRs)` entries, sizeofSelect 3.
pub fn pcr_selection(list: &[(u16, &[u32])]) -> Vec<u8> {
    let mut v = (list.len() as u32).to_be_bytes().to_vec();
    for (a, pcrs) in list {
        v.extend_from_slice(&a.to_be_bytes());
        v.push(3);
        v.extend_from_slice(&pcr_bits(pcrs));
    }
    v
}

/// TPM2_Startup(`startup_type`) at `locality`.
pub fn startup(tpm: &mut Tpm, locality: u8, startup_type: u16) -> Resp {
    Cmd::new(cc::STARTUP).u16(startup_type).run(tpm, locality)
}

/// TPM2_Startup(CLEAR) at locality 0, which must succeed.
pub fn startup_clear(tpm: &mut Tpm) {
    startup(tpm, 0, su::CLEAR).expect_ok();
}

/// TPM2_Shutdown(`shutdown_type`) at locality 0.
pub fn shutdown(tpm: &mut Tpm, shutdown_type: u16) -> Resp {
    Cmd::new(cc::SHUTDOWN).u16(shutdown_type).run(tpm, 0)
}

/// One digest of `alg` over the concatenation of `parts`, computed with
/// the RustCrypto crates directly (not the engine's hash wrapper).
pub fn hash(alg: u16, parts: &[&[u8]]) -> Vec<u8> {
    use sha2::Digest;
    fn run<D: Digest>(parts: &[&[u8]]) -> Vec<u8> {
        let mut h = D::new();
        for p in parts {
            h.update(p);
        }
        h.finalize().to_vec()
    }
    match alg {
        alg::SHA1 => run::<sha1::Sha1>(parts),
        alg::SHA256 => run::<sha2::Sha256>(parts),
        alg::SHA384 => run::<sha2::Sha384>(parts),
        alg::SHA512 => run::<sha2::Sha512>(parts),
        alg::SM3_256 => run::<sm3::Sm3>(parts),
        other => panic!("no hash {other:#x}"),
    }
}

/// Digest size of a hash algorithm id.
pub fn digest_len(alg: u16) -> usize {
    match alg {
        alg::SHA1 => 20,
        alg::SHA256 | alg::SM3_256 => 32,
        alg::SHA384 => 48,
        alg::SHA512 => 64,
        other => panic!("no hash {other:#x}"),
    }
}

/// The result of TPM2_PCR_Read.
#[derive(Debug, PartialEq, Eq)]
pub struct PcrRead {
    pub update_counter: u32,
    /// `(hash alg, pcrSelect)` per returned selection.
    pub selection: Vec<(u16, [u8; 3])>,
    pub digests: Vec<Vec<u8>>,
}

/// Runs TPM2_PCR_Read for `list` at locality 0 and parses the result.
pub fn pcr_read(tpm: &mut Tpm, list: &[(u16, &[u32])]) -> PcrRead {
    let r = Cmd::new(cc::PCR_READ)
        .bytes(&pcr_selection(list))
        .run(tpm, 0);
    let mut p = r.params(false);
    let update_counter = p.u32();
    let n = p.u32();
    let selection = (0..n)
        .map(|_| {
            let a = p.u16();
            assert_eq!(p.u8(), 3, "sizeofSelect");
            (a, p.bytes(3).try_into().unwrap())
        })
        .collect();
    let n = p.u32();
    let digests = (0..n).map(|_| p.tpm2b()).collect();
    p.end();
    PcrRead {
        update_counter,
        selection,
        digests,
    }
}

/// The value of one PCR (panics if it is not allocated).
pub fn pcr_value(tpm: &mut Tpm, alg: u16, pcr: u32) -> Vec<u8> {
    let r = pcr_read(tpm, &[(alg, &[pcr])]);
    assert_eq!(
        r.digests.len(),
        1,
        "PCR {pcr} of bank {alg:#x} is allocated"
    );
    r.digests.into_iter().next().unwrap()
}

/// pcrUpdateCounter, via TPM2_PCR_Read of nothing.
pub fn pcr_counter(tpm: &mut Tpm) -> u32 {
    pcr_read(tpm, &[]).update_counter
}

/// TPM2_PCR_Extend of `pcr` with `(alg, digest)` entries at `locality`.
pub fn pcr_extend(tpm: &mut Tpm, locality: u8, pcr: u32, digests: &[(u16, &[u8])]) -> Resp {
    let mut c = Cmd::new(cc::PCR_EXTEND)
        .handle(pcr)
        .pw(b"")
        .u32(digests.len() as u32);
    for (a, d) in digests {
        c = c.u16(*a).bytes(d);
    }
    c.run(tpm, locality)
}

/// TPMS_TIME_INFO from TPM2_ReadClock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeInfo {
    pub time: u64,
    pub clock: u64,
    pub reset_count: u32,
    pub restart_count: u32,
    pub safe: bool,
}

/// Runs TPM2_ReadClock and parses the TPMS_TIME_INFO.
pub fn read_clock(tpm: &mut Tpm) -> TimeInfo {
    let r = Cmd::new(cc::READ_CLOCK).run(tpm, 0);
    let mut p = r.params(false);
    let t = TimeInfo {
        time: p.u64(),
        clock: p.u64(),
        reset_count: p.u32(),
        restart_count: p.u32(),
        safe: match p.u8() {
            0 => false,
            1 => true,
            v => panic!("TPMI_YES_NO {v}"),
        },
    };
    p.end();
    t
}
