//! Inversion modulo the P-256 group order n, per inversion: our
//! variable-time safegcd (`tpm::crypto::p256::scalar_inverse`) against the
//! p256 crate's variable-time and constant-time `Scalar` inversions, over
//! the same 256 random scalars (each iteration inverts all 256; criterion
//! reports the time for 256, and the throughput in inversions per second).
//!
//! Why this bench: ECDSA verification (s⁻¹) and signing (blinded k⁻¹)
//! each need one inversion mod n; this shows what the replacement buys.
//!
//! Run: `cargo bench -p tpm --bench p256_inverse`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use p256::elliptic_curve::ops::Invert;
use p256::elliptic_curve::{Field, PrimeField};
use p256::Scalar;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use tpm::crypto::p256::limbs::{self, Limbs};
use tpm::crypto::p256::scalar_inverse::invert_mod_n_vartime;

const COUNT: usize = 256;

/// n, least significant limb first.
const N: Limbs = [
    0xf3b9_cac2_fc63_2551,
    0xbce6_faad_a717_9e84,
    0xffff_ffff_ffff_ffff,
    0xffff_ffff_0000_0000,
];

/// Baseline: the binary extended GCD that `attest::ecdsa_p256::scalar::invert`
/// uses today (same algorithm, restated here since it is private there).
fn binary_gcd_invert(a: &Limbs) -> Option<Limbs> {
    const ONE: Limbs = [1, 0, 0, 0];
    let half_mod_n = |x: &Limbs| {
        if x[0] & 1 == 0 {
            limbs::half(x, false)
        } else {
            let (sum, carry) = limbs::add(x, &N);
            limbs::half(&sum, carry)
        }
    };
    let sub_mod_n = |a: &Limbs, b: &Limbs| {
        let (d, borrow) = limbs::sub(a, b);
        if borrow {
            limbs::add(&d, &N).0
        } else {
            d
        }
    };
    if limbs::is_zero(a) || !limbs::lt(a, &N) {
        return None;
    }
    let (mut u, mut v) = (*a, N);
    let (mut x1, mut x2) = (ONE, [0u64; 4]);
    for _ in 0..=512 {
        if u == ONE {
            return Some(x1);
        }
        if v == ONE {
            return Some(x2);
        }
        while u[0] & 1 == 0 {
            u = limbs::half(&u, false);
            x1 = half_mod_n(&x1);
        }
        while v[0] & 1 == 0 {
            v = limbs::half(&v, false);
            x2 = half_mod_n(&x2);
        }
        if limbs::lt(&u, &v) {
            v = limbs::sub(&v, &u).0;
            x2 = sub_mod_n(&x2, &x1);
        } else {
            u = limbs::sub(&u, &v).0;
            x1 = sub_mod_n(&x1, &x2);
        }
    }
    None
}

/// 256 uniformly random nonzero scalars, as p256 values and as limbs.
fn inputs() -> Vec<(Scalar, Limbs)> {
    let mut rng = ChaCha20Rng::seed_from_u64(0x05af_e6cd);
    (0..COUNT)
        .map(|_| {
            let s = Scalar::random(&mut rng);
            let l = limbs::from_be(&s.to_repr()).unwrap_or_default();
            (s, l)
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let xs = inputs();
    // The baseline must compute the same thing, or its timing means nothing.
    for (_, l) in &xs {
        assert_eq!(binary_gcd_invert(l), invert_mod_n_vartime(l));
    }
    let mut g = c.benchmark_group("p256_inverse_mod_n");
    g.throughput(Throughput::Elements(COUNT as u64));
    g.bench_function("safegcd_vartime (ours)", |b| {
        b.iter(|| {
            for (_, l) in &xs {
                black_box(invert_mod_n_vartime(black_box(l)));
            }
        })
    });
    g.bench_function("binary GCD (attest today)", |b| {
        b.iter(|| {
            for (_, l) in &xs {
                black_box(binary_gcd_invert(black_box(l)));
            }
        })
    });
    g.bench_function("p256 Scalar::invert_vartime", |b| {
        b.iter(|| {
            for (s, _) in &xs {
                black_box(black_box(s).invert_vartime());
            }
        })
    });
    g.bench_function("p256 Scalar::invert (constant time)", |b| {
        b.iter(|| {
            for (s, _) in &xs {
                black_box(Field::invert(black_box(s)));
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
