//! Test support: a simulated agent (our TPM engine in process, manufactured
//! with an EK certificate from a test CA, an ECC AK, real quotes), a
//! verifier started on a free port, API clients with the operator's and
//! agents' certificates, and a throw-away PostgreSQL.
#![allow(dead_code)]

pub mod pg;
pub mod scenarios;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use attest::eventlog::EventLog;
use attest::pcrs::PcrValues;
use attest::protocol::{
    ActivateRequest, AttestationResult, Challenge, EnrollRequest, EnrollResponse, Evidence,
    NodeKind,
};
use tpm::constants::rh;
use tpm::crypto::{Drbg, HashAlg};
use tpm::types::{
    EncryptedSecret2b, IdObject2b, PcrSelection, PcrSelectionList, Public, SigScheme,
};
use tpm::wire::Codec;
use tpmclient::transport::{Transport, TransportError};
use tpmclient::{Auth, StartupType};
use verifier::client::{ApiClient, ClientConfig, ClientError};
use vtpm::ekcert::{CaAlgorithm, EkKind, FileCa};

pub const OVMF_LOG: &[u8] =
    include_bytes!("../../../attest/tests/data/ovmf-qemu-q35-linux-6.1.bin");

#[derive(Clone)]
pub struct Shared(pub Arc<Mutex<tpm::Tpm>>);

impl Transport for Shared {
    fn transmit(&mut self, locality: u8, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        Ok(self.0.lock().unwrap().execute(locality, command))
    }
    fn endpoint(&self) -> String {
        "shared engine (in process)".into()
    }
}

/// A test CA for EK certificates (like swtpm's local CA or vtpmd's host CA).
pub struct EkCa {
    pub ca: FileCa,
    pub pem_path: PathBuf,
}

impl EkCa {
    pub fn new(dir: &Path, name: &str) -> EkCa {
        let (ca, _) =
            FileCa::open_or_create(&dir.join(name), CaAlgorithm::EcdsaP256, name).unwrap();
        let pem_path = ca.cert_path().to_path_buf();
        EkCa { ca, pem_path }
    }

    pub fn der(&self) -> Vec<u8> {
        let pem = std::fs::read(&self.pem_path).unwrap();
        attest::ekcert::parse_certificates(&pem).unwrap().remove(0)
    }
}

/// A simulated agent.
pub struct SimAgent {
    pub id: String,
    pub kind: NodeKind,
    pub tpm: tpmclient::Tpm,
    pub ek_public: Public,
    pub ek_cert: Vec<u8>,
    pub ek_handle: u32,
    pub ak_public: Public,
    pub ak_handle: u32,
    pub client: ApiClient,
    pub vtpm_ca: Option<Vec<u8>>,
    /// The IMA measurement list as the kernel would expose it.
    pub ima: Vec<u8>,
}

impl SimAgent {
    /// A TPM manufactured with an ECC EK certificate from `ca`, booted
    /// with the OVMF event log, and an API client with the agent's cert.
    pub fn new(
        seed: u8,
        id: &str,
        kind: NodeKind,
        ca: &EkCa,
        data_dir: &Path,
        url: &str,
    ) -> SimAgent {
        let mut engine = tpm::Tpm::manufacture(
            &tpm::EngineConfig {
                pcr_banks: vec![HashAlg::Sha1, HashAlg::Sha256],
            },
            Drbg::new([seed; 32]),
            Box::new(tpm::engine::SystemTime::default()),
        );
        let m = vtpm::ekcert::manufacture(&mut engine, &ca.ca, &[EkKind::EccP256]).unwrap();
        let ek = m.eks.into_iter().next().unwrap();
        let shared = Shared(Arc::new(Mutex::new(engine)));
        let mut tpm = tpmclient::Tpm::new(shared);
        tpm.startup(StartupType::Clear).unwrap();
        let ek_loaded = tpm
            .create_primary(
                rh::ENDORSEMENT,
                &Auth::empty(),
                &EkKind::EccP256.template(),
                &Default::default(),
            )
            .unwrap();
        assert_eq!(ek_loaded.public, ek.public);
        let ak = tpm
            .create_primary(
                rh::ENDORSEMENT,
                &Auth::empty(),
                &tpmclient::templates::ak_ecc_p256(),
                &Default::default(),
            )
            .unwrap();
        let log = EventLog::parse(OVMF_LOG).unwrap();
        for e in log.events.iter().filter(|e| e.is_extended()) {
            let digests: Vec<(HashAlg, &[u8])> = [HashAlg::Sha1, HashAlg::Sha256]
                .iter()
                .filter_map(|b| e.digest(*b).map(|d| (*b, d)))
                .collect();
            tpm.pcr_extend(e.pcr_index, &Auth::empty(), &digests)
                .unwrap();
        }
        let client = agent_client(data_dir, url, id);
        SimAgent {
            id: id.into(),
            kind,
            tpm,
            ek_public: ek.public,
            ek_cert: ek.certificate_der,
            ek_handle: ek_loaded.handle,
            ak_public: ak.public,
            ak_handle: ak.handle,
            client,
            vtpm_ca: None,
            ima: Vec::new(),
        }
    }

    pub fn enroll_request(&self) -> EnrollRequest {
        EnrollRequest {
            agent_id: self.id.clone(),
            kind: self.kind,
            ek_certificate: self.ek_cert.clone(),
            ek_public: self.ek_public.to_bytes(),
            ak_public: self.ak_public.to_bytes(),
            vtpm_ca_certificate: self.vtpm_ca.clone(),
        }
    }

    pub async fn enroll(&mut self) -> Result<EnrollResponse, ClientError> {
        self.client
            .post("/v1/agents/enroll", &self.enroll_request())
            .await
    }

    /// TPM2_ActivateCredential with the EK's PolicySecret(endorsement).
    pub fn activate_credential(&mut self, resp: &EnrollResponse) -> Vec<u8> {
        let blob = IdObject2b::new(resp.credential_blob.clone()).unwrap();
        let secret = EncryptedSecret2b::new(resp.encrypted_secret.clone()).unwrap();
        let hmac = self.tpm.start_hmac_session(HashAlg::Sha256).unwrap();
        let policy = self.tpm.start_policy_session(HashAlg::Sha256).unwrap();
        self.tpm
            .policy_secret(policy, rh::ENDORSEMENT, &Auth::session(hmac))
            .unwrap();
        let got = self
            .tpm
            .activate_credential(
                self.ak_handle,
                &Auth::session(hmac).encrypt(),
                self.ek_handle,
                &Auth::session(policy),
                &blob,
                &secret,
            )
            .unwrap();
        let _ = self.tpm.flush_context(hmac.handle());
        got.to_vec()
    }

    pub fn ak_name(&self) -> Vec<u8> {
        self.ak_public.name().unwrap().as_bytes().to_vec()
    }

    pub async fn activate(
        &mut self,
        resp: &EnrollResponse,
    ) -> Result<AttestationResult, ClientError> {
        let secret = self.activate_credential(resp);
        let proof = attest::credential::activation_proof(&secret, &self.id, &self.ak_name());
        self.client
            .post(
                &format!("/v1/agents/{}/activate", self.id),
                &ActivateRequest { proof },
            )
            .await
    }

    pub async fn enroll_and_activate(&mut self) -> AttestationResult {
        let resp = self.enroll().await.unwrap();
        self.activate(&resp).await.unwrap()
    }

    pub async fn challenge(&self) -> Result<Challenge, ClientError> {
        self.client
            .post_empty(&format!("/v1/agents/{}/challenge", self.id))
            .await
    }

    /// Quote over the challenge's selection with its nonce.
    pub fn evidence_for(&mut self, ch: &Challenge) -> Evidence {
        let ima = (!self.ima.is_empty()).then(|| self.ima_from(ch.ima_offset));
        self.evidence_with(ch, ch.send_event_log, ima)
    }

    /// [`Self::evidence_for`] with the event log and IMA part chosen by the
    /// caller (the scale bench sends the log every round and its own IMA
    /// batches).
    pub fn evidence_with(
        &mut self,
        ch: &Challenge,
        event_log: bool,
        ima: Option<attest::protocol::ImaEvidence>,
    ) -> Evidence {
        let mut sel = Vec::new();
        for (bank, idx) in &ch.pcr_selection {
            let b = HashAlg::from_name(bank).unwrap();
            let idx: Vec<usize> = idx.iter().map(|i| *i as usize).collect();
            sel.push(PcrSelection::with(b, &idx));
        }
        let sel = PcrSelectionList(sel);
        let q = self
            .tpm
            .quote(
                self.ak_handle,
                &Auth::empty(),
                &ch.nonce,
                SigScheme::Null,
                &sel,
            )
            .unwrap();
        let read = self.tpm.pcr_read(&sel).unwrap();
        let mut values = PcrValues::new();
        for v in &read.values {
            values.set(v.bank, v.index as u32, v.digest.clone());
        }
        Evidence {
            nonce: ch.nonce.clone(),
            quote: q.attest.as_bytes().to_vec(),
            signature: q.signature.to_bytes(),
            pcrs: values.to_protocol(),
            event_log: event_log.then(|| OVMF_LOG.to_vec()),
            ima,
        }
    }

    pub async fn send(&self, ev: &Evidence) -> Result<AttestationResult, ClientError> {
        self.client
            .post(&format!("/v1/agents/{}/evidence", self.id), ev)
            .await
    }

    /// One challenge → evidence round (again at once when the verifier
    /// answers `next_in_ms: 0`, i.e. it needs the event log after all).
    pub async fn attest(&mut self) -> Result<AttestationResult, ClientError> {
        for _ in 0..3 {
            let ch = self.challenge().await?;
            let ev = self.evidence_for(&ch);
            let r = self.send(&ev).await?;
            if r.next_in_ms > 0 {
                return Ok(r);
            }
        }
        panic!("the verifier kept asking for new evidence");
    }

    /// IMA measures a file (ima-ng, SHA-256): list entry + PCR 10 extend.
    pub fn ima_measure(&mut self, path: &str, content: &[u8]) {
        let digest = HashAlg::Sha256.digest(&[content]);
        let data = attest::ima::ima_ng_data("sha256", &digest, path);
        let start = self.ima.len();
        attest::ima::write_entry(&mut self.ima, 10, "ima-ng", &data, false);
        let one = self.ima[start..].to_vec();
        let entry = attest::ima::ImaLog::parse(&one).unwrap()[0];
        let d1 = entry.template_digest(HashAlg::Sha1);
        let d2 = entry.template_digest(HashAlg::Sha256);
        self.tpm
            .pcr_extend(
                10,
                &Auth::empty(),
                &[
                    (HashAlg::Sha1, d1.as_slice()),
                    (HashAlg::Sha256, d2.as_slice()),
                ],
            )
            .unwrap();
    }

    /// The list from entry `offset` on.
    pub fn ima_from(&self, offset: u64) -> attest::protocol::ImaEvidence {
        let mut it = attest::ima::ImaLog::new(&self.ima);
        for _ in 0..offset {
            it.next();
        }
        attest::protocol::ImaEvidence {
            offset,
            entries: self.ima[it.offset()..].to_vec(),
        }
    }

    pub fn extend(&mut self, pcr: u32, data: &[u8]) {
        let d1 = HashAlg::Sha1.digest(&[data]);
        let d2 = HashAlg::Sha256.digest(&[data]);
        self.tpm
            .pcr_extend(
                pcr,
                &Auth::empty(),
                &[
                    (HashAlg::Sha1, d1.as_slice()),
                    (HashAlg::Sha256, d2.as_slice()),
                ],
            )
            .unwrap();
    }
}

/// A client with the agent certificate `agent:<id>` of `data_dir`'s PKI.
pub fn agent_client(data_dir: &Path, url: &str, id: &str) -> ApiClient {
    let pki = verifier::pki::Pki::new(data_dir.join("pki"));
    let files = if pki.agent(id).cert.exists() {
        pki.agent(id)
    } else {
        pki.issue_agent_cert(id).unwrap()
    };
    ApiClient::new(&ClientConfig {
        url: url.into(),
        cert: files.cert,
        key: files.key,
        ca: pki.ca_cert_path(),
    })
    .unwrap()
}

pub fn operator_client(data_dir: &Path, url: &str) -> ApiClient {
    let pki = verifier::pki::Pki::new(data_dir.join("pki"));
    ApiClient::new(&ClientConfig {
        url: url.into(),
        cert: pki.operator().cert,
        key: pki.operator().key,
        ca: pki.ca_cert_path(),
    })
    .unwrap()
}

/// A test verifier's settings: a free loopback port, hardware `anchors`,
/// no status file.
pub fn verifier_config(
    data_dir: &Path,
    db_url: Option<String>,
    anchors: Vec<PathBuf>,
    interval: Duration,
    replica: &str,
) -> verifier::VerifierConfig {
    let mut cfg = verifier::VerifierConfig::new(data_dir);
    cfg.listen = "127.0.0.1:0".parse().unwrap();
    cfg.db_url = db_url;
    cfg.trust_anchors = anchors;
    cfg.interval = interval;
    cfg.replica_id = Some(replica.into());
    cfg.write_status_file = false;
    cfg
}

/// Starts a verifier on a free loopback port.
pub async fn start_verifier(
    data_dir: &Path,
    db_url: Option<String>,
    anchors: Vec<PathBuf>,
    interval: Duration,
    replica: &str,
) -> verifier::Running {
    verifier::start(verifier_config(
        data_dir, db_url, anchors, interval, replica,
    ))
    .await
    .unwrap()
}

/// The HTTP status of an API error.
pub fn status_of<T: std::fmt::Debug>(r: Result<T, ClientError>) -> (u16, String) {
    match r {
        Err(ClientError::Api { status, error }) => (status, error.message),
        other => panic!("expected an API error, got {other:?}"),
    }
}

/// A tiny HTTP server that records webhook POST bodies.
pub struct WebhookSink {
    pub url: String,
    pub bodies: Arc<Mutex<Vec<serde_json::Value>>>,
}

impl WebhookSink {
    /// Fails the first `fail_first` requests with 500 (to exercise retry).
    pub async fn start(fail_first: usize) -> WebhookSink {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let bodies: Arc<Mutex<Vec<serde_json::Value>>> = Arc::default();
        let b = bodies.clone();
        let failures = Arc::new(std::sync::atomic::AtomicUsize::new(fail_first));
        tokio::spawn(async move {
            loop {
                let Ok((mut s, _)) = listener.accept().await else {
                    break;
                };
                let b = b.clone();
                let failures = failures.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut tmp = [0u8; 4096];
                    loop {
                        let n = match s.read(&mut tmp).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => n,
                        };
                        buf.extend_from_slice(&tmp[..n]);
                        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            let head = String::from_utf8_lossy(&buf[..pos]).to_ascii_lowercase();
                            let len: usize = head
                                .lines()
                                .find_map(|l| l.strip_prefix("content-length:"))
                                .map(|v| v.trim().parse().unwrap())
                                .unwrap_or(0);
                            if buf.len() >= pos + 4 + len {
                                let body = &buf[pos + 4..pos + 4 + len];
                                let fail = failures
                                    .fetch_update(
                                        std::sync::atomic::Ordering::SeqCst,
                                        std::sync::atomic::Ordering::SeqCst,
                                        |f| f.checked_sub(1),
                                    )
                                    .is_ok();
                                let status = if fail {
                                    "500 Internal Server Error"
                                } else {
                                    b.lock()
                                        .unwrap()
                                        .push(serde_json::from_slice(body).unwrap());
                                    "200 OK"
                                };
                                let _ = s
                                    .write_all(
                                        format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                                            .as_bytes(),
                                    )
                                    .await;
                                return;
                            }
                        }
                    }
                });
            }
        });
        WebhookSink { url, bodies }
    }

    pub fn states_for(&self, node: &str) -> Vec<(String, String)> {
        self.bodies
            .lock()
            .unwrap()
            .iter()
            .filter(|b| b["node"] == node)
            .map(|b| {
                (
                    b["previous_state"].as_str().unwrap().to_string(),
                    b["state"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }
}

/// Polls `f` every 100 ms until it returns true or `timeout` passes.
pub async fn wait_until<F, Fut>(timeout: Duration, mut f: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let end = tokio::time::Instant::now() + timeout;
    while tokio::time::Instant::now() < end {
        if f().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}
