//! The SQL database behind the customers and invoices subgraphs: SQLite by
//! default, PostgreSQL in production, through one code path (sqlx's `Any`
//! driver, portable types only: text, integers).

use std::path::Path;
use std::str::FromStr;

use dictamesh::outbox::{Dialect, Outbox};
use dictamesh::{AdapterError, EntityQuery, HealthStatus};
use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;
use sqlx::any::AnyRow;

/// Why the database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum DatabaseError {
    /// The URL names neither PostgreSQL nor SQLite.
    #[error("unsupported DATABASE_URL `{0}`: use postgres://... or sqlite://...")]
    UnsupportedUrl(String),
    /// The SQLite file does not exist and may not be created.
    #[error("database file `{0}` does not exist (append ?mode=rwc to the URL to create it)")]
    MissingFile(String),
    /// The directory of the SQLite file does not exist.
    #[error("the directory of database file `{0}` does not exist")]
    MissingDirectory(String),
    /// Connecting failed.
    #[error("cannot connect to the database at {url}: {source}")]
    Connect {
        /// The URL without credentials.
        url: String,
        /// The driver's error.
        source: sqlx::Error,
    },
    /// Creating the example's tables failed.
    #[error("cannot create the tables: {0}")]
    Schema(sqlx::Error),
    /// Creating the outbox failed.
    #[error("cannot create the outbox: {0}")]
    Outbox(String),
}

/// Which database the URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// PostgreSQL.
    Postgres,
    /// SQLite.
    Sqlite,
}

/// A connection pool and its backend.
#[derive(Clone)]
pub struct Database {
    pool: AnyPool,
    backend: Backend,
}

/// The URL with any password replaced, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

fn check_sqlite_file(url: &str) -> Result<(), DatabaseError> {
    let rest = url.trim_start_matches("sqlite:").trim_start_matches("//");
    let (path, options) = rest.split_once('?').unwrap_or((rest, ""));
    if path.is_empty() || path == ":memory:" || options.contains("mode=memory") {
        return Ok(());
    }
    let file = Path::new(path);
    if let Some(parent) = file.parent().filter(|p| !p.as_os_str().is_empty())
        && !parent.is_dir()
    {
        return Err(DatabaseError::MissingDirectory(path.to_string()));
    }
    if !file.exists() && !options.contains("mode=rwc") {
        return Err(DatabaseError::MissingFile(path.to_string()));
    }
    Ok(())
}

impl Database {
    /// Opens a pool for `postgres://...` or `sqlite://...`.
    pub async fn connect(url: &str) -> Result<Self, DatabaseError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else if url.starts_with("sqlite:") {
            check_sqlite_file(url)?;
            Backend::Sqlite
        } else {
            return Err(DatabaseError::UnsupportedUrl(redact(url)));
        };
        let options =
            sqlx::any::AnyConnectOptions::from_str(url).map_err(|source| DatabaseError::Connect {
                url: redact(url),
                source,
            })?;
        let max = if backend == Backend::Sqlite { 1 } else { 10 };
        let pool = AnyPoolOptions::new()
            .max_connections(max)
            .acquire_timeout(std::time::Duration::from_secs(5))
            .connect_with(options)
            .await
            .map_err(|source| DatabaseError::Connect {
                url: redact(url),
                source,
            })?;
        Ok(Database { pool, backend })
    }

    /// Creates tables that do not exist yet; one statement per entry.
    pub async fn ensure_tables(&self, statements: &[&str]) -> Result<(), DatabaseError> {
        for statement in statements {
            sqlx::query(statement)
                .execute(&self.pool)
                .await
                .map_err(DatabaseError::Schema)?;
        }
        Ok(())
    }

    /// The pool.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The backend.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// `$first, $first+1, ...`: `count` numbered placeholders.
    pub fn placeholders(first: usize, count: usize) -> String {
        (first..first + count)
            .map(|i| format!("${i}"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The outbox of this database, creating its table when missing.
    pub async fn outbox(&self) -> Result<Outbox, DatabaseError> {
        let dialect = match self.backend {
            Backend::Postgres => Dialect::Postgres,
            Backend::Sqlite => Dialect::Sqlite,
        };
        Outbox::new(self.pool.clone(), dialect)
            .await
            .map_err(|e| DatabaseError::Outbox(e.to_string()))
    }

    /// Whether a trivial query succeeds.
    pub async fn health(&self) -> HealthStatus {
        match sqlx::query("SELECT 1").execute(&self.pool).await {
            Ok(_) => HealthStatus::Healthy,
            Err(error) => HealthStatus::Unhealthy(format!("database: {error}")),
        }
    }
}

/// The rows of a list query over one table: equality filters on the
/// `filterable` fields (GraphQL name, column), in `order`, with the query's
/// offset and limit (at most 1,000 rows).
pub async fn list_rows(
    db: &Database,
    source: &str,
    table: &str,
    columns: &str,
    filterable: &[(&str, &str)],
    order: &str,
    query: &EntityQuery,
) -> Result<Vec<AnyRow>, AdapterError> {
    let mut conditions = Vec::new();
    let mut values = Vec::new();
    for (field, value) in &query.filter {
        let column = filterable
            .iter()
            .find(|(name, _)| name == field)
            .map(|(_, column)| *column)
            .ok_or_else(|| AdapterError::InvalidInput(format!("{table} cannot be filtered by `{field}`")))?;
        let value = value
            .as_str()
            .ok_or_else(|| AdapterError::InvalidInput(format!("filter `{field}` must be a string")))?;
        values.push(value.to_string());
        conditions.push(format!("{column} = ${}", values.len()));
    }
    let mut sql = format!("SELECT {columns} FROM {table}");
    if !conditions.is_empty() {
        sql.push_str(&format!(" WHERE {}", conditions.join(" AND ")));
    }
    sql.push_str(&format!(
        " ORDER BY {order} LIMIT {} OFFSET {}",
        query.limit.unwrap_or(1000).min(1000),
        query.offset
    ));
    let mut statement = sqlx::query(&sql);
    for value in values {
        statement = statement.bind(value);
    }
    statement
        .fetch_all(db.pool())
        .await
        .map_err(|e| source_error(source, e))
}

/// A database error as an adapter error: unreachable → `SourceUnavailable`
/// (retryable), a unique violation → `Conflict`, the rest `Internal`.
pub fn source_error(source: &str, error: sqlx::Error) -> AdapterError {
    match &error {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Tls(_) => {
            AdapterError::unavailable(source, error)
        }
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            AdapterError::Conflict(db.message().to_string())
        }
        _ => AdapterError::Internal(format!("{source}: {error}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords_in_urls() {
        assert_eq!(
            redact("postgres://app:secret@db:5432/x"),
            "postgres://app:***@db:5432/x"
        );
        assert_eq!(redact("sqlite://data.db"), "sqlite://data.db");
    }

    #[tokio::test]
    async fn rejects_missing_sqlite_files_and_unknown_urls_clearly() {
        let missing = Database::connect("sqlite:///definitely/not/here/x.db")
            .await
            .err()
            .unwrap();
        assert_eq!(
            missing.to_string(),
            "the directory of database file `/definitely/not/here/x.db` does not exist"
        );
        let dir = std::env::temp_dir();
        let file = dir.join(format!("dictamesh-missing-{}.db", uuid::Uuid::new_v4()));
        let missing = Database::connect(&format!("sqlite://{}", file.display()))
            .await
            .err()
            .unwrap();
        assert!(missing.to_string().contains("does not exist (append ?mode=rwc"));
        let unknown = Database::connect("mysql://root@localhost/x").await.err().unwrap();
        assert!(unknown.to_string().starts_with("unsupported DATABASE_URL"));
    }
}
