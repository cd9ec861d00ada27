//! The Markdown tables the scale bench prints (pasted into BENCHMARKS.md).

use std::time::Duration;

use crate::breakdown::Step;
use crate::busy::Busy;
use crate::harness::{percentile, us};
use crate::proc_stat::Mem;

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn p(v: &[Duration], q: f64) -> Duration {
    percentile(v, q)
}

pub fn breakdown(steps: &[Step]) {
    println!("| step | n | p50 ms | mean ms |");
    println!("|---|---:|---:|---:|");
    for s in steps {
        println!(
            "| {} | {} | {:.2} | {:.2} |",
            s.name,
            s.samples.len(),
            ms(s.p50()),
            ms(s.mean())
        );
    }
}

/// One row of the creation table.
pub struct CreateRow {
    pub what: String,
    pub clients: usize,
    pub created: usize,
    pub errors: usize,
    pub elapsed: Duration,
    pub latencies: Vec<Duration>,
    /// Daemon CPU time spent during the run.
    pub cpu: Duration,
}

pub fn creation(rows: &[CreateRow]) {
    println!(
        "| run | clients | created | errors | wall s | rate /s | p50 ms | p99 ms | daemon CPU ms per create |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        println!(
            "| {} | {} | {} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.2} |",
            r.what,
            r.clients,
            r.created,
            r.errors,
            r.elapsed.as_secs_f64(),
            r.created as f64 / r.elapsed.as_secs_f64().max(1e-9),
            ms(p(&r.latencies, 0.5)),
            ms(p(&r.latencies, 0.99)),
            ms(r.cpu) / (r.created.max(1) as f64),
        );
    }
}

/// One row of the memory table.
pub struct MemRow {
    pub what: String,
    pub instances: usize,
    pub mem: Mem,
    /// KiB per instance over the baseline, when it applies.
    pub per_instance: Option<(f64, f64)>,
}

pub fn memory(rows: &[MemRow]) {
    println!(
        "| process(es) | instances | VmRSS MiB | Pss MiB | Pss_Anon MiB | VmPTE KiB | threads | fds | RSS KiB / instance | Pss KiB / instance |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        let (a, b) = match r.per_instance {
            Some((a, b)) => (format!("{a:.2}"), format!("{b:.2}")),
            None => ("".into(), "".into()),
        };
        println!(
            "| {} | {} | {:.1} | {:.1} | {:.1} | {} | {} | {} | {} | {} |",
            r.what,
            r.instances,
            r.mem.rss_kb as f64 / 1024.0,
            r.mem.pss_kb as f64 / 1024.0,
            r.mem.pss_anon_kb as f64 / 1024.0,
            r.mem.pte_kb,
            r.mem.threads,
            r.mem.fds,
            a,
            b
        );
    }
}

/// One row of the latency table.
pub struct BusyRow {
    pub server: &'static str,
    pub busy: Busy,
}

pub fn latency(rows: &[BusyRow]) {
    println!(
        "| server | busy instances | all attached s | attach+Startup p50 ms | p99 ms | GetRandom p50 µs | p99 µs | PCR_Extend p50 µs | p99 µs | round trips/s | server CPU µs / round trip | server context switches / round trip | errors |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        let b = &r.busy;
        println!(
            "| {} | {} | {:.2} | {:.2} | {:.2} | {:.1} | {:.1} | {:.1} | {:.1} | {:.0} | {:.1} | {:.1} | {} |",
            r.server,
            b.clients,
            b.attach_all.as_secs_f64(),
            ms(p(&b.attach, 0.5)),
            ms(p(&b.attach, 0.99)),
            us(p(&b.get_random, 0.5)),
            us(p(&b.get_random, 0.99)),
            us(p(&b.extend, 0.5)),
            us(p(&b.extend, 0.99)),
            b.throughput(),
            us(b.server_cpu) / b.ops().max(1) as f64,
            b.server_switches as f64 / b.ops().max(1) as f64,
            b.errors
        );
    }
}

/// vtpmd / swtpm for every M both ran.
pub fn latency_ratios(rows: &[BusyRow]) {
    println!(
        "| busy instances | GetRandom p50 | GetRandom p99 | PCR_Extend p50 | PCR_Extend p99 | throughput |"
    );
    println!("|---:|---:|---:|---:|---:|---:|");
    for ours in rows.iter().filter(|r| r.server == "vtpmd") {
        let Some(sw) = rows
            .iter()
            .find(|r| r.server == "swtpm" && r.busy.clients == ours.busy.clients)
        else {
            continue;
        };
        let ratio = |a: &[Duration], b: &[Duration], q: f64| {
            us(p(a, q)) / us(p(b, q)).max(f64::MIN_POSITIVE)
        };
        let (o, s) = (&ours.busy, &sw.busy);
        println!(
            "| {} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} |",
            o.clients,
            ratio(&o.get_random, &s.get_random, 0.5),
            ratio(&o.get_random, &s.get_random, 0.99),
            ratio(&o.extend, &s.extend, 0.5),
            ratio(&o.extend, &s.extend, 0.99),
            o.throughput() / s.throughput().max(f64::MIN_POSITIVE),
        );
    }
}
