//! Verifier throughput: appraisals per second of evidence made by our own
//! engine in process (issue 5 target: ≥ 10,000 quote + event log
//! appraisals/s on 2 cores).
//!
//! - `quote+eventlog`: quote over PCRs 0-7,9,10 (ECC P-256 AK), the real
//!   OVMF event log parsed, replayed and checked against a generated
//!   measured-boot policy and PCR reference values;
//! - `quote+eventlog+ima1000`: the same plus 1,000 new IMA entries checked
//!   (template hash, PCR 10 replay in SHA-256, Keylime runtime policy).
//!
//! - `quote+eventlog (RSA-2048 AK)`: the first case with an RSASSA AK
//!   (the default AK of tpm2-tools and Keylime);
//! - `quote (log reused)`: the steady state of continuous attestation —
//!   the log passed before and PCRs 0-9 are unchanged, so only the quote
//!   and PCR values are appraised.
//!
//! After criterion's per-call timing, a 2-thread run prints appraisals/s.

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use attest::eventlog::EventLog;
use attest::ima::ima_ng_data;
use attest::policy::{MeasuredBootPolicy, Policy};
use attest::protocol::Evidence;
use attest::runtime_policy::RuntimePolicy;
use attest::{appraise, AkVerifier, AppraisalInput};
use criterion::{criterion_group, Criterion};
use tpm::crypto::HashAlg;

const SEL: &[usize] = &[0, 1, 2, 3, 4, 5, 6, 7, 9, 10];

struct Case {
    history: Option<attest::AgentHistory>,
    ak: AkVerifier,
    nonce: Vec<u8>,
    evidence: Evidence,
    policy: Policy,
}

fn file(i: usize) -> (String, [u8; 32]) {
    let mut d = [0u8; 32];
    d[..8].copy_from_slice(&(i as u64).to_le_bytes());
    (format!("/usr/lib/bench/file-{i}.so"), d)
}

/// The steady state: the event log was appraised before and PCRs 0-9 are
/// unchanged, so the evidence is a quote and PCR values only.
fn steady_case() -> Case {
    let mut c = case(0);
    let first = appraise(&AppraisalInput {
        ak: &c.ak,
        expected_nonce: &c.nonce,
        history: None,
        evidence: &c.evidence,
        policy: &c.policy,
    });
    assert!(first.passed);
    c.history = Some(first.new_history);
    c.evidence.event_log = None;
    assert!(run(&c), "steady-state evidence must pass");
    c
}

fn case(ima_entries: usize) -> Case {
    case_with(ima_entries, tpmclient::templates::ak_ecc_p256())
}

fn case_with(ima_entries: usize, ak: tpm::types::Public) -> Case {
    let log = EventLog::parse(common::OVMF_LOG).unwrap();
    let mut sim = common::Sim::with_ak(77, ak);
    sim.boot(&log);
    let mut digests = BTreeMap::new();
    for i in 0..ima_entries {
        let (path, d) = file(i);
        sim.ima_measure("ima-ng", &ima_ng_data("sha256", &d, &path));
        digests.insert(path, vec![hex::encode(d)]);
    }
    let runtime = (ima_entries > 0).then(|| {
        let json = serde_json::json!({
            "meta": {"version": 1}, "digests": digests, "excludes": ["/tmp/.*"],
        });
        RuntimePolicy::from_json(&json.to_string()).unwrap()
    });
    let pcr7 = log.replay(HashAlg::Sha256).unwrap()[&7].clone();
    let policy = Policy {
        name: "bench".into(),
        pcrs: BTreeMap::from([(
            "sha256".to_string(),
            BTreeMap::from([(7, vec![hex::encode(pcr7)])]),
        )]),
        measured_boot: Some(MeasuredBootPolicy::generate_from(&log)),
        runtime,
        ..Default::default()
    };
    let nonce = b"bench-nonce-0123456789".to_vec();
    let ima = (ima_entries > 0).then(|| sim.ima_from(0));
    let evidence = sim.evidence(
        &nonce,
        &[(HashAlg::Sha256, SEL)],
        Some(common::OVMF_LOG.to_vec()),
        ima,
    );
    let c = Case {
        history: None,
        ak: AkVerifier::new(&sim.ak).unwrap(),
        nonce,
        evidence,
        policy,
    };
    assert!(run(&c), "bench evidence must pass");
    c
}

fn run(c: &Case) -> bool {
    appraise(&AppraisalInput {
        ak: &c.ak,
        expected_nonce: &c.nonce,
        history: c.history.as_ref(),
        evidence: &c.evidence,
        policy: &c.policy,
    })
    .passed
}

fn per_call(cr: &mut Criterion) {
    let mut g = cr.benchmark_group("appraise");
    for (name, n) in [("quote+eventlog", 0), ("quote+eventlog+ima1000", 1000)] {
        let c = case(n);
        g.bench_function(name, |b| b.iter(|| assert!(run(&c))));
    }
    let c = steady_case();
    g.bench_function("quote (log reused)", |b| b.iter(|| assert!(run(&c))));
    let c = case_with(0, tpmclient::templates::ak_rsa2048());
    g.bench_function("quote+eventlog (RSA-2048 AK)", |b| {
        b.iter(|| assert!(run(&c)))
    });
    g.finish();
}

/// CPU time of the calling thread, in seconds.
fn thread_cpu() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec through a valid pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

/// (appraisals per wall-clock second, appraisals per CPU-second) on
/// `threads` threads for `secs` seconds. The second figure does not depend
/// on what else the machine runs: two cores give twice that.
fn throughput(c: &Case, threads: usize, secs: f64) -> (f64, f64) {
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let start = Instant::now();
    let (total, cpu): (u64, f64) = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let cpu0 = thread_cpu();
                    let mut n = 0u64;
                    while Instant::now() < deadline {
                        assert!(run(c));
                        n += 1;
                    }
                    (n, thread_cpu() - cpu0)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .fold((0, 0.0), |(n, t), (a, b)| (n + a, t + b))
    });
    (
        total as f64 / start.elapsed().as_secs_f64(),
        total as f64 / cpu,
    )
}

criterion_group!(benches, per_call);

fn main() {
    benches();
    criterion::Criterion::default()
        .configure_from_args()
        .final_summary();
    let secs = std::env::var("APPRAISE_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0);
    let cases = [
        ("quote+eventlog", case(0)),
        ("quote+eventlog+ima1000", case(1000)),
        ("quote (log reused)", steady_case()),
        (
            "quote+eventlog (RSA-2048 AK)",
            case_with(0, tpmclient::templates::ak_rsa2048()),
        ),
    ];
    for (name, c) in &cases {
        for threads in [1, 2] {
            let (wall, per_cpu) = throughput(c, threads, secs);
            println!(
                "{name}: {wall:.0} appraisals/s on {threads} thread(s); {per_cpu:.0} per CPU-second"
            );
        }
    }
}
