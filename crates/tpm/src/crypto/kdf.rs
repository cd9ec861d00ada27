//! The TPM's key derivation functions (TPM 2.0 Part 1 §11.4.10) and a
//! deterministic generator built on KDFa for deriving keys from a seed.
//!
//! * [`kdfa`]: SP800-108 KDF in counter mode with HMAC as the PRF
//!   (Part 1 §11.4.10.2). Used for session keys, parameter encryption,
//!   XOR obfuscation, the storage/integrity keys of wrapped objects.
//! * [`kdfe`]: SP800-56A concatenation KDF (Part 1 §11.4.10.3), used to turn
//!   an ECDH shared secret into a seed.
//! * [`KdfRng`]: an RNG whose stream is KDFa output, so that a key generated
//!   from it is a function of the seed (primary keys, Part 1 §26.3).

use crate::crypto::HashAlg;
use digest::core_api::BlockSizeUser;
use digest::Digest;
use hmac::{Mac, SimpleHmac};
use zeroize::{Zeroize, Zeroizing};

/// Returns `label` with a terminating zero octet added if it does not already
/// end with one.
///
/// The TPM's labels are NUL-terminated strings ("SECRET\0", Part 1
/// §11.4.10.2: "Label ... a NULL-terminated string"); the reference
/// implementation (CryptKDFa) appends the 0 only when the caller's label does
/// not end in one, so "CFB" and "CFB\0" give the same key.
pub fn terminated_label(label: &[u8]) -> Vec<u8> {
    let mut l = label.to_vec();
    if l.last() != Some(&0) {
        l.push(0);
    }
    l
}

/// Clears the bits above `bits` in the most significant octet, so a result
/// whose length is not a whole number of octets is the `bits`-bit integer
/// the spec asks for (Part 1 §11.4.10.1; the reference masks KDFe output the
/// same way).
fn mask_to_bits(out: &mut [u8], bits: u32) {
    let rem = bits % 8;
    if rem != 0 {
        if let Some(first) = out.first_mut() {
            *first &= (1u8 << rem) - 1;
        }
    }
}

/// An HMAC keyed once and cloned for every block, so a long KDFa stream
/// costs two compressions per block instead of four.
#[derive(Clone)]
enum KeyedHmac {
    Sha1(SimpleHmac<sha1::Sha1>),
    Sha256(SimpleHmac<sha2::Sha256>),
    Sha384(SimpleHmac<sha2::Sha384>),
    Sha512(SimpleHmac<sha2::Sha512>),
    Sm3(SimpleHmac<sm3::Sm3>),
}

impl KeyedHmac {
    fn new(hash: HashAlg, key: &[u8]) -> KeyedHmac {
        fn k<D: Digest + BlockSizeUser + Clone>(key: &[u8]) -> SimpleHmac<D> {
            <SimpleHmac<D> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable_hmac())
        }
        match hash {
            HashAlg::Sha1 => KeyedHmac::Sha1(k(key)),
            HashAlg::Sha256 => KeyedHmac::Sha256(k(key)),
            HashAlg::Sha384 => KeyedHmac::Sha384(k(key)),
            HashAlg::Sha512 => KeyedHmac::Sha512(k(key)),
            HashAlg::Sm3_256 => KeyedHmac::Sm3(k(key)),
        }
    }

    /// HMAC over the concatenation of `parts`, written to `out` (which must
    /// be at most the digest size).
    fn mac_into(&self, parts: &[&[u8]], out: &mut [u8]) {
        fn run<D: Digest + BlockSizeUser + Clone>(
            m: &SimpleHmac<D>,
            parts: &[&[u8]],
            out: &mut [u8],
        ) {
            let mut m = m.clone();
            for p in parts {
                m.update(p);
            }
            let mut tag = m.finalize().into_bytes();
            let n = out.len().min(tag.len());
            out[..n].copy_from_slice(&tag[..n]);
            tag.as_mut_slice().zeroize();
        }
        match self {
            KeyedHmac::Sha1(m) => run(m, parts, out),
            KeyedHmac::Sha256(m) => run(m, parts, out),
            KeyedHmac::Sha384(m) => run(m, parts, out),
            KeyedHmac::Sha512(m) => run(m, parts, out),
            KeyedHmac::Sm3(m) => run(m, parts, out),
        }
    }
}

/// Never called: SimpleHmac::new_from_slice cannot fail. Exists so the
/// fallback above needs no `unwrap`.
#[cold]
fn unreachable_hmac<M>() -> M {
    unreachable!("SimpleHmac accepts keys of any length")
}

/// KDFa (TPM 2.0 Part 1 §11.4.10.2): SP800-108 counter-mode KDF with
/// HMAC-`hash` keyed with `key`. Block i (counter from 1) is
/// `HMAC(key, [i]32 || label || 0x00 || contextU || contextV || [bits]32)`;
/// the 0x00 is added only if `label` does not already end with one. The
/// result is `ceil(bits/8)` octets, the excess high bits of the first octet
/// cleared.
pub fn kdfa(
    hash: HashAlg,
    key: &[u8],
    label: &[u8],
    context_u: &[u8],
    context_v: &[u8],
    bits: u32,
) -> Zeroizing<Vec<u8>> {
    let len = bits.div_ceil(8) as usize;
    let mut out = Zeroizing::new(vec![0u8; len]);
    let prf = KeyedHmac::new(hash, key);
    let label = terminated_label(label);
    let bits_be = bits.to_be_bytes();
    let h = hash.digest_size();
    for (i, chunk) in out.chunks_mut(h).enumerate() {
        let counter = (i as u32).wrapping_add(1).to_be_bytes();
        prf.mac_into(&[&counter, &label, context_u, context_v, &bits_be], chunk);
    }
    mask_to_bits(&mut out, bits);
    out
}

/// KDFe (TPM 2.0 Part 1 §11.4.10.3): the SP800-56A concatenation KDF.
/// Block i (counter from 1) is `H([i]32 || Z || label || partyUInfo ||
/// partyVInfo)`. `label` gets a terminating 0x00 if it lacks one, so the
/// TPM's "SECRET", "IDENTITY", "DUPLICATE" labels may be passed either way.
/// The result is `ceil(bits/8)` octets, the excess high bits of the first
/// octet cleared (as CryptKDFe does).
pub fn kdfe(
    hash: HashAlg,
    z: &[u8],
    label: &[u8],
    party_u: &[u8],
    party_v: &[u8],
    bits: u32,
) -> Zeroizing<Vec<u8>> {
    let len = bits.div_ceil(8) as usize;
    let mut out = Zeroizing::new(vec![0u8; len]);
    let label = terminated_label(label);
    let h = hash.digest_size();
    for (i, chunk) in out.chunks_mut(h).enumerate() {
        let counter = (i as u32).wrapping_add(1).to_be_bytes();
        let mut block = hash.digest(&[&counter, z, &label, party_u, party_v]);
        let n = chunk.len();
        chunk.copy_from_slice(&block[..n]);
        block.zeroize();
    }
    mask_to_bits(&mut out, bits);
    out
}

/// The `bits` value every block of a [`KdfRng`] stream is computed with, and
/// the stream's length: 2^31 bits (256 MiB), far beyond what any key
/// generation draws (an RSA-3072 key takes well under 1 MiB).
pub const KDF_RNG_LIMIT_BITS: u32 = 1 << 31;

/// The label [`KdfRng::for_primary`] uses. The reference implementation's
/// constant for primary object creation (PRIMARY_OBJECT_CREATION) is
/// "PRIMARY"; we use the same string, NUL-terminated.
pub const PRIMARY_LABEL: &[u8] = b"PRIMARY\0";

/// A deterministic random generator: its output is the KDFa stream
/// `KDFa(hash, seed, label, contextU, contextV, KDF_RNG_LIMIT_BITS)`, read
/// block by block (the reference's DRBG_InstantiateSeededKdf / DRBG_Generate
/// KDF path works the same way, with its own limit). The first `n` bytes
/// equal `kdfa(...)[..n]` for the same arguments.
///
/// When the stream is used up (after [`KDF_RNG_LIMIT_BITS`] bits) further
/// output is zeros, [`KdfRng::exhausted`] turns true and `try_fill_bytes`
/// fails; callers that could conceivably draw that much check `exhausted()`
/// and answer TPM_RC_NO_RESULT, as the reference does.
pub struct KdfRng {
    prf: KeyedHmac,
    label: Vec<u8>,
    context_u: Vec<u8>,
    context_v: Vec<u8>,
    /// Counter of the next block to compute (1-based, as in KDFa).
    counter: u64,
    block: Zeroizing<Vec<u8>>,
    /// Bytes of `block` already handed out.
    used: usize,
    exhausted: bool,
}

impl KdfRng {
    /// A generator keyed with `seed`, separated by `label` and the contexts.
    pub fn new(
        hash: HashAlg,
        seed: &[u8],
        label: &[u8],
        context_u: &[u8],
        context_v: &[u8],
    ) -> KdfRng {
        let h = hash.digest_size();
        KdfRng {
            prf: KeyedHmac::new(hash, seed),
            label: terminated_label(label),
            context_u: context_u.to_vec(),
            context_v: context_v.to_vec(),
            counter: 1,
            block: Zeroizing::new(vec![0u8; h]),
            used: h,
            exhausted: false,
        }
    }

    /// The generator for a primary object (TPM2_CreatePrimary, Part 3 §24.1;
    /// Part 1 §26.3 "the same template and seed give the same key"):
    /// keyed with the hierarchy's primary seed, label [`PRIMARY_LABEL`],
    /// contextU the Name of the template (nameAlg || H(template)), contextV
    /// the caller's sensitive.data. `hash` should be the template's nameAlg.
    ///
    /// This is our own construction: the reference seeds an AES CTR-DRBG
    /// with the same inputs (DRBG_InstantiateSeeded), so keys differ from
    /// libtpms', but are equally a function of (seed, template, data).
    pub fn for_primary(
        hash: HashAlg,
        primary_seed: &[u8],
        template_name: &[u8],
        sensitive_data: &[u8],
    ) -> KdfRng {
        KdfRng::new(
            hash,
            primary_seed,
            PRIMARY_LABEL,
            template_name,
            sensitive_data,
        )
    }

    /// True once the stream has been used up (output since then was zeros).
    pub fn exhausted(&self) -> bool {
        self.exhausted
    }

    fn refill(&mut self) -> bool {
        let h = self.block.len() as u64;
        let max_blocks = (u64::from(KDF_RNG_LIMIT_BITS) / 8).div_ceil(h);
        if self.counter > max_blocks {
            self.exhausted = true;
            return false;
        }
        let counter = (self.counter as u32).to_be_bytes();
        let bits = KDF_RNG_LIMIT_BITS.to_be_bytes();
        self.prf.mac_into(
            &[
                &counter,
                &self.label,
                &self.context_u,
                &self.context_v,
                &bits,
            ],
            &mut self.block,
        );
        self.counter += 1;
        self.used = 0;
        true
    }

    fn fill(&mut self, dest: &mut [u8]) -> bool {
        let mut off = 0;
        while off < dest.len() {
            if self.used == self.block.len() && (self.exhausted || !self.refill()) {
                dest[off..].fill(0);
                return false;
            }
            let n = (self.block.len() - self.used).min(dest.len() - off);
            dest[off..off + n].copy_from_slice(&self.block[self.used..self.used + n]);
            self.used += n;
            off += n;
        }
        true
    }
}

impl rand_core::RngCore for KdfRng {
    fn next_u32(&mut self) -> u32 {
        let mut b = [0u8; 4];
        self.fill(&mut b);
        u32::from_le_bytes(b)
    }
    fn next_u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        self.fill(&mut b);
        u64::from_le_bytes(b)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.fill(dest);
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        if self.fill(dest) {
            Ok(())
        } else {
            Err(rand_core::Error::from(
                core::num::NonZeroU32::new(rand_core::Error::CUSTOM_START)
                    .unwrap_or(core::num::NonZeroU32::MIN),
            ))
        }
    }
}

impl rand_core::CryptoRng for KdfRng {}

impl Drop for KdfRng {
    fn drop(&mut self) {
        self.context_v.zeroize();
    }
}
