//! The TPM's random number generator. A ChaCha20 stream keyed from entropy
//! the host supplies at construction; TPM2_StirRandom (Part 3 §16.2) mixes
//! caller data into the key, which can add entropy but never remove it.

use crate::crypto::HashAlg;
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use zeroize::Zeroize;

pub struct Drbg {
    key: [u8; 32],
    rng: ChaCha20Rng,
}

impl Drbg {
    /// A generator keyed with 32 bytes of entropy from the host.
    pub fn new(seed: [u8; 32]) -> Self {
        Drbg {
            key: seed,
            rng: ChaCha20Rng::from_seed(seed),
        }
    }

    /// A generator keyed from the operating system's entropy source.
    pub fn from_os() -> Self {
        let mut seed = [0u8; 32];
        rand_core::OsRng.fill_bytes(&mut seed);
        let d = Drbg::new(seed);
        seed.zeroize();
        d
    }

    pub fn fill(&mut self, out: &mut [u8]) {
        self.rng.fill_bytes(out);
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut v = vec![0u8; n];
        self.fill(&mut v);
        v
    }

    /// Mixes `data` into the state: new key = SHA-256(old key || output || data).
    pub fn stir(&mut self, data: &[u8]) {
        let mut fresh = [0u8; 32];
        self.rng.fill_bytes(&mut fresh);
        let d = HashAlg::Sha256.digest(&[&self.key, &fresh, data]);
        self.key.copy_from_slice(&d);
        self.rng = ChaCha20Rng::from_seed(self.key);
        fresh.zeroize();
    }
}

impl Drop for Drbg {
    fn drop(&mut self) {
        self.key.zeroize();
    }
}

impl RngCore for Drbg {
    fn next_u32(&mut self) -> u32 {
        self.rng.next_u32()
    }
    fn next_u64(&mut self) -> u64 {
        self.rng.next_u64()
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.rng.fill_bytes(dest)
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.rng.try_fill_bytes(dest)
    }
}

impl rand_core::CryptoRng for Drbg {}
