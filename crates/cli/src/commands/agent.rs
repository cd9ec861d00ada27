//! `trustcloud agent`: the attestation agent of one host or VM.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};

use agent::client::{ApiClient, TlsFiles};
use agent::evidence::{LogSources, DEFAULT_EVENT_LOG, DEFAULT_IMA_LOG};
use agent::run::{Agent, AgentConfig, Event};
use agent::tpm::AkKind;
use anyhow::{bail, Context};
use attest::protocol::{AttestationResult, NodeKind, NodeState};
use clap::{Args, ValueEnum};

use crate::signals::StopSignals;

const EXAMPLES: &str = "\
How it works:
  1. Reads the EK certificate from the TPM's NV (0x01C0000A ECC P-256 or
     0x01C00002 RSA 2048), recreates the EK and checks the certificate
     is for it.
  2. Creates an attestation key (AK) under the EK, kept in --state-dir.
  3. Enrolls: sends EK certificate and AK to the registrar, which checks the
     certificate against its trust anchors and answers with a credential
     only this TPM can open (TPM2_ActivateCredential); the agent proves it
     opened it.
  4. Then, at the interval the verifier sets: asks for a challenge (nonce +
     PCR selection), quotes the PCRs, and sends quote, PCR values, the
     firmware event log and the new IMA entries.
  The agent connects out (push), so it works behind NAT. It reconnects when
  the verifier is down and enrolls again when the verifier forgot it.

Examples:
  # This host, against a local `trustcloud up` (finds URL, certs and CA in
  # the data dir; the agent cert is pki/agents/<hostname>.pem):
  trustcloud agent --tpm device:/dev/tpmrm0 --data-dir ~/.local/share/trustcloud

  # Explicit TLS material, a VM's vTPM, one attestation, JSON result:
  trustcloud agent --tpm device:/dev/tpmrm0 --verifier https://10.0.2.2:8443 \\
      --id vm1 --kind vm --cert vm1.pem --key vm1.key --ca ca.pem --once --json

  # A swtpm standing in for the TPM (no firmware log on swtpm):
  trustcloud agent --tpm swtpm:host=127.0.0.1,port=2321 --verifier https://127.0.0.1:8443 \\
      --cert a.pem --key a.key --ca ca.pem --event-log /dev/null

  # A host that runs vtpmd: send its vTPM CA so its VMs are linked to it:
  trustcloud agent --tpm device:/dev/tpmrm0 --data-dir DIR \\
      --vtpm-ca /var/lib/trustcloud/vtpmd/ca/ca-cert.pem

Get an agent certificate with `trustcloud verifier issue-cert --agent ID`.
--once exits 0 if the node is trusted, 1 otherwise. Logs go to stderr;
SIGTERM or SIGINT stops the agent.";

/// Node kind, as enrolled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Kind {
    /// A physical host (hardware TPM, or a stand-in).
    Host,
    /// A VM whose vTPM a host's vtpmd serves.
    Vm,
}

/// Attestation key type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum AkArg {
    /// ECC NIST P-256, ECDSA-SHA256.
    Ecc,
    /// RSA 2048, RSASSA-SHA256.
    Rsa,
}

/// Run the attestation agent: enroll this machine's TPM with the verifier
/// and answer its challenges.
#[derive(Args, Debug, Clone)]
#[command(after_long_help = EXAMPLES)]
pub struct AgentArgs {
    /// The TPM, as a tpm2-tss TCTI string: device:/dev/tpmrm0,
    /// mssim:host=H,port=P or swtpm:host=H,port=P.
    #[arg(long, value_name = "TCTI", default_value = "device:/dev/tpmrm0")]
    pub tpm: String,

    /// The verifier's URL (https://HOST:PORT). Default with --data-dir: the
    /// running verifier's address from DATA/verifier.json.
    #[arg(long, value_name = "URL")]
    pub verifier: Option<String>,

    /// This node's id (A-Z a-z 0-9 . _ -, at most 64). [default: the hostname]
    #[arg(long, value_name = "ID")]
    pub id: Option<String>,

    /// What this node is.
    #[arg(long, value_enum, default_value_t = Kind::Host)]
    pub kind: Kind,

    /// Client certificate PEM (CN agent:<id>). [default: DATA/pki/agents/<id>.pem]
    #[arg(long, value_name = "PEM", requires_all = ["key", "ca"])]
    pub cert: Option<PathBuf>,

    /// Its private key PEM. [default: DATA/pki/agents/<id>.key]
    #[arg(long, value_name = "PEM")]
    pub key: Option<PathBuf>,

    /// The verifier's CA certificate PEM. [default: DATA/pki/ca.pem]
    #[arg(long, value_name = "PEM")]
    pub ca: Option<PathBuf>,

    /// The verifier's data directory (as for `trustcloud verifier` and `up`),
    /// to find the URL, the CA and this agent's certificate.
    /// [default: $XDG_DATA_HOME/trustcloud or ~/.local/share/trustcloud]
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Where the agent keeps its AK (wrapped by the TPM, files 0600).
    /// [default: DATA/agent/<id>]
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,

    /// The firmware event log (a missing file means none).
    #[arg(long, value_name = "PATH", default_value = DEFAULT_EVENT_LOG)]
    pub event_log: PathBuf,

    /// The IMA measurement list (a missing file means IMA is off).
    #[arg(long, value_name = "PATH", default_value = DEFAULT_IMA_LOG)]
    pub ima_log: PathBuf,

    /// Hosts running vtpmd: its CA certificate (PEM), sent at enrollment so
    /// the verifier links this host's VMs to it.
    #[arg(long, value_name = "PEM")]
    pub vtpm_ca: Option<PathBuf>,

    /// Attestation key type.
    #[arg(long, value_enum, default_value_t = AkArg::Ecc)]
    pub ak: AkArg,

    /// Enroll, attest once, print the result and exit: 0 if trusted, 1 if not.
    #[arg(long)]
    pub once: bool,

    /// With --once: print the result as JSON. Otherwise: one JSON line per
    /// attestation result on stdout.
    #[arg(long)]
    pub json: bool,
}

/// The default data directory of the verifier, `up` and the CLI.
pub fn default_data_dir() -> anyhow::Result<PathBuf> {
    let base = match std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        Some(d) => PathBuf::from(d),
        None => match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
            Some(h) => PathBuf::from(h).join(".local/share"),
            None => bail!("neither XDG_DATA_HOME nor HOME is set: pass --data-dir"),
        },
    };
    Ok(base.join("trustcloud"))
}

/// This machine's host name (the default agent id).
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// The URL a running verifier wrote to DATA/verifier.json.
pub fn verifier_url_from(data_dir: &Path) -> anyhow::Result<String> {
    let path = data_dir.join("verifier.json");
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "cannot read {} (is a verifier running with --data-dir {}? or pass --verifier URL)",
            path.display(),
            data_dir.display()
        )
    })?;
    let v: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    v.get("url")
        .and_then(|u| u.as_str())
        .map(str::to_string)
        .with_context(|| format!("{} has no \"url\"", path.display()))
}

/// PEM → DER of the first certificate.
pub fn pem_to_der(pem: &[u8]) -> anyhow::Result<Vec<u8>> {
    use base64::Engine as _;
    let text = std::str::from_utf8(pem).context("PEM is not text")?;
    let begin = "-----BEGIN CERTIFICATE-----";
    let end = "-----END CERTIFICATE-----";
    let start = text.find(begin).context("no BEGIN CERTIFICATE")? + begin.len();
    let stop = text[start..].find(end).context("no END CERTIFICATE")? + start;
    let b64: String = text[start..stop].split_whitespace().collect();
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .context("certificate PEM is not base64")
}

/// The agent's configuration and client from the command line.
pub fn build(args: &AgentArgs) -> anyhow::Result<(AgentConfig, ApiClient)> {
    let id = args.id.clone().unwrap_or_else(hostname);
    let data_dir = match &args.data_dir {
        Some(d) => Some(d.clone()),
        None if args.cert.is_none() || args.verifier.is_none() => Some(default_data_dir()?),
        None => None,
    };
    let need_data = |what: &str| -> anyhow::Result<&PathBuf> {
        data_dir
            .as_ref()
            .with_context(|| format!("no {what}: pass it or --data-dir"))
    };
    let url = match &args.verifier {
        Some(u) => u.clone(),
        None => verifier_url_from(need_data("--verifier")?)?,
    };
    let (cert, key, ca) = match (&args.cert, &args.key, &args.ca) {
        (Some(c), Some(k), Some(a)) => (c.clone(), k.clone(), a.clone()),
        _ => {
            let d = need_data("--cert/--key/--ca")?;
            let agents = d.join("pki/agents");
            (
                agents.join(format!("{id}.pem")),
                agents.join(format!("{id}.key")),
                d.join("pki/ca.pem"),
            )
        }
    };
    let tls = TlsFiles::read(&cert, &key, &ca).with_context(|| {
        format!("agent TLS material (issue it with `trustcloud verifier issue-cert --agent {id}`)")
    })?;
    let client = ApiClient::new(&url, &tls)?;
    let state_dir = match (&args.state_dir, &data_dir) {
        (Some(s), _) => s.clone(),
        (None, Some(d)) => d.join("agent").join(&id),
        (None, None) => default_data_dir()?.join("agent").join(&id),
    };
    let vtpm_ca_certificate = match &args.vtpm_ca {
        Some(p) => {
            let pem = std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))?;
            Some(pem_to_der(&pem).with_context(|| format!("{}", p.display()))?)
        }
        None => None,
    };
    let config = AgentConfig {
        id,
        kind: match args.kind {
            Kind::Host => NodeKind::Host,
            Kind::Vm => NodeKind::Vm,
        },
        tcti: args.tpm.clone(),
        state_dir,
        ak_kind: match args.ak {
            AkArg::Ecc => AkKind::EccP256,
            AkArg::Rsa => AkKind::Rsa2048,
        },
        logs: LogSources {
            event_log: args.event_log.clone(),
            ima_log: args.ima_log.clone(),
        },
        vtpm_ca_certificate,
    };
    Ok((config, client))
}

fn state_name(s: NodeState) -> &'static str {
    match s {
        NodeState::Registered => "registered",
        NodeState::Enrolled => "enrolled",
        NodeState::Trusted => "trusted",
        NodeState::Failed => "failed",
        NodeState::Unreachable => "unreachable",
    }
}

fn print_result(id: &str, r: &AttestationResult, json: bool) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        let v = serde_json::json!({"id": id, "state": r.state, "reasons": r.reasons, "next_in_ms": r.next_in_ms});
        writeln!(out, "{v}")?;
    } else {
        writeln!(out, "{id}: {}", state_name(r.state))?;
        for reason in &r.reasons {
            writeln!(out, "  - {reason}")?;
        }
    }
    out.flush()?;
    Ok(())
}

pub fn run(args: AgentArgs) -> anyhow::Result<()> {
    let signals = StopSignals::block().context("cannot block SIGTERM/SIGINT")?;
    let (config, client) = build(&args)?;
    let id = config.id.clone();
    tracing::info!(agent = %id, tpm = %config.tcti, verifier = %client.base_url(), "agent starting");
    let mut agent = Agent::new(config, client)?;
    if args.once {
        let r = agent.run_once()?;
        print_result(&id, &r, args.json)?;
        if r.state != NodeState::Trusted {
            std::process::exit(1);
        }
        return Ok(());
    }
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel();
    signals.forward_to(tx)?;
    let flag = Arc::clone(&stop);
    std::thread::Builder::new()
        .name("stop".into())
        .spawn(move || {
            if rx.recv().is_ok() {
                flag.store(true, Ordering::Relaxed);
            }
        })?;
    let json = args.json;
    agent.run(&stop, |ev| {
        if let Event::Result(r) | Event::Enrolled(r) = ev {
            if json {
                let _ = print_result(&id, r, true);
            }
        }
    })?;
    tracing::info!("agent stopped");
    Ok(())
}
