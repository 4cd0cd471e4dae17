//! The `ace-kdc` command.

use clap::Parser;

/// Command-line arguments of `ace-kdc`.
#[derive(Debug, Parser)]
#[command(
    name = "ace-kdc",
    version,
    about = "Key Distribution Center of RFC 9594 with the Group OSCORE profile"
)]
struct Args {}

fn main() -> anyhow::Result<()> {
    let _args = Args::parse();
    Ok(())
}
