//! In-process cost of single commands through [`tpm::Tpm::execute`]: the
//! whole path (header and authorization parsing, the command, response
//! marshalling) without any transport.
//!
//! Run: `cargo bench -p tpm --bench engine`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tpm::{EngineConfig, Tpm};

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

criterion_group!(benches, engine);
criterion_main!(benches);
