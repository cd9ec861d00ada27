//! `trustcloud policy`: not built yet (issue 5).

use clap::Args;

#[derive(Args, Debug)]
pub struct PolicyArgs {}

pub fn run(_args: PolicyArgs) -> anyhow::Result<()> {
    anyhow::bail!("`policy` is not implemented yet (issue 5)")
}
