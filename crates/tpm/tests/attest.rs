//! Attestation at the engine level (Part 3 §18, §21.2, §31.16): TPM2_Quote,
//! TPM2_Certify, TPM2_CertifyCreation, TPM2_GetTime, TPM2_NV_Certify,
//! TPM2_GetSessionAuditDigest, TPM2_GetCommandAuditDigest and
//! TPM2_SetCommandCodeAuditStatus, with the command-audit log.
//!
//! Commands are built byte by byte; expected values (Qualified Names, PCR
//! digests, audit digests) are recomputed here with the RustCrypto hashes,
//! and ECDSA signatures are checked with the `p256` crate. The TPMS_ATTEST
//! bytes are parsed with the crate's `types::Attest` after their magic and
//! type octets are checked by hand.

mod common;

use common::*;
use p256::ecdsa::signature::hazmat::PrehashVerifier;
use tpm::constants::{cap, pt, st, TPM_GENERATED_VALUE};
use tpm::types::{Attest, Attested};
use tpm::wire::Codec;
use tpm::{Rc, Tpm};

// TPMA_OBJECT bits (Part 2 §8.3).
const FIXED_TPM: u32 = 1 << 1;
const FIXED_PARENT: u32 = 1 << 4;
const SDO: u32 = 1 << 5;
const USER_WITH_AUTH: u32 = 1 << 6;
const NO_DA: u32 = 1 << 10;
const RESTRICTED: u32 = 1 << 16;
const DECRYPT: u32 = 1 << 17;
const SIGN: u32 = 1 << 18;
const KEY_BASE: u32 = FIXED_TPM | FIXED_PARENT | SDO | USER_WITH_AUTH | NO_DA;

// TPMA_NV bits (Part 2 §13.4).
const NV_AUTHWRITE: u32 = 1 << 2;
const NV_AUTHREAD: u32 = 1 << 18;
const NV_NO_DA: u32 = 1 << 25;

// TPMA_SESSION bits.
const AUDIT: u8 = 0x80;
const AUDIT_EXCLUSIVE: u8 = 0x02;

fn u16s(v: &[u16]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_be_bytes()).collect()
}

fn b2(b: &[u8]) -> Vec<u8> {
    let mut v = (b.len() as u16).to_be_bytes().to_vec();
    v.extend_from_slice(b);
    v
}

/// A P-256 TPMT_PUBLIC: symmetric `sym` ([NULL] or alg, bits, mode),
/// scheme `scheme` ([NULL] or alg, hash), KDF NULL, empty unique.
fn ecc_template(attrs: u32, sym: &[u16], scheme: &[u16]) -> Vec<u8> {
    let mut v = u16s(&[alg::ECC, alg::SHA256]);
    v.extend(attrs.to_be_bytes());
    v.extend(b2(&[]));
    v.extend(u16s(sym));
    v.extend(u16s(scheme));
    v.extend(u16s(&[0x0003, alg::NULL, 0, 0]));
    v
}

/// An unrestricted ECDSA-SHA256 signing key.
fn signer_template() -> Vec<u8> {
    ecc_template(KEY_BASE | SIGN, &[alg::NULL], &[alg::ECDSA, alg::SHA256])
}

/// A signing key without a scheme of its own.
fn schemeless_signer_template() -> Vec<u8> {
    ecc_template(KEY_BASE | SIGN, &[alg::NULL], &[alg::NULL])
}

/// A restricted decryption (storage) key: cannot sign.
fn storage_template() -> Vec<u8> {
    ecc_template(
        KEY_BASE | RESTRICTED | DECRYPT,
        &[alg::AES, 128, alg::CFB],
        &[alg::NULL],
    )
}

/// What TPM2_CreatePrimary returned.
struct Primary {
    handle: u32,
    public: Vec<u8>,
    name: Vec<u8>,
    creation_hash: Vec<u8>,
    /// The marshalled TPMT_TK_CREATION.
    ticket: Vec<u8>,
}

fn create_primary(tpm: &mut Tpm, hierarchy: u32, template: &[u8]) -> Primary {
    let r = Cmd::new(cc::CREATE_PRIMARY)
        .handle(hierarchy)
        .pw(b"")
        .tpm2b(&[0, 0, 0, 0])
        .tpm2b(template)
        .tpm2b(&[])
        .u32(0)
        .run(tpm, 0);
    r.expect_ok();
    let handle = u32::from_be_bytes(r.body[0..4].try_into().unwrap());
    let mut p = r.params(true);
    let public = p.tpm2b();
    let _creation_data = p.tpm2b();
    let creation_hash = p.tpm2b();
    let tag = p.u16();
    let h = p.u32();
    let digest = p.tpm2b();
    let name = p.tpm2b();
    p.end();
    let mut ticket = tag.to_be_bytes().to_vec();
    ticket.extend(h.to_be_bytes());
    ticket.extend(b2(&digest));
    Primary {
        handle,
        public,
        name,
        creation_hash,
        ticket,
    }
}

/// The Qualified Name of a primary key (Part 1 §16.3): nameAlg ||
/// H(hierarchy handle || Name).
fn primary_qn(hierarchy: u32, name: &[u8]) -> Vec<u8> {
    let mut qn = alg::SHA256.to_be_bytes().to_vec();
    qn.extend(hash(alg::SHA256, &[&hierarchy.to_be_bytes(), name]));
    qn
}

/// The P-256 verifying key of an ECC TPMT_PUBLIC with empty policy.
fn verifying_key(public: &[u8]) -> p256::ecdsa::VerifyingKey {
    // type, nameAlg, attributes, policy (empty), sym NULL or 3 u16, ...
    let mut r = Rd::new(public);
    assert_eq!(r.u16(), alg::ECC);
    r.u16();
    r.u32();
    assert!(r.tpm2b().is_empty());
    if r.u16() != alg::NULL {
        r.u16();
        r.u16();
    }
    if r.u16() != alg::NULL {
        r.u16();
    }
    r.u16(); // curve
    r.u16(); // kdf NULL
    let x = r.tpm2b();
    let y = r.tpm2b();
    let mut sec1 = vec![4u8];
    sec1.extend(x);
    sec1.extend(y);
    p256::ecdsa::VerifyingKey::from_sec1_bytes(&sec1).unwrap()
}

/// TPMT_SIGNATURE of ECDSA: (hash, r, s).
fn ecdsa_signature(sig: &[u8]) -> (u16, Vec<u8>, Vec<u8>) {
    let mut r = Rd::new(sig);
    assert_eq!(r.u16(), alg::ECDSA, "sigAlg");
    let h = r.u16();
    let rr = r.tpm2b();
    let ss = r.tpm2b();
    r.end();
    (h, rr, ss)
}

fn verify_ecdsa(public: &[u8], attest: &[u8], sig: &[u8]) {
    let (h, r, s) = ecdsa_signature(sig);
    assert_eq!(h, alg::SHA256);
    let mut rs = [0u8; 64];
    rs[32 - r.len()..32].copy_from_slice(&r);
    rs[64 - s.len()..].copy_from_slice(&s);
    let sig = p256::ecdsa::Signature::from_slice(&rs).unwrap();
    let digest = hash(alg::SHA256, &[attest]);
    verifying_key(public)
        .verify_prehash(&digest, &sig)
        .expect("ECDSA signature over the attestation verifies");
}

/// The response parameters (TPM2B_ATTEST, TPMT_SIGNATURE) of a password
/// session command.
fn split(r: &Resp, attest_type: u16) -> (Vec<u8>, Attest, Vec<u8>) {
    r.expect_ok();
    let body = &r.body;
    let n = u32::from_be_bytes(body[0..4].try_into().unwrap()) as usize;
    let params = &body[4..4 + n];
    let alen = u16::from_be_bytes([params[0], params[1]]) as usize;
    let attest = params[2..2 + alen].to_vec();
    let sig = params[2 + alen..].to_vec();
    assert_eq!(
        u32::from_be_bytes(attest[0..4].try_into().unwrap()),
        TPM_GENERATED_VALUE,
        "magic"
    );
    assert_eq!(
        u16::from_be_bytes([attest[4], attest[5]]),
        attest_type,
        "type"
    );
    let parsed = Attest::from_bytes(&attest).expect("TPMS_ATTEST parses");
    (attest, parsed, sig)
}

fn started() -> (Tpm, TestClock) {
    let (mut tpm, clock) = engine(&[HashAlg::Sha256]);
    startup_clear(&mut tpm);
    (tpm, clock)
}

/// TPM2_Quote with a password session for `key`.
fn quote(tpm: &mut Tpm, key: u32, nonce: &[u8], scheme: &[u16], pcrs: &[(u16, &[u32])]) -> Resp {
    Cmd::new(cc::QUOTE)
        .handle(key)
        .pw(b"")
        .tpm2b(nonce)
        .bytes(&u16s(scheme))
        .bytes(&pcr_selection(pcrs))
        .run(tpm, 0)
}

/// TPM_PT_FIRMWARE_VERSION_1 and _2 as one UINT64.
fn firmware_version(tpm: &mut Tpm) -> u64 {
    let r = Cmd::new(cc::GET_CAPABILITY)
        .u32(cap::TPM_PROPERTIES)
        .u32(pt::FIRMWARE_VERSION_1)
        .u32(2)
        .run(tpm, 0);
    let mut p = r.params(false);
    p.u8();
    assert_eq!(p.u32(), cap::TPM_PROPERTIES);
    assert_eq!(p.u32(), 2);
    assert_eq!(p.u32(), pt::FIRMWARE_VERSION_1);
    let v1 = p.u32();
    assert_eq!(p.u32(), pt::FIRMWARE_VERSION_1 + 1);
    let v2 = p.u32();
    (u64::from(v1) << 32) | u64::from(v2)
}

/// One TPM property.
fn property(tpm: &mut Tpm, prop: u32) -> u32 {
    let r = Cmd::new(cc::GET_CAPABILITY)
        .u32(cap::TPM_PROPERTIES)
        .u32(prop)
        .u32(1)
        .run(tpm, 0);
    let mut p = r.params(false);
    p.u8();
    p.u32();
    assert_eq!(p.u32(), 1);
    assert_eq!(p.u32(), prop);
    p.u32()
}

fn rc(v: Rc) -> u32 {
    v.0
}

#[test]
fn quote_signs_the_selected_pcrs() {
    let (mut tpm, _) = started();
    pcr_extend(&mut tpm, 0, 16, &[(alg::SHA256, &[0xAB; 32])]).expect_ok();
    let key = create_primary(&mut tpm, rh::ENDORSEMENT, &signer_template());
    let nonce = b"fresh nonce";
    // The SHA-1 bank is not allocated: its selection is quoted empty.
    let r = quote(
        &mut tpm,
        key.handle,
        nonce,
        &[alg::NULL],
        &[(alg::SHA256, &[0, 16]), (alg::SHA1, &[1])],
    );
    let (bytes, a, sig) = split(&r, st::ATTEST_QUOTE);
    assert_eq!(
        a.qualified_signer.as_bytes(),
        primary_qn(rh::ENDORSEMENT, &key.name)
    );
    assert_eq!(a.extra_data.as_slice(), nonce);
    let clock = read_clock(&mut tpm);
    // An endorsement key shows the counts and firmware in the clear.
    assert_eq!(a.clock_info.reset_count, clock.reset_count);
    assert_eq!(a.clock_info.restart_count, clock.restart_count);
    assert!(a.clock_info.safe);
    assert!(a.clock_info.clock <= clock.clock);
    assert_eq!(a.firmware_version, firmware_version(&mut tpm));
    let Attested::Quote(q) = &a.attested else {
        panic!("quote info")
    };
    let sel: Vec<(u16, [u8; 3])> = q
        .pcr_select
        .0
        .iter()
        .map(|s| (s.hash.id(), s.select))
        .collect();
    assert_eq!(
        sel,
        vec![(alg::SHA256, pcr_bits(&[0, 16])), (alg::SHA1, [0, 0, 0])]
    );
    let p0 = pcr_value(&mut tpm, alg::SHA256, 0);
    let p16 = pcr_value(&mut tpm, alg::SHA256, 16);
    assert_eq!(q.pcr_digest.as_slice(), hash(alg::SHA256, &[&p0, &p16]));
    verify_ecdsa(&key.public, &bytes, &sig);

    // The digest follows the PCRs.
    pcr_extend(&mut tpm, 0, 16, &[(alg::SHA256, &[0xCD; 32])]).expect_ok();
    let r = quote(
        &mut tpm,
        key.handle,
        b"",
        &[alg::ECDSA, alg::SHA256],
        &[(alg::SHA256, &[16])],
    );
    let (bytes, a, sig) = split(&r, st::ATTEST_QUOTE);
    let Attested::Quote(q) = &a.attested else {
        panic!()
    };
    let p16 = pcr_value(&mut tpm, alg::SHA256, 16);
    assert_eq!(q.pcr_digest.as_slice(), hash(alg::SHA256, &[&p16]));
    assert!(a.extra_data.is_empty());
    verify_ecdsa(&key.public, &bytes, &sig);
}

#[test]
fn quote_error_codes() {
    let (mut tpm, _) = started();
    let signer = create_primary(&mut tpm, rh::OWNER, &signer_template());
    let storage = create_primary(&mut tpm, rh::OWNER, &storage_template());
    let all = [(alg::SHA256, &[0u32][..])];
    // A key that cannot sign: TPM_RC_KEY on the handle.
    quote(&mut tpm, storage.handle, b"", &[alg::NULL], &all).expect_rc(rc(Rc::KEY.handle(1)));
    // A scheme other than the key's: TPM_RC_SCHEME on inScheme.
    quote(
        &mut tpm,
        signer.handle,
        b"",
        &[alg::ECDSA, alg::SHA384],
        &all,
    )
    .expect_rc(rc(Rc::SCHEME.param(2)));
    // No signing key: no hash to digest the PCRs with.
    quote(&mut tpm, rh::NULL, b"", &[alg::ECDSA, alg::SHA256], &all)
        .expect_rc(rc(Rc::SCHEME.param(2)));
    // A schemeless key needs the caller's scheme.
    tpm.execute(0, &Cmd::new(cc::FLUSH_CONTEXT).u32(storage.handle).build());
    let bare = create_primary(&mut tpm, rh::OWNER, &schemeless_signer_template());
    quote(&mut tpm, bare.handle, b"", &[alg::NULL], &all).expect_rc(rc(Rc::SCHEME.param(2)));
    let r = quote(&mut tpm, bare.handle, b"", &[alg::ECDSA, alg::SHA256], &all);
    let (bytes, _, sig) = split(&r, st::ATTEST_QUOTE);
    verify_ecdsa(&bare.public, &bytes, &sig);
    // qualifyingData larger than a TPMT_HA: TPM_RC_SIZE on parameter 1.
    quote(&mut tpm, signer.handle, &[0; 67], &[alg::NULL], &all).expect_rc(rc(Rc::SIZE.param(1)));
    // Trailing octets: TPM_RC_SIZE.
    Cmd::new(cc::QUOTE)
        .handle(signer.handle)
        .pw(b"")
        .tpm2b(b"")
        .bytes(&u16s(&[alg::NULL]))
        .bytes(&pcr_selection(&all))
        .u8(0)
        .run(&mut tpm, 0)
        .expect_rc(rc(Rc::SIZE));
}

/// Keys outside the endorsement and platform hierarchies hide resetCount,
/// restartCount and firmwareVersion behind a per-key mask; Clock and the
/// attested data stay in the clear, and the mask is the same every time,
/// so a Restart still moves restartCount by exactly one.
#[test]
fn owner_keys_obfuscate_counts_and_firmware() {
    let (mut tpm, clock) = started();
    let key = create_primary(&mut tpm, rh::OWNER, &signer_template());
    let all = [(alg::SHA256, &[0u32][..])];
    let (_, a1, _) = split(
        &quote(&mut tpm, key.handle, b"", &[alg::NULL], &all),
        st::ATTEST_QUOTE,
    );
    let (_, a2, _) = split(
        &quote(&mut tpm, key.handle, b"", &[alg::NULL], &all),
        st::ATTEST_QUOTE,
    );
    let plain = read_clock(&mut tpm);
    let fw = firmware_version(&mut tpm);
    assert_eq!(
        a1.qualified_signer.as_bytes(),
        primary_qn(rh::OWNER, &key.name)
    );
    assert_ne!(
        (
            a1.clock_info.reset_count,
            a1.clock_info.restart_count,
            a1.firmware_version
        ),
        (plain.reset_count, plain.restart_count, fw),
        "owner-hierarchy attestation shows the counts in the clear"
    );
    assert_eq!(
        (
            a1.clock_info.reset_count,
            a1.clock_info.restart_count,
            a1.firmware_version
        ),
        (
            a2.clock_info.reset_count,
            a2.clock_info.restart_count,
            a2.firmware_version
        )
    );
    // The unsigned form (TPM_RH_NULL) is masked too, differently.
    let r = Cmd::new(cc::GET_TIME)
        .handle(rh::ENDORSEMENT)
        .handle(rh::NULL)
        .pw(b"")
        .pw(b"")
        .tpm2b(b"")
        .u16(alg::NULL)
        .run(&mut tpm, 0);
    let (_, t, sig) = split(&r, st::ATTEST_TIME);
    assert_eq!(sig, alg::NULL.to_be_bytes(), "TPM_RH_NULL signs nothing");
    assert_eq!(t.qualified_signer.as_bytes(), rh::NULL.to_be_bytes());
    assert_ne!(t.clock_info.reset_count, a1.clock_info.reset_count);

    // TPM Restart: the key is re-created from the same seed, same mask.
    shutdown(&mut tpm, su::STATE).expect_ok();
    let mut tpm = reload(&tpm, &clock);
    startup_clear(&mut tpm);
    let key = create_primary(&mut tpm, rh::OWNER, &signer_template());
    let (_, a3, _) = split(
        &quote(&mut tpm, key.handle, b"", &[alg::NULL], &all),
        st::ATTEST_QUOTE,
    );
    assert_eq!(read_clock(&mut tpm).restart_count, plain.restart_count + 1);
    assert_eq!(
        a3.clock_info.restart_count,
        a1.clock_info.restart_count.wrapping_add(1)
    );
    assert_eq!(a3.clock_info.reset_count, a1.clock_info.reset_count);
    assert_eq!(a3.firmware_version, a1.firmware_version);
}

#[test]
fn get_time_attests_clock_in_the_clear() {
    let (mut tpm, clock) = started();
    clock.advance(5_000);
    let key = create_primary(&mut tpm, rh::OWNER, &signer_template());
    let r = Cmd::new(cc::GET_TIME)
        .handle(rh::ENDORSEMENT)
        .handle(key.handle)
        .pw(b"")
        .pw(b"")
        .tpm2b(b"time nonce")
        .u16(alg::NULL)
        .run(&mut tpm, 0);
    let (bytes, a, sig) = split(&r, st::ATTEST_TIME);
    verify_ecdsa(&key.public, &bytes, &sig);
    let now = read_clock(&mut tpm);
    let Attested::Time(t) = &a.attested else {
        panic!()
    };
    assert_eq!(t.time.time, now.time);
    assert_eq!(t.time.clock_info.clock, now.clock);
    assert_eq!(t.time.clock_info.reset_count, now.reset_count);
    assert_eq!(t.time.clock_info.restart_count, now.restart_count);
    assert_eq!(t.firmware_version, firmware_version(&mut tpm));
    assert_eq!(a.clock_info.clock, now.clock);
    // Wrong endorsement password.
    Cmd::new(cc::GET_TIME)
        .handle(rh::ENDORSEMENT)
        .handle(key.handle)
        .pw(b"wrong")
        .pw(b"")
        .tpm2b(b"")
        .u16(alg::NULL)
        .run(&mut tpm, 0)
        .expect_rc(0x9A2);
    // privacyAdminHandle must be the endorsement hierarchy.
    Cmd::new(cc::GET_TIME)
        .handle(rh::OWNER)
        .handle(key.handle)
        .pw(b"")
        .pw(b"")
        .tpm2b(b"")
        .u16(alg::NULL)
        .run(&mut tpm, 0)
        .expect_rc(rc(Rc::VALUE.handle(1)));
}

#[test]
fn certify_and_certify_creation() {
    let (mut tpm, _) = started();
    let signer = create_primary(&mut tpm, rh::ENDORSEMENT, &signer_template());
    let object = create_primary(&mut tpm, rh::OWNER, &storage_template());

    let r = Cmd::new(cc::CERTIFY)
        .handle(object.handle)
        .handle(signer.handle)
        .pw(b"")
        .pw(b"")
        .tpm2b(b"certify")
        .u16(alg::NULL)
        .run(&mut tpm, 0);
    let (bytes, a, sig) = split(&r, st::ATTEST_CERTIFY);
    verify_ecdsa(&signer.public, &bytes, &sig);
    let Attested::Certify(c) = &a.attested else {
        panic!()
    };
    assert_eq!(c.name.as_bytes(), object.name);
    assert_eq!(
        c.qualified_name.as_bytes(),
        primary_qn(rh::OWNER, &object.name)
    );
    assert_eq!(a.extra_data.as_slice(), b"certify");
    // The certifying key must sign.
    Cmd::new(cc::CERTIFY)
        .handle(signer.handle)
        .handle(object.handle)
        .pw(b"")
        .pw(b"")
        .tpm2b(b"")
        .u16(alg::NULL)
        .run(&mut tpm, 0)
        .expect_rc(rc(Rc::KEY.handle(2)));

    let certify_creation = |tpm: &mut Tpm, hash: &[u8], ticket: &[u8]| {
        Cmd::new(cc::CERTIFY_CREATION)
            .handle(signer.handle)
            .handle(object.handle)
            .pw(b"")
            .tpm2b(b"cc")
            .tpm2b(hash)
            .u16(alg::NULL)
            .bytes(ticket)
            .run(tpm, 0)
    };
    let r = certify_creation(&mut tpm, &object.creation_hash, &object.ticket);
    let (bytes, a, sig) = split(&r, st::ATTEST_CREATION);
    verify_ecdsa(&signer.public, &bytes, &sig);
    let Attested::Creation(c) = &a.attested else {
        panic!()
    };
    assert_eq!(c.object_name.as_bytes(), object.name);
    assert_eq!(c.creation_hash.as_slice(), object.creation_hash);
    // Another creation hash, or a ticket for another object, is refused.
    let mut other = object.creation_hash.clone();
    other[0] ^= 1;
    certify_creation(&mut tpm, &other, &object.ticket).expect_rc(rc(Rc::TICKET.param(4)));
    certify_creation(&mut tpm, &signer.creation_hash, &signer.ticket)
        .expect_rc(rc(Rc::TICKET.param(4)));
    // A ticket of another type: TPM_RC_TAG on parameter 4.
    let mut wrong_tag = object.ticket.clone();
    wrong_tag[1] = 0x22; // TPM_ST_VERIFIED
    certify_creation(&mut tpm, &object.creation_hash, &wrong_tag).expect_rc(rc(Rc::TAG.param(4)));
}

fn define_index(tpm: &mut Tpm, index: u32, size: u16) {
    let mut public = index.to_be_bytes().to_vec();
    public.extend(alg::SHA256.to_be_bytes());
    public.extend((NV_AUTHREAD | NV_AUTHWRITE | NV_NO_DA).to_be_bytes());
    public.extend(b2(&[]));
    public.extend(size.to_be_bytes());
    Cmd::new(cc::NV_DEFINE_SPACE)
        .handle(rh::OWNER)
        .pw(b"")
        .tpm2b(b"")
        .tpm2b(&public)
        .run(tpm, 0)
        .expect_ok();
}

fn nv_certify(tpm: &mut Tpm, key: u32, index: u32, size: u16, offset: u16) -> Resp {
    Cmd::new(cc::NV_CERTIFY)
        .handle(key)
        .handle(index)
        .handle(index)
        .pw(b"")
        .pw(b"")
        .tpm2b(b"nv")
        .u16(alg::NULL)
        .u16(size)
        .u16(offset)
        .run(tpm, 0)
}

fn nv_name(tpm: &mut Tpm, index: u32) -> Vec<u8> {
    let r = Cmd::new(cc::NV_READ_PUBLIC).handle(index).run(tpm, 0);
    let mut p = r.params(false);
    p.tpm2b();
    p.tpm2b()
}

#[test]
fn nv_certify_contents_and_digest() {
    let (mut tpm, _) = started();
    let key = create_primary(&mut tpm, rh::ENDORSEMENT, &signer_template());
    let index = 0x0150_0001;
    define_index(&mut tpm, index, 16);
    // Unwritten: TPM_RC_NV_UNINITIALIZED.
    nv_certify(&mut tpm, key.handle, index, 4, 0).expect_rc(0x14A);
    let data: Vec<u8> = (1..=16).collect();
    Cmd::new(cc::NV_WRITE)
        .handle(index)
        .handle(index)
        .pw(b"")
        .tpm2b(&data)
        .u16(0)
        .run(&mut tpm, 0)
        .expect_ok();
    let name = nv_name(&mut tpm, index);

    let (bytes, a, sig) = split(
        &nv_certify(&mut tpm, key.handle, index, 5, 3),
        st::ATTEST_NV,
    );
    verify_ecdsa(&key.public, &bytes, &sig);
    let Attested::Nv(n) = &a.attested else {
        panic!()
    };
    assert_eq!(n.index_name.as_bytes(), name);
    assert_eq!(n.offset, 3);
    assert_eq!(n.nv_contents.as_slice(), &data[3..8]);

    // size and offset 0: a digest of the whole index with the scheme hash.
    let (bytes, a, sig) = split(
        &nv_certify(&mut tpm, key.handle, index, 0, 0),
        st::ATTEST_NV_DIGEST,
    );
    verify_ecdsa(&key.public, &bytes, &sig);
    let Attested::NvDigest(d) = &a.attested else {
        panic!()
    };
    assert_eq!(d.index_name.as_bytes(), name);
    assert_eq!(d.nv_digest.as_slice(), hash(alg::SHA256, &[&data]));
    // Unsigned: no hash, so an empty digest.
    let (_, a, sig) = split(
        &nv_certify(&mut tpm, rh::NULL, index, 0, 0),
        st::ATTEST_NV_DIGEST,
    );
    assert_eq!(sig, alg::NULL.to_be_bytes());
    let Attested::NvDigest(d) = &a.attested else {
        panic!()
    };
    assert!(d.nv_digest.is_empty());
    // Out of range.
    nv_certify(&mut tpm, key.handle, index, 8, 9).expect_rc(0x146);
}

// ---------------------------------------------------------------------------
// Command audit.

fn set_audit(tpm: &mut Tpm, alg_id: u16, set: &[u32], clear: &[u32]) -> Resp {
    let mut c = Cmd::new(cc::SET_COMMAND_CODE_AUDIT_STATUS)
        .handle(rh::OWNER)
        .pw(b"")
        .u16(alg_id)
        .u32(set.len() as u32);
    for x in set {
        c = c.u32(*x);
    }
    c = c.u32(clear.len() as u32);
    for x in clear {
        c = c.u32(*x);
    }
    c.run(tpm, 0)
}

/// The parameter area of a SetCommandCodeAuditStatus command, for cpHash.
fn set_audit_params(alg_id: u16, set: &[u32], clear: &[u32]) -> Vec<u8> {
    let mut v = alg_id.to_be_bytes().to_vec();
    v.extend((set.len() as u32).to_be_bytes());
    for x in set {
        v.extend(x.to_be_bytes());
    }
    v.extend((clear.len() as u32).to_be_bytes());
    for x in clear {
        v.extend(x.to_be_bytes());
    }
    v
}

fn audited(tpm: &mut Tpm) -> Vec<u32> {
    let r = Cmd::new(cc::GET_CAPABILITY)
        .u32(cap::AUDIT_COMMANDS)
        .u32(0)
        .u32(100)
        .run(tpm, 0);
    let mut p = r.params(false);
    assert_eq!(p.u8(), 0, "moreData");
    assert_eq!(p.u32(), cap::AUDIT_COMMANDS);
    let n = p.u32();
    let v = (0..n).map(|_| p.u32()).collect();
    p.end();
    v
}

/// GetCommandAuditDigest, unsigned unless `key` is given.
fn command_audit_digest(tpm: &mut Tpm, key: u32) -> (Attest, Vec<u8>) {
    let r = Cmd::new(cc::GET_COMMAND_AUDIT_DIGEST)
        .handle(rh::ENDORSEMENT)
        .handle(key)
        .pw(b"")
        .pw(b"")
        .tpm2b(b"")
        .u16(alg::NULL)
        .run(tpm, 0);
    let (_, a, sig) = split(&r, st::ATTEST_COMMAND_AUDIT);
    (a, sig)
}

/// The audit log as an independent computation: H(old || cpHash || rpHash).
struct Log {
    alg: u16,
    digest: Vec<u8>,
}

impl Log {
    fn new(alg: u16) -> Log {
        Log {
            alg,
            digest: vec![0; digest_len(alg)],
        }
    }
    fn extend(&mut self, code: u32, names: &[&[u8]], params: &[u8], response: &[u8]) {
        let mut parts: Vec<&[u8]> = Vec::new();
        let c = code.to_be_bytes();
        parts.push(&c);
        parts.extend_from_slice(names);
        parts.push(params);
        let cp = hash(self.alg, &parts);
        let rp = hash(self.alg, &[&0u32.to_be_bytes(), &c, response]);
        self.digest = hash(self.alg, &[&self.digest, &cp, &rp]);
    }
}

#[test]
fn command_audit_log() {
    let (mut tpm, clock) = started();
    // As manufactured: only SetCommandCodeAuditStatus, counter 0.
    assert_eq!(audited(&mut tpm), vec![cc::SET_COMMAND_CODE_AUDIT_STATUS]);
    assert_eq!(property(&mut tpm, pt::AUDIT_COUNTER_1), 0);
    let (a, _) = command_audit_digest(&mut tpm, rh::NULL);
    let Attested::CommandAudit(c) = &a.attested else {
        panic!()
    };
    assert_eq!((c.audit_counter, c.digest_alg), (0, alg::SHA512));
    assert!(c.audit_digest.is_empty(), "no log yet");

    // Audit PCR_Extend; Shutdown cannot be audited, unknown codes are
    // ignored, SetCommandCodeAuditStatus cannot be cleared.
    let set = [cc::PCR_EXTEND, cc::SHUTDOWN, 0x0000_0FFF];
    let clear = [cc::SET_COMMAND_CODE_AUDIT_STATUS];
    set_audit(&mut tpm, alg::NULL, &set, &clear).expect_ok();
    assert_eq!(
        audited(&mut tpm),
        vec![cc::SET_COMMAND_CODE_AUDIT_STATUS, cc::PCR_EXTEND]
    );
    assert_eq!(property(&mut tpm, pt::AUDIT_COUNTER_1), 1);
    let mut log = Log::new(alg::SHA512);
    log.extend(
        cc::SET_COMMAND_CODE_AUDIT_STATUS,
        &[&rh::OWNER.to_be_bytes()],
        &set_audit_params(alg::NULL, &set, &clear),
        &[],
    );
    let extend = |tpm: &mut Tpm, log: &mut Log, fill: u8| {
        pcr_extend(tpm, 0, 16, &[(alg::SHA256, &[fill; 32])]).expect_ok();
        let mut params = 1u32.to_be_bytes().to_vec();
        params.extend(alg::SHA256.to_be_bytes());
        params.extend([fill; 32]);
        log.extend(cc::PCR_EXTEND, &[&16u32.to_be_bytes()], &params, &[]);
    };
    extend(&mut tpm, &mut log, 1);
    extend(&mut tpm, &mut log, 2);
    // Not audited: PCR_Read, and failed audited commands.
    pcr_read(&mut tpm, &[(alg::SHA256, &[16])]);
    pcr_extend(&mut tpm, 0, 21, &[(alg::SHA256, &[0; 32])]).expect_rc(0x907);

    let (a, _) = command_audit_digest(&mut tpm, rh::NULL);
    let Attested::CommandAudit(c) = &a.attested else {
        panic!()
    };
    assert_eq!(c.audit_counter, 1);
    assert_eq!(c.audit_digest.as_slice(), log.digest);
    let codes: Vec<u8> = [cc::SET_COMMAND_CODE_AUDIT_STATUS, cc::PCR_EXTEND]
        .iter()
        .flat_map(|c| c.to_be_bytes())
        .collect();
    assert_eq!(c.command_digest.as_slice(), hash(alg::SHA512, &[&codes]));

    // The digest survives a Restart (Shutdown(STATE) + Startup(CLEAR)) and
    // a process restart; the counter is persistent.
    shutdown(&mut tpm, su::STATE).expect_ok();
    let mut tpm = reload(&tpm, &clock);
    startup_clear(&mut tpm);
    let (a, _) = command_audit_digest(&mut tpm, rh::NULL);
    let Attested::CommandAudit(c) = &a.attested else {
        panic!()
    };
    assert_eq!(
        (c.audit_counter, c.audit_digest.as_slice()),
        (1, &log.digest[..])
    );

    // A signed GetCommandAuditDigest closes the log; the next audited
    // command opens a new one under the next counter value.
    let key = create_primary(&mut tpm, rh::ENDORSEMENT, &signer_template());
    let (a, sig) = command_audit_digest(&mut tpm, key.handle);
    assert_eq!(ecdsa_signature(&sig).0, alg::SHA256);
    let Attested::CommandAudit(c) = &a.attested else {
        panic!()
    };
    assert_eq!(c.audit_digest.as_slice(), log.digest);
    let (a, _) = command_audit_digest(&mut tpm, rh::NULL);
    let Attested::CommandAudit(c) = &a.attested else {
        panic!()
    };
    assert!(c.audit_digest.is_empty());
    let mut log = Log::new(alg::SHA512);
    extend(&mut tpm, &mut log, 3);
    let (a, _) = command_audit_digest(&mut tpm, rh::NULL);
    let Attested::CommandAudit(c) = &a.attested else {
        panic!()
    };
    assert_eq!(
        (c.audit_counter, c.audit_digest.as_slice()),
        (2, &log.digest[..])
    );
    assert_eq!(property(&mut tpm, pt::AUDIT_COUNTER_1), 2);
    assert_eq!(property(&mut tpm, pt::AUDIT_COUNTER_0), 0);

    // Changing the hash needs empty lists; the change itself is not
    // audited and clears the digest.
    set_audit(&mut tpm, alg::SHA256, &[cc::QUOTE], &[]).expect_rc(rc(Rc::VALUE.param(1)));
    set_audit(&mut tpm, 0x0099, &[], &[]).expect_rc(rc(Rc::HASH.param(1)));
    set_audit(&mut tpm, alg::SHA256, &[], &[]).expect_ok();
    let (a, _) = command_audit_digest(&mut tpm, rh::NULL);
    let Attested::CommandAudit(c) = &a.attested else {
        panic!()
    };
    assert_eq!((c.digest_alg, c.audit_digest.len()), (alg::SHA256, 0));
    let mut log = Log::new(alg::SHA256);
    extend(&mut tpm, &mut log, 4);
    let (a, _) = command_audit_digest(&mut tpm, rh::NULL);
    let Attested::CommandAudit(c) = &a.attested else {
        panic!()
    };
    assert_eq!(
        (c.audit_counter, c.audit_digest.as_slice()),
        (3, &log.digest[..])
    );
    assert_eq!(c.command_digest.as_slice(), hash(alg::SHA256, &[&codes]));

    // A TPM Reset clears the digest but not the counter or the list.
    shutdown(&mut tpm, su::CLEAR).expect_ok();
    let mut tpm = reload(&tpm, &clock);
    startup_clear(&mut tpm);
    let (a, _) = command_audit_digest(&mut tpm, rh::NULL);
    let Attested::CommandAudit(c) = &a.attested else {
        panic!()
    };
    assert_eq!((c.audit_counter, c.audit_digest.len()), (3, 0));
    assert_eq!(
        audited(&mut tpm),
        vec![cc::SET_COMMAND_CODE_AUDIT_STATUS, cc::PCR_EXTEND]
    );
    set_audit(&mut tpm, alg::NULL, &[], &[cc::PCR_EXTEND]).expect_ok();
    assert_eq!(audited(&mut tpm), vec![cc::SET_COMMAND_CODE_AUDIT_STATUS]);
}

/// An audit session: PCR_Read with an unbound, unsalted HMAC session used
/// only for audit (empty HMAC key, so empty HMACs).
fn audited_pcr_read(tpm: &mut Tpm, session: u32, attrs: u8, pcr: u32) -> (Vec<u8>, Vec<u8>) {
    let params = pcr_selection(&[(alg::SHA256, &[pcr])]);
    let r = Cmd::new(cc::PCR_READ)
        .session(session, &[7; 16], attrs, &[])
        .bytes(&params)
        .run(tpm, 0);
    r.expect_ok();
    let n = u32::from_be_bytes(r.body[0..4].try_into().unwrap()) as usize;
    let response = r.body[4..4 + n].to_vec();
    // The response session: nonceTPM, attributes, empty HMAC.
    let mut s = Rd::new(&r.body[4 + n..]);
    assert_eq!(s.tpm2b().len(), 32);
    let returned = s.u8();
    assert_eq!(returned & AUDIT, AUDIT);
    (params, response)
}

fn start_hmac_session(tpm: &mut Tpm) -> u32 {
    let r = Cmd::new(cc::START_AUTH_SESSION)
        .handle(rh::NULL)
        .handle(rh::NULL)
        .tpm2b(&[9; 16])
        .tpm2b(&[])
        .u8(0x00) // TPM_SE_HMAC
        .u16(alg::NULL)
        .u16(alg::SHA256)
        .run(tpm, 0);
    r.expect_ok();
    u32::from_be_bytes(r.body[0..4].try_into().unwrap())
}

fn session_audit_digest(tpm: &mut Tpm, key: u32, session: u32) -> Resp {
    Cmd::new(cc::GET_SESSION_AUDIT_DIGEST)
        .handle(rh::ENDORSEMENT)
        .handle(key)
        .handle(session)
        .pw(b"")
        .pw(b"")
        .tpm2b(b"sa")
        .u16(alg::NULL)
        .run(tpm, 0)
}

#[test]
fn session_audit_attestation() {
    let (mut tpm, _) = started();
    let key = create_primary(&mut tpm, rh::ENDORSEMENT, &signer_template());
    let session = start_hmac_session(&mut tpm);
    // Never used for audit: TPM_RC_TYPE on the session handle.
    session_audit_digest(&mut tpm, key.handle, session).expect_rc(rc(Rc::TYPE.handle(3)));
    // Not an HMAC session handle: TPM_RC_VALUE; an empty slot: reference.
    session_audit_digest(&mut tpm, key.handle, 0x0300_0000).expect_rc(rc(Rc::VALUE.handle(3)));
    session_audit_digest(&mut tpm, key.handle, session + 1).expect_rc(0x912);

    let mut log = Log::new(alg::SHA256);
    for pcr in [0, 16] {
        let (params, response) = audited_pcr_read(&mut tpm, session, AUDIT | CONTINUE_SESSION, pcr);
        log.extend(cc::PCR_READ, &[], &params, &response);
    }
    let (bytes, a, sig) = split(
        &session_audit_digest(&mut tpm, key.handle, session),
        st::ATTEST_SESSION_AUDIT,
    );
    verify_ecdsa(&key.public, &bytes, &sig);
    let Attested::SessionAudit(s) = &a.attested else {
        panic!()
    };
    assert!(s.exclusive_session, "no other command ran in between");
    assert_eq!(s.session_digest.as_slice(), log.digest);
    // That command ran without the audit session: exclusivity is over.
    let (_, a, _) = split(
        &session_audit_digest(&mut tpm, rh::NULL, session),
        st::ATTEST_SESSION_AUDIT,
    );
    let Attested::SessionAudit(s) = &a.attested else {
        panic!()
    };
    assert!(!s.exclusive_session);
    assert_eq!(s.session_digest.as_slice(), log.digest);
    // auditExclusive now fails; auditReset restarts the digest (and
    // exclusivity).
    Cmd::new(cc::PCR_READ)
        .session(
            session,
            &[7; 16],
            AUDIT | AUDIT_EXCLUSIVE | CONTINUE_SESSION,
            &[],
        )
        .bytes(&pcr_selection(&[(alg::SHA256, &[0])]))
        .run(&mut tpm, 0)
        .expect_rc(rc(Rc::EXCLUSIVE));
    let mut log = Log::new(alg::SHA256);
    let (params, response) =
        audited_pcr_read(&mut tpm, session, AUDIT | 0x04 | CONTINUE_SESSION, 1);
    log.extend(cc::PCR_READ, &[], &params, &response);
    // A command without sessions also ends exclusivity (Part 1 §19.6.14).
    let (_, a, _) = split(
        &session_audit_digest(&mut tpm, rh::NULL, session),
        st::ATTEST_SESSION_AUDIT,
    );
    let Attested::SessionAudit(s) = &a.attested else {
        panic!()
    };
    assert!(s.exclusive_session);
    assert_eq!(s.session_digest.as_slice(), log.digest);
    let (params, response) = audited_pcr_read(&mut tpm, session, AUDIT | CONTINUE_SESSION, 2);
    log.extend(cc::PCR_READ, &[], &params, &response);
    pcr_read(&mut tpm, &[]);
    let (_, a, _) = split(
        &session_audit_digest(&mut tpm, rh::NULL, session),
        st::ATTEST_SESSION_AUDIT,
    );
    let Attested::SessionAudit(s) = &a.attested else {
        panic!()
    };
    assert!(!s.exclusive_session);
    assert_eq!(s.session_digest.as_slice(), log.digest);
}
