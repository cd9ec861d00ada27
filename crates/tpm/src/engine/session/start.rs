//! TPM2_StartAuthSession (Part 3 §11.1; session key per Part 1 §19.6.8).

use zeroize::Zeroizing;

use crate::constants::{alg, rh};
use crate::crypto::kdf::kdfa;
use crate::crypto::HashAlg;
use crate::rc::Rc;
use crate::types::{Nonce2b, SymDefObject};
use crate::wire::{Reader, Tpm2b, WireError};

use super::super::algorithms::Implemented;
use super::super::auth::{auth_value, entity_name};
use super::super::dispatch::Ctx;
use super::super::Tpm;
use super::{PolicyState, Session, SessionKind, SessionSym};

/// TPM2B_ENCRYPTED_SECRET capacity (sizeof TPMU_ENCRYPTED_SECRET: an RSA
/// 3072 ciphertext is the largest).
type EncryptedSecret = Tpm2b<384>;

/// TPM_SE values (Part 2 §6.11).
const SE_HMAC: u8 = 0x00;
const SE_POLICY: u8 = 0x01;
const SE_TRIAL: u8 = 0x03;

/// TPMT_SYM_DEF+ (Part 2 §11.1.6): like TPMT_SYM_DEF_OBJECT, plus XOR whose
/// "key bits" field is a hash algorithm.
fn read_sym_def(r: &mut Reader<'_>) -> Result<SessionSym, WireError> {
    let peek = r.rest();
    if peek.len() >= 2 && u16::from_be_bytes([peek[0], peek[1]]) == alg::XOR {
        r.u16()?;
        let h = HashAlg::from_id(r.u16()?).ok_or(WireError::Hash)?;
        return Ok(SessionSym::Xor(h));
    }
    match SymDefObject::decode_with(r, &Implemented, true)? {
        SymDefObject::Null => Ok(SessionSym::Null),
        SymDefObject::Cipher {
            alg,
            key_bits,
            mode,
        } => {
            // Only CFB is allowed for parameter encryption (Part 3 §11.1.1).
            if mode != crate::constants::alg::CFB {
                return Err(WireError::Mode);
            }
            Ok(SessionSym::Cfb { alg, key_bits })
        }
    }
}

pub(crate) fn start_auth_session(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    let tpm_key = ctx.handle(0);
    let bind = ctx.handle(1);
    let nonce_caller: Nonce2b = ctx.read()?;
    let encrypted_salt: EncryptedSecret = ctx.read()?;
    let session_type: u8 = ctx.read()?;
    let symmetric = ctx.read_with(read_sym_def)?;
    let auth_hash = ctx.read_with(|r| HashAlg::from_id(r.u16()?).ok_or(WireError::Hash))?;
    ctx.done()?;

    let kind = match session_type {
        SE_HMAC => SessionKind::Hmac,
        SE_POLICY => SessionKind::Policy,
        SE_TRIAL => SessionKind::Trial,
        _ => return Err(Rc::VALUE.param(3)),
    };
    if tpm_key == rh::NULL && !encrypted_salt.is_empty() {
        return Err(Rc::VALUE.param(2));
    }
    let n = nonce_caller.len();
    if n < 16 || n > auth_hash.digest_size() {
        return Err(Rc::SIZE.param(1));
    }
    let salt: Zeroizing<Vec<u8>> = if tpm_key == rh::NULL {
        Zeroizing::new(Vec::new())
    } else {
        super::super::objects::decrypt_salt(tpm, tpm_key, encrypted_salt.as_slice())?
    };

    let nonce_tpm = tpm.drbg.bytes(auth_hash.digest_size());
    let bind_auth = if bind == rh::NULL {
        Zeroizing::new(Vec::new())
    } else {
        auth_value(tpm, bind)?
    };
    let session_key = if bind == rh::NULL && salt.is_empty() {
        Zeroizing::new(Vec::new())
    } else {
        let mut key = Zeroizing::new(bind_auth.to_vec());
        key.extend_from_slice(&salt);
        kdfa(
            auth_hash,
            &key,
            b"ATH",
            &nonce_tpm,
            nonce_caller.as_slice(),
            (auth_hash.digest_size() * 8) as u32,
        )
    };
    // A policy session is never bound (Part 1 §19.6.13); the bind entity only
    // contributes to its key.
    let bound = if bind != rh::NULL && kind == SessionKind::Hmac {
        Some((entity_name(tpm, bind), bind_auth))
    } else {
        None
    };
    let session = Session {
        kind,
        auth_hash,
        session_key,
        nonce_tpm: nonce_tpm.clone(),
        symmetric,
        bound,
        policy: PolicyState::new(auth_hash),
        audit_digest: None,
        start_time: tpm.time_since_init(),
    };
    let handle = tpm.add_session(session)?;
    ctx.out_handle = Some(handle);
    ctx.write(&Tpm2b::<64>(nonce_tpm));
    Ok(())
}
