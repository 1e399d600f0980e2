//! `dictamesh router --supergraph FILE [--config router.yaml] [--listen ADDR]` and
//! `dictamesh plan --supergraph FILE QUERY_FILE`.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use dictamesh_router::config::RouterConfig;
use dictamesh_router::server;
use dictamesh_router::server::SupergraphSource;

/// Arguments of `dictamesh router`.
#[derive(clap::Args)]
pub struct RouterArgs {
    /// Supergraph SDL, or a rover `supergraph.yaml` to compose at start.
    #[arg(long, env = "DICTAMESH_SUPERGRAPH")]
    supergraph: PathBuf,
    /// The router's configuration (YAML, `${env.NAME}` expanded).
    #[arg(long, env = "DICTAMESH_ROUTER_CONFIG")]
    config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:4000, or `listen:` in the config].
    #[arg(long, env = "DICTAMESH_LISTEN")]
    listen: Option<SocketAddr>,
    /// Seconds between checks of the supergraph and config files for hot reload.
    #[arg(long, default_value_t = 5)]
    reload_interval: u64,
}

/// Arguments of `dictamesh plan`.
#[derive(clap::Args)]
pub struct PlanArgs {
    /// Supergraph SDL, or a rover `supergraph.yaml`.
    #[arg(long)]
    supergraph: PathBuf,
    /// File with the operation to plan (`-` for stdin).
    operation: PathBuf,
    /// The operation to plan when the document has several.
    #[arg(long)]
    operation_name: Option<String>,
}

fn read_config(path: Option<&PathBuf>) -> anyhow::Result<RouterConfig> {
    match path {
        Some(path) => Ok(RouterConfig::from_file(path)?),
        None => RouterConfig::from_yaml("", "defaults", |_| None).context("default configuration"),
    }
}

/// Serves the router until Ctrl-C or SIGTERM.
pub async fn run(args: RouterArgs) -> anyhow::Result<()> {
    let config = read_config(args.config.as_ref())?;
    let source = SupergraphSource::from_path(&args.supergraph);
    let state = server::start(&source, &config).await?;
    let relay = dictamesh_router::governance::spawn_audit_relay(&config.authorization.audit)?;
    if config.subscriptions.enabled {
        match crate::kafka::change_feed()? {
            Some(feed) => state.set_change_feed(feed),
            None => tracing::warn!(
                "subscriptions are enabled but there is no change log to stream from: set KAFKA_BROKERS \
                 (with a binary built with the `kafka` feature)"
            ),
        }
    }
    let listen = args
        .listen
        .or(config.listen)
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 4000)));
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}: is another process using it?"))?;
    let reloader = server::spawn_reloader(
        state.clone(),
        source,
        args.config.clone(),
        std::time::Duration::from_secs(args.reload_interval.max(1)),
    );
    tracing::info!(address = %listen, subgraphs = state.pipeline().supergraph().subgraphs.len(), "router serving");
    let result = server::serve(listener, state, crate::subgraph::shutdown_signal()).await;
    reloader.abort();
    if let Some(relay) = relay {
        relay.abort();
    }
    result.context("server failed")
}

/// Prints the query plan of an operation.
pub async fn plan(args: PlanArgs) -> anyhow::Result<()> {
    let config = read_config(None)?;
    let source = SupergraphSource::from_path(&args.supergraph);
    let sdl = source.load().await?;
    let pipeline = server::build_pipeline(&sdl, &config, server::subgraph_client(&config))?;
    let operation = if args.operation.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin()).context("cannot read the operation from stdin")?
    } else {
        std::fs::read_to_string(&args.operation)
            .with_context(|| format!("cannot read {}", args.operation.display()))?
    };
    match pipeline.plan_text(&operation, args.operation_name.as_deref()) {
        Ok(plan) => {
            println!("{plan}");
            Ok(())
        }
        Err(error) => {
            let messages: Vec<String> = error
                .errors
                .iter()
                .map(|e| {
                    e.get("message")
                        .and_then(|m| m.as_str())
                        .unwrap_or_default()
                        .to_string()
                })
                .collect();
            anyhow::bail!("{}", messages.join("\n"))
        }
    }
}
