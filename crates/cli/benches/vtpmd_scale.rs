//! vtpmd at scale (issue 4, "Must show 3"): one daemon, up to 10,000
//! vTPM instances, beside one swtpm process per vTPM.
//!
//! One run measures, in order:
//!
//! 1. where the time of one creation goes, step by step in this process
//!    (`breakdown`), with the sealed save on the state file system and on
//!    tmpfs;
//! 2. the creation rate: `SCALE_N` instances (ECC P-256 EK, certificate,
//!    sealed state) created over `SCALE_CREATE_CLIENTS` management
//!    connections at once, stopped at `SCALE_CREATE_SECONDS` if not done;
//!    then samples with the state on tmpfs and with the default EKs (RSA
//!    2048 + ECC P-256);
//! 3. the daemon's memory (VmRSS, smaps_rollup Pss) with no instance, with
//!    N after creating them, and with N registered after a restart (all
//!    idle, none loaded), per instance;
//! 4. the restart time with N instances registered (SIGTERM to exit,
//!    start to `ready`);
//! 5. command latency (p50/p99 of TPM2_GetRandom and TPM2_PCR_Extend round
//!    trips on the data channel passed by SCM_RIGHTS, as QEMU does),
//!    throughput and the server's CPU time and context switches per round
//!    trip with M instances busy at once, one client each (`SCALE_BUSY`,
//!    default 1,100,1000, plus `SCALE_SWTPM`); each M runs on vtpmd and
//!    then on the first M of `SCALE_SWTPM` `swtpm socket --tpm2 --ctrl
//!    type=unixio` processes, back to back, so background load falls on
//!    both alike;
//! 6. the memory of vtpmd with those instances loaded, and of the swtpm
//!    processes (sum and average of VmRSS and Pss) before CMD_INIT and
//!    after use.
//!
//! Why the creations use ECC EKs: an RSA 2048 EK costs 0.2–0.3 s of CPU
//! (prime search), so 10,000 default-EK creations take most of an hour on
//! 2 cores; the default EKs are sampled instead (BENCHMARKS.md).
//!
//! Run: `cargo bench -p trustcloud --bench vtpmd_scale` (about 2 minutes
//! on 2 cores; never more than `SCALE_TOTAL_SECONDS`). A quick run: `SCALE_N=500 SCALE_SWTPM=20 SCALE_BUSY=1,50
//! SCALE_SECONDS=2 cargo bench -p trustcloud --bench vtpmd_scale`. Other
//! knobs: `SCALE_DIR` (where the state goes; default the system temp
//! directory), `SCALE_TOTAL_SECONDS` (600: later phases shrink or are
//! skipped past it), `SCALE_RSA_SAMPLE` (16), `SCALE_TMPFS_SAMPLE` (500),
//! `SCALE_BREAKDOWN` (30 rounds; RSA rounds are a sixth of it).

#[path = "../tests/support/mod.rs"]
mod support;

mod harness;

#[path = "../../tpm/benches/commands/mod.rs"]
mod commands;

#[path = "vtpmd_scale/breakdown.rs"]
mod breakdown;
#[path = "vtpmd_scale/busy.rs"]
mod busy;
#[path = "vtpmd_scale/ctrl_client.rs"]
mod ctrl_client;
#[path = "vtpmd_scale/daemon.rs"]
mod daemon;
#[path = "vtpmd_scale/proc_stat.rs"]
mod proc_stat;
#[path = "vtpmd_scale/report.rs"]
mod report;
#[path = "vtpmd_scale/swtpm_fleet.rs"]
mod swtpm_fleet;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use daemon::{create_parallel, Vtpmd};
use harness::env_num;
use proc_stat::Mem;
use report::{BusyRow, CreateRow, MemRow};
use vtpm::daemon::api::{DaemonStatus, Request};

struct Settings {
    n: usize,
    create_clients: usize,
    create_seconds: u64,
    busy: Vec<usize>,
    window: Duration,
    swtpm: usize,
    rsa_sample: usize,
    tmpfs_sample: usize,
    breakdown: usize,
    total: Duration,
}

fn settings() -> Settings {
    let busy = std::env::var("SCALE_BUSY")
        .ok()
        .map(|s| s.split(',').filter_map(|v| v.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1, 100, 1000]);
    Settings {
        n: env_num("SCALE_N", 10_000) as usize,
        create_clients: env_num("SCALE_CREATE_CLIENTS", 8) as usize,
        create_seconds: env_num("SCALE_CREATE_SECONDS", 300),
        busy,
        window: Duration::from_secs(env_num("SCALE_SECONDS", 10)),
        swtpm: env_num("SCALE_SWTPM", 200) as usize,
        rsa_sample: env_num("SCALE_RSA_SAMPLE", 16) as usize,
        tmpfs_sample: env_num("SCALE_TMPFS_SAMPLE", 500) as usize,
        breakdown: env_num("SCALE_BREAKDOWN", 30) as usize,
        total: Duration::from_secs(env_num("SCALE_TOTAL_SECONDS", 600)),
    }
}

fn first_line(path: &str, prefix: &str) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_default()
}

fn command_output(cmd: &str, args: &[&str]) -> String {
    std::process::Command::new(cmd)
        .args(args)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

fn print_machine(state_fs: &str) {
    println!("## Machine");
    println!(
        "- CPU: {} × {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        first_line("/proc/cpuinfo", "model name")
    );
    println!("- MemTotal: {}", first_line("/proc/meminfo", "MemTotal"));
    println!(
        "- kernel {}; state on {state_fs}; swtpm {}",
        command_output("uname", &["-r"]),
        harness::swtpm_version()
    );
    println!(
        "- load average at start: {}",
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
}

fn status(d: &Vtpmd) -> DaemonStatus {
    d.client()
        .call_as(&Request::Status)
        .expect("status from vtpmd")
}

fn per_instance(m: Mem, base: Mem, n: usize) -> Option<(f64, f64)> {
    (n > 0).then(|| {
        (
            m.rss_kb.saturating_sub(base.rss_kb) as f64 / n as f64,
            m.pss_kb.saturating_sub(base.pss_kb) as f64 / n as f64,
        )
    })
}

/// Creation on a throw-away daemon whose state lives in `base`.
fn create_sample(base: &Path, what: &str, count: usize, ek: &[&str], clients: usize) -> CreateRow {
    let _ = std::fs::remove_dir_all(base);
    std::fs::create_dir_all(base).expect("sample dir");
    let (d, _) = Vtpmd::start(&base.join("state"), &base.join("run"), &base.join("log"));
    let cpu0 = proc_stat::cpu(d.pid());
    let c = create_parallel(
        &d.run,
        |i| format!("s{i:05}"),
        count,
        ek,
        clients,
        Duration::from_secs(120),
        0,
    );
    let row = CreateRow {
        what: what.to_string(),
        clients,
        created: c.names.len(),
        errors: c.errors,
        elapsed: c.elapsed,
        latencies: c.latencies,
        cpu: proc_stat::cpu(d.pid()).saturating_sub(cpu0),
    };
    drop(d);
    let _ = std::fs::remove_dir_all(base);
    row
}

fn main() {
    let s = settings();
    let bench_start = Instant::now();
    let left = || s.total.saturating_sub(bench_start.elapsed());
    let nofile = proc_stat::raise_nofile();
    let root = std::env::var_os("SCALE_DIR").map_or_else(std::env::temp_dir, PathBuf::from);
    let tmp = tempfile::Builder::new()
        .prefix("vtpmd-scale-")
        .tempdir_in(&root)
        .expect("bench directory");
    let dir = tmp.path();
    let state_fs = command_output(
        "findmnt",
        &["-n", "-o", "FSTYPE", "-T", &dir.display().to_string()],
    );
    println!("# vtpmd scale bench");
    print_machine(&format!("{state_fs} ({})", dir.display()));
    println!(
        "- settings: N={} create clients={} busy={:?} window={:?} swtpm={} (bench nofile {nofile})",
        s.n, s.create_clients, s.busy, s.window, s.swtpm
    );

    // 1. Where creation time goes.
    eprintln!("[1/5] creation breakdown");
    let mut steps = breakdown::engine_steps(&dir.join("ca"), s.breakdown, (s.breakdown / 6).max(1));
    let blob = breakdown::sample_blob(&dir.join("ca"));
    let (disk_steps, disk_rate) =
        breakdown::storage_steps(&dir.join("bd-disk"), &state_fs, &blob, s.breakdown, 8);
    let shm = tempfile::Builder::new()
        .prefix("vtpmd-scale-")
        .tempdir_in("/dev/shm")
        .ok();
    steps.extend(disk_steps);
    let shm_rate = shm.as_ref().map(|t| {
        let (st, rate) = breakdown::storage_steps(t.path(), "tmpfs", &blob, s.breakdown, 8);
        steps.extend(st);
        rate
    });

    // 2. Creation at scale.
    eprintln!("[2/5] creating up to {} instances", s.n);
    let (mut d, _) = Vtpmd::start(&dir.join("state"), &dir.join("run"), &dir.join("vtpmd.log"));
    std::thread::sleep(Duration::from_millis(500));
    let base = proc_stat::mem(d.pid());
    let cpu0 = proc_stat::cpu(d.pid());
    // Keep about three minutes for everything after creation.
    let budget =
        Duration::from_secs(s.create_seconds).min(left().saturating_sub(Duration::from_secs(180)));
    let created = create_parallel(
        &d.run,
        |i| format!("vm{i:05}"),
        s.n,
        &["ecc-p256"],
        s.create_clients,
        budget,
        1000,
    );
    let n = created.names.len();
    let mut create_rows = vec![CreateRow {
        what: format!("ECC P-256 EK, state on {state_fs}, N={n}"),
        clients: s.create_clients,
        created: n,
        errors: created.errors,
        elapsed: created.elapsed,
        latencies: created.latencies.clone(),
        cpu: proc_stat::cpu(d.pid()).saturating_sub(cpu0),
    }];
    if let Some(e) = &created.first_error {
        eprintln!("  first creation error: {e}");
    }
    std::thread::sleep(Duration::from_secs(2));
    let after_create = proc_stat::mem(d.pid());
    let mut mem_rows = vec![
        MemRow {
            what: "vtpmd, no instance".into(),
            instances: 0,
            mem: base,
            per_instance: None,
        },
        MemRow {
            what: "vtpmd, right after creating N (idle)".into(),
            instances: n,
            mem: after_create,
            per_instance: per_instance(after_create, base, n),
        },
    ];

    // Samples: tmpfs state (what the fsyncs cost), default EKs (RSA).
    if s.tmpfs_sample > 0 && shm.is_some() {
        eprintln!(
            "  sample: {} creations with the state on tmpfs",
            s.tmpfs_sample
        );
        let shm_dir = shm
            .as_ref()
            .map(|t| t.path().join("daemon"))
            .expect("tmpfs");
        create_rows.push(create_sample(
            &shm_dir,
            "ECC P-256 EK, state on tmpfs (no fsync cost)",
            s.tmpfs_sample,
            &["ecc-p256"],
            s.create_clients,
        ));
    }
    if s.rsa_sample > 0 {
        eprintln!("  sample: {} creations with the default EKs", s.rsa_sample);
        create_rows.push(create_sample(
            &dir.join("rsa-sample"),
            &format!("default EKs (RSA 2048 + ECC P-256), state on {state_fs}"),
            s.rsa_sample,
            &[],
            s.create_clients,
        ));
    }

    // 3-4. Restart with N registered; idle memory of a fresh process.
    eprintln!("[3/5] restart with {n} instances");
    let (stop_time, start_time) = d.restart();
    let ready = d.ready.clone();
    std::thread::sleep(Duration::from_secs(1));
    let restarted = proc_stat::mem(d.pid());
    mem_rows.push(MemRow {
        what: "vtpmd, restarted with N registered (idle, none loaded)".into(),
        instances: n,
        mem: restarted,
        per_instance: per_instance(restarted, base, n),
    });

    // 5-6. Busy instances: vtpmd and swtpm processes, M by M, back to
    // back so the machine's background load falls on both alike.
    let fleet = (s.swtpm > 0).then(|| {
        eprintln!("[4/5] starting {} swtpm processes", s.swtpm);
        swtpm_fleet::Fleet::start(&dir.join("swtpm"), s.swtpm)
    });
    std::thread::sleep(Duration::from_millis(500));
    let sw_pids = fleet.as_ref().map(|f| f.pids()).unwrap_or_default();
    let k = sw_pids.len();
    let sw_before_init = Mem::sum(&sw_pids);
    let mut sizes = s.busy.clone();
    if k > 0 && !sizes.contains(&k) {
        sizes.push(k);
    }
    sizes.sort_unstable();
    eprintln!("[5/5] latency with busy instances");
    let mut busy_rows = Vec::new();
    let mut next = 0usize;
    let mut loaded_mem = None;
    for &m in &sizes {
        if n == 0 || left() < 2 * s.window + Duration::from_secs(30) {
            eprintln!("  skipping M={m}: out of time");
            continue;
        }
        // Disjoint instances for each M (wrapping when N is small), so
        // each run's attach includes loading its instances.
        let paths: Vec<PathBuf> = (0..m)
            .map(|i| d.ctrl_path(&created.names[(next + i) % n]))
            .collect();
        next += m;
        eprintln!("  vtpmd, M={m}");
        busy_rows.push(BusyRow {
            server: "vtpmd",
            busy: busy::run(&paths, s.window, &[d.pid()]),
        });
        loaded_mem = Some((status(&d).loaded, proc_stat::mem(d.pid())));
        if let Some(f) = fleet.as_ref().filter(|_| m <= k) {
            eprintln!("  swtpm, M={m}");
            busy_rows.push(BusyRow {
                server: "swtpm",
                busy: busy::run(&f.ctrl_paths[..m], s.window, &sw_pids),
            });
        }
    }
    for r in &busy_rows {
        if let Some(e) = &r.busy.first_error {
            eprintln!(
                "  {} M={}: {} errors, first: {e}",
                r.server, r.busy.clients, r.busy.errors
            );
        }
    }
    let mut loaded_cost = None;
    if let Some((loaded, m)) = loaded_mem {
        mem_rows.push(MemRow {
            what: format!("vtpmd, N registered, {loaded} loaded after the busy runs"),
            instances: n,
            mem: m,
            per_instance: None,
        });
        if loaded > 0 {
            loaded_cost = Some((
                loaded,
                m.rss_kb.saturating_sub(restarted.rss_kb) as f64 / loaded as f64,
                m.pss_kb.saturating_sub(restarted.pss_kb) as f64 / loaded as f64,
            ));
        }
    }
    let mut sw_per = None;
    if let Some(f) = &fleet {
        let after_use = Mem::sum(&sw_pids);
        let per = |m: Mem| Some((m.rss_kb as f64 / k as f64, m.pss_kb as f64 / k as f64));
        sw_per = per(after_use);
        mem_rows.push(MemRow {
            what: format!(
                "swtpm × {k} (started in {:.1} s), before CMD_INIT (sum)",
                f.started_in.as_secs_f64()
            ),
            instances: k,
            mem: sw_before_init,
            per_instance: per(sw_before_init),
        });
        mem_rows.push(MemRow {
            what: format!("swtpm × {k}, after INIT, Startup and the busy runs (sum)"),
            instances: k,
            mem: after_use,
            per_instance: per(after_use),
        });
        mem_rows.push(MemRow {
            what: "swtpm, one process in use (average)".into(),
            instances: 1,
            mem: after_use.per(k),
            per_instance: None,
        });
    }
    drop(fleet);
    d.stop();

    // Report.
    println!();
    println!("## Creation (N target {}, budget {:?})", s.n, budget);
    if created.hit_budget {
        println!(
            "**Stopped on the time budget at N = {n} of {}** (rate measured over the run).",
            s.n
        );
    }
    report::creation(&create_rows);
    println!();
    println!("## Where one creation's time goes (in-process, one at a time)");
    report::breakdown(&steps);
    println!(
        "- parallel first saves (8 threads, group commit): {disk_rate:.0}/s on {state_fs}{}",
        shm_rate
            .map(|r| format!(", {r:.0}/s on tmpfs"))
            .unwrap_or_default()
    );
    println!();
    println!("## Restart with N = {n} registered");
    println!(
        "- stop (SIGTERM to exit): {:.2} s; start to ready: {:.2} s (`{ready}`)",
        stop_time.as_secs_f64(),
        start_time.as_secs_f64()
    );
    println!();
    println!("## Memory");
    report::memory(&mem_rows);
    let idle_kb = per_instance(restarted, base, n).map_or(0.0, |(r, _)| r);
    println!(
        "- idle instance: {idle_kb:.2} KiB RSS each (target ≤ 100 KB); N = {n} of the 10,000 target"
    );
    if let Some((loaded, rss, pss)) = loaded_cost {
        println!(
            "- loaded (hot) instance: {rss:.1} KiB RSS, {pss:.1} KiB Pss each over the idle restart ({loaded} loaded, blocking-pool threads included)"
        );
    }
    if let Some((sw_rss, sw_pss)) = sw_per {
        println!(
            "- swtpm: {sw_rss:.0} KiB RSS, {sw_pss:.0} KiB Pss per process in use: Pss {:.0}× an idle vtpmd instance's RSS{}",
            sw_pss / idle_kb.max(f64::MIN_POSITIVE),
            loaded_cost
                .map(|(_, rss, _)| format!(", {:.0}× a loaded one's", sw_pss / rss.max(f64::MIN_POSITIVE)))
                .unwrap_or_default()
        );
        println!(
            "- 10,000 vTPMs: swtpm ≈ {:.1} GiB Pss (10,000 processes); vtpmd ≈ {:.0} MiB idle, ≈ {:.0} MiB with all loaded",
            sw_pss * 10_000.0 / 1024.0 / 1024.0,
            (base.rss_kb as f64 + idle_kb * 10_000.0) / 1024.0,
            (base.rss_kb as f64
                + (idle_kb + loaded_cost.map_or(0.0, |(_, rss, _)| rss)) * 10_000.0)
                / 1024.0
        );
    }
    println!();
    println!(
        "## Latency and throughput, M instances busy at once (window {:?})",
        s.window
    );
    report::latency(&busy_rows);
    println!();
    println!("Ratios vtpmd / swtpm (below 1: vtpmd faster; throughput above 1: vtpmd more)");
    report::latency_ratios(&busy_rows);
    println!();
    println!(
        "total bench time {:.0} s",
        bench_start.elapsed().as_secs_f64()
    );
}
