//! What a process costs, read from `/proc/PID`: resident memory (`status`
//! VmRSS: every page mapped, shared library text counted in full), the
//! proportional set size (`smaps_rollup` Pss: shared pages divided among
//! the processes mapping them, the fair figure for many swtpm processes
//! sharing libtpms and libcrypto), its anonymous part, threads, open
//! descriptors and CPU time.

use std::fs;
use std::time::Duration;

/// Memory of one process, in KiB.
#[derive(Clone, Copy, Debug, Default)]
pub struct Mem {
    pub rss_kb: u64,
    pub pss_kb: u64,
    /// Pss_Anon: heap and stacks, what grows per instance.
    pub pss_anon_kb: u64,
    /// VmPTE: the page tables, kernel memory each process pays apart.
    pub pte_kb: u64,
    pub threads: u64,
    pub fds: u64,
}

impl Mem {
    /// The sum over several processes.
    pub fn sum(pids: &[u32]) -> Mem {
        pids.iter()
            .map(|&p| mem(p))
            .fold(Mem::default(), |a, m| Mem {
                rss_kb: a.rss_kb + m.rss_kb,
                pss_kb: a.pss_kb + m.pss_kb,
                pss_anon_kb: a.pss_anon_kb + m.pss_anon_kb,
                pte_kb: a.pte_kb + m.pte_kb,
                threads: a.threads + m.threads,
                fds: a.fds + m.fds,
            })
    }

    /// Each field divided by `k` (an average over `k` processes).
    pub fn per(self, k: usize) -> Mem {
        let k = k.max(1) as u64;
        Mem {
            rss_kb: self.rss_kb / k,
            pss_kb: self.pss_kb / k,
            pss_anon_kb: self.pss_anon_kb / k,
            pte_kb: self.pte_kb / k,
            threads: self.threads / k,
            fds: self.fds / k,
        }
    }
}

/// The value of `key` in a `Key:   123 kB` file.
fn field(text: &str, key: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Reads the memory of `pid`; zeros if it is gone.
pub fn mem(pid: u32) -> Mem {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rollup = fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
    let fds = fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count() as u64)
        .unwrap_or(0);
    Mem {
        rss_kb: field(&status, "VmRSS"),
        pss_kb: field(&rollup, "Pss"),
        pss_anon_kb: field(&rollup, "Pss_Anon"),
        pte_kb: field(&status, "VmPTE"),
        threads: field(&status, "Threads"),
        fds,
    }
}

/// User plus system CPU time of `pid` so far (`stat` fields 14 and 15).
pub fn cpu(pid: u32) -> Duration {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The command name (field 2) may hold spaces: count after its ')'.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<u64> = rest
        .split_whitespace()
        .map(|v| v.parse().unwrap_or(0))
        .collect();
    // rest starts at field 3 (state), so utime (14) is index 11.
    let ticks = f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0);
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Duration::from_millis(ticks * 1000 / hz)
}

/// Context switches (voluntary and not) of every live thread of `pid`.
pub fn switches(pid: u32) -> u64 {
    let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .filter_map(Result::ok)
        .map(|t| {
            let st = fs::read_to_string(t.path().join("status")).unwrap_or_default();
            field(&st, "voluntary_ctxt_switches") + field(&st, "nonvoluntary_ctxt_switches")
        })
        .sum()
}

/// CPU time and context switches of a set of processes, summed.
pub fn usage(pids: &[u32]) -> (Duration, u64) {
    pids.iter().fold((Duration::ZERO, 0), |(c, s), &p| {
        (c + cpu(p), s + switches(p))
    })
}

/// Raises this process's open-file limit to its hard limit (a thousand
/// clients hold two descriptors each).
pub fn raise_nofile() -> u64 {
    // SAFETY: getrlimit/setrlimit write/read the struct we own.
    unsafe {
        let mut r: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) != 0 {
            return 0;
        }
        r.rlim_cur = r.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &r);
        r.rlim_cur as u64
    }
}
