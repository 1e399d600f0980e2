//! The schema registry: versioned schemas per subject with Confluent's
//! compatibility levels, checked for Avro through `apache-avro` and for
//! GraphQL SDL by comparing what clients use. Served over GraphQL
//! (`schemas`, `registerSchema`) and as the Confluent REST API ([`rest`]).

mod avro;
mod compatibility;
mod error;
mod graphql_sdl;
pub mod rest;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

pub use compatibility::{CompatibilityLevel, Directions};
pub use error::RegistryError;

use crate::db::{BeginWrite, Columns, Database, now, on_pool};
use crate::model::{SchemaFormat, SchemaVersion};

/// The subject key under which the global compatibility level is stored.
const GLOBAL: &str = "";

const VERSION_COLUMNS: &str = "v.subject, v.version, v.schema_id, s.schema_format, s.schema_definition, \
     s.fingerprint, v.backward_compatible, v.forward_compatible, v.published_at";

/// A version as asked for in a URL: a number or `latest`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionSpec {
    /// The highest live version.
    Latest,
    /// That version.
    Number(i32),
}

impl VersionSpec {
    /// Parses `latest`, `-1` (Confluent's alias of latest) or a positive version.
    pub fn parse(text: &str) -> Result<Self, RegistryError> {
        if text == "latest" || text == "-1" {
            return Ok(VersionSpec::Latest);
        }
        match text.parse::<i32>() {
            Ok(n) if n >= 1 => Ok(VersionSpec::Number(n)),
            _ => Err(RegistryError::InvalidVersion(text.to_string())),
        }
    }
}

/// A parsed schema ready to be compared and stored.
struct Candidate {
    format: SchemaFormat,
    text: String,
    fingerprint: String,
    parsed: Parsed,
}

enum Parsed {
    Avro(apache_avro::Schema),
    Graphql(graphql_sdl::SdlModel),
}

impl Candidate {
    fn parse(format: SchemaFormat, text: &str) -> Result<Self, RegistryError> {
        let (canonical, parsed) = match format {
            SchemaFormat::Avro => {
                let schema = avro::parse(text).map_err(RegistryError::InvalidSchema)?;
                let canonical = avro::canonical_text(text).map_err(RegistryError::InvalidSchema)?;
                (canonical, Parsed::Avro(schema))
            }
            SchemaFormat::Graphql => {
                let model = graphql_sdl::parse(text).map_err(RegistryError::InvalidSchema)?;
                (graphql_sdl::canonical_text(text), Parsed::Graphql(model))
            }
        };
        let fingerprint = Sha256::digest(canonical.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Ok(Candidate {
            format,
            text: text.to_string(),
            fingerprint,
            parsed,
        })
    }
}

impl Candidate {
    /// Whether a stored version holds this very schema.
    fn is_stored_as(&self, stored: &Stored) -> bool {
        stored.version.format == self.format && stored.fingerprint == self.fingerprint
    }
}

/// Why `new` breaks compatibility with `previous` (version `version`) in the
/// given directions; empty when it does not.
fn breaking_changes(new: &Parsed, previous: &Parsed, version: i32, directions: Directions) -> Vec<String> {
    let mut changes = Vec::new();
    match (new, previous) {
        (Parsed::Avro(new), Parsed::Avro(previous)) => {
            if directions.backward
                && let Some(reason) = avro::cannot_read(previous, new)
            {
                changes.push(format!(
                    "BACKWARD with version {version}: the new schema cannot read data written with version \
                     {version}: {reason}"
                ));
            }
            if directions.forward
                && let Some(reason) = avro::cannot_read(new, previous)
            {
                changes.push(format!(
                    "FORWARD with version {version}: version {version} cannot read data written with the new \
                     schema: {reason}"
                ));
            }
        }
        (Parsed::Graphql(new), Parsed::Graphql(previous)) => {
            if directions.backward {
                changes.extend(
                    graphql_sdl::breaking_changes(previous, new)
                        .into_iter()
                        .map(|c| format!("BACKWARD with version {version}: {c}")),
                );
            }
            if directions.forward {
                changes.extend(graphql_sdl::breaking_changes(new, previous).into_iter().map(|c| {
                    format!("FORWARD with version {version}: {c} (going back from the new schema)")
                }));
            }
        }
        _ => changes.push(format!(
            "version {version} has another schema type; a subject keeps one type unless its level is NONE"
        )),
    }
    changes
}

/// What a registration produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Registered {
    /// The version of the subject holding the schema.
    pub version: SchemaVersion,
    /// Whether this call added the version (false: the subject had the schema).
    pub created: bool,
}

/// A live version with its schema's fingerprint.
struct Stored {
    version: SchemaVersion,
    fingerprint: String,
}

impl Stored {
    fn parsed(&self) -> Result<Parsed, RegistryError> {
        Candidate::parse(self.version.format, &self.version.schema)
            .map(|c| c.parsed)
            .map_err(|e| {
                RegistryError::Store(crate::error::CatalogError::Database(format!(
                    "stored schema {} of {} v{} no longer parses: {e}",
                    self.version.schema_id, self.version.subject, self.version.version
                )))
            })
    }
}

fn version_from_row<R>(row: &R) -> Result<SchemaVersion, sqlx::Error>
where
    R: Columns<String> + Columns<i32> + Columns<Option<bool>> + Columns<DateTime<Utc>>,
{
    let format: String = row.column("schema_format")?;
    Ok(SchemaVersion {
        subject: row.column("subject")?,
        version: row.column("version")?,
        schema_id: row.column("schema_id")?,
        format: SchemaFormat::parse(&format)
            .ok_or_else(|| sqlx::Error::Decode(format!("unknown schema format `{format}`").into()))?,
        schema: row.column("schema_definition")?,
        backward_compatible: row.column("backward_compatible")?,
        forward_compatible: row.column("forward_compatible")?,
        published_at: row.column("published_at")?,
    })
}

/// The schema registry over the catalog's database.
#[derive(Clone, Debug)]
pub struct SchemaRegistry {
    db: Database,
}

impl SchemaRegistry {
    /// A registry storing into `db`.
    pub fn new(db: Database) -> Self {
        SchemaRegistry { db }
    }

    fn check_subject(subject: &str) -> Result<(), RegistryError> {
        if subject.is_empty() || subject.len() > 255 {
            return Err(RegistryError::BadRequest(
                "a subject is 1 to 255 characters long".into(),
            ));
        }
        Ok(())
    }

    async fn live_versions(&self, subject: &str) -> Result<Vec<Stored>, RegistryError> {
        let sql = format!(
            "SELECT {VERSION_COLUMNS} FROM schema_versions v JOIN schemas s ON s.id = v.schema_id \
             WHERE v.subject = $1 AND v.retired_at IS NULL ORDER BY v.version"
        );
        let versions = on_pool!(&self.db, pool => {
            let rows = sqlx::query(&sql).bind(subject).fetch_all(pool).await?;
            let mut versions = Vec::with_capacity(rows.len());
            for row in &rows {
                let fingerprint: String = row.column("fingerprint")?;
                versions.push(Stored {
                    version: version_from_row(row)?,
                    fingerprint: fingerprint.trim_end().to_string(),
                });
            }
            versions
        });
        Ok(versions)
    }

    /// The level that applies to `subject`: its own, else the global one,
    /// else BACKWARD.
    pub async fn effective_level(&self, subject: &str) -> Result<CompatibilityLevel, RegistryError> {
        let level = on_pool!(&self.db, pool => {
            sqlx::query_scalar::<_, String>(
                "SELECT compatibility FROM schema_config WHERE subject = $1 OR subject = $2 \
                 ORDER BY CASE WHEN subject = $1 THEN 0 ELSE 1 END LIMIT 1",
            )
            .bind(subject)
            .bind(GLOBAL)
            .fetch_optional(pool)
            .await?
        });
        match level {
            Some(name) => CompatibilityLevel::parse(&name),
            None => Ok(CompatibilityLevel::default()),
        }
    }

    /// Breaking changes of `candidate` against the versions `level` checks.
    fn check_against(
        candidate: &Candidate,
        level: CompatibilityLevel,
        live: &[Stored],
    ) -> Result<Vec<String>, RegistryError> {
        let directions = level.directions();
        if !directions.backward && !directions.forward {
            return Ok(Vec::new());
        }
        let to_check: Vec<&Stored> = if level.is_transitive() {
            live.iter().rev().collect()
        } else {
            live.last().into_iter().collect()
        };
        let mut changes = Vec::new();
        for stored in to_check {
            changes.extend(breaking_changes(
                &candidate.parsed,
                &stored.parsed()?,
                stored.version.version,
                directions,
            ));
        }
        Ok(changes)
    }

    /// Registers a schema under a subject: returns the existing version when
    /// the subject already has this schema, else checks compatibility (409
    /// naming each breaking change) and adds the next version. The schema's
    /// id is shared by every subject that registers the same schema.
    pub async fn register(
        &self,
        subject: &str,
        format: SchemaFormat,
        text: &str,
    ) -> Result<Registered, RegistryError> {
        Self::check_subject(subject)?;
        let candidate = Candidate::parse(format, text)?;
        let lock_sql = match &self.db {
            Database::Postgres(_) => Some("SELECT pg_advisory_xact_lock(hashtext($1))"),
            Database::Sqlite(_) => None,
        };
        let level = self.effective_level(subject).await?;
        let live = self.live_versions(subject).await?;
        if let Some(existing) = live.iter().find(|s| candidate.is_stored_as(s)) {
            return Ok(Registered {
                version: existing.version.clone(),
                created: false,
            });
        }
        let changes = Self::check_against(&candidate, level, &live)?;
        if !changes.is_empty() {
            return Err(RegistryError::Incompatible {
                subject: subject.to_string(),
                changes,
            });
        }
        // Recorded for information whatever the level: how the new version
        // relates to the previous one in each direction.
        let (backward, forward) = match live.last() {
            Some(latest) => {
                let previous = latest.parsed()?;
                let compatible = |backward, forward| {
                    breaking_changes(
                        &candidate.parsed,
                        &previous,
                        latest.version.version,
                        Directions { backward, forward },
                    )
                    .is_empty()
                };
                (Some(compatible(true, false)), Some(compatible(false, true)))
            }
            None => (None, None),
        };
        let expected_latest = live.last().map(|s| s.version.version);
        let at = now();
        let version = on_pool!(&self.db, pool => {
            let mut tx = pool.begin_write().await?;
            if let Some(sql) = lock_sql {
                sqlx::query(sql).bind(subject).execute(&mut *tx).await?;
            }
            let latest_live: Option<i32> = sqlx::query_scalar(
                "SELECT MAX(version) FROM schema_versions WHERE subject = $1 AND retired_at IS NULL",
            )
            .bind(subject)
            .fetch_one(&mut *tx)
            .await?;
            if latest_live != expected_latest {
                return Err(RegistryError::Store(crate::error::CatalogError::Conflict(format!(
                    "subject '{subject}' changed while registering; retry"
                ))));
            }
            // Look the schema up first: an upsert would burn an id of the
            // sequence on PostgreSQL each time the schema already exists.
            let existing: Option<i64> = sqlx::query_scalar(
                "SELECT CAST(id AS BIGINT) FROM schemas WHERE schema_format = $1 AND fingerprint = $2",
            )
            .bind(format.as_str())
            .bind(&candidate.fingerprint)
            .fetch_optional(&mut *tx)
            .await?;
            let schema_id: i64 = match existing {
                Some(id) => id,
                None => {
                    sqlx::query_scalar(
                        "INSERT INTO schemas (schema_format, schema_definition, fingerprint, created_at) \
                         VALUES ($1, $2, $3, $4) RETURNING CAST(id AS BIGINT)",
                    )
                    .bind(format.as_str())
                    .bind(&candidate.text)
                    .bind(&candidate.fingerprint)
                    .bind(at)
                    .fetch_one(&mut *tx)
                    .await?
                }
            };
            let schema_id = i32::try_from(schema_id).map_err(|_| {
                RegistryError::Store(crate::error::CatalogError::Database(
                    "schema ids are exhausted (the wire format holds 32 bits)".into(),
                ))
            })?;
            let next: i64 = sqlx::query_scalar(
                "SELECT CAST(COALESCE(MAX(version), 0) + 1 AS BIGINT) FROM schema_versions WHERE subject = $1",
            )
            .bind(subject)
            .fetch_one(&mut *tx)
            .await?;
            let next = i32::try_from(next).map_err(|_| RegistryError::InvalidVersion(next.to_string()))?;
            sqlx::query(
                "INSERT INTO schema_versions (subject, version, schema_id, backward_compatible, \
                 forward_compatible, published_at) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(subject)
            .bind(next)
            .bind(schema_id)
            .bind(backward)
            .bind(forward)
            .bind(at)
            .execute(&mut *tx)
            .await?;
            let stored_text: String = sqlx::query_scalar("SELECT schema_definition FROM schemas WHERE id = $1")
                .bind(schema_id)
                .fetch_one(&mut *tx)
                .await?;
            tx.commit().await?;
            SchemaVersion {
                subject: subject.to_string(),
                version: next,
                schema_id,
                format,
                schema: stored_text,
                backward_compatible: backward,
                forward_compatible: forward,
                published_at: at,
            }
        });
        Ok(Registered {
            version,
            created: true,
        })
    }

    /// Whether `text` could be registered under `subject`: the breaking
    /// changes against `version` (or, without one, the versions the subject's
    /// level checks). Empty means compatible.
    pub async fn check_compatibility(
        &self,
        subject: &str,
        version: Option<VersionSpec>,
        format: SchemaFormat,
        text: &str,
    ) -> Result<Vec<String>, RegistryError> {
        let candidate = Candidate::parse(format, text)?;
        let live = self.live_versions(subject).await?;
        if live.is_empty() {
            return Err(RegistryError::SubjectNotFound(subject.to_string()));
        }
        let level = self.effective_level(subject).await?;
        match version {
            None => Self::check_against(&candidate, level, &live),
            Some(spec) => {
                let stored = pick(&live, subject, spec)?;
                let directions = level.directions();
                Ok(breaking_changes(
                    &candidate.parsed,
                    &stored.parsed()?,
                    stored.version.version,
                    directions,
                ))
            }
        }
    }

    /// Subjects with at least one live version (or any version when
    /// `include_deleted`), sorted.
    pub async fn subjects(&self, include_deleted: bool) -> Result<Vec<String>, RegistryError> {
        let subjects = on_pool!(&self.db, pool => {
            sqlx::query_scalar::<_, String>(
                "SELECT DISTINCT subject FROM schema_versions WHERE $1 OR retired_at IS NULL ORDER BY subject",
            )
            .bind(include_deleted)
            .fetch_all(pool)
            .await?
        });
        Ok(subjects)
    }

    /// The live versions of a subject, oldest first (40401 when none).
    pub async fn versions(&self, subject: &str) -> Result<Vec<SchemaVersion>, RegistryError> {
        let live = self.live_versions(subject).await?;
        if live.is_empty() {
            return Err(RegistryError::SubjectNotFound(subject.to_string()));
        }
        Ok(live.into_iter().map(|s| s.version).collect())
    }

    /// The live versions of a subject, oldest first; empty when it has none.
    pub async fn history(&self, subject: &str) -> Result<Vec<SchemaVersion>, RegistryError> {
        Ok(self
            .live_versions(subject)
            .await?
            .into_iter()
            .map(|s| s.version)
            .collect())
    }

    /// One version of a subject (40401 / 40402).
    pub async fn version(&self, subject: &str, spec: VersionSpec) -> Result<SchemaVersion, RegistryError> {
        let live = self.live_versions(subject).await?;
        if live.is_empty() {
            return Err(RegistryError::SubjectNotFound(subject.to_string()));
        }
        Ok(pick(&live, subject, spec)?.version.clone())
    }

    /// The schema with that id, with its format (40403).
    pub async fn schema_by_id(&self, id: i64) -> Result<(SchemaFormat, String), RegistryError> {
        let row = on_pool!(&self.db, pool => {
            let row: Option<(String, String)> =
                sqlx::query_as("SELECT schema_format, schema_definition FROM schemas WHERE id = $1")
                    .bind(id)
                    .fetch_optional(pool)
                    .await?;
            row
        });
        let (format, text) = row.ok_or_else(|| RegistryError::SchemaNotFound(id.to_string()))?;
        let format = SchemaFormat::parse(&format).ok_or_else(|| {
            RegistryError::Store(crate::error::CatalogError::Database(format!(
                "schema {id} has an unknown format `{format}`"
            )))
        })?;
        Ok((format, text))
    }

    /// The subjects and versions that hold the schema with that id.
    pub async fn versions_of_schema(&self, id: i64) -> Result<Vec<(String, i32)>, RegistryError> {
        self.schema_by_id(id).await?;
        let pairs = on_pool!(&self.db, pool => {
            let pairs: Vec<(String, i32)> = sqlx::query_as(
                "SELECT subject, version FROM schema_versions WHERE schema_id = $1 AND retired_at IS NULL \
                 ORDER BY subject, version",
            )
            .bind(id)
            .fetch_all(pool)
            .await?;
            pairs
        });
        Ok(pairs)
    }

    /// The live version of `subject` holding this schema (40401 / 40403).
    pub async fn lookup(
        &self,
        subject: &str,
        format: SchemaFormat,
        text: &str,
    ) -> Result<SchemaVersion, RegistryError> {
        let candidate = Candidate::parse(format, text)?;
        let live = self.live_versions(subject).await?;
        if live.is_empty() {
            return Err(RegistryError::SubjectNotFound(subject.to_string()));
        }
        live.into_iter()
            .find(|s| candidate.is_stored_as(s))
            .map(|s| s.version)
            .ok_or_else(|| RegistryError::SchemaNotFound(format!("in subject '{subject}'")))
    }

    /// Soft-deletes every live version of a subject; returns their numbers.
    pub async fn delete_subject(&self, subject: &str) -> Result<Vec<i32>, RegistryError> {
        let deleted = on_pool!(&self.db, pool => {
            let versions: Vec<i32> = sqlx::query_scalar(
                "UPDATE schema_versions SET retired_at = $2 WHERE subject = $1 AND retired_at IS NULL \
                 RETURNING version",
            )
            .bind(subject)
            .bind(now())
            .fetch_all(pool)
            .await?;
            versions
        });
        if deleted.is_empty() {
            return Err(RegistryError::SubjectNotFound(subject.to_string()));
        }
        let mut deleted = deleted;
        deleted.sort_unstable();
        Ok(deleted)
    }

    /// Soft-deletes one version; returns its number.
    pub async fn delete_version(&self, subject: &str, spec: VersionSpec) -> Result<i32, RegistryError> {
        let version = self.version(subject, spec).await?.version;
        on_pool!(&self.db, pool => {
            sqlx::query("UPDATE schema_versions SET retired_at = $3 WHERE subject = $1 AND version = $2")
                .bind(subject)
                .bind(version)
                .bind(now())
                .execute(pool)
                .await
                .map(|_| ())?
        });
        Ok(version)
    }

    /// The global level.
    pub async fn global_level(&self) -> Result<CompatibilityLevel, RegistryError> {
        Ok(self.subject_level(GLOBAL).await?.unwrap_or_default())
    }

    /// A subject's own level, if it has one.
    pub async fn subject_level(&self, subject: &str) -> Result<Option<CompatibilityLevel>, RegistryError> {
        let level = on_pool!(&self.db, pool => {
            sqlx::query_scalar::<_, String>("SELECT compatibility FROM schema_config WHERE subject = $1")
                .bind(subject)
                .fetch_optional(pool)
                .await?
        });
        level.map(|name| CompatibilityLevel::parse(&name)).transpose()
    }

    /// Sets the global level (`subject` = None) or a subject's.
    pub async fn set_level(
        &self,
        subject: Option<&str>,
        level: CompatibilityLevel,
    ) -> Result<(), RegistryError> {
        if let Some(subject) = subject {
            Self::check_subject(subject)?;
        }
        on_pool!(&self.db, pool => {
            sqlx::query(
                "INSERT INTO schema_config (subject, compatibility) VALUES ($1, $2) \
                 ON CONFLICT (subject) DO UPDATE SET compatibility = excluded.compatibility",
            )
            .bind(subject.unwrap_or(GLOBAL))
            .bind(level.as_str())
            .execute(pool)
            .await
            .map(|_| ())?
        });
        Ok(())
    }

    /// Removes a subject's own level (it falls back to the global one);
    /// returns the removed level (40408 when it had none).
    pub async fn delete_subject_level(&self, subject: &str) -> Result<CompatibilityLevel, RegistryError> {
        let level = self
            .subject_level(subject)
            .await?
            .ok_or_else(|| RegistryError::SubjectConfigNotFound(subject.to_string()))?;
        on_pool!(&self.db, pool => {
            sqlx::query("DELETE FROM schema_config WHERE subject = $1")
                .bind(subject)
                .execute(pool)
                .await
                .map(|_| ())?
        });
        Ok(level)
    }
}

fn pick<'a>(live: &'a [Stored], subject: &str, spec: VersionSpec) -> Result<&'a Stored, RegistryError> {
    let found = match spec {
        VersionSpec::Latest => live.last(),
        VersionSpec::Number(n) => live.iter().find(|s| s.version.version == n),
    };
    found.ok_or_else(|| RegistryError::VersionNotFound {
        subject: subject.to_string(),
        version: match spec {
            VersionSpec::Latest => "latest".into(),
            VersionSpec::Number(n) => n.to_string(),
        },
    })
}
