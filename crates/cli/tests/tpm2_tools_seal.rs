//! Sealing to PCRs with the real tpm2-tools against `trustcloud tpm
//! serve`, under both protocols: a secret sealed under a PolicyPCR policy
//! unseals while the PCRs hold the values the policy was made from, and is
//! refused (TPM_RC_POLICY_FAIL) once one of them is extended — the
//! property disk-encryption keys bound to measured boot rely on.

mod support;

use support::{Protocol, Server};

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

both_protocols!(seal_unseal_under_policy_pcr);

/// TPM_RC_POLICY_FAIL on session 1 (0x99d), as tpm2_unseal reports it.
const RC_POLICY_FAIL_S1: u32 = 0x99d;

fn seal_unseal_under_policy_pcr(p: Protocol) {
    let s = Server::start(p);
    s.ok("tpm2_startup", &["-c"]);
    let path = |n: &str| s.path(n).to_string_lossy().into_owned();
    let secret = b"disk key: 9f1c0e2a4b6d8f10";
    s.write_file("secret.bin", secret);
    // Measure something into PCRs 0 and 7, then make the policy from them.
    s.ok(
        "tpm2_pcrextend",
        &["0:sha256=0000000000000000000000000000000000000000000000000000000000000001"],
    );
    s.ok(
        "tpm2_pcrextend",
        &["7:sha256=0000000000000000000000000000000000000000000000000000000000000007"],
    );
    s.ok("tpm2_pcrread", &["sha256:0,7", "-o", &path("pcrs.bin")]);
    s.ok(
        "tpm2_createpolicy",
        &[
            "--policy-pcr",
            "-l",
            "sha256:0,7",
            "-f",
            &path("pcrs.bin"),
            "-L",
            &path("pcr.policy"),
        ],
    );
    s.ok(
        "tpm2_createprimary",
        &["-C", "o", "-c", &path("primary.ctx")],
    );
    s.ok(
        "tpm2_create",
        &[
            "-C",
            &path("primary.ctx"),
            "-L",
            &path("pcr.policy"),
            "-i",
            &path("secret.bin"),
            "-u",
            &path("seal.pub"),
            "-r",
            &path("seal.priv"),
        ],
    );
    s.ok("tpm2_flushcontext", &["-t"]);
    s.ok(
        "tpm2_load",
        &[
            "-C",
            &path("primary.ctx"),
            "-u",
            &path("seal.pub"),
            "-r",
            &path("seal.priv"),
            "-c",
            &path("seal.ctx"),
        ],
    );
    s.ok("tpm2_flushcontext", &["-t"]);
    let out = s.tools().ok_bytes(
        "tpm2_unseal",
        &["-c", &path("seal.ctx"), "-p", "pcr:sha256:0,7"],
        None,
    );
    assert_eq!(out, secret, "unsealed while the PCRs match");
    s.ok("tpm2_flushcontext", &["-t"]);
    s.ok("tpm2_flushcontext", &["-s"]);

    // A different boot measurement: the policy no longer holds.
    s.ok(
        "tpm2_pcrextend",
        &["7:sha256=0000000000000000000000000000000000000000000000000000000000000066"],
    );
    let refused = s.fails(
        "tpm2_unseal",
        &["-c", &path("seal.ctx"), "-p", "pcr:sha256:0,7"],
    );
    assert_eq!(
        refused.tpm_rc(),
        Some(RC_POLICY_FAIL_S1),
        "unseal refused after PCR 7 changed"
    );
}
