//! Many vTPMs busy at once: one client thread per instance, each attached
//! the way QEMU attaches ([`CtrlClient`]), then a closed loop of
//! TPM2_GetRandom(32) and TPM2_PCR_Extend(16, sha256) round trips over the
//! data channel for a fixed window. Every round trip is timed; the window
//! starts for all clients at once (a barrier after attaching), so the
//! throughput is that of M instances busy together.

use std::path::PathBuf;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use tpm::constants::cc;

use crate::ctrl_client::CtrlClient;
use crate::proc_stat;
use crate::{commands as c, harness};

/// The commands timed, alternately.
struct Commands {
    get_random: Vec<u8>,
    extend: Vec<u8>,
}

fn commands() -> Commands {
    let mut digests = 1u32.to_be_bytes().to_vec(); // TPML_DIGEST_VALUES.count
    digests.extend_from_slice(&0x000bu16.to_be_bytes()); // TPM_ALG_SHA256
    digests.extend_from_slice(&[0x5a; 32]);
    Commands {
        get_random: c::command(cc::GET_RANDOM, &[], &[], &32u16.to_be_bytes()),
        extend: c::command(cc::PCR_EXTEND, &[16], &[c::pw()], &digests),
    }
}

/// What one run measured. Latency vectors are sorted.
#[derive(Default)]
pub struct Busy {
    pub clients: usize,
    /// Clients that attached and started their TPM.
    pub attached: usize,
    /// Connect, capability probe, CMD_SET_DATAFD, power-on and
    /// TPM2_Startup: for vtpmd this includes loading the instance.
    pub attach: Vec<Duration>,
    /// From the first client connecting to the last one started.
    pub attach_all: Duration,
    pub get_random: Vec<Duration>,
    pub extend: Vec<Duration>,
    /// The measuring window (barrier release to the last client's end).
    pub window: Duration,
    pub errors: usize,
    pub first_error: Option<String>,
    /// CPU time and context switches of the server processes during the
    /// window (attaching excluded).
    pub server_cpu: Duration,
    pub server_switches: u64,
}

impl Busy {
    pub fn ops(&self) -> usize {
        self.get_random.len() + self.extend.len()
    }

    /// Round trips per second, all clients together.
    pub fn throughput(&self) -> f64 {
        self.ops() as f64 / self.window.as_secs_f64().max(1e-9)
    }
}

struct ClientResult {
    attach: Option<Duration>,
    get_random: Vec<Duration>,
    extend: Vec<Duration>,
    end: Instant,
    error: Option<String>,
}

/// Runs one client per control socket in `paths` for `window`; the
/// server is the processes `server`.
pub fn run(paths: &[PathBuf], window: Duration, server: &[u32]) -> Busy {
    let cmds = Arc::new(commands());
    let barrier = Arc::new(Barrier::new(paths.len() + 1));
    let first = Instant::now();
    let threads: Vec<_> = paths
        .iter()
        .map(|p| {
            let (p, cmds, barrier) = (p.clone(), Arc::clone(&cmds), Arc::clone(&barrier));
            thread::Builder::new()
                .stack_size(256 * 1024)
                .spawn(move || client(&p, &cmds, &barrier, window))
                .expect("spawn a client thread")
        })
        .collect();
    barrier.wait();
    let attach_all = first.elapsed();
    let start = Instant::now();
    let (cpu0, sw0) = proc_stat::usage(server);
    let mut out = Busy {
        clients: paths.len(),
        attach_all,
        ..Default::default()
    };
    let mut end = start;
    for t in threads {
        let r = t.join().expect("client thread");
        if let Some(a) = r.attach {
            out.attached += 1;
            out.attach.push(a);
        }
        out.get_random.extend(r.get_random);
        out.extend.extend(r.extend);
        end = end.max(r.end);
        if let Some(e) = r.error {
            out.errors += 1;
            out.first_error.get_or_insert(e);
        }
    }
    let (cpu1, sw1) = proc_stat::usage(server);
    out.server_cpu = cpu1.saturating_sub(cpu0);
    out.server_switches = sw1.saturating_sub(sw0);
    out.window = end.duration_since(start);
    for v in [&mut out.attach, &mut out.get_random, &mut out.extend] {
        v.sort_unstable();
    }
    out
}

fn client(
    path: &std::path::Path,
    cmds: &Commands,
    barrier: &Barrier,
    window: Duration,
) -> ClientResult {
    let t = Instant::now();
    let attached = CtrlClient::attach(path).and_then(|mut q| {
        q.power_on()?;
        q.call("Startup", &c::startup_clear())?;
        Ok(q)
    });
    let attach = t.elapsed();
    barrier.wait();
    let mut r = ClientResult {
        attach: None,
        get_random: Vec::new(),
        extend: Vec::new(),
        end: Instant::now(),
        error: None,
    };
    let mut q = match attached {
        Ok(q) => q,
        Err(e) => {
            r.error = Some(format!("{}: attach: {e}", path.display()));
            return r;
        }
    };
    r.attach = Some(attach);
    let deadline = Instant::now() + window;
    let mut random = true;
    while Instant::now() < deadline {
        let (cmd, what) = if random {
            (&cmds.get_random, "GetRandom")
        } else {
            (&cmds.extend, "PCR_Extend")
        };
        let mut took = Duration::ZERO;
        let res = harness::timed(&mut took, || q.call(what, cmd));
        if let Err(e) = res {
            r.error = Some(format!("{}: {e}", path.display()));
            break;
        }
        if random {
            r.get_random.push(took);
        } else {
            r.extend.push(took);
        }
        random = !random;
    }
    r.end = Instant::now();
    r
}
