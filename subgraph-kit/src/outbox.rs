//! The transactional outbox: an adapter that writes to its own SQL database
//! records the change in the same transaction as the row
//! ([`Outbox::record`]); the kit's relay publishes recorded changes in order
//! and removes them only once published, so an event is never lost and never
//! published for a write that rolled back.

use std::sync::Arc;
use std::time::Duration;

use sqlx::any::AnyRow;
use sqlx::{Any, AnyPool, Row};
use tokio::sync::Notify;

use crate::events::SourceChange;

/// Rows removed by one statement of [`Outbox::remove`], at most (well within
/// the bound parameters SQLite and PostgreSQL accept).
const REMOVE_CHUNK: usize = 1000;

/// The SQL dialect of the outbox's database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// PostgreSQL.
    Postgres,
    /// SQLite.
    Sqlite,
}

/// Why the outbox failed.
#[derive(Debug, thiserror::Error)]
#[error("outbox: {0}")]
pub struct OutboxError(String);

fn failed(context: &str, error: impl std::fmt::Display) -> OutboxError {
    OutboxError(format!("{context}: {error}"))
}

/// The outbox table of one database.
#[derive(Clone)]
pub struct Outbox {
    pool: AnyPool,
    recorded: Arc<Notify>,
}

impl Outbox {
    /// The outbox of a database, creating its table when missing.
    pub async fn new(pool: AnyPool, dialect: Dialect) -> Result<Self, OutboxError> {
        let sequence = match dialect {
            Dialect::Postgres => "BIGSERIAL PRIMARY KEY",
            Dialect::Sqlite => "INTEGER PRIMARY KEY AUTOINCREMENT",
        };
        sqlx::query(&format!(
            "CREATE TABLE IF NOT EXISTS dictamesh_outbox (
                seq {sequence},
                entity_type TEXT NOT NULL,
                change TEXT NOT NULL
            )"
        ))
        .execute(&pool)
        .await
        .map_err(|e| failed("create table", e))?;
        Ok(Outbox {
            pool,
            recorded: Arc::new(Notify::new()),
        })
    }

    /// Records a change inside the caller's transaction (or connection).
    pub async fn record<'c, E>(
        &self,
        executor: E,
        entity_type: &str,
        change: &SourceChange,
    ) -> Result<(), sqlx::Error>
    where
        E: sqlx::Executor<'c, Database = Any>,
    {
        let change = serde_json::to_string(change).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
        sqlx::query("INSERT INTO dictamesh_outbox (entity_type, change) VALUES ($1, $2)")
            .bind(entity_type.to_string())
            .bind(change)
            .execute(executor)
            .await?;
        Ok(())
    }

    /// Wakes the relay after a commit (it also polls on its own).
    pub fn notify(&self) {
        self.recorded.notify_one();
    }

    /// The oldest recorded changes of an entity type, in order.
    pub async fn pending(
        &self,
        entity_type: &str,
        limit: usize,
    ) -> Result<Vec<(i64, SourceChange)>, OutboxError> {
        let rows = sqlx::query(
            "SELECT seq, change FROM dictamesh_outbox WHERE entity_type = $1 ORDER BY seq LIMIT $2",
        )
        .bind(entity_type.to_string())
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| failed("read", e))?;
        rows.iter().map(decode).collect()
    }

    /// Removes published changes (their sequence numbers, as [`Self::pending`]
    /// returned them), in one transaction of one statement per 1,000 rows.
    pub async fn remove(&self, sequences: &[i64]) -> Result<(), OutboxError> {
        if sequences.is_empty() {
            return Ok(());
        }
        let mut transaction = self.pool.begin().await.map_err(|e| failed("remove", e))?;
        for chunk in sequences.chunks(REMOVE_CHUNK) {
            let placeholders = (1..=chunk.len())
                .map(|i| format!("${i}"))
                .collect::<Vec<_>>()
                .join(", ");
            let statement = format!("DELETE FROM dictamesh_outbox WHERE seq IN ({placeholders})");
            let mut query = sqlx::query(&statement);
            for sequence in chunk {
                query = query.bind(*sequence);
            }
            query
                .execute(&mut *transaction)
                .await
                .map_err(|e| failed("remove", e))?;
        }
        transaction.commit().await.map_err(|e| failed("remove", e))
    }

    /// Waits for a notification or the poll interval.
    pub async fn wait(&self, interval: Duration) {
        let _ = tokio::time::timeout(interval, self.recorded.notified()).await;
    }
}

fn decode(row: &AnyRow) -> Result<(i64, SourceChange), OutboxError> {
    let sequence: i64 = row.try_get("seq").map_err(|e| failed("seq", e))?;
    let change: String = row.try_get("change").map_err(|e| failed("change", e))?;
    let change = serde_json::from_str(&change).map_err(|e| failed(&format!("change {sequence}"), e))?;
    Ok((sequence, change))
}
