//! The `dictamesh` command line.

mod allocator;
mod bench_command;
mod catalog;
mod compose_command;
mod dev;
mod kafka;
mod router_command;
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
    /// Runs the example mesh in one process on embedded defaults: three
    /// subgraphs, the router on 127.0.0.1:4000, demo data.
    Dev(dev::DevArgs),
    /// Serves the metadata catalog subgraph and its Confluent-compatible schema registry.
    Catalog(catalog::CatalogArgs),
    /// Compose a supergraph from rover's `supergraph.yaml` (like `rover supergraph compose`).
    Compose(compose_command::ComposeArgs),
    /// Runs one subgraph alone, as a Kubernetes pod would.
    Subgraph(subgraph::SubgraphArgs),
    /// Runs the router: plans and executes federated operations over HTTP.
    Router(router_command::RouterArgs),
    /// Prints the query plan of an operation.
    Plan(router_command::PlanArgs),
    /// Load-tests the router on the graphql-gateways-benchmark workload.
    Bench(bench_command::BenchArgs),
}

/// Logs to stderr (`DICTAMESH_LOG` filters, `DICTAMESH_LOG_FORMAT=json` for JSON) and
/// records spans with OpenTelemetry when they are exported (the binary has the `otlp`
/// feature and `OTEL_EXPORTER_OTLP_ENDPOINT` is set) or `DICTAMESH_TRACING=on` (trace
/// ids passed on to subgraphs either way; `off`: never). Returns the tracer provider
/// to flush at exit.
fn init_logging(service: &str) -> Option<dictamesh_router::telemetry::otel::SdkTracerProvider> {
    use dictamesh_router::telemetry::otel;
    use tracing_subscriber::EnvFilter;
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = EnvFilter::try_from_env("DICTAMESH_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let json = std::env::var("DICTAMESH_LOG_FORMAT").is_ok_and(|f| f == "json");
    let logs = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let logs = if json {
        logs.json().with_filter(filter).boxed()
    } else {
        logs.with_filter(filter).boxed()
    };
    let setting = std::env::var("DICTAMESH_TRACING").ok();
    let exporting = otel::otlp_configured();
    let (tracing_on, setting_problem) = match otel::spans_wanted(setting.as_deref(), exporting) {
        Ok(wanted) => (wanted, None),
        Err(problem) => (exporting, Some(problem)),
    };
    let (provider, problem) = match tracing_on.then(|| otel::tracer_provider(service)) {
        Some(Ok(provider)) => (Some(provider), None),
        Some(Err(problem)) => (None, Some(problem)),
        None => (None, None),
    };
    let spans = provider.as_ref().map(otel::layer);
    tracing_subscriber::registry().with(logs).with(spans).init();
    if let Some(problem) = setting_problem {
        tracing::warn!("{problem}; spans are recorded only when exported (auto)");
    }
    if let Some(problem) = problem {
        tracing::warn!("{problem}; spans are not exported");
    }
    provider
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
    let service = match &cli.command {
        Command::Router(_) | Command::Dev(_) => "dictamesh-router",
        Command::Subgraph(_) => "dictamesh-subgraph",
        Command::Catalog(_) => "dictamesh-catalog",
        _ => "dictamesh",
    };
    let tracing = init_logging(service);
    let result = match cli.command {
        Command::Catalog(args) => block_on(catalog::run(args)),
        Command::Compose(args) => compose_command::run(args),
        Command::Subgraph(args) => block_on(subgraph::run(args)),
        Command::Dev(args) => block_on(dev::run(args)),
        Command::Router(args) => block_on(router_command::run(args)),
        Command::Plan(args) => block_on(router_command::plan(args)),
        Command::Bench(args) => block_on(bench_command::run(args)),
    };
    if let Some(provider) = tracing
        && let Err(error) = provider.shutdown()
    {
        eprintln!("warning: spans may not all be exported: {error}");
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
