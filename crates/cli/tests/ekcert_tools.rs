//! A manufactured vTPM (crates/vtpm/src/ekcert) served by `trustcloud tpm
//! serve`, read with real tools: tpm2-tools find the EK certificates in the
//! NV indices of the TCG EK Credential Profile, OpenSSL parses them, shows
//! the profile's extensions and verifies them against the host CA
//! certificate, and the EK that `tpm2_createek` derives is the key the
//! certificate names.

mod support;

use std::path::Path;
use std::process::Command;

use support::{run_bounded, Protocol, ServerBuilder, ToolOutput, TOOL_TIMEOUT};
use tpm::{EngineConfig, Tpm};
use vtpm::ekcert::{self, CaAlgorithm, EkKind, FileCa, Manufactured};
use vtpm::StateStore;

fn openssl(cwd: &Path, args: &[&str]) -> ToolOutput {
    let mut cmd = Command::new("openssl");
    cmd.args(args).current_dir(cwd);
    run_bounded(cmd, None, TOOL_TIMEOUT)
}

fn openssl_ok(cwd: &Path, args: &[&str]) -> String {
    let out = openssl(cwd, args);
    assert!(out.success(), "expected success: {out:?}");
    out.stdout_str()
}

/// Manufactures a TPM with `kinds` and stores it where `tpm serve` looks.
fn manufactured_state(state_dir: &Path, ca: &FileCa, kinds: &[EkKind]) -> Manufactured {
    let mut tpm = Tpm::new(&EngineConfig::default());
    let m = ekcert::manufacture(&mut tpm, ca, kinds).expect("manufacture");
    let store = StateStore::open(state_dir).expect("state dir");
    store.save(&tpm.state_blob()).expect("save state");
    m
}

#[test]
fn tpm2_tools_and_openssl_read_and_verify_the_ek_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let state_dir = dir.path().join("state");
    let (ca, _) = FileCa::open_or_create(
        &dir.path().join("ca"),
        CaAlgorithm::EcdsaP256,
        "ekcert-host",
    )
    .unwrap();
    let m = manufactured_state(&state_dir, &ca, &EkKind::ALL);
    let server = ServerBuilder::trustcloud(Protocol::Mssim)
        .state_dir(&state_dir)
        .start();
    server.ok("tpm2_startup", &["-c"]);
    let work = server.work_dir().to_path_buf();
    let ca_pem = ca.cert_path().to_str().unwrap().to_string();

    for made in &m.eks {
        let (name, usage) = match made.kind {
            EkKind::Rsa2048 => ("rsa", "Key Encipherment"),
            EkKind::EccP256 => ("ecc", "Key Agreement"),
            EkKind::Sm2P256 => ("sm2", "Key Agreement"),
        };
        let der_file = format!("{name}.der");
        let index = format!("0x{:08X}", made.nv_index);
        server.ok("tpm2_nvread", &[&index, "-o", &der_file]);
        let der = std::fs::read(server.path(&der_file)).unwrap();
        assert_eq!(der, made.certificate_der, "{name}: NV holds the issued DER");

        let text = openssl_ok(
            &work,
            &[
                "x509", "-inform", "DER", "-in", &der_file, "-noout", "-text",
            ],
        );
        for needle in [
            "Version: 3 (0x2)",
            "Issuer: O = trustcloud, CN = trustcloud vTPM CA ekcert-host",
            "X509v3 Subject Alternative Name: critical",
            "DirName:",
            "id:54434C44",
            "trustcloud",
            "X509v3 Basic Constraints: critical",
            "CA:FALSE",
            "X509v3 Key Usage: critical",
            usage,
            "X509v3 Extended Key Usage: \n",
            "2.23.133.8.1",
            "X509v3 Certificate Policies",
            "2.23.133.11.1.1",
            "TCPA Trusted Platform Module Endorsement",
            "X509v3 Authority Key Identifier",
            "Not After : Dec 31 23:59:59 9999 GMT",
            "ecdsa-with-SHA256",
        ] {
            assert!(text.contains(needle), "{name}: no {needle:?} in\n{text}");
        }
        assert!(
            text.contains("Subject Directory Attributes") || text.contains("2.5.29.9"),
            "{name}: subjectDirectoryAttributes missing in\n{text}"
        );
        let key = match made.kind {
            EkKind::Rsa2048 => "Public-Key: (2048 bit)",
            EkKind::EccP256 => "NIST CURVE: P-256",
            EkKind::Sm2P256 => "ASN1 OID: SM2",
        };
        assert!(text.contains(key), "{name}: no {key:?} in\n{text}");

        // OpenSSL's own path validation accepts it under the host CA...
        let pem_file = format!("{name}.pem");
        openssl_ok(
            &work,
            &[
                "x509", "-inform", "DER", "-in", &der_file, "-out", &pem_file,
            ],
        );
        let verified = openssl_ok(&work, &["verify", "-CAfile", &ca_pem, &pem_file]);
        assert_eq!(verified.trim(), format!("{pem_file}: OK"));
        // ...and refuses it under another CA.
        let (other, _) = FileCa::open_or_create(
            &dir.path().join(format!("other-{name}")),
            CaAlgorithm::EcdsaP256,
            "ekcert-host",
        )
        .unwrap();
        let out = openssl(
            &work,
            &[
                "verify",
                "-CAfile",
                other.cert_path().to_str().unwrap(),
                &pem_file,
            ],
        );
        assert!(!out.success(), "a foreign CA must not verify it: {out:?}");

        // The EK tpm2_createek derives (the profile's low-range template)
        // is the certified key. (tpm2_createek has no SM2 template.)
        let alg = match made.kind {
            EkKind::Rsa2048 => "rsa",
            EkKind::EccP256 => "ecc",
            EkKind::Sm2P256 => continue,
        };
        let ek_pem = format!("ek-{name}.pem");
        server.ok(
            "tpm2_createek",
            &[
                "-c",
                &format!("ek-{name}.ctx"),
                "-G",
                alg,
                "-u",
                &ek_pem,
                "-f",
                "pem",
            ],
        );
        let cert_key = openssl_ok(&work, &["x509", "-in", &pem_file, "-noout", "-pubkey"]);
        let ek_key = std::fs::read_to_string(server.path(&ek_pem)).unwrap();
        assert_eq!(
            cert_key.trim(),
            ek_key.trim(),
            "{name}: certificate names the EK"
        );
        server.ok("tpm2_flushcontext", &["-t"]);
    }

    // tpm2_getekcertificate finds both in NV without any network.
    server.ok(
        "tpm2_getekcertificate",
        &["-o", "get-rsa.der", "-o", "get-ecc.der"],
    );
    for (file, kind) in [
        ("get-rsa.der", EkKind::Rsa2048),
        ("get-ecc.der", EkKind::EccP256),
    ] {
        let got = std::fs::read(server.path(file)).unwrap();
        let made = m.eks.iter().find(|e| e.kind == kind).unwrap();
        assert_eq!(got, made.certificate_der, "tpm2_getekcertificate {file}");
    }
}
