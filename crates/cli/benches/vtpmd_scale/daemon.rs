//! A `trustcloud vtpmd` child process for the scale bench, and parallel
//! creation of instances over its management socket.
//!
//! Creation goes straight to `RUN/vtpmd.sock` through the library's own
//! blocking client ([`vtpm::daemon::Client`], JSON lines), one connection
//! per creating thread: the daemon answers each connection's requests in
//! order, so several connections are several creations in flight.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use vtpm::daemon::api::{CreateRequest, Request};
use vtpm::daemon::Client;

/// How long a start may take: with 10,000 instances the daemon reads
/// every instance's metadata and binds every control socket first.
const START_TIMEOUT: Duration = Duration::from_secs(180);

/// A running vtpmd.
pub struct Vtpmd {
    pub state: PathBuf,
    pub run: PathBuf,
    log: PathBuf,
    child: Option<Child>,
    /// The `ready socket=... instances=N` line.
    pub ready: String,
}

impl Vtpmd {
    /// Starts vtpmd on `state` and `run` (created as needed); returns it
    /// and the time until it printed its ready line.
    pub fn start(state: &Path, run: &Path, log: &Path) -> (Vtpmd, Duration) {
        let mut d = Vtpmd {
            state: state.to_path_buf(),
            run: run.to_path_buf(),
            log: log.to_path_buf(),
            child: None,
            ready: String::new(),
        };
        let t = d.spawn();
        (d, t)
    }

    fn spawn(&mut self) -> Duration {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("open the daemon log");
        let started = Instant::now();
        let mut child = Command::new(env!("CARGO_BIN_EXE_trustcloud"))
            .args(["vtpmd", "--state-dir"])
            .arg(&self.state)
            .arg("--run-dir")
            .arg(&self.run)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("spawn trustcloud vtpmd");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        self.child = Some(child);
        let line = rx.recv_timeout(START_TIMEOUT).unwrap_or_default();
        let took = started.elapsed();
        assert!(
            line.starts_with("ready socket="),
            "vtpmd did not get ready (first line {line:?}); log {}",
            self.log.display()
        );
        self.ready = line.trim().to_string();
        took
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// SIGTERM and wait (every loaded instance is stored first); returns
    /// how long the stop took.
    pub fn stop(&mut self) -> Duration {
        let Some(mut c) = self.child.take() else {
            return Duration::ZERO;
        };
        let started = Instant::now();
        // SAFETY: signalling our own child, not yet reaped.
        unsafe {
            libc::kill(c.id() as libc::pid_t, libc::SIGTERM);
        }
        let deadline = started + Duration::from_secs(120);
        loop {
            if let Ok(Some(st)) = c.try_wait() {
                assert!(st.success(), "vtpmd exit {st}");
                return started.elapsed();
            }
            if Instant::now() > deadline {
                let _ = c.kill();
                let _ = c.wait();
                panic!("vtpmd did not stop within 120 s of SIGTERM");
            }
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// Stops and starts again; returns (stop time, start-to-ready time).
    pub fn restart(&mut self) -> (Duration, Duration) {
        let stop = self.stop();
        (stop, self.spawn())
    }

    pub fn client(&self) -> Client {
        Client::connect(&self.run).expect("connect to the management socket")
    }

    /// The control socket of instance `name`.
    pub fn ctrl_path(&self, name: &str) -> PathBuf {
        self.run.join(format!("{name}.ctrl"))
    }
}

impl Drop for Vtpmd {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// What a creation run did.
pub struct Created {
    /// Names created, in completion order.
    pub names: Vec<String>,
    /// Wall time of the run.
    pub elapsed: Duration,
    /// One latency per creation (request sent to answer read), sorted.
    pub latencies: Vec<Duration>,
    pub errors: usize,
    pub first_error: Option<String>,
    /// Whether the run stopped on the time budget before `count`.
    pub hit_budget: bool,
}

/// Creates instances `name(0)`, `name(1)`, ... up to `count` with `ek`
/// kinds, over `clients` connections at once, until `budget` has passed.
/// Prints progress every `progress` creations.
pub fn create_parallel(
    run: &Path,
    name: impl Fn(usize) -> String + Send + Sync + 'static,
    count: usize,
    ek: &[&str],
    clients: usize,
    budget: Duration,
    progress: usize,
) -> Created {
    let next = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let out = Arc::new(Mutex::new((Vec::new(), Vec::new(), 0usize, None::<String>)));
    let name = Arc::new(name);
    let ek: Vec<String> = ek.iter().map(|s| s.to_string()).collect();
    let started = Instant::now();
    let deadline = started + budget;
    let threads: Vec<_> = (0..clients.max(1))
        .map(|_| {
            let (next, done, out, name, ek) = (
                Arc::clone(&next),
                Arc::clone(&done),
                Arc::clone(&out),
                Arc::clone(&name),
                ek.clone(),
            );
            let run = run.to_path_buf();
            thread::spawn(move || {
                let mut client = Client::connect(&run).expect("connect to the management socket");
                let mut names = Vec::new();
                let mut lat = Vec::new();
                let mut errors = 0;
                let mut first_error = None;
                while Instant::now() < deadline {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= count {
                        break;
                    }
                    let n = name(i);
                    let req = Request::Create(CreateRequest {
                        name: n.clone(),
                        ek: ek.clone(),
                        ..Default::default()
                    });
                    let t = Instant::now();
                    match client.call(&req) {
                        Ok(_) => {
                            lat.push(t.elapsed());
                            names.push(n);
                            let d = done.fetch_add(1, Ordering::Relaxed) + 1;
                            if progress > 0 && d % progress == 0 {
                                let s = started.elapsed().as_secs_f64();
                                eprintln!(
                                    "  created {d} in {s:.1} s ({:.0}/s)",
                                    d as f64 / s.max(1e-9)
                                );
                            }
                        }
                        Err(e) => {
                            errors += 1;
                            first_error.get_or_insert_with(|| format!("{n}: {e}"));
                        }
                    }
                }
                let mut o = out.lock().unwrap_or_else(|p| p.into_inner());
                o.0.extend(names);
                o.1.extend(lat);
                o.2 += errors;
                if o.3.is_none() {
                    o.3 = first_error;
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("creation thread");
    }
    let elapsed = started.elapsed();
    let (names, mut latencies, errors, first_error) =
        std::mem::take(&mut *out.lock().unwrap_or_else(|p| p.into_inner()));
    latencies.sort_unstable();
    let hit_budget = names.len() + errors < count;
    Created {
        names,
        elapsed,
        latencies,
        errors,
        first_error,
        hit_budget,
    }
}
