//! The key-using commands through `Tpm::execute` (Part 3 §14, §15, §17.2,
//! §20): Sign / VerifySignature with RSA, ECC and SM2 keys (signatures
//! checked with RustCrypto, independently of the engine), restricted keys
//! and hash-check tickets, the VerifySignature ticket consumed by
//! PolicyAuthorize, HMAC and HMAC sequences, EncryptDecrypt(2), RSA
//! encryption, ECDH, and the CVE shapes: HMAC signing with a mismatched
//! scheme (CVE-2025-49133) and an encrypted parameter whose size field
//! runs past the command (CVE-2023-1017/1018).

mod common;

use cipher::{AsyncStreamCipher, KeyIvInit};
use common::*;
use hmac::{Mac, SimpleHmac};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use sha2::{Digest, Sha256};
use tpm::constants::{alg, cc, curve, rh};
use tpm::crypto::{Drbg, HashAlg};
use tpm::Tpm;

// Response codes (Part 2 §6.6) with their handle/parameter numbers.
const RC_KEY_H1: u32 = 0x19c;
const RC_ATTRIBUTES_H1: u32 = 0x182;
const RC_TYPE_H1: u32 = 0x18a;
const RC_SCHEME: u32 = 0x092;
const RC_SCHEME_P2: u32 = 0x2d2;
const RC_SCHEME_H1: u32 = 0x192;
const RC_SIZE_P1: u32 = 0x1d5;
const RC_SIZE_P3: u32 = 0x3d5;
const RC_SIZE_P4: u32 = 0x4d5;
const RC_SIZE: u32 = 0x095;
const RC_TICKET_P3: u32 = 0x3e0;
const RC_SIGNATURE_P2: u32 = 0x2db;
const RC_VALUE_P2: u32 = 0x2c4;
const RC_VALUE_P3: u32 = 0x3c4;
const RC_VALUE: u32 = 0x084;
const RC_MODE_P2: u32 = 0x2c9;
const RC_MODE_P3: u32 = 0x3c9;
const RC_ECC_POINT_P1: u32 = 0x1e7;
const RC_HANDLE_P2: u32 = 0x2cb;

// TPMA_OBJECT bits (Part 2 §8.3).
const FIXED_TPM: u32 = 1 << 1;
const FIXED_PARENT: u32 = 1 << 4;
const SDO: u32 = 1 << 5;
const USER_WITH_AUTH: u32 = 1 << 6;
const NO_DA: u32 = 1 << 10;
const RESTRICTED: u32 = 1 << 16;
const DECRYPT: u32 = 1 << 17;
const SIGN: u32 = 1 << 18;

const BASE: u32 = FIXED_TPM | FIXED_PARENT | USER_WITH_AUTH | NO_DA;
const GEN: u32 = BASE | SDO;

const ST_HASHCHECK: u16 = 0x8024;
const ST_VERIFIED: u16 = 0x8022;

fn u16s(v: &[u16]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_be_bytes()).collect()
}

fn b2(b: &[u8]) -> Vec<u8> {
    let mut v = (b.len() as u16).to_be_bytes().to_vec();
    v.extend_from_slice(b);
    v
}

/// A TPMT_PUBLIC template: type, nameAlg SHA-256, attributes, empty
/// authPolicy, the parameters and the (empty) unique field.
fn template(ty: u16, attrs: u32, parms: &[u8], unique: &[u8]) -> (Vec<u8>, usize) {
    let mut v = u16s(&[ty, alg::SHA256]);
    v.extend(attrs.to_be_bytes());
    v.extend(b2(&[]));
    v.extend_from_slice(parms);
    let prefix = v.len();
    v.extend_from_slice(unique);
    (v, prefix)
}

fn rsa_tpl(attrs: u32, scheme: &[u16]) -> (Vec<u8>, usize) {
    let mut parms = u16s(&[alg::NULL]);
    parms.extend(u16s(scheme));
    parms.extend(2048u16.to_be_bytes());
    parms.extend(0u32.to_be_bytes());
    template(alg::RSA, attrs, &parms, &u16s(&[0]))
}

fn ecc_tpl(attrs: u32, curve_id: u16, scheme: &[u16]) -> (Vec<u8>, usize) {
    let mut parms = u16s(&[alg::NULL]);
    parms.extend(u16s(scheme));
    parms.extend(u16s(&[curve_id, alg::NULL]));
    template(alg::ECC, attrs, &parms, &u16s(&[0, 0]))
}

fn hmac_tpl(attrs: u32, scheme: &[u16]) -> (Vec<u8>, usize) {
    template(alg::KEYEDHASH, attrs, &u16s(scheme), &u16s(&[0]))
}

fn sym_tpl(attrs: u32, sym: u16, bits: u16, mode: u16) -> (Vec<u8>, usize) {
    template(
        alg::SYMCIPHER,
        attrs,
        &u16s(&[sym, bits, mode]),
        &u16s(&[0]),
    )
}

struct Key {
    handle: u32,
    name: Vec<u8>,
    /// The marshalled TPMU_PUBLIC_ID of the returned public area.
    unique: Vec<u8>,
}

impl Key {
    /// RSA modulus.
    fn modulus(&self) -> Vec<u8> {
        Rd::new(&self.unique).tpm2b()
    }
    /// ECC public point (x, y).
    fn point(&self) -> (Vec<u8>, Vec<u8>) {
        let mut r = Rd::new(&self.unique);
        (r.tpm2b(), r.tpm2b())
    }
}

fn started() -> Tpm {
    let (mut tpm, _clock) = engine(&[HashAlg::Sha256]);
    startup_clear(&mut tpm);
    tpm
}

fn create_primary_rc(tpm: &mut Tpm, tpl: &[u8], data: &[u8]) -> Resp {
    let sensitive = b2(&[b2(b""), b2(data)].concat());
    Cmd::new(cc::CREATE_PRIMARY)
        .handle(rh::OWNER)
        .pw(b"")
        .bytes(&sensitive)
        .tpm2b(tpl)
        .tpm2b(&[])
        .u32(0)
        .run(tpm, 0)
}

/// CreatePrimary in the owner hierarchy with sensitive data `data`.
fn primary(tpm: &mut Tpm, tpl: (Vec<u8>, usize), data: &[u8]) -> Key {
    let (tpl, prefix) = tpl;
    let r = create_primary_rc(tpm, &tpl, data);
    r.expect_ok();
    let handle = u32::from_be_bytes(r.body[0..4].try_into().unwrap());
    let mut p = r.params(true);
    let public = p.tpm2b();
    let _creation_data = p.tpm2b();
    let _creation_hash = p.tpm2b();
    let _ticket = (p.u16(), p.u32(), p.tpm2b());
    let name = p.tpm2b();
    p.end();
    assert_eq!(
        &public[..prefix],
        &tpl[..prefix],
        "public area echoes the template"
    );
    let mut n = alg::SHA256.to_be_bytes().to_vec();
    n.extend(Sha256::digest(&public));
    assert_eq!(name, n);
    Key {
        handle,
        name,
        unique: public[prefix..].to_vec(),
    }
}

fn flush(tpm: &mut Tpm, h: u32) {
    Cmd::new(cc::FLUSH_CONTEXT).u32(h).run(tpm, 0).expect_ok();
}

/// TPMT_SIG_SCHEME bytes.
fn scheme(id: u16, hash: u16) -> Vec<u8> {
    if id == alg::NULL {
        u16s(&[alg::NULL])
    } else {
        u16s(&[id, hash])
    }
}

/// The null TPMT_TK_HASHCHECK.
fn null_ticket() -> Vec<u8> {
    let mut v = ST_HASHCHECK.to_be_bytes().to_vec();
    v.extend(rh::NULL.to_be_bytes());
    v.extend(b2(&[]));
    v
}

fn sign_rc(tpm: &mut Tpm, key: u32, digest: &[u8], sch: &[u8], ticket: &[u8]) -> Resp {
    Cmd::new(cc::SIGN)
        .handle(key)
        .pw(b"")
        .tpm2b(digest)
        .bytes(sch)
        .bytes(ticket)
        .run(tpm, 0)
}

/// Sign → the TPMT_SIGNATURE bytes.
fn sign(tpm: &mut Tpm, key: u32, digest: &[u8], sch: &[u8]) -> Vec<u8> {
    let r = sign_rc(tpm, key, digest, sch, &null_ticket());
    let p = r.params(false);
    let mut rest = p;
    let mut out = Vec::new();
    while !rest.is_empty() {
        out.push(rest.u8());
    }
    out
}

/// A parsed TPMT_SIGNATURE: sigAlg, hash, then the signature parts
/// (RSA: one, ECC: r and s, HMAC: the digest).
fn parse_sig(sig: &[u8]) -> (u16, u16, Vec<Vec<u8>>) {
    let mut r = Rd::new(sig);
    let sig_alg = r.u16();
    let hash = r.u16();
    let parts = match sig_alg {
        alg::RSASSA | alg::RSAPSS => vec![r.tpm2b()],
        alg::ECDSA | alg::SM2 => vec![r.tpm2b(), r.tpm2b()],
        alg::HMAC => vec![r
            .bytes(HashAlg::from_id(hash).unwrap().digest_size())
            .to_vec()],
        other => panic!("unexpected sigAlg {other:#x}"),
    };
    r.end();
    (sig_alg, hash, parts)
}

fn verify_rc(tpm: &mut Tpm, key: u32, digest: &[u8], sig: &[u8]) -> Resp {
    Cmd::new(cc::VERIFY_SIGNATURE)
        .handle(key)
        .tpm2b(digest)
        .bytes(sig)
        .run(tpm, 0)
}

/// VerifySignature → (hierarchy, ticket digest).
fn verify(tpm: &mut Tpm, key: u32, digest: &[u8], sig: &[u8]) -> (u32, Vec<u8>) {
    let r = verify_rc(tpm, key, digest, sig);
    let mut p = r.params(false);
    assert_eq!(p.u16(), ST_VERIFIED);
    let v = (p.u32(), p.tpm2b());
    p.end();
    v
}

fn rsa_public(n: &[u8]) -> rsa::RsaPublicKey {
    rsa::RsaPublicKey::new(rsa::BigUint::from_bytes_be(n), rsa::BigUint::from(65537u32)).unwrap()
}

/// DigestInfo prefix of SHA-256 (RFC 8017 §9.2 note 1).
const SHA256_PREFIX: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];

#[test]
fn rsa_sign_and_verify() {
    let mut tpm = started();
    let k = primary(&mut tpm, rsa_tpl(GEN | SIGN, &[alg::NULL]), b"");
    let n = k.modulus();
    assert_eq!(n.len(), 256);
    let pk = rsa_public(&n);
    let digest = Sha256::digest(b"message").to_vec();

    // RSASSA: deterministic, checked with the rsa crate.
    let sig = sign(
        &mut tpm,
        k.handle,
        &digest,
        &scheme(alg::RSASSA, alg::SHA256),
    );
    let (sa, h, parts) = parse_sig(&sig);
    assert_eq!((sa, h), (alg::RSASSA, alg::SHA256));
    let pkcs1 = rsa::Pkcs1v15Sign {
        hash_len: Some(32),
        prefix: SHA256_PREFIX.to_vec().into_boxed_slice(),
    };
    pk.verify(pkcs1, &digest, &parts[0]).unwrap();
    assert_eq!(
        sign(
            &mut tpm,
            k.handle,
            &digest,
            &scheme(alg::RSASSA, alg::SHA256)
        ),
        sig,
        "PKCS#1 v1.5 signatures are deterministic"
    );
    let (hier, ticket) = verify(&mut tpm, k.handle, &digest, &sig);
    assert_eq!(hier, rh::OWNER);
    assert_eq!(ticket.len(), 64, "HMAC-SHA512 with the owner proof");

    // RSAPSS: randomized, salt = digest size.
    let sig = sign(
        &mut tpm,
        k.handle,
        &digest,
        &scheme(alg::RSAPSS, alg::SHA256),
    );
    let (sa, _, parts) = parse_sig(&sig);
    assert_eq!(sa, alg::RSAPSS);
    pk.verify(rsa::Pss::new::<Sha256>(), &digest, &parts[0])
        .unwrap();
    assert_eq!(
        verify(&mut tpm, k.handle, &digest, &sig).1,
        ticket,
        "same digest, same key"
    );

    // A wrong digest or a changed signature: TPM_RC_SIGNATURE (parameter 2).
    let mut other = digest.clone();
    other[0] ^= 1;
    verify_rc(&mut tpm, k.handle, &other, &sig).expect_rc(RC_SIGNATURE_P2);
    let mut bad = sig.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    verify_rc(&mut tpm, k.handle, &digest, &bad).expect_rc(RC_SIGNATURE_P2);
    // An ECDSA signature cannot be checked by an RSA key.
    let ecdsa = [u16s(&[alg::ECDSA, alg::SHA256]), b2(&[1; 32]), b2(&[1; 32])].concat();
    verify_rc(&mut tpm, k.handle, &digest, &ecdsa).expect_rc(0x2d2);

    // Both schemes NULL: TPM_RC_SCHEME on inScheme; digest of the wrong
    // size: TPM_RC_SIZE on digest; a scheme the key type cannot do: the
    // signing step's unnumbered TPM_RC_SCHEME.
    sign_rc(
        &mut tpm,
        k.handle,
        &digest,
        &scheme(alg::NULL, 0),
        &null_ticket(),
    )
    .expect_rc(RC_SCHEME_P2);
    sign_rc(
        &mut tpm,
        k.handle,
        &digest[..20],
        &scheme(alg::RSASSA, alg::SHA256),
        &null_ticket(),
    )
    .expect_rc(RC_SIZE_P1);
    sign_rc(
        &mut tpm,
        k.handle,
        &digest,
        &scheme(alg::ECDSA, alg::SHA256),
        &null_ticket(),
    )
    .expect_rc(RC_SCHEME);
    // A made-up ticket for an unrestricted key is still checked.
    let fake = [
        ST_HASHCHECK.to_be_bytes().to_vec(),
        rh::OWNER.to_be_bytes().to_vec(),
        b2(&[7; 64]),
    ]
    .concat();
    sign_rc(
        &mut tpm,
        k.handle,
        &digest,
        &scheme(alg::RSASSA, alg::SHA256),
        &fake,
    )
    .expect_rc(RC_TICKET_P3);
}

#[test]
fn key_scheme_rules() {
    let mut tpm = started();
    let k = primary(
        &mut tpm,
        ecc_tpl(GEN | SIGN, curve::NIST_P256, &[alg::ECDSA, alg::SHA256]),
        b"",
    );
    let digest = [5u8; 32];
    // inScheme NULL takes the key's scheme.
    let sig = sign(&mut tpm, k.handle, &digest, &scheme(alg::NULL, 0));
    assert_eq!(parse_sig(&sig).0, alg::ECDSA);
    // Same scheme, other hash; other scheme: TPM_RC_SCHEME on inScheme.
    sign_rc(
        &mut tpm,
        k.handle,
        &[5; 48],
        &scheme(alg::ECDSA, alg::SHA384),
        &null_ticket(),
    )
    .expect_rc(RC_SCHEME_P2);
    sign_rc(
        &mut tpm,
        k.handle,
        &digest,
        &scheme(alg::SM2, alg::SHA256),
        &null_ticket(),
    )
    .expect_rc(RC_SCHEME_P2);
    // A decryption key cannot sign: TPM_RC_KEY on the handle.
    let d = primary(
        &mut tpm,
        ecc_tpl(GEN | DECRYPT, curve::NIST_P256, &[alg::ECDH, alg::SHA256]),
        b"",
    );
    sign_rc(
        &mut tpm,
        d.handle,
        &digest,
        &scheme(alg::ECDSA, alg::SHA256),
        &null_ticket(),
    )
    .expect_rc(RC_KEY_H1);
    // ... nor verify signatures.
    verify_rc(&mut tpm, d.handle, &digest, &sig).expect_rc(RC_ATTRIBUTES_H1);
}

fn ecdsa_check(curve_id: u16, hash: u16, digest: &[u8]) {
    let mut tpm = started();
    let k = primary(&mut tpm, ecc_tpl(GEN | SIGN, curve_id, &[alg::NULL]), b"");
    let (x, y) = k.point();
    let sig = sign(&mut tpm, k.handle, digest, &scheme(alg::ECDSA, hash));
    let (sa, h, parts) = parse_sig(&sig);
    assert_eq!((sa, h), (alg::ECDSA, hash));
    let sec1 = [&[4u8][..], &x, &y].concat();
    let rs = [parts[0].clone(), parts[1].clone()].concat();
    use ecdsa::signature::hazmat::PrehashVerifier;
    if curve_id == curve::NIST_P256 {
        let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(&sec1).unwrap();
        let s = p256::ecdsa::Signature::from_slice(&rs).unwrap();
        vk.verify_prehash(digest, &s).unwrap();
    } else {
        let vk = p384::ecdsa::VerifyingKey::from_sec1_bytes(&sec1).unwrap();
        let s = p384::ecdsa::Signature::from_slice(&rs).unwrap();
        vk.verify_prehash(digest, &s).unwrap();
    }
    let (hier, t) = verify(&mut tpm, k.handle, digest, &sig);
    assert_eq!((hier, t.len()), (rh::OWNER, 64));
}

#[test]
fn ecdsa_p256_and_p384() {
    ecdsa_check(curve::NIST_P256, alg::SHA256, &Sha256::digest(b"p256"));
    ecdsa_check(
        curve::NIST_P384,
        alg::SHA384,
        &sha2::Sha384::digest(b"p384"),
    );
}

/// ZA = SM3(ENTL || ID || a || b || xG || yG || xA || yA) with the default
/// ID (GB/T 32918.2 §5.5).
fn sm2_za(x: &[u8], y: &[u8]) -> Vec<u8> {
    let h = |s: &str| hex::decode(s).unwrap();
    let id = b"1234567812345678";
    let mut d = sm3::Sm3::new();
    d.update(((id.len() * 8) as u16).to_be_bytes());
    d.update(id);
    d.update(h(
        "FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC",
    ));
    d.update(h(
        "28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93",
    ));
    d.update(h(
        "32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7",
    ));
    d.update(h(
        "BC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0",
    ));
    d.update(x);
    d.update(y);
    d.finalize().to_vec()
}

#[test]
fn sm2_sign_and_verify() {
    let mut tpm = started();
    let k = primary(
        &mut tpm,
        ecc_tpl(GEN | SIGN, curve::SM2_P256, &[alg::SM2, alg::SM3_256]),
        b"",
    );
    let (x, y) = k.point();
    let msg = b"signed with SM2 in the TPM";
    let e = {
        let mut d = sm3::Sm3::new();
        d.update(sm2_za(&x, &y));
        d.update(msg);
        d.finalize().to_vec()
    };
    let sig = sign(&mut tpm, k.handle, &e, &scheme(alg::NULL, 0));
    let (sa, h, parts) = parse_sig(&sig);
    assert_eq!((sa, h), (alg::SM2, alg::SM3_256));
    use sm2::dsa::signature::Verifier;
    let vk =
        sm2::dsa::VerifyingKey::from_sec1_bytes("1234567812345678", &[&[4u8][..], &x, &y].concat())
            .unwrap();
    let s =
        sm2::dsa::Signature::from_slice(&[parts[0].clone(), parts[1].clone()].concat()).unwrap();
    vk.verify(msg, &s).unwrap();
    verify(&mut tpm, k.handle, &e, &sig);
}

/// TPM2_Hash → (digest, ticket bytes).
fn tpm_hash(tpm: &mut Tpm, data: &[u8], hierarchy: u32) -> (Vec<u8>, Vec<u8>) {
    let r = Cmd::new(cc::HASH)
        .tpm2b(data)
        .u16(alg::SHA256)
        .u32(hierarchy)
        .run(tpm, 0);
    let mut p = r.params(false);
    let digest = p.tpm2b();
    let mut ticket = p.u16().to_be_bytes().to_vec();
    ticket.extend(p.u32().to_be_bytes());
    ticket.extend(b2(&p.tpm2b()));
    p.end();
    (digest, ticket)
}

/// A restricted signing key signs only digests the TPM computed, over
/// data that does not start with TPM_GENERATED_VALUE (Part 1 §11.4.6.3):
/// that is what keeps it from forging attestations.
#[test]
fn restricted_keys_need_a_hashcheck_ticket() {
    let mut tpm = started();
    let k = primary(
        &mut tpm,
        ecc_tpl(
            GEN | SIGN | RESTRICTED,
            curve::NIST_P256,
            &[alg::ECDSA, alg::SHA256],
        ),
        b"",
    );
    let (digest, ticket) = tpm_hash(&mut tpm, b"ordinary data", rh::OWNER);
    sign_rc(
        &mut tpm,
        k.handle,
        &digest,
        &scheme(alg::NULL, 0),
        &null_ticket(),
    )
    .expect_rc(RC_TICKET_P3);
    let r = sign_rc(&mut tpm, k.handle, &digest, &scheme(alg::NULL, 0), &ticket);
    r.expect_ok();
    // The ticket binds the digest.
    let mut other = digest.clone();
    other[31] ^= 1;
    sign_rc(&mut tpm, k.handle, &other, &scheme(alg::NULL, 0), &ticket).expect_rc(RC_TICKET_P3);
    // Data that looks like a TPMS_ATTEST gets no ticket, so no signature.
    let (digest, ticket) = tpm_hash(&mut tpm, &[0xff, 0x54, 0x43, 0x47, 0x80, 0x18], rh::OWNER);
    assert_eq!(ticket, null_ticket());
    sign_rc(&mut tpm, k.handle, &digest, &scheme(alg::NULL, 0), &ticket).expect_rc(RC_TICKET_P3);
}

/// VerifySignature's ticket is what PolicyAuthorize accepts: approve a
/// policy with a signature, turn it into a ticket, redeem it.
#[test]
fn verified_ticket_feeds_policy_authorize() {
    let mut tpm = started();
    let k = primary(
        &mut tpm,
        ecc_tpl(GEN | SIGN, curve::NIST_P256, &[alg::ECDSA, alg::SHA256]),
        b"",
    );
    // A fresh policy session: policyDigest is all zeros.
    let r = Cmd::new(cc::START_AUTH_SESSION)
        .handle(rh::NULL)
        .handle(rh::NULL)
        .tpm2b(&[0x11; 16])
        .tpm2b(&[])
        .u8(1) // TPM_SE_POLICY
        .u16(alg::NULL)
        .u16(alg::SHA256)
        .run(&mut tpm, 0);
    r.expect_ok();
    let session = u32::from_be_bytes(r.body[0..4].try_into().unwrap());
    let approved = [0u8; 32];
    let policy_ref = b"ref";
    let a_hash = Sha256::digest([&approved[..], policy_ref].concat()).to_vec();
    let sig = sign(&mut tpm, k.handle, &a_hash, &scheme(alg::NULL, 0));
    let (hier, ticket) = verify(&mut tpm, k.handle, &a_hash, &sig);
    let authorize = |t: &[u8], name: &[u8]| {
        Cmd::new(cc::POLICY_AUTHORIZE)
            .handle(session)
            .tpm2b(&approved)
            .tpm2b(policy_ref)
            .tpm2b(name)
            .u16(ST_VERIFIED)
            .u32(hier)
            .tpm2b(t)
    };
    // A ticket for another key name is refused.
    let mut wrong_name = k.name.clone();
    wrong_name[5] ^= 1;
    assert_ne!(authorize(&ticket, &wrong_name).run(&mut tpm, 0).rc, 0);
    authorize(&ticket, &k.name).run(&mut tpm, 0).expect_ok();
    // policyDigest = H(H(0 || TPM_CC_PolicyAuthorize || keyName) || policyRef).
    let d1 =
        Sha256::digest([&[0u8; 32][..], &cc::POLICY_AUTHORIZE.to_be_bytes(), &k.name].concat());
    let expected = Sha256::digest([&d1[..], policy_ref].concat()).to_vec();
    let r = Cmd::new(cc::POLICY_GET_DIGEST)
        .handle(session)
        .run(&mut tpm, 0);
    let mut p = r.params(false);
    assert_eq!(p.tpm2b(), expected);
}

fn hmac256(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut m = <SimpleHmac<Sha256> as Mac>::new_from_slice(key).unwrap();
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

fn tpm_hmac_rc(tpm: &mut Tpm, key: u32, data: &[u8], hash: u16) -> Resp {
    Cmd::new(cc::HMAC)
        .handle(key)
        .pw(b"")
        .tpm2b(data)
        .u16(hash)
        .run(tpm, 0)
}

#[test]
fn hmac_one_shot_and_sequence() {
    let mut tpm = started();
    let secret = b"an HMAC key of 32 bytes, exactly";
    let k = primary(
        &mut tpm,
        hmac_tpl(BASE | SIGN, &[alg::HMAC, alg::SHA256]),
        secret,
    );
    let data = b"some data".to_vec();
    for h in [alg::NULL, alg::SHA256] {
        let r = tpm_hmac_rc(&mut tpm, k.handle, &data, h);
        let mut p = r.params(false);
        assert_eq!(p.tpm2b(), hmac256(secret, &data));
    }
    // Another hash than the key's: TPM_RC_VALUE on hashAlg.
    tpm_hmac_rc(&mut tpm, k.handle, &data, alg::SHA384).expect_rc(RC_VALUE_P2);

    // A sequence over more than one TPM2B_MAX_BUFFER (1024 octets).
    let big: Vec<u8> = (0..3000u32).map(|i| (i % 251) as u8).collect();
    let r = Cmd::new(cc::HMAC_START)
        .handle(k.handle)
        .pw(b"")
        .tpm2b(b"seqauth")
        .u16(alg::NULL)
        .run(&mut tpm, 0);
    r.expect_ok();
    let seq = u32::from_be_bytes(r.body[0..4].try_into().unwrap());
    // The key may go: the sequence has its own copy.
    flush(&mut tpm, k.handle);
    for chunk in big[..2048].chunks(1024) {
        Cmd::new(cc::SEQUENCE_UPDATE)
            .handle(seq)
            .pw(b"seqauth")
            .tpm2b(chunk)
            .run(&mut tpm, 0)
            .expect_ok();
    }
    // Wrong sequence auth is refused.
    assert_ne!(
        Cmd::new(cc::SEQUENCE_UPDATE)
            .handle(seq)
            .pw(b"nope")
            .tpm2b(b"x")
            .run(&mut tpm, 0)
            .rc,
        0
    );
    let r = Cmd::new(cc::SEQUENCE_COMPLETE)
        .handle(seq)
        .pw(b"seqauth")
        .tpm2b(&big[2048..])
        .u32(rh::OWNER)
        .run(&mut tpm, 0);
    let mut p = r.params(false);
    assert_eq!(p.tpm2b(), hmac256(secret, &big));
    // No ticket for an HMAC.
    assert_eq!(
        (p.u16(), p.u32(), p.tpm2b()),
        (ST_HASHCHECK, rh::NULL, vec![])
    );
    p.end();
    // The sequence is gone.
    assert_ne!(
        Cmd::new(cc::SEQUENCE_UPDATE)
            .handle(seq)
            .pw(b"seqauth")
            .tpm2b(b"x")
            .run(&mut tpm, 0)
            .rc,
        0
    );
}

/// An HMAC sequence survives ContextSave / FlushContext / ContextLoad
/// with its state (and its key copy) intact.
#[test]
fn hmac_sequence_context_round_trip() {
    let mut tpm = started();
    let secret = b"context saved hmac key";
    let k = primary(
        &mut tpm,
        hmac_tpl(BASE | SIGN, &[alg::HMAC, alg::SHA256]),
        secret,
    );
    let r = Cmd::new(cc::HMAC_START)
        .handle(k.handle)
        .pw(b"")
        .tpm2b(b"")
        .u16(alg::SHA256)
        .run(&mut tpm, 0);
    r.expect_ok();
    let seq = u32::from_be_bytes(r.body[0..4].try_into().unwrap());
    flush(&mut tpm, k.handle);
    Cmd::new(cc::SEQUENCE_UPDATE)
        .handle(seq)
        .pw(b"")
        .tpm2b(b"first half, ")
        .run(&mut tpm, 0)
        .expect_ok();
    let r = Cmd::new(cc::CONTEXT_SAVE).handle(seq).run(&mut tpm, 0);
    r.expect_ok();
    let saved = r.body.clone();
    flush(&mut tpm, seq);
    let r = Cmd::new(cc::CONTEXT_LOAD).bytes(&saved).run(&mut tpm, 0);
    r.expect_ok();
    let seq = u32::from_be_bytes(r.body[0..4].try_into().unwrap());
    let r = Cmd::new(cc::SEQUENCE_COMPLETE)
        .handle(seq)
        .pw(b"")
        .tpm2b(b"second half")
        .u32(rh::NULL)
        .run(&mut tpm, 0);
    let mut p = r.params(false);
    assert_eq!(p.tpm2b(), hmac256(secret, b"first half, second half"));
    // An HMAC sequence is not an event sequence.
    let r = Cmd::new(cc::HMAC_START)
        .handle(
            primary(
                &mut tpm,
                hmac_tpl(BASE | SIGN, &[alg::HMAC, alg::SHA256]),
                secret,
            )
            .handle,
        )
        .pw(b"")
        .tpm2b(b"")
        .u16(alg::NULL)
        .run(&mut tpm, 0);
    r.expect_ok();
    let seq = u32::from_be_bytes(r.body[0..4].try_into().unwrap());
    Cmd::new(cc::EVENT_SEQUENCE_COMPLETE)
        .handle(rh::NULL)
        .handle(seq)
        .pw(b"")
        .pw(b"")
        .tpm2b(b"")
        .run(&mut tpm, 0)
        .expect_rc(0x289);
}

#[test]
fn hmac_key_rules() {
    let mut tpm = started();
    // A key without a scheme (sign and decrypt both set, Part 2 §12.2.3.3
    // "TPMS_KEYEDHASH_PARMS") needs a hash from the caller.
    let k = primary(
        &mut tpm,
        hmac_tpl(BASE | SIGN | DECRYPT, &[alg::NULL]),
        b"k",
    );
    tpm_hmac_rc(&mut tpm, k.handle, b"d", alg::NULL).expect_rc(RC_VALUE_P2);
    let r = tpm_hmac_rc(&mut tpm, k.handle, b"d", alg::SHA256);
    assert_eq!(r.params(false).tpm2b(), hmac256(b"k", b"d"));
    // Not a keyed-hash key: TPM_RC_TYPE; not a signing key: TPM_RC_KEY.
    let sym = primary(
        &mut tpm,
        sym_tpl(GEN | DECRYPT | SIGN, alg::AES, 128, alg::CFB),
        b"",
    );
    tpm_hmac_rc(&mut tpm, sym.handle, b"d", alg::SHA256).expect_rc(RC_TYPE_H1);
    flush(&mut tpm, sym.handle);
    let sealed = primary(&mut tpm, hmac_tpl(BASE, &[alg::NULL]), b"sealed");
    tpm_hmac_rc(&mut tpm, sealed.handle, b"d", alg::SHA256).expect_rc(RC_KEY_H1);
}

/// CVE-2025-49133 shape: HMAC signing with a scheme that does not match
/// the key. libtpms < 0.10.1 tagged an HMAC with the caller's scheme and
/// marshalled it as that scheme (out-of-bounds read). Here: a keyed-hash
/// key with a scheme refuses another hash or scheme type (TPM_RC_SCHEME,
/// inScheme), and one without a scheme refuses anything but HMAC
/// (TPM_RC_SCHEME, from the signing step).
#[test]
fn hmac_signing_with_mismatched_scheme_is_refused() {
    let mut tpm = started();
    let secret = b"hmac signing key";
    let k = primary(
        &mut tpm,
        hmac_tpl(BASE | SIGN, &[alg::HMAC, alg::SHA256]),
        secret,
    );
    let digest = [3u8; 32];
    sign_rc(
        &mut tpm,
        k.handle,
        &[3; 48],
        &scheme(alg::HMAC, alg::SHA384),
        &null_ticket(),
    )
    .expect_rc(RC_SCHEME_P2);
    sign_rc(
        &mut tpm,
        k.handle,
        &digest,
        &scheme(alg::RSASSA, alg::SHA256),
        &null_ticket(),
    )
    .expect_rc(RC_SCHEME_P2);
    let sig = sign(&mut tpm, k.handle, &digest, &scheme(alg::HMAC, alg::SHA256));
    assert_eq!(
        sig,
        [u16s(&[alg::HMAC, alg::SHA256]), hmac256(secret, &digest)].concat()
    );
    // VerifySignature with an HMAC key checks with the secret.
    verify(&mut tpm, k.handle, &digest, &sig);
    let mut bad = sig.clone();
    bad[10] ^= 1;
    verify_rc(&mut tpm, k.handle, &digest, &bad).expect_rc(RC_SIGNATURE_P2);
    flush(&mut tpm, k.handle);

    // Without a scheme (only possible with sign and decrypt both set),
    // inScheme decides — and only HMAC is acceptable.
    let k = primary(
        &mut tpm,
        hmac_tpl(BASE | SIGN | DECRYPT, &[alg::NULL]),
        secret,
    );
    for (s, d) in [
        (scheme(alg::RSASSA, alg::SHA256), &digest[..]),
        (scheme(alg::RSAPSS, alg::SHA256), &digest[..]),
        (scheme(alg::ECDSA, alg::SHA256), &digest[..]),
        (scheme(alg::SM2, alg::SM3_256), &digest[..]),
    ] {
        sign_rc(&mut tpm, k.handle, d, &s, &null_ticket()).expect_rc(RC_SCHEME);
    }
    let sig = sign(&mut tpm, k.handle, &digest, &scheme(alg::HMAC, alg::SHA256));
    assert_eq!(parse_sig(&sig).2[0], hmac256(secret, &digest));
    // The TPM still works.
    tpm_hmac_rc(&mut tpm, k.handle, b"x", alg::SHA256).expect_ok();
}

type Aes128CfbEnc = cfb_mode::Encryptor<aes::Aes128>;
type Sm4CfbEnc = cfb_mode::Encryptor<sm4::Sm4>;

fn encrypt_decrypt_rc(
    tpm: &mut Tpm,
    key: u32,
    decrypt: bool,
    mode: u16,
    iv: &[u8],
    data: &[u8],
) -> Resp {
    Cmd::new(cc::ENCRYPT_DECRYPT)
        .handle(key)
        .pw(b"")
        .u8(decrypt as u8)
        .u16(mode)
        .tpm2b(iv)
        .tpm2b(data)
        .run(tpm, 0)
}

fn encrypt_decrypt2_rc(
    tpm: &mut Tpm,
    key: u32,
    decrypt: bool,
    mode: u16,
    iv: &[u8],
    data: &[u8],
) -> Resp {
    Cmd::new(cc::ENCRYPT_DECRYPT2)
        .handle(key)
        .pw(b"")
        .tpm2b(data)
        .u8(decrypt as u8)
        .u16(mode)
        .tpm2b(iv)
        .run(tpm, 0)
}

fn out_and_iv(r: &Resp) -> (Vec<u8>, Vec<u8>) {
    let mut p = r.params(false);
    let v = (p.tpm2b(), p.tpm2b());
    p.end();
    v
}

#[test]
fn encrypt_decrypt_aes_and_sm4_cfb() {
    let mut tpm = started();
    let key = [0x2bu8; 16];
    let iv = [0x01u8; 16];
    let plain: Vec<u8> = (0..100u8).collect();
    for (sym, expect) in [
        (alg::AES, {
            let mut b = plain.clone();
            Aes128CfbEnc::new(&key.into(), &iv.into()).encrypt(&mut b);
            b
        }),
        (alg::SM4, {
            let mut b = plain.clone();
            Sm4CfbEnc::new(&key.into(), &iv.into()).encrypt(&mut b);
            b
        }),
    ] {
        let k = primary(
            &mut tpm,
            sym_tpl(BASE | DECRYPT | SIGN, sym, 128, alg::CFB),
            &key,
        );
        let (ct, iv_out) = out_and_iv(&encrypt_decrypt_rc(
            &mut tpm,
            k.handle,
            false,
            alg::NULL,
            &iv,
            &plain,
        ));
        assert_eq!(ct, expect, "{sym:#x}");
        // ivOut: the last (partial) ciphertext block, zero-padded.
        assert_eq!(&iv_out[..4], &ct[96..]);
        assert_eq!(&iv_out[4..], &[0; 12]);
        let (pt, _) = out_and_iv(&encrypt_decrypt_rc(
            &mut tpm,
            k.handle,
            true,
            alg::CFB,
            &iv,
            &ct,
        ));
        assert_eq!(pt, plain);
        // EncryptDecrypt2 is the same with inData first; chaining two
        // whole-block calls through ivOut equals one call.
        let (c1, iv1) = out_and_iv(&encrypt_decrypt2_rc(
            &mut tpm,
            k.handle,
            false,
            alg::CFB,
            &iv,
            &plain[..48],
        ));
        let (c2, _) = out_and_iv(&encrypt_decrypt2_rc(
            &mut tpm,
            k.handle,
            false,
            alg::CFB,
            &iv1,
            &plain[48..96],
        ));
        assert_eq!([c1, c2].concat(), &expect[..96]);
        // IV of the wrong size: TPM_RC_SIZE on ivIn.
        encrypt_decrypt_rc(&mut tpm, k.handle, false, alg::CFB, &iv[..8], &plain)
            .expect_rc(RC_SIZE_P3);
        encrypt_decrypt2_rc(&mut tpm, k.handle, false, alg::CFB, &[], &plain).expect_rc(RC_SIZE_P4);
        flush(&mut tpm, k.handle);
    }
    // Modes this TPM does not implement: TPM_RC_MODE at unmarshalling.
    let k = primary(
        &mut tpm,
        sym_tpl(BASE | DECRYPT, alg::AES, 128, alg::CFB),
        &key,
    );
    encrypt_decrypt_rc(&mut tpm, k.handle, true, alg::CBC, &iv, &plain[..16]).expect_rc(RC_MODE_P2);
    encrypt_decrypt2_rc(&mut tpm, k.handle, true, alg::ECB, &iv, &plain[..16])
        .expect_rc(RC_MODE_P3);
    // A decrypt-only key cannot encrypt; decrypt is a TPMI_YES_NO.
    encrypt_decrypt_rc(&mut tpm, k.handle, false, alg::CFB, &iv, &plain)
        .expect_rc(RC_ATTRIBUTES_H1);
    Cmd::new(cc::ENCRYPT_DECRYPT)
        .handle(k.handle)
        .pw(b"")
        .u8(2)
        .u16(alg::CFB)
        .tpm2b(&iv)
        .tpm2b(&plain)
        .run(&mut tpm, 0)
        .expect_rc(0x1c4);
    // Not a symmetric key: TPM_RC_KEY.
    let h = primary(
        &mut tpm,
        hmac_tpl(BASE | SIGN, &[alg::HMAC, alg::SHA256]),
        b"k",
    );
    encrypt_decrypt_rc(&mut tpm, h.handle, true, alg::CFB, &iv, &plain).expect_rc(RC_KEY_H1);
}

fn rsa_encrypt_rc(tpm: &mut Tpm, key: u32, msg: &[u8], sch: &[u8], label: &[u8]) -> Resp {
    Cmd::new(cc::RSA_ENCRYPT)
        .handle(key)
        .tpm2b(msg)
        .bytes(sch)
        .tpm2b(label)
        .run(tpm, 0)
}

fn rsa_decrypt_rc(tpm: &mut Tpm, key: u32, ct: &[u8], sch: &[u8], label: &[u8]) -> Resp {
    Cmd::new(cc::RSA_DECRYPT)
        .handle(key)
        .pw(b"")
        .tpm2b(ct)
        .bytes(sch)
        .tpm2b(label)
        .run(tpm, 0)
}

fn one_2b(r: &Resp) -> Vec<u8> {
    let mut p = r.params(false);
    let v = p.tpm2b();
    p.end();
    v
}

#[test]
fn rsa_encrypt_and_decrypt() {
    let mut tpm = started();
    let k = primary(&mut tpm, rsa_tpl(GEN | DECRYPT, &[alg::NULL]), b"");
    let pk = rsa_public(&k.modulus());
    let mut rng = Drbg::new([9; 32]);
    let msg = b"secret message";
    let label = b"label\0";
    let oaep = u16s(&[alg::OAEP, alg::SHA256]);

    // OAEP: encrypted outside (label with its terminating zero), decrypted
    // inside, and the reverse.
    let ct = pk
        .encrypt(
            &mut rng,
            rsa::Oaep::new_with_label::<Sha256, _>("label\0"),
            msg,
        )
        .unwrap();
    assert_eq!(
        one_2b(&rsa_decrypt_rc(&mut tpm, k.handle, &ct, &oaep, label)),
        msg
    );
    let ct = one_2b(&rsa_encrypt_rc(&mut tpm, k.handle, msg, &oaep, label));
    assert_eq!(ct.len(), 256);
    assert_eq!(
        one_2b(&rsa_decrypt_rc(&mut tpm, k.handle, &ct, &oaep, label)),
        msg
    );
    // The wrong label fails the padding check (unnumbered TPM_RC_VALUE).
    rsa_decrypt_rc(&mut tpm, k.handle, &ct, &oaep, b"other\0").expect_rc(RC_VALUE);
    // A message too long for OAEP with this key: TPM_RC_VALUE (OaepEncode).
    rsa_encrypt_rc(&mut tpm, k.handle, &[7; 200], &oaep, b"").expect_rc(RC_VALUE);
    // A label must end in a zero octet.
    rsa_encrypt_rc(&mut tpm, k.handle, msg, &oaep, b"label").expect_rc(RC_VALUE_P3);
    rsa_decrypt_rc(&mut tpm, k.handle, &ct, &oaep, b"label").expect_rc(RC_VALUE_P3);

    // RSAES (PKCS#1 v1.5).
    let rsaes = u16s(&[alg::RSAES]);
    let ct = pk.encrypt(&mut rng, rsa::Pkcs1v15Encrypt, msg).unwrap();
    assert_eq!(
        one_2b(&rsa_decrypt_rc(&mut tpm, k.handle, &ct, &rsaes, b"")),
        msg
    );
    let ct = one_2b(&rsa_encrypt_rc(&mut tpm, k.handle, msg, &rsaes, b""));
    assert_eq!(
        one_2b(&rsa_decrypt_rc(&mut tpm, k.handle, &ct, &rsaes, b"")),
        msg
    );
    // Ciphertext not the modulus size: TPM_RC_SIZE.
    rsa_decrypt_rc(&mut tpm, k.handle, &ct[1..], &rsaes, b"").expect_rc(RC_SIZE);
    // Both schemes NULL: raw RSA, the message as a number.
    let null = u16s(&[alg::NULL]);
    let ct = one_2b(&rsa_encrypt_rc(&mut tpm, k.handle, msg, &null, b""));
    let pt = one_2b(&rsa_decrypt_rc(&mut tpm, k.handle, &ct, &null, b""));
    assert_eq!(pt.len(), 256);
    assert_eq!(&pt[256 - msg.len()..], msg);
    flush(&mut tpm, k.handle);

    // A key with a scheme takes that scheme only.
    let k = primary(
        &mut tpm,
        rsa_tpl(GEN | DECRYPT, &[alg::OAEP, alg::SHA256]),
        b"",
    );
    rsa_encrypt_rc(&mut tpm, k.handle, msg, &rsaes, b"").expect_rc(RC_SCHEME_P2);
    let ct = one_2b(&rsa_encrypt_rc(&mut tpm, k.handle, msg, &null, b""));
    assert_eq!(
        one_2b(&rsa_decrypt_rc(&mut tpm, k.handle, &ct, &oaep, b"")),
        msg
    );
    flush(&mut tpm, k.handle);

    // A restricted decryption key (a storage parent) is no decryption
    // oracle; anyone may still encrypt to it.
    let mut parms = u16s(&[alg::AES, 128, alg::CFB, alg::NULL]);
    parms.extend(2048u16.to_be_bytes());
    parms.extend(0u32.to_be_bytes());
    let storage = primary(
        &mut tpm,
        template(alg::RSA, GEN | DECRYPT | RESTRICTED, &parms, &u16s(&[0])),
        b"",
    );
    let ct = one_2b(&rsa_encrypt_rc(&mut tpm, storage.handle, msg, &oaep, b""));
    rsa_decrypt_rc(&mut tpm, storage.handle, &ct, &oaep, b"").expect_rc(RC_ATTRIBUTES_H1);
    // A signing key encrypts nothing.
    let signer = primary(
        &mut tpm,
        ecc_tpl(GEN | SIGN, curve::NIST_P256, &[alg::NULL]),
        b"",
    );
    rsa_encrypt_rc(&mut tpm, signer.handle, msg, &oaep, b"").expect_rc(RC_KEY_H1);
}

fn point_2b(x: &[u8], y: &[u8]) -> Vec<u8> {
    b2(&[b2(x), b2(y)].concat())
}

/// (x, y) of a TPM2B_ECC_POINT in a reader.
fn read_point(p: &mut Rd<'_>) -> (Vec<u8>, Vec<u8>) {
    let inner = p.tpm2b();
    let mut r = Rd::new(&inner);
    let v = (r.tpm2b(), r.tpm2b());
    r.end();
    v
}

#[test]
fn ecdh_both_sides_agree() {
    let mut tpm = started();
    let k = primary(
        &mut tpm,
        ecc_tpl(GEN | DECRYPT, curve::NIST_P256, &[alg::ECDH, alg::SHA256]),
        b"",
    );
    // KeyGen against the key, ZGen with the key: the same Z.
    let r = Cmd::new(cc::ECDH_KEY_GEN).handle(k.handle).run(&mut tpm, 0);
    let mut p = r.params(false);
    let z = read_point(&mut p);
    let qe = read_point(&mut p);
    p.end();
    let r = Cmd::new(cc::ECDH_ZGEN)
        .handle(k.handle)
        .pw(b"")
        .bytes(&point_2b(&qe.0, &qe.1))
        .run(&mut tpm, 0);
    let mut p = r.params(false);
    assert_eq!(read_point(&mut p), z);

    // And with a point from outside: Z = d·Q computed by p256.
    let mut rng = Drbg::new([3; 32]);
    let mine = p256::SecretKey::random(&mut rng);
    let ours = mine.public_key().to_encoded_point(false);
    let r = Cmd::new(cc::ECDH_ZGEN)
        .handle(k.handle)
        .pw(b"")
        .bytes(&point_2b(ours.x().unwrap(), ours.y().unwrap()))
        .run(&mut tpm, 0);
    let mut p = r.params(false);
    let (zx, _) = read_point(&mut p);
    let (tx, ty) = k.point();
    let theirs = p256::PublicKey::from_sec1_bytes(&[&[4u8][..], &tx, &ty].concat()).unwrap();
    let shared = (theirs.to_projective() * *mine.to_nonzero_scalar()).to_affine();
    assert_eq!(zx, shared.to_encoded_point(false).x().unwrap().to_vec());

    // A point off the curve is refused before any multiplication.
    let mut y = ours.y().unwrap().to_vec();
    y[31] ^= 1;
    Cmd::new(cc::ECDH_ZGEN)
        .handle(k.handle)
        .pw(b"")
        .bytes(&point_2b(ours.x().unwrap(), &y))
        .run(&mut tpm, 0)
        .expect_rc(RC_ECC_POINT_P1);
    flush(&mut tpm, k.handle);
    // ZGen needs an unrestricted decryption key with ECDH (or no) scheme.
    let s = primary(
        &mut tpm,
        ecc_tpl(GEN | SIGN, curve::NIST_P256, &[alg::NULL]),
        b"",
    );
    Cmd::new(cc::ECDH_ZGEN)
        .handle(s.handle)
        .pw(b"")
        .bytes(&point_2b(ours.x().unwrap(), ours.y().unwrap()))
        .run(&mut tpm, 0)
        .expect_rc(RC_ATTRIBUTES_H1);
    // ... but KeyGen only needs the public key of any ECC key.
    Cmd::new(cc::ECDH_KEY_GEN)
        .handle(s.handle)
        .run(&mut tpm, 0)
        .expect_ok();
    let sm2 = primary(
        &mut tpm,
        ecc_tpl(GEN | DECRYPT, curve::SM2_P256, &[alg::SM2, alg::SM3_256]),
        b"",
    );
    Cmd::new(cc::ECDH_ZGEN)
        .handle(sm2.handle)
        .pw(b"")
        .bytes(&point_2b(ours.x().unwrap(), ours.y().unwrap()))
        .run(&mut tpm, 0)
        .expect_rc(RC_SCHEME_H1);
}

/// An HMAC key loaded public-only can verify nothing (its secret is not
/// there): TPM_RC_HANDLE on the signature, as CryptValidateSignature.
#[test]
fn public_only_hmac_key_cannot_verify() {
    let mut tpm = started();
    let (tpl, _) = hmac_tpl(SIGN | USER_WITH_AUTH, &[alg::HMAC, alg::SHA256]);
    // A keyed-hash public area needs a unique value; any digest will do.
    let public = [&tpl[..tpl.len() - 2], &b2(&[0x42; 32])[..]].concat();
    let r = Cmd::new(cc::LOAD_EXTERNAL)
        .tpm2b(&[])
        .tpm2b(&public)
        .u32(rh::NULL)
        .run(&mut tpm, 0);
    r.expect_ok();
    let h = u32::from_be_bytes(r.body[0..4].try_into().unwrap());
    let sig = [u16s(&[alg::HMAC, alg::SHA256]), vec![0; 32]].concat();
    verify_rc(&mut tpm, h, &[0; 32], &sig).expect_rc(RC_HANDLE_P2);
}

/// A signature verified with a key of the NULL hierarchy (LoadExternal)
/// gets the NULL ticket: nothing can vouch for such a key.
#[test]
fn external_key_gets_null_ticket() {
    let mut tpm = started();
    let k = primary(
        &mut tpm,
        ecc_tpl(GEN | SIGN, curve::NIST_P256, &[alg::ECDSA, alg::SHA256]),
        b"",
    );
    let digest = [8u8; 32];
    let sig = sign(&mut tpm, k.handle, &digest, &scheme(alg::NULL, 0));
    let (x, y) = k.point();
    let (tpl, prefix) = ecc_tpl(
        SIGN | USER_WITH_AUTH,
        curve::NIST_P256,
        &[alg::ECDSA, alg::SHA256],
    );
    let public = [&tpl[..prefix], &b2(&x)[..], &b2(&y)[..]].concat();
    let r = Cmd::new(cc::LOAD_EXTERNAL)
        .tpm2b(&[])
        .tpm2b(&public)
        .u32(rh::NULL)
        .run(&mut tpm, 0);
    r.expect_ok();
    let ext = u32::from_be_bytes(r.body[0..4].try_into().unwrap());
    assert_eq!(verify(&mut tpm, ext, &digest, &sig), (rh::NULL, vec![]));
}

/// CVE-2023-1017/1018 shape: a command whose first parameter is to be
/// decrypted by a session, with a size field larger than the bytes that
/// follow. The reference code read and wrote past the command buffer; the
/// TPM must refuse it (TPM_RC_SIZE for the session) and keep working.
#[test]
fn encrypted_parameter_size_overrun_is_refused() {
    let mut tpm = started();
    let start = |tpm: &mut Tpm| {
        let r = Cmd::new(cc::START_AUTH_SESSION)
            .handle(rh::NULL)
            .handle(rh::NULL)
            .tpm2b(&[0x22; 16])
            .tpm2b(&[])
            .u8(0) // TPM_SE_HMAC
            .bytes(&u16s(&[alg::AES, 128, alg::CFB]))
            .u16(alg::SHA256)
            .run(tpm, 0);
        r.expect_ok();
        let handle = u32::from_be_bytes(r.body[0..4].try_into().unwrap());
        let mut rd = Rd::new(&r.body[4..]);
        (handle, rd.tpm2b())
    };
    // TPM2_Hash(data, SHA-256, TPM_RH_NULL) with the data size field set
    // to `claimed` but only 10 octets of data.
    let run = |tpm: &mut Tpm, handle: u32, nonce_tpm: &[u8], claimed: u16| {
        let mut params = claimed.to_be_bytes().to_vec();
        params.extend([0xa5; 10]);
        params.extend(alg::SHA256.to_be_bytes());
        params.extend(rh::NULL.to_be_bytes());
        let cp_hash = Sha256::digest([&cc::HASH.to_be_bytes()[..], &params].concat());
        let nonce_caller = [0x33u8; 16];
        let attrs = 0x21u8; // continueSession | decrypt
                            // Unbound, unsalted: the session key and authValue are empty.
        let hmac = hmac256(
            &[],
            &[&cp_hash[..], &nonce_caller, nonce_tpm, &[attrs]].concat(),
        );
        Cmd::new(cc::HASH)
            .session(handle, &nonce_caller, attrs, &hmac)
            .bytes(&params)
            .run(tpm, 0)
    };
    let (h, nonce) = start(&mut tpm);
    for claimed in [17u16, 100, 0x400, 0xffff] {
        let r = run(&mut tpm, h, &nonce, claimed);
        // TPM_RC_SIZE for session 1 (TPM_RC_S + TPM_RC_1).
        assert_eq!(
            r.rc,
            RC_SIZE | 0x900,
            "size field {claimed}: rc {:#x}",
            r.rc
        );
        assert!(r.body.is_empty());
    }
    // The exact size is accepted (the data decrypts to something; the
    // command completes) — the check is not refusing everything.
    let (h, nonce) = start(&mut tpm);
    run(&mut tpm, h, &nonce, 10).expect_ok();
    Cmd::new(cc::GET_RANDOM).u16(8).run(&mut tpm, 0).expect_ok();
}
