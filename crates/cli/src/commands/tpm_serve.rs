//! `trustcloud tpm serve`: one TPM 2.0 on two TCP ports, state in a
//! directory.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{mpsc, Arc, Mutex};

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use tpm::crypto::HashAlg;
use tpm::EngineConfig;
use vtpm::{mssim, net, swtpm_tcp, Instance, Opened, StateStore};

use crate::signals::StopSignals;

const EXAMPLES: &str = "\
Examples:
  # A TPM for tpm2-tools over the simulator protocol (ports 2321 and 2322):
  trustcloud tpm serve --state-dir /var/lib/mytpm --listen 127.0.0.1:2321 --protocol mssim
  TPM2TOOLS_TCTI=mssim:host=127.0.0.1,port=2321 tpm2_startup -c

  # The same TPM over swtpm's TCP protocol (data 2321, control 2322):
  trustcloud tpm serve --state-dir /var/lib/mytpm --protocol swtpm
  TPM2TOOLS_TCTI=swtpm:host=127.0.0.1,port=2321 tpm2_getrandom 8 --hex

  # A new TPM with four PCR banks, on any free pair of ports (read the
  # chosen ports from the line printed on stdout):
  trustcloud tpm serve --state-dir ./tpm --listen 127.0.0.1:0 --pcr-banks sha1,sha256,sha384,sm3_256

Once the ports are bound, exactly one line is printed on stdout:
  listening protocol=mssim command=127.0.0.1:<P> platform=127.0.0.1:<P+1>
  listening protocol=swtpm data=127.0.0.1:<P> control=127.0.0.1:<P+1>
Logs go to stderr. SIGTERM or SIGINT stops the server; every acknowledged
command is already on disk, so a restart is a power cycle of the same TPM.";

/// The wire protocol served.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Protocol {
    /// TCG/Microsoft TPM simulator protocol: command port PORT, platform port PORT+1
    /// (TPM2TOOLS_TCTI=mssim:host=H,port=PORT).
    Mssim,
    /// swtpm TCP mode: data port PORT (raw or simulator-framed commands), control
    /// port PORT+1 (TPM2TOOLS_TCTI=swtpm:host=H,port=PORT).
    Swtpm,
}

impl Protocol {
    fn name(self) -> &'static str {
        match self {
            Protocol::Mssim => "mssim",
            Protocol::Swtpm => "swtpm",
        }
    }
}

/// Serve one TPM 2.0 over TCP.
///
/// The TPM lives in --state-dir: if the directory holds no TPM yet, a new
/// one is manufactured (fresh seeds) and stored there first. Every command
/// that changes the TPM's permanent state is written durably (temp file,
/// fsync, rename) before its response is sent. The TPM is powered on at
/// start and awaits TPM2_Startup, like a TPM after a power cycle.
#[derive(Args, Debug)]
#[command(after_long_help = EXAMPLES)]
pub struct ServeArgs {
    /// Directory holding the TPM state file (created if missing; one server per
    /// directory). [default: $XDG_DATA_HOME/trustcloud/tpm or ~/.local/share/trustcloud/tpm]
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,

    /// Address of the first port; the second port is the next one. Port 0 picks a
    /// free pair of consecutive ports.
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:2321")]
    listen: SocketAddr,

    /// Wire protocol.
    #[arg(long, value_enum, default_value_t = Protocol::Mssim)]
    protocol: Protocol,

    /// PCR banks of a NEWLY MANUFACTURED TPM, comma-separated, from sha1, sha256,
    /// sha384, sha512, sm3_256 [default: sha256]. Ignored when --state-dir already
    /// holds a TPM: it keeps its allocation (change that with TPM2_PCR_Allocate,
    /// e.g. tpm2_pcrallocate, which takes effect at the next TPM2_Startup).
    #[arg(long, value_name = "BANKS", value_delimiter = ',', value_parser = parse_bank)]
    pcr_banks: Vec<HashAlg>,
}

fn parse_bank(s: &str) -> Result<HashAlg, String> {
    HashAlg::from_name(s.trim()).ok_or_else(|| {
        format!("unknown PCR bank {s:?}: expected one of sha1, sha256, sha384, sha512, sm3_256")
    })
}

fn default_state_dir() -> anyhow::Result<PathBuf> {
    let base = match std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        Some(d) => PathBuf::from(d),
        None => match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
            Some(h) => PathBuf::from(h).join(".local/share"),
            None => bail!("neither XDG_DATA_HOME nor HOME is set: pass --state-dir"),
        },
    };
    Ok(base.join("trustcloud/tpm"))
}

fn bank_names(banks: &[HashAlg]) -> String {
    banks.iter().map(|b| b.name()).collect::<Vec<_>>().join(",")
}

pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    // Before any thread exists, so that every thread inherits the mask.
    let signals = StopSignals::block().context("cannot block SIGTERM/SIGINT")?;

    let state_dir = match args.state_dir {
        Some(d) => d,
        None => default_state_dir()?,
    };
    let store = StateStore::open(&state_dir)?;

    let mut requested = args.pcr_banks.clone();
    requested.sort();
    requested.dedup();
    let config = EngineConfig {
        pcr_banks: if requested.is_empty() {
            vec![HashAlg::Sha256]
        } else {
            requested.clone()
        },
    };
    let (instance, opened) = Instance::open(store, &config)?;
    let mut banks = instance.pcr_banks();
    banks.sort();
    let file = instance.state_path().display().to_string();
    match opened {
        Opened::Manufactured => {
            tracing::info!(file, banks = bank_names(&banks), "manufactured a new TPM");
        }
        Opened::Loaded => {
            tracing::info!(
                file,
                banks = bank_names(&banks),
                "loaded the TPM (power cycle: awaiting TPM2_Startup)"
            );
            if !requested.is_empty() && requested != banks {
                tracing::warn!(
                    requested = bank_names(&requested),
                    existing = bank_names(&banks),
                    "--pcr-banks only applies to a new TPM: the existing allocation is kept"
                );
            }
        }
    }
    let instance = Arc::new(Mutex::new(instance));

    let (first, second) = net::bind_pair(args.listen)
        .with_context(|| format!("cannot listen on {} and the next port", args.listen))?;
    let first_addr = first.local_addr()?;
    let second_addr = second.local_addr()?;

    let (stop_tx, stop_rx) = mpsc::channel();
    signals.forward_to(stop_tx.clone())?;
    match args.protocol {
        Protocol::Mssim => mssim::serve(first, second, Arc::clone(&instance), stop_tx)?,
        Protocol::Swtpm => swtpm_tcp::serve(first, second, Arc::clone(&instance), stop_tx)?,
    }

    let (a, b) = match args.protocol {
        Protocol::Mssim => ("command", "platform"),
        Protocol::Swtpm => ("data", "control"),
    };
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "listening protocol={} {a}={first_addr} {b}={second_addr}",
        args.protocol.name()
    )?;
    out.flush()?;
    drop(out);
    tracing::info!(protocol = args.protocol.name(), %first_addr, %second_addr, "serving");

    let reason = stop_rx.recv().context("all stop senders vanished")?;
    tracing::info!(?reason, "stopping");
    // Holding the lock until the process ends: no command runs after this
    // point, and the one that was running has finished and been stored.
    let mut inst = net::lock(&instance);
    if let Err(e) = inst.flush() {
        tracing::warn!(error = %e, "cannot store the final Clock value");
    }
    tracing::info!(file, "stopped");
    // Keep the instance locked while the process ends.
    std::mem::forget(inst);
    Ok(())
}
