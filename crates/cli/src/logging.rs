//! Logs go to stderr (stdout carries only machine-readable lines such as
//! `tpm serve`'s "listening" line).

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber: RUST_LOG if set, else info / debug /
/// trace for 0 / 1 / 2+ `-v`.
pub fn init(verbose: u8) {
    let default = match verbose {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}
