//! The real tpm2-tools (5.4) against `trustcloud tpm serve`, under both
//! protocols, for attestation: createek + createak, quote + checkquote
//! (RSA and ECC AKs, SHA-256 and SM3 PCR banks), certify, certifycreation,
//! nvcertify, gettime, getsessionauditdigest with an audit session, and
//! setcommandauditstatus + getcommandauditdigest.
//!
//! Every attestation is also checked without the tools' help: the
//! TPMS_ATTEST is parsed with `tpm::types::Attest`, the expected values
//! (Qualified Names, PCR digests from `tpm2_pcrread`, audit digests from
//! the commands' parameters) are recomputed here, and the signature is
//! verified with `openssl dgst -verify` against the AK public key exported
//! with `tpm2_readpublic -f pem`.
//!
//! tpm2-tools run without a resource manager and leave what they load in
//! the TPM's three object slots, so the tests flush between tools.
//! `TRUSTCLOUD_TEST_TPM=swtpm cargo test -p trustcloud --test
//! tpm2_tools_attest swtpm` runs the same checks against swtpm (SHA-256
//! bank only).

mod support;

use std::process::Command;

use sha2::Digest;
use support::{parse, run_bounded, Protocol, Server, ServerBuilder, TOOL_TIMEOUT, UNDER_TEST_ENV};
use tpm::constants::st;
use tpm::types::{Attest, Attested, Signature};
use tpm::wire::Codec;

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
    quote_and_checkquote,
    certify_and_certifycreation,
    nvcertify_and_gettime,
    session_and_command_audit,
);

const OWNER: u32 = 0x4000_0001;
const ENDORSEMENT: u32 = 0x4000_000B;

/// Whether [`UNDER_TEST_ENV`] asks for the reference swtpm (a check of
/// the tests themselves; swtpm protocol only, and no SM3 bank).
fn reference_run() -> bool {
    std::env::var(UNDER_TEST_ENV).as_deref() == Ok("swtpm")
}

fn started(p: Protocol, banks: &str) -> Server {
    let builder = if reference_run() {
        assert_eq!(
            p,
            Protocol::Swtpm,
            "{UNDER_TEST_ENV}=swtpm: swtpm protocol only"
        );
        ServerBuilder::swtpm()
    } else {
        ServerBuilder::trustcloud(p)
    };
    let s = builder.pcr_banks(banks).start();
    s.ok("tpm2_startup", &["-c"]);
    s
}

/// Flushes every transient object (the tools leave them loaded).
fn flush(s: &Server) {
    s.ok("tpm2_flushcontext", &["-t"]);
}

fn read(s: &Server, name: &str) -> Vec<u8> {
    std::fs::read(s.path(name)).unwrap_or_else(|e| panic!("read {name}: {e}"))
}

fn sha256(parts: &[&[u8]]) -> Vec<u8> {
    let mut h = sha2::Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().to_vec()
}

/// The Name of a SHA-256 object from its TPM2B_PUBLIC file (Part 1 §16).
fn name_of_tpm2b_public(file: &[u8]) -> Vec<u8> {
    let size = u16::from_be_bytes([file[0], file[1]]) as usize;
    assert_eq!(size + 2, file.len(), "TPM2B_PUBLIC file");
    let mut n = vec![0x00, 0x0b];
    n.extend(sha256(&[&file[2..]]));
    n
}

/// A Qualified Name (Part 1 §16.3): SHA-256 nameAlg || H(parent QN || Name).
fn qualified(parent_qn: &[u8], name: &[u8]) -> Vec<u8> {
    let mut qn = vec![0x00, 0x0b];
    qn.extend(sha256(&[parent_qn, name]));
    qn
}

/// An attestation key made the way attestation stacks do: an EK from the
/// EK Credential Profile template, an AK under it (tpm2_createak), the AK
/// public key exported as PEM.
struct Ak {
    /// The AK's Qualified Name, computed here: the EK is a primary of the
    /// endorsement hierarchy, the AK its child.
    qualified_name: Vec<u8>,
}

fn make_ak(s: &Server, alg: &str) -> Ak {
    s.ok(
        "tpm2_createek",
        &["-G", alg, "-u", "ek.pub", "-c", "ek.ctx"],
    );
    flush(s);
    let sig = if alg == "rsa" { "rsassa" } else { "ecdsa" };
    let out = s.ok(
        "tpm2_createak",
        &[
            "-C", "ek.ctx", "-c", "ak.ctx", "-G", alg, "-g", "sha256", "-s", sig, "-u", "ak.pub",
            "-n", "ak.name",
        ],
    );
    flush(s);
    let ek_name = name_of_tpm2b_public(&read(s, "ek.pub"));
    let ak_name = name_of_tpm2b_public(&read(s, "ak.pub"));
    assert_eq!(read(s, "ak.name"), ak_name);
    let qualified_name = qualified(&qualified(&ENDORSEMENT.to_be_bytes(), &ek_name), &ak_name);
    // createak reports what the TPM computed.
    let blocks = parse::blocks(&out);
    let loaded = parse::block(&blocks, "loaded-key");
    assert_eq!(
        parse::hex(loaded.field("qualified name").expect("qualified name")),
        qualified_name,
        "{out}"
    );
    s.ok(
        "tpm2_readpublic",
        &["-c", "ak.ctx", "-f", "pem", "-o", "ak.pem"],
    );
    flush(s);
    Ak { qualified_name }
}

/// DER INTEGER of a big-endian unsigned value.
fn der_int(v: &[u8]) -> Vec<u8> {
    let mut v: Vec<u8> = v.iter().copied().skip_while(|&b| b == 0).collect();
    if v.is_empty() || v[0] & 0x80 != 0 {
        v.insert(0, 0);
    }
    let mut out = vec![0x02, v.len() as u8];
    out.extend(v);
    out
}

/// The signature in the form `openssl dgst -verify` takes: PKCS#1 v1.5
/// octets for RSASSA, a DER SEQUENCE of r and s for ECDSA.
fn openssl_signature(sig: &Signature) -> Vec<u8> {
    match sig {
        Signature::Rsassa(s) => s.sig.as_slice().to_vec(),
        Signature::Ecdsa(s) => {
            let mut body = der_int(s.r.as_slice());
            body.extend(der_int(s.s.as_slice()));
            let mut out = vec![0x30, body.len() as u8];
            out.extend(body);
            out
        }
        other => panic!("unexpected signature {other:?}"),
    }
}

/// `openssl dgst -sha256 -verify ak.pem` of `message` with the TPMT_SIGNATURE
/// in file `sig_file`; whether it verified.
fn openssl_verifies(s: &Server, message: &[u8], sig_file: &str) -> bool {
    let sig = Signature::from_bytes(&read(s, sig_file)).expect("TPMT_SIGNATURE");
    assert_eq!(sig.hash(), Some(0x000b), "signed with SHA-256");
    s.write_file("ossl.msg", message);
    s.write_file("ossl.sig", &openssl_signature(&sig));
    let mut cmd = Command::new("openssl");
    cmd.args([
        "dgst",
        "-sha256",
        "-verify",
        "ak.pem",
        "-signature",
        "ossl.sig",
        "ossl.msg",
    ])
    .current_dir(s.work_dir());
    let out = run_bounded(cmd, None, TOOL_TIMEOUT);
    out.success() && out.stdout_str().contains("Verified OK")
}

/// Checks a TPMS_ATTEST file: magic and type by hand, then parsed; the
/// signature verified by openssl, and refused for a modified message.
fn attest_file(s: &Server, file: &str, sig_file: &str, attest_type: u16) -> Attest {
    let bytes = read(s, file);
    assert_eq!(
        &bytes[0..4],
        &[0xff, 0x54, 0x43, 0x47],
        "TPM_GENERATED_VALUE"
    );
    assert_eq!(u16::from_be_bytes([bytes[4], bytes[5]]), attest_type);
    assert!(openssl_verifies(s, &bytes, sig_file), "{file} signature");
    let mut tampered = bytes.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    assert!(!openssl_verifies(s, &tampered, sig_file), "{file} tampered");
    Attest::from_bytes(&bytes).expect("TPMS_ATTEST parses")
}

/// resetCount and restartCount from tpm2_readclock.
fn counts(s: &Server) -> (u64, u64) {
    let out = s.ok("tpm2_readclock", &[]);
    let blocks = parse::blocks(&out);
    let ci = parse::block(&blocks, "clock_info");
    (ci.num("reset_count"), ci.num("restart_count"))
}

/// tpm2_quote + tpm2_checkquote with RSA and ECC AKs over the SHA-256 and
/// SM3 banks; the quote's PCR digest recomputed from tpm2_pcrread.
fn quote_and_checkquote(p: Protocol) {
    // libtpms has no SM3 bank: the reference run quotes SHA-256 only.
    let banks: &[&str] = if reference_run() {
        &["sha256"]
    } else {
        &["sha256", "sm3_256"]
    };
    let s = started(p, &banks.join(","));
    let extend: Vec<String> = banks
        .iter()
        .map(|b| format!("{b}={}", "ab".repeat(32)))
        .collect();
    s.ok("tpm2_pcrextend", &[&format!("16:{}", extend.join(","))]);
    for alg in ["rsa", "ecc"] {
        let ak = make_ak(&s, alg);
        for &bank in banks {
            let nonce = "1234abcd";
            let list = format!("{bank}:0,16,23");
            s.ok(
                "tpm2_quote",
                &[
                    "-c", "ak.ctx", "-l", &list, "-q", nonce, "-m", "q.msg", "-s", "q.sig", "-o",
                    "q.pcrs", "-g", "sha256",
                ],
            );
            flush(&s);
            let check = [
                "-u", "ak.pub", "-m", "q.msg", "-s", "q.sig", "-f", "q.pcrs", "-g", "sha256", "-q",
                nonce,
            ];
            s.tools().ok("tpm2_checkquote", &check);
            // Another nonce: refused.
            let mut wrong = check;
            wrong[11] = "1234abce";
            s.tools().fails("tpm2_checkquote", &wrong);

            let a = attest_file(&s, "q.msg", "q.sig", st::ATTEST_QUOTE);
            assert_eq!(a.qualified_signer.as_bytes(), ak.qualified_name);
            assert_eq!(a.extra_data.as_slice(), hex::decode(nonce).unwrap());
            // An endorsement-hierarchy key shows the counts as they are.
            let (reset, restart) = counts(&s);
            assert_eq!(u64::from(a.clock_info.reset_count), reset);
            assert_eq!(u64::from(a.clock_info.restart_count), restart);
            let Attested::Quote(q) = &a.attested else {
                panic!("quote info")
            };
            assert_eq!(q.pcr_select.0.len(), 1);
            let sel = &q.pcr_select.0[0];
            assert_eq!(sel.hash.id(), if bank == "sha256" { 0x0b } else { 0x12 });
            assert_eq!(sel.indices().collect::<Vec<_>>(), vec![0, 16, 23]);
            let values = parse::pcrread(&s.ok("tpm2_pcrread", &[&list]));
            let bank_values = &values[bank];
            let concat: Vec<u8> = [0, 16, 23]
                .iter()
                .flat_map(|i| bank_values[i].clone())
                .collect();
            assert_eq!(bank_values[&16].len(), 32);
            assert_eq!(q.pcr_digest.as_slice(), sha256(&[&concat]));
        }
    }
}

/// tpm2_certify of a primary key and tpm2_certifycreation of its creation
/// ticket; a modified ticket is TPM_RC_TICKET.
fn certify_and_certifycreation(p: Protocol) {
    let s = started(p, "sha256");
    let ak = make_ak(&s, "ecc");
    s.ok(
        "tpm2_createprimary",
        &[
            "-C",
            "o",
            "-G",
            "ecc",
            "-c",
            "prim.ctx",
            "--creation-data",
            "cd.bin",
            "-t",
            "ct.bin",
            "-d",
            "ch.bin",
        ],
    );
    s.ok("tpm2_readpublic", &["-c", "prim.ctx", "-o", "prim.pub"]);
    flush(&s);
    let name = name_of_tpm2b_public(&read(&s, "prim.pub"));

    s.ok(
        "tpm2_certify",
        &[
            "-c", "prim.ctx", "-C", "ak.ctx", "-g", "sha256", "-o", "cert.att", "-s", "cert.sig",
        ],
    );
    flush(&s);
    let a = attest_file(&s, "cert.att", "cert.sig", st::ATTEST_CERTIFY);
    assert_eq!(a.qualified_signer.as_bytes(), ak.qualified_name);
    let Attested::Certify(c) = &a.attested else {
        panic!("certify info")
    };
    assert_eq!(c.name.as_bytes(), name);
    assert_eq!(
        c.qualified_name.as_bytes(),
        qualified(&OWNER.to_be_bytes(), &name)
    );

    s.ok(
        "tpm2_certifycreation",
        &[
            "-C",
            "ak.ctx",
            "-c",
            "prim.ctx",
            "-d",
            "ch.bin",
            "-t",
            "ct.bin",
            "-g",
            "sha256",
            "-o",
            "cc.sig",
            "--attestation",
            "cc.att",
        ],
    );
    flush(&s);
    let a = attest_file(&s, "cc.att", "cc.sig", st::ATTEST_CREATION);
    let Attested::Creation(c) = &a.attested else {
        panic!("creation info")
    };
    assert_eq!(c.object_name.as_bytes(), name);
    let ch = read(&s, "ch.bin");
    let ch = if ch.len() == 34 { ch[2..].to_vec() } else { ch };
    assert_eq!(c.creation_hash.as_slice(), ch);
    // The creation hash is that of the creation data.
    let cd = read(&s, "cd.bin");
    let cd = if u16::from_be_bytes([cd[0], cd[1]]) as usize + 2 == cd.len() {
        cd[2..].to_vec()
    } else {
        cd
    };
    assert_eq!(c.creation_hash.as_slice(), sha256(&[&cd]));

    let mut ticket = read(&s, "ct.bin");
    let last = ticket.len() - 1;
    ticket[last] ^= 1;
    s.write_file("bad.tk", &ticket);
    let out = s.fails(
        "tpm2_certifycreation",
        &[
            "-C",
            "ak.ctx",
            "-c",
            "prim.ctx",
            "-d",
            "ch.bin",
            "-t",
            "bad.tk",
            "-g",
            "sha256",
            "-o",
            "bad.sig",
            "--attestation",
            "bad.att",
        ],
    );
    assert_eq!(out.tpm_rc(), Some(0x4E0), "TPM_RC_TICKET + P4: {out:?}");
    flush(&s);
}

/// tpm2_nvcertify of a range of an NV index, and tpm2_gettime.
fn nvcertify_and_gettime(p: Protocol) {
    let s = started(p, "sha256");
    let ak = make_ak(&s, "ecc");
    s.ok(
        "tpm2_nvdefine",
        &[
            "0x1500010",
            "-C",
            "o",
            "-s",
            "32",
            "-a",
            "ownerread|ownerwrite|authread|authwrite",
        ],
    );
    let data = b"attested NV contents, 32 octets";
    s.write_file("nv.in", data);
    s.ok("tpm2_nvwrite", &["0x1500010", "-C", "o", "-i", "nv.in"]);
    let nv_name = {
        let out = s.ok("tpm2_nvreadpublic", &["0x1500010"]);
        let blocks = parse::blocks(&out);
        parse::hex(
            parse::block(&blocks, "0x1500010")
                .field("name")
                .expect("name"),
        )
    };
    s.ok(
        "tpm2_nvcertify",
        &[
            "-C",
            "ak.ctx",
            "-g",
            "sha256",
            "-o",
            "nv.sig",
            "--attestation",
            "nv.att",
            "-q",
            "3344",
            "--size",
            "9",
            "--offset",
            "9",
            "0x1500010",
        ],
    );
    flush(&s);
    let a = attest_file(&s, "nv.att", "nv.sig", st::ATTEST_NV);
    assert_eq!(a.extra_data.as_slice(), [0x33, 0x44]);
    assert_eq!(a.qualified_signer.as_bytes(), ak.qualified_name);
    let Attested::Nv(n) = &a.attested else {
        panic!("NV certify info")
    };
    assert_eq!(n.index_name.as_bytes(), nv_name);
    assert_eq!(n.offset, 9);
    assert_eq!(n.nv_contents.as_slice(), &data[9..18]);

    let out = s.ok(
        "tpm2_gettime",
        &[
            "-c",
            "ak.ctx",
            "-g",
            "sha256",
            "-q",
            "1122",
            "-o",
            "t.sig",
            "--attestation",
            "t.att",
        ],
    );
    flush(&s);
    let a = attest_file(&s, "t.att", "t.sig", st::ATTEST_TIME);
    let Attested::Time(t) = &a.attested else {
        panic!("time info")
    };
    // The tool prints the attested time; the TPM's clock moves on.
    let blocks = parse::blocks(&out);
    assert_eq!(
        parse::block(&blocks, "time")
            .inline
            .as_deref()
            .map(parse::num),
        Some(t.time.time)
    );
    let later = s.ok("tpm2_readclock", &[]);
    let blocks = parse::blocks(&later);
    let ci = parse::block(&blocks, "clock_info");
    assert!(t.time.clock_info.clock <= ci.num("clock"));
    assert_eq!(
        u64::from(t.time.clock_info.reset_count),
        ci.num("reset_count")
    );
    assert_eq!(a.extra_data.as_slice(), [0x11, 0x22]);
}

/// The audit digest of GetRandom(8) returning `random` (cpHash and rpHash
/// with SHA-256, no handles), extended onto `old`.
fn extend_get_random(old: &[u8], random: &[u8]) -> Vec<u8> {
    let cc = 0x0000_017Bu32.to_be_bytes();
    let cp = sha256(&[&cc, &8u16.to_be_bytes()]);
    let mut resp = (random.len() as u16).to_be_bytes().to_vec();
    resp.extend(random);
    let rp = sha256(&[&0u32.to_be_bytes(), &cc, &resp]);
    sha256(&[old, &cp, &rp])
}

/// tpm2_getrandom 8 --hex (with extra arguments), decoded.
fn get_random(s: &Server, extra: &[&str]) -> Vec<u8> {
    let mut args = vec!["8", "--hex"];
    args.extend_from_slice(extra);
    parse::hex(&s.ok("tpm2_getrandom", &args))
}

/// An audit session's digest over two GetRandom commands, then the command
/// audit log of GetRandom after tpm2_setcommandauditstatus; both digests
/// recomputed here.
fn session_and_command_audit(p: Protocol) {
    let s = started(p, "sha256");
    make_ak(&s, "ecc");

    s.ok(
        "tpm2_startauthsession",
        &["-S", "as.ctx", "--audit-session"],
    );
    let mut expected = vec![0u8; 32];
    for _ in 0..2 {
        let r = get_random(&s, &["-S", "as.ctx"]);
        expected = extend_get_random(&expected, &r);
    }
    s.ok(
        "tpm2_getsessionauditdigest",
        &[
            "-c", "ak.ctx", "-m", "sa.att", "-s", "sa.sig", "-g", "sha256", "-S", "as.ctx", "-q",
            "55",
        ],
    );
    s.ok("tpm2_flushcontext", &["as.ctx"]);
    flush(&s);
    let a = attest_file(&s, "sa.att", "sa.sig", st::ATTEST_SESSION_AUDIT);
    let Attested::SessionAudit(sa) = &a.attested else {
        panic!("session audit info")
    };
    assert_eq!(sa.session_digest.as_slice(), expected);

    // The tool sets the hash (not itself audited: it clears the log), then
    // adds GetRandom (audited: opens log 1).
    s.ok(
        "tpm2_setcommandauditstatus",
        &["-g", "sha256", "TPM2_CC_GetRandom"],
    );
    let r = get_random(&s, &[]);
    s.ok(
        "tpm2_getcommandauditdigest",
        &[
            "-c", "ak.ctx", "-m", "ca.att", "-s", "ca.sig", "-g", "sha256",
        ],
    );
    flush(&s);
    let a = attest_file(&s, "ca.att", "ca.sig", st::ATTEST_COMMAND_AUDIT);
    let Attested::CommandAudit(c) = &a.attested else {
        panic!("command audit info")
    };
    assert_eq!((c.audit_counter, c.digest_alg), (1, 0x000b));
    let set_cc = 0x0000_0140u32.to_be_bytes();
    let mut params = 0x000bu16.to_be_bytes().to_vec();
    params.extend(1u32.to_be_bytes());
    params.extend(0x0000_017Bu32.to_be_bytes());
    params.extend(0u32.to_be_bytes());
    let cp = sha256(&[&set_cc, &OWNER.to_be_bytes(), &params]);
    let rp = sha256(&[&0u32.to_be_bytes(), &set_cc]);
    let log = sha256(&[&[0u8; 32], &cp, &rp]);
    let log = extend_get_random(&log, &r);
    assert_eq!(c.audit_digest.as_slice(), log);
    let codes = [0x0000_0140u32.to_be_bytes(), 0x0000_017Bu32.to_be_bytes()].concat();
    assert_eq!(c.command_digest.as_slice(), sha256(&[&codes]));
    let props = s.ok("tpm2_getcap", &["properties-variable"]);
    let blocks = parse::blocks(&props);
    assert_eq!(
        parse::block(&blocks, "TPM2_PT_AUDIT_COUNTER_1")
            .inline
            .as_deref()
            .map(parse::num),
        Some(1),
        "{props}"
    );

    // The signed digest closed log 1; GetRandom opens log 2.
    let r = get_random(&s, &[]);
    s.ok(
        "tpm2_getcommandauditdigest",
        &[
            "-c", "ak.ctx", "-m", "ca.att", "-s", "ca.sig", "-g", "sha256",
        ],
    );
    flush(&s);
    let a = attest_file(&s, "ca.att", "ca.sig", st::ATTEST_COMMAND_AUDIT);
    let Attested::CommandAudit(c) = &a.attested else {
        panic!("command audit info")
    };
    assert_eq!(c.audit_counter, 2);
    assert_eq!(c.audit_digest.as_slice(), extend_get_random(&[0; 32], &r));

    // Removed from the list: only SetCommandCodeAuditStatus is left.
    s.ok(
        "tpm2_setcommandauditstatus",
        &["-g", "sha256", "--clear-list", "TPM2_CC_GetRandom"],
    );
    s.ok(
        "tpm2_getcommandauditdigest",
        &[
            "-c", "ak.ctx", "-m", "ca.att", "-s", "ca.sig", "-g", "sha256",
        ],
    );
    flush(&s);
    let a = attest_file(&s, "ca.att", "ca.sig", st::ATTEST_COMMAND_AUDIT);
    let Attested::CommandAudit(c) = &a.attested else {
        panic!("command audit info")
    };
    assert_eq!(c.command_digest.as_slice(), sha256(&[&set_cc]));
}
