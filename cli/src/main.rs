//! The `dictamesh` command line.

mod subgraph;

use clap::{Parser, Subcommand};

/// DictaMesh: an open federation stack for data meshes.
#[derive(Parser)]
#[command(name = "dictamesh", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs one subgraph alone, as a Kubernetes pod would.
    Subgraph(subgraph::SubgraphArgs),
}

fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("DICTAMESH_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let json = std::env::var("DICTAMESH_LOG_FORMAT").is_ok_and(|f| f == "json");
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_logging();
    match cli.command {
        Command::Subgraph(args) => subgraph::run(args).await,
    }
}
