//! Verifier at scale (issue 5, "Must show 5"): simulated agents — our TPM
//! engine in process, ECC P-256 EK and AK (RSA-2048 AK in one row), booted with the real OVMF event
//! log — against the real verifier (`target/release/trustcloud verifier`
//! as a child process: HTTPS with mutual TLS, SQLite or PostgreSQL), so
//! its CPU and memory come from /proc/PID and the bench process's own CPU
//! is the client side.
//!
//! ```text
//! cargo build --release -p trustcloud          # the verifier under test
//! cargo bench -p verifier --bench verifier_scale [-- --agents K]
//! ```
//!
//! Phases (`VERIFIER_SCALE_ONLY=appraise,sqlite,postgres,continuous`):
//! 1. `appraise`: the pure appraisal (`attest::appraise`, and the
//!    verifier's adapter that also parses the stored AK and history), 1
//!    and 2 threads, no I/O.
//! 2. `sqlite` / `postgres`: closed loop of N concurrent agents
//!    (`VERIFIER_SCALE_CLIENTS`, default 32), each challenge → quote →
//!    evidence, the event log sent every time, again with 1,000 new IMA
//!    entries per round, and with RSA-2048 AKs instead of ECDSA P-256 (the
//!    AK is the verifier's largest cost); verifications per second.
//! 3. `continuous`: K agents (default 10,000; `--agents K` or
//!    `VERIFIER_SCALE_AGENTS`) on a fixed 2 s schedule (the interval the
//!    verifier asks for); achieved interval between a node's successive
//!    verified evidences, verifier CPU and RSS, failures, node states.
//!
//! `VERIFIER_SCALE_QUICK=1` runs everything small (< 60 s) as a smoke check.
//! Other knobs: `VERIFIER_SCALE_SECS` (measured seconds per closed-loop
//! row, default 10), `VERIFIER_SCALE_RUN_SECS` (measured seconds of the
//! continuous phase, default 30), `VERIFIER_SCALE_SETTLE_MAX_SECS` (longest
//! wait for the continuous phase to catch up after its start before the
//! window opens anyway, default 60), `VERIFIER_SCALE_BIN` (verifier binary).
//!
//! The anchor is Keylime's *published* figure (2,500 quotes/s on 6 cores
//! in its paper), not a side-by-side run: Keylime is not installed here.

#[path = "../tests/common/mod.rs"]
mod common;

/// The simulated agents and the pure appraisal allocate as the
/// `trustcloud agent` and `trustcloud verifier` processes do (mimalloc:
/// crates/cli/src/allocator.rs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use attest::eventlog::EventLog;
use attest::protocol::{AttestationResult, Challenge, Evidence, ImaEvidence, NodeKind, NodeState};
use common::{agent_client, operator_client, scenarios, EkCa, Shared, SimAgent, OVMF_LOG};
use serde_json::{json, Value};
use tokio::sync::Semaphore;
use tpm::constants::rh;
use tpm::crypto::{Drbg, HashAlg};
use tpm::wire::Codec;
use tpmclient::{Auth, StartupType};
use verifier::client::ClientError;
use vtpm::ekcert::EkKind;

/// Keylime's published throughput: 2,500 quotes/s on 6 cores.
const KEYLIME_PER_CORE: f64 = 2500.0 / 6.0;
const IMA_BATCH: usize = 1000;

struct Opts {
    quick: bool,
    agents: usize,
    clients: usize,
    secs: f64,
    run_secs: f64,
    /// Longest wait for the continuous phase to catch up after its start.
    settle_max_secs: f64,
    interval_ms: u64,
    only: Vec<String>,
    bin: PathBuf,
}

fn opts() -> Opts {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let quick = env("VERIFIER_SCALE_QUICK").is_some_and(|v| v != "0");
    let args: Vec<String> = std::env::args().collect();
    let arg_agents = args
        .iter()
        .position(|a| a == "--agents")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok());
    let num = |k: &str, d: f64| env(k).and_then(|v| v.parse().ok()).unwrap_or(d);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    Opts {
        quick,
        agents: arg_agents
            .unwrap_or(num("VERIFIER_SCALE_AGENTS", if quick { 40.0 } else { 10_000.0 }) as usize),
        clients: num("VERIFIER_SCALE_CLIENTS", if quick { 8.0 } else { 32.0 }) as usize,
        secs: num("VERIFIER_SCALE_SECS", if quick { 2.0 } else { 10.0 }),
        run_secs: num("VERIFIER_SCALE_RUN_SECS", if quick { 5.0 } else { 30.0 }),
        settle_max_secs: num(
            "VERIFIER_SCALE_SETTLE_MAX_SECS",
            if quick { 5.0 } else { 60.0 },
        ),
        interval_ms: num("VERIFIER_SCALE_INTERVAL_MS", 2000.0) as u64,
        only: env("VERIFIER_SCALE_ONLY")
            .map(|v| v.split(',').map(str::to_string).collect())
            .unwrap_or_else(|| {
                ["appraise", "sqlite", "postgres", "continuous"]
                    .map(String::from)
                    .to_vec()
            }),
        bin: env("VERIFIER_SCALE_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("target/release/trustcloud")),
    }
}

// ---------------------------------------------------------------- /proc

fn clk_tck() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// utime + stime of a process in seconds (`/proc/PID/stat` fields 14, 15).
fn cpu_secs(pid: &str) -> f64 {
    let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    let Some(rest) = s.rfind(')').map(|i| &s[i + 2..]) else {
        return 0.0;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let t = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (t(11) + t(12)) / clk_tck()
}

/// Whole-machine idle (idle + iowait) and steal time in CPU-seconds
/// (`/proc/stat`, first line): whether a run was CPU-bound, and whether
/// the host took cycles away from this VM.
fn machine_idle_steal() -> (f64, f64) {
    let s = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let f: Vec<f64> = s
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .map(|v| v.parse().unwrap_or(0.0))
        .collect();
    let t = |i: usize| f.get(i).copied().unwrap_or(0.0);
    ((t(3) + t(4)) / clk_tck(), t(7) / clk_tck())
}

fn ppid_of(pid: &str) -> Option<String> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 2..];
    rest.split_whitespace().nth(1).map(str::to_string)
}

/// (VmRSS, VmHWM) in MiB.
fn rss_mib(pid: &str) -> (f64, f64) {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let get = |k: &str| {
        s.lines()
            .find(|l| l.starts_with(k))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
            / 1024.0
    };
    (get("VmRSS:"), get("VmHWM:"))
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// The PostgreSQL server listening on `port` and its backends.
fn pg_pids(port: u16) -> Vec<String> {
    let needle = format!("-p {port}");
    let mut all = Vec::new();
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return all;
    };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if name.chars().all(|c| c.is_ascii_digit()) {
            all.push(name);
        }
    }
    let master: Vec<String> = all
        .iter()
        .filter(|p| {
            std::fs::read(format!("/proc/{p}/cmdline"))
                .map(|c| {
                    String::from_utf8_lossy(&c)
                        .replace('\0', " ")
                        .contains(&needle)
                })
                .unwrap_or(false)
        })
        .cloned()
        .collect();
    let mut out = master.clone();
    for p in &all {
        if let Some(pp) = ppid_of(p) {
            if master.contains(&pp) {
                out.push(p.clone());
            }
        }
    }
    out
}

/// Seconds during which some task of the machine waited for I/O
/// (`/proc/pressure/io`, "some" total, in µs; 0 where PSI is off). The
/// disk of this VM has slow periods in which a WAL write or fsync takes
/// seconds; a run in one is not comparable with one outside.
fn io_stall_secs() -> f64 {
    std::fs::read_to_string("/proc/pressure/io")
        .ok()
        .and_then(|s| {
            let some = s.lines().find(|l| l.starts_with("some"))?;
            let total = some
                .split_whitespace()
                .find_map(|f| f.strip_prefix("total="))?;
            total.parse::<f64>().ok()
        })
        .map_or(0.0, |us| us / 1e6)
}

/// A sample of server-side CPU (verifier, plus PostgreSQL when used).
#[derive(Clone, Copy)]
struct Sample {
    at: Instant,
    verifier: f64,
    db: f64,
    client: f64,
    idle: f64,
    steal: f64,
    io_stall: f64,
}

fn sample(v: &VerifierProc, pg_port: Option<u16>) -> Sample {
    let (idle, steal) = machine_idle_steal();
    Sample {
        at: Instant::now(),
        verifier: cpu_secs(&v.pid.to_string()),
        db: pg_port
            .map(|p| pg_pids(p).iter().map(|x| cpu_secs(x)).sum())
            .unwrap_or(0.0),
        client: cpu_secs("self"),
        idle,
        steal,
        io_stall: io_stall_secs(),
    }
}

// ---------------------------------------------------------------- verifier

struct VerifierProc {
    child: Child,
    pid: u32,
    url: String,
}

impl VerifierProc {
    fn spawn(bin: &Path, data: &Path, db: Option<&str>, anchor: &Path, interval_ms: u64) -> Self {
        assert!(
            bin.exists(),
            "{} is missing: run `cargo build --release -p trustcloud` first (or set VERIFIER_SCALE_BIN)",
            bin.display()
        );
        let log = std::fs::File::create(data.join("verifier.log")).unwrap();
        let mut cmd = Command::new(bin);
        cmd.arg("verifier")
            .arg("--data-dir")
            .arg(data)
            .args(["--listen", "127.0.0.1:0", "--replica-id", "bench"])
            .arg("--trust-anchor")
            .arg(anchor)
            .arg("--interval")
            .arg(format!("{interval_ms}ms"))
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        if let Some(db) = db {
            cmd.arg("--db").arg(db);
        }
        let mut child = cmd.spawn().unwrap();
        let pid = child.id();
        let status = data.join("verifier.json");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(st) = child.try_wait().unwrap() {
                panic!(
                    "verifier exited ({st}): {}",
                    std::fs::read_to_string(data.join("verifier.log")).unwrap_or_default()
                );
            }
            if let Ok(text) = std::fs::read_to_string(&status) {
                if let Ok(s) = serde_json::from_str::<verifier::StatusFile>(&text) {
                    if s.pid == pid {
                        return VerifierProc {
                            child,
                            pid,
                            url: s.url,
                        };
                    }
                }
            }
            assert!(Instant::now() < deadline, "verifier did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for VerifierProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------- agents

/// A simulated agent with its own engine seed (like `SimAgent::new`, whose
/// seed is one octet).
/// The attestation key's algorithm. ECDSA P-256 is cheap for the agent's
/// TPM to sign with and costly to verify; RSA-2048 (Keylime's and
/// tpm2-tools' default AK) is the other way round, so the throughput phase
/// measures both.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ak {
    EccP256,
    Rsa2048,
}

impl Ak {
    fn template(self) -> tpm::types::Public {
        match self {
            Ak::EccP256 => tpmclient::templates::ak_ecc_p256(),
            Ak::Rsa2048 => tpmclient::templates::ak_rsa2048(),
        }
    }

    fn label(self) -> &'static str {
        match self {
            Ak::EccP256 => "ECDSA P-256 AK",
            Ak::Rsa2048 => "RSA-2048 AK",
        }
    }
}

fn make_agent(i: u32, ca: &EkCa, data: &Path, url: &str, log: &EventLog, ak: Ak) -> SimAgent {
    let mut seed = [0xb5u8; 32];
    seed[..4].copy_from_slice(&i.to_le_bytes());
    let mut engine = tpm::Tpm::manufacture(
        &tpm::EngineConfig {
            pcr_banks: vec![HashAlg::Sha1, HashAlg::Sha256],
        },
        Drbg::new(seed),
        Box::new(tpm::engine::SystemTime::default()),
    );
    let m = vtpm::ekcert::manufacture(&mut engine, &ca.ca, &[EkKind::EccP256]).unwrap();
    let ek = m.eks.into_iter().next().unwrap();
    let mut tpm = tpmclient::Tpm::new(Shared(Arc::new(Mutex::new(engine))));
    tpm.startup(StartupType::Clear).unwrap();
    let ek_loaded = tpm
        .create_primary(
            rh::ENDORSEMENT,
            &Auth::empty(),
            &EkKind::EccP256.template(),
            &Default::default(),
        )
        .unwrap();
    let ak = tpm
        .create_primary(
            rh::ENDORSEMENT,
            &Auth::empty(),
            &ak.template(),
            &Default::default(),
        )
        .unwrap();
    for e in log.events.iter().filter(|e| e.is_extended()) {
        let digests: Vec<(HashAlg, &[u8])> = [HashAlg::Sha1, HashAlg::Sha256]
            .iter()
            .filter_map(|b| e.digest(*b).map(|d| (*b, d)))
            .collect();
        tpm.pcr_extend(e.pcr_index, &Auth::empty(), &digests)
            .unwrap();
    }
    let id = format!("sim-{i:05}");
    let client = agent_client(data, url, &id);
    SimAgent {
        id,
        kind: NodeKind::Host,
        tpm,
        ek_public: ek.public,
        ek_cert: ek.certificate_der,
        ek_handle: ek_loaded.handle,
        ak_public: ak.public,
        ak_handle: ak.handle,
        client,
        vtpm_ca: None,
        ima: Vec::new(),
    }
}

/// The same 1,000 ima-ng entries (paths and SHA-256 file digests) appended
/// every round: the list bytes and each entry's template digests.
struct ImaBatch {
    bytes: Vec<u8>,
    digests: Vec<(Vec<u8>, Vec<u8>)>,
    policy_digests: BTreeMap<String, Vec<String>>,
}

fn ima_batch() -> ImaBatch {
    let mut bytes = Vec::new();
    let mut policy_digests = BTreeMap::new();
    for j in 0..IMA_BATCH {
        let path = format!("/usr/lib/bench/file-{j}.so");
        let d = HashAlg::Sha256.digest(&[&(j as u64).to_le_bytes()]);
        attest::ima::write_entry(
            &mut bytes,
            10,
            "ima-ng",
            &attest::ima::ima_ng_data("sha256", &d, &path),
            false,
        );
        policy_digests.insert(path, vec![hex::encode(&d)]);
    }
    let digests = attest::ima::ImaLog::parse(&bytes)
        .unwrap()
        .iter()
        .map(|e| {
            (
                e.template_digest(HashAlg::Sha1),
                e.template_digest(HashAlg::Sha256),
            )
        })
        .collect();
    ImaBatch {
        bytes,
        digests,
        policy_digests,
    }
}

/// Measures the batch into PCR 10 (what the kernel's IMA does).
fn extend_batch(ag: &mut SimAgent, b: &ImaBatch) {
    for (d1, d2) in &b.digests {
        ag.tpm
            .pcr_extend(
                10,
                &Auth::empty(),
                &[
                    (HashAlg::Sha1, d1.as_slice()),
                    (HashAlg::Sha256, d2.as_slice()),
                ],
            )
            .unwrap();
    }
}

/// Quote over the challenge's selection; `ima` are the entries from
/// `ch.ima_offset` on.
/// The agent's evidence for `ch`, with the event log when `log` and the
/// IMA entries `ima` (from the challenge's offset).
fn evidence(ag: &mut SimAgent, ch: &Challenge, log: bool, ima: Option<Vec<u8>>) -> Evidence {
    let ima = ima.map(|entries| ImaEvidence {
        offset: ch.ima_offset,
        entries,
    });
    ag.evidence_with(ch, log, ima)
}

/// Creates, enrolls and activates `n` agents (ids from `first`), `par` at
/// a time, and assigns `policy`.
async fn create_agents(
    first: u32,
    n: usize,
    ca: &Arc<EkCa>,
    data: &Path,
    url: &str,
    policy: &str,
    ak: Ak,
) -> Vec<SimAgent> {
    let log = Arc::new(EventLog::parse(OVMF_LOG).unwrap());
    let op = operator_client(data, url);
    let sem = Arc::new(Semaphore::new(16));
    let mut set = tokio::task::JoinSet::new();
    let t0 = Instant::now();
    for i in 0..n as u32 {
        let permit = sem.clone().acquire_owned().await.unwrap();
        let (ca, log, data, url, op, policy) = (
            ca.clone(),
            log.clone(),
            data.to_path_buf(),
            url.to_string(),
            op.clone(),
            policy.to_string(),
        );
        set.spawn(async move {
            let mut ag = make_agent(first + i, &ca, &data, &url, &log, ak);
            let r = ag.enroll_and_activate().await;
            assert_eq!(r.state, NodeState::Enrolled, "{:?}", r.reasons);
            let _: Value = op
                .put(
                    &format!("/v1/nodes/{}/policy", ag.id),
                    &json!({ "policy": policy }),
                )
                .await
                .unwrap();
            drop(permit);
            ag
        });
        if (i + 1) % 1000 == 0 {
            eprintln!(
                "  ... {} agents created ({:.0} s, load {})",
                i + 1,
                t0.elapsed().as_secs_f64(),
                load()
            );
        }
    }
    let mut out = Vec::with_capacity(n);
    while let Some(a) = set.join_next().await {
        out.push(a.unwrap());
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

// SimAgent is Send, not Sync: the tasks call the API through a clone of
// its client.
async fn challenge(c: &verifier::client::ApiClient, id: &str) -> Result<Challenge, ClientError> {
    c.post_empty(&format!("/v1/agents/{id}/challenge")).await
}

async fn send(
    c: &verifier::client::ApiClient,
    id: &str,
    ev: &Evidence,
) -> Result<AttestationResult, ClientError> {
    c.post(&format!("/v1/agents/{id}/evidence"), ev).await
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

// ---------------------------------------------------------------- phase: appraise

fn appraise_phase(secs: f64) {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path();
    let ca = EkCa::new(data, "ek-ca");
    // No server: the PKI is only needed for the agent's (unused) client.
    verifier::pki::Pki::new(data.join("pki"))
        .ensure(&[])
        .unwrap();
    let log = EventLog::parse(OVMF_LOG).unwrap();
    let mut ag = make_agent(900_000, &ca, data, "https://127.0.0.1:9", &log, Ak::EccP256);
    let mut rsa_ag = make_agent(900_001, &ca, data, "https://127.0.0.1:9", &log, Ak::Rsa2048);
    let batch = ima_batch();
    let ovmf = scenarios::ovmf_policy("ovmf");
    let mut ima_policy = ovmf.clone();
    ima_policy.name = "ima".into();
    ima_policy.runtime = Some(
        attest::runtime_policy::RuntimePolicy::from_json(
            &json!({"meta": {"version": 1}, "digests": batch.policy_digests, "excludes": []})
                .to_string(),
        )
        .unwrap(),
    );
    let ch = Challenge {
        nonce: vec![7; 32],
        pcr_selection: verifier::attestation::ParsedPolicy::new(ovmf.clone())
            .pcr_selection()
            .clone(),
        ima_offset: 0,
        send_event_log: true,
        interval_ms: 2000,
    };
    let ev_log = evidence(&mut ag, &ch, true, None);
    extend_batch(&mut ag, &batch);
    let ev_ima = evidence(&mut ag, &ch, true, Some(batch.bytes.clone()));
    let ev_rsa = evidence(&mut rsa_ag, &ch, true, None);
    let ecc_ak = (
        ag.ak_public.to_bytes(),
        attest::AkVerifier::new(&ag.ak_public).unwrap(),
    );
    let rsa_ak = (
        rsa_ag.ak_public.to_bytes(),
        attest::AkVerifier::new(&rsa_ag.ak_public).unwrap(),
    );
    let cases = [
        ("quote+eventlog", &ev_log, &ovmf, &ecc_ak),
        ("quote+eventlog+ima1000", &ev_ima, &ima_policy, &ecc_ak),
        ("quote+eventlog, RSA-2048 AK", &ev_rsa, &ovmf, &rsa_ak),
    ];
    println!(
        "\n== pure appraisal (no I/O), {secs} s per row, load {} ==",
        load()
    );
    println!("| evidence | call | threads | appraisals/s | µs/appraisal/thread |");
    println!("|---|---|---:|---:|---:|");
    for (name, ev, policy, (ak_bytes, ak)) in cases {
        let parsed = verifier::attestation::ParsedPolicy::new(policy.clone());
        let direct = || {
            attest::appraise(&attest::AppraisalInput {
                ak,
                expected_nonce: &ch.nonce,
                history: None,
                evidence: ev,
                policy,
            })
            .passed
        };
        let adapter = || {
            verifier::attestation::appraise(ak_bytes, &ch.nonce, None, ev, Some(&parsed), true)
                .passed
        };
        assert!(direct(), "{name}: evidence must pass");
        assert!(adapter(), "{name}: evidence must pass the adapter");
        for (call, f) in [
            ("attest::appraise", &direct as &(dyn Fn() -> bool + Sync)),
            ("verifier adapter", &adapter),
        ] {
            for threads in [1usize, 2] {
                let rate = rate_on_threads(f, threads, secs);
                println!(
                    "| {name} | {call} | {threads} | {rate:.0} | {:.1} |",
                    threads as f64 * 1e6 / rate
                );
            }
        }
    }
    // The client's cost of one quote (the AK's signature in the engine).
    let n = if secs < 3.0 { 200 } else { 1000 };
    for (kind, agent) in [(Ak::EccP256, &mut ag), (Ak::Rsa2048, &mut rsa_ag)] {
        let t = Instant::now();
        for _ in 0..n {
            let _ = evidence(
                agent,
                &Challenge {
                    send_event_log: false,
                    ..ch.clone()
                },
                false,
                None,
            );
        }
        println!(
            "client: quote + PCR read in the engine, {}: {:.0} µs each (1 thread)",
            kind.label(),
            t.elapsed().as_secs_f64() * 1e6 / n as f64
        );
    }
}

fn rate_on_threads(f: &(dyn Fn() -> bool + Sync), threads: usize, secs: f64) -> f64 {
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let start = Instant::now();
    let total: u64 = std::thread::scope(|s| {
        let hs: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut n = 0u64;
                    while Instant::now() < deadline {
                        assert!(f());
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).sum()
    });
    total as f64 / start.elapsed().as_secs_f64()
}

// ---------------------------------------------------------------- phase: closed loop

struct LoopResult {
    done: u64,
    errors: u64,
    lat_ms: Vec<f64>,
    wall: f64,
    before: Sample,
    after: Sample,
}

/// N agents in a closed loop for `warm + secs`; counts verified evidences
/// completed inside the measured window.
async fn closed_loop(
    agents: &mut Vec<SimAgent>,
    v: &VerifierProc,
    pg_port: Option<u16>,
    ima: Option<Arc<ImaBatch>>,
    warm: f64,
    secs: f64,
) -> LoopResult {
    let t0 = Instant::now();
    let w0 = t0 + Duration::from_secs_f64(warm);
    let w1 = w0 + Duration::from_secs_f64(secs);
    let mut set = tokio::task::JoinSet::new();
    for mut ag in agents.drain(..) {
        let ima = ima.clone();
        let (client, id) = (ag.client.clone(), ag.id.clone());
        set.spawn(async move {
            let (mut done, mut errors, mut lat) = (0u64, 0u64, Vec::new());
            // A fresh agent: the verifier has checked no IMA entry yet.
            let mut expect_offset: Option<u64> = ima.as_ref().map(|_| 0);
            // The challenge the last answer carried (a round is then one
            // request, as for the real agent).
            let mut pending_ch: Option<Challenge> = None;
            while Instant::now() < w1 {
                let pending = ima.as_ref().map(|b| {
                    extend_batch(&mut ag, b);
                    b.bytes.clone()
                });
                let start = Instant::now();
                let carried = pending_ch.take();
                let r: Result<AttestationResult, ClientError> = async {
                    let ch = match carried {
                        Some(ch) => ch,
                        None => challenge(&client, &id).await?,
                    };
                    if let (Some(e), Some(_)) = (expect_offset, &pending) {
                        assert_eq!(ch.ima_offset, e, "IMA position");
                    }
                    let ev = evidence(&mut ag, &ch, true, pending);
                    send(&client, &id, &ev).await
                }
                .await;
                let end = Instant::now();
                match r {
                    Ok(r) if r.state == NodeState::Trusted => {
                        pending_ch = r.next_challenge;
                        if let Some(e) = expect_offset.as_mut() {
                            *e += IMA_BATCH as u64;
                        }
                        if end >= w0 && end < w1 {
                            done += 1;
                            lat.push((end - start).as_secs_f64() * 1e3);
                        }
                    }
                    Ok(r) => panic!("{}: {:?} {:?}", ag.id, r.state, r.reasons),
                    Err(e) => {
                        errors += 1;
                        eprintln!("{}: {e}", ag.id);
                    }
                }
            }
            (ag, done, errors, lat)
        });
    }
    tokio::time::sleep_until(w0.into()).await;
    let before = sample(v, pg_port);
    tokio::time::sleep_until(w1.into()).await;
    let after = sample(v, pg_port);
    let mut res = LoopResult {
        done: 0,
        errors: 0,
        lat_ms: Vec::new(),
        wall: (after.at - before.at).as_secs_f64(),
        before,
        after,
    };
    while let Some(j) = set.join_next().await {
        let (ag, d, e, l) = j.unwrap();
        agents.push(ag);
        res.done += d;
        res.errors += e;
        res.lat_ms.extend(l);
    }
    agents.sort_by(|a, b| a.id.cmp(&b.id));
    res.lat_ms.sort_by(|a, b| a.total_cmp(b));
    res
}

async fn throughput_phase(o: &Opts, backend: &str) {
    let pg = if backend == "postgres" {
        match common::pg::Postgres::start() {
            Some(pg) => Some(pg),
            None => {
                println!("\n(postgres: skipped, no server binaries)");
                return;
            }
        }
    } else {
        None
    };
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path();
    let ca = Arc::new(EkCa::new(data, "ek-ca"));
    let db = pg.as_ref().map(|p| p.create_db("bench_tp"));
    let v = VerifierProc::spawn(&o.bin, data, db.as_deref(), &ca.pem_path, 60_000);
    let op = operator_client(data, &v.url);
    let batch = Arc::new(ima_batch());
    let _: Value = op
        .put("/v1/policies/ovmf", &scenarios::ovmf_policy("ovmf"))
        .await
        .unwrap();
    let mut ima_policy = serde_json::to_value(scenarios::ovmf_policy("ima")).unwrap();
    ima_policy["runtime"] =
        json!({"meta": {"version": 1}, "digests": batch.policy_digests, "excludes": []});
    let _: Value = op.put("/v1/policies/ima", &ima_policy).await.unwrap();
    let t = Instant::now();
    let mut agents = create_agents(0, o.clients, &ca, data, &v.url, "ovmf", Ak::EccP256).await;
    let mut ima_agents =
        create_agents(100_000, o.clients, &ca, data, &v.url, "ima", Ak::EccP256).await;
    let mut rsa_agents =
        create_agents(200_000, o.clients, &ca, data, &v.url, "ovmf", Ak::Rsa2048).await;
    eprintln!(
        "{backend}: {} + {} + {} (RSA AK) agents enrolled in {:.1} s",
        agents.len(),
        ima_agents.len(),
        rsa_agents.len(),
        t.elapsed().as_secs_f64()
    );
    let warm = if o.quick { 0.5 } else { 2.0 };
    println!(
        "\n== {backend}: closed loop, {} concurrent agents, event log every round, {:.0} s measured after {warm} s warm-up ==",
        o.clients, o.secs
    );
    println!("| evidence | load before | verifications/s | p50 ms | p99 ms | errors | verifier CPU µs/verif. | DB CPU µs/verif. | client CPU µs/verif. | server-only rate on 2 cores | per core vs Keylime |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (name, ags, ima) in [
        ("quote+eventlog", &mut agents, None),
        (
            "quote+eventlog+ima1000",
            &mut ima_agents,
            Some(batch.clone()),
        ),
        ("quote+eventlog, RSA-2048 AK", &mut rsa_agents, None),
    ] {
        let l = load();
        let r = closed_loop(ags, &v, pg.as_ref().map(|p| p.port), ima, warm, o.secs).await;
        let rate = r.done as f64 / r.wall;
        let per = |a: f64, b: f64| (b - a) * 1e6 / r.done.max(1) as f64;
        let vcpu = per(r.before.verifier, r.after.verifier);
        let dbcpu = per(r.before.db, r.after.db);
        let ccpu = per(r.before.client, r.after.client);
        let server = vcpu + dbcpu;
        let server_rate = 2.0 * 1e6 / server;
        println!(
            "| {name} | {l} | {rate:.0} | {:.1} | {:.1} | {} | {vcpu:.0} | {dbcpu:.0} | {ccpu:.0} | {server_rate:.0} | {:.2}× |",
            pct(&r.lat_ms, 0.5),
            pct(&r.lat_ms, 0.99),
            r.errors,
            (server_rate / 2.0) / KEYLIME_PER_CORE,
        );
    }
    let (rss, hwm) = rss_mib(&v.pid.to_string());
    println!("verifier RSS {rss:.0} MiB (peak {hwm:.0} MiB)");
    drop(v);
    drop(pg);
}

// ---------------------------------------------------------------- phase: continuous

async fn continuous_phase(o: &Opts) {
    let k = o.agents;
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path();
    let ca = Arc::new(EkCa::new(data, "ek-ca"));
    let v = VerifierProc::spawn(&o.bin, data, None, &ca.pem_path, o.interval_ms);
    let op = operator_client(data, &v.url);
    let _: Value = op
        .put("/v1/policies/ovmf", &scenarios::ovmf_policy("ovmf"))
        .await
        .unwrap();
    eprintln!("continuous: creating {k} agents (load {})", load());
    let t = Instant::now();
    let agents = create_agents(0, k, &ca, data, &v.url, "ovmf", Ak::EccP256).await;
    // Each agent's first round sends the event log (once per boot); do it
    // in the set-up so the measured window is the steady state.
    let mut agents = agents;
    let sem = Arc::new(Semaphore::new(16));
    let mut set = tokio::task::JoinSet::new();
    for mut ag in agents.drain(..) {
        let permit = sem.clone().acquire_owned().await.unwrap();
        let (client, id) = (ag.client.clone(), ag.id.clone());
        set.spawn(async move {
            let ch = challenge(&client, &id).await.unwrap();
            assert!(ch.send_event_log);
            let ev = evidence(&mut ag, &ch, true, None);
            let r = send(&client, &id, &ev).await.unwrap();
            assert_eq!(r.state, NodeState::Trusted, "{id}: {:?}", r.reasons);
            drop(permit);
            ag
        });
    }
    while let Some(a) = set.join_next().await {
        agents.push(a.unwrap());
    }
    agents.sort_by(|a, b| a.id.cmp(&b.id));
    let setup = t.elapsed().as_secs_f64();
    let (rss0, _) = rss_mib(&v.pid.to_string());
    let (crss0, _) = rss_mib("self");
    eprintln!(
        "continuous: {k} agents enrolled and attested once (with the event log) in {setup:.0} s; verifier RSS {rss0:.0} MiB, bench RSS {crss0:.0} MiB"
    );

    let interval = Duration::from_millis(o.interval_ms);
    // Ramp: one interval to start everyone (staggered), then until the
    // verifier has caught up (see `Window`).
    let t0 = Instant::now() + Duration::from_millis(200);
    let window = Arc::new(Window::new(Duration::from_secs_f64(o.run_secs)));
    let in_flight = Arc::new(AtomicU64::new(0));
    // Whether an instant falls in the measured window (each task's copy).
    let measured = {
        let window = window.clone();
        move |t: Instant| window.contains(t)
    };
    let stop = Arc::new(AtomicBool::new(false));
    let gaps: Arc<Mutex<Vec<f64>>> = Arc::default();
    let late: Arc<Mutex<Vec<f64>>> = Arc::default();
    let latency: Arc<Mutex<Vec<f64>>> = Arc::default();
    let verified = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let not_trusted = Arc::new(AtomicU64::new(0));
    let kinds: Arc<Mutex<BTreeMap<String, u64>>> = Arc::default();
    let mut set = tokio::task::JoinSet::new();
    // Start slots in a shuffled order (fixed seed): real agents' phases
    // have nothing to do with the order they enrolled in, and in
    // enrollment order each batch of rounds would update neighbouring rows
    // and index entries, a page locality a real verifier does not get.
    let mut slots: Vec<usize> = (0..k).collect();
    {
        use rand::{seq::SliceRandom, SeedableRng};
        slots.shuffle(&mut rand::rngs::StdRng::seed_from_u64(5));
    }
    for (mut ag, slot) in agents.into_iter().zip(slots) {
        let kinds = kinds.clone();
        let latency = latency.clone();
        let (stop, gaps, late, verified, errors, not_trusted) = (
            stop.clone(),
            gaps.clone(),
            late.clone(),
            verified.clone(),
            errors.clone(),
            not_trusted.clone(),
        );
        let first = t0 + interval.mul_f64(slot as f64 / k as f64);
        let (client, id) = (ag.client.clone(), ag.id.clone());
        let (measured, in_flight) = (measured.clone(), in_flight.clone());
        set.spawn(async move {
            let mut due = first;
            let mut last_ok: Option<Instant> = None;
            let mut pending_ch: Option<Challenge> = None;
            while !stop.load(Ordering::Relaxed) {
                tokio::time::sleep_until(due.into()).await;
                let began = Instant::now();
                if measured(began) {
                    late.lock().unwrap().push((began - due).as_secs_f64() * 1e3);
                }
                let mut next = interval;
                in_flight.fetch_add(1, Ordering::Relaxed);
                for _ in 0..3 {
                    let carried = pending_ch.take();
                    let r: Result<AttestationResult, ClientError> = async {
                        let ch = match carried {
                            Some(ch) => ch,
                            None => challenge(&client, &id).await?,
                        };
                        let ev = evidence(&mut ag, &ch, ch.send_event_log, None);
                        send(&client, &id, &ev).await
                    }
                    .await;
                    match r {
                        Ok(r) if r.next_in_ms == 0 => {
                            pending_ch = r.next_challenge;
                            continue;
                        }
                        Ok(r) => {
                            pending_ch = r.next_challenge.clone();
                            next = Duration::from_millis(r.next_in_ms);
                            let now = Instant::now();
                            if measured(now) {
                                latency
                                    .lock()
                                    .unwrap()
                                    .push((now - began).as_secs_f64() * 1e3);
                            }
                            if r.state == NodeState::Trusted {
                                if measured(now) {
                                    verified.fetch_add(1, Ordering::Relaxed);
                                    if let Some(p) = last_ok {
                                        gaps.lock().unwrap().push((now - p).as_secs_f64() * 1e3);
                                    }
                                }
                                last_ok = Some(now);
                            } else if measured(now) {
                                not_trusted.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        Err(e) => {
                            if measured(Instant::now()) {
                                errors.fetch_add(1, Ordering::Relaxed);
                                *kinds.lock().unwrap().entry(error_kind(&e)).or_default() += 1;
                            }
                        }
                    }
                    break;
                }
                in_flight.fetch_sub(1, Ordering::Relaxed);
                // Fixed rate: the next round is due one interval after
                // this one was due (not after it finished).
                due += next;
                if due < Instant::now() - interval {
                    due = Instant::now();
                }
            }
        });
    }
    // Everyone has started after one interval; the window opens once the
    // start's extra work (a challenge per agent, a comb table per AK) has
    // drained, so it measures the steady state. How long that took is a
    // figure of its own.
    tokio::time::sleep_until((t0 + interval).into()).await;
    let caught_up = settle(&in_flight, k, interval, o.settle_max_secs).await;
    let w0 = window.open();
    let w1 = w0 + Duration::from_secs_f64(o.run_secs);
    match caught_up {
        Some(d) => eprintln!(
            "  caught up {:.1} s after the last agent started (rounds in flight < {} for one interval)",
            d.as_secs_f64(),
            k / 4
        ),
        None => eprintln!(
            "  not caught up {:.0} s after the last agent started: measuring anyway",
            o.settle_max_secs
        ),
    }
    let before = sample(&v, None);
    let mut peak_rss = 0f64;
    let mut peak_crss = 0f64;
    let mut next_print = Instant::now() + Duration::from_secs(10);
    // Ends on w1, not up to 500 ms after: the rate divides the rounds
    // counted inside the window by the sampled time.
    while Instant::now() < w1 {
        tokio::time::sleep(
            Duration::from_millis(500).min(w1.saturating_duration_since(Instant::now())),
        )
        .await;
        peak_rss = peak_rss.max(rss_mib(&v.pid.to_string()).0);
        peak_crss = peak_crss.max(rss_mib("self").0);
        if Instant::now() >= next_print {
            next_print += Duration::from_secs(10);
            eprintln!(
                "  ... {:.0} s: {} verified so far, {} errors, load {}",
                (Instant::now() - w0).as_secs_f64(),
                verified.load(Ordering::Relaxed),
                errors.load(Ordering::Relaxed),
                load()
            );
        }
    }
    let after = sample(&v, None);
    let l = load();
    stop.store(true, Ordering::Relaxed);
    let wall = (after.at - before.at).as_secs_f64();
    // States as the verifier sees them.
    let nodes: Value = op.get("/v1/nodes").await.unwrap();
    let mut states: BTreeMap<String, usize> = BTreeMap::new();
    for n in nodes.as_array().unwrap() {
        *states
            .entry(n["state"].as_str().unwrap_or("?").to_string())
            .or_default() += 1;
    }
    set.abort_all();
    while set.join_next().await.is_some() {}
    let mut g = std::mem::take(&mut *gaps.lock().unwrap());
    g.sort_by(|a, b| a.total_cmp(b));
    let mut lt = std::mem::take(&mut *late.lock().unwrap());
    lt.sort_by(|a, b| a.total_cmp(b));
    let mut lat = std::mem::take(&mut *latency.lock().unwrap());
    lat.sort_by(|a, b| a.total_cmp(b));
    let n = verified.load(Ordering::Relaxed);
    let vcpu = after.verifier - before.verifier;
    let ccpu = after.client - before.client;
    let caught = caught_up.map_or_else(
        || format!("not within {:.0} s", o.settle_max_secs),
        |d| format!("{:.1} s", d.as_secs_f64()),
    );
    println!(
        "\n== continuous: {k} agents, interval {} ms, {wall:.0} s measured (setup {setup:.0} s; caught up after the start: {caught}), load at end {l} ==",
        o.interval_ms
    );
    println!("| agents | verified/s (needed) | interval p50 ms | p99 ms | max ms | start lateness p99 ms | errors | not trusted | verifier CPU (cores) | µs/verif. | client CPU (cores) | machine idle / steal (cores) | verifier RSS MiB (idle→peak) | bench RSS MiB | node states |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    println!(
        "| {k} | {:.0} ({:.0}) | {:.0} | {:.0} | {:.0} | {:.0} | {} | {} | {:.2} | {:.0} | {:.2} | {:.2} / {:.2} | {rss0:.0}→{peak_rss:.0} | {peak_crss:.0} | {states:?} |",
        n as f64 / wall,
        k as f64 * 1000.0 / o.interval_ms as f64,
        pct(&g, 0.5),
        pct(&g, 0.99),
        g.last().copied().unwrap_or(f64::NAN),
        pct(&lt, 0.99),
        errors.load(Ordering::Relaxed),
        not_trusted.load(Ordering::Relaxed),
        vcpu / wall,
        vcpu * 1e6 / n.max(1) as f64,
        ccpu / wall,
        (after.idle - before.idle) / wall,
        (after.steal - before.steal) / wall,
    );
    println!(
        "round latency (start → answer) ms: p50 {:.0}, p90 {:.0}, p99 {:.0}, p99.9 {:.0}, max {:.0}; over 1 s: {}; I/O stall (some task waiting, /proc/pressure/io): {:.1} % of the window",
        pct(&lat, 0.5),
        pct(&lat, 0.9),
        pct(&lat, 0.99),
        pct(&lat, 0.999),
        lat.last().copied().unwrap_or(f64::NAN),
        lat.iter().filter(|&&v| v > 1000.0).count(),
        100.0 * (after.io_stall - before.io_stall) / wall
    );
    println!("errors by kind: {:?}", kinds.lock().unwrap());
    drop(v);
}

/// The continuous phase's measured window: closed until [`Window::open`],
/// then `run` long. Shared by every agent's task, which counts a round
/// only if it ends inside.
struct Window {
    run: Duration,
    opened: std::sync::OnceLock<Instant>,
}

impl Window {
    fn new(run: Duration) -> Window {
        Window {
            run,
            opened: std::sync::OnceLock::new(),
        }
    }

    /// Opens the window now; returns the opening instant.
    fn open(&self) -> Instant {
        *self.opened.get_or_init(Instant::now)
    }

    fn contains(&self, t: Instant) -> bool {
        self.opened
            .get()
            .is_some_and(|&w0| t >= w0 && t < w0 + self.run)
    }
}

/// Waits until fewer than a quarter of the `agents` have a round in flight
/// for one whole `interval`, checked every 100 ms: at the full rate of
/// agents/interval, Little's law makes that a mean round latency under a
/// quarter interval, i.e. no backlog left (one that has not drained keeps
/// nearly every agent in flight). Returns when the calm began, counted
/// from the call, or `None` after `max_secs`.
async fn settle(
    in_flight: &AtomicU64,
    agents: usize,
    interval: Duration,
    max_secs: f64,
) -> Option<Duration> {
    let start = Instant::now();
    let limit = u64::try_from(agents / 4).unwrap_or(u64::MAX).max(1);
    let mut calm_since: Option<Instant> = None;
    let mut next_print = start + Duration::from_secs(5);
    while start.elapsed().as_secs_f64() < max_secs {
        let now = Instant::now();
        if in_flight.load(Ordering::Relaxed) < limit {
            let since = *calm_since.get_or_insert(now);
            if now - since >= interval {
                return Some(since - start);
            }
        } else {
            calm_since = None;
        }
        if now >= next_print {
            next_print += Duration::from_secs(5);
            eprintln!(
                "  ... settling {:.0} s: {} rounds in flight",
                (now - start).as_secs_f64(),
                in_flight.load(Ordering::Relaxed)
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

/// A short class of a failed round: HTTP status and message, or the
/// transport failure (connect, timeout, ...).
fn error_kind(e: &ClientError) -> String {
    match e {
        ClientError::Api { status, error } => {
            format!(
                "HTTP {status} {}",
                error.message.chars().take(50).collect::<String>()
            )
        }
        ClientError::Http { source, .. } => {
            let what = if source.is_connect() {
                "connect"
            } else if source.is_timeout() {
                "timeout"
            } else {
                "transport"
            };
            format!(
                "{what}: {}",
                std::error::Error::source(source)
                    .map(|s| s.to_string())
                    .unwrap_or_default()
                    .chars()
                    .take(60)
                    .collect::<String>()
            )
        }
        other => other.to_string().chars().take(60).collect(),
    }
}

fn main() {
    let o = opts();
    // cargo passes `--bench`; libtest-style filters are ignored.
    println!(
        "verifier_scale: quick={} clients={} agents={} verifier={} (built {:?}), load {}",
        o.quick,
        o.clients,
        o.agents,
        o.bin.display(),
        std::fs::metadata(&o.bin)
            .and_then(|m| m.modified())
            .ok()
            .map(|t| {
                let s = t
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_secs();
                format!("unix {s}")
            }),
        load()
    );
    println!(
        "anchor: Keylime's published 2,500 quotes/s on 6 cores = {KEYLIME_PER_CORE:.0}/s per core (a published figure, not a side-by-side run)"
    );
    let has = |p: &str| o.only.iter().any(|x| x == p);
    if has("appraise") {
        appraise_phase(if o.quick { 0.5 } else { 3.0 });
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    for backend in ["sqlite", "postgres"] {
        if has(backend) {
            rt.block_on(throughput_phase(&o, backend));
        }
    }
    if has("continuous") {
        rt.block_on(continuous_phase(&o));
    }
}
