//! Raw TPM 2.0 commands for the key, signing and attestation benchmarks,
//! built with this crate's wire types ([`Public`], [`AuthCommand`], ...
//! and [`Codec::encode`]) so a template is written once, field by field,
//! instead of as hex; and readers for the responses.
//!
//! Shared by the in-process criterion bench (`crates/tpm/benches/engine.rs`,
//! `mod commands;`) and the TCP side-by-side bench against swtpm
//! (`crates/cli/benches/keys_vs_swtpm.rs`, through `#[path]`), so both
//! time byte-identical commands. Bench code: a malformed response is a
//! failed run, so the readers panic on it.
#![allow(dead_code)]

use tpm::constants::{alg, cc, curve, rh, session_attr, st, su};
use tpm::crypto::HashAlg;
use tpm::types::{AsymScheme, SensitiveCreate2b};
use tpm::types::{
    Attest2b, AuthCommand, CreationData2b, Data2b, Digest2b, EccParms, EccPoint, EncryptedSecret2b,
    IdObject2b, KdfScheme, Name, Nonce2b, ObjectAttributes, PcrSelection, PcrSelectionList,
    Private2b, Public, Public2b, PublicId, PublicParms, RsaParms, SessionType, SigScheme,
    Signature, SymDef, SymDefObject, TkCreation, TkHashcheck,
};
use tpm::wire::{Codec, Reader, Tpm2b};

/// TPM2_PolicySecret(TPM_RH_ENDORSEMENT) with an empty policyRef: the
/// authPolicy of the TCG EK templates (TCG EK Credential Profile 2.x
/// §B.3.2, PolicyA_SHA256), which makes the EK usable only through a policy
/// session proving knowledge of the endorsement hierarchy's auth.
pub const EK_POLICY_SHA256: [u8; 32] = [
    0x83, 0x71, 0x97, 0x67, 0x44, 0x84, 0xb3, 0xf8, 0x1a, 0x90, 0xcc, 0x8d, 0x46, 0xa5, 0xd7, 0x24,
    0xfd, 0x52, 0xd7, 0x6e, 0x06, 0x52, 0x0b, 0x64, 0xf2, 0xa1, 0xda, 0x1b, 0x33, 0x14, 0x69, 0xaa,
];

/// TPMA_OBJECT of the EK templates L-1/L-2: fixedTPM, fixedParent,
/// sensitiveDataOrigin, adminWithPolicy, restricted, decrypt (0x000300B2);
/// no userWithAuth, so USER actions need the policy.
const EK_ATTRIBUTES: u32 = ObjectAttributes::FIXED_TPM
    | ObjectAttributes::FIXED_PARENT
    | ObjectAttributes::SENSITIVE_DATA_ORIGIN
    | ObjectAttributes::ADMIN_WITH_POLICY
    | ObjectAttributes::RESTRICTED
    | ObjectAttributes::DECRYPT;

/// fixedTPM, fixedParent, sensitiveDataOrigin, userWithAuth: a key the
/// TPM generated, never leaves it, and is used with its password.
const KEY_BASE: u32 = ObjectAttributes::FIXED_TPM
    | ObjectAttributes::FIXED_PARENT
    | ObjectAttributes::SENSITIVE_DATA_ORIGIN
    | ObjectAttributes::USER_WITH_AUTH;

const AES_128_CFB: SymDefObject = SymDefObject::Cipher {
    alg: alg::AES,
    key_bits: 128,
    mode: alg::CFB,
};

fn public(
    attributes: u32,
    auth_policy: &[u8],
    parameters: PublicParms,
    unique: PublicId,
) -> Public {
    Public::new(
        alg::SHA256,
        ObjectAttributes::new(attributes).expect("valid attributes"),
        Digest2b::new(auth_policy.to_vec()).expect("policy fits"),
        parameters,
        unique,
    )
    .expect("consistent public area")
}

fn ecc_unique(bytes: usize) -> PublicId {
    PublicId::Ecc(EccPoint {
        x: Tpm2b::new(vec![0; bytes]).expect("fits"),
        y: Tpm2b::new(vec![0; bytes]).expect("fits"),
    })
}

fn ecc_p256(symmetric: SymDefObject, scheme: AsymScheme) -> PublicParms {
    PublicParms::Ecc(EccParms {
        symmetric,
        scheme,
        curve_id: curve::NIST_P256,
        kdf: KdfScheme::Null,
    })
}

fn rsa_2048(symmetric: SymDefObject, scheme: AsymScheme) -> PublicParms {
    PublicParms::Rsa(RsaParms {
        symmetric,
        scheme,
        key_bits: 2048,
        exponent: 0,
    })
}

/// The ECC P-256 storage root key template of the TCG TPM v2.0
/// Provisioning Guidance (§7.5.1): a restricted decryption key protecting
/// its children with AES-128-CFB, usable with its (empty) password, noDA.
pub fn srk_ecc_p256() -> Public {
    public(
        KEY_BASE
            | ObjectAttributes::NO_DA
            | ObjectAttributes::RESTRICTED
            | ObjectAttributes::DECRYPT,
        &[],
        ecc_p256(AES_128_CFB, AsymScheme::Null),
        ecc_unique(32),
    )
}

/// TCG EK Credential Profile template L-2: ECC NIST P-256 EK, AES-128-CFB,
/// zero-filled 32-byte unique coordinates.
pub fn ek_ecc_p256() -> Public {
    public(
        EK_ATTRIBUTES,
        &EK_POLICY_SHA256,
        ecc_p256(AES_128_CFB, AsymScheme::Null),
        ecc_unique(32),
    )
}

/// TCG EK Credential Profile template L-1: RSA-2048 EK, AES-128-CFB,
/// default exponent, zero-filled 256-byte unique.
pub fn ek_rsa_2048() -> Public {
    public(
        EK_ATTRIBUTES,
        &EK_POLICY_SHA256,
        rsa_2048(AES_128_CFB, AsymScheme::Null),
        PublicId::Rsa(Tpm2b::new(vec![0; 256]).expect("fits")),
    )
}

/// An attestation key: restricted ECDSA-P256/SHA-256 signing key (what
/// `tpm2_createak -G ecc` and go-attestation make). Restricted, so it only
/// signs TPM-generated structures (Part 1 §25.2.5).
pub fn ak_ecc_p256() -> Public {
    public(
        KEY_BASE | ObjectAttributes::RESTRICTED | ObjectAttributes::SIGN_ENCRYPT,
        &[],
        ecc_p256(SymDefObject::Null, AsymScheme::Ecdsa(alg::SHA256)),
        PublicId::Ecc(EccPoint::default()),
    )
}

/// An unrestricted ECDSA-P256/SHA-256 signing key.
pub fn signer_ecc_p256() -> Public {
    public(
        KEY_BASE | ObjectAttributes::SIGN_ENCRYPT,
        &[],
        ecc_p256(SymDefObject::Null, AsymScheme::Ecdsa(alg::SHA256)),
        PublicId::Ecc(EccPoint::default()),
    )
}

/// An unrestricted RSASSA-PKCS1-v1_5/SHA-256 RSA-2048 signing key.
pub fn signer_rsa_2048() -> Public {
    public(
        KEY_BASE | ObjectAttributes::SIGN_ENCRYPT,
        &[],
        rsa_2048(SymDefObject::Null, AsymScheme::Rsassa(alg::SHA256)),
        PublicId::Rsa(Tpm2b::empty()),
    )
}

/// `template` with `round` in the first four octets of its unique field,
/// so each round derives a different primary key from the same seed
/// (Part 1 §26.3: unique is part of the derivation). The cost of deriving
/// an RSA key depends on how far the prime search runs from the seed, so a
/// fixed template would time one key, lucky or not, per TPM instance.
pub fn with_round(template: &Public, round: u32) -> Public {
    let mut t = template.clone();
    let field = match &mut t.unique {
        PublicId::Rsa(n) => &mut n.0,
        PublicId::Ecc(p) => &mut p.x.0,
        PublicId::KeyedHash(d) | PublicId::SymCipher(d) => &mut d.0,
    };
    if field.len() < 4 {
        field.resize(4, 0);
    }
    field[..4].copy_from_slice(&round.to_be_bytes());
    t
}

/// The password session (TPM_RS_PW) with an empty password.
pub fn pw() -> AuthCommand {
    AuthCommand {
        session_handle: rh::PW,
        nonce: Nonce2b::empty(),
        attributes: session_attr::CONTINUE_SESSION,
        hmac: Default::default(),
    }
}

/// A policy session used once: continueSession clear, so the TPM flushes
/// it after the command. No HMAC: the EK policy has no PolicyAuthValue or
/// PolicyPassword (Part 1 §19.6.13).
pub fn policy_once(session: u32) -> AuthCommand {
    AuthCommand {
        session_handle: session,
        nonce: Nonce2b::new(vec![0x5c; 32]).expect("fits"),
        attributes: 0,
        hmac: Default::default(),
    }
}

/// A command: header, handle area, authorization area (TPM_ST_SESSIONS if
/// there are sessions), parameters (Part 1 §18).
pub fn command(code: u32, handles: &[u32], sessions: &[AuthCommand], params: &[u8]) -> Vec<u8> {
    let tag = if sessions.is_empty() {
        st::NO_SESSIONS
    } else {
        st::SESSIONS
    };
    let mut v = Vec::with_capacity(64 + params.len());
    tag.encode(&mut v);
    0u32.encode(&mut v); // commandSize, patched below
    code.encode(&mut v);
    for h in handles {
        h.encode(&mut v);
    }
    if !sessions.is_empty() {
        let mut area = Vec::new();
        for s in sessions {
            s.encode(&mut area);
        }
        (area.len() as u32).encode(&mut v);
        v.extend_from_slice(&area);
    }
    v.extend_from_slice(params);
    let size = (v.len() as u32).to_be_bytes();
    v[2..6].copy_from_slice(&size);
    v
}

pub fn startup_clear() -> Vec<u8> {
    command(cc::STARTUP, &[], &[], &su::CLEAR.to_be_bytes())
}

pub fn flush_context(handle: u32) -> Vec<u8> {
    command(cc::FLUSH_CONTEXT, &[], &[], &handle.to_be_bytes())
}

/// TPM2_CreatePrimary (Part 3 §24.1) under `hierarchy` with its empty
/// password: empty inSensitive, no outsideInfo, no creation PCRs.
pub fn create_primary(hierarchy: u32, template: &Public) -> Vec<u8> {
    let mut p = Vec::new();
    SensitiveCreate2b::default().encode(&mut p);
    Public2b(template.clone()).encode(&mut p);
    Data2b::empty().encode(&mut p);
    PcrSelectionList::default().encode(&mut p);
    command(cc::CREATE_PRIMARY, &[hierarchy], &[pw()], &p)
}

/// TPM2_Create (Part 3 §12.1) of `template` under `parent`.
pub fn create(parent: u32, auth: AuthCommand, template: &Public) -> Vec<u8> {
    let mut p = Vec::new();
    SensitiveCreate2b::default().encode(&mut p);
    Public2b(template.clone()).encode(&mut p);
    Data2b::empty().encode(&mut p);
    PcrSelectionList::default().encode(&mut p);
    command(cc::CREATE, &[parent], &[auth], &p)
}

/// TPM2_Load (Part 3 §12.2).
pub fn load(parent: u32, auth: AuthCommand, private: &Private2b, public: &Public2b) -> Vec<u8> {
    let mut p = Vec::new();
    private.encode(&mut p);
    public.encode(&mut p);
    command(cc::LOAD, &[parent], &[auth], &p)
}

/// TPM2_StartAuthSession (Part 3 §11.1) of an unsalted, unbound SHA-256
/// policy session without parameter encryption.
pub fn start_policy_session() -> Vec<u8> {
    let mut p = Vec::new();
    Nonce2b::new(vec![0xa5; 32]).expect("fits").encode(&mut p);
    EncryptedSecret2b::empty().encode(&mut p);
    SessionType::Policy.encode(&mut p);
    SymDef::Null.encode(&mut p);
    alg::SHA256.encode(&mut p);
    command(cc::START_AUTH_SESSION, &[rh::NULL, rh::NULL], &[], &p)
}

/// TPM2_PolicySecret (Part 3 §23.4) with `auth_handle`'s empty password:
/// no nonceTPM, cpHashA or policyRef, no expiration.
pub fn policy_secret(auth_handle: u32, session: u32) -> Vec<u8> {
    let mut p = Vec::new();
    Nonce2b::empty().encode(&mut p);
    Digest2b::empty().encode(&mut p);
    Nonce2b::empty().encode(&mut p);
    0i32.encode(&mut p);
    command(cc::POLICY_SECRET, &[auth_handle, session], &[pw()], &p)
}

/// The SHA-256 bank, PCRs 0–23 (what go-attestation quotes).
pub fn sha256_pcrs() -> PcrSelectionList {
    PcrSelectionList(vec![PcrSelection::with(
        HashAlg::Sha256,
        &(0..24).collect::<Vec<_>>(),
    )])
}

/// TPM2_Quote (Part 3 §18.4) with the key's own scheme (inScheme NULL).
pub fn quote(key: u32, qualifying_data: &[u8], pcrs: &PcrSelectionList) -> Vec<u8> {
    let mut p = Vec::new();
    Data2b::new(qualifying_data.to_vec())
        .expect("fits")
        .encode(&mut p);
    SigScheme::Null.encode(&mut p);
    pcrs.encode(&mut p);
    command(cc::QUOTE, &[key], &[pw()], &p)
}

/// TPM2_Sign (Part 3 §20.2) of `digest` with the key's own scheme and a
/// NULL hashcheck ticket (fine for an unrestricted key).
pub fn sign(key: u32, digest: &[u8]) -> Vec<u8> {
    let mut p = Vec::new();
    Digest2b::new(digest.to_vec()).expect("fits").encode(&mut p);
    SigScheme::Null.encode(&mut p);
    TkHashcheck::null().encode(&mut p);
    command(cc::SIGN, &[key], &[pw()], &p)
}

/// TPM2_MakeCredential (Part 3 §12.6): no authorization.
pub fn make_credential(key: u32, credential: &[u8], object_name: &Name) -> Vec<u8> {
    let mut p = Vec::new();
    Digest2b::new(credential.to_vec())
        .expect("fits")
        .encode(&mut p);
    object_name.encode(&mut p);
    command(cc::MAKE_CREDENTIAL, &[key], &[], &p)
}

/// TPM2_ActivateCredential (Part 3 §12.5): `activate` (ADMIN role) with
/// its password, `key` (USER role) with `key_auth`.
pub fn activate_credential(
    activate: u32,
    key: u32,
    key_auth: AuthCommand,
    blob: &IdObject2b,
    secret: &EncryptedSecret2b,
) -> Vec<u8> {
    let mut p = Vec::new();
    blob.encode(&mut p);
    secret.encode(&mut p);
    command(
        cc::ACTIVATE_CREDENTIAL,
        &[activate, key],
        &[pw(), key_auth],
        &p,
    )
}

/// The response code of a response.
pub fn rc(resp: &[u8]) -> u32 {
    u32::from_be_bytes([resp[6], resp[7], resp[8], resp[9]])
}

/// A successful response split into its `handles` output handles and a
/// reader over its parameters (after parameterSize when the response
/// carries sessions).
pub fn parse(resp: &[u8], handles: usize) -> (Vec<u32>, Reader<'_>) {
    assert_eq!(rc(resp), 0, "response code {:#x}", rc(resp));
    let mut r = Reader::new(resp);
    let tag = r.u16().expect("tag");
    r.u32().expect("size");
    r.u32().expect("rc");
    let hs = (0..handles).map(|_| r.u32().expect("handle")).collect();
    if tag == st::SESSIONS {
        let n = r.u32().expect("parameterSize") as usize;
        r = r.sub(n).expect("parameters");
    }
    (hs, r)
}

/// A CreatePrimary response: the object's handle, public area and Name.
pub fn created_primary(resp: &[u8]) -> (u32, Public, Name) {
    let (h, mut r) = parse(resp, 1);
    let public = Public2b::decode(&mut r).expect("outPublic").0;
    CreationData2b::decode(&mut r).expect("creationData");
    Digest2b::decode(&mut r).expect("creationHash");
    TkCreation::decode(&mut r).expect("creationTicket");
    let name = Name::decode(&mut r).expect("name");
    (h[0], public, name)
}

/// A Create response: outPrivate and outPublic.
pub fn created(resp: &[u8]) -> (Private2b, Public2b) {
    let (_, mut r) = parse(resp, 0);
    let private = Private2b::decode(&mut r).expect("outPrivate");
    let public = Public2b::decode(&mut r).expect("outPublic");
    (private, public)
}

/// A Load response: the object's handle and Name.
pub fn loaded(resp: &[u8]) -> (u32, Name) {
    let (h, mut r) = parse(resp, 1);
    (h[0], Name::decode(&mut r).expect("name"))
}

/// The handle a response returns (StartAuthSession, CreatePrimary, Load).
pub fn out_handle(resp: &[u8]) -> u32 {
    parse(resp, 1).0[0]
}

/// A MakeCredential response: credentialBlob and secret.
pub fn made_credential(resp: &[u8]) -> (IdObject2b, EncryptedSecret2b) {
    let (_, mut r) = parse(resp, 0);
    let blob = IdObject2b::decode(&mut r).expect("credentialBlob");
    let secret = EncryptedSecret2b::decode(&mut r).expect("secret");
    (blob, secret)
}

/// An ActivateCredential response: the recovered credential.
pub fn activated(resp: &[u8]) -> Vec<u8> {
    let (_, mut r) = parse(resp, 0);
    Digest2b::decode(&mut r).expect("certInfo").0
}

/// A Quote response: the attestation (TPMS_ATTEST bytes) and its signature.
pub fn quoted(resp: &[u8]) -> (Attest2b, Signature) {
    let (_, mut r) = parse(resp, 0);
    let attest = Attest2b::decode(&mut r).expect("quoted");
    let sig = Signature::decode(&mut r).expect("signature");
    (attest, sig)
}

/// A Sign response's signature.
pub fn signed(resp: &[u8]) -> Signature {
    let (_, mut r) = parse(resp, 0);
    Signature::decode(&mut r).expect("signature")
}
