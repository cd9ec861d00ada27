//! Arbitrary command sequences through the engine. Each frame picks a real
//! command code and tag so the fuzzer spends its time past the header
//! checks, in handle, session and parameter processing; a few frames are
//! passed through raw so header parsing is covered too. Every frame must
//! get a well-formed response, and a state blob taken at any point must
//! load back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tpm::crypto::Drbg;
use tpm::{EngineConfig, TimeSource, Tpm};

struct Fixed(std::sync::Arc<std::sync::atomic::AtomicU64>);
impl TimeSource for Fixed {
    fn now_ms(&self) -> u64 {
        self.0.load(std::sync::atomic::Ordering::Relaxed)
    }
}

const STARTUP_CLEAR: [u8; 12] = [0x80, 0x01, 0, 0, 0, 12, 0, 0, 0x01, 0x44, 0, 0];

/// Command codes worth reaching: every command of TPM 2.0 Part 3 that the
/// engine may implement (unimplemented ones exercise the refusal path).
const CODES: &[u32] = &[
    0x11F, 0x120, 0x121, 0x122, 0x124, 0x125, 0x126, 0x127, 0x128, 0x129, 0x12A, 0x12B, 0x12C,
    0x12D, 0x12E, 0x130, 0x131, 0x132, 0x133, 0x134, 0x135, 0x136, 0x137, 0x138, 0x139, 0x13A,
    0x13B, 0x13C, 0x13D, 0x13E, 0x13F, 0x140, 0x142, 0x143, 0x144, 0x145, 0x146, 0x147, 0x148,
    0x149, 0x14A, 0x14B, 0x14C, 0x14D, 0x14E, 0x14F, 0x150, 0x151, 0x152, 0x153, 0x154, 0x155,
    0x156, 0x157, 0x158, 0x159, 0x15B, 0x15C, 0x15D, 0x15E, 0x160, 0x161, 0x162, 0x163, 0x164,
    0x165, 0x167, 0x168, 0x169, 0x16A, 0x16B, 0x16C, 0x16D, 0x16E, 0x16F, 0x170, 0x171, 0x172,
    0x173, 0x174, 0x176, 0x177, 0x178, 0x17A, 0x17B, 0x17C, 0x17D, 0x17E, 0x17F, 0x180, 0x181,
    0x182, 0x183, 0x184, 0x185, 0x186, 0x187, 0x188, 0x189, 0x18A, 0x18B, 0x18C, 0x18F, 0x190,
    0x191, 0x192, 0x193,
];

fuzz_target!(|data: &[u8]| {
    let clock = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let cfg = EngineConfig {
        pcr_banks: vec![
            tpm::crypto::HashAlg::Sha1,
            tpm::crypto::HashAlg::Sha256,
            tpm::crypto::HashAlg::Sm3_256,
        ],
    };
    let mut tpm = Tpm::manufacture(&cfg, Drbg::new([1; 32]), Box::new(Fixed(clock.clone())));
    let _ = tpm.execute(0, &STARTUP_CLEAR);

    // Frames: [op u8][locality u8][code index u8][len u16][body...].
    let mut rest = data;
    while rest.len() >= 5 {
        let (op, locality, code_ix) = (rest[0], rest[1] % 5, rest[2]);
        let len = u16::from_be_bytes([rest[3], rest[4]]) as usize;
        rest = &rest[5..];
        let n = len.min(rest.len());
        let (body, tail) = rest.split_at(n);
        rest = tail;
        clock.fetch_add(u64::from(op), std::sync::atomic::Ordering::Relaxed);
        let cmd = match op % 16 {
            0 => {
                // Power cycle through the persisted state.
                let blob = tpm.state_blob();
                tpm = Tpm::from_state(&blob, Drbg::new([2; 32]), Box::new(Fixed(clock.clone())))
                    .expect("own state blob must load");
                continue;
            }
            1 => {
                tpm.power_on();
                STARTUP_CLEAR.to_vec()
            }
            2 => body.to_vec(),
            _ => {
                let tag: u16 = if op & 0x80 != 0 { 0x8002 } else { 0x8001 };
                let code = CODES[code_ix as usize % CODES.len()];
                let mut c = Vec::with_capacity(10 + body.len());
                c.extend_from_slice(&tag.to_be_bytes());
                c.extend_from_slice(&((10 + body.len()) as u32).to_be_bytes());
                c.extend_from_slice(&code.to_be_bytes());
                c.extend_from_slice(body);
                c
            }
        };
        let resp = tpm.execute(locality, &cmd);
        assert!(resp.len() >= 10, "short response");
        let size = u32::from_be_bytes([resp[2], resp[3], resp[4], resp[5]]) as usize;
        assert_eq!(size, resp.len(), "response size field");
    }
});
