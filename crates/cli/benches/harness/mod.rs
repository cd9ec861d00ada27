//! Measurement harness shared by the side-by-side benches (`tcp_vs_swtpm`,
//! `keys_vs_swtpm`): raw TCP exchanges with a TPM server, alternating
//! timed rounds on swtpm and trustcloud, percentiles and the Markdown
//! table that goes into BENCHMARKS.md.
//!
//! Rounds alternate between the two servers one at a time, so background
//! load on the (shared, two-core) machine falls on both alike; only the
//! ratio of one run is meant to be compared (BENCHMARKS.md, "Noise").
//!
//! Included with `mod harness;` by each bench, next to
//! `#[path = "../tests/support/mod.rs"] mod support;` (for [`Server`]).
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::{Server, IO_TIMEOUT};

/// Index of swtpm in the server pair every function here takes.
pub const SWTPM: usize = 0;
/// Index of trustcloud in the server pair.
pub const OURS: usize = 1;
/// Display names, by index.
pub const SERVER_NAMES: [&str; 2] = ["swtpm", "trustcloud"];

/// TPM_RC_RETRY (Part 2 §6.6.3): "the TPM was not able to start the
/// command", resubmit it.
pub const TPM_RC_RETRY: u32 = 0x922;

/// A raw TCP connection to a server's data (swtpm protocol) port.
pub struct Conn {
    addr: SocketAddr,
    stream: TcpStream,
    buf: Vec<u8>,
}

fn open_stream(addr: SocketAddr) -> TcpStream {
    let c = TcpStream::connect(addr).expect("connect");
    c.set_read_timeout(Some(IO_TIMEOUT)).expect("timeout");
    c.set_nodelay(true).expect("nodelay");
    c
}

impl Conn {
    pub fn open(addr: SocketAddr) -> Conn {
        Conn {
            addr,
            stream: open_stream(addr),
            buf: Vec::with_capacity(4096),
        }
    }

    /// Replaces the connection by a new one (what the tpm2-tss `swtpm`
    /// TCTI does for every command).
    pub fn reconnect(&mut self) {
        self.stream = open_stream(self.addr);
    }

    /// Writes one command and reads one whole response (10-byte header,
    /// then the rest); returns the response code.
    pub fn exchange(&mut self, cmd: &[u8]) -> u32 {
        self.stream.write_all(cmd).expect("write");
        self.buf.resize(10, 0);
        self.stream
            .read_exact(&mut self.buf[..10])
            .expect("read header");
        let b = &self.buf;
        let size = u32::from_be_bytes([b[2], b[3], b[4], b[5]]) as usize;
        assert!((10..=65536).contains(&size), "bad responseSize {size}");
        self.buf.resize(size, 0);
        self.stream
            .read_exact(&mut self.buf[10..])
            .expect("read body");
        let b = &self.buf;
        u32::from_be_bytes([b[6], b[7], b[8], b[9]])
    }

    /// [`Conn::exchange`] for a command that must succeed; returns the
    /// whole response. TPM_RC_RETRY is resubmitted, as tpm2-tss does:
    /// libtpms answers it to the first authorization of a DA-protected
    /// object in each startup cycle, while it records that DA is in use
    /// (reference SessionProcess.c, CheckLockedOut).
    pub fn call(&mut self, what: &str, cmd: &[u8]) -> &[u8] {
        let mut rc = self.exchange(cmd);
        for _ in 0..3 {
            if rc != TPM_RC_RETRY {
                break;
            }
            rc = self.exchange(cmd);
        }
        assert_eq!(rc, 0, "{what}: response code {rc:#x}");
        &self.buf
    }

    /// The last response read.
    pub fn response(&self) -> &[u8] {
        &self.buf
    }
}

/// How long a row may run.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    /// Timed rounds (one per server each) at most.
    pub iterations: usize,
    /// Untimed rounds first, at most.
    pub warmup: usize,
    /// Stop timing after this long (checked after each round, so there is
    /// always at least one timed round). Warm-up stops at a tenth of it.
    pub cap: Duration,
}

impl Budget {
    /// `iterations` rounds, a 5 % warm-up (10–200 rounds), `cap`.
    pub fn new(iterations: usize, cap: Duration) -> Budget {
        Budget {
            iterations,
            warmup: (iterations / 20).clamp(10, 200),
            cap,
        }
    }

    pub fn warmup(mut self, rounds: usize) -> Budget {
        self.warmup = rounds;
        self
    }
}

/// p50 and p99 of one series on both servers.
pub struct Row {
    pub name: String,
    pub n: usize,
    pub sw: (Duration, Duration),
    pub ours: (Duration, Duration),
}

pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

pub fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Runs `round(server, conn, times)` alternately on swtpm and trustcloud:
/// `budget.warmup` untimed rounds, then up to `budget.iterations` timed
/// ones. A round fills `times` (one entry per name in `series`: a total
/// and, say, the steps of a multi-command flow) and must assert its own
/// responses. Returns one [`Row`] per series.
pub fn measure_series<F>(
    series: &[&str],
    servers: [&Server; 2],
    budget: Budget,
    mut round: F,
) -> Vec<Row>
where
    F: FnMut(usize, &mut Conn, &mut [Duration]),
{
    let mut conns = servers.map(|s| Conn::open(s.addr()));
    let mut times = vec![Duration::ZERO; series.len()];
    let started = Instant::now();
    for _ in 0..budget.warmup {
        for (i, c) in conns.iter_mut().enumerate() {
            round(i, c, &mut times);
        }
        if started.elapsed() > budget.cap / 10 {
            break;
        }
    }
    let mut samples: [Vec<Vec<Duration>>; 2] = [
        vec![Vec::with_capacity(budget.iterations); series.len()],
        vec![Vec::with_capacity(budget.iterations); series.len()],
    ];
    let started = Instant::now();
    for _ in 0..budget.iterations {
        for (i, c) in conns.iter_mut().enumerate() {
            times.iter_mut().for_each(|t| *t = Duration::ZERO);
            round(i, c, &mut times);
            for (s, t) in samples[i].iter_mut().zip(&times) {
                s.push(*t);
            }
        }
        if started.elapsed() > budget.cap {
            break;
        }
    }
    for per_server in &mut samples {
        for s in per_server.iter_mut() {
            s.sort_unstable();
        }
    }
    series
        .iter()
        .enumerate()
        .map(|(j, name)| {
            let (sw, ours) = (&samples[SWTPM][j], &samples[OURS][j]);
            Row {
                name: name.to_string(),
                n: sw.len(),
                sw: (percentile(sw, 0.5), percentile(sw, 0.99)),
                ours: (percentile(ours, 0.5), percentile(ours, 0.99)),
            }
        })
        .collect()
}

/// Times one command alternately on both servers. With `fresh` each
/// request opens its own TCP connection (what the tpm2-tss swtpm TCTI
/// does), inside the timed span.
pub fn measure_command(
    name: &str,
    command: &[u8],
    fresh: bool,
    servers: [&Server; 2],
    budget: Budget,
) -> Row {
    let mut rows = measure_series(&[name], servers, budget, |i, c, t| {
        let start = Instant::now();
        if fresh {
            c.reconnect();
        }
        let rc = c.exchange(command);
        t[0] = start.elapsed();
        assert_eq!(rc, 0, "{name}: server {i} answered rc {rc:#x}");
    });
    rows.remove(0)
}

/// Times `f` and adds the time to `*t`.
pub fn timed<R>(t: &mut Duration, f: impl FnOnce() -> R) -> R {
    let start = Instant::now();
    let r = f();
    *t += start.elapsed();
    r
}

/// Prints the rows as the Markdown table of BENCHMARKS.md.
pub fn print_table(title: &str, rows: &[Row]) {
    println!();
    println!("{title}");
    println!(
        "| command | n | swtpm p50 µs | swtpm p99 µs | ours p50 µs | ours p99 µs | ours/swtpm p50 | ours/swtpm p99 |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        println!(
            "| {} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.2} | {:.2} |",
            r.name,
            r.n,
            us(r.sw.0),
            us(r.sw.1),
            us(r.ours.0),
            us(r.ours.1),
            us(r.ours.0) / us(r.sw.0).max(f64::MIN_POSITIVE),
            us(r.ours.1) / us(r.sw.1).max(f64::MIN_POSITIVE),
        );
    }
}

pub fn env_num(key: &str, default: u64) -> u64 {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `swtpm --version`'s version number, or `?`.
pub fn swtpm_version() -> String {
    Command::new("swtpm")
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| {
            s.split_whitespace()
                .skip_while(|w| *w != "version")
                .nth(1)
                .map(|v| v.trim_end_matches(',').to_string())
        })
        .unwrap_or_else(|| "?".into())
}
