//! `dictamesh subgraph <name>`: serves one subgraph.

use std::net::SocketAddr;

use anyhow::Context;

use crate::kafka;
use clap::{Args, ValueEnum};
use dictamesh_example_mesh::customers::{self, SqlCustomers};
use dictamesh_example_mesh::invoices::{self, SqlInvoices};
use dictamesh_example_mesh::products::files::FileProducts;
use dictamesh_example_mesh::products::rest::{RestConfig, RestProducts};
use dictamesh_example_mesh::{Database, products};

/// The subgraphs this binary can serve.
#[derive(Clone, Copy, ValueEnum)]
pub enum SubgraphName {
    /// Customers, in SQL (`DATABASE_URL`).
    Customers,
    /// Invoices, in SQL (`DATABASE_URL`).
    Invoices,
    /// Products, from a directory (`PRODUCTS_DIR`) or a REST API (`PRODUCTS_API_URL`).
    Products,
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
    /// SQL database of customers or invoices: postgres://... or sqlite://...
    /// (default: an SQLite file named after the subgraph in the current directory).
    #[arg(long, env = "DATABASE_URL")]
    database_url: Option<String>,
    /// Directory of product documents (JSON, CSV), watched for changes.
    #[arg(long, env = "PRODUCTS_DIR")]
    products_dir: Option<std::path::PathBuf>,
    /// Base URL of a Directus-style products API.
    #[arg(long, env = "PRODUCTS_API_URL")]
    products_api_url: Option<String>,
    /// The URL clients and change events use to reach this subgraph
    /// [default: http://<listen>/graphql].
    #[arg(long, env = "DICTAMESH_PUBLIC_URL")]
    public_url: Option<String>,
    /// Kafka brokers for change events (publishing, and cache invalidation from
    /// the other replicas' events); the in-process bus when absent.
    #[arg(long, env = "KAFKA_BROKERS")]
    kafka_brokers: Option<String>,
    /// Bearer token for the products API.
    #[arg(long, env = "PRODUCTS_API_TOKEN", hide_env_values = true)]
    products_api_token: Option<String>,
    /// The secret the router signs requests with (its `subgraph_signature`):
    /// requests without its valid signature are refused.
    #[arg(long, env = "DICTAMESH_ROUTER_SIGNING_SECRET", hide_env_values = true)]
    router_signing_secret: Option<String>,
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

/// The example database: `DATABASE_URL`, or an SQLite file in the current
/// directory, created when missing.
async fn database(args: &SubgraphArgs, name: &str) -> anyhow::Result<Database> {
    let url = args
        .database_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://dictamesh-{name}.db?mode=rwc"));
    Ok(Database::connect(&url).await?)
}

/// The builder of the named subgraph, with its source opened.
pub async fn builder(args: &SubgraphArgs) -> anyhow::Result<dictamesh::SubgraphBuilder> {
    Ok(match args.name {
        SubgraphName::Customers => {
            customers::subgraph(SqlCustomers::new(database(args, "customers").await?).await?)
        }
        SubgraphName::Invoices => {
            invoices::subgraph(SqlInvoices::new(database(args, "invoices").await?).await?)
        }
        SubgraphName::Products => match (&args.products_dir, &args.products_api_url) {
            (Some(dir), _) => products::subgraph(FileProducts::open(dir).map_err(anyhow::Error::msg)?),
            (None, Some(url)) => {
                let mut config = RestConfig::new(url.clone());
                config.token = args.products_api_token.clone();
                products::subgraph(RestProducts::new(config)?)
            }
            (None, None) => anyhow::bail!("the products subgraph needs PRODUCTS_DIR or PRODUCTS_API_URL"),
        },
        SubgraphName::CompatProducts => dictamesh_compat_products::builder(),
    })
}

/// Builds and serves the named subgraph until a shutdown signal.
pub async fn run(args: SubgraphArgs) -> anyhow::Result<()> {
    let mut builder = builder(&args).await?;
    if let Some(url) = &args.redis_url {
        let store = dictamesh::cache::RedisStore::connect(url)
            .await
            .with_context(|| format!("cannot connect to Redis at {url} (REDIS_URL)"))?;
        builder = builder.redis(store);
    }
    let public_url = args
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}/graphql", args.listen));
    let kafka = match &args.kafka_brokers {
        Some(brokers) => Some(kafka::Events::connect(brokers).await?),
        None => None,
    };
    if let Some(events) = &kafka {
        builder = builder.publisher(events.publisher());
    }
    if let Some(secret) = &args.router_signing_secret {
        let signature = dictamesh::signature::RouterSignature::new(secret)
            .context("DICTAMESH_ROUTER_SIGNING_SECRET is empty")?;
        builder = builder.require_router_signature(signature);
    }
    let subgraph = builder
        .public_url(public_url.clone())
        .build()
        .context("invalid subgraph")?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}: is another process using it?", args.listen))?;
    let invalidation = match &kafka {
        Some(events) => Some(events.start(&subgraph).await?),
        None => None,
    };
    tracing::info!(subgraph = subgraph.name(), url = %public_url, "serving");
    let served = dictamesh::serve(subgraph, listener, shutdown_signal()).await;
    if let Some(task) = invalidation {
        task.abort();
    }
    served.context("server failed")
}
