//! The process's memory allocator: mimalloc for the network daemons that
//! serve many small HTTPS requests (`verifier`, `agent`), glibc's malloc for
//! everything else, chosen once per process from its subcommand.
//!
//! Why two. Under load the verifier spent 28 % of its CPU in glibc's malloc
//! (10.6 % in `_int_malloc` alone): TLS records, HTTP bodies and JSON maps
//! are allocated on one tokio thread and freed on another, past glibc's
//! per-thread cache, into its arena locks and bin consolidation. mimalloc
//! cut the verifier's CPU per round by about a sixth (BENCHMARKS.md
//! "Issue 5", run K). But vtpmd serves each TPM connection on a thread of
//! its own, and mimalloc keeps pages per thread: a loaded vTPM then cost
//! 1,081 KiB of RSS instead of ~60 KiB. One binary holds both daemons, and
//! `trustcloud up` runs the verifier as a child process, so the choice is
//! per process.
//!
//! Memory must go back to the allocator that gave it, so the choice is
//! fixed before the first allocation: an ELF constructor (`.init_array`,
//! which glibc calls with argc, argv and envp before Rust's runtime starts)
//! reads the command line without allocating and sets it once. The
//! environment variable `TRUSTCLOUD_ALLOCATOR=mimalloc|glibc` overrides the
//! choice (for measuring one against the other).

use std::alloc::{GlobalAlloc, Layout, System};
use std::ffi::{c_char, c_int, CStr};
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once by [`choose_at_load`], before any allocation; read on every
/// allocation and release.
static MIMALLOC: AtomicBool = AtomicBool::new(false);

/// The subcommands whose processes use mimalloc.
const MIMALLOC_COMMANDS: [&[u8]; 2] = [b"verifier", b"agent"];

/// The `#[global_allocator]` of the binary.
pub struct ProcessAllocator;

// SAFETY: every call forwards to one of two sound allocators; which one is
// fixed before the first allocation (see the module comment), so each block
// is released, grown or shrunk by the allocator that gave it.
unsafe impl GlobalAlloc for ProcessAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if MIMALLOC.load(Ordering::Relaxed) {
            unsafe { mimalloc::MiMalloc.alloc(layout) }
        } else {
            unsafe { System.alloc(layout) }
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if MIMALLOC.load(Ordering::Relaxed) {
            unsafe { mimalloc::MiMalloc.alloc_zeroed(layout) }
        } else {
            unsafe { System.alloc_zeroed(layout) }
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if MIMALLOC.load(Ordering::Relaxed) {
            unsafe { mimalloc::MiMalloc.dealloc(ptr, layout) }
        } else {
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if MIMALLOC.load(Ordering::Relaxed) {
            unsafe { mimalloc::MiMalloc.realloc(ptr, layout, new_size) }
        } else {
            unsafe { System.realloc(ptr, layout, new_size) }
        }
    }
}

/// What a `TRUSTCLOUD_ALLOCATOR` value asks for: whether mimalloc, or
/// `None` when it names no allocator (then the command decides).
fn override_wants_mimalloc(value: &[u8]) -> Option<bool> {
    match value {
        b"mimalloc" => Some(true),
        b"glibc" | b"system" => Some(false),
        _ => None,
    }
}

/// Which allocator a process with these arguments (without the program
/// name) and this `TRUSTCLOUD_ALLOCATOR` value uses.
fn wants_mimalloc<'a>(mut args: impl Iterator<Item = &'a [u8]>, forced: Option<&[u8]>) -> bool {
    if let Some(choice) = forced.and_then(override_wants_mimalloc) {
        return choice;
    }
    // The only options before the subcommand are flags without a value
    // (`-v`, `--verbose`), so the first word that is not one names it.
    args.find(|a| !a.starts_with(b"-"))
        .is_some_and(|cmd| MIMALLOC_COMMANDS.contains(&cmd))
}

/// The value of `TRUSTCLOUD_ALLOCATOR` when it names no allocator (and so
/// was ignored), for a warning once logging is up.
pub fn ignored_override() -> Option<String> {
    let value = std::env::var_os("TRUSTCLOUD_ALLOCATOR")?;
    let bytes = value.as_encoded_bytes();
    override_wants_mimalloc(bytes)
        .is_none()
        .then(|| String::from_utf8_lossy(bytes).into_owned())
}

/// The allocator this process chose (for its start-up log line).
pub fn name() -> &'static str {
    if MIMALLOC.load(Ordering::Relaxed) {
        "mimalloc"
    } else {
        "glibc"
    }
}

/// Runs from `.init_array` before `main` and before Rust's runtime
/// allocates anything. glibc passes argc, argv and envp to these
/// constructors (other C libraries need not, hence the `cfg`: elsewhere
/// every process keeps the system allocator); with a null argv the
/// default stays.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
extern "C" fn choose_at_load(argc: c_int, argv: *const *const c_char, envp: *const *const c_char) {
    // SAFETY: glibc hands constructors the process's argv (argc entries)
    // and envp (null-terminated), valid NUL-terminated strings that live
    // for the whole process; nothing here allocates.
    let (args, forced) = unsafe {
        let args: &[*const c_char] = if argv.is_null() || argc < 1 {
            &[]
        } else {
            std::slice::from_raw_parts(argv, argc as usize)
        };
        let mut forced = None;
        let mut env = envp;
        while !env.is_null() && !(*env).is_null() {
            let entry = CStr::from_ptr(*env).to_bytes();
            if let Some(value) = entry.strip_prefix(b"TRUSTCLOUD_ALLOCATOR=") {
                forced = Some(value);
            }
            env = env.add(1);
        }
        (args, forced)
    };
    let words = args
        .iter()
        .skip(1)
        .filter(|p| !p.is_null())
        // SAFETY: as above: argv's entries are NUL-terminated strings.
        .map(|&p| unsafe { CStr::from_ptr(p) }.to_bytes());
    MIMALLOC.store(wants_mimalloc(words, forced), Ordering::Relaxed);
}

/// Priority 101, the first one free for programs (0–100 belong to the
/// implementation; Rust's own argv hook at 99 only stores two pointers),
/// so this runs before every constructor of the crates linked in, which
/// might allocate.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[used]
#[unsafe(link_section = ".init_array.00101")]
static CHOOSE_AT_LOAD: extern "C" fn(c_int, *const *const c_char, *const *const c_char) =
    choose_at_load;

#[cfg(test)]
mod tests {
    use super::*;

    fn choice(args: &[&str], forced: Option<&str>) -> bool {
        wants_mimalloc(args.iter().map(|a| a.as_bytes()), forced.map(str::as_bytes))
    }

    #[test]
    fn the_request_serving_daemons_get_mimalloc() {
        assert!(choice(&["verifier", "--listen", "127.0.0.1:0"], None));
        assert!(choice(
            &["-v", "agent", "--tpm", "device:/dev/tpmrm0"],
            None
        ));
        assert!(choice(&["--verbose", "-vv", "verifier"], None));
    }

    #[test]
    fn vtpmd_and_everything_else_keep_glibc() {
        // vtpmd's thread per connection is what mimalloc makes expensive.
        assert!(!choice(&["vtpmd"], None));
        assert!(!choice(&["up", "--data-dir", "verifier"], None));
        assert!(!choice(&["node", "list"], None));
        assert!(!choice(&["help", "verifier"], None));
        assert!(!choice(&[], None));
        assert!(!choice(&["-v"], None));
    }

    #[test]
    fn the_environment_overrides_the_command() {
        assert!(choice(&["vtpmd"], Some("mimalloc")));
        assert!(!choice(&["verifier"], Some("glibc")));
        assert!(!choice(&["verifier"], Some("system")));
        // An unknown value leaves the choice to the command.
        assert!(choice(&["verifier"], Some("jemalloc")));
    }

    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn the_constructor_read_this_process_command_line() {
        // The constructor ran before this test, on this test binary's own
        // arguments and environment: its choice is the rule's.
        let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
        let forced = std::env::var_os("TRUSTCLOUD_ALLOCATOR");
        use std::os::unix::ffi::OsStrExt;
        let expected = wants_mimalloc(
            args.iter().map(|a| a.as_bytes()),
            forced.as_deref().map(|f| f.as_bytes()),
        );
        assert_eq!(name(), if expected { "mimalloc" } else { "glibc" });
    }
}
