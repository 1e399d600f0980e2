//! The audit trail: reads of personal data and denied access, written before
//! the data is returned (a read whose audit entry cannot be written fails).

use uuid::Uuid;

use crate::db::{BeginWrite, Database, now, on_pool, stored_time};
use crate::error::CatalogError;

/// What an audit entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditAction {
    /// Data about an entity holding personal data was read.
    PiiRead,
    /// A request was refused.
    AccessDenied,
    /// The retention job published an entity's deletion.
    RetentionDelete,
}

impl AuditAction {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::PiiRead => "pii_read",
            AuditAction::AccessDenied => "access_denied",
            AuditAction::RetentionDelete => "retention_delete",
        }
    }
}

/// One audit entry.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    /// What happened.
    pub action: AuditAction,
    /// Who did it, when known.
    pub principal: Option<String>,
    /// The GraphQL field or HTTP route.
    pub operation: String,
    /// The catalog entry concerned.
    pub catalog_id: Option<Uuid>,
    /// The entity's type.
    pub entity_type: Option<String>,
    /// The entity's id.
    pub entity_id: Option<String>,
    /// Why (for denials).
    pub reason: Option<String>,
}

/// Appends an entry to `audit_log`.
pub async fn record(db: &Database, entry: &AuditEntry) -> Result<(), CatalogError> {
    on_pool!(db, pool => {
        sqlx::query(
            "INSERT INTO audit_log (id, occurred_at, action, principal, operation, catalog_id, entity_type, \
             entity_id, reason) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(Uuid::new_v4())
        .bind(now())
        .bind(entry.action.as_str())
        .bind(&entry.principal)
        .bind(&entry.operation)
        .bind(entry.catalog_id)
        .bind(&entry.entity_type)
        .bind(&entry.entity_id)
        .bind(&entry.reason)
        .execute(pool)
        .await
        .map(|_| ())?
    });
    Ok(())
}

/// How many entries of an action the log holds (for operators and tests).
pub async fn count(db: &Database, action: AuditAction) -> Result<i64, CatalogError> {
    let count = on_pool!(db, pool => {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM audit_log WHERE action = $1")
            .bind(action.as_str())
            .fetch_one(pool)
            .await?
    });
    Ok(count)
}

/// The topic of audit records delivered by the router's audit outbox (over the
/// bus or `POST /ingest`).
pub const AUDIT_TOPIC: &str = "system.audit.pii_access";

/// An audit record delivered on [`AUDIT_TOPIC`] (JSON, snake_case fields).
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
pub struct DeliveredRecord {
    /// The router's record id; the entry's id, so a redelivery is written once.
    pub record_id: Uuid,
    /// `pii_read` or `access_denied`.
    pub action: String,
    /// When, in milliseconds since the epoch.
    pub occurred_at_ms: i64,
    /// Who (the token's subject), when known.
    #[serde(default)]
    pub subject: Option<String>,
    /// The operation's name or the HTTP route.
    pub operation: String,
    /// The entity type.
    #[serde(default)]
    pub entity_type: Option<String>,
    /// The entity's id.
    #[serde(default)]
    pub entity_id: Option<String>,
    /// The field read or denied.
    #[serde(default)]
    pub field: Option<String>,
    /// The response path.
    #[serde(default)]
    pub path: Option<String>,
    /// The request's trace id.
    #[serde(default)]
    pub trace_id: Option<String>,
    /// Why access was denied.
    #[serde(default)]
    pub reason: Option<String>,
}

/// Decodes a delivered record; the error names what is wrong.
pub fn decode_delivered(payload: &serde_json::Value) -> Result<DeliveredRecord, String> {
    if let Some(id) = payload.get("record_id").and_then(serde_json::Value::as_str)
        && Uuid::parse_str(id).is_err()
    {
        return Err(format!("record_id `{id}` is not a UUID"));
    }
    let record: DeliveredRecord =
        serde_json::from_value(payload.clone()).map_err(|e| format!("not an audit record: {e}"))?;
    if record.action != AuditAction::PiiRead.as_str() && record.action != AuditAction::AccessDenied.as_str() {
        return Err(format!(
            "action `{}` is not pii_read or access_denied",
            record.action
        ));
    }
    let limits = [
        ("subject", record.subject.as_deref(), 255),
        ("operation", Some(record.operation.as_str()), 255),
        ("entity_type", record.entity_type.as_deref(), 100),
        ("entity_id", record.entity_id.as_deref(), 255),
        ("field", record.field.as_deref(), 255),
        ("trace_id", record.trace_id.as_deref(), 64),
    ];
    for (name, value, max) in limits {
        if value.is_some_and(|v| v.len() > max) {
            return Err(format!("{name} is longer than {max} characters"));
        }
    }
    if record.operation.is_empty() {
        return Err("operation is empty".into());
    }
    chrono::DateTime::from_timestamp_millis(record.occurred_at_ms)
        .ok_or_else(|| format!("occurred_at_ms {} is out of range", record.occurred_at_ms))?;
    Ok(record)
}

/// Writes delivered records in one transaction, skipping ids already written;
/// returns how many were new.
pub async fn record_delivered(db: &Database, records: &[DeliveredRecord]) -> Result<usize, CatalogError> {
    if records.is_empty() {
        return Ok(0);
    }
    let written = on_pool!(db, pool => {
        let mut tx = pool.begin_write().await?;
        let mut written = 0;
        for record in records {
            let at = chrono::DateTime::from_timestamp_millis(record.occurred_at_ms)
                .map(stored_time)
                .unwrap_or_else(now);
            let result = sqlx::query(
                "INSERT INTO audit_log (id, occurred_at, action, principal, operation, catalog_id, entity_type, \
                 entity_id, reason, field, path, trace_id) \
                 VALUES ($1, $2, $3, $4, $5, NULL, $6, $7, $8, $9, $10, $11) ON CONFLICT (id) DO NOTHING",
            )
            .bind(record.record_id)
            .bind(at)
            .bind(&record.action)
            .bind(&record.subject)
            .bind(&record.operation)
            .bind(&record.entity_type)
            .bind(&record.entity_id)
            .bind(&record.reason)
            .bind(&record.field)
            .bind(&record.path)
            .bind(&record.trace_id)
            .execute(&mut *tx)
            .await?;
            written += result.rows_affected() as usize;
        }
        tx.commit().await?;
        written
    });
    Ok(written)
}
