//! `trustcloud attest`: not built yet (issue 5).

use clap::Args;

#[derive(Args, Debug)]
pub struct AttestArgs {}

pub fn run(_args: AttestArgs) -> anyhow::Result<()> {
    anyhow::bail!("`attest` is not implemented yet (issue 5)")
}
