//! Keeping a supergraph up to date: re-compose when a `schema.file` changes or a
//! `schema.subgraph_url` starts answering a different SDL.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::ComposeError;
use super::SubgraphInput;
use super::Supergraph;
use super::compose;
use super::config::load_subgraphs;
use super::config::read_config;

/// How a [`SupergraphWatcher`] polls its sources.
#[derive(Debug, Clone)]
pub struct WatchOptions {
    /// Time between two polls of the config, schema files and subgraph URLs.
    pub poll_interval: Duration,
}

impl Default for WatchOptions {
    fn default() -> Self {
        WatchOptions {
            poll_interval: Duration::from_secs(10),
        }
    }
}

/// Watches a `supergraph.yaml` and its subgraphs; hands out the latest good supergraph.
///
/// A re-composition that fails keeps the previous supergraph and logs the errors.
pub struct SupergraphWatcher {
    receiver: watch::Receiver<Arc<Supergraph>>,
    task: JoinHandle<()>,
}

impl SupergraphWatcher {
    /// Composes once (failing if that fails), then polls in a background task.
    pub async fn start(config_path: PathBuf, options: WatchOptions) -> Result<Self, ComposeError> {
        let client = reqwest::Client::new();
        let inputs = read_inputs(&config_path, &client).await?;
        let supergraph = compose(&inputs).map_err(ComposeError::Composition)?;
        let (sender, receiver) = watch::channel(Arc::new(supergraph));
        let task = tokio::spawn(poll(config_path, options, client, inputs, sender));
        Ok(SupergraphWatcher { receiver, task })
    }

    /// The latest supergraph.
    pub fn current(&self) -> Arc<Supergraph> {
        self.receiver.borrow().clone()
    }

    /// A receiver notified on every new supergraph.
    pub fn subscribe(&self) -> watch::Receiver<Arc<Supergraph>> {
        self.receiver.clone()
    }
}

impl Drop for SupergraphWatcher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn read_inputs(
    config_path: &std::path::Path,
    client: &reqwest::Client,
) -> Result<Vec<SubgraphInput>, ComposeError> {
    let config = read_config(config_path)?;
    load_subgraphs(&config, client).await
}

async fn poll(
    config_path: PathBuf,
    options: WatchOptions,
    client: reqwest::Client,
    mut last_inputs: Vec<SubgraphInput>,
    sender: watch::Sender<Arc<Supergraph>>,
) {
    let mut interval = tokio::time::interval(options.poll_interval);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    interval.tick().await;
    loop {
        interval.tick().await;
        let inputs = match read_inputs(&config_path, &client).await {
            Ok(inputs) => inputs,
            Err(error) => {
                tracing::warn!(%error, "cannot read the subgraphs; keeping the current supergraph");
                continue;
            }
        };
        if inputs == last_inputs {
            continue;
        }
        match compose(&inputs) {
            Ok(supergraph) => {
                tracing::info!("subgraphs changed; new supergraph composed");
                if sender.send(Arc::new(supergraph)).is_err() {
                    return;
                }
            }
            Err(failure) => {
                tracing::error!(%failure, "re-composition failed; keeping the previous supergraph");
            }
        }
        last_inputs = inputs;
    }
}
