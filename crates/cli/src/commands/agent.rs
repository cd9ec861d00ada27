//! `trustcloud agent`: not built yet (issue 5).

use clap::Args;

#[derive(Args, Debug)]
pub struct AgentArgs {}

pub fn run(_args: AgentArgs) -> anyhow::Result<()> {
    anyhow::bail!("`agent` is not implemented yet (issue 5)")
}
