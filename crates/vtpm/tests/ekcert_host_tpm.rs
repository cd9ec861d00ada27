//! The host vTPM CA with its key in a host TPM (crates/vtpm/src/ekcert/
//! tpm_ca.rs), with swtpm standing in for the host's hardware TPM: the key
//! is created and used there, the certificates it signs verify, and the
//! key file is useless with any other TPM.

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use der::Encode;
use spki::DecodePublicKey;
use tpm::{EngineConfig, Tpm};
use vtpm::ekcert::{
    self, CaAlgorithm, CaKey, EkCertError, EkKind, FileCa, SharedTpm, TpmCa, CA_CERT_FILE,
    CA_TPM_KEY_FILE,
};
use x509_cert::certificate::Certificate;

/// A `swtpm socket --tpm2` on loopback, killed on drop.
struct HostTpm {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl HostTpm {
    fn start() -> HostTpm {
        for _ in 0..50 {
            let port = TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            if port == u16::MAX || TcpListener::bind(("127.0.0.1", port + 1)).is_err() {
                continue;
            }
            let dir = tempfile::tempdir().unwrap();
            let child = Command::new("swtpm")
                .args(["socket", "--tpm2", "--flags", "not-need-init,startup-clear"])
                .arg("--tpmstate")
                .arg(format!("dir={}", dir.path().display()))
                .arg("--server")
                .arg(format!("type=tcp,port={port},bindaddr=127.0.0.1"))
                .arg("--ctrl")
                .arg(format!("type=tcp,port={},bindaddr=127.0.0.1", port + 1))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("swtpm is installed");
            let mut host = HostTpm {
                child,
                port,
                _dir: dir,
            };
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = host.child.try_wait() {
                    break; // lost the port race; try another
                }
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return host;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = host.child.kill();
        }
        panic!("could not start swtpm");
    }

    fn connect(&self) -> SharedTpm {
        let tcti = format!("swtpm:host=127.0.0.1,port={}", self.port);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            match tpmclient::Tpm::open(&tcti) {
                Ok(t) => return Arc::new(Mutex::new(t)),
                Err(e) if Instant::now() > deadline => panic!("connect {tcti}: {e}"),
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }
}

impl Drop for HostTpm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn verify_p256(cert: &Certificate, ca: &Certificate) -> bool {
    use signature::Verifier;
    let tbs = cert.tbs_certificate.to_der().unwrap();
    let spki = ca.tbs_certificate.subject_public_key_info.to_der().unwrap();
    let key = p256::ecdsa::VerifyingKey::from_public_key_der(&spki).unwrap();
    let sig = p256::ecdsa::DerSignature::from_bytes(cert.signature.raw_bytes()).unwrap();
    key.verify(&tbs, &sig).is_ok()
}

fn manufacture(ca: &dyn CaKey) -> Result<ekcert::Manufactured, EkCertError> {
    let mut tpm = Tpm::new(&EngineConfig::default());
    ekcert::manufacture(&mut tpm, ca, &[EkKind::EccP256])
}

#[test]
fn the_ca_key_lives_in_the_host_tpm_and_only_works_there() {
    let host = HostTpm::start();
    let dir = tempfile::tempdir().unwrap();
    let ca_dir = dir.path().join("ca");

    let (ca, created) = TpmCa::open_or_create(&ca_dir, host.connect(), "tpm-host").unwrap();
    assert!(created);
    let key_pem = std::fs::read_to_string(ca_dir.join(CA_TPM_KEY_FILE)).unwrap();
    assert!(
        key_pem.starts_with("-----BEGIN TSS2 PRIVATE KEY-----"),
        "{key_pem}"
    );
    let ca_cert = ca.certificate().clone();
    assert!(
        verify_p256(&ca_cert, &ca_cert),
        "self-signed by the TPM key"
    );
    assert_eq!(
        ca_cert.tbs_certificate.subject.to_string(),
        "CN=trustcloud vTPM CA tpm-host,O=trustcloud"
    );
    assert!(ca.describe().contains("host TPM"), "{}", ca.describe());

    let m = manufacture(&ca).unwrap();
    assert!(verify_p256(&m.eks[0].certificate, &ca_cert));
    // ECDSA signatures by the TPM differ each time; both verify.
    let m2 = manufacture(&ca).unwrap();
    assert!(verify_p256(&m2.eks[0].certificate, &ca_cert));
    drop(ca);

    // Reopened on a new connection: the same CA, still signing.
    let (ca, created) = TpmCa::open_or_create(&ca_dir, host.connect(), "other-name").unwrap();
    assert!(!created);
    assert_eq!(ca.certificate(), &ca_cert);
    let m3 = manufacture(&ca).unwrap();
    assert!(verify_p256(&m3.eks[0].certificate, &ca_cert));
    drop(ca);

    // Another TPM cannot load the key: the key file alone is worthless.
    let stranger = HostTpm::start();
    let (ca, _) = TpmCa::open_or_create(&ca_dir, stranger.connect(), "tpm-host").unwrap();
    let err = manufacture(&ca).unwrap_err();
    assert!(
        matches!(&err, EkCertError::HostTpm { op, .. } if op.contains("load")),
        "{err}"
    );
    drop(ca);

    // A file CA and a TPM CA never share a directory.
    let err = FileCa::open_or_create(&ca_dir, CaAlgorithm::EcdsaP256, "h").unwrap_err();
    assert!(err.to_string().contains(CA_TPM_KEY_FILE), "{err}");
    let file_dir = dir.path().join("file-ca");
    FileCa::open_or_create(&file_dir, CaAlgorithm::EcdsaP256, "h").unwrap();
    let err = TpmCa::open_or_create(&file_dir, host.connect(), "h").unwrap_err();
    assert!(err.to_string().contains("file CA key"), "{err}");
    assert!(file_dir.join(CA_CERT_FILE).exists());
}
