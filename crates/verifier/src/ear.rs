//! EAR attestation-result tokens (draft-ietf-rats-ear) signed ES256 with
//! `DATA/ear.key` (attest::ear; the key is generated on first start and
//! kept 0600). Relying parties fetch the public key from `GET /v1/ear/jwks`.

use std::path::Path;

use attest::ear::{Ear, EarStatus, Submod, TrustVector, VerifierId};
use attest::protocol::NodeState;

use crate::fsutil::write_secret;
use crate::storage::AgentRecord;

#[derive(Debug, thiserror::Error)]
pub enum EarError {
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
    #[error("EAR: {0}")]
    Ear(#[from] attest::ear::EarError),
}

/// The verifier's EAR signing key and identity.
pub struct EarSigner {
    signer: attest::ear::EarSigner,
    verifier_id: String,
}

impl std::fmt::Debug for EarSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EarSigner")
            .field("kid", &self.signer.kid())
            .finish()
    }
}

impl EarSigner {
    /// Loads `path` (PKCS#8 PEM), creating a new P-256 key when absent.
    pub fn load_or_create(path: &Path, verifier_id: &str) -> Result<EarSigner, EarError> {
        let name = path.display().to_string();
        let signer = if path.exists() {
            let pem = std::fs::read_to_string(path).map_err(|e| EarError::Io(name.clone(), e))?;
            attest::ear::EarSigner::from_pkcs8_pem(&pem)?
        } else {
            let s = attest::ear::EarSigner::generate(&mut rand::rngs::OsRng);
            let pem = s.to_pkcs8_pem()?;
            write_secret(path, pem.as_bytes()).map_err(|e| EarError::Io(name, e))?;
            s
        };
        Ok(EarSigner {
            signer,
            verifier_id: verifier_id.to_string(),
        })
    }

    /// JWK Set (RFC 7517) with the one public key.
    pub fn jwks(&self) -> serde_json::Value {
        serde_json::json!({ "keys": [self.signer.jwk()] })
    }

    pub fn verifier(&self) -> attest::ear::EarVerifier {
        self.signer.verifier()
    }
}

/// A signed EAR for one node's current state: one submodule named by the
/// node id, its status from the state (trusted → affirming, failed →
/// contraindicated, otherwise none) and the last appraisal's vector.
pub fn token_for(s: &EarSigner, a: &AgentRecord) -> Result<String, EarError> {
    let iat = crate::storage::now_ms() / 1000;
    let mut ear = Ear::new(
        iat,
        VerifierId {
            developer: "trustcloud".into(),
            build: format!(
                "trustcloud-verifier {} ({})",
                env!("CARGO_PKG_VERSION"),
                s.verifier_id
            ),
        },
    );
    let vector: Option<TrustVector> = a
        .trust_vector
        .as_deref()
        .and_then(|v| serde_json::from_str(v).ok());
    let status = match a.status.state {
        NodeState::Trusted => vector
            .as_ref()
            .map(|v| v.status())
            .filter(|s| *s != EarStatus::None)
            .unwrap_or(EarStatus::Affirming),
        NodeState::Failed => EarStatus::Contraindicated,
        _ => EarStatus::None,
    };
    let vector = match a.status.state {
        NodeState::Trusted | NodeState::Failed => vector,
        _ => None,
    };
    ear.submods.insert(
        a.id.clone(),
        Submod {
            status,
            policy_id: a.policy.clone(),
            trust_vector: vector,
        },
    );
    Ok(s.signer.sign(&ear)?)
}
