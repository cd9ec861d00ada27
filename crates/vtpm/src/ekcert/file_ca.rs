//! A host vTPM CA whose private key is a PKCS#8 PEM file (mode 0600) and
//! whose certificate is a PEM file beside it.
//!
//! This is the fallback for hosts without a TPM: anyone who can read the
//! key file can mint EK certificates, so the daemon must say loudly that
//! such a host has no hardware root. Files are written crash-safely
//! (temp file, fsync, rename, fsync directory), the key first: a crash
//! leaves either no CA, a key without certificate (the certificate is
//! re-made from the key) or both.

use std::fs::{self, File};
use std::io::{self, Read};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use der::{Decode, DecodePem, EncodePem};
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::certificate::Certificate;
use zeroize::Zeroizing;

use super::ca::{self, CaAlgorithm, CaKey, RawSigner};
use super::{oids, EkCertError};

/// The CA private key file inside the CA directory.
pub const CA_KEY_FILE: &str = "ca-key.pem";
/// The CA certificate file inside the CA directory.
pub const CA_CERT_FILE: &str = "ca-cert.pem";
/// Key and certificate files larger than this are refused unread.
const MAX_PEM_FILE: u64 = 64 * 1024;

/// An ECDSA signing key of one of the supported curves.
enum EcdsaKey {
    P256(p256::ecdsa::SigningKey),
    P384(p384::ecdsa::SigningKey),
}

impl EcdsaKey {
    fn generate(alg: CaAlgorithm) -> EcdsaKey {
        let mut rng = rand_core::OsRng;
        match alg {
            CaAlgorithm::EcdsaP256 => EcdsaKey::P256(p256::ecdsa::SigningKey::random(&mut rng)),
            CaAlgorithm::EcdsaP384 => EcdsaKey::P384(p384::ecdsa::SigningKey::random(&mut rng)),
        }
    }

    /// Reads a PKCS#8 key of either curve (the curve OID inside says which).
    fn from_pem(pem: &str) -> Result<EcdsaKey, String> {
        if let Ok(k) = p256::ecdsa::SigningKey::from_pkcs8_pem(pem) {
            return Ok(EcdsaKey::P256(k));
        }
        match p384::ecdsa::SigningKey::from_pkcs8_pem(pem) {
            Ok(k) => Ok(EcdsaKey::P384(k)),
            Err(e) => Err(format!(
                "not a PKCS#8 ECDSA P-256 or P-384 private key ({e})"
            )),
        }
    }

    fn to_pem(&self) -> Result<Zeroizing<String>, EkCertError> {
        let r = match self {
            EcdsaKey::P256(k) => k.to_pkcs8_pem(LineEnding::LF),
            EcdsaKey::P384(k) => k.to_pkcs8_pem(LineEnding::LF),
        };
        r.map_err(|e| EkCertError::Encode(format!("CA private key: {e}")))
    }

    fn algorithm(&self) -> CaAlgorithm {
        match self {
            EcdsaKey::P256(_) => CaAlgorithm::EcdsaP256,
            EcdsaKey::P384(_) => CaAlgorithm::EcdsaP384,
        }
    }

    fn public_key(&self) -> Result<SubjectPublicKeyInfoOwned, EkCertError> {
        use p256::pkcs8::EncodePublicKey;
        let doc = match self {
            EcdsaKey::P256(k) => k.verifying_key().to_public_key_der(),
            EcdsaKey::P384(k) => k.verifying_key().to_public_key_der(),
        }
        .map_err(|e| EkCertError::Encode(format!("CA public key: {e}")))?;
        Ok(SubjectPublicKeyInfoOwned::from_der(doc.as_bytes())?)
    }

    /// ecdsa-with-SHA256 / -SHA384, parameters absent (RFC 5758 §3.2).
    fn signature_algorithm(&self) -> AlgorithmIdentifierOwned {
        let oid = match self {
            EcdsaKey::P256(_) => oids::ECDSA_WITH_SHA256,
            EcdsaKey::P384(_) => oids::ECDSA_WITH_SHA384,
        };
        AlgorithmIdentifierOwned {
            oid,
            parameters: None,
        }
    }

    /// A DER Ecdsa-Sig-Value over the curve's hash of `msg` (RFC 6979
    /// deterministic nonce).
    fn sign(&self, msg: &[u8]) -> Vec<u8> {
        use signature::Signer;
        match self {
            EcdsaKey::P256(k) => {
                let s: p256::ecdsa::DerSignature = k.sign(msg);
                s.as_bytes().to_vec()
            }
            EcdsaKey::P384(k) => {
                let s: p384::ecdsa::DerSignature = k.sign(msg);
                s.as_bytes().to_vec()
            }
        }
    }
}

/// A CA whose key is a file: see the module documentation.
pub struct FileCa {
    key: EcdsaKey,
    cert: Certificate,
    key_path: PathBuf,
    cert_path: PathBuf,
}

impl std::fmt::Debug for FileCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileCa")
            .field("algorithm", &self.key.algorithm())
            .field("key_path", &self.key_path)
            .field("cert_path", &self.cert_path)
            .finish_non_exhaustive()
    }
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> EkCertError + 'a {
    move |err| EkCertError::Io {
        op,
        path: path.to_path_buf(),
        err,
    }
}

/// Reads a small text file, refusing anything larger than [`MAX_PEM_FILE`].
pub(crate) fn read_small(
    path: &Path,
    what: &'static str,
) -> Result<Zeroizing<String>, EkCertError> {
    let mut f = File::open(path).map_err(io_err(what, path))?;
    let mut buf = Zeroizing::new(Vec::new());
    Read::by_ref(&mut f)
        .take(MAX_PEM_FILE + 1)
        .read_to_end(&mut buf)
        .map_err(io_err(what, path))?;
    if buf.len() as u64 > MAX_PEM_FILE {
        return Err(EkCertError::KeyFile {
            path: path.to_path_buf(),
            reason: format!("larger than {MAX_PEM_FILE} bytes"),
        });
    }
    let text = std::str::from_utf8(&buf).map_err(|_| EkCertError::KeyFile {
        path: path.to_path_buf(),
        reason: "not UTF-8 PEM text".into(),
    })?;
    Ok(Zeroizing::new(text.to_string()))
}

/// Writes a CA file crash-safely with `mode` ([`crate::durable::write_atomic`]).
pub(crate) fn write_atomic(path: &Path, data: &[u8], mode: u32) -> Result<(), EkCertError> {
    crate::durable::write_atomic(path, data, mode).map_err(|e| EkCertError::Io {
        op: e.op,
        path: e.path,
        err: e.err,
    })
}

impl FileCa {
    /// Opens the CA in `dir`, creating it (directory mode 0700, a fresh
    /// `alg` key, a self-signed certificate for `hostname`) if `dir` holds
    /// none. Returns the CA and whether it was created now.
    ///
    /// An existing CA is used as it is, whatever `alg` says: its key has
    /// signed EK certificates already.
    pub fn open_or_create(
        dir: &Path,
        alg: CaAlgorithm,
        hostname: &str,
    ) -> Result<(FileCa, bool), EkCertError> {
        if !dir.exists() {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(io_err("create CA directory", dir))?;
        }
        let key_path = dir.join(CA_KEY_FILE);
        let cert_path = dir.join(CA_CERT_FILE);
        let tpm_key = dir.join(super::CA_TPM_KEY_FILE);
        if tpm_key.exists() {
            return Err(EkCertError::Unsupported(format!(
                "{} holds a CA key in the host TPM ({}); its EK certificates chain to it. Give the daemon that TPM (--host-tpm), or move the directory away to create a file CA",
                dir.display(),
                tpm_key.display()
            )));
        }
        let created = !key_path.exists();
        if created {
            if cert_path.exists() {
                return Err(EkCertError::MissingKey {
                    cert: cert_path,
                    key: key_path,
                });
            }
            let key = EcdsaKey::generate(alg);
            write_atomic(&key_path, key.to_pem()?.as_bytes(), 0o600)?;
            tracing::info!(path = %key_path.display(), algorithm = alg.name(), "created vTPM CA key");
        }
        let key = Self::load_key(&key_path)?;
        if !cert_path.exists() {
            let subject = ca::ca_subject(hostname)?;
            let cert = Self::self_sign(&key, subject)?;
            let pem = cert
                .to_pem(der::pem::LineEnding::LF)
                .map_err(EkCertError::from)?;
            write_atomic(&cert_path, pem.as_bytes(), 0o644)?;
            tracing::info!(path = %cert_path.display(), "created vTPM CA certificate");
        }
        let ca = Self::load(key, key_path, cert_path)?;
        Ok((ca, created))
    }

    /// Opens an existing CA in `dir`.
    pub fn open(dir: &Path) -> Result<FileCa, EkCertError> {
        let key_path = dir.join(CA_KEY_FILE);
        let cert_path = dir.join(CA_CERT_FILE);
        if !key_path.exists() && cert_path.exists() {
            return Err(EkCertError::MissingKey {
                cert: cert_path,
                key: key_path,
            });
        }
        let key = Self::load_key(&key_path)?;
        Self::load(key, key_path, cert_path)
    }

    fn load_key(path: &Path) -> Result<EcdsaKey, EkCertError> {
        let meta = fs::metadata(path).map_err(io_err("stat", path))?;
        let mode = meta.permissions().mode() & 0o7777;
        if mode & 0o077 != 0 {
            return Err(EkCertError::InsecureKeyFile {
                path: path.to_path_buf(),
                mode,
            });
        }
        let pem = read_small(path, "read CA key")?;
        EcdsaKey::from_pem(&pem).map_err(|reason| EkCertError::KeyFile {
            path: path.to_path_buf(),
            reason,
        })
    }

    fn self_sign(
        key: &EcdsaKey,
        subject: x509_cert::name::Name,
    ) -> Result<Certificate, EkCertError> {
        let sign = |m: &[u8]| Ok(key.sign(m));
        let raw = RawSigner {
            public_key: key.public_key()?,
            algorithm: key.signature_algorithm(),
            sign: &sign,
        };
        ca::self_signed(raw, subject, SystemTime::now())
    }

    /// Pairs `key` with the certificate in `cert_path`, refusing a
    /// certificate for another key.
    fn load(key: EcdsaKey, key_path: PathBuf, cert_path: PathBuf) -> Result<FileCa, EkCertError> {
        let pem = read_small(&cert_path, "read CA certificate")?;
        let cert =
            Certificate::from_pem(pem.as_bytes()).map_err(|e| EkCertError::CaCertificate {
                path: cert_path.clone(),
                reason: format!("not a PEM X.509 certificate ({e})"),
            })?;
        if cert.tbs_certificate.subject_public_key_info != key.public_key()? {
            return Err(EkCertError::CaCertificate {
                path: cert_path,
                reason: format!("its public key is not the key in {}", key_path.display()),
            });
        }
        Ok(FileCa {
            key,
            cert,
            key_path,
            cert_path,
        })
    }

    /// The CA's signature algorithm.
    pub fn algorithm(&self) -> CaAlgorithm {
        self.key.algorithm()
    }

    /// The private key file.
    pub fn key_path(&self) -> &Path {
        &self.key_path
    }

    /// The certificate file (PEM).
    pub fn cert_path(&self) -> &Path {
        &self.cert_path
    }
}

impl CaKey for FileCa {
    fn certificate(&self) -> &Certificate {
        &self.cert
    }

    fn signature_algorithm(&self) -> AlgorithmIdentifierOwned {
        self.key.signature_algorithm()
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, EkCertError> {
        Ok(self.key.sign(message))
    }

    fn describe(&self) -> String {
        format!(
            "file {} ({}, no hardware root)",
            self.key_path.display(),
            self.key.algorithm().name()
        )
    }
}
