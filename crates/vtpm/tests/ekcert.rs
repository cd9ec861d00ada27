//! Manufacturing a vTPM with EK certificates (crates/vtpm/src/ekcert):
//! the certificates read back from NV verify under the host CA, carry the
//! EK Credential Profile's fields, and certify the very keys the EK
//! templates derive on the same TPM after a power cycle.

use std::os::unix::fs::PermissionsExt;

use der::{Decode, Encode};
use spki::DecodePublicKey;
use tpm::crypto::Drbg;
use tpm::engine::SystemTime as EngineClock;
use tpm::{EngineConfig, Tpm};
use vtpm::ekcert::{
    self, CaAlgorithm, CaKey, EkCertError, EkKind, FileCa, CA_CERT_FILE, CA_KEY_FILE,
    EK_CERT_NV_ATTRIBUTES,
};
use x509_cert::certificate::Certificate;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages,
    SubjectAltName, SubjectKeyIdentifier,
};

fn ca(dir: &std::path::Path, alg: CaAlgorithm) -> FileCa {
    FileCa::open_or_create(dir, alg, "host-a.example")
        .unwrap()
        .0
}

/// Runs raw command bytes, returning (rc, response).
fn raw(tpm: &mut Tpm, cmd: &[u8]) -> (u32, Vec<u8>) {
    let r = tpm.execute(0, cmd);
    (u32::from_be_bytes(r[6..10].try_into().unwrap()), r)
}

fn startup(tpm: &mut Tpm) {
    let (rc, _) = raw(tpm, &[0x80, 0x01, 0, 0, 0, 12, 0, 0, 1, 0x44, 0, 0]);
    assert_eq!(rc, 0, "TPM2_Startup(CLEAR)");
}

/// The extension with `oid`, decoded as `T`, and its criticality.
fn ext<'a, T: Decode<'a>>(cert: &'a Certificate, oid: &str) -> Option<(T, bool)> {
    let oid = der::asn1::ObjectIdentifier::new_unwrap(oid);
    cert.tbs_certificate
        .extensions
        .as_ref()?
        .iter()
        .find(|e| e.extn_id == oid)
        .map(|e| (T::from_der(e.extn_value.as_bytes()).unwrap(), e.critical))
}

/// Verifies `cert`'s signature with the CA certificate's public key.
fn verify(cert: &Certificate, ca_cert: &Certificate) -> bool {
    use signature::Verifier;
    let tbs = cert.tbs_certificate.to_der().unwrap();
    let spki_der = ca_cert
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .unwrap();
    let sig = cert.signature.raw_bytes();
    match cert.signature_algorithm.oid.to_string().as_str() {
        "1.2.840.10045.4.3.2" => {
            let key = p256::ecdsa::VerifyingKey::from_public_key_der(&spki_der).unwrap();
            let sig = p256::ecdsa::DerSignature::from_bytes(sig).unwrap();
            key.verify(&tbs, &sig).is_ok()
        }
        "1.2.840.10045.4.3.3" => {
            let key = p384::ecdsa::VerifyingKey::from_public_key_der(&spki_der).unwrap();
            let sig = p384::ecdsa::DerSignature::from_bytes(sig).unwrap();
            key.verify(&tbs, &sig).is_ok()
        }
        other => panic!("unexpected signature algorithm {other}"),
    }
}

fn fresh_tpm() -> Tpm {
    Tpm::manufacture(
        &EngineConfig::default(),
        Drbg::from_os(),
        Box::<EngineClock>::default(),
    )
}

/// TPMA_NV of `index` via TPM2_NV_ReadPublic.
fn read_nv_attributes(tpm: &mut Tpm, index: u32) -> u32 {
    let mut cmd = vec![0x80, 0x01, 0, 0, 0, 14, 0, 0, 0x01, 0x69];
    cmd.extend(index.to_be_bytes());
    let (rc, r) = raw(tpm, &cmd);
    assert_eq!(rc, 0);
    // header(10) | TPM2B size(2) | nvIndex(4) | nameAlg(2) | attributes(4)
    u32::from_be_bytes(r[18..22].try_into().unwrap())
}

/// TPM2_NV_Write(platform, index, data, offset 0) with an empty password.
fn nv_write_platform(index: u32, data: &[u8]) -> Vec<u8> {
    let mut c = vec![0x80, 0x02, 0, 0, 0, 0, 0, 0, 0x01, 0x37];
    c.extend(0x4000_000Cu32.to_be_bytes());
    c.extend(index.to_be_bytes());
    c.extend(9u32.to_be_bytes());
    c.extend([0x40, 0, 0, 9, 0, 0, 0, 0, 0]);
    c.extend((data.len() as u16).to_be_bytes());
    c.extend(data);
    c.extend(0u16.to_be_bytes());
    let n = c.len() as u32;
    c[2..6].copy_from_slice(&n.to_be_bytes());
    c
}

#[test]
fn manufactured_certificates_verify_and_certify_the_template_eks() {
    let dir = tempfile::tempdir().unwrap();
    let ca = ca(dir.path(), CaAlgorithm::EcdsaP256);
    let mut tpm = fresh_tpm();
    let m = ekcert::manufacture(&mut tpm, &ca, &EkKind::ALL).unwrap();
    assert_eq!(m.eks.len(), 3);
    assert!(!tpm.is_started(), "left awaiting TPM2_Startup");
    assert!(tpm.is_dirty(), "the caller has state to persist");
    assert_eq!(m.tpm_info.manufacturer_id(), "id:54434C44"); // "TCLD"
    assert_eq!(m.tpm_info.model(), "trustcloud");
    assert_eq!(m.tpm_info.family_text(), "2.0");

    // Power cycle through the persisted state, as a host restart would.
    let blob = tpm.state_blob();
    drop(tpm);
    let mut tpm = Tpm::from_state(&blob, Drbg::from_os(), Box::<EngineClock>::default()).unwrap();
    startup(&mut tpm);
    // The guest's owner takes ownership: the certificates stay readable
    // (TPMA_NV_AUTHREAD with the index's empty authValue).
    let mut change_auth = vec![0x80, 0x02, 0, 0, 0, 0, 0, 0, 0x01, 0x29];
    change_auth.extend(0x4000_0001u32.to_be_bytes());
    change_auth.extend(9u32.to_be_bytes());
    change_auth.extend([0x40, 0, 0, 9, 0, 0, 0, 0, 0]);
    change_auth.extend([0, 5]);
    change_auth.extend(b"owner");
    let n = change_auth.len() as u32;
    change_auth[2..6].copy_from_slice(&n.to_be_bytes());
    assert_eq!(raw(&mut tpm, &change_auth).0, 0, "TPM2_HierarchyChangeAuth");

    let ca_cert = ca.certificate();
    let ca_ski = ext::<SubjectKeyIdentifier>(ca_cert, "2.5.29.14").unwrap().0;
    let mut serials = Vec::new();
    for made in &m.eks {
        let der = ekcert::read_ek_certificate(&mut tpm, made.kind)
            .unwrap()
            .unwrap_or_else(|| panic!("{} certificate missing", made.kind));
        assert_eq!(
            der, made.certificate_der,
            "{}: NV holds what was issued",
            made.kind
        );
        let cert = Certificate::from_der(&der).unwrap();
        assert!(
            verify(&cert, ca_cert),
            "{}: signature verifies under the CA",
            made.kind
        );
        // Any change to the signed part breaks the signature.
        let mut tampered = cert.clone();
        tampered.tbs_certificate.serial_number = ca_cert.tbs_certificate.serial_number.clone();
        assert!(!verify(&tampered, ca_cert));

        let tbs = &cert.tbs_certificate;
        assert_eq!(tbs.version, x509_cert::certificate::Version::V3);
        assert_eq!(tbs.issuer, ca_cert.tbs_certificate.subject);
        assert!(
            tbs.subject.is_empty(),
            "EK certificates have an empty subject"
        );
        let serial = tbs.serial_number.as_bytes().to_vec();
        assert!(
            serial.len() == 16 && serial[0] & 0x80 == 0,
            "16 positive bytes: {serial:02x?}"
        );
        serials.push(serial);
        assert_eq!(tbs.validity.not_after.to_date_time().year(), 9999);

        // The EK the template derives now is the EK in the certificate.
        let again = ekcert::create_ek(&mut tpm, made.kind).unwrap();
        assert_eq!(
            again, made.public,
            "{}: same EK after a power cycle",
            made.kind
        );
        assert_eq!(
            tbs.subject_public_key_info,
            ekcert::subject_public_key_info(&again).unwrap()
        );

        let (san, critical) = ext::<SubjectAltName>(&cert, "2.5.29.17").unwrap();
        assert!(critical, "SAN is critical when the subject is empty");
        let [GeneralName::DirectoryName(dn)] = san.0.as_slice() else {
            panic!("SAN {san:?}")
        };
        let attrs: Vec<(String, String)> =
            dn.0.iter()
                .flat_map(|rdn| rdn.0.iter())
                .map(|atv| {
                    let v = der::asn1::Utf8StringRef::try_from(&atv.value).unwrap();
                    (atv.oid.to_string(), v.as_str().to_string())
                })
                .collect();
        let version = format!("id:{:08X}", m.tpm_info.firmware_version_1);
        assert_eq!(
            attrs,
            [
                ("2.23.133.2.1".to_string(), "id:54434C44".to_string()),
                ("2.23.133.2.2".to_string(), "trustcloud".to_string()),
                ("2.23.133.2.3".to_string(), version),
            ]
        );

        let (bc, critical) = ext::<BasicConstraints>(&cert, "2.5.29.19").unwrap();
        assert!(!bc.ca && critical);
        let (ku, critical) = ext::<KeyUsage>(&cert, "2.5.29.15").unwrap();
        assert!(critical);
        let expected: KeyUsage = match made.kind {
            EkKind::Rsa2048 => KeyUsage(KeyUsages::KeyEncipherment.into()),
            _ => KeyUsage(KeyUsages::KeyAgreement.into()),
        };
        assert_eq!(ku, expected, "{}", made.kind);
        let (eku, critical) = ext::<ExtendedKeyUsage>(&cert, "2.5.29.37").unwrap();
        assert!(!critical, "extendedKeyUsage is not critical");
        assert_eq!(
            eku.0,
            vec![der::asn1::ObjectIdentifier::new_unwrap("2.23.133.8.1")]
        );
        let (aki, critical) = ext::<AuthorityKeyIdentifier>(&cert, "2.5.29.35").unwrap();
        assert!(!critical);
        assert_eq!(aki.key_identifier.as_ref(), Some(&ca_ski.0));
        assert!(ext::<SubjectKeyIdentifier>(&cert, "2.5.29.14").is_none());
        // subjectDirectoryAttributes: SEQUENCE OF Attribute with the TPM
        // specification (family "2.0", level, revision).
        let sda: Vec<x509_cert::attr::Attribute> = ext(&cert, "2.5.29.9").unwrap().0;
        assert_eq!(sda.len(), 1);
        assert_eq!(sda[0].oid.to_string(), "2.23.133.2.16");
        let spec = sda[0].values.get(0).unwrap().to_der().unwrap();
        assert!(
            spec.windows(5).any(|w| w == [0x0c, 3, b'2', b'.', b'0']),
            "{spec:02x?}"
        );
        let (policies, _) =
            ext::<x509_cert::ext::pkix::CertificatePolicies>(&cert, "2.5.29.32").unwrap();
        assert_eq!(
            policies.0[0].policy_identifier.to_string(),
            "2.23.133.11.1.1"
        );

        // The index: the profile's attributes, written, locked for good.
        let nv = read_nv_attributes(&mut tpm, made.nv_index);
        assert_eq!(nv & EK_CERT_NV_ATTRIBUTES, EK_CERT_NV_ATTRIBUTES);
        assert_ne!(nv & (1 << 29), 0, "TPMA_NV_WRITTEN");
        assert_ne!(nv & (1 << 11), 0, "TPMA_NV_WRITELOCKED");
        let (rc, _) = raw(&mut tpm, &nv_write_platform(made.nv_index, b"x"));
        assert_eq!(rc, 0x148, "{}: TPM_RC_NV_LOCKED", made.kind);
    }
    serials.sort();
    serials.dedup();
    assert_eq!(serials.len(), 3, "distinct serial numbers");

    // Manufacturing twice is refused: the indices exist.
    let mut tpm2 = Tpm::from_state(&blob, Drbg::from_os(), Box::<EngineClock>::default()).unwrap();
    let err = ekcert::manufacture(&mut tpm2, &ca, &[EkKind::EccP256]).unwrap_err();
    assert!(err.to_string().contains("0x01C0000A"), "{err}");
}

#[test]
fn a_p384_ca_signs_with_sha384() {
    let dir = tempfile::tempdir().unwrap();
    let ca = ca(dir.path(), CaAlgorithm::EcdsaP384);
    assert_eq!(ca.algorithm(), CaAlgorithm::EcdsaP384);
    let mut tpm = fresh_tpm();
    let m = ekcert::manufacture(&mut tpm, &ca, &[EkKind::EccP256, EkKind::EccP256]).unwrap();
    assert_eq!(m.eks.len(), 1, "duplicates collapse");
    let cert = &m.eks[0].certificate;
    assert_eq!(
        cert.signature_algorithm.oid.to_string(),
        "1.2.840.10045.4.3.3"
    );
    assert!(verify(cert, ca.certificate()));
    assert!(verify(ca.certificate(), ca.certificate()), "self-signed");
}

#[test]
fn the_file_ca_is_created_once_with_a_private_key_file() {
    let dir = tempfile::tempdir().unwrap();
    let ca_dir = dir.path().join("ca");
    let (ca1, created) = FileCa::open_or_create(&ca_dir, CaAlgorithm::EcdsaP256, "h1").unwrap();
    assert!(created);
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&ca_dir.join(CA_KEY_FILE)), 0o600);
    assert_eq!(mode(&ca_dir), 0o700);
    let cert = ca1.certificate().clone();
    assert!(verify(&cert, &cert));
    assert_eq!(
        cert.tbs_certificate.subject.to_string(),
        "CN=trustcloud vTPM CA h1,O=trustcloud"
    );
    assert_eq!(cert.tbs_certificate.issuer, cert.tbs_certificate.subject);
    let (bc, critical) = ext::<BasicConstraints>(&cert, "2.5.29.19").unwrap();
    assert!(bc.ca && critical);
    assert_eq!(bc.path_len_constraint, Some(0));
    let (ku, _) = ext::<KeyUsage>(&cert, "2.5.29.15").unwrap();
    assert!(ku.key_cert_sign());
    assert!(ca1.describe().contains(CA_KEY_FILE));
    let pem = ekcert::certificate_pem(&ca1).unwrap();
    assert_eq!(
        pem,
        std::fs::read_to_string(ca_dir.join(CA_CERT_FILE)).unwrap()
    );

    // Reopened: the same CA, whatever algorithm is asked for now.
    let (ca2, created) = FileCa::open_or_create(&ca_dir, CaAlgorithm::EcdsaP384, "h2").unwrap();
    assert!(!created);
    assert_eq!(ca2.certificate(), &cert);
    assert_eq!(ca2.algorithm(), CaAlgorithm::EcdsaP256);
    assert_eq!(FileCa::open(&ca_dir).unwrap().certificate(), &cert);

    // A crash between key and certificate: the certificate is re-made
    // for the same key.
    std::fs::remove_file(ca_dir.join(CA_CERT_FILE)).unwrap();
    let (ca3, created) = FileCa::open_or_create(&ca_dir, CaAlgorithm::EcdsaP256, "h1").unwrap();
    assert!(!created);
    assert_eq!(
        ca3.certificate().tbs_certificate.subject_public_key_info,
        cert.tbs_certificate.subject_public_key_info
    );

    // A key readable by others is refused.
    let key = ca_dir.join(CA_KEY_FILE);
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = FileCa::open(&ca_dir).unwrap_err();
    assert!(
        matches!(err, EkCertError::InsecureKeyFile { mode: 0o644, .. }),
        "{err}"
    );
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();

    // A certificate for another key is refused.
    let other = tempfile::tempdir().unwrap();
    FileCa::open_or_create(other.path(), CaAlgorithm::EcdsaP256, "h1").unwrap();
    std::fs::copy(other.path().join(CA_KEY_FILE), &key).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let err = FileCa::open(&ca_dir).unwrap_err();
    assert!(matches!(err, EkCertError::CaCertificate { .. }), "{err}");

    // A certificate without its key is refused, never silently replaced.
    std::fs::remove_file(&key).unwrap();
    let err = FileCa::open_or_create(&ca_dir, CaAlgorithm::EcdsaP256, "h1").unwrap_err();
    assert!(matches!(err, EkCertError::MissingKey { .. }), "{err}");
}

#[test]
fn ek_kinds_parse_from_the_command_line_names() {
    for k in EkKind::ALL {
        assert_eq!(k.name().parse::<EkKind>().unwrap(), k);
    }
    assert_eq!(
        [
            EkKind::Rsa2048.nv_index(),
            EkKind::EccP256.nv_index(),
            EkKind::Sm2P256.nv_index()
        ],
        [0x01C0_0002, 0x01C0_000A, 0x01C0_001A]
    );
    assert!("rsa1024".parse::<EkKind>().is_err());
}
