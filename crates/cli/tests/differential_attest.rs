//! Differential tests of attestation against swtpm (libtpms): the same raw
//! commands go to `swtpm socket --tpm2` and `trustcloud tpm serve
//! --protocol swtpm`.
//!
//! * A quote made by one TPM verifies with the other's
//!   TPM2_VerifySignature after TPM2_LoadExternal of the signer's public
//!   area, both ways, for ECDSA and RSASSA attestation keys.
//! * For the same inputs (the same external key, PCR values, NV index,
//!   session and audited commands) the deterministic parts of every
//!   attestation structure are equal: qualifiedSigner, extraData and the
//!   attested union of Quote, Certify, NV_Certify (range and digest),
//!   GetTime's header, GetSessionAuditDigest and GetCommandAuditDigest.
//!
//! Not compared: signatures (random nonces), Clock and Time, and — for keys
//! outside the endorsement and platform hierarchies — resetCount,
//! restartCount and firmwareVersion, which each TPM masks with its own
//! owner proof.

mod support;

use support::raw::{command, pw, session, tpm2b, u16b, u16s, u32b};
use support::{Protocol, RawConn, Server, ServerBuilder, UNDER_TEST_ENV};
use tpm::crypto::{ecc, EccCurve, EccKeyPair};
use tpm::types::{Attest, Attested, Signature};
use tpm::wire::Codec;

const OWNER: u32 = 0x4000_0001;
const NULL_H: u32 = 0x4000_0007;
const ENDORSEMENT: u32 = 0x4000_000B;

const CC_NV_DEFINE_SPACE: u32 = 0x12A;
const CC_CREATE_PRIMARY: u32 = 0x131;
const CC_GET_COMMAND_AUDIT_DIGEST: u32 = 0x133;
const CC_NV_WRITE: u32 = 0x137;
const CC_SET_COMMAND_CODE_AUDIT_STATUS: u32 = 0x140;
const CC_STARTUP: u32 = 0x144;
const CC_CERTIFY: u32 = 0x148;
const CC_GET_TIME: u32 = 0x14C;
const CC_GET_SESSION_AUDIT_DIGEST: u32 = 0x14D;
const CC_QUOTE: u32 = 0x158;
const CC_FLUSH: u32 = 0x165;
const CC_LOAD_EXTERNAL: u32 = 0x167;
const CC_START_AUTH_SESSION: u32 = 0x176;
const CC_VERIFY_SIGNATURE: u32 = 0x177;
const CC_GET_CAPABILITY: u32 = 0x17A;
const CC_PCR_READ: u32 = 0x17E;
const CC_PCR_EXTEND: u32 = 0x182;
const CC_NV_CERTIFY: u32 = 0x184;

const SHA256: u16 = 0x0B;
const NULL: u16 = 0x10;
const RSA: u16 = 0x01;
const ECC: u16 = 0x23;
const ECDSA: u16 = 0x18;
const RSASSA: u16 = 0x14;
const NIST_P256: u16 = 0x0003;

const FIXED_TPM: u32 = 1 << 1;
const FIXED_PARENT: u32 = 1 << 4;
const SDO: u32 = 1 << 5;
const USER_WITH_AUTH: u32 = 1 << 6;
const NO_DA: u32 = 1 << 10;
const RESTRICTED: u32 = 1 << 16;
const SIGN: u32 = 1 << 18;
/// An attestation key: restricted signing, generated in the TPM.
const AK: u32 = FIXED_TPM | FIXED_PARENT | SDO | USER_WITH_AUTH | RESTRICTED | SIGN | NO_DA;

const NV_AUTHWRITE: u32 = 1 << 2;
const NV_AUTHREAD: u32 = 1 << 18;
const NV_NO_DA: u32 = 1 << 25;

/// TPMA_SESSION: continueSession | audit.
const AUDIT_CONTINUE: u8 = 0x81;

// ---------------------------------------------------------------------------
// Raw command building.

/// TPML_PCR_SELECTION of one SHA-256 selection.
fn sha256_pcrs(pcrs: &[u32]) -> Vec<u8> {
    let mut bits = [0u8; 3];
    for p in pcrs {
        bits[(*p / 8) as usize] |= 1 << (p % 8);
    }
    let mut v = u32b(1).to_vec();
    v.extend(u16b(SHA256));
    v.push(3);
    v.extend(bits);
    v
}

fn sha256(parts: &[&[u8]]) -> Vec<u8> {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().to_vec()
}

// ---------------------------------------------------------------------------
// Response parsing.

fn rc(resp: &[u8]) -> u32 {
    u32::from_be_bytes(resp[6..10].try_into().unwrap())
}

struct Rd<'a>(&'a [u8], usize);

impl<'a> Rd<'a> {
    fn take(&mut self, n: usize) -> &'a [u8] {
        let s = &self.0[self.1..self.1 + n];
        self.1 += n;
        s
    }
    fn u16(&mut self) -> u16 {
        u16::from_be_bytes(self.take(2).try_into().unwrap())
    }
    fn u32(&mut self) -> u32 {
        u32::from_be_bytes(self.take(4).try_into().unwrap())
    }
    fn tpm2b(&mut self) -> Vec<u8> {
        let n = self.u16() as usize;
        self.take(n).to_vec()
    }
    fn rest(&self) -> &'a [u8] {
        &self.0[self.1..]
    }
}

/// The handle and parameter area of a successful response.
fn params(resp: &[u8], has_handle: bool) -> (u32, Vec<u8>) {
    assert_eq!(rc(resp), 0, "command failed: {}", hex::encode(resp));
    let tag = u16::from_be_bytes([resp[0], resp[1]]);
    let mut r = Rd(resp, 10);
    let h = if has_handle { r.u32() } else { 0 };
    let p = if tag == 0x8002 {
        let n = r.u32() as usize;
        r.take(n).to_vec()
    } else {
        resp[r.1..].to_vec()
    };
    (h, p)
}

/// An attestation response: (TPMS_ATTEST bytes, parsed, signature).
fn attestation(resp: &[u8]) -> (Vec<u8>, Attest, Signature) {
    let (_, p) = params(resp, false);
    let mut r = Rd(&p, 0);
    let bytes = r.tpm2b();
    let sig = Signature::from_bytes(r.rest()).expect("TPMT_SIGNATURE");
    let attest = Attest::from_bytes(&bytes).expect("TPMS_ATTEST");
    (bytes, attest, sig)
}

// ---------------------------------------------------------------------------
// The two TPMs.

struct Tpm {
    conn: RawConn,
    _server: Server,
}

impl Tpm {
    fn start(swtpm: bool) -> Tpm {
        let server = if swtpm {
            ServerBuilder::swtpm().start()
        } else {
            ServerBuilder::trustcloud(Protocol::Swtpm).start()
        };
        let conn = RawConn::connect(server.addr()).expect("connect");
        let mut t = Tpm {
            conn,
            _server: server,
        };
        let r = t.x(&command(CC_STARTUP, &[], &[], &u16b(0)));
        assert_eq!(rc(&r), 0, "startup");
        t
    }

    fn x(&mut self, cmd: &[u8]) -> Vec<u8> {
        self.conn.transmit(cmd).expect("exchange")
    }

    fn ok(&mut self, cmd: &[u8]) -> Vec<u8> {
        let r = self.x(cmd);
        assert_eq!(
            rc(&r),
            0,
            "command {}: {}",
            hex::encode(cmd),
            hex::encode(&r)
        );
        r
    }

    fn flush(&mut self, h: u32) {
        self.ok(&command(CC_FLUSH, &[], &[], &u32b(h)));
    }

    /// CreatePrimary with an empty sensitive area → (handle, TPMT_PUBLIC).
    fn create_primary(&mut self, hierarchy: u32, template: &[u8]) -> (u32, Vec<u8>) {
        let mut p = tpm2b(&[0, 0, 0, 0]);
        p.extend(tpm2b(template));
        p.extend(tpm2b(&[]));
        p.extend(u32b(0));
        let r = self.ok(&command(CC_CREATE_PRIMARY, &[hierarchy], &[pw(&[])], &p));
        let (h, p) = params(&r, true);
        (h, Rd(&p, 0).tpm2b())
    }

    /// LoadExternal → (handle, Name).
    fn load_external(&mut self, sensitive: &[u8], public: &[u8], hierarchy: u32) -> (u32, Vec<u8>) {
        let mut p = tpm2b(sensitive);
        p.extend(tpm2b(public));
        p.extend(u32b(hierarchy));
        let r = self.ok(&command(CC_LOAD_EXTERNAL, &[], &[], &p));
        let (h, p) = params(&r, true);
        (h, Rd(&p, 0).tpm2b())
    }

    fn quote(&mut self, key: u32, nonce: &[u8]) -> Vec<u8> {
        let mut p = tpm2b(nonce);
        p.extend(u16b(NULL));
        p.extend(sha256_pcrs(&[0, 16]));
        self.ok(&command(CC_QUOTE, &[key], &[pw(&[])], &p))
    }

    /// TPM2_VerifySignature of `sig` (TPMT_SIGNATURE bytes) over `digest`;
    /// the response code.
    fn verify(&mut self, key: u32, digest: &[u8], sig: &[u8]) -> u32 {
        let mut p = tpm2b(digest);
        p.extend(sig);
        rc(&self.x(&command(CC_VERIFY_SIGNATURE, &[key], &[], &p)))
    }
}

/// swtpm and the TPM under test (a second swtpm with
/// TRUSTCLOUD_TEST_TPM=swtpm, as a check of the test).
fn pair() -> (Tpm, Tpm) {
    let ours_is_swtpm = std::env::var(UNDER_TEST_ENV).as_deref() == Ok("swtpm");
    (Tpm::start(true), Tpm::start(ours_is_swtpm))
}

/// A restricted signing key template: ECDSA P-256 or RSASSA-2048, SHA-256.
fn ak_template(alg: u16) -> Vec<u8> {
    let mut v = u16s(&[alg, SHA256]);
    v.extend(u32b(AK));
    v.extend(tpm2b(&[]));
    if alg == ECC {
        v.extend(u16s(&[NULL, ECDSA, SHA256, NIST_P256, NULL]));
        v.extend(tpm2b(&[]));
        v.extend(tpm2b(&[]));
    } else {
        v.extend(u16s(&[NULL, RSASSA, SHA256, 2048]));
        v.extend(u32b(0));
        v.extend(tpm2b(&[]));
    }
    v
}

// ---------------------------------------------------------------------------
// Tests.

/// A quote from one TPM verifies on the other: TPM2_LoadExternal of the
/// signer's public area, TPM2_VerifySignature of H(TPMS_ATTEST). A digest
/// of anything else is TPM_RC_SIGNATURE there.
#[test]
fn quotes_verify_on_the_other_tpm() {
    let (mut sw, mut ours) = pair();
    for alg in [ECC, RSA] {
        for (signer_is_swtpm, nonce) in
            [(true, b"made by swtpm".as_slice()), (false, b"made by us")]
        {
            let (signer, verifier) = if signer_is_swtpm {
                (&mut sw, &mut ours)
            } else {
                (&mut ours, &mut sw)
            };
            let (key, public) = signer.create_primary(ENDORSEMENT, &ak_template(alg));
            let r = signer.quote(key, nonce);
            signer.flush(key);
            let (bytes, attest, sig) = attestation(&r);
            assert_eq!(attest.extra_data.as_slice(), nonce);
            assert_eq!(sig.sig_alg(), if alg == ECC { ECDSA } else { RSASSA });
            let (ext, _) = verifier.load_external(&[], &public, NULL_H);
            let digest = sha256(&[&bytes]);
            let sig_bytes = sig.to_bytes();
            assert_eq!(
                verifier.verify(ext, &digest, &sig_bytes),
                0,
                "alg {alg:#x}, signed by swtpm: {signer_is_swtpm}"
            );
            let mut other = digest.clone();
            other[0] ^= 1;
            assert_eq!(
                verifier.verify(ext, &other, &sig_bytes),
                0x2DB,
                "TPM_RC_SIGNATURE + P2"
            );
            verifier.flush(ext);
        }
    }
}

/// One P-256 ECDSA-SHA256 signing key given to both TPMs with
/// TPM2_LoadExternal (NULL hierarchy): (TPM2B_SENSITIVE contents,
/// TPMT_PUBLIC, the key pair).
fn external_key() -> (Vec<u8>, Vec<u8>, EccKeyPair) {
    let d = [0x11u8; 32];
    let pair = EccKeyPair::from_private(EccCurve::NistP256, &d).expect("key");
    let mut public = u16s(&[ECC, SHA256]);
    public.extend(u32b(USER_WITH_AUTH | SIGN | NO_DA));
    public.extend(tpm2b(&[]));
    public.extend(u16s(&[NULL, ECDSA, SHA256, NIST_P256, NULL]));
    public.extend(tpm2b(&pair.public().x));
    public.extend(tpm2b(&pair.public().y));
    let mut sensitive = u16b(ECC).to_vec();
    sensitive.extend(tpm2b(&[]));
    sensitive.extend(tpm2b(&[]));
    sensitive.extend(tpm2b(&d));
    (sensitive, public, pair)
}

fn ecdsa_verifies(pair: &EccKeyPair, bytes: &[u8], sig: &Signature) -> bool {
    let Signature::Ecdsa(s) = sig else {
        return false;
    };
    ecc::ecdsa_verify(
        EccCurve::NistP256,
        pair.public(),
        &sha256(&[bytes]),
        s.r.as_slice(),
        s.s.as_slice(),
    )
    .is_ok()
}

/// The fields of a TPMS_ATTEST that do not depend on time, randomness,
/// the vendor or the TPM's own secrets (GetTime's Time, Clock and
/// firmwareVersion are zeroed; its counts stay).
fn deterministic(a: &Attest) -> (Vec<u8>, Vec<u8>, u16, Attested) {
    let mut attested = a.attested.clone();
    if let Attested::Time(t) = &mut attested {
        t.time.time = 0;
        t.time.clock_info.clock = 0;
        t.firmware_version = 0;
    }
    (
        a.qualified_signer.as_bytes().to_vec(),
        a.extra_data.as_slice().to_vec(),
        a.attest_type(),
        attested,
    )
}

/// One attestation of the sequence: (label, TPMS_ATTEST bytes, parsed,
/// signature).
type Step = (&'static str, Vec<u8>, Attest, Signature);

/// Runs the same attestation sequence on both TPMs and compares the
/// deterministic parts of every structure.
#[test]
fn attestation_structures_match_swtpm() {
    let (mut sw, mut ours) = pair();
    let (sensitive, public, pair_key) = external_key();
    let mut results: Vec<Vec<Step>> = Vec::new();
    let mut audit_caps: Vec<Vec<u8>> = Vec::new();
    for t in [&mut sw, &mut ours] {
        let mut out = Vec::new();
        // Same PCR 16 on both.
        let mut p = u32b(1).to_vec();
        p.extend(u16b(SHA256));
        p.extend([0x5A; 32]);
        t.ok(&command(CC_PCR_EXTEND, &[16], &[pw(&[])], &p));
        let (key, name) = t.load_external(&sensitive, &public, NULL_H);
        let mut expected_name = u16b(SHA256).to_vec();
        expected_name.extend(sha256(&[&public]));
        assert_eq!(name, expected_name);

        let r = t.quote(key, b"same nonce");
        let (b, a, s) = attestation(&r);
        out.push(("quote", b, a, s));

        let mut p = tpm2b(b"certify");
        p.extend(u16b(NULL));
        let r = t.ok(&command(CC_CERTIFY, &[key, key], &[pw(&[]), pw(&[])], &p));
        let (b, a, s) = attestation(&r);
        out.push(("certify", b, a, s));

        // The same NV index with the same contents.
        let index = 0x0150_0020;
        let mut nv_public = u32b(index).to_vec();
        nv_public.extend(u16b(SHA256));
        nv_public.extend(u32b(NV_AUTHREAD | NV_AUTHWRITE | NV_NO_DA));
        nv_public.extend(tpm2b(&[]));
        nv_public.extend(u16b(16));
        let mut p = tpm2b(&[]);
        p.extend(tpm2b(&nv_public));
        t.ok(&command(CC_NV_DEFINE_SPACE, &[OWNER], &[pw(&[])], &p));
        let mut p = tpm2b(b"sixteen octets!!");
        p.extend(u16b(0));
        t.ok(&command(CC_NV_WRITE, &[index, index], &[pw(&[])], &p));
        for (label, size, offset) in [("nv range", 5u16, 3u16), ("nv digest", 0, 0)] {
            let mut p = tpm2b(b"nv");
            p.extend(u16b(NULL));
            p.extend(u16b(size));
            p.extend(u16b(offset));
            let r = t.ok(&command(
                CC_NV_CERTIFY,
                &[key, index, index],
                &[pw(&[]), pw(&[])],
                &p,
            ));
            let (b, a, s) = attestation(&r);
            out.push((label, b, a, s));
        }

        let mut p = tpm2b(b"time");
        p.extend(u16b(NULL));
        let r = t.ok(&command(
            CC_GET_TIME,
            &[ENDORSEMENT, NULL_H],
            &[pw(&[]), pw(&[])],
            &p,
        ));
        let (b, a, s) = attestation(&r);
        out.push(("time", b, a, s));

        // An unbound, unsalted HMAC session used only for audit (no key,
        // so empty HMACs), over two PCR_Reads.
        let mut p = tpm2b(&[0x77; 16]);
        p.extend(tpm2b(&[]));
        p.push(0x00);
        p.extend(u16s(&[NULL, SHA256]));
        let r = t.ok(&command(CC_START_AUTH_SESSION, &[NULL_H, NULL_H], &[], &p));
        let (audit_session, _) = params(&r, true);
        for pcrs in [[0u32, 16], [1, 2]] {
            t.ok(&command(
                CC_PCR_READ,
                &[],
                &[session(audit_session, &[0x42; 16], AUDIT_CONTINUE, &[])],
                &sha256_pcrs(&pcrs),
            ));
        }
        let mut p = tpm2b(b"session");
        p.extend(u16b(NULL));
        let r = t.ok(&command(
            CC_GET_SESSION_AUDIT_DIGEST,
            &[ENDORSEMENT, NULL_H, audit_session],
            &[pw(&[]), pw(&[])],
            &p,
        ));
        let (b, a, s) = attestation(&r);
        out.push(("session audit", b, a, s));
        t.flush(audit_session);

        // Command audit of PCR_Extend.
        let mut p = u16b(NULL).to_vec();
        p.extend(u32b(1));
        p.extend(u32b(CC_PCR_EXTEND));
        p.extend(u32b(0));
        t.ok(&command(
            CC_SET_COMMAND_CODE_AUDIT_STATUS,
            &[OWNER],
            &[pw(&[])],
            &p,
        ));
        let mut p = u32b(1).to_vec();
        p.extend(u16b(SHA256));
        p.extend([0xA5; 32]);
        t.ok(&command(CC_PCR_EXTEND, &[16], &[pw(&[])], &p));
        let mut p = tpm2b(b"command");
        p.extend(u16b(NULL));
        let r = t.ok(&command(
            CC_GET_COMMAND_AUDIT_DIGEST,
            &[ENDORSEMENT, NULL_H],
            &[pw(&[]), pw(&[])],
            &p,
        ));
        let (b, a, s) = attestation(&r);
        out.push(("command audit", b, a, s));
        // TPM_CAP_AUDIT_COMMANDS from 0, as many as fit.
        let mut p = u32b(4).to_vec();
        p.extend(u32b(0));
        p.extend(u32b(64));
        let r = t.ok(&command(CC_GET_CAPABILITY, &[], &[], &p));
        audit_caps.push(params(&r, false).1);
        t.flush(key);
        results.push(out);
    }

    let ours_results = results.pop().unwrap();
    let sw_results = results.pop().unwrap();
    for ((label, sw_bytes, sw_a, sw_sig), (_, our_bytes, our_a, our_sig)) in
        sw_results.iter().zip(ours_results.iter())
    {
        assert_eq!(sw_bytes[..6], our_bytes[..6], "{label}: magic and type");
        assert_eq!(deterministic(sw_a), deterministic(our_a), "{label}");
        assert_eq!(sw_sig.sig_alg(), our_sig.sig_alg(), "{label}: sigAlg");
        if our_sig.sig_alg() == ECDSA {
            assert!(
                ecdsa_verifies(&pair_key, sw_bytes, sw_sig),
                "{label}: swtpm's signature"
            );
            assert!(
                ecdsa_verifies(&pair_key, our_bytes, our_sig),
                "{label}: our signature"
            );
        }
    }
    // Both list the audited commands alike: no more data, TPM_CAP_AUDIT_COMMANDS,
    // SetCommandCodeAuditStatus and PCR_Extend.
    assert_eq!(audit_caps[0], audit_caps[1], "TPM_CAP_AUDIT_COMMANDS");
    let mut listed = vec![0u8];
    listed.extend(u32b(4));
    listed.extend(u32b(2));
    listed.extend(u32b(CC_SET_COMMAND_CODE_AUDIT_STATUS));
    listed.extend(u32b(CC_PCR_EXTEND));
    assert_eq!(audit_caps[1], listed);
    // What was compared is what the spec says, not just equal.
    let by_label = |l: &str| &ours_results.iter().find(|r| r.0 == l).unwrap().2;
    let Attested::SessionAudit(s) = &by_label("session audit").attested else {
        panic!()
    };
    assert!(!s.session_digest.is_empty());
    let Attested::CommandAudit(c) = &by_label("command audit").attested else {
        panic!()
    };
    assert_eq!(c.audit_counter, 1);
    let codes = [u32b(CC_SET_COMMAND_CODE_AUDIT_STATUS), u32b(CC_PCR_EXTEND)].concat();
    assert_eq!(c.digest_alg, 0x000D, "SHA-512, as manufactured");
    {
        use sha2::Digest;
        assert_eq!(
            c.command_digest.as_slice(),
            sha2::Sha512::digest(&codes).as_slice()
        );
    }
    let Attested::Quote(q) = &by_label("quote").attested else {
        panic!()
    };
    assert_eq!(q.pcr_digest.len(), 32);
    assert_eq!(
        by_label("time").qualified_signer.as_bytes(),
        NULL_H.to_be_bytes(),
        "TPM_RH_NULL signs as its handle"
    );
}
