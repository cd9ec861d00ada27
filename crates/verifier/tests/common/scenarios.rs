//! The API scenarios, shared by the SQLite and PostgreSQL test binaries.
#![allow(dead_code)]

use std::path::Path;
use std::time::Duration;

use attest::ear::{EarStatus, EarVerifier};
use attest::eventlog::EventLog;
use attest::policy::{MeasuredBootPolicy, Policy};
use attest::protocol::{NodeKind, NodeState};
use serde_json::{json, Value};

use super::*;

/// A policy from the OVMF log: measured boot plus PCRs 0,2,4,7 pinned.
pub fn ovmf_policy(name: &str) -> Policy {
    let log = EventLog::parse(OVMF_LOG).unwrap();
    let mb = MeasuredBootPolicy::generate_from(&log);
    let values = log.replay(mb.hash().unwrap()).unwrap();
    let mut p = Policy {
        name: name.into(),
        ..Policy::default()
    };
    let bank = p.pcrs.entry(mb.bank.clone()).or_default();
    for i in [0u32, 2, 4, 7] {
        bank.insert(i, vec![hex::encode(&values[&i])]);
    }
    p.measured_boot = Some(mb);
    p
}

/// Enrollment, activation, policy, trusted → failed on a PCR change,
/// replayed nonce, authorization, garbage bodies, untrusted EK CA, host
/// linkage of a VM, EAR, webhooks with retry.
pub async fn full_flow(db_url: Option<String>) {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path();
    let ca = EkCa::new(data, "ek-ca");
    let vtpm_ca = EkCa::new(data, "host-vtpm-ca");
    let rogue = EkCa::new(data, "rogue-ca");
    let v = start_verifier(
        data,
        db_url,
        vec![ca.pem_path.clone()],
        Duration::from_secs(30),
        "r1",
    )
    .await;
    let op = operator_client(data, &v.url);

    let health: Value = op.get("/v1/health").await.unwrap();
    assert_eq!(health["status"], "ok");
    let hook = WebhookSink::start(1).await; // first delivery fails: retried
    let hooks: Value = op
        .put("/v1/webhooks", &json!({"url": hook.url}))
        .await
        .unwrap();
    assert_eq!(hooks[0]["url"], hook.url);
    let (st, msg) = status_of(
        op.put::<_, Value>("/v1/webhooks", &json!({"url": "ftp://x"}))
            .await,
    );
    assert_eq!(st, 400, "{msg}");

    // ---- enrollment and activation ----
    let mut host = SimAgent::new(1, "host-1", NodeKind::Host, &ca, data, &v.url);
    host.vtpm_ca = Some(vtpm_ca.der());
    let resp = host.enroll().await.unwrap();
    let node: Value = op.get("/v1/nodes/host-1").await.unwrap();
    assert_eq!(node["state"], "registered");
    assert_eq!(node["activated"], false);
    let (st, msg) = status_of(host.challenge().await);
    assert_eq!(st, 409, "challenge before activation: {msg}");
    assert!(msg.contains("not activated"), "{msg}");
    // Evidence before activation too (the refused row must not linger in
    // the verifier's copy: after activation the agent attests normally).
    let early = Evidence {
        nonce: vec![7; 32],
        quote: vec![],
        signature: vec![],
        pcrs: Default::default(),
        event_log: None,
        ima: None,
    };
    let (st, msg) = status_of(host.send(&early).await);
    assert_eq!(st, 409, "evidence before activation: {msg}");
    // A wrong proof is refused.
    let (st, msg) = status_of(
        host.client
            .post::<_, Value>("/v1/agents/host-1/activate", &json!({"proof": "AAAA"}))
            .await,
    );
    assert_eq!(st, 403, "{msg}");
    assert!(msg.contains("activation proof"), "{msg}");
    let r = host.activate(&resp).await.unwrap();
    assert_eq!(r.state, NodeState::Enrolled);

    // ---- policy, trusted ----
    let policy = ovmf_policy("ovmf");
    let stored: Value = op.put("/v1/policies/ovmf", &policy).await.unwrap();
    assert_eq!(stored["name"], "ovmf");
    let (st, msg) = status_of(op.put::<_, Value>("/v1/policies/other", &policy).await);
    assert_eq!(st, 400, "{msg}");
    assert!(msg.contains("differs"), "{msg}");
    let n: Value = op
        .put("/v1/nodes/host-1/policy", &json!({"policy": "ovmf"}))
        .await
        .unwrap();
    assert_eq!(n["policy"], "ovmf");
    let (st, _) = status_of(
        op.put::<_, Value>("/v1/nodes/host-1/policy", &json!({"policy": "nope"}))
            .await,
    );
    assert_eq!(st, 404);

    let ch = host.challenge().await.unwrap();
    assert_eq!(ch.nonce.len(), 32);
    for i in [0u32, 2, 4, 7] {
        assert!(
            ch.pcr_selection["sha256"].contains(&i),
            "{:?}",
            ch.pcr_selection
        );
    }
    let ev = host.evidence_for(&ch);
    let r = host.send(&ev).await.unwrap();
    assert_eq!(r.state, NodeState::Trusted, "{:?}", r.reasons);
    assert!(r.reasons.is_empty());

    // Replayed nonce.
    let (st, msg) = status_of(host.send(&ev).await);
    assert_eq!(st, 422, "{msg}");
    assert!(msg.contains("nonce"), "{msg}");

    // The answer carries the next challenge: a round is one request.
    let next = r
        .next_challenge
        .clone()
        .expect("answer carries the next challenge");
    assert_eq!(next.nonce.len(), 32);
    assert_ne!(next.nonce, ev.nonce);
    assert_eq!(next.pcr_selection, ch.pcr_selection);
    assert!(!next.send_event_log, "the log passed: not asked again");
    // An operator mark between the rounds (the row changes under the
    // verifier's copy) is seen by the carried round, and the mark's
    // cleared state too.
    let _: Value = op
        .post(
            "/v1/nodes/host-1/state",
            &json!({"state": "failed", "reason": "between rounds"}),
        )
        .await
        .unwrap();
    let ev = host.evidence_for(&next);
    let r = host.send(&ev).await.unwrap();
    assert_eq!(r.state, NodeState::Failed);
    assert_eq!(
        r.reasons,
        vec!["marked failed by operator: between rounds".to_string()]
    );
    let _: Value = op
        .post("/v1/nodes/host-1/state", &json!({"state": "enrolled"}))
        .await
        .unwrap();
    let ev = host.evidence_for(r.next_challenge.as_ref().unwrap());
    let r = host.send(&ev).await.unwrap();
    assert_eq!(r.state, NodeState::Trusted, "{:?}", r.reasons);
    // A challenge asked for explicitly replaces the carried one.
    let stale = r.next_challenge.clone().unwrap();
    let ch = host.challenge().await.unwrap();
    let ev = host.evidence_for(&stale);
    let (st, msg) = status_of(host.send(&ev).await);
    assert_eq!(st, 422, "{msg}");
    let ev = host.evidence_for(&ch);
    let r = host.send(&ev).await.unwrap();
    assert_eq!(r.state, NodeState::Trusted, "{:?}", r.reasons);

    // ---- authorization ----
    let other = agent_client(data, &v.url, "someone-else");
    let (st, msg) = status_of(
        other
            .post_empty::<Value>("/v1/agents/host-1/challenge")
            .await,
    );
    assert_eq!(st, 403, "{msg}");
    let (st, _) = status_of(other.get::<Value>("/v1/nodes").await);
    assert_eq!(st, 403);
    let (st, _) = status_of(op.post_empty::<Value>("/v1/agents/host-1/challenge").await);
    assert_eq!(st, 403);
    let mut req = host.enroll_request();
    req.agent_id = "host-2".into();
    let (st, msg) = status_of(
        host.client
            .post::<_, Value>("/v1/agents/enroll", &req)
            .await,
    );
    assert_eq!(st, 403, "agent enrolling another id: {msg}");
    // A certificate from another CA does not even complete the handshake.
    let foreign = tempfile::tempdir().unwrap();
    verifier::pki::Pki::new(foreign.path().join("pki"))
        .ensure(&[])
        .unwrap();
    let fp = verifier::pki::Pki::new(foreign.path().join("pki"));
    let bad = verifier::client::ApiClient::new(&verifier::client::ClientConfig {
        url: v.url.clone(),
        cert: fp.operator().cert,
        key: fp.operator().key,
        ca: verifier::pki::Pki::new(data.join("pki")).ca_cert_path(),
    })
    .unwrap();
    assert!(matches!(
        bad.get::<Value>("/v1/nodes").await,
        Err(verifier::client::ClientError::Http { .. })
    ));

    // ---- garbage bodies: 400 with a reason ----
    let (st, body) = host
        .client
        .post_raw("/v1/agents/host-1/evidence", b"{not json".to_vec())
        .await
        .unwrap();
    assert_eq!(st, 400);
    let e: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(e["error"], "bad_request");
    assert!(!e["message"].as_str().unwrap().is_empty());
    let (st, body) = host
        .client
        .post_raw("/v1/agents/enroll", br#"{"agent_id":"host-1","kind":"host","ek_certificate":"***","ek_public":"","ak_public":""}"#.to_vec())
        .await
        .unwrap();
    assert_eq!(st, 400);
    assert!(String::from_utf8_lossy(&body).contains("invalid base64"));
    let mut req = host.enroll_request();
    req.ak_public = vec![0xde, 0xad];
    let (st, msg) = status_of(
        host.client
            .post::<_, Value>("/v1/agents/enroll", &req)
            .await,
    );
    assert_eq!(st, 400);
    assert!(msg.contains("ak_public"), "{msg}");
    let mut req = host.enroll_request();
    req.ak_public = host.ek_public.to_bytes(); // a decryption key is no AK
    let (st, msg) = status_of(
        host.client
            .post::<_, Value>("/v1/agents/enroll", &req)
            .await,
    );
    assert_eq!(st, 400);
    assert!(msg.contains("restricted signing"), "{msg}");
    let (st, _) = host
        .client
        .post_raw("/v1/agents/host-1/activate", vec![b' '; 300 * 1024])
        .await
        .unwrap();
    assert_eq!(st, 413);
    let (st, msg) = status_of(
        op.post::<_, Value>("/v1/nodes/host-1/state", &json!({"state": "trusted"}))
            .await,
    );
    assert_eq!(st, 400, "{msg}");

    // ---- untrusted EK CA ----
    let mut stranger = SimAgent::new(3, "stranger", NodeKind::Host, &rogue, data, &v.url);
    let (st, msg) = status_of(stranger.enroll().await);
    assert_eq!(st, 403, "{msg}");
    assert!(msg.contains("EK certificate is not trusted"), "{msg}");

    // ---- a VM of host-1 (EK certificate from host-1's vTPM CA) ----
    let mut vm = SimAgent::new(2, "vm-1", NodeKind::Vm, &vtpm_ca, data, &v.url);
    let r = vm.enroll_and_activate().await;
    assert_eq!(r.state, NodeState::Enrolled);
    let r = vm.attest().await.unwrap();
    assert_eq!(r.state, NodeState::Trusted, "{:?}", r.reasons);
    let n: Value = op.get("/v1/nodes/vm-1").await.unwrap();
    assert_eq!(n["host"], "host-1");
    let host_view: Value = op.get("/v1/nodes/host-1").await.unwrap();
    assert_eq!(host_view["vms"], json!(["vm-1"]));

    // Operator marks the host failed: the VM fails at once, and recovers.
    let n: Value = op
        .post(
            "/v1/nodes/host-1/state",
            &json!({"state": "failed", "reason": "maintenance"}),
        )
        .await
        .unwrap();
    assert_eq!(n["state"], "failed");
    let n: Value = op.get("/v1/nodes/vm-1").await.unwrap();
    assert_eq!(n["state"], "failed");
    assert_eq!(n["reasons"], json!(["host host-1 is failed"]));
    let r = vm.attest().await.unwrap();
    assert_eq!(r.state, NodeState::Failed);
    assert_eq!(r.reasons, vec!["host host-1 is failed".to_string()]);
    let _: Value = op
        .post("/v1/nodes/host-1/state", &json!({"state": "enrolled"}))
        .await
        .unwrap();
    let n: Value = op.get("/v1/nodes/host-1").await.unwrap();
    assert_eq!(n["state"], "trusted");
    let n: Value = op.get("/v1/nodes/vm-1").await.unwrap();
    assert_eq!(n["state"], "trusted", "{n}");

    // EAR for the trusted VM verifies with the JWKS; its host's EK chains
    // to a hardware anchor (--trust-anchor), so the VM's does too.
    assert_eq!(n["hardware_root"], true, "{n}");
    let jwks: Value = op.get("/v1/ear/jwks").await.unwrap();
    let verifier = EarVerifier::from_jwk(&jwks["keys"][0]).unwrap();
    let tok: Value = op.get("/v1/nodes/vm-1/ear").await.unwrap();
    let ear = verifier.verify(tok["token"].as_str().unwrap()).unwrap();
    assert_eq!(ear.submods["vm-1"].status, EarStatus::Affirming);

    // ---- a policy-covered PCR changes: failed, reason names the PCR ----
    // (once a log passed, challenges skip it while the boot PCRs stay put;
    // a change makes the verifier ask again at once, without a verdict)
    let ch = host.challenge().await.unwrap();
    assert!(!ch.send_event_log);
    host.extend(1, b"other firmware setting"); // replayed, not pinned
    let ev = host.evidence_for(&ch);
    assert!(ev.event_log.is_none());
    let r = host.send(&ev).await.unwrap();
    assert_eq!(
        (r.state, r.next_in_ms),
        (NodeState::Trusted, 0),
        "{:?}",
        r.reasons
    );
    let ch = host.challenge().await.unwrap();
    assert!(ch.send_event_log);
    let ev = host.evidence_for(&ch);
    let r = host.send(&ev).await.unwrap();
    assert_eq!(r.state, NodeState::Failed);
    assert!(
        r.reasons.iter().any(|x| x.contains("PCR 1")),
        "{:?}",
        r.reasons
    );
    assert!(
        !r.reasons.iter().any(|x| x.contains("PCR 7")),
        "{:?}",
        r.reasons
    );
    host.extend(7, b"evil shim");
    let r = host.attest().await.unwrap();
    assert_eq!(r.state, NodeState::Failed);
    assert!(
        r.reasons.iter().any(|x| x.contains("PCR 7")),
        "{:?}",
        r.reasons
    );
    let n: Value = op.get("/v1/nodes/vm-1").await.unwrap();
    assert_eq!(n["state"], "failed");
    let tok: Value = op.get("/v1/nodes/host-1/ear").await.unwrap();
    let ear = verifier.verify(tok["token"].as_str().unwrap()).unwrap();
    assert_eq!(ear.submods["host-1"].status, EarStatus::Contraindicated);

    // ---- lists, history ----
    let nodes: Value = op.get("/v1/nodes").await.unwrap();
    let ids: Vec<&str> = nodes
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["host-1", "vm-1"]);
    let n: Value = op.get("/v1/nodes/host-1").await.unwrap();
    let changes: Vec<String> = n["transitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            format!(
                "{}>{}",
                t["previous_state"].as_str().unwrap(),
                t["state"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        changes,
        vec![
            "registered>enrolled",
            "enrolled>trusted",
            // operator mark between two carried rounds, and its clearing
            "trusted>failed",
            "failed>trusted",
            // the host marked failed (VM linkage), then cleared
            "trusted>failed",
            "failed>trusted",
            // a policy-covered PCR changed
            "trusted>failed"
        ]
    );

    // ---- webhooks: every transition, in order per node, despite a 500 ----
    let expect_host = vec![
        ("registered".to_string(), "enrolled".to_string()),
        ("enrolled".into(), "trusted".into()),
        ("trusted".into(), "failed".into()),
        ("failed".into(), "trusted".into()),
        ("trusted".into(), "failed".into()),
        ("failed".into(), "trusted".into()),
        ("trusted".into(), "failed".into()),
    ];
    let ok = wait_until(Duration::from_secs(20), || {
        let got = hook.states_for("host-1");
        let want = expect_host.clone();
        async move { got == want }
    })
    .await;
    assert!(ok, "webhook host-1: {:?}", hook.states_for("host-1"));
    let vm_changes = hook.states_for("vm-1");
    let ok = wait_until(Duration::from_secs(10), || {
        let n = hook.states_for("vm-1").len();
        async move { n == 5 }
    })
    .await;
    assert!(
        ok,
        "webhook vm-1: {vm_changes:?} / {:?}",
        hook.states_for("vm-1")
    );
    let body = hook.bodies.lock().unwrap()[0].clone();
    assert!(body["at"].as_str().unwrap().ends_with('Z'));
    assert!(body["reasons"].is_array());

    // ---- re-enrollment: back to registered, VMs follow ----
    let resp = host.enroll().await.unwrap();
    let n: Value = op.get("/v1/nodes/host-1").await.unwrap();
    assert_eq!(n["state"], "registered");
    assert_eq!(n["activated"], false);
    assert_eq!(n["policy"], "ovmf", "the policy survives re-enrollment");
    let last = n["transitions"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["previous_state"].as_str(), last["state"].as_str()),
        (Some("failed"), Some("registered"))
    );
    let n: Value = op.get("/v1/nodes/vm-1").await.unwrap();
    assert_eq!(n["reasons"], json!(["host host-1 is registered"]));
    host.activate(&resp).await.unwrap();

    // ---- delete ----
    let (st, _) = status_of(op.delete::<Value>("/v1/nodes/nope").await);
    assert_eq!(st, 404);
    let _: Value = op.delete("/v1/nodes/vm-1").await.unwrap();
    let (st, _) = status_of(op.get::<Value>("/v1/nodes/vm-1").await);
    assert_eq!(st, 404);
    v.shutdown().await;
}

/// A verifier with a 30 s interval over `db_url` (SQLite in the data dir
/// when `None`), trusting one test EK CA, and its operator client.
async fn one_verifier(
    db_url: Option<String>,
) -> (tempfile::TempDir, EkCa, verifier::Running, ApiClient) {
    let tmp = tempfile::tempdir().unwrap();
    let ca = EkCa::new(tmp.path(), "ek-ca");
    let v = start_verifier(
        tmp.path(),
        db_url,
        vec![ca.pem_path.clone()],
        Duration::from_secs(30),
        "r1",
    )
    .await;
    let op = operator_client(tmp.path(), &v.url);
    (tmp, ca, v, op)
}

/// EK CAs of software TPMs (`--software-trust-anchor`): a host under one
/// attests and is trusted, but shows `hardware_root: false` and its EAR
/// says so (hardware claim 32, status warning); its VMs inherit that. A
/// host under a hardware anchor beside it is affirmed.
pub async fn software_root(db_url: Option<String>) {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path();
    let hw_ca = EkCa::new(data, "vendor-ca");
    let sw_ca = EkCa::new(data, "swtpm-localca");
    let vtpm_ca = EkCa::new(data, "sw-host-vtpm-ca");
    let mut cfg = verifier_config(
        data,
        db_url,
        vec![hw_ca.pem_path.clone()],
        Duration::from_secs(30),
        "r1",
    );
    cfg.software_trust_anchors = vec![sw_ca.pem_path.clone()];
    let v = verifier::start(cfg).await.unwrap();
    let op = operator_client(data, &v.url);

    let mut sw = SimAgent::new(41, "sw-host", NodeKind::Host, &sw_ca, data, &v.url);
    sw.vtpm_ca = Some(vtpm_ca.der());
    sw.enroll_and_activate().await;
    let mut vm = SimAgent::new(42, "sw-vm", NodeKind::Vm, &vtpm_ca, data, &v.url);
    vm.enroll_and_activate().await;
    let mut hw = SimAgent::new(43, "hw-host", NodeKind::Host, &hw_ca, data, &v.url);
    hw.enroll_and_activate().await;
    for a in [&mut sw, &mut vm, &mut hw] {
        let r = a.attest().await.unwrap();
        assert_eq!(r.state, NodeState::Trusted, "{:?}", r.reasons);
    }

    let jwks: Value = op.get("/v1/ear/jwks").await.unwrap();
    let ear_verifier = EarVerifier::from_jwk(&jwks["keys"][0]).unwrap();
    for (id, hardware, status, claim) in [
        ("sw-host", false, EarStatus::Warning, 32),
        ("sw-vm", false, EarStatus::Warning, 32),
        ("hw-host", true, EarStatus::Affirming, 2),
    ] {
        let n: Value = op.get(&format!("/v1/nodes/{id}")).await.unwrap();
        assert_eq!(n["state"], "trusted", "{n}");
        assert_eq!(n["hardware_root"], hardware, "{n}");
        let tok: Value = op.get(&format!("/v1/nodes/{id}/ear")).await.unwrap();
        let ear = ear_verifier.verify(tok["token"].as_str().unwrap()).unwrap();
        let sub = &ear.submods[id];
        assert_eq!(sub.status, status, "{id}");
        let tv = sub.trust_vector.as_ref().unwrap();
        assert_eq!(tv.hardware, Some(claim), "{id}");
    }
    let list: Value = op.get("/v1/nodes").await.unwrap();
    let roots: Vec<(&str, bool)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["id"].as_str().unwrap(),
                n["hardware_root"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        roots,
        vec![("hw-host", true), ("sw-host", false), ("sw-vm", false)]
    );
    v.shutdown().await;
}

/// IMA through the API: the challenge's ima_offset follows the verified
/// entries, excluded paths pass, a file outside the runtime policy fails
/// with its path in the reason.
pub async fn ima_flow(db_url: Option<String>) {
    let (tmp, ca, v, op) = one_verifier(db_url).await;
    let data = tmp.path();
    let good = b"#!/bin/sh\necho good\n";
    let policy = json!({
        "name": "ima",
        "runtime": {
            "meta": {"version": 1},
            "digests": {"/usr/bin/good": [hex::encode(tpm::crypto::HashAlg::Sha256.digest(&[good]))]},
            "excludes": ["/tmp/.*"]
        }
    });
    let _: Value = op.put("/v1/policies/ima", &policy).await.unwrap();
    let mut ag = SimAgent::new(7, "ima-1", NodeKind::Host, &ca, data, &v.url);
    ag.enroll_and_activate().await;
    let _: Value = op
        .put("/v1/nodes/ima-1/policy", &json!({"policy": "ima"}))
        .await
        .unwrap();
    ag.ima_measure("/usr/bin/good", good);
    ag.ima_measure("/tmp/scratch", b"anything");
    let ch = ag.challenge().await.unwrap();
    assert_eq!(ch.ima_offset, 0);
    assert!(ch.pcr_selection["sha256"].contains(&10));
    let ev = ag.evidence_for(&ch);
    let r = ag.send(&ev).await.unwrap();
    assert_eq!(r.state, NodeState::Trusted, "{:?}", r.reasons);
    let ch = ag.challenge().await.unwrap();
    assert_eq!(ch.ima_offset, 2, "verified entries are not sent again");
    let ev = ag.evidence_for(&ch);
    assert_eq!(ev.ima.as_ref().unwrap().entries.len(), 0);
    let r = ag.send(&ev).await.unwrap();
    assert_eq!(r.state, NodeState::Trusted, "{:?}", r.reasons);
    ag.ima_measure("/usr/bin/evil", b"rootkit");
    let r = ag.attest().await.unwrap();
    assert_eq!(r.state, NodeState::Failed);
    assert!(
        r.reasons.iter().any(|x| x.contains("/usr/bin/evil")),
        "{:?}",
        r.reasons
    );
    // Allowing the file (a new version of the policy) makes it pass: the
    // verifier does not keep using a stale parsed policy.
    let mut policy = policy;
    policy["runtime"]["digests"]["/usr/bin/evil"] = json!([hex::encode(
        tpm::crypto::HashAlg::Sha256.digest(&[b"rootkit"])
    )]);
    let _: Value = op.put("/v1/policies/ima", &policy).await.unwrap();
    let r = ag.attest().await.unwrap();
    assert_eq!(r.state, NodeState::Trusted, "{:?}", r.reasons);
    assert_eq!(ag.challenge().await.unwrap().ima_offset, 3);
    v.shutdown().await;
}

/// Two replicas on one database: any replica takes any request (nonces in
/// the DB), and the unreachable sweep marks each agent once.
pub async fn two_replicas(db_url: String) {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path();
    let ca = EkCa::new(data, "ek-ca");
    let interval = Duration::from_millis(1000);
    let a = start_verifier(
        data,
        Some(db_url.clone()),
        vec![ca.pem_path.clone()],
        interval,
        "replica-a",
    )
    .await;
    let b = start_verifier(
        data,
        Some(db_url),
        vec![ca.pem_path.clone()],
        interval,
        "replica-b",
    )
    .await;
    let op = operator_client(data, &a.url);
    let hook = WebhookSink::start(0).await;
    let _: Value = op
        .put("/v1/webhooks", &json!({"url": hook.url}))
        .await
        .unwrap();

    let n_agents = 6;
    let mut agents = Vec::new();
    for i in 0..n_agents {
        let id = format!("agent-{i}");
        let mut ag = SimAgent::new(10 + i as u8, &id, NodeKind::Host, &ca, data, &a.url);
        let resp = ag.enroll().await.unwrap();
        // Activate through the other replica.
        ag.client = agent_client(data, &b.url, &id);
        ag.activate(&resp).await.unwrap();
        // Challenge from one replica, evidence to the other.
        ag.client = agent_client(data, &a.url, &id);
        let ch = ag.challenge().await.unwrap();
        let ev = ag.evidence_for(&ch);
        ag.client = agent_client(data, &b.url, &id);
        let r = ag.send(&ev).await.unwrap();
        assert_eq!(r.state, NodeState::Trusted, "{id}: {:?}", r.reasons);
        // The nonce was consumed for both replicas.
        ag.client = agent_client(data, &a.url, &id);
        let (st, _) = status_of(ag.send(&ev).await);
        assert_eq!(st, 422);
        // The challenge B carried, answered at A (whose copy of the row is
        // now behind), then A's at B: each replica sees the other's rounds.
        let mut carried = r.next_challenge.clone().unwrap();
        for (round, url) in [&a.url, &b.url, &a.url].into_iter().enumerate() {
            ag.client = agent_client(data, url, &id);
            let ev = ag.evidence_for(&carried);
            let r = ag.send(&ev).await.unwrap();
            assert_eq!(
                r.state,
                NodeState::Trusted,
                "{id} round {round}: {:?}",
                r.reasons
            );
            let other = if url == &a.url { &b.url } else { &a.url };
            ag.client = agent_client(data, other, &id);
            let (st, _) = status_of(ag.send(&ev).await);
            assert_eq!(st, 422, "{id} round {round}: replay at the other replica");
            carried = r.next_challenge.unwrap();
        }
        ag.client = agent_client(data, &a.url, &id);
        agents.push(ag);
    }
    // Silence: every agent becomes unreachable, exactly once.
    let ok = wait_until(Duration::from_secs(20), || {
        let op = op.clone();
        async move {
            let nodes: Value = op.get("/v1/nodes").await.unwrap();
            nodes
                .as_array()
                .unwrap()
                .iter()
                .all(|n| n["state"] == "unreachable")
        }
    })
    .await;
    assert!(ok, "agents did not all become unreachable");
    tokio::time::sleep(interval * 3).await;
    let mut by = std::collections::BTreeMap::<String, usize>::new();
    for i in 0..n_agents {
        let n: Value = op.get(&format!("/v1/nodes/agent-{i}")).await.unwrap();
        let t: Vec<&Value> = n["transitions"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["state"] == "unreachable")
            .collect();
        assert_eq!(t.len(), 1, "agent-{i}: {n}");
        assert!(
            n["reasons"][0].as_str().unwrap().contains("no evidence"),
            "{n}"
        );
        *by.entry(t[0]["replica"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    eprintln!("unreachable transitions by replica: {by:?}");
    let ok = wait_until(Duration::from_secs(10), || {
        let hook = &hook;
        let done = (0..n_agents).all(|i| {
            hook.states_for(&format!("agent-{i}"))
                .iter()
                .filter(|(_, s)| s == "unreachable")
                .count()
                == 1
        });
        async move { done }
    })
    .await;
    assert!(
        ok,
        "each agent's unreachable notification exactly once: {:?}",
        hook.bodies.lock().unwrap()
    );
    // Evidence brings an agent back.
    let ag = &mut agents[0];
    let r = ag.attest().await.unwrap();
    assert_eq!(r.state, NodeState::Trusted, "{:?}", r.reasons);
    a.shutdown().await;
    b.shutdown().await;
}

/// Many agents' rounds at once: they commit together (group commit), each
/// row exactly once per round, and each carried nonce is single use.
pub async fn concurrent_rounds(db_url: Option<String>) {
    let (tmp, ca, v, op) = one_verifier(db_url).await;
    let data = tmp.path();
    const AGENTS: usize = 16;
    const ROUNDS: usize = 6;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..AGENTS {
        let id = format!("agent-{i}");
        let mut ag = SimAgent::new(40 + i as u8, &id, NodeKind::Host, &ca, data, &v.url);
        ag.enroll_and_activate().await;
        // The client, not the agent, crosses the awaits (the agent's TPM
        // connection is not Sync).
        let client = ag.client.clone();
        tasks.spawn(async move {
            let evidence_path = format!("/v1/agents/{id}/evidence");
            let mut ch: Challenge = client
                .post_empty(&format!("/v1/agents/{id}/challenge"))
                .await
                .unwrap();
            let mut last = None;
            for round in 0..ROUNDS {
                let ev = ag.evidence_for(&ch);
                let r: AttestationResult = client.post(&evidence_path, &ev).await.unwrap();
                assert_eq!(
                    r.state,
                    NodeState::Trusted,
                    "{id} round {round}: {:?}",
                    r.reasons
                );
                ch = r.next_challenge.expect("next challenge");
                last = Some(ev);
            }
            let again: Result<AttestationResult, _> =
                client.post(&evidence_path, &last.unwrap()).await;
            let (st, _) = status_of(again);
            assert_eq!(st, 422, "{id}: the last nonce again");
            id
        });
    }
    let mut done = 0;
    while let Some(id) = tasks.join_next().await {
        let id = id.unwrap();
        let n: Value = op.get(&format!("/v1/nodes/{id}")).await.unwrap();
        assert_eq!(n["state"], "trusted", "{n}");
        assert_eq!(n["attestations"], ROUNDS as u64, "{n}");
        done += 1;
    }
    assert_eq!(done, AGENTS);
    v.shutdown().await;
}

/// The OpenAPI document lists every route of the router.
pub fn openapi_covers_routes(doc: &str) {
    let v: Value = serde_json::from_str(doc).unwrap();
    assert_eq!(v["openapi"].as_str().unwrap().get(..3), Some("3.1"));
    for (method, path) in verifier::api::ROUTES {
        assert!(
            v["paths"][path][method].is_object(),
            "docs/openapi.json lacks {method} {path}"
        );
    }
    // and nothing more
    let n: usize = v["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|p| {
            p.as_object()
                .unwrap()
                .keys()
                .filter(|k| *k != "parameters")
                .count()
        })
        .sum();
    assert_eq!(n, verifier::api::ROUTES.len());
}

pub fn data_path(p: &Path) -> String {
    p.display().to_string()
}

/// A carried challenge answered late — several intervals after it was
/// issued, the node marked unreachable meanwhile, as when the verifier or
/// the agent's TPM falls behind — is still taken and brings the node back;
/// a nonce older than its lifetime (one interval plus at least 10 s) is
/// refused.
pub async fn late_answers(db_url: Option<String>) {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path();
    let ca = EkCa::new(data, "ek-ca");
    let interval = Duration::from_millis(300);
    let v = start_verifier(data, db_url, vec![ca.pem_path.clone()], interval, "r1").await;
    let op = operator_client(data, &v.url);
    let mut ag = SimAgent::new(11, "late-1", NodeKind::Host, &ca, data, &v.url);
    ag.enroll_and_activate().await;
    let r = ag.attest().await.unwrap();
    assert_eq!(r.state, NodeState::Trusted, "{:?}", r.reasons);
    let carried = r.next_challenge.unwrap();
    // Five intervals: past the two after which the sweep marks the node.
    let ok = wait_until(Duration::from_secs(10), || {
        let op = op.clone();
        async move {
            let n: Value = op.get("/v1/nodes/late-1").await.unwrap();
            n["state"] == "unreachable"
        }
    })
    .await;
    assert!(ok, "the node did not become unreachable");
    tokio::time::sleep(interval * 5).await;
    let ev = ag.evidence_for(&carried);
    let r = ag.send(&ev).await.unwrap();
    assert_eq!(r.state, NodeState::Trusted, "{:?}", r.reasons);
    // Past the lifetime the nonce is refused, and a new challenge works.
    let carried = r.next_challenge.unwrap();
    tokio::time::sleep(interval + Duration::from_millis(10_300)).await;
    let ev = ag.evidence_for(&carried);
    let (st, msg) = status_of(ag.send(&ev).await);
    assert_eq!(st, 422, "{msg}");
    assert!(msg.contains("expired"), "{msg}");
    let r = ag.attest().await.unwrap();
    assert_eq!(r.state, NodeState::Trusted, "{:?}", r.reasons);
    v.shutdown().await;
}
