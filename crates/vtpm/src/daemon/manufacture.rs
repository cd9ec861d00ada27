//! Manufacturing a new vTPM for `create`: fresh seeds, then the EKs and
//! their certificates through [`ekcert::manufacture`] (EK Credential
//! Profile templates, certificates issued by the host vTPM CA and stored
//! in the profile's NV indices), and the records `show` prints.

use tpm::wire::Codec;
use tpm::{EngineConfig, Tpm};

use super::api::EkInfo;
use crate::ekcert::{self, CaKey, EkCertError, EkKind};

/// What `create` makes when no EK kind is given.
pub const DEFAULT_EKS: [EkKind; 2] = [EkKind::Rsa2048, EkKind::EccP256];

/// One bit per kind, for the compact in-memory record of an instance.
pub fn kind_bit(kind: EkKind) -> u8 {
    match kind {
        EkKind::Rsa2048 => 1,
        EkKind::EccP256 => 2,
        EkKind::Sm2P256 => 4,
    }
}

/// A new TPM with `config`'s banks and the EKs of `kinds`, left awaiting
/// TPM2_Startup like a TPM fresh from the factory; the caller stores its
/// `state_blob()`.
pub fn manufacture(
    config: &EngineConfig,
    ca: &dyn CaKey,
    kinds: &[EkKind],
) -> Result<(Tpm, Vec<EkInfo>), EkCertError> {
    let mut tpm = Tpm::new(config);
    let made = ekcert::manufacture(&mut tpm, ca, kinds)?;
    let eks = made
        .eks
        .iter()
        .map(|ek| EkInfo {
            kind: ek.kind.name().to_string(),
            public: hex::encode(ek.public.to_bytes()),
            name: ek.public.name().map(|n| hex::encode(n.as_bytes())),
            cert_nv_index: Some(ek.nv_index),
            certificate: Some(hex::encode(&ek.certificate_der)),
        })
        .collect();
    Ok((tpm, eks))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ekcert::{CaAlgorithm, FileCa};
    use tpm::crypto::HashAlg;

    #[test]
    fn eks_get_certificates_and_names() {
        let tmp = tempfile::tempdir().unwrap();
        let (ca, _) = FileCa::open_or_create(tmp.path(), CaAlgorithm::default(), "host").unwrap();
        let (tpm, eks) = manufacture(&EngineConfig::default(), &ca, &[EkKind::EccP256]).unwrap();
        assert!(!tpm.is_started(), "left awaiting TPM2_Startup");
        assert_eq!(eks.len(), 1);
        assert_eq!(eks[0].kind, "ecc-p256");
        assert_eq!(eks[0].cert_nv_index, Some(0x01C0_000A));
        let public = hex::decode(&eks[0].public).unwrap();
        // type ECC, nameAlg SHA-256, the EK attributes of template L-2.
        assert_eq!(&public[..8], &[0, 0x23, 0, 0x0b, 0, 3, 0, 0xb2]);
        let name = hex::decode(eks[0].name.as_ref().unwrap()).unwrap();
        assert_eq!(
            name,
            [&[0, 0x0b][..], &HashAlg::Sha256.digest(&[&public])].concat()
        );
        // A DER certificate: SEQUENCE with a two-byte length.
        let cert = hex::decode(eks[0].certificate.as_ref().unwrap()).unwrap();
        assert_eq!(cert[0], 0x30);
    }
}
