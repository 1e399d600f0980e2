//! The `dictamesh` command line.

use clap::Parser;

/// DictaMesh: an open federation stack for data meshes.
#[derive(Parser)]
#[command(name = "dictamesh", version, about)]
struct Cli {}

fn main() -> anyhow::Result<()> {
    Cli::parse();
    Ok(())
}
