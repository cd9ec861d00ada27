//! `trustcloud node`: not built yet (issue 5).

use clap::Args;

#[derive(Args, Debug)]
pub struct NodeArgs {}

pub fn run(_args: NodeArgs) -> anyhow::Result<()> {
    anyhow::bail!("`node` is not implemented yet (issue 5)")
}
