//! Software TPM2_MakeCredential (TPM 2.0 Part 1 §24 "Credential
//! protection", Part 3 §12.6), so the registrar can challenge an agent
//! without a TPM of its own:
//!
//! 1. a seed is shared with the EK (Part 1 Annex B.10.3 for RSA: OAEP with
//!    the EK's nameAlg and label "IDENTITY\0"; Annex C.6.4 for ECC: one-pass
//!    ECDH, seed = KDFe(nameAlg, Z, "IDENTITY", x(Qe), x(Qs))); its
//!    encryption is `encrypted_secret` (TPM2B_ENCRYPTED_SECRET contents);
//! 2. the credential, as a TPM2B_DIGEST, is encrypted with AES-CFB (the
//!    EK's symmetric definition, zero IV) under
//!    KDFa(nameAlg, seed, "STORAGE", AK name, "", keyBits), and
//!    integrity-protected with HMAC(KDFa(nameAlg, seed, "INTEGRITY", "", "",
//!    digestBits), encIdentity || AK name) (Part 1 §24.4–§24.5);
//!    `credential_blob` is TPM2B_DIGEST(integrity) || encIdentity
//!    (TPM2B_ID_OBJECT contents).
//!
//! Only the TPM holding the EK's private key *and* an object with the AK's
//! Name can recover the credential with TPM2_ActivateCredential.

use rand_core::CryptoRngCore;
use tpm::crypto::kdf::kdfa;
use tpm::crypto::secret::{encrypt_seed, SeedPublic, LABEL_IDENTITY};
use tpm::crypto::sym::{self, SymAlg, SymMode};
use tpm::crypto::{EccCurve, EccPoint, HashAlg, RsaPublic};
use tpm::types::{Public, PublicId, PublicParms, SymDefObject};
use zeroize::Zeroizing;

/// Why a credential could not be made for an EK.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    #[error("the EK is not a restricted decryption key (it cannot activate credentials)")]
    NotAStorageKey,
    #[error("the EK's name algorithm {0:#06x} is not implemented")]
    NameAlg(u16),
    #[error("the EK's symmetric definition is not an implemented CFB cipher")]
    Symmetric,
    #[error("the EK's public key is unusable: {0}")]
    Key(String),
    #[error("the credential is {len} bytes, longer than the EK name algorithm's digest ({max})")]
    TooLong { len: usize, max: usize },
}

const STORAGE: &[u8] = b"STORAGE\0";
const INTEGRITY: &[u8] = b"INTEGRITY\0";
const BLOCK: usize = 16;

/// MakeCredential for `ek_public` and the object named `ak_name` (the AK's
/// Name: nameAlg || H(TPMT_PUBLIC)). Returns (credential_blob,
/// encrypted_secret) as the protocol's `EnrollResponse` carries them.
pub fn make_credential<R: CryptoRngCore + ?Sized>(
    ek_public: &Public,
    ak_name: &[u8],
    secret: &[u8],
    rng: &mut R,
) -> Result<(Vec<u8>, Vec<u8>), CredentialError> {
    let a = ek_public.attributes;
    if !a.restricted() || !a.decrypt() || a.sign_encrypt() {
        return Err(CredentialError::NotAStorageKey);
    }
    let hash =
        HashAlg::from_id(ek_public.name_alg).ok_or(CredentialError::NameAlg(ek_public.name_alg))?;
    if secret.len() > hash.digest_size() {
        return Err(CredentialError::TooLong {
            len: secret.len(),
            max: hash.digest_size(),
        });
    }
    let key_err = |e: tpm::crypto::CryptoError| CredentialError::Key(e.to_string());
    let (symmetric, seed, encrypted_secret) = match (&ek_public.parameters, &ek_public.unique) {
        (PublicParms::Rsa(p), PublicId::Rsa(n)) => {
            let key = RsaPublic::new(n.as_slice(), p.exponent).map_err(key_err)?;
            let (seed, enc) =
                encrypt_seed(SeedPublic::Rsa(&key), hash, LABEL_IDENTITY, rng).map_err(key_err)?;
            (p.symmetric, seed, enc)
        }
        (PublicParms::Ecc(p), PublicId::Ecc(q)) => {
            let curve = EccCurve::from_id(p.curve_id)
                .ok_or_else(|| CredentialError::Key(format!("curve {:#06x}", p.curve_id)))?;
            let point = EccPoint::new(q.x.as_slice(), q.y.as_slice());
            let (seed, enc) =
                encrypt_seed(SeedPublic::Ecc(curve, &point), hash, LABEL_IDENTITY, rng)
                    .map_err(key_err)?;
            (p.symmetric, seed, enc)
        }
        _ => return Err(CredentialError::NotAStorageKey),
    };
    let cipher = match symmetric {
        SymDefObject::Cipher {
            alg,
            key_bits,
            mode,
        } if mode == tpm::constants::alg::CFB => {
            SymAlg::from_tpm(alg, key_bits).ok_or(CredentialError::Symmetric)?
        }
        _ => return Err(CredentialError::Symmetric),
    };

    // encIdentity = CFB(TPM2B_DIGEST(secret)), zero IV (Part 1 §24.4).
    let mut enc = Zeroizing::new(Vec::with_capacity(secret.len() + 2));
    enc.extend_from_slice(&u16::try_from(secret.len()).unwrap_or(0).to_be_bytes());
    enc.extend_from_slice(secret);
    let key = kdfa(
        hash,
        &seed,
        STORAGE,
        ak_name,
        &[],
        u32::from(cipher.key_bits()),
    );
    let mut iv = [0u8; BLOCK];
    sym::encrypt(cipher, SymMode::Cfb, &key, &mut iv, &mut enc)
        .map_err(|e| CredentialError::Key(e.to_string()))?;

    // outerHMAC over encIdentity || name (Part 1 §24.5).
    let bits = u32::try_from(hash.digest_size() * 8).unwrap_or(0);
    let hmac_key = kdfa(hash, &seed, INTEGRITY, &[], &[], bits);
    let mac = hash.hmac(&hmac_key, &[&enc, ak_name]);
    let mut blob = Vec::with_capacity(2 + mac.len() + enc.len());
    blob.extend_from_slice(&u16::try_from(mac.len()).unwrap_or(0).to_be_bytes());
    blob.extend_from_slice(&mac);
    blob.extend_from_slice(&enc);
    Ok((blob, encrypted_secret))
}

/// The activation proof of the protocol (`ActivateRequest::proof`):
/// HMAC-SHA256(key = secret, ACTIVATE_LABEL || agent_id || AK name).
pub fn activation_proof(secret: &[u8], agent_id: &str, ak_name: &[u8]) -> Vec<u8> {
    HashAlg::Sha256.hmac(
        secret,
        &[
            crate::protocol::ACTIVATE_LABEL,
            agent_id.as_bytes(),
            ak_name,
        ],
    )
}

/// Checks an activation proof in constant time.
pub fn verify_activation_proof(
    secret: &[u8],
    agent_id: &str,
    ak_name: &[u8],
    proof: &[u8],
) -> bool {
    use subtle::ConstantTimeEq;
    bool::from(activation_proof(secret, agent_id, ak_name).ct_eq(proof))
}
