//! The appraisal of one piece of evidence (RFC 9334 "appraisal policy for
//! evidence"), everything the verifier checks per `POST .../evidence`:
//!
//! 1. the evidence's nonce is the challenge's, the quote verifies with the
//!    enrolled AK and carries that nonce ([`crate::quote`]);
//! 2. resetCount / restartCount / clock move forward (TPM 2.0 Part 1
//!    §36.7): a lower resetCount means a TPM (or vTPM state) rolled back
//!    and fails; a higher one is a reboot, which starts a new IMA list;
//! 3. the reported PCR values hash to the quote's pcrDigest ([`crate::pcrs`]);
//!    from here on only quoted values are used;
//! 4. PCR reference values of the policy;
//! 5. the firmware event log, when sent, replays to the quoted PCRs and
//!    passes the measured-boot policy; when not sent, the PCRs it covered
//!    at the last good appraisal must be unchanged (same boot) — else
//!    [`Failure::EventLogMissing`], and the next challenge should ask for it;
//! 6. the IMA list, incrementally from the last verified entry, replays to
//!    the quoted PCR 10 and passes the runtime policy.
//!
//! Steps 1–3 stop the appraisal on failure (nothing later can be trusted);
//! later steps collect every failure.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use tpm::crypto::HashAlg;

use crate::eventlog::{initial_value, EventLog};
use crate::failure::hex;
pub use crate::failure::Failure;
use crate::ima::{boot_aggregate, ImaCheckError, ImaEntry, ImaState, BOOT_AGGREGATE, IMA_PCR};
use crate::pcrs::{hex_matches, is_selected, PcrValues};
use crate::policy::{MeasuredBootPolicy, Policy};
use crate::protocol::Evidence;
use crate::quote::{AkVerifier, QuoteInfo};

/// At most this many failures are reported per appraisal (an IMA list
/// full of unknown files would otherwise produce one per entry).
pub const MAX_FAILURES: usize = 64;

/// PCR values a good boot log replayed to: bank name → index → hex.
pub type BootPcrs = BTreeMap<String, BTreeMap<u32, String>>;

/// What the verifier keeps per agent between appraisals. Serializable so
/// it can be stored as JSON.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentHistory {
    /// Counters of the last authentic quote.
    pub reset_count: u32,
    pub restart_count: u32,
    pub clock: u64,
    /// IMA entries verified in the current boot and their PCR 10 value.
    #[serde(default)]
    pub ima: ImaState,
    /// The PCR values (bank → index → hex) a good event log replayed to in
    /// the current boot; `None` until a log passed. While the quoted
    /// values equal these, the log need not be sent again.
    ///
    /// Shared (`Arc`), as is `boot_policy`: every appraisal starts from a
    /// copy of the history, and these change only when a log is appraised;
    /// owned, the copy was a dozen allocations per round.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot_pcrs: Option<Arc<BootPcrs>>,
    /// Fingerprint of the measured-boot policy the boot log passed under
    /// ([`MeasuredBootPolicy::fingerprint`]): a new or edited policy must
    /// see the log again before unchanged PCRs can stand in for it.
    #[serde(default)]
    pub boot_policy: Option<Arc<str>>,
    /// Appraisals with an authentic quote so far.
    #[serde(default)]
    pub appraisals: u64,
}

impl AgentHistory {
    /// Whether the next challenge should ask for the event log (no log
    /// has passed in this boot yet).
    pub fn needs_event_log(&self) -> bool {
        self.boot_pcrs.is_none()
    }

    /// [`Self::needs_event_log`], and also when the log last passed under
    /// another measured-boot policy than `policy` (assigned or edited since).
    pub fn needs_event_log_for(&self, policy: Option<&MeasuredBootPolicy>) -> bool {
        self.needs_event_log()
            || policy.is_some_and(|m| self.boot_policy.as_deref() != Some(m.fingerprint()))
    }

    /// The IMA entry the next evidence should start at.
    pub fn ima_offset(&self) -> u64 {
        self.ima.count
    }
}

/// Everything one appraisal needs.
#[derive(Clone, Copy, Debug)]
pub struct AppraisalInput<'a> {
    /// The enrolled (and activated) AK.
    pub ak: &'a AkVerifier,
    /// The nonce of the challenge this evidence answers.
    pub expected_nonce: &'a [u8],
    /// `None` for the first evidence after enrollment.
    pub history: Option<&'a AgentHistory>,
    pub evidence: &'a Evidence,
    pub policy: &'a Policy,
}

/// The outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Appraisal {
    pub passed: bool,
    pub failures: Vec<Failure>,
    /// What to store for the next appraisal (counters advance whenever the
    /// quote was authentic; IMA progress and the boot log only when their
    /// checks passed).
    pub new_history: AgentHistory,
    /// The verified quote, when it verified.
    pub quote: Option<QuoteInfo>,
    /// New IMA entries accepted by this appraisal.
    pub ima_entries_verified: u64,
}

impl Appraisal {
    fn stop(history: AgentHistory, failure: Failure, quote: Option<QuoteInfo>) -> Appraisal {
        Appraisal {
            passed: false,
            failures: vec![failure],
            new_history: history,
            quote,
            ima_entries_verified: 0,
        }
    }

    /// The failures as strings (for `AttestationResult::reasons`).
    pub fn reasons(&self) -> Vec<String> {
        self.failures.iter().map(ToString::to_string).collect()
    }
}

/// Appraises one piece of evidence (see the module documentation).
pub fn appraise(input: &AppraisalInput<'_>) -> Appraisal {
    // One copy of the history: the stops before the counters advance
    // return it unchanged.
    let mut h = input.history.cloned().unwrap_or_default();
    let ev = input.evidence;

    if !bool::from(ev.nonce.as_slice().ct_eq(input.expected_nonce)) {
        return Appraisal::stop(h, Failure::EvidenceNonceMismatch, None);
    }
    let quote = match input
        .ak
        .verify_quote(&ev.quote, &ev.signature, input.expected_nonce)
    {
        Ok(q) => q,
        Err(f) => return Appraisal::stop(h, f, None),
    };

    // Counters (Part 1 §36.7).
    if let Some(prev) = input.history {
        if let Some(f) = counters_backwards(prev, &quote) {
            return Appraisal::stop(h, f, Some(quote));
        }
        if quote.reset_count > prev.reset_count {
            // A reboot: a new IMA list and a new boot log.
            h.ima = ImaState::default();
            h.boot_pcrs = None;
        }
    }
    h.reset_count = quote.reset_count;
    h.restart_count = quote.restart_count;
    h.clock = quote.clock;
    h.appraisals = h.appraisals.saturating_add(1);

    let reported = match PcrValues::from_protocol(&ev.pcrs) {
        Ok(v) => v,
        Err(f) => return Appraisal::stop(h, f, Some(quote)),
    };
    if let Err(f) = reported.check_quote(&quote) {
        return Appraisal::stop(h, f, Some(quote));
    }
    let pcrs = reported.restricted_to(&quote.pcr_select);

    let mut failures = Vec::new();
    check_reference_values(input.policy, &quote, &pcrs, &mut failures);
    check_boot(input, &quote, &pcrs, &mut h, &mut failures);
    let ima_entries_verified = check_ima(input, &quote, &pcrs, &mut h, &mut failures);

    failures.truncate(MAX_FAILURES);
    Appraisal {
        passed: failures.is_empty(),
        failures,
        new_history: h,
        quote: Some(quote),
        ima_entries_verified,
    }
}

fn counters_backwards(prev: &AgentHistory, q: &QuoteInfo) -> Option<Failure> {
    if q.reset_count < prev.reset_count {
        return Some(Failure::ResetCountBackwards {
            previous: prev.reset_count,
            current: q.reset_count,
        });
    }
    if q.reset_count == prev.reset_count {
        if q.restart_count < prev.restart_count {
            return Some(Failure::RestartCountBackwards {
                previous: prev.restart_count,
                current: q.restart_count,
            });
        }
        if q.restart_count == prev.restart_count && q.clock < prev.clock {
            return Some(Failure::ClockBackwards {
                previous: prev.clock,
                current: q.clock,
            });
        }
    }
    None
}

fn check_reference_values(
    policy: &Policy,
    quote: &QuoteInfo,
    pcrs: &PcrValues,
    failures: &mut Vec<Failure>,
) {
    for (bank_name, values) in &policy.pcrs {
        let Some(bank) = HashAlg::from_name(bank_name) else {
            failures.push(Failure::PolicyInvalid(format!(
                "unknown bank {bank_name:?}"
            )));
            continue;
        };
        for (&index, allowed) in values {
            let value = match pcrs.get(bank, index) {
                Some(v) if is_selected(&quote.pcr_select, bank, index) => v,
                _ => {
                    failures.push(Failure::PcrNotQuoted {
                        bank: bank.name().into(),
                        index,
                    });
                    continue;
                }
            };
            let ok = allowed.iter().any(|a| hex_matches(a, value));
            if !ok {
                failures.push(Failure::PcrNotAllowed {
                    bank: bank.name().into(),
                    index,
                    value: hex(value),
                });
            }
        }
    }
}

/// Step 5: event log replay and the measured-boot policy.
fn check_boot(
    input: &AppraisalInput<'_>,
    quote: &QuoteInfo,
    pcrs: &PcrValues,
    h: &mut AgentHistory,
    failures: &mut Vec<Failure>,
) {
    let mb = input.policy.measured_boot.as_ref();
    let mb_bank = match mb.map(|m| m.hash()).transpose() {
        Ok(b) => b,
        Err(f) => {
            failures.push(f);
            return;
        }
    };
    if let (Some(m), Some(bank)) = (mb, mb_bank) {
        for &index in &m.replay_pcrs {
            if !is_selected(&quote.pcr_select, bank, index) {
                failures.push(Failure::PcrNotQuoted {
                    bank: bank.name().into(),
                    index,
                });
            }
        }
    }
    let before = failures.len();
    let Some(bytes) = input.evidence.event_log.as_deref() else {
        let same_policy = mb.is_some_and(|m| h.boot_policy.as_deref() == Some(m.fingerprint()));
        if mb.is_some()
            && (!same_policy || !boot_pcrs_unchanged(h.boot_pcrs.as_deref(), quote, pcrs))
        {
            h.boot_pcrs = None;
            failures.push(Failure::EventLogMissing);
        }
        return;
    };
    let log = match EventLog::parse(bytes) {
        Ok(l) => l,
        Err(e) => {
            failures.push(Failure::EventLogMalformed(e.to_string()));
            return;
        }
    };
    let replay_pcrs: &[u32] = mb.map(|m| m.replay_pcrs.as_slice()).unwrap_or(&[]);
    let mut proven = BootPcrs::new();
    let log_banks = log.banks();
    if let Some(bank) = mb_bank {
        if !log_banks.contains(&bank) {
            failures.push(Failure::EventLogReplay(format!(
                "the log has no {} digests, which the measured-boot policy uses",
                bank.name()
            )));
        }
    }
    for sel in &quote.pcr_select.0 {
        let bank = sel.hash;
        if !log_banks.contains(&bank) {
            continue;
        }
        let replayed = match log.replay(bank) {
            Ok(r) => r,
            Err(e) => {
                failures.push(Failure::EventLogReplay(e.to_string()));
                continue;
            }
        };
        let locality = log.startup_locality();
        for i in sel.indices() {
            let index = u32::try_from(i).unwrap_or(u32::MAX);
            let in_policy = mb_bank == Some(bank) && replay_pcrs.contains(&index);
            let expected = match replayed.get(&index) {
                Some(v) => v.clone(),
                None if in_policy => initial_value(bank, index, locality),
                None => continue,
            };
            let Some(quoted) = pcrs.get(bank, index) else {
                continue;
            };
            if !bool::from(expected.as_slice().ct_eq(quoted)) {
                failures.push(Failure::EventLogMismatch {
                    bank: bank.name().into(),
                    index,
                    log: hex(&expected),
                    quoted: hex(quoted),
                });
            } else {
                proven
                    .entry(bank.name().into())
                    .or_default()
                    .insert(index, hex(quoted));
            }
        }
    }
    if failures.len() == before {
        if let Some(m) = mb {
            failures.extend(m.check(&log));
        }
    }
    if failures.len() == before {
        h.boot_pcrs = Some(Arc::new(proven));
        h.boot_policy = mb.map(|m| Arc::from(m.fingerprint()));
    } else {
        h.boot_pcrs = None;
        h.boot_policy = None;
    }
}

/// Whether every PCR a good log covered in this boot is quoted with the
/// same value now.
fn boot_pcrs_unchanged(boot: Option<&BootPcrs>, quote: &QuoteInfo, pcrs: &PcrValues) -> bool {
    let Some(boot) = boot else {
        return false;
    };
    boot.iter().all(|(bank_name, values)| {
        let Some(bank) = HashAlg::from_name(bank_name) else {
            return false;
        };
        values.iter().all(|(&index, value)| {
            is_selected(&quote.pcr_select, bank, index)
                && pcrs.get(bank, index).is_some_and(|q| hex_matches(value, q))
        })
    })
}

/// Step 6: IMA. Returns the number of new entries accepted.
fn check_ima(
    input: &AppraisalInput<'_>,
    quote: &QuoteInfo,
    pcrs: &PcrValues,
    h: &mut AgentHistory,
    failures: &mut Vec<Failure>,
) -> u64 {
    let runtime = input.policy.runtime.as_ref();
    let quoted: Vec<(HashAlg, &[u8])> = quote
        .pcr_select
        .0
        .iter()
        .filter(|s| is_selected(&quote.pcr_select, s.hash, IMA_PCR))
        .filter_map(|s| pcrs.get(s.hash, IMA_PCR).map(|v| (s.hash, v)))
        .collect();
    if quoted.is_empty() {
        if runtime.is_some() {
            failures.push(Failure::ImaPcrNotQuoted {
                bank: "sha256".into(),
                pcr: IMA_PCR,
            });
        }
        return 0;
    }
    if runtime.is_none() && input.evidence.ima.is_none() {
        return 0;
    }
    let (list, offset): (&[u8], u64) = match &input.evidence.ima {
        Some(i) => (&i.entries, i.offset),
        None => (&[], h.ima.count),
    };
    if offset != h.ima.count {
        failures.push(Failure::ImaOffset {
            expected: h.ima.count,
            got: offset,
        });
        return 0;
    }
    let mut policy_failures: Vec<Failure> = Vec::new();
    let result = h
        .ima
        .extend_to_quote(list, IMA_PCR, &quoted, |index, entry| {
            if policy_failures.len() >= MAX_FAILURES {
                return;
            }
            let checked = if index == 0 {
                check_boot_aggregate(entry, pcrs)
            } else {
                None
            };
            let result = match (checked, runtime) {
                (Some(r), _) => r,
                (None, Some(rt)) => rt.check_entry(index, entry),
                (None, None) => Ok(()),
            };
            if let Err(f) = result {
                policy_failures.push(f);
            }
        });
    match result {
        Ok(progress) => {
            if policy_failures.is_empty() {
                h.ima = progress.state;
                progress.accepted
            } else {
                failures.extend(policy_failures);
                0
            }
        }
        Err(ImaCheckError::Parse(e)) => {
            failures.push(Failure::ImaMalformed(e.to_string()));
            0
        }
        Err(ImaCheckError::TemplateHash { entry, path }) => {
            failures.push(Failure::ImaTemplateHash { entry, path });
            0
        }
        Err(ImaCheckError::NoMatch { .. }) => {
            let (bank, q) = quoted.first().copied().unwrap_or((HashAlg::Sha256, &[]));
            let entries = crate::ima::ImaLog::new(list).count() as u64;
            failures.push(Failure::ImaPcrMismatch {
                bank: bank.name().into(),
                pcr: IMA_PCR,
                entries: h.ima.count.saturating_add(entries),
                quoted: hex(q),
            });
            0
        }
    }
}

/// IMA's first entry against the quoted boot PCRs, as Keylime checks it:
/// `None` when the entry is not `boot_aggregate` or its bank's PCRs 0–7 /
/// 0–9 are not all in the quote (the runtime policy's allowlist then
/// decides, as for any other entry). When it can be computed it replaces
/// the allowlist: the value differs per boot configuration, and a
/// matching one ties the measurement list to the boot the quote shows.
fn check_boot_aggregate(entry: &ImaEntry<'_>, pcrs: &PcrValues) -> Option<Result<(), Failure>> {
    if entry.is_violation() {
        return None;
    }
    let ev = entry.event(0)?.ok()?;
    if ev.path != BOOT_AGGREGATE || ev.buf.is_some() {
        return None;
    }
    let bank = HashAlg::from_name(ev.digest_alg)?;
    let (last, expected) = boot_aggregate(bank, pcrs)?;
    Some(if expected.as_slice() == ev.digest {
        Ok(())
    } else {
        Err(Failure::ImaBootAggregate {
            bank: bank.name().into(),
            last,
            expected: hex(&expected),
            got: hex(ev.digest),
        })
    })
}
