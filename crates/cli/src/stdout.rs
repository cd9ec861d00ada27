//! Command output on stdout, for a reader that may stop reading.
//!
//! Rust ignores SIGPIPE, so a write to a pipe whose reader has gone fails
//! with EPIPE, and `println!` turns that into a panic (`trustcloud node
//! list --json | head -c 400` printed "failed printing to stdout: Broken
//! pipe" with a backtrace hint). Commands print through [`outln!`] and
//! [`out!`] instead, which return the failure as [`StdoutClosed`]; `main`
//! then ends the process the way `cat` or `ls` end in that pipeline: killed
//! by SIGPIPE (status 141 in a shell), silently. SIGPIPE stays ignored
//! everywhere else, so a peer closing a socket is still an error the code
//! handles, never a silent death.

use std::fmt;
use std::io::{self, Write};

/// Stdout's reader has gone: nothing more can be shown, and nothing is
/// wrong with the command's own work.
#[derive(Debug)]
pub struct StdoutClosed;

impl fmt::Display for StdoutClosed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("stdout was closed by its reader")
    }
}

impl std::error::Error for StdoutClosed {}

/// Writes `args` to stdout and flushes, so that a closed pipe is seen here
/// and not at exit.
pub fn write(args: fmt::Arguments<'_>) -> anyhow::Result<()> {
    let mut out = io::stdout().lock();
    out.write_fmt(args)
        .and_then(|()| out.flush())
        .map_err(|e| match e.kind() {
            io::ErrorKind::BrokenPipe => anyhow::Error::new(StdoutClosed),
            _ => anyhow::Error::new(e).context("writing to stdout"),
        })
}

/// Whether `error` (or anything in its chain) is [`StdoutClosed`].
pub fn is_closed(error: &anyhow::Error) -> bool {
    error.chain().any(|e| e.is::<StdoutClosed>())
}

/// Ends the process as SIGPIPE's default action would: restores that
/// action and raises the signal, so the parent sees "killed by SIGPIPE".
pub fn die_of_sigpipe() -> ! {
    // SAFETY: signal() with SIG_DFL and raise() take no pointers; the
    // process ends here, so no other code depends on the old disposition.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        libc::raise(libc::SIGPIPE);
    }
    // Unreachable unless SIGPIPE is blocked in this thread: 128 + 13 is
    // what a shell reports for a process killed by it.
    std::process::exit(141)
}

/// `print!` that returns a closed stdout as an error: `out!("{x}")?`.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::stdout::write(format_args!($($arg)*))
    };
}

/// `println!` that returns a closed stdout as an error: `outln!("{x}")?`.
macro_rules! outln {
    () => {
        $crate::stdout::write(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::stdout::write(format_args!("{}\n", format_args!($($arg)*)))
    };
}

pub(crate) use {out, outln};
