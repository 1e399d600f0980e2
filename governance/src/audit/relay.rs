//! The relay from the audit outbox to the catalog: batches of records are posted
//! to the catalog's ingest API (`POST /ingest`, topic
//! [`AUDIT_TOPIC`](super::AUDIT_TOPIC)) and removed from the outbox only after
//! the catalog answered with its ingest report. A delivery that fails is retried
//! after the interval; one that succeeded but whose removal failed is delivered
//! again, and the catalog drops it as a duplicate (by record id).

use std::time::Duration;

use serde::Deserialize;
use serde_json::json;

use super::AUDIT_TOPIC;
use super::AuditError;
use super::outbox::AuditOutbox;

/// Delivers the outbox's records to the catalog.
#[derive(Debug, Clone)]
pub struct AuditRelay {
    outbox: AuditOutbox,
    client: reqwest::Client,
    url: String,
    token: Option<String>,
    batch_size: usize,
    interval: Duration,
}

/// The catalog's answer to a delivery (its ingest report).
#[derive(Debug, Deserialize)]
struct IngestReport {
    ingested: usize,
    duplicates: usize,
    #[serde(default)]
    rejected: Vec<Rejected>,
}

#[derive(Debug, Deserialize)]
struct Rejected {
    index: usize,
    reason: String,
}

impl AuditRelay {
    /// A relay from `outbox` to the catalog ingest API at `url`, `batch_size`
    /// records per request, waiting `interval` when the outbox is empty or a
    /// delivery failed.
    pub fn new(outbox: AuditOutbox, url: impl Into<String>, batch_size: usize, interval: Duration) -> Self {
        AuditRelay {
            outbox,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap_or_default(),
            url: url.into(),
            token: None,
            batch_size: batch_size.max(1),
            interval,
        }
    }

    /// Sends `Authorization: Bearer <token>` (the catalog's write token).
    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// Delivers one batch of the oldest records; returns how many left the outbox.
    pub async fn deliver_once(&self) -> Result<usize, AuditError> {
        let pending = self.outbox.pending(self.batch_size).await?;
        if pending.is_empty() {
            return Ok(0);
        }
        let messages: Vec<_> = pending
            .iter()
            .map(|(_, record)| json!({ "topic": AUDIT_TOPIC, "payload": record }))
            .collect();
        let failed = |message: String| AuditError::Delivery {
            url: self.url.clone(),
            message,
        };
        let mut request = self.client.post(&self.url).json(&json!({ "messages": messages }));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.map_err(|e| failed(e.to_string()))?;
        let status = response.status();
        let body = response.text().await.map_err(|e| failed(e.to_string()))?;
        if !status.is_success() {
            return Err(failed(format!("the catalog answered {status}: {body}")));
        }
        let report: IngestReport = serde_json::from_str(&body)
            .map_err(|e| failed(format!("the answer is not an ingest report ({e}): {body}")))?;
        for rejected in &report.rejected {
            // A record the catalog refuses now it will refuse again: it is logged
            // in full (so it is not lost) and not retried.
            let record = pending.get(rejected.index).map(|(_, record)| record);
            tracing::error!(
                target: "dictamesh::audit",
                reason = %rejected.reason,
                record = ?record,
                "the catalog rejected an audit record"
            );
        }
        tracing::debug!(
            ingested = report.ingested,
            duplicates = report.duplicates,
            "audit records delivered"
        );
        let sequences: Vec<i64> = pending.iter().map(|(seq, _)| *seq).collect();
        self.outbox.remove(&sequences).await?;
        Ok(sequences.len())
    }

    /// Delivers until the task is aborted: full batches back to back, then a wait
    /// of the interval; failures are logged and retried after the interval.
    pub fn spawn(self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut failing = false;
            loop {
                match self.deliver_once().await {
                    Ok(delivered) => {
                        if failing {
                            tracing::info!(url = %self.url, "audit delivery resumed");
                            failing = false;
                        }
                        if delivered == self.batch_size {
                            continue;
                        }
                    }
                    Err(error) => {
                        if !failing {
                            tracing::warn!(%error, "audit delivery failed; records stay in the outbox");
                        }
                        failing = true;
                    }
                }
                tokio::time::sleep(self.interval).await;
            }
        })
    }
}
