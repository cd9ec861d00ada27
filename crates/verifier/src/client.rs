//! A small client of the REST API over mutual TLS (reqwest + rustls):
//! used by the CLI (operator certificate), and usable by agents and tests
//! (an agent certificate). Errors carry the server's `ApiError`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use attest::protocol::ApiError;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::pki::Pki;
use crate::StatusFile;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
    #[error("no running verifier found: {0} is missing (start `trustcloud verifier` or `trustcloud up`, or pass --url)")]
    NotRunning(PathBuf),
    #[error("{0}: {1}")]
    BadFile(PathBuf, String),
    #[error("TLS client setup: {0}")]
    Setup(String),
    #[error("cannot reach the verifier at {url}: {source}")]
    Http { url: String, source: reqwest::Error },
    #[error("HTTP {status}: {} ({})", .error.message, .error.error)]
    Api { status: u16, error: ApiError },
    #[error("unexpected answer: {0}")]
    Decode(String),
}

/// Where the API is and which certificate to present.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    pub url: String,
    pub cert: PathBuf,
    pub key: PathBuf,
    pub ca: PathBuf,
}

impl ClientConfig {
    /// The running verifier of `data_dir` (its `verifier.json`), as the
    /// operator.
    pub fn operator_from_data_dir(data_dir: &Path) -> Result<ClientConfig, ClientError> {
        let status = crate::status_file_path(data_dir);
        let text = std::fs::read_to_string(&status).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                ClientError::NotRunning(status.clone())
            } else {
                ClientError::Io(status.clone(), e)
            }
        })?;
        let s: StatusFile = serde_json::from_str(&text)
            .map_err(|e| ClientError::BadFile(status.clone(), e.to_string()))?;
        let pki = Pki::new(data_dir.join("pki"));
        let op = pki.operator();
        Ok(ClientConfig {
            url: s.url,
            cert: op.cert,
            key: op.key,
            ca: pki.ca_cert_path(),
        })
    }
}

/// The client.
#[derive(Clone, Debug)]
pub struct ApiClient {
    base: String,
    http: reqwest::Client,
}

impl ApiClient {
    pub fn new(cfg: &ClientConfig) -> Result<ApiClient, ClientError> {
        let read = |p: &PathBuf| std::fs::read(p).map_err(|e| ClientError::Io(p.clone(), e));
        let mut ident = read(&cfg.cert)?;
        ident.push(b'\n');
        ident.extend(read(&cfg.key)?);
        let identity =
            reqwest::Identity::from_pem(&ident).map_err(|e| ClientError::Setup(e.to_string()))?;
        let ca = reqwest::Certificate::from_pem(&read(&cfg.ca)?)
            .map_err(|e| ClientError::Setup(e.to_string()))?;
        let http = reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(ca)
            .identity(identity)
            .timeout(Duration::from_secs(60))
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| ClientError::Setup(e.to_string()))?;
        Ok(ApiClient {
            base: cfg.url.trim_end_matches('/').to_string(),
            http,
        })
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    async fn send<T: DeserializeOwned>(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<T, ClientError> {
        let resp = req.send().await.map_err(|source| ClientError::Http {
            url: self.base.clone(),
            source,
        })?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(|source| ClientError::Http {
            url: self.base.clone(),
            source,
        })?;
        if !status.is_success() {
            let error = serde_json::from_slice::<ApiError>(&bytes).unwrap_or_else(|_| ApiError {
                error: "http".into(),
                message: String::from_utf8_lossy(&bytes).into_owned(),
            });
            return Err(ClientError::Api {
                status: status.as_u16(),
                error,
            });
        }
        let bytes = if bytes.is_empty() {
            &b"null"[..]
        } else {
            &bytes[..]
        };
        serde_json::from_slice(bytes).map_err(|e| ClientError::Decode(e.to_string()))
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        self.send(self.http.get(format!("{}{path}", self.base)))
            .await
    }

    pub async fn delete<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        self.send(self.http.delete(format!("{}{path}", self.base)))
            .await
    }

    pub async fn post<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        self.send(self.http.post(format!("{}{path}", self.base)).json(body))
            .await
    }

    pub async fn put<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        self.send(self.http.put(format!("{}{path}", self.base)).json(body))
            .await
    }

    /// POST with an empty body (the challenge endpoint).
    pub async fn post_empty<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        self.send(self.http.post(format!("{}{path}", self.base)))
            .await
    }

    /// POST of raw bytes as JSON (tests send garbage with it).
    pub async fn post_raw(&self, path: &str, body: Vec<u8>) -> Result<(u16, Vec<u8>), ClientError> {
        let resp = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .map_err(|source| ClientError::Http {
                url: self.base.clone(),
                source,
            })?;
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.map_err(|source| ClientError::Http {
            url: self.base.clone(),
            source,
        })?;
        Ok((status, bytes.to_vec()))
    }
}
