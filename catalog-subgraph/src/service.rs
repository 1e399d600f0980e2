//! The catalog service: its HTTP application (GraphQL at `/` and `/graphql`,
//! the Confluent REST API, `POST /ingest`, health and metrics) over a
//! subgraph that is rebuilt and swapped when the registry gains an entity
//! type, so its SDL (`_service { sdl }`) grows and a router polling it
//! re-composes.

use std::collections::BTreeSet;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use dictamesh::{BuildError, Subgraph, async_trait};
use tower::ServiceExt;

use crate::access::{WriteGate, require_token_for_writes};
use crate::db::Database;
use crate::error::CatalogError;
use crate::graphql::{self, Resolvers, TypeListener};
use crate::ingest::{IngestMessage, Ingestor};
use crate::registry;
use crate::schema_registry::{SchemaRegistry, rest};

/// The subgraph being served and the entity types it has stubs for.
struct Served {
    types: BTreeSet<String>,
    subgraph: Subgraph,
    http: Router,
}

/// Shared state of a running catalog.
struct Inner {
    db: Database,
    public_url: String,
    served: RwLock<Arc<Served>>,
    rebuild: tokio::sync::Mutex<()>,
    resolvers: RwLock<Option<Resolvers>>,
}

/// A running catalog. Cheap to clone.
#[derive(Clone)]
pub struct Catalog {
    inner: Arc<Inner>,
}

#[async_trait]
impl TypeListener for Inner {
    async fn entity_type_registered(&self, entity_type: &str) {
        let known = self.current().types.contains(entity_type);
        if !known && let Err(error) = self.refresh().await {
            tracing::error!(%error, %entity_type, "catalog schema not rebuilt after a new entity type");
        }
    }
}

impl Inner {
    fn current(&self) -> Arc<Served> {
        match self.served.read() {
            Ok(served) => served.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn resolvers(&self) -> Result<Resolvers, CatalogError> {
        self.resolvers
            .read()
            .ok()
            .and_then(|r| r.clone())
            .ok_or_else(|| CatalogError::Database("catalog resolvers are not set up".into()))
    }

    fn build(&self, types: BTreeSet<String>) -> Result<Served, CatalogError> {
        let list: Vec<String> = types.iter().cloned().collect();
        let subgraph = graphql::build(&self.resolvers()?, &list, &self.public_url).map_err(build_error)?;
        Ok(Served {
            http: dictamesh::router(subgraph.clone()),
            types,
            subgraph,
        })
    }

    /// Rebuilds the subgraph when the registry's entity types differ from
    /// the served ones; returns whether it did.
    async fn refresh(&self) -> Result<bool, CatalogError> {
        let _one_at_a_time = self.rebuild.lock().await;
        let types: BTreeSet<String> = registry::entity_types(&self.db).await?.into_iter().collect();
        if types == self.current().types {
            return Ok(false);
        }
        let served = Arc::new(self.build(types)?);
        tracing::info!(
            entity_types = served.types.len(),
            "catalog schema rebuilt with new entity types"
        );
        match self.served.write() {
            Ok(mut current) => *current = served,
            Err(poisoned) => *poisoned.into_inner() = served,
        }
        Ok(true)
    }
}

fn build_error(error: BuildError) -> CatalogError {
    CatalogError::Database(format!("the catalog schema does not build: {error}"))
}

impl Catalog {
    /// Starts a catalog over a (migrated) database. The subgraph gets a stub
    /// per registered entity type; when the database is unreachable it starts
    /// without stubs and [`Catalog::refresh`] adds them later.
    pub async fn start(db: Database, public_url: impl Into<String>) -> Result<Self, CatalogError> {
        let placeholder = Subgraph::builder(graphql::SUBGRAPH_NAME)
            .build()
            .map_err(build_error)?;
        let inner = Arc::new(Inner {
            db: db.clone(),
            public_url: public_url.into(),
            served: RwLock::new(Arc::new(Served {
                types: BTreeSet::new(),
                http: dictamesh::router(placeholder.clone()),
                subgraph: placeholder,
            })),
            rebuild: tokio::sync::Mutex::new(()),
            resolvers: RwLock::new(None),
        });
        let resolvers = Resolvers::new(db, graphql::listener_of(&inner));
        if let Ok(mut slot) = inner.resolvers.write() {
            *slot = Some(resolvers);
        }
        let served = inner.build(BTreeSet::new())?;
        if let Ok(mut current) = inner.served.write() {
            *current = Arc::new(served);
        }
        if let Err(error) = inner.refresh().await {
            tracing::warn!(%error, "entity types not loaded at start; the refresher will retry");
        }
        Ok(Catalog { inner })
    }

    /// The subgraph currently served.
    pub fn subgraph(&self) -> Subgraph {
        self.inner.current().subgraph.clone()
    }

    /// Rebuilds the subgraph if the registry has entity types it lacks (or
    /// lost some); returns whether it did.
    pub async fn refresh(&self) -> Result<bool, CatalogError> {
        self.inner.refresh().await
    }

    /// Refreshes every `interval` (for registrations made by other replicas
    /// or by ingest) until the task is aborted.
    pub fn spawn_refresher(&self, interval: Duration) -> tokio::task::JoinHandle<()> {
        let catalog = self.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                if let Err(error) = catalog.refresh().await {
                    tracing::warn!(%error, "catalog schema refresh failed");
                }
            }
        })
    }

    /// The HTTP application where writes need `Authorization: Bearer
    /// <write_token>` (refusals are audited); see [`crate::access`].
    pub fn protected_router(&self, write_token: String) -> Router {
        let gate = WriteGate {
            token: write_token,
            db: self.inner.db.clone(),
        };
        self.router().layer(axum::middleware::from_fn_with_state(
            gate,
            require_token_for_writes,
        ))
    }

    /// The HTTP application, open to every caller.
    pub fn router(&self) -> Router {
        let registry = SchemaRegistry::new(self.inner.db.clone());
        Router::new()
            .route("/ingest", post(ingest))
            .fallback(serve_graphql)
            .with_state(self.clone())
            .merge(rest::router(registry))
    }
}

/// GraphQL, health and metrics: the kit's routes of the current subgraph.
async fn serve_graphql(State(catalog): State<Catalog>, request: Request) -> Response {
    let http = catalog.inner.current().http.clone();
    match http.oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

/// `POST /ingest` with `{"messages": [{"topic": ..., "payload": ...}]}`: the
/// ingest API for direct callers until the event bus exists.
async fn ingest(State(catalog): State<Catalog>, body: Bytes) -> Response {
    #[derive(serde::Deserialize)]
    struct Body {
        messages: Vec<IngestMessage>,
    }
    let body: Body = match serde_json::from_slice(&body) {
        Ok(body) => body,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                axum::Json(serde_json::json!({"error": format!("expected {{\"messages\": [{{\"topic\", \"payload\"}}]}}: {e}")})),
            )
                .into_response();
        }
    };
    let ingestor = Ingestor::new(catalog.inner.db.clone());
    match ingestor.ingest(&body.messages).await {
        Ok(report) => {
            if report.ingested > 0
                && let Err(error) = catalog.refresh().await
            {
                tracing::warn!(%error, "catalog schema refresh after ingest failed");
            }
            axum::Json(report).into_response()
        }
        Err(error) => {
            let status = match error {
                CatalogError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            };
            (
                status,
                axum::Json(serde_json::json!({"error": error.to_string()})),
            )
                .into_response()
        }
    }
}
