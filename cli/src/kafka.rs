//! Change events on Kafka for a served subgraph: an idempotent publisher
//! (Avro with `SCHEMA_REGISTRY_URL`, JSON without), the entity types announced
//! on start, and this replica's caches invalidated by every replica's events.

use std::sync::Arc;

use dictamesh::Subgraph;
use dictamesh::events::ChangePublisher;

#[cfg(feature = "kafka")]
pub use with_kafka::{Events, change_feed};
#[cfg(not(feature = "kafka"))]
pub use without_kafka::{Events, change_feed};

#[cfg(feature = "kafka")]
mod with_kafka {
    use std::time::Duration;

    use anyhow::Context;
    use dictamesh::events::CacheInvalidation;
    use dictamesh::events::bus::{Consumer, RecentIds};
    use dictamesh::events::codec::registry::SchemaRegistryClient;
    use dictamesh::events::codec::{Decoder, Encoder};
    use dictamesh::events::kafka::{KafkaConfig, KafkaPublisher, KafkaSource, ensure_topics};
    use dictamesh::events::registration::ENTITY_REGISTERED_TOPIC;

    use super::*;

    /// The change log on Kafka (`KAFKA_BROKERS`) for the router's subscriptions,
    /// Avro-aware with `SCHEMA_REGISTRY_URL`; `None` without brokers.
    pub fn change_feed() -> anyhow::Result<Option<Arc<dyn dictamesh::events::feed::ChangeFeed>>> {
        let Ok(brokers) = std::env::var("KAFKA_BROKERS") else {
            return Ok(None);
        };
        let decoder = match std::env::var("SCHEMA_REGISTRY_URL") {
            Ok(url) => Decoder::with_registry(Arc::new(SchemaRegistryClient::new(&url))),
            Err(_) => Decoder::json(),
        };
        let feed = dictamesh::events::kafka_feed::KafkaFeed::new(&KafkaConfig::new(brokers))
            .context("the change log on Kafka (KAFKA_BROKERS)")?
            .with_decoder(decoder);
        Ok(Some(Arc::new(feed)))
    }

    /// A Kafka connection for one subgraph process.
    pub struct Events {
        config: KafkaConfig,
        publisher: Arc<KafkaPublisher>,
        decoder: Decoder,
    }

    impl Events {
        /// Connects the producer; the registry comes from `SCHEMA_REGISTRY_URL`.
        pub async fn connect(brokers: &str) -> anyhow::Result<Self> {
            let config = KafkaConfig::new(brokers);
            let registry = std::env::var("SCHEMA_REGISTRY_URL")
                .ok()
                .map(|url| Arc::new(SchemaRegistryClient::new(&url)));
            let (encoder, decoder) = match &registry {
                Some(registry) => (
                    Encoder::with_registry(registry.clone()),
                    Decoder::with_registry(registry.clone()),
                ),
                None => (Encoder::json(), Decoder::json()),
            };
            let publisher =
                Arc::new(KafkaPublisher::new(&config, encoder).context("Kafka producer (KAFKA_BROKERS)")?);
            Ok(Events {
                config,
                publisher,
                decoder,
            })
        }

        /// The publisher to give the subgraph.
        pub fn publisher(&self) -> Arc<dyn ChangePublisher> {
            self.publisher.clone()
        }

        /// Creates the subgraph's topics, announces its entity types and
        /// follows its topics to invalidate this replica's caches.
        pub async fn start(&self, subgraph: &Subgraph) -> anyhow::Result<tokio::task::JoinHandle<()>> {
            let invalidation = Arc::new(CacheInvalidation::new(subgraph.sources().to_vec()));
            let mut topics = invalidation.topics();
            topics.push(ENTITY_REGISTERED_TOPIC.to_string());
            ensure_topics(&self.config, &topics)
                .await
                .context("creating the Kafka topics")?;
            subgraph
                .publish_registrations(self.publisher.as_ref())
                .await
                .context("announcing the entity types")?;
            topics.retain(|t| t != ENTITY_REGISTERED_TOPIC);
            let group = format!("dictamesh-{}-{}", subgraph.name(), uuid::Uuid::new_v4());
            let subscribed: Vec<&str> = topics.iter().map(String::as_str).collect();
            let source = KafkaSource::new(&self.config, &group, &subscribed).context("Kafka consumer")?;
            let mut consumer = Consumer::new(
                source,
                invalidation,
                Arc::new(RecentIds::new(100_000)),
                self.publisher.clone(),
                self.decoder.clone(),
            )
            .with_metrics(subgraph.metrics().clone(), &group);
            Ok(tokio::spawn(async move {
                loop {
                    if let Err(error) = consumer.run_once(Duration::from_millis(500)).await {
                        tracing::warn!(%error, "cache invalidation consumer");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }))
        }
    }
}

#[cfg(not(feature = "kafka"))]
mod without_kafka {
    use super::*;

    /// No change log: this build has no Kafka support (an error when
    /// `KAFKA_BROKERS` asks for one).
    pub fn change_feed() -> anyhow::Result<Option<Arc<dyn dictamesh::events::feed::ChangeFeed>>> {
        if std::env::var("KAFKA_BROKERS").is_ok() {
            anyhow::bail!(
                "KAFKA_BROKERS is set but this dictamesh was built without Kafka support (cargo build --features kafka)"
            );
        }
        Ok(None)
    }

    /// Refuses Kafka: this build has no Kafka support.
    pub struct Events;

    impl Events {
        /// Always an error that says how to build with Kafka.
        pub async fn connect(_brokers: &str) -> anyhow::Result<Self> {
            anyhow::bail!(
                "KAFKA_BROKERS is set but this dictamesh was built without Kafka support (cargo build --features kafka)"
            )
        }

        /// Unreachable: [`Events::connect`] never succeeds.
        pub fn publisher(&self) -> Arc<dyn ChangePublisher> {
            Arc::new(dictamesh::events::InProcessBus::default())
        }

        /// Unreachable: [`Events::connect`] never succeeds.
        pub async fn start(&self, _subgraph: &Subgraph) -> anyhow::Result<tokio::task::JoinHandle<()>> {
            Ok(tokio::spawn(async {}))
        }
    }
}
