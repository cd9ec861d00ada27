//! Write-before-acknowledge, end to end: a client runs TPM2_NV_Increment
//! in a loop against `trustcloud tpm serve` while the test kills the
//! server with SIGKILL at random moments. After every restart the counter
//! must hold at least every increment the server acknowledged (and at most
//! one more: the command in flight when it died may have been stored
//! without its response getting out). TPM 2.0 Part 1, "NV Memory": a
//! response means the state change is in NV.

mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use support::{MssimConn, Protocol, ServerBuilder};

const NV_INDEX: u32 = 0x0100_0020;

fn cmd(tag: u16, cc: u32, handles: &[u32], auth: bool, params: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&tag.to_be_bytes());
    v.extend_from_slice(&0u32.to_be_bytes());
    v.extend_from_slice(&cc.to_be_bytes());
    for h in handles {
        v.extend_from_slice(&h.to_be_bytes());
    }
    if auth {
        // One password session (TPM_RS_PW), empty password (Part 1 §19.8.4).
        v.extend_from_slice(&9u32.to_be_bytes());
        v.extend_from_slice(&0x4000_0009u32.to_be_bytes());
        v.extend_from_slice(&[0, 0, 0, 0, 0]);
    }
    v.extend_from_slice(params);
    let n = v.len() as u32;
    v[2..6].copy_from_slice(&n.to_be_bytes());
    v
}

fn rc(resp: &[u8]) -> u32 {
    u32::from_be_bytes(resp[6..10].try_into().unwrap())
}

fn startup(c: &mut MssimConn) {
    let r = c
        .transmit(0, &cmd(0x8001, 0x144, &[], false, &[0, 0]))
        .unwrap();
    assert_eq!(rc(&r), 0, "TPM2_Startup(CLEAR)");
}

fn increment_cmd() -> Vec<u8> {
    cmd(0x8002, 0x134, &[NV_INDEX, NV_INDEX], true, &[])
}

fn read_counter(c: &mut MssimConn) -> u64 {
    let r = c
        .transmit(
            0,
            &cmd(0x8002, 0x14E, &[NV_INDEX, NV_INDEX], true, &[0, 8, 0, 0]),
        )
        .unwrap();
    assert_eq!(rc(&r), 0, "TPM2_NV_Read");
    u64::from_be_bytes(r[16..24].try_into().unwrap())
}

#[test]
fn kill9_of_tpm_serve_loses_no_acknowledged_nv_increment() {
    let mut server = ServerBuilder::trustcloud(Protocol::Mssim).start();
    let mut c = MssimConn::connect(server.addr()).unwrap();
    startup(&mut c);
    // A counter index: TPM_NT_COUNTER | AUTHWRITE | AUTHREAD | NO_DA.
    let mut p = vec![0, 0];
    p.extend_from_slice(&14u16.to_be_bytes());
    p.extend_from_slice(&NV_INDEX.to_be_bytes());
    p.extend_from_slice(&0x000Bu16.to_be_bytes());
    p.extend_from_slice(&0x0204_0014u32.to_be_bytes());
    p.extend_from_slice(&[0, 0]);
    p.extend_from_slice(&8u16.to_be_bytes());
    let r = c
        .transmit(0, &cmd(0x8002, 0x12A, &[0x4000_0001], true, &p))
        .unwrap();
    assert_eq!(rc(&r), 0, "TPM2_NV_DefineSpace");
    let r = c.transmit(0, &increment_cmd()).unwrap();
    assert_eq!(rc(&r), 0, "first TPM2_NV_Increment");
    let mut durable = read_counter(&mut c);
    drop(c);

    let mut seed = u64::from(std::process::id()).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut total = 0;
    for round in 0..20 {
        let acks = Arc::new(AtomicU64::new(0));
        let acks2 = acks.clone();
        let addr = server.addr();
        let client = std::thread::spawn(move || {
            let Ok(mut c) = MssimConn::connect(addr) else {
                return;
            };
            // Until the server dies under us.
            while let Ok(r) = c.transmit(0, &increment_cmd()) {
                assert_eq!(rc(&r), 0, "TPM2_NV_Increment");
                acks2.fetch_add(1, Ordering::SeqCst);
            }
        });
        // Let a few increments through, then pull the plug.
        while acks.load(Ordering::SeqCst) < 2 && !client.is_finished() {
            std::thread::sleep(Duration::from_millis(1));
        }
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        std::thread::sleep(Duration::from_millis(seed % 120));
        server.kill();
        client.join().unwrap();
        let acked = acks.load(Ordering::SeqCst);
        assert!(acked >= 2, "round {round}: the client never got going");
        total += acked;
        server.restart();
        let mut c = MssimConn::connect(server.addr()).unwrap();
        startup(&mut c);
        let now = read_counter(&mut c);
        assert!(
            now >= durable + acked && now <= durable + acked + 1,
            "round {round}: counter was {durable}, {acked} increments were acknowledged, \
             but after kill -9 it is {now}"
        );
        durable = now;
    }
    eprintln!("20 kills, {total} acknowledged increments, counter {durable}");
}
