//! The trustcloud registrar and verifier (issue 5).
//!
//! * [`pki`]: the API's CA and certificates under `DATA/pki` (mutual TLS).
//! * [`storage`]: SQLite or PostgreSQL through sqlx; replicas share PG.
//! * [`service`]: enrollment (EK certificate, MakeCredential, activation),
//!   challenges, appraisal through `attest`, host linkage, operator marks,
//!   the unreachable sweep.
//! * [`api`]: the REST API v1 (axum over hyper + tokio-rustls).
//! * [`webhooks`], [`ear`]: notifications and signed attestation results.
//! * [`client`]: a small mTLS client of the API (CLI, agents, tests).
//!
//! [`start`] runs everything in the current tokio runtime and returns a
//! handle; `trustcloud verifier` and `trustcloud up` use it.

pub mod api;
pub mod attestation;
pub mod client;
pub mod ear;
mod fsutil;
pub mod ident;
pub mod pki;
pub mod service;
pub mod storage;
mod tls;
pub mod webhooks;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use service::{Service, ServiceConfig};

/// Why the verifier could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("PKI: {0}")]
    Pki(#[from] pki::PkiError),
    #[error("TLS: {0}")]
    Tls(#[from] tls::TlsError),
    #[error("{0}")]
    Store(#[from] storage::StoreError),
    #[error("{0}")]
    Ear(#[from] ear::EarError),
    #[error("trust anchor {0}: {1}")]
    Anchor(PathBuf, String),
    #[error("cannot listen on {0}: {1}")]
    Listen(SocketAddr, std::io::Error),
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
}

/// What one process runs: by default registrar and verifier together;
/// each can run alone (sharing one PostgreSQL).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Role {
    #[default]
    All,
    /// Enrollment and activation only.
    Registrar,
    /// Challenges, evidence, operator API, sweep and webhooks.
    Verifier,
}

impl Role {
    pub fn registrar(self) -> bool {
        matches!(self, Role::All | Role::Registrar)
    }
    pub fn verifier(self) -> bool {
        matches!(self, Role::All | Role::Verifier)
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Role, String> {
        match s {
            "all" => Ok(Role::All),
            "registrar" => Ok(Role::Registrar),
            "verifier" => Ok(Role::Verifier),
            _ => Err(format!(
                "unknown role {s:?}: use all, registrar or verifier"
            )),
        }
    }
}

/// Settings of a verifier process.
#[derive(Clone, Debug)]
pub struct VerifierConfig {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    /// `sqlite://...` or `postgres://...`; default `DATA/verifier.db`.
    pub db_url: Option<String>,
    /// PEM bundles or DER files of EK certificate trust anchors.
    pub trust_anchors: Vec<PathBuf>,
    /// DER anchors given directly (e.g. by `trustcloud up`).
    pub trust_anchor_ders: Vec<Vec<u8>>,
    /// PEM bundles or DER files of the EK CAs of software TPMs (swtpm's
    /// local CA, a vtpmd without a hardware TPM): their nodes attest, but
    /// are not reported as hardware-rooted.
    pub software_trust_anchors: Vec<PathBuf>,
    pub interval: Duration,
    /// Name among replicas; default `<hostname>-<pid>`.
    pub replica_id: Option<String>,
    /// Extra names for the server certificate.
    pub advertise: Vec<String>,
    /// Write `DATA/verifier.json` (and remove it on shutdown).
    pub write_status_file: bool,
    /// Registrar, verifier or both.
    pub role: Role,
}

impl VerifierConfig {
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        VerifierConfig {
            data_dir: data_dir.into(),
            listen: SocketAddr::from(([127, 0, 0, 1], 8443)),
            db_url: None,
            trust_anchors: Vec::new(),
            trust_anchor_ders: Vec::new(),
            software_trust_anchors: Vec::new(),
            interval: Duration::from_secs(2),
            replica_id: None,
            advertise: Vec::new(),
            write_status_file: true,
            role: Role::All,
        }
    }
}

/// The per-user default data directory (ISSUE5 "Data dir"):
/// `$XDG_DATA_HOME/trustcloud`, else `~/.local/share/trustcloud`.
pub fn default_data_dir() -> PathBuf {
    if let Some(x) = std::env::var_os("XDG_DATA_HOME").filter(|x| !x.is_empty()) {
        return PathBuf::from(x).join("trustcloud");
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    home.join(".local/share/trustcloud")
}

/// `DATA/verifier.json`: how CLI commands find a running verifier.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct StatusFile {
    pub url: String,
    pub pid: u32,
}

pub fn status_file_path(data_dir: &Path) -> PathBuf {
    data_dir.join("verifier.json")
}

/// A running verifier.
pub struct Running {
    /// `https://127.0.0.1:PORT`.
    pub url: String,
    pub addr: SocketAddr,
    pub service: Arc<Service>,
    pub pki: pki::Pki,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    status_file: Option<PathBuf>,
}

impl Running {
    /// Stops serving, finishes the background loops and removes
    /// `verifier.json`.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        for t in self.tasks.drain(..) {
            let _ = t.await;
        }
        if let Some(p) = self.status_file.take() {
            // Only remove it if it is still ours.
            if let Ok(text) = std::fs::read_to_string(&p) {
                if serde_json::from_str::<StatusFile>(&text)
                    .map(|s| s.pid == std::process::id() && s.url == self.url)
                    .unwrap_or(false)
                {
                    let _ = std::fs::remove_file(&p);
                }
            }
        }
        self.service.store.close().await;
    }
}

async fn stopped(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}

fn url_for(addr: SocketAddr) -> String {
    let ip = match addr.ip() {
        std::net::IpAddr::V4(v) if v.is_unspecified() => "127.0.0.1".to_string(),
        std::net::IpAddr::V4(v) => v.to_string(),
        std::net::IpAddr::V6(v) if v.is_unspecified() => "[::1]".to_string(),
        std::net::IpAddr::V6(v) => format!("[{v}]"),
    };
    format!("https://{ip}:{}", addr.port())
}

/// The certificates of `files` (PEM bundles or DER), each a CA.
fn load_anchors(files: &[PathBuf]) -> Result<Vec<Vec<u8>>, StartError> {
    let mut out = Vec::new();
    for p in files {
        let bytes = std::fs::read(p).map_err(|e| StartError::Anchor(p.clone(), e.to_string()))?;
        let certs = attestation::parse_certificates(&bytes)
            .map_err(|e| StartError::Anchor(p.clone(), e))?;
        if certs.is_empty() {
            return Err(StartError::Anchor(
                p.clone(),
                "no certificate in the file".into(),
            ));
        }
        for c in &certs {
            attestation::check_ca_certificate(c).map_err(|e| StartError::Anchor(p.clone(), e))?;
        }
        out.extend(certs);
    }
    Ok(out)
}

/// Starts registrar, verifier, API, sweep and webhook delivery in the
/// current tokio runtime.
pub async fn start(cfg: VerifierConfig) -> Result<Running, StartError> {
    std::fs::create_dir_all(&cfg.data_dir).map_err(|e| StartError::Io(cfg.data_dir.clone(), e))?;
    let pki = pki::Pki::new(cfg.data_dir.join("pki"));
    pki.ensure(&cfg.advertise)?;
    let tls = tls::server_config(&pki)?;
    let mut anchors = cfg.trust_anchor_ders.clone();
    anchors.extend(load_anchors(&cfg.trust_anchors)?);
    let software_anchors = load_anchors(&cfg.software_trust_anchors)?;
    let db_url = cfg
        .db_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", cfg.data_dir.join("verifier.db").display()));
    let store = storage::Store::open(&db_url).await?;
    let replica_id = cfg.replica_id.clone().unwrap_or_else(|| {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_else(|_| "verifier".into());
        format!("{host}-{}", std::process::id())
    });
    let ear = ear::EarSigner::load_or_create(&cfg.data_dir.join("ear.key"), &replica_id)?;
    let service = Service::new(
        store,
        ServiceConfig {
            interval: cfg.interval,
            replica_id,
            trust_anchors: anchors,
            software_anchors,
        },
        ear,
    );
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .map_err(|e| StartError::Listen(cfg.listen, e))?;
    let addr = listener
        .local_addr()
        .map_err(|e| StartError::Listen(cfg.listen, e))?;
    let url = url_for(addr);
    let (stop, stop_rx) = watch::channel(false);
    let mut tasks = Vec::new();

    let router = api::router_for(service.clone(), cfg.role);
    let mut rx = stop_rx.clone();
    tasks.push(tokio::spawn(async move {
        api::server::serve(listener, tls, router, async move {
            let _ = rx.wait_for(|s| *s).await;
        })
        .await;
    }));

    // The unreachable sweep, every half interval.
    let svc = service.clone();
    let verifier_role = cfg.role.verifier();
    let mut rx = stop_rx.clone();
    let period = (cfg.interval / 2).max(Duration::from_millis(100));
    tasks.push(tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = stopped(&mut rx) => break,
                _ = tokio::time::sleep(period), if verifier_role => {
                    if let Err(e) = svc.sweep_once().await {
                        tracing::warn!("unreachable sweep: {e}");
                    }
                }
            }
        }
    }));

    // Webhook delivery.
    let svc = service.clone();
    let verifier_role = cfg.role.verifier();
    let mut rx = stop_rx.clone();
    tasks.push(tokio::spawn(async move {
        let http = webhooks::http_client();
        let mut last_prune = tokio::time::Instant::now();
        loop {
            tokio::select! {
                _ = stopped(&mut rx) => break,
                _ = tokio::time::sleep(Duration::from_millis(200)), if verifier_role => {
                    webhooks::deliver_once(&svc, &http).await;
                    if last_prune.elapsed() > Duration::from_secs(60) {
                        last_prune = tokio::time::Instant::now();
                        let day_ago = storage::now_ms() - 86_400_000;
                        if let Err(e) = svc.store.prune_deliveries(day_ago).await {
                            tracing::warn!("webhook queue: {e}");
                        }
                    }
                }
            }
        }
    }));

    let status_file = if cfg.write_status_file {
        let p = status_file_path(&cfg.data_dir);
        let body = serde_json::to_vec_pretty(&StatusFile {
            url: url.clone(),
            pid: std::process::id(),
        })
        .unwrap_or_default();
        fsutil::write_public(&p, &body).map_err(|e| StartError::Io(p.clone(), e))?;
        Some(p)
    } else {
        None
    };
    tracing::info!(%url, db = if service.store.is_postgres() { "postgres" } else { "sqlite" }, "verifier listening");
    Ok(Running {
        url,
        addr,
        service,
        pki,
        stop,
        tasks,
        status_file,
    })
}
