//! TPM2_Sign and TPM2_VerifySignature (Part 3 §20.2, §20.1).

use crate::constants::{alg, rh};
use crate::crypto::HashAlg;
use crate::rc::Rc;
use crate::types::{Digest2b, SigScheme, Signature, TkHashcheck, TkVerified};
use crate::wire::{Codec, Reader, WireError};

use super::super::algorithms::Implemented;
use super::super::dispatch::Ctx;
use super::super::hash_cmds::verify_hashcheck;
use super::super::policy::ticket::compute_verified;
use super::super::{selftest, signing, Tpm};
use super::key_object;

/// TPMT_TK_HASHCHECK with its TPMI_RH_HIERARCHY+ checked: a wrong tag is
/// TPM_RC_TAG, a hierarchy that is not one is TPM_RC_VALUE (as the
/// reference unmarshaller).
fn read_hashcheck(r: &mut Reader<'_>) -> Result<TkHashcheck, WireError> {
    let t = TkHashcheck::decode(r)?;
    match t.hierarchy {
        rh::OWNER | rh::ENDORSEMENT | rh::PLATFORM | rh::NULL => Ok(t),
        _ => Err(WireError::Value),
    }
}

/// TPM2_Sign (Part 3 §20.2): signs a digest with a signing key.
///
/// In the reference code's order: a key that cannot sign is TPM_RC_KEY
/// and an x509sign key TPM_RC_ATTRIBUTES (handle 1); a scheme that does
/// not agree with the key's is TPM_RC_SCHEME (parameter 2). A restricted
/// key signs only a digest the TPM computed itself over data that does
/// not start with TPM_GENERATED_VALUE, proven by a TPMT_TK_HASHCHECK
/// (Part 1 §11.4.6.3) — so it can never be made to sign something that
/// looks like a TPM attestation; a ticket that does not match is
/// TPM_RC_TICKET (parameter 3), and a ticket given for an unrestricted key
/// is checked too. Without a ticket the digest must at least be the size
/// of the scheme's hash (TPM_RC_SIZE, parameter 1). Errors of the signing
/// itself are unnumbered (CryptSign).
pub(crate) fn sign(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    let key = ctx.handle(0);
    let digest: Digest2b = ctx.read()?;
    let in_scheme = ctx.read_with(|r| SigScheme::decode_with(r, &Implemented, true))?;
    let validation = ctx.read_with(read_hashcheck)?;
    ctx.done()?;

    signing::check_sign_key(tpm, key).map_err(|e| e.handle(1))?;
    let obj = key_object(tpm, key, Rc::KEY)?;
    let attrs = obj.public.attributes;
    if attrs.x509_sign() {
        return Err(Rc::ATTRIBUTES.handle(1));
    }
    let scheme = signing::select_for_public(&obj.public, &in_scheme).map_err(|e| e.param(2))?;
    // A key can only have a non-NULL scheme here; its hash is implemented
    // (the public area and inScheme were unmarshalled with this TPM's
    // algorithm checks).
    let hash = scheme
        .hash()
        .and_then(HashAlg::from_id)
        .ok_or(Rc::SCHEME.param(2))?;
    if !validation.digest.is_empty() || attrs.restricted() {
        if !verify_hashcheck(tpm, &validation, hash, digest.as_slice()) {
            return Err(Rc::TICKET.param(3));
        }
    } else if digest.len() != hash.digest_size() {
        return Err(Rc::SIZE.param(1));
    }
    selftest::ensure_tested(tpm, hash.id())?;
    selftest::ensure_tested(tpm, scheme.id())?;
    let signature = signing::sign_digest(tpm, key, &scheme, digest.as_slice())?;
    ctx.write(&signature);
    Ok(())
}

/// TPM2_VerifySignature (Part 3 §20.1): checks a signature over a digest
/// and returns a TPMT_TK_VERIFIED — HMAC(proof of the key's hierarchy,
/// TPM_ST_VERIFIED || digest || keyName) — that TPM2_PolicyAuthorize
/// accepts as proof the key's owner approved that digest.
///
/// A key without TPMA_OBJECT.sign is TPM_RC_ATTRIBUTES (handle 1); a
/// signature the key cannot check is TPM_RC_SCHEME, a bad one
/// TPM_RC_SIGNATURE, an HMAC signature by a public-only keyed-hash object
/// TPM_RC_HANDLE (all parameter 2). A key of the NULL hierarchy (e.g.
/// loaded with TPM2_LoadExternal) or with a NULL nameAlg yields the NULL
/// ticket: there is no hierarchy proof that could vouch for it.
pub(crate) fn verify_signature(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    let key = ctx.handle(0);
    let digest: Digest2b = ctx.read()?;
    let signature = ctx.read_with(|r| Signature::decode_with(r, &Implemented, false))?;
    ctx.done()?;

    let obj = key_object(tpm, key, Rc::ATTRIBUTES)?;
    if !obj.public.attributes.sign_encrypt() {
        return Err(Rc::ATTRIBUTES.handle(1));
    }
    signing::verify_with_object(obj, digest.as_slice(), &signature).map_err(|e| e.param(2))?;
    let hierarchy = obj.hierarchy;
    let ticket = if hierarchy == rh::NULL || obj.public.name_alg == alg::NULL {
        TkVerified::null()
    } else {
        let name = obj.name.as_bytes().to_vec();
        compute_verified(tpm, hierarchy, digest.as_slice(), &name)?
    };
    ctx.write(&ticket);
    Ok(())
}
