//! Manufacturing a vTPM: what a TPM vendor's factory does before the TPM
//! ships. Each endorsement key is derived with its EK Credential Profile
//! template, certified by the host vTPM CA, and the certificate is stored
//! in the profile's NV index (EK Credential Profile 2.5 §2.2.1.5 and
//! Table 2), where `tpm2_getekcertificate`, OVMF, Keylime and Windows look
//! for it.

use std::time::SystemTime;

use der::Encode;
use tpm::constants::{alg, pt};
use tpm::types::{NvAttributes, NvPublic, Public, MAX_NV_BUFFER_SIZE, MAX_NV_INDEX_SIZE};
use tpm::Tpm;
use x509_cert::certificate::Certificate;

use super::issue::{issue_ek_certificate, TpmInfo};
use super::{cmd, CaKey, EkCertError, EkKind};

/// TPMA_NV of an EK certificate index, as the profile and the PC Client
/// platform TPM profile set it and as swtpm_setup writes it: created by
/// the platform (PLATFORMCREATE) and written by it (PPWRITE) once
/// (WRITEDEFINE, locked after writing); readable with the owner's, the
/// platform's or the index's own (empty) authorization (OWNERREAD, PPREAD,
/// AUTHREAD), never counted against dictionary attacks (NO_DA).
pub const EK_CERT_NV_ATTRIBUTES: u32 = NvAttributes::PPWRITE
    | NvAttributes::WRITEDEFINE
    | NvAttributes::PPREAD
    | NvAttributes::OWNERREAD
    | NvAttributes::AUTHREAD
    | NvAttributes::NO_DA
    | NvAttributes::PLATFORMCREATE;

/// One endorsement key of a manufactured vTPM.
#[derive(Clone, Debug)]
pub struct ManufacturedEk {
    pub kind: EkKind,
    /// The EK's public area, as TPM2_CreatePrimary returned it.
    pub public: Public,
    /// Its certificate.
    pub certificate: Certificate,
    /// The certificate's DER, as written to `nv_index`.
    pub certificate_der: Vec<u8>,
    /// The NV index holding the certificate.
    pub nv_index: u32,
}

/// The result of [`manufacture`]: for `vtpm show`, and for the caller to
/// persist the TPM's state (`Tpm::state_blob`, which is now dirty).
#[derive(Clone, Debug)]
pub struct Manufactured {
    pub eks: Vec<ManufacturedEk>,
    /// What the certificates say about the TPM.
    pub tpm_info: TpmInfo,
}

/// Reads what the EK certificate says about the TPM from the TPM itself.
pub fn read_tpm_info(tpm: &mut Tpm) -> Result<TpmInfo, EkCertError> {
    let first = pt::FAMILY_INDICATOR;
    let last = pt::FIRMWARE_VERSION_1;
    let props = cmd::tpm_properties(tpm, first, last - first + 1)?;
    let get = |p: u32| {
        props
            .iter()
            .find(|t| t.property == p)
            .map(|t| t.value)
            .ok_or(EkCertError::Response {
                command: "TPM2_GetCapability",
                reason: format!("TPM property 0x{p:03x} missing"),
            })
    };
    Ok(TpmInfo {
        manufacturer: get(pt::MANUFACTURER)?,
        vendor_strings: [
            get(pt::VENDOR_STRING_1)?,
            get(pt::VENDOR_STRING_2)?,
            get(pt::VENDOR_STRING_3)?,
            get(pt::VENDOR_STRING_4)?,
        ],
        firmware_version_1: get(pt::FIRMWARE_VERSION_1)?,
        family: get(pt::FAMILY_INDICATOR)?,
        level: get(pt::LEVEL)?,
        revision: get(pt::REVISION)?,
    })
}

/// Creates the EK of `kind` (TPM2_CreatePrimary with the profile
/// template), returns its public area and flushes it: an EK is a primary
/// key, re-derived on demand from the endorsement seed.
pub fn create_ek(tpm: &mut Tpm, kind: EkKind) -> Result<Public, EkCertError> {
    let template = kind.template();
    let (handle, public) = cmd::create_primary_ek(tpm, &template)?;
    cmd::flush(tpm, handle)?;
    Ok(public)
}

/// Defines the EK certificate index of `kind`, writes `der` into it in
/// MAX_NV_BUFFER_SIZE chunks and write-locks it.
fn store_certificate(tpm: &mut Tpm, index: u32, der: &[u8]) -> Result<(), EkCertError> {
    if der.len() > MAX_NV_INDEX_SIZE {
        return Err(EkCertError::CertTooLarge {
            size: der.len(),
            max: MAX_NV_INDEX_SIZE,
        });
    }
    let public = NvPublic {
        nv_index: index,
        name_alg: alg::SHA256,
        attributes: NvAttributes::new(EK_CERT_NV_ATTRIBUTES)?,
        auth_policy: tpm::types::Digest2b::empty(),
        // Checked against MAX_NV_INDEX_SIZE (2048) above.
        data_size: der.len() as u16,
    };
    cmd::nv_define_platform(tpm, &public)?;
    for (i, chunk) in der.chunks(MAX_NV_BUFFER_SIZE).enumerate() {
        // i * MAX_NV_BUFFER_SIZE < der.len() <= MAX_NV_INDEX_SIZE.
        let offset = (i * MAX_NV_BUFFER_SIZE) as u16;
        cmd::nv_write_platform(tpm, index, chunk, offset)?;
    }
    cmd::nv_write_lock_platform(tpm, index)
}

/// Manufactures `tpm`: for each EK kind in `eks`, creates the EK, issues
/// its certificate with `ca` and stores it in the kind's NV index. Starts
/// the TPM (Startup(CLEAR)) if it is not started, and ends with an orderly
/// Shutdown(CLEAR) and a power cycle, leaving the TPM awaiting
/// TPM2_Startup like a TPM fresh from the factory; the caller must then
/// persist `tpm.state_blob()`.
///
/// A kind whose index is already defined is refused: re-manufacturing
/// would leave two certificates for one EK, or a certificate for another
/// one.
pub fn manufacture(
    tpm: &mut Tpm,
    ca: &dyn CaKey,
    eks: &[EkKind],
) -> Result<Manufactured, EkCertError> {
    if !tpm.is_started() {
        cmd::startup_clear(tpm)?;
    }
    let tpm_info = read_tpm_info(tpm)?;
    let mut kinds: Vec<EkKind> = Vec::with_capacity(eks.len());
    for &k in eks {
        if !kinds.contains(&k) {
            kinds.push(k);
        }
    }
    let now = SystemTime::now();
    let mut out = Vec::with_capacity(kinds.len());
    for kind in kinds {
        let index = kind.nv_index();
        if cmd::nv_read_public(tpm, index)?.is_some() {
            return Err(EkCertError::Unsupported(format!(
                "the {} EK certificate index 0x{index:08X} is already defined: this vTPM is manufactured",
                kind.name()
            )));
        }
        let public = create_ek(tpm, kind)?;
        let certificate = issue_ek_certificate(ca, &public, &tpm_info, now)?;
        let certificate_der = certificate.to_der()?;
        store_certificate(tpm, index, &certificate_der)?;
        tracing::info!(
            ek = kind.name(),
            nv_index = format_args!("0x{index:08X}"),
            bytes = certificate_der.len(),
            "EK certificate stored"
        );
        out.push(ManufacturedEk {
            kind,
            public,
            certificate,
            certificate_der,
            nv_index: index,
        });
    }
    cmd::shutdown_clear(tpm)?;
    tpm.power_on();
    Ok(Manufactured { eks: out, tpm_info })
}

/// Reads the EK certificate of `kind` back from its NV index (the index's
/// own empty authorization, TPMA_NV_AUTHREAD, as `tpm2_nvread` does), or
/// `None` if the TPM has none. The TPM must be started.
pub fn read_ek_certificate(tpm: &mut Tpm, kind: EkKind) -> Result<Option<Vec<u8>>, EkCertError> {
    let index = kind.nv_index();
    let Some(public) = cmd::nv_read_public(tpm, index)? else {
        return Ok(None);
    };
    let size = usize::from(public.data_size);
    let mut der = Vec::with_capacity(size);
    while der.len() < size {
        let n = (size - der.len()).min(MAX_NV_BUFFER_SIZE);
        // Both fit in u16: size came from a u16.
        let chunk = cmd::nv_read(tpm, index, n as u16, der.len() as u16)?;
        if chunk.len() != n {
            return Err(EkCertError::Response {
                command: "TPM2_NV_Read",
                reason: format!("{} bytes for {n} asked", chunk.len()),
            });
        }
        der.extend_from_slice(&chunk);
    }
    Ok(Some(der))
}
