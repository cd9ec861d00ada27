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

mod harness;

use std::time::Duration;

use harness::{env_num, measure_command, print_table, swtpm_version, Budget, Conn};
use support::{Protocol, ServerBuilder};

/// swtpm's own default allocation (it manufactures without swtpm_setup).
const BANKS: &str = "sha1,sha256,sha384,sha512";

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

fn main() {
    let iterations = env_num("BENCH_ITERATIONS", 5000) as usize;
    let cap = Duration::from_secs(env_num("BENCH_SECONDS", 20));
    let budget = Budget::new(iterations, cap);

    let swtpm = ServerBuilder::swtpm().start();
    let ours = ServerBuilder::trustcloud(Protocol::Swtpm)
        .pcr_banks(BANKS)
        .start();
    let servers = [&swtpm, &ours];
    for (i, s) in servers.iter().enumerate() {
        let rc = Conn::open(s.addr()).exchange(&startup());
        assert_eq!(rc, 0, "Startup on server {i}: rc {rc:#x}");
    }

    let rows = [
        measure_command("GetRandom(32)", &get_random(32), false, servers, budget),
        measure_command(
            "PCR_Extend(16, sha256)",
            &pcr_extend_sha256(),
            false,
            servers,
            budget,
        ),
        measure_command(
            "PCR_Read(16, sha256)",
            &pcr_read_sha256(),
            false,
            servers,
            budget,
        ),
        measure_command(
            "GetRandom(32), new connection each",
            &get_random(32),
            true,
            servers,
            Budget::new(iterations / 5, cap),
        ),
    ];

    print_table(
        &format!(
            "TCP round trip, swtpm {} vs trustcloud (same machine, same banks: {BANKS})",
            swtpm_version()
        ),
        &rows,
    );
}
