//! `trustcloud up`: everything on one machine — vtpmd, the verifier
//! (registrar + verifier, REST API), and the attestation agent of this
//! host — under one data directory.
//!
//! vtpmd, the host's TPM stand-in and the agent run in this process; the
//! verifier runs as a child process of the same binary (`trustcloud
//! verifier --data-dir DIR`). The child keeps the verifier exactly what an
//! operator would run alone (same flags, same `verifier.json` and PKI in
//! the data dir, its own tokio runtime and database pool), and a crash of
//! one side is reported instead of taking the other down silently; `up`
//! watches it and stops everything if it dies.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use agent::client::{ApiClient, TlsFiles};
use agent::evidence::LogSources;
use agent::run::{Agent, AgentConfig, Event};
use agent::tpm::AkKind;
use anyhow::{bail, Context};
use attest::policy::{MeasuredBootPolicy, Policy};
use attest::protocol::{NodeKind, NodeState};
use clap::Args;
use vtpm::daemon::{Config, Daemon};
use vtpm::{net, swtpm_tcp, Instance, StateStore, StopReason};

use super::agent::{default_data_dir, hostname, pem_to_der, verifier_url_from};
use crate::signals::StopSignals;

const EXAMPLES: &str = "\
Examples:
  # Everything for this machine, data under ~/.local/share/trustcloud:
  trustcloud up
  # In another terminal, once the host shows \"trusted\":
  trustcloud node list
  trustcloud node list --json

  # A separate data directory (e.g. to try things out):
  trustcloud up --data-dir ./tc
  trustcloud node list --json --data-dir ./tc

What runs:
  vtpmd         state DATA/vtpmd, sockets DATA/run (trustcloud vtpm create vm1 --run-dir DATA/run)
  verifier      https://127.0.0.1:PORT (written to DATA/verifier.json), SQLite DATA/verifier.db,
                certificates DATA/pki (operator: pki/operator.pem/.key, CA: pki/ca.pem)
  host TPM      /dev/tpmrm0 when present; else a TPM engine with its state in DATA/host-tpm,
                served on a loopback port, its EK certified by vtpmd's CA. That host has
                NO HARDWARE ROOT OF TRUST: fine to try things, not to trust anything.
  host agent    id = the hostname; policy host-<id> generated from the current PCRs and
                firmware event log (kept if it already exists: edit it with `trustcloud policy`)

Trust-state changes are printed on stdout as they happen. Ctrl-C stops everything.";

/// Run everything on this machine: vtpmd, registrar, verifier and this host's agent.
#[derive(Args, Debug)]
#[command(after_long_help = EXAMPLES)]
pub struct UpArgs {
    /// Where everything keeps its state.
    /// [default: $XDG_DATA_HOME/trustcloud or ~/.local/share/trustcloud]
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// The verifier's address (port 0: any free port; the chosen one is printed
    /// and written to DATA/verifier.json).
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,

    /// The host's TPM (TCTI string). [default: device:/dev/tpmrm0 if present, else
    /// a local TPM engine without hardware root]
    #[arg(long, value_name = "TCTI")]
    pub tpm: Option<String>,

    /// Extra trust anchors for EK certificates (PEM), e.g. the TPM vendor's CA
    /// of a hardware TPM. vtpmd's CA is always trusted. With a TPM that is not
    /// a device (mssim, swtpm, the local engine) all of them count as
    /// software roots: nodes show ROOT "software".
    #[arg(long, value_name = "PEM")]
    pub trust_anchor: Vec<PathBuf>,

    /// The host agent's id. [default: the hostname]
    #[arg(long, value_name = "ID")]
    pub id: Option<String>,

    /// Use the local TPM engine (no hardware root) even if /dev/tpmrm0 exists,
    /// e.g. to try things without touching the real TPM.
    #[arg(long, conflicts_with = "tpm")]
    pub software_tpm: bool,

    /// The firmware event log of this host (a missing file means none).
    /// [default: the kernel's log with a real TPM; none with the software TPM,
    /// whose PCRs no firmware measured into]
    #[arg(long, value_name = "PATH")]
    pub event_log: Option<PathBuf>,

    /// The IMA measurement list of this host (a missing file means IMA off).
    /// [default: the kernel's list with a real TPM; none with the software TPM]
    #[arg(long, value_name = "PATH")]
    pub ima_log: Option<PathBuf>,
}

/// The PCRs the generated host policy pins (IMA's PCR 10 is left to a
/// runtime policy).
const POLICY_PCRS: [u32; 10] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
const VERIFIER_START_TIMEOUT: Duration = Duration::from_secs(60);

fn mkdir_private(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create {}", dir.display()))
}

/// The host's TPM stand-in: a TPM engine in this process, manufactured
/// once with EKs certified by vtpmd's CA, served over swtpm's TCP
/// protocol on a loopback port (so tpm2-tools can look at it too).
fn start_engine_tpm(
    data: &Path,
    ca_dir: &Path,
    stop: mpsc::Sender<StopReason>,
) -> anyhow::Result<(String, Arc<Mutex<Instance>>)> {
    let dir = data.join("host-tpm");
    mkdir_private(&dir)?;
    let store = StateStore::open(&dir)?;
    let config = tpm::EngineConfig::default();
    if store.load()?.is_none() {
        let ca = vtpm::ekcert::FileCa::open(ca_dir).context("cannot open vtpmd's CA")?;
        let (engine, eks) = vtpm::daemon::manufacture::manufacture(
            &config,
            &ca,
            &vtpm::daemon::manufacture::DEFAULT_EKS,
        )?;
        store.save(&engine.state_blob())?;
        tracing::info!(dir = %dir.display(), eks = eks.len(), "manufactured the host TPM stand-in");
    }
    let (instance, _) = Instance::open(store, &config)?;
    let instance = Arc::new(Mutex::new(instance));
    let listen: SocketAddr = "127.0.0.1:0".parse()?;
    let (first, second) = net::bind_pair(listen).context("cannot bind the host TPM's ports")?;
    let port = first.local_addr()?.port();
    swtpm_tcp::serve(first, second, Arc::clone(&instance), stop)?;
    Ok((format!("swtpm:host=127.0.0.1,port={port}"), instance))
}

/// Starts `trustcloud verifier` and waits for the verifier.json it writes.
/// `anchors`: EK CAs of hardware TPMs; `software`: of software TPMs.
fn start_verifier(
    data: &Path,
    listen: SocketAddr,
    anchors: &[PathBuf],
    software: &[PathBuf],
) -> anyhow::Result<(Child, String)> {
    let exe = std::env::current_exe().context("cannot find this program")?;
    let marker = data.join("verifier.json");
    // A file left by an earlier run would point at a dead verifier.
    let _ = std::fs::remove_file(&marker);
    let mut cmd = Command::new(exe);
    cmd.arg("verifier")
        .arg("--data-dir")
        .arg(data)
        .arg("--listen")
        .arg(listen.to_string());
    for a in anchors {
        cmd.arg("--trust-anchor").arg(a);
    }
    for a in software {
        cmd.arg("--software-trust-anchor").arg(a);
    }
    cmd.stdin(Stdio::null()).stdout(Stdio::null());
    unblock_stop_signals(&mut cmd);
    let mut child = cmd.spawn().context("cannot start the verifier")?;
    let deadline = Instant::now() + VERIFIER_START_TIMEOUT;
    loop {
        if let Ok(url) = verifier_url_from(data) {
            if std::fs::metadata(data.join("pki/operator.pem")).is_ok() {
                return Ok((child, url));
            }
        }
        if let Some(status) = child.try_wait()? {
            bail!("the verifier exited ({status}) before it was ready: see its log above");
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            bail!(
                "the verifier did not write {} within {}s",
                marker.display(),
                VERIFIER_START_TIMEOUT.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// This process blocks SIGINT/SIGTERM (see `signals`) and a child
/// inherits the mask across exec: unblock them in the child, or the
/// verifier could never be stopped by a signal.
fn unblock_stop_signals(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: between fork and exec only async-signal-safe calls are
    // made (sigemptyset, sigaddset, pthread_sigmask), on a local set.
    unsafe {
        cmd.pre_exec(|| {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGINT);
            libc::sigaddset(&mut set, libc::SIGTERM);
            libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
            Ok(())
        });
    }
}

/// The host agent's certificate: issued by the verifier's CA on first use.
fn ensure_agent_cert(data: &Path, id: &str) -> anyhow::Result<()> {
    let cert = data.join(format!("pki/agents/{id}.pem"));
    if cert.exists() {
        return Ok(());
    }
    let exe = std::env::current_exe()?;
    let out = Command::new(exe)
        .args(["verifier", "issue-cert", "--agent", id, "--data-dir"])
        .arg(data)
        .stdin(Stdio::null())
        .output()
        .context("cannot run `trustcloud verifier issue-cert`")?;
    if !out.status.success() || !cert.exists() {
        bail!(
            "cannot issue the host agent's certificate: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

fn operator_client(data: &Path, url: &str) -> anyhow::Result<ApiClient> {
    let tls = TlsFiles::read(
        &data.join("pki/operator.pem"),
        &data.join("pki/operator.key"),
        &data.join("pki/ca.pem"),
    )?;
    Ok(ApiClient::new(url, &tls)?)
}

/// A reference policy for this host from what it measures now: its PCRs
/// 0-9 and, when there is a firmware event log, the measured-boot facts
/// of that log.
fn generate_policy(name: &str, agent: &mut Agent, logs: &LogSources) -> anyhow::Result<Policy> {
    let sel = std::collections::BTreeMap::from([("sha256".to_string(), POLICY_PCRS.to_vec())]);
    let values = agent.read_pcrs(&sel)?;
    let pcrs = values
        .into_iter()
        .map(|(bank, m)| {
            (
                bank,
                m.into_iter()
                    .map(|(i, v)| (i, vec![v.to_string()]))
                    .collect(),
            )
        })
        .collect();
    let measured_boot = match logs.event_log()? {
        Some(bytes) => match attest::EventLog::parse(&bytes) {
            Ok(log) => Some(MeasuredBootPolicy::generate_from(&log)),
            Err(e) => {
                tracing::warn!(error = %e, "the firmware event log does not parse: policy without measured boot");
                None
            }
        },
        None => None,
    };
    Ok(Policy {
        name: name.to_string(),
        description: "generated by `trustcloud up` from this host's state at first start".into(),
        pcrs,
        measured_boot,
        runtime: None,
    })
}

/// Creates the host policy unless it exists, and assigns it to the host.
fn apply_policy(
    op: &ApiClient,
    id: &str,
    agent: &mut Agent,
    logs: &LogSources,
) -> anyhow::Result<String> {
    let name = format!("host-{id}");
    let existing: Result<serde_json::Value, _> = op.call::<(), _>(
        agent::Method::GET,
        "policy",
        &format!("/policies/{name}"),
        None,
    );
    match existing {
        Ok(_) => tracing::info!(policy = %name, "keeping the existing host policy"),
        Err(agent::Error::Api { status: 404, .. }) => {
            let policy = generate_policy(&name, agent, logs)?;
            let _: serde_json::Value = op.call(
                agent::Method::PUT,
                "policy",
                &format!("/policies/{name}"),
                Some(&policy),
            )?;
            tracing::info!(policy = %name, "created the host policy from the current PCRs");
        }
        Err(e) => return Err(e.into()),
    }
    let _: serde_json::Value = op.call(
        agent::Method::PUT,
        "policy assignment",
        &format!("/nodes/{id}/policy"),
        Some(&serde_json::json!({ "policy": name })),
    )?;
    Ok(name)
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn state_word(s: NodeState) -> String {
    serde_json::to_value(s)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("{s:?}"))
}

pub fn run(args: UpArgs) -> anyhow::Result<()> {
    let signals = StopSignals::block().context("cannot block SIGTERM/SIGINT")?;
    let data = match args.data_dir.clone() {
        Some(d) => d,
        None => default_data_dir()?,
    };
    mkdir_private(&data)?;
    let data = data.canonicalize()?;
    let id = args.id.clone().unwrap_or_else(hostname);
    let (stop_tx, stop_rx) = mpsc::channel();
    signals.forward_to(stop_tx.clone())?;

    // 1. vtpmd (its CA certifies the EKs of this host's vTPMs).
    let hw = args.tpm.is_none() && !args.software_tpm && Path::new("/dev/tpmrm0").exists();
    let host_tcti = if hw {
        Some("device:/dev/tpmrm0".to_string())
    } else {
        args.tpm.clone()
    };
    let vtpmd_state = data.join("vtpmd");
    let run_dir = data.join("run");
    let daemon = Daemon::start(Config {
        state_dir: vtpmd_state.clone(),
        run_dir: run_dir.clone(),
        host_tpm: host_tcti.clone().filter(|t| t.starts_with("device:")),
        idle_unload: vtpm::daemon::DEFAULT_IDLE_UNLOAD,
    })?;
    let ca_dir = vtpmd_state.join(vtpm::daemon::CA_DIR);
    let vtpm_ca_pem = ca_dir.join(vtpm::ekcert::CA_CERT_FILE);
    say(&format!(
        "vtpmd: socket {} (trustcloud vtpm create NAME --run-dir {})",
        daemon.socket_path().display(),
        run_dir.display()
    ));

    // 2. The host's TPM.
    let mut _engine = None;
    let hardware_tpm = host_tcti
        .as_deref()
        .is_some_and(|t| t.starts_with("device:"));
    let tcti = match host_tcti {
        Some(t) => t,
        None => {
            let (t, inst) = start_engine_tpm(&data, &ca_dir, stop_tx.clone())?;
            _engine = Some(inst);
            say(&format!(
                "WARNING: no hardware TPM (/dev/tpmrm0): this host's TPM is a software engine \
                 ({t}, state {}). It has NO HARDWARE ROOT OF TRUST: its attestation proves nothing \
                 about this machine.",
                data.join("host-tpm").display()
            ));
            t
        }
    };
    say(&format!("host TPM: {tcti}"));

    // 3. The verifier.
    // A host TPM reached through a device is hardware; mssim and swtpm
    // TCTIs and the local engine are software, and then every EK CA here
    // (vtpmd's, which the local engine's EK also chains to, and the
    // operator's) vouches for a software TPM: nodes under them must not be
    // reported as hardware-rooted.
    let mut anchors = args.trust_anchor.clone();
    anchors.push(vtpm_ca_pem.clone());
    let software = if hardware_tpm {
        Vec::new()
    } else {
        std::mem::take(&mut anchors)
    };
    let (mut verifier, url) = start_verifier(&data, args.listen, &anchors, &software)?;
    say(&format!(
        "verifier: {url} (operator certificate {}, CA {})",
        data.join("pki/operator.pem").display(),
        data.join("pki/ca.pem").display()
    ));
    say(&format!(
        "try: trustcloud node list --data-dir {}",
        data.display()
    ));

    let target = AgentTarget {
        id: &id,
        tcti: &tcti,
        engine: _engine.is_some(),
        url: &url,
        vtpm_ca_pem: &vtpm_ca_pem,
    };
    let result = run_agent(&args, &data, &target, &stop_rx, &mut verifier);

    // Stop: agent (done), verifier, TPM stand-in, vtpmd.
    // SAFETY: kill(2) on our own child's pid.
    unsafe {
        libc::kill(verifier.id() as libc::pid_t, libc::SIGTERM);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while verifier.try_wait()?.is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    if verifier.try_wait()?.is_none() {
        let _ = verifier.kill();
        let _ = verifier.wait();
    }
    if let Some(inst) = _engine {
        if let Err(e) = net::lock(&inst).flush() {
            tracing::warn!(error = %e, "cannot store the host TPM's final state");
        }
    }
    daemon.shutdown();
    let _ = std::fs::remove_file(data.join("verifier.json"));
    say("stopped");
    result
}

/// The host agent's side of things.
struct AgentTarget<'a> {
    id: &'a str,
    tcti: &'a str,
    /// The TPM is the software engine (no hardware, no kernel logs).
    engine: bool,
    url: &'a str,
    vtpm_ca_pem: &'a Path,
}

fn run_agent(
    args: &UpArgs,
    data: &Path,
    target: &AgentTarget<'_>,
    stop_rx: &mpsc::Receiver<StopReason>,
    verifier: &mut Child,
) -> anyhow::Result<()> {
    let AgentTarget {
        id,
        tcti,
        engine,
        url,
        vtpm_ca_pem,
    } = *target;
    ensure_agent_cert(data, id)?;
    let tls = TlsFiles::read(
        &data.join(format!("pki/agents/{id}.pem")),
        &data.join(format!("pki/agents/{id}.key")),
        &data.join("pki/ca.pem"),
    )?;
    // The kernel's logs describe the real TPM's PCRs, not the engine's.
    let default_log = |p: &str| {
        if !engine {
            PathBuf::from(p)
        } else {
            PathBuf::new()
        }
    };
    let logs = LogSources {
        event_log: args
            .event_log
            .clone()
            .unwrap_or_else(|| default_log(agent::evidence::DEFAULT_EVENT_LOG)),
        ima_log: args
            .ima_log
            .clone()
            .unwrap_or_else(|| default_log(agent::evidence::DEFAULT_IMA_LOG)),
    };
    let vtpm_ca = std::fs::read(vtpm_ca_pem)
        .ok()
        .and_then(|p| pem_to_der(&p).ok());
    let config = AgentConfig {
        id: id.to_string(),
        kind: NodeKind::Host,
        tcti: tcti.to_string(),
        state_dir: data.join("agent").join(id),
        ak_kind: AkKind::EccP256,
        logs: logs.clone(),
        vtpm_ca_certificate: vtpm_ca,
    };
    let mut agent = Agent::new(config, ApiClient::new(url, &tls)?)?;
    let enrolled = agent.enroll().with_context(|| {
        if engine {
            "the host agent cannot enroll".to_string()
        } else {
            "the host agent cannot enroll (a hardware TPM's EK certificate chains to its \
             vendor's CA: give it with --trust-anchor PEM)"
                .to_string()
        }
    })?;
    say(&format!("host {id}: {}", state_word(enrolled.state)));
    let op = operator_client(data, url)?;
    let policy = apply_policy(&op, id, &mut agent, &logs)?;
    say(&format!("host {id}: policy {policy}"));

    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let id_owned = id.to_string();
    let handle = std::thread::Builder::new()
        .name("agent".into())
        .spawn(move || {
            let mut last: Option<(NodeState, Vec<String>)> = None;
            agent.run(&flag, |ev| match ev {
                Event::Result(r) | Event::Enrolled(r) => {
                    let now = (r.state, r.reasons.clone());
                    if last.as_ref() != Some(&now) {
                        let mut line = format!("host {id_owned}: {}", state_word(r.state));
                        if !r.reasons.is_empty() {
                            line.push_str(&format!(" ({})", r.reasons.join("; ")));
                        }
                        say(&line);
                        last = Some(now);
                    }
                }
                Event::Unreachable { error, .. } => {
                    say(&format!("host {id_owned}: verifier unreachable ({error})"));
                    last = None;
                }
            })
        })?;

    let outcome = loop {
        match stop_rx.recv_timeout(Duration::from_millis(200)) {
            Ok(reason) => {
                tracing::info!(?reason, "stopping");
                break Ok(());
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break Ok(()),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        if let Some(status) = verifier.try_wait()? {
            break Err(anyhow::anyhow!("the verifier exited ({status})"));
        }
        if handle.is_finished() {
            break Err(anyhow::anyhow!("the host agent stopped"));
        }
    };
    stop.store(true, Ordering::Relaxed);
    match handle.join() {
        Ok(Ok(())) => outcome,
        Ok(Err(e)) => Err(anyhow::Error::from(e).context("the host agent failed")),
        Err(_) => bail!("the host agent panicked"),
    }
}
