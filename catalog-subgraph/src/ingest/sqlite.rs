//! Writing a batch into SQLite: the same writes as on PostgreSQL, statement
//! by statement (SQLite runs in process, so per-row statements are cheap).

use sqlx::{Row, Sqlite, SqlitePool, Transaction};
use uuid::Uuid;

use super::plan::{self, CatalogIds, RelationshipPlan, StoredRelationship};
use super::{Event, EventKind};
use crate::db::{BeginWrite, now};
use crate::error::CatalogError;
use crate::registry;

/// Writes the events of a batch whose `event_id`s are new, in one
/// transaction; returns how many were new.
pub(super) async fn write_batch(pool: &SqlitePool, events: Vec<Event>) -> Result<usize, CatalogError> {
    let mut tx = pool.begin_write().await?;
    let mut new = Vec::with_capacity(events.len());
    for event in events {
        let inserted = sqlx::query(
            "INSERT INTO event_ids (event_id, event_timestamp) VALUES ($1, $2) ON CONFLICT (event_id) DO NOTHING",
        )
        .bind(&event.event_id)
        .bind(event.at)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 1 {
            new.push(event);
        }
    }
    if new.is_empty() {
        tx.commit().await?;
        return Ok(0);
    }
    register(&mut tx, &new).await?;
    touch(&mut tx, &new).await?;
    let relationships = plan_relationships(&mut tx, &new).await?;
    let ids = catalog_ids(
        &mut tx,
        &plan::entities_to_look_up(&new, &relationships.insert, &CatalogIds::default()),
    )
    .await?;
    relate(&mut tx, relationships, &ids).await?;
    log(&mut tx, &new, &ids).await?;
    tx.commit().await?;
    Ok(new.len())
}

async fn register(tx: &mut Transaction<'static, Sqlite>, events: &[Event]) -> Result<(), CatalogError> {
    let sql = registry::upsert_sql();
    for event in events {
        let EventKind::Registered(registration) = &event.kind else {
            continue;
        };
        let mut registration = (**registration).clone();
        if let Some(schema_id) = registration.schema_id {
            let known: Option<i32> = sqlx::query_scalar("SELECT id FROM schemas WHERE id = $1")
                .bind(schema_id)
                .fetch_optional(&mut **tx)
                .await?;
            if known.is_none() {
                tracing::warn!(event_id = %event.event_id, schema_id, "registration names an unknown schema id; dropped");
                registration.schema_id = None;
            }
        }
        registry::bind_registration!(sqlx::query(&sql), &registration, event.at)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

async fn touch(tx: &mut Transaction<'static, Sqlite>, events: &[Event]) -> Result<(), CatalogError> {
    for t in plan::touches(events) {
        sqlx::query(
            "INSERT INTO entity_catalog (id, entity_type, domain, source_system, source_entity_id, api_base_url, \
             api_path_template, api_method, created_at, updated_at, last_seen_at, status, schema_version, \
             availability_sla, latency_p99_ms, freshness_sla_seconds, contains_pii, data_classification, \
             retention_days) \
             SELECT $1, $2, $3, $4, $5, $6, '', 'POST', $7, $7, $7, $8, ty.schema_version, ty.availability_sla, \
                    ty.latency_p99_ms, ty.freshness_sla_seconds, COALESCE(ty.contains_pii, FALSE), \
                    ty.data_classification, ty.retention_days \
             FROM (SELECT 1) AS one LEFT JOIN entity_catalog ty ON ty.entity_type = $2 \
                  AND ty.source_system = $4 AND ty.source_entity_id = '*' \
             WHERE true \
             ON CONFLICT (source_system, source_entity_id, entity_type) DO UPDATE SET \
               last_seen_at = CASE WHEN excluded.last_seen_at > entity_catalog.last_seen_at \
                 THEN excluded.last_seen_at ELSE entity_catalog.last_seen_at END",
        )
        .bind(Uuid::now_v7())
        .bind(&t.key.entity_type)
        .bind(&t.domain)
        .bind(&t.key.source_system)
        .bind(&t.key.entity_id)
        .bind(&t.url)
        .bind(t.at)
        .bind(t.status.map_or("active", |(s, _)| s))
        .execute(&mut **tx)
        .await?;
        if let Some((status, at)) = t.status {
            sqlx::query(
                "UPDATE entity_catalog SET status = $4, updated_at = $5 WHERE entity_type = $1 \
                 AND source_entity_id = $2 AND source_system = $3 AND last_seen_at <= $5 AND status <> $4",
            )
            .bind(&t.key.entity_type)
            .bind(&t.key.entity_id)
            .bind(&t.key.source_system)
            .bind(status)
            .bind(at)
            .execute(&mut **tx)
            .await?;
        }
    }
    Ok(())
}

async fn plan_relationships(
    tx: &mut Transaction<'static, Sqlite>,
    events: &[Event],
) -> Result<RelationshipPlan, CatalogError> {
    let mut stored = Vec::new();
    for (subject_type, subject_id) in plan::relationship_subjects(events) {
        let rows = sqlx::query(
            "SELECT id, relationship_type, object_entity_type, object_entity_id, valid_from, valid_to \
             FROM entity_relationships WHERE subject_entity_type = $1 AND subject_entity_id = $2",
        )
        .bind(&subject_type)
        .bind(&subject_id)
        .fetch_all(&mut **tx)
        .await?;
        for row in rows {
            stored.push(StoredRelationship {
                id: row.try_get("id")?,
                subject_type: subject_type.clone(),
                subject_id: subject_id.clone(),
                relationship_type: row.try_get("relationship_type")?,
                object_type: row.try_get("object_entity_type")?,
                object_id: row.try_get("object_entity_id")?,
                valid_from: row.try_get("valid_from")?,
                valid_to: row.try_get("valid_to")?,
            });
        }
    }
    Ok(plan::plan_relationships(events, stored))
}

async fn catalog_ids(
    tx: &mut Transaction<'static, Sqlite>,
    entities: &[(String, String)],
) -> Result<CatalogIds, CatalogError> {
    let mut found = CatalogIds::default();
    for (entity_type, entity_id) in entities {
        let rows = sqlx::query(
            "SELECT source_system, last_seen_at, id FROM entity_catalog \
             WHERE entity_type = $1 AND source_entity_id = $2",
        )
        .bind(entity_type)
        .bind(entity_id)
        .fetch_all(&mut **tx)
        .await?;
        for row in rows {
            found.add(
                entity_type.clone(),
                entity_id.clone(),
                row.try_get("source_system")?,
                row.try_get("last_seen_at")?,
                row.try_get("id")?,
            );
        }
    }
    Ok(found)
}

async fn relate(
    tx: &mut Transaction<'static, Sqlite>,
    plan: RelationshipPlan,
    catalog: &CatalogIds,
) -> Result<(), CatalogError> {
    for (id, at) in plan.close {
        sqlx::query("UPDATE entity_relationships SET valid_to = $1 WHERE id = $2")
            .bind(at)
            .bind(id)
            .execute(&mut **tx)
            .await?;
    }
    let created_at = now();
    for r in plan.insert {
        sqlx::query(
            "INSERT INTO entity_relationships (id, subject_catalog_id, subject_entity_type, subject_entity_id, \
             relationship_type, relationship_cardinality, object_catalog_id, object_entity_type, \
             object_entity_id, valid_from, valid_to, subject_display_name, object_display_name, \
             relationship_metadata, created_by_event_id, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) \
             ON CONFLICT (subject_entity_type, subject_entity_id, relationship_type, object_entity_type, \
               object_entity_id) WHERE valid_to IS NULL DO NOTHING",
        )
        .bind(r.id)
        .bind(catalog.get(&r.subject_type, &r.subject_id, None))
        .bind(&r.subject_type)
        .bind(&r.subject_id)
        .bind(&r.relationship_type)
        .bind(r.cardinality)
        .bind(catalog.get(&r.object_type, &r.object_id, r.object_source.as_deref()))
        .bind(&r.object_type)
        .bind(&r.object_id)
        .bind(r.valid_from)
        .bind(r.valid_to)
        .bind(&r.subject_display_name)
        .bind(&r.object_display_name)
        .bind(&r.metadata)
        .bind(&r.event_id)
        .bind(created_at)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

async fn log(
    tx: &mut Transaction<'static, Sqlite>,
    events: &[Event],
    catalog: &CatalogIds,
) -> Result<(), CatalogError> {
    let ingested_at = now();
    for event in events {
        let (entity_type, entity_id, source) = event.entity();
        let (trace, span) = event.trace();
        let fields = serde_json::to_string(&event.changed_fields())
            .map_err(|e| CatalogError::Database(e.to_string()))?;
        sqlx::query(
            "INSERT INTO event_log (id, event_id, event_type, catalog_id, entity_type, entity_id, source_system, \
             changed_fields, event_payload, trace_id, span_id, event_timestamp, ingested_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(Uuid::now_v7())
        .bind(&event.event_id)
        .bind(event.event_type())
        .bind(catalog.get(entity_type, entity_id, source))
        .bind(entity_type)
        .bind(entity_id)
        .bind(source)
        .bind(&fields)
        .bind(&event.payload)
        .bind(&trace)
        .bind(&span)
        .bind(event.at)
        .bind(ingested_at)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}
