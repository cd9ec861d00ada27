//! Hostile volatile-state blobs (the VOLATILE part of a live migration,
//! clear when an instance runs with --migration-plaintext) are refused
//! without panicking and leave the TPM as it was; an accepted one must
//! serve commands and serialize back to a blob that restores.
//!
//! The input is the blob's body: the target adds the frame (magic, version,
//! length, SHA-256) itself, so the fuzzer spends its time in the field
//! decoders rather than on the checksum. Inputs starting with 0xFF are
//! passed raw to cover the frame checks too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tpm::crypto::{Drbg, HashAlg};
use tpm::{EngineConfig, TimeSource, Tpm};

struct Zero;
impl TimeSource for Zero {
    fn now_ms(&self) -> u64 {
        0
    }
}

const STARTUP_CLEAR: [u8; 12] = [0x80, 0x01, 0, 0, 0, 12, 0, 0, 0x01, 0x44, 0, 0];
const GET_RANDOM_8: [u8; 12] = [0x80, 0x01, 0, 0, 0, 12, 0, 0, 0x01, 0x7B, 0, 8];

fn framed(body: &[u8]) -> Vec<u8> {
    let mut out = b"TCTPMVL\0".to_vec();
    out.extend_from_slice(&1u32.to_be_bytes());
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(body);
    let sum = HashAlg::Sha256.digest(&[&out]);
    out.extend_from_slice(&sum);
    out
}

fuzz_target!(|data: &[u8]| {
    let cfg = EngineConfig {
        pcr_banks: vec![HashAlg::Sha256],
    };
    let mut tpm = Tpm::manufacture(&cfg, Drbg::new([1; 32]), Box::new(Zero));
    let _ = tpm.execute(0, &STARTUP_CLEAR);
    let before = tpm.volatile_blob();
    let blob = match data.split_first() {
        Some((0xFF, raw)) => raw.to_vec(),
        _ => framed(data),
    };
    if tpm.restore_volatile(&blob).is_ok() {
        let resp = tpm.execute(0, &GET_RANDOM_8);
        assert!(resp.len() >= 10, "a restored TPM must answer");
        let again = tpm.volatile_blob();
        let mut fresh = Tpm::manufacture(&cfg, Drbg::new([1; 32]), Box::new(Zero));
        assert!(fresh.restore_volatile(&again).is_ok(), "own volatile blob must restore");
    } else {
        assert_eq!(tpm.volatile_blob(), before, "a refused blob must leave the TPM as it was");
    }
});
