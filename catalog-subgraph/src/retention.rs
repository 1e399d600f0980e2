//! Retention: entities past their `retention_days` get a DELETED change event.
//!
//! An entity is past retention when it has not been seen (`last_seen_at`, the
//! time of its latest event) for `retention_days` days and is not deleted. For
//! each, a run publishes a DELETED `EntityChangeEvent` through the kit's
//! [`ChangePublisher`] (on the entity's topic, `<domain>.<source>.entity_changed`)
//! and records a `retention_delete` entry in `audit_log`. The event id and the
//! entry id are derived from the entity and the `last_seen_at` that expired, so a
//! deletion already recorded is not published again, and one published but not
//! recorded (a crash in between) is published again with the same event id,
//! which the catalog's ingest drops as a duplicate.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use dictamesh::events::{ChangePublisher, ChangeType, EntityChangeEvent, EntityReference, TraceContext};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::audit::AuditAction;
use crate::db::{Database, now, on_pool};
use crate::error::CatalogError;

/// An entity past its retention.
#[derive(Debug, Clone, PartialEq)]
struct Expired {
    id: Uuid,
    entity_type: String,
    domain: String,
    source_system: String,
    source_entity_id: String,
    api_base_url: String,
    last_seen_at: DateTime<Utc>,
    retention_days: i32,
}

impl Expired {
    /// The deletion's event id: the same for the same entity and expiry.
    fn event_id(&self) -> String {
        format!("retention:{}:{}", self.id, self.last_seen_at.timestamp_micros())
    }
}

/// The audit entry id of a deletion: derived from its event id.
fn entry_id(event_id: &str) -> Uuid {
    let digest = Sha256::digest(event_id.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_bytes(bytes)
        .with_variant(uuid::Variant::RFC4122)
        .with_version(uuid::Version::Custom)
        .into_uuid()
}

/// What one run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetentionReport {
    /// Entities past retention that are not deleted.
    pub expired: usize,
    /// DELETED events published (and recorded) by this run.
    pub published: usize,
    /// Entities whose deletion an earlier run already published.
    pub already_published: usize,
    /// Entities whose event could not be published, with the reason; the next
    /// run tries again.
    pub failed: Vec<(String, String)>,
}

/// The retention job of one catalog database.
#[derive(Clone)]
pub struct RetentionJob {
    db: Database,
    publisher: Arc<dyn ChangePublisher>,
}

impl RetentionJob {
    /// A job over `db` publishing through `publisher`.
    pub fn new(db: Database, publisher: Arc<dyn ChangePublisher>) -> Self {
        RetentionJob { db, publisher }
    }

    /// One run as of `at`: finds the entities past retention, publishes a DELETED
    /// event for each not yet published, and records each publication.
    pub async fn run_once(&self, at: DateTime<Utc>) -> Result<RetentionReport, CatalogError> {
        type Row = (Uuid, String, String, String, String, String, DateTime<Utc>, i32);
        let rows: Vec<Row> = on_pool!(&self.db, pool => {
            sqlx::query_as(
                "SELECT id, entity_type, domain, source_system, source_entity_id, api_base_url, last_seen_at, \
                 retention_days FROM entity_catalog WHERE retention_days IS NOT NULL AND status <> 'deleted'",
            )
            .fetch_all(pool)
            .await?
        });
        let candidates = rows.into_iter().map(
            |(
                id,
                entity_type,
                domain,
                source_system,
                source_entity_id,
                api_base_url,
                last_seen_at,
                retention_days,
            )| {
                Expired {
                    id,
                    entity_type,
                    domain,
                    source_system,
                    source_entity_id,
                    api_base_url,
                    last_seen_at,
                    retention_days,
                }
            },
        );
        let mut report = RetentionReport::default();
        for entity in candidates {
            let Ok(days) = u64::try_from(entity.retention_days) else {
                tracing::warn!(entity_type = %entity.entity_type, id = %entity.source_entity_id,
                    retention_days = entity.retention_days, "retention: a negative retention_days is ignored");
                continue;
            };
            match entity.last_seen_at.checked_add_days(chrono::Days::new(days)) {
                Some(expires) if expires <= at => {}
                _ => continue,
            }
            report.expired += 1;
            let event_id = entity.event_id();
            let entry = entry_id(&event_id);
            if self.recorded(entry).await? {
                report.already_published += 1;
                continue;
            }
            let event = deleted_event(&entity, &event_id, at);
            if let Err(error) = self.publisher.publish(&event).await {
                tracing::warn!(%error, entity_type = %entity.entity_type, id = %entity.source_entity_id,
                    "retention: the DELETED event is not published; the next run retries");
                report.failed.push((
                    format!("{}:{}", entity.entity_type, entity.source_entity_id),
                    error.reason,
                ));
                continue;
            }
            self.record(entry, &entity, &event_id).await?;
            tracing::info!(entity_type = %entity.entity_type, id = %entity.source_entity_id,
                retention_days = entity.retention_days, %event_id, "retention: DELETED event published");
            report.published += 1;
        }
        Ok(report)
    }

    /// Runs every `interval` until the task is aborted; failures are logged.
    pub fn spawn(self, interval: Duration) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                match self.run_once(Utc::now()).await {
                    Ok(report) if report.published > 0 || !report.failed.is_empty() => {
                        tracing::info!(?report, "retention run");
                    }
                    Ok(_) => {}
                    Err(error) => tracing::warn!(%error, "retention run failed"),
                }
            }
        })
    }

    async fn recorded(&self, entry: Uuid) -> Result<bool, CatalogError> {
        let found = on_pool!(&self.db, pool => {
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM audit_log WHERE id = $1")
                .bind(entry)
                .fetch_one(pool)
                .await?
        });
        Ok(found > 0)
    }

    async fn record(&self, entry: Uuid, entity: &Expired, event_id: &str) -> Result<(), CatalogError> {
        let reason = format!(
            "past retention_days {} since last seen at {}; DELETED event {event_id} published",
            entity.retention_days,
            entity.last_seen_at.to_rfc3339()
        );
        on_pool!(&self.db, pool => {
            sqlx::query(
                "INSERT INTO audit_log (id, occurred_at, action, principal, operation, catalog_id, entity_type, \
                 entity_id, reason) VALUES ($1, $2, $3, NULL, 'retention', $4, $5, $6, $7) \
                 ON CONFLICT (id) DO NOTHING",
            )
            .bind(entry)
            .bind(now())
            .bind(AuditAction::RetentionDelete.as_str())
            .bind(entity.id)
            .bind(&entity.entity_type)
            .bind(&entity.source_entity_id)
            .bind(reason)
            .execute(pool)
            .await
            .map(|_| ())?
        });
        Ok(())
    }
}

fn deleted_event(entity: &Expired, event_id: &str, at: DateTime<Utc>) -> EntityChangeEvent {
    let metadata = BTreeMap::from([
        ("reason".to_string(), "retention".to_string()),
        ("retention_days".to_string(), entity.retention_days.to_string()),
    ]);
    EntityChangeEvent {
        event_id: event_id.to_string(),
        event_type: ChangeType::Deleted,
        timestamp: at.timestamp_millis(),
        source_system: entity.source_system.clone(),
        domain: entity.domain.clone(),
        entity: EntityReference {
            entity_type: entity.entity_type.clone(),
            id: entity.source_entity_id.clone(),
            version: 0,
            url: entity.api_base_url.clone(),
            etag: None,
        },
        changed_fields: Vec::new(),
        relationships: Vec::new(),
        metadata,
        trace_context: TraceContext::default(),
    }
}
