//! The `ace-client` command.

use clap::Parser;

/// Command-line arguments of `ace-client`.
#[derive(Debug, Parser)]
#[command(
    name = "ace-client",
    version,
    about = "Group client of RFC 9594: join groups, fetch keys, talk Group OSCORE"
)]
struct Args {}

fn main() -> anyhow::Result<()> {
    let _args = Args::parse();
    Ok(())
}
