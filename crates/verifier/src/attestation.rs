//! The verifier's calls into the `attest` crate (all verification lives
//! there; this module only adapts types and error strings).

use std::collections::BTreeMap;

use attest::appraise::{AgentHistory, AppraisalInput};
use attest::ear::TrustVector;
use attest::policy::Policy;
use attest::protocol::Evidence;
use attest::quote::AkVerifier;
use tpm::types::Public;
use tpm::wire::{Codec, Reader};

/// PCRs to quote, by bank name (as `protocol::Challenge` carries them).
pub type PcrSelection = BTreeMap<String, Vec<u32>>;

/// A validated policy document, with the PCR selection its challenges ask
/// for (the defaults plus what it pins), worked out once: every round
/// issues a challenge.
#[derive(Clone, Debug)]
pub struct ParsedPolicy(pub Policy, PcrSelection);

impl ParsedPolicy {
    pub fn new(policy: Policy) -> ParsedPolicy {
        let mut selection = default_selection();
        for (bank, idx) in policy.pcr_selection() {
            let e = selection.entry(bank).or_default();
            e.extend(idx);
            e.sort_unstable();
            e.dedup();
        }
        ParsedPolicy(policy, selection)
    }
    pub fn name(&self) -> &str {
        &self.0.name
    }
    /// The PCRs a challenge under this policy asks for.
    pub fn pcr_selection(&self) -> &PcrSelection {
        &self.1
    }
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.0).unwrap_or_default()
    }
}

/// Parses and validates a policy (attest::policy::Policy JSON).
pub fn parse_policy(text: &str) -> Result<ParsedPolicy, String> {
    Policy::from_json(text)
        .map(ParsedPolicy::new)
        .map_err(|e| e.to_string())
}

/// PCRs quoted whatever the policy: SHA-256 PCRs 0-9 (firmware, boot
/// loader, kernel), 10 (IMA) and 14 (shim's MOK list).
pub fn default_selection() -> PcrSelection {
    let mut pcrs: Vec<u32> = (0..=10).collect();
    pcrs.push(14);
    BTreeMap::from([("sha256".to_string(), pcrs)])
}

/// A TPMT_PUBLIC that must fill `bytes` exactly (TPM 2.0 Part 2 §12.2.4).
pub fn parse_public(bytes: &[u8]) -> Result<Public, String> {
    let mut r = Reader::new(bytes);
    let p = Public::decode(&mut r).map_err(|e| format!("not a TPMT_PUBLIC: {e}"))?;
    if !r.is_empty() {
        return Err(format!(
            "{} bytes left after the TPMT_PUBLIC",
            r.remaining()
        ));
    }
    Ok(p)
}

/// An AK must be a restricted signing key (TPM 2.0 Part 1 §25.2: only a
/// restricted key's quotes are known to be of TPM-generated data) that
/// the verifier can check quotes with.
pub fn check_ak(ak: &Public) -> Result<(), String> {
    let a = ak.attributes;
    if !a.restricted() || !a.sign_encrypt() || a.decrypt() {
        return Err(
            "the AK must be a restricted signing key (restricted, sign, not decrypt)".into(),
        );
    }
    if !a.fixed_tpm() {
        return Err("the AK must be fixedTPM (it must not leave its TPM)".into());
    }
    AkVerifier::new(ak).map(|_| ()).map_err(|e| e.to_string())
}

/// The object's Name (nameAlg || H(TPMT_PUBLIC)), Part 1 §16.
pub fn name_of(p: &Public) -> Result<Vec<u8>, String> {
    p.name()
        .map(|n| n.as_bytes().to_vec())
        .ok_or_else(|| "the key's name algorithm is not implemented".into())
}

/// Whether `der` is an X.509 certificate.
pub fn check_ca_certificate(der: &[u8]) -> Result<(), String> {
    use der::Decode;
    x509_cert::Certificate::from_der(der)
        .map(|_| ())
        .map_err(|e| format!("not an X.509 certificate: {e}"))
}

/// Software MakeCredential (attest::credential, Part 1 §24).
pub fn make_credential(
    ek: &Public,
    ak_name: &[u8],
    secret: &[u8],
) -> Result<(Vec<u8>, Vec<u8>), String> {
    attest::credential::make_credential(ek, ak_name, secret, &mut rand::rngs::OsRng)
        .map_err(|e| e.to_string())
}

/// The activation proof the agent must send.
pub fn activation_proof(secret: &[u8], id: &str, ak_name: &[u8]) -> Vec<u8> {
    attest::credential::activation_proof(secret, id, ak_name)
}

/// Checks the EK certificate chains to one of `anchors` (DER) and carries
/// the EK's key. Returns the issuer's name.
pub fn verify_ek_cert(der: &[u8], anchors: &[Vec<u8>], ek: &Public) -> Result<String, String> {
    attest::ekcert::verify_ek_certificate(der, anchors, ek)
        .map(|info| info.issuer)
        .map_err(|e| e.to_string())
}

/// Reads PEM bundles or DER certificate files into DER certificates.
pub fn parse_certificates(bytes: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    attest::ekcert::parse_certificates(bytes).map_err(|e| e.to_string())
}

/// What one appraisal decided, in storable form.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub passed: bool,
    pub reasons: Vec<String>,
    pub history_json: Option<String>,
    pub ima_offset: i64,
    /// AR4SI trustworthiness vector of this appraisal (JSON), for EAR.
    pub trust_vector_json: Option<String>,
    /// The only failure is that the event log was skipped while the boot
    /// PCRs changed: not a verdict, the agent must resend with the log.
    pub retry_with_log: bool,
}

/// An agent's AK and history as the appraisal needs them. The verifier
/// keeps this with its copy of the row: parsing the TPMT_PUBLIC and the
/// history JSON for every round was ~4 % of a round's CPU at 5,000
/// rounds per second (BENCHMARKS.md, "Issue 5", run F).
pub struct Prepared {
    ak: AkVerifier,
    history: Option<AgentHistory>,
}

impl Prepared {
    /// Parses the stored AK and history; the error is the failure reason.
    pub fn parse(ak_public: &[u8], history_json: Option<&str>) -> Result<Prepared, String> {
        let ak = AkVerifier::from_tpmt_public(ak_public).map_err(|e| e.to_string())?;
        Ok(Prepared {
            ak,
            history: parse_history(history_json)?,
        })
    }

    /// The same AK with a re-read history (a row read again whose AK did
    /// not change): the AK keeps the comb table it built after its second
    /// quote (~115 µs), which a fresh parse would build again.
    pub fn with_history(self, history_json: Option<&str>) -> Result<Prepared, String> {
        Ok(Prepared {
            history: parse_history(history_json)?,
            ..self
        })
    }

    /// Whether the next challenge must ask for the event log under
    /// `policy` (see [`needs_event_log`]), from the parsed history.
    pub fn needs_event_log(&self, policy: Option<&ParsedPolicy>) -> bool {
        let measured_boot = policy.and_then(|p| p.0.measured_boot.as_ref());
        self.history
            .as_ref()
            .map(|h| h.needs_event_log_for(measured_boot))
            .unwrap_or(true)
    }

    /// The same AK with the history an appraisal left.
    pub fn advanced(self, history: AgentHistory) -> Prepared {
        Prepared {
            history: Some(history),
            ..self
        }
    }
}

/// A stored history; the error is the failure reason.
fn parse_history(history_json: Option<&str>) -> Result<Option<AgentHistory>, String> {
    history_json
        .map(|h| serde_json::from_str(h).map_err(|e| format!("stored history is unreadable: {e}")))
        .transpose()
}

/// Appraises evidence (attest::appraise) against a stored AK and history;
/// `hardware_root`: whether the EK chains to a hardware root (the EAR
/// `hardware` claim).
pub fn appraise(
    ak_public: &[u8],
    nonce: &[u8],
    history_json: Option<&str>,
    evidence: &Evidence,
    policy: Option<&ParsedPolicy>,
    hardware_root: bool,
) -> Outcome {
    match Prepared::parse(ak_public, history_json) {
        Ok(p) => appraise_prepared(&p, nonce, evidence, policy, hardware_root).0,
        Err(r) => Outcome::failed(r),
    }
}

/// Appraises evidence against an already parsed AK and history; also
/// returns the history the appraisal leaves (what `history_json` holds).
pub fn appraise_prepared(
    prepared: &Prepared,
    nonce: &[u8],
    evidence: &Evidence,
    policy: Option<&ParsedPolicy>,
    hardware_root: bool,
) -> (Outcome, AgentHistory) {
    let default = Policy::default();
    let policy = policy.map(|p| &p.0).unwrap_or(&default);
    let a = attest::appraise::appraise(&AppraisalInput {
        ak: &prepared.ak,
        expected_nonce: nonce,
        history: prepared.history.as_ref(),
        evidence,
        policy,
    });
    let outcome = Outcome {
        passed: a.passed,
        reasons: a.reasons(),
        history_json: json_with_capacity(&a.new_history, 1024),
        ima_offset: i64::try_from(a.new_history.ima_offset()).unwrap_or(i64::MAX),
        trust_vector_json: json_with_capacity(&TrustVector::from_appraisal(&a, hardware_root), 128),
        retry_with_log: !a.passed
            && !a.failures.is_empty()
            && a.failures
                .iter()
                .all(|f| matches!(f, attest::Failure::EventLogMissing)),
    };
    (outcome, a.new_history)
}

/// `value` as JSON, written into a buffer of `capacity` bytes: these are
/// serialized every round, and `serde_json::to_string` grows its buffer
/// from nothing (a reallocation per doubling).
fn json_with_capacity<T: serde::Serialize>(value: &T, capacity: usize) -> Option<String> {
    let mut out = Vec::with_capacity(capacity);
    serde_json::to_writer(&mut out, value).ok()?;
    String::from_utf8(out).ok()
}

impl Outcome {
    /// A refusal before any check ran (the stored AK or history is
    /// unreadable).
    pub fn failed(reason: String) -> Outcome {
        Outcome {
            passed: false,
            reasons: vec![reason],
            history_json: None,
            ima_offset: 0,
            trust_vector_json: None,
            retry_with_log: false,
        }
    }
}

/// Whether the next challenge must ask for the event log: none passed in
/// this boot yet, or it passed under another measured-boot policy than the
/// node's current one (assigned or edited since).
pub fn needs_event_log(history_json: Option<&str>, policy: Option<&Policy>) -> bool {
    let measured_boot = policy.and_then(|p| p.measured_boot.as_ref());
    history_json
        .and_then(|h| serde_json::from_str::<AgentHistory>(h).ok())
        .map(|h| h.needs_event_log_for(measured_boot))
        .unwrap_or(true)
}
