//! The `ace-as` command.

use clap::Parser;

/// Command-line arguments of `ace-as`.
#[derive(Debug, Parser)]
#[command(
    name = "ace-as",
    version,
    about = "ACE Authorization Server (RFC 9200) issuing access tokens for RFC 9594 group joins"
)]
struct Args {}

fn main() -> anyhow::Result<()> {
    let _args = Args::parse();
    Ok(())
}
