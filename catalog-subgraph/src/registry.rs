//! The entity registry: registering entities (idempotently), finding them,
//! and telling where to fetch them (`GetEntityLocation`).

use chrono::{DateTime, Utc};
use dictamesh::ID;
use uuid::Uuid;

use crate::db::{BeginWrite, Columns, Database, now, on_pool};
use crate::error::CatalogError;
use crate::model::{CatalogEntry, EntityLocation, EntityRegistration};
use crate::names::check_entity_type;

const STATUSES: [&str; 4] = ["active", "deprecated", "archived", "deleted"];
const CLASSIFICATIONS: [&str; 4] = ["public", "internal", "confidential", "restricted"];
const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

const ENTRY_COLUMNS: &str = "id, entity_type, domain, source_system, source_entity_id, api_base_url, \
     api_path_template, api_method, api_auth_type, schema_id, schema_version, created_at, updated_at, \
     last_seen_at, status, availability_sla, latency_p99_ms, freshness_sla_seconds, contains_pii, \
     data_classification, retention_days";

/// Upserts on the natural key; `updated_at` moves only when the registration
/// changes, `last_seen_at` always.
const UPSERT_ENTRY: &str = "INSERT INTO entity_catalog (id, entity_type, domain, source_system, \
     source_entity_id, api_base_url, api_path_template, api_method, api_auth_type, schema_id, schema_version, \
     created_at, updated_at, last_seen_at, status, availability_sla, latency_p99_ms, freshness_sla_seconds, \
     contains_pii, data_classification, retention_days) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, $12, $13, $14, $15, $16, $17, $18, $19) \
     ON CONFLICT (source_system, source_entity_id, entity_type) DO UPDATE SET \
       domain = excluded.domain, api_base_url = excluded.api_base_url, \
       api_path_template = excluded.api_path_template, api_method = excluded.api_method, \
       api_auth_type = excluded.api_auth_type, schema_id = excluded.schema_id, \
       schema_version = excluded.schema_version, status = excluded.status, \
       availability_sla = excluded.availability_sla, latency_p99_ms = excluded.latency_p99_ms, \
       freshness_sla_seconds = excluded.freshness_sla_seconds, contains_pii = excluded.contains_pii, \
       data_classification = excluded.data_classification, retention_days = excluded.retention_days, \
       last_seen_at = excluded.last_seen_at, \
       updated_at = CASE WHEN entity_catalog.domain IS DISTINCT FROM excluded.domain \
         OR entity_catalog.api_base_url IS DISTINCT FROM excluded.api_base_url \
         OR entity_catalog.api_path_template IS DISTINCT FROM excluded.api_path_template \
         OR entity_catalog.api_method IS DISTINCT FROM excluded.api_method \
         OR entity_catalog.api_auth_type IS DISTINCT FROM excluded.api_auth_type \
         OR entity_catalog.schema_id IS DISTINCT FROM excluded.schema_id \
         OR entity_catalog.schema_version IS DISTINCT FROM excluded.schema_version \
         OR entity_catalog.status IS DISTINCT FROM excluded.status \
         OR entity_catalog.availability_sla IS DISTINCT FROM excluded.availability_sla \
         OR entity_catalog.latency_p99_ms IS DISTINCT FROM excluded.latency_p99_ms \
         OR entity_catalog.freshness_sla_seconds IS DISTINCT FROM excluded.freshness_sla_seconds \
         OR entity_catalog.contains_pii IS DISTINCT FROM excluded.contains_pii \
         OR entity_catalog.data_classification IS DISTINCT FROM excluded.data_classification \
         OR entity_catalog.retention_days IS DISTINCT FROM excluded.retention_days \
         THEN excluded.updated_at ELSE entity_catalog.updated_at END \
     RETURNING ";

/// Decodes an `entity_catalog` row.
pub(crate) fn entry_from_row<R>(row: &R) -> Result<CatalogEntry, sqlx::Error>
where
    R: Columns<Uuid>
        + Columns<String>
        + Columns<Option<String>>
        + Columns<Option<i32>>
        + Columns<Option<f64>>
        + Columns<DateTime<Utc>>
        + Columns<bool>,
{
    let id: Uuid = row.column("id")?;
    Ok(CatalogEntry {
        id: ID(id.to_string()),
        entity_type: row.column("entity_type")?,
        domain: row.column("domain")?,
        source_system: row.column("source_system")?,
        source_entity_id: row.column("source_entity_id")?,
        api_base_url: row.column("api_base_url")?,
        api_path_template: row.column("api_path_template")?,
        api_method: row.column("api_method")?,
        api_auth_type: row.column("api_auth_type")?,
        schema_id: row.column("schema_id")?,
        schema_version: row.column("schema_version")?,
        created_at: row.column("created_at")?,
        updated_at: row.column("updated_at")?,
        last_seen_at: row.column("last_seen_at")?,
        status: row.column("status")?,
        availability_sla: row.column("availability_sla")?,
        latency_p99_ms: row.column("latency_p99_ms")?,
        freshness_sla_seconds: row.column("freshness_sla_seconds")?,
        contains_pii: row.column("contains_pii")?,
        data_classification: row.column("data_classification")?,
        retention_days: row.column("retention_days")?,
    })
}

/// Parses a catalog id given as text.
pub fn parse_catalog_id(id: &str) -> Result<Uuid, CatalogError> {
    Uuid::parse_str(id)
        .map_err(|_| CatalogError::InvalidInput(format!("`{id}` is not a catalog id (a UUID)")))
}

fn required(field: &str, value: &str) -> Result<(), CatalogError> {
    if value.trim().is_empty() {
        return Err(CatalogError::InvalidInput(format!("{field} must not be empty")));
    }
    Ok(())
}

fn non_negative(field: &str, value: Option<i32>) -> Result<(), CatalogError> {
    match value {
        Some(n) if n < 0 => Err(CatalogError::InvalidInput(format!(
            "{field} must not be negative, got {n}"
        ))),
        _ => Ok(()),
    }
}

/// Checks a registration; the error names the field at fault.
pub fn validate(registration: &EntityRegistration) -> Result<(), CatalogError> {
    check_entity_type(&registration.entity_type)?;
    required("domain", &registration.domain)?;
    required("sourceSystem", &registration.source_system)?;
    required("sourceEntityId", &registration.source_entity_id)?;
    if registration.source_entity_id.len() > 255 {
        return Err(CatalogError::InvalidInput(
            "sourceEntityId is longer than 255 characters".into(),
        ));
    }
    for (field, value) in [
        ("domain", &registration.domain),
        ("sourceSystem", &registration.source_system),
    ] {
        if value.len() > 100 {
            return Err(CatalogError::InvalidInput(format!(
                "{field} is longer than 100 characters"
            )));
        }
    }
    if let Some(status) = &registration.status
        && !STATUSES.contains(&status.as_str())
    {
        return Err(CatalogError::InvalidInput(format!(
            "status must be one of {}, got `{status}`",
            STATUSES.join(", ")
        )));
    }
    if let Some(level) = &registration.data_classification
        && !CLASSIFICATIONS.contains(&level.as_str())
    {
        return Err(CatalogError::InvalidInput(format!(
            "dataClassification must be one of {}, got `{level}`",
            CLASSIFICATIONS.join(", ")
        )));
    }
    if let Some(method) = &registration.api_method
        && !METHODS.contains(&method.as_str())
    {
        return Err(CatalogError::InvalidInput(format!(
            "apiMethod must be one of {}, got `{method}`",
            METHODS.join(", ")
        )));
    }
    if let Some(sla) = registration.availability_sla
        && !(0.0..=1.0).contains(&sla)
    {
        return Err(CatalogError::InvalidInput(format!(
            "availabilitySla must be between 0 and 1 (0.999 for 99.9%), got {sla}"
        )));
    }
    non_negative("latencyP99Ms", registration.latency_p99_ms)?;
    non_negative("freshnessSlaSeconds", registration.freshness_sla_seconds)?;
    non_negative("retentionDays", registration.retention_days)?;
    Ok(())
}

/// Binds the 19 parameters of the entry upsert, with a fresh id for new entries.
macro_rules! bind_registration {
    ($query:expr, $r:expr, $at:expr) => {
        $query
            .bind(Uuid::new_v4())
            .bind(&$r.entity_type)
            .bind(&$r.domain)
            .bind(&$r.source_system)
            .bind(&$r.source_entity_id)
            .bind(&$r.api_base_url)
            .bind(&$r.api_path_template)
            .bind($r.api_method.clone().unwrap_or_else(|| "GET".into()))
            .bind(&$r.api_auth_type)
            .bind($r.schema_id)
            .bind(&$r.schema_version)
            .bind($at)
            .bind($r.status.clone().unwrap_or_else(|| "active".into()))
            .bind($r.availability_sla)
            .bind($r.latency_p99_ms)
            .bind($r.freshness_sla_seconds)
            .bind($r.contains_pii.unwrap_or(false))
            .bind(&$r.data_classification)
            .bind($r.retention_days)
    };
}
pub(crate) use bind_registration;

/// The entry upsert returning the entry; bind its parameters with
/// [`bind_registration`].
pub(crate) fn upsert_sql() -> String {
    format!("{UPSERT_ENTRY}{ENTRY_COLUMNS}")
}

/// Registers an entity, or updates its registration: registering the same
/// (source system, id, type) again never creates a second entry.
pub async fn register_entity(
    db: &Database,
    registration: &EntityRegistration,
) -> Result<CatalogEntry, CatalogError> {
    validate(registration)?;
    let sql = upsert_sql();
    let entry = on_pool!(db, pool => {
        let mut tx = pool.begin_write().await?;
        if let Some(schema_id) = registration.schema_id {
            let known: Option<i32> = sqlx::query_scalar("SELECT id FROM schemas WHERE id = $1")
                .bind(schema_id)
                .fetch_optional(&mut *tx)
                .await?;
            if known.is_none() {
                return Err(CatalogError::InvalidInput(format!(
                    "schemaId {schema_id} is not a registered schema"
                )));
            }
        }
        let row = bind_registration!(sqlx::query(&sql), registration, now())
            .fetch_one(&mut *tx)
            .await?;
        let entry = entry_from_row(&row)?;
        tx.commit().await?;
        entry
    });
    Ok(entry)
}

/// The entries with these ids, aligned with `ids` (`None` where missing).
pub async fn entries(db: &Database, ids: &[Uuid]) -> Result<Vec<Option<CatalogEntry>>, CatalogError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let found: Vec<CatalogEntry> = on_pool!(db, pool => {
        let mut query = sqlx::QueryBuilder::new(format!("SELECT {ENTRY_COLUMNS} FROM entity_catalog WHERE id IN ("));
        let mut separated = query.separated(", ");
        for id in ids {
            separated.push_bind(*id);
        }
        query.push(")");
        let rows = query.build().fetch_all(pool).await?;
        rows.iter().map(entry_from_row).collect::<Result<Vec<_>, _>>()?
    });
    Ok(ids
        .iter()
        .map(|id| {
            let id = id.to_string();
            found.iter().find(|e| e.id.0 == id).cloned()
        })
        .collect())
}

/// The entry of an entity by type and id; the most recently seen one when
/// several source systems have it and `source_system` is not given.
pub async fn find_entry(
    db: &Database,
    entity_type: &str,
    source_entity_id: &str,
    source_system: Option<&str>,
) -> Result<Option<CatalogEntry>, CatalogError> {
    let sql = format!(
        "SELECT {ENTRY_COLUMNS} FROM entity_catalog WHERE entity_type = $1 AND source_entity_id = $2 \
         AND ($3 IS NULL OR source_system = $3) ORDER BY last_seen_at DESC, id LIMIT 1"
    );
    let entry = on_pool!(db, pool => {
        let row = sqlx::query(&sql)
            .bind(entity_type)
            .bind(source_entity_id)
            .bind(source_system)
            .fetch_optional(pool)
            .await?;
        match row {
            Some(row) => Some(entry_from_row(&row)?),
            None => None,
        }
    });
    Ok(entry)
}

/// The location of an entry.
pub fn location_of(entry: &CatalogEntry) -> EntityLocation {
    let path = entry
        .api_path_template
        .replacen("{id}", &entry.source_entity_id, 1);
    let full_url = format!("{}{}", entry.api_base_url, path);
    EntityLocation {
        catalog_id: entry.id.clone(),
        entity_type: entry.entity_type.clone(),
        entity_id: entry.source_entity_id.clone(),
        source_system: entry.source_system.clone(),
        api_base_url: entry.api_base_url.clone(),
        api_path_template: entry.api_path_template.clone(),
        api_method: entry.api_method.clone(),
        api_auth_type: entry.api_auth_type.clone(),
        schema_version: entry.schema_version.clone(),
        contains_pii: entry.contains_pii,
        data_classification: entry.data_classification.clone(),
        full_url,
    }
}

/// Every distinct entity type, sorted (a skip scan over the type index, so it
/// stays fast with millions of entries).
pub async fn entity_types(db: &Database) -> Result<Vec<String>, CatalogError> {
    const SQL: &str = "WITH RECURSIVE types(entity_type) AS ( \
           SELECT MIN(entity_type) FROM entity_catalog \
           UNION ALL \
           SELECT (SELECT MIN(e.entity_type) FROM entity_catalog e WHERE e.entity_type > types.entity_type) \
           FROM types WHERE types.entity_type IS NOT NULL) \
         SELECT entity_type FROM types WHERE entity_type IS NOT NULL";
    let types = on_pool!(db, pool => sqlx::query_scalar::<_, String>(SQL).fetch_all(pool).await?);
    Ok(types)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registration() -> EntityRegistration {
        EntityRegistration {
            entity_type: "Customer".into(),
            domain: "customers".into(),
            source_system: "crm".into(),
            source_entity_id: "c-1".into(),
            api_base_url: "https://crm.example.com".into(),
            api_path_template: "/customers/{id}".into(),
            ..Default::default()
        }
    }

    #[test]
    fn registrations_are_checked_field_by_field() {
        assert!(validate(&registration()).is_ok());
        type Breaks = fn(&mut EntityRegistration);
        let cases: [(Breaks, &str); 5] = [
            (|r| r.domain = " ".into(), "domain"),
            (|r| r.status = Some("gone".into()), "status"),
            (|r| r.availability_sla = Some(99.9), "availabilitySla"),
            (
                |r| r.data_classification = Some("secret".into()),
                "dataClassification",
            ),
            (|r| r.latency_p99_ms = Some(-1), "latencyP99Ms"),
        ];
        for (break_it, field) in cases {
            let mut r = registration();
            break_it(&mut r);
            let error = validate(&r).unwrap_err().to_string();
            assert!(error.contains(field), "{error}");
        }
    }
}
