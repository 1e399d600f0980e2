//! Consuming a message source (Kafka, once the event bus exists): each batch
//! is written in one transaction (or, on PostgreSQL, one per part of a large
//! batch) and its offsets are committed only after every transaction commits,
//! so a crash or a failed part replays the batch and the `event_id`
//! de-duplication drops what was already written.

use std::time::Duration;

use async_trait::async_trait;

use super::{IngestMessage, IngestReport, Ingestor};
use crate::error::CatalogError;

/// A position in a partitioned log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offset {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// The next offset to read once this batch is committed.
    pub next: i64,
}

/// Messages read together, with the offsets to commit once they are written.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Batch {
    /// The messages, in log order.
    pub messages: Vec<IngestMessage>,
    /// Where each partition stands after the batch.
    pub offsets: Vec<Offset>,
}

/// Where batches come from.
#[async_trait]
pub trait MessageSource: Send {
    /// The next batch; `None` when the source is closed.
    async fn next_batch(&mut self) -> Result<Option<Batch>, CatalogError>;

    /// Records that a batch is written: the source will not deliver it again.
    async fn commit(&mut self, offsets: &[Offset]) -> Result<(), CatalogError>;
}

/// Totals of a consumer run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConsumeTotals {
    /// Batches written and committed.
    pub batches: usize,
    /// Events written.
    pub ingested: usize,
    /// Events skipped as already written.
    pub duplicates: usize,
    /// Messages skipped as invalid.
    pub rejected: usize,
}

impl ConsumeTotals {
    fn add(&mut self, report: &IngestReport) {
        self.batches += 1;
        self.ingested += report.ingested;
        self.duplicates += report.duplicates;
        self.rejected += report.rejected.len();
    }
}

/// Writes every batch of `source` until it closes. While the database is
/// unavailable the batch is retried after `retry_after` (its offsets stay
/// uncommitted); any other error stops the run with nothing committed for
/// the failed batch.
pub async fn consume(
    source: &mut dyn MessageSource,
    ingestor: &Ingestor,
    retry_after: Duration,
) -> Result<ConsumeTotals, CatalogError> {
    let mut totals = ConsumeTotals::default();
    while let Some(batch) = source.next_batch().await? {
        let report = loop {
            match ingestor.ingest(&batch.messages).await {
                Ok(report) => break report,
                Err(CatalogError::Unavailable(reason)) => {
                    tracing::warn!(%reason, "catalog database unavailable; retrying the batch");
                    tokio::time::sleep(retry_after).await;
                }
                Err(other) => return Err(other),
            }
        };
        for rejected in &report.rejected {
            tracing::warn!(index = rejected.index, reason = %rejected.reason, "message skipped");
        }
        source.commit(&batch.offsets).await?;
        totals.add(&report);
    }
    Ok(totals)
}
