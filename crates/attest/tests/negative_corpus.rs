//! The verifier's negative corpus (issue 5, "must show" 4): evidence made
//! by our own TPM engine in process — real quotes by a real AK over PCRs
//! extended with a real OVMF event log and a simulated IMA list — with one
//! thing wrong per case, each rejected with its specific [`Failure`]; plus
//! the positive cases those mutations start from.

mod common;

use std::collections::BTreeMap;

use attest::eventlog::EventLog;
use attest::ima::{ima_ng_data, ImaState};
use attest::policy::{MeasuredBootPolicy, Policy};
use attest::runtime_policy::RuntimePolicy;
use attest::{appraise, AgentHistory, AkVerifier, Appraisal, AppraisalInput, Failure};
use common::{Sim, OVMF_LOG};
use tpm::crypto::HashAlg;

const SEL: &[usize] = &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];

fn hexs(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// (path, file digest) measured by the simulated kernel.
fn files() -> Vec<(&'static str, [u8; 32])> {
    vec![
        ("/usr/bin/bash", [0xba; 32]),
        ("/usr/lib/x86_64-linux-gnu/libc.so.6", [0x1c; 32]),
        ("/tmp/scratch", [0x77; 32]),
    ]
}

fn runtime_policy() -> RuntimePolicy {
    let digests: BTreeMap<String, Vec<String>> = files()
        .iter()
        .filter(|(p, _)| !p.starts_with("/tmp"))
        .map(|(p, d)| (p.to_string(), vec![hexs(d)]))
        .collect();
    let json = serde_json::json!({
        "meta": {"version": 1, "generator": 1},
        "release": 0,
        "digests": digests,
        "excludes": ["/tmp/.*"],
        "keyrings": {},
        "ima": {"ignored_keyrings": ["*"], "log_hash_alg": "sha1", "dm_policy": null}
    });
    RuntimePolicy::from_json(&json.to_string()).unwrap()
}

fn policy(log: &EventLog) -> Policy {
    let pcr7 = log.replay(HashAlg::Sha256).unwrap()[&7].clone();
    Policy {
        name: "ovmf-direct-boot".into(),
        pcrs: BTreeMap::from([(
            "sha256".to_string(),
            BTreeMap::from([(7, vec![hexs(&pcr7)])]),
        )]),
        measured_boot: Some(MeasuredBootPolicy::generate_from(log)),
        runtime: Some(runtime_policy()),
        ..Default::default()
    }
}

/// A booted node with its IMA list measured (boot_aggregate first).
fn node(seed: u8) -> (Sim, EventLog) {
    let log = EventLog::parse(OVMF_LOG).unwrap();
    let mut sim = Sim::new(seed);
    sim.boot(&log);
    sim.ima_boot_aggregate();
    for (path, digest) in files() {
        sim.ima_measure("ima-ng", &ima_ng_data("sha256", &digest, path));
    }
    (sim, log)
}

fn run(
    ak: &AkVerifier,
    nonce: &[u8],
    history: Option<&AgentHistory>,
    ev: &attest::protocol::Evidence,
    policy: &Policy,
) -> Appraisal {
    appraise(&AppraisalInput {
        ak,
        expected_nonce: nonce,
        history,
        evidence: ev,
        policy,
    })
}

fn only(a: &Appraisal) -> &Failure {
    assert!(!a.passed, "expected a failure");
    assert_eq!(a.failures.len(), 1, "{:?}", a.failures);
    &a.failures[0]
}

/// Full first evidence of a fresh node: quote, event log, whole IMA list.
fn first(sim: &mut Sim, nonce: &[u8]) -> attest::protocol::Evidence {
    let ima = sim.ima_from(0);
    sim.evidence(
        nonce,
        &[(HashAlg::Sha256, SEL)],
        Some(OVMF_LOG.to_vec()),
        Some(ima),
    )
}

#[test]
fn good_evidence_passes_then_continues_incrementally() {
    let (mut sim, log) = node(1);
    let p = policy(&log);
    let ak = AkVerifier::new(&sim.ak).unwrap();
    let ev = first(&mut sim, b"nonce-1");
    let a = run(&ak, b"nonce-1", None, &ev, &p);
    assert!(a.passed, "{:?}", a.reasons());
    assert_eq!(a.ima_entries_verified, 4);
    assert_eq!(a.new_history.ima.count, 4);
    assert!(!a.new_history.needs_event_log());
    let q = a.quote.clone().unwrap();
    assert_eq!(a.new_history.reset_count, q.reset_count);
    let sub = attest::ear::Submod::from_appraisal(&a, "ovmf-direct-boot", false);
    assert_eq!(
        sub.status,
        attest::ear::EarStatus::Warning,
        "software TPM: hardware 32"
    );
    let sub = attest::ear::Submod::from_appraisal(&a, "ovmf-direct-boot", true);
    assert_eq!(sub.status, attest::ear::EarStatus::Affirming);

    // Next round: no event log (PCRs 0-9 unchanged), only the new entries.
    sim.ima_measure(
        "ima-ng",
        &ima_ng_data("sha256", &[0xba; 32], "/usr/bin/bash"),
    );
    let ima = sim.ima_from(a.new_history.ima_offset());
    assert_eq!(ima.offset, 4);
    let ev2 = sim.evidence(b"nonce-2", &[(HashAlg::Sha256, SEL)], None, Some(ima));
    let a2 = run(&ak, b"nonce-2", Some(&a.new_history), &ev2, &p);
    assert!(a2.passed, "{:?}", a2.reasons());
    assert_eq!(a2.ima_entries_verified, 1);
    assert_eq!(a2.new_history.ima.count, 5);
    assert!(a2.new_history.clock >= a.new_history.clock);

    // Nothing new at all: PCR 10 still equals the running value.
    let ev3 = sim.evidence(b"nonce-3", &[(HashAlg::Sha256, SEL)], None, None);
    let a3 = run(&ak, b"nonce-3", Some(&a2.new_history), &ev3, &p);
    assert!(a3.passed, "{:?}", a3.reasons());
    assert_eq!(a3.new_history.ima.count, 5);
}

/// Every AK kind a TPM makes: RSASSA and RSA-PSS (2048), ECDSA P-256 with
/// SHA-256 and P-384 with SHA-384, each verified, and each forgery refused.
#[test]
fn every_ak_kind_verifies() {
    use tpm::constants::{alg, curve};
    use tpm::types::{AsymScheme, PublicParms};
    let rsa_pss = {
        let mut t = tpmclient::templates::ak_rsa2048();
        if let PublicParms::Rsa(p) = &mut t.parameters {
            p.scheme = AsymScheme::Rsapss(alg::SHA256);
        }
        t
    };
    let p384 = {
        let mut t = tpmclient::templates::ak_ecc_p256();
        if let PublicParms::Ecc(p) = &mut t.parameters {
            p.scheme = AsymScheme::Ecdsa(alg::SHA384);
            p.curve_id = curve::NIST_P384;
        }
        t
    };
    let log = EventLog::parse(OVMF_LOG).unwrap();
    let p = Policy {
        name: "boot".into(),
        measured_boot: Some(MeasuredBootPolicy::generate_from(&log)),
        ..Default::default()
    };
    for (seed, template, hash) in [
        (2, tpmclient::templates::ak_rsa2048(), HashAlg::Sha256),
        (3, rsa_pss, HashAlg::Sha256),
        (4, tpmclient::templates::ak_ecc_p256(), HashAlg::Sha256),
        (5, p384, HashAlg::Sha384),
    ] {
        let mut sim = Sim::with_ak(seed, template);
        sim.boot(&log);
        let ak = AkVerifier::new(&sim.ak).unwrap();
        let ev = sim.evidence(
            b"n",
            &[(HashAlg::Sha256, SEL)],
            Some(OVMF_LOG.to_vec()),
            None,
        );
        let a = run(&ak, b"n", None, &ev, &p);
        assert!(a.passed, "{:?}", a.reasons());
        assert_eq!(a.quote.unwrap().hash, hash);
        let mut bad = ev.clone();
        let i = bad.quote.len() - 1;
        bad.quote[i] ^= 0x80;
        assert_eq!(
            only(&run(&ak, b"n", None, &bad, &p)),
            &Failure::SignatureInvalid
        );
    }
}

#[test]
fn forged_signature_is_rejected() {
    let (mut sim, log) = node(3);
    let p = policy(&log);
    let ak = AkVerifier::new(&sim.ak).unwrap();
    let mut ev = first(&mut sim, b"n");
    let last = ev.signature.len() - 1;
    ev.signature[last] ^= 1;
    let a = run(&ak, b"n", None, &ev, &p);
    assert_eq!(only(&a), &Failure::SignatureInvalid);
    assert_eq!(
        only(&a).to_string(),
        "quote signature does not verify with the enrolled AK"
    );
    // A quote body changed after signing is the same failure.
    let mut ev = first(&mut sim, b"n");
    let i = ev.quote.len() - 1;
    ev.quote[i] ^= 1;
    assert_eq!(
        only(&run(&ak, b"n", None, &ev, &p)),
        &Failure::SignatureInvalid
    );
    // Garbage instead of a TPMT_SIGNATURE.
    let mut ev = first(&mut sim, b"n");
    ev.signature = vec![0xde, 0xad];
    assert!(matches!(
        only(&run(&ak, b"n", None, &ev, &p)),
        Failure::SignatureMalformed(_)
    ));
}

/// A P-256 AK's first quote is checked with ring, later ones with the
/// AK's comb table (`attest::ecdsa_p256`): every round must accept the
/// honest quote and refuse the same quote with one bit of r or s flipped,
/// whichever path checks it.
#[test]
fn p256_ak_verifies_alike_on_first_and_later_quotes() {
    let (mut sim, log) = node(5);
    let p = policy(&log);
    let ak = AkVerifier::new(&sim.ak).unwrap();
    for round in 0..4 {
        let nonce = format!("round-{round}");
        let good = first(&mut sim, nonce.as_bytes());
        // TPMT_SIGNATURE: sigAlg, hash, then r and s as TPM2B; flip a bit
        // near the end of s, then one just after r's size field.
        for at in [good.signature.len() - 3, 6] {
            let mut forged = good.clone();
            forged.signature[at] ^= 0x10;
            let a = run(&ak, nonce.as_bytes(), None, &forged, &p);
            assert_eq!(
                only(&a),
                &Failure::SignatureInvalid,
                "round {round}, byte {at}"
            );
        }
        let a = run(&ak, nonce.as_bytes(), None, &good, &p);
        assert!(a.passed, "round {round}: {:?}", a.reasons());
    }
}

#[test]
fn quote_by_another_ak_is_rejected() {
    let (mut sim, log) = node(4);
    let p = policy(&log);
    let enrolled = AkVerifier::new(&sim.ak).unwrap();
    // Another TPM (other seed, other AK) answers the same challenge.
    let (mut other, _) = node(5);
    assert_ne!(other.ak, sim.ak);
    let ev = first(&mut other, b"n");
    assert_eq!(
        only(&run(&enrolled, b"n", None, &ev, &p)),
        &Failure::SignatureInvalid
    );
    // And the right TPM passes.
    assert!(run(&enrolled, b"n", None, &first(&mut sim, b"n"), &p).passed);
}

#[test]
fn replayed_nonce_is_rejected() {
    let (mut sim, log) = node(6);
    let p = policy(&log);
    let ak = AkVerifier::new(&sim.ak).unwrap();
    let old = first(&mut sim, b"old-nonce");
    // Resent as the answer to a new challenge.
    assert_eq!(
        only(&run(&ak, b"new-nonce", None, &old, &p)),
        &Failure::EvidenceNonceMismatch
    );
    // With the evidence's nonce field rewritten, the signed quote still
    // carries the old one.
    let mut rewritten = old.clone();
    rewritten.nonce = b"new-nonce".to_vec();
    let a = run(&ak, b"new-nonce", None, &rewritten, &p);
    assert_eq!(only(&a), &Failure::NonceMismatch);
    assert!(a.to_owned().reasons()[0].contains("replayed"));
}

#[test]
fn pcr_values_not_matching_the_quote_are_rejected() {
    let (mut sim, log) = node(7);
    let p = policy(&log);
    let ak = AkVerifier::new(&sim.ak).unwrap();
    let mut ev = first(&mut sim, b"n");
    // Report a "good" PCR 4 value that is not the one quoted.
    ev.pcrs
        .get_mut("sha256")
        .unwrap()
        .insert(4, "00".repeat(32).into());
    let a = run(&ak, b"n", None, &ev, &p);
    assert!(matches!(only(&a), Failure::PcrDigestMismatch { hash, .. } if hash == "sha256"));
    // A quoted PCR left out of the report.
    let mut ev = first(&mut sim, b"n");
    ev.pcrs.get_mut("sha256").unwrap().remove(&9);
    assert_eq!(
        only(&run(&ak, b"n", None, &ev, &p)),
        &Failure::PcrValueMissing {
            bank: "sha256".into(),
            index: 9
        }
    );
}

#[test]
fn pcr_outside_the_reference_values_is_named() {
    let (mut sim, log) = node(8);
    let p = policy(&log);
    let ak = AkVerifier::new(&sim.ak).unwrap();
    sim.extend(7, b"rogue db update");
    let ev = first(&mut sim, b"n");
    let a = run(&ak, b"n", None, &ev, &p);
    assert!(!a.passed);
    let reasons = a.reasons();
    assert!(
        reasons
            .iter()
            .any(|r| r.starts_with("PCR 7 (sha256) is 0x") && r.ends_with("not an allowed value")),
        "{reasons:?}"
    );
    // As an EAR: contraindicated, configuration claim 96.
    let sub = attest::ear::Submod::from_appraisal(&a, "ovmf-direct-boot", true);
    assert_eq!(sub.status, attest::ear::EarStatus::Contraindicated);
    assert_eq!(sub.trust_vector.as_ref().unwrap().configuration, Some(96));
    assert_eq!(
        sub.trust_vector.as_ref().unwrap().instance_identity,
        Some(2)
    );
    // The log no longer replays to PCR 7 either.
    assert!(a
        .failures
        .iter()
        .any(|f| matches!(f, Failure::EventLogMismatch { index: 7, .. })));
}

#[test]
fn event_log_not_replaying_is_rejected() {
    let (mut sim, log) = node(9);
    let p = policy(&log);
    let ak = AkVerifier::new(&sim.ak).unwrap();
    // Hide an event: drop the boot application record from the log.
    let mut forged = log.clone();
    let i = forged
        .events
        .iter()
        .position(|e| {
            e.event_type == attest::eventlog::event_type::EV_EFI_BOOT_SERVICES_APPLICATION
        })
        .unwrap();
    forged.events.remove(i);
    let ima = sim.ima_from(0);
    let ev = sim.evidence(
        b"n",
        &[(HashAlg::Sha256, SEL)],
        Some(forged.to_bytes()),
        Some(ima),
    );
    let a = run(&ak, b"n", None, &ev, &p);
    let f = only(&a);
    assert!(
        matches!(f, Failure::EventLogMismatch { bank, index: 4, .. } if bank == "sha256"),
        "{f}"
    );
    assert!(f
        .to_string()
        .starts_with("event log does not replay to PCR 4 (sha256)"));
    assert!(a.new_history.needs_event_log());
}

#[test]
fn truncated_or_garbage_event_log_is_rejected() {
    let (mut sim, log) = node(10);
    let p = policy(&log);
    let ak = AkVerifier::new(&sim.ak).unwrap();
    for bad in [
        OVMF_LOG[..OVMF_LOG.len() - 7].to_vec(),
        OVMF_LOG[..100].to_vec(),
        b"this is not an event log at all".to_vec(),
        vec![0xff; 4096],
    ] {
        let ima = sim.ima_from(0);
        let ev = sim.evidence(b"n", &[(HashAlg::Sha256, SEL)], Some(bad), Some(ima));
        let a = run(&ak, b"n", None, &ev, &p);
        assert!(
            matches!(only(&a), Failure::EventLogMalformed(_)),
            "{:?}",
            a.failures
        );
    }
}

#[test]
fn truncated_garbage_or_tampered_ima_log_is_rejected() {
    let (mut sim, log) = node(11);
    let p = policy(&log);
    let ak = AkVerifier::new(&sim.ak).unwrap();
    let full = sim.ima_from(0);

    let mut cut = full.clone();
    cut.entries.truncate(cut.entries.len() - 3);
    let ev = sim.evidence(
        b"n",
        &[(HashAlg::Sha256, SEL)],
        Some(OVMF_LOG.to_vec()),
        Some(cut),
    );
    assert!(matches!(
        only(&run(&ak, b"n", None, &ev, &p)),
        Failure::ImaMalformed(_)
    ));

    let mut garbage = full.clone();
    garbage.entries = vec![0xff; 300];
    let ev = sim.evidence(
        b"n",
        &[(HashAlg::Sha256, SEL)],
        Some(OVMF_LOG.to_vec()),
        Some(garbage),
    );
    assert!(matches!(
        only(&run(&ak, b"n", None, &ev, &p)),
        Failure::ImaMalformed(_)
    ));

    // Swap bash's file digest for another in the list (hash left as is).
    let mut tampered = full.clone();
    let needle = [0xba; 32];
    let at = tampered
        .entries
        .windows(32)
        .position(|w| w == needle)
        .unwrap();
    tampered.entries[at] = 0xbb;
    let ev = sim.evidence(
        b"n",
        &[(HashAlg::Sha256, SEL)],
        Some(OVMF_LOG.to_vec()),
        Some(tampered),
    );
    assert_eq!(
        only(&run(&ak, b"n", None, &ev, &p)),
        &Failure::ImaTemplateHash {
            entry: 1,
            path: "/usr/bin/bash".into()
        }
    );

    // Entries hidden from the list: PCR 10 cannot be reached.
    let mut hidden = full.clone();
    let two = sim.ima_from(2);
    hidden
        .entries
        .truncate(hidden.entries.len() - two.entries.len());
    let ev = sim.evidence(
        b"n",
        &[(HashAlg::Sha256, SEL)],
        Some(OVMF_LOG.to_vec()),
        Some(hidden),
    );
    assert!(matches!(
        only(&run(&ak, b"n", None, &ev, &p)),
        Failure::ImaPcrMismatch {
            pcr: 10,
            entries: 2,
            ..
        }
    ));
}

#[test]
fn ima_entry_outside_the_runtime_policy_fails_and_excluded_passes() {
    let (mut sim, log) = node(12);
    let p = policy(&log);
    let ak = AkVerifier::new(&sim.ak).unwrap();
    let a = run(&ak, b"n1", None, &first(&mut sim, b"n1"), &p);
    assert!(a.passed, "{:?}", a.reasons());
    // Excluded (/tmp/.*) with any digest: passes.
    sim.ima_measure("ima-ng", &ima_ng_data("sha256", &[0x99; 32], "/tmp/other"));
    let ev = sim.evidence(
        b"n2",
        &[(HashAlg::Sha256, SEL)],
        None,
        Some(sim.ima_from(4)),
    );
    let a2 = run(&ak, b"n2", Some(&a.new_history), &ev, &p);
    assert!(a2.passed, "{:?}", a2.reasons());
    // Unknown file, then a known file with a wrong digest.
    sim.ima_measure(
        "ima-ng",
        &ima_ng_data("sha256", &[0x66; 32], "/usr/local/bin/miner"),
    );
    sim.ima_measure(
        "ima-sig",
        &attest::ima::ima_sig_data("sha256", &[0x67; 32], "/usr/bin/bash", b""),
    );
    let ev = sim.evidence(
        b"n3",
        &[(HashAlg::Sha256, SEL)],
        None,
        Some(sim.ima_from(5)),
    );
    let a3 = run(&ak, b"n3", Some(&a2.new_history), &ev, &p);
    assert_eq!(
        a3.reasons(),
        vec![
            "IMA entry 5: /usr/local/bin/miner is not in the runtime policy".to_string(),
            format!(
                "IMA entry 6: /usr/bin/bash has digest sha256:{}, not an allowed one",
                "67".repeat(32)
            ),
        ]
    );
    // The verifier does not move past the bad entries: the next round
    // fails the same way.
    assert_eq!(a3.new_history.ima.count, 5);
}

#[test]
fn reset_counter_going_backwards_is_rejected() {
    let (mut sim, log) = node(13);
    let p = Policy {
        name: "boot".into(),
        measured_boot: Some(MeasuredBootPolicy::generate_from(&log)),
        ..Default::default()
    };
    let ak = AkVerifier::new(&sim.ak).unwrap();
    let snapshot = sim.state_blob();
    // Two reboots later the verifier has seen resetCount r+2 ...
    sim.reboot();
    sim.reboot();
    sim.boot(&log);
    let sel: &[(HashAlg, &[usize])] = &[(HashAlg::Sha256, SEL)];
    let ev = sim.evidence(b"n1", sel, Some(OVMF_LOG.to_vec()), None);
    let a = run(&ak, b"n1", None, &ev, &p);
    assert!(a.passed, "{:?}", a.reasons());
    let seen = a.new_history.reset_count;
    // ... then the (v)TPM state is rolled back to the snapshot.
    sim.restore(&snapshot);
    sim.boot(&log);
    let ev = sim.evidence(b"n2", sel, Some(OVMF_LOG.to_vec()), None);
    let b = run(&ak, b"n2", Some(&a.new_history), &ev, &p);
    let f = only(&b);
    assert!(
        matches!(f, Failure::ResetCountBackwards { previous, current } if *previous == seen && *current < seen),
        "{f}"
    );
    assert!(f
        .to_string()
        .starts_with("TPM reset counter went backwards"));
    // The stored history is not replaced by the rolled-back one.
    assert_eq!(b.new_history, a.new_history);
}

#[test]
fn reboot_starts_a_new_ima_list_and_needs_the_event_log_again() {
    let (mut sim, log) = node(14);
    let p = policy(&log);
    let ak = AkVerifier::new(&sim.ak).unwrap();
    let a = run(&ak, b"n1", None, &first(&mut sim, b"n1"), &p);
    assert!(a.passed, "{:?}", a.reasons());
    sim.reboot();
    sim.boot(&log);
    sim.ima_boot_aggregate();
    // Without the log, the changed boot cannot be appraised ...
    let ev = sim.evidence(
        b"n2",
        &[(HashAlg::Sha256, SEL)],
        None,
        Some(sim.ima_from(0)),
    );
    let b = run(&ak, b"n2", Some(&a.new_history), &ev, &p);
    assert!(
        b.failures.contains(&Failure::EventLogMissing),
        "{:?}",
        b.failures
    );
    assert_eq!(
        b.new_history.ima.count, 1,
        "IMA restarted at entry 0 and passed"
    );
    // ... with it, it passes.
    let ev = sim.evidence(
        b"n3",
        &[(HashAlg::Sha256, SEL)],
        Some(OVMF_LOG.to_vec()),
        None,
    );
    let c = run(&ak, b"n3", Some(&b.new_history), &ev, &p);
    assert!(c.passed, "{:?}", c.reasons());
    assert!(c.new_history.reset_count > a.new_history.reset_count);
}

#[test]
fn event_log_is_required_again_when_boot_pcrs_change() {
    let (mut sim, log) = node(15);
    let p = policy(&log);
    let ak = AkVerifier::new(&sim.ak).unwrap();
    let a = run(&ak, b"n1", None, &first(&mut sim, b"n1"), &p);
    assert!(a.passed);
    sim.extend(4, b"another boot application");
    let ev = sim.evidence(b"n2", &[(HashAlg::Sha256, SEL)], None, None);
    let b = run(&ak, b"n2", Some(&a.new_history), &ev, &p);
    assert_eq!(only(&b), &Failure::EventLogMissing);
    assert!(b.new_history.needs_event_log());
}

/// A policy assigned or edited after the log passed must see the log again:
/// unchanged PCRs only stand in for a log checked under the same rules.
#[test]
fn event_log_is_required_again_when_the_measured_boot_policy_changes() {
    let (mut sim, log) = node(17);
    let p = policy(&log);
    let ak = AkVerifier::new(&sim.ak).unwrap();
    let a = run(&ak, b"n1", None, &first(&mut sim, b"n1"), &p);
    assert!(a.passed, "{:?}", a.reasons());
    assert!(!a.new_history.needs_event_log_for(p.measured_boot.as_ref()));

    let mut stricter = p.clone();
    let mb = stricter.measured_boot.as_mut().unwrap();
    mb.kernel_cmdlines = Some(vec!["console=ttyS0 only-this".into()]);
    assert!(a
        .new_history
        .needs_event_log_for(stricter.measured_boot.as_ref()));
    let ev = sim.evidence(b"n2", &[(HashAlg::Sha256, SEL)], None, None);
    let b = run(&ak, b"n2", Some(&a.new_history), &ev, &stricter);
    assert_eq!(only(&b), &Failure::EventLogMissing);

    // Under the unchanged policy the same evidence still passes.
    let ev = sim.evidence(b"n3", &[(HashAlg::Sha256, SEL)], None, None);
    let c = run(&ak, b"n3", Some(&a.new_history), &ev, &p);
    assert!(c.passed, "{:?}", c.reasons());
}

#[test]
fn a_different_kernel_command_line_fails_the_generated_policy() {
    let good = EventLog::parse(OVMF_LOG).unwrap();
    let p = policy(&good);
    // The same boot with another command line: the EFI stub's LoadOptions
    // event has other digests.
    let mut other = good.clone();
    let ev = other
        .events
        .iter_mut()
        .find(|e| {
            e.event_type == attest::eventlog::event_type::EV_EVENT_TAG
                && e.data.starts_with(&0x8F3B_22EDu32.to_le_bytes())
        })
        .unwrap();
    for d in &mut ev.digests {
        let alg = HashAlg::from_id(d.alg).unwrap();
        d.digest = alg.digest(&[b"console=ttyS0 init=/bin/sh"]);
    }
    let mut sim = Sim::new(16);
    sim.boot(&other);
    let ak = AkVerifier::new(&sim.ak).unwrap();
    let p = Policy {
        runtime: None,
        pcrs: BTreeMap::new(),
        ..p
    };
    let evd = sim.evidence(
        b"n",
        &[(HashAlg::Sha256, SEL)],
        Some(other.to_bytes()),
        None,
    );
    let a = run(&ak, b"n", None, &evd, &p);
    let f = only(&a);
    assert!(
        matches!(f, Failure::KernelCmdlineDigestNotAllowed { bank, .. } if bank == "sha256"),
        "{f}"
    );
}

#[test]
fn policy_pcr_not_in_the_quote_is_named() {
    let (mut sim, log) = node(17);
    let mut p = policy(&log);
    p.runtime = None;
    p.measured_boot = None;
    p.pcrs
        .get_mut("sha256")
        .unwrap()
        .insert(8, vec!["00".repeat(32)]);
    let ak = AkVerifier::new(&sim.ak).unwrap();
    let no8: Vec<usize> = SEL.iter().copied().filter(|&i| i != 8).collect();
    let ev = sim.evidence(b"n", &[(HashAlg::Sha256, &no8)], None, None);
    assert_eq!(
        only(&run(&ak, b"n", None, &ev, &p)),
        &Failure::PcrNotQuoted {
            bank: "sha256".into(),
            index: 8
        }
    );
    let _ = ImaState::default();
}

/// An unrestricted signing key could sign a forged TPMS_ATTEST with
/// TPM2_Sign, so it is refused as an AK (Part 1 §36.3), as is a storage key.
#[test]
fn unrestricted_or_decrypt_keys_are_not_aks() {
    let sim = Sim::with_ak(30, tpmclient::templates::signing_ecc_p256());
    assert!(matches!(
        AkVerifier::new(&sim.ak),
        Err(Failure::AkUnusable(_))
    ));
    let sim = Sim::with_ak(31, tpmclient::templates::srk_ecc_p256());
    assert!(matches!(
        AkVerifier::new(&sim.ak),
        Err(Failure::AkUnusable(_))
    ));
    assert!(matches!(
        AkVerifier::from_tpmt_public(b"\x00\x23garbage"),
        Err(Failure::AkUnusable(_))
    ));
}

/// IMA's first entry must be the digest of the quoted PCRs 0-9: a list
/// whose boot_aggregate was taken before the firmware's measurements (as a
/// list from another boot would be) is refused with both digests named,
/// though PCR 10 replays. When the quote leaves out a PCR of the
/// aggregate, the runtime policy's allowlist decides, as for any entry.
#[test]
fn ima_boot_aggregate_not_matching_the_quoted_boot_pcrs_is_rejected() {
    let log = EventLog::parse(OVMF_LOG).unwrap();
    let mut sim = Sim::new(18);
    sim.ima_boot_aggregate();
    sim.boot(&log);
    for (path, digest) in files() {
        sim.ima_measure("ima-ng", &ima_ng_data("sha256", &digest, path));
    }
    let p = policy(&log);
    let ak = AkVerifier::new(&sim.ak).unwrap();
    let a = run(&ak, b"n1", None, &first(&mut sim, b"n1"), &p);
    let zeros_aggregate = HashAlg::Sha256.digest(&[&[0u8; 320][..]]);
    match only(&a) {
        Failure::ImaBootAggregate {
            bank,
            last,
            expected,
            got,
        } => {
            assert_eq!((bank.as_str(), *last), ("sha256", 9));
            assert_eq!(got, &hexs(&zeros_aggregate));
            assert_ne!(expected, got);
        }
        f => panic!("{f:?}"),
    }
    assert!(only(&a)
        .to_string()
        .starts_with("IMA boot_aggregate is sha256:"));
    assert_eq!(a.new_history.ima.count, 0, "nothing of the list accepted");

    // PCR 8 not quoted: the aggregate cannot be computed; the allowlist
    // (which does not list boot_aggregate) decides.
    let no8: Vec<usize> = SEL.iter().copied().filter(|&i| i != 8).collect();
    let ev = sim.evidence(
        b"n2",
        &[(HashAlg::Sha256, &no8)],
        Some(OVMF_LOG.to_vec()),
        Some(sim.ima_from(0)),
    );
    let b = run(&ak, b"n2", None, &ev, &p);
    assert_eq!(
        only(&b),
        &Failure::ImaFileNotInPolicy {
            entry: 0,
            path: "boot_aggregate".into()
        }
    );
}
