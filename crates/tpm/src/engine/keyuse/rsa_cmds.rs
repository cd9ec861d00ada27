//! TPM2_RSA_Encrypt and TPM2_RSA_Decrypt (Part 3 §14.2, §14.3).

use crate::crypto::rsa::label_is_properly_formatted;
use crate::crypto::{HashAlg, RsaEncScheme};
use crate::rc::Rc;
use crate::types::{AsymScheme, Data2b, Public, PublicKeyRsa, PublicParms, RsaDecrypt};
use crate::wire::Tpm2b;

use super::super::algorithms::Implemented;
use super::super::dispatch::Ctx;
use super::super::{selftest, signing, Tpm};
use super::{key_object, read_bounded};

/// CryptRsaSelectScheme: the key's scheme when `in_scheme` is NULL, the
/// input when the key has none, otherwise both must be the same scheme
/// with the same hash (else TPM_RC_SCHEME on inScheme, parameter 2).
/// With both NULL the result is raw RSA (Part 3 §14.2: "no padding").
/// A key scheme that is not an encryption scheme cannot encrypt
/// (TPM_RC_SCHEME, unnumbered, as CryptRsaEncrypt's default case).
fn select(public: &Public, in_scheme: RsaDecrypt) -> Result<RsaEncScheme, Rc> {
    let PublicParms::Rsa(p) = &public.parameters else {
        return Err(Rc::KEY.handle(1));
    };
    let key = match p.scheme {
        AsymScheme::Null => None,
        AsymScheme::Rsaes => Some(RsaDecrypt::Rsaes),
        AsymScheme::Oaep(h) => Some(RsaDecrypt::Oaep(h)),
        _ => return Err(Rc::SCHEME),
    };
    let chosen = match (key, in_scheme) {
        (None, s) => s,
        (Some(k), RsaDecrypt::Null) => k,
        (Some(k), s) if k == s => s,
        _ => return Err(Rc::SCHEME.param(2)),
    };
    Ok(match chosen {
        RsaDecrypt::Null => RsaEncScheme::Null,
        RsaDecrypt::Rsaes => RsaEncScheme::Rsaes,
        RsaDecrypt::Oaep(h) => RsaEncScheme::Oaep(HashAlg::from_id(h).ok_or(Rc::HASH.param(2))?),
    })
}

/// The algorithms a scheme uses, for self-test before first use.
fn test_algs(tpm: &mut Tpm, scheme: RsaEncScheme) -> Result<(), Rc> {
    selftest::ensure_tested(tpm, crate::constants::alg::RSA)?;
    if let RsaEncScheme::Oaep(h) = scheme {
        selftest::ensure_tested(tpm, h.id())?;
    }
    Ok(())
}

/// The parameters both commands share, read and checked in the order the
/// reference checks them: the key must be RSA (TPM_RC_KEY, handle 1) and
/// pass `attributes_ok` (else TPM_RC_ATTRIBUTES, handle 1); an OAEP label
/// must be empty or end in a zero octet (TPM_RC_VALUE, parameter 3); the
/// scheme follows [`select`].
struct RsaOp {
    key: u32,
    data: PublicKeyRsa,
    label: Data2b,
    scheme: RsaEncScheme,
}

fn read_op(
    tpm: &mut Tpm,
    ctx: &mut Ctx<'_>,
    attributes_ok: fn(&Public) -> bool,
) -> Result<RsaOp, Rc> {
    let key = ctx.handle(0);
    let data: PublicKeyRsa = ctx.read_with(|r| read_bounded(r, crate::types::MAX_RSA_KEY_BYTES))?;
    let in_scheme = ctx.read_with(|r| RsaDecrypt::decode_with(r, &Implemented, true))?;
    let label: Data2b = ctx.read()?;
    ctx.done()?;

    let obj = key_object(tpm, key, Rc::KEY)?;
    if !matches!(obj.public.parameters, PublicParms::Rsa(_)) {
        return Err(Rc::KEY.handle(1));
    }
    if !attributes_ok(&obj.public) {
        return Err(Rc::ATTRIBUTES.handle(1));
    }
    if !label_is_properly_formatted(label.as_slice()) {
        return Err(Rc::VALUE.param(3));
    }
    let scheme = select(&obj.public, in_scheme)?;
    Ok(RsaOp {
        key,
        data,
        label,
        scheme,
    })
}

/// TPM2_RSA_Encrypt (Part 3 §14.2): encrypts `message` to the public part
/// of an RSA key (no authorization: anyone may encrypt to a key). The key
/// must have `decrypt` set; checks as in [`read_op`]. Padding errors
/// (message too long for the key and scheme) are TPM_RC_VALUE, unnumbered
/// as in the reference.
pub(crate) fn rsa_encrypt(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    let op = read_op(tpm, ctx, |p| p.attributes.decrypt())?;
    let obj = key_object(tpm, op.key, Rc::KEY)?;
    let public = obj.rsa_public().ok_or(Rc::KEY.handle(1))?;
    test_algs(tpm, op.scheme)?;
    let out = public
        .encrypt(
            op.scheme,
            op.data.as_slice(),
            op.label.as_slice(),
            &mut tpm.drbg,
        )
        .map_err(|e| e.rc())?;
    ctx.write(&PublicKeyRsa::new(out).map_err(|_| Rc::FAILURE)?);
    Ok(())
}

/// TPM2_RSA_Decrypt (Part 3 §14.3): decrypts with the private part of an
/// unrestricted RSA decryption key. A restricted or non-decrypting key is
/// TPM_RC_ATTRIBUTES (handle 1) — a restricted decryption key protects its
/// children's secrets and must never act as a decryption oracle; other
/// checks as in [`read_op`]. A ciphertext that is not exactly the modulus
/// size is TPM_RC_SIZE, a padding failure TPM_RC_VALUE (unnumbered; the
/// padding check runs in constant time).
pub(crate) fn rsa_decrypt(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    let op = read_op(tpm, ctx, |p| {
        !p.attributes.restricted() && p.attributes.decrypt()
    })?;
    if key_object(tpm, op.key, Rc::KEY)?.rsa_key_pair().is_none() {
        // Public-only (a policy session can authorize it): nothing to
        // decrypt with.
        return Err(Rc::KEY.handle(1));
    }
    test_algs(tpm, op.scheme)?;
    let (obj, drbg) = signing::object_and_drbg(tpm, op.key).ok_or(Rc::KEY.handle(1))?;
    let pair = obj.rsa_key_pair().ok_or(Rc::KEY.handle(1))?;
    let message = pair
        .decrypt(op.scheme, op.data.as_slice(), op.label.as_slice(), drbg)
        .map_err(|e| e.rc())?;
    let message: PublicKeyRsa = Tpm2b(message.to_vec());
    ctx.write(&message);
    Ok(())
}
