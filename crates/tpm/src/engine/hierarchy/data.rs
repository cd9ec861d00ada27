//! The hierarchy and dictionary-attack state, and its place in the state
//! blob.
//!
//! Permanent (NV) data follows the reference PERSISTENT_DATA: the owner,
//! endorsement and lockout authPolicies (Part 3 §24.4), disableClear
//! (§24.7), and the dictionary-attack values failedTries, maxTries,
//! recoveryTime, lockoutRecovery and lockoutAuthEnabled (Part 1 §19.8.6).
//! The platform authPolicy is STATE_CLEAR data like platformAuth: it lives
//! in [`HierarchyVol`], is emptied by every Startup(CLEAR) and survives only
//! a Shutdown(STATE)/Startup(STATE) pair, for which it is parked in
//! [`HierarchyPerm::saved_platform_policy`].

use crate::crypto::HashAlg;
use crate::wire::{Codec, Reader, WireError};

/// The dictionary-attack values a TPM leaves manufacturing with and
/// TPM2_Clear restores (reference DAPreInstall_Init, as libtpms): three
/// tries, one try regained every 1000 s, lockoutAuth usable again 1000 s
/// after a failure.
pub(crate) const DEFAULT_MAX_TRIES: u32 = 3;
pub(crate) const DEFAULT_RECOVERY_TIME: u32 = 1000;
pub(crate) const DEFAULT_LOCKOUT_RECOVERY: u32 = 1000;

/// Layout version of the encoded [`HierarchyPerm`] (inside its blob field).
const VERSION: u8 = 1;

/// An authorization policy set with TPM2_SetPrimaryPolicy: the policy's
/// hash algorithm and digest. An Empty Buffer policy is represented by the
/// absence of an `AuthPolicy` (Part 3 §24.4: a zero-size policy means the
/// hierarchy has none, and its hash is then TPM_ALG_NULL).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct AuthPolicy {
    pub alg: HashAlg,
    pub digest: Vec<u8>,
}

impl AuthPolicy {
    /// TPMT_HA-like encoding of an optional policy: hashAlg (TPM_ALG_NULL
    /// for none) and a sized digest whose size must match the hash.
    fn encode_opt(p: &Option<AuthPolicy>, out: &mut Vec<u8>) {
        match p {
            Some(p) => {
                p.alg.id().encode(out);
                (p.digest.len() as u16).encode(out);
                out.extend_from_slice(&p.digest);
            }
            None => {
                crate::constants::alg::NULL.encode(out);
                0u16.encode(out);
            }
        }
    }

    fn decode_opt(r: &mut Reader<'_>) -> Result<Option<AuthPolicy>, WireError> {
        let id = r.u16()?;
        let n = usize::from(r.u16()?);
        let digest = r.take(n)?.to_vec();
        if id == crate::constants::alg::NULL {
            return if n == 0 {
                Ok(None)
            } else {
                Err(WireError::Size)
            };
        }
        let alg = HashAlg::from_id(id).ok_or(WireError::Hash)?;
        if n != alg.digest_size() {
            return Err(WireError::Size);
        }
        Ok(Some(AuthPolicy { alg, digest }))
    }
}

/// The dictionary-attack values (reference gp.failedTries ...), in the
/// units TPM2_DictionaryAttackParameters uses: tries and seconds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct DaParams {
    /// Authorization failures counted against DA-protected entities.
    pub failed_tries: u32,
    /// failedTries at which the TPM is in lockout (TPM_PT_MAX_AUTH_FAIL).
    pub max_tries: u32,
    /// Seconds after which failedTries is decremented (TPM_PT_LOCKOUT_INTERVAL);
    /// 0 disables dictionary-attack protection.
    pub recovery_time: u32,
    /// Seconds after a lockoutAuth failure before lockoutAuth may be used
    /// again (TPM_PT_LOCKOUT_RECOVERY); 0 means only after a Startup.
    pub lockout_recovery: u32,
    /// Whether lockoutAuth may be used (cleared by a failed lockoutAuth).
    pub lockout_auth_enabled: bool,
}

impl Default for DaParams {
    fn default() -> Self {
        DaParams {
            failed_tries: 0,
            max_tries: DEFAULT_MAX_TRIES,
            recovery_time: DEFAULT_RECOVERY_TIME,
            lockout_recovery: DEFAULT_LOCKOUT_RECOVERY,
            lockout_auth_enabled: true,
        }
    }
}

/// The hierarchy part of the permanent state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct HierarchyPerm {
    pub owner_policy: Option<AuthPolicy>,
    pub endorsement_policy: Option<AuthPolicy>,
    pub lockout_policy: Option<AuthPolicy>,
    /// TPMA_PERMANENT.disableClear (TPM2_ClearControl).
    pub disable_clear: bool,
    pub da: DaParams,
    /// The reference orderlyState SU_DA_USED: a DA-protected entity was
    /// authorized since the last Startup or Shutdown, so a power loss now
    /// may have hidden a failure and the next Startup counts one
    /// (USE_DA_USED, as libtpms builds it).
    pub da_used: bool,
    /// Milliseconds since the self-healing and lockoutAuth timers started,
    /// as of the last TPM2_Shutdown: an orderly shutdown keeps this credit
    /// (ACCUMULATE_SELF_HEAL_TIMER, as libtpms), a power loss loses it.
    pub heal_credit_ms: i64,
    pub lockout_credit_ms: i64,
    /// platformPolicy saved by TPM2_Shutdown(STATE) for TPM Resume.
    pub saved_platform_policy: Option<AuthPolicy>,
}

impl Codec for HierarchyPerm {
    fn encode(&self, out: &mut Vec<u8>) {
        VERSION.encode(out);
        AuthPolicy::encode_opt(&self.owner_policy, out);
        AuthPolicy::encode_opt(&self.endorsement_policy, out);
        AuthPolicy::encode_opt(&self.lockout_policy, out);
        self.disable_clear.encode(out);
        self.da.failed_tries.encode(out);
        self.da.max_tries.encode(out);
        self.da.recovery_time.encode(out);
        self.da.lockout_recovery.encode(out);
        self.da.lockout_auth_enabled.encode(out);
        self.da_used.encode(out);
        (self.heal_credit_ms as u64).encode(out);
        (self.lockout_credit_ms as u64).encode(out);
        AuthPolicy::encode_opt(&self.saved_platform_policy, out);
    }

    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        if r.u8()? != VERSION {
            return Err(WireError::Value);
        }
        Ok(HierarchyPerm {
            owner_policy: AuthPolicy::decode_opt(r)?,
            endorsement_policy: AuthPolicy::decode_opt(r)?,
            lockout_policy: AuthPolicy::decode_opt(r)?,
            disable_clear: bool::decode(r)?,
            da: DaParams {
                failed_tries: r.u32()?,
                max_tries: r.u32()?,
                recovery_time: r.u32()?,
                lockout_recovery: r.u32()?,
                lockout_auth_enabled: bool::decode(r)?,
            },
            da_used: bool::decode(r)?,
            heal_credit_ms: r.u64()? as i64,
            lockout_credit_ms: r.u64()? as i64,
            saved_platform_policy: AuthPolicy::decode_opt(r)?,
        })
    }
}

/// The hierarchy part of the volatile state (lost at _TPM_Init).
#[derive(Clone, Debug, Default)]
pub(crate) struct HierarchyVol {
    /// platformPolicy (STATE_CLEAR data, reference gc.platformPolicy).
    pub platform_policy: Option<AuthPolicy>,
    /// Time (ms since _TPM_Init) from which failedTries heals (reference
    /// s_selfHealTimer); negative when credit was carried over.
    pub heal_timer: i64,
    /// Time of the last lockoutAuth failure (reference s_lockoutTimer).
    pub lockout_timer: i64,
    /// The reference g_daUsed: a DA-protected authorization has already
    /// been recorded in [`HierarchyPerm::da_used`] during this cycle.
    pub da_used: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> HierarchyPerm {
        HierarchyPerm {
            owner_policy: Some(AuthPolicy {
                alg: HashAlg::Sha256,
                digest: vec![7; 32],
            }),
            endorsement_policy: None,
            lockout_policy: Some(AuthPolicy {
                alg: HashAlg::Sha1,
                digest: vec![1; 20],
            }),
            disable_clear: true,
            da: DaParams {
                failed_tries: 2,
                max_tries: 5,
                recovery_time: 0,
                lockout_recovery: 7,
                lockout_auth_enabled: false,
            },
            da_used: true,
            heal_credit_ms: -5,
            lockout_credit_ms: 123_456,
            saved_platform_policy: Some(AuthPolicy {
                alg: HashAlg::Sha384,
                digest: vec![3; 48],
            }),
        }
    }

    #[test]
    fn round_trip() {
        let h = sample();
        let bytes = h.to_bytes();
        assert_eq!(HierarchyPerm::from_bytes(&bytes).expect("decodes"), h);
        let d = HierarchyPerm::default();
        assert_eq!(
            HierarchyPerm::from_bytes(&d.to_bytes()).expect("decodes"),
            d
        );
    }

    #[test]
    fn malformed_is_refused() {
        let bytes = sample().to_bytes();
        for n in 0..bytes.len() {
            assert!(HierarchyPerm::from_bytes(&bytes[..n]).is_err(), "cut {n}");
        }
        // A digest whose size does not match its hash.
        let mut bad = HierarchyPerm::default().to_bytes();
        bad[1..5].copy_from_slice(&[0x00, 0x0B, 0x00, 0x01]);
        bad.insert(5, 0xAA);
        assert!(HierarchyPerm::from_bytes(&bad).is_err());
        // Unknown layout version.
        let mut v = sample().to_bytes();
        v[0] = 9;
        assert!(HierarchyPerm::from_bytes(&v).is_err());
    }
}
