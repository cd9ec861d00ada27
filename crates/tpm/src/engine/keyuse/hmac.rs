//! TPM2_HMAC and TPM2_HMAC_Start (Part 3 §15.5, §17.2), and the HMAC
//! state an HMAC sequence carries until TPM2_SequenceComplete.

use zeroize::Zeroizing;

use crate::crypto::{HashAlg, Hasher};
use crate::rc::Rc;
use crate::types::{Auth2b, KeyedHashScheme, MaxBuffer, PublicParms};

use super::super::dispatch::Ctx;
use super::super::hash_cmds::{digest2b, read_hash_alg_or_null};
use super::super::object::LoadedObject;
use super::super::sequence::{SequenceKind, SequenceObject};
use super::super::{selftest, Tpm, Transient};
use super::key_object;

/// An HMAC in progress (RFC 2104 / FIPS 198-1): the inner hash already
/// fed with K0 ⊕ ipad, and K0 ⊕ opad kept (zeroized on drop) for the outer
/// hash. Cloned when its sequence's context is saved.
#[derive(Clone)]
pub(crate) struct HmacState {
    inner: Box<Hasher>,
    outer_pad: Zeroizing<Vec<u8>>,
}

impl HmacState {
    /// Starts HMAC-`alg` with `key`. K0 is the key zero-padded to the
    /// hash's block size, or its digest if the key is longer.
    pub(crate) fn new(alg: HashAlg, key: &[u8]) -> HmacState {
        let block = alg.block_size();
        let mut k0 = Zeroizing::new(if key.len() > block {
            alg.digest(&[key])
        } else {
            key.to_vec()
        });
        k0.resize(block, 0);
        let inner_pad = Zeroizing::new(k0.iter().map(|b| b ^ 0x36).collect::<Vec<u8>>());
        let outer_pad = Zeroizing::new(k0.iter().map(|b| b ^ 0x5c).collect::<Vec<u8>>());
        let mut inner = alg.hasher();
        inner.update(&inner_pad);
        HmacState {
            inner: Box::new(inner),
            outer_pad,
        }
    }

    pub(crate) fn update(&mut self, data: &[u8]) {
        self.inner.update(data);
    }

    /// The HMAC of everything passed to [`HmacState::update`].
    pub(crate) fn finish(self) -> Vec<u8> {
        let alg = self.inner.alg();
        let inner = self.inner.finish();
        alg.digest(&[&self.outer_pad, &inner])
    }
}

/// The checks TPM2_HMAC and TPM2_HMAC_Start share (reference TPM2_HMAC):
/// the key must be a keyed-hash object (TPM_RC_TYPE), unrestricted
/// (TPM_RC_ATTRIBUTES) and a signing key (TPM_RC_KEY), all on handle 1.
/// The hash is the key's scheme hash, or `hash_alg` when the key has no
/// scheme; a `hash_alg` other than NULL or the key's, or no hash at all,
/// is TPM_RC_VALUE on `hash_param`. A public-only key has no secret to
/// HMAC with: TPM_RC_KEY.
fn select(
    obj: &LoadedObject,
    hash_alg: Option<HashAlg>,
    hash_param: u32,
) -> Result<(HashAlg, &[u8]), Rc> {
    let PublicParms::KeyedHash(parms) = &obj.public.parameters else {
        return Err(Rc::TYPE.handle(1));
    };
    let a = obj.public.attributes;
    if a.restricted() {
        return Err(Rc::ATTRIBUTES.handle(1));
    }
    if !a.sign_encrypt() {
        return Err(Rc::KEY.handle(1));
    }
    let hash = match parms.scheme {
        KeyedHashScheme::Hmac(h) => {
            let key_hash = HashAlg::from_id(h);
            match hash_alg {
                None => key_hash,
                Some(given) if Some(given) == key_hash => key_hash,
                Some(_) => None,
            }
        }
        KeyedHashScheme::Null => hash_alg,
        // A signing key cannot have the XOR scheme (object creation
        // refuses it); treat it as no usable hash.
        KeyedHashScheme::Xor { .. } => None,
    };
    let hash = hash.ok_or(Rc::VALUE.param(hash_param))?;
    let key = obj.hmac_key().ok_or(Rc::KEY.handle(1))?;
    Ok((hash, key))
}

/// TPM2_HMAC (Part 3 §15.5): the HMAC of `buffer` with an HMAC key.
pub(crate) fn hmac(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    let handle = ctx.handle(0);
    let buffer: MaxBuffer = ctx.read()?;
    let hash_alg = ctx.read_with(read_hash_alg_or_null)?;
    ctx.done()?;
    let obj = key_object(tpm, handle, Rc::TYPE)?;
    let (hash, key) = select(obj, hash_alg, 2)?;
    let out = hash.hmac(key, &[buffer.as_slice()]);
    selftest::ensure_tested(tpm, hash.id())?;
    ctx.write(&digest2b(out));
    Ok(())
}

/// TPM2_HMAC_Start (Part 3 §17.2): starts an HMAC sequence with the key
/// of `handle`, protected by `auth`. The key is copied into the sequence
/// (as the reference ObjectCreateHMACSequence does), so the key object may
/// be flushed while the sequence goes on. TPM2_SequenceUpdate and
/// TPM2_SequenceComplete finish it; no ticket is ever produced for an
/// HMAC. A full set of object slots is TPM_RC_OBJECT_MEMORY.
pub(crate) fn hmac_start(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    let handle = ctx.handle(0);
    let auth: Auth2b = ctx.read()?;
    let hash_alg = ctx.read_with(read_hash_alg_or_null)?;
    ctx.done()?;
    let obj = key_object(tpm, handle, Rc::TYPE)?;
    let (hash, key) = select(obj, hash_alg, 2)?;
    let state = HmacState::new(hash, key);
    selftest::ensure_tested(tpm, hash.id())?;
    let seq = SequenceObject {
        auth: Zeroizing::new(auth.as_slice().to_vec()),
        kind: SequenceKind::Hmac(Box::new(state)),
    };
    let h = tpm.load_transient(Transient::Sequence(Box::new(seq)))?;
    ctx.out_handle = Some(h);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The incremental HMAC equals the one-shot HMAC for short keys, keys
    /// of exactly a block and keys longer than a block, for every hash.
    #[test]
    fn incremental_hmac_matches_one_shot() {
        for alg in HashAlg::ALL {
            for key_len in [0usize, 20, alg.block_size(), alg.block_size() + 1, 300] {
                let key: Vec<u8> = (0..key_len).map(|i| i as u8).collect();
                let data: Vec<u8> = (0..2000u32).map(|i| (i * 7) as u8).collect();
                let mut s = HmacState::new(alg, &key);
                for chunk in data.chunks(333) {
                    s.update(chunk);
                }
                assert_eq!(
                    s.finish(),
                    alg.hmac(&key, &[&data]),
                    "{alg:?} key {key_len}"
                );
            }
        }
    }
}
