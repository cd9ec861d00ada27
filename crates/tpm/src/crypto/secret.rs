//! Secret sharing with an asymmetric key: how a seed travels to a TPM key
//! for salted sessions (TPM2_StartAuthSession), credentials
//! (MakeCredential / ActivateCredential), and Duplicate / Import
//! (TPM 2.0 Part 1 Annex B.10.3 for RSA, Annex C.6.4 for ECC; the
//! reference's CryptSecretEncrypt / CryptSecretDecrypt).
//!
//! * RSA: the seed is `|hash|` random octets, encrypted with OAEP(hash)
//!   under the label; the encrypted secret is the k-octet ciphertext.
//! * ECC: one-pass Diffie-Hellman, C(1e, 1s, ECC CDH). An ephemeral key
//!   (de, Qe) is made on the recipient's curve, Z = x(de·Qs), and
//!   `seed = KDFe(hash, Z, label, x(Qe), x(Qs), 8·|hash|)`; the encrypted
//!   secret is Qe as a marshalled TPMS_ECC_POINT.
//!
//! `hash` is the recipient key's nameAlg for encryption (the reference
//! always uses it). For RSA decryption the reference uses the key's OAEP
//! scheme hash if it has one, else the nameAlg; the caller passes that.
//! Labels are the NUL-terminated strings below; a label without the NUL is
//! given one.

use crate::crypto::ecc::validate_point;
use crate::crypto::kdf::{kdfe, terminated_label};
use crate::crypto::rsa::RsaEncScheme;
use crate::crypto::{CryptoError, EccCurve, EccKeyPair, EccPoint, HashAlg, RsaKeyPair, RsaPublic};
use rand_core::CryptoRngCore;
use zeroize::Zeroizing;

/// Label of the salt of a salted session (Part 3 §11.1).
pub const LABEL_SECRET: &[u8] = b"SECRET\0";
/// Label of a credential's seed (MakeCredential, Part 3 §12.6).
pub const LABEL_IDENTITY: &[u8] = b"IDENTITY\0";
/// Label of a duplication seed (Duplicate / Import, Part 3 §13).
pub const LABEL_DUPLICATE: &[u8] = b"DUPLICATE\0";

/// The recipient's public key.
#[derive(Clone, Copy, Debug)]
pub enum SeedPublic<'a> {
    Rsa(&'a RsaPublic),
    /// Curve and public point Qs as it appears in the key's public area.
    Ecc(EccCurve, &'a EccPoint),
}

/// The recipient's private key.
#[derive(Clone, Copy, Debug)]
pub enum SeedPrivate<'a> {
    Rsa(&'a RsaKeyPair),
    Ecc(&'a EccKeyPair),
}

/// Makes a fresh seed for the holder of `key` and encrypts it. Returns
/// (seed, encrypted secret); the encrypted secret is the contents of a
/// TPM2B_ENCRYPTED_SECRET. Errors: [`CryptoError::EccPoint`] if the ECC
/// public point is not on its curve, [`CryptoError::Hash`] if the RSA key is
/// too small for OAEP with `hash`.
pub fn encrypt_seed<R: CryptoRngCore + ?Sized>(
    key: SeedPublic<'_>,
    hash: HashAlg,
    label: &[u8],
    rng: &mut R,
) -> Result<(Zeroizing<Vec<u8>>, Vec<u8>), CryptoError> {
    let label = terminated_label(label);
    match key {
        SeedPublic::Rsa(public) => {
            let mut seed = Zeroizing::new(vec![0u8; hash.digest_size()]);
            rng.fill_bytes(&mut seed);
            let ct = public.encrypt(RsaEncScheme::Oaep(hash), &seed, &label, rng)?;
            Ok((seed, ct))
        }
        SeedPublic::Ecc(curve, qs) => {
            validate_point(curve, qs)?;
            let eph = EccKeyPair::generate(curve, rng)?;
            let z = eph.ecdh(qs)?;
            let seed = ecc_seed(hash, &z.x, &label, &eph.public().x, &qs.x)?;
            Ok((seed, eph.public().marshal()))
        }
    }
}

/// Recovers the seed from an encrypted secret made by [`encrypt_seed`] (or
/// any TPM or TSS). RSA: OAEP(hash) decryption under the label; a result
/// longer than the digest is [`CryptoError::Value`] (as the reference);
/// padding failures are `Value`; a ciphertext that is not k octets is
/// [`CryptoError::Size`]. ECC: the secret must be exactly one marshalled
/// TPMS_ECC_POINT ([`CryptoError::Insufficient`] / `Size`) on the key's
/// curve ([`CryptoError::EccPoint`]). `rng` is used for RSA blinding only.
pub fn decrypt_seed<R: CryptoRngCore + ?Sized>(
    key: SeedPrivate<'_>,
    hash: HashAlg,
    label: &[u8],
    encrypted: &[u8],
    rng: &mut R,
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let label = terminated_label(label);
    match key {
        SeedPrivate::Rsa(pair) => {
            let seed = pair.decrypt(RsaEncScheme::Oaep(hash), encrypted, &label, rng)?;
            if seed.len() > hash.digest_size() {
                return Err(CryptoError::Value);
            }
            Ok(seed)
        }
        SeedPrivate::Ecc(pair) => {
            let qe = EccPoint::unmarshal(encrypted)?;
            let z = pair.ecdh(&qe)?;
            ecc_seed(hash, &z.x, &label, &qe.x, &pair.public().x)
        }
    }
}

/// `KDFe(hash, Z, label, partyUInfo = x(Qe), partyVInfo = x(Qs), 8·|hash|)`.
fn ecc_seed(
    hash: HashAlg,
    z: &[u8],
    label: &[u8],
    qe_x: &[u8],
    qs_x: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let bits = u32::try_from(hash.digest_size() * 8).map_err(|_| CryptoError::Value)?;
    Ok(kdfe(hash, z, label, qe_x, qs_x, bits))
}
