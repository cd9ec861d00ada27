//! Attestation policies: what a node's evidence must show to be trusted.
//!
//! A [`Policy`] (JSON, `PUT /v1/policies/{name}`) combines
//! - PCR reference values: per bank and index, the allowed values;
//! - a [`MeasuredBootPolicy`] over the parsed firmware event log (TCG PC
//!   Client PFP): allowed boot applications and kernels by the
//!   Authenticode digest the firmware measured for
//!   `EV_EFI_BOOT_SERVICES_APPLICATION` (PFP §10.4.4, PCR 4), the kernel
//!   command line (grub's `EV_IPL` "kernel_cmdline: ..." text in PCR 8, or
//!   the digest of the `LOADED_IMAGE::LoadOptions` `EV_EVENT_TAG` the Linux
//!   EFI stub writes to PCR 9), the initrd digest (the stub's "Linux
//!   initrd" tag), the Secure Boot state (`EV_EFI_VARIABLE_DRIVER_CONFIG`
//!   of `SecureBoot`, PFP §10.4.4 / PCR 7) and the PCRs that must replay to
//!   the quoted values;
//! - a Keylime runtime policy for IMA ([`RuntimePolicy`]).
//!
//! `MeasuredBootPolicy::generate_from` derives the reference from a
//! known-good log.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use tpm::crypto::HashAlg;

use crate::eventlog::{event_type, Event, EventLog};
use crate::failure::{hex, Failure};
use crate::ima::IMA_PCR;
use crate::memo::Memo;
use crate::pcrs::{hex_decode, hex_matches};
use crate::runtime_policy::RuntimePolicy;

/// A node's attestation policy.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Policy {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// PCR reference values: bank name → PCR index → allowed values (hex).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pcrs: BTreeMap<String, BTreeMap<u32, Vec<String>>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measured_boot: Option<MeasuredBootPolicy>,
    /// IMA runtime policy in Keylime's format.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<RuntimePolicy>,
}

fn default_bank() -> String {
    "sha256".into()
}

/// Checks over the parsed firmware event log. `None` fields are not
/// checked; an empty list allows nothing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeasuredBootPolicy {
    /// Bank whose event digests the lists below hold.
    #[serde(default = "default_bank")]
    pub bank: String,
    /// Allowed digests of every EV_EFI_BOOT_SERVICES_APPLICATION (boot
    /// loaders, shim, grub, a directly booted kernel).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot_applications: Option<Vec<String>>,
    /// Allowed kernel command lines as grub measures them (EV_IPL text
    /// after "kernel_cmdline: ").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel_cmdlines: Option<Vec<String>>,
    /// Allowed digests of the Linux EFI stub's LoadOptions event (the
    /// command line of a kernel booted directly by the firmware).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_options_digests: Option<Vec<String>>,
    /// Allowed digests of the Linux EFI stub's initrd event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initrd_digests: Option<Vec<String>>,
    /// Required Secure Boot state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secure_boot: Option<bool>,
    /// PCRs (in `bank`) the quote must cover and the log must replay to.
    #[serde(default)]
    pub replay_pcrs: Vec<u32>,
    /// [`Self::fingerprint`], derived once: every round compares it (twice)
    /// with the one the boot log passed under, and deriving it serializes
    /// and hashes the whole policy.
    #[serde(skip)]
    fingerprint: Memo<String>,
}

impl Default for MeasuredBootPolicy {
    fn default() -> Self {
        MeasuredBootPolicy {
            bank: default_bank(),
            boot_applications: None,
            kernel_cmdlines: None,
            load_options_digests: None,
            initrd_digests: None,
            secure_boot: None,
            replay_pcrs: Vec::new(),
            fingerprint: Memo::default(),
        }
    }
}

/// Tagged event IDs of the Linux EFI stub (drivers/firmware/efi/libstub:
/// LINUX_EFI_INITRD_MEASUREMENT_TAG_ID, LINUX_EFI_LOAD_OPTIONS_MEASUREMENT_TAG_ID)
/// as they appear in OVMF logs of a 6.1 kernel.
pub const TAG_LINUX_INITRD: u32 = 0x8F3B_22EC;
pub const TAG_LINUX_LOAD_OPTIONS: u32 = 0x8F3B_22ED;
/// EFI_GLOBAL_VARIABLE, in the byte order of UEFI_VARIABLE_DATA.VariableName GUID.
const EFI_GLOBAL_VARIABLE: [u8; 16] = [
    0x61, 0xdf, 0xe4, 0x8b, 0xca, 0x93, 0xd2, 0x11, 0xaa, 0x0d, 0x00, 0xe0, 0x98, 0x03, 0x2b, 0x8c,
];
/// The grub EV_IPL prefix of a kernel command line.
const GRUB_CMDLINE: &str = "kernel_cmdline: ";

/// What the measured-boot checks read from a log.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BootFacts {
    /// (PCR, digest) of every EV_EFI_BOOT_SERVICES_APPLICATION.
    pub boot_applications: Vec<(u32, Vec<u8>)>,
    pub kernel_cmdlines: Vec<String>,
    pub load_options_digests: Vec<Vec<u8>>,
    pub initrd_digests: Vec<Vec<u8>>,
    /// The SecureBoot variable's value (None: not measured).
    pub secure_boot: Option<bool>,
}

impl BootFacts {
    /// Extracts the facts from `log` with digests of `bank`.
    pub fn from_log(log: &EventLog, bank: HashAlg) -> BootFacts {
        let mut f = BootFacts::default();
        for e in &log.events {
            let digest = e.digest(bank).map(<[u8]>::to_vec);
            match e.event_type {
                event_type::EV_EFI_BOOT_SERVICES_APPLICATION => {
                    if let Some(d) = digest {
                        f.boot_applications.push((e.pcr_index, d));
                    }
                }
                event_type::EV_IPL => {
                    if let Some(c) = grub_cmdline(e) {
                        f.kernel_cmdlines.push(c);
                    }
                }
                event_type::EV_EVENT_TAG => match (tag_id(e), digest) {
                    (Some(TAG_LINUX_LOAD_OPTIONS), Some(d)) => f.load_options_digests.push(d),
                    (Some(TAG_LINUX_INITRD), Some(d)) => f.initrd_digests.push(d),
                    _ => {}
                },
                event_type::EV_EFI_VARIABLE_DRIVER_CONFIG => {
                    if let Some(v) = secure_boot_value(e) {
                        f.secure_boot = Some(v);
                    }
                }
                _ => {}
            }
        }
        f
    }
}

fn grub_cmdline(e: &Event) -> Option<String> {
    let text = std::str::from_utf8(&e.data).ok()?;
    let text = text.trim_end_matches('\0');
    text.strip_prefix(GRUB_CMDLINE).map(str::to_owned)
}

/// TCG_PCClientTaggedEvent.taggedEventID (PFP §10.4.2.1).
fn tag_id(e: &Event) -> Option<u32> {
    let (id, _) = e.data.split_first_chunk::<4>()?;
    Some(u32::from_le_bytes(*id))
}

/// UEFI_VARIABLE_DATA (PFP §10.4.4): GUID, name length (UTF-16 units),
/// data length, name, data. `SecureBoot` of EFI_GLOBAL_VARIABLE, one byte.
fn secure_boot_value(e: &Event) -> Option<bool> {
    let (guid, rest) = e.data.split_first_chunk::<16>()?;
    if guid != &EFI_GLOBAL_VARIABLE {
        return None;
    }
    let (name_len, rest) = rest.split_first_chunk::<8>()?;
    let (data_len, rest) = rest.split_first_chunk::<8>()?;
    let name_bytes = usize::try_from(u64::from_le_bytes(*name_len))
        .ok()?
        .checked_mul(2)?;
    let data_len = usize::try_from(u64::from_le_bytes(*data_len)).ok()?;
    let (name, data) = rest.split_at_checked(name_bytes)?;
    let want: Vec<u8> = "SecureBoot"
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    if name != want.as_slice() {
        return None;
    }
    match data.get(..data_len)? {
        [] => Some(false),
        d => Some(d.iter().any(|&b| b != 0)),
    }
}

fn allowed(list: &[String], value: &[u8]) -> bool {
    list.iter().any(|a| hex_matches(a, value))
}

impl MeasuredBootPolicy {
    /// SHA-256 (hex) of the policy's canonical JSON: identifies the exact
    /// rules a boot log was checked against.
    /// (Derived once per value; edit a clone, not a policy in use.)
    pub fn fingerprint(&self) -> &str {
        self.fingerprint.get_or_init(|| {
            use sha2::Digest as _;
            let json = serde_json::to_vec(self).unwrap_or_default();
            hex::encode(sha2::Sha256::digest(&json))
        })
    }

    /// The bank of the digests.
    pub fn hash(&self) -> Result<HashAlg, Failure> {
        HashAlg::from_name(&self.bank).ok_or_else(|| {
            Failure::PolicyInvalid(format!("measured-boot bank {:?} is unknown", self.bank))
        })
    }

    /// A reference policy from a known-good log: its boot applications,
    /// command lines, initrd, Secure Boot state, and every PCR it extends
    /// (in the log's SHA-256 bank when it has one).
    pub fn generate_from(log: &EventLog) -> MeasuredBootPolicy {
        let banks = log.banks();
        let bank = if banks.contains(&HashAlg::Sha256) {
            HashAlg::Sha256
        } else {
            banks.first().copied().unwrap_or(HashAlg::Sha256)
        };
        let f = BootFacts::from_log(log, bank);
        let hexes = |v: &[Vec<u8>]| {
            let mut out: Vec<String> = v.iter().map(|d| hex(d)).collect();
            out.dedup();
            out
        };
        let apps: Vec<Vec<u8>> = f.boot_applications.iter().map(|(_, d)| d.clone()).collect();
        let mut replay: Vec<u32> = log
            .events
            .iter()
            .filter(|e| e.is_extended() && e.pcr_index < 17)
            .map(|e| e.pcr_index)
            .collect();
        replay.sort_unstable();
        replay.dedup();
        MeasuredBootPolicy {
            bank: bank.name().into(),
            boot_applications: Some(hexes(&apps)),
            kernel_cmdlines: (!f.kernel_cmdlines.is_empty()).then_some(f.kernel_cmdlines),
            load_options_digests: (!f.load_options_digests.is_empty())
                .then(|| hexes(&f.load_options_digests)),
            initrd_digests: (!f.initrd_digests.is_empty()).then(|| hexes(&f.initrd_digests)),
            secure_boot: f.secure_boot,
            replay_pcrs: replay,
            fingerprint: Memo::default(),
        }
    }

    /// Checks the facts of a log (already replayed against the quote) and
    /// returns every violation.
    pub fn check(&self, log: &EventLog) -> Vec<Failure> {
        let bank = match self.hash() {
            Ok(b) => b,
            Err(e) => return vec![e],
        };
        let f = BootFacts::from_log(log, bank);
        let mut out = Vec::new();
        if let Some(list) = &self.boot_applications {
            for (pcr, d) in &f.boot_applications {
                if !allowed(list, d) {
                    out.push(Failure::BootApplicationNotAllowed {
                        bank: bank.name().into(),
                        digest: hex(d),
                        pcr: *pcr,
                    });
                }
            }
        }
        if let Some(list) = &self.kernel_cmdlines {
            if f.kernel_cmdlines.is_empty() && self.load_options_digests.is_none() {
                out.push(Failure::KernelCmdlineMissing);
            }
            for c in &f.kernel_cmdlines {
                if !list.iter().any(|a| a == c) {
                    out.push(Failure::KernelCmdlineNotAllowed(c.clone()));
                }
            }
        }
        if let Some(list) = &self.load_options_digests {
            if f.load_options_digests.is_empty() && self.kernel_cmdlines.is_none() {
                out.push(Failure::KernelCmdlineMissing);
            }
            for d in &f.load_options_digests {
                if !allowed(list, d) {
                    out.push(Failure::KernelCmdlineDigestNotAllowed {
                        bank: bank.name().into(),
                        digest: hex(d),
                    });
                }
            }
        }
        if let Some(list) = &self.initrd_digests {
            for d in &f.initrd_digests {
                if !allowed(list, d) {
                    out.push(Failure::InitrdNotAllowed {
                        bank: bank.name().into(),
                        digest: hex(d),
                    });
                }
            }
        }
        if let Some(want) = self.secure_boot {
            if f.secure_boot != Some(want) {
                let state = |v: Option<bool>| match v {
                    Some(true) => "enabled",
                    Some(false) => "disabled",
                    None => "not measured",
                };
                out.push(Failure::SecureBoot {
                    expected: state(Some(want)).into(),
                    actual: state(f.secure_boot).into(),
                });
            }
        }
        out
    }
}

impl Policy {
    /// Parses and validates a policy document.
    pub fn from_json(text: &str) -> Result<Policy, Failure> {
        let p: Policy =
            serde_json::from_str(text).map_err(|e| Failure::PolicyInvalid(e.to_string()))?;
        p.validate()?;
        Ok(p)
    }

    /// Checks bank names, indices, hex values and the runtime policy.
    pub fn validate(&self) -> Result<(), Failure> {
        if self.name.is_empty() {
            return Err(Failure::PolicyInvalid("policy has no name".into()));
        }
        for (bank, values) in &self.pcrs {
            let alg = HashAlg::from_name(bank)
                .ok_or_else(|| Failure::PolicyInvalid(format!("unknown PCR bank {bank:?}")))?;
            for (index, list) in values {
                if *index >= 24 {
                    return Err(Failure::PolicyInvalid(format!(
                        "PCR index {index} ({bank})"
                    )));
                }
                for v in list {
                    if hex_decode(v).map(|v| v.len()) != Some(alg.digest_size()) {
                        return Err(Failure::PolicyInvalid(format!(
                            "PCR {index} ({bank}) value {v:?} is not a {}-byte hex digest",
                            alg.digest_size()
                        )));
                    }
                }
            }
        }
        if let Some(mb) = &self.measured_boot {
            mb.hash()?;
            if let Some(p) = mb.replay_pcrs.iter().find(|p| **p >= 24) {
                return Err(Failure::PolicyInvalid(format!("replay PCR {p}")));
            }
        }
        if let Some(rt) = &self.runtime {
            rt.validate()?;
        }
        Ok(())
    }

    /// The PCRs a challenge must ask for (bank name → indices, ascending):
    /// every reference value, the measured-boot replay PCRs, and when a
    /// runtime policy applies PCR 10 in SHA-256 with PCRs 0–9 (IMA's first
    /// entry, `boot_aggregate`, is their digest; see
    /// [`crate::ima::boot_aggregate`]).
    pub fn pcr_selection(&self) -> BTreeMap<String, Vec<u32>> {
        let mut out: BTreeMap<String, Vec<u32>> = BTreeMap::new();
        for (bank, values) in &self.pcrs {
            out.entry(bank.clone())
                .or_default()
                .extend(values.keys().copied());
        }
        if let Some(mb) = &self.measured_boot {
            out.entry(mb.bank.clone())
                .or_default()
                .extend(mb.replay_pcrs.iter().copied());
        }
        if self.runtime.is_some() {
            out.entry("sha256".into()).or_default().extend(0..=IMA_PCR);
        }
        for v in out.values_mut() {
            v.sort_unstable();
            v.dedup();
        }
        out
    }

    /// Whether appraisal needs the firmware event log.
    pub fn needs_event_log(&self) -> bool {
        self.measured_boot.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_json_round_trips_and_validates() {
        let text = r#"{
            "name": "web",
            "pcrs": {"sha256": {"7": ["65caf8dd1e0ea7a6347b635d2b379c93b9a1351edc2afc3ecda700e534eb3068"]}},
            "measured_boot": {"secure_boot": false, "replay_pcrs": [0, 4, 7]},
            "runtime": {"meta": {"version": 1}, "digests": {}, "excludes": ["/tmp/.*"]}
        }"#;
        let p = Policy::from_json(text).unwrap();
        assert_eq!(p.measured_boot.as_ref().unwrap().bank, "sha256");
        let back = Policy::from_json(&serde_json::to_string(&p).unwrap()).unwrap();
        assert_eq!(back, p);
        assert_eq!(
            p.pcr_selection(),
            BTreeMap::from([("sha256".to_string(), (0..=10).collect())])
        );
        let bad = text.replace("65caf8dd", "65caf8");
        assert!(Policy::from_json(&bad).is_err());
        assert!(Policy::from_json(r#"{"name": ""}"#).is_err());
    }
}
