//! The `ace-scenario` command.

use clap::Parser;

/// Command-line arguments of `ace-scenario`.
#[derive(Debug, Parser)]
#[command(
    name = "ace-scenario",
    version,
    about = "Run scripted ACE group key provisioning scenarios and the end-to-end demo"
)]
struct Args {}

fn main() -> anyhow::Result<()> {
    let _args = Args::parse();
    Ok(())
}
