//! TPM2_MakeCredential (Part 3 §12.6) and TPM2_ActivateCredential
//! (§12.5): credential protection (Part 1 §24). A seed shared with the
//! protecting key (an EK, with the label "IDENTITY") keys an outer wrap
//! of the credential bound to the Name of the object it is issued to; only
//! the TPM holding that key and that object can recover it.

use crate::constants::alg;
use crate::crypto::secret::LABEL_IDENTITY;
use crate::rc::Rc;
use crate::types::{Digest2b, EncryptedSecret2b, IdObject2b, Limits, Name};
use crate::wire::Tpm2b;

use super::super::dispatch::Ctx;
use super::super::Tpm;
use super::loaded::LoadedObject;
use super::protect::{credential_to_secret, secret_to_credential};
use super::validate::digest_size;
use super::{secret_decrypt, secret_encrypt};

/// An asymmetric restricted decryption key: what may protect credentials.
fn is_credential_key(k: &LoadedObject) -> bool {
    let a = k.public.attributes;
    matches!(k.public.object_type(), alg::RSA | alg::ECC) && a.decrypt() && a.restricted()
}

/// TPM2_MakeCredential. Handle: the protecting key (1, may be public-only).
/// Parameters: credential (1), objectName (2).
pub(crate) fn make_credential(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    let handle = ctx.handle(0);
    let credential: Digest2b = ctx.read()?;
    let object_name: Name = ctx.read()?;
    ctx.done()?;

    let key = tpm.object(handle).ok_or(Rc::HANDLE.handle(1))?;
    if !is_credential_key(key) {
        return Err(Rc::TYPE.handle(1));
    }
    if credential.len() > digest_size(key.public.name_alg) {
        return Err(Rc::SIZE.param(1));
    }
    let key = key.clone();
    let (seed, secret) = secret_encrypt(tpm, &key, LABEL_IDENTITY)?;
    let blob = secret_to_credential(
        credential.as_slice(),
        object_name.as_bytes(),
        &seed,
        &key.public,
    )?;
    ctx.write(&IdObject2b::new(blob).map_err(|_| Rc::FAILURE)?);
    ctx.write(&EncryptedSecret2b::new(secret).map_err(|_| Rc::FAILURE)?);
    Ok(())
}

/// TPM2_ActivateCredential. Handles: activateHandle (1, ADMIN role),
/// keyHandle (2, USER role). Parameters: credentialBlob (1), secret (2).
pub(crate) fn activate_credential(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    let activate = ctx.handle(0);
    let key_handle = ctx.handle(1);
    let blob: IdObject2b = ctx.read()?;
    let secret = ctx.read_with(|r| Limits::PROFILE.read_encrypted_secret(r))?;
    ctx.done()?;

    let key = tpm.object(key_handle).ok_or(Rc::HANDLE.handle(2))?;
    if !is_credential_key(key) {
        return Err(Rc::TYPE.handle(2));
    }
    let key = key.clone();
    let name = tpm
        .object(activate)
        .map(|o| o.name.clone())
        .ok_or(Rc::HANDLE.handle(1))?;
    // As the reference: a key that cannot decrypt at all is a failure, any
    // other decryption error belongs to the secret.
    let seed = secret_decrypt(tpm, &key, LABEL_IDENTITY, secret.as_slice()).map_err(|e| {
        if e == Rc::KEY {
            Rc::FAILURE
        } else {
            e.param(2)
        }
    })?;
    let cert = credential_to_secret(blob.as_slice(), name.as_bytes(), &seed, &key.public)
        .map_err(|e| e.param(1))?;
    ctx.write(&Tpm2b::<64>(cert.to_vec()));
    Ok(())
}
