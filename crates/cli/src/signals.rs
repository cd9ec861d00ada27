//! SIGTERM/SIGINT as a message: the signals are blocked in every thread
//! and one thread takes them with sigwait, so a signal can never interrupt
//! a state write half-way; the main thread stops at a point of its choice.

use std::io;
use std::thread;

use vtpm::{StopReason, StopSender};

/// The blocked stop signals. Create this before spawning any thread: a
/// thread inherits the signal mask of the thread that spawns it.
pub struct StopSignals {
    set: libc::sigset_t,
}

impl StopSignals {
    /// Blocks SIGINT and SIGTERM in the calling thread (and so in every
    /// thread it spawns later).
    pub fn block() -> io::Result<StopSignals> {
        // SAFETY: sigset_t is plain data initialized by sigemptyset before
        // use; pthread_sigmask only reads it.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGINT);
            libc::sigaddset(&mut set, libc::SIGTERM);
            let rc = libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
            if rc != 0 {
                return Err(io::Error::from_raw_os_error(rc));
            }
            Ok(StopSignals { set })
        }
    }

    /// Sends [`StopReason::Signal`] to `stop` when the first of them arrives.
    pub fn forward_to(self, stop: StopSender) -> io::Result<()> {
        let set = self.set;
        thread::Builder::new()
            .name("signals".into())
            .spawn(move || loop {
                let mut sig: libc::c_int = 0;
                // SAFETY: `set` is a valid initialized sigset_t; sigwait
                // writes the signal number to `sig`.
                let rc = unsafe { libc::sigwait(&set, &mut sig) };
                if rc == 0 {
                    let _ = stop.send(StopReason::Signal(sig));
                    return;
                }
            })?;
        Ok(())
    }
}
