//! Quote verification: a TPMS_ATTEST of type TPM_ST_ATTEST_QUOTE (TPM 2.0
//! Part 2 §10.12.12, Part 3 §18.4) and the TPMT_SIGNATURE an attestation
//! key made over it.
//!
//! The checks, in the order a forgery would have to pass them:
//! 1. the signature verifies over H(quote bytes) with the enrolled AK
//!    (the hash is the signature's; only RSASSA/RSAPSS and ECDSA with
//!    SHA-256/384/512 are accepted — SHA-1 quotes prove little);
//! 2. magic is TPM_GENERATED_VALUE: only the TPM writes that prefix into
//!    data it signs with a restricted key (Part 1 §36.3), so a signed
//!    blob with that prefix is TPM-made, not a TPM2_Sign of chosen bytes;
//! 3. type is TPM_ST_ATTEST_QUOTE;
//! 4. extraData equals the verifier's nonce (constant-time compare).
//!
//! An [`AkVerifier`] holds the AK's parsed public key so the verifier does
//! not re-parse the public area or rebuild the big-number key per quote.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use subtle::ConstantTimeEq;
use tpm::constants::{alg, st, TPM_GENERATED_VALUE};
use tpm::crypto::{ecc, rsa, EccCurve, EccPoint, HashAlg, RsaPublic};
use tpm::types::{Attest, Attested, PcrSelectionList, Public, PublicId, PublicParms, Signature};
use tpm::wire::Codec;

use crate::ecdsa_p256::P256Verifier;
use crate::failure::Failure;

/// What a verified quote says (TPMS_ATTEST with TPMS_QUOTE_INFO).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuoteInfo {
    /// TPMS_CLOCK_INFO.clock: milliseconds the TPM has been powered.
    pub clock: u64,
    /// TPM Resets (reboots) since the TPM was cleared.
    pub reset_count: u32,
    /// TPM Restarts / Resumes since the last reset.
    pub restart_count: u32,
    /// Whether the clock value cannot have been reported before.
    pub safe: bool,
    pub firmware_version: u64,
    /// Qualified Name of the signing key.
    pub qualified_signer: Vec<u8>,
    /// The PCRs the digest covers, in TPML_PCR_SELECTION order.
    pub pcr_select: PcrSelectionList,
    /// H(selected PCR values) with the signature's hash (Part 3 §18.4.1).
    pub pcr_digest: Vec<u8>,
    /// The hash of the signature, which is also pcrDigest's hash.
    pub hash: HashAlg,
}

/// The AK's key in a form ready to verify with: the engine's parsed key
/// (the reference rules, any PSS salt length), the encodings `ring`
/// verifies with (≈5-10x faster, which is what lets one verifier core
/// appraise thousands of quotes per second), and for P-256 a comb table
/// (another 1.5x over ring: [`crate::ecdsa_p256`]).
#[derive(Clone, Debug)]
enum Key {
    Rsa {
        key: RsaPublic,
        n: Vec<u8>,
        e: Vec<u8>,
    },
    Ecc {
        curve: EccCurve,
        point: EccPoint,
        /// SEC1 uncompressed point 04 || x || y.
        sec1: Vec<u8>,
        /// P-256 only: the key's comb table, shared by clones.
        comb: Arc<CombSlot>,
    },
}

/// A P-256 AK's comb table, built at the key's second quote: building
/// it (~115 µs) costs twice what ring takes for one signature (~60 µs)
/// and saves ~22 µs on each later one, so a key verified once (an
/// enrollment check, a one-off appraisal) is left to ring.
#[derive(Debug, Default)]
struct CombSlot {
    seen: AtomicBool,
    table: OnceLock<Option<P256Verifier>>,
}

impl CombSlot {
    /// The table, or `None` on the key's first use (and if the point
    /// were not on the curve, which `AkVerifier::new` already refused).
    fn table(&self, sec1: &[u8]) -> Option<&P256Verifier> {
        if let Some(t) = self.table.get() {
            return t.as_ref();
        }
        if !self.seen.swap(true, Ordering::Relaxed) {
            return None;
        }
        self.table
            .get_or_init(|| P256Verifier::new(sec1.get(1..33)?, sec1.get(33..65)?))
            .as_ref()
    }
}

/// An enrolled attestation key, parsed once, that verifies quotes.
#[derive(Clone, Debug)]
pub struct AkVerifier {
    public: Public,
    key: Key,
}

impl AkVerifier {
    /// Prepares `ak` for verification. The AK must be a restricted signing
    /// key (Part 1 §36.3: only then does the TPM refuse to sign data that
    /// starts with TPM_GENERATED_VALUE, which is what makes a quote
    /// unforgeable) with an RSA or ECC (NIST P-256/P-384) public key.
    pub fn new(ak: &Public) -> Result<AkVerifier, Failure> {
        let a = ak.attributes;
        if !a.sign_encrypt() || !a.restricted() || a.decrypt() {
            return Err(Failure::AkUnusable(
                "not a restricted signing key (sign=1, restricted=1, decrypt=0)".into(),
            ));
        }
        let key = match (&ak.parameters, &ak.unique) {
            (PublicParms::Rsa(p), PublicId::Rsa(n)) => {
                let key = RsaPublic::new(n.as_slice(), p.exponent)
                    .map_err(|e| Failure::AkUnusable(format!("RSA key: {e}")))?;
                let e = key.exponent().to_be_bytes();
                let skip = e.iter().take_while(|&&b| b == 0).count();
                Key::Rsa {
                    n: n.as_slice().to_vec(),
                    e: e.get(skip..).unwrap_or(&[]).to_vec(),
                    key,
                }
            }
            (PublicParms::Ecc(p), PublicId::Ecc(q)) => {
                let curve = EccCurve::from_id(p.curve_id)
                    .filter(|c| matches!(c, EccCurve::NistP256 | EccCurve::NistP384))
                    .ok_or_else(|| Failure::AkUnusable(format!("ECC curve {:#06x}", p.curve_id)))?;
                let point = EccPoint::new(q.x.as_slice(), q.y.as_slice());
                ecc::validate_point(curve, &point)
                    .map_err(|_| Failure::AkUnusable("ECC point is not on its curve".into()))?;
                let size = curve.size();
                let mut sec1 = vec![4u8];
                sec1.extend_from_slice(&left_pad(q.x.as_slice(), size).unwrap_or_default());
                sec1.extend_from_slice(&left_pad(q.y.as_slice(), size).unwrap_or_default());
                Key::Ecc {
                    curve,
                    point,
                    sec1,
                    comb: Arc::default(),
                }
            }
            _ => return Err(Failure::AkUnusable("not an RSA or ECC key".into())),
        };
        Ok(AkVerifier {
            public: ak.clone(),
            key,
        })
    }

    /// Prepares an AK from its marshalled TPMT_PUBLIC (as
    /// `EnrollRequest::ak_public` carries it).
    pub fn from_tpmt_public(bytes: &[u8]) -> Result<AkVerifier, Failure> {
        let public = Public::from_bytes(bytes)
            .map_err(|e| Failure::AkUnusable(format!("TPMT_PUBLIC: {e}")))?;
        AkVerifier::new(&public)
    }

    /// The AK's public area.
    pub fn public(&self) -> &Public {
        &self.public
    }

    /// Verifies a quote (see the module documentation for the checks) and
    /// returns what it attests.
    pub fn verify_quote(
        &self,
        quote: &[u8],
        signature: &[u8],
        nonce: &[u8],
    ) -> Result<QuoteInfo, Failure> {
        let sig = Signature::from_bytes(signature)
            .map_err(|e| Failure::SignatureMalformed(e.to_string()))?;
        let hash = self.verify_signature(quote, &sig)?;
        let info = parse_quote(quote, hash)?;
        let extra = extra_data(quote)?;
        if !bool::from(extra.ct_eq(nonce)) {
            return Err(Failure::NonceMismatch);
        }
        Ok(info)
    }

    /// Checks `sig` over H(`message`); returns the hash used.
    fn verify_signature(&self, message: &[u8], sig: &Signature) -> Result<HashAlg, Failure> {
        let (scheme, hash_id) = (sig.sig_alg(), sig.hash().unwrap_or(alg::NULL));
        let bad_scheme = Failure::SignatureScheme {
            scheme,
            hash: hash_id,
        };
        let hash = HashAlg::from_id(hash_id)
            .filter(|h| matches!(h, HashAlg::Sha256 | HashAlg::Sha384 | HashAlg::Sha512))
            .ok_or(bad_scheme.clone())?;
        use ring::signature as rs;
        let digest = || hash.digest(&[message]);
        let ok = match (&self.key, sig) {
            (Key::Rsa { key, n, e }, Signature::Rsassa(s)) => {
                let params: &rs::RsaParameters = match hash {
                    HashAlg::Sha256 => &rs::RSA_PKCS1_2048_8192_SHA256,
                    HashAlg::Sha384 => &rs::RSA_PKCS1_2048_8192_SHA384,
                    _ => &rs::RSA_PKCS1_2048_8192_SHA512,
                };
                if key.bits() >= 2048 {
                    let k = rs::RsaPublicKeyComponents { n, e };
                    k.verify(params, message, s.sig.as_slice()).is_ok()
                } else {
                    rsa::verify_pkcs1v15(key, hash, &digest(), s.sig.as_slice()).is_ok()
                }
            }
            (Key::Rsa { key, n, e }, Signature::Rsapss(s)) => {
                // ring checks salt length = hash length (what TPMs use
                // with 2048-bit keys); other salt lengths go to the
                // engine's verifier, which accepts any.
                let alg: &rs::RsaParameters = match hash {
                    HashAlg::Sha256 => &rs::RSA_PSS_2048_8192_SHA256,
                    HashAlg::Sha384 => &rs::RSA_PSS_2048_8192_SHA384,
                    _ => &rs::RSA_PSS_2048_8192_SHA512,
                };
                (key.bits() >= 2048
                    && rs::RsaPublicKeyComponents { n, e }
                        .verify(alg, message, s.sig.as_slice())
                        .is_ok())
                    || rsa::verify_pss(key, hash, &digest(), s.sig.as_slice()).is_ok()
            }
            (
                Key::Ecc {
                    curve,
                    point,
                    sec1,
                    comb,
                },
                Signature::Ecdsa(s),
            ) => {
                let (r, sv) = (s.r.as_slice(), s.s.as_slice());
                let fast = match (curve, hash) {
                    (EccCurve::NistP256, HashAlg::Sha256) => comb.table(sec1),
                    _ => None,
                };
                let fixed: Option<&'static rs::EcdsaVerificationAlgorithm> = match (curve, hash) {
                    (EccCurve::NistP256, HashAlg::Sha256) => Some(&rs::ECDSA_P256_SHA256_FIXED),
                    (EccCurve::NistP384, HashAlg::Sha384) => Some(&rs::ECDSA_P384_SHA384_FIXED),
                    _ => None,
                };
                match (fast, fixed) {
                    (Some(v), _) => {
                        <[u8; 32]>::try_from(digest().as_slice()).is_ok_and(|d| v.verify(&d, r, sv))
                    }
                    (None, Some(alg)) => {
                        let size = curve.size();
                        match (left_pad(r, size), left_pad(sv, size)) {
                            (Some(mut rs_), Some(sv)) => {
                                rs_.extend_from_slice(&sv);
                                rs::UnparsedPublicKey::new(alg, sec1)
                                    .verify(message, &rs_)
                                    .is_ok()
                            }
                            _ => false,
                        }
                    }
                    (None, None) => ecc::ecdsa_verify(*curve, point, &digest(), r, sv).is_ok(),
                }
            }
            _ => return Err(bad_scheme),
        };
        if ok {
            Ok(hash)
        } else {
            Err(Failure::SignatureInvalid)
        }
    }
}

/// `b` left-padded with zeros to `size` bytes (leading zeros beyond that
/// are stripped); `None` when the value does not fit.
fn left_pad(b: &[u8], size: usize) -> Option<Vec<u8>> {
    let skip = b.iter().take_while(|&&x| x == 0).count();
    let v = b.get(skip..)?;
    if v.len() > size {
        return None;
    }
    let mut out = vec![0u8; size - v.len()];
    out.extend_from_slice(v);
    Some(out)
}

/// Verifies a quote with an AK public area (convenience for one-off
/// checks; a verifier appraising many quotes keeps an [`AkVerifier`]).
pub fn verify_quote(
    ak: &Public,
    quote: &[u8],
    signature: &[u8],
    nonce: &[u8],
) -> Result<QuoteInfo, Failure> {
    AkVerifier::new(ak)?.verify_quote(quote, signature, nonce)
}

/// Parses TPMS_ATTEST bytes as a quote, with specific failures for a wrong
/// magic or type (checked before the full decode so they are reported as
/// such, not as "malformed").
pub fn parse_quote(quote: &[u8], hash: HashAlg) -> Result<QuoteInfo, Failure> {
    let (magic, ty) = match quote {
        [m0, m1, m2, m3, t0, t1, ..] => (
            u32::from_be_bytes([*m0, *m1, *m2, *m3]),
            u16::from_be_bytes([*t0, *t1]),
        ),
        _ => return Err(Failure::QuoteMalformed("shorter than its header".into())),
    };
    if magic != TPM_GENERATED_VALUE {
        return Err(Failure::QuoteMagic(magic));
    }
    if ty != st::ATTEST_QUOTE {
        return Err(Failure::NotAQuote(ty));
    }
    let attest = Attest::from_bytes(quote).map_err(|e| Failure::QuoteMalformed(e.to_string()))?;
    let Attested::Quote(q) = attest.attested else {
        return Err(Failure::NotAQuote(ty));
    };
    Ok(QuoteInfo {
        clock: attest.clock_info.clock,
        reset_count: attest.clock_info.reset_count,
        restart_count: attest.clock_info.restart_count,
        safe: attest.clock_info.safe,
        firmware_version: attest.firmware_version,
        qualified_signer: attest.qualified_signer.as_bytes().to_vec(),
        pcr_select: q.pcr_select,
        pcr_digest: q.pcr_digest.as_slice().to_vec(),
        hash,
    })
}

/// extraData of a TPMS_ATTEST without decoding the rest: magic (4), type
/// (2), qualifiedSigner (TPM2B), extraData (TPM2B).
fn extra_data(quote: &[u8]) -> Result<&[u8], Failure> {
    let bad = || Failure::QuoteMalformed("truncated before extraData".into());
    let rest = quote.get(6..).ok_or_else(bad)?;
    let (signer_len, rest) = rest.split_first_chunk::<2>().ok_or_else(bad)?;
    let rest = rest
        .get(usize::from(u16::from_be_bytes(*signer_len))..)
        .ok_or_else(bad)?;
    let (extra_len, rest) = rest.split_first_chunk::<2>().ok_or_else(bad)?;
    rest.get(..usize::from(u16::from_be_bytes(*extra_len)))
        .ok_or_else(bad)
}
