//! The policy commands through the real tpm2-tools (5.4) `tpm2_policy*`
//! tools against `trustcloud tpm serve`, under both TCP protocols (mssim and
//! swtpm). Every policy digest a tool writes with `-L` (read back by the tool
//! with TPM2_PolicyGetDigest) is compared with the TPM 2.0 Part 3 formula
//! computed here with RustCrypto, and the real (non-trial) sessions are used
//! to authorize commands, so the checks behind each policy are exercised.
//!
//! Sessions live in files between tool runs (TPM2_ContextSave /
//! ContextLoad), as tpm2-tools uses them without a resource manager.
//! Flows that need commands another part of the TPM provides (signature
//! verification tickets, EK creation) report on stderr and stop early when
//! this build lacks them. `TRUSTCLOUD_TEST_TPM=swtpm cargo test -p trustcloud
//! --test tpm2_tools_policy swtpm` runs the same checks against swtpm.

mod support;

use sha2::{Digest, Sha256};
use support::{parse, Protocol, Server, ToolOutput};

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
    condition_tools,
    policy_pcr_and_or_tools,
    ek_policy_secret_and_ticket,
    policy_secret_session_authorizes_nv,
    activate_credential_with_ek_policy,
    policy_signed_rsa_and_ecc,
    policy_authorize_with_verified_ticket,
    policy_nv_and_authorize_nv,
);

// Command codes (Part 2 §6.5.2).
const CC_POLICY_NV: u32 = 0x149;
const CC_POLICY_SECRET: u32 = 0x151;
const CC_POLICY_SIGNED: u32 = 0x160;
const CC_POLICY_AUTHORIZE: u32 = 0x16A;
const CC_POLICY_AUTH_VALUE: u32 = 0x16B;
const CC_POLICY_COMMAND_CODE: u32 = 0x16C;
const CC_POLICY_COUNTER_TIMER: u32 = 0x16D;
const CC_POLICY_CP_HASH: u32 = 0x16E;
const CC_POLICY_LOCALITY: u32 = 0x16F;
const CC_POLICY_NAME_HASH: u32 = 0x170;
const CC_POLICY_OR: u32 = 0x171;
const CC_POLICY_PCR: u32 = 0x17F;
const CC_POLICY_DUPLICATION_SELECT: u32 = 0x188;
const CC_POLICY_NV_WRITTEN: u32 = 0x18F;
const CC_POLICY_TEMPLATE: u32 = 0x190;
const CC_POLICY_AUTHORIZE_NV: u32 = 0x192;
const CC_PCR_EXTEND: u32 = 0x182;
const TPM_RH_OWNER: u32 = 0x4000_0001;
const TPM_RH_ENDORSEMENT: u32 = 0x4000_000B;
const RC_COMMAND_CODE: u32 = 0x143;

/// The TCG EK Credential Profile's EK policy: PolicySecret(TPM_RH_ENDORSEMENT).
const EK_POLICY: &str = "837197674484b3f81a90cc8d46a5d724fd52d76e06520b64f2a1da1b331469aa";

/// A TPM2B: the 16-bit size, then the bytes (the file format of
/// `--cphash-input` and friends).
fn tpm2b(b: &[u8]) -> Vec<u8> {
    [&(b.len() as u16).to_be_bytes()[..], b].concat()
}

fn sha256(parts: &[&[u8]]) -> Vec<u8> {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().to_vec()
}

/// The Part 3 policy digest formulas (SHA-256 sessions).
#[derive(Clone)]
struct Model(Vec<u8>);

impl Model {
    fn new() -> Model {
        Model(vec![0; 32])
    }
    /// policyDigest := H(policyDigest || code || parts).
    fn ext(mut self, code: u32, parts: &[&[u8]]) -> Model {
        let c = code.to_be_bytes();
        let mut all: Vec<&[u8]> = vec![&self.0, &c];
        all.extend_from_slice(parts);
        self.0 = sha256(&all);
        self
    }
    /// The policyRef step of PolicyContextUpdate: H(policyDigest || ref).
    fn policy_ref(mut self, r: &[u8]) -> Model {
        self.0 = sha256(&[&self.0, r]);
        self
    }
}

fn started(p: Protocol) -> Server {
    let s = Server::start(p);
    s.ok("tpm2_startup", &["-c"]);
    s
}

fn read(s: &Server, name: &str) -> Vec<u8> {
    std::fs::read(s.path(name)).unwrap_or_else(|e| panic!("read {name}: {e}"))
}

/// Starts a trial (or, with `policy`, a policy) SHA-256 session saved in
/// `file`.
fn session(s: &Server, file: &str, policy: bool) {
    let mut args = vec!["-S", file, "-g", "sha256"];
    if policy {
        args.push("--policy-session");
    }
    s.ok("tpm2_startauthsession", &args);
}

fn flush(s: &Server, file: &str) {
    s.ok("tpm2_flushcontext", &[file]);
}

/// Without a resource manager every object a tool loads stays loaded; the
/// tools reload their context files, so the slots are freed after each.
fn flush_transients(s: &Server) {
    s.ok("tpm2_flushcontext", &["-t"]);
}

/// Asserts that the digest a tool wrote to `file` is `want`.
fn assert_digest(s: &Server, file: &str, want: &Model, what: &str) {
    assert_eq!(
        hex::encode(read(s, file)),
        hex::encode(&want.0),
        "{what}: policy digest"
    );
}

fn assert_rc(out: &ToolOutput, rc: u32) {
    assert_eq!(out.tpm_rc(), Some(rc), "expected TPM rc {rc:#x}: {out:?}");
}

/// True if the tool failed because the TPM lacks the command: the flow
/// is reported and skipped.
fn unimplemented(out: &ToolOutput, what: &str) -> bool {
    if !out.success() && out.tpm_rc() == Some(RC_COMMAND_CODE) {
        eprintln!("{what}: command not implemented in this build, flow skipped");
        return true;
    }
    assert!(out.success(), "{what}: {out:?}");
    false
}

/// `name:` of `tpm2_nvreadpublic` / `tpm2_readpublic` output.
fn name_field(out: &str) -> Vec<u8> {
    let line = out
        .lines()
        .map(str::trim)
        .find_map(|l| l.strip_prefix("name:"))
        .unwrap_or_else(|| panic!("no name in\n{out}"));
    parse::hex(line)
}

// ---------------------------------------------------------------------------

fn condition_tools(p: Protocol) {
    let s = started(p);
    session(&s, "t.ctx", false);
    let zero = Model::new();

    s.ok("tpm2_policyauthvalue", &["-S", "t.ctx", "-L", "av.pol"]);
    let av = zero.clone().ext(CC_POLICY_AUTH_VALUE, &[]);
    assert_digest(&s, "av.pol", &av, "policyauthvalue");

    // PolicyPassword extends with TPM_CC_PolicyAuthValue (Part 3 §23.18).
    s.ok("tpm2_policypassword", &["-S", "t.ctx", "-L", "pw.pol"]);
    let m = av.clone().ext(CC_POLICY_AUTH_VALUE, &[]);
    assert_digest(&s, "pw.pol", &m, "policypassword");

    s.ok(
        "tpm2_policycommandcode",
        &["-S", "t.ctx", "-L", "cc.pol", "TPM2_CC_PCR_Extend"],
    );
    let m = m.ext(CC_POLICY_COMMAND_CODE, &[&CC_PCR_EXTEND.to_be_bytes()]);
    assert_digest(&s, "cc.pol", &m, "policycommandcode");

    s.ok(
        "tpm2_policylocality",
        &["-S", "t.ctx", "-L", "loc.pol", "three"],
    );
    let m = m.ext(CC_POLICY_LOCALITY, &[&[0x08]]);
    assert_digest(&s, "loc.pol", &m, "policylocality");

    s.ok(
        "tpm2_policynvwritten",
        &["-S", "t.ctx", "-L", "nw.pol", "s"],
    );
    let m = m.ext(CC_POLICY_NV_WRITTEN, &[&[1]]);
    assert_digest(&s, "nw.pol", &m, "policynvwritten");

    let cp = sha256(&[b"a command's parameters"]);
    s.write_file("cp.bin", &tpm2b(&cp));
    s.ok(
        "tpm2_policycphash",
        &["-S", "t.ctx", "-L", "cp.pol", "--cphash-input", "cp.bin"],
    );
    let m = m.ext(CC_POLICY_CP_HASH, &[&cp]);
    assert_digest(&s, "cp.pol", &m, "policycphash");

    // A second PolicyCpHash with another value conflicts (TPM_RC_CPHASH).
    s.write_file("cp2.bin", &tpm2b(&sha256(&[b"other"])));
    let out = s.fails(
        "tpm2_policycphash",
        &["-S", "t.ctx", "--cphash-input", "cp2.bin"],
    );
    assert_rc(&out, 0x151);

    // Restart: back to zero, so PolicyAuthValue gives its first digest.
    s.ok("tpm2_policyrestart", &["-S", "t.ctx"]);
    s.ok("tpm2_policyauthvalue", &["-S", "t.ctx", "-L", "av2.pol"]);
    assert_digest(&s, "av2.pol", &av, "policyrestart + policyauthvalue");
    flush(&s, "t.ctx");

    // NameHash, Template and DuplicationSelect each in a fresh session.
    let nh = sha256(&[b"names"]);
    s.write_file("nh.bin", &nh);
    session(&s, "t.ctx", false);
    s.ok(
        "tpm2_policynamehash",
        &["-S", "t.ctx", "-L", "nh.pol", "-n", "nh.bin"],
    );
    assert_digest(
        &s,
        "nh.pol",
        &zero.clone().ext(CC_POLICY_NAME_HASH, &[&nh]),
        "policynamehash",
    );
    flush(&s, "t.ctx");

    let th = sha256(&[b"template"]);
    s.write_file("th.bin", &th);
    session(&s, "t.ctx", false);
    s.ok(
        "tpm2_policytemplate",
        &["-S", "t.ctx", "-L", "th.pol", "--template-hash", "th.bin"],
    );
    assert_digest(
        &s,
        "th.pol",
        &zero.clone().ext(CC_POLICY_TEMPLATE, &[&th]),
        "policytemplate",
    );
    flush(&s, "t.ctx");

    let obj = [&[0x00u8, 0x0b][..], &sha256(&[b"object"])].concat();
    let parent = [&[0x00u8, 0x0b][..], &sha256(&[b"parent"])].concat();
    s.write_file("obj.name", &obj);
    s.write_file("parent.name", &parent);
    for include in [false, true] {
        session(&s, "t.ctx", false);
        let mut args = vec![
            "-S",
            "t.ctx",
            "-L",
            "ds.pol",
            "-n",
            "obj.name",
            "-N",
            "parent.name",
        ];
        if include {
            args.push("--include-object");
        }
        s.ok("tpm2_policyduplicationselect", &args);
        let want = if include {
            zero.clone()
                .ext(CC_POLICY_DUPLICATION_SELECT, &[&obj, &parent, &[1]])
        } else {
            zero.clone()
                .ext(CC_POLICY_DUPLICATION_SELECT, &[&parent, &[0]])
        };
        assert_digest(&s, "ds.pol", &want, "policyduplicationselect");
        flush(&s, "t.ctx");
    }

    // PolicyCounterTimer: time < 60 s (TPM_EO_UNSIGNED_LT on offset 0),
    // then the safe flag (offset 24, equal to YES).
    session(&s, "t.ctx", false);
    s.ok(
        "tpm2_policycountertimer",
        &["-S", "t.ctx", "-L", "ct.pol", "--ult", "60000"],
    );
    let args = sha256(&[
        &60000u64.to_be_bytes(),
        &0u16.to_be_bytes(),
        &5u16.to_be_bytes(),
    ]);
    let m = zero.clone().ext(CC_POLICY_COUNTER_TIMER, &[&args]);
    assert_digest(&s, "ct.pol", &m, "policycountertimer --ult");
    s.ok(
        "tpm2_policycountertimer",
        &["-S", "t.ctx", "-L", "ct.pol", "safe"],
    );
    let args = sha256(&[&[1], &24u16.to_be_bytes(), &0u16.to_be_bytes()]);
    let m = m.ext(CC_POLICY_COUNTER_TIMER, &[&args]);
    assert_digest(&s, "ct.pol", &m, "policycountertimer safe");
    flush(&s, "t.ctx");

    // The same conditions hold in a real session.
    session(&s, "p.ctx", true);
    s.ok(
        "tpm2_policycountertimer",
        &["-S", "p.ctx", "--ult", "3600000"],
    );
    s.ok("tpm2_policycountertimer", &["-S", "p.ctx", "safe"]);
    let out = s.fails(
        "tpm2_policycountertimer",
        &["-S", "p.ctx", "--ugt", "3600000"],
    );
    assert_rc(&out, 0x126);
    flush(&s, "p.ctx");
}

fn policy_pcr_and_or_tools(p: Protocol) {
    let s = started(p);
    s.ok(
        "tpm2_pcrextend",
        &[&format!("1:sha256={}", hex::encode([0x31u8; 32]))],
    );
    let pcrs = parse::pcrread(&s.ok("tpm2_pcrread", &["sha256:0,1,2"]));
    let bank = &pcrs["sha256"];
    let pcr_digest = sha256(&[&bank[&0], &bank[&1], &bank[&2]]);
    // TPML_PCR_SELECTION: one SHA-256 selection of PCRs 0, 1, 2.
    let sel = [0, 0, 0, 1, 0x00, 0x0b, 3, 0x07, 0, 0];
    let want = Model::new().ext(CC_POLICY_PCR, &[&sel, &pcr_digest]);

    session(&s, "t.ctx", false);
    s.ok(
        "tpm2_policypcr",
        &["-S", "t.ctx", "-l", "sha256:0,1,2", "-L", "pcr.pol"],
    );
    assert_digest(&s, "pcr.pol", &want, "policypcr (trial)");
    flush(&s, "t.ctx");

    // A real session agrees while the PCRs are unchanged.
    session(&s, "p.ctx", true);
    s.ok(
        "tpm2_policypcr",
        &["-S", "p.ctx", "-l", "sha256:0,1,2", "-L", "pcr2.pol"],
    );
    assert_digest(&s, "pcr2.pol", &want, "policypcr (policy session)");

    // PolicyOR of that branch and another: the real session's digest is
    // among them.
    let other = Model::new().ext(CC_POLICY_AUTH_VALUE, &[]);
    s.write_file("other.pol", &other.0);
    s.ok(
        "tpm2_policyor",
        &["-S", "p.ctx", "-L", "or.pol", "sha256:pcr.pol,other.pol"],
    );
    let or = Model::new().ext(CC_POLICY_OR, &[&want.0, &other.0]);
    assert_digest(&s, "or.pol", &or, "policyor");
    // Now the digest is the OR: not a branch any more (TPM_RC_VALUE).
    let out = s.fails(
        "tpm2_policyor",
        &["-S", "p.ctx", "sha256:pcr.pol,other.pol"],
    );
    assert_rc(&out, 0x1c4);
    flush(&s, "p.ctx");

    // With an expected PCR digest that does not match: TPM_RC_VALUE.
    s.ok(
        "tpm2_pcrextend",
        &[&format!("2:sha256={}", hex::encode([0x32u8; 32]))],
    );
    session(&s, "p.ctx", true);
    let stale = hex::encode(&pcr_digest);
    let out = s.fails(
        "tpm2_policypcr",
        &["-S", "p.ctx", "-l", "sha256:0,1,2", &stale],
    );
    assert_rc(&out, 0x1c4);
    flush(&s, "p.ctx");
}

fn ek_policy_secret_and_ticket(p: Protocol) {
    let s = started(p);
    // The EK flow: a policy session satisfied by PolicySecret(endorsement).
    for policy in [false, true] {
        session(&s, "s.ctx", policy);
        s.ok(
            "tpm2_policysecret",
            &["-S", "s.ctx", "-c", "e", "-L", "ek.pol"],
        );
        assert_eq!(hex::encode(read(&s, "ek.pol")), EK_POLICY, "EK policy");
        flush(&s, "s.ctx");
    }
    let want = Model::new()
        .ext(CC_POLICY_SECRET, &[&TPM_RH_ENDORSEMENT.to_be_bytes()])
        .policy_ref(&[]);
    assert_eq!(hex::encode(&want.0), EK_POLICY);

    // With a qualifier and a ticket (negative expiration) for the owner.
    session(&s, "s.ctx", true);
    s.ok(
        "tpm2_policysecret",
        &[
            "-S",
            "s.ctx",
            "-c",
            "o",
            "-L",
            "o.pol",
            "-q",
            "cafe",
            "-t",
            "-3600",
            "--ticket",
            "o.tkt",
            "--timeout",
            "o.timeout",
        ],
    );
    let want = Model::new()
        .ext(CC_POLICY_SECRET, &[&TPM_RH_OWNER.to_be_bytes()])
        .policy_ref(&[0xca, 0xfe]);
    assert_digest(&s, "o.pol", &want, "policysecret -q");
    assert_eq!(read(&s, "o.timeout").len(), 8, "TPM2B_TIMEOUT of 8 octets");
    flush(&s, "s.ctx");

    // Redeemed in another session by tpm2_policyticket.
    s.write_file("owner.name", &TPM_RH_OWNER.to_be_bytes());
    session(&s, "s.ctx", true);
    s.ok(
        "tpm2_policyticket",
        &[
            "-S",
            "s.ctx",
            "-L",
            "t.pol",
            "-n",
            "owner.name",
            "-q",
            "cafe",
            "--ticket",
            "o.tkt",
            "--timeout",
            "o.timeout",
        ],
    );
    assert_digest(&s, "t.pol", &want, "policyticket");
    flush(&s, "s.ctx");

    // Another qualifier: the ticket does not verify (TPM_RC_TICKET).
    session(&s, "s.ctx", true);
    let out = s.fails(
        "tpm2_policyticket",
        &[
            "-S",
            "s.ctx",
            "-n",
            "owner.name",
            "-q",
            "beef",
            "--ticket",
            "o.tkt",
            "--timeout",
            "o.timeout",
        ],
    );
    assert_rc(&out, 0x5e0);
    flush(&s, "s.ctx");
}

/// An NV index whose authPolicy is the EK policy: written and read with a
/// PolicySecret(endorsement) session, refused with an unsatisfied one.
fn policy_secret_session_authorizes_nv(p: Protocol) {
    let s = started(p);
    s.write_file("ek.pol", &hex::decode(EK_POLICY).expect("hex"));
    let out = s.run(
        "tpm2_nvdefine",
        &[
            "0x1500016",
            "-C",
            "o",
            "-s",
            "8",
            "-L",
            "ek.pol",
            "-a",
            "policywrite|policyread|ownerread|ownerwrite",
        ],
    );
    if unimplemented(&out, "tpm2_nvdefine") {
        return;
    }
    s.write_file("data.bin", b"policy!!");
    session(&s, "s.ctx", true);
    s.ok("tpm2_policysecret", &["-S", "s.ctx", "-c", "e"]);
    s.ok(
        "tpm2_nvwrite",
        &[
            "0x1500016",
            "-C",
            "0x1500016",
            "-P",
            "session:s.ctx",
            "-i",
            "data.bin",
        ],
    );
    // The session was used: its digest is back to zero and fails now.
    let out = s.fails(
        "tpm2_nvread",
        &[
            "0x1500016",
            "-C",
            "0x1500016",
            "-P",
            "session:s.ctx",
            "-s",
            "8",
        ],
    );
    assert_rc(&out, 0x99d);
    s.ok("tpm2_policysecret", &["-S", "s.ctx", "-c", "e"]);
    let data = s.tools().ok_bytes(
        "tpm2_nvread",
        &[
            "0x1500016",
            "-C",
            "0x1500016",
            "-P",
            "session:s.ctx",
            "-s",
            "8",
        ],
        None,
    );
    assert_eq!(data, b"policy!!");
    flush(&s, "s.ctx");
    s.ok("tpm2_nvundefine", &["0x1500016", "-C", "o"]);
}

/// createek + createak + activatecredential: the EK is used through
/// PolicySecret(endorsement) sessions (tpm2_createak and
/// tpm2_activatecredential start them themselves).
fn activate_credential_with_ek_policy(p: Protocol) {
    let s = started(p);
    let out = s.run(
        "tpm2_createek",
        &["-c", "ek.ctx", "-G", "rsa", "-u", "ek.pub"],
    );
    if unimplemented(&out, "tpm2_createek") {
        return;
    }
    flush_transients(&s);
    let out = s.run(
        "tpm2_createak",
        &[
            "-C", "ek.ctx", "-c", "ak.ctx", "-G", "rsa", "-g", "sha256", "-s", "rsassa", "-u",
            "ak.pub", "-n", "ak.name",
        ],
    );
    if unimplemented(&out, "tpm2_createak") {
        return;
    }
    flush_transients(&s);
    let ak_name = hex::encode(read(&s, "ak.name"));
    s.write_file("secret.bin", b"0123456789abcdef");
    let out = s.run(
        "tpm2_makecredential",
        &[
            "-T",
            "none",
            "-u",
            "ek.pub",
            "-s",
            "secret.bin",
            "-n",
            &ak_name,
            "-o",
            "cred.bin",
        ],
    );
    assert!(out.success(), "makecredential: {out:?}");
    session(&s, "s.ctx", true);
    s.ok("tpm2_policysecret", &["-S", "s.ctx", "-c", "e"]);
    let out = s.run(
        "tpm2_activatecredential",
        &[
            "-c",
            "ak.ctx",
            "-C",
            "ek.ctx",
            "-i",
            "cred.bin",
            "-o",
            "out.bin",
            "-P",
            "session:s.ctx",
        ],
    );
    if unimplemented(&out, "tpm2_activatecredential") {
        return;
    }
    assert_eq!(read(&s, "out.bin"), b"0123456789abcdef");
    flush(&s, "s.ctx");
}

fn openssl(s: &Server, args: &[&str]) {
    let mut cmd = std::process::Command::new("openssl");
    cmd.args(args).current_dir(s.work_dir());
    let out = support::run_bounded(cmd, None, support::TOOL_TIMEOUT);
    assert!(out.success(), "openssl {args:?}: {out:?}");
}

fn policy_signed_rsa_and_ecc(p: Protocol) {
    let s = started(p);
    openssl(&s, &["genrsa", "-out", "rsa.pem", "2048"]);
    openssl(
        &s,
        &["rsa", "-in", "rsa.pem", "-pubout", "-out", "rsa.pub.pem"],
    );
    openssl(
        &s,
        &[
            "ecparam",
            "-name",
            "prime256v1",
            "-genkey",
            "-noout",
            "-out",
            "ec.pem",
        ],
    );
    openssl(
        &s,
        &["ec", "-in", "ec.pem", "-pubout", "-out", "ec.pub.pem"],
    );
    let out = s.run(
        "tpm2_loadexternal",
        &[
            "-C",
            "o",
            "-G",
            "rsa",
            "-u",
            "rsa.pub.pem",
            "-c",
            "rsa.ctx",
            "-n",
            "rsa.name",
        ],
    );
    if unimplemented(&out, "tpm2_loadexternal") {
        return;
    }
    s.ok(
        "tpm2_loadexternal",
        &[
            "-C",
            "o",
            "-G",
            "ecc",
            "-u",
            "ec.pub.pem",
            "-c",
            "ec.ctx",
            "-n",
            "ec.name",
        ],
    );
    flush_transients(&s);
    // aHash = H(nonceTPM || expiration || cpHashA || policyRef) with no
    // nonce, cpHash or qualifier: H(00000000); openssl hashes and signs.
    s.write_file("expiration.bin", &[0, 0, 0, 0]);
    for (key, format) in [("rsa", "rsassa"), ("ec", "ecdsa")] {
        let sig = format!("{key}.sig");
        openssl(
            &s,
            &[
                "dgst",
                "-sha256",
                "-sign",
                &format!("{key}.pem"),
                "-out",
                &sig,
                "expiration.bin",
            ],
        );
        let name = read(&s, &format!("{key}.name"));
        let want = Model::new().ext(CC_POLICY_SIGNED, &[&name]).policy_ref(&[]);
        for policy in [false, true] {
            session(&s, "s.ctx", policy);
            s.ok(
                "tpm2_policysigned",
                &[
                    "-S",
                    "s.ctx",
                    "-g",
                    "sha256",
                    "-s",
                    &sig,
                    "-f",
                    format,
                    "-c",
                    &format!("{key}.ctx"),
                    "-L",
                    "signed.pol",
                ],
            );
            assert_digest(&s, "signed.pol", &want, &format!("policysigned {key}"));
            flush(&s, "s.ctx");
            flush_transients(&s);
        }
        // A signature over something else does not verify in a real
        // session (TPM_RC_SIGNATURE on parameter 5).
        s.write_file("other.bin", &[0, 0, 0, 1]);
        openssl(
            &s,
            &[
                "dgst",
                "-sha256",
                "-sign",
                &format!("{key}.pem"),
                "-out",
                "bad.sig",
                "other.bin",
            ],
        );
        session(&s, "s.ctx", true);
        let out = s.fails(
            "tpm2_policysigned",
            &[
                "-S",
                "s.ctx",
                "-g",
                "sha256",
                "-s",
                "bad.sig",
                "-f",
                format,
                "-c",
                &format!("{key}.ctx"),
            ],
        );
        assert_rc(&out, 0x5db);
        flush(&s, "s.ctx");
        flush_transients(&s);
    }
}

fn policy_authorize_with_verified_ticket(p: Protocol) {
    let s = started(p);
    openssl(&s, &["genrsa", "-out", "auth.pem", "2048"]);
    openssl(
        &s,
        &["rsa", "-in", "auth.pem", "-pubout", "-out", "auth.pub.pem"],
    );
    let out = s.run(
        "tpm2_loadexternal",
        &[
            "-C",
            "o",
            "-G",
            "rsa",
            "-u",
            "auth.pub.pem",
            "-c",
            "auth.ctx",
            "-n",
            "auth.name",
        ],
    );
    if unimplemented(&out, "tpm2_loadexternal") {
        return;
    }
    flush_transients(&s);
    let name = read(&s, "auth.name");
    // The approved policy: PolicyAuthValue.
    let approved = Model::new().ext(CC_POLICY_AUTH_VALUE, &[]);
    s.write_file("approved.pol", &approved.0);
    let want = Model::new()
        .ext(CC_POLICY_AUTHORIZE, &[&name])
        .policy_ref(&[]);

    // Trial: no ticket needed.
    session(&s, "t.ctx", false);
    s.ok(
        "tpm2_policyauthorize",
        &[
            "-S",
            "t.ctx",
            "-L",
            "auth.pol",
            "-i",
            "approved.pol",
            "-n",
            "auth.name",
        ],
    );
    assert_digest(&s, "auth.pol", &want, "policyauthorize (trial)");
    flush(&s, "t.ctx");

    // The authority signs aHash = H(approvedPolicy || policyRef); the TPM
    // checks the signature and vouches for it with a TPMT_TK_VERIFIED.
    openssl(
        &s,
        &[
            "dgst",
            "-sha256",
            "-sign",
            "auth.pem",
            "-out",
            "approved.sig",
            "approved.pol",
        ],
    );
    let out = s.run(
        "tpm2_verifysignature",
        &[
            "-c",
            "auth.ctx",
            "-g",
            "sha256",
            "-m",
            "approved.pol",
            "-s",
            "approved.sig",
            "-f",
            "rsassa",
            "-t",
            "verified.tkt",
        ],
    );
    if unimplemented(&out, "tpm2_verifysignature") {
        return;
    }
    session(&s, "p.ctx", true);
    s.ok("tpm2_policyauthvalue", &["-S", "p.ctx"]);
    s.ok(
        "tpm2_policyauthorize",
        &[
            "-S",
            "p.ctx",
            "-L",
            "auth2.pol",
            "-i",
            "approved.pol",
            "-n",
            "auth.name",
            "-t",
            "verified.tkt",
        ],
    );
    assert_digest(&s, "auth2.pol", &want, "policyauthorize (policy session)");
    flush(&s, "p.ctx");
    // Without reaching the approved policy first: TPM_RC_VALUE (approvedPolicy).
    session(&s, "p.ctx", true);
    let out = s.fails(
        "tpm2_policyauthorize",
        &[
            "-S",
            "p.ctx",
            "-i",
            "approved.pol",
            "-n",
            "auth.name",
            "-t",
            "verified.tkt",
        ],
    );
    assert_rc(&out, 0x1c4);
    flush(&s, "p.ctx");
}

fn policy_nv_and_authorize_nv(p: Protocol) {
    let s = started(p);
    let out = s.run(
        "tpm2_nvdefine",
        &[
            "0x1500020",
            "-C",
            "o",
            "-s",
            "34",
            "-a",
            "ownerread|ownerwrite|authread|authwrite",
        ],
    );
    if unimplemented(&out, "tpm2_nvdefine") {
        return;
    }
    // The index holds a TPMT_HA: SHA-256 and the digest of PolicyAuthValue.
    let approved = Model::new().ext(CC_POLICY_AUTH_VALUE, &[]);
    let ha = [&[0x00u8, 0x0b][..], &approved.0].concat();
    s.write_file("ha.bin", &ha);
    s.ok("tpm2_nvwrite", &["0x1500020", "-C", "o", "-i", "ha.bin"]);
    // The Name once written (TPMA_NV_WRITTEN is part of it).
    let nv_name = name_field(&s.ok("tpm2_nvreadpublic", &["0x1500020"]));

    // PolicyNV: the first two octets equal 000b.
    s.write_file("operand.bin", &[0x00, 0x0b]);
    let args = sha256(&[&[0x00, 0x0b], &0u16.to_be_bytes(), &0u16.to_be_bytes()]);
    let want = Model::new().ext(CC_POLICY_NV, &[&args, &nv_name]);
    for policy in [false, true] {
        session(&s, "s.ctx", policy);
        s.ok(
            "tpm2_policynv",
            &[
                "-S",
                "s.ctx",
                "-C",
                "o",
                "-i",
                "operand.bin",
                "-L",
                "nv.pol",
                "0x1500020",
                "eq",
            ],
        );
        assert_digest(&s, "nv.pol", &want, "policynv");
        flush(&s, "s.ctx");
    }
    // In a real session the comparison must hold (TPM_RC_POLICY).
    session(&s, "s.ctx", true);
    let out = s.fails(
        "tpm2_policynv",
        &[
            "-S",
            "s.ctx",
            "-C",
            "o",
            "-i",
            "operand.bin",
            "0x1500020",
            "neq",
        ],
    );
    assert_rc(&out, 0x126);
    // Authorized by the index itself, at an offset.
    s.write_file("operand2.bin", &approved.0[..4]);
    s.ok(
        "tpm2_policynv",
        &[
            "-S",
            "s.ctx",
            "-i",
            "operand2.bin",
            "--offset",
            "2",
            "-L",
            "nv2.pol",
            "0x1500020",
            "eq",
        ],
    );
    let args = sha256(&[&approved.0[..4], &2u16.to_be_bytes(), &0u16.to_be_bytes()]);
    let want2 = Model::new().ext(CC_POLICY_NV, &[&args, &nv_name]);
    assert_digest(&s, "nv2.pol", &want2, "policynv --offset");
    flush(&s, "s.ctx");

    // PolicyAuthorizeNV: reached PolicyAuthValue, which the index approves.
    let want = Model::new().ext(CC_POLICY_AUTHORIZE_NV, &[&nv_name]);
    session(&s, "t.ctx", false);
    s.ok(
        "tpm2_policyauthorizenv",
        &["-S", "t.ctx", "-C", "o", "-L", "anv.pol", "0x1500020"],
    );
    assert_digest(&s, "anv.pol", &want, "policyauthorizenv (trial)");
    flush(&s, "t.ctx");
    session(&s, "p.ctx", true);
    let out = s.fails(
        "tpm2_policyauthorizenv",
        &["-S", "p.ctx", "-C", "o", "0x1500020"],
    );
    assert_rc(&out, 0x084);
    s.ok("tpm2_policyauthvalue", &["-S", "p.ctx"]);
    s.ok(
        "tpm2_policyauthorizenv",
        &["-S", "p.ctx", "-C", "o", "-L", "anv2.pol", "0x1500020"],
    );
    assert_digest(&s, "anv2.pol", &want, "policyauthorizenv (policy session)");
    flush(&s, "p.ctx");
    s.ok("tpm2_nvundefine", &["0x1500020", "-C", "o"]);
}
