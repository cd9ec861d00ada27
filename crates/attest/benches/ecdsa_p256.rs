//! ECDSA P-256 verification of quotes: ring (the anchor; constant-time
//! u₂·Q from scratch per signature) against `attest::ecdsa_p256` (comb
//! tables for G and the AK, built once per AK), same keys and signatures.
//! Prints µs per verification for each and the ratio, and what building
//! one AK's table costs. Two sizes: 64 keys (every table in the caches)
//! and 8,192 keys (32 MiB of tables, each used once per pass, as a
//! verifier with thousands of agents uses them).

use std::hint::black_box;
use std::time::Instant;

use attest::ecdsa_p256::P256Verifier;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use sha2::{Digest, Sha256};

struct Case {
    sec1: Vec<u8>,
    ours: P256Verifier,
    message: Vec<u8>,
    digest: [u8; 32],
    sig: Vec<u8>,
}

fn main() {
    run(64, 100);
    run(8192, 3);
}

fn run(keys: usize, rounds: usize) {
    let cases: Vec<Case> = (0..keys)
        .map(|i| {
            let mut seed = [0u8; 32];
            seed[..8].copy_from_slice(&(i as u64 + 1).to_be_bytes());
            let sk = SigningKey::from_bytes(&seed.into()).expect("key");
            let q = sk.verifying_key().to_encoded_point(false);
            let message = format!("TPMS_ATTEST of quote {i}").into_bytes();
            let sig: Signature = sk.sign(&message);
            Case {
                sec1: q.as_bytes().to_vec(),
                ours: P256Verifier::new(q.x().expect("x"), q.y().expect("y")).expect("on curve"),
                digest: Sha256::digest(&message).into(),
                message,
                sig: sig.to_bytes().to_vec(),
            }
        })
        .collect();
    let n = (keys * rounds) as f64;

    let t = Instant::now();
    for _ in 0..rounds {
        for c in &cases {
            let key = ring::signature::UnparsedPublicKey::new(
                &ring::signature::ECDSA_P256_SHA256_FIXED,
                &c.sec1,
            );
            assert!(key.verify(black_box(&c.message), &c.sig).is_ok());
        }
    }
    let ring_us = t.elapsed().as_secs_f64() * 1e6 / n;

    let t = Instant::now();
    for _ in 0..rounds {
        for c in &cases {
            // The digest is part of the work: ring hashes the message too.
            let digest: [u8; 32] = Sha256::digest(black_box(&c.message)).into();
            assert_eq!(digest, c.digest);
            let (r, s) = c.sig.split_at(32);
            assert!(c.ours.verify(&digest, r, s));
        }
    }
    let ours_us = t.elapsed().as_secs_f64() * 1e6 / n;

    let t = Instant::now();
    for c in cases.iter().take(64) {
        let q = &c.sec1[1..];
        black_box(P256Verifier::new(&q[..32], &q[32..]).expect("on curve"));
    }
    let build_us = t.elapsed().as_secs_f64() * 1e6 / keys.min(64) as f64;

    println!("ECDSA P-256 + SHA-256 verify, {keys} keys x {rounds} rounds:");
    println!("  ring (anchor)        {ring_us:8.1} us/verify");
    println!(
        "  attest::ecdsa_p256   {ours_us:8.1} us/verify  ({:.2}x ring's speed)",
        ring_us / ours_us
    );
    println!("  per-AK table build   {build_us:8.1} us (once per AK; 4 KiB)");
}
