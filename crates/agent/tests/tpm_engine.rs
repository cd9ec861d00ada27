//! The agent's TPM side against this project's engine in process: EK
//! certificate from NV matching the recreated EK, AK under the EK (saved
//! and reloaded), credential activation with a registrar-made credential,
//! and a quote whose PCR values produce its digest.

use std::collections::BTreeMap;

use agent::tpm::{AgentTpm, AkKind};
use tpm::constants::rh;
use tpm::crypto::HashAlg;
use tpm::types::{Attest2b, Attested};
use tpm::wire::Codec;
use tpmclient::transport::EngineTransport;
use tpmclient::{Auth, StartupType, Tpm};
use vtpm::ekcert::{CaAlgorithm, EkKind, FileCa};

fn manufactured(kinds: &[EkKind]) -> (tempfile::TempDir, Tpm) {
    let dir = tempfile::tempdir().unwrap();
    let (ca, _) =
        FileCa::open_or_create(&dir.path().join("ca"), CaAlgorithm::default(), "host").unwrap();
    let (engine, _) =
        vtpm::daemon::manufacture::manufacture(&tpm::EngineConfig::default(), &ca, kinds).unwrap();
    (dir, Tpm::new(EngineTransport::new(engine)))
}

#[test]
fn enrolls_activates_and_quotes_on_the_engine() {
    let (dir, client) = manufactured(&[EkKind::Rsa2048, EkKind::EccP256]);
    let state = dir.path().join("agent");
    let mut t = AgentTpm::with_tpm(client, &state, AkKind::EccP256).unwrap();
    // ECC P-256 (L-2) is preferred when both exist.
    assert_eq!(t.ek().template.label(), "L-2");
    assert_eq!(t.ek().certificate[0], 0x30);
    let ak_name = t.ak().name.clone();
    assert!(std::fs::metadata(state.join("ak-ecc.priv")).unwrap().len() > 0);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(state.join("ak-ecc.priv"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    // A registrar: MakeCredential for this EK and AK name in another TPM.
    let mut registrar = Tpm::new(EngineTransport::new(tpm::Tpm::new(
        &tpm::EngineConfig::default(),
    )));
    registrar.startup(StartupType::Clear).unwrap();
    let ek = registrar
        .load_external_public(&t.ek().public, rh::NULL)
        .unwrap();
    let (blob, secret) = registrar
        .make_credential(ek.handle, b"0123456789abcdef0123456789abcdef", &ak_name)
        .unwrap();
    let got = t
        .activate_credential(blob.as_slice(), secret.as_slice())
        .unwrap();
    assert_eq!(got.as_slice(), b"0123456789abcdef0123456789abcdef");
    // A credential for another object name does not open.
    let (blob2, secret2) = registrar
        .make_credential(ek.handle, b"x", &t.ek().public.name().unwrap())
        .unwrap();
    assert!(t
        .activate_credential(blob2.as_slice(), secret2.as_slice())
        .is_err());

    // Quote PCRs 0..=10 (more than the 8 per PCR_Read) after an extend.
    t.client()
        .pcr_extend(7, &Auth::empty(), &[(HashAlg::Sha256, &[7u8; 32])])
        .unwrap();
    let sel = BTreeMap::from([("sha256".to_string(), (0..=10).collect::<Vec<u32>>())]);
    let q = t.quote(b"nonce-1234", &sel).unwrap();
    let values = &q.pcrs["sha256"];
    assert_eq!(values.len(), 11);
    let pcr7 = HashAlg::Sha256.digest(&[&[0u8; 32], &[7u8; 32]]);
    assert_eq!(values[&7], hex::encode(&pcr7));
    let attest = Attest2b::new(q.quote.clone()).unwrap().attest().unwrap();
    assert_eq!(attest.extra_data.as_slice(), b"nonce-1234");
    let Attested::Quote(info) = attest.attested else {
        panic!("not a quote")
    };
    let mut h = Vec::new();
    for i in 0..=10u32 {
        h.extend(hex::decode(values[&i].as_str()).unwrap());
    }
    assert_eq!(info.pcr_digest.as_slice(), HashAlg::Sha256.digest(&[&h]));
    assert!(tpm::types::Signature::from_bytes(&q.signature).is_ok());
}

#[test]
fn a_tpm_without_ek_certificate_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let bare = Tpm::new(EngineTransport::new(tpm::Tpm::new(
        &tpm::EngineConfig::default(),
    )));
    let err = AgentTpm::with_tpm(bare, dir.path(), AkKind::EccP256).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("no EK certificate in NV"), "{msg}");
    assert!(
        msg.contains("0x01C0000A") && msg.contains("0x01C00002"),
        "{msg}"
    );
}

#[test]
fn rsa_ek_and_rsa_ak() {
    let (dir, client) = manufactured(&[EkKind::Rsa2048]);
    let mut t = AgentTpm::with_tpm(client, &dir.path().join("a"), AkKind::Rsa2048).unwrap();
    assert_eq!(t.ek().template.label(), "L-1");
    let sel = BTreeMap::from([("sha256".to_string(), vec![0, 1])]);
    let q = t.quote(b"n", &sel).unwrap();
    assert!(matches!(
        tpm::types::Signature::from_bytes(&q.signature).unwrap(),
        tpm::types::Signature::Rsassa(_)
    ));
}

/// A certificate for another TPM's EK (e.g. copied from elsewhere into NV)
/// is refused: the key it certifies must be the EK this TPM derives.
#[test]
fn a_certificate_for_another_ek_is_refused() {
    let (_d1, mut a) = manufactured(&[EkKind::EccP256]);
    let (_d2, mut b) = manufactured(&[EkKind::EccP256]);
    a.startup(StartupType::Clear).unwrap();
    b.startup(StartupType::Clear).unwrap();
    let cert_a = agent::ek::read_certificate(&mut a, tpm::templates::EkTemplate::EccP256L2)
        .unwrap()
        .expect("certificate in NV");
    let ek_a = agent::ek::load(&mut a).unwrap();
    let ek_b = agent::ek::load(&mut b).unwrap();
    assert_eq!(ek_a.certificate, cert_a);
    agent::ek::check_certificate_key(&cert_a, &ek_a.public).unwrap();
    let err = agent::ek::check_certificate_key(&cert_a, &ek_b.public).unwrap_err();
    assert!(err.to_string().contains("another key"), "{err}");
    let err = agent::ek::check_certificate_key(b"\x30\x03\x02\x01\x00", &ek_a.public).unwrap_err();
    assert!(err.to_string().contains("does not parse"), "{err}");
}
