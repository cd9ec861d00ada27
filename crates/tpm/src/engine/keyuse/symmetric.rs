//! TPM2_EncryptDecrypt and TPM2_EncryptDecrypt2 (Part 3 §15.2, §15.3):
//! symmetric encryption with a loaded SYMCIPHER key.

use zeroize::Zeroizing;

use crate::constants::alg;
use crate::crypto::{sym, SymAlg, SymMode};
use crate::rc::Rc;
use crate::types::{AlgPolicy, Iv2b, MaxBuffer, PublicParms, SymDefObject};
use crate::wire::{Reader, Tpm2b, WireError};

use super::super::algorithms::Implemented;
use super::super::dispatch::Ctx;
use super::super::{selftest, Tpm};
use super::key_object;

/// Parameter numbers of the two commands, which carry the same parameters
/// in a different order (EncryptDecrypt2 moved inData first so that it
/// can be encrypted by a session).
struct Pos {
    mode: u32,
    iv: u32,
    data: u32,
}

/// TPMI_YES_NO: 0 or 1, else TPM_RC_VALUE.
fn read_yes_no(r: &mut Reader<'_>) -> Result<bool, WireError> {
    match r.u8()? {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(WireError::Value),
    }
}

/// TPMI_ALG_CIPHER_MODE+: TPM_ALG_NULL or an implemented block cipher
/// mode, else TPM_RC_MODE.
fn read_mode(r: &mut Reader<'_>) -> Result<u16, WireError> {
    let m = r.u16()?;
    if m == alg::NULL || Implemented.sym_mode(m) {
        Ok(m)
    } else {
        Err(WireError::Mode)
    }
}

/// EncryptDecryptShared (reference EncryptDecrypt_spt.c). The key must be
/// a SYMCIPHER object (TPM_RC_KEY, handle 1), unrestricted, with `decrypt`
/// set to decrypt and `sign` set to encrypt (TPM_RC_ATTRIBUTES, handle 1).
/// The mode is the key's; a caller's mode must then be NULL or the same,
/// and a key without a mode needs one from the caller (TPM_RC_MODE). Every
/// mode but ECB needs an IV of exactly one block (TPM_RC_SIZE); CBC and ECB
/// need whole blocks of data (TPM_RC_SIZE). The IV returned is the one to
/// continue the chain with (see `crypto::sym`).
fn shared(
    tpm: &mut Tpm,
    ctx: &mut Ctx<'_>,
    decrypt: bool,
    mode_in: u16,
    iv: &Iv2b,
    data: &MaxBuffer,
    pos: &Pos,
) -> Result<(), Rc> {
    let obj = key_object(tpm, ctx.handle(0), Rc::KEY)?;
    let PublicParms::SymCipher(parms) = &obj.public.parameters else {
        return Err(Rc::KEY.handle(1));
    };
    let a = obj.public.attributes;
    let allowed = !a.restricted()
        && if decrypt {
            a.decrypt()
        } else {
            a.sign_encrypt()
        };
    if !allowed {
        return Err(Rc::ATTRIBUTES.handle(1));
    }
    let SymDefObject::Cipher {
        alg: sym_alg,
        key_bits,
        mode: key_mode,
    } = parms.sym
    else {
        return Err(Rc::KEY.handle(1));
    };
    let mode = if key_mode != alg::NULL {
        if mode_in != alg::NULL && mode_in != key_mode {
            return Err(Rc::MODE.param(pos.mode));
        }
        key_mode
    } else if mode_in == alg::NULL {
        return Err(Rc::MODE.param(pos.mode));
    } else {
        mode_in
    };
    let mode = SymMode::from_id(mode).ok_or(Rc::MODE.param(pos.mode))?;
    let cipher = SymAlg::from_tpm(sym_alg, key_bits).ok_or(Rc::KEY.handle(1))?;
    let block = cipher.block_size();
    let iv_ok = if mode == SymMode::Ecb {
        iv.is_empty()
    } else {
        iv.len() == block
    };
    if !iv_ok {
        return Err(Rc::SIZE.param(pos.iv));
    }
    if matches!(mode, SymMode::Cbc | SymMode::Ecb) && !data.len().is_multiple_of(block) {
        return Err(Rc::SIZE.param(pos.data));
    }
    let key = Zeroizing::new(obj.sym_key().ok_or(Rc::KEY.handle(1))?.to_vec());
    selftest::ensure_tested(tpm, sym_alg)?;
    let mut out = Zeroizing::new(data.as_slice().to_vec());
    let mut iv_out = iv.as_slice().to_vec();
    let r = if decrypt {
        sym::decrypt(cipher, mode, &key, &mut iv_out, &mut out)
    } else {
        sym::encrypt(cipher, mode, &key, &mut iv_out, &mut out)
    };
    r.map_err(|e| e.rc())?;
    let out: MaxBuffer = Tpm2b(out.to_vec());
    let iv_out: Iv2b = Tpm2b(iv_out);
    ctx.write(&out);
    ctx.write(&iv_out);
    Ok(())
}

/// TPM2_EncryptDecrypt (Part 3 §15.2): keyHandle, then decrypt (1), mode
/// (2), ivIn (3), inData (4).
pub(crate) fn encrypt_decrypt(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    let decrypt = ctx.read_with(read_yes_no)?;
    let mode = ctx.read_with(read_mode)?;
    let iv: Iv2b = ctx.read()?;
    let data: MaxBuffer = ctx.read()?;
    ctx.done()?;
    let pos = Pos {
        mode: 2,
        iv: 3,
        data: 4,
    };
    shared(tpm, ctx, decrypt, mode, &iv, &data, &pos)
}

/// TPM2_EncryptDecrypt2 (Part 3 §15.3): the same with inData first (1),
/// then decrypt (2), mode (3), ivIn (4), so a session can encrypt the data.
pub(crate) fn encrypt_decrypt2(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    let data: MaxBuffer = ctx.read()?;
    let decrypt = ctx.read_with(read_yes_no)?;
    let mode = ctx.read_with(read_mode)?;
    let iv: Iv2b = ctx.read()?;
    ctx.done()?;
    let pos = Pos {
        mode: 3,
        iv: 4,
        data: 1,
    };
    shared(tpm, ctx, decrypt, mode, &iv, &data, &pos)
}
