//! Differential tests of the object commands against swtpm (libtpms): the
//! same raw commands go to `swtpm socket --tpm2` and `trustcloud tpm serve
//! --protocol swtpm`, and what the spec makes deterministic must agree:
//!
//! * the response codes (with their numbers) of templates that break the
//!   creation rules;
//! * Names (and whole LoadExternal / ReadPublic responses) of objects
//!   loaded from the same public area;
//! * everything but the key of primaries made from the TCG EK Credential
//!   Profile templates (public area apart from `unique`, creation data
//!   and its hash);
//! * credential blobs: made by one TPM (MakeCredential with the other's EK
//!   loaded by LoadExternal), activated by the other;
//! * duplication blobs: made by one TPM's Duplicate for a parent of the
//!   other, imported, loaded and unsealed there.
//!
//! Keys, tickets and handles are not compared (keys come from different
//! DRBG constructions: same template and seed, different key).

mod support;

use support::raw::{command, pw, session, tpm2b, u16b, u16s, u32b};
use support::{Protocol, RawConn, Server, ServerBuilder, UNDER_TEST_ENV};

const OWNER: u32 = 0x4000_0001;
const NULL_H: u32 = 0x4000_0007;
const ENDORSEMENT: u32 = 0x4000_000B;

const CC_CREATE_PRIMARY: u32 = 0x131;
const CC_STARTUP: u32 = 0x144;
const CC_ACTIVATE_CREDENTIAL: u32 = 0x147;
const CC_DUPLICATE: u32 = 0x14B;
const CC_CREATE: u32 = 0x153;
const CC_IMPORT: u32 = 0x156;
const CC_LOAD: u32 = 0x157;
const CC_UNSEAL: u32 = 0x15E;
const CC_FLUSH: u32 = 0x165;
const CC_LOAD_EXTERNAL: u32 = 0x167;
const CC_MAKE_CREDENTIAL: u32 = 0x168;
const CC_POLICY_COMMAND_CODE: u32 = 0x16C;
const CC_READ_PUBLIC: u32 = 0x173;
const CC_START_AUTH_SESSION: u32 = 0x176;

const SHA256: u16 = 0x0B;
const SHA384: u16 = 0x0C;
const NULL: u16 = 0x10;
const AES: u16 = 0x06;
const CFB: u16 = 0x43;
const RSA: u16 = 0x01;
const ECC: u16 = 0x23;
const KEYEDHASH: u16 = 0x08;
const SYMCIPHER: u16 = 0x25;
const ECDSA: u16 = 0x18;
const ECDH: u16 = 0x19;
const RSASSA: u16 = 0x14;
const OAEP: u16 = 0x17;
const HMAC: u16 = 0x05;
const XOR: u16 = 0x0A;
const KDF1_SP800_108: u16 = 0x22;

const FIXED_TPM: u32 = 1 << 1;
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

/// PolicyA of the EK Credential Profile (PolicySecret(TPM_RH_ENDORSEMENT)).
const POLICY_A_SHA256: &str = "837197674484b3f81a90cc8d46a5d724fd52d76e06520b64f2a1da1b331469aa";
/// PolicyB (SHA-256 / SHA-384) of the profile's high-range templates.
const POLICY_B_SHA256: &str = "ca3d0a99a2b93906f7a3342414efcfb3a385d44cd1fd459089d19b5071c0b7a0";
const POLICY_B_SHA384: &str = "b26e7d28d11a50bc53d882bcf5fd3a1a074148bb35d3b4e4cb1c0ad9bde419cacb47ba09699646150f9fc000f3f80e12";

// ---------------------------------------------------------------------------
// Raw command building.

struct Tpl {
    ty: u16,
    name_alg: u16,
    attrs: u32,
    policy: Vec<u8>,
    parms: Vec<u8>,
    unique: Vec<u8>,
}

impl Tpl {
    fn bytes(&self) -> Vec<u8> {
        let mut v = u16s(&[self.ty, self.name_alg]);
        v.extend(u32b(self.attrs));
        v.extend(tpm2b(&self.policy));
        v.extend(&self.parms);
        v.extend(&self.unique);
        v
    }
}

fn ecc_tpl(attrs: u32, name_alg: u16, sym: &[u16], scheme: &[u16], curve: u16, size: usize) -> Tpl {
    let mut parms = u16s(sym);
    parms.extend(u16s(scheme));
    parms.extend(u16s(&[curve, NULL]));
    let mut unique = tpm2b(&vec![0; size]);
    unique.extend(tpm2b(&vec![0; size]));
    Tpl {
        ty: ECC,
        name_alg,
        attrs,
        policy: vec![],
        parms,
        unique,
    }
}

fn rsa_tpl(
    attrs: u32,
    name_alg: u16,
    sym: &[u16],
    scheme: &[u16],
    bits: u16,
    unique: usize,
) -> Tpl {
    let mut parms = u16s(sym);
    parms.extend(u16s(scheme));
    parms.extend(u16b(bits));
    parms.extend(u32b(0));
    Tpl {
        ty: RSA,
        name_alg,
        attrs,
        policy: vec![],
        parms,
        unique: tpm2b(&vec![0; unique]),
    }
}

fn sens(auth: &[u8], data: &[u8]) -> Vec<u8> {
    let mut inner = tpm2b(auth);
    inner.extend(tpm2b(data));
    tpm2b(&inner)
}

fn create_primary_cmd(hierarchy: u32, t: &Tpl) -> Vec<u8> {
    let mut p = sens(b"", b"");
    p.extend(tpm2b(&t.bytes()));
    p.extend(tpm2b(&[]));
    p.extend(u32b(0));
    command(CC_CREATE_PRIMARY, &[hierarchy], &[pw(&[])], &p)
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

    fn flush(&mut self, h: u32) {
        let r = self.x(&command(CC_FLUSH, &[], &[], &u32b(h)));
        assert_eq!(rc(&r), 0, "flush {h:#x}");
    }

    /// CreatePrimary → (handle, TPMT_PUBLIC, creation data, creation hash, name).
    fn create_primary(&mut self, h: u32, t: &Tpl) -> (u32, Vec<u8>, Vec<u8>, Vec<u8>, Vec<u8>) {
        let r = self.x(&create_primary_cmd(h, t));
        let (handle, p) = params(&r, true);
        let mut r = Rd(&p, 0);
        let public = r.tpm2b();
        let cd = r.tpm2b();
        let ch = r.tpm2b();
        r.u16();
        r.u32();
        r.tpm2b();
        let name = r.tpm2b();
        (handle, public, cd, ch, name)
    }

    fn load_external(&mut self, public: &[u8], hierarchy: u32) -> Vec<u8> {
        let mut p = tpm2b(&[]);
        p.extend(tpm2b(public));
        p.extend(u32b(hierarchy));
        self.x(&command(CC_LOAD_EXTERNAL, &[], &[], &p))
    }

    fn read_public(&mut self, h: u32) -> Vec<u8> {
        self.x(&command(CC_READ_PUBLIC, &[h], &[], &[]))
    }
}

/// swtpm and the TPM under test (a second swtpm with
/// TRUSTCLOUD_TEST_TPM=swtpm, as a check of the test).
fn pair() -> (Tpm, Tpm) {
    let ours_is_swtpm = std::env::var(UNDER_TEST_ENV).as_deref() == Ok("swtpm");
    (Tpm::start(true), Tpm::start(ours_is_swtpm))
}

// ---------------------------------------------------------------------------
// Tests.

/// Templates that break the creation rules (Part 1 §27) get the same
/// response code, with the same parameter number, from both TPMs.
#[test]
fn creation_rule_codes_match() {
    let (mut sw, mut ours) = pair();
    let sym = [AES, 128, CFB];
    let mut cases: Vec<(&str, Tpl)> = vec![
        (
            "valid storage key",
            ecc_tpl(STORAGE, SHA256, &sym, &[NULL], 3, 0),
        ),
        (
            "restricted sign+decrypt",
            ecc_tpl(STORAGE | SIGN, SHA256, &sym, &[NULL], 3, 0),
        ),
        (
            "fixedTPM without fixedParent",
            ecc_tpl(STORAGE & !FIXED_PARENT, SHA256, &sym, &[NULL], 3, 0),
        ),
        (
            "no sensitiveDataOrigin",
            ecc_tpl(SIGNER & !SDO, SHA256, &[NULL], &[ECDSA, SHA256], 3, 0),
        ),
        (
            "storage without symmetric",
            ecc_tpl(STORAGE, SHA256, &[NULL], &[NULL], 3, 0),
        ),
        (
            "signer with symmetric",
            ecc_tpl(SIGNER, SHA256, &sym, &[ECDSA, SHA256], 3, 0),
        ),
        (
            "restricted signer without scheme",
            ecc_tpl(SIGNER | RESTRICTED, SHA256, &[NULL], &[NULL], 3, 0),
        ),
        (
            "storage with scheme",
            ecc_tpl(STORAGE, SHA256, &sym, &[ECDH, SHA256], 3, 0),
        ),
        (
            "decrypt key with signing scheme",
            ecc_tpl(
                SDO | USER_WITH_AUTH | DECRYPT,
                SHA256,
                &[NULL],
                &[ECDSA, SHA256],
                3,
                0,
            ),
        ),
        (
            "encryptedDuplication + fixedTPM",
            ecc_tpl(SIGNER | ENC_DUP, SHA256, &[NULL], &[ECDSA, SHA256], 3, 0),
        ),
        (
            "neither sign nor decrypt",
            ecc_tpl(SIGNER & !SIGN, SHA256, &[NULL], &[ECDSA, SHA256], 3, 0),
        ),
        (
            "both sign and decrypt, ECDSA",
            ecc_tpl(SIGNER | DECRYPT, SHA256, &[NULL], &[ECDSA, SHA256], 3, 0),
        ),
        (
            "both sign and decrypt, no scheme",
            ecc_tpl(SIGNER | DECRYPT, SHA256, &[NULL], &[NULL], 3, 0),
        ),
        (
            "RSA restricted decrypt with OAEP",
            rsa_tpl(STORAGE, SHA256, &sym, &[OAEP, SHA256], 2048, 0),
        ),
        (
            "RSA signer RSASSA",
            rsa_tpl(SIGNER, SHA256, &[NULL], &[RSASSA, SHA256], 2048, 0),
        ),
        // (RSA-1024 is left out on purpose: libtpms creates it, our
        // profile implements RSA 2048/3072 only and refuses it with
        // TPM_RC_VALUE on the key size, as TPMI_RSA_KEY_BITS requires.)
        (
            "RSA-2048 AES-256 storage",
            rsa_tpl(STORAGE, SHA256, &[AES, 256, CFB], &[NULL], 2048, 0),
        ),
        (
            "AES-192 storage",
            ecc_tpl(STORAGE, SHA256, &[AES, 192, CFB], &[NULL], 3, 0),
        ),
        (
            "unknown curve",
            ecc_tpl(SIGNER, SHA256, &[NULL], &[ECDSA, SHA256], 0x99, 0),
        ),
        (
            "keyed hash HMAC signer",
            Tpl {
                ty: KEYEDHASH,
                name_alg: SHA256,
                attrs: SIGNER,
                policy: vec![],
                parms: u16s(&[HMAC, SHA256]),
                unique: tpm2b(&[]),
            },
        ),
        (
            "keyed hash signer without scheme",
            Tpl {
                ty: KEYEDHASH,
                name_alg: SHA256,
                attrs: SIGNER,
                policy: vec![],
                parms: u16s(&[NULL]),
                unique: tpm2b(&[]),
            },
        ),
        (
            "keyed hash restricted XOR not SP800-108",
            Tpl {
                ty: KEYEDHASH,
                name_alg: SHA256,
                attrs: STORAGE,
                policy: vec![],
                parms: u16s(&[XOR, SHA256, NULL]),
                unique: tpm2b(&[]),
            },
        ),
        (
            "derivation parent",
            Tpl {
                ty: KEYEDHASH,
                name_alg: SHA256,
                attrs: STORAGE,
                policy: vec![],
                parms: u16s(&[XOR, SHA256, KDF1_SP800_108]),
                unique: tpm2b(&[]),
            },
        ),
        (
            "sealed data made by the TPM",
            Tpl {
                ty: KEYEDHASH,
                name_alg: SHA256,
                attrs: FIXED_TPM | FIXED_PARENT | SDO | USER_WITH_AUTH,
                policy: vec![],
                parms: u16s(&[NULL]),
                unique: tpm2b(&[]),
            },
        ),
        (
            "AES key",
            Tpl {
                ty: SYMCIPHER,
                name_alg: SHA256,
                attrs: SIGNER | DECRYPT,
                policy: vec![],
                parms: u16s(&[AES, 128, CFB]),
                unique: tpm2b(&[]),
            },
        ),
        (
            "restricted AES storage key",
            Tpl {
                ty: SYMCIPHER,
                name_alg: SHA256,
                attrs: STORAGE,
                policy: vec![],
                parms: u16s(&[AES, 128, CFB]),
                unique: tpm2b(&[]),
            },
        ),
        (
            "SHA-384 nameAlg",
            ecc_tpl(SIGNER, SHA384, &[NULL], &[ECDSA, SHA384], 4, 0),
        ),
        (
            "NULL nameAlg",
            ecc_tpl(SIGNER, NULL, &[NULL], &[ECDSA, SHA256], 3, 0),
        ),
    ];
    let mut p = ecc_tpl(SIGNER, SHA256, &[NULL], &[ECDSA, SHA256], 3, 0);
    p.policy = vec![1; 20];
    cases.push(("policy of the wrong size", p));
    let mut p = ecc_tpl(
        SIGNER | ADMIN_WITH_POLICY,
        SHA256,
        &[NULL],
        &[ECDSA, SHA256],
        3,
        0,
    );
    p.policy = vec![1; 32];
    cases.push(("adminWithPolicy", p));
    let mut p = ecc_tpl(SIGNER, SHA256, &[NULL], &[ECDSA, SHA256], 3, 0);
    let n = p.parms.len();
    p.parms.truncate(n - 2);
    p.parms.extend(u16s(&[KDF1_SP800_108, SHA256]));
    cases.push(("ECC with a KDF", p));
    let mut diffs = Vec::new();
    for (what, t) in &cases {
        let cmd = create_primary_cmd(OWNER, t);
        let a = sw.x(&cmd);
        let b = ours.x(&cmd);
        if rc(&a) != rc(&b) {
            diffs.push(format!("{what}: swtpm {:#x}, ours {:#x}", rc(&a), rc(&b)));
        }
        if rc(&a) == 0 {
            let h = params(&a, true).0;
            sw.flush(h);
        }
        if rc(&b) == 0 {
            let h = params(&b, true).0;
            ours.flush(h);
        }
    }
    // Ordinary objects: data with sensitiveDataOrigin, sealed data with a
    // policy, an HMAC key longer than the hash block.
    let parent = ecc_tpl(STORAGE, SHA256, &sym, &[NULL], 3, 0);
    let (ps, ..) = sw.create_primary(OWNER, &parent);
    let (po, ..) = ours.create_primary(OWNER, &parent);
    let sealed = |attrs: u32| Tpl {
        ty: KEYEDHASH,
        name_alg: SHA256,
        attrs,
        policy: vec![],
        parms: u16s(&[NULL]),
        unique: tpm2b(&[]),
    };
    let hmac_key = Tpl {
        parms: u16s(&[HMAC, SHA256]),
        ..sealed(SIGNER & !SDO)
    };
    let creates: Vec<(&str, Tpl, &[u8], &[u8])> = vec![
        (
            "sealed data",
            sealed(FIXED_TPM | FIXED_PARENT | USER_WITH_AUTH),
            b"pw",
            b"data",
        ),
        (
            "sealed data without data",
            sealed(FIXED_TPM | FIXED_PARENT | USER_WITH_AUTH),
            b"",
            b"",
        ),
        (
            "data with sensitiveDataOrigin",
            sealed(SIGNER),
            b"",
            b"data",
        ),
        (
            "HMAC key of 64 octets",
            Tpl {
                parms: u16s(&[HMAC, SHA256]),
                ..sealed(SIGNER & !SDO)
            },
            b"",
            &[7; 64],
        ),
        ("HMAC key of 65 octets", hmac_key, b"", &[7; 65]),
        (
            "authValue of 33 octets",
            sealed(FIXED_TPM | FIXED_PARENT | USER_WITH_AUTH),
            &[1; 33],
            b"d",
        ),
        (
            "non-duplicable storage key of another nameAlg",
            ecc_tpl(STORAGE, SHA384, &sym, &[NULL], 4, 0),
            b"",
            b"",
        ),
        (
            "duplicable child of a fixedTPM parent",
            ecc_tpl(
                SDO | USER_WITH_AUTH | SIGN,
                SHA256,
                &[NULL],
                &[ECDSA, SHA256],
                3,
                0,
            ),
            b"",
            b"",
        ),
        (
            "fixedTPM child with fixedParent clear",
            ecc_tpl(
                SIGNER & !FIXED_PARENT,
                SHA256,
                &[NULL],
                &[ECDSA, SHA256],
                3,
                0,
            ),
            b"",
            b"",
        ),
    ];
    for (what, t, auth, data) in &creates {
        let mut p = sens(auth, data);
        p.extend(tpm2b(&t.bytes()));
        p.extend(tpm2b(&[]));
        p.extend(u32b(0));
        let a = sw.x(&command(CC_CREATE, &[ps], &[pw(&[])], &p));
        let b = ours.x(&command(CC_CREATE, &[po], &[pw(&[])], &p));
        if rc(&a) != rc(&b) {
            diffs.push(format!(
                "Create {what}: swtpm {:#x}, ours {:#x}",
                rc(&a),
                rc(&b)
            ));
        }
    }
    assert!(
        diffs.is_empty(),
        "{} differences:\n{}",
        diffs.len(),
        diffs.join("\n")
    );
}

/// The same public area loaded with LoadExternal gives the same Name on
/// both, and the same LoadExternal and ReadPublic responses.
#[test]
fn names_of_external_objects_match() {
    let (mut sw, mut ours) = pair();
    let mut publics = Vec::new();
    // Public areas made by swtpm: ECC storage, RSA signer, ECC P-384.
    for t in [
        ecc_tpl(STORAGE, SHA256, &[AES, 128, CFB], &[NULL], 3, 0),
        rsa_tpl(SIGNER, SHA256, &[NULL], &[RSASSA, SHA256], 2048, 0),
        ecc_tpl(SIGNER, SHA384, &[NULL], &[ECDSA, SHA384], 4, 0),
    ] {
        let (h, public, ..) = sw.create_primary(OWNER, &t);
        sw.flush(h);
        publics.push(public);
    }
    // A keyed-hash public area, and one without nameAlg.
    let kh = Tpl {
        ty: KEYEDHASH,
        name_alg: SHA256,
        attrs: USER_WITH_AUTH | SIGN,
        policy: vec![5; 32],
        parms: u16s(&[HMAC, SHA256]),
        unique: tpm2b(&[9; 32]),
    };
    publics.push(kh.bytes());
    let mut nameless = publics[0].clone();
    nameless[2..4].copy_from_slice(&u16b(NULL));
    publics.push(nameless);
    for public in &publics {
        for hierarchy in [OWNER, NULL_H] {
            let a = sw.load_external(public, hierarchy);
            let b = ours.load_external(public, hierarchy);
            assert_eq!(
                hex::encode(&a),
                hex::encode(&b),
                "LoadExternal of {}",
                hex::encode(public)
            );
            let h = params(&a, true).0;
            let ra = sw.read_public(h);
            let rb = ours.read_public(h);
            assert_eq!(hex::encode(&ra), hex::encode(&rb), "ReadPublic");
            sw.flush(h);
            ours.flush(h);
        }
    }
    // A point that is not on the curve: the same refusal.
    let mut bad = publics[0].clone();
    let n = bad.len();
    bad[n - 1] ^= 1;
    assert_eq!(
        rc(&sw.load_external(&bad, OWNER)),
        rc(&ours.load_external(&bad, OWNER))
    );
}

/// The TCG EK Credential Profile templates (low range L-1, L-2; high range
/// H-1, H-2, H-3, H-6): both TPMs return the template's public area with
/// only `unique` filled in differently, and identical creation data.
#[test]
fn ek_profile_templates_match() {
    let (mut sw, mut ours) = pair();
    let ek = FIXED_TPM | FIXED_PARENT | SDO | ADMIN_WITH_POLICY | RESTRICTED | DECRYPT;
    let hi = ek | USER_WITH_AUTH;
    let pa = hex::decode(POLICY_A_SHA256).unwrap();
    let pb = hex::decode(POLICY_B_SHA256).unwrap();
    let pb384 = hex::decode(POLICY_B_SHA384).unwrap();
    let mut templates = [
        (
            "L-1 RSA 2048",
            rsa_tpl(ek, SHA256, &[AES, 128, CFB], &[NULL], 2048, 256),
            pa.clone(),
        ),
        (
            "L-2 ECC P-256",
            ecc_tpl(ek, SHA256, &[AES, 128, CFB], &[NULL], 3, 32),
            pa,
        ),
        (
            "H-1 RSA 2048",
            rsa_tpl(hi, SHA256, &[AES, 128, CFB], &[NULL], 2048, 0),
            pb.clone(),
        ),
        (
            "H-2 ECC P-256",
            ecc_tpl(hi, SHA256, &[AES, 128, CFB], &[NULL], 3, 0),
            pb,
        ),
        (
            "H-3 ECC P-384",
            ecc_tpl(hi, SHA384, &[AES, 256, CFB], &[NULL], 4, 0),
            pb384.clone(),
        ),
        (
            "H-6 RSA 3072",
            rsa_tpl(hi, SHA384, &[AES, 256, CFB], &[NULL], 3072, 0),
            pb384,
        ),
    ];
    for (what, t, policy) in templates.iter_mut() {
        t.policy = policy.clone();
        let (hs, ps, cds, chs, ns) = sw.create_primary(ENDORSEMENT, t);
        let (ho, po, cdo, cho, no) = ours.create_primary(ENDORSEMENT, t);
        let unique_at = t.bytes().len() - t.unique.len();
        assert_eq!(
            hex::encode(&ps[..unique_at]),
            hex::encode(&po[..unique_at]),
            "{what}"
        );
        assert_eq!(ps.len(), po.len(), "{what}: unique of the same size");
        assert_ne!(ps, po, "{what}: keys come from different DRBGs");
        assert_eq!(
            hex::encode(&cds),
            hex::encode(&cdo),
            "{what}: creation data"
        );
        assert_eq!(chs, cho, "{what}: creation hash");
        assert_eq!(ns.len(), no.len());
        sw.flush(hs);
        ours.flush(ho);
    }
}

/// A storage EK without policy (so a password authorizes it) and an
/// object whose Name the credential is bound to.
fn ek_template(rsa: bool) -> Tpl {
    if rsa {
        rsa_tpl(STORAGE, SHA256, &[AES, 128, CFB], &[NULL], 2048, 256)
    } else {
        ecc_tpl(STORAGE, SHA256, &[AES, 128, CFB], &[NULL], 3, 32)
    }
}

/// MakeCredential on `maker` (the activator's EK loaded with
/// LoadExternal), ActivateCredential on `activator`.
fn credential_across(maker: &mut Tpm, activator: &mut Tpm, rsa: bool) {
    let (ek, ek_public, ..) = activator.create_primary(ENDORSEMENT, &ek_template(rsa));
    let (ak, _, _, _, ak_name) = activator.create_primary(
        OWNER,
        &ecc_tpl(SIGNER, SHA256, &[NULL], &[ECDSA, SHA256], 3, 0),
    );
    let (h, _) = params(&maker.load_external(&ek_public, NULL_H), true);
    let cred = b"credential across two TPMs";
    let mut p = tpm2b(cred);
    p.extend(tpm2b(&ak_name));
    let r = maker.x(&command(CC_MAKE_CREDENTIAL, &[h], &[], &p));
    let (_, out) = params(&r, false);
    let mut rd = Rd(&out, 0);
    let blob = rd.tpm2b();
    let secret = rd.tpm2b();
    maker.flush(h);
    let mut p = tpm2b(&blob);
    p.extend(tpm2b(&secret));
    let r = activator.x(&command(
        CC_ACTIVATE_CREDENTIAL,
        &[ak, ek],
        &[pw(&[]), pw(&[])],
        &p,
    ));
    let (_, out) = params(&r, false);
    assert_eq!(Rd(&out, 0).tpm2b(), cred, "rsa={rsa}");
    activator.flush(ek);
    activator.flush(ak);
}

#[test]
fn credentials_cross_implementations() {
    let (mut sw, mut ours) = pair();
    for rsa in [false, true] {
        credential_across(&mut ours, &mut sw, rsa);
        credential_across(&mut sw, &mut ours, rsa);
    }
}

/// Duplicate on `from` (PolicyCommandCode(Duplicate) session, inner wrap
/// AES-128 with a caller key, outer wrap to `to`'s parent loaded with
/// LoadExternal), Import + Load + Unseal on `to`.
fn duplicate_across(from: &mut Tpm, to: &mut Tpm, rsa_parent: bool) {
    let parent_t = ek_template(rsa_parent);
    let (to_parent, to_parent_public, ..) = to.create_primary(OWNER, &parent_t);
    let (from_parent, ..) = from.create_primary(
        OWNER,
        &ecc_tpl(STORAGE, SHA256, &[AES, 128, CFB], &[NULL], 3, 0),
    );
    // policyDigest of PolicyCommandCode(TPM_CC_Duplicate).
    let mut digest_input = vec![0u8; 32];
    digest_input.extend(u32b(CC_POLICY_COMMAND_CODE));
    digest_input.extend(u32b(CC_DUPLICATE));
    let policy = {
        use sha2::Digest;
        sha2::Sha256::digest(&digest_input).to_vec()
    };
    let t = Tpl {
        ty: KEYEDHASH,
        name_alg: SHA256,
        attrs: USER_WITH_AUTH | NO_DA | ENC_DUP,
        policy,
        parms: u16s(&[NULL]),
        unique: tpm2b(&[]),
    };
    let mut p = sens(b"dup", b"duplicated across TPMs");
    p.extend(tpm2b(&t.bytes()));
    p.extend(tpm2b(&[]));
    p.extend(u32b(0));
    let (_, out) = params(
        &from.x(&command(CC_CREATE, &[from_parent], &[pw(&[])], &p)),
        false,
    );
    let mut rd = Rd(&out, 0);
    let private = rd.tpm2b();
    let public = rd.tpm2b();
    let mut p = tpm2b(&private);
    p.extend(tpm2b(&public));
    let (obj, _) = params(
        &from.x(&command(CC_LOAD, &[from_parent], &[pw(&[])], &p)),
        true,
    );
    from.flush(from_parent);
    let (np, _) = params(&from.load_external(&to_parent_public, OWNER), true);
    // Policy session with PolicyCommandCode(Duplicate).
    let mut p = tpm2b(&[1; 32]);
    p.extend(tpm2b(&[]));
    p.push(1);
    p.extend(u16b(NULL));
    p.extend(u16b(SHA256));
    let (ps, _) = params(
        &from.x(&command(CC_START_AUTH_SESSION, &[NULL_H, NULL_H], &[], &p)),
        true,
    );
    let r = from.x(&command(
        CC_POLICY_COMMAND_CODE,
        &[ps],
        &[],
        &u32b(CC_DUPLICATE),
    ));
    assert_eq!(rc(&r), 0);
    let inner_key = [0x42u8; 16];
    let mut p = tpm2b(&inner_key);
    p.extend(u16s(&[AES, 128, CFB]));
    let r = from.x(&command(
        CC_DUPLICATE,
        &[obj, np],
        &[session(ps, &[2; 32], 0, &[])],
        &p,
    ));
    let (_, out) = params(&r, false);
    let mut rd = Rd(&out, 0);
    assert_eq!(
        rd.tpm2b(),
        Vec::<u8>::new(),
        "the caller's inner key is not returned"
    );
    let dup = rd.tpm2b();
    let seed = rd.tpm2b();
    from.flush(obj);
    from.flush(np);
    let mut p = tpm2b(&inner_key);
    p.extend(tpm2b(&public));
    p.extend(tpm2b(&dup));
    p.extend(tpm2b(&seed));
    p.extend(u16s(&[AES, 128, CFB]));
    let (_, out) = params(
        &to.x(&command(CC_IMPORT, &[to_parent], &[pw(&[])], &p)),
        false,
    );
    let imported = Rd(&out, 0).tpm2b();
    let mut p = tpm2b(&imported);
    p.extend(tpm2b(&public));
    let (h, _) = params(&to.x(&command(CC_LOAD, &[to_parent], &[pw(&[])], &p)), true);
    let r = to.x(&command(CC_UNSEAL, &[h], &[pw(b"dup")], &[]));
    let (_, out) = params(&r, false);
    assert_eq!(
        Rd(&out, 0).tpm2b(),
        b"duplicated across TPMs",
        "rsa parent={rsa_parent}"
    );
    to.flush(h);
    to.flush(to_parent);
}

#[test]
fn duplication_blobs_cross_implementations() {
    let (mut sw, mut ours) = pair();
    for rsa in [false, true] {
        duplicate_across(&mut ours, &mut sw, rsa);
        duplicate_across(&mut sw, &mut ours, rsa);
    }
}

/// StartAuthSession with keys that cannot decrypt a salt, or with a bad
/// salt: the same codes, in the same order of checks.
#[test]
fn salt_key_checks_match() {
    let (mut sw, mut ours) = pair();
    let keys = [
        ecc_tpl(SIGNER, SHA256, &[NULL], &[ECDSA, SHA256], 3, 0),
        ecc_tpl(STORAGE, SHA256, &[AES, 128, CFB], &[NULL], 3, 0),
        Tpl {
            ty: SYMCIPHER,
            name_alg: SHA256,
            attrs: SDO | USER_WITH_AUTH | DECRYPT | SIGN,
            policy: vec![],
            parms: u16s(&[AES, 128, CFB]),
            unique: tpm2b(&[]),
        },
    ];
    let mut point = tpm2b(&[1; 32]);
    point.extend(tpm2b(&[2; 32]));
    let mut diffs = Vec::new();
    for (i, t) in keys.iter().enumerate() {
        let (hs, ..) = sw.create_primary(OWNER, t);
        let (ho, ..) = ours.create_primary(OWNER, t);
        assert_eq!(hs, ho);
        for salt in [vec![], point.clone(), vec![7; 3]] {
            let mut p = tpm2b(&[1; 32]);
            p.extend(tpm2b(&salt));
            p.push(0);
            p.extend(u16b(NULL));
            p.extend(u16b(SHA256));
            let cmd = command(CC_START_AUTH_SESSION, &[hs, NULL_H], &[], &p);
            let a = sw.x(&cmd);
            let b = ours.x(&cmd);
            if rc(&a) != rc(&b) {
                diffs.push(format!(
                    "key {i}, salt {}: swtpm {:#x}, ours {:#x}",
                    hex::encode(&salt),
                    rc(&a),
                    rc(&b)
                ));
            }
        }
        sw.flush(hs);
        ours.flush(ho);
    }
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
}
