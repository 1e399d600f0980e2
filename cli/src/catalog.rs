//! `dictamesh catalog`: serves the metadata catalog subgraph with its schema
//! registry.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use dictamesh_catalog::db::DEFAULT_DATABASE_URL;
use dictamesh_catalog::retention::RetentionJob;
use dictamesh_catalog::{Catalog, Database};

/// Arguments of `dictamesh catalog`.
#[derive(Args)]
pub struct CatalogArgs {
    /// Address to listen on.
    #[arg(long, env = "DICTAMESH_LISTEN", default_value = "127.0.0.1:4010")]
    listen: SocketAddr,
    /// The catalog's database: postgres://... in production, sqlite://FILE embedded.
    #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL)]
    database_url: String,
    /// Do not apply migrations at start (a deployment migrates in a Job); the
    /// catalog then refuses to start on a database that is not migrated.
    #[arg(long)]
    no_migrate: bool,
    /// The public GraphQL URL, put into events (default http://LISTEN/graphql).
    #[arg(long, env = "DICTAMESH_PUBLIC_URL")]
    public_url: Option<String>,
    /// A token that writes (mutations, schema registrations, config, ingest)
    /// must present as `Authorization: Bearer <token>`; refusals are audited.
    /// Without it the catalog is open to every caller.
    #[arg(long, env = "DICTAMESH_CATALOG_WRITE_TOKEN", hide_env_values = true)]
    write_token: Option<String>,
    /// How often to look for entity types registered elsewhere, in seconds.
    #[arg(long, default_value_t = 10)]
    refresh_seconds: u64,
    /// Kafka brokers to ingest the catalog's topics from (registrations,
    /// relationships, every `*.entity_changed`); without them, ingest is
    /// `POST /ingest` only.
    #[arg(long, env = "KAFKA_BROKERS")]
    kafka_brokers: Option<String>,
    /// How often the retention job publishes DELETED events for entities past
    /// their `retention_days`, in seconds (0: never). It publishes to Kafka, so
    /// it runs only with KAFKA_BROKERS.
    #[arg(long, env = "DICTAMESH_RETENTION_SECONDS", default_value_t = 3600)]
    retention_seconds: u64,
}

/// Ingests the catalog's topics from Kafka in the background.
#[cfg(feature = "kafka")]
async fn spawn_kafka_ingest(
    brokers: &str,
    db: dictamesh_catalog::Database,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    use dictamesh::events::codec::Decoder;
    use dictamesh::events::kafka::{KafkaConfig, KafkaSource, ensure_topics};
    use dictamesh_catalog::ingest::Ingestor;
    use dictamesh_catalog::ingest::bus::{BusSource, CATALOG_TOPICS};
    let config = KafkaConfig::new(brokers);
    let fixed: Vec<String> = CATALOG_TOPICS
        .iter()
        .filter(|t| !t.starts_with('*'))
        .map(|t| t.to_string())
        .collect();
    ensure_topics(&config, &fixed)
        .await
        .context("cannot create the catalog's topics (KAFKA_BROKERS)")?;
    let source = KafkaSource::new(&config, "dictamesh-catalog", &CATALOG_TOPICS)
        .context("cannot consume from Kafka (KAFKA_BROKERS)")?;
    let decoder = match std::env::var("SCHEMA_REGISTRY_URL") {
        Ok(url) => Decoder::with_registry(std::sync::Arc::new(
            dictamesh::events::codec::registry::SchemaRegistryClient::new(&url),
        )),
        Err(_) => Decoder::json(),
    };
    let mut source = BusSource::new(source, decoder, 1000);
    Ok(tokio::spawn(async move {
        let ingestor = Ingestor::new(db);
        if let Err(error) =
            dictamesh_catalog::ingest::consumer::consume(&mut source, &ingestor, Duration::from_secs(1)).await
        {
            tracing::error!(%error, "the catalog stopped ingesting from Kafka");
        }
    }))
}

#[cfg(not(feature = "kafka"))]
async fn spawn_kafka_ingest(
    _brokers: &str,
    _db: dictamesh_catalog::Database,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    bail!(
        "KAFKA_BROKERS is set but this dictamesh was built without Kafka support (cargo build --features kafka)"
    )
}

/// Migrates (or checks) the database, then serves until a shutdown signal.
pub async fn run(args: CatalogArgs) -> anyhow::Result<()> {
    let db = Database::connect(&args.database_url)
        .await
        .context("cannot reach the catalog database (DATABASE_URL)")?;
    if args.no_migrate {
        let status = db
            .migration_status()
            .await
            .context("cannot read the database's migrations")?;
        if !status.is_current() {
            bail!(
                "the database is not migrated for this catalog (pending: {:?}, modified: {:?}); run without \
                 --no-migrate or apply migrations/{}",
                status.pending,
                status.modified,
                db.backend()
            );
        }
    } else {
        db.migrate()
            .await
            .context("migrating the catalog database failed")?;
    }
    let public_url = args
        .public_url
        .unwrap_or_else(|| format!("http://{}/graphql", args.listen));
    let catalog = Catalog::start(db.clone(), public_url.clone())
        .await
        .context("the catalog did not start")?;
    let refresher = catalog.spawn_refresher(Duration::from_secs(args.refresh_seconds.max(1)));
    let ingest = match args.kafka_brokers.as_deref() {
        Some(brokers) => Some(spawn_kafka_ingest(brokers, db.clone()).await?),
        None => None,
    };
    let retention = match (args.retention_seconds, args.kafka_brokers.as_deref()) {
        (0, _) => None,
        (_, None) => {
            tracing::info!("the retention job is off: it publishes DELETED events to Kafka (KAFKA_BROKERS)");
            None
        }
        (seconds, Some(brokers)) => {
            let publisher = crate::kafka::Events::connect(brokers).await?.publisher();
            Some(RetentionJob::new(db.clone(), publisher).spawn(Duration::from_secs(seconds)))
        }
    };
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}: is another process using it?", args.listen))?;
    tracing::info!(url = %public_url, database = db.backend(), "catalog serving");
    let app = match args.write_token {
        Some(token) => catalog.protected_router(token),
        None => {
            tracing::warn!("no write token (DICTAMESH_CATALOG_WRITE_TOKEN): every caller may write");
            catalog.router()
        }
    };
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(crate::subgraph::shutdown_signal())
        .await;
    refresher.abort();
    for task in [ingest, retention].into_iter().flatten() {
        task.abort();
    }
    db.close().await;
    served.context("server failed")
}
