//! `dictamesh subgraph <name>`: serves one subgraph.

use std::net::SocketAddr;

use anyhow::Context;
use clap::{Args, ValueEnum};

/// The subgraphs this binary can serve.
#[derive(Clone, Copy, ValueEnum)]
pub enum SubgraphName {
    /// The products subgraph of Apollo's subgraph compatibility suite.
    CompatProducts,
}

/// Arguments of `dictamesh subgraph`.
#[derive(Args)]
pub struct SubgraphArgs {
    /// Which subgraph to serve.
    name: SubgraphName,
    /// Address to listen on.
    #[arg(long, env = "DICTAMESH_LISTEN", default_value = "127.0.0.1:4001")]
    listen: SocketAddr,
    /// Redis for the shared L2 entity cache, e.g. redis://127.0.0.1:6379.
    #[arg(long, env = "REDIS_URL")]
    redis_url: Option<String>,
}

/// Waits for Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}

/// Builds and serves the named subgraph until a shutdown signal.
pub async fn run(args: SubgraphArgs) -> anyhow::Result<()> {
    let mut builder = match args.name {
        SubgraphName::CompatProducts => dictamesh_compat_products::builder(),
    };
    if let Some(url) = &args.redis_url {
        let store = dictamesh::cache::RedisStore::connect(url)
            .await
            .with_context(|| format!("cannot connect to Redis at {url} (REDIS_URL)"))?;
        builder = builder.redis(store);
    }
    let public_url = format!("http://{}/graphql", args.listen);
    let subgraph = builder
        .public_url(public_url.clone())
        .build()
        .context("invalid subgraph")?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}: is another process using it?", args.listen))?;
    tracing::info!(subgraph = subgraph.name(), url = %public_url, "serving");
    dictamesh::serve(subgraph, listener, shutdown_signal())
        .await
        .context("server failed")
}
