//! The catalog's topics read from the kit's event bus (Kafka or the embedded
//! log): deliveries become ingest batches, and a batch's offsets are committed
//! through the bus only after its transaction commits.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use dictamesh::events::bus::{Delivery, EventSource};
use dictamesh::events::codec::Decoder;

use super::IngestMessage;
use super::consumer::{Batch, MessageSource, Offset};
use crate::error::CatalogError;

/// The topics the catalog consumes, as patterns (`*` matches any prefix):
/// registrations, relationships, every source's change events and the
/// router's audit records.
pub const CATALOG_TOPICS: [&str; 4] = [
    super::ENTITY_REGISTERED_TOPIC,
    super::RELATIONSHIP_CREATED_TOPIC,
    "*.entity_changed",
    crate::audit::AUDIT_TOPIC,
];

/// A bus consumer group feeding the ingest loop.
pub struct BusSource<S: EventSource> {
    source: S,
    decoder: Decoder,
    batch_size: usize,
    wait: Duration,
}

impl<S: EventSource> BusSource<S> {
    /// Batches of up to `batch_size` messages from `source`; Avro payloads are
    /// decoded with `decoder`.
    pub fn new(source: S, decoder: Decoder, batch_size: usize) -> Self {
        BusSource {
            source,
            decoder,
            batch_size: batch_size.max(1),
            wait: Duration::from_millis(500),
        }
    }
}

/// The payload as JSON: change events may be Avro in the Confluent wire
/// format; anything unreadable is passed on as text, for ingest to reject (and
/// report) rather than stall the partition.
async fn payload(decoder: &Decoder, delivery: &Delivery) -> serde_json::Value {
    if let Ok(json) = serde_json::from_slice(&delivery.payload) {
        return json;
    }
    match decoder
        .decode(&delivery.payload, delivery.header("content-type"))
        .await
    {
        Ok(event) => serde_json::to_value(event).unwrap_or_default(),
        Err(error) => serde_json::Value::String(error.to_string()),
    }
}

#[async_trait]
impl<S: EventSource> MessageSource for BusSource<S> {
    async fn next_batch(&mut self) -> Result<Option<Batch>, CatalogError> {
        loop {
            let deliveries = self
                .source
                .poll(self.batch_size, self.wait)
                .await
                .map_err(|e| CatalogError::Unavailable(e.to_string()))?;
            if deliveries.is_empty() {
                continue;
            }
            let mut next: BTreeMap<(String, i32), i64> = BTreeMap::new();
            let mut messages = Vec::with_capacity(deliveries.len());
            for delivery in &deliveries {
                let slot = next
                    .entry((delivery.topic.clone(), delivery.partition))
                    .or_insert(0);
                *slot = (*slot).max(delivery.offset + 1);
                messages.push(IngestMessage {
                    topic: delivery.topic.clone(),
                    payload: payload(&self.decoder, delivery).await,
                });
            }
            let offsets = next
                .into_iter()
                .map(|((topic, partition), next)| Offset {
                    topic,
                    partition,
                    next,
                })
                .collect();
            return Ok(Some(Batch { messages, offsets }));
        }
    }

    async fn commit(&mut self, offsets: &[Offset]) -> Result<(), CatalogError> {
        let processed: Vec<Delivery> = offsets
            .iter()
            .map(|o| Delivery {
                topic: o.topic.clone(),
                partition: o.partition,
                offset: o.next - 1,
                key: None,
                payload: Vec::new(),
                headers: Vec::new(),
            })
            .collect();
        self.source
            .commit(&processed)
            .await
            .map_err(|e| CatalogError::Unavailable(e.to_string()))
    }
}
