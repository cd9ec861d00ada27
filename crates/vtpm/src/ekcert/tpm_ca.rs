//! A host vTPM CA whose key lives in the host's TPM: an ECDSA P-256
//! signing key created under the storage hierarchy (below the ECC P-256
//! SRK of the TCG TPM v2.0 Provisioning Guidance, derived from the owner
//! seed on demand). The key is fixedTPM and fixedParent, so its private
//! part leaves the TPM only wrapped by the SRK: the key file is useless on
//! any other machine, or on this one after TPM2_Clear.
//!
//! The wrapped key is stored as a "TSS2 PRIVATE KEY" PEM (the ASN.1
//! TPMKey of the tpm2-tss-engine and tpm2-openssl providers: loadable key,
//! empty auth, parent TPM_RH_OWNER, TPM2B_PUBLIC and TPM2B_PRIVATE), the
//! certificate beside it as in [`super::FileCa`].
//!
//! One connection to the host TPM is shared by everything the daemon does
//! with it (swtpm and the simulator serve one client at a time), hence the
//! `Arc<Mutex<tpmclient::Tpm>>`.

use std::fs;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use der::asn1::{ObjectIdentifier, OctetString, UintRef};
use der::{DecodePem, Encode, EncodePem, Sequence};
use sha2::{Digest, Sha256};
use spki::AlgorithmIdentifierOwned;
use tpm::constants::{alg, rh};
use tpm::types::{Private2b, Public, Public2b, SigScheme, Signature, TkHashcheck};
use tpm::wire::Reader;
use tpmclient::{Auth, KeyInputs};
use x509_cert::certificate::Certificate;

use super::ca::{self, CaKey, RawSigner};
use super::file_ca::{read_small, write_atomic, CA_CERT_FILE, CA_KEY_FILE};
use super::{ek_spki, oids, EkCertError};

/// The wrapped CA key inside the CA directory.
pub const CA_TPM_KEY_FILE: &str = "ca-key.tpm.pem";
/// PEM label of the TPMKey structure.
const TSS2_PEM_LABEL: &str = "TSS2 PRIVATE KEY";
/// id-loadablekey: a TPMKey holding a key to TPM2_Load.
const ID_LOADABLE_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.23.133.10.1.3");

/// A host TPM connection shared by the daemon's users of it.
pub type SharedTpm = Arc<Mutex<tpmclient::Tpm>>;

/// TPMKey (tpm2-tss-engine / tpm2-openssl "TSS2 PRIVATE KEY").
#[derive(Sequence)]
struct TpmKey {
    key_type: ObjectIdentifier,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    empty_auth: Option<bool>,
    parent: u32,
    pubkey: OctetString,
    privkey: OctetString,
}

impl der::pem::PemLabel for TpmKey {
    const PEM_LABEL: &'static str = TSS2_PEM_LABEL;
}

/// Ecdsa-Sig-Value (RFC 3279 §2.2.3), what goes into the certificate's
/// signature BIT STRING.
#[derive(Sequence)]
struct EcdsaSigValue<'a> {
    r: UintRef<'a>,
    s: UintRef<'a>,
}

/// The loaded CA key and the TPM it is loaded in.
struct Loaded {
    tpm: SharedTpm,
    private: Private2b,
    public: Public,
    /// The key's transient handle, while loaded.
    handle: Option<u32>,
}

fn host_err(op: &'static str) -> impl FnOnce(tpmclient::Error) -> EkCertError {
    move |e| EkCertError::HostTpm {
        op,
        reason: e.to_string(),
    }
}

impl Loaded {
    /// Loads the key under a freshly derived SRK and flushes the SRK (the
    /// key stays usable without its parent loaded).
    fn load(&mut self, tpm: &mut tpmclient::Tpm) -> Result<u32, EkCertError> {
        if let Some(h) = self.handle {
            return Ok(h);
        }
        let srk = tpm
            .create_primary(
                rh::OWNER,
                &Auth::empty(),
                &tpmclient::templates::srk_ecc_p256(),
                &KeyInputs::default(),
            )
            .map_err(host_err("create the storage root key"))?;
        let loaded = tpm.load(srk.handle, &Auth::empty(), &self.private, &self.public);
        let _ = tpm.flush_context(srk.handle);
        let h = loaded.map_err(host_err("load the CA key"))?.handle;
        self.handle = Some(h);
        Ok(h)
    }

    /// ECDSA-SHA256 signature of `message` as a DER Ecdsa-Sig-Value. A
    /// failure with the key loaded is retried once after reloading it (the
    /// host TPM may have been reset, flushing transient objects).
    fn sign(&mut self, message: &[u8]) -> Result<Vec<u8>, EkCertError> {
        let digest = Sha256::digest(message);
        let tpm_arc = Arc::clone(&self.tpm);
        let mut tpm = tpm_arc.lock().unwrap_or_else(PoisonError::into_inner);
        let mut attempt = 0;
        let sig = loop {
            let h = self.load(&mut tpm)?;
            match tpm.sign(
                h,
                &Auth::empty(),
                &digest,
                SigScheme::Ecdsa(alg::SHA256),
                &TkHashcheck::null(),
            ) {
                Ok(sig) => break sig,
                Err(e) if attempt == 0 => {
                    tracing::warn!(error = %e, "host TPM refused to sign with the CA key; reloading it");
                    let _ = tpm.flush_context(h);
                    self.handle = None;
                    attempt += 1;
                }
                Err(e) => return Err(host_err("sign with the CA key")(e)),
            }
        };
        let Signature::Ecdsa(ecc) = sig else {
            return Err(EkCertError::HostTpm {
                op: "sign with the CA key",
                reason: "the TPM returned a non-ECDSA signature".into(),
            });
        };
        Ok(EcdsaSigValue {
            r: UintRef::new(ecc.r.as_slice())?,
            s: UintRef::new(ecc.s.as_slice())?,
        }
        .to_der()?)
    }
}

impl Drop for Loaded {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            let mut tpm = self.tpm.lock().unwrap_or_else(PoisonError::into_inner);
            let _ = tpm.flush_context(h);
        }
    }
}

/// A CA whose key is in the host TPM: see the module documentation.
pub struct TpmCa {
    loaded: Mutex<Loaded>,
    cert: Certificate,
    key_path: PathBuf,
    cert_path: PathBuf,
}

impl std::fmt::Debug for TpmCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TpmCa")
            .field("key_path", &self.key_path)
            .field("cert_path", &self.cert_path)
            .finish_non_exhaustive()
    }
}

fn signature_algorithm() -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid: oids::ECDSA_WITH_SHA256,
        parameters: None,
    }
}

impl TpmCa {
    /// Opens the TPM-backed CA in `dir`, creating it (a new key in `tpm`,
    /// its wrapped blob, a self-signed certificate for `hostname`) if `dir`
    /// holds none. Returns the CA and whether it was created now. A
    /// directory holding a file CA key is refused: its EK certificates
    /// chain to that key.
    pub fn open_or_create(
        dir: &Path,
        tpm: SharedTpm,
        hostname: &str,
    ) -> Result<(TpmCa, bool), EkCertError> {
        if !dir.exists() {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|err| EkCertError::Io {
                    op: "create CA directory",
                    path: dir.to_path_buf(),
                    err,
                })?;
        }
        let key_path = dir.join(CA_TPM_KEY_FILE);
        let cert_path = dir.join(CA_CERT_FILE);
        let file_key = dir.join(CA_KEY_FILE);
        if file_key.exists() {
            return Err(EkCertError::Unsupported(format!(
                "{} holds a file CA key ({}); its EK certificates chain to it. Keep using it, or move the directory away to create a CA in the host TPM",
                dir.display(),
                file_key.display()
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
            let (private, public) = {
                let mut t = tpm.lock().unwrap_or_else(PoisonError::into_inner);
                create_key(&mut t)?
            };
            let pem = TpmKey {
                key_type: ID_LOADABLE_KEY,
                empty_auth: Some(true),
                parent: rh::OWNER,
                pubkey: OctetString::new(tpm::wire::Codec::to_bytes(&Public2b(public)))?,
                privkey: OctetString::new(tpm::wire::Codec::to_bytes(&private))?,
            }
            .to_pem(der::pem::LineEnding::LF)?;
            write_atomic(&key_path, pem.as_bytes(), 0o600)?;
            tracing::info!(path = %key_path.display(), "created vTPM CA key in the host TPM");
        }
        let (private, public) = read_key(&key_path)?;
        let spki = ek_spki::subject_public_key_info(&public)?;
        let loaded = Mutex::new(Loaded {
            tpm,
            private,
            public,
            handle: None,
        });
        let cert = if cert_path.exists() {
            let pem = read_small(&cert_path, "read CA certificate")?;
            let cert =
                Certificate::from_pem(pem.as_bytes()).map_err(|e| EkCertError::CaCertificate {
                    path: cert_path.clone(),
                    reason: format!("not a PEM X.509 certificate ({e})"),
                })?;
            if cert.tbs_certificate.subject_public_key_info != spki {
                return Err(EkCertError::CaCertificate {
                    path: cert_path,
                    reason: format!("its public key is not the key in {}", key_path.display()),
                });
            }
            cert
        } else {
            let sign = |m: &[u8]| lock(&loaded).sign(m);
            let raw = RawSigner {
                public_key: spki,
                algorithm: signature_algorithm(),
                sign: &sign,
            };
            let cert = ca::self_signed(raw, ca::ca_subject(hostname)?, SystemTime::now())?;
            let pem = cert.to_pem(der::pem::LineEnding::LF)?;
            write_atomic(&cert_path, pem.as_bytes(), 0o644)?;
            tracing::info!(path = %cert_path.display(), "created vTPM CA certificate");
            cert
        };
        Ok((
            TpmCa {
                loaded,
                cert,
                key_path,
                cert_path,
            },
            created,
        ))
    }

    /// The wrapped key file.
    pub fn key_path(&self) -> &Path {
        &self.key_path
    }

    /// The certificate file (PEM).
    pub fn cert_path(&self) -> &Path {
        &self.cert_path
    }
}

fn lock(m: &Mutex<Loaded>) -> std::sync::MutexGuard<'_, Loaded> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// TPM2_Create of the CA key (an unrestricted ECDSA P-256 SHA-256 signing
/// key, fixedTPM, fixedParent, empty authValue) under the SRK.
fn create_key(tpm: &mut tpmclient::Tpm) -> Result<(Private2b, Public), EkCertError> {
    let srk = tpm
        .create_primary(
            rh::OWNER,
            &Auth::empty(),
            &tpmclient::templates::srk_ecc_p256(),
            &KeyInputs::default(),
        )
        .map_err(host_err("create the storage root key"))?;
    let created = tpm.create(
        srk.handle,
        &Auth::empty(),
        &tpmclient::templates::signing_ecc_p256(),
        &KeyInputs::default(),
    );
    let _ = tpm.flush_context(srk.handle);
    let created = created.map_err(host_err("create the CA key"))?;
    Ok((created.private, created.public))
}

/// Reads a TSS2 PRIVATE KEY file written by [`TpmCa::open_or_create`].
fn read_key(path: &Path) -> Result<(Private2b, Public), EkCertError> {
    let bad = |reason: String| EkCertError::KeyFile {
        path: path.to_path_buf(),
        reason,
    };
    let pem = read_small(path, "read CA key")?;
    let key = TpmKey::from_pem(pem.as_bytes())
        .map_err(|e| bad(format!("not a TSS2 PRIVATE KEY PEM ({e})")))?;
    if key.key_type != ID_LOADABLE_KEY || key.parent != rh::OWNER {
        return Err(bad(
            "not a loadable key under the owner hierarchy's SRK".into()
        ));
    }
    let public = <Public2b as tpm::wire::Codec>::from_bytes(key.pubkey.as_bytes())
        .map_err(|e| bad(format!("TPM2B_PUBLIC: {e}")))?
        .0;
    let mut r = Reader::new(key.privkey.as_bytes());
    let private = <Private2b as tpm::wire::Codec>::decode(&mut r)
        .map_err(|e| bad(format!("TPM2B_PRIVATE: {e}")))?;
    if !r.is_empty() {
        return Err(bad("trailing bytes after TPM2B_PRIVATE".into()));
    }
    Ok((private, public))
}

impl CaKey for TpmCa {
    fn certificate(&self) -> &Certificate {
        &self.cert
    }

    fn signature_algorithm(&self) -> AlgorithmIdentifierOwned {
        signature_algorithm()
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, EkCertError> {
        lock(&self.loaded).sign(message)
    }

    fn describe(&self) -> String {
        format!(
            "host TPM key {} (ecdsa-p256, wrapped by the host TPM's SRK)",
            self.key_path.display()
        )
    }
}
