//! The object store through `Tpm::execute`: creation rules and their
//! response codes, deterministic primaries (across power cycles and state
//! restores), Create/Load/Unseal, LoadExternal and ReadPublic Names,
//! persistent objects, ContextSave/ContextLoad of objects and sessions
//! (including hostile blobs), credentials, salted sessions, Duplicate and
//! Import of a key wrapped outside the TPM.
//!
//! Templates, Names, KDFs and the wrapping of imported keys are built
//! here from the spec with RustCrypto, independently of the engine.

mod common;

use aes::cipher::{AsyncStreamCipher, KeyIvInit};
use common::*;
use hmac::{Mac, SimpleHmac};
use p256::elliptic_curve::sec1::{FromEncodedPoint, ToEncodedPoint};
use sha2::Sha256;
use tpm::constants::{alg, cc, rh, su};
use tpm::Tpm;

// Response codes (Part 2 §6.6) with their numbers.
const RC_ATTRIBUTES_P2: u32 = 0x2c2;
const RC_SYMMETRIC_P2: u32 = 0x2d6;
const RC_SCHEME_P2: u32 = 0x2d2;
const RC_SIZE_P1: u32 = 0x1d5;
const RC_SIZE_P2: u32 = 0x2d5;
const RC_KDF_P2: u32 = 0x2cc;
const RC_HASH_P2: u32 = 0x2c3;
const RC_VALUE_P1: u32 = 0x1c4;
const RC_VALUE_P2: u32 = 0x2c4;
const RC_TYPE_H1: u32 = 0x18a;
const RC_TYPE_H2: u32 = 0x28a;
const RC_INTEGRITY_P1: u32 = 0x1df;
const RC_INTEGRITY_P3: u32 = 0x3df;
const RC_OBJECT_MEMORY: u32 = 0x902;
const RC_HANDLE_P1: u32 = 0x1cb;
const RC_HANDLE_H1: u32 = 0x18b;
const RC_REFERENCE_H0: u32 = 0x910;
const RC_AUTH_TYPE: u32 = 0x124;
const RC_AUTH_UNAVAILABLE: u32 = 0x12f;
const RC_AUTH_FAIL_S1: u32 = 0x98e;
const RC_BAD_AUTH_S1: u32 = 0x9a2;
const RC_ATTRIBUTES_H2: u32 = 0x282;
const RC_RANGE_P1: u32 = 0x1cd;
const RC_NV_DEFINED: u32 = 0x14c;
const RC_HIERARCHY_P3: u32 = 0x3c5;
const RC_KEY_H1: u32 = 0x19c;
const RC_SEQUENCE: u32 = 0x103;
const RC_SIZE: u32 = 0x095;

// TPMA_OBJECT bits (Part 2 §8.3).
const FIXED_TPM: u32 = 1 << 1;
const ST_CLEAR: u32 = 1 << 2;
const FIXED_PARENT: u32 = 1 << 4;
const SDO: u32 = 1 << 5;
const USER_WITH_AUTH: u32 = 1 << 6;
const ADMIN_WITH_POLICY: u32 = 1 << 7;
const NO_DA: u32 = 1 << 10;
const ENC_DUP: u32 = 1 << 11;
const RESTRICTED: u32 = 1 << 16;
const DECRYPT: u32 = 1 << 17;
const SIGN: u32 = 1 << 18;

const STORAGE: u32 = FIXED_TPM | FIXED_PARENT | SDO | USER_WITH_AUTH | RESTRICTED | DECRYPT | NO_DA;
const SIGNER: u32 = FIXED_TPM | FIXED_PARENT | SDO | USER_WITH_AUTH | SIGN | NO_DA;
const SEALED: u32 = FIXED_TPM | FIXED_PARENT | USER_WITH_AUTH;

// ---------------------------------------------------------------------------
// Templates (TPMT_PUBLIC, Part 2 §12.2.4), built byte by byte.

#[derive(Clone)]
struct Tpl {
    ty: u16,
    name_alg: u16,
    attrs: u32,
    policy: Vec<u8>,
    /// The marshalled TPMU_PUBLIC_PARMS member.
    parms: Vec<u8>,
    /// The marshalled TPMU_PUBLIC_ID member.
    unique: Vec<u8>,
}

impl Tpl {
    fn bytes(&self) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&self.ty.to_be_bytes());
        v.extend_from_slice(&self.name_alg.to_be_bytes());
        v.extend_from_slice(&self.attrs.to_be_bytes());
        v.extend_from_slice(&(self.policy.len() as u16).to_be_bytes());
        v.extend_from_slice(&self.policy);
        v.extend_from_slice(&self.parms);
        v.extend_from_slice(&self.unique);
        v
    }
    fn attrs(mut self, a: u32) -> Self {
        self.attrs = a;
        self
    }
    fn policy(mut self, p: &[u8]) -> Self {
        self.policy = p.to_vec();
        self
    }
    fn unique(mut self, u: &[u8]) -> Self {
        self.unique = u.to_vec();
        self
    }
}

fn u16s(v: &[u16]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_be_bytes()).collect()
}

fn b2(b: &[u8]) -> Vec<u8> {
    let mut v = (b.len() as u16).to_be_bytes().to_vec();
    v.extend_from_slice(b);
    v
}

/// An ECC P-256 key: symmetric (alg, bits, mode) or [NULL], scheme [alg,
/// hash] or [NULL], KDF NULL.
fn ecc(attrs: u32, sym: &[u16], scheme: &[u16]) -> Tpl {
    let mut parms = u16s(sym);
    parms.extend(u16s(scheme));
    parms.extend(u16s(&[0x0003, alg::NULL]));
    Tpl {
        ty: alg::ECC,
        name_alg: alg::SHA256,
        attrs,
        policy: vec![],
        parms,
        unique: u16s(&[0, 0]),
    }
}

fn ecc_storage() -> Tpl {
    ecc(STORAGE, &[alg::AES, 128, alg::CFB], &[alg::NULL])
}

fn ecc_signer() -> Tpl {
    ecc(SIGNER, &[alg::NULL], &[alg::ECDSA, alg::SHA256])
}

fn rsa(attrs: u32, bits: u16, sym: &[u16], scheme: &[u16]) -> Tpl {
    let mut parms = u16s(sym);
    parms.extend(u16s(scheme));
    parms.extend(bits.to_be_bytes());
    parms.extend(0u32.to_be_bytes());
    Tpl {
        ty: alg::RSA,
        name_alg: alg::SHA256,
        attrs,
        policy: vec![],
        parms,
        unique: u16s(&[0]),
    }
}

fn sealed(attrs: u32) -> Tpl {
    Tpl {
        ty: alg::KEYEDHASH,
        name_alg: alg::SHA256,
        attrs,
        policy: vec![],
        parms: u16s(&[alg::NULL]),
        unique: u16s(&[0]),
    }
}

fn hmac_key(attrs: u32) -> Tpl {
    Tpl {
        parms: u16s(&[alg::HMAC, alg::SHA256]),
        ..sealed(attrs)
    }
}

/// TPM2B_SENSITIVE_CREATE.
fn sens(auth: &[u8], data: &[u8]) -> Vec<u8> {
    let mut inner = b2(auth);
    inner.extend(b2(data));
    b2(&inner)
}

/// nameAlg || H_nameAlg(public), the nameAlg read from the public area.
fn name_of(public: &[u8]) -> Vec<u8> {
    let name_alg = u16::from_be_bytes([public[2], public[3]]);
    let mut n = name_alg.to_be_bytes().to_vec();
    n.extend(hash(name_alg, &[public]));
    n
}

// ---------------------------------------------------------------------------
// Commands.

fn started() -> (Tpm, TestClock) {
    let (mut tpm, clock) = engine(&[HashAlg::Sha256]);
    startup_clear(&mut tpm);
    (tpm, clock)
}

struct Obj {
    handle: u32,
    /// TPMT_PUBLIC as returned.
    public: Vec<u8>,
    name: Vec<u8>,
}

fn create_primary_rc(tpm: &mut Tpm, hierarchy: u32, t: &Tpl, auth: &[u8], data: &[u8]) -> Resp {
    Cmd::new(cc::CREATE_PRIMARY)
        .handle(hierarchy)
        .pw(b"")
        .bytes(&sens(auth, data))
        .tpm2b(&t.bytes())
        .tpm2b(&[])
        .u32(0)
        .run(tpm, 0)
}

fn create_primary(tpm: &mut Tpm, hierarchy: u32, t: &Tpl) -> Obj {
    let r = create_primary_rc(tpm, hierarchy, t, b"", b"");
    let handle = u32::from_be_bytes(r.body[0..4].try_into().unwrap());
    let mut p = r.params(true);
    let public = p.tpm2b();
    let _creation_data = p.tpm2b();
    let creation_hash = p.tpm2b();
    assert_eq!(p.u16(), 0x8021, "TPM_ST_CREATION");
    assert_eq!(p.u32(), hierarchy);
    assert_eq!(p.tpm2b().len(), 64, "creation ticket is an HMAC-SHA512");
    let name = p.tpm2b();
    p.end();
    assert_eq!(creation_hash.len(), 32);
    assert_eq!(name, name_of(&public), "Name = nameAlg || H(public)");
    Obj {
        handle,
        public,
        name,
    }
}

fn create_rc(tpm: &mut Tpm, parent: u32, t: &Tpl, auth: &[u8], data: &[u8]) -> Resp {
    let cmd = Cmd::new(cc::CREATE)
        .handle(parent)
        .pw(b"")
        .bytes(&sens(auth, data))
        .tpm2b(&t.bytes())
        .tpm2b(&[])
        .u32(0);
    run(tpm, cmd)
}

/// Create → (private, public).
fn create(tpm: &mut Tpm, parent: u32, t: &Tpl, auth: &[u8], data: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let r = create_rc(tpm, parent, t, auth, data);
    let mut p = r.params(false);
    let private = p.tpm2b();
    let public = p.tpm2b();
    let creation_data = p.tpm2b();
    let creation_hash = p.tpm2b();
    let name_alg = u16::from_be_bytes([public[2], public[3]]);
    assert_eq!(creation_hash, hash(name_alg, &[&creation_data]));
    (private, public)
}

fn load_rc(tpm: &mut Tpm, parent: u32, private: &[u8], public: &[u8]) -> Resp {
    let cmd = Cmd::new(cc::LOAD)
        .handle(parent)
        .pw(b"")
        .tpm2b(private)
        .tpm2b(public);
    run(tpm, cmd)
}

fn load(tpm: &mut Tpm, parent: u32, private: &[u8], public: &[u8]) -> u32 {
    let r = load_rc(tpm, parent, private, public);
    let h = u32::from_be_bytes(r.body[0..4].try_into().unwrap());
    let mut p = r.params(true);
    assert_eq!(p.tpm2b(), name_of(public));
    h
}

fn flush(tpm: &mut Tpm, h: u32) {
    Cmd::new(cc::FLUSH_CONTEXT).u32(h).run(tpm, 0).expect_ok();
}

/// ReadPublic → (public, name, qualified name).
fn read_public(tpm: &mut Tpm, h: u32) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let r = Cmd::new(cc::READ_PUBLIC).handle(h).run(tpm, 0);
    let mut p = r.params(false);
    let v = (p.tpm2b(), p.tpm2b(), p.tpm2b());
    p.end();
    v
}

fn context_save(tpm: &mut Tpm, h: u32) -> Vec<u8> {
    let r = Cmd::new(cc::CONTEXT_SAVE).handle(h).run(tpm, 0);
    r.expect_ok();
    r.body.clone()
}

fn context_load(tpm: &mut Tpm, ctx: &[u8]) -> Resp {
    Cmd::new(cc::CONTEXT_LOAD).bytes(ctx).run(tpm, 0)
}

fn loaded_handle(r: &Resp) -> u32 {
    r.expect_ok();
    u32::from_be_bytes(r.body[0..4].try_into().unwrap())
}

/// TPM_RC_RETRY: the first DA-protected authorization after a disorderly
/// startup makes the reference TPM record that DA is in use, and asks the
/// caller to retry (tpm2-tss does so by itself).
const RC_RETRY: u32 = 0x922;

/// Runs `cmd`, once more if the TPM asked for a retry.
fn run(tpm: &mut Tpm, cmd: Cmd) -> Resp {
    let r = cmd.run(tpm, 0);
    if r.rc == RC_RETRY {
        return cmd.run(tpm, 0);
    }
    r
}

fn unseal(tpm: &mut Tpm, h: u32, pw: &[u8]) -> Resp {
    run(tpm, Cmd::new(cc::UNSEAL).handle(h).pw(pw))
}

fn unsealed(r: &Resp) -> Vec<u8> {
    let mut p = r.params(false);
    let d = p.tpm2b();
    p.end();
    d
}

/// TPM2_GetCapability(TPM_CAP_HANDLES, first) → handles.
fn cap_handles(tpm: &mut Tpm, first: u32) -> Vec<u32> {
    let r = Cmd::new(cc::GET_CAPABILITY)
        .u32(1)
        .u32(first)
        .u32(64)
        .run(tpm, 0);
    let mut p = r.params(false);
    p.u8();
    assert_eq!(p.u32(), 1);
    let n = p.u32();
    (0..n).map(|_| p.u32()).collect()
}

/// The unique field of an ECC public area: (x, y).
fn ecc_point(public: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let n = public.len();
    let y = public[n - 32..].to_vec();
    let x = public[n - 34 - 32..n - 34].to_vec();
    (x, y)
}

// ---------------------------------------------------------------------------
// Independent crypto (Part 1 §11.4.10, §22–24).

fn hmac256(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut m = <SimpleHmac<Sha256> as Mac>::new_from_slice(key).unwrap();
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().to_vec()
}

/// KDFa with SHA-256; `label` without its NUL.
fn kdfa(key: &[u8], label: &[u8], u: &[u8], v: &[u8], bits: u32) -> Vec<u8> {
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

/// KDFe with SHA-256 for 256 bits; `label` without its NUL.
fn kdfe(z: &[u8], label: &[u8], u: &[u8], v: &[u8]) -> Vec<u8> {
    hash(alg::SHA256, &[&1u32.to_be_bytes(), z, label, &[0], u, v])
}

fn aes128_cfb_encrypt(key: &[u8], data: &mut [u8]) {
    cfb_mode::Encryptor::<aes::Aes128>::new(key.into(), &[0u8; 16].into()).encrypt(data);
}

/// One-pass ECDH to a P-256 key (Part 1 Annex C.6.4): returns the seed
/// and the marshalled ephemeral point.
fn ecdh_seed(qs: &(Vec<u8>, Vec<u8>), label: &[u8], d: u8) -> (Vec<u8>, Vec<u8>) {
    use p256::elliptic_curve::ops::Reduce;
    let qs_pt =
        p256::AffinePoint::from_encoded_point(&p256::EncodedPoint::from_affine_coordinates(
            qs.0.as_slice().into(),
            qs.1.as_slice().into(),
            false,
        ))
        .unwrap();
    let de = <p256::Scalar as Reduce<p256::U256>>::reduce_bytes(&[d; 32].into());
    let qe = (p256::ProjectivePoint::GENERATOR * de).to_affine();
    let z = (p256::ProjectivePoint::from(qs_pt) * de).to_affine();
    let qe_enc = qe.to_encoded_point(false);
    let z_enc = z.to_encoded_point(false);
    let qe_x = qe_enc.x().unwrap().to_vec();
    let seed = kdfe(z_enc.x().unwrap(), label, &qe_x, &qs.0);
    let mut point = b2(&qe_x);
    point.extend(b2(qe_enc.y().unwrap()));
    (seed, point)
}

// ---------------------------------------------------------------------------
// Tests.

/// Part 1 §26.3: the same template and seed give the same key, after a
/// power cycle and after the state blob is restored in a new process;
/// another unique field gives another key; the null seed changes at TPM
/// Reset only.
#[test]
fn primaries_are_deterministic() {
    let (mut tpm, clock) = started();
    let owner = create_primary(&mut tpm, rh::OWNER, &ecc_storage());
    let endorsement = create_primary(&mut tpm, rh::ENDORSEMENT, &ecc_storage());
    let null = create_primary(&mut tpm, rh::NULL, &ecc_storage());
    assert_ne!(
        owner.public, endorsement.public,
        "each hierarchy has its seed"
    );
    assert_ne!(owner.public, null.public);
    flush(&mut tpm, owner.handle);
    flush(&mut tpm, endorsement.handle);
    flush(&mut tpm, null.handle);
    let other = create_primary(
        &mut tpm,
        rh::OWNER,
        &ecc_storage().unique(&b2_pair(b"x", b"")),
    );
    assert_ne!(
        other.public, owner.public,
        "the unique field selects the key"
    );
    flush(&mut tpm, other.handle);
    let again = create_primary(&mut tpm, rh::OWNER, &ecc_storage());
    assert_eq!(again.public, owner.public);
    flush(&mut tpm, again.handle);

    // TPM Restart (Shutdown(STATE) + Startup(CLEAR)) in a new process: the
    // null seed is reset-scoped and survives.
    shutdown(&mut tpm, su::STATE).expect_ok();
    let mut tpm = reload(&tpm, &clock);
    startup_clear(&mut tpm);
    let o2 = create_primary(&mut tpm, rh::OWNER, &ecc_storage());
    let n2 = create_primary(&mut tpm, rh::NULL, &ecc_storage());
    assert_eq!(o2.public, owner.public, "owner primary after restart");
    assert_eq!(n2.public, null.public, "null primary after TPM Restart");

    // TPM Reset: a new null seed, same owner key.
    shutdown(&mut tpm, su::CLEAR).expect_ok();
    let mut tpm = reload(&tpm, &clock);
    startup_clear(&mut tpm);
    let o3 = create_primary(&mut tpm, rh::OWNER, &ecc_storage());
    let n3 = create_primary(&mut tpm, rh::NULL, &ecc_storage());
    assert_eq!(o3.public, owner.public);
    assert_ne!(n3.public, null.public, "the null seed changes at TPM Reset");
}

fn b2_pair(x: &[u8], y: &[u8]) -> Vec<u8> {
    let mut v = b2(x);
    v.extend(b2(y));
    v
}

/// An RSA-2048 storage primary is deterministic too (the RSA prime search
/// consumes only the seeded generator), and its public area keeps the
/// template apart from the modulus.
#[test]
fn rsa_primary_is_deterministic() {
    let (mut tpm, clock) = started();
    let t = rsa(STORAGE, 2048, &[alg::AES, 128, alg::CFB], &[alg::NULL]);
    let a = create_primary(&mut tpm, rh::OWNER, &t);
    let template = t.bytes();
    // Everything but the unique field is the template's.
    assert_eq!(
        &a.public[..template.len() - 2],
        &template[..template.len() - 2]
    );
    assert_eq!(a.public.len(), template.len() + 256);
    assert!(a.public[template.len()] >= 0x80, "2048-bit modulus");
    let mut tpm = reload(&tpm, &clock);
    startup_clear(&mut tpm);
    let b = create_primary(&mut tpm, rh::OWNER, &t);
    assert_eq!(a.public, b.public);
}

/// Creation rules (Part 1 §27; reference CreateChecks / SchemeChecks) and
/// their codes: the bad templates below are refused as libtpms refuses
/// them (the differential test compares the same table with swtpm).
#[test]
fn creation_rules_and_codes() {
    let (mut tpm, _) = started();
    let cases: Vec<(&str, Tpl, &[u8], u32)> = vec![
        (
            "restricted key both sign and decrypt",
            ecc_storage().attrs(STORAGE | SIGN),
            b"",
            RC_ATTRIBUTES_P2,
        ),
        (
            "fixedTPM without fixedParent",
            ecc_storage().attrs(STORAGE & !FIXED_PARENT),
            b"",
            RC_ATTRIBUTES_P2,
        ),
        (
            "asymmetric key without sensitiveDataOrigin",
            ecc_signer().attrs(SIGNER & !SDO),
            b"",
            RC_ATTRIBUTES_P2,
        ),
        (
            "storage key without symmetric",
            ecc(STORAGE, &[alg::NULL], &[alg::NULL]),
            b"",
            RC_SYMMETRIC_P2,
        ),
        (
            "signing key with a symmetric",
            ecc(
                SIGNER,
                &[alg::AES, 128, alg::CFB],
                &[alg::ECDSA, alg::SHA256],
            ),
            b"",
            RC_SYMMETRIC_P2,
        ),
        (
            "restricted signing key without scheme",
            ecc(SIGNER | RESTRICTED, &[alg::NULL], &[alg::NULL]),
            b"",
            RC_SCHEME_P2,
        ),
        (
            "storage key with a scheme",
            ecc(
                STORAGE,
                &[alg::AES, 128, alg::CFB],
                &[alg::ECDH, alg::SHA256],
            ),
            b"",
            RC_SCHEME_P2,
        ),
        (
            "decryption key with a signing scheme",
            ecc(
                SDO | USER_WITH_AUTH | DECRYPT,
                &[alg::NULL],
                &[alg::ECDSA, alg::SHA256],
            ),
            b"",
            RC_SCHEME_P2,
        ),
        (
            "authPolicy not a SHA-256 digest",
            ecc_signer().policy(&[1; 20]),
            b"",
            RC_SIZE_P2,
        ),
        (
            "encryptedDuplication on a fixedTPM key",
            ecc_signer().attrs(SIGNER | ENC_DUP),
            b"",
            RC_ATTRIBUTES_P2,
        ),
        (
            "key neither sign nor decrypt",
            ecc_signer().attrs(SIGNER & !SIGN),
            b"",
            RC_ATTRIBUTES_P2,
        ),
        (
            "sealed data object generated by the TPM",
            sealed(SEALED | SDO),
            b"",
            RC_ATTRIBUTES_P2,
        ),
        (
            "sealed data object without data",
            sealed(SEALED),
            b"",
            RC_ATTRIBUTES_P2,
        ),
    ];
    for (what, t, data, rc) in &cases {
        create_primary_rc(&mut tpm, rh::OWNER, t, b"", data).expect_rc(*rc);
        let _ = what;
    }
    // ECC keys with a KDF.
    let mut t = ecc_signer();
    let n = t.parms.len();
    t.parms[n - 2..].copy_from_slice(&alg::KDF1_SP800_108.to_be_bytes());
    t.parms.extend(alg::SHA256.to_be_bytes());
    create_primary_rc(&mut tpm, rh::OWNER, &t, b"", b"").expect_rc(RC_KDF_P2);
    // Unmarshalling: TPM_ALG_NULL nameAlg, RSA-1024.
    let mut t = ecc_signer();
    t.name_alg = alg::NULL;
    create_primary_rc(&mut tpm, rh::OWNER, &t, b"", b"").expect_rc(RC_HASH_P2);
    create_primary_rc(
        &mut tpm,
        rh::OWNER,
        &rsa(SIGNER, 1024, &[alg::NULL], &[alg::NULL]),
        b"",
        b"",
    )
    .expect_rc(RC_VALUE_P2);
    // authValue longer than the nameAlg digest (trailing zeros do not count).
    create_primary_rc(&mut tpm, rh::OWNER, &ecc_signer(), &[7; 33], b"").expect_rc(RC_SIZE_P1);
    let mut long = vec![7; 32];
    long.extend([0; 8]);
    let ok = create_primary_rc(&mut tpm, rh::OWNER, &ecc_signer(), &long, b"");
    ok.expect_ok();
    let h = u32::from_be_bytes(ok.body[0..4].try_into().unwrap());
    flush(&mut tpm, h);

    // Ordinary objects: data with sensitiveDataOrigin, a non-parent
    // parent, a non-duplicable child of another nameAlg, an HMAC key
    // longer than the hash block.
    let parent = create_primary(&mut tpm, rh::OWNER, &ecc_storage());
    create_rc(&mut tpm, parent.handle, &hmac_key(SIGNER), b"", b"k").expect_rc(RC_ATTRIBUTES_P2);
    let mut child = ecc_storage();
    child.name_alg = alg::SHA384;
    create_rc(&mut tpm, parent.handle, &child, b"", b"").expect_rc(RC_HASH_P2);
    create_rc(
        &mut tpm,
        parent.handle,
        &hmac_key(SIGNER & !SDO),
        b"",
        &[1; 65],
    )
    .expect_rc(RC_SIZE);
    let (priv_s, pub_s) = create(&mut tpm, parent.handle, &ecc_signer(), b"", b"");
    let signer = load(&mut tpm, parent.handle, &priv_s, &pub_s);
    create_rc(&mut tpm, signer, &ecc_signer(), b"", b"").expect_rc(RC_TYPE_H1);
    load_rc(&mut tpm, signer, &priv_s, &pub_s).expect_rc(RC_TYPE_H1);
}

/// Create + Load + Unseal of sealed data; authorization by the object's
/// authValue, DA-protected unless noDA; tampered or misplaced private
/// areas are refused with TPM_RC_INTEGRITY.
#[test]
fn create_load_unseal() {
    let (mut tpm, _) = started();
    let parent = create_primary(&mut tpm, rh::OWNER, &ecc_storage());
    let (private, public) = create(
        &mut tpm,
        parent.handle,
        &sealed(SEALED),
        b"pw",
        b"sealed secret",
    );
    let h = load(&mut tpm, parent.handle, &private, &public);
    assert_eq!(unsealed(&unseal(&mut tpm, h, b"pw")), b"sealed secret");
    // Trailing zeros of a password are not significant.
    assert_eq!(unsealed(&unseal(&mut tpm, h, b"pw\0\0")), b"sealed secret");
    // noDA clear: a wrong password counts against the lockout.
    unseal(&mut tpm, h, b"wrong").expect_rc(RC_AUTH_FAIL_S1);
    let (pub_rd, name, qn) = read_public(&mut tpm, h);
    assert_eq!(pub_rd, public);
    assert_eq!(name, name_of(&public));
    // QN = nameAlg || H(parent QN || Name), the primary's QN from the
    // owner handle.
    let parent_qn = {
        let mut v = alg::SHA256.to_be_bytes().to_vec();
        v.extend(hash(alg::SHA256, &[&rh::OWNER.to_be_bytes(), &parent.name]));
        v
    };
    let mut expect_qn = alg::SHA256.to_be_bytes().to_vec();
    expect_qn.extend(hash(alg::SHA256, &[&parent_qn, &name]));
    assert_eq!(qn, expect_qn);
    flush(&mut tpm, h);

    // Unseal of a key that is not sealed data.
    let (ps, us) = create(&mut tpm, parent.handle, &ecc_signer(), b"", b"");
    let k = load(&mut tpm, parent.handle, &ps, &us);
    unseal(&mut tpm, k, b"").expect_rc(RC_TYPE_H1);
    flush(&mut tpm, k);

    // Any changed octet of the private area breaks its integrity.
    for i in [0usize, 2, 20, 34, 36, 50, private.len() - 1] {
        let mut bad = private.clone();
        bad[i] ^= 0x40;
        let r = load_rc(&mut tpm, parent.handle, &bad, &public);
        assert!(
            r.rc == RC_INTEGRITY_P1 || r.rc == RC_SIZE_P1 || r.rc == 0x1da,
            "flip at {i}: rc {:#x}",
            r.rc
        );
    }
    // The private area is bound to the Name: another public area fails.
    let mut other_public = public.clone();
    other_public[7] ^= 0x40; // userWithAuth → another Name
    load_rc(&mut tpm, parent.handle, &private, &other_public).expect_rc(RC_INTEGRITY_P1);
    // And to the parent's seed.
    let other_parent = create_primary(&mut tpm, rh::ENDORSEMENT, &ecc_storage());
    load_rc(&mut tpm, other_parent.handle, &private, &public).expect_rc(RC_INTEGRITY_P1);
    load_rc(&mut tpm, parent.handle, &[], &public).expect_rc(RC_SIZE_P1);
}

/// Userwithauth clear: the USER role needs a policy session; adminWithPolicy
/// set: ObjectChangeAuth needs one too (Part 1 §19.7.4).
#[test]
fn role_rules_of_objects() {
    let (mut tpm, _) = started();
    let parent = create_primary(&mut tpm, rh::OWNER, &ecc_storage());
    let policy = [9u8; 32];
    let t = sealed(SEALED & !USER_WITH_AUTH | ADMIN_WITH_POLICY).policy(&policy);
    let (private, public) = create(&mut tpm, parent.handle, &t, b"pw", b"data");
    let h = load(&mut tpm, parent.handle, &private, &public);
    unseal(&mut tpm, h, b"pw").expect_rc(RC_AUTH_UNAVAILABLE);
    Cmd::new(cc::OBJECT_CHANGE_AUTH)
        .handle(h)
        .handle(parent.handle)
        .pw(b"pw")
        .tpm2b(b"new")
        .run(&mut tpm, 0)
        .expect_rc(RC_AUTH_TYPE);
}

/// ObjectChangeAuth: a new private area with the new authValue; the old
/// one keeps working; the parent must be the object's parent.
#[test]
fn object_change_auth() {
    let (mut tpm, _) = started();
    let parent = create_primary(&mut tpm, rh::OWNER, &ecc_storage());
    let (private, public) = create(
        &mut tpm,
        parent.handle,
        &sealed(SEALED | NO_DA),
        b"old",
        b"d",
    );
    let h = load(&mut tpm, parent.handle, &private, &public);
    let other = create_primary(&mut tpm, rh::ENDORSEMENT, &ecc_storage());
    Cmd::new(cc::OBJECT_CHANGE_AUTH)
        .handle(h)
        .handle(other.handle)
        .pw(b"old")
        .tpm2b(b"new")
        .run(&mut tpm, 0)
        .expect_rc(RC_TYPE_H2);
    flush(&mut tpm, other.handle);
    let r = Cmd::new(cc::OBJECT_CHANGE_AUTH)
        .handle(h)
        .handle(parent.handle)
        .pw(b"old")
        .tpm2b(b"new")
        .run(&mut tpm, 0);
    let mut p = r.params(false);
    let new_private = p.tpm2b();
    p.end();
    flush(&mut tpm, h);
    let h2 = load(&mut tpm, parent.handle, &new_private, &public);
    unseal(&mut tpm, h2, b"old").expect_rc(RC_BAD_AUTH_S1);
    assert_eq!(unsealed(&unseal(&mut tpm, h2, b"new")), b"d");
    flush(&mut tpm, h2);
    let h1 = load(&mut tpm, parent.handle, &private, &public);
    assert_eq!(unsealed(&unseal(&mut tpm, h1, b"old")), b"d");
}

/// Three object slots (MAX_LOADED_OBJECTS, as libtpms); TPM2_Create needs a
/// scratch slot too; FlushContext frees them.
#[test]
fn object_slots() {
    let (mut tpm, _) = started();
    let a = create_primary(&mut tpm, rh::OWNER, &ecc_storage());
    let (pr, pu) = create(&mut tpm, a.handle, &sealed(SEALED), b"", b"x");
    let b = load(&mut tpm, a.handle, &pr, &pu);
    let c = load(&mut tpm, a.handle, &pr, &pu);
    assert_eq!(
        cap_handles(&mut tpm, rh::TRANSIENT_FIRST),
        vec![a.handle, b, c]
    );
    load_rc(&mut tpm, a.handle, &pr, &pu).expect_rc(RC_OBJECT_MEMORY);
    create_rc(&mut tpm, a.handle, &sealed(SEALED), b"", b"x").expect_rc(RC_OBJECT_MEMORY);
    create_primary_rc(&mut tpm, rh::OWNER, &ecc_storage(), b"", b"").expect_rc(RC_OBJECT_MEMORY);
    flush(&mut tpm, b);
    Cmd::new(cc::FLUSH_CONTEXT)
        .u32(b)
        .run(&mut tpm, 0)
        .expect_rc(RC_HANDLE_P1);
    Cmd::new(cc::FLUSH_CONTEXT)
        .u32(rh::TRANSIENT_FIRST + 3)
        .run(&mut tpm, 0)
        .expect_rc(RC_VALUE_P1);
    unseal(&mut tpm, b, b"").expect_rc(RC_REFERENCE_H0);
    assert_eq!(load(&mut tpm, a.handle, &pr, &pu), b, "lowest free slot");
}

/// LoadExternal: public-only keys in any hierarchy, with private part only
/// in the NULL hierarchy and not looking TPM-made; the Name is computed
/// from the public area; a NULL nameAlg gives an empty Name.
#[test]
fn load_external_and_read_public() {
    let (mut tpm, _) = started();
    let k = create_primary(&mut tpm, rh::OWNER, &ecc_signer());
    flush(&mut tpm, k.handle);
    let ext = |tpm: &mut Tpm, private: &[u8], public: &[u8], hier: u32| {
        Cmd::new(cc::LOAD_EXTERNAL)
            .tpm2b(private)
            .tpm2b(public)
            .u32(hier)
            .run(tpm, 0)
    };
    let r = ext(&mut tpm, &[], &k.public, rh::OWNER);
    let h = loaded_handle(&r);
    let mut p = r.params(true);
    assert_eq!(p.tpm2b(), k.name);
    let (pub_rd, name, qn) = read_public(&mut tpm, h);
    assert_eq!((pub_rd, name.clone()), (k.public.clone(), k.name.clone()));
    assert_eq!(qn, name, "an external object's QN is its Name");
    flush(&mut tpm, h);
    // A point off the curve.
    let mut bad = k.public.clone();
    let n = bad.len();
    bad[n - 1] ^= 1;
    ext(&mut tpm, &[], &bad, rh::OWNER).expect_rc(0x2e7); // ECC_POINT param 2
                                                          // NULL nameAlg: no Name.
    let mut nameless = k.public.clone();
    nameless[2..4].copy_from_slice(&alg::NULL.to_be_bytes());
    let r = ext(&mut tpm, &[], &nameless, rh::NULL);
    let h = loaded_handle(&r);
    let mut p = r.params(true);
    assert_eq!(p.tpm2b(), Vec::<u8>::new());
    flush(&mut tpm, h);
    // A key with its private part: an HMAC key of ours.
    let seed = [3u8; 32];
    let key = b"external hmac key";
    let unique = hash(alg::SHA256, &[&seed, key]);
    let t = hmac_key(USER_WITH_AUTH | SIGN).unique(&b2(&unique));
    let mut sensitive = alg::KEYEDHASH.to_be_bytes().to_vec();
    sensitive.extend(b2(b"auth"));
    sensitive.extend(b2(&seed));
    sensitive.extend(b2(key));
    ext(&mut tpm, &sensitive, &t.bytes(), rh::OWNER).expect_rc(RC_HIERARCHY_P3);
    let fixed = t
        .clone()
        .attrs(USER_WITH_AUTH | SIGN | FIXED_TPM | FIXED_PARENT);
    ext(&mut tpm, &sensitive, &fixed.bytes(), rh::NULL).expect_rc(RC_ATTRIBUTES_P2);
    let h = loaded_handle(&ext(&mut tpm, &sensitive, &t.bytes(), rh::NULL));
    flush(&mut tpm, h);
    // Its unique must bind the key (TPM_RC_BINDING).
    let unbound = hmac_key(USER_WITH_AUTH | SIGN).unique(&b2(&[0; 32]));
    ext(&mut tpm, &sensitive, &unbound.bytes(), rh::NULL).expect_rc(0x0a5);
    // A sequence has no public area.
    let seq = Cmd::new(cc::HASH_SEQUENCE_START)
        .tpm2b(b"")
        .u16(alg::SHA256)
        .run(&mut tpm, 0);
    let s = loaded_handle(&seq);
    Cmd::new(cc::READ_PUBLIC)
        .handle(s)
        .run(&mut tpm, 0)
        .expect_rc(RC_SEQUENCE);
}

/// ContextSave / ContextLoad of an object: a new handle, the same object,
/// loadable more than once; a sequence keeps its hash state.
#[test]
fn object_context_round_trip() {
    let (mut tpm, _) = started();
    let parent = create_primary(&mut tpm, rh::OWNER, &ecc_storage());
    let (pr, pu) = create(&mut tpm, parent.handle, &sealed(SEALED), b"pw", b"ctx data");
    let h = load(&mut tpm, parent.handle, &pr, &pu);
    let saved = context_save(&mut tpm, h);
    let mut r = Rd::new(&saved);
    let seq1 = r.u64();
    assert_eq!(r.u32(), 0x8000_0000, "savedHandle of a transient object");
    assert_eq!(r.u32(), rh::OWNER, "hierarchy");
    flush(&mut tpm, h);
    flush(&mut tpm, parent.handle);
    let a = loaded_handle(&context_load(&mut tpm, &saved));
    let b = loaded_handle(&context_load(&mut tpm, &saved));
    assert_ne!(a, b);
    assert_eq!(unsealed(&unseal(&mut tpm, a, b"pw")), b"ctx data");
    assert_eq!(read_public(&mut tpm, b).1, name_of(&pu));
    let saved2 = context_save(&mut tpm, a);
    assert!(Rd::new(&saved2).u64() > seq1, "sequence numbers grow");

    // A hash sequence: save, update the saved copy's twin no more, load.
    flush(&mut tpm, a);
    flush(&mut tpm, b);
    let s = loaded_handle(
        &Cmd::new(cc::HASH_SEQUENCE_START)
            .tpm2b(b"")
            .u16(alg::SHA256)
            .run(&mut tpm, 0),
    );
    Cmd::new(cc::SEQUENCE_UPDATE)
        .handle(s)
        .pw(b"")
        .tpm2b(b"hello ")
        .run(&mut tpm, 0)
        .expect_ok();
    let sc = context_save(&mut tpm, s);
    assert_eq!(&sc[8..12], &0x8000_0001u32.to_be_bytes());
    // The sequence stays loaded; its saved copy is independent.
    Cmd::new(cc::SEQUENCE_UPDATE)
        .handle(s)
        .pw(b"")
        .tpm2b(b"other")
        .run(&mut tpm, 0)
        .expect_ok();
    let s2 = loaded_handle(&context_load(&mut tpm, &sc));
    let r = Cmd::new(cc::SEQUENCE_COMPLETE)
        .handle(s2)
        .pw(b"")
        .tpm2b(b"world")
        .u32(rh::NULL)
        .run(&mut tpm, 0);
    let mut p = r.params(false);
    assert_eq!(p.tpm2b(), hash(alg::SHA256, &[b"hello world"]));
}

/// Hostile contexts (the CVE-2021-3623 class): every changed octet,
/// truncation, or changed clear field is refused with a response code and
/// the TPM keeps working.
#[test]
fn tampered_contexts_are_refused() {
    let (mut tpm, _) = started();
    let parent = create_primary(&mut tpm, rh::OWNER, &ecc_storage());
    let saved = context_save(&mut tpm, parent.handle);
    flush(&mut tpm, parent.handle);
    // Flip each octet of the blob (after sequence, handle, hierarchy, size).
    for i in 18..saved.len() {
        let mut bad = saved.clone();
        bad[i] ^= 0x5a;
        let r = context_load(&mut tpm, &bad);
        assert_ne!(r.rc, 0, "flip at {i} accepted");
        assert!(
            [RC_INTEGRITY_P1, RC_SIZE_P1, 0x1da].contains(&r.rc),
            "flip at {i}: {:#x}",
            r.rc
        );
    }
    // The clear fields are covered by the integrity too.
    let mut seq = saved.clone();
    seq[7] ^= 1;
    context_load(&mut tpm, &seq).expect_rc(RC_INTEGRITY_P1);
    let mut st_clear = saved.clone();
    st_clear[11] = 2; // 0x80000002
    context_load(&mut tpm, &st_clear).expect_rc(RC_INTEGRITY_P1);
    let mut hier = saved.clone();
    hier[12..16].copy_from_slice(&rh::ENDORSEMENT.to_be_bytes());
    context_load(&mut tpm, &hier).expect_rc(RC_INTEGRITY_P1);
    let mut session = saved.clone();
    session[8..12].copy_from_slice(&0x0200_0000u32.to_be_bytes());
    context_load(&mut tpm, &session).expect_rc(RC_INTEGRITY_P1);
    // Not a hierarchy / not a saved handle: unmarshalling.
    let mut v = saved.clone();
    v[12..16].copy_from_slice(&rh::LOCKOUT.to_be_bytes());
    context_load(&mut tpm, &v).expect_rc(RC_VALUE_P1);
    // Truncations.
    for n in 0..saved.len() {
        let r = Cmd::new(cc::CONTEXT_LOAD)
            .bytes(&saved[..n])
            .run(&mut tpm, 0);
        assert_ne!(r.rc, 0, "truncated to {n} accepted");
    }
    // A blob whose size field claims more than it holds / an oversize one.
    let mut big = saved[..16].to_vec();
    big.extend(b2(&vec![0; 3000]));
    assert_ne!(context_load(&mut tpm, &big).rc, 0);
    // Still fine.
    let h = loaded_handle(&context_load(&mut tpm, &saved));
    assert_eq!(read_public(&mut tpm, h).1, parent.name);
}

/// Saved object contexts die with a TPM Reset (resetCount and the null
/// proof are in their protection); an stClear object's also with a TPM
/// Restart; others survive Restart and Resume.
#[test]
fn object_contexts_across_power_cycles() {
    let (mut tpm, clock) = started();
    let owner = create_primary(&mut tpm, rh::OWNER, &ecc_storage());
    let st = create_primary(
        &mut tpm,
        rh::OWNER,
        &ecc_storage().attrs(STORAGE | ST_CLEAR),
    );
    let owner_ctx = context_save(&mut tpm, owner.handle);
    let st_ctx = context_save(&mut tpm, st.handle);
    assert_eq!(&st_ctx[8..12], &0x8000_0002u32.to_be_bytes());

    // Resume: both load.
    shutdown(&mut tpm, su::STATE).expect_ok();
    let mut tpm = reload(&tpm, &clock);
    startup(&mut tpm, 0, su::STATE).expect_ok();
    let h = loaded_handle(&context_load(&mut tpm, &owner_ctx));
    let s = loaded_handle(&context_load(&mut tpm, &st_ctx));
    flush(&mut tpm, h);
    flush(&mut tpm, s);
    // Restart: the stClear one no longer.
    shutdown(&mut tpm, su::STATE).expect_ok();
    let mut tpm = reload(&tpm, &clock);
    startup_clear(&mut tpm);
    let h = loaded_handle(&context_load(&mut tpm, &owner_ctx));
    flush(&mut tpm, h);
    context_load(&mut tpm, &st_ctx).expect_rc(RC_INTEGRITY_P1);
    // Reset: neither.
    shutdown(&mut tpm, su::CLEAR).expect_ok();
    let mut tpm = reload(&tpm, &clock);
    startup_clear(&mut tpm);
    context_load(&mut tpm, &owner_ctx).expect_rc(RC_INTEGRITY_P1);
}

fn start_hmac_session(tpm: &mut Tpm) -> u32 {
    let r = Cmd::new(cc::START_AUTH_SESSION)
        .handle(rh::NULL)
        .handle(rh::NULL)
        .tpm2b(&[1; 32])
        .tpm2b(&[])
        .u8(0)
        .u16(alg::NULL)
        .u16(alg::SHA256)
        .run(tpm, 0);
    loaded_handle(&r)
}

/// A saved session keeps its handle, is listed as saved, loads exactly
/// once, and can be flushed while saved.
#[test]
fn session_context_round_trip() {
    let (mut tpm, _) = started();
    let s = start_hmac_session(&mut tpm);
    let c = context_save(&mut tpm, s);
    let mut r = Rd::new(&c);
    let _seq = r.u64();
    assert_eq!(r.u32(), s);
    assert_eq!(r.u32(), rh::NULL, "sessions are in the NULL hierarchy");
    assert_eq!(
        cap_handles(&mut tpm, 0x0200_0000),
        Vec::<u32>::new(),
        "not loaded"
    );
    assert_eq!(cap_handles(&mut tpm, 0x0300_0000), vec![s], "saved");
    // Saving again needs it loaded.
    Cmd::new(cc::CONTEXT_SAVE)
        .handle(s)
        .run(&mut tpm, 0)
        .expect_rc(RC_REFERENCE_H0);
    // Its slot stays taken.
    let other = start_hmac_session(&mut tpm);
    assert_ne!(other, s);
    flush(&mut tpm, other);
    assert_eq!(loaded_handle(&context_load(&mut tpm, &c)), s);
    assert_eq!(cap_handles(&mut tpm, 0x0200_0000), vec![s]);
    // A session context loads once.
    flush(&mut tpm, s);
    context_load(&mut tpm, &c).expect_rc(RC_HANDLE_P1);
    // A saved session can be flushed.
    let s = start_hmac_session(&mut tpm);
    let c = context_save(&mut tpm, s);
    flush(&mut tpm, s);
    assert_eq!(cap_handles(&mut tpm, 0x0300_0000), Vec::<u32>::new());
    context_load(&mut tpm, &c).expect_rc(RC_HANDLE_P1);
    // A tampered session blob.
    let s = start_hmac_session(&mut tpm);
    let c = context_save(&mut tpm, s);
    let mut bad = c.clone();
    let n = bad.len();
    bad[n - 3] ^= 1;
    context_load(&mut tpm, &bad).expect_rc(RC_INTEGRITY_P1);
    // After a TPM Reset saved sessions are gone.
    shutdown(&mut tpm, su::CLEAR).expect_ok();
    tpm.power_on();
    startup_clear(&mut tpm);
    assert_ne!(context_load(&mut tpm, &c).rc, 0);
}

/// TPM_RC_CONTEXT_GAP (Part 1 §30.5): once 0xFFFF session contexts have
/// been saved after the oldest still-saved one, no further save may reuse
/// its low bits; loading the oldest (or flushing it) frees the gap.
#[test]
fn context_gap() {
    let (mut tpm, _) = started();
    let old = start_hmac_session(&mut tpm);
    let old_ctx = context_save(&mut tpm, old);
    let s = start_hmac_session(&mut tpm);
    let mut saves = 0u32;
    let gap = loop {
        let r = Cmd::new(cc::CONTEXT_SAVE).handle(s).run(&mut tpm, 0);
        if r.rc != 0 {
            break r.rc;
        }
        saves += 1;
        assert!(saves < 70_000, "no context gap");
        loaded_handle(&context_load(&mut tpm, &r.body));
    };
    assert_eq!(gap, 0x901, "TPM_RC_CONTEXT_GAP");
    assert_eq!(saves, 0xFFFF - 4, "slot values 0..=3 are never used");
    // Two sessions are loaded (s and a new one); the last free slot may
    // only take the oldest context back.
    let _t = start_hmac_session(&mut tpm);
    // With two loaded and the gap at its maximum, a new session may not
    // take the last slot.
    Cmd::new(cc::START_AUTH_SESSION)
        .handle(rh::NULL)
        .handle(rh::NULL)
        .tpm2b(&[1; 32])
        .tpm2b(&[])
        .u8(0)
        .u16(alg::NULL)
        .u16(alg::SHA256)
        .run(&mut tpm, 0)
        .expect_rc(0x901);
    assert_eq!(loaded_handle(&context_load(&mut tpm, &old_ctx)), old);
    let again = context_save(&mut tpm, s);
    assert_eq!(loaded_handle(&context_load(&mut tpm, &again)), s);
}

/// EvictControl: persistent objects survive restarts (they are in the
/// state blob), are listed, usable as parents, removable; the rules on
/// ranges, duplicates and unpersistable objects.
#[test]
fn persistent_objects() {
    let (mut tpm, clock) = started();
    let p = create_primary(&mut tpm, rh::OWNER, &ecc_storage());
    let evict = |tpm: &mut Tpm, auth: u32, obj: u32, ph: u32| {
        Cmd::new(cc::EVICT_CONTROL)
            .handle(auth)
            .handle(obj)
            .pw(b"")
            .u32(ph)
            .run(tpm, 0)
    };
    evict(&mut tpm, rh::OWNER, p.handle, 0x8180_0000).expect_rc(RC_RANGE_P1);
    evict(&mut tpm, rh::OWNER, p.handle, 0x4000_0001).expect_rc(RC_VALUE_P1);
    evict(&mut tpm, rh::PLATFORM, p.handle, 0x8180_0000).expect_rc(0x285); // HIERARCHY h2
    tpm.take_dirty();
    evict(&mut tpm, rh::OWNER, p.handle, 0x8100_0001).expect_ok();
    assert!(
        tpm.is_dirty(),
        "the host must store the new persistent object"
    );
    evict(&mut tpm, rh::OWNER, p.handle, 0x8100_0001).expect_rc(RC_NV_DEFINED);
    let (pr, pu) = create(&mut tpm, 0x8100_0001, &sealed(SEALED), b"", b"persist");
    flush(&mut tpm, p.handle);
    // A NULL-hierarchy object and a public-only one cannot be persisted.
    let n = create_primary(&mut tpm, rh::NULL, &ecc_storage());
    evict(&mut tpm, rh::OWNER, n.handle, 0x8100_0002).expect_rc(RC_ATTRIBUTES_H2);
    flush(&mut tpm, n.handle);
    let e = loaded_handle(
        &Cmd::new(cc::LOAD_EXTERNAL)
            .tpm2b(&[])
            .tpm2b(&p.public)
            .u32(rh::OWNER)
            .run(&mut tpm, 0),
    );
    evict(&mut tpm, rh::OWNER, e, 0x8100_0002).expect_rc(RC_ATTRIBUTES_H2);
    flush(&mut tpm, e);

    // A new process: the persistent key is still there and still the
    // parent of what it wrapped.
    shutdown(&mut tpm, su::CLEAR).expect_ok();
    let mut tpm = reload(&tpm, &clock);
    startup_clear(&mut tpm);
    assert_eq!(cap_handles(&mut tpm, 0x8100_0000), vec![0x8100_0001]);
    let (pub_rd, name, _) = read_public(&mut tpm, 0x8100_0001);
    assert_eq!((pub_rd, name), (p.public.clone(), p.name.clone()));
    let h = load(&mut tpm, 0x8100_0001, &pr, &pu);
    assert_eq!(unsealed(&unseal(&mut tpm, h, b"")), b"persist");
    // A persistent object occupies a slot while it is used.
    let h2 = load(&mut tpm, 0x8100_0001, &pr, &pu);
    load_rc(&mut tpm, 0x8100_0001, &pr, &pu).expect_rc(RC_OBJECT_MEMORY);
    flush(&mut tpm, h2);
    // Evicting needs the matching handle.
    evict(&mut tpm, rh::OWNER, 0x8100_0001, 0x8100_0002).expect_rc(0x28b);
    evict(&mut tpm, rh::OWNER, 0x8100_0001, 0x8100_0001).expect_ok();
    assert_eq!(cap_handles(&mut tpm, 0x8100_0000), Vec::<u32>::new());
    unseal(&mut tpm, 0x8100_0001, b"").expect_rc(RC_HANDLE_H1);
    let mut tpm = reload(&tpm, &clock);
    startup_clear(&mut tpm);
    assert_eq!(cap_handles(&mut tpm, 0x8100_0000), Vec::<u32>::new());
}

/// A state blob whose persistent-object field is hostile (with a valid
/// checksum, as an attacker who can write the file would make it) is
/// refused whole.
#[test]
fn hostile_persistent_state_is_refused() {
    let (mut tpm, clock) = started();
    let p = create_primary(&mut tpm, rh::OWNER, &ecc_storage());
    Cmd::new(cc::EVICT_CONTROL)
        .handle(rh::OWNER)
        .handle(p.handle)
        .pw(b"")
        .u32(0x8100_0001)
        .run(&mut tpm, 0)
        .expect_ok();
    let blob = tpm.state_blob();
    // MAGIC(8) version(4) len(4) body sha256(32); body = (tag u16, len u32, value)*
    let body = &blob[16..blob.len() - 32];
    let mut fields = Vec::new();
    let mut i = 0;
    while i < body.len() {
        let tag = u16::from_be_bytes([body[i], body[i + 1]]);
        let n = u32::from_be_bytes(body[i + 2..i + 6].try_into().unwrap()) as usize;
        fields.push((tag, body[i + 6..i + 6 + n].to_vec()));
        i += 6 + n;
    }
    let rebuild = |fields: &[(u16, Vec<u8>)]| {
        let mut b = Vec::new();
        for (t, v) in fields {
            b.extend(t.to_be_bytes());
            b.extend((v.len() as u32).to_be_bytes());
            b.extend(v);
        }
        let mut out = blob[..8].to_vec();
        out.extend(&blob[8..12]);
        out.extend((b.len() as u32).to_be_bytes());
        out.extend(b);
        let sum = hash(alg::SHA256, &[&out]);
        out.extend(sum);
        out
    };
    assert_eq!(rebuild(&fields), blob, "blob layout understood");
    let idx = fields
        .iter()
        .position(|(t, _)| *t == 0x0070)
        .expect("objects field");
    let good = fields[idx].1.clone();
    let load = |b: &[u8]| Tpm::from_state(b, Drbg::new([1; 32]), Box::new(clock.clone()));
    assert!(load(&rebuild(&fields)).is_ok());
    let with = |v: &[u8]| {
        let mut f = fields.clone();
        f[idx].1 = v.to_vec();
        load(&rebuild(&f))
    };
    // Structural damage is always refused, naming the field.
    let mut structural: Vec<Vec<u8>> = (0..good.len()).map(|n| good[..n].to_vec()).collect();
    let mut huge_count = good.clone();
    huge_count[0..4].copy_from_slice(&u32::MAX.to_be_bytes());
    structural.push(huge_count);
    let mut long = good.clone();
    long.push(0);
    structural.push(long);
    let mut not_persistent = good.clone();
    not_persistent[4] = 0x80;
    structural.push(not_persistent);
    for m in &structural {
        match with(m) {
            Err(tpm::StateError::Field { tag: 0x0070, .. }) => {}
            other => panic!("{} octets: {:?}", m.len(), other.map(|_| ())),
        }
    }
    // Any changed octet is refused or still gives a working TPM (e.g. a
    // changed seedValue is a different but valid object); never a panic.
    let mut refused = 0;
    for i in 0..good.len() {
        let mut v = good.clone();
        v[i] ^= 0x81;
        match with(&v) {
            Err(e) => {
                assert!(
                    matches!(e, tpm::StateError::Field { tag: 0x0070, .. }),
                    "{e:?}"
                );
                refused += 1;
            }
            Ok(mut t) => startup_clear(&mut t),
        }
    }
    assert!(refused > 0);
}

/// MakeCredential / ActivateCredential (Part 1 §24): the credential comes
/// back only for the right key and object; the blob is integrity-bound.
#[test]
fn make_and_activate_credential() {
    let (mut tpm, _) = started();
    let ek = create_primary(&mut tpm, rh::ENDORSEMENT, &ecc_storage());
    let (apr, apu) = create(
        &mut tpm,
        ek.handle,
        &ecc_signer().attrs(SIGNER | RESTRICTED),
        b"",
        b"",
    );
    let ak = load(&mut tpm, ek.handle, &apr, &apu);
    let ak_name = name_of(&apu);
    let r = Cmd::new(cc::MAKE_CREDENTIAL)
        .handle(ek.handle)
        .tpm2b(b"the credential")
        .tpm2b(&ak_name)
        .run(&mut tpm, 0);
    let mut p = r.params(false);
    let blob = p.tpm2b();
    let secret = p.tpm2b();
    p.end();
    assert_eq!(secret.len(), 68, "an ECC point");
    let activate = |tpm: &mut Tpm, blob: &[u8], secret: &[u8]| {
        Cmd::new(cc::ACTIVATE_CREDENTIAL)
            .handle(ak)
            .handle(ek.handle)
            .pw(b"")
            .pw(b"")
            .tpm2b(blob)
            .tpm2b(secret)
            .run(tpm, 0)
    };
    let r = activate(&mut tpm, &blob, &secret);
    let mut p = r.params(false);
    assert_eq!(p.tpm2b(), b"the credential");
    let mut bad = blob.clone();
    bad[10] ^= 1;
    activate(&mut tpm, &bad, &secret).expect_rc(RC_INTEGRITY_P1);
    let mut bad_secret = secret.clone();
    bad_secret[5] ^= 1;
    assert_ne!(activate(&mut tpm, &blob, &bad_secret).rc, 0);
    // Credentials for another Name fail.
    let r = Cmd::new(cc::MAKE_CREDENTIAL)
        .handle(ek.handle)
        .tpm2b(b"c2")
        .tpm2b(&ek.name)
        .run(&mut tpm, 0);
    let mut p = r.params(false);
    let (b2_, s2) = (p.tpm2b(), p.tpm2b());
    activate(&mut tpm, &b2_, &s2).expect_rc(RC_INTEGRITY_P1);
    // The key must be a restricted decryption key; credentials at most a
    // digest long.
    Cmd::new(cc::MAKE_CREDENTIAL)
        .handle(ak)
        .tpm2b(b"c")
        .tpm2b(&ak_name)
        .run(&mut tpm, 0)
        .expect_rc(RC_TYPE_H1);
    Cmd::new(cc::MAKE_CREDENTIAL)
        .handle(ek.handle)
        .tpm2b(&[1; 33])
        .tpm2b(&ak_name)
        .run(&mut tpm, 0)
        .expect_rc(RC_SIZE_P1);

    // The credential format is the spec's: decrypt it here with the seed
    // recomputed from our own ECDH (Part 1 §24.4).
    let qs = ecc_point(&ek.public);
    let (seed, point) = ecdh_seed(&qs, b"IDENTITY", 0x11);
    let cred = b"made outside";
    let mut enc = b2(cred);
    aes128_cfb_encrypt(&kdfa(&seed, b"STORAGE", &ak_name, &[], 128), &mut enc);
    let hmac = hmac256(&kdfa(&seed, b"INTEGRITY", &[], &[], 256), &[&enc, &ak_name]);
    let mut ours = b2(&hmac);
    ours.extend(&enc);
    let r = activate(&mut tpm, &ours, &point);
    let mut p = r.params(false);
    assert_eq!(p.tpm2b(), cred);
}

/// A sealed object wrapped outside the TPM (Part 1 §23.3: a seed shared
/// with the new parent by ECDH and "DUPLICATE", outer wrap with
/// "STORAGE" / "INTEGRITY"), imported, loaded and unsealed.
#[test]
fn import_of_an_externally_wrapped_key() {
    let (mut tpm, _) = started();
    let parent = create_primary(&mut tpm, rh::OWNER, &ecc_storage());
    let secret = b"imported secret";
    let obfuscation = [0x5c; 32];
    let unique = hash(alg::SHA256, &[&obfuscation, secret]);
    let t = sealed(USER_WITH_AUTH | NO_DA).unique(&b2(&unique));
    let public = t.bytes();
    let name = name_of(&public);
    let mut sensitive = alg::KEYEDHASH.to_be_bytes().to_vec();
    sensitive.extend(b2(b"imppw"));
    sensitive.extend(b2(&obfuscation));
    sensitive.extend(b2(secret));
    let plain = b2(&sensitive);
    let (seed, point) = ecdh_seed(&ecc_point(&parent.public), b"DUPLICATE", 0x22);
    let mut enc = plain.clone();
    aes128_cfb_encrypt(&kdfa(&seed, b"STORAGE", &name, &[], 128), &mut enc);
    let hmac = hmac256(&kdfa(&seed, b"INTEGRITY", &[], &[], 256), &[&enc, &name]);
    let mut dup = b2(&hmac);
    dup.extend(&enc);
    let import = |tpm: &mut Tpm, public: &[u8], dup: &[u8], seed: &[u8]| {
        Cmd::new(cc::IMPORT)
            .handle(parent.handle)
            .pw(b"")
            .tpm2b(&[])
            .tpm2b(public)
            .tpm2b(dup)
            .tpm2b(seed)
            .u16(alg::NULL)
            .run(tpm, 0)
    };
    let r = import(&mut tpm, &public, &dup, &point);
    let mut p = r.params(false);
    let private = p.tpm2b();
    p.end();
    let h = load(&mut tpm, parent.handle, &private, &public);
    assert_eq!(unsealed(&unseal(&mut tpm, h, b"imppw")), secret);
    // A wrong seed or changed blob: integrity.
    let (_, other_point) = ecdh_seed(&ecc_point(&parent.public), b"DUPLICATE", 0x23);
    import(&mut tpm, &public, &dup, &other_point).expect_rc(RC_INTEGRITY_P3);
    let mut bad = dup.clone();
    let n = bad.len();
    bad[n - 1] ^= 1;
    import(&mut tpm, &public, &bad, &point).expect_rc(RC_INTEGRITY_P3);
    // fixedTPM objects cannot be imported.
    let fixed = t
        .clone()
        .attrs(USER_WITH_AUTH | NO_DA | FIXED_TPM | FIXED_PARENT);
    import(&mut tpm, &fixed.bytes(), &dup, &point).expect_rc(RC_ATTRIBUTES_P2);
}

/// TPM2_Duplicate with PolicyCommandCode(Duplicate) (DUP role: a password
/// is TPM_RC_AUTH_TYPE), without wrappers to TPM_RH_NULL, and Import of the
/// result under the original parent.
#[test]
fn duplicate_and_import_back() {
    let (mut tpm, _) = started();
    let parent = create_primary(&mut tpm, rh::OWNER, &ecc_storage());
    // policyDigest of PolicyCommandCode(TPM_CC_Duplicate), computed here.
    let policy = hash(
        alg::SHA256,
        &[
            &[0; 32],
            &cc::POLICY_COMMAND_CODE.to_be_bytes(),
            &cc::DUPLICATE.to_be_bytes(),
        ],
    );
    let t = sealed(USER_WITH_AUTH | NO_DA).policy(&policy);
    let (pr, pu) = create(&mut tpm, parent.handle, &t, b"dpw", b"dup data");
    let obj = load(&mut tpm, parent.handle, &pr, &pu);
    Cmd::new(cc::DUPLICATE)
        .handle(obj)
        .handle(rh::NULL)
        .pw(b"dpw")
        .tpm2b(&[])
        .u16(alg::NULL)
        .run(&mut tpm, 0)
        .expect_rc(RC_AUTH_TYPE);
    let r = Cmd::new(cc::START_AUTH_SESSION)
        .handle(rh::NULL)
        .handle(rh::NULL)
        .tpm2b(&[2; 32])
        .tpm2b(&[])
        .u8(1)
        .u16(alg::NULL)
        .u16(alg::SHA256)
        .run(&mut tpm, 0);
    let ps = loaded_handle(&r);
    Cmd::new(cc::POLICY_COMMAND_CODE)
        .handle(ps)
        .u32(cc::DUPLICATE)
        .run(&mut tpm, 0)
        .expect_ok();
    let r = Cmd::new(cc::DUPLICATE)
        .handle(obj)
        .handle(rh::NULL)
        .session(ps, &[3; 32], 0, &[])
        .tpm2b(&[])
        .u16(alg::NULL)
        .run(&mut tpm, 0);
    r.expect_ok();
    let mut rd = Rd::new(&r.body);
    let n = rd.u32() as usize;
    let mut p = Rd::new(rd.bytes(n));
    assert_eq!(p.tpm2b(), Vec::<u8>::new(), "no inner key");
    let dup = p.tpm2b();
    assert_eq!(p.tpm2b(), Vec::<u8>::new(), "no outer seed");
    // Unwrapped: the TPM2B_SENSITIVE in clear, with the padded authValue.
    let mut s = Rd::new(&dup);
    let inner = s.tpm2b();
    let mut s = Rd::new(&inner);
    assert_eq!(s.u16(), alg::KEYEDHASH);
    let mut auth = b"dpw".to_vec();
    auth.resize(32, 0);
    assert_eq!(s.tpm2b(), auth);
    let _seed = s.tpm2b();
    assert_eq!(s.tpm2b(), b"dup data");
    flush(&mut tpm, obj);
    // Import it back.
    let r = Cmd::new(cc::IMPORT)
        .handle(parent.handle)
        .pw(b"")
        .tpm2b(&[])
        .tpm2b(&pu)
        .tpm2b(&dup)
        .tpm2b(&[])
        .u16(alg::NULL)
        .run(&mut tpm, 0);
    let mut p = r.params(false);
    let private = p.tpm2b();
    let h = load(&mut tpm, parent.handle, &private, &pu);
    assert_eq!(unsealed(&unseal(&mut tpm, h, b"dpw")), b"dup data");
}

/// A salted session (Part 1 §19.6.9): the salt is encrypted to an ECC key
/// here (KDFe with "SECRET"); the session key KDFa(salt, "ATH", ...) then
/// authorizes a PCR_Extend.
#[test]
fn salted_session_with_an_ecc_key() {
    let (mut tpm, _) = started();
    let key = create_primary(&mut tpm, rh::OWNER, &ecc_storage());
    let (salt, point) = ecdh_seed(&ecc_point(&key.public), b"SECRET", 0x33);
    let nonce_caller = [4u8; 32];
    let r = Cmd::new(cc::START_AUTH_SESSION)
        .handle(key.handle)
        .handle(rh::NULL)
        .tpm2b(&nonce_caller)
        .tpm2b(&point)
        .u8(0)
        .u16(alg::NULL)
        .u16(alg::SHA256)
        .run(&mut tpm, 0);
    let s = loaded_handle(&r);
    let nonce_tpm = Rd::new(&r.body[4..]).tpm2b();
    let session_key = kdfa(&salt, b"ATH", &nonce_tpm, &nonce_caller, 256);
    let digest = [9u8; 32];
    let mut params = 1u32.to_be_bytes().to_vec();
    params.extend(alg::SHA256.to_be_bytes());
    params.extend(digest);
    let cp = hash(
        alg::SHA256,
        &[&cc::PCR_EXTEND.to_be_bytes(), &16u32.to_be_bytes(), &params],
    );
    let nc2 = [5u8; 32];
    let mac = hmac256(&session_key, &[&cp, &nc2, &nonce_tpm, &[1]]);
    Cmd::new(cc::PCR_EXTEND)
        .handle(16)
        .session(s, &nc2, 1, &mac)
        .bytes(&params)
        .run(&mut tpm, 0)
        .expect_ok();
    // Keys that cannot take a salt.
    let signer = create_primary(&mut tpm, rh::ENDORSEMENT, &ecc_signer());
    let r = Cmd::new(cc::START_AUTH_SESSION)
        .handle(signer.handle)
        .handle(rh::NULL)
        .tpm2b(&nonce_caller)
        .tpm2b(&point)
        .u8(0)
        .u16(alg::NULL)
        .u16(alg::SHA256)
        .run(&mut tpm, 0);
    r.expect_rc(0x182); // ATTRIBUTES handle 1: not a decryption key
                        // A symmetric key cannot take a salt.
    let aes = Tpl {
        ty: 0x25,
        name_alg: alg::SHA256,
        attrs: SDO | USER_WITH_AUTH | DECRYPT | SIGN,
        policy: vec![],
        parms: u16s(&[alg::AES, 128, alg::CFB]),
        unique: u16s(&[0]),
    };
    flush(&mut tpm, signer.handle);
    let sym = create_primary(&mut tpm, rh::OWNER, &aes);
    Cmd::new(cc::START_AUTH_SESSION)
        .handle(sym.handle)
        .handle(rh::NULL)
        .tpm2b(&nonce_caller)
        .tpm2b(&point)
        .u8(0)
        .u16(alg::NULL)
        .u16(alg::SHA256)
        .run(&mut tpm, 0)
        .expect_rc(RC_KEY_H1);
    // A salt that is not a point on the curve.
    let mut bad = point.clone();
    bad[40] ^= 1;
    Cmd::new(cc::START_AUTH_SESSION)
        .handle(key.handle)
        .handle(rh::NULL)
        .tpm2b(&nonce_caller)
        .tpm2b(&bad)
        .u8(0)
        .u16(alg::NULL)
        .u16(alg::SHA256)
        .run(&mut tpm, 0)
        .expect_rc(RC_VALUE_P2);
}

/// CreateLoaded: a primary (same key as CreatePrimary), an ordinary object
/// with its private area, and a key derived from a derivation parent
/// (same label and context, same key).
#[test]
fn create_loaded() {
    let (mut tpm, _) = started();
    let run = |tpm: &mut Tpm, parent: u32, template: &[u8], data: &[u8]| {
        Cmd::new(cc::CREATE_LOADED)
            .handle(parent)
            .pw(b"")
            .bytes(&sens(b"", data))
            .tpm2b(template)
            .run(tpm, 0)
    };
    let r = run(&mut tpm, rh::OWNER, &ecc_storage().bytes(), b"");
    let h = loaded_handle(&r);
    let mut p = r.params(true);
    assert_eq!(p.tpm2b(), Vec::<u8>::new(), "no private area for a primary");
    let public = p.tpm2b();
    let primary = create_primary(&mut tpm, rh::OWNER, &ecc_storage());
    assert_eq!(public, primary.public);
    flush(&mut tpm, primary.handle);
    let r = run(&mut tpm, h, &ecc_signer().bytes(), b"");
    let k = loaded_handle(&r);
    let mut p = r.params(true);
    let private = p.tpm2b();
    let kp = p.tpm2b();
    assert_eq!(p.tpm2b(), name_of(&kp));
    flush(&mut tpm, k);
    let k2 = load(&mut tpm, h, &private, &kp);
    flush(&mut tpm, k2);

    // A derivation parent: restricted decrypt KEYEDHASH with XOR and
    // SP800-108; derived ECC keys are a function of label and context.
    let dp = Tpl {
        parms: u16s(&[alg::XOR, alg::SHA256, alg::KDF1_SP800_108]),
        ..sealed(STORAGE)
    };
    let d = loaded_handle(&run(&mut tpm, h, &dp.bytes(), b""));
    flush(&mut tpm, h);
    let derived = |label: &[u8]| {
        let mut t = ecc_signer().attrs(SIGNER & !SDO).bytes();
        let n = t.len();
        t.truncate(n - 4);
        t.extend(b2(label));
        t.extend(b2(b"context"));
        t
    };
    let r1 = run(&mut tpm, d, &derived(b"label"), b"");
    let a = loaded_handle(&r1);
    let mut p = r1.params(true);
    assert_eq!(p.tpm2b(), Vec::<u8>::new(), "derived keys have no private");
    let pa = p.tpm2b();
    flush(&mut tpm, a);
    let r2 = run(&mut tpm, d, &derived(b"label"), b"");
    let b = loaded_handle(&r2);
    let mut p = r2.params(true);
    p.tpm2b();
    assert_eq!(p.tpm2b(), pa, "same label and context, same key");
    flush(&mut tpm, b);
    let r3 = run(&mut tpm, d, &derived(b"other"), b"");
    let mut p = r3.params(true);
    p.tpm2b();
    assert_ne!(p.tpm2b(), pa);
    // sensitiveDataOrigin cannot be set on a derived key.
    let mut t = ecc_signer().bytes();
    let n = t.len();
    t.truncate(n - 4);
    t.extend(b2(b"l"));
    t.extend(b2(b"c"));
    flush(&mut tpm, loaded_handle(&r3));
    run(&mut tpm, d, &t, b"").expect_rc(0x082);
}

/// The SM2 EK of the TCG EK Credential Profile (template H-5: SM2-P256,
/// SM3-256 nameAlg, SM4-128-CFB, high-range attributes), which libtpms
/// cannot create: the public area is the template's apart from the key,
/// the Name is SM3-based, and a credential protected by it (SM3 KDFs, SM4
/// wrap) activates.
#[test]
fn sm2_ek_template_and_credential() {
    let (mut tpm, _) = started();
    const SM4: u16 = 0x0013;
    const SM2_P256: u16 = 0x0020;
    let attrs =
        FIXED_TPM | FIXED_PARENT | SDO | USER_WITH_AUTH | ADMIN_WITH_POLICY | RESTRICTED | DECRYPT;
    let parms = u16s(&[SM4, 128, alg::CFB, alg::NULL, SM2_P256, alg::NULL]);
    let t = Tpl {
        ty: alg::ECC,
        name_alg: alg::SM3_256,
        attrs,
        policy: vec![0x16; 32],
        parms,
        unique: u16s(&[0, 0]),
    };
    let r = create_primary_rc(&mut tpm, rh::ENDORSEMENT, &t, b"", b"");
    let ek = loaded_handle(&r);
    let mut p = r.params(true);
    let public = p.tpm2b();
    let template = t.bytes();
    assert_eq!(
        &public[..template.len() - 4],
        &template[..template.len() - 4]
    );
    assert_eq!(public.len(), template.len() + 64, "a 256-bit point");
    p.tpm2b();
    p.tpm2b();
    p.u16();
    p.u32();
    p.tpm2b();
    let name = p.tpm2b();
    let mut expect = alg::SM3_256.to_be_bytes().to_vec();
    expect.extend(hash(alg::SM3_256, &[&public]));
    assert_eq!(name, expect, "Name = TPM_ALG_SM3_256 || SM3(public)");
    // An SM2 signing key under it, and a credential for it.
    let ak_t = Tpl {
        ty: alg::ECC,
        name_alg: alg::SM3_256,
        attrs: SIGNER | RESTRICTED,
        policy: vec![],
        parms: u16s(&[alg::NULL, 0x001B, alg::SM3_256, SM2_P256, alg::NULL]),
        unique: u16s(&[0, 0]),
    };
    let (apr, apu) = create(&mut tpm, ek, &ak_t, b"", b"");
    let ak = load(&mut tpm, ek, &apr, &apu);
    let ak_name = read_public(&mut tpm, ak).1;
    let r = Cmd::new(cc::MAKE_CREDENTIAL)
        .handle(ek)
        .tpm2b(b"sm2 credential")
        .tpm2b(&ak_name)
        .run(&mut tpm, 0);
    let mut p = r.params(false);
    let (blob, secret) = (p.tpm2b(), p.tpm2b());
    let cmd = Cmd::new(cc::ACTIVATE_CREDENTIAL)
        .handle(ak)
        .handle(ek)
        .pw(b"")
        .pw(b"")
        .tpm2b(&blob)
        .tpm2b(&secret);
    let r = run(&mut tpm, cmd);
    let mut p = r.params(false);
    assert_eq!(p.tpm2b(), b"sm2 credential");
}
