//! The subcommands. Each file is one command; later issues add `vtpmd`,
//! `vtpm`, `agent`, `verifier` and `up` beside `tpm serve`.

pub mod agent;
pub mod attest_status;
pub mod node;
pub mod policy;
pub mod tpm_serve;
pub mod up;
pub mod verifier;
pub mod vtpm;
pub mod vtpmd;

use clap::{Args, Subcommand};

#[derive(Args, Debug)]
pub struct TpmArgs {
    #[command(subcommand)]
    command: TpmCommand,
}

#[derive(Subcommand, Debug)]
enum TpmCommand {
    /// Serve one TPM 2.0 over TCP (mssim or swtpm protocol) with its state kept in a directory.
    Serve(tpm_serve::ServeArgs),
}

pub fn run_tpm(args: TpmArgs) -> anyhow::Result<()> {
    match args.command {
        TpmCommand::Serve(a) => tpm_serve::run(a),
    }
}
