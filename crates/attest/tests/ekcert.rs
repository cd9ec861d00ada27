//! EK certificate verification against certificates issued by vtpmd's host
//! CA (crates/vtpm ekcert, the production issuer): accepted with the right
//! anchor and EK, refused for an untrusted CA, another EK, or outside the
//! validity window when a time is given.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use attest::ekcert::{
    parse_certificates, verify_ek_certificate, verify_ek_certificate_with, EkCertError,
};
use der::Encode;
use tpm::constants::rh;
use tpm::types::Public;
use tpmclient::Auth;
use vtpm::ekcert::{issue_ek_certificate, CaAlgorithm, CaKey, FileCa, TpmInfo};

fn info() -> TpmInfo {
    TpmInfo {
        manufacturer: u32::from_be_bytes(*b"TCLD"),
        vendor_strings: [0; 4],
        firmware_version_1: 1,
        family: u32::from_be_bytes(*b"2.0\0"),
        level: 0,
        revision: 183,
    }
}

fn ek(template: Public, seed: u8) -> Public {
    let mut sim = common::Sim::new(seed);
    sim.tpm
        .create_primary(
            rh::ENDORSEMENT,
            &Auth::empty(),
            &template,
            &Default::default(),
        )
        .unwrap()
        .public
}

fn ca(alg: CaAlgorithm, name: &str) -> (tempfile::TempDir, FileCa) {
    let dir = tempfile::tempdir().unwrap();
    let (ca, created) = FileCa::open_or_create(&dir.path().join("ca"), alg, name).unwrap();
    assert!(created);
    (dir, ca)
}

#[test]
fn vtpmd_ek_certificates_chain_to_the_host_ca() {
    for (alg, template, seed) in [
        (CaAlgorithm::EcdsaP256, tpm::templates::ek_ecc_p256_l2(), 31),
        (CaAlgorithm::EcdsaP384, tpm::templates::ek_rsa2048_l1(), 32),
    ] {
        let (_d, host) = ca(alg, "host-a");
        let ek_pub = ek(template, seed);
        let now = SystemTime::now();
        let cert = issue_ek_certificate(&host, &ek_pub, &info(), now)
            .unwrap()
            .to_der()
            .unwrap();
        let anchor = host.certificate().to_der().unwrap();
        let got = verify_ek_certificate(&cert, std::slice::from_ref(&anchor), &ek_pub).unwrap();
        assert_eq!(got.anchor_index, 0);
        assert_eq!(got.anchor_der, anchor);
        assert!(got.issuer.contains("host-a"), "{}", got.issuer);
        assert_eq!(got.chain.len(), 2);

        // An untrusted CA (another host's) is refused, naming the issuer.
        let (_d2, other) = ca(alg, "host-b");
        let other_anchor = other.certificate().to_der().unwrap();
        let e =
            verify_ek_certificate(&cert, std::slice::from_ref(&other_anchor), &ek_pub).unwrap_err();
        assert!(
            matches!(&e, EkCertError::Untrusted { issuer } if issuer.contains("host-a")),
            "{e}"
        );
        // Found among several anchors.
        let got = verify_ek_certificate(&cert, &[other_anchor, anchor.clone()], &ek_pub).unwrap();
        assert_eq!(got.anchor_index, 1);

        // The certificate of another EK.
        let wrong = ek(tpm::templates::ek_ecc_p256_l2(), seed + 10);
        assert!(matches!(
            verify_ek_certificate(&cert, std::slice::from_ref(&anchor), &wrong),
            Err(EkCertError::KeyMismatch(_))
        ));

        // Tampered certificate bytes: the signature no longer verifies.
        let mut bad = cert.clone();
        let i = bad.len() / 2;
        bad[i] ^= 0x01;
        assert!(verify_ek_certificate(&bad, std::slice::from_ref(&anchor), &ek_pub).is_err());

        // Validity checked when a time is given.
        let before = now.duration_since(UNIX_EPOCH).unwrap() - Duration::from_secs(86_400 * 400);
        let e = verify_ek_certificate_with(
            &cert,
            std::slice::from_ref(&anchor),
            &[] as &[Vec<u8>],
            &ek_pub,
            Some(before.as_secs()),
        )
        .unwrap_err();
        assert!(matches!(e, EkCertError::Expired { .. }), "{e}");

        // PEM anchors parse.
        let pem = vtpm::ekcert::certificate_pem(&host).unwrap();
        assert_eq!(parse_certificates(pem.as_bytes()).unwrap(), vec![anchor]);
    }
}

#[test]
fn garbage_is_malformed_not_a_panic() {
    let ek_pub = ek(tpm::templates::ek_ecc_p256_l2(), 40);
    assert!(matches!(
        verify_ek_certificate(b"\x30\x03\x02\x01", &[] as &[Vec<u8>], &ek_pub),
        Err(EkCertError::Malformed(_))
    ));
    assert!(matches!(
        verify_ek_certificate(&[0u8; 0], &[vec![1u8, 2, 3]], &ek_pub),
        Err(EkCertError::Malformed(_))
    ));
}

/// A real swtpm EK certificate (`swtpm_setup --create-ek-cert`, swtpm's
/// local CA: RSA root → RSA intermediate "swtpm-localca" → EK certificates
/// for an RSA-2048 and a NIST P-384 EK).
mod swtpm {
    use super::*;
    use der::Decode;
    use tpm::types::{EccPoint, PublicId, PublicKeyRsa};
    use tpm::wire::Tpm2b;
    use x509_cert::Certificate;

    const EK_RSA: &[u8] = include_bytes!("data/swtpm/ek-rsa2048.crt");
    const EK_P384: &[u8] = include_bytes!("data/swtpm/ek-secp384r1.crt");
    const ISSUER: &[u8] = include_bytes!("data/swtpm/issuercert.pem");
    const ROOT: &[u8] = include_bytes!("data/swtpm/swtpm-localca-rootca-cert.pem");

    /// The EK public area the certificate certifies (as the agent would
    /// read it from the TPM).
    fn ek_public(cert: &[u8]) -> Public {
        let c = Certificate::from_der(cert).unwrap();
        let bits = c
            .tbs_certificate
            .subject_public_key_info
            .subject_public_key
            .raw_bytes()
            .to_vec();
        if bits[0] == 4 {
            let mut p = tpm::templates::EkTemplate::EccP384H3.public();
            let (x, y) = bits[1..].split_at(48);
            p.unique = PublicId::Ecc(EccPoint {
                x: Tpm2b(x.to_vec()),
                y: Tpm2b(y.to_vec()),
            });
            p
        } else {
            // RSAPublicKey ::= SEQUENCE { n INTEGER, e INTEGER }: n is the
            // 257-byte INTEGER after the SEQUENCE and INTEGER headers.
            let n_start = bits
                .windows(3)
                .position(|w| w == [0x02, 0x82, 0x01])
                .unwrap()
                + 4;
            let n = &bits[n_start..n_start + 257];
            let n = if n[0] == 0 { &n[1..] } else { n };
            let mut p = tpm::templates::ek_rsa2048_l1();
            p.unique = PublicId::Rsa(PublicKeyRsa::new(n.to_vec()).unwrap());
            p
        }
    }

    #[test]
    fn swtpm_localca_chains_through_its_intermediate() {
        let root = parse_certificates(ROOT).unwrap();
        let issuer = parse_certificates(ISSUER).unwrap();
        assert_eq!((root.len(), issuer.len()), (1, 1));
        for cert in [EK_RSA, EK_P384] {
            let ek_pub = ek_public(cert);
            // Root as anchor, intermediate supplied.
            let got = verify_ek_certificate_with(cert, &root, &issuer, &ek_pub, None).unwrap();
            assert_eq!(got.issuer, "CN=swtpm-localca");
            assert_eq!(
                got.chain,
                vec!["CN=unknown", "CN=swtpm-localca", "CN=swtpm-localca-rootca"]
            );
            // Root and intermediate both configured as anchors.
            let anchors = [root[0].clone(), issuer[0].clone()];
            let got = verify_ek_certificate(cert, &anchors, &ek_pub).unwrap();
            assert_eq!(got.anchor_index, 1);
            // Root alone: the chain cannot be built.
            assert!(matches!(
                verify_ek_certificate(cert, &root, &ek_pub),
                Err(EkCertError::Untrusted { .. })
            ));
        }
        // The RSA EK's certificate does not certify the P-384 EK.
        assert!(matches!(
            verify_ek_certificate(EK_RSA, &issuer, &ek_public(EK_P384)),
            Err(EkCertError::KeyMismatch(_))
        ));
    }
}
