//! A rough figure, not the benchmark (BENCHMARKS.md has that): the time
//! the verifier spends on one piece of evidence (mTLS request, appraisal
//! with the OVMF event log and a measured-boot policy, storage), measured
//! sequentially against SQLite. `cargo test -p verifier --test throughput
//! -- --ignored --nocapture`.

mod common;

use std::time::{Duration, Instant};

use attest::protocol::{NodeKind, NodeState};
use common::*;
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement; run on demand"]
async fn evidence_round_trip_cost() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path();
    let ca = EkCa::new(data, "ek-ca");
    let v = start_verifier(
        data,
        None,
        vec![ca.pem_path.clone()],
        Duration::from_secs(60),
        "r",
    )
    .await;
    let op = operator_client(data, &v.url);
    let _: Value = op
        .put("/v1/policies/ovmf", &scenarios::ovmf_policy("ovmf"))
        .await
        .unwrap();
    let mut ag = SimAgent::new(5, "perf", NodeKind::Host, &ca, data, &v.url);
    ag.enroll_and_activate().await;
    let _: Value = op
        .put("/v1/nodes/perf/policy", &json!({"policy": "ovmf"}))
        .await
        .unwrap();
    for with_log in [true, false] {
        let rounds = 200;
        let mut spent = Duration::ZERO;
        for _ in 0..rounds {
            let mut ch = ag.challenge().await.unwrap();
            ch.send_event_log = with_log;
            let ev = ag.evidence_for(&ch);
            let t = Instant::now();
            let r = ag.send(&ev).await.unwrap();
            spent += t.elapsed();
            assert_eq!(r.state, NodeState::Trusted, "{:?}", r.reasons);
        }
        eprintln!(
            "event log {with_log}: {:.2} ms per evidence ({:.0}/s sequential)",
            spent.as_secs_f64() * 1000.0 / rounds as f64,
            rounds as f64 / spent.as_secs_f64()
        );
    }
    v.shutdown().await;
}
