//! The JSON bodies agents, the verifier and the CLI exchange (REST API v1,
//! `docs/attestation-api.md`). They live here, in the I/O-free crate both
//! sides depend on, so the agent and the verifier cannot drift apart.
//!
//! Encoding rules, the same for every body:
//! - TPM structures travel as the exact bytes the TPM marshals (TPM 2.0
//!   Part 2), base64 (standard alphabet, padded), *without* the TPM2B size
//!   prefix: `ak_public` is a TPMT_PUBLIC, `quote` a TPMS_ATTEST, `signature`
//!   a TPMT_SIGNATURE, `credential_blob` the contents of a TPM2B_ID_OBJECT,
//!   `encrypted_secret` the contents of a TPM2B_ENCRYPTED_SECRET.
//! - Certificates are DER, base64. Logs are the raw kernel files, base64.
//! - PCR values are lower-case hex (as tpm2_pcrread prints them), keyed by
//!   bank name (`sha1`, `sha256`, `sha384`, `sha512`, `sm3_256`) and then by
//!   PCR index.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use crate::pcr_hex::PcrHex;

/// Path prefix of every endpoint.
pub const API_PREFIX: &str = "/v1";

/// What a node is: a physical host (its TPM is hardware, or a stand-in) or a
/// VM whose vTPM a host's vtpmd serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeKind {
    Host,
    Vm,
}

/// Trust state of a node, as the verifier keeps it (RFC 9334 attestation
/// result, summarised).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeState {
    /// EK certificate accepted, AK not yet proven (ActivateCredential pending).
    Registered,
    /// AK proven to live beside the EK; no evidence appraised yet.
    Enrolled,
    /// The latest evidence passed every check of the node's policy.
    Trusted,
    /// The latest evidence failed a check (reasons say which), or the node's
    /// host is not trusted.
    Failed,
    /// No evidence arrived within the expected interval.
    Unreachable,
}

/// `POST /v1/agents/enroll` (registrar): the agent presents its EK
/// certificate and the public area of the AK it wants to attest with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollRequest {
    /// Chosen by the agent: `[A-Za-z0-9._-]{1,64}`.
    pub agent_id: String,
    pub kind: NodeKind,
    #[serde(with = "b64")]
    pub ek_certificate: Vec<u8>,
    /// TPMT_PUBLIC of the EK (must carry the certificate's key).
    #[serde(with = "b64")]
    pub ek_public: Vec<u8>,
    /// TPMT_PUBLIC of the AK: a restricted signing key.
    #[serde(with = "b64")]
    pub ak_public: Vec<u8>,
    /// Hosts only: the certificate (DER) of this host's vTPM CA (vtpmd),
    /// which issues the EK certificates of the VMs it hosts. The verifier
    /// links such VMs to this host: they are trusted only while it is.
    #[serde(default, with = "b64_opt", skip_serializing_if = "Option::is_none")]
    pub vtpm_ca_certificate: Option<Vec<u8>>,
}

/// Answer to an enrollment: a credential only the TPM holding both the EK
/// and the AK can recover (TPM 2.0 Part 3 §12.6 MakeCredential).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollResponse {
    #[serde(with = "b64")]
    pub credential_blob: Vec<u8>,
    #[serde(with = "b64")]
    pub encrypted_secret: Vec<u8>,
}

/// Label of the activation proof (see [`ActivateRequest`]).
pub const ACTIVATE_LABEL: &[u8] = b"trustcloud-activate-v1";

/// `POST /v1/agents/{id}/activate`: proof that ActivateCredential recovered
/// the secret: `proof = HMAC-SHA256(key = secret, ACTIVATE_LABEL || agent_id
/// || AK name)`. The secret itself never travels back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivateRequest {
    #[serde(with = "b64")]
    pub proof: Vec<u8>,
}

/// `POST /v1/agents/{id}/challenge`: what the next evidence must contain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Challenge {
    /// Fresh, single use; goes into the quote's qualifyingData.
    #[serde(with = "b64")]
    pub nonce: Vec<u8>,
    /// PCRs to quote, by bank name.
    pub pcr_selection: BTreeMap<String, Vec<u32>>,
    /// Number of IMA entries the verifier has already verified; the agent
    /// sends the measurement list from this entry on.
    pub ima_offset: u64,
    /// Whether the firmware event log must be sent (the verifier may skip it
    /// when nothing it covers changed).
    pub send_event_log: bool,
    /// When the verifier expects the next evidence.
    pub interval_ms: u64,
}

/// Reported PCR values: bank name → index → hex text as sent.
pub type ReportedPcrs = BTreeMap<String, BTreeMap<u32, PcrHex>>;

/// `POST /v1/agents/{id}/evidence`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    #[serde(with = "b64")]
    pub nonce: Vec<u8>,
    /// TPMS_ATTEST of a TPM2_Quote (Part 3 §18.4) by the enrolled AK.
    #[serde(with = "b64")]
    pub quote: Vec<u8>,
    /// TPMT_SIGNATURE over `quote`.
    #[serde(with = "b64")]
    pub signature: Vec<u8>,
    /// The PCR values the quote covers: bank → index → hex value.
    pub pcrs: ReportedPcrs,
    /// `binary_bios_measurements`, when the challenge asked for it.
    #[serde(default, with = "b64_opt", skip_serializing_if = "Option::is_none")]
    pub event_log: Option<Vec<u8>>,
    /// IMA measurement list entries from `Challenge::ima_offset` on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ima: Option<ImaEvidence>,
}

/// A slice of `binary_runtime_measurements`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImaEvidence {
    /// Index of the first entry in `entries`.
    pub offset: u64,
    #[serde(with = "b64")]
    pub entries: Vec<u8>,
}

/// Answer to evidence (and body of `GET /v1/nodes/{id}` summaries).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttestationResult {
    pub state: NodeState,
    /// Why the node is not trusted; empty when trusted.
    pub reasons: Vec<String>,
    /// When the agent should send its next evidence.
    pub next_in_ms: u64,
    /// The challenge for that next evidence, issued with this answer so a
    /// round is one request, not two (absent before activation and on
    /// answers to other calls; the agent then asks `POST .../challenge`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_challenge: Option<Challenge>,
}

/// Every 4xx/5xx body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    /// Stable, machine-readable code (`unknown_agent`, `bad_request`, ...).
    pub error: String,
    /// What went wrong, for a human.
    pub message: String,
}

/// Base64 (standard, padded) for `Vec<u8>` fields.
pub mod b64 {
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        base64::engine::general_purpose::STANDARD
            .decode(text.as_bytes())
            .map_err(|e| serde::de::Error::custom(format!("invalid base64: {e}")))
    }
}

/// Base64 for `Option<Vec<u8>>` fields (absent or null is `None`).
pub mod b64_opt {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match bytes {
            Some(b) => super::b64::serialize(b, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        #[derive(Deserialize)]
        struct Wrap(#[serde(with = "super::b64")] Vec<u8>);
        Ok(Option::<Wrap>::deserialize(d)?.map(|w| w.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evidence_round_trips_and_encodes_bytes_as_base64() {
        let ev = Evidence {
            nonce: vec![1, 2, 3],
            quote: vec![0xff; 4],
            signature: vec![],
            pcrs: BTreeMap::from([(
                "sha256".into(),
                BTreeMap::from([(0, "00".repeat(32).into())]),
            )]),
            event_log: Some(b"log".to_vec()),
            ima: Some(ImaEvidence {
                offset: 7,
                entries: vec![9],
            }),
        };
        let json = serde_json::to_string(&ev).unwrap();
        assert!(json.contains(r#""nonce":"AQID""#), "{json}");
        assert!(json.contains(r#""event_log":"bG9n""#), "{json}");
        assert_eq!(serde_json::from_str::<Evidence>(&json).unwrap(), ev);
        let bare: Evidence =
            serde_json::from_str(r#"{"nonce":"","quote":"","signature":"","pcrs":{}}"#).unwrap();
        assert_eq!(bare.event_log, None);
        assert_eq!(bare.ima, None);
    }

    #[test]
    fn bad_base64_is_a_clear_error() {
        let err = serde_json::from_str::<ActivateRequest>(r#"{"proof":"***"}"#).unwrap_err();
        assert!(err.to_string().contains("invalid base64"), "{err}");
    }
}
