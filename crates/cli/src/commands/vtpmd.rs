//! `trustcloud vtpmd`: the daemon hosting every vTPM of the host.

use std::io::Write;
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use vtpm::daemon::{Config, Daemon};

use super::vtpm::default_run_dir;
use crate::signals::StopSignals;

const EXAMPLES: &str = "\
Examples:
  # A daemon for this user, state under ./state, sockets under ./run:
  trustcloud vtpmd --state-dir ./state --run-dir ./run &
  trustcloud vtpm create vm1 --run-dir ./run
  qemu-system-x86_64 ... -chardev socket,id=chrtpm,path=./run/vm1.ctrl \\
      -tpmdev emulator,id=tpm0,chardev=chrtpm -device tpm-tis,tpmdev=tpm0

  # On a host with a TPM, rooted in it:
  trustcloud vtpmd --host-tpm device:/dev/tpmrm0

Once the management socket is bound, exactly one line is printed on stdout:
  ready socket=<RUN>/vtpmd.sock instances=<N>
Logs go to stderr. SIGTERM or SIGINT stops the daemon after storing the
state of every loaded vTPM. Every vTPM keeps its control socket
<RUN>/<NAME>.ctrl for QEMU's `-tpmdev emulator`.";

/// Run the vTPM daemon: every vTPM of this host in one process.
///
/// vTPMs are created and managed with `trustcloud vtpm` through the
/// management socket RUN/vtpmd.sock. Each vTPM is served on its control
/// socket RUN/NAME.ctrl (the swtpm control protocol QEMU speaks) and
/// optionally on a TCP port pair. vTPMs stay on disk until a client
/// connects and are unloaded after --unload-after seconds without one.
#[derive(Args, Debug)]
#[command(after_long_help = EXAMPLES)]
pub struct VtpmdArgs {
    /// Directory holding every vTPM's state (created if missing; one daemon per
    /// directory). [default: /var/lib/trustcloud/vtpmd as root, else
    /// $XDG_DATA_HOME/trustcloud/vtpmd or ~/.local/share/trustcloud/vtpmd]
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,

    /// Directory of the management socket and the vTPMs' control sockets.
    /// [default: /run/trustcloud as root, else $XDG_RUNTIME_DIR/trustcloud]
    #[arg(long, value_name = "DIR", env = "TRUSTCLOUD_RUN_DIR")]
    run_dir: Option<PathBuf>,

    /// The host's TPM, as a tpm2-tss TCTI string (device:/dev/tpmrm0,
    /// mssim:host=H,port=P, swtpm:host=H,port=P): it protects the state keys
    /// and the EK CA key. Without it the host has no hardware root of trust.
    #[arg(long, value_name = "TCTI")]
    host_tpm: Option<String>,

    /// Unload a vTPM from memory after this many seconds without a client
    /// (its state stays on disk; the next connection loads it again).
    #[arg(long, value_name = "SECONDS", default_value_t = 300)]
    unload_after: u64,
}

fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

fn default_state_dir() -> anyhow::Result<PathBuf> {
    if is_root() {
        return Ok(PathBuf::from("/var/lib/trustcloud/vtpmd"));
    }
    let base = match std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        Some(d) => PathBuf::from(d),
        None => match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
            Some(h) => PathBuf::from(h).join(".local/share"),
            None => anyhow::bail!("neither XDG_DATA_HOME nor HOME is set: pass --state-dir"),
        },
    };
    Ok(base.join("trustcloud/vtpmd"))
}

pub fn run(args: VtpmdArgs) -> anyhow::Result<()> {
    // Before any thread exists, so that every thread inherits the mask.
    let signals = StopSignals::block().context("cannot block SIGTERM/SIGINT")?;
    let state_dir = match args.state_dir {
        Some(d) => d,
        None => default_state_dir()?,
    };
    let run_dir = match args.run_dir {
        Some(d) => d,
        None => default_run_dir()?,
    };
    let daemon = Daemon::start(Config {
        state_dir,
        run_dir,
        host_tpm: args.host_tpm,
        idle_unload: Duration::from_secs(args.unload_after),
    })?;
    let (stop_tx, stop_rx) = mpsc::channel();
    signals.forward_to(stop_tx)?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "ready socket={} instances={}",
        daemon.socket_path().display(),
        daemon.instance_count()
    )?;
    out.flush()?;
    drop(out);
    tracing::info!(socket = %daemon.socket_path().display(), "vtpmd ready");
    let reason = stop_rx.recv().context("all stop senders vanished")?;
    tracing::info!(?reason, "stopping");
    daemon.shutdown();
    Ok(())
}
