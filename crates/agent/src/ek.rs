//! The endorsement key and its certificate (TCG EK Credential Profile for
//! TPM Family 2.0, v2.5): the certificate sits in an NV index of the
//! profile (§2.2.1.5), the key is recreated from the profile template
//! (Annex B) with TPM2_CreatePrimary, and the key in the certificate must
//! be that key, or the certificate says nothing about this TPM.

use der::{Decode, Encode};
use tpm::constants::rh;
use tpm::templates::EkTemplate;
use tpm::types::Public;
use tpm::Rc;
use tpmclient::{Auth, KeyInputs, Tpm};
use x509_cert::Certificate;

use crate::{Error, Result};

/// The templates the agent uses, in order of preference: both low-range
/// templates (L-2 ECC P-256 first: smaller and faster to use) are
/// authorized by PolicySecret(TPM_RH_ENDORSEMENT) alone (Policy A,
/// §B.3.3), which is what [`crate::tpm::AgentTpm`] satisfies.
pub const PREFERRED: [EkTemplate; 2] = [EkTemplate::EccP256L2, EkTemplate::RsaL1];

/// The EK, loaded in the TPM.
#[derive(Clone, Debug)]
pub struct Ek {
    pub template: EkTemplate,
    /// Transient handle of the recreated EK.
    pub handle: u32,
    pub public: Public,
    /// DER of the EK certificate (NV padding removed).
    pub certificate: Vec<u8>,
}

/// Reads the EK certificate of `template` from its NV index, or `None` if
/// the index is not defined. The data area may be larger than the
/// certificate (manufacturers pad it); the DER is cut to its own length.
pub fn read_certificate(tpm: &mut Tpm, template: EkTemplate) -> Result<Option<Vec<u8>>> {
    let index = template.cert_index();
    match tpm.nv_read_public(index) {
        Ok(_) => {}
        Err(e) if e.is_rc(Rc::HANDLE) => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    // The profile's indices are AUTHREAD with an empty authValue; some
    // TPMs only allow OWNERREAD (empty owner auth): try both.
    let data = match tpm.nv_read_all(index, index, &Auth::empty()) {
        Ok(d) => d,
        Err(first) => match tpm.nv_read_all(rh::OWNER, index, &Auth::empty()) {
            Ok(d) => d,
            Err(_) => return Err(first.into()),
        },
    };
    let len = der_length(&data).ok_or_else(|| {
        Error::Ek(format!(
            "NV index 0x{index:08X} does not hold a DER certificate"
        ))
    })?;
    Ok(data.get(..len).map(<[u8]>::to_vec))
}

/// The length of the DER SEQUENCE at the start of `data` (X.690 §8.1.3),
/// if it fits in `data`.
fn der_length(data: &[u8]) -> Option<usize> {
    if *data.first()? != 0x30 {
        return None;
    }
    let first = *data.get(1)?;
    let (len, header) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 3 {
            return None;
        }
        let mut len = 0usize;
        for b in data.get(2..2 + n)? {
            len = (len << 8) | usize::from(*b);
        }
        (len, 2 + n)
    };
    let total = header.checked_add(len)?;
    (total <= data.len()).then_some(total)
}

/// Finds the first [`PREFERRED`] EK that has a certificate, recreates it
/// and checks that the certificate's key is the EK's public key.
pub fn load(tpm: &mut Tpm) -> Result<Ek> {
    for template in PREFERRED {
        let Some(certificate) = read_certificate(tpm, template)? else {
            tracing::debug!(
                template = template.label(),
                index = format_args!("0x{:08X}", template.cert_index()),
                "no EK certificate"
            );
            continue;
        };
        let created = tpm.create_primary(
            rh::ENDORSEMENT,
            &Auth::empty(),
            &template.public(),
            &KeyInputs::default(),
        )?;
        if let Err(e) = check_certificate_key(&certificate, &created.public) {
            let _ = tpm.flush_context(created.handle);
            return Err(e);
        }
        tracing::info!(
            template = template.label(),
            index = format_args!("0x{:08X}", template.cert_index()),
            bytes = certificate.len(),
            "EK certificate read and matches the EK"
        );
        return Ok(Ek {
            template,
            handle: created.handle,
            public: created.public,
            certificate,
        });
    }
    Err(Error::Ek(format!(
        "no EK certificate in NV (looked at {}): this TPM was not manufactured with one \
         (swtpm: swtpm_setup --create-ek-cert; vtpmd vTPMs always have one)",
        PREFERRED
            .iter()
            .map(|t| format!("0x{:08X} ({})", t.cert_index(), t.label()))
            .collect::<Vec<_>>()
            .join(", ")
    )))
}

/// The certificate's SubjectPublicKeyInfo must carry exactly the key of
/// `public` (RFC 5280 §4.1.2.7; encodings per the profile §3.2).
pub fn check_certificate_key(der: &[u8], public: &Public) -> Result<()> {
    let cert = Certificate::from_der(der)
        .map_err(|e| Error::Ek(format!("EK certificate does not parse: {e}")))?;
    let got = cert
        .tbs_certificate
        .subject_public_key_info
        .subject_public_key
        .to_der()
        .map_err(|e| Error::Ek(format!("EK certificate key: {e}")))?;
    let want = vtpm::ekcert::subject_public_key_info(public)
        .map_err(|e| Error::Ek(format!("EK public area: {e}")))?
        .subject_public_key
        .to_der()
        .map_err(|e| Error::Ek(format!("EK public key: {e}")))?;
    if got != want {
        return Err(Error::Ek(
            "the EK certificate certifies another key than this TPM's EK".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_length_handles_padding_and_garbage() {
        let mut v = vec![0x30, 0x03, 1, 2, 3, 0xff, 0xff];
        assert_eq!(der_length(&v), Some(5));
        v[1] = 0x82;
        v.splice(2..2, [0x00, 0x01]);
        assert_eq!(der_length(&v), Some(5), "long form, 1 byte of content");
        let long = [&[0x30, 0x82, 0x01, 0x00][..], &[0u8; 256]].concat();
        assert_eq!(der_length(&long), Some(260));
        assert_eq!(der_length(&long[..200]), None);
        assert_eq!(der_length(&[0x31, 0]), None);
        assert_eq!(der_length(&[0x30, 0x80]), None);
        assert_eq!(der_length(&[]), None);
    }
}
