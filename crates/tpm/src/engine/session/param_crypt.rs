//! Parameter encryption (Part 1 §21): the first TPM2B parameter of a
//! command or response, encrypted with XOR obfuscation or a block cipher in
//! CFB mode, keyed from sessionKey || authValue and the session's nonces.

use zeroize::Zeroizing;

use crate::crypto::kdf::kdfa;
use crate::rc::Rc;

use super::{Session, SessionSym};

/// Splits off the first parameter's data: a 2-octet size then that many
/// octets (every encryptable parameter is a TPM2B).
fn first_param(params: &mut [u8]) -> Result<&mut [u8], Rc> {
    if params.len() < 2 {
        return Err(Rc::INSUFFICIENT);
    }
    let n = u16::from_be_bytes([params[0], params[1]]) as usize;
    params.get_mut(2..2 + n).ok_or(Rc::SIZE)
}

fn apply(
    session: &Session,
    extra_key: &[u8],
    nonce_newer: &[u8],
    nonce_older: &[u8],
    data: &mut [u8],
    encrypting: bool,
) -> Result<(), Rc> {
    let mut key = Zeroizing::new(session.session_key.to_vec());
    key.extend_from_slice(super::super::auth::trim(extra_key));
    match session.symmetric {
        SessionSym::Null => Err(Rc::SYMMETRIC),
        SessionSym::Xor(h) => {
            let mask = kdfa(
                h,
                &key,
                b"XOR",
                nonce_newer,
                nonce_older,
                (data.len() * 8) as u32,
            );
            for (d, m) in data.iter_mut().zip(mask.iter()) {
                *d ^= m;
            }
            Ok(())
        }
        SessionSym::Cfb { alg, key_bits } => {
            let key_len = usize::from(key_bits / 8);
            let bits = (key_bits as u32) + 128;
            let material = kdfa(
                session.auth_hash,
                &key,
                b"CFB",
                nonce_newer,
                nonce_older,
                bits,
            );
            let (k, iv) = material.split_at(key_len.min(material.len()));
            // TODO(crypto/sym): CFB lands with the symmetric cipher module.
            let _ = (alg, k, iv, data, encrypting);
            Err(Rc::SYMMETRIC)
        }
    }
}

/// Decrypts the command's first parameter in place (nonceNewer is the
/// caller's nonce, nonceOlder the TPM's).
pub(super) fn decrypt(
    session: &Session,
    extra_key: &[u8],
    nonce_caller: &[u8],
    params: &mut [u8],
) -> Result<(), Rc> {
    let data = first_param(params)?;
    apply(
        session,
        extra_key,
        nonce_caller,
        &session.nonce_tpm,
        data,
        false,
    )
}

/// Encrypts the response's first parameter in place (nonceNewer is the
/// TPM's fresh nonce, nonceOlder the caller's).
pub(super) fn encrypt(
    session: &Session,
    extra_key: &[u8],
    nonce_caller: &[u8],
    params: &mut [u8],
) -> Result<(), Rc> {
    let data = first_param(params)?;
    apply(
        session,
        extra_key,
        &session.nonce_tpm,
        nonce_caller,
        data,
        true,
    )
}
