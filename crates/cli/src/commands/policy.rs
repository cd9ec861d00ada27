//! `trustcloud policy`: create attestation policies (PCR reference values,
//! a measured-boot policy generated from a known-good event log, a Keylime
//! runtime policy for IMA), apply them to nodes, show them.

use crate::stdout::{out, outln};
use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{bail, Context};
use attest::policy::{MeasuredBootPolicy, Policy};
use attest::runtime_policy::RuntimePolicy;
use clap::{Args, Subcommand};
use serde_json::{json, Value};

use super::node::{block_on, s, table, ConnArgs};

#[derive(Args, Debug)]
#[command(after_help = "\
A policy says what a node must quote to be trusted. Create one from a
known-good machine, upload it, and apply it to nodes:

Examples:
  # measured boot from a good boot's event log, and PCRs 0,2,4,7 pinned to
  # the values that log replays to:
  trustcloud policy create web --from-event-log /sys/kernel/security/tpm0/binary_bios_measurements --pcrs 0,2,4,7
  # explicit PCR values (bank sha256 unless given as BANK:IDX=HEX):
  trustcloud policy create lab --pcr 7=65caf8dd1e0ea7a6347b635d2b379c93b9a1351edc2afc3ecda700e534eb3068
  # IMA runtime policy in Keylime's JSON format:
  trustcloud policy create web-ima --from-event-log good.bin --runtime-policy runtime.json
  # write the JSON to a file instead of uploading it:
  trustcloud policy create web --from-event-log good.bin --out web.json
  trustcloud policy apply web --node host-1
  trustcloud policy show web
  trustcloud policy list")]
pub struct PolicyArgs {
    #[command(subcommand)]
    command: PolicyCommand,
    #[command(flatten)]
    conn: ConnArgs,
}

#[derive(Subcommand, Debug)]
enum PolicyCommand {
    /// Build a policy and upload it (or write it with --out).
    Create(CreateArgs),
    /// Use policy NAME for a node from its next evidence on.
    Apply {
        name: String,
        /// The node (agent id).
        #[arg(long, value_name = "ID")]
        node: String,
    },
    /// Print a policy (JSON with --json).
    Show {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Every policy.
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args, Debug)]
struct CreateArgs {
    /// Policy name ([A-Za-z0-9._-], 1-64).
    name: String,
    /// A known-good firmware event log (binary_bios_measurements): allowed
    /// boot applications, kernel command lines, initrd, Secure Boot state.
    #[arg(long, value_name = "FILE")]
    from_event_log: Option<PathBuf>,
    /// With --from-event-log: also pin these PCRs to the values the log
    /// replays to (comma separated, e.g. 0,2,4,7).
    #[arg(
        long,
        value_name = "LIST",
        value_delimiter = ',',
        requires = "from_event_log"
    )]
    pcrs: Vec<u32>,
    /// IMA runtime policy (Keylime runtime-policy JSON: digests, excludes).
    #[arg(long, value_name = "FILE")]
    runtime_policy: Option<PathBuf>,
    /// A PCR reference value, [BANK:]IDX=HEX (repeatable; several values
    /// for one PCR allow any of them).
    #[arg(long = "pcr", value_name = "[BANK:]IDX=HEX")]
    pcr_values: Vec<String>,
    /// Free text shown with the policy.
    #[arg(long)]
    description: Option<String>,
    /// Write the policy JSON to FILE ("-" for stdout) instead of uploading.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

/// Builds the policy document from the arguments.
fn build(a: &CreateArgs) -> anyhow::Result<Policy> {
    let mut p = Policy {
        name: a.name.clone(),
        description: a.description.clone().unwrap_or_default(),
        ..Policy::default()
    };
    if let Some(path) = &a.from_event_log {
        let bytes = std::fs::read(path).with_context(|| format!("{}", path.display()))?;
        let log = attest::EventLog::parse(&bytes)
            .with_context(|| format!("{} is not a TCG event log", path.display()))?;
        let mb = MeasuredBootPolicy::generate_from(&log);
        if !a.pcrs.is_empty() {
            let alg = mb.hash().map_err(|e| anyhow::anyhow!("{e}"))?;
            let values = log
                .replay(alg)
                .map_err(|e| anyhow::anyhow!("replaying {}: {e}", path.display()))?;
            let bank = p.pcrs.entry(mb.bank.clone()).or_default();
            for idx in &a.pcrs {
                let v = values.get(idx).with_context(|| {
                    format!(
                        "PCR {idx} is not extended by {}; leave it out of --pcrs",
                        path.display()
                    )
                })?;
                bank.insert(*idx, vec![v.iter().map(|b| format!("{b:02x}")).collect()]);
            }
        }
        p.measured_boot = Some(mb);
    }
    if let Some(path) = &a.runtime_policy {
        let text = std::fs::read_to_string(path).with_context(|| format!("{}", path.display()))?;
        let rt = RuntimePolicy::from_json(&text)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        p.runtime = Some(rt);
    }
    for spec in &a.pcr_values {
        let (bank, idx, value) = parse_pcr(spec)?;
        p.pcrs
            .entry(bank)
            .or_default()
            .entry(idx)
            .or_default()
            .push(value);
    }
    if p.pcrs.is_empty() && p.measured_boot.is_none() && p.runtime.is_none() {
        bail!("an empty policy checks nothing: give --from-event-log, --pcr or --runtime-policy");
    }
    p.validate().map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(p)
}

/// `[BANK:]IDX=HEX`.
fn parse_pcr(spec: &str) -> anyhow::Result<(String, u32, String)> {
    let (lhs, value) = spec
        .split_once('=')
        .with_context(|| format!("--pcr {spec:?}: use [BANK:]IDX=HEX"))?;
    let (bank, idx) = match lhs.split_once(':') {
        Some((b, i)) => (b.to_string(), i),
        None => ("sha256".to_string(), lhs),
    };
    let idx: u32 = idx
        .trim()
        .parse()
        .with_context(|| format!("--pcr {spec:?}: PCR index {idx:?} is not a number"))?;
    let value = value.trim().trim_start_matches("0x").to_ascii_lowercase();
    Ok((bank, idx, value))
}

pub fn run(args: PolicyArgs) -> anyhow::Result<()> {
    if let PolicyCommand::Create(a) = &args.command {
        let p = build(a)?;
        let text = serde_json::to_string_pretty(&p)?;
        match &a.out {
            Some(out) if out.as_os_str() == "-" => {
                outln!("{text}")?;
                return Ok(());
            }
            Some(out) => {
                std::fs::write(out, text + "\n").with_context(|| format!("{}", out.display()))?;
                outln!("wrote policy {} to {}", p.name, out.display())?;
                return Ok(());
            }
            None => {}
        }
        let client = args.conn.client()?;
        return block_on(async move {
            let stored: Value = client.put(&format!("/v1/policies/{}", p.name), &p).await?;
            outln!("policy {} stored", s(&stored, "name"))?;
            out!("{}", summary(&stored))?;
            Ok(())
        });
    }
    let client = args.conn.client()?;
    block_on(async move {
        match args.command {
            PolicyCommand::Create(_) => {}
            PolicyCommand::Apply { name, node } => {
                let n: Value = client
                    .put(
                        &format!("/v1/nodes/{node}/policy"),
                        &json!({"policy": name}),
                    )
                    .await?;
                outln!(
                    "node {} now uses policy {} (state {}; applies from its next evidence)",
                    s(&n, "id"),
                    s(&n, "policy"),
                    s(&n, "state")
                )?;
            }
            PolicyCommand::Show { name, json } => {
                let p: Value = client.get(&format!("/v1/policies/{name}")).await?;
                if json {
                    outln!("{}", serde_json::to_string_pretty(&p)?)?;
                } else {
                    out!("{}", summary(&p))?;
                }
            }
            PolicyCommand::List { json } => {
                let list: Value = client.get("/v1/policies").await?;
                if json {
                    outln!("{}", serde_json::to_string_pretty(&list)?)?;
                } else {
                    let empty = vec![];
                    let rows: Vec<Vec<String>> = list
                        .as_array()
                        .unwrap_or(&empty)
                        .iter()
                        .map(|p| vec![s(p, "name").to_string(), checks(p)])
                        .collect();
                    out!("{}", table(&["NAME", "CHECKS"], &rows))?;
                }
            }
        }
        Ok(())
    })
}

fn checks(p: &Value) -> String {
    let mut parts = Vec::new();
    if let Some(banks) = p.get("pcrs").and_then(Value::as_object) {
        for (bank, idx) in banks {
            let list: Vec<String> = idx
                .as_object()
                .map(|o| o.keys().cloned().collect())
                .unwrap_or_default();
            parts.push(format!("PCRs {bank}:{}", list.join(",")));
        }
    }
    if p.get("measured_boot").is_some_and(|m| !m.is_null()) {
        parts.push("measured boot".into());
    }
    if p.get("runtime").is_some_and(|m| !m.is_null()) {
        parts.push("IMA runtime policy".into());
    }
    parts.join("; ")
}

fn summary(p: &Value) -> String {
    let mut out = format!("name        {}\n", s(p, "name"));
    if let Some(d) = p.get("description").and_then(Value::as_str) {
        out.push_str(&format!("description {d}\n"));
    }
    let mut pcrs: BTreeMap<String, usize> = BTreeMap::new();
    if let Some(banks) = p.get("pcrs").and_then(Value::as_object) {
        for (bank, idx) in banks {
            if let Some(o) = idx.as_object() {
                for (i, vals) in o {
                    let n = vals.as_array().map(|a| a.len()).unwrap_or(0);
                    out.push_str(&format!("PCR {i:<7} {bank}, {n} allowed value(s)\n"));
                    *pcrs.entry(bank.clone()).or_default() += 1;
                }
            }
        }
    }
    if let Some(mb) = p.get("measured_boot").filter(|m| !m.is_null()) {
        let count = |k: &str| mb.get(k).and_then(Value::as_array).map(|a| a.len());
        out.push_str(&format!(
            "measured    bank {}, replay PCRs {}, boot apps {}, cmdlines {}, secure boot {}\n",
            s(mb, "bank"),
            mb.get("replay_pcrs")
                .map(|v| v.to_string())
                .unwrap_or_default(),
            count("boot_applications").map_or("any".into(), |n| n.to_string()),
            count("kernel_cmdlines").map_or("any".into(), |n| n.to_string()),
            mb.get("secure_boot")
                .map_or("any".into(), |v| v.to_string()),
        ));
    }
    if let Some(rt) = p.get("runtime").filter(|m| !m.is_null()) {
        let digests = rt
            .get("digests")
            .and_then(Value::as_object)
            .map_or(0, |o| o.len());
        let excludes = rt
            .get("excludes")
            .and_then(Value::as_array)
            .map_or(0, |a| a.len());
        out.push_str(&format!(
            "runtime     IMA: {digests} file(s) with digests, {excludes} exclude pattern(s)\n"
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pcr_specs_parse_with_and_without_bank() {
        assert_eq!(
            parse_pcr("7=AB").unwrap(),
            ("sha256".into(), 7, "ab".into())
        );
        assert_eq!(
            parse_pcr("sha1:0=0x00ff").unwrap(),
            ("sha1".into(), 0, "00ff".into())
        );
        assert!(parse_pcr("7").is_err());
        assert!(parse_pcr("x=00").is_err());
    }
}
