//! NV indices through the real tpm2-tools (5.4) against `trustcloud tpm
//! serve`, under both TCP protocols: tpm2_nvdefine / nvwrite / nvread /
//! nvincrement / nvextend / nvsetbits / nvreadlock / nvwritelock /
//! nvundefine / nvreadpublic and tpm2_getcap, checking the values the tools
//! print — Names recomputed here from the printed public area, data read
//! back, counter, bit-field and extend values computed independently,
//! response codes of refused operations — including across power cycles.
//!
//! `TRUSTCLOUD_TEST_TPM=swtpm cargo test -p trustcloud --test
//! tpm2_tools_nv swtpm` runs the same checks against the reference swtpm.

mod support;

use std::collections::BTreeMap;

use sha2::Digest;
use support::{parse, Protocol, Server};

/// Generates `mod name { fn mssim(); fn swtpm(); }` calling `name(protocol)`.
macro_rules! both_protocols {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn mssim() {
                super::$name(super::Protocol::Mssim)
            }
            #[test]
            fn swtpm() {
                super::$name(super::Protocol::Swtpm)
            }
        }
    )*};
}

both_protocols!(
    nvdefine_readpublic_names_and_getcap,
    nv_data_of_every_index_type,
    nv_locks_undefine_and_power_cycles,
    nv_policy_and_hmac_authorization,
    ek_certificate_index,
);

// TPMA_NV (Part 2 §13.4).
const PPWRITE: u32 = 1 << 0;
const OWNERWRITE: u32 = 1 << 1;
const AUTHWRITE: u32 = 1 << 2;
const POLICYWRITE: u32 = 1 << 3;
const WRITELOCKED: u32 = 1 << 11;
const WRITEDEFINE: u32 = 1 << 13;
const PPREAD: u32 = 1 << 16;
const OWNERREAD: u32 = 1 << 17;
const AUTHREAD: u32 = 1 << 18;
const NO_DA: u32 = 1 << 25;
const READLOCKED: u32 = 1 << 28;
const WRITTEN: u32 = 1 << 29;
const PLATFORMCREATE: u32 = 1 << 30;
const READ_STCLEAR: u32 = 1 << 31;
const NT_COUNTER: u32 = 1 << 4;
const NT_BITS: u32 = 2 << 4;
const NT_EXTEND: u32 = 4 << 4;

// Response codes (Part 2 §6.6).
const RC_NV_LOCKED: u32 = 0x148;
const RC_NV_AUTHORIZATION: u32 = 0x149;
const RC_NV_UNINITIALIZED: u32 = 0x14A;
const RC_NV_DEFINED: u32 = 0x14C;
const RC_AUTH_UNAVAILABLE: u32 = 0x12F;
const RC_ATTRIBUTES_P2: u32 = 0x2C2;
const RC_BAD_AUTH_S1: u32 = 0x9A2;
const RC_AUTH_FAIL_S1: u32 = 0x98E;
const RC_HANDLE_H1: u32 = 0x18B;

fn started(p: Protocol) -> Server {
    let s = Server::start(p);
    s.ok("tpm2_startup", &["-c"]);
    s
}

fn assert_rc(out: &support::ToolOutput, rc: u32) {
    assert_eq!(
        out.tpm_rc(),
        Some(rc),
        "expected TPM response code {rc:#x}: {out:?}"
    );
}

fn hex_index(i: u32) -> String {
    format!("{i:#x}")
}

/// One entry of `tpm2_nvreadpublic`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct NvPublic {
    index: u32,
    name: Vec<u8>,
    name_alg: u16,
    attributes: u32,
    size: u16,
    policy: Vec<u8>,
}

impl NvPublic {
    /// The Name recomputed from the printed public area (Part 1 §16):
    /// nameAlg || H(TPMS_NV_PUBLIC). Only SHA-256 indices are used here.
    fn computed_name(&self) -> Vec<u8> {
        assert_eq!(self.name_alg, 0x000B, "test indices use SHA-256");
        let mut public = self.index.to_be_bytes().to_vec();
        public.extend_from_slice(&self.name_alg.to_be_bytes());
        public.extend_from_slice(&self.attributes.to_be_bytes());
        public.extend_from_slice(&(self.policy.len() as u16).to_be_bytes());
        public.extend_from_slice(&self.policy);
        public.extend_from_slice(&self.size.to_be_bytes());
        let mut name = self.name_alg.to_be_bytes().to_vec();
        name.extend_from_slice(&sha2::Sha256::digest(&public));
        name
    }
}

/// Parses `tpm2_nvreadpublic` output:
///
/// ```text
/// 0x1500016:
///   name: 000b...
///   hash algorithm:
///     friendly: sha256
///     value: 0xB
///   attributes:
///     friendly: ownerwrite|ownerread
///     value: 0x60002
///   size: 32
///   authorization policy: 1C4F...
/// ```
fn nvreadpublic(out: &str) -> BTreeMap<u32, NvPublic> {
    let mut m = BTreeMap::new();
    let mut cur: Option<NvPublic> = None;
    let mut section = "";
    for line in out.lines() {
        if line.trim().is_empty() {
            continue;
        }
        let (k, v) = line
            .trim()
            .split_once(':')
            .unwrap_or_else(|| panic!("unexpected line {line:?} in\n{out}"));
        let (k, v) = (k.trim(), v.trim());
        if !line.starts_with(' ') {
            if let Some(c) = cur.take() {
                m.insert(c.index, c);
            }
            cur = Some(NvPublic {
                index: parse::num(k) as u32,
                name: Vec::new(),
                name_alg: 0,
                attributes: 0,
                size: 0,
                policy: Vec::new(),
            });
            continue;
        }
        let c = cur.as_mut().expect("field before an index");
        match (section, k) {
            (_, "name") => c.name = parse::hex(v),
            (_, "hash algorithm") => section = "alg",
            (_, "attributes") => section = "attrs",
            (_, "size") => c.size = parse::num(v) as u16,
            (_, "authorization policy") => c.policy = parse::hex(v),
            ("alg", "value") => c.name_alg = parse::num(v) as u16,
            ("attrs", "value") => c.attributes = parse::num(v) as u32,
            (_, "friendly") => {}
            _ => panic!("unexpected field {line:?} in\n{out}"),
        }
    }
    if let Some(c) = cur.take() {
        m.insert(c.index, c);
    }
    m
}

fn public_of(s: &Server, index: u32) -> NvPublic {
    let m = nvreadpublic(&s.ok("tpm2_nvreadpublic", &[&hex_index(index)]));
    m.get(&index)
        .cloned()
        .unwrap_or_else(|| panic!("{index:#x} not in {m:?}"))
}

/// `tpm2_getcap properties-variable` as property name -> value.
fn variable_properties(s: &Server) -> BTreeMap<String, u64> {
    let out = s.ok("tpm2_getcap", &["properties-variable"]);
    out.lines()
        .filter_map(|l| {
            // Bit-field properties (TPM2_PT_PERMANENT, ...) print their
            // bits on the following lines; only plain values are kept.
            let (k, v) = l.split_once(':')?;
            (k.starts_with("TPM2_PT_") && !v.trim().is_empty())
                .then(|| (k.to_string(), parse::num(v)))
        })
        .collect()
}

/// Reads `size` octets at `offset` (tpm2_nvread -o FILE).
fn nvread(s: &Server, index: u32, auth: &[&str], size: usize, offset: usize) -> Vec<u8> {
    let out = s.path("nvread.out");
    let out_s = out.to_str().expect("utf-8 path").to_string();
    let (size, offset) = (size.to_string(), offset.to_string());
    let mut args = vec![hex_index(index)];
    args.extend(auth.iter().map(|a| a.to_string()));
    args.extend([
        "-s".into(),
        size,
        "--offset".into(),
        offset,
        "-o".into(),
        out_s,
    ]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    s.ok("tpm2_nvread", &args);
    std::fs::read(&out).expect("read nvread output")
}

fn nvwrite(
    s: &Server,
    index: u32,
    auth: &[&str],
    data: &[u8],
    offset: usize,
) -> support::ToolOutput {
    let file = s.write_file("nvwrite.in", data);
    let offset = offset.to_string();
    let idx = hex_index(index);
    let mut args: Vec<&str> = vec![&idx, "-i", &file, "--offset", &offset];
    args.extend_from_slice(auth);
    s.run("tpm2_nvwrite", &args)
}

fn sha256(parts: &[&[u8]]) -> Vec<u8> {
    let mut h = sha2::Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().to_vec()
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(37).wrapping_add(u32::from(seed)) as u8)
        .collect()
}

// ---------------------------------------------------------------------------
// Tests.

/// tpm2_nvdefine of every type; tpm2_nvreadpublic prints the attributes we
/// asked for and a Name equal to the one computed from the public area;
/// tpm2_getcap lists the handles and counts them.
fn nvdefine_readpublic_names_and_getcap(p: Protocol) {
    let s = started(p);
    let defs: [(u32, &str, &str, u32, u16); 5] = [
        (
            0x0150_0016,
            "o",
            "ownerread|ownerwrite|authread|authwrite|no_da",
            OWNERREAD | OWNERWRITE | AUTHREAD | AUTHWRITE | NO_DA,
            32,
        ),
        (
            0x0150_0017,
            "o",
            "ownerread|ownerwrite|nt=counter",
            OWNERREAD | OWNERWRITE | NT_COUNTER,
            8,
        ),
        (
            0x0150_0018,
            "o",
            "ownerread|ownerwrite|nt=extend",
            OWNERREAD | OWNERWRITE | NT_EXTEND,
            32,
        ),
        (
            0x0150_0019,
            "o",
            "ownerread|ownerwrite|nt=bits|read_stclear",
            OWNERREAD | OWNERWRITE | NT_BITS | READ_STCLEAR,
            8,
        ),
        (
            0x01C0_0100,
            "p",
            "ppread|ppwrite|ownerread|platformcreate|writedefine",
            PPREAD | PPWRITE | OWNERREAD | PLATFORMCREATE | WRITEDEFINE,
            100,
        ),
    ];
    for (idx, hier, attrs, _, size) in &defs {
        let size = size.to_string();
        let out = s.ok(
            "tpm2_nvdefine",
            &[
                &hex_index(*idx),
                "-C",
                hier,
                "-s",
                &size,
                "-a",
                attrs,
                "-p",
                "pass",
            ],
        );
        assert!(out.contains(&format!("nv-index: {idx:#x}")), "{out}");
    }
    let all = nvreadpublic(&s.ok("tpm2_nvreadpublic", &[]));
    assert_eq!(
        all.keys().copied().collect::<Vec<_>>(),
        defs.iter().map(|d| d.0).collect::<Vec<_>>()
    );
    for (idx, _, _, bits, size) in &defs {
        let e = &all[idx];
        assert_eq!(e.attributes, *bits, "{idx:#x} attributes");
        assert_eq!(e.size, *size, "{idx:#x} size");
        assert_eq!(e.name_alg, 0x000B);
        assert_eq!(e.name, e.computed_name(), "{idx:#x} Name");
    }

    // Defined twice; an attribute combination the TPM refuses.
    let out = s.fails(
        "tpm2_nvdefine",
        &[
            "0x1500016",
            "-C",
            "o",
            "-s",
            "8",
            "-a",
            "ownerread|ownerwrite",
        ],
    );
    assert_rc(&out, RC_NV_DEFINED);
    let out = s.fails(
        "tpm2_nvdefine",
        &[
            "0x1500030",
            "-C",
            "o",
            "-s",
            "8",
            "-a",
            "ownerread|ownerwrite|nt=counter|clear_stclear",
        ],
    );
    assert_rc(&out, RC_ATTRIBUTES_P2);

    let handles = parse::handles(&s.ok("tpm2_getcap", &["handles-nv-index"]));
    assert_eq!(handles, defs.iter().map(|d| d.0).collect::<Vec<_>>());
    let props = variable_properties(&s);
    assert_eq!(props["TPM2_PT_HR_NV_INDEX"], 5);
    assert_eq!(props["TPM2_PT_NV_COUNTERS"], 1);
    // Bounded by 512 octets of orderly RAM at 20 per counter.
    assert_eq!(props["TPM2_PT_NV_COUNTERS_AVAIL"], 25);

    // Writing changes the Name (TPMA_NV_WRITTEN is part of it).
    assert!(nvwrite(&s, 0x0150_0016, &["-C", "o"], b"x", 0).success());
    let e = public_of(&s, 0x0150_0016);
    assert_eq!(e.attributes & WRITTEN, WRITTEN);
    assert_eq!(e.name, e.computed_name());
    assert_ne!(e.name, all[&0x0150_0016].name);
}

/// Ordinary data with offsets, counters, extend and bit-field indices,
/// read back with owner and index authorization.
fn nv_data_of_every_index_type(p: Protocol) {
    let s = started(p);
    let idx = 0x0150_0016;
    s.ok(
        "tpm2_nvdefine",
        &[
            "0x1500016",
            "-C",
            "o",
            "-s",
            "64",
            "-a",
            "ownerread|ownerwrite|authread|authwrite|no_da",
            "-p",
            "idxpass",
        ],
    );
    let out = s.fails("tpm2_nvread", &["0x1500016", "-C", "o", "-s", "8"]);
    assert_rc(&out, RC_NV_UNINITIALIZED);
    let a = pattern(20, 1);
    assert!(nvwrite(&s, idx, &["-C", "o"], &a, 10).success());
    let b = pattern(7, 2);
    assert!(nvwrite(&s, idx, &["-C", "0x1500016", "-P", "idxpass"], &b, 0).success());
    // Unwritten octets of an index read as erased NV (0xFF), as in libtpms.
    let mut want = vec![0xFF; 64];
    want[10..30].copy_from_slice(&a);
    want[..7].copy_from_slice(&b);
    assert_eq!(nvread(&s, idx, &["-C", "o"], 64, 0), want);
    assert_eq!(
        nvread(&s, idx, &["-C", "0x1500016", "-P", "idxpass"], 9, 5),
        want[5..14]
    );
    let out = s.fails(
        "tpm2_nvread",
        &["0x1500016", "-C", "0x1500016", "-P", "wrong", "-s", "4"],
    );
    assert_rc(&out, RC_BAD_AUTH_S1);
    // The whole index with no size given (the tool reads it in chunks).
    let out = s.path("whole.bin");
    s.ok(
        "tpm2_nvread",
        &["0x1500016", "-C", "o", "-o", out.to_str().unwrap()],
    );
    assert_eq!(std::fs::read(&out).unwrap(), want);

    s.ok(
        "tpm2_nvdefine",
        &[
            "0x1500017",
            "-C",
            "o",
            "-s",
            "8",
            "-a",
            "ownerread|ownerwrite|nt=counter",
        ],
    );
    for n in 1..=3u64 {
        s.ok("tpm2_nvincrement", &["-C", "o", "0x1500017"]);
        assert_eq!(nvread(&s, 0x0150_0017, &["-C", "o"], 8, 0), n.to_be_bytes());
    }
    let out = nvwrite(&s, 0x0150_0017, &["-C", "o"], &[0; 8], 0);
    assert_eq!(out.tpm_rc(), Some(0x082), "{out:?}");

    s.ok(
        "tpm2_nvdefine",
        &[
            "0x1500018",
            "-C",
            "o",
            "-s",
            "32",
            "-a",
            "ownerread|ownerwrite|nt=extend",
            "-g",
            "sha256",
        ],
    );
    let d1 = s.write_file("ext1.bin", b"hello");
    let d2 = s.write_file("ext2.bin", &pattern(300, 9));
    s.ok("tpm2_nvextend", &["-C", "o", "-i", &d1, "0x1500018"]);
    let v1 = sha256(&[&[0; 32], b"hello"]);
    assert_eq!(nvread(&s, 0x0150_0018, &["-C", "o"], 32, 0), v1);
    s.ok("tpm2_nvextend", &["-C", "o", "-i", &d2, "0x1500018"]);
    let v2 = sha256(&[&v1, &pattern(300, 9)]);
    assert_eq!(nvread(&s, 0x0150_0018, &["-C", "o"], 32, 0), v2);

    s.ok(
        "tpm2_nvdefine",
        &["0x1500019", "-C", "o", "-a", "ownerread|ownerwrite|nt=bits"],
    );
    for (bits, total) in [
        (0x5u64, 0x5u64),
        (0x10, 0x15),
        (0x8000_0000_0000_0001, 0x8000_0000_0000_0015),
    ] {
        s.ok(
            "tpm2_nvsetbits",
            &["-C", "o", "-i", &format!("{bits:#x}"), "0x1500019"],
        );
        assert_eq!(
            nvread(&s, 0x0150_0019, &["-C", "o"], 8, 0),
            total.to_be_bytes()
        );
    }

    // Everything is still there after a power cycle.
    let mut s = s;
    s.power_cycle();
    s.ok("tpm2_startup", &["-c"]);
    assert_eq!(nvread(&s, idx, &["-C", "o"], 64, 0), want);
    assert_eq!(
        nvread(&s, 0x0150_0017, &["-C", "o"], 8, 0),
        3u64.to_be_bytes()
    );
    assert_eq!(nvread(&s, 0x0150_0018, &["-C", "o"], 32, 0), v2);
    s.ok("tpm2_nvincrement", &["-C", "o", "0x1500017"]);
    assert_eq!(
        nvread(&s, 0x0150_0017, &["-C", "o"], 8, 0),
        4u64.to_be_bytes()
    );
}

/// Read, write and global locks; what survives TPM Reset; undefine rules.
fn nv_locks_undefine_and_power_cycles(p: Protocol) {
    let mut s = started(p);
    let defs = [
        ("0x1500020", "ownerread|ownerwrite|writedefine"),
        ("0x1500021", "ownerread|ownerwrite|write_stclear"),
        ("0x1500022", "ownerread|ownerwrite|read_stclear"),
        ("0x1500023", "ownerread|ownerwrite|globallock"),
    ];
    for (i, a) in defs {
        s.ok("tpm2_nvdefine", &[i, "-C", "o", "-s", "4", "-a", a]);
        assert!(nvwrite(&s, parse::num(i) as u32, &["-C", "o"], b"data", 0).success());
    }
    s.ok("tpm2_nvwritelock", &["-C", "o", "0x1500020"]);
    s.ok("tpm2_nvwritelock", &["-C", "o", "0x1500021"]);
    s.ok("tpm2_nvreadlock", &["-C", "o", "0x1500022"]);
    s.ok("tpm2_nvwritelock", &["-C", "o", "--global"]);
    for i in [0x0150_0020, 0x0150_0021, 0x0150_0023] {
        assert_rc(&nvwrite(&s, i, &["-C", "o"], b"new!", 0), RC_NV_LOCKED);
        assert_eq!(public_of(&s, i).attributes & WRITELOCKED, WRITELOCKED);
    }
    let out = s.fails("tpm2_nvread", &["0x1500022", "-C", "o", "-s", "4"]);
    assert_rc(&out, RC_NV_LOCKED);
    assert_eq!(
        public_of(&s, 0x0150_0022).attributes & READLOCKED,
        READLOCKED
    );

    // TPM Reset: only the WRITEDEFINE lock survives.
    s.ok("tpm2_shutdown", &["-c"]);
    s.power_cycle();
    s.ok("tpm2_startup", &["-c"]);
    assert_rc(
        &nvwrite(&s, 0x0150_0020, &["-C", "o"], b"new!", 0),
        RC_NV_LOCKED,
    );
    for i in [0x0150_0021, 0x0150_0023] {
        assert!(nvwrite(&s, i, &["-C", "o"], b"new!", 0).success());
        assert_eq!(nvread(&s, i, &["-C", "o"], 4, 0), b"new!");
    }
    assert_eq!(nvread(&s, 0x0150_0022, &["-C", "o"], 4, 0), b"data");
    assert_eq!(nvread(&s, 0x0150_0020, &["-C", "o"], 4, 0), b"data");

    // Undefine: the owner cannot remove a platform index; locks do not
    // prevent deletion.
    s.ok(
        "tpm2_nvdefine",
        &[
            "0x1c00100",
            "-C",
            "p",
            "-s",
            "4",
            "-a",
            "ppread|ppwrite|ownerread|platformcreate",
        ],
    );
    let out = s.fails("tpm2_nvundefine", &["-C", "o", "0x1c00100"]);
    assert_rc(&out, RC_NV_AUTHORIZATION);
    s.ok("tpm2_nvundefine", &["-C", "p", "0x1c00100"]);
    s.ok("tpm2_nvundefine", &["-C", "o", "0x1500020"]);
    let out = s.fails("tpm2_nvreadpublic", &["0x1500020"]);
    assert_rc(&out, RC_HANDLE_H1);
    let handles = parse::handles(&s.ok("tpm2_getcap", &["handles-nv-index"]));
    assert_eq!(handles, vec![0x0150_0021, 0x0150_0022, 0x0150_0023]);
}

/// A policy-authorized index (tpm2_policycommandcode, digest checked
/// against the Part 3 §23.11 formula), index authorization through an HMAC
/// session, and what each authorization may not do.
fn nv_policy_and_hmac_authorization(p: Protocol) {
    let s = started(p);
    let trial = s.path("trial.ctx");
    let trial = trial.to_str().unwrap();
    let policy = s.path("policy.dat");
    let policy = policy.to_str().unwrap();
    s.ok("tpm2_startauthsession", &["-S", trial]);
    s.ok(
        "tpm2_policycommandcode",
        &["-S", trial, "-L", policy, "TPM2_CC_NV_Write"],
    );
    s.ok("tpm2_flushcontext", &[trial]);
    let digest = std::fs::read(policy).unwrap();
    assert_eq!(
        digest,
        sha256(&[&[0; 32], &0x16Cu32.to_be_bytes(), &0x137u32.to_be_bytes()]),
        "PolicyCommandCode(NV_Write) digest"
    );
    s.ok(
        "tpm2_nvdefine",
        &[
            "0x1500040",
            "-C",
            "o",
            "-s",
            "8",
            "-a",
            "policywrite|ownerread|authread|no_da",
            "-L",
            policy,
            "-p",
            "pw",
        ],
    );
    let e = public_of(&s, 0x0150_0040);
    assert_eq!(e.policy, digest);
    assert_eq!(e.attributes, POLICYWRITE | OWNERREAD | AUTHREAD | NO_DA);
    assert_eq!(e.name, e.computed_name());

    let sess = s.path("policy.ctx");
    let sess = sess.to_str().unwrap();
    s.ok("tpm2_startauthsession", &["--policy-session", "-S", sess]);
    s.ok("tpm2_policycommandcode", &["-S", sess, "TPM2_CC_NV_Write"]);
    let auth = format!("session:{sess}");
    let out = nvwrite(
        &s,
        0x0150_0040,
        &["-C", "0x1500040", "-P", &auth],
        b"policy!!",
        0,
    );
    assert!(out.success(), "{out:?}");
    s.ok("tpm2_flushcontext", &[sess]);
    assert_eq!(nvread(&s, 0x0150_0040, &["-C", "o"], 8, 0), b"policy!!");
    // The password does not write (AUTHWRITE clear) but reads (AUTHREAD).
    assert_rc(
        &nvwrite(
            &s,
            0x0150_0040,
            &["-C", "0x1500040", "-P", "pw"],
            b"password",
            0,
        ),
        RC_AUTH_UNAVAILABLE,
    );
    assert_eq!(
        nvread(&s, 0x0150_0040, &["-C", "0x1500040", "-P", "pw"], 8, 0),
        b"policy!!"
    );

    // HMAC session with the index's authValue; a DA-protected index
    // answers a wrong one with TPM_RC_AUTH_FAIL.
    s.ok(
        "tpm2_nvdefine",
        &[
            "0x1500041",
            "-C",
            "o",
            "-s",
            "8",
            "-a",
            "authread|authwrite",
            "-p",
            "secret",
        ],
    );
    let hmac = s.path("hmac.ctx");
    let hmac = hmac.to_str().unwrap();
    s.ok("tpm2_startauthsession", &["--hmac-session", "-S", hmac]);
    let good = format!("session:{hmac}+secret");
    let bad = format!("session:{hmac}+wrong");
    assert!(nvwrite(
        &s,
        0x0150_0041,
        &["-C", "0x1500041", "-P", &good],
        b"hmac-ok!",
        0
    )
    .success());
    assert_eq!(
        nvread(&s, 0x0150_0041, &["-C", "0x1500041", "-P", &good], 8, 0),
        b"hmac-ok!"
    );
    let out = s.fails(
        "tpm2_nvread",
        &["0x1500041", "-C", "0x1500041", "-P", &bad, "-s", "8"],
    );
    assert_rc(&out, RC_AUTH_FAIL_S1);
    // The owner has no rights on it.
    let out = s.fails("tpm2_nvread", &["0x1500041", "-C", "o", "-s", "8"]);
    assert_rc(&out, RC_NV_AUTHORIZATION);

    // Parameter encryption: NV_Write's data and NV_Read's answer travel
    // encrypted with the session key and the index's authValue; a round
    // trip only reads back what was written if both sides agree.
    s.ok(
        "tpm2_sessionconfig",
        &[hmac, "--enable-encrypt", "--enable-decrypt"],
    );
    let secret = pattern(8, 0x77);
    assert!(nvwrite(
        &s,
        0x0150_0041,
        &["-C", "0x1500041", "-P", &good],
        &secret,
        0
    )
    .success());
    assert_eq!(
        nvread(&s, 0x0150_0041, &["-C", "0x1500041", "-P", &good], 8, 0),
        secret
    );
    s.ok(
        "tpm2_sessionconfig",
        &[hmac, "--disable-encrypt", "--disable-decrypt"],
    );
    assert_eq!(
        nvread(&s, 0x0150_0041, &["-C", "0x1500041", "-P", &good], 8, 0),
        secret
    );
}

/// The RSA EK certificate index as a platform provisions it (TCG EK
/// Credential Profile): defined and written by the platform, write-locked,
/// read back whole by the owner and through its empty authValue.
fn ek_certificate_index(p: Protocol) {
    let mut s = started(p);
    let cert = pattern(1290, 0x30);
    let size = cert.len().to_string();
    s.ok(
        "tpm2_nvdefine",
        &[
            "0x1c00002",
            "-C",
            "p",
            "-s",
            &size,
            "-a",
            "ppwrite|ppread|ownerread|authread|platformcreate|no_da|writedefine",
        ],
    );
    let file = s.write_file("ekcert.der", &cert);
    s.ok("tpm2_nvwrite", &["0x1c00002", "-C", "p", "-i", &file]);
    s.ok("tpm2_nvwritelock", &["-C", "p", "0x1c00002"]);
    s.power_cycle();
    s.ok("tpm2_startup", &["-c"]);
    let e = public_of(&s, 0x01C0_0002);
    let want = PPWRITE | PPREAD | OWNERREAD | AUTHREAD | PLATFORMCREATE | NO_DA | WRITEDEFINE;
    assert_eq!(e.attributes, want | WRITTEN | WRITELOCKED);
    assert_eq!(e.size as usize, cert.len());
    assert_eq!(e.name, e.computed_name());
    for auth in ["o", "0x1c00002"] {
        let out = s.path("ek.out");
        s.ok(
            "tpm2_nvread",
            &["0x1c00002", "-C", auth, "-o", out.to_str().unwrap()],
        );
        assert_eq!(std::fs::read(&out).unwrap(), cert, "read with {auth}");
    }
    assert_rc(
        &nvwrite(&s, 0x01C0_0002, &["-C", "p"], b"x", 0),
        RC_NV_LOCKED,
    );
}
