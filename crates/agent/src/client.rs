//! REST API v1 client (docs/attestation-api.md) over HTTPS with mutual
//! TLS: the agent presents its client certificate (CN `agent:<id>`, issued
//! by the verifier's CA) and trusts only the verifier's CA, never the
//! system roots.

use std::path::Path;
use std::time::Duration;

use attest::protocol::{
    ActivateRequest, ApiError, AttestationResult, Challenge, EnrollRequest, EnrollResponse,
    Evidence, API_PREFIX,
};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::{Error, Result};

/// The agent's TLS material, PEM.
#[derive(Clone)]
pub struct TlsFiles {
    /// Client certificate (chain) PEM.
    pub cert_pem: Vec<u8>,
    /// Its private key, PEM (PKCS#8, SEC1 or PKCS#1).
    pub key_pem: zeroize::Zeroizing<Vec<u8>>,
    /// The CA that issued the verifier's server certificate.
    pub ca_pem: Vec<u8>,
}

impl std::fmt::Debug for TlsFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsFiles").finish_non_exhaustive()
    }
}

impl TlsFiles {
    /// Reads the three PEM files.
    pub fn read(cert: &Path, key: &Path, ca: &Path) -> Result<TlsFiles> {
        let read = |p: &Path| std::fs::read(p).map_err(|e| Error::io("read", p, e));
        Ok(TlsFiles {
            cert_pem: read(cert)?,
            key_pem: zeroize::Zeroizing::new(read(key)?),
            ca_pem: read(ca)?,
        })
    }
}

/// A connection pool to one verifier.
#[derive(Clone, Debug)]
pub struct ApiClient {
    http: reqwest::blocking::Client,
    base: String,
}

impl ApiClient {
    /// A client for the verifier at `url` (`https://host:port`).
    pub fn new(url: &str, tls: &TlsFiles) -> Result<ApiClient> {
        let base = url.trim_end_matches('/').to_string();
        if !base.starts_with("https://") {
            return Err(Error::Config(format!(
                "verifier URL {url:?} must start with https:// (the API is mutual TLS only)"
            )));
        }
        let mut pem = tls.cert_pem.clone();
        if !pem.ends_with(b"\n") {
            pem.push(b'\n');
        }
        let pem = zeroize::Zeroizing::new([pem.as_slice(), tls.key_pem.as_slice()].concat());
        let identity = reqwest::Identity::from_pem(&pem)
            .map_err(|e| Error::Config(format!("agent certificate/key PEM not usable: {e}")))?;
        let ca = reqwest::Certificate::from_pem(&tls.ca_pem)
            .map_err(|e| Error::Config(format!("CA certificate PEM not usable: {e}")))?;
        let http = reqwest::blocking::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(ca)
            .identity(identity)
            .https_only(true)
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| Error::Config(format!("cannot build the HTTPS client: {e}")))?;
        Ok(ApiClient { http, base })
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        what: &'static str,
        path: &str,
        body: Option<&B>,
    ) -> Result<T> {
        self.call(reqwest::Method::POST, what, path, body)
    }

    /// Any API call with a JSON body and answer (operator endpoints:
    /// `PUT /v1/policies/{name}`, `GET /v1/nodes`, ... with an operator
    /// certificate). `path` is relative to `/v1`.
    pub fn call<B: Serialize, T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        what: &'static str,
        path: &str,
        body: Option<&B>,
    ) -> Result<T> {
        let url = format!("{}{API_PREFIX}{path}", self.base);
        let mut req = self.http.request(method, &url);
        req = match body {
            Some(b) => req.json(b),
            None => req.header(reqwest::header::CONTENT_LENGTH, "0"),
        };
        let resp = req
            .send()
            .map_err(|e| Error::Unreachable(format!("{what} ({url}): {}", chain(&e))))?;
        let status = resp.status();
        let bytes = resp
            .bytes()
            .map_err(|e| Error::Unreachable(format!("{what} ({url}): {}", chain(&e))))?;
        if !status.is_success() {
            let (code, message) = match serde_json::from_slice::<ApiError>(&bytes) {
                Ok(a) => (a.error, a.message),
                Err(_) => (
                    "http".to_string(),
                    String::from_utf8_lossy(bytes.get(..512).unwrap_or(&bytes)).into_owned(),
                ),
            };
            return Err(Error::Api {
                what,
                status: status.as_u16(),
                code,
                message,
            });
        }
        let bytes: &[u8] = if bytes.is_empty() { b"null" } else { &bytes };
        serde_json::from_slice(bytes).map_err(|e| {
            Error::Protocol(format!("{what}: the verifier's answer does not parse: {e}"))
        })
    }

    /// `POST /v1/agents/enroll`.
    pub fn enroll(&self, req: &EnrollRequest) -> Result<EnrollResponse> {
        self.post("enrollment", "/agents/enroll", Some(req))
    }

    /// `POST /v1/agents/{id}/activate`.
    pub fn activate(&self, id: &str, req: &ActivateRequest) -> Result<AttestationResult> {
        self.post("activation", &format!("/agents/{id}/activate"), Some(req))
    }

    /// `POST /v1/agents/{id}/challenge`.
    pub fn challenge(&self, id: &str) -> Result<Challenge> {
        self.post::<(), _>("challenge", &format!("/agents/{id}/challenge"), None)
    }

    /// `POST /v1/agents/{id}/evidence`.
    pub fn evidence(&self, id: &str, ev: &Evidence) -> Result<AttestationResult> {
        self.post("evidence", &format!("/agents/{id}/evidence"), Some(ev))
    }
}

/// An error with its sources ("error sending request: connection refused").
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
}
