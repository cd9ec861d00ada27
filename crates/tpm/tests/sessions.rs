//! Authorization sessions end to end through `Tpm::execute`: the command
//! and response HMACs, nonces, binding, XOR parameter encryption, audit
//! digests and flushing, each checked against an independent computation
//! of the Part 1 §19 formulas in this file.

mod common;

use common::*;
use hmac::{Mac, SimpleHmac};
use sha2::Sha256;
use tpm::constants::{alg, cc, rh};
use tpm::crypto::HashAlg;
use tpm::Tpm;

const RC_BAD_AUTH_S1: u32 = 0x9a2;
const RC_SIZE_P1: u32 = 0x1d5;
const RC_VALUE_P2: u32 = 0x2c4;
const RC_ATTRIBUTES_S1: u32 = 0x982;
const RC_REFERENCE_S0: u32 = 0x918;
const RC_HANDLE_P1: u32 = 0x1cb;
const RC_AUTH_CONTEXT: u32 = 0x145;
const DECRYPT: u8 = 0x20;
const ENCRYPT: u8 = 0x40;
const AUDIT: u8 = 0x80;

fn hmac256(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut m = <SimpleHmac<Sha256> as Mac>::new_from_slice(key).unwrap();
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().to_vec()
}

/// KDFa (Part 1 §11.4.10.2), written out independently of the engine.
fn kdfa256(key: &[u8], label: &[u8], u: &[u8], v: &[u8], bits: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i: u32 = 1;
    while out.len() * 8 < bits as usize {
        out.extend(hmac256(
            key,
            &[&i.to_be_bytes(), label, &[0], u, v, &bits.to_be_bytes()],
        ));
        i += 1;
    }
    out.truncate(bits.div_ceil(8) as usize);
    out
}

struct Sess {
    handle: u32,
    nonce_tpm: Vec<u8>,
    key: Vec<u8>,
}

/// StartAuthSession(tpmKey NULL, bind, HMAC, symmetric, SHA-256).
fn start(tpm: &mut Tpm, bind: u32, bind_auth: &[u8], sym: &[u8], nonce_caller: &[u8]) -> Sess {
    let r = Cmd::new(cc::START_AUTH_SESSION)
        .handle(rh::NULL)
        .handle(bind)
        .tpm2b(nonce_caller)
        .tpm2b(&[])
        .u8(0)
        .bytes(sym)
        .u16(alg::SHA256)
        .run(tpm, 0);
    r.expect_ok();
    let handle = u32::from_be_bytes(r.body[0..4].try_into().unwrap());
    let mut rd = Rd::new(&r.body[4..]);
    let nonce_tpm = rd.tpm2b();
    rd.end();
    assert_eq!(handle >> 24, 0x02, "HMAC session handle");
    assert_eq!(nonce_tpm.len(), 32);
    let key = if bind == rh::NULL {
        Vec::new()
    } else {
        kdfa256(bind_auth, b"ATH", &nonce_tpm, nonce_caller, 256)
    };
    Sess {
        handle,
        nonce_tpm,
        key,
    }
}

const SYM_NULL: &[u8] = &[0x00, 0x10];
const SYM_XOR_SHA256: &[u8] = &[0x00, 0x0a, 0x00, 0x0b];

fn cp_hash(code: u32, names: &[&[u8]], params: &[u8]) -> Vec<u8> {
    let mut parts: Vec<&[u8]> = Vec::new();
    let c = code.to_be_bytes();
    parts.push(&c);
    parts.extend_from_slice(names);
    parts.push(params);
    hash(alg::SHA256, &parts)
}

/// Runs a PCR_Extend of PCR 16 authorized by `s`, checking the response
/// HMAC, and rolls the session's nonce.
fn extend_with_session(tpm: &mut Tpm, s: &mut Sess, auth: &[u8], attrs: u8, corrupt: bool) -> Resp {
    let digest = [0x42u8; 32];
    let mut params = Vec::new();
    params.extend_from_slice(&1u32.to_be_bytes());
    params.extend_from_slice(&alg::SHA256.to_be_bytes());
    params.extend_from_slice(&digest);
    let nonce_caller = [0x11u8; 16];
    let cp = cp_hash(cc::PCR_EXTEND, &[&16u32.to_be_bytes()], &params);
    let mut key = s.key.clone();
    key.extend_from_slice(auth);
    let mut hmac = hmac256(&key, &[&cp, &nonce_caller, &s.nonce_tpm, &[attrs]]);
    if corrupt {
        hmac[0] ^= 1;
    }
    let r = Cmd::new(cc::PCR_EXTEND)
        .handle(16)
        .session(s.handle, &nonce_caller, attrs, &hmac)
        .bytes(&params)
        .run(tpm, 0);
    if r.rc == 0 {
        let mut rd = Rd::new(&r.body);
        assert_eq!(rd.u32(), 0, "parameterSize");
        let nonce_tpm = rd.tpm2b();
        assert_eq!(rd.u8(), attrs);
        let got = rd.tpm2b();
        rd.end();
        let rp = hash(
            alg::SHA256,
            &[&0u32.to_be_bytes(), &cc::PCR_EXTEND.to_be_bytes()],
        );
        assert_eq!(
            got,
            hmac256(&key, &[&rp, &nonce_tpm, &nonce_caller, &[attrs]]),
            "response HMAC"
        );
        assert_ne!(nonce_tpm, s.nonce_tpm, "nonceTPM rolls");
        s.nonce_tpm = nonce_tpm;
    }
    r
}

fn started() -> Tpm {
    let (mut t, _) = engine(&[HashAlg::Sha256]);
    startup_clear(&mut t);
    t
}

#[test]
fn unbound_hmac_session_authorizes_and_rolls_nonces() {
    let mut t = started();
    let mut s = start(&mut t, rh::NULL, &[], SYM_NULL, &[7; 16]);
    // Empty key and empty authValue: the HMAC is still computed because the
    // caller sent a non-empty one.
    extend_with_session(&mut t, &mut s, &[], 1, false).expect_ok();
    extend_with_session(&mut t, &mut s, &[], 1, false).expect_ok();
    let mut want = vec![0u8; 32];
    for _ in 0..2 {
        want = hash(alg::SHA256, &[&want, &[0x42; 32]]);
    }
    assert_eq!(pcr_value(&mut t, alg::SHA256, 16), want);
}

#[test]
fn wrong_hmac_is_bad_auth_and_keeps_the_session() {
    let mut t = started();
    let mut s = start(&mut t, rh::NULL, &[], SYM_NULL, &[7; 16]);
    extend_with_session(&mut t, &mut s, &[], 1, true).expect_rc(RC_BAD_AUTH_S1);
    // The nonce did not roll: the next correct command succeeds.
    extend_with_session(&mut t, &mut s, &[], 1, false).expect_ok();
}

#[test]
fn session_without_continue_is_flushed() {
    let mut t = started();
    let mut s = start(&mut t, rh::NULL, &[], SYM_NULL, &[7; 16]);
    extend_with_session(&mut t, &mut s, &[], 0, false).expect_ok();
    extend_with_session(&mut t, &mut s, &[], 0, false).expect_rc(RC_REFERENCE_S0);
}

#[test]
fn bound_session_key_excludes_the_bind_entitys_auth() {
    let mut t = started();
    // Bind to PCR 16 (empty authValue): a non-empty session key from KDFa.
    let mut s = start(&mut t, 16, &[], SYM_NULL, &[9; 32]);
    assert!(!s.key.is_empty());
    extend_with_session(&mut t, &mut s, &[], 1, false).expect_ok();
    // Bound to the owner hierarchy instead, used for PCR 16: authValue of
    // PCR 16 (empty) is included; the key is derived from the owner's.
    let mut s2 = start(&mut t, rh::OWNER, &[], SYM_NULL, &[3; 20]);
    extend_with_session(&mut t, &mut s2, &[], 1, false).expect_ok();
}

#[test]
fn start_auth_session_checks_its_parameters() {
    let mut t = started();
    let base = |nonce: &[u8], salt: &[u8], se: u8| {
        Cmd::new(cc::START_AUTH_SESSION)
            .handle(rh::NULL)
            .handle(rh::NULL)
            .tpm2b(nonce)
            .tpm2b(salt)
            .u8(se)
            .bytes(SYM_NULL)
            .u16(alg::SHA256)
    };
    base(&[1; 15], &[], 0).run(&mut t, 0).expect_rc(RC_SIZE_P1);
    base(&[1; 33], &[], 0).run(&mut t, 0).expect_rc(RC_SIZE_P1);
    base(&[1; 16], &[5; 8], 0)
        .run(&mut t, 0)
        .expect_rc(RC_VALUE_P2);
    base(&[1; 16], &[], 2).run(&mut t, 0).expect_rc(0x3c4);
    // Three sessions fit; the fourth finds no memory.
    for _ in 0..3 {
        base(&[1; 16], &[], 0).run(&mut t, 0).expect_ok();
    }
    base(&[1; 16], &[], 0).run(&mut t, 0).expect_rc(0x903);
}

#[test]
fn flush_context_removes_sessions() {
    let mut t = started();
    let mut s = start(&mut t, rh::NULL, &[], SYM_NULL, &[7; 16]);
    Cmd::new(cc::FLUSH_CONTEXT)
        .u32(s.handle)
        .run(&mut t, 0)
        .expect_ok();
    Cmd::new(cc::FLUSH_CONTEXT)
        .u32(s.handle)
        .run(&mut t, 0)
        .expect_rc(RC_HANDLE_P1);
    extend_with_session(&mut t, &mut s, &[], 1, false).expect_rc(RC_REFERENCE_S0);
    // FlushContext takes no sessions.
    Cmd::new(cc::FLUSH_CONTEXT)
        .pw(&[])
        .u32(s.handle)
        .run(&mut t, 0)
        .expect_rc(RC_AUTH_CONTEXT);
}

#[test]
fn xor_session_encrypts_get_random_response() {
    let mut t = started();
    let s = start(&mut t, 16, &[], SYM_XOR_SHA256, &[5; 16]);
    let nonce_caller = [0x22u8; 16];
    let attrs = 1 | ENCRYPT;
    let params = 16u16.to_be_bytes();
    let cp = cp_hash(cc::GET_RANDOM, &[], &params);
    let hmac = hmac256(&s.key, &[&cp, &nonce_caller, &s.nonce_tpm, &[attrs]]);
    let r = Cmd::new(cc::GET_RANDOM)
        .session(s.handle, &nonce_caller, attrs, &hmac)
        .bytes(&params)
        .run(&mut t, 0);
    r.expect_ok();
    let mut rd = Rd::new(&r.body);
    let psize = rd.u32() as usize;
    let enc_params = rd.bytes(psize).to_vec();
    let nonce_tpm = rd.tpm2b();
    assert_eq!(rd.u8(), attrs);
    let rhmac = rd.tpm2b();
    rd.end();
    // Response HMAC covers the encrypted parameters.
    let rp = hash(
        alg::SHA256,
        &[
            &0u32.to_be_bytes(),
            &cc::GET_RANDOM.to_be_bytes(),
            &enc_params,
        ],
    );
    assert_eq!(
        rhmac,
        hmac256(&s.key, &[&rp, &nonce_tpm, &nonce_caller, &[attrs]])
    );
    // XOR mask = KDFa(key, "XOR", nonceTPM, nonceCaller, bits).
    let data = &enc_params[2..];
    assert_eq!(data.len(), 16);
    let mask = kdfa256(&s.key, b"XOR", &nonce_tpm, &nonce_caller, 128);
    let plain: Vec<u8> = data.iter().zip(&mask).map(|(a, b)| a ^ b).collect();
    assert_ne!(plain, data, "the parameter travelled encrypted");
}

#[test]
fn xor_session_decrypts_pcr_event_data() {
    let mut t = started();
    let s = start(&mut t, 16, &[], SYM_XOR_SHA256, &[5; 16]);
    let nonce_caller = [0x33u8; 16];
    let attrs = 1 | DECRYPT;
    let event = b"secret event data";
    let mask = kdfa256(
        &s.key,
        b"XOR",
        &nonce_caller,
        &s.nonce_tpm,
        (event.len() * 8) as u32,
    );
    let enc: Vec<u8> = event.iter().zip(&mask).map(|(a, b)| a ^ b).collect();
    let mut params = (enc.len() as u16).to_be_bytes().to_vec();
    params.extend_from_slice(&enc);
    let cp = cp_hash(cc::PCR_EVENT, &[&16u32.to_be_bytes()], &params);
    let hmac = hmac256(&s.key, &[&cp, &nonce_caller, &s.nonce_tpm, &[attrs]]);
    Cmd::new(cc::PCR_EVENT)
        .handle(16)
        .session(s.handle, &nonce_caller, attrs, &hmac)
        .bytes(&params)
        .run(&mut t, 0)
        .expect_ok();
    let want = hash(alg::SHA256, &[&[0; 32], &hash(alg::SHA256, &[event])]);
    assert_eq!(
        pcr_value(&mut t, alg::SHA256, 16),
        want,
        "the TPM saw the plaintext"
    );
}

#[test]
fn encrypt_on_a_session_with_null_symmetric_is_refused() {
    let mut t = started();
    let s = start(&mut t, rh::NULL, &[], SYM_NULL, &[5; 16]);
    Cmd::new(cc::GET_RANDOM)
        .session(s.handle, &[1; 16], 1 | ENCRYPT, &[])
        .u16(8)
        .run(&mut t, 0)
        .expect_rc(0x996);
    // A session that authorizes nothing must audit, encrypt or decrypt.
    Cmd::new(cc::GET_RANDOM)
        .session(s.handle, &[1; 16], 1, &[])
        .u16(8)
        .run(&mut t, 0)
        .expect_rc(RC_ATTRIBUTES_S1);
}

#[test]
fn audit_session_digest_chains_cp_and_rp_hashes() {
    let mut t = started();
    let mut s = start(&mut t, rh::NULL, &[], SYM_NULL, &[5; 16]);
    let nonce_caller = [0x44u8; 16];
    let attrs = 1 | AUDIT;
    let params = 8u16.to_be_bytes();
    let cp = cp_hash(cc::GET_RANDOM, &[], &params);
    let hmac = hmac256(&s.key, &[&cp, &nonce_caller, &s.nonce_tpm, &[attrs]]);
    let r = Cmd::new(cc::GET_RANDOM)
        .session(s.handle, &nonce_caller, attrs, &hmac)
        .bytes(&params)
        .run(&mut t, 0);
    r.expect_ok();
    let mut rd = Rd::new(&r.body);
    let psize = rd.u32() as usize;
    let _ = rd.bytes(psize);
    s.nonce_tpm = rd.tpm2b();
    // First use makes the session the exclusive audit session.
    assert_eq!(rd.u8(), attrs | 0x02, "auditExclusive reported");
}

#[test]
fn sessions_are_lost_at_power_cycle() {
    let mut t = started();
    let mut s = start(&mut t, rh::NULL, &[], SYM_NULL, &[7; 16]);
    t.power_on();
    startup_clear(&mut t);
    extend_with_session(&mut t, &mut s, &[], 1, false).expect_rc(RC_REFERENCE_S0);
}

#[test]
fn aes_cfb_session_decrypts_pcr_event_data() {
    use aes::cipher::{AsyncStreamCipher, KeyIvInit};
    let mut t = started();
    // TPMT_SYM_DEF: AES, 128 bits, CFB.
    let sym = [0x00, 0x06, 0x00, 0x80, 0x00, 0x43];
    let s = start(&mut t, 16, &[], &sym, &[5; 16]);
    let nonce_caller = [0x55u8; 16];
    let attrs = 1 | DECRYPT;
    let event = b"an event encrypted with AES-128-CFB, longer than a block";
    // Key and IV: KDFa(key, "CFB", nonceCaller, nonceTPM, 128 + 128).
    let kiv = kdfa256(&s.key, b"CFB", &nonce_caller, &s.nonce_tpm, 256);
    let mut enc = event.to_vec();
    cfb_mode::Encryptor::<aes::Aes128>::new_from_slices(&kiv[..16], &kiv[16..])
        .unwrap()
        .encrypt(&mut enc);
    let mut params = (enc.len() as u16).to_be_bytes().to_vec();
    params.extend_from_slice(&enc);
    let cp = cp_hash(cc::PCR_EVENT, &[&16u32.to_be_bytes()], &params);
    let hmac = hmac256(&s.key, &[&cp, &nonce_caller, &s.nonce_tpm, &[attrs]]);
    Cmd::new(cc::PCR_EVENT)
        .handle(16)
        .session(s.handle, &nonce_caller, attrs, &hmac)
        .bytes(&params)
        .run(&mut t, 0)
        .expect_ok();
    let want = hash(alg::SHA256, &[&[0; 32], &hash(alg::SHA256, &[event])]);
    assert_eq!(pcr_value(&mut t, alg::SHA256, 16), want);
}
