//! `trustcloud`: every daemon and operator command of the platform. This
//! file only parses the command line and dispatches; each subcommand lives
//! in `commands/`.

mod allocator;
mod commands;
mod logging;
mod signals;
mod stdout;

use clap::{Parser, Subcommand};

/// mimalloc for the verifier and the agent, glibc's malloc for vtpmd and
/// the rest (why: `allocator.rs`).
#[global_allocator]
static ALLOCATOR: allocator::ProcessAllocator = allocator::ProcessAllocator;

/// trustcloud: virtual TPMs rooted in their host, and remote attestation.
#[derive(Parser, Debug)]
#[command(
    name = "trustcloud",
    version,
    propagate_version = true,
    after_help = "Environment:\n  RUST_LOG              log filter, e.g. RUST_LOG=vtpm=trace (overrides -v)\n  TRUSTCLOUD_ALLOCATOR  glibc or mimalloc: the process's memory allocator (default: mimalloc for\n                        `verifier` and `agent`, glibc's malloc for everything else)"
)]
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
    /// Run everything on this machine: vtpmd, registrar, verifier and this host's agent.
    Up(commands::up::UpArgs),
    /// Run the attestation agent: enroll this machine's TPM and answer the verifier.
    Agent(commands::agent::AgentArgs),
    /// Run the registrar and verifier (REST API over mutual TLS).
    Verifier(commands::verifier::VerifierArgs),
    /// List and inspect attested nodes (hosts and VMs).
    Node(commands::node::NodeArgs),
    /// Create, apply and show attestation policies.
    Policy(commands::policy::PolicyArgs),
    /// Attestation results: trust state of every node.
    Attest(commands::attest_status::AttestArgs),
}

fn main() {
    let cli = Cli::parse();
    logging::init(cli.verbose);
    tracing::debug!(allocator = allocator::name(), "process allocator");
    if let Some(value) = allocator::ignored_override() {
        tracing::warn!(
            "TRUSTCLOUD_ALLOCATOR={value:?} names no allocator (glibc or mimalloc): ignored"
        );
    }
    let result = match cli.command {
        Command::Tpm(args) => commands::run_tpm(args),
        Command::Vtpmd(args) => commands::vtpmd::run(args),
        Command::Vtpm(args) => commands::vtpm::run(args),
        Command::Up(args) => commands::up::run(args),
        Command::Agent(args) => commands::agent::run(args),
        Command::Verifier(args) => commands::verifier::run(args),
        Command::Node(args) => commands::node::run(args),
        Command::Policy(args) => commands::policy::run(args),
        Command::Attest(args) => commands::attest_status::run(args),
    };
    if let Err(e) = result {
        if stdout::is_closed(&e) {
            stdout::die_of_sigpipe();
        }
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
