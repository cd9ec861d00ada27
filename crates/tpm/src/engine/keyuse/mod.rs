//! The commands that use a loaded key (Part 3 §14 asymmetric, §15
//! symmetric, §20 signing): TPM2_Sign, TPM2_VerifySignature, TPM2_HMAC,
//! TPM2_HMAC_Start, TPM2_EncryptDecrypt(2), TPM2_RSA_Encrypt,
//! TPM2_RSA_Decrypt, TPM2_ECDH_KeyGen and TPM2_ECDH_ZGen.
//!
//! One file per family; the signing rules they share with the attestation
//! and policy commands are in `engine::signing`. Each handler checks its
//! key in the reference code's order and returns its response codes with
//! the same handle and parameter numbers.

mod ecdh;
mod hmac;
mod rsa_cmds;
mod sign;
mod symmetric;

pub(crate) use ecdh::{ecdh_key_gen, ecdh_zgen};
pub(crate) use hmac::{hmac, hmac_start, HmacState};
pub(crate) use rsa_cmds::{rsa_decrypt, rsa_encrypt};
pub(crate) use sign::{sign, verify_signature};
pub(crate) use symmetric::{encrypt_decrypt, encrypt_decrypt2};

use crate::rc::Rc;
use crate::wire::{Reader, Tpm2b, WireError};

use super::object::LoadedObject;
use super::Tpm;

/// The object behind the command's key handle. The handle area check made
/// sure something is loaded there; a sequence object is not a key, so it
/// gets the error the command gives for a key of the wrong type (`wrong`,
/// numbered as handle 1).
fn key_object(tpm: &Tpm, handle: u32, wrong: Rc) -> Result<&LoadedObject, Rc> {
    tpm.object(handle).ok_or(wrong.handle(1))
}

/// A TPM2B whose size this TPM bounds at `limit` octets (below the type's
/// capacity `MAX`): TPM2B_PUBLIC_KEY_RSA is MAX_RSA_KEY_BYTES long here
/// (TPM_RC_SIZE beyond, as the reference unmarshaller).
fn read_bounded<const MAX: usize>(
    r: &mut Reader<'_>,
    limit: usize,
) -> Result<Tpm2b<MAX>, WireError> {
    let n = usize::from(r.u16()?);
    if n > MAX.min(limit) {
        return Err(WireError::Size);
    }
    Ok(Tpm2b(r.take(n)?.to_vec()))
}
