//! `trustcloud attest status`: the trust state of every node at a glance
//! (counts per state, then the nodes that are not trusted and why).

use crate::stdout::{out, outln};
use clap::{Args, Subcommand};
use serde_json::{json, Value};

use super::node::{block_on, node_table, s, ConnArgs};

#[derive(Args, Debug)]
#[command(after_help = "\
Examples:
  trustcloud attest status
  trustcloud attest status --json --data-dir /tmp/tc")]
pub struct AttestArgs {
    #[command(subcommand)]
    command: AttestCommand,
    #[command(flatten)]
    conn: ConnArgs,
}

#[derive(Subcommand, Debug)]
enum AttestCommand {
    /// Counts per state and every node that is not trusted, with reasons.
    Status {
        #[arg(long)]
        json: bool,
    },
}

pub fn run(args: AttestArgs) -> anyhow::Result<()> {
    let client = args.conn.client()?;
    let AttestCommand::Status { json } = args.command;
    block_on(async move {
        let nodes: Value = client.get("/v1/nodes").await?;
        let status = summarize(client.base_url(), &nodes);
        if json {
            outln!("{}", serde_json::to_string_pretty(&status)?)?;
        } else {
            out!("{}", render(&status, &nodes))?;
        }
        Ok(())
    })
}

fn summarize(url: &str, nodes: &Value) -> Value {
    let empty = vec![];
    let list = nodes.as_array().unwrap_or(&empty);
    let mut counts = serde_json::Map::new();
    for st in ["trusted", "failed", "unreachable", "enrolled", "registered"] {
        let n = list.iter().filter(|n| s(n, "state") == st).count();
        counts.insert(st.into(), json!(n));
    }
    let attention: Vec<Value> = list
        .iter()
        .filter(|n| s(n, "state") != "trusted")
        .cloned()
        .collect();
    json!({
        "verifier": url,
        "total": list.len(),
        "states": counts,
        "all_trusted": !list.is_empty() && attention.is_empty(),
        "not_trusted": attention,
    })
}

fn render(status: &Value, _nodes: &Value) -> String {
    let mut out = format!("verifier  {}\n", s(status, "verifier"));
    let total = status.get("total").and_then(Value::as_u64).unwrap_or(0);
    let mut parts = Vec::new();
    if let Some(c) = status.get("states").and_then(Value::as_object) {
        for (k, v) in c {
            if v.as_u64().unwrap_or(0) > 0 {
                parts.push(format!("{v} {k}"));
            }
        }
    }
    out.push_str(&format!(
        "nodes     {total}{}\n",
        if parts.is_empty() {
            String::new()
        } else {
            format!(" ({})", parts.join(", "))
        }
    ));
    let bad = status.get("not_trusted").cloned().unwrap_or(json!([]));
    if total > 0 && bad.as_array().is_some_and(|a| a.is_empty()) {
        out.push_str("all nodes are trusted\n");
    } else if total > 0 {
        out.push_str("\nnot trusted:\n");
        out.push_str(&node_table(&bad));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_counts_states_and_lists_untrusted() {
        let nodes = json!([
            {"id": "a", "state": "trusted", "reasons": []},
            {"id": "b", "state": "failed", "reasons": ["PCR 7 (sha256) changed"]},
            {"id": "c", "state": "trusted", "reasons": []}
        ]);
        let st = summarize("https://x", &nodes);
        assert_eq!(st["states"]["trusted"], 2);
        assert_eq!(st["states"]["failed"], 1);
        assert_eq!(st["all_trusted"], false);
        assert_eq!(st["not_trusted"][0]["id"], "b");
        let text = render(&st, &nodes);
        assert!(text.contains("nodes     3 (1 failed, 2 trusted)"), "{text}");
        assert!(text.contains("PCR 7 (sha256) changed"), "{text}");
    }
}
