//! Issue 5, Must show 1: a host attested end to end.
//!
//! swtpm stands in for the host's hardware TPM, manufactured by
//! `swtpm_setup --create-ek-cert --create-platform-cert` (EK certificate
//! from swtpm's local CA, in NV like a vendor's). swtpm has no firmware, so
//! the test plays the firmware: it extends PCRs 4 and 8 and writes the
//! matching crypto-agile event log (a boot application, a grub kernel
//! command line). `trustcloud verifier` trusts swtpm's local CA;
//! `trustcloud agent` enrolls, activates its AK and becomes trusted under a
//! PCR + measured-boot policy; extending PCR 8 afterwards makes the node
//! fail within one interval, with a reason naming PCR 8; a loopback webhook
//! receives both transitions.
//!
//! A second test runs `trustcloud up` and checks that `trustcloud node list
//! --json` shows the host trusted.

#[path = "support/attest.rs"]
mod attest_support;
mod support;

use std::collections::BTreeMap;
use std::io::BufRead;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use agent::Method;
use attest::eventlog::event_type;
use attest::policy::{MeasuredBootPolicy, Policy};
use attest::{Event, EventDigest, EventLog, SpecIdEvent};
use attest_support::{manufacture_swtpm, wait_for, Proc, Verifier, WebhookReceiver};
use support::ServerBuilder;
use tpm::crypto::HashAlg;
use tpmclient::transport::Timeouts;
use tpmclient::{Auth, StartupType, Tpm};

const AGENT_ID: &str = "host1";
const INTERVAL: Duration = Duration::from_secs(1);
const KERNEL_CMDLINE: &str = "console=ttyS0 root=/dev/vda1 quiet";

/// A client to the swtpm that lets other clients (the agent) in between
/// commands.
fn shared_client(tcti: &str) -> Tpm {
    let t: tpmclient::Tcti = tcti.parse().unwrap();
    Tpm::new(t.connect_shared(Timeouts::default()).unwrap())
}

fn event(pcr: u32, ty: u32, data: &[u8], digest: Vec<u8>) -> Event {
    Event {
        pcr_index: pcr,
        event_type: ty,
        digests: vec![EventDigest {
            alg: HashAlg::Sha256.id(),
            digest,
        }],
        data: data.to_vec(),
    }
}

/// Plays the firmware and boot loader: extends PCRs 4 and 8 and returns
/// the event log that records it.
fn boot(tpm: &mut Tpm) -> EventLog {
    let app_digest = HashAlg::Sha256.digest(&[b"test boot loader image"]);
    let cmdline = format!("kernel_cmdline: {KERNEL_CMDLINE}\0");
    let cmdline_digest = HashAlg::Sha256.digest(&[cmdline.as_bytes()]);
    let sep = HashAlg::Sha256.digest(&[&[0u8; 4]]);
    let events = vec![
        event(
            4,
            event_type::EV_EFI_BOOT_SERVICES_APPLICATION,
            b"\\EFI\\BOOT\\BOOTX64.EFI",
            app_digest,
        ),
        event(4, event_type::EV_SEPARATOR, &[0; 4], sep.clone()),
        event(8, event_type::EV_IPL, cmdline.as_bytes(), cmdline_digest),
    ];
    for e in &events {
        tpm.pcr_extend(
            e.pcr_index,
            &Auth::empty(),
            &[(HashAlg::Sha256, &e.digests[0].digest)],
        )
        .unwrap();
    }
    EventLog {
        spec_id: SpecIdEvent {
            platform_class: 0,
            spec_version_minor: 0,
            spec_version_major: 2,
            spec_errata: 0,
            uintn_size: 2,
            algorithms: vec![attest::eventlog::AlgorithmSize {
                alg: HashAlg::Sha256.id(),
                digest_size: 32,
            }],
            vendor_info: vec![],
        },
        events,
    }
}

fn state_of(node: &serde_json::Value) -> String {
    node["state"].as_str().unwrap_or("").to_string()
}

#[test]
fn swtpm_host_enrolls_becomes_trusted_and_fails_on_a_pcr_change() {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let (state, anchors) = manufacture_swtpm(&dir.path().join("swtpm"));
    let swtpm = ServerBuilder::swtpm().state_dir(&state).start();
    let tcti = swtpm.tcti();

    // Firmware: start the TPM, measure the boot, write the log.
    let mut fw = shared_client(&tcti);
    assert!(fw.startup(StartupType::Clear).unwrap());
    let log = boot(&mut fw);
    let log_path = dir.path().join("binary_bios_measurements");
    std::fs::write(&log_path, log.to_bytes()).unwrap();
    let replayed = log.replay(HashAlg::Sha256).unwrap();

    let verifier = Verifier::start(&dir.path().join("verifier"), &anchors, "1s");
    let op = verifier.operator();
    let hook = WebhookReceiver::start();
    let _: serde_json::Value = op
        .call(
            Method::PUT,
            "webhook",
            "/webhooks",
            Some(&serde_json::json!({"url": hook.url})),
        )
        .unwrap();

    // Reference policy: PCRs 4 and 8 as measured, and the measured-boot
    // facts of the good log (boot application, kernel command line).
    let mut pcrs = BTreeMap::new();
    for i in [4u32, 8] {
        pcrs.insert(i, vec![hex::encode(&replayed[&i])]);
    }
    let measured_boot = MeasuredBootPolicy::generate_from(&log);
    assert_eq!(
        measured_boot.kernel_cmdlines,
        Some(vec![KERNEL_CMDLINE.to_string()])
    );
    assert_eq!(measured_boot.replay_pcrs, vec![4, 8]);
    let policy = Policy {
        name: "host-good".into(),
        description: "swtpm host e2e".into(),
        pcrs: BTreeMap::from([("sha256".to_string(), pcrs)]),
        measured_boot: Some(measured_boot),
        runtime: None,
    };
    let _: serde_json::Value = op
        .call(Method::PUT, "policy", "/policies/host-good", Some(&policy))
        .unwrap();

    let (cert, key, ca) = verifier.issue_agent_cert(AGENT_ID);
    let agent_cmd = || {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_trustcloud"));
        cmd.args([
            "agent",
            "--json",
            "--tpm",
            &tcti,
            "--verifier",
            &verifier.url,
        ])
        .args(["--id", AGENT_ID, "--cert"])
        .arg(&cert)
        .arg("--key")
        .arg(&key)
        .arg("--ca")
        .arg(&ca)
        .arg("--event-log")
        .arg(&log_path)
        .arg("--ima-log")
        .arg(dir.path().join("no-ima"))
        .arg("--state-dir")
        .arg(dir.path().join("agent-state"));
        cmd
    };
    let agent_logs = [dir.path().join("agent1.log"), dir.path().join("agent2.log")];
    let mut agent = Proc::spawn(agent_cmd(), agent_logs[0].clone(), "trustcloud agent");
    let logs = || {
        let read = |p: &std::path::Path| std::fs::read_to_string(p).unwrap_or_default();
        format!(
            "--- agent log ---\n{}{}\n--- verifier log ---\n{}",
            read(&agent_logs[0]),
            read(&agent_logs[1]),
            verifier.proc.log_text()
        )
    };

    // Enrolled (EK certificate chained to swtpm's local CA, AK activated).
    let node = wait_for(
        "the agent to enroll",
        Duration::from_secs(30),
        || {
            verifier
                .node(&op, AGENT_ID)
                .filter(|n| n["activated"] == true)
        },
        logs,
    );
    assert_eq!(node["kind"], "host");
    let issuer = node["ek_issuer"].as_str().unwrap_or_default().to_string();
    assert!(issuer.contains("swtpm"), "EK issuer {issuer:?}");
    let assign = |name: &str| {
        let _: serde_json::Value = op
            .call(
                Method::PUT,
                "policy assignment",
                &format!("/nodes/{AGENT_ID}/policy"),
                Some(&serde_json::json!({ "policy": name })),
            )
            .unwrap();
    };

    // The measured-boot part is evaluated for real: the same PCRs with
    // another allowed kernel command line fail, naming the command line.
    let mut other = policy.clone();
    other.name = "host-other-cmdline".into();
    if let Some(mb) = other.measured_boot.as_mut() {
        mb.kernel_cmdlines = Some(vec!["console=ttyS0 init=/bin/sh".into()]);
    }
    let _: serde_json::Value = op
        .call(
            Method::PUT,
            "policy",
            "/policies/host-other-cmdline",
            Some(&other),
        )
        .unwrap();
    assign("host-other-cmdline");
    // The verifier asks for the event log only when it needs it (after an
    // enrollment, or when PCRs it covers changed), not after a policy
    // change: restart the agent (it enrolls again) so the log is appraised
    // under the new policy.
    agent.terminate(Duration::from_secs(10));
    agent = Proc::spawn(agent_cmd(), agent_logs[1].clone(), "trustcloud agent");
    let node = wait_for(
        "the host to fail under a policy allowing another kernel command line",
        Duration::from_secs(20),
        || {
            verifier
                .node(&op, AGENT_ID)
                .filter(|n| state_of(n) == "failed")
        },
        logs,
    );
    let why = node["reasons"].to_string();
    assert!(
        why.contains(KERNEL_CMDLINE),
        "reason does not name the command line: {why}"
    );
    assert!(!why.contains("PCR 8"), "PCRs are as measured: {why}");

    assign("host-good");
    let node = wait_for(
        "the host to become trusted",
        Duration::from_secs(20),
        || {
            verifier
                .node(&op, AGENT_ID)
                .filter(|n| state_of(n) == "trusted")
        },
        logs,
    );
    assert_eq!(node["policy"], "host-good");
    assert_eq!(node["reasons"], serde_json::json!([]));

    // Something changes a policy-covered PCR.
    let mut intruder = shared_client(&tcti);
    intruder
        .pcr_extend(8, &Auth::empty(), &[(HashAlg::Sha256, &[0xee; 32])])
        .unwrap();
    let changed = Instant::now();
    let node = wait_for(
        "the host to fail after PCR 8 changed",
        Duration::from_secs(15),
        || {
            verifier
                .node(&op, AGENT_ID)
                .filter(|n| state_of(n) == "failed")
        },
        logs,
    );
    let elapsed = changed.elapsed();
    let reasons: Vec<String> = node["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap_or_default().to_string())
        .collect();
    assert!(
        reasons.iter().any(|r| r.contains("PCR 8")),
        "no reason names PCR 8: {reasons:?}"
    );
    // The next evidence after the change is due within one interval; allow
    // for one round trip on a loaded debug build.
    assert!(
        elapsed <= INTERVAL + Duration::from_secs(2),
        "failed only after {elapsed:?} (interval {INTERVAL:?})"
    );
    eprintln!("failed {elapsed:?} after the PCR change; reasons: {reasons:?}");

    // The webhook saw both transitions, in order.
    let bodies = wait_for(
        "webhook notifications of both transitions",
        Duration::from_secs(15),
        || {
            let b: Vec<serde_json::Value> = hook
                .bodies()
                .iter()
                .filter_map(|s| serde_json::from_str(s).ok())
                .filter(|v: &serde_json::Value| v["node"] == AGENT_ID)
                .collect();
            // The failure after the PCR change, and the trusted state
            // (under the good policy) it left.
            let f = b.iter().position(|v| {
                v["state"] == "failed" && v["reasons"].to_string().contains("PCR 8")
            })?;
            let t = b.get(..f)?.iter().rposition(|v| v["state"] == "trusted")?;
            Some((b, t, f))
        },
        || format!("received: {:?}\n{}", hook.bodies(), logs()),
    );
    let (b, t, f) = bodies;
    eprintln!(
        "webhook: {:?}",
        b.iter()
            .map(|v| format!("{} -> {}", v["previous_state"], v["state"]))
            .collect::<Vec<_>>()
    );
    assert!(
        b.get(t + 1..f)
            .unwrap()
            .iter()
            .all(|v| v["state"] != "failed"),
        "another failure between trusted and the PCR change: {b:?}"
    );
    assert_eq!(b[f]["previous_state"], "trusted", "{b:?}");
    let why = b[f]["reasons"].to_string();
    assert!(
        why.contains("PCR 8"),
        "failed notification without PCR 8: {why}"
    );

    // The operator deletes the node: the agent notices (unknown agent)
    // and enrolls again by itself.
    let _: serde_json::Value = op
        .call::<(), _>(
            Method::DELETE,
            "node deletion",
            &format!("/nodes/{AGENT_ID}"),
            None,
        )
        .unwrap();
    wait_for(
        "the agent to enroll again after its node was deleted",
        Duration::from_secs(20),
        || {
            verifier
                .node(&op, AGENT_ID)
                .filter(|n| n["activated"] == true)
        },
        logs,
    );
    // SIGKILL: the agent's EK and AK stay loaded in swtpm (no resource
    // manager), filling its object slots; the next agent must cope.
    drop(agent);

    // `--once --json`: one attestation with the saved AK; PCR 8 is still
    // wrong, so it prints the failure and exits 1.
    let mut once = Command::new(env!("CARGO_BIN_EXE_trustcloud"));
    once.args([
        "agent",
        "--once",
        "--json",
        "--tpm",
        &tcti,
        "--verifier",
        &verifier.url,
    ])
    .args(["--id", AGENT_ID, "--cert"])
    .arg(&cert)
    .arg("--key")
    .arg(&key)
    .arg("--ca")
    .arg(&ca)
    .arg("--event-log")
    .arg(&log_path)
    .arg("--ima-log")
    .arg(dir.path().join("no-ima"))
    .arg("--state-dir")
    .arg(dir.path().join("agent-state"));
    let out = support::run_bounded(once, None, Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let line: serde_json::Value = serde_json::from_str(out.stdout_str().trim())
        .unwrap_or_else(|e| panic!("--once printed no JSON ({e}): {out:?}\n{}", out.stderr));
    assert_eq!(line["id"], AGENT_ID);
    assert_eq!(line["state"], "failed", "{line}");
    assert!(line["reasons"].to_string().contains("PCR 8"), "{line}");
    eprintln!("e2e took {:?}", started.elapsed());
}

/// The agent keeps going across a verifier outage: it retries with
/// backoff while the verifier is down and resumes attesting (same
/// enrollment, same AK) when it is back on the same address.
#[test]
fn agent_reconnects_after_a_verifier_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (state, anchors) = manufacture_swtpm(&dir.path().join("swtpm"));
    let swtpm = ServerBuilder::swtpm().state_dir(&state).start();
    let tcti = swtpm.tcti();
    let listen = format!("127.0.0.1:{}", support::free_port_pair());
    let vdata = dir.path().join("verifier");
    let mut verifier = Verifier::start_on(&vdata, &anchors, "500ms", &listen);
    let op = verifier.operator();
    let (cert, key, ca) = verifier.issue_agent_cert("host2");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_trustcloud"));
    cmd.args([
        "agent",
        "--tpm",
        &tcti,
        "--verifier",
        &verifier.url,
        "--id",
        "host2",
    ])
    .arg("--cert")
    .arg(&cert)
    .arg("--key")
    .arg(&key)
    .arg("--ca")
    .arg(&ca)
    .arg("--event-log")
    .arg(dir.path().join("no-event-log"))
    .arg("--ima-log")
    .arg(dir.path().join("no-ima"))
    .arg("--state-dir")
    .arg(dir.path().join("agent-state"));
    let agent = Proc::spawn(cmd, dir.path().join("agent.log"), "trustcloud agent");
    let attestations = |op: &agent::client::ApiClient, v: &Verifier| {
        v.node(op, "host2")
            .and_then(|n| n["attestations"].as_u64())
            .unwrap_or(0)
    };
    wait_for(
        "the agent to attest",
        Duration::from_secs(30),
        || (attestations(&op, &verifier) >= 2).then_some(()),
        || agent.log_text(),
    );
    let ak = std::fs::read(dir.path().join("agent-state/ak-ecc.pub")).unwrap();

    verifier.proc.terminate(Duration::from_secs(10));
    std::thread::sleep(Duration::from_secs(2));
    let verifier = Verifier::start_on(&vdata, &anchors, "500ms", &listen);
    let op = verifier.operator();
    let before = attestations(&op, &verifier);
    wait_for(
        "the agent to attest again after the verifier restarted",
        Duration::from_secs(40),
        || (attestations(&op, &verifier) >= before + 2).then_some(()),
        || format!("{}\n{}", agent.log_text(), verifier.proc.log_text()),
    );
    let log = agent.log_text();
    assert!(
        log.contains("verifier unreachable"),
        "no outage logged:\n{log}"
    );
    assert_eq!(
        std::fs::read(dir.path().join("agent-state/ak-ecc.pub")).unwrap(),
        ak,
        "the AK must survive the outage"
    );
}

#[test]
fn up_brings_this_host_to_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_trustcloud"));
    cmd.args(["up", "--software-tpm", "--id", "uphost", "--data-dir"])
        .arg(&data)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(
            std::fs::File::create(dir.path().join("up.log")).unwrap(),
        ));
    let mut child = cmd.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut up = Proc {
        child,
        log: dir.path().join("up.log"),
        what: "trustcloud up".into(),
    };
    let (tx, rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let _ = tx.send(line);
        }
    });
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !seen.iter().any(|l: &String| l == "host uphost: trusted") {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(l) => seen.push(l),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                panic!("`up` exited: {seen:?}\n{}", up.log_text())
            }
        }
        assert!(
            Instant::now() < deadline,
            "timed out after 60s waiting for `host uphost: trusted`: {seen:?}\n{}",
            up.log_text()
        );
    }
    assert!(
        seen.iter().any(|l| l.contains("NO HARDWARE ROOT OF TRUST")),
        "the software TPM must be flagged: {seen:?}"
    );
    assert!(
        seen.iter()
            .any(|l| l.starts_with("verifier: https://127.0.0.1:")),
        "{seen:?}"
    );

    let out = Command::new(env!("CARGO_BIN_EXE_trustcloud"))
        .args(["node", "list", "--json", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let nodes: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let host = nodes
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["id"] == "uphost")
        .unwrap_or_else(|| panic!("no uphost in {nodes}"));
    assert_eq!(host["state"], "trusted", "{host}");
    assert_eq!(host["kind"], "host", "{host}");
    assert_eq!(host["policy"], "host-uphost", "{host}");
    assert_eq!(
        host["hardware_root"], false,
        "the local engine is a software TPM: {host}"
    );
    assert!(
        host["ek_issuer"]
            .as_str()
            .unwrap_or_default()
            .contains("vTPM CA"),
        "{host}"
    );

    // Ctrl-C (SIGTERM here) stops everything cleanly.
    let status = up
        .terminate(Duration::from_secs(20))
        .expect("`up` did not stop");
    assert!(
        status.success(),
        "`up` exited with {status}\n{}",
        up.log_text()
    );
    let rest: Vec<String> = rx.try_iter().collect();
    assert!(rest.iter().any(|l| l == "stopped"), "{rest:?}");
    assert!(
        !data.join("verifier.json").exists(),
        "verifier.json left behind"
    );
}
