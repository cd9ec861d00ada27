//! The agent's life: enroll (registrar checks the EK certificate and
//! wraps a credential for EK + AK), activate (ActivateCredential proves
//! both keys share this TPM), then answer challenges at the interval the
//! verifier sets. Agent-initiated (push), so agents behind NAT work.
//!
//! Failures are handled where they belong: the verifier down or
//! overloaded → retry with backoff, keeping the enrollment; the verifier
//! no longer knowing this agent or its AK → enroll again; the TPM failing
//! → reopen it (e.g. swtpm restarted) with backoff.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use attest::credential::activation_proof;
use attest::protocol::{
    ActivateRequest, AttestationResult, Challenge, EnrollRequest, Evidence, NodeKind, NodeState,
};
use tpm::wire::Codec;

use crate::client::ApiClient;
use crate::evidence::LogSources;
use crate::tpm::{AgentTpm, AkKind};
use crate::{Error, Result};

/// Everything the agent needs to run.
#[derive(Clone, Debug)]
pub struct AgentConfig {
    /// `[A-Za-z0-9._-]{1,64}`, unique per verifier.
    pub id: String,
    pub kind: NodeKind,
    /// TCTI string of the TPM.
    pub tcti: String,
    /// Where the AK blobs live.
    pub state_dir: PathBuf,
    pub ak_kind: AkKind,
    pub logs: LogSources,
    /// Hosts: DER of vtpmd's CA certificate, sent at enrollment.
    pub vtpm_ca_certificate: Option<Vec<u8>>,
}

/// Checks an agent id against the protocol's alphabet.
pub fn valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
}

/// What the loop reports to its caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// Enrollment and activation succeeded.
    Enrolled(AttestationResult),
    /// The verifier's verdict on one piece of evidence.
    Result(AttestationResult),
    /// The verifier could not be reached; retrying after the delay.
    Unreachable { error: String, retry_in: Duration },
}

/// The running agent.
pub struct Agent {
    config: AgentConfig,
    client: ApiClient,
    tpm: Option<AgentTpm>,
    enrolled: bool,
    last_state: Option<NodeState>,
    /// The challenge the verifier sent with its last answer: the next round
    /// answers it without asking (taken, so a refused round asks afresh).
    next_challenge: Option<Challenge>,
}

const MIN_SLEEP: Duration = Duration::from_millis(100);
const MAX_SLEEP: Duration = Duration::from_secs(3600);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

impl Agent {
    pub fn new(config: AgentConfig, client: ApiClient) -> Result<Agent> {
        if !valid_id(&config.id) {
            return Err(Error::Config(format!(
                "agent id {:?} must be 1-64 characters of A-Z a-z 0-9 . _ -",
                config.id
            )));
        }
        config.logs.warn_missing();
        Ok(Agent {
            config,
            client,
            tpm: None,
            enrolled: false,
            last_state: None,
            next_challenge: None,
        })
    }

    pub fn config(&self) -> &AgentConfig {
        &self.config
    }

    fn tpm(&mut self) -> Result<&mut AgentTpm> {
        if self.tpm.is_none() {
            let t = AgentTpm::open(
                &self.config.tcti,
                &self.config.state_dir,
                self.config.ak_kind,
            )?;
            self.tpm = Some(t);
        }
        self.tpm
            .as_mut()
            .ok_or_else(|| Error::Protocol("TPM not open".into()))
    }

    /// The current PCR values of `selection` (see [`AgentTpm::read_pcrs`]).
    pub fn read_pcrs(
        &mut self,
        selection: &std::collections::BTreeMap<String, Vec<u32>>,
    ) -> Result<attest::protocol::ReportedPcrs> {
        self.tpm()?.read_pcrs(selection)
    }

    /// Enrolls and activates the AK (registrar steps 1 and 2).
    pub fn enroll(&mut self) -> Result<AttestationResult> {
        let id = self.config.id.clone();
        let kind = self.config.kind;
        let vtpm_ca = self.config.vtpm_ca_certificate.clone();
        let t = self.tpm()?;
        let req = EnrollRequest {
            agent_id: id.clone(),
            kind,
            ek_certificate: t.ek().certificate.clone(),
            ek_public: t.ek().public.to_bytes(),
            ak_public: t.ak().public.to_bytes(),
            vtpm_ca_certificate: vtpm_ca,
        };
        let ak_name = t.ak().name.as_bytes().to_vec();
        let cred = self.client.enroll(&req)?;
        tracing::info!(agent = %id, "enrollment accepted: activating the credential");
        let secret = self
            .tpm()?
            .activate_credential(&cred.credential_blob, &cred.encrypted_secret)?;
        let proof = activation_proof(&secret, &id, &ak_name);
        let result = self.client.activate(&id, &ActivateRequest { proof })?;
        self.enrolled = true;
        self.next_challenge = None;
        tracing::info!(agent = %id, state = ?result.state, "AK activated: enrolled");
        Ok(result)
    }

    /// One challenge → evidence round.
    pub fn attest_once(&mut self) -> Result<AttestationResult> {
        let id = self.config.id.clone();
        let ch = match self.next_challenge.take() {
            Some(ch) => ch,
            None => self.client.challenge(&id)?,
        };
        let q = self.tpm()?.quote(&ch.nonce, &ch.pcr_selection)?;
        let event_log = if ch.send_event_log {
            self.config.logs.event_log()?
        } else {
            None
        };
        let ima = self.config.logs.ima_from(ch.ima_offset)?;
        let ev = Evidence {
            nonce: ch.nonce,
            quote: q.quote,
            signature: q.signature,
            pcrs: q.pcrs,
            event_log,
            ima,
        };
        let r = self.client.evidence(&id, &ev)?;
        self.next_challenge = r.next_challenge.clone();
        self.note(&r);
        Ok(r)
    }

    /// Logs trust-state changes (and every failure reason once).
    fn note(&mut self, r: &AttestationResult) {
        if self.last_state != Some(r.state) {
            if r.reasons.is_empty() {
                tracing::info!(agent = %self.config.id, state = ?r.state, "trust state changed");
            } else {
                tracing::warn!(agent = %self.config.id, state = ?r.state, reasons = %r.reasons.join("; "), "trust state changed");
            }
            self.last_state = Some(r.state);
        }
    }

    /// Enroll if needed, then one attestation (`--once`).
    pub fn run_once(&mut self) -> Result<AttestationResult> {
        if !self.enrolled {
            self.enroll()?;
        }
        self.attest_once()
    }

    /// Runs until `stop` is set, reporting to `on_event`. Returns only on
    /// stop or on an error retrying cannot fix (bad configuration, an EK
    /// certificate the registrar refuses).
    pub fn run(&mut self, stop: &AtomicBool, mut on_event: impl FnMut(&Event)) -> Result<()> {
        let mut backoff = Duration::from_secs(1);
        while !stop.load(Ordering::Relaxed) {
            let step = if self.enrolled {
                self.attest_once().map(Event::Result)
            } else {
                self.enroll().map(Event::Enrolled)
            };
            match step {
                Ok(ev) => {
                    backoff = Duration::from_secs(1);
                    let next = match &ev {
                        Event::Result(r) => r.next_in_ms,
                        Event::Enrolled(_) => 0,
                        Event::Unreachable { .. } => 0,
                    };
                    on_event(&ev);
                    sleep_until_stopped(
                        stop,
                        Duration::from_millis(next).clamp(Duration::ZERO, MAX_SLEEP),
                    );
                }
                Err(e) if e.needs_enrollment() => {
                    tracing::warn!(error = %e, "the verifier does not know this agent (any more): enrolling again");
                    self.enrolled = false;
                    self.next_challenge = None;
                    self.last_state = None;
                    sleep_until_stopped(stop, MIN_SLEEP);
                }
                Err(e) if e.is_transient() => {
                    tracing::warn!(error = %e, retry_in_s = backoff.as_secs(), "verifier unreachable");
                    on_event(&Event::Unreachable {
                        error: e.to_string(),
                        retry_in: backoff,
                    });
                    sleep_until_stopped(stop, backoff);
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
                Err(Error::Tpm(e)) => {
                    tracing::warn!(error = %e, retry_in_s = backoff.as_secs(), "TPM failed: reopening it");
                    self.tpm = None;
                    sleep_until_stopped(stop, backoff);
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
                Err(e @ Error::Api { .. }) => {
                    // A refusal that is about this evidence (e.g. a nonce
                    // that expired while the verifier was slow): the next
                    // round starts with a fresh challenge.
                    tracing::warn!(error = %e, retry_in_s = backoff.as_secs(), "verifier refused a request");
                    if !self.enrolled {
                        return Err(e);
                    }
                    sleep_until_stopped(stop, backoff);
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// Sleeps `d`, waking early when `stop` is set.
pub fn sleep_until_stopped(stop: &AtomicBool, d: Duration) {
    let end = Instant::now() + d;
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        if now >= end {
            return;
        }
        std::thread::sleep((end - now).min(Duration::from_millis(100)));
    }
}

/// A stop flag shared with a signal handler or a supervisor.
pub type StopFlag = Arc<AtomicBool>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert!(valid_id("host-1.example_A"));
        assert!(!valid_id(""));
        assert!(!valid_id("a/b"));
        assert!(!valid_id(&"a".repeat(65)));
    }

    /// The proof the agent sends is HMAC-SHA256(secret, label || id || AK
    /// name), checked here independently of attest's implementation.
    #[test]
    fn proof_is_hmac_over_label_id_and_name() {
        use hmac::{Hmac, Mac};
        use sha2::Sha256;
        let p = activation_proof(b"secret", "n1", &[0, 0x0b, 1, 2]);
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(b"secret").unwrap();
        mac.update(b"trustcloud-activate-v1n1\x00\x0b\x01\x02");
        assert_eq!(p, mac.finalize().into_bytes().to_vec());
        assert_ne!(p, activation_proof(b"secret", "n2", &[0, 0x0b, 1, 2]));
    }
}
