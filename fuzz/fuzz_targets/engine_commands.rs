//! Arbitrary command sequences through the engine: every frame must get a
//! well-formed response (header size field equal to its length, at least
//! 10 bytes), and a state blob taken at any point must load back.
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

fuzz_target!(|data: &[u8]| {
    let clock = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let cfg = EngineConfig {
        pcr_banks: vec![tpm::crypto::HashAlg::Sha1, tpm::crypto::HashAlg::Sha256, tpm::crypto::HashAlg::Sm3_256],
    };
    let mut tpm = Tpm::manufacture(&cfg, Drbg::new([1; 32]), Box::new(Fixed(clock.clone())));
    let _ = tpm.execute(0, &STARTUP_CLEAR);

    // Frames: [op u8][locality u8][len u16][bytes].
    let mut rest = data;
    while rest.len() >= 4 {
        let op = rest[0];
        let locality = rest[1] % 5;
        let len = u16::from_be_bytes([rest[2], rest[3]]) as usize;
        rest = &rest[4..];
        let n = len.min(rest.len());
        let (cmd, tail) = rest.split_at(n);
        rest = tail;
        clock.fetch_add(u64::from(op), std::sync::atomic::Ordering::Relaxed);
        match op % 16 {
            0 => {
                // Power cycle through the persisted state.
                let blob = tpm.state_blob();
                tpm = Tpm::from_state(&blob, Drbg::new([2; 32]), Box::new(Fixed(clock.clone())))
                    .expect("own state blob must load");
            }
            1 => tpm.power_on(),
            _ => {
                let resp = tpm.execute(locality, cmd);
                assert!(resp.len() >= 10, "short response");
                let size = u32::from_be_bytes([resp[2], resp[3], resp[4], resp[5]]) as usize;
                assert_eq!(size, resp.len(), "response size field");
            }
        }
    }
});
