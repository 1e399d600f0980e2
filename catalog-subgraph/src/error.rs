//! What can go wrong in the catalog, as callers and clients see it.

use dictamesh::AdapterError;

/// A failed catalog operation. Each variant says whose fault it is: the
/// caller's input, a missing record, or the database.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CatalogError {
    /// The input is invalid; the message says which field and why.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// No record has that key.
    #[error("{what} not found: {key}")]
    NotFound {
        /// What was looked up (`catalog entry`, `subject`, ...).
        what: &'static str,
        /// The key that was looked up.
        key: String,
    },
    /// The write conflicts with the catalog's state.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database cannot be reached (down, pool exhausted, timed out).
    /// Nothing was written; retry later.
    #[error("the catalog database is unavailable: {0}")]
    Unavailable(String),
    /// The database rejected a statement; nothing of the operation was written.
    #[error("catalog database error: {0}")]
    Database(String),
    /// Migrating the database failed, or it is not migrated.
    #[error("catalog database migration: {0}")]
    Migration(String),
}

impl CatalogError {
    /// A `NotFound` for a key given as anything displayable.
    pub fn not_found(what: &'static str, key: impl std::fmt::Display) -> Self {
        CatalogError::NotFound {
            what,
            key: key.to_string(),
        }
    }
}

impl From<sqlx::Error> for CatalogError {
    fn from(error: sqlx::Error) -> Self {
        match &error {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed => CatalogError::Unavailable(error.to_string()),
            _ => CatalogError::Database(error.to_string()),
        }
    }
}

impl From<sqlx::migrate::MigrateError> for CatalogError {
    fn from(error: sqlx::migrate::MigrateError) -> Self {
        match error {
            sqlx::migrate::MigrateError::Execute(inner) => match CatalogError::from(inner) {
                CatalogError::Unavailable(reason) => CatalogError::Unavailable(reason),
                other => CatalogError::Migration(other.to_string()),
            },
            other => CatalogError::Migration(other.to_string()),
        }
    }
}

impl From<CatalogError> for AdapterError {
    fn from(error: CatalogError) -> Self {
        match error {
            CatalogError::InvalidInput(reason) => AdapterError::InvalidInput(reason),
            CatalogError::NotFound { what, key } => AdapterError::NotFound {
                entity_type: what.to_string(),
                key,
            },
            CatalogError::Conflict(reason) => AdapterError::Conflict(reason),
            CatalogError::Unavailable(reason) => AdapterError::unavailable("catalog-database", reason),
            CatalogError::Database(reason) | CatalogError::Migration(reason) => {
                AdapterError::Internal(reason)
            }
        }
    }
}
