//! The host vTPM CA: the key that signs every vTPM's EK certificates, and
//! its self-signed certificate.
//!
//! A verifier trusts a VM's EK because its certificate chains to this CA,
//! and trusts the CA because the host attests (through its own TPM) that
//! it holds the key. So the key sits behind [`CaKey`]: a key under the
//! host TPM's storage hierarchy when the host has one
//! ([`super::TpmCa`]), else a 0600 file ([`super::FileCa`]).

use std::cell::RefCell;
use std::time::SystemTime;

use der::asn1::{GeneralizedTime, OctetString, SetOfVec, UtcTime, Utf8StringRef};
use der::{Any, DateTime, Encode};
use spki::{
    AlgorithmIdentifierOwned, DynSignatureAlgorithmIdentifier, EncodePublicKey,
    SignatureBitStringEncoding, SubjectPublicKeyInfoOwned,
};
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::builder::{Builder, CertificateBuilder, Profile};
use x509_cert::certificate::Certificate;
use x509_cert::ext::pkix::{BasicConstraints, KeyUsage, KeyUsages, SubjectKeyIdentifier};
use x509_cert::name::{Name, RdnSequence, RelativeDistinguishedName};
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::{Time, Validity};

use super::{oids, EkCertError};

/// The signature algorithm of a CA key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum CaAlgorithm {
    /// ECDSA on NIST P-256 with SHA-256: the default, as small and fast as
    /// the P-256 EKs it certifies.
    #[default]
    EcdsaP256,
    /// ECDSA on NIST P-384 with SHA-384.
    EcdsaP384,
}

impl CaAlgorithm {
    /// The name used on command lines and in `vtpm show`.
    pub fn name(self) -> &'static str {
        match self {
            CaAlgorithm::EcdsaP256 => "ecdsa-p256",
            CaAlgorithm::EcdsaP384 => "ecdsa-p384",
        }
    }
}

impl std::str::FromStr for CaAlgorithm {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "ecdsa-p256" | "p256" | "ecc-p256" => Ok(CaAlgorithm::EcdsaP256),
            "ecdsa-p384" | "p384" | "ecc-p384" => Ok(CaAlgorithm::EcdsaP384),
            other => Err(format!(
                "unknown CA algorithm {other:?} (expected ecdsa-p256 or ecdsa-p384)"
            )),
        }
    }
}

/// A CA private key with its certificate: whatever signs EK certificates.
///
/// Implementations keep the private key wherever they like (a 0600 file, a
/// key loaded in the host TPM); callers only ask for signatures.
pub trait CaKey: Send + Sync {
    /// The CA's own certificate: the issuer of every EK certificate, and
    /// what verifiers are given as the trust anchor.
    fn certificate(&self) -> &Certificate;

    /// The AlgorithmIdentifier of the signatures [`CaKey::sign`] makes
    /// (RFC 5280 §4.1.1.2), e.g. ecdsa-with-SHA256.
    fn signature_algorithm(&self) -> AlgorithmIdentifierOwned;

    /// Signs `message` (a DER TBSCertificate) and returns the signature
    /// value as it goes into the certificate's BIT STRING (for ECDSA the
    /// DER Ecdsa-Sig-Value, RFC 5480 §2.2 / RFC 3279 §2.2.3).
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, EkCertError>;

    /// Where the key lives, for logs and `vtpm show` ("file /…/ca-key.pem").
    fn describe(&self) -> String;
}

/// The CA certificate in PEM form, for `openssl verify -CAfile`.
pub fn certificate_pem(ca: &dyn CaKey) -> Result<String, EkCertError> {
    use der::EncodePem;
    ca.certificate()
        .to_pem(der::pem::LineEnding::LF)
        .map_err(EkCertError::from)
}

/// The subject key identifier of the CA certificate: from its extension
/// if present, else computed as RFC 5280 §4.2.1.2 method (1) (SHA-1 of the
/// subjectPublicKey bits), which is what the builder puts there.
pub(crate) fn ca_key_identifier(cert: &Certificate) -> Result<OctetString, EkCertError> {
    use der::Decode;
    use x509_cert::ext::pkix::SubjectKeyIdentifier as Ski;
    let ski_oid = der::oid::db::rfc5280::ID_CE_SUBJECT_KEY_IDENTIFIER;
    for ext in cert.tbs_certificate.extensions.iter().flatten() {
        if ext.extn_id == ski_oid {
            return Ok(Ski::from_der(ext.extn_value.as_bytes())?.0);
        }
    }
    let spki = &cert.tbs_certificate.subject_public_key_info;
    Ok(Ski::try_from(der::referenced::OwnedToRef::owned_to_ref(spki))?.0)
}

/// A positive random serial number of 16 bytes (RFC 5280 §4.1.2.2: at
/// most 20 octets, unique per CA; CA/B forum practice: at least 64 random
/// bits). The top bit is cleared (positive) and the next one set (no
/// leading zero octet to strip), leaving 126 random bits.
pub(crate) fn random_serial() -> Result<SerialNumber, EkCertError> {
    use rand_core::{OsRng, RngCore};
    let mut b = [0u8; 16];
    OsRng
        .try_fill_bytes(&mut b)
        .map_err(|e| EkCertError::Sign(format!("no randomness for a serial number: {e}")))?;
    b[0] = (b[0] & 0x7f) | 0x40;
    Ok(SerialNumber::new(&b)?)
}

/// notBefore = `now`, notAfter = 99991231235959Z: RFC 5280 §4.1.2.5's
/// "no well-defined expiration date", which the EK Credential Profile
/// prescribes for EK certificates (a TPM's EK lives as long as the TPM).
pub(crate) fn validity_from(now: SystemTime) -> Result<Validity, EkCertError> {
    let not_before = Time::UtcTime(UtcTime::from_system_time(now)?);
    let forever = DateTime::new(9999, 12, 31, 23, 59, 59)?;
    let not_after = Time::GeneralTime(GeneralizedTime::from_date_time(forever));
    Ok(Validity {
        not_before,
        not_after,
    })
}

/// One attribute in one RDN (UTF8String value).
pub(crate) fn rdn(
    oid: der::asn1::ObjectIdentifier,
    value: &str,
) -> Result<RelativeDistinguishedName, EkCertError> {
    let value = Any::encode_from(&Utf8StringRef::new(value)?)?;
    let mut set = SetOfVec::new();
    set.insert(AttributeTypeAndValue { oid, value })?;
    Ok(RelativeDistinguishedName(set))
}

/// The CA's distinguished name: `CN=trustcloud vTPM CA <hostname>`,
/// O=trustcloud. Built attribute by attribute, so a hostname with `,` or
/// `=` needs no escaping.
pub fn ca_subject(hostname: &str) -> Result<Name, EkCertError> {
    Ok(RdnSequence(vec![
        rdn(oids::ORGANIZATION, "trustcloud")?,
        rdn(oids::COMMON_NAME, &format!("trustcloud vTPM CA {hostname}"))?,
    ]))
}

/// The host's name, for the CA subject.
pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into buf.
    let r = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if r != 0 {
        return "localhost".to_string();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    let name = String::from_utf8_lossy(buf.get(..end).unwrap_or(&[])).into_owned();
    if name.is_empty() {
        "localhost".to_string()
    } else {
        name
    }
}

/// A function that signs a message with a CA key.
pub(crate) type SignFn<'a> = dyn Fn(&[u8]) -> Result<Vec<u8>, EkCertError> + 'a;

/// The raw parts of a signer, before it has a certificate: its public key,
/// its signature AlgorithmIdentifier and a signing function.
pub(crate) struct RawSigner<'a> {
    pub public_key: SubjectPublicKeyInfoOwned,
    pub algorithm: AlgorithmIdentifierOwned,
    pub sign: &'a SignFn<'a>,
}

/// Adapts a [`RawSigner`] to the traits x509-cert's builder wants
/// (`Keypair`, `DynSignatureAlgorithmIdentifier`, `Signer`), keeping the
/// signer's own error, which the builder's error type would flatten.
pub(crate) struct BuilderSigner<'a> {
    raw: RawSigner<'a>,
    error: RefCell<Option<EkCertError>>,
}

/// The signer's public key, as the builder's `Keypair::VerifyingKey`.
#[derive(Clone)]
pub(crate) struct PublicKeyInfo(SubjectPublicKeyInfoOwned);

impl EncodePublicKey for PublicKeyInfo {
    fn to_public_key_der(&self) -> spki::Result<der::Document> {
        Ok(der::Document::encode_msg(&self.0)?)
    }
}

/// A signature value, as the builder's `Signature`.
pub(crate) struct SignatureBits(Vec<u8>);

impl SignatureBitStringEncoding for SignatureBits {
    fn to_bitstring(&self) -> der::Result<der::asn1::BitString> {
        der::asn1::BitString::from_bytes(&self.0)
    }
}

impl<'a> BuilderSigner<'a> {
    pub(crate) fn new(raw: RawSigner<'a>) -> Self {
        BuilderSigner {
            raw,
            error: RefCell::new(None),
        }
    }

    /// Runs `builder.build()`, giving back the signer's error if signing
    /// was what failed.
    pub(crate) fn build(
        &self,
        builder: CertificateBuilder<'_, BuilderSigner<'a>>,
    ) -> Result<Certificate, EkCertError> {
        builder.build::<SignatureBits>().map_err(|e| {
            self.error
                .borrow_mut()
                .take()
                .unwrap_or_else(|| EkCertError::Encode(e.to_string()))
        })
    }
}

impl signature::Keypair for BuilderSigner<'_> {
    type VerifyingKey = PublicKeyInfo;
    fn verifying_key(&self) -> PublicKeyInfo {
        PublicKeyInfo(self.raw.public_key.clone())
    }
}

impl DynSignatureAlgorithmIdentifier for BuilderSigner<'_> {
    fn signature_algorithm_identifier(&self) -> spki::Result<AlgorithmIdentifierOwned> {
        Ok(self.raw.algorithm.clone())
    }
}

impl signature::Signer<SignatureBits> for BuilderSigner<'_> {
    fn try_sign(&self, msg: &[u8]) -> Result<SignatureBits, signature::Error> {
        match (self.raw.sign)(msg) {
            Ok(sig) => Ok(SignatureBits(sig)),
            Err(e) => {
                *self.error.borrow_mut() = Some(e);
                Err(signature::Error::new())
            }
        }
    }
}

/// An error of x509-cert's builder (encoding; signing errors are kept by
/// [`BuilderSigner`]).
pub(crate) fn builder_err(e: x509_cert::builder::Error) -> EkCertError {
    EkCertError::Encode(e.to_string())
}

/// Builds the self-signed CA certificate for `signer` (RFC 5280 §4.2.1.9,
/// §4.2.1.3): basicConstraints CA:TRUE with pathLen 0 (the CA signs EK
/// certificates only, never another CA), keyUsage keyCertSign and cRLSign,
/// both critical, and a subjectKeyIdentifier for the EK certificates'
/// authorityKeyIdentifier to point at.
pub(crate) fn self_signed(
    signer: RawSigner<'_>,
    subject: Name,
    now: SystemTime,
) -> Result<Certificate, EkCertError> {
    let spki = signer.public_key.clone();
    let signer = BuilderSigner::new(signer);
    let mut builder = CertificateBuilder::new(
        Profile::Manual { issuer: None },
        random_serial()?,
        validity_from(now)?,
        subject,
        spki.clone(),
        &signer,
    )
    .map_err(builder_err)?;
    let ski = SubjectKeyIdentifier::try_from(der::referenced::OwnedToRef::owned_to_ref(&spki))?;
    builder
        .add_extension(&BasicConstraints {
            ca: true,
            path_len_constraint: Some(0),
        })
        .map_err(builder_err)?;
    builder
        .add_extension(&KeyUsage(KeyUsages::KeyCertSign | KeyUsages::CRLSign))
        .map_err(builder_err)?;
    builder.add_extension(&ski).map_err(builder_err)?;
    let cert = signer.build(builder)?;
    // A certificate that does not encode is useless; fail here, not later.
    cert.to_der()?;
    Ok(cert)
}
