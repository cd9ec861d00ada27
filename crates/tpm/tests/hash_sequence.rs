//! TPM2_Hash and the hash/event sequence commands (Part 3 §15.4, §17)
//! driven through `Tpm::execute` with real command bytes after a real
//! TPM2_Startup(CLEAR). Digests are recomputed with the RustCrypto crates
//! directly; response codes are the ones swtpm 0.7.1 (libtpms 0.9.2)
//! gives for the same bytes.

use digest::Digest;
use tpm::crypto::{Drbg, HashAlg};
use tpm::engine::SystemTime;
use tpm::types::{Digest2b, DigestValues, TkHashcheck};
use tpm::wire::{Codec, Reader};
use tpm::{EngineConfig, Tpm};

// ---- a small private command builder ------------------------------------

const OWNER: u32 = 0x4000_0001;
const NULL_H: u32 = 0x4000_0007;
const LOCKOUT: u32 = 0x4000_000A;
const ENDORSEMENT: u32 = 0x4000_000B;
const PLATFORM: u32 = 0x4000_000C;

const SHA1: u16 = 0x0004;
const SHA256: u16 = 0x000B;
const SHA384: u16 = 0x000C;
const SHA512: u16 = 0x000D;
const ALG_NULL: u16 = 0x0010;
const SM3: u16 = 0x0012;
const ALGS: [u16; 5] = [SHA1, SHA256, SHA384, SHA512, SM3];

const CC_STARTUP: u32 = 0x144;
const CC_HASH: u32 = 0x17D;
const CC_HSS: u32 = 0x186;
const CC_UPDATE: u32 = 0x15C;
const CC_COMPLETE: u32 = 0x13E;
const CC_ESC: u32 = 0x185;
const CC_PCR_READ: u32 = 0x17E;
const CC_GET_CAPABILITY: u32 = 0x17A;

const GENERATED: [u8; 4] = [0xff, 0x54, 0x43, 0x47];

struct Resp {
    rc: u32,
    handle: Option<u32>,
    params: Vec<u8>,
}

/// Builds a command; `auths` are password sessions (TPM_RS_PW), one per
/// authorized handle; `None` sends a TPM_ST_NO_SESSIONS command.
fn command(code: u32, handles: &[u32], auths: Option<&[&[u8]]>, params: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    for h in handles {
        body.extend_from_slice(&h.to_be_bytes());
    }
    if let Some(auths) = auths {
        let mut area = Vec::new();
        for a in auths {
            area.extend_from_slice(&0x4000_0009u32.to_be_bytes());
            area.extend_from_slice(&0u16.to_be_bytes());
            area.push(0x01);
            area.extend_from_slice(&(a.len() as u16).to_be_bytes());
            area.extend_from_slice(a);
        }
        body.extend_from_slice(&(area.len() as u32).to_be_bytes());
        body.extend_from_slice(&area);
    }
    body.extend_from_slice(params);
    let tag: u16 = if auths.is_some() { 0x8002 } else { 0x8001 };
    let mut c = Vec::new();
    c.extend_from_slice(&tag.to_be_bytes());
    c.extend_from_slice(&(10 + body.len() as u32).to_be_bytes());
    c.extend_from_slice(&code.to_be_bytes());
    c.extend_from_slice(&body);
    c
}

/// Splits a response into rc, response handle and parameter area.
fn parse(resp: &[u8], r_handle: bool) -> Resp {
    let tag = u16::from_be_bytes([resp[0], resp[1]]);
    let size = u32::from_be_bytes(resp[2..6].try_into().unwrap()) as usize;
    assert_eq!(size, resp.len(), "response size field");
    let rc = u32::from_be_bytes(resp[6..10].try_into().unwrap());
    if rc != 0 {
        assert_eq!(resp.len(), 10);
        return Resp {
            rc,
            handle: None,
            params: Vec::new(),
        };
    }
    let mut at = 10;
    let handle = r_handle.then(|| {
        at += 4;
        u32::from_be_bytes(resp[at - 4..at].try_into().unwrap())
    });
    let params = if tag == 0x8002 {
        let n = u32::from_be_bytes(resp[at..at + 4].try_into().unwrap()) as usize;
        resp[at + 4..at + 4 + n].to_vec()
    } else {
        resp[at..].to_vec()
    };
    Resp { rc, handle, params }
}

fn b2(data: &[u8]) -> Vec<u8> {
    let mut v = (data.len() as u16).to_be_bytes().to_vec();
    v.extend_from_slice(data);
    v
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// The digest of `data` by the RustCrypto crate for `alg`, independent of
/// the engine's own hash wrapper.
fn reference_digest(alg: u16, data: &[u8]) -> Vec<u8> {
    match alg {
        SHA1 => sha1::Sha1::digest(data).to_vec(),
        SHA256 => sha2::Sha256::digest(data).to_vec(),
        SHA384 => sha2::Sha384::digest(data).to_vec(),
        SHA512 => sha2::Sha512::digest(data).to_vec(),
        SM3 => sm3::Sm3::digest(data).to_vec(),
        _ => panic!("no such hash {alg:#x}"),
    }
}

/// Deterministic test data of any length.
fn pattern(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

struct T {
    tpm: Tpm,
}

impl T {
    fn with(banks: &[HashAlg], seed: u8) -> T {
        let config = EngineConfig {
            pcr_banks: banks.to_vec(),
        };
        let tpm = Tpm::manufacture(&config, Drbg::new([seed; 32]), Box::<SystemTime>::default());
        let mut t = T { tpm };
        t.startup();
        t
    }

    fn new() -> T {
        T::with(&[HashAlg::Sha256], 1)
    }

    fn startup(&mut self) {
        let r = self.run(0, CC_STARTUP, &[], None, &0u16.to_be_bytes(), false);
        assert_eq!(r.rc, 0, "TPM2_Startup(CLEAR)");
    }

    fn run(
        &mut self,
        locality: u8,
        code: u32,
        handles: &[u32],
        auths: Option<&[&[u8]]>,
        params: &[u8],
        r_handle: bool,
    ) -> Resp {
        let resp = self
            .tpm
            .execute(locality, &command(code, handles, auths, params));
        parse(&resp, r_handle)
    }

    fn hash(&mut self, data: &[u8], alg: u16, hierarchy: u32) -> Resp {
        let p = cat(&[&b2(data), &alg.to_be_bytes(), &hierarchy.to_be_bytes()]);
        self.run(0, CC_HASH, &[], None, &p, false)
    }

    fn start(&mut self, auth: &[u8], alg: u16) -> Resp {
        let p = cat(&[&b2(auth), &alg.to_be_bytes()]);
        self.run(0, CC_HSS, &[], None, &p, true)
    }

    fn start_ok(&mut self, auth: &[u8], alg: u16) -> u32 {
        let r = self.start(auth, alg);
        assert_eq!(r.rc, 0, "HashSequenceStart({alg:#x})");
        assert!(r.params.is_empty());
        r.handle.unwrap()
    }

    fn update(&mut self, h: u32, auth: &[u8], data: &[u8]) -> Resp {
        self.run(0, CC_UPDATE, &[h], Some(&[auth]), &b2(data), false)
    }

    fn complete(&mut self, h: u32, auth: &[u8], data: &[u8], hierarchy: u32) -> Resp {
        let p = cat(&[&b2(data), &hierarchy.to_be_bytes()]);
        self.run(0, CC_COMPLETE, &[h], Some(&[auth]), &p, false)
    }

    fn esc(&mut self, locality: u8, pcr: u32, h: u32, auth: &[u8], data: &[u8]) -> Resp {
        self.run(
            locality,
            CC_ESC,
            &[pcr, h],
            Some(&[b"", auth]),
            &b2(data),
            false,
        )
    }

    /// PCR `pcr` of bank `alg` via TPM2_PCR_Read.
    fn pcr(&mut self, alg: u16, pcr: usize) -> Vec<u8> {
        let mut select = [0u8; 3];
        select[pcr / 8] |= 1 << (pcr % 8);
        let p = cat(&[&1u32.to_be_bytes(), &alg.to_be_bytes(), &[3], &select]);
        let r = self.run(0, CC_PCR_READ, &[], None, &p, false);
        assert_eq!(r.rc, 0, "PCR_Read");
        // pcrUpdateCounter, pcrSelectionOut (count 1: alg, 3, select), digests.
        let mut rd = Reader::new(&r.params);
        rd.take(4 + 4 + 2 + 1 + 3).unwrap();
        assert_eq!(rd.u32().unwrap(), 1, "one digest");
        Digest2b::decode(&mut rd).unwrap().0
    }
}

/// outHash/result and validation of a TPM2_Hash or SequenceComplete.
fn digest_and_ticket(params: &[u8]) -> (Vec<u8>, TkHashcheck) {
    let mut r = Reader::new(params);
    let d = Digest2b::decode(&mut r).unwrap();
    let t = TkHashcheck::decode(&mut r).unwrap();
    assert!(r.is_empty(), "trailing response bytes");
    (d.0, t)
}

fn assert_null_ticket(t: &TkHashcheck) {
    assert_eq!(t.tag, 0x8024);
    assert_eq!(t.hierarchy, NULL_H);
    assert!(t.digest.is_empty());
}

fn assert_real_ticket(t: &TkHashcheck, hierarchy: u32) {
    assert_eq!(t.tag, 0x8024);
    assert_eq!(t.hierarchy, hierarchy);
    assert!(t.digest.len() >= 20, "an HMAC, not {:?}", t.digest);
}

// ---- TPM2_Hash ------------------------------------------------------------

#[test]
fn hash_matches_reference_crates_for_every_algorithm() {
    let mut t = T::new();
    for alg in ALGS {
        for n in [0usize, 1, 3, 4, 55, 56, 64, 127, 128, 1000, 1024] {
            let data = pattern(n, alg as u8);
            let r = t.hash(&data, alg, NULL_H);
            assert_eq!(r.rc, 0, "alg {alg:#x} n {n}");
            let (d, tk) = digest_and_ticket(&r.params);
            assert_eq!(d, reference_digest(alg, &data), "alg {alg:#x} n {n}");
            assert_null_ticket(&tk);
        }
    }
    // The FIPS 180 example, as swtpm answers it (same bytes).
    let r = t.hash(b"abc", SHA256, NULL_H);
    assert_eq!(
        hex::encode(&r.params),
        "0020ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\
         8024400000070000"
    );
}

#[test]
fn hash_tickets() {
    let mut t = T::new();
    // The ticket HMAC uses the context integrity hash (libtpms Ticket.c),
    // so its size is that of TPM_PT_CONTEXT_HASH.
    let p = cat(&[
        &6u32.to_be_bytes(),
        &0x11Au32.to_be_bytes(),
        &1u32.to_be_bytes(),
    ]);
    let r = t.run(0, CC_GET_CAPABILITY, &[], None, &p, false);
    assert_eq!(r.rc, 0);
    // moreData, capability, count 1, property TPM_PT_CONTEXT_HASH, value.
    assert_eq!(r.params[1..13], [0, 0, 0, 6, 0, 0, 0, 1, 0, 0, 1, 0x1A]);
    let context_hash = u32::from_be_bytes(r.params[13..17].try_into().unwrap()) as u16;
    let mac_size = reference_digest(context_hash, b"").len();

    let data = b"data to be signed";
    let mut seen = Vec::new();
    for h in [OWNER, ENDORSEMENT, PLATFORM] {
        let (d, tk) = digest_and_ticket(&t.hash(data, SHA256, h).params);
        assert_eq!(d, reference_digest(SHA256, data));
        assert_real_ticket(&tk, h);
        assert_eq!(tk.digest.len(), mac_size);
        // Deterministic for the same TPM, hierarchy and data.
        let (_, again) = digest_and_ticket(&t.hash(data, SHA256, h).params);
        assert_eq!(again, tk);
        seen.push(tk.digest.0.clone());
    }
    // Each hierarchy has its own proof.
    assert_ne!(seen[0], seen[1]);
    assert_ne!(seen[1], seen[2]);
    assert_ne!(seen[0], seen[2]);
    // Different data, different ticket.
    let (_, other) = digest_and_ticket(&t.hash(b"other data", SHA256, OWNER).params);
    assert_ne!(other.digest.0, seen[0]);
    // Same digest from another algorithm of the same size: different ticket.
    let (_, sm3) = digest_and_ticket(&t.hash(data, SM3, OWNER).params);
    assert_real_ticket(&sm3, OWNER);
    assert_ne!(sm3.digest.0, seen[0]);
    // Another TPM (other proofs) gives another ticket.
    let mut u = T::with(&[HashAlg::Sha256], 2);
    let (_, foreign) = digest_and_ticket(&u.hash(data, SHA256, OWNER).params);
    assert_ne!(foreign.digest.0, seen[0]);
}

#[test]
fn hash_of_tpm_generated_data_gets_no_ticket() {
    let mut t = T::new();
    for data in [GENERATED.to_vec(), cat(&[&GENERATED, b"attest"])] {
        let (d, tk) = digest_and_ticket(&t.hash(&data, SHA1, OWNER).params);
        assert_eq!(d, reference_digest(SHA1, &data));
        assert_null_ticket(&tk);
    }
    // Shorter than TPM_GENERATED_VALUE: TPM2_Hash still gives a ticket
    // (libtpms too), unlike a sequence.
    for data in [&GENERATED[..3], &b""[..]] {
        let (_, tk) = digest_and_ticket(&t.hash(data, SHA1, ENDORSEMENT).params);
        assert_real_ticket(&tk, ENDORSEMENT);
    }
    // A near miss is fine.
    let (_, tk) = digest_and_ticket(&t.hash(&[0xff, 0x54, 0x43, 0x48], SHA1, OWNER).params);
    assert_real_ticket(&tk, OWNER);
}

#[test]
fn hash_errors_match_libtpms() {
    let mut t = T::new();
    // TPM_RC_HASH + P2: TPM_ALG_NULL, a non-hash, an unknown id.
    for alg in [ALG_NULL, 0x0001, 0x0005, 0xffff] {
        assert_eq!(t.hash(b"abc", alg, OWNER).rc, 0x2c3, "alg {alg:#x}");
    }
    // TPM_RC_VALUE + P3: not a TPMI_RH_HIERARCHY+.
    for h in [LOCKOUT, 0, 0x4000_0002, 0x8000_0000] {
        assert_eq!(t.hash(b"abc", SHA256, h).rc, 0x3c4, "hierarchy {h:#x}");
    }
    // TPM_RC_SIZE + P1: more than MAX_DIGEST_BUFFER octets.
    assert_eq!(t.hash(&[0; 1025], SHA256, OWNER).rc, 0x1d5);
    assert_eq!(t.hash(&[0; 1024], SHA256, OWNER).rc, 0);
    // Trailing bytes: TPM_RC_SIZE; truncated parameters: TPM_RC_INSUFFICIENT + Pn.
    let good = cat(&[&b2(b"abc"), &SHA256.to_be_bytes(), &OWNER.to_be_bytes()]);
    let with = |p: &[u8], t: &mut T| t.run(0, CC_HASH, &[], None, p, false).rc;
    assert_eq!(with(&cat(&[&good, &[0]]), &mut t), 0x095);
    assert_eq!(with(&good[..good.len() - 1], &mut t), 0x3da);
    assert_eq!(with(&good[..6], &mut t), 0x2da);
    assert_eq!(with(&[0, 5, b'a', b'b'], &mut t), 0x1da);
}

// ---- hash sequences ---------------------------------------------------------

#[test]
fn sequences_with_many_updates_match_reference_crates() {
    let mut t = T::new();
    // Uneven chunks, several KB in total, crossing every block boundary.
    let sizes = [1usize, 63, 64, 65, 127, 1024, 1000, 1024, 3, 1024, 512, 777];
    for alg in ALGS {
        let h = t.start_ok(b"", alg);
        let mut all = Vec::new();
        for (i, &n) in sizes.iter().enumerate() {
            let chunk = pattern(n, i as u8 ^ alg as u8);
            let r = t.update(h, b"", &chunk);
            assert_eq!(r.rc, 0);
            assert!(r.params.is_empty());
            all.extend_from_slice(&chunk);
        }
        let last = pattern(100, 0xaa);
        all.extend_from_slice(&last);
        assert!(all.len() > 5000);
        let r = t.complete(h, b"", &last, NULL_H);
        assert_eq!(r.rc, 0);
        let (d, tk) = digest_and_ticket(&r.params);
        assert_eq!(d, reference_digest(alg, &all), "alg {alg:#x}");
        assert_null_ticket(&tk);
        // The sequence is gone.
        assert_eq!(t.update(h, b"", b"x").rc, 0x910);
    }
}

#[test]
fn sequence_ticket_equals_hash_ticket_for_same_data() {
    let mut t = T::new();
    let data = pattern(900, 7);
    for alg in ALGS {
        for hier in [OWNER, ENDORSEMENT, PLATFORM] {
            let h = t.start_ok(b"", alg);
            assert_eq!(t.update(h, b"", &data[..300]).rc, 0);
            assert_eq!(t.update(h, b"", &data[300..600]).rc, 0);
            let (d, tk) = digest_and_ticket(&t.complete(h, b"", &data[600..], hier).params);
            assert_real_ticket(&tk, hier);
            let (d2, tk2) = digest_and_ticket(&t.hash(&data, alg, hier).params);
            assert_eq!(d, d2);
            assert_eq!(tk, tk2, "alg {alg:#x} hierarchy {hier:#x}");
        }
    }
}

#[test]
fn sequence_ticket_safety_follows_the_first_block() {
    let mut t = T::new();
    let real = |t: &mut T, updates: &[&[u8]], last: &[u8]| -> TkHashcheck {
        let h = t.start_ok(b"", SHA256);
        for u in updates {
            assert_eq!(t.update(h, b"", u).rc, 0);
        }
        let r = t.complete(h, b"", last, OWNER);
        assert_eq!(r.rc, 0);
        let (d, tk) = digest_and_ticket(&r.params);
        let all: Vec<u8> = updates
            .iter()
            .flat_map(|u| u.to_vec())
            .chain(last.to_vec())
            .collect();
        assert_eq!(d, reference_digest(SHA256, &all));
        tk
    };
    // Safe first block: ticket, even if TPM_GENERATED_VALUE comes later.
    assert_real_ticket(&real(&mut t, &[b"abcd"], b""), OWNER);
    assert_real_ticket(&real(&mut t, &[b"abcd", &GENERATED], &GENERATED), OWNER);
    assert_real_ticket(&real(&mut t, &[], b"abcd"), OWNER);
    // First block starts with TPM_GENERATED_VALUE: no ticket.
    assert_null_ticket(&real(&mut t, &[&cat(&[&GENERATED, b"xyz"])], b"more"));
    assert_null_ticket(&real(&mut t, &[], &GENERATED));
    // First block shorter than 4 octets is unsafe (reference TicketIsSafe):
    // a value split over two updates, an empty first update, a short
    // completion (all as swtpm answers).
    assert_null_ticket(&real(&mut t, &[&GENERATED[..2], &GENERATED[2..]], b""));
    assert_null_ticket(&real(&mut t, &[b""], b"abcdef"));
    assert_null_ticket(&real(&mut t, &[], b"abc"));
    assert_null_ticket(&real(&mut t, &[], b""));
    // TPM_RH_NULL: no ticket requested.
    let h = t.start_ok(b"", SHA256);
    let (_, tk) = digest_and_ticket(&t.complete(h, b"", b"abcdef", NULL_H).params);
    assert_null_ticket(&tk);
}

#[test]
fn sequence_auth_is_checked_and_kept_secret() {
    let mut t = T::new();
    let h = t.start_ok(b"secret", SHA384);
    // A wrong password fails on session 1 (TPM_RC_AUTH_FAIL or, for the
    // DA-exempt sequence, TPM_RC_BAD_AUTH as libtpms says) and leaves the
    // sequence intact.
    let rc = t.update(h, b"wrong", b"x").rc;
    assert!(rc == 0x98e || rc == 0x9a2, "rc {rc:#x}");
    let rc = t.update(h, b"", b"x").rc;
    assert!(rc == 0x98e || rc == 0x9a2, "rc {rc:#x}");
    // No session at all.
    assert_eq!(t.run(0, CC_UPDATE, &[h], None, &b2(b"x"), false).rc, 0x125);
    assert_eq!(t.update(h, b"secret", b"ab").rc, 0);
    // Trailing zeros of a password are not significant (Part 1 §19.6.4.3).
    assert_eq!(t.update(h, b"secret\0\0", b"cd").rc, 0);
    let r = t.complete(h, b"secret", b"", NULL_H);
    assert_eq!(r.rc, 0);
    assert_eq!(
        digest_and_ticket(&r.params).0,
        reference_digest(SHA384, b"abcd")
    );
}

#[test]
fn sequence_errors_match_libtpms() {
    let mut t = T::new();
    // hashAlg: TPM_RC_HASH + P2; auth longer than TPM2B_AUTH: TPM_RC_SIZE + P1.
    for alg in [0x0001u16, 0x0005, 0xffff] {
        assert_eq!(t.start(b"", alg).rc, 0x2c3, "alg {alg:#x}");
    }
    assert_eq!(t.start(&[1; 65], SHA256).rc, 0x1d5);
    // Any auth up to 64 octets, whatever the digest size.
    let h = t.start_ok(&[1; 64], SHA1);
    assert_eq!(h, 0x8000_0000, "first transient handle");
    let a: &[u8] = &[1; 64];
    // Data larger than TPM2B_MAX_BUFFER: TPM_RC_SIZE + P1; trailing bytes.
    assert_eq!(t.update(h, a, &[0; 1025]).rc, 0x1d5);
    assert_eq!(
        t.run(
            0,
            CC_UPDATE,
            &[h],
            Some(&[a]),
            &cat(&[&b2(b"x"), &[0]]),
            false
        )
        .rc,
        0x095
    );
    // Bad hierarchy: TPM_RC_VALUE + P2, and the sequence survives.
    assert_eq!(t.complete(h, a, b"", LOCKOUT).rc, 0x2c4);
    assert_eq!(t.complete(h, a, &[0; 1025], OWNER).rc, 0x1d5);
    // A hash sequence given to EventSequenceComplete: TPM_RC_MODE + H2.
    assert_eq!(t.esc(0, NULL_H, h, a, b"").rc, 0x289);
    let r = t.complete(h, a, b"abc", NULL_H);
    assert_eq!(r.rc, 0);
    assert_eq!(
        digest_and_ticket(&r.params).0,
        reference_digest(SHA1, b"abc")
    );
    // Completed: the handle no longer references anything.
    assert_eq!(t.complete(h, a, b"", NULL_H).rc, 0x910);
}

#[test]
fn object_memory_is_limited_to_three_sequences() {
    let mut t = T::new();
    let hs: Vec<u32> = (0..3).map(|_| t.start_ok(b"pw", SHA1)).collect();
    assert_eq!(hs, [0x8000_0000, 0x8000_0001, 0x8000_0002]);
    // Event sequences take a slot too.
    assert_eq!(t.start(b"pw", SHA256).rc, 0x902);
    assert_eq!(t.start(b"pw", ALG_NULL).rc, 0x902);
    // Completing one frees its slot, which the next sequence reuses.
    assert_eq!(t.complete(hs[1], b"pw", b"", NULL_H).rc, 0);
    let h = t.start_ok(b"pw", ALG_NULL);
    assert_eq!(h, hs[1]);
    assert_eq!(t.start(b"pw", SHA1).rc, 0x902);
    // The survivors still work.
    for h in [hs[0], hs[2]] {
        let r = t.complete(h, b"pw", b"z", NULL_H);
        assert_eq!(digest_and_ticket(&r.params).0, reference_digest(SHA1, b"z"));
    }
}

#[test]
fn power_cycle_flushes_sequences() {
    let mut t = T::new();
    let h = t.start_ok(b"", SHA256);
    assert_eq!(t.update(h, b"", b"abc").rc, 0);
    t.tpm.power_on();
    t.startup();
    // TPM_RC_REFERENCE_H0: nothing loaded at that handle any more.
    assert_eq!(t.update(h, b"", b"abc").rc, 0x910);
    // All three slots are free again.
    for _ in 0..3 {
        t.start_ok(b"", SHA256);
    }
}

// ---- event sequences --------------------------------------------------------

/// The TPML_DIGEST_VALUES of an EventSequenceComplete response.
fn digest_values(params: &[u8]) -> DigestValues {
    let mut r = Reader::new(params);
    let v = DigestValues::decode(&mut r).unwrap();
    assert!(r.is_empty());
    v
}

#[test]
fn event_sequence_returns_every_implemented_hash() {
    let mut t = T::new();
    let h = t.start_ok(b"ev", ALG_NULL);
    let mut all = Vec::new();
    for i in 0..5u8 {
        let chunk = pattern(1024, i);
        assert_eq!(t.update(h, b"ev", &chunk).rc, 0);
        all.extend_from_slice(&chunk);
    }
    all.extend_from_slice(b"tail");
    let r = t.esc(0, NULL_H, h, b"ev", b"tail");
    assert_eq!(r.rc, 0);
    let v = digest_values(&r.params);
    // One digest per implemented hash (libtpms: per implemented hash too,
    // it lacks SM3), in TPM_ALG_ID order.
    let algs: Vec<u16> = v.0.iter().map(|d| d.alg.id()).collect();
    assert_eq!(algs, ALGS);
    for d in &v.0 {
        assert_eq!(d.digest, reference_digest(d.alg.id(), &all));
    }
    // Flushed: TPM_RC_REFERENCE_H1 (handle 2 references nothing).
    assert_eq!(t.esc(0, NULL_H, h, b"ev", b"").rc, 0x911);
}

#[test]
fn event_sequence_given_to_sequence_complete_is_mode() {
    let mut t = T::new();
    let h = t.start_ok(b"", ALG_NULL);
    assert_eq!(t.update(h, b"", b"abc").rc, 0);
    // TPM_RC_MODE + H1, and the sequence is left intact.
    assert_eq!(t.complete(h, b"", b"", OWNER).rc, 0x189);
    let r = t.esc(0, NULL_H, h, b"", b"def");
    assert_eq!(r.rc, 0);
    let v = digest_values(&r.params);
    // SHA-256("abcdef"), as swtpm answers the same bytes.
    assert_eq!(
        hex::encode(&v.0[1].digest),
        "bef57ec7f53a6d40beb640a780a639c83bc29ac8a9816f1fc6c5c6dcd93c4721"
    );
}

#[test]
fn event_sequence_extends_allocated_banks() {
    let banks = [HashAlg::Sha1, HashAlg::Sha256, HashAlg::Sm3_256];
    let mut t = T::with(&banks, 3);
    let h = t.start_ok(b"", ALG_NULL);
    assert_eq!(t.update(h, b"", b"ab").rc, 0);
    let r = t.esc(0, 16, h, b"", b"c");
    assert_eq!(r.rc, 0);
    let v = digest_values(&r.params);
    assert_eq!(v.0.len(), 5);
    for alg in [SHA1, SHA256, SM3] {
        let n = reference_digest(alg, b"").len();
        let event = reference_digest(alg, b"abc");
        let expected = reference_digest(alg, &cat(&[&vec![0; n], &event]));
        assert_eq!(t.pcr(alg, 16), expected, "bank {alg:#x}");
    }
    // The same as swtpm's PCR 16 after the same command.
    assert_eq!(
        hex::encode(t.pcr(SHA256, 16)),
        "589f9ffed4c477966bfb8d41f37895b08c69047df8f911d6f3b57fbe08faee8d"
    );
    // A second event extends again.
    let h = t.start_ok(b"", ALG_NULL);
    let before = t.pcr(SM3, 16);
    assert_eq!(t.esc(0, 16, h, b"", b"second").rc, 0);
    let expected = reference_digest(SM3, &cat(&[&before, &reference_digest(SM3, b"second")]));
    assert_eq!(t.pcr(SM3, 16), expected);
}

#[test]
fn event_sequence_obeys_pcr_locality() {
    let mut t = T::new();
    let h = t.start_ok(b"", ALG_NULL);
    let before = t.pcr(SHA256, 17);
    // PCR 17 cannot be extended from locality 0: TPM_RC_LOCALITY, nothing
    // changes and the sequence survives.
    assert_eq!(t.esc(0, 17, h, b"", b"drtm").rc, 0x907);
    assert_eq!(t.pcr(SHA256, 17), before);
    // From locality 3 it can (PC Client: PCR 17 from localities 2–4).
    let r = t.esc(3, 17, h, b"", b"drtm");
    assert_eq!(r.rc, 0);
    let ev = reference_digest(SHA256, b"drtm");
    assert_eq!(
        t.pcr(SHA256, 17),
        reference_digest(SHA256, &cat(&[&before, &ev]))
    );
    // A PCR handle out of range: TPM_RC_VALUE + H1.
    let h = t.start_ok(b"", ALG_NULL);
    assert_eq!(t.esc(0, 24, h, b"", b"").rc, 0x184);
    assert_eq!(t.esc(0, OWNER, h, b"", b"").rc, 0x184);
    // Both handles need a session.
    assert_eq!(
        t.run(0, CC_ESC, &[16, h], Some(&[b""]), &b2(b""), false).rc,
        0x125
    );
}
