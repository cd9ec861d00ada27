//! The API's own PKI under `DATA/pki` (ISSUE5 "Data dir"): a CA, the
//! verifier's server certificate, the operator's client certificate and
//! agent client certificates, all ECDSA P-256, generated on first start.
//!
//! Mutual TLS is the only authentication of the REST API: who a caller is
//! comes from the Common Name of its client certificate (`operator`, or
//! `agent:<id>`), which only this CA can vouch for.
//!
//! The CA certificate is not re-parsed on restart: its parameters are fixed
//! (subject `trustcloud API CA`), so re-signing them with the stored key
//! gives an issuer with the same name and key identifier, and certificates
//! issued later chain to the `ca.pem` on disk.

use std::fs;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SerialNumber,
};

use crate::fsutil::{write_public, write_secret};
use crate::ident::valid_agent_id;

/// Common Name of the operator's client certificate.
pub const OPERATOR_CN: &str = "operator";
/// Prefix of an agent's client certificate Common Name.
pub const AGENT_CN_PREFIX: &str = "agent:";
const CA_CN: &str = "trustcloud API CA";

#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("certificate generation: {0}")]
    Rcgen(#[from] rcgen::Error),
    #[error("invalid agent id {0:?}: use 1-64 of [A-Za-z0-9._-]")]
    BadAgentId(String),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> PkiError + '_ {
    move |source| PkiError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Where a certificate and its key are.
#[derive(Clone, Debug)]
pub struct CertFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// The PKI directory (`DATA/pki`).
#[derive(Clone, Debug)]
pub struct Pki {
    dir: PathBuf,
}

impl Pki {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Pki { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn ca_cert_path(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    pub fn server(&self) -> CertFiles {
        self.pair("verifier")
    }

    pub fn operator(&self) -> CertFiles {
        self.pair("operator")
    }

    pub fn agent(&self, id: &str) -> CertFiles {
        CertFiles {
            cert: self.dir.join("agents").join(format!("{id}.pem")),
            key: self.dir.join("agents").join(format!("{id}.key")),
        }
    }

    fn pair(&self, name: &str) -> CertFiles {
        CertFiles {
            cert: self.dir.join(format!("{name}.pem")),
            key: self.dir.join(format!("{name}.key")),
        }
    }

    /// Creates whatever is missing: the CA, the server certificate (and a
    /// new one when `advertise` names are not all in the current one) and
    /// the operator certificate.
    pub fn ensure(&self, advertise: &[String]) -> Result<(), PkiError> {
        fs::create_dir_all(&self.dir).map_err(io_err(&self.dir))?;
        let ca_key_path = self.dir.join("ca.key");
        if !ca_key_path.exists() || !self.ca_cert_path().exists() {
            let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
            let cert = ca_params()?.self_signed(&key)?;
            write_secret(&ca_key_path, key.serialize_pem().as_bytes())
                .map_err(io_err(&ca_key_path))?;
            let p = self.ca_cert_path();
            write_public(&p, cert.pem().as_bytes()).map_err(io_err(&p))?;
            // A new CA invalidates every certificate of the old one.
            let _ = fs::remove_file(self.server().cert);
            let _ = fs::remove_file(self.operator().cert);
        }
        let mut names: Vec<String> = vec!["127.0.0.1".into(), "::1".into(), "localhost".into()];
        for n in advertise {
            if !names.contains(n) {
                names.push(n.clone());
            }
        }
        let names_path = self.dir.join("verifier.names");
        let recorded = fs::read_to_string(&names_path).unwrap_or_default();
        let have: Vec<&str> = recorded.lines().collect();
        let server = self.server();
        if !server.cert.exists()
            || !server.key.exists()
            || names.iter().any(|n| !have.contains(&n.as_str()))
        {
            self.issue("trustcloud verifier", &names, &server, true)?;
            write_public(&names_path, names.join("\n").as_bytes()).map_err(io_err(&names_path))?;
        }
        let op = self.operator();
        if !op.cert.exists() || !op.key.exists() {
            self.issue(OPERATOR_CN, &[], &op, false)?;
        }
        Ok(())
    }

    /// Issues (or re-issues) the client certificate `agent:<id>` into
    /// `pki/agents/<id>.pem/.key`.
    pub fn issue_agent_cert(&self, id: &str) -> Result<CertFiles, PkiError> {
        if !valid_agent_id(id) {
            return Err(PkiError::BadAgentId(id.to_string()));
        }
        let files = self.agent(id);
        self.issue(&format!("{AGENT_CN_PREFIX}{id}"), &[], &files, false)?;
        Ok(files)
    }

    fn issue(
        &self,
        cn: &str,
        sans: &[String],
        out: &CertFiles,
        server: bool,
    ) -> Result<(), PkiError> {
        let ca_key_path = self.dir.join("ca.key");
        let ca_pem = fs::read_to_string(&ca_key_path).map_err(io_err(&ca_key_path))?;
        let ca_key = KeyPair::from_pem(&ca_pem)?;
        let ca = ca_params()?.self_signed(&ca_key)?;
        let mut params = CertificateParams::new(sans.to_vec())?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, cn);
        params.distinguished_name = dn;
        params.serial_number = Some(random_serial());
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![if server {
            ExtendedKeyUsagePurpose::ServerAuth
        } else {
            ExtendedKeyUsagePurpose::ClientAuth
        }];
        params.use_authority_key_identifier_extension = true;
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
        let cert = params.signed_by(&key, &ca, &ca_key)?;
        write_secret(&out.key, key.serialize_pem().as_bytes()).map_err(io_err(&out.key))?;
        write_public(&out.cert, cert.pem().as_bytes()).map_err(io_err(&out.cert))?;
        Ok(())
    }
}

fn ca_params() -> Result<CertificateParams, rcgen::Error> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, CA_CN);
    dn.push(DnType::OrganizationName, "trustcloud");
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    // Fixed serial: the CA is re-signed on every start to act as issuer.
    params.serial_number = Some(SerialNumber::from_slice(&[1]));
    Ok(params)
}

fn random_serial() -> SerialNumber {
    let mut b: [u8; 16] = rand::random();
    b[0] &= 0x7f; // positive INTEGER (RFC 5280 §4.1.2.2)
    b[0] |= 0x01;
    SerialNumber::from_slice(&b)
}

/// Who is calling, from the client certificate's Common Name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Caller {
    Operator,
    Agent(String),
    /// A certificate of our CA with another name: may call only health.
    Other(String),
}

impl Caller {
    pub fn from_cn(cn: &str) -> Caller {
        if cn == OPERATOR_CN {
            Caller::Operator
        } else if let Some(id) = cn.strip_prefix(AGENT_CN_PREFIX) {
            Caller::Agent(id.to_string())
        } else {
            Caller::Other(cn.to_string())
        }
    }

    /// The caller of a connection whose client certificate (leaf first,
    /// DER) is `der`.
    pub fn from_cert_der(der: &[u8]) -> Option<Caller> {
        common_name(der).map(|cn| Caller::from_cn(&cn))
    }
}

/// The first Common Name of a certificate's subject.
pub fn common_name(der: &[u8]) -> Option<String> {
    use der::Decode;
    let cert = x509_cert::Certificate::from_der(der).ok()?;
    for rdn in cert.tbs_certificate.subject.0.iter() {
        for atv in rdn.0.iter() {
            if atv.oid == const_oid_cn() {
                if let Ok(s) = atv.value.decode_as::<der::asn1::Utf8StringRef<'_>>() {
                    return Some(s.as_str().to_string());
                }
                if let Ok(s) = atv.value.decode_as::<der::asn1::PrintableStringRef<'_>>() {
                    return Some(s.as_str().to_string());
                }
            }
        }
    }
    None
}

fn const_oid_cn() -> der::asn1::ObjectIdentifier {
    der::asn1::ObjectIdentifier::new_unwrap("2.5.4.3")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_and_reuses_the_ca_and_names_callers() {
        let dir = tempfile::tempdir().unwrap();
        let pki = Pki::new(dir.path().join("pki"));
        pki.ensure(&[]).unwrap();
        let ca1 = fs::read(pki.ca_cert_path()).unwrap();
        let op = fs::read_to_string(pki.operator().cert).unwrap();
        pki.ensure(&[]).unwrap();
        assert_eq!(fs::read(pki.ca_cert_path()).unwrap(), ca1);
        assert_eq!(fs::read_to_string(pki.operator().cert).unwrap(), op);
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(dir.path().join("pki/ca.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let files = pki.issue_agent_cert("node-1").unwrap();
        let pem = fs::read(files.cert).unwrap();
        let der = rustls_pemfile::certs(&mut &pem[..])
            .next()
            .unwrap()
            .unwrap();
        assert_eq!(
            Caller::from_cert_der(&der),
            Some(Caller::Agent("node-1".into()))
        );
        assert!(pki.issue_agent_cert("../x").is_err());
    }
}
