//! `dictamesh dev`: the example mesh in one process on embedded defaults —
//! customers and invoices on SQLite, products from a watched directory, an
//! SQLite event log instead of Kafka, in-memory caches — composed and served
//! by the router, with demo data.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::Args;
use dictamesh::events::codec::Decoder;
use dictamesh::events::log_bus::LogBus;
use dictamesh::{DataProductAdapter, EntityQuery, Subgraph, SubgraphBuilder, WritableAdapter};
use dictamesh_catalog::ingest::Ingestor;
use dictamesh_catalog::ingest::bus::{BusSource, CATALOG_TOPICS};
use dictamesh_catalog::ingest::consumer::consume;
use dictamesh_catalog::retention::RetentionJob;
use dictamesh_catalog::{Catalog, Database as CatalogDatabase};
use dictamesh_example_mesh::Database;
use dictamesh_example_mesh::customers::{self, NewCustomer, SqlCustomers};
use dictamesh_example_mesh::invoices::{self, NewInvoice, NewInvoiceItem, SqlInvoices};
use dictamesh_example_mesh::products::{self, files::FileProducts};
use dictamesh_router::compose::config::read_config;
use dictamesh_router::compose::{SubgraphInput, compose};
use dictamesh_router::config::RouterConfig;
use dictamesh_router::server;
use std::time::Duration;
use tokio::sync::watch;

/// Arguments of `dictamesh dev`.
#[derive(Args)]
pub struct DevArgs {
    /// Where the router listens (GraphiQL at `/`).
    #[arg(long, default_value = "127.0.0.1:4000")]
    listen: SocketAddr,
    /// A rover `supergraph.yaml` naming where each subgraph listens
    /// [default: ./supergraph.yaml when present, else 127.0.0.1:4001-4003].
    #[arg(long)]
    supergraph: Option<PathBuf>,
    /// Directory for the databases, the product files and the event log.
    #[arg(long, default_value = ".dictamesh-dev")]
    data_dir: PathBuf,
    /// A database for customers and invoices instead of SQLite files in the
    /// data directory (postgres://... or sqlite://...).
    #[arg(long, env = "DATABASE_URL")]
    database_url: Option<String>,
    /// Redis for the subgraphs' shared L2 entity cache (in-memory caches only
    /// when absent).
    #[arg(long, env = "REDIS_URL")]
    redis_url: Option<String>,
    /// Start without demo customers, products and invoices.
    #[arg(long)]
    no_demo_data: bool,
}

/// The subgraphs `dev` runs, by the name they have in `supergraph.yaml`.
const SUBGRAPHS: [&str; 3] = ["customers", "products", "invoices"];
/// How often the retention job runs in the dev mesh.
const RETENTION_INTERVAL: Duration = Duration::from_secs(3600);
/// The catalog's name in `supergraph.yaml`; when absent it listens on a free port.
const CATALOG: &str = "catalog";
/// The entity types the catalog must know before the mesh is composed.
const CATALOGED_TYPES: [&str; 3] = ["Customer", "Product", "Invoice"];

/// Where each subgraph listens.
fn addresses(args: &DevArgs) -> anyhow::Result<Vec<(String, SocketAddr)>> {
    let config_path = args.supergraph.clone().or_else(|| {
        Path::new("supergraph.yaml")
            .exists()
            .then(|| PathBuf::from("supergraph.yaml"))
    });
    let Some(path) = config_path else {
        let mut defaults: Vec<(String, SocketAddr)> = SUBGRAPHS
            .iter()
            .enumerate()
            .map(|(i, name)| {
                (
                    name.to_string(),
                    SocketAddr::from(([127, 0, 0, 1], 4001 + i as u16)),
                )
            })
            .collect();
        defaults.push((CATALOG.to_string(), SocketAddr::from(([127, 0, 0, 1], 4010))));
        return Ok(defaults);
    };
    let config = read_config(&path)?;
    let mut out = Vec::new();
    for subgraph in config.subgraphs {
        if !SUBGRAPHS.contains(&subgraph.name.as_str()) && subgraph.name != CATALOG {
            bail!(
                "{}: `dictamesh dev` runs {} and {CATALOG}; it cannot run subgraph `{}`",
                path.display(),
                SUBGRAPHS.join(", "),
                subgraph.name
            );
        }
        let authority = subgraph
            .routing_url
            .split("://")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .unwrap_or_default();
        let address: SocketAddr = authority.parse().with_context(|| {
            format!(
                "{}: the routing_url of `{}` ({}) must be http://<ip>:<port>/... for dev",
                path.display(),
                subgraph.name,
                subgraph.routing_url
            )
        })?;
        out.push((subgraph.name, address));
    }
    for name in SUBGRAPHS {
        if !out.iter().any(|(n, _)| n == name) {
            bail!("{}: subgraph `{name}` is missing", path.display());
        }
    }
    if !out.iter().any(|(n, _)| n == CATALOG) {
        out.push((CATALOG.to_string(), SocketAddr::from(([127, 0, 0, 1], 0))));
    }
    Ok(out)
}

async fn database(args: &DevArgs, name: &str) -> anyhow::Result<Database> {
    let url = match &args.database_url {
        Some(url) => url.clone(),
        None => format!(
            "sqlite://{}?mode=rwc",
            args.data_dir.join(format!("{name}.db")).display()
        ),
    };
    Database::connect(&url)
        .await
        .with_context(|| format!("the {name} database"))
}

const DEMO_PRODUCTS: &str = "id,sku,name,price_amount,price_currency,inventory,provider
p-widget,WID-001,Widget,19.99,USD,120,Acme
p-gadget,GAD-002,Gadget,5.49,USD,40,Acme
p-gizmo,GIZ-003,Gizmo,129.00,USD,7,Globex
p-doohickey,DOO-004,Doohickey,2.75,USD,900,Initech
";

/// Writes demo products when the directory has none.
fn seed_products(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let empty = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .next()
        .is_none();
    if empty {
        std::fs::write(dir.join("catalog.csv"), DEMO_PRODUCTS).context("cannot write demo products")?;
    }
    Ok(())
}

/// Creates demo customers and invoices when the databases are empty.
async fn seed_sales(customers: &SqlCustomers, invoices: &SqlInvoices) -> anyhow::Result<()> {
    let existing = customers
        .query_entities(&EntityQuery {
            limit: Some(1),
            ..EntityQuery::default()
        })
        .await?;
    if !existing.is_empty() {
        return Ok(());
    }
    let mut created = Vec::new();
    for (name, email) in [
        ("John Doe", "john@example.com"),
        ("Ada Lovelace", "ada@example.com"),
        ("Grace Hopper", "grace@example.com"),
    ] {
        created.push(
            customers
                .create(NewCustomer {
                    name: name.into(),
                    email: email.into(),
                })
                .await?,
        );
    }
    let item = |product: &str, quantity: i32, price: &str| -> anyhow::Result<NewInvoiceItem> {
        Ok(NewInvoiceItem {
            product_id: dictamesh::ID(product.into()),
            quantity,
            unit_price: price.parse()?,
        })
    };
    invoices
        .create(NewInvoice {
            customer_id: created[0].id.clone(),
            currency: None,
            items: vec![item("p-widget", 2, "19.99")?, item("p-gadget", 1, "5.49")?],
        })
        .await?;
    invoices
        .create(NewInvoice {
            customer_id: created[1].id.clone(),
            currency: None,
            items: vec![item("p-gizmo", 1, "129.00")?],
        })
        .await?;
    Ok(())
}

/// The metadata catalog on SQLite in the data directory, ingesting the event
/// log (registrations, relationships, change events, audit records) in the
/// background, and its retention job publishing DELETED events on the log.
async fn start_catalog(
    data_dir: &Path,
    bus: &LogBus,
    public_url: &str,
) -> anyhow::Result<(Catalog, tokio::task::JoinHandle<()>)> {
    let url = format!("sqlite://{}?mode=rwc", data_dir.join("catalog.db").display());
    let db = CatalogDatabase::connect(&url)
        .await
        .context("the catalog database")?;
    db.migrate().await.context("migrating the catalog database")?;
    let catalog = Catalog::start(db.clone(), public_url)
        .await
        .context("the catalog")?;
    catalog.spawn_refresher(Duration::from_secs(1));
    let retention = RetentionJob::new(db.clone(), Arc::new(bus.clone())).spawn(RETENTION_INTERVAL);
    let mut source = BusSource::new(bus.source(CATALOG, &CATALOG_TOPICS), Decoder::json(), 500);
    tokio::spawn(async move {
        let ingestor = Ingestor::new(db);
        if let Err(error) = consume(&mut source, &ingestor, Duration::from_secs(1)).await {
            tracing::error!(%error, "the catalog stopped ingesting events");
        }
    });
    Ok((catalog, retention))
}

/// Waits until the catalog has ingested the subgraphs' registrations, so the
/// composed supergraph has `catalog` on every entity type.
async fn wait_for_registrations(catalog: &Catalog) -> anyhow::Result<()> {
    for _ in 0..100 {
        catalog.refresh().await.context("refreshing the catalog")?;
        let sdl = catalog.subgraph().sdl().to_string();
        if CATALOGED_TYPES
            .iter()
            .all(|t| sdl.contains(&format!("type {t} ")))
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!(
        "the catalog did not register {} within 10 s",
        CATALOGED_TYPES.join(", ")
    )
}

async fn bind(name: &str, address: SocketAddr) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(address).await.with_context(|| {
        format!("cannot listen on {address} for {name}: is another process using that port?")
    })
}

const SAMPLE_QUERY: &str = "{ invoices(limit: 1) { invoiceNumber total { amount currency } \
customer { name email } items { quantity product { name price { amount } } } } }";

/// Runs the mesh until Ctrl-C.
pub async fn run(args: DevArgs) -> anyhow::Result<()> {
    let addresses = addresses(&args)?;
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("cannot create the data directory {}", args.data_dir.display()))?;
    let products_dir = args.data_dir.join("products");
    if args.no_demo_data {
        std::fs::create_dir_all(&products_dir)
            .with_context(|| format!("cannot create {}", products_dir.display()))?;
    } else {
        seed_products(&products_dir)?;
    }
    let bus = LogBus::open(&args.data_dir.join("events.db")).await?;

    let customer_store = SqlCustomers::new(database(&args, "customers").await?).await?;
    let invoice_store = SqlInvoices::new(database(&args, "invoices").await?).await?;
    if !args.no_demo_data {
        seed_sales(&customer_store, &invoice_store).await?;
    }
    let redis = match &args.redis_url {
        Some(url) => Some(
            dictamesh::cache::RedisStore::connect(url)
                .await
                .with_context(|| format!("cannot connect to Redis at {url} (REDIS_URL)"))?,
        ),
        None => None,
    };
    let mut builders: Vec<(&str, SubgraphBuilder)> = vec![
        ("customers", customers::subgraph(customer_store)),
        ("invoices", invoices::subgraph(invoice_store)),
        (
            "products",
            products::subgraph(FileProducts::open(&products_dir).map_err(anyhow::Error::msg)?),
        ),
    ];

    let (stop, stopped) = watch::channel(false);
    let mut inputs = Vec::new();
    let mut urls = Vec::new();
    let mut servers = Vec::new();
    let catalog_address = addresses
        .iter()
        .find(|(n, _)| n == CATALOG)
        .map(|(_, a)| *a)
        .context("the catalog's address")?;
    let catalog_listener = bind(CATALOG, catalog_address).await?;
    let catalog_url = format!(
        "http://{}/graphql",
        catalog_listener.local_addr().context("the catalog's address")?
    );
    let (catalog, retention) = start_catalog(&args.data_dir, &bus, &catalog_url).await?;
    let mut catalog_stopped = stopped.clone();
    let catalog_app = catalog.router();
    servers.push(tokio::spawn(async move {
        axum::serve(catalog_listener, catalog_app)
            .with_graceful_shutdown(async move {
                let _ = catalog_stopped.changed().await;
            })
            .await
    }));
    for (name, address) in &addresses {
        if name == CATALOG {
            continue;
        }
        let position = builders
            .iter()
            .position(|(n, _)| n == name)
            .with_context(|| format!("subgraph `{name}` is named twice"))?;
        let (_, builder) = builders.swap_remove(position);
        let listener = bind(name, *address).await?;
        let bound = listener.local_addr().context("the bound address")?;
        let url = format!("http://{bound}/graphql");
        let builder = match &redis {
            Some(store) => builder.redis(store.clone()),
            None => builder,
        };
        let subgraph: Subgraph = builder
            .publisher(Arc::new(bus.clone()))
            .public_url(url.clone())
            .build()
            .with_context(|| format!("the {name} subgraph"))?;
        subgraph.publish_registrations(&bus).await?;
        inputs.push(SubgraphInput {
            name: name.clone(),
            url: url.clone(),
            sdl: subgraph.sdl().to_string(),
        });
        urls.push((name.clone(), url));
        let mut stopped = stopped.clone();
        servers.push(tokio::spawn(dictamesh::serve(subgraph, listener, async move {
            let _ = stopped.changed().await;
        })));
    }

    wait_for_registrations(&catalog).await?;
    inputs.push(SubgraphInput {
        name: CATALOG.to_string(),
        url: catalog_url.clone(),
        sdl: catalog.subgraph().sdl().to_string(),
    });
    let catalog_ingest = catalog_url.replace("/graphql", "/ingest");
    urls.push((CATALOG.to_string(), catalog_url));
    let supergraph = compose(&inputs).map_err(|failure| {
        let errors: Vec<String> = failure.errors.iter().map(ToString::to_string).collect();
        anyhow::anyhow!("the mesh does not compose:\n{}", errors.join("\n"))
    })?;
    std::fs::write(args.data_dir.join("supergraph.graphql"), &supergraph.sdl)
        .context("cannot write the supergraph")?;
    let mut config =
        RouterConfig::from_yaml("", "defaults", |_| None).context("default router configuration")?;
    config.subscriptions.enabled = true;
    // PII reads and denials are audited through a durable outbox into the
    // catalog's audit_log.
    config.authorization.audit.outbox = Some(args.data_dir.join("audit-outbox.db"));
    config.authorization.audit.deliver_to = Some(catalog_ingest);
    let pipeline = server::build_pipeline(&supergraph.sdl, &config, server::subgraph_client(&config))?;
    let audit_relay = dictamesh_router::governance::spawn_audit_relay(&config.authorization.audit)?;
    let state = Arc::new(dictamesh_router::http::RouterState::new(
        pipeline,
        server::http_options(&config),
    ));
    state.set_change_feed(Arc::new(bus.clone()));
    let listener = bind("the router", args.listen).await?;
    let router_address = listener.local_addr().context("the router's address")?;
    let mut router_stopped = stopped.clone();
    let router = tokio::spawn(server::serve(listener, state, async move {
        let _ = router_stopped.changed().await;
    }));

    println!("DictaMesh dev mesh is up.\n");
    println!("  router (GraphiQL)  http://{router_address}/");
    for (name, url) in &urls {
        println!("  {name:<18} {url}");
    }
    println!("  data               {}", args.data_dir.display());
    println!("\nTry:\n  curl -s http://{router_address}/graphql -H 'content-type: application/json' \\");
    println!("    -d '{}'", serde_json::json!({ "query": SAMPLE_QUERY }));
    println!("\nCtrl-C stops everything.");

    crate::subgraph::shutdown_signal().await;
    let _ = stop.send(true);
    for server in servers.into_iter().chain([router]) {
        if let Ok(Err(error)) = server.await {
            tracing::warn!(%error, "a server stopped with an error");
        }
    }
    for task in audit_relay.into_iter().chain([retention]) {
        task.abort();
    }
    Ok(())
}
