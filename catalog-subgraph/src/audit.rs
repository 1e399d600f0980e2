//! The audit trail: reads of personal data and denied access, written before
//! the data is returned (a read whose audit entry cannot be written fails).

use uuid::Uuid;

use crate::db::{Database, now, on_pool};
use crate::error::CatalogError;

/// What an audit entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditAction {
    /// Data about an entity holding personal data was read.
    PiiRead,
    /// A request was refused.
    AccessDenied,
}

impl AuditAction {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::PiiRead => "pii_read",
            AuditAction::AccessDenied => "access_denied",
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
