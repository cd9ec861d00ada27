//! Our RSA key derivation (crypto::prime) against the pinned rsa 0.9.10
//! `RsaPrivateKey::new_with_exp` as the oracle: for the same random stream
//! both must give the same key — every component — and consume the same
//! number of octets. Primary keys depend on this (Part 1 §26.3; EK
//! certificates bind the EK), see also primary_golden.rs.

use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use rsa::traits::{PrivateKeyParts, PublicKeyParts};
use rsa::{BigUint, RsaPrivateKey};
use tpm::crypto::kdf::KdfRng;
use tpm::crypto::prime;
use tpm::crypto::{HashAlg, RsaKeyPair};

/// A primary-key stream for a random seed, template name and sensitive
/// data, as CreatePrimary builds it.
fn stream(case: &mut ChaCha20Rng, hash: HashAlg) -> (KdfRng, KdfRng) {
    let mut seed = [0u8; 64];
    case.fill_bytes(&mut seed);
    let mut name = vec![0u8; 2 + hash.digest_size()];
    case.fill_bytes(&mut name);
    let mut data = vec![0u8; (case.next_u32() % 33) as usize];
    case.fill_bytes(&mut data);
    (
        KdfRng::for_primary(hash, &seed, &name, &data),
        KdfRng::for_primary(hash, &seed, &name, &data),
    )
}

fn assert_same_key(ours: &RsaPrivateKey, oracle: &RsaPrivateKey, what: &str) {
    assert_eq!(ours.n(), oracle.n(), "{what}: n");
    assert_eq!(ours.e(), oracle.e(), "{what}: e");
    assert_eq!(ours.d(), oracle.d(), "{what}: d");
    assert_eq!(ours.primes(), oracle.primes(), "{what}: p, q");
    assert_eq!(ours.dp(), oracle.dp(), "{what}: dp");
    assert_eq!(ours.dq(), oracle.dq(), "{what}: dq");
    assert_eq!(ours.qinv(), oracle.qinv(), "{what}: qinv");
}

fn check(case: &mut ChaCha20Rng, hash: HashAlg, bits: usize, e: u32, what: &str) {
    let (mut a, mut b) = stream(case, hash);
    let ours = prime::generate_key(&mut a, bits, e).unwrap();
    let oracle = RsaPrivateKey::new_with_exp(&mut b, bits, &BigUint::from(e)).unwrap();
    assert_same_key(&ours, &oracle, what);
    assert_eq!(ours.n().bits(), bits);
    // The same number of octets was drawn: the streams continue alike.
    let (mut x, mut y) = ([0u8; 48], [0u8; 48]);
    a.fill_bytes(&mut x);
    b.fill_bytes(&mut y);
    assert_eq!(x, y, "{what}: stream position");
}

#[test]
fn rsa_1024_matches_rsa_crate_for_30_streams() {
    let mut case = ChaCha20Rng::from_seed([0x31; 32]);
    for i in 0..30 {
        let hash = [HashAlg::Sha256, HashAlg::Sha384, HashAlg::Sha1][i % 3];
        check(&mut case, hash, 1024, 65537, &format!("1024 #{i}"));
    }
}

#[test]
fn rsa_2048_matches_rsa_crate() {
    let mut case = ChaCha20Rng::from_seed([0x32; 32]);
    for i in 0..8 {
        check(
            &mut case,
            HashAlg::Sha256,
            2048,
            65537,
            &format!("2048 #{i}"),
        );
    }
}

#[test]
fn rsa_3072_and_4096_and_other_exponents_match() {
    let mut case = ChaCha20Rng::from_seed([0x33; 32]);
    check(&mut case, HashAlg::Sha384, 3072, 65537, "3072");
    check(&mut case, HashAlg::Sha512, 4096, 65537, "4096");
    // Prime exponents other than 65537 (templates may ask for them).
    for (i, e) in [65539u32, 100_003, 2_147_483_647].into_iter().enumerate() {
        check(&mut case, HashAlg::Sha256, 1024, e, &format!("e={e} #{i}"));
    }
}

/// The public RsaKeyPair API derives the same key as the oracle, and its
/// stored prime is the oracle's first prime.
#[test]
fn key_pair_generate_matches_oracle() {
    let mut case = ChaCha20Rng::from_seed([0x34; 32]);
    let (mut a, mut b) = stream(&mut case, HashAlg::Sha256);
    let pair = RsaKeyPair::generate(&mut a, 2048, 0).unwrap();
    let oracle = RsaPrivateKey::new_with_exp(&mut b, 2048, &BigUint::from(65537u32)).unwrap();
    assert_eq!(pair.public().modulus(), oracle.n().to_bytes_be());
    assert_eq!(pair.public().exponent(), 65537);
    assert_eq!(pair.prime().to_vec(), oracle.primes()[0].to_bytes_be());
}

/// Exhaustive-rejection edge: sizes the fixed-width search does not cover
/// are refused, not silently generated differently.
#[test]
fn unsupported_sizes_are_refused() {
    let mut r = ChaCha20Rng::from_seed([0x35; 32]);
    assert!(prime::gen_prime(&mut r, 64).is_none());
    assert!(prime::gen_prime(&mut r, 2049).is_none());
    assert!(prime::generate_key(&mut r, 8192, 65537).is_err());
}
