//! Symmetric block ciphers (AES-128, AES-256, SM4-128) in the modes the TPM
//! defines (Part 2 §9.29 TPMI_ALG_SYM_MODE), and the CFB session parameter
//! encryption of Part 1 §21.3.
//!
//! The modes follow the reference implementation's CryptSymmetricEncrypt /
//! CryptSymmetricDecrypt exactly, including what they leave in the IV, since
//! TPM2_EncryptDecrypt returns it as `ivOut` (Part 3 §15.2) for chaining:
//!
//! * CFB (full-block CFB-128, SP800-38A §6.3): the next IV is the last
//!   ciphertext block; if the data ended in a partial block, its ciphertext
//!   bytes followed by zeros.
//! * CTR: the IV is a big-endian counter incremented once per block
//!   (including a final partial block); the next IV is the next counter.
//! * OFB: the next IV is the last keystream block.
//! * CBC: the next IV is the last ciphertext block; the data must be a
//!   whole number of blocks.
//! * ECB: no IV; the data must be a whole number of blocks.

use crate::constants::alg;
use crate::crypto::kdf::kdfa;
use crate::crypto::{CryptoError, HashAlg};
use cipher::generic_array::GenericArray;
use cipher::{BlockDecrypt, BlockEncrypt, KeyInit};
use zeroize::{Zeroize, Zeroizing};

/// The block size of every implemented cipher, in octets.
pub const BLOCK_SIZE: usize = 16;

/// An implemented symmetric cipher and key size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SymAlg {
    Aes128,
    Aes256,
    Sm4_128,
}

impl SymAlg {
    /// From a TPM_ALG_ID and a key size in bits (TPMT_SYM_DEF), or `None` if
    /// the combination is not implemented.
    pub fn from_tpm(alg_id: u16, key_bits: u16) -> Option<SymAlg> {
        match (alg_id, key_bits) {
            (alg::AES, 128) => Some(SymAlg::Aes128),
            (alg::AES, 256) => Some(SymAlg::Aes256),
            (alg::SM4, 128) => Some(SymAlg::Sm4_128),
            _ => None,
        }
    }

    pub fn alg_id(self) -> u16 {
        match self {
            SymAlg::Aes128 | SymAlg::Aes256 => alg::AES,
            SymAlg::Sm4_128 => alg::SM4,
        }
    }

    pub fn key_bits(self) -> u16 {
        match self {
            SymAlg::Aes128 | SymAlg::Sm4_128 => 128,
            SymAlg::Aes256 => 256,
        }
    }

    pub fn key_bytes(self) -> usize {
        usize::from(self.key_bits()) / 8
    }

    pub fn block_size(self) -> usize {
        BLOCK_SIZE
    }
}

/// A block-cipher mode of operation (TPM_ALG_CFB etc.).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SymMode {
    Cfb,
    Ctr,
    Ofb,
    Cbc,
    Ecb,
}

impl SymMode {
    pub fn from_id(id: u16) -> Option<SymMode> {
        match id {
            alg::CFB => Some(SymMode::Cfb),
            alg::CTR => Some(SymMode::Ctr),
            alg::OFB => Some(SymMode::Ofb),
            alg::CBC => Some(SymMode::Cbc),
            alg::ECB => Some(SymMode::Ecb),
            _ => None,
        }
    }

    pub fn id(self) -> u16 {
        match self {
            SymMode::Cfb => alg::CFB,
            SymMode::Ctr => alg::CTR,
            SymMode::Ofb => alg::OFB,
            SymMode::Cbc => alg::CBC,
            SymMode::Ecb => alg::ECB,
        }
    }
}

/// A keyed block cipher; the key schedules zeroize themselves on drop.
/// Lives on the stack for one call, so the size difference between the
/// variants does not matter.
#[allow(clippy::large_enum_variant)]
enum Cipher {
    Aes128(aes::Aes128),
    Aes256(aes::Aes256),
    Sm4(sm4::Sm4),
}

impl Cipher {
    fn new(alg: SymAlg, key: &[u8]) -> Result<Cipher, CryptoError> {
        if key.len() != alg.key_bytes() {
            return Err(CryptoError::KeySize);
        }
        Ok(match alg {
            SymAlg::Aes128 => Cipher::Aes128(aes::Aes128::new(GenericArray::from_slice(key))),
            SymAlg::Aes256 => Cipher::Aes256(aes::Aes256::new(GenericArray::from_slice(key))),
            SymAlg::Sm4_128 => Cipher::Sm4(sm4::Sm4::new(GenericArray::from_slice(key))),
        })
    }

    fn encrypt(&self, block: &mut [u8; BLOCK_SIZE]) {
        let b = GenericArray::from_mut_slice(block);
        match self {
            Cipher::Aes128(c) => c.encrypt_block(b),
            Cipher::Aes256(c) => c.encrypt_block(b),
            Cipher::Sm4(c) => c.encrypt_block(b),
        }
    }

    fn decrypt(&self, block: &mut [u8; BLOCK_SIZE]) {
        let b = GenericArray::from_mut_slice(block);
        match self {
            Cipher::Aes128(c) => c.decrypt_block(b),
            Cipher::Aes256(c) => c.decrypt_block(b),
            Cipher::Sm4(c) => c.decrypt_block(b),
        }
    }
}

fn iv_array(mode: SymMode, iv: &[u8]) -> Result<[u8; BLOCK_SIZE], CryptoError> {
    if mode == SymMode::Ecb {
        return Ok([0u8; BLOCK_SIZE]);
    }
    iv.try_into().map_err(|_| CryptoError::Size)
}

fn check_whole_blocks(mode: SymMode, len: usize) -> Result<(), CryptoError> {
    if matches!(mode, SymMode::Cbc | SymMode::Ecb) && !len.is_multiple_of(BLOCK_SIZE) {
        return Err(CryptoError::Size);
    }
    Ok(())
}

/// Increments a big-endian counter block (wrapping), as the reference's CTR.
fn increment(counter: &mut [u8; BLOCK_SIZE]) {
    for b in counter.iter_mut().rev() {
        *b = b.wrapping_add(1);
        if *b != 0 {
            break;
        }
    }
}

/// Encrypts `data` in place. `iv` must be one block (ignored for ECB) and
/// receives the next IV as described in the module documentation.
///
/// Errors: [`CryptoError::KeySize`] if `key` is not the cipher's key size,
/// [`CryptoError::Size`] if `iv` is not one block or CBC/ECB data is not a
/// whole number of blocks (TPM_RC_SIZE, as the reference). On error nothing
/// is changed.
pub fn encrypt(
    alg: SymAlg,
    mode: SymMode,
    key: &[u8],
    iv: &mut [u8],
    data: &mut [u8],
) -> Result<(), CryptoError> {
    let cipher = Cipher::new(alg, key)?;
    let mut state = iv_array(mode, iv)?;
    check_whole_blocks(mode, data.len())?;
    let mut ks = [0u8; BLOCK_SIZE];
    match mode {
        SymMode::Cfb => {
            let mut last = 0;
            for chunk in data.chunks_mut(BLOCK_SIZE) {
                cipher.encrypt(&mut state);
                for (d, s) in chunk.iter_mut().zip(state.iter_mut()) {
                    *s ^= *d;
                    *d = *s;
                }
                last = chunk.len();
            }
            if last != 0 {
                state[last..].fill(0);
            }
        }
        SymMode::Ctr => {
            for chunk in data.chunks_mut(BLOCK_SIZE) {
                ks = state;
                cipher.encrypt(&mut ks);
                increment(&mut state);
                chunk.iter_mut().zip(ks.iter()).for_each(|(d, k)| *d ^= k);
            }
        }
        SymMode::Ofb => {
            for chunk in data.chunks_mut(BLOCK_SIZE) {
                cipher.encrypt(&mut state);
                chunk
                    .iter_mut()
                    .zip(state.iter())
                    .for_each(|(d, k)| *d ^= k);
            }
        }
        SymMode::Cbc => {
            for chunk in data.chunks_mut(BLOCK_SIZE) {
                state
                    .iter_mut()
                    .zip(chunk.iter())
                    .for_each(|(s, d)| *s ^= d);
                cipher.encrypt(&mut state);
                chunk.copy_from_slice(&state);
            }
        }
        SymMode::Ecb => {
            for chunk in data.chunks_mut(BLOCK_SIZE) {
                ks.copy_from_slice(chunk);
                cipher.encrypt(&mut ks);
                chunk.copy_from_slice(&ks);
            }
        }
    }
    if mode != SymMode::Ecb {
        iv.copy_from_slice(&state);
    }
    ks.zeroize();
    state.zeroize();
    Ok(())
}

/// Decrypts `data` in place; the inverse of [`encrypt`] with the same IV
/// semantics (the next IV after decrypting equals the one after encrypting
/// the same plaintext). Same errors as [`encrypt`].
pub fn decrypt(
    alg: SymAlg,
    mode: SymMode,
    key: &[u8],
    iv: &mut [u8],
    data: &mut [u8],
) -> Result<(), CryptoError> {
    match mode {
        // Stream modes: CTR and OFB are their own inverse.
        SymMode::Ctr | SymMode::Ofb => return encrypt(alg, mode, key, iv, data),
        SymMode::Cfb | SymMode::Cbc | SymMode::Ecb => {}
    }
    let cipher = Cipher::new(alg, key)?;
    let mut state = iv_array(mode, iv)?;
    check_whole_blocks(mode, data.len())?;
    let mut tmp = [0u8; BLOCK_SIZE];
    match mode {
        SymMode::Cfb => {
            let mut last = 0;
            for chunk in data.chunks_mut(BLOCK_SIZE) {
                tmp = state;
                cipher.encrypt(&mut tmp);
                for ((d, s), k) in chunk.iter_mut().zip(state.iter_mut()).zip(tmp.iter()) {
                    *s = *d;
                    *d ^= k;
                }
                last = chunk.len();
            }
            if last != 0 {
                state[last..].fill(0);
            }
        }
        SymMode::Cbc => {
            for chunk in data.chunks_mut(BLOCK_SIZE) {
                tmp.copy_from_slice(chunk);
                let mut block = tmp;
                cipher.decrypt(&mut block);
                block
                    .iter_mut()
                    .zip(state.iter())
                    .for_each(|(b, s)| *b ^= s);
                chunk.copy_from_slice(&block);
                state = tmp;
                block.zeroize();
            }
        }
        SymMode::Ecb => {
            for chunk in data.chunks_mut(BLOCK_SIZE) {
                tmp.copy_from_slice(chunk);
                cipher.decrypt(&mut tmp);
                chunk.copy_from_slice(&tmp);
            }
        }
        SymMode::Ctr | SymMode::Ofb => {}
    }
    if mode != SymMode::Ecb {
        iv.copy_from_slice(&state);
    }
    tmp.zeroize();
    state.zeroize();
    Ok(())
}

/// The label of CFB parameter encryption (Part 1 §21.3), NUL-terminated.
pub const CFB_LABEL: &[u8] = b"CFB\0";

/// Key and IV for CFB parameter encryption (Part 1 §21.3, Equation 24):
/// `KDFa(hash, sessionKey || authValue, "CFB", nonceNewer, nonceOlder,
/// keyBits + blockBits)`; the key is the first keyBits, the IV the rest.
/// For a command nonceNewer = nonceCaller, nonceOlder = nonceTPM; for a
/// response the roles swap (ParmDecryptSym / ParmEncryptSym).
pub fn param_cfb_key_iv(
    hash: HashAlg,
    alg: SymAlg,
    session_key: &[u8],
    auth_value: &[u8],
    nonce_newer: &[u8],
    nonce_older: &[u8],
) -> (Zeroizing<Vec<u8>>, [u8; BLOCK_SIZE]) {
    let mut hmac_key = Zeroizing::new(Vec::with_capacity(session_key.len() + auth_value.len()));
    hmac_key.extend_from_slice(session_key);
    hmac_key.extend_from_slice(auth_value);
    let bits = u32::from(alg.key_bits()) + 8 * BLOCK_SIZE as u32;
    let stream = kdfa(hash, &hmac_key, CFB_LABEL, nonce_newer, nonce_older, bits);
    let kb = alg.key_bytes();
    let key = Zeroizing::new(stream[..kb].to_vec());
    let mut iv = [0u8; BLOCK_SIZE];
    iv.copy_from_slice(&stream[kb..kb + BLOCK_SIZE]);
    (key, iv)
}

/// Encrypts (`encrypt == true`) or decrypts a session-encrypted parameter in
/// place with CFB (Part 1 §21.3). The caller passes the nonces in the order
/// of the direction: (nonceCaller, nonceTPM) for a command parameter,
/// (nonceTPM, nonceCaller) for a response parameter.
#[allow(clippy::too_many_arguments)]
pub fn param_cfb(
    hash: HashAlg,
    alg: SymAlg,
    session_key: &[u8],
    auth_value: &[u8],
    nonce_newer: &[u8],
    nonce_older: &[u8],
    encrypt_data: bool,
    data: &mut [u8],
) -> Result<(), CryptoError> {
    let (key, mut iv) =
        param_cfb_key_iv(hash, alg, session_key, auth_value, nonce_newer, nonce_older);
    let r = if encrypt_data {
        encrypt(alg, SymMode::Cfb, &key, &mut iv, data)
    } else {
        decrypt(alg, SymMode::Cfb, &key, &mut iv, data)
    };
    iv.zeroize();
    r
}
