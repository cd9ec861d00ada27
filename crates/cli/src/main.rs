//! `trustcloud`: every daemon and operator command of the platform. This
//! file only parses the command line and dispatches; each subcommand lives
//! in `commands/`.

mod commands;
mod logging;
mod signals;

use clap::{Parser, Subcommand};

/// trustcloud: virtual TPMs rooted in their host, and remote attestation.
#[derive(Parser, Debug)]
#[command(name = "trustcloud", version, propagate_version = true)]
struct Cli {
    /// More log output on stderr: -v for debug, -vv for trace. RUST_LOG
    /// (e.g. RUST_LOG=vtpm=trace) overrides it.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run and use a single TPM 2.0 (serve it to tpm2-tools and other TSS clients).
    Tpm(commands::TpmArgs),
    /// Run the vTPM daemon: every vTPM of this host in one process, for QEMU and TSS clients.
    Vtpmd(commands::vtpmd::VtpmdArgs),
    /// Create and manage the vTPMs of a running vtpmd (create, list, show, delete, export, import).
    Vtpm(commands::vtpm::VtpmArgs),
}

fn main() {
    let cli = Cli::parse();
    logging::init(cli.verbose);
    let result = match cli.command {
        Command::Tpm(args) => commands::run_tpm(args),
        Command::Vtpmd(args) => commands::vtpmd::run(args),
        Command::Vtpm(args) => commands::vtpm::run(args),
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
