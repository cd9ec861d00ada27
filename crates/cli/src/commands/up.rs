//! `trustcloud up`: not built yet (issue 5).

use clap::Args;

#[derive(Args, Debug)]
pub struct UpArgs {}

pub fn run(_args: UpArgs) -> anyhow::Result<()> {
    anyhow::bail!("`up` is not implemented yet (issue 5)")
}
