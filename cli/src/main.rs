//! The `dictamesh` command line.

mod catalog;
mod compose_command;
mod subgraph;

use std::process::ExitCode;

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
    /// Serves the metadata catalog subgraph and its Confluent-compatible schema registry.
    Catalog(catalog::CatalogArgs),
    /// Compose a supergraph from rover's `supergraph.yaml` (like `rover supergraph compose`).
    Compose(compose_command::ComposeArgs),
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

/// Runs an async command on a multi-threaded runtime.
fn block_on<F: std::future::Future<Output = anyhow::Result<()>>>(future: F) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| anyhow::anyhow!("cannot start the async runtime: {e}"))?;
    runtime.block_on(future)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let result = match cli.command {
        Command::Catalog(args) => block_on(catalog::run(args)),
        Command::Compose(args) => compose_command::run(args),
        Command::Subgraph(args) => block_on(subgraph::run(args)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
