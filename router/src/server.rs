//! Putting the router together: a supergraph source (an SDL file, or a rover
//! `supergraph.yaml` composed at start) and a [`RouterConfig`] become a [`Pipeline`]
//! behind the HTTP [`app`](crate::http::app).

use std::path::Path;
use std::path::PathBuf;
use std::sync::Arc;

use crate::config::RouterConfig;
use crate::execute::SubgraphSettings;
use crate::fetch::ClientOptions;
use crate::fetch::SubgraphClient;
use crate::http::HttpOptions;
use crate::http::RouterState;
use crate::pipeline::Pipeline;
use crate::pipeline::PipelineOptions;
use crate::resilience::SubgraphGuard;
use crate::supergraph::Supergraph;
use crate::supergraph::SupergraphError;
use crate::telemetry::RouterMetrics;
use crate::traffic::TrafficLimits;

/// Why the router cannot start (or reload).
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The supergraph file cannot be read.
    #[error("cannot read the supergraph {path}: {message}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        message: String,
    },
    /// Composing the `supergraph.yaml` failed.
    #[error("cannot compose {path}: {source}")]
    Compose {
        /// The file.
        path: String,
        /// The composition error.
        source: crate::compose::ComposeError,
    },
    /// The supergraph is not usable.
    #[error(transparent)]
    Supergraph(#[from] SupergraphError),
    /// A subgraph's header rules are invalid.
    #[error("headers for subgraph '{subgraph}': {message}")]
    Headers {
        /// The subgraph.
        subgraph: String,
        /// The bad rule.
        message: String,
    },
    /// A subgraph's resilience settings are invalid.
    #[error("traffic_shaping for subgraph '{subgraph}': {message}")]
    Resilience {
        /// The subgraph.
        subgraph: String,
        /// The bad setting.
        message: String,
    },
    /// Authentication or authorization cannot start (a JWKS or policy file).
    #[error(transparent)]
    Governance(#[from] crate::governance::GovernanceError),
}

/// Where the supergraph comes from.
#[derive(Debug, Clone)]
pub enum SupergraphSource {
    /// A supergraph SDL file.
    Sdl(PathBuf),
    /// A rover `supergraph.yaml`, composed by the router.
    ComposeConfig(PathBuf),
}

impl SupergraphSource {
    /// A `.yaml`/`.yml` file is a rover config; anything else an SDL.
    pub fn from_path(path: &Path) -> Self {
        match path.extension().and_then(|e| e.to_str()) {
            Some("yaml" | "yml") => SupergraphSource::ComposeConfig(path.to_path_buf()),
            _ => SupergraphSource::Sdl(path.to_path_buf()),
        }
    }

    /// Reads (and for a rover config, composes) the supergraph SDL.
    pub async fn load(&self) -> Result<String, StartError> {
        match self {
            SupergraphSource::Sdl(path) => std::fs::read_to_string(path).map_err(|e| StartError::Read {
                path: path.display().to_string(),
                message: e.to_string(),
            }),
            SupergraphSource::ComposeConfig(path) => crate::compose::compose_config_file(path)
                .await
                .map(|supergraph| supergraph.sdl)
                .map_err(|source| StartError::Compose {
                    path: path.display().to_string(),
                    source,
                }),
        }
    }
}

/// The HTTP options a configuration asks for.
pub fn http_options(config: &RouterConfig) -> HttpOptions {
    HttpOptions {
        max_body_bytes: config.http.max_body_bytes,
        batching: config.http.batching,
        csrf_prevention: config.http.csrf_prevention,
        console: config.http.console,
        expose_plans: config.http.expose_query_plans,
        traffic: Arc::new(
            TrafficLimits::new(&config.traffic_shaping.router).unwrap_or_else(|error| {
                tracing::error!(%error, "traffic_shaping.router is invalid; no client limits");
                TrafficLimits::default()
            }),
        ),
    }
}

/// The subgraph client a configuration asks for.
pub fn subgraph_client(config: &RouterConfig) -> SubgraphClient {
    SubgraphClient::new(&ClientOptions {
        http2_only: config.traffic_shaping.http2,
        ..ClientOptions::default()
    })
}

/// Builds the pipeline for a supergraph SDL, with fresh metrics.
pub fn build_pipeline(
    sdl: &str,
    config: &RouterConfig,
    client: SubgraphClient,
) -> Result<Pipeline, StartError> {
    build_observed_pipeline(sdl, config, client, Arc::new(RouterMetrics::new()))
}

/// Builds the pipeline for a supergraph SDL, recording into `metrics` (a reload keeps
/// the router's).
pub fn build_observed_pipeline(
    sdl: &str,
    config: &RouterConfig,
    client: SubgraphClient,
    metrics: Arc<RouterMetrics>,
) -> Result<Pipeline, StartError> {
    let supergraph = Arc::new(Supergraph::parse(sdl)?);
    let settings = SubgraphSettings {
        urls: supergraph
            .subgraphs
            .iter()
            .map(|s| config.traffic_shaping.url(&s.name, &s.url))
            .collect(),
        guards: supergraph
            .subgraphs
            .iter()
            .map(|s| {
                SubgraphGuard::new(&s.name, config.traffic_shaping.policy(&s.name))
                    .map(Arc::new)
                    .map_err(|message| StartError::Resilience {
                        subgraph: s.name.clone(),
                        message,
                    })
            })
            .collect::<Result<_, _>>()?,
        header_rules: supergraph
            .subgraphs
            .iter()
            .map(|s| {
                config
                    .headers
                    .rules_for(&s.name)
                    .map_err(|message| StartError::Headers {
                        subgraph: s.name.clone(),
                        message,
                    })
            })
            .collect::<Result<_, _>>()?,
        deduplicate: config.traffic_shaping.deduplicate_queries,
        signature: config
            .subgraph_signature
            .as_ref()
            .and_then(|signing| dictamesh::signature::RouterSignature::new(&signing.secret))
            .map(Arc::new),
    };
    let options = PipelineOptions {
        limits: config.limits.clone(),
        introspection: config.introspection,
        override_labels: config.override_labels.clone(),
        plan_cache_size: config.plan_cache_size,
        document_cache_size: config.plan_cache_size,
        apq_cache_size: config.apq.enabled.then_some(config.apq.cache_size),
        metrics,
        subscriptions: config.subscriptions.enabled,
        dedupe: config.traffic_shaping.router.dedupe.clone(),
    };
    let governance = crate::governance::Governance::new(
        &supergraph,
        config.authentication.as_ref(),
        &config.authorization,
    )?;
    Ok(Pipeline::new(supergraph, client, settings, options).with_governance(governance))
}

/// Loads the supergraph and builds the router state.
pub async fn start(source: &SupergraphSource, config: &RouterConfig) -> Result<Arc<RouterState>, StartError> {
    let sdl = source.load().await?;
    let pipeline = build_pipeline(&sdl, config, subgraph_client(config))?;
    Ok(Arc::new(RouterState::new(pipeline, http_options(config))))
}

/// Serves the router on `listener` until `shutdown` completes, then ends the
/// subscription streams and lets requests in flight finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<RouterState>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use axum::serve::ListenerExt as _;
    let app = crate::http::app(state.clone()).into_make_service_with_connect_info::<std::net::SocketAddr>();
    // Responses go out as soon as they are written: without TCP_NODELAY the tail of a
    // response larger than one segment waits for the client's acknowledgement.
    let listener = listener.tap_io(|connection| {
        if let Err(error) = connection.set_nodelay(true) {
            tracing::debug!(%error, "cannot set TCP_NODELAY on a client connection");
        }
    });
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown.await;
            state.close_streams();
        })
        .await
}

/// What the reloader last loaded.
struct Loaded {
    sdl: String,
    config_text: Option<String>,
    config: RouterConfig,
}

/// Polls the supergraph source and the configuration file every `interval`; when one
/// changes (and still loads), swaps in a new pipeline. Requests in flight finish on
/// the pipeline they started with; a change that does not load is logged and ignored.
pub fn spawn_reloader(
    state: Arc<RouterState>,
    source: SupergraphSource,
    config_path: Option<PathBuf>,
    interval: std::time::Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let config_text = config_path.as_ref().and_then(|p| std::fs::read_to_string(p).ok());
        let config = match &config_path {
            Some(path) => RouterConfig::from_file(path).unwrap_or_default(),
            None => RouterConfig::from_yaml("", "defaults", |_| None).unwrap_or_default(),
        };
        let watcher = match &source {
            SupergraphSource::ComposeConfig(path) => crate::compose::SupergraphWatcher::start(
                path.clone(),
                crate::compose::WatchOptions { poll_interval: interval },
            )
            .await
            .map_err(|error| tracing::warn!(%error, "supergraph watcher did not start; no hot reload of the supergraph"))
            .ok(),
            SupergraphSource::Sdl(_) => None,
        };
        let sdl = match &watcher {
            Some(watcher) => watcher.current().sdl.clone(),
            None => source.load().await.unwrap_or_default(),
        };
        let mut loaded = Loaded {
            sdl,
            config_text,
            config,
        };
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker.tick().await;
        loop {
            ticker.tick().await;
            reload_once(
                &state,
                &source,
                config_path.as_deref(),
                watcher.as_ref(),
                &mut loaded,
            )
            .await;
        }
    })
}

async fn reload_once(
    state: &RouterState,
    source: &SupergraphSource,
    config_path: Option<&Path>,
    watcher: Option<&crate::compose::SupergraphWatcher>,
    loaded: &mut Loaded,
) {
    let config_text = config_path.and_then(|p| std::fs::read_to_string(p).ok());
    let config_changed = config_text != loaded.config_text;
    if config_changed && let Some(path) = config_path {
        match RouterConfig::from_file(path) {
            Ok(config) => loaded.config = config,
            Err(error) => {
                tracing::error!(%error, "the new router configuration is invalid; keeping the current one");
                loaded.config_text = config_text;
                return;
            }
        }
    }
    loaded.config_text = config_text;
    let sdl = match watcher {
        Some(watcher) => Ok(watcher.current().sdl.clone()),
        None => source.load().await,
    };
    let sdl = match sdl {
        Ok(sdl) => sdl,
        Err(error) => {
            tracing::warn!(%error, "cannot read the supergraph; keeping the current one");
            return;
        }
    };
    if sdl == loaded.sdl && !config_changed {
        return;
    }
    let metrics = state.metrics().clone();
    match build_observed_pipeline(&sdl, &loaded.config, subgraph_client(&loaded.config), metrics) {
        Ok(pipeline) => {
            state.replace_pipeline(pipeline);
            state.replace_options(http_options(&loaded.config));
            loaded.sdl = sdl;
            tracing::info!(config_changed, "router reloaded");
        }
        Err(error) => tracing::error!(%error, "the new supergraph is not usable; keeping the current one"),
    }
}
