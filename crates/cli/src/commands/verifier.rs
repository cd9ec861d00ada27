//! `trustcloud verifier`: not built yet (issue 5).

use clap::Args;

#[derive(Args, Debug)]
pub struct VerifierArgs {}

pub fn run(_args: VerifierArgs) -> anyhow::Result<()> {
    anyhow::bail!("`verifier` is not implemented yet (issue 5)")
}
