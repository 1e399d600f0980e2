//! The durable local outbox of audit records: a SQLite file (WAL, synchronous
//! commits) the router appends to before it answers, and the relay drains.

use std::path::Path;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use sqlx::Row;
use sqlx::SqlitePool;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::sqlite::SqliteJournalMode;
use sqlx::sqlite::SqlitePoolOptions;
use sqlx::sqlite::SqliteSynchronous;

use super::AuditError;
use super::AuditRecord;

const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS audit_outbox (\
    seq INTEGER PRIMARY KEY AUTOINCREMENT, \
    record TEXT NOT NULL)";

/// The outbox file: records in the order written, each with a sequence number.
#[derive(Debug, Clone)]
pub struct AuditOutbox {
    pool: SqlitePool,
    path: PathBuf,
}

impl AuditOutbox {
    /// Opens (creating when absent) the outbox at `path`. The file is created
    /// now, so a directory that does not exist or cannot be written is an error
    /// at start; the table is created on each new connection.
    pub fn open(path: &Path) -> Result<Self, AuditError> {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| failed(path, format!("cannot create or open the file: {e}")))?;
        let options = SqliteConnectOptions::from_str("sqlite://")
            .map_err(|e| failed(path, e))?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .after_connect(|connection, _| {
                Box::pin(async move {
                    sqlx::query(CREATE_TABLE).execute(connection).await?;
                    Ok(())
                })
            })
            .connect_lazy_with(options);
        Ok(AuditOutbox {
            pool,
            path: path.to_path_buf(),
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `records` in one transaction; once this returns they are on disk.
    pub async fn append(&self, records: &[AuditRecord]) -> Result<(), AuditError> {
        let mut transaction = self.pool.begin().await.map_err(|e| self.failed(e))?;
        for record in records {
            let json = serde_json::to_string(record).map_err(|e| self.failed(e))?;
            sqlx::query("INSERT INTO audit_outbox (record) VALUES ($1)")
                .bind(json)
                .execute(&mut *transaction)
                .await
                .map_err(|e| self.failed(e))?;
        }
        transaction.commit().await.map_err(|e| self.failed(e))
    }

    /// The oldest `limit` records, with their sequence numbers.
    pub async fn pending(&self, limit: usize) -> Result<Vec<(i64, AuditRecord)>, AuditError> {
        let rows = sqlx::query("SELECT seq, record FROM audit_outbox ORDER BY seq LIMIT $1")
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.failed(e))?;
        rows.iter()
            .map(|row| {
                let seq: i64 = row.try_get("seq").map_err(|e| self.failed(e))?;
                let json: String = row.try_get("record").map_err(|e| self.failed(e))?;
                let record = serde_json::from_str(&json)
                    .map_err(|e| self.failed(format!("record {seq} is not an audit record: {e}")))?;
                Ok((seq, record))
            })
            .collect()
    }

    /// Removes delivered records, by sequence number.
    pub async fn remove(&self, sequences: &[i64]) -> Result<(), AuditError> {
        let mut transaction = self.pool.begin().await.map_err(|e| self.failed(e))?;
        for seq in sequences {
            sqlx::query("DELETE FROM audit_outbox WHERE seq = $1")
                .bind(seq)
                .execute(&mut *transaction)
                .await
                .map_err(|e| self.failed(e))?;
        }
        transaction.commit().await.map_err(|e| self.failed(e))
    }

    /// How many records wait for delivery.
    pub async fn len(&self) -> Result<u64, AuditError> {
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_outbox")
            .fetch_one(&self.pool)
            .await
            .map_err(|e| self.failed(e))?;
        Ok(u64::try_from(count).unwrap_or_default())
    }

    /// Whether no record waits for delivery.
    pub async fn is_empty(&self) -> Result<bool, AuditError> {
        Ok(self.len().await? == 0)
    }

    fn failed(&self, error: impl std::fmt::Display) -> AuditError {
        failed(&self.path, error)
    }
}

fn failed(path: &Path, error: impl std::fmt::Display) -> AuditError {
    AuditError::Outbox {
        path: path.display().to_string(),
        message: error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Caller;
    use crate::audit::RequestContext;

    #[tokio::test]
    async fn records_survive_reopening_and_leave_only_when_removed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("outbox.db");
        let caller = Caller::anonymous();
        let context = RequestContext {
            caller: &caller,
            operation: None,
            trace_id: None,
        };
        let records = vec![context.denied_request("UNAUTHENTICATED"); 3];
        AuditOutbox::open(&path).unwrap().append(&records).await.unwrap();
        let reopened = AuditOutbox::open(&path).unwrap();
        let pending = reopened.pending(2).await.unwrap();
        assert_eq!(pending.len(), 2);
        assert_eq!(pending[0].1, records[0]);
        reopened.remove(&[pending[0].0, pending[1].0]).await.unwrap();
        assert_eq!(reopened.len().await.unwrap(), 1);
    }

    #[test]
    fn a_directory_that_does_not_exist_is_named() {
        let error = AuditOutbox::open(Path::new("/nonexistent-dir/outbox.db")).unwrap_err();
        assert!(
            error.to_string().contains("/nonexistent-dir/outbox.db"),
            "{error}"
        );
    }
}
