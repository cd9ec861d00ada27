//! Software MakeCredential proven against the engine: the credential the
//! registrar makes from the EK's public area and the AK's Name is
//! recovered by TPM2_ActivateCredential in our TPM (RSA and ECC EKs), and
//! refused for another AK.

mod common;

use attest::credential::{
    activation_proof, make_credential, verify_activation_proof, CredentialError,
};
use tpm::constants::rh;
use tpm::crypto::HashAlg;
use tpm::types::{EncryptedSecret2b, IdObject2b, Public};
use tpmclient::Auth;

fn activate(
    sim: &mut common::Sim,
    ek: &tpmclient::CreatedPrimary,
    ak: u32,
    blob: &[u8],
    secret: &[u8],
) -> tpmclient::Result<Vec<u8>> {
    let s = sim.tpm.start_policy_session(HashAlg::Sha256).unwrap();
    sim.tpm
        .policy_secret(s, rh::ENDORSEMENT, &Auth::empty())
        .unwrap();
    sim.tpm
        .activate_credential(
            ak,
            &Auth::empty(),
            ek.handle,
            &Auth::session(s).end_session(),
            &IdObject2b::new(blob.to_vec()).unwrap(),
            &EncryptedSecret2b::new(secret.to_vec()).unwrap(),
        )
        .map(|z| z.to_vec())
}

fn check(template: Public, seed: u8) {
    let mut sim = common::Sim::new(seed);
    let ek = sim
        .tpm
        .create_primary(
            rh::ENDORSEMENT,
            &Auth::empty(),
            &template,
            &Default::default(),
        )
        .unwrap();
    let ak_name = sim.ak.name().unwrap();
    let secret = b"registrar-secret-0123456789abcd!";
    let (blob, enc) = make_credential(
        &ek.public,
        ak_name.as_bytes(),
        secret,
        &mut rand_core::OsRng,
    )
    .unwrap();
    let akh = sim.ak_handle;
    let got = activate(&mut sim, &ek, akh, &blob, &enc).unwrap();
    assert_eq!(got, secret);

    // Made for another AK's Name: the TPM refuses (integrity check).
    let other = common::Sim::with_ak(seed.wrapping_add(100), tpmclient::templates::ak_rsa2048());
    let (blob, enc) = make_credential(
        &ek.public,
        other.ak.name().unwrap().as_bytes(),
        secret,
        &mut rand_core::OsRng,
    )
    .unwrap();
    assert!(activate(&mut sim, &ek, akh, &blob, &enc).is_err());

    // The protocol's proof binds the secret, the agent id and the AK.
    let proof = activation_proof(secret, "node-1", ak_name.as_bytes());
    assert!(verify_activation_proof(
        secret,
        "node-1",
        ak_name.as_bytes(),
        &proof
    ));
    assert!(!verify_activation_proof(
        secret,
        "node-2",
        ak_name.as_bytes(),
        &proof
    ));
}

#[test]
fn rsa_ek_credential_is_activated_by_the_engine() {
    check(tpm::templates::ek_rsa2048_l1(), 21);
}

#[test]
fn ecc_ek_credential_is_activated_by_the_engine() {
    check(tpm::templates::ek_ecc_p256_l2(), 22);
}

#[test]
fn refuses_signing_keys_and_oversized_secrets() {
    let sim = common::Sim::new(23);
    assert_eq!(
        make_credential(&sim.ak, b"name", b"s", &mut rand_core::OsRng),
        Err(CredentialError::NotAStorageKey)
    );
    let mut sim = common::Sim::new(24);
    let ek = sim
        .tpm
        .create_primary(
            rh::ENDORSEMENT,
            &Auth::empty(),
            &tpm::templates::ek_ecc_p256_l2(),
            &Default::default(),
        )
        .unwrap();
    assert_eq!(
        make_credential(&ek.public, b"name", &[0; 33], &mut rand_core::OsRng),
        Err(CredentialError::TooLong { len: 33, max: 32 })
    );
}
