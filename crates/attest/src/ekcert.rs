//! EK certificate checks for enrollment (TCG EK Credential Profile 2.x):
//! the certificate must chain to one of the configured trust anchors
//! (vtpmd's host CA, swtpm's local CA root and intermediate, TPM vendor
//! roots), and the key it certifies must be the EK the agent presented
//! (its TPMT_PUBLIC), so a certificate of another TPM cannot be replayed.
//!
//! Chain building: starting at the EK certificate, each issuer is looked up
//! by name among the anchors and the extra intermediates, and the
//! signature checked with the issuer's key (RSA PKCS#1 v1.5 or ECDSA with
//! SHA-256/384/512, P-256/P-384), up to [`MAX_CHAIN`] links. Reaching any
//! certificate that is itself an anchor ends the chain successfully — an
//! anchor is trusted as configured, self-signed or not. Validity periods
//! are checked only when a time is given (vTPM EK certificates are often
//! issued with validity windows that do not matter for attestation).

use der::asn1::UintRef;
use der::{Decode, Encode, Sequence};
use tpm::crypto::{ecc, rsa, EccCurve, EccPoint, HashAlg, RsaPublic};
use tpm::types::{Public, PublicId, PublicParms};
use x509_cert::Certificate;

/// Longest issuer chain followed (leaf, intermediates, anchor).
pub const MAX_CHAIN: usize = 5;

const OID_RSA: &str = "1.2.840.113549.1.1.1";
const OID_EC: &str = "1.2.840.10045.2.1";
const OID_P256: &str = "1.2.840.10045.3.1.7";
const OID_P384: &str = "1.3.132.0.34";
const OID_SHA256_RSA: &str = "1.2.840.113549.1.1.11";
const OID_SHA384_RSA: &str = "1.2.840.113549.1.1.12";
const OID_SHA512_RSA: &str = "1.2.840.113549.1.1.13";
const OID_ECDSA_SHA256: &str = "1.2.840.10045.4.3.2";
const OID_ECDSA_SHA384: &str = "1.2.840.10045.4.3.3";
const OID_ECDSA_SHA512: &str = "1.2.840.10045.4.3.4";

/// Why an EK certificate was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EkCertError {
    #[error("EK certificate is not DER X.509: {0}")]
    Malformed(String),
    #[error("trust anchor #{index} is not a certificate: {reason}")]
    BadAnchor { index: usize, reason: String },
    #[error("EK certificate (issuer {issuer}) does not chain to a trusted CA")]
    Untrusted { issuer: String },
    #[error("signature of {subject} does not verify with the key of {issuer}")]
    BadSignature { subject: String, issuer: String },
    #[error("signature algorithm {0} is not supported")]
    UnsupportedAlgorithm(String),
    #[error("certificate {subject} is not valid at {now} (valid {not_before} to {not_after}, Unix seconds)")]
    Expired {
        subject: String,
        now: u64,
        not_before: u64,
        not_after: u64,
    },
    #[error("the EK certificate's key is not the EK public key presented ({0})")]
    KeyMismatch(String),
}

/// What an accepted EK certificate says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EkCertInfo {
    pub subject: String,
    pub issuer: String,
    /// Serial number, hex.
    pub serial: String,
    pub not_before: u64,
    pub not_after: u64,
    /// Subjects from the EK certificate up to the anchor.
    pub chain: Vec<String>,
    /// Index (into the anchors given) of the anchor reached.
    pub anchor_index: usize,
    /// DER of the anchor reached (the verifier links VMs to the host whose
    /// vTPM CA this is).
    pub anchor_der: Vec<u8>,
}

/// Reads PEM (one or more `CERTIFICATE` blocks) or a single DER
/// certificate into DER certificates.
pub fn parse_certificates(bytes: &[u8]) -> Result<Vec<Vec<u8>>, EkCertError> {
    if bytes.starts_with(b"-----")
        || bytes.iter().take(64).all(|b| b.is_ascii())
            && bytes.windows(11).any(|w| w == b"-----BEGIN ")
    {
        let text = std::str::from_utf8(bytes).map_err(|e| EkCertError::Malformed(e.to_string()))?;
        let mut out = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("-----BEGIN CERTIFICATE-----") {
            let body = &rest[start + 27..];
            let end = body
                .find("-----END CERTIFICATE-----")
                .ok_or_else(|| EkCertError::Malformed("PEM block without END".into()))?;
            let b64: String = body[..end].chars().filter(|c| !c.is_whitespace()).collect();
            use base64::Engine as _;
            let der = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|e| EkCertError::Malformed(format!("PEM base64: {e}")))?;
            out.push(der);
            rest = &body[end + 25..];
        }
        return Ok(out);
    }
    Ok(vec![bytes.to_vec()])
}

/// Verifies `der` against `anchors` (DER certificates) and `ek_public`.
pub fn verify_ek_certificate<A: AsRef<[u8]>>(
    der: &[u8],
    anchors: &[A],
    ek_public: &Public,
) -> Result<EkCertInfo, EkCertError> {
    verify_ek_certificate_with(der, anchors, &[] as &[&[u8]], ek_public, None)
}

/// [`verify_ek_certificate`] with extra (untrusted) intermediates and,
/// when `now` (Unix seconds) is given, validity-period checks.
pub fn verify_ek_certificate_with<A: AsRef<[u8]>, I: AsRef<[u8]>>(
    der: &[u8],
    anchors: &[A],
    intermediates: &[I],
    ek_public: &Public,
    now: Option<u64>,
) -> Result<EkCertInfo, EkCertError> {
    let leaf = Certificate::from_der(der).map_err(|e| EkCertError::Malformed(e.to_string()))?;
    let anchors: Vec<Certificate> = anchors
        .iter()
        .enumerate()
        .map(|(index, a)| {
            Certificate::from_der(a.as_ref()).map_err(|e| EkCertError::BadAnchor {
                index,
                reason: e.to_string(),
            })
        })
        .collect::<Result<_, _>>()?;
    let inter: Vec<Certificate> = intermediates
        .iter()
        .filter_map(|c| Certificate::from_der(c.as_ref()).ok())
        .collect();

    check_key_matches(&leaf, ek_public)?;

    let mut chain = vec![leaf.tbs_certificate.subject.to_string()];
    let mut current = leaf.clone();
    for _ in 0..MAX_CHAIN {
        check_validity(&current, now)?;
        let issuer_name = &current.tbs_certificate.issuer;
        // An anchor that issued `current`?
        for (index, a) in anchors.iter().enumerate() {
            if &a.tbs_certificate.subject == issuer_name && verify_signed_by(&current, a).is_ok() {
                check_validity(a, now)?;
                chain.push(a.tbs_certificate.subject.to_string());
                let tbs = &leaf.tbs_certificate;
                return Ok(EkCertInfo {
                    subject: tbs.subject.to_string(),
                    issuer: tbs.issuer.to_string(),
                    serial: crate::failure::hex(tbs.serial_number.as_bytes()),
                    not_before: tbs.validity.not_before.to_unix_duration().as_secs(),
                    not_after: tbs.validity.not_after.to_unix_duration().as_secs(),
                    chain,
                    anchor_index: index,
                    anchor_der: a.to_der().unwrap_or_default(),
                });
            }
        }
        let next = inter.iter().find(|c| {
            &c.tbs_certificate.subject == issuer_name && verify_signed_by(&current, c).is_ok()
        });
        match next {
            Some(c) if c != &current => {
                chain.push(c.tbs_certificate.subject.to_string());
                current = c.clone();
            }
            _ => break,
        }
    }
    // Name matched an anchor but the signature did not: say so.
    if let Some(a) = anchors
        .iter()
        .find(|a| a.tbs_certificate.subject == current.tbs_certificate.issuer)
    {
        verify_signed_by(&current, a)?;
    }
    Err(EkCertError::Untrusted {
        issuer: leaf.tbs_certificate.issuer.to_string(),
    })
}

fn check_validity(c: &Certificate, now: Option<u64>) -> Result<(), EkCertError> {
    let Some(now) = now else {
        return Ok(());
    };
    let v = &c.tbs_certificate.validity;
    let (nb, na) = (
        v.not_before.to_unix_duration().as_secs(),
        v.not_after.to_unix_duration().as_secs(),
    );
    if now < nb || now > na {
        return Err(EkCertError::Expired {
            subject: c.tbs_certificate.subject.to_string(),
            now,
            not_before: nb,
            not_after: na,
        });
    }
    Ok(())
}

#[derive(Sequence)]
struct RsaPublicKeyDer<'a> {
    n: UintRef<'a>,
    e: UintRef<'a>,
}

#[derive(Sequence)]
struct EcdsaSigDer<'a> {
    r: UintRef<'a>,
    s: UintRef<'a>,
}

/// The key of a certificate.
enum CertKey {
    Rsa {
        n: Vec<u8>,
        e: u32,
    },
    Ec {
        curve: EccCurve,
        x: Vec<u8>,
        y: Vec<u8>,
    },
}

fn cert_key(c: &Certificate) -> Result<CertKey, EkCertError> {
    let spki = &c.tbs_certificate.subject_public_key_info;
    let alg = spki.algorithm.oid.to_string();
    let bits = spki.subject_public_key.raw_bytes();
    match alg.as_str() {
        OID_RSA => {
            let k = RsaPublicKeyDer::from_der(bits)
                .map_err(|e| EkCertError::Malformed(format!("RSA key: {e}")))?;
            let e_bytes = k.e.as_bytes();
            if e_bytes.len() > 4 {
                return Err(EkCertError::Malformed("RSA exponent too large".into()));
            }
            let e = e_bytes.iter().fold(0u32, |a, b| (a << 8) | u32::from(*b));
            Ok(CertKey::Rsa {
                n: k.n.as_bytes().to_vec(),
                e,
            })
        }
        OID_EC => {
            let params = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.decode_as::<der::asn1::ObjectIdentifier>().ok())
                .map(|o| o.to_string())
                .unwrap_or_default();
            let curve = match params.as_str() {
                OID_P256 => EccCurve::NistP256,
                OID_P384 => EccCurve::NistP384,
                other => {
                    return Err(EkCertError::UnsupportedAlgorithm(format!(
                        "EC curve {other}"
                    )))
                }
            };
            let size = curve.size();
            match bits {
                [4, rest @ ..] if rest.len() == 2 * size => {
                    let (x, y) = rest.split_at(size);
                    Ok(CertKey::Ec {
                        curve,
                        x: x.to_vec(),
                        y: y.to_vec(),
                    })
                }
                _ => Err(EkCertError::Malformed(
                    "EC key is not an uncompressed point".into(),
                )),
            }
        }
        other => Err(EkCertError::UnsupportedAlgorithm(format!("key {other}"))),
    }
}

fn strip_zeros(b: &[u8]) -> &[u8] {
    let n = b.iter().take_while(|&&x| x == 0).count();
    b.get(n..).unwrap_or(&[])
}

fn check_key_matches(cert: &Certificate, ek: &Public) -> Result<(), EkCertError> {
    match (cert_key(cert)?, &ek.parameters, &ek.unique) {
        (CertKey::Rsa { n, e }, PublicParms::Rsa(p), PublicId::Rsa(m)) => {
            let ek_e = if p.exponent == 0 { 65537 } else { p.exponent };
            if strip_zeros(&n) != strip_zeros(m.as_slice()) {
                return Err(EkCertError::KeyMismatch("RSA modulus differs".into()));
            }
            if e != ek_e {
                return Err(EkCertError::KeyMismatch("RSA exponent differs".into()));
            }
            Ok(())
        }
        (CertKey::Ec { curve, x, y }, PublicParms::Ecc(p), PublicId::Ecc(q)) => {
            if EccCurve::from_id(p.curve_id) != Some(curve) {
                return Err(EkCertError::KeyMismatch("ECC curve differs".into()));
            }
            if strip_zeros(&x) != strip_zeros(q.x.as_slice())
                || strip_zeros(&y) != strip_zeros(q.y.as_slice())
            {
                return Err(EkCertError::KeyMismatch("ECC point differs".into()));
            }
            Ok(())
        }
        _ => Err(EkCertError::KeyMismatch("key types differ".into())),
    }
}

/// Checks `cert`'s signature with `issuer`'s key.
fn verify_signed_by(cert: &Certificate, issuer: &Certificate) -> Result<(), EkCertError> {
    let bad = || EkCertError::BadSignature {
        subject: cert.tbs_certificate.subject.to_string(),
        issuer: issuer.tbs_certificate.subject.to_string(),
    };
    let alg = cert.signature_algorithm.oid.to_string();
    let hash = match alg.as_str() {
        OID_SHA256_RSA | OID_ECDSA_SHA256 => HashAlg::Sha256,
        OID_SHA384_RSA | OID_ECDSA_SHA384 => HashAlg::Sha384,
        OID_SHA512_RSA | OID_ECDSA_SHA512 => HashAlg::Sha512,
        other => return Err(EkCertError::UnsupportedAlgorithm(other.to_string())),
    };
    let tbs = cert
        .tbs_certificate
        .to_der()
        .map_err(|e| EkCertError::Malformed(e.to_string()))?;
    let digest = hash.digest(&[&tbs]);
    let sig = cert.signature.raw_bytes();
    match cert_key(issuer)? {
        CertKey::Rsa { n, e } if alg.starts_with("1.2.840.113549") => {
            let key = RsaPublic::new(strip_zeros(&n), e).map_err(|_| bad())?;
            rsa::verify_pkcs1v15(&key, hash, &digest, sig).map_err(|_| bad())
        }
        CertKey::Ec { curve, x, y } if alg.starts_with("1.2.840.10045") => {
            let s = EcdsaSigDer::from_der(sig).map_err(|_| bad())?;
            let q = EccPoint::new(&x, &y);
            ecc::ecdsa_verify(curve, &q, &digest, s.r.as_bytes(), s.s.as_bytes()).map_err(|_| bad())
        }
        _ => Err(bad()),
    }
}
