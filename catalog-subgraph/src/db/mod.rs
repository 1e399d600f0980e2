//! The catalog's database: PostgreSQL in production, SQLite as the embedded
//! default. Most statements are written once and run on either (`$1`
//! placeholders work on both); the few that differ (arrays, recursive paths,
//! partitions) are written per backend next to each other.

mod columns;
mod migrations;

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

pub(crate) use columns::Columns;
pub use migrations::MigrationStatus;

use crate::error::CatalogError;

/// Runs `$body` with `$pool` bound to the pool of whichever backend `$db` is;
/// the body is compiled once per backend.
macro_rules! on_pool {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::db::Database::Postgres($pool) => $body,
            $crate::db::Database::Sqlite($pool) => $body,
        }
    };
}
pub(crate) use on_pool;

/// The default `DATABASE_URL`: an SQLite file in the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://dictamesh-catalog.db";

/// How long a statement waits for a pooled connection before the catalog
/// reports the database unavailable.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// A connection pool to the catalog's database.
#[derive(Clone, Debug)]
pub enum Database {
    /// PostgreSQL (`postgres://...`).
    Postgres(PgPool),
    /// SQLite (`sqlite://file.db`, `sqlite::memory:`).
    Sqlite(SqlitePool),
}

impl Database {
    /// Connects to `url` (`postgres://` or `postgresql://` for PostgreSQL,
    /// `sqlite:` for SQLite, whose file is created when missing). The pool
    /// connects lazily, so the catalog starts while the database is down and
    /// reports it on `/health/ready`.
    pub fn connect_lazy(url: &str) -> Result<Self, CatalogError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let options = PgConnectOptions::from_str(url).map_err(|e| {
                CatalogError::InvalidInput(format!("DATABASE_URL is not a PostgreSQL URL: {e}"))
            })?;
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .connect_lazy_with(options);
            Ok(Database::Postgres(pool))
        } else if url.starts_with("sqlite:") {
            let memory = url.contains(":memory:") || url.contains("mode=memory");
            let options = SqliteConnectOptions::from_str(url)
                .map_err(|e| CatalogError::InvalidInput(format!("DATABASE_URL is not an SQLite URL: {e}")))?
                .create_if_missing(true)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(5));
            let options = if memory {
                options
            } else {
                options
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
            };
            // An in-memory database lives in one connection; a file takes a few
            // readers while SQLite serializes the writers.
            let pool = SqlitePoolOptions::new()
                .max_connections(if memory { 1 } else { 4 })
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .connect_lazy_with(options);
            Ok(Database::Sqlite(pool))
        } else {
            Err(CatalogError::InvalidInput(format!(
                "DATABASE_URL must start with postgres://, postgresql:// or sqlite:, got `{}`",
                redact(url)
            )))
        }
    }

    /// Connects to `url` and checks that the database answers.
    pub async fn connect(url: &str) -> Result<Self, CatalogError> {
        let db = Self::connect_lazy(url)?;
        db.ping().await?;
        Ok(db)
    }

    /// The backend's name: `postgres` or `sqlite`.
    pub fn backend(&self) -> &'static str {
        match self {
            Database::Postgres(_) => "postgres",
            Database::Sqlite(_) => "sqlite",
        }
    }

    /// Whether the database answers a trivial query.
    pub async fn ping(&self) -> Result<(), CatalogError> {
        on_pool!(self, pool => sqlx::query("SELECT 1").execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    /// Applies the catalog's migrations that are not applied yet.
    pub async fn migrate(&self) -> Result<(), CatalogError> {
        let migrator = migrations::migrator(self);
        on_pool!(self, pool => migrator.run(pool).await)?;
        Ok(())
    }

    /// Which of the catalog's migrations the database has.
    pub async fn migration_status(&self) -> Result<MigrationStatus, CatalogError> {
        migrations::status(self).await
    }

    /// Closes every pooled connection.
    pub async fn close(&self) {
        on_pool!(self, pool => pool.close().await);
    }
}

/// A URL without its password, for messages.
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

/// The current time as the catalog stores it: UTC, microsecond precision (what
/// PostgreSQL keeps), so values read back equal values written on both backends.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// A time as the catalog stores it (see [`now`]).
pub fn stored_time(at: DateTime<Utc>) -> DateTime<Utc> {
    at.trunc_subsecs(6)
}

/// Starting a transaction that writes. SQLite takes its write lock up front
/// (`BEGIN IMMEDIATE`), so two writers queue instead of failing to upgrade.
pub(crate) trait BeginWrite {
    /// The pool's database.
    type Db: sqlx::Database;

    /// Begins a write transaction.
    fn begin_write(
        &self,
    ) -> impl std::future::Future<Output = Result<sqlx::Transaction<'static, Self::Db>, sqlx::Error>> + Send;
}

impl BeginWrite for PgPool {
    type Db = sqlx::Postgres;

    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
        self.begin().await
    }
}

impl BeginWrite for SqlitePool {
    type Db = sqlx::Sqlite;

    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error> {
        self.begin_with("BEGIN IMMEDIATE").await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_redacted_and_checked() {
        assert_eq!(
            redact("postgres://app:secret@db:5432/catalog"),
            "postgres://app:***@db:5432/catalog"
        );
        assert_eq!(redact("sqlite://x.db"), "sqlite://x.db");
        let error = Database::connect_lazy("mysql://app:secret@db/catalog").unwrap_err();
        assert!(
            error.to_string().contains("mysql://app:***@db/catalog"),
            "{error}"
        );
    }
}
