//! Golden values of derived primary keys. An EK's certificate binds its
//! public key, and the EK is re-derived from the endorsement seed each
//! time it is created, so the derivation (KDFa-seeded DRBG feeding the
//! pinned `rsa` crate's prime search, and ECC scalar derivation) must never
//! change for a given seed and template. If this test fails after a
//! dependency update, the update changed every EK in the field: revert it.

mod common;

use common::*;
use tpm::constants::{cc, rh};
use tpm::crypto::{Drbg, HashAlg};
use tpm::templates::{ek_ecc_p256_l2, ek_rsa2048_l1};
use tpm::types::{Public, Public2b};
use tpm::wire::Codec;
use tpm::{EngineConfig, Tpm};

struct Zero;
impl tpm::TimeSource for Zero {
    fn now_ms(&self) -> u64 {
        0
    }
}

/// CreatePrimary(endorsement, template) on a TPM manufactured from a fixed
/// seed; returns the SHA-256 of the returned public area.
fn derived_public_digest(template: Public) -> String {
    let mut t = Tpm::manufacture(
        &EngineConfig::default(),
        Drbg::new([0x5a; 32]),
        Box::new(Zero),
    );
    startup_clear(&mut t);
    let mut sensitive = Vec::new();
    sensitive.extend_from_slice(&4u16.to_be_bytes());
    sensitive.extend_from_slice(&[0, 0, 0, 0]);
    let r = Cmd::new(cc::CREATE_PRIMARY)
        .handle(rh::ENDORSEMENT)
        .pw(&[])
        .bytes(&sensitive)
        .bytes(&Public2b(template).to_bytes())
        .tpm2b(&[])
        .u32(0)
        .run(&mut t, 0);
    r.expect_ok();
    let mut rd = Rd::new(&r.body);
    let _handle = rd.u32();
    let _param_size = rd.u32();
    let public = rd.tpm2b();
    hex::encode(HashAlg::Sha256.digest(&[&public]))
}

#[test]
fn rsa_ek_derivation_is_stable() {
    assert_eq!(derived_public_digest(ek_rsa2048_l1()), RSA_EK_GOLDEN);
}

#[test]
fn ecc_ek_derivation_is_stable() {
    assert_eq!(derived_public_digest(ek_ecc_p256_l2()), ECC_EK_GOLDEN);
}

const RSA_EK_GOLDEN: &str = "67e180c087713d1db81d07bf46b764ff9a38e91ea39b7fbdbf1824f3dce36710";
const ECC_EK_GOLDEN: &str = "7c99c4e25e5a9f1da9d5ebcf5fb29d2027c09f3bd77c34bef4f5cbc81647b10d";

/// CreatePrimary(endorsement, RSA EK template) on `t`: the public area.
fn create_rsa_ek(t: &mut Tpm) -> Vec<u8> {
    let mut sensitive = Vec::new();
    sensitive.extend_from_slice(&4u16.to_be_bytes());
    sensitive.extend_from_slice(&[0, 0, 0, 0]);
    let r = Cmd::new(cc::CREATE_PRIMARY)
        .handle(rh::ENDORSEMENT)
        .pw(&[])
        .bytes(&sensitive)
        .bytes(&Public2b(ek_rsa2048_l1()).to_bytes())
        .tpm2b(&[])
        .u32(0)
        .run(t, 0);
    r.expect_ok();
    let mut rd = Rd::new(&r.body);
    let handle = rd.u32();
    let _param_size = rd.u32();
    let public = rd.tpm2b();
    Cmd::new(cc::FLUSH_CONTEXT)
        .u32(handle)
        .run(t, 0)
        .expect_ok();
    public
}

/// Re-creating a primary (remembered after its first derivation) gives the
/// same key, and a new endorsement seed (TPM2_ChangeEPS) a new one: the
/// remembered derivation is keyed by the seed, never reused across it.
#[test]
fn repeated_rsa_primary_is_the_same_key_until_the_seed_changes() {
    let mut t = Tpm::manufacture(
        &EngineConfig::default(),
        Drbg::new([0x77; 32]),
        Box::new(Zero),
    );
    startup_clear(&mut t);
    let first = create_rsa_ek(&mut t);
    assert_eq!(create_rsa_ek(&mut t), first);
    // Across a power cycle through the state blob, derived afresh.
    let blob = t.state_blob();
    let mut t2 = Tpm::from_state(&blob, Drbg::new([0x78; 32]), Box::new(Zero)).unwrap();
    startup_clear(&mut t2);
    assert_eq!(create_rsa_ek(&mut t2), first);
    Cmd::new(cc::CHANGE_EPS)
        .handle(rh::PLATFORM)
        .pw(&[])
        .run(&mut t, 0)
        .expect_ok();
    assert_ne!(create_rsa_ek(&mut t), first, "a new EPS derives a new EK");
}
