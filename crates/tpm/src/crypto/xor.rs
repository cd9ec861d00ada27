//! XOR obfuscation (TPM 2.0 Part 1 §11.4.6.3) and XOR parameter encryption
//! (Part 1 §21.2).
//!
//! The mask is `KDFa(hashAlg, key, "XOR", contextU, contextV, data.len()*8)`
//! and is XORed into the data; applying it twice restores the data, so the
//! same function encrypts and decrypts.

use crate::crypto::kdf::kdfa;
use crate::crypto::CryptoError;
use crate::crypto::HashAlg;

/// The label of XOR obfuscation (Part 1 §11.4.6.3), NUL-terminated.
pub const XOR_LABEL: &[u8] = b"XOR\0";

/// XORs `data` in place with `KDFa(hash, key, "XOR", context_u, context_v,
/// 8 * data.len())` (Part 1 §11.4.6.3, Equation 13; CryptXORObfuscation in
/// the reference, which generates the same stream block by block).
///
/// Fails with [`CryptoError::Size`] (leaving `data` untouched) only if the
/// bit count does not fit the 32-bit field, which no TPM2B can reach.
pub fn xor_obfuscate(
    hash: HashAlg,
    key: &[u8],
    context_u: &[u8],
    context_v: &[u8],
    data: &mut [u8],
) -> Result<(), CryptoError> {
    if data.is_empty() {
        return Ok(());
    }
    let bits = u32::try_from(data.len())
        .ok()
        .and_then(|n| n.checked_mul(8))
        .ok_or(CryptoError::Size)?;
    let mask = kdfa(hash, key, XOR_LABEL, context_u, context_v, bits);
    for (d, m) in data.iter_mut().zip(mask.iter()) {
        *d ^= m;
    }
    Ok(())
}

/// XOR parameter encryption of a session (Part 1 §21.2): the key is
/// `sessionKey || authValue` of the session's bound entity, contextU the
/// newer nonce and contextV the older one. For a command (caller
/// encrypting, TPM decrypting) nonceNewer = nonceCaller and nonceOlder =
/// nonceTPM; for a response the roles swap.
pub fn param_xor(
    hash: HashAlg,
    session_key: &[u8],
    auth_value: &[u8],
    nonce_newer: &[u8],
    nonce_older: &[u8],
    data: &mut [u8],
) -> Result<(), CryptoError> {
    let mut key = zeroize::Zeroizing::new(Vec::with_capacity(session_key.len() + auth_value.len()));
    key.extend_from_slice(session_key);
    key.extend_from_slice(auth_value);
    xor_obfuscate(hash, &key, nonce_newer, nonce_older, data)
}
