//! Errors of the EK certificate machinery.

use std::io;
use std::path::PathBuf;

use tpm::Rc;

/// Why a CA key could not be loaded or used, a certificate not issued, or
/// a vTPM not manufactured.
#[derive(Debug, thiserror::Error)]
pub enum EkCertError {
    #[error("cannot {op} {}: {err}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        err: io::Error,
    },
    #[error("CA key file {} is refused: {reason}", path.display())]
    KeyFile { path: PathBuf, reason: String },
    #[error("CA key file {} has mode {mode:04o}; a private key must not be readable by group or others (chmod 600 it)", path.display())]
    InsecureKeyFile { path: PathBuf, mode: u32 },
    #[error("CA certificate {} is refused: {reason}", path.display())]
    CaCertificate { path: PathBuf, reason: String },
    #[error("the CA certificate {} exists but its key {} does not; restore the key or move both away to create a new CA (EK certificates issued so far chain to the old one)", cert.display(), key.display())]
    MissingKey { cert: PathBuf, key: PathBuf },
    #[error("the CA key cannot sign: {0}")]
    Sign(String),
    #[error("cannot encode the certificate: {0}")]
    Encode(String),
    #[error("the EK public area is unusable for a certificate: {0}")]
    EkPublic(String),
    #[error("{command} failed on the vTPM: {rc}")]
    Tpm { command: &'static str, rc: Rc },
    #[error("malformed {command} response from the vTPM: {reason}")]
    Response {
        command: &'static str,
        reason: String,
    },
    #[error("the EK certificate is {size} bytes, more than an NV index holds ({max})")]
    CertTooLarge { size: usize, max: usize },
    #[error("host TPM: cannot {op}: {reason}")]
    HostTpm { op: &'static str, reason: String },
    #[error("{0}")]
    Unsupported(String),
}

impl From<der::Error> for EkCertError {
    fn from(e: der::Error) -> Self {
        EkCertError::Encode(e.to_string())
    }
}

impl From<tpm::wire::WireError> for EkCertError {
    fn from(e: tpm::wire::WireError) -> Self {
        EkCertError::Encode(format!("TPM structure: {e}"))
    }
}
