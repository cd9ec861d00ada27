//! rustls configuration of the API (ring provider, never aws-lc-rs): the
//! server presents `pki/verifier.pem` and requires a client certificate
//! issued by `pki/ca.pem` (WebPkiClientVerifier), so every request carries
//! a CA-vouched identity.

use std::fs;
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};

use crate::pki::Pki;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
    #[error("{0}: no certificate in the file")]
    NoCert(String),
    #[error("{0}: no private key in the file")]
    NoKey(String),
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("client verifier: {0}")]
    Verifier(String),
}

pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// All certificates of a PEM file.
pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let name = path.display().to_string();
    let pem = fs::read(path).map_err(|e| TlsError::Io(name.clone(), e))?;
    let certs: Vec<_> = rustls_pemfile::certs(&mut &pem[..])
        .filter_map(|c| c.ok())
        .collect();
    if certs.is_empty() {
        return Err(TlsError::NoCert(name));
    }
    Ok(certs)
}

/// The first private key of a PEM file.
pub fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let name = path.display().to_string();
    let pem = fs::read(path).map_err(|e| TlsError::Io(name.clone(), e))?;
    rustls_pemfile::private_key(&mut &pem[..])
        .map_err(|e| TlsError::Io(name.clone(), e))?
        .ok_or(TlsError::NoKey(name))
}

/// The server side: our certificate, client certificates required.
pub fn server_config(pki: &Pki) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = provider();
    let mut roots = RootCertStore::empty();
    for c in load_certs(&pki.ca_cert_path())? {
        roots.add(c)?;
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| TlsError::Verifier(e.to_string()))?;
    let server = pki.server();
    let mut chain = load_certs(&server.cert)?;
    chain.extend(load_certs(&pki.ca_cert_path())?);
    let key = load_key(&server.key)?;
    let mut cfg = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)?;
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}
