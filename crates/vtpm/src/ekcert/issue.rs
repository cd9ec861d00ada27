//! Issuing an EK certificate per the TCG EK Credential Profile for TPM
//! Family 2.0, version 2.5, §3 ("EK Certificate").
//!
//! The certificate names no subject: the TPM is identified by the
//! subjectAltName directoryName holding its manufacturer, model and
//! version (§3.2.9; the SAN is then critical, RFC 5280 §4.2.1.6), and the
//! TPM Library specification it implements travels in
//! subjectDirectoryAttributes (§3.2.11). The key usage follows the key:
//! keyEncipherment for an RSA EK, keyAgreement for an ECC one (§3.2.15);
//! the extended key usage tcg-kp-EKCertificate marks the certificate as an
//! EK certificate (§3.2.16). basicConstraints says CA:FALSE (§3.2.10), and
//! the authorityKeyIdentifier points at the CA's key (§3.2.12). No
//! subjectKeyIdentifier: the profile does not ask for one in EK
//! certificates.

use std::time::SystemTime;

use der::asn1::{ObjectIdentifier, SetOfVec, Utf8StringRef};
use der::{Any, Encode, Sequence};
use x509_cert::attr::Attribute;
use x509_cert::builder::{CertificateBuilder, Profile};
use x509_cert::certificate::Certificate;
use x509_cert::ext::pkix::certpolicy::{
    DisplayText, PolicyInformation, PolicyQualifierInfo, UserNotice,
};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, CertificatePolicies, KeyUsage, KeyUsages,
    SubjectAltName,
};
use x509_cert::ext::AsExtension;
use x509_cert::name::RdnSequence;

use tpm::types::{Public, PublicParms};

use super::ca::{self, builder_err, BuilderSigner, CaKey, RawSigner};
use super::{ek_spki, oids, EkCertError};

/// The explicitText of the certificate policy's user notice, the
/// credential type the TCG credential profiles give EK certificates.
pub const EK_USER_NOTICE: &str = "TCPA Trusted Platform Module Endorsement";

/// What the certificate says about the TPM, read from the TPM itself
/// (TPM2_GetCapability, TPM_CAP_TPM_PROPERTIES).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TpmInfo {
    /// TPM_PT_MANUFACTURER: four ASCII characters as a big-endian u32.
    pub manufacturer: u32,
    /// TPM_PT_VENDOR_STRING_1..4.
    pub vendor_strings: [u32; 4],
    /// TPM_PT_FIRMWARE_VERSION_1.
    pub firmware_version_1: u32,
    /// TPM_PT_FAMILY_INDICATOR ("2.0").
    pub family: u32,
    /// TPM_PT_LEVEL.
    pub level: u32,
    /// TPM_PT_REVISION (e.g. 183 for 1.83).
    pub revision: u32,
}

/// Four big-endian ASCII characters, NULs dropped.
fn chars(v: u32) -> String {
    v.to_be_bytes()
        .iter()
        .filter(|&&b| b != 0)
        .map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                b as char
            } else {
                '?'
            }
        })
        .collect()
}

impl TpmInfo {
    /// tcg-at-tpmManufacturer: "id:" and the 8 hex digits of
    /// TPM_PT_MANUFACTURER (EK Credential Profile §3.1.2).
    pub fn manufacturer_id(&self) -> String {
        format!("id:{:08X}", self.manufacturer)
    }

    /// tcg-at-tpmModel: the vendor string.
    pub fn model(&self) -> String {
        let s: String = self.vendor_strings.iter().map(|&v| chars(v)).collect();
        if s.is_empty() {
            "unknown".into()
        } else {
            s
        }
    }

    /// tcg-at-tpmVersion: "id:" and the 8 hex digits of
    /// TPM_PT_FIRMWARE_VERSION_1.
    pub fn version_id(&self) -> String {
        format!("id:{:08X}", self.firmware_version_1)
    }

    /// The family as text ("2.0").
    pub fn family_text(&self) -> String {
        chars(self.family)
    }
}

/// TPMSpecification (EK Credential Profile §3.1.3):
/// SEQUENCE { family UTF8String, level INTEGER, revision INTEGER }.
#[derive(Sequence)]
struct TpmSpecification<'a> {
    family: Utf8StringRef<'a>,
    level: u32,
    revision: u32,
}

/// subjectDirectoryAttributes (RFC 5280 §4.2.1.8): SEQUENCE OF Attribute,
/// each with a SET OF values. (x509-cert 0.2's own type encodes
/// AttributeTypeAndValue, without the SET, which is not what the profile
/// or OpenSSL expect.)
struct DirectoryAttributes(Vec<Attribute>);

impl der::FixedTag for DirectoryAttributes {
    const TAG: der::Tag = der::Tag::Sequence;
}

impl der::EncodeValue for DirectoryAttributes {
    fn value_len(&self) -> der::Result<der::Length> {
        self.0.value_len()
    }
    fn encode_value(&self, w: &mut impl der::Writer) -> der::Result<()> {
        self.0.encode_value(w)
    }
}

impl der::oid::AssociatedOid for DirectoryAttributes {
    const OID: ObjectIdentifier = der::oid::db::rfc5280::ID_CE_SUBJECT_DIRECTORY_ATTRIBUTES;
}

impl AsExtension for DirectoryAttributes {
    /// Non-critical, as RFC 5280 §4.2.1.8 requires.
    fn critical(&self, _: &x509_cert::name::Name, _: &[x509_cert::ext::Extension]) -> bool {
        false
    }
}

/// extendedKeyUsage with tcg-kp-EKCertificate, non-critical as swtpm and
/// hardware TPM vendors issue it (x509-cert marks its own type critical,
/// which some relying parties reject for an unknown purpose).
struct EkExtendedKeyUsage;

impl der::FixedTag for EkExtendedKeyUsage {
    const TAG: der::Tag = der::Tag::Sequence;
}

impl der::EncodeValue for EkExtendedKeyUsage {
    fn value_len(&self) -> der::Result<der::Length> {
        oids::KP_EK_CERTIFICATE.encoded_len()
    }
    fn encode_value(&self, w: &mut impl der::Writer) -> der::Result<()> {
        oids::KP_EK_CERTIFICATE.encode(w)
    }
}

impl der::oid::AssociatedOid for EkExtendedKeyUsage {
    const OID: ObjectIdentifier = der::oid::db::rfc5280::ID_CE_EXT_KEY_USAGE;
}

impl AsExtension for EkExtendedKeyUsage {
    fn critical(&self, _: &x509_cert::name::Name, _: &[x509_cert::ext::Extension]) -> bool {
        false
    }
}

/// The key usage the profile gives an EK of this type (§3.2.15).
fn key_usage(public: &Public) -> KeyUsage {
    match public.parameters {
        PublicParms::Rsa(_) => KeyUsage(KeyUsages::KeyEncipherment.into()),
        _ => KeyUsage(KeyUsages::KeyAgreement.into()),
    }
}

/// The SAN directoryName: one RDN each for manufacturer, model and
/// version (§3.2.9).
fn tpm_directory_name(info: &TpmInfo) -> Result<RdnSequence, EkCertError> {
    Ok(RdnSequence(vec![
        ca::rdn(oids::TPM_MANUFACTURER, &info.manufacturer_id())?,
        ca::rdn(oids::TPM_MODEL, &info.model())?,
        ca::rdn(oids::TPM_VERSION, &info.version_id())?,
    ]))
}

fn tpm_specification(info: &TpmInfo) -> Result<DirectoryAttributes, EkCertError> {
    let family = info.family_text();
    let spec = TpmSpecification {
        family: Utf8StringRef::new(&family)?,
        level: info.level,
        revision: info.revision,
    };
    let mut values = SetOfVec::new();
    values.insert(Any::encode_from(&spec)?)?;
    Ok(DirectoryAttributes(vec![Attribute {
        oid: oids::TPM_SPECIFICATION,
        values,
    }]))
}

/// The certificate policies: the CA asserts it verified the key's TPM
/// residency and fixedTPM attribute (it created the key inside the vTPM
/// from a fixedTPM template), with the EK credential user notice.
fn certificate_policies() -> Result<CertificatePolicies, EkCertError> {
    let notice = UserNotice {
        notice_ref: None,
        explicit_text: Some(DisplayText::Utf8String(EK_USER_NOTICE.to_string())),
    };
    let qualifier = PolicyQualifierInfo {
        policy_qualifier_id: oids::QT_UNOTICE,
        qualifier: Some(Any::encode_from(&notice)?),
    };
    Ok(CertificatePolicies(vec![
        PolicyInformation {
            policy_identifier: oids::CAP_VERIFIED_TPM_RESIDENCY,
            policy_qualifiers: Some(vec![qualifier]),
        },
        PolicyInformation {
            policy_identifier: oids::CAP_VERIFIED_TPM_FIXED,
            policy_qualifiers: None,
        },
    ]))
}

/// Issues the EK certificate for the EK whose public area is `ek`, on the
/// TPM described by `info`, signed by `ca`, valid from `now` with no
/// expiry.
pub fn issue_ek_certificate(
    ca: &dyn CaKey,
    ek: &Public,
    info: &TpmInfo,
    now: SystemTime,
) -> Result<Certificate, EkCertError> {
    let ca_cert = ca.certificate();
    let spki = ek_spki::subject_public_key_info(ek)?;
    let sign = |m: &[u8]| ca.sign(m);
    let signer = BuilderSigner::new(RawSigner {
        public_key: ca_cert.tbs_certificate.subject_public_key_info.clone(),
        algorithm: ca.signature_algorithm(),
        sign: &sign,
    });
    let mut b = CertificateBuilder::new(
        Profile::Manual {
            issuer: Some(ca_cert.tbs_certificate.subject.clone()),
        },
        ca::random_serial()?,
        ca::validity_from(now)?,
        RdnSequence(Vec::new()),
        spki,
        &signer,
    )
    .map_err(builder_err)?;
    let san = SubjectAltName(vec![GeneralName::DirectoryName(tpm_directory_name(info)?)]);
    b.add_extension(&san).map_err(builder_err)?;
    b.add_extension(&BasicConstraints {
        ca: false,
        path_len_constraint: None,
    })
    .map_err(builder_err)?;
    b.add_extension(&key_usage(ek)).map_err(builder_err)?;
    b.add_extension(&EkExtendedKeyUsage).map_err(builder_err)?;
    b.add_extension(&certificate_policies()?)
        .map_err(builder_err)?;
    b.add_extension(&AuthorityKeyIdentifier {
        key_identifier: Some(ca::ca_key_identifier(ca_cert)?),
        authority_cert_issuer: None,
        authority_cert_serial_number: None,
    })
    .map_err(builder_err)?;
    b.add_extension(&tpm_specification(info)?)
        .map_err(builder_err)?;
    let cert = signer.build(b)?;
    cert.to_der()?;
    Ok(cert)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tpm_info_renders_as_the_profile_asks() {
        let info = TpmInfo {
            manufacturer: u32::from_be_bytes(*b"IBM\0"),
            vendor_strings: [
                u32::from_be_bytes(*b"SW  "),
                u32::from_be_bytes(*b" TPM"),
                0,
                0,
            ],
            firmware_version_1: 0x2019_1023,
            family: u32::from_be_bytes(*b"2.0\0"),
            level: 0,
            revision: 164,
        };
        assert_eq!(info.manufacturer_id(), "id:49424D00");
        assert_eq!(info.model(), "SW   TPM");
        assert_eq!(info.version_id(), "id:20191023");
        assert_eq!(info.family_text(), "2.0");
        let spec = tpm_specification(&info).unwrap().0;
        let value = spec[0].values.get(0).unwrap().to_der().unwrap();
        // SEQUENCE { UTF8String "2.0", INTEGER 0, INTEGER 164 }
        assert_eq!(
            value,
            [0x30, 0x0c, 0x0c, 3, b'2', b'.', b'0', 2, 1, 0, 2, 2, 0, 164]
        );
    }
}
