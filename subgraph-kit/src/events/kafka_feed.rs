//! The change log on Kafka read by position ([`ChangeFeed`]): what a router
//! streaming `entityChanged` uses in production. Each read assigns a
//! short-lived consumer (no group, nothing committed) to every partition of the
//! matching topics at the cursor's offsets, so any number of subscribers read
//! independently and a reconnecting client resumes from its own cursor.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rdkafka::consumer::{BaseConsumer, Consumer as _, StreamConsumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::{Offset, TopicPartitionList};

use super::bus::{BusError, Delivery};
use super::codec::Decoder;
use super::feed::{ChangeFeed, Cursor, topic_matches};
use super::kafka::{KafkaConfig, delivery};

/// Positioned reads of Kafka topics.
pub struct KafkaFeed {
    config: KafkaConfig,
    /// Answers metadata and watermark queries (blocking calls, run off the
    /// async workers).
    metadata: Arc<BaseConsumer>,
    timeout: Duration,
    decoder: Decoder,
}

impl KafkaFeed {
    /// A feed reading from the brokers of `config`.
    pub fn new(config: &KafkaConfig) -> Result<Self, BusError> {
        let metadata = config
            .client()
            .set("group.id", "dictamesh-change-feed")
            .create()
            .map_err(|e| BusError(format!("metadata client: {e}")))?;
        Ok(KafkaFeed {
            config: config.clone(),
            metadata: Arc::new(metadata),
            timeout: Duration::from_secs(10),
            decoder: Decoder::json(),
        })
    }

    /// Decodes messages with `decoder` (one with a schema registry for Avro).
    pub fn with_decoder(mut self, decoder: Decoder) -> Self {
        self.decoder = decoder;
        self
    }

    /// Every partition of the topics matching `pattern`, with its high watermark.
    async fn partitions(&self, pattern: &str) -> Result<Vec<(String, i32, i64)>, BusError> {
        let metadata = self.metadata.clone();
        let pattern = pattern.to_string();
        let timeout = self.timeout;
        tokio::task::spawn_blocking(move || {
            let topics = metadata
                .fetch_metadata(None, timeout)
                .map_err(|e| BusError(format!("list topics: {e}")))?;
            let mut partitions = Vec::new();
            for topic in topics
                .topics()
                .iter()
                .filter(|t| topic_matches(&pattern, t.name()))
            {
                for partition in topic.partitions() {
                    let (_, high) = metadata
                        .fetch_watermarks(topic.name(), partition.id(), timeout)
                        .map_err(|e| BusError(format!("watermarks of {}: {e}", topic.name())))?;
                    partitions.push((topic.name().to_string(), partition.id(), high));
                }
            }
            Ok(partitions)
        })
        .await
        .map_err(|e| BusError(format!("metadata task: {e}")))?
    }
}

#[async_trait]
impl ChangeFeed for KafkaFeed {
    async fn end(&self, pattern: &str) -> Result<Cursor, BusError> {
        let mut cursor = Cursor::default();
        for (topic, partition, high) in self.partitions(pattern).await? {
            cursor.set(&topic, partition, high);
        }
        Ok(cursor)
    }

    async fn read(
        &self,
        pattern: &str,
        from: &Cursor,
        max: usize,
        wait: Duration,
    ) -> Result<Vec<Delivery>, BusError> {
        let mut assignment = TopicPartitionList::new();
        let mut behind = false;
        for (topic, partition, high) in self.partitions(pattern).await? {
            let next = from.next_offset(&topic, partition);
            behind |= next < high;
            assignment
                .add_partition_offset(&topic, partition, Offset::Offset(next))
                .map_err(|e| BusError(format!("assign {topic}: {e}")))?;
        }
        if assignment.count() == 0 {
            tokio::time::sleep(wait).await;
            return Ok(Vec::new());
        }
        let consumer: StreamConsumer = self
            .config
            .client()
            .set("group.id", "dictamesh-change-feed")
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("fetch.wait.max.ms", "10")
            .create()
            .map_err(|e| BusError(format!("consumer: {e}")))?;
        consumer
            .assign(&assignment)
            .map_err(|e| BusError(format!("assign: {e}")))?;
        let mut out = Vec::new();
        let mut deadline = if behind { self.timeout } else { wait };
        while out.len() < max {
            match tokio::time::timeout(deadline, consumer.recv()).await {
                Ok(Ok(message)) => out.push(delivery(&message)),
                Ok(Err(KafkaError::MessageConsumption(RDKafkaErrorCode::UnknownTopicOrPartition))) => break,
                Ok(Err(error)) => return Err(BusError(format!("receive: {error}"))),
                Err(_) => break,
            }
            deadline = Duration::from_millis(5);
        }
        Ok(out)
    }

    fn decoder(&self) -> Decoder {
        self.decoder.clone()
    }
}
