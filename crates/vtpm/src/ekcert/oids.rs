//! Object identifiers the EK certificate profile uses: the TCG arc
//! 2.23.133 (TCG EK Credential Profile 2.5 §3 and the TCG OID registry)
//! and the standard algorithm and PKIX ones.

use der::asn1::ObjectIdentifier as Oid;

/// tcg-at-tpmManufacturer: the TPM vendor, "id:" and 8 hex digits of
/// TPM_PT_MANUFACTURER (EK Credential Profile §3.1.2).
pub const TPM_MANUFACTURER: Oid = Oid::new_unwrap("2.23.133.2.1");
/// tcg-at-tpmModel: the TPM part number (TPM_PT_VENDOR_STRING_*).
pub const TPM_MODEL: Oid = Oid::new_unwrap("2.23.133.2.2");
/// tcg-at-tpmVersion: the firmware version, "id:" and 8 hex digits.
pub const TPM_VERSION: Oid = Oid::new_unwrap("2.23.133.2.3");
/// tcg-at-tpmSpecification: family, level and revision of the TPM Library
/// specification the TPM implements, in subjectDirectoryAttributes.
pub const TPM_SPECIFICATION: Oid = Oid::new_unwrap("2.23.133.2.16");
/// tcg-kp-EKCertificate: the extended key usage that marks an EK
/// certificate.
pub const KP_EK_CERTIFICATE: Oid = Oid::new_unwrap("2.23.133.8.1");
/// tcg-cap-verifiedTPMResidency: the issuer verified that the key resides
/// in a TPM (here: the CA created it inside the vTPM it certifies).
pub const CAP_VERIFIED_TPM_RESIDENCY: Oid = Oid::new_unwrap("2.23.133.11.1.1");
/// tcg-cap-verifiedTPMFixed: the issuer verified the key is fixedTPM (the
/// EK templates set fixedTPM and fixedParent).
pub const CAP_VERIFIED_TPM_FIXED: Oid = Oid::new_unwrap("2.23.133.11.1.2");

/// id-qt-unotice (RFC 5280 §4.2.1.4).
pub const QT_UNOTICE: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.2.2");

/// rsaEncryption (RFC 3279 §2.3.1): the SubjectPublicKeyInfo algorithm of
/// an RSA EK.
pub const RSA_ENCRYPTION: Oid = Oid::new_unwrap("1.2.840.113549.1.1.1");
/// id-ecPublicKey (RFC 5480 §2.1.1).
pub const EC_PUBLIC_KEY: Oid = Oid::new_unwrap("1.2.840.10045.2.1");
/// secp256r1 / prime256v1 (RFC 5480 §2.1.1.1).
pub const SECP256R1: Oid = Oid::new_unwrap("1.2.840.10045.3.1.7");
/// secp384r1 (RFC 5480 §2.1.1.1).
pub const SECP384R1: Oid = Oid::new_unwrap("1.3.132.0.34");
/// The SM2 curve (GB/T 33560, OSCCA 1.2.156.10197.1.301), as OpenSSL names it.
pub const SM2_CURVE: Oid = Oid::new_unwrap("1.2.156.10197.1.301");
/// ecdsa-with-SHA256 (RFC 5758 §3.2; parameters absent).
pub const ECDSA_WITH_SHA256: Oid = Oid::new_unwrap("1.2.840.10045.4.3.2");
/// ecdsa-with-SHA384 (RFC 5758 §3.2).
pub const ECDSA_WITH_SHA384: Oid = Oid::new_unwrap("1.2.840.10045.4.3.3");

/// commonName (X.520, RFC 5280 Appendix A).
pub const COMMON_NAME: Oid = Oid::new_unwrap("2.5.4.3");
/// organizationName.
pub const ORGANIZATION: Oid = Oid::new_unwrap("2.5.4.10");
