//! `trustcloud verifier`: the registrar and verifier with the REST API over
//! mutual TLS (crates/verifier), and `verifier issue-cert` for agents.

use crate::stdout::outln;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};

#[derive(Args, Debug)]
#[command(
    args_conflicts_with_subcommands = true,
    after_help = "\
On first start the verifier creates its PKI under DATA/pki (an API CA, its
server certificate, the operator's client certificate), its database
DATA/verifier.db and its EAR signing key DATA/ear.key, then writes
DATA/verifier.json {\"url\", \"pid\"} so `trustcloud node|policy|attest`
find it. Agents need a client certificate: `trustcloud verifier issue-cert`.

Examples:
  trustcloud verifier
  trustcloud verifier --data-dir /var/lib/trustcloud --listen 0.0.0.0:8443 \\
      --advertise verifier.example.net --trust-anchor /etc/trustcloud/ek-roots.pem
  trustcloud verifier --software-trust-anchor /var/lib/swtpm-localca/swtpm-localca-rootca-cert.pem
  trustcloud verifier --db postgres://tc@db/trustcloud --replica-id v1   # replicas share PG
  trustcloud verifier --db postgres://tc@db/trustcloud --role registrar --listen 0.0.0.0:8444
  trustcloud verifier issue-cert --agent host-1 --out ./host-1-certs"
)]
pub struct VerifierArgs {
    #[command(subcommand)]
    command: Option<VerifierCommand>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Subcommand, Debug)]
enum VerifierCommand {
    /// Issue a client certificate (CN agent:ID) for an agent, signed by the API CA.
    IssueCert(IssueArgs),
}

#[derive(Args, Debug)]
struct RunArgs {
    /// Data directory (PKI, database, EAR key, verifier.json).
    /// Default: $XDG_DATA_HOME/trustcloud or ~/.local/share/trustcloud.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Address of the HTTPS API (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8443")]
    listen: SocketAddr,
    /// Database: sqlite://PATH (default DATA/verifier.db) or postgres://USER@HOST/DB.
    #[arg(long, value_name = "URL")]
    db: Option<String>,
    /// Trust anchor for EK certificates of hardware TPMs (PEM bundle or
    /// DER; repeatable): TPM vendor roots, the CA of a vtpmd whose host
    /// TPM is hardware.
    #[arg(long = "trust-anchor", value_name = "FILE")]
    trust_anchors: Vec<PathBuf>,
    /// Trust anchor for EK certificates of software TPMs (repeatable):
    /// swtpm's local CA, a vtpmd without --host-tpm. Their nodes attest,
    /// but show ROOT "software" and their EAR hardware claim is 32
    /// ("unsafe"), so a relying party sees a warning, not an affirmation.
    #[arg(long = "software-trust-anchor", value_name = "FILE")]
    software_trust_anchors: Vec<PathBuf>,
    /// How often agents send evidence (e.g. 2s, 500ms, 1m).
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    interval: Duration,
    /// Name of this replica among verifiers sharing one database.
    #[arg(long, value_name = "ID")]
    replica_id: Option<String>,
    /// Extra DNS name or IP for the server certificate (repeatable).
    #[arg(long, value_name = "NAME")]
    advertise: Vec<String>,
    /// Run the registrar and the verifier (all), or only one of them
    /// (processes of both roles share one --db).
    #[arg(long, default_value = "all", value_name = "all|registrar|verifier")]
    role: verifier::Role,
}

#[derive(Args, Debug)]
struct IssueArgs {
    /// The agent's id ([A-Za-z0-9._-], 1-64).
    #[arg(long, value_name = "ID")]
    agent: String,
    /// Also copy the certificate, key and CA here (agent.pem, agent.key, ca.pem).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Data directory of the verifier.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
}

/// Parses `2s`, `500ms`, `1m`, `1.5s` or plain seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, mult) = if let Some(n) = s.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60.0)
    } else {
        (s, 1.0)
    };
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a duration (e.g. 2s, 500ms, 1m)"))?;
    let secs = v * mult;
    if !(0.05..=86_400.0).contains(&secs) {
        return Err(format!("{s:?} is out of range (50ms to 24h)"));
    }
    Ok(Duration::from_secs_f64(secs))
}

pub fn run(args: VerifierArgs) -> anyhow::Result<()> {
    match args.command {
        Some(VerifierCommand::IssueCert(a)) => issue_cert(a),
        None => serve(args.run),
    }
}

fn issue_cert(a: IssueArgs) -> anyhow::Result<()> {
    let data = a.data_dir.unwrap_or_else(verifier::default_data_dir);
    let pki = verifier::pki::Pki::new(data.join("pki"));
    pki.ensure(&[])
        .with_context(|| format!("PKI in {}", pki.dir().display()))?;
    let files = pki.issue_agent_cert(&a.agent)?;
    outln!("certificate: {}", files.cert.display())?;
    outln!("key:         {}", files.key.display())?;
    outln!("CA:          {}", pki.ca_cert_path().display())?;
    if let Some(out) = a.out {
        std::fs::create_dir_all(&out).with_context(|| format!("{}", out.display()))?;
        copy(&files.cert, &out.join("agent.pem"), 0o644)?;
        copy(&files.key, &out.join("agent.key"), 0o600)?;
        copy(&pki.ca_cert_path(), &out.join("ca.pem"), 0o644)?;
        outln!("copied to {} (agent.pem, agent.key, ca.pem)", out.display())?;
    }
    Ok(())
}

fn copy(from: &std::path::Path, to: &std::path::Path, mode: u32) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let data = std::fs::read(from).with_context(|| format!("{}", from.display()))?;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(to)
        .with_context(|| format!("{}", to.display()))?;
    f.write_all(&data)?;
    Ok(())
}

fn serve(a: RunArgs) -> anyhow::Result<()> {
    let data = a.data_dir.unwrap_or_else(verifier::default_data_dir);
    let mut cfg = verifier::VerifierConfig::new(&data);
    cfg.listen = a.listen;
    cfg.db_url = a.db;
    cfg.trust_anchors = a.trust_anchors;
    cfg.software_trust_anchors = a.software_trust_anchors;
    cfg.interval = a.interval;
    cfg.replica_id = a.replica_id;
    cfg.advertise = a.advertise;
    cfg.role = a.role;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("tokio runtime")?;
    rt.block_on(async move {
        let running = verifier::start(cfg)
            .await
            .with_context(|| format!("starting the verifier (data dir {})", data.display()))?;
        // The banner is for a person watching; a daemon whose stdout reader
        // has gone keeps serving (as `up` does).
        let banner = outln!(
            "trustcloud verifier: API at {}\n  data dir:  {}\n  operator:  cert {} key {} (CA {})\n  try:       trustcloud node list --data-dir {}",
            running.url,
            data.display(),
            running.pki.operator().cert.display(),
            running.pki.operator().key.display(),
            running.pki.ca_cert_path().display(),
            data.display()
        );
        if let Err(e) = banner {
            tracing::debug!("startup banner not shown: {e:#}");
        }
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("SIGTERM handler")?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        eprintln!("trustcloud verifier: stopping");
        running.shutdown().await;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("2s").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("1m").unwrap(), Duration::from_secs(60));
        assert_eq!(parse_duration("3").unwrap(), Duration::from_secs(3));
        assert!(parse_duration("fast").is_err());
        assert!(parse_duration("0s").is_err());
    }
}
