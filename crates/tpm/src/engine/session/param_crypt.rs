//! Parameter encryption (Part 1 §21): the first TPM2B parameter of a
//! command or response, encrypted with XOR obfuscation or a block cipher in
//! CFB mode, keyed from sessionKey || authValue and the session's nonces.

use crate::crypto::sym::param_cfb;
use crate::crypto::xor::param_xor;
use crate::crypto::SymAlg;
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
    let auth = super::super::auth::trim(extra_key);
    let key = &session.session_key;
    let r = match session.symmetric {
        SessionSym::Null => return Err(Rc::SYMMETRIC),
        SessionSym::Xor(h) => param_xor(h, key, auth, nonce_newer, nonce_older, data),
        SessionSym::Cfb { alg, key_bits } => {
            let alg = SymAlg::from_tpm(alg, key_bits).ok_or(Rc::SYMMETRIC)?;
            param_cfb(
                session.auth_hash,
                alg,
                key,
                auth,
                nonce_newer,
                nonce_older,
                encrypting,
                data,
            )
        }
    };
    r.map_err(|e| e.rc())
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
