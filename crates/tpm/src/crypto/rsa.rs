//! RSA for the TPM: key generation, the stored-prime key form, RSASSA and
//! RSAPSS signatures over a given digest, RSAES / OAEP / raw encryption
//! (TPM 2.0 Part 1 Annex B, Part 3 §14.2–14.3 and §20.2, §20.1).
//!
//! The big-number arithmetic is the `rsa` crate's (with blinding and a CRT
//! fault check on every private operation); the paddings are implemented
//! here because the TPM needs what that crate does not offer: OAEP labels
//! that are arbitrary bytes, SM3 digests, PSS verification that accepts any
//! salt length, and the reference's exact size and error rules.

use crate::constants::alg;
use crate::crypto::{CryptoError, HashAlg};
use rand_core::CryptoRngCore;
use rsa::traits::{PrivateKeyParts, PublicKeyParts};
use rsa::{BigUint, RsaPrivateKey, RsaPublicKey};
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};
use zeroize::{Zeroize, Zeroizing};

/// The public exponent a TPM uses when the template says 0 (Part 2 §12.2.3.5).
pub const DEFAULT_EXPONENT: u32 = 65537;

/// Key sizes this module generates and loads, in bits.
pub const KEY_BITS: [u16; 4] = [1024, 2048, 3072, 4096];

/// An RSA encryption scheme (TPMT_RSA_DECRYPT without the NULL hash cases).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RsaEncScheme {
    /// TPM_ALG_NULL: raw RSA, no padding (Part 3 §14.2).
    Null,
    /// TPM_ALG_RSAES: PKCS#1 v1.5 encryption padding.
    Rsaes,
    /// TPM_ALG_OAEP with the given hash for the label digest and MGF1.
    Oaep(HashAlg),
}

/// An RSA public key (n, e).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RsaPublic {
    key: RsaPublicKey,
}

/// An RSA key pair. The private part zeroizes itself on drop (the `rsa`
/// crate's key does).
#[derive(Clone)]
pub struct RsaKeyPair {
    key: RsaPrivateKey,
}

impl std::fmt::Debug for RsaKeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RsaKeyPair")
            .field("bits", &(self.size() * 8))
            .finish_non_exhaustive()
    }
}

/// `value` as exactly `len` big-endian octets (left-padded with zeros), or
/// `None` if it does not fit.
fn to_fixed(value: &BigUint, len: usize) -> Option<Zeroizing<Vec<u8>>> {
    let mut b = Zeroizing::new(value.to_bytes_be());
    if b.len() > len {
        return None;
    }
    let mut out = Zeroizing::new(vec![0u8; len]);
    out[len - b.len()..].copy_from_slice(&b);
    b.zeroize();
    Some(out)
}

fn exponent_value(exponent: u32) -> u32 {
    if exponent == 0 {
        DEFAULT_EXPONENT
    } else {
        exponent
    }
}

/// Deterministic primality test for a u32 (trial division; at most ~6.5k
/// divisions, only run on template exponents).
fn is_prime_u32(n: u32) -> bool {
    if n < 2 {
        return false;
    }
    if n.is_multiple_of(2) {
        return n == 2;
    }
    let n = u64::from(n);
    let mut d = 3u64;
    while d * d <= n {
        if n % d == 0 {
            return false;
        }
        d += 2;
    }
    true
}

impl RsaPublic {
    /// A public key from the TPM form: the modulus as TPM2B_PUBLIC_KEY_RSA
    /// octets and the exponent of TPMS_RSA_PARMS (0 meaning 65537).
    ///
    /// Errors with [`CryptoError::Key`] if the modulus is not an odd number
    /// of a supported size (1024–4096 bits, whole octets, no leading zero
    /// octet) or the exponent is even or below 3.
    pub fn new(modulus: &[u8], exponent: u32) -> Result<RsaPublic, CryptoError> {
        let e = exponent_value(exponent);
        let k = modulus.len();
        if !(128..=512).contains(&k) || modulus.first() == Some(&0) {
            return Err(CryptoError::Key);
        }
        if modulus.last().is_some_and(|b| b & 1 == 0) || e < 3 || e.is_multiple_of(2) {
            return Err(CryptoError::Key);
        }
        let key = RsaPublicKey::new(BigUint::from_bytes_be(modulus), BigUint::from(e))
            .map_err(|_| CryptoError::Key)?;
        Ok(RsaPublic { key })
    }

    /// The modulus as big-endian octets, exactly [`RsaPublic::size`] long.
    pub fn modulus(&self) -> Vec<u8> {
        self.key.n().to_bytes_be()
    }

    /// The public exponent (65537 for keys made with exponent 0).
    pub fn exponent(&self) -> u32 {
        let b = self.key.e().to_bytes_be();
        b.iter()
            .fold(0u32, |acc, x| acc.wrapping_shl(8) | u32::from(*x))
    }

    /// The modulus size k in octets (the size of every signature and
    /// ciphertext).
    pub fn size(&self) -> usize {
        self.key.size()
    }

    /// Modulus size in bits.
    pub fn bits(&self) -> usize {
        self.key.n().bits()
    }

    /// RSAEP: m^e mod n as k octets; `m` must be below n.
    fn public_op(&self, m: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let m = BigUint::from_bytes_be(m);
        if &m >= self.key.n() {
            return Err(CryptoError::Value);
        }
        // Montgomery arithmetic of crypto::prime instead of num-bigint-dig's
        // modpow: the same number, several times faster.
        let n = self.key.n().to_bytes_be();
        let m = m.to_bytes_be();
        crate::crypto::prime::rsaep::public_op(&n, self.exponent(), &m).ok_or(CryptoError::Value)
    }

    /// Encrypts `message` (TPM2_RSA_Encrypt, Part 3 §14.2; CryptRsaEncrypt).
    /// `label` is used verbatim as the OAEP label L (the TPM requires it to
    /// be empty or end in a 0 octet; see [`label_is_properly_formatted`]).
    /// `rng` supplies the OAEP seed or the RSAES padding.
    ///
    /// * Null: the message is a big-endian number (leading zero octets
    ///   ignored) that must be below n, else [`CryptoError::Value`].
    /// * Rsaes: message at most k - 11 octets, else `Value`.
    /// * Oaep(h): [`CryptoError::Hash`] if k < 2·|h| + 2, `Value` if the
    ///   message is longer than k - 2·|h| - 2.
    pub fn encrypt<R: CryptoRngCore + ?Sized>(
        &self,
        scheme: RsaEncScheme,
        message: &[u8],
        label: &[u8],
        rng: &mut R,
    ) -> Result<Vec<u8>, CryptoError> {
        let k = self.size();
        let em = match scheme {
            RsaEncScheme::Null => {
                let start = message
                    .iter()
                    .position(|b| *b != 0)
                    .unwrap_or(message.len());
                let m = message.get(start..).unwrap_or_default();
                if m.len() > k {
                    return Err(CryptoError::Value);
                }
                let mut em = Zeroizing::new(vec![0u8; k]);
                em[k - m.len()..].copy_from_slice(m);
                em
            }
            RsaEncScheme::Rsaes => rsaes_encode(k, message, rng)?,
            RsaEncScheme::Oaep(h) => oaep_encode(h, k, message, label, rng)?,
        };
        self.public_op(&em)
    }
}

impl RsaKeyPair {
    /// Generates a key of `bits` (one of [`KEY_BITS`]) with public exponent
    /// `exponent` (0 means 65537; otherwise it must be a prime ≥ 65537, as
    /// CryptRsaGenerateKey requires, else [`CryptoError::Exponent`]).
    ///
    /// The key is a function of the RNG's output stream: the same stream
    /// gives the same key, which is what primary-key derivation from a
    /// [`crate::crypto::KdfRng`] relies on (Part 1 §26.3). It is exactly
    /// the key `rsa::RsaPrivateKey::new_with_exp` (rsa 0.9.10) makes from
    /// that stream; tests/rsa_derivation.rs checks this against the crate.
    pub fn generate<R: CryptoRngCore + ?Sized>(
        rng: &mut R,
        bits: u16,
        exponent: u32,
    ) -> Result<RsaKeyPair, CryptoError> {
        if !KEY_BITS.contains(&bits) {
            return Err(CryptoError::KeySize);
        }
        let e = exponent_value(exponent);
        if e != DEFAULT_EXPONENT && (e < DEFAULT_EXPONENT || !is_prime_u32(e)) {
            return Err(CryptoError::Exponent);
        }
        // Our copy of `RsaPrivateKey::new_with_exp`'s search: the same key
        // from the same stream, several times faster (crypto::prime).
        let key = crate::crypto::prime::generate_key(rng, usize::from(bits), e)?;
        Ok(RsaKeyPair { key })
    }

    /// Rebuilds a key pair from the TPM's stored form: the public modulus and
    /// exponent and one prime factor (TPMT_SENSITIVE holds only p, Part 2
    /// §12.3.2.2; CryptRsaLoadPrivateExponent). The prime must be exactly
    /// half the modulus size (else [`CryptoError::KeySize`]) and divide the
    /// modulus with a cofactor that, with it, forms a valid key (else
    /// [`CryptoError::Binding`]).
    pub fn from_prime(
        modulus: &[u8],
        exponent: u32,
        prime: &[u8],
    ) -> Result<RsaKeyPair, CryptoError> {
        let public = RsaPublic::new(modulus, exponent)?;
        if prime.len() * 2 != modulus.len() {
            return Err(CryptoError::KeySize);
        }
        let n = public.key.n();
        let mut p = BigUint::from_bytes_be(prime);
        let one = BigUint::from(1u32);
        if p <= one || &p >= n {
            p.zeroize();
            return Err(CryptoError::Binding);
        }
        let mut q = n / &p;
        let mut r = n - &q * &p;
        let divides = r == BigUint::from(0u32);
        r.zeroize();
        if !divides || q <= one {
            p.zeroize();
            q.zeroize();
            return Err(CryptoError::Binding);
        }
        let key = RsaPrivateKey::from_p_q(p, q, public.key.e().clone())
            .map_err(|_| CryptoError::Binding)?;
        if key.n() != n {
            return Err(CryptoError::Binding);
        }
        Ok(RsaKeyPair { key })
    }

    pub fn public(&self) -> RsaPublic {
        RsaPublic {
            key: self.key.to_public_key(),
        }
    }

    /// The modulus size k in octets.
    pub fn size(&self) -> usize {
        self.key.size()
    }

    /// The prime kept in TPMT_SENSITIVE (the first prime), as exactly k/2
    /// octets.
    pub fn prime(&self) -> Zeroizing<Vec<u8>> {
        let half = self.size() / 2;
        self.key
            .primes()
            .first()
            .and_then(|p| to_fixed(p, half))
            .unwrap_or_else(|| Zeroizing::new(vec![0u8; half]))
    }

    /// RSADP/RSASP1 with blinding: c^d mod n as k octets. `c` must be
    /// exactly k octets (else [`CryptoError::Size`]) and below n (else
    /// `Size`, as RSADP in the reference).
    fn private_op<R: CryptoRngCore + ?Sized>(
        &self,
        c: &[u8],
        rng: &mut R,
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let k = self.size();
        if c.len() != k {
            return Err(CryptoError::Size);
        }
        let c = BigUint::from_bytes_be(c);
        if &c >= self.key.n() {
            return Err(CryptoError::Size);
        }
        let mut m = rsa::hazmat::rsa_decrypt_and_check(&self.key, Some(rng), &c)
            .map_err(|_| CryptoError::Value)?;
        let out = to_fixed(&m, k).ok_or(CryptoError::Value);
        m.zeroize();
        out
    }

    /// Decrypts (TPM2_RSA_Decrypt, Part 3 §14.3; CryptRsaDecrypt). The
    /// ciphertext must be exactly k octets ([`CryptoError::Size`]). `label`
    /// is the OAEP label verbatim. Padding failures are
    /// [`CryptoError::Value`], checked in constant time. With the Null
    /// scheme the result is the full k-octet number. `rng` is used only for
    /// blinding.
    pub fn decrypt<R: CryptoRngCore + ?Sized>(
        &self,
        scheme: RsaEncScheme,
        ciphertext: &[u8],
        label: &[u8],
        rng: &mut R,
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let em = self.private_op(ciphertext, rng)?;
        match scheme {
            RsaEncScheme::Null => Ok(em),
            RsaEncScheme::Rsaes => rsaes_decode(&em),
            RsaEncScheme::Oaep(h) => oaep_decode(h, &em, label),
        }
    }

    /// RSASSA-PKCS1-v1_5 signature over `digest` (Part 1 Annex B.6;
    /// RSASSA_Encode). The digest length must equal the hash's
    /// ([`CryptoError::Value`]); a key too small for the DigestInfo gives
    /// [`CryptoError::Size`]. Deterministic; `rng` is used for blinding.
    pub fn sign_pkcs1v15<R: CryptoRngCore + ?Sized>(
        &self,
        hash: HashAlg,
        digest: &[u8],
        rng: &mut R,
    ) -> Result<Vec<u8>, CryptoError> {
        let em = pkcs1v15_sig_encode(hash, digest, self.size())?;
        Ok(self.private_op(&em, rng)?.to_vec())
    }

    /// RSASSA-PSS signature over `digest` (Part 1 Annex B.7; PssEncode):
    /// MGF1 with the same hash, salt length = the digest size, or the largest
    /// that fits if the key is too small (CryptRsaPssSaltSize). The salt and
    /// the blinding come from `rng`.
    pub fn sign_pss<R: CryptoRngCore + ?Sized>(
        &self,
        hash: HashAlg,
        digest: &[u8],
        rng: &mut R,
    ) -> Result<Vec<u8>, CryptoError> {
        if digest.len() != hash.digest_size() {
            return Err(CryptoError::Value);
        }
        let em = pss_encode(hash, digest, self.key.n().bits(), self.size(), rng)?;
        Ok(self.private_op(&em, rng)?.to_vec())
    }
}

/// The TPM's rule for OAEP labels (IsLabelProperlyFormatted, used by
/// TPM2_RSA_Encrypt / RSA_Decrypt, Part 3 §14.2): empty, or ending with a
/// zero octet.
pub fn label_is_properly_formatted(label: &[u8]) -> bool {
    label.last().is_none_or(|b| *b == 0)
}

/// MGF1 (PKCS#1 B.2.1): `len` octets of H(seed || [counter]32), counter from 0.
fn mgf1_xor(hash: HashAlg, seed: &[u8], out: &mut [u8]) {
    let h = hash.digest_size();
    for (i, chunk) in out.chunks_mut(h).enumerate() {
        let c = (i as u32).to_be_bytes();
        let mut block = hash.digest(&[seed, &c]);
        chunk
            .iter_mut()
            .zip(block.iter())
            .for_each(|(o, m)| *o ^= m);
        block.zeroize();
    }
}

fn random_nonzero<R: CryptoRngCore + ?Sized>(rng: &mut R, out: &mut [u8]) {
    rng.fill_bytes(out);
    for b in out.iter_mut() {
        while *b == 0 {
            let mut one = [0u8; 1];
            rng.fill_bytes(&mut one);
            *b = one[0];
        }
    }
}

/// EME-PKCS1-v1_5 encoding (PKCS#1 §7.2.1): 00 02 PS 00 M, PS ≥ 8 random
/// non-zero octets.
fn rsaes_encode<R: CryptoRngCore + ?Sized>(
    k: usize,
    m: &[u8],
    rng: &mut R,
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    if k < 11 || m.len() > k - 11 {
        return Err(CryptoError::Value);
    }
    let ps_len = k - m.len() - 3;
    let mut em = Zeroizing::new(vec![0u8; k]);
    em[1] = 2;
    random_nonzero(rng, &mut em[2..2 + ps_len]);
    em[k - m.len()..].copy_from_slice(m);
    Ok(em)
}

/// EME-PKCS1-v1_5 decoding in constant time with respect to the padding
/// contents (RSAES_Decode: at least 8 padding octets).
fn rsaes_decode(em: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    if em.len() < 11 {
        return Err(CryptoError::Value);
    }
    let mut good = em[0].ct_eq(&0) & em[1].ct_eq(&2);
    let mut looking = Choice::from(1);
    let mut zero_index = 0u32;
    for (i, b) in em.iter().enumerate().skip(2) {
        let is_zero = b.ct_eq(&0);
        zero_index.conditional_assign(&(i as u32), looking & is_zero);
        looking &= !is_zero;
    }
    // A separator must exist, with at least 8 octets of PS before it.
    good &= !looking;
    good &= Choice::from(u8::from(zero_index >= 10));
    if !bool::from(good) {
        return Err(CryptoError::Value);
    }
    let start = zero_index as usize + 1;
    Ok(Zeroizing::new(em.get(start..).unwrap_or_default().to_vec()))
}

/// EME-OAEP encoding (PKCS#1 §7.1.1; OaepEncode): 00 || maskedSeed ||
/// maskedDB, DB = lHash || PS || 01 || M, lHash = H(label).
fn oaep_encode<R: CryptoRngCore + ?Sized>(
    hash: HashAlg,
    k: usize,
    m: &[u8],
    label: &[u8],
    rng: &mut R,
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let h = hash.digest_size();
    if k < 2 * h + 2 {
        return Err(CryptoError::Hash);
    }
    if m.len() > k - 2 * h - 2 {
        return Err(CryptoError::Value);
    }
    let mut em = Zeroizing::new(vec![0u8; k]);
    let (seed, db) = em[1..].split_at_mut(h);
    db[..h].copy_from_slice(&hash.digest(&[label]));
    let db_len = db.len();
    db[db_len - m.len() - 1] = 1;
    db[db_len - m.len()..].copy_from_slice(m);
    rng.fill_bytes(seed);
    mgf1_xor(hash, seed, db);
    mgf1_xor(hash, db, seed);
    Ok(em)
}

/// EME-OAEP decoding (PKCS#1 §7.1.2; OaepDecode), constant time up to the
/// final accept/reject.
fn oaep_decode(hash: HashAlg, em: &[u8], label: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let h = hash.digest_size();
    let k = em.len();
    if k < 2 * h + 2 {
        return Err(CryptoError::Value);
    }
    let mut buf = Zeroizing::new(em.to_vec());
    let (y, rest) = buf.split_at_mut(1);
    let (seed, db) = rest.split_at_mut(h);
    mgf1_xor(hash, db, seed);
    mgf1_xor(hash, seed, db);
    let lhash = hash.digest(&[label]);
    let mut good = y[0].ct_eq(&0) & db[..h].ct_eq(&lhash[..]);
    let mut looking = Choice::from(1);
    let mut one_index = 0u32;
    let mut invalid = Choice::from(0);
    for (i, b) in db.iter().enumerate().skip(h) {
        let is_zero = b.ct_eq(&0);
        let is_one = b.ct_eq(&1);
        one_index.conditional_assign(&(i as u32), looking & is_one);
        invalid |= looking & !is_zero & !is_one;
        looking &= !is_one;
    }
    good &= !invalid & !looking;
    if !bool::from(good) {
        return Err(CryptoError::Value);
    }
    let start = one_index as usize + 1;
    Ok(Zeroizing::new(db.get(start..).unwrap_or_default().to_vec()))
}

/// The DER DigestInfo prefix of EMSA-PKCS1-v1_5 (PKCS#1 §9.2 note 1; for
/// SM3 the OID 1.2.156.10197.1.401, as the reference's MakeDerTag).
fn digest_info_prefix(hash: HashAlg) -> &'static [u8] {
    match hash {
        HashAlg::Sha1 => &[
            0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04,
            0x14,
        ],
        HashAlg::Sha256 => &[
            0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x01, 0x05, 0x00, 0x04, 0x20,
        ],
        HashAlg::Sha384 => &[
            0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x02, 0x05, 0x00, 0x04, 0x30,
        ],
        HashAlg::Sha512 => &[
            0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x03, 0x05, 0x00, 0x04, 0x40,
        ],
        HashAlg::Sm3_256 => &[
            0x30, 0x30, 0x30, 0x0c, 0x06, 0x08, 0x2a, 0x81, 0x1c, 0xcf, 0x55, 0x01, 0x83, 0x11,
            0x05, 0x00, 0x04, 0x20,
        ],
    }
}

/// EMSA-PKCS1-v1_5 (PKCS#1 §9.2; RSASSA_Encode): 00 01 FF..FF 00 ||
/// DigestInfo, at least 8 FF octets.
fn pkcs1v15_sig_encode(hash: HashAlg, digest: &[u8], k: usize) -> Result<Vec<u8>, CryptoError> {
    if digest.len() != hash.digest_size() {
        return Err(CryptoError::Value);
    }
    let prefix = digest_info_prefix(hash);
    let t_len = prefix.len() + digest.len();
    if k < t_len + 11 {
        return Err(CryptoError::Size);
    }
    let mut em = vec![0xffu8; k];
    em[0] = 0;
    em[1] = 1;
    em[k - t_len - 1] = 0;
    em[k - t_len..k - digest.len()].copy_from_slice(prefix);
    em[k - digest.len()..].copy_from_slice(digest);
    Ok(em)
}

/// The PSS salt length the TPM uses (CryptRsaPssSaltSize): the digest size,
/// or the largest that fits in an encoding of `em_len` octets.
pub fn pss_salt_len(hash: HashAlg, em_len: usize) -> usize {
    let h = hash.digest_size();
    em_len.saturating_sub(h + 2).min(h)
}

/// EMSA-PSS encoding (PKCS#1 §9.1.1) into k octets for a modulus of
/// `mod_bits` bits.
fn pss_encode<R: CryptoRngCore + ?Sized>(
    hash: HashAlg,
    digest: &[u8],
    mod_bits: usize,
    k: usize,
    rng: &mut R,
) -> Result<Vec<u8>, CryptoError> {
    let h = hash.digest_size();
    let em_bits = mod_bits.saturating_sub(1);
    let em_len = em_bits.div_ceil(8);
    if em_len < h + 2 {
        return Err(CryptoError::Hash);
    }
    let s_len = pss_salt_len(hash, em_len);
    let mut salt = Zeroizing::new(vec![0u8; s_len]);
    rng.fill_bytes(&mut salt);
    let m_prime_hash = hash.digest(&[&[0u8; 8], digest, &salt]);
    let db_len = em_len - h - 1;
    let mut em = vec![0u8; em_len];
    {
        let (db, rest) = em.split_at_mut(db_len);
        db[db_len - s_len - 1] = 1;
        db[db_len - s_len..].copy_from_slice(&salt);
        mgf1_xor(hash, &m_prime_hash, db);
        db[0] &= 0xffu8 >> (8 * em_len - em_bits);
        rest[..h].copy_from_slice(&m_prime_hash);
        rest[h] = 0xbc;
    }
    // The encoded message is em_len octets; as a k-octet string it gets a
    // leading zero octet when mod_bits ≡ 1 (mod 8).
    let mut out = vec![0u8; k];
    out[k - em_len..].copy_from_slice(&em);
    Ok(out)
}

/// Verifies an RSASSA-PKCS1-v1_5 signature over `digest`
/// (CryptRsaValidateSignature). The signature must be exactly k octets; any
/// failure is [`CryptoError::Signature`].
pub fn verify_pkcs1v15(
    key: &RsaPublic,
    hash: HashAlg,
    digest: &[u8],
    signature: &[u8],
) -> Result<(), CryptoError> {
    if signature.len() != key.size() {
        return Err(CryptoError::Signature);
    }
    let em = key
        .public_op(signature)
        .map_err(|_| CryptoError::Signature)?;
    let expected =
        pkcs1v15_sig_encode(hash, digest, key.size()).map_err(|_| CryptoError::Signature)?;
    if bool::from(em.ct_eq(&expected)) {
        Ok(())
    } else {
        Err(CryptoError::Signature)
    }
}

/// Verifies an RSASSA-PSS signature over `digest` (PKCS#1 §9.1.2; PssDecode)
/// with MGF1 over the same hash, accepting any salt length. The signature
/// must be exactly k octets; any failure is [`CryptoError::Signature`].
pub fn verify_pss(
    key: &RsaPublic,
    hash: HashAlg,
    digest: &[u8],
    signature: &[u8],
) -> Result<(), CryptoError> {
    let bad = CryptoError::Signature;
    if signature.len() != key.size() || digest.len() != hash.digest_size() {
        return Err(bad);
    }
    let h = hash.digest_size();
    let k = key.size();
    let em_bits = key.bits().saturating_sub(1);
    let em_len = em_bits.div_ceil(8);
    if em_len < h + 2 {
        return Err(bad);
    }
    let m = key.public_op(signature).map_err(|_| bad)?;
    // The k-octet value must fit in em_len octets.
    if m[..k - em_len].iter().any(|b| *b != 0) {
        return Err(bad);
    }
    let em = &m[k - em_len..];
    if em[em_len - 1] != 0xbc {
        return Err(bad);
    }
    let db_len = em_len - h - 1;
    let top_mask = 0xffu8 >> (8 * em_len - em_bits);
    if em[0] & !top_mask != 0 {
        return Err(bad);
    }
    let mut db = em[..db_len].to_vec();
    let m_prime_hash = &em[db_len..db_len + h];
    mgf1_xor(hash, m_prime_hash, &mut db);
    db[0] &= top_mask;
    let Some(one) = db.iter().position(|b| *b != 0) else {
        return Err(bad);
    };
    if db[one] != 1 {
        return Err(bad);
    }
    let salt = &db[one + 1..];
    let check = hash.digest(&[&[0u8; 8], digest, salt]);
    if check.as_slice() == m_prime_hash {
        Ok(())
    } else {
        Err(bad)
    }
}

/// The scheme ID of an [`RsaEncScheme`] (for messages and logs).
pub fn scheme_id(s: RsaEncScheme) -> u16 {
    match s {
        RsaEncScheme::Null => alg::NULL,
        RsaEncScheme::Rsaes => alg::RSAES,
        RsaEncScheme::Oaep(_) => alg::OAEP,
    }
}
