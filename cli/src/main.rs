//! The `dictamesh` command line.

mod compose_command;

use std::process::ExitCode;

use clap::Parser;
use clap::Subcommand;

/// DictaMesh: an open federation stack for data meshes.
#[derive(Parser)]
#[command(name = "dictamesh", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Compose a supergraph from rover's `supergraph.yaml` (like `rover supergraph compose`).
    Compose(compose_command::ComposeArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Compose(args)) => compose_command::run(args),
        None => Ok(()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
