//! The catalog's migrations, embedded in the binary: `migrations/postgres/`
//! and `migrations/sqlite/` at the repository root.

use std::borrow::Cow;

use sqlx::migrate::{Migrate, Migration, MigrationType, Migrator};

use super::{Database, on_pool};
use crate::error::CatalogError;

/// (version, description, PostgreSQL SQL, SQLite SQL), in order.
const MIGRATIONS: &[(i64, &str, &str, &str)] = &[
    (
        1,
        "catalog",
        include_str!("../../../migrations/postgres/0001_catalog.sql"),
        include_str!("../../../migrations/sqlite/0001_catalog.sql"),
    ),
    (
        2,
        "audit details",
        include_str!("../../../migrations/postgres/0002_audit_details.sql"),
        include_str!("../../../migrations/sqlite/0002_audit_details.sql"),
    ),
    (
        3,
        "event log without catalog foreign key",
        include_str!("../../../migrations/postgres/0003_event_log_without_catalog_fk.sql"),
        include_str!("../../../migrations/sqlite/0003_event_log_without_catalog_fk.sql"),
    ),
    (
        4,
        "event log indexes its queries use",
        include_str!("../../../migrations/postgres/0004_event_log_query_indexes.sql"),
        include_str!("../../../migrations/sqlite/0004_event_log_query_indexes.sql"),
    ),
    (
        5,
        "catalog pages keep room for in-place updates",
        include_str!("../../../migrations/postgres/0005_catalog_hot_updates.sql"),
        include_str!("../../../migrations/sqlite/0005_catalog_hot_updates.sql"),
    ),
    (
        6,
        "event log partitions created once under concurrency",
        include_str!("../../../migrations/postgres/0006_event_log_partition_race.sql"),
        include_str!("../../../migrations/sqlite/0006_event_log_partition_race.sql"),
    ),
];

/// The migrator for the database's backend.
pub fn migrator(db: &Database) -> Migrator {
    let migrations = MIGRATIONS
        .iter()
        .map(|&(version, description, postgres, sqlite)| {
            let sql = match db {
                Database::Postgres(_) => postgres,
                Database::Sqlite(_) => sqlite,
            };
            Migration::new(
                version,
                Cow::Borrowed(description),
                MigrationType::Simple,
                Cow::Borrowed(sql),
                false,
            )
        })
        .collect::<Vec<_>>();
    Migrator {
        migrations: Cow::Owned(migrations),
        ..Migrator::DEFAULT
    }
}

/// Which of the catalog's migrations a database has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationStatus {
    /// Versions this catalog needs that are not applied.
    pub pending: Vec<i64>,
    /// Applied versions whose SQL differs from this catalog's.
    pub modified: Vec<i64>,
}

impl MigrationStatus {
    /// Whether the database has exactly this catalog's migrations.
    pub fn is_current(&self) -> bool {
        self.pending.is_empty() && self.modified.is_empty()
    }
}

/// Compares the database's applied migrations with the embedded ones.
pub async fn status(db: &Database) -> Result<MigrationStatus, CatalogError> {
    let migrator = migrator(db);
    let applied = on_pool!(db, pool => {
        let mut connection = pool.acquire().await?;
        connection.ensure_migrations_table().await?;
        connection.list_applied_migrations().await?
    });
    let mut status = MigrationStatus {
        pending: Vec::new(),
        modified: Vec::new(),
    };
    for migration in migrator.iter() {
        match applied.iter().find(|a| a.version == migration.version) {
            None => status.pending.push(migration.version),
            Some(a) if a.checksum != migration.checksum => status.modified.push(migration.version),
            Some(_) => {}
        }
    }
    Ok(status)
}
