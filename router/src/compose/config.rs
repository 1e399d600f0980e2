//! Rover's `supergraph.yaml`: read with `apollo-federation-types`' config types after
//! `${env.NAME}` expansion, then each subgraph's SDL fetched (`schema.file`,
//! `schema.subgraph_url`, `schema.sdl`).

use std::path::Path;
use std::path::PathBuf;
use std::time::Duration;

use apollo_federation_types::config::SchemaSource;
use apollo_federation_types::config::SupergraphConfig;

use super::env_expansion::expand_env;
use super::error::ComposeError;
use super::subgraph::SubgraphInput;

/// Where one subgraph's SDL comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SdlSource {
    /// A file (resolved against the config file's directory).
    File(PathBuf),
    /// A running subgraph answering `_service { sdl }`, with extra request headers.
    Introspection {
        /// The subgraph URL.
        url: String,
        /// Extra HTTP headers.
        headers: Vec<(String, String)>,
    },
    /// SDL written in the config.
    Inline(String),
}

/// One subgraph of the config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubgraphSource {
    /// Subgraph name.
    pub name: String,
    /// Routing URL.
    pub routing_url: String,
    /// Where its SDL comes from.
    pub sdl: SdlSource,
}

/// A parsed `supergraph.yaml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComposeConfig {
    /// `federation_version` as written (e.g. `=2.3.2` or `2`), if any.
    pub federation_version: Option<String>,
    /// The subgraphs, sorted by name.
    pub subgraphs: Vec<SubgraphSource>,
}

/// Reads and parses a `supergraph.yaml`.
pub fn read_config(path: &Path) -> Result<ComposeConfig, ComposeError> {
    let text = std::fs::read_to_string(path).map_err(|cause| ComposeError::ReadConfig {
        path: path.to_path_buf(),
        cause,
    })?;
    let base_dir = path.parent().unwrap_or(Path::new("."));
    parse_config(&text, path, base_dir, |name| std::env::var(name).ok())
}

/// Parses `supergraph.yaml` text; `path` is used in messages, `base_dir` to resolve files.
pub fn parse_config(
    text: &str,
    path: &Path,
    base_dir: &Path,
    env: impl Fn(&str) -> Option<String>,
) -> Result<ComposeConfig, ComposeError> {
    let expanded = expand_env(text, env).map_err(|unset| ComposeError::UnsetEnvVariable {
        path: path.to_path_buf(),
        name: unset.name,
        line: unset.line,
    })?;
    let invalid = |message: String| ComposeError::InvalidConfig {
        path: path.to_path_buf(),
        message,
    };
    let config = SupergraphConfig::new_from_yaml(&expanded).map_err(|e| invalid(e.message()))?;
    let federation_version = config.get_federation_version().map(|v| v.to_string());
    if config.get_federation_version().is_some_and(|v| v.is_fed_one()) {
        return Err(invalid(
            "federation_version 1 is not supported: this composer produces Federation 2 supergraphs (Federation 1 subgraphs are upgraded automatically)".to_string(),
        ));
    }
    let mut subgraphs = Vec::new();
    for (name, subgraph) in config {
        let unsupported = |message: &str| ComposeError::UnsupportedSubgraphConfig {
            subgraph: name.clone(),
            message: message.to_string(),
        };
        let (sdl, default_url) = match subgraph.schema {
            SchemaSource::File { file } => (SdlSource::File(base_dir.join(file.as_std_path())), None),
            SchemaSource::SubgraphIntrospection {
                subgraph_url,
                introspection_headers,
            } => {
                let mut headers: Vec<(String, String)> =
                    introspection_headers.unwrap_or_default().into_iter().collect();
                headers.sort();
                let url = subgraph_url.to_string();
                (
                    SdlSource::Introspection {
                        url: url.clone(),
                        headers,
                    },
                    Some(url),
                )
            }
            SchemaSource::Sdl { sdl } => (SdlSource::Inline(sdl), None),
            SchemaSource::Subgraph { .. } => {
                return Err(unsupported(
                    "schema.graphref (GraphOS registry) sources are not supported; use schema.file, schema.subgraph_url or schema.sdl",
                ));
            }
        };
        let routing_url = subgraph
            .routing_url
            .or(default_url)
            .ok_or_else(|| unsupported("routing_url is required for schema.file and schema.sdl sources"))?;
        subgraphs.push(SubgraphSource {
            name,
            routing_url,
            sdl,
        });
    }
    if subgraphs.is_empty() {
        return Err(invalid("no subgraphs are configured".to_string()));
    }
    Ok(ComposeConfig {
        federation_version,
        subgraphs,
    })
}

/// Timeout of one `_service { sdl }` request.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// Fetches every subgraph's SDL.
pub async fn load_subgraphs(
    config: &ComposeConfig,
    client: &reqwest::Client,
) -> Result<Vec<SubgraphInput>, ComposeError> {
    let mut inputs = Vec::new();
    for subgraph in &config.subgraphs {
        let sdl = match &subgraph.sdl {
            SdlSource::File(path) => {
                tokio::fs::read_to_string(path)
                    .await
                    .map_err(|cause| ComposeError::ReadSchemaFile {
                        subgraph: subgraph.name.clone(),
                        path: path.clone(),
                        cause,
                    })?
            }
            SdlSource::Introspection { url, headers } => {
                fetch_sdl(client, &subgraph.name, url, headers).await?
            }
            SdlSource::Inline(sdl) => sdl.clone(),
        };
        inputs.push(SubgraphInput {
            name: subgraph.name.clone(),
            url: subgraph.routing_url.clone(),
            sdl,
        });
    }
    Ok(inputs)
}

/// Sends `query { _service { sdl } }` to a subgraph.
pub async fn fetch_sdl(
    client: &reqwest::Client,
    subgraph: &str,
    url: &str,
    headers: &[(String, String)],
) -> Result<String, ComposeError> {
    let failed = |message: String| ComposeError::FetchSchema {
        subgraph: subgraph.to_string(),
        url: url.to_string(),
        message,
    };
    let mut request = client
        .post(url)
        .timeout(FETCH_TIMEOUT)
        .json(&serde_json::json!({ "query": "query { _service { sdl } }" }));
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let response = request.send().await.map_err(|e| failed(error_chain(&e)))?;
    let status = response.status();
    if !status.is_success() {
        return Err(failed(format!("HTTP status {status}")));
    }
    let body: serde_json::Value = response
        .json()
        .await
        .map_err(|e| failed(format!("the response is not JSON: {}", error_chain(&e))))?;
    if let Some(sdl) = body.pointer("/data/_service/sdl").and_then(|v| v.as_str()) {
        return Ok(sdl.to_string());
    }
    let errors = body.get("errors").map(|e| format!(": {e}")).unwrap_or_default();
    Err(failed(format!(
        "the response has no data._service.sdl (is it a federation subgraph?){errors}"
    )))
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        message.push_str(": ");
        message.push_str(&inner.to_string());
        source = inner.source();
    }
    message
}
