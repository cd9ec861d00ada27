//! In-process cost of single commands through [`tpm::Tpm::execute`]: the
//! whole path (header and authorization parsing, the command, response
//! marshalling) without any transport.
//!
//! The `keys` group times the key commands of issue 3 with the same
//! command bytes as the TCP bench against swtpm (`commands`): Quote with
//! an ECDSA P-256 attestation key, Sign (ECDSA P-256, RSASSA-2048) and
//! CreatePrimary (ECC P-256 storage key, RSA-2048 EK).
//!
//! Run: `cargo bench -p tpm --bench engine` (about two minutes; the
//! RSA-2048 CreatePrimary dominates).

mod commands;

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use tpm::constants::rh;
use tpm::types::Public;
use tpm::{EngineConfig, Tpm};

use commands as c;

fn cmd(tag: u16, cc: u32, body: &[u8]) -> Vec<u8> {
    let mut v = tag.to_be_bytes().to_vec();
    v.extend_from_slice(&(10 + body.len() as u32).to_be_bytes());
    v.extend_from_slice(&cc.to_be_bytes());
    v.extend_from_slice(body);
    v
}

/// An empty password session (TPM_RS_PW) as the whole authorization area.
fn pw_area() -> Vec<u8> {
    let mut v = 9u32.to_be_bytes().to_vec();
    v.extend_from_slice(&0x4000_0009u32.to_be_bytes());
    v.extend_from_slice(&[0, 0, 0x01, 0, 0]);
    v
}

fn pcr_extend_sha256(pcr: u32) -> Vec<u8> {
    let mut b = pcr.to_be_bytes().to_vec();
    b.extend(pw_area());
    b.extend_from_slice(&1u32.to_be_bytes());
    b.extend_from_slice(&0x000Bu16.to_be_bytes());
    b.extend_from_slice(&[0xab; 32]);
    cmd(0x8002, 0x182, &b)
}

fn pcr_read_sha256(pcr: u32) -> Vec<u8> {
    let mut b = 1u32.to_be_bytes().to_vec();
    b.extend_from_slice(&0x000Bu16.to_be_bytes());
    let mut sel = [0u8; 3];
    sel[(pcr / 8) as usize] = 1 << (pcr % 8);
    b.push(3);
    b.extend_from_slice(&sel);
    cmd(0x8001, 0x17E, &b)
}

fn get_random(n: u16) -> Vec<u8> {
    cmd(0x8001, 0x17B, &n.to_be_bytes())
}

/// TPM2_Hash of 1 KiB with SHA-256, hierarchy TPM_RH_NULL (no ticket HMAC).
fn hash_1k_sha256() -> Vec<u8> {
    let mut b = 1024u16.to_be_bytes().to_vec();
    b.extend_from_slice(&[0x5a; 1024]);
    b.extend_from_slice(&0x000Bu16.to_be_bytes());
    b.extend_from_slice(&0x4000_0007u32.to_be_bytes());
    cmd(0x8001, 0x17D, &b)
}

fn rc(resp: &[u8]) -> u32 {
    u32::from_be_bytes([resp[6], resp[7], resp[8], resp[9]])
}

/// A TPM with the default banks after Startup(CLEAR). Every benchmarked
/// command is checked once to succeed, so a stubbed or failing command
/// cannot pass for a fast one.
fn started(commands: &[&[u8]]) -> Tpm {
    let mut tpm = Tpm::new(&EngineConfig::default());
    let r = tpm.execute(0, &cmd(0x8001, 0x144, &[0, 0]));
    assert_eq!(rc(&r), 0, "Startup failed: {r:02x?}");
    for c in commands {
        let r = tpm.execute(0, c);
        assert_eq!(rc(&r), 0, "command {c:02x?} failed: {r:02x?}");
    }
    tpm
}

fn engine(c: &mut Criterion) {
    let extend = pcr_extend_sha256(16);
    let read = pcr_read_sha256(16);
    let random = get_random(32);
    let hash = hash_1k_sha256();
    let mut tpm = started(&[&extend, &read, &random, &hash]);

    let mut g = c.benchmark_group("execute");
    g.bench_function("PCR_Extend(16, sha256)", |b| {
        b.iter(|| black_box(tpm.execute(0, black_box(&extend))))
    });
    g.bench_function("PCR_Read(16, sha256)", |b| {
        b.iter(|| black_box(tpm.execute(0, black_box(&read))))
    });
    g.bench_function("GetRandom(32)", |b| {
        b.iter(|| black_box(tpm.execute(0, black_box(&random))))
    });
    g.throughput(Throughput::Bytes(1024));
    g.bench_function("Hash(1 KiB, sha256)", |b| {
        b.iter(|| black_box(tpm.execute(0, black_box(&hash))))
    });
    g.finish();
}

/// Runs a command that must succeed; returns the response. TPM_RC_RETRY
/// is resubmitted once: like libtpms, the engine answers it to the first
/// authorization of a DA-protected object after Startup, while it records
/// that DA is in use.
fn call(tpm: &mut Tpm, cmd: &[u8]) -> Vec<u8> {
    let mut r = tpm.execute(0, cmd);
    if rc(&r) == 0x922 {
        r = tpm.execute(0, cmd);
    }
    assert_eq!(rc(&r), 0, "command {cmd:02x?} failed: {r:02x?}");
    r
}

/// Loads a key from `template` under a storage primary key (flushed
/// again, as the TCP bench does for swtpm's three object slots).
fn load_under_srk(tpm: &mut Tpm, template: &Public) -> u32 {
    let srk = c::out_handle(&call(
        tpm,
        &c::create_primary(rh::OWNER, &c::srk_ecc_p256()),
    ));
    let (private, public) = c::created(&call(tpm, &c::create(srk, c::pw(), template)));
    let key = c::out_handle(&call(tpm, &c::load(srk, c::pw(), &private, &public)));
    call(tpm, &c::flush_context(srk));
    key
}

/// Times CreatePrimary alone (the FlushContext after each is outside the
/// measured span), with a new unique field each time
/// ([`c::with_round`]): every iteration derives a different key, so the
/// figure is an average over keys rather than one key's prime search.
fn bench_create_primary<'a>(
    tpm: &'a mut Tpm,
    hierarchy: u32,
    template: &'a Public,
) -> impl FnMut(u64) -> Duration + 'a {
    let mut round = 0u32;
    move |iters| {
        let mut total = Duration::ZERO;
        for _ in 0..iters {
            let cmd = c::create_primary(hierarchy, &c::with_round(template, round));
            round = round.wrapping_add(1);
            let start = Instant::now();
            let r = tpm.execute(0, black_box(&cmd));
            total += start.elapsed();
            let h = c::out_handle(&r);
            call(tpm, &c::flush_context(h));
        }
        total
    }
}

/// Builds a command for the key with this handle.
type BuildCommand = fn(u32) -> Vec<u8>;

fn keys(crit: &mut Criterion) {
    let mut tpm = started(&[]);
    let mut g = crit.benchmark_group("keys");
    // One key loaded at a time: the engine has three object slots, as
    // libtpms.
    let keyed: [(&str, Public, BuildCommand); 3] = [
        (
            "Quote(ECDSA P-256 AK, sha256 PCRs 0-23)",
            c::ak_ecc_p256(),
            |k| c::quote(k, b"in-process quote nonce", &c::sha256_pcrs()),
        ),
        ("Sign(ECDSA P-256, SHA-256)", c::signer_ecc_p256(), |k| {
            c::sign(k, &[0x3c; 32])
        }),
        (
            "Sign(RSASSA RSA-2048, SHA-256)",
            c::signer_rsa_2048(),
            |k| c::sign(k, &[0x3c; 32]),
        ),
    ];
    for (name, template, build) in keyed {
        let key = load_under_srk(&mut tpm, &template);
        let cmd = build(key);
        call(&mut tpm, &cmd);
        g.bench_function(name, |b| {
            b.iter(|| black_box(tpm.execute(0, black_box(&cmd))))
        });
        call(&mut tpm, &c::flush_context(key));
    }
    let srk = c::srk_ecc_p256();
    g.bench_function("CreatePrimary(ECC P-256 storage key)", |b| {
        b.iter_custom(bench_create_primary(&mut tpm, rh::OWNER, &srk))
    });
    // Load of an ECDSA P-256 key under the ECC SRK: dominated by the
    // private/public binding check (d·G against the public point).
    let srk_handle = c::out_handle(&call(&mut tpm, &c::create_primary(rh::OWNER, &srk)));
    let (private, public) = c::created(&call(
        &mut tpm,
        &c::create(srk_handle, c::pw(), &c::signer_ecc_p256()),
    ));
    let load = c::load(srk_handle, c::pw(), &private, &public);
    g.bench_function("Load(ECDSA P-256 key under ECC SRK)", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let start = Instant::now();
                let r = tpm.execute(0, black_box(&load));
                total += start.elapsed();
                call(&mut tpm, &c::flush_context(c::out_handle(&r)));
            }
            total
        })
    });
    call(&mut tpm, &c::flush_context(srk_handle));
    g.finish();

    // RSA key generation takes a few hundred milliseconds: single runs,
    // at least ten.
    let mut g = crit.benchmark_group("keys-rsa-keygen");
    g.sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(20));
    let ek = c::ek_rsa_2048();
    g.bench_function("CreatePrimary(RSA-2048 EK, template L-1)", |b| {
        b.iter_custom(bench_create_primary(&mut tpm, rh::ENDORSEMENT, &ek))
    });
    // The derivation alone, ours against the rsa crate's search it
    // replaces (same streams, same keys: tests/rsa_derivation.rs).
    g.bench_function("RSA-2048 derivation, crypto::prime", |b| {
        b.iter_custom(bench_rsa_derivation(|r| {
            tpm::crypto::prime::generate_key(r, 2048, 65537).is_ok()
        }))
    });
    g.bench_function(
        "RSA-2048 derivation, rsa::RsaPrivateKey::new_with_exp",
        |b| {
            b.iter_custom(bench_rsa_derivation(|r| {
                rsa::RsaPrivateKey::new_with_exp(r, 2048, &rsa::BigUint::from(65537u32)).is_ok()
            }))
        },
    );
    g.finish();
}

/// Times `derive` on a fresh primary-key stream per iteration (a different
/// seed each time, so each run finds different primes).
fn bench_rsa_derivation(
    derive: impl Fn(&mut tpm::crypto::KdfRng) -> bool,
) -> impl FnMut(u64) -> Duration {
    let mut round = 0u32;
    move |iters| {
        let mut total = Duration::ZERO;
        for _ in 0..iters {
            let mut seed = [0x5au8; 64];
            seed[..4].copy_from_slice(&round.to_be_bytes());
            round = round.wrapping_add(1);
            let mut r = tpm::crypto::KdfRng::for_primary(
                tpm::crypto::HashAlg::Sha256,
                &seed,
                b"bench template",
                b"",
            );
            let start = Instant::now();
            assert!(derive(black_box(&mut r)));
            total += start.elapsed();
        }
        total
    }
}

/// The Montgomery arithmetic under the RSA prime search (crypto::prime),
/// on a 1024-bit modulus: one product, one square, one full-size
/// exponentiation (what each Miller–Rabin round costs).
fn montgomery(crit: &mut Criterion) {
    use tpm::crypto::prime::Mont;
    let mut n = [0x9e37_79b9_7f4a_7c15u64; 16];
    n[0] |= 1;
    n[15] |= 1 << 63;
    let Some(m) = Mont::new(&n) else { return };
    let a = m.to_mont(&[0x1234_5678_9abc_def0u64; 16]);
    let b = m.to_mont(&[0x0fed_cba9_8765_4321u64; 16]);
    let mut g = crit.benchmark_group("keys-rsa-montgomery");
    g.bench_function("mul 1024", |bch| bch.iter(|| m.mul(black_box(&a), &b)));
    g.bench_function("square 1024", |bch| bch.iter(|| m.square(black_box(&a))));
    g.bench_function("pow 1024-bit exponent", |bch| {
        bch.iter(|| m.pow(black_box(&a), &n))
    });
    g.bench_function("pow2 1024-bit exponent", |bch| {
        bch.iter(|| m.pow2(black_box(&n)))
    });
    // The other sizes with an x86-64 assembly square: the primes of
    // RSA-3072 (1536 bits) and the RSA-2048 public operation (2048 bits).
    let mut n24 = [0x9e37_79b9_7f4a_7c15u64; 24];
    n24[0] |= 1;
    n24[23] |= 1 << 63;
    if let Some(m24) = Mont::new(&n24) {
        let a24 = m24.to_mont(&[0x1234_5678_9abc_def0u64; 24]);
        g.bench_function("square 1536", |bch| {
            bch.iter(|| m24.square(black_box(&a24)))
        });
    }
    let mut n32 = [0x9e37_79b9_7f4a_7c15u64; 32];
    n32[0] |= 1;
    n32[31] |= 1 << 63;
    if let Some(m32) = Mont::new(&n32) {
        let a32 = m32.to_mont(&[0x1234_5678_9abc_def0u64; 32]);
        g.bench_function("square 2048", |bch| {
            bch.iter(|| m32.square(black_box(&a32)))
        });
    }
    g.finish();
}

/// d·G alone, through the public key constructor (scalar check, the
/// fixed-base multiply of `crypto::fixed_base` or, for P-256,
/// `crypto::p256::generator`, one inversion, encoding),
/// next to the curve crate's generic `mul_by_generator` for comparison.
fn ecc_fixed_base(crit: &mut Criterion) {
    use p256::elliptic_curve::ops::MulByGenerator;
    use tpm::crypto::{EccCurve, EccKeyPair};
    let mut g = crit.benchmark_group("ecc-fixed-base");
    for curve in EccCurve::ALL {
        let d = vec![0x5a; curve.size()];
        // First use builds the table; keep that out of the measurement.
        EccKeyPair::from_private(curve, &d).unwrap();
        g.bench_function(format!("EccKeyPair::from_private({curve:?})"), |b| {
            b.iter(|| EccKeyPair::from_private(curve, black_box(&d)).unwrap())
        });
    }
    // A full-width scalar (n − small).
    let k = -p256::Scalar::from(0x5a5a_5a5a_5a5a_5a5au64);
    let k_be: [u8; 32] = p256::elliptic_curve::PrimeField::to_repr(&k).into();
    tpm::crypto::p256::generator::mul_generator(&k_be).unwrap();
    g.bench_function("p256 k·G affine, ours (crypto::p256::generator)", |b| {
        b.iter(|| tpm::crypto::p256::generator::mul_generator(black_box(&k_be)).unwrap())
    });
    // ECDSA signing's form: the inversion blinded by a random factor.
    let blind: [u8; 32] =
        p256::elliptic_curve::PrimeField::to_repr(&-p256::Scalar::from(0x0123_4567_89ab_cdefu64))
            .into();
    g.bench_function("p256 k·G affine, ours, blinded inversion", |b| {
        b.iter(|| {
            tpm::crypto::p256::generator::mul_generator_blinded(black_box(&k_be), &blind).unwrap()
        })
    });
    // As in a daemon with thousands of instances or agents, where the
    // table is out of the caches at each signature: 16 MiB streamed
    // through the caches first (not timed).
    let mut evict = vec![0u64; 2 << 20];
    g.bench_function("p256 k·G affine, ours, caches evicted first", |b| {
        b.iter_batched(
            || {
                for (i, v) in evict.iter_mut().enumerate() {
                    *v = v.wrapping_add(i as u64);
                }
            },
            |()| tpm::crypto::p256::generator::mul_generator(black_box(&k_be)).unwrap(),
            criterion::BatchSize::PerIteration,
        )
    });
    g.bench_function("p256 mul_by_generator + to_affine (generic)", |b| {
        b.iter(|| p256::ProjectivePoint::mul_by_generator(black_box(&k)).to_affine())
    });
    let k = -p384::Scalar::from(0x5a5a_5a5a_5a5a_5a5au64);
    g.bench_function("p384 mul_by_generator + to_affine (generic)", |b| {
        b.iter(|| p384::ProjectivePoint::mul_by_generator(black_box(&k)).to_affine())
    });
    let k = -sm2::Scalar::from(0x5a5a_5a5a_5a5a_5a5au64);
    g.bench_function("sm2 mul_by_generator + to_affine (generic)", |b| {
        b.iter(|| sm2::ProjectivePoint::mul_by_generator(black_box(&k)).to_affine())
    });
    g.finish();
}

criterion_group!(benches, engine, keys, montgomery, ecc_fixed_base);
criterion_main!(benches);
