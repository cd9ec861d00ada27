//! EAT Attestation Results (draft-ietf-rats-ear) as JWTs signed with ES256
//! (RFC 7515 / RFC 7518 §3.4: the signature is r || s, 32 bytes each), so
//! relying parties can consume the verifier's verdicts with Veraison's
//! tooling.
//!
//! Claims: `eat_profile` "tag:github.com,2023:veraison/ear", `iat`,
//! `ear.verifier-id` {developer, build}, and `submods` keyed by node id,
//! each with `ear.status` (none | affirming | warning | contraindicated),
//! `ear.appraisal-policy-id` and `ear.trustworthiness-vector` (AR4SI
//! claims, draft-ietf-rats-ar4si §2.3: 0 = no claim, 2 = affirming,
//! 32..=95 warning, 96..=127 contraindicated).

use std::collections::BTreeMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use rand_core::CryptoRngCore;
use serde::{Deserialize, Serialize};

use crate::appraise::Appraisal;
use crate::failure::Failure;

/// The EAR profile this crate emits.
pub const EAR_PROFILE: &str = "tag:github.com,2023:veraison/ear";

/// `ear.status` (tiers of draft-ietf-rats-ar4si).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EarStatus {
    None,
    Affirming,
    Warning,
    Contraindicated,
}

/// `ear.verifier-id`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifierId {
    pub developer: String,
    pub build: String,
}

/// `ear.trustworthiness-vector` (AR4SI claims; absent = no claim).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct TrustVector {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_identity: Option<i8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configuration: Option<i8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executables: Option<i8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_system: Option<i8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hardware: Option<i8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime_opaque: Option<i8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_opaque: Option<i8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sourced_data: Option<i8>,
}

impl TrustVector {
    /// AR4SI claims from an appraisal: instance-identity and hardware from
    /// the quote (2 = the AK-signed quote verified; `hardware_root` false —
    /// a software TPM stand-in — gives hardware 32, "unsafe"); executables
    /// from boot applications / kernel / IMA (33 = unrecognized);
    /// configuration from PCR values, Secure Boot, command line (96 =
    /// contraindicated).
    pub fn from_appraisal(a: &Appraisal, hardware_root: bool) -> TrustVector {
        let quote_ok = a.quote.is_some()
            && !a.failures.iter().any(|f| {
                matches!(
                    f,
                    Failure::PcrDigestMismatch { .. } | Failure::PcrValuesMalformed(_)
                )
            });
        let exe_bad = a.failures.iter().any(|f| {
            matches!(
                f,
                Failure::BootApplicationNotAllowed { .. }
                    | Failure::InitrdNotAllowed { .. }
                    | Failure::ImaFileNotInPolicy { .. }
                    | Failure::ImaDigestNotAllowed { .. }
                    | Failure::ImaViolation { .. }
            )
        });
        let cfg_bad = a.failures.iter().any(|f| {
            matches!(
                f,
                Failure::PcrNotAllowed { .. }
                    | Failure::SecureBoot { .. }
                    | Failure::KernelCmdlineNotAllowed(_)
                    | Failure::KernelCmdlineDigestNotAllowed { .. }
                    | Failure::KernelCmdlineMissing
                    | Failure::EventLogMismatch { .. }
                    | Failure::ImaBootAggregate { .. }
            )
        });
        TrustVector {
            instance_identity: Some(if quote_ok { 2 } else { 96 }),
            hardware: Some(match (quote_ok, hardware_root) {
                (false, _) => 96,
                (true, true) => 2,
                (true, false) => 32,
            }),
            executables: Some(if exe_bad { 33 } else { 2 }),
            configuration: Some(if cfg_bad { 96 } else { 2 }),
            ..TrustVector::default()
        }
    }

    /// The worst tier of the claims.
    pub fn status(&self) -> EarStatus {
        let claims = [
            self.instance_identity,
            self.configuration,
            self.executables,
            self.file_system,
            self.hardware,
            self.runtime_opaque,
            self.storage_opaque,
            self.sourced_data,
        ];
        let worst = claims
            .iter()
            .flatten()
            .map(|&c| match c {
                96..=127 | -128..=-1 => 3,
                32..=95 => 2,
                2..=31 => 1,
                _ => 0,
            })
            .max()
            .unwrap_or(0);
        match worst {
            3 => EarStatus::Contraindicated,
            2 => EarStatus::Warning,
            1 => EarStatus::Affirming,
            _ => EarStatus::None,
        }
    }
}

/// One submodule's appraisal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Submod {
    #[serde(rename = "ear.status")]
    pub status: EarStatus,
    #[serde(
        rename = "ear.appraisal-policy-id",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub policy_id: Option<String>,
    #[serde(
        rename = "ear.trustworthiness-vector",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub trust_vector: Option<TrustVector>,
}

impl Submod {
    /// The submodule for one node's latest appraisal: status from the
    /// trustworthiness vector, but never better than contraindicated when
    /// the appraisal failed (every failure is a policy violation).
    pub fn from_appraisal(a: &Appraisal, policy_id: &str, hardware_root: bool) -> Submod {
        let tv = TrustVector::from_appraisal(a, hardware_root);
        let status = if a.passed {
            tv.status()
        } else {
            EarStatus::Contraindicated
        };
        Submod {
            status,
            policy_id: Some(policy_id.to_string()),
            trust_vector: Some(tv),
        }
    }
}

/// The EAR claims set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ear {
    pub eat_profile: String,
    /// Issued at, Unix seconds.
    pub iat: i64,
    #[serde(rename = "ear.verifier-id")]
    pub verifier_id: VerifierId,
    pub submods: BTreeMap<String, Submod>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eat_nonce: Option<String>,
}

impl Ear {
    /// An EAR with one submodule per node.
    pub fn new(iat: i64, verifier_id: VerifierId) -> Ear {
        Ear {
            eat_profile: EAR_PROFILE.into(),
            iat,
            verifier_id,
            submods: BTreeMap::new(),
            eat_nonce: None,
        }
    }
}

/// Why a token did not verify.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EarError {
    #[error("EAR token is not a three-part JWS compact serialization")]
    Format,
    #[error("EAR token header is not ES256: {0}")]
    Header(String),
    #[error("EAR token signature does not verify")]
    Signature,
    #[error("EAR claims are malformed: {0}")]
    Claims(String),
    #[error("EAR key is invalid: {0}")]
    Key(String),
}

#[derive(Serialize, Deserialize)]
struct Header {
    alg: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    typ: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kid: Option<String>,
}

/// The verifier's EAR signing key (P-256).
#[derive(Clone)]
pub struct EarSigner {
    key: SigningKey,
    kid: String,
}

impl std::fmt::Debug for EarSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EarSigner(kid {})", self.kid)
    }
}

fn kid_of(vk: &VerifyingKey) -> String {
    let point = vk.to_encoded_point(false);
    let d = tpm::crypto::HashAlg::Sha256.digest(&[point.as_bytes()]);
    URL_SAFE_NO_PAD.encode(d.get(..16).unwrap_or(&d))
}

impl EarSigner {
    pub fn generate<R: CryptoRngCore>(rng: &mut R) -> EarSigner {
        Self::from_key(SigningKey::random(rng))
    }

    fn from_key(key: SigningKey) -> EarSigner {
        let kid = kid_of(key.verifying_key());
        EarSigner { key, kid }
    }

    /// From the 32-byte private scalar.
    pub fn from_bytes(secret: &[u8]) -> Result<EarSigner, EarError> {
        SigningKey::from_slice(secret)
            .map(Self::from_key)
            .map_err(|e| EarError::Key(e.to_string()))
    }

    /// The 32-byte private scalar (store it 0600).
    pub fn to_bytes(&self) -> zeroize::Zeroizing<Vec<u8>> {
        zeroize::Zeroizing::new(self.key.to_bytes().to_vec())
    }

    /// From a PKCS#8 PEM private key (`-----BEGIN PRIVATE KEY-----`).
    pub fn from_pkcs8_pem(pem: &str) -> Result<EarSigner, EarError> {
        use p256::pkcs8::DecodePrivateKey;
        SigningKey::from_pkcs8_pem(pem)
            .map(Self::from_key)
            .map_err(|e| EarError::Key(e.to_string()))
    }

    /// As PKCS#8 PEM.
    pub fn to_pkcs8_pem(&self) -> Result<zeroize::Zeroizing<String>, EarError> {
        use p256::pkcs8::{EncodePrivateKey, LineEnding};
        self.key
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| EarError::Key(e.to_string()))
    }

    /// The key id (`kid`) tokens carry: base64url of the first 16 bytes of
    /// SHA-256 of the uncompressed public point.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn verifier(&self) -> EarVerifier {
        EarVerifier {
            key: *self.key.verifying_key(),
            kid: self.kid.clone(),
        }
    }

    /// Signs the claims as a compact JWS.
    pub fn sign(&self, ear: &Ear) -> Result<String, EarError> {
        let header = Header {
            alg: "ES256".into(),
            typ: Some("JWT".into()),
            kid: Some(self.kid.clone()),
        };
        let h = serde_json::to_vec(&header).map_err(|e| EarError::Claims(e.to_string()))?;
        let c = serde_json::to_vec(ear).map_err(|e| EarError::Claims(e.to_string()))?;
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(h),
            URL_SAFE_NO_PAD.encode(c)
        );
        let sig: Signature = self.key.sign(signing_input.as_bytes());
        Ok(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(sig.to_bytes())
        ))
    }

    /// The public key as a JWK (for `GET /v1/ear/jwks`: wrap in {"keys": [..]}).
    pub fn jwk(&self) -> serde_json::Value {
        self.verifier().jwk()
    }
}

/// Verifies EAR tokens with the verifier's public key.
#[derive(Clone, Debug)]
pub struct EarVerifier {
    key: VerifyingKey,
    kid: String,
}

impl EarVerifier {
    /// From a JWK ({"kty":"EC","crv":"P-256","x":..,"y":..}).
    pub fn from_jwk(jwk: &serde_json::Value) -> Result<EarVerifier, EarError> {
        let field = |k: &str| {
            jwk.get(k)
                .and_then(|v| v.as_str())
                .ok_or_else(|| EarError::Key(format!("JWK has no {k}")))
        };
        if field("kty")? != "EC" || field("crv")? != "P-256" {
            return Err(EarError::Key("not an EC P-256 JWK".into()));
        }
        let x = URL_SAFE_NO_PAD
            .decode(field("x")?)
            .map_err(|e| EarError::Key(e.to_string()))?;
        let y = URL_SAFE_NO_PAD
            .decode(field("y")?)
            .map_err(|e| EarError::Key(e.to_string()))?;
        if x.len() != 32 || y.len() != 32 {
            return Err(EarError::Key("JWK coordinates are not 32 bytes".into()));
        }
        let mut sec1 = vec![4u8];
        sec1.extend_from_slice(&x);
        sec1.extend_from_slice(&y);
        let key = VerifyingKey::from_sec1_bytes(&sec1).map_err(|e| EarError::Key(e.to_string()))?;
        Ok(EarVerifier {
            kid: kid_of(&key),
            key,
        })
    }

    pub fn jwk(&self) -> serde_json::Value {
        let p = self.key.to_encoded_point(false);
        let x = p.x().map(|x| URL_SAFE_NO_PAD.encode(x)).unwrap_or_default();
        let y = p.y().map(|y| URL_SAFE_NO_PAD.encode(y)).unwrap_or_default();
        serde_json::json!({
            "kty": "EC", "crv": "P-256", "x": x, "y": y,
            "alg": "ES256", "use": "sig", "kid": self.kid,
        })
    }

    /// Verifies a token and returns its claims.
    pub fn verify(&self, token: &str) -> Result<Ear, EarError> {
        let mut parts = token.split('.');
        let (Some(h), Some(c), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(EarError::Format);
        };
        let header: Header = URL_SAFE_NO_PAD
            .decode(h)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or(EarError::Format)?;
        if header.alg != "ES256" {
            return Err(EarError::Header(header.alg));
        }
        let sig = URL_SAFE_NO_PAD.decode(s).map_err(|_| EarError::Format)?;
        let sig = Signature::from_slice(&sig).map_err(|_| EarError::Signature)?;
        let signing_input = token.get(..h.len() + 1 + c.len()).ok_or(EarError::Format)?;
        self.key
            .verify(signing_input.as_bytes(), &sig)
            .map_err(|_| EarError::Signature)?;
        let claims = URL_SAFE_NO_PAD.decode(c).map_err(|_| EarError::Format)?;
        let ear: Ear =
            serde_json::from_slice(&claims).map_err(|e| EarError::Claims(e.to_string()))?;
        if ear.eat_profile != EAR_PROFILE {
            return Err(EarError::Claims(format!(
                "eat_profile {:?}",
                ear.eat_profile
            )));
        }
        Ok(ear)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ear_signs_verifies_and_rejects_tampering() {
        let signer = EarSigner::from_bytes(&[7u8; 32]).unwrap();
        let mut ear = Ear::new(
            1_700_000_000,
            VerifierId {
                developer: "trustcloud".into(),
                build: "0.1.0".into(),
            },
        );
        let tv = TrustVector {
            instance_identity: Some(2),
            hardware: Some(2),
            executables: Some(33),
            ..Default::default()
        };
        assert_eq!(tv.status(), EarStatus::Warning);
        ear.submods.insert(
            "node-1".into(),
            Submod {
                status: tv.status(),
                policy_id: Some("web".into()),
                trust_vector: Some(tv),
            },
        );
        let token = signer.sign(&ear).unwrap();
        let claims: serde_json::Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(token.split('.').nth(1).unwrap())
                .unwrap(),
        )
        .unwrap();
        assert_eq!(claims["eat_profile"], EAR_PROFILE);
        assert_eq!(claims["submods"]["node-1"]["ear.status"], "warning");
        assert_eq!(
            claims["submods"]["node-1"]["ear.trustworthiness-vector"]["executables"],
            33
        );
        assert_eq!(claims["ear.verifier-id"]["developer"], "trustcloud");

        let v = EarVerifier::from_jwk(&signer.jwk()).unwrap();
        assert_eq!(v.verify(&token).unwrap(), ear);
        // Another key, a changed claim, a changed signature: refused.
        let other = EarSigner::from_bytes(&[8u8; 32]).unwrap().verifier();
        assert_eq!(other.verify(&token), Err(EarError::Signature));
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        parts[1] = URL_SAFE_NO_PAD
            .encode(serde_json::to_vec(&serde_json::json!({"eat_profile": EAR_PROFILE})).unwrap());
        assert_eq!(v.verify(&parts.join(".")), Err(EarError::Signature));
        assert_eq!(v.verify("a.b"), Err(EarError::Format));
        // PEM round trip keeps the key.
        let pem = signer.to_pkcs8_pem().unwrap();
        assert_eq!(EarSigner::from_pkcs8_pem(&pem).unwrap().kid(), signer.kid());
    }
}
