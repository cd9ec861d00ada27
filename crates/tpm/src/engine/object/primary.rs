//! TPM2_CreatePrimary (Part 3 §24.1): a primary object derived from a
//! hierarchy's primary seed.
//!
//! Part 1 §26.3: the key is a function of the seed and the template, so
//! the same template (including its unique field, which callers use to
//! choose among keys) and the same sensitive data give the same key after
//! any number of restarts. The generator is a KDFa stream keyed with the
//! seed, labelled "PRIMARY", with the template's Name and the sensitive
//! data as contexts ([`KdfRng::for_primary`]). The reference seeds a
//! CTR-DRBG with the same inputs, so our keys differ from libtpms' while
//! being equally deterministic.

use zeroize::Zeroizing;

use crate::crypto::{HashAlg, KdfRng};
use crate::rc::Rc;
use crate::types::{Data2b, Name, PcrSelectionList, Public2b, SensitiveCreate, SensitiveCreate2b};
use crate::wire::Tpm2bBytes;

use super::super::algorithms::Implemented;
use super::super::dispatch::Ctx;
use super::super::objects::free_slots;
use super::super::Tpm;
use super::creation::{creation_ticket, fill_creation_data};
use super::keygen::create_object;
use super::primary_seed;
use super::transient::load_with_sensitive;
use super::validate::{adjust_auth_size, create_checks};

/// TPM2_CreatePrimary. Parameters: inSensitive (1), inPublic (2),
/// outsideInfo (3), creationPCR (4).
pub(crate) fn create_primary(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    let hierarchy = ctx.handle(0);
    let in_sensitive: SensitiveCreate2b = ctx.read()?;
    let mut public = ctx
        .read_with(|r| Public2b::decode_with(r, &Implemented, false))?
        .0;
    let outside_info: Data2b = ctx.read()?;
    let creation_pcr: PcrSelectionList = ctx.read()?;
    ctx.done()?;

    if free_slots(tpm, &ctx.handles) == 0 {
        return Err(Rc::OBJECT_MEMORY);
    }
    let data = in_sensitive.0.data.as_slice();
    create_checks(None, &public, data.len()).map_err(|e| e.param(2))?;
    let mut auth = Zeroizing::new(in_sensitive.0.user_auth.as_slice().to_vec());
    if !adjust_auth_size(&mut auth, public.name_alg) {
        return Err(Rc::SIZE.param(1));
    }
    let name_hash = HashAlg::from_id(public.name_alg).ok_or(Rc::HASH.param(2))?;

    let template_name = public.name().ok_or(Rc::HASH.param(2))?;
    let seed = Zeroizing::new(primary_seed(tpm, hierarchy).ok_or(Rc::FAILURE)?.to_vec());
    let mut rng = KdfRng::for_primary(name_hash, &seed, template_name.as_bytes(), data);
    let create = SensitiveCreate {
        user_auth: Tpm2bBytes(auth.to_vec()),
        data: in_sensitive.0.data.clone(),
    };
    // RSA prime search is slow; an identical derivation is looked up first.
    let cache_key = (public.object_type() == crate::constants::alg::RSA).then(|| {
        super::primary_cache::derivation_key(
            &seed,
            &crate::wire::Codec::to_bytes(&public),
            &auth,
            data,
        )
    });
    let cached = cache_key.and_then(|k| tpm.vol.objects.primaries.get(&k));
    let (sensitive, key) = match cached {
        Some((derived_public, derived_sensitive)) => {
            public = derived_public;
            let key = super::loaded::build_key(
                &public,
                Some(&derived_sensitive),
                super::loaded::Binding::MadeHere,
            )
            .map_err(|e| e.rc())?;
            (derived_sensitive, key)
        }
        None => {
            let (sensitive, key) = create_object(&mut public, &create, &mut rng)?;
            if rng.exhausted() {
                return Err(Rc::NO_RESULT);
            }
            if let Some(k) = cache_key {
                tpm.vol
                    .objects
                    .primaries
                    .put(k, public.clone(), sensitive.clone());
            }
            (sensitive, key)
        }
    };

    let name: Name = public.name().ok_or(Rc::FAILURE)?;
    let (creation_data, creation_hash) = fill_creation_data(
        tpm,
        hierarchy,
        ctx.locality,
        name_hash,
        &creation_pcr,
        &outside_info,
    )?;
    let ticket = creation_ticket(tpm, hierarchy, &name, creation_hash.as_slice());
    load_with_sensitive(tpm, ctx, public.clone(), sensitive, key, &name, hierarchy)?;
    ctx.write(&Public2b(public));
    ctx.write(&crate::types::CreationData2b(creation_data));
    ctx.write(&creation_hash);
    ctx.write(&ticket);
    ctx.write(&name);
    Ok(())
}
