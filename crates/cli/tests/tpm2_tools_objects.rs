//! The real tpm2-tools (5.4) against `trustcloud tpm serve`, under both
//! protocols, for the object commands: createprimary, createek (RSA and
//! ECC, equal after a restart), createak, create/load/unseal, readpublic
//! and loadexternal Names, evictcontrol across restarts, flushcontext,
//! context files (ContextSave/ContextLoad) across power cycles,
//! makecredential (tool side and TPM side) + activatecredential with the
//! EK's PolicySecret session, salted HMAC sessions, duplicate and import.
//!
//! tpm2-tools run without a resource manager: every tool leaves the
//! objects it loaded in the TPM's three slots, as with swtpm, so the tests
//! flush transient objects between tools (`tpm2_flushcontext -t`).
//! `TRUSTCLOUD_TEST_TPM=swtpm cargo test -p trustcloud --test
//! tpm2_tools_objects swtpm` runs the same checks against swtpm.

mod support;

use sha2::Digest;
use support::{parse, Protocol, Server};

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
    createprimary_hierarchies_and_names,
    createek_is_stable_across_restarts,
    createak_and_credentials,
    create_load_unseal,
    evictcontrol_survives_restart,
    context_files_across_power_cycles,
    salted_sessions,
    duplicate_and_import,
);

fn started(p: Protocol) -> Server {
    let s = Server::start(p);
    s.ok("tpm2_startup", &["-c"]);
    s
}

/// Flushes every transient object (the tools leave them loaded).
fn flush(s: &Server) {
    s.ok("tpm2_flushcontext", &["-t"]);
}

fn path(s: &Server, name: &str) -> String {
    s.path(name).to_string_lossy().into_owned()
}

fn read(s: &Server, name: &str) -> Vec<u8> {
    std::fs::read(s.path(name)).unwrap_or_else(|e| panic!("read {name}: {e}"))
}

/// The Name of a SHA-256 object from its TPM2B_PUBLIC file (Part 1 §16).
fn name_of_tpm2b_public(file: &[u8]) -> Vec<u8> {
    let size = u16::from_be_bytes([file[0], file[1]]) as usize;
    assert_eq!(size + 2, file.len(), "TPM2B_PUBLIC file");
    let mut n = vec![0x00, 0x0b];
    n.extend(sha2::Sha256::digest(&file[2..]));
    n
}

/// A top-level `key: value` of tpm2-tools YAML output.
fn field(out: &str, key: &str) -> String {
    let blocks = parse::blocks(out);
    parse::block(&blocks, key)
        .inline
        .clone()
        .unwrap_or_else(|| panic!("{key} has no value in\n{out}"))
}

fn handles(s: &Server, group: &str) -> Vec<u32> {
    parse::handles(&s.ok("tpm2_getcap", &[group]))
}

/// createprimary in the owner, endorsement and null hierarchies; the Name
/// the tools print is nameAlg || SHA-256 of the public area, and
/// loadexternal of that public area gives the same Name.
fn createprimary_hierarchies_and_names(p: Protocol) {
    let s = started(p);
    for (h, alg) in [("o", "ecc"), ("e", "ecc"), ("n", "ecc"), ("o", "rsa")] {
        let out = s.ok(
            "tpm2_createprimary",
            &["-C", h, "-G", alg, "-c", "prim.ctx"],
        );
        assert!(
            out.contains(
                "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|restricted|decrypt"
            ),
            "{out}"
        );
        let rp = s.ok("tpm2_readpublic", &["-c", "prim.ctx", "-o", "prim.pub"]);
        let name = parse::hex(&field(&rp, "name"));
        assert_eq!(name, name_of_tpm2b_public(&read(&s, "prim.pub")));
        let ext = s.ok(
            "tpm2_loadexternal",
            &["-C", "o", "-u", "prim.pub", "-c", "ext.ctx"],
        );
        assert_eq!(parse::hex(&field(&ext, "name")), name, "{ext}");
        flush(&s);
    }
    assert!(handles(&s, "handles-transient").is_empty());
    // Three slots, as libtpms: a fourth object does not fit.
    for _ in 0..3 {
        s.ok(
            "tpm2_createprimary",
            &["-C", "o", "-G", "ecc", "-c", "p.ctx"],
        );
    }
    assert_eq!(handles(&s, "handles-transient").len(), 3);
    let out = s.fails(
        "tpm2_createprimary",
        &["-C", "o", "-G", "ecc", "-c", "p.ctx"],
    );
    assert_eq!(out.tpm_rc(), Some(0x902), "{out:?}");
    let first = handles(&s, "handles-transient")[0];
    s.ok("tpm2_flushcontext", &[&format!("{first:#x}")]);
    assert_eq!(handles(&s, "handles-transient").len(), 2);
}

/// tpm2_createek (TCG EK Credential Profile templates L-1 and L-2): the
/// same EK after a server restart; the template part as the profile says.
fn createek_is_stable_across_restarts(p: Protocol) {
    let mut s = started(p);
    s.ok(
        "tpm2_createek",
        &["-G", "rsa", "-u", "ek_rsa.pub", "-c", "ek.ctx"],
    );
    flush(&s);
    s.ok(
        "tpm2_createek",
        &["-G", "ecc", "-u", "ek_ecc.pub", "-c", "ek.ctx"],
    );
    flush(&s);
    let rsa1 = read(&s, "ek_rsa.pub");
    let ecc1 = read(&s, "ek_ecc.pub");
    // L-1: RSA 2048, SHA-256, attributes 0x000300b2, PolicyA, AES-128-CFB.
    assert_eq!(&rsa1[2..10], &[0, 1, 0, 0x0b, 0, 3, 0, 0xb2]);
    let policy_a = parse::hex("837197674484b3f81a90cc8d46a5d724fd52d76e06520b64f2a1da1b331469aa");
    assert_eq!(&rsa1[12..44], &policy_a[..]);
    assert_eq!(rsa1.len(), 2 + 2 + 2 + 4 + 34 + 6 + 2 + 2 + 4 + 2 + 256);
    assert_eq!(&ecc1[2..10], &[0, 0x23, 0, 0x0b, 0, 3, 0, 0xb2]);
    s.ok("tpm2_shutdown", &["-c"]);
    s.power_cycle();
    s.ok("tpm2_startup", &["-c"]);
    s.ok(
        "tpm2_createek",
        &["-G", "rsa", "-u", "ek_rsa2.pub", "-c", "ek.ctx"],
    );
    flush(&s);
    s.ok(
        "tpm2_createek",
        &["-G", "ecc", "-u", "ek_ecc2.pub", "-c", "ek.ctx"],
    );
    flush(&s);
    assert_eq!(read(&s, "ek_rsa2.pub"), rsa1, "RSA EK after restart");
    assert_eq!(read(&s, "ek_ecc2.pub"), ecc1, "ECC EK after restart");
}

/// createek + createak, then a credential made by the tool alone (`-T
/// none`) and one made by the TPM (LoadExternal + MakeCredential), both
/// activated with the EK's PolicySecret(endorsement) session.
fn createak_and_credentials(p: Protocol) {
    let s = started(p);
    for alg in ["rsa", "ecc"] {
        s.ok(
            "tpm2_createek",
            &["-G", alg, "-u", "ek.pub", "-c", "ek.ctx"],
        );
        flush(&s);
        let ak_alg = if alg == "rsa" { "rsa" } else { "ecc" };
        let sig = if alg == "rsa" { "rsassa" } else { "ecdsa" };
        let out = s.ok(
            "tpm2_createak",
            &[
                "-C", "ek.ctx", "-c", "ak.ctx", "-G", ak_alg, "-g", "sha256", "-s", sig, "-u",
                "ak.pub", "-n", "ak.name",
            ],
        );
        assert!(out.contains("name:"), "{out}");
        flush(&s);
        let ak_name = read(&s, "ak.name");
        assert_eq!(ak_name, name_of_tpm2b_public(&read(&s, "ak.pub")));
        let name_hex = hex::encode(&ak_name);
        s.write_file("secret.bin", b"the credential 32 octets long!!!");
        for (label, extra) in [("tool", vec!["-T", "none"]), ("tpm", vec![])] {
            let mut args = vec![
                "-e",
                "ek.pub",
                "-s",
                "secret.bin",
                "-n",
                &name_hex,
                "-o",
                "cred.out",
            ];
            args.extend(extra.iter());
            s.tools().ok("tpm2_makecredential", &args);
            flush(&s);
            s.ok(
                "tpm2_startauthsession",
                &["--policy-session", "-S", "session.ctx"],
            );
            s.ok("tpm2_policysecret", &["-S", "session.ctx", "-c", "e"]);
            s.ok(
                "tpm2_activatecredential",
                &[
                    "-c",
                    "ak.ctx",
                    "-C",
                    "ek.ctx",
                    "-i",
                    "cred.out",
                    "-o",
                    "act.out",
                    "-P",
                    "session:session.ctx",
                ],
            );
            s.ok("tpm2_flushcontext", &["session.ctx"]);
            flush(&s);
            assert_eq!(
                read(&s, "act.out"),
                b"the credential 32 octets long!!!",
                "{alg} EK, credential made by the {label}"
            );
        }
        // The EK's USER role needs its policy: a password is refused.
        let out = s.fails(
            "tpm2_activatecredential",
            &[
                "-c", "ak.ctx", "-C", "ek.ctx", "-i", "cred.out", "-o", "act.out",
            ],
        );
        assert_eq!(out.tpm_rc(), Some(0x12f), "AUTH_UNAVAILABLE: {out:?}");
        flush(&s);
    }
}

/// Sealed data: create + load + unseal, with and without a password; the
/// wrong password is refused; readpublic shows the object.
fn create_load_unseal(p: Protocol) {
    let s = started(p);
    s.ok(
        "tpm2_createprimary",
        &["-C", "o", "-G", "ecc", "-c", "prim.ctx"],
    );
    flush(&s);
    s.write_file("data.bin", b"sealed by trustcloud");
    s.ok(
        "tpm2_create",
        &[
            "-C",
            "prim.ctx",
            "-i",
            "data.bin",
            "-u",
            "seal.pub",
            "-r",
            "seal.priv",
            "-p",
            "sealpw",
        ],
    );
    flush(&s);
    s.ok(
        "tpm2_load",
        &[
            "-C",
            "prim.ctx",
            "-u",
            "seal.pub",
            "-r",
            "seal.priv",
            "-c",
            "seal.ctx",
            "-n",
            "seal.name",
        ],
    );
    flush(&s);
    assert_eq!(
        read(&s, "seal.name"),
        name_of_tpm2b_public(&read(&s, "seal.pub"))
    );
    let data = s
        .tools()
        .ok_bytes("tpm2_unseal", &["-c", "seal.ctx", "-p", "sealpw"], None);
    assert_eq!(data, b"sealed by trustcloud");
    flush(&s);
    let out = s.fails("tpm2_unseal", &["-c", "seal.ctx", "-p", "wrong"]);
    assert_eq!(out.tpm_rc(), Some(0x98e), "AUTH_FAIL: {out:?}");
    flush(&s);
    let rp = s.ok("tpm2_readpublic", &["-c", "seal.ctx"]);
    assert!(rp.contains("keyedhash"), "{rp}");
    flush(&s);
}

/// evictcontrol: the persistent primary survives a restart, is listed and
/// still parents what it wrapped; eviction removes it.
fn evictcontrol_survives_restart(p: Protocol) {
    let mut s = started(p);
    s.ok(
        "tpm2_createprimary",
        &["-C", "o", "-G", "ecc", "-c", "prim.ctx"],
    );
    let out = s.ok(
        "tpm2_evictcontrol",
        &["-C", "o", "-c", "prim.ctx", "0x81000010"],
    );
    assert!(out.contains("action: persisted"), "{out}");
    flush(&s);
    s.write_file("data.bin", b"kept");
    s.ok(
        "tpm2_create",
        &[
            "-C",
            "0x81000010",
            "-i",
            "data.bin",
            "-u",
            "k.pub",
            "-r",
            "k.priv",
        ],
    );
    flush(&s);
    s.power_cycle();
    s.ok("tpm2_startup", &["-c"]);
    assert_eq!(handles(&s, "handles-persistent"), vec![0x8100_0010]);
    s.ok(
        "tpm2_load",
        &[
            "-C",
            "0x81000010",
            "-u",
            "k.pub",
            "-r",
            "k.priv",
            "-c",
            "k.ctx",
        ],
    );
    let data = s.tools().ok_bytes("tpm2_unseal", &["-c", "k.ctx"], None);
    assert_eq!(data, b"kept");
    flush(&s);
    let out = s.ok("tpm2_evictcontrol", &["-C", "o", "-c", "0x81000010"]);
    assert!(out.contains("action: evicted"), "{out}");
    assert!(handles(&s, "handles-persistent").is_empty());
    s.power_cycle();
    s.ok("tpm2_startup", &["-c"]);
    assert!(handles(&s, "handles-persistent").is_empty());
}

/// Context files are TPMS_CONTEXT blobs (ContextSave / ContextLoad): they
/// reload after a flush and after Shutdown(STATE) + Startup(STATE), not
/// after a TPM Reset.
fn context_files_across_power_cycles(p: Protocol) {
    let mut s = started(p);
    s.ok(
        "tpm2_createprimary",
        &["-C", "o", "-G", "ecc", "-c", "prim.ctx"],
    );
    flush(&s);
    s.write_file("data.bin", b"ctx");
    s.ok(
        "tpm2_create",
        &[
            "-C", "prim.ctx", "-i", "data.bin", "-u", "k.pub", "-r", "k.priv",
        ],
    );
    flush(&s);
    s.ok(
        "tpm2_load",
        &[
            "-C", "prim.ctx", "-u", "k.pub", "-r", "k.priv", "-c", "k.ctx",
        ],
    );
    flush(&s);
    for _ in 0..2 {
        let data = s.tools().ok_bytes("tpm2_unseal", &["-c", "k.ctx"], None);
        assert_eq!(data, b"ctx");
        flush(&s);
    }
    s.ok("tpm2_shutdown", &[]);
    s.power_cycle();
    s.ok("tpm2_startup", &[]);
    let data = s.tools().ok_bytes("tpm2_unseal", &["-c", "k.ctx"], None);
    assert_eq!(data, b"ctx", "context after resume");
    flush(&s);
    s.ok("tpm2_shutdown", &["-c"]);
    s.power_cycle();
    s.ok("tpm2_startup", &["-c"]);
    let out = s.fails("tpm2_unseal", &["-c", "k.ctx"]);
    assert_eq!(
        out.tpm_rc(),
        Some(0x1df),
        "INTEGRITY after a reset: {out:?}"
    );
    // A session context file: saved by startauthsession, loaded and saved
    // again by every tool that uses it.
    s.ok("tpm2_startauthsession", &["-S", "sess.ctx"]);
    assert_eq!(handles(&s, "handles-saved-session").len(), 1);
    s.ok(
        "tpm2_policypassword",
        &["-S", "sess.ctx", "-L", "policy.dat"],
    );
    s.ok("tpm2_flushcontext", &["sess.ctx"]);
    assert!(handles(&s, "handles-saved-session").is_empty());
    assert_eq!(
        read(&s, "policy.dat"),
        parse::hex("8fcd2169ab92694e0c633f1ab772842b8241bbc20288981fc7ac1eddc1fddb0e")
    );
}

/// Salted HMAC sessions (`--hmac-session -c key`: tpmKey and bind) with an
/// RSA and an ECC key, used with parameter encryption both ways.
fn salted_sessions(p: Protocol) {
    let s = started(p);
    for alg in ["rsa", "ecc"] {
        s.ok(
            "tpm2_createprimary",
            &["-C", "o", "-G", alg, "-c", "prim.ctx"],
        );
        flush(&s);
        s.write_file("data.bin", b"salted and encrypted");
        s.ok(
            "tpm2_create",
            &[
                "-C", "prim.ctx", "-i", "data.bin", "-u", "k.pub", "-r", "k.priv",
            ],
        );
        flush(&s);
        s.ok(
            "tpm2_load",
            &[
                "-C", "prim.ctx", "-u", "k.pub", "-r", "k.priv", "-c", "k.ctx",
            ],
        );
        flush(&s);
        s.ok(
            "tpm2_startauthsession",
            &["--hmac-session", "-c", "prim.ctx", "-S", "salted.ctx"],
        );
        flush(&s);
        let r = s.ok("tpm2_getrandom", &["-S", "salted.ctx", "--hex", "16"]);
        assert_eq!(parse::hex(&r).len(), 16);
        s.ok("tpm2_sessionconfig", &["salted.ctx", "--enable-encrypt"]);
        let data = s.tools().ok_bytes(
            "tpm2_unseal",
            &["-c", "k.ctx", "-p", "session:salted.ctx"],
            None,
        );
        assert_eq!(data, b"salted and encrypted", "{alg} salted session");
        s.ok("tpm2_flushcontext", &["salted.ctx"]);
        flush(&s);
    }
}

/// duplicate (PolicyCommandCode(Duplicate) session) to an ECC parent
/// known only by its public area, import under it, load; and import of a
/// key made by openssl.
fn duplicate_and_import(p: Protocol) {
    let s = started(p);
    s.ok(
        "tpm2_createprimary",
        &["-C", "o", "-G", "ecc", "-c", "prim.ctx"],
    );
    flush(&s);
    s.ok("tpm2_startauthsession", &["-S", "trial.ctx"]);
    s.ok(
        "tpm2_policycommandcode",
        &["-S", "trial.ctx", "-L", "dpolicy.dat", "TPM2_CC_Duplicate"],
    );
    s.ok("tpm2_flushcontext", &["trial.ctx"]);
    s.write_file("data.bin", b"moving data");
    s.ok(
        "tpm2_create",
        &[
            "-C",
            "prim.ctx",
            "-i",
            "data.bin",
            "-u",
            "d.pub",
            "-r",
            "d.priv",
            "-L",
            "dpolicy.dat",
            "-a",
            "userwithauth",
        ],
    );
    flush(&s);
    s.ok(
        "tpm2_createprimary",
        &["-C", "e", "-G", "ecc", "-c", "np.ctx"],
    );
    s.ok("tpm2_readpublic", &["-c", "np.ctx", "-o", "np.pub"]);
    flush(&s);
    s.ok(
        "tpm2_load",
        &[
            "-C", "prim.ctx", "-u", "d.pub", "-r", "d.priv", "-c", "d.ctx",
        ],
    );
    flush(&s);
    s.ok(
        "tpm2_loadexternal",
        &["-C", "o", "-u", "np.pub", "-c", "npext.ctx"],
    );
    s.ok(
        "tpm2_startauthsession",
        &["--policy-session", "-S", "ps.ctx"],
    );
    s.ok(
        "tpm2_policycommandcode",
        &["-S", "ps.ctx", "TPM2_CC_Duplicate"],
    );
    s.ok(
        "tpm2_duplicate",
        &[
            "-C",
            "npext.ctx",
            "-c",
            "d.ctx",
            "-G",
            "null",
            "-p",
            "session:ps.ctx",
            "-r",
            "dup.priv",
            "-s",
            "dup.seed",
        ],
    );
    s.ok("tpm2_flushcontext", &["ps.ctx"]);
    flush(&s);
    s.ok(
        "tpm2_import",
        &[
            "-C", "np.ctx", "-u", "d.pub", "-i", "dup.priv", "-r", "imp.priv", "-s", "dup.seed",
        ],
    );
    flush(&s);
    s.ok(
        "tpm2_load",
        &[
            "-C", "np.ctx", "-u", "d.pub", "-r", "imp.priv", "-c", "imp.ctx",
        ],
    );
    let data = s.tools().ok_bytes("tpm2_unseal", &["-c", "imp.ctx"], None);
    assert_eq!(data, b"moving data");
    flush(&s);

    // A P-256 key made by openssl, imported (the tool wraps it with a
    // seed shared with the parent), loaded: same public point.
    let key = path(&s, "key.pem");
    let out = support::run_bounded(
        {
            let mut c = std::process::Command::new("openssl");
            c.args([
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-out",
                &key,
            ]);
            c
        },
        None,
        support::TOOL_TIMEOUT,
    );
    assert!(out.success(), "{out:?}");
    let der = support::run_bounded(
        {
            let mut c = std::process::Command::new("openssl");
            c.args(["pkey", "-in", &key, "-pubout", "-outform", "DER"]);
            c
        },
        None,
        support::TOOL_TIMEOUT,
    )
    .stdout;
    let xy = &der[der.len() - 64..];
    s.ok(
        "tpm2_import",
        &[
            "-C", "prim.ctx", "-G", "ecc", "-i", &key, "-u", "ik.pub", "-r", "ik.priv",
        ],
    );
    flush(&s);
    s.ok(
        "tpm2_load",
        &[
            "-C", "prim.ctx", "-u", "ik.pub", "-r", "ik.priv", "-c", "ik.ctx",
        ],
    );
    let rp = s.ok("tpm2_readpublic", &["-c", "ik.ctx"]);
    assert_eq!(parse::hex(&field(&rp, "x")), &xy[..32], "{rp}");
    assert_eq!(parse::hex(&field(&rp, "y")), &xy[32..], "{rp}");
    flush(&s);
}
