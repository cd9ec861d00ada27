//! Protection of sensitive data outside the TPM (Part 1 §22 "Protected
//! storage", §23 "Protected storage hierarchy", §24 "Credential
//! protection"; reference Object_spt.c):
//!
//! * the outer wrap: `integrity || [iv] || CFB(sensitive)`, the key
//!   `KDFa(hash, seed, "STORAGE", name, "", keyBits)` and the integrity
//!   `HMAC(KDFa(hash, seed, "INTEGRITY", "", "", digestBits),
//!   [iv ||] encrypted || name)`;
//! * TPM2B_PRIVATE of an ordinary object (outer wrap with an IV under the
//!   parent's seed, symmetric definition and nameAlg);
//! * duplication blobs (optional inner wrap `CFB(H(sensitive || name) ||
//!   sensitive)` with a caller key, optional outer wrap with a shared
//!   seed, no IV);
//! * credential blobs (TPM2B_DIGEST under an outer wrap with the
//!   credential seed, no IV).
//!
//! The formats are the spec's, byte for byte, so objects wrapped by a TSS
//! (TPM2_Import) and credentials made by any TPM or TSS are accepted.

use zeroize::Zeroizing;

use crate::crypto::kdf::kdfa;
use crate::crypto::sym::{self, SymAlg, SymMode, BLOCK_SIZE};
use crate::crypto::HashAlg;
use crate::rc::Rc;
use crate::types::{Public, Sensitive, SymDefObject};
use crate::wire::{Codec, Reader, WireError};

use super::super::algorithms::Implemented;
use super::validate::parent_symmetric;

/// "STORAGE" and "INTEGRITY" (Part 1 §22.4, §22.5).
const STORAGE_LABEL: &[u8] = b"STORAGE\0";
const INTEGRITY_LABEL: &[u8] = b"INTEGRITY\0";

/// The symmetric cipher of a protector (its TPMT_SYM_DEF_OBJECT).
pub(crate) fn protector_cipher(public: &Public) -> Result<SymAlg, Rc> {
    match parent_symmetric(public) {
        Some(SymDefObject::Cipher { alg, key_bits, .. }) => {
            SymAlg::from_tpm(alg, key_bits).ok_or(Rc::SYMMETRIC)
        }
        _ => Err(Rc::SYMMETRIC),
    }
}

/// A cipher from a TPMT_SYM_DEF_OBJECT+ (None for TPM_ALG_NULL).
pub(crate) fn sym_def_cipher(def: &SymDefObject) -> Result<Option<SymAlg>, Rc> {
    match def {
        SymDefObject::Null => Ok(None),
        SymDefObject::Cipher { alg, key_bits, .. } => SymAlg::from_tpm(*alg, *key_bits)
            .map(Some)
            .ok_or(Rc::SYMMETRIC),
    }
}

fn integrity_hmac(hash: HashAlg, seed: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let bits = (hash.digest_size() * 8) as u32;
    let key = kdfa(hash, seed, INTEGRITY_LABEL, &[], &[], bits);
    hash.hmac(&key, parts)
}

fn storage_key(cipher: SymAlg, hash: HashAlg, seed: &[u8], name: &[u8]) -> Zeroizing<Vec<u8>> {
    kdfa(
        hash,
        seed,
        STORAGE_LABEL,
        name,
        &[],
        u32::from(cipher.key_bits()),
    )
}

fn cfb(cipher: SymAlg, key: &[u8], iv: &[u8], data: &mut [u8], encrypt: bool) -> Result<(), Rc> {
    let mut iv = iv.to_vec();
    let r = if encrypt {
        sym::encrypt(cipher, SymMode::Cfb, key, &mut iv, data)
    } else {
        sym::decrypt(cipher, SymMode::Cfb, key, &mut iv, data)
    };
    r.map_err(|_| Rc::FAILURE)
}

/// ProduceOuterWrap: returns `TPM2B_DIGEST(integrity) || [TPM2B_IV(iv)] ||
/// CFB(data)`. `iv` is Some(random block) when an IV is used.
pub(crate) fn produce_outer_wrap(
    cipher: SymAlg,
    hash: HashAlg,
    seed: &[u8],
    name: &[u8],
    iv: Option<&[u8]>,
    data: &[u8],
) -> Result<Vec<u8>, Rc> {
    let key = storage_key(cipher, hash, seed, name);
    let mut enc = Zeroizing::new(data.to_vec());
    let zero = [0u8; BLOCK_SIZE];
    cfb(cipher, &key, iv.unwrap_or(&zero), &mut enc, true)?;
    let mut body = Vec::with_capacity(enc.len() + 18);
    if let Some(iv) = iv {
        (iv.len() as u16).encode(&mut body);
        body.extend_from_slice(iv);
    }
    body.extend_from_slice(&enc);
    let mac = integrity_hmac(hash, seed, &[&body, name]);
    let mut out = Vec::with_capacity(body.len() + mac.len() + 2);
    (mac.len() as u16).encode(&mut out);
    out.extend_from_slice(&mac);
    out.extend_from_slice(&body);
    Ok(out)
}

/// UnwrapOuter: checks the integrity (TPM_RC_INTEGRITY), reads the IV if
/// one is used (a size other than the block size is TPM_RC_VALUE) and
/// returns the decrypted data. Unmarshalling failures of the integrity or
/// IV are TPM_RC_INSUFFICIENT / TPM_RC_SIZE. All unnumbered.
pub(crate) fn unwrap_outer(
    cipher: SymAlg,
    hash: HashAlg,
    seed: &[u8],
    name: &[u8],
    use_iv: bool,
    blob: &[u8],
) -> Result<Zeroizing<Vec<u8>>, Rc> {
    let mut r = Reader::new(blob);
    let integrity = crate::types::Digest2b::decode(&mut r).map_err(WireError::rc)?;
    let body = r.rest();
    let expected = integrity_hmac(hash, seed, &[body, name]);
    if !bool::from(subtle::ConstantTimeEq::ct_eq(
        expected.as_slice(),
        integrity.as_slice(),
    )) {
        return Err(Rc::INTEGRITY);
    }
    let key = storage_key(cipher, hash, seed, name);
    let mut iv = [0u8; BLOCK_SIZE];
    if use_iv {
        let given = crate::types::Iv2b::decode(&mut r).map_err(WireError::rc)?;
        if given.len() != BLOCK_SIZE {
            return Err(Rc::VALUE);
        }
        iv.copy_from_slice(given.as_slice());
    }
    let mut data = Zeroizing::new(r.rest().to_vec());
    cfb(cipher, &key, &iv, &mut data, false)?;
    Ok(data)
}

/// TPM2B_SENSITIVE marshalling with the authValue padded to the nameAlg
/// digest size (reference MarshalSensitive).
fn marshal_sensitive(sensitive: &Sensitive, name_alg: u16) -> Zeroizing<Vec<u8>> {
    let mut s = sensitive.clone();
    let size = super::validate::digest_size(name_alg);
    if s.auth_value.0.len() < size {
        s.auth_value.0.resize(size, 0);
    }
    let mut inner = Zeroizing::new(Vec::new());
    s.encode(&mut inner);
    let mut out = Zeroizing::new(Vec::with_capacity(inner.len() + 2));
    (inner.len() as u16).encode(&mut out);
    out.extend_from_slice(&inner);
    out
}

/// Reads a TPM2B_SENSITIVE that must fill `data` exactly; `bad` is the
/// code for any failure (TPM_RC_SENSITIVE for a private area, TPM_RC_SIZE
/// for a duplication blob, as the reference).
fn unmarshal_sensitive(data: &[u8], bad: Rc) -> Result<Sensitive, Rc> {
    let mut r = Reader::new(data);
    let n = r.u16().map_err(|e| e.rc())? as usize;
    if n + 2 != data.len() {
        return Err(bad);
    }
    let s = Sensitive::decode_with(&mut r, &Implemented).map_err(|_| bad)?;
    if !r.is_empty() {
        return Err(bad);
    }
    Ok(s)
}

/// SensitiveToPrivate (Part 1 §23.3): the TPM2B_PRIVATE contents of an
/// object under `parent` (public area and seed), with a fresh IV.
pub(crate) fn sensitive_to_private(
    sensitive: &Sensitive,
    name: &[u8],
    parent: &Public,
    parent_seed: &[u8],
    name_alg: u16,
    iv: &[u8],
) -> Result<Vec<u8>, Rc> {
    let hash = HashAlg::from_id(parent.name_alg).ok_or(Rc::HASH)?;
    let cipher = protector_cipher(parent)?;
    let data = marshal_sensitive(sensitive, name_alg);
    produce_outer_wrap(cipher, hash, parent_seed, name, Some(iv), &data)
}

/// PrivateToSensitive: the inverse, TPM_RC_INTEGRITY for a blob not made
/// under this parent for this Name, TPM_RC_SENSITIVE for contents that do
/// not unmarshal. Unnumbered.
pub(crate) fn private_to_sensitive(
    private: &[u8],
    name: &[u8],
    parent: &Public,
    parent_seed: &[u8],
) -> Result<Sensitive, Rc> {
    let hash = HashAlg::from_id(parent.name_alg).ok_or(Rc::HASH)?;
    let cipher = protector_cipher(parent)?;
    let data = unwrap_outer(cipher, hash, parent_seed, name, true, private)?;
    unmarshal_sensitive(&data, Rc::SENSITIVE)
}

/// The inner wrap of a duplication blob: `CFB(inner_key, zero IV,
/// TPM2B_DIGEST(H_nameAlg(sensitive || name)) || sensitive)`.
fn inner_wrap(
    cipher: SymAlg,
    key: &[u8],
    name_hash: HashAlg,
    name: &[u8],
    data: &[u8],
) -> Result<Vec<u8>, Rc> {
    let integrity = name_hash.digest(&[data, name]);
    let mut buf = Zeroizing::new(Vec::with_capacity(data.len() + integrity.len() + 2));
    (integrity.len() as u16).encode(&mut buf);
    buf.extend_from_slice(&integrity);
    buf.extend_from_slice(data);
    cfb(cipher, key, &[0u8; BLOCK_SIZE], &mut buf, true)?;
    Ok(buf.to_vec())
}

/// How a duplication blob is wrapped.
pub(crate) struct DupWrap<'a> {
    /// The new parent's public area and the outer seed, or None for no
    /// outer wrap (new parent TPM_RH_NULL / empty inSymSeed).
    pub outer: Option<(&'a Public, &'a [u8])>,
    /// The inner cipher and key, or None for no inner wrap.
    pub inner: Option<(SymAlg, &'a [u8])>,
}

/// SensitiveToDuplicate (Part 1 §23.3.2, Part 3 §13.1).
pub(crate) fn sensitive_to_duplicate(
    sensitive: &Sensitive,
    name: &[u8],
    name_alg: u16,
    wrap: &DupWrap<'_>,
) -> Result<Vec<u8>, Rc> {
    let name_hash = HashAlg::from_id(name_alg).ok_or(Rc::HASH)?;
    let mut data = marshal_sensitive(sensitive, name_alg).to_vec();
    if let Some((cipher, key)) = wrap.inner {
        data = inner_wrap(cipher, key, name_hash, name, &data)?;
    }
    if let Some((parent, seed)) = wrap.outer {
        let hash = HashAlg::from_id(parent.name_alg).ok_or(Rc::HASH)?;
        let cipher = protector_cipher(parent)?;
        data = produce_outer_wrap(cipher, hash, seed, name, None, &data)?;
    }
    Ok(data)
}

/// DuplicateToSensitive: the inverse; TPM_RC_INTEGRITY for a bad outer or
/// inner integrity, TPM_RC_SIZE / _INSUFFICIENT for contents that do not
/// unmarshal. Unnumbered.
pub(crate) fn duplicate_to_sensitive(
    blob: &[u8],
    name: &[u8],
    name_alg: u16,
    wrap: &DupWrap<'_>,
) -> Result<Sensitive, Rc> {
    let name_hash = HashAlg::from_id(name_alg).ok_or(Rc::HASH)?;
    let mut data = Zeroizing::new(blob.to_vec());
    if let Some((parent, seed)) = wrap.outer {
        let hash = HashAlg::from_id(parent.name_alg).ok_or(Rc::HASH)?;
        let cipher = protector_cipher(parent)?;
        data = unwrap_outer(cipher, hash, seed, name, false, &data)?;
    }
    if let Some((cipher, key)) = wrap.inner {
        cfb(cipher, key, &[0u8; BLOCK_SIZE], &mut data, false)?;
        let mut r = Reader::new(&data);
        let integrity = crate::types::Digest2b::decode(&mut r).map_err(WireError::rc)?;
        let rest = r.rest();
        let expected = name_hash.digest(&[rest, name]);
        if !bool::from(subtle::ConstantTimeEq::ct_eq(
            expected.as_slice(),
            integrity.as_slice(),
        )) {
            return Err(Rc::INTEGRITY);
        }
        data = Zeroizing::new(rest.to_vec());
    }
    unmarshal_sensitive(&data, Rc::SIZE)
}

/// SecretToCredential (Part 1 §24.4): the TPM2B_ID_OBJECT contents for
/// `credential` bound to the object `name`, protected by the key whose
/// public area is `protector` with `seed`.
pub(crate) fn secret_to_credential(
    credential: &[u8],
    name: &[u8],
    seed: &[u8],
    protector: &Public,
) -> Result<Vec<u8>, Rc> {
    let hash = HashAlg::from_id(protector.name_alg).ok_or(Rc::HASH)?;
    let cipher = protector_cipher(protector)?;
    let mut data = Zeroizing::new(Vec::with_capacity(credential.len() + 2));
    (credential.len() as u16).encode(&mut data);
    data.extend_from_slice(credential);
    produce_outer_wrap(cipher, hash, seed, name, None, &data)
}

/// CredentialToSecret: the inverse; TPM_RC_INTEGRITY when the blob was not
/// made for this key, seed and Name; TPM_RC_SIZE when the contents are not
/// exactly one TPM2B_DIGEST. Unnumbered.
pub(crate) fn credential_to_secret(
    blob: &[u8],
    name: &[u8],
    seed: &[u8],
    protector: &Public,
) -> Result<Zeroizing<Vec<u8>>, Rc> {
    let hash = HashAlg::from_id(protector.name_alg).ok_or(Rc::HASH)?;
    let cipher = protector_cipher(protector)?;
    let data = unwrap_outer(cipher, hash, seed, name, false, blob)?;
    let mut r = Reader::new(&data);
    let secret = crate::types::Digest2b::decode(&mut r).map_err(WireError::rc)?;
    if !r.is_empty() {
        return Err(Rc::SIZE);
    }
    Ok(Zeroizing::new(secret.as_slice().to_vec()))
}
