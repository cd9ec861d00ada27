//! The SubjectPublicKeyInfo (RFC 5280 §4.1.2.7) of an EK, from its TPM
//! public area (TPM 2.0 Part 2 §12.2.4).
//!
//! The EK Credential Profile puts the EK public key in the certificate as
//! any X.509 key: rsaEncryption with an RSAPublicKey for RSA (RFC 3279
//! §2.3.1), id-ecPublicKey with the named curve and an uncompressed point
//! for ECC (RFC 5480 §2).

use der::asn1::{BitString, UintRef};
use der::{Any, Encode, Sequence};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use tpm::constants::curve;
use tpm::types::{Public, PublicId, PublicParms};

use super::{oids, EkCertError};

/// RSAPublicKey (RFC 8017 Appendix A.1.1).
#[derive(Sequence)]
struct RsaPublicKey<'a> {
    modulus: UintRef<'a>,
    public_exponent: UintRef<'a>,
}

/// The TPM's default RSA public exponent, meant by exponent 0 (Part 2
/// §12.2.3.5).
const DEFAULT_EXPONENT: u32 = 65537;

/// The SubjectPublicKeyInfo of `public`: RSA, NIST P-256/P-384 and SM2
/// keys; other types and curves are refused.
pub fn subject_public_key_info(public: &Public) -> Result<SubjectPublicKeyInfoOwned, EkCertError> {
    match (&public.parameters, &public.unique) {
        (PublicParms::Rsa(parms), PublicId::Rsa(n)) => {
            let exponent = if parms.exponent == 0 {
                DEFAULT_EXPONENT
            } else {
                parms.exponent
            };
            let modulus = n.as_slice();
            if modulus.len() * 8 != usize::from(parms.key_bits) {
                return Err(EkCertError::EkPublic(format!(
                    "RSA modulus of {} bytes for a {}-bit key",
                    modulus.len(),
                    parms.key_bits
                )));
            }
            let e = exponent.to_be_bytes();
            let key = RsaPublicKey {
                modulus: UintRef::new(modulus)?,
                public_exponent: UintRef::new(&e)?,
            }
            .to_der()?;
            Ok(SubjectPublicKeyInfoOwned {
                algorithm: AlgorithmIdentifierOwned {
                    oid: oids::RSA_ENCRYPTION,
                    parameters: Some(Any::null()),
                },
                subject_public_key: BitString::from_bytes(&key)?,
            })
        }
        (PublicParms::Ecc(parms), PublicId::Ecc(point)) => {
            let (curve_oid, size) = match parms.curve_id {
                curve::NIST_P256 => (oids::SECP256R1, 32),
                curve::NIST_P384 => (oids::SECP384R1, 48),
                curve::SM2_P256 => (oids::SM2_CURVE, 32),
                other => {
                    return Err(EkCertError::EkPublic(format!(
                        "ECC curve 0x{other:04x} has no certificate encoding here"
                    )))
                }
            };
            // SEC 1 §2.3.3 uncompressed point: 04 || X || Y, each
            // coordinate left-padded to the field size.
            let mut encoded = Vec::with_capacity(1 + 2 * size);
            encoded.push(0x04);
            for c in [point.x.as_slice(), point.y.as_slice()] {
                if c.is_empty() || c.len() > size {
                    return Err(EkCertError::EkPublic(format!(
                        "ECC coordinate of {} bytes on a {}-byte curve",
                        c.len(),
                        size
                    )));
                }
                encoded.resize(encoded.len() + size - c.len(), 0);
                encoded.extend_from_slice(c);
            }
            Ok(SubjectPublicKeyInfoOwned {
                algorithm: AlgorithmIdentifierOwned {
                    oid: oids::EC_PUBLIC_KEY,
                    parameters: Some(Any::encode_from(&curve_oid)?),
                },
                subject_public_key: BitString::from_bytes(&encoded)?,
            })
        }
        _ => Err(EkCertError::EkPublic(format!(
            "object type 0x{:04x} is not an asymmetric key",
            public.object_type()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use der::Decode;
    use tpm::templates::EkTemplate;
    use tpm::types::{EccParameter, PublicKeyRsa};

    #[test]
    fn rsa_keys_get_the_default_exponent_and_a_positive_modulus() {
        let mut p = EkTemplate::RsaL1.public();
        p.unique = PublicId::Rsa(PublicKeyRsa::new(vec![0xff; 256]).unwrap());
        let spki = subject_public_key_info(&p).unwrap();
        assert_eq!(spki.algorithm.oid, oids::RSA_ENCRYPTION);
        #[derive(Sequence)]
        struct Rsa {
            n: der::asn1::Uint,
            e: der::asn1::Uint,
        }
        let key = Rsa::from_der(spki.subject_public_key.raw_bytes()).unwrap();
        assert_eq!(key.e.as_bytes(), &[1, 0, 1]);
        assert_eq!(key.n.as_bytes(), &[0xff; 256][..]);
        // A modulus that does not match keyBits is refused.
        p.unique = PublicId::Rsa(PublicKeyRsa::new(vec![0xff; 128]).unwrap());
        assert!(subject_public_key_info(&p).is_err());
    }

    #[test]
    fn ecc_points_are_padded_and_bounded() {
        let mut p = EkTemplate::EccP256L2.public();
        p.unique = PublicId::Ecc(tpm::types::EccPoint {
            x: EccParameter::new(vec![7; 31]).unwrap(),
            y: EccParameter::new(vec![9; 32]).unwrap(),
        });
        let spki = subject_public_key_info(&p).unwrap();
        let bits = spki.subject_public_key.raw_bytes();
        assert_eq!(bits.len(), 65);
        assert_eq!(&bits[..3], &[4, 0, 7], "uncompressed, x left-padded");
        assert_eq!(
            spki.algorithm
                .parameters
                .unwrap()
                .decode_as::<ObjectIdentifier>()
                .unwrap(),
            oids::SECP256R1
        );
        for (x, y) in [(0, 32), (33, 32)] {
            p.unique = PublicId::Ecc(tpm::types::EccPoint {
                x: EccParameter::new(vec![1; x]).unwrap(),
                y: EccParameter::new(vec![1; y]).unwrap(),
            });
            assert!(subject_public_key_info(&p).is_err(), "x of {x} bytes");
        }
    }

    #[test]
    fn symmetric_objects_have_no_certificate_key() {
        let mut p = EkTemplate::EccP256L2.public();
        p.parameters = PublicParms::SymCipher(tpm::types::SymCipherParms {
            sym: tpm::types::SymDefObject::Null,
        });
        p.unique = PublicId::SymCipher(tpm::types::Digest2b::empty());
        assert!(matches!(
            subject_public_key_info(&p),
            Err(EkCertError::EkPublic(_))
        ));
    }

    use der::asn1::ObjectIdentifier;
}
