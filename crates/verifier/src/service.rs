//! The registrar and verifier logic, independent of HTTP: every API
//! handler is a thin call into [`Service`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use attest::protocol::{
    ActivateRequest, AttestationResult, Challenge, EnrollRequest, EnrollResponse, Evidence,
    NodeKind, NodeState,
};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::attestation::{self, ParsedPolicy};
use crate::ear::EarSigner;
use crate::ident::{valid_agent_id, valid_policy_name};
use crate::storage::{
    now_ms, state_str, AgentRecord, AppraisalRecord, Enrollment, Round, Status, Store, StoreError,
};

/// What went wrong with a request, mapped to an HTTP status by the API.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Unprocessable(String),
    #[error("storage: {0}")]
    Store(#[from] StoreError),
}

pub type Result<T> = std::result::Result<T, ServiceError>;

/// Settings of the registrar/verifier.
#[derive(Clone, Debug)]
pub struct ServiceConfig {
    /// How often agents send evidence.
    pub interval: Duration,
    /// This process's name among replicas sharing a database.
    pub replica_id: String,
    /// DER trust anchors for EK certificates of hardware TPMs (vendor
    /// roots; a vtpmd CA sealed by a hardware TPM).
    pub trust_anchors: Vec<Vec<u8>>,
    /// DER anchors of software TPMs (swtpm's local CA, a vtpmd or local
    /// engine without a hardware TPM). Their nodes attest like any other,
    /// but nothing vouches that the TPM is not an emulator the host's
    /// owner controls, so their EAR `hardware` claim is 32 ("unsafe"),
    /// not 2, and relying parties see a warning, not an affirmation.
    pub software_anchors: Vec<Vec<u8>>,
}

/// The service.
pub struct Service {
    pub store: Store,
    pub cfg: ServiceConfig,
    pub ear: EarSigner,
    /// Parsed policies by name, with the version they were parsed at and
    /// when that version was last confirmed: a runtime policy can hold many
    /// thousands of digests and regexes, too costly to parse for every piece
    /// of evidence, and asking the database for the version on every round
    /// was a statement per round.
    policies: Mutex<HashMap<String, CachedPolicy>>,
    /// The agents this process attests, as last read or written by it. A
    /// round uses this copy and commits only if the row's revision is
    /// unchanged ([`Store::commit_round`]), so a change by anyone else (an
    /// operator, another replica, the sweep) makes it re-read the row.
    hot: Mutex<HashMap<String, HotSlot>>,
}

/// The least time a nonce outlives the interval ([`nonce_lifetime_ms`]).
const NONCE_SLACK_MIN_MS: i64 = 10_000;

/// A nonce's lifetime for an attestation interval (both in ms): the
/// interval the agent sleeps before answering a carried challenge, plus at
/// least [`NONCE_SLACK_MIN_MS`] for its TPM, the network and this
/// verifier's queue. With a bare two intervals (4 s at the default 2 s), a
/// verifier briefly behind by two seconds refused most carried nonces, and
/// every refusal cost the agent a second request: 10,000 agents on a
/// loaded machine collapsed to a fifth of their rate with half the rounds
/// refused (BENCHMARKS.md, "Issue 5", run F).
fn nonce_lifetime_ms(interval_ms: i64) -> i64 {
    interval_ms.saturating_add(interval_ms.max(NONCE_SLACK_MIN_MS))
}

/// How long a parsed policy is used without asking the database whether a
/// newer version exists. Updates through this process apply at once; this
/// bounds how late another replica's update is seen.
const POLICY_RECHECK: Duration = Duration::from_secs(1);

#[derive(Clone)]
struct CachedPolicy {
    version: i64,
    parsed: Arc<ParsedPolicy>,
    checked: Instant,
}

/// One agent's cached row; the async lock also keeps one agent's rounds in
/// order within this process.
type HotSlot = Arc<tokio::sync::Mutex<Option<Hot>>>;

/// The verifier's copy of an agent's row, with its AK and history parsed
/// once (`None` until a round needs them; they follow the row).
struct Hot {
    rec: AgentRecord,
    prepared: Option<attestation::Prepared>,
}

impl Hot {
    fn new(rec: AgentRecord) -> Hot {
        Hot {
            rec,
            prepared: None,
        }
    }

    /// A row read afresh, keeping `old`'s parsed AK if the row still holds
    /// the same AK (its comb table is built once per AK; an agent that asks
    /// for a new challenge, e.g. after a restart, would otherwise cost a
    /// full verification and a table again). A re-enrolled AK is parsed
    /// anew; the history always comes from the row.
    fn reread(rec: AgentRecord, old: Option<Hot>) -> Hot {
        let prepared = old
            .filter(|o| o.rec.ak_public == rec.ak_public)
            .and_then(|o| o.prepared)
            .and_then(|p| p.with_history(rec.history.as_deref()).ok());
        Hot { rec, prepared }
    }
}

impl Service {
    pub fn new(store: Store, cfg: ServiceConfig, ear: EarSigner) -> Arc<Service> {
        Arc::new(Service {
            store,
            cfg,
            ear,
            policies: Mutex::new(HashMap::new()),
            hot: Mutex::new(HashMap::new()),
        })
    }

    fn interval_ms(&self) -> i64 {
        i64::try_from(self.cfg.interval.as_millis()).unwrap_or(i64::MAX)
    }

    async fn agent(&self, id: &str) -> Result<AgentRecord> {
        if !valid_agent_id(id) {
            return Err(ServiceError::BadRequest(format!(
                "invalid agent id {id:?}: use 1-64 of [A-Za-z0-9._-]"
            )));
        }
        self.store
            .get(id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("no node {id:?}")))
    }

    // ---------------- registrar ----------------

    /// Enrollment (TCG EK credential pattern): check the EK certificate
    /// against the trust anchors (and the vTPM CAs of enrolled hosts, which
    /// links a VM to its host), check the AK is a restricted signing key,
    /// and wrap a fresh secret for EK+AK with MakeCredential (TPM 2.0 Part 1
    /// §24, Part 3 §12.6). Only the HMAC the agent must prove is stored.
    pub async fn enroll(&self, req: EnrollRequest) -> Result<EnrollResponse> {
        if !valid_agent_id(&req.agent_id) {
            return Err(ServiceError::BadRequest(format!(
                "invalid agent_id {:?}: use 1-64 of [A-Za-z0-9._-]",
                req.agent_id
            )));
        }
        let ek = attestation::parse_public(&req.ek_public)
            .map_err(|e| ServiceError::BadRequest(format!("ek_public: {e}")))?;
        let ak = attestation::parse_public(&req.ak_public)
            .map_err(|e| ServiceError::BadRequest(format!("ak_public: {e}")))?;
        attestation::check_ak(&ak)
            .map_err(|e| ServiceError::BadRequest(format!("ak_public: {e}")))?;
        let ak_name = attestation::name_of(&ak)
            .map_err(|e| ServiceError::BadRequest(format!("ak_public: {e}")))?;
        if let Some(ca) = &req.vtpm_ca_certificate {
            if req.kind != NodeKind::Host {
                return Err(ServiceError::BadRequest(
                    "vtpm_ca_certificate is only for hosts".into(),
                ));
            }
            attestation::check_ca_certificate(ca)
                .map_err(|e| ServiceError::BadRequest(format!("vtpm_ca_certificate: {e}")))?;
        }
        // Which anchor vouches for the EK: a configured root, or the vTPM CA
        // of an enrolled host (then this is a VM of that host).
        // Which anchor vouches for the EK. A VM's EK certificate is looked
        // up first under the vTPM CAs of activated hosts (that links the VM
        // to its host), then under the configured anchors.
        let mut host_id = None;
        let mut issuer = None;
        let mut hardware_root = false;
        let mut last_err = String::from("no trust anchor is configured");
        if req.kind == NodeKind::Vm {
            for (hid, ca, host_hardware) in self.store.host_vtpm_cas().await? {
                if hid == req.agent_id {
                    continue;
                }
                match attestation::verify_ek_cert(
                    &req.ek_certificate,
                    std::slice::from_ref(&ca),
                    &ek,
                ) {
                    Ok(i) => {
                        issuer = Some(i);
                        host_id = Some(hid);
                        // A vTPM is as hardware-rooted as its host.
                        hardware_root = host_hardware;
                        break;
                    }
                    Err(e) => {
                        tracing::debug!(agent = %req.agent_id, host = %hid, "not under this host's vTPM CA: {e}");
                        last_err = format!("not issued by any enrolled host's vTPM CA ({e})");
                    }
                }
            }
        }
        for (anchors, hardware) in [
            (&self.cfg.trust_anchors, true),
            (&self.cfg.software_anchors, false),
        ] {
            if issuer.is_some() || anchors.is_empty() {
                continue;
            }
            match attestation::verify_ek_cert(&req.ek_certificate, anchors, &ek) {
                Ok(i) => {
                    issuer = Some(i);
                    hardware_root = hardware;
                }
                Err(e) => last_err = e,
            }
        }
        let Some(issuer) = issuer else {
            return Err(ServiceError::Forbidden(format!(
                "EK certificate is not trusted: {last_err}"
            )));
        };
        let secret = Zeroizing::new(rand::random::<[u8; 32]>().to_vec());
        let (credential_blob, encrypted_secret) =
            attestation::make_credential(&ek, &ak_name, &secret)
                .map_err(|e| ServiceError::BadRequest(format!("MakeCredential: {e}")))?;
        let digest = attestation::activation_proof(&secret, &req.agent_id, &ak_name);
        let now = now_ms();
        let previous = self.store.get(&req.agent_id).await?;
        self.store
            .enroll(
                &Enrollment {
                    id: req.agent_id.clone(),
                    kind: req.kind,
                    ek_cert: req.ek_certificate,
                    ek_public: req.ek_public,
                    ak_public: req.ak_public,
                    ak_name,
                    ek_issuer: issuer,
                    hardware_root,
                    activation_digest: digest,
                    vtpm_ca_cert: req.vtpm_ca_certificate,
                    host_id,
                },
                now,
            )
            .await?;
        if let Some(prev) = previous {
            // Re-enrollment: back to registered, recorded as a transition.
            let fresh = Status {
                state: NodeState::Registered,
                reasons: vec![],
                appraisal_state: NodeState::Registered,
                appraisal_reasons: vec![],
                manual_reason: prev.status.manual_reason.clone(),
            };
            self.store
                .save_status(
                    &req.agent_id,
                    &prev.status,
                    &fresh,
                    &self.cfg.replica_id,
                    now,
                )
                .await?;
            if prev.kind == NodeKind::Host {
                self.reevaluate_vms(&req.agent_id).await?;
            }
        }
        tracing::info!(agent = %req.agent_id, "enrolled; waiting for activation");
        Ok(EnrollResponse {
            credential_blob,
            encrypted_secret,
        })
    }

    /// Activation: the agent proves ActivateCredential recovered the secret
    /// (`protocol::ActivateRequest`), compared in constant time.
    pub async fn activate(&self, id: &str, req: ActivateRequest) -> Result<AttestationResult> {
        let agent = self.agent(id).await?;
        let Some(expected) = agent.activation_digest.as_ref() else {
            return Err(ServiceError::Conflict(format!(
                "node {id} is already activated; enroll again to replace its AK"
            )));
        };
        if req.proof.len() != expected.len() || !bool::from(req.proof.ct_eq(expected)) {
            return Err(ServiceError::Forbidden(
                "activation proof does not match: the AK and the EK are not in the same TPM".into(),
            ));
        }
        self.store.clear_activation(id).await?;
        let status = Status {
            appraisal_state: NodeState::Enrolled,
            appraisal_reasons: vec![],
            ..agent.status.clone()
        };
        let status = self.combine(&agent, status).await?;
        self.store
            .save_status(id, &agent.status, &status, &self.cfg.replica_id, now_ms())
            .await?;
        tracing::info!(agent = %id, "activated");
        if agent.kind == NodeKind::Host {
            self.reevaluate_vms(id).await?;
        }
        Ok(self.result(&status))
    }

    // ---------------- verifier ----------------

    fn result(&self, s: &Status) -> AttestationResult {
        AttestationResult {
            state: s.state,
            reasons: s.reasons.clone(),
            next_in_ms: u64::try_from(self.interval_ms()).unwrap_or(2000),
            next_challenge: None,
        }
    }

    async fn policy_of(&self, agent: &AgentRecord) -> Result<Option<Arc<ParsedPolicy>>> {
        let Some(name) = &agent.policy else {
            return Ok(None);
        };
        let cached = self.cached_policy(name);
        if let Some(c) = &cached {
            if c.checked.elapsed() < POLICY_RECHECK {
                return Ok(Some(c.parsed.clone()));
            }
        }
        let Some(version) = self.store.policy_version(name).await? else {
            return Ok(None);
        };
        let parsed = match cached {
            Some(c) if c.version == version => c.parsed,
            _ => {
                let Some(text) = self.store.get_policy(name).await? else {
                    return Ok(None);
                };
                Arc::new(attest_policy(&text).map_err(|e| {
                    ServiceError::Unprocessable(format!("stored policy {name}: {e}"))
                })?)
            }
        };
        // The version read before the body: at worst the next call parses
        // again, never a stale body under a newer version.
        if let Ok(mut cache) = self.policies.lock() {
            cache.insert(
                name.clone(),
                CachedPolicy {
                    version,
                    parsed: parsed.clone(),
                    checked: Instant::now(),
                },
            );
        }
        Ok(Some(parsed))
    }

    fn cached_policy(&self, name: &str) -> Option<CachedPolicy> {
        self.policies.lock().ok()?.get(name).cloned()
    }

    fn hot_slot(&self, id: &str) -> HotSlot {
        match self.hot.lock() {
            // Look up before `entry`: the key is allocated only for a new agent.
            Ok(mut map) => match map.get(id) {
                Some(slot) => slot.clone(),
                None => map.entry(id.to_string()).or_default().clone(),
            },
            // A poisoned map only loses the cache: a private slot re-reads.
            Err(_) => HotSlot::default(),
        }
    }

    fn forget_hot(&self, id: &str) {
        if let Ok(mut map) = self.hot.lock() {
            map.remove(id);
        }
    }

    /// PCRs to quote: the defaults plus whatever the policy pins.
    fn pcr_selection(policy: Option<&ParsedPolicy>) -> attestation::PcrSelection {
        match policy {
            Some(p) => p.pcr_selection().clone(),
            None => attestation::default_selection(),
        }
    }

    /// A challenge with a fresh nonce (valid for one interval and a slack) for an
    /// agent at IMA position `ima_offset`. The log is asked for until one
    /// passed in this boot; afterwards only while the quoted boot PCRs stay
    /// as proven (attest decides: [`attestation::needs_event_log`]).
    fn new_challenge(
        &self,
        send_event_log: bool,
        ima_offset: i64,
        policy: Option<&ParsedPolicy>,
    ) -> (Challenge, i64) {
        let nonce: [u8; 32] = rand::random();
        let expires = now_ms().saturating_add(nonce_lifetime_ms(self.interval_ms()));
        (
            Challenge {
                nonce: nonce.to_vec(),
                pcr_selection: Self::pcr_selection(policy),
                ima_offset: u64::try_from(ima_offset).unwrap_or(0),
                send_event_log,
                interval_ms: u64::try_from(self.interval_ms()).unwrap_or(2000),
            },
            expires,
        )
    }

    /// A fresh single-use nonce, stored in the database (any replica can
    /// take the evidence), valid for one interval plus the larger of one
    /// interval and 10 s. Agents need this only for their first round and
    /// after a refusal: every answer to evidence carries the next challenge.
    pub async fn challenge(&self, id: &str) -> Result<Challenge> {
        let slot = self.hot_slot(id);
        let mut hot = slot.lock().await;
        // Read the row: this call is rare, and a policy assigned elsewhere
        // must be in the selection.
        let mut agent = self.agent(id).await?;
        if agent.activation_digest.is_some() {
            return Err(ServiceError::Conflict(format!(
                "node {id} has not activated its AK yet"
            )));
        }
        let policy = self.policy_of(&agent).await?;
        let send_event_log =
            attestation::needs_event_log(agent.history.as_deref(), policy.as_deref().map(|p| &p.0));
        let (challenge, expires) =
            self.new_challenge(send_event_log, agent.ima_offset, policy.as_deref());
        match self.store.set_nonce(id, &challenge.nonce, expires).await? {
            Some(rev) => {
                agent.rev = rev;
                agent.nonce = Some(challenge.nonce.clone());
                agent.nonce_expires = expires;
                // Read afresh: the AK or history may have changed elsewhere.
                *hot = Some(Hot::reread(agent, hot.take()));
            }
            None => {
                *hot = None;
                return Err(ServiceError::NotFound(format!("no node {id:?}")));
            }
        }
        Ok(challenge)
    }

    /// Appraises evidence against the agent's AK, nonce, history and
    /// policy, records the new state and the next challenge, and answers
    /// with both.
    ///
    /// The agent's row comes from this process's copy when it has one; the
    /// commit applies only if the row's revision did not move, else the
    /// row is read again and the evidence appraised again (at most once
    /// more: a second conflict means the nonce is someone else's now).
    pub async fn evidence(&self, id: &str, ev: Evidence) -> Result<AttestationResult> {
        if !valid_agent_id(id) {
            return Err(ServiceError::BadRequest(format!(
                "invalid agent id {id:?}: use 1-64 of [A-Za-z0-9._-]"
            )));
        }
        let slot = self.hot_slot(id);
        let mut hot = slot.lock().await;
        for attempt in 0..2 {
            let (agent, cached) = match hot.take() {
                Some(a) if attempt == 0 => (a, true),
                _ => (Hot::new(self.agent(id).await?), false),
            };
            match self.round(id, agent, &ev).await? {
                RoundOutcome::Done(agent, result) => {
                    *hot = Some(*agent);
                    return Ok(result);
                }
                RoundOutcome::Stale if attempt == 0 => continue,
                RoundOutcome::Stale => break,
                // A refusal from the cached copy (a nonce another replica
                // issued, an activation since) is checked against the
                // database once; a refused row is never kept, so the next
                // request reads it afresh.
                RoundOutcome::Refused(_) if cached => continue,
                RoundOutcome::Refused(e) => return Err(e),
            }
        }
        Err(ServiceError::Unprocessable(
            "nonce is unknown, already used or expired: ask for a new challenge".into(),
        ))
    }

    /// One round on `agent` as read at `agent.rev`.
    async fn round(&self, id: &str, hot: Hot, ev: &Evidence) -> Result<RoundOutcome> {
        let Hot {
            rec: agent,
            prepared,
        } = hot;
        if agent.activation_digest.is_some() {
            return Ok(RoundOutcome::Refused(ServiceError::Conflict(format!(
                "node {id} has not activated its AK yet (AK not activated)"
            ))));
        }
        let now = now_ms();
        let nonce_ok = match &agent.nonce {
            Some(n) => {
                agent.nonce_expires > now
                    && n.len() == ev.nonce.len()
                    && bool::from(n.ct_eq(&ev.nonce))
            }
            None => false,
        };
        if !nonce_ok {
            return Ok(RoundOutcome::Refused(ServiceError::Unprocessable(
                "nonce is unknown, already used or expired: ask for a new challenge".into(),
            )));
        }
        let policy = self.policy_of(&agent).await?;
        let prepared = match prepared {
            Some(p) => Ok(p),
            None => attestation::Prepared::parse(&agent.ak_public, agent.history.as_deref()),
        };
        let (outcome, prepared) = match prepared {
            Ok(p) => {
                let (o, left) = attestation::appraise_prepared(
                    &p,
                    &ev.nonce,
                    ev,
                    policy.as_deref(),
                    agent.hardware_root,
                );
                // The copy follows what is stored: the new history when
                // one is saved, else the old.
                let p = if o.history_json.is_some() {
                    p.advanced(left)
                } else {
                    p
                };
                (o, Some(p))
            }
            Err(reason) => (attestation::Outcome::failed(reason), None),
        };
        // attest decides what advances (counters on any authentic quote,
        // IMA position only when its checks passed); `None` keeps the old.
        let (history, ima_offset) = match &outcome.history_json {
            Some(h) => (Some(h.clone()), outcome.ima_offset),
            None => (agent.history.clone(), agent.ima_offset),
        };
        let status = if outcome.retry_with_log {
            // Not a verdict: keep the state, remember that the log is now
            // needed, and ask for new evidence at once.
            agent.status.clone()
        } else {
            let own = if outcome.passed {
                Status {
                    appraisal_state: NodeState::Trusted,
                    appraisal_reasons: vec![],
                    ..agent.status.clone()
                }
            } else {
                Status {
                    appraisal_state: NodeState::Failed,
                    appraisal_reasons: outcome.reasons.clone(),
                    ..agent.status.clone()
                }
            };
            self.combine(&agent, own).await?
        };
        let trust_vector = if outcome.retry_with_log {
            agent.trust_vector.clone()
        } else {
            outcome.trust_vector_json.clone()
        };
        // From the parsed copy, which holds the history now stored (no
        // second parse of its JSON).
        let send_event_log = match &prepared {
            Some(p) => p.needs_event_log(policy.as_deref()),
            None => {
                attestation::needs_event_log(history.as_deref(), policy.as_deref().map(|p| &p.0))
            }
        };
        let (next, next_expires) =
            self.new_challenge(send_event_log, ima_offset, policy.as_deref());
        // Kept in the copy of the row; the challenge itself goes out whole.
        let next_nonce = next.nonce.clone();
        let applied = self
            .store
            .commit_round(
                id,
                &Round {
                    rev: agent.rev,
                    saved: AppraisalRecord {
                        history: history.as_deref(),
                        trust_vector: trust_vector.as_deref(),
                        ima_offset,
                    },
                    previous: &agent.status,
                    previous_seen: agent.last_seen,
                    status: &status,
                    next_nonce: Some(&next_nonce),
                    next_expires,
                },
                &self.cfg.replica_id,
                now,
            )
            .await?;
        if !applied {
            return Ok(RoundOutcome::Stale);
        }
        let changed = status.state != agent.status.state;
        if changed {
            tracing::info!(agent = %id, from = state_str(agent.status.state), to = state_str(status.state), reasons = ?status.reasons, "state change");
        }
        let result = AttestationResult {
            state: status.state,
            reasons: status.reasons.clone(),
            next_in_ms: if outcome.retry_with_log {
                0
            } else {
                u64::try_from(self.interval_ms()).unwrap_or(2000)
            },
            next_challenge: Some(next),
        };
        let kind = agent.kind;
        let updated = AgentRecord {
            history,
            ima_offset,
            trust_vector,
            status,
            last_seen: now,
            attestations: agent.attestations + 1,
            updated_at: now,
            rev: agent.rev + 1,
            nonce: Some(next_nonce),
            nonce_expires: next_expires,
            ..agent
        };
        if changed && kind == NodeKind::Host {
            self.reevaluate_vms(id).await?;
        }
        Ok(RoundOutcome::Done(
            Box::new(Hot {
                rec: updated,
                prepared,
            }),
            result,
        ))
    }

    /// Effective status from the agent's own appraisal, the operator's
    /// mark and (for a VM) its host's state.
    async fn combine(&self, agent: &AgentRecord, own: Status) -> Result<Status> {
        let host_state = match &agent.host_id {
            Some(h) => Some((h.clone(), self.store.state_of(h).await?)),
            None => None,
        };
        Ok(combine(own, host_state))
    }

    /// Re-applies host linkage to every VM of `host` right after the
    /// host's state changed.
    pub async fn reevaluate_vms(&self, host: &str) -> Result<()> {
        for vm in self.store.vms_of(host).await? {
            let status = self.combine(&vm, vm.status.clone()).await?;
            if status != vm.status {
                self.store
                    .save_status(&vm.id, &vm.status, &status, &self.cfg.replica_id, now_ms())
                    .await?;
                tracing::info!(vm = %vm.id, host, state = state_str(status.state), "host linkage");
            }
        }
        Ok(())
    }

    /// One pass of the unreachable sweep: claims stale agents (lease, so
    /// replicas split them) in batches and marks them unreachable, until no
    /// stale agent is left (bounded, so a pathological store cannot hold
    /// the sweep forever). An outage of thousands of agents shows within one
    /// pass, not after thousands / batch passes. Returns how many changed.
    pub async fn sweep_once(&self) -> Result<usize> {
        const BATCH: usize = 500;
        const MAX_BATCHES: usize = 100;
        let mut changed = 0;
        for _ in 0..MAX_BATCHES {
            let (claimed, n) = self.sweep_batch(BATCH).await?;
            changed += n;
            if claimed < BATCH {
                break;
            }
        }
        Ok(changed)
    }

    /// Claims up to `batch` stale agents and marks them unreachable.
    /// Returns (claimed, changed).
    async fn sweep_batch(&self, batch: usize) -> Result<(usize, usize)> {
        let now = now_ms();
        let cutoff = now - 2 * self.interval_ms();
        let owner = &self.cfg.replica_id;
        let ids = self
            .store
            .claim_stale(owner, cutoff, now, 10_000, batch as i64)
            .await?;
        let claimed = ids.len();
        let mut changed = 0;
        for id in ids {
            if let Some(agent) = self.store.get(&id).await? {
                if agent.last_seen < cutoff
                    && matches!(
                        agent.status.appraisal_state,
                        NodeState::Enrolled | NodeState::Trusted | NodeState::Failed
                    )
                {
                    let own = Status {
                        appraisal_state: NodeState::Unreachable,
                        appraisal_reasons: vec![format!(
                            "no evidence for {} ms (expected every {} ms)",
                            now - agent.last_seen,
                            self.interval_ms()
                        )],
                        ..agent.status.clone()
                    };
                    let status = self.combine(&agent, own).await?;
                    if self
                        .store
                        .save_status(&id, &agent.status, &status, owner, now)
                        .await?
                    {
                        changed += 1;
                        if agent.kind == NodeKind::Host && status.state != agent.status.state {
                            self.reevaluate_vms(&id).await?;
                        }
                    }
                }
            }
            self.store.release(&id, owner).await?;
        }
        Ok((claimed, changed))
    }

    // ---------------- operator ----------------

    pub async fn node(&self, id: &str) -> Result<AgentRecord> {
        self.agent(id).await
    }

    pub async fn delete_node(&self, id: &str) -> Result<()> {
        let agent = self.agent(id).await?;
        self.store.delete(id).await?;
        self.forget_hot(id);
        if agent.kind == NodeKind::Host {
            self.reevaluate_vms(id).await?;
        }
        Ok(())
    }

    /// Operator mark: `failed` with a reason, or `enrolled` to clear it.
    pub async fn set_manual_state(
        &self,
        id: &str,
        state: NodeState,
        reason: Option<String>,
    ) -> Result<AgentRecord> {
        let agent = self.agent(id).await?;
        let manual_reason = match state {
            NodeState::Failed => Some(
                reason
                    .filter(|r| !r.trim().is_empty())
                    .unwrap_or_else(|| "marked failed by an operator".into()),
            ),
            NodeState::Enrolled => None,
            other => {
                return Err(ServiceError::BadRequest(format!(
                    "state {:?} cannot be set: use \"failed\" (with a reason) or \"enrolled\" (clears the mark)",
                    state_str(other)
                )))
            }
        };
        let own = Status {
            manual_reason,
            ..agent.status.clone()
        };
        let status = self.combine(&agent, own).await?;
        self.store
            .save_status(id, &agent.status, &status, &self.cfg.replica_id, now_ms())
            .await?;
        if agent.kind == NodeKind::Host {
            self.reevaluate_vms(id).await?;
        }
        self.agent(id).await
    }

    pub async fn assign_policy(&self, id: &str, policy: &str) -> Result<AgentRecord> {
        self.agent(id).await?;
        if self.store.get_policy(policy).await?.is_none() {
            return Err(ServiceError::NotFound(format!("no policy {policy:?}")));
        }
        self.store.set_policy(id, Some(policy), now_ms()).await?;
        self.agent(id).await
    }

    pub async fn put_policy(&self, name: &str, body: &str) -> Result<ParsedPolicy> {
        if !valid_policy_name(name) {
            return Err(ServiceError::BadRequest(format!(
                "invalid policy name {name:?}: use 1-64 of [A-Za-z0-9._-]"
            )));
        }
        let p = attestation::parse_policy(body)
            .map_err(|e| ServiceError::BadRequest(format!("policy: {e}")))?;
        if p.name() != name {
            return Err(ServiceError::BadRequest(format!(
                "policy name in the body ({:?}) differs from the URL ({name:?})",
                p.name()
            )));
        }
        self.store.put_policy(name, &p.to_json(), now_ms()).await?;
        if let Ok(mut cache) = self.policies.lock() {
            cache.remove(name);
        }
        Ok(p)
    }
}

/// What [`Service::round`] came to.
enum RoundOutcome {
    /// Committed: the row as it now is, and the answer.
    Done(Box<Hot>, AttestationResult),
    /// The row changed since it was read: read it again.
    Stale,
    /// Refused before anything was written.
    Refused(ServiceError),
}

fn attest_policy(text: &str) -> std::result::Result<ParsedPolicy, String> {
    attestation::parse_policy(text)
}

/// Effective status: failed when the own appraisal failed, an operator
/// marked the node, or its host is not trusted (reasons from each);
/// otherwise the own appraisal state.
pub fn combine(own: Status, host: Option<(String, Option<NodeState>)>) -> Status {
    let mut reasons = Vec::new();
    let mut failed = own.appraisal_state == NodeState::Failed;
    if failed {
        reasons.extend(own.appraisal_reasons.iter().cloned());
    }
    if let Some(m) = &own.manual_reason {
        failed = true;
        reasons.push(format!("marked failed by operator: {m}"));
    }
    if own.appraisal_state != NodeState::Registered {
        if let Some((h, hs)) = &host {
            match hs {
                Some(NodeState::Trusted) => {}
                Some(s) => {
                    failed = true;
                    reasons.push(format!("host {h} is {}", state_str(*s)));
                }
                None => {
                    failed = true;
                    reasons.push(format!("host {h} is not enrolled"));
                }
            }
        }
    }
    let state = if own.appraisal_state == NodeState::Registered {
        NodeState::Registered
    } else if failed {
        NodeState::Failed
    } else {
        if own.appraisal_state == NodeState::Unreachable {
            reasons.extend(own.appraisal_reasons.iter().cloned());
        }
        own.appraisal_state
    };
    Status {
        state,
        reasons,
        ..own
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// TPMT_PUBLIC of a restricted ECDSA P-256 signing key whose point is
    /// the generator (Part 2 §12.2.4; any point on the curve will do), with
    /// the object attributes `attributes`.
    fn p256_ak(attributes: u32) -> Vec<u8> {
        let mut v = vec![0x00, 0x23, 0x00, 0x0b];
        v.extend(attributes.to_be_bytes());
        // authPolicy empty; symmetric NULL, ECDSA/SHA-256, NIST P-256, KDF NULL.
        v.extend([
            0, 0, 0x00, 0x10, 0x00, 0x18, 0x00, 0x0b, 0x00, 0x03, 0x00, 0x10,
        ]);
        for coord in [
            "6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296",
            "4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5",
        ] {
            v.extend([0, 32]);
            v.extend(hex::decode(coord).unwrap());
        }
        v
    }

    /// fixedTPM, fixedParent, sensitiveDataOrigin, userWithAuth,
    /// restricted, sign.
    const AK_ATTRIBUTES: u32 = 0x0005_0072;

    fn record(ak_public: Vec<u8>, history: Option<&str>) -> AgentRecord {
        AgentRecord {
            id: "a1".into(),
            kind: NodeKind::Host,
            ek_cert: vec![],
            ek_public: vec![],
            ak_public,
            ak_name: vec![],
            ek_issuer: String::new(),
            hardware_root: true,
            activation_digest: None,
            vtpm_ca_cert: None,
            host_id: None,
            policy: None,
            status: own(NodeState::Trusted, &[]),
            history: history.map(str::to_string),
            trust_vector: None,
            ima_offset: 0,
            last_seen: 0,
            attestations: 0,
            created_at: 0,
            updated_at: 0,
            rev: 0,
            nonce: None,
            nonce_expires: 0,
        }
    }

    fn hot(ak_public: Vec<u8>) -> Hot {
        let prepared = attestation::Prepared::parse(&ak_public, None).unwrap();
        Hot {
            rec: record(ak_public, None),
            prepared: Some(prepared),
        }
    }

    /// A history in which an event log has passed (no log needed next).
    const LOG_PASSED: &str = r#"{"reset_count":0,"restart_count":0,"clock":0,"boot_pcrs":{}}"#;

    #[test]
    fn a_reread_row_keeps_the_parsed_ak_with_the_rows_history() {
        let ak = p256_ak(AK_ATTRIBUTES);
        let kept = Hot::reread(record(ak.clone(), Some(LOG_PASSED)), Some(hot(ak)));
        let prepared = kept.prepared.expect("same AK: the parsed copy is kept");
        // The history is the row's, not the old copy's (which had none and
        // so asked for the log).
        assert!(!prepared.needs_event_log(None));
        assert_eq!(kept.rec.history.as_deref(), Some(LOG_PASSED));
    }

    #[test]
    fn a_reread_row_with_another_ak_or_no_copy_parses_again() {
        let ak = p256_ak(AK_ATTRIBUTES);
        // Re-enrolled with another AK (here: one more attribute, noDA).
        let other = p256_ak(AK_ATTRIBUTES | 0x400);
        assert!(attestation::Prepared::parse(&other, None).is_ok());
        let fresh = Hot::reread(record(other, None), Some(hot(ak.clone())));
        assert!(
            fresh.prepared.is_none(),
            "another AK must not verify with the old one"
        );
        assert!(Hot::reread(record(ak.clone(), None), None)
            .prepared
            .is_none());
        // A history that does not parse leaves the round to report it.
        let bad = Hot::reread(record(ak.clone(), Some("{")), Some(hot(ak)));
        assert!(bad.prepared.is_none());
    }

    #[test]
    fn a_nonce_outlives_the_interval_by_at_least_ten_seconds() {
        // The default 2 s interval: an agent up to 10 s late still answers.
        assert_eq!(nonce_lifetime_ms(2_000), 12_000);
        assert_eq!(nonce_lifetime_ms(100), 10_100);
        // Long intervals keep two intervals, as before.
        assert_eq!(nonce_lifetime_ms(60_000), 120_000);
        assert_eq!(nonce_lifetime_ms(i64::MAX), i64::MAX);
    }

    fn own(s: NodeState, r: &[&str]) -> Status {
        Status {
            state: NodeState::Enrolled,
            reasons: vec![],
            appraisal_state: s,
            appraisal_reasons: r.iter().map(|x| x.to_string()).collect(),
            manual_reason: None,
        }
    }

    #[test]
    fn host_linkage_fails_a_trusted_vm() {
        let s = combine(
            own(NodeState::Trusted, &[]),
            Some(("h1".into(), Some(NodeState::Failed))),
        );
        assert_eq!(s.state, NodeState::Failed);
        assert_eq!(s.reasons, vec!["host h1 is failed".to_string()]);
        let s = combine(
            own(NodeState::Trusted, &[]),
            Some(("h1".into(), Some(NodeState::Trusted))),
        );
        assert_eq!(s.state, NodeState::Trusted);
        assert!(s.reasons.is_empty());
    }

    #[test]
    fn manual_mark_and_own_failure_both_reported() {
        let mut o = own(NodeState::Failed, &["PCR 7 bad"]);
        o.manual_reason = Some("maintenance".into());
        let s = combine(o, None);
        assert_eq!(s.state, NodeState::Failed);
        assert_eq!(
            s.reasons,
            vec![
                "PCR 7 bad".to_string(),
                "marked failed by operator: maintenance".into()
            ]
        );
    }
}
