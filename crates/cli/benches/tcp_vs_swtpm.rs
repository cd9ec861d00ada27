//! TCP latency of `trustcloud tpm serve --protocol swtpm` against swtpm,
//! side by side in one run on the same machine.
//!
//! Both servers get the same PCR banks (sha1, sha256, sha384, sha512:
//! swtpm's own default) and the identical raw command bytes over their TCP
//! data ports. Requests alternate between the two servers, one at a time,
//! so background load on the machine hits both alike. The table gives p50
//! and p99 round-trip latency per command and the ratio ours / swtpm (below
//! 1.0 means we are faster).
//!
//! Run: `cargo bench -p trustcloud --bench tcp_vs_swtpm` (builds the
//! `trustcloud` binary with the bench profile). Environment:
//! `BENCH_ITERATIONS` (default 5000 per command per server) and
//! `BENCH_SECONDS` (time cap per row, default 20).

#[path = "../tests/support/mod.rs"]
mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use support::{Protocol, Server, ServerBuilder, IO_TIMEOUT};

/// swtpm's own default allocation (it manufactures without swtpm_setup).
const BANKS: &str = "sha1,sha256,sha384,sha512";

fn connect(addr: SocketAddr) -> TcpStream {
    let c = TcpStream::connect(addr).expect("connect");
    c.set_read_timeout(Some(IO_TIMEOUT)).expect("timeout");
    c.set_nodelay(true).expect("nodelay");
    c
}

/// Writes one command and reads one whole response; returns the response
/// code.
fn exchange(c: &mut TcpStream, cmd: &[u8], buf: &mut Vec<u8>) -> u32 {
    c.write_all(cmd).expect("write");
    buf.resize(10, 0);
    c.read_exact(&mut buf[..10]).expect("read header");
    let size = u32::from_be_bytes([buf[2], buf[3], buf[4], buf[5]]) as usize;
    assert!((10..=65536).contains(&size), "bad responseSize {size}");
    buf.resize(size, 0);
    c.read_exact(&mut buf[10..]).expect("read body");
    u32::from_be_bytes([buf[6], buf[7], buf[8], buf[9]])
}

fn cmd(tag: u16, cc: u32, body: &[u8]) -> Vec<u8> {
    let mut v = tag.to_be_bytes().to_vec();
    v.extend_from_slice(&(10 + body.len() as u32).to_be_bytes());
    v.extend_from_slice(&cc.to_be_bytes());
    v.extend_from_slice(body);
    v
}

fn startup() -> Vec<u8> {
    cmd(0x8001, 0x144, &[0, 0])
}

fn get_random(n: u16) -> Vec<u8> {
    cmd(0x8001, 0x17B, &n.to_be_bytes())
}

/// PCR_Extend of PCR 16 (resettable, debug) with one SHA-256 digest and an
/// empty password session.
fn pcr_extend_sha256() -> Vec<u8> {
    let mut b = 16u32.to_be_bytes().to_vec();
    b.extend_from_slice(&9u32.to_be_bytes()); // authorizationSize
    b.extend_from_slice(&0x4000_0009u32.to_be_bytes()); // TPM_RS_PW
    b.extend_from_slice(&[0, 0, 0x01, 0, 0]); // nonce, attributes, hmac
    b.extend_from_slice(&1u32.to_be_bytes());
    b.extend_from_slice(&0x000Bu16.to_be_bytes());
    b.extend_from_slice(&[0xab; 32]);
    cmd(0x8002, 0x182, &b)
}

/// PCR_Read of PCR 16 in the SHA-256 bank.
fn pcr_read_sha256() -> Vec<u8> {
    let mut b = 1u32.to_be_bytes().to_vec();
    b.extend_from_slice(&0x000Bu16.to_be_bytes());
    b.extend_from_slice(&[3, 0, 0, 0x01]);
    cmd(0x8001, 0x17E, &b)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

struct Row {
    name: String,
    n: usize,
    sw: (Duration, Duration),
    ours: (Duration, Duration),
}

/// Times `command` alternately on both servers. With `fresh` each request
/// opens its own TCP connection (what the tpm2-tss swtpm TCTI does).
fn measure(
    name: &str,
    command: &[u8],
    fresh: bool,
    servers: [&Server; 2],
    iterations: usize,
    cap: Duration,
) -> Row {
    let mut conns = servers.map(|s| connect(s.addr()));
    let mut buf = Vec::with_capacity(256);
    let warmup = (iterations / 20).clamp(10, 200);
    for _ in 0..warmup {
        for (i, s) in servers.iter().enumerate() {
            if fresh {
                conns[i] = connect(s.addr());
            }
            let rc = exchange(&mut conns[i], command, &mut buf);
            assert_eq!(rc, 0, "{name}: server {i} answered rc {rc:#x}");
        }
    }
    let mut samples = [
        Vec::with_capacity(iterations),
        Vec::with_capacity(iterations),
    ];
    let started = Instant::now();
    for _ in 0..iterations {
        for (i, s) in servers.iter().enumerate() {
            let t = Instant::now();
            if fresh {
                conns[i] = connect(s.addr());
            }
            let rc = exchange(&mut conns[i], command, &mut buf);
            samples[i].push(t.elapsed());
            assert_eq!(rc, 0, "{name}: server {i} answered rc {rc:#x}");
        }
        if started.elapsed() > cap {
            break;
        }
    }
    for s in &mut samples {
        s.sort_unstable();
    }
    Row {
        name: name.to_string(),
        n: samples[0].len(),
        sw: (percentile(&samples[0], 0.5), percentile(&samples[0], 0.99)),
        ours: (percentile(&samples[1], 0.5), percentile(&samples[1], 0.99)),
    }
}

fn env_num(key: &str, default: u64) -> u64 {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let iterations = env_num("BENCH_ITERATIONS", 5000) as usize;
    let cap = Duration::from_secs(env_num("BENCH_SECONDS", 20));

    let swtpm = ServerBuilder::swtpm().start();
    let ours = ServerBuilder::trustcloud(Protocol::Swtpm)
        .pcr_banks(BANKS)
        .start();
    let servers = [&swtpm, &ours];
    let mut buf = Vec::new();
    for (i, s) in servers.iter().enumerate() {
        let rc = exchange(&mut connect(s.addr()), &startup(), &mut buf);
        assert_eq!(rc, 0, "Startup on server {i}: rc {rc:#x}");
    }

    let rows = [
        measure(
            "GetRandom(32)",
            &get_random(32),
            false,
            servers,
            iterations,
            cap,
        ),
        measure(
            "PCR_Extend(16, sha256)",
            &pcr_extend_sha256(),
            false,
            servers,
            iterations,
            cap,
        ),
        measure(
            "PCR_Read(16, sha256)",
            &pcr_read_sha256(),
            false,
            servers,
            iterations,
            cap,
        ),
        measure(
            "GetRandom(32), new connection each",
            &get_random(32),
            true,
            servers,
            iterations / 5,
            cap,
        ),
    ];

    println!();
    println!(
        "TCP round trip, swtpm {} vs trustcloud (same machine, same banks: {BANKS})",
        swtpm_version()
    );
    println!(
        "| command | n | swtpm p50 µs | swtpm p99 µs | ours p50 µs | ours p99 µs | ours/swtpm p50 | ours/swtpm p99 |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for r in &rows {
        println!(
            "| {} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.2} | {:.2} |",
            r.name,
            r.n,
            us(r.sw.0),
            us(r.sw.1),
            us(r.ours.0),
            us(r.ours.1),
            us(r.ours.0) / us(r.sw.0).max(f64::MIN_POSITIVE),
            us(r.ours.1) / us(r.sw.1).max(f64::MIN_POSITIVE),
        );
    }
}

fn swtpm_version() -> String {
    Command::new("swtpm")
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| {
            s.split_whitespace()
                .skip_while(|w| *w != "version")
                .nth(1)
                .map(|v| v.trim_end_matches(',').to_string())
        })
        .unwrap_or_else(|| "?".into())
}
