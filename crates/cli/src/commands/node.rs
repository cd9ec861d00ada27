//! `trustcloud node`: list and inspect attested nodes (hosts and VMs) of a
//! running verifier; mark a node failed or clear the mark; delete it.
//! Also home of [`ConnArgs`], how every operator command finds the API.

use crate::stdout::{out, outln};
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use serde_json::{json, Value};
use verifier::client::{ApiClient, ClientConfig};

/// How to reach the verifier: its data dir's `verifier.json` (default), or
/// an explicit URL with operator certificate, key and CA.
#[derive(Args, Debug, Clone)]
pub struct ConnArgs {
    /// Data directory of the running verifier or `trustcloud up`
    /// (default: $XDG_DATA_HOME/trustcloud or ~/.local/share/trustcloud).
    #[arg(long, value_name = "DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// API URL (e.g. https://10.0.0.5:8443); needs --cert, --key, --ca.
    #[arg(long, value_name = "URL", global = true, requires_all = ["cert", "key", "ca"])]
    pub url: Option<String>,
    /// Operator client certificate (PEM).
    #[arg(long, value_name = "FILE", global = true)]
    pub cert: Option<PathBuf>,
    /// Its private key (PEM).
    #[arg(long, value_name = "FILE", global = true)]
    pub key: Option<PathBuf>,
    /// The API CA certificate (PEM).
    #[arg(long, value_name = "FILE", global = true)]
    pub ca: Option<PathBuf>,
}

impl ConnArgs {
    pub fn client(&self) -> anyhow::Result<ApiClient> {
        let cfg = match (&self.url, &self.cert, &self.key, &self.ca) {
            (Some(url), Some(cert), Some(key), Some(ca)) => ClientConfig {
                url: url.clone(),
                cert: cert.clone(),
                key: key.clone(),
                ca: ca.clone(),
            },
            _ => {
                let data = self
                    .data_dir
                    .clone()
                    .unwrap_or_else(verifier::default_data_dir);
                ClientConfig::operator_from_data_dir(&data)?
            }
        };
        Ok(ApiClient::new(&cfg)?)
    }
}

/// Runs `f` on a small tokio runtime.
pub fn block_on<F: std::future::Future<Output = anyhow::Result<()>>>(f: F) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("tokio runtime")?
        .block_on(f)
}

#[derive(Args, Debug)]
#[command(after_help = "\
Examples:
  trustcloud node list
  trustcloud node list --json --data-dir /tmp/tc
  trustcloud node show host-1
  trustcloud node mark-failed host-1 --reason \"disk replaced, re-provision\"
  trustcloud node clear host-1
  trustcloud node list --url https://10.0.0.5:8443 --cert op.pem --key op.key --ca ca.pem")]
pub struct NodeArgs {
    #[command(subcommand)]
    command: NodeCommand,
    #[command(flatten)]
    conn: ConnArgs,
}

#[derive(Subcommand, Debug)]
enum NodeCommand {
    /// Every node with its trust state.
    List {
        /// Print the API's JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// One node: state, reasons, policy, host link, recent transitions.
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Mark a node failed (its VMs fail too, when it is a host).
    MarkFailed {
        id: String,
        /// Why (shown as the node's reason).
        #[arg(long)]
        reason: Option<String>,
    },
    /// Clear an operator's failed mark.
    Clear { id: String },
    /// Forget a node (it must enroll again).
    Delete { id: String },
}

pub fn run(args: NodeArgs) -> anyhow::Result<()> {
    let client = args.conn.client()?;
    block_on(async move {
        match args.command {
            NodeCommand::List { json } => {
                let nodes: Value = client.get("/v1/nodes").await?;
                if json {
                    outln!("{}", serde_json::to_string_pretty(&nodes)?)?;
                } else {
                    out!("{}", node_table(&nodes))?;
                }
            }
            NodeCommand::Show { id, json } => {
                let node: Value = client.get(&format!("/v1/nodes/{id}")).await?;
                if json {
                    outln!("{}", serde_json::to_string_pretty(&node)?)?;
                } else {
                    out!("{}", node_details(&node))?;
                }
            }
            NodeCommand::MarkFailed { id, reason } => {
                let node: Value = client
                    .post(
                        &format!("/v1/nodes/{id}/state"),
                        &json!({"state": "failed", "reason": reason}),
                    )
                    .await?;
                out!("{}", node_details(&node))?;
            }
            NodeCommand::Clear { id } => {
                let node: Value = client
                    .post(
                        &format!("/v1/nodes/{id}/state"),
                        &json!({"state": "enrolled"}),
                    )
                    .await?;
                out!("{}", node_details(&node))?;
            }
            NodeCommand::Delete { id } => {
                let _: Value = client.delete(&format!("/v1/nodes/{id}")).await?;
                outln!("deleted {id}")?;
            }
        }
        Ok(())
    })
}

pub fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("-")
}

/// Renders rows as aligned columns.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut w: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if let Some(x) = w.get_mut(i) {
                *x = (*x).max(c.chars().count());
            }
        }
    }
    let line = |cells: Vec<String>| {
        let mut out = String::new();
        for (i, c) in cells.iter().enumerate() {
            let width = w.get(i).copied().unwrap_or(0);
            if i + 1 == cells.len() {
                out.push_str(c);
            } else {
                out.push_str(&format!("{c:<width$}  "));
            }
        }
        out.trim_end().to_string() + "\n"
    };
    let mut out = line(header.iter().map(|h| h.to_string()).collect());
    for r in rows {
        out.push_str(&line(r.clone()));
    }
    out
}

pub fn reasons(v: &Value) -> String {
    v.get("reasons")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join("; ")
        })
        .unwrap_or_default()
}

/// What the node's EK chains to: `hardware`, `software` (a software TPM's
/// CA: its attestation shows what runs, not that the TPM is real), or `-`.
fn root(n: &Value) -> &'static str {
    match n.get("hardware_root").and_then(Value::as_bool) {
        Some(true) => "hardware",
        Some(false) => "software",
        None => "-",
    }
}

pub fn node_table(nodes: &Value) -> String {
    let empty = vec![];
    let list = nodes.as_array().unwrap_or(&empty);
    if list.is_empty() {
        return "no nodes enrolled yet\n".into();
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|n| {
            vec![
                s(n, "id").into(),
                s(n, "kind").into(),
                s(n, "state").into(),
                root(n).into(),
                s(n, "policy").into(),
                s(n, "host").into(),
                s(n, "last_seen").into(),
                reasons(n),
            ]
        })
        .collect();
    table(
        &[
            "ID",
            "KIND",
            "STATE",
            "ROOT",
            "POLICY",
            "HOST",
            "LAST SEEN",
            "REASONS",
        ],
        &rows,
    )
}

fn node_details(n: &Value) -> String {
    let mut out = String::new();
    for (label, key) in [
        ("id", "id"),
        ("kind", "kind"),
        ("state", "state"),
        ("policy", "policy"),
        ("host", "host"),
        ("EK issuer", "ek_issuer"),
        ("last seen", "last_seen"),
        ("enrolled", "created_at"),
    ] {
        out.push_str(&format!("{label:<11} {}\n", s(n, key)));
    }
    out.push_str(&format!(
        "{:<11} {}\n",
        "root",
        match root(n) {
            "software" => "software TPM: no hardware root of trust (EAR hardware claim 32)",
            other => other,
        }
    ));
    if let Some(a) = n.get("attestations").and_then(Value::as_i64) {
        out.push_str(&format!("{:<11} {a}\n", "quotes"));
    }
    if let Some(r) = n.get("reasons").and_then(Value::as_array) {
        for (i, x) in r.iter().enumerate() {
            let label = if i == 0 { "reasons" } else { "" };
            out.push_str(&format!("{label:<11} {}\n", x.as_str().unwrap_or("")));
        }
    }
    if let Some(vms) = n
        .get("vms")
        .and_then(Value::as_array)
        .filter(|v| !v.is_empty())
    {
        let names: Vec<&str> = vms.iter().filter_map(Value::as_str).collect();
        out.push_str(&format!("{:<11} {}\n", "VMs", names.join(", ")));
    }
    if let Some(t) = n
        .get("transitions")
        .and_then(Value::as_array)
        .filter(|t| !t.is_empty())
    {
        out.push_str("transitions:\n");
        let rows: Vec<Vec<String>> = t
            .iter()
            .map(|x| {
                vec![
                    s(x, "at").into(),
                    format!("{} -> {}", s(x, "previous_state"), s(x, "state")),
                    reasons(x),
                ]
            })
            .collect();
        for line in table(&["  AT", "CHANGE", "REASONS"], &rows).lines() {
            out.push_str(&format!("  {line}\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_columns_and_shows_reasons() {
        let nodes = json!([
            {"id": "host-1", "kind": "host", "state": "trusted", "reasons": [], "hardware_root": false},
            {"id": "vm-22", "kind": "vm", "state": "failed", "host": "host-1",
             "reasons": ["host host-1 is failed", "PCR 7 (sha256) is 0x00"]}
        ]);
        let t = node_table(&nodes);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("ID      KIND  STATE"), "{t}");
        assert!(lines[2].contains("host host-1 is failed; PCR 7"), "{t}");
        assert_eq!(lines[1].find("host "), lines[0].find("KIND"));
        assert_eq!(lines[1].find("software"), lines[0].find("ROOT"), "{t}");
        assert_eq!(lines[2].find("- "), lines[0].find("ROOT"), "{t}");
    }
}
