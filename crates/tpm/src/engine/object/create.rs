//! TPM2_Create (Part 3 §12.1) and TPM2_CreateLoaded (Part 3 §12.9):
//! ordinary objects under a storage parent, returned wrapped for later
//! TPM2_Load; CreateLoaded also loads the new object, and creates primary
//! objects (parent a hierarchy) and derived objects (parent a derivation
//! parent, Part 1 §26.4).

use zeroize::Zeroizing;

use crate::constants::alg;
use crate::crypto::{HashAlg, KdfRng};
use crate::rc::Rc;
use crate::types::{
    Data2b, Label2b, Name, PcrSelectionList, Private2b, Public, Public2b, PublicId, PublicParms,
    SensitiveCreate, SensitiveCreate2b, Template2b,
};
use crate::wire::{Codec, Reader, Tpm2bBytes, WireError};

use super::super::algorithms::Implemented;
use super::super::dispatch::Ctx;
use super::super::objects::free_slots;
use super::super::Tpm;
use super::creation::{creation_ticket, fill_creation_data};
use super::keygen::create_object;
use super::primary_seed;
use super::protect::sensitive_to_private;
use super::transient::load_with_sensitive;
use super::validate::{adjust_auth_size, create_checks, public_attributes_validation};

/// The fresh IV of a private area (one cipher block).
fn fresh_iv(tpm: &mut Tpm) -> Vec<u8> {
    tpm.drbg.bytes(crate::crypto::sym::BLOCK_SIZE)
}

/// TPM2_Create. Parameters: inSensitive (1), inPublic (2), outsideInfo
/// (3), creationPCR (4).
pub(crate) fn create(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    let parent_handle = ctx.handle(0);
    let in_sensitive: SensitiveCreate2b = ctx.read()?;
    let mut public = ctx
        .read_with(|r| Public2b::decode_with(r, &Implemented, false))?
        .0;
    let outside_info: Data2b = ctx.read()?;
    let creation_pcr: PcrSelectionList = ctx.read()?;
    ctx.done()?;

    let parent = tpm.object(parent_handle).ok_or(Rc::HANDLE.handle(1))?;
    if !parent.flags.is_parent {
        return Err(Rc::TYPE.handle(1));
    }
    let parent = parent.clone();
    // The reference creates the object in a scratch slot.
    if free_slots(tpm, &ctx.handles) == 0 {
        return Err(Rc::OBJECT_MEMORY);
    }
    let data_len = in_sensitive.0.data.len();
    create_checks(Some(&parent), &public, data_len).map_err(|e| e.param(2))?;
    let mut auth = Zeroizing::new(in_sensitive.0.user_auth.as_slice().to_vec());
    if !adjust_auth_size(&mut auth, public.name_alg) {
        return Err(Rc::SIZE.param(1));
    }
    let name_hash = HashAlg::from_id(public.name_alg).ok_or(Rc::HASH.param(2))?;
    let create = SensitiveCreate {
        user_auth: Tpm2bBytes(auth.to_vec()),
        data: in_sensitive.0.data.clone(),
    };
    let (sensitive, _key) = create_object(&mut public, &create, &mut tpm.drbg)?;
    let name: Name = public.name().ok_or(Rc::FAILURE)?;
    let (creation_data, creation_hash) = fill_creation_data(
        tpm,
        parent_handle,
        ctx.locality,
        name_hash,
        &creation_pcr,
        &outside_info,
    )?;
    let ticket = creation_ticket(tpm, parent.hierarchy, &name, creation_hash.as_slice());
    let iv = fresh_iv(tpm);
    let private = sensitive_to_private(
        &sensitive,
        name.as_bytes(),
        &parent.public,
        parent.seed_value().unwrap_or_default(),
        public.name_alg,
        &iv,
    )?;
    ctx.write(&Private2b::new(private).map_err(|_| Rc::FAILURE)?);
    ctx.write(&Public2b(public));
    ctx.write(&crate::types::CreationData2b(creation_data));
    ctx.write(&creation_hash);
    ctx.write(&ticket);
    Ok(())
}

/// UnmarshalToPublic: a TPMT_PUBLIC from a TPM2B_TEMPLATE. For a derived
/// object the unique field is a TPMS_DERIVE (label, context), returned
/// separately; the template must be consumed exactly (TPM_RC_SIZE).
fn unmarshal_template(bytes: &[u8], derivation: bool) -> Result<(Public, Label2b, Label2b), Rc> {
    let mut r = Reader::new(bytes);
    let t = r.u16().map_err(WireError::rc)?;
    let p = &Implemented;
    if !crate::types::AlgPolicy::public_type(p, t) {
        return Err(Rc::TYPE);
    }
    let name_alg = r.u16().map_err(WireError::rc)?;
    if HashAlg::from_id(name_alg).is_none() {
        return Err(Rc::HASH);
    }
    let attributes = crate::types::ObjectAttributes::decode(&mut r).map_err(WireError::rc)?;
    let auth_policy = crate::types::Digest2b::decode(&mut r).map_err(WireError::rc)?;
    let parameters = PublicParms::decode_details(t, &mut r, p).map_err(WireError::rc)?;
    let (unique, label, context) = if derivation {
        let label = Label2b::decode(&mut r).map_err(WireError::rc)?;
        let context = Label2b::decode(&mut r).map_err(WireError::rc)?;
        (PublicId::empty(t).ok_or(Rc::TYPE)?, label, context)
    } else {
        let u = PublicId::decode_with(t, &mut r, p).map_err(WireError::rc)?;
        (u, Label2b::empty(), Label2b::empty())
    };
    if !r.is_empty() {
        return Err(Rc::SIZE);
    }
    let public = Public::new(name_alg, attributes, auth_policy, parameters, unique)
        .map_err(WireError::rc)?;
    Ok((public, label, context))
}

/// TPM2_CreateLoaded. Parameters: inSensitive (1), inPublic (2, a
/// TPM2B_TEMPLATE).
pub(crate) fn create_loaded(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    let parent_handle = ctx.handle(0);
    let in_sensitive: SensitiveCreate2b = ctx.read()?;
    let template: Template2b = ctx.read()?;
    ctx.done()?;

    let parent = tpm.object(parent_handle).cloned();
    let derivation = parent.as_ref().is_some_and(|p| p.flags.derivation);
    if let Some(p) = &parent {
        if !p.flags.is_parent && !derivation {
            return Err(Rc::TYPE.handle(1));
        }
    }
    if free_slots(tpm, &ctx.handles) == 0 {
        return Err(Rc::OBJECT_MEMORY);
    }
    let (mut public, label, context) =
        unmarshal_template(template.as_slice(), derivation).map_err(|e| e.param(2))?;
    let mut auth = Zeroizing::new(in_sensitive.0.user_auth.as_slice().to_vec());
    if !adjust_auth_size(&mut auth, public.name_alg) {
        return Err(Rc::SIZE.param(1));
    }
    let name_hash = HashAlg::from_id(public.name_alg).ok_or(Rc::HASH.param(2))?;
    let mut create = SensitiveCreate {
        user_auth: Tpm2bBytes(auth.to_vec()),
        data: in_sensitive.0.data.clone(),
    };

    let (sensitive, key) = match (&parent, derivation) {
        (Some(p), true) => {
            if public.object_type() == alg::RSA {
                return Err(Rc::TYPE.param(2));
            }
            if public.attributes.sensitive_data_origin() {
                return Err(Rc::ATTRIBUTES);
            }
            public_attributes_validation(Some(p), &public).map_err(|e| e.param(2))?;
            let (label, context) = label_and_context(label, context, create.data.as_slice())?;
            let crate::types::PublicParms::KeyedHash(kp) = &p.public.parameters else {
                return Err(Rc::FAILURE);
            };
            let crate::types::KeyedHashScheme::Xor { hash, .. } = kp.scheme else {
                return Err(Rc::FAILURE);
            };
            let hash = HashAlg::from_id(hash).ok_or(Rc::FAILURE)?;
            let secret = Zeroizing::new(p.hmac_key().unwrap_or_default().to_vec());
            let mut rng = KdfRng::new(hash, &secret, label.as_slice(), context.as_slice(), &[]);
            create.data = Tpm2bBytes(Vec::new());
            let r = create_object(&mut public, &create, &mut rng)?;
            if rng.exhausted() {
                return Err(Rc::NO_RESULT);
            }
            r
        }
        (Some(p), false) => {
            create_checks(Some(p), &public, create.data.len()).map_err(|e| e.param(2))?;
            create_object(&mut public, &create, &mut tpm.drbg)?
        }
        (None, _) => {
            create_checks(None, &public, create.data.len()).map_err(|e| e.param(2))?;
            let template_name = public.name().ok_or(Rc::HASH.param(2))?;
            let seed = Zeroizing::new(
                primary_seed(tpm, parent_handle)
                    .ok_or(Rc::FAILURE)?
                    .to_vec(),
            );
            let mut rng = KdfRng::for_primary(
                name_hash,
                &seed,
                template_name.as_bytes(),
                create.data.as_slice(),
            );
            let r = create_object(&mut public, &create, &mut rng)?;
            if rng.exhausted() {
                return Err(Rc::NO_RESULT);
            }
            r
        }
    };

    let name: Name = public.name().ok_or(Rc::FAILURE)?;
    let private = match (&parent, derivation) {
        (Some(p), false) => {
            let iv = fresh_iv(tpm);
            sensitive_to_private(
                &sensitive,
                name.as_bytes(),
                &p.public,
                p.seed_value().unwrap_or_default(),
                public.name_alg,
                &iv,
            )?
        }
        _ => Vec::new(),
    };
    load_with_sensitive(
        tpm,
        ctx,
        public.clone(),
        sensitive,
        key,
        &name,
        parent_handle,
    )?;
    ctx.write(&Private2b::new(private).map_err(|_| Rc::FAILURE)?);
    ctx.write(&Public2b(public));
    ctx.write(&name);
    Ok(())
}

/// SetLabelAndContext: a label or context in the template wins; an empty
/// one is taken from a TPMS_DERIVE in the sensitive data (whose
/// unmarshalling errors are returned as they are).
fn label_and_context(
    label: Label2b,
    context: Label2b,
    data: &[u8],
) -> Result<(Label2b, Label2b), Rc> {
    if data.is_empty() {
        return Ok((label, context));
    }
    let mut r = Reader::new(data);
    let d = crate::types::Derive::decode(&mut r).map_err(WireError::rc)?;
    let label = if label.is_empty() { d.label } else { label };
    let context = if context.is_empty() {
        d.context
    } else {
        context
    };
    Ok((label, context))
}
